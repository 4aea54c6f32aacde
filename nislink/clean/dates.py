"""Dates of birth: parse the many ways they are written, reject what cannot be a real one.

Entry points:

* :func:`dob` ``(value, *, dayfirst=True, today=None) -> datetime.date | None``;
* :func:`check_dob`, the same with a :class:`~nislink.clean._result.Status` and a reason;
* :func:`dob_series`, a vectorised version for a pandas Series (factorised, with NumPy
  fast paths for the common fixed-width formats).

``dob(v) == check_dob(v).accepted`` always. Everything is deterministic given ``today``
(which defaults to ``datetime.date.today()``, resolved once per call).

Accepted input (see ``docs/identifiers.md`` for the full table):

* ISO ``YYYY-MM-DD`` (also ``/`` or ``.`` as separator), optionally followed by a time part
  (``2001-02-03T00:00:00``, ``2001-02-03 00:00:00``, with seconds fraction or zone);
* ``DD/MM/YYYY``, ``DD-MM-YYYY``, ``DD.MM.YYYY`` (one- or two-digit day and month; the same
  separator twice), or ``MM/DD/YYYY`` with ``dayfirst=False``; optional time part;
* ``YYYYMMDD`` (8 digits, as text or as an integer such as ``19800131``);
* ``D Mon YYYY`` / ``D Month YYYY`` in any case, with optional ordinal suffix (``1st``),
  optional ``of``, commas, dots or dashes (``01-JAN-1980``, ``1st of March, 1980``), and
  ``Month D, YYYY``;
* two-digit years in the numeric and month-name forms, with the century rule below;
* ``datetime.date``, ``datetime.datetime``, ``pandas.Timestamp``, ``numpy.datetime64``.

Century rule for two-digit years: the year is placed in the century of ``today``; if the
resulting date would be after ``today`` it belongs to the previous century. So with
``today = 2026-11-22``: ``01/02/26`` is 2026-02-01, ``23/11/26`` is 1926-11-23 and
``01/02/80`` is 1980-02-01. A date of birth cannot be in the future, so this pivot never
turns a plausible date into an impossible one.

Rejections, in the order they are tested:

1. missing (``None``, NaN, NaT, blank, ``unknown``, ``n/k``, ``0``, all-zero dates such as
   ``00/00/0000``) -> :attr:`Status.MISSING`;
2. not a recognised format, or an impossible calendar date (30 February, month 13)
   -> :attr:`Status.INVALID`;
3. a placeholder date from :data:`PLACEHOLDER_DATES` -> :attr:`Status.PLACEHOLDER`;
4. before 1900-01-01 or after ``today`` -> :attr:`Status.OUT_OF_RANGE`.

Deliberately *not* accepted (ambiguous): ``DDMMYYYY`` / ``DDMMYY`` without separators,
Excel serial day numbers, day and month swapped when the day exceeds 12 (``12/31/1980``
with ``dayfirst=True`` is INVALID rather than guessed).
"""

from __future__ import annotations

import datetime as _dt
import re
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nislink.clean._result import Checked, Status, is_missing
from nislink.clean.vectorise import map_distinct

__all__ = [
    "EARLIEST_DOB",
    "MISSING_MARKERS",
    "PLACEHOLDER_DATES",
    "check_dob",
    "dob",
    "dob_series",
]

EARLIEST_DOB = _dt.date(1900, 1, 1)
"""Dates of birth before this are OUT_OF_RANGE (the issue's rule: nobody in the study's
population was born before 1900; older values are data-entry errors or defaults)."""

PLACEHOLDER_DATES: dict[_dt.date, str] = {
    _dt.date(1, 1, 1): "0001-01-01 is DateTime.MinValue in .NET and the minimum of SQL "
    "Server datetime2 (an empty date)",
    _dt.date(1000, 1, 1): "1000-01-01 is the documented minimum of the MySQL DATE type",
    _dt.date(1111, 11, 11): "1111-11-11 is a keyboard fill-in",
    _dt.date(1601, 1, 1): "1601-01-01 is the Windows FILETIME epoch (a zero timestamp)",
    _dt.date(1753, 1, 1): "1753-01-01 is the minimum of the SQL Server datetime type",
    _dt.date(1800, 1, 1): "1800-01-01 is a common 'unknown' default",
    _dt.date(1899, 12, 30): "1899-12-30 is day 0 of OLE Automation dates (Excel, Access, VB)",
    _dt.date(1899, 12, 31): "1899-12-31 is day 0 of the Excel 1900 date system",
    _dt.date(1900, 1, 1): "1900-01-01 is the most common 'unknown' default (day 1 of Excel's "
    "1900 date system, the minimum date of many systems)",
    _dt.date(1901, 1, 1): "1901-01-01 is a common 'unknown' default",
    _dt.date(1904, 1, 1): "1904-01-01 is the epoch of the Excel 1904 date system",
    _dt.date(1970, 1, 1): "1970-01-01 is the Unix epoch (a zero timestamp)",
    _dt.date(9999, 12, 31): "9999-12-31 is the 'end of time' maximum of most systems",
    _dt.date(9999, 9, 9): "9999-09-09 is a keyboard fill-in",
}
"""Dates that systems use to mean 'unknown', with the reasoning for each.

A person genuinely born on one of these dates (only 1970-01-01 is at all likely in the
study population) loses their date of birth field, not their record; in return the large
clusters of false agreement that defaults create are avoided. The list is a module constant
so that it is versioned with the code; :attr:`Status.PLACEHOLDER` is tested before the
range check, so 1899-12-31 is reported as a placeholder, not as too early.
"""

MISSING_MARKERS = frozenset(
    {
        "",
        "?",
        "-",
        "--",
        ".",
        "0",
        "00",
        "n/k",
        "nk",
        "n.k.",
        "n/a",
        "na",
        "n.a.",
        "none",
        "null",
        "nil",
        "nan",
        "nat",
        "unknown",
        "unk",
        "not known",
        "notknown",
        "not stated",
        "not recorded",
        "not given",
        "dob unknown",
        "x",
        "xx",
        "tbc",
        "not provided",
        "refused",
        "missing",
        "blank",
    }
)
"""Lower-cased, whitespace-collapsed texts that mean 'no date of birth'. Any text made of
zeros and date separators only (``00/00/0000``, ``0000-00-00``, ``00000000``) is missing too."""

_MONTHS: dict[str, int] = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}

_TIME = r"(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:z|utc|gmt|bst|am|pm|[+-]\d{2}:?\d{2})?)?"
_RE_ISO = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME)
_RE_NUM = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})" + _TIME)
_RE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_RE_TEXT_DMY = re.compile(
    r"(\d{1,2})(?:st|nd|rd|th)?[\s,./-]*(?:of\s+)?([a-z]+)\.?[\s,./-]*(\d{4}|\d{2})" + _TIME
)
_RE_TEXT_MDY = re.compile(r"([a-z]+)\.?[\s,./-]*(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})" + _TIME)
_RE_ZEROS = re.compile(r"0+(?:[-/. ]+0+)*")
_RE_SPACES = re.compile(r"\s+")

_DIM = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _today(today: _dt.date | None) -> _dt.date:
    if today is None:
        return _dt.date.today()
    if isinstance(today, _dt.datetime):
        return today.date()
    if not isinstance(today, _dt.date):
        raise TypeError(f"today must be a datetime.date, not {type(today).__name__}")
    return today


def _earliest(earliest: _dt.date | str | None) -> _dt.date:
    if earliest is None:
        return EARLIEST_DOB
    if isinstance(earliest, str):
        try:
            return _dt.date.fromisoformat(earliest)
        except ValueError:
            raise ValueError(f"earliest must be an ISO date YYYY-MM-DD, got {earliest!r}") \
                from None
    if isinstance(earliest, _dt.datetime):
        return earliest.date()
    if not isinstance(earliest, _dt.date):
        raise TypeError(f"earliest must be a datetime.date, not {type(earliest).__name__}")
    return earliest


def _judge(d: _dt.date, today: _dt.date, earliest: _dt.date = EARLIEST_DOB
           ) -> Checked[_dt.date]:
    """Placeholder and range checks on a real calendar date."""
    why = PLACEHOLDER_DATES.get(d)
    if why is not None:
        return Checked(None, Status.PLACEHOLDER, f"placeholder date: {why}")
    if d < earliest:
        return Checked(None, Status.OUT_OF_RANGE,
                       f"{d.isoformat()} is before {earliest.isoformat()}")
    if d > today:
        return Checked(
            None, Status.OUT_OF_RANGE, f"{d.isoformat()} is in the future (today {today})"
        )
    return Checked(d, Status.OK)


def _make(y: int, m: int, d: int, today: _dt.date, two_digit: bool,
          earliest: _dt.date = EARLIEST_DOB) -> Checked[_dt.date]:
    """Build a date from parsed parts, applying the century rule for two-digit years."""
    if not 1 <= m <= 12:
        return Checked(None, Status.INVALID, f"impossible date: month {m} is not 1-12")
    if two_digit:
        century = today.year // 100 * 100
        y = century + y
        try:
            if _dt.date(y, m, d) > today:
                y -= 100
        except ValueError:
            y -= 100  # e.g. 29/02/00 when 2000 is the future: try 1900, which is invalid
    try:
        value = _dt.date(y, m, d)
    except ValueError:
        return Checked(
            None, Status.INVALID, f"impossible date: day {d} does not exist in {y:04d}-{m:02d}"
        )
    return _judge(value, today, earliest)


@lru_cache(maxsize=1 << 16)
def _check_text(text: str, dayfirst: bool, today: _dt.date,
                earliest: _dt.date = EARLIEST_DOB) -> Checked[_dt.date]:
    s = _RE_SPACES.sub(" ", text.strip().lower())
    if s in MISSING_MARKERS or _RE_ZEROS.fullmatch(s):
        return Checked(None, Status.MISSING, "no date of birth")
    m = _RE_ISO.fullmatch(s)
    if m:
        return _make(int(m.group(1)), int(m.group(3)), int(m.group(4)), today, False, earliest)
    m = _RE_NUM.fullmatch(s)
    if m:
        a, b, y = int(m.group(1)), int(m.group(3)), m.group(4)
        day, month = (a, b) if dayfirst else (b, a)
        return _make(int(y), month, day, today, len(y) == 2, earliest)
    m = _RE_COMPACT.fullmatch(s)
    if m:
        return _make(int(m.group(1)), int(m.group(2)), int(m.group(3)), today, False, earliest)
    m = _RE_TEXT_DMY.fullmatch(s)
    if m:
        month = _MONTHS.get(m.group(2))
        if month is None:
            return Checked(None, Status.INVALID, f"unknown month name {m.group(2)!r}")
        y = m.group(3)
        return _make(int(y), month, int(m.group(1)), today, len(y) == 2, earliest)
    m = _RE_TEXT_MDY.fullmatch(s)
    if m:
        month = _MONTHS.get(m.group(1))
        if month is None:
            return Checked(None, Status.INVALID, f"unknown month name {m.group(1)!r}")
        return _make(int(m.group(3)), month, int(m.group(2)), today, False, earliest)
    return Checked(None, Status.INVALID, "not a recognised date format")


def check_dob(
    value: Any, *, dayfirst: bool = True, today: _dt.date | None = None,
    earliest: _dt.date | str | None = None,
) -> Checked[_dt.date]:
    """Parse and validate a date of birth, saying why when it is not accepted.

    ``dayfirst=True`` (the UK convention) reads ``01/02/1980`` as 1 February; ``False``
    reads it as 2 January. ``today`` bounds the range and drives the two-digit-year century
    rule; it defaults to ``datetime.date.today()``. ``earliest`` is the first plausible
    date (default :data:`EARLIEST_DOB`, 1900-01-01; earlier dates are
    :attr:`Status.OUT_OF_RANGE`): set it for historical data. Never raises on bad input.
    """
    t = _today(today)
    e = _earliest(earliest)
    if is_missing(value):
        return Checked(None, Status.MISSING, "no date of birth")
    if isinstance(value, str):
        return _check_text(value, bool(dayfirst), t, e)
    if isinstance(value, _dt.datetime):  # includes pandas.Timestamp
        return _judge(value.date(), t, e)
    if isinstance(value, _dt.date):
        return _judge(value, t, e)
    if isinstance(value, np.datetime64):
        day = value.astype("datetime64[D]")
        try:
            item = day.item()
        except (OverflowError, ValueError):  # pragma: no cover - defensive
            item = None
        if not isinstance(item, _dt.date):
            return Checked(None, Status.INVALID, "datetime64 outside the calendar range")
        return _judge(item, t, e)
    if isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return Checked(None, Status.INVALID, "bytes that are not UTF-8 text")
        return _check_text(text, bool(dayfirst), t, e)
    if isinstance(value, (bool, np.bool_)):
        return Checked(None, Status.INVALID, "a boolean is not a date")
    if isinstance(value, (float, np.floating)):
        if not float(value).is_integer():
            return Checked(None, Status.INVALID, "a fractional number is not a date")
        value = int(value)
    if isinstance(value, (int, np.integer)):
        n = int(value)
        if n == 0:
            return Checked(None, Status.MISSING, "no date of birth")
        if 10_000_000 <= n <= 99_999_999:
            return _check_text(str(n), bool(dayfirst), t, e)
        return Checked(None, Status.INVALID, "a number that is not an 8-digit YYYYMMDD date")
    return Checked(None, Status.INVALID, f"unsupported type {type(value).__name__}")


def dob(value: Any, *, dayfirst: bool = True, today: _dt.date | None = None,
        earliest: _dt.date | str | None = None) -> _dt.date | None:
    """The date of birth as a ``datetime.date``, or ``None`` if missing or not accepted.

    >>> dob("1/2/1980", today=_dt.date(2026, 1, 1))
    datetime.date(1980, 2, 1)
    """
    return check_dob(value, dayfirst=dayfirst, today=today, earliest=earliest).accepted


# ---------------------------------------------------------------------------- vectorised

_FAST_ISO = r"^\d{4}-\d{2}-\d{2}$"
_FAST_DMY = r"^\d{2}/\d{2}/\d{4}$|^\d{2}-\d{2}-\d{4}$|^\d{2}\.\d{2}\.\d{4}$"
_FAST_COMPACT = r"^\d{8}$"
_STATUS_OK = Status.OK.value


def _digits(strings: list[str], width: int) -> np.ndarray:
    raw = np.array(strings, dtype=f"S{width}")
    return raw.view(np.uint8).reshape(-1, width).astype(np.int64) - 48


def _num(dig: np.ndarray, start: int, stop: int) -> np.ndarray:
    out = np.zeros(len(dig), dtype=np.int64)
    for i in range(start, stop):
        out = out * 10 + dig[:, i]
    return out


def _ymd_to_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    months = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    return months.astype("datetime64[D]") + (d - 1).astype("timedelta64[D]")


def _valid_ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    ok = (y >= 1) & (m >= 1) & (m <= 12) & (d >= 1)
    mm = np.where(ok, m, 1)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = _DIM[mm] + ((mm == 2) & leap)
    return ok & (d <= dim)


def _judge_days(days: np.ndarray, today: _dt.date, earliest: _dt.date = EARLIEST_DOB
                ) -> np.ndarray:
    status = np.full(len(days), _STATUS_OK, dtype=object)
    placeholders = np.array(sorted(PLACEHOLDER_DATES), dtype="datetime64[D]")
    early = days < np.datetime64(earliest, "D")
    late = days > np.datetime64(today, "D")
    status[early | late] = Status.OUT_OF_RANGE.value
    status[np.isin(days, placeholders)] = Status.PLACEHOLDER.value
    return status


def dob_series(
    s: pd.Series | Any, *, dayfirst: bool = True, today: _dt.date | None = None,
    earliest: _dt.date | str | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`check_dob` over a Series: ``(dates, statuses)``.

    ``dates`` is a ``datetime64[ns]`` Series, ``NaT`` wherever the status is not OK;
    ``statuses`` holds the :class:`Status` values as plain strings (``"ok"``,
    ``"invalid"``, ...). Both keep the input's index. The result equals applying
    :func:`check_dob` element by element: values are factorised, ISO ``YYYY-MM-DD``,
    ``DD/MM/YYYY`` (``-`` and ``.`` too) and ``YYYYMMDD`` are parsed with NumPy, and the
    rest go through the cached scalar parser once per distinct value.
    """
    t = _today(today)
    e = _earliest(earliest)
    if not isinstance(s, pd.Series):
        s = pd.Series(s, dtype=object if not hasattr(s, "dtype") else None)
    index = s.index
    n = len(s)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        vals = s
        if getattr(s.dt, "tz", None) is not None:
            vals = s.dt.tz_localize(None)
        days = vals.to_numpy().astype("datetime64[D]")
        nat = np.isnat(days)
        status = _judge_days(days, t, e)
        status[nat] = Status.MISSING.value
        out = np.where(status == _STATUS_OK, days, np.datetime64("NaT", "D"))
        return (
            pd.Series(out.astype("datetime64[ns]"), index=index),
            pd.Series(status, index=index, dtype=object),
        )
    vals = s.to_numpy(dtype=object)
    out_days = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    out_status = np.empty(n, dtype=object)

    def scalar(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = len(values)
        u_days = np.full(k, np.datetime64("NaT"), dtype="datetime64[D]")
        u_status = np.empty(k, dtype=object)
        for i, v in enumerate(values):
            r = check_dob(v, dayfirst=dayfirst, today=t, earliest=e)
            u_status[i] = r.status.value
            if r.ok:
                u_days[i] = np.datetime64(r.value, "D")
        return u_days, u_status

    def strings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _dob_unique_strings(values, dayfirst, t, e)

    for pos, u_days, u_status, codes in map_distinct(vals, strings, scalar):
        missing = codes < 0
        safe = np.where(missing, 0, codes)
        if len(u_days):
            out_days[pos] = u_days[safe]
            out_status[pos] = u_status[safe]
        out_days[pos[missing]] = np.datetime64("NaT")
        out_status[pos[missing]] = Status.MISSING.value
    return (
        pd.Series(out_days.astype("datetime64[ns]"), index=index),
        pd.Series(out_status, index=index, dtype=object),
    )


def _dob_unique_strings(
    uniq: np.ndarray, dayfirst: bool, t: _dt.date, e: _dt.date = EARLIEST_DOB
) -> tuple[np.ndarray, np.ndarray]:
    """Dates and statuses for distinct strings: NumPy fast paths, then the scalar parser."""

    k = len(uniq)
    u_days = np.full(k, np.datetime64("NaT"), dtype="datetime64[D]")
    u_status = np.empty(k, dtype=object)
    done = np.zeros(k, dtype=bool)
    if k:
        arr = pa.array(uniq.tolist(), type=pa.string())
        for pattern, width, kind in (
            (_FAST_ISO, 10, "iso"),
            (_FAST_DMY, 10, "dmy"),
            (_FAST_COMPACT, 8, "compact"),
        ):
            mask = pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False)
            if not mask.any():
                continue
            idx = np.flatnonzero(mask)
            dig = _digits(uniq[idx].tolist(), width)
            if kind == "iso":
                y, m, d = _num(dig, 0, 4), _num(dig, 5, 7), _num(dig, 8, 10)
            elif kind == "dmy":
                a, b, y = _num(dig, 0, 2), _num(dig, 3, 5), _num(dig, 6, 10)
                d, m = (a, b) if dayfirst else (b, a)
            else:
                y, m, d = _num(dig, 0, 4), _num(dig, 4, 6), _num(dig, 6, 8)
            valid = _valid_ymd(y, m, d)
            # Impossible and all-zero dates take the scalar path (MISSING vs INVALID).
            idx = idx[valid]
            days = _ymd_to_days(y[valid], m[valid], d[valid])
            st = _judge_days(days, t, e)
            u_status[idx] = st
            u_days[idx] = np.where(st == _STATUS_OK, days, np.datetime64("NaT", "D"))
            done[idx] = True
    for i in np.flatnonzero(~done):
        r = _check_text(uniq[i], bool(dayfirst), t, e)
        u_status[i] = r.status.value
        if r.ok:
            u_days[i] = np.datetime64(r.value, "D")
    return u_days, u_status

"""The local authority (LA) submission: its documented columns, validation and eligibility.

An LA sends one row per individual in every family it assessed for the programme
(Nottinghamshire's notice: identifiers of "individuals in all families assessed for
eligibility", the "eligibility criteria met", the "status of intervention (e.g. whether
eligible, start/end date of intervention)" and "available unique identifiers").

Columns (:data:`SUBMISSION_COLUMNS`; names are matched case-insensitively, surrounding
spaces ignored, ``offending_asb`` and ``intervention_status`` accepted for ``offending``
and ``status``, and ``columns=`` maps any other names; every column but
``assessment_date`` must be present, even when all its values are blank; extra columns
are kept and treated as attributes, e.g. six-monthly progress data):

==================  =========  ===============================================================
column              kind       rule
==================  =========  ===============================================================
person_id           id         required, unique in the submission (the LA's own person id)
family_id           id         required (the LA's own family id)
forename            identifier optional; normalised later by :mod:`nislink.clean`
surname             identifier optional
dob                 date       optional; if given a real date, 1900-01-01 .. today
sex                 identifier optional
postcode            identifier optional (last known address)
nino                identifier optional (National Insurance number, if known)
upn                 identifier optional (Unique Pupil Number, children)
worklessness        flag       problem 1: worklessness / at risk of financial exclusion
school_absence      flag       problem 2: school absence
children_in_need    flag       problem 3: children in need (at risk, CP plan, looked after)
offending           flag       problem 4: offending and anti-social behaviour
domestic_abuse      flag       problem 5: domestic abuse
health              flag       problem 6: physical or mental health problems
status              enum       required: not_eligible, eligible (or waiting), declined,
                               started (or supported), ended (supported with an end date)
assessment_date     date       optional column: when the family was assessed
start_date          date       intervention start; required for started and ended
end_date            date       intervention end; required for ended; not before start_date
==================  =========  ===============================================================

* Flags: ``1``/``0``, ``y``/``n``, ``yes``/``no``, ``true``/``false`` (any case), Python
  booleans or the integers 0 and 1; a blank flag means "not met".
* Dates: ISO ``YYYY-MM-DD`` or UK ``DD/MM/YYYY`` (one- or two-digit day and month), or
  date/datetime values. The date of birth also accepts every format that
  :func:`nislink.clean.dates.check_dob` understands; placeholder dates of birth
  (e.g. 1900-01-01) are kept and left to the cleaning stage to treat as missing.
* Status values are matched case-insensitively; spaces and hyphens count as ``_``.
  ``not_eligible``, ``eligible`` and ``declined`` rows have no start date; ``started`` needs a
  start date; ``ended`` needs both dates. Intervention
  dates are the family's, so a child born after the family's intervention started is
  not an error; the start date cannot be before the ``assessment_date`` (when given).

Identifier *values* (name spellings, postcode and NINO formats) are not judged here:
:func:`nislink.clean.frame` normalises them and flags bad values field by field.
This module refuses rows that break the submission format, so that the LA can correct
them; by default that includes an impossible or out-of-range date of birth
(``reject_bad_dob=False`` leaves those to the cleaning stage).

:func:`validate_submission` returns ``(valid, rejects)`` with
``len(valid) + len(rejects) == len(input)``. ``rejects`` has one row per refused input
row: ``row`` (the index label; for files read by :func:`read_submission`, the 1-based
line number where the record starts, the header being line 1), ``id`` (the person id as
given), ``field`` (comma-separated fields at fault) and ``reason`` (every problem, each
naming its field). Reasons never repeat identifier values. Errors that concern the whole
submission (missing columns, an empty file, bytes that are not UTF-8) raise
:class:`SubmissionError` instead.

The eligibility rule: a family is eligible when it meets two or more of the six problems
(:func:`eligible` per row, :func:`family_eligible` per family over all its members).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nislink.clean.dates import EARLIEST_DOB, dob_series
from nislink.errors import NislinkError

__all__ = [
    "PROBLEM_FLAGS",
    "COLUMN_ALIASES",
    "OPTIONAL_COLUMNS",
    "STATUSES",
    "STATUS_ALIASES",
    "SUBMISSION_COLUMNS",
    "Column",
    "SubmissionError",
    "eligible",
    "family_eligible",
    "problem_count",
    "read_submission",
    "validate_submission",
]


@dataclass(frozen=True)
class Column:
    """One documented column of the LA submission."""

    name: str
    kind: str  # "id", "identifier", "date", "flag", "enum"
    required: bool
    description: str


PROBLEM_FLAGS: tuple[str, ...] = (
    "worklessness",
    "school_absence",
    "children_in_need",
    "offending",
    "domestic_abuse",
    "health",
)
"""The six headline problems, in the order the privacy notices list them."""

STATUSES: tuple[str, ...] = ("not_eligible", "eligible", "declined", "started", "ended")
"""Intervention status values (canonical)."""

STATUS_ALIASES: dict[str, str] = {"waiting": "eligible", "supported": "started"}
"""Other spellings accepted for a status; ``supported`` with an end date becomes ``ended``."""

COLUMN_ALIASES: dict[str, str] = {
    "offending_asb": "offending",
    "intervention_status": "status",
    "la_id": "person_id",
    "la_family_id": "family_id",
}
"""Alternative column names accepted when the documented name is absent."""

OPTIONAL_COLUMNS: tuple[str, ...] = ("assessment_date",)
"""Documented columns that may be absent."""

SUBMISSION_COLUMNS: tuple[Column, ...] = (
    Column("person_id", "id", True, "the LA's person id, unique in the submission"),
    Column("family_id", "id", True, "the LA's family id"),
    Column("forename", "identifier", False, "forename(s)"),
    Column("surname", "identifier", False, "surname"),
    Column("dob", "date", False, "date of birth"),
    Column("sex", "identifier", False, "sex / gender"),
    Column("postcode", "identifier", False, "postcode of the last known address"),
    Column("nino", "identifier", False, "National Insurance number, if known"),
    Column("upn", "identifier", False, "Unique Pupil Number, if known"),
    Column("worklessness", "flag", False, "worklessness or at risk of financial exclusion"),
    Column("school_absence", "flag", False, "school absence problems"),
    Column("children_in_need", "flag", False, "children in need (at risk, CP plan, looked after)"),
    Column("offending", "flag", False, "offending and anti-social behaviour"),
    Column("domestic_abuse", "flag", False, "domestic abuse"),
    Column("health", "flag", False, "physical or mental health problems"),
    Column("status", "enum", True, "intervention status: " + ", ".join(STATUSES)),
    Column("assessment_date", "date", False, "date the family was assessed (optional column)"),
    Column("start_date", "date", False, "intervention start date"),
    Column("end_date", "date", False, "intervention end date"),
)
"""The documented columns, in order."""

_ALL_NAMES = tuple(c.name for c in SUBMISSION_COLUMNS)
_NAMES = tuple(n for n in _ALL_NAMES if n not in OPTIONAL_COLUMNS)
_IDENTIFIERS = tuple(c.name for c in SUBMISSION_COLUMNS if c.kind == "identifier")
_TRUE = frozenset({"1", "y", "yes", "true", "t", "1.0"})
_FALSE = frozenset({"0", "n", "no", "false", "f", "0.0", ""})
_ISO = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]00:00(?::00(?:\.0+)?)?)?\s*$")
_DMY = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")


class SubmissionError(NislinkError, ValueError):
    """The submission as a whole cannot be read (missing columns, empty, not UTF-8...)."""


# ----------------------------------------------------------------------------- reading
def _decode(data: bytes, where: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise SubmissionError(
            f"{where}: not UTF-8 text: byte 0x{bad} at offset {exc.start} (line {line}); "
            "save the file as UTF-8 and send it again"
        ) from None
    return text.removeprefix("\ufeff")


def _read_csv_text(text: str, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse CSV text into a frame of strings indexed by line number, plus ragged rows."""
    if not text.strip():
        raise SubmissionError(f"{where}: the file is empty (no header, no rows)")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise SubmissionError(f"{where}: line 1: cannot parse the header ({exc})") from None
    width = len(header)
    rows: list[list[str]] = []
    lines: list[int] = []
    ragged: list[dict[str, Any]] = []
    start = reader.line_num + 1
    id_pos = next(
        (i for i, h in enumerate(header) if h.strip().lower() == "person_id"), None
    )
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            ragged.append(
                {"row": start, "id": None, "field": "", "reason": f"cannot parse the row ({exc})"}
            )
            start = reader.line_num + 1
            continue
        if not rec or (len(rec) == 1 and rec[0] == "" and width > 1):
            start = reader.line_num + 1
            continue  # blank line: not a record
        if len(rec) != width:
            ragged.append(
                {
                    "row": start,
                    "id": rec[id_pos] if id_pos is not None and id_pos < len(rec) else None,
                    "field": "",
                    "reason": f"the row has {len(rec)} fields but the header has {width}",
                }
            )
        else:
            rows.append(rec)
            lines.append(start)
        start = reader.line_num + 1
    if not rows and not ragged:
        raise SubmissionError(f"{where}: the file has a header but no data rows")
    df = pd.DataFrame(rows, columns=header, index=pd.Index(lines, name=None), dtype=object)
    return df, pd.DataFrame(ragged, columns=["row", "id", "field", "reason"])


def read_submission(
    source: str | os.PathLike[str] | pd.DataFrame | bytes,
    *,
    today: _dt.date | None = None,
    columns: Mapping[str, str] | None = None,
    reject_bad_dob: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read an LA submission (CSV or Parquet path, CSV bytes, or DataFrame) and validate it.

    Returns ``(valid, rejects)`` as :func:`validate_submission` does; for CSV input the
    ``row`` of a reject is the line number in the file, and rows with the wrong number of
    fields are rejected too. Raises :class:`SubmissionError` for an unreadable submission
    (missing file, empty file, bytes that are not UTF-8 - naming the byte offset and line -,
    missing columns). ``columns`` and ``reject_bad_dob`` are passed to
    :func:`validate_submission`.
    """
    opts: dict[str, Any] = {"today": today, "columns": columns, "reject_bad_dob": reject_bad_dob}
    if isinstance(source, pd.DataFrame):
        return validate_submission(source, **opts)
    if isinstance(source, (bytes, bytearray)):
        df, ragged = _read_csv_text(_decode(bytes(source), "submission"), "submission")
        return _combine(df, ragged, opts)
    p = Path(source)
    where = str(p)
    if not p.is_file():
        raise SubmissionError(f"{where}: no such file")
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise SubmissionError(
                f"{where}: cannot be read as Parquet ({type(exc).__name__})"
            ) from None
        if len(df) == 0:
            raise SubmissionError(f"{where}: the file has no data rows")
        return validate_submission(df, **opts)
    data = p.read_bytes()
    df, ragged = _read_csv_text(_decode(data, where), where)
    return _combine(df, ragged, opts)


def _combine(
    df: pd.DataFrame, ragged: pd.DataFrame, opts: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if len(df) == 0:
        # Only ragged rows: still check the header so that missing columns are reported.
        _canonical_columns(df, opts.get("columns"))
        return _empty_valid(df), ragged.reset_index(drop=True)
    valid, rejects = validate_submission(df, **opts)
    if len(ragged):
        rejects = pd.concat([rejects, ragged], ignore_index=True)
        rejects = rejects.sort_values("row", kind="stable").reset_index(drop=True)
    return valid, rejects


# ----------------------------------------------------------------------------- parsing
def _canonical_columns(
    df: pd.DataFrame, columns: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map canonical column name -> the frame's column; raise naming what is missing.

    ``columns`` maps the frame's own column names to documented names; otherwise names
    are matched case-insensitively, then through :data:`COLUMN_ALIASES`.
    """
    explicit = {str(k): v for k, v in (columns or {}).items()}
    bad = sorted(set(explicit.values()) - set(_ALL_NAMES))
    if bad:
        raise SubmissionError(f"submission: columns= maps to unknown column(s): {', '.join(bad)}")
    absent = sorted(k for k in explicit if k not in set(map(str, df.columns)))
    if absent:
        raise SubmissionError(
            f"submission: columns= names column(s) not in the file: {', '.join(absent)}"
        )
    seen: dict[str, Any] = {}
    dups = []
    for col in df.columns:
        key = explicit.get(str(col), str(col).strip().lower())
        if key in seen:
            dups.append(str(col))
        seen[key] = col
    if dups:
        raise SubmissionError(f"submission: column(s) appear more than once: {', '.join(dups)}")
    for alias, name in COLUMN_ALIASES.items():
        if name not in seen and alias in seen:
            seen[name] = seen.pop(alias)
    missing = [n for n in _NAMES if n not in seen]
    if missing:
        raise SubmissionError(
            f"submission: missing column(s): {', '.join(missing)} "
            f"(the format needs: {', '.join(_NAMES)})"
        )
    return {k: seen[k] for k in seen}


def _empty_valid(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({n: pd.Series(dtype=object) for n in _ALL_NAMES})


def _is_blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and v != v:
        return True
    if isinstance(v, str):
        return not v.strip()
    return type(v).__name__ in ("NAType", "NaTType")


def _as_text(v: Any) -> str | None:
    if _is_blank(v):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _parse_flag(v: Any) -> bool | None:
    """True/False, or None when the value is not a flag."""
    if _is_blank(v):
        return False
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer, float, np.floating)):
        f = float(v)
        return True if f == 1.0 else False if f == 0.0 else None
    if isinstance(v, str):
        t = v.strip().lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
    return None


def _parse_date(v: Any) -> tuple[_dt.date | None, str | None]:
    """(date, None), (None, None) for blank, or (None, reason)."""
    if _is_blank(v):
        return None, None
    if isinstance(v, _dt.datetime):
        return v.date(), None
    if isinstance(v, _dt.date):
        return v, None
    if isinstance(v, np.datetime64):
        return pd.Timestamp(v).date(), None
    if not isinstance(v, str):
        return None, "not a date"
    m = _ISO.match(v)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = _DMY.match(v)
        if not m:
            return None, "not a date in YYYY-MM-DD or DD/MM/YYYY form"
        d, mo, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        return _dt.date(y, mo, d), None
    except ValueError:
        return None, f"impossible date (day {d} of month {mo} in {y})"


def _status(v: Any) -> str | None:
    if _is_blank(v) or not isinstance(v, str):
        return None
    t = re.sub(r"[\s-]+", "_", v.strip().lower())
    t = STATUS_ALIASES.get(t, t)
    return t if t in STATUSES else None


# ----------------------------------------------------------------------------- validation
def validate_submission(
    df: pd.DataFrame,
    *,
    today: _dt.date | None = None,
    columns: Mapping[str, str] | None = None,
    reject_bad_dob: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate a submission table; return ``(valid, rejects)`` (see the module docstring).

    ``valid`` has the documented columns first (ids and identifiers as text, blanks as
    ``None``; flags as ``bool``; ``status`` normalised; ``start_date`` and ``end_date``
    as ``datetime64[ns]``), then any extra columns unchanged, with the input's index.
    ``today`` (default: the current date) bounds dates of birth. ``columns`` maps the
    table's own column names to documented ones (e.g. ``{"la_id": "person_id"}``).
    ``reject_bad_dob=False`` keeps rows whose date of birth is impossible or out of range
    (the cleaning stage then marks the field invalid) instead of rejecting them.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"validate_submission() expects a pandas DataFrame, got {type(df).__name__}"
        )
    cols = _canonical_columns(df, columns)
    if len(df) == 0:
        raise SubmissionError("submission: no data rows")
    today = today if today is not None else _dt.date.today()
    n = len(df)
    problems: list[list[tuple[str, str]]] = [[] for _ in range(n)]

    def col(name: str) -> list[Any]:
        return df[cols[name]].tolist()

    # ids
    pid = [_as_text(v) for v in col("person_id")]
    fid = [_as_text(v) for v in col("family_id")]
    counts: dict[str, int] = {}
    for v in pid:
        if v is not None:
            counts[v] = counts.get(v, 0) + 1
    for i in range(n):
        if pid[i] is None:
            problems[i].append(("person_id", "person_id: missing"))
        elif counts[pid[i]] > 1:
            problems[i].append(
                ("person_id", f"person_id: duplicated ({counts[pid[i]]} rows share it)")
            )
        if fid[i] is None:
            problems[i].append(("family_id", "family_id: missing"))

    # date of birth (formats and range as in nislink.clean.dates)

    raw_dob = df[cols["dob"]].reset_index(drop=True)
    dob_dates, dob_status = dob_series(raw_dob, today=today)
    for i, st in enumerate(dob_status.tolist() if reject_bad_dob else []):
        if st == "invalid":
            problems[i].append(("dob", "dob: not a real date, or not a recognised date format"))
        elif st == "out_of_range":
            problems[i].append(
                ("dob", f"dob: outside {EARLIEST_DOB.isoformat()} .. {today.isoformat()}")
            )

    # flags
    flags: dict[str, list[bool]] = {}
    for name in PROBLEM_FLAGS:
        vals = []
        for i, v in enumerate(col(name)):
            f = _parse_flag(v)
            if f is None:
                problems[i].append((name, f"{name}: expected 1/0, yes/no or true/false"))
                f = False
            vals.append(f)
        flags[name] = vals

    # status and dates
    status = []
    for i, v in enumerate(col("status")):
        s = _status(v)
        if s is None:
            what = "missing" if _is_blank(v) else "unknown value"
            problems[i].append(("status", f"status: {what}; expected one of {', '.join(STATUSES)}"))
        status.append(s)
    date_cols = ("start_date", "end_date") + (
        ("assessment_date",) if "assessment_date" in cols else ()
    )
    dates: dict[str, list[_dt.date | None]] = {}
    for name in date_cols:
        vals = []
        for i, v in enumerate(col(name)):
            d, why = _parse_date(v)
            if why is not None:
                problems[i].append((name, f"{name}: {why}"))
            vals.append(d)
        dates[name] = vals
    raw_start, raw_end, raw_status = col("start_date"), col("end_date"), col("status")
    assessed = dates.get("assessment_date", [None] * n)
    for i in range(n):
        s, e = dates["start_date"][i], dates["end_date"][i]
        start_given = not _is_blank(raw_start[i])
        end_given = not _is_blank(raw_end[i])
        if status[i] == "started" and end_given:
            if isinstance(raw_status[i], str) and "supported" in raw_status[i].lower():
                status[i] = "ended"  # 'supported' with an end date: support has ended
        st = status[i]
        if s is not None and assessed[i] is not None and s < assessed[i]:
            problems[i].append(("start_date", "start_date: before assessment_date"))
        if s is not None and e is not None and e < s:
            problems[i].append(("end_date", "end_date: before start_date"))
        if end_given and not start_given:
            problems[i].append(("start_date", "start_date: missing although end_date is given"))
        if st in ("started", "ended") and not start_given:
            problems[i].append(("start_date", f"start_date: required when status is {st}"))
        if st == "ended" and not end_given:
            problems[i].append(("end_date", "end_date: required when status is ended"))
        if st in ("not_eligible", "eligible", "declined") and start_given:
            problems[i].append(
                ("status", f"status: {st} contradicts the intervention start_date (use started)")
            )

    bad = np.array([bool(p) for p in problems], dtype=bool)
    # --- valid table
    out: dict[str, Any] = {
        "person_id": pid,
        "family_id": fid,
    }
    for name in _IDENTIFIERS + ("dob",):
        out[name] = [_as_text(v) if not isinstance(v, (_dt.date, np.datetime64)) else v
                     for v in col(name)]
    for name in PROBLEM_FLAGS:
        out[name] = flags[name]
    out["status"] = status
    names = [k for k in _ALL_NAMES if k in _NAMES or k in cols]
    for name in date_cols:
        out[name] = pd.to_datetime(pd.Series(dates[name], dtype=object), errors="coerce").to_numpy()
    full = pd.DataFrame({k: out[k] for k in names}, index=df.index)
    for name in PROBLEM_FLAGS:
        full[name] = full[name].astype(bool)
    for name in date_cols:
        full[name] = full[name].astype("datetime64[ns]")
    canon = set(cols[k] for k in names)
    for c in df.columns:
        if c not in canon:
            full[c] = df[c].to_numpy()
    valid = full[~bad]

    # --- rejects table
    rej_pos = np.flatnonzero(bad)
    rejects = pd.DataFrame(
        {
            "row": df.index[rej_pos].to_numpy(dtype=object),
            "id": [pid[p] for p in rej_pos],
            "field": [",".join(dict.fromkeys(f for f, _ in problems[p])) for p in rej_pos],
            "reason": ["; ".join(m for _, m in problems[p]) for p in rej_pos],
        },
        columns=["row", "id", "field", "reason"],
    )
    return valid, rejects


# ----------------------------------------------------------------------------- eligibility
def _flag_matrix(df: pd.DataFrame) -> np.ndarray:
    missing = [f for f in PROBLEM_FLAGS if f not in df.columns]
    if missing:
        raise ValueError(f"eligibility needs the problem flag column(s): {', '.join(missing)}")
    mat = np.zeros((len(df), len(PROBLEM_FLAGS)), dtype=bool)
    for j, name in enumerate(PROBLEM_FLAGS):
        for i, v in enumerate(df[name].tolist()):
            f = _parse_flag(v)
            if f is None:
                raise ValueError(f"{name}: row {df.index[i]!r} is not a flag value")
            mat[i, j] = f
    return mat


def eligible(flags: pd.DataFrame, minimum: int = 2) -> pd.Series:
    """Per row: True when two (``minimum``) or more of the six problem flags are set."""
    mat = _flag_matrix(flags)
    return pd.Series(mat.sum(axis=1) >= minimum, index=flags.index, name="eligible")


def family_eligible(
    df: pd.DataFrame, family_column: str = "family_id", minimum: int = 2
) -> pd.Series:
    """Per family: True when its members together meet ``minimum`` (2) or more problems.

    A problem counts for the family when any member has it flagged. Indexed by family id.
    """
    if family_column not in df.columns:
        raise ValueError(f"column {family_column!r} is not in the table")
    mat = pd.DataFrame(_flag_matrix(df), columns=list(PROBLEM_FLAGS), index=df.index)
    per_family = mat.groupby(df[family_column].to_numpy(), sort=True).any()
    out = per_family.sum(axis=1) >= minimum
    out.name = "eligible"
    out.index.name = family_column
    return out


def problem_count(flags: pd.DataFrame) -> pd.Series:
    """Per row: how many of the six problem flags are set."""
    return pd.Series(_flag_matrix(flags).sum(axis=1), index=flags.index, name="problems")


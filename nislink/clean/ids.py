"""Reference numbers: National Insurance numbers (NINO) and Unique Pupil Numbers (UPN).

NINO (HMRC National Insurance Manual, NIM39110 "What a NINO looks like"):

* two prefix letters, six digits, a suffix ``A``-``D`` (or no suffix: the number is
  unique without it, and electronic submissions may send a space);
* neither prefix letter is D, F, I, Q, U or V; the second is not O;
* prefixes BG, GB, KN, NK, NT, TN and ZZ are never allocated;
* temporary numbers (no longer issued, still found in old records): ``TN`` + date of birth
  ``DDMMYY`` + ``M``/``F`` -> :attr:`Status.TEMPORARY`;
* administrative numbers that look like NINOs but are not: ``OO`` (tax credits claim made
  before a NINO was held) and ``NC`` + six digits + ``M``/``F`` (stakeholder pension dummy
  built from the date of birth) -> :attr:`Status.TEMPORARY`; ``CR``, ``FY``, ``MW``,
  ``PP``, ``PY``, ``PZ`` -> :attr:`Status.INVALID` naming the administrative use;
* documentation examples and fill-ins (:data:`NINO_PLACEHOLDERS`) -> :attr:`Status.PLACEHOLDER`.

UPN (DfE "Unique Pupil Numbers (UPNs)" guidance; UK Government Data Standards Catalogue,
"Unique Pupil Number" v2.0): 13 characters, ``Annnnnnnnnnnn`` (permanent) or
``AnnnnnnnnnnnA`` (temporary):

* character 1: check letter; 2-4: LA number; 5-8: DfE establishment number; 9-10: last
  two digits of the academic year of allocation; 11-13: serial (temporary: two digits and
  a letter);
* check letter: sum of (character value x position) over positions 2-13, modulo 23, as a
  letter of ``ABCDEFGHJKLMNPQRTUVWXYZ`` (0 -> A ... 22 -> Z; I, O, S unused); a temporary
  UPN's final letter counts as its index in that table (A = 0, B = 1, ...);
* I, O and S are never used as the check letter or as a temporary UPN's final letter.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nislink.clean._result import COMPACT_MISSING_MARKERS, Checked, Status, as_text
from nislink.clean.vectorise import map_distinct

__all__ = [
    "NINO_ADMIN_PREFIXES",
    "NINO_NEVER_ALLOCATED",
    "NINO_PLACEHOLDERS",
    "UPN_CHECK_LETTERS",
    "check_nino",
    "check_upn",
    "nino",
    "nino_series",
    "upn",
    "upn_check_letter",
    "upn_series",
]

NINO_BAD_FIRST = frozenset("DFIQUV")
NINO_BAD_SECOND = frozenset("DFIOQUV")
NINO_NEVER_ALLOCATED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
NINO_ADMIN_PREFIXES: dict[str, str] = {
    "CR": "administrative prefix CR (Account Investigations, NIC&EO), not a NINO",
    "FY": "administrative prefix FY (formerly Attendance Allowance claims), not a NINO",
    "NC": "administrative prefix NC (stakeholder pension dummy), not a NINO",
    "MW": "administrative prefix MW (migrant workers 1980-1987), not a NINO",
    "PP": "administrative prefix PP (pension scheme dummy, PP999999P), not a NINO",
    "PY": "administrative prefix PY (tax-only account), not a NINO",
    "PZ": "administrative prefix PZ (tax-only account), not a NINO",
}
"""Prefixes HMRC/DWP use for reference numbers that look like NINOs (NIM39110,
'Administrative Numbers'); PY and PZ from secondary sources. OO and NC are TEMPORARY."""

NINO_PLACEHOLDERS = frozenset(
    {
        "AA000000A",
        "AA111111A",
        "AA123456A",
        "AA999999A",
        "AA999999D",
        "QQ123456A",
        "QQ123456B",
        "QQ123456C",
        "QQ123456D",
        "QQ123456",
    }
)
"""NINOs that are documentation examples (HMRC's QQ 12 34 56 A) or typical fill-ins.
A real holder of one of these loses only the field. ``AB123456C``, the example printed on
many forms, is *not* listed: it follows every allocation rule and is the format example of
this library's own documentation; frequency checks at the frame level are the better tool
for fill-ins that are structurally valid."""

UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
"""Check-letter table: remainder 0 -> A ... 22 -> Z (I, O and S are not used)."""
_UPN_LETTER_VALUE = {c: i for i, c in enumerate(UPN_CHECK_LETTERS)}

_RE_STRIP = re.compile(r"[\s\-./]+")
_RE_NINO = re.compile(r"([A-Z]{2})([0-9]{6})([A-Z]?)", re.ASCII)
_RE_UPN = re.compile(r"[A-Z][0-9]{11}[0-9A-Z]", re.ASCII)
_MISSING = COMPACT_MISSING_MARKERS
_text = as_text



def _compact(text: str) -> str:
    return _RE_STRIP.sub("", text).upper()


def _ddmmyy(digits: str) -> bool:
    d, m = int(digits[:2]), int(digits[2:4])
    return 1 <= m <= 12 and 1 <= d <= 31


@lru_cache(maxsize=1 << 16)
def _check_nino_text(text: str) -> Checked[str]:
    s = _compact(text)
    if s in _MISSING:
        return Checked(None, Status.MISSING, "no NINO")
    m = _RE_NINO.fullmatch(s)
    if not m:
        return Checked(
            None, Status.INVALID, "not two letters, six digits and an optional suffix letter"
        )
    prefix, digits, suffix = m.groups()
    if prefix == "TN" and suffix in ("M", "F") and _ddmmyy(digits):
        return Checked(
            s, Status.TEMPORARY, "temporary number (TN + date of birth + sex), not a NINO"
        )
    if prefix == "NC" and suffix in ("M", "F"):
        return Checked(
            s, Status.TEMPORARY, "stakeholder pension dummy (NC + date of birth + sex), not a NINO"
        )
    if prefix == "OO":
        return Checked(
            s, Status.TEMPORARY, "tax credits administrative number (prefix OO), not a NINO"
        )
    if s in NINO_PLACEHOLDERS:
        return Checked(None, Status.PLACEHOLDER, f"{s} is an example or fill-in NINO")
    if prefix in NINO_ADMIN_PREFIXES:
        return Checked(None, Status.INVALID, NINO_ADMIN_PREFIXES[prefix])
    if prefix[0] in NINO_BAD_FIRST:
        return Checked(
            None, Status.INVALID, f"first letter {prefix[0]} is never used (D, F, I, Q, U, V)"
        )
    if prefix[1] in NINO_BAD_SECOND:
        return Checked(
            None, Status.INVALID, f"second letter {prefix[1]} is never used (D, F, I, O, Q, U, V)"
        )
    if prefix in NINO_NEVER_ALLOCATED:
        return Checked(
            None,
            Status.INVALID,
            f"prefix {prefix} is never allocated (BG, GB, KN, NK, NT, TN, ZZ)",
        )
    if suffix and suffix not in "ABCD":
        return Checked(None, Status.INVALID, f"suffix {suffix} is not A, B, C or D")
    return Checked(s, Status.OK)


def check_nino(value: Any) -> Checked[str]:
    """Normalise and validate a National Insurance number, saying why when not accepted.

    Spaces, dashes, dots and slashes are removed and letters upper-cased:
    ``"ab 12 34 56 c"`` -> ``"AB123456C"``. Temporary and administrative numbers that stand
    in for a NINO come back as :attr:`Status.TEMPORARY` with their normalised value.
    """
    t = _text(value, "NINO")
    if isinstance(t, Checked):
        return t
    return _check_nino_text(t)


def nino(value: Any) -> str | None:
    """The NINO as ``AB123456C`` (or ``AB123456`` without suffix), or ``None``.

    >>> nino("ab 12 34 56 c")
    'AB123456C'
    """
    return check_nino(value).accepted


def upn_check_letter(first12: str) -> str:
    """The UPN check letter for the 12 characters that follow it (positions 2-13).

    ``first12`` is the LA number, establishment number, year and serial: 12 digits, or
    11 digits and a letter for a temporary UPN. Raises ``ValueError`` on any other input.

    >>> upn_check_letter("801200005001")
    'B'
    """
    body = str(first12).upper()
    if len(body) != 12 or not body[:11].isdigit() or not body[:11].isascii():
        raise ValueError("a UPN body is 11 digits followed by a digit or a letter")
    last = body[11]
    if last.isdigit() and last.isascii():
        last_value = int(last)
    elif last in _UPN_LETTER_VALUE:
        last_value = _UPN_LETTER_VALUE[last]
    else:
        raise ValueError(f"{last!r} cannot end a UPN (I, O, S and non-letters are not used)")
    total = sum(int(c) * w for c, w in zip(body[:11], range(2, 13), strict=True)) + last_value * 13
    return UPN_CHECK_LETTERS[total % 23]


@lru_cache(maxsize=1 << 16)
def _check_upn_text(text: str) -> Checked[str]:
    s = _compact(text)
    if s in _MISSING:
        return Checked(None, Status.MISSING, "no UPN")
    if len(s) != 13 or not _RE_UPN.fullmatch(s):
        return Checked(
            None,
            Status.INVALID,
            "not 13 characters: check letter, 11 digits, then a digit (or a letter if temporary)",
        )
    if s[0] not in _UPN_LETTER_VALUE:
        return Checked(None, Status.INVALID, f"check letter {s[0]} is never used (I, O, S)")
    temporary = s[12].isalpha()
    if temporary and s[12] not in _UPN_LETTER_VALUE:
        return Checked(
            None, Status.INVALID, f"temporary UPN cannot end in {s[12]} (I, O, S are not used)"
        )
    expected = upn_check_letter(s[1:])
    if s[0] != expected:
        return Checked(None, Status.INVALID, f"check letter is {s[0]}, expected {expected}")
    if s[1:12] == "0" * 11:
        return Checked(
            None, Status.PLACEHOLDER, "all-zero UPN (LA, establishment and year all zero)"
        )
    if temporary:
        return Checked(s, Status.TEMPORARY, "temporary UPN (final character is a letter)")
    return Checked(s, Status.OK)


def check_upn(value: Any) -> Checked[str]:
    """Normalise and validate a Unique Pupil Number, saying why when not accepted.

    Spaces and dashes are removed, letters upper-cased; the check letter is verified.
    Temporary UPNs (final character a letter) come back as :attr:`Status.TEMPORARY`.
    """
    t = _text(value, "UPN")
    if isinstance(t, Checked):
        return t
    return _check_upn_text(t)


def upn(value: Any) -> str | None:
    """The 13-character UPN, or ``None`` if missing, invalid or temporary.

    >>> upn("b801200005001")
    'B801200005001'
    """
    return check_upn(value).accepted


# ---------------------------------------------------------------------------- vectorised

_ARROW_STRIP = r"[\s\-./]+"
_ARROW_NINO_OK = r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]?$"
_ARROW_UPN_OK = r"^[A-HJ-NP-RT-Z][0-9]{12}$"
_NINO_FAST_EXCLUDED = sorted(NINO_NEVER_ALLOCATED | set(NINO_ADMIN_PREFIXES) | {"OO"})


def _series_frame(s: pd.Series | Any, fast: Any, scalar: Any) -> tuple[pd.Series, pd.Series]:
    """Shared driver: factorise, evaluate distinct strings with ``fast`` (which returns a
    boolean mask of those it accepted, plus their values) and everything else with the
    cached ``scalar`` checker."""
    if not isinstance(s, pd.Series):
        s = pd.Series(s, dtype=object if not hasattr(s, "dtype") else None)
    n = len(s)
    vals = s.to_numpy(dtype=object)

    def strings(uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = len(uniq)
        values = np.full(k, None, dtype=object)
        status = np.empty(k, dtype=object)
        done = np.zeros(k, dtype=bool)
        if k:
            mask, accepted = fast(uniq)
            values[mask] = accepted
            status[mask] = Status.OK.value
            done |= mask
        for i in np.flatnonzero(~done):
            r = scalar(uniq[i])
            values[i] = r.accepted
            status[i] = r.status.value
        return values, status

    def other(uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = len(uniq)
        values = np.full(k, None, dtype=object)
        status = np.empty(k, dtype=object)
        for i, v in enumerate(uniq):
            r = scalar(v)
            values[i] = r.accepted
            status[i] = r.status.value
        return values, status

    out_val = np.full(n, None, dtype=object)
    out_status = np.empty(n, dtype=object)
    for pos, u_val, u_status, codes in map_distinct(vals, strings, other):
        missing = codes < 0
        safe = np.where(missing, 0, codes)
        if len(u_val):
            out_val[pos] = u_val[safe]
            out_status[pos] = u_status[safe]
        out_val[pos[missing]] = None
        out_status[pos[missing]] = Status.MISSING.value
    return (
        pd.Series(out_val, index=s.index, dtype=object),
        pd.Series(out_status, index=s.index, dtype=object),
    )


def _compact_arrow(uniq: np.ndarray) -> Any:
    arr = pa.array(uniq.tolist(), type=pa.string())
    return pc.utf8_upper(pc.replace_substring_regex(arr, _ARROW_STRIP, ""))


def _nino_fast(uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    compact = _compact_arrow(uniq)
    ok = pc.match_substring_regex(compact, _ARROW_NINO_OK)
    prefix = pc.utf8_slice_codeunits(compact, 0, 2)
    ok = pc.and_(ok, pc.invert(pc.is_in(prefix, value_set=pa.array(_NINO_FAST_EXCLUDED))))
    ok = pc.and_(ok, pc.invert(pc.is_in(compact, value_set=pa.array(sorted(NINO_PLACEHOLDERS)))))
    mask = ok.to_numpy(zero_copy_only=False).astype(bool)
    accepted = np.asarray(pc.filter(compact, ok).to_pylist(), dtype=object)
    return mask, accepted


def _upn_fast(uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    compact = _compact_arrow(uniq)
    ok = pc.match_substring_regex(compact, _ARROW_UPN_OK)
    mask = ok.to_numpy(zero_copy_only=False).astype(bool)
    cand = np.asarray(pc.filter(compact, ok).to_pylist(), dtype=object)
    if not len(cand):
        return mask, cand
    raw = np.array(cand.tolist(), dtype="S13").view(np.uint8).reshape(-1, 13)
    digits = raw[:, 1:].astype(np.int64) - 48
    total = digits @ np.arange(2, 14, dtype=np.int64)
    table = np.frombuffer(UPN_CHECK_LETTERS.encode("ascii"), dtype=np.uint8)
    good = (table[total % 23] == raw[:, 0]) & (digits[:, :11].sum(axis=1) > 0)
    idx = np.flatnonzero(mask)
    mask[idx[~good]] = False  # wrong check letter or all-zero: the scalar path says why
    return mask, cand[good]


def nino_series(s: pd.Series | Any) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`check_nino`: ``(values, statuses)`` with the input's index.

    ``values`` holds accepted NINOs (``None`` elsewhere, including TEMPORARY numbers),
    ``statuses`` the :class:`Status` values as strings; equal to the scalar checker
    element by element.
    """
    return _series_frame(s, _nino_fast, check_nino)


def upn_series(s: pd.Series | Any) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`check_upn`: ``(values, statuses)`` with the input's index."""
    return _series_frame(s, _upn_fast, check_upn)

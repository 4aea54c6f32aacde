"""The result type shared by every normaliser in :mod:`nislink.clean`.

Every identifier kind has two entry points:

* a plain normaliser, e.g. ``postcode(value) -> str | None``, which returns the
  normalised value or ``None`` when the value is missing or invalid;
* a checker, e.g. ``check_postcode(value) -> Checked``, which returns the same value
  together with a machine-readable :class:`Status` and a human-readable reason.

The plain normaliser is always ``check_x(value).accepted``, so the two can never disagree.
:func:`nislink.clean.explain` dispatches on the kind name.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

T = TypeVar("T")


class Status(str, enum.Enum):
    """Why a value was (or was not) accepted."""

    OK = "ok"
    """The value is valid and was normalised."""
    MISSING = "missing"
    """No value: ``None``, NaN, NaT, an empty or blank string, or a 'not known' marker."""
    INVALID = "invalid"
    """The value does not follow the format of its kind."""
    PLACEHOLDER = "placeholder"
    """A value that systems use to mean 'unknown' (e.g. a 1900-01-01 date of birth)."""
    OUT_OF_RANGE = "out_of_range"
    """Well formed, but outside the accepted range (a future date, a date before 1900)."""
    NO_FIXED_ABODE = "no_fixed_abode"
    """A postcode field that says the person has no fixed abode (NFA, ZZ99 pseudo-postcodes)."""
    TEMPORARY = "temporary"
    """A temporary reference number (temporary NINO, temporary UPN)."""
    UNKNOWN = "unknown"
    """An explicit 'unknown / not stated / other' code (e.g. for sex)."""


@dataclass(frozen=True, slots=True)
class Checked(Generic[T]):
    """A normalised value with its status and, when it was not accepted, the reason.

    ``value`` is ``None`` whenever ``status`` is not :attr:`Status.OK`, except for
    :attr:`Status.TEMPORARY` identifiers, where ``value`` holds the normalised temporary
    number so that callers may keep it if their policy allows (the plain normaliser still
    returns ``None`` for them).
    """

    value: T | None
    status: Status
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when the value was accepted."""
        return self.status is Status.OK

    @property
    def accepted(self) -> T | None:
        """The value if accepted, else ``None`` (what the plain normaliser returns)."""
        return self.value if self.status is Status.OK else None


def is_missing(value: Any) -> bool:
    """True for ``None``, float NaN, pandas ``NA``/``NaT`` and blank strings."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str):
        return value.strip() == ""
    # pandas.NA / pandas.NaT / numpy.datetime64('NaT') without importing pandas here
    type_name = type(value).__name__
    if type_name in ("NAType", "NaTType"):
        return True
    try:
        if isinstance(value, np.floating) and np.isnan(value):
            return True
        if isinstance(value, np.datetime64) and np.isnat(value):
            return True
    except Exception:  # pragma: no cover - numpy is a hard dependency
        pass
    return False


def missing(reason: str = "no value") -> Checked[Any]:
    """A :class:`Checked` for a missing value."""
    return Checked(None, Status.MISSING, reason)


def invalid(reason: str, status: Status = Status.INVALID) -> Checked[Any]:
    """A :class:`Checked` for a rejected value."""
    return Checked(None, status, reason)


COMPACT_MISSING_MARKERS: frozenset[str] = frozenset(
    {
        "", "?", "-", "--", ".", "0", "NK", "NA", "NONE", "NULL", "NIL", "NAN", "UNKNOWN",
        "UNK", "NOTKNOWN", "NOTSTATED", "NOTRECORDED", "NOTGIVEN", "NOTAPPLICABLE", "TBC",
        "X", "XX", "MISSING",
    }
)
"""'Not known' markers of reference-number fields (postcode, NINO, UPN), upper case with
white space removed: a value equal to one of them is :attr:`Status.MISSING`."""


def as_text(value: Any, what: str) -> str | Checked[Any]:
    """``value`` as text, or a :class:`Checked` saying why there is none (missing, bytes
    that are not UTF-8, or a non-text type); ``what`` names the kind in the reason."""
    if is_missing(value):
        return Checked(None, Status.MISSING, f"no {what}")
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return Checked(None, Status.INVALID, "bytes that are not UTF-8 text")
    if isinstance(value, str):
        return value
    return Checked(None, Status.INVALID, f"a {type(value).__name__} is not a {what}")


def pandas_confusable(text: str) -> bool:
    """True for strings that pandas' hash tables may take for other strings: those holding
    a NUL (hashed like ``""``) or a lone surrogate (such strings hash alike). Columns with
    them are cleaned value by value instead of by factorising."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False

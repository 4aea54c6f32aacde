"""Sex / gender codes: ``"M"``, ``"F"`` or ``None``.

Accepted (any case, surrounding whitespace and trailing dots ignored):

* ``M``, ``male``, ``man``, ``boy``, ``1`` (also the numbers ``1`` and ``1.0``) -> ``"M"``
* ``F``, ``female``, ``woman``, ``girl``, ``2`` (also ``2`` and ``2.0``) -> ``"F"``

The numeric codes follow the NHS Data Dictionary's PERSON STATED GENDER CODE /
PERSON GENDER CODE (1 = male, 2 = female, 0 = not known, 9 = not specified /
indeterminate; ``X`` = not known), which follow ISO/IEC 5218. Explicit "unknown / other"
codes (:data:`UNKNOWN_CODES`) give :attr:`Status.UNKNOWN` with value ``None``: they are
not errors, but they carry no information usable for linkage. Blank values are
:attr:`Status.MISSING`; anything else is :attr:`Status.INVALID`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from nislink.clean._result import Checked, Status, invalid, is_missing, missing

__all__ = ["FEMALE_CODES", "MALE_CODES", "UNKNOWN_CODES", "check_sex", "sex"]

Sex = Literal["M", "F"]

#: Text codes for male (compared lower-case, stripped).
MALE_CODES: frozenset[str] = frozenset({"m", "male", "man", "boy", "1", "1.0"})
#: Text codes for female (compared lower-case, stripped).
FEMALE_CODES: frozenset[str] = frozenset(
    {"f", "female", "woman", "girl", "2", "2.0"}
)
#: Explicit "unknown / not stated / other" codes: Status.UNKNOWN.
UNKNOWN_CODES: frozenset[str] = frozenset(
    {
        "0", "0.0", "9", "9.0", "u", "unknown", "unk", "not known", "notknown", "nk", "n k",
        "x", "i", "o", "other", "indeterminate", "not specified", "unspecified",
        "not stated", "ns", "not recorded", "prefer not to say", "refused", "withheld",
        "n a", "n/a", "na", "null", "none", "z", "intersex", "non-binary", "nonbinary",
    }
)  # fmt: skip

_OK_M: Checked[str] = Checked("M", Status.OK, None)
_OK_F: Checked[str] = Checked("F", Status.OK, None)


@lru_cache(maxsize=4096)
def _check_text(text: str) -> Checked[str]:
    key = " ".join(text.strip().lower().rstrip(".").split())
    if key == "":
        return missing("blank")
    if key in MALE_CODES:
        return _OK_M
    if key in FEMALE_CODES:
        return _OK_F
    if key in UNKNOWN_CODES:
        return Checked(None, Status.UNKNOWN, f"sex recorded as unknown/other ({key!r})")
    return invalid(f"not a recognised sex code ({text.strip()[:20]!r})")


def _check_number(value: float) -> Checked[str]:
    if math.isnan(value):
        return missing("no value")
    if value == 1:
        return _OK_M
    if value == 2:
        return _OK_F
    if value in (0, 9):
        return Checked(None, Status.UNKNOWN, f"sex recorded as unknown code {int(value)}")
    return invalid(f"not a recognised sex code ({value!r})")


def check_sex(value: Any) -> Checked[str]:
    """Normalise a sex code to ``"M"`` / ``"F"`` with a status.

    >>> check_sex(" Female ").value
    'F'
    >>> check_sex(9).status.value
    'unknown'
    """
    if is_missing(value):
        return missing("no value")
    if isinstance(value, str):
        return _check_text(value)
    if isinstance(value, bool):
        return invalid("a boolean is not a sex code")
    if isinstance(value, (bytes, bytearray)):
        try:
            return _check_text(bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            return invalid("bytes that are not UTF-8 text")
    try:
        if isinstance(value, np.bool_):
            return invalid("a boolean is not a sex code")
        if isinstance(value, (int, float, np.integer, np.floating)):
            return _check_number(float(value))
    except (OverflowError, ValueError):  # pragma: no cover - huge ints
        return invalid("not a recognised sex code")
    return invalid(f"expected a code, got {type(value).__name__}")


def sex(value: Any) -> Sex | None:
    """``"M"``, ``"F"``, or ``None`` when missing, unknown or invalid.

    >>> sex("boy"), sex(2), sex("U")
    ('M', 'F', None)
    """
    return check_sex(value).accepted  # type: ignore[return-value]

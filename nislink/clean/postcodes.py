"""UK postcodes: normalise to ``OUTWARD INWARD`` in capitals, validate against the format.

Entry points: :func:`postcode` / :func:`check_postcode`, the hierarchy helpers
:func:`postcode_area`, :func:`postcode_district`, :func:`postcode_sector`,
:func:`postcode_unit`, :func:`postcode_parts`, and the vectorised :func:`postcode_series`.

The format (Royal Mail; UK Government Data Standards Catalogue, "Post Code" data element,
based on BS 7666; see ``docs/identifiers.md`` for the sources):

* outward code of one of six shapes ``A9``, ``A99``, ``AA9``, ``AA99``, ``A9A``, ``AA9A``
  (``A`` a letter, ``9`` a digit), then one space, then the inward code ``9AA``;
* first position: any letter but Q, V, X;
* second position, when a letter: not I, J, Z;
* third position in ``A9A``: only A B C D E F G H J K P S T U W;
* fourth position in ``AA9A``: only A B E H M N P R V W X Y;
* the two inward letters: never C, I, K, M, O, V;
* the single special case ``GIR 0AA`` (the former Girobank).

Only the format is checked; whether a postcode exists needs the Postcode Address File or
the ONS Postcode Directory, which this module does not ship.

OCR and keying slips are corrected only where the format leaves exactly one possibility,
and only when the corrected postcode is valid:

* first character of the inward code (always a digit): letter ``O`` -> ``0``,
  ``I`` -> ``1``, ``L`` -> ``1``;
* first character of the outward code (always a letter): digit ``0`` -> ``O``;
* third character of the outward code when the first two are letters (always a digit
  then): ``O`` -> ``0``, ``I`` -> ``1``, ``L`` -> ``1``.

Nothing else is "fixed": a digit in an inward letter position cannot be fixed (``0`` and
``1`` would become O and I, which the inward code never uses; ``5`` -> S or ``8`` -> B
are guesses), and other outward positions may legitimately hold either a letter or a
digit. ``S`` -> ``5``, ``Z`` -> ``2`` and ``B`` -> ``8`` are not applied anywhere.

"No fixed abode": ``NFA``, ``N.F.A.``, ``no fixed abode``/``address`` and every NHS
pseudo-postcode beginning ``ZZ99`` (``ZZ99 3VZ`` = no fixed abode, ``ZZ99 3CZ`` = England
not otherwise specified, ``ZZ99 3WZ`` = address not known, ``ZZ99 3GZ`` = Wales,
``ZZ99 1WZ`` = Scotland, ``ZZ99 2WZ`` = Northern Ireland, others = resident abroad)
get :attr:`Status.NO_FIXED_ABODE` and no value: none of them locates a person.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nislink.clean._result import COMPACT_MISSING_MARKERS, Checked, Status, as_text
from nislink.clean.vectorise import map_distinct

__all__ = [
    "PostcodeParts",
    "check_postcode",
    "postcode",
    "postcode_area",
    "postcode_district",
    "postcode_parts",
    "postcode_sector",
    "postcode_series",
    "postcode_unit",
]

FIRST_LETTERS = frozenset("ABCDEFGHIJKLMNOPRSTUWYZ")  # not Q, V, X
SECOND_LETTERS = frozenset("ABCDEFGHKLMNOPQRSTUVWXY")  # not I, J, Z
THIRD_LETTERS_A9A = frozenset("ABCDEFGHJKPSTUW")
FOURTH_LETTERS_AA9A = frozenset("ABEHMNPRVWXY")
INWARD_LETTERS = frozenset("ABDEFGHJLNPQRSTUWXYZ")  # not C, I, K, M, O, V

_OUT = (
    r"(?:[A-PR-UWYZ][0-9][0-9]?"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
)
_IN = r"[0-9][ABD-HJLNP-UW-Z]{2}"
_RE_STRICT = re.compile(f"({_OUT})({_IN})")
_ARROW_STRICT = f"^{_OUT}{_IN}$"
_ARROW_FORMATTED = f"^{_OUT} {_IN}$"

_NFA_MARKERS = frozenset({"NFA", "NOFIXEDABODE", "NOFIXEDADDRESS", "NOFIXEDADDR", "NFABODE"})
_MISSING_MARKERS = COMPACT_MISSING_MARKERS
_ZZ99 = {
    "ZZ993VZ": "no fixed abode (NHS pseudo-postcode ZZ99 3VZ)",
    "ZZ993CZ": "NHS pseudo-postcode ZZ99 3CZ: England, address not otherwise specified",
    "ZZ993GZ": "NHS pseudo-postcode ZZ99 3GZ: Wales, address not otherwise specified",
    "ZZ991WZ": "NHS pseudo-postcode ZZ99 1WZ: Scotland, address not otherwise specified",
    "ZZ992WZ": "NHS pseudo-postcode ZZ99 2WZ: Northern Ireland, address not otherwise specified",
    "ZZ993WZ": "NHS pseudo-postcode ZZ99 3WZ: address not known",
}
_RE_WS = re.compile(r"\s+")
_EDGE_PUNCT = ".,;:'\"()[]"  # stripped from both ends only (address-line punctuation)
_RE_NONALNUM = re.compile(r"[^A-Z0-9]")
_RE_AREA = re.compile(r"[A-Z]+")

_OCR_INWARD = {"O": "0", "I": "1", "L": "1"}
_OCR_DIGIT = {"O": "0", "I": "1", "L": "1"}


class PostcodeParts(NamedTuple):
    """The levels of the postcode hierarchy for one valid postcode.

    For ``SW1A 1AA``: area ``SW``, district ``SW1A`` (the outward code), sector
    ``SW1A 1``, unit ``SW1A 1AA``.
    """

    area: str
    district: str
    sector: str
    unit: str


def _format_reason(compact: str) -> str:
    """A human-readable reason why ``compact`` (upper case, no spaces) is not a postcode."""
    if not compact.isalnum() or not compact.isascii():
        return "contains characters other than letters and digits"
    if not 5 <= len(compact) <= 7:
        return f"{len(compact)} letters/digits; a postcode has 5 to 7"
    out, inward = compact[:-3], compact[-3:]
    if not (inward[0].isdigit() and inward[1:].isalpha()):
        return f"inward code {inward!r} is not digit + two letters"
    bad = sorted(set(inward[1:]) - INWARD_LETTERS)
    if bad:
        return f"inward code uses {', '.join(bad)}, never used there (C, I, K, M, O, V)"
    shape = "".join("9" if c.isdigit() else "A" for c in out)
    if shape not in ("A9", "A99", "AA9", "AA99", "A9A", "AA9A"):
        return f"outward code {out!r} has shape {shape}, not A9, A99, AA9, AA99, A9A or AA9A"
    if out[0] not in FIRST_LETTERS:
        return f"first letter {out[0]} is never used (Q, V, X)"
    if shape.startswith("AA") and out[1] not in SECOND_LETTERS:
        return f"second letter {out[1]} is never used (I, J, Z)"
    if shape == "A9A" and out[2] not in THIRD_LETTERS_A9A:
        return f"third-position letter {out[2]} is not one of A-H, J, K, P, S, T, U, W"
    if shape == "AA9A" and out[3] not in FOURTH_LETTERS_AA9A:
        return f"fourth-position letter {out[3]} is not one of A B E H M N P R V W X Y"
    return "not a valid postcode"  # pragma: no cover - the strict pattern covers the rest


def _ocr_fix(compact: str) -> tuple[str, str] | None:
    """Apply the unambiguous corrections; return (fixed, what) if the result is valid."""
    if not 5 <= len(compact) <= 7:
        return None
    chars = list(compact)
    done = []
    i = len(chars) - 3
    if chars[i] in _OCR_INWARD:
        done.append(f"{chars[i]} read as {_OCR_INWARD[chars[i]]} in the inward code")
        chars[i] = _OCR_INWARD[chars[i]]
    if chars[0] == "0":
        done.append("0 read as O as the first letter")
        chars[0] = "O"
    if len(chars) >= 6 and chars[0].isalpha() and chars[1].isalpha() and chars[2] in _OCR_DIGIT:
        done.append(f"{chars[2]} read as {_OCR_DIGIT[chars[2]]} in the district number")
        chars[2] = _OCR_DIGIT[chars[2]]
    if not done:
        return None
    fixed = "".join(chars)
    if _RE_STRICT.fullmatch(fixed) or fixed == "GIR0AA":
        return fixed, "corrected: " + "; ".join(done)
    return None


@lru_cache(maxsize=1 << 16)
def _check_text(text: str) -> Checked[str]:
    up = text.strip().upper()
    compact = _RE_WS.sub("", up).strip(_EDGE_PUNCT)
    if compact in _MISSING_MARKERS or compact in ("N/K", "N/A", "N.K.", "N.A.", "N.K", "N.A"):
        return Checked(None, Status.MISSING, "no postcode")
    letters = _RE_NONALNUM.sub("", up)
    if letters in _NFA_MARKERS:
        return Checked(None, Status.NO_FIXED_ABODE, "no fixed abode marker")
    if compact.startswith("ZZ99"):
        return Checked(
            None,
            Status.NO_FIXED_ABODE,
            _ZZ99.get(compact, f"NHS pseudo-postcode {compact[:4]} {compact[4:]}".strip()),
        )
    m = _RE_STRICT.fullmatch(compact)
    if m:
        return Checked(f"{m.group(1)} {m.group(2)}", Status.OK)
    if compact == "GIR0AA":
        return Checked("GIR 0AA", Status.OK)
    fixed = _ocr_fix(compact)
    if fixed is not None:
        return Checked(f"{fixed[0][:-3]} {fixed[0][-3:]}", Status.OK, fixed[1])
    return Checked(None, Status.INVALID, _format_reason(compact))


def check_postcode(value: Any) -> Checked[str]:
    """Normalise and validate a UK postcode, saying why when it is not accepted.

    Returns ``Checked("SW1A 1AA", OK)`` for ``"sw1a1aa"``; OCR corrections are accepted
    with a ``reason`` describing the correction. Never raises on bad input.
    """
    text = as_text(value, "postcode")
    return text if isinstance(text, Checked) else _check_text(text)


def postcode(value: Any) -> str | None:
    """The postcode as ``OUTWARD INWARD`` in capitals, or ``None`` if missing or invalid.

    >>> postcode("sw1a1aa")
    'SW1A 1AA'
    """
    return check_postcode(value).accepted


def postcode_parts(value: Any) -> PostcodeParts | None:
    """Area, district (outward code), sector and unit of a postcode, or ``None``."""
    pc = postcode(value)
    if pc is None:
        return None
    out, inward = pc.split(" ")
    area = _RE_AREA.match(out).group(0)  # type: ignore[union-attr]
    return PostcodeParts(area=area, district=out, sector=f"{out} {inward[0]}", unit=pc)


def postcode_area(value: Any) -> str | None:
    """The postcode area (the leading letters, ``SW`` for ``SW1A 1AA``), or ``None``."""
    p = postcode_parts(value)
    return None if p is None else p.area


def postcode_district(value: Any) -> str | None:
    """The postcode district, i.e. the outward code (``SW1A``), or ``None``."""
    p = postcode_parts(value)
    return None if p is None else p.district


def postcode_sector(value: Any) -> str | None:
    """The postcode sector, outward code + space + inward digit (``SW1A 1``), or ``None``."""
    p = postcode_parts(value)
    return None if p is None else p.sector


def postcode_unit(value: Any) -> str | None:
    """The full normalised postcode (``SW1A 1AA``), or ``None``."""
    p = postcode_parts(value)
    return None if p is None else p.unit


def _unique_strings(uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and statuses for distinct strings: an Arrow fast path for well-formed
    postcodes (upper-cased, spaces removed, strict pattern), the cached scalar checker
    for the rest."""

    k = len(uniq)
    values = np.full(k, None, dtype=object)
    status = np.empty(k, dtype=object)
    done = np.zeros(k, dtype=bool)
    if k:
        arr = pa.array(uniq.tolist(), type=pa.string())
        # Already formatted: accept as is (cheapest, and the common case).
        formatted = pc.match_substring_regex(arr, _ARROW_FORMATTED)
        fmask = formatted.to_numpy(zero_copy_only=False)
        values[fmask] = uniq[fmask]
        status[fmask] = Status.OK.value
        done |= fmask
        rest = np.flatnonzero(~fmask)
        if len(rest):
            sub = pa.array(uniq[rest].tolist(), type=pa.string())
            compact = pc.replace_substring_regex(pc.utf8_upper(sub), r"\s+", "")
            m = pc.match_substring_regex(compact, _ARROW_STRICT).to_numpy(zero_copy_only=False)
            if m.any():
                good = pc.filter(compact, pa.array(m))
                joined = pc.binary_join_element_wise(
                    pc.utf8_slice_codeunits(good, 0, -3),
                    pc.utf8_slice_codeunits(good, -3),
                    " ",
                )
                idx = rest[m]
                values[idx] = np.asarray(joined.to_pylist(), dtype=object)
                status[idx] = Status.OK.value
                done[idx] = True
    for i in np.flatnonzero(~done):
        r = _check_text(uniq[i])
        values[i] = r.accepted
        status[i] = r.status.value
    return values, status


def _unique_other(uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = len(uniq)
    values = np.full(k, None, dtype=object)
    status = np.empty(k, dtype=object)
    for i, v in enumerate(uniq):
        r = check_postcode(v)
        values[i] = r.accepted
        status[i] = r.status.value
    return values, status


def postcode_series(s: pd.Series | Any) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`check_postcode`: ``(values, statuses)`` with the input's index.

    ``values`` is an object Series of normalised postcodes (``None`` where not accepted),
    ``statuses`` the :class:`Status` values as strings. Equal to applying
    :func:`check_postcode` element by element; distinct values are evaluated once and
    well-formed ones in bulk with Arrow.
    """
    if not isinstance(s, pd.Series):
        s = pd.Series(s, dtype=object if not hasattr(s, "dtype") else None)
    n = len(s)
    vals = s.to_numpy(dtype=object)
    out_val = np.full(n, None, dtype=object)
    out_status = np.empty(n, dtype=object)
    for pos, u_val, u_status, codes in map_distinct(vals, _unique_strings, _unique_other):
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

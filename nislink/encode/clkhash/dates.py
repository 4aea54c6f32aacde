"""clkhash date formats: a fast path that agrees exactly with ``datetime.strptime``.

clkhash parses a ``date`` feature with its schema's ``strptime`` format and tokenises it as
``%Y%m%d``. For formats made of ``%Y``, ``%m``, ``%d`` and plain separators, and values of
exactly that shape, :func:`fast_date` (one value) and :func:`fast_dates` (distinct values,
vectorised) give the same answer without calling ``strptime``; anything else answers
``None`` and is left to ``strptime`` (``tests/test_clkhash_compat.py`` checks agreement).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["date_layout", "fast_date", "fast_dates"]

_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@lru_cache(maxsize=64)
def date_layout(fmt: str) -> tuple[tuple[str, int], ...] | None:
    """``fmt`` as fixed-width pieces if it is only ``%Y``/``%m``/``%d`` and plain separators.

    Used for a fast path that must agree exactly with ``datetime.strptime``: see
    :func:`fast_date`. ``None`` means "always use strptime".
    """
    pieces: list[tuple[str, int]] = []
    i = 0
    seen: set[str] = set()
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            code = fmt[i + 1:i + 2]
            if code not in ("Y", "m", "d") or code in seen:
                return None
            seen.add(code)
            pieces.append((code, 4 if code == "Y" else 2))
            i += 2
        elif ch.isascii() and not ch.isalnum() and not ch.isspace():
            pieces.append((ch, 1))
            i += 1
        else:
            return None
    return tuple(pieces) if seen == {"Y", "m", "d"} else None


def fast_date(value: str, layout: tuple[tuple[str, int], ...] | None) -> str | None:
    """``strptime(value, fmt).strftime('%Y%m%d')`` for the common exact shape, else ``None``.

    Accepts only values whose every field has its full width in ASCII digits, with month
    01-12, day 01-31 valid for the month, and year >= 1000. For such values strptime's
    regular expression takes the same two-digit split (its two-character alternatives come
    first) and consumes the whole string, so the result is identical; anything else
    (including every invalid value) returns ``None`` and goes through strptime itself.
    """
    if layout is None or not value.isascii():
        return None
    pos = 0
    year = month = day = ""
    for code, width in layout:
        part = value[pos:pos + width]
        pos += width
        if len(part) != width:
            return None
        if width == 1 and code not in "Ymd":
            if part != code:
                return None
            continue
        if not part.isdigit():
            return None
        if code == "Y":
            year = part
        elif code == "m":
            month = part
        else:
            day = part
    if pos != len(value):
        return None
    y, m, d = int(year), int(month), int(day)
    if y < 1000 or not 1 <= m <= 12 or not 1 <= d <= _DAYS[m]:
        return None
    if m == 2 and d == 29 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return None
    return year + month + day


def fast_dates(
    uniques: np.ndarray, layout: tuple[tuple[str, int], ...] | None
) -> np.ndarray | None:
    """Vectorised :func:`fast_date` over distinct values: an object array holding the
    ``%Y%m%d`` string of each value, or ``None`` where strptime is needed."""
    if layout is None or len(uniques) == 0:
        return None
    width = sum(w for _, w in layout)
    try:
        fixed = np.asarray(uniques, dtype=f"<U{width + 1}")
    except (ValueError, TypeError):  # pragma: no cover - non-str values are rejected before
        return None
    codes = fixed.view(np.uint32).reshape(len(fixed), width + 1)
    ok = codes[:, width] == 0  # not longer than the layout
    ok &= codes[:, width - 1] != 0  # not shorter
    digits = (codes[:, :width] >= 48) & (codes[:, :width] <= 57)
    values = codes[:, :width].astype(np.int64) - 48
    parts: dict[str, np.ndarray] = {}
    columns: dict[str, list[int]] = {}
    pos = 0
    for code, w in layout:
        if code in "Ymd":
            ok &= digits[:, pos:pos + w].all(axis=1)
            num = np.zeros(len(fixed), dtype=np.int64)
            for c in range(pos, pos + w):
                num = num * 10 + values[:, c]
            parts[code] = num
            columns[code] = list(range(pos, pos + w))
        else:
            ok &= codes[:, pos] == ord(code)
        pos += w
    y, m, d = parts["Y"], parts["m"], parts["d"]
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    mdays = np.asarray(_DAYS)[np.clip(m, 0, 12)] - ((m == 2) & ~leap)
    ok &= (y >= 1000) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= mdays)
    # every field of an accepted value is its full width of ASCII digits, so its
    # %Y%m%d form is those characters in Y, m, d order
    ymd = np.ascontiguousarray(codes[:, columns["Y"] + columns["m"] + columns["d"]])
    out = np.full(len(fixed), None, dtype=object)
    out[ok] = ymd[ok].view("<U8").ravel().astype(object)
    return out

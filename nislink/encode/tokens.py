"""Tokenisers: turn one field's normalised value into typed tokens.

Every token is a string ``"<field>:<type>:<value>"`` (for positional q-grams
``"<field>:qgram:<position>:<gram>"``), so identical strings in two fields or of two token
types never collide. The encoder hashes each *distinct* token once per batch with the
field's keyed hash (see :mod:`nislink.encode.bloom`).

Normalised inputs (as produced by :mod:`nislink.clean` and the encoder):

* names: lower-case words separated by single spaces (``"mary ann"``);
* dates of birth: ISO ``"YYYY-MM-DD"``;
* postcodes: ``"OUTWARD INWARD"`` in capitals (``"SW1A 1AA"``);
* NINO / UPN / exact / sex: their normalised text; numbers: a canonical decimal string.

The same module computes match-key *components* (:func:`component_value`) such as a
forename's initial or a postcode's district.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from nislink.clean import names
from nislink.clean.names import canonical_forename
from nislink.schema import FieldSpec

__all__ = [
    "qgrams", "value_tokens", "component_value", "component_values", "token_occurrences",
    "slk581_part", "slk581_parts", "number_text", "date_level_value", "date_level_values",
]

PAD = "_"


def qgrams(text: str, q: int = 2, padding: bool = True) -> list[str]:
    """The q-grams of ``text`` (padded with ``q-1`` ``_`` each side when ``padding``).

    A text shorter than ``q`` (after padding) gives itself as its single gram.
    """
    if padding and q > 1:
        text = PAD * (q - 1) + text + PAD * (q - 1)
    if len(text) <= q:
        return [text] if text else []
    return [text[i : i + q] for i in range(len(text) - q + 1)]


def number_text(x: float) -> str:
    """Canonical text of a number: an integer without ``.0``, else ``repr`` of the float."""
    if math.isfinite(x) and x == int(x) and abs(x) < 2**53:
        return str(int(x))
    return repr(float(x))


def _phonetic(kind: str, value: str) -> str | None:
    fn = {"soundex": names.soundex, "nysiis": names.nysiis, "metaphone": names.metaphone}[kind]
    return fn(value)


def _canonical(value: str) -> list[str]:
    return canonical_forename(value) or [value]


def _postcode_parts(pc: str) -> tuple[str, str, str, str]:
    """(unit, sector, district, area) of a normalised postcode."""
    compact = pc.replace(" ", "")
    outward, inward = compact[:-3], compact[-3:]
    i = 0
    while i < len(outward) and outward[i].isalpha():
        i += 1
    return f"{outward} {inward}", f"{outward} {inward[:1]}", outward, outward[:i]


def value_tokens(spec: FieldSpec, value: str) -> list[str]:
    """Typed tokens of one normalised value of field ``spec`` (duplicates kept once)."""
    f = spec.name
    out: list[str] = []
    kind = spec.kind
    for ttype in spec.tokens or ():
        if ttype == "qgram":
            grams = qgrams(value, spec.q, spec.padding and kind not in ("nino", "upn", "exact"))
            if spec.positional:
                out.extend(f"{f}:qgram:{i}:{g}" for i, g in enumerate(grams))
            else:
                out.extend(f"{f}:qgram:{g}" for g in grams)
        elif ttype == "value":
            if kind == "number" and spec.resolution is not None:
                b = math.floor(float(value) / spec.resolution)
                out.extend(f"{f}:bin:{b + i}" for i in range(-spec.window, spec.window + 1))
            else:
                out.append(f"{f}:value:{value}")
        elif ttype == "initial":
            out.append(f"{f}:initial:{value[:1]}")
        elif ttype in ("soundex", "nysiis", "metaphone"):
            code = _phonetic(ttype, value)
            if code:
                out.append(f"{f}:{ttype}:{code}")
        elif ttype == "canonical":
            out.extend(f"{f}:canonical:{c}" for c in _canonical(value))
        elif kind == "dob":
            y, m, d = value[:4], value[5:7], value[8:10]
            part = {"day": d, "month": m, "year": y, "day_month": f"{d}-{m}",
                    "month_year": f"{y}-{m}", "day_year": f"{y}--{d}"}[ttype]
            out.append(f"{f}:{ttype}:{part}")
        elif kind == "postcode":
            unit, sector, district, area = _postcode_parts(value)
            part = {"unit": unit, "sector": sector, "district": district, "area": area}[ttype]
            out.append(f"{f}:{ttype}:{part}")
        else:  # pragma: no cover - schema validation forbids this
            raise ValueError(f"field {f!r}: token type {ttype!r} is not valid for kind {kind!r}")
    # keep the first occurrence of each token (a Bloom filter is a set)
    return list(dict.fromkeys(out))


@lru_cache(maxsize=1 << 16)
def _component_cached(kind: str, modifier: str | None, value: str) -> str | None:
    if modifier is None:
        return value
    if modifier == "initial":
        return value[:1] or None
    if modifier in ("soundex", "nysiis", "metaphone"):
        return _phonetic(modifier, value)
    if modifier == "canonical":
        return _canonical(value)[0]
    if kind == "dob":
        y, m, d = value[:4], value[5:7], value[8:10]
        if modifier in ("dayset", "yearpair0", "yearpair1"):
            return _near_date(y, m, d, modifier)
        if modifier.startswith("blank"):  # DDMMYYYY with one digit blanked
            i = int(modifier[5:])
            digits = d + m + y
            return digits[:i] + "?" + digits[i + 1:]
        return {"year": y, "month": m, "day": d, "day_month": f"{d}-{m}",
                "month_year": f"{y}-{m}"}[modifier]
    if kind == "postcode":
        unit, sector, district, area = _postcode_parts(value)
        return {"sector": sector, "district": district, "area": area}[modifier]
    raise ValueError(f"{modifier!r} is not a derived value of kind {kind!r}")


def _near_date(y: str, m: str, d: str, modifier: str) -> str:
    """``dayset``: day and month as an unordered pair (``"03-11"`` for 3 Nov and 11 Mar);
    ``yearpair0`` / ``yearpair1``: the dayset with ``year // 2`` / ``(year + 1) // 2``."""
    dayset = f"{min(d, m)}-{max(d, m)}"
    if modifier == "dayset":
        return dayset
    year = int(y)
    half = year // 2 if modifier == "yearpair0" else (year + 1) // 2
    return f"{dayset}|{half}"


def component_value(kind: str, modifier: str | None, value: str | None) -> str | None:
    """A match-key component: the whole normalised value or a derived one (None if missing).

    ``canonical`` takes the first (alphabetical) formal name that
    :func:`nislink.clean.names.canonical_forename` gives.
    """
    if value is None:
        return None
    return _component_cached(kind, modifier, value)


def slk581_part(kind: str, value: str | None) -> str:
    """One part of the SLK-581 (AIHW METeOR 349510).

    * ``surname``: letters 2, 3 and 5 of the surname (non-letters removed), ``2`` for a
      position past the end, ``999`` when missing;
    * ``forename``: letters 2 and 3, ``2`` past the end, ``99`` when missing;
    * ``dob``: ``DDMMYYYY`` (``""`` when missing: the key is then missing);
    * ``sex``: ``1`` male, ``2`` female, ``9`` not stated.
    """
    if kind in ("surname", "forename"):
        positions = (1, 2, 4) if kind == "surname" else (1, 2)
        if value is None:
            return "9" * len(positions)
        letters = "".join(ch for ch in value.upper() if "A" <= ch <= "Z")
        if not letters:
            return "9" * len(positions)
        return "".join(letters[i] if i < len(letters) else "2" for i in positions)
    if kind == "dob":
        return "" if value is None else f"{value[8:10]}{value[5:7]}{value[:4]}"
    if kind == "sex":
        return {"M": "1", "F": "2"}.get(value or "", "9")
    raise ValueError(f"SLK-581 has no part {kind!r}")


# ---------------------------------------------------------------------------------------
# Vectorised forms, used by the encoder on the distinct values of a batch. They produce
# exactly the tokens of :func:`value_tokens` and the values of :func:`component_value`
# (tested), but work on whole arrays (code-point arrays, Arrow, pandas string methods)
# where the kind allows, value by value otherwise.


_POSTCODE_PARTS = ("unit", "sector", "district", "area")
_DOB_PARTS = ("day", "month", "year", "day_month", "month_year", "day_year")


def _series(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype=object)


def _chars(values: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` ``uint32`` code points of short strings (NUL-padded)."""
    arr = np.asarray(values.tolist() if len(values) else [], dtype=f"<U{width}")
    return arr.reshape(-1).view(np.uint32).reshape(len(arr), width)


def _strings(chars: np.ndarray) -> np.ndarray:
    """Object array of strings from an ``(n, w)`` ``uint32`` code-point array (NUL = end)."""
    chars = np.ascontiguousarray(chars, dtype=np.uint32)
    n, w = chars.shape
    return chars.view(f"<U{w}").reshape(n).astype(object)


def _postcode_frame(values: np.ndarray,
                    parts: Sequence[str] = _POSTCODE_PARTS) -> dict[str, np.ndarray]:
    """``parts`` (of unit, sector, district, area) of normalised postcodes."""
    n = len(values)
    if n == 0:
        return {k: np.zeros(0, dtype=object) for k in _POSTCODE_PARTS}
    items = values.tolist()
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=n)
    c = _chars(values, 8) if lengths.max() <= 8 and lengths.min() >= 6 else None
    # normalised: 6 to 8 characters, the fourth from the end a space (code points keep
    # their positions in the array, trailing NULs included)
    if c is None or not (c[np.arange(n), lengths - 4] == 32).all():
        by_value = [_postcode_parts(v) for v in items]  # not normalised: slow path
        return {name: np.array(col, dtype=object)
                for name, col in zip(_POSTCODE_PARTS, zip(*by_value))}
    length = (c != 0).sum(axis=1)
    olen = length - 4  # "OUTWARD INWARD": the inward code is always 3 characters
    col = np.arange(8)[None, :]
    district = np.where(col[:, :4] < olen[:, None], c[:, :4], 0)
    alpha = ((c[:, :4] >= 65) & (c[:, :4] <= 90)) & (col[:, :4] < olen[:, None])
    alen = np.cumprod(alpha, axis=1).sum(axis=1)
    area = np.where(col[:, :4] < alen[:, None], c[:, :4], 0)
    sector = np.zeros((n, 6), dtype=np.uint32)
    sector[:, :4] = district
    rows = np.arange(n)
    sector[rows, olen] = 32
    sector[rows, olen + 1] = c[rows, olen + 1]
    build: dict[str, Callable[[], np.ndarray]] = {
        "unit": lambda: np.asarray(values, dtype=object),
        "sector": lambda: _strings(sector),
        "district": lambda: _strings(district),
        "area": lambda: _strings(area),
    }
    return {k: build[k]() for k in parts}


def _dob_frame(values: np.ndarray, parts: Sequence[str] = _DOB_PARTS) -> dict[str, np.ndarray]:
    """``parts`` (of :data:`_DOB_PARTS`) of ISO dates."""
    n = len(values)
    if n == 0:
        return {k: np.zeros(0, dtype=object) for k in _DOB_PARTS}
    c = _chars(values, 10)
    y, m, d = c[:, 0:4], c[:, 5:7], c[:, 8:10]
    dash = np.full((n, 1), 45, dtype=np.uint32)
    build: dict[str, Callable[[], np.ndarray]] = {
        "day": lambda: _strings(d),
        "month": lambda: _strings(m),
        "year": lambda: _strings(y),
        "day_month": lambda: _strings(np.hstack([d, dash, m])),
        "month_year": lambda: _strings(np.hstack([y, dash, m])),
        "day_year": lambda: _strings(np.hstack([y, dash, dash, d])),
    }
    return {k: build[k]() for k in parts}


def token_occurrences(
    spec: FieldSpec, values: np.ndarray, salts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All tokens of the distinct, non-missing ``values`` of field ``spec``.

    Returns ``(value_index, message)``: for every token occurrence, the index into
    ``values`` and the token's message text (the token, followed by ``"\\x1f" + salt`` when
    ``salts`` is given). Within one value, the order and de-duplication are those of
    :func:`value_tokens`.
    """
    n = len(values)
    f = spec.name
    kind = spec.kind
    simple = kind in ("dob", "postcode") or all(
        t in ("value", "initial") for t in (spec.tokens or ())
    ) and not (kind == "number" and spec.resolution is not None)
    if simple and n:
        cols: list[np.ndarray] = []
        asked = [t for t in spec.tokens or () if t not in ("value", "initial")]
        frame = (_dob_frame(values, asked) if kind == "dob"
                 else _postcode_frame(values, asked) if kind == "postcode" else None)
        for ttype in spec.tokens or ():
            if ttype == "value":
                part = values
            elif ttype == "initial":
                part = _series(values).str[:1].to_numpy(dtype=object)
            else:
                assert frame is not None
                part = frame[ttype]
            cols.append(np.array(f"{f}:{ttype}:", dtype=object) + part)
        mat = np.stack(cols, axis=1)  # (n, types)
        # de-duplicate within a value (value_tokens keeps the first occurrence)
        keep = np.ones(mat.shape, dtype=bool)
        for j in range(1, mat.shape[1]):
            for i in range(j):
                keep[:, j] &= mat[:, j] != mat[:, i]
        occ_val = np.broadcast_to(np.arange(n, dtype=np.int64)[:, None], mat.shape)[keep]
        msgs = mat[keep]
    elif n and list(spec.tokens or ()) == ["qgram"] and (
            fast := _qgram_occurrences(spec, values)) is not None:
        occ_val, msgs = fast
    else:
        occ: list[int] = []
        out: list[str] = []
        for u in range(n):
            toks = value_tokens(spec, values[u])
            occ.extend([u] * len(toks))
            out.extend(toks)
        occ_val = np.array(occ, dtype=np.int64)
        msgs = np.array(out, dtype=object)
    if salts is not None and len(msgs):
        salt_text = np.array(["" if s is None else s for s in salts.tolist()], dtype=object)
        msgs = msgs + (np.array("\x1f", dtype=object) + salt_text[occ_val])
    return occ_val, msgs


def _qgram_occurrences(spec: FieldSpec, values: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`token_occurrences` of a field whose only token type is ``qgram``, on
    code-point arrays: the grams of :func:`qgrams` in order, the repeats of a gram within a
    value dropped (as :func:`value_tokens` drops them). ``None`` (the caller then goes value
    by value) unless every value is ASCII text without NUL and ``q`` is at most 8 (a gram
    then packs into 56 bits)."""
    items = values.tolist()
    q = spec.q
    if not (1 <= q <= 8 and set(map(type, items)) <= {str}):
        return None
    joined = "".join(items)
    if not joined.isascii() or "\x00" in joined:
        return None
    pad = PAD * (q - 1) if spec.padding and spec.kind not in ("nino", "upn", "exact") else ""
    padded = [pad + v + pad for v in items] if pad else items
    n = len(padded)
    lengths = np.fromiter(map(len, padded), dtype=np.int64, count=n)
    # qgrams(): a text no longer than q is its own gram (none when empty)
    counts = np.where(lengths > q, lengths - q + 1, np.minimum(lengths, 1))
    g_max = int(counts.max())
    if g_max == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    c = _chars(np.asarray(padded, dtype=object), g_max + q - 1)  # NUL past each text
    rows, j = np.nonzero(np.arange(g_max)[None, :] < counts[:, None])  # row-major order
    grams = c[rows[:, None], j[:, None] + np.arange(q)[None, :]]  # (occurrences, q)
    f = spec.name
    if spec.positional:  # positions differ: no repeats
        labels = np.array([f"{f}:qgram:{i}:" for i in range(g_max)], dtype=object)[j]
        return rows.astype(np.int64), labels + _strings(grams)
    # (value, gram) as one number when it fits in 64 bits (7 bits per ASCII character)
    key = (grams.astype(np.uint64) << (np.uint64(7) * np.arange(q, dtype=np.uint64))).sum(
        axis=1, dtype=np.uint64)
    if n < 1 << (63 - 7 * q):
        key |= rows.astype(np.uint64) << np.uint64(7 * q)
        order = np.argsort(key, kind="stable")
        same = key[order][1:] == key[order][:-1]
    else:
        order = np.lexsort((key, rows))
        same = (rows[order][1:] == rows[order][:-1]) & (key[order][1:] == key[order][:-1])
    # stable sorts: of equal (value, gram) pairs the first occurrence in the value leads
    keep = np.ones(len(rows), dtype=bool)
    keep[order[1:][same]] = False
    prefix = np.array([ord(ch) for ch in f"{f}:qgram:"], dtype=np.uint32)
    kept = grams[keep]
    text = np.hstack([np.broadcast_to(prefix, (len(kept), len(prefix))), kept])
    return rows[keep].astype(np.int64), _strings(text)


def component_values(kind: str, modifier: str | None, values: np.ndarray) -> np.ndarray:
    """Vectorised :func:`component_value` over distinct, non-missing ``values``."""
    if modifier is None:
        return values.astype(object)
    if len(values) == 0:
        return np.zeros(0, dtype=object)
    if modifier == "initial":
        out = _series(values).str[:1].to_numpy(dtype=object)
        return np.where(out == "", None, out).astype(object)
    if modifier in ("soundex", "nysiis", "metaphone"):
        return _phonetic_values(modifier, values.tolist())
    if kind == "dob" and modifier in ("year", "month", "day", "day_month", "month_year"):
        return _dob_frame(values, (modifier,))[modifier]
    if kind == "postcode" and modifier in ("sector", "district", "area"):
        return _postcode_frame(values, (modifier,))[modifier]
    if kind == "dob" and (modifier in ("dayset", "yearpair0", "yearpair1")
                          or modifier.startswith("blank")):
        near = _dob_near(values, modifier)
        if near is not None:
            return near
    return np.array([component_value(kind, modifier, v) for v in values], dtype=object)


def _iso_chars(values: np.ndarray) -> np.ndarray | None:
    """``(n, 10)`` code points of ISO dates, or ``None`` when a value is not of the form
    ``NNNN-NN-NN`` (ASCII digits; the scalar path then handles the values)."""
    c = _chars(values, 11)
    digit = (c >= 48) & (c <= 57)
    if not (digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all() and (c[:, [4, 7]] == 45).all()
            and (c[:, 10] == 0).all()):
        return None
    return c[:, :10]


#: Phonetic codes of text seen before by :func:`component_values` (per code; at most
#: :data:`_PHONETIC_SEEN_MAX` texts: emptied when a batch's new texts would pass that, which
#: then keeps only as many as fit), so that a later batch, like one that goes through
#: :func:`_component_cached` (an ``lru_cache`` of the same size), looks them up rather than
#: checking the names again.
_PHONETIC_SEEN: dict[str, dict[str, str | None]] = {}
_PHONETIC_SEEN_MAX = 1 << 16


def _phonetic_values(modifier: str, items: list[Any]) -> np.ndarray:
    """``names.phonetic_codes(modifier, items)`` as an object array, remembered per text."""
    if not set(map(type, items)) <= {str}:
        return np.array(names.phonetic_codes(modifier, items), dtype=object)
    seen = _PHONETIC_SEEN.setdefault(modifier, {})
    unseen = object()
    out: list[Any] = [seen.get(v, unseen) for v in items]
    todo = [i for i, o in enumerate(out) if o is unseen]
    if todo:
        texts = [items[i] for i in todo]
        if len(seen) + len(todo) > _PHONETIC_SEEN_MAX:
            seen.clear()
        room = _PHONETIC_SEEN_MAX - len(seen)
        for k, (i, v, code) in enumerate(zip(todo, texts,
                                             names.phonetic_codes(modifier, texts))):
            out[i] = code
            if k < room:
                seen[v] = code
    return np.array(out, dtype=object)


def _dob_near(values: np.ndarray, modifier: str) -> np.ndarray | None:
    """Vectorised ``dayset``, ``yearpair0/1`` and ``blank<i>`` of ISO dates (as
    :func:`_component_cached` defines them), or ``None`` when a value is not of the form
    ``NNNN-NN-NN`` (the scalar path then handles it)."""
    c = _iso_chars(values)
    if c is None:
        return None
    n = len(values)
    y, m, d = c[:, 0:4], c[:, 5:7], c[:, 8:10]
    if modifier.startswith("blank"):
        i = int(modifier[5:])
        digits = np.hstack([d, m, y])
        digits[:, i] = 63  # "?"
        return _strings(digits)
    # min / max of the two-digit day and month, as strings compare
    dn = (d[:, 0].astype(np.int64) * 256 + d[:, 1])
    mn = (m[:, 0].astype(np.int64) * 256 + m[:, 1])
    lo = np.where((dn <= mn)[:, None], d, m)
    hi = np.where((dn <= mn)[:, None], m, d)
    dash = np.full((n, 1), 45, dtype=np.uint32)
    dayset = np.hstack([lo, dash, hi])
    if modifier == "dayset":
        return _strings(dayset)
    bar = np.full((n, 1), 124, dtype=np.uint32)
    return _strings(np.hstack([dayset, bar, _half_years(y, modifier == "yearpair1")]))


def _half_years(y: np.ndarray, up: bool) -> np.ndarray:
    """Code points (NUL-padded) of ``str(int(year) // 2)``, or of ``(int(year) + 1) // 2``
    when ``up``, from the ``(n, 4)`` ASCII digits of years."""
    year = ((y - 48).astype(np.int64) * np.array([1000, 100, 10, 1])).sum(axis=1)
    half = (year + 1) // 2 if up else year // 2
    return _chars(half.astype(str).astype(object), 5)


def date_level_value(value: str, level_token: str) -> str:
    """The text of one near-miss token (:data:`nislink.schema.DATE_LEVELS`) of an ISO date:
    ``swap`` ``"03-11|1980"`` (day and month unordered), ``d<i>`` the date as ``DDMMYYYY``
    with digit ``i`` replaced by ``?``, ``ym`` ``"1980-11"``, ``dm0``/``dm1`` ``"03-11|990"``
    (day, month, halved year), ``y`` ``"1980"``. The reference for
    :func:`date_level_values`."""
    y, m, d = value[:4], value[5:7], value[8:10]
    if level_token == "swap":
        return f"{min(d, m)}-{max(d, m)}|{y}"
    if level_token.startswith("d") and level_token[1:].isdigit():
        i = int(level_token[1:])
        digits = d + m + y
        return digits[:i] + "?" + digits[i + 1:]
    if level_token == "ym":
        return f"{y}-{m}"
    if level_token in ("dm0", "dm1"):
        year = int(y)
        half = year // 2 if level_token == "dm0" else (year + 1) // 2
        return f"{d}-{m}|{half}"
    if level_token == "y":
        return y
    raise ValueError(f"unknown date level token {level_token!r}")


def date_level_values(values: np.ndarray, level_token: str) -> np.ndarray:
    """Vectorised :func:`date_level_value` over distinct, non-missing ISO dates."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=object)
    c = _chars(values, 10)
    y, m, d = c[:, 0:4], c[:, 5:7], c[:, 8:10]

    def col(ch: str) -> np.ndarray:
        return np.full((n, 1), ord(ch), dtype=np.uint32)

    if level_token == "swap":
        swap = (d[:, 0] > m[:, 0]) | ((d[:, 0] == m[:, 0]) & (d[:, 1] > m[:, 1]))
        lo = np.where(swap[:, None], m, d)
        hi = np.where(swap[:, None], d, m)
        return _strings(np.hstack([lo, col("-"), hi, col("|"), y]))
    if level_token.startswith("d") and level_token[1:].isdigit():
        digits = np.hstack([d, m, y])
        digits[:, int(level_token[1:])] = ord("?")
        return _strings(digits)
    if level_token == "ym":
        return _strings(np.hstack([y, col("-"), m]))
    if level_token == "y":
        return _strings(y)
    if level_token in ("dm0", "dm1") and _iso_chars(values) is not None:
        half = _half_years(y, level_token == "dm1")
        return _strings(np.hstack([d, col("-"), m, col("|"), half]))
    return np.array([date_level_value(v, level_token) for v in values.tolist()], dtype=object)


def slk581_parts(kind: str, values: np.ndarray) -> np.ndarray:
    """Vectorised :func:`slk581_part` over distinct, non-missing ``values`` (an object
    array). Names of ASCII text and ISO dates are done on code-point arrays; other values
    (and ``sex``, which has a handful) value by value."""
    n = len(values)
    if n and kind in ("surname", "forename"):
        items = values.tolist()
        if all(type(v) is str for v in items) and "".join(items).isascii():
            return _slk581_letters(items, (1, 2, 4) if kind == "surname" else (1, 2))
    if n and kind == "dob":
        c = _iso_chars(values)
        if c is not None:
            return _strings(np.hstack([c[:, 8:10], c[:, 5:7], c[:, 0:4]]))
    return np.array([slk581_part(kind, v) for v in values.tolist()], dtype=object)


def _slk581_letters(items: list[str], positions: tuple[int, ...]) -> np.ndarray:
    """:func:`slk581_part` of ASCII names: letters at ``positions`` of the name's letters
    (upper case), ``2`` past the end, all ``9`` when the name has no letter."""
    n = len(items)
    width = max(max(map(len, items)), 1)
    c = _chars(np.asarray(items, dtype=object), width)
    up = np.where((c >= 97) & (c <= 122), c - 32, c)  # str.upper() of ASCII text
    letter = (up >= 65) & (up <= 90)
    rank = np.cumsum(letter, axis=1) - 1  # the letter's position among the letters
    count = letter.sum(axis=1)
    out = np.empty((n, len(positions)), dtype=np.uint32)
    rows = np.arange(n)
    for j, p in enumerate(positions):
        hit = letter & (rank == p)
        first = np.argmax(hit, axis=1)
        out[:, j] = np.where(count > p, up[rows, first], ord("2"))
    out[count == 0] = ord("9")
    return _strings(out)

"""Vectorising helpers of the cleaning stage: evaluate each distinct value once.

A column of a million records holds far fewer distinct values; the normalisers run once per
distinct value and the results are spread back to the rows. pandas' hash tables, which do
the grouping, take some distinct strings for equal (see :func:`pandas_confusable`), so the
helpers here keep those apart:

* :func:`factorize` is ``pandas.factorize`` checked against such collisions (the one
  workaround, used by the frame cleaner, the encoder and the clkhash engine);
* :func:`map_distinct` splits an object array into strings, booleans and other values and
  evaluates each group's distinct values once (used by the date, postcode, NINO and UPN
  cleaners, whose Arrow fast paths must not see the colliding strings at all).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nislink.clean._result import pandas_confusable

__all__ = ["factorize", "map_distinct"]


def factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, distinct values)`` of a 1-D array in order of first appearance, ``-1`` for
    missing values (``None``, NaN, ``NA``, ``NaT``), as ``pandas.factorize`` gives them.

    pandas' hash table for strings treats ``"\x00"`` like ``""`` (it compares C strings)
    and strings holding lone surrogates as equal to each other. The result is checked: when
    some value is not the distinct value its code points to, the codes are recomputed with
    a dict, which compares Python objects exactly. Codes are ``int64``; distinct values an
    object array. Raises ``TypeError`` for unhashable values, as pandas does.
    """
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    codes = codes.astype(np.int64, copy=False)
    uniq = np.asarray(uniq, dtype=object)
    present = codes >= 0
    as_objects = np.asarray(values, dtype=object)
    if len(uniq) and not np.array_equal(uniq[codes[present]], as_objects[present]):
        index: dict[Any, int] = {}
        out = np.full(len(as_objects), -1, dtype=np.int64)
        for i in np.flatnonzero(present).tolist():
            out[i] = index.setdefault(as_objects[i], len(index))
        firsts = np.empty(len(index), dtype=object)
        for v, j in index.items():
            firsts[j] = v
        return out, firsts
    return codes, uniq


def _plain_string_kinds(vals: np.ndarray) -> np.ndarray | None:
    """The kinds :func:`map_distinct` gives (0 string, 1 one by one, 2 other) when no
    string is confusable for pandas, found for all strings at once (one joined text holds
    a NUL or a lone surrogate exactly when one of them does); ``None`` when some string is
    confusable or a value is a boolean (the caller then classifies value by value)."""
    items = vals.tolist()
    if set(map(type, items)) <= {str}:  # all plain strings (the usual case): one C pass
        is_str = np.ones(len(items), dtype=bool)
    else:
        is_str = np.fromiter((type(v) is str for v in items), dtype=bool, count=len(items))
    strings = [v for v, s in zip(items, is_str.tolist()) if s] if not is_str.all() else items
    joined = "".join(strings)
    if "\x00" in joined:
        return None
    if not joined.isascii():
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            return None
    kinds = np.where(is_str, 0, 2).astype(np.int8)
    if not is_str.all() and any(isinstance(v, (bool, np.bool_))
                                for v, s in zip(items, is_str.tolist()) if not s):
        return None
    return kinds


def map_distinct(vals: np.ndarray, strings: Any, scalar: Any) -> list[tuple[np.ndarray, ...]]:
    """Split an object array into strings / booleans / other values, factorise each group
    and evaluate the distinct values once: ``strings(uniques)`` for text, ``scalar(uniques)``
    for the rest. Returns ``(positions, unique_values_out, unique_status_out, codes)`` per
    group (codes -1 mark missing values). Booleans are kept apart because pandas hashes
    ``True`` like ``1``, and strings holding NUL characters because pandas' string hash
    table treats ``"\\x00"`` like ``""`` (and strings with lone surrogates, which cannot be
    encoded, as equal to each other); these are evaluated one by one, like unhashable
    items (lists, dicts)."""
    n = len(vals)
    kinds = _plain_string_kinds(vals)
    if kinds is None:
        kinds = np.fromiter(
            (
                (1 if pandas_confusable(v) else 0)
                if type(v) is str
                else 1
                if isinstance(v, (bool, np.bool_))
                else 2
                for v in vals
            ),
            dtype=np.int8,
            count=n,
        )
    out = []
    for kind in (0, 1, 2):
        pos = np.flatnonzero(kinds == kind)
        if not len(pos):
            continue
        sub = vals[pos]
        if kind == 1:
            codes = np.arange(len(sub))
            uniq = sub
        else:
            try:
                codes, uniques = pd.factorize(sub, use_na_sentinel=True)
                uniq = np.asarray(uniques, dtype=object)
            except TypeError:
                codes, uniq = np.arange(len(sub)), sub
        u_val, u_status = (strings if kind == 0 else scalar)(uniq)
        out.append((pos, u_val, u_status, codes))
    return out

"""Vectorising helpers of the cleaning stage: evaluate each distinct value once.

A column of a million records holds far fewer distinct values; the normalisers run once per
distinct value and the results are spread back to the rows. pandas' hash tables, which do
the grouping, take some distinct strings for equal (see :func:`pandas_confusable`), so the
helpers here keep those apart:

* :func:`map_distinct` splits an object array into strings, booleans and other values and
  evaluates each group's distinct values once (used by the date, postcode, NINO and UPN
  cleaners);
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nislink.clean._result import pandas_confusable

__all__ = ["map_distinct"]


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

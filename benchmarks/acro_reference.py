"""ACRO and nislink's output checks on the same table, compared cell by cell.

ACRO (``pip install acro==1.0.2``, the SACRO project's semi-automatic output checker) is
the reference for :mod:`nislink.nis.outputs`. This module

* runs ACRO on a table specification (:func:`acro_verdicts`; needs ``acro`` importable:
  ``pip install -e ".[outputs]"``, or a separate virtualenv with ``acro==1.0.2`` and
  nislink on ``PYTHONPATH``),
* runs nislink on the same specification (:func:`nislink_verdicts`; no ACRO needed), and
* compares the two (:func:`compare`), cell by cell, in ACRO's check names.

A *case* is a dict: ``index`` and ``columns`` (lists of column names; no columns means
ACRO's ``pivot_table``, otherwise ``crosstab``), ``values`` (a column or ``None``),
``aggfunc`` and ``config`` (ACRO configuration keys overriding its ``default.yaml``).
A verdict is a dict: ``status``, ``cells`` (cell key -> sorted ACRO check names),
``table`` (the statistic, row by row, ``None`` for NaN), for ACRO ``suppressed_table``
(its table with suppression on; ``None`` when its suppression fails) and for nislink
``suppressed`` (the cell keys it masks), and for ``std`` ``dof_fail`` (cell key -> bool).
A cell key is the JSON text of the cell's row labels followed by its column labels
(``'["D", "5+"]'``).

Documented differences (see :mod:`nislink.nis.outputs`) are separated from disagreements:

* ``negative-elsewhere``: in a sum/mean table with a negative value anywhere, ACRO stops
  checking dominance in every cell; nislink still checks the cells without negatives;
* ``pivot-unchecked-row``: ACRO's ``pivot_table`` without columns checks only the rows of
  its count table, which pandas makes without the rows whose key is missing and without
  the empty combinations of two or more grouping columns; nislink checks every row;
* ``std`` cells: ACRO's outcome table marks every cell with non-zero degrees of freedom, so
  its per-cell verdict is taken from its own criterion (``dof < safe_dof_threshold`` on the
  degrees of freedom it computes), not from the outcome table.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

ACRO_VERSION = "1.0.2"

#: nislink rule -> ACRO check name (``negative`` shows in ACRO as NKCheck + PPercentCheck)
ACRO_NAMES = {
    "threshold": "MinimumThresholdCheck",
    "zero": "PresenceOfZeroCheck",
    "nk-rule": "NKCheck",
    "p-percent": "PPercentCheck",
    "missing": "MissingCheck",
    "dof": "MinimumDoFCheck",
}
DOMINANCE = {"NKCheck", "PPercentCheck"}


def _plain(x: Any) -> Any:
    """A JSON-safe label or value: NaN -> None, NumPy scalars -> Python."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def cell_key(row: Any, col: Any, with_columns: bool) -> str:
    """The JSON text naming a cell by its row labels and (if any) column labels."""
    parts = list(row) if isinstance(row, tuple) else [row]
    if with_columns:
        parts += list(col) if isinstance(col, tuple) else [col]
    return json.dumps([_plain(p) for p in parts])


def _table_rows(table: pd.DataFrame) -> list[list[Any]]:
    return [[_plain(v) for v in row] for row in table.to_numpy(dtype=object).tolist()]


# ----------------------------------------------------------------------------- ACRO side


def acro_verdicts(df: pd.DataFrame, case: dict[str, Any]) -> dict[str, Any]:
    """Run ACRO 1.0.2 on ``case`` over ``df``; its verdicts in the module's format."""
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)      # ACRO logs every table at INFO on the root logger
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _acro_verdicts(df, case)
    finally:
        logging.disable(previous)


def _acro_verdicts(df: pd.DataFrame, case: dict[str, Any]) -> dict[str, Any]:
    from acro import ACRO  # noqa: PLC0415
    from acro.tablemodeldetails import TableModelDetails  # noqa: PLC0415

    session = ACRO(suppress=False)
    session.sdc_checks.risk_appetite.update(case.get("config", {}))
    index, columns = list(case["index"]), list(case["columns"])
    values, aggfunc = case.get("values"), case["aggfunc"]
    if columns:
        rows = [df[c] for c in index]
        cols = [df[c] for c in columns]
        vals = df[values] if values is not None else None
        agg = aggfunc if values is not None else None
        session.crosstab(rows if len(rows) > 1 else rows[0],
                         cols if len(cols) > 1 else cols[0], values=vals, aggfunc=agg)
        kwargs = {"values": vals, "rownames": None, "colnames": None, "aggfunc": agg,
                  "margins": False, "margins_name": "All", "dropna": False,
                  "normalize": False}
        model = TableModelDetails(index=rows, columns=cols, values=vals, thekwargs=kwargs,
                                  risk_appetite=session.sdc_checks.risk_appetite,
                                  command="crosstab")
    else:
        if values is None:
            raise ValueError("ACRO's pivot_table needs a values column")
        session.pivot_table(df, index=index, values=values, aggfunc=aggfunc)
        kwargs = {"values": values, "index": index, "columns": [], "aggfunc": aggfunc,
                  "fill_value": None, "margins": False, "dropna": False,
                  "margins_name": "All", "observed": False, "sort": True}
        model = TableModelDetails(index=[df[c] for c in index], columns=[],
                                  values=df[values], thekwargs=kwargs,
                                  risk_appetite=session.sdc_checks.risk_appetite,
                                  command="pivot_table")
    record = list(session.results.results.values())[-1]
    suppressed = _acro_suppressed_table(df, case)
    outcome: pd.DataFrame = record.outcome
    cells: dict[str, list[str]] = {}
    for i, r in enumerate(outcome.index):
        for j, c in enumerate(outcome.columns):
            tokens = []
            for t in str(outcome.iat[i, j]).split(";"):
                t = t.strip()
                if t.startswith("ok"):
                    t = t[2:]
                if t:
                    tokens.append(t)
            cells[cell_key(r, c, bool(columns))] = sorted(set(tokens))
    out: dict[str, Any] = {"status": record.status, "cells": cells,
                           "table": _table_rows(record.output[0]),
                           "suppressed_table": suppressed}
    if aggfunc == "std":
        evidence = session.sdc_checks.get_evidence_forall_analyses(["StandardDeviation"], model)
        dof = evidence.dof
        threshold = session.sdc_checks.risk_appetite["safe_dof_threshold"]
        out["dof_fail"] = {cell_key(r, c, bool(columns)): bool(dof.iat[i, j] < threshold)
                           for i, r in enumerate(dof.index) for j, c in enumerate(dof.columns)}
    return out


def _acro_suppressed_table(df: pd.DataFrame, case: dict[str, Any]) -> list[list[Any]] | None:
    """ACRO's table with ``suppress=True`` (``None``: ACRO's suppression failed)."""
    from acro import ACRO  # noqa: PLC0415

    session = ACRO(suppress=True)
    session.sdc_checks.risk_appetite.update(case.get("config", {}))
    index, columns = list(case["index"]), list(case["columns"])
    values, aggfunc = case.get("values"), case["aggfunc"]
    try:
        if columns:
            rows = [df[c] for c in index]
            cols = [df[c] for c in columns]
            table = session.crosstab(
                rows if len(rows) > 1 else rows[0], cols if len(cols) > 1 else cols[0],
                values=df[values] if values is not None else None,
                aggfunc=aggfunc if values is not None else None)
        else:
            table = session.pivot_table(df, index=index, values=values, aggfunc=aggfunc)
    except Exception:  # noqa: BLE001 - ACRO's suppression cannot query a missing key
        return None
    return _table_rows(table)


# -------------------------------------------------------------------------- nislink side


def nislink_verdicts(df: pd.DataFrame, case: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`nislink.nis.outputs.check_table` on ``case``; verdicts in ACRO's names."""
    from nislink.nis.outputs import DisclosureRules, check_table  # noqa: PLC0415

    rules = DisclosureRules.from_acro(case.get("config", {}))
    columns = list(case["columns"])
    res = check_table(df, list(case["index"]), columns or None, values=case.get("values"),
                      aggfunc=case["aggfunc"], rules=rules)
    cells: dict[str, list[str]] = {}
    dof_fail: dict[str, bool] = {}
    negative: dict[str, bool] = {}
    records: dict[str, int] = {}
    for r in res.outcome.index:
        for c in res.outcome.columns:
            key = cell_key(r, c, bool(columns))
            names = set()
            for rule, flag in res.flags.items():
                if flag.at[r, c]:
                    names |= DOMINANCE if rule == "negative" else {ACRO_NAMES[rule]}
            cells[key] = sorted(names)
            records[key] = int(res.counts.at[r, c])
            negative[key] = bool("negative" in res.flags and res.flags["negative"].at[r, c])
            if "dof" in res.flags:
                dof_fail[key] = bool(res.flags["dof"].at[r, c])
    masked = check_table(df, list(case["index"]), columns or None, values=case.get("values"),
                         aggfunc=case["aggfunc"], rules=rules, suppress=True)
    out: dict[str, Any] = {"status": res.status, "cells": cells, "negative": negative,
                           "records": records,
                           "table": _table_rows(res.table),
                           "suppressed": sorted(cell_key(r, c, bool(columns))
                                                for r, c in masked.suppressed)}
    if case["aggfunc"] == "std":
        out["dof_fail"] = dof_fail
    return out


# ---------------------------------------------------------------------------- comparison


def compare(mine: dict[str, Any], acro: dict[str, Any], case: dict[str, Any]
            ) -> dict[str, Any]:
    """Compare nislink's verdicts with ACRO's for one case.

    Returns ``cells`` (cells compared), ``agree`` (cells with identical verdicts as they
    are), ``documented`` (list of ``(kind, cell)`` for the documented differences),
    ``disagree`` (list of ``(cell, nislink, acro)`` that no documented difference explains),
    ``status`` (nislink's and ACRO's table verdicts, after removing documented
    differences), ``table_equal`` (the statistics agree, NaN and 0 counts alike) and
    ``suppression_equal`` (the same cells are suppressed, see :func:`_suppression_equal`;
    ``None`` when not comparable, or when a documented difference changes the cells).
    """
    documented: list[tuple[str, str]] = []
    disagree: list[tuple[str, list[str], list[str]]] = []
    std = case["aggfunc"] == "std"
    any_negative = any(mine.get("negative", {}).values())
    agree = 0
    adjusted: dict[str, set[str]] = {}
    for key, theirs in acro["cells"].items():
        if key not in mine["cells"]:
            disagree.append((key, [], theirs))
            continue
        ours = set(mine["cells"][key])
        theirs_set = set(theirs)
        if std:  # ACRO's outcome table is unreliable for std: use its own criterion
            dof = {"MinimumDoFCheck"}
            ours = (ours - dof) | (dof if mine["dof_fail"][key] else set())
            theirs_set = (theirs_set - dof) | (dof if acro["dof_fail"].get(key, False) else set())
        if ours == theirs_set:
            agree += 1
        fixed = set(ours)
        if any_negative and not mine["negative"][key] and fixed & DOMINANCE:
            fixed -= DOMINANCE
            documented.append(("negative-elsewhere", key))
        if not case["columns"] and fixed and (None in json.loads(key)
                                               or mine["records"][key] == 0):
            fixed = set()
            documented.append(("pivot-unchecked-row", key))
        adjusted[key] = fixed
        if fixed != theirs_set:
            disagree.append((key, sorted(fixed), sorted(theirs_set)))
    extra = sorted(set(mine["cells"]) - set(acro["cells"]))
    disagree += [(k, mine["cells"][k], []) for k in extra]
    status = _acro_status(adjusted, mine.get("negative", {}), any_negative)
    suppression_equal = _suppression_equal(mine, acro, case) if not documented else None
    return {"cells": len(acro["cells"]), "agree": agree, "documented": documented,
            "disagree": disagree, "status": (status, acro["status"]),
            "nislink_status": mine["status"],
            "table_equal": _tables_equal(mine["table"], acro["table"], case),
            "suppression_equal": suppression_equal}


def _suppression_equal(mine: dict[str, Any], acro: dict[str, Any], case: dict[str, Any]
                       ) -> bool | None:
    """Do both blank the same cells with suppression on, where ACRO's blanking shows?

    ACRO suppresses by deleting the records of every cell that is not ``ok`` and tabulating
    again: a suppressed cell becomes NaN (empty) or, for counts with zeros not disclosive,
    0. So a cell's suppression shows where its value was finite and not zero. ``std``
    tables are not comparable (ACRO's outcome table, which drives its suppression, marks
    every cell with non-zero degrees of freedom), nor is a run where ACRO's suppression
    failed (it cannot query a missing key).
    """
    if case["aggfunc"] == "std" or acro.get("suppressed_table") is None:
        return None
    keys = list(acro["cells"])          # row by row, as the tables
    before = np.array(acro["table"], dtype=object).ravel()
    after = np.array(acro["suppressed_table"], dtype=object).ravel()
    if len(after) == 0:     # every record deleted: ACRO's table comes back empty
        after = np.full(len(before), None, dtype=object)
    if len(keys) != len(before) or len(before) != len(after):
        return None
    ours = set(mine["suppressed"])
    for key, b, a in zip(keys, before, after):
        if b is None or b == 0:
            continue
        theirs = a is None or not math.isclose(float(a), float(b), rel_tol=1e-9)
        if theirs != (key in ours):
            return False
    return True


def _acro_status(cells: dict[str, set[str]], negative: dict[str, bool],
                 any_negative: bool) -> str:
    fail = review = False
    for key, names in cells.items():
        for name in names:
            if name in DOMINANCE and any_negative and negative.get(key, False):
                review = True       # ACRO: dominance undefined -> review
            elif name == "MissingCheck":
                review = True
            else:
                fail = True
    return "fail" if fail else "review" if review else "pass"


def _tables_equal(a: list[list[Any]], b: list[list[Any]], case: dict[str, Any]) -> bool:
    if len(a) != len(b) or any(len(x) != len(y) for x, y in zip(a, b)):
        return False
    count = case["aggfunc"] == "count"
    for x, y in zip(np.array(a, dtype=object).ravel(), np.array(b, dtype=object).ravel()):
        if count:   # pandas gives NaN for an empty cell's count of values; nislink 0
            x = 0 if x is None else x
            y = 0 if y is None else y
        if x is None or y is None:
            if x is not y:
                return False
        elif not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-9):
            return False
    return True

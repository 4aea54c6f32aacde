"""Safe outputs: disclosure checks for tables and models before they leave the research environment.

A researcher works inside the research environment on the de-identified research dataset;
what leaves it (a table for a report, a regression) is checked first, the way UK trusted
research environments check outputs. The rules are those of ACRO, the SACRO project's
semi-automatic output checker (``acro`` on PyPI, version 1.0.2, ``acro/default.yaml``),
implemented here independently and compared against ACRO on the same tables
(``tests/test_nis_outputs_acro.py``, ``benchmarks/acro_agreement.py``):

=============  ==============================================================  ================
rule           a cell is flagged when                                          ACRO check
=============  ==============================================================  ================
``threshold``  it holds fewer than ``threshold`` records (default 10)          MinimumThreshold
``zero``       it holds no record (``zeros_are_disclosive``, default on)       PresenceOfZero
``nk-rule``    its ``nk_n`` largest values make up ``nk_k`` or more of its     NK
               total (N-K dominance; defaults 2 and 0.9)
``p-percent``  its total minus its two largest values is less than             PPercent
               ``p_percent`` of its largest value (default 0.1)
``dof``        its residual degrees of freedom, records - 1, are fewer than    MinimumDoF
               ``dof_threshold`` (default 10)
``negative``   it has a negative value: dominance is not defined, so it needs  NK, PPercent
               a human review instead of the two rules above                   (review)
``missing``    its value column has missing values, which the statistic        Missing
               skips, or it has no record, so that its statistic is missing
               (``check_missing_values``, default on)
=============  ==============================================================  ================

Which rules apply depends on the statistic, as in ACRO: counts get ``threshold`` and
``zero``; sums and means ``threshold`` and dominance (``nk-rule``, ``p-percent``,
``negative``); medians ``threshold`` and ``zero``; standard deviations ``dof``. ``missing``
applies to every statistic of a value column. A cell flagged by any of the first five
rules **fails**; a cell flagged only by ``negative`` or ``missing`` needs **review**. The
table's verdict is ``fail`` when any cell fails, else ``review`` when any needs review,
else ``pass``. Regressions fail when their residual degrees of freedom are below
``dof_threshold`` (:func:`check_regression`).

With ``suppress=True`` every cell that is not ``ok`` is masked (primary suppression, as
ACRO's ``suppress=True``), and a table with masked cells has the verdict ``review``:
a checker confirms that the masked cells cannot be recovered from other outputs (totals
published elsewhere, a table that differs by one category). Compute any total you publish
from the masked table, never from the data.

Where nislink deliberately differs from ACRO 1.0.2 (each difference is tested):

* a negative value in one cell makes only *that* cell ``negative``; ACRO stops checking
  dominance in every cell of the table (a dominated cell elsewhere then passes);
* a missing key (NaN in a grouping column) is a category of its own, and every
  combination of categories is a cell, checked like any other; ACRO's ``pivot_table``
  without ``columns`` leaves unchecked the rows with a missing key and the empty
  combinations of two grouping columns (its count table has no such rows);
* ``check_missing_values`` is on by default: ACRO's shipped ``default.yaml`` has it off,
  its configuration guide says on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from nislink.errors import NislinkError

__all__ = [
    "AGGFUNCS",
    "DEFAULT_RULES",
    "DisclosureRules",
    "OutputCheckError",
    "RULES_BY_AGGFUNC",
    "RegressionCheck",
    "TableCheck",
    "check_regression",
    "check_table",
]

AGGFUNCS: tuple[str, ...] = ("count", "sum", "mean", "median", "std")
"""The statistics a checked table may hold."""

FAILING_RULES: tuple[str, ...] = ("threshold", "zero", "nk-rule", "p-percent", "dof")
"""Rules whose flag makes a cell fail."""

REVIEW_RULES: tuple[str, ...] = ("negative", "missing")
"""Rules whose flag makes a cell need a human review."""

RULES_BY_AGGFUNC: dict[str, tuple[str, ...]] = {
    "count": ("threshold", "zero"),
    "sum": ("threshold", "nk-rule", "p-percent", "negative"),
    "mean": ("threshold", "nk-rule", "p-percent", "negative"),
    "median": ("threshold", "zero"),
    "std": ("dof",),
}
"""The rules checked for each statistic (``missing`` is added for any value column)."""

MAX_CELLS = 1_000_000
"""A table with more cells than this is refused (it is a listing, not a table)."""

_SHOWN_CELLS = 8  # cells named per rule in a reason


class OutputCheckError(NislinkError, ValueError):
    """An output cannot be checked as asked (unknown column, non-numeric values, bad rules)."""


@dataclass(frozen=True)
class DisclosureRules:
    """The output checker's parameters. Defaults are ACRO 1.0.2's ``default.yaml``.

    ============================  =========  ====================================
    parameter                     default    ACRO ``default.yaml`` key
    ============================  =========  ====================================
    ``threshold``                 10         ``safe_threshold``
    ``dof_threshold``             10         ``safe_dof_threshold``
    ``nk_n``                      2          ``safe_nk_n``
    ``nk_k``                      0.9        ``safe_nk_k``
    ``p_percent``                 0.1        ``safe_pratio_p``
    ``zeros_are_disclosive``      True       ``zeros_are_disclosive``
    ``check_missing_values``      True       ``check_missing_values`` (ACRO: False)
    ============================  =========  ====================================
    """

    threshold: int = 10
    dof_threshold: int = 10
    nk_n: int = 2
    nk_k: float = 0.9
    p_percent: float = 0.1
    zeros_are_disclosive: bool = True
    check_missing_values: bool = True

    def __post_init__(self) -> None:
        for name in ("threshold", "dof_threshold", "nk_n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise OutputCheckError(f"DisclosureRules.{name} must be a whole number >= 1")
        for name, low, high in (("nk_k", 0.0, 1.0), ("p_percent", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                    or not (low < float(value) <= high):
                raise OutputCheckError(
                    f"DisclosureRules.{name} must be a fraction in ({low:g}, {high:g}]")
        for name in ("zeros_are_disclosive", "check_missing_values"):
            if not isinstance(getattr(self, name), bool):
                raise OutputCheckError(f"DisclosureRules.{name} must be True or False")

    @classmethod
    def from_acro(cls, config: Mapping[str, Any]) -> DisclosureRules:
        """Rules from an ACRO configuration (the keys of ACRO's ``default.yaml``).

        Keys this checker does not use (``survival_safe_threshold``, ``safe_round_base``,
        ...) are ignored; a missing key keeps ACRO's default, except
        ``check_missing_values``, whose ACRO default (``False``) is taken when absent.
        """
        names = {"safe_threshold": "threshold", "safe_dof_threshold": "dof_threshold",
                 "safe_nk_n": "nk_n", "safe_nk_k": "nk_k", "safe_pratio_p": "p_percent",
                 "zeros_are_disclosive": "zeros_are_disclosive",
                 "check_missing_values": "check_missing_values"}
        kwargs: dict[str, Any] = {"check_missing_values": False}
        for key, name in names.items():
            if key in config:
                kwargs[name] = config[key]
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for reports and audit)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_RULES = DisclosureRules()
"""ACRO's default parameters, with missing values checked."""


@dataclass(frozen=True)
class TableCheck:
    """A table and its disclosure verdicts, from :func:`check_table`.

    ``table`` is what would leave the environment (masked when ``suppress=True``);
    ``status`` is ``"pass"``, ``"review"`` or ``"fail"``; ``reasons`` name the rule and the
    cells behind every flag; ``outcome`` has the table's shape and says per cell ``"ok"``
    or the flagged rules (``"threshold; zero"``); ``flags`` holds one boolean table per
    rule checked; ``counts`` is the number of records per cell. ``counts`` and the
    unmasked statistic are for the checker's eyes: release ``table`` only.
    """

    table: pd.DataFrame
    status: str
    reasons: tuple[str, ...]
    outcome: pd.DataFrame
    flags: dict[str, pd.DataFrame]
    counts: pd.DataFrame
    aggfunc: str
    index: tuple[str, ...]
    columns: tuple[str, ...]
    values: str | None
    rules: DisclosureRules
    suppressed: tuple[tuple[Any, Any], ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def cell_status(self) -> pd.DataFrame:
        """``"ok"``, ``"review"`` or ``"fail"`` per cell."""
        fail = _any(self.flags, FAILING_RULES, self.outcome)
        review = _any(self.flags, REVIEW_RULES, self.outcome)
        out = pd.DataFrame("ok", index=self.outcome.index, columns=self.outcome.columns)
        out = out.mask(review, "review").mask(fail, "fail")
        return out

    def failing_cells(self) -> list[tuple[Any, Any]]:
        """(row label, column label) of every cell that is not ``ok``, row by row."""
        status = self.cell_status
        return [(r, c) for r in status.index for c in status.columns
                if status.at[r, c] != "ok"]

    def cells(self) -> pd.DataFrame:
        """One row per cell: its keys, records, statistic, status and flagged rules."""
        table = self.table.stack(list(range(self.table.columns.nlevels)), future_stack=True)
        counts = self.counts.stack(list(range(self.counts.columns.nlevels)), future_stack=True)
        status = self.cell_status.stack(list(range(self.counts.columns.nlevels)),
                                        future_stack=True)
        outcome = self.outcome.stack(list(range(self.counts.columns.nlevels)),
                                     future_stack=True)
        out = pd.DataFrame({"records": counts, self.aggfunc: table, "status": status,
                            "rules": outcome.replace("ok", "")})
        out = out.reset_index()
        if not self.columns:   # the one statistic column is not a key
            out = out.drop(columns=out.columns[len(self.index)])
        return out

    def __str__(self) -> str:
        what = self.aggfunc if self.values is None else f"{self.aggfunc} of {self.values}"
        by = " x ".join([", ".join(self.index)] + ([", ".join(self.columns)]
                                                  if self.columns else []))
        lines = [f"{what} by {by}: {self.status.upper()}"]
        lines += [f"  {r}" for r in self.reasons]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class RegressionCheck:
    """The verdict on a model's residual degrees of freedom, from :func:`check_regression`."""

    dof: int
    status: str
    reasons: tuple[str, ...]
    rules: DisclosureRules

    def __str__(self) -> str:
        return "\n".join([f"regression: {self.status.upper()}"] + [f"  {r}" for r in self.reasons])


# --------------------------------------------------------------------------- tables


def check_table(
    data: pd.DataFrame,
    index: str | Sequence[str],
    columns: str | Sequence[str] | None = None,
    values: str | None = None,
    aggfunc: str = "count",
    *,
    rules: DisclosureRules = DEFAULT_RULES,
    suppress: bool = False,
) -> TableCheck:
    """Tabulate ``data`` and check every cell before the table leaves the environment.

    ``index`` and ``columns`` name the grouping columns of the rows and the columns of the
    table (like ``pandas.crosstab``/``pivot_table``); every combination of their observed
    values is a cell (unused categories of a categorical column too, and a missing value
    is a category of its own). ``aggfunc`` is ``"count"`` (records per cell; with
    ``values``, the non-missing values), ``"sum"``, ``"mean"``, ``"median"`` or ``"std"`` of
    the numeric column ``values``. ``rules`` holds the thresholds (default ACRO's);
    ``suppress=True`` masks every cell that is not ``ok``.

    Raises :class:`OutputCheckError` naming the column (and row) at fault.
    """
    if not isinstance(data, pd.DataFrame):
        raise OutputCheckError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if not isinstance(rules, DisclosureRules):
        raise OutputCheckError("rules must be a DisclosureRules")
    index_cols = _names(index, "index")
    column_cols = _names(columns, "columns") if columns is not None else ()
    if not index_cols:
        raise OutputCheckError("index: give at least one column to group the rows by")
    if aggfunc not in AGGFUNCS:
        hint = (" (a minimum or maximum is one record's value: publish a banded count instead)"
                if aggfunc in ("min", "max") else "")
        raise OutputCheckError(
            f"aggfunc {aggfunc!r} is not checked; use one of {', '.join(AGGFUNCS)}{hint}")
    if values is None and aggfunc != "count":
        raise OutputCheckError(f"aggfunc {aggfunc!r} needs a values column")
    keys = index_cols + column_cols
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise OutputCheckError(f"column {dup[0]!r} is used twice in index/columns")
    wanted = list(keys) + ([values] if values is not None else [])
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        raise OutputCheckError(
            f"no column {', '.join(repr(m) for m in missing)} in the data "
            f"(columns: {', '.join(map(str, data.columns))})")
    if values is not None and values in keys:
        raise OutputCheckError(f"column {values!r} is both a grouping column and the values")
    if len(data) == 0:
        raise OutputCheckError("the data has no records")

    level_codes: list[np.ndarray] = []
    level_labels: list[list[Any]] = []
    for k in keys:
        codes, labels = _levels(data[k], k)
        level_codes.append(codes)
        level_labels.append(labels)
    shape = tuple(len(lab) for lab in level_labels)
    n_cells = math.prod(shape)
    if n_cells > MAX_CELLS:
        raise OutputCheckError(f"the table would have {n_cells:,} cells (more than "
                               f"{MAX_CELLS:,}): group by fewer or coarser columns")
    cell = np.ravel_multi_index(level_codes, shape) if len(keys) > 1 else level_codes[0]
    count = np.bincount(cell, minlength=n_cells).astype(np.int64)

    applied = RULES_BY_AGGFUNC[aggfunc]
    flat: dict[str, np.ndarray] = {}
    if values is None:
        stat = count.astype(np.int64)
        n_missing = np.zeros(n_cells, dtype=np.int64)
    else:
        v = _numeric(data[values], values)
        stats = _cell_stats(cell, v, n_cells, rules.nk_n)
        n_missing = count - stats["n"]
        if aggfunc == "count":
            stat = stats["n"].astype(np.int64)
        elif aggfunc == "sum":
            stat = np.where(count > 0, stats["sum"], np.nan)
        else:
            stat = stats[aggfunc]
        if "nk-rule" in applied:
            negative = stats["negative"] > 0
            has = stats["n"] > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                # The same arithmetic as ACRO (ratio, then compare), so that verdicts agree
                # at the boundaries: top-N share >= k, and remainder / largest < p.
                share = stats["top_n"] / stats["sum"]
                remainder = stats["sum"] - stats["top_2"]
                top1 = stats["max"]
                p_ratio = np.where(top1 == 0, remainder, remainder / np.where(top1 == 0, 1, top1))
            flat["nk-rule"] = has & ~negative & (np.nan_to_num(share, nan=0.0) >= rules.nk_k)
            flat["p-percent"] = has & ~negative & (np.nan_to_num(p_ratio, nan=1.0)
                                                   < rules.p_percent)
            flat["negative"] = negative
    if "threshold" in applied:
        flat["threshold"] = count < rules.threshold
    if "zero" in applied and rules.zeros_are_disclosive:
        flat["zero"] = count == 0
    if "dof" in applied:
        flat["dof"] = (count - 1) < rules.dof_threshold
    if values is not None and rules.check_missing_values:
        flat["missing"] = (n_missing > 0) | (count == 0)

    n_index = len(index_cols)
    row_index = _axis(level_labels[:n_index], list(index_cols))
    if column_cols:
        col_index = _axis(level_labels[n_index:], list(column_cols))
    else:
        col_index = pd.Index([values if values is not None else "count"])
    n_rows, n_cols = len(row_index), len(col_index)

    def frame(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(np.asarray(a).reshape(n_rows, n_cols), index=row_index,
                            columns=col_index)

    table = frame(stat)
    counts = frame(count)
    order = [r for r in FAILING_RULES + REVIEW_RULES if r in flat]
    flags = {r: frame(flat[r]) for r in order}
    text = np.full(n_cells, "", dtype=object)
    for r in order:
        text = np.where(flat[r], text + r + "; ", text)
    text = np.where(text == "", "ok", np.char.rstrip(text.astype(str), "; "))
    outcome = frame(text.astype(object))

    fail = np.zeros(n_cells, dtype=bool)
    review = np.zeros(n_cells, dtype=bool)
    for r in order:
        if r in FAILING_RULES:
            fail |= flat[r]
        else:
            review |= flat[r]
    status = "fail" if fail.any() else "review" if review.any() else "pass"
    reasons = [_reason(r, flags[r], rules, aggfunc, values) for r in order if flat[r].any()]
    notes = ["check the table against other released outputs for differencing "
             "(a total, or a table that differs by one category)"]

    suppressed: tuple[tuple[Any, Any], ...] = ()
    if suppress:
        bad = frame(fail | review)
        suppressed = tuple((r, c) for r in bad.index for c in bad.columns if bad.at[r, c])
        if aggfunc == "count" and values is None:
            table = table.astype("Int64").mask(bad)
        else:
            table = table.astype(float).mask(bad)
        if suppressed:
            status = "review"
            reasons.append(f"suppressed {len(suppressed)} of {n_cells} cells; a checker "
                           "confirms they cannot be recovered from other outputs")
    return TableCheck(table=table, status=status, reasons=tuple(reasons), outcome=outcome,
                      flags=flags, counts=counts, aggfunc=aggfunc, index=index_cols,
                      columns=column_cols, values=values, rules=rules,
                      suppressed=suppressed, notes=tuple(notes))


def _names(spec: str | Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(spec, str):
        return (spec,)
    if isinstance(spec, Sequence) and all(isinstance(s, str) for s in spec):
        return tuple(spec)
    raise OutputCheckError(f"{what} must be a column name or a list of column names")


def _levels(s: pd.Series, name: str) -> tuple[np.ndarray, list[Any]]:
    """Codes 0..L-1 per record and the L labels: sorted values (categories in their order),
    a missing value last as a category of its own."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        labels = list(s.cat.categories)
        codes = s.cat.codes.to_numpy().astype(np.int64)
    else:
        if s.dtype == object:
            kinds = {type(x) for x in s.dropna().unique()}
            if str in kinds and len(kinds) > 1:
                raise OutputCheckError(
                    f"column {name!r} mixes kinds of values (e.g. numbers and text): "
                    "convert it to one type first")
        try:
            codes, uniques = pd.factorize(s, sort=True)
        except TypeError:
            raise OutputCheckError(f"column {name!r} has values that cannot be ordered: "
                                   "convert it to one type first") from None
        codes = codes.astype(np.int64)
        labels = list(uniques)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(np.nan)
    return codes, labels


def _numeric(s: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype(float).to_numpy()
    v = pd.to_numeric(s, errors="coerce")
    bad = v.isna() & s.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise OutputCheckError(
            f"values column {name!r} is not numeric: row {s.index[pos]!r} "
            f"(position {pos}) is not a number")
    return v.astype(float).to_numpy()


def _cell_stats(cell: np.ndarray, v: np.ndarray, n_cells: int, nk_n: int) -> dict[str, np.ndarray]:
    """Per-cell statistics over the non-missing values: n, sum, mean, median, std (ddof 1),
    max, sum of the nk_n and of the 2 largest values, number of negative values."""
    ok = ~np.isnan(v)
    c, x = cell[ok], v[ok]
    n = np.bincount(c, minlength=n_cells)
    total = np.bincount(c, weights=x, minlength=n_cells)
    negative = np.bincount(c[x < 0], minlength=n_cells)
    # sort by cell, then value descending: rank within the cell gives the top values
    order = np.lexsort((-x, c))
    c_sorted, x_sorted = c[order], x[order]
    starts = np.concatenate(([0], np.cumsum(n)[:-1]))
    rank = np.arange(len(c_sorted)) - starts[c_sorted]
    top_n = np.bincount(c_sorted[rank < nk_n], weights=x_sorted[rank < nk_n], minlength=n_cells)
    top_2 = np.bincount(c_sorted[rank < 2], weights=x_sorted[rank < 2], minlength=n_cells)
    mx = np.full(n_cells, np.nan)
    first = rank == 0
    mx[c_sorted[first]] = x_sorted[first]
    grouped = pd.Series(x).groupby(c)
    median = grouped.median().reindex(range(n_cells)).to_numpy(dtype=float)
    std = grouped.std(ddof=1).reindex(range(n_cells)).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / np.where(n > 0, n, 1), np.nan)
    return {"n": n.astype(np.int64), "sum": total, "mean": mean, "median": median,
            "std": std, "max": mx, "top_n": top_n, "top_2": top_2, "negative": negative}


def _axis(labels: list[list[Any]], names: list[str]) -> pd.Index:
    if len(labels) == 1:
        return pd.Index(labels[0], name=names[0], dtype=object
                        if any(isinstance(x, float) and math.isnan(x) for x in labels[0])
                        else None)
    return pd.MultiIndex.from_product(labels, names=names)


def _label(row: Any, col: Any, check: pd.DataFrame) -> str:
    parts = []
    for names, key in ((check.index.names, row), (check.columns.names, col)):
        if names == [None]:          # the single statistic column of a one-way table
            continue
        key = key if isinstance(key, tuple) else (key,)
        parts += [f"{n}={_fmt(k)}" for n, k in zip(names, key)]
    return "(" + ", ".join(parts) + ")"


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT:
        return "missing"
    if isinstance(x, pd.Timestamp) and x == x.normalize():
        return x.date().isoformat()
    return str(x)


_RULE_TEXT = {
    "threshold": "{n} with fewer than {t} records",
    "zero": "{n} with no record (zeros are disclosive)",
    "nk-rule": "{n} where the {nk_n} largest values make up {k:.0%} or more of the total",
    "p-percent": "{n} where the total less the 2 largest values is under {p:.0%} of the "
                 "largest (the second largest could estimate the largest too well)",
    "dof": "{n} with fewer than {d} residual degrees of freedom (records - 1)",
    "negative": "{n} with negative values: dominance is not defined, review by hand",
    "missing": "{n} whose {values} has missing values, which the {agg} skips: review",
}


def _reason(rule: str, flag: pd.DataFrame, rules: DisclosureRules, agg: str,
            values: str | None) -> str:
    cells = [_label(r, c, flag) for r in flag.index for c in flag.columns if flag.at[r, c]]
    n = f"{len(cells)} cell" + ("s" if len(cells) != 1 else "")
    head = _RULE_TEXT[rule].format(n=n, t=rules.threshold, nk_n=rules.nk_n, k=rules.nk_k,
                                   p=rules.p_percent, d=rules.dof_threshold,
                                   values=values, agg=agg)
    shown = ", ".join(cells[:_SHOWN_CELLS])
    more = f" and {len(cells) - _SHOWN_CELLS} more" if len(cells) > _SHOWN_CELLS else ""
    return f"{rule}: {head}: {shown}{more}"


def _any(flags: dict[str, pd.DataFrame], names: Sequence[str], like: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(False, index=like.index, columns=like.columns)
    for name in names:
        if name in flags:
            out = out | flags[name]
    return out


# --------------------------------------------------------------------------- regressions


def check_regression(
    model: Any = None,
    *,
    n_obs: int | None = None,
    n_params: int | None = None,
    rules: DisclosureRules = DEFAULT_RULES,
) -> RegressionCheck:
    """Check a regression's residual degrees of freedom (ACRO's ``MinimumDoFCheck``).

    Give either a fitted model that has ``df_resid`` (a statsmodels model or results
    object; statsmodels is not needed by nislink itself), or ``n_obs`` observations and
    ``n_params`` estimated parameters (for ``numpy.linalg.lstsq``, the returned rank,
    counting the intercept column). The verdict is ``fail`` when ``n_obs - n_params`` (or
    ``df_resid``) is below ``rules.dof_threshold`` (default 10): with fewer residual degrees
    of freedom the fitted model comes close to a lookup table of its records.
    """
    if not isinstance(rules, DisclosureRules):
        raise OutputCheckError("rules must be a DisclosureRules")
    if model is not None:
        if n_obs is not None or n_params is not None:
            raise OutputCheckError("give a model or n_obs and n_params, not both")
        if not hasattr(model, "df_resid"):
            raise OutputCheckError(
                f"{type(model).__name__} has no df_resid: pass a fitted statsmodels model or "
                "results, or n_obs= and n_params=")
        raw = model.df_resid
        try:
            dof_f = float(raw)
        except (TypeError, ValueError):
            raise OutputCheckError("the model's df_resid is not a number") from None
        if not math.isfinite(dof_f):
            raise OutputCheckError("the model's df_resid is not a finite number")
        dof = int(dof_f)   # as ACRO: int(model.df_resid)
        source = "df_resid"
    else:
        for name, value in (("n_obs", n_obs), ("n_params", n_params)):
            if value is None:
                raise OutputCheckError(f"{name} is needed when no model is given")
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise OutputCheckError(f"{name} must be a whole number >= 0")
        assert n_obs is not None and n_params is not None
        dof = int(n_obs) - int(n_params)
        source = f"{int(n_obs)} observations - {int(n_params)} parameters"
    if dof < rules.dof_threshold:
        status = "fail"
        reasons = (f"dof: residual degrees of freedom {dof} ({source}) < "
                   f"{rules.dof_threshold}",)
    else:
        status = "pass"
        reasons = ()
    return RegressionCheck(dof=dof, status=status, reasons=reasons, rules=rules)

"""Disclosure risk of the research dataset itself: k-anonymity, generalisation, suppression.

The research dataset has no identifiers, but its **quasi-identifiers** — attributes that
someone could know about a family from elsewhere (the area, the month the family was
assessed, the family's size, which of the six problems it has) — can single a family out
in combination. A record is *k-anonymous* when at least ``k - 1`` other records share all
its quasi-identifier values (its **equivalence class** has at least ``k`` records);
Sweeney (2002), "k-anonymity: a model for protecting privacy".

* :func:`k_anonymity` summarises the risk: the smallest class, how many classes and
  records fall below ``k_min``.
* :func:`anonymise` reaches ``k >= k_min``: it generalises quasi-identifiers one level at a
  time along the given :class:`Hierarchy` (month -> quarter -> year, an exact count ->
  bands, an area code -> a group of areas; the last level of every hierarchy removes the
  attribute), always taking the step that leaves the fewest records in classes below
  ``k_min`` (a greedy search in the manner of Sweeney's Datafly, not an optimal one), until
  at most ``max_suppressed`` of the records remain at risk; then it suppresses those:
  drops the records (``suppress="records"``) or blanks their quasi-identifiers
  (``suppress="values"``). It reports every step.

A missing value is a value like any other here: records with a missing month form a class
together. The blank written by value suppression and by the last level of a hierarchy is
:data:`SUPPRESSED` (``"*"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nislink.nis.outputs import OutputCheckError

__all__ = [
    "DEFAULT_K_MIN",
    "SUPPRESSED",
    "Anonymised",
    "Hierarchy",
    "KAnonymityReport",
    "anonymise",
    "equivalence_class_sizes",
    "k_anonymity",
]

DEFAULT_K_MIN = 5
"""Default smallest equivalence class allowed in a research dataset."""

SUPPRESSED = "*"
"""The value that replaces a suppressed quasi-identifier."""

Level = Callable[[pd.Series], pd.Series]


# ------------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class KAnonymityReport:
    """Equivalence classes of a dataset over its quasi-identifiers.

    ``k`` is the size of the smallest class (0 for a dataset without records), counted in
    records, or in distinct ``unit`` values (families) when a unit column was given;
    ``classes_below`` and ``records_below`` count the classes smaller than ``k_min`` and
    the records in them.
    """

    quasi_identifiers: tuple[str, ...]
    k_min: int
    records: int
    classes: int
    k: int
    classes_below: int
    records_below: int
    unit: str | None = None

    @property
    def share_below(self) -> float:
        """Share of the records in classes smaller than ``k_min``."""
        return self.records_below / self.records if self.records else 0.0

    @property
    def ok(self) -> bool:
        """True when every class has at least ``k_min`` records."""
        return self.records_below == 0

    def __str__(self) -> str:
        units = f" {self.unit} values" if self.unit else ""
        return (f"{self.records:,} records in {self.classes:,} classes over "
                f"{', '.join(self.quasi_identifiers)}; smallest class {self.k}{units}; "
                f"{self.records_below:,} records ({self.share_below:.1%}) in "
                f"{self.classes_below:,} classes below k = {self.k_min}")


def _classes(data: pd.DataFrame, qis: Sequence[str], unit: str | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Class number of every record, and the size of every class (records or units)."""
    codes = [pd.factorize(data[c], use_na_sentinel=False)[0] for c in qis]
    if len(codes) == 1:
        key = codes[0].astype(np.int64)
    else:
        key = pd.factorize(pd.MultiIndex.from_arrays(codes))[0].astype(np.int64)
    if unit is None:
        return key, np.bincount(key)
    u = pd.factorize(data[unit], use_na_sentinel=False)[0].astype(np.int64)
    pairs = np.unique(key * (int(u.max()) + 1) + u)
    return key, np.bincount(pairs // (int(u.max()) + 1), minlength=int(key.max()) + 1)


def equivalence_class_sizes(data: pd.DataFrame, quasi_identifiers: Sequence[str],
                            unit: str | None = None) -> pd.Series:
    """For every record, the size of its class: the records (or, with ``unit``, the
    distinct values of the ``unit`` column, e.g. families) sharing all its
    quasi-identifier values."""
    qis = _check_columns(data, quasi_identifiers, unit)
    if len(data) == 0:
        return pd.Series([], index=data.index, dtype=np.int64)
    key, sizes = _classes(data, qis, unit)
    return pd.Series(sizes[key], index=data.index, dtype=np.int64)


def k_anonymity(data: pd.DataFrame, quasi_identifiers: Sequence[str],
                k_min: int = DEFAULT_K_MIN, *, unit: str | None = None) -> KAnonymityReport:
    """The k-anonymity of ``data`` over ``quasi_identifiers``, measured against ``k_min``.

    ``unit`` names the column of the unit to protect when several records belong to one
    unit: in a person-level table of families, the members of one family share its area,
    size and problems, so five records in a class may be one family; with
    ``unit="research_family_id"`` classes are counted in families.
    """
    _check_k(k_min)
    qis = _check_columns(data, quasi_identifiers, unit)
    if len(data) == 0:
        return KAnonymityReport(qis, k_min, 0, 0, 0, 0, 0, unit)
    key, sizes = _classes(data, qis, unit)
    below = sizes < k_min
    return KAnonymityReport(qis, k_min, len(data), len(sizes), int(sizes.min()),
                            int(below.sum()), int(below[key].sum()), unit)


# ----------------------------------------------------------------------- hierarchies


@dataclass(frozen=True)
class Hierarchy:
    """Generalisation levels of one quasi-identifier, from the finest to the coarsest.

    Level 0 is the column as it is; level ``i`` is ``functions[i - 1]`` applied to the
    *original* column, and is called ``names[i - 1]``. The constructors below end with the
    level ``"suppressed"``, which replaces every value with :data:`SUPPRESSED`.
    """

    names: tuple[str, ...]
    functions: tuple[Level, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.functions) or not self.names:
            raise OutputCheckError("a Hierarchy needs one name per level and at least one level")

    @property
    def height(self) -> int:
        """Number of generalisation levels above the original values."""
        return len(self.names)

    def name(self, level: int) -> str:
        """The name of ``level`` (0: ``"as is"``)."""
        return "as is" if level == 0 else self.names[level - 1]

    def apply(self, values: pd.Series, level: int) -> pd.Series:
        """``values`` generalised to ``level`` (missing values stay missing below the top)."""
        if level == 0:
            return values
        out = self.functions[level - 1](values)
        return pd.Series(out, index=values.index, name=values.name)

    # -- constructors

    @classmethod
    def dates(cls, start: str = "month") -> Hierarchy:
        """Dates: (day ->) month -> quarter -> year -> suppressed.

        The column holds dates (``datetime64``, ``date`` objects) or ISO text
        (``"2021-03-14"``, or ``"2021-03"`` as in the research dataset, where dates are
        coarsened to the month). ``start="day"`` adds the month as the first level.
        """
        if start not in ("day", "month"):
            raise OutputCheckError("Hierarchy.dates: start must be 'day' or 'month'")
        names: list[str] = ["month"] if start == "day" else []
        funcs: list[Level] = [_month] if start == "day" else []
        names += ["quarter", "year", "suppressed"]
        funcs += [_quarter, _year, _suppress]
        return cls(tuple(names), tuple(funcs))

    @classmethod
    def bands(cls, *bandings: Sequence[float]) -> Hierarchy:
        """Numbers -> bands -> coarser bands -> suppressed.

        Each banding is the ascending list of its bands' lower bounds; the last band is
        open (``"5+"``), values below the first bound form ``"<1"``. For whole numbers a band
        is labelled by its range (``"3-4"``). ``bands([1, 2, 3, 4, 5], [1, 3, 5])`` makes
        ``1, 2, 3, 4, 5+`` then ``1-2, 3-4, 5+``.
        """
        if not bandings:
            raise OutputCheckError("Hierarchy.bands: give at least one banding")
        funcs: list[Level] = []
        names: list[str] = []
        for edges in bandings:
            e = [float(x) for x in edges]
            if not e or any(b <= a for a, b in zip(e, e[1:])):
                raise OutputCheckError("Hierarchy.bands: each banding is a non-empty list of "
                                       "ascending lower bounds")
            funcs.append(lambda s, e=e: _band(s, e))
            names.append("bands " + ", ".join(_num(x) for x in e))
        return cls(tuple(names) + ("suppressed",), tuple(funcs) + (_suppress,))

    @classmethod
    def prefixes(cls, *lengths: int) -> Hierarchy:
        """Codes -> their first characters -> fewer -> suppressed (``"330"`` -> ``"3*"``)."""
        if not lengths or any(not isinstance(n, int) or n < 1 for n in lengths) or \
                any(b >= a for a, b in zip(lengths, lengths[1:])):
            raise OutputCheckError("Hierarchy.prefixes: give descending lengths >= 1")
        funcs: list[Level] = [lambda s, n=n: _prefix(s, n) for n in lengths]
        names = tuple(f"first {n}" for n in lengths)
        return cls(names + ("suppressed",), tuple(funcs) + (_suppress,))

    @classmethod
    def groups(cls, *mappings: Mapping[object, object], names: Sequence[str] = ()) -> Hierarchy:
        """Values -> groups -> groups of groups -> suppressed.

        The first mapping maps the original values, each later one maps the groups of the
        level before. ``names`` names the levels (default ``"groups 1"``, ...).
        """
        if not mappings:
            raise OutputCheckError("Hierarchy.groups: give at least one mapping")
        level_names = list(names) or [f"groups {i + 1}" for i in range(len(mappings))]
        if len(level_names) != len(mappings):
            raise OutputCheckError("Hierarchy.groups: one name per mapping")
        funcs: list[Level] = [lambda s, i=i: _map_chain(s, mappings[: i + 1])
                              for i in range(len(mappings))]
        return cls(tuple(level_names) + ("suppressed",), tuple(funcs) + (_suppress,))

    @classmethod
    def suppress_only(cls) -> Hierarchy:
        """No intermediate level: the value, or nothing (for flags and short codes)."""
        return cls(("suppressed",), (_suppress,))


def _dates(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    text = s.astype("string")
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    bad = parsed.isna() & s.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise OutputCheckError(f"column {s.name!r}: row {s.index[pos]!r} is not a date "
                               "(YYYY-MM-DD or YYYY-MM)")
    return parsed


def _month(s: pd.Series) -> pd.Series:
    d = _dates(s)
    return d.dt.strftime("%Y-%m").astype(object).where(d.notna(), None)


def _year(s: pd.Series) -> pd.Series:
    d = _dates(s)
    return d.dt.strftime("%Y").astype(object).where(d.notna(), None)


def _quarter(s: pd.Series) -> pd.Series:
    d = _dates(s)
    out = d.dt.year.astype("Int64").astype("string") + "-Q" + d.dt.quarter.astype(
        "Int64").astype("string")
    return out.astype(object).where(d.notna(), None)


def _suppress(s: pd.Series) -> pd.Series:
    return pd.Series(SUPPRESSED, index=s.index, dtype=object)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _band(s: pd.Series, edges: list[float]) -> pd.Series:
    v = pd.to_numeric(s, errors="coerce")
    bad = v.isna() & s.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise OutputCheckError(f"column {s.name!r}: row {s.index[pos]!r} is not a number")
    whole = bool(((v.dropna() % 1) == 0).all())
    labels = []
    for i, lo in enumerate(edges):
        if i + 1 == len(edges):
            labels.append(f"{_num(lo)}+")
        else:
            hi = edges[i + 1]
            if whole and float(lo).is_integer() and float(hi).is_integer():
                labels.append(_num(lo) if hi - lo == 1 else f"{_num(lo)}-{_num(hi - 1)}")
            else:
                labels.append(f"{_num(lo)} to <{_num(hi)}")
    idx = np.searchsorted(np.asarray(edges), v.to_numpy(dtype=float), side="right") - 1
    out = np.where(idx < 0, f"<{_num(edges[0])}",
                   np.asarray(labels, dtype=object)[np.clip(idx, 0, len(labels) - 1)])
    return pd.Series(out, index=s.index, dtype=object).where(v.notna(), None)


def _prefix(s: pd.Series, n: int) -> pd.Series:
    text = s.astype("string")
    return (text.str.slice(0, n) + SUPPRESSED).astype(object).where(s.notna(), None)


def _map_chain(s: pd.Series, mappings: Sequence[Mapping[object, object]]) -> pd.Series:
    out = s
    for i, m in enumerate(mappings):
        mapped = out.map(m)
        unmapped = out.notna() & mapped.isna()
        if unmapped.any():
            shown = ", ".join(repr(x) for x in list(dict.fromkeys(out[unmapped]))[:3])
            raise OutputCheckError(f"column {s.name!r}: no group in level {i + 1} of its "
                                   f"hierarchy for {int(unmapped.sum())} values ({shown})")
        out = mapped
    return out.astype(object).where(out.notna(), None)


# ------------------------------------------------------------------------ anonymising


@dataclass(frozen=True)
class Anonymised:
    """What :func:`anonymise` produced, and what it did to get there."""

    data: pd.DataFrame
    before: KAnonymityReport
    after: KAnonymityReport
    levels: dict[str, str]
    steps: tuple[str, ...]
    suppressed_records: int
    suppress: str

    def __str__(self) -> str:
        lines = [f"before: {self.before}"]
        lines += [f"  {s}" for s in self.steps]
        lines.append(f"after:  {self.after}")
        return "\n".join(lines)


def anonymise(
    data: pd.DataFrame,
    hierarchies: Mapping[str, Hierarchy | None],
    k_min: int = DEFAULT_K_MIN,
    *,
    max_suppressed: float = 0.05,
    suppress: str = "records",
    unit: str | None = None,
) -> Anonymised:
    """Generalise and suppress quasi-identifiers until every class has ``k_min`` records.

    ``hierarchies`` maps each quasi-identifier column to its :class:`Hierarchy` (``None``:
    the column cannot be generalised, only suppressed). Generalisation stops once at most
    ``max_suppressed`` of the records are in classes below ``k_min`` (or nothing is left
    to generalise); the records still at risk are then dropped (``suppress="records"``)
    or have every quasi-identifier blanked (``suppress="values"``; if the blanked records
    are fewer than ``k_min``, the smallest other classes are blanked with them until the
    blank class reaches ``k_min``). ``unit`` counts classes in distinct values of that
    column (families), as in :func:`k_anonymity`. Other columns are returned unchanged.

    A hierarchy's last level (``"suppressed"``) removes the attribute; it is taken only
    when no other quasi-identifier has an intermediate level left.
    """
    if not isinstance(data, pd.DataFrame):
        raise OutputCheckError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    _check_k(k_min)
    if not isinstance(hierarchies, Mapping) or not hierarchies:
        raise OutputCheckError("hierarchies: map each quasi-identifier column to a Hierarchy "
                               "(or None)")
    qis = _check_columns(data, list(hierarchies), unit)
    for col, h in hierarchies.items():
        if h is not None and not isinstance(h, Hierarchy):
            raise OutputCheckError(f"hierarchy of {col!r} must be a Hierarchy or None")
    if isinstance(max_suppressed, bool) or not isinstance(max_suppressed, (int, float)) \
            or not 0.0 <= float(max_suppressed) < 1.0:
        raise OutputCheckError("max_suppressed must be a share in [0, 1)")
    if suppress not in ("records", "values"):
        raise OutputCheckError("suppress must be 'records' or 'values'")
    if len(data) < k_min:
        raise OutputCheckError(f"the data has {len(data)} records, fewer than k_min = {k_min}: "
                               "no release can be k-anonymous")

    before = k_anonymity(data, qis, k_min, unit=unit)
    n = len(data)
    limit = math.floor(float(max_suppressed) * n)
    level = {c: 0 for c in qis}
    current = pd.DataFrame({c: data[c] for c in qis}, index=data.index)
    cache: dict[tuple[str, int], pd.Series] = {}
    steps: list[str] = []

    def generalised(col: str, lv: int) -> pd.Series:
        if (col, lv) not in cache:
            h = hierarchies[col]
            assert h is not None
            cache[(col, lv)] = h.apply(data[col], lv)
        return cache[(col, lv)]

    def at_risk(frame: pd.DataFrame) -> int:
        key, sizes = _classes(frame.assign(**({unit: data[unit]} if unit else {})), qis, unit)
        return int((sizes < k_min)[key].sum())

    for col in qis:      # a hierarchy that does not fit its column fails now, not later
        if hierarchies[col] is not None:
            generalised(col, 1)
    risk = at_risk(current)
    while risk > limit:
        best: tuple[int, int, int, str] | None = None
        open_cols = [c for c in qis if hierarchies[c] is not None
                     and level[c] < hierarchies[c].height]          # type: ignore[union-attr]
        intermediate = [c for c in open_cols
                        if level[c] + 1 < hierarchies[c].height]    # type: ignore[union-attr]
        for order, col in enumerate(qis):
            if col not in (intermediate or open_cols):
                continue
            trial = current.copy()
            trial[col] = generalised(col, level[col] + 1)
            r = at_risk(trial)
            # fewest records at risk; then the column with the most distinct values now
            # (Datafly's choice); then the column order given
            rank = (r, -int(current[col].nunique(dropna=False)), order, col)
            if best is None or rank < best:
                best = rank
        if best is None:
            break
        r, _, _, col = best
        h = hierarchies[col]
        assert h is not None
        old = h.name(level[col])
        level[col] += 1
        current[col] = generalised(col, level[col])
        steps.append(f"generalised {col}: {old} -> {h.name(level[col])} (records in classes "
                     f"below {k_min}: {risk:,} -> {r:,})")
        risk = r

    out = data.copy()
    for col in qis:
        out[col] = current[col]
    sizes = equivalence_class_sizes(out, qis, unit)
    mask = (sizes < k_min).to_numpy()
    suppressed = 0
    if mask.any():
        if suppress == "records":
            suppressed = int(mask.sum())
            out = out.loc[~mask]
            steps.append(f"suppressed {suppressed:,} records ({suppressed / n:.1%}) still in "
                         f"classes below {k_min}")
        else:
            blank = mask.copy()

            def blank_size() -> int:
                return int(out.loc[blank, unit].nunique(dropna=False)) if unit \
                    else int(blank.sum())

            if blank_size() < k_min:
                # blank whole classes, smallest first, until the blank class is big enough
                order = np.argsort(sizes.to_numpy(), kind="stable")
                keys, _ = _classes(out, qis, None)
                for i in order:
                    if blank_size() >= k_min:
                        break
                    if not blank[i]:
                        blank |= keys == keys[i]
            extra = int(blank.sum() - mask.sum())
            for col in qis:
                out[col] = out[col].astype(object)
                out.loc[blank, col] = SUPPRESSED
            suppressed = int(blank.sum())
            steps.append(f"blanked the quasi-identifiers of {suppressed:,} records "
                         f"({suppressed / n:.1%}): {int(mask.sum()):,} in classes below "
                         f"{k_min}" + (f", {extra:,} more so that the blank class has "
                                      f"{k_min}" if extra else ""))
    after = k_anonymity(out, qis, k_min, unit=unit)
    levels = {c: (hierarchies[c].name(level[c]) if hierarchies[c] is not None else "as is")
              for c in qis}
    return Anonymised(data=out, before=before, after=after, levels=levels, steps=tuple(steps),
                      suppressed_records=suppressed, suppress=suppress)


def _check_k(k_min: int) -> None:
    if isinstance(k_min, bool) or not isinstance(k_min, (int, np.integer)) or k_min < 1:
        raise OutputCheckError("k_min must be a whole number >= 1")


def _check_columns(data: pd.DataFrame, columns: Sequence[str],
                   unit: str | None = None) -> tuple[str, ...]:
    if not isinstance(data, pd.DataFrame):
        raise OutputCheckError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if isinstance(columns, str):
        columns = [columns]
    cols = tuple(columns)
    if not cols:
        raise OutputCheckError("give at least one quasi-identifier column")
    if unit is not None and unit in cols:
        raise OutputCheckError(f"the unit column {unit!r} cannot be a quasi-identifier")
    missing = [c for c in cols + ((unit,) if unit is not None else ()) if c not in data.columns]
    if missing:
        raise OutputCheckError(
            f"no column {', '.join(repr(m) for m in missing)} in the data "
            f"(columns: {', '.join(map(str, data.columns))})")
    if len(set(cols)) != len(cols):
        raise OutputCheckError("a quasi-identifier column is named twice")
    return cols

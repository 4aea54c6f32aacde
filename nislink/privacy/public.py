"""Public knowledge an attacker is assumed to hold: value frequencies of names and dates.

The linkage unit never has the secret, but it can know how common each forename and
surname is (ONS publishes name statistics) and how dates of birth are distributed. An
attack simulation is only as honest as this assumption, so it is explicit:
:class:`PublicKnowledge` wraps a *reference sample* of clean identifiers (a separate sample
of the population, or a synthetic one drawn from the frequency tables shipped with
:mod:`nislink.synth`) and derives frequency tables from it on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nislink.clean import names
from nislink.encode.tokens import component_value
from nislink.schema import FieldSpec, Schema
from nislink.synth import (
    COHORTS,
    cohort_of_year,
    forename_table,
    generate_population,
    surname_table,
)

__all__ = ["PublicKnowledge", "PublicTable", "normalise_values", "SALT_SEP"]

SALT_SEP = "\x1f"
"""Separator between a value and its salt in joint (value, salt) keys."""

#: Seed of the default public reference sample (never the seed of a test population).
PUBLIC_SEED = 97_531


def normalise_values(values: Any, kind: str) -> np.ndarray:
    """Normalise raw values as the encoder's cleaning does (names lower-case, dates ISO).

    Returns an object array of ``str`` with ``None`` where the value is missing or invalid.
    """
    s = pd.Series(values, dtype=object)
    if kind in ("forename", "surname", "fullname", "text"):
        uniq = pd.unique(s.dropna())
        table = {}
        for u in uniq:
            try:
                table[u] = names.name(u)
            except Exception:  # noqa: BLE001 - bad value: treated as missing
                table[u] = None
        return _none_for_missing(s.map(table))
    if kind == "dob":
        d = pd.to_datetime(s, errors="coerce")
        return _none_for_missing(d.dt.strftime("%Y-%m-%d"))
    return _none_for_missing(s.map(_stripped_text))


def _stripped_text(v: Any) -> str | None:
    """``str(v).strip()``, ``None`` when missing (None, NaN, NA, NaT) or blank."""
    if v is None or v is pd.NA:
        return None
    try:
        if v != v:  # NaN, NaT
            return None
    except (TypeError, ValueError):  # pragma: no cover - a value without a plain !=
        pass
    return str(v).strip() or None


def _none_for_missing(values: pd.Series) -> np.ndarray:
    """A writable object array with ``None`` for every missing value.

    pandas 3 infers its ``str`` dtype from mapped text and marks missing values NaN.
    """
    out = np.array(values, dtype=object)
    out[pd.isna(out)] = None
    return out


def _salt_values(
    schema: Schema, spec: FieldSpec, frame: dict[str, np.ndarray]
) -> np.ndarray | None:
    """The salt component's value per row (``None`` where missing), or ``None`` if unsalted."""
    if spec.hardening.salt is None:
        return None

    fname, modifier = schema.resolve_component(spec.hardening.salt)
    kind = schema.field(fname).kind
    vals = frame.get(fname)
    if vals is None:
        raise KeyError(f"public knowledge has no column for salt field {fname!r}")
    cache: dict[Any, Any] = {}
    out = np.empty(len(vals), dtype=object)
    for i, v in enumerate(vals.tolist()):
        if v not in cache:
            cache[v] = component_value(kind, modifier, v) if v is not None else None
        out[i] = cache[v]
    return out


def joint_keys(values: np.ndarray, salts: np.ndarray | None) -> np.ndarray:
    """``value`` or ``value + SALT_SEP + salt`` per row (``None`` when either is missing)."""
    if salts is None:
        return values
    out = np.empty(len(values), dtype=object)
    for i, (v, s) in enumerate(zip(values.tolist(), salts.tolist())):
        out[i] = None if v is None or s is None else f"{v}{SALT_SEP}{s}"
    return out


def plain_value(key: str | None) -> str | None:
    """The value part of a (possibly joint) key."""
    if key is None:
        return None
    return key.split(SALT_SEP, 1)[0]


@dataclass
class PublicTable:
    """Distinct public values (or ``value SALT_SEP salt`` keys) with relative frequencies,
    most frequent first."""

    values: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    def top(self, n: int) -> "PublicTable":
        """The ``n`` most frequent entries."""
        return PublicTable(self.values[:n], self.weights[:n])


@dataclass
class PublicKnowledge:
    """A reference sample of clean identifiers standing for public frequency statistics.

    ``columns`` maps a field *kind* (``forename``, ``surname``, ``dob``, ...) to normalised
    values. Build with :meth:`from_frame` (a DataFrame of raw identifiers, e.g. a separate
    sample of the population) or :meth:`synthetic` (drawn from the frequency tables shipped
    with :mod:`nislink.synth`).
    """

    columns: dict[str, np.ndarray]
    source: str = "sample"
    exact: dict[Any, PublicTable] = field(default_factory=dict, repr=False)
    """Tables known exactly (not estimated from the sample), keyed like the cache:
    ``(kind, salt or None)``."""
    forename_cohorts: pd.DataFrame | None = field(default=None, repr=False)
    """Forename shares by birth year and sex when known exactly (columns ``name``, ``year``,
    ``sex``, ``p``: joint probability); see :meth:`forename_by_year_sex`."""
    _cache: dict[Any, PublicTable] = field(default_factory=dict, repr=False)
    _lazy: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, columns: dict[str, str] | None = None,
                   source: str = "sample") -> "PublicKnowledge":
        """From raw identifiers; ``columns`` maps kind -> column (default: same name)."""
        columns = columns or {k: k for k in ("forename", "surname", "dob", "sex")
                              if k in df.columns}
        return cls({kind: normalise_values(df[col].to_numpy(object), kind)
                    for kind, col in columns.items()}, source=source)

    @classmethod
    def synthetic(cls, n: int = 200_000, seed: int = PUBLIC_SEED) -> "PublicKnowledge":
        """A synthetic reference sample of ``n`` people drawn from the shipped ONS-based
        name and age tables (``nislink.synth``), with its own seed."""

        people = generate_population(n, seed).people
        return cls.from_frame(people, source=f"synthetic reference sample of {n} people "
                                             f"(nislink.synth tables, seed {seed})")

    @classmethod
    def from_synth_tables(cls, n: int = 50_000, seed: int = PUBLIC_SEED) -> "PublicKnowledge":
        """The shipped ONS-based frequency tables themselves as public knowledge.

        Forename shares are the tables' probabilities mixed over birth cohort and sex (the
        mix, and every other column, taken from a synthetic reference sample of ``n``
        people); surname shares are the surname table's. Tables joint with a ``dob_year``
        salt are computed the same way (forenames per birth year; surnames independent of
        the year). This is the strongest frequency knowledge the synthetic world allows.
        """

        people = generate_population(n, seed).people
        pk = cls.from_frame(people, source=f"nislink.synth frequency tables (cohort/sex mix "
                                           f"from {n} synthetic people, seed {seed})")
        years = pd.to_datetime(people["dob"]).dt.year.to_numpy()
        sexes = people["sex"].astype(str).to_numpy()
        ys = pd.DataFrame({"y": years, "s": sexes}).value_counts(normalize=True)

        def norm_table(names: tuple[str, ...], probs: np.ndarray) -> pd.Series:
            keys = normalise_values(np.asarray(names, dtype=object), "forename")
            return pd.Series(probs, index=keys).groupby(level=0).sum()

        tables = {(c, sx): norm_table(forename_table(c, sx).names, forename_table(c, sx).probs)
                  for c in range(len(COHORTS)) for sx in ("M", "F")}
        parts = []
        for (y, sx), share in ys.items():
            if sx not in ("M", "F"):
                continue
            c = int(cohort_of_year(np.array([y]))[0])
            t = tables[(c, sx)] * share
            parts.append(pd.DataFrame({"name": t.index, "y": str(y), "p": t.to_numpy()}))
        fy = pd.concat(parts, ignore_index=True).groupby(["name", "y"], sort=False)["p"].sum()
        fore = fy.groupby(level=0).sum()
        names_y = fy.index.get_level_values(0).to_numpy(object)
        ys_y = fy.index.get_level_values(1).to_numpy(object)
        joint = pd.Series(fy.to_numpy(), index=names_y + SALT_SEP + ys_y)
        st = surname_table()
        sur = norm_table(st.names, st.probs)
        y_share = pd.Series(years).value_counts(normalize=True)
        sv = sur.index.to_numpy(object)
        yv = y_share.index.astype(str).to_numpy(object)

        def sur_joint() -> pd.Series:
            jp = np.outer(sur.to_numpy(), y_share.to_numpy()).ravel()
            jk = (sv[:, None] + SALT_SEP + yv[None, :]).ravel()
            return pd.Series(jp, index=jk)

        def to_table(ser: pd.Series) -> PublicTable:
            df = pd.DataFrame({"v": ser.index.astype(str), "c": ser.to_numpy()})
            df = df.sort_values(["c", "v"], ascending=[False, True], kind="mergesort")
            return PublicTable(df["v"].to_numpy(object), df["c"].to_numpy(float) / df["c"].sum())

        pk.exact = {("forename", None): to_table(fore), ("surname", None): to_table(sur)}
        fys = []
        for (y, sx), share in ys.items():
            if sx in ("M", "F"):
                t = tables[(int(cohort_of_year(np.array([y]))[0]), sx)] * share
                fys.append(pd.DataFrame({"name": t.index.to_numpy(object), "year": int(y),
                                         "sex": sx, "p": t.to_numpy(float)}))
        pk.forename_cohorts = pd.concat(fys, ignore_index=True)
        pk._lazy = {("forename", "dob_year"): lambda: to_table(joint),
                    ("surname", "dob_year"): lambda: to_table(sur_joint())}
        return pk

    def forename_by_year_sex(self) -> pd.DataFrame | None:
        """Forename shares by birth year and sex: a DataFrame with columns ``name``,
        ``year`` (int), ``sex`` (``M``/``F``) and ``p`` (joint probability, summing to 1).

        Exact when built by :meth:`from_synth_tables` (the published cohort-by-sex tables
        mixed with the age and sex distribution); otherwise estimated from the reference
        sample (needs ``forename``, ``dob`` and ``sex`` columns), else ``None``.
        """
        if self.forename_cohorts is not None:
            return self.forename_cohorts
        if not all(k in self.columns for k in ("forename", "dob", "sex")):
            return None
        years = pd.to_datetime(pd.Series(self.columns["dob"], dtype=object),
                               errors="coerce").dt.year
        df = pd.DataFrame({"name": self.columns["forename"], "year": years,
                           "sex": pd.Series(self.columns["sex"], dtype=object)})
        df = df.dropna()
        df = df[df["sex"].isin(["M", "F"])]
        if not len(df):
            return None
        out = df.value_counts(["name", "year", "sex"], normalize=True).rename("p").reset_index()
        out["year"] = out["year"].astype(int)
        self.forename_cohorts = out
        return out

    def year_shares(self) -> pd.Series | None:
        """Share of people by birth year (the public age distribution), or ``None``."""
        if "dob" not in self.columns:
            return None
        y = pd.to_datetime(pd.Series(self.columns["dob"], dtype=object), errors="coerce").dt.year
        y = y.dropna().astype(int)
        return y.value_counts(normalize=True).sort_index() if len(y) else None

    def has(self, kind: str) -> bool:
        """True when frequencies for this field kind are known."""
        return kind in self.columns

    def keys_for(self, schema: Schema | None, spec: FieldSpec) -> np.ndarray:
        """Per-row public keys for a field: values, or (value, salt) pairs when salted."""
        vals = self.columns[spec.kind]
        if schema is None or spec.hardening.salt is None:
            return vals
        frame = {f.name: self.columns[f.kind] for f in schema.fields if f.kind in self.columns}
        return joint_keys(vals, _salt_values(schema, spec, frame))

    def table(self, spec: FieldSpec, schema: Schema | None = None,
              salted: bool = True) -> PublicTable:
        """Frequency table for a field (joint with its salt when ``salted`` and the field is
        salted: an attacker who knows the schema knows the salt component)."""
        use_salt = salted and schema is not None and spec.hardening.salt is not None
        key = (spec.kind, spec.hardening.salt if use_salt else None)
        if key not in self.exact and key in self._lazy:
            self.exact[key] = self._lazy.pop(key)()
        if key in self.exact:
            return self.exact[key]
        if key not in self._cache:
            keys = self.keys_for(schema if use_salt else None, spec)
            s = pd.Series(keys, dtype=object).dropna()
            vc = s.value_counts()
            # deterministic order: count desc, then value
            df = pd.DataFrame({"v": vc.index.astype(str), "c": vc.to_numpy()})
            df = df.sort_values(["c", "v"], ascending=[False, True], kind="mergesort")
            self._cache[key] = PublicTable(df["v"].to_numpy(object),
                                           df["c"].to_numpy(float) / max(1, len(s)))
        return self._cache[key]


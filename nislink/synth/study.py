"""A whole synthetic study: the LA submission, DWP/MoJ/DfE extracts and the truth tables.

``generate_study(n_people, seed)`` returns a :class:`Study` of pandas DataFrames;
``write_study`` writes them as CSV and/or Parquet, byte for byte the same for the same
seed; ``main_synth`` does both for the ``nislink synth`` command.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from nislink.synth._data import forename_table, cohort_of_year, surname_table
from nislink.synth.config import ErrorRates, SourceProfile, SynthConfig
from nislink.synth.errors import corrupt
from nislink.synth.population import SCHOOL_AGE, Population, generate_population
from nislink.synth.programme import PROBLEMS, generate_programme

__all__ = ["Study", "generate_study", "generate_waves", "write_study", "main_synth", "EXTRACTS",
           "TRUTH_TABLES"]

#: Names of the identifier extracts, in the order they are written.
EXTRACTS: tuple[str, ...] = ("la", "dwp", "moj", "dfe")
#: Names of the ground-truth tables.
TRUTH_TABLES: tuple[str, ...] = (
    "truth_la", "truth_dwp", "truth_moj", "truth_dfe", "truth_people", "truth_errors",
)

_DOB_FORMATS: dict[str, tuple[tuple[str, float], ...]] = {
    "la": (("%d/%m/%Y", 0.7), ("%Y-%m-%d", 0.1), ("%d-%b-%Y", 0.1), ("%d.%m.%Y", 0.1)),
    "dwp": (("%Y-%m-%d", 0.9), ("%Y%m%d", 0.1)),
    "moj": (("%d/%m/%Y", 0.6), ("%d.%m.%Y", 0.2), ("%d %B %Y", 0.1), ("%d-%b-%Y", 0.1)),
    "dfe": (("%Y-%m-%d", 0.95), ("%d/%m/%Y", 0.05)),
}
_NAME_CASE = {"la": (0.6, 0.3, 0.1), "dwp": (0.05, 0.95, 0.0), "moj": (0.2, 0.8, 0.0),
              "dfe": (0.9, 0.1, 0.0)}  # (Title, UPPER, lower)
_PC_STYLE = {"la": (0.6, 0.3, 0.1), "dwp": (1.0, 0.0, 0.0), "moj": (0.7, 0.2, 0.1),
             "dfe": (0.9, 0.1, 0.0)}  # (standard, no space, lower case)
_SEX_STYLE = {"la": (("Male", "Female"), 0.7, ("M", "F")), "dwp": (("M", "F"), 1.0, ("M", "F")),
              "moj": (("M", "F"), 0.8, ("Male", "Female")), "dfe": (("M", "F"), 0.9, ("1", "2"))}
_NINO_STYLE = {"la": (0.5, 0.4, 0.1), "dwp": (1.0, 0.0, 0.0), "moj": (0.6, 0.4, 0.0)}
_PAD = 0.02  # share of name values with stray surrounding spaces
_REC_COLUMNS = ("forename", "middle_name", "surname", "birth_surname", "double_barrelled",
                "extra_surname", "mohammed_prefix", "dob", "sex", "postcode", "old_postcode")
#: ErrorRates fields kept in the LA's second pass that records UPNs (all others are 0).
_ID_RATES = ("id_missing", "id_typo", "duplicate")


@dataclass
class Study:
    """The generated extracts (identifiers as messy strings) and their ground truth.

    ``extracts`` maps ``la``, ``dwp``, ``moj``, ``dfe`` to DataFrames; ``truth`` maps
    ``truth_la`` ... ``truth_dfe`` (record id -> true ``person_id`` and ``family_id``),
    ``truth_people`` (clean true identifiers of every generated person) and
    ``truth_errors`` (source, record id, field, error kind) to DataFrames. Identifier
    columns never contain truth ids.
    """

    extracts: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    population: Population
    config: SynthConfig
    seed: int
    programme: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    wave: int = 0
    """Wave number (1, 2, ...) of a study drawn by :func:`generate_waves`; 0 otherwise."""
    progress: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    """Six-monthly progress records of the LA's supported families (waves only, see
    :func:`generate_waves`): ``la_family_id``, ``period_start``, ``period_end``,
    ``homelessness``, ``debt``, ``asb_incidents``, ``domestic_abuse_incidents``."""

    @property
    def la(self) -> pd.DataFrame:
        """The LA programme submission (one row per person of an assessed family)."""
        return self.extracts["la"]

    @property
    def dwp(self) -> pd.DataFrame:
        """The DWP extract (adults)."""
        return self.extracts["dwp"]

    @property
    def moj(self) -> pd.DataFrame:
        """The MoJ extract (people with offending histories, with aliases)."""
        return self.extracts["moj"]

    @property
    def dfe(self) -> pd.DataFrame:
        """The DfE extract (school-age children)."""
        return self.extracts["dfe"]

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table to write, extracts first, in a fixed order."""
        return {**{k: self.extracts[k] for k in EXTRACTS},
                **{k: self.truth[k] for k in TRUTH_TABLES}}


def _random_ids(rng: np.random.Generator, n: int, prefix: str, digits: int) -> np.ndarray:
    """``n`` distinct random ids like ``prefix`` + ``digits`` digits (no link to truth)."""
    hi = 10**digits
    if n > hi // 10:
        raise ValueError(f"too many ids ({n}) for {digits} digits")
    codes = rng.integers(0, hi, n, dtype=np.int64)
    for _ in range(100):
        _, first = np.unique(codes, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        codes[dup] = rng.integers(0, hi, int(dup.sum()), dtype=np.int64)
    return np.array([f"{prefix}{c:0{digits}d}" for c in codes.tolist()], dtype=object)


def _choose(rng: np.random.Generator, n: int, probs: tuple[float, ...]) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _fmt_names(rng: np.random.Generator, vals: np.ndarray, style: tuple[float, ...]) -> np.ndarray:
    s = pd.Series(vals, dtype=object)
    c = _choose(rng, len(s), style)
    out = s.copy()
    out[c == 1] = s[c == 1].str.upper()
    out[c == 2] = s[c == 2].str.lower()
    pad = (rng.random(len(s)) < _PAD) & (s != "").to_numpy()
    out[pad] = np.where(rng.random(int(pad.sum())) < 0.5, " " + out[pad], out[pad] + " ")
    return out.to_numpy(dtype=object)


_TABLE_START = np.datetime64("1900-01-01", "D")
_TABLE_END = np.datetime64("2100-01-01", "D")
_MONTHS = np.array(["", "January", "February", "March", "April", "May", "June", "July",
                    "August", "September", "October", "November", "December"], dtype=object)


@functools.lru_cache(maxsize=None)
def _date_table(fmt: str) -> np.ndarray:
    """``fmt`` applied to every day from 1900-01-01 to 2099-12-31 (C locale month names)."""
    d = np.arange(_TABLE_START, _TABLE_END)
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    two = np.array([f"{i:02d}" for i in range(100)], dtype=object)
    parts = {"%Y": y.astype(str).astype(object), "%m": two[m], "%d": two[day],
             "%B": _MONTHS[m], "%b": np.array([x[:3] for x in _MONTHS], dtype=object)[m]}
    out = np.full(len(d), "", dtype=object)
    k = 0
    while k < len(fmt):
        tok = fmt[k:k + 2]
        if tok in parts:
            out = out + parts[tok]
            k += 2
        else:
            out = out + fmt[k]
            k += 1
    return out


def _date_strings(d: np.ndarray, fmt: str) -> np.ndarray:
    """Vectorised strftime for the formats used here (d: datetime64[D], no NaT)."""
    k = (d - _TABLE_START).astype(np.int64)
    if len(k) and (k.min() < 0 or k.max() >= len(_date_table(fmt))):
        raise ValueError("date outside 1900-2099 cannot be formatted")
    return _date_table(fmt)[k]


def _fmt_dates(rng: np.random.Generator, d: np.ndarray, formats) -> np.ndarray:
    d = np.asarray(d).astype("datetime64[D]")
    c = _choose(rng, len(d), tuple(w for _, w in formats))
    out = np.full(len(d), "", dtype=object)
    ok = ~np.isnat(d)
    for k, (fmt, _) in enumerate(formats):
        m = (c == k) & ok
        if m.any():
            out[m] = _date_strings(d[m], fmt)
    return out


def _fmt_postcodes(rng: np.random.Generator, pc: np.ndarray, style) -> np.ndarray:
    s = pd.Series(pc, dtype=object)
    c = _choose(rng, len(s), style)
    out = s.copy()
    out[c == 1] = s[c == 1].str.replace(" ", "", regex=False)
    out[c == 2] = s[c == 2].str.lower()
    return out.to_numpy(dtype=object)


def _fmt_sex(rng: np.random.Generator, sex: np.ndarray, style) -> np.ndarray:
    main, p_main, alt = style
    use_main = rng.random(len(sex)) < p_main
    male = sex == "M"
    female = sex == "F"
    out = np.full(len(sex), "", dtype=object)
    out[male] = np.where(use_main[male], main[0], alt[0])
    out[female] = np.where(use_main[female], main[1], alt[1])
    return out


def _fmt_nino(rng: np.random.Generator, ni: np.ndarray, style) -> np.ndarray:
    s = pd.Series(ni, dtype=object)
    c = _choose(rng, len(s), style)
    out = s.copy()
    sp = (c == 1) & (s != "").to_numpy()
    x = s[sp]
    out[sp] = x.str[:2] + " " + x.str[2:4] + " " + x.str[4:6] + " " + x.str[6:8] + " " + x.str[8:]
    out[c == 2] = s[c == 2].str.lower()
    return out.to_numpy(dtype=object)


def _iso(d: np.ndarray) -> np.ndarray:
    d = np.asarray(d).astype("datetime64[D]")
    out = np.full(len(d), "", dtype=object)
    ok = ~np.isnat(d)
    out[ok] = _date_strings(d[ok], "%Y-%m-%d")
    return out


def _select(rng: np.random.Generator, p_in: np.ndarray, background: np.ndarray,
            outsiders: float) -> np.ndarray:
    """Row positions (into people) of one extract: covered assessed people + outsiders."""
    inside = np.flatnonzero(rng.random(len(p_in)) < p_in)
    bg = np.flatnonzero(background)
    k = min(len(bg), int(round(outsiders * len(inside))))
    out = np.sort(rng.choice(bg, size=k, replace=False)) if k else np.empty(0, dtype=np.int64)
    return np.concatenate([inside, out])


def _build(
    name: str,
    rng: np.random.Generator,
    people: pd.DataFrame,
    rows: np.ndarray,
    profile: SourceProfile,
    id_column: str,
    record_prefix: str,
    moj_alias: float = 0.0,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[pd.DataFrame]]:
    """Records of one extract: duplicates, aliases, errors, formatting, shuffled order.

    Returns (observed identifiers with record ids, truth, error-log parts) as column
    dicts. The observed columns keep the person row position in ``_row`` for attaching
    attributes (dropped before writing).
    """
    rates = profile.errors
    dup = rows[rng.random(len(rows)) < rates.duplicate]
    alias = rows[rng.random(len(rows)) < moj_alias] if moj_alias > 0 else rows[:0]
    all_rows = np.concatenate([rows, dup, alias])
    kind = np.concatenate([np.zeros(len(rows), np.int8), np.ones(len(dup), np.int8),
                           np.full(len(alias), 2, np.int8)])
    n = len(all_rows)
    rec = {c: people[c].to_numpy()[all_rows] for c in _REC_COLUMNS + (id_column,)}
    ids = _random_ids(rng, n, record_prefix, 10)
    log: list[pd.DataFrame] = []
    if len(alias):
        # an alias: another forename (same sex and cohort) or another surname
        ai = np.flatnonzero(kind == 2)
        use_fore = rng.random(len(ai)) < 0.5
        fi = ai[use_fore]
        if fi.size:
            p = people.iloc[all_rows[fi]]
            coh = cohort_of_year(p["dob"].to_numpy().astype("datetime64[Y]").astype(int) + 1970)
            new = np.empty(fi.size, dtype=object)
            for j, (c, s) in enumerate(zip(coh, p["sex"].to_numpy())):
                t = forename_table(int(c), s)
                new[j] = t.names[int(rng.choice(len(t.names), p=t.probs))]
            rec["forename"][fi] = new
            rec["mohammed_prefix"][fi] = False  # the alias is not Mohammed + calling name
            log.append(pd.DataFrame({"record_id": ids[fi], "field": "forename",
                                     "error": "alias"}))
        si = ai[~use_fore]
        if si.size:
            t = surname_table()
            new_s = np.asarray(t.names, dtype=object)[rng.choice(len(t.names), si.size,
                                                                  p=t.probs)]
            rec["surname"][si] = new_s
            rec["birth_surname"][si] = new_s
            rec["double_barrelled"][si] = False
            rec["extra_surname"][si] = ""  # no Singh/Kaur/Begum/Bibi with an alias surname
            log.append(pd.DataFrame({"record_id": ids[si], "field": "surname",
                                     "error": "alias"}))
    obs, log2 = corrupt(rng, rec, rates, id_column, ids, profile.id_present)
    log.extend(log2)
    out = {
        "record_id": ids,
        "forename": _fmt_names(rng, obs["forename"], _NAME_CASE[name]),
        "surname": _fmt_names(rng, obs["surname"], _NAME_CASE[name]),
        "dob": _fmt_dates(rng, obs["dob"], _DOB_FORMATS[name]),
        "sex": _fmt_sex(rng, obs["sex"], _SEX_STYLE[name]),
        "postcode": _fmt_postcodes(rng, obs["postcode"], _PC_STYLE[name]),
    }
    ident = obs[id_column]
    if id_column == "nino":
        ident = _fmt_nino(rng, ident, _NINO_STYLE[name])
    out[id_column] = ident
    out["_row"] = all_rows
    truth = {
        "record_id": ids,
        "person_id": people["person_id"].to_numpy()[all_rows],
        "family_id": people["family_id"].to_numpy()[all_rows],
        "is_duplicate": (kind == 1).astype(np.int8),
        "is_alias": (kind == 2).astype(np.int8),
    }
    order = rng.permutation(n)
    out = {k: v[order] for k, v in out.items()}
    truth = {k: v[order] for k, v in truth.items()}
    for part in log:
        part.insert(0, "source", name)
    return out, truth, log


def generate_study(n_people: int, seed: int, config: SynthConfig | None = None, *,
                   population: Population | None = None, wave: int = 0) -> Study:
    """Generate the LA submission and DWP, MoJ and DfE extracts for about ``n_people``
    people of assessed families (see :func:`generate_population`), with ground truth.

    ``population`` (used by :func:`generate_waves`) draws the extracts from a population
    made earlier, whose ``assessed`` column says who is in the LA's submission, instead
    of generating one (``n_people`` is then ignored); ``wave`` (1, 2, ...) gives the
    extracts their own random streams, so every wave has fresh record ids, formatting and
    recording errors. ``wave=0`` is the one-off study.
    """
    cfg = config or SynthConfig()
    cfg.validate()
    pop = population if population is not None else generate_population(
        n_people, seed, cfg.population)
    people = pop.people
    ss = np.random.SeedSequence([int(seed), 0x57D7] + ([int(wave)] if wave else []))
    r_prog, r_la, r_dwp, r_moj, r_dfe, r_attr = (np.random.default_rng(s) for s in ss.spawn(6))

    age = people["age"].to_numpy()
    assessed = people["assessed"].to_numpy()
    school = (age >= SCHOOL_AGE[0]) & (age <= SCHOOL_AGE[1])
    fam_idx = pop.family_index
    n_fam = int(fam_idx.max()) + 1 if len(fam_idx) else 0
    fam_codes = np.empty(n_fam, dtype=object)
    fam_codes[fam_idx] = people["family_id"].to_numpy()
    fam_school = np.bincount(fam_idx, weights=((age >= 5) & (age <= 16)), minlength=n_fam) > 0
    fam_assessed = np.zeros(n_fam, dtype=bool)
    fam_assessed[fam_idx[assessed]] = True
    starts = np.flatnonzero(np.r_[True, fam_idx[1:] != fam_idx[:-1]])
    if not (np.diff(fam_idx[starts]) == 1).all():
        raise AssertionError("people are not grouped by family")
    dob_days = people["dob"].to_numpy().astype("datetime64[D]").astype(np.int64)
    youngest = np.maximum.reduceat(dob_days, starts).astype("datetime64[D]")
    fam_table = pd.DataFrame({"family_id": fam_codes[fam_assessed],
                              "has_school_age_child": fam_school[fam_assessed],
                              "youngest_dob": youngest[fam_assessed]})
    prog = generate_programme(r_prog, fam_table, cfg.problem_prevalence, cfg.problem_loading,
                              pop.reference_date)
    # problem flags per person (0 for background people)
    pos = np.full(len(fam_codes), -1)
    pos[np.flatnonzero(fam_assessed)] = np.arange(fam_assessed.sum())
    person_fam = pos[fam_idx]

    def flag(p: str) -> np.ndarray:
        v = np.zeros(len(people), dtype=bool)
        ok = person_fam >= 0
        v[ok] = prog[p].to_numpy()[person_fam[ok]] == 1
        return v

    workless, offending, absence = flag("worklessness"), flag("offending_asb"), \
        flag("school_absence")
    background = ~assessed

    # --- selection --------------------------------------------------------------------------
    adult = age >= 16
    p_la = np.where(assessed, cfg.la.coverage, 0.0)
    la_rows = _select(r_la, p_la, np.zeros(len(people), bool), 0.0)
    p_dwp = np.where(assessed & adult, cfg.dwp.coverage * np.where(workless, 1.0, 0.7), 0.0)
    dwp_rows = _select(r_dwp, p_dwp, background & adult, cfg.dwp.outsiders)
    p_off = np.where(offending, np.where(adult, 0.55, 0.25), 0.04)  # assumption, see docs
    p_moj = np.where(assessed & (age >= 10), cfg.moj.coverage * p_off, 0.0)
    moj_rows = _select(r_moj, p_moj, background & adult, cfg.moj.outsiders)
    has_upn = people["upn"].to_numpy() != ""
    p_dfe = np.where(assessed & school & has_upn, cfg.dfe.coverage, 0.0)
    dfe_rows = _select(r_dfe, p_dfe, background & school & has_upn, cfg.dfe.outsiders)

    la, t_la, log_la = _build("la", r_la, people, la_rows, cfg.la, "nino", "LA")
    # the LA also records UPNs of its children (id_present applies to NINO; UPN mostly known)
    la_r = la["_row"]
    upn_obs, log_upn = corrupt(r_la, {c: people[c].to_numpy()[la_r]
                                      for c in _REC_COLUMNS + ("upn",)}, cfg.la.errors.replace(
        **{f.name: 0.0 for f in dataclasses.fields(ErrorRates) if f.name not in _ID_RATES}),
        "upn", la["record_id"], 0.9)
    for part in log_upn:
        part.insert(0, "source", "la")
    log_la.extend(log_upn)
    upn_vals = upn_obs["upn"]
    lower = r_la.random(len(upn_vals)) < 0.1
    upn_vals[lower] = np.array([v.lower() for v in upn_vals[lower]], dtype=object)
    la["upn"] = upn_vals
    dwp, t_dwp, log_dwp = _build("dwp", r_dwp, people, dwp_rows, cfg.dwp, "nino", "DWP")
    moj, t_moj, log_moj = _build("moj", r_moj, people, moj_rows, cfg.moj, "nino", "MOJ",
                                 moj_alias=cfg.moj_alias)
    dfe, t_dfe, log_dfe = _build("dfe", r_dfe, people, dfe_rows, cfg.dfe, "upn", "DFE")

    # --- LA family references and programme attributes --------------------------------------
    la_fam_ref = _random_ids(r_la, len(fam_codes), "FAM", 9)
    r = la["_row"]
    la["la_family_id"] = la_fam_ref[fam_idx[r]]
    pf = person_fam[r]
    for p in PROBLEMS:
        la[p] = prog[p].to_numpy()[pf]
    la["eligible"] = prog["eligible"].to_numpy()[pf]
    la["intervention_status"] = prog["intervention_status"].to_numpy()[pf]
    for c in ("assessment_date", "start_date", "end_date"):
        la[c] = _iso(prog[c].to_numpy()[pf])
    t_la["la_family_id"] = la_fam_ref[fam_idx[t_la_rows(la, t_la)]]

    # --- departmental attributes (plausible, not calibrated) --------------------------------
    r = dwp["_row"]
    w = workless[r]
    ben = r_attr.choice(np.array(["UC", "ESA", "JSA", "PIP", "CA"], dtype=object), len(r),
                        p=[0.6, 0.15, 0.05, 0.12, 0.08])
    dwp["benefit"] = np.where(w | (r_attr.random(len(r)) < 0.3), ben, "")
    dwp["employed"] = (r_attr.random(len(r)) < np.where(w, 0.1, 0.7)).astype(np.int8)
    r = moj["_row"]
    moj["n_offences"] = (1 + r_attr.poisson(np.where(offending[r], 2.5, 1.0))).astype(np.int16)
    last = pop.reference_date - r_attr.integers(0, 5 * 365, len(r)).astype("timedelta64[D]")
    moj["last_offence_date"] = _iso(last)
    r = dfe["_row"]
    rate = np.where(absence[r], r_attr.beta(3.0, 12.0, len(r)), r_attr.beta(2.0, 30.0, len(r)))
    dfe["sessions_possible"] = np.full(len(r), 380, dtype=np.int16)
    dfe["sessions_absent"] = np.round(380 * rate).astype(np.int16)

    extracts: dict[str, pd.DataFrame] = {}
    truth: dict[str, pd.DataFrame] = {}
    for name, cols, tcols in (("la", la, t_la), ("dwp", dwp, t_dwp), ("moj", moj, t_moj),
                              ("dfe", dfe, t_dfe)):
        key = f"{name}_id"
        cols[key] = cols.pop("record_id")
        cols.pop("_row")
        order = [key] + (["la_family_id"] if name == "la" else []) + [
            c for c in cols if c not in (key, "la_family_id")]
        extracts[name] = pd.DataFrame({c: cols[c] for c in order})
        tcols[key] = tcols.pop("record_id")
        torder = [key] + (["la_family_id"] if name == "la" else []) + [
            "person_id", "family_id", "is_duplicate", "is_alias"]
        truth[f"truth_{name}"] = pd.DataFrame({c: tcols[c] for c in torder})
    tp = people.copy()
    tp["dob"] = _iso(tp["dob"].to_numpy())
    tp["assessed"] = tp["assessed"].astype(np.int8)
    tp["double_barrelled"] = tp["double_barrelled"].astype(np.int8)
    tp["mohammed_prefix"] = tp["mohammed_prefix"].astype(np.int8)
    truth["truth_people"] = tp
    logs = [*log_la, *log_dwp, *log_moj, *log_dfe]
    errors = (pd.concat(logs, ignore_index=True) if logs
              else pd.DataFrame(columns=["source", "record_id", "field", "error"]))
    truth["truth_errors"] = errors.reset_index(drop=True)
    return Study(extracts=extracts, truth=truth, population=pop, config=cfg, seed=int(seed),
                 programme=prog, wave=int(wave))


def generate_waves(
    n_people: int,
    seed: int,
    waves: int = 3,
    config: SynthConfig | None = None,
    *,
    first_share: float = 0.6,
    stay: float = 0.85,
    member_absent: float = 0.03,
    months_apart: int = 6,
) -> list[Study]:
    """A study over time: ``waves`` six-monthly studies drawn from one population.

    The population (about ``n_people`` people in assessed families, see
    :func:`generate_population`) is generated once. A share ``first_share`` of the
    assessed families is submitted in wave 1 and the rest join in equal parts in the later
    waves; a family submitted once is submitted again in each later wave with probability
    ``stay`` (and leaves the study for good otherwise). Family composition changes between
    waves: each member of a submitted family is left out of a wave with probability
    ``member_absent`` (a partner moving out and back, a child living elsewhere), and a
    child born after a wave's date first appears in a later wave. Wave ``k`` is dated
    ``months_apart * (waves - k)`` months before the population's reference date.

    Every wave is a :class:`Study` made by :func:`generate_study` from the same
    population with its own random streams (``wave=k``): fresh record ids, formatting and
    recording errors, the DWP, MoJ and DfE extracts drawn again (so a person's records
    differ between waves as they would between two extracts), the programme data drawn
    again for the wave's families, and :attr:`Study.progress`, the wave's progress
    records of supported families. Truth tables name the same ``person_id`` in every wave.
    Deterministic for a seed.
    """
    if int(waves) < 1:
        raise ValueError(f"waves must be >= 1, got {waves!r}")
    for name, v in (("first_share", first_share), ("stay", stay),
                    ("member_absent", member_absent)):
        if not 0.0 <= float(v) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {v!r}")
    cfg = config or SynthConfig()
    cfg.validate()
    pop = generate_population(n_people, seed, cfg.population)
    people = pop.people
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x3A7E5]))
    fam_idx = pop.family_index
    n_fam = int(fam_idx.max()) + 1 if len(fam_idx) else 0
    assessed = people["assessed"].to_numpy()
    fam_assessed = np.zeros(n_fam, dtype=bool)
    fam_assessed[fam_idx[assessed]] = True
    # first wave of each assessed family (0 = never)
    first = np.zeros(n_fam, dtype=np.int64)
    fa = np.flatnonzero(fam_assessed)
    if waves == 1:
        first[fa] = 1
    else:
        later = (1.0 - first_share) / (waves - 1)
        first[fa] = 1 + rng.choice(waves, size=len(fa), p=[first_share] + [later] * (waves - 1))
    present_fam = np.zeros(n_fam, dtype=bool)
    ref = pop.reference_date.astype("datetime64[D]")
    dob = people["dob"].to_numpy().astype("datetime64[D]")
    out: list[Study] = []
    for k in range(1, int(waves) + 1):
        stays = rng.random(n_fam) < stay
        present_fam = (present_fam & stays) | (first == k)
        wave_date = (ref.astype("datetime64[M]") - months_apart * (waves - k)).astype(
            "datetime64[D]") + (ref - ref.astype("datetime64[M]").astype("datetime64[D]"))
        member = present_fam[fam_idx] & assessed & (dob <= wave_date)
        member &= rng.random(len(people)) >= member_absent
        wave_people = people.copy()
        wave_people["assessed"] = member
        wave_pop = Population(people=wave_people, config=pop.config, seed=pop.seed,
                              reference_date=pop.reference_date, family_index=fam_idx)
        st = generate_study(n_people, seed, cfg, population=wave_pop, wave=k)
        st.progress = _progress(np.random.default_rng(np.random.SeedSequence(
            [int(seed), 0x9A06, k])), st, wave_date, months_apart)
        out.append(st)
    return out


def _progress(rng: np.random.Generator, st: Study, wave_date: np.datetime64,
              months_apart: int) -> pd.DataFrame:
    """Progress records (plausible, not calibrated) of the wave's supported families."""
    la = st.la
    status = la.groupby("la_family_id", sort=True)["intervention_status"].first()
    fams = status.index[status.to_numpy() == "supported"].to_numpy(dtype=object)
    flags = la.groupby("la_family_id", sort=True)[["offending_asb", "domestic_abuse",
                                                  "worklessness"]].max().loc[fams]
    n = len(fams)
    end = np.full(n, wave_date, dtype="datetime64[D]")
    start = end - np.timedelta64(int(round(months_apart * 30.44)), "D")
    asb = flags["offending_asb"].to_numpy() == 1
    da = flags["domestic_abuse"].to_numpy() == 1
    wl = flags["worklessness"].to_numpy() == 1
    return pd.DataFrame({
        "la_family_id": fams,
        "period_start": _iso(start),
        "period_end": _iso(end),
        "homelessness": (rng.random(n) < np.where(wl, 0.08, 0.03)).astype(np.int8),
        "debt": (rng.random(n) < np.where(wl, 0.45, 0.2)).astype(np.int8),
        "asb_incidents": rng.poisson(np.where(asb, 1.2, 0.2)).astype(np.int16),
        "domestic_abuse_incidents": rng.poisson(np.where(da, 0.9, 0.1)).astype(np.int16),
    })


def t_la_rows(la: dict[str, np.ndarray], t_la: dict[str, np.ndarray]) -> np.ndarray:
    """Person row positions for the truth rows of the LA (same order as ``la``)."""
    if not (la["record_id"] == t_la["record_id"]).all():
        raise AssertionError("LA truth and extract out of order")
    return la["_row"]


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


def write_study(
    study: Study, out_dir: str | Path, formats: tuple[str, ...] = ("csv", "parquet")
) -> dict[str, int]:
    """Write every extract and truth table; return rows per table.

    CSV: UTF-8, ``\\n`` line ends, strings quoted, empty string for missing. Parquet:
    zstd, no timestamps in metadata (pyarrow writes none), fixed row groups; files are
    byte-identical for the same seed and library versions. A ``manifest.json`` lists
    files and row counts.
    """
    bad = set(formats) - {"csv", "parquet"}
    if bad:
        raise ValueError(f"unknown format(s) {sorted(bad)}; use 'csv' and/or 'parquet'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    files: list[str] = []
    for name, df in study.tables().items():
        counts[name] = int(len(df))
        table = _to_arrow(df)
        if "csv" in formats:
            p = out / f"{name}.csv"
            pacsv.write_csv(table, p, pacsv.WriteOptions(quoting_style="needed"))
            files.append(p.name)
        if "parquet" in formats:
            p = out / f"{name}.parquet"
            pq.write_table(table, p, compression="zstd", row_group_size=1 << 20,
                           write_statistics=True)
            files.append(p.name)
    manifest = {"seed": study.seed, "people_assessed": int(study.population.people[
        "assessed"].sum()), "rows": counts, "files": files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return counts


def main_synth(people: int, seed: int, out: str | Path) -> dict[str, int]:
    """Generate a study and write it (CSV and Parquet) to ``out``; rows per table."""
    study = generate_study(int(people), int(seed))
    return write_study(study, out)

"""Synthetic population: families in England with names, dates of birth and identifiers.

The generator is vectorised: families are drawn as arrays of sizes, then flattened to one
row per person with ``numpy.repeat``. Randomness comes from independent child streams of
one ``numpy.random.SeedSequence``, so a seed fixes every value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nislink.clean.dates import PLACEHOLDER_DATES
from nislink.synth._data import (
    ACCENTED_FORENAMES,
    CALLING_NAMES,
    COHORTS,
    MOHAMMED_SPELLINGS,
    MUSLIM_SOUTH_ASIAN_SURNAMES,
    POLISH_FEMININE,
    SIKH_SURNAMES,
    cohort_of_year,
    forename_table,
    la_outward_codes,
    surname_table,
)
from nislink.synth.config import PopulationConfig
from nislink.synth.identifiers import generate_ninos, generate_postcodes, generate_upns

__all__ = ["Population", "generate_population", "SCHOOL_AGE", "UPN_AGE"]

#: Ages (completed years at the reference date) covered by the DfE extract.
SCHOOL_AGE = (4, 17)
#: Ages that carry a UPN: everyone who entered an English state school since UPNs began
#: (1999), here ages 4 to 24 at the reference date.
UPN_AGE = (4, 24)
_MAX_EXTRA_CHILDREN = 7


@dataclass
class Population:
    """People (one row each) and the configuration and seed that made them.

    ``people`` columns: ``person_id``, ``family_id``, ``role`` (``adult``, ``partner``,
    ``child``), ``assessed`` (in the LA's programme population, else background),
    ``sex`` (M/F), ``dob`` (datetime64[D]), ``age``, ``forename``, ``middle_name`` (else
    empty), ``surname``, ``birth_surname`` (differs after a surname change on marriage),
    ``double_barrelled``, ``extra_surname`` (Singh, Kaur, Begum or Bibi, which records may
    give instead of or with the family surname, else empty), ``mohammed_prefix`` (the
    forename is a spelling of Mohammed and the middle name the calling name),
    ``postcode``, ``old_postcode`` (address before a move, else empty), ``la_code``,
    ``nino`` (16+, else empty), ``upn`` (ages 4-24, else empty).
    """

    people: pd.DataFrame
    config: PopulationConfig
    seed: int
    reference_date: np.datetime64
    family_index: np.ndarray  # 0-based family number of each row (same order as people)

    @property
    def assessed(self) -> pd.DataFrame:
        """The people of the families the LA assessed."""
        return self.people[self.people["assessed"].to_numpy()]


def _streams(seed: int, n: int) -> list[np.random.Generator]:
    ss = np.random.SeedSequence([int(seed), 0x5EED])
    return [np.random.default_rng(s) for s in ss.spawn(n)]


def _sample_names(rng: np.random.Generator, cohort: np.ndarray, sex: np.ndarray) -> np.ndarray:
    out = np.empty(len(cohort), dtype=object)
    for c in range(len(COHORTS)):
        for s in ("M", "F"):
            idx = np.flatnonzero((cohort == c) & (sex == s))
            if idx.size == 0:
                continue
            t = forename_table(c, s)
            pick = rng.choice(len(t.names), size=idx.size, p=t.probs)
            out[idx] = np.asarray(t.names, dtype=object)[pick]
    return out


def _sample_surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    t = surname_table()
    return np.asarray(t.names, dtype=object)[rng.choice(len(t.names), size=n, p=t.probs)]


def _hyphenate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([f"{x}-{y}" for x, y in zip(a, b)], dtype=object)


def generate_population(
    n_people: int, seed: int, config: PopulationConfig | None = None
) -> Population:
    """Generate about ``n_people`` people in assessed families, plus background families.

    Whole families are generated until ``n_people`` people are reached (the last family is
    kept whole, so the count can exceed ``n_people`` by a few). A further
    ``config.background_fraction * n_people`` people in background families (not assessed
    by the LA) are generated for the departmental extracts' outsiders.
    """
    if int(n_people) < 1:
        raise ValueError(f"n_people must be >= 1, got {n_people!r}")
    cfg = config or PopulationConfig()
    cfg.validate()
    ref = np.datetime64(cfg.reference_date, "D")
    # the ninth stream (naming conventions) was added later; spawn(9) leaves the first
    # eight streams as they were
    r_fam, r_age, r_name, r_sur, r_pc, r_id, r_move, r_upn, r_conv = _streams(seed, 9)

    n_assessed = int(n_people)
    target = n_assessed + int(math.ceil(cfg.background_fraction * n_assessed))
    mean_size = (2 - cfg.lone_parent) + 1 + cfg.mean_extra_children
    n_fam = int(target / mean_size * 1.3) + 10

    # --- family structure ---------------------------------------------------------------
    n_adults = np.where(r_fam.random(n_fam) < cfg.lone_parent, 1, 2)
    n_kids_planned = 1 + np.minimum(r_fam.poisson(cfg.mean_extra_children, n_fam),
                                    _MAX_EXTRA_CHILDREN)
    eldest_age = r_fam.uniform(0.0, 19.0, n_fam)  # years at the reference date
    gaps = 1.0 + r_fam.gamma(2.0, 0.9, (n_fam, _MAX_EXTRA_CHILDREN + 1))
    gaps[:, 0] = 0.0
    kid_ages = eldest_age[:, None] - np.cumsum(gaps, axis=1)
    slot = np.arange(_MAX_EXTRA_CHILDREN + 1)[None, :]
    kid_ok = (slot < n_kids_planned[:, None]) & (kid_ages >= 0)
    n_kids = kid_ok.sum(axis=1)
    size = n_adults + n_kids

    cum = np.cumsum(size)
    n_fam_used = int(np.searchsorted(cum, target, side="left")) + 1
    if n_fam_used > n_fam:  # pragma: no cover - the 1.3 margin makes this very unlikely
        raise RuntimeError("family draw too small; increase the margin")
    n_fam_assessed = int(np.searchsorted(cum, n_assessed, side="left")) + 1
    sl = slice(0, n_fam_used)
    n_adults, n_kids, size = n_adults[sl], n_kids[sl], size[sl]
    eldest_age, kid_ages, kid_ok = eldest_age[sl], kid_ages[sl], kid_ok[sl]
    F = n_fam_used

    mother_at_first = np.clip(
        r_age.normal(cfg.mother_age_at_first_birth_mean, cfg.mother_age_at_first_birth_sd, F),
        16.0, 44.0,
    )
    adult1_age = eldest_age + mother_at_first
    lone = n_adults == 1
    adult1_sex = np.where(lone & (r_fam.random(F) >= cfg.lone_parent_female), "M", "F")
    same_sex = (~lone) & (r_fam.random(F) < cfg.same_sex_couple)
    partner_sex = np.where(same_sex, adult1_sex, np.where(adult1_sex == "F", "M", "F"))
    gap = r_age.normal(cfg.partner_age_gap_mean, cfg.partner_age_gap_sd, F)
    partner_age = np.clip(adult1_age + gap, np.maximum(eldest_age + 16.0, 17.0), 80.0)

    # --- flatten to people -----------------------------------------------------------------
    fam = np.repeat(np.arange(F), size)
    N = len(fam)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    pos = np.arange(N) - start[fam]
    role = np.where(pos == 0, "adult", np.where((pos == 1) & (n_adults[fam] == 2), "partner",
                                                 "child"))
    is_kid = role == "child"
    kid_rank = pos - n_adults[fam]
    # ages of children: the k-th valid slot of the family
    kid_slots = np.where(kid_ok, slot, _MAX_EXTRA_CHILDREN + 99)
    kid_slots.sort(axis=1)
    age = np.where(role == "adult", adult1_age[fam], partner_age[fam])
    ki = np.flatnonzero(is_kid)
    age[ki] = kid_ages[fam[ki], kid_slots[fam[ki], kid_rank[ki]]]
    sex = np.where(role == "adult", adult1_sex[fam], partner_sex[fam]).astype(object)
    sex[ki] = np.where(r_fam.random(ki.size) < cfg.male_birth_share, "M", "F")
    sex = sex.astype(str)

    age_days = np.floor(age * 365.2425).astype(np.int64)
    dob = ref - age_days.astype("timedelta64[D]")
    # real people can be born on a date that systems use as a placeholder (1970-01-01);
    # validators reject those, so the generator moves them one day on (documented)

    placeholders = np.array(sorted(PLACEHOLDER_DATES), dtype="datetime64[D]")
    dob = np.where(np.isin(dob, placeholders), dob + np.timedelta64(1, "D"), dob)
    age_years = _completed_years(dob, ref)
    birth_year = dob.astype("datetime64[Y]").astype(np.int64) + 1970

    # --- names -------------------------------------------------------------------------------
    forename = _sample_names(r_name, cohort_of_year(birth_year), sex)
    own = _sample_surnames(r_sur, N)
    dbl_adult = (~is_kid) & (r_sur.random(N) < cfg.double_barrelled_adult)
    if dbl_adult.any():
        own[dbl_adult] = _hyphenate(own[dbl_adult], _sample_surnames(r_sur, int(dbl_adult.sum())))
    a1 = start  # row of adult 1 per family
    a2 = np.where(n_adults == 2, start + 1, -1)
    shares = (~lone) & (r_sur.random(F) < cfg.couple_shares_surname)
    # a shared couple surname is the man's (or adult 1's in a same-sex couple)
    man_row = np.where((~lone) & (adult1_sex == "F") & ~same_sex, a2, a1)
    couple_name = own[man_row]
    surname = own.copy()
    birth_surname = own.copy()
    for rows in (a1, a2):
        ok = (rows >= 0) & shares
        surname[rows[ok]] = couple_name[ok]
    # children: the couple name; unshared couples: father's 60%, mother's 40%
    father_first = r_sur.random(F) < 0.6
    main = np.where(shares, couple_name, np.where(lone, own[a1],
                    np.where(father_first, own[man_row], own[np.where(man_row == a1, a2, a1)])))
    kid_sn = main[fam[ki]].copy()
    other = r_sur.random(ki.size) < cfg.child_other_surname
    kid_sn[other] = _sample_surnames(r_sur, int(other.sum()))
    parents_differ = (~lone) & (~shares)
    dbl_kid = (parents_differ[fam[ki]] & (~other)
               & (r_sur.random(ki.size) < cfg.double_barrelled_child))
    if dbl_kid.any():
        f_k = fam[ki][dbl_kid]
        kid_sn[dbl_kid] = _hyphenate(own[a1[f_k]], own[a2[f_k]])
    surname[ki] = kid_sn
    birth_surname[ki] = kid_sn
    double_barrelled = np.array(["-" in s for s in surname], dtype=bool)
    middle, extra, mohammed = _naming(r_conv, cfg, fam, F, sex, birth_year, forename,
                                      surname, birth_surname)

    # --- addresses -----------------------------------------------------------------------------
    out = la_outward_codes()
    n_units = max(1, int(math.ceil(F / cfg.families_per_postcode)))
    unit_pc, unit_oi = generate_postcodes(r_pc, np.array(out.outward), n_units)
    fam_unit = r_pc.integers(0, n_units, F)
    fam_pc = unit_pc[fam_unit]
    fam_la = out.la_code[unit_oi[fam_unit]]
    moved = r_move.random(F) < cfg.moved
    old_pc, old_oi = generate_postcodes(r_move, np.array(out.outward), F)
    same_district = r_move.random(F) < 0.5  # assumption: half of moves stay in the district
    cur_out = np.array([p.split(" ")[0] for p in fam_pc], dtype=object)
    old_in = np.array([p.split(" ")[1] for p in old_pc], dtype=object)
    old_pc = np.where(same_district, cur_out + " " + old_in, old_pc)
    old_pc = np.where(moved & (old_pc != fam_pc), old_pc, "")

    # --- identifiers ---------------------------------------------------------------------------
    nino = np.full(N, "", dtype=object)
    adult = age_years >= 16
    nino[adult] = generate_ninos(r_id, int(adult.sum()))
    upn = np.full(N, "", dtype=object)
    has_upn = (age_years >= UPN_AGE[0]) & (age_years <= UPN_AGE[1])
    la_at_entry = fam_la[fam[has_upn]].astype(np.int64)
    moved_la = r_upn.random(la_at_entry.size) < 0.1  # assumption: entered school elsewhere
    la_at_entry[moved_la] = np.asarray(out.la_codes)[
        r_upn.integers(0, len(out.la_codes), int(moved_la.sum()))]
    upn[has_upn] = generate_upns(r_upn, la_at_entry, birth_year[has_upn])

    fam_ids = np.array([f"F{i:08d}" for i in range(F)], dtype=object)
    people = pd.DataFrame(
        {
            "person_id": np.array([f"P{i:09d}" for i in range(N)], dtype=object),
            "family_id": fam_ids[fam],
            "role": role.astype(object),
            "assessed": fam < n_fam_assessed,
            "sex": sex.astype(object),
            "dob": dob,
            "age": age_years.astype(np.int16),
            "forename": forename,
            "middle_name": middle,
            "surname": surname,
            "birth_surname": birth_surname,
            "double_barrelled": double_barrelled,
            "extra_surname": extra,
            "mohammed_prefix": mohammed,
            "postcode": fam_pc[fam],
            "old_postcode": old_pc[fam],
            "la_code": fam_la[fam].astype(np.int16),
            "nino": nino,
            "upn": upn,
        }
    )
    return Population(people=people, config=cfg, seed=int(seed), reference_date=ref,
                      family_index=fam.astype(np.int64))


def _isin(values: np.ndarray, names) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Boolean mask of ``values`` (strings) that are in ``names`` (hash lookup)."""
    return pd.Series(values, dtype=object).isin(list(names)).to_numpy()


def _feminine(names: np.ndarray) -> np.ndarray:
    """Each name with every hyphen-separated part in its Polish feminine form (if any)."""
    out = names.copy()
    for k, v in enumerate(names):
        if v in POLISH_FEMININE:
            out[k] = POLISH_FEMININE[v]
        elif "-" in v:
            out[k] = "-".join(POLISH_FEMININE.get(p, p) for p in v.split("-"))
    return out


def _naming(
    rng: np.random.Generator,
    cfg: PopulationConfig,
    fam: np.ndarray,
    n_fam: int,
    sex: np.ndarray,
    birth_year: np.ndarray,
    forename: np.ndarray,
    surname: np.ndarray,
    birth_surname: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UK naming conventions (docs/synth.md, "Naming conventions"); changes ``forename``,
    ``surname`` and ``birth_surname`` in place and returns ``middle_name``,
    ``extra_surname`` and ``mohammed_prefix``.

    * Polish women: the feminine form (-ska/-cka/-dzka) of a -ski/-cki/-dzki surname, for
      a share ``polish_feminine`` of them (surname and birth surname, drawn per person);
    * Sikh families (a surname in ``SIKH_SURNAMES``, share ``sikh_naming`` of families):
      Singh for men and boys, Kaur for women and girls, as ``extra_surname``;
    * Muslim South Asian surnames: a share ``begum_bibi`` of women and girls carry Begum
      (or, for a share ``bibi`` of them, Bibi); a share ``mohammed_prefix`` of men and
      boys are named Mohammed (a spelling drawn with the ONS 1997 counts) + a calling
      name, held as the middle name;
    * middle names for a share ``middle_name`` of everyone else, drawn from the forename
      table of the person's cohort and sex, never equal to the forename;
    * Zoe, Sian, Chloe and Sean spelled with their diacritic (Zoë, ...) for a share
      ``accented_spelling`` of the people (forename and middle name drawn separately).
    """
    n = len(sex)
    female = sex == "F"
    # Polish feminine surnames (a person's surname and birth surname take the same form)
    fem = female & (rng.random(n) < cfg.polish_feminine)
    idx = np.flatnonzero(fem)
    surname[idx] = _feminine(surname[idx])
    birth_surname[idx] = _feminine(birth_surname[idx])

    extra = np.full(n, "", dtype=object)
    sikh_family = rng.random(n_fam) < cfg.sikh_naming
    sikh = _isin(surname, SIKH_SURNAMES) & sikh_family[fam]
    extra[sikh] = np.where(female[sikh], "Kaur", "Singh")
    muslim = _isin(surname, MUSLIM_SOUTH_ASIAN_SURNAMES)
    begum = muslim & female & (rng.random(n) < cfg.begum_bibi)
    extra[begum] = np.where(rng.random(int(begum.sum())) < cfg.bibi, "Bibi", "Begum")
    mohammed = muslim & ~female & (rng.random(n) < cfg.mohammed_prefix)
    k = int(mohammed.sum())
    spell = np.array([m for m, _ in MOHAMMED_SPELLINGS], dtype=object)
    w = np.array([c for _, c in MOHAMMED_SPELLINGS], dtype=float)
    forename[mohammed] = spell[rng.choice(len(spell), size=k, p=w / w.sum())]
    middle = np.full(n, "", dtype=object)
    middle[mohammed] = np.asarray(CALLING_NAMES, dtype=object)[
        rng.integers(0, len(CALLING_NAMES), k)]

    # middle names (Sikh people carry Singh/Kaur in that place)
    has_mid = ~sikh & ~mohammed & (rng.random(n) < cfg.middle_name)
    idx = np.flatnonzero(has_mid)
    coh = cohort_of_year(birth_year[idx])
    mid = _sample_names(rng, coh, sex[idx])
    for _ in range(50):  # redraw the few that equal the forename
        same = np.flatnonzero(mid == forename[idx])
        if same.size == 0:
            break
        mid[same] = _sample_names(rng, coh[same], sex[idx][same])
    mid[mid == forename[idx]] = ""  # (after 50 redraws: no middle name)
    middle[idx] = mid

    # spellings with a diacritic
    for arr in (forename, middle):
        acc = np.flatnonzero(_isin(arr, ACCENTED_FORENAMES))
        acc = acc[rng.random(acc.size) < cfg.accented_spelling]
        arr[acc] = np.array([ACCENTED_FORENAMES[v] for v in arr[acc]], dtype=object)
    return middle, extra, mohammed


def _completed_years(dob: np.ndarray, ref: np.datetime64) -> np.ndarray:
    """Age in completed years at ``ref`` for datetime64[D] dates of birth."""
    y = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    m = dob.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (dob - dob.astype("datetime64[M]")).astype(np.int64) + 1
    ry = int(str(ref)[:4])
    rm = int(str(ref)[5:7])
    rd = int(str(ref)[8:10])
    before = (m > rm) | ((m == rm) & (d > rd))
    return (ry - y - before.astype(np.int64)).astype(np.int64)

"""Name frequencies follow the shipped (cited) source figures."""

from __future__ import annotations

import numpy as np
import pytest

from nislink.synth import generate_population
from nislink.synth._data import COHORTS, cohort_of_year, forename_table, surname_table
from nislink.synth.population import _sample_names


def _sd(p: float, n: int, design_effect: float = 1.0) -> float:
    return float(np.sqrt(design_effect * p * (1 - p) / n))


def test_tables_are_distributions():
    for c in range(len(COHORTS)):
        for s in ("M", "F"):
            t = forename_table(c, s)
            assert abs(t.probs.sum() - 1) < 1e-12 and (t.probs > 0).all()
            assert len(set(t.names)) == len(t.names) > 100
    t = surname_table()
    assert abs(t.probs.sum() - 1) < 1e-12 and len(set(t.names)) == len(t.names) > 1000


def test_source_figures_are_the_published_ones():
    # ONS 1997 England: Jack 9,296 of 316,166 boys (sum of the nine regional totals)
    boys_1997 = 15034 + 42368 + 31106 + 24752 + 34289 + 33520 + 53858 + 48767 + 27972
    assert forename_table(4, "M").share("Jack") == pytest.approx(9296 / boys_1997, rel=1e-9)
    # the 1964 cohort has the ONS historic top-100 order
    t = forename_table(0, "F")
    assert t.names[:3] == ("Susan", "Julie", "Karen")
    assert t.basis[0] == "rank_1997_curve"
    # 2016 girls: Olivia = sum of the English regional counts / English girls' births
    olivia = 287 + 678 + 467 + 395 + 486 + 595 + 626 + 759 + 443
    girls = 13898 + 41777 + 30879 + 26031 + 34644 + 35228 + 62805 + 49846 + 27882
    assert forename_table(6, "F").share("Olivia") == pytest.approx(olivia / girls, rel=1e-9)
    # surnames: Smith 1.20% (1996 electoral register)
    assert surname_table().share("Smith") == pytest.approx(0.012, rel=1e-3)


@pytest.mark.parametrize("cohort, sex", [(0, "F"), (2, "M"), (4, "M"), (4, "F"), (6, "M")])
def test_sampled_top_names_match_source(cohort, sex):
    n = 200_000
    rng = np.random.default_rng(cohort * 10 + (sex == "M"))
    got = _sample_names(rng, np.full(n, cohort, dtype=np.int8), np.full(n, sex))
    t = forename_table(cohort, sex)
    top = np.argsort(-t.probs)[:10]
    names, counts = np.unique(got, return_counts=True)
    share = dict(zip(names, counts / n))
    for i in top:
        p = float(t.probs[i])
        assert abs(share.get(t.names[i], 0.0) - p) < 4.5 * _sd(p, n), t.names[i]


def test_population_names_follow_source():
    people = generate_population(30000, seed=17).people
    years = people["dob"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    coh = cohort_of_year(years)
    for c, s in ((3, "M"), (5, "F"), (6, "M")):
        sel = people[(coh == c) & (people["sex"] == s).to_numpy()]
        n = len(sel)
        assert n > 800
        t = forename_table(c, s)
        vc = sel["forename"].value_counts() / n
        for i in np.argsort(-t.probs)[:5]:
            p = float(t.probs[i])
            assert abs(vc.get(t.names[i], 0.0) - p) < 4.5 * _sd(p, n), (c, s, t.names[i])
    # surnames cluster in families: allow a design effect of 3 (mean family size)
    n = len(people)
    vc = people["surname"].value_counts() / n
    st = surname_table()
    for name in ("Smith", "Jones", "Williams", "Patel"):
        p = st.share(name)
        assert abs(vc.get(name, 0.0) - p) < 4.5 * _sd(p, n, 3.0) + 0.0005, name


# --------------------------------------------------------------------------------------
# UK naming conventions (docs/synth.md, "Naming conventions"): in the population, and as
# per-record forms in the extracts, each at its configured rate and off at rate 0.

import dataclasses  # noqa: E402

import pandas as pd  # noqa: E402
from anyascii import anyascii  # noqa: E402

from nislink.clean.names import check_name  # noqa: E402
from nislink.synth import ErrorRates, PopulationConfig, SynthConfig, generate_study  # noqa: E402
from nislink.synth._data import (  # noqa: E402
    ACCENTED_FORENAMES,
    CALLING_NAMES,
    EXTRA_SURNAMES,
    MOHAMMED_SPELLINGS,
    MUSLIM_SOUTH_ASIAN_SURNAMES,
    POLISH_FEMININE,
    SIKH_SURNAMES,
)
from nislink.synth.errors import _nicknames, corrupt  # noqa: E402

ZERO = ErrorRates(**{f.name: 0.0 for f in dataclasses.fields(ErrorRates)})
SPELLINGS = {m for m, _ in MOHAMMED_SPELLINGS}
FEMININE = set(POLISH_FEMININE.values())
#: every convention at its most frequent, so that the error tests have many eligible records
ALL_IN = PopulationConfig(sikh_naming=1.0, begum_bibi=1.0, mohammed_prefix=1.0,
                          accented_spelling=1.0, polish_feminine=1.0)


def _within(k: int, n: int, rate: float, slack: float = 0.0, design_effect: float = 1.0) -> bool:
    return abs(k / n - rate) <= 4.5 * _sd(rate, n, design_effect) + slack


@pytest.fixture(scope="module")
def people():
    return generate_population(120_000, seed=31).people.reset_index(drop=True)


@pytest.fixture(scope="module")
def rich():
    """A population with every convention switched fully on (for the error-rate tests)."""
    return generate_population(150_000, seed=32, config=ALL_IN).people.reset_index(drop=True)


def test_population_middle_names(people):
    cfg = PopulationConfig()
    mid = people["middle_name"].to_numpy()
    plain = (people["extra_surname"] == "").to_numpy() & ~people["mohammed_prefix"].to_numpy()
    k, n = int((mid[plain] != "").sum()), int(plain.sum())
    assert _within(k, n, cfg.middle_name), k / n
    has = mid != ""
    assert (mid[has] != people["forename"].to_numpy()[has]).all()
    # Sikh people carry Singh/Kaur in the middle-name place
    assert (mid[(people["extra_surname"].isin(["Singh", "Kaur"])).to_numpy()] == "").all()
    # middle names follow the forename tables of the person's cohort and sex
    years = people["dob"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    coh = cohort_of_year(years)
    inverse = {v: k for k, v in ACCENTED_FORENAMES.items()}
    sel = np.flatnonzero(has & plain)[:3000]
    for i in sel:
        name = inverse.get(mid[i], mid[i])
        assert forename_table(int(coh[i]), people["sex"][i]).share(name) > 0, mid[i]


def test_population_sikh_naming(people):
    cfg = PopulationConfig()
    sur = people["surname"]
    extra = people["extra_surname"]
    assert not sur.isin(EXTRA_SURNAMES).any()  # Singh, Kaur, Begum, Bibi: not family names
    assert not set(EXTRA_SURNAMES) & set(surname_table().names)
    sikh = extra.isin(["Singh", "Kaur"])
    assert sikh.sum() > 150
    assert sur[sikh].isin(SIKH_SURNAMES).all()
    assert (extra[sikh & (people["sex"] == "M")] == "Singh").all()
    assert (extra[sikh & (people["sex"] == "F")] == "Kaur").all()
    # the convention is a family's: share of families with a Sikh surname that use it
    fam = people[sur.isin(SIKH_SURNAMES)].groupby("family_id")["extra_surname"]
    per_family = fam.apply(lambda e: e.isin(["Singh", "Kaur"]).any())
    assert (fam.apply(lambda e: e.isin(["Singh", "Kaur"]).all()) == per_family).all()
    assert len(per_family) > 100
    assert _within(int(per_family.sum()), len(per_family), cfg.sikh_naming), per_family.mean()
    # Singh/Kaur only with a Sikh surname
    assert not extra[~sur.isin(SIKH_SURNAMES)].isin(["Singh", "Kaur"]).any()


def test_population_muslim_naming(people):
    cfg = PopulationConfig()
    sur, extra, sex = people["surname"], people["extra_surname"], people["sex"]
    muslim = sur.isin(MUSLIM_SOUTH_ASIAN_SURNAMES)
    women = muslim & (sex == "F")
    bb = extra.isin(["Begum", "Bibi"])
    assert (bb <= women).all()
    assert _within(int(bb.sum()), int(women.sum()), cfg.begum_bibi), bb.sum() / women.sum()
    assert _within(int((extra == "Bibi").sum()), int(bb.sum()), cfg.bibi)
    men = muslim & (sex == "M")
    mp = people["mohammed_prefix"]
    assert (mp <= men).all()
    assert _within(int(mp.sum()), int(men.sum()), cfg.mohammed_prefix), mp.sum() / men.sum()
    assert people.loc[mp, "forename"].isin(SPELLINGS).all()
    assert people.loc[mp, "middle_name"].isin(CALLING_NAMES).all()
    # the spelling follows the ONS 1997 counts of the three spellings
    w = dict(MOHAMMED_SPELLINGS)
    k = int((people.loc[mp, "forename"] == "Mohammed").sum())
    assert _within(k, int(mp.sum()), w["Mohammed"] / sum(w.values()))


def test_population_polish_feminine(people):
    cfg = PopulationConfig()
    sur, sex = people["surname"], people["sex"]
    fem = sur.isin(FEMININE)
    assert fem.sum() > 100
    assert (sex[fem] == "F").all()
    polish_women = (sur.isin(FEMININE) | sur.isin(POLISH_FEMININE)) & (sex == "F")
    assert _within(int(fem.sum()), int(polish_women.sum()), cfg.polish_feminine)
    # a woman's birth surname takes the same form as her surname
    same = people["birth_surname"][fem & (people["birth_surname"] != sur)]
    assert not same.isin(POLISH_FEMININE).any()


def test_population_accented_spellings(people):
    cfg = PopulationConfig()
    fore = people["forename"]
    acc = fore.isin(ACCENTED_FORENAMES.values())
    base = fore.isin(ACCENTED_FORENAMES) | acc
    assert acc.sum() > 200
    assert _within(int(acc.sum()), int(base.sum()), cfg.accented_spelling)


def test_population_conventions_off_at_zero():
    off = PopulationConfig(middle_name=0.0, accented_spelling=0.0, sikh_naming=0.0,
                           begum_bibi=0.0, mohammed_prefix=0.0, polish_feminine=0.0)
    p = generate_population(30_000, seed=31, config=off).people
    assert (p["middle_name"] == "").all() and (p["extra_surname"] == "").all()
    assert not p["mohammed_prefix"].any()
    assert not p["surname"].isin(FEMININE).any()
    assert p["forename"].map(str.isascii).all()


def test_population_names_pass_the_cleaner(rich, people):
    for df in (rich, people):
        for col in ("forename", "middle_name", "surname", "birth_surname", "extra_surname"):
            vals = [v for v in df[col].unique() if v != ""]
            bad = [v for v in vals if check_name(v).accepted is None]
            assert not bad, (col, bad[:5])
    # accents and apostrophes are fine: the cleaner transliterates and drops them
    assert check_name("Zoë").accepted == "zoe" and check_name("Kozłowska").accepted == \
        "kozlowska" and check_name("O'Brien").accepted == "obrien"


def test_config_validation_names_the_fields():
    with pytest.raises(ValueError, match="hyphen_drop \\+ hyphen_space \\+ hyphen_join"):
        ErrorRates(hyphen_drop=0.6, hyphen_space=0.3, hyphen_join=0.2).validate()
    with pytest.raises(ValueError, match="singh_kaur_only \\+ singh_kaur_added"):
        ErrorRates(singh_kaur_only=0.9, singh_kaur_added=0.2).validate()
    with pytest.raises(ValueError, match="PopulationConfig.sikh_naming"):
        SynthConfig(population=PopulationConfig(sikh_naming=1.5)).validate()
    with pytest.raises(ValueError, match="middle_name"):
        generate_population(100, 1, PopulationConfig(middle_name=-0.1))
    SynthConfig().validate()  # every default profile is valid


def _corrupt(rec, rates, seed=0):
    ids = np.array([f"R{i}" for i in range(len(rec))], dtype=object)
    obs, log = corrupt(np.random.default_rng(seed), rec, rates, "nino", ids, 1.0)
    log = pd.concat(log, ignore_index=True) if log else pd.DataFrame(
        columns=["record_id", "field", "error"])
    return obs, log, {r: i for i, r in enumerate(ids)}


def _masc(s: str) -> str:
    inv = {f: m for m, f in POLISH_FEMININE.items()}
    return "-".join(inv.get(p, p) for p in s.split("-"))


# (rate, field, kind, eligible(rec) -> mask, expected(rec row, observed value) -> bool)
NEW_KINDS = [
    ("singh_kaur_only", "surname", "singh_kaur_only",
     lambda r: r["extra_surname"].isin(["Singh", "Kaur"]),
     lambda t, o: o == t["extra_surname"]),
    ("singh_kaur_added", "surname", "singh_kaur_added",
     lambda r: r["extra_surname"].isin(["Singh", "Kaur"]),
     lambda t, o: o == f"{t['extra_surname']} {t['surname']}"),
    ("begum_bibi_only", "surname", "begum_bibi_only",
     lambda r: r["extra_surname"].isin(["Begum", "Bibi"]),
     lambda t, o: o == t["extra_surname"]),
    ("begum_bibi_added", "surname", "begum_bibi_added",
     lambda r: r["extra_surname"].isin(["Begum", "Bibi"]),
     lambda t, o: o == f"{t['extra_surname']} {t['surname']}"),
    ("mohammed_full", "forename", "mohammed_full", lambda r: r["mohammed_prefix"],
     lambda t, o: o == f"{t['forename']} {t['middle_name']}"),
    ("mohammed_calling", "forename", "mohammed_calling", lambda r: r["mohammed_prefix"],
     lambda t, o: o == t["middle_name"]),
    ("mohammed_spelling", "forename", "mohammed_spelling",
     lambda r: r["forename"].isin(SPELLINGS),
     lambda t, o: o in SPELLINGS and o != t["forename"]),
    ("middle_as_forename", "forename", "middle_as_forename",
     lambda r: (r["middle_name"] != "") & ~r["mohammed_prefix"],
     lambda t, o: o == t["middle_name"]),
    ("forename_initial", "forename", "initial", lambda r: r["forename"] != "",
     lambda t, o: o == t["forename"][0]),
    ("hyphen_space", "surname", "hyphen_space", lambda r: r["double_barrelled"],
     lambda t, o: o == t["surname"].replace("-", " ")),
    ("hyphen_join", "surname", "hyphen_join", lambda r: r["double_barrelled"],
     lambda t, o: o == t["surname"].replace("-", "")),
    ("accent_drop", "forename", "accent_drop", lambda r: ~r["forename"].map(str.isascii),
     lambda t, o: o == anyascii(t["forename"]) and o.isascii()),
    ("accent_drop", "surname", "accent_drop", lambda r: ~r["surname"].map(str.isascii),
     lambda t, o: o == anyascii(t["surname"]) and o.isascii()),
    ("apostrophe_drop", "surname", "apostrophe_drop", lambda r: r["surname"].str.contains("'"),
     lambda t, o: o == t["surname"].replace("'", "")),
    ("apostrophe_space", "surname", "apostrophe_space",
     lambda r: r["surname"].str.contains("'"),
     lambda t, o: o == t["surname"].replace("'", " ")),
    ("polish_masculine", "surname", "polish_masculine",
     lambda r: r["surname"].map(lambda s: any(p in FEMININE for p in s.split("-"))),
     lambda t, o: o == _masc(t["surname"]) and o != t["surname"]),
]


@pytest.mark.parametrize("rate_name, field, kind, eligible, expected", NEW_KINDS,
                         ids=[f"{k[0]}-{k[1]}" for k in NEW_KINDS])
def test_convention_forms_at_configured_rate(rich, rate_name, field, kind, eligible, expected):
    rate = 0.3
    # the eligible records and 20,000 others (at most 60,000 records, for speed)
    el = np.asarray(eligible(rich), dtype=bool)
    rec = rich.iloc[np.flatnonzero(el | (np.arange(len(rich)) < 20_000))[:60_000]]
    rec = rec.reset_index(drop=True)
    obs, log, pos = _corrupt(rec, ZERO.replace(**{rate_name: rate}), seed=7)
    assert set(log["error"]) == {kind}
    hit = log[log["field"] == field]
    el = np.asarray(eligible(rec), dtype=bool)
    n = int(el.sum())
    assert n > 300, (rate_name, n)
    rows = np.array([pos[r] for r in hit["record_id"]], dtype=np.int64)
    assert el[rows].all(), "logged only on eligible records"
    assert _within(len(rows), n, rate, slack=0.003), (rate_name, len(rows) / n)
    # the form is the one described (checked on up to 5,000 records), and it occurs
    assert len(rows) > 50
    cols = {c: rec[c].to_numpy() for c in ("forename", "middle_name", "surname",
                                           "extra_surname")}
    bad = [(rec[field][i], obs[field][i]) for i in rows[:5000]
           if not expected({c: v[i] for c, v in cols.items()}, obs[field][i])]
    assert not bad, bad[:5]
    # records that were not hit keep the true value
    untouched = np.setdiff1d(np.arange(len(rec)), rows)
    assert (obs[field][untouched] == rec[field].to_numpy()[untouched]).all()
    # every form is still a valid name for the cleaner
    assert all(check_name(obs[field][i]).accepted for i in rows)


@pytest.mark.parametrize("rate_name, kind", [(k[0], k[2]) for k in NEW_KINDS
                                             if k[0] != "accent_drop" or k[1] == "forename"])
def test_convention_forms_off_at_rate_zero(rich, rate_name, kind):
    """With every other rate at its default, a rate of 0 turns the form off."""
    rates = ErrorRates(maiden_name=0.0).replace(**{rate_name: 0.0})
    _, log, _ = _corrupt(rich.iloc[:40_000], rates, seed=8)
    assert kind not in set(log["error"])
    on = ErrorRates(maiden_name=0.0).replace(**{rate_name: 0.2})
    _, log, _ = _corrupt(rich.iloc[:40_000], on, seed=8)
    assert kind in set(log["error"])


def test_exclusive_forms_split_one_draw(rich):
    """The forms of one group are exclusive: their rates add up per eligible record."""
    rates = ZERO.replace(singh_kaur_only=0.3, singh_kaur_added=0.2, begum_bibi_only=0.4,
                         begum_bibi_added=0.1, mohammed_full=0.3, mohammed_calling=0.4,
                         hyphen_drop=0.3, hyphen_space=0.2, hyphen_join=0.1,
                         apostrophe_drop=0.3, apostrophe_space=0.2)
    _, log, _ = _corrupt(rich, rates, seed=9)
    for group in ("singh_kaur_|begum_bibi_", "mohammed_", "hyphen_", "apostrophe_"):
        assert log.loc[log["error"].str.match(group), "record_id"].is_unique, group
    sikh = int(rich["extra_surname"].isin(["Singh", "Kaur"]).sum())
    k = int(log["error"].isin(["singh_kaur_only", "singh_kaur_added"]).sum())
    assert _within(k, sikh, 0.5, slack=0.003)
    dbl = int(rich["double_barrelled"].sum())
    k = int(log["error"].str.startswith("hyphen").sum())
    assert _within(k, dbl, 0.6, slack=0.003)


def test_uk_short_forms_are_nicknames():
    """Liz, Kate and Bill are among the nicknames the generator records."""
    assert "Liz" in _nicknames("Elizabeth")
    assert "Kate" in _nicknames("Katherine")
    assert "Bill" in _nicknames("William")


def test_study_convention_rates_match_each_extract():
    """End to end, with the default configuration: each extract's measured rates of the
    new forms match its own configuration (per eligible record, aliases left out)."""
    s = generate_study(60_000, seed=12)
    errs = s.truth["truth_errors"]
    people = s.truth["truth_people"].set_index("person_id")
    checked = 0
    for name in ("la", "dwp", "moj", "dfe"):
        cfg = getattr(s.config, name).errors
        t = s.truth[f"truth_{name}"]
        t = t[t["is_alias"] == 0]
        p = people.loc[t["person_id"]]
        e = errs[(errs["source"] == name) & errs["record_id"].isin(t[f"{name}_id"])]
        sikh = p["extra_surname"].isin(["Singh", "Kaur"]).to_numpy()
        mid = ((p["middle_name"] != "") & (p["mohammed_prefix"] == 0)).to_numpy()
        for kind, rate, el in (
            ("singh_kaur_only", cfg.singh_kaur_only, sikh),
            ("singh_kaur_added", cfg.singh_kaur_added, sikh),
            ("middle_as_forename", cfg.middle_as_forename, mid),
            ("initial", cfg.forename_initial, np.ones(len(p), dtype=bool)),
        ):
            n = int(el.sum())
            if n < 150:
                continue
            k = int((e["error"] == kind).sum())
            assert _within(k, n, rate, slack=0.005), (name, kind, k / n, rate)
            checked += 1
    assert checked >= 12
    # names changed only by the naming conventions (or not at all) are read by the
    # cleaner. (The older error kinds need not be: an OCR slip can put a digit in a name,
    # a typo can make "Max" into the title "Mx", and the nicknames package gives "Nan",
    # which the cleaner reads as "not known".)
    conventions = {k[2] for k in NEW_KINDS} | {"maiden", "hyphen_drop", "swap", "missing"}
    for name in ("la", "dwp", "moj", "dfe"):
        ext = s.extracts[name]
        e = errs[errs["source"] == name]
        other = set(e.loc[e["field"].isin(["forename", "surname"])
                          & ~e["error"].isin(conventions), "record_id"])
        keep = ~ext[f"{name}_id"].isin(other)
        for col in ("forename", "surname"):
            vals = [v for v in ext.loc[keep, col].unique() if v.strip()]
            assert all(check_name(v).accepted for v in vals), (name, col)

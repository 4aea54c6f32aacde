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

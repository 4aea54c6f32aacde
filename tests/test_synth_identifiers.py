"""Before errors, every generated identifier passes the nislink.clean validators; after
errors and messy formatting, the extracts can still be cleaned field by field."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.clean.dates import dob as clean_dob
from nislink.clean.ids import nino as clean_nino
from nislink.clean.ids import upn as clean_upn
from nislink.clean.names import name as clean_name
from nislink.clean.postcodes import postcode as clean_postcode
from nislink.clean.sex_codes import sex as clean_sex
from nislink.synth import generate_population, generate_study
from nislink.synth.identifiers import (
    NINO_BAD_PREFIXES,
    generate_ninos,
    generate_postcodes,
    generate_upns,
    nino_prefixes,
)

TODAY = dt.date(2024, 3, 31)


@pytest.fixture(scope="module")
def pop():
    return generate_population(8000, seed=21).people


def test_population_identifiers_pass_validators(pop):
    ninos = pop.loc[pop["nino"] != "", "nino"]
    assert len(ninos) > 2000
    assert all(clean_nino(v) == v for v in ninos)
    assert ninos.is_unique
    upns = pop.loc[pop["upn"] != "", "upn"]
    assert len(upns) > 2000
    assert all(clean_upn(v) == v for v in upns)
    assert upns.is_unique
    assert all(clean_postcode(v) == v for v in pop["postcode"].unique())
    old = pop.loc[pop["old_postcode"] != "", "old_postcode"].unique()
    assert len(old) > 50 and all(clean_postcode(v) == v for v in old)
    dobs = pd.to_datetime(pop["dob"]).dt.date
    assert all(clean_dob(d, today=TODAY) == d for d in dobs)
    assert all(clean_name(v) is not None for v in pop["forename"].unique())
    assert all(clean_name(v) is not None for v in pop["surname"].unique())
    assert set(pop["sex"]) == {"M", "F"}
    assert all(clean_sex(v) == v for v in ("M", "F"))


def test_nino_only_for_adults_upn_for_pupil_ages(pop):
    assert (pop.loc[pop["nino"] != "", "age"] >= 16).all()
    assert (pop.loc[pop["age"] >= 16, "nino"] != "").all()
    with_upn = pop[pop["upn"] != ""]
    assert with_upn["age"].between(4, 24).all()
    # LA number inside the UPN matches the family's current LA for most children
    la_in_upn = with_upn["upn"].str[1:4].astype(int)
    assert (la_in_upn == with_upn["la_code"]).mean() > 0.85


def test_nino_prefix_rules():
    from nislink.clean.ids import NINO_ADMIN_PREFIXES, NINO_NEVER_ALLOCATED

    pref = nino_prefixes()
    assert not set(pref) & NINO_BAD_PREFIXES
    assert not set(pref) & (set(NINO_ADMIN_PREFIXES) | NINO_NEVER_ALLOCATED | {"OO"})
    assert all(p[0] not in "DFIQUV" and p[1] not in "DFIOQUV" for p in pref)
    ninos = generate_ninos(np.random.default_rng(1), 20000)
    assert len(set(ninos)) == 20000
    assert set(v[-1] for v in ninos) == set("ABCD")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300))
def test_generated_identifiers_always_valid(seed, n):
    rng = np.random.default_rng(seed)
    assert all(clean_nino(v) == v for v in generate_ninos(rng, n))
    pcs, _ = generate_postcodes(rng, np.array(["B1", "E1W", "SW9", "LS28", "CR0"]), n)
    assert all(clean_postcode(v) == v for v in pcs)
    la = rng.choice([330, 801, 211, 926], n)
    years = rng.integers(1999, 2021, n)
    assert all(clean_upn(v) == v for v in generate_upns(rng, la, years))


def test_extract_fields_clean_back_to_truth():
    """Messy formatting is clean-able: where the error log says a field was not corrupted,
    the cleaned value equals the truth."""
    s = generate_study(3000, seed=8)
    people = s.truth["truth_people"].set_index("person_id")
    errs = s.truth["truth_errors"]
    for name, idcol in (("la", "nino"), ("dwp", "nino"), ("moj", "nino"), ("dfe", "upn")):
        ext = s.extracts[name]
        truth = s.truth[f"truth_{name}"]
        p = people.loc[truth["person_id"]]
        e = errs[errs["source"] == name]
        alias = truth["is_alias"].to_numpy() == 1
        for field, clean, true in (
            ("dob", lambda v: clean_dob(v, today=TODAY), pd.to_datetime(p["dob"]).dt.date),
            ("sex", clean_sex, p["sex"]),
            ("postcode", clean_postcode, p["postcode"]),
            (idcol, clean_nino if idcol == "nino" else clean_upn, p[idcol]),
        ):
            bad = set(e.loc[e["field"] == field, "record_id"])
            ok = ~ext[f"{name}_id"].isin(bad).to_numpy() & ~alias
            got = [clean(v) for v in ext[field].to_numpy()[ok]]
            want = [None if w == "" else w for w in np.asarray(true)[ok]]
            mismatch = sum(g != w for g, w in zip(got, want))
            assert mismatch == 0, (name, field, mismatch)
            # and the logged errors really changed the value
            if bad:
                changed = [clean(v) != w for v, w in zip(
                    ext[field].to_numpy()[~ok & ~alias],
                    [None if w == "" else w for w in np.asarray(true)[~ok & ~alias]])]
                assert np.mean(changed) > 0.9, (name, field)

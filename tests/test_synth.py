"""Synthetic study: API, determinism, coverage and ground truth."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from nislink.synth import (
    EXTRACTS,
    PROBLEMS,
    TRUTH_TABLES,
    SynthConfig,
    generate_population,
    generate_study,
    main_synth,
    write_study,
)

N = 6000


@pytest.fixture(scope="module")
def study():
    return generate_study(N, seed=11)


def _digests(d) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_study(generate_study(1500, seed=3), a)
    write_study(generate_study(1500, seed=3), b)
    write_study(generate_study(1500, seed=4), c)
    da, db, dc = _digests(a), _digests(b), _digests(c)
    assert len(da) == 2 * (len(EXTRACTS) + len(TRUTH_TABLES)) + 1
    assert da == db
    assert da["la.csv"] != dc["la.csv"] and da["dwp.parquet"] != dc["dwp.parquet"]


def test_main_synth_writes_everything(tmp_path):
    summary = main_synth(800, 5, tmp_path)
    for name in (*EXTRACTS, *TRUTH_TABLES):
        assert (tmp_path / f"{name}.csv").exists()
        assert (tmp_path / f"{name}.parquet").exists()
        back = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert len(back) == summary[name]
        csv = pd.read_csv(tmp_path / f"{name}.csv", dtype=str, keep_default_na=False)
        assert len(csv) == summary[name]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["rows"] == summary
    assert summary["la"] >= 800


def test_write_study_rejects_unknown_format(tmp_path, study):
    with pytest.raises(ValueError, match="xlsx"):
        write_study(study, tmp_path, formats=("csv", "xlsx"))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="n_people"):
        generate_population(0, 1)
    from nislink.synth import ErrorRates

    with pytest.raises(ValueError, match="nickname"):
        ErrorRates(nickname=1.5).validate()
    bad = SynthConfig(problem_prevalence=(0.5,) * 5)
    with pytest.raises(ValueError, match="six"):
        bad.validate()


def test_truth_tables_complete_and_separate(study):
    people = study.truth["truth_people"]
    pid = set(people["person_id"])
    for name in EXTRACTS:
        ext, truth = study.extracts[name], study.truth[f"truth_{name}"]
        key = f"{name}_id"
        assert len(ext) == len(truth)
        assert ext[key].is_unique
        assert (ext[key].to_numpy() == truth[key].to_numpy()).all()
        assert set(truth["person_id"]) <= pid
        # no truth id leaks into any column of an extract
        cols = ext.astype(str)
        for c in cols.columns:
            assert not cols[c].str.contains(r"^P\d{9}$|^F\d{8}$", regex=True).any(), (name, c)
    la = study.la
    t_la = study.truth["truth_la"]
    originals = t_la[t_la["is_duplicate"] == 0]
    # LA coverage is 1.0: every assessed person once, plus within-LA duplicate records
    assert originals["person_id"].is_unique
    assert set(originals["person_id"]) == set(people.loc[people["assessed"] == 1, "person_id"])
    assert 0 < t_la["is_duplicate"].sum() < 0.02 * len(t_la)
    assert la["la_id"].str.match(r"^LA\d{10}$").all()


def test_record_ids_not_derivable_from_person_order(study):
    t = study.truth["truth_dwp"].sort_values("person_id")
    ids = t["dwp_id"].str[3:].astype(np.int64).to_numpy()
    # sorted by person, record ids are not sorted (random), correlation near 0
    r = np.corrcoef(np.arange(len(ids)), ids)[0, 1]
    assert abs(r) < 0.1


def test_extract_coverage_and_outsiders(study):
    people = study.truth["truth_people"].set_index("person_id")
    for name, min_age, max_age in (("dwp", 16, 200), ("moj", 10, 200), ("dfe", 4, 17)):
        t = study.truth[f"truth_{name}"]
        p = people.loc[t["person_id"]]
        assert (p["age"] >= min_age).all() and (p["age"] <= max_age).all(), name
        outsiders = (p["assessed"] == 0).mean()
        assert 0.1 < outsiders < 0.6, (name, outsiders)
    # DfE covers most assessed school-age children, but not all
    school = people[(people["assessed"] == 1) & people["age"].between(4, 17)]
    in_dfe = school.index.isin(study.truth["truth_dfe"]["person_id"])
    assert 0.85 < in_dfe.mean() < 0.99
    # MoJ has aliases and duplicates; both are flagged only in truth
    tm = study.truth["truth_moj"]
    assert tm["is_alias"].sum() > 0 and tm["is_duplicate"].sum() > 0
    assert tm["person_id"].duplicated().sum() >= tm["is_alias"].sum()


def test_programme_flags(study):
    prog = study.programme
    flags = prog[list(PROBLEMS)].to_numpy()
    assert ((flags.sum(axis=1) >= 2) == (prog["eligible"] == 1)).all()
    # latent factor: every pair of problems is positively correlated
    c = np.corrcoef(flags.T.astype(float))
    assert (c[np.triu_indices(6, 1)] > 0).all()
    sup = prog["intervention_status"] == "supported"
    assert (prog.loc[sup, "start_date"].notna()).all()
    assert prog.loc[~sup, "start_date"].isna().all()
    ended = prog["end_date"].notna()
    assert (prog.loc[ended, "end_date"] > prog.loc[ended, "start_date"]).all()
    assert set(prog["intervention_status"]) <= {"supported", "declined", "waiting",
                                                "not_eligible"}
    # prevalence of worklessness close to the configured 0.55
    assert abs(prog["worklessness"].mean() - 0.55) < 0.05


def test_family_structure(study):
    p = study.truth["truth_people"]
    fam = p.groupby("family_id")
    assert (fam["role"].apply(lambda r: (r == "adult").sum()) == 1).all()
    adults = p[p["role"] != "child"].groupby("family_id")["age"].min()
    kids = p[p["role"] == "child"].groupby("family_id")["age"].max()
    both = pd.concat([adults, kids], axis=1, keys=["a", "k"]).dropna()
    assert (both["a"] - both["k"] >= 15).all()  # parents at least ~16 at the eldest's birth
    # most children share a surname with an adult of the family
    fam_names = p[p["role"] != "child"].groupby("family_id")["surname"].apply(set)
    kids_rows = p[p["role"] == "child"]
    shared = [s in fam_names.get(f, set()) for f, s in zip(kids_rows["family_id"],
                                                            kids_rows["surname"])]
    assert 0.75 < np.mean(shared) < 0.97
    # households share postcodes
    per_pc = p.groupby("postcode")["family_id"].nunique()
    assert (per_pc > 1).mean() > 0.2


def test_assessment_after_births(study):
    t = study.truth["truth_la"]
    people = study.truth["truth_people"].set_index("person_id")
    dob = pd.to_datetime(people.loc[t["person_id"], "dob"].to_numpy())
    assessed = pd.to_datetime(study.la["assessment_date"].to_numpy())
    assert (assessed > dob).mean() > 0.99
    ref = pd.Timestamp("2024-03-31")
    assert (assessed <= ref).all()
    start = pd.to_datetime(study.la["start_date"].replace("", None))
    assert (start.dropna() <= ref).all()


@pytest.mark.parametrize("n", [1, 2, 7])
def test_tiny_studies(tmp_path, n):
    counts = write_study(generate_study(n, seed=n), tmp_path)
    assert counts["la"] >= n
    assert counts["truth_la"] == counts["la"]

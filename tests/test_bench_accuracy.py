"""benchmarks/bench_accuracy.py keeps working: its scoring, and the nislink and Splink paths
on small data (the clkhash + anonlink path needs the peers' virtualenv and is not run here)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from benchmark_module import load_benchmark


def _load():  # type: ignore[no-untyped-def]
    return load_benchmark("bench_accuracy")


ba = _load()


def test_score_pairs_linkage() -> None:
    truth = [("a1", "b1"), ("a2", "b2"), ("a3", "b3"), ("a3", "b4")]
    pred = [("a1", "b1"), ("a2", "b2"), ("a2", "b2"), ("a4", "b9"), ("b3", "a3")]
    m = ba.score_pairs(pred, truth)
    # duplicates count once; linkage pairs are ordered, so (b3, a3) is not (a3, b3)
    assert (m["tp"], m["fp"], m["fn"]) == (2, 2, 2)
    assert m["precision"] == pytest.approx(0.5) and m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(0.5)
    assert ba.score_pairs([], truth)["f1"] == 0.0
    assert ba.score_pairs([], [])["recall"] == 1.0


def test_score_pairs_dedupe_and_clusters() -> None:
    truth = ba.cluster_pairs(["r1", "r2", "r3", "r4", "r5"], ["x", "x", "x", "y", "z"])
    assert truth == {("r1", "r2"), ("r1", "r3"), ("r2", "r3")}
    labels = ba.connected_components(["r1", "r2", "r3", "r4", "r5"],
                                     [("r2", "r1"), ("r4", "r3")])
    assert labels["r1"] == labels["r2"] == "r1" and labels["r3"] == labels["r4"] == "r3"
    pred = ba.cluster_pairs(labels.keys(), labels.values())
    m = ba.score_pairs(pred | {("r5", "r5")}, truth, dedupe=True)  # a self-pair is ignored
    assert (m["tp"], m["fp"], m["fn"]) == (1, 1, 2)
    # unordered in de-duplication
    assert ba.score_pairs([("r2", "r1")], [("r1", "r2")], dedupe=True)["f1"] == 1.0


def test_greedy_one_to_one_and_reachable() -> None:
    df = pd.DataFrame({"a": ["x", "x", "y", "z"], "b": ["1", "2", "1", "3"],
                       "p": [0.9, 0.8, 0.95, 0.6], "w": [1, 1, 1, 1]})
    kept = ba.greedy_one_to_one(df, "a", "b", "p", tie="w")
    assert sorted(zip(kept["a"], kept["b"])) == [("x", "2"), ("y", "1"), ("z", "3")]
    t = pd.DataFrame({"id_a": ["a1", "a1", "a2"], "id_b": ["b1", "b2", "b1"]})
    assert ba.reachable_one_to_one(t) == 2


def test_standardise() -> None:
    df = pd.DataFrame({"forename": ["Zoë", "O'Brien", None], "surname": ["Smith-Jones", "x", ""],
                       "dob": ["04/07/2014", "20070409", "12-Mar-1980"],
                       "sex": ["Female", "1", ""], "postcode": ["ls141fl", "B7 2LU", "bad"],
                       "nino": ["KR 81 28 93 D", None, ""]}, index=[1, 2, 3])
    s = ba.standardise(df, "uk")
    assert s["forename"].tolist() == ["zoe", "obrien", None]
    assert s["surname"].tolist() == ["smith jones", "x", None]
    assert s["dob"].tolist() == ["2014-07-04", "2007-04-09", "1980-03-12"]
    assert s["sex"].tolist() == ["f", "m", None]
    assert s["postcode"].tolist() == ["LS14 1FL", "B7 2LU", None]
    assert s["nino"].tolist() == ["KR812893D", None, None]
    assert list(s.index) == ["1", "2", "3"]


def test_nislink_and_splink_end_to_end(tmp_path: Path) -> None:
    """``--quick`` on a 500-entity FEBRL4 subset and on an external pair of CSV files (a
    small synthetic LA x MoJ), nislink and Splink, scored and written as JSON."""
    ds = ba.load_synth("moj", 2000, 7)
    a = ds.a.reset_index().rename(columns={"rid": "ID", "forename": "First", "dob": "Born"})
    b = ds.b.reset_index().rename(columns={"rid": "ref", "surname": "Family"})
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    ds.truth.to_csv(tmp_path / "truth.csv", index=False)
    out = tmp_path / "out.json"
    rc = ba.main(["--quick", "--datasets", "febrl4", "--skip-peers", "--splink-u-pairs", "1e6",
                  "--json", str(out), "--csv", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
                  str(tmp_path / "truth.csv"),
                  "--columns-a", "id=ID,forename=First,surname=surname,dob=Born,sex=sex,"
                                 "postcode=postcode,nino=nino",
                  "--columns-b", "id=ref,forename=forename,surname=Family,dob=dob,sex=sex,"
                                 "postcode=postcode,nino=nino"])
    assert rc == 0
    doc = json.loads(out.read_text())
    rows = {(r["dataset"], r["linker"].split()[0]): r for r in doc["rows"]}
    assert rows[("febrl4", "nislink")]["true_pairs"] == 500
    for key in [("febrl4", "nislink"), ("febrl4", "Splink"), ("csv", "nislink"),
                ("csv", "Splink")]:
        assert rows[key]["f1"] > 0.85, (key, rows[key])
        assert rows[key]["precision"] > 0.95, (key, rows[key])
    assert rows[("febrl4", "clkhash")]["f1"] is None  # skipped, and said so
    assert "skipped" in rows[("febrl4", "clkhash")]["error"]
    assert doc["versions"]["splink"]


def test_error_analysis_on_synthetic_truth() -> None:
    """The false-link / missed-link classification runs on the synthetic truth."""
    ds = ba.load_synth("dwp", 1500, 3)
    r = ba.run_nislink(ds)
    r["_stage_all_scored"] = True
    pred = list(r["_pred"])
    truth = list(zip(ds.truth["id_a"], ds.truth["id_b"]))
    # plant one false link and drop one true link, so both branches are exercised
    kept = [p for p in pred if p != truth[0]]
    a_free = sorted(set(ds.a.index) - {x for x, _ in kept})
    b_free = sorted(set(ds.b.index) - {y for _, y in kept} - {y for _, y in truth})
    kept.append((a_free[0], b_free[0]))
    an = ba.analyse_errors(ds, {**r, "_pred": kept})
    assert an["false_positives"] >= 1 and an["false_negatives"] >= 1
    assert sum(an["fn_where_lost"].values()) == an["false_negatives"]
    assert sum(an["fp_relation"].values()) == an["false_positives"]

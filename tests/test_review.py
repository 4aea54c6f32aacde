"""Clerical review round trip on synthetic study data (reviewer simulated with the truth),
and evaluation by named id columns."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nislink
from nislink import review
from nislink.cli import main
from nislink.encode import Encoder
from nislink.evaluate import IdColumnError, evaluate_pairs
from nislink.model import FellegiSunter
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

SECRET = Secret.from_bytes(bytes(range(32)))


def _prep(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in ("nino", "upn"):
        if c not in df:
            df[c] = None
    return df


@pytest.fixture(scope="module")
def linked():  # type: ignore[no-untyped-def]
    st = generate_study(2500, seed=7)
    enc = Encoder(Schema.uk_default(), SECRET, workers=1)
    a = enc.encode(_prep(st.extracts["la"]), id_column="la_id")
    b = enc.encode(_prep(st.extracts["dwp"]), id_column="dwp_id")
    t = st.truth["truth_la"][["la_id", "person_id"]].merge(
        st.truth["truth_dwp"][["dwp_id", "person_id"]], on="person_id")
    truth = set(zip(t["la_id"].astype(str), t["dwp_id"].astype(str)))
    # one EM and no dependence terms: a model that is off in the uncertain band
    res = nislink.link(a, b, keep_scores=True, em_sessions=None, dependence=False,
                       u_pairs=200_000)
    return st, a, b, truth, res


def _decide(sheet: pd.DataFrame, truth: set[tuple[str, str]]) -> pd.DataFrame:
    done = sheet.copy()
    done["decision"] = ["match" if (x, y) in truth else "non-match"
                        for x, y in zip(done["id_a"], done["id_b"])]
    return done


def test_export_holds_ids_levels_and_weights_only(linked) -> None:  # type: ignore[no-untyped-def]
    st, a, b, truth, res = linked
    sheet = review.export(res, a, b, lo=-5, hi=10)
    s = res.scores
    band = s[(s["match_weight"] >= -5) & (s["match_weight"] <= 10)]
    assert len(sheet) == len(band) > 50  # every pair of the band, before one-to-one
    assert len(sheet) > len(set(sheet["id_a"]))  # a record in several pairs: not resolved
    names = [c.name for c in res.model.comparisons]
    assert list(sheet.columns) == (
        ["id_a", "id_b", "decision", "match_weight", "match_probability", "weight:prior"]
        + [x for n in names for x in (f"level:{n}", f"weight:{n}")] + ["weight:dependence"])
    # the partial weights add up to the match weight
    parts = sheet[[c for c in sheet.columns if c.startswith("weight:")]].sum(axis=1)
    np.testing.assert_allclose(parts, sheet["match_weight"], atol=1e-9)
    assert sheet["match_weight"].is_monotonic_decreasing
    assert (sheet["decision"] == "").all()
    # levels are the comparisons' labels; ids are the frames' reference numbers
    for c in res.model.comparisons:
        assert set(sheet[f"level:{c.name}"]) <= set(c.labels) | {"missing"}
    assert set(sheet["id_a"]) <= set(a.ids) and set(sheet["id_b"]) <= set(b.ids)
    # nothing of the identifiers or the encodings: no raw value, no token, no bits
    raw = st.extracts["la"]
    values = {str(v) for c in ("forename", "surname", "dob", "postcode") for v in raw[c]
              if isinstance(v, str) and len(v) > 2}
    cells = {str(v) for col in sheet.columns if sheet[col].dtype == object for v in sheet[col]}
    assert not cells & values
    tokens = {str(int(v)) for t in a.tokens.values() for v in t[:200] if v}
    assert not cells & tokens
    assert all(sheet[c].dtype == np.float64 for c in sheet.columns
               if c.startswith("weight:") or c.startswith("match_"))
    # a sample spread over the band, deterministic
    small = review.export(res, a, b, lo=-5, hi=10, max_pairs=20)
    assert len(small) == 20 and small.equals(review.export(res, a, b, lo=-5, hi=10,
                                                           max_pairs=20))
    assert small["match_weight"].iloc[0] == sheet["match_weight"].iloc[0]
    assert small["match_weight"].iloc[-1] == sheet["match_weight"].iloc[-1]


def test_review_round_trip_assess_and_refit(linked, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    st, a, b, truth, res = linked
    sheet = review.export(res, a, b, lo=-5, hi=10)
    path = review.write(sheet, tmp_path / "sheet.csv")
    done = _decide(pd.read_csv(path, dtype=str, keep_default_na=False), truth)
    done.loc[done.index[:3], "decision"] = "Unsure"   # case forgiven
    done.loc[done.index[3:5], "decision"] = ""        # not reviewed
    done.loc[done.index[5], "decision"] = "NON_MATCH" if (
        done["id_a"].iloc[5], done["id_b"].iloc[5]) not in truth else "match"
    done["match_weight"] = "edited"                   # the export's weights are used
    done = done.iloc[::-1]                            # reviewers sorted the sheet
    review.write(done, tmp_path / "done.parquet")
    dec = review.read(tmp_path / "done.parquet", path)
    assert len(dec) == len(sheet)
    assert set(dec["decision"]) == {"match", "non-match", "unsure", ""}
    assert np.array_equal(np.sort(dec["match_weight"].to_numpy()),
                          np.sort(sheet["match_weight"].to_numpy()))
    summary = review.assess(dec)
    decided = dec[dec["decision"].isin(["match", "non-match"])]
    true_prec = np.mean([(x, y) in truth for x, y in zip(decided["id_a"], decided["id_b"])])
    assert summary.precision == pytest.approx(true_prec)
    assert summary.counts == {"match": int((dec["decision"] == "match").sum()),
                              "non-match": int((dec["decision"] == "non-match").sum()),
                              "unsure": 3, "not reviewed": 2}
    assert summary.by_weight["pairs"].sum() == len(dec)
    assert "precision" in str(summary)
    # the model thinks the band is better than it is: the re-fit brings its estimate
    # towards the reviewers' and does not lose links
    assert summary.expected_precision > summary.precision + 0.05
    model = review.refit(res, a, b, dec)
    assert model.m != res.model.m and res.model.m == FellegiSunter.from_dict(
        res.model.to_dict()).m  # a copy: the result's model is untouched
    after = nislink.link(a, b, model=model, keep_scores=True)
    s1 = after.scores
    key = dict(zip(zip(a.ids[s1["ia"]], b.ids[s1["ib"]]), s1["match_probability"]))
    expected_after = np.mean([key[(x, y)] for x, y in zip(decided["id_a"], decided["id_b"])])
    assert abs(expected_after - summary.precision) < abs(summary.expected_precision
                                                          - summary.precision)
    f_before = evaluate_pairs(res.pairs, list(truth))["f1"]
    f_after = evaluate_pairs(after.pairs, list(truth))["f1"]
    assert f_after >= f_before - 0.002, (f_before, f_after)
    assert model.info["review_refit"]["match"] == int((dec["decision"] == "match").sum())
    # and survives a JSON round trip for the command line
    assert FellegiSunter.from_json(model.to_json()).m == model.m


def test_bad_reviews_name_the_row(linked, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    st, a, b, truth, res = linked
    sheet = review.export(res, a, b, lo=-5, hi=10, max_pairs=10)
    sheet_path = review.write(sheet, tmp_path / "sheet.csv")
    bad = sheet.copy()
    bad.loc[bad.index[4], "decision"] = "probably"
    with pytest.raises(review.ReviewError, match=r"row 5 \(line 6, id_a=.*'probably' is not"):
        review.read(bad, sheet_path)
    bad = sheet.copy()
    bad.loc[bad.index[2], "id_b"] = "not-a-record"
    with pytest.raises(review.ReviewError, match=r"row 3 .*id_b=not-a-record\): this pair is "
                                                 r"not in the review sheet"):
        review.read(bad, sheet_path)
    with pytest.raises(review.ReviewError, match=r"row 11 .*also on row 1"):
        review.read(pd.concat([sheet, sheet.head(1)]), sheet_path)
    with pytest.raises(review.ReviewError, match=r"no column\(s\) decision"):
        review.read(sheet.drop(columns=["decision"]), sheet_path)
    with pytest.raises(review.ReviewError, match="not found"):
        review.read(tmp_path / "nope.csv", sheet_path)
    with pytest.raises(review.ReviewError, match="keep_scores=True"):
        review.export(nislink.link(a, b, model=res.model), a, b, lo=0, hi=1)
    with pytest.raises(review.ReviewError, match="lo <= hi"):
        review.export(res, a, b, lo=3, hi=1)
    blank = review.read(sheet, sheet)
    with pytest.raises(review.ReviewError, match="nothing to re-fit"):
        review.refit(res, a, b, blank)
    assert str(review.assess(blank)).endswith("no pair decided match or non-match yet")
    assert issubclass(review.ReviewError, nislink.NislinkError)


def test_dedupe_results_are_reviewed_too(linked) -> None:  # type: ignore[no-untyped-def]
    st, a, b, truth, res = linked
    d = nislink.dedupe(a, keep_scores=True, u_pairs=200_000)
    sheet = review.export(d, a, lo=-20, hi=40)
    assert len(sheet) == len(d.scores[(d.scores["match_weight"] >= -20)
                                      & (d.scores["match_weight"] <= 40)]) > 0
    assert set(sheet["id_a"]) | set(sheet["id_b"]) <= set(a.ids)
    with pytest.raises(review.ReviewError, match="one frame"):
        review.export(d, a, b, lo=0, hi=1)


def test_review_on_the_command_line(linked, tmp_path: Path,  # type: ignore[no-untyped-def]
                                    capsys: pytest.CaptureFixture[str]) -> None:
    st, a, b, truth, res = linked
    fa, fb = tmp_path / "la.parquet", tmp_path / "dwp.parquet"
    a.save(fa)
    b.save(fb)
    sheet, model = tmp_path / "sheet.csv", tmp_path / "model.json"
    assert main(["review", "export", str(fa), str(fb), "-o", str(sheet), "--min-weight", "-5",
                 "--max-weight", "10", "--save-model", str(model)]) == 0
    exported = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    assert len(exported) > 5 and (exported["decision"] == "").all()
    done = tmp_path / "done.csv"
    _decide(exported, truth).to_csv(done, index=False)
    capsys.readouterr()
    refit = tmp_path / "refit.json"
    assert main(["review", "import", str(done), "--sheet", str(sheet), "--refit", str(fa),
                 str(fb), "--model", str(model), "--save-model", str(refit)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"review of \d+ pairs: \d+ match", out) and "re-fitted with" in out
    links = tmp_path / "links.csv"
    assert main(["link", str(fa), str(fb), "-o", str(links), "--model", str(refit), "-q"]) == 0
    # a wrong decision is one line naming the row
    bad = _decide(exported, truth)
    bad.loc[3, "decision"] = "yes"
    bad.to_csv(done, index=False)
    capsys.readouterr()
    assert main(["review", "import", str(done), "--sheet", str(sheet)]) == 2
    err = capsys.readouterr().err
    assert "row 4 (line 5" in err and "'yes' is not one of match, non-match, unsure" in err
    assert err.count("\n") == 1
    assert main(["review", "import", str(done), "--sheet", str(tmp_path / "no.csv")]) == 2
    assert "no.csv" in capsys.readouterr().err


def test_evaluate_by_named_id_columns(linked, tmp_path: Path,  # type: ignore[no-untyped-def]
                                      capsys: pytest.CaptureFixture[str]) -> None:
    st, a, b, truth, res = linked
    links = res.pairs[["id_a", "id_b"]].rename(columns={"id_a": "la_person_ref",
                                                        "id_b": "dwp_person_ref"})
    true = pd.DataFrame(sorted(truth), columns=["la_person_ref", "dwp_person_ref"])
    expect = evaluate_pairs(res.pairs, list(truth))
    got = evaluate_pairs(links.assign(x=1)[["x", "la_person_ref", "dwp_person_ref"]], true,
                         id_columns=("la_person_ref", "dwp_person_ref"))
    assert got == expect
    with pytest.raises(IdColumnError, match=r"true pairs: no column\(s\) 'dwp_person_ref'"):
        evaluate_pairs(links, true.rename(columns={"dwp_person_ref": "dwp"}),
                       id_columns=("la_person_ref", "dwp_person_ref"))
    assert evaluate_pairs(links, true.rename(columns={"dwp_person_ref": "dwp"}),
                          id_columns=("la_person_ref", "dwp_person_ref"),
                          truth_id_columns=("la_person_ref", "dwp")) == expect
    lp, tp = tmp_path / "links.csv", tmp_path / "truth.csv"
    links.to_csv(lp, index=False)
    true.to_csv(tp, index=False)
    capsys.readouterr()
    assert main(["evaluate", str(lp), str(tp), "--id-columns", "la_person_ref",
                 "dwp_person_ref"]) == 0
    out = capsys.readouterr().out
    assert f"tp: {expect['tp']}" in out.replace("        ", "")
    assert main(["evaluate", str(lp), str(tp)]) == 2
    err = capsys.readouterr().err
    assert str(lp) in err and "'id_a', 'id_b'" in err and "--id-columns" in err
    assert main(["evaluate", str(lp), str(tp), "--id-columns", "la_person_ref", "dwp_ref"]) == 2
    err = capsys.readouterr().err
    assert str(lp) in err and "'dwp_ref'" in err and "la_person_ref, dwp_person_ref" in err

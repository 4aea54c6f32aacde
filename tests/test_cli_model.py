"""`nislink link/dedupe --save-scores --report` and `nislink model show | threshold |
explain` on real encoded files (issue 15), as a user runs them, with their errors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from nislink.cli import main
from nislink.encode import Encoder
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("model_cli")
    study = generate_study(1200, seed=9)
    enc = Encoder(Schema.uk_default(), Secret.from_bytes(bytes(range(32))), workers=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc.encode(study.la, id_column="la_id", party="la").save(d / "la.parquet")
        enc.encode(study.dwp, id_column="dwp_id", party="dwp").save(d / "dwp.parquet")
    out = {"dir": d, "la": d / "la.parquet", "dwp": d / "dwp.parquet"}
    assert main(["link", str(out["la"]), str(out["dwp"]), "-o", str(d / "links.csv"),
                 "--save-model", str(d / "model.json"), "--save-scores",
                 str(d / "scores.parquet"), "--report", str(d / "report.html"), "-q"]) == 0
    return out


def test_link_writes_scores_and_report(files: dict[str, Path]) -> None:
    d = files["dir"]
    links = pd.read_csv(d / "links.csv", dtype=str)
    scores = pd.read_parquet(d / "scores.parquet")
    assert list(scores.columns) == ["id_a", "id_b", "match_weight", "match_probability"]
    assert len(scores) > len(links) > 100
    assert scores["match_weight"].is_monotonic_decreasing
    # every link is a scored pair, with the same weight
    merged = links.merge(scores.astype({"id_a": str, "id_b": str}), on=["id_a", "id_b"])
    assert len(merged) == len(links)
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "<h1>Linkage of la and dwp</h1>" in page and "Suggested threshold" in page
    assert not any(i in page for i in links["id_a"].head(50))


def test_model_show(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    assert main(["model", "show", str(d / "model.json"), "-o", str(d / "params.csv"),
                 "--chart", str(d / "m_u.png")]) == 0
    out = capsys.readouterr().out
    assert "prior: P(two random records match)" in out and "weight_bits" in out
    params = pd.read_csv(d / "params.csv")
    model = json.loads((d / "model.json").read_text())
    assert set(params["field"]) == {c["name"] for c in model["comparisons"]}
    assert params.loc[0, "m"] == pytest.approx(model["m"][params.loc[0, "field"]][0])
    assert (d / "m_u.png").read_bytes()[:4] == b"\x89PNG"


def test_model_threshold(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    assert main(["model", "threshold", str(d / "scores.parquet"), "-o", str(d / "curve.csv"),
                 "--chart", str(d / "curve.svg"), "--histogram", str(d / "hist.png")]) == 0
    out = capsys.readouterr().out
    assert "suggested threshold: match weight" in out and "estimated precision" in out
    curve = pd.read_csv(d / "curve.csv")
    assert {"threshold", "precision", "recall", "f1", "accepted"} <= set(curve.columns)
    assert (d / "curve.svg").read_text().lstrip().startswith("<?xml")
    assert (d / "hist.png").stat().st_size > 5000
    # the same scores as CSV give the same suggestion
    pd.read_parquet(d / "scores.parquet").to_csv(d / "scores.csv", index=False)
    assert main(["model", "threshold", str(d / "scores.csv")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == out.splitlines()[0]


def test_model_explain(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    first = pd.read_csv(d / "links.csv", dtype=str).iloc[0]
    assert main(["model", "explain", str(d / "model.json"), str(files["la"]),
                 str(files["dwp"]), "--pair", first["id_a"], first["id_b"],
                 "--chart", str(d / "wf.png")]) == 0
    out = capsys.readouterr().out
    assert "prior" in out and "final" in out and "forename" in out
    assert (d / "wf.png").stat().st_size > 5000


def test_dedupe_scores_and_report(files: dict[str, Path],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    assert main(["dedupe", str(files["la"]), "-o", str(d / "clusters.csv"), "--save-scores",
                 str(d / "dd.csv"), "--report", str(d / "dd.html"), "-q"]) == 0
    assert "De-duplication of la" in (d / "dd.html").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["model", "threshold", str(d / "dd.csv"), "--one-to-one", "none"]) == 0
    assert "pairs are accepted at this weight" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["model", "show", "{d}/nothere.json"], "model file not found"),
    (["model", "show", "{d}/links.csv"], "not a nislink model"),
    (["model", "threshold", "{d}/nothere.csv"], "input file not found"),
    (["model", "threshold", "{d}/params_only.csv"], "no column match_weight"),
    (["model", "threshold", "{d}/bad_weight.csv"], "row 1: match_weight"),
    (["model", "threshold", "{d}/scores.parquet", "--chart", "{d}/c.xyz"], "use .png"),
    (["model", "threshold", "{d}/scores.parquet", "-o", "{d}/scores.parquet"],
     "refusing to overwrite"),
    (["model", "explain", "{d}/model.json", "{la}", "{dwp}", "--pair", "nobody", "x"],
     "no record with id nobody"),
    (["link", "{la}", "{dwp}", "-o", "{d}/l2.csv", "--report", "{d}"], "is a folder"),
])
def test_model_command_errors_are_one_line(files: dict[str, Path], argv: list[str],
                                           message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    pd.DataFrame({"id_a": ["a"], "id_b": ["b"]}).to_csv(d / "params_only.csv", index=False)
    pd.DataFrame({"id_a": ["a", "b"], "id_b": ["c", "d"], "match_weight": ["1", "x"]}).to_csv(
        d / "bad_weight.csv", index=False)
    args = [a.format(d=d, la=files["la"], dwp=files["dwp"]) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_a_links_table_is_flagged(files: dict[str, Path],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "threshold", str(files["dir"] / "links.csv")]) == 0
    assert "is it a links table?" in capsys.readouterr().err

"""Precision, recall and F1 estimated from the model alone, and the threshold chosen from
them (issue 15): formulas on a hand-made table, agreement with the truth when the
probabilities are calibrated, and the acceptance property on real data (FEBRL4 and the
synthetic study): the threshold chosen without truth is within 0.01 F1 of the best one in
hindsight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark_module import load_benchmark

from nislink.errors import NislinkError
from nislink.evaluate import (
    ScoresError,
    choose_threshold,
    estimate_threshold_metrics,
    plot_precision_recall,
)
from nislink.linkage import link

def _bench():  # type: ignore[no-untyped-def]
    return load_benchmark("bench_threshold")


def _table() -> pd.DataFrame:
    # record 0 of A has two partners (p 0.9 and 0.6): one-to-one keeps the first only
    return pd.DataFrame({"id_a": ["a0", "a0", "a1", "a2"], "id_b": ["b0", "b1", "b1", "b2"],
                         "match_weight": [3.0, 0.5, 2.0, -4.0],
                         "match_probability": [0.9, 0.6, 0.8, 0.1]})


def test_estimates_by_hand() -> None:
    t = _table()
    total = 0.9 + 0.6 + 0.8 + 0.1  # every scored pair, before one-to-one
    c = estimate_threshold_metrics(t, one_to_one=None, thresholds=[1.0, 0.0])
    assert c["accepted"].tolist() == [2, 3]
    assert c["expected_tp"].tolist() == pytest.approx([1.7, 2.3])
    assert c["precision"].tolist() == pytest.approx([1.7 / 2, 2.3 / 3])
    assert c["recall"].tolist() == pytest.approx([1.7 / total, 2.3 / total])
    assert c["f1"].tolist() == pytest.approx([3.4 / (2 + total), 4.6 / (3 + total)])
    # greedy one-to-one: (a0, b0) at 3, (a1, b1) at 2, (a2, b2) at -4; (a0, b1) dropped
    g = estimate_threshold_metrics(t, thresholds=[0.0, -5.0])
    assert g["accepted"].tolist() == [2, 3]
    assert g["expected_tp"].tolist() == pytest.approx([1.7, 1.8])
    assert g["expected_fn"].tolist() == pytest.approx([total - 1.7, total - 1.8])
    # the expected number of matches can be given (e.g. with pairs outside blocking)
    e = estimate_threshold_metrics(t, thresholds=[0.0], expected_matches=4.0)
    assert e["recall"].iloc[0] == pytest.approx(1.7 / 4.0)
    # without thresholds: every distinct weight of an acceptable pair, ascending
    assert estimate_threshold_metrics(t)["threshold"].tolist() == [-4.0, 2.0, 3.0]


def test_choice_is_the_best_cut_and_a_round_number() -> None:
    t = _table()
    ch = choose_threshold(t)
    # adding a pair raises F1 when its probability exceeds half the F1: 0.1 does not
    assert ch.accepted == 2 and ch.cut == (-4.0, 2.0)
    assert ch.threshold == 0.0 and -4.0 < ch.threshold <= 2.0
    assert ch.f1 == pytest.approx(ch.curve["f1"].max())
    assert "match weight 0" in str(ch) and "estimated precision 0.8500" in ch.explanation
    assert ch.near_best[0] < ch.threshold <= ch.near_best[1]
    assert "0.7 are missed (below the threshold or left out by one-to-one" in str(ch)


def test_estimates_match_the_truth_when_probabilities_are_calibrated() -> None:
    # pairs whose truth is drawn with exactly their probability: the estimate is unbiased
    rng = np.random.default_rng(3)
    n = 200_000
    w = np.concatenate([rng.normal(-8, 4, n - 20_000), rng.normal(9, 4, 20_000)])
    p = 1 / (1 + 2.0 ** -w)
    y = rng.random(n) < p
    scores = pd.DataFrame({"match_weight": w, "match_probability": p})
    ch = choose_threshold(scores, one_to_one=None)
    order = np.argsort(-w)
    tp = np.cumsum(y[order])
    f1_true = 2 * tp / (np.arange(1, n + 1) + y.sum())
    f1_at = 2 * y[w >= ch.threshold].sum() / ((w >= ch.threshold).sum() + y.sum())
    assert f1_true.max() - f1_at < 0.01
    assert abs(ch.f1 - f1_at) < 0.01
    assert abs(ch.expected_matches - y.sum()) < 0.01 * y.sum()
    # the estimated optimum accepts a pair when p > F1 / 2: near probability 0.5
    assert abs(ch.match_probability - 0.5) < 0.1


def test_bad_scores_say_what_is_wrong() -> None:
    t = _table()
    assert issubclass(ScoresError, NislinkError) and issubclass(ScoresError, ValueError)
    with pytest.raises(ScoresError, match="no column match_weight"):
        estimate_threshold_metrics(t.drop(columns="match_weight"))
    bad = t.copy()
    bad.loc[2, "match_weight"] = np.nan
    with pytest.raises(ScoresError, match="row 2: match_weight"):
        choose_threshold(bad)
    bad = t.copy()
    bad.loc[1, "match_probability"] = 1.5
    with pytest.raises(ScoresError, match="row 1: match_probability"):
        choose_threshold(bad)
    with pytest.raises(ScoresError, match="columns ia, ib or id_a, id_b"):
        choose_threshold(t.drop(columns=["id_a", "id_b"]))
    assert choose_threshold(t.drop(columns=["id_a", "id_b"]), one_to_one=None).accepted == 3
    with pytest.raises(ScoresError, match="one_to_one must be"):
        estimate_threshold_metrics(t, one_to_one="best")
    with pytest.raises(ScoresError, match="no scored pairs"):
        choose_threshold(t.iloc[:0])
    # probabilities are derived from the weights when absent
    same = estimate_threshold_metrics(t.drop(columns="match_probability"), one_to_one=None)
    assert same["accepted"].tolist() == [4, 3, 2, 1]


@pytest.fixture(scope="module")
def synth() -> tuple:  # type: ignore[type-arg]
    return _bench().synth_frames(3000, 1)


def test_result_without_scores_is_refused(synth) -> None:  # type: ignore[no-untyped-def]
    la, dwp, _ = synth
    res = link(la, dwp)
    with pytest.raises(ScoresError, match="keep_scores=True"):
        choose_threshold(res)
    again = link(la, dwp, model=res.model, keep_scores=True)
    curve = estimate_threshold_metrics(again)
    assert curve["f1"].between(0, 1).all() and curve["accepted"].is_monotonic_decreasing
    # the choice reads the estimates at any threshold from its curve: the same figures
    grid = np.linspace(-40.0, 40.0, 97)
    pd.testing.assert_frame_equal(choose_threshold(again).at(grid),
                                  estimate_threshold_metrics(again, thresholds=grid))
    # the accepted pairs are those link() returns at that threshold
    for t in (-5.0, 0.0, 7.5):
        n = int(estimate_threshold_metrics(again, thresholds=[t])["accepted"].iloc[0])
        assert n == len(link(la, dwp, model=res.model, min_weight=t).pairs)


def test_chosen_threshold_is_near_the_best_on_the_synthetic_study(synth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = _bench().measure(*synth)
    assert r["true_pairs"] > 500
    assert r["best_true_f1"] - r["true_f1_at_chosen"] <= 0.01, r
    assert abs(r["estimated_f1"] - r["true_f1_at_chosen"]) < 0.02, r
    la, dwp, _ = synth
    ch = choose_threshold(link(la, dwp, keep_scores=True))
    png = plot_precision_recall(ch.curve, tmp_path / "curve.png", threshold=ch.threshold)
    assert png.stat().st_size > 5000


def test_chosen_threshold_is_near_the_best_on_febrl4() -> None:
    r = _bench().measure(*_bench().febrl4_frames())
    assert r["true_pairs"] == 5000
    assert r["best_true_f1"] - r["true_f1_at_chosen"] <= 0.01, r
    assert abs(r["estimated_f1"] - r["true_f1_at_chosen"]) < 0.01, r

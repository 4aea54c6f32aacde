"""Evaluation metrics against hand-computed values; sweeps; charts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.evaluate import (
    cluster_pairs,
    confusion,
    evaluate_clusters,
    evaluate_pairs,
    f1_score,
    f_star,
    pair_set,
    pairs_completeness,
    plot_m_u,
    plot_precision_recall,
    plot_waterfall,
    plot_weight_histogram,
    reduction_ratio,
    threshold_sweep,
)


def test_hand_computed_metrics() -> None:
    pred = [("a1", "b1"), ("a2", "b2"), ("a3", "b9"), ("a4", "b4")]
    truth = pd.DataFrame({"id_a": ["a1", "a2", "a3", "a4", "a5"],
                          "id_b": ["b1", "b2", "b3", "b4", "b5"]})
    r = evaluate_pairs(pred, truth)
    assert (r["tp"], r["fp"], r["fn"]) == (3, 1, 2)
    assert r["precision"] == pytest.approx(3 / 4)
    assert r["recall"] == pytest.approx(3 / 5)
    assert r["f1"] == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))  # = 2/3
    assert r["f_star"] == pytest.approx(3 / 6)
    assert r["f_star"] == pytest.approx(r["f1"] / (2 - r["f1"]))


def test_empty_cases() -> None:
    assert f1_score(0, 0, 0) == 1.0 and f_star(0, 0, 0) == 1.0
    assert evaluate_pairs([], [("x", "y")])["recall"] == 0.0


def test_dedupe_pairs_are_unordered() -> None:
    assert pair_set([("b", "a"), ("a", "b"), ("c", "c")], dedupe=True) == {("a", "b")}
    c = confusion([("y", "x")], [("x", "y")], dedupe=True)
    assert c == {"tp": 1, "fp": 0, "fn": 0}
    with pytest.raises(ValueError, match="pair 1"):
        pair_set([("a", "b"), ("c",)])


def test_clusters_pairwise() -> None:
    ids = ["r1", "r2", "r3", "r4", "r5"]
    assert cluster_pairs(ids, [0, 0, 0, 1, 2]) == {("r1", "r2"), ("r1", "r3"), ("r2", "r3")}
    r = evaluate_clusters(ids, [0, 0, 1, 1, 2], [0, 0, 0, 1, 1])
    # predicted pairs {12, 34}; true pairs {12, 13, 23, 45}
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 3)


def test_blocking_measures() -> None:
    assert pairs_completeness([("a", "b"), ("c", "d")], [("a", "b"), ("e", "f")]) == 0.5
    assert reduction_ratio(10, 10, 10) == pytest.approx(0.9)
    assert reduction_ratio(9, 10) == pytest.approx(0.8)  # 45 possible pairs


@given(st.lists(st.tuples(st.floats(-20, 20, allow_nan=False), st.booleans()), max_size=50),
       st.integers(0, 10))
@settings(max_examples=80, deadline=None)
def test_threshold_sweep_matches_direct_count(  # type: ignore[no-untyped-def]
    rows, unscored
) -> None:
    w = np.array([r[0] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=bool)
    n_true = int(y.sum()) + unscored
    th = [-25.0, -1.5, 0.0, 3.25, 25.0]
    df = threshold_sweep(w, y, n_true, th)
    for t, row in zip(th, df.itertuples()):
        pred = w >= t
        tp = int((pred & y).sum())
        assert (row.tp, row.fp, row.fn) == (tp, int(pred.sum()) - tp, n_true - tp)


def test_charts_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    w = np.concatenate([rng.normal(15, 3, 200), rng.normal(-10, 4, 2000)])
    y = np.arange(len(w)) < 200
    paths = [
        plot_weight_histogram(w, tmp_path / "h.png", is_match=y, threshold=0),
        plot_precision_recall(threshold_sweep(w, y), tmp_path / "pr.png"),
        plot_m_u(pd.DataFrame({"field": ["f", "f"], "label": ["no", "yes"], "m": [0.1, 0.9],
                               "u": [0.9, 0.1]}), tmp_path / "mu.png"),
        plot_waterfall(pd.DataFrame({
            "component": ["prior", "f", "final"], "level": ["l", "yes", "p"],
            "log2_bayes_factor": [-5.0, 8.0, 3.0], "cumulative": [-5.0, 3.0, 3.0]}),
            tmp_path / "wf.png"),
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

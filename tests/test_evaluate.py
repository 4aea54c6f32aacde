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


def test_one_definition_of_the_blocking_metrics_and_its_edge_cases() -> None:
    import nislink.block as block
    import nislink.evaluate as evaluate

    assert block.pairs_completeness is evaluate.pairs_completeness
    assert block.reduction_ratio is evaluate.reduction_ratio
    # no true pairs: nothing to find (the convention of recall), in every form
    assert pairs_completeness([], []) == 1.0
    assert pairs_completeness([0], [0], [], []) == 1.0
    assert pairs_completeness(np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)) == 1.0
    # true pairs and no candidates
    assert pairs_completeness([], [("a", "b")]) == 0.0
    assert pairs_completeness([], [], [1], [2]) == 0.0
    # duplicates count once; the four-array form is the pair form
    assert pairs_completeness([0, 0, 1], [0, 0, 1], [0, 0, 2], [0, 0, 2]) == 0.5
    assert pairs_completeness([(0, 0), (1, 1)], [(0, 0), (0, 0), (2, 2)]) == 0.5
    # dedupe: unordered, self-pairs ignored, in the vectorised and the set paths alike
    cand = np.array([[1, 0], [2, 3]])
    truth = np.array([[0, 1], [3, 2], [4, 4], [5, 6]])
    assert pairs_completeness(cand, truth, dedupe=True) == pytest.approx(2 / 3)
    assert pairs_completeness(cand.tolist(), truth.tolist(), dedupe=True) == pytest.approx(2 / 3)
    assert pairs_completeness(cand, truth) == pytest.approx(0.0)
    # ids that are not positions go through the sets; bad shapes are named
    assert pairs_completeness(["a", "b"], ["x", "y"], ["a", "c"], ["x", "z"]) == 0.5
    with pytest.raises(ValueError, match="equal lengths"):
        pairs_completeness([0, 1], [0], [0], [0])
    with pytest.raises(TypeError, match="four arrays"):
        pairs_completeness([0], [0], [0])
    # reduction ratio: no possible pairs, nothing removed; impossible counts refused
    assert reduction_ratio(0, 1) == 0.0 and reduction_ratio(0, 0, 5) == 0.0
    assert reduction_ratio(45, 10) == 0.0 and reduction_ratio(0, 10, 10) == 1.0
    with pytest.raises(ValueError, match="only 45 possible"):
        reduction_ratio(46, 10)
    with pytest.raises(ValueError, match="negative"):
        reduction_ratio(-1, 10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=40),
       st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=40),
       st.booleans())
def test_vectorised_completeness_equals_the_set_definition(cand, truth, dedupe) -> None:  # type: ignore[no-untyped-def]
    t = pair_set(truth, dedupe=dedupe)
    expected = len(pair_set(cand, dedupe=dedupe) & t) / len(t) if t else 1.0
    as_arrays = [np.array(x, dtype=np.int64).reshape(-1, 2) for x in (cand, truth)]
    assert pairs_completeness(*as_arrays, dedupe=dedupe) == pytest.approx(expected)
    four = [as_arrays[0][:, 0], as_arrays[0][:, 1], as_arrays[1][:, 0], as_arrays[1][:, 1]]
    assert pairs_completeness(*four, dedupe=dedupe) == pytest.approx(expected)


def test_completeness_of_real_blocking() -> None:
    from nislink import Encoder, Schema, Secret
    from nislink.block import TokenBlocking, candidate_pairs
    from nislink.synth import generate_study

    study = generate_study(300, seed=11)
    enc = Encoder(Schema.uk_default(), Secret.from_bytes(bytes(range(32))), workers=1)
    la = enc.encode(study.la, id_column="la_id")
    dwp = enc.encode(study.dwp, id_column="dwp_id")
    truth_la = study.truth["truth_la"].set_index("la_id")["person_id"]
    truth_dwp = study.truth["truth_dwp"].set_index("dwp_id")["person_id"]
    pa_ = truth_la.reindex(la.ids).to_numpy()
    pb_ = truth_dwp.reindex(dwp.ids).to_numpy()
    ta, tb = np.nonzero(pa_[:, None] == pb_[None, :])
    ia, ib = candidate_pairs(la, dwp, [TokenBlocking(["mk1"])])
    pc = pairs_completeness(ia, ib, ta, tb)
    ids = list(zip(la.ids[ia], dwp.ids[ib]))
    true_ids = list(zip(la.ids[ta], dwp.ids[tb]))
    assert 0.3 < pc < 1.0 and len(ta) > 100
    assert pc == pytest.approx(pairs_completeness(ids, true_ids))
    assert 0.99 < reduction_ratio(len(ia), len(la), len(dwp)) < 1.0


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

"""Tests for nislink.compare: kernels against a plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nislink.compare as C
from nislink.encode import BitMatrix

# Run every test on the NumPy fallback and on both compiled threshold kernels: the
# per-word one and the vector one (whichever is this CPU's default).
MODES = ["numpy"] + (["words", "vector"] if C.HAVE_NUMBA else [])


@pytest.fixture(params=MODES)
def mode(request, monkeypatch):
    monkeypatch.setattr(C, "_USE_COMPILED", request.param != "numpy")
    monkeypatch.setattr(C, "_USE_VECTOR", request.param == "vector")
    return request.param


HSET = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def ref_counts(x: list[bool], y: list[bool]) -> tuple[int, int, int]:
    inter = sum(1 for u, v in zip(x, y) if u and v)
    return inter, sum(x), sum(y)


def ref_dice(x: list[bool], y: list[bool]) -> float:
    inter, px, py = ref_counts(x, y)
    return 2.0 * inter / (px + py) if px + py else 0.0


def ref_jaccard(x: list[bool], y: list[bool]) -> float:
    inter, px, py = ref_counts(x, y)
    return inter / (px + py - inter) if px + py - inter else 0.0


def ref_hamming(x: list[bool], y: list[bool]) -> int:
    return sum(1 for u, v in zip(x, y) if u != v)


@st.composite
def filter_sets(draw, max_rows: int = 12):
    """Two random filter sets of one width (including widths that are not multiples of 64)."""
    nbits = draw(st.sampled_from([1, 7, 63, 64, 65, 100, 128, 200]))
    seed = draw(st.integers(0, 2**32 - 1))
    na = draw(st.integers(0, max_rows))
    nb = draw(st.integers(0, max_rows))
    rng = np.random.default_rng(seed)
    # per-row densities from empty to full so empty and identical filters occur
    da = rng.choice([0.0, 0.1, 0.3, 0.5, 1.0], size=(na, 1))
    db = rng.choice([0.0, 0.1, 0.3, 0.5, 1.0], size=(nb, 1))
    xa = rng.random((na, nbits)) < da
    xb = rng.random((nb, nbits)) < db
    if na and nb:  # plant near-copies
        k = min(na, nb) // 2
        xb[:k] = xa[:k] ^ (rng.random((k, nbits)) < 0.05)
    return xa, xb


def _pack(x: np.ndarray) -> BitMatrix:
    return BitMatrix.from_bool(x)


@given(filter_sets(), st.integers(0, 2**31))
@HSET
def test_pair_kernels_equal_reference(mode, sets, seed):
    xa, xb = sets
    a, b = _pack(xa), _pack(xb)
    rng = np.random.default_rng(seed)
    npairs = 0 if not (len(xa) and len(xb)) else 30
    ia = rng.integers(0, max(len(xa), 1), npairs)
    ib = rng.integers(0, max(len(xb), 1), npairs)
    d = C.dice_pairs(a, b, ia, ib, chunk=7)
    j = C.jaccard_pairs(a, b, ia, ib, chunk=7)
    h = C.hamming_pairs(a, b, ia, ib, chunk=7)
    n = C.intersection_pairs(a, b, ia, ib)
    assert d.dtype == np.float32 and j.dtype == np.float32
    assert h.dtype == np.int32 and n.dtype == np.int32
    for k in range(npairs):
        x, y = xa[ia[k]].tolist(), xb[ib[k]].tolist()
        assert d[k] == np.float32(ref_dice(x, y))
        assert j[k] == np.float32(ref_jaccard(x, y))
        assert h[k] == ref_hamming(x, y)
        assert n[k] == ref_counts(x, y)[0]


@given(filter_sets())
@HSET
def test_dice_matrix_equals_reference(mode, sets):
    xa, xb = sets
    m = C.dice_matrix(_pack(xa), _pack(xb))
    assert m.shape == (len(xa), len(xb)) and m.dtype == np.float32
    for i in range(len(xa)):
        for j in range(len(xb)):
            assert m[i, j] == np.float32(ref_dice(xa[i].tolist(), xb[j].tolist()))


def brute_threshold(xa, xb, t, self_join=False):
    out = []
    for i in range(len(xa)):
        for j in range(len(xb)):
            if self_join and j <= i:
                continue
            d = ref_dice(xa[i].tolist(), xb[j].tolist())
            if d >= t:
                out.append((i, j, d))
    return out


@given(filter_sets(), st.sampled_from([0.0, 0.3, 0.5, 0.7, 0.8, 0.95, 1.0]))
@HSET
def test_threshold_pairs_equal_brute_force(mode, sets, t):
    xa, xb = sets
    a, b = _pack(xa), _pack(xb)
    ia, ib, sc = C.threshold_pairs(a, b, t, rows_per_chunk=5)
    exp = brute_threshold(xa, xb, t)
    assert list(zip(ia.tolist(), ib.tolist())) == [(i, j) for i, j, _ in exp]
    assert np.array_equal(sc, np.array([d for *_, d in exp], dtype=np.float32))
    # self-join: each unordered pair once, ia < ib
    ia, ib, sc = C.threshold_pairs(a, None, t)
    exp = brute_threshold(xa, xa, t, self_join=True)
    assert list(zip(ia.tolist(), ib.tolist())) == [(i, j) for i, j, _ in exp]


@given(filter_sets(), st.sampled_from([0.0, 0.5, 0.8]), st.integers(1, 4))
@HSET
def test_topk_equals_brute_force(mode, sets, t, k):
    xa, xb = sets
    a, b = _pack(xa), _pack(xb)
    ia, ib, sc = C.topk(a, b, k, t, rows_per_chunk=4)
    exp = []
    for i in range(len(xa)):
        row = [(i, j, ref_dice(xa[i].tolist(), xb[j].tolist())) for j in range(len(xb))]
        row = sorted((r for r in row if r[2] >= t), key=lambda r: (-r[2], r[1]))[:k]
        exp.extend(row)
    assert list(zip(ia.tolist(), ib.tolist())) == [(i, j) for i, j, _ in exp]
    assert np.array_equal(sc, np.array([d for *_, d in exp], dtype=np.float32))
    # self search excludes the row itself
    ia, ib, _ = C.topk(a, None, k, t)
    assert not np.any(ia == ib)


def test_exact_threshold_is_kept(mode):
    # Dice exactly 0.7: |x|=|y|=10, |x & y|=7
    x = np.zeros((1, 64), bool)
    y = np.zeros((1, 64), bool)
    x[0, :10] = True
    y[0, 3:13] = True
    ia, ib, sc = C.threshold_pairs(_pack(x), _pack(y), 0.7)
    assert list(ia) == [0] and list(ib) == [0] and sc[0] == np.float32(0.7)
    ia, _, _ = C.threshold_pairs(_pack(x), _pack(y), 0.7000001)
    assert len(ia) == 0


def test_empty_filters_score_zero(mode):
    e = _pack(np.zeros((2, 100), bool))
    assert list(C.dice_pairs(e, e, [0, 1], [1, 0])) == [0.0, 0.0]
    assert list(C.jaccard_pairs(e, e, [0], [0])) == [0.0]
    assert list(C.hamming_pairs(e, e, [0], [0])) == [0]
    assert len(C.threshold_pairs(e, e, 0.5)[0]) == 0
    assert len(C.threshold_pairs(e, e, 0.0)[0]) == 4  # threshold 0 keeps every pair


def test_many_results_per_row_overflow_path(mode):
    # identical filters: every row matches every row (more than the kernel's first cap)
    x = np.tile(np.random.default_rng(3).random((1, 130)) < 0.4, (40, 1))
    ia, ib, sc = C.threshold_pairs(_pack(x), _pack(x), 0.9)
    assert len(ia) == 1600 and np.all(sc == 1.0)
    ia, ib, _ = C.threshold_pairs(_pack(x), None, 0.9)
    assert len(ia) == 40 * 39 // 2 and np.all(ia < ib)


def test_bad_input_errors():
    a = _pack(np.ones((3, 64), bool))
    b = _pack(np.ones((3, 65), bool))
    with pytest.raises(ValueError, match="different lengths"):
        C.dice_pairs(a, b, [0], [0])
    with pytest.raises(IndexError, match="ib holds position 3"):
        C.dice_pairs(a, a, [0], [3])
    with pytest.raises(ValueError, match="differ in length"):
        C.dice_pairs(a, a, [0, 1], [0])
    with pytest.raises(TypeError, match="integer"):
        C.dice_pairs(a, a, np.array([0.5]), [0])
    with pytest.raises(ValueError, match="threshold"):
        C.threshold_pairs(a, a, 1.5)
    with pytest.raises(ValueError, match="k must be"):
        C.topk(a, a, 0)
    with pytest.raises(TypeError, match="BitMatrix"):
        C.dice_pairs(a.bits, a, [0], [0])  # type: ignore[arg-type]


def test_compiled_kernels_are_available():
    """numba is a hard dependency: the fast kernels must be in use, not the fallback."""
    assert C.HAVE_NUMBA


def test_results_do_not_depend_on_thread_count():
    import numba

    rng = np.random.default_rng(11)
    x = rng.random((300, 256)) < 0.3
    y = x.copy()
    y[::2] ^= rng.random((150, 256)) < 0.05
    a, b = _pack(x), _pack(y)
    runs = []
    before = numba.get_num_threads()
    try:
        for nt in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            C.set_threads(nt)
            runs.append((C.threshold_pairs(a, b, 0.6), C.topk(a, b, 3, 0.5)))
    finally:
        numba.set_num_threads(before)
    for (t1, k1), (t2, k2) in zip(runs, runs[1:]):
        for u, v in zip(t1 + k1, t2 + k2):
            assert np.array_equal(u, v)
    # and the compiled and NumPy paths agree
    was = C._USE_COMPILED
    try:
        C._USE_COMPILED = False
        t_np = C.threshold_pairs(a, b, 0.6)
        C._USE_COMPILED = True
        t_nb = C.threshold_pairs(a, b, 0.6)
    finally:
        C._USE_COMPILED = was
    for u, v in zip(t_nb, t_np):
        assert np.array_equal(u, v)

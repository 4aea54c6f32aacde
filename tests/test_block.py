"""Tests for nislink.block: candidate generation and blocking metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.block import (
    AllPairs,
    BlockingStats,
    LengthFilter,
    LSHBlocking,
    TokenBlocking,
    candidate_pairs,
    iter_candidate_pairs,
    length_filter_mask,
    lsh_band_probability,
    lsh_parameters,
    pairs_completeness,
    reduction_ratio,
)
from nislink.encode import BitMatrix, EncodedFrame


def frame(clk: np.ndarray | None = None, **tokens: np.ndarray) -> EncodedFrame:
    n = len(clk) if clk is not None else len(next(iter(tokens.values())))
    return EncodedFrame(
        ids=np.array([f"r{i}" for i in range(n)], dtype=object),
        fields={} if clk is None else {"name": BitMatrix.from_bool(clk)},
        clk=None if clk is None else BitMatrix.from_bool(clk),
        tokens={k: np.asarray(v, dtype=np.uint64) for k, v in tokens.items()},
        meta={},
    )


def pairs_set(ia: np.ndarray, ib: np.ndarray) -> list[tuple[int, int]]:
    return list(zip(ia.tolist(), ib.tolist()))


def brute_token_join(tas, tbs, self_join=False):
    out = set()
    na = len(tas[0])
    nb = len(tbs[0])
    for ta, tb in zip(tas, tbs):
        for i in range(na):
            for j in range(nb):
                if self_join and j <= i:
                    continue
                if ta[i] != 0 and ta[i] == tb[j]:
                    out.add((i, j))
    return sorted(out)


tok_arrays = st.lists(st.integers(0, 6), min_size=0, max_size=30)


@given(tok_arrays, tok_arrays, st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_token_blocking_equals_brute_force_join(xs, ys, seed):
    rng = np.random.default_rng(seed)
    t1a, t1b = np.array(xs, np.uint64), np.array(ys, np.uint64)
    t2a = rng.integers(0, 4, len(xs)).astype(np.uint64)
    t2b = rng.integers(0, 4, len(ys)).astype(np.uint64)
    if not len(xs) or not len(ys):
        return
    a, b = frame(mk1=t1a, mk2=t2a), frame(mk1=t1b, mk2=t2b)
    ia, ib = candidate_pairs(a, b, [TokenBlocking(["mk1", "mk2"])])
    assert ia.dtype == np.int64 and ib.dtype == np.int64
    assert pairs_set(ia, ib) == brute_token_join([t1a, t2a], [t1b, t2b])
    # de-duplication: i < j only
    ia, ib = candidate_pairs(a, None, [TokenBlocking(["mk1", "mk2"])])
    assert pairs_set(ia, ib) == brute_token_join([t1a, t2a], [t1a, t2a], self_join=True)


def test_union_removes_duplicates_and_sorts():
    t = np.array([1, 1, 2, 0], np.uint64)
    a = frame(x=t, y=t.copy())
    b = frame(x=np.array([1, 2, 2], np.uint64), y=np.array([1, 2, 2], np.uint64))
    st_ = BlockingStats()
    ia, ib = candidate_pairs(a, b, [TokenBlocking(["x"]), TokenBlocking(["y"])], stats=st_)
    assert pairs_set(ia, ib) == [(0, 0), (1, 0), (2, 1), (2, 2)]
    assert st_.generated == {"token:x": 4, "token:y": 4}
    assert st_.pairs == 4


def test_max_block_size_drops_and_counts():
    ta = np.array([5] * 6 + [7, 7], np.uint64)
    tb = np.array([5] * 3 + [7], np.uint64)
    st_ = BlockingStats()
    ia, ib = candidate_pairs(frame(k=ta), frame(k=tb), [TokenBlocking("k", max_block_size=5)],
                             stats=st_)
    assert pairs_set(ia, ib) == [(6, 3), (7, 3)]
    assert st_.dropped_blocks["token:k"] == 1 and st_.dropped_pairs["token:k"] == 18
    st_ = BlockingStats()
    ia, ib = candidate_pairs(frame(k=ta), None, [TokenBlocking("k", max_block_size=5)], stats=st_)
    assert pairs_set(ia, ib) == [(6, 7)]
    assert st_.dropped_pairs["token:k"] == 15


def _random_frames(seed: int, na: int = 120, nb: int = 90, nbits: int = 100):
    rng = np.random.default_rng(seed)
    xa = rng.random((na, nbits)) < rng.uniform(0.0, 0.5, (na, 1))
    xb = rng.random((nb, nbits)) < rng.uniform(0.0, 0.5, (nb, 1))
    xb[: nb // 2] = xa[: nb // 2] ^ (rng.random((nb // 2, nbits)) < 0.03)
    return (
        frame(xa, k=rng.integers(0, 30, na).astype(np.uint64)),
        frame(xb, k=rng.integers(0, 30, nb).astype(np.uint64)),
    )


@pytest.mark.parametrize("dedupe", [False, True])
def test_chunking_gives_identical_output(dedupe):
    a, b = _random_frames(1)
    b = None if dedupe else b
    rules = [TokenBlocking(["k"]), LSHBlocking(threshold=0.7, completeness=0.9), LengthFilter(0.6)]
    ia, ib = candidate_pairs(a, b, rules)
    chunks = list(iter_candidate_pairs(a, b, rules, chunk_pairs=37))
    assert len(chunks) > 3
    assert np.array_equal(np.concatenate([c[0] for c in chunks]), ia)
    assert np.array_equal(np.concatenate([c[1] for c in chunks]), ib)
    key = ia * 1000 + ib
    assert np.all(np.diff(key) > 0)  # sorted by (ia, ib), no duplicates
    if dedupe:
        assert np.all(ia < ib)


def test_determinism_and_seed():
    a, b = _random_frames(2)
    r1 = candidate_pairs(a, b, [LSHBlocking(threshold=0.7, completeness=0.9, seed=3)])
    r2 = candidate_pairs(a, b, [LSHBlocking(threshold=0.7, completeness=0.9, seed=3)])
    r3 = candidate_pairs(a, b, [LSHBlocking(threshold=0.7, completeness=0.9, seed=4)])
    assert all(np.array_equal(x, y) for x, y in zip(r1, r2))
    assert not (len(r1[0]) == len(r3[0]) and np.array_equal(r1[0], r3[0])
                and np.array_equal(r1[1], r3[1]))


def test_all_pairs_and_length_filter_equal_brute_force():
    a, b = _random_frames(4, na=40, nb=30)
    pa, pb = a.clk.popcount, b.clk.popcount
    ia, ib = candidate_pairs(a, b, [AllPairs(), LengthFilter(0.8)])
    exp = [
        (i, j)
        for i in range(40)
        for j in range(30)
        if pa[i] == 0 or pb[j] == 0 or 2 * min(pa[i], pb[j]) / (pa[i] + pb[j]) >= 0.8
    ]
    assert pairs_set(ia, ib) == exp
    ia, ib = candidate_pairs(a, None, [AllPairs()])
    assert len(ia) == 40 * 39 // 2 and np.all(ia < ib)
    m = length_filter_mask(np.array([10, 10, 0]), np.array([15, 16, 0]), 0.8, keep_missing=False)
    assert m.tolist() == [True, False, False]


def _pairs_at_dice(rng, n: int, nbits: int, density: float, dice: float):
    """n pairs of filters with equal popcounts and Dice as close to ``dice`` as possible."""
    x = rng.random((n, nbits)) < density
    y = x.copy()
    for i in range(n):
        ones = np.flatnonzero(x[i])
        zeros = np.flatnonzero(~x[i])
        move = int(math.ceil((1 - dice) * len(ones)))  # h = 2 * move = (1-d)(pa+pb)
        y[i, rng.choice(ones, move, replace=False)] = False
        y[i, rng.choice(zeros, move, replace=False)] = True
    return x, y


def test_lsh_reaches_target_completeness_at_threshold():
    rng = np.random.default_rng(5)
    n, nbits, target = 3000, 1024, 0.95
    x, y = _pairs_at_dice(rng, n, nbits, 0.3, 0.8)
    a, b = frame(x), frame(y)
    st_ = BlockingStats()
    ia, ib = candidate_pairs(a, b, [LSHBlocking(threshold=0.8, completeness=target)], stats=st_)
    truth = np.arange(n)
    pc = pairs_completeness(ia, ib, truth, truth)
    # the design promise, less three binomial standard errors
    assert pc >= target - 3 * math.sqrt(target * (1 - target) / n)
    assert st_.lsh[0].p_found >= target
    assert reduction_ratio(len(ia), n, n) > 0.9
    # a much weaker design finds fewer: the completeness is not an accident
    ia2, ib2 = candidate_pairs(a, b, [LSHBlocking(threshold=0.8, bits_per_band=30, bands=3)])
    assert pairs_completeness(ia2, ib2, truth, truth) < pc - 0.3


def test_lsh_parameters_meet_target():
    for t in (0.7, 0.8, 0.9):
        for c in (0.9, 0.99, 0.999):
            p = lsh_parameters(t, c, 1024, 300, n_a=10_000, n_b=10_000)
            q = lsh_band_probability(1024, 2 * 300 * (1 - t), p.bits_per_band)
            assert 1 - (1 - q) ** p.bands >= c
            assert p.p_found >= c
            if p.bands > 1:  # the smallest number of bands that does it
                assert 1 - (1 - q) ** (p.bands - 1) < c
    # the band probability is the exact without-replacement formula
    assert lsh_band_probability(10, 2, 2) == pytest.approx((8 / 10) * (7 / 9))


def test_lsh_ignores_empty_filters_and_uses_named_field():
    x = np.zeros((5, 64), bool)
    a = frame(x)
    ia, ib = candidate_pairs(a, None, [LSHBlocking(threshold=0.9, bits_per_band=4, bands=3)])
    assert len(ia) == 0  # empty filters would all collide if they took part
    y = np.random.default_rng(0).random((5, 64)) < 0.5
    b = frame(np.vstack([y, y]))
    ia, ib = candidate_pairs(b, None, [LSHBlocking(threshold=0.9, field="name")])
    assert set(zip(ia.tolist(), ib.tolist())) >= {(i, i + 5) for i in range(5)}


def test_metrics():
    assert pairs_completeness([0, 1, 2], [0, 1, 5], [0, 1, 2], [0, 1, 2]) == pytest.approx(2 / 3)
    assert pairs_completeness([0], [0], [0, 0], [0, 0]) == 1.0
    assert pairs_completeness([0], [0], [], []) == 1.0  # nothing to find (as recall)
    assert reduction_ratio(10, 10, 10) == pytest.approx(0.9)
    assert reduction_ratio(9, 10) == pytest.approx(0.8)


def test_bad_rules_and_inputs():
    a, b = _random_frames(6, na=10, nb=10)
    with pytest.raises(ValueError, match="generating rule"):
        candidate_pairs(a, b, [LengthFilter(0.5)])
    with pytest.raises(KeyError, match="no token 'zz'"):
        candidate_pairs(a, b, [TokenBlocking(["zz"])])
    with pytest.raises(KeyError, match="no field 'dob'"):
        candidate_pairs(a, b, [LSHBlocking(field="dob")])
    no_clk = frame(k=np.ones(3, np.uint64))
    with pytest.raises(ValueError, match="record-level filter"):
        candidate_pairs(no_clk, None, [LSHBlocking()])
    with pytest.raises(ValueError, match="completeness"):
        LSHBlocking(completeness=1.0)
    with pytest.raises(TypeError, match="unknown blocking rule"):
        candidate_pairs(a, b, ["mk1"])  # type: ignore[list-item]


def test_band_keys_compiled_equals_numpy(monkeypatch):
    import nislink.block as B

    rng = np.random.default_rng(9)
    bm = BitMatrix.from_bool(rng.random((50, 130)) < 0.4)
    pos = [np.sort(rng.choice(130, 20, replace=False)) for _ in range(5)]
    got = B._band_keys(bm, pos)
    monkeypatch.setattr(B, "_band_keys_compiled", None)
    ref = B._band_keys(bm, pos)
    assert np.array_equal(got, ref)
    dense = bm.to_bool()
    for g, p in enumerate(pos):  # and against a plain-Python reference
        for i in range(50):
            assert int(ref[i, g]) == sum(1 << k for k, q in enumerate(p) if dense[i, q])


def test_mix64_is_the_splitmix64_finaliser() -> None:
    from nislink.frame import mix64

    def reference(z: int) -> int:  # SplitMix64's output function, on Python integers
        m = (1 << 64) - 1
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        return z ^ (z >> 31)

    xs = np.array([0, 1, 2, 0x9E3779B97F4A7C15, (1 << 64) - 1, 12345678901234567],
                  dtype=np.uint64)
    assert mix64(xs).tolist() == [reference(int(x)) for x in xs]
    assert len(np.unique(mix64(np.arange(10_000, dtype=np.uint64)))) == 10_000  # a bijection

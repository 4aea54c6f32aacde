"""From scored pairs to decisions: one-to-one assignment and clustering (sixth stage).

* **Linking two files** (each person at most once per file): :func:`greedy_one_to_one`
  keeps pairs in order of decreasing weight, skipping any pair whose record is already
  taken; ties are broken by ``(ia, ib)`` so the result is deterministic.
  :func:`optimal_one_to_one` maximises the total weight of the kept pairs exactly
  (:func:`scipy.optimize.linear_sum_assignment` per connected component), falling back to
  greedy for components above ``max_component`` records.
* **De-duplication** (:func:`cluster`): connected components over the pairs at or above a
  threshold (:mod:`scipy.sparse.csgraph`), or, against chaining, ``method="centre"``:
  CENTER clustering (Hassanzadeh et al., 2009): edges are taken in decreasing weight; the
  first time a record is seen it either becomes a cluster centre or joins the centre it is
  linked to, and a record only ever joins a cluster through a direct edge to its centre. A
  long chain ``a - b - c - d`` of moderately similar records therefore cannot glue
  unrelated people into one cluster.
* **More than two sources** (:func:`cluster_sources`): greedy agglomeration in decreasing
  weight with union-find, refusing a merge that would put two records of the same source in
  one cluster (each source is assumed de-duplicated), i.e. one-to-one across every pair of
  sources at once.
* **Files that hold a few duplicates each** (:func:`cluster_files`): duplicates inside one
  file are merged first (their direct links), then links between files are taken in
  decreasing weight, refusing a merge of two clusters that already hold records of a
  common file; optionally clusters fixed in advance (people already held) are never merged
  with each other. This is how a study over waves links a new wave and how it re-links all
  waves at once (:mod:`nislink.nis.waves`).

Cluster ids are deterministic: clusters are numbered ``0, 1, ...`` in order of their
smallest member position.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "greedy_one_to_one",
    "optimal_one_to_one",
    "one_to_one",
    "cluster",
    "cluster_sources",
    "cluster_files",
    "canonical_labels",
]


def _as_pairs(
    ia: np.ndarray, ib: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.float64)
    if not (ia.shape == ib.shape == weight.shape) or ia.ndim != 1:
        raise ValueError(
            f"ia, ib and weight must be 1-D of equal length, got {ia.shape}, {ib.shape}, "
            f"{weight.shape}"
        )
    if np.isnan(weight).any():
        raise ValueError(f"weight has NaN at pair {int(np.flatnonzero(np.isnan(weight))[0])}")
    if ia.size and (ia.min() < 0 or ib.min() < 0):
        raise ValueError("ia and ib must be non-negative record positions")
    return ia, ib, weight


def _order(ia: np.ndarray, ib: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Pair order: decreasing weight, then increasing ``ia``, then increasing ``ib``."""
    return np.lexsort((ib, ia, -weight))


def greedy_one_to_one(ia: np.ndarray, ib: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Greedy one-to-one assignment; returns the positions of the kept pairs (sorted).

    Equivalent to scanning pairs by decreasing weight (ties by ``ia`` then ``ib``) and
    keeping a pair when neither record is taken. Implemented as rounds of "mutually best"
    pairs (each pair that is the best remaining pair of both its records is kept; every
    pair touching a kept record is dropped), which selects the same pairs as the scan
    because pairs are totally ordered.
    """
    ia, ib, weight = _as_pairs(ia, ib, weight)
    n = len(ia)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = _order(ia, ib, weight)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    alive = np.arange(n)
    kept: list[np.ndarray] = []
    na, nb = int(ia.max()) + 1, int(ib.max()) + 1
    while alive.size:
        r = rank[alive]
        best_a = np.full(na, n, dtype=np.int64)
        best_b = np.full(nb, n, dtype=np.int64)
        np.minimum.at(best_a, ia[alive], r)
        np.minimum.at(best_b, ib[alive], r)
        mutual = (best_a[ia[alive]] == r) & (best_b[ib[alive]] == r)
        chosen = alive[mutual]
        kept.append(chosen)
        used_a = np.zeros(na, dtype=bool)
        used_b = np.zeros(nb, dtype=bool)
        used_a[ia[chosen]] = True
        used_b[ib[chosen]] = True
        alive = alive[~(used_a[ia[alive]] | used_b[ib[alive]])]
        if alive.size and chosen.size * 20 < alive.size:
            # slow progress (long chains of near-equal weights): finish with a plain scan
            kept.append(_scan(ia, ib, alive[np.argsort(rank[alive])], used_a, used_b))
            break
    return np.sort(np.concatenate(kept))


def _scan(
    ia: np.ndarray, ib: np.ndarray, ordered: np.ndarray, used_a: np.ndarray, used_b: np.ndarray
) -> np.ndarray:
    out = []
    ua, ub = used_a.copy(), used_b.copy()
    for k, x, y in zip(ordered.tolist(), ia[ordered].tolist(), ib[ordered].tolist()):
        if not ua[x] and not ub[y]:
            ua[x] = ub[y] = True
            out.append(k)
    return np.asarray(out, dtype=np.int64)


def optimal_one_to_one(
    ia: np.ndarray, ib: np.ndarray, weight: np.ndarray, *, max_component: int = 2000
) -> np.ndarray:
    """Maximum-total-weight one-to-one assignment; returns kept pair positions (sorted).

    Pairs with weight <= 0 are never worth keeping (leaving both records unmatched scores
    0); filter pairs by threshold first. Each connected component of the bipartite pair
    graph is solved exactly with :func:`scipy.optimize.linear_sum_assignment`; a component
    with more than ``max_component`` records on one side falls back to greedy.
    """
    ia, ib, weight = _as_pairs(ia, ib, weight)
    n = len(ia)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ua, ra = np.unique(ia, return_inverse=True)
    ub, rb = np.unique(ib, return_inverse=True)
    na, nb = len(ua), len(ub)
    g = coo_matrix((np.ones(n), (ra, na + rb)), shape=(na + nb, na + nb))
    _, lab = connected_components(g, directed=False)
    comp = lab[ra]
    order = np.argsort(comp, kind="stable")
    bounds = np.flatnonzero(np.diff(comp[order])) + 1
    kept: list[np.ndarray] = []
    for grp in np.split(order, bounds):
        if len(grp) == 1:
            if weight[grp[0]] > 0:
                kept.append(grp)
            continue
        ga, gb = ra[grp], rb[grp]
        la, ia_loc = np.unique(ga, return_inverse=True)
        lb, ib_loc = np.unique(gb, return_inverse=True)
        if max(len(la), len(lb)) > max_component:
            sub = greedy_one_to_one(ga, gb, weight[grp])
            kept.append(grp[sub[weight[grp][sub] > 0]])
            continue
        # rows: a-records; columns: b-records, then one "stay unmatched" column per row.
        big = -1e18
        mat = np.full((len(la), len(lb) + len(la)), big)
        best_pair = np.full((len(la), len(lb)), -1, dtype=np.int64)
        # duplicates of the same (a, b) pair: keep the heaviest (ties: first in order)
        o = _order(ia_loc, ib_loc, weight[grp])[::-1]
        mat[ia_loc[o], ib_loc[o]] = weight[grp][o]
        best_pair[ia_loc[o], ib_loc[o]] = grp[o]
        mat[np.arange(len(la)), len(lb) + np.arange(len(la))] = 0.0
        rows, cols = linear_sum_assignment(mat, maximize=True)
        sel = cols < len(lb)
        rows, cols = rows[sel], cols[sel]
        ok = mat[rows, cols] > 0
        kept.append(best_pair[rows[ok], cols[ok]])
    return np.sort(np.concatenate(kept)) if kept else np.zeros(0, dtype=np.int64)


def one_to_one(
    ia: np.ndarray, ib: np.ndarray, weight: np.ndarray, *, method: str = "greedy"
) -> np.ndarray:
    """One-to-one assignment by ``method`` (``"greedy"`` or ``"optimal"``)."""
    if method == "greedy":
        return greedy_one_to_one(ia, ib, weight)
    if method == "optimal":
        return optimal_one_to_one(ia, ib, weight)
    raise ValueError(f"unknown assignment method {method!r} (use 'greedy' or 'optimal')")


def canonical_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber cluster labels ``0, 1, ...`` in order of each cluster's first member."""
    labels = np.asarray(labels)
    _, first, inv = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inv.reshape(-1)]


def cluster(
    n: int,
    i: np.ndarray,
    j: np.ndarray,
    weight: np.ndarray,
    *,
    threshold: float = -np.inf,
    method: str = "components",
) -> np.ndarray:
    """Cluster ``n`` records from scored pairs; returns a cluster id per record.

    Pairs with ``weight >= threshold`` are edges. ``method="components"``: connected
    components (transitive closure). ``method="centre"``: CENTER clustering against
    chaining (see the module docstring). Records in no edge are singleton clusters. Ids are
    deterministic: numbered in order of the smallest record position in each cluster.
    """
    i, j, weight = _as_pairs(i, j, weight)
    if i.size and max(int(i.max()), int(j.max())) >= n:
        raise ValueError(f"pair positions must be < n={n}")
    keep = weight >= threshold
    i, j, weight = i[keep], j[keep], weight[keep]
    if method == "components":
        g = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
        _, lab = connected_components(g, directed=False)
        return canonical_labels(lab)
    if method == "centre":
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        order = _order(lo, hi, weight)
        centre = np.full(n, -1, dtype=np.int64)  # cluster centre of each assigned record
        for x, y in zip(lo[order].tolist(), hi[order].tolist()):
            if x == y:
                continue
            cx, cy = centre[x], centre[y]
            if cx < 0 and cy < 0:
                centre[x] = x  # the first-seen record (smaller position) is the centre
                centre[y] = x
            elif cx < 0 and cy == y:
                centre[x] = y
            elif cy < 0 and cx == x:
                centre[y] = x
        unassigned = centre < 0
        centre[unassigned] = np.flatnonzero(unassigned)
        return canonical_labels(centre)
    raise ValueError(f"unknown clustering method {method!r} (use 'components' or 'centre')")


def cluster_sources(
    source: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    weight: np.ndarray,
    *,
    threshold: float = -np.inf,
    one_per_source: bool = True,
) -> np.ndarray:
    """Cluster records of several sources from cross-source scored pairs.

    ``source[k]`` is the source (any integer or string label) of global record ``k``;
    ``i``/``j`` index global records. Edges at or above ``threshold`` are merged in
    decreasing weight (ties by position); with ``one_per_source`` a merge is refused when
    the two clusters already hold records from a common source. Returns cluster ids
    numbered by smallest member position.
    """
    source = np.asarray(source)
    n = len(source)
    i, j, weight = _as_pairs(i, j, weight)
    if i.size and max(int(i.max()), int(j.max())) >= n:
        raise ValueError(f"pair positions must be < {n} (the number of records)")
    keep = weight >= threshold
    i, j, weight = i[keep], j[keep], weight[keep]
    if not one_per_source:
        return cluster(n, i, j, weight, method="components")
    _, src = np.unique(source, return_inverse=True)
    src = src.reshape(-1)
    parent = list(range(n))
    members: dict[int, set[int]] = {}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    lo, hi = np.minimum(i, j), np.maximum(i, j)
    order = _order(lo, hi, weight)
    for x, y in zip(lo[order].tolist(), hi[order].tolist()):
        rx, ry = find(x), find(y)
        if rx == ry:
            continue
        sx = members.get(rx, {int(src[rx])})
        sy = members.get(ry, {int(src[ry])})
        if sx & sy:
            continue
        root, other = (rx, ry) if rx < ry else (ry, rx)
        parent[other] = root
        members[root] = sx | sy
        members.pop(other, None)
    return canonical_labels(np.array([find(k) for k in range(n)], dtype=np.int64))


def cluster_files(
    source: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    weight: np.ndarray,
    *,
    threshold: float = -np.inf,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Cluster records of several files, each of which may hold a few duplicates.

    ``source[k]`` is the file of global record ``k`` (any labels); ``i``/``j`` index global
    records and pairs below ``threshold`` are dropped. Two steps:

    1. pairs of two records of the *same* file are merged first (connected components):
       a person recorded twice in one file;
    2. pairs of records of different files are taken in decreasing weight (ties by
       position) and merge their clusters unless the two already hold records of a common
       file, so a cluster holds at most one group of duplicates of each file and a third
       record cannot chain two people of one file together.

    ``fixed`` (optional): a label per record, ``-1`` for a free record. Records with the
    same label ``>= 0`` start in one cluster and clusters holding different fixed labels are
    never merged, in either step: people already linked and held, when a new wave is linked
    incrementally. With ``fixed`` all ``-1`` (or ``None``) this is the same clustering on
    all records at once, so the two differ only where a full run would merge two held
    people or take a later pair before an earlier one.

    Returns cluster ids numbered by smallest member position (deterministic).
    """
    source = np.asarray(source)
    n = len(source)
    i, j, weight = _as_pairs(i, j, weight)
    if i.size and max(int(i.max()), int(j.max())) >= n:
        raise ValueError(f"pair positions must be < {n} (the number of records)")
    if fixed is not None:
        fixed = np.asarray(fixed, dtype=np.int64)
        if fixed.shape != (n,):
            raise ValueError(f"fixed must have one label per record ({n}), got {fixed.shape}")
    keep = (weight >= threshold) & (i != j)
    i, j, weight = i[keep], j[keep], weight[keep]
    _, src = np.unique(source, return_inverse=True)
    src = src.reshape(-1)
    parent = np.arange(n, dtype=np.int64)
    owner = np.full(n, -1, dtype=np.int64)  # at a root: the fixed label it holds
    if fixed is not None and (fixed >= 0).any():
        held = np.flatnonzero(fixed >= 0)
        labels_u, first, inv = np.unique(fixed[held], return_index=True, return_inverse=True)
        roots = held[first]
        parent[held] = roots[inv.reshape(-1)]
        owner[roots] = labels_u
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    order = _order(lo, hi, weight)
    lo, hi = lo[order], hi[order]
    same = src[lo] == src[hi]
    if _files_kernel is not None and (n == 0 or int(src.max()) < 64):
        roots = _files_kernel(parent, owner, src.astype(np.int64), lo, hi, same)
    else:
        roots = _cluster_files_py(parent, owner, src, lo, hi, same)
    return canonical_labels(roots)


def _cluster_files_py(parent: np.ndarray, owner_at: np.ndarray, src: np.ndarray,
                      lo: np.ndarray, hi: np.ndarray, same: np.ndarray) -> np.ndarray:
    """:func:`cluster_files` after its set-up, in Python (any number of files): union-find
    with each cluster's set of files; returns each record's root."""
    n = len(parent)
    par = parent.tolist()
    owner = {int(r): int(f) for r, f in zip(np.flatnonzero(owner_at >= 0),
                                            owner_at[owner_at >= 0])}

    def find(x: int) -> int:
        root = x
        while par[root] != root:
            root = par[root]
        while par[x] != root:
            par[x], x = root, par[x]
        return root

    members: dict[int, set[int]] = {}
    if owner:  # the files each fixed cluster already holds
        held = np.flatnonzero(parent != np.arange(n))
        held = np.union1d(held, np.fromiter(owner, dtype=np.int64))
        pairs = np.unique(np.stack([parent[held], src[held]]), axis=1)
        for r, f in zip(pairs[0].tolist(), pairs[1].tolist()):
            members.setdefault(r, set()).add(f)

    def sources_of(r: int) -> set[int]:
        return members.get(r) or {int(src[r])}

    def union(rx: int, ry: int, check_sources: bool) -> None:
        if rx == ry:
            return
        if rx in owner and ry in owner:
            return  # two people already held: never merged
        sx, sy = sources_of(rx), sources_of(ry)
        if check_sources and sx & sy:
            return
        root, other = (rx, ry) if rx < ry else (ry, rx)
        par[other] = root
        members[root] = sx | sy
        members.pop(other, None)
        if other in owner:
            owner[root] = owner.pop(other)

    for x, y in zip(lo[same].tolist(), hi[same].tolist()):
        union(find(x), find(y), check_sources=False)
    for x, y in zip(lo[~same].tolist(), hi[~same].tolist()):
        union(find(x), find(y), check_sources=True)
    return np.array([find(k) for k in range(n)], dtype=np.int64)


def _files_kernel_py(parent: np.ndarray, owner: np.ndarray, src: np.ndarray,
                     lo: np.ndarray, hi: np.ndarray, same: np.ndarray) -> np.ndarray:
    """:func:`cluster_files` after its set-up, for at most 64 files: each cluster's files
    as the bits of one word (compiled with numba when it is installed)."""
    n = parent.shape[0]
    par = parent.copy()
    own = owner.copy()
    mask = np.zeros(n, dtype=np.uint64)
    for k in range(n):
        r = par[k]
        mask[r] |= np.uint64(1) << np.uint64(src[k])
    for step in range(2):
        for e in range(lo.shape[0]):
            if same[e] != (step == 0):
                continue
            x = lo[e]
            while par[x] != x:
                par[x] = par[par[x]]
                x = par[x]
            y = hi[e]
            while par[y] != y:
                par[y] = par[par[y]]
                y = par[y]
            if x == y or (own[x] >= 0 and own[y] >= 0):
                continue
            if step == 1 and (mask[x] & mask[y]) != 0:
                continue
            root, other = (x, y) if x < y else (y, x)
            par[other] = root
            mask[root] |= mask[other]
            if own[other] >= 0:
                own[root] = own[other]
    out = np.empty(n, dtype=np.int64)
    for k in range(n):
        x = k
        while par[x] != x:
            x = par[x]
        out[k] = x
    return out


try:  # compiled when numba is installed (a dependency); the same function otherwise
    from numba import njit as _njit

    _files_kernel = _njit(cache=True, nogil=True)(_files_kernel_py)
except ImportError:  # pragma: no cover - numba missing
    _files_kernel = None

"""Candidate generation (blocking): which pairs of records are worth comparing.

A linkage of ``n_a`` by ``n_b`` records has ``n_a * n_b`` possible pairs; blocking keeps the
few that could be matches. Rules:

* :class:`TokenBlocking`: pairs that share the value of any chosen keyed token
  (``EncodedFrame.tokens``: match keys, exact identifier tokens, postcode sector, ...);
  ``0`` means missing and never matches.
* :class:`LSHBlocking`: Hamming locality-sensitive hashing (bit sampling) on a Bloom
  filter (the record-level CLK by default): records collide when they agree on every one of
  ``bits_per_band`` sampled bit positions in at least one of ``bands`` bands. Parameters are
  derived from a target Dice threshold and a target pairs completeness
  (:func:`lsh_parameters`; derivation in ``docs/blocking.md``).
* :class:`AllPairs`: every pair (only for small inputs, usually with a filter).
* :class:`LengthFilter`: a *filter*, not a generator: drops pairs whose filter popcounts
  make Dice ``>= threshold`` impossible (``Dice <= 2 min(pa, pb) / (pa + pb)``).

Generating rules are combined by **union** (a pair found by several rules appears once);
filters then remove pairs. Output is two ``int64`` arrays ``(ia, ib)`` of row positions,
sorted by ``(ia, ib)`` without duplicates. With ``b=None`` (de-duplication of one file) only
pairs with ``ia < ib`` are produced.

Memory is bounded: each rule first builds a join index (one sorted array of the other side
plus a ``(start, count)`` per row, a few bytes per record per key), then pairs are expanded
for consecutive ranges of rows of ``a`` whose pair count is at most ``chunk_pairs``
(:func:`iter_candidate_pairs`). A key shared by more than ``max_block_size`` records on a
side (e.g. a placeholder value) is skipped and counted in :class:`BlockingStats`.

The blocking metrics :func:`~nislink.evaluate.pairs_completeness` and
:func:`~nislink.evaluate.reduction_ratio` live in :mod:`nislink.evaluate` (the names
``nislink.block.pairs_completeness`` and ``reduction_ratio`` still work).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nislink.frame import BitMatrix, EncodedFrame

__all__ = [
    "DEFAULT_MAX_BLOCK_SIZE",
    "DEFAULT_CHUNK_PAIRS",
    "TokenBlocking",
    "LSHBlocking",
    "AllPairs",
    "LengthFilter",
    "LSHParameters",
    "BlockingStats",
    "lsh_parameters",
    "lsh_band_probability",
    "candidate_pairs",
    "iter_candidate_pairs",
    "length_filter_mask",
]

#: Default cap on the records sharing one key on one side; larger blocks are skipped.
DEFAULT_MAX_BLOCK_SIZE = 1000
#: Default upper bound on the pairs expanded in one chunk (before de-duplication).
DEFAULT_CHUNK_PAIRS = 1 << 22


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class TokenBlocking:
    """Pairs that share a non-missing value of any of the named tokens.

    ``tokens`` names arrays of ``EncodedFrame.tokens`` (e.g. ``["mk1", "mk2"]`` for match
    keys); each name is a separate key and the pairs of all of them are united. A value
    held by more than ``max_block_size`` records on either side is skipped (its pairs are
    counted in :attr:`BlockingStats.dropped_pairs`).
    """

    tokens: Sequence[str]
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.tokens, str):
            object.__setattr__(self, "tokens", (self.tokens,))
        object.__setattr__(self, "tokens", tuple(self.tokens))
        if not self.tokens:
            raise ValueError("TokenBlocking needs at least one token name")
        if self.max_block_size < 1:
            raise ValueError("max_block_size must be >= 1")


@dataclass(frozen=True)
class LSHBlocking:
    """Hamming LSH (bit sampling) on a Bloom filter.

    ``field=None`` uses the record-level filter (``EncodedFrame.clk``); otherwise the named
    field-level filter. ``bits_per_band`` and ``bands`` may be given; when either is
    ``None`` both are chosen by :func:`lsh_parameters` so that a pair of Dice
    ``threshold`` (with the ``popcount_quantile`` popcount of the data) is found with
    probability at least ``completeness``. Sampled positions come from ``seed``
    (deterministic). Records whose filter is empty (not present) take no part.
    """

    threshold: float = 0.8
    completeness: float = 0.99
    field: str | None = None
    bits_per_band: int | None = None
    bands: int | None = None
    seed: int = 0
    popcount_quantile: float = 0.95
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE

    def __post_init__(self) -> None:
        if not (0.0 < self.threshold <= 1.0):
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}")
        if not (0.0 < self.completeness < 1.0):
            raise ValueError(f"completeness must be in (0, 1), got {self.completeness!r}")
        if self.bits_per_band is not None and not (1 <= self.bits_per_band <= 64):
            raise ValueError("bits_per_band must be in 1..64")
        if self.bands is not None and self.bands < 1:
            raise ValueError("bands must be >= 1")
        if not (0.0 <= self.popcount_quantile <= 1.0):
            raise ValueError("popcount_quantile must be in [0, 1]")
        if self.max_block_size < 1:
            raise ValueError("max_block_size must be >= 1")


@dataclass(frozen=True)
class AllPairs:
    """Every pair (``n_a * n_b``, or ``n (n - 1) / 2`` for de-duplication): small inputs only."""


@dataclass(frozen=True)
class LengthFilter:
    """Drop pairs that cannot reach Dice ``threshold`` on their filter lengths (popcounts).

    A pair of popcounts ``pa, pb`` is kept when ``2 min(pa, pb) / (pa + pb) >= threshold``,
    an upper bound of their Dice coefficient, so no pair at or above the threshold is lost.
    ``field=None`` uses the record-level filter. Pairs where either filter is empty (not
    present) are kept when ``keep_missing`` (no evidence either way).
    """

    threshold: float
    field: str | None = None
    keep_missing: bool = True

    def __post_init__(self) -> None:
        if not (0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold!r}")


Rule = TokenBlocking | LSHBlocking | AllPairs | LengthFilter


@dataclass
class BlockingStats:
    """What a blocking run did; filled in by :func:`candidate_pairs` when passed.

    * ``generated``: pairs produced per generating key (``"token:mk1"``, ``"lsh:band3"``,
      ``"all"``) before the union;
    * ``dropped_blocks`` / ``dropped_pairs``: keys skipped by ``max_block_size`` and the
      pairs they would have produced (per key, before the union);
    * ``filtered``: pairs removed by each filter (``"length:clk"``);
    * ``pairs``: candidate pairs returned; ``lsh``: the LSH parameters used, per rule.
    """

    generated: dict[str, int] = field(default_factory=dict)
    dropped_blocks: dict[str, int] = field(default_factory=dict)
    dropped_pairs: dict[str, int] = field(default_factory=dict)
    filtered: dict[str, int] = field(default_factory=dict)
    pairs: int = 0
    lsh: list["LSHParameters"] = field(default_factory=list)


# --------------------------------------------------------------------------- LSH theory


@dataclass(frozen=True)
class LSHParameters:
    """Chosen LSH parameters and what they promise.

    ``p_found`` is the probability that a pair with Dice exactly ``threshold`` and the
    design popcount is found; ``p_random`` the probability that two independent filters of
    the design density collide (an estimate of the false-candidate rate).
    """

    bits_per_band: int
    bands: int
    threshold: float
    completeness: float
    nbits: int
    popcount: float
    p_found: float
    p_random: float


def lsh_band_probability(nbits: int, distance: float, bits_per_band: int) -> float:
    """Probability that one band of ``bits_per_band`` positions, sampled without
    replacement from ``nbits``, agrees for two filters at Hamming ``distance``.

    ``prod_{k<r} (L - h - k) / (L - k)``; with replacement it would be ``(1 - h/L)^r``.
    A fractional ``distance`` is interpolated through the Gamma function.
    """
    L, h, r = float(nbits), float(distance), int(bits_per_band)
    if r > nbits:
        raise ValueError("bits_per_band exceeds the filter length")
    if L - h - r + 1 <= 0:
        return 0.0
    return math.exp(
        math.lgamma(L - h + 1) - math.lgamma(L - h - r + 1) - math.lgamma(L + 1)
        + math.lgamma(L - r + 1)
    )


def lsh_parameters(
    threshold: float,
    completeness: float,
    nbits: int,
    popcount: float,
    *,
    n_a: int = 1_000_000,
    n_b: int = 1_000_000,
    max_bands: int = 256,
    max_bits: int = 64,
    pair_cost: float = 1.0,
    densities: tuple[np.ndarray, np.ndarray] | None = None,
) -> LSHParameters:
    """Choose bits per band ``r`` and bands ``b`` for Hamming LSH on Bloom filters.

    A pair of filters with popcounts ``pa, pb`` and Dice ``d`` differs in
    ``h = (1 - d)(pa + pb)`` bits, so with both popcounts ``p`` (the design popcount),
    ``h = 2 p (1 - d)``. A band of ``r`` sampled bits agrees with probability
    ``q_r`` = :func:`lsh_band_probability` (about ``(1 - h/L)^r``), and the pair is found
    by at least one of ``b`` independent bands with probability ``1 - (1 - q_r)^b``.
    For each ``r`` the smallest ``b`` with ``1 - (1 - q_r)^b >= completeness`` is taken;
    among those, the ``(r, b)`` with least estimated work is chosen:
    ``b (1 + r / 32) (n_a + n_b)`` for sampling, sorting and joining band keys, plus
    ``pair_cost`` times the expected random collisions
    ``n_a n_b (1 - (1 - q0_r)^b)``, where ``q0_r`` is the band agreement of two
    independent filters of density ``p / L`` (``h0 = 2 p (1 - p/L)``). When ``densities``
    (samples of the filter densities ``popcount / L`` of each side, e.g. quantiles) are
    given, ``q0_r`` is instead averaged over pairs of those densities, a bit agreeing with
    probability ``rho_a rho_b + (1 - rho_a)(1 - rho_b)``: sparse filters agree by chance
    far more often than the design popcount suggests.
    """
    if not (0.0 < threshold <= 1.0):
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if not (0.0 < completeness < 1.0):
        raise ValueError(f"completeness must be in (0, 1), got {completeness!r}")
    if nbits < 1:
        raise ValueError("nbits must be >= 1")
    p = float(min(max(popcount, 1.0), nbits))
    h = (1.0 - threshold) * 2.0 * p
    rho = p / nbits
    h0 = 2.0 * p * (1.0 - rho)
    agree = None
    if densities is not None:
        da = np.clip(np.asarray(densities[0], dtype=np.float64), 0.0, 1.0)
        db = np.clip(np.asarray(densities[1], dtype=np.float64), 0.0, 1.0)
        if len(da) and len(db):
            agree = (da[:, None] * db[None, :] + (1 - da[:, None]) * (1 - db[None, :])).ravel()
    best: tuple[float, int, int, float, float] | None = None
    for r in range(1, min(max_bits, nbits) + 1):
        q = lsh_band_probability(nbits, h, r)
        if q <= 0.0:
            break
        if q >= 1.0:
            b = 1
        else:
            b = math.ceil(math.log1p(-completeness) / math.log1p(-q))
        if b > max_bands:
            continue
        if agree is None:
            q0 = lsh_band_probability(nbits, h0, r)
            p_rand = -math.expm1(b * math.log1p(-q0)) if q0 < 1.0 else 1.0
        else:
            q0s = np.minimum(agree**r, 1.0 - 1e-300)
            p_rand = float(np.mean(-np.expm1(b * np.log1p(-q0s))))
        cost = b * (1.0 + r / 32.0) * float(n_a + n_b) + pair_cost * float(n_a) * float(n_b) * p_rand
        if best is None or cost < best[0]:
            p_found = -math.expm1(b * math.log1p(-q)) if q < 1.0 else 1.0
            best = (cost, r, b, p_found, p_rand)
    if best is None:
        raise ValueError(
            f"no LSH parameters reach completeness {completeness} at Dice {threshold} "
            f"with at most {max_bands} bands; lower the threshold or raise max_bands"
        )
    _, r, b, p_found, p_rand = best
    return LSHParameters(r, b, threshold, completeness, nbits, p, p_found, p_rand)


# --------------------------------------------------------------------------- join indexes


@dataclass
class _Join:
    """For each row of A: partners ``perm[start[i] : start[i] + count[i]]`` (rows of B).

    Stored as ``int32`` when the sizes allow (12 bytes per record per key).
    """

    name: str
    perm: np.ndarray
    start: np.ndarray
    count: np.ndarray

    def __post_init__(self) -> None:
        small = len(self.perm) < 2**31 - 1
        dt = np.int32 if small else np.int64
        self.perm = self.perm.astype(dt, copy=False)
        self.start = self.start.astype(dt, copy=False)
        self.count = self.count.astype(dt, copy=False)


def _key_join(
    name: str,
    ka: np.ndarray,
    va: np.ndarray,
    kb: np.ndarray | None,
    vb: np.ndarray | None,
    max_block: int,
    stats: BlockingStats,
    b_common: np.ndarray | None = None,
) -> _Join:
    """Join index on equal keys (``va``/``vb``: which rows take part). ``b_common``: sorted
    keys to treat as too common on B whatever their count here (B is a chunk of a larger
    file, and these keys are held by more than ``max_block`` records of the whole)."""
    na = len(ka)
    if kb is None:  # self-join: partners are the later members of the same group
        rows = np.flatnonzero(va)
        order = rows[np.argsort(ka[rows])]
        keys = ka[order]
        brk = np.flatnonzero(keys[1:] != keys[:-1]) + 1
        gstart = np.r_[0, brk].astype(np.int64)
        if not len(order):
            gstart = gstart[:0]
        gsize = np.diff(np.r_[gstart, len(order)]).astype(np.int64)
        # members of a group in increasing row order (so later members have larger rows)
        gid0 = np.repeat(np.arange(len(gstart), dtype=np.int64), gsize)
        order = np.sort(gid0 * np.int64(na) + order) % np.int64(na)
        big = gsize > max_block
        stats.dropped_blocks[name] = int(big.sum())
        stats.dropped_pairs[name] = int((gsize[big] * (gsize[big] - 1) // 2).sum())
        pos = np.arange(len(order), dtype=np.int64)
        gid = np.repeat(np.arange(len(gstart)), gsize)
        gend = (gstart + gsize)[gid]
        start = np.zeros(na, dtype=np.int64)
        count = np.zeros(na, dtype=np.int64)
        start[order] = pos + 1
        cnt = gend - pos - 1
        cnt[big[gid]] = 0
        count[order] = cnt
        return _Join(name, order.astype(np.int64), start, count)
    assert vb is not None
    rows_b = np.flatnonzero(vb)
    order = rows_b[np.argsort(kb[rows_b])].astype(np.int64)
    keys = kb[order]
    ustart = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1].astype(np.int64)
    if not len(keys):
        ustart = ustart[:0]
    uniq = keys[ustart]
    usize = np.diff(np.r_[ustart, len(keys)]).astype(np.int64)
    start = np.zeros(na, dtype=np.int64)
    count = np.zeros(na, dtype=np.int64)
    if len(uniq) == 0:
        stats.dropped_blocks[name] = 0
        stats.dropped_pairs[name] = 0
        return _Join(name, order, start, count)
    # look up A's keys in sorted order (binary search with sorted needles is cache friendly)
    rows_a = np.flatnonzero(va)
    order_a = rows_a[np.argsort(ka[rows_a])]
    ks = ka[order_a]
    pos_c = np.minimum(np.searchsorted(uniq, ks), len(uniq) - 1)
    found = uniq[pos_c] == ks
    hit = np.zeros(na, dtype=bool)
    hit[order_a[found]] = True
    gpos = np.zeros(na, dtype=np.int64)
    gpos[order_a[found]] = pos_c[found]
    g = gpos[hit]
    # sizes of each key on the A side, to apply the cap to both sides
    asize = np.bincount(g, minlength=len(uniq))
    big = (usize > max_block) | (asize > max_block)
    if b_common is not None and len(b_common):
        at = np.minimum(np.searchsorted(b_common, uniq), len(b_common) - 1)
        big |= b_common[at] == uniq
    stats.dropped_blocks[name] = int((big & (asize > 0)).sum())
    stats.dropped_pairs[name] = int((usize[big] * asize[big]).sum())
    ok = ~big[g]
    idx = np.flatnonzero(hit)[ok]
    start[idx] = ustart[g[ok]]
    count[idx] = usize[g[ok]]
    return _Join(name, order, start, count)


def _filter_of(frame: EncodedFrame, fld: str | None, what: str) -> BitMatrix:
    if fld is None:
        if frame.clk is None:
            raise ValueError(f"{what} needs a record-level filter (clk), but the frame has none")
        return frame.clk
    if fld not in frame.fields:
        raise KeyError(f"{what}: no field {fld!r}; fields are {sorted(frame.fields)}")
    return frame.fields[fld]


try:  # compiled band-key extraction when numba is installed (same result as the NumPy path)
    from numba import njit, prange

    @njit(parallel=True, cache=True, nogil=True, boundscheck=False)
    def _band_keys_compiled(bits, pos, out):  # type: ignore[no-untyped-def]  # pragma: no cover
        nb, r = pos.shape
        for i in prange(bits.shape[0]):
            for g in range(nb):
                key = np.uint64(0)
                for k in range(r):
                    p = pos[g, k]
                    bit = (bits[i, p >> 6] >> np.uint64(p & 63)) & np.uint64(1)
                    key |= bit << np.uint64(k)
                out[i, g] = key

except ImportError:  # pragma: no cover
    _band_keys_compiled = None

_BAND_GROUP = 16
_KEY_ROWS = 8192


def band_keys(bits: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """LSH band keys of packed filters: ``(len(bits), bands)`` ``uint64``.

    ``bits`` is an ``(n, words)`` ``uint64`` array of packed filters (``BitMatrix.bits``)
    and ``positions`` a ``(bands, r)`` array of sampled bit positions (:func:`lsh_plan`);
    bit ``k`` of the key of band ``g`` is filter bit ``positions[g, k]``. The local engine
    and the Spark engine both call this. Without numba, rows are unpacked a block at a time
    and the sampled bits gathered and re-packed, so the filters are read once for a whole
    group of bands.
    """
    pos = np.asarray(positions, dtype=np.int64)  # (bands, r)
    r = pos.shape[1]
    out = np.empty((len(bits), pos.shape[0]), dtype=np.uint64)
    if _band_keys_compiled is not None:
        _band_keys_compiled(np.ascontiguousarray(bits), pos, out)
        return out
    for r0 in range(0, len(bits), _KEY_ROWS):
        blk = np.ascontiguousarray(bits[r0 : r0 + _KEY_ROWS]).astype("<u8", copy=False)
        unpacked = np.unpackbits(blk.view(np.uint8), axis=1, bitorder="little")
        sampled = np.zeros((len(blk), pos.shape[0], 64), dtype=np.uint8)
        sampled[:, :, :r] = unpacked[:, pos]
        packed = np.packbits(sampled, axis=2, bitorder="little")  # (rows, bands, 8)
        out[r0 : r0 + len(blk)] = packed.view("<u8")[:, :, 0]
    return out


def _band_keys(bm: BitMatrix, positions: list[np.ndarray]) -> np.ndarray:
    return band_keys(bm.bits, np.stack(positions))


def lsh_plan(rule: LSHBlocking, nbits: int, popcounts_a: np.ndarray,
             popcounts_b: np.ndarray | None, n_a: int, n_b: int
             ) -> tuple[LSHParameters, np.ndarray]:
    """The parameters and sampled bit positions ``(bands, r)`` of an :class:`LSHBlocking`
    rule, from the popcounts of the present filters of each side (``popcounts_b`` ``None``
    when de-duplicating) and the record counts. One definition for the local engine and
    the Spark engine (which computes the popcounts as a histogram on the cluster): the
    positions depend only on the rule's seed and the parameters, so both engines block
    alike."""
    pa = np.asarray(popcounts_a)
    pb = None if popcounts_b is None else np.asarray(popcounts_b)
    allp = pa if pb is None else np.concatenate([pa, pb])
    design = float(np.quantile(allp, rule.popcount_quantile)) if len(allp) else 1.0
    if rule.bits_per_band is not None and rule.bands is not None:
        h = (1.0 - rule.threshold) * 2.0 * design
        q = lsh_band_probability(nbits, h, rule.bits_per_band)
        q0 = lsh_band_probability(nbits, 2.0 * design * (1.0 - design / nbits),
                                  rule.bits_per_band)
        params = LSHParameters(
            rule.bits_per_band, rule.bands, rule.threshold, rule.completeness, nbits, design,
            1.0 - (1.0 - q) ** rule.bands, 1.0 - (1.0 - q0) ** rule.bands,
        )
    else:
        params = lsh_parameters(
            rule.threshold, rule.completeness, nbits, design, n_a=n_a, n_b=n_b,
            densities=(_density_sample(pa, nbits),
                       _density_sample(pb if pb is not None else pa, nbits)),
        )
    rng = np.random.default_rng(rule.seed)
    positions = np.stack([
        np.sort(rng.choice(nbits, size=params.bits_per_band, replace=False))
        for _ in range(params.bands)
    ])
    return params, positions


def _density_sample(pcs: np.ndarray, nbits: int, k: int = 64) -> np.ndarray:
    """``k`` quantiles of the densities of the present filters (for the cost model)."""
    if not len(pcs):
        return np.empty(0)
    return np.quantile(pcs, (np.arange(k) + 0.5) / k) / nbits


def _build_joins(
    a: EncodedFrame, b: EncodedFrame | None, rule: Rule, stats: BlockingStats,
    b_common: Mapping[str, np.ndarray] | None = None,
) -> list[_Join]:
    na = len(a)
    if isinstance(rule, AllPairs):
        if b is None:
            start = np.arange(1, na + 1, dtype=np.int64)
            count = np.arange(na - 1, -1, -1, dtype=np.int64)
            return [_Join("all", np.arange(na, dtype=np.int64), start, count)]
        return [
            _Join(
                "all",
                np.arange(len(b), dtype=np.int64),
                np.zeros(na, dtype=np.int64),
                np.full(na, len(b), dtype=np.int64),
            )
        ]
    if isinstance(rule, TokenBlocking):
        joins = []
        for name in rule.tokens:
            for frame, side in ((a, "a"), (b, "b")):
                if frame is not None and name not in frame.tokens:
                    raise KeyError(
                        f"TokenBlocking: file {side} has no token {name!r}; "
                        f"tokens are {sorted(frame.tokens)}"
                    )
            ta = a.tokens[name]
            tb = b.tokens[name] if b is not None else None
            joins.append(
                _key_join(
                    f"token:{name}", ta, ta != 0, tb,
                    None if tb is None else tb != 0, rule.max_block_size, stats,
                    None if b_common is None else b_common.get(name),
                )
            )
        return joins
    if isinstance(rule, LSHBlocking):
        fa = _filter_of(a, rule.field, "LSHBlocking")
        fb = _filter_of(b, rule.field, "LSHBlocking") if b is not None else None
        if fb is not None and fb.nbits != fa.nbits:
            raise ValueError(f"LSHBlocking: filters differ in length ({fa.nbits}, {fb.nbits})")
        params, pos = lsh_plan(
            rule, fa.nbits, fa.popcount[fa.present],
            None if fb is None else fb.popcount[fb.present],
            len(a), len(b) if b is not None else len(a))
        stats.lsh.append(params)
        tag = f"lsh:{rule.field or 'clk'}:{rule.seed}"
        joins = []
        all_pos = list(pos)
        for g0 in range(0, len(all_pos), _BAND_GROUP):
            group = all_pos[g0 : g0 + _BAND_GROUP]
            kas = _band_keys(fa, group)
            kbs = _band_keys(fb, group) if fb is not None else None
            for g in range(len(group)):
                joins.append(
                    _key_join(
                        f"{tag}:band{g0 + g}",
                        np.ascontiguousarray(kas[:, g]),
                        fa.present,
                        None if kbs is None else np.ascontiguousarray(kbs[:, g]),
                        None if fb is None else fb.present,
                        rule.max_block_size,
                        stats,
                    )
                )
        return joins
    raise TypeError(f"not a generating blocking rule: {rule!r}")


def length_filter_mask(
    pa: np.ndarray, pb: np.ndarray, threshold: float, keep_missing: bool = True
) -> np.ndarray:
    """Boolean mask of pairs with popcounts ``pa, pb`` whose Dice bound reaches ``threshold``.

    Kept when ``2 min(pa, pb) / (pa + pb) >= threshold`` (computed in ``float64``), or
    when either popcount is 0 and ``keep_missing``.
    """
    pa = np.asarray(pa, dtype=np.int64)
    pb = np.asarray(pb, dtype=np.int64)
    tot = pa + pb
    bound = np.zeros(len(pa), dtype=np.float64)
    np.divide(2.0 * np.minimum(pa, pb), tot, out=bound, where=tot > 0)
    keep = bound >= threshold
    if keep_missing:
        keep |= (pa == 0) | (pb == 0)
    return keep


# --------------------------------------------------------------------------- driver


def _split_rules(rules: Sequence[Rule]) -> tuple[list[Rule], list[LengthFilter]]:
    if isinstance(rules, (TokenBlocking, LSHBlocking, AllPairs, LengthFilter)):
        rules = [rules]
    gens: list[Rule] = []
    filters: list[LengthFilter] = []
    for r in rules:
        if isinstance(r, LengthFilter):
            filters.append(r)
        elif isinstance(r, (TokenBlocking, LSHBlocking, AllPairs)):
            gens.append(r)
        else:
            raise TypeError(f"unknown blocking rule {r!r}")
    if not gens:
        raise ValueError(
            "blocking needs at least one generating rule (TokenBlocking, LSHBlocking or "
            "AllPairs); LengthFilter only removes pairs"
        )
    return gens, filters


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (sort-based; faster than np.unique's
    hash path for large int64 arrays)."""
    x = np.sort(x)
    if len(x) < 2:
        return x
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _expand(j: _Join, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
    cnt = j.count[r0:r1].astype(np.int64)
    total = int(cnt.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ia = np.repeat(np.arange(r0, r1, dtype=np.int64), cnt)
    first = np.cumsum(cnt) - cnt
    off = np.arange(total, dtype=np.int64) - np.repeat(first, cnt)
    ib = j.perm[np.repeat(j.start[r0:r1].astype(np.int64), cnt) + off].astype(np.int64)
    return ia, ib


def iter_candidate_pairs(
    a: EncodedFrame,
    b: EncodedFrame | None = None,
    rules: Sequence[Rule] = (),
    *,
    chunk_pairs: int = DEFAULT_CHUNK_PAIRS,
    stats: BlockingStats | None = None,
    b_common: Mapping[str, np.ndarray] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield candidate pairs ``(ia, ib)`` in chunks, in bounded memory.

    Chunks cover consecutive row ranges of ``a``; each is sorted by ``(ia, ib)`` without
    duplicates, so their concatenation equals :func:`candidate_pairs`. A chunk expands at
    most ``chunk_pairs`` pairs (before de-duplication) unless one row alone has more.
    ``b=None`` de-duplicates ``a`` (pairs ``ia < ib`` only). ``b_common`` (token name ->
    sorted token values) names values that :class:`TokenBlocking` must skip as too common
    on ``b``'s side even when fewer records of ``b`` hold them: ``b`` is then one piece of a
    larger file and the values are those held by more than ``max_block_size`` records of
    the whole (:func:`nislink.streaming.link_stream`), so that every piece is blocked as
    the whole file would be.
    """
    if not isinstance(a, EncodedFrame) or (b is not None and not isinstance(b, EncodedFrame)):
        raise TypeError("candidate pairs need EncodedFrame inputs")
    if chunk_pairs < 1:
        raise ValueError("chunk_pairs must be >= 1")
    gens, filters = _split_rules(rules)
    st = stats if stats is not None else BlockingStats()
    joins: list[_Join] = []
    if b_common is not None and b is None:
        raise ValueError("b_common applies to linking two files, not to de-duplication")
    for rule in gens:
        joins.extend(_build_joins(a, b, rule, st, b_common))
    flt = []
    for f in filters:
        fa = _filter_of(a, f.field, "LengthFilter")
        fb = _filter_of(b, f.field, "LengthFilter") if b is not None else fa
        flt.append((f, fa.popcount, fb.popcount, f"length:{f.field or 'clk'}"))
        st.filtered.setdefault(flt[-1][3], 0)
    na = len(a)
    nb = len(b) if b is not None else na
    per_row = np.zeros(na, dtype=np.int64)
    for j in joins:
        per_row += j.count
        st.generated[j.name] = int(j.count.sum(dtype=np.int64))
    cum = np.cumsum(per_row)
    r0 = 0
    st.pairs = 0
    while r0 < na:
        base = int(cum[r0 - 1]) if r0 else 0
        r1 = int(np.searchsorted(cum, base + chunk_pairs, side="right"))
        r1 = min(na, max(r1, r0 + 1))
        parts = [_expand(j, r0, r1) for j in joins]
        ia = np.concatenate([p[0] for p in parts])
        ib = np.concatenate([p[1] for p in parts])
        key = _sorted_unique(ia * np.int64(nb) + ib)
        ia = key // nb
        ib = key % nb
        for f, pa, pb, name in flt:
            keep = length_filter_mask(pa[ia], pb[ib], f.threshold, f.keep_missing)
            st.filtered[name] += int((~keep).sum())
            ia, ib = ia[keep], ib[keep]
        st.pairs += len(ia)
        if len(ia):
            yield ia, ib
        r0 = r1


def candidate_pairs(
    a: EncodedFrame,
    b: EncodedFrame | None = None,
    rules: Sequence[Rule] = (),
    *,
    chunk_pairs: int = DEFAULT_CHUNK_PAIRS,
    stats: BlockingStats | None = None,
    b_common: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs ``(ia, ib)`` (``int64`` row positions) from the union of ``rules``.

    Sorted by ``(ia, ib)``, no duplicates; ``b=None`` de-duplicates ``a`` (``ia < ib``).
    Example: ``candidate_pairs(a, b, [TokenBlocking(["mk1", "mk2"]),
    LSHBlocking(threshold=0.8, completeness=0.99), LengthFilter(0.8)])``. Pass a
    :class:`BlockingStats` to learn what each rule produced, dropped and filtered.
    """
    chunks = list(iter_candidate_pairs(a, b, rules, chunk_pairs=chunk_pairs, stats=stats,
                                       b_common=b_common))
    if not chunks:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


# --------------------------------------------------------------------------- metrics


def __getattr__(name: str) -> Any:
    """The blocking metrics have one definition, in :mod:`nislink.evaluate`;
    ``nislink.block.pairs_completeness`` and ``reduction_ratio`` (their former home) resolve
    to it. The import is deferred because evaluate is a later stage."""
    if name in ("pairs_completeness", "reduction_ratio"):
        from nislink import evaluate  # noqa: PLC0415 (a later stage: loaded when asked)

        return getattr(evaluate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "pairs_completeness", "reduction_ratio"])

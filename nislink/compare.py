"""Similarity kernels on packed Bloom filters: Dice, Jaccard and Hamming.

Two shapes of work:

* **candidate pairs** (:func:`dice_pairs`, :func:`jaccard_pairs`, :func:`hamming_pairs`,
  :func:`intersection_pairs`): rows ``a[ia[k]]`` against ``b[ib[k]]``, a vectorised gather
  over a list of candidate pairs (e.g. from :func:`nislink.block.candidate_pairs`);
* **dense blocks** (:func:`intersection_matrix`, :func:`dice_matrix`,
  :func:`threshold_pairs`, :func:`topk`): all pairs of two sets of filters, with
  popcount-bound pruning (``Dice(x, y) <= 2 min(|x|, |y|) / (|x| + |y|)``, so with ``b``
  sorted by popcount only a window of ``b`` can reach a threshold).

Conventions:

* Dice of filters ``x, y`` is ``2 |x & y| / (|x| + |y|)``; Jaccard is
  ``|x & y| / |x | y|``; Hamming is ``|x ^ y|`` (an ``int32`` count of differing bits).
* **Two empty filters** (both popcounts 0) have Dice and Jaccard ``0.0``, not ``NaN``:
  a filter with no bits set carries no evidence of agreement, and ``0.0`` keeps thresholds
  and sorting well defined. Callers that must tell "missing" from "disagrees" use
  ``BitMatrix.present`` (the model treats a pair where either side is absent as missing).
  One empty and one non-empty filter also give ``0.0``.
* Scores are computed in ``float64`` from exact integer counts and returned as
  ``float32``. A threshold test ``score >= t`` is made on the ``float64`` value, so a pair
  whose Dice is exactly ``t`` (e.g. ``14/20`` at ``t = 0.7``) is kept.
* Ordering is deterministic: :func:`threshold_pairs` returns pairs sorted by ``(ia, ib)``;
  :func:`topk` sorts by ``ia``, then descending score, then ``ib`` (ties broken by the
  smaller ``ib``). Results do not depend on the number of threads.

Speed: when `numba <https://numba.pydata.org>`_ is installed the kernels are compiled
(one hardware popcount per 64-bit word, both cores, cache-tiled); otherwise a NumPy
fallback (BLAS matrix products on unpacked bits) gives identical results, more slowly.
``NISLINK_NO_NUMBA=1`` forces the fallback. On CPUs with AVX-512 VPOPCNTDQ,
:func:`threshold_pairs` uses a vector kernel instead (512-bit AND and popcount, two rows of
``a`` by four rows of ``b`` per step, see ``threshold_rows_vec``), with identical results;
``NISLINK_VECTOR_KERNEL=1`` or ``0`` forces the choice. The first call of a compiled kernel
in a fresh environment compiles it (a few seconds, cached on disk afterwards).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from nislink.frame import BitMatrix

__all__ = [
    "DEFAULT_PAIR_CHUNK",
    "compiled",
    "intersection_pairs",
    "dice_pairs",
    "jaccard_pairs",
    "hamming_pairs",
    "intersection_matrix",
    "dice_matrix",
    "popcount_window",
    "threshold_pairs",
    "topk",
    "set_threads",
]

#: Number of candidate pairs gathered at once by the NumPy fallback of the ``*_pairs``
#: kernels (bounds its temporary memory to ``chunk * words * 8`` bytes).
DEFAULT_PAIR_CHUNK = 1 << 16


# --------------------------------------------------------------------------- compiled kernels

try:  # pragma: no cover - exercised by whichever branch is installed
    import numba
    from llvmlite import binding as _llvm_binding
    from llvmlite import ir as _ir
    from numba import njit, prange, types
    from numba.core import cgutils
    from numba.extending import intrinsic

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

if HAVE_NUMBA:

    @intrinsic
    def _popcnt64(typingctx, x):  # type: ignore[no-untyped-def]
        """LLVM ``ctpop`` on a uint64 (one POPCNT / VPOPCNTQ instruction)."""
        sig = types.uint64(types.uint64)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            (v,) = args
            fn = builder.module.declare_intrinsic("llvm.ctpop", [v.type])
            return builder.call(fn, [v])

        return sig, codegen

    @njit(cache=True, nogil=True)
    def _need(t: float, tot: int, nbits: int) -> int:  # pragma: no cover - compiled
        """Smallest integer intersection s with float64 ``2*s/tot >= t``."""
        if tot == 0:
            return 0 if t <= 0.0 else nbits + 1
        s = int(np.ceil(t * tot / 2.0))
        if s < 0:
            s = 0
        while s > 0 and 2.0 * (s - 1) / tot >= t:
            s -= 1
        while 2.0 * s / tot < t:
            s += 1
        return s

    @njit(parallel=True, cache=True, nogil=True, boundscheck=False)
    def inter_pairs(A, B, ia, ib, out):  # pragma: no cover - compiled
        """``out[k] = popcount(A[ia[k]] & B[ib[k]])``."""
        W = A.shape[1]
        for k in prange(ia.shape[0]):
            i = ia[k]
            j = ib[k]
            s = 0
            for w in range(W):
                s += _popcnt64(A[i, w] & B[j, w])
            out[k] = s

    @njit(parallel=True, cache=True, nogil=True, boundscheck=False)
    def inter_matrix(A, B, out):  # pragma: no cover - compiled
        """``out[i, j] = popcount(A[i] & B[j])`` for all pairs."""
        W = A.shape[1]
        for i in prange(A.shape[0]):
            for j in range(B.shape[0]):
                s = 0
                for w in range(W):
                    s += _popcnt64(A[i, w] & B[j, w])
                out[i, j] = s

    @njit(cache=True, nogil=True, inline="always")
    def _tile_span(lo, hi, r0, r1, counts):  # type: ignore[no-untyped-def]  # pragma: no cover
        """The rows of B that rows ``r0:r1`` of A may meet (the union of their popcount
        windows ``lo:hi``), with those rows' result counts reset."""
        jmin = hi[r0]
        jmax = lo[r0]
        for i in range(r0, r1):
            counts[i] = 0
            if hi[i] > lo[i]:
                jmin = min(jmin, lo[i])
                jmax = max(jmax, hi[i])
        return jmin, jmax

    @njit(parallel=True, cache=True, nogil=True, boundscheck=False)
    def threshold_rows(
        A, B, pa, pb, lo, hi, t, nbits, cap, tile_a, tile_b, out_j, out_s, counts
    ):  # pragma: no cover - compiled
        """All ``j`` in ``[lo[i], hi[i])`` with Dice(A[i], B[j]) >= t.

        ``B`` is sorted by popcount. Row ``i`` writes at most ``cap`` results to
        ``out_j[i*cap:]``/``out_s[i*cap:]`` in increasing ``j`` and its full count to
        ``counts[i]`` (a count above ``cap`` means "rerun with a larger cap"). Work is tiled
        (``tile_a`` rows of A against ``tile_b`` rows of B) so the B tile stays in cache.
        """
        n = A.shape[0]
        W = A.shape[1]
        ntiles = (n + tile_a - 1) // tile_a
        for tix in prange(ntiles):
            r0 = tix * tile_a
            r1 = min(n, r0 + tile_a)
            jmin, jmax = _tile_span(lo, hi, r0, r1, counts)
            for jt in range(jmin, jmax, tile_b):
                je = min(jmax, jt + tile_b)
                for i in range(r0, r1):
                    j0 = max(lo[i], jt)
                    j1 = min(hi[i], je)
                    if j1 <= j0:
                        continue
                    c = counts[i]
                    base = i * cap
                    pai = pa[i]
                    last = -1
                    need = 0
                    for j in range(j0, j1):
                        if pb[j] != last:
                            last = pb[j]
                            need = _need(t, pai + last, nbits)
                        s = 0
                        for w in range(W):
                            s += _popcnt64(A[i, w] & B[j, w])
                        if s >= need:
                            if c < cap:
                                out_j[base + c] = j
                                tot = pai + last
                                out_s[base + c] = 2.0 * s / tot if tot > 0 else 0.0
                            c += 1
                    counts[i] = c

    @njit(parallel=True, cache=True, nogil=True, boundscheck=False)
    def topk_rows(
        A, B, pa, pb, bid, aid, skip_self, lo, hi, t, nbits, k, tile_a, tile_b, out_j, out_s, counts
    ):  # pragma: no cover - compiled
        """The ``k`` best ``j`` in ``[lo[i], hi[i])`` with Dice >= t, per row ``i``.

        Kept in ``out_s[i*k:]`` by descending score, ties by ascending ``bid[j]`` (the
        original position of B row ``j``); ``counts[i]`` is how many were kept (<= k).
        """
        n = A.shape[0]
        W = A.shape[1]
        ntiles = (n + tile_a - 1) // tile_a
        for tix in prange(ntiles):
            r0 = tix * tile_a
            r1 = min(n, r0 + tile_a)
            jmin, jmax = _tile_span(lo, hi, r0, r1, counts)
            for jt in range(jmin, jmax, tile_b):
                je = min(jmax, jt + tile_b)
                for i in range(r0, r1):
                    j0 = max(lo[i], jt)
                    j1 = min(hi[i], je)
                    if j1 <= j0:
                        continue
                    base = i * k
                    pai = pa[i]
                    c = counts[i]
                    last_tot = -1
                    last_floor = -1.0
                    need = 0
                    for j in range(j0, j1):
                        if skip_self and bid[j] == aid[i]:
                            continue
                        tot = pai + pb[j]
                        floor_t = t
                        if c == k and out_s[base + k - 1] > floor_t:
                            floor_t = out_s[base + k - 1]
                        if tot != last_tot or floor_t != last_floor:
                            need = _need(floor_t, tot, nbits)
                            last_tot = tot
                            last_floor = floor_t
                        if min(pai, pb[j]) < need:
                            continue
                        s = 0
                        for w in range(W):
                            s += _popcnt64(A[i, w] & B[j, w])
                        if s < need:
                            continue
                        d = 2.0 * s / tot if tot > 0 else 0.0
                        if d < t:
                            continue
                        g = bid[j]
                        if c == k:
                            ws = out_s[base + k - 1]
                            wj = bid[out_j[base + k - 1]]
                            if d < ws or (d == ws and g > wj):
                                continue
                            pos = k - 1
                        else:
                            pos = c
                            c += 1
                        # insertion: move worse entries down
                        while pos > 0:
                            ps = out_s[base + pos - 1]
                            pj = bid[out_j[base + pos - 1]]
                            if ps > d or (ps == d and pj < g):
                                break
                            out_s[base + pos] = ps
                            out_j[base + pos] = out_j[base + pos - 1]
                            pos -= 1
                        out_s[base + pos] = d
                        out_j[base + pos] = j
                    counts[i] = c


    # ---------------------------------------------------------------- vector kernel
    #
    # The threshold kernel below works on rows padded to a multiple of 8 words (512 bits),
    # so that LLVM vector code can load each row as ``<8 x i64>`` chunks. One call of
    # ``_and_popcount_2x4`` computes the intersections of two rows of A with four rows of B
    # (eight pairs): per chunk it ANDs, counts bits with ``llvm.ctpop.v8i64`` (one VPOPCNTQ
    # on CPUs with AVX-512 VPOPCNTDQ; a shuffle-based sequence elsewhere) and accumulates in
    # vector registers. After the last chunk, the four per-lane counts of one A row are
    # packed into 16-bit fields of each 64-bit lane (a lane holds at most 64 * chunks bits,
    # and 16-bit fields hold a whole row's count while rows have < 2**15 bits), and one
    # horizontal sum over the eight lanes yields all four intersections at once, as four
    # 16-bit fields of a uint64. That replaces four horizontal reductions with one.

    _I64 = _ir.IntType(64)
    _I32 = _ir.IntType(32)
    _V8 = _ir.VectorType(_I64, 8)
    _SIMD_ROWS_A = 2
    _SIMD_ROWS_B = 4

    def _row_vector_ptr(builder, arr, row):  # type: ignore[no-untyped-def]
        """Pointer to row ``row`` of a 2-D C-contiguous array, as ``<8 x i64>*``."""
        data = builder.ptrtoint(arr.data, _I64)
        stride = cgutils.unpack_tuple(builder, arr.strides, 2)[0]
        return builder.inttoptr(builder.add(data, builder.mul(row, stride)), _V8.as_pointer())

    def _shuffle8(builder, x, y, idx):  # type: ignore[no-untyped-def]
        return builder.shuffle_vector(x, y, _ir.Constant(_ir.VectorType(_I32, 8), idx))

    @intrinsic
    def _and_popcount_2x4(typingctx, A, i, B, j, nv):  # type: ignore[no-untyped-def]
        """``(p, q)``: ``|A[i+r] & B[j+c]|`` in bits ``16c..16c+15`` of ``p`` (r=0), ``q`` (r=1).

        ``A`` and ``B`` are 2-D C-contiguous uint64 arrays whose rows are ``8 * nv`` words
        (zero padded); rows ``i, i+1`` of A and ``j..j+3`` of B must exist in memory (they
        are read whatever the caller then uses). Counts must be below 2**16.
        """
        if not (isinstance(A, types.Array) and A.dtype == types.uint64 and A.ndim == 2
                and A.layout == "C" and isinstance(B, types.Array) and B.dtype == types.uint64
                and B.ndim == 2 and B.layout == "C"):
            return None
        sig = types.UniTuple(types.uint64, 2)(A, types.intp, B, types.intp, types.intp)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            a = context.make_array(signature.args[0])(context, builder, args[0])
            b = context.make_array(signature.args[2])(context, builder, args[2])
            i_, j_, nv_ = args[1], args[3], args[4]
            rows_a = [
                _row_vector_ptr(builder, a, builder.add(i_, _ir.Constant(_I64, r)))
                for r in range(_SIMD_ROWS_A)
            ]
            rows_b = [
                _row_vector_ptr(builder, b, builder.add(j_, _ir.Constant(_I64, c)))
                for c in range(_SIMD_ROWS_B)
            ]
            ctpop = cgutils.get_or_insert_function(
                builder.module, _ir.FunctionType(_V8, [_V8]), "llvm.ctpop.v8i64"
            )
            zero = _ir.Constant(_V8, None)
            accs = [
                [cgutils.alloca_once_value(builder, zero) for _ in range(_SIMD_ROWS_B)]
                for _ in range(_SIMD_ROWS_A)
            ]

            def chunk(k):  # type: ignore[no-untyped-def]
                va = [builder.load(builder.gep(p, [k]), align=8) for p in rows_a]
                for c in range(_SIMD_ROWS_B):
                    vb = builder.load(builder.gep(rows_b[c], [k]), align=8)
                    for r in range(_SIMD_ROWS_A):
                        x = builder.call(ctpop, [builder.and_(va[r], vb)])
                        acc = accs[r][c]
                        builder.store(builder.add(builder.load(acc), x), acc)

            # 1024-bit filters (two chunks) are the common case: straight-line code for
            # them, a loop for every other width.
            is_two = builder.icmp_signed("==", nv_, _ir.Constant(_I64, 2))
            with builder.if_else(is_two, likely=True) as (two, other):
                with two:
                    chunk(_ir.Constant(_I64, 0))
                    chunk(_ir.Constant(_I64, 1))
                with other:
                    with cgutils.for_range(builder, nv_) as loop:
                        chunk(loop.index)

            packs = []
            for r in range(_SIMD_ROWS_A):
                packed = builder.load(accs[r][0])
                for c in range(1, _SIMD_ROWS_B):
                    shifted = builder.shl(builder.load(accs[r][c]), _ir.Constant(_V8, [16 * c] * 8))
                    packed = builder.or_(packed, shifted)
                packs.append(packed)
            # one horizontal sum for both rows: halves, then pairs, then neighbours
            p, q = packs
            s = builder.add(
                _shuffle8(builder, p, q, [0, 1, 2, 3, 8, 9, 10, 11]),
                _shuffle8(builder, p, q, [4, 5, 6, 7, 12, 13, 14, 15]),
            )
            s = builder.add(s, _shuffle8(builder, s, s, [2, 3, 0, 1, 6, 7, 4, 5]))
            s = builder.add(s, _shuffle8(builder, s, s, [1, 0, 3, 2, 5, 4, 7, 6]))
            outs = [
                builder.extract_element(s, _ir.Constant(_I32, 0)),
                builder.extract_element(s, _ir.Constant(_I32, 4)),
            ]
            return context.make_tuple(builder, signature.return_type, outs)

        return sig, codegen

    @njit(cache=True, nogil=True)
    def _need_tables(t: float, nbits: int):  # type: ignore[no-untyped-def]  # pragma: no cover
        """``need[tot]`` (:func:`_need` for every ``tot`` in ``0..2*nbits``) and its suffix
        minimum ``floor[tot] = min(need[tot:])`` (a lower bound for any larger total)."""
        size = 2 * nbits + 1
        need = np.empty(size, dtype=np.int64)
        for tot in range(size):
            need[tot] = _need(t, tot, nbits)
        floor = need.copy()
        for tot in range(size - 2, -1, -1):
            floor[tot] = min(floor[tot], floor[tot + 1])
        return need, floor

    _FIELD_HIGH = np.uint64(0x8000800080008000)
    _FIELD_ONES = np.uint64(0x0001000100010001)

    @njit(inline="always")
    def _row_hits(
        packed, i, jbase, jlo, jhi, pai, need, pb, cap, out_j, out_s, counts
    ):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
        """Append the fields of ``packed`` (B rows ``jbase..jbase+3``) that reach ``need``."""
        c = counts[i]
        base = i * cap
        for r in range(4):
            jj = jbase + r
            if jj < jlo or jj >= jhi:
                continue
            s = np.int64((packed >> np.uint64(16 * r)) & np.uint64(0xFFFF))
            tot = pai + pb[jj]
            if s >= need[tot]:
                if c < cap:
                    out_j[base + c] = jj
                    out_s[base + c] = 2.0 * s / tot if tot > 0 else 0.0
                c += 1
        counts[i] = c

    @njit(parallel=True, cache=True, nogil=True, boundscheck=False)
    def threshold_rows_vec(
        A, B, pa, pb, lo, hi, need, floor, nv, cap, tile_a, tile_b, out_j, out_s, counts
    ):  # pragma: no cover - compiled
        """:func:`threshold_rows` on padded rows, two rows of A by four rows of B at a time.

        ``A`` and ``B`` have rows of ``8 * nv`` words (zero padded) and ``B`` has at least
        three extra (zero) rows after its last real one; ``len(pa)`` is the number of real
        rows of A, ``len(pb)`` of B. ``need``/``floor`` come from :func:`_need_tables`.
        Same outputs as :func:`threshold_rows`.
        """
        n = pa.shape[0]
        ntiles = (n + tile_a - 1) // tile_a
        for tix in prange(ntiles):
            r0 = tix * tile_a
            r1 = min(n, r0 + tile_a)
            jmin, jmax = _tile_span(lo, hi, r0, r1, counts)
            for jt in range(jmin, jmax, tile_b):
                je = min(jmax, jt + tile_b)
                for i in range(r0, r1, 2):
                    i2 = i + 1
                    if i2 >= r1:
                        i2 = i  # odd row out: computed twice, its second copy ignored
                    ja0 = max(lo[i], jt)
                    ja1 = min(hi[i], je)
                    jb0 = max(lo[i2], jt)
                    jb1 = min(hi[i2], je)
                    if i2 == i or jb1 <= jb0:
                        jb0 = ja0
                        jb1 = ja0  # empty
                    if ja1 <= ja0:
                        ja0 = jb0
                        ja1 = jb0  # empty
                    if ja1 <= ja0 and jb1 <= jb0:
                        continue
                    if ja1 <= ja0:
                        j0, j1 = jb0, jb1
                    elif jb1 <= jb0:
                        j0, j1 = ja0, ja1
                    else:
                        j0, j1 = min(ja0, jb0), max(ja1, jb1)
                    pai = pa[i]
                    pai2 = pa[i2]
                    for j in range(j0, j1, 4):
                        p, q = _and_popcount_2x4(A, i, B, j, nv)
                        # pb is sorted, so floor[pa + pb[j]] bounds the need of all four
                        # B rows from below; a field f reaches a bound g < 2**15 exactly
                        # when bit 15 of f + 2**15 - g is set (no carry between fields).
                        gp = np.uint64(0x8000 - floor[pai + pb[j]]) * _FIELD_ONES
                        gq = np.uint64(0x8000 - floor[pai2 + pb[j]]) * _FIELD_ONES
                        if ((p + gp) | (q + gq)) & _FIELD_HIGH == 0:
                            continue
                        _row_hits(p, i, j, ja0, ja1, pai, need, pb, cap, out_j, out_s, counts)
                        if i2 != i:
                            _row_hits(
                                q, i2, j, jb0, jb1, pai2, need, pb, cap, out_j, out_s, counts
                            )



_USE_COMPILED = HAVE_NUMBA and os.environ.get("NISLINK_NO_NUMBA", "") in ("", "0")


def _host_has_vector_popcount() -> bool:
    """True when LLVM reports AVX-512 VPOPCNTDQ (a 512-bit popcount) on this CPU."""
    if not HAVE_NUMBA:
        return False
    try:
        return bool(_llvm_binding.get_host_cpu_features().get("avx512vpopcntdq", False))
    except Exception:  # pragma: no cover - LLVM without feature detection
        return False


def _vector_default() -> bool:
    forced = os.environ.get("NISLINK_VECTOR_KERNEL", "")
    if forced in ("0", "1"):
        return forced == "1"
    return _host_has_vector_popcount()


# The vector threshold kernel (threshold_rows_vec) is correct on every CPU (LLVM lowers
# vector popcounts everywhere) but was measured faster only where the CPU has a 512-bit
# popcount; elsewhere the per-word kernel (threshold_rows) stays the default.
# NISLINK_VECTOR_KERNEL=1 or 0 forces the choice.
_USE_VECTOR = HAVE_NUMBA and _vector_default()

#: Rows up to this many 64-bit words use the vector kernel (16-bit fields, see above).
_VECTOR_MAX_WORDS = 511


def compiled() -> bool:
    """True when the compiled (numba) kernels are in use, False for the NumPy fallback."""
    return _USE_COMPILED


# --------------------------------------------------------------------------- checks


def _check_pair(a: BitMatrix, b: BitMatrix) -> None:
    if not isinstance(a, BitMatrix) or not isinstance(b, BitMatrix):
        raise TypeError(
            f"expected two BitMatrix arguments, got {type(a).__name__} and {type(b).__name__}"
        )
    if a.nbits != b.nbits:
        raise ValueError(f"filters have different lengths: {a.nbits} and {b.nbits} bits")


def _check_index(idx: np.ndarray, n: int, name: str) -> np.ndarray:
    arr = np.asarray(idx)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D index array")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer positions, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{name} holds position {bad}, outside 0..{n - 1}")
    return arr


def _check_threshold(threshold: float) -> float:
    t = float(threshold)
    if not (0.0 <= t <= 1.0):
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return t


def _bits(m: BitMatrix) -> np.ndarray:
    return np.ascontiguousarray(m.bits)


# --------------------------------------------------------------------------- pair lists


def _np_inter_chunks(
    a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray, chunk: int
) -> Iterator[tuple[slice, np.ndarray]]:
    for start in range(0, len(ia), chunk):
        sl = slice(start, min(start + chunk, len(ia)))
        x = a[ia[sl]]
        np.bitwise_and(x, b[ib[sl]], out=x)
        yield sl, np.bitwise_count(x).sum(axis=1, dtype=np.int32)


def intersection_pairs(
    a: BitMatrix, b: BitMatrix, ia: np.ndarray, ib: np.ndarray, *, chunk: int = DEFAULT_PAIR_CHUNK
) -> np.ndarray:
    """``|a[ia[k]] & b[ib[k]]|`` for every candidate pair ``k`` (``int32``).

    ``ia`` and ``ib`` are equal-length arrays of integer row positions.
    """
    _check_pair(a, b)
    ia = _check_index(ia, len(a), "ia")
    ib = _check_index(ib, len(b), "ib")
    if ia.shape != ib.shape:
        raise ValueError(f"ia and ib differ in length: {len(ia)} and {len(ib)}")
    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    out = np.empty(len(ia), dtype=np.int32)
    if not len(ia):
        return out
    if _USE_COMPILED:
        inter_pairs(_bits(a), _bits(b), ia, ib, out)
    else:
        for sl, inter in _np_inter_chunks(a.bits, b.bits, ia, ib, chunk):
            out[sl] = inter
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    res = np.zeros(len(num), dtype=np.float64)
    np.divide(num, den, out=res, where=den > 0)
    return res.astype(np.float32)


def dice_pairs(
    a: BitMatrix, b: BitMatrix, ia: np.ndarray, ib: np.ndarray, *, chunk: int = DEFAULT_PAIR_CHUNK
) -> np.ndarray:
    """Dice coefficient of ``a[ia[k]]`` and ``b[ib[k]]`` for each pair ``k`` (``float32``).

    ``ia`` and ``ib`` are equal-length integer position arrays (e.g. from
    :func:`nislink.block.candidate_pairs`). Two empty filters score ``0.0``.
    """
    inter = intersection_pairs(a, b, ia, ib, chunk=chunk)
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    den = a.popcount[ia].astype(np.int64) + b.popcount[ib]
    return _ratio(2.0 * inter, den)


def jaccard_pairs(
    a: BitMatrix, b: BitMatrix, ia: np.ndarray, ib: np.ndarray, *, chunk: int = DEFAULT_PAIR_CHUNK
) -> np.ndarray:
    """Jaccard coefficient ``|x & y| / |x | y|`` per candidate pair (``float32``).

    Two empty filters score ``0.0``.
    """
    inter = intersection_pairs(a, b, ia, ib, chunk=chunk)
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    union = a.popcount[ia].astype(np.int64) + b.popcount[ib] - inter
    return _ratio(inter.astype(np.float64), union)


def hamming_pairs(
    a: BitMatrix, b: BitMatrix, ia: np.ndarray, ib: np.ndarray, *, chunk: int = DEFAULT_PAIR_CHUNK
) -> np.ndarray:
    """Hamming distance ``|x ^ y|`` (number of differing bits) per candidate pair (``int32``)."""
    inter = intersection_pairs(a, b, ia, ib, chunk=chunk)
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    return (a.popcount[ia] + b.popcount[ib] - 2 * inter).astype(np.int32)


# --------------------------------------------------------------------------- dense blocks


def _unpack_f32(bits: np.ndarray) -> np.ndarray:
    as_bytes = np.ascontiguousarray(bits).astype("<u8", copy=False).view(np.uint8)
    return np.unpackbits(as_bytes.reshape(bits.shape[0], -1), axis=1).astype(np.float32)


def _np_inter_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NumPy ``(len(a), len(b))`` intersection counts.

    Unpacks both sides to 0/1 ``float32`` and multiplies them (BLAS): each product is a
    sum of at most ``nbits`` ones, exact in ``float32`` up to 2**24 bits.
    """
    if a.shape[1] * 64 >= 1 << 24:  # pragma: no cover - filters of 16M bits
        raise ValueError("filters longer than 2**24 bits are not supported")
    if not (len(a) and len(b)):
        return np.zeros((len(a), len(b)), dtype=np.int32)
    return (_unpack_f32(a) @ _unpack_f32(b).T).astype(np.int32)


def intersection_matrix(a: BitMatrix, b: BitMatrix) -> np.ndarray:
    """All-pairs ``|a[i] & b[j]|`` as an ``(len(a), len(b))`` ``int32`` matrix."""
    _check_pair(a, b)
    if _USE_COMPILED:
        out = np.empty((len(a), len(b)), dtype=np.int32)
        if len(a) and len(b):
            inter_matrix(_bits(a), _bits(b), out)
        return out
    return _np_inter_matrix(a.bits, b.bits)


def dice_matrix(a: BitMatrix, b: BitMatrix) -> np.ndarray:
    """All-pairs Dice coefficients as an ``(len(a), len(b))`` ``float32`` matrix.

    Meant for blocks (it allocates the full matrix); use :func:`threshold_pairs` or
    :func:`topk` for large inputs.
    """
    inter = intersection_matrix(a, b)
    den = a.popcount[:, None].astype(np.int64) + b.popcount[None, :]
    res = np.zeros(inter.shape, dtype=np.float64)
    np.divide(2.0 * inter, den, out=res, where=den > 0)
    return res.astype(np.float32)


def popcount_window(
    sorted_pb: np.ndarray, pa: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Admissible ``[lo, hi)`` positions in popcount-sorted ``sorted_pb`` for each ``pa``.

    Since ``Dice(x, y) <= 2 min(px, py) / (px + py)``, a filter of popcount ``pa`` can reach
    Dice ``t > 0`` only with popcounts ``pb`` in ``[t pa / (2 - t), (2 - t) pa / t]``. The
    window is widened by one popcount on each side so it never drops an admissible pair
    to rounding; the kernels then test each pair exactly.
    """
    t = _check_threshold(threshold)
    pa = np.asarray(pa, dtype=np.int64)
    n = len(sorted_pb)
    if t <= 0.0:
        return np.zeros(len(pa), dtype=np.int64), np.full(len(pa), n, dtype=np.int64)
    low = np.floor(t * pa / (2.0 - t)) - 1
    high = np.ceil((2.0 - t) * pa / t) + 1
    lo = np.searchsorted(sorted_pb, low, side="left").astype(np.int64)
    hi = np.searchsorted(sorted_pb, high, side="right").astype(np.int64)
    return lo, hi


def _np_scores(inter: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    den = pa[:, None].astype(np.int64) + pb[None, :]
    res = np.zeros(inter.shape, dtype=np.float64)
    np.divide(2.0 * inter, den, out=res, where=den > 0)
    return res


_TILE_A = 64
_TILE_B = 2048
_NP_BLOCK = 1024


def _sorted_side(m: BitMatrix, pad: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by popcount (stable), their popcounts and the permutation.

    ``pad=True`` lays the rows out for :func:`threshold_rows_vec`: each row zero padded to
    a multiple of 8 words and three zero rows appended (zero bits change no intersection).
    """
    perm = np.argsort(m.popcount, kind="stable").astype(np.int64)
    pop = np.ascontiguousarray(m.popcount[perm])
    if not pad:
        return np.ascontiguousarray(m.bits[perm]), pop, perm
    words = m.bits.shape[1]
    bits = np.zeros((len(m) + _SIMD_PAD_ROWS, -(-words // 8) * 8), dtype=np.uint64)
    bits[: len(m), :words] = m.bits[perm]
    return bits, pop, perm


_SIMD_PAD_ROWS = 3


def _use_vector_kernel(words: int) -> bool:
    return _USE_COMPILED and _USE_VECTOR and words <= _VECTOR_MAX_WORDS


def threshold_pairs(
    a: BitMatrix,
    b: BitMatrix | None = None,
    threshold: float = 0.8,
    *,
    rows_per_chunk: int = 8192,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs with Dice ``>= threshold``, as ``(ia, ib, score)`` sorted by ``(ia, ib)``.

    ``b=None`` compares ``a`` with itself and returns each unordered pair once, with
    ``ia < ib`` (de-duplication). Rows are sorted by popcount internally and each row of
    ``a`` is compared only with the admissible popcount window of ``b``
    (:func:`popcount_window`); ``a`` is processed ``rows_per_chunk`` rows at a time, so
    temporary memory is bounded and the output is the only thing that grows.
    """
    t = _check_threshold(threshold)
    self_join = b is None
    if self_join:
        b = a
    _check_pair(a, b)
    if rows_per_chunk < 1:
        raise ValueError("rows_per_chunk must be >= 1")
    vector = _use_vector_kernel(a.words)
    A, pa, aperm = _sorted_side(a, pad=vector)
    if self_join:
        B, pb, bperm = A, pa, aperm
    else:
        B, pb, bperm = _sorted_side(b, pad=vector)
    tables = _need_tables(t, a.nbits) if vector else None
    lo_all, hi_all = popcount_window(pb, pa, t)
    if self_join:
        lo_all = np.maximum(lo_all, np.arange(len(pa), dtype=np.int64) + 1)
        hi_all = np.maximum(hi_all, lo_all)
    out_a: list[np.ndarray] = []
    out_b: list[np.ndarray] = []
    out_s: list[np.ndarray] = []
    for r0 in range(0, len(pa), rows_per_chunk):
        r1 = min(len(pa), r0 + rows_per_chunk)
        lo, hi = lo_all[r0:r1], hi_all[r0:r1]
        if _USE_COMPILED:
            rows, js, sc = _thr_compiled(A[r0:r1], B, pa[r0:r1], pb, lo, hi, t, a.nbits, tables)
        else:
            rows, js, sc = _thr_numpy(A[r0:r1], B, pa[r0:r1], pb, lo, hi, t)
        out_a.append(aperm[rows + r0])
        out_b.append(bperm[js])
        out_s.append(sc)
    ia = np.concatenate(out_a) if out_a else np.empty(0, np.int64)
    ib = np.concatenate(out_b) if out_b else np.empty(0, np.int64)
    sc = np.concatenate(out_s) if out_s else np.empty(0, np.float32)
    if self_join:
        lo_id = np.minimum(ia, ib)
        ib = np.maximum(ia, ib)
        ia = lo_id
    order = np.lexsort((ib, ia))
    return ia[order], ib[order], sc[order]


def _thr_compiled(
    A: np.ndarray,
    B: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    t: float,
    nbits: int,
    tables: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the compiled threshold kernel on rows ``A`` (popcounts ``pa``).

    With ``tables`` (from :func:`_need_tables`) ``A`` and ``B`` are laid out by
    ``_sorted_side(..., pad=True)`` and the vector kernel runs; otherwise the per-word one.
    """
    n = len(pa)
    cap = 16

    def run(A, pa, lo, hi, cap, out_j, out_s, counts):  # type: ignore[no-untyped-def]
        if tables is None:
            threshold_rows(
                A, B, pa, pb, lo, hi, t, nbits, cap, _TILE_A, _TILE_B, out_j, out_s, counts
            )
        else:
            threshold_rows_vec(
                A, B, pa, pb, lo, hi, tables[0], tables[1], A.shape[1] // 8, cap,
                _TILE_A, _TILE_B, out_j, out_s, counts,
            )

    out_j = np.empty(n * cap, dtype=np.int64)
    out_s = np.empty(n * cap, dtype=np.float32)
    counts = np.zeros(n, dtype=np.int64)
    run(A, pa, lo, hi, cap, out_j, out_s, counts)
    mask = (np.arange(cap)[None, :] < counts[:, None]) & (counts <= cap)[:, None]
    rows = np.nonzero(mask)[0].astype(np.int64)
    js = out_j.reshape(n, cap)[mask]
    sc = out_s.reshape(n, cap)[mask]
    over = np.flatnonzero(counts > cap)
    if len(over):  # rows with more results than fitted: rerun them with room for all
        cap2 = int(counts[over].max())
        m = len(over)
        oj = np.empty(m * cap2, dtype=np.int64)
        osc = np.empty(m * cap2, dtype=np.float32)
        oc = np.zeros(m, dtype=np.int64)
        # (the vector kernel reads rows of A in pairs: one zero row after them for it; the
        # per-word kernel takes its row count from A)
        a_over = np.zeros((m + (tables is not None), A.shape[1]), dtype=A.dtype)
        a_over[:m] = A[over]
        run(a_over, pa[over], lo[over], hi[over], cap2, oj, osc, oc)
        mask2 = np.arange(cap2)[None, :] < oc[:, None]
        rows = np.concatenate([rows, over[np.nonzero(mask2)[0]]])
        js = np.concatenate([js, oj.reshape(m, cap2)[mask2]])
        sc = np.concatenate([sc, osc.reshape(m, cap2)[mask2]])
    return rows, js, sc


def _np_window_blocks(
    lo: np.ndarray, hi: np.ndarray
) -> Iterator[tuple[int, int]]:
    valid = hi > lo
    if not valid.any():
        return
    jmin, jmax = int(lo[valid].min()), int(hi[valid].max())
    for j0 in range(jmin, jmax, _NP_BLOCK):
        yield j0, min(jmax, j0 + _NP_BLOCK)


def _thr_numpy(
    A: np.ndarray,
    B: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    t: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows_l, js_l, sc_l = [], [], []
    for r0 in range(0, len(A), _NP_BLOCK):
        r1 = min(len(A), r0 + _NP_BLOCK)
        for j0, j1 in _np_window_blocks(lo[r0:r1], hi[r0:r1]):
            sc = _np_scores(_np_inter_matrix(A[r0:r1], B[j0:j1]), pa[r0:r1], pb[j0:j1])
            jj = np.arange(j0, j1)
            ok = (sc >= t) & (jj[None, :] >= lo[r0:r1, None]) & (jj[None, :] < hi[r0:r1, None])
            r, c = np.nonzero(ok)
            rows_l.append(r + r0)
            js_l.append(c + j0)
            sc_l.append(sc[r, c].astype(np.float32))
    if not rows_l:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    return (
        np.concatenate(rows_l).astype(np.int64),
        np.concatenate(js_l).astype(np.int64),
        np.concatenate(sc_l),
    )


def topk(
    a: BitMatrix,
    b: BitMatrix | None,
    k: int,
    threshold: float = 0.0,
    *,
    rows_per_chunk: int = 8192,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of ``a``, its ``k`` most similar rows of ``b`` with Dice ``>= threshold``.

    Returns ``(ia, ib, score)`` sorted by ``ia``, then descending score, then ``ib``
    (ties at the k-th place go to the smaller ``ib``). ``b=None`` searches ``a`` itself,
    excluding each row's match with itself (pairs are then ordered: both ``(i, j)`` and
    ``(j, i)`` may appear). A row with fewer than ``k`` admissible rows gets fewer.
    """
    t = _check_threshold(threshold)
    self_join = b is None
    if self_join:
        b = a
    _check_pair(a, b)
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    A, pa, aperm = _sorted_side(a)
    B, pb, bperm = _sorted_side(b)
    lo_all, hi_all = popcount_window(pb, pa, t)
    out_a, out_b, out_s = [], [], []
    for r0 in range(0, len(A), rows_per_chunk):
        r1 = min(len(A), r0 + rows_per_chunk)
        n = r1 - r0
        aid = aperm[r0:r1]
        if _USE_COMPILED:
            oj = np.empty(n * k, dtype=np.int64)
            osc = np.empty(n * k, dtype=np.float64)
            oc = np.zeros(n, dtype=np.int64)
            topk_rows(
                A[r0:r1], B, pa[r0:r1], pb, bperm, aid, self_join, lo_all[r0:r1],
                hi_all[r0:r1], t, a.nbits, k, _TILE_A, _TILE_B, oj, osc, oc,
            )
            mask = np.arange(k)[None, :] < oc[:, None]
            rows = np.repeat(np.arange(n), oc)
            js = oj.reshape(n, k)[mask]
            sc = osc.reshape(n, k)[mask]
        else:
            rows, js, sc = _topk_numpy(
                A[r0:r1], B, pa[r0:r1], pb, bperm, aid, self_join,
                lo_all[r0:r1], hi_all[r0:r1], t, k,
            )
        out_a.append(aid[rows])
        out_b.append(bperm[js])
        out_s.append(sc)
    ia = np.concatenate(out_a) if out_a else np.empty(0, np.int64)
    ib = np.concatenate(out_b) if out_b else np.empty(0, np.int64)
    sc = np.concatenate(out_s) if out_s else np.empty(0, np.float64)
    order = np.lexsort((ib, -sc, ia))
    return ia[order], ib[order], sc[order].astype(np.float32)


def _select_topk(
    rows: np.ndarray, bid: np.ndarray, sc: np.ndarray, k: int
) -> np.ndarray:
    """Positions of the k best (score desc, bid asc) entries per row."""
    order = np.lexsort((bid, -sc, rows))
    r = rows[order]
    first = np.r_[0, np.flatnonzero(r[1:] != r[:-1]) + 1] if len(r) else np.empty(0, int)
    starts = np.repeat(first, np.diff(np.r_[first, len(r)]))
    return order[(np.arange(len(r)) - starts) < k]


def _topk_numpy(
    A: np.ndarray,
    B: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    bperm: np.ndarray,
    aid: np.ndarray,
    skip_self: bool,
    lo: np.ndarray,
    hi: np.ndarray,
    t: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.empty(0, np.int64)
    js = np.empty(0, np.int64)
    scs = np.empty(0, np.float64)
    for r0 in range(0, len(A), _NP_BLOCK):
        r1 = min(len(A), r0 + _NP_BLOCK)
        for j0, j1 in _np_window_blocks(lo[r0:r1], hi[r0:r1]):
            sc = _np_scores(_np_inter_matrix(A[r0:r1], B[j0:j1]), pa[r0:r1], pb[j0:j1])
            jj = np.arange(j0, j1)
            ok = (sc >= t) & (jj[None, :] >= lo[r0:r1, None]) & (jj[None, :] < hi[r0:r1, None])
            if skip_self:
                ok &= bperm[jj][None, :] != aid[r0:r1, None]
            r, c = np.nonzero(ok)
            rows = np.concatenate([rows, r + r0])
            js = np.concatenate([js, c + j0])
            scs = np.concatenate([scs, sc[r, c]])
            keep = _select_topk(rows, bperm[js], scs, k)
            rows, js, scs = rows[keep], js[keep], scs[keep]
    return rows, js, scs


def set_threads(n: int) -> None:
    """Set how many threads the compiled kernels use (no effect on the NumPy fallback)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    if HAVE_NUMBA:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))

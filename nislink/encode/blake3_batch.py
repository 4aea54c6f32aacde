"""Keyed BLAKE3 over many short messages at once (numba), bit-identical to ``blake3``.

Salted encodings hash every (token, salt) pair of every record: tens of millions of
messages of a few dozen bytes, where the per-call overhead of the ``blake3`` package
dominates. A message of at most 64 bytes is a single block of a single chunk, so its keyed
hash (and every 64-byte block of its extendable output) is one call of the compression
function: this module runs that compression for a whole batch in compiled code.

One compression serves every kernel here: :func:`_compress16`, 16 messages side by side
written directly in LLVM vector IR (``<16 x i32>`` adds and xors, funnel-shift rotates;
:mod:`nislink.encode.simd`), so that an AVX-512 CPU runs each step of G for 16 messages
in one ``zmm`` instruction with native rotates, where numba's scalar code widened 32-bit
arithmetic to 64 bits and emitted no vector rotates. Messages are assembled from byte
tables a whole 64-byte row at a time (one row per lane) and transposed to words in
registers.

Only the BLAKE3 specification is used (O'Connor, Aumasson, Neves, Wilcox-O'Hearn 2020,
section 2): the IV, the message schedule, the flags ``CHUNK_START | CHUNK_END | ROOT |
KEYED_HASH`` and the output function (block ``i`` of the output is the compression with
counter ``i``). ``tests/test_encode_blake3.py`` checks the result against the ``blake3``
package on random keys, messages and output lengths.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic

from nislink.encode.simd import LANES, U32_1D, U32_2D, Lanes

__all__ = ["MAX_MESSAGE", "byte_table", "joined_table", "joined_xof_words", "keyed_xof_short",
           "keyed_xof_table", "salted_filters"]

MAX_MESSAGE = 64
"""Longest message (bytes) this batch path takes; longer ones go to ``blake3``."""

_IV = np.array([0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19], dtype=np.uint32)
_FLAGS = np.uint32(1 | 2 | 8 | 16)  # CHUNK_START | CHUNK_END | ROOT | KEYED_HASH
_LITTLE = sys.byteorder == "little"


_PERM = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
"""The BLAKE3 message permutation (specification, section 2.2)."""


def _compress_ir(x: Lanes, msg: list[ir.Value], keys: list[ir.Value], counter: ir.Value,
                 mlen: ir.Value) -> list[ir.Value]:
    """The 16 output words (each a ``<LANES x i32>``) of keyed BLAKE3 compressions of
    :data:`LANES` single-block messages: ``msg`` the 16 message words, ``keys`` the 8 key
    words (splat), ``counter`` / ``mlen`` each lane's output-block counter and message
    length; flags ``CHUNK_START | CHUNK_END | ROOT | KEYED_HASH``. G is vector adds, xors
    and rotates, and the seven rounds and the message permutation (which only renames
    values) are unrolled at compile time."""
    s = keys + [x.const(int(c)) for c in _IV[:4]] + [counter, x.const(0), mlen,
                                                     x.const(int(_FLAGS))]

    def g(a: int, b: int, c: int, d: int, mx: ir.Value, my: ir.Value) -> None:
        s[a] = x.add(s[a], s[b], mx)
        s[d] = x.rotr(x.xor(s[d], s[a]), 16)
        s[c] = x.add(s[c], s[d])
        s[b] = x.rotr(x.xor(s[b], s[c]), 12)
        s[a] = x.add(s[a], s[b], my)
        s[d] = x.rotr(x.xor(s[d], s[a]), 8)
        s[c] = x.add(s[c], s[d])
        s[b] = x.rotr(x.xor(s[b], s[c]), 7)

    for _ in range(7):
        g(0, 4, 8, 12, msg[0], msg[1])
        g(1, 5, 9, 13, msg[2], msg[3])
        g(2, 6, 10, 14, msg[4], msg[5])
        g(3, 7, 11, 15, msg[6], msg[7])
        g(0, 5, 10, 15, msg[8], msg[9])
        g(1, 6, 11, 12, msg[10], msg[11])
        g(2, 7, 8, 13, msg[12], msg[13])
        g(3, 4, 9, 14, msg[14], msg[15])
        msg = [msg[p] for p in _PERM]
    # the output function: words 0-7 and 8-15 of the extended output
    return ([x.xor(s[i], s[8 + i]) for i in range(8)]
            + [x.xor(s[8 + i], keys[i]) for i in range(8)])


def _lane_inputs(x: Lanes, context, builder, sig, args):  # type: ignore[no-untyped-def]
    """The message words (the lane-major rows of ``args[0]`` transposed), the splat key
    words (``args[1]``) and the counter and length vectors (``args[2]``, ``args[3]``)."""
    mp = x.rows(context, builder, sig.args[0], args[0])
    kp = x.scalars(context, builder, sig.args[1], args[1])
    cp, lp = (x.rows(context, builder, sig.args[j], args[j]) for j in (2, 3))
    msg = x.transpose([x.load(mp, i) for i in range(LANES)])
    keys = [x.splat(builder.load(builder.gep(kp, [ir.Constant(x.i32, i)]), align=4))
            for i in range(8)]
    return msg, keys, x.load(cp, 0), x.load(lp, 0)


@intrinsic
def _compress16(typingctx, m, key, counter, mlen, v):  # type: ignore[no-untyped-def]
    """Keyed BLAKE3 compressions of :data:`LANES` single-block messages side by side
    (:func:`_compress_ir`).

    ``m``: ``(LANES, 16)`` ``uint32``, row ``ln`` the 16 message words of lane ``ln``
    (lane-major: a message is assembled with whole-row stores, and the rows are
    transposed in registers); ``key``: the 8 key words; ``counter`` / ``mlen``:
    ``(LANES,)`` ``uint32``, each lane's output-block counter and message length. Writes
    the 16 output words of each lane into ``v`` (``(16, LANES)``, row ``w`` word ``w`` of
    every lane).
    """
    if not (m == U32_2D and v == U32_2D and key == U32_1D and counter == U32_1D
            and mlen == U32_1D):
        return None
    sig = types.void(m, key, counter, mlen, v)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        x = Lanes(builder)
        out = _compress_ir(x, *_lane_inputs(x, context, builder, sig, args))
        vp = x.rows(context, builder, sig.args[4], args[4])
        for i in range(16):
            x.store(out[i], vp, i)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _put_row(typingctx, m, ln, a_words, x, z, off):  # type: ignore[no-untyped-def]
    """Row ``ln`` of ``m`` := row ``x`` of ``a_words`` ORed with the 16 words of ``z``
    (flat) from ``off`` on: two vector loads, an or and one vector store (``m`` and
    ``a_words`` ``(k, 16)`` ``uint32``, ``a_words`` and ``z`` any C-contiguous ``uint32``
    arrays, read-only ones too)."""
    def words(a: types.Type) -> bool:
        return isinstance(a, types.Array) and a.dtype == types.uint32 and a.layout == "C"

    if not (m == U32_2D and words(a_words) and a_words.ndim == 2 and words(z)):
        return None
    sig = types.void(m, types.int64, a_words, types.int64, z, types.int64)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        lanes = Lanes(builder)
        i64 = ir.IntType(64)

        def at(j: int, word: ir.Value) -> ir.Value:
            data = context.make_array(sig.args[j])(context, builder, args[j]).data
            return builder.bitcast(builder.gep(data, [word]), lanes.vt.as_pointer())

        width = ir.Constant(i64, 16)
        row = builder.load(at(2, builder.mul(args[3], width)), align=4)
        sfx = builder.load(at(4, args[5]), align=4)
        builder.store(builder.or_(row, sfx), at(0, builder.mul(args[1], width)), align=4)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _xof16(typingctx, blocks, r0, lens, key, ob, out):  # type: ignore[no-untyped-def]
    """Output block ``ob`` of the messages in rows ``r0 .. r0 + LANES - 1`` of ``blocks``
    (``(n, 16)`` ``uint32``, one zero-padded message a row; ``lens``: ``int64`` lengths)
    into columns ``16 * ob ..`` of the same rows of ``out`` (``uint32``, C-contiguous):
    the rows are loaded and transposed in registers, compressed (:func:`_compress_ir`)
    and transposed back, so each message and each output is one vector load or store."""
    def words(a: types.Type) -> bool:
        return (isinstance(a, types.Array) and a.dtype == types.uint32 and a.layout == "C"
                and a.ndim == 2)

    if not (words(blocks) and words(out) and out.mutable and key == U32_1D
            and isinstance(lens, types.Array) and lens.dtype == types.int64
            and lens.layout == "C" and lens.ndim == 1):
        return None
    sig = types.void(blocks, types.int64, lens, key, types.int64, out)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        x = Lanes(builder)
        i64 = ir.IntType(64)
        first = args[1]
        bp = context.make_array(sig.args[0])(context, builder, args[0]).data
        bp = builder.bitcast(builder.gep(bp, [builder.mul(first, ir.Constant(i64, 16))]),
                             x.vt.as_pointer())
        lp = context.make_array(sig.args[2])(context, builder, args[2]).data
        lens16 = builder.load(builder.bitcast(builder.gep(lp, [first]),
                                              ir.VectorType(i64, LANES).as_pointer()), align=8)
        kp = x.scalars(context, builder, sig.args[3], args[3])
        keys = [x.splat(builder.load(builder.gep(kp, [ir.Constant(x.i32, i)]), align=4))
                for i in range(8)]
        msg = x.transpose([x.load(bp, i) for i in range(LANES)])
        res = _compress_ir(x, msg, keys, x.splat(builder.trunc(args[4], x.i32)),
                           builder.trunc(lens16, x.vt))
        oa = context.make_array(sig.args[5])(context, builder, args[5])
        ncol = builder.extract_value(oa.shape, 1)
        op = builder.gep(oa.data, [builder.add(builder.mul(first, ncol),
                                               builder.mul(args[4], ir.Constant(i64, 16)))])
        for ln, row in enumerate(x.transpose(res)):
            at = builder.gep(op, [builder.mul(ir.Constant(i64, ln), ncol)])
            builder.store(row, builder.bitcast(at, x.vt.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, boundscheck=False)
def _rows(blocks, lens, key, nblocks, out):  # type: ignore[no-untyped-def]
    """Output blocks ``0 .. nblocks-1`` (16 words each) of every message (16 words a row;
    ``out``: ``16 * nblocks`` columns): whole groups of :data:`LANES` rows in place, the
    last few through zero-padded copies."""
    nl = LANES
    n = blocks.shape[0]
    full = n - n % nl
    for r0 in range(0, full, nl):
        for ob in range(nblocks):
            _xof16(blocks, r0, lens, key, ob, out)
    if full < n:
        tb = np.zeros((nl, 16), dtype=np.uint32)
        tl = np.zeros(nl, dtype=np.int64)
        to = np.zeros((nl, out.shape[1]), dtype=np.uint32)
        for ln in range(n - full):
            tb[ln] = blocks[full + ln]
            tl[ln] = lens[full + ln]
        for ob in range(nblocks):
            _xof16(tb, 0, tl, key, ob, to)
        for ln in range(n - full):
            out[full + ln] = to[ln]


def keyed_xof_short(messages: Sequence[bytes], key: bytes, nbytes: int,
                    lens: np.ndarray | None = None) -> np.ndarray:
    """``(len(messages), nbytes)`` ``uint8``: the keyed BLAKE3 extendable output of each
    message, every message at most :data:`MAX_MESSAGE` bytes, ``key`` 32 bytes."""
    n = len(messages)
    if len(key) != 32:
        raise ValueError("a BLAKE3 key is 32 bytes")
    if n == 0:
        return np.zeros((0, nbytes), dtype=np.uint8)
    if lens is None:
        lens = np.fromiter((len(x) for x in messages), dtype=np.int64, count=n)
    if lens.max(initial=0) > MAX_MESSAGE:
        raise ValueError(f"messages longer than {MAX_MESSAGE} bytes need the blake3 package")
    # fixed-width bytes: numpy pads each message with zeros to 64 bytes
    padded = np.frombuffer(np.array(messages, dtype="S64").tobytes(), dtype=np.uint8)
    return keyed_xof_table(padded.reshape(n, MAX_MESSAGE), lens, key, nbytes)


def keyed_xof_table(table: np.ndarray, lens: np.ndarray, key: bytes,
                    nbytes: int) -> np.ndarray:
    """:func:`keyed_xof_short` of the rows of a byte table (:func:`byte_table`: row ``i``
    holds message ``i`` zero-padded to 64 bytes, ``lens[i]`` its length)."""
    if len(key) != 32:
        raise ValueError("a BLAKE3 key is 32 bytes")
    _check_table(table, lens, "keyed_xof_table")
    n = table.shape[0]
    if n and np.max(lens) > MAX_MESSAGE:
        raise ValueError(f"messages longer than {MAX_MESSAGE} bytes need the blake3 package")
    nblocks = max(1, -(-nbytes // 64))
    if n == 0:
        return np.zeros((0, nbytes), dtype=np.uint8)
    blocks = np.ascontiguousarray(table, dtype=np.uint8).view("<u4").astype(np.uint32,
                                                                           copy=False)
    kw = np.frombuffer(key, dtype="<u4").astype(np.uint32)
    out = np.empty((n, 16 * nblocks), dtype=np.uint32)
    _rows(blocks, np.ascontiguousarray(lens, dtype=np.int64), kw, nblocks, out)
    raw = out.view(np.uint8) if _LITTLE else out.astype("<u4").view(np.uint8)
    return raw if raw.shape[1] == nbytes else np.ascontiguousarray(raw[:, :nbytes])


# -- messages joined from two byte tables ------------------------------------------------
#
# A salted message is ``a || 0x1F || b`` (a token or a value, then a salt). Building it as
# a Python string for every (token, salt) pair of every record costs more than hashing it,
# so the kernels below take the distinct left parts and the distinct salts as padded byte
# tables and assemble each message in compiled code.


def byte_table(items: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """``(len(items), 64)`` ``uint8`` zero-padded bytes and the ``int64`` lengths; an item
    longer than :data:`MAX_MESSAGE` bytes is an error (callers check the lengths first)."""
    n = len(items)
    lens = np.fromiter(map(len, items), dtype=np.int64, count=n)
    if lens.max(initial=0) > MAX_MESSAGE:
        raise ValueError(f"items longer than {MAX_MESSAGE} bytes")
    if not n:
        return np.zeros((0, MAX_MESSAGE), dtype=np.uint8), lens
    table = np.frombuffer(np.array(items, dtype="S64").tobytes(), dtype=np.uint8)
    return table.reshape(n, MAX_MESSAGE), lens


def joined_table(joined: bytes, lens: np.ndarray) -> np.ndarray:
    """:func:`byte_table` of items given end to end (``joined``, item ``i`` the next
    ``lens[i]`` bytes; every item at most :data:`MAX_MESSAGE` bytes): no ``bytes`` object
    per item."""
    lens = np.asarray(lens, dtype=np.int64)
    if lens.max(initial=0) > MAX_MESSAGE:
        raise ValueError(f"items longer than {MAX_MESSAGE} bytes")
    if int(lens.sum()) != len(joined):
        raise ValueError("the lengths do not add up to the joined bytes")
    table = np.zeros((len(lens), MAX_MESSAGE), dtype=np.uint8)
    _fill_rows(np.frombuffer(joined, dtype=np.uint8), lens, table)
    return table


@njit(cache=True, nogil=True, boundscheck=False)
def _fill_rows(flat, lens, table):  # type: ignore[no-untyped-def]
    pos = 0
    for r in range(lens.shape[0]):
        for i in range(lens[r]):
            table[r, i] = flat[pos + i]
        pos += lens[r]


@intrinsic
def _put_joined(typingctx, m, ln, a_words, x, la, b_words, s):  # type: ignore[no-untyped-def]
    """Row ``ln`` of ``m`` := the words of ``a || 0x1F || b``, ``a`` the first ``la`` bytes
    of row ``x`` of ``a_words``, ``b`` row ``s`` of ``b_words`` (zero-padded byte tables
    read as ``(rows, 16)`` words; at most 64 bytes in all), in registers: ``b``'s words
    shifted up by ``(la + 1) % 4`` bytes with a funnel shift against themselves moved up
    one word, then up by ``(la + 1) // 4`` words (four constant shuffles, each kept or
    not), ORed with ``a``'s row and the separator."""
    def words(a: types.Type) -> bool:
        return (isinstance(a, types.Array) and a.dtype == types.uint32 and a.layout == "C"
                and a.ndim == 2)

    if not (m == U32_2D and words(a_words) and words(b_words)):
        return None
    sig = types.void(m, types.int64, a_words, types.int64, types.int64, b_words,
                     types.int64)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        lanes = Lanes(builder)
        i64 = ir.IntType(64)
        i32 = lanes.i32
        vt = lanes.vt
        width = ir.Constant(i64, 16)

        def row(j: int, r: ir.Value) -> ir.Value:
            data = context.make_array(sig.args[j])(context, builder, args[j]).data
            return builder.bitcast(builder.gep(data, [builder.mul(r, width)]), vt.as_pointer())

        zero = lanes.const(0)

        def up(v: ir.Value, d: int) -> ir.Value:  # word i := word i - d (zeros below)
            idx = [LANES + i if i < d else i - d for i in range(LANES)]
            return builder.shuffle_vector(v, zero, ir.Constant(vt, idx))

        la = builder.trunc(args[4], i32)
        k = builder.add(la, ir.Constant(i32, 1))  # the salt's first byte
        b = builder.load(row(5, args[6]), align=4)
        t = lanes.fshl(b, up(b, 1), lanes.splat(builder.shl(builder.and_(
            k, ir.Constant(i32, 3)), ir.Constant(i32, 3))))
        q = builder.lshr(k, ir.Constant(i32, 2))
        for d in (1, 2, 4, 8):  # at most 15 words: 16 only for an empty b (all zero)
            on = builder.icmp_unsigned("!=", builder.and_(q, ir.Constant(i32, d)),
                                       ir.Constant(i32, 0))
            t = builder.select(on, up(t, d), t)
        sep_word = builder.icmp_unsigned("==", ir.Constant(vt, list(range(LANES))),
                                         lanes.splat(builder.lshr(la, ir.Constant(i32, 2))))
        sep = lanes.splat(builder.shl(ir.Constant(i32, 0x1F), builder.shl(builder.and_(
            la, ir.Constant(i32, 3)), ir.Constant(i32, 3))))
        msg = lanes.or_(lanes.or_(builder.load(row(2, args[3]), align=4), t),
                        builder.select(sep_word, sep, zero))
        builder.store(msg, row(0, args[1]), align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, boundscheck=False)
def _joined_words(a_words, a_len, ia, b_words, b_len, ib, key, nwords, out):  # type: ignore[no-untyped-def]
    nl = LANES
    m = np.zeros((nl, 16), dtype=np.uint32)
    v = np.zeros((16, nl), dtype=np.uint32)
    counter = np.zeros(nl, dtype=np.uint32)
    mlen = np.zeros(nl, dtype=np.uint32)
    n = ia.shape[0]
    for r0 in range(0, n, nl):
        r1 = min(r0 + nl, n)
        for ln in range(r1 - r0):
            x = ia[r0 + ln]
            la = a_len[x]
            _put_joined(m, ln, a_words, x, la, b_words, ib[r0 + ln])
            mlen[ln] = np.uint32(la + 1 + b_len[ib[r0 + ln]])
        for ob in range((nwords + 15) // 16):
            counter[:] = np.uint32(ob)
            _compress16(m, key, counter, mlen, v)
            for ln in range(r1 - r0):
                for w in range(min(16, nwords - ob * 16)):
                    out[r0 + ln, ob * 16 + w] = v[w, ln]


def joined_xof_words(a_tab: np.ndarray, a_len: np.ndarray, ia: np.ndarray,
                     b_tab: np.ndarray, b_len: np.ndarray, ib: np.ndarray, key: bytes,
                     nwords: int) -> np.ndarray:
    """``(len(ia), nwords)`` ``uint32``: the first ``nwords`` little-endian words of the
    keyed BLAKE3 output of ``a[ia[r]] || 0x1F || b[ib[r]]`` for each ``r`` (tables from
    :func:`byte_table`; every joined message at most :data:`MAX_MESSAGE` bytes)."""
    if len(key) != 32:
        raise ValueError("a BLAKE3 key is 32 bytes")
    _check_table(a_tab, a_len, "joined_xof_words: a")
    _check_table(b_tab, b_len, "joined_xof_words: b")
    _check_joined(a_len, b_len)
    ia, ib = np.asarray(ia, np.int64), np.asarray(ib, np.int64)
    if len(ia) != len(ib):
        raise ValueError("joined_xof_words: ia and ib differ in length")
    _check_index(ia, len(a_len), "joined_xof_words: ia")
    _check_index(ib, len(b_len), "joined_xof_words: ib")
    kw = np.frombuffer(key, dtype="<u4").astype(np.uint32)
    out = np.zeros((len(ia), nwords), dtype=np.uint32)
    a_words = np.ascontiguousarray(a_tab).view("<u4").astype(np.uint32, copy=False)
    _joined_words(a_words, a_len, ia, _table_words(b_tab), b_len, ib, kw, nwords, out)
    return out


def _check_table(tab: np.ndarray, lens: np.ndarray, what: str) -> None:
    """A byte table as the kernels read it: 2-D, rows of :data:`MAX_MESSAGE` bytes, one
    length per row (the kernels find a row by its offset, so a wider or narrower table
    would be read wrongly, not refused)."""
    if tab.ndim != 2 or tab.shape[1] != MAX_MESSAGE or np.dtype(tab.dtype).itemsize != 1:
        raise ValueError(f"{what}: expected a byte table of {MAX_MESSAGE}-byte rows, got "
                         f"shape {tab.shape} of {tab.dtype}")
    if len(lens) != tab.shape[0]:
        raise ValueError(f"{what}: {len(lens)} lengths for {tab.shape[0]} rows")


def _check_index(idx: np.ndarray, size: int, what: str) -> None:
    if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= size):
        raise ValueError(f"{what}: an index is outside 0..{size - 1}")


def _table_words(tab: np.ndarray) -> np.ndarray:
    """A byte table (rows of :data:`MAX_MESSAGE` bytes) read as little-endian ``uint32``
    words, without a copy when it is contiguous."""
    return np.ascontiguousarray(tab, dtype=np.uint8).view("<u4").astype(np.uint32,
                                                                         copy=False)


def _check_joined(a_len: np.ndarray, b_len: np.ndarray) -> None:
    if a_len.max(initial=0) + 1 + b_len.max(initial=0) > MAX_MESSAGE:
        raise ValueError(f"joined messages longer than {MAX_MESSAGE} bytes")


_U64_2D = types.Array(types.uint64, 2, "C")


@intrinsic
def _hash_bits256(typingctx, m, key, counter, mlen, nw, mask, acc):  # type: ignore[no-untyped-def]
    """:func:`_compress16` and the Bloom positions of its :data:`LANES` hashes, for a
    filter of at most 256 bits (a power of two): lane ``ln`` sets bit ``v[w] & mask[ln]``
    for each output word ``v[w]``, ``w < nw[ln]``; ``acc`` (``(4, LANES)`` ``uint64``) :=
    the four filter words of every lane. Vector IR: a position's word is chosen by
    compare-and-select (a lane's invalid words get word number 4, which matches none), so
    no lane writes memory that another lane reads, and the hashes never leave registers."""
    if not (m == U32_2D and key == U32_1D and counter == U32_1D and mlen == U32_1D
            and nw == U32_1D and mask == U32_1D and acc == _U64_2D):
        return None
    sig = types.void(m, key, counter, mlen, nw, mask, acc)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        x = Lanes(builder)
        out = _compress_ir(x, *_lane_inputs(x, context, builder, sig, args))
        np_, mp = (x.rows(context, builder, sig.args[j], args[j]) for j in (4, 5))
        i64 = ir.IntType(64)
        v64 = ir.VectorType(i64, LANES)
        ap = builder.bitcast(context.make_array(sig.args[6])(context, builder, args[6]).data,
                             v64.as_pointer())
        nwv = x.load(np_, 0)
        maskv = x.load(mp, 0)
        zero64 = ir.Constant(v64, [0] * LANES)
        one64 = ir.Constant(v64, [1] * LANES)
        words = [zero64] * 4
        for w in range(16):
            pos = x.and_(out[w], maskv)
            bit = builder.shl(one64, builder.zext(x.and_(pos, x.const(63)), v64))
            q = builder.select(builder.icmp_unsigned(">", nwv, x.const(w)),
                               builder.lshr(pos, x.const(6)), x.const(4))
            for k in range(4):
                sel = builder.icmp_unsigned("==", q, x.const(k))
                words[k] = builder.or_(words[k], builder.select(sel, bit, zero64))
        for k in range(4):
            builder.store(words[k], builder.gep(ap, [ir.Constant(x.i32, k)]), align=8)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, boundscheck=False)
def _salted_rows_256(tok_words, tok_len, tok_row, name_start, name_cnt, salt_words, salt_len,  # type: ignore[no-untyped-def]
                     pair_name, pair_salt, bpf, length, key, out):
    """:func:`_salted_body` for filters of at most 256 bits, a power of two."""
    _salted_body(tok_words, tok_len, tok_row, name_start, name_cnt, salt_words, salt_len,
                 pair_name, pair_salt, bpf, length, key, out, True)


@njit(cache=True, nogil=True, boundscheck=False)
def _salted_rows_any(tok_words, tok_len, tok_row, name_start, name_cnt, salt_words, salt_len,  # type: ignore[no-untyped-def]
                     pair_name, pair_salt, bpf, length, key, out):
    """:func:`_salted_body` for any filter length."""
    _salted_body(tok_words, tok_len, tok_row, name_start, name_cnt, salt_words, salt_len,
                 pair_name, pair_salt, bpf, length, key, out, False)


@njit(cache=True, inline="always")
def _salted_body(tok_words, tok_len, tok_row, name_start, name_cnt, salt_words,  # type: ignore[no-untyped-def]
                 salt_len, pair_name, pair_salt, bpf, length, key, out, vec_bits):
    """The filters of :func:`salted_filters`; ``vec_bits`` (a constant in each caller):
    hash and set bits with :func:`_hash_bits256`. A token's message is assembled once per
    output block as one row of ``m`` (:func:`_put_row`) from the pair's salt placed at the
    token's byte offset (``z``, made once per pair and offset, by :func:`_put_joined` as the
    empty text joined to the salt)."""
    nl = LANES
    m = np.zeros((nl, 16), dtype=np.uint32)
    v = np.zeros((16, nl), dtype=np.uint32)
    counter = np.zeros(nl, dtype=np.uint32)
    mlen = np.zeros(nl, dtype=np.uint32)
    lane_row = np.zeros(nl, dtype=np.int64)
    lane_nw = np.zeros(nl, dtype=np.uint32)
    z = np.zeros((4, 32), dtype=np.uint32)  # the pair's salt at each byte offset
    # (z[r, :16] stays zero: the 16 words of z[r] from 16 - q on are the salt from word q)
    z_pair = np.full(4, -1, dtype=np.int64)
    z8 = z.reshape((8, 16))  # row 2 r + 1 is z[r, 16 : 32]
    zero_row = np.zeros((1, 16), dtype=np.uint32)
    pow2 = (length & (length - 1)) == 0
    lmask = np.uint32(length - 1)
    mask = np.full(nl, lmask, dtype=np.uint32)
    acc = np.zeros((4, nl), dtype=np.uint64)
    filled = 0
    for p in range(pair_name.shape[0]):
        vv = pair_name[p]
        t = name_cnt[vv]
        if t == 0:
            continue
        s = pair_salt[p]
        ml0 = 1 + salt_len[s]
        kv = min(max(int(np.rint(bpf / t)), 1), int(bpf))
        for jj in range(name_start[vv], name_start[vv] + t):
            j = tok_row[jj]
            la = tok_len[j]
            r = la & 3
            if z_pair[r] != p:
                # r zero bytes, 0x1F and the salt (past the table: the empty text)
                if s < salt_words.shape[0]:
                    _put_joined(z8, 2 * r + 1, zero_row, 0, r, salt_words, s)
                else:
                    _put_joined(z8, 2 * r + 1, zero_row, 0, r, zero_row, 0)
                z_pair[r] = p
            off = r * 32 + 16 - (la >> 2)
            ml = np.uint32(la + ml0)
            for ob in range((kv + 15) // 16):
                _put_row(m, filled, tok_words, j, z, off)
                counter[filled] = np.uint32(ob)
                mlen[filled] = ml
                lane_row[filled] = p
                lane_nw[filled] = np.uint32(min(16, kv - 16 * ob))
                filled += 1
                if filled == nl:
                    _hash_and_set(m, v, key, counter, mlen, vec_bits, lane_nw, mask, acc,
                                  lane_row, filled, pow2, lmask, length, out)
                    filled = 0
    if filled > 0:
        for ln in range(filled, nl):
            mlen[ln] = 0
            counter[ln] = 0
            lane_nw[ln] = 0
        _hash_and_set(m, v, key, counter, mlen, vec_bits, lane_nw, mask, acc, lane_row,
                      filled, pow2, lmask, length, out)


@njit(cache=True, inline="always")
def _hash_and_set(m, v, key, counter, mlen, vec_bits, lane_nw, mask, acc,  # type: ignore[no-untyped-def]
                  lane_row, filled, pow2, lmask, length, out):
    """Hash the lanes gathered so far and set their bits in their rows of ``out``."""
    if vec_bits:
        _hash_bits256(m, key, counter, mlen, lane_nw, mask, acc)
        _or_runs(acc, lane_row, filled, out)
    else:
        _compress16(m, key, counter, mlen, v)
        _set_lane_bits(v, lane_row, lane_nw, filled, pow2, lmask, length, out)


@njit(cache=True, inline="always")
def _or_runs(acc, lane_row, filled, out):  # type: ignore[no-untyped-def]
    """``out[lane_row[ln]] |= acc[:, ln]`` for the first ``filled`` lanes (``lane_row``
    non-decreasing), ORing each run of lanes of one row in registers and writing it once:
    no chain of read-modify-writes of one row through memory."""
    nq = out.shape[1]  # at most 4
    r = lane_row[0]
    a0, a1, a2, a3 = acc[0, 0], acc[1, 0], acc[2, 0], acc[3, 0]
    for ln in range(1, filled + 1):
        rr = lane_row[ln] if ln < filled else np.int64(-1)
        if rr != r:
            out[r, 0] |= a0
            if nq > 1:
                out[r, 1] |= a1
            if nq > 2:
                out[r, 2] |= a2
            if nq > 3:
                out[r, 3] |= a3
            if ln < filled:
                r = rr
                a0, a1, a2, a3 = acc[0, ln], acc[1, ln], acc[2, ln], acc[3, ln]
        else:
            a0 |= acc[0, ln]
            a1 |= acc[1, ln]
            a2 |= acc[2, ln]
            a3 |= acc[3, ln]


@njit(cache=True, inline="always")
def _set_lane_bits(v, lane_row, lane_nw, filled, pow2, lmask, length, out):  # type: ignore[no-untyped-def]
    for ln in range(filled):
        r = lane_row[ln]
        for w in range(lane_nw[ln]):
            if pow2:
                pos = np.int64(v[w, ln] & lmask)
            else:
                pos = np.int64(v[w, ln]) % length
            out[r, pos >> 6] |= np.uint64(1) << np.uint64(pos & 63)


def salted_filters(tok_tab: np.ndarray, tok_len: np.ndarray, name_start: np.ndarray,
                   name_cnt: np.ndarray, salt_tab: np.ndarray, salt_len: np.ndarray,
                   pair_name: np.ndarray, pair_salt: np.ndarray, bits_per_field: int,
                   length: int, key: bytes, tok_row: np.ndarray | None = None) -> np.ndarray:
    """Packed ``(len(pair_name), ceil(length/64))`` ``uint64`` filters of (value, salt)
    pairs with ``bits_per_field`` (docs/encoding.md, sections 4-5): value ``v`` has the
    tokens ``tok[name_start[v] : name_start[v] + name_cnt[v]]``; each token's message is
    ``token || 0x1F || salt``; with ``t`` tokens each sets the positions ``w[i] mod length``
    for ``i < max(1, min(bpf, rint(bpf / t)))``, ``w`` its keyed BLAKE3 output words. A
    salt index past the rows of ``salt_tab`` is the empty salt (its ``salt_len`` 0).
    ``tok_row``: when given, token ``i`` is row ``tok_row[i]`` of ``tok_tab`` /
    ``tok_len`` (a table of distinct tokens, small enough to stay in cache)."""
    if len(key) != 32:
        raise ValueError("a BLAKE3 key is 32 bytes")
    _check_joined(tok_len, salt_len)
    kw = np.frombuffer(key, dtype="<u4").astype(np.uint32)
    out = np.zeros((len(pair_name), (length + 63) // 64), dtype=np.uint64)
    tok_words = np.ascontiguousarray(tok_tab).view("<u4").astype(np.uint32, copy=False)
    pow2 = (length & (length - 1)) == 0
    kernel = _salted_rows_256 if pow2 and length <= 256 else _salted_rows_any
    _check_table(tok_tab, tok_len, "salted_filters: tokens")
    if salt_tab.shape[0] + 1 != len(salt_len) and salt_tab.shape[0] != len(salt_len):
        raise ValueError("salted_filters: salt_len needs one length per salt row (and may "
                         "end with the empty salt's 0)")
    _check_table(salt_tab, salt_len[:salt_tab.shape[0]], "salted_filters: salts")
    rows = np.arange(len(tok_len), dtype=np.int64) if tok_row is None \
        else np.asarray(tok_row, np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= len(tok_len)):
        raise ValueError("tok_row points past the token table")
    name_start, name_cnt = np.asarray(name_start, np.int64), np.asarray(name_cnt, np.int64)
    if len(name_start) != len(name_cnt) or (
            len(name_cnt) and (name_start.min() < 0
                               or int((name_start + name_cnt).max()) > len(rows))):
        raise ValueError("salted_filters: a value's tokens lie outside the token list")
    _check_index(np.asarray(pair_name, np.int64), len(name_cnt), "salted_filters: pair_name")
    _check_index(np.asarray(pair_salt, np.int64), len(salt_len), "salted_filters: pair_salt")
    kernel(tok_words, tok_len, rows, np.asarray(name_start, np.int64),
                 np.asarray(name_cnt, np.int64), _table_words(salt_tab), salt_len,
                 np.asarray(pair_name, np.int64), np.asarray(pair_salt, np.int64),
                 float(bits_per_field), np.int64(length), kw, out)
    return out

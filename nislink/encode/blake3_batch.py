"""Keyed BLAKE3 over many short messages at once (numba), bit-identical to ``blake3``.

Salted encodings hash every (token, salt) pair of every record: tens of millions of
messages of a few dozen bytes, where the per-call overhead of the ``blake3`` package
dominates. A message of at most 64 bytes is a single block of a single chunk, so its keyed
hash (and every 64-byte block of its extendable output) is one call of the compression
function: this module runs that compression for a whole batch in compiled code.

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
from numba import njit

__all__ = ["MAX_MESSAGE", "keyed_xof_short", "byte_table", "joined_xof_words", "salted_filters"]

MAX_MESSAGE = 64
"""Longest message (bytes) this batch path takes; longer ones go to ``blake3``."""

_IV = np.array([0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19], dtype=np.uint32)
_FLAGS = np.uint32(1 | 2 | 8 | 16)  # CHUNK_START | CHUNK_END | ROOT | KEYED_HASH
_LITTLE = sys.byteorder == "little"


@njit(cache=True, inline="always")
def _rotr(x, n):  # type: ignore[no-untyped-def]
    return (x >> np.uint32(n)) | (x << np.uint32(32 - n))


@njit(cache=True, inline="always")
def _g(a, b, c, d, mx, my):  # type: ignore[no-untyped-def]
    """The BLAKE3 quarter-round G on 32-bit words."""
    a = np.uint32(a + b + mx)
    d = _rotr(np.uint32(d ^ a), 16)
    c = np.uint32(c + d)
    b = _rotr(np.uint32(b ^ c), 12)
    a = np.uint32(a + b + my)
    d = _rotr(np.uint32(d ^ a), 8)
    c = np.uint32(c + d)
    b = _rotr(np.uint32(b ^ c), 7)
    return a, b, c, d


@njit(cache=True, nogil=True, boundscheck=False)
def _rows(blocks, lens, key, iv, flags, nblocks, out, lo, hi):  # type: ignore[no-untyped-def]
    """Output blocks ``0 .. nblocks-1`` of messages ``lo .. hi-1`` (16 words a row)."""
    k0, k1, k2, k3 = key[0], key[1], key[2], key[3]
    k4, k5, k6, k7 = key[4], key[5], key[6], key[7]
    for r in range(lo, hi):
        for ob in range(nblocks):
            m0, m1, m2, m3 = blocks[r, 0], blocks[r, 1], blocks[r, 2], blocks[r, 3]
            m4, m5, m6, m7 = blocks[r, 4], blocks[r, 5], blocks[r, 6], blocks[r, 7]
            m8, m9, m10, m11 = blocks[r, 8], blocks[r, 9], blocks[r, 10], blocks[r, 11]
            m12, m13, m14, m15 = blocks[r, 12], blocks[r, 13], blocks[r, 14], blocks[r, 15]
            v0, v1, v2, v3, v4, v5, v6, v7 = k0, k1, k2, k3, k4, k5, k6, k7
            v8, v9, v10, v11 = iv[0], iv[1], iv[2], iv[3]
            v12 = np.uint32(ob)
            v13 = np.uint32(0)
            v14 = np.uint32(lens[r])
            v15 = flags
            for _ in range(7):
                v0, v4, v8, v12 = _g(v0, v4, v8, v12, m0, m1)
                v1, v5, v9, v13 = _g(v1, v5, v9, v13, m2, m3)
                v2, v6, v10, v14 = _g(v2, v6, v10, v14, m4, m5)
                v3, v7, v11, v15 = _g(v3, v7, v11, v15, m6, m7)
                v0, v5, v10, v15 = _g(v0, v5, v10, v15, m8, m9)
                v1, v6, v11, v12 = _g(v1, v6, v11, v12, m10, m11)
                v2, v7, v8, v13 = _g(v2, v7, v8, v13, m12, m13)
                v3, v4, v9, v14 = _g(v3, v4, v9, v14, m14, m15)
                # the message permutation (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
                m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15 = (
                    m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8)
            o = ob * 16
            out[r, o + 0] = v0 ^ v8
            out[r, o + 1] = v1 ^ v9
            out[r, o + 2] = v2 ^ v10
            out[r, o + 3] = v3 ^ v11
            out[r, o + 4] = v4 ^ v12
            out[r, o + 5] = v5 ^ v13
            out[r, o + 6] = v6 ^ v14
            out[r, o + 7] = v7 ^ v15
            out[r, o + 8] = v8 ^ k0
            out[r, o + 9] = v9 ^ k1
            out[r, o + 10] = v10 ^ k2
            out[r, o + 11] = v11 ^ k3
            out[r, o + 12] = v12 ^ k4
            out[r, o + 13] = v13 ^ k5
            out[r, o + 14] = v14 ^ k6
            out[r, o + 15] = v15 ^ k7


def _batch(blocks, lens, key, iv, flags, nblocks, out):  # type: ignore[no-untyped-def]
    """:func:`_rows` over all messages, on one thread: the encoder's worker processes
    provide the parallelism (a threaded kernel would not survive their fork)."""
    _rows(blocks, lens, key, iv, flags, nblocks, out, 0, blocks.shape[0])


def keyed_xof_short(messages: Sequence[bytes], key: bytes, nbytes: int,
                    lens: np.ndarray | None = None) -> np.ndarray:
    """``(len(messages), nbytes)`` ``uint8``: the keyed BLAKE3 extendable output of each
    message, every message at most :data:`MAX_MESSAGE` bytes, ``key`` 32 bytes."""
    n = len(messages)
    if len(key) != 32:
        raise ValueError("a BLAKE3 key is 32 bytes")
    nblocks = max(1, -(-nbytes // 64))
    if n == 0:
        return np.zeros((0, nbytes), dtype=np.uint8)
    if lens is None:
        lens = np.fromiter((len(x) for x in messages), dtype=np.int64, count=n)
    if lens.max(initial=0) > MAX_MESSAGE:
        raise ValueError(f"messages longer than {MAX_MESSAGE} bytes need the blake3 package")
    # fixed-width bytes: numpy pads each message with zeros to 64 bytes
    padded = np.array(messages, dtype="S64") if n else np.zeros(0, dtype="S64")
    blocks = np.frombuffer(padded.tobytes(), dtype="<u4").reshape(n, 16).astype(np.uint32)
    kw = np.frombuffer(key, dtype="<u4").astype(np.uint32)
    out = np.empty((n, 16 * nblocks), dtype=np.uint32)
    _batch(blocks, lens, kw, _IV, _FLAGS, nblocks, out)
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


@njit(cache=True, inline="always")
def _load_joined(a_tab, a_len, ia, b_tab, b_len, ib, buf, m):  # type: ignore[no-untyped-def]
    """``buf`` := ``a_tab[ia] || 0x1F || b_tab[ib]`` zero-padded; ``m`` := its 16 words.
    Returns the message length."""
    la = a_len[ia]
    lb = b_len[ib]
    for j in range(64):
        buf[j] = 0
    for j in range(la):
        buf[j] = a_tab[ia, j]
    buf[la] = 0x1F
    for j in range(lb):
        buf[la + 1 + j] = b_tab[ib, j]
    for w in range(16):
        m[w] = (np.uint32(buf[4 * w]) | (np.uint32(buf[4 * w + 1]) << np.uint32(8))
                | (np.uint32(buf[4 * w + 2]) << np.uint32(16))
                | (np.uint32(buf[4 * w + 3]) << np.uint32(24)))
    return la + 1 + lb


@njit(cache=True, inline="always")
def _compress(m, mlen, key, iv, flags, counter, o):  # type: ignore[no-untyped-def]
    """Output block ``counter`` (16 words into ``o``) of the keyed hash of one block."""
    m0, m1, m2, m3 = m[0], m[1], m[2], m[3]
    m4, m5, m6, m7 = m[4], m[5], m[6], m[7]
    m8, m9, m10, m11 = m[8], m[9], m[10], m[11]
    m12, m13, m14, m15 = m[12], m[13], m[14], m[15]
    k0, k1, k2, k3 = key[0], key[1], key[2], key[3]
    k4, k5, k6, k7 = key[4], key[5], key[6], key[7]
    v0, v1, v2, v3, v4, v5, v6, v7 = k0, k1, k2, k3, k4, k5, k6, k7
    v8, v9, v10, v11 = iv[0], iv[1], iv[2], iv[3]
    v12 = np.uint32(counter)
    v13 = np.uint32(0)
    v14 = np.uint32(mlen)
    v15 = flags
    for _ in range(7):
        v0, v4, v8, v12 = _g(v0, v4, v8, v12, m0, m1)
        v1, v5, v9, v13 = _g(v1, v5, v9, v13, m2, m3)
        v2, v6, v10, v14 = _g(v2, v6, v10, v14, m4, m5)
        v3, v7, v11, v15 = _g(v3, v7, v11, v15, m6, m7)
        v0, v5, v10, v15 = _g(v0, v5, v10, v15, m8, m9)
        v1, v6, v11, v12 = _g(v1, v6, v11, v12, m10, m11)
        v2, v7, v8, v13 = _g(v2, v7, v8, v13, m12, m13)
        v3, v4, v9, v14 = _g(v3, v4, v9, v14, m14, m15)
        m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15 = (
            m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8)
    o[0] = v0 ^ v8
    o[1] = v1 ^ v9
    o[2] = v2 ^ v10
    o[3] = v3 ^ v11
    o[4] = v4 ^ v12
    o[5] = v5 ^ v13
    o[6] = v6 ^ v14
    o[7] = v7 ^ v15
    o[8] = v8 ^ k0
    o[9] = v9 ^ k1
    o[10] = v10 ^ k2
    o[11] = v11 ^ k3
    o[12] = v12 ^ k4
    o[13] = v13 ^ k5
    o[14] = v14 ^ k6
    o[15] = v15 ^ k7


@njit(cache=True, nogil=True, boundscheck=False)
def _joined_words(a_words, a_len, ia, b_tab, b_len, ib, key, iv, flags, nwords, out):  # type: ignore[no-untyped-def]
    nl = LANES
    m = np.zeros((16, nl), dtype=np.uint32)
    m2 = np.zeros((16, nl), dtype=np.uint32)
    v = np.zeros((16, nl), dtype=np.uint32)
    counter = np.zeros(nl, dtype=np.int64)
    mlen = np.zeros(nl, dtype=np.int64)
    buf = np.zeros(16, dtype=np.uint32)
    buf8 = buf.view(np.uint8)
    n = ia.shape[0]
    for ob in range((nwords + 15) // 16):
        for r0 in range(0, n, nl):
            r1 = min(r0 + nl, n)
            for ln in range(nl):
                counter[ln] = ob
                if r0 + ln < r1:
                    x = ia[r0 + ln]
                    y = ib[r0 + ln]
                    la = a_len[x]
                    lb = b_len[y]
                    for w in range(16):
                        buf[w] = a_words[x, w]
                    buf8[la] = 0x1F
                    for q in range(lb):
                        buf8[la + 1 + q] = b_tab[y, q]
                    for w in range(16):
                        m[w, ln] = buf[w]
                    mlen[ln] = la + 1 + lb
                else:
                    mlen[ln] = 0
            _compress_lanes(m, m2, v, key, iv, flags, counter, mlen)
            for ln in range(r1 - r0):
                for w in range(16):
                    if ob * 16 + w < nwords:
                        out[r0 + ln, ob * 16 + w] = v[w, ln]


def joined_xof_words(a_tab: np.ndarray, a_len: np.ndarray, ia: np.ndarray,
                     b_tab: np.ndarray, b_len: np.ndarray, ib: np.ndarray, key: bytes,
                     nwords: int) -> np.ndarray:
    """``(len(ia), nwords)`` ``uint32``: the first ``nwords`` little-endian words of the
    keyed BLAKE3 output of ``a[ia[r]] || 0x1F || b[ib[r]]`` for each ``r`` (tables from
    :func:`byte_table`; every joined message at most :data:`MAX_MESSAGE` bytes)."""
    if len(key) != 32:
        raise ValueError("a BLAKE3 key is 32 bytes")
    _check_joined(a_len, b_len)
    kw = np.frombuffer(key, dtype="<u4").astype(np.uint32)
    out = np.zeros((len(ia), nwords), dtype=np.uint32)
    a_words = np.ascontiguousarray(a_tab).view("<u4").astype(np.uint32)
    _joined_words(a_words, a_len, np.asarray(ia, np.int64), b_tab, b_len,
                  np.asarray(ib, np.int64), kw, _IV, _FLAGS, nwords, out)
    return out


def _check_joined(a_len: np.ndarray, b_len: np.ndarray) -> None:
    if a_len.max(initial=0) + 1 + b_len.max(initial=0) > MAX_MESSAGE:
        raise ValueError(f"joined messages longer than {MAX_MESSAGE} bytes")


LANES = 16
"""Messages compressed side by side by :func:`_salted_rows` (one SIMD register of 32-bit
words with AVX-512; LLVM vectorises the loops over lanes)."""

_PERM = np.array([2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8], dtype=np.int64)


@njit(cache=True, inline="always")
def _gl(v, m, a, b, c, d, x, y):  # type: ignore[no-untyped-def]
    """G on rows ``a, b, c, d`` of the lane state ``v`` with message rows ``x, y``."""
    for ln in range(v.shape[1]):
        va = np.uint32(v[a, ln] + v[b, ln] + m[x, ln])
        vd = _rotr(np.uint32(v[d, ln] ^ va), 16)
        vc = np.uint32(v[c, ln] + vd)
        vb = _rotr(np.uint32(v[b, ln] ^ vc), 12)
        va = np.uint32(va + vb + m[y, ln])
        vd = _rotr(np.uint32(vd ^ va), 8)
        vc = np.uint32(vc + vd)
        vb = _rotr(np.uint32(vb ^ vc), 7)
        v[a, ln] = va
        v[b, ln] = vb
        v[c, ln] = vc
        v[d, ln] = vd


@njit(cache=True, inline="always")
def _compress_lanes(m, m2, v, key, iv, flags, counter, mlen):  # type: ignore[no-untyped-def]
    """Keyed compressions of ``LANES`` single-block messages side by side: ``m`` (16 x
    lanes) the message words (overwritten), ``counter``/``mlen`` per lane. Leaves the 16
    output words of each lane in ``v`` (rows 0-15)."""
    nl = v.shape[1]
    for ln in range(nl):
        for i in range(8):
            v[i, ln] = key[i]
        for i in range(4):
            v[8 + i, ln] = iv[i]
        v[12, ln] = np.uint32(counter[ln])
        v[13, ln] = np.uint32(0)
        v[14, ln] = np.uint32(mlen[ln])
        v[15, ln] = flags
    for r in range(7):
        _gl(v, m, 0, 4, 8, 12, 0, 1)
        _gl(v, m, 1, 5, 9, 13, 2, 3)
        _gl(v, m, 2, 6, 10, 14, 4, 5)
        _gl(v, m, 3, 7, 11, 15, 6, 7)
        _gl(v, m, 0, 5, 10, 15, 8, 9)
        _gl(v, m, 1, 6, 11, 12, 10, 11)
        _gl(v, m, 2, 7, 8, 13, 12, 13)
        _gl(v, m, 3, 4, 9, 14, 14, 15)
        if r < 6:
            for i in range(16):
                src = _PERM[i]
                for ln in range(nl):
                    m2[i, ln] = m[src, ln]
            for i in range(16):
                for ln in range(nl):
                    m[i, ln] = m2[i, ln]
    for ln in range(nl):
        for i in range(8):
            v[i, ln] = v[i, ln] ^ v[8 + i, ln]
            v[8 + i, ln] = v[8 + i, ln] ^ key[i]


@njit(cache=True, nogil=True, boundscheck=False)
def _salted_rows(tok_words, tok_len, name_start, name_cnt, salt_tab, salt_len,  # type: ignore[no-untyped-def]
                 pair_name, pair_salt, bpf, length, key, iv, flags, out):
    nl = LANES
    m = np.zeros((16, nl), dtype=np.uint32)
    m2 = np.zeros((16, nl), dtype=np.uint32)
    v = np.zeros((16, nl), dtype=np.uint32)
    counter = np.zeros(nl, dtype=np.int64)
    mlen = np.zeros(nl, dtype=np.int64)
    lane_row = np.zeros(nl, dtype=np.int64)
    lane_nw = np.zeros(nl, dtype=np.int64)
    buf = np.zeros(16, dtype=np.uint32)
    buf8 = buf.view(np.uint8)
    pow2 = (length & (length - 1)) == 0
    lmask = np.uint32(length - 1)
    filled = 0
    npairs = pair_name.shape[0]
    for p in range(npairs + 1):
        if p < npairs:
            vv = pair_name[p]
            t = name_cnt[vv]
            s = pair_salt[p]
        else:
            t = 0
            s = 0
        kv = 0
        if t > 0:
            kv = int(np.rint(bpf / t))
            kv = min(max(kv, 1), int(bpf))
        lb = salt_len[s] if p < npairs else 0
        for j in range(name_start[vv] if t > 0 else 0, (name_start[vv] + t) if t > 0 else 0):
            la = tok_len[j]
            for w in range(16):
                buf[w] = tok_words[j, w]
            buf8[la] = 0x1F
            for q in range(lb):
                buf8[la + 1 + q] = salt_tab[s, q]
            for ob in range((kv + 15) // 16):
                for w in range(16):
                    m[w, filled] = buf[w]
                counter[filled] = ob
                mlen[filled] = la + 1 + lb
                lane_row[filled] = p
                lane_nw[filled] = min(16, kv - 16 * ob)
                filled += 1
                if filled == nl:
                    _compress_lanes(m, m2, v, key, iv, flags, counter, mlen)
                    _set_lane_bits(v, lane_row, lane_nw, filled, pow2, lmask, length, out)
                    filled = 0
        if p == npairs and filled > 0:
            for ln in range(filled, nl):
                mlen[ln] = 0
                counter[ln] = 0
            _compress_lanes(m, m2, v, key, iv, flags, counter, mlen)
            _set_lane_bits(v, lane_row, lane_nw, filled, pow2, lmask, length, out)
            filled = 0


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
                   length: int, key: bytes) -> np.ndarray:
    """Packed ``(len(pair_name), ceil(length/64))`` ``uint64`` filters of (value, salt)
    pairs with ``bits_per_field`` (docs/encoding.md, sections 4-5): value ``v`` has the
    tokens ``tok[name_start[v] : name_start[v] + name_cnt[v]]``; each token's message is
    ``token || 0x1F || salt``; with ``t`` tokens each sets the positions ``w[i] mod length``
    for ``i < max(1, min(bpf, rint(bpf / t)))``, ``w`` its keyed BLAKE3 output words."""
    if len(key) != 32:
        raise ValueError("a BLAKE3 key is 32 bytes")
    _check_joined(tok_len, salt_len)
    kw = np.frombuffer(key, dtype="<u4").astype(np.uint32)
    out = np.zeros((len(pair_name), (length + 63) // 64), dtype=np.uint64)
    tok_words = np.ascontiguousarray(tok_tab).view("<u4").astype(np.uint32)
    _salted_rows(tok_words, tok_len, np.asarray(name_start, np.int64),
                 np.asarray(name_cnt, np.int64), salt_tab, salt_len,
                 np.asarray(pair_name, np.int64), np.asarray(pair_salt, np.int64),
                 float(bits_per_field), np.int64(length), kw, _IV, _FLAGS, out)
    return out

"""HMAC-SHA1 and HMAC-MD5 of many short messages at once, with NumPy (for clkhash's doubleHash).

Written from the standards: SHA-1 (FIPS 180-4, section 6.1), MD5 (RFC 1321) and HMAC
(RFC 2104). For a message of at most 55 bytes, ``HMAC(key, m)`` is two compressions from
fixed midstates: ``inner = C(mid_ipad, pad(m))`` and ``C(mid_opad, pad(inner))``, where the
midstates (the state after the 64-byte ``key XOR ipad`` / ``key XOR opad`` block) are
computed once per key. One compiled pass (:func:`_hmac_mod_rows`) assembles each
message's padded block from its bytes and runs both compressions for 16 messages side by
side in LLVM vector IR (:mod:`nislink.encode.simd`), with the NumPy functions
:func:`_sha1_compress` / :func:`_md5_compress` as the readable references the tests
compare the compressions with.

:func:`hmac_mod` returns ``int.from_bytes(HMAC(key, m), "big") % modulus`` for every
message; longer messages are computed with :mod:`hmac` one by one. The tests check it
against :func:`hmac.digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import math

import numpy as np
from numba import njit, types
from numba.core.extending import intrinsic

from nislink.encode.simd import LANES, U32_2D, Lanes

__all__ = ["hmac_mod", "pack_messages"]

_U32 = np.uint32
_MAX_SHORT = 55  # message bytes that fit one block after the key block

_SHA1_IV = np.array([0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0], dtype=_U32)
_MD5_IV = np.array([0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476], dtype=_U32)
_MD5_K = [int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF for i in range(64)]
_MD5_S = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4


def _rotl(x: np.ndarray, n: int) -> np.ndarray:
    return (x << _U32(n)) | (x >> _U32(32 - n))


def _sha1_compress(state: np.ndarray, words: np.ndarray) -> np.ndarray:
    """SHA-1 compression of ``(T, 16)`` big-endian words from ``(T, 5)`` states."""
    w = [words[:, i].copy() for i in range(16)]
    for t in range(16, 80):
        w.append(_rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1))
    a, b, c, d, e = (state[:, i].copy() for i in range(5))
    for t in range(80):
        if t < 20:
            f = (b & c) | (~b & d)
            k = _U32(0x5A827999)
        elif t < 40:
            f = b ^ c ^ d
            k = _U32(0x6ED9EBA1)
        elif t < 60:
            f = (b & c) | (b & d) | (c & d)
            k = _U32(0x8F1BBCDC)
        else:
            f = b ^ c ^ d
            k = _U32(0xCA62C1D6)
        temp = _rotl(a, 5) + f + e + k + w[t]
        e, d, c, b, a = d, c, _rotl(b, 30), a, temp
    return np.stack([a, b, c, d, e], axis=1) + state


def _md5_compress(state: np.ndarray, words: np.ndarray) -> np.ndarray:
    """MD5 compression of ``(T, 16)`` little-endian words from ``(T, 4)`` states."""
    m = [words[:, i].copy() for i in range(16)]
    a, b, c, d = (state[:, i].copy() for i in range(4))
    for i in range(64):
        if i < 16:
            f = (b & c) | (~b & d)
            g = i
        elif i < 32:
            f = (d & b) | (~d & c)
            g = (5 * i + 1) % 16
        elif i < 48:
            f = b ^ c ^ d
            g = (3 * i + 5) % 16
        else:
            f = c ^ (b | ~d)
            g = (7 * i) % 16
        f = f + a + _U32(_MD5_K[i]) + m[g]
        a, d, c = d, c, b
        b = b + _rotl(f, _MD5_S[i])
    return np.stack([a, b, c, d], axis=1) + state


@intrinsic
def _sha1_16(typingctx, state, words, out):  # type: ignore[no-untyped-def]
    """SHA-1 compressions of :data:`LANES` blocks side by side: ``state`` ``(5, LANES)``,
    ``words`` ``(16, LANES)`` (big-endian words as integers), ``out`` ``(5, LANES)``;
    row ``i`` holds word ``i`` of every lane. :func:`_sha1_compress` in LLVM vector IR
    (:mod:`nislink.encode.simd`), the 80 steps and the message schedule unrolled."""
    if not (state == U32_2D and words == U32_2D and out == U32_2D):
        return None
    sig = types.void(state, words, out)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        x = Lanes(builder)
        sp, wp, op = (x.rows(context, builder, t, a) for t, a in zip(sig.args, args))
        w = [x.load(wp, i) for i in range(16)]
        for t in range(16, 80):
            w.append(x.rotl(x.xor(w[t - 3], w[t - 8], w[t - 14], w[t - 16]), 1))
        init = [x.load(sp, i) for i in range(5)]
        a, b, c, d, e = init
        for t in range(80):
            if t < 20:
                f = x.or_(x.and_(b, c), x.and_(x.not_(b), d))
                k = 0x5A827999
            elif t < 40:
                f = x.xor(b, c, d)
                k = 0x6ED9EBA1
            elif t < 60:
                f = x.or_(x.or_(x.and_(b, c), x.and_(b, d)), x.and_(c, d))
                k = 0x8F1BBCDC
            else:
                f = x.xor(b, c, d)
                k = 0xCA62C1D6
            temp = x.add(x.rotl(a, 5), f, e, x.const(k), w[t])
            e, d, c, b, a = d, c, x.rotl(b, 30), a, temp
        for i, v in enumerate((a, b, c, d, e)):
            x.store(x.add(v, init[i]), op, i)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _md5_16(typingctx, state, words, out):  # type: ignore[no-untyped-def]
    """MD5 compressions of :data:`LANES` blocks side by side (``state`` / ``out``
    ``(4, LANES)``, ``words`` ``(16, LANES)`` little-endian words): :func:`_md5_compress`
    in LLVM vector IR, the 64 steps unrolled."""
    if not (state == U32_2D and words == U32_2D and out == U32_2D):
        return None
    sig = types.void(state, words, out)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        x = Lanes(builder)
        sp, wp, op = (x.rows(context, builder, t, a) for t, a in zip(sig.args, args))
        m = [x.load(wp, i) for i in range(16)]
        init = [x.load(sp, i) for i in range(4)]
        a, b, c, d = init
        for i in range(64):
            if i < 16:
                f = x.or_(x.and_(b, c), x.and_(x.not_(b), d))
                g = i
            elif i < 32:
                f = x.or_(x.and_(d, b), x.and_(x.not_(d), c))
                g = (5 * i + 1) % 16
            elif i < 48:
                f = x.xor(b, c, d)
                g = (3 * i + 5) % 16
            else:
                f = x.xor(c, x.or_(b, x.not_(d)))
                g = (7 * i) % 16
            f = x.add(f, a, x.const(_MD5_K[i]), m[g])
            a, d, c = d, c, b
            b = x.add(b, x.rotl(f, _MD5_S[i]))
        for i, v in enumerate((a, b, c, d)):
            x.store(x.add(v, init[i]), op, i)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, boundscheck=False)
def _sha1_rows(state, words, out):  # type: ignore[no-untyped-def]
    """Row ``r`` of ``out`` := the SHA-1 compression of ``words[r]`` from ``state[r]``,
    :data:`LANES` rows at a time (the tests check it against :func:`_sha1_compress` and,
    through :func:`hmac_mod`, against :func:`hmac.digest`)."""
    _lanes_rows(state, words, out, True)


@njit(cache=True, nogil=True, boundscheck=False)
def _md5_rows(state, words, out):  # type: ignore[no-untyped-def]
    """Row ``r`` of ``out`` := the MD5 compression of ``words[r]`` from ``state[r]``."""
    _lanes_rows(state, words, out, False)


@njit(cache=True, inline="always")
def _lane_buffers(width):  # type: ignore[no-untyped-def]
    """The state, message-word and result arrays of :data:`LANES` compressions (a state
    of ``width`` words: 5 for SHA-1, 4 for MD5), rows as the intrinsics take them."""
    return (np.zeros((width, LANES), dtype=np.uint32), np.zeros((16, LANES), dtype=np.uint32),
            np.zeros((width, LANES), dtype=np.uint32))


@njit(cache=True, inline="always")
def _compress_lanes(big, st, wd, res):  # type: ignore[no-untyped-def]
    """:func:`_sha1_16` if ``big``, else :func:`_md5_16`."""
    if big:
        _sha1_16(st, wd, res)
    else:
        _md5_16(st, wd, res)


@njit(cache=True, inline="always")
def _lanes_rows(state, words, out, big):  # type: ignore[no-untyped-def]
    nl = LANES
    width = state.shape[1]
    st, wd, res = _lane_buffers(width)
    n = words.shape[0]
    for r0 in range(0, n, nl):
        r1 = min(r0 + nl, n)
        for ln in range(r1 - r0):
            for i in range(width):
                st[i, ln] = state[r0 + ln, i]
            for i in range(16):
                wd[i, ln] = words[r0 + ln, i]
        _compress_lanes(big, st, wd, res)
        for ln in range(r1 - r0):
            for i in range(width):
                out[r0 + ln, i] = res[i, ln]


@njit(cache=True, nogil=True, boundscheck=False)
def _hmac_mod_rows(flat, lengths, mid_in, mid_out, big, modulus, out):  # type: ignore[no-untyped-def]
    """``out[r]`` := ``int.from_bytes(HMAC(key, m_r), "big") % modulus`` for the messages
    ``m_r`` laid end to end in ``flat`` (``lengths[r]`` bytes each, at most 55), from the
    key's inner and outer midstates; SHA-1 if ``big``, else MD5. Per :data:`LANES`
    messages: each padded block is assembled from the bytes (big- or little-endian
    words), the inner and the outer compression run side by side, and the digest is
    reduced word by word."""
    nl = LANES
    width = mid_in.shape[0]
    st, wd, res = _lane_buffers(width)
    n = lengths.shape[0]
    pos = 0
    m = np.uint64(modulus)
    for r0 in range(0, n, nl):
        r1 = min(r0 + nl, n)
        for ln in range(nl):
            for i in range(16):
                wd[i, ln] = 0
            for i in range(width):
                st[i, ln] = mid_in[i]
            if r0 + ln >= r1:
                continue
            ln_bytes = lengths[r0 + ln]
            for j in range(ln_bytes + 1):
                byte = np.uint32(flat[pos + j]) if j < ln_bytes else np.uint32(0x80)
                shift = np.uint32(8 * (3 - (j & 3))) if big else np.uint32(8 * (j & 3))
                wd[j >> 2, ln] |= byte << shift
            bits = np.uint64(8 * (64 + ln_bytes))
            if big:
                wd[14, ln] = np.uint32(bits >> np.uint64(32))
                wd[15, ln] = np.uint32(bits & np.uint64(0xFFFFFFFF))
            else:
                wd[14, ln] = np.uint32(bits & np.uint64(0xFFFFFFFF))
                wd[15, ln] = np.uint32(bits >> np.uint64(32))
            pos += ln_bytes
        _compress_lanes(big, st, wd, res)
        obits = np.uint32(8 * (64 + 4 * width))
        for ln in range(nl):
            for i in range(16):
                wd[i, ln] = 0
            for i in range(width):
                wd[i, ln] = res[i, ln]
                st[i, ln] = mid_out[i]
            if big:
                wd[width, ln] = np.uint32(0x80000000)
                wd[15, ln] = obits
            else:
                wd[width, ln] = np.uint32(0x80)
                wd[14, ln] = obits
        _compress_lanes(big, st, wd, res)
        for ln in range(r1 - r0):
            acc = np.uint64(0)
            for i in range(width):
                word = res[i, ln]
                if not big:  # MD5 digest bytes are the words little-endian: read big-endian
                    word = (((word & np.uint32(0xFF)) << np.uint32(24))
                            | ((word & np.uint32(0xFF00)) << np.uint32(8))
                            | ((word >> np.uint32(8)) & np.uint32(0xFF00))
                            | (word >> np.uint32(24)))
                acc = ((acc << np.uint64(32)) + np.uint64(word)) % m
            out[r0 + ln] = np.int64(acc)


def _compress_compiled(big: bool, state: np.ndarray, words: np.ndarray) -> np.ndarray:
    """The compiled compression of every row (SHA-1 if ``big``, else MD5)."""
    state = np.ascontiguousarray(state, dtype=_U32)
    words = np.ascontiguousarray(words, dtype=_U32)
    out = np.empty_like(state)
    if big:
        _sha1_rows(state, words, out)
    else:
        _md5_rows(state, words, out)
    return out


def _midstates(key: bytes, algo: str) -> tuple[np.ndarray, np.ndarray]:
    ctor = hashlib.sha1 if algo == "sha1" else hashlib.md5
    if len(key) > 64:
        key = ctor(key).digest()
    key = key.ljust(64, b"\0")
    big = algo == "sha1"
    iv = (_SHA1_IV if big else _MD5_IV)[None, :]
    out = []
    for pad in (0x36, 0x5C):
        block = np.frombuffer(bytes(b ^ pad for b in key), dtype=">u4" if big else "<u4")
        out.append(_compress_compiled(big, iv.copy(), block.astype(_U32)[None, :]))
    return out[0], out[1]


def pack_messages(messages: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lengths, short, flat)`` of ``messages`` as :func:`hmac_mod` reads them: every
    length, the indexes of the messages short enough for one block, and those messages'
    bytes joined. Computed once, it serves several keys and algorithms."""
    lengths = np.fromiter(map(len, messages), dtype=np.int64, count=len(messages))
    idx = np.flatnonzero(lengths <= _MAX_SHORT)
    picked = messages if len(idx) == len(messages) else [messages[i] for i in idx.tolist()]
    return lengths, idx, np.frombuffer(b"".join(picked), dtype=np.uint8)


def hmac_mod(messages: list[bytes], key: bytes, algo: str, modulus: int,
             packed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``int.from_bytes(HMAC-<algo>(key, m), "big") % modulus`` for each message (int64).

    ``algo`` is ``"sha1"`` or ``"md5"``; ``1 <= modulus <= 2**32``. ``packed`` is
    :func:`pack_messages` of ``messages`` when the caller has it already.
    """
    if algo not in ("sha1", "md5"):
        raise ValueError("algo must be 'sha1' or 'md5'")
    if not 1 <= modulus <= 2**32:
        raise ValueError("modulus must be in [1, 2**32]")
    out = np.zeros(len(messages), dtype=np.int64)
    lengths, idx, flat = pack_messages(messages) if packed is None else packed
    if len(idx) < len(messages):
        short = np.zeros(len(messages), dtype=bool)
        short[idx] = True
        for i in np.flatnonzero(~short).tolist():
            out[i] = int.from_bytes(hmac.digest(key, messages[i], algo), "big") % modulus
    if len(idx) == 0:
        return out
    big = algo == "sha1"
    mid_in, mid_out = _midstates(key, algo)
    res = np.zeros(len(idx), dtype=np.int64)
    _hmac_mod_rows(flat, lengths[idx], mid_in[0], mid_out[0], big, modulus, res)
    out[idx] = res
    return out

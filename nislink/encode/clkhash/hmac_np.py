"""HMAC-SHA1 and HMAC-MD5 of many short messages at once, with NumPy (for clkhash's doubleHash).

Written from the standards: SHA-1 (FIPS 180-4, section 6.1), MD5 (RFC 1321) and HMAC
(RFC 2104). For a message of at most 55 bytes, ``HMAC(key, m)`` is two compressions from
fixed midstates: ``inner = C(mid_ipad, pad(m))`` and ``C(mid_opad, pad(inner))``, where the
midstates (the state after the 64-byte ``key XOR ipad`` / ``key XOR opad`` block) are
computed once per key. Each compression runs over all messages as ``uint32`` arrays.

:func:`hmac_mod` returns ``int.from_bytes(HMAC(key, m), "big") % modulus`` for every
message; longer messages are computed with :mod:`hmac` one by one. The tests check it
against :func:`hmac.digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import math

import numpy as np
from numba import njit

__all__ = ["hmac_mod"]

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


_MD5_K_ARR = np.array(_MD5_K, dtype=np.uint32)
_MD5_S_ARR = np.array(_MD5_S, dtype=np.int64)


@njit(cache=True, inline="always")
def _rl(x, n):  # type: ignore[no-untyped-def]
    return np.uint32((x << np.uint32(n)) | (x >> np.uint32(32 - n)))


@njit(cache=True, nogil=True, boundscheck=False)
def _sha1_rows(state, words, out):  # type: ignore[no-untyped-def]
    """Compiled :func:`_sha1_compress`: row ``r`` of ``out`` := C(``state[r]``,
    ``words[r]``) (the tests check both against :func:`hmac.digest`)."""
    w = np.zeros(80, dtype=np.uint32)
    for r in range(words.shape[0]):
        for t in range(16):
            w[t] = words[r, t]
        for t in range(16, 80):
            w[t] = _rl(np.uint32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]), 1)
        a, b, c, d, e = state[r, 0], state[r, 1], state[r, 2], state[r, 3], state[r, 4]
        for t in range(80):
            if t < 20:
                f = np.uint32((b & c) | (~b & d))
                k = np.uint32(0x5A827999)
            elif t < 40:
                f = np.uint32(b ^ c ^ d)
                k = np.uint32(0x6ED9EBA1)
            elif t < 60:
                f = np.uint32((b & c) | (b & d) | (c & d))
                k = np.uint32(0x8F1BBCDC)
            else:
                f = np.uint32(b ^ c ^ d)
                k = np.uint32(0xCA62C1D6)
            temp = np.uint32(_rl(a, 5) + f + e + k + w[t])
            e = d
            d = c
            c = _rl(b, 30)
            b = a
            a = temp
        out[r, 0] = np.uint32(a + state[r, 0])
        out[r, 1] = np.uint32(b + state[r, 1])
        out[r, 2] = np.uint32(c + state[r, 2])
        out[r, 3] = np.uint32(d + state[r, 3])
        out[r, 4] = np.uint32(e + state[r, 4])


@njit(cache=True, nogil=True, boundscheck=False)
def _md5_rows(state, words, kk, ss, out):  # type: ignore[no-untyped-def]
    """Compiled :func:`_md5_compress` row by row."""
    for r in range(words.shape[0]):
        a, b, c, d = state[r, 0], state[r, 1], state[r, 2], state[r, 3]
        for i in range(64):
            if i < 16:
                f = np.uint32((b & c) | (~b & d))
                g = i
            elif i < 32:
                f = np.uint32((d & b) | (~d & c))
                g = (5 * i + 1) % 16
            elif i < 48:
                f = np.uint32(b ^ c ^ d)
                g = (3 * i + 5) % 16
            else:
                f = np.uint32(c ^ (b | ~d))
                g = (7 * i) % 16
            f = np.uint32(f + a + kk[i] + words[r, g])
            a = d
            d = c
            c = b
            b = np.uint32(b + _rl(f, ss[i]))
        out[r, 0] = np.uint32(a + state[r, 0])
        out[r, 1] = np.uint32(b + state[r, 1])
        out[r, 2] = np.uint32(c + state[r, 2])
        out[r, 3] = np.uint32(d + state[r, 3])


def _compress_compiled(big: bool, state: np.ndarray, words: np.ndarray) -> np.ndarray:
    """The compiled compression of every row (SHA-1 if ``big``, else MD5)."""
    state = np.ascontiguousarray(state, dtype=_U32)
    words = np.ascontiguousarray(words, dtype=_U32)
    out = np.empty_like(state)
    if big:
        _sha1_rows(state, words, out)
    else:
        _md5_rows(state, words, _MD5_K_ARR, _MD5_S_ARR, out)
    return out


def _blocks(messages: list[bytes], prefix_len: int, big_endian: bool) -> np.ndarray:
    """Padded final blocks (``(T, 16)`` words) of messages <= 55 bytes after ``prefix_len``."""
    count = len(messages)
    lengths = np.fromiter(map(len, messages), dtype=np.int64, count=count)
    buf = np.zeros((count, 64), dtype=np.uint8)
    flat = np.frombuffer(b"".join(messages), dtype=np.uint8)
    if len(flat):
        rows = np.repeat(np.arange(count), lengths)
        starts = np.cumsum(lengths) - lengths
        cols = np.arange(len(flat)) - np.repeat(starts, lengths)
        buf[rows, cols] = flat
    buf[np.arange(count), lengths] = 0x80
    bits = (lengths + prefix_len) * 8
    order = ">u8" if big_endian else "<u8"
    buf[:, 56:] = bits.astype(order).view(np.uint8).reshape(count, 8)
    return buf.view(">u4" if big_endian else "<u4").astype(_U32)


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


def hmac_mod(messages: list[bytes], key: bytes, algo: str, modulus: int) -> np.ndarray:
    """``int.from_bytes(HMAC-<algo>(key, m), "big") % modulus`` for each message (int64).

    ``algo`` is ``"sha1"`` or ``"md5"``; ``1 <= modulus <= 2**32``.
    """
    if algo not in ("sha1", "md5"):
        raise ValueError("algo must be 'sha1' or 'md5'")
    if not 1 <= modulus <= 2**32:
        raise ValueError("modulus must be in [1, 2**32]")
    out = np.zeros(len(messages), dtype=np.int64)
    short = np.fromiter(map(len, messages), dtype=np.int64, count=len(messages)) <= _MAX_SHORT
    for i in np.flatnonzero(~short).tolist():
        out[i] = int.from_bytes(hmac.digest(key, messages[i], algo), "big") % modulus
    idx = np.flatnonzero(short)
    if len(idx) == 0:
        return out
    big = algo == "sha1"
    mid_in, mid_out = _midstates(key, algo)

    def compress(state: np.ndarray, words: np.ndarray) -> np.ndarray:
        return _compress_compiled(big, state, words)

    chunk = 1 << 16
    for lo in range(0, len(idx), chunk):
        part = idx[lo:lo + chunk]
        blocks = _blocks(messages[lo:lo + chunk] if len(idx) == len(messages)
                         else [messages[i] for i in part.tolist()], 64, big)
        count = len(part)
        inner = compress(np.repeat(mid_in, count, axis=0), blocks)
        nwords = inner.shape[1]
        outer_block = np.zeros((count, 16), dtype=_U32)
        outer_block[:, :nwords] = inner
        bits = (64 + 4 * nwords) * 8
        if big:
            outer_block[:, nwords] = _U32(0x80000000)
            outer_block[:, 15] = _U32(bits)
        else:
            outer_block[:, nwords] = _U32(0x80)
            outer_block[:, 14] = _U32(bits)
        digest = compress(np.repeat(mid_out, count, axis=0), outer_block)
        if not big:  # MD5 digest bytes are the words little-endian; read them big-endian
            digest = digest.byteswap()
        acc = np.zeros(count, dtype=np.uint64)
        m = np.uint64(modulus)
        for j in range(nwords):
            acc = ((acc << np.uint64(32)) + digest[:, j].astype(np.uint64)) % m
        out[part] = acc.astype(np.int64)
    return out

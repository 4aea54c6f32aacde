"""SipHash-2-4 (Aumasson and Bernstein 2012), scalar and vectorised over NumPy arrays.

Used to combine the keyed component values of a match key into one keyed 64-bit token
per record without a Python-level call per record. The compiled form hashes messages
made of whole 64-bit words (``m`` little-endian ``uint64`` per record).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["siphash24", "siphash24_words"]

_MASK = (1 << 64) - 1
_C = (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK


def _round(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & _MASK
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _MASK
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _MASK
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _MASK
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24(key: bytes, message: bytes) -> int:
    """SipHash-2-4 of ``message`` under a 16-byte ``key`` (reference, pure Python)."""
    if len(key) != 16:
        raise ValueError("SipHash needs a 16-byte key")
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:], "little")
    v0, v1, v2, v3 = k0 ^ _C[0], k1 ^ _C[1], k0 ^ _C[2], k1 ^ _C[3]
    n = len(message)
    end = n - n % 8
    for i in range(0, end, 8):
        m = int.from_bytes(message[i : i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _round(*_round(v0, v1, v2, v3))
        v0 ^= m
    b = ((n & 0xFF) << 56) | int.from_bytes(message[end:], "little")
    v3 ^= b
    v0, v1, v2, v3 = _round(*_round(v0, v1, v2, v3))
    v0 ^= b
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


@njit(cache=True, inline="always")
def _nrotl(x, b):  # type: ignore[no-untyped-def]
    return (x << np.uint64(b)) | (x >> np.uint64(64 - b))


@njit(cache=True, inline="always")
def _sipround(v0, v1, v2, v3):  # type: ignore[no-untyped-def]
    """One SipRound on 64-bit words."""
    v0 += v1
    v1 = _nrotl(v1, 13) ^ v0
    v0 = _nrotl(v0, 32)
    v2 += v3
    v3 = _nrotl(v3, 16) ^ v2
    v0 += v3
    v3 = _nrotl(v3, 21) ^ v0
    v2 += v1
    v1 = _nrotl(v1, 17) ^ v2
    v2 = _nrotl(v2, 32)
    return v0, v1, v2, v3


@njit(cache=True, nogil=True, boundscheck=False)
def _siphash_rows(words, k0, k1, out):  # type: ignore[no-untyped-def]
    """``out[r]`` := SipHash-2-4 of row ``r`` of ``words`` (compiled, record by record)."""
    n, m = words.shape
    for r in range(n):
        v0 = k0 ^ np.uint64(0x736F6D6570736575)
        v1 = k1 ^ np.uint64(0x646F72616E646F6D)
        v2 = k0 ^ np.uint64(0x6C7967656E657261)
        v3 = k1 ^ np.uint64(0x7465646279746573)
        for j in range(m + 1):
            # the message words, then the final word: the length in bits 56-63
            w = words[r, j] if j < m else np.uint64((8 * m) & 0xFF) << np.uint64(56)
            v3 ^= w
            for _ in range(2):
                v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
            v0 ^= w
        v2 ^= np.uint64(0xFF)
        for _ in range(4):
            v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        out[r] = v0 ^ v1 ^ v2 ^ v3


def siphash24_words(key: bytes, words: np.ndarray) -> np.ndarray:
    """SipHash-2-4 of each row of ``words`` (``(n, m)`` ``uint64``), the row being the
    message of ``8m`` bytes (each word little-endian). Returns ``(n,)`` ``uint64``."""
    if len(key) != 16:
        raise ValueError("SipHash needs a 16-byte key")
    words = np.ascontiguousarray(words, dtype=np.uint64)
    out = np.empty(words.shape[0], dtype=np.uint64)
    _siphash_rows(words, np.uint64(int.from_bytes(key[:8], "little")),
                  np.uint64(int.from_bytes(key[8:], "little")), out)
    return out

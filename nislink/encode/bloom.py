"""Keyed Bloom-filter positions and the vectorised scatter into packed rows.

Each distinct token message is hashed **once per batch** with BLAKE3 in keyed mode (key =
the field's derived sub-key) and its extendable output is read as little-endian ``uint32``
words. The field-level filter uses words ``0 .. kf-1`` and the record-level filter (CLK)
words ``kf .. kf+kc-1`` (``kf``/``kc`` fixed by the schema), each reduced modulo the filter
length. The modulo bias is at most ``L / 2**32`` per position (below ``2.5e-4`` for any
``L <= 2**20``; none at all when ``L`` is a power of two), far below the noise of any
attack; it is documented rather than removed so that positions are a plain, reproducible
function of the bytes.

``"double"`` hashing (Kirsch and Mitzenmacher 2006, as in the original CLK tools) reads
two little-endian ``uint64`` values ``h1, h2`` from the keyed output (bytes 0-15 for the
field filter, 16-31 for the CLK) and sets ``(h1 + i*h2) mod L`` for ``i = 0 .. k-1``
(computed as ``((h1 mod L) + i*(h2 mod L)) mod L``). It exists for comparison only: it is
open to the attack of Kroll and Steinmetzer (2015).

See ``docs/encoding.md`` for the byte-level definition.
"""

from __future__ import annotations

from collections.abc import Sequence

import blake3
import numpy as np

__all__ = [
    "keyed_digests",
    "positions",
    "scatter_rows",
    "pack_bool",
    "unpack_bits",
    "keyed_uint64",
]

# Maximum number of bytes of a dense (rows x bits) scratch block in scatter_rows.
_BLOCK_BYTES = 1 << 24


#: Below this many messages the ``blake3`` package is called per message; above, messages of
#: at most 64 bytes go through the compiled batch (:mod:`nislink.encode.blake3_batch`).
BATCH_MIN = 2048


def keyed_digests(messages: Sequence[bytes], key: bytes, nbytes: int) -> np.ndarray:
    """``(len(messages), nbytes)`` ``uint8``: keyed BLAKE3 XOF output of each message."""
    if not messages:
        return np.zeros((0, nbytes), dtype=np.uint8)
    if len(messages) >= BATCH_MIN and len(key) == 32:
        from nislink.encode.blake3_batch import MAX_MESSAGE, keyed_xof_short  # noqa: PLC0415

        lens = np.fromiter(map(len, messages), dtype=np.int64, count=len(messages))
        long = np.flatnonzero(lens > MAX_MESSAGE)
        if not len(long):
            return keyed_xof_short(messages, key, nbytes, lens)
        out = np.empty((len(messages), nbytes), dtype=np.uint8)
        short = np.flatnonzero(lens <= MAX_MESSAGE)
        out[short] = keyed_xof_short([messages[i] for i in short], key, nbytes, lens[short])
        out[long] = _per_message(messages, long, key, nbytes)
        return out
    return _per_message(messages, None, key, nbytes)


def _per_message(messages: Sequence[bytes], idx: np.ndarray | None, key: bytes,
                 nbytes: int) -> np.ndarray:
    """The ``blake3`` package, one call per message (of ``idx``, or all)."""
    if idx is not None:
        messages = [messages[i] for i in idx]
    if not messages:
        return np.zeros((0, nbytes), dtype=np.uint8)
    b3 = blake3.blake3
    buf = b"".join([b3(m, key=key).digest(length=nbytes) for m in messages])
    return np.frombuffer(buf, dtype=np.uint8).reshape(len(messages), nbytes)


def keyed_uint64(messages: Sequence[bytes], key: bytes) -> np.ndarray:
    """Keyed 64-bit tokens: first 8 bytes of keyed BLAKE3, little-endian; 0 is mapped to 1."""
    raw = keyed_digests(messages, key, 8)
    out = raw.copy().view("<u8").reshape(-1).astype(np.uint64)
    out[out == 0] = 1
    return out


def positions(
    raw: np.ndarray, method: str, part: int, offset_words: int, k: int, length: int
) -> np.ndarray:
    """Bit positions ``(T, k)`` (``int64``) from digests ``raw``.

    ``part`` is 0 for the field-level filter and 1 for the CLK; ``offset_words`` is the
    first ``uint32`` word of the part (independent method only).
    """
    t = raw.shape[0]
    if k == 0 or t == 0:
        return np.zeros((t, k), dtype=np.int64)
    if method == "blake3":
        words = np.ascontiguousarray(raw[:, 4 * offset_words : 4 * (offset_words + k)])
        vals = words.view("<u4").reshape(t, k).astype(np.int64)
        return vals % length
    if method == "double":
        block = np.ascontiguousarray(raw[:, 16 * part : 16 * part + 16]).view("<u8").reshape(t, 2)
        h1 = (block[:, 0] % np.uint64(length)).astype(np.int64)
        h2 = (block[:, 1] % np.uint64(length)).astype(np.int64)
        i = np.arange(k, dtype=np.int64)
        return (h1[:, None] + i[None, :] * h2[:, None]) % length
    raise ValueError(f"unknown hashing method {method!r}")


def digest_length(method: str, kf: int, kc: int) -> int:
    """Bytes of keyed output needed per token."""
    return 32 if method == "double" else 4 * (kf + kc)


def scatter_rows(rows: np.ndarray, pos: np.ndarray, n_rows: int, length: int) -> np.ndarray:
    """Packed ``(n_rows, words)`` ``uint64`` rows with bit ``pos[i]`` set in row ``rows[i]``.

    ``rows`` must be sorted (non-decreasing); the work is done in blocks of rows on a dense
    scratch array, then packed LSB-first into little-endian words.
    """
    words = (length + 63) // 64
    out = np.zeros((n_rows, words), dtype=np.uint64)
    if n_rows == 0 or len(rows) == 0:
        return out
    block = max(1, _BLOCK_BYTES // (words * 64))
    width = words * 64
    starts = np.searchsorted(rows, np.arange(0, n_rows + block, block))
    for b, r0 in enumerate(range(0, n_rows, block)):
        lo, hi = starts[b], starts[b + 1]
        if lo == hi:
            continue
        r1 = min(r0 + block, n_rows)
        dense = np.zeros((r1 - r0, width), dtype=np.uint8)
        dense[rows[lo:hi] - r0, pos[lo:hi]] = 1
        out[r0:r1] = np.packbits(dense, axis=1, bitorder="little").view("<u8")
    return out


def unpack_bits(bits: np.ndarray, length: int) -> np.ndarray:
    """``(n, length)`` ``uint8`` 0/1 array from packed rows."""
    n = bits.shape[0]
    as_bytes = np.ascontiguousarray(bits.astype("<u8", copy=False)).view(np.uint8).reshape(n, -1)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :length]


def pack_bool(dense: np.ndarray) -> np.ndarray:
    """Pack an ``(n, length)`` 0/1 array into ``(n, words)`` ``uint64`` rows."""
    n, length = dense.shape
    words = (length + 63) // 64
    if length != words * 64:
        padded = np.zeros((n, words * 64), dtype=np.uint8)
        padded[:, :length] = dense
        dense = padded
    packed = np.packbits(dense.astype(np.uint8, copy=False), axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False).reshape(n, words)

"""clkhash's serialisation of CLKs: base64 of the big-endian ``bitarray`` bytes.

clkhash keeps a CLK in a big-endian ``bitarray``: its bit ``j`` is bit ``7 - j % 8`` (most
significant first) of byte ``j // 8``. :class:`~nislink.frame.BitMatrix` keeps bit ``j`` in
``uint64`` word ``j // 64`` at bit ``j % 64`` (least significant first). The *index* ``j``
is the same in both; only the packing differs, so :func:`to_base64` reverses the bits of
every byte of our little-endian words and :func:`from_base64` does the inverse.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

import numpy as np

from nislink.frame import BitMatrix

__all__ = ["from_base64", "to_base64"]

# Reverse the bit order of every byte (clkhash big-endian bits <-> our little-endian bits).
_REV8 = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)


def to_base64(bm: BitMatrix) -> list[str]:
    """clkhash's serialisation of each row: base64 of the big-endian ``bitarray`` bytes.

    Byte ``b`` of the output holds bits ``8b .. 8b+7`` with bit ``8b`` as its most significant
    bit; a final partial byte is zero-padded, as ``bitarray.tobytes()`` does.
    """
    nbytes = (bm.nbits + 7) // 8
    as_bytes = bm.bits.astype("<u8", copy=False).view(np.uint8)
    as_bytes = as_bytes.reshape(len(bm), bm.words * 8)[:, :nbytes]
    flipped = np.ascontiguousarray(_REV8[as_bytes])
    b64 = binascii.b2a_base64
    return [b64(row.tobytes(), newline=False).decode("ascii") for row in flipped]


def from_base64(strings: Iterable[str], nbits: int) -> BitMatrix:
    """Read clkhash base64 CLKs of ``nbits`` bits each into a :class:`BitMatrix`.

    Raises ``ValueError`` naming the row when a string is not valid base64, has the wrong
    length, or sets padding bits beyond ``nbits``.
    """
    if nbits < 1:
        raise ValueError("nbits must be positive")
    strings = list(strings)
    nbytes = (nbits + 7) // 8
    words = (nbits + 63) // 64
    buf = np.zeros((len(strings), words * 8), dtype=np.uint8)
    for i, s in enumerate(strings):
        try:
            raw = base64.b64decode(s.encode("ascii") if isinstance(s, str) else s, validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise ValueError(f"row {i}: not a valid base64 string") from None
        if len(raw) != nbytes:
            raise ValueError(f"row {i}: {len(raw)} bytes, expected {nbytes} for {nbits} bits")
        buf[i, :nbytes] = np.frombuffer(raw, dtype=np.uint8)
    buf = _REV8[buf]
    bits = buf.view("<u8").astype(np.uint64, copy=False).reshape(len(strings), words)
    if nbits % 64:
        tail = ~np.uint64((1 << (nbits % 64)) - 1)
        bad = np.flatnonzero(bits[:, -1] & tail)
        if len(bad):
            raise ValueError(f"row {int(bad[0])}: padding bits beyond bit {nbits} are set")
    return BitMatrix(np.ascontiguousarray(bits), nbits)

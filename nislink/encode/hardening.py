"""Hardening of Bloom filters against cryptanalysis (see ``docs/encoding.md``).

Each function takes packed rows ``(n, words)`` ``uint64`` and the filter length ``L`` and
returns ``(rows, new_length)``. They are applied, when configured, in this order:

1. **salt** (applied while hashing, see :mod:`nislink.encode.encoder`): a record-level
   value such as the year of birth is appended to every token's message, so the same name
   sets different bits for people born in different years. Protects against frequency
   and pattern-mining attacks on the common names; costs recall when the salt value
   itself is wrong (a wrong year of birth makes the names incomparable).
2. :func:`balance` (Schnell and Borgs 2016): append the complement, so every
   filter has exactly ``L`` set bits out of ``2L``; hides the number of tokens (name
   length) and flattens bit frequencies. Doubles the length; Dice values move towards 0.5.
3. :func:`permute`: a secret permutation of bit positions, derived from the key. Protects
   the layout (e.g. of a balanced filter's complement half) from an adversary without the
   key; no cost in linkage quality (Dice is invariant under a common permutation). Applied
   before folding, so that a balanced filter is not folded onto its own complement.
4. :func:`xor_fold` (Schnell, Borgs and Encarnacao 2016, XOR-folding working paper): XOR the two halves together
   (repeatedly); destroys the one-to-one link between bits and tokens. Halves the length;
   adds collisions, so similar and dissimilar records separate less.
5. :func:`rule90` (Schnell, Borgs and Encarnacao 2016, cellular automata; Wolfram's elementary automaton 90):
   each bit becomes the XOR of its two cyclic neighbours; like folding, obscures the
   bit-token mapping at the same length. Reduces discrimination (one changed token
   changes up to ``2k`` bits).
6. :func:`blip` (Alaggan, Gambs and Kermarrec 2012; Schnell and Borgs 2016): randomised
   response, each bit flipped with probability ``p``. The noise is seeded from a keyed
   hash of the row's own bits, so the same input always gets the same output (exact
   duplicates stay exact; the output does not depend on the batch). Protects against
   exact-pattern attacks; costs similarity (expected Dice falls as ``p`` grows).

Missing values (all-zero rows) are never hardened: they stay all zero.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import blake3
import numpy as np

from nislink.encode.bloom import pack_bool, unpack_bits
from nislink.schema import Hardening

__all__ = ["balance", "xor_fold", "rule90", "permutation", "permute", "blip", "apply"]


def balance(bits: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    """Append the complement of each row: length ``2L``, popcount exactly ``L``."""
    dense = unpack_bits(bits, length)
    return pack_bool(np.concatenate([dense, 1 - dense], axis=1)), 2 * length


def xor_fold(bits: np.ndarray, length: int, times: int = 1) -> tuple[np.ndarray, int]:
    """XOR the first half with the second half, ``times`` times."""
    dense = unpack_bits(bits, length)
    for _ in range(times):
        if length % 2:
            raise ValueError(f"cannot XOR-fold a filter of odd length {length}")
        length //= 2
        dense = dense[:, :length] ^ dense[:, length:]
    return pack_bool(dense), length


def rule90(bits: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    """Elementary cellular automaton rule 90 (one step, cyclic): ``b'[i] = b[i-1] ^ b[i+1]``."""
    dense = unpack_bits(bits, length)
    return pack_bool(np.roll(dense, 1, axis=1) ^ np.roll(dense, -1, axis=1)), length


@lru_cache(maxsize=64)
def permutation(key: bytes, length: int) -> np.ndarray:
    """The secret permutation of ``length`` positions for ``key``.

    ``perm = argsort(v, stable)`` where ``v[j]`` is the ``j``-th little-endian ``uint64``
    of the keyed BLAKE3 output of the message ``b"permutation"``.
    """
    raw = blake3.blake3(b"permutation", key=key).digest(length=8 * length)
    v = np.frombuffer(raw, dtype="<u8")
    perm = np.argsort(v, kind="stable")
    perm.setflags(write=False)  # cached: shared by every caller
    return perm


def permute(bits: np.ndarray, length: int, key: bytes) -> tuple[np.ndarray, int]:
    """Output bit ``j`` is input bit ``perm[j]`` (see :func:`permutation`)."""
    dense = unpack_bits(bits, length)
    # np.take along axis 1 is several times faster than fancy indexing dense[:, perm]
    return pack_bool(np.take(dense, permutation(key, length), axis=1)), length


def blip(bits: np.ndarray, length: int, p: float, key: bytes) -> tuple[np.ndarray, int]:
    """Flip each bit with probability ``p`` (resolution 1/65536), deterministically.

    For each row, the keyed BLAKE3 output (``2L`` bytes) of the row's packed bytes (its
    little-endian words) gives ``L`` little-endian ``uint16`` values ``u``; bit ``j`` is
    flipped iff ``u[j] < round(p * 65536)``.
    """
    n = bits.shape[0]
    if n == 0 or p <= 0:
        return bits, length
    threshold = int(round(p * 65536))
    rows = np.ascontiguousarray(bits.astype("<u8", copy=False))
    b3 = blake3.blake3
    noise = b"".join([b3(rows[i].tobytes(), key=key).digest(length=2 * length) for i in range(n)])
    u = np.frombuffer(noise, dtype="<u2").reshape(n, length)
    dense = unpack_bits(bits, length) ^ (u < threshold).astype(np.uint8)
    return pack_bool(dense), length


def apply(
    bits: np.ndarray, length: int, h: Hardening, key_for: Callable[[str], bytes]
) -> tuple[np.ndarray, int]:
    """Apply the post-hashing steps of ``h`` to non-empty rows; all-zero rows stay zero.

    ``key_for(purpose)`` returns the derived sub-key for ``"permute"`` or ``"blip"``.
    """
    if h.is_identity():
        return bits, length
    out_len = h.output_length(length)
    out = np.zeros((bits.shape[0], (out_len + 63) // 64), dtype=np.uint64)
    nonzero = bits.any(axis=1)
    if not nonzero.any():
        return out, out_len
    sub = bits[nonzero]
    cur = length
    if h.balance:
        sub, cur = balance(sub, cur)
    if h.permute:
        sub, cur = permute(sub, cur, key_for("permute"))
    if h.xor_fold:
        sub, cur = xor_fold(sub, cur, h.xor_fold)
    if h.rule90:
        sub, cur = rule90(sub, cur)
    if h.blip:
        sub, cur = blip(sub, cur, h.blip, key_for("blip"))
    assert cur == out_len
    out[nonzero] = sub
    return out, out_len

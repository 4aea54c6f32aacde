"""clkhash-compatible CLKs: read a clkhash linkage schema, produce identical bits.

This is an independent, vectorised implementation of the encoding defined by clkhash 0.18.3
(the CLK tool of the Anonlink stack) for its linkage schemas of version 3 (and version 2,
which clkhash converts to version 3). For the same schema, secret and rows it produces the
same Bloom filters bit for bit; the tests check this against vectors made by running
clkhash itself (``benchmarks/make_clkhash_vectors.py``). See ``docs/clkhash.md``.

The encoding, as a sequence of steps (``L = l * 2**xor_folds`` is the hashing length):

1. Keys: ``HKDF(hash, salt, info)`` (RFC 5869) of the secret (UTF-8 if given as ``str``)
   yields ``2 * F * keySize`` bytes, ``F`` the number of features *including ignored
   ones*; feature ``i`` gets the two keys ``okm[(2i)*ks:(2i+1)*ks]`` and
   ``okm[(2i+1)*ks:(2i+2)*ks]``.
2. Each value: if it equals the feature's ``missingValue.sentinel`` it is replaced by
   ``replaceWith`` (the sentinel itself when absent) and used as is; otherwise it is
   validated (optional) and formatted (``date``: parsed with the schema's ``strptime``
   format, written ``%Y%m%d``; ``integer``: ``str(int(value, 10))``; others unchanged).
3. Tokens: ``ngram`` with ``n``: the value padded with ``n-1`` spaces each side, all
   ``n``-grams in order; ``positional`` prefixes the 1-based position and a space
   (``"1  a"``). ``exact``: the whole value. ``numeric``: the neighbourhood tokens of
   Vatsalan and Christen (2015). An empty value has no tokens.
4. Insertions per token: ``bitsPerToken`` ``k`` for every token; ``bitsPerFeature`` ``B``
   over ``t`` tokens gives the first ``B % t`` tokens ``B // t + 1`` and the others ``B // t``.
5. Positions of a token (its bytes in the feature's ``encoding``) for ``k`` insertions:
   ``doubleHash``: ``h1 = int(HMAC-SHA1(key0, token)) % L`` and
   ``h2 = int(HMAC-MD5(key1, token)) % L`` (big-endian integers), positions
   ``(h1 + i*h2) % L`` for ``i < k``; with ``prevent_singularity`` a zero ``h2`` is
   recomputed as ``HMAC-MD5(key1, token + chr(j).encode())`` for ``j = 0, 1, ...`` until
   non-zero. ``blakeHash`` (``L`` a power of two): the digests
   ``BLAKE2b-512(token, key=key0, salt=str(j).encode())`` for ``j < ceil(k/32)`` read as
   little-endian unsigned 16-bit integers, the first ``k`` of them ``% L``.
6. The record's filter of ``L`` bits is the OR of all its features' positions; it is then
   XOR-folded ``xor_folds`` times (first half XOR second half) down to ``l`` bits.

Bit order. clkhash keeps a CLK in a big-endian ``bitarray``: its bit ``j`` is bit
``7 - j % 8`` (most significant first) of byte ``j // 8`` of the serialised bytes, which are
base64-encoded. :class:`~nislink.frame.BitMatrix` keeps bit ``j`` in ``uint64`` word
``j // 64`` at bit ``j % 64`` (least significant first). The *index* ``j`` is the same in
both: clkhash's position ``j`` is our bit ``j``. Only the packing differs, so
:func:`to_base64` reverses the bits of every byte of our little-endian words and
:func:`from_base64` does the inverse.

The room, one concept per module:

* :mod:`~nislink.encode.clkhash.schema`: :func:`parse_clkhash_schema`, :class:`ClkhashSchema`,
  :class:`ClkhashFeature` (steps 2-4, per value);
* :mod:`~nislink.encode.clkhash.kdf`: HKDF and :func:`clkhash_keys` (step 1);
* :mod:`~nislink.encode.clkhash.engine`: the vectorised encoding (steps 2-6 over many rows);
* :mod:`~nislink.encode.clkhash.hmac_np`: HMAC-SHA1/MD5 of many short messages (step 5);
* :mod:`~nislink.encode.clkhash.dates`: the ``strptime`` fast path for date features;
* clkhash's base64 strings: :func:`to_base64` / :func:`from_base64`, defined with the
  :class:`~nislink.frame.BitMatrix` in :mod:`nislink.frame` (the linkage unit reads them
  too) and re-exported here.

(``nislink.encode.clkhash_compat``, the former single module, re-exports the public names.)
"""

from __future__ import annotations

from nislink.encode.clkhash.kdf import clkhash_keys
from nislink.encode.clkhash.schema import ClkhashFeature, ClkhashSchema, parse_clkhash_schema
from nislink.errors import ClkhashEntryError, ClkhashSchemaError
from nislink.frame import from_base64, to_base64

__all__ = [
    "ClkhashEntryError",
    "ClkhashFeature",
    "ClkhashSchema",
    "ClkhashSchemaError",
    "clkhash_keys",
    "from_base64",
    "parse_clkhash_schema",
    "to_base64",
]

"""clkhash key derivation: HKDF (RFC 5869) of the secret into two keys per feature."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from nislink.errors import ClkhashSchemaError

if TYPE_CHECKING:  # pragma: no cover
    from nislink.encode.clkhash.schema import ClkhashSchema

__all__ = ["DEFAULT_KEY_SIZE", "KDF_HASHES", "clkhash_keys", "hkdf"]

DEFAULT_KEY_SIZE = 64
"""clkhash's default ``kdf.keySize`` (bytes per key)."""
KDF_HASHES = {"SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
"""The HKDF hashes a clkhash schema may name."""


def clkhash_keys(schema: ClkhashSchema, secret: bytes | str) -> list[tuple[bytes, bytes]]:
    """The two HKDF-derived keys of every feature (ignored features included), as clkhash."""
    if isinstance(secret, str):
        secret_bytes = secret.encode("utf-8")
    elif isinstance(secret, (bytes, bytearray, memoryview)):
        secret_bytes = bytes(secret)
    else:
        raise TypeError("the secret must be bytes or str, as clkhash takes it")
    count = 2 * len(schema.features)
    okm = hkdf(secret_bytes, count * schema.kdf_key_size, schema.kdf_hash,
                schema.kdf_salt, schema.kdf_info)
    ks = schema.kdf_key_size
    chunks = [okm[i * ks:(i + 1) * ks] for i in range(count)]
    return [(chunks[2 * i], chunks[2 * i + 1]) for i in range(len(schema.features))]


def hkdf(ikm: bytes, length: int, hash_name: str, salt: bytes | None, info: bytes | None) -> bytes:
    """HKDF extract-and-expand (RFC 5869)."""
    digestmod = KDF_HASHES[hash_name]
    hash_len = digestmod().digest_size
    if length > 255 * hash_len:
        raise ClkhashSchemaError(
            f"HKDF-{hash_name} cannot derive {length} bytes (at most {255 * hash_len}); "
            "reduce kdf.keySize or the number of features"
        )
    prk = hmac.new(salt if salt else bytes(hash_len), ikm, digestmod).digest()
    okm = b""
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac.new(prk, block + (info or b"") + bytes([counter]), digestmod).digest()
        okm += block
        counter += 1
    return okm[:length]

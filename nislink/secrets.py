"""The shared secret of the data owners, key derivation and key fingerprints.

A :class:`Secret` holds at least 32 bytes of key material. It is never shown: its
``repr``/``str`` are masked, it refuses to be pickled, and no error message ever contains
it. Every keyed operation in nislink uses a *sub-key* derived from it with BLAKE3's
key-derivation mode (``blake3(key_material, derive_key_context=context)``), where the
context string names the scheme version, the schema fingerprint, the purpose and the
field, so that one purpose's outputs say nothing about another's.

A key fingerprint (:meth:`Secret.fingerprint`) is itself a derived value, so parties can
compare fingerprints to confirm they hold the same key without revealing it.

See ``docs/encoding.md`` for the exact definitions.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets as _pysecrets
from pathlib import Path

import blake3

from nislink.errors import SecretError

__all__ = ["Secret", "SecretError", "MIN_SECRET_BYTES", "FINGERPRINT_CONTEXT"]

MIN_SECRET_BYTES = 32
"""The shortest key material accepted, in bytes."""

FINGERPRINT_CONTEXT = "nislink v1 key fingerprint"
"""BLAKE3 derive-key context of :meth:`Secret.fingerprint`."""

_HEX_RE = re.compile(r"^(?:0x)?[0-9a-fA-F]+$")
_B64_RE = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def _decode_text(text: str, where: str) -> bytes:
    """Decode hex or base64 text to bytes; the error names only ``where``."""
    text = "".join(text.split())
    if not text:
        raise SecretError(f"{where} is empty")
    if _HEX_RE.match(text):
        body = text[2:] if text.lower().startswith("0x") else text
        if len(body) % 2 == 0:
            return bytes.fromhex(body)
    if _B64_RE.match(text):
        try:
            padded = text + "=" * (-len(text) % 4)
            if "-" in text or "_" in text:
                return base64.urlsafe_b64decode(padded)
            return base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise SecretError(f"{where} is neither hex nor base64 text")


class Secret:
    """Key material shared by the data owners (never by the linkage unit).

    Build one with :meth:`from_bytes`, :meth:`from_file`, :meth:`from_env` or
    :meth:`generate`. Fewer than 32 bytes are refused.
    """

    __slots__ = ("__key",)

    def __init__(self, key: bytes) -> None:
        if isinstance(key, Secret):
            key = key._Secret__key  # type: ignore[attr-defined]
        if not isinstance(key, (bytes, bytearray, memoryview)):
            raise TypeError("Secret key material must be bytes")
        key = bytes(key)
        if len(key) < MIN_SECRET_BYTES:
            raise SecretError(
                f"secret has {len(key)} bytes; at least {MIN_SECRET_BYTES} random bytes "
                "are required (use Secret.generate())"
            )
        self.__key = key

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_bytes(cls, key: bytes) -> "Secret":
        """A secret from raw key bytes (at least 32)."""
        return cls(key)

    @classmethod
    def from_text(cls, text: str, where: str = "secret text") -> "Secret":
        """A secret from hex or base64 text (whitespace ignored)."""
        return cls(_decode_text(text, where))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "Secret":
        """A secret from a file holding hex or base64 text, or else raw bytes.

        The file is read as text when it is entirely ASCII hex or base64 (surrounding
        whitespace ignored); otherwise its raw bytes are the key material.
        """
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise SecretError(f"cannot read secret file {str(p)!r}: {exc.strerror}") from None
        try:
            text = data.decode("ascii").strip()
        except UnicodeDecodeError:
            text = ""
        compact = "".join(text.split())
        if compact and (_HEX_RE.match(compact) or _B64_RE.match(compact)):
            # text key material: decode it (a short key is an error, not raw bytes)
            return cls(_decode_text(compact, f"secret file {str(p)!r}"))
        return cls(data)

    @classmethod
    def from_env(cls, name: str = "NISLINK_SECRET") -> "Secret":
        """A secret from an environment variable holding hex or base64 text."""
        value = os.environ.get(name)
        if value is None:
            raise SecretError(f"environment variable {name} is not set")
        return cls(_decode_text(value, f"environment variable {name}"))

    @classmethod
    def generate(cls, nbytes: int = 32) -> "Secret":
        """A fresh secret of ``nbytes`` random bytes from the operating system's CSPRNG."""
        return cls(_pysecrets.token_bytes(max(int(nbytes), MIN_SECRET_BYTES)))

    # -- use --------------------------------------------------------------------------
    def derive(self, context: str, length: int = 32) -> bytes:
        """A sub-key for ``context`` (BLAKE3 derive-key mode, ``length`` bytes).

        ``context`` should name the scheme version, the schema fingerprint, the purpose
        and the field, e.g. ``"nislink v1 bloom 0123abcd forename"``.
        """
        if not isinstance(context, str) or not context:
            raise ValueError("derive() needs a non-empty context string")
        return blake3.blake3(self.__key, derive_key_context=context).digest(length=length)

    def fingerprint(self) -> str:
        """A keyed, non-reversible identifier of this key (16 hex characters), safe to publish."""
        return self.derive(FINGERPRINT_CONTEXT, 8).hex()

    def export_hex(self) -> str:
        """The key material as hex text, for writing to a protected key file by its owner."""
        return self.__key.hex()

    def _material(self) -> bytes:
        """Raw key material (internal: for passing to worker processes and compat code)."""
        return self.__key

    def __len__(self) -> int:
        return len(self.__key)

    # -- hiding -----------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Secret(<{len(self.__key)} bytes hidden>, fingerprint={self.fingerprint()!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.__key, other._Secret__key)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __reduce__(self):  # type: ignore[no-untyped-def]
        raise TypeError("Secret objects cannot be pickled or copied to disk; "
                        "pass the key file or environment variable name instead")

    def __reduce_ex__(self, protocol):  # type: ignore[no-untyped-def]
        raise TypeError("Secret objects cannot be pickled")

    def __getstate__(self):  # type: ignore[no-untyped-def]
        raise TypeError("Secret objects cannot be pickled")

    def __copy__(self) -> "Secret":
        return self

    def __deepcopy__(self, memo: dict) -> "Secret":
        return self

"""The in-memory result of encoding: :class:`EncodedFrame` and :class:`BitMatrix`.

This is the contract between the data owner's side (``nislink.clean``, ``nislink.encode``)
and the linkage unit's side (``nislink.block`` onwards). It holds no raw identifier and no
secret, and this module imports no other nislink module at import time, so the linkage
unit can read encodings without loading any of the data owners' code.

Layout (``n`` records):

* ``ids``: record ids, a 1-D NumPy array of ``str`` (object dtype), unique.
* ``fields[name]``: a :class:`BitMatrix` per encoded field (field-level Bloom filter).
  ``present[i]`` is False when the field was missing for record ``i`` (its bits are zero).
* ``clk``: the record-level filter (CLK), a :class:`BitMatrix`, or ``None``.
* ``tokens[name]``: keyed 64-bit hash tokens (exact-match tokens per field and match keys),
  ``uint64`` arrays of length ``n``; the value ``0`` means "missing" (a keyed hash that
  comes out as 0 is mapped to 1 by the encoder).
* ``meta``: a JSON-serialisable dict (scheme version, schema and key fingerprints, party,
  creation time, destroy-by date, ...), written into saved files.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BitMatrix", "EncodedFrame", "from_base64", "mix64", "popcount_rows", "to_base64"]

# Popcount of each byte value, used by :func:`popcount_rows`.
_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount_rows(bits: np.ndarray) -> np.ndarray:
    """Number of set bits in each row of a packed ``(n, words)`` ``uint64`` matrix."""
    if bits.ndim != 2 or bits.dtype != np.uint64:
        raise ValueError("expected a 2-D uint64 matrix of packed bits")
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(bits).sum(axis=1, dtype=np.int32)
    as_bytes = bits.view(np.uint8).reshape(bits.shape[0], -1)  # pragma: no cover
    return _POP8[as_bytes].sum(axis=1, dtype=np.int32)  # pragma: no cover


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser of every ``uint64`` (a bijection; not a keyed hash).

    Keyed tokens are mixed with it into compound tokens that stay as opaque as their parts
    (:func:`nislink.linkage.combine_tokens`), and identical filters are grouped by it
    (:func:`nislink.privacy.attacks.group_rows`). Returns a new array.
    """
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _MIX1
        x = x ^ (x >> np.uint64(27))
        x = x * _MIX2
        return x ^ (x >> np.uint64(31))


@dataclass
class BitMatrix:
    """Packed Bloom filters: one row of ``words`` little-endian ``uint64`` words per record.

    Bit ``j`` of a filter lives in word ``j // 64`` at bit position ``j % 64`` (least
    significant bit first). ``nbits`` is the filter length; bits at and above ``nbits`` in
    the last word are always zero.
    """

    bits: np.ndarray
    nbits: int
    popcount: np.ndarray = field(default=None)  # type: ignore[assignment]
    present: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.bits.dtype != np.uint64 or self.bits.ndim != 2:
            raise ValueError("BitMatrix.bits must be a 2-D uint64 array")
        words = (self.nbits + 63) // 64
        if self.bits.shape[1] != words:
            raise ValueError(
                f"BitMatrix of {self.nbits} bits needs {words} words per row, "
                f"got {self.bits.shape[1]}"
            )
        if self.popcount is None:
            self.popcount = popcount_rows(self.bits)
        if self.present is None:
            self.present = self.popcount > 0
        self.popcount = np.asarray(self.popcount, dtype=np.int32)
        self.present = np.asarray(self.present, dtype=bool)
        if len(self.popcount) != len(self.bits) or len(self.present) != len(self.bits):
            raise ValueError("BitMatrix popcount/present length differs from its rows")

    def __len__(self) -> int:
        return int(self.bits.shape[0])

    @property
    def words(self) -> int:
        """Number of ``uint64`` words per row."""
        return int(self.bits.shape[1])

    def take(self, index: np.ndarray) -> "BitMatrix":
        """Rows at ``index`` (integer positions or a boolean mask)."""
        return BitMatrix(self.bits[index], self.nbits, self.popcount[index], self.present[index])

    def to_bool(self) -> np.ndarray:
        """Unpack to an ``(n, nbits)`` boolean array (for tests and small data)."""
        as_bytes = self.bits.astype("<u8").view(np.uint8).reshape(len(self), self.words * 8)
        unpacked = np.unpackbits(as_bytes, axis=1, bitorder="little")
        return unpacked[:, : self.nbits].astype(bool)

    @classmethod
    def from_bool(cls, dense: np.ndarray) -> "BitMatrix":
        """Pack an ``(n, nbits)`` boolean array."""
        dense = np.asarray(dense, dtype=bool)
        n, nbits = dense.shape
        words = (nbits + 63) // 64
        padded = np.zeros((n, words * 64), dtype=bool)
        padded[:, :nbits] = dense
        packed = np.packbits(padded, axis=1, bitorder="little")
        bits = packed.view("<u8").astype(np.uint64).reshape(n, words)
        return cls(bits, nbits)


@dataclass
class EncodedFrame:
    """Encodings of one party's records, ready to hand to the linkage unit.

    ``rejects`` (not a dataclass field) is set by :class:`nislink.Encoder` to the table of
    rows that could not be encoded (row label, id, field, reason; never raw values). It
    stays with the data owner: :meth:`save` does not write it.
    """

    rejects = None  # set by the encoder; not saved
    summary = None  # set by the encoder: a FieldSummary (present/missing/rejected); not saved

    ids: np.ndarray
    fields: dict[str, BitMatrix]
    clk: BitMatrix | None
    tokens: dict[str, np.ndarray]
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=object)
        n = len(self.ids)
        for name, bm in self.fields.items():
            if len(bm) != n:
                raise ValueError(f"field {name!r} has {len(bm)} rows, expected {n}")
        if self.clk is not None and len(self.clk) != n:
            raise ValueError(f"record-level filter has {len(self.clk)} rows, expected {n}")
        for name, tok in list(self.tokens.items()):
            tok = np.asarray(tok)
            if tok.dtype != np.uint64 or tok.shape != (n,):
                raise ValueError(f"token {name!r} must be a uint64 array of length {n}")
            self.tokens[name] = tok

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (
            f"EncodedFrame(n={len(self)}, fields={list(self.fields)}, "
            f"clk={'%d bits' % self.clk.nbits if self.clk is not None else None}, "
            f"tokens={list(self.tokens)}, party={self.meta.get('party')!r})"
        )

    def take(self, index: np.ndarray) -> "EncodedFrame":
        """Rows at ``index`` (integer positions or a boolean mask), same metadata."""
        return EncodedFrame(
            ids=self.ids[index],
            fields={k: v.take(index) for k, v in self.fields.items()},
            clk=self.clk.take(index) if self.clk is not None else None,
            tokens={k: v[index] for k, v in self.tokens.items()},
            meta=dict(self.meta),
        )

    # -- shortcuts to the file format (nislink.io imports this module, so the two methods
    # -- below import it when called: that breaks the cycle, nothing else does)
    def save(self, path: "str | os.PathLike[str]") -> None:
        """Write the documented on-disk format (:func:`nislink.io.save`)."""
        from nislink.io import save  # noqa: PLC0415 (io imports this module)

        save(self, path)

    def check_compatible(self, other: "EncodedFrame") -> None:
        """Raise :class:`~nislink.errors.IncompatibleEncodingError` unless ``other`` can be
        linked with this frame (:func:`nislink.io.check_compatible`)."""
        from nislink.io import check_compatible  # noqa: PLC0415 (io imports this module)

        check_compatible(self, other)

    def to_clkhash(self) -> list[str]:
        """The record-level filters as clkhash-style base64 strings, in row order
        (:func:`to_base64`)."""
        if self.clk is None:
            raise ValueError("this EncodedFrame has no record-level filter (CLK)")
        return to_base64(self.clk)

    @classmethod
    def from_clkhash(
        cls, strings: "list[str]", ids: "list[str] | np.ndarray | None" = None,
        meta: "dict[str, Any] | None" = None,
    ) -> "EncodedFrame":
        """An EncodedFrame holding only CLKs read from clkhash base64 strings.

        ``ids`` default to ``"0", "1", ...``. All filters must have the same length; it is
        taken as ``8 *`` their byte length (use :func:`from_base64` for another length).
        """
        raw = _decode_base64(strings)
        lengths = {len(r) for r in raw}
        if len(lengths) > 1:
            raise ValueError(f"clkhash filters have different lengths: {sorted(lengths)} bytes")
        nbits = 8 * lengths.pop() if lengths else 0
        clk = _from_bytes(raw, nbits) if raw else BitMatrix(np.zeros((0, 0), dtype=np.uint64), 0)
        if ids is None:
            ids = np.array([str(i) for i in range(len(raw))], dtype=object)
        if len(ids) != len(raw):
            raise ValueError(f"{len(ids)} ids for {len(raw)} filters")
        m = {"scheme_version": "clkhash", "schema_fingerprint": None, "key_fingerprint": None,
             "party": None, "created": None, "destroy_by": None, "rows": len(raw)}
        m.update(meta or {})
        return cls(ids=np.asarray(ids, dtype=object), fields={}, clk=clk, tokens={}, meta=m)


# -- clkhash's serialisation of a filter ----------------------------------------------------
# clkhash keeps a CLK in a big-endian ``bitarray``: its bit ``j`` is bit ``7 - j % 8`` (most
# significant first) of byte ``j // 8``, and serialises those bytes in base64. A BitMatrix
# keeps bit ``j`` in word ``j // 64`` at bit ``j % 64`` (least significant first). The index
# ``j`` is the same in both; only the packing differs, so the bits of every byte of our
# little-endian words are reversed. (One definition, used by EncodedFrame.to_clkhash /
# from_clkhash and re-exported by nislink.encode.clkhash.)

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
    if bm.nbits % 8 and nbytes:  # bits at and above nbits are zero in a BitMatrix; make sure
        flipped[:, -1] &= np.uint8((0xFF << (8 - bm.nbits % 8)) & 0xFF)
    b64 = binascii.b2a_base64
    return [b64(row.tobytes(), newline=False).decode("ascii") for row in flipped]


def _decode_base64(strings: Iterable[str | bytes]) -> list[bytes]:
    raw = []
    for i, s in enumerate(strings):
        try:
            raw.append(base64.b64decode(s.encode("ascii") if isinstance(s, str) else s,
                                        validate=True))
        except (binascii.Error, ValueError, TypeError, UnicodeEncodeError):
            raise ValueError(f"row {i}: not a valid base64 string") from None
    return raw


def _from_bytes(raw: list[bytes], nbits: int) -> BitMatrix:
    nbytes = (nbits + 7) // 8
    words = (nbits + 63) // 64
    buf = np.zeros((len(raw), words * 8), dtype=np.uint8)
    for i, r in enumerate(raw):
        if len(r) != nbytes:
            raise ValueError(f"row {i}: {len(r)} bytes, expected {nbytes} for {nbits} bits")
        buf[i, :nbytes] = np.frombuffer(r, dtype=np.uint8)
    buf = _REV8[buf]
    bits = buf.view("<u8").astype(np.uint64, copy=False).reshape(len(raw), words)
    if nbits % 64:
        tail = ~np.uint64((1 << (nbits % 64)) - 1)
        bad = np.flatnonzero(bits[:, -1] & tail)
        if len(bad):
            raise ValueError(f"row {int(bad[0])}: padding bits beyond bit {nbits} are set")
    return BitMatrix(np.ascontiguousarray(bits), nbits)


def from_base64(strings: Iterable[str], nbits: int) -> BitMatrix:
    """Read clkhash base64 CLKs of ``nbits`` bits each into a :class:`BitMatrix`.

    Raises ``ValueError`` naming the row when a string is not valid base64, has the wrong
    length, or sets padding bits beyond ``nbits``.
    """
    if nbits < 1:
        raise ValueError("nbits must be positive")
    return _from_bytes(_decode_base64(strings), nbits)

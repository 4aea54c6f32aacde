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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from nislink.errors import ClkhashEntryError, ClkhashSchemaError
from nislink.frame import BitMatrix

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

_DEFAULT_KEY_SIZE = 64
_KDF_HASHES = {"SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
_ENCODINGS = ("ascii", "utf-8", "utf-16", "utf-32")
# Reverse the bit order of every byte (clkhash big-endian bits <-> our little-endian bits).
_REV8 = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)


# --------------------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------------------


_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@lru_cache(maxsize=64)
def _date_layout(fmt: str) -> tuple[tuple[str, int], ...] | None:
    """``fmt`` as fixed-width pieces if it is only ``%Y``/``%m``/``%d`` and plain separators.

    Used for a fast path that must agree exactly with ``datetime.strptime``: see
    :func:`_fast_date`. ``None`` means "always use strptime".
    """
    pieces: list[tuple[str, int]] = []
    i = 0
    seen: set[str] = set()
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            code = fmt[i + 1:i + 2]
            if code not in ("Y", "m", "d") or code in seen:
                return None
            seen.add(code)
            pieces.append((code, 4 if code == "Y" else 2))
            i += 2
        elif ch.isascii() and not ch.isalnum() and not ch.isspace():
            pieces.append((ch, 1))
            i += 1
        else:
            return None
    return tuple(pieces) if seen == {"Y", "m", "d"} else None


def _fast_date(value: str, layout: tuple[tuple[str, int], ...] | None) -> str | None:
    """``strptime(value, fmt).strftime('%Y%m%d')`` for the common exact shape, else ``None``.

    Accepts only values whose every field has its full width in ASCII digits, with month
    01-12, day 01-31 valid for the month, and year >= 1000. For such values strptime's
    regular expression takes the same two-digit split (its two-character alternatives come
    first) and consumes the whole string, so the result is identical; anything else
    (including every invalid value) returns ``None`` and goes through strptime itself.
    """
    if layout is None or not value.isascii():
        return None
    pos = 0
    year = month = day = ""
    for code, width in layout:
        part = value[pos:pos + width]
        pos += width
        if len(part) != width:
            return None
        if width == 1 and code not in "Ymd":
            if part != code:
                return None
            continue
        if not part.isdigit():
            return None
        if code == "Y":
            year = part
        elif code == "m":
            month = part
        else:
            day = part
    if pos != len(value):
        return None
    y, m, d = int(year), int(month), int(day)
    if y < 1000 or not 1 <= m <= 12 or not 1 <= d <= _DAYS[m]:
        return None
    if m == 2 and d == 29 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return None
    return year + month + day


@dataclass(frozen=True)
class ClkhashFeature:
    """One feature (column) of a clkhash schema, as parsed by :func:`parse_clkhash_schema`."""

    identifier: str
    ignored: bool = False
    # format
    format_type: str = "string"  # string | integer | date | enum
    encoding: str = "utf-8"
    pattern: str | None = None
    case: str = "mixed"
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    date_format: str | None = None
    enum_values: frozenset[str] | None = None
    # hashing
    comparison: str = "ngram"  # ngram | exact | numeric
    n: int = 2
    positional: bool = False
    threshold_distance: float | None = None
    resolution: int | None = None
    fractional_precision: int = 0
    hash_type: str = "blakeHash"  # blakeHash | doubleHash
    prevent_singularity: bool = False
    bits_per_token: int | None = None
    bits_per_feature: int | None = None
    missing_sentinel: str | None = None
    missing_replace_with: str | None = None

    # -- per-value steps ---------------------------------------------------------------

    def check_value(self, value: str) -> str | None:
        """Why ``value`` fails this feature's format (clkhash's validation), or ``None``."""
        try:
            value.encode(self.encoding)
        except UnicodeEncodeError:
            return f"cannot be encoded in {self.encoding}"
        if self.format_type == "string":
            if self.pattern is not None:
                if re.fullmatch(self.pattern, value) is None:
                    return f"does not match the pattern {self.pattern!r}"
                return None
            if self.min_length is not None and len(value) < self.min_length:
                return f"is shorter than minLength {self.min_length} (length {len(value)})"
            if self.max_length is not None and len(value) > self.max_length:
                return f"is longer than maxLength {self.max_length} (length {len(value)})"
            if self.case == "upper" and value.upper() != value:
                return "is not upper case"
            if self.case == "lower" and value.lower() != value:
                return "is not lower case"
            return None
        if self.format_type == "integer":
            try:
                number = int(value, 10)
            except ValueError:
                return "is not a base-10 integer"
            if self.minimum is not None and number < self.minimum:
                return f"is below the minimum {self.minimum}"
            if self.maximum is not None and number > self.maximum:
                return f"is above the maximum {self.maximum}"
            return None
        if self.format_type == "date":
            return None  # parsed (and rejected if invalid) by format_value
        if self.format_type == "enum":
            if self.enum_values is not None and value not in self.enum_values:
                return f"is not one of the {len(self.enum_values)} enum values"
            return None
        return None  # pragma: no cover - format types are checked when parsing

    def format_value(self, value: str) -> str:
        """The string that is tokenised for ``value`` (missing-value replacement, formats).

        Raises ``ValueError`` when a date or integer cannot be parsed.
        """
        if self.missing_sentinel is not None and value == self.missing_sentinel:
            if self.missing_replace_with is None:
                return self.missing_sentinel
            return self.missing_replace_with
        if self.format_type == "date":
            fast = _fast_date(value, _date_layout(self.date_format or ""))
            if fast is not None:
                return fast
            try:
                parsed = datetime.strptime(value, self.date_format or "")
            except ValueError as exc:
                raise ValueError(f"is not a date in the format {self.date_format!r}") from exc
            return parsed.strftime("%Y%m%d")
        if self.format_type == "integer":
            try:
                return str(int(value, 10))
            except ValueError as exc:
                raise ValueError("is not a base-10 integer") from exc
        return value

    def tokenize(self, value: str) -> list[str]:
        """The tokens of a formatted value, in clkhash's order (duplicates kept)."""
        if not value:
            return []
        if self.comparison == "exact":
            return [value]
        if self.comparison == "ngram":
            n = self.n
            if n > 1:
                pad = " " * (n - 1)
                value = pad + value + pad
            count = len(value) - n + 1
            if self.positional:
                return [f"{i + 1} {value[i:i + n]}" for i in range(count)]
            return [value[i:i + n] for i in range(count)]
        return self._numeric_tokens(value)

    def _numeric_tokens(self, value: str) -> list[str]:
        """Neighbourhood tokens of a number (Vatsalan and Christen 2015), as in clkhash."""
        fp = self.fractional_precision
        assert self.threshold_distance is not None and self.resolution is not None
        interval = int(round(self.threshold_distance * pow(10, fp)))
        try:
            v = int(value, 10)
            if fp > 0:
                v *= pow(10, fp)
        except ValueError:
            as_float = float(value)
            v = int(round(as_float * pow(10, fp))) if fp > 0 else int(as_float)
        v = v * 2 * self.resolution
        residue = v % interval
        if residue != 0:
            v = v - residue if residue < interval / 2 else v + (interval - residue)
        return [str(v + i * interval) for i in range(-self.resolution, self.resolution + 1)]

    def insertions(self, num_tokens: int) -> list[int]:
        """How many bits each of ``num_tokens`` tokens sets (the insertion strategy)."""
        if self.bits_per_token is not None:
            return [self.bits_per_token] * num_tokens
        assert self.bits_per_feature is not None
        k, residue = divmod(self.bits_per_feature, num_tokens)
        return [k + 1] * residue + [k] * (num_tokens - residue)


@dataclass(frozen=True)
class ClkhashSchema:
    """A clkhash linkage schema: features, filter length, folds and key derivation.

    Build one with :func:`parse_clkhash_schema`; encode rows with :meth:`encode`.
    """

    features: tuple[ClkhashFeature, ...]
    l: int  # noqa: E741 - clkhash's name for the CLK length
    xor_folds: int = 0
    kdf_hash: str = "SHA256"
    kdf_salt: bytes | None = None
    kdf_info: bytes | None = None
    kdf_key_size: int = _DEFAULT_KEY_SIZE
    source_version: int = 3

    @property
    def hash_length(self) -> int:
        """Length of the filter before XOR folding: ``l * 2 ** xor_folds``."""
        return self.l * 2**self.xor_folds

    @property
    def identifiers(self) -> list[str]:
        """Column identifiers in schema order (ignored features included)."""
        return [f.identifier for f in self.features]

    def encode(
        self,
        rows: Any,
        secret: bytes | str,
        *,
        validate: bool = True,
        batch_size: int = 1_000_000,
        workers: int = 1,
    ) -> BitMatrix:
        """Encode ``rows`` into CLKs identical to clkhash 0.18.3's ``generate_clks``.

        ``rows``: a pandas DataFrame (columns named by the feature identifiers, or exactly
        one column per feature in schema order) or a sequence of rows, each a sequence of
        ``str`` with one entry per feature, ignored features included. ``secret``: bytes, or
        ``str`` (encoded as UTF-8), as clkhash takes it. ``validate`` checks every value
        against its feature's format as clkhash does by default. Each distinct value and
        each distinct token is processed once per batch of ``batch_size`` rows; bits are
        scattered with NumPy. ``workers > 1`` splits the rows into that many contiguous
        parts encoded by forked processes (POSIX only; from 20,000 rows); the bits are the
        same whatever ``workers`` and ``batch_size``. Raises :class:`ClkhashEntryError`
        naming the row and feature of a value that cannot be encoded.
        """
        keys = clkhash_keys(self, secret)
        columns, n = _columns(self, rows)
        words = (self.l + 63) // 64
        out = np.zeros((n, words), dtype=np.uint64)
        parts = _split(n, workers)
        if len(parts) > 1 and words:
            import mmap
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            global _FORK_JOB
            # the children write straight into an anonymous shared mapping (no pickling)
            shared_buf = mmap.mmap(-1, n * words * 8)
            shared = np.frombuffer(shared_buf, dtype=np.uint64).reshape(n, words)
            _FORK_JOB = (self, columns, keys, validate, batch_size, shared)
            try:
                ctx = multiprocessing.get_context("fork")
                with ProcessPoolExecutor(len(parts), mp_context=ctx) as pool:
                    futures = [pool.submit(_fork_part, a, b) for a, b in parts]
                    for fut in futures:
                        fut.result()
                out[:] = shared
            finally:
                _FORK_JOB = None
                del shared
                shared_buf.close()
        else:
            out[:] = self._encode_range(columns, keys, validate, batch_size, 0, n)
        return BitMatrix(out, self.l)

    def _encode_range(
        self,
        columns: list[np.ndarray | None],
        keys: list[tuple[bytes, bytes]],
        validate: bool,
        batch_size: int,
        lo: int,
        hi: int,
    ) -> np.ndarray:
        out = np.zeros((hi - lo, (self.l + 63) // 64), dtype=np.uint64)
        step = max(1, batch_size)
        for start in range(lo, hi, step):
            stop = min(hi, start + step)
            batch = [None if c is None else c[start:stop] for c in columns]
            out[start - lo:stop - lo] = self._encode_batch(
                batch, stop - start, keys, validate, start
            )
        return out

    # -- internals ---------------------------------------------------------------------

    def _encode_batch(
        self,
        columns: list[np.ndarray | None],
        n: int,
        keys: list[tuple[bytes, bytes]],
        validate: bool,
        row_offset: int,
    ) -> np.ndarray:
        import pandas as pd

        hash_l = self.hash_length
        hwords = (hash_l + 63) // 64
        clk = np.zeros((n, hwords), dtype=np.uint64)
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for feature, column, key_pair in zip(self.features, columns, keys):
            if feature.ignored or column is None or n == 0:
                continue
            codes, uniques = _factorize(column, pd)
            if (codes < 0).any():
                row = int(np.flatnonzero(codes < 0)[0]) + row_offset
                raise ClkhashEntryError(
                    f"row {row}, feature {feature.identifier!r}: value is missing (None/NaN); "
                    "clkhash takes strings only (read CSVs with dtype=str, keep_default_na=False "
                    "or declare a missingValue sentinel and fill with it)",
                    row,
                    feature.identifier,
                )
            filters = _value_filters(
                feature, uniques, key_pair, hash_l, validate,
                lambda u, c=codes: int(np.flatnonzero(c == u)[0]) + row_offset,
            )
            parts.append((codes, filters))
        # gather the distinct values' filters into records, in cache-sized row blocks
        step = max(1, (1 << 20) // (8 * hwords))
        for start in range(0, n, step):
            acc = clk[start:start + step]
            for codes, filters in parts:
                acc |= filters[codes[start:start + step]]
        return _fold(clk, hash_l, self.xor_folds, self.l)


def _factorize(column: np.ndarray, pd: Any) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values of an object column; ``-1`` codes for None/NaN.

    pandas' hash table compares strings as C strings, so values that differ only after a
    NUL character collide; the result is verified and recomputed with a dict if so.
    """
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    if (codes < 0).any() or np.array_equal(uniques[codes], column):
        return codes, uniques
    seen: dict[Any, int] = {}
    codes = np.fromiter((seen.setdefault(v, len(seen)) for v in column), dtype=np.int64,
                        count=len(column))
    out = np.empty(len(seen), dtype=object)
    out[:] = list(seen)
    return codes, out


_FORK_JOB: tuple | None = None
_MIN_PART = 10_000


def _split(n: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous row ranges for ``workers`` processes (one range if not worth forking)."""
    import multiprocessing

    workers = max(1, int(workers))
    if workers == 1 or n < 2 * _MIN_PART or "fork" not in multiprocessing.get_all_start_methods():
        return [(0, n)]
    workers = min(workers, n // _MIN_PART)
    bounds = [n * i // workers for i in range(workers + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _fork_part(lo: int, hi: int) -> None:
    """Child-process body: encode rows ``lo:hi`` of the job inherited through fork into the
    shared output mapping."""
    assert _FORK_JOB is not None
    schema, columns, keys, validate, batch_size, shared = _FORK_JOB
    shared[lo:hi] = schema._encode_range(columns, keys, validate, batch_size, lo, hi)


def clkhash_keys(schema: ClkhashSchema, secret: bytes | str) -> list[tuple[bytes, bytes]]:
    """The two HKDF-derived keys of every feature (ignored features included), as clkhash."""
    if isinstance(secret, str):
        secret_bytes = secret.encode("utf-8")
    elif isinstance(secret, (bytes, bytearray, memoryview)):
        secret_bytes = bytes(secret)
    else:
        raise TypeError("the secret must be bytes or str, as clkhash takes it")
    count = 2 * len(schema.features)
    okm = _hkdf(secret_bytes, count * schema.kdf_key_size, schema.kdf_hash,
                schema.kdf_salt, schema.kdf_info)
    ks = schema.kdf_key_size
    chunks = [okm[i * ks:(i + 1) * ks] for i in range(count)]
    return [(chunks[2 * i], chunks[2 * i + 1]) for i in range(len(schema.features))]


def _hkdf(ikm: bytes, length: int, hash_name: str, salt: bytes | None, info: bytes | None) -> bytes:
    """HKDF extract-and-expand (RFC 5869)."""
    digestmod = _KDF_HASHES[hash_name]
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


def _columns(schema: ClkhashSchema, rows: Any) -> tuple[list[np.ndarray | None], int]:
    """Split the input into one object array per feature (``None`` for ignored features)."""
    feats = schema.features
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(rows, pd.DataFrame):
        names = [f.identifier for f in feats if not f.ignored]
        if all(name in rows.columns for name in names):
            cols: list[np.ndarray | None] = [
                None if f.ignored else rows[f.identifier].to_numpy(dtype=object) for f in feats
            ]
        elif rows.shape[1] == len(feats):
            cols = [
                None if f.ignored else rows.iloc[:, i].to_numpy(dtype=object)
                for i, f in enumerate(feats)
            ]
        else:
            missing = [name for name in names if name not in rows.columns]
            raise ClkhashEntryError(
                f"the DataFrame has neither a column for every feature (missing {missing}) "
                f"nor exactly {len(feats)} columns in schema order"
            )
        return cols, len(rows)
    rows = list(rows)
    width = len(feats)
    n = len(rows)
    table: np.ndarray | None = None
    try:
        table = np.array(rows, dtype=object) if n else np.empty((0, width), dtype=object)
    except ValueError:  # ragged rows: found and reported below
        table = None
    if table is None or table.shape != (n, width):
        for i, row in enumerate(rows):
            if isinstance(row, (str, bytes)) or len(row) != width:
                length = "a string" if isinstance(row, (str, bytes)) else f"{len(row)} entries"
                raise ClkhashEntryError(f"row {i} has {length}; expected {width} entries", i)
        table = np.empty((n, width), dtype=object)
        for i, row in enumerate(rows):  # entries that numpy took for nested sequences
            for j in range(width):
                table[i, j] = row[j]
    return [None if f.ignored else np.ascontiguousarray(table[:, j])
            for j, f in enumerate(feats)], n


def _value_filters(
    feature: ClkhashFeature,
    uniques: np.ndarray,
    key_pair: tuple[bytes, bytes],
    hash_l: int,
    validate: bool,
    first_row: Any,
) -> np.ndarray:
    """Packed filters (one row per distinct value) of one feature over ``hash_l`` bits."""
    nu = len(uniques)
    formatted = _formatted(feature, uniques, validate, first_row)
    import pandas as pd

    hwords = (hash_l + 63) // 64
    filters = np.zeros((nu, hwords), dtype=np.uint64)
    grams = _ngram_occurrences(feature, formatted, pd) if feature.comparison == "ngram" else None
    if grams is not None:
        counts, occ_token, distinct = grams
    else:
        all_tokens: list[str]
        if feature.comparison == "exact":  # one token per non-empty value
            counts = np.fromiter((1 if v else 0 for v in formatted), dtype=np.int64, count=nu)
            all_tokens = [v for v in formatted if v]
        else:
            tokenize = feature.tokenize
            all_tokens = []
            counts = np.zeros(nu, dtype=np.int64)
            for u, value in enumerate(formatted):
                tokens = tokenize(value)
                if tokens:
                    counts[u] = len(tokens)
                    all_tokens.extend(tokens)
        token_array = np.empty(len(all_tokens), dtype=object)
        token_array[:] = all_tokens
        occ_token, distinct = _factorize(token_array, pd)
    if len(occ_token) == 0:
        return filters
    occ_value = np.repeat(np.arange(nu, dtype=np.int64), counts)
    if feature.bits_per_token is not None:
        occ_k = np.full(len(occ_value), feature.bits_per_token, dtype=np.int64)
    else:
        b = int(feature.bits_per_feature or 0)
        starts = np.cumsum(counts) - counts
        t = counts[occ_value]
        rank = np.arange(len(occ_value), dtype=np.int64) - starts[occ_value]
        occ_k = b // t + (rank < b % t)
    keep = occ_k > 0
    if not keep.all():
        occ_value, occ_token, occ_k = occ_value[keep], occ_token[keep], occ_k[keep]
    if len(occ_k) == 0:
        return filters
    token_kmax = np.zeros(len(distinct), dtype=np.int64)
    np.maximum.at(token_kmax, occ_token, occ_k)
    try:
        token_bytes = [t.encode(feature.encoding) for t in distinct]
    except UnicodeEncodeError:
        raise ClkhashEntryError(
            f"feature {feature.identifier!r}: a value cannot be encoded in {feature.encoding} "
            "(validation was off)",
            None,
            feature.identifier,
        ) from None
    positions = _token_positions(feature, token_bytes, token_kmax, key_pair, hash_l)
    _scatter(filters, occ_value, occ_token, occ_k, positions, hwords)
    return filters


def _ngram_occurrences(
    feature: ClkhashFeature, formatted: list[str], pd: Any
) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Vectorised n-gram tokenisation of distinct values (``n <= 3``), or ``None``.

    Returns the number of tokens of each value, the token code of every occurrence (values
    in order, grams in order within a value, exactly as :meth:`ClkhashFeature.tokenize`
    lists them) and the distinct token strings. Each gram is packed as ``n`` 21-bit code
    points into one integer; positional grams pair that with their position.
    """
    n = feature.n
    nu = len(formatted)
    if not 1 <= n <= 3 or nu == 0:
        return None
    lengths = np.fromiter((len(v) for v in formatted), dtype=np.int64, count=nu)
    maxlen = int(lengths.max())
    if maxlen == 0:
        return np.zeros(nu, dtype=np.int64), np.zeros(0, dtype=np.int64), []
    if maxlen > 4096:
        return None
    chars = np.array(formatted, dtype=f"<U{maxlen}").view(np.uint32).reshape(nu, maxlen)
    width = maxlen + 2 * (n - 1)
    padded = np.zeros((nu, width), dtype=np.int64)
    padded[:, : n - 1] = 32
    padded[:, n - 1:n - 1 + maxlen] = chars
    if n > 1:
        rows = np.repeat(np.arange(nu), n - 1)
        cols = (lengths + n - 1)[:, None] + np.arange(n - 1)[None, :]
        padded[rows, cols.ravel()] = 32
    ngrams = width - n + 1
    key = np.zeros((nu, ngrams), dtype=np.int64)
    for j in range(n):
        key = (key << 21) | padded[:, j:j + ngrams]
    counts = np.where(lengths > 0, lengths + n - 1, 0)
    valid = np.arange(ngrams)[None, :] < counts[:, None]
    occ_key = key[valid]
    if feature.positional:
        gram_code, _ = pd.factorize(occ_key)
        position = np.broadcast_to(np.arange(ngrams), (nu, ngrams))[valid]
        occ_key = gram_code.astype(np.int64) * ngrams + position
    occ_token, uniq = pd.factorize(occ_key)
    occ_token = occ_token.astype(np.int64, copy=False)
    first = np.full(len(uniq), -1, dtype=np.int64)
    first[occ_token[::-1]] = np.arange(len(occ_token) - 1, -1, -1)
    flat_rows = np.broadcast_to(np.arange(nu)[:, None], (nu, ngrams))[valid]
    flat_pos = np.broadcast_to(np.arange(ngrams), (nu, ngrams))[valid]
    distinct = []
    for r, i in zip(flat_rows[first].tolist(), flat_pos[first].tolist()):
        gram = "".join(map(chr, padded[r, i:i + n].tolist()))
        distinct.append(f"{i + 1} {gram}" if feature.positional else gram)
    return counts.astype(np.int64), occ_token, distinct


def _formatted(
    feature: ClkhashFeature, uniques: np.ndarray, validate: bool, first_row: Any
) -> list[str]:
    """Validated, formatted string of every distinct value (errors name row and feature)."""

    def fail(u: int, problem: str) -> ClkhashEntryError:
        row = first_row(u)
        return ClkhashEntryError(
            f"row {row}, feature {feature.identifier!r}: {problem}", row, feature.identifier
        )

    for u, value in enumerate(uniques):
        if not isinstance(value, str):
            raise fail(u, f"expected a string, got {type(value).__name__}")
    fast: list[str | None] | None = None
    if feature.format_type == "date":
        fast = _fast_dates(uniques, _date_layout(feature.date_format or ""))
    sentinel = feature.missing_sentinel
    unconstrained = (
        feature.format_type == "string" and feature.pattern is None and feature.case == "mixed"
        and feature.min_length is None and feature.max_length is None
    )
    if feature.format_type in ("string", "enum") and (not validate or unconstrained):
        if validate and not _all_encodable(uniques, feature.encoding, sentinel):
            pass  # the loop below finds and reports the value
        else:
            values = list(uniques)
            if sentinel is not None:
                replacement = feature.format_value(sentinel)
                values = [replacement if v == sentinel else v for v in values]
            return values
    out: list[str] = []
    for u, value in enumerate(uniques):
        if sentinel is not None and value == sentinel:
            out.append(feature.format_value(value))
            continue
        if validate:
            problem = feature.check_value(value)
            if problem is not None:
                raise fail(u, f"value {problem}")
        if fast is not None and fast[u] is not None:
            out.append(fast[u])  # type: ignore[arg-type]
            continue
        try:
            out.append(feature.format_value(value))
        except ValueError as exc:
            raise fail(u, f"value {exc}") from None
    return out


def _all_encodable(values: np.ndarray, encoding: str, sentinel: str | None) -> bool:
    """True when every value (the sentinel aside) can be encoded in ``encoding``."""
    try:
        "".join(v for v in values if v != sentinel).encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _fast_dates(
    uniques: np.ndarray, layout: tuple[tuple[str, int], ...] | None
) -> list[str | None] | None:
    """Vectorised :func:`_fast_date` over distinct values (``None`` where strptime is needed)."""
    if layout is None or len(uniques) == 0:
        return None
    width = sum(w for _, w in layout)
    try:
        fixed = np.asarray(uniques, dtype=f"<U{width + 1}")
    except (ValueError, TypeError):  # pragma: no cover - non-str values are rejected before
        return None
    codes = fixed.view(np.uint32).reshape(len(fixed), width + 1)
    ok = codes[:, width] == 0  # not longer than the layout
    ok &= codes[:, width - 1] != 0  # not shorter
    digits = (codes[:, :width] >= 48) & (codes[:, :width] <= 57)
    values = codes[:, :width].astype(np.int64) - 48
    parts: dict[str, np.ndarray] = {}
    pos = 0
    for code, w in layout:
        if code in "Ymd":
            ok &= digits[:, pos:pos + w].all(axis=1)
            num = np.zeros(len(fixed), dtype=np.int64)
            for c in range(pos, pos + w):
                num = num * 10 + values[:, c]
            parts[code] = num
        else:
            ok &= codes[:, pos] == ord(code)
        pos += w
    y, m, d = parts["Y"], parts["m"], parts["d"]
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    mdays = np.asarray(_DAYS)[np.clip(m, 0, 12)] - ((m == 2) & ~leap)
    ok &= (y >= 1000) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= mdays)
    out: list[str | None] = [None] * len(fixed)
    ys, ms, ds = y.tolist(), m.tolist(), d.tolist()
    for i in np.flatnonzero(ok).tolist():
        out[i] = f"{ys[i]:04d}{ms[i]:02d}{ds[i]:02d}"
    return out


def _token_positions(
    feature: ClkhashFeature,
    tokens: list[bytes],
    token_kmax: np.ndarray,
    key_pair: tuple[bytes, bytes],
    hash_l: int,
) -> np.ndarray:
    """``(T, kmax)`` int64 bit positions of each distinct token (the first ``k`` are used).

    Token ``t`` needs only its first ``token_kmax[t]`` positions; later columns may be 0.
    """
    kmax = int(token_kmax.max())
    if feature.hash_type == "blakeHash":
        key = key_pair[0]
        macs = (kmax + 31) // 32
        shorts = np.zeros((len(tokens), 32 * macs), dtype=np.int64)
        need = (token_kmax + 31) // 32
        for j in range(macs):
            base = hashlib.blake2b(key=key, salt=str(j).encode())
            rows = np.flatnonzero(need > j)
            digests = bytearray()
            for t in rows.tolist():
                h = base.copy()
                h.update(tokens[t])
                digests += h.digest()
            shorts[rows, 32 * j:32 * (j + 1)] = np.frombuffer(bytes(digests), dtype="<u2").reshape(
                len(rows), 32
            )
        return shorts[:, :kmax] % hash_l
    key_sha1, key_md5 = key_pair
    if hash_l <= 2**32:
        from nislink.encode._hmac_np import hmac_mod

        h1 = hmac_mod(tokens, key_sha1, "sha1", hash_l)
        h2 = hmac_mod(tokens, key_md5, "md5", hash_l)
    else:  # pragma: no cover - filters of more than 2**32 bits
        h1 = np.array([int.from_bytes(hmac.digest(key_sha1, t, "sha1"), "big") % hash_l
                       for t in tokens], dtype=object)
        h2 = np.array([int.from_bytes(hmac.digest(key_md5, t, "md5"), "big") % hash_l
                       for t in tokens], dtype=object)
    if feature.prevent_singularity:
        for t in np.flatnonzero(h2 == 0).tolist():
            j, m = 0, 0
            while m == 0:
                m = int.from_bytes(hmac.digest(key_md5, tokens[t] + chr(j).encode(), "md5"),
                                   "big") % hash_l
                j += 1
            h2[t] = m
    steps = np.arange(kmax, dtype=np.int64)
    return (h1[:, None] + steps[None, :] * h2[:, None]) % hash_l


def _scatter(
    filters: np.ndarray,
    occ_value: np.ndarray,
    occ_token: np.ndarray,
    occ_k: np.ndarray,
    positions: np.ndarray,
    hwords: int,
) -> None:
    """Set, for every token occurrence, its first ``k`` positions in its value's row."""
    kmax = positions.shape[1]
    width = hwords * 64
    nvals = filters.shape[0]
    # values per block so that the dense boolean block stays near 16 MiB
    block = max(1, (1 << 24) // width)
    order = np.argsort(occ_value, kind="stable")
    occ_value, occ_token, occ_k = occ_value[order], occ_token[order], occ_k[order]
    bounds = np.searchsorted(occ_value, np.arange(0, nvals + block, block))
    steps = np.arange(kmax)
    for b in range(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        if lo == hi:
            continue
        v0 = b * block
        vals = occ_value[lo:hi] - v0
        nb = min(block, nvals - v0)
        use = steps[None, :] < occ_k[lo:hi, None]
        pos = positions[occ_token[lo:hi]]
        flat = (vals[:, None] * width + pos)[use]
        dense = np.zeros(nb * width, dtype=bool)
        dense[flat] = True
        packed = np.packbits(dense.reshape(nb, width), axis=1, bitorder="little")
        filters[v0:v0 + nb] = packed.view("<u8").astype(np.uint64, copy=False)


def _fold(clk: np.ndarray, hash_l: int, folds: int, l: int) -> np.ndarray:  # noqa: E741
    """XOR-fold ``folds`` times: first half XOR second half (clkhash's bit indices)."""
    length = hash_l
    for _ in range(folds):
        half = length // 2
        if half % 64 == 0:
            w = half // 64
            clk = clk[:, :w] ^ clk[:, w:2 * w]
        else:
            dense = BitMatrix(clk, length).to_bool()
            folded = dense[:, :half] ^ dense[:, half:length]
            clk = BitMatrix.from_bool(folded).bits
        length = half
    words = (l + 63) // 64
    if clk.shape[1] != words:  # pragma: no cover - lengths follow from the schema
        raise AssertionError("folded length mismatch")
    return np.ascontiguousarray(clk)


# --------------------------------------------------------------------------------------
# serialisation
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------

_FORMAT_KEYS = {
    "string": {"type", "encoding", "case", "minLength", "maxLength", "description", "pattern"},
    "integer": {"type", "minimum", "maximum", "description"},
    "date": {"type", "format", "description"},
    "enum": {"type", "values", "description"},
}


def _err(where: str, message: str) -> ClkhashSchemaError:
    return ClkhashSchemaError(f"clkhash schema, {where}: {message}")


def _check_keys(obj: Any, allowed: set[str], where: str, required: Iterable[str] = ()) -> dict:
    if not isinstance(obj, dict):
        raise _err(where, f"expected an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _err(where, f"unsupported key(s) {unknown}; allowed: {sorted(allowed)}")
    for key in required:
        if key not in obj:
            raise _err(where, f"missing required key {key!r}")
    return obj


def _int(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(where, f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise _err(where, f"must be at least {minimum}, got {value}")
    return value


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise _err(where, "expected a base64 string")
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        raise _err(where, "not valid base64") from None


def parse_clkhash_schema(obj: dict | str | Path) -> ClkhashSchema:
    """Parse a clkhash linkage schema (version 3, or version 2) into a :class:`ClkhashSchema`.

    ``obj`` is the parsed JSON, a JSON string, or a path to a JSON file. Everything in the
    v3 (and v2) schema specification that affects the bits is supported: ``ngram``
    (``n``, ``positional``), ``exact`` and ``numeric`` comparisons; ``bitsPerToken`` /
    ``bitsPerFeature`` strategies (v2: ``k`` / ``numBits``); ``doubleHash`` (with
    ``prevent_singularity``) and ``blakeHash``; HKDF with ``hash``, ``salt``, ``info``,
    ``keySize``; ``l`` and ``xor_folds``; ignored features; ``missingValue``; string
    ``encoding``, ``pattern``, ``case``, ``minLength``/``maxLength``; integer, date and
    enum formats. Unknown keys and unsupported constructs raise
    :class:`ClkhashSchemaError`. ``xorFolds`` (the spelling in clkhash's own master
    schema) is ignored by clkhash 0.18.3, which reads only ``xor_folds``; it is ignored
    here too, with a warning, so that the bits stay identical.
    """
    if isinstance(obj, Path) or (isinstance(obj, str) and not obj.lstrip().startswith("{")):
        try:
            text = Path(obj).read_text(encoding="utf-8")
        except OSError as exc:
            raise ClkhashSchemaError(
                f"cannot read clkhash schema file {str(obj)!r}: {exc}"
            ) from None
        obj = text
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except ValueError as exc:
            raise ClkhashSchemaError(f"clkhash schema is not valid JSON: {exc}") from None
    top = _check_keys(obj, {"version", "clkConfig", "features", "$schema", "id", "$id"},
                      "top level", ("version", "clkConfig", "features"))
    version = top["version"]
    if isinstance(version, bool) or version not in (2, 3):
        if version == 1:
            raise _err("version", "version 1 schemas are not supported; convert to version 3")
        raise _err("version", f"unsupported schema version {version!r} (supported: 2, 3)")
    version = int(version)

    cfg = _check_keys(top["clkConfig"], {"l", "kdf", "xor_folds", "xorFolds"}, "clkConfig",
                      ("l", "kdf"))
    l = _int(cfg["l"], "clkConfig.l", 1)  # noqa: E741
    folds = _int(cfg.get("xor_folds", 0), "clkConfig.xor_folds", 0)
    if "xorFolds" in cfg and "xor_folds" not in cfg and cfg["xorFolds"] not in (0,):
        warnings.warn(
            "clkConfig.xorFolds is ignored by clkhash 0.18.3 (it reads 'xor_folds'); "
            "ignoring it too so that the CLKs stay identical. Rename it to 'xor_folds' to fold.",
            UserWarning,
            stacklevel=2,
        )
    kdf = _check_keys(cfg["kdf"], {"type", "hash", "salt", "info", "keySize"}, "clkConfig.kdf",
                      ("type",))
    if kdf["type"] != "HKDF":
        raise _err("clkConfig.kdf.type", f"unsupported key derivation {kdf['type']!r} (only HKDF)")
    kdf_hash = kdf.get("hash", "SHA256")
    if kdf_hash not in _KDF_HASHES:
        raise _err("clkConfig.kdf.hash", f"unsupported hash {kdf_hash!r} (SHA256 or SHA512)")
    salt = _b64(kdf["salt"], "clkConfig.kdf.salt") if "salt" in kdf else None
    info = _b64(kdf["info"], "clkConfig.kdf.info") if "info" in kdf else None
    key_size = _int(kdf.get("keySize", _DEFAULT_KEY_SIZE), "clkConfig.kdf.keySize", 1)

    if not isinstance(top["features"], list):
        raise _err("features", "expected a list")
    features = tuple(
        _parse_feature(f, i, version) for i, f in enumerate(top["features"])
    )
    if not features:
        raise _err("features", "no features")
    hash_l = l * 2**folds
    for f in features:
        if f.ignored:
            continue
        if f.hash_type == "blakeHash":
            if hash_l & (hash_l - 1):
                raise _err(
                    f"feature {f.identifier!r}",
                    f"blakeHash needs l * 2**xor_folds to be a power of two, got {hash_l}",
                )
            if key_size > 64:
                raise _err("clkConfig.kdf.keySize", "blakeHash keys are at most 64 bytes")
    schema = ClkhashSchema(features, l, folds, kdf_hash, salt, info, key_size, version)
    max_len = 255 * _KDF_HASHES[kdf_hash]().digest_size
    if 2 * len(features) * key_size > max_len:
        raise _err("clkConfig.kdf", f"HKDF-{kdf_hash} cannot derive {2 * len(features)} keys of "
                   f"{key_size} bytes (at most {max_len} bytes in all)")
    return schema


def _parse_feature(f: Any, index: int, version: int) -> ClkhashFeature:
    where = f"features[{index}]"
    if not isinstance(f, dict):
        raise _err(where, "expected an object")
    ident = f.get("identifier")
    if not isinstance(ident, str):
        raise _err(where, "missing string 'identifier'")
    where = f"feature {index} ({ident!r})"
    if f.get("ignored", False) is True:
        if version == 3 and set(f) - {"identifier", "ignored", "description"}:
            # featureConfig with ignored=true is still ignored by clkhash
            _check_keys(f, {"identifier", "ignored", "description", "format", "hashing"}, where)
        return ClkhashFeature(identifier=ident, ignored=True)
    _check_keys(f, {"identifier", "description", "ignored", "format", "hashing"}, where,
                ("format", "hashing"))
    if "ignored" in f and not isinstance(f["ignored"], bool):
        raise _err(where + ".ignored", "expected a boolean")
    fmt = f["format"]
    if not isinstance(fmt, dict) or fmt.get("type") not in _FORMAT_KEYS:
        raise _err(where + ".format", f"type must be one of {sorted(_FORMAT_KEYS)}")
    ftype = fmt["type"]
    _check_keys(fmt, _FORMAT_KEYS[ftype], where + ".format", ("type",))
    kw: dict[str, Any] = {"identifier": ident, "format_type": ftype}
    if ftype == "string":
        enc = fmt.get("encoding", "utf-8")
        if enc not in _ENCODINGS:
            raise _err(where + ".format.encoding", f"must be one of {list(_ENCODINGS)}")
        kw["encoding"] = enc
        if "pattern" in fmt:
            if set(fmt) & {"case", "minLength", "maxLength"}:
                raise _err(where + ".format",
                           "pattern cannot be combined with case/minLength/maxLength")
            if not isinstance(fmt["pattern"], str):
                raise _err(where + ".format.pattern", "expected a string")
            try:
                re.compile(fmt["pattern"])
            except re.error as exc:
                raise _err(where + ".format.pattern",
                           f"invalid regular expression: {exc}") from None
            kw["pattern"] = fmt["pattern"]
        else:
            case = fmt.get("case", "mixed")
            if case not in ("upper", "lower", "mixed"):
                raise _err(where + ".format.case", "must be upper, lower or mixed")
            kw["case"] = case
            if "minLength" in fmt:
                kw["min_length"] = _int(fmt["minLength"], where + ".format.minLength", 0)
            if "maxLength" in fmt:
                kw["max_length"] = _int(fmt["maxLength"], where + ".format.maxLength", 1)
    elif ftype == "integer":
        if "minimum" in fmt:
            kw["minimum"] = _int(fmt["minimum"], where + ".format.minimum")
        if "maximum" in fmt:
            kw["maximum"] = _int(fmt["maximum"], where + ".format.maximum")
    elif ftype == "date":
        if not isinstance(fmt.get("format"), str):
            raise _err(where + ".format.format", "a strptime format string is required")
        kw["date_format"] = fmt["format"]
    else:
        values = fmt.get("values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _err(where + ".format.values", "expected a list of strings")
        kw["enum_values"] = frozenset(values)

    hashing = f["hashing"]
    hw = where + ".hashing"
    if version == 3:
        _check_keys(hashing, {"comparison", "strategy", "hash", "missingValue"}, hw,
                    ("comparison", "strategy"))
        comp = hashing["comparison"]
        if not isinstance(comp, dict):
            raise _err(hw + ".comparison", "expected an object")
        ctype = comp.get("type")
        if ctype == "ngram":
            _check_keys(comp, {"type", "n", "positional"}, hw + ".comparison", ("n",))
            kw["comparison"] = "ngram"
            kw["n"] = _int(comp["n"], hw + ".comparison.n", 1)
            pos = comp.get("positional", False)
            if not isinstance(pos, bool):
                raise _err(hw + ".comparison.positional", "expected a boolean")
            kw["positional"] = pos
        elif ctype == "exact":
            _check_keys(comp, {"type"}, hw + ".comparison")
            kw["comparison"] = "exact"
        elif ctype == "numeric":
            _check_keys(comp, {"type", "thresholdDistance", "resolution", "fractional_precision"},
                        hw + ".comparison", ("thresholdDistance", "resolution"))
            td = comp["thresholdDistance"]
            if isinstance(td, bool) or not isinstance(td, (int, float)) or not td > 0:
                raise _err(hw + ".comparison.thresholdDistance", "must be a positive number")
            kw["comparison"] = "numeric"
            kw["threshold_distance"] = td
            kw["resolution"] = _int(comp["resolution"], hw + ".comparison.resolution", 1)
            kw["fractional_precision"] = _int(comp.get("fractional_precision", 0),
                                              hw + ".comparison.fractional_precision", 0)
            if int(round(td * pow(10, kw["fractional_precision"]))) == 0:
                raise _err(hw + ".comparison",
                           "not enough fractional precision for thresholdDistance")
        else:
            raise _err(hw + ".comparison.type", f"unsupported comparison {ctype!r} "
                       "(ngram, exact or numeric)")
        strat = _check_keys(hashing["strategy"], {"bitsPerToken", "bitsPerFeature"},
                            hw + ".strategy")
        if len(strat) != 1:
            raise _err(hw + ".strategy", "exactly one of bitsPerToken or bitsPerFeature")
        if "bitsPerToken" in strat:
            kw["bits_per_token"] = _int(strat["bitsPerToken"], hw + ".strategy.bitsPerToken", 1)
        else:
            kw["bits_per_feature"] = _int(strat["bitsPerFeature"],
                                          hw + ".strategy.bitsPerFeature", 1)
    else:
        _check_keys(hashing, {"ngram", "positional", "strategy", "hash", "missingValue"}, hw,
                    ("ngram", "strategy"))
        kw["comparison"] = "ngram"
        kw["n"] = _int(hashing["ngram"], hw + ".ngram", 1)
        pos = hashing.get("positional", False)
        if not isinstance(pos, bool):
            raise _err(hw + ".positional", "expected a boolean")
        kw["positional"] = pos
        strat = _check_keys(hashing["strategy"], {"k", "numBits"}, hw + ".strategy")
        if len(strat) != 1:
            raise _err(hw + ".strategy", "exactly one of k or numBits")
        (name, value), = strat.items()
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
            raise _err(hw + ".strategy." + name, "must be a number >= 1")
        kw["bits_per_token" if name == "k" else "bits_per_feature"] = int(value)

    h = hashing.get("hash", {"type": "blakeHash"})
    if not isinstance(h, dict) or h.get("type") not in ("blakeHash", "doubleHash"):
        raise _err(hw + ".hash", "type must be blakeHash or doubleHash")
    if h["type"] == "blakeHash":
        _check_keys(h, {"type"}, hw + ".hash")
    else:
        _check_keys(h, {"type", "prevent_singularity"}, hw + ".hash")
        ps = h.get("prevent_singularity", False)
        if not isinstance(ps, bool):
            raise _err(hw + ".hash.prevent_singularity", "expected a boolean")
        kw["prevent_singularity"] = ps
    kw["hash_type"] = h["type"]
    if "missingValue" in hashing:
        mv = _check_keys(hashing["missingValue"], {"sentinel", "replaceWith"}, hw + ".missingValue",
                         ("sentinel",))
        if not isinstance(mv["sentinel"], str) or not isinstance(mv.get("replaceWith", ""), str):
            raise _err(hw + ".missingValue", "sentinel and replaceWith must be strings")
        kw["missing_sentinel"] = mv["sentinel"]
        kw["missing_replace_with"] = mv.get("replaceWith")
    return ClkhashFeature(**kw)

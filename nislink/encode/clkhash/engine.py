"""The clkhash encoding, vectorised: rows in, CLKs (a :class:`~nislink.frame.BitMatrix`) out.

Each distinct value of a feature and each distinct token is processed once per batch;
positions come from :mod:`nislink.encode.clkhash.hmac_np` (``doubleHash``) or BLAKE2b
(``blakeHash``), and are scattered into packed filters with NumPy. The steps are described
in :mod:`nislink.encode.clkhash`; :meth:`ClkhashSchema.encode` calls :func:`encode`.
"""

from __future__ import annotations

import hashlib
import hmac
import mmap
import os
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numba import njit

from nislink.clean.vectorise import factorize
from nislink.encode.clkhash.dates import date_layout, fast_dates
from nislink.encode.clkhash.hmac_np import hmac_mod, pack_messages
from nislink.encode.clkhash.kdf import clkhash_keys
from nislink.encode.columns import as_pandas
from nislink.encode.parallel import fork_available, row_ranges, run_forked
from nislink.errors import ClkhashEntryError
from nislink.frame import BitMatrix

if TYPE_CHECKING:  # pragma: no cover
    from nislink.encode.clkhash.schema import ClkhashFeature, ClkhashSchema

__all__ = ["encode", "encode_range"]


def encode(
    schema: ClkhashSchema,
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
    keys = clkhash_keys(schema, secret)
    columns, n = _columns(schema, rows)
    words = (schema.l + 63) // 64
    parts = _split(n, workers)
    if len(parts) == 1 or not words:  # one part: its CLKs are the result, not copied
        return BitMatrix(encode_range(schema, columns, keys, validate, batch_size, 0, n),
                         schema.l)
    out = np.zeros((n, words), dtype=np.uint64)
    # the processes write straight into an anonymous shared mapping (no pickling)
    shared_buf = mmap.mmap(-1, n * words * 8)
    shared = np.frombuffer(shared_buf, dtype=np.uint64).reshape(n, words)

    def part(lo: int, hi: int) -> None:
        shared[lo:hi] = encode_range(schema, columns, keys, validate, batch_size, lo, hi)

    try:
        run_forked(part, parts)
        out[:] = shared
    finally:
        del shared
        shared_buf.close()
    return BitMatrix(out, schema.l)


def encode_range(
    schema: ClkhashSchema,
    columns: list[np.ndarray | None],
    keys: list[tuple[bytes, bytes]],
    validate: bool,
    batch_size: int,
    lo: int,
    hi: int,
) -> np.ndarray:
    """CLKs of rows ``lo:hi`` of ``columns`` (one object array per feature, as split from
    the input), encoded ``batch_size`` rows at a time: the unit of work of one process."""
    step = max(1, batch_size)
    if hi - lo <= step and hi > lo:  # one batch: its CLKs, not copied
        batch = [None if c is None else c[lo:hi] for c in columns]
        return _encode_batch(schema, batch, hi - lo, keys, validate, lo)
    out = np.zeros((hi - lo, (schema.l + 63) // 64), dtype=np.uint64)
    for start in range(lo, hi, step):
        stop = min(hi, start + step)
        batch = [None if c is None else c[start:stop] for c in columns]
        out[start - lo:stop - lo] = _encode_batch(
            schema, batch, stop - start, keys, validate, start
        )
    return out


def _encode_batch(
    schema: ClkhashSchema,
    columns: list[np.ndarray | None],
    n: int,
    keys: list[tuple[bytes, bytes]],
    validate: bool,
    row_offset: int,
) -> np.ndarray:
    hash_l = schema.hash_length
    hwords = (hash_l + 63) // 64
    clk = np.zeros((n, hwords), dtype=np.uint64)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for feature, column, key_pair in zip(schema.features, columns, keys):
        if feature.ignored or column is None or n == 0:
            continue
        codes, uniques = factorize(column)
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
    # gather the distinct values' filters into records
    for codes, filters in parts:
        _gather_or(clk, codes, filters)
    return _fold(clk, hash_l, schema.xor_folds, schema.l)


@njit(cache=True, nogil=True, boundscheck=False)
def _gather_or(clk, codes, filters):  # type: ignore[no-untyped-def]
    """``clk[i] |= filters[codes[i]]`` for every row ``i`` (``clk |= filters[codes]``
    without the gathered copy)."""
    for i in range(codes.shape[0]):
        c = codes[i]
        for w in range(clk.shape[1]):
            clk[i, w] |= filters[c, w]


_MIN_PART = 10_000


def _split(n: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous row ranges for ``workers`` processes (one range if not worth forking:
    fewer than two parts of ``_MIN_PART`` rows, or no ``fork``)."""
    workers = max(1, int(workers))
    if workers == 1 or n < 2 * _MIN_PART or not fork_available():
        return [(0, n)]
    return row_ranges(n, min(workers, n // _MIN_PART))


def _columns(schema: ClkhashSchema, rows: Any) -> tuple[list[np.ndarray | None], int]:
    """Split the input into one object array per feature (``None`` for ignored features)."""
    feats = schema.features
    if isinstance(rows, (str, os.PathLike, pa.Table, pa.RecordBatch)) or hasattr(
            rows, "__arrow_c_stream__"):  # Arrow, Polars, Parquet/CSV paths: as pandas
        rows = as_pandas(rows, "encode()", empty_as_missing=False)
    if isinstance(rows, pd.DataFrame):
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
    formatted, unchanged = _formatted(feature, uniques, validate, first_row)
    hwords = (hash_l + 63) // 64
    filters = np.zeros((nu, hwords), dtype=np.uint64)
    grams = _ngram_occurrences(feature, formatted) if feature.comparison == "ngram" else None
    if grams is not None:
        counts, occ_token, distinct = grams
    else:
        all_tokens: list[str]
        if feature.comparison == "exact":  # one token per non-empty value
            counts = np.fromiter(map(bool, formatted), dtype=bool, count=nu).astype(np.int64)
            all_tokens = list(filter(None, formatted))
            if unchanged:  # the distinct values themselves: already distinct tokens
                distinct_tokens = np.empty(len(all_tokens), dtype=object)
                distinct_tokens[:] = all_tokens
                occ_token = np.arange(len(all_tokens), dtype=np.int64)
        else:
            tokenize = feature.tokenize
            all_tokens = []
            counts = np.zeros(nu, dtype=np.int64)
            for u, value in enumerate(formatted):
                tokens = tokenize(value)
                if tokens:
                    counts[u] = len(tokens)
                    all_tokens.extend(tokens)
        if feature.comparison == "exact" and unchanged:
            distinct = distinct_tokens
        else:
            token_array = np.empty(len(all_tokens), dtype=object)
            token_array[:] = all_tokens
            occ_token, distinct = factorize(token_array)
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
        if feature.encoding in ("utf-8", "utf8"):
            token_bytes = list(map(str.encode, distinct))
        else:
            token_bytes = [t.encode(feature.encoding) for t in distinct]
    except UnicodeEncodeError:
        raise ClkhashEntryError(
            f"feature {feature.identifier!r}: a value cannot be encoded in {feature.encoding} "
            "(validation was off)",
            None,
            feature.identifier,
        ) from None
    if feature.hash_type == "doubleHash" and hash_l <= 2**32:
        # positions h1 + j * h2 (mod l) computed as the bits are set, never as a table
        h1, h2 = _double_hashes(feature, token_bytes, key_pair, hash_l)
        _scatter_double(filters, np.ascontiguousarray(occ_value, dtype=np.int64),
                        np.ascontiguousarray(occ_token, dtype=np.int64),
                        np.ascontiguousarray(occ_k, dtype=np.int64), h1, h2, np.int64(hash_l))
        return filters
    positions = _token_positions(feature, token_bytes, token_kmax, key_pair, hash_l)
    _scatter_compiled(filters, occ_value, occ_token, occ_k, positions)
    return filters


def _ngram_occurrences(
    feature: ClkhashFeature, formatted: list[str]
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
    lengths = np.fromiter(map(len, formatted), dtype=np.int64, count=nu)
    maxlen = int(lengths.max())
    if maxlen == 0:
        return np.zeros(nu, dtype=np.int64), np.zeros(0, dtype=np.int64), []
    if maxlen > 4096:
        return None
    chars = np.array(formatted, dtype=f"<U{maxlen}").view(np.uint32).reshape(nu, maxlen)
    counts = np.where(lengths > 0, lengths + n - 1, 0)
    ends = np.cumsum(counts)
    gram_key = np.empty(int(ends[-1]), dtype=np.int64)
    position = np.empty(len(gram_key), dtype=np.int64)
    _gram_keys(chars, lengths, ends - counts, n, gram_key, position)
    occ_key = gram_key
    if feature.positional:
        if n <= 2:  # 42 bits of code points: the position fits above them
            occ_key = gram_key | (position << 42)
        else:
            gram_code, _ = pd.factorize(gram_key)
            occ_key = gram_code.astype(np.int64) * (maxlen + n) + position
    occ_token, uniq = pd.factorize(occ_key)
    occ_token = occ_token.astype(np.int64, copy=False)
    first = np.full(len(uniq), -1, dtype=np.int64)
    first[occ_token[::-1]] = np.arange(len(occ_token) - 1, -1, -1)
    first_key, first_pos = gram_key[first], position[first]
    shifts = 21 * np.arange(n - 1, -1, -1, dtype=np.int64)
    grams = (first_key[:, None] >> shifts[None, :]) & 0x1FFFFF
    distinct = _gram_strings(grams, first_pos + 1 if feature.positional else None)
    return counts.astype(np.int64), occ_token, distinct


@njit(cache=True, nogil=True, boundscheck=False)
def _gram_keys(chars, lengths, starts, n, keys, positions):  # type: ignore[no-untyped-def]
    """Every n-gram of every value as one integer: value ``r`` (its ``lengths[r]`` code
    points in row ``r`` of ``chars``), padded with ``n - 1`` spaces each side, has
    ``lengths[r] + n - 1`` grams (none when empty), written from ``starts[r]``; gram ``j``
    packs its ``n`` code points 21 bits each, first the highest, and its position is ``j``.
    """
    for r in range(chars.shape[0]):
        size = lengths[r]
        if size == 0:
            continue
        o = starts[r]
        for j in range(size + n - 1):
            k = np.int64(0)
            for m in range(n):
                p = j + m - (n - 1)
                c = np.int64(32) if p < 0 or p >= size else np.int64(chars[r, p])
                k = (k << 21) | c
            keys[o + j] = k
            positions[o + j] = j


def _gram_strings(grams: np.ndarray, positions: np.ndarray | None) -> list[str]:
    """The token string of each gram: row ``t`` of ``grams`` holds its ``n`` code points;
    positional tokens are ``f"{positions[t]} {gram}"`` (as :meth:`ClkhashFeature.tokenize`).

    The strings are read through a NumPy ``<U{n}`` view, which drops trailing NULs: grams
    holding a NUL anywhere are rebuilt one by one instead.
    """
    t, n = grams.shape
    if t == 0:
        return []
    text = np.ascontiguousarray(grams, dtype=np.uint32).view(f"<U{n}").reshape(t)
    if positions is not None:
        text = np.strings.add(np.strings.add(positions.astype(np.str_), " "), text)
    out: list[str] = text.tolist()
    for r in np.flatnonzero((grams == 0).any(axis=1)).tolist():
        gram = "".join(map(chr, grams[r].tolist()))
        out[r] = gram if positions is None else f"{int(positions[r])} {gram}"
    return out


def _formatted(
    feature: ClkhashFeature, uniques: np.ndarray, validate: bool, first_row: Any
) -> tuple[list[str], bool]:
    """Validated, formatted string of every distinct value (errors name row and feature),
    and whether those strings are the distinct values themselves, unchanged (then they
    are distinct too)."""

    def fail(u: int, problem: str) -> ClkhashEntryError:
        row = first_row(u)
        return ClkhashEntryError(
            f"row {row}, feature {feature.identifier!r}: {problem}", row, feature.identifier
        )

    items = uniques.tolist()
    if not set(map(type, items)) <= {str}:
        for u, value in enumerate(items):
            if not isinstance(value, str):
                raise fail(u, f"expected a string, got {type(value).__name__}")
    fast: np.ndarray | None = None
    if feature.format_type == "date":
        fast = fast_dates(uniques, date_layout(feature.date_format or ""))
    sentinel = feature.missing_sentinel
    if fast is not None:
        # the fast path's values are ASCII dates, which pass validation; the sentinel and
        # the values it left (None) take the loop below
        if sentinel is not None:
            fast[uniques == sentinel] = None
        for u in np.flatnonzero(np.equal(fast, None)).tolist():
            fast[u] = _formatted_one(feature, uniques[u], validate, lambda p, u=u: fail(u, p))
        return fast.tolist(), False
    unconstrained = (
        feature.format_type == "string" and feature.pattern is None and feature.case == "mixed"
        and feature.min_length is None and feature.max_length is None
    )
    rest = items if sentinel is None else [v for v in items if v != sentinel]
    plain = False  # every value (the sentinel aside) is valid and formats to itself
    if feature.format_type in ("string", "enum") and (not validate or unconstrained):
        plain = not validate or _all_encodable(items, feature.encoding, sentinel)
    elif feature.format_type == "string" and feature.pattern is not None:
        # validation is the encoding and the pattern alone (case and lengths are not checked)
        plain = _all_encodable(items, feature.encoding, sentinel) and all(
            map(re.compile(feature.pattern).fullmatch, rest))
    elif feature.format_type == "integer":
        plain = _canonical_integers(rest, feature.minimum if validate else None,
                                    feature.maximum if validate else None)
    if plain:  # otherwise the loop below formats, and finds and reports a bad value
        if sentinel is not None and sentinel in items:
            replacement = feature.format_value(sentinel)
            if replacement != sentinel:
                items[items.index(sentinel)] = replacement  # distinct: once at most
                return items, False
        return items, True
    return [_formatted_one(feature, value, validate, lambda p, u=u: fail(u, p))
            for u, value in enumerate(items)], False


def _formatted_one(feature: ClkhashFeature, value: str, validate: bool,
                   fail: Any) -> str:
    """One value validated and formatted (``fail(problem)`` makes the error to raise)."""
    if feature.missing_sentinel is not None and value == feature.missing_sentinel:
        return feature.format_value(value)
    if validate:
        problem = feature.check_value(value)
        if problem is not None:
            raise fail(f"value {problem}")
    try:
        return feature.format_value(value)
    except ValueError as exc:
        raise fail(f"value {exc}") from None


def _canonical_integers(values: list[str], minimum: int | None, maximum: int | None) -> bool:
    """True when every value is a base-10 integer written as ``str(int(value))`` writes it
    (ASCII digits, no sign, no leading zero; at most 18 digits) within ``minimum`` and
    ``maximum``: then each value is valid and formats to itself."""
    if not values:
        return True
    joined = "".join(values)
    if not (joined.isascii() and joined.isdigit()):
        return False
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    if lengths.min() < 1 or lengths.max() > 18:
        return False
    digits = np.array(values, dtype=f"<U{int(lengths.max())}")
    if ((digits.view(np.uint32).reshape(len(values), -1)[:, 0] == 48) & (lengths > 1)).any():
        return False
    if minimum is None and maximum is None:
        return True
    numbers = digits.astype(np.int64)
    return ((minimum is None or int(numbers.min()) >= minimum)
            and (maximum is None or int(numbers.max()) <= maximum))


def _all_encodable(values: list[str], encoding: str, sentinel: str | None) -> bool:
    """True when every value (the sentinel aside) can be encoded in ``encoding``."""
    joined = "".join(values)
    if joined.isascii() and encoding.lower().replace("_", "-") in _ASCII_SUPERSETS:
        return True
    try:
        joined.encode(encoding)
    except UnicodeEncodeError:
        if sentinel is None or sentinel not in values:
            return False
        try:
            "".join(v for v in values if v != sentinel).encode(encoding)
        except UnicodeEncodeError:
            return False
    return True


# encodings that encode every ASCII text (clkhash's schemas name these in practice)
_ASCII_SUPERSETS = frozenset({"utf-8", "utf8", "ascii", "latin-1", "latin1", "iso-8859-1"})


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
    h1, h2 = _double_hashes(feature, tokens, key_pair, hash_l)
    steps = np.arange(kmax, dtype=np.int64)
    return (h1[:, None] + steps[None, :] * h2[:, None]) % hash_l


def _double_hashes(feature: ClkhashFeature, tokens: list[bytes], key_pair: tuple[bytes, bytes],
                   hash_l: int) -> tuple[np.ndarray, np.ndarray]:
    """doubleHash's ``h1 = HMAC-SHA1 mod l`` and ``h2 = HMAC-MD5 mod l`` of each token
    (``h2`` moved off zero as clkhash does when the feature prevents singularity); token
    ``t``'s ``j``-th position is ``(h1[t] + j * h2[t]) mod l``."""
    key_sha1, key_md5 = key_pair
    if hash_l <= 2**32:
        packed = pack_messages(tokens)  # lengths and joined bytes, shared by both MACs
        h1 = hmac_mod(tokens, key_sha1, "sha1", hash_l, packed)
        h2 = hmac_mod(tokens, key_md5, "md5", hash_l, packed)
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
    return h1, h2


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


@njit(cache=True, nogil=True, boundscheck=False)
def _scatter_rows(filters, occ_value, occ_token, occ_k, positions):  # type: ignore[no-untyped-def]
    for i in range(occ_value.shape[0]):
        r = occ_value[i]
        t = occ_token[i]
        for j in range(occ_k[i]):
            pos = positions[t, j]
            filters[r, pos >> 6] |= np.uint64(1) << np.uint64(pos & 63)


@njit(cache=True, nogil=True, boundscheck=False)
def _scatter_double(filters, occ_value, occ_token, occ_k, h1, h2, length):  # type: ignore[no-untyped-def]
    """:func:`_scatter_rows` with doubleHash positions: occurrence ``i`` of token ``t``
    sets ``(h1[t] + j * h2[t]) mod length`` for ``j < occ_k[i]`` (``h1``, ``h2`` below
    ``length <= 2**32``: no overflow in ``int64``). The positions are stepped by ``h2``
    and brought back below ``length`` by one subtraction (both are below ``length``), not
    divided."""
    for i in range(occ_value.shape[0]):
        r = occ_value[i]
        t = occ_token[i]
        pos = h1[t]
        b = h2[t]
        for _ in range(occ_k[i]):
            filters[r, pos >> 6] |= np.uint64(1) << np.uint64(pos & 63)
            pos += b
            if pos >= length:
                pos -= length


def _scatter_compiled(filters: np.ndarray, occ_value: np.ndarray, occ_token: np.ndarray,
                      occ_k: np.ndarray, positions: np.ndarray) -> None:
    """:func:`_scatter` (the NumPy reference, kept for the tests) in compiled code: bits are
    set in place, occurrence by occurrence."""
    _scatter_rows(filters, np.ascontiguousarray(occ_value, dtype=np.int64),
                  np.ascontiguousarray(occ_token, dtype=np.int64),
                  np.ascontiguousarray(occ_k, dtype=np.int64),
                  np.ascontiguousarray(positions, dtype=np.int64))


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

"""The encoded-file format: one Parquet file per party, with metadata and a checksum.

Layout (``n`` rows, in this column order):

==========================  =============================  ==========================
column                      Arrow type                     content
==========================  =============================  ==========================
``id``                      ``string``                     record id (reference number)
``bf:<field>``              ``fixed_size_binary(8*words)`` field-level filter: the row's
                                                           ``uint64`` words, little-endian
``pc:<field>``              ``int32``                      popcount of the filter
``present:<field>``         ``bool``                       the field had a value
``clk`` / ``pc:clk`` /      as above                       record-level filter (CLK)
``present:clk``
``tok:<name>``              ``uint64``                     keyed token (0 = missing)
==========================  =============================  ==========================

The Parquet file's key-value metadata holds one key, ``nislink``, whose value is UTF-8
JSON with: ``format`` (``"nislink-encoded"``), ``format_version`` (1), ``scheme_version``,
``schema_fingerprint``, ``key_fingerprint``, ``party``, ``created``, ``destroy_by``,
``rows``, ``schema`` (the schema's JSON object), ``fields`` (``[name, bits]`` pairs in
column order), ``clk_nbits``,
``tokens`` (names, in order) and ``checksum``.

``checksum`` is ``"blake3:" + hex(BLAKE3(C))`` where ``C`` is, for each data column in
order, ``u32le(len(name)) || name || BLAKE3(column bytes)`` (32 bytes); the column bytes
are, row by row, ``u32le(len) || utf8`` for ``id``, the raw fixed-size bytes for filters,
``i32le`` for popcounts, one byte 0/1 for ``present``, ``u64le`` for tokens. It is computed
incrementally, so it does not depend on how the rows were split into chunks, and it is
verified by :func:`load`. It is an integrity check, not a signature.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import blake3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from nislink._files import atomic_path
from nislink.errors import EncodedFileError, IncompatibleEncodingError, RetentionWarning
from nislink.frame import BitMatrix, EncodedFrame, from_base64, popcount_rows, to_base64

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "EncodedFileError",
    "IncompatibleEncodingError",
    "RetentionWarning",
    "EncodedWriter",
    "save",
    "load",
    "read_meta",
    "iter_chunks",
    "read_tokens",
    "read_ids",
    "read_rows",
    "check_compatible",
    "read_clks",
    "write_clks",
]

FORMAT = "nislink-encoded"
FORMAT_VERSION = 1
_META_KEY = b"nislink"


def _layout(frame: EncodedFrame) -> dict[str, Any]:
    return {
        "fields": [[name, bm.nbits] for name, bm in frame.fields.items()],
        "clk_nbits": frame.clk.nbits if frame.clk is not None else None,
        "tokens": list(frame.tokens),
    }


def _arrow_schema(layout: dict[str, Any]) -> pa.Schema:
    cols: list[pa.Field] = [pa.field("id", pa.string(), nullable=False)]

    def bm(name: str, nbits: int) -> None:
        width = 8 * ((nbits + 63) // 64)
        bf = "clk" if name == "clk" else f"bf:{name}"
        cols.append(pa.field(bf, pa.binary(width), nullable=False))
        cols.append(pa.field(f"pc:{name}", pa.int32(), nullable=False))
        cols.append(pa.field(f"present:{name}", pa.bool_(), nullable=False))

    for name, nbits in layout["fields"]:
        bm(str(name), int(nbits))
    if layout["clk_nbits"] is not None:
        bm("clk", layout["clk_nbits"])
    for name in layout["tokens"]:
        cols.append(pa.field(f"tok:{name}", pa.uint64(), nullable=False))
    return pa.schema(cols)


def _columns(frame: EncodedFrame) -> list[tuple[str, np.ndarray | list[str]]]:
    """(column name, data) in file order; data as NumPy arrays (ids as a list of str)."""
    out: list[tuple[str, Any]] = [("id", [str(v) for v in frame.ids.tolist()])]

    def bm(name: str, m: BitMatrix) -> None:
        bf = "clk" if name == "clk" else f"bf:{name}"
        out.append((bf, np.ascontiguousarray(m.bits.astype("<u8", copy=False))))
        out.append((f"pc:{name}", m.popcount.astype("<i4", copy=False)))
        out.append((f"present:{name}", m.present.astype(np.uint8)))

    for name, m in frame.fields.items():
        bm(name, m)
    if frame.clk is not None:
        bm("clk", frame.clk)
    for name, t in frame.tokens.items():
        out.append((f"tok:{name}", t.astype("<u8", copy=False)))
    return out


class _Checksum:
    """Incremental checksum over the data columns (see the module docstring)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.hashers = {n: blake3.blake3() for n in names}

    def update(self, columns: list[tuple[str, Any]]) -> None:
        for name, data in columns:
            h = self.hashers[name]
            if name == "id":
                parts = []
                for s in data:
                    b = s.encode("utf-8")
                    parts.append(len(b).to_bytes(4, "little"))
                    parts.append(b)
                h.update(b"".join(parts))
            else:
                arr = np.ascontiguousarray(data)
                if arr.size:  # no copy (a memoryview cannot be cast with zeros in its shape)
                    h.update(memoryview(arr).cast("B"))

    def hexdigest(self) -> str:
        outer = blake3.blake3()
        for n in self.names:
            b = n.encode("utf-8")
            outer.update(len(b).to_bytes(4, "little") + b + self.hashers[n].digest())
        return "blake3:" + outer.hexdigest()


def _table(columns: list[tuple[str, Any]], schema: pa.Schema) -> pa.Table:
    arrays = []
    for (name, data), fld in zip(columns, schema):
        if name == "id":
            arrays.append(pa.array(data, type=pa.string()))
        elif pa.types.is_fixed_size_binary(fld.type):
            width = fld.type.byte_width
            n = data.shape[0]
            buf = pa.py_buffer(np.ascontiguousarray(data).tobytes())
            arrays.append(pa.Array.from_buffers(fld.type, n, [None, buf]))
            assert data.shape[1] * 8 == width
        elif pa.types.is_boolean(fld.type):
            arrays.append(pa.array(data.astype(bool), type=pa.bool_()))
        else:
            arrays.append(pa.array(data, type=fld.type))
    return pa.Table.from_arrays(arrays, schema=schema)


class EncodedWriter:
    """Write an encoded file chunk by chunk (the metadata is written on :meth:`close`)."""

    def __init__(self, path: str | os.PathLike[str], first: EncodedFrame) -> None:
        self.path = os.fspath(path)
        self.layout = _layout(first)
        self.schema = _arrow_schema(self.layout)
        self.rows = 0
        self.checksum = _Checksum(self.schema.names)
        self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self._meta = dict(first.meta)

    def write(self, frame: EncodedFrame) -> None:
        """Append the rows of ``frame`` (same layout as the first)."""
        if _layout(frame) != self.layout:
            raise ValueError("chunk layout differs from the first chunk's")
        cols = _columns(frame)
        self.checksum.update(cols)
        if len(frame):
            self._writer.write_table(_table(cols, self.schema))
        self.rows += len(frame)

    def close(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the metadata and close; returns the metadata written."""
        m = dict(self._meta)
        m.update(meta or {})
        m.update(self.layout)
        m["rows"] = self.rows
        m["format"] = FORMAT
        m["format_version"] = FORMAT_VERSION
        m["checksum"] = self.checksum.hexdigest()
        self._writer.add_key_value_metadata({_META_KEY: json.dumps(m, sort_keys=True)})
        self._writer.close()
        return m


def save(frame: EncodedFrame, path: str | os.PathLike[str]) -> None:
    """Write ``frame`` to ``path`` in the documented format (no rejects, no raw values)."""
    w = EncodedWriter(path, frame)
    try:
        w.write(frame)
    except BaseException:
        w._writer.close()
        raise
    w.close()


def _fail(path: str, why: str) -> EncodedFileError:
    return EncodedFileError(f"{path}: cannot load encoded file: {why}")


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of an encoded file, without reading (or verifying) its data."""
    p = os.fspath(path)
    try:
        pf = pq.ParquetFile(p)
        kv = pf.metadata.metadata or {}
    except FileNotFoundError:
        raise _fail(p, "no such file") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _fail(p, f"not a readable Parquet file, truncated or corrupt ({type(exc).__name__})"
                    ) from None
    raw = kv.get(_META_KEY)
    if raw is None:
        raise _fail(p, "no nislink metadata (not an encoded file)")
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _fail(p, "the nislink metadata is not valid JSON (corrupt)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(p, "not a nislink encoded file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise _fail(p, f"format version {meta.get('format_version')!r} is not supported")
    return meta


def _meta_layout(p: str) -> tuple[dict[str, Any], dict[str, Any], pa.Schema]:
    """An encoded file's metadata, its layout and the Arrow schema the layout implies."""
    meta = read_meta(p)
    layout = {k: meta.get(k) for k in ("fields", "clk_nbits", "tokens")}
    try:
        return meta, layout, _arrow_schema(layout)
    except (TypeError, AttributeError, KeyError, ValueError):
        raise _fail(p, "the metadata's layout is malformed") from None


def _frame_from_table(table: pa.Table | pa.RecordBatch, layout: dict[str, Any],
                      meta: dict[str, Any]) -> EncodedFrame:
    """The :class:`EncodedFrame` of a table (or batch) of an encoded file's rows."""
    n = table.num_rows

    def bm(name: str, nbits: int) -> BitMatrix:
        bf = "clk" if name == "clk" else f"bf:{name}"
        words = (nbits + 63) // 64
        col = table.column(bf)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        buf = col.buffers()[1]
        raw = np.frombuffer(buf, dtype="<u8", count=n * words,
                            offset=col.offset * 8 * words).reshape(n, words)
        return BitMatrix(raw.astype(np.uint64), nbits,
                         popcount=table.column(f"pc:{name}").to_numpy().astype(np.int32),
                         present=table.column(f"present:{name}").to_numpy(
                             zero_copy_only=False).astype(bool))

    ids = np.array(table.column("id").to_pylist(), dtype=object)
    fields = {name: bm(name, nbits) for name, nbits in layout["fields"]}
    clk = bm("clk", layout["clk_nbits"]) if layout["clk_nbits"] is not None else None
    tokens = {name: table.column(f"tok:{name}").to_numpy().astype(np.uint64)
              for name in layout["tokens"]}
    frame_meta = {k: v for k, v in meta.items()
                  if k not in ("format", "format_version", "checksum", "fields",
                               "clk_nbits", "tokens")}
    return EncodedFrame(ids=ids, fields=fields, clk=clk, tokens=tokens, meta=frame_meta)


def load(path: str | os.PathLike[str], *, verify: bool = True) -> EncodedFrame:
    """Read an encoded file, verifying its row count and checksum.

    Raises :class:`EncodedFileError` for a missing, truncated, corrupt or foreign file.
    Warns with :class:`RetentionWarning` when the file is past its destroy-by date.
    """
    p = os.fspath(path)
    meta, layout, expected = _meta_layout(p)
    try:
        table = pq.read_table(p)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _fail(p, f"the data cannot be read, truncated or corrupt ({type(exc).__name__})"
                    ) from None
    if table.schema.remove_metadata() != expected:
        raise _fail(p, "the columns do not match the layout in the metadata")
    n = table.num_rows
    if n != meta.get("rows"):
        raise _fail(p, f"{n} rows, but the metadata says {meta.get('rows')}")

    try:
        frame = _frame_from_table(table, layout, meta)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise _fail(p, f"the data is inconsistent ({exc})") from None
    fields, clk = frame.fields, frame.clk
    del table
    pa.default_memory_pool().release_unused()  # the Arrow copy is no longer needed
    if verify:
        ck = _Checksum(expected.names)
        ck.update(_columns(frame))
        if ck.hexdigest() != meta.get("checksum"):
            raise _fail(p, "checksum mismatch: the file is corrupt or was modified")
        for name, m in list(fields.items()) + ([("clk", clk)] if clk is not None else []):
            if not np.array_equal(m.popcount, popcount_rows(m.bits)):
                raise _fail(p, f"popcounts of {name!r} do not match its bits")
    _check_retention(p, meta.get("destroy_by"))
    return frame


def _open_checked(p: str) -> tuple[dict[str, Any], dict[str, Any], pa.Schema, pq.ParquetFile]:
    """Metadata, layout, expected Arrow schema and the open file, with the layout and row
    count checked against the metadata (the data itself is checked while it is read)."""
    meta, layout, expected = _meta_layout(p)
    try:
        # no pre-buffering: it holds a row group's whole compressed data (and keeps it
        # allocated), about 1.2 GB over a 1M-row file of 300 columns, against 0.5 GB
        pf = pq.ParquetFile(p, pre_buffer=False, buffer_size=1 << 20)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _fail(p, f"not a readable Parquet file ({type(exc).__name__})") from None
    if pf.schema_arrow.remove_metadata() != expected:
        raise _fail(p, "the columns do not match the layout in the metadata")
    if pf.metadata.num_rows != meta.get("rows"):
        raise _fail(p, f"{pf.metadata.num_rows} rows, but the metadata says {meta.get('rows')}")
    return meta, layout, expected, pf


#: Rows per Arrow batch when a file is streamed: chunks are assembled from batches of this
#: size, converted to NumPy at once, so Arrow holds one small batch at a time.
_BATCH_ROWS = 32_768


def _concat(frames: list[EncodedFrame]) -> EncodedFrame:
    """Frames of one file, one after the other (one copy of each array)."""
    if len(frames) == 1:
        return frames[0]
    f0 = frames[0]

    def bm(get: Any) -> BitMatrix:
        ms = [get(f) for f in frames]
        return BitMatrix(np.concatenate([m.bits for m in ms]), ms[0].nbits,
                         popcount=np.concatenate([m.popcount for m in ms]),
                         present=np.concatenate([m.present for m in ms]))

    return EncodedFrame(
        ids=np.concatenate([f.ids for f in frames]),
        fields={k: bm(lambda f, k=k: f.fields[k]) for k in f0.fields},
        clk=bm(lambda f: f.clk) if f0.clk is not None else None,
        tokens={k: np.concatenate([f.tokens[k] for f in frames]) for k in f0.tokens},
        meta=f0.meta)


def _arrow_batches(p: str, pf: pq.ParquetFile) -> Iterator[pa.RecordBatch]:
    """The file as Arrow batches of ``_BATCH_ROWS`` rows (Arrow's pool released as it goes)."""
    pool = pa.default_memory_pool()
    try:
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
            yield batch
            del batch
            pool.release_unused()
    except (pa.ArrowException, OSError) as exc:
        raise _fail(p, f"the data cannot be read, truncated or corrupt ({type(exc).__name__})"
                    ) from None


def _batches(p: str, pf: pq.ParquetFile, layout: dict[str, Any], meta: dict[str, Any]
             ) -> Iterator[EncodedFrame]:
    """The file as small frames of ``_BATCH_ROWS`` rows."""
    for batch in _arrow_batches(p, pf):
        yield _frame_from_table(batch, layout, meta)


def iter_chunks(path: str | os.PathLike[str], rows: int = 500_000, *,
                verify: bool = True) -> Iterator[EncodedFrame]:
    """Read an encoded file as consecutive frames of ``rows`` rows (the last may be
    shorter), in bounded memory.

    The frames, concatenated, are the file :func:`load` reads. With ``verify`` the checksum
    and popcounts are checked as the rows stream past; a mismatch raises
    :class:`EncodedFileError` when the last chunk has been read, so a consumer must read
    to the end before it trusts what it computed (:func:`nislink.streaming.link_stream`
    does). Warns like :func:`load` when the file is past its destroy-by date.
    """
    p = os.fspath(path)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be a whole number of at least 1, got {rows!r}")
    meta, layout, expected, pf = _open_checked(p)
    _check_retention(p, meta.get("destroy_by"))
    ck = _Checksum(expected.names) if verify else None
    pending: list[EncodedFrame] = []
    held = 0

    def emit(frames: list[EncodedFrame]) -> EncodedFrame:
        frame = _concat(frames)
        if ck is not None:
            ck.update(_columns(frame))
            for name, m in _filters_of(frame):
                if not np.array_equal(m.popcount, popcount_rows(m.bits)):
                    raise _fail(p, f"popcounts of {name!r} do not match its bits")
        return frame

    for small in _batches(p, pf, layout, meta):
        while len(small):
            take = min(rows - held, len(small))
            if take == len(small):
                pending.append(small)
                small = small.take(np.arange(0))
            else:
                pending.append(small.take(np.arange(take)))
                small = small.take(np.arange(take, len(small)))
            held += take
            if held == rows:
                yield emit(pending)
                pending, held = [], 0
    if pending:
        yield emit(pending)
    if ck is not None and ck.hexdigest() != meta.get("checksum"):
        raise _fail(p, "checksum mismatch: the file is corrupt or was modified")


def _filters_of(frame: EncodedFrame) -> list[tuple[str, BitMatrix]]:
    return list(frame.fields.items()) + ([("clk", frame.clk)] if frame.clk is not None else [])


def read_tokens(path: str | os.PathLike[str], names: Sequence[str]) -> dict[str, np.ndarray]:
    """The token columns ``names`` of an encoded file (``uint64``, one per row), read
    without the filters: what blocking and term frequencies need from a file too large
    to load. Not verified against the checksum (:func:`iter_chunks` is)."""
    p = os.fspath(path)
    meta, layout, _, pf = _open_checked(p)
    missing = [n for n in names if n not in layout["tokens"]]
    if missing:
        raise KeyError(f"{p}: no token {missing[0]!r}; tokens are {sorted(layout['tokens'])}")
    if not names:
        return {}
    try:
        table = pf.read(columns=[f"tok:{n}" for n in names])
    except (pa.ArrowException, OSError) as exc:
        raise _fail(p, f"the data cannot be read, truncated or corrupt ({type(exc).__name__})"
                    ) from None
    return {n: table.column(f"tok:{n}").to_numpy().astype(np.uint64) for n in names}


def read_ids(path: str | os.PathLike[str]) -> np.ndarray:
    """The record ids of an encoded file, in row order, read without the rest."""
    p = os.fspath(path)
    _, _, _, pf = _open_checked(p)
    try:
        return np.array(pf.read(columns=["id"]).column("id").to_pylist(), dtype=object)
    except (pa.ArrowException, OSError) as exc:
        raise _fail(p, f"the data cannot be read, truncated or corrupt ({type(exc).__name__})"
                    ) from None


def read_rows(path: str | os.PathLike[str], positions: np.ndarray) -> EncodedFrame:
    """The rows of an encoded file at ``positions`` (increasing row numbers), read in small
    batches so that only the chosen rows are held: a sample of a file too large to load."""
    pos = np.asarray(positions, dtype=np.int64)
    if len(pos) > 1 and np.any(np.diff(pos) <= 0):
        raise ValueError("positions must be strictly increasing")
    p = os.fspath(path)
    meta, layout, _, pf = _open_checked(p)
    n = int(meta["rows"])
    if len(pos) and (pos[0] < 0 or pos[-1] >= n):
        raise IndexError(f"{p}: row positions out of range (the file has {n} rows)")
    parts: list[EncodedFrame] = []
    start = 0
    for batch in _arrow_batches(p, pf):  # take the rows, then convert only those
        end = start + batch.num_rows
        lo, hi = np.searchsorted(pos, [start, end])
        if hi > lo:
            parts.append(_frame_from_table(batch.take(pa.array(pos[lo:hi] - start)),
                                           layout, meta))
        start = end
        if hi == len(pos):
            break
    if not parts:
        empty = pf.schema_arrow.empty_table()
        return _frame_from_table(empty, layout, meta)
    return _concat(parts)


def _check_retention(path: str, destroy_by: Any) -> None:
    if not destroy_by:
        return
    try:
        when = _dt.date.fromisoformat(str(destroy_by)[:10])
    except ValueError:
        return
    if when < _dt.date.today():
        warnings.warn(f"{path}: past its destroy-by date {destroy_by}; it should have been "
                      "deleted", RetentionWarning, stacklevel=3)


def check_compatible(a: EncodedFrame | dict[str, Any], b: EncodedFrame | dict[str, Any],
                     *more: EncodedFrame | dict[str, Any],
                     names: Sequence[str] | None = None) -> None:
    """Raise :class:`IncompatibleEncodingError` unless the encodings can be linked.

    Every encoding (an :class:`EncodedFrame` or its ``meta`` dict) must share the scheme
    version, the schema fingerprint and the key fingerprint; frames must also have filters
    of the same length in every field they share. The message says what differs, labelling
    each encoding by ``names`` (one per encoding) when given, else by its party, else by its
    position (``#0``, ``#1``, ...). This is the one compatibility check:
    :func:`nislink.link`, :meth:`EncodedFrame.check_compatible` and the study workflow
    call it. (``IncompatibleEncodingError`` is also exported as
    ``nislink.IncompatibleEncodings``.)
    """
    items = (a, b, *more)
    for i, x in enumerate(items):
        if not isinstance(x, (EncodedFrame, dict)):
            raise TypeError(f"check_compatible: argument {i} is a {type(x).__name__}, not an "
                            "EncodedFrame or its metadata dict (pass labels as names=...)")
    if names is not None and len(names) != len(items):
        raise ValueError(f"check_compatible: {len(names)} names for {len(items)} encodings")
    metas = [x.meta if isinstance(x, EncodedFrame) else x for x in items]
    labels = [str(names[i]) if names is not None else (m.get("party") or "#%d" % i)
              for i, m in enumerate(metas)]
    what = {"scheme_version": "scheme version", "schema_fingerprint": "schema fingerprint",
            "key_fingerprint": "key fingerprint"}
    problems = []
    for lab in what:
        vals = [m.get(lab) for m in metas]
        if len(set(map(str, vals))) > 1:
            parties = ", ".join(f"{label}={v}" for label, v in zip(labels, vals))
            problems.append(f"{what[lab]} differs ({parties})")
    frames = [(label, x) for label, x in zip(labels, items) if isinstance(x, EncodedFrame)]
    if not problems and len(frames) > 1:
        (first_label, first), rest = frames[0], frames[1:]
        for label, other in rest:
            for f in first.fields:
                if f in other.fields and first.fields[f].nbits != other.fields[f].nbits:
                    problems.append(
                        f"field {f!r} has {first.fields[f].nbits}-bit filters in {first_label} "
                        f"and {other.fields[f].nbits}-bit filters in {label}")
    if problems:
        hint = ""
        if any("key fingerprint" in p for p in problems):
            hint = "; the parties did not use the same secret"
        if any("schema fingerprint" in p for p in problems):
            hint += "; the parties did not use the same schema"
        raise IncompatibleEncodingError("encodings cannot be linked: " + "; ".join(problems)
                                        + hint)


def iter_frames(paths: Iterable[str | os.PathLike[str]]) -> Iterable[EncodedFrame]:
    """Load several encoded files, checking that they are mutually compatible."""
    first: EncodedFrame | None = None
    for p in paths:
        f = load(p)
        if first is None:
            first = f
        else:
            check_compatible(first, f)
        yield f


# -- clkhash / anonlink CLK files -------------------------------------------------------------
# clkhash (0.18.3) and anonlink exchange CLKs as JSON, ``{"clks": ["<base64>", ...]}``, one
# string per record in row order, each the base64 of the filter's bytes (clkhash's bit
# order: nislink.frame.to_base64). clkhash has no binary CLK file of its own (its
# ``serialization`` module is this base64 form only), so none is read or written here.


def read_clks(path: str | os.PathLike[str], *, ids: Sequence[Any] | None = None,
              nbits: int | None = None) -> EncodedFrame:
    """Read a clkhash/anonlink CLK file (``{"clks": [base64, ...]}``) as an EncodedFrame.

    The frame holds the CLKs only (``clk``; no field filters, no tokens) and can be passed
    to :func:`nislink.link` and :func:`nislink.dedupe`. Its ``ids`` are the given ``ids``
    (one per CLK, in file order) or, by default, the row numbers as strings ``"0"``,
    ``"1"``, ... (clkhash files carry no record ids: row ``i`` is the ``i``-th record of
    the data the CLKs were made from). ``nbits`` is the filter length; by default 8 times
    the byte length of the first CLK (clkhash pads a filter to whole bytes). Raises
    :class:`EncodedFileError` naming the file and the row for a string that is not base64,
    a CLK of another length than the first, or a file that is not CLK JSON.
    """
    p = os.fspath(path)
    try:
        with open(p, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise EncodedFileError(f"{p}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EncodedFileError(f"{p}: not a CLK JSON file ({exc.__class__.__name__})") from None
    clks = doc.get("clks") if isinstance(doc, dict) else None
    if not isinstance(clks, list):
        raise EncodedFileError(f'{p}: not a CLK JSON file (expected {{"clks": [...]}})')
    for i, c in enumerate(clks):
        if not isinstance(c, str):
            raise EncodedFileError(f"{p}: row {i}: a CLK must be a base64 string, "
                                   f"got {type(c).__name__}")
    if nbits is None:
        first = _b64len(clks[0], p) if clks else 0
        nbits = 8 * first
    if ids is not None and len(ids) != len(clks):
        raise EncodedFileError(f"{p}: {len(ids)} ids for {len(clks)} CLKs")
    try:
        bm = from_base64(clks, nbits) if clks else BitMatrix(
            np.zeros((0, 0), dtype=np.uint64), 0)
    except ValueError as exc:
        raise EncodedFileError(f"{p}: {exc}") from None
    row_ids = np.asarray([str(i) for i in range(len(clks))] if ids is None else list(ids),
                         dtype=object)
    meta = {"scheme_version": "clkhash", "schema_fingerprint": None, "key_fingerprint": None,
            "party": None, "created": None, "destroy_by": None, "rows": len(clks)}
    return EncodedFrame(ids=row_ids, fields={}, clk=bm, tokens={}, meta=meta)


def _b64len(s: str, path: str) -> int:
    try:
        return len(base64.b64decode(s.encode("ascii"), validate=True))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise EncodedFileError(f"{path}: row 0: not a valid base64 string") from None


def write_clks(clks: EncodedFrame | BitMatrix, path: str | os.PathLike[str]) -> None:
    """Write CLKs as a clkhash/anonlink CLK JSON file (``{"clks": [base64, ...]}``).

    ``clks`` is an EncodedFrame with a record-level filter (its CLK) or a
    :class:`~nislink.frame.BitMatrix`; rows keep their order and no id is written (the
    format has none: keep the frame's ``ids`` in row order to map results back). The file
    is written atomically.
    """
    if isinstance(clks, EncodedFrame):
        if clks.clk is None:
            raise ValueError("this EncodedFrame has no record-level filter (CLK) to write")
        bm = clks.clk
    else:
        bm = clks
    text = json.dumps({"clks": to_base64(bm)})
    with atomic_path(path) as tmp:
        assert tmp is not None
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

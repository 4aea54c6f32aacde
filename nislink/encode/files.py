"""Encode CSV or Parquet files larger than memory: in chunks, on several processes.

:func:`encode_file` reads the input in chunks of ``chunk_size`` rows (only the columns
the schema needs; CSV columns as text), encodes the chunks on a pool of ``workers`` processes,
and writes the results in input order to one encoded file (see :mod:`nislink.io`). As
every record's encoding depends only on its own values, the output is the same whatever
the chunk size and the number of workers (tested), except for the ``created`` time.

Ids: with ``id_column`` the ids are that column's text; without it they are the 0-based
data-row numbers (``"0"``, ``"1"``, ...). Ids must be unique across the file: a first pass
over the id column finds the repeated ids (from 8-byte hashes, confirmed exactly, so memory
stays small), and every row holding one is rejected with the reason ``duplicated id``,
whatever the chunk size.

Files are never lost: the output and the rejects table are written to temporary files in
their folders and renamed into place only when complete (missing folders are created); an
output path equal to the input or to the other output is refused before anything is
written; on an error or an interrupt (the worker processes are stopped) nothing is left.
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
import warnings
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from nislink._files import atomic_path, same_file
from nislink.encode.columns import DataQualityWarning, FieldSummary, resolve_columns
from nislink.encode.encoder import REJECT_COLUMNS, U_HIST_ROWS, Encoder
from nislink.frame import EncodedFrame
from nislink.io import EncodedWriter
from nislink.schema import Schema
from nislink.secrets import Secret

__all__ = ["encode_file", "EncodeFileResult", "read_chunks"]


@dataclass
class EncodeFileResult:
    """What :func:`encode_file` did."""

    path: str
    rows_read: int
    rows_encoded: int
    rejects: pd.DataFrame = field(repr=False)
    meta: dict[str, Any] = field(repr=False)
    summary: FieldSummary = field(default_factory=FieldSummary, repr=False)
    """Per field: encoded rows whose value is present, missing or rejected."""

    @property
    def rows_rejected(self) -> int:
        """Rows that were not encoded (listed in :attr:`rejects`)."""
        return len(self.rejects)


def _format(path: str, input_format: str | None) -> str:
    if input_format:
        return input_format
    low = path.lower()
    if low.endswith((".parquet", ".pq")):
        return "parquet"
    if low.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        return "csv"
    raise ValueError(f"{path}: cannot tell the format from the name; pass input_format")


def read_chunks(
    path: str | os.PathLike[str], columns: list[str], chunk_size: int,
    input_format: str | None = None, optional: Sequence[str] = (),
) -> Iterator[pd.DataFrame]:
    """Chunks of ``columns`` (as text; blank = missing) from a CSV or Parquet file, each
    indexed by its 0-based data-row numbers. Columns named in ``optional`` may be absent
    from the file: they are then all missing."""
    p = os.fspath(path)
    fmt = _format(p, input_format)
    start = 0
    if fmt == "csv":
        sep = "\t" if p.lower().endswith(".tsv") else ","
        reader = pd.read_csv(p, sep=sep, usecols=lambda c: c in columns, dtype=str,
                             keep_default_na=False, na_values=[""], chunksize=chunk_size)
        for chunk in reader:
            for c in columns:
                if c not in chunk.columns and c in optional:
                    chunk[c] = None
            missing = [c for c in columns if c not in chunk.columns]
            if missing:
                raise ValueError(f"{p}: column {missing[0]!r} is not in the file")
            chunk.index = pd.RangeIndex(start, start + len(chunk))
            start += len(chunk)
            yield chunk[columns]
    elif fmt == "parquet":
        pf = pq.ParquetFile(p)
        names = pf.schema_arrow.names
        absent = [c for c in columns if c not in names and c in optional]
        missing = [c for c in columns if c not in names and c not in optional]
        if missing:
            raise ValueError(f"{p}: column {missing[0]!r} is not in the file")
        present = [c for c in columns if c not in absent]
        for batch in pf.iter_batches(batch_size=chunk_size, columns=present):
            chunk = batch.to_pandas()
            for c in absent:
                chunk[c] = None
            chunk = chunk[columns]
            chunk.index = pd.RangeIndex(start, start + len(chunk))
            start += len(chunk)
            yield chunk
    else:
        raise ValueError(f"unknown input format {fmt!r} (expected 'csv' or 'parquet')")


# -- worker side -------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(schema_json: str, key: bytes, today: str, dayfirst: bool,
                 ignore_sigint: bool = False) -> None:
    if ignore_sigint:  # the parent handles Ctrl-C and stops the workers
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if hasattr(signal, "pthread_sigmask"):  # blocked by the parent while it forked us
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    schema = Schema.from_json(schema_json)
    enc = Encoder(schema, Secret(key), dayfirst=dayfirst,
                  today=_dt.date.fromisoformat(today), workers=1)
    enc.warn = False  # encode_file warns once, for the whole file
    _WORKER["encoder"] = enc


def _encode_chunk(chunk: pd.DataFrame, columns: dict[str, str], id_column: str | None,
                  party: str | None, destroy_by: str | None) -> EncodedFrame:
    enc: Encoder = _WORKER["encoder"]
    ef = enc.encode(chunk, columns=columns, id_column=id_column, party=party,
                    destroy_by=destroy_by, allow_absent=True)
    return ef


def _header(path: str, input_format: str | None) -> list[str]:
    """The column names of a CSV or Parquet file (nothing else is read)."""
    fmt = _format(path, input_format)
    if fmt == "parquet":
        return list(pq.ParquetFile(path).schema_arrow.names)
    sep = "\t" if path.lower().endswith(".tsv") else ","
    try:
        return [str(c) for c in pd.read_csv(path, sep=sep, nrows=0, dtype=str).columns]
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty (no header line)") from None


def _duplicated_ids(path: str, id_column: str, chunk_size: int,
                    input_format: str | None) -> frozenset[str]:
    """Every id (as text, blanks excepted) held by more than one row of the file."""
    hashes = []
    for chunk in read_chunks(path, [id_column], chunk_size, input_format):
        ids = _id_text(chunk[id_column])
        hashes.append(_id_hashes(ids[ids != None]))  # noqa: E711
    if not hashes:
        return frozenset()
    h = np.sort(np.concatenate(hashes))
    rep = np.unique(h[1:][h[1:] == h[:-1]])
    if not len(rep):
        return frozenset()
    counts: dict[str, int] = {}
    for chunk in read_chunks(path, [id_column], chunk_size, input_format):
        ids = _id_text(chunk[id_column])
        ids = ids[ids != None]  # noqa: E711
        for v in ids[np.isin(_id_hashes(ids), rep)].tolist():
            counts[v] = counts.get(v, 0) + 1
    return frozenset(v for v, c in counts.items() if c > 1)


def _id_text(series: pd.Series) -> np.ndarray:
    """Ids as text, ``None`` for a blank or missing id."""
    def blank(v: Any) -> bool:
        if v is None or v is pd.NA or v is pd.NaT:
            return True
        if isinstance(v, (float, np.floating)) and v != v:
            return True
        return isinstance(v, str) and not v.strip()

    return np.array([None if blank(v) else str(v) for v in series.tolist()], dtype=object)


def _drop_duplicated(chunk: pd.DataFrame, id_column: str, dups: frozenset[str]
                     ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(chunk without the rows whose id is repeated in the file, their rejects)."""
    ids = _id_text(chunk[id_column])
    bad = np.array([v is not None and v in dups for v in ids.tolist()], dtype=bool)
    if not bad.any():
        return chunk, None
    rej = pd.DataFrame({"row": chunk.index.to_numpy()[bad].astype(object),
                        "id": ids[bad], "field": id_column, "reason": "duplicated id"})
    return chunk[~bad], rej


def encode_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    schema: Schema,
    secret: Secret,
    id_column: str | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    chunk_size: int = 100_000,
    workers: int = 2,
    progress: bool = True,
    party: str | None = None,
    destroy_by: str | _dt.date | None = None,
    rejects_path: str | os.PathLike[str] | None = None,
    input_format: str | None = None,
    dayfirst: bool = True,
    today: _dt.date | None = None,
    allow_absent: bool | None = None,
    warn: bool = True,
) -> EncodeFileResult:
    """Encode a CSV/Parquet file in chunks on ``workers`` processes into ``out_path``.

    ``columns`` maps schema field -> input column where they differ from the schema's.
    ``allow_absent`` is as for :meth:`nislink.encode.Encoder.encode`: by default the
    core fields' columns (forename, surname, date of birth) must be in the file and the
    others may be absent (encoded as missing); ``True``: any may be absent; ``False``:
    all are required. Checked from the header before anything is encoded.

    ``rejects_path`` (optional) receives the rejects table as CSV (row numbers, ids,
    fields and reasons; no raw values). Returns an :class:`EncodeFileResult`, whose
    ``summary`` counts per field the present, missing and rejected values; with ``warn``
    a :class:`~nislink.encode.columns.DataQualityWarning` names each field with more than
    20% missing or rejected.
    """

    if schema.kind != "nislink":
        raise ValueError("encode_file supports nislink schemas (clkhash schemas: use Encoder)")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError("chunk_size must be a whole number of at least 1")
    src, out = os.fspath(in_path), os.fspath(out_path)
    rej_out = os.fspath(rejects_path) if rejects_path is not None else None
    if same_file(src, out):
        raise ValueError(f"{out}: the output would overwrite the input file")
    if rej_out is not None and (same_file(rej_out, src) or same_file(rej_out, out)):
        raise ValueError(f"{rej_out}: the rejects table would overwrite "
                         f"{'the input' if same_file(rej_out, src) else 'the output'} file")
    if not os.path.isfile(src):
        raise FileNotFoundError(2, "no such file", src)
    colmap, absent = resolve_columns(schema, columns, _header(src, input_format),
                                     id_column=id_column, allow_absent=allow_absent)
    needed = list(dict.fromkeys(([id_column] if id_column else []) + list(colmap.values())))
    today = today or _dt.date.today()
    if isinstance(destroy_by, (_dt.date, _dt.datetime)):
        destroy_by = destroy_by.isoformat()
    dups = (_duplicated_ids(src, id_column, chunk_size, input_format)
            if id_column else frozenset())
    total = _count_rows(src, input_format)
    optional = [colmap[name] for name in absent]
    chunks = read_chunks(src, needed, chunk_size, input_format, optional=optional)
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    created_s = created.isoformat().replace("+00:00", "Z")

    writer: EncodedWriter | None = None
    rejects: list[pd.DataFrame] = []
    id_hashes: list[np.ndarray] = []  # 8 bytes per row, to find ids repeated across chunks
    summary = FieldSummary()
    rows_read = 0
    u_values: dict[str, list[np.ndarray]] = {}

    def stream(chunks: Iterator[pd.DataFrame]) -> Iterator[tuple[int, pd.DataFrame,
                                                                 pd.DataFrame | None]]:
        for chunk in chunks:
            n = len(chunk)
            dropped = None
            if dups:
                chunk, dropped = _drop_duplicated(chunk, id_column or "", dups)
            yield n, chunk, dropped

    with atomic_path(out) as tmp_out, atomic_path(rej_out) as tmp_rej:
        bar = tqdm(total=total, unit="rows", disable=not progress, desc="encoding")

        def consume(chunk_len: int, dropped: pd.DataFrame | None, ef: EncodedFrame) -> None:
            nonlocal writer, rows_read, summary
            id_hashes.append(_id_hashes(ef.ids))
            uv = getattr(ef, "u_values", None)  # the first records' names, for meta["u_hist"]
            if uv and sum(len(v) for v in u_values.get(next(iter(uv)), [])) < U_HIST_ROWS:
                for k, v in uv.items():
                    u_values.setdefault(k, []).append(v)
            ef.meta["created"] = created_s
            if writer is None:
                writer = EncodedWriter(tmp_out, ef)
            writer.write(ef)
            parts = [r for r in (dropped, ef.rejects) if r is not None and len(r)]
            if len(parts) == 2:
                parts = [pd.concat(parts, ignore_index=True).sort_values(
                    "row", kind="stable", key=lambda r: r.astype(np.int64))]
            rejects.extend(parts)
            summary = summary.merge(getattr(ef, "summary", None) or FieldSummary())
            rows_read += chunk_len
            bar.update(chunk_len)

        args = (dict(columns or {}), id_column, party, destroy_by)
        init = (schema.to_json(), secret._material(), today.isoformat(), dayfirst)
        try:
            if workers <= 1:
                _init_worker(*init)
                for n, chunk, dropped in stream(chunks):
                    consume(n, dropped, _encode_chunk(chunk, *args))
            else:
                _encode_in_pool(workers, init, stream(chunks), args, consume)
            if writer is None:  # empty input: write an empty file with the schema's layout
                enc = Encoder(schema, secret, dayfirst=dayfirst, today=today)
                enc.warn = False
                empty = enc.encode(
                    pd.DataFrame({c: pd.Series(dtype=object) for c in needed}),
                    columns=columns, id_column=id_column, party=party, destroy_by=destroy_by)
                empty.meta["created"] = created_s
                summary = summary.merge(enc.summary)
                writer = EncodedWriter(tmp_out, empty)
            extra: dict[str, Any] = {}
            if u_values:  # from the file's first records, whatever the chunks and workers
                first = {k: np.concatenate(v)[:U_HIST_ROWS] for k, v in u_values.items()}
                extra["u_hist"] = Encoder(schema, secret, dayfirst=dayfirst,
                                          today=today).u_histograms(first)
            meta = writer.close(extra)
            writer = None
            dup = _repeated_ids(tmp_out, id_hashes)
            if dup:  # pragma: no cover - the first pass rejects every repeated id
                raise ValueError(f"{src}: id {dup[0]!r} appears more than once; ids must be "
                                 "unique (no output written)")
            rej = (pd.concat(rejects, ignore_index=True) if rejects
                   else pd.DataFrame(columns=REJECT_COLUMNS))
            if tmp_rej is not None:
                rej.to_csv(tmp_rej, index=False)
        finally:
            bar.close()
            _WORKER.clear()
            if writer is not None:  # failed part-way: close the temporary file (removed)
                try:
                    writer._writer.close()
                except Exception:  # noqa: BLE001 - the original error matters
                    pass
    summary = FieldSummary(summary.rows, summary.counts, list(absent), summary.share,
                           summary.sparse)
    if warn:
        for line in summary.warnings():
            warnings.warn(line, DataQualityWarning, stacklevel=2)
    return EncodeFileResult(path=out, rows_read=rows_read, rows_encoded=int(meta["rows"]),
                            rejects=rej, meta=meta, summary=summary)


def _encode_in_pool(workers: int, init: tuple[Any, ...],
                    items: Iterator[tuple[int, pd.DataFrame, pd.DataFrame | None]],
                    args: tuple[Any, ...], consume: Any) -> None:
    """Encode chunks on a process pool, in order; on any error or interrupt the workers
    are stopped at once (they ignore Ctrl-C: the parent stops them)."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                               initargs=(*init, True))
    try:
        pending: deque[tuple[int, pd.DataFrame | None, Future[EncodedFrame]]] = deque()
        for n, chunk, dropped in items:
            pending.append((n, dropped, _submit(pool, chunk, args)))
            while len(pending) >= 2 * workers:
                n0, d0, fut = pending.popleft()
                consume(n0, d0, fut.result())
        while pending:
            n0, d0, fut = pending.popleft()
            consume(n0, d0, fut.result())
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _submit(pool: ProcessPoolExecutor, chunk: pd.DataFrame, args: tuple[Any, ...]
            ) -> Future[EncodedFrame]:
    """``pool.submit`` with Ctrl-C blocked meanwhile, so that a worker forked by it cannot
    be interrupted before it starts ignoring Ctrl-C (a pending Ctrl-C reaches this process
    as soon as the submission is done)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        return pool.submit(_encode_chunk, chunk, *args)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return pool.submit(_encode_chunk, chunk, *args)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and terminate the worker processes (they hold the key)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():  # pragma: no cover
            p.kill()
            p.join(timeout=5)


def _id_hashes(ids: np.ndarray) -> np.ndarray:
    """64-bit hashes of record ids (pandas' fixed-key SipHash; ids are reference numbers)."""
    return pd.util.hash_array(np.asarray(ids, dtype=object), categorize=False)


def _repeated_ids(path: str, hashes: list[np.ndarray]) -> list[str]:
    """Ids that occur more than once in the written file (exact, checked by re-reading the
    ids whose hashes repeat)."""
    if not hashes:
        return []
    h = np.sort(np.concatenate(hashes))
    rep = np.unique(h[1:][h[1:] == h[:-1]])
    if not len(rep):
        return []

    counts: dict[str, int] = {}
    for batch in pq.ParquetFile(path).iter_batches(columns=["id"]):
        ids = np.asarray(batch.column(0).to_pylist(), dtype=object)
        for v in ids[np.isin(_id_hashes(ids), rep)].tolist():
            counts[v] = counts.get(v, 0) + 1
    return sorted(v for v, c in counts.items() if c > 1)


def _count_rows(path: str, input_format: str | None) -> int | None:
    try:
        if _format(path, input_format) == "parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # noqa: BLE001 - only for the progress bar
        return None
    return None

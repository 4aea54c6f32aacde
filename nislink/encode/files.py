"""Encode CSV or Parquet files larger than memory: in chunks, on several processes.

:func:`encode_file` reads the input in chunks of ``chunk_size`` rows (only the columns
the schema needs; CSV columns as text), encodes the chunks on a pool of ``workers`` processes,
and writes the results in input order to one encoded file (see :mod:`nislink.io`). As
every record's encoding depends only on its own values, the output is the same whatever
the chunk size and the number of workers (tested), except for the ``created`` time.

Ids: with ``id_column`` the ids are that column's text; without it they are the 0-based
data-row numbers (``"0"``, ``"1"``, ...). Ids must be unique across the file: a duplicate
within one chunk is rejected (both rows, as :func:`nislink.clean.frame.frame` does); a
duplicate that spans chunks is found at the end (from 8-byte hashes of the ids, confirmed
by re-reading them, so memory stays small) and raises an error; no output is left.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nislink.encode.encoder import REJECT_COLUMNS, Encoder
from nislink.encode.frame import EncodedFrame
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
        import pyarrow.parquet as pq  # noqa: PLC0415

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


def _init_worker(schema_json: str, key: bytes, today: str, dayfirst: bool) -> None:
    schema = Schema.from_json(schema_json)
    _WORKER["encoder"] = Encoder(schema, Secret(key), dayfirst=dayfirst,
                                 today=_dt.date.fromisoformat(today), workers=1)


def _encode_chunk(chunk: pd.DataFrame, columns: dict[str, str], id_column: str | None,
                  party: str | None, destroy_by: str | None) -> EncodedFrame:
    enc: Encoder = _WORKER["encoder"]
    ef = enc.encode(chunk, columns=columns, id_column=id_column, party=party,
                    destroy_by=destroy_by)
    return ef


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
    allow_absent: bool = False,
) -> EncodeFileResult:
    """Encode a CSV/Parquet file in chunks on ``workers`` processes into ``out_path``.

    ``allow_absent=True`` lets schema fields whose column is not in the file be encoded
    as missing (e.g. UPN at a department that holds none); otherwise that is an error.

    ``rejects_path`` (optional) receives the rejects table as CSV (row numbers, ids,
    fields and reasons; no raw values). Returns an :class:`EncodeFileResult`.
    """
    from tqdm.auto import tqdm  # noqa: PLC0415

    from nislink.io import EncodedWriter  # noqa: PLC0415

    if schema.kind != "nislink":
        raise ValueError("encode_file supports nislink schemas (clkhash schemas: use Encoder)")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    colmap = {f.name: (columns or {}).get(f.name, f.column) for f in schema.fields}
    needed = list(dict.fromkeys(([id_column] if id_column else []) + list(colmap.values())))
    today = today or _dt.date.today()
    if isinstance(destroy_by, (_dt.date, _dt.datetime)):
        destroy_by = destroy_by.isoformat()
    total = _count_rows(os.fspath(in_path), input_format)
    bar = tqdm(total=total, unit="rows", disable=not progress, desc="encoding")
    optional = [c for c in colmap.values() if c != id_column] if allow_absent else []
    chunks = read_chunks(in_path, needed, chunk_size, input_format, optional=optional)
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    created_s = created.isoformat().replace("+00:00", "Z")

    writer: EncodedWriter | None = None
    rejects: list[pd.DataFrame] = []
    id_hashes: list[np.ndarray] = []  # 8 bytes per row, to find ids repeated across chunks
    rows_read = 0
    out = os.fspath(out_path)

    def consume(chunk_len: int, ef: EncodedFrame) -> None:
        nonlocal writer, rows_read
        id_hashes.append(_id_hashes(ef.ids))
        ef.meta["created"] = created_s
        if writer is None:
            writer = EncodedWriter(out, ef)
        writer.write(ef)
        if ef.rejects is not None and len(ef.rejects):
            rejects.append(ef.rejects)
        rows_read += chunk_len
        bar.update(chunk_len)

    args = (dict(columns or {}), id_column, party, destroy_by)
    try:
        if workers <= 1:
            _init_worker(schema.to_json(), secret._material(), today.isoformat(), dayfirst)
            for chunk in chunks:
                consume(len(chunk), _encode_chunk(chunk, *args))
        else:
            with ProcessPoolExecutor(
                max_workers=workers, initializer=_init_worker,
                initargs=(schema.to_json(), secret._material(), today.isoformat(), dayfirst),
            ) as pool:
                pending: deque[tuple[int, Future[EncodedFrame]]] = deque()
                for chunk in chunks:
                    pending.append((len(chunk), pool.submit(_encode_chunk, chunk, *args)))
                    while len(pending) >= 2 * workers:
                        n, fut = pending.popleft()
                        consume(n, fut.result())
                while pending:
                    n, fut = pending.popleft()
                    consume(n, fut.result())
        if writer is None:  # empty input: write an empty file with the schema's layout
            empty = Encoder(schema, secret, dayfirst=dayfirst, today=today).encode(
                pd.DataFrame({c: pd.Series(dtype=object) for c in needed}),
                columns=columns, id_column=id_column, party=party, destroy_by=destroy_by)
            empty.meta["created"] = created_s
            writer = EncodedWriter(out, empty)
        meta = writer.close()
        writer = None
        dup = _repeated_ids(out, id_hashes)
        if dup:
            os.remove(out)
            raise ValueError(f"{os.fspath(in_path)}: id {dup[0]!r} appears in more than one "
                             "chunk; ids must be unique (no output written)")
    finally:
        bar.close()
        _WORKER.clear()
        if writer is not None:  # failed part-way: do not leave a file that looks complete
            try:
                writer._writer.close()
            finally:
                if os.path.exists(out):
                    os.remove(out)
    rej = (pd.concat(rejects, ignore_index=True) if rejects
           else pd.DataFrame(columns=REJECT_COLUMNS))
    if rejects_path is not None:
        rej.to_csv(rejects_path, index=False)
    return EncodeFileResult(path=out, rows_read=rows_read, rows_encoded=int(meta["rows"]),
                            rejects=rej, meta=meta)


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
    import pyarrow.parquet as pq  # noqa: PLC0415

    counts: dict[str, int] = {}
    for batch in pq.ParquetFile(path).iter_batches(columns=["id"]):
        ids = np.asarray(batch.column(0).to_pylist(), dtype=object)
        for v in ids[np.isin(_id_hashes(ids), rep)].tolist():
            counts[v] = counts.get(v, 0) + 1
    return sorted(v for v, c in counts.items() if c > 1)


def _count_rows(path: str, input_format: str | None) -> int | None:
    try:
        if _format(path, input_format) == "parquet":
            import pyarrow.parquet as pq  # noqa: PLC0415

            return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # noqa: BLE001 - only for the progress bar
        return None
    return None

"""Withdrawal: remove a person from every artefact of a study, and record that it was done.

:func:`withdraw` takes the data owner's reference number for the person (``P...``, from
the owner's mapping; :func:`reference_for` looks it up from the owner's own person id)
and rewrites every table under the study directory without the rows that hold it or that
were derived from it.

**Tables** are the CSV (``.csv``) and Parquet (``.parquet``, ``.pq``) files anywhere
under the directory (names starting with ``.`` are skipped). A table's reference columns
are recognised by name:

* person-level columns (rows are removed when any of them holds a withdrawn number):
  ``person_ref``, ``id`` (the record id of encoded files), ``research_id``,
  ``research_person_id``, and any column whose name ends in ``_person_ref`` (e.g.
  ``la_person_ref``, ``dwp_person_ref`` in link tables) or starts with ``ref_`` (e.g.
  ``ref_la``, ``ref_dwp``);
* family-level columns: ``family_ref``, ``research_family_id`` and any column whose name
  ends in ``_family_ref``.

Owner ids (``person_id``, ``family_id``) are not reference numbers and are never matched;
the owner's mapping loses the person's row because it holds ``person_ref``.

**What is removed.**

1. The withdrawn number is expanded along *links*: every person-level number found on a
   row that holds the withdrawn number (a link table's department reference, the
   research id in the research map) is withdrawn too. By default this is done for one
   hop (``hops=1``), which in one-to-one linkage reaches every department record linked
   to the person and their research id without running along chains of doubtful links.
2. Every row holding any of these numbers in a person-level column is removed from every
   table: identifier, attribute and mapping tables, encoded files, link tables, research
   maps and person-level research datasets.
3. Families: when no row with a person-level column is left for a family whose number
   appeared on a removed row (the person was its only member in the study), rows of that
   family (by ``family_ref`` or ``research_family_id``) are removed too, e.g. from a
   family-level research dataset. A family that still has members keeps its family-level
   rows; family-level aggregates that counted the withdrawn person must be re-derived by
   re-running research assembly.
4. Finally every file under the directory is searched for the withdrawn numbers (every
   text-like column of every table, the raw bytes of every other file). Anything left is
   reported in :attr:`WithdrawalReport.traces` and makes the withdrawal ``incomplete``.

Files are rewritten atomically (a temporary file in the same directory, then
``os.replace``); Parquet schema metadata is kept; checksums in the retention manifests
are refreshed. The audit event (``withdraw``) holds only counts per rewritten file and the
outcome - not the reference number, nor any hash of it: after the withdrawal no artefact
should hold the number, and the log must not become the one place that still does.

Encoded files (:mod:`nislink.io`: Parquet whose ``nislink`` metadata says
``"format": "nislink-encoded"``) carry a row count and a checksum of their columns, so a
generic rewrite would break them. They are rewritten through the format itself: with
``nislink.io.rewrite_without(path, ids) -> int`` when the io module provides it, else by
``nislink.io.load`` (verifying the old checksum), dropping the rows, and
``nislink.io.save`` (which computes the new checksum). Other Parquet files are rewritten
generically, keeping their schema metadata.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nislink import io as nio
from nislink.errors import NislinkError
from nislink.nis import retention
from nislink.nis.audit import AuditLog

__all__ = [
    "FAMILY_REF_COLUMNS",
    "PERSON_REF_COLUMNS",
    "TABLE_SUFFIXES",
    "WithdrawalError",
    "WithdrawalReport",
    "family_ref_columns",
    "find_traces",
    "person_ref_columns",
    "reference_for",
    "subject_access",
    "withdraw",
]

PERSON_REF_COLUMNS: frozenset[str] = frozenset(
    {"person_ref", "id", "research_id", "research_person_id"}
)
"""Exact names of person-level reference columns (plus ``*_person_ref`` and ``ref_*``)."""
FAMILY_REF_COLUMNS: frozenset[str] = frozenset({"family_ref", "research_family_id"})
"""Exact names of family-level reference columns (plus ``*_family_ref``)."""
TABLE_SUFFIXES: frozenset[str] = frozenset({".csv", ".parquet", ".pq"})
"""File suffixes read as tables."""


class WithdrawalError(NislinkError, ValueError):
    """The withdrawal cannot be done (bad reference number, not found, unreadable table)."""


def person_ref_columns(columns: Iterable[Any]) -> list[str]:
    """The person-level reference columns among ``columns`` (see the module docstring)."""
    return [
        str(c)
        for c in columns
        if str(c) in PERSON_REF_COLUMNS
        or str(c).endswith("_person_ref")
        or str(c).startswith("ref_")
    ]


def family_ref_columns(columns: Iterable[Any]) -> list[str]:
    """The family-level reference columns among ``columns``."""
    return [
        str(c)
        for c in columns
        if str(c) in FAMILY_REF_COLUMNS or str(c).endswith("_family_ref")
    ]


@dataclass
class WithdrawalReport:
    """What :func:`withdraw` did."""

    removed: dict[Path, int] = field(default_factory=dict)
    """Rows removed per rewritten file."""
    references: int = 0
    """How many person-level reference numbers were withdrawn (the given one plus linked)."""
    families: int = 0
    """Families whose family-level rows were removed (no member left)."""
    traces: list[tuple[Path, str]] = field(default_factory=list)
    """(file, column or ``"bytes"``) still holding a withdrawn number after the rewrite."""

    @property
    def rows_removed(self) -> int:
        """Total rows removed."""
        return sum(self.removed.values())

    @property
    def complete(self) -> bool:
        """True when no trace of the withdrawn numbers is left."""
        return not self.traces


# ----------------------------------------------------------------------------- table access
def _tables(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in TABLE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


class _CsvFile:
    """Streaming access to a UTF-8 CSV table (optional BOM), remembering its line ending."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        self.bom = head.startswith(b"\xef\xbb\xbf")
        first = head.split(b"\n", 1)[0]
        self.newline = "\r\n" if first.endswith(b"\r") else "\n"

    def rows(self) -> Any:
        """Iterate over the parsed rows, header first."""
        try:
            with open(self.path, encoding="utf-8-sig", newline="") as fh:
                yield from csv.reader(fh)
        except UnicodeDecodeError as exc:
            raise WithdrawalError(
                f"{self.path}: not UTF-8 text (byte offset {exc.start}); "
                "cannot rewrite it safely"
            ) from None

    def header(self) -> list[str]:
        """The header row (empty for an empty file)."""
        for row in self.rows():
            return row
        return []


def _load(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A table's columns as strings (for matching), all columns when ``columns`` is None."""
    if path.suffix.lower() == ".csv":
        it = _CsvFile(path).rows()
        header = next(it, [])
        wanted = [i for i, h in enumerate(header) if columns is None or h in columns]
        data: list[list[str]] = [[] for _ in wanted]
        for row in it:
            for j, i in enumerate(wanted):
                data[j].append(row[i] if i < len(row) else "")
        return pd.DataFrame(
            {header[i]: pd.Series(data[j], dtype=object) for j, i in enumerate(wanted)}
        )
    try:
        table = pq.read_table(path, columns=columns)
    except Exception as exc:  # pyarrow raises several types
        raise WithdrawalError(f"{path}: cannot be read as Parquet ({type(exc).__name__})") from None
    out = {}
    for name, col in zip(table.column_names, table.columns):
        try:
            out[name] = pc.cast(col, pa.string()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue  # not a text-like column: cannot hold a reference number
    return pd.DataFrame(out)


def _columns(path: Path) -> list[str]:
    if path.suffix.lower() == ".csv":
        return _CsvFile(path).header()
    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:
        raise WithdrawalError(f"{path}: cannot be read as Parquet ({type(exc).__name__})") from None


def _mask(df: pd.DataFrame, cols: list[str], values: set[str]) -> pd.Series:
    m = pd.Series(False, index=df.index)
    for c in cols:
        if c in df.columns:
            m |= df[c].isin(values)
    return m


def _io_rewriter() -> Any:
    try:
        mod = importlib.import_module("nislink.io")
    except ImportError:
        return None
    return getattr(mod, "rewrite_without", None)


def _is_encoded_file(meta: dict[bytes, bytes]) -> bool:
    raw = meta.get(b"nislink")
    if raw is None:
        return False
    try:
        return json.loads(raw).get("format") == "nislink-encoded"
    except (ValueError, AttributeError):
        return False


def _rewrite_encoded(path: Path, ids: set[str]) -> int:
    """Rewrite an nislink encoded file without ``ids``, keeping its metadata and checksum valid.

    Uses ``nislink.io.rewrite_without`` when the io module provides it; otherwise loads the
    file (verifying its checksum), drops the rows and saves it again, so the new checksum
    and row count are computed by the format's own writer.
    """
    rewriter = _io_rewriter()
    if rewriter is not None:
        return int(rewriter(path, sorted(ids)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a RetentionWarning must not stop a withdrawal
        frame = nio.load(path)
    keep = ~np.isin(frame.ids.astype(str), np.array(sorted(ids), dtype=str))
    removed = int((~keep).sum())
    if removed:
        kept = frame.take(np.flatnonzero(keep))
        retention.atomic_replace(path, lambda tmp: nio.save(kept, tmp))
    return removed


def _rewrite(path: Path, person_cols: list[str], fam_cols: list[str],
             persons: set[str], families: set[str]) -> int:
    """Remove matching rows from one table; return how many were removed."""
    if path.suffix.lower() == ".csv":
        src = _CsvFile(path)
        it = src.rows()
        header = next(it, [])
        idx_p = [header.index(c) for c in person_cols if c in header]
        idx_f = [header.index(c) for c in fam_cols if c in header]
        removed = 0

        def write(tmp: Path) -> None:
            nonlocal removed
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                if src.bom:
                    fh.write("\ufeff")
                w = csv.writer(fh, lineterminator=src.newline)
                w.writerow(header)
                for r in it:
                    if any(i < len(r) and r[i] in persons for i in idx_p) or any(
                        i < len(r) and r[i] in families for i in idx_f
                    ):
                        removed += 1
                    else:
                        w.writerow(r)

        retention.atomic_replace(path, write, keep=lambda: removed > 0)
        return removed

    table = pq.read_table(path)
    mask = None
    for cols, values in ((person_cols, persons), (fam_cols, families)):
        if not values:
            continue
        vs = pa.array(sorted(values), type=pa.string())
        for c in cols:
            if c not in table.column_names:
                continue
            try:
                col = pc.cast(table[c], pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            m = pc.fill_null(pc.is_in(col, value_set=vs), False)
            mask = m if mask is None else pc.or_(mask, m)
    if mask is None:
        return 0
    removed = int(pc.sum(mask).as_py() or 0)
    if not removed:
        return 0
    try:
        meta = dict(pq.ParquetFile(path).metadata.metadata or {})  # file-level key-values
    except Exception:  # pragma: no cover - the table was just read
        meta = {}
    meta.update(table.schema.metadata or {})
    if _is_encoded_file(meta):
        return _rewrite_encoded(path, persons)
    kept = table.filter(pc.invert(mask))
    keep_meta = {k: v for k, v in meta.items() if k != b"ARROW:schema"}
    if keep_meta:
        kept = kept.replace_schema_metadata(keep_meta)
    compression = "snappy"
    try:
        md = pq.ParquetFile(path).metadata
        if md.num_row_groups and md.num_columns:
            compression = md.row_group(0).column(0).compression.lower()
    except Exception:  # pragma: no cover - fall back to the default codec
        pass
    if compression not in ("snappy", "gzip", "brotli", "zstd", "lz4", "none", "uncompressed"):
        compression = "snappy"

    def write(tmp: Path) -> None:
        codec = "none" if compression == "uncompressed" else compression
        pq.write_table(kept, tmp, compression=codec)

    retention.atomic_replace(path, write)
    return removed


# ----------------------------------------------------------------------------- public API
def reference_for(
    mapping: pd.DataFrame | str | os.PathLike[str], person_id: Any, id_column: str = "person_id"
) -> str:
    """The owner's reference number (``person_ref``) for ``person_id`` in its mapping table."""
    df = mapping if isinstance(mapping, pd.DataFrame) else _load(Path(mapping))
    if id_column not in df.columns or "person_ref" not in df.columns:
        raise WithdrawalError(f"the mapping needs columns {id_column!r} and 'person_ref'")
    hits = df.loc[df[id_column].astype(str) == str(person_id), "person_ref"]
    if len(hits) != 1:
        raise WithdrawalError(
            f"{id_column}: the given id matches {len(hits)} rows of the mapping, expected 1"
        )
    return str(hits.iloc[0])


def _bytes_contain(path: Path, needles: list[bytes]) -> bool:
    """True when the file's bytes contain any needle (streamed, chunks overlap)."""
    overlap = max(len(n) for n in needles) - 1
    tail = b""
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            buf = tail + chunk
            if any(n in buf for n in needles):
                return True
            tail = buf[-overlap:] if overlap else b""
    return False


def find_traces(directory: str | os.PathLike[str], refs: Iterable[str]) -> list[tuple[Path, str]]:
    """Every (file, column) under ``directory`` holding any of ``refs``.

    Tables are searched column by column (text-like columns); every other file is
    searched as raw bytes (column reported as ``"bytes"``).
    """
    root = Path(directory)
    values = {str(r) for r in refs if str(r)}
    out: list[tuple[Path, str]] = []
    if not values:
        return out
    needles = [v.encode("utf-8") for v in values]
    for p in sorted(root.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if p.suffix.lower() == ".csv":
            try:
                it = _CsvFile(p).rows()
                header = next(it, [])
                hits: set[int] = set()
                for row in it:
                    for i, v in enumerate(row):
                        if v in values:
                            hits.add(i)
            except (WithdrawalError, csv.Error):
                pass  # unreadable as a table: fall through to the byte search
            else:
                out += [(p, header[i] if i < len(header) else f"column {i + 1}")
                        for i in sorted(hits)]
                continue
        elif p.suffix.lower() in TABLE_SUFFIXES:
            try:
                df = _load(p)
            except WithdrawalError:
                df = None
            if df is not None:
                for c in df.columns:
                    if df[c].isin(values).any():
                        out.append((p, str(c)))
                continue
        if _bytes_contain(p, needles):
            out.append((p, "bytes"))
    return out


def _expand(
    tables: list[Path], pcols: dict[Path, list[str]], person_ref: str, hops: int
) -> set[str] | None:
    """The number plus every person-level number linked to it within ``hops``; None if absent."""
    persons = {person_ref}
    found = False
    for _hop in range(max(0, int(hops)) + 1):
        new: set[str] = set()
        for p in tables:
            if not pcols[p]:
                continue
            df = _load(p, pcols[p])
            hit = _mask(df, pcols[p], persons)
            if hit.any():
                found = True
                if _hop < hops:
                    for c in df.columns:
                        new |= {v for v in df.loc[hit, c].tolist() if isinstance(v, str) and v}
        if not (new - persons):
            break
        persons |= new
    return persons if found else None


def subject_access(
    directory: str | os.PathLike[str],
    person_ref: str,
    *,
    party: str = "la",
    audit: AuditLog | None = None,
    hops: int = 1,
) -> dict[Path, pd.DataFrame]:
    """Every row held about a person under ``directory``, per table (a subject access answer).

    The person is found as :func:`withdraw` finds them (the owner's reference number, plus
    the numbers linked to it within ``hops``). Tables without a matching row are left out.
    Nothing is changed; when ``audit`` is given an ``access`` event records the counts.
    """
    root = Path(directory)
    tables = _tables(root)
    pcols = {p: person_ref_columns(_columns(p)) for p in tables}
    persons = _expand(tables, pcols, person_ref, hops) or set()
    out: dict[Path, pd.DataFrame] = {}
    for p in tables:
        if not pcols[p] or not persons:
            continue
        hit = _mask(_load(p, pcols[p]), pcols[p], persons).to_numpy()
        if hit.any():
            full = _load(p) if p.suffix.lower() == ".csv" else pq.read_table(p).to_pandas()
            out[p] = full[hit].reset_index(drop=True)
    if audit is not None:
        audit.record(
            "access",
            party=party,
            action="answer",
            counts={"artefacts": len(out), "rows": sum(len(d) for d in out.values())},
        )
    return out


def withdraw(
    directory: str | os.PathLike[str],
    person_ref: str,
    *,
    party: str = "la",
    audit: AuditLog | None = None,
    hops: int = 1,
) -> WithdrawalReport:
    """Remove the person with reference number ``person_ref`` from every artefact.

    See the module docstring for what is removed. Returns a :class:`WithdrawalReport`;
    check :attr:`WithdrawalReport.complete`. Raises :class:`WithdrawalError` when the
    number is not in any table (nothing is changed then). When ``audit`` is given, one
    ``withdraw`` event records, for ``party``, the rows removed per file and the outcome.
    """
    if not isinstance(person_ref, str) or not person_ref or person_ref != person_ref.strip():
        raise WithdrawalError("withdraw: the reference number must be a non-empty string")
    root = Path(directory)
    if not root.is_dir():
        raise WithdrawalError(f"withdraw: {root} is not a directory")
    tables = _tables(root)
    cols = {p: _columns(p) for p in tables}
    pcols = {p: person_ref_columns(c) for p, c in cols.items()}
    fcols = {p: family_ref_columns(c) for p, c in cols.items()}

    if audit is not None:  # refuse before changing anything, not after
        audit.check(
            "withdraw", party=party, action="rewrite",
            files={p.relative_to(root).as_posix(): {"rows_removed": 0} for p in tables},
            values={"outcome": "complete"},
        )

    # 1. expand along links
    persons = _expand(tables, pcols, person_ref, hops)
    if persons is None:
        raise WithdrawalError("withdraw: the reference number is not in any table under "
                              f"{root}; nothing was changed")

    # 2. families touched by the removed rows
    families: set[str] = set()
    for p in tables:
        if pcols[p] and fcols[p]:
            df = _load(p, pcols[p] + fcols[p])
            hit = _mask(df, pcols[p], persons)
            for c in fcols[p]:
                if c in df.columns:
                    families |= {v for v in df.loc[hit, c].tolist() if isinstance(v, str) and v}

    # 3. remove person rows
    report = WithdrawalReport(references=len(persons))
    for p in tables:
        if pcols[p]:
            k = _rewrite(p, pcols[p], [], persons, set())
            if k:
                report.removed[p] = report.removed.get(p, 0) + k

    # 4. families with no member left: remove their family-level rows
    if families:
        still = set()
        for p in tables:
            if pcols[p] and fcols[p]:
                df = _load(p, fcols[p])
                for c in fcols[p]:
                    if c in df.columns:
                        still |= set(df[c].tolist()) & families
        orphans = families - still
        report.families = len(orphans)
        if orphans:
            for p in tables:
                if fcols[p]:
                    k = _rewrite(p, [], fcols[p], set(), orphans)
                    if k:
                        report.removed[p] = report.removed.get(p, 0) + k
        gone = orphans
    else:
        gone = set()

    # 5. manifests, traces, audit
    for p in report.removed:
        retention.update_checksum(p)
    report.traces = find_traces(root, persons | gone)
    if audit is not None:
        audit.record(
            "withdraw",
            party=party,
            action="rewrite",
            counts={
                "rows_removed": report.rows_removed,
                "artefacts_changed": len(report.removed),
                "references": report.references,
                "families_removed": report.families,
                "traces_remaining": len(report.traces),
            },
            files={p.relative_to(root).as_posix(): {"rows_removed": k}
                   for p, k in sorted(report.removed.items())},
            values={"outcome": "complete" if report.complete else "incomplete"},
        )
    return report

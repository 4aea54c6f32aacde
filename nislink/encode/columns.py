"""Which input column holds which schema field, and what the encoder made of each field.

* :func:`resolve_columns` maps every schema field to an input column (``columns`` maps
  *schema field -> input column*, the one direction used everywhere: the API's
  ``columns=`` and the command line's ``--columns forename="First Name"``). The core
  fields (forename, surname, full name, date of birth) must be present; optional
  identifiers (sex, postcode, NINO, UPN, ...) may be absent and are then encoded as
  missing. Input column names are not part of the schema fingerprint, so parties with
  different headers can link.
* :class:`FieldSummary` counts, per field, the encoded rows whose value is present,
  missing (blank or absent) or rejected (there, but not accepted by the cleaner), and
  warns when more than :data:`WARN_SHARE` of a field is missing or rejected.
* :func:`too_long_rows` finds values longer than :data:`MAX_FIELD_CHARS` characters, which
  are rejected before any expensive work.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nislink.clean.vectorise import factorize
from nislink.errors import DataQualityWarning, NislinkError
from nislink.schema import Schema

__all__ = [
    "CORE_KINDS",
    "MAX_FIELD_CHARS",
    "SPARSE_KINDS",
    "WARN_SHARE",
    "DataQualityWarning",
    "as_pandas",
    "FieldSummary",
    "MissingColumnError",
    "resolve_columns",
    "too_long_rows",
]

CORE_KINDS: frozenset[str] = frozenset({"forename", "surname", "fullname", "dob"})
"""Field kinds whose column must be in the data (the rest may be absent)."""

MAX_FIELD_CHARS = 200
"""Longest value (in characters) accepted in an identifier or id column."""

WARN_SHARE = 0.2
"""A field with more than this share of rows missing or rejected is warned about."""

SPARSE_KINDS: frozenset[str] = frozenset({"nino", "upn"})
"""Kinds that are missing for many people by nature (children have no NINO, adults no UPN):
only their rejected values count towards the warning."""

_KIND_LABEL = {"forename": "forename", "surname": "surname", "fullname": "full name",
               "dob": "date of birth", "sex": "sex", "postcode": "postcode",
               "nino": "National Insurance number", "upn": "Unique Pupil Number"}


def _show(names: Iterable[Any], limit: int = 12) -> str:
    names = [repr(str(n))[1:-1] if "\n" in str(n) or "\r" in str(n) else str(n)
             for n in names]
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown or "none"


class MissingColumnError(NislinkError, ValueError):
    """A required field's column is not in the data."""

    def __init__(self, field_name: str, kind: str, column: str, found: Sequence[Any],
                 mapped: bool = False) -> None:
        self.field = field_name
        self.kind = kind
        self.column = column
        self.found = [str(c) for c in found]
        self.mapped = mapped
        label = _KIND_LABEL.get(kind, kind)
        where = (f"the column mapping names column {column!r}, which is not in the data"
                 if mapped else f"no column {column!r} in the data")
        super().__init__(
            f"field {field_name!r} ({label}): {where} (columns: {_show(self.found)}); map it "
            f"with columns={{{field_name!r}: '<your column>'}} (command line: --columns "
            f"{field_name}=<your column>)")

    def cli_message(self, where: str) -> str:
        """The one-line message of the ``nislink`` command."""
        label = _KIND_LABEL.get(self.kind, self.kind)
        what = (f"--columns maps the {label} (field {self.field!r}) to {self.column!r}, "
                "which is not there" if self.mapped else
                f"no column for the {label} (field {self.field!r}, looked for "
                f"{self.column!r})")
        return (f"{where}: {what}; columns found: {_show(self.found)}; map it with "
                f"--columns {self.field}=<your column>")


def as_pandas(data: Any, what: str = "encode()", *, empty_as_missing: bool = True
              ) -> pd.DataFrame:
    """The input table as a pandas DataFrame, whatever form it came in.

    Accepted: a pandas DataFrame (returned as it is); a pyarrow ``Table`` or
    ``RecordBatch``; any object that exports an Arrow stream (``__arrow_c_stream__``: a
    Polars DataFrame, a DuckDB relation, ...), read through pyarrow; or a path (``str`` or
    ``os.PathLike``) to a Parquet file (``.parquet``, ``.pq``) or a CSV file (any other
    suffix; read as text, every column a string, only empty cells missing, as the command
    line reads it; with ``empty_as_missing=False`` empty cells stay empty strings, as
    clkhash reads a CSV). Arrow data is converted with ``Table.to_pandas()`` (strings stay
    strings, nulls become missing), so a table gives the same encodings as the pandas
    frame it was made from. A table that is not a pandas frame has no index: its rows are
    numbered ``0, 1, ...``, so pass ``id_column=`` to keep your record ids.
    """
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data.to_pandas()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data).to_pandas()
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"{what}: no such file: {os.fspath(data)}")
        if path.suffix.lower() in (".parquet", ".pq"):
            return pq.read_table(path).to_pandas()
        return pd.read_csv(path, dtype=str, keep_default_na=False,
                           na_values=[""] if empty_as_missing else None)
    raise TypeError(f"{what} expects a pandas DataFrame, a pyarrow Table or RecordBatch, a "
                    f"Polars DataFrame (or any Arrow stream), or a Parquet/CSV path; got "
                    f"{type(data).__name__}")


def resolve_columns(
    schema: Schema,
    columns: Mapping[str, str] | None,
    available: Sequence[Any],
    *,
    id_column: str | None = None,
    allow_absent: bool | None = None,
) -> tuple[dict[str, str], list[str]]:
    """``(field -> column, absent fields)`` for data with the columns ``available``.

    ``columns`` overrides the schema's ``column`` per field (schema field -> input column).
    ``allow_absent``: ``None`` (default) lets optional fields be absent but requires the
    core ones (:data:`CORE_KINDS`); ``True`` lets any field be absent as long as one is
    present; ``False`` requires every field. A field mapped in ``columns`` is required
    whatever ``allow_absent`` says: the mapping names a column the caller expects, so a
    misspelt one is an error, not a field silently encoded as missing. Raises
    :class:`MissingColumnError` or ``ValueError``.
    """
    columns = dict(columns or {})
    names = [f.name for f in schema.fields]
    for k, v in columns.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ValueError("columns: expected a mapping of schema field -> input column")
        if k not in names:
            hint = (f"; the mapping is schema field -> input column, did you mean "
                    f"{v}={k}?" if v in names else "")
            raise ValueError(f"columns: {k!r} is not a field of the schema "
                             f"(fields: {', '.join(names)}){hint}")
    have = {str(c) for c in available}
    if id_column is not None and id_column not in have:
        raise ValueError(f"id column {id_column!r} is not in the data "
                         f"(columns: {_show(available)})")
    colmap = {f.name: columns.get(f.name, f.column or f.name) for f in schema.fields}
    absent: list[str] = []
    for f in schema.fields:
        if colmap[f.name] in have:
            continue
        if f.name in columns:
            raise MissingColumnError(f.name, f.kind, colmap[f.name], list(available),
                                     mapped=True)
        required = allow_absent is False or (allow_absent is None and f.kind in CORE_KINDS)
        if required:
            raise MissingColumnError(f.name, f.kind, colmap[f.name], list(available))
        absent.append(f.name)
    if schema.fields and len(absent) == len(schema.fields):
        raise MissingColumnError(schema.fields[0].name, schema.fields[0].kind,
                                 colmap[schema.fields[0].name], list(available))
    return colmap, absent


def too_long_rows(df: pd.DataFrame, columns: Iterable[str],
                  limit: int = MAX_FIELD_CHARS) -> dict[str, np.ndarray]:
    """Per column, a boolean mask of the rows whose value is text longer than ``limit``."""
    out: dict[str, np.ndarray] = {}
    for c in dict.fromkeys(columns):
        if c not in df.columns:
            continue
        s = df[c]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        values = s.to_numpy(dtype=object)
        items = values.tolist()
        try:  # usually every length is within the limit: one C-level pass shows it
            if max(map(len, items), default=0) <= limit:
                continue
        except TypeError:  # a missing value, a number, ...: the same without the missing
            try:
                if max(map(len, compress(items, pd.notna(values).tolist())),
                       default=0) <= limit:
                    continue
            except TypeError:  # values without a length (numbers, booleans)
                pass
        try:  # one length per distinct value
            codes, uniq = factorize(values)
        except TypeError:  # unhashable entries: value by value
            codes, uniq = np.arange(len(values), dtype=np.int64), values
        items = uniq.tolist()
        u_len = np.fromiter((len(v) if isinstance(v, (str, bytes)) else 0
                             for v in items), dtype=np.int64, count=len(uniq))
        mask = (np.append(u_len, 0)[codes] if len(values) else u_len) > limit
        if mask.any():
            out[c] = mask
    return out


@dataclass
class FieldSummary:
    """Per field: encoded rows whose value is present, missing or rejected.

    ``absent`` lists the fields whose column was not in the data (all missing).
    """

    rows: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    share: float = WARN_SHARE
    sparse: list[str] = field(default_factory=list)
    """Fields of :data:`SPARSE_KINDS`: their missing values are not warned about."""

    @classmethod
    def from_status(cls, status: Mapping[str, np.ndarray], absent: Sequence[str] = (),
                    sparse: Sequence[str] = ()) -> FieldSummary:
        """From per-field status codes of encoded rows: 0 present, 1 missing, 2 rejected,
        3 rejected as out of range (a date of birth outside the plausible range)."""
        counts: dict[str, dict[str, int]] = {}
        rows = 0
        for name, codes in status.items():
            c = np.bincount(np.asarray(codes, dtype=np.int64), minlength=4)
            counts[name] = {"present": int(c[0]), "missing": int(c[1]),
                            "rejected": int(c[2] + c[3])}
            if c[3]:
                counts[name]["out_of_range"] = int(c[3])
            rows = len(codes)
        return cls(rows=rows, counts=counts, absent=list(absent), sparse=list(sparse))

    def merge(self, other: FieldSummary) -> FieldSummary:
        """The summary of both batches together."""
        counts = {k: dict(v) for k, v in self.counts.items()}
        for k, v in other.counts.items():
            mine = counts.setdefault(k, {"present": 0, "missing": 0, "rejected": 0})
            for s, n in v.items():
                mine[s] = mine.get(s, 0) + n
        absent = list(dict.fromkeys([*self.absent, *other.absent]))
        sparse = list(dict.fromkeys([*self.sparse, *other.sparse]))
        return FieldSummary(self.rows + other.rows, counts, absent, self.share, sparse)

    def warnings(self) -> list[str]:
        """One line per field with more than :attr:`share` of its rows missing or rejected
        (for :attr:`sparse` fields: rejected)."""
        out: list[str] = []
        if not self.rows:
            return out
        for name, c in self.counts.items():
            bad = c.get("rejected", 0) + (0 if name in self.sparse else c.get("missing", 0))
            if bad > self.share * self.rows and name not in self.absent:
                out.append(f"field {name!r}: {bad} of {self.rows} encoded rows "
                           f"({100 * bad / self.rows:.0f}%) are missing ({c.get('missing', 0)}) "
                           f"or rejected ({c.get('rejected', 0)}); check the column mapping "
                           "and the input"
                           + ("; most rejected values are dates outside the plausible range: "
                              "for historical records set the schema field's 'earliest' "
                              "(e.g. \"1800-01-01\")"
                              if 2 * c.get("out_of_range", 0) > c.get("rejected", 0) > 0
                              else ""))
        return out

    def notes(self) -> list[str]:
        """One line per optional field whose column was absent."""
        return [f"field {name!r}: no column in the data, encoded as missing"
                for name in self.absent]

    def to_text(self) -> str:
        """A small table: field, present, missing, rejected."""
        lines = [f"{'field':<12} {'present':>9} {'missing':>9} {'rejected':>9}"]
        for name, c in self.counts.items():
            tag = "  (no column)" if name in self.absent else ""
            lines.append(f"{name:<12} {c['present']:>9} {c['missing']:>9} "
                         f"{c['rejected']:>9}{tag}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (counts only, no values)."""
        return {"rows": self.rows, "fields": {k: dict(v) for k, v in self.counts.items()},
                "absent": list(self.absent)}

"""The data owner's encoder: clean rows, then build keyed filters and tokens.

``Encoder(schema, secret).encode(df)`` returns an :class:`~nislink.frame.EncodedFrame`
with, per schema field, a field-level Bloom filter and a keyed exact-match token; a
record-level filter (CLK) over the fields marked ``clk``; the schema's match keys; and
SLK-581 as a keyed baseline token. Rows that cannot be encoded are listed in
``encoder.rejects`` (also ``result.rejects``) with their row label, id and reason, never
with raw values.

Work is done per *distinct value* and per *distinct token*: each field is factorised,
each distinct value tokenised once, each distinct token hashed once, and the filters of
distinct values are scattered into packed ``uint64`` rows with NumPy and gathered back to
records. A record's encoding therefore depends only on its own values, the schema and the
secret, never on the other rows of the batch.

Sub-keys (BLAKE3 derive-key contexts, ``fp`` = schema fingerprint)::

    "nislink v1 2026-11 bloom <fp> <field>"     Bloom positions of a field (and its CLK part);
                                                a salted view: <field>~<salt>
    "nislink v1 2026-11 token <fp> <field>"     exact-match token of a field (or view)
    "nislink v1 2026-11 mask <fp> <field>"      keyed mask of a salt value (field or view)
    "nislink v1 2026-11 salttag <fp> <salt>"    tag token of a salt's value (``~<salt>``)
    "nislink v1 2026-11 component <fp> <f>_<m>" a derived match-key component
    "nislink v1 2026-11 matchkey <fp> <name>"   a match key (SipHash-2-4 of the components)
    "nislink v1 2026-11 slk581 <fp> slk581"     the SLK-581 token
    "nislink v1 2026-11 permute <fp> <target>"  secret permutation (target: field or "@clk")
    "nislink v1 2026-11 blip <fp> <target>"     BLIP noise
"""

from __future__ import annotations

import copy
import datetime as _dt
import mmap
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import compress
from typing import Any

import numpy as np
import pandas as pd
from anyascii import anyascii
from numba import njit

from nislink.clean import Status, is_missing
from nislink.clean.frames import frame as clean_frame
from nislink.clean.frames import id_texts, id_usage
from nislink.clean.names import given_name, surname_core
from nislink.clean.vectorise import factorize
from nislink.encode import hardening as _hardening
from nislink.encode.blake3_batch import (
    keyed_xof_table,
    MAX_MESSAGE,
    byte_table,
    joined_table,
    joined_xof_words,
    salted_filters,
)
from nislink.encode.bloom import (
    digest_length,
    keyed_digests,
    keyed_uint64,
    positions,
    scatter_rows,
)
from nislink.encode.columns import (
    MAX_FIELD_CHARS,
    SPARSE_KINDS,
    DataQualityWarning,
    FieldSummary,
    as_pandas,
    resolve_columns,
    too_long_rows,
)
from nislink.encode.parallel import fork_available, row_ranges, run_forked
from nislink.encode.siphash import siphash24_words
from nislink.encode.tokens import (
    component_values,
    date_level_values,
    number_text,
    slk581_part,
    slk581_parts,
    token_occurrences,
)
from nislink.frame import BitMatrix, EncodedFrame, popcount_rows
from nislink.schema import (
    LEVEL_SEP,
    SALT_JOIN,
    SCHEME_VERSION,
    FieldSpec,
    Hardening,
    Schema,
    salt_tag,
)
from nislink.secrets import Secret

__all__ = ["Encoder", "CLEAN_KIND", "REJECT_COLUMNS", "U_HIST_ROWS", "U_HIST_PAIRS",
           "cleaned_statuses"]

U_HIST_ROWS = 20_000
"""Records (the first of a file, in order) whose random pairs make ``meta["u_hist"]``."""
U_HIST_PAIRS = 200_000
"""Random pairs counted for ``meta["u_hist"]``."""
# the u histograms' cost in records encoded (about 50 ms against 14 microseconds a record
# in a forked worker, at 200,000 synthetic people on this project's 2-core machine)
_U_HIST_WORTH = 3_500

CLEAN_KIND = {
    "forename": "forename",
    "surname": "surname",
    "fullname": "name",
    "dob": "dob",
    "sex": "sex",
    "postcode": "postcode",
    "nino": "nino",
    "upn": "upn",
}
"""Which :func:`nislink.clean.frame` kind cleans each schema field kind."""

REJECT_COLUMNS = ["row", "id", "field", "reason"]

_STATUS_WORDS = ("ok", "missing", "invalid", "placeholder", "out_of_range",
                 "no_fixed_abode", "temporary", "unknown")
_PART_RE = re.compile(r"([A-Za-z0-9_ .-]+?): (" + "|".join(_STATUS_WORDS) + r")\b")


def _safe_reason(reason: str, columns: set[str]) -> str:
    """Rebuild a cleaning reason from its fixed vocabulary and the known column names only
    (so that no raw value can pass through)."""
    out: list[str] = []
    if "missing id" in reason:
        out.append("missing id")
    if "duplicated id" in reason:
        out.append("duplicated id")
    if "no usable name" in reason:
        parts = ", ".join(f"{c.strip()}: {s}" for c, s in _PART_RE.findall(reason)
                          if c.strip() in columns)
        out.append("no usable name, date of birth, NINO or UPN" + (f" [{parts}]" if parts else ""))
    return "; ".join(out) or "rejected by cleaning"


def _first_positions(codes: np.ndarray, n_uniq: int) -> np.ndarray:
    """Index of the first occurrence of each code ``0 .. n_uniq-1``."""
    first = np.full(n_uniq, -1, dtype=np.int64)
    idx = np.arange(len(codes), dtype=np.int64)
    valid = codes >= 0
    first[codes[valid][::-1]] = idx[valid][::-1]
    return first


def _conventions(f: FieldSpec, vals: np.ndarray) -> np.ndarray:
    """A name field's values under the UK recording conventions (``uk_names``), once per
    distinct value."""
    if not f.uk_names or not len(vals):
        return vals

    fn = given_name if f.kind == "forename" else surname_core
    codes, uniq = factorize(vals)
    out = np.array([fn(u) for u in uniq.tolist()] + [None], dtype=object)
    return out[codes]


_STATUS_CODES = {"ok": 0, "missing": 1, "out_of_range": 3}
"""A field's status code per cleaning status (any other status, or none, is 2)."""


def _status_codes(statuses: pd.Series) -> np.ndarray:
    """Per row of a categorical status column: its :data:`_STATUS_CODES` (2 for any other
    status or none), looked up once per category."""
    cat = statuses.cat
    table = np.array([_STATUS_CODES.get(c, 2) for c in cat.categories.tolist()] + [2],
                     dtype=np.int64)
    return table[cat.codes.to_numpy()]  # code -1 (no status) takes the last entry


def _absent(v: Any) -> bool:
    """True for ``None``, float NaN and pandas ``NA``/``NaT`` (not for blank strings)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and v != v


def _raw_missing(v: Any) -> bool:
    """True for an absent value (:func:`_absent`) and for blank text. (Not
    :func:`nislink.clean.is_missing`, which also takes ``numpy.datetime64('NaT')`` for
    missing: an own-kind column holding one reports it rejected, as it always has.)"""
    return _absent(v) or (isinstance(v, str) and not v.strip())


def _clean_text(v: Any) -> str | None:
    if is_missing(v):
        return None
    s = anyascii(str(v)).lower()
    s = "".join(ch if ch.isalnum() else " " for ch in s)
    s = " ".join(s.split())
    return s or None


def _clean_exact(v: Any) -> str | None:
    if is_missing(v):
        return None
    s = str(v).strip()
    return s or None


def _clean_number(v: Any) -> str | None:
    if is_missing(v):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(x):
        return None
    return number_text(x)


_OWN_CLEANERS = {"text": _clean_text, "exact": _clean_exact, "number": _clean_number}


class Encoder:
    """Encode a data owner's records with a :class:`~nislink.schema.Schema` and a
    :class:`~nislink.secrets.Secret`.

    ``today`` fixes the date used to judge dates of birth (default: the current date,
    resolved once when the encoder is made), so that a long job is consistent.
    ``workers``: processes used to encode a large batch (``None``: both cores of a
    typical machine, ``min(2, cpu_count)``, for batches of at least
    :attr:`PARALLEL_MIN_ROWS` rows on POSIX; ``1``: in this process). Cleaning runs in
    this process; the cleaned rows are split into contiguous parts encoded by forked
    processes. The output is identical whatever ``workers`` is.
    """

    PARALLEL_MIN_ROWS = 40_000

    def __init__(
        self,
        schema: Schema,
        secret: Secret,
        *,
        dayfirst: bool = True,
        today: _dt.date | None = None,
        workers: int | None = None,
    ) -> None:
        if not isinstance(schema, Schema):
            raise TypeError("Encoder needs a nislink.Schema")
        if not isinstance(secret, Secret):
            raise TypeError("Encoder needs a nislink.Secret (use Secret.from_bytes/from_env)")
        self.schema = schema
        self._secret = secret
        self.dayfirst = dayfirst
        self.today = today if today is not None else _dt.date.today()
        self.fingerprint = schema.fingerprint
        self.key_fingerprint = secret.fingerprint()
        self.rejects: pd.DataFrame = pd.DataFrame(columns=REJECT_COLUMNS)
        self._keys: dict[tuple[str, str], bytes] = {}
        self.workers = workers
        self.summary = FieldSummary()
        self.warn = True

    def __repr__(self) -> str:
        return (f"Encoder(schema={self.fingerprint!r}, key_fingerprint={self.key_fingerprint!r})")

    # -- keys ---------------------------------------------------------------------------
    def context(self, purpose: str, target: str) -> str:
        """The BLAKE3 derive-key context for ``purpose`` and ``target`` (a field or key)."""
        return f"{SCHEME_VERSION} {purpose} {self.fingerprint} {target}"

    def _key(self, purpose: str, target: str) -> bytes:
        k = (purpose, target)
        if k not in self._keys:
            self._keys[k] = self._secret.derive(self.context(purpose, target))
        return self._keys[k]

    # -- cleaning -------------------------------------------------------------------------
    def _clean(
        self, df: pd.DataFrame, colmap: dict[str, str], id_column: str | None
    ) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame, dict[str, np.ndarray]]:
        """Normalised values per field for kept rows; kept positions; rejects table; status
        per field of kept rows (0 present, 1 missing, 2 rejected). Rows with a value longer
        than :data:`~nislink.encode.columns.MAX_FIELD_CHARS` are rejected before cleaning."""
        prep = self._clean_setup(df, colmap, id_column)
        values, kept, rejects, status = self._clean_rows(prep, np.flatnonzero(prep.short))
        if len(prep.long_rej):
            rejects = pd.concat([rejects, prep.long_rej], ignore_index=True)
        return values, kept, rejects, status

    def _clean_setup(self, df: pd.DataFrame, colmap: dict[str, str],
                     id_column: str | None, id_counts: bool = False) -> _CleanSetup:
        """What cleaning needs from the whole input before its rows are cleaned (in one
        go, or in parts: ``id_counts`` counts the ids over the whole input)."""
        schema = self.schema
        col_kind: dict[str, str] = {}
        for f in schema.fields:
            col = colmap[f.name]
            if col not in df.columns:
                raise ValueError(f"field {f.name!r}: column {col!r} is not in the data "
                                 f"(columns: {', '.join(map(str, df.columns))})")
            if f.kind in CLEAN_KIND:
                kind = CLEAN_KIND[f.kind]
                if col_kind.get(col, kind) != kind:
                    raise ValueError(f"column {col!r} is used by fields of different kinds")
                col_kind[col] = kind
        # a frame cleaned by nislink.clean.frame: its status columns are set aside and its
        # values cleaned again (cleaning is idempotent: the same values, bit-identical
        # encodings), keeping the first cleaning's reasons for values it turned to missing
        given = cleaned_statuses(df, col_kind)
        if given:
            df = df.drop(columns=[f"{c}_status" for c in given])
        long_rej, short = _too_long(df, schema, colmap, id_column)
        counts = None
        if id_counts and id_column is not None:
            counts = np.zeros(len(df), dtype=np.int64)
            counts[short] = id_usage(df[id_column][short])[1]
        return _CleanSetup(df, colmap, id_column, col_kind, given, long_rej, short, counts)

    def _clean_rows(
        self, prep: _CleanSetup, rows: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame, dict[str, np.ndarray]]:
        """:meth:`_clean` of the rows at positions ``rows`` (rows without too-long values,
        increasing) of the prepared input; the rejects are those of cleaning only."""
        schema = self.schema
        df, colmap, id_column, col_kind, given = (prep.df, prep.colmap, prep.id_column,
                                                  prep.col_kind, prep.given)
        whole = len(rows) == len(df)
        if col_kind or id_column is not None:
            earliest = {colmap[f.name]: f.earliest for f in schema.fields
                        if f.kind == "dob" and f.earliest is not None}
            clean, rej = clean_frame(
                df if whole else df.iloc[rows], col_kind, id_column=id_column,
                dayfirst=self.dayfirst, today=self.today, earliest=earliest or None,
                id_counts=None if prep.id_counts is None else prep.id_counts[rows])
            kept = clean.index.to_numpy(dtype=np.int64)
        else:
            clean, rej = df, pd.DataFrame(columns=["row", "field", "reason"])
            kept = np.asarray(rows, dtype=np.int64)
        rejects = pd.DataFrame({
            "row": rej["row"].to_numpy(dtype=np.int64) if len(rej) else np.zeros(0, np.int64),
            "id": rej["id"].to_numpy(dtype=object) if "id" in rej else None,
            "field": rej["field"].to_numpy(dtype=object) if len(rej) else np.zeros(0, object),
            "reason": np.array([_safe_reason(str(r), set(col_kind)) for r in rej["reason"]],
                               dtype=object)
            if len(rej) else np.zeros(0, object),
        })
        values: dict[str, np.ndarray] = {}
        status: dict[str, np.ndarray] = {}
        for f in schema.fields:
            col = colmap[f.name]
            if f.kind == "dob":
                values[f.name] = _dates_to_iso(clean[col])
            elif f.kind in CLEAN_KIND:
                arr = clean[col].to_numpy(dtype=object)
                if not (f.uk_names and len(arr)):  # (_conventions makes missing values None)
                    arr = np.where(pd.isna(arr), None, arr).astype(object)
                values[f.name] = _conventions(f, arr)
            else:
                raw = df[col].to_numpy(dtype=object)[kept]
                codes, uniq = factorize(raw)
                cleaned = np.array([_OWN_CLEANERS[f.kind](u) for u in uniq] + [None], dtype=object)
                values[f.name] = cleaned[codes]
            if f.kind in CLEAN_KIND:
                statuses = clean[f"{col}_status"]
                if col not in given and isinstance(statuses.dtype, pd.CategoricalDtype):
                    status[f.name] = _status_codes(statuses)
                else:
                    st = statuses.astype(object).to_numpy()
                    if col in given:  # missing now, but not accepted the first time: say why
                        first = given[col][kept]
                        st = np.where((st == "missing") & (first != None), first, st)  # noqa: E711
                    status[f.name] = np.fromiter(
                        (_STATUS_CODES.get(x, 2) if isinstance(x, str) else 2 for x in st),
                        dtype=np.int64, count=len(st))
            else:  # once per distinct value (and per row for the values factorize skips)
                u_missing = np.array([_raw_missing(u) for u in uniq.tolist()] + [False],
                                     dtype=bool)
                raw_missing = u_missing[codes]
                skipped = np.flatnonzero(codes < 0)
                raw_missing[skipped] = [_raw_missing(v) for v in raw[skipped].tolist()]
                present = np.array([c is not None for c in cleaned.tolist()], dtype=bool)[codes]
                status[f.name] = np.where(present, 0, np.where(raw_missing, 1, 2))
        return values, kept, rejects, status

    # -- encoding -------------------------------------------------------------------------
    def encode(
        self,
        df: Any,
        columns: Mapping[str, str] | None = None,
        id_column: str | None = None,
        party: str | None = None,
        destroy_by: str | _dt.date | None = None,
        allow_absent: bool | None = None,
    ) -> EncodedFrame:
        """Clean and encode ``df``.

        Fields whose column is not in ``df``: by default (``allow_absent=None``) the core
        fields (forename, surname, full name, date of birth) are required and the others
        (a party that does not hold, say, UPNs) are encoded as missing; ``True`` lets any
        field be absent, ``False`` requires every field (see
        :func:`nislink.encode.columns.resolve_columns`). ``result.summary`` (and
        ``self.summary``) counts per field the encoded rows whose value is present, missing
        or rejected; a :class:`~nislink.encode.columns.DataQualityWarning` is issued for a
        field with more than 20% missing or rejected (``self.warn = False`` silences it).
        A value longer than 200 characters rejects its row before any expensive work.

        ``columns`` maps schema field names to the data's column names where they differ
        from the schema's ``column`` (schema field -> input column). ``id_column`` names a
        unique record-id column (by default the index labels are the ids). Rejected rows
        are in ``self.rejects`` and ``result.rejects``. ``df`` may also be a pyarrow Table
        or RecordBatch, a Polars DataFrame (any Arrow stream) or a Parquet/CSV path
        (:func:`nislink.encode.columns.as_pandas`; such tables have no index, so give
        ``id_column``): the encodings are the same as from the equivalent pandas frame.
        """
        df = as_pandas(df, "encode()")
        schema = self.schema
        labels = df.index
        work = df.reset_index(drop=True)
        if schema.kind == "clkhash":
            return self._encode_clkhash(work, labels, id_column, party, destroy_by)
        colmap, absent = resolve_columns(schema, columns, list(work.columns),
                                         id_column=id_column, allow_absent=allow_absent)
        for name in absent:
            if colmap[name] not in work.columns:
                work[colmap[name]] = None
        w = self._n_workers(len(work))
        done = self._clean_encode_parallel(work, colmap, id_column, w) if w > 1 else None
        u_hist = None
        if done is not None:
            kept, rejects, status, outputs, u_values, u_hist = done
        else:
            values, kept, rejects, status = self._clean(work, colmap, id_column)
            values, kept, status, more = self._schema_rejects(work, id_column, values, kept,
                                                              status)
            rejects = pd.concat([rejects, more], ignore_index=True) if len(more) else rejects
            outputs = None  # after the checks below
            u_values = {f: v[:U_HIST_ROWS] for f, v in values.items()
                        if f in self._u_hist_fields()}
        self.summary = FieldSummary.from_status(
            status, absent, [f.name for f in schema.fields if f.kind in SPARSE_KINDS])
        rejects = rejects.sort_values("row", kind="stable").reset_index(drop=True)
        rejects["row"] = labels[rejects["row"].to_numpy(dtype=np.int64)].to_numpy(dtype=object) \
            if len(rejects) else rejects["row"].astype(object)
        if id_column is None:
            rejects["id"] = [str(r) for r in rejects["row"]]

        if id_column is not None:
            ids, all_text = id_texts(work[id_column].to_numpy(dtype=object)[kept])
        else:
            ids, all_text = id_texts(np.asarray(labels[kept], dtype=object))
        # ids that are all text are unique already (cleaning rejects every row whose id
        # another row holds); others may meet as text (1 and "1")
        if not (all_text and id_column is not None) and len(set(ids.tolist())) != len(ids):
            raise ValueError("record ids are not unique (as text); pass a unique id_column")

        fields_out, clk, tokens = outputs if outputs is not None else self._encode_values(
            values, len(kept))
        result = EncodedFrame(ids=ids, fields=fields_out, clk=clk, tokens=tokens,
                              meta=self._meta(len(ids), party, destroy_by))
        if u_values:
            result.meta["u_hist"] = u_hist if u_hist is not None \
                else self.u_histograms(u_values)
            result.u_values = u_values  # owner side only (encode_file merges chunks): never saved
        self.rejects = rejects
        result.rejects = rejects
        result.summary = self.summary
        if self.warn:
            for line in self.summary.warnings():
                warnings.warn(line, DataQualityWarning, stacklevel=2)
        return result

    def encode_normalised(
        self,
        values: Mapping[str, Any],
        ids: Any = None,
        party: str | None = None,
        destroy_by: str | _dt.date | None = None,
    ) -> EncodedFrame:
        """Encode values that are already normalised, skipping cleaning.

        ``values`` maps every schema field name to a sequence of normalised values
        (``None`` = missing) in the forms :mod:`nislink.encode.tokens` documents (names
        lower case, dates ``YYYY-MM-DD``, postcodes ``OUTWARD INWARD``). No row is rejected.
        For experiments and tests; data owners should use :meth:`encode`.
        """
        schema = self.schema
        if schema.kind != "nislink":
            raise ValueError("encode_normalised needs a nislink schema")
        missing = [f.name for f in schema.fields if f.name not in values]
        if missing:
            raise ValueError(f"values: no entry for field {missing[0]!r}")
        # NaN / NA are missing too: pandas 3 text Series hold NaN, not None
        arrays = {f.name: _conventions(f, np.array([None if _absent(v) else str(v)
                                                     for v in values[f.name]], dtype=object))
                  for f in schema.fields}
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) != 1:
            raise ValueError("values: the fields have different lengths")
        n = lengths.pop()
        if ids is None:
            ids = [str(i) for i in range(n)]
        fields_out, clk, tokens = self._encode_values(arrays, n)
        result = EncodedFrame(ids=np.array([str(i) for i in ids], dtype=object),
                              fields=fields_out, clk=clk, tokens=tokens,
                              meta=self._meta(n, party, destroy_by))
        u_values = {f: v[:U_HIST_ROWS] for f, v in arrays.items() if f in self._u_hist_fields()}
        if u_values:
            result.meta["u_hist"] = self.u_histograms(u_values)
        result.rejects = pd.DataFrame(columns=REJECT_COLUMNS)
        return result

    def _n_workers(self, n: int) -> int:
        if self.workers is not None:
            w = int(self.workers)
        else:
            w = min(2, os.cpu_count() or 1) if n >= self.PARALLEL_MIN_ROWS else 1
        if not fork_available():
            w = 1
        return max(1, min(w, n // 1000 or 1))

    def _schema_rejects(
        self, work: pd.DataFrame, id_column: str | None, values: dict[str, np.ndarray],
        kept: np.ndarray, status: dict[str, np.ndarray],
    ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray], pd.DataFrame]:
        """Rows the schema itself rejects among the cleaned ones: a 'reject' field missing,
        or nothing to encode. Returns the values, positions and statuses of the rows kept,
        and the rejects table of the others."""
        schema = self.schema
        extra_rows: list[int] = []
        extra_fields: list[str] = []
        extra_reasons: list[str] = []
        keep = np.ones(len(kept), dtype=bool)
        any_value = np.zeros(len(kept), dtype=bool)
        for f in schema.fields:
            present = np.not_equal(values[f.name], None)
            any_value |= present
            if f.missing == "reject":
                bad = keep & ~present
                for p in np.flatnonzero(bad):
                    extra_rows.append(int(kept[p]))
                    extra_fields.append(f.name)
                    extra_reasons.append(f"{f.name}: missing (the schema requires it)")
                keep &= present
        nothing = keep & ~any_value
        for p in np.flatnonzero(nothing):
            extra_rows.append(int(kept[p]))
            extra_fields.append(",".join(f.name for f in schema.fields))
            extra_reasons.append("no field could be encoded")
        keep &= ~nothing
        ids_extra = (work[id_column].to_numpy(dtype=object)[extra_rows]
                     if id_column is not None and extra_rows else None)
        more = pd.DataFrame({"row": np.array(extra_rows, dtype=np.int64), "id": ids_extra,
                             "field": extra_fields, "reason": extra_reasons})
        if keep.all():
            return values, kept, status, more
        return ({k: v[keep] for k, v in values.items()}, kept[keep],
                {k: v[keep] for k, v in status.items()}, more)

    def _clean_encode_parallel(
        self, work: pd.DataFrame, colmap: dict[str, str], id_column: str | None, w: int
    ) -> tuple[np.ndarray, pd.DataFrame, dict[str, np.ndarray],
               tuple[dict[str, BitMatrix], BitMatrix | None, dict[str, np.ndarray]],
               dict[str, np.ndarray], dict[str, dict[str, Any]] | None] | None:
        """Clean and encode in ``w`` forked processes, each taking contiguous rows from
        cleaning to encodings: ``(kept positions, rejects, statuses, outputs, values for
        the u histograms, the histograms)``, the same as in one process. The histograms are
        made by the first part (in this process, while the others finish) when it holds
        all their records, else ``None``. Ids are counted over the whole
        input first (an id held by two parts is a duplicate). Each process writes its
        encodings into one shared mapping at its rows' offset (layout from a probe of a few
        records); the parts are then moved together over the rejected rows. ``None`` when
        no probe record is kept (the caller then works in one process)."""
        prep = self._clean_setup(work, colmap, id_column, id_counts=True)
        short = np.flatnonzero(prep.short)
        u_fields = self._u_hist_fields()

        def clean_part(rows: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                  pd.DataFrame, dict[str, np.ndarray]]:
            values, kept, rejects, status = self._clean_rows(prep, rows)
            values, kept, status, more = self._schema_rejects(work, id_column, values, kept,
                                                              status)
            if len(more):
                rejects = pd.concat([rejects, more], ignore_index=True)
            return values, kept, rejects, status

        p_values, p_kept, _, _ = clean_part(short[:_PROBE_ROWS * 4])
        if len(p_kept) == 0:
            return None
        m = min(len(p_kept), _PROBE_ROWS)
        shared = _SharedOutputs(
            self._encode_values({k: v[:m] for k, v in p_values.items()}, m), len(short))

        def part(lo: int, hi: int) -> Any:
            values, kept, rejects, status = clean_part(short[lo:hi])
            # the filters are written straight into this part's rows of the shared outputs
            res = self._encode_values(values, len(kept), dest=shared.rows(lo, lo + len(kept)))
            written = shared.put(res, lo)
            u_part = {f: v[:U_HIST_ROWS] for f, v in values.items() if f in u_fields}
            # (statuses are 0-3: a byte each is an eighth of what goes back to the parent)
            small = {f: v.astype(np.int8) for f, v in status.items()}
            u_hist = self.u_histograms(u_part) if (
                lo == 0 and u_part and len(kept) >= U_HIST_ROWS) else None
            return kept, rejects, small, u_part, u_hist, None if written else res

        # the first part also makes the u histograms (as long to do as encoding about
        # _U_HIST_WORTH records): it takes that many fewer records, so the parts end together
        lead = _U_HIST_WORTH if u_fields and len(short) >= 2 * w * U_HIST_ROWS else 0
        ranges = row_ranges(len(short), w, head_start=lead)
        back = run_forked(part, ranges)
        at = 0
        outs = []
        for (lo, _), (kept, _, _, _, _, res) in zip(ranges, back):
            k = len(kept)
            if res is None and at != lo:  # close the gap left by rejected rows
                for a in shared.arrays.values():
                    a[at:at + k] = a[lo:lo + k]
            outs.append(res if res is not None else shared.result(at, at + k))
            at += k
        outputs = shared.result(0, at) if all(b[5] is None for b in back) \
            else _concat_results(outs)
        kept = np.concatenate([b[0] for b in back])
        rejects = pd.concat([prep.long_rej, *(b[1] for b in back)], ignore_index=True)
        status = {f: np.concatenate([b[2][f] for b in back]) for f in back[0][2]}
        u_values = {f: np.concatenate([b[3][f] for b in back])[:U_HIST_ROWS]
                    for f in back[0][3]}
        return kept, rejects, status, outputs, u_values, back[0][4]

    def _encode_values(
        self, values: dict[str, np.ndarray], n: int,
        dest: Mapping[tuple[str, str, str], np.ndarray] | None = None,
    ) -> tuple[dict[str, BitMatrix], BitMatrix | None, dict[str, np.ndarray]]:
        """Filters and tokens for normalised values (``None`` = missing), ``n`` records.
        ``dest``: arrays of ``n`` rows (by ``(kind, name, part)``, as
        :func:`_output_arrays` names them) that the field filters are written into in
        place (a forked worker's rows of the shared outputs), where their layout fits."""
        schema = self.schema
        fields_out: dict[str, BitMatrix] = {}
        tokens: dict[str, np.ndarray] = {}
        clk_acc: np.ndarray | None = None
        clk_len = schema.clk.length if schema.clk is not None else 0
        if schema.clk is not None:
            clk_acc = np.zeros((n, (clk_len + 63) // 64), dtype=np.uint64)
        factor_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        comp_cache: dict[tuple[str, str | None], tuple[np.ndarray, np.ndarray]] = {}
        hash_cache: dict[tuple[str, str | None], np.ndarray] = {}

        def factors(fname: str) -> tuple[np.ndarray, np.ndarray]:
            if fname not in factor_cache:
                factor_cache[fname] = factorize(values[fname])
            return factor_cache[fname]

        def component(name: str) -> tuple[np.ndarray, np.ndarray]:
            """(codes per record, distinct derived values) of a component."""
            fname, modifier = schema.resolve_component(name)
            ck = (fname, modifier)
            if ck not in comp_cache:
                codes, uniq = factors(fname)
                if modifier is None:
                    comp_cache[ck] = (codes, uniq)
                else:
                    derived = component_values(schema.field(fname).kind, modifier, uniq)
                    d_codes, d_uniq = factorize(derived)
                    d_codes = np.append(d_codes, -1)
                    comp_cache[ck] = (d_codes[codes], d_uniq)
            return comp_cache[ck]

        def component_text(name: str) -> np.ndarray:
            codes, uniq = component(name)
            return np.append(uniq, None).astype(object)[codes]

        def component_hash(name: str) -> np.ndarray:
            """Keyed 64-bit value per record of a component (0 = missing)."""
            fname, modifier = schema.resolve_component(name)
            ck = (fname, modifier)
            if ck not in hash_cache:
                codes, uniq = component(name)
                purpose, target = ("token", fname) if modifier is None else (
                    "component", f"{fname}_{modifier}")
                h = _text_uint64(uniq, self._key(purpose, target),
                                 table("field", fname) if modifier is None else None)
                hash_cache[ck] = np.append(h, np.uint64(0))[codes]
            return hash_cache[ck]

        salt_cache: dict[str, tuple[np.ndarray, np.ndarray | _JoinedTexts]] = {}
        comp_tables: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}

        def component_table(name: str) -> tuple[np.ndarray, np.ndarray] | None:
            if name not in comp_tables:
                comp_tables[name] = _kernel_table(component(name)[1])
            return comp_tables[name]

        def salt_codes(salt: str) -> tuple[np.ndarray, np.ndarray | _JoinedTexts]:
            """(codes per record, distinct texts) of a salt (components joined by ``|``;
            code -1 where any component is missing), built from the components' codes:
            one text per distinct combination, not per record."""
            if salt not in salt_cache:
                parts = [component(p) for p in salt.split(SALT_JOIN)]
                if len(parts) == 1:
                    salt_cache[salt] = parts[0]
                else:
                    salt_cache[salt] = _join_codes(
                        parts, [component_table(p) for p in salt.split(SALT_JOIN)])
            return salt_cache[salt]

        tables: dict[tuple[str, str], tuple[np.ndarray, np.ndarray] | None] = {}

        def table(kind: str, name: str) -> tuple[np.ndarray, np.ndarray] | None:
            """Byte table of a field's distinct values or a salt's distinct texts (None
            if one is longer than a BLAKE3 block)."""
            if (kind, name) not in tables:
                uniq = factors(name)[1] if kind == "field" else salt_codes(name)[1]
                tables[kind, name] = uniq.table() if isinstance(uniq, _JoinedTexts) \
                    else _kernel_table(uniq)
            return tables[kind, name]

        memo: dict[Any, Any] = {}

        tagged: list[str] = []
        for f in schema.fields:
            want_clk = bool(f.clk and schema.clk is not None)
            for vi, (out_name, salt_name) in enumerate(f.views):
                view_clk = want_clk and vi == 0
                if f.has_filter or view_clk:
                    fbits, cbits = self._field_filters(
                        f, values[f.name], view_clk, clk_len, factors(f.name),
                        out_name=out_name,
                        salt_factorised=salt_codes(salt_name) if salt_name is not None
                        else None,
                        salt_table=table("salt", salt_name) if salt_name is not None
                        else None, memo=memo,
                        dest=_field_dest(dest, out_name, n, f.length))
                    if fbits is not None:
                        fields_out[out_name] = fbits
                    if cbits is not None and clk_acc is not None:
                        clk_acc |= cbits
                if f.exact_token:
                    if f.hardening.salt_only and salt_name is not None:
                        # the name's token is salted like its filter: never a name alone
                        tokens[out_name] = self._pair_token(
                            factors(f.name), table("field", f.name), salt_codes(salt_name),
                            table("salt", salt_name), out_name)
                    elif vi == 0:
                        tokens[f.name] = component_hash(f.name)
                if f.hardening.salt_only and salt_name is not None and salt_name not in tagged:
                    tagged.append(salt_name)
            if f.swap_with is not None:
                pair = _swap_pairs(factors(f.name), factors(f.swap_with))
                pair_tab = _kernel_table(pair[1])
                for salt_name, tname in f.swap_tokens:
                    tokens[tname] = self._pair_token(pair, pair_tab, salt_codes(salt_name),
                                                     table("salt", salt_name), tname)
            if f.level_tokens:  # near-miss level tokens of a date or a postcode
                codes, uniq = factors(f.name)
                for _, names in f.level_tokens:
                    for tname in names:
                        lt = tname.split(LEVEL_SEP, 1)[1]
                        texts = (date_level_values(uniq, lt) if f.kind == "dob"
                                 else component_values(f.kind, lt, uniq)).tolist()
                        ok = np.fromiter(map(bool, texts), dtype=bool, count=len(texts))
                        h = np.zeros(len(texts), dtype=np.uint64)
                        if ok.any():
                            h[ok] = _text_uint64(list(compress(texts, ok.tolist())),
                                                 self._key("datelevel", tname))
                        tokens[tname] = np.append(h, np.uint64(0))[codes]
        for salt_name in tagged:
            s_codes, s_uniq = salt_codes(salt_name)
            h = _text_uint64(s_uniq, self._key("salttag", salt_name), table("salt", salt_name))
            tokens[salt_tag(salt_name)] = np.append(h, np.uint64(0))[s_codes]

        for mk in schema.match_keys:
            words = np.stack([component_hash(c) for c in mk.components], axis=1)
            key = self._key("matchkey", mk.name)[:16]
            tok = siphash24_words(key, words)
            tok[tok == 0] = 1
            tok[(words == 0).any(axis=1)] = 0
            tokens[mk.name] = tok
        if schema.slk581:
            tokens["slk581"] = self._slk581(values, n, factors)

        clk: BitMatrix | None = None
        if clk_acc is not None and schema.clk is not None:
            present = clk_acc.any(axis=1)
            bits, length = _hardening.apply(
                clk_acc, clk_len, schema.clk.hardening,
                lambda purpose: self._key(purpose, "@clk"))
            clk = BitMatrix(bits, length, present=present)
        return fields_out, clk, tokens

    def _field_filters(
        self, f: FieldSpec, vals: np.ndarray, want_clk: bool,
        clk_len: int, factorised: tuple[np.ndarray, np.ndarray] | None = None,
        out_name: str | None = None,
        salt_factorised: tuple[np.ndarray, np.ndarray | _JoinedTexts] | None = None,
        salt_table: tuple[np.ndarray, np.ndarray] | None = None,
        memo: dict[Any, Any] | None = None,
        dest: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> tuple[BitMatrix | None, np.ndarray | None]:
        """Field-level filter (hardened) and the field's CLK contribution (unhardened).

        ``factorised``: ``factorize(vals)`` if the caller has it; ``salt_factorised``: the
        view's salt as ``(codes per record, distinct texts)`` (code -1 where the salt is
        missing), ``None`` for an unsalted filter; ``salt_table``: :func:`_kernel_table` of
        the distinct salts; ``memo``: a dict kept across the views of one batch (tokens of
        distinct values).

        ``out_name`` names the filter (the field, or one of its salted views): it selects
        the sub-keys. With ``hardening.mask`` a record whose salt is missing gets no filter,
        and each distinct filter is XORed with the keyed mask of its salt before balancing.
        """
        schema = self.schema
        out_name = out_name or f.name
        salted = salt_factorised is not None
        masked = f.hardening.mask and salted
        # a field compared only under a shared salt: a record whose salt is missing gets no
        # filter (rather than joining one large class of records salted with "")
        strict = f.hardening.salt_only and salted
        fast: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        if salt_factorised is not None:
            # distinct (value, salt) pairs; each distinct value is tokenised once and its
            # tokens are salted per pair (message: token + "\x1f" + salt)
            v_codes, v_uniq = factorised if factorised is not None else factorize(vals)
            s_codes, s_uniq = salt_factorised
            ns = len(s_uniq) + 1
            s_codes = np.where(s_codes < 0, ns - 1, s_codes)
            ok = v_codes >= 0
            if strict:
                ok &= s_codes < ns - 1
            pair = np.where(ok, v_codes * ns + s_codes, -1)
            u_pair, codes = _factor_codes(pair)
            uniq = u_pair
            u_name = (u_pair // ns).astype(np.int64)
            memo_key = (f.name, id(v_uniq))
            if memo is not None and memo_key in memo:
                name_text, per_name, start, tok_tab, tok_row, _ = memo[memo_key]
            else:
                name_occ, name_text = token_occurrences(f, v_uniq, None)
                order0 = np.argsort(name_occ, kind="stable")
                name_occ, name_text = name_occ[order0], name_text[order0]
                per_name = np.bincount(name_occ, minlength=len(v_uniq))
                start = np.cumsum(per_name) - per_name
                # the kernel reads each token from a table of the distinct tokens (a few
                # hundred q-grams: it stays in cache), not one row per occurrence
                tok_row, tok_uniq = factorize(name_text)
                tok_tab = _kernel_table(tok_uniq)
                if memo is not None:  # the views of a field share its distinct values
                    memo[memo_key] = (name_text, per_name, start, tok_tab, tok_row, v_uniq)
            cnt = per_name[u_name]
            if (tok_tab is not None and f.bits_per_field is not None and f.has_filter
                    and schema.hashing == "blake3" and not want_clk):
                s_tab = salt_table if salt_table is not None else _kernel_table(_texts(s_uniq))
                if s_tab is not None and (tok_tab[1].max(initial=0) + 1
                                          + s_tab[1].max(initial=0) <= MAX_MESSAGE):
                    # the missing salt "" is index len(s_uniq), as in s_ext: past the
                    # table's rows, which the kernel reads as the empty text
                    fast = (tok_tab[0], tok_tab[1], s_tab[0], np.append(s_tab[1], 0))
        u_salt: np.ndarray | None = None
        if salted and (fast is None or masked):
            # each distinct pair's salt text (unmasked, a missing salt is "")
            u_salt = np.append(_texts(s_uniq), "").astype(object)[u_pair % ns]
        if fast is not None:
            # the compiled path: messages assembled and hashed, bits set, in one kernel
            occ_val = np.zeros(0, dtype=np.int64)
            occ_text = np.zeros(0, dtype=object)
        elif salted:
            occ_val = np.repeat(np.arange(len(u_pair), dtype=np.int64), cnt)
            within = np.arange(len(occ_val), dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt,
                                                                        cnt)
            idx = np.repeat(start[u_name], cnt) + within
            occ_text = name_text[idx] + (np.array("\x1f", dtype=object) + u_salt[occ_val]) \
                if len(idx) else np.zeros(0, dtype=object)
        if not salted:
            codes, uniq = factorised if factorised is not None else factorize(vals)
        n_uniq = len(uniq)
        if not salted:
            # every token occurrence of every distinct value, then the distinct messages
            occ_val, occ_text = token_occurrences(f, uniq, None)
        if salted:
            # salted messages are nearly all distinct: hash every occurrence, no look-up
            msg_codes, msg_uniq = np.arange(len(occ_text), dtype=np.int64), occ_text
        else:
            msg_codes, msg_uniq = factorize(occ_text) if len(occ_text) else (
                np.zeros(0, np.int64), np.zeros(0, object))
        messages = [m.encode("utf-8") for m in msg_uniq]
        order = np.argsort(occ_val, kind="stable")
        occ_val = occ_val[order]
        msg_codes = msg_codes[order]
        n_tok = np.bincount(occ_val, minlength=n_uniq)

        bpf = f.bits_per_field
        kf = int(f.k) if bpf is None else int(bpf)
        kc = (int(f.clk_k) if bpf is None else int(bpf)) if want_clk else 0
        if bpf is not None:
            k_val = np.maximum(1, np.minimum(bpf, np.rint(bpf / np.maximum(n_tok, 1))))
            k_occ = k_val.astype(np.int64)[occ_val]
        else:
            k_occ = None
        bloom_key = self._key("bloom", out_name)
        if fast is not None:
            raw = None
        elif k_occ is not None and not want_clk and schema.hashing == "blake3":
            # k per value, field filter only: each token needs only the first k of its
            # words (an XOF's shorter output is a prefix of the longer), so tokens are hashed
            # in groups of equal k instead of all to bits_per_field words
            raw = None
        else:
            raw = keyed_digests(messages, bloom_key, digest_length(schema.hashing, kf, kc))

        def build_by_k(length: int) -> np.ndarray:
            assert k_occ is not None
            k_msg = np.zeros(len(messages), dtype=np.int64)
            np.maximum.at(k_msg, msg_codes, k_occ)
            rows_all: list[np.ndarray] = []
            pos_all: list[np.ndarray] = []
            for kv in np.unique(k_msg[k_msg > 0]).tolist():
                sel = np.flatnonzero(k_msg == kv)
                g_raw = keyed_digests([messages[i] for i in sel], bloom_key, 4 * kv)
                pos = positions(g_raw, "blake3", 0, 0, kv, length)
                where = np.full(len(messages), -1, dtype=np.int64)
                where[sel] = np.arange(len(sel))
                occ = np.flatnonzero(where[msg_codes] >= 0)
                p_occ = pos[where[msg_codes[occ]]]
                mask = np.arange(kv)[None, :] < k_occ[occ][:, None]
                rows_all.append(np.broadcast_to(occ_val[occ][:, None], mask.shape)[mask])
                pos_all.append(p_occ[mask])
            if not rows_all:
                return np.zeros((n_uniq, (length + 63) // 64), dtype=np.uint64)
            rows_c, pos_c = np.concatenate(rows_all), np.concatenate(pos_all)
            order_c = np.argsort(rows_c, kind="stable")  # scatter_rows wants sorted rows
            return scatter_rows(rows_c[order_c], pos_c[order_c], n_uniq, length)

        def build(part: int, offset: int, k: int, length: int) -> np.ndarray:
            if raw is None:
                return build_by_k(length)
            pos_tok = positions(raw, schema.hashing, part, offset, k, length)
            if k_occ is not None:  # k varies per value: scatter occurrence by occurrence
                pos_occ = pos_tok[msg_codes]
                mask = np.arange(k)[None, :] < k_occ[:, None]
                rows = np.broadcast_to(occ_val[:, None], mask.shape)[mask]
                return scatter_rows(rows, pos_occ[mask], n_uniq, length)
            # one packed mask per distinct token, OR-reduced per distinct value
            t = len(messages)
            tok_bits = scatter_rows(np.repeat(np.arange(t, dtype=np.int64), k),
                                    pos_tok.reshape(-1), t, length)
            out = np.zeros((n_uniq, tok_bits.shape[1]), dtype=np.uint64)
            has = np.flatnonzero(n_tok)
            if len(has):
                starts = np.concatenate([[0], np.cumsum(n_tok[has])[:-1]])
                out[has] = np.bitwise_or.reduceat(tok_bits[msg_codes], starts, axis=0)
            return out

        fbm: BitMatrix | None = None
        if f.has_filter:
            length = int(f.length or 0)
            if fast is not None:
                assert bpf is not None
                ub = salted_filters(fast[0], fast[1], start, per_name, fast[2], fast[3],
                                    u_name, u_pair % ns, int(bpf), length, bloom_key,
                                    tok_row=tok_row)
            else:
                ub = build(0, 0, kf, length)
            if masked and n_uniq:
                ub ^= self._salt_masks(u_salt, length, out_name)
            ub, out_len = _hardening.apply(ub, length, f.hardening,
                                           lambda purpose: self._key(purpose, out_name))
            into = dest if dest is not None and dest[0].shape[1] == ub.shape[1] else None
            rows, pop = _gather_rows(ub, codes, None if into is None else into[:2])
            present = codes >= 0 if into is None else np.greater_equal(codes, 0, out=into[2])
            fbm = BitMatrix(rows, out_len, popcount=pop, present=present)
        cbits: np.ndarray | None = None
        if want_clk:
            cbits = _gather_rows(build(1, kf, kc, clk_len), codes)[0]
        return fbm, cbits

    def _salt_masks(self, salts: np.ndarray, length: int, out_name: str) -> np.ndarray:
        """Packed keyed masks (one row per entry of ``salts``): the first ``length`` bits of
        the keyed BLAKE3 output (sub-key ``mask <fp> <filter>``) of the salt's text."""
        s_codes, s_uniq = factorize(salts)
        words = (length + 63) // 64
        raw = _text_digests(s_uniq, self._key("mask", out_name), 8 * words)
        m = raw.copy().view("<u8").reshape(len(s_uniq), words).astype(np.uint64)
        if length % 64:
            m[:, -1] &= np.uint64((1 << (length % 64)) - 1)
        return m[s_codes]

    def _salted_token(self, vals: np.ndarray, salt: np.ndarray, out_name: str) -> np.ndarray:
        """Keyed exact-match token of (value, salt) per record (0 if either is missing):
        the reference (one Python string per record) for :meth:`_pair_token`."""
        keyed = np.array([None if v is None or t is None else f"{v}\x1f{t}"
                          for v, t in zip(vals.tolist(), salt.tolist())], dtype=object)
        codes, uniq = factorize(keyed)
        h = keyed_uint64([u.encode("utf-8") for u in uniq], self._key("token", out_name))
        return np.append(h, np.uint64(0))[codes]

    def _pair_token(self, vals: tuple[np.ndarray, np.ndarray],
                    v_tab: tuple[np.ndarray, np.ndarray] | None,
                    salt: tuple[np.ndarray, np.ndarray | _JoinedTexts],
                    s_tab: tuple[np.ndarray, np.ndarray] | None, out_name: str) -> np.ndarray:
        """:meth:`_salted_token` from factorised values and salts (``(codes, distinct)``,
        code -1 missing): each distinct (value, salt) pair hashed once, the message
        ``value || 0x1F || salt`` assembled in compiled code from the byte tables
        ``v_tab`` / ``s_tab`` (``None``: too long for it, strings are built instead)."""
        v_codes, v_uniq = vals
        s_codes, s_uniq = salt
        ok = (v_codes >= 0) & (s_codes >= 0)
        pair = np.where(ok, v_codes * np.int64(max(len(s_uniq), 1)) + s_codes, -1)
        u_pair, inv = _factor_codes(pair)
        ns = max(len(s_uniq), 1)
        iv, isalt = u_pair // ns, u_pair % ns
        key = self._key("token", out_name)
        if (v_tab is not None and s_tab is not None
                and v_tab[1].max(initial=0) + 1 + s_tab[1].max(initial=0) <= MAX_MESSAGE):
            w = joined_xof_words(v_tab[0], v_tab[1], iv, s_tab[0], s_tab[1], isalt, key, 2)
            h = w[:, 0].astype(np.uint64) | (w[:, 1].astype(np.uint64) << np.uint64(32))
            h[h == 0] = 1
        else:
            msgs = v_uniq[iv].astype(object) + "\x1f" + _texts(s_uniq)[isalt].astype(object) \
                if len(u_pair) else np.zeros(0, dtype=object)
            h = keyed_uint64([m.encode("utf-8") for m in msgs], key)
        return np.append(h, np.uint64(0))[inv]

    def _slk581(self, values: dict[str, np.ndarray], n: int,
                factors: Callable[[str], tuple[np.ndarray, np.ndarray]] | None = None,
                ) -> np.ndarray:
        """Keyed SLK-581 tokens (0 where the date of birth is missing).

        The four parts (surname letters 2,3,5; forename letters 2,3; DDMMYYYY; sex code)
        are each hashed with the sub-key ``component <fp> slk581_<part>`` and combined with
        SipHash-2-4 under the ``slk581`` sub-key, exactly like a match key. ``factors``:
        the caller's ``factorize`` of a field by name, if it has them already.
        """
        schema = self.schema
        words = np.zeros((n, 4), dtype=np.uint64)
        for j, kind in enumerate(("surname", "forename", "dob", "sex")):
            f = schema.first_of_kind(kind)
            assert f is not None
            codes, uniq = factors(f.name) if factors is not None else factorize(values[f.name])
            table = np.empty(len(uniq) + 1, dtype=object)
            table[:-1] = slk581_parts(kind, uniq)
            table[-1] = slk581_part(kind, None)
            p_codes, p_uniq = factorize(np.where(table == "", None, table).astype(object))
            h = keyed_uint64([u.encode("ascii") for u in p_uniq],
                             self._key("component", f"slk581_{kind}"))
            words[:, j] = np.append(h, np.uint64(0))[p_codes][codes]
        tok = siphash24_words(self._key("slk581", "slk581")[:16], words)
        tok[tok == 0] = 1
        tok[words[:, 2] == 0] = 0
        return tok

    # -- u histograms of salted names ------------------------------------------------------
    def _u_hist_fields(self) -> list[str]:
        """Fields compared only within a salt (salted views or a salt mask)."""
        return [f.name for f in self.schema.fields
                if f.has_filter and f.hardening.salt_only]

    def u_histograms(self, values: Mapping[str, np.ndarray], pairs: int = U_HIST_PAIRS,
                     seed: int = 0) -> dict[str, dict[str, Any]]:
        """How random pairs of this file's records compare on each salted name field.

        The linkage unit compares a salted name only between records that share a salt, so
        it cannot learn from random pairs how often two unrelated names look alike (``u``).
        The data owner can: for ``pairs`` random pairs of the given records (seeded), the
        Dice coefficient of the two names' *unsalted* filters (same tokens, length and bits
        as the field, under a key of their own, never stored) in 1,001 bins
        (``floor(1000 * dice)``) and the number of pairs with equal names. An aggregate of
        the file's name diversity, with nothing about any record; the encoder puts it in the
        file's metadata (``meta["u_hist"]``) from the first :data:`U_HIST_ROWS` records.
        """
        out: dict[str, dict[str, Any]] = {}
        for name in self._u_hist_fields():
            if name not in values:
                continue
            f = self.schema.field(name)
            vals = np.asarray(values[name], dtype=object)
            codes, uniq = factorize(vals)
            rows = np.flatnonzero(codes >= 0)
            m = len(rows)
            if m < 2:
                continue
            plain = copy.deepcopy(f)
            plain.hardening = Hardening()
            plain.clk = False
            bm, _ = self._field_filters(plain, uniq, False, 0,
                                        (np.arange(len(uniq), dtype=np.int64), uniq),
                                        out_name=f"{name}#u")
            assert bm is not None
            total = m * (m - 1) // 2
            rng = np.random.default_rng(seed)
            if total <= pairs:
                i, j = np.triu_indices(m, k=1)
            else:
                i = rng.integers(0, m, size=pairs)
                j = rng.integers(0, m - 1, size=pairs)
                j = j + (j >= i)
            ca, cb = codes[rows[i]], codes[rows[j]]
            equal = ca == cb
            inter = np.bitwise_count(bm.bits[ca] & bm.bits[cb]).sum(axis=1, dtype=np.int64)
            tot = bm.popcount[ca].astype(np.int64) + bm.popcount[cb].astype(np.int64)
            dice = np.where(tot > 0, 2.0 * inter / np.maximum(tot, 1), 0.0)
            bins = np.minimum(np.floor(dice[~equal] * 1000 + 1e-9), 1000).astype(np.int64)
            out[name] = {"pairs": int(len(ca)), "equal": int(equal.sum()),
                         "dice_permille": np.bincount(bins, minlength=1001).tolist()}
        return out

    def _meta(self, rows: int, party: str | None, destroy_by: Any) -> dict[str, Any]:
        if isinstance(destroy_by, (_dt.date, _dt.datetime)):
            destroy_by = destroy_by.isoformat()
        created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        return {
            "scheme_version": SCHEME_VERSION,
            "schema_fingerprint": self.fingerprint,
            "key_fingerprint": self.key_fingerprint,
            "party": party,
            "created": created.isoformat().replace("+00:00", "Z"),
            "destroy_by": destroy_by,
            "rows": int(rows),
            "schema": self.schema.to_dict(),
        }

    def _encode_clkhash(self, work: pd.DataFrame, labels: pd.Index, id_column: str | None,
                        party: str | None, destroy_by: Any) -> EncodedFrame:
        """CLKs of a clkhash schema (no cleaning: clkhash encodes the text as given)."""
        cs = self.schema.clkhash_schema
        if id_column is not None:
            ids = np.array([str(v) for v in work[id_column].to_numpy(dtype=object)], dtype=object)
            rows = work.drop(columns=[id_column])
        else:
            ids = np.array([str(v) for v in labels], dtype=object)
            rows = work
        if len(set(ids.tolist())) != len(ids):
            raise ValueError("record ids are not unique (as text); pass a unique id_column")
        rows = rows.astype(object).where(rows.notna(), "").astype(str)
        clk = cs.encode(rows, self._secret._material())
        result = EncodedFrame(ids=ids, fields={}, clk=clk, tokens={},
                              meta=self._meta(len(ids), party, destroy_by))
        self.rejects = pd.DataFrame(columns=REJECT_COLUMNS)
        result.rejects = self.rejects
        return result


class _JoinedTexts:
    """The distinct texts of a salt joined from components (``"a|b"``), one per distinct
    combination of the components' codes, made only when read (:meth:`array`): the
    compiled paths need only their byte table (:meth:`table`), which is built from the
    components' byte tables without a Python string per text."""

    def __init__(self, parts: list[tuple[np.ndarray, np.ndarray]], first: np.ndarray,
                 tables: list[tuple[np.ndarray, np.ndarray] | None]) -> None:
        self._parts = parts
        self._first = first  # a record holding each combination
        self._tables = tables  # the components' byte tables (None: too long for one)
        self._texts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._first)

    def array(self) -> np.ndarray:
        """The texts, ``object`` array."""
        if self._texts is None:
            self._texts = _joined_texts(self._parts, self._first)
        return self._texts

    def table(self) -> tuple[np.ndarray, np.ndarray] | None:
        """:func:`_kernel_table` of :meth:`array`: the same bytes and lengths (a text's
        UTF-8 bytes are its components' joined by ``|``)."""
        if any(t is None for t in self._tables):
            return _kernel_table(self.array())
        n = len(self._first)
        out = np.zeros((n, MAX_MESSAGE), dtype=np.uint8)
        lens = np.zeros(n, dtype=np.int64)
        for j, ((c, _), tab) in enumerate(zip(self._parts, self._tables)):
            assert tab is not None
            if not _append_rows(out, lens, tab[0], tab[1], c[self._first], j > 0):
                return _kernel_table(self.array())  # longer than a block: as that says
        return out, lens


@njit(cache=True, nogil=True, boundscheck=False)
def _append_rows(out, lens, tab, tab_len, idx, sep):  # type: ignore[no-untyped-def]
    """Append row ``idx[r]`` of a byte table to row ``r`` of ``out`` (after a ``|`` when
    ``sep``), ``lens`` the rows' lengths so far; False (rows left partly written) when a
    row would pass :data:`MAX_MESSAGE` bytes."""
    width = out.shape[1]
    for r in range(idx.shape[0]):
        at = lens[r]
        k = tab_len[idx[r]]
        if at + k + (1 if sep else 0) > width:
            return False
        if sep:
            out[r, at] = 124  # "|"
            at += 1
        for i in range(k):
            out[r, at + i] = tab[idx[r], i]
        lens[r] = at + k
    return True


def _joined_texts(parts: list[tuple[np.ndarray, np.ndarray]], first: np.ndarray) -> np.ndarray:
    """The components' texts at the records ``first``, joined by ``|``."""
    texts = np.zeros(0, dtype=object)
    for j, (c, u) in enumerate(parts):
        piece = u.astype(object)[c[first]] if len(first) else np.zeros(0, dtype=object)
        texts = piece if j == 0 else texts + "|" + piece
    return texts


def _join_codes(parts: list[tuple[np.ndarray, np.ndarray]],
                tables: list[tuple[np.ndarray, np.ndarray] | None] | None = None,
                ) -> tuple[np.ndarray, np.ndarray | _JoinedTexts]:
    """Factorised components joined by ``|`` (missing where any is missing): ``(codes,
    distinct texts)``, the texts one per distinct combination of codes. With ``tables``
    (the components' :func:`_kernel_table`) and no component holding ``|``, the texts are
    a :class:`_JoinedTexts`, made only if read."""
    codes = np.zeros(len(parts[0][0]), dtype=np.int64)
    ok = np.ones(len(codes), dtype=bool)
    span = 1  # codes are below this
    for c, u in parts:
        ok &= c >= 0
        if span * (len(u) + 1) >= 2**62:  # renumber densely first: no overflow
            codes, span = _dense(codes), len(codes) + 1
        codes = codes * np.int64(len(u) + 1) + (c + 1)
        span *= len(u) + 1
    combo = np.where(ok, codes, -1)
    u_combo, inv = _factor_codes(combo)
    first = _first_positions(inv, len(u_combo))
    if not any("|" in "".join(u.tolist()) for _, u in parts):
        # no component holds "|": distinct combinations are distinct texts, already in
        # order of first appearance (what factorize below would return)
        if tables is not None:
            return inv.astype(np.int64, copy=False), _JoinedTexts(parts, first, tables)
        return inv.astype(np.int64, copy=False), _joined_texts(parts, first)
    # distinct combinations can still give one text (a component holding "|")
    t_codes, t_uniq = factorize(_joined_texts(parts, first))
    return np.where(inv >= 0, np.append(t_codes, -1)[inv], -1).astype(np.int64), t_uniq


def _texts(uniq: np.ndarray | _JoinedTexts) -> np.ndarray:
    """Distinct texts as an array (a :class:`_JoinedTexts` made now)."""
    return uniq.array() if isinstance(uniq, _JoinedTexts) else uniq


def _factor_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct non-negative codes, index of each entry into them or -1 where the code is
    negative)``, by hashing (no sort); distinct codes in order of first appearance."""
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    bits = max(4, int(2 * len(codes)).bit_length())  # load factor at most 1/2
    uniq = np.empty(len(codes), dtype=np.int64)
    inv = np.empty(len(codes), dtype=np.int64)
    # numbers fit 32 bits below 2**31 entries: half the table to fill and to miss in cache
    tab_type = np.int32 if len(codes) < 2**31 - 1 else np.int64
    k = _first_seen(codes, np.full(1 << bits, -1, dtype=tab_type), bits, uniq, inv)
    return uniq[:k].copy(), inv


@njit(cache=True, nogil=True, boundscheck=False)
def _first_seen(codes, table, bits, uniq, inv):  # type: ignore[no-untyped-def]
    """Number the distinct non-negative ``codes`` in order of first appearance (``uniq``:
    the codes, ``inv``: each entry's number, -1 for negative codes); returns how many.
    ``table``: an open-addressing hash table (``2**bits`` slots, at least twice the
    entries, all -1) of numbers, probed linearly from a multiplicative hash of the code."""
    mask = table.shape[0] - 1
    shift = np.uint64(64 - bits)
    k = 0
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 0:
            inv[i] = -1
            continue
        h = np.int64((np.uint64(c) * np.uint64(0x9E3779B97F4A7C15)) >> shift) & mask
        while True:
            j = np.int64(table[h])
            if j < 0:
                table[h] = k
                uniq[k] = c
                inv[i] = k
                k += 1
                break
            if uniq[j] == c:
                inv[i] = j
                break
            h = (h + 1) & mask
    return k


def _gather_rows(ub: np.ndarray, codes: np.ndarray,
                 out: tuple[np.ndarray, np.ndarray] | None = None,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, popcounts)``: row ``codes[i]`` of the packed ``ub`` for each record, an
    all-zero row where ``codes[i]`` is negative (no value), and each row's popcount (the
    distinct rows' popcounts, gathered): one compiled pass, no zero row appended to ``ub``
    and no per-record popcount. ``out``: the ``(rows, popcounts)`` arrays to fill
    (``uint64`` and ``int32``, C-contiguous, one row per code), else new ones."""
    ub = np.ascontiguousarray(ub, dtype=np.uint64)
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    pop = popcount_rows(ub) if len(ub) else np.zeros(0, dtype=np.int32)
    if out is None:
        rows = np.empty((len(codes), ub.shape[1]), dtype=np.uint64)
        counts = np.empty(len(codes), dtype=np.int32)
    else:
        rows, counts = out
        if (rows.shape != (len(codes), ub.shape[1]) or counts.shape != (len(codes),)
                or rows.dtype != np.uint64 or counts.dtype != np.int32
                or not (rows.flags.c_contiguous and counts.flags.c_contiguous)):
            raise ValueError("_gather_rows: out arrays do not fit the rows")
    _gather_kernel(ub, pop, codes, rows, counts)
    return rows, counts


def _field_dest(dest: Mapping[tuple[str, str, str], np.ndarray] | None, name: str, n: int,
                nbits: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The (bits, popcount, present) arrays of filter ``name`` in ``dest`` when there are
    all three, with ``n`` rows of the filter's width and types; else ``None``."""
    if dest is None or nbits is None:
        return None
    parts = [dest.get(("field", name, p)) for p in ("bits", "popcount", "present")]
    if any(a is None for a in parts):
        return None
    bits, pop, present = parts
    assert bits is not None and pop is not None and present is not None
    if (bits.shape[0] != n or pop.shape != (n,) or present.shape != (n,)
            or bits.dtype != np.uint64 or pop.dtype != np.int32 or present.dtype != bool):
        return None
    return bits, pop, present


@njit(cache=True, nogil=True, boundscheck=False)
def _gather_kernel(ub, pop, codes, rows, counts):  # type: ignore[no-untyped-def]
    w = ub.shape[1]
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 0:
            for q in range(w):
                rows[i, q] = 0
            counts[i] = 0
        else:
            for q in range(w):
                rows[i, q] = ub[c, q]
            counts[i] = pop[c]


def _dense(codes: np.ndarray) -> np.ndarray:
    """Codes renumbered ``0 .. m-1`` in order of first appearance (non-negative codes
    only)."""
    return _factor_codes(codes)[1]


def _swap_pairs(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Factorised text ``min(x, y) + "\x1e" + max(x, y)`` of two factorised name fields
    (missing where either is), built once per distinct pair."""
    ca, ua = a
    cb, ub = b
    ok = (ca >= 0) & (cb >= 0)
    pair = np.where(ok, ca * np.int64(max(len(ub), 1)) + cb, -1)
    u_pair, inv = _factor_codes(pair)
    nb = max(len(ub), 1)
    xs = np.asarray(ua, dtype=object)[u_pair // nb]
    ys = np.asarray(ub, dtype=object)[u_pair % nb]
    # the smaller text first, as sorted() puts it (element-wise string comparisons)
    texts = (np.minimum(xs, ys) + "\x1e" + np.maximum(xs, ys)) if len(xs) else \
        np.zeros(0, dtype=object)
    t_codes, t_uniq = factorize(texts)
    return np.where(inv >= 0, np.append(t_codes, -1)[inv], -1).astype(np.int64), t_uniq


def _kernel_table(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`~nislink.encode.blake3_batch.byte_table` of UTF-8 texts, or ``None`` when one
    is longer than a BLAKE3 block (the general path then builds strings)."""
    items = texts.tolist()
    n = len(items)
    lens = np.fromiter(map(len, items), dtype=np.int64, count=n)
    if n and lens.max() > MAX_MESSAGE:
        return None  # more than 64 characters: more than 64 bytes
    try:  # ASCII texts (the usual case): one encoding of them all, characters are bytes
        joined = "".join(items).encode("ascii")
    except UnicodeEncodeError:
        raw = [t.encode("utf-8") for t in items]
        if max(map(len, raw), default=0) > MAX_MESSAGE:
            return None
        return byte_table(raw)
    return joined_table(joined, lens), lens


def _text_digests(texts: Any, key: bytes, nbytes: int,
                  table: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """:func:`~nislink.encode.bloom.keyed_digests` of the UTF-8 bytes of ``texts``, from
    their byte table (``table``, or :func:`_kernel_table`) when every text fits one BLAKE3
    block: no ``bytes`` object per text. The same digests either way."""
    if table is None:
        texts = np.asarray(_texts(texts), dtype=object)
        if len(texts):
            table = _kernel_table(texts)
    if table is not None and len(key) == 32:
        return keyed_xof_table(table[0], table[1], key, nbytes)
    texts = np.asarray(_texts(texts), dtype=object)
    return keyed_digests([t.encode("utf-8") for t in texts.tolist()], key, nbytes)


def _text_uint64(texts: Any, key: bytes,
                 table: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """:func:`~nislink.encode.bloom.keyed_uint64` of the UTF-8 bytes of ``texts`` (see
    :func:`_text_digests`)."""
    out = _text_digests(texts, key, 8, table).view("<u8").reshape(-1).astype(np.uint64)
    out[out == 0] = 1
    return out


@dataclass
class _CleanSetup:
    """The input as :meth:`Encoder._clean_rows` cleans it: the frame (status columns of an
    earlier cleaning set aside), the column of each field, the id column, the kind of each
    cleaned column, the earlier statuses, the rejects for too-long values and the mask of
    the other rows, and (when cleaning in parts) how many rows share each row's id."""

    df: pd.DataFrame
    colmap: dict[str, str]
    id_column: str | None
    col_kind: dict[str, str]
    given: dict[str, np.ndarray]
    long_rej: pd.DataFrame
    short: np.ndarray
    id_counts: np.ndarray | None


_PROBE_ROWS = 16
"""Records encoded once to learn the layout of a parallel encoding's outputs."""


class _SharedOutputs:
    """The arrays of an encoding's outputs (field filters, record filter, tokens) for ``n``
    records in one anonymous shared mapping, laid out like ``probe`` (an
    :meth:`Encoder._encode_values` result for a few records): forked workers write their
    row ranges in place (:meth:`put`), and the parent reads the whole (:meth:`result`)."""

    def __init__(self, probe: tuple[dict[str, BitMatrix], BitMatrix | None,
                                    dict[str, np.ndarray]], n: int) -> None:
        fields, clk, tokens = probe
        self.nbits = {k: bm.nbits for k, bm in fields.items()}
        self.clk_nbits = clk.nbits if clk is not None else None
        layout = _output_arrays(probe)
        sizes = [n * int(np.prod(a.shape[1:], dtype=np.int64)) for a in layout.values()]
        offsets, total = [], 0
        for a, size in zip(layout.values(), sizes):
            offsets.append(total)
            total += -(-size * a.dtype.itemsize // 8) * 8  # each array 8-byte aligned
        self._buf = mmap.mmap(-1, max(total, 8))
        self.arrays = {
            key: np.frombuffer(self._buf, dtype=a.dtype, count=size, offset=off).reshape(
                (n, *a.shape[1:]))
            for (key, a), size, off in zip(layout.items(), sizes, offsets)}

    def put(self, res: tuple[dict[str, BitMatrix], BitMatrix | None, dict[str, np.ndarray]],
            lo: int) -> bool:
        """Write ``res`` (the outputs of records ``lo``, ``lo + 1``, ...) in place; False
        (nothing written) when its layout is not the probe's."""
        parts = _output_arrays(res)
        if parts.keys() != self.arrays.keys() or any(
                a.dtype != self.arrays[k].dtype or a.shape[1:] != self.arrays[k].shape[1:]
                for k, a in parts.items()):
            return False
        for k, a in parts.items():
            to = self.arrays[k][lo:lo + len(a)]
            if not (a.ctypes.data == to.ctypes.data and a.shape == to.shape):
                to[...] = a  # (arrays written in place, see rows(), are not copied again)
        return True

    def rows(self, lo: int, hi: int) -> dict[tuple[str, str, str], np.ndarray]:
        """Every output array's rows ``lo:hi``, to be written in place."""
        return {k: v[lo:hi] for k, v in self.arrays.items()}

    def result(self, lo: int = 0, hi: int | None = None
               ) -> tuple[dict[str, BitMatrix], BitMatrix | None, dict[str, np.ndarray]]:
        """The outputs of records ``lo:hi`` (all by default), as arrays over the mapping."""
        a = {k: v[lo:hi] for k, v in self.arrays.items()}

        def bm(kind: str, name: str, nbits: int) -> BitMatrix:
            return BitMatrix(a[kind, name, "bits"], nbits, a[kind, name, "popcount"],
                             a[kind, name, "present"])

        fields = {name: bm("field", name, nbits) for name, nbits in self.nbits.items()}
        clk = bm("clk", "", self.clk_nbits) if self.clk_nbits is not None else None
        tokens = {name: a[kind, name, ""] for kind, name, _ in a if kind == "token"}
        return fields, clk, tokens


def _output_arrays(res: tuple[dict[str, BitMatrix], BitMatrix | None, dict[str, np.ndarray]]
                   ) -> dict[tuple[str, str, str], np.ndarray]:
    """Every array of an :meth:`Encoder._encode_values` result, by (kind, name, part)."""
    fields, clk, tokens = res
    out: dict[tuple[str, str, str], np.ndarray] = {}
    for kind, name, bm in [*(("field", k, b) for k, b in fields.items()),
                           *((("clk", "", clk),) if clk is not None else ())]:
        out[kind, name, "bits"] = bm.bits
        out[kind, name, "popcount"] = bm.popcount
        out[kind, name, "present"] = bm.present
    for name, tok in tokens.items():
        out["token", name, ""] = tok
    return out


def _concat_bm(parts: list[BitMatrix]) -> BitMatrix:
    return BitMatrix(np.vstack([p.bits for p in parts]), parts[0].nbits,
                     np.concatenate([p.popcount for p in parts]),
                     np.concatenate([p.present for p in parts]))


def _concat_results(
    results: list[tuple[dict[str, BitMatrix], BitMatrix | None, dict[str, np.ndarray]]],
) -> tuple[dict[str, BitMatrix], BitMatrix | None, dict[str, np.ndarray]]:
    fields = {k: _concat_bm([r[0][k] for r in results]) for k in results[0][0]}
    clk = _concat_bm([r[1] for r in results]) if results[0][1] is not None else None  # type: ignore[misc]
    tokens = {k: np.concatenate([r[2][k] for r in results]) for k in results[0][2]}
    return fields, clk, tokens


def _too_long(df: pd.DataFrame, schema: Schema, colmap: dict[str, str], id_column: str | None
              ) -> tuple[pd.DataFrame, np.ndarray]:
    """(rejects of the rows holding a value longer than the limit, mask of the other rows)."""
    by_col = too_long_rows(df, [*colmap.values(), *([id_column] if id_column else [])])
    short = np.ones(len(df), dtype=bool)
    if not by_col:
        return pd.DataFrame(columns=REJECT_COLUMNS), short
    names: dict[str, list[str]] = {}
    for f in schema.fields:
        names.setdefault(colmap[f.name], []).append(f.name)
    if id_column:
        names.setdefault(id_column, []).append(id_column)
    rows = np.flatnonzero(np.logical_or.reduce(list(by_col.values())))
    short[rows] = False
    fields_out, reasons = [], []
    for r in rows.tolist():
        bad = [n for c, m in by_col.items() if m[r] for n in names.get(c, [c])]
        fields_out.append(",".join(bad))
        reasons.append("; ".join(f"{n}: longer than {MAX_FIELD_CHARS} characters" for n in bad))
    ids = None
    if id_column is not None:
        ids = [None if id_column in by_col and by_col[id_column][r] else v
               for r, v in zip(rows.tolist(), df[id_column].to_numpy(dtype=object)[rows])]
    return pd.DataFrame({"row": rows.astype(np.int64), "id": ids, "field": fields_out,
                         "reason": reasons}), short


_STATUS_SET = frozenset(s.value for s in Status)


def cleaned_statuses(df: pd.DataFrame, columns: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The ``<column>_status`` columns that :func:`nislink.clean.frame` added to ``df`` for
    the mapped ``columns`` (column -> kind), as object arrays (``None`` where blank): the
    mark of a cleaned frame, which :meth:`Encoder.encode` accepts as it accepts the raw one.

    A status column holding anything but a cleaning status (:class:`nislink.clean.Status`)
    is an error naming the column and the first such row (by position and label).
    """
    out: dict[str, np.ndarray] = {}
    for col in columns:
        sc = f"{col}_status"
        if sc not in df.columns:
            continue
        vals = df[sc].astype(object).to_numpy()
        vals = np.where(pd.isna(vals), None, vals).astype(object)
        bad = [i for i, v in enumerate(vals.tolist())
               if v is not None and str(v) not in _STATUS_SET]
        if bad:
            i = bad[0]
            raise ValueError(
                f"column {sc!r}, row {i} (label {df.index[i]!r}): not a cleaning status "
                f"({len(bad)} such rows); a column named <column>_status next to a mapped "
                f"column must be the status nislink.clean.frame wrote (one of "
                f"{', '.join(sorted(_STATUS_SET))}); rename it")
        out[col] = np.array([None if v is None else str(v) for v in vals.tolist()],
                            dtype=object)
    return out


def _dates_to_iso(series: pd.Series) -> np.ndarray:
    """``YYYY-MM-DD`` strings (``None`` for NaT) from a datetime or date column."""
    arr = series.to_numpy()
    if np.issubdtype(arr.dtype, np.datetime64):
        days = arr.astype("datetime64[D]")
        nat = np.isnat(days)
        codes, uniq = pd.factorize(days[~nat]) if (~nat).any() else (np.zeros(0, np.int64), [])
        out = np.full(len(arr), None, dtype=object)
        if len(uniq):
            iso = np.datetime_as_string(np.asarray(uniq, dtype="datetime64[D]"), unit="D")
            out[~nat] = np.asarray(iso, dtype=object)[codes]
        return out
    out = np.full(len(arr), None, dtype=object)
    for i, v in enumerate(arr):
        if isinstance(v, (_dt.date, _dt.datetime)):
            out[i] = v.strftime("%Y-%m-%d")
    return out

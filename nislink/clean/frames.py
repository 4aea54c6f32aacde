"""Clean a whole pandas DataFrame, column by column, and account for every row.

:func:`frame` returns ``(clean, rejects)`` with ``len(clean) + len(rejects) == len(df)``:

* ``clean`` holds the kept rows with their original index and all their columns. Every
  mapped column is replaced by its normalised value (``None`` when not accepted; dates of
  birth as ``datetime64[ns]`` with ``NaT``) and followed by a ``<column>_status`` column
  (categorical, the :class:`~nislink.clean._result.Status` value: ``"ok"``,
  ``"missing"``, ``"invalid"``, ...). An invalid field in an otherwise usable row becomes
  missing, and its status says why.
* ``rejects`` has exactly one row per rejected input row, with columns ``row`` (the
  original index label), ``id`` (when ``id_column`` is given), ``field`` (the field or
  fields responsible, comma-separated) and ``reason`` (one text naming each field and
  what was wrong with it).

Rejection policy (a row is rejected outright when any rule applies; all reasons that
apply are combined):

1. **Nothing to link on**: none of its identifying fields is usable, i.e. no accepted
   name (``name``, ``forename`` or ``surname`` columns), no accepted date of birth and no
   accepted NINO or UPN. Only the kinds that are mapped count; when no identifying kind
   is mapped at all (e.g. only ``postcode`` and ``sex``) this rule does not apply.
   Postcode and sex alone never make a row usable.
2. **Missing id** (when ``id_column`` is given): the id is ``None``, NaN or blank.
3. **Duplicated id** (when ``id_column`` is given): every row that shares its id with
   another row is rejected (we cannot tell which one is right).

Cleaning is vectorised: each column is factorised, each distinct value is normalised
once (the scalar normalisers are also cached), and the results are mapped back.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nislink.clean import dates, ids, postcodes
from nislink.clean._result import Checked, Status, is_missing
from nislink.clean.dates import check_dob
from nislink.clean.ids import check_nino, check_upn
from nislink.clean.names import check_name, plain_names
from nislink.clean.postcodes import check_postcode
from nislink.clean.sex_codes import check_sex
from nislink.clean.vectorise import factorize

__all__ = ["IDENTIFYING_KINDS", "KINDS", "explain", "frame", "id_texts", "id_usage"]

#: Identifier kinds that :func:`frame` understands.
KINDS: tuple[str, ...] = ("name", "forename", "surname", "dob", "postcode", "sex", "nino", "upn")

_NAME_KINDS = frozenset({"name", "forename", "surname"})
_ID_KINDS = frozenset({"nino", "upn"})
#: Kinds of which at least one must be usable for a row to be kept.
IDENTIFYING_KINDS: frozenset[str] = _NAME_KINDS | {"dob"} | _ID_KINDS

_STATUS_VALUES: list[str] = [s.value for s in Status]
_STATUS_CODE: dict[str, int] = {v: i for i, v in enumerate(_STATUS_VALUES)}
_MISSING_CODE = _STATUS_CODE[Status.MISSING.value]
_OK_CODE = _STATUS_CODE[Status.OK.value]


def _checker(kind: str, dayfirst: bool, today: _dt.date | None,
             earliest: _dt.date | str | None = None) -> Callable[[Any], Checked[Any]]:
    if kind in _NAME_KINDS:
        return check_name
    if kind == "dob":
        return lambda v: check_dob(v, dayfirst=dayfirst, today=today, earliest=earliest)
    if kind == "postcode":
        return check_postcode
    if kind == "sex":
        return check_sex
    if kind == "nino":
        return check_nino
    if kind == "upn":
        return check_upn
    raise ValueError(f"unknown identifier kind {kind!r}; expected one of {', '.join(KINDS)}")


def explain(
    kind: str, value: Any, *, dayfirst: bool = True, today: _dt.date | None = None,
    earliest: _dt.date | str | None = None,
) -> str | None:
    """Why ``value`` is not accepted as a ``kind``; ``None`` when it is accepted.

    >>> explain("sex", "F") is None
    True
    >>> explain("name", "12345")
    'invalid: contains digits'
    """
    r = _checker(kind, dayfirst, today, earliest)(value)
    if r.ok:
        return None
    return f"{r.status.value}: {r.reason}" if r.reason else r.status.value


def _factorize(series: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes, distinct values) with -1 for missing; None when values are unhashable.

    Object columns with anything but strings are factorised on (type, value) so that
    ``True`` and ``1`` (equal in Python) stay distinct. Strings that pandas' hash table
    confuses (``"\x00"`` and ``""``, lone surrogates) are kept apart by
    :func:`~nislink.clean.vectorise.factorize`.
    """
    try:
        if series.dtype == object:
            kind = pd.api.types.infer_dtype(series, skipna=True)
            if kind not in ("string", "empty"):
                keyed = np.empty(len(series), dtype=object)
                keyed[:] = [None if is_missing(v) else (type(v), v) for v in series.tolist()]
                codes, uniq = factorize(keyed)
                values = np.empty(len(uniq), dtype=object)
                values[:] = [u[1] for u in uniq]
                return codes, values
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            return factorize(series.to_numpy(dtype=object))
        codes, uniq = pd.factorize(series, use_na_sentinel=True)
        values = np.empty(len(uniq), dtype=object)
        values[:] = list(uniq)
        return np.asarray(codes), values
    except TypeError:
        return None


def _clean_column(
    series: pd.Series, kind: str, dayfirst: bool, today: _dt.date,
    earliest: _dt.date | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(normalised values, status codes) for one column, one check per distinct value."""
    n = len(series)
    vectorised = _series_function(kind)
    if vectorised is not None:
        if kind == "dob":
            values, status = vectorised(series, dayfirst=dayfirst, today=today,
                                        earliest=earliest)
            values = values.to_numpy(dtype="datetime64[ns]")
        else:
            values, status = vectorised(series)
            values = values.to_numpy(dtype=object)
        codes = pd.Categorical(
            np.asarray(status, dtype=object), categories=_STATUS_VALUES
        ).codes.astype(np.int8)
        if (codes < 0).any():  # pragma: no cover - a status string we do not know
            raise RuntimeError(f"{kind}_series returned an unknown status")
        return values, codes
    check = _checker(kind, dayfirst, today, earliest)
    fact = _factorize(series)
    if fact is None:  # unhashable values: element by element
        results = [check(v) for v in series.tolist()]
        u_val = np.empty(n, dtype=object)
        u_val[:] = [r.accepted for r in results]
        u_code = np.array([_STATUS_CODE[r.status.value] for r in results], dtype=np.int8)
        codes = np.arange(n)
    else:
        codes, uniq = fact
        k = len(uniq)
        u_val = np.empty(k + 1, dtype=object)
        u_code = np.empty(k + 1, dtype=np.int8)
        if kind in _NAME_KINDS:
            u_val[:k], u_code[:k] = _name_results(uniq)
        else:
            results = [check(v) for v in uniq]
            u_val[:k] = [r.accepted for r in results]
            u_code[:k] = [_STATUS_CODE[r.status.value] for r in results]
        u_val[k] = None
        u_code[k] = _MISSING_CODE
        codes = np.where(codes < 0, k, codes)
    values = u_val[codes]
    if kind == "dob":  # only when dob_series is unavailable
        values = pd.to_datetime(pd.Series(values, dtype=object)).to_numpy(dtype="datetime64[ns]")
    return values, u_code[codes]


def _name_results(uniq: np.ndarray) -> tuple[list[str | None], list[int]]:
    """(accepted value, status code) of :func:`check_name` for each distinct name: the
    plain names it accepts as they are found for all at once (``plain_names``), the
    others checked one by one."""
    items = uniq.tolist()
    values: list[str | None] = []
    codes: list[int] = []
    for fast, v in zip(plain_names(items), items):
        if fast is None:
            r = check_name(v)
            values.append(r.accepted)
            codes.append(_STATUS_CODE[r.status.value])
        else:
            values.append(fast)
            codes.append(_OK_CODE)
    return values, codes


def _series_function(kind: str) -> Callable[..., tuple[pd.Series, pd.Series]] | None:
    """The vectorised ``<kind>_series`` of the kind's module, when it provides one.

    Each returns ``(values, statuses)`` equal to applying the scalar checker element by
    element (their modules test this); names and sex use the generic factorised path.
    """

    module = {"dob": dates, "postcode": postcodes, "nino": ids, "upn": ids}.get(kind)
    return getattr(module, f"{kind}_series", None) if module is not None else None


def _blank(series: pd.Series) -> np.ndarray:
    """True where an id is missing: None, NaN, NA, NaT or a blank string."""
    out = np.array(series.isna(), dtype=bool)  # a writable copy (pandas 3 gives views)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        if pd.api.types.infer_dtype(series, skipna=True) == "string":
            arr = pa.array(series.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
            empty = pc.equal(pc.utf8_trim_whitespace(arr), "").fill_null(False)
            out |= np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool)
        else:
            as_obj = series.to_numpy(dtype=object)
            out |= np.fromiter(
                (isinstance(v, str) and v.strip() == "" for v in as_obj),
                dtype=bool,
                count=len(as_obj),
            )
    return out


def id_usage(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(missing, count)`` per row of an id column: whether the id is missing (None, NaN,
    NA, NaT or blank text) and how many rows hold the same (present) id (0 if missing).
    The duplicate rule of :func:`frame`."""
    missing = _blank(ids)
    try:
        codes, _ = pd.factorize(ids, use_na_sentinel=True)
    except TypeError:  # unhashable ids: compare their reprs
        codes, _ = pd.factorize(pd.Series([repr(v) for v in ids.tolist()]))
    codes = np.where(missing, -1, codes)
    present = codes >= 0
    counts = np.bincount(codes[present], minlength=1)
    count = np.zeros(len(ids), dtype=np.int64)
    count[present] = counts[codes[present]]
    return missing, count


def id_texts(raw: np.ndarray) -> tuple[np.ndarray, bool]:
    """Record ids (an object array) as text (``str(id)``), and whether they were all
    ``str`` already: then ``raw`` itself is returned, and ids unique as values (as
    :func:`id_usage` counts them) are unique as text too."""
    items = raw.tolist()
    if set(map(type, items)) <= {str}:
        return raw, True
    return np.array(list(map(str, items)), dtype=object), False


def frame(
    df: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    id_column: str | None = None,
    dayfirst: bool = True,
    today: _dt.date | None = None,
    earliest: _dt.date | str | Mapping[str, _dt.date | str | None] | None = None,
    id_counts: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean ``df`` per ``columns`` (column name -> kind); return ``(clean, rejects)``.

    ``kind`` is one of :data:`KINDS`. ``id_column`` names a record id column that must be
    present and unique (it is kept unchanged). ``dayfirst`` and ``today`` are passed to
    the date-of-birth parser (``today`` defaults to the current date, resolved once), and
    ``earliest``, the first plausible date of birth (default 1900-01-01; one date, or a
    mapping from date column to date), to the range check. ``id_counts``: when ``df`` is
    one slice of a larger input cleaned in parts, the number of rows of the whole input
    sharing each row's id (:func:`id_usage` of the whole id column), so that an id
    duplicated across slices is still rejected.
    See the module docstring for the output layout and the rejection policy.

    Raises ``ValueError`` when a mapped column or the id column is missing from ``df``,
    a kind is unknown, or a ``<column>_status`` output column would clash with an input
    column.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"frame() expects a pandas DataFrame, got {type(df).__name__}")
    today = today if today is not None else _dt.date.today()
    for col, kind in columns.items():
        if col not in df.columns:
            raise ValueError(
                f"column {col!r} (mapped to {kind!r}) is not in the DataFrame; "
                f"columns are: {', '.join(map(str, df.columns))}"
            )
        if kind not in KINDS:
            raise ValueError(
                f"column {col!r}: unknown identifier kind {kind!r}; expected one of "
                f"{', '.join(KINDS)}"
            )
        if f"{col}_status" in df.columns:
            raise ValueError(
                f"column {col!r}: output column {col}_status already exists in the DataFrame"
            )
    if id_column is not None and id_column not in df.columns:
        raise ValueError(f"id column {id_column!r} is not in the DataFrame")
    dup_names = list(df.columns[df.columns.duplicated()])
    if dup_names:
        raise ValueError(f"column name(s) {dup_names!r} appear more than once in the DataFrame")

    n = len(df)
    cleaned: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for col, kind in columns.items():
        first = earliest.get(col) if isinstance(earliest, Mapping) else earliest
        cleaned[col] = _clean_column(df[col], kind, dayfirst, today, first)

    # --- rejection policy
    ident_cols = [c for c, k in columns.items() if k in IDENTIFYING_KINDS]
    no_ident = np.zeros(n, dtype=bool)
    if ident_cols:
        usable = np.zeros(n, dtype=bool)
        for c in ident_cols:
            usable |= cleaned[c][1] == _OK_CODE
        no_ident = ~usable
    id_missing = np.zeros(n, dtype=bool)
    id_dup = np.zeros(n, dtype=bool)
    id_count = np.zeros(n, dtype=np.int64)
    if id_column is not None:
        if id_counts is None:
            id_missing, id_count = id_usage(df[id_column])
        else:
            id_count = np.asarray(id_counts, dtype=np.int64)
            if id_count.shape != (n,):
                raise ValueError(f"id_counts has {id_count.shape} entries for {n} rows")
            id_missing = _blank(df[id_column])
        id_dup = id_count > 1
    rejected = no_ident | id_missing | id_dup
    keep = ~rejected

    # --- rejects table: one row per rejected input row
    rej_pos = np.flatnonzero(rejected)
    fields_out: list[str] = []
    reasons_out: list[str] = []
    if len(rej_pos):
        checkers = {c: _checker(columns[c], dayfirst, today, earliest.get(c) if isinstance(
            earliest, Mapping) else earliest) for c in ident_cols}
        raw = {c: df[c].to_numpy(dtype=object) for c in ident_cols}
        for p in rej_pos:
            fields: list[str] = []
            parts: list[str] = []
            if id_column is not None and id_missing[p]:
                fields.append(id_column)
                parts.append(f"{id_column}: missing id")
            if id_column is not None and id_dup[p]:
                fields.append(id_column)
                parts.append(f"{id_column}: duplicated id ({id_count[p]} rows share it)")
            if no_ident[p]:
                detail = []
                for c in ident_cols:
                    r = checkers[c](raw[c][p])
                    why = f"{r.status.value}" + (f" ({r.reason})" if r.reason else "")
                    detail.append(f"{c}: {why}")
                    fields.append(c)
                parts.append(
                    "no usable name, date of birth, NINO or UPN [" + "; ".join(detail) + "]"
                )
            fields_out.append(",".join(fields))
            reasons_out.append("; ".join(parts))
    rejects_cols: dict[str, Any] = {"row": df.index[rej_pos].to_numpy(dtype=object)}
    if id_column is not None:
        rejects_cols["id"] = df[id_column].to_numpy(dtype=object)[rej_pos]
    rejects_cols["field"] = np.array(fields_out, dtype=object)
    rejects_cols["reason"] = np.array(reasons_out, dtype=object)
    # object columns in both pandas 2 and 3 (pandas 3 would infer ``str`` from text)
    rejects = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in rejects_cols.items()})

    # --- clean table: kept rows, original order, index and columns
    keep_pos = np.flatnonzero(keep)
    keep_index = df.index[keep_pos]
    out: dict[Any, Any] = {}
    for col in df.columns:
        # Columns are wrapped in Series with an explicit dtype: from a bare object array
        # pandas 3 would infer its ``str`` dtype (NaN instead of None for missing).
        if col in cleaned:
            values, codes = cleaned[col]
            kept = values[keep_pos]
            out[col] = pd.Series(kept, index=keep_index, dtype=kept.dtype, copy=False)
            out[f"{col}_status"] = pd.Categorical.from_codes(
                codes[keep_pos], categories=pd.Index(_STATUS_VALUES, dtype=object)
            )
        else:
            taken = df[col].array.take(keep_pos)
            out[col] = pd.Series(taken, index=keep_index, dtype=taken.dtype, copy=False)
    clean = pd.DataFrame(out, index=keep_index, copy=False)
    return clean, rejects

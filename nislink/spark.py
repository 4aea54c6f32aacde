"""The nislink pipeline on Apache Spark, for data beyond one machine (extra ``[spark]``).

The same stages as on one machine, giving the same answers:

* :func:`encode`: a data owner's Spark DataFrame to encodings with ``mapInPandas``; every
  batch is encoded by :class:`nislink.Encoder`, whose output for a record depends only on
  that record, the schema and the secret, so the bits equal the local encoder's.
* :func:`candidate_pairs`: blocking as joins on keys (keyed tokens and match keys, pair
  tokens such as ``"surname+dob"``, LSH band keys with the same sampled bit positions as
  :class:`nislink.block.LSHBlocking`), block-size caps and length filters as in
  :mod:`nislink.block`; pairs de-duplicated.
* :func:`score`: comparison and Fellegi-Sunter scoring of candidate pairs in vectorised
  pandas UDFs with a trained :class:`nislink.model.FellegiSunter` (trained locally on a
  sample by :func:`fit_model`, or any trained model loaded from JSON).
* :func:`link` / :func:`dedupe`: threshold, one-to-one assignment (greedy or optimal: the
  pair graph is split into connected components on Spark and each component is resolved
  by :mod:`nislink.resolve`, which gives the local result exactly) and clustering
  (connected components by iterative min-label propagation).
* results are Spark DataFrames; :func:`write_parquet`, :meth:`SparkEncoded.write` and
  :func:`read_encoded` store them as Parquet.

Encoded Spark DataFrames (:class:`SparkEncoded`) have the columns ``_row`` (``long``,
record order: ties between equal weights are broken by it exactly as by row positions
locally), ``id`` (``string``), ``bf:<field>`` (``binary``: the row's little-endian
``uint64`` words), ``present:<field>`` (``boolean``), ``clk``/``present:clk`` and
``tok:<name>`` (``long``: the ``uint64`` token's bits as a signed integer; 0 = missing).
Encodings from :func:`encode` (of a schema with filters and tokens) are views over packed
columns (:attr:`SparkEncoded.packed`), and :meth:`SparkEncoded.write` stores those
(``"layout": "packed-1"`` in the folder's ``_nislink_meta``; ``layout="columns"`` writes
the columns above instead); :func:`read_encoded` reads either form.

**The secret on executors.** :class:`nislink.Secret` refuses to be pickled. ``secret``
may be a ``Secret`` (its key material travels inside the pickled task closure, in a
holder whose ``repr`` is masked, so it never appears in query plans, the Spark UI or
logs; turn on ``spark.network.crypto.enabled`` so closures are encrypted in transit), or
the text ``"env:NAME"`` / ``"file:/path"``: executors then read the key themselves from
that environment variable (set ``spark.executorEnv.NAME``; Spark redacts configuration
keys matching ``secret``) or that file, and nothing secret is shipped at all. Only data
owners encode; the linkage unit's functions need no secret.

Errors from Spark set-up (no Java, wrong Java, bad configuration, a session that cannot
start) are raised as one :class:`SparkSetupError` with a plain message.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as _cc

from nislink import block
from nislink.clean.frames import id_texts, id_usage
from nislink.compare import dice_pairs, threshold_pairs
from nislink.encode.encoder import Encoder
from nislink.errors import NislinkError
from nislink.frame import BitMatrix, EncodedFrame
from nislink.io import check_compatible
from nislink.linkage import (
    DiceBlocking,
    combine_tokens,
    default_blocking,
    RENAMED_OPTIONS,
    prepare_model,
    renamed_options,
    with_combined_tokens,
)
from nislink.linkage import dedupe as _dedupe
from nislink.linkage import link as _link
from nislink.model import (
    CandidatePatterns,
    FellegiSunter,
    compress_patterns,
    weight_to_probability,
)
from nislink.resolve import one_to_one as _assign
from nislink.schema import Schema
from nislink.secrets import Secret

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "SparkSetupError",
    "SparkEncoded",
    "SparkLinkResult",
    "SparkDedupeResult",
    "check_java",
    "session",
    "encode",
    "from_local",
    "read_encoded",
    "candidate_pairs",
    "score",
    "fit_model",
    "connected_components",
    "one_to_one",
    "link",
    "dedupe",
    "write_parquet",
]

ROW = "_row"
MIN_JAVA = 17


class SparkSetupError(NislinkError, RuntimeError):
    """Spark could not be used: PySpark or Java missing, bad configuration, start failure."""


# --------------------------------------------------------------------------- set-up


def _absent_id(v: Any) -> bool:
    """True for a missing id: ``None``, NaN (pandas 3 text columns) or ``NA``."""
    return v is None or v is pd.NA or (isinstance(v, float) and v != v)


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401, PLC0415
    except ImportError:
        raise SparkSetupError(
            "nislink.spark needs PySpark 4 and Java 17+: pip install 'nislink[spark]'"
        ) from None


def check_java() -> str:
    """Check that Java 17 or later is available (``JAVA_HOME`` or ``java`` on ``PATH``).

    Returns the path of the ``java`` binary; raises :class:`SparkSetupError` otherwise.
    """
    home = os.environ.get("JAVA_HOME")
    if home:
        java = os.path.join(home, "bin", "java")
        if not os.path.isfile(java):
            raise SparkSetupError(
                f"JAVA_HOME is {home!r} but {java} does not exist: point JAVA_HOME at a "
                f"Java {MIN_JAVA}+ installation (or unset it to use java on PATH)")
    else:
        found = shutil.which("java")
        if found is None:
            raise SparkSetupError(
                f"Java was not found: Spark needs Java {MIN_JAVA} or later; install it "
                "(e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME")
        java = found
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SparkSetupError(f"cannot run {java} -version: {exc}") from None
    text = (out.stderr or "") + (out.stdout or "")
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if out.returncode != 0 or m is None:
        raise SparkSetupError(f"{java} -version failed; Spark needs Java {MIN_JAVA} or later")
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8" style
        major = int(m.group(2))
    if major < MIN_JAVA:
        raise SparkSetupError(
            f"Java {major} found at {java}; PySpark 4 needs Java {MIN_JAVA} or later")
    return java


_MASTER_RE = re.compile(
    r"^(local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|yarn|spark://.+|k8s://.+"
    r"|mesos://.+)$")
_SIZE_RE = re.compile(r"^\d+[kmgtp]?b?$", re.IGNORECASE)


def _check_conf(master: str | None, conf: Mapping[str, Any]) -> dict[str, str]:
    if master is not None and not _MASTER_RE.match(str(master)):
        raise SparkSetupError(
            f"bad Spark master {master!r}: expected local, local[N], local[*], yarn, "
            "spark://host:port or k8s://...")
    out: dict[str, str] = {}
    for k, v in conf.items():
        if not isinstance(k, str) or not k.startswith("spark."):
            raise SparkSetupError(f"bad Spark configuration key {k!r}: keys start with 'spark.'")
        if isinstance(v, bool):
            v = "true" if v else "false"
        if not isinstance(v, (str, int, float)):
            raise SparkSetupError(f"Spark configuration {k}: value must be text or a number")
        v = str(v)
        if (k.endswith(".memory") or k.endswith("memoryOverhead")
                or k.endswith("maxResultSize")) and not _SIZE_RE.match(v):
            raise SparkSetupError(
                f"Spark configuration {k}={v!r} is not a size (e.g. '4g', '512m')")
        if k == "spark.sql.shuffle.partitions" and not (v.isdigit() and int(v) > 0):
            raise SparkSetupError(f"spark.sql.shuffle.partitions must be a positive integer, "
                                  f"got {v!r}")
        out[k] = v
    return out


def session(
    master: str | None = "local[2]",
    *,
    app_name: str = "nislink",
    conf: Mapping[str, Any] | None = None,
    shuffle_partitions: int | None = None,
    log_level: str = "WARN",
) -> "SparkSession":
    """Start (or get) a SparkSession set up for nislink.

    Checks PySpark and Java first; Python workers use this interpreter unless
    ``PYSPARK_PYTHON`` is set; Arrow is on. ``master=None`` leaves the master to
    ``spark-submit``. Any failure is raised as :class:`SparkSetupError`.
    """
    _require_pyspark()
    cfg = dict(conf or {})
    if shuffle_partitions is not None:
        cfg["spark.sql.shuffle.partitions"] = shuffle_partitions
    cfg = _check_conf(master, cfg)
    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession  # noqa: PLC0415

    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    cfg.setdefault("spark.sql.execution.arrow.pyspark.enabled", "true")
    cfg.setdefault("spark.sql.session.timeZone", "UTC")
    cfg.setdefault("spark.ui.showConsoleProgress", "false")
    # encodings are random-looking bits: compressing their shuffles saves ~7% of the bytes
    # for much CPU (at a million people the tile shuffle's map stage 37 -> 29 CPU-s)
    cfg.setdefault("spark.shuffle.compress", "false")
    for k, v in cfg.items():
        builder = builder.config(k, v)
    try:
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel(log_level)
    except Exception as exc:  # noqa: BLE001 - Py4J, PySparkRuntimeError, Java errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SparkSetupError(f"Spark could not start (master={master!r}): {first}") from None
    return spark


# --------------------------------------------------------------------------- secrets


class _SealedKey:
    """Key material for executors; never printed. Pickles to its bytes (task closures
    only), unlike :class:`Secret`, which refuses pickling altogether."""

    __slots__ = ("_k",)

    def __init__(self, key: bytes) -> None:
        self._k = bytes(key)

    def __repr__(self) -> str:
        return "<nislink sealed key>"

    __str__ = __repr__

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_SealedKey, (self._k,))

    def open(self) -> Secret:
        """The :class:`Secret`."""
        return Secret.from_bytes(self._k)


class _SourcedKey:
    """A reference to key material each executor loads itself (``env:`` or ``file:``)."""

    __slots__ = ("_src",)

    def __init__(self, src: str) -> None:
        self._src = src

    def __repr__(self) -> str:
        return f"<nislink key from {self._src.split(':', 1)[0]}>"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_SourcedKey, (self._src,))

    def open(self) -> Secret:
        """Load the :class:`Secret` from the environment variable or file."""
        kind, _, where = self._src.partition(":")
        return Secret.from_env(where) if kind == "env" else Secret.from_file(where)


def _key_source(secret: Secret | str) -> tuple[Secret, _SealedKey | _SourcedKey]:
    if isinstance(secret, Secret):
        return secret, _SealedKey(secret._material())
    if isinstance(secret, str) and secret.startswith(("env:", "file:")) and \
            secret.split(":", 1)[1]:
        src = _SourcedKey(secret)
        return src.open(), src
    raise TypeError("secret must be a nislink.Secret or the text 'env:NAME' / 'file:/path'")


# --------------------------------------------------------------------------- encodings


def _bf(name: str) -> str:
    return f"bf:{name}"


def _pr(name: str) -> str:
    return f"present:{name}"


def _tk(name: str) -> str:
    return f"tok:{name}"


def _pack_rows(bits: np.ndarray) -> list[bytes]:
    le = np.ascontiguousarray(bits.astype("<u8", copy=False))
    return [r.tobytes() for r in le]


def _unpack_rows(values: Any, nbits: int) -> np.ndarray:
    words = (nbits + 63) // 64
    vals = list(values)
    if not vals:
        return np.zeros((0, words), dtype=np.uint64)
    buf = b"".join(bytes(v) for v in vals)
    return np.frombuffer(buf, dtype="<u8").reshape(len(vals), words).astype(np.uint64)


def _u2i(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.uint64).view(np.int64)


def _i2u(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.int64).view(np.uint64)


@dataclass
class SparkEncoded:
    """One party's encodings as a Spark DataFrame (layout in the module docstring).

    ``meta`` is the encoder's metadata (as :attr:`EncodedFrame.meta`), ``fields`` maps
    each field to its filter length in bits, ``clk_nbits`` is the CLK length (or
    ``None``) and ``tokens`` lists the token names. ``rejects`` (from :func:`encode`):
    ``row, id, field, reason`` of rows that could not be encoded (never raw values).
    """

    df: "DataFrame"
    meta: dict[str, Any]
    fields: dict[str, int]
    clk_nbits: int | None
    tokens: list[str]
    rejects: "DataFrame | None" = None
    #: from :func:`encode` (or :func:`read_encoded` of what it wrote): ``_row, id, _blob,
    #: _prs, _tks`` (and ``clk, present:clk``), the packed columns that ``df``'s filter,
    #: presence and token columns are views of (the tiles read them whole)
    packed: "DataFrame | None" = None

    def __repr__(self) -> str:
        return (f"SparkEncoded(fields={list(self.fields)}, clk={self.clk_nbits}, "
                f"tokens={self.tokens}, party={self.meta.get('party')!r})")

    def skeleton(self) -> EncodedFrame:
        """A zero-row :class:`EncodedFrame` with this layout and metadata (for rule and
        compatibility logic that only looks at names, lengths and metadata)."""
        fl = {k: BitMatrix(np.zeros((0, (n + 63) // 64), np.uint64), n)
              for k, n in self.fields.items()}
        clk = (BitMatrix(np.zeros((0, (self.clk_nbits + 63) // 64), np.uint64), self.clk_nbits)
               if self.clk_nbits is not None else None)
        return EncodedFrame(np.zeros(0, object), fl, clk,
                            {t: np.zeros(0, np.uint64) for t in self.tokens}, dict(self.meta))

    def to_local(self) -> EncodedFrame:
        """Collect to the driver as an :class:`EncodedFrame` (rows in ``_row`` order); packed
        encodings are collected as their packed columns (Arrow) and cut up here."""
        if self.packed is not None:
            return _frame_from_packed(_large_types(self.packed.toArrow()).sort_by(ROW),
                                      _layout(self))
        pdf = self.df.toPandas().sort_values(ROW, kind="stable").reset_index(drop=True)
        return _frame_from_pandas(pdf, self, "")

    def write(self, path: str, mode: str = "errorifexists", layout: str = "packed") -> None:
        """Write as Parquet (the metadata as JSON text under ``<path>/_nislink_meta``,
        which Parquet readers skip).

        ``layout="packed"`` (the default): encodings that have packed columns (from
        :func:`encode` of a schema with filters and tokens, or :func:`read_encoded` of
        such a folder) are written as those (``_row, id, _blob, _prs, _tks`` and the
        CLK's), which :func:`read_encoded` reads back packed: no per-column view is
        computed on the way out or in; others column by column. ``layout="columns"``:
        always one column per filter, flag and token (the module docstring's layout),
        which nislink versions before 5 December 2026 read too. ``df`` and ``packed``
        hold the same records: ``packed`` is written when there is one."""
        if layout not in ("packed", "columns"):
            raise ValueError(f"layout must be 'packed' or 'columns', not {layout!r}")
        packed = self.packed if layout == "packed" else None
        if packed is not None:
            # rows of wide binaries: with Parquet's default row groups (128 MiB, buffered
            # per task) 200,000 records ran a 1 GiB heap out of memory; 32 MiB did not
            packed.write.mode(mode).option("parquet.block.size", str(_PACKED_ROW_GROUP)) \
                .parquet(path)
        else:
            self.df.write.mode(mode).parquet(path)
        spark = self.df.sparkSession
        info = {"meta": self.meta, "fields": self.fields, "clk_nbits": self.clk_nbits,
                "tokens": self.tokens,
                **({"layout": _PACKED_LAYOUT} if packed is not None else {})}
        spark.createDataFrame([(json.dumps(info),)], "value string").coalesce(1) \
            .write.mode("overwrite").text(path.rstrip("/") + "/_nislink_meta")


def read_encoded(spark: "SparkSession", path: str) -> SparkEncoded:
    """Read encodings written by :meth:`SparkEncoded.write` (a folder that does not exist
    is :class:`FileNotFoundError`; one without nislink's metadata, ``ValueError``)."""
    try:
        text = "".join(r.value for r in
                       spark.read.text(path.rstrip("/") + "/_nislink_meta").collect())
        info = json.loads(text)
    except Exception as exc:  # noqa: BLE001
        if _path_exists(spark, path) is False:
            raise FileNotFoundError(f"{path}: no such encodings folder") from None
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
        raise ValueError(f"{path}: not nislink Spark encodings (no readable metadata: "
                         f"{type(exc).__name__}: {first[:300]})") from None
    fields, clk_nbits, tokens = dict(info["fields"]), info["clk_nbits"], list(info["tokens"])
    df = spark.read.parquet(path)
    layout = info.get("layout")
    if layout is None:  # one column per filter, flag and token
        return SparkEncoded(df, info["meta"], fields, clk_nbits, tokens)
    if layout != _PACKED_LAYOUT:
        raise ValueError(f"{path}: encodings in layout {layout!r}, which this version of "
                         f"nislink does not read (it reads {_PACKED_LAYOUT!r})")
    need = _packed_columns(clk_nbits is not None)
    lost = [c for c in need if c not in df.columns]
    if lost:
        raise ValueError(f"{path}: packed encodings without column {lost[0]!r} (columns: "
                         f"{', '.join(df.columns)})")
    packed = df.select(*need)
    return SparkEncoded(_unpacked_view(packed, fields, clk_nbits is not None, tokens),
                        info["meta"], fields, clk_nbits, tokens, packed=packed)


_PACKED_LAYOUT = "packed-1"
"""``layout`` in ``_nislink_meta`` of a folder written from packed columns."""
_PACKED_ROW_GROUP = 32 << 20
"""Parquet row-group size (bytes) of packed encodings folders."""


def _packed_columns(clk: bool) -> list[str]:
    """The columns of :attr:`SparkEncoded.packed` (and of a packed encodings folder)."""
    return [ROW, "id", "_blob", "_prs", "_tks", *(["clk", _pr("clk")] if clk else [])]


def _path_exists(spark: "SparkSession", path: str) -> bool | None:
    """Whether ``path`` exists, asked of Hadoop's file system for its scheme (local,
    HDFS, object stores); ``None`` when that cannot be asked (Spark Connect)."""
    try:
        jp = spark._jvm.org.apache.hadoop.fs.Path(path)  # type: ignore[union-attr]
        return bool(jp.getFileSystem(spark._jsc.hadoopConfiguration()).exists(jp))
    except Exception:  # noqa: BLE001 - no JVM gateway, unknown scheme, ...
        return None


@dataclass(frozen=True)
class _Layout:
    """The picklable part of a :class:`SparkEncoded` (shipped to executors)."""

    fields: dict[str, int]
    clk_nbits: int | None
    tokens: list[str]
    meta: dict[str, Any]


def _layout(e: SparkEncoded) -> _Layout:
    return _Layout(dict(e.fields), e.clk_nbits, list(e.tokens), dict(e.meta))


def _frame_from_pandas(pdf: pd.DataFrame, enc: "SparkEncoded | _Layout", prefix: str,
                       fields: Sequence[str] | None = None,
                       tokens: Sequence[str] | None = None,
                       clk: bool = True) -> EncodedFrame:
    """An EncodedFrame from columns ``<prefix>bf:...`` etc. of a pandas batch."""
    n = len(pdf)
    fl = {}
    for f in (enc.fields if fields is None else fields):
        bits = _unpack_rows(pdf[prefix + _bf(f)], enc.fields[f])
        fl[f] = BitMatrix(bits, enc.fields[f],
                          present=pdf[prefix + _pr(f)].to_numpy(dtype=bool))
    ck = None
    if clk and enc.clk_nbits is not None and prefix + "clk" in pdf:
        ck = BitMatrix(_unpack_rows(pdf[prefix + "clk"], enc.clk_nbits), enc.clk_nbits,
                       present=pdf[prefix + _pr("clk")].to_numpy(dtype=bool))
    toks = {t: _i2u(pdf[prefix + _tk(t)].to_numpy(dtype=np.int64))
            for t in (enc.tokens if tokens is None else tokens)}
    ids = pdf[prefix + "id"].to_numpy(dtype=object) if prefix + "id" in pdf else \
        np.array([str(i) for i in range(n)], dtype=object)
    return EncodedFrame(ids, fl, ck, toks, dict(enc.meta))


def _large_types(tab: Any) -> Any:
    """``tab`` with its binary and string columns as ``large_binary`` / ``large_string``
    (64-bit offsets: a column of more than 2 GiB, such as ``_blob`` of about 2.8 million
    ``uk_default`` records, can then be sorted and made one array)."""
    def wide(t: Any) -> Any:
        return (pa.large_binary() if pa.types.is_binary(t)
                else pa.large_string() if pa.types.is_string(t) else t)

    return tab.cast(pa.schema([pa.field(f.name, wide(f.type), f.nullable)
                               for f in tab.schema]))


def _frame_from_packed(tab: Any, enc: _Layout) -> EncodedFrame:
    """An EncodedFrame from an Arrow table of packed columns (:func:`_packed_columns`): the
    fields' words cut from ``_blob``, flags from ``_prs``, tokens from ``_tks``."""
    lost = [c for c in ("_blob", "_prs", "_tks") if tab.column(c).null_count]
    if lost:
        raise ValueError(f"packed encodings with a record without {lost[0]!r} (a folder not "
                         "written by nislink, or damaged)")
    nf, nt = len(enc.fields), len(enc.tokens)
    widths = [_field_bytes(n) // 8 for n in enc.fields.values()]
    words = _arrow_words(tab.column("_blob"), 64 * sum(widths))
    flags = _binary_longs(tab.column("_prs"), nf, "?")
    toks = _binary_longs(tab.column("_tks"), nt)
    cuts = np.cumsum([0, *widths])
    fl = {f: BitMatrix(np.ascontiguousarray(words[:, cuts[j]:cuts[j + 1]]), nbits,
                       present=np.ascontiguousarray(flags[:, j]))
          for j, (f, nbits) in enumerate(enc.fields.items())}
    ck = None
    if enc.clk_nbits is not None:
        ck = BitMatrix(_arrow_words(tab.column("clk"), enc.clk_nbits), enc.clk_nbits,
                       present=tab.column(_pr("clk")).fill_null(False).to_numpy())
    tk = {t: _i2u(np.ascontiguousarray(toks[:, j])) for j, t in enumerate(enc.tokens)}
    ids = np.array(tab.column("id").to_pylist(), dtype=object)
    return EncodedFrame(ids, fl, ck, tk, dict(enc.meta))


def _spark_schema(fields: Mapping[str, int], clk: bool, tokens: Sequence[str],
                  extra: Sequence[tuple[str, str]] = ()) -> Any:
    from pyspark.sql import types as T  # noqa: PLC0415

    cols = [T.StructField(ROW, T.LongType(), False), T.StructField("id", T.StringType(), True)]
    for f in fields:
        cols += [T.StructField(_bf(f), T.BinaryType(), True),
                 T.StructField(_pr(f), T.BooleanType(), True)]
    if clk:
        cols += [T.StructField("clk", T.BinaryType(), True),
                 T.StructField(_pr("clk"), T.BooleanType(), True)]
    cols += [T.StructField(_tk(t), T.LongType(), True) for t in tokens]
    cols += [T.StructField(n, T.StringType(), True) for n, _ in extra]
    return T.StructType(cols)


def _field_bytes(nbits: int) -> int:
    """Bytes of one record's filter of ``nbits`` bits (whole 64-bit words)."""
    return 8 * ((int(nbits) + 63) // 64)


def _encode_schema(clk: bool) -> Any:
    """The encoding UDF's output: ``_row, id``, all fields' words in one binary
    (``_blob``), their presence flags (``_prs``, a byte each) and the tokens (``_tks``, 8
    big-endian bytes each) as binaries too, the CLK, and the reject columns. Binary
    columns cross from Arrow to the JVM's rows and its cache as one copy each; arrays
    were converted element by element (at a million people the encode stage's JVM time
    fell by about a third, the tile shuffle's reduce side by the same)."""
    from pyspark.sql import types as T  # noqa: PLC0415

    cols = [T.StructField(ROW, T.LongType(), False), T.StructField("id", T.StringType(), True),
            T.StructField("_blob", T.BinaryType(), True),
            T.StructField("_prs", T.BinaryType(), True),
            T.StructField("_tks", T.BinaryType(), True)]
    if clk:
        cols += [T.StructField("clk", T.BinaryType(), True),
                 T.StructField(_pr("clk"), T.BooleanType(), True)]
    cols += [T.StructField("_rej_field", T.StringType(), True),
             T.StructField("_rej_reason", T.StringType(), True)]
    return T.StructType(cols)


def _unpacked_view(df: "DataFrame", fields: Mapping[str, int], clk: bool,
                   tokens: Sequence[str]) -> "DataFrame":
    """The encoding's columns (``_spark_schema``'s layout) as expressions over the packed
    columns of :func:`_encode_schema`: evaluated only where a column is used (a token is
    its 8 bytes read as a signed long: ``conv`` of their hexadecimal to base -10). The
    tiles and the term-frequency and block-size passes read the packed columns directly
    (:func:`_token_bytes`, :func:`_packed`)."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    cols, at = [F.col(ROW), F.col("id")], 0
    for j, (f, nbits) in enumerate(fields.items()):
        width = _field_bytes(nbits)
        cols += [F.substring(F.col("_blob"), at + 1, width).alias(_bf(f)),
                 (F.substring(F.col("_prs"), j + 1, 1) == F.lit(b"\x01")).alias(_pr(f))]
        at += width
    if clk:
        cols += [F.col("clk"), F.col(_pr("clk"))]
    cols += [F.conv(F.hex(F.substring(F.col("_tks"), 8 * j + 1, 8)), 16, -10).cast("long")
             .alias(_tk(t)) for j, t in enumerate(tokens)]
    return df.select(*cols)


def _arrow_fixed(mat: np.ndarray) -> Any:
    """A binary Arrow array with one row per row of the 2-D ``mat``: its bytes as stored
    (from two buffers, no Python object per row)."""
    m = np.ascontiguousarray(mat)
    n, w = m.shape[0], m.shape[1] * m.itemsize
    if n * w >= 2**31:
        raise ValueError(f"an encoding chunk of {n} records x {w} bytes is too large for "
                         "one Arrow array: lower encode(batch_rows=...)")
    off = (np.arange(n + 1, dtype=np.int64) * w).astype(np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(off),
                                                  pa.py_buffer(m.reshape(-1).view(np.uint8))])


def _frame_to_pandas(enc: EncodedFrame, rows: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {ROW: np.asarray(rows, dtype=np.int64),
                           "id": np.asarray(enc.ids, dtype=object)}
    for f, bm in enc.fields.items():
        out[_bf(f)] = _pack_rows(bm.bits)
        out[_pr(f)] = np.asarray(bm.present, dtype=bool)
    if enc.clk is not None:
        out["clk"] = _pack_rows(enc.clk.bits)
        out[_pr("clk")] = np.asarray(enc.clk.present, dtype=bool)
    for t, v in enc.tokens.items():
        out[_tk(t)] = _u2i(v)
    return out


def from_local(spark: "SparkSession", enc: EncodedFrame, *,
               partitions: int | None = None) -> SparkEncoded:
    """Put a local :class:`EncodedFrame` on Spark (``_row`` = row position)."""
    if not isinstance(enc, EncodedFrame):
        raise TypeError("from_local() needs an EncodedFrame")
    cols = _frame_to_pandas(enc, np.arange(len(enc), dtype=np.int64))
    pdf = pd.DataFrame(cols)
    schema = _spark_schema({f: bm.nbits for f, bm in enc.fields.items()},
                           enc.clk is not None, list(enc.tokens))
    df = spark.createDataFrame(pdf, schema=schema)
    if partitions:
        df = df.repartition(int(partitions))
    return SparkEncoded(df, dict(enc.meta), {f: bm.nbits for f, bm in enc.fields.items()},
                        enc.clk.nbits if enc.clk is not None else None, list(enc.tokens))


def encode(
    df: "DataFrame",
    schema: Schema,
    secret: Secret | str,
    *,
    id_column: str,
    columns: Mapping[str, str] | None = None,
    party: str | None = None,
    destroy_by: str | _dt.date | None = None,
    today: _dt.date | None = None,
    dayfirst: bool = True,
    allow_absent: bool | None = None,
    batch_rows: int = 200_000,
) -> SparkEncoded:
    """Encode a Spark DataFrame of raw records, as :meth:`nislink.Encoder.encode` does.

    Columns are resolved as there: by default (``allow_absent=None``) the core fields
    (forename, surname, date of birth) must have a column and any other field whose
    column is absent (a DWP extract without UPNs) is encoded as missing; ``True`` lets
    any field be absent, ``False`` none.

    ``id_column`` (required) names the unique record-id column; duplicated ids are an
    error (checked over the whole DataFrame), and a row without one (null, blank) is
    rejected as locally. ``today`` (default: today on the driver)
    fixes the date used to judge dates of birth on every executor. ``secret``: a
    :class:`Secret`, or ``"env:NAME"`` / ``"file:/path"`` for executors to load it
    themselves (see the module docstring). Returns a :class:`SparkEncoded` whose
    ``rejects`` lists the rows that could not be encoded (row = ``_row``, the record's
    position mark, id, field, reason). The result is persisted (memory and disk).
    Each task encodes its records in chunks of up to ``batch_rows`` (each distinct value
    is hashed once per chunk: larger chunks are faster and take more memory).
    """
    from pyspark import StorageLevel  # noqa: PLC0415
    from pyspark.sql import functions as F  # noqa: PLC0415

    if not isinstance(schema, Schema):
        raise TypeError("encode() needs a nislink.Schema")
    drv_secret, key = _key_source(secret)
    today = today if today is not None else _dt.date.today()
    cols = dict(columns or {})
    if schema.kind == "clkhash":
        need = [c for c in df.columns if c != id_column]
    else:
        bad = [k for k in cols if k not in {f.name for f in schema.fields}]
        if bad:
            raise ValueError(f"columns: {bad[0]!r} is not a field of the schema")
        need = list(dict.fromkeys(cols.get(f.name, f.column) for f in schema.fields))
    if id_column not in df.columns:
        raise ValueError(f"column {id_column!r} is not in the data "
                         f"(columns: {', '.join(df.columns)})")
    absent = [c for c in need if c not in df.columns]
    if absent and schema.kind == "clkhash":
        raise ValueError(f"column {absent[0]!r} is not in the data "
                         f"(columns: {', '.join(df.columns)})")
    # layout and metadata from a zero-row encoding on the driver; it also applies the
    # local encoder's rule for absent columns (a required one is an error, naming it)
    proto_enc = Encoder(schema, drv_secret, dayfirst=dayfirst, today=today, workers=1)
    proto_enc.warn = False
    # (every column of the data, so that a missing column's error lists them all: the
    # misspelt one is then in sight)
    proto = proto_enc.encode(pd.DataFrame({c: pd.Series([], dtype=object)
                                           for c in dict.fromkeys([id_column, *df.columns])}),
                             columns=cols or None, id_column=id_column, party=party,
                             destroy_by=destroy_by, allow_absent=allow_absent)
    fields_nbits = {f: bm.nbits for f, bm in proto.fields.items()}
    has_clk = proto.clk is not None
    tokens = list(proto.tokens)
    # a missing id (null, blank text, NaN) is not a duplicate: the encoder rejects each
    # such row ("missing id"), as locally
    idc = F.col(id_column)
    missing = idc.isNull()
    id_type = df.schema[id_column].dataType.typeName()
    if id_type in ("string", "varchar", "char"):
        # white space as Python's str.isspace() has it (Unicode's, and U+001C-U+001F)
        missing = missing | idc.rlike(r"(?U)^[\s\x{1C}-\x{1F}]*$")
    elif id_type in ("float", "double"):
        missing = missing | F.isnan(idc)
    dup = df.filter(~missing).groupBy(id_column).count().filter(F.col("count") > 1) \
        .limit(1).collect()
    if dup:
        raise ValueError(f"id column {id_column!r} has duplicated ids; every record needs "
                         "a unique id")
    # the UDF hands back few, wide columns (the fields' words, presence flags and tokens
    # as three binaries): the JVM's Arrow-to-row conversion costs per column, about
    # five times more for the 150 columns of uk_default than for these; the encoding's
    # own columns are views of them (``_unpacked_view``)
    out_schema = _encode_schema(has_clk)
    names = out_schema.fieldNames()
    fnames = list(fields_nbits)
    row_bytes = sum(_field_bytes(v) for v in fields_nbits.values())
    from pyspark.sql.pandas.types import to_arrow_schema  # noqa: PLC0415

    arrow_schema = to_arrow_schema(out_schema)
    chunk = max(1, int(batch_rows))

    def _encode_table(enc: Encoder, tab: Any) -> Iterator[Any]:
        # (integers stay integers where a column has nulls: an id 1005 is "1005", never
        # "1005.0", whichever chunk it is in)
        pdf = tab.to_pandas(integer_object_nulls=True)
        rows = pdf[ROW].to_numpy(dtype=np.int64)
        data = pdf.drop(columns=[ROW])
        data.index = pd.Index(rows)
        ef = enc.encode(data, columns=cols or None, id_column=id_column)
        # each kept record's row: among the rows with an id (unique over the whole input;
        # rows without one, rejected, may share a text such as "None")
        present = np.flatnonzero(~id_usage(data[id_column])[0])
        id_text = pd.Index(id_texts(data[id_column].to_numpy(dtype=object)[present])[0])
        pos = present[id_text.get_indexer(pd.Index(ef.ids))]
        rj = ef.rejects
        if rj is not None and len(rj):
            nb = len(rj)
            arrays = {ROW: pa.array(rj["row"].to_numpy(dtype=np.int64)),
                      "id": pa.array([None if _absent_id(v) else str(v) for v in rj["id"]],
                                     pa.string()),
                      "_rej_field": pa.array(rj["field"].astype(str).tolist(), pa.string()),
                      "_rej_reason": pa.array(rj["reason"].astype(str).tolist(), pa.string())}
            yield pa.RecordBatch.from_arrays(
                [arrays[c] if c in arrays else pa.nulls(nb, arrow_schema.field(c).type)
                 for c in names], schema=arrow_schema)
        n = len(ef)
        arrays = {ROW: pa.array(rows[pos]), "id": pa.array(list(ef.ids), pa.string())}
        if fnames:
            if n * row_bytes >= 2**31:
                raise ValueError(f"an encoding chunk of {n} records x {row_bytes} bytes of "
                                 "filters is too large for one Arrow array: lower "
                                 "encode(batch_rows=...)")
            arrays["_blob"] = _arrow_binary(np.concatenate(
                [ef.fields[f].bits for f in fnames], axis=1))
            arrays["_prs"] = _arrow_fixed(np.stack(
                [np.asarray(ef.fields[f].present, dtype=bool) for f in fnames], axis=1))
        if tokens:  # (one array, each token byte-swapped as it is put in its column)
            tks = np.empty((n, len(tokens)), dtype=">i8")
            for j, t in enumerate(tokens):
                tks[:, j] = _u2i(ef.tokens[t])
            arrays["_tks"] = _arrow_fixed(tks)
        if ef.clk is not None:
            arrays["clk"] = _arrow_binary(ef.clk.bits)
            arrays[_pr("clk")] = pa.array(np.asarray(ef.clk.present, dtype=bool))
        yield pa.RecordBatch.from_arrays(
            [arrays[c].cast(arrow_schema.field(c).type) if c in arrays
             else pa.nulls(n, arrow_schema.field(c).type) for c in names],
            schema=arrow_schema)

    def _encode_batches(batches: Iterator[Any]) -> Iterator[Any]:
        # Arrow batches are gathered into chunks of ``batch_rows`` records: the encoder
        # hashes each distinct value once per chunk, so larger chunks do less work
        enc = Encoder(schema, key.open(), dayfirst=dayfirst, today=today, workers=1)
        enc.warn = False  # executors' warnings never reach the user
        held: list[Any] = []
        size = 0
        for rb in batches:
            held.append(rb)
            size += rb.num_rows
            if size >= chunk:
                yield from _encode_table(enc, pa.Table.from_batches(held))
                held, size = [], 0
        if size:
            yield from _encode_table(enc, pa.Table.from_batches(held))

    # an absent optional column is encoded as missing, as the local encoder does
    src = df.select(*[F.col(c) if c in df.columns else F.lit(None).cast("string").alias(c)
                      for c in dict.fromkeys([id_column, *need])]) \
        .withColumn(ROW, F.monotonically_increasing_id())
    # many small input partitions (a DataFrame made from pandas has one per Arrow batch)
    # are merged, after _row is fixed, so that each task encodes large chunks
    par = max(1, int(df.sparkSession.sparkContext.defaultParallelism))
    if src.rdd.getNumPartitions() > par:
        src = src.coalesce(par)
    allrows = src.mapInArrow(_encode_batches, schema=out_schema) \
        .persist(StorageLevel.MEMORY_AND_DISK_DESER)
    kept = allrows.filter(F.col("_rej_reason").isNull())
    encoded = _unpacked_view(kept, fields_nbits, has_clk, tokens)
    rejects = allrows.filter(F.col("_rej_reason").isNotNull()).select(
        F.col(ROW).alias("row"), "id", F.col("_rej_field").alias("field"),
        F.col("_rej_reason").alias("reason"))
    meta = dict(proto.meta)
    meta["rows"] = int(_action(encoded.count, "encoding"))
    packed = kept.select(*_packed_columns(has_clk)) if fields_nbits and tokens else None
    return SparkEncoded(encoded, meta, fields_nbits, proto.clk.nbits if has_clk else None,
                        tokens, rejects, packed)


def _action(fn: Any, what: str) -> Any:
    """Run a Spark action; a failure inside a Python task is re-raised as one
    ``RuntimeError`` carrying nislink's own last message line (not the JVM trace)."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ != "PythonException":
            raise
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        last = next((ln for ln in reversed(lines) if re.match(r"^[\w.]+(Error|Exception):", ln)),
                    lines[-1] if lines else type(exc).__name__)
        raise RuntimeError(f"{what} failed on a Spark executor: {last}") from None


# --------------------------------------------------------------------------- blocking


def _combine_tokens_np(tok: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    n = len(next(iter(tok.values())))
    frame = EncodedFrame(np.zeros(n, object), {}, None, {k: tok[k] for k in names}, {})
    return combine_tokens(frame, list(names))


@dataclass
class _KeyPlan:
    """What the key-extraction UDF emits: token groups and LSH rules."""

    tokens: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)
    lsh: list[tuple[int, str | None, np.ndarray]] = field(default_factory=list)
    caps: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


def _popcount_hist(enc: SparkEncoded, fld: str | None) -> np.ndarray:
    """Sorted popcounts of the present filters (from a histogram computed on Spark)."""
    from pyspark.sql import functions as F  # noqa: PLC0415
    from pyspark.sql import types as T  # noqa: PLC0415

    col, nbits = ("clk", enc.clk_nbits) if fld is None else (_bf(fld), enc.fields[fld])
    prc = _pr("clk") if fld is None else _pr(fld)

    def pcs(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            bits = _unpack_rows(pdf[col], nbits)
            pc = np.bitwise_count(bits).sum(axis=1).astype(np.int64)
            pc = pc[pdf[prc].to_numpy(dtype=bool)]
            v, c = np.unique(pc, return_counts=True)
            yield pd.DataFrame({"pc": v.astype(np.int64), "n": c.astype(np.int64)})

    sch = T.StructType([T.StructField("pc", T.LongType()), T.StructField("n", T.LongType())])
    rows = enc.df.select(col, prc).mapInPandas(pcs, schema=sch).groupBy("pc") \
        .agg(F.sum("n").alias("n")).collect()
    if not rows:
        return np.zeros(0, np.int64)
    v = np.array([r["pc"] for r in rows], np.int64)
    c = np.array([r["n"] for r in rows], np.int64)
    o = np.argsort(v)
    return np.repeat(v[o], c[o])


def _lsh_rule_positions(rule: Any, a: SparkEncoded, b: SparkEncoded | None) -> np.ndarray:
    """The sampled positions of an LSHBlocking rule: :func:`nislink.block.lsh_plan` on the
    popcounts (a histogram computed on Spark), so both engines block alike."""

    def nbits_of(e: SparkEncoded) -> int:
        if rule.field is None:
            if e.clk_nbits is None:
                raise ValueError("LSHBlocking needs a record-level filter (clk), but the "
                                 "frame has none")
            return e.clk_nbits
        if rule.field not in e.fields:
            raise KeyError(f"LSHBlocking: no field {rule.field!r}; fields are "
                           f"{sorted(e.fields)}")
        return e.fields[rule.field]

    nbits = nbits_of(a)
    if b is not None and nbits_of(b) != nbits:
        raise ValueError(f"LSHBlocking: filters differ in length ({nbits}, {nbits_of(b)})")
    if rule.bits_per_band is not None and rule.bands is not None:
        # the positions need no statistics (lsh_plan uses the popcounts only to report)
        _, positions = block.lsh_plan(rule, nbits, np.zeros(0), None, 0, 0)
        return positions
    pa = _popcount_hist(a, rule.field)
    pb = _popcount_hist(b, rule.field) if b is not None else None
    n_a = int(a.df.count())
    n_b = int(b.df.count()) if b is not None else n_a
    _, positions = block.lsh_plan(rule, nbits, pa, pb, n_a, n_b)
    return positions


def _rules(a: SparkEncoded, b: SparkEncoded | None, blocking: Any) -> list[Any]:
    if blocking is None:
        return default_blocking(a.skeleton(), None if b is None else b.skeleton())
    if isinstance(blocking, (block.TokenBlocking, block.LSHBlocking, block.AllPairs,
                             block.LengthFilter, DiceBlocking)):
        return [blocking]
    return list(blocking)


def _clk_frame(e: SparkEncoded, side: str) -> tuple[EncodedFrame, np.ndarray]:
    """The CLKs of ``e`` on the driver as a CLK-only frame in ``_row`` order, and the
    ``_row`` of each (the record-level filters only: ``clk_nbits / 8`` bytes a record)."""
    if e.clk_nbits is None:
        raise ValueError(f"DiceBlocking needs a record-level filter (CLK), but frame {side} "
                         "has none")
    pdf = e.df.select(ROW, "clk", _pr("clk")).toPandas().sort_values(ROW, kind="stable") \
        .reset_index(drop=True)
    clk = BitMatrix(_unpack_rows(pdf["clk"], e.clk_nbits), e.clk_nbits,
                    present=pdf[_pr("clk")].to_numpy(dtype=bool))
    rows = pdf[ROW].to_numpy(dtype=np.int64)
    return EncodedFrame(rows.astype(str).astype(object), {}, clk, {}, dict(e.meta)), rows


def _dice_candidates(rule: DiceBlocking, a: SparkEncoded, b: SparkEncoded | None
                     ) -> "DataFrame":
    """Candidate pairs of :class:`~nislink.linkage.DiceBlocking` on Spark: the threshold
    from :meth:`DiceBlocking.resolve_threshold` on the CLKs (collected to the driver, so
    the same sample of random pairs as locally), then each partition of ``a`` against the
    CLKs of ``b`` (broadcast) with the local popcount-pruned kernel
    :func:`nislink.compare.threshold_pairs`."""
    from pyspark.sql import types as T  # noqa: PLC0415

    fa, rows_a = _clk_frame(a, "a")
    if b is None:
        fb, rows_b = fa, rows_a
    else:
        fb, rows_b = _clk_frame(b, "b")
        if fb.clk.nbits != fa.clk.nbits:  # type: ignore[union-attr]
            raise ValueError(f"DiceBlocking: the CLKs differ in length ({fa.clk.nbits}, "  # type: ignore[union-attr]
                             f"{fb.clk.nbits})")  # type: ignore[union-attr]
    t = rule.resolve_threshold(fa, None if b is None else fb)
    nbits = int(a.clk_nbits)  # type: ignore[arg-type]
    sc = a.df.sparkSession.sparkContext
    shared = sc.broadcast((fb.clk.bits, fb.clk.present, rows_b))  # type: ignore[union-attr]
    dedupe = b is None

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        bits_b, present_b, rb_all = shared.value
        other = BitMatrix(bits_b, nbits, present=present_b)
        for pdf in batches:
            if not len(pdf):
                continue
            mine = BitMatrix(_unpack_rows(pdf["clk"], nbits), nbits,
                             present=pdf[_pr("clk")].to_numpy(dtype=bool))
            ia, ib, _ = threshold_pairs(mine, other, t)
            ra = pdf[ROW].to_numpy(dtype=np.int64)[ia]
            rb = rb_all[ib]
            if dedupe:
                keep = ra < rb
                ra, rb = ra[keep], rb[keep]
            yield pd.DataFrame({"ra": ra, "rb": rb})

    sch = T.StructType([T.StructField("ra", T.LongType(), False),
                        T.StructField("rb", T.LongType(), False)])
    return a.df.select(ROW, "clk", _pr("clk")).mapInPandas(run, schema=sch)


def candidate_pairs(a: SparkEncoded, b: SparkEncoded | None = None,
                    blocking: Any = None) -> "DataFrame":
    """Candidate pairs ``ra, rb`` (the ``_row`` of each side), de-duplicated.

    ``blocking``: ``None`` for :func:`nislink.linkage.default_blocking`, or a list of
    :mod:`nislink.block` rules (:class:`~nislink.block.TokenBlocking`, which may name
    pair tokens such as ``"surname+dob"``, :class:`~nislink.block.LSHBlocking`,
    :class:`~nislink.block.LengthFilter`), or :class:`~nislink.linkage.DiceBlocking`
    alone (the default for frames that hold only a CLK). The pairs equal
    :func:`nislink.linkage.candidates` on the same data. ``b=None`` de-duplicates
    ``a`` (``ra < rb``). :class:`~nislink.block.AllPairs` is not offered on Spark.
    """
    from pyspark.sql import functions as F  # noqa: PLC0415
    from pyspark.sql import types as T  # noqa: PLC0415

    rules = _rules(a, b, blocking)
    dice = [r for r in rules if isinstance(r, DiceBlocking)]
    if dice:
        if len(rules) != 1:
            raise ValueError("DiceBlocking cannot be combined with other blocking rules")
        return _dice_candidates(dice[0], a, b)
    plan = _KeyPlan()
    filters: list[Any] = []
    kid = 0
    for rule in rules:
        if isinstance(rule, block.LengthFilter):
            filters.append(rule)
        elif isinstance(rule, block.TokenBlocking):
            for t in rule.tokens:
                parts = tuple(t.split("+")) if ("+" in t and t not in a.tokens) else (t,)
                for e, side in ((a, "a"), (b, "b")):
                    for p in parts:
                        if e is not None and p not in e.tokens:
                            raise KeyError(f"TokenBlocking: file {side} has no token {p!r}; "
                                           f"tokens are {sorted(e.tokens)}")
                plan.tokens.append((kid, t, parts))
                plan.caps.append(rule.max_block_size)
                plan.names.append(f"token:{t}")
                kid += 1
        elif isinstance(rule, block.LSHBlocking):
            pos = _lsh_rule_positions(rule, a, b)
            plan.lsh.append((kid, rule.field, pos))
            for g in range(len(pos)):
                plan.caps.append(rule.max_block_size)
                plan.names.append(f"lsh:{rule.field or 'clk'}:{rule.seed}:band{g}")
            kid += len(pos)
        elif isinstance(rule, block.AllPairs):
            raise ValueError("AllPairs is not offered on Spark: use token or LSH blocking")
        else:
            raise TypeError(f"unknown blocking rule {rule!r}")
    if kid == 0:
        raise ValueError("blocking needs at least one generating rule (TokenBlocking or "
                         "LSHBlocking); LengthFilter only removes pairs")

    key_schema = T.StructType([T.StructField("kid", T.IntegerType(), False),
                               T.StructField("key", T.LongType(), False),
                               T.StructField("r", T.LongType(), False)])

    def keys_of(e: SparkEncoded) -> "DataFrame":
        toks = sorted({p for _, _, parts in plan.tokens for p in parts})
        lsh_cols = []
        for _, fld, _ in plan.lsh:
            lsh_cols += ["clk", _pr("clk")] if fld is None else [_bf(fld), _pr(fld)]
        cols = list(dict.fromkeys([ROW, *[_tk(t) for t in toks], *lsh_cols]))
        fl = dict(e.fields)
        cnb = e.clk_nbits

        def emit(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for pdf in batches:
                rows = pdf[ROW].to_numpy(dtype=np.int64)
                tk = {t: _i2u(pdf[_tk(t)].to_numpy(dtype=np.int64)) for t in toks}
                out_k, out_v, out_r = [], [], []
                for k, _, parts in plan.tokens:
                    v = tk[parts[0]] if len(parts) == 1 else _combine_tokens_np(tk, parts)
                    ok = v != 0
                    out_k.append(np.full(int(ok.sum()), k, np.int32))
                    out_v.append(_u2i(v[ok]))
                    out_r.append(rows[ok])
                for k0, fld, pos in plan.lsh:
                    col, prc, nb = ("clk", _pr("clk"), cnb) if fld is None else \
                        (_bf(fld), _pr(fld), fl[fld])
                    ok = pdf[prc].to_numpy(dtype=bool)
                    bits = _unpack_rows(pdf[col], nb)[ok]
                    keys = block.band_keys(bits, pos)
                    g = keys.shape[1]
                    out_k.append(np.tile(np.arange(k0, k0 + g, dtype=np.int32), len(bits)))
                    out_v.append(_u2i(keys.reshape(-1)))
                    out_r.append(np.repeat(rows[ok], g))
                yield pd.DataFrame({
                    "kid": np.concatenate(out_k) if out_k else np.zeros(0, np.int32),
                    "key": np.concatenate(out_v) if out_v else np.zeros(0, np.int64),
                    "r": np.concatenate(out_r) if out_r else np.zeros(0, np.int64)})

        return e.df.select(*cols).mapInPandas(emit, schema=key_schema)

    caps = F.element_at(F.array(*[F.lit(int(c)) for c in plan.caps]), F.col("kid") + 1)
    ka = keys_of(a)
    if b is None:
        sizes = ka.groupBy("kid", "key").agg(F.count(F.lit(1)).alias("n"))
        ok = sizes.filter(F.col("n") <= caps).filter(F.col("n") > 1).select("kid", "key")
        kk = ka.join(ok, ["kid", "key"])
        pairs = kk.alias("x").join(kk.alias("y"), ["kid", "key"]) \
            .filter(F.col("x.r") < F.col("y.r")) \
            .select(F.col("x.r").alias("ra"), F.col("y.r").alias("rb"))
    else:
        kb = keys_of(b)
        sa = ka.groupBy("kid", "key").agg(F.count(F.lit(1)).alias("na"))
        sb = kb.groupBy("kid", "key").agg(F.count(F.lit(1)).alias("nb"))
        ok = sa.join(sb, ["kid", "key"]).filter((F.col("na") <= caps) & (F.col("nb") <= caps)) \
            .select("kid", "key")
        pairs = ka.join(ok, ["kid", "key"]).select("kid", "key", F.col("r").alias("ra")) \
            .join(kb.select("kid", "key", F.col("r").alias("rb")), ["kid", "key"]) \
            .select("ra", "rb")
    pairs = pairs.distinct()
    for flt in filters:
        pairs = _length_filter(pairs, a, b if b is not None else a, flt)
    return pairs


def _popcounts_df(e: SparkEncoded, fld: str | None, name: str) -> "DataFrame":
    from pyspark.sql import types as T  # noqa: PLC0415

    if fld is None and e.clk_nbits is None:
        raise ValueError("LengthFilter needs a record-level filter (clk), but the frame has none")
    if fld is not None and fld not in e.fields:
        raise KeyError(f"LengthFilter: no field {fld!r}; fields are {sorted(e.fields)}")
    col, nbits = ("clk", e.clk_nbits) if fld is None else (_bf(fld), e.fields[fld])

    def pcs(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            bits = _unpack_rows(pdf[col], nbits)
            yield pd.DataFrame({name: pdf[ROW].to_numpy(dtype=np.int64),
                                f"{name}_pc": np.bitwise_count(bits).sum(axis=1)
                                .astype(np.int64)})

    sch = T.StructType([T.StructField(name, T.LongType()),
                        T.StructField(f"{name}_pc", T.LongType())])
    return e.df.select(ROW, col).mapInPandas(pcs, schema=sch)


def _length_filter(pairs: "DataFrame", a: SparkEncoded, b: SparkEncoded, flt: Any) -> "DataFrame":
    from pyspark.sql import functions as F  # noqa: PLC0415

    x = pairs.join(_popcounts_df(a, flt.field, "ra"), "ra") \
        .join(_popcounts_df(b, flt.field, "rb"), "rb")
    pa, pb = F.col("ra_pc"), F.col("rb_pc")
    tot = pa + pb
    bound = F.when(tot > 0, (F.lit(2.0) * F.least(pa, pb).cast("double")) / tot.cast("double")) \
        .otherwise(F.lit(0.0))
    keep = bound >= F.lit(float(flt.threshold))
    if flt.keep_missing:
        keep = keep | (pa == 0) | (pb == 0)
    return x.filter(keep).select("ra", "rb")


# --------------------------------------------------------------------------- scoring


def _tf_tables(sides: Sequence[SparkEncoded], tokens: Sequence[str]
               ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Term-frequency tables of ``tokens`` over ``sides``: for each, the sorted non-zero
    values (``uint64``) and their shares of all non-zero values. One pass for every
    token: each partition counts its own values (``numpy.unique``) and only the
    partition counts are shuffled and summed."""
    from pyspark.sql import functions as F  # noqa: PLC0415
    from pyspark.sql import types as T  # noqa: PLC0415

    toks = list(dict.fromkeys(tokens))
    if not toks:
        return {}
    src = None
    for e in sides:
        x = _token_source(e).select(_token_bytes(e, toks).alias("tk"))
        src = x if src is None else src.unionAll(x)
    asch = pa.schema([("k", pa.int32()), ("v", pa.int64()), ("n", pa.int64())])

    def counts(batches: Iterator[Any]) -> Iterator[Any]:
        # each Arrow batch's values are counted as it comes; only the counts are kept
        got: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in toks]
        for rb in batches:
            if not rb.num_rows:
                continue
            m = _binary_longs(rb.column(0), len(toks))
            for k in range(len(toks)):
                col = m[:, k]
                got[k].append(np.unique(col[col != 0], return_counts=True))
        for k in range(len(toks)):
            if not got[k]:
                continue
            v, inv = np.unique(np.concatenate([x for x, _ in got[k]]), return_inverse=True)
            n = np.bincount(inv.reshape(-1), weights=np.concatenate([c for _, c in got[k]]),
                            minlength=len(v)).astype(np.int64)
            if len(v):
                yield pa.RecordBatch.from_arrays(
                    [pa.array(np.full(len(v), k, np.int32)), pa.array(v),
                     pa.array(n.astype(np.int64))], schema=asch)

    sch = T.StructType([T.StructField("k", T.IntegerType(), False),
                        T.StructField("v", T.LongType(), False),
                        T.StructField("n", T.LongType(), False)])
    tab = src.mapInArrow(counts, schema=sch).groupBy("k", "v").agg(F.sum("n").alias("n")) \
        .toArrow()
    ks, vs, ns_ = (tab.column(c).to_numpy().astype(np.int64) for c in ("k", "v", "n"))
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for k, t in enumerate(toks):
        sel = ks == k
        v, c = _i2u(vs[sel]), ns_[sel]
        o = np.argsort(v)
        v, c = v[o], c[o]
        out[t] = (v, c / c.sum()) if len(v) else (np.zeros(0, np.uint64),
                                                   np.zeros(0, np.float64))
    return out


def _scoring_model(model: FellegiSunter, a: SparkEncoded, b: SparkEncoded | None) -> FellegiSunter:
    model.check_fitted()
    if not any(c.tf_adjust and c.token is not None for c in model.comparisons):
        return model
    sides = [a] if b is None else [a, b]
    need = [c for c in model.comparisons if c.tf_adjust and c.token is not None]
    tables = _tf_tables(sides, [c.token for c in need])
    return model.with_tf_tables({c.name: tables[c.token] for c in need})


def _model_inputs(mdl: FellegiSunter, a: SparkEncoded, bb: SparkEncoded
                  ) -> tuple[list[str], list[str], bool]:
    """The fields, tokens and whether the CLK that ``mdl`` compares; a ``KeyError`` when a
    frame lacks one."""
    need_f = sorted({f for c in mdl.comparisons if not c.record for f in c.inputs[0]})
    need_clk = any(c.record for c in mdl.comparisons)
    if need_clk:
        for e, side_name in ((a, "a"), (bb, "b")):
            if e.clk_nbits is None:
                raise KeyError(f"frame {side_name} has no record-level filter (CLK), which "
                               "the model compares")
    # a view's own exact token is optional (used when both sides have it); the rest is not
    need_t = sorted({t for c in mdl.comparisons for t in c.inputs[1]
                     if (t in a.tokens and t in bb.tokens) or t == c.token
                     or any(t == tag for _, tag in c.views)})
    for e, side in ((a, "a"), (bb, "b")):
        for f in need_f:
            if f not in e.fields:
                raise KeyError(f"frame {side} has no encoded field {f!r} (has {sorted(e.fields)})")
        for t in need_t:
            if t not in e.tokens:
                raise KeyError(f"frame {side} has no token {t!r} (has {sorted(e.tokens)})")
    return need_f, need_t, need_clk


def score(pairs: "DataFrame", a: SparkEncoded, b: SparkEncoded | None,
          model: FellegiSunter) -> "DataFrame":
    """Score candidate pairs (``ra, rb``) with a trained model.

    Returns ``ra, rb, id_a, id_b, match_weight, match_probability``; the weights equal
    :meth:`nislink.model.FellegiSunter.score` on the same pairs.
    """
    from pyspark.sql import functions as F  # noqa: PLC0415
    from pyspark.sql import types as T  # noqa: PLC0415

    if not isinstance(model, FellegiSunter):
        raise TypeError("score() needs a trained nislink FellegiSunter model")
    bb = a if b is None else b
    mdl = _scoring_model(model, a, b)
    lay_a, lay_b = _layout(a), _layout(bb)
    need_f, need_t, need_clk = _model_inputs(mdl, a, bb)
    relative = [j for j, c in enumerate(mdl.comparisons) if c.relative]

    def side(e: SparkEncoded, p: str, r: str) -> "DataFrame":
        cols = [F.col(ROW).alias(r), F.col("id").alias(p + "id")]
        for f in need_f:
            cols += [F.col(_bf(f)).alias(p + _bf(f)), F.col(_pr(f)).alias(p + _pr(f))]
        if need_clk:
            cols += [F.col("clk").alias(p + "clk"), F.col(_pr("clk")).alias(p + _pr("clk"))]
        cols += [F.col(_tk(t)).alias(p + _tk(t)) for t in need_t]
        return e.df.select(*cols)

    joined = pairs.select("ra", "rb").join(side(a, "a__", "ra"), "ra") \
        .join(side(bb, "b__", "rb"), "rb")
    if relative:
        joined = joined.join(_rank_levels(pairs, a, bb, b is None), ["ra", "rb"], "left")
    out_schema = T.StructType([
        T.StructField("ra", T.LongType()), T.StructField("rb", T.LongType()),
        T.StructField("id_a", T.StringType()), T.StructField("id_b", T.StringType()),
        T.StructField("match_weight", T.DoubleType()),
        T.StructField("match_probability", T.DoubleType())])

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            n = len(pdf)
            if n == 0:
                continue
            fa = _frame_from_pandas(pdf, lay_a, "a__", need_f, need_t, clk=need_clk)
            fb = _frame_from_pandas(pdf, lay_b, "b__", need_f, need_t, clk=need_clk)
            idx = np.arange(n, dtype=np.int64)
            lev = None
            if relative:  # the rank among all candidates, computed on Spark
                lev = np.empty((n, len(mdl.comparisons)), dtype=np.int8)
                rank = pdf["_rank"].fillna(-1).to_numpy(dtype=np.int8)
                for j, c in enumerate(mdl.comparisons):
                    lev[:, j] = rank if c.relative else c.levels(fa, fb, idx, idx)
            s = mdl.score(fa, fb, idx, idx, levels=lev)
            w = s["match_weight"].to_numpy()
            yield pd.DataFrame({"ra": pdf["ra"].to_numpy(np.int64),
                                "rb": pdf["rb"].to_numpy(np.int64),
                                "id_a": fa.ids, "id_b": fb.ids, "match_weight": w,
                                "match_probability": weight_to_probability(w)})

    return joined.mapInPandas(run, schema=out_schema)


def _rank_levels(pairs: "DataFrame", a: SparkEncoded, b: SparkEncoded, dedupe: bool
                 ) -> "DataFrame":
    """``ra, rb, _rank``: the CLK rank level of each candidate pair among all candidates
    (:attr:`nislink.model.FieldComparison.relative`: 0 neither record's most similar
    candidate, 1 one record's, 2 both records'; in de-duplication a record's candidates are
    the pairs it is on either side of). The Dice is the local kernel's, so ties are ties on
    both engines; pairs whose CLK is missing on a side get no row (missing)."""
    from pyspark.sql import functions as F  # noqa: PLC0415
    from pyspark.sql import types as T  # noqa: PLC0415

    nbits = int(a.clk_nbits)  # type: ignore[arg-type]

    def clk_side(e: SparkEncoded, p: str, r: str) -> "DataFrame":
        return e.df.select(F.col(ROW).alias(r), F.col("clk").alias(p + "clk"),
                           F.col(_pr("clk")).alias(p + "present"))

    def dice(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            ok = pdf["a_present"].to_numpy(dtype=bool) & pdf["b_present"].to_numpy(dtype=bool)
            pdf = pdf[ok]
            if not len(pdf):
                continue
            fa = BitMatrix(_unpack_rows(pdf["a_clk"], nbits), nbits)
            fb = BitMatrix(_unpack_rows(pdf["b_clk"], nbits), nbits)
            idx = np.arange(len(pdf), dtype=np.int64)
            d = dice_pairs(fa, fb, idx, idx).astype(np.float64)
            yield pd.DataFrame({"ra": pdf["ra"].to_numpy(np.int64),
                                "rb": pdf["rb"].to_numpy(np.int64), "d": d})

    sch = T.StructType([T.StructField("ra", T.LongType(), False),
                        T.StructField("rb", T.LongType(), False),
                        T.StructField("d", T.DoubleType(), False)])
    d = pairs.select("ra", "rb").join(clk_side(a, "a_", "ra"), "ra") \
        .join(clk_side(b, "b_", "rb"), "rb").mapInPandas(dice, schema=sch)
    if dedupe:
        ends = d.select(F.col("ra").alias("r"), "d").unionAll(
            d.select(F.col("rb").alias("r"), "d"))
        best = ends.groupBy("r").agg(F.max("d").alias("best"))
        best_a = best.select(F.col("r").alias("ra"), F.col("best").alias("best_a"))
        best_b = best.select(F.col("r").alias("rb"), F.col("best").alias("best_b"))
    else:
        best_a = d.groupBy("ra").agg(F.max("d").alias("best_a"))
        best_b = d.groupBy("rb").agg(F.max("d").alias("best_b"))
    return d.join(best_a, "ra").join(best_b, "rb").select(
        "ra", "rb", ((F.col("d") >= F.col("best_a")).cast("int")
                     + (F.col("d") >= F.col("best_b")).cast("int")).alias("_rank"))


_MODEL_OPTIONS = {"dice_levels": None, "tf_adjust": True, "comparisons": None}
_FIT_OPTIONS = {"u_pairs": 1_000_000, "prior_rule": None, "fix_u": True,
                "em_sessions": "auto", "dependence": True}
# options of nislink.link that do not change the model (ignored when fitting on the cluster)
_LINK_ONLY_OPTIONS = {"min_weight", "one_to_one", "keep_scores", "progress"}


def fit_model(
    a: SparkEncoded,
    b: SparkEncoded | None = None,
    *,
    fraction: float | None = None,
    max_records: int = 200_000,
    seed: int = 0,
    blocking: Any = None,
    candidates: str = "auto",
    tiles: tuple[int, int] | None = None,
    tile_records: int = 2_000_000,
    **options: Any,
) -> FellegiSunter:
    """Train a model on the Spark encodings: ``u`` on a sample collected to the driver, the
    EM sessions and the last EM on every pair of the whole files, counted on the cluster.

    Each side is sampled independently (``fraction``; by default enough to keep about
    ``max_records`` records per side; the whole data when smaller) and collected to the
    driver. Independent uniform samples leave the prior (the chance that two random
    records match) unbiased.

    ``candidates`` says where the candidate pairs of the last EM come from (the EM that
    gives the share of matches among candidates, the EM prior and the ``m`` of fields no
    EM session covers; see :meth:`nislink.model.FellegiSunter.fit`):

    * ``"cluster"``: every candidate pair (and every EM session's pair) of the whole
      files. Each tile of the tiled
      linking (``tiles``, ``tile_records``: as in :func:`link`) blocks its records,
      compares its pairs and sends out only their distinct level patterns with counts
      (:class:`nislink.model.CandidatePatterns`), so the driver holds a few thousand
      patterns however many pairs there are. ``u`` and the dependence terms are
      estimated on the sample. With the whole data as the sample the model
      equals :func:`nislink.link`'s.
    * ``"sample"``: the sample's own candidate pairs; the model is fitted by
      :func:`nislink.linkage.link` (or :func:`~nislink.linkage.dedupe` when ``b`` is
      ``None``) on the sample alone.
    * ``"auto"`` (default): ``"cluster"`` when a side is sampled and the files are linked
      (``b`` given) with token blocking and comparisons of fields and tokens only (what
      the tiles can compare), ``"sample"`` otherwise.

    ``blocking`` and ``options`` are :func:`nislink.link`'s (``u_pairs``, ``prior_rule``,
    ``dice_levels``, ``tf_adjust``, ``comparisons``, ``em_sessions``, ``fix_u``,
    ``dependence``). The model is then applied to every pair on Spark by :func:`link` or
    :func:`score`.
    """
    if candidates not in ("auto", "cluster", "sample"):
        raise ValueError(f"candidates must be 'auto', 'cluster' or 'sample', got {candidates!r}")
    unknown = sorted(set(options) - set(_MODEL_OPTIONS) - set(_FIT_OPTIONS)
                     - _LINK_ONLY_OPTIONS - set(RENAMED_OPTIONS))
    if unknown:
        raise TypeError(f"fit_model() got unknown options {unknown}; known options are "
                        f"{sorted(set(_MODEL_OPTIONS) | set(_FIT_OPTIONS))}")
    counts: dict[int, int] = {}

    def size(e: SparkEncoded) -> int:
        if id(e) not in counts:
            counts[id(e)] = int(e.df.count())
        return counts[id(e)]

    def frac_of(e: SparkEncoded) -> float:
        if fraction is not None:
            return float(fraction)
        n = size(e)
        return 1.0 if n <= max_records else max_records / n

    def take(e: SparkEncoded) -> EncodedFrame:
        frac = frac_of(e)
        sub = e if frac >= 1.0 else SparkEncoded(
            e.df.sample(fraction=float(frac), seed=seed), e.meta, e.fields, e.clk_nbits,
            e.tokens)
        return sub.to_local()

    if b is None:
        if candidates == "cluster":
            raise ValueError("candidates='cluster' counts the pairs of two files' tiles; "
                             "de-duplication fits on the sample (candidates='sample')")
        return _dedupe(take(a), blocking=blocking, seed=seed, **options).model
    _check(a, b)
    rules = _rules(a, b, blocking)
    la, lb = take(a), take(b)
    if "thresholds" in options:  # the first release's name of dice_levels
        options["dice_levels"] = renamed_options(
            "fit_model", {"thresholds": options.pop("thresholds")},
            dice_levels=options.get("dice_levels"))["dice_levels"]
    mopts = {k: options.get(k, v) for k, v in _MODEL_OPTIONS.items()}
    mdl, _ = prepare_model(None, la, lb, mopts["dice_levels"], mopts["tf_adjust"],
                           mopts["comparisons"])
    tileable = _token_rules(rules) and not any(c.record or c.relative
                                               for c in mdl.comparisons)
    use_cluster = candidates == "cluster" or (
        candidates == "auto" and tileable and min(frac_of(a), frac_of(b)) < 1.0)
    if not use_cluster:
        return _link(la, lb, blocking=blocking, seed=seed, **options).model
    if not tileable:
        raise ValueError("candidates='cluster' needs token blocking rules and comparisons of "
                         "fields and tokens only (no CLK or rank comparisons); use "
                         "candidates='sample'")
    parts = tuple(tiles) if tiles is not None else _tile_parts(
        size(a), size(b), tile_records, _task_slots(a.df.sparkSession))
    if len(parts) != 2 or min(int(x) for x in parts) < 1:
        raise ValueError(f"tiles must be two positive part counts, got {tiles!r}")
    plan = _action(lambda: _tile_plan(a, b, rules, mdl, fitted=False), "blocking statistics")
    pats, cnts = _action(lambda: _tiled_patterns(a, b, plan, parts), "counting patterns")
    if len(cnts) == 0:
        raise ValueError("blocking produced no candidate pairs: nothing to fit a model on")
    cand = CandidatePatterns(pats, cnts, size(a), size(b))

    def session_counts(tokens: list[str]) -> CandidatePatterns:
        # an EM session's pairs (sharing every token) over the whole files
        plan_s = _action(lambda: _tile_plan(a, b, [block.TokenBlocking([tokens[0]])], mdl,
                                            fitted=False, extra_tokens=tokens[1:]),
                         "blocking statistics")
        sp, sc = _action(lambda: _tiled_patterns(a, b, plan_s, parts, agree=tokens[1:]),
                         "counting patterns")
        return CandidatePatterns(sp, sc, size(a), size(b))

    fopts = {k: options.get(k, v) for k, v in _FIT_OPTIONS.items()}
    if fopts["prior_rule"] == "auto":  # two files: EM's prior, as in nislink.link
        fopts["prior_rule"] = None
    none = np.zeros(0, dtype=np.int64)
    return mdl.fit(la, lb, none, none, seed=seed, candidates=cand,
                   session_counts=session_counts, **fopts)


# --------------------------------------------------------------------------- tiled linking
#
# Linking with token rules (the default blocking) runs blocking and scoring together in
# tiles: A is split into ``ka`` parts and B into ``kb`` parts (by a hash of ``_row``);
# tile (p, q) receives A's part p and B's part q in one co-grouped task, blocks them with
# the local :func:`nislink.block.candidate_pairs` and scores the pairs with the local
# model kernels (pair positions into the two parts: no per-pair payload is built or
# shuffled). Each record travels to ``kb`` (or ``ka``) tiles; each candidate pair belongs
# to exactly one tile, so the union of the tiles' pairs is already distinct. Block-size
# caps count the whole files: the values of each blocking token held by more than
# ``max_block_size`` records on a side are found on Spark first (:func:`_common_values`)
# and skipped in every tile (``b_common``), so every tile blocks as the whole would.


def _arrow_words(col: Any, nbits: int) -> np.ndarray:
    """``uint64`` words of a binary Arrow column of equal-length rows (zero-copy view of
    the data buffer when the rows are contiguous and equally long)."""

    words = (nbits + 63) // 64
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    if n == 0:
        return np.zeros((0, words), dtype=np.uint64)
    if arr.null_count == 0:
        bufs = arr.buffers()
        odt = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
        off = np.frombuffer(bufs[1], dtype=odt)[arr.offset: arr.offset + n + 1]
        w = words * 8
        if int(off[-1]) - int(off[0]) == n * w and bool((np.diff(off) == w).all()):
            data = np.frombuffer(bufs[2], dtype=np.uint8)[int(off[0]): int(off[-1])]
            return data.view("<u8").reshape(n, words).astype(np.uint64, copy=False)
    return _unpack_rows(arr.to_pylist(), nbits)


def _arrow_binary(bits: np.ndarray) -> Any:
    """A binary Arrow array with one row per row of ``bits`` (its little-endian words),
    built from two buffers (no Python object per row)."""

    le = bits.astype("<u8", copy=False)
    if le.shape[0] * le.shape[1] * 8 >= 2**31:
        return pa.array(_pack_rows(bits), type=pa.binary())
    return _arrow_fixed(le)


def _token_rules(rules: Sequence[Any]) -> bool:
    """True when the rules are token rules (and length filters) only: the tiled path."""
    if not rules or not any(isinstance(r, block.TokenBlocking) for r in rules):
        return False
    caps: dict[str, int] = {}
    for r in rules:
        if isinstance(r, block.LengthFilter):
            if r.field is None:  # the CLK's length: the old path (CLKs are not tiled)
                return False
        elif isinstance(r, block.TokenBlocking):
            for t in r.tokens:  # one cap per token name (caps are applied by name)
                if caps.setdefault(t, int(r.max_block_size)) != int(r.max_block_size):
                    return False
        else:
            return False
    return True


def _rule_tokens(rules: Sequence[Any]) -> list[tuple[str, tuple[str, ...], int]]:
    """``(name, parts, cap)`` of every blocking token (``"x+y"`` pair tokens split)."""
    out = []
    for r in rules:
        if isinstance(r, block.TokenBlocking):
            for t in r.tokens:
                out.append((t, tuple(t.split("+")) if "+" in t else (t,), int(r.max_block_size)))
    return out


def _frequent(x: np.ndarray, at_least: int) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero values of ``x`` (``uint64`` keyed hashes) held ``at_least`` times or
    more, sorted, and their exact counts. Only values whose bucket (the top bits) is that
    full are counted exactly: with hashes nearly all values are rare, so this is about
    three times faster than ``numpy.unique`` over the whole array, with the same result."""
    x = x[x != 0]
    at_least = max(1, int(at_least))
    if len(x) < at_least:
        return x[:0], np.zeros(0, dtype=np.int64)
    if at_least > 1 and len(x) > 4096:
        bits = int(len(x)).bit_length()  # about one value a bucket
        bucket = (x >> np.uint64(64 - bits)).astype(np.intp)
        x = x[np.bincount(bucket, minlength=1 << bits)[bucket] >= at_least]
    v, n = np.unique(x, return_counts=True)
    keep = n >= at_least
    return v[keep], n[keep].astype(np.int64)


def _common_values(sides: Sequence[SparkEncoded],
                   toks: Sequence[tuple[str, tuple[str, ...], int]]) -> dict[str, np.ndarray]:
    """For each blocking token, the values held by more than its cap of records on any of
    ``sides`` (sorted ``uint64``). Two light passes over the token columns of all sides
    at once: a value held by more than ``cap`` records of a side is held by at least
    ``ceil((cap + 1) / P)`` records of one of that side's ``P`` partitions, so each
    partition proposes those; the proposals are then counted exactly."""
    from pyspark.sql import functions as F  # noqa: PLC0415
    from pyspark.sql import types as T  # noqa: PLC0415

    if not toks:
        return {}
    base = sorted({p for _, parts, _ in toks for p in parts})
    for e in sides:
        for p in base:
            if p not in e.tokens:
                raise KeyError(f"TokenBlocking: no token {p!r}; tokens are {sorted(e.tokens)}")
    srcs = [_token_source(e).select(F.lit(i).alias("_side"), _token_bytes(e, base).alias("tk"))
            for i, e in enumerate(sides)]
    nparts = [max(1, x.rdd.getNumPartitions()) for x in srcs]
    src = srcs[0]
    for x in srcs[1:]:
        src = src.unionAll(x)
    sch = T.StructType([T.StructField("s", T.IntegerType(), False),
                        T.StructField("k", T.IntegerType(), False),
                        T.StructField("v", T.LongType(), False),
                        T.StructField("n", T.LongType(), False)])
    asch = pa.schema([("s", pa.int32()), ("k", pa.int32()), ("v", pa.int64()),
                      ("n", pa.int64())])

    def values(batches: Iterator[Any]) -> tuple[int, dict[str, np.ndarray]]:
        side, mats = -1, []
        for rb in batches:
            if rb.num_rows:
                side = int(rb.column(0)[0].as_py())
                mats.append(_binary_longs(rb.column(1), len(base)))
        if not mats:
            return side, {}
        m = np.concatenate(mats)
        tk = {t: _i2u(np.ascontiguousarray(m[:, j])) for j, t in enumerate(base)}
        return side, {name: (tk[parts[0]] if len(parts) == 1 else
                             _combine_tokens_np(tk, parts)) for name, parts, _ in toks}

    def emit(side: int, k: int, v: np.ndarray, n: np.ndarray) -> Any:
        return pa.RecordBatch.from_arrays(
            [pa.array(np.full(len(v), side, np.int32)), pa.array(np.full(len(v), k, np.int32)),
             pa.array(_u2i(v)), pa.array(np.asarray(n, np.int64))], schema=asch)

    def propose(batches: Iterator[Any]) -> Iterator[Any]:
        side, got = values(batches)
        for k, (name, _, cap) in enumerate(toks):
            if name not in got:
                continue
            v, n = _frequent(got[name], -(-(cap + 1) // nparts[side]))
            if len(v):
                yield emit(side, k, v, n)

    prop = src.mapInArrow(propose, schema=sch).select("s", "k", "v").distinct().collect()
    if not prop:
        return {}
    cand: dict[tuple[int, int], Any] = {}
    for r in prop:
        cand.setdefault((int(r["s"]), int(r["k"])), []).append(int(r["v"]))
    cand = {key: np.sort(_i2u(np.array(v, dtype=np.int64))) for key, v in cand.items()}

    def count(batches: Iterator[Any]) -> Iterator[Any]:
        side, got = values(batches)
        for (sd, k), want in cand.items():
            name = toks[k][0]
            if sd != side or name not in got:
                continue
            x = got[name]
            at = np.minimum(np.searchsorted(want, x), len(want) - 1)
            hit = want[at] == x
            n = np.bincount(at[hit], minlength=len(want))
            yield emit(side, k, want[n > 0], n[n > 0])

    rows = src.mapInArrow(count, schema=sch).groupBy("s", "k", "v") \
        .agg(F.sum("n").alias("n")).filter(F.col("n") > F.element_at(
            F.array(*[F.lit(int(c)) for _, _, c in toks]), F.col("k") + 1)).collect()
    out: dict[str, list[int]] = {}
    for r in rows:
        out.setdefault(toks[int(r["k"])][0], []).append(int(r["v"]))
    return {name: np.unique(_i2u(np.array(v, dtype=np.int64))) for name, v in out.items()}


def _task_slots(spark: "SparkSession") -> int:
    """How many tasks the session runs at once: the thread count of a ``local[N]`` master
    (``local[*]``: the cores this process may run on), else Spark's default parallelism
    (on a cluster, the executors' cores unless ``spark.default.parallelism`` says
    otherwise)."""
    sc = spark.sparkContext
    m = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", str(sc.master).strip())
    if m:
        n = m.group(1)
        if n == "*":
            try:
                return max(1, len(os.sched_getaffinity(0)))
            except AttributeError:  # pragma: no cover - not Linux
                return max(1, os.cpu_count() or 1)
        return max(1, int(n or 1))
    return max(1, int(sc.defaultParallelism))


def _tile_parts(n_a: int, n_b: int, tile_records: int, slots: int = 4) -> tuple[int, int]:
    """Parts ``(ka, kb)`` of A and B for the tiles. Each A record is shipped to ``kb``
    tiles and each B record to ``ka``, so the shuffle carries ``n_a * kb + n_b * ka``
    record copies. Among the layouts with at least ``slots`` tiles (every task slot
    busy) and at most ``tile_records`` records a tile, the one with the fewest copies is
    taken (then the fewest tiles, then the fewer parts of A)."""
    cap, want = int(tile_records), max(1, int(slots))
    if cap < 2:
        raise ValueError(f"tile_records must be at least 2, got {tile_records!r}")
    na, nb = max(0, int(n_a)), max(0, int(n_b))
    best: tuple[tuple[int, int, int], int, int] | None = None
    # for each ka the fewest B parts that fit is best (copies grow with kb); the best
    # layout has about 2 n_a / cap parts of A (half of each tile from either side, when
    # no slot count binds), so 8 n_a / cap + 8 leaves ample room
    for ka in range(1, max(want, 8 * -(-na // cap) + 8) + 1):
        room = cap - -(-na // ka)  # records left in a tile for B's part
        if room < 1:
            continue
        kb = max(1, -(-want // ka), -(-nb // room))
        key = (na * kb + nb * ka, ka * kb, ka)
        if best is None or key < best[0]:
            best = (key, ka, kb)
    assert best is not None  # ka = 8 * ceil(n_a / cap) + 8 leaves room (cap >= 2)
    return best[1], best[2]


@dataclass
class _TilePlan:
    """What every tile needs (built once on the driver; shipped in the task closure)."""

    model: FellegiSunter
    rules: list[Any]
    combos: list[tuple[str, ...]]
    common: dict[str, np.ndarray]
    fields: list[str]
    tokens: list[str]
    nbits: dict[str, int]
    meta_a: dict[str, Any]
    meta_b: dict[str, Any]
    index_a: tuple[list[int], list[int]] = ([], [])
    index_b: tuple[list[int], list[int]] = ([], [])


def _tile_plan(a: SparkEncoded, b: SparkEncoded, rules: Sequence[Any],
               model: FellegiSunter, *, fitted: bool = True,
               extra_tokens: Sequence[str] = ()) -> _TilePlan:
    """What the tiles need; ``fitted=False`` for a model that only compares (levels for
    fitting: no term-frequency tables); ``extra_tokens`` are shipped to the tiles too."""
    mdl = _scoring_model(model, a, b) if fitted else model
    need_f, need_t, need_clk = _model_inputs(mdl, a, b)
    if need_clk:
        raise ValueError("tiled scoring does not compare CLKs")  # callers check first
    toks = _rule_tokens(rules)
    filters = [r for r in rules if isinstance(r, block.LengthFilter)]
    for flt in filters:
        for e, side in ((a, "a"), (b, "b")):
            if flt.field not in e.fields:
                raise KeyError(f"LengthFilter: no field {flt.field!r} in frame {side}; "
                               f"fields are {sorted(e.fields)}")
    fields = sorted(set(need_f) | {f.field for f in filters})
    for f in fields:
        if a.fields[f] != b.fields[f]:
            raise ValueError(f"field {f!r}: filters differ in length ({a.fields[f]}, "
                             f"{b.fields[f]})")
    plan = _TilePlan(
        mdl, [r for r in rules if isinstance(r, block.TokenBlocking)] + filters,
        sorted({parts for _, parts, _ in toks if len(parts) > 1}),
        _common_values([a, b], toks), fields,
        sorted(set(need_t) | {p for _, parts, _ in toks for p in parts} | set(extra_tokens)),
        {f: a.fields[f] for f in fields}, dict(a.meta), dict(b.meta))
    plan.index_a, plan.index_b = _side_index(a, plan), _side_index(b, plan)
    return plan


def _side_index(e: SparkEncoded, plan: _TilePlan) -> tuple[list[int], list[int]]:
    """Where the plan's fields and tokens sit in the flag and token bytes that
    :func:`_packed` ships for ``e``: their places in ``e``'s packed columns, or the plan's
    own order when ``e`` has no packed columns (then :func:`_packed` gathers them so)."""
    if e.packed is None:
        return list(range(len(plan.fields))), list(range(len(plan.tokens)))
    fl, tk = list(e.fields), list(e.tokens)
    return [fl.index(f) for f in plan.fields], [tk.index(t) for t in plan.tokens]


def _packed(e: SparkEncoded, plan: _TilePlan) -> "DataFrame":
    """``_row, id, blob, pr, tk``: the filters the tiles need as one binary column (the
    fields' words one after another), their presence flags and the tokens as binaries too
    (:func:`_flag_bytes`, :func:`_token_bytes`; one column each instead of one per field
    and token: far cheaper to shuffle). From :func:`encode`'s packed columns the flag and
    token bytes are shipped whole (the tile picks its values, :func:`_side_index`) and the
    filters are cut from ``_blob``."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    if e.packed is not None:
        offset, at = {}, 0
        for f, nbits in e.fields.items():
            offset[f] = at
            at += _field_bytes(nbits)
        blob = _byte_cuts("_blob", [(offset[f], _field_bytes(plan.nbits[f]))
                                    for f in plan.fields], at)
        return e.packed.select(ROW, "id", blob.alias("blob"), F.col("_prs").alias("pr"),
                               F.col("_tks").alias("tk"))
    blob = F.concat(*[F.col(_bf(f)) for f in plan.fields]) if plan.fields else F.lit(b"")
    return e.df.select(ROW, "id", blob.alias("blob"), _flag_bytes(plan.fields).alias("pr"),
                       _token_bytes(e, plan.tokens).alias("tk"))


def _flag_bytes(fields: Sequence[str]) -> Any:
    """The presence flags of ``fields`` as one binary column, a byte (0 or 1) each, from
    the unpacked columns (a null flag is 0)."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    if not fields:
        return F.lit(b"")
    return F.concat(*[F.when(F.coalesce(F.col(_pr(f)), F.lit(False)), F.lit(b"\x01"))
                      .otherwise(F.lit(b"\x00")) for f in fields])


def _token_bytes(e: SparkEncoded, names: Sequence[str]) -> Any:
    """Tokens ``names`` of ``e`` as one binary column, 8 big-endian bytes each (a null
    token is 0): cut from :func:`encode`'s packed ``_tks`` (a column of ``e.packed``) when
    there is one, else built from the token columns of ``e.df``."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    if not names:
        return F.lit(b"")
    if e.packed is not None:
        return _byte_cuts("_tks", [(8 * e.tokens.index(t), 8) for t in names],
                          8 * len(e.tokens))
    zero = F.lit(0).cast("long")
    return F.concat(*[F.unhex(F.lpad(F.hex(F.coalesce(F.col(_tk(t)), zero)), 16, "0"))
                      for t in names])


def _byte_cuts(column: str, spans: Sequence[tuple[int, int]], total: int) -> Any:
    """The bytes ``(start, length)`` of each of ``spans`` of the binary ``column`` (rows of
    ``total`` bytes), one after another: one ``substring`` per run of adjacent spans, the
    column itself when they are all of it in order."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    runs: list[list[int]] = []
    for start, length in spans:
        if runs and runs[-1][0] + runs[-1][1] == start:
            runs[-1][1] += length
        else:
            runs.append([start, length])
    if runs == [[0, total]]:
        return F.col(column)
    if not runs:
        return F.lit(b"")
    return F.concat(*[F.substring(F.col(column), a + 1, k) for a, k in runs])


def _token_source(e: SparkEncoded) -> "DataFrame":
    """The DataFrame that :func:`_token_bytes` of ``e`` is an expression over."""
    return e.packed if e.packed is not None else e.df


def _binary_longs(col: Any, width: int, dtype: str = ">i8") -> np.ndarray:
    """An ``(n, width)`` matrix from a binary column of ``width`` values of ``dtype`` a row
    (by default big-endian longs, :func:`_token_bytes`; ``"?"`` flags, a byte each): native
    byte order, a row without ``width`` whole values is zeros."""
    vals, starts, size = _binary_parts(col, dtype)
    n = len(starts)
    if n == 0 or width == 0:
        return np.zeros((n, width), dtype=vals.dtype)
    if (size == width).all() and (np.diff(starts) == width).all() and starts[0] == 0:
        return vals[:n * width].reshape(n, width)
    out = np.zeros((n, width), dtype=vals.dtype)
    for i in np.flatnonzero(size == width):
        out[i] = vals[starts[i]:starts[i] + width]
    return out


def _binary_parts(col: Any, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A binary Arrow column whose rows each hold values of ``dtype`` (``"?"`` flags a
    byte each, ``">i8"`` big-endian longs: :func:`_flag_bytes`, :func:`_token_bytes`) as
    ``(values, starts, lengths)`` in values, native byte order (a null row has length 0):
    what :func:`_scatter_rows` reads."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not (pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)):
        raise TypeError(f"packed flags and tokens must be a binary column, not {arr.type}")
    dt = np.dtype(dtype)
    k = dt.itemsize
    n = len(arr)
    if n == 0:
        return np.zeros(0, dt.newbyteorder("=")), np.zeros(0, np.int64), np.zeros(0, np.int64)
    bufs = arr.buffers()
    odt = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
    off = np.frombuffer(bufs[1], dtype=odt)[arr.offset: arr.offset + n + 1].astype(np.int64)
    size = np.diff(off)
    if arr.null_count:
        size = np.where(arr.is_valid().to_numpy(zero_copy_only=False), size, 0)
    if ((off - off[0]) % k).any():  # a row that is not whole values: read row by row
        rows = [b"" if v is None else v[: len(v) - len(v) % k] for v in arr.to_pylist()]
        size = np.array([len(v) for v in rows], dtype=np.int64)
        off = np.r_[0, np.cumsum(size)]
        raw = np.frombuffer(b"".join(rows), dtype=np.uint8)
    else:
        raw = np.frombuffer(bufs[2], dtype=np.uint8)[int(off[0]): int(off[-1])] \
            if bufs[2] is not None else np.zeros(0, np.uint8)
    vals = raw.view(dt).astype(dt.newbyteorder("="))
    return vals, (off[:-1] - off[0]) // k, size // k


try:  # compiled row scatter (numba is a dependency; the NumPy path gives the same arrays)
    from numba import njit as _njit

    @_njit(cache=True, nogil=True, boundscheck=False)
    def _scatter_compiled(  # type: ignore[no-untyped-def]  # pragma: no cover
            blob, take, dst, widths, buf, m, pr_v, pr_o, pr_n, pr_c, prs,
            tk_v, tk_o, tk_n, tk_c, tks):
        for i in range(take.shape[0]):
            r = take[i]
            d = dst[i]
            c0 = 0
            for j in range(widths.shape[0]):
                w = widths[j]
                base = m * c0 + d * w
                for q in range(w):
                    buf[base + q] = blob[r, c0 + q]
                c0 += w
            for j in range(pr_c.shape[0]):
                prs[j, d] = pr_v[pr_o[r] + pr_c[j]] if pr_c[j] < pr_n[r] else False
            for j in range(tk_c.shape[0]):
                tks[j, d] = tk_v[tk_o[r] + tk_c[j]] if tk_c[j] < tk_n[r] else 0

except ImportError:  # pragma: no cover
    _scatter_compiled = None


def _scatter_rows(blob: np.ndarray, take: np.ndarray, dst: np.ndarray, widths: np.ndarray,
                  buf: np.ndarray, m: int, pr: tuple[np.ndarray, np.ndarray, np.ndarray],
                  pr_cols: np.ndarray, prs: np.ndarray,
                  tk: tuple[np.ndarray, np.ndarray, np.ndarray], tk_cols: np.ndarray,
                  tks: np.ndarray) -> None:
    """Copy rows ``take`` of one batch to places ``dst`` of a tile side: each field's
    words into its own ``(m, width)`` block of ``buf`` (field after field), the chosen
    flags and tokens (``pr_cols``, ``tk_cols`` of each row's lists; see
    :func:`_binary_parts`) into rows of ``prs`` and ``tks`` (one row per flag or token)."""
    if _scatter_compiled is not None:
        _scatter_compiled(blob, take, dst, widths, buf, m, *pr, pr_cols, prs,
                          *tk, tk_cols, tks)
        return
    c0 = 0  # without numba: the same, a field or list element at a time
    for w in widths.tolist():
        buf[m * c0: m * (c0 + w)].reshape(m, w)[dst] = blob[take, c0:c0 + w]
        c0 += w
    for (v, o, n), cols, out, fill in ((pr, pr_cols, prs, False), (tk, tk_cols, tks, 0)):
        for j, c in enumerate(cols.tolist()):
            ok = c < n[take]
            out[j, dst] = np.where(ok, v[np.where(ok, o[take] + c, 0)] if len(v) else fill,
                                   fill)


def _tile_sides(batches: list[Any], plan: _TilePlan
                ) -> Iterator[tuple[EncodedFrame, EncodedFrame, np.ndarray, np.ndarray]]:
    """Each tile of one partition's rows (Arrow batches of ``_packed`` columns plus
    ``_tile`` and ``_side``), as ``(frame_a, frame_b, rows_a, rows_b)`` with each
    side's rows in ``_row`` order (a tile with no records on a side has no pairs and is
    left out). Each batch is copied straight into its tile's arrays and released
    (``batches`` is emptied): a tile's records are held once, not as Arrow data and
    again as NumPy arrays."""
    tile = np.concatenate([rb.column("_tile").to_numpy() for rb in batches]).astype(np.int64)
    side = np.concatenate([rb.column("_side").to_numpy() for rb in batches]).astype(np.int64)
    rows = np.concatenate([rb.column(ROW).to_numpy() for rb in batches]).astype(np.int64)
    order = np.lexsort((rows, side, tile))
    group = tile * 2 + side  # groups: (tile, side), numbered in sorted order
    starts = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]
    gkeys = group[order[starts]]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    gid = np.searchsorted(starts, rank, side="right") - 1  # each input row's group
    pos = rank - starts[gid]  # and its place there
    grp_rows = np.split(rows[order], starts[1:])
    del order, rank, tile, side, rows, group
    widths = [(plan.nbits[f] + 63) // 64 for f in plan.fields]
    cols_pr = [np.asarray(ix[0], np.int64) for ix in (plan.index_a, plan.index_b)]
    cols_tk = [np.asarray(ix[1], np.int64) for ix in (plan.index_a, plan.index_b)]
    nw = sum(widths)
    wid = np.asarray(widths, dtype=np.int64)
    store = {g: (np.empty(len(r) * nw, dtype=np.uint64),
                 np.empty((len(plan.fields), len(r)), dtype=bool),
                 np.empty((len(plan.tokens), len(r)), dtype=np.int64),
                 np.empty(len(r), dtype=object)) for g, r in enumerate(grp_rows)}
    at = 0
    batches.reverse()  # popped from the end: in arrival order, each released once copied
    while batches:
        rb = batches.pop()
        n = rb.num_rows
        g_here, p_here = gid[at:at + n], pos[at:at + n]
        at += n
        blob = _arrow_words(rb.column("blob"), 64 * nw)
        idv = rb.column("id").to_numpy(zero_copy_only=False)
        pr, tk = _binary_parts(rb.column("pr"), "?"), _binary_parts(rb.column("tk"), ">i8")
        for g in np.unique(g_here):
            take = np.flatnonzero(g_here == g)
            dst, s = p_here[take], int(gkeys[g] % 2)
            words, prs, tks, ids = store[int(g)]
            _scatter_rows(blob, take, dst, wid, words, len(ids), pr, cols_pr[s], prs,
                          tk, cols_tk[s], tks)
            ids[dst] = idv[take]
        del rb, blob, idv, pr, tk
    pa.default_memory_pool().release_unused()

    def frame(g: int, meta: dict[str, Any]) -> EncodedFrame:
        words, prs, tks, ids = store.pop(g)  # the frame alone holds the records now
        m, fl, c0 = len(ids), {}, 0
        for j, (f, w) in enumerate(zip(plan.fields, widths)):
            fl[f] = BitMatrix(words[m * c0: m * (c0 + w)].reshape(m, w), plan.nbits[f],
                              present=prs[j])
            c0 += w
        toks = {t: _i2u(tks[j]) for j, t in enumerate(plan.tokens)}
        return EncodedFrame(ids, fl, None, toks, dict(meta))

    where = {int(k): g for g, k in enumerate(gkeys)}
    for t in sorted({int(k) // 2 for k in gkeys}):
        ga, gb = where.get(2 * t), where.get(2 * t + 1)
        if ga is None or gb is None:  # a side with no records: no pairs
            store.pop(ga if gb is None else gb, None)
            continue
        yield frame(ga, plan.meta_a), frame(gb, plan.meta_b), grp_rows[ga], grp_rows[gb]


_TILE_KEYS: dict[int, list[int]] = {}


def _tile_keys(spark: "SparkSession", n: int) -> list[int]:
    """One integer key per tile such that Spark's hash partitioning into ``n`` partitions
    (``repartition(n, key)``: Murmur3 with seed 42, then ``pmod n``) sends tile ``t`` to
    partition ``t``: every tile gets a task of its own (with ``repartition(n, tile)`` the
    tile numbers themselves would collide). Found by asking Spark for the partition of
    the first few thousand integers, so it is the engine's own hash, whatever its version
    (asked once per tile count in a process: a link's passes reuse the keys)."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    if n in _TILE_KEYS:
        return list(_TILE_KEYS[n])
    span = 64 * n + 64
    while True:
        rows = spark.range(span).select(
            F.col("id").cast("long").alias("k"),
            F.pmod(F.hash(F.col("id").cast("long")), F.lit(n)).alias("p")) \
            .groupBy("p").agg(F.min("k").alias("k")).collect()
        got = {int(r["p"]): int(r["k"]) for r in rows}
        if len(got) == n:
            _TILE_KEYS[n] = [got[t] for t in range(n)]
            return list(_TILE_KEYS[n])
        span *= 4  # pragma: no cover - 64 candidates a partition always suffice in practice


def _tiles(a: SparkEncoded, b: SparkEncoded, plan: _TilePlan, tiles: tuple[int, int],
           run: Any, schema: Any) -> "DataFrame":
    """Send A's part ``p`` and B's part ``q`` to tile ``p * kb + q`` and apply
    ``run(frame_a, frame_b, rows_a, rows_b)`` to every tile (:func:`_tile_sides`: each
    side's records as an EncodedFrame and their ``_row`` marks, in ``_row`` order); ``run``
    returns an Arrow table of ``schema``.

    Both sides are shuffled once into one partition per tile (hash partitioning on a key
    chosen per tile, :func:`_tile_keys`) and each partition is read by one Python task:
    no sort and no grouping on the JVM (a cogroup sorts each partition by tile, which at a
    million records a side spilled nearly all the shuffled data to disk). A partition
    holding several tiles (should Spark ever place two together) is split by tile in
    the task, so the result never depends on where the tiles land."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    ka, kb = int(tiles[0]), int(tiles[1])
    n = ka * kb
    keys = _tile_keys(a.df.sparkSession, n)
    part = F.pmod(F.xxhash64(F.col(ROW)), F.lit(ka))
    ta = _packed(a, plan).withColumn(
        "_tile", F.explode(F.sequence(part * kb, part * kb + (kb - 1)))) \
        .withColumn("_side", F.lit(0).cast("byte"))
    part = F.pmod(F.xxhash64(F.col(ROW)), F.lit(kb))
    tb = _packed(b, plan).withColumn(
        "_tile", F.explode(F.transform(F.sequence(F.lit(0), F.lit(ka - 1)),
                                       lambda x: x * kb + part))) \
        .withColumn("_side", F.lit(1).cast("byte"))
    key = F.element_at(F.array(*[F.lit(k).cast("long") for k in keys]),
                       (F.col("_tile") + 1).cast("int"))
    both = ta.unionByName(tb).withColumn("_key", key).repartition(n, "_key").drop("_key")

    def apply(batches: Iterator[Any]) -> Iterator[Any]:
        # the shuffled batches are freed one by one as they are copied into the tile's
        # arrays; served from their own mappings, their memory goes back to the system
        # at once (glibc otherwise keeps it: a tile then peaks at twice its size)
        # (Python workers are reused: the usual threshold is put back however this ends)
        _mmap_threshold(1 << 20)
        try:
            held = [rb for rb in batches if rb.num_rows]
            if not held:
                return
            for fa, fb, ra, rb in _tile_sides(held, plan):
                _mmap_threshold(32 << 20)
                out = run(fa, fb, ra, rb)
                del fa, fb
                yield from out.to_batches()
        finally:
            _mmap_threshold(32 << 20)

    return both.mapInArrow(apply, schema=schema)


def _mmap_threshold(size: int) -> None:
    """Where glibc is the C library: serve allocations of ``size`` bytes or more from
    their own memory mappings (returned to the system when freed). Elsewhere nothing."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.mallopt  # noqa: B018 - glibc only
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.mallopt(-3, int(size))  # M_MMAP_THRESHOLD


_LIBC: Any = None


def _tile_candidates(fa: EncodedFrame, fb: EncodedFrame, plan: _TilePlan
                     ) -> tuple[EncodedFrame, EncodedFrame, np.ndarray, np.ndarray]:
    """A tile's two sides with the plan's pair tokens added, and its candidate pairs."""
    if plan.combos:
        fa = with_combined_tokens(fa, plan.combos)
        fb = with_combined_tokens(fb, plan.combos)
    ia, ib = block.candidate_pairs(fa, fb, plan.rules, b_common=plan.common)
    return fa, fb, ia, ib


def _tiled_scores(a: SparkEncoded, b: SparkEncoded, plan: _TilePlan,
                  min_weight: float | None, tiles: tuple[int, int]) -> "DataFrame":
    """Block and score in tiles; rows ``ra, rb, id_a, id_b, match_weight,
    match_probability`` of the pairs at or above ``min_weight`` (every pair when
    ``None``), plus one row per tile with ``ra = -1`` and ``rb`` = its candidate count."""
    from pyspark.sql import types as T  # noqa: PLC0415

    floor = None if min_weight is None else float(min_weight)
    out_schema = pa.schema([("ra", pa.int64()), ("rb", pa.int64()), ("id_a", pa.string()),
                            ("id_b", pa.string()), ("match_weight", pa.float64()),
                            ("match_probability", pa.float64())])

    def run(fa: EncodedFrame, fb: EncodedFrame, ra: np.ndarray, rb: np.ndarray) -> Any:
        fa, fb, ia, ib = _tile_candidates(fa, fb, plan)
        ncand = len(ia)
        w = plan.model.score(fa, fb, ia, ib)["match_weight"].to_numpy()
        if floor is not None:
            keep = w >= floor
            ia, ib, w = ia[keep], ib[keep], w[keep]
        return pa.table({"ra": np.r_[-1, ra[ia]], "rb": np.r_[ncand, rb[ib]],
                         "id_a": pa.array([None, *fa.ids[ia].tolist()], pa.string()),
                         "id_b": pa.array([None, *fb.ids[ib].tolist()], pa.string()),
                         "match_weight": np.r_[np.nan, w],
                         "match_probability": np.r_[np.nan, weight_to_probability(w)]},
                        schema=out_schema)

    sch = T.StructType([
        T.StructField("ra", T.LongType()), T.StructField("rb", T.LongType()),
        T.StructField("id_a", T.StringType()), T.StructField("id_b", T.StringType()),
        T.StructField("match_weight", T.DoubleType()),
        T.StructField("match_probability", T.DoubleType())])
    return _tiles(a, b, plan, tiles, run, sch)


def _tiled_patterns(a: SparkEncoded, b: SparkEncoded, plan: _TilePlan,
                    tiles: tuple[int, int], agree: Sequence[str] = ()
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The comparison level patterns of every candidate pair and their counts, counted
    in tiles (each tile blocks, compares and compresses its own pairs; only the distinct
    patterns leave it) and summed on Spark. ``agree``: keep only the pairs that share a
    non-missing value of each of these tokens too (an EM session's further tokens)."""
    from pyspark.sql import functions as F  # noqa: PLC0415
    from pyspark.sql import types as T  # noqa: PLC0415

    width = len(plan.model.comparisons)
    out_schema = pa.schema([("p", pa.binary()), ("n", pa.int64())])

    def run(fa: EncodedFrame, fb: EncodedFrame, _ra: np.ndarray, _rb: np.ndarray) -> Any:
        fa, fb, ia, ib = _tile_candidates(fa, fb, plan)
        for t in agree:
            ta, tb = fa.tokens[t][ia], fb.tokens[t][ib]
            keep = (ta != 0) & (ta == tb)
            ia, ib = ia[keep], ib[keep]
        if len(ia) == 0:
            return out_schema.empty_table()
        pats, counts, _ = compress_patterns(plan.model.levels(fa, fb, ia, ib))
        return pa.table({"p": pa.array([r.tobytes() for r in pats], pa.binary()),
                         "n": counts.astype(np.int64)}, schema=out_schema)

    sch = T.StructType([T.StructField("p", T.BinaryType()), T.StructField("n", T.LongType())])
    rows = _tiles(a, b, plan, tiles, run, sch).groupBy("p").agg(F.sum("n").alias("n")) \
        .collect()
    pats = np.frombuffer(b"".join(bytes(r["p"]) for r in rows), dtype=np.int8) \
        .reshape(len(rows), width)
    return pats.copy(), np.array([int(r["n"]) for r in rows], dtype=np.int64)


# --------------------------------------------------------------------------- resolving


def connected_components(edges: "DataFrame", src: str = "src", dst: str = "dst", *,
                         max_iter: int = 200) -> "DataFrame":
    """Connected components of an undirected graph given as an edge DataFrame.

    Returns ``node, component`` for every node in an edge; ``component`` is the smallest
    node id of the component. Iterative min-label propagation with pointer jumping (each
    round takes the smallest label over a node's edges, then the label of that label);
    rounds grow with the logarithm of the component diameter in practice. Lineage is cut
    each round with local checkpoints.
    """
    from pyspark.sql import functions as F  # noqa: PLC0415

    e = edges.select(F.col(src).alias("u"), F.col(dst).alias("v")).filter(F.col("u") != F.col("v"))
    e = e.unionByName(e.select(F.col("v").alias("u"), F.col("u").alias("v"))).distinct() \
        .localCheckpoint()
    labels = e.groupBy("u").agg(F.least(F.min("v"), F.first("u")).alias("c")) \
        .select(F.col("u").alias("node"), "c").localCheckpoint()
    for _ in range(max_iter):
        # smallest label among neighbours
        nb = e.join(labels.select(F.col("node").alias("v"), F.col("c").alias("cv")), "v") \
            .groupBy("u").agg(F.min("cv").alias("m"))
        step = labels.join(nb.withColumnRenamed("u", "node"), "node") \
            .select("node", F.least("c", "m").alias("c"))
        # pointer jumping: take the label of the label
        jump = step.join(step.select(F.col("node").alias("c"), F.col("c").alias("cc")), "c",
                         "left").select("node", F.least("c", F.coalesce("cc", "c")).alias("c"))
        new = jump.localCheckpoint()
        changed = new.join(labels.withColumnRenamed("c", "old"), "node") \
            .filter(F.col("c") != F.col("old")).limit(1).count()
        labels = new
        if changed == 0:
            return labels.select("node", F.col("c").alias("component"))
    raise RuntimeError(f"connected components did not converge in {max_iter} rounds")


def one_to_one(scored: "DataFrame", *, method: str = "greedy",
               buckets: int | None = None) -> "DataFrame":
    """One-to-one assignment of scored pairs (``ra, rb, match_weight``, ...).

    The bipartite pair graph is split into connected components on Spark; components are
    grouped into ``buckets`` (default: the shuffle partitions) and each bucket is
    resolved by :func:`nislink.resolve.one_to_one` with ``method`` (``"greedy"`` or
    ``"optimal"``). Greedy and optimal assignment decide each component on its own, and
    ties are broken by ``(ra, rb)`` as locally, so the result equals the local one.
    """
    from pyspark.sql import functions as F  # noqa: PLC0415

    if method not in ("greedy", "optimal"):
        raise ValueError(f"unknown assignment method {method!r} (use 'greedy' or 'optimal')")
    spark = scored.sparkSession
    nbk = int(buckets or int(spark.conf.get("spark.sql.shuffle.partitions", "8")))
    x = scored.withColumn("_na", F.col("ra") * 2).withColumn("_nb", F.col("rb") * 2 + 1) \
        .localCheckpoint()
    comp = connected_components(x, "_na", "_nb")
    x = x.join(comp.select(F.col("node").alias("_na"), "component"), "_na") \
        .withColumn("_bucket", F.pmod(F.xxhash64("component"), F.lit(nbk))) \
        .drop("_na", "_nb", "component")
    out_schema = x.drop("_bucket").schema

    def resolve(pdf: pd.DataFrame) -> pd.DataFrame:
        ia = np.unique(pdf["ra"].to_numpy(np.int64), return_inverse=True)[1].reshape(-1)
        ib = np.unique(pdf["rb"].to_numpy(np.int64), return_inverse=True)[1].reshape(-1)
        sel = _assign(ia, ib, pdf["match_weight"].to_numpy(np.float64), method=method)
        return pdf.iloc[sel].drop(columns=["_bucket"])

    return x.groupBy("_bucket").applyInPandas(resolve, schema=out_schema)


_one_to_one_df = one_to_one  # for link(), whose option of the same name shadows it


def _components(edges: "DataFrame", src: str, dst: str, collect_limit: int) -> "DataFrame":
    """``node, component`` (the smallest node of its component): computed on the driver
    (:mod:`scipy.sparse.csgraph`) when there are at most ``collect_limit`` edges, else by
    :func:`connected_components` on Spark; the two agree by definition."""
    sel = edges.select(src, dst)
    if int(collect_limit) <= 0 or sel.limit(int(collect_limit) + 1).count() > collect_limit:
        return connected_components(edges, src, dst)
    pdf = sel.toPandas()
    u, v = pdf[src].to_numpy(np.int64), pdf[dst].to_numpy(np.int64)
    nodes, inv = np.unique(np.r_[u, v], return_inverse=True)
    k, m = len(nodes), len(u)
    inv = inv.reshape(-1)
    _, lab = _cc(coo_matrix((np.ones(m, np.int8), (inv[:m], inv[m:])), shape=(k, k)),
                 directed=False)
    low = np.full(int(lab.max()) + 1 if k else 0, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(low, lab, nodes)
    return edges.sparkSession.createDataFrame(
        pd.DataFrame({"node": nodes, "component": low[lab]}), "node long, component long")


def _cluster_labels(nodes: "DataFrame", edges: "DataFrame",
                    collect_limit: int = 0) -> "DataFrame":
    """``_row, cluster_id`` for every row of ``nodes`` (``_row``, ``id``): connected
    components numbered in order of their smallest ``_row`` (as resolve.cluster does)."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    spark = nodes.sparkSession
    comp = _components(edges, "ra", "rb", collect_limit)
    lab = nodes.join(comp.select(F.col("node").alias(ROW), "component"), ROW, "left") \
        .withColumn("label", F.coalesce("component", F.col(ROW))).drop("component")
    distinct = lab.select("label").distinct().orderBy("label")
    ranked = spark.createDataFrame(
        distinct.rdd.zipWithIndex().map(lambda t: (t[0][0], t[1])), "label long, cluster_id long")
    return lab.join(ranked, "label").drop("label")


# --------------------------------------------------------------------------- pipelines


@dataclass
class SparkLinkResult:
    """Result of :func:`link`: ``pairs`` (Spark DataFrame ``id_a, id_b, match_weight,
    match_probability, ra, rb``), the ``model`` used, the number of ``candidates``,
    ``scores``, every scored candidate pair (``ra, rb, id_a, id_b, match_weight,
    match_probability``; with token rules computed again from the encodings when used,
    otherwise persisted) and ``timings``: seconds of the stages run by :func:`link`
    (``statistics``: block-size caps and term frequencies; ``block_score``;
    ``one_to_one`` when it ran on the driver; with other rules ``blocking``)."""

    pairs: "DataFrame"
    model: FellegiSunter
    candidates: int
    scores: "DataFrame | None" = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_pandas(self) -> pd.DataFrame:
        """The pairs on the driver, ordered as :func:`nislink.link` orders them."""
        p = self.pairs.toPandas()
        return p.sort_values(["match_weight", "ra", "rb"], ascending=[False, True, True],
                             kind="mergesort").reset_index(drop=True)

    def write(self, path: str, mode: str = "errorifexists") -> None:
        """Write the pairs as Parquet."""
        write_parquet(self.pairs, path, mode=mode)


@dataclass
class SparkDedupeResult:
    """Result of :func:`dedupe`: ``pairs`` at or above the threshold, ``clusters``
    (``id, cluster_id`` for every record), the ``model`` and the ``candidates`` count."""

    pairs: "DataFrame"
    clusters: "DataFrame"
    model: FellegiSunter
    candidates: int


def _check(a: SparkEncoded, b: SparkEncoded) -> None:
    check_compatible(a.skeleton(), b.skeleton())


def link(
    a: SparkEncoded,
    b: SparkEncoded,
    *,
    model: FellegiSunter | None = None,
    min_weight: float = 0.0,
    blocking: Any = None,
    one_to_one: str | None = "greedy",
    fit_options: Mapping[str, Any] | None = None,
    tiles: tuple[int, int] | None = None,
    tile_records: int = 2_000_000,
    collect_limit: int = 5_000_000,
    **deprecated: Any,
) -> SparkLinkResult:
    """Link two parties' encodings on Spark: block, score, threshold, one-to-one.

    ``model``: a trained :class:`~nislink.model.FellegiSunter`; without one a model is
    trained on a sample by :func:`fit_model` (``fit_options`` are passed to it).
    ``min_weight`` is the minimum match weight; ``one_to_one`` is ``"greedy"``,
    ``"optimal"`` or ``None`` (keep every pair at or above ``min_weight``), as in
    :func:`nislink.link` (whose first-release names ``threshold`` and
    ``one_to_one_method`` are accepted here too, with a ``DeprecationWarning``). With the
    same trained model the pairs equal :func:`nislink.link`'s.

    With token blocking (the default rules for schema encodings) blocking and scoring run
    together in tiles (A in ``tiles[0]`` parts times B in ``tiles[1]`` parts; by default
    at most ``tile_records`` records a tile and at least one tile per task slot, laid out
    so that the fewest record copies are shipped: :func:`_tile_parts`): each tile is
    blocked and scored by the local kernels, and only the pairs at or above ``min_weight``
    leave it. Other rules (LSH, a CLK length filter) and models that compare CLKs join the
    candidate pairs to both sides' encodings instead. One-to-one assignment runs on the
    driver (:func:`nislink.resolve.one_to_one`) when at most ``collect_limit`` pairs
    reach ``min_weight``, else on Spark by connected components (:func:`one_to_one`).
    """
    opts = renamed_options("link", deprecated, min_weight=min_weight, one_to_one=one_to_one)
    min_weight, one_to_one_method = opts["min_weight"], opts["one_to_one"]
    if not isinstance(a, SparkEncoded) or not isinstance(b, SparkEncoded):
        raise TypeError("link() needs SparkEncoded inputs (see nislink.spark.encode/from_local)")
    _check(a, b)
    if model is None:
        fo = {"tiles": tiles, "tile_records": tile_records, **dict(fit_options or {})}
        model = fit_model(a, b, blocking=blocking, **fo)
    from pyspark import StorageLevel  # noqa: PLC0415
    from pyspark.sql import functions as F  # noqa: PLC0415

    rules = _rules(a, b, blocking)
    tiled = _token_rules(rules) and not any(c.record or c.relative
                                            for c in model.comparisons)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if tiled:
        parts = tuple(tiles) if tiles is not None else _tile_parts(
            int(a.df.count()), int(b.df.count()), tile_records, _task_slots(a.df.sparkSession))
        if len(parts) != 2 or min(int(x) for x in parts) < 1:
            raise ValueError(f"tiles must be two positive part counts, got {tiles!r}")
        plan = _action(lambda: _tile_plan(a, b, rules, model), "blocking statistics")
        timings["statistics"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = _tiled_scores(a, b, plan, float(min_weight), parts) \
            .persist(StorageLevel.MEMORY_AND_DISK_DESER)
        total = _action(lambda: out.filter(F.col("ra") < 0).agg(F.sum("rb")).collect(),
                        "blocking and scoring")[0][0]
        n_cand = int(total or 0)
        kept = out.filter(F.col("ra") >= 0)
        scored = _tiled_scores(a, b, plan, None, parts).filter(F.col("ra") >= 0)
        timings["block_score"] = time.perf_counter() - t0
    else:
        pairs = candidate_pairs(a, b, rules).persist(StorageLevel.MEMORY_AND_DISK)
        n_cand = int(_action(pairs.count, "blocking"))
        timings["blocking"] = time.perf_counter() - t0
        scored = score(pairs, a, b, model).persist(StorageLevel.MEMORY_AND_DISK)
        kept = scored.filter(F.col("match_weight") >= F.lit(float(min_weight)))
    if one_to_one_method:
        kept = _resolve_one_to_one(kept, one_to_one_method, collect_limit, timings)
    out = kept.select("id_a", "id_b", "match_weight", "match_probability", "ra", "rb")
    return SparkLinkResult(out, model, n_cand, scored, timings)


def _resolve_one_to_one(kept: "DataFrame", method: str, collect_limit: int,
                        timings: dict[str, float] | None = None) -> "DataFrame":
    """One-to-one assignment of the kept pairs: collected and resolved by
    :func:`nislink.resolve.one_to_one` on the driver when there are at most
    ``collect_limit``, else on Spark (:func:`one_to_one`). Both give the local result."""
    if method not in ("greedy", "optimal"):
        raise ValueError(f"unknown assignment method {method!r} (use 'greedy' or 'optimal')")
    cols = ["ra", "rb", "id_a", "id_b", "match_weight", "match_probability"]
    sel = kept.select(*cols)
    if int(collect_limit) <= 0 or sel.limit(int(collect_limit) + 1).count() > collect_limit:
        return _one_to_one_df(sel, method=method)
    t0 = time.perf_counter()
    pdf = sel.toPandas()
    ia = np.unique(pdf["ra"].to_numpy(np.int64), return_inverse=True)[1].reshape(-1)
    ib = np.unique(pdf["rb"].to_numpy(np.int64), return_inverse=True)[1].reshape(-1)
    pick = _assign(ia, ib, pdf["match_weight"].to_numpy(np.float64), method=method)
    res = pdf.iloc[np.sort(pick)].reset_index(drop=True)
    out = kept.sparkSession.createDataFrame(res, schema=sel.schema)
    if timings is not None:
        timings["one_to_one"] = time.perf_counter() - t0
    return out


def dedupe(
    a: SparkEncoded,
    *,
    model: FellegiSunter | None = None,
    min_weight: float = 0.0,
    blocking: Any = None,
    fit_options: Mapping[str, Any] | None = None,
    collect_limit: int = 5_000_000,
    **deprecated: Any,
) -> SparkDedupeResult:
    """De-duplicate one party's encodings: pairs at or above ``min_weight`` and clusters
    (connected components, computed on the driver when at most ``collect_limit`` pairs
    reach ``min_weight``, else on Spark; numbered by their first record, as
    :func:`nislink.linkage.dedupe` with ``method="components"``)."""
    min_weight = renamed_options("dedupe", deprecated, min_weight=min_weight)["min_weight"]
    if not isinstance(a, SparkEncoded):
        raise TypeError("dedupe() needs SparkEncoded input")
    from pyspark import StorageLevel  # noqa: PLC0415
    from pyspark.sql import functions as F  # noqa: PLC0415

    if model is None:
        model = fit_model(a, None, blocking=blocking, **dict(fit_options or {}))
    pairs = candidate_pairs(a, None, blocking).persist(StorageLevel.MEMORY_AND_DISK)
    n_cand = int(pairs.count())
    kept = score(pairs, a, None, model).filter(F.col("match_weight") >= F.lit(float(min_weight))) \
        .persist(StorageLevel.MEMORY_AND_DISK)
    clusters = _cluster_labels(a.df.select(ROW, "id"), kept.select("ra", "rb"),
                               collect_limit) \
        .select("id", "cluster_id", ROW)
    out = kept.select("id_a", "id_b", "match_weight", "match_probability", "ra", "rb")
    return SparkDedupeResult(out, clusters, model, n_cand)


def write_parquet(df: "DataFrame", path: str, *, mode: str = "errorifexists",
                  partitions: int | None = None) -> None:
    """Write a result DataFrame as Parquet (``partitions``: number of files)."""
    if partitions:
        df = df.repartition(int(partitions))
    df.write.mode(mode).parquet(path)

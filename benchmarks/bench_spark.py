"""Spark benchmark: the same synthetic linkage on the local engine and on Spark (local mode).

Data come from :func:`nislink.synth.generate_study` (``--n`` people): file A is the local
authority's submission (about ``n`` records), file B the DWP, DfE and MoJ extracts
concatenated (about ``1.3 n``). In one run:

1. **local**: :class:`nislink.Encoder` on both files, then :func:`nislink.link` (default
   blocking, model fitted on all candidates, greedy one-to-one);
2. **spark**: :func:`nislink.spark.encode` on Spark DataFrames of the same raw records,
   then :func:`nislink.spark.link` with the model from step 1 (so the two results can be
   compared: the benchmark reports whether the links are identical).

Both engines read the raw records from the same Parquet files (``--source parquet``, the
default: the way a pipeline meets its data, inside each engine's timed encode stage);
``--source pandas`` hands Spark the in-memory pandas frames instead (``createDataFrame``,
which ships the rows from the driver in every task that reads them).

Times are wall-clock seconds per stage (``spark_link_*_s``: the stages inside
:func:`nislink.spark.link`, from its ``timings``; the Spark link time also includes writing
the links as Parquet, not reading them back). ``spark_ratio`` is the Spark total over the
local total. The local link stage includes fitting the model; Spark links with that
model, so ``spark_ratio`` leaves fitting out on the Spark side. ``--fit`` also times
:func:`nislink.spark.fit_model` (``spark_fit_s``; ``spark_ratio_with_fit`` counts it in;
``spark_fit_prior_ratio`` is its prior over the local model's). ``--exchange`` runs the
study's own hand-over on the Spark side: each file's encodings are written with
:meth:`SparkEncoded.write` (``spark_write_s``, not in ``spark_ratio``) and the link reads
them back with :func:`nislink.spark.read_encoded`, as the linkage unit does. Peak memory
is the largest resident set size of the whole process tree seen while a phase runs
(sampled every 0.2 s with psutil): for the local phase this Python process; for the Spark
phase the driver, the JVM and the Python workers together.

Usage::

    python benchmarks/bench_spark.py                     # 20,000 people
    python benchmarks/bench_spark.py --n 100000
    python benchmarks/bench_spark.py --n 1000000 --driver-memory 8g --partitions 8
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sys
import tempfile
import threading
import time
from typing import Any

import pandas as pd
import psutil

from nislink.encode.encoder import Encoder
from nislink.linkage import link
from nislink.schema import Schema
from nislink.secrets import Secret

SECRET = Secret.from_bytes(bytes(range(32)))  # public benchmark key: synthetic data only
COLS = ["rid", "forename", "surname", "dob", "sex", "postcode", "nino", "upn"]
TODAY = dt.date(2026, 11, 1)


class PeakRSS:
    """Sample the resident set size of this process and all its descendants."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakRSS":
        self._t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._sample())

    @property
    def mib(self) -> float:
        """Peak in MiB."""
        return self.peak / 2**20


def _prep(df: pd.DataFrame, id_col: str) -> pd.DataFrame:
    df = df.rename(columns={id_col: "rid"})
    for c in ("nino", "upn"):
        if c not in df.columns:
            df = df.assign(**{c: None})
    df = df[COLS].astype(object)
    return df.where(df.notna(), None)


def run(n: int, seed: int, master: str, partitions: int, driver_memory: str,
        check: bool = True, source: str = "parquet", fit: bool = False,
        exchange: bool = False) -> dict[str, Any]:
    """Run both engines on ``n`` people; return the figures."""
    from nislink import spark as ns
    from nislink.synth import generate_study

    study = generate_study(n, seed)
    a_raw = _prep(study.la, "la_id")
    b_raw = pd.concat([_prep(study.dwp, "dwp_id"), _prep(study.dfe, "dfe_id"),
                       _prep(study.moj, "moj_id")], ignore_index=True)
    del study
    gc.collect()
    out: dict[str, Any] = {"people": n, "n_a": len(a_raw), "n_b": len(b_raw),
                           "source": source}
    tmpdir = tempfile.TemporaryDirectory()
    paths = {}
    if source == "parquet":
        # both engines read the raw records from the same Parquet files (small row groups,
        # so that Spark splits a file into as many ordered partitions as it has cores)
        for name, df in (("a", a_raw), ("b", b_raw)):
            paths[name] = os.path.join(tmpdir.name, f"{name}.parquet")
            df.to_parquet(paths[name], index=False, row_group_size=25_000)
        del a_raw, b_raw
        gc.collect()

    # ---- local engine
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        if source == "parquet":
            a_raw = pd.read_parquet(paths["a"]).astype(object)
            b_raw = pd.read_parquet(paths["b"]).astype(object)
            a_raw, b_raw = a_raw.where(a_raw.notna(), None), b_raw.where(b_raw.notna(), None)
        enc = Encoder(Schema.uk_default(), SECRET, today=TODAY)
        ea = enc.encode(a_raw, id_column="rid", party="la")
        eb = enc.encode(b_raw, id_column="rid", party="departments")
        t1 = time.perf_counter()
        res = link(ea, eb)
        t2 = time.perf_counter()
    out.update(local_encode_s=t1 - t0, local_link_s=t2 - t1, local_total_s=t2 - t0,
               local_peak_mib=mem.mib, local_candidates=res.candidates,
               local_links=len(res.pairs))
    model = res.model
    local_pairs = res.pairs[["id_a", "id_b", "match_weight"]]
    del ea, eb, res
    gc.collect()

    # ---- Spark (local mode)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        spark = ns.session(master, shuffle_partitions=partitions,
                           conf={"spark.driver.memory": driver_memory,
                                 "spark.default.parallelism": partitions,
                                 "spark.local.dir": tempfile.gettempdir()})
        t1 = time.perf_counter()
        # record order = input order (ties between equal weights are broken by it)
        if source == "parquet":
            da, db = spark.read.parquet(paths["a"]), spark.read.parquet(paths["b"])
        else:
            da, db = spark.createDataFrame(a_raw), spark.createDataFrame(b_raw)
        sa = ns.encode(da, Schema.uk_default(), SECRET, id_column="rid", party="la",
                       today=TODAY)
        sb = ns.encode(db, Schema.uk_default(), SECRET, id_column="rid", party="departments",
                       today=TODAY)
        t2 = time.perf_counter()
        if fit:  # the model fitted on Spark (sample + candidates counted on the cluster)
            fitted = ns.fit_model(sa, sb, candidates="cluster")
            out["spark_fit_s"] = time.perf_counter() - t2
            out["spark_fit_prior_ratio"] = fitted.prior / model.prior
        with tempfile.TemporaryDirectory() as tmp:
            if exchange:  # owners write their encodings; the linkage unit reads them
                tw = time.perf_counter()
                sa.write(os.path.join(tmp, "enc_a"))
                sb.write(os.path.join(tmp, "enc_b"))
                out["spark_write_s"] = time.perf_counter() - tw
                sa = ns.read_encoded(spark, os.path.join(tmp, "enc_a"))
                sb = ns.read_encoded(spark, os.path.join(tmp, "enc_b"))
            tl = time.perf_counter()  # (fitting and writing are timed apart)
            sres = ns.link(sa, sb, model=model)
            sres.write(os.path.join(tmp, "links.parquet"))
            t3 = time.perf_counter()
            links = spark.read.parquet(os.path.join(tmp, "links.parquet")) \
                .select("id_a", "id_b", "match_weight").toPandas()
    out.update(spark_start_s=t1 - t0, spark_encode_s=t2 - t1, spark_link_s=t3 - tl,
               spark_total_s=(t2 - t1) + (t3 - tl), spark_peak_mib=mem.mib,
               spark_candidates=sres.candidates, spark_links=len(links))
    out.update({f"spark_link_{k}_s": v for k, v in sres.timings.items()})
    out["spark_ratio"] = out["spark_total_s"] / out["local_total_s"]
    if fit:
        out["spark_ratio_with_fit"] = (out["spark_total_s"] + out["spark_fit_s"]) \
            / out["local_total_s"]
    if check:
        x = local_pairs.sort_values(["id_a", "id_b"]).reset_index(drop=True)
        y = links.sort_values(["id_a", "id_b"]).reset_index(drop=True)
        same = len(x) == len(y) and (x["id_a"].values == y["id_a"].values).all() and \
            (x["id_b"].values == y["id_b"].values).all() and \
            float((x["match_weight"] - y["match_weight"]).abs().max() or 0.0) < 1e-9
        out["identical_links"] = bool(same)
    spark.stop()
    tmpdir.cleanup()
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, print a table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="people (file A ~ n, B ~ 1.3 n)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partitions", type=int, default=8, help="shuffle/input partitions")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--source", choices=["parquet", "pandas"], default="parquet",
                    help="where both engines read the raw records: the same Parquet files "
                         "(default), or a pandas frame in memory (Spark: createDataFrame)")
    ap.add_argument("--fit", action="store_true",
                    help="also time nislink.spark.fit_model (not in spark_ratio: the links "
                         "are compared with the local model)")
    ap.add_argument("--exchange", action="store_true",
                    help="write the Spark encodings and link them as read back "
                         "(spark_write_s, not in spark_ratio)")
    args = ap.parse_args(argv)
    r = run(args.n, args.seed, args.master, args.partitions, args.driver_memory,
            source=args.source, fit=args.fit, exchange=args.exchange)
    for k, v in r.items():
        print(f"{k:>20}: {v:.2f}" if isinstance(v, float) else f"{k:>20}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

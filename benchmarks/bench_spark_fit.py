"""Fitting on Spark from samples: sample-only against counted on the cluster, at low overlap.

Data: :func:`nislink.synth.generate_study` (``--n`` people). File A is the LA extract;
file B the DWP extract cut to every record whose person is not in A plus ``--matched``
records whose person is (so few true matches among many records: the case where two
samples hold few matches). Each model is fitted by :func:`nislink.spark.fit_model` with
``max_records=--max-records`` a side (``candidates="sample"`` and ``"cluster"``, seeds
0, 1, 2) and, for reference, by :func:`nislink.link` on the whole files; every model then
links the whole files with the local engine, and the links are scored against the truth.

Printed per model: the expected number of matches (prior x possible pairs), precision,
recall and the number of links.

Usage::

    python benchmarks/bench_spark_fit.py                      # 200,000 people, 1,000 matched
    python benchmarks/bench_spark_fit.py --matched 70000       # plenty of matches
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from nislink import spark as ns
from nislink.encode.encoder import Encoder
from nislink.linkage import link
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

SECRET = Secret.from_bytes(bytes(range(32)))  # public benchmark key: synthetic data only
TODAY = dt.date(2026, 11, 1)


def main(argv: list[str] | None = None) -> int:
    """Parse options, fit, link, print one line per model."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="people")
    ap.add_argument("--matched", type=int, default=1_000,
                    help="records of B whose person is in A")
    ap.add_argument("--max-records", type=int, default=20_000, help="sample size a side")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    st = generate_study(args.n, args.seed)
    ta = st.truth["truth_la"][["la_id", "person_id"]]
    tb = st.truth["truth_dwp"][["dwp_id", "person_id"]]
    in_a = tb["person_id"].isin(set(ta["person_id"]))
    keep = set(tb.loc[~in_a, "dwp_id"]) | set(
        tb.loc[in_a, "dwp_id"].sample(min(args.matched, int(in_a.sum())), random_state=1))
    dwp = st.dwp[st.dwp["dwp_id"].isin(keep)].reset_index(drop=True)
    enc = Encoder(Schema.uk_default(), SECRET, today=TODAY)
    ea = enc.encode(st.la, id_column="la_id", party="la")
    eb = enc.encode(dwp, id_column="dwp_id", party="dwp")
    pairs = ta.merge(tb[tb["dwp_id"].isin(keep)], on="person_id")
    truth = set(zip(pairs["la_id"], pairs["dwp_id"]))
    total = len(ea) * len(eb)

    def report(name: str, model: object, res: object) -> None:
        got = set(zip(res.pairs["id_a"], res.pairs["id_b"]))  # type: ignore[attr-defined]
        tp = len(got & truth)
        print(f"{name:<22} expected matches {model.prior * total:>9,.0f}  "  # type: ignore[attr-defined]
              f"precision {tp / max(len(got), 1):.4f}  recall {tp / len(truth):.4f}  "
              f"links {len(got):,}", flush=True)

    full = link(ea, eb)
    print(f"A {len(ea):,} x B {len(eb):,} records, {len(truth):,} true matches, "
          f"{full.candidates:,} candidates")
    report("whole files (local)", full.model, full)
    spark = ns.session("local[2]", shuffle_partitions=8, conf={"spark.driver.memory": "4g"})
    try:
        sa, sb = ns.from_local(spark, ea, partitions=4), ns.from_local(spark, eb, partitions=4)
        for seed in (0, 1, 2):
            for how in ("sample", "cluster"):
                m = ns.fit_model(sa, sb, max_records=args.max_records, seed=seed,
                                 candidates=how)
                report(f"{how}, seed {seed}", m, link(ea, eb, model=m))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scale benchmark: synthetic UK people linked end to end (encode, block, compare, score, assign).

Data come from :mod:`nislink.synth` (``generate_study``): file A is the local authority's
programme submission, file B the departmental extracts (DWP, DfE and MoJ) concatenated. The
truth (``person_id``) gives pairs completeness and linkage quality. Every stage is timed;
peak memory is the process's peak resident set size (it includes generating the data).

Usage::

    python benchmarks/bench_scale.py                 # 10,000 and 100,000 people
    python benchmarks/bench_scale.py --n 1000000     # one size
    python benchmarks/bench_scale.py --sizes 10000,100000,1000000
    python benchmarks/bench_scale.py --n 1000000 --b-rows 10000000   # B streamed
    python benchmarks/bench_scale.py --series 1000:10000,10000:100000,100000:1000000,1000000:10000000

With ``--b-rows`` file B is larger than memory and is streamed: see ``bench_stream.py``.

Note: A and B hold some people more than once (duplicates, MoJ aliases, people in both
MoJ and DWP), so a one-to-one linkage cannot reach recall 1 against every true pair.
``recall``/``f1`` count every true pair; ``recall_one_to_one``/``f1_one_to_one`` count
against the largest one-to-one set of true pairs (``one_to_one_pairs``, a greedy maximal
matching over the true pairs). Pairs completeness is measured against every true pair.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nislink.encode.encoder import Encoder
from nislink.evaluate import evaluate_pairs
from nislink.linkage import candidates, link
from nislink.schema import Schema
from nislink.secrets import Secret

SECRET = Secret.from_bytes(bytes(range(32)))  # public benchmark key: synthetic data only
COLS = ["rid", "forename", "surname", "dob", "sex", "postcode", "nino", "upn"]


def _peak_mib() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return r / 1024.0


def _prep(df: pd.DataFrame, id_col: str) -> pd.DataFrame:
    df = df.rename(columns={id_col: "rid"})
    for c in ("nino", "upn"):
        if c not in df.columns:
            df = df.assign(**{c: None})
    return df[COLS]


def run(n_people: int, seed: int = 7) -> dict[str, Any]:
    """Generate, encode and link one size; return the figures."""
    from nislink.synth import generate_study

    t0 = time.perf_counter()
    study = generate_study(n_people, seed)
    a_raw = _prep(study.la, "la_id")
    b_raw = pd.concat([_prep(study.dwp, "dwp_id"), _prep(study.dfe, "dfe_id"),
                       _prep(study.moj, "moj_id")], ignore_index=True)
    truth = pd.concat([
        study.truth[f"truth_{k}"].rename(columns={f"{k}_id": "rid"})[["rid", "person_id"]]
        for k in ("la", "dwp", "dfe", "moj")
    ])
    del study
    gc.collect()
    t_synth = time.perf_counter() - t0

    times: dict[str, float] = {}
    t = time.perf_counter()
    enc = Encoder(Schema.uk_default(), SECRET)
    ea = enc.encode(a_raw, id_column="rid", party="la")
    eb = enc.encode(b_raw, id_column="rid", party="departments")
    times["encode"] = time.perf_counter() - t
    del a_raw, b_raw
    gc.collect()

    t = time.perf_counter()
    ia, ib = candidates(ea, eb)
    times["block"] = time.perf_counter() - t

    res = link(ea, eb, blocking=(ia, ib))  # default blocking, computed above
    for k in ("compare", "fit", "score", "resolve"):
        times[k] = res.timings.get(k, 0.0)
    total = sum(times.values())

    # truth: positions of true pairs
    pa = pd.DataFrame({"rid": ea.ids, "ia": np.arange(len(ea))}).merge(truth, on="rid")
    pb = pd.DataFrame({"rid": eb.ids, "ib": np.arange(len(eb))}).merge(truth, on="rid")
    tp = pa.merge(pb, on="person_id")
    from nislink.block import pairs_completeness

    pc = pairs_completeness(ia, ib, tp["ia"].to_numpy(), tp["ib"].to_numpy())
    m = evaluate_pairs(res.pairs, pd.DataFrame({"id_a": tp["rid_x"], "id_b": tp["rid_y"]}))
    # best achievable recall one-to-one: people in A with at least one true partner in B
    # (a maximum matching between A and B over the true pairs, as no record links twice)
    from nislink.resolve import greedy_one_to_one

    reachable = len(greedy_one_to_one(tp["ia"].to_numpy(), tp["ib"].to_numpy(),
                                      np.zeros(len(tp))))
    pr, rr = m["precision"], m["tp"] / max(reachable, 1)
    return {
        "people": n_people, "n_a": len(ea), "n_b": len(eb), "true_pairs": len(tp),
        "candidates": len(ia), "pairs_completeness": pc,
        "links": len(res.pairs), "precision": m["precision"],
        "recall": m["recall"], "f1": m["f1"], "one_to_one_pairs": reachable,
        "recall_one_to_one": rr, "f1_one_to_one": 2 * pr * rr / (pr + rr) if pr + rr else 0.0,
        **{f"t_{k}": v for k, v in times.items()}, "t_total": total,
        "t_synth_not_counted": t_synth, "peak_rss_mib": _peak_mib(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the sizes and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=None, help="one size (people)")
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated people counts")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--b-rows", type=int, default=None,
                    help="larger than memory: make file B this many records (the study's "
                         "extracts plus other people's) and stream it (bench_stream.py)")
    ap.add_argument("--series", default=None, metavar="P:B,...",
                    help="cost against size, streamed (bench_stream.py --series)")
    args = ap.parse_args(argv)
    if args.b_rows or args.series:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_stream  # noqa: PLC0415

        more = ["--seed", str(args.seed)]
        if args.series:
            return bench_stream.main(["--series", args.series, *more])
        return bench_stream.main(["--people", str(args.n or 1_000_000), "--b-rows",
                                  str(args.b_rows), *more])
    sizes = [args.n] if args.n else [int(x) for x in args.sizes.split(",")]
    rows = []
    for n in sizes:
        r = run(n, args.seed)
        rows.append(r)
        print(f"{n:>9} people: A={r['n_a']} B={r['n_b']} candidates={r['candidates']} "
              f"PC={r['pairs_completeness']:.4f} F1(1-1)={r['f1_one_to_one']:.4f} "
              f"time={r['t_total']:.1f}s peak={r['peak_rss_mib']:.0f} MiB", flush=True)
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    print()
    print(df.T.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

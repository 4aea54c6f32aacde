"""Time and peak memory of the synthetic-data generator.

    python benchmarks/bench_synth.py                 # 100,000 people (default, ~10 s)
    python benchmarks/bench_synth.py --people 1000000

Prints wall time for generation and for writing (CSV + Parquet), rows per table, output
size and peak resident memory (``resource.getrusage`` ``ru_maxrss``; psutil if present).
The acceptance target is 1,000,000 people with all extracts in <= 60 s and <= 4 GiB.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _peak_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", "--n", type=int, default=100_000, dest="people")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None, help="output directory (default: temporary)")
    ap.add_argument("--keep", action="store_true", help="keep the output directory")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    from nislink.synth import generate_study, write_study

    t_import = time.perf_counter() - t0
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        t1 = time.perf_counter()
        study = generate_study(args.people, args.seed)
        t2 = time.perf_counter()
        counts = write_study(study, out)
        t3 = time.perf_counter()
        size = sum(p.stat().st_size for p in out.iterdir())
    finally:
        if not args.keep and args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    rss = _peak_mib()
    try:
        import psutil

        cur = psutil.Process(os.getpid()).memory_info().rss / 2**20
    except ImportError:  # pragma: no cover
        cur = float("nan")
    print(f"people requested        {args.people:>12,}")
    for name, n in counts.items():
        print(f"  {name:<22}{n:>12,}")
    print(f"import                  {t_import:>11.1f} s")
    print(f"generate                {t2 - t1:>11.1f} s")
    print(f"write csv+parquet       {t3 - t2:>11.1f} s  ({size / 2**20:,.0f} MiB on disk)")
    print(f"total (generate+write)  {t3 - t1:>11.1f} s")
    print(f"peak RSS                {rss:>11,.0f} MiB  (current {cur:,.0f} MiB)")
    print(f"cpu count               {os.cpu_count():>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

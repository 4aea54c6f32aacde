"""Larger than memory: a local authority's file linked to a department-sized file, streamed.

File A is the LA submission of a synthetic study of ``--people`` people
(:func:`nislink.synth.generate_study`); file B holds that study's DWP, DfE and MoJ extracts
plus the extracts of further, independent synthetic studies (other people, other seeds)
until it has ``--b-rows`` records: a national file in which the LA's people are a small
part. Both files are written as Parquet and encoded with :func:`nislink.encode.encode_file`
(``uk_default``, two worker processes, chunks of 100,000 rows), as each party would. The
linkage unit then loads A and streams B with :func:`nislink.streaming.link_stream`
(chunks of ``--chunk-rows``, model fitted on a random sample of ``--sample-rows``).

Reported: each stage's wall and CPU seconds, the peak resident memory of the preparing
process (generation and encoding, workers included) and of the linking process (which
holds A, one chunk of B and the kept pairs), pairs completeness (the share of true pairs
that blocking proposes, counted chunk by chunk through ``on_candidates``), and precision,
recall and F1 of the one-to-one links against the truth (recall against the largest
one-to-one set of true pairs, as in ``bench_scale.py``).

The prepared files are kept in ``--workdir`` and reused when the same sizes and seed are
asked for again (``--fresh`` to rebuild); the encode figures are then those recorded when
they were made. Usage::

    python benchmarks/bench_stream.py --people 1000000 --b-rows 10000000
    python benchmarks/bench_stream.py --people 20000 --b-rows 200000     # a few minutes
    python benchmarks/bench_stream.py --people 20000 --b-rows 200000 --check-in-memory
    python benchmarks/bench_stream.py --series 1000:10000,10000:100000,100000:1000000

``--series`` runs each size in its own process and draws the cost-against-size chart
(``docs/img/cost_vs_size.png``); a size already run in its ``--workdir`` is reused.

``--check-in-memory`` also links the two files in memory with the streamed run's model
and checks that the links are identical (for sizes that fit).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SECRET_BYTES = bytes(range(32))  # public benchmark key: synthetic data only
COLS = ["rid", "forename", "surname", "dob", "sex", "postcode", "nino", "upn"]


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _peak_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


def _prep(df: pd.DataFrame, id_col: str, prefix: str = "") -> pd.DataFrame:
    df = df.rename(columns={id_col: "rid"})
    for c in ("nino", "upn"):
        if c not in df.columns:
            df = df.assign(**{c: None})
    df = df[COLS].astype(object).where(df[COLS].notna(), None)
    if prefix:
        df["rid"] = prefix + df["rid"].astype(str)
    return df


def _depts(study: Any, prefix: str = "") -> pd.DataFrame:
    return pd.concat([_prep(study.dwp, "dwp_id", prefix), _prep(study.dfe, "dfe_id", prefix),
                      _prep(study.moj, "moj_id", prefix)], ignore_index=True)


class _RssSampler:
    """Resident memory of this process every 0.1 s while the ``with`` block runs."""

    def __init__(self) -> None:
        import threading

        self.samples: list[tuple[float, float]] = [(time.perf_counter(), _rss_mib())]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.samples.append((time.perf_counter(), _rss_mib()))

    def __enter__(self) -> "_RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), _rss_mib()))

    def peak(self, t0: float, t1: float) -> float:
        """Largest sample taken between ``t0`` and ``t1`` (perf_counter seconds)."""
        inside = [m for t, m in self.samples if t0 <= t <= t1]
        return max(inside) if inside else float("nan")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _generate(people: int, b_rows: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Write the raw files A and B and the true pairs; the figures of the generation."""
    from nislink.synth import generate_study

    t0, c0 = time.perf_counter(), _cpu()
    study = generate_study(people, seed)
    a_raw = _prep(study.la, "la_id")
    schema = pa.schema([(c, pa.string()) for c in COLS])
    pq.write_table(pa.Table.from_pandas(a_raw, schema=schema, preserve_index=False),
                   workdir / "a_raw.parquet")
    truth = {k: study.truth[f"truth_{k}"][[f"{k}_id", "person_id"]].rename(
        columns={f"{k}_id": "rid"}) for k in ("la", "dwp", "dfe", "moj")}
    tb = pd.concat([truth[k] for k in ("dwp", "dfe", "moj")], ignore_index=True)
    tp = truth["la"].merge(tb, on="person_id", suffixes=("_a", "_b"))[["rid_a", "rid_b"]]
    tp.to_parquet(workdir / "truth.parquet", index=False)
    own = _depts(study)
    del study, a_raw
    writer = pq.ParquetWriter(workdir / "b_raw.parquet", schema)
    written, k = 0, 0
    part = own
    while True:
        take = part.iloc[: b_rows - written]
        writer.write_table(pa.Table.from_pandas(take, schema=schema, preserve_index=False))
        written += len(take)
        if written >= b_rows:
            break
        k += 1  # other people: an independent study with its own seed, ids prefixed
        part = _depts(generate_study(people, seed + 1000 * k), prefix=f"X{k}-")
    writer.close()
    return {"people": people, "b_rows_asked": b_rows, "seed": seed,
            "t_synth": time.perf_counter() - t0, "cpu_synth": _cpu() - c0}


def prepare(people: int, b_rows: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Generate and encode A and B into ``workdir``; return the figures (a manifest)."""
    from nislink.encode import encode_file
    from nislink.schema import Schema
    from nislink.secrets import Secret

    workdir.mkdir(parents=True, exist_ok=True)
    raw = workdir / "raw.json"
    key = {"people": people, "b_rows_asked": b_rows, "seed": seed}
    if raw.exists() and {k: v for k, v in json.loads(raw.read_text()).items()
                         if k in key} == key:
        synth = json.loads(raw.read_text())  # the raw files are made: encode them again
    else:
        synth = _generate(people, b_rows, seed, workdir)
        raw.write_text(json.dumps(synth))
    out: dict[str, Any] = dict(synth)
    secret = Secret.from_bytes(SECRET_BYTES)
    for side in ("a", "b"):
        t, c = time.perf_counter(), _cpu()
        r = encode_file(workdir / f"{side}_raw.parquet", workdir / f"{side}.nislink.parquet",
                        Schema.uk_default(), secret, id_column="rid", workers=2,
                        chunk_size=100_000, progress=False, party=f"party-{side}", warn=False)
        out[f"t_encode_{side}"] = time.perf_counter() - t
        out[f"cpu_encode_{side}"] = _cpu() - c
        out[f"rows_{side}"] = r.rows_encoded
        out[f"rejected_{side}"] = len(r.rejects)
    out["peak_prepare_mib"] = max(_peak_mib(), _peak_mib(resource.RUSAGE_CHILDREN))
    (workdir / "manifest.json").write_text(json.dumps(out, indent=1))
    return out


def link_phase(workdir: Path, chunk_rows: int, sample_rows: int, check: bool
               ) -> dict[str, Any]:
    """Load A, stream B; pairs completeness and quality against the truth."""
    import nislink.io as io
    from nislink.evaluate import evaluate_pairs
    from nislink.resolve import greedy_one_to_one
    from nislink.streaming import link_stream

    t0, c0 = time.perf_counter(), _cpu()
    a = io.load(workdir / "a.nislink.parquet")
    t_load = time.perf_counter() - t0
    b_path = workdir / "b.nislink.parquet"
    b_ids = io.read_ids(b_path)
    truth = pd.read_parquet(workdir / "truth.parquet")
    pa_ = pd.Series(np.arange(len(a)), index=a.ids)
    pb_ = pd.Series(np.arange(len(b_ids)), index=b_ids)
    truth = truth[truth["rid_a"].isin(pa_.index) & truth["rid_b"].isin(pb_.index)]
    ta = pa_[truth["rid_a"]].to_numpy()
    tb = pb_[truth["rid_b"]].to_numpy()
    nb = len(b_ids)
    true_keys = np.sort(ta.astype(np.int64) * nb + tb)
    found = np.zeros(len(true_keys), dtype=bool)
    del b_ids, pb_

    def on_candidates(ia: np.ndarray, ib: np.ndarray) -> None:
        keys = ia * np.int64(nb) + ib
        pos = np.searchsorted(true_keys, keys)
        ok = pos < len(true_keys)
        hit = pos[ok][true_keys[pos[ok]] == keys[ok]]
        found[hit] = True

    rss = _RssSampler()
    t1, c1 = time.perf_counter(), _cpu()
    with rss:
        res = link_stream(a, b_path, chunk_rows=chunk_rows, sample_rows=sample_rows,
                          on_candidates=on_candidates)
    t_link, c_link = time.perf_counter() - t1, _cpu() - c1
    # peak resident memory of each pass, from the samples and the stage timings (in order)
    phase_peaks, edge = {}, t1
    for k, v in res.timings.items():
        phase_peaks[f"rss_{k}_mib"] = rss.peak(edge, edge + v)
        edge += v
    rss_before = rss.peak(0.0, t1)
    m = evaluate_pairs(res.pairs, pd.DataFrame({"id_a": truth["rid_a"], "id_b": truth["rid_b"]}))
    reachable = len(greedy_one_to_one(ta, tb, np.zeros(len(ta))))
    pr, rr = m["precision"], m["tp"] / max(reachable, 1)
    out = {"rows_a": len(a), "rows_b": nb, "true_pairs": len(true_keys),
           "candidates": res.candidates, "pairs_completeness": float(found.mean()),
           "links": len(res.pairs), "precision": pr, "recall_one_to_one": rr,
           "f1_one_to_one": 2 * pr * rr / (pr + rr) if pr + rr else 0.0,
           "t_load_a": t_load, "t_link": t_link, "cpu_link": c_link,
           **{f"t_{k}": v for k, v in res.timings.items()},
           "peak_link_mib": _peak_mib(), "rss_at_start_mib": rss_before, **phase_peaks}
    if check:
        b = io.load(b_path)
        from nislink.linkage import link

        mem = link(a, b, model=res.model)
        pd.testing.assert_frame_equal(mem.pairs, res.pairs)
        out["identical_to_in_memory"] = True
    return out


def _workdir(people: int, b_rows: int, seed: int) -> Path:
    return Path(__file__).resolve().parent / f".stream-{people}-{b_rows}-{seed}"


def series(args: argparse.Namespace) -> int:
    """Each size in a fresh process (its own peak memory), then one chart."""
    rows = []
    for item in args.series.split(","):
        people, b_rows = (int(x) for x in item.split(":"))
        wd = _workdir(people, b_rows, args.seed)
        cmd = [sys.executable, __file__, "--people", str(people), "--b-rows", str(b_rows),
               "--seed", str(args.seed), "--chunk-rows", str(args.chunk_rows),
               "--sample-rows", str(args.sample_rows), "--workdir", str(wd)]
        if not (wd / "result.json").exists() or args.fresh:
            subprocess.run(cmd + (["--fresh"] if args.fresh else []), check=True,
                           stdout=subprocess.DEVNULL)
        rows.append(json.loads((wd / "result.json").read_text()))
    df = pd.DataFrame(rows)
    show = ["rows_a", "rows_b", "t_encode_a", "t_encode_b", "t_link", "cpu_link",
            "peak_prepare_mib", "peak_link_mib", "pairs_completeness", "f1_one_to_one"]
    print(df[show].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    plot(df, args.chart)
    return 0


def plot(df: pd.DataFrame, path: str) -> None:
    """Seconds and peak memory against the larger file's size (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = df["rows_b"].to_numpy()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    enc_wall = df["t_encode_a"] + df["t_encode_b"]
    ax1.loglog(n, enc_wall, "o-", color="C0", label="encode both files, wall (2 workers)")
    ax1.loglog(n, df["cpu_encode_a"] + df["cpu_encode_b"], "o--", color="C0",
               label="encode both files, CPU")
    ax1.loglog(n, df["t_link"], "s-", color="C1", label="link, B streamed, wall")
    ax1.loglog(n, df["cpu_link"], "s--", color="C1", label="link, B streamed, CPU")
    ax1.loglog(n, enc_wall + df["t_link"], "^-", color="C2", label="encode + link, wall")
    ax1.axhline(900, color="grey", ls=":", label="15 minutes")
    ax1.set_xlabel("records in file B (file A: a tenth)")
    ax1.set_ylabel("seconds (2 shared cores)")
    ax1.legend(fontsize=8)
    ax2.loglog(n, df["peak_link_mib"] / 1024, "s-", label="linking process")
    ax2.loglog(n, df["peak_prepare_mib"] / 1024, "o-", label="encoding (largest process)")
    ax2.axhline(20, color="grey", ls=":", label="20 GiB")
    ax2.set_xlabel("records in file B (file A: a tenth)")
    ax2.set_ylabel("peak resident memory, GiB")
    ax2.legend(fontsize=8)
    fig.suptitle("nislink cost against size (uk_default, synthetic UK study)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"chart -> {path}")


def main(argv: list[str] | None = None) -> int:
    """Prepare (or reuse) the files in a child process, then link them here."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--b-rows", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--chunk-rows", type=int, default=1_000_000)
    ap.add_argument("--sample-rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", default=None, help="where the files go "
                    "(default: benchmarks/.stream-<people>-<b-rows>-<seed>)")
    ap.add_argument("--fresh", action="store_true", help="encode the files again (the raw "
                    "synthetic files are generated again only when the sizes or seed change)")
    ap.add_argument("--check-in-memory", action="store_true")
    ap.add_argument("--series", default=None, metavar="P:B,...",
                    help="run each people:b-rows size in its own process and draw the "
                         "cost-against-size chart (e.g. 1000:10000,10000:100000)")
    ap.add_argument("--chart", default=str(Path(__file__).resolve().parents[1] / "docs" / "img"
                                           / "cost_vs_size.png"))
    ap.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.series:
        return series(args)
    wd = Path(args.workdir) if args.workdir else _workdir(args.people, args.b_rows, args.seed)
    if args.prepare_only:
        prepare(args.people, args.b_rows, args.seed, wd)
        return 0
    man = wd / "manifest.json"
    if args.fresh or not man.exists():
        # a child process, so that the linking process's peak memory is its own
        subprocess.run([sys.executable, __file__, "--prepare-only", "--people",
                        str(args.people), "--b-rows", str(args.b_rows), "--seed",
                        str(args.seed), "--workdir", str(wd)], check=True)
    prep = json.loads(man.read_text())
    res = link_phase(wd, args.chunk_rows, args.sample_rows, args.check_in_memory)
    res = {**prep, **res}
    res["t_encode_and_link"] = res["t_encode_a"] + res["t_encode_b"] + res["t_load_a"] \
        + res["t_link"]
    for k, v in res.items():
        print(f"{k:>26}: {v:.4f}" if isinstance(v, float) else f"{k:>26}: {v}")
    (wd / "result.json").write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

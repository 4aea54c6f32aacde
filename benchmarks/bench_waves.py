"""Waves: incremental linkage against a full re-link, research-id stability, time per wave.

    python benchmarks/bench_waves.py                      # 50,000 and 10,000 people
    python benchmarks/bench_waves.py --people 50000 --waves 3

For each study size: a synthetic study over ``--waves`` six-monthly waves
(:func:`nislink.synth.generate_waves`), every owner's submission encoded
(:class:`~nislink.nis.waves.WaveStudy`), each wave linked incrementally, then the same
records re-linked in one run (:meth:`WaveStudy.full_relink`). Prints per wave: new records,
records held, candidate pairs scored, seconds of the linkage step, pairwise F1 against the
simulation's truth (incremental and full re-link, with false and true pairs), and the
research ids of earlier waves unchanged (and whether any was issued twice). Times are
wall-clock seconds and, less sensitive to other jobs on a shared machine, CPU seconds
of this process (``*_cpu_s``; numba's threads included).

    python benchmarks/bench_waves.py --people 20000 --waves 5 --no-full

shows how a wave's time behaves as the study grows over more waves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import nislink
from nislink.nis.wave_demo import cluster_quality, submit_wave, wave_truth
from nislink.nis.waves import WaveStudy
from nislink.synth import generate_waves


def run(people: int, waves: int, seed: int, root: Path, full: bool = True) -> list[dict]:
    """One study; returns a row per wave."""
    sims = generate_waves(people, seed, waves=waves)
    study = WaveStudy(root, study_end=dt.date(2030, 1, 1), today=dt.date(2026, 1, 1),
                      seed=seed)
    secret = nislink.Secret.generate()
    truth: dict[str, str] = {}
    rows, maps = [], []
    for sim in sims:
        t = time.perf_counter()
        outs = submit_wave(study, sim, secret)
        t_submit = time.perf_counter() - t
        truth.update(wave_truth(sim, outs))
        c = time.process_time()
        rep = study.link(sim.wave)
        c_link = time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        study.assemble()
        t_assemble = time.perf_counter() - t
        c_assemble = time.process_time() - c
        pop = study.population()
        inc = cluster_quality(pop["person_ref"], pop["study_person_ref"], truth)
        row = {"people": people, "wave": sim.wave, "records": rep.records, "held": rep.held,
               "candidates": rep.candidates, "cand_per_record": rep.candidates / rep.records,
               "link_s": rep.seconds, "link_ms_per_record": 1000 * rep.seconds / rep.records,
               "link_cpu_s": c_link, "submit_s": t_submit, "assemble_s": t_assemble,
               "assemble_cpu_s": c_assemble,
               **{f"t_{k}": v for k, v in rep.stages.items()},
               "f1_incremental": inc["f1"], "fp_incremental": inc["fp"],
               "tp_incremental": inc["tp"]}
        if full:
            t, c = time.perf_counter(), time.process_time()
            fr = study.full_relink()
            row["full_relink_s"] = time.perf_counter() - t
            row["full_relink_cpu_s"] = time.process_time() - c
            fq = cluster_quality(fr["person_ref"], fr["cluster"], truth)
            row.update(f1_full=fq["f1"], fp_full=fq["fp"], tp_full=fq["tp"])
        rmap = pd.read_parquet(study.assembly_dir / "research_map.parquet")
        if maps:
            prev = maps[-1].set_index("study_person_ref")["research_id"]
            now = rmap.set_index("study_person_ref")["research_id"]
            common = prev.index.intersection(now.index)
            row["ids_before"] = len(prev)
            row["ids_unchanged"] = int((prev[common] == now[common]).sum())
        row["ids_unique"] = bool(rmap["research_id"].is_unique)
        maps.append(rmap)
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format=lambda x: f"{x:.4f}"),
              flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, nargs="+", default=[50_000, 10_000])
    ap.add_argument("--waves", type=int, default=3)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--no-full", action="store_true", help="skip the full re-link")
    args = ap.parse_args(argv)
    rows = []
    for n in args.people:
        root = Path(tempfile.mkdtemp(prefix="nislink-waves-"))
        try:
            rows += run(n, args.waves, args.seed, root, full=not args.no_full)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

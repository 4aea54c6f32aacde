"""``nislink demo --waves N``: a study over time, end to end, on synthetic waves.

1. :func:`nislink.synth.generate_waves` draws ``N`` six-monthly waves from one synthetic
   population (fresh recording errors in each, families changing, progress records).
2. Each wave: the LA and DWP, MoJ, DfE submit (:meth:`WaveStudy.submit`), the linkage
   unit links the wave incrementally (:meth:`WaveStudy.link`) and research assembly
   rebuilds the research dataset with stable research ids (:meth:`WaveStudy.assemble`).
3. After wave 2: a rectification (an LA record whose identifiers were recorded wrongly
   is corrected and re-linked alone); after the last wave: a withdrawal, and an output
   table checked by :func:`nislink.nis.outputs.check_table`.
4. Printed: research-id stability, linkage quality per wave against the simulation's
   truth (incremental and a full re-link of everything held), the output check's verdict.

:func:`wave_truth` and :func:`cluster_quality` measure linkage against the simulation's
truth; the benchmark ``benchmarks/bench_waves.py`` and the tests use them too.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import nislink
from nislink.evaluate import evaluate_clusters
from nislink.nis.audit import verify
from nislink.nis.outputs import check_table
from nislink.nis.protocol import OwnerOutput
from nislink.nis.waves import WaveStudy
from nislink.synth import Study, generate_waves

__all__ = ["DEPARTMENTS", "cluster_quality", "run_wave_demo", "submit_wave", "wave_truth"]

DEPARTMENTS = ("dwp", "moj", "dfe")


def submit_wave(study: WaveStudy, synth: Study, secret: Any,
                la: pd.DataFrame | None = None) -> dict[str, OwnerOutput]:
    """Every owner's submission of one synthetic wave (``la`` replaces the LA's rows)."""
    k = synth.wave
    outs = {"la": study.submit("la", synth.la if la is None else la, wave=k, secret=secret,
                               id_column="la_id", submission=True, progress=synth.progress,
                               progress_family_column="la_family_id")}
    for d in DEPARTMENTS:
        outs[d] = study.submit(d, synth.extracts[d], wave=k, secret=secret,
                               id_column=f"{d}_id")
    return outs


def wave_truth(synth: Study, outputs: Mapping[str, OwnerOutput]) -> dict[str, str]:
    """Owner reference number -> the simulation's true person, for one wave's outputs."""
    out: dict[str, str] = {}
    for party, o in outputs.items():
        m = o.separated.mapping
        id_col = "person_id" if "person_id" in m.columns else f"{party}_id"
        tr = synth.truth[f"truth_{party}"]
        true = dict(zip(tr[f"{party}_id"].astype(str), tr["person_id"].astype(str)))
        out.update({r: true[str(i)] for r, i in zip(m["person_ref"], m[id_col])})
    return out


def cluster_quality(refs: Any, labels: Any, truth: Mapping[str, str]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a clustering of reference numbers."""
    refs = pd.Series(list(refs), dtype=object)
    return evaluate_clusters(refs.tolist(), np.asarray(labels),
                             refs.map(truth).to_numpy())


def run_wave_demo(out: str | Path = "nislink-demo", people: int = 3000, seed: int = 2026,
                  waves: int = 3, quiet: bool = False) -> int:
    """Run the wave demo, print a summary and write every artefact under ``out``."""

    def say(text: str = "") -> None:
        if not quiet:
            print(text)

    started = time.perf_counter()
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    today = _dt.date.today()
    study = WaveStudy(out, study_end=today + _dt.timedelta(days=3 * 365), today=today,
                      seed=seed)
    sims = generate_waves(people, seed, waves=waves)
    secret = nislink.Secret.generate()
    say(f"nislink demo: a synthetic study of {people:,} people over {waves} waves "
        f"(seed {seed})")
    truth: dict[str, str] = {}
    snapshots: list[pd.DataFrame] = []
    rows = []
    rectified = None
    for sim in sims:
        k = sim.wave
        la = sim.la
        wrong_ref_row = None
        if k == 2 and waves >= 2:
            # one LA record of a person already in the study is recorded wrongly
            seen = set(sims[0].truth["truth_la"]["person_id"])
            tl = sim.truth["truth_la"]
            pick = int(np.flatnonzero(tl["person_id"].isin(seen).to_numpy())[0])
            la = la.copy()
            wrong_ref_row = la.index[pick]
            right = la.loc[wrong_ref_row, ["forename", "surname", "dob"]].to_dict()
            la.loc[wrong_ref_row, ["forename", "surname", "dob"]] = ["Zebedee", "Quoxley",
                                                                    "01/01/1931"]
        outs = submit_wave(study, sim, secret, la=la)
        truth.update(wave_truth(sim, outs))
        rep = study.link(k)
        study.assemble()
        pop = study.population()
        inc = cluster_quality(pop["person_ref"], pop["study_person_ref"], truth)
        full = study.full_relink()
        fq = cluster_quality(full["person_ref"], full["cluster"], truth)
        rows.append((k, rep, inc, fq))
        if wrong_ref_row is not None:
            ref = study.reference_for("la", k, la.loc[wrong_ref_row, "la_id"])
            rectified = study.rectify("la", k, ref, right, secret=secret)
        snapshots.append(pd.read_parquet(study.assembly_dir / "research_map.parquet"))
    say("\n1. waves: submitted, linked incrementally, research dataset rebuilt")
    say("  wave  records   held  candidates  joined  new people   F1 incr.  F1 full   "
        "seconds")
    for k, rep, inc, fq in rows:
        say(f"  {k:>4} {rep.records:>8,} {rep.held:>6,} {rep.candidates:>11,} "
            f"{rep.joined:>7,} {rep.new_people:>11,}   {inc['f1']:.4f}   {fq['f1']:.4f}"
            f"  {rep.seconds:>7.1f}")
    final = snapshots[-1].set_index("study_person_ref")["research_id"]
    before = snapshots[-2].set_index("study_person_ref")["research_id"] if len(
        snapshots) > 1 else final.iloc[:0]
    common = before.index.intersection(final.index)
    kept = int((before[common] == final[common]).sum())
    persons_now = pd.read_parquet(study.research_dir / "persons.parquet")
    say(f"\n2. research-id stability: {kept:,} of {len(before):,} research ids issued before "
        f"the last wave unchanged ({len(before) - len(common)} retired); "
        f"{len(final):,} study people ({persons_now['research_id'].nunique():,} in the LA's "
        "submissions, the others only in department extracts); "
        f"no id issued twice: {final.is_unique}")
    if rectified is not None:
        say(f"  rectification (wave 2, one LA record corrected and re-linked alone): "
            f"moved {rectified['moved']}, {rectified['candidates']} candidate pairs scored")
    # withdrawal of one person present in the first wave, from every wave
    first_ref = str(study.population()["person_ref"].iloc[0])
    report = study.withdraw(first_ref)
    say(f"\n3. withdrawal: {report.rows_removed} rows removed from "
        f"{len(report.removed)} files across all waves; complete: {report.complete}")
    persons = pd.read_parquet(study.research_dir / "persons.parquet")
    families = pd.read_parquet(study.research_dir / "families.parquet")
    res = check_table(families, "wave", columns="problems")
    masked = check_table(families, "wave", columns="problems", suppress=True)
    say("\n4. output check: families by wave and number of problems")
    say("  " + str(res).replace("\n", "\n  "))
    say(f"  with suppression: {masked.status} ({int(masked.table.isna().sum().sum())} "
        "cells masked)")
    say(f"\n  research dataset: {persons['research_id'].nunique():,} people, "
        f"{len(persons):,} person-waves, {families['research_family_id'].nunique():,} "
        "families")
    head = verify(out / "audit.jsonl")
    say(f"\n5. audit log hash chain verified (head {head[:16]}...); "
        f"artefacts in {out}/ after {time.perf_counter() - started:.1f} s")
    return 0

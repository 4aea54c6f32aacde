"""``nislink demo``: the whole study, end to end, on built-in synthetic data.

1. :mod:`nislink.synth` generates a small synthetic population, a local authority's
   programme submission and DWP, MoJ and DfE extracts (with realistic errors), and the
   truth tables that only a simulation has.
2. Each data owner validates, separates, encodes with the shared secret and sends
   (:class:`~nislink.nis.protocol.DataOwner`).
3. The linkage unit checks fingerprints and links the LA to each department
   (:class:`~nislink.nis.protocol.LinkageUnit`).
4. Research assembly builds the de-identified research dataset
   (:class:`~nislink.nis.protocol.ResearchAssembly`).
5. The demo measures linkage quality against the truth, shows a withdrawal, checks the
   audit log, and prints a summary.

The shared secret is generated for the run and kept in memory only, never written: once
the demo ends nobody can make new encodings that link to the ones it wrote.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import time
from importlib import resources
from pathlib import Path

import pandas as pd

import nislink
from nislink.nis import verify, withdraw
from nislink.nis.protocol import DataOwner, LinkageUnit, ResearchAssembly, StudyDirectory
from nislink.synth import generate_study

DEPARTMENTS = ("dwp", "moj", "dfe")


def load_sample() -> pd.DataFrame:
    """A dozen fictional, deliberately messy LA rows (for trying out cleaning)."""
    with resources.files("nislink.data").joinpath("sample_people.csv").open("rb") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False, na_values=[""])


def link_quality(
    links: pd.DataFrame,
    a: str,
    b: str,
    mapping_a: pd.DataFrame,
    mapping_b: pd.DataFrame,
    truth_a: pd.DataFrame,
    truth_b: pd.DataFrame,
    id_a: str,
    id_b: str,
    encoded_a: set[str],
    encoded_b: set[str],
) -> dict[str, float]:
    """Precision and recall of a one-to-one link table against the simulation's truth.

    A link is correct when both records belong to the same true person. Recall is
    measured against the most links a one-to-one linkage could make correctly: for each
    true person, the smaller of their record counts in the two encoded files (a person
    recorded twice in one source can be linked only once).
    """
    ref_to_true_a = _ref_to_true(mapping_a, truth_a, id_a)
    ref_to_true_b = _ref_to_true(mapping_b, truth_b, id_b)
    ta = links[f"{a}_person_ref"].map(ref_to_true_a)
    tb = links[f"{b}_person_ref"].map(ref_to_true_b)
    correct = int((ta.notna() & (ta == tb)).sum())
    ca = pd.Series([ref_to_true_a[r] for r in encoded_a]).value_counts()
    cb = pd.Series([ref_to_true_b[r] for r in encoded_b]).value_counts()
    both = ca.index.intersection(cb.index)
    possible = int(pd.concat([ca[both], cb[both]], axis=1).min(axis=1).sum())
    n = len(links)
    precision = correct / n if n else 1.0
    recall = correct / possible if possible else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"links": n, "correct": correct, "possible": possible,
            "precision": precision, "recall": recall, "f1": f1}


def _ref_to_true(mapping: pd.DataFrame, truth: pd.DataFrame, id_col: str) -> dict[str, str]:
    owner_id = "person_id" if "person_id" in mapping.columns else id_col
    true_by_id = dict(zip(truth[id_col].astype(str), truth["person_id"].astype(str)))
    return {ref: true_by_id[str(oid)] for ref, oid in
            zip(mapping["person_ref"], mapping[owner_id])}


def run_demo(
    out: str | Path = "nislink-demo",
    people: int = 3000,
    seed: int = 2026,
    quiet: bool = False,
) -> int:
    """Run the demo, print a summary and write every artefact under ``out``; returns 0."""
    def say(text: str = "") -> None:
        if not quiet:
            print(text)

    started = time.perf_counter()
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    today = _dt.date.today()
    study = StudyDirectory(out, study_end=today + _dt.timedelta(days=365), today=today)
    synth = generate_study(people, seed)
    sim_dir = out / "simulation_truth"
    sim_dir.mkdir(parents=True, exist_ok=True)
    for name, table in synth.truth.items():
        if name != "truth_errors":
            table.to_parquet(sim_dir / f"{name}.parquet", index=False)
    say(f"nislink demo: a synthetic study of {people:,} people (seed {seed})")
    say(f"  LA submission {len(synth.la):,} rows; DWP {len(synth.dwp):,}, "
        f"MoJ {len(synth.extracts['moj']):,}, DfE {len(synth.extracts['dfe']):,} records")

    secret = nislink.Secret.generate()
    schema = nislink.Schema.uk_default()
    outputs = {"la": DataOwner(study, "la", secret, schema, seed=seed).submit(
        synth.la, id_column="la_id", submission=True)}
    for d in DEPARTMENTS:
        outputs[d] = DataOwner(study, d, secret, schema, seed=seed).submit(
            synth.extracts[d], id_column=f"{d}_id")
    del secret  # the owners' secret is never written anywhere
    say("\n1. data owners: validate, separate, encode, send")
    for party, o in outputs.items():
        say(f"  {party:<4} {o.rows_in:>7,} rows -> {o.rows_encoded:>7,} encoded, "
            f"{o.rows_rejected:>4,} rejected (reasons in {party}/rejects.csv)")

    unit = LinkageUnit(study)
    unit.receive()
    say("\n2. linkage unit: fingerprints agree; LA linked to each department")
    quality: dict[str, dict[str, float]] = {}
    for d in DEPARTMENTS:
        path = unit.link("la", d)
        links = pd.read_csv(path, dtype=str)
        quality[d] = link_quality(
            links, "la", d,
            outputs["la"].separated.mapping, outputs[d].separated.mapping,
            synth.truth["truth_la"], synth.truth[f"truth_{d}"], "la_id", f"{d}_id",
            set(unit.frames["la"].ids.tolist()), set(unit.frames[d].ids.tolist()),
        )
    say("  link        links  precision  recall      F1   (against the simulation's truth)")
    for d, q in quality.items():
        say(f"  LA-{d.upper():<4} {q['links']:>9,}  {q['precision']:>9.4f}  {q['recall']:>6.4f}"
            f"  {q['f1']:>6.4f}")

    assembly = ResearchAssembly(study, seed=seed)
    paths = assembly.assemble()
    persons = pd.read_parquet(paths["persons"])
    families = pd.read_parquet(paths["families"])
    say("\n3. research assembly: de-identified research dataset")
    say(f"  {len(persons):,} people in {len(families):,} families; "
        f"{int(families['eligible'].sum()):,} families eligible (two or more problems)")
    for d in DEPARTMENTS:
        say(f"  linked to {d.upper():<4}: {int(persons[f'{d}_linked'].sum()):>6,} people")
    say(f"  columns: {', '.join(persons.columns[:8])}, ...")

    # a withdrawal: the first LA person asks to be removed
    ref = str(outputs["la"].separated.mapping["person_ref"].iloc[0])
    report = withdraw(out, ref, party="la", audit=study.audit)
    say("\n4. withdrawal of one person (by the LA's reference number)")
    say(f"  removed {report.rows_removed} rows from {len(report.removed)} files; "
        f"{report.references} reference numbers (the LA's and linked ones); "
        f"complete: {report.complete}")
    head = verify(out / "audit.jsonl")
    events = sum(1 for _ in open(out / "audit.jsonl", encoding="ascii"))
    say(f"\n5. audit log: {events} events, hash chain verified (head {head[:16]}...)")
    say(f"\nartefacts written to {out}/ in {time.perf_counter() - started:.1f} s; "
        "the shared secret existed in memory only")
    return 0

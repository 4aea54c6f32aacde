"""The study over time (issue 17, waves): incremental linkage, stable ids, rights, retention."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nislink
from nislink.nis.wave_demo import cluster_quality, submit_wave, wave_truth
from nislink.nis import purge, verify
from nislink.nis.audit import read_events
from nislink.nis.separation import ReferenceGenerator
from nislink.nis.waves import IdRegister, WaveError, WaveStudy
from nislink.synth import generate_waves

from test_nis_protocol import _cells, _find, _identifier_values

TODAY = dt.date(2026, 11, 22)
WRONG = {"forename": "Zebedee", "surname": "Quoxley", "dob": "01/01/1931"}


def _three_waves(root: Path, people: int, seed: int, *, wrong_in_wave2: bool = False):
    sims = generate_waves(people, seed, waves=3)
    study = WaveStudy(root, study_end=dt.date(2029, 12, 31), today=TODAY, seed=seed)
    secret = nislink.Secret.generate()
    truth: dict[str, str] = {}
    snaps, reports, full, outs_all, rebuilt = [], [], [], [], []
    wrong = None
    for sim in sims:
        la = sim.la
        if wrong_in_wave2 and sim.wave == 2:
            seen = set(sims[0].truth["truth_la"]["person_id"])
            pick = int(np.flatnonzero(sim.truth["truth_la"]["person_id"].isin(seen))[0])
            la = la.copy()
            row = la.index[pick]
            wrong = (row, la.loc[row, "la_id"], la.loc[row, list(WRONG)].to_dict())
            la.loc[row, list(WRONG)] = list(WRONG.values())
        outs = submit_wave(study, sim, secret, la=la)
        outs_all.append(outs)
        truth.update(wave_truth(sim, outs))
        reports.append(study.link(sim.wave))
        study.assemble()
        rebuilt.append(list(study.rebuilt))
        pop = study.population()
        snaps.append((pop.copy(),
                      pd.read_parquet(study.assembly_dir / "research_map.parquet"),
                      pd.read_parquet(study.assembly_dir / "family_map.parquet")))
        fr = study.full_relink()
        full.append((cluster_quality(pop["person_ref"], pop["study_person_ref"], truth),
                     cluster_quality(fr["person_ref"], fr["cluster"], truth)))
    return dict(sims=sims, study=study, secret=secret, truth=truth, snaps=snaps,
                reports=reports, quality=full, rebuilt=rebuilt, outs=outs_all, wrong=wrong)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    return _three_waves(tmp_path_factory.mktemp("waves"), 1500, 11, wrong_in_wave2=True)


def test_earlier_links_and_research_ids_never_change(run) -> None:
    snaps = run["snaps"]
    for (pop_a, rmap_a, _), (pop_b, rmap_b, _) in zip(snaps, snaps[1:]):
        merged = pop_a.merge(pop_b, on="person_ref", suffixes=("_a", "_b"))
        assert len(merged) == len(pop_a)  # every held record is still held
        assert (merged["study_person_ref_a"] == merged["study_person_ref_b"]).all()
        m = rmap_a.merge(rmap_b, on="study_person_ref", suffixes=("_a", "_b"))
        assert len(m) == len(rmap_a)
        assert (m["research_id_a"] == m["research_id_b"]).all()
        assert len(rmap_b) > len(rmap_a)  # new people got new ids


def test_every_artefact_is_under_retention(run) -> None:
    from nislink.nis import check

    report = check(run["study"].root, ignore=["audit.jsonl"])
    assert report.unregistered == [] and report.missing == []


def test_no_id_is_issued_twice(run) -> None:
    study = run["study"]
    _, rmap, fmap = run["snaps"][-1]
    assert rmap["research_id"].is_unique and rmap["study_person_ref"].is_unique
    assert not set(rmap["research_id"]) & set(fmap["research_family_id"])
    reg = pd.read_parquet(study.assembly_dir / "id_register.parquet")
    assert reg["digest"].is_unique
    # every id in use is registered, and the register holds digests, not the ids
    r = IdRegister(study.assembly_dir / "id_register.parquet", key=study._register_key(
        "research"))
    assert {r.digest(x) for x in rmap["research_id"]} <= set(reg["digest"])
    assert not set(reg["digest"]) & set(rmap["research_id"])
    assert (reg["kind"] == "research_person").sum() >= len(rmap)


def test_register_refuses_a_number_issued_before(tmp_path: Path) -> None:
    reg = IdRegister(tmp_path / "reg.parquet")
    first = reg.issue(50, "research_person", ReferenceGenerator(seed=3))
    # the same seeded stream again: every number it draws first was issued already
    again = reg.issue(50, "research_person", ReferenceGenerator(seed=3))
    assert not set(first) & set(again)
    assert len(set(first) | set(again)) == 100
    assert len(reg.digests()) == 100
    with pytest.raises(WaveError, match="32 bytes"):
        IdRegister(tmp_path / "other.parquet", key=b"short")


def test_incremental_f1_against_a_full_relink(run) -> None:
    """Incremental linkage and a full re-link of every wave cluster with the same rule
    (resolve.cluster_files); the incremental one only also keeps held people apart, so the
    two agree within 0.001 F1 (docs/workflow.md, "Waves": where and why they differ)."""
    for inc, full in run["quality"]:
        assert inc["f1"] > 0.98
        assert abs(inc["f1"] - full["f1"]) <= 0.001, (inc, full)
        assert abs(inc["tp"] - full["tp"]) <= 0.001 * full["tp"] + 1, (inc, full)
        assert abs(inc["fp"] - full["fp"]) <= 0.001 * full["tp"] + 1, (inc, full)
    # wave 1 is one run either way: identical
    inc1, full1 = run["quality"][0]
    assert inc1 == full1


def test_wave_work_follows_the_wave_not_the_study(run) -> None:
    reps = run["reports"]
    pop = run["snaps"][-1][0]
    r2, r3 = reps[1], reps[2]
    assert r3.held < len(run["snaps"][1][0])  # compared with latest records only
    per2 = r2.candidates_held / r2.records
    per3 = r3.candidates_held / r3.records
    # the study held 1 earlier wave at wave 2 and 2 at wave 3: work per new record ~same
    assert per3 < 1.5 * per2, (per2, per3)
    assert r3.candidates < 10 * r3.records
    assert len(pop) == sum(r.records for r in reps)


def test_assembly_rebuilds_only_what_changed(run, tmp_path: Path) -> None:
    """Research assembly rebuilds a wave's rows only when its inputs changed: each wave's
    assemble rebuilt that wave alone, a second call rebuilds nothing, and the result is
    the same as a rebuild of every wave from scratch."""
    assert run["rebuilt"] == [[1], [2], [3]]
    study = run["study"]
    names = sorted(p.name for p in study.research_dir.glob("*.parquet"))
    before = {n: pd.read_parquet(study.research_dir / n) for n in names}
    study.assemble()
    assert study.rebuilt == []
    state = study.assembly_dir / "assembled.json"
    shutil.copy(state, tmp_path / "assembled.json")
    state.unlink()
    study.assemble()  # from scratch
    assert study.rebuilt == [1, 2, 3]
    for n in names:
        pd.testing.assert_frame_equal(pd.read_parquet(study.research_dir / n), before[n],
                                      check_dtype=False, obj=n)
    assert json.loads(state.read_text()) == json.loads((tmp_path / "assembled.json").read_text())


def test_people_keep_their_research_id_across_waves(run) -> None:
    """Against the truth: a true person seen in two waves has one research id."""
    study, truth = run["study"], run["truth"]
    pop = study.population()
    pop = pop[pop["party"] == "la"].assign(true=pop["person_ref"].map(truth))
    ids_per_person = pop.groupby("true")["study_person_ref"].nunique()
    assert (ids_per_person == 1).mean() > 0.98


def test_families_keep_their_research_family_id(run) -> None:
    persons = pd.read_parquet(run["study"].research_dir / "persons.parquet")
    # a research family appears in several waves, and most families of wave 1 are still
    # there in wave 2 under the same id (stay = 0.85)
    f1 = set(persons.loc[persons["wave"] == 1, "research_family_id"])
    f2 = set(persons.loc[persons["wave"] == 2, "research_family_id"])
    assert len(f1 & f2) > 0.75 * len(f1)
    # family composition changes: some families' members differ between waves
    a = persons[persons["wave"] == 1].groupby("research_family_id")["research_id"].apply(set)
    b = persons[persons["wave"] == 2].groupby("research_family_id")["research_id"].apply(set)
    common = a.index.intersection(b.index)
    assert any(a[f] != b[f] for f in common)


def test_progress_records_by_research_family_and_wave(run) -> None:
    study, sims = run["study"], run["sims"]
    prog = pd.read_parquet(study.research_dir / "progress.parquet")
    rejected = sum(len(pd.read_csv(study.root / f"wave{k}" / "la" / "progress_rejects.csv"))
                   for k in (1, 2, 3))
    assert len(prog) == sum(len(s.progress) for s in sims) - rejected > 0
    assert list(prog.columns[:2]) == ["research_family_id", "wave"]
    assert {"homelessness", "debt", "asb_incidents", "domestic_abuse_incidents"} <= set(
        prog.columns)
    assert prog["period_start"].str.fullmatch(r"\d{4}-\d{2}").all()  # coarsened
    assert not any(c.endswith("_ref") or c.endswith("family_id") and c != "research_family_id"
                   for c in prog.columns)
    fams = pd.read_parquet(study.research_dir / "families.parquet")
    keys = set(zip(fams["research_family_id"], fams["wave"]))
    assert all(k in keys for k in zip(prog["research_family_id"], prog["wave"]))


def test_progress_refuses_identifiers_and_unknown_families(tmp_path: Path) -> None:
    sim = generate_waves(300, 2, waves=1)[0]
    study = WaveStudy(tmp_path, study_end=dt.date(2029, 1, 1), today=TODAY, seed=1)
    secret = nislink.Secret.generate()
    bad = sim.progress.assign(surname="X")
    with pytest.raises(WaveError, match="identifier column"):
        study.submit("la", sim.la, wave=1, secret=secret, id_column="la_id",
                     submission=True, progress=bad, progress_family_column="la_family_id")
    study2 = WaveStudy(tmp_path / "b", study_end=dt.date(2029, 1, 1), today=TODAY, seed=1)
    unknown = sim.progress.copy()
    unknown.loc[unknown.index[:3], "la_family_id"] = "FAM000000000"
    study2.submit("la", sim.la, wave=1, secret=secret, id_column="la_id",
                  submission=True, progress=unknown, progress_family_column="la_family_id")
    rej = pd.read_csv(tmp_path / "b" / "wave1" / "la" / "progress_rejects.csv")
    assert rej["row"].tolist() == unknown.index[:3].tolist()
    assert rej["reason"].str.contains("not in wave 1").all()
    sent = pd.read_parquet(tmp_path / "b" / "wave1" / "research_assembly" / "inbox"
                           / "la_progress.parquet")
    assert len(sent) == len(unknown) - 3 and "la_family_id" not in sent
    with pytest.raises(WaveError, match="la_family"):
        WaveStudy(tmp_path / "c", study_end=dt.date(2029, 1, 1), today=TODAY).submit(
            "la", sim.la, wave=1, secret=secret, id_column="la_id", submission=True,
            progress=sim.progress)


def test_rectification_relinks_one_record_and_research_rows_follow(run) -> None:
    study, sims = run["study"], run["sims"]
    # the wrongly recorded wave-2 record became a person of its own at wave 2
    row, la_id, right = run["wrong"]
    ref = study.reference_for("la", 2, la_id)
    wave2_pop = run["snaps"][1][0]
    wrong_person = wave2_pop.loc[wave2_pop["person_ref"] == ref, "study_person_ref"].item()
    assert (wave2_pop["study_person_ref"] == wrong_person).sum() == 1
    # the true person's wave-1 record
    truth = run["truth"]
    true_person = truth[ref]
    w1 = wave2_pop[(wave2_pop["wave"] == 1) & (wave2_pop["party"] == "la")]
    right_person = w1.loc[w1["person_ref"].map(truth) == true_person,
                          "study_person_ref"].iloc[0]
    persons = pd.read_parquet(study.research_dir / "persons.parquet")
    rmap = pd.read_parquet(study.assembly_dir / "research_map.parquet")
    rid = dict(zip(rmap["study_person_ref"], rmap["research_id"]))
    n_before = len(study.population())
    out = study.rectify("la", 2, ref, right, secret=run["secret"])
    assert out["moved"] == 1 and out["new_person"] == 0
    assert 0 < out["candidates"] < 50  # one record's candidates, not a re-link
    assert study.rebuilt == [2]  # research rows of the record's wave alone were rebuilt
    pop = study.population()
    assert len(pop) == n_before
    assert pop.loc[pop["person_ref"] == ref, "study_person_ref"].item() == right_person
    after = pd.read_parquet(study.research_dir / "persons.parquet")
    w2 = after[after["wave"] == 2]
    assert rid[right_person] in set(w2["research_id"])
    assert rid[wrong_person] not in set(after["research_id"])  # the wrong person is gone
    assert len(after) <= len(persons)
    # everybody else kept their study person
    others = pop[pop["person_ref"] != ref].merge(run["snaps"][-1][0], on="person_ref")
    assert (others["study_person_ref_x"] == others["study_person_ref_y"]).all()
    events = read_events(study.root / "audit.jsonl")
    rect = [e for e in events if e["action"] == "rectify"]
    assert {e["party"] for e in rect} == {"la", "ons"}
    assert any(e["counts"].get("moved") == 1 for e in rect)
    verify(study.root / "audit.jsonl")
    with pytest.raises(WaveError, match="not identifier columns"):
        study.rectify("la", 2, ref, {"health": 1}, secret=run["secret"])


def test_held_copy_is_what_the_waves_give(run, tmp_path: Path) -> None:
    """The unit's one-file copy of the latest held records (what a new wave is compared
    with) holds the same records, encodings and order as reading every wave's files; it
    runs after the rectification test, so the rectified record's new encoding is in it."""
    study = run["study"]
    pop = study.population()
    cached, ent_c = study._held_frames(pop, latest=True)
    copy = study.unit_dir / "held.nislink.parquet"
    shutil.move(copy, tmp_path / "held.nislink.parquet")
    try:
        fresh, ent_f = study._held_frames(pop, latest=True)
    finally:
        shutil.move(tmp_path / "held.nislink.parquet", copy)
    assert cached.ids.tolist() == fresh.ids.tolist()
    assert ent_c.tolist() == ent_f.tolist()
    assert set(cached.tokens) == set(fresh.tokens)
    for k in cached.tokens:
        assert (cached.tokens[k] == fresh.tokens[k]).all(), k
    for k in cached.fields:
        assert (cached.fields[k].bits == fresh.fields[k].bits).all(), k


def test_linkage_unit_and_research_files_hold_no_identifier(run) -> None:
    study, sims = run["study"], run["sims"]
    values: set[str] = set()
    for s in sims:
        values |= _identifier_values(s)
    values |= set(WRONG.values()) | {"1931-01-01"}
    # as in the one-off protocol's scan: what the linkage unit and the researchers hold,
    # and research assembly's own study-level maps and registers (its wave inboxes hold
    # the owners' attribute tables, whose full dates may equal somebody's date of birth)
    files = [f for f in study.root.rglob("*") if f.is_file() and (
        "linkage_unit" in f.parts or "research" in f.parts
        or f.parent == study.assembly_dir or f.parent == study.assembly_dir / "inbox")]
    assert any(f.name == "research_map.parquet" for f in files)
    assert any(f.name == "population.parquet" for f in files)
    assert any(f.name == "progress.parquet" for f in files)
    # each wave's four encoded files, and the unit's copy of the latest held records
    assert sum(f.name.endswith(".nislink.parquet") for f in files) == 13
    for f in files:
        if f.suffix in (".parquet", ".csv", ".json"):
            found = _find(values, _cells(f))
            assert not found, (f, found[:5])


def test_subject_access_and_withdrawal_across_waves(tmp_path: Path) -> None:
    r = _three_waves(tmp_path / "s", 500, 5)
    study, truth = r["study"], r["truth"]
    pop = study.population()
    pop = pop.assign(true=pop["person_ref"].map(truth))
    la = pop[pop["party"] == "la"]
    in_all = la.groupby("true")["wave"].nunique()
    person = in_all[in_all == 3].index[0]
    refs = set(pop.loc[pop["true"] == person, "person_ref"])
    ref1 = la.loc[(la["true"] == person) & (la["wave"] == 1), "person_ref"].iloc[0]
    found = study.subject_access(ref1)
    waves_seen = {p.relative_to(study.root).parts[0] for p in found}
    assert {"wave1", "wave2", "wave3", "research"} <= waves_seen
    persons = pd.read_parquet(study.research_dir / "persons.parquet")
    research_rows = [df for p, df in found.items() if p.name == "persons.parquet"][0]
    assert set(research_rows["wave"]) == {1, 2, 3}
    rid = research_rows["research_id"].iloc[0]
    report = study.withdraw(ref1)
    assert report.complete, report.traces
    assert report.rows_removed >= 3 * 4  # identifiers, mapping, attributes, encoded x waves
    from nislink.nis import find_traces

    assert find_traces(study.root, refs | {rid}) == []
    after = pd.read_parquet(study.research_dir / "persons.parquet")
    assert rid not in set(after["research_id"])
    assert len(after) == len(persons) - 3
    # the next wave's research assembly does not bring them back; others untouched
    assert study.population()["person_ref"].isin(refs).sum() == 0
    events = read_events(study.root / "audit.jsonl")
    assert [e["event"] for e in events].count("withdraw") == 1
    assert "access" in [e["event"] for e in events]
    verify(study.root / "audit.jsonl")


def test_departments_keep_nothing_after_a_month(tmp_path: Path) -> None:
    r = _three_waves(tmp_path / "s", 400, 8)
    study = r["study"]
    root = study.root
    dept_values: set[str] = set()
    for outs, sim in zip(r["outs"], r["sims"]):
        for d in ("dwp", "moj", "dfe"):
            m = outs[d].separated.mapping
            dept_values |= set(m["person_ref"]) | set(m[f"{d}_id"].astype(str))
    manifests = [json.loads(p.read_text()) for p in root.rglob("nislink-manifest.json")]
    dept_entries = [e for m in manifests for e in m["artefacts"] if e["party"] in
                    ("dwp", "moj", "dfe")]
    assert dept_entries
    assert all(dt.date.fromisoformat(e["destroy_by"]) <= TODAY + dt.timedelta(days=31)
               for e in dept_entries)
    # before a month has passed nothing is deleted
    assert not purge(root, TODAY + dt.timedelta(days=20)).deleted
    report = purge(root, TODAY + dt.timedelta(days=31), audit=study.audit)
    assert len(report.deleted) == len(dept_entries)
    for k in (1, 2, 3):
        for d in ("dwp", "moj", "dfe"):
            left = [p for p in (root / f"wave{k}" / d).rglob("*") if p.is_file()]
            assert [p.name for p in left] == ["nislink-manifest.json"]
            text = left[0].read_text()
            assert not any(v in text for v in dept_values)
            assert json.loads(text)["artefacts"] == []
    # the linkage unit and research assembly keep theirs until the study ends
    assert (root / "linkage_unit" / "population.parquet").exists()
    assert (root / "research" / "persons.parquet").exists()
    verify(root / "audit.jsonl")


def test_refusals(tmp_path: Path, run) -> None:
    study = WaveStudy(tmp_path, study_end=dt.date(2029, 1, 1), today=TODAY, seed=1)
    with pytest.raises(WaveError, match="nothing received"):
        study.link(1)
    with pytest.raises(WaveError, match="positive integer"):
        study.wave_dir(0)
    with pytest.raises(WaveError, match="no wave has been linked"):
        study.assemble()
    sim = run["sims"][0]
    secret = nislink.Secret.generate()
    study.submit("dwp", sim.dwp, wave=1, secret=secret, id_column="dwp_id")
    with pytest.raises(WaveError, match="already submitted"):
        study.submit("dwp", sim.dwp, wave=1, secret=secret, id_column="dwp_id")
    study.link(1)
    with pytest.raises(WaveError, match="already linked"):
        study.submit("moj", sim.moj, wave=1, secret=secret, id_column="moj_id")
    # another key is refused by the linkage unit, naming the fingerprint
    study.submit("moj", sim.moj, wave=2, secret=nislink.Secret.generate(), id_column="moj_id")
    with pytest.raises(WaveError, match="refused.*key"):
        study.link(2)


def test_cli_demo_waves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nislink.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--waves", "3", "--people", "600", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "research-id stability" in printed and "no id issued twice: True" in printed
    assert "rectification" in printed and "moved 1" in printed
    assert "complete: True" in printed
    assert "output check" in printed
    rows = [ln.split() for ln in printed.splitlines() if ln.strip()[:1].isdigit()
            and len(ln.split()) == 9]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert all(float(r[6]) > 0.95 for r in rows)  # incremental F1 per wave
    assert (out / "research" / "progress.parquet").exists()
    assert main(["demo", "--waves", "0", "--out", str(tmp_path / "x")]) == 2

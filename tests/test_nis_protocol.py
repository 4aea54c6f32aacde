"""The three-party protocol end to end on synthetic data (issue: the study workflow)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import nislink
from nislink.nis import AuditLog, purge, verify, withdraw
from nislink.nis.audit import read_events
from nislink.nis.protocol import (
    DataOwner,
    LinkageUnit,
    ProtocolError,
    ResearchAssembly,
    StudyDirectory,
)
from nislink.synth import generate_study

TODAY = dt.date(2026, 11, 22)
DEPTS = ("dwp", "moj", "dfe")


def _run(root: Path, people: int = 1200, seed: int = 4):
    synth = generate_study(people, seed)
    study = StudyDirectory(root, study_end=dt.date(2027, 12, 31), today=TODAY)
    secret = nislink.Secret.generate()
    schema = nislink.Schema.uk_default()
    outs = {"la": DataOwner(study, "la", secret, schema, seed=seed).submit(
        synth.la, id_column="la_id", submission=True)}
    for d in DEPTS:
        outs[d] = DataOwner(study, d, secret, schema, seed=seed).submit(
            synth.extracts[d], id_column=f"{d}_id")
    unit = LinkageUnit(study)
    unit.receive()
    links = {d: unit.link("la", d) for d in DEPTS}
    research = ResearchAssembly(study, seed=seed).assemble()
    return synth, study, outs, unit, links, research


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    return _run(tmp_path_factory.mktemp("study"))


def _date_forms(value: object) -> set[str]:
    """A date of birth in the common formats an identifier scan must look for."""
    from nislink.clean import dob

    d = dob(value, today=TODAY) if value is not None else None
    if d is None:
        return set()
    return {d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%Y%m%d"),
            d.strftime("%d-%m-%Y"), d.strftime("%d.%m.%Y"), d.strftime("%d %b %Y")}


def _identifier_values(synth) -> set[str]:
    """Every raw identifier value of the synthetic input, in raw and normalised forms."""
    from nislink.clean import name, nino, postcode, upn

    values: set[str] = set()
    frames = [synth.la, *(synth.extracts[d] for d in DEPTS)]
    for df in frames:
        for col in ("forename", "surname"):
            for v in df[col].dropna().astype(str):
                v = v.strip()
                if len(v) >= 3:
                    values |= {v, v.lower(), v.upper()}
                n = name(v)
                if n and len(n) >= 3:
                    values.add(n)
        for v in df["dob"].dropna():
            values |= _date_forms(v)
        for v in df["postcode"].dropna().astype(str):
            p = postcode(v)
            if p:
                values |= {p, p.replace(" ", "")}
        for col, norm in (("nino", nino), ("upn", upn)):
            if col in df:
                for v in df[col].dropna().astype(str):
                    x = norm(v)
                    if x:
                        values.add(x)
    # the research files hold DWP benefit codes (PIP, UC, ESA, JSA, CA) as attribute
    # values; a name that happens to be one of them (Pip, a nickname of Philip) is not
    # found as a leak there
    codes = {c for b in synth.dwp["benefit"].unique() if b for c in (b, b.lower(), b.title())}
    return {v for v in values if v.strip() and v not in codes}


def _cells(path: Path) -> list[str]:
    """Every text cell, column name and metadata string of a table file."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        cells = [str(c) for c in table.column_names]
        meta = table.schema.metadata or {}
        cells += [v.decode("utf-8", "replace") for v in meta.values()]
        for col in table.columns:
            if pd.api.types.is_string_dtype(col.type.to_pandas_dtype()) or str(col.type) in (
                "string", "large_string"
            ):
                cells += [str(x) for x in col.to_pylist() if x is not None]
        return cells
    return [path.read_text(encoding="utf-8", errors="replace")]


def _find(values: set[str], cells: list[str]) -> list[str]:
    """Identifier values found as whole cells, or as whole words inside longer text."""
    found = [c for c in cells if c in values]
    text = "\n".join(c for c in cells if len(c) > 40)
    for v in values:
        if len(v) >= 5 and v in text and re.search(rf"(?<![A-Za-z0-9]){re.escape(v)}(?![A-Za-z0-9])", text):
            found.append(v)
    return found


def test_linkage_unit_and_research_files_hold_no_identifier(run) -> None:
    synth, study, *_ = run
    values = _identifier_values(synth)
    assert len(values) > 1000
    files = sorted((study.root / "linkage_unit").rglob("*")) + sorted(
        study.research_dir.rglob("*"))
    files = [f for f in files if f.is_file()]
    assert any(f.name.endswith(".nislink.parquet") for f in files)
    assert any(f.name == "persons.parquet" for f in files)
    for f in files:
        found = _find(values, _cells(f))
        assert not found, (f, found[:5])


def test_scan_would_find_a_leak(run, tmp_path: Path) -> None:
    """The scan is real: an identifier slipped into a research file is found."""
    synth, study, *_ = run
    values = _identifier_values(synth)
    persons = pd.read_parquet(study.research_dir / "persons.parquet")
    leaky = persons.head(5).assign(note=synth.la["surname"].head(5).str.upper().to_numpy())
    leaky.to_parquet(tmp_path / "leak.parquet", index=False)
    assert _find(values, _cells(tmp_path / "leak.parquet"))


def test_research_dataset_has_no_references_scores_or_encodings(run) -> None:
    _, study, outs, _, _, research = run
    persons = pd.read_parquet(research["persons"])
    families = pd.read_parquet(research["families"])
    owner_refs = set()
    for o in outs.values():
        owner_refs |= set(o.separated.mapping["person_ref"])
    for df in (persons, families):
        assert not any(c.endswith("_ref") for c in df.columns)
        assert not {"match_weight", "match_probability"} & set(df.columns)
        for col in df.columns:
            if df[col].dtype == object:
                assert not owner_refs & set(df[col].dropna().astype(str))
                assert not df[col].dropna().astype(str).str.match(r"^[A-Za-z0-9+/]{100,}").any()
    assert persons["research_id"].is_unique
    assert len(persons) == outs["la"].rows_encoded


def test_link_tables_hold_reference_numbers_only(run) -> None:
    _, _, _, _, links, _ = run
    for d, path in links.items():
        table = pd.read_csv(path, dtype=str)
        assert list(table.columns) == ["la_person_ref", f"{d}_person_ref"]
        assert table["la_person_ref"].is_unique and table[f"{d}_person_ref"].is_unique
        assert table.map(lambda v: v[:1] == "P").all().all()


def test_linkage_quality_against_truth(run) -> None:
    from nislink.demo import link_quality

    synth, _, outs, unit, links, _ = run
    for d in DEPTS:
        q = link_quality(
            pd.read_csv(links[d], dtype=str), "la", d, outs["la"].separated.mapping,
            outs[d].separated.mapping, synth.truth["truth_la"], synth.truth[f"truth_{d}"],
            "la_id", f"{d}_id", set(unit.frames["la"].ids), set(unit.frames[d].ids))
        assert q["precision"] >= 0.9 and q["recall"] >= 0.9, (d, q)


def test_link_tables_go_to_owners_only_when_asked(run, tmp_path: Path) -> None:
    _, study, *_ = run
    for party in ("la", *DEPTS):
        assert not list(study.owner_dir(party).glob("links_*.csv")), party
    assert len(list(study.assembly_inbox.glob("links_*.csv"))) == 3
    synth = generate_study(300, 8)
    s2 = StudyDirectory(tmp_path, study_end=dt.date(2027, 12, 31), today=TODAY)
    secret, schema = nislink.Secret.generate(), nislink.Schema.uk_default()
    DataOwner(s2, "la", secret, schema, seed=2).submit(synth.la, id_column="la_id",
                                                       submission=True)
    DataOwner(s2, "dwp", secret, schema, seed=2).submit(synth.dwp, id_column="dwp_id")
    unit = LinkageUnit(s2)
    unit.receive()
    unit.link("la", "dwp", return_to_owners=True)
    for party in ("la", "dwp"):
        returned = pd.read_csv(s2.owner_dir(party) / "links_la_dwp.csv", dtype=str)
        assert list(returned.columns) == ["la_person_ref", "dwp_person_ref"]


def test_every_row_encoded_or_rejected(run) -> None:
    synth, study, outs, *_ = run
    for party, o in outs.items():
        rejects = pd.read_csv(study.owner_dir(party) / "rejects.csv", dtype=str)
        assert o.rows_encoded + len(rejects) == o.rows_in
        assert o.rows_in == len(synth.la if party == "la" else synth.extracts[party])


@pytest.mark.parametrize("mismatch", ["secret", "schema"])
def test_linkage_unit_refuses_other_secret_or_schema(tmp_path: Path, mismatch: str) -> None:
    synth = generate_study(300, 2)
    study = StudyDirectory(tmp_path, study_end=dt.date(2027, 12, 31), today=TODAY)
    secret = nislink.Secret.generate()
    schema = nislink.Schema.uk_default()
    DataOwner(study, "la", secret, schema, seed=1).submit(synth.la, id_column="la_id",
                                                          submission=True)
    other_secret = nislink.Secret.generate() if mismatch == "secret" else secret
    other_schema = (schema.select(["forename", "surname", "dob", "sex", "postcode", "nino"])
                    if mismatch == "schema" else schema)
    DataOwner(study, "dwp", other_secret, other_schema, seed=1).submit(
        synth.dwp, id_column="dwp_id")
    unit = LinkageUnit(study)
    with pytest.raises(ProtocolError) as err:
        unit.receive()
    message = str(err.value)
    assert "dwp" in message
    assert ("key" if mismatch == "secret" else "schema") in message.lower()
    events = read_events(study.root / "audit.jsonl")
    assert any(e["event"] == "check" and e.get("action") == "refuse" for e in events)


def test_withdrawal_removes_every_trace(tmp_path: Path) -> None:
    synth, study, outs, unit, links, research = _run(tmp_path, people=600, seed=9)
    la_links = pd.read_csv(links["dwp"], dtype=str)
    ref = str(la_links["la_person_ref"].iloc[0])
    dwp_ref = str(la_links["dwp_person_ref"].iloc[0])
    rmap = pd.read_parquet(research["research_map"])
    research_id = rmap.loc[rmap["la_person_ref"] == ref, "research_id"].iloc[0]
    report = withdraw(study.root, ref, party="la", audit=study.audit)
    assert report.complete and report.rows_removed > 0
    for f in study.root.rglob("*"):
        if f.is_file() and f.suffix in (".csv", ".parquet", ".json", ".jsonl"):
            text = b"".join(c.encode() for c in _cells(f)) if f.suffix == ".parquet" \
                else f.read_bytes()
            for gone in (ref, dwp_ref, research_id):
                assert gone.encode() not in text, (f, gone)
    enc = nislink.load(study.linkage_inbox / "la.nislink.parquet")  # still loads (checksum)
    assert ref not in set(enc.ids)
    events = read_events(study.root / "audit.jsonl")
    assert events[-1]["event"] == "withdraw"
    verify(study.root / "audit.jsonl")


def test_purge_removes_exactly_the_expired(tmp_path: Path) -> None:
    _, study, *_ = _run(tmp_path, people=300, seed=5)
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    manifests = list(tmp_path.rglob("nislink-manifest.json"))
    registered = {}
    for m in manifests:
        for e in json.loads(m.read_text())["artefacts"]:
            registered[m.parent / e["path"]] = dt.date.fromisoformat(e["destroy_by"])
    # department copies expire after a month; everything else later
    day = TODAY + dt.timedelta(days=40)
    expected = {p for p, d in registered.items() if d <= day}
    assert expected and expected != set(registered)
    assert {p.parent.name for p in expected} <= {"dwp", "moj", "dfe"}
    report = purge(tmp_path, day, audit=AuditLog(tmp_path / "audit.jsonl"))
    after = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert before - after == expected
    assert {Path(p) for p in report.deleted} == expected
    assert any(e["event"] == "purge" for e in read_events(tmp_path / "audit.jsonl"))


def test_audit_log_is_verified_and_holds_no_identifier(run) -> None:
    synth, study, *_ = run
    verify(study.root / "audit.jsonl")
    text = (study.root / "audit.jsonl").read_text()
    values = _identifier_values(synth)
    assert not _find(values, [text])
    events = [e["event"] for e in read_events(study.root / "audit.jsonl")]
    for ev in ("validate", "separate", "clean", "encode", "send", "receive", "check", "link",
               "assemble"):
        assert ev in events, ev


@pytest.mark.parametrize("dtype", [object, "string"])
def test_research_dates_are_coarsened_whatever_the_text_dtype(dtype: object) -> None:
    """Date text is coarsened whether it is read as object or as a pandas string dtype
    (pandas 3 reads text columns as ``str``): no full date reaches the research tables."""
    from nislink.nis.protocol import _coarsen

    s = pd.Series(["2022-06-03", None, "2021-01-31"], dtype=dtype)  # type: ignore[call-overload]
    got = _coarsen(s)
    assert [None if pd.isna(v) else v for v in got] == ["2022-06", None, "2021-01"]

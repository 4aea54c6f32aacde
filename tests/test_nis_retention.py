"""Retention: manifests, default periods, purge of exactly the expired artefacts."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from test_nis_data import TODAY, make_submission

from nislink.nis.audit import AuditLog, read_events, verify
from nislink.nis.retention import (
    MANIFEST_NAME,
    RetentionError,
    RetentionPolicy,
    add_months,
    check,
    entries,
    file_checksum,
    purge,
    register,
    update_checksum,
)
from nislink.nis.separation import separate
from nislink.nis.submission import validate_submission
from nislink.secrets import Secret

CREATED = dt.datetime(2026, 1, 31, 9, 0, tzinfo=dt.timezone.utc)


def test_add_months() -> None:
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2026, 12, 15), 1) == dt.date(2027, 1, 15)
    assert add_months(dt.date(2026, 3, 1), 96) == dt.date(2034, 3, 1)


def test_default_periods() -> None:
    pol = RetentionPolicy(study_end=dt.date(2027, 12, 31))
    made = dt.date(2026, 1, 31)
    assert pol.destroy_by("dwp", made) == dt.date(2026, 2, 28)
    assert pol.destroy_by("moj", made) == dt.date(2026, 2, 28)
    assert pol.destroy_by("ons", made) == dt.date(2027, 12, 31)
    assert pol.destroy_by("la", made) == dt.date(2027, 12, 31)
    assert pol.destroy_by("research", made) == dt.date(2034, 1, 31)
    assert RetentionPolicy(department_months=2).destroy_by("dfe", made) == dt.date(2026, 3, 31)
    with pytest.raises(RetentionError, match="set RetentionPolicy\\(study_end"):
        RetentionPolicy().destroy_by("linkage_unit", made)
    with pytest.raises(RetentionError, match="no default period"):
        pol.destroy_by("someone", made)


@pytest.fixture()
def study(tmp_path):
    """A study directory with real synthetic tables for three parties."""
    v, _ = validate_submission(make_submission(15, seed=41), today=TODAY)
    sep = separate(v, seed=1)
    (tmp_path / "la").mkdir()
    (tmp_path / "dwp").mkdir()
    (tmp_path / "ons").mkdir()
    paths = {
        "la_ids": tmp_path / "la" / "la_identifiers.csv",
        "la_map": tmp_path / "la" / "la_mapping.csv",
        "dwp_extract": tmp_path / "dwp" / "dwp_extract.csv",
        "dwp_attrs": tmp_path / "dwp" / "dwp_attributes.parquet",
        "ons_links": tmp_path / "ons" / "links.csv",
        "stray": tmp_path / "ons" / "notes.txt",
    }
    sep.identifiers.to_csv(paths["la_ids"], index=False)
    sep.mapping.to_csv(paths["la_map"], index=False)
    v.head(20).to_csv(paths["dwp_extract"], index=False)
    sep.attributes.to_parquet(paths["dwp_attrs"], index=False)
    sep.mapping[["person_ref"]].assign(dwp_person_ref=sep.mapping["person_ref"]).to_csv(
        paths["ons_links"], index=False
    )
    paths["stray"].write_text("not registered\n")
    pol = RetentionPolicy(study_end=dt.date(2027, 12, 31))
    register(paths["la_ids"], "identifiers", "la", policy=pol, created=CREATED)
    register(paths["la_map"], "mapping", "la", "2026-06-30", created=CREATED)
    register(paths["dwp_extract"], "extract", "dwp", policy=pol, created=CREATED)
    register(paths["dwp_attrs"], "attributes", "dwp", dt.date(2026, 3, 10), created=CREATED)
    register(paths["ons_links"], "link_table", "ons", policy=pol, created=CREATED)
    return tmp_path, paths


def test_manifest_contents(study) -> None:
    root, paths = study
    m = json.loads((root / "dwp" / MANIFEST_NAME).read_text())
    assert m["format"] == "nislink-retention-manifest" and m["version"] == 1
    e = {a["path"]: a for a in m["artefacts"]}
    assert set(e) == {"dwp_extract.csv", "dwp_attributes.parquet"}
    assert e["dwp_extract.csv"] == {
        "path": "dwp_extract.csv",
        "kind": "extract",
        "party": "dwp",
        "created": "2026-01-31T09:00:00Z",
        "destroy_by": "2026-02-28",
        "checksum": file_checksum(paths["dwp_extract"]),
    }
    assert e["dwp_attributes.parquet"]["destroy_by"] == "2026-03-10"
    assert [x.path for x in entries(root / "la")] == ["la_identifiers.csv", "la_mapping.csv"]


def test_register_errors(tmp_path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("x\n1\n")
    with pytest.raises(RetentionError, match="unknown artefact kind"):
        register(f, "stuff", "la", "2027-01-01")
    with pytest.raises(RetentionError, match="not a file"):
        register(tmp_path / "missing.csv", "other", "la", "2027-01-01")
    with pytest.raises(RetentionError, match="must be a date"):
        register(f, "other", "la", "next year")
    with pytest.raises(RetentionError, match="study ends"):
        register(f, "other", "ons")
    assert not (tmp_path / MANIFEST_NAME).exists()


@pytest.mark.parametrize(
    "today,gone",
    [
        ("2026-02-27", set()),
        ("2026-02-28", {"dwp_extract"}),  # due on its destroy-by date
        ("2026-03-10", {"dwp_extract", "dwp_attrs"}),
        ("2026-07-01", {"dwp_extract", "dwp_attrs", "la_map"}),
        ("2027-12-31", {"dwp_extract", "dwp_attrs", "la_map", "la_ids", "ons_links"}),
    ],
)
def test_purge_removes_exactly_the_expired(study, today: str, gone: set[str]) -> None:
    root, paths = study
    before = {k: p.read_bytes() for k, p in paths.items()}
    log = AuditLog(root / "ons" / "audit.jsonl")
    report = purge(root, today, audit=log)
    assert {p for p in report.deleted} == {paths[k] for k in gone}
    for k, p in paths.items():
        if k in gone:
            assert not p.exists()
        else:
            assert p.read_bytes() == before[k]  # untouched, byte for byte
    assert paths["stray"].exists()  # never registered, never deleted
    assert report.kept == 5 - len(gone)
    remaining = {e.path for d in ("la", "dwp", "ons") for e in entries(root / d)}
    assert remaining == {paths[k].name for k in paths if k not in gone and k != "stray"}
    events = read_events(log.path) if log.path.exists() else []
    assert sum(e["counts"]["deleted"] for e in events) == len(gone)
    assert {e["party"] for e in events} == {
        {"dwp_extract": "dwp", "dwp_attrs": "dwp", "la_map": "la", "la_ids": "la",
         "ons_links": "ons"}[k] for k in gone
    }
    if events:
        verify(log.path)
        logged = {f for e in events for f in e["files"]}
        assert logged == {paths[k].relative_to(root).as_posix() for k in gone}


def test_purge_is_idempotent_and_keeps_a_record(study) -> None:
    root, paths = study
    purge(root, "2026-03-31")
    again = purge(root, "2026-03-31")
    assert again.deleted == [] and again.already_gone == []
    m = json.loads((root / "dwp" / MANIFEST_NAME).read_text())
    assert m["artefacts"] == []
    assert {d["path"] for d in m["destroyed"]} == {"dwp_extract.csv", "dwp_attributes.parquet"}
    assert all(d["destroyed"] == "2026-03-31" for d in m["destroyed"])


def test_purge_reports_already_gone(study) -> None:
    root, paths = study
    paths["dwp_extract"].unlink()
    report = purge(root, "2026-02-28")
    assert report.already_gone == [paths["dwp_extract"]] and report.deleted == []


def test_secret_is_shredded(tmp_path) -> None:
    key = tmp_path / "owner.key"
    key.write_text(Secret.generate().export_hex())
    register(key, "secret", "la", "2026-05-01", created=CREATED)
    log = AuditLog(tmp_path / "audit.jsonl")
    assert purge(tmp_path, "2026-04-30", audit=log).deleted == []
    report = purge(tmp_path, "2026-05-01", audit=log)
    assert report.deleted == [key] and not key.exists()
    ev = read_events(log.path)[-1]
    assert ev["counts"]["shredded"] == 1 and ev["files"] == ["owner.key"]


def test_check_and_update_checksum(study) -> None:
    root, paths = study
    rep = check(root, ignore=["audit.jsonl"])
    assert rep.unregistered == [paths["stray"]] and rep.changed == [] and not rep.ok
    with open(paths["ons_links"], "a") as fh:
        fh.write("x,y\n")
    assert check(root).changed == [paths["ons_links"]]
    assert update_checksum(paths["ons_links"])
    assert check(root).changed == []
    assert not update_checksum(paths["stray"])
    paths["la_map"].unlink()
    assert check(root).missing == [paths["la_map"]]


def test_reregister_replaces_entry(study) -> None:
    root, paths = study
    register(paths["la_map"], "mapping", "la", "2028-01-01", created=CREATED)
    e = [x for x in entries(root / "la") if x.path == "la_mapping.csv"]
    assert len(e) == 1 and e[0].destroy_by == "2028-01-01"


def test_purge_refused_by_audit_changes_nothing(study) -> None:
    root, paths = study
    odd = root / "dwp" / "extract_2026-01-31.csv"  # a date in the name: the log refuses it
    odd.write_text("a\n1\n")
    register(odd, "extract", "dwp", "2026-02-01", created=CREATED)
    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    log = AuditLog(root / "audit.jsonl")
    with pytest.raises(Exception, match="looks like it holds a date"):
        purge(root, "2026-03-31", audit=log)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot

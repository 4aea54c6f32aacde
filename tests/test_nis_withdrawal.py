"""Withdrawal: a person is removed from every artefact of a study, and it is recorded."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_nis_data import TODAY, make_submission

from nislink.nis.audit import AuditLog, read_events, verify
from nislink.nis.retention import RetentionPolicy, check, register
from nislink.nis.separation import REF_PATTERN, ReferenceGenerator, separate
from nislink.nis.submission import PROBLEM_FLAGS, validate_submission
from nislink.nis.withdrawal import (
    WithdrawalError,
    family_ref_columns,
    find_traces,
    person_ref_columns,
    reference_for,
    withdraw,
)

POLICY = RetentionPolicy(study_end=dt.date(2030, 1, 1))


def _encoded(ids: np.ndarray, seed: int) -> pa.Table:
    """Stand-in for an encoder output: record ids, packed filter words, keyed tokens."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    table = pa.table(
        {
            "id": pa.array(ids.astype(str)),
            "clk": pa.array(list(rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64)),
                            type=pa.list_(pa.uint64())),
            "tok_mk1": pa.array(rng.integers(1, 2**63, size=n, dtype=np.uint64)),
        }
    )
    return table.replace_schema_metadata({b"nislink_meta": b'{"party": "x", "scheme": 1}'})


def build_study(root, seed: int = 51):
    """LA, DWP, linkage unit and research artefacts made from one synthetic submission."""
    valid, _ = validate_submission(make_submission(25, seed=seed), today=TODAY)
    la = separate(valid, party="la", seed=seed)
    # DWP knows the adults with a NINO, under its own ids, with its own attributes
    adults = valid[valid["nino"].notna()].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    dwp_raw = pd.DataFrame(
        {
            "dwp_id": [f"D{i:07d}" for i in range(len(adults))],
            "forename": adults["forename"],
            "surname": adults["surname"],
            "dob": adults["dob"],
            "nino": adults["nino"],
            "benefit": rng.choice(["UC", "JSA", "ESA", "none"], size=len(adults)),
        }
    )
    dwp = separate(dwp_raw, id_column="dwp_id", family_column=None, party="dwp", seed=seed + 1)
    la_ref = dict(zip(valid["person_id"], la.mapping["person_ref"]))
    links = pd.DataFrame(
        {
            "la_person_ref": [la_ref[p] for p in adults["person_id"]],
            "dwp_person_ref": dwp.mapping["person_ref"].to_numpy(),
            "weight": rng.normal(12, 2, size=len(adults)).round(3),
        }
    )
    gen = ReferenceGenerator(seed=seed + 2)
    rmap = la.attributes[["person_ref", "family_ref"]]
    rmap = rmap.rename(columns={"person_ref": "la_person_ref"})
    rmap.insert(0, "research_id", gen.draw(len(rmap), "research_person"))
    fam_codes, fams = pd.factorize(rmap["family_ref"])
    rmap["research_family_id"] = gen.draw(len(fams), "research_family")[fam_codes]
    people = rmap[["research_id", "research_family_id"]].copy()
    for f in PROBLEM_FLAGS:
        people[f] = la.attributes[f].to_numpy()
    benefit = dict(zip(links["la_person_ref"], dwp.attributes["benefit"]))
    people["benefit"] = [benefit.get(r, "") for r in rmap["la_person_ref"]]
    families = people.groupby("research_family_id", sort=True).agg(members=("research_id", "size"))
    families = families.reset_index()

    files = {
        "la/la_identifiers.csv": (la.identifiers, "identifiers", "la"),
        "la/la_attributes.parquet": (la.attributes, "attributes", "la"),
        "la/la_mapping.csv": (la.mapping, "mapping", "la"),
        "dwp/dwp_identifiers.csv": (dwp.identifiers, "identifiers", "dwp"),
        "dwp/dwp_attributes.csv": (dwp.attributes, "attributes", "dwp"),
        "dwp/dwp_mapping.csv": (dwp.mapping, "mapping", "dwp"),
        "ons/links_la_dwp.csv": (links, "link_table", "ons"),
        "research/research_map.parquet": (rmap, "research_map", "ons"),
        "research/people.parquet": (people, "research_dataset", "research"),
        "research/families.csv": (families, "research_dataset", "research"),
    }
    for rel, (df, kind, party) in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix == ".csv":
            df.to_csv(p, index=False)
        else:
            df.to_parquet(p, index=False)
        register(p, kind, party, policy=POLICY)
    for rel, sep, s in (("ons/la_encoded.parquet", la, 1), ("ons/dwp_encoded.parquet", dwp, 2)):
        p = root / rel
        pq.write_table(_encoded(sep.mapping["person_ref"].to_numpy(), s), p)
        register(p, "encoded", "ons", policy=POLICY)
    return {"valid": valid, "la": la, "dwp": dwp, "links": links, "rmap": rmap,
            "people": people, "families": families}


def _rows(path) -> int:
    if path.suffix == ".csv":
        return len(pd.read_csv(path, dtype=str))
    return pq.read_metadata(path).num_rows


def test_column_conventions() -> None:
    cols = ["person_ref", "id", "person_id", "la_person_ref", "ref_dwp", "research_id",
            "family_ref", "family_id", "la_family_ref", "research_family_id", "weight"]
    assert person_ref_columns(cols) == ["person_ref", "id", "la_person_ref", "ref_dwp",
                                        "research_id"]
    assert family_ref_columns(cols) == ["family_ref", "la_family_ref", "research_family_id"]


def test_withdraw_removes_every_trace(tmp_path) -> None:
    s = build_study(tmp_path)
    links = s["links"]
    # a person the DWP also holds, in a family of several
    fam_size = s["la"].mapping.groupby("family_ref")["person_ref"].transform("size")
    cand = s["la"].mapping[(fam_size > 1).to_numpy()
                           & s["la"].mapping["person_ref"].isin(links["la_person_ref"]).to_numpy()]
    person_id = cand["person_id"].iloc[0]
    ref = reference_for(tmp_path / "la" / "la_mapping.csv", person_id)
    assert ref == cand["person_ref"].iloc[0]
    dwp_ref = links.loc[links["la_person_ref"] == ref, "dwp_person_ref"].item()
    rid = s["rmap"].loc[s["rmap"]["la_person_ref"] == ref, "research_id"].item()
    before = {p: _rows(p) for p in tmp_path.rglob("*") if p.suffix in (".csv", ".parquet")}
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("link", party="ons", counts={"links": len(links)})

    report = withdraw(tmp_path, ref, party="la", audit=log)

    assert report.complete and report.traces == []
    assert report.references == 3  # the LA number, the linked DWP number, the research id
    assert report.families == 0  # the family still has members
    assert find_traces(tmp_path, [ref, dwp_ref, rid]) == []
    expected = {
        "la/la_identifiers.csv": 1, "la/la_attributes.parquet": 1, "la/la_mapping.csv": 1,
        "dwp/dwp_identifiers.csv": 1, "dwp/dwp_attributes.csv": 1, "dwp/dwp_mapping.csv": 1,
        "ons/links_la_dwp.csv": 1, "ons/la_encoded.parquet": 1, "ons/dwp_encoded.parquet": 1,
        "research/research_map.parquet": 1, "research/people.parquet": 1,
    }
    assert {p.relative_to(tmp_path).as_posix(): k for p, k in report.removed.items()} == expected
    for p, n in before.items():
        rel = p.relative_to(tmp_path).as_posix()
        assert _rows(p) == n - expected.get(rel, 0), rel
    # other people are untouched, in order
    ids = pd.read_csv(tmp_path / "la" / "la_identifiers.csv", dtype=str, keep_default_na=False)
    orig = s["la"].identifiers.astype(str).replace({"None": ""})
    orig = orig[orig["person_ref"] != ref].reset_index(drop=True)
    assert ids["person_ref"].tolist() == orig["person_ref"].tolist()
    assert ids["surname"].tolist() == orig["surname"].tolist()
    # the encoded file keeps its metadata and types
    enc = pq.read_table(tmp_path / "ons" / "la_encoded.parquet")
    assert enc.schema.metadata[b"nislink_meta"] == b'{"party": "x", "scheme": 1}'
    assert enc.schema.field("tok_mk1").type == pa.uint64()
    # manifests follow the rewrite; the audit log records it without the numbers
    assert check(tmp_path, ignore=["audit.jsonl"]).ok
    verify(log.path)
    ev = read_events(log.path)[-1]
    assert ev["event"] == "withdraw" and ev["party"] == "la"
    assert ev["counts"]["rows_removed"] == 11 and ev["counts"]["artefacts_changed"] == 11
    assert ev["values"] == {"outcome": "complete"}
    assert ev["files"]["ons/links_la_dwp.csv"] == {"rows_removed": 1}
    text = log.path.read_text()
    assert REF_PATTERN.search(text) is None
    assert all(r not in text for r in (ref, dwp_ref, rid))


def test_only_member_takes_family_rows_with_them(tmp_path) -> None:
    s = build_study(tmp_path, seed=52)
    m = s["la"].mapping
    sizes = m.groupby("family_ref")["person_ref"].transform("size")
    single = m[(sizes == 1).to_numpy()]
    assert len(single), "the synthetic study should have a one-person family"
    ref = single["person_ref"].iloc[0]
    fam = single["family_ref"].iloc[0]
    rfam = s["rmap"].loc[s["rmap"]["la_person_ref"] == ref, "research_family_id"].item()
    n_fam = _rows(tmp_path / "research" / "families.csv")
    report = withdraw(tmp_path, ref)
    assert report.families >= 1 and report.complete
    assert _rows(tmp_path / "research" / "families.csv") == n_fam - 1
    assert find_traces(tmp_path, [fam, rfam]) == []


def test_unknown_reference_changes_nothing(tmp_path) -> None:
    build_study(tmp_path, seed=53)
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(WithdrawalError, match="not in any table"):
        withdraw(tmp_path, ReferenceGenerator().draw(1)[0])
    with pytest.raises(WithdrawalError, match="non-empty"):
        withdraw(tmp_path, " ")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot


def test_csv_rewrite_keeps_other_lines_byte_for_byte(tmp_path) -> None:
    s = build_study(tmp_path, seed=54)
    path = tmp_path / "la" / "la_mapping.csv"
    lines = path.read_text().splitlines(keepends=True)
    ref = s["la"].mapping["person_ref"].iloc[3]
    withdraw(tmp_path, ref)
    assert path.read_text() == "".join(line for line in lines if ref not in line)


def test_leftover_in_other_files_is_reported(tmp_path) -> None:
    s = build_study(tmp_path, seed=55)
    ref = s["la"].mapping["person_ref"].iloc[0]
    note = tmp_path / "ons" / "notes.json"
    note.write_text(json.dumps({"queried": ref}))
    odd = tmp_path / "ons" / "odd.csv"
    pd.DataFrame({"whatever": [ref, "x"]}).to_csv(odd, index=False)
    log = AuditLog(tmp_path / "audit.jsonl")
    report = withdraw(tmp_path, ref, audit=log)
    assert not report.complete
    assert set(report.traces) == {(note, "bytes"), (odd, "whatever")}
    assert read_events(log.path)[-1]["values"] == {"outcome": "incomplete"}
    assert ref not in log.path.read_text()


def test_hops_zero_does_not_follow_links(tmp_path) -> None:
    s = build_study(tmp_path, seed=56)
    links = s["links"]
    ref = links["la_person_ref"].iloc[0]
    dwp_ref = links["dwp_person_ref"].iloc[0]
    report = withdraw(tmp_path, ref, hops=0)
    assert report.references == 1
    traces = {p.relative_to(tmp_path).as_posix() for p, _ in find_traces(tmp_path, [dwp_ref])}
    assert traces == {"dwp/dwp_identifiers.csv", "dwp/dwp_attributes.csv",
                      "dwp/dwp_mapping.csv", "ons/dwp_encoded.parquet"}
    assert find_traces(tmp_path, [ref]) == []


def test_encoded_file_stays_valid(tmp_path) -> None:
    """An nislink encoded file loses the row and still passes its own checksum."""
    from nislink import io as nio
    from nislink.encode.frame import BitMatrix, EncodedFrame

    s = build_study(tmp_path, seed=57)
    refs = s["la"].mapping["person_ref"].to_numpy()
    rng = np.random.default_rng(1)
    n = len(refs)
    frame = EncodedFrame(
        ids=refs,
        fields={"surname": BitMatrix.from_bool(rng.random((n, 200)) < 0.2)},
        clk=BitMatrix.from_bool(rng.random((n, 512)) < 0.3),
        tokens={"mk1": rng.integers(1, 2**63, size=n, dtype=np.uint64)},
        meta={"party": "la", "scheme_version": 1, "destroy_by": "2030-01-01"},
    )
    path = tmp_path / "ons" / "la_real_encoded.parquet"
    nio.save(frame, path)
    register(path, "encoded", "ons", policy=POLICY)
    ref = refs[5]
    report = withdraw(tmp_path, ref)
    assert report.complete and report.removed[path] == 1
    back = nio.load(path)  # verifies row count and checksum
    assert len(back) == n - 1 and ref not in set(back.ids)
    keep = np.flatnonzero(refs != ref)
    assert np.array_equal(back.clk.bits, frame.clk.bits[keep])
    assert np.array_equal(back.tokens["mk1"], frame.tokens["mk1"][keep])
    assert back.meta["party"] == "la"
    assert check(tmp_path).changed == []


def test_generic_parquet_keeps_file_metadata(tmp_path) -> None:
    s = build_study(tmp_path, seed=58)
    path = tmp_path / "research" / "tagged.parquet"
    rmap = s["rmap"]
    writer = pq.ParquetWriter(path, pa.Schema.from_pandas(rmap, preserve_index=False))
    writer.write_table(pa.Table.from_pandas(rmap, preserve_index=False))
    writer.add_key_value_metadata({b"study": b"nis-2026"})
    writer.close()
    withdraw(tmp_path, rmap["la_person_ref"].iloc[0])
    assert pq.ParquetFile(path).metadata.metadata[b"study"] == b"nis-2026"
    assert pq.read_metadata(path).num_rows == len(rmap) - 1


def test_withdraw_refused_by_audit_changes_nothing(tmp_path) -> None:
    s = build_study(tmp_path, seed=59)
    pd.DataFrame({"person_ref": ["x"]}).to_csv(tmp_path / "ons" / "AB123456C.csv", index=False)
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(Exception, match="NINO"):
        withdraw(tmp_path, s["la"].mapping["person_ref"].iloc[0], audit=log)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot


def test_subject_access_finds_what_withdraw_removes(tmp_path) -> None:
    from nislink.nis.withdrawal import subject_access

    s = build_study(tmp_path, seed=60)
    links = s["links"]
    ref = links["la_person_ref"].iloc[2]
    log = AuditLog(tmp_path / "audit.jsonl")
    held = subject_access(tmp_path, ref, audit=log)
    got = {p.relative_to(tmp_path).as_posix(): len(df) for p, df in held.items()}
    person = s["valid"].loc[s["la"].mapping["person_ref"] == ref].iloc[0]
    ids = held[tmp_path / "la" / "la_identifiers.csv"].iloc[0]
    assert ids["surname"] == person["surname"] and ids["person_ref"] == ref
    enc = held[tmp_path / "ons" / "la_encoded.parquet"]
    assert enc["tok_mk1"].dtype == np.uint64  # whole rows, real types
    assert read_events(log.path)[-1]["event"] == "access"
    assert ref not in log.path.read_text()
    report = withdraw(tmp_path, ref)
    assert got == {p.relative_to(tmp_path).as_posix(): k for p, k in report.removed.items()}
    assert subject_access(tmp_path, ref) == {}

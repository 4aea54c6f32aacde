"""Audit log: hash chain, tamper detection, and the guard against identifiers and secrets."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_nis_data import make_submission

from nislink.nis.audit import (
    GENESIS,
    KNOWN_VALUES,
    AuditError,
    AuditLog,
    AuditTamperError,
    looks_like_identifier,
    read_events,
    verify,
)
from nislink.nis.separation import ReferenceGenerator
from nislink.secrets import Secret

T0 = dt.datetime(2026, 11, 22, 20, 0, tzinfo=dt.timezone.utc)


def _fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.record(
            ["clean", "encode", "send", "link", "assemble"][i % 5],
            party=["la", "dwp", "ons"][i % 3],
            counts={"rows": 100 + i, "rejected": i},
            fingerprints={"key": "9f2c4e1a0b3d5f67", "schema": "0123abcd" * 4},
            files=[f"out/part_{i}.parquet"],
            values={"mode": "random"},
            time=T0 + dt.timedelta(minutes=i),
        )


def test_events_are_chained(tmp_path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    _fill(log)
    events = read_events(log.path)
    assert [e["seq"] for e in events] == [0, 1, 2, 3, 4]
    assert events[0]["prev"] == GENESIS
    assert events[2]["time"] == "2026-11-22T20:02:00.000000Z"
    assert events[1]["counts"] == {"rows": 101, "rejected": 1}
    head = verify(log.path)
    assert head == log.verify() and len(head) == 64
    log.record("purge", party="ons", counts={"deleted": 2})
    assert verify(log.path) != head
    assert read_events(log.path)[-1]["action"] == "purge"


def _lines(path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize("how", ["edit", "delete", "swap", "insert", "truncate"])
def test_tampering_is_detected(tmp_path, how: str) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    _fill(log, 6)
    lines = _lines(log.path)
    if how == "edit":
        lines[2] = lines[2].replace(b'"rows":102', b'"rows":999')
        expect = 4
    elif how == "delete":
        del lines[3]
        expect = 4
    elif how == "swap":
        lines[1], lines[2] = lines[2], lines[1]
        expect = 2
    elif how == "insert":
        lines.insert(2, lines[1])
        expect = 3
    else:
        lines[-1] = lines[-1][:-10]
        expect = 6
    log.path.write_bytes(b"".join(lines))
    with pytest.raises(AuditTamperError) as e:
        verify(log.path)
    assert e.value.line == expect
    assert f"line {expect}" in str(e.value)


def test_editing_the_last_line_changes_the_head(tmp_path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    _fill(log, 3)
    head = verify(log.path)
    lines = _lines(log.path)
    lines[-1] = lines[-1].replace(b'"rows":102', b'"rows":103')
    log.path.write_bytes(b"".join(lines))
    assert verify(log.path) != head  # detectable by whoever kept the head hash


def test_keyed_chain(tmp_path) -> None:
    secret = Secret.generate()
    log = AuditLog(tmp_path / "audit.jsonl", key=secret)
    _fill(log, 3)
    assert log.verify()
    with pytest.raises(AuditTamperError):
        verify(log.path)  # without the key the chain does not verify
    with pytest.raises(AuditTamperError):
        verify(log.path, key=Secret.generate())
    assert verify(log.path, key=secret) == log.verify()
    assert "hidden" not in repr(log) and secret.export_hex() not in log.path.read_text()


def test_appending_after_tamper_is_refused(tmp_path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    _fill(log, 2)
    log.path.write_bytes(log.path.read_bytes()[:-1])  # drop the final newline
    with pytest.raises(AuditTamperError):
        log.record("clean", party="la", counts={"rows": 1})


# ------------------------------------------------------------------ the guard
@pytest.fixture(scope="module")
def identifiers() -> list[str]:
    sub = make_submission(10, seed=21)
    out: list[str] = []
    for col in ("forename", "surname", "dob", "postcode", "nino", "upn", "person_id"):
        out += [v for v in sub[col] if v][:5]
    return out


def test_guard_refuses_identifier_values(tmp_path, identifiers: list[str]) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    _fill(log, 1)
    before = log.path.read_bytes()
    ref = ReferenceGenerator().draw(1)[0]
    for value in identifiers + [ref, "Smith", "john.smith@example.org"]:
        variants: list[dict] = [
            {"values": {"field": value}},
            {"party": value},
            {"action": value},
            {"counts": {"rows": value}},
            {"fingerprints": {"key": value}},
            {"files": [value]},
        ]
        if looks_like_identifier(value):  # NINO, UPN, postcode, date, reference number
            variants.append({"files": [f"out/{value}.csv"]})
            variants.append({"files": {f"x_{value}.csv": {"rows": 1}}})
        for kwargs in variants:
            params = {"party": "la", **kwargs}
            with pytest.raises(AuditError) as e:
                log.record("encode", **params)
            assert value not in str(e.value)
    assert log.path.read_bytes() == before  # nothing written


def test_guard_refuses_secrets_and_odd_types(tmp_path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    secret = Secret.generate()
    bad = [
        {"fingerprints": {"key": secret.export_hex()}},  # 64 hex without a prefix
        {"fingerprints": {"key": secret}},
        {"fingerprints": {"key": b"\x00" * 32}},
        {"fingerprints": {"dob": "19800203"}},  # a date of birth written as digits
        {"fingerprints": {"nhs": "4857773456"}},
        {"values": {"secret": secret}},
        {"counts": {"rows": True}},
        {"counts": {"rows": float("nan")}},
        {"counts": {"rows": {"nested": 1}}},
        {"counts": {"Rows": 1}},  # keys are lowercase tokens
        {"files": "one.csv"},
        {"files": ["../escape.csv"]},
        {"files": ["no_extension"]},
    ]
    for kwargs in bad:
        with pytest.raises(AuditError):
            log.record("encode", party="la", **kwargs)
    with pytest.raises(AuditError, match="unknown event type"):
        log.record("exfiltrate", party="la")
    with pytest.raises(AuditError, match="timezone-aware"):
        log.record("clean", party="la", time=dt.datetime(2026, 1, 1))
    assert not log.path.exists()


def test_guard_accepts_what_it_should(tmp_path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", extra_values=["la_e10000024x"[:12]])
    ev = log.record(
        "link",
        party="ons",
        action="link",
        counts={"pairs": np.int64(5), "rate": np.float32(0.5), "links": 3},
        fingerprints={"key": "9f2c4e1a0b3d5f67", "file": "blake3:" + "ab" * 32},
        files={"link/la_dwp_links.csv": {"rows": 3}},
        values={"mode": "seeded", "kind": "link_table"},
    )
    assert ev["counts"] == {"pairs": 5, "rate": 0.5, "links": 3}
    assert json.loads(log.path.read_text())["files"] == {"link/la_dwp_links.csv": {"rows": 3}}
    with pytest.raises(AuditError):
        AuditLog(tmp_path / "x.jsonl", extra_values=["ab123456c"])  # a NINO is no enum


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_guard_never_accepts_free_text(text: str) -> None:
    g = AuditLog("/nonexistent/never-written.jsonl")._guard
    if text in KNOWN_VALUES:
        assert g.enum("values", text) == text
    else:
        with pytest.raises(AuditError):
            g.enum("values", text)


@pytest.mark.parametrize(
    "text,kind",
    [("AB123456C", "NINO"), ("ab 12 34 56 c", "NINO"), ("NG2 7QP", "postcode"),
     ("sw1a1aa", "postcode"), ("A123456789012", "UPN"), ("x@y.org", "e-mail address"),
     ("P" + "0a" * 10, "reference number"), ("07700900123", "long number"),
     ("1980-02-03", "date"), ("3/2/1980", "date"), ("x_03.02.80.csv", "date"),
     ("la_clean.csv", None), ("part_3.parquet", None)],
)
def test_looks_like_identifier(text: str, kind: str | None) -> None:
    assert looks_like_identifier(text) == kind


def test_generated_identifiers_are_recognised() -> None:
    sub = make_submission(15, seed=8)
    for col in ("dob", "postcode", "nino", "upn"):
        values = [v for v in sub[col] if v]
        assert values
        assert all(looks_like_identifier(v) for v in values), col

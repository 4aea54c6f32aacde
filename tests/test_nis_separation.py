"""Separation: identifier and attribute tables joined only by random reference numbers."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_nis_data import TODAY, make_submission

from nislink.nis import separation
from nislink.nis.audit import AuditLog, read_events
from nislink.nis.separation import (
    IDENTIFIER_COLUMNS,
    REF_PATTERN,
    ReferenceGenerator,
    SeparationError,
    is_reference_number,
    separate,
)
from nislink.nis.submission import PROBLEM_FLAGS, validate_submission
from nislink.secrets import Secret


@pytest.fixture(scope="module")
def valid() -> pd.DataFrame:
    v, r = validate_submission(make_submission(50, seed=31), today=TODAY)
    assert r.empty
    return v


def test_three_tables(valid: pd.DataFrame) -> None:
    sep = separate(valid, party="la")
    ids, attrs, mapping = sep.identifiers, sep.attributes, sep.mapping
    assert sep.mode == "random"
    assert list(ids.columns) == ["person_ref", "forename", "surname", "dob", "sex", "postcode",
                                 "nino", "upn"]
    assert list(attrs.columns) == ["person_ref", "family_ref", *PROBLEM_FLAGS, "status",
                                   "assessment_date", "start_date", "end_date"]
    assert list(mapping.columns) == ["person_id", "family_id", "person_ref", "family_ref"]
    # no identifier or owner id on the attribute side; no family structure on the identifier side
    assert not set(attrs.columns) & (set(IDENTIFIER_COLUMNS) | {"person_id", "family_id"})
    assert "family_ref" not in ids.columns and "family_id" not in ids.columns
    # the owner's raw values appear nowhere in the attribute table
    attr_text = set(attrs.astype(str).to_numpy().ravel())
    for col in ("person_id", "family_id", "surname", "postcode"):
        assert not attr_text & set(valid[col].dropna())
    # joining back through the reference numbers restores the input exactly
    back = mapping.merge(ids, on="person_ref").merge(attrs, on=["person_ref", "family_ref"])
    back = back.drop(columns=["person_ref", "family_ref"])[list(valid.columns)]
    pd.testing.assert_frame_equal(back.reset_index(drop=True), valid.reset_index(drop=True))


def test_reference_numbers_unique_and_shaped(valid: pd.DataFrame) -> None:
    sep = separate(valid)
    m = sep.mapping
    assert m["person_ref"].is_unique
    assert all(is_reference_number(r, "person") for r in m["person_ref"])
    assert all(is_reference_number(r, "family") for r in m["family_ref"])
    assert not is_reference_number(m["person_ref"].iloc[0], "family")
    # one family_ref per family, different families different numbers
    per_family = m.groupby("family_id")["family_ref"].nunique()
    assert (per_family == 1).all()
    assert m.drop_duplicates("family_id")["family_ref"].is_unique
    assert not set(m["person_ref"]) & set(m["family_ref"])


def test_random_mode_is_not_derivable(valid: pd.DataFrame) -> None:
    a = separate(valid)
    b = separate(valid)
    # same identifiers, fresh numbers every time
    assert not set(a.mapping["person_ref"]) & set(b.mapping["person_ref"])
    # two people with identical identifiers get unrelated numbers
    twin = pd.concat([valid.head(1), valid.head(1).assign(person_id="LA-TWIN")])
    t = separate(twin, family_column="family_id")
    r1, r2 = t.mapping["person_ref"]
    assert r1 != r2


def test_random_bits_look_uniform() -> None:
    refs = ReferenceGenerator().draw(4000)
    bits = np.unpackbits(np.frombuffer(bytes.fromhex("".join(r[1:] for r in refs)), np.uint8))
    # 320000 fair bits: mean 0.5, sd 0.00088; 6 sd bound
    assert abs(bits.mean() - 0.5) < 0.0053
    assert len(set(refs)) == 4000


def test_seeded_mode_is_reproducible(valid: pd.DataFrame) -> None:
    secret = Secret.from_bytes(bytes(range(32)))
    a = separate(valid, seed=7, secret=secret)
    b = separate(valid, seed=7, secret=secret)
    assert a.mode == "seeded"
    pd.testing.assert_frame_equal(a.mapping, b.mapping)
    pd.testing.assert_frame_equal(a.attributes, b.attributes)
    c = separate(valid, seed=8, secret=secret)
    d = separate(valid, seed=7, secret=Secret.from_bytes(bytes(range(1, 33))))
    e = separate(valid, seed=7)
    f = separate(valid, seed=7, secret=secret, party="dwp")
    for other in (c, d, e, f):
        assert not set(other.mapping["person_ref"]) & set(a.mapping["person_ref"])


def test_seeded_numbers_do_not_depend_on_identifiers(valid: pd.DataFrame) -> None:
    shuffled = valid.copy()
    rng = np.random.default_rng(0)
    for col in ("forename", "surname", "dob", "postcode", "nino"):
        shuffled[col] = rng.permutation(shuffled[col].to_numpy())
    a = separate(valid, seed=3)
    b = separate(shuffled, seed=3)
    assert a.mapping["person_ref"].tolist() == b.mapping["person_ref"].tolist()


def test_collisions_are_redrawn(monkeypatch) -> None:
    calls = []

    def fake(n: int) -> bytes:
        calls.append(n)
        if len(calls) == 1:
            return b"\x11" * n  # three identical numbers: two collide
        return os.urandom(n)

    monkeypatch.setattr(separation._secrets, "token_bytes", fake)
    refs = ReferenceGenerator().draw(3)
    assert len(set(refs)) == 3
    assert calls[:2] == [30, 20]  # the two colliding numbers were drawn again
    assert refs[0] == "P" + "11" * 10


def test_seeded_collision_continues_the_stream(monkeypatch) -> None:
    gen = ReferenceGenerator(seed=1)
    first = gen.draw(5)
    again = ReferenceGenerator(seed=1)
    # pre-issue a number the stream will produce: it must be skipped, not repeated
    again._issued.add(first[2])
    out = again.draw(5)
    assert len(set(out)) == 5 and first[2] not in out
    assert out[:2].tolist() == first[:2].tolist()


def test_errors_name_rows(valid: pd.DataFrame) -> None:
    dup = valid.copy()
    dup.loc[dup.index[4], "person_id"] = dup.loc[dup.index[1], "person_id"]
    with pytest.raises(SeparationError, match=r"person_id: duplicated on row\(s\) 1, 4"):
        separate(dup)
    miss = valid.copy()
    miss.loc[miss.index[2], "family_id"] = None
    with pytest.raises(SeparationError, match=r"family_id: missing on row\(s\) 2"):
        separate(miss)
    with pytest.raises(SeparationError, match="identifiers or record ids"):
        separate(valid, attribute_columns=["status", "surname"])
    with pytest.raises(SeparationError, match="already has"):
        separate(valid.assign(person_ref="x"))


def test_cleaned_status_columns_follow_identifiers(valid: pd.DataFrame) -> None:
    df = valid.assign(surname_status="ok", dob_status="invalid")
    sep = separate(df)
    assert {"surname_status", "dob_status"} <= set(sep.identifiers.columns)
    assert not {"surname_status", "dob_status"} & set(sep.attributes.columns)


def test_no_family_column(valid: pd.DataFrame) -> None:
    sep = separate(valid.drop(columns=["family_id"]), family_column=None)
    assert "family_ref" not in sep.attributes.columns
    assert list(sep.mapping.columns) == ["person_id", "person_ref"]


def test_audit_event_holds_no_reference_numbers(tmp_path, valid: pd.DataFrame) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    sep = separate(valid, seed=4, audit=log)
    ev = read_events(log.path)[0]
    assert ev["event"] == "separate" and ev["values"] == {"mode": "seeded"}
    assert ev["counts"]["people"] == len(valid)
    assert ev["counts"]["families"] == valid["family_id"].nunique()
    text = log.path.read_text()
    assert not any(r in text for r in sep.mapping["person_ref"])
    assert REF_PATTERN.search(text) is None
    assert "seeded" in repr(sep) and sep.mapping["person_ref"].iloc[0] not in repr(sep)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=12),
    seed=st.one_of(st.none(), st.integers(0, 2**31)),
)
def test_separation_properties(sizes: list[int], seed: int | None) -> None:
    rows = [
        {"person_id": f"p{f}-{k}", "family_id": f"f{f}", "surname": "Same", "dob": "2001-01-01",
         "health": k % 2}
        for f, size in enumerate(sizes) for k in range(size)
    ]
    df = pd.DataFrame(rows)
    sep = separate(df, seed=seed)
    m = sep.mapping
    assert m["person_ref"].is_unique and len(m) == len(df)
    assert m.groupby("family_id")["family_ref"].nunique().eq(1).all()
    assert m.drop_duplicates("family_id")["family_ref"].is_unique
    back = m.merge(sep.identifiers, on="person_ref").merge(sep.attributes,
                                                          on=["person_ref", "family_ref"])
    assert back[list(df.columns)].to_dict("records") == df.to_dict("records")
    if seed is not None:
        assert separate(df, seed=seed).mapping.equals(m)

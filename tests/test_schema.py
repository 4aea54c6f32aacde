"""nislink.Schema: JSON round-trip, fingerprint, validation with key paths, select."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.schema import (
    FIELD_KINDS,
    ClkSpec,
    FieldSpec,
    Hardening,
    MatchKey,
    Schema,
    SchemaError,
)


def test_uk_default_fields_and_keys() -> None:
    s = Schema.uk_default()
    assert [f.name for f in s.fields] == ["forename", "surname", "dob", "sex", "postcode",
                                          "nino", "upn"]
    assert [f.column for f in s.fields] == [f.name for f in s.fields]
    assert [m.name for m in s.match_keys][:5] == ["mk1", "mk2", "mk3", "mk4", "mk5"]
    assert s.match_keys[2].components == ["surname_soundex", "dob", "postcode_district"]
    assert s.slk581 and s.clk is None and s.hashing == "blake3"
    # names: salted with a nearly unique key, nine more salted views, constant bits per value
    h = s.field("forename").hardening
    assert h.salt == "dob_yearpair0" and not (h.mask or h.balance or h.permute)
    assert s.field("forename").bits_per_field == 120 and s.field("forename").length == 256
    assert h.views == ["dob_yearpair1", "postcode&dob_year", "postcode&dob_dayset"] + [
        f"dob_blank{i}&surname_initial" for i in (0, 1, 2, 3, 6, 7)]
    assert h.fallback == ["postcode&surname_initial"]
    hs = s.field("surname").hardening
    assert hs.views == [v.replace("surname_initial", "forename_initial") for v in h.views]
    assert hs.fallback == ["postcode&forename_initial"]
    assert s.field("dob").hardening.is_identity()
    assert [v for v, _ in s.field("surname").views][1] == "surname~dob_yearpair1"


def test_json_round_trip_and_fingerprint_stable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = Schema.uk_default()
    t = Schema.from_json(s.to_json())
    assert t == s and t.fingerprint == s.fingerprint
    assert Schema.from_dict(json.loads(s.to_json(indent=None))).fingerprint == s.fingerprint
    s.save(tmp_path / "s.json")
    assert Schema.from_json(tmp_path / "s.json").fingerprint == s.fingerprint
    # pinned: changing the canonical form changes every key, so it must be deliberate
    assert len(s.fingerprint) == 32
    assert s.fingerprint == Schema.uk_default().fingerprint


def test_fingerprint_changes_with_any_option() -> None:
    base = Schema.uk_default()
    d = base.to_dict()
    d["fields"][0]["k"] = 21
    assert Schema.from_dict(d).fingerprint != base.fingerprint
    d = base.to_dict()
    d["fields"][0]["hardening"]["views"] = d["fields"][0]["hardening"]["views"][:2]
    assert Schema.from_dict(d).fingerprint != base.fingerprint
    d = base.to_dict()
    d["clk"] = {"length": 1024, "hardening": {"balance": True}}
    d["fields"][2]["clk"] = True
    assert Schema.from_dict(d).fingerprint != base.fingerprint
    d = base.to_dict()
    d["match_keys"] = d["match_keys"][:2]
    assert Schema.from_dict(d).fingerprint != base.fingerprint


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update(colour=1), "schema.colour"),
        (lambda d: d["fields"][1].update(qq=2), "schema.fields[1].qq"),
        (lambda d: d["fields"][2].update(hardening={"blp": 0.1}), "schema.fields[2].hardening.blp"),
        (lambda d: d.update(clk={"length": 64, "size": 3}), "schema.clk.size"),
        (lambda d: d["match_keys"][0].update(parts=[]), "schema.match_keys[0].parts"),
    ],
)
def test_unknown_keys_named_by_path(mutate, path) -> None:  # type: ignore[no-untyped-def]
    d = Schema.uk_default().to_dict()
    mutate(d)
    with pytest.raises(SchemaError) as info:
        Schema.from_dict(d)
    assert path in str(info.value) and "unknown key" in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["fields"][0].update(kind="shoe"), "schema.fields[0].kind"),
        (lambda d: d["fields"][0].update(tokens=["year"]), "schema.fields[0].tokens"),
        (lambda d: d["fields"][0].update(k=0), "schema.fields[0].k"),
        (lambda d: d["fields"][0].update(hardening={"blip": 0.7}), "blip"),
        (lambda d: d["fields"][0].update(hardening={"xor_fold": 10}), "xor_fold"),
        (lambda d: d["fields"][1].update(name="forename"), "duplicate"),
        (lambda d: d["match_keys"][0].update(components=["surname_year"]), "surname_year"),
        (lambda d: d["match_keys"][0].update(components=["shoe"]), "shoe"),
        (lambda d: d["fields"][0].update(missing="ignore"), "missing"),
        (lambda d: d.update(hashing="md5"), "hashing"),
        (lambda d: d.update(scheme="nislink v0"), "scheme"),
        (lambda d: d.update(nislink_schema=99), "format"),
    ],
)
def test_invalid_values_rejected(mutate, needle) -> None:  # type: ignore[no-untyped-def]
    d = Schema.uk_default().to_dict()
    mutate(d)
    with pytest.raises(SchemaError, match=None) as info:
        Schema.from_dict(d)
    assert needle in str(info.value)


def test_not_json() -> None:
    with pytest.raises(SchemaError, match="not valid JSON"):
        Schema.from_json("{nope")


def test_select_keeps_subset_and_possible_keys() -> None:
    s = Schema.uk_default().select(["forename", "surname", "dob"])
    assert [f.name for f in s.fields] == ["forename", "surname", "dob"]
    assert [m.name for m in s.match_keys] == ["mk2"]
    assert not s.slk581  # needs sex
    assert s.fingerprint != Schema.uk_default().fingerprint
    with pytest.raises(SchemaError, match="shoe"):
        Schema.uk_default().select(["shoe"])
    only_ids = Schema.uk_default().select(["nino", "upn"])
    assert only_ids.clk is None and [m.name for m in only_ids.match_keys] == ["mk4", "mk5"]


def test_component_resolution() -> None:
    s = Schema.uk_default()
    assert s.resolve_component("surname_soundex") == ("surname", "soundex")
    assert s.resolve_component("dob_year") == ("dob", "year")
    assert s.resolve_component("postcode") == ("postcode", None)


def test_every_kind_builds_and_round_trips() -> None:
    fields = [FieldSpec(f"f_{k}", k) for k in FIELD_KINDS]
    fields.append(FieldSpec("age", "number", resolution=1.0, window=1))
    fields.append(FieldSpec("nick", "forename", column="forename", tokens=["qgram", "canonical"],
                            positional=True, q=3, bits_per_field=200,
                            hardening=Hardening(salt="f_dob_year", balance=True, permute=True)))
    s = Schema(fields=fields, clk=ClkSpec(512, Hardening(xor_fold=1)),
               match_keys=[MatchKey("k", ["f_surname", "f_dob_year"])], slk581=True)
    t = Schema.from_json(s.to_json())
    assert t == s and t.fingerprint == s.fingerprint


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 40), length=st.sampled_from([64, 100, 256, 1000]),
       q=st.integers(1, 4), positional=st.booleans(), clk=st.booleans(),
       balance=st.booleans(), blip=st.floats(0, 0.4))
def test_round_trip_property(k, length, q, positional, clk, balance, blip) -> None:  # type: ignore[no-untyped-def]
    f = FieldSpec("name", "fullname", k=k, length=length, q=q, positional=positional, clk=clk,
                  hardening=Hardening(balance=balance, blip=blip))
    s = Schema(fields=[f, FieldSpec("dob", "dob", clk=True)], clk=ClkSpec(256))
    assert Schema.from_json(s.to_json()).canonical_json() == s.canonical_json()

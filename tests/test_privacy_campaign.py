"""The re-identification campaign of issue 11 (nislink.privacy.campaign) works: each attack
re-identifies well above a stated share of records on an unhardened schema, so a test cannot
pass by an attack being broken; the campaign is deterministic and survives odd frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nislink.encode.encoder import Encoder
from nislink.encode.frame import EncodedFrame
from nislink.privacy import PublicKnowledge, normalise_values, run_campaign
from nislink.privacy.campaign import ATTACKS, attack_scope, complement_pairs, score_records
from nislink.schema import Hardening, Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

SECRET = Secret.from_bytes(bytes(range(3, 35)))  # test key, synthetic data only
COLS = ["rid", "forename", "surname", "dob", "sex", "postcode", "nino", "upn"]


def _schema(hardening: dict) -> Schema:
    """``Schema.uk_unhardened()`` (512-bit name filters, k = 20, unsalted name tokens, a CLK
    over names, dob and postcode) with ``hardening`` on the name filters."""
    s = Schema.uk_unhardened()
    for f in s.fields:
        if f.kind in ("forename", "surname"):
            f.hardening = Hardening(**hardening)
    s.validate()
    return s


def _frames(schema: Schema, people: int = 9000, files=("la", "dwp")):
    study = generate_study(people, 11)
    enc = Encoder(schema, SECRET, workers=1)
    frames, truth = [], {}
    for name in files:
        raw = study.extracts[name].rename(columns={f"{name}_id": "rid"})
        for c in ("nino", "upn"):
            if c not in raw.columns:
                raw = raw.assign(**{c: None})
        raw = raw[COLS]
        e = enc.encode(raw, id_column="rid", party=name)
        frames.append(e)
        rows = raw.set_index("rid").loc[pd.Series(e.ids)]
        truth[name] = {f: normalise_values(rows[f].to_numpy(object), f)
                       for f in ("forename", "surname")}
    return frames, truth


@pytest.fixture(scope="module")
def public() -> PublicKnowledge:
    return PublicKnowledge.from_synth_tables()


@pytest.fixture(scope="module")
def unhardened():
    return _frames(_schema({}), people=15000, files=("la", "dwp", "moj", "dfe"))


@pytest.fixture(scope="module")
def pooled_result(unhardened, public):
    frames, truth = unhardened
    return run_campaign(frames, public, truth=truth, alone=False, keep_guesses=True)


def _row(res, attack):
    return next(r for r in res.rows if r["attack"] == attack)


#: records re-identified on the unhardened schema, the four files of a 15,000-person study
#: pooled (34,000 records), at least. Measured: forename 18% (attacks 1-3) and 37% (pattern
#: mining); surname 7-8% (attacks 1-3) and 11% (pattern mining). Without a salt there are no
#: birth-year classes, so the cohort profile has nothing to add and pattern mining's seeds
#: are frequency guesses only; on the year-salted old default the same campaign does far
#: better (next test; 93% of full names on the 100,000-person study's DWP file).
BOUNDS = {
    "token alignment": {"forename_records": 0.12, "surname_records": 0.04},
    "salt classes": {"forename_records": 0.12, "surname_records": 0.04},
    "cohort profile": {"forename_records": 0.12, "surname_records": 0.04},
    "pattern mining": {"forename_records": 0.25, "surname_records": 0.07},
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_each_attack_succeeds_on_unhardened_schema(pooled_result, attack):
    row = _row(pooled_result, attack)
    for key, bound in BOUNDS[attack].items():
        assert row[key] > bound, (attack, key, row)


def test_old_default_falls(public):
    """Issue 11's old default (year-of-birth salt, balanced, one permutation, exact name
    tokens): salt classes are recovered, the balancing undone, and most forenames read."""
    frames, truth = _frames(_schema({"salt": "dob_year", "balance": True, "permute": True}),
                            people=20000, files=("dwp",))
    res = run_campaign(frames, public, truth=truth, passes=4)
    notes = " ".join(res.notes[next(iter(res.notes))])
    assert "complement pairing" in notes and "salt dob_year" in notes
    assert _row(res, "cohort profile")["forename_records"] > 0.25
    assert _row(res, "pattern mining")["forename_records"] > 0.60


def test_pattern_mining_beats_its_seeds(pooled_result):
    pm = _row(pooled_result, "pattern mining")
    for a in ATTACKS[:3]:
        r = _row(pooled_result, a)
        assert pm["forename_records"] > r["forename_records"]
        assert pm["fullname_records"] > r["fullname_records"]


def test_campaign_is_deterministic(unhardened, public):
    frames, _ = unhardened
    sub = frames[1].take(np.arange(3000))
    a, _, _ = attack_scope(sub, public, passes=2)
    b, _, _ = attack_scope(sub, public, passes=2)
    for attack in ATTACKS:
        for kind in ("forename", "surname"):
            assert list(a[attack][kind]) == list(b[attack][kind])


def test_campaign_survives_odd_frames(unhardened, public):
    """Extra view filters, no CLK, no tokens: every name filter is attacked, no crash."""
    frames, truth = unhardened
    f = frames[1].take(np.arange(2000))
    odd = EncodedFrame(ids=f.ids, fields={**f.fields, "forename~dob": f.fields["forename"]},
                       clk=None, tokens={}, meta=dict(f.meta))
    res = run_campaign([odd], public, passes=1)
    assert len(res.rows) == 4
    by = {r["attack"]: r for r in res.rows}
    assert by["token alignment"]["forename_guessed"] is None  # no tokens: nothing to align
    assert by["salt classes"]["forename_guessed"] > 0.9
    assert by["pattern mining"]["forename_guessed"] > 0.9
    with pytest.raises(ValueError):
        run_campaign([f.take(np.zeros(0, dtype=np.int64))], public)


def test_complement_pairing_recovers_unbalanced_filter():
    rng = np.random.default_rng(0)
    base = (rng.random((300, 64)) < 0.25).astype(np.uint8)
    perm = rng.permutation(128)
    bal = np.concatenate([base, 1 - base], axis=1)[:, perm]
    keep = complement_pairs(bal)
    assert keep is not None and len(keep) == 64
    assert (bal[:, keep].sum(axis=1) == base.sum(axis=1)).all()


def test_score_records_by_hand():
    truth = {"forename": np.array(["ann", "bob", None, "cy"], dtype=object),
             "surname": np.array(["x", "y", "z", None], dtype=object)}
    guess = {"forename": np.array(["ann", "bo", "ann", "cy"], dtype=object),
             "surname": np.array(["x", "y", "z", "q"], dtype=object)}
    s = score_records(guess, truth)
    assert s["forename_records"] == pytest.approx(2 / 3)
    assert s["surname_records"] == pytest.approx(1.0)
    assert s["fullname_records"] == pytest.approx(1 / 2)  # rows 0 and 1 have both known
    assert s["forename_distinct"] == pytest.approx(2 / 3)


def test_default_holds(public):
    """``Schema.uk_default()``: no attack of the campaign re-identifies more than 1% of
    records' forenames, surnames or full names, on one file alone or on two pooled (the
    same campaign reads most names out of the schemas above; the 100,000-person figures,
    four files pooled, are in docs/privacy.md)."""
    frames, truth = _frames(Schema.uk_default(), people=10000, files=("la", "dwp"))
    res = run_campaign(frames, public, truth=truth, passes=4)
    scopes = {r["scope"] for r in res.rows}
    assert any("pooled" in s for s in scopes) and any("alone" in s for s in scopes)
    for r in res.rows:
        for key in ("forename_records", "surname_records", "fullname_records"):
            assert r[key] <= 0.01, (r["scope"], r["attack"], key, r[key])

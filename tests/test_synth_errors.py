"""Error model: each kind does what it says, and measured rates match the configuration."""

from __future__ import annotations

import dataclasses

import jellyfish
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.synth import ErrorRates, generate_population, generate_study
from nislink.synth.errors import (
    OCR_CONFUSIONS,
    PHONETIC_RULES,
    QWERTY_NEIGHBOURS,
    _nicknames,
    corrupt,
    drop_hyphenated_part,
    id_typo,
    keyboard_typo,
    postcode_typo,
)

ZERO = ErrorRates(**{f.name: 0.0 for f in dataclasses.fields(ErrorRates)})


@pytest.fixture(scope="module")
def rec():
    p = generate_population(25000, seed=5).people
    return p.reset_index(drop=True)


def _run(rec, rates, id_column="nino", id_present=1.0, seed=0):
    ids = np.array([f"R{i}" for i in range(len(rec))], dtype=object)
    obs, log = corrupt(np.random.default_rng(seed), rec, rates, id_column, ids, id_present)
    log = pd.concat(log, ignore_index=True) if log else pd.DataFrame(
        columns=["record_id", "field", "error"])
    return obs, log, ids


def _within(measured_k: int, n: int, rate: float, slack: float = 0.0) -> bool:
    sd = np.sqrt(rate * (1 - rate) / n)
    return abs(measured_k / n - rate) <= 4.5 * sd + slack


def test_no_errors_when_rates_are_zero(rec):
    obs, log, _ = _run(rec, ZERO)
    assert log.empty
    assert (obs["forename"] == rec["forename"].to_numpy()).all()
    assert (obs["dob"] == rec["dob"].to_numpy().astype("datetime64[D]")).all()
    assert (obs["nino"] == rec["nino"].to_numpy()).all()


@pytest.mark.parametrize(
    "rate_name, field, kind, eligible",
    [
        ("forename_typo", "forename", "typo", lambda r: np.ones(len(r), bool)),
        ("surname_typo", "surname", "typo", lambda r: np.ones(len(r), bool)),
        ("nickname", "forename", "nickname",
         lambda r: np.array([bool(_nicknames(v)) for v in r["forename"]])),
        ("phonetic", "forename", "phonetic",
         lambda r: np.array([any(a in v.lower()[1:] for a, _ in PHONETIC_RULES)
                             for v in r["forename"]])),
        ("ocr", "forename", "ocr",
         lambda r: np.array([any(a in v for a, _ in OCR_CONFUSIONS) for v in r["forename"]])),
        ("name_swap", "forename", "swap", lambda r: np.ones(len(r), bool)),
        ("hyphen_drop", "surname", "hyphen_drop", lambda r: r["double_barrelled"].to_numpy()),
        ("maiden_name", "surname", "maiden",
         lambda r: (r["surname"] != r["birth_surname"]).to_numpy()),
        ("dob_day_month_swap", "dob", "day_month_swap",
         lambda r: ((pd.to_datetime(r["dob"]).dt.day <= 12)
                    & (pd.to_datetime(r["dob"]).dt.day != pd.to_datetime(r["dob"]).dt.month)
                    ).to_numpy()),
        ("dob_off_by_one", "dob", "off_by_one", lambda r: np.ones(len(r), bool)),
        ("dob_year_digit", "dob", "year_digit", lambda r: np.ones(len(r), bool)),
        ("dob_first_of_month", "dob", "first_of_month",
         lambda r: (pd.to_datetime(r["dob"]).dt.day != 1).to_numpy()),
        ("dob_missing", "dob", "missing", lambda r: np.ones(len(r), bool)),
        ("old_postcode", "postcode", "old", lambda r: (r["old_postcode"] != "").to_numpy()),
        ("postcode_typo", "postcode", "typo", lambda r: np.ones(len(r), bool)),
        ("postcode_missing", "postcode", "missing", lambda r: np.ones(len(r), bool)),
        ("sex_miscoded", "sex", "miscoded", lambda r: np.ones(len(r), bool)),
        ("id_missing", "nino", "missing", lambda r: (r["nino"] != "").to_numpy()),
        ("id_typo", "nino", "typo", lambda r: (r["nino"] != "").to_numpy()),
    ],
)
def test_measured_rate_matches_config(rec, rate_name, field, kind, eligible):
    rate = 0.1 if rate_name not in ("hyphen_drop", "maiden_name") else 0.3
    _, log, ids = _run(rec, ZERO.replace(**{rate_name: rate}))
    hit = log[(log["field"] == field) & (log["error"] == kind)]
    assert set(log["error"]) <= {kind}
    el = eligible(rec)
    n = int(el.sum())
    assert n > 100, rate_name
    # logged only on eligible records
    assert set(hit["record_id"]) <= set(ids[el])
    assert _within(len(hit), n, rate, slack=0.003), (rate_name, len(hit) / n)


def test_error_kinds_change_values_as_described(rec):
    rates = ZERO.replace(forename_typo=0.2, dob_day_month_swap=0.3, dob_off_by_one=0.1,
                         dob_year_digit=0.1, dob_first_of_month=0.1, nickname=0.3,
                         sex_miscoded=0.1)
    obs, log, ids = _run(rec, rates, seed=3)
    pos = {r: i for i, r in enumerate(ids)}
    true_dob = rec["dob"].to_numpy().astype("datetime64[D]")
    for kind, check in (
        ("day_month_swap", lambda t, o: (t.month, t.day) == (o.day, o.month)
         and t.year == o.year),
        ("off_by_one", lambda t, o: abs((o - t).days) == 1),
        ("year_digit", lambda t, o: (t.month, t.day) == (o.month, o.day) and t.year != o.year
         and sum(a != b for a, b in zip(str(t.year), str(o.year))) == 1),
        ("first_of_month", lambda t, o: o.day == 1 and (t.year, t.month) == (o.year, o.month)),
    ):
        rows = [pos[r] for r in log.loc[log["error"] == kind, "record_id"]]
        assert rows, kind
        t = pd.to_datetime(true_dob[rows])
        o = pd.to_datetime(obs["dob"][rows])
        assert all(check(a, b) for a, b in zip(t, o)), kind
    # dob errors are exclusive per record
    d = log[log["field"] == "dob"]
    assert d["record_id"].is_unique
    # forename typos are one Damerau edit (a nickname may have come first)
    rows = [pos[r] for r in log.loc[log["error"] == "typo", "record_id"]]
    nick = set(log.loc[log["error"] == "nickname", "record_id"])
    plain = [i for i in rows if ids[i] not in nick]
    assert all(jellyfish.damerau_levenshtein_distance(rec["forename"][i], obs["forename"][i])
               == 1 for i in plain)
    rows = [pos[r] for r in log.loc[log["error"] == "nickname", "record_id"]]
    assert all(any(jellyfish.damerau_levenshtein_distance(obs["forename"][i], n) <= 1
                   for n in _nicknames(rec["forename"][i])) for i in rows)
    rows = [pos[r] for r in log.loc[log["error"] == "miscoded", "record_id"]]
    assert all(obs["sex"][i] != rec["sex"][i] for i in rows)


def test_study_rates_match_configuration():
    """End to end: the rates measured in a generated study match its configuration."""
    s = generate_study(12000, seed=2)
    errs = s.truth["truth_errors"]
    people = s.truth["truth_people"].set_index("person_id")
    for name in ("la", "dwp", "moj", "dfe"):
        cfg = getattr(s.config, name).errors
        t = s.truth[f"truth_{name}"]
        n = len(t)
        e = errs[errs["source"] == name]
        for field, kind, rate in (("sex", "miscoded", cfg.sex_miscoded),
                                  ("postcode", "missing", cfg.postcode_missing),
                                  ("dob", "missing", cfg.dob_missing),
                                  ("forename", "typo", cfg.forename_typo)):
            k = int(((e["field"] == field) & (e["error"] == kind)).sum())
            assert _within(k, n, rate, slack=0.002), (name, field, kind, k / n, rate)
        # duplicates: extra records of a person already in the extract
        k = int(t["is_duplicate"].sum())
        n0 = int(((t["is_duplicate"] == 0) & (t["is_alias"] == 0)).sum())
        assert _within(k, n0, cfg.duplicate, slack=0.002), (name, k / n0)
        # maiden names: among records of married women (surname differs from birth surname)
        p = people.loc[t["person_id"]]
        married = (p["surname"] != p["birth_surname"]).to_numpy() & (t["is_alias"] == 0)
        if married.sum() > 200:
            k = int(((e["error"] == "maiden")
                     & e["record_id"].isin(t.loc[married, f"{name}_id"])).sum())
            assert _within(k, int(married.sum()), cfg.maiden_name, slack=0.01), name
    # MoJ aliases
    tm = s.truth["truth_moj"]
    base = int(((tm["is_duplicate"] == 0) & (tm["is_alias"] == 0)).sum())
    assert _within(int(tm["is_alias"].sum()), base, s.config.moj_alias, slack=0.005)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3,
               max_size=15), st.integers(0, 2**32 - 1))
def test_keyboard_typo_is_one_edit(s, seed):
    out = keyboard_typo(np.random.default_rng(seed), s)
    assert jellyfish.damerau_levenshtein_distance(s, out) == 1


def test_qwerty_neighbours_are_adjacent():
    assert {"f", "h", "t", "y", "v", "b"} <= set(QWERTY_NEIGHBOURS["g"])
    assert "p" not in QWERTY_NEIGHBOURS["a"]
    assert all(c not in QWERTY_NEIGHBOURS[c] for c in QWERTY_NEIGHBOURS)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_small_errors(seed):
    rng = np.random.default_rng(seed)
    assert drop_hyphenated_part(rng, "Smith-Jones") in ("Smith", "Jones")
    pc = postcode_typo(rng, "LS28 5AB")
    assert pc != "LS28 5AB" and len(pc) == len("LS28 5AB")
    ni = id_typo(rng, "AB123456C")
    assert ni != "AB123456C" and ni[:2] == "AB" and ni[-1] == "C"


def test_logged_kinds_are_declared():
    from nislink.synth.errors import ERROR_KINDS

    s = generate_study(2000, seed=6)
    e = s.truth["truth_errors"]
    for (field, kind), _ in e.groupby(["field", "error"]):
        assert kind in ERROR_KINDS[field], (field, kind)


def test_year_digit_keeps_29_february_valid(rec):
    """A year typo on 29 February gives another leap year, not a clipped 28 February."""
    r = rec.iloc[:2000].copy()
    r["dob"] = np.where(np.arange(len(r)) % 2 == 0, np.datetime64("2008-02-29"),
                        np.datetime64("1996-02-29"))
    obs, log, _ = _run(r, ZERO.replace(dob_year_digit=1.0), seed=4)
    o, t = pd.DatetimeIndex(obs["dob"]), pd.DatetimeIndex(r["dob"])
    assert ((o.month == 2) & (o.day == 29)).all()
    assert all(sum(a != b for a, b in zip(str(x), str(y))) == 1 for x, y in zip(t.year, o.year))
    assert len(log) == len(r)

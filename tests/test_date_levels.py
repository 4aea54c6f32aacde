"""Dates of birth compared by near-miss level on keyed tokens; m estimates against the
synthetic truth; monotone weights; the de-duplication prior's fallback; the plausible date
range and its warning."""

from __future__ import annotations

import datetime as _dt
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nislink import dedupe, link
from nislink.clean.dates import check_dob
from nislink.encode import Encoder
from nislink.encode.columns import DataQualityWarning
from nislink.encode.tokens import date_level_value, date_level_values
from nislink.model import FellegiSunter, comparisons_for, monotone_m
from nislink.schema import DATE_LEVELS, LEVEL_SEP, FieldSpec, Schema, SchemaError
from nislink.secrets import Secret
from nislink.synth import generate_study

KEY = Secret.from_bytes(bytes(range(7, 39)))

BASE = {"id": "a0", "forename": "Olivia", "surname": "Hartley", "dob": "03/11/1989",
        "sex": "F", "postcode": "LS6 2AB"}

# (id, date of birth of the B record, expected level label) against A's 03/11/1989
CASES = [
    ("exact", "03/11/1989", "exact"),
    ("swap", "11/03/1989", "day and month transposed"),
    ("digit_day", "08/11/1989", "one digit different"),
    ("digit_year", "03/11/1959", "one digit different"),
    ("first_of_month", "01/11/1989", "one digit different"),
    ("day_far", "27/11/1989", "same year and month"),
    ("year_back", "03/11/1988", "one digit different"),  # 1989 -> 1988: one digit
    ("year_up", "03/11/1990", "year off by one, same day and month"),  # two digits
    ("year_far", "03/11/1991", "else"),
    ("same_year", "25/06/1989", "same year"),
    ("else", "17/02/1960", "else"),
]


@pytest.fixture(scope="module")
def case_frames():  # type: ignore[no-untyped-def]
    a = pd.DataFrame([BASE])
    b = pd.DataFrame([{**BASE, "id": rid, "dob": dob} for rid, dob, _ in CASES]
                     + [{**BASE, "id": "missing", "dob": ""}])
    enc = Encoder(Schema.uk_default(), KEY)
    return enc.encode(a, id_column="id"), enc.encode(b, id_column="id")


def test_each_date_level_on_encodings(case_frames) -> None:  # type: ignore[no-untyped-def]
    ea, eb = case_frames
    dob = {c.name: c for c in comparisons_for(ea, eb)}["dob"]
    assert dob.field is None and dob.token == "dob"
    assert dob.labels == ["else", *[lb for lb, _ in reversed(DATE_LEVELS)], "exact"]
    lev = dob.levels(ea, eb, np.zeros(len(eb), dtype=np.int64), np.arange(len(eb)))
    got = {rid: (dob.labels[v] if v >= 0 else "missing") for rid, v in zip(eb.ids, lev)}
    want = {rid: label for rid, _, label in CASES} | {"missing": "missing"}
    assert got == want
    # 1985 -> 1986 differs in one digit; 1989 -> 1990 does not, but is a year off by one
    assert date_level_value("1989-11-03", "dm1") == date_level_value("1990-11-03", "dm1")


def test_level_tokens_are_keyed_and_never_compared_alone(case_frames) -> None:  # type: ignore[no-untyped-def]
    ea, eb = case_frames
    names = [t for _, toks in Schema.uk_default().field("dob").level_tokens for t in toks]
    assert len(names) == 13 and all(t.startswith("dob" + LEVEL_SEP) for t in names)
    assert set(names) <= set(ea.tokens)
    comps = [c.name for c in comparisons_for(ea, eb)]
    assert not any(LEVEL_SEP in c for c in comps)
    # another key gives other tokens for the same date
    other = Encoder(Schema.uk_default(), Secret.from_bytes(bytes(range(40, 72))))
    e2 = other.encode(pd.DataFrame([BASE]), id_column="id")
    assert all(e2.tokens[t][0] != ea.tokens[t][0] for t in names)


def test_a_model_with_near_miss_levels_round_trips_through_json(case_frames) -> None:  # type: ignore[no-untyped-def]
    ea, eb = case_frames
    comps = comparisons_for(ea, eb)
    m = FellegiSunter(comparisons=comps)
    back = FellegiSunter.from_json(m.to_json())
    assert back.comparisons == comps


_DATES = st.dates(min_value=_dt.date(1000, 1, 1), max_value=_dt.date(2999, 12, 31))


@settings(max_examples=200, deadline=None)
@given(st.lists(_DATES, min_size=1, max_size=20))
def test_vectorised_level_values_equal_the_reference(dates: list[_dt.date]) -> None:
    vals = np.array(sorted({d.isoformat() for d in dates}), dtype=object)
    for _, toks in DATE_LEVELS:
        for t in toks:
            assert date_level_values(vals, t).tolist() == [date_level_value(v, t) for v in vals]


@settings(max_examples=200, deadline=None)
@given(_DATES, _DATES)
def test_level_definitions_hold_for_any_two_dates(x: _dt.date, y: _dt.date) -> None:
    a, b = x.isoformat(), y.isoformat()

    def share(toks: tuple[str, ...]) -> bool:
        return any(date_level_value(a, t) == date_level_value(b, t) for t in toks)

    lv = dict(DATE_LEVELS)
    da, db = x.strftime("%d%m") + a[:4], y.strftime("%d%m") + b[:4]
    assert share(lv["one digit different"]) == (sum(p != q for p, q in zip(da, db)) <= 1)
    assert share(lv["same year"]) == (x.year == y.year)
    assert share(lv["same year and month"]) == ((x.year, x.month) == (y.year, y.month))
    assert share(lv["year off by one, same day and month"]) == (
        (x.day, x.month) == (y.day, y.month) and abs(x.year - y.year) <= 1)
    assert share(lv["day and month transposed"]) == (
        x.year == y.year and sorted((x.day, x.month)) == sorted((y.day, y.month)))


# ------------------------------------------------------------------ m against the truth
@pytest.fixture(scope="module")
def synth_link():  # type: ignore[no-untyped-def]
    study = generate_study(8000, 11)
    enc = Encoder(Schema.uk_default(), KEY)

    def prep(src: str) -> pd.DataFrame:
        df = study.extracts[src].copy()
        return df.rename(columns={f"{src}_id": "rid"})

    frames = {}
    for src in ("la", "dwp"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            frames[src] = enc.encode(prep(src), id_column="rid", allow_absent=True)
    ta = study.truth["truth_la"][["la_id", "person_id"]]
    tb = study.truth["truth_dwp"][["dwp_id", "person_id"]]
    tp = ta.merge(tb, on="person_id")
    truth = set(zip(tp["la_id"].astype(str), tp["dwp_id"].astype(str)))
    res = link(frames["la"], frames["dwp"], keep_scores=True)
    return frames, truth, res


def test_em_recovers_the_true_m_of_every_level(synth_link) -> None:  # type: ignore[no-untyped-def]
    frames, truth, res = synth_link
    sc = res.scores
    ia, ib = sc["ia"].to_numpy(), sc["ib"].to_numpy()
    ida, idb = np.asarray(frames["la"].ids)[ia], np.asarray(frames["dwp"].ids)[ib]
    is_true = np.array([(x, y) in truth for x, y in zip(ida, idb)])
    assert is_true.sum() > 2000
    lev = res.model.levels(frames["la"], frames["dwp"], ia[is_true], ib[is_true])
    checked = 0
    for j, c in enumerate(res.model.comparisons):
        col = lev[:, j]
        col = col[col >= 0]
        if len(col) < 500:  # no truth to check against (UPN is not in the DWP file)
            continue
        true_m = np.bincount(col, minlength=c.n_levels) / len(col)
        m = np.asarray(res.model.m[c.name])
        assert np.abs(m - true_m).max() <= 0.03, (c.name, m.round(3), true_m.round(3))
        checked += 1
    assert checked >= 5


def test_weights_never_fall_as_agreement_rises(synth_link) -> None:  # type: ignore[no-untyped-def]
    _, _, res = synth_link
    for c in res.model.comparisons:
        w = np.log2(np.asarray(res.model.m[c.name]) / np.asarray(res.model.u[c.name]))
        if c.rungs:  # partial order: else lowest, exact highest
            assert (w[1:-1] <= w[-1] + 1e-9).all() and (w[1:-1] >= w[0] - 1e-9).all()
        else:
            assert (np.diff(w) >= -1e-9).all(), (c.name, w.round(2))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(1e-6, 1.0), st.floats(1e-6, 1.0)), min_size=2,
                max_size=8))
# a level with a tiny u pooled down to an m under the floor: the floor must not undo the order
@example([(1e-05, 1e-06), (1e-05, 1.0), (1.0, 1.0)])
@example([(1e-05, 1e-06), (1e-05, 1.0), (1.0, 1e-06)])
def test_monotone_m_pools_violators(mu: list[tuple[float, float]]) -> None:
    m = np.array([x for x, _ in mu])
    u = np.array([y for _, y in mu])
    m, u = m / m.sum(), u / u.sum()
    out, changed = monotone_m(m, u)
    assert out.sum() == pytest.approx(1.0)
    r = out / u
    assert (np.diff(r) >= -1e-9 * r.max()).all()
    if (np.diff(m / u) >= 0).all():
        assert changed == [] and np.allclose(out, m)
    part, _ = monotone_m(m, u, partial=True)
    rp = part / u
    assert (rp[1:-1] <= rp[-1] * (1 + 1e-9)).all() and (rp[1:-1] >= rp[0] * (1 - 1e-9)).all()


def test_monotone_m_example() -> None:
    # a forename at Dice >= 0.85 worth more than an exact match: the two are pooled
    m = np.array([0.05, 0.05, 0.10, 0.80])
    u = np.array([0.95, 0.04, 0.0005, 0.0095])
    out, changed = monotone_m(m, u)
    assert changed == [2, 3]
    w = np.log2(out / u)
    assert w[2] == pytest.approx(w[3]) and w[1] < w[2]
    assert out[:2].tolist() == m[:2].tolist()


# ------------------------------------------------------------------ the dedupe prior
def test_dedupe_prior_falls_back_when_match_keys_are_missing() -> None:
    rng = np.random.default_rng(3)
    forenames = ["Amelia", "Jack", "Maya", "Leo", "Olivia", "Noah", "Isla", "Oscar", "Freya",
                 "Arthur", "Ava", "Henry", "Ivy", "Theo", "Rosie", "Finley", "Zara", "Hugo",
                 "Esme", "Rory", "Nia", "Kai", "Lola"]
    surnames = ["Stone", "Pryce", "Okafor", "Grant", "Hartley", "Nowak", "Begum", "Walsh",
                "Ahmed", "Brown"]
    rows = []
    for i in range(400):  # 50 households of 4 people, each person recorded twice
        h = i // 8
        rows.append({"id": f"r{i}", "forename": forenames[(h * 4 + i % 4) % len(forenames)],
                     "surname": surnames[h % 10] + ("" if h < 10 else
                                                    " " + surnames[(h // 10 + h) % 10]),
                     "dob": "" if rng.random() < 0.98 else f"{1 + i % 28:02d}/03/1970",
                     "sex": "F" if i % 2 else "M",
                     "postcode": f"LS{h % 9 + 1} {h % 7 + 1}{'ABDEFGH'[h % 7]}{'JLNPQRSTW'[h // 7]}"})
    df = pd.DataFrame(rows)
    schema = Schema.uk_default()
    for f in schema.fields:  # names unsalted here: this file has almost no dates of birth
        if f.kind in ("forename", "surname"):
            f.hardening, f.swap_with = type(f.hardening)(), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        enc = Encoder(schema, KEY).encode(df, id_column="id")
    res = dedupe(enc)
    why = res.model.info["prior_choice"]
    assert why.startswith("EM prior") and "mk1" in why and "of records" in why
    assert res.model.info["prior_source"] == "em"
    assert 1e-4 < res.model.prior < 0.5  # the match-key prior would have been about 1e-6


def test_prior_rule_with_no_agreeing_pair_falls_back() -> None:
    df = pd.DataFrame([{**BASE, "id": f"x{i}", "dob": f"{i + 1:02d}/01/1990",
                        "forename": f"Ann{chr(97 + i)}"} for i in range(20)])
    enc = Encoder(Schema.uk_default(), KEY).encode(df, id_column="id")
    res = dedupe(enc, prior_rule="mk1")
    assert "prior_fallback" in res.model.info and res.model.info["prior_source"] == "em"


# ------------------------------------------------------------------ plausible date range
def test_earliest_date_option() -> None:
    assert check_dob("1850-06-01").status.value == "out_of_range"
    r = check_dob("1850-06-01", earliest="1800-01-01")
    assert r.ok and r.value == _dt.date(1850, 6, 1)
    assert "before 1800-01-01" in (check_dob("1750-01-01", earliest="1800-01-01").reason or "")
    with pytest.raises(ValueError, match="ISO date"):
        check_dob("1850-06-01", earliest="01/01/1800")
    spec = FieldSpec("dob", "dob", earliest="1700-01-01")
    assert spec.to_dict()["earliest"] == "1700-01-01"
    assert "earliest" not in FieldSpec("dob", "dob").to_dict()  # fingerprints unchanged
    with pytest.raises(SchemaError, match="earliest"):
        FieldSpec.from_dict({"name": "dob", "kind": "dob", "earliest": "1700"})
    with pytest.raises(SchemaError, match="only for kind 'dob'"):
        FieldSpec.from_dict({"name": "x", "kind": "postcode", "earliest": "1700-01-01"})
    s = Schema.uk_default()
    s.field("dob").earliest = "1600-01-01"
    back = Schema.from_json(s.to_json())
    assert back.field("dob").earliest == "1600-01-01"
    assert back.fingerprint == s.fingerprint != Schema.uk_default().fingerprint
    assert json.loads(Schema.uk_default().to_json())["fields"][2].get("earliest") is None


def test_historical_dates_warn_then_encode_with_earliest() -> None:
    df = pd.DataFrame([{**BASE, "id": f"h{i}", "dob": f"{i + 1:02d}/05/17{i + 10}"}
                       for i in range(20)])
    with pytest.warns(DataQualityWarning, match="'dob'.*plausible range.*earliest"):
        enc = Encoder(Schema.uk_default(), KEY).encode(df, id_column="id")
    assert (enc.tokens["dob"] == 0).all()
    s = Schema.uk_default()
    s.field("dob").earliest = "1700-01-01"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        enc = Encoder(s, KEY).encode(df, id_column="id")
    assert (enc.tokens["dob"] != 0).all() and (enc.tokens["dob:swap"] != 0).all()


def test_cli_earliest_dob(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    df = pd.DataFrame([{**BASE, "id": f"h{i}", "dob": f"{i + 1:02d}/05/18{i + 10}"}
                       for i in range(30)])
    src = tmp_path / "hist.csv"
    df.to_csv(src, index=False)
    key = tmp_path / "k.hex"
    key.write_text(bytes(range(7, 39)).hex())

    def run(*extra: str):  # type: ignore[no-untyped-def]
        return subprocess.run([sys.executable, "-m", "nislink.cli", "encode", str(src), "-o",
                               str(tmp_path / "out.parquet"), "--secret-file", str(key),
                               "--id-column", "id", "-q", "--workers", "1", *extra],
                              capture_output=True, text=True, timeout=300)

    p = run()
    assert p.returncode == 0, p.stderr
    assert "'dob'" in p.stderr and "plausible range" in p.stderr and "earliest" in p.stderr
    p = run("--earliest-dob", "1800-01-01")
    assert p.returncode == 0, p.stderr
    assert "'dob'" not in p.stderr
    from nislink.io import load

    enc = load(tmp_path / "out.parquet")
    assert (enc.tokens["dob"] != 0).all()
    assert json.loads(enc.meta["schema"] if isinstance(enc.meta["schema"], str)
                      else json.dumps(enc.meta["schema"]))["fields"][2]["earliest"] == "1800-01-01"
    p = run("--earliest-dob", "1800")
    assert p.returncode == 2 and "--earliest-dob" in p.stderr and "Traceback" not in p.stderr


def test_postcode_levels_on_encodings() -> None:
    enc = Encoder(Schema.uk_default(), KEY)
    a = enc.encode(pd.DataFrame([{**BASE, "postcode": "LS6 2AB"}]), id_column="id")
    cases = {"exact": "ls62ab", "sector": "LS6 2BA", "district": "LS6 3XY", "area": "LS7 1AA",
             "else": "M1 1AA", "missing": ""}
    b = enc.encode(pd.DataFrame([{**BASE, "id": k, "postcode": v} for k, v in cases.items()]),
                   id_column="id")
    pc = {c.name: c for c in comparisons_for(a, b)}["postcode"]
    assert pc.labels == ["else", "same area", "same district", "same sector", "exact"]
    lev = pc.levels(a, b, np.zeros(len(b), dtype=np.int64), np.arange(len(b)))
    got = dict(zip(b.ids, lev.tolist()))
    assert got == {"exact": 4, "sector": 3, "district": 2, "area": 1, "else": 0, "missing": -1}
    assert "postcode:sector" in a.tokens and "postcode" + ":sector" not in [
        c.name for c in comparisons_for(a, b)]
    with pytest.raises(SchemaError, match="postcode_levels"):
        FieldSpec.from_dict({"name": "dob", "kind": "dob", "postcode_levels": True})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dates(), min_size=1, max_size=10))
def test_halved_year_levels_equal_the_reference_for_any_year(dates: list[_dt.date]) -> None:
    """dm0 / dm1 (the halved year) on code points, for years 1 to 9999, and value by value
    for text that is not of the form NNNN-NN-NN in ASCII digits."""
    vals = np.array(sorted({d.isoformat() for d in dates}), dtype=object)
    odd = np.append(vals, "\uff11\uff19\uff18\uff10-01-02")  # full-width digits: int() reads them
    for t in ("dm0", "dm1"):
        for v in (vals, odd):
            assert date_level_values(v, t).tolist() == [date_level_value(x, t) for x in v]

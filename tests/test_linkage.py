"""High-level link / dedupe / link_many on small synthetic encoded data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nislink.encode.encoder import Encoder
from nislink.encode.frame import BitMatrix, EncodedFrame
from nislink.evaluate import evaluate_clusters, evaluate_pairs
from nislink.linkage import IncompatibleEncodings, check_compatible, dedupe, link, link_many
from nislink.model import FellegiSunter
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

SECRET = Secret.from_bytes(bytes(range(32)))
FAST = dict(u_pairs=100_000)


def _prep(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in ("nino", "upn"):
        if col not in df.columns:
            df[col] = None
    return df


@pytest.fixture(scope="module")
def study():  # type: ignore[no-untyped-def]
    return generate_study(800, 3)


@pytest.fixture(scope="module")
def encoded(study):  # type: ignore[no-untyped-def]
    enc = Encoder(Schema.uk_default(), SECRET)
    out = {}
    for src in ("la", "dwp", "dfe"):
        out[src] = enc.encode(_prep(study.extracts[src]), id_column=f"{src}_id", party=src)
    return out


def _truth(study, x: str, y: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    ta = study.truth[f"truth_{x}"][[f"{x}_id", "person_id"]]
    tb = study.truth[f"truth_{y}"][[f"{y}_id", "person_id"]]
    t = ta.merge(tb, on="person_id")
    return pd.DataFrame({"id_a": t[f"{x}_id"], "id_b": t[f"{y}_id"]})


def test_link_end_to_end(study, encoded) -> None:  # type: ignore[no-untyped-def]
    res = link(encoded["la"], encoded["dwp"], tf_adjust=True, **FAST)
    p = res.pairs
    assert list(p.columns[:4]) == ["id_a", "id_b", "match_weight", "match_probability"]
    assert p["id_a"].is_unique and p["id_b"].is_unique  # one-to-one
    assert (p["match_weight"] >= 0).all()
    assert np.allclose(p["match_probability"], 1 / (1 + 2.0 ** -p["match_weight"]))
    assert res.candidates > len(p)
    m = evaluate_pairs(p, _truth(study, "la", "dwp"))
    assert m["precision"] >= 0.97 and m["recall"] >= 0.95, m
    # every explanation adds up to the pair's weight
    row = p.iloc[-1]
    ex = res.model.explain(encoded["la"], encoded["dwp"], int(row["ia"]), int(row["ib"]))
    assert ex["cumulative"].iloc[-1] == pytest.approx(row["match_weight"])


def test_link_is_deterministic_and_model_reusable(encoded) -> None:  # type: ignore[no-untyped-def]
    a, b = encoded["la"], encoded["dwp"]
    r1 = link(a, b, **FAST)
    r2 = link(a, b, **FAST)
    pd.testing.assert_frame_equal(r1.pairs, r2.pairs)
    assert r1.model.to_json() == r2.model.to_json()
    loaded = FellegiSunter.from_json(r1.model.to_json())
    r3 = link(a, b, model=loaded)
    pd.testing.assert_frame_equal(r1.pairs, r3.pairs)
    # a higher threshold keeps a subset; optimal assignment is also one-to-one
    r4 = link(a, b, model=loaded, min_weight=10.0)
    assert set(r4.pairs["id_a"]) <= set(r1.pairs["id_a"])
    r5 = link(a, b, model=loaded, one_to_one="optimal")
    assert r5.pairs["id_a"].is_unique and r5.pairs["id_b"].is_unique
    r6 = link(a, b, model=loaded, one_to_one=None)
    assert len(r6.pairs) >= len(r1.pairs)
    # the first release's names still work, with a DeprecationWarning, and mean the same
    for old, new in (({"threshold": 10.0}, r4), ({"one_to_one_method": "optimal"}, r5),
                     ({"one_to_one": False}, r6),
                     ({"one_to_one": False, "one_to_one_method": "greedy"}, r6)):
        with pytest.warns(DeprecationWarning, match="deprecated: use"):
            got = link(a, b, model=loaded, **old)
        pd.testing.assert_frame_equal(got.pairs, new.pairs)
    with pytest.warns(DeprecationWarning, match="min_weight"):
        d_old = dedupe(a, model=loaded, threshold=3.0)
    pd.testing.assert_frame_equal(d_old.pairs, dedupe(a, model=loaded, min_weight=3.0).pairs)
    with pytest.raises(TypeError, match="unexpected keyword argument 'treshold'"):
        link(a, b, model=loaded, treshold=1.0)
    with pytest.raises(ValueError, match="one_to_one must be"):
        link(a, b, model=loaded, one_to_one="best")


def test_wrong_key_or_schema_is_named(study, encoded) -> None:  # type: ignore[no-untyped-def]
    other = Encoder(Schema.uk_default(), Secret.from_bytes(bytes(32)))
    b = other.encode(_prep(study.dwp), id_column="dwp_id")
    with pytest.raises(IncompatibleEncodings, match="key fingerprint differs"):
        link(encoded["la"], b)
    schema2 = Schema.uk_default().select(["forename", "surname", "dob", "sex", "postcode"])
    c = Encoder(schema2, SECRET).encode(_prep(study.dwp), id_column="dwp_id")
    with pytest.raises(IncompatibleEncodings, match="schema fingerprint differs"):
        check_compatible(encoded["la"], c)


def test_precomputed_candidates_checked(encoded) -> None:  # type: ignore[no-untyped-def]
    a, b = encoded["la"], encoded["dwp"]
    with pytest.raises(IndexError, match="out of range"):
        link(a, b, blocking=(np.array([0, len(a)]), np.array([0, 1])))


@pytest.fixture(scope="module")
def combined(study):  # type: ignore[no-untyped-def]
    """LA and DWP records in one file: people in both are duplicates."""
    cols = ["rid", "forename", "surname", "dob", "sex", "postcode", "nino", "upn"]
    la = _prep(study.la).rename(columns={"la_id": "rid"})[cols]
    dwp = _prep(study.dwp).rename(columns={"dwp_id": "rid"})[cols]
    df = pd.concat([la, dwp], ignore_index=True)
    enc = Encoder(Schema.uk_default(), SECRET).encode(df, id_column="rid", party="both")
    truth = pd.concat([
        study.truth["truth_la"].rename(columns={"la_id": "rid"})[["rid", "person_id"]],
        study.truth["truth_dwp"].rename(columns={"dwp_id": "rid"})[["rid", "person_id"]],
    ]).set_index("rid")["person_id"]
    return enc, truth


def test_dedupe_clusters(combined) -> None:  # type: ignore[no-untyped-def]
    enc, truth = combined
    res = dedupe(enc, tf_adjust=True, **FAST)
    cl = res.clusters
    assert list(cl.columns) == ["id", "cluster_id"] and len(cl) == len(enc)
    assert cl["id"].tolist() == enc.ids.tolist()
    assert list(res.pairs.columns[:4]) == ["id_a", "id_b", "match_weight", "match_probability"]
    # ids numbered by first member
    first = cl.drop_duplicates("cluster_id")["cluster_id"].tolist()
    assert first == list(range(len(first)))
    m = evaluate_clusters(cl["id"], cl["cluster_id"], truth[cl["id"]].tolist())
    assert m["tp"] > 250 and m["precision"] >= 0.95 and m["recall"] >= 0.95, m
    again = dedupe(enc, tf_adjust=True, **FAST)
    pd.testing.assert_frame_equal(cl, again.clusters)
    centre = dedupe(enc, model=res.model, method="centre")
    assert centre.clusters["cluster_id"].nunique() >= cl["cluster_id"].nunique()


def test_link_many_one_per_source(study, encoded) -> None:  # type: ignore[no-untyped-def]
    out = link_many({k: encoded[k] for k in ("la", "dwp", "dfe")}, **FAST)
    assert len(out) == sum(len(encoded[k]) for k in ("la", "dwp", "dfe"))
    assert out.groupby("cluster_id")["source"].apply(lambda s: s.is_unique).all()
    truth = pd.concat([
        study.truth[f"truth_{k}"].rename(columns={f"{k}_id": "id"})[["id", "person_id"]]
        for k in ("la", "dwp", "dfe")
    ])
    t = truth.set_index("id")["person_id"]
    m = evaluate_clusters(out["id"], out["cluster_id"], t[out["id"]].tolist())
    assert m["precision"] >= 0.9 and m["recall"] >= 0.85, m


def test_link_on_handmade_frames_all_pairs() -> None:
    # three independent filter fields, no tokens, no CLK: every pair is compared
    rng = np.random.default_rng(0)
    fa, fb = {}, {}
    for name in ("f1", "f2", "f3"):
        bits = rng.random((40, 128)) < 0.2
        noisy = bits ^ (rng.random((40, 128)) < 0.015)
        fa[name] = BitMatrix.from_bool(bits)
        fb[name] = BitMatrix.from_bool(noisy[::-1])
    a = EncodedFrame(np.array([f"a{i}" for i in range(40)], dtype=object), fa, None, {}, {})
    b = EncodedFrame(np.array([f"b{i}" for i in range(40)], dtype=object), fb, None, {}, {})
    res = link(a, b, u_pairs=1600)
    assert res.candidates == 1600
    got = dict(zip(res.pairs["id_a"], res.pairs["id_b"]))
    assert got == {f"a{i}": f"b{39 - i}" for i in range(40)}


def test_combined_tokens_and_default_blocking(encoded) -> None:  # type: ignore[no-untyped-def]
    from nislink.linkage import candidates, combine_tokens, default_blocking

    a = encoded["la"]
    c = combine_tokens(a, ["surname", "dob"])
    s, d = a.tokens["surname"], a.tokens["dob"]
    ok = (s != 0) & (d != 0)
    assert ((c == 0) == ~ok).all()
    # equal combined token exactly when both parts are equal (on this data)
    i, j = np.triu_indices(200, k=1)
    both = ok[i] & ok[j]
    same = (s[i] == s[j]) & (d[i] == d[j])
    assert ((c[i] == c[j]) & both).tolist() == (same & both).tolist()
    rules = default_blocking(a, encoded["dwp"])
    names = rules[0].tokens
    assert "mk1" in names and "nino" in names and "surname+dob" in names and "sex" not in names
    ia, ib = candidates(a, encoded["dwp"])
    assert len(ia) and (np.diff(ia) >= 0).all()
    with pytest.raises(KeyError, match="nope"):
        from nislink.block import TokenBlocking
        candidates(a, encoded["dwp"], [TokenBlocking(["surname+nope"])])


def test_progress_bar_covers_every_stage(encoded, capsys) -> None:  # type: ignore[no-untyped-def]
    """link(progress=True) reports each stage and gives the same result as without."""
    a, b = encoded["la"], encoded["dwp"]
    quiet = link(a, b, **FAST)
    loud = link(a, b, progress=True, **FAST)
    err = capsys.readouterr().err
    assert "linking" in err
    assert list(loud.timings) == ["block", "compare", "fit", "score", "resolve"]
    pd.testing.assert_frame_equal(quiet.pairs, loud.pairs)

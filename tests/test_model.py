"""Fellegi-Sunter model on encodings: levels, EM recovery, u sampling, TF, explain, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.encode.frame import BitMatrix, EncodedFrame
from nislink.model import (
    MISSING,
    FellegiSunter,
    FieldComparison,
    comparisons_for,
    compress_patterns,
    em_fit,
    random_pairs,
    weight_to_probability,
)

NBITS = 64


def _row(bits: list[int]) -> np.ndarray:
    r = np.zeros(NBITS, dtype=bool)
    r[bits] = True
    return r


def _frame(rows: list[list[int]], tokens: dict[str, list[int]], ids: list[str]) -> EncodedFrame:
    bm = BitMatrix.from_bool(np.array([_row(r) for r in rows]))
    return EncodedFrame(
        ids=np.array(ids, dtype=object),
        fields={"name": bm},
        clk=None,
        tokens={k: np.array(v, dtype=np.uint64) for k, v in tokens.items()},
        meta={"match_keys": ["mk1"]},
    )


BASE = list(range(20))


@pytest.fixture()
def small() -> tuple[EncodedFrame, EncodedFrame]:
    a = _frame([BASE] * 5, {"name": [7, 0, 0, 0, 0], "nino": [1, 2, 3, 0, 5],
                            "mk1": [9, 9, 9, 9, 9]}, [f"a{i}" for i in range(5)])
    b = _frame(
        [
            BASE,  # dice 1.0 (and token 7 equal -> top)
            BASE[:18] + [40, 41],  # 2*18/40 = 0.90
            BASE[:15] + [40, 41, 42, 43, 44],  # 0.75
            BASE[:5] + list(range(30, 45)),  # 0.25
            [],  # missing
        ],
        {"name": [7, 0, 0, 0, 0], "nino": [1, 9, 0, 0, 5], "mk1": [9, 9, 9, 9, 9]},
        [f"b{i}" for i in range(5)],
    )
    return a, b


def test_levels_from_dice_and_token(small: tuple[EncodedFrame, EncodedFrame]) -> None:
    a, b = small
    c = FieldComparison("name", field="name", token="name")
    assert c.labels == ["dice < 0.7", "dice >= 0.7", "dice >= 0.85", "dice >= 0.95", "token equal"]
    idx = np.arange(5)
    lev = c.levels(a, b, idx, idx)
    assert lev.tolist() == [4, 2, 1, 0, MISSING]
    tok = FieldComparison("nino", token="nino")
    assert tok.levels(a, b, idx, idx).tolist() == [1, 0, MISSING, MISSING, 1]


def test_default_comparisons_skip_match_keys(small: tuple[EncodedFrame, EncodedFrame]) -> None:
    a, b = small
    comps = comparisons_for(a, b)
    assert [(c.name, c.field, c.token) for c in comps] == [
        ("name", "name", "name"), ("nino", None, "nino")]


def test_bad_thresholds_are_rejected() -> None:
    with pytest.raises(ValueError, match="highest first"):
        FieldComparison("x", field="x", thresholds=(0.7, 0.9))
    with pytest.raises(ValueError, match="needs a field or a token"):
        FieldComparison("x")


def test_missing_field_named_in_error(small: tuple[EncodedFrame, EncodedFrame]) -> None:
    a, b = small
    c = FieldComparison("dob", field="dob")
    with pytest.raises(KeyError, match="dob"):
        c.levels(a, b, np.arange(2), np.arange(2))


@given(st.lists(st.lists(st.integers(-1, 5), min_size=3, max_size=3), min_size=1, max_size=60))
@settings(max_examples=50, deadline=None)
def test_compress_patterns_roundtrip(rows: list[list[int]]) -> None:
    lev = np.array(rows, dtype=np.int8)
    pats, counts, inv = compress_patterns(lev)
    assert (pats[inv] == lev).all()
    assert counts.sum() == len(lev)
    assert len(np.unique(pats, axis=0)) == len(pats)


def _simulate(n: int, seed: int = 1):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    lam = 0.15
    m = [np.array([0.05, 0.05, 0.1, 0.8]), np.array([0.02, 0.03, 0.05, 0.1, 0.8]),
         np.array([0.1, 0.9])]
    u = [np.array([0.7, 0.15, 0.1, 0.05]), np.array([0.6, 0.2, 0.1, 0.07, 0.03]),
         np.array([0.95, 0.05])]
    y = rng.random(n) < lam
    lev = np.empty((n, 3), np.int8)
    for j in range(3):
        lm = rng.choice(len(m[j]), size=n, p=m[j])
        lu = rng.choice(len(u[j]), size=n, p=u[j])
        lev[:, j] = np.where(y, lm, lu)
        lev[rng.random(n) < 0.05, j] = MISSING
    return lev, m, u, lam


def test_em_recovers_known_m_with_fixed_u() -> None:
    lev, m, u, lam = _simulate(200_000)
    pats, counts, _ = compress_patterns(lev)
    assert len(pats) < 200  # compressed
    start = [np.ones(len(x)) / len(x) for x in m]
    m_hat, u_hat, lam_hat, _ = em_fit(pats, counts, start, u, 0.5, fix_u=True)
    assert abs(lam_hat - lam) < 0.01
    for a, b in zip(m_hat, m):
        assert np.abs(a - b).max() < 0.01
    for a, b in zip(u_hat, u):
        assert np.allclose(a, b)


def test_em_recovers_known_m_and_u() -> None:
    lev, m, u, lam = _simulate(200_000, seed=2)
    pats, counts, _ = compress_patterns(lev)
    start_m = [np.linspace(0.1, 1, len(x)) for x in m]
    start_u = [np.linspace(1, 0.1, len(x)) for x in u]
    m_hat, u_hat, lam_hat, _ = em_fit(pats, counts, start_m, start_u, 0.5, fix_u=False)
    assert abs(lam_hat - lam) < 0.01
    for a, b in zip(m_hat + u_hat, m + u):
        assert np.abs(a - b).max() < 0.02


def test_random_pairs_deterministic_and_valid() -> None:
    i1, j1 = random_pairs(100, None, 500, seed=3)
    i2, j2 = random_pairs(100, None, 500, seed=3)
    assert (i1 == i2).all() and (j1 == j2).all()
    assert (i1 != j1).all() and i1.max() < 100 and j1.max() < 100
    i, j = random_pairs(3, 4, 10**6)  # all pairs when asked for more than exist
    assert len(i) == 12 and len(set(zip(i.tolist(), j.tolist()))) == 12


def _fitted(small: tuple[EncodedFrame, EncodedFrame], tf: bool = False) -> FellegiSunter:
    comps = [FieldComparison("name", field="name", token="name", tf_adjust=tf),
             FieldComparison("nino", token="nino")]
    return FellegiSunter(
        comparisons=comps,
        m={"name": [0.05, 0.05, 0.1, 0.3, 0.5], "nino": [0.1, 0.9]},
        u={"name": [0.8, 0.1, 0.05, 0.03, 0.02], "nino": [0.99, 0.01]},
        prior=0.01,
    )


def test_score_and_explain_agree(small: tuple[EncodedFrame, EncodedFrame]) -> None:
    a, b = small
    model = _fitted(small)
    idx = np.arange(5)
    df = model.score(a, b, idx, idx)
    expected0 = np.log2(0.01 / 0.99) + np.log2(0.5 / 0.02) + np.log2(0.9 / 0.01)
    assert df["match_weight"].iloc[0] == pytest.approx(expected0)
    # pair 4: name missing, nino equal
    assert df["match_weight"].iloc[4] == pytest.approx(np.log2(0.01 / 0.99) + np.log2(90))
    w = df["match_weight"].to_numpy()
    assert np.allclose(df["match_probability"], weight_to_probability(w))
    for k in range(5):
        ex = model.explain(a, b, k, k)
        assert list(ex["component"]) == ["prior", "name", "nino", "final"]
        assert ex["cumulative"].iloc[-1] == pytest.approx(df["match_weight"].iloc[k])
        assert ex["log2_bayes_factor"].iloc[:-1].sum() == pytest.approx(df["match_weight"].iloc[k])
    assert model.explain(a, b, 4, 4)["level"].iloc[1] == "missing"


def test_tf_adjustment_rare_value_weighs_more() -> None:
    rows = [BASE] * 6
    toks = [5, 5, 5, 5, 8, 0]  # value 5 common, value 8 rare
    a = _frame(rows, {"name": toks}, [f"a{i}" for i in range(6)])
    b = _frame(rows, {"name": toks}, [f"b{i}" for i in range(6)])
    model = FellegiSunter(
        comparisons=[FieldComparison("name", field="name", token="name", tf_adjust=True)],
        m={"name": [0.05, 0.05, 0.1, 0.3, 0.5]}, u={"name": [0.8, 0.1, 0.05, 0.03, 0.02]},
        prior=0.01,
    )
    df = model.score(a, b, np.array([0, 4, 5]), np.array([0, 4, 5]))
    w_common, w_rare, w_untok = df["match_weight"].tolist()
    # frequencies among non-missing tokens of both frames: 5 -> 8/10, 8 -> 2/10
    assert w_rare - w_common == pytest.approx(np.log2(0.8 / 0.2))
    assert w_common == pytest.approx(np.log2(0.01 / 0.99) + np.log2(0.5 / 0.8))
    # no token: dice 1.0 level, no TF
    assert w_untok == pytest.approx(np.log2(0.01 / 0.99) + np.log2(0.3 / 0.03))


def test_json_roundtrip(small: tuple[EncodedFrame, EncodedFrame], tmp_path: Path) -> None:
    a, b = small
    model = _fitted(small, tf=True)
    path = tmp_path / "model.json"
    text = model.to_json(path)
    d = json.loads(text)
    assert d["format"] == "nislink-fellegi-sunter"
    for k in (model, FellegiSunter.from_json(text), FellegiSunter.from_json(path)):
        assert k.to_json() == text
    idx = np.arange(5)
    assert np.allclose(model.score(a, b, idx, idx)["match_weight"],
                       FellegiSunter.from_json(path).score(a, b, idx, idx)["match_weight"])
    with pytest.raises(ValueError, match="not a nislink"):
        FellegiSunter.from_dict({"format": "other"})


def test_unfitted_model_refuses_to_score(small: tuple[EncodedFrame, EncodedFrame]) -> None:
    a, b = small
    with pytest.raises(RuntimeError, match="not fitted"):
        FellegiSunter(comparisons=comparisons_for(a, b)).score(a, b, np.arange(2), np.arange(2))


def _simulated_frames(n: int, seed: int) -> tuple[EncodedFrame, EncodedFrame]:
    """Two frames of n people each; b[i] is a noisy copy of a[i]."""
    rng = np.random.default_rng(seed)
    nb = 128
    base = rng.random((n, nb)) < 0.15
    noisy = base.copy()
    flip = rng.random((n, nb)) < 0.02
    noisy ^= flip
    tok = rng.integers(1, 2**62, size=n, dtype=np.uint64)
    tok_b = tok.copy()
    tok_b[rng.random(n) < 0.1] = 0  # missing on b
    def fr(bits: np.ndarray, t: np.ndarray, p: str) -> EncodedFrame:
        return EncodedFrame(np.array([f"{p}{i}" for i in range(n)], dtype=object),
                            {"f": BitMatrix.from_bool(bits)}, None, {"id": t}, {})
    return fr(base, tok, "a"), fr(noisy, tok_b, "b")


def test_fit_separates_matches_on_simulated_encodings() -> None:
    a, b = _simulated_frames(300, seed=5)
    # candidates: every true pair plus 5 random non-pairs per record
    rng = np.random.default_rng(0)
    ia = np.concatenate([np.arange(300)] + [np.arange(300)] * 5)
    ib = np.concatenate([np.arange(300)] + [rng.permutation(300) for _ in range(5)])
    keep = (ia != ib) | (np.arange(len(ia)) < 300)
    ia, ib = ia[keep], ib[keep]
    model = FellegiSunter().fit(a, b, ia, ib, u_pairs=20_000, seed=1)
    assert [c.name for c in model.comparisons] == ["f", "id"]
    assert model.prior is not None and 0 < model.prior < 0.05
    assert 0.1 < model.lambda_candidates < 0.3  # type: ignore[operator]
    s = model.score(a, b, ia, ib)
    truth = (ia == ib)
    assert s["match_weight"][truth].min() > s["match_weight"][~truth].max()
    again = FellegiSunter().fit(a, b, ia, ib, u_pairs=20_000, seed=1)
    assert again.to_json() == model.to_json()  # deterministic
    ruled = FellegiSunter().fit(a, b, ia, ib, u_pairs=20_000, seed=1, prior_rule="id")
    assert ruled.prior == pytest.approx(int((b.tokens["id"] != 0).sum()) / 300**2)


def _households(n_fam: int, size: int, seed: int) -> EncodedFrame:
    """Families sharing surname and postcode tokens; date of birth tokens differ."""
    rng = np.random.default_rng(seed)
    fam = np.repeat(np.arange(n_fam), size)
    sur = rng.integers(1, 2**62, size=n_fam, dtype=np.uint64)[fam]
    pc = rng.integers(1, 2**62, size=n_fam, dtype=np.uint64)[fam]
    dob = rng.integers(1, 2**62, size=len(fam), dtype=np.uint64)
    return EncodedFrame(np.array([f"r{i}" for i in range(len(fam))], dtype=object), {}, None,
                        {"sur": sur, "pc": pc, "dob": dob}, {})


def test_dependence_term_for_households_only() -> None:
    a = _households(300, 4, seed=1)
    b = a.take(np.arange(len(a)))  # same people in b
    comps = [FieldComparison(n, token=n) for n in ("sur", "pc", "dob")]
    model = FellegiSunter(comparisons=comps, prior=1 / 1200,
                          m={n: [0.05, 0.95] for n in ("sur", "pc", "dob")},
                          u={"sur": [0.996, 0.004], "pc": [0.996, 0.004], "dob": [0.9992, 0.0008]})
    dep = model.estimate_dependence(a, b)
    # among pairs that differ on dob, sharing surname means sharing postcode: u_fg = u_f = u_g
    assert dep["sur|pc"] == pytest.approx(np.log2(1 / (3 / 1199)), rel=0.05)
    assert not any("dob" in k for k in dep)  # true matches dominate: no term
    i = np.array([0, 0]); j = np.array([1, 0])  # family member; the same person
    w = model.score(a, b, i, j)["match_weight"].to_numpy()
    base = model.prior_weight + 2 * np.log2(0.95 / 0.004)
    assert w[0] == pytest.approx(base + np.log2(0.05 / 0.9992) - dep["sur|pc"])
    ex = model.explain(a, b, 0, 1)
    assert "dependence" in ex["component"].tolist()
    assert ex["cumulative"].iloc[-1] == pytest.approx(w[0])
    assert FellegiSunter.from_json(model.to_json()).dependence == dep


def test_auto_sessions_put_household_fields_last() -> None:
    comps = [FieldComparison(n, token=n) for n in ("surname", "dob", "nino", "sex")]
    model = FellegiSunter(comparisons=comps,
                          u={"surname": [0.9999, 1e-4], "dob": [0.999, 1e-3],
                             "nino": [0.9999, 1e-5], "sex": [0.5, 0.5]},
                          info={"household_fields": ["surname"]})
    assert model.auto_sessions() == [["nino"], ["dob"], ["surname"]]


@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32), st.floats(0.0, 0.6))
@settings(max_examples=40, deadline=None)
def test_levels_in_range_on_arbitrary_frames(
    na: int, nb: int, seed: int, p_missing: float
) -> None:
    rng = np.random.default_rng(seed)

    def frame(n: int) -> EncodedFrame:
        bits = rng.random((n, 70)) < rng.random()
        bits[rng.random(n) < p_missing] = False  # missing filters
        tok = rng.integers(0, 3, size=n).astype(np.uint64)  # 0 = missing, few values
        return EncodedFrame(np.array([str(i) for i in range(n)], dtype=object),
                            {"f": BitMatrix.from_bool(bits)}, None, {"f": tok, "t": tok}, {})

    a, b = frame(na), frame(nb)
    ia, ib = random_pairs(na, nb, 10**6)
    for c in (FieldComparison("f", field="f", token="f"), FieldComparison("t", token="t")):
        lev = c.levels(a, b, ia, ib)
        assert lev.dtype == np.int8 and lev.min() >= MISSING and lev.max() < c.n_levels
        ta, tb = a.tokens[str(c.token)][ia], b.tokens[str(c.token)][ib]
        both_tok = (ta != 0) & (tb != 0)
        equal = both_tok & (ta == tb)
        assert (lev[equal] == c.n_levels - 1).all()
        if c.field is None:
            assert ((lev == MISSING) == ~both_tok).all()

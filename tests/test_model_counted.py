"""Fitting on candidate pattern counts made elsewhere (:class:`CandidatePatterns`): with the
counts of the same pairs the model is the one fitted on the pairs; with the counts of whole
files and a sample to estimate ``u`` and the sessions on, the prior is the files'."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.encode.encoder import Encoder
from nislink.frame import EncodedFrame
from nislink.linkage import candidates as candidate_pairs
from nislink.linkage import link, prepare_model
from nislink.model import CandidatePatterns, compress_patterns, session_pairs_for
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

SECRET = Secret.from_bytes(bytes(range(3, 35)))
TODAY = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def files() -> tuple[EncodedFrame, EncodedFrame]:
    st_ = generate_study(1500, 5)
    enc = Encoder(Schema.uk_default(), SECRET, today=TODAY)
    dwp = st_.dwp.assign(upn=None)
    return (enc.encode(st_.la, id_column="la_id", party="la"),
            enc.encode(dwp, id_column="dwp_id", party="dwp"))


def _close(m1, m2) -> None:  # type: ignore[no-untyped-def]
    assert m1.prior == pytest.approx(m2.prior, rel=1e-12)
    assert m1.lambda_candidates == pytest.approx(m2.lambda_candidates, rel=1e-12)
    for c in m1.comparisons:
        np.testing.assert_allclose(m1.m[c.name], m2.m[c.name], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(m1.u[c.name], m2.u[c.name], rtol=1e-12, atol=1e-15)


def test_counts_of_the_same_pairs_give_the_same_model(files) -> None:  # type: ignore[no-untyped-def]
    a, b = files
    ref = link(a, b, u_pairs=50_000).model
    ia, ib = candidate_pairs(a, b)
    mdl, _ = prepare_model(None, a, b, None, True, None)
    pats, counts, _ = compress_patterns(mdl.levels(a, b, ia, ib))
    # any order of the patterns: the EM sums run in one canonical order
    rev = np.arange(len(pats))[::-1]
    cp = CandidatePatterns(pats[rev], counts[rev], len(a), len(b))
    assert cp.n_pairs == len(ia) and cp.total_pairs == len(a) * len(b)
    none = np.zeros(0, np.int64)
    asked: list[list[str]] = []

    def sessions(tokens: list[str]) -> CandidatePatterns:
        # every session pair (no sampling: fewer than session_pairs here)
        asked.append(tokens)
        sa, sb = session_pairs_for(a, b, tokens, max_pairs=10**9)
        p, c, _ = compress_patterns(mdl.levels(a, b, sa, sb))
        return CandidatePatterns(p, c, len(a), len(b))

    got = mdl.fit(a, b, none, none, u_pairs=50_000, candidates=cp, session_counts=sessions)
    _close(got, ref)
    assert got.info["candidates_counted"]["n_a"] == len(a)
    done = [s for s in got.info["em_sessions"] if "skipped" not in s]
    assert done and all(s.get("counted") for s in done)
    # asked for exactly the sessions that had a field to estimate
    assert asked == [s["tokens"] for s in got.info["em_sessions"]
                     if s.get("skipped") != "no field"]


def test_counts_of_whole_files_with_a_sample(files) -> None:  # type: ignore[no-untyped-def]
    a, b = files
    full = link(a, b, u_pairs=50_000).model
    rng = np.random.default_rng(0)
    sa = a.take(np.sort(rng.choice(len(a), len(a) // 3, replace=False)))
    sb = b.take(np.sort(rng.choice(len(b), len(b) // 3, replace=False)))
    ia, ib = candidate_pairs(a, b)
    mdl, _ = prepare_model(None, sa, sb, None, True, None)
    pats, counts, _ = compress_patterns(mdl.levels(a, b, ia, ib))
    none = np.zeros(0, np.int64)
    got = mdl.fit(sa, sb, none, none, u_pairs=50_000,
                  candidates=CandidatePatterns(pats, counts, len(a), len(b)))
    info = got.info["candidates_counted"]
    assert (info["n_a"], info["sample_a"]) == (len(a), len(sa))
    assert got.info["candidate_pairs"] == len(ia)
    # the expected number of matches among the files' candidates is near the full fit's
    # (the files' candidates over the sample's possible pairs would be nine times too many)
    n_full = full.prior * len(a) * len(b)
    n_got = got.prior * len(a) * len(b)
    assert abs(n_got / n_full - 1) < 0.10  # a third of 1,500 people: noisy m
    # and the linked pairs are nearly the same
    res = link(a, b, model=got)
    ref = link(a, b, model=full)
    same = set(zip(res.pairs["id_a"], res.pairs["id_b"])) & set(
        zip(ref.pairs["id_a"], ref.pairs["id_b"]))
    assert len(same) >= 0.97 * len(ref.pairs)


def test_bad_counts_are_refused(files) -> None:  # type: ignore[no-untyped-def]
    a, b = files
    mdl, _ = prepare_model(None, a, b, None, True, None)
    k = len(mdl.comparisons)
    none = np.zeros(0, np.int64)
    with pytest.raises(ValueError, match="columns"):
        mdl.fit(a, b, none, none, candidates=CandidatePatterns(
            np.zeros((1, k + 1), np.int8), np.ones(1, np.int64), 10, 10))
    with pytest.raises(ValueError, match="zero candidate pairs"):
        mdl.fit(a, b, none, none, candidates=CandidatePatterns(
            np.zeros((0, k), np.int8), np.zeros(0, np.int64), 10, 10))
    with pytest.raises(ValueError, match="one file"):
        mdl.fit(a, b, none, none, candidates=CandidatePatterns(
            np.zeros((1, k), np.int8), np.ones(1, np.int64), 10, 10, dedupe=True))
    with pytest.raises(ValueError, match="positive"):
        CandidatePatterns(np.zeros((1, k), np.int8), np.zeros(1, np.int64), 10, 10)
    with pytest.raises(ValueError, match="record counts"):
        CandidatePatterns(np.zeros((1, k), np.int8), np.ones(1, np.int64), 0, 10)
    with pytest.raises(ValueError, match="-1..127"):
        CandidatePatterns(np.full((1, k), 300), np.ones(1, np.int64), 10, 10)
    with pytest.raises(ValueError, match="one record count"):
        CandidatePatterns(np.zeros((1, k), np.int8), np.ones(1, np.int64), 10, 11, dedupe=True)
    bad = np.zeros((1, k), np.int8)
    bad[0, 0] = mdl.comparisons[0].n_levels  # one past the top level
    with pytest.raises(ValueError, match=repr(mdl.comparisons[0].name)):
        mdl.fit(a, b, none, none, candidates=CandidatePatterns(bad, np.ones(1, np.int64), 10, 10))
    with pytest.raises(ValueError, match="not both"):
        mdl.fit(a, b, np.zeros(1, np.int64), np.zeros(1, np.int64), candidates=CandidatePatterns(
            np.zeros((1, k), np.int8), np.ones(1, np.int64), 10, 10))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-1, 3), min_size=3, max_size=3), min_size=1,
                max_size=40))
def test_canonical_order_is_compress_patterns_order(rows: list[list[int]]) -> None:
    lev = np.array(rows, dtype=np.int8)
    pats, counts, _ = compress_patterns(lev)
    perm = np.random.default_rng(len(rows)).permutation(len(pats))
    cp = CandidatePatterns(pats[perm], counts[perm], 5, 7)
    assert np.array_equal(cp.patterns, pats) and np.array_equal(cp.counts, counts)
    assert cp.n_pairs == len(rows)

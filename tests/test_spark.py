"""nislink.spark in Spark local mode (local[2]) on small synthetic data: the Spark pipeline
gives the same encodings, candidate pairs, weights, links and clusters as the local one.

Needs the ``[spark]`` extra (PySpark 4) and Java 17; not skipped: CI installs both.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink import io
from nislink import spark as ns
from nislink.block import LengthFilter, LSHBlocking, TokenBlocking
from nislink.encode.encoder import Encoder
from nislink.frame import BitMatrix, EncodedFrame
from nislink.linkage import candidates, combine_tokens, dedupe, link
from nislink.schema import Schema
from nislink.secrets import Secret, SecretError
from nislink.synth import generate_study

SECRET = Secret.from_bytes(bytes(range(7, 39)))
TODAY = dt.date(2026, 11, 1)
COLS = ["forename", "surname", "dob", "sex", "postcode", "nino", "upn"]


def _prep(df: pd.DataFrame, idc: str) -> pd.DataFrame:
    df = df.copy()
    for c in ("nino", "upn"):
        if c not in df.columns:
            df[c] = None
    return df[[idc, *COLS]].astype(object).where(df[[idc, *COLS]].notna(), None)


@pytest.fixture(scope="module")
def spark():  # type: ignore[no-untyped-def]
    s = ns.session("local[2]", shuffle_partitions=3,
                   conf={"spark.sql.execution.arrow.maxRecordsPerBatch": 113,
                         "spark.default.parallelism": 3})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    st = generate_study(900, 11)
    la = _prep(st.la, "la_id")
    # rows the cleaner must reject (no usable identifier) are rejected the same way
    bad = pd.DataFrame([{"la_id": "BAD1", "forename": "", "surname": None, "dob": "99/99/9999",
                         "sex": "X", "postcode": "", "nino": None, "upn": None}])
    la = pd.concat([la.iloc[:400], bad, la.iloc[400:]], ignore_index=True)
    dwp = _prep(st.dwp, "dwp_id")
    enc = Encoder(Schema.uk_default(), SECRET, today=TODAY)
    ea = enc.encode(la, id_column="la_id", party="la")
    eb = enc.encode(dwp, id_column="dwp_id", party="dwp")
    return la, dwp, ea, eb


@pytest.fixture(scope="module")
def model(data):  # type: ignore[no-untyped-def]
    _, _, ea, eb = data
    return link(ea, eb, u_pairs=50_000, tf_adjust=True).model


@pytest.fixture(scope="module")
def packed(spark, data):  # type: ignore[no-untyped-def]
    """Both files encoded by ns.encode (packed columns), once for the tests that read them."""
    la, dwp, _, _ = data
    return (ns.encode(spark.createDataFrame(la), Schema.uk_default(), SECRET,
                      id_column="la_id", party="la", today=TODAY),
            ns.encode(spark.createDataFrame(dwp), Schema.uk_default(), SECRET,
                      id_column="dwp_id", party="dwp", today=TODAY))


@pytest.fixture(scope="module")
def on_spark(spark, data):  # type: ignore[no-untyped-def]
    _, _, ea, eb = data
    return ns.from_local(spark, ea, partitions=3), ns.from_local(spark, eb, partitions=2)


def _same_frames(x, y) -> None:  # type: ignore[no-untyped-def]
    """Bitwise equality of two EncodedFrames, matched by record id."""
    assert sorted(x.ids) == sorted(y.ids)
    o = pd.Index(y.ids).get_indexer(pd.Index(x.ids))
    assert set(x.fields) == set(y.fields) and set(x.tokens) == set(y.tokens)
    for f in x.fields:
        assert x.fields[f].nbits == y.fields[f].nbits
        assert np.array_equal(x.fields[f].bits, y.fields[f].bits[o]), f
        assert np.array_equal(x.fields[f].present, y.fields[f].present[o]), f
    assert (x.clk is None) == (y.clk is None)
    if x.clk is not None:
        assert np.array_equal(x.clk.bits, y.clk.bits[o])
        assert np.array_equal(x.clk.present, y.clk.present[o])
    for t in x.tokens:
        assert np.array_equal(x.tokens[t], y.tokens[t][o]), t


def test_spark_encodings_bitwise_identical(  # type: ignore[no-untyped-def]
        spark, data, tmp_path) -> None:
    la, _, ea, _ = data
    # many small, uneven batches across partitions: the encoder is row-independent
    sdf = spark.createDataFrame(la).repartition(3)
    se = ns.encode(sdf, Schema.uk_default(), SECRET, id_column="la_id", party="la", today=TODAY)
    assert se.meta["rows"] == len(ea)
    assert se.meta["key_fingerprint"] == ea.meta["key_fingerprint"]
    local = se.to_local()
    _same_frames(ea, local)
    # the packed UDF output is read through views with the layout from_local/read_encoded use
    want = ns._spark_schema({f: bm.nbits for f, bm in ea.fields.items()}, False, list(ea.tokens))
    assert [(f.name, f.dataType) for f in se.df.schema.fields] == \
        [(f.name, f.dataType) for f in want.fields]
    se.write(str(tmp_path / "enc"))
    _same_frames(ea, ns.read_encoded(spark, str(tmp_path / "enc")).to_local())
    rej = se.rejects.toPandas()
    assert list(rej["id"]) == ["BAD1"] and list(ea.rejects["id"]) == ["BAD1"]
    assert "dob" in rej["field"].iloc[0]
    # the secret never shows in the query plan or reprs
    plan = se.df._jdf.queryExecution().toString()
    for text in (plan, repr(se), repr(ns._SealedKey(SECRET._material()))):
        assert SECRET.export_hex() not in text and SECRET.export_hex()[:16] not in text
    # executors may load the key themselves (here from a key file) instead
    (tmp_path / "key.hex").write_text(SECRET.export_hex())
    se2 = ns.encode(sdf.limit(200), Schema.uk_default(), f"file:{tmp_path / 'key.hex'}",
                    id_column="la_id", today=TODAY)
    l2 = se2.to_local()
    _same_frames(l2, ea.take(pd.Index(ea.ids).get_indexer(pd.Index(l2.ids))))
    # records gathered into chunks of batch_rows (here many uneven chunks a task): the
    # same bits (a record's encoding does not depend on its chunk)
    se3 = ns.encode(sdf, Schema.uk_default(), SECRET, id_column="la_id", party="la",
                    today=TODAY, batch_rows=97)
    _same_frames(ea, se3.to_local())
    # many small input partitions (as from a DataFrame made from a large pandas frame)
    # are merged into fewer, larger tasks; _row still follows the input order
    raw = spark.createDataFrame(
        spark.sparkContext.parallelize([tuple(r) for r in la.itertuples(index=False)], 9),
        schema=spark.createDataFrame(la).schema)
    assert raw.rdd.getNumPartitions() > spark.sparkContext.defaultParallelism
    se4 = ns.encode(raw, Schema.uk_default(), SECRET, id_column="la_id", today=TODAY)
    assert se4.df.rdd.getNumPartitions() <= spark.sparkContext.defaultParallelism
    order = se4.df.select(ns.ROW, "id").toPandas().sort_values(ns.ROW)["id"].tolist()
    assert order == [i for i in la["la_id"] if i != "BAD1"]
    _same_frames(ea, se4.to_local())
    # a key that cannot be loaded: one clear error, naming the cause, never the key
    (tmp_path / "key.hex").unlink()
    with pytest.raises(SecretError, match="cannot read secret file"):
        ns.encode(sdf.limit(20), Schema.uk_default(), f"file:{tmp_path / 'key.hex'}",
                  id_column="la_id", today=TODAY)


def test_duplicate_ids_and_bad_secret(spark, data) -> None:  # type: ignore[no-untyped-def]
    la, _, _, _ = data
    dup = spark.createDataFrame(pd.concat([la.iloc[:5], la.iloc[:1]], ignore_index=True))
    with pytest.raises(ValueError, match="duplicated ids"):
        ns.encode(dup, Schema.uk_default(), SECRET, id_column="la_id", today=TODAY)
    with pytest.raises(TypeError, match="secret"):
        ns.encode(dup, Schema.uk_default(), SECRET.export_hex(), id_column="la_id")
    with pytest.raises(ValueError, match="not in the data"):
        ns.encode(dup, Schema.uk_default(), SECRET, id_column="nope")
    # a misspelt mapping: the error names the field and lists every column of the data,
    # the one meant included
    with pytest.raises(ValueError,
                       match=r"names column 'fornam', which is not in the data.*forename.*surname"):
        ns.encode(dup, Schema.uk_default(), SECRET, id_column="la_id",
                  columns={"forename": "fornam"})


def test_missing_ids_rejected_as_locally_not_duplicates(spark, data) -> None:  # type: ignore[no-untyped-def]
    """Rows without an id (null, blank or white-space text) are each rejected as "missing
    id", as the local encoder does, not refused as duplicated ids; a real duplicate among
    them is still refused."""
    la = data[0].iloc[:9].copy()
    la.loc[[1, 2], "la_id"] = None
    la.loc[3, "la_id"] = ""
    la.loc[4, "la_id"] = " \t\u00a0"
    la.loc[5, "la_id"] = "\x1c"  # white space to Python (str.strip), not to Java's \s
    enc = Encoder(Schema.uk_default(), SECRET, today=TODAY)
    enc.warn = False
    local = enc.encode(la, id_column="la_id")
    assert list(enc.rejects["reason"]) == ["missing id"] * 5
    # in several partitions, and all in one (one chunk holding every missing id)
    for sdf in (spark.createDataFrame(la), spark.createDataFrame(la).coalesce(1)):
        se = ns.encode(sdf, Schema.uk_default(), SECRET, id_column="la_id", today=TODAY)
        rej = se.rejects.toPandas().sort_values("row")
        assert list(rej["reason"]) == ["missing id"] * 5
        assert se.meta["rows"] == len(local) == 4
        _same_frames(local, se.to_local())
    # integer ids with a null keep their form ("1005", not "1005.0") in every chunk
    ints = la.assign(la_id=pd.array([1000 + i if i not in (1, 2) else None
                                     for i in range(len(la))], dtype="Int64"))
    si = ns.encode(spark.createDataFrame(ints.astype({"la_id": object}).where(
        ints.notna(), None), "la_id long, forename string, surname string, dob string, "
        "sex string, postcode string, nino string, upn string").coalesce(1),
        Schema.uk_default(), SECRET, id_column="la_id", today=TODAY)
    assert sorted(si.to_local().ids) == [str(1000 + i) for i in range(len(la)) if i not in (1, 2)]
    twice = la.copy()
    twice.loc[5, "la_id"] = twice.loc[0, "la_id"]
    with pytest.raises(ValueError, match="duplicated ids"):
        ns.encode(spark.createDataFrame(twice), Schema.uk_default(), SECRET,
                  id_column="la_id", today=TODAY)


def test_absent_optional_column_as_locally(spark, data) -> None:  # type: ignore[no-untyped-def]
    """A DWP extract with no UPN column encodes on Spark as it does locally (UPN missing);
    a file without a core field is refused, naming it."""
    _, dwp, _, eb = data
    no_upn = dwp.drop(columns=["upn"]).iloc[:300]
    se = ns.encode(spark.createDataFrame(no_upn), Schema.uk_default(), SECRET,
                   id_column="dwp_id", today=TODAY)
    local = Encoder(Schema.uk_default(), SECRET, today=TODAY).encode(no_upn,
                                                                     id_column="dwp_id")
    _same_frames(local, se.to_local())
    assert (local.tokens["upn"] == 0).all()
    with pytest.raises(ValueError, match="forename"):
        ns.encode(spark.createDataFrame(no_upn.drop(columns=["forename"])),
                  Schema.uk_default(), SECRET, id_column="dwp_id", today=TODAY)


def test_candidates_equal_local(data, on_spark) -> None:  # type: ignore[no-untyped-def]
    _, _, ea, eb = data
    sa, sb = on_spark
    rules_list = [
        None,  # default: match keys, identifier tokens and pair tokens
        [LSHBlocking(threshold=0.8, completeness=0.99, field="postcode"),
         TokenBlocking(["surname+dob"]),
         LengthFilter(0.7, field="postcode")],
    ]
    for rules in rules_list:
        ia, ib = candidates(ea, eb, rules)
        got = ns.candidate_pairs(sa, sb, rules).toPandas()
        assert len(got) == len(set(zip(got["ra"], got["rb"])))  # de-duplicated
        assert set(zip(ia.tolist(), ib.tolist())) == set(zip(got["ra"], got["rb"])), rules
        assert len(ia) > 0


def _same_links(res, loc) -> None:  # type: ignore[no-untyped-def]
    """A Spark link result equals a local one: candidates, links in order, weights."""
    got = res.to_pandas()
    assert res.candidates == loc.candidates
    assert list(got["id_a"]) == list(loc.pairs["id_a"])
    assert list(got["id_b"]) == list(loc.pairs["id_b"])
    np.testing.assert_allclose(got["match_weight"], loc.pairs["match_weight"],
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["match_probability"], loc.pairs["match_probability"],
                               rtol=0, atol=1e-12)


def test_link_equals_local(data, model, on_spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, _, ea, eb = data
    sa, sb = on_spark
    assert any(c.tf_adjust for c in model.comparisons)  # TF tables come from Spark
    loc = link(ea, eb, model=model)
    res = ns.link(sa, sb, model=model)
    _same_links(res, loc)
    # optimal assignment (per connected component) on the same scored pairs
    loc_opt = link(ea, eb, model=model, min_weight=-3.0, one_to_one="optimal")
    kept = res.scores.filter(res.scores["match_weight"] >= -3.0)
    opt = ns.one_to_one(kept, method="optimal").toPandas()
    assert set(zip(opt["id_a"], opt["id_b"])) == set(zip(loc_opt.pairs["id_a"],
                                                          loc_opt.pairs["id_b"]))
    assert len(opt) == len(loc_opt.pairs)
    # every scored pair's weight equals the local score
    sc = res.scores.toPandas().sort_values(["ra", "rb"]).reset_index(drop=True)
    ls = model.score(ea, eb, sc["ra"].to_numpy(), sc["rb"].to_numpy())
    np.testing.assert_allclose(sc["match_weight"], ls["match_weight"], rtol=0, atol=1e-9)
    # results and encodings as Parquet
    res.write(str(tmp_path / "pairs"))
    p = res.pairs.sparkSession.read.parquet(str(tmp_path / "pairs")).toPandas()
    assert len(p) == len(loc.pairs) and set(p["id_a"]) == set(loc.pairs["id_a"])
    sb.write(str(tmp_path / "enc_b"))
    rb = ns.read_encoded(res.pairs.sparkSession, str(tmp_path / "enc_b"))
    assert rb.fields == sb.fields and rb.tokens == sb.tokens and rb.meta == sb.meta
    _same_frames(eb, rb.to_local())


def test_link_from_packed_encodings(spark, data, model, packed) -> None:  # type: ignore[no-untyped-def]
    """Encodings made by nislink.spark.encode reach the tiles through their packed
    columns (whole flag and token arrays, the filters cut from one binary); linked alone
    or against a from_local frame (gathered column by column), the links are local's."""
    _, _, ea, eb = data
    pa_, pb_ = packed
    assert pa_.packed is not None and pb_.packed is not None
    loc = link(ea, eb, model=model)
    for sa, sb in ((pa_, pb_), (pa_, ns.from_local(spark, eb, partitions=2))):
        _same_links(ns.link(sa, sb, model=model, tiles=(2, 3)), loc)


def test_tiles_one_task_each_and_any_placement(spark, data, model, on_spark,
                                               monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each tile gets a partition of its own (the keys hash to partitions 0..n-1 under
    Spark's own partitioner), and links do not depend on placement: with every tile
    forced into one partition (one task splits them by tile) they are still local's."""
    from pyspark.sql import functions as F

    for n in (1, 4, 9, 16):
        keys = ns._tile_keys(spark, n)
        got = spark.createDataFrame([(k, t) for t, k in enumerate(keys)], "k long, t int") \
            .repartition(n, "k").select("t", F.spark_partition_id().alias("p")).collect()
        assert sorted((r["t"], r["p"]) for r in got) == [(t, t) for t in range(n)]
    _, _, ea, eb = data
    sa, sb = on_spark
    loc = link(ea, eb, model=model)
    monkeypatch.setattr(ns, "_tile_keys", lambda _spark, n: [7] * n)
    _same_links(ns.link(sa, sb, model=model, tiles=(2, 3)), loc)


def test_link_tiles_caps_and_resolution_paths(data, model, on_spark) -> None:  # type: ignore[no-untyped-def]
    """Token rules run in tiles: block-size caps count the whole files (values too common
    overall are skipped in every tile, even where a tile holds few of them), every
    candidate is scored once, and the links equal the local ones whatever the tiling and
    wherever one-to-one runs (driver or Spark). Other rules (LSH) join pairs to payloads
    and give the local links too."""
    _, _, ea, eb = data
    sa, sb = on_spark
    rules = [TokenBlocking(["surname", "dob:ym", "forename+dob"], max_block_size=3),
             LengthFilter(0.6, field="surname")]
    toks = ns._rule_tokens(rules)
    common = ns._common_values([sa, sb], toks)
    for name, parts, cap in toks:  # exactly the values above the cap on either side
        want = set()
        for e in (ea, eb):
            v = e.tokens[name] if len(parts) == 1 else combine_tokens(e, list(parts))
            u, n = np.unique(v[v != 0], return_counts=True)
            want |= set(u[n > cap].tolist())
        assert set(common.get(name, np.zeros(0, np.uint64)).tolist()) == want, name
    assert sum(len(v) for v in common.values()) > 5  # the caps do drop values here
    ia, ib = candidates(ea, eb, rules)
    loc = link(ea, eb, model=model, blocking=rules, min_weight=-2.0)
    for tiles, limit in (((3, 2), 5_000_000), ((1, 1), 0), ((4, 5), 10)):
        res = ns.link(sa, sb, model=model, blocking=rules, min_weight=-2.0, tiles=tiles,
                      collect_limit=limit)
        assert res.candidates == len(ia), tiles
        sc = res.scores.toPandas()
        assert len(sc) == len(ia)
        assert set(zip(sc["ra"], sc["rb"])) == set(zip(ia.tolist(), ib.tolist())), tiles
        got = res.to_pandas()
        assert list(got["id_a"]) == list(loc.pairs["id_a"]), tiles
        assert list(got["id_b"]) == list(loc.pairs["id_b"]), tiles
        np.testing.assert_allclose(got["match_weight"], loc.pairs["match_weight"],
                                   rtol=0, atol=1e-9)
    lsh = [LSHBlocking(threshold=0.8, completeness=0.99, field="postcode"),
           TokenBlocking(["surname+dob"])]
    loc2 = link(ea, eb, model=model, blocking=lsh)
    for limit in (0, 5_000_000):
        got2 = ns.link(sa, sb, model=model, blocking=lsh, collect_limit=limit).to_pandas()
        assert list(got2["id_a"]) == list(loc2.pairs["id_a"])
        assert list(got2["id_b"]) == list(loc2.pairs["id_b"])
    with pytest.raises(ValueError, match="tiles"):
        ns.link(sa, sb, model=model, tiles=(0, 2))


def test_dedupe_clusters_equal_local(data, on_spark) -> None:  # type: ignore[no-untyped-def]
    _, _, ea, _ = data
    sa, _ = on_spark
    loc = dedupe(ea, u_pairs=50_000, min_weight=-5.0)
    res = ns.dedupe(sa, model=loc.model, min_weight=-5.0)
    assert res.candidates == loc.candidates
    got = res.pairs.toPandas()
    assert set(zip(got["id_a"], got["id_b"])) == set(zip(loc.pairs["id_a"], loc.pairs["id_b"]))
    cl = res.clusters.toPandas().set_index("id").loc[list(loc.clusters["id"])]
    assert list(cl["cluster_id"]) == list(loc.clusters["cluster_id"])
    # components on Spark (label propagation) instead of on the driver: the same clusters
    res2 = ns.dedupe(sa, model=loc.model, min_weight=-5.0, collect_limit=0)
    cl2 = res2.clusters.toPandas().set_index("id").loc[list(loc.clusters["id"])]
    assert list(cl2["cluster_id"]) == list(loc.clusters["cluster_id"])
    assert loc.clusters["cluster_id"].nunique() < len(ea)  # some duplicates were merged


def test_fit_model_on_sample(on_spark) -> None:  # type: ignore[no-untyped-def]
    sa, sb = on_spark
    m = ns.fit_model(sa, sb, fraction=0.6, seed=3, u_pairs=20_000)
    assert m.prior is not None and all(c.name in m.m for c in m.comparisons)


def test_fit_model_counts_candidates_on_the_cluster(data, on_spark) -> None:  # type: ignore[no-untyped-def]
    _, _, ea, eb = data
    sa, sb = on_spark
    # the whole data as the sample: the model nislink.link fits, from pattern counts
    ref = link(ea, eb, u_pairs=50_000)
    got = ns.fit_model(sa, sb, fraction=1.0, candidates="cluster", tiles=(2, 3),
                       u_pairs=50_000)
    assert got.info["candidate_pairs"] == ref.candidates
    done = [s for s in got.info["em_sessions"] if "skipped" not in s]
    assert done and all(s.get("counted") for s in done)  # sessions counted on Spark too
    assert [s["pairs"] for s in done] == [
        s["pairs"] for s in ref.model.info["em_sessions"] if "skipped" not in s]
    assert got.prior == pytest.approx(ref.model.prior, rel=1e-12)
    assert got.lambda_candidates == pytest.approx(ref.model.lambda_candidates, rel=1e-12)
    for c in ref.model.comparisons:
        np.testing.assert_allclose(got.m[c.name], ref.model.m[c.name], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got.u[c.name], ref.model.u[c.name], rtol=1e-12, atol=1e-15)
    # a sample ("auto" counts the candidates on the cluster when a side is sampled)
    half = ns.fit_model(sa, sb, fraction=0.5, seed=3, u_pairs=20_000)
    info = half.info["candidates_counted"]
    assert (info["n_a"], info["n_b"]) == (len(ea), len(eb))
    assert info["sample_a"] < len(ea) and half.info["candidate_pairs"] == ref.candidates
    assert "candidates_counted" not in ns.fit_model(
        sa, sb, fraction=0.5, seed=3, u_pairs=20_000, candidates="sample").info
    with pytest.raises(ValueError, match="candidates must be"):
        ns.fit_model(sa, sb, candidates="everywhere")
    with pytest.raises(TypeError, match="unknown options"):
        ns.fit_model(sa, sb, u_pair=10)
    with pytest.raises(ValueError, match="de-duplication"):
        ns.fit_model(sa, None, candidates="cluster")


def test_connected_components(spark) -> None:  # type: ignore[no-untyped-def]
    edges = spark.createDataFrame(pd.DataFrame({"src": [5, 1, 2, 9, 7, 3],
                                                "dst": [1, 2, 3, 8, 9, 3]}))
    cc = ns.connected_components(edges).toPandas().set_index("node")["component"].to_dict()
    assert cc == {1: 1, 2: 1, 3: 1, 5: 1, 7: 7, 8: 7, 9: 7}


def test_executor_errors_are_short(spark) -> None:  # type: ignore[no-untyped-def]
    def boom(batches):  # type: ignore[no-untyped-def]
        for _ in batches:
            raise ValueError("record 7: field 'dob' is broken")
        yield from ()

    df = spark.range(3).mapInPandas(boom, schema="id long")
    with pytest.raises(RuntimeError, match=r"^scoring failed on a Spark executor: "
                                           r"ValueError: record 7: field 'dob' is broken$"):
        ns._action(df.count, "scoring")


def test_setup_errors(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ns.SparkSetupError, match="bad Spark master"):
        ns.session("locl[2]")
    with pytest.raises(ns.SparkSetupError, match="not a size"):
        ns.session("local[2]", conf={"spark.executor.memory": "lots"})
    with pytest.raises(ns.SparkSetupError, match="start with 'spark.'"):
        ns.session("local[2]", conf={"executor.memory": "1g"})
    with pytest.raises(ns.SparkSetupError, match="shuffle.partitions"):
        ns.session("local[2]", shuffle_partitions=0)
    # no Java: a clear message, not a Py4J stack trace
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java-here"))
    with pytest.raises(ns.SparkSetupError, match="JAVA_HOME"):
        ns.session("local[2]")
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ns.SparkSetupError, match="Java was not found"):
        ns.check_java()
    # an old Java is refused
    fake = tmp_path / "oldjava"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "java").write_text('#!/bin/sh\necho \'openjdk version "11.0.2"\' >&2\n')
    (fake / "bin" / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(fake))
    with pytest.raises(ns.SparkSetupError, match="Java 11"):
        ns.check_java()


# --------------------------------------------------------------------------- CLK only
CLKS = Path(__file__).parent / "data" / "clkhash" / "clks"


@pytest.fixture(scope="module")
def clk_files():  # type: ignore[no-untyped-def]
    """500 + 500 FEBRL4 records as clkhash CLKs (tests/data/clkhash), and the truth."""
    ids = json.loads((CLKS / "febrl4_ids.json").read_text())
    a = io.read_clks(CLKS / "febrl4_a.json", ids=ids["a"])
    b = io.read_clks(CLKS / "febrl4_b.json", ids=ids["b"])
    ent = {x.split("-")[1]: x for x in ids["b"]}
    truth = {(x, ent[x.split("-")[1]]) for x in ids["a"] if x.split("-")[1] in ent}
    return a, b, truth


def test_clkhash_schema_encodes_on_spark(spark) -> None:  # type: ignore[no-untyped-def]
    """A clkhash schema (a CLK and nothing else) through nislink.spark.encode: the bits
    clkhash's own vectors hold."""
    data = Path(__file__).parent / "data" / "clkhash"
    case = next(c for c in json.loads((data / "vectors.json").read_text())["cases"]
                if c["name"] == "febrl_double_nonsingular_fold1")  # a 32-byte secret
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = Schema.from_clkhash(data / case["schema"])
    secret = case["secret"] if "secret" in case else base64.b64decode(case["secret_b64"])
    key = Secret.from_bytes(secret.encode() if isinstance(secret, str) else secret)
    raw = json.loads((data / case["rows"]).read_text())
    df = pd.DataFrame(raw["rows"], columns=raw["columns"]).astype(str)
    df.insert(0, "rid", [f"r{i}" for i in range(len(df))])
    local = Encoder(schema, key).encode(df, id_column="rid")
    se = ns.encode(spark.createDataFrame(df), schema, key, id_column="rid")
    got = se.to_local()
    assert got.clk is not None and not got.fields and not got.tokens
    assert list(got.ids) == list(local.ids)
    np.testing.assert_array_equal(got.clk.bits, local.clk.bits)
    from nislink.encode.clkhash_compat import to_base64
    assert to_base64(got.clk) == case["clks"]


@pytest.mark.slow  # Spark jobs: about 25 s on an idle 2-core machine, 80 s on a busy one
def test_clk_only_link_and_dedupe_equal_local(spark, clk_files) -> None:  # type: ignore[no-untyped-def]
    a, b, truth = clk_files
    assert not a.fields and not a.tokens  # nothing but the CLK
    sa, sb = ns.from_local(spark, a, partitions=3), ns.from_local(spark, b, partitions=2)
    # links: candidates by DiceBlocking (the default of CLK-only frames, its threshold from
    # the data), rank levels over all candidates, one-to-one: as locally
    loc = link(a, b)
    res = ns.link(sa, sb, model=loc.model)
    got = res.to_pandas()
    assert res.candidates == loc.candidates
    assert list(got["id_a"]) == list(loc.pairs["id_a"])
    assert list(got["id_b"]) == list(loc.pairs["id_b"])
    np.testing.assert_allclose(got["match_weight"], loc.pairs["match_weight"], rtol=0,
                               atol=1e-9)
    tp = len(set(zip(got["id_a"], got["id_b"])) & truth)
    assert tp / len(got) >= 0.99 and tp / len(truth) >= 0.98
    # every candidate's weight, rank level included, equals the local score
    sc = res.scores.toPandas().sort_values(["ra", "rb"]).reset_index(drop=True)
    local = link(a, b, model=loc.model, keep_scores=True).scores.sort_values(
        ["ia", "ib"]).reset_index(drop=True)
    assert list(sc["ra"]) == list(local["ia"]) and list(sc["rb"]) == list(local["ib"])
    np.testing.assert_allclose(sc["match_weight"], local["match_weight"], rtol=0, atol=1e-9)
    # de-duplication (the two files pooled): the candidates and every weight, the rank of a
    # record among the pairs it is on either side of included, equal the local ones (the
    # clusters are the generic connected components, checked above)
    both = _pooled(a, b)
    ld = dedupe(both, min_weight=0.0, keep_scores=True)
    sboth = ns.from_local(spark, both, partitions=3)
    pairs = ns.candidate_pairs(sboth, None)
    sd = ns.score(pairs, sboth, None, ld.model).toPandas().sort_values(["ra", "rb"])
    lsc = ld.scores.sort_values(["ia", "ib"])
    assert list(sd["ra"]) == list(lsc["ia"]) and list(sd["rb"]) == list(lsc["ib"])
    np.testing.assert_allclose(sd["match_weight"], lsc["match_weight"], rtol=0, atol=1e-9)
    assert len(ld.pairs) > 0.9 * len(truth)  # the pooled files' matches are found


def _pooled(a, b):  # type: ignore[no-untyped-def]
    """The records of two CLK-only frames in one frame (a first)."""
    clk = BitMatrix(np.vstack([a.clk.bits, b.clk.bits]), a.clk.nbits)
    return EncodedFrame(np.concatenate([a.ids, b.ids]), {}, clk, {}, dict(a.meta))


@pytest.mark.parametrize("compiled", [True, False])
def test_scatter_rows_places_words_flags_and_tokens(compiled, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A tile copies each batch row straight to its place: every field's words into its
    own block, the chosen flags and tokens from the row's packed bytes (a null or short
    row gives False / 0); compiled and NumPy paths agree with a plain Python reading of
    the same rows."""
    if not compiled:
        monkeypatch.setattr(ns, "_scatter_compiled", None)
    rng = np.random.default_rng(5)
    n, widths = 6, np.array([2, 1, 3], dtype=np.int64)
    blob = rng.integers(0, 2**63, (n, int(widths.sum())), dtype=np.int64).astype(np.uint64)
    tk_rows = [[1, 2, 3, 4], None, [5, 6], [7, 8, 9, 10], [11, -12, 13, 2**63 - 1],
               [-(2**63), 16, 17, 18]]
    pr_rows = [[True, False, True], [False, True, True], None, [True, True, False],
               [False, False, True], [True, False]]

    def packed(rows, dtype):  # type: ignore[no-untyped-def]
        return [None if r is None else np.array(r, dtype=dtype).tobytes() for r in rows]

    # a sliced binary array (offset 1) as the shuffle's batches may be
    tk = ns._binary_parts(pa.array(packed([[99, 98, 97, 96], *tk_rows], ">i8"),
                                   pa.binary()).slice(1), ">i8")
    pr = ns._binary_parts(pa.array(packed(pr_rows, "?"), pa.binary()), "?")
    take, dst, m = np.array([5, 0, 3, 1, 4]), np.array([2, 0, 4, 1, 3]), 5
    tk_cols, pr_cols = np.array([3, 0, 1]), np.array([2, 1])
    buf = np.zeros(m * int(widths.sum()), dtype=np.uint64)
    prs, tks = np.zeros((2, m), dtype=bool), np.zeros((3, m), dtype=np.int64)
    ns._scatter_rows(blob, take, dst, widths, buf, m, pr, pr_cols, prs, tk, tk_cols, tks)

    def elem(rows, r, c, fill):  # type: ignore[no-untyped-def]
        row = rows[r]
        return fill if row is None or c >= len(row) or row[c] is None else row[c]

    c0 = 0
    for w in widths.tolist():
        block = buf[m * c0: m * (c0 + w)].reshape(m, w)
        for r, d in zip(take, dst):
            assert block[d].tolist() == blob[r, c0:c0 + w].tolist()
        c0 += w
    for r, d in zip(take, dst):
        assert [int(tks[j, d]) for j in range(3)] == [elem(tk_rows, r, c, 0) for c in tk_cols]
        assert [bool(prs[j, d]) for j in range(2)] == [elem(pr_rows, r, c, False)
                                                        for c in pr_cols]


@settings(max_examples=60, deadline=None)
@given(pool=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40),
       picks=st.lists(st.integers(0, 10**6), min_size=0, max_size=300),
       spread=st.integers(0, 9000), at_least=st.integers(0, 30))
def test_frequent_values_equal_numpy_unique(pool, picks, spread, at_least) -> None:  # type: ignore[no-untyped-def]
    """The block-size cap's first pass keeps exactly the non-zero values held at least
    ``at_least`` times, with their counts, as numpy.unique would: repeated values from a
    small pool (zero included) among ``spread`` distinct hashes (above 4,096 values the
    bucket pre-filter runs)."""
    rng = np.random.default_rng(len(picks) + spread)
    x = np.concatenate([np.array([pool[i % len(pool)] for i in picks], dtype=np.uint64),
                        rng.integers(0, 2**63, spread, dtype=np.int64).astype(np.uint64)])
    rng.shuffle(x)
    v, n = ns._frequent(x, at_least)
    u, c = np.unique(x[x != 0], return_counts=True)
    keep = c >= max(1, at_least)
    assert v.tolist() == u[keep].tolist() and n.tolist() == c[keep].tolist()


def test_binary_parts_read_whole_values_of_any_row() -> None:
    """Packed flag and token bytes read back as values: rows of whole values straight
    from the buffer (also sliced), a ragged row's tail dropped, a null row empty; the
    token matrix of the statistics passes is the tokens in row order."""
    vals = np.array([[5, -1, 2**63 - 1], [0, -(2**63), 7]], dtype=np.int64)
    arr = pa.array([b"xx", *[r.astype(">i8").tobytes() for r in vals]], pa.binary()).slice(1)
    assert np.array_equal(ns._binary_longs(arr, 3), vals)
    v, starts, size = ns._binary_parts(arr, ">i8")
    assert v.dtype == np.int64 and starts.tolist() == [0, 3] and size.tolist() == [3, 3]
    ragged = pa.array([vals[0].astype(">i8").tobytes() + b"\x01", None,
                       vals[1, :2].astype(">i8").tobytes()], pa.binary())
    v, starts, size = ns._binary_parts(ragged, ">i8")
    assert size.tolist() == [3, 0, 2]
    assert [v[s:s + k].tolist() for s, k in zip(starts, size)] == \
        [vals[0].tolist(), [], vals[1, :2].tolist()]
    got = ns._binary_longs(ragged, 3)  # rows without every value read as zeros
    assert got.tolist() == [vals[0].tolist(), [0, 0, 0], [0, 0, 0]]
    flags = ns._binary_parts(pa.array([b"\x01\x00", b"\x00\x01"], pa.binary()), "?")
    assert flags[0].tolist() == [True, False, False, True]


def test_tile_layout_ships_fewest_copies() -> None:
    """Tiles: at least one per task slot, at most tile_records records each, and the
    fewest record copies shipped among those layouts (the smaller file is the one
    copied); task slots from the master URL."""
    # a million against 1.3 million on two slots: A whole in two tiles, B halved
    assert ns._tile_parts(1_000_000, 1_300_000, 2_000_000, 2) == (1, 2)
    assert ns._tile_parts(1_300_000, 1_000_000, 2_000_000, 2) == (2, 1)
    # tiles capped at 1.2 million records: 2 x 2 (1.15 million a tile)
    assert ns._tile_parts(1_000_000, 1_300_000, 1_200_000, 2) == (2, 2)
    rng = np.random.default_rng(3)
    cases = [(10**6, 10**7, 2 * 10**6, 2), (5 * 10**6, 5 * 10**6, 10**6, 16), (1000, 20, 500, 3),
             (7, 0, 10, 4), (0, 0, 2, 2), (10**5, 10**5, 2, 1)]
    for _ in range(40):  # caps for which the best layout has under 300 parts a side
        na, nb = int(rng.integers(0, 5000)), int(rng.integers(0, 5000))
        cases.append((na, nb, int(rng.integers(max(2, (na + nb) // 50), 6000)),
                      int(rng.integers(1, 40))))
    for na, nb, cap, slots in cases:  # against every layout of up to 300 parts a side
        ka, kb = ns._tile_parts(na, nb, cap, slots)
        assert ka * kb >= slots and -(-na // ka) + -(-nb // kb) <= cap
        if na <= 5000 and nb <= 5000:
            ok = [(x, y) for x in range(1, 301) for y in range(1, 301) if x * y >= slots
                  and -(-na // x) + -(-nb // y) <= cap]
            assert na * kb + nb * ka == min(na * y + nb * x for x, y in ok)
    # more task slots than any small layout: still at least one tile each
    ka, kb = ns._tile_parts(10**6, 10**6, 2 * 10**6, 5000)
    assert ka * kb >= 5000
    with pytest.raises(ValueError, match="at least 2"):
        ns._tile_parts(10, 10, 1, 2)

    class _Ctx:
        def __init__(self, master: str, par: int) -> None:
            self.master, self.defaultParallelism = master, par

    class _S:
        def __init__(self, master: str, par: int = 8) -> None:
            self.sparkContext = _Ctx(master, par)

    assert ns._task_slots(_S("local[2]")) == 2
    assert ns._task_slots(_S("local[3, 4]")) == 3
    assert ns._task_slots(_S("local")) == 1
    assert ns._task_slots(_S("local[*]")) == len(os.sched_getaffinity(0))
    assert ns._task_slots(_S("spark://h:7077", 24)) == 24


def test_mmap_threshold_sets_glibc_option_or_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A tile task asks glibc to map large blocks on their own (so the shuffled batches'
    memory is returned as each is copied), and does nothing where there is no glibc."""
    calls: list[tuple[int, int]] = []

    class _Libc:
        def mallopt(self, opt: int, val: int) -> int:
            calls.append((opt, val))
            return 1

    monkeypatch.setattr(ns, "_LIBC", _Libc())
    ns._mmap_threshold(1 << 20)
    assert calls == [(-3, 1 << 20)]  # M_MMAP_THRESHOLD
    monkeypatch.setattr(ns, "_LIBC", False)
    ns._mmap_threshold(1 << 20)
    assert calls == [(-3, 1 << 20)]
    monkeypatch.setattr(ns, "_LIBC", None)  # found on first use (this machine: glibc)
    ns._mmap_threshold(32 << 20)
    assert ns._LIBC is not None


def test_read_encoded_names_a_wrong_path(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A misspelt folder is FileNotFoundError naming it; a folder that is not nislink's
    encodings is ValueError saying so."""
    with pytest.raises(FileNotFoundError, match="enc_typo: no such encodings folder"):
        ns.read_encoded(spark, str(tmp_path / "enc_typo"))
    pd.DataFrame({"x": [1, 2]}).to_parquet(tmp_path / "other.parquet")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "part.parquet").write_bytes((tmp_path / "other.parquet").read_bytes())
    with pytest.raises(ValueError, match="other: not nislink Spark encodings"):
        ns.read_encoded(spark, str(tmp_path / "other"))


def test_packed_encodings_written_and_read_packed(spark, data, model, packed,
                                                  tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Encodings from ns.encode are written as their packed columns (no per-column view
    computed on the way out) and read back packed: the same bits, the links local's
    whether linked against packed or column-by-column encodings; a schema with a CLK
    keeps it; a folder written from from_local keeps one column per filter and token."""
    la, _, ea, eb = data
    pa_, pb_ = packed
    pa_.write(str(tmp_path / "a"))
    cols = set(spark.read.parquet(str(tmp_path / "a")).columns)
    assert cols == {"_row", "id", "_blob", "_prs", "_tks"}
    info = json.loads("".join(r.value for r in spark.read.text(
        str(tmp_path / "a" / "_nislink_meta")).collect()))
    assert info["layout"] == "packed-1"
    ra = ns.read_encoded(spark, str(tmp_path / "a"))
    assert ra.packed is not None and ra.fields == pa_.fields and ra.tokens == pa_.tokens
    _same_frames(ea, ra.to_local())
    ns.from_local(spark, eb, partitions=2).write(str(tmp_path / "b"))
    assert "tok:surname" in spark.read.parquet(str(tmp_path / "b")).columns
    rb = ns.read_encoded(spark, str(tmp_path / "b"))
    assert rb.packed is None
    pb_.write(str(tmp_path / "b2"))
    loc = link(ea, eb, model=model)
    for sb in (rb, ns.read_encoded(spark, str(tmp_path / "b2"))):
        _same_links(ns.link(ra, sb, model=model, tiles=(2, 2)), loc)
    # the column-by-column layout on request (what nislink before packed folders reads)
    pa_.write(str(tmp_path / "a_cols"), layout="columns")
    assert "tok:surname" in spark.read.parquet(str(tmp_path / "a_cols")).columns
    rc = ns.read_encoded(spark, str(tmp_path / "a_cols"))
    assert rc.packed is None
    _same_frames(ea, rc.to_local())
    with pytest.raises(ValueError, match="layout must be 'packed' or 'columns'"):
        pa_.write(str(tmp_path / "a_x"), layout="pack")
    # packed rows are cut up from 64-bit-offset arrays (a column past 2 GiB); a packed
    # record without its bytes is an error, not zeros
    tab = ns._large_types(pa_.packed.toArrow())
    assert tab.schema.field("_blob").type == pa.large_binary()
    _same_frames(ea, ns._frame_from_packed(tab.sort_by("_row"), ns._layout(pa_)))
    holed = tab.set_column(tab.schema.get_field_index("_tks"), "_tks",
                           pa.array([None] * tab.num_rows, pa.large_binary()))
    with pytest.raises(ValueError, match="a record without '_tks'"):
        ns._frame_from_packed(holed, ns._layout(pa_))
    # a CLK (uk_unhardened) travels with the packed columns
    sch = Schema.uk_unhardened()
    enc = Encoder(sch, SECRET, today=TODAY)
    enc.warn = False
    eu = enc.encode(la, id_column="la_id", party="la")
    pu = ns.encode(spark.createDataFrame(la), sch, SECRET, id_column="la_id", party="la",
                   today=TODAY)
    pu.write(str(tmp_path / "u"))
    assert {"clk", "present:clk"} <= set(spark.read.parquet(str(tmp_path / "u")).columns)
    _same_frames(eu, ns.read_encoded(spark, str(tmp_path / "u")).to_local())


def test_packed_encodings_written_in_small_row_groups(spark, data, packed, tmp_path,
                                                     monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Packed rows are wide binaries: their folder is written in row groups of at most
    _PACKED_ROW_GROUP bytes (Parquet's default 128 MiB, buffered per task, ran a 1 GiB heap
    out of memory at 200,000 records), and reads back the same."""
    import pyarrow.parquet as pq

    ea, pa_ = data[2], packed[0]
    monkeypatch.setattr(ns, "_PACKED_ROW_GROUP", 64 << 10)
    pa_.write(str(tmp_path / "a"))
    parts = sorted((tmp_path / "a").glob("part-*.parquet"))
    groups = [pq.ParquetFile(p).num_row_groups for p in parts]
    assert sum(groups) > len(parts)  # 300 records of about 1.4 kB a part: several groups
    _same_frames(ea, ns.read_encoded(spark, str(tmp_path / "a")).to_local())


def test_read_encoded_refuses_unknown_or_broken_packed_layouts(spark, packed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A folder in a layout this version does not know, or packed without one of its
    columns, is a ValueError naming the folder and what is wrong (never empty links)."""
    pa_ = packed[0]
    pa_.write(str(tmp_path / "a"))
    info = json.loads("".join(r.value for r in spark.read.text(
        str(tmp_path / "a" / "_nislink_meta")).collect()))

    def put_meta(folder: str, doc: dict) -> None:  # (Spark's writer keeps its checksums)
        spark.createDataFrame([(json.dumps(doc),)], "value string").coalesce(1) \
            .write.mode("overwrite").text(str(tmp_path / folder / "_nislink_meta"))

    put_meta("a", {**info, "layout": "packed-9"})
    with pytest.raises(ValueError, match=r"layout 'packed-9', which this version"):
        ns.read_encoded(spark, str(tmp_path / "a"))
    pa_.packed.drop("_tks").write.parquet(str(tmp_path / "c"))
    put_meta("c", info)
    with pytest.raises(ValueError, match="packed encodings without column '_tks'"):
        ns.read_encoded(spark, str(tmp_path / "c"))

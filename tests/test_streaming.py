"""Streaming a file too large to load: chunked reading, file-wide caps, identical links."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nislink.io as io
from nislink import block
from nislink.encode.encoder import Encoder
from nislink.errors import EncodedFileError, IncompatibleEncodingError
from nislink.linkage import DiceBlocking, candidates, link, with_combined_tokens
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.streaming import common_values, link_stream
from nislink.synth import generate_study

COLS = ["rid", "forename", "surname", "dob", "sex", "postcode", "nino"]
SECRET = Secret.from_bytes(bytes(range(32)))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """An LA file in memory and a departments' file on disk (synthetic study, 2,500
    people); B is the DWP and MoJ extracts."""
    s = generate_study(2500, 11)
    enc = Encoder(Schema.uk_default(), SECRET)
    a = enc.encode(s.la.rename(columns={"la_id": "rid"})[COLS], id_column="rid", party="la")
    bdf = pd.concat([s.dwp.rename(columns={"dwp_id": "rid"})[COLS],
                     s.moj.rename(columns={"moj_id": "rid"})[COLS]], ignore_index=True)
    b = enc.encode(bdf, id_column="rid", party="dwp")
    path = tmp_path_factory.mktemp("stream") / "b.nislink.parquet"
    io.save(b, path)
    return a, b, path


@pytest.mark.parametrize("batch", [97, 32_768])
def test_iter_chunks_read_rows_tokens_and_ids_agree_with_load(
        files: tuple, batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks are assembled from Arrow batches of ``io._BATCH_ROWS`` rows: a chunk may
    span batches, and a batch chunks."""
    monkeypatch.setattr(io, "_BATCH_ROWS", batch)
    _, b, path = files
    chunks = list(io.iter_chunks(path, 777))
    assert [len(c) for c in chunks[:-1]] == [777] * (len(chunks) - 1)
    assert sum(len(c) for c in chunks) == len(b)
    for name in b.fields:
        assert np.array_equal(np.concatenate([c.fields[name].bits for c in chunks]),
                              b.fields[name].bits)
        assert np.array_equal(np.concatenate([c.fields[name].present for c in chunks]),
                              b.fields[name].present)
    for name in b.tokens:
        assert np.array_equal(np.concatenate([c.tokens[name] for c in chunks]), b.tokens[name])
    assert list(io.read_ids(path)) == list(b.ids)
    pos = np.array([0, 1, 776, 777, 778, len(b) - 1])
    r = io.read_rows(path, pos)
    assert list(r.ids) == list(b.ids[pos])
    assert np.array_equal(r.fields["surname"].bits, b.fields["surname"].bits[pos])
    t = io.read_tokens(path, ["mk1", "surname"])
    assert np.array_equal(t["mk1"], b.tokens["mk1"])
    with pytest.raises(KeyError, match="no token 'nope'"):
        io.read_tokens(path, ["nope"])
    with pytest.raises(ValueError, match="increasing"):
        io.read_rows(path, np.array([3, 2]))
    with pytest.raises(IndexError, match="out of range"):
        io.read_rows(path, np.array([len(b)]))
    with pytest.raises(ValueError, match="rows must be"):
        next(io.iter_chunks(path, 0))


def test_a_modified_file_fails_its_checksum_when_streamed(files: tuple, tmp_path: Path
                                                           ) -> None:
    a, _, path = files
    table = pq.read_table(path)
    col = table.column("tok:mk1").to_numpy().copy()
    col[len(col) // 2] ^= np.uint64(1)
    i = table.schema.get_field_index("tok:mk1")
    bad = table.set_column(i, table.schema.field(i), [col])
    out = tmp_path / "bad.nislink.parquet"
    kv = pq.ParquetFile(path).metadata.metadata
    pq.write_table(bad.replace_schema_metadata({b"nislink": kv[b"nislink"]}), out)
    with pytest.raises(EncodedFileError, match="checksum mismatch"):
        for _ in io.iter_chunks(out, 500):
            pass
    with pytest.raises(EncodedFileError, match="checksum mismatch"):
        link_stream(a, out, chunk_rows=500)


def test_file_wide_caps_block_each_chunk_as_the_whole_file(files: tuple) -> None:
    """With a tiny cap, a per-chunk count would let through values the whole file holds
    too often; the file-wide ``b_common`` restores the in-memory candidates exactly."""
    a, b, _ = files
    rules = [block.TokenBlocking(["surname", "dob", "postcode"], max_block_size=3)]
    whole = block.candidate_pairs(a, b, rules)
    common = {t: common_values(b.tokens[t], 3) for t in ("surname", "dob", "postcode")}
    assert all(len(v) for v in common.values())
    naive, capped = [], []
    for lo in range(0, len(b), 400):
        part = b.take(np.arange(lo, min(lo + 400, len(b))))
        for out, bc in ((naive, None), (capped, common)):
            ia, ib = block.candidate_pairs(a, part, rules, b_common=bc)
            out.append(ia * len(b) + ib + lo)
    key = np.sort(whole[0] * len(b) + whole[1])
    assert np.array_equal(np.sort(np.concatenate(capped)), key)
    assert len(np.concatenate(naive)) > len(key)  # per-chunk caps would not do
    with pytest.raises(ValueError, match="de-duplication"):
        block.candidate_pairs(a, None, rules, b_common=common)


def test_common_values() -> None:
    v = np.array([5, 5, 5, 0, 0, 0, 0, 7, 7, 9], dtype=np.uint64)
    assert list(common_values(v, 2)) == [5]
    assert list(common_values(v, 1)) == [5, 7]
    assert len(common_values(v, 3)) == 0


def test_streamed_link_equals_in_memory_link_when_the_sample_is_the_file(files: tuple
                                                                         ) -> None:
    a, b, path = files
    mem = link(a, b)
    seen: list[np.ndarray] = []
    res = link_stream(a, path, chunk_rows=611, on_candidates=lambda i, j: seen.append(
        i * len(b) + j))
    pd.testing.assert_frame_equal(res.pairs, mem.pairs)
    assert res.candidates == mem.candidates
    ia, ib = candidates(a, b)
    assert np.array_equal(np.sort(np.concatenate(seen)), np.sort(ia * len(b) + ib))
    assert res.model.m == mem.model.m and res.model.prior == mem.model.prior
    assert set(res.timings) == {"sample", "tokens", "fit", "chunks", "resolve"}


@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk=st.integers(150, 5000), one_to_one=st.sampled_from(["greedy", None]))
def test_streamed_links_equal_in_memory_links_with_the_same_model(
        files: tuple, chunk: int, one_to_one: str | None) -> None:
    """A model fitted on a sample of B, then every chunk size: the links are those of the
    in-memory run with that model (file-wide caps and term frequencies)."""
    a, b, path = files
    fitted = _sampled_model(a, path)
    res = link_stream(a, path, chunk_rows=chunk, model=fitted, one_to_one=one_to_one,
                      min_weight=-5.0)
    mem = link(a, b, model=fitted, one_to_one=one_to_one, min_weight=-5.0)
    pd.testing.assert_frame_equal(res.pairs, mem.pairs)


_MODEL: dict = {}


def _sampled_model(a, path):  # type: ignore[no-untyped-def]
    if "m" not in _MODEL:
        res = link_stream(a, path, chunk_rows=1000, sample_rows=1200, seed=3)
        assert res.model.info["stream_sample"] == {"rows": 1200, "of": io.read_meta(path)["rows"],
                                                   "seed": 3}
        _MODEL["m"] = res.model
    return _MODEL["m"]


def test_term_frequencies_come_from_the_whole_files(files: tuple) -> None:
    """A chunk scored with the file-wide tables scores as the whole file does; without
    them (the chunk's own frequencies) exact-name agreements would weigh differently."""
    a, b, _ = files
    m = _sampled_model(a, files[2])
    part = b.take(np.arange(0, 500))
    ia, ib = candidates(a, part)
    whole = m.score(a, b, ia, ib)["match_weight"].to_numpy()  # ib < 500 index b alike
    from nislink.streaming import _counts, _tf_table

    tables = {c.name: _tf_table([_counts(a.tokens[c.token]), _counts(b.tokens[c.token])])
              for c in m.comparisons if c.tf_adjust and c.token}
    assert tables
    streamed = m.with_tf_tables(tables).score(a, part, ia, ib)["match_weight"].to_numpy()
    own = m.score(a, part, ia, ib)["match_weight"].to_numpy()
    assert np.array_equal(streamed, whole)
    assert not np.array_equal(own, whole)


def test_clk_only_files_stream_with_dice_blocking(tmp_path: Path) -> None:
    """CLKs written by clkhash 0.18.3 (FEBRL4, 500 a side): streamed with a fixed Dice
    threshold and a Dice-level model, the links are the in-memory ones; the default
    CLK-only model ranks candidates across the whole file and is refused."""
    import json

    from nislink.model import CLK_THRESHOLDS, RECORD_FILTER, FieldComparison

    clks = Path(__file__).parent / "data" / "clkhash" / "clks"
    ids = json.loads((clks / "febrl4_ids.json").read_text())
    fa = io.read_clks(clks / "febrl4_a.json", ids=ids["a"])
    fb = io.read_clks(clks / "febrl4_b.json", ids=ids["b"])
    path = tmp_path / "b.nislink.parquet"
    io.save(fb, path)
    rule = DiceBlocking(threshold=0.6)
    with pytest.raises(ValueError, match="ranks each record's candidates"):
        link_stream(fa, path, blocking=[rule])
    comps = [FieldComparison(RECORD_FILTER, field=RECORD_FILTER, record=True,
                             thresholds=CLK_THRESHOLDS)]
    res = link_stream(fa, path, blocking=[rule], chunk_rows=77, comparisons=comps)
    mem = link(fa, fb, blocking=[rule], model=res.model)
    pd.testing.assert_frame_equal(res.pairs, mem.pairs)
    assert len(res.pairs) > 400


def test_bad_options_and_files_are_clear_errors(files: tuple, tmp_path: Path) -> None:
    a, b, path = files
    with pytest.raises(ValueError, match="LSHBlocking"):
        link_stream(a, path, blocking=[block.LSHBlocking(threshold=0.8)])
    with pytest.raises(TypeError, match="list of rules"):
        link_stream(a, path, blocking={"rules": []})
    with pytest.raises(ValueError, match="chunk_rows"):
        link_stream(a, path, chunk_rows=0)
    with pytest.raises(ValueError, match="sample_rows"):
        link_stream(a, path, sample_rows=True)
    with pytest.raises(EncodedFileError, match="no such file"):
        link_stream(a, tmp_path / "missing.parquet")
    other = Encoder(Schema.uk_default(), Secret.from_bytes(bytes(32))).encode(
        pd.DataFrame({"rid": ["x1"], "forename": ["ANN"], "surname": ["LEE"],
                      "dob": ["2001-02-03"]}), id_column="rid")
    with pytest.raises(IncompatibleEncodingError, match="key fingerprint"):
        link_stream(other, path)


def test_command_line_streams_file_b(files: tuple, tmp_path: Path) -> None:
    a, b, path = files
    pa_ = tmp_path / "a.nislink.parquet"
    io.save(a, pa_)
    out = tmp_path / "links.csv"
    cmd = [sys.executable, "-m", "nislink.cli", "link", str(pa_), str(path), "-o", str(out), "-q"]
    r = subprocess.run(cmd + ["--stream-rows", "700"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "streamed 700 rows at a time" in r.stdout
    got = pd.read_csv(out, dtype={"id_a": str, "id_b": str})
    want = link(a, b).pairs
    assert list(got["id_a"]) == list(want["id_a"]) and list(got["id_b"]) == list(want["id_b"])
    r = subprocess.run(cmd + ["--stream-rows", "0"], capture_output=True, text=True)
    assert r.returncode != 0 and "--stream-rows must be at least 1" in r.stderr
    r = subprocess.run(cmd + ["--stream-rows", "700", "--report", str(tmp_path / "r.html")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "cannot be used with --stream-rows" in r.stderr
    r = subprocess.run([sys.executable, "-m", "nislink.cli", "link", str(pa_),
                        str(tmp_path / "nope.parquet"), "-o", str(out), "--stream-rows", "9"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_combined_tokens_in_a_chunk_match_the_whole(files: tuple) -> None:
    a, b, _ = files
    part = b.take(np.arange(100, 300))
    combos = [("forename", "dob")]
    assert np.array_equal(with_combined_tokens(part, combos).tokens["forename+dob"],
                          with_combined_tokens(b, combos).tokens["forename+dob"][100:300])

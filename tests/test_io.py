"""Encoded files: round trip, no raw identifiers or unkeyed hashes, corrupt-file refusal,
compatibility checks, clkhash interchange."""

from __future__ import annotations

import base64
import hashlib
import json
import warnings

import blake3
import numpy as np
import pyarrow.parquet as pq
import pytest

from nislink.encode import EncodedFrame, Encoder
from nislink.io import (
    EncodedFileError,
    IncompatibleEncodingError,
    RetentionWarning,
    check_compatible,
    load,
    read_meta,
)
from nislink.schema import Schema
from nislink.secrets import Secret
from test_encode import people, uk_with_clk

KEY = Secret(bytes(range(32)))


@pytest.fixture(scope="module")
def frame() -> EncodedFrame:
    # with a CLK, to test its storage too (the default schema has none)
    return Encoder(uk_with_clk(), KEY).encode(people(200, seed=3), id_column="id",
                                              party="LA", destroy_by="2099-01-01")


def same(a: EncodedFrame, b: EncodedFrame) -> None:
    assert list(a.ids) == list(b.ids)
    assert list(a.fields) == list(b.fields) and list(a.tokens) == list(b.tokens)
    for k in a.fields:
        assert a.fields[k].nbits == b.fields[k].nbits
        assert np.array_equal(a.fields[k].bits, b.fields[k].bits)
        assert np.array_equal(a.fields[k].popcount, b.fields[k].popcount)
        assert np.array_equal(a.fields[k].present, b.fields[k].present)
    assert (a.clk is None) == (b.clk is None)
    if a.clk is not None:
        assert np.array_equal(a.clk.bits, b.clk.bits)
    for k in a.tokens:
        assert np.array_equal(a.tokens[k], b.tokens[k])


def test_round_trip_and_metadata(frame: EncodedFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "la.nislink.parquet"
    frame.save(p)
    back = load(p)
    same(frame, back)
    m = read_meta(p)
    for key in ("scheme_version", "schema_fingerprint", "key_fingerprint", "party", "created",
                "destroy_by", "rows", "checksum", "schema"):
        assert key in m
    assert m["rows"] == 200 and m["party"] == "LA" and m["checksum"].startswith("blake3:")
    assert Schema.from_dict(m["schema"]).fingerprint == m["schema_fingerprint"]
    assert back.meta["key_fingerprint"] == KEY.fingerprint()


def _variants(value: str) -> set[bytes]:
    out = set()
    for v in {value, value.lower(), value.upper(), value.title(), value.replace(" ", "")}:
        out.add(v.encode("utf-8"))
        out.add(v.encode("utf-16-le"))
    return {b for b in out if len(b) >= 4}


def _unkeyed_hashes(value: str) -> set[bytes]:
    out = set()
    for v in {value, value.lower(), value.upper(), value.replace(" ", "")}:
        b = v.encode("utf-8")
        for digest in (hashlib.md5(b).digest(), hashlib.sha1(b).digest(),
                       hashlib.sha256(b).digest(), blake3.blake3(b).digest()):
            out.add(digest[:8])
            out.add(digest.hex()[:16].encode())
            out.add(base64.b64encode(digest)[:12])
    return out


def test_no_raw_identifier_or_unkeyed_hash_in_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    df = people(120, seed=9)
    e = Encoder(Schema.uk_default(), KEY).encode(df, id_column="id", party="LA")
    p = tmp_path / "x.parquet"
    e.save(p)
    blob = p.read_bytes()
    # also the decompressed content: every column's values and the metadata
    table = pq.read_table(p)
    parts = [blob, json.dumps(read_meta(p)).encode()]
    for col in table.column_names:
        if col == "id":
            continue
        arr = table.column(col).combine_chunks()
        parts.append(b"".join(bytes(buf) for buf in arr.buffers() if buf is not None))
    content = b"\x00".join(parts)
    needles: set[bytes] = set()
    for col in ("forename", "surname", "postcode", "nino", "upn"):
        for v in df[col]:
            if v:
                needles |= _variants(str(v))
                needles |= _unkeyed_hashes(str(v))
    for v in df["dob"]:
        d, m, y = v.split("/")
        for text in (v, f"{y}-{m}-{d}", f"{d}{m}{y}", f"{y}{m}{d}"):
            needles |= _variants(text) | _unkeyed_hashes(text)
    found = [n for n in needles if n in content]
    assert not found, found[:5]
    # sanity: the scan can fail (ids are in the file)
    assert df["id"].iloc[0].encode() in blob or df["id"].iloc[0].encode() in b"".join(
        bytes(b) for b in table.column("id").combine_chunks().buffers() if b is not None)


def test_rejects_not_saved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    df = people(20, seed=2)
    df.loc[3, ["forename", "surname", "dob", "nino", "upn"]] = ["", "", "", "", ""]
    e = Encoder(Schema.uk_default(), KEY).encode(df, id_column="id")
    assert len(e.rejects) == 1
    e.save(tmp_path / "r.parquet")
    back = load(tmp_path / "r.parquet")
    assert len(back) == 19 and df.loc[3, "id"] not in set(back.ids)


def test_truncated_and_corrupt_files_refused(frame: EncodedFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "ok.parquet"
    frame.save(p)
    blob = p.read_bytes()
    for cut in (0, 10, len(blob) // 2, len(blob) - 9):
        q = tmp_path / f"cut{cut}.parquet"
        q.write_bytes(blob[:cut])
        with pytest.raises(EncodedFileError, match="cannot load"):
            load(q)
    # flip bits inside the data pages: either Parquet or our checksum must notice
    refused = 0
    for offset in range(100, len(blob) // 2, max(1, len(blob) // 40)):
        bad = bytearray(blob)
        bad[offset] ^= 0x5A
        q = tmp_path / "bad.parquet"
        q.write_bytes(bytes(bad))
        try:
            load(q)
        except EncodedFileError:
            refused += 1
    assert refused == len(range(100, len(blob) // 2, max(1, len(blob) // 40)))
    with pytest.raises(EncodedFileError, match="no such file"):
        load(tmp_path / "missing.parquet")


def test_modified_content_fails_checksum(frame: EncodedFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    p = tmp_path / "ok.parquet"
    frame.save(p)
    table = pq.read_table(p)
    meta = pq.ParquetFile(p).metadata.metadata
    tok = table.column("tok:mk1").to_numpy().copy()
    tok[5] ^= np.uint64(1)
    table = table.set_column(table.column_names.index("tok:mk1"),
                             pa.field("tok:mk1", pa.uint64(), nullable=False),
                             pa.array(tok, type=pa.uint64()))
    q = tmp_path / "tampered.parquet"
    w = pq.ParquetWriter(q, table.schema.remove_metadata())
    w.write_table(table.replace_schema_metadata(None))
    w.add_key_value_metadata({b"nislink": meta[b"nislink"]})
    w.close()
    with pytest.raises(EncodedFileError, match="checksum"):
        load(q)


def test_not_an_encoded_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    p = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(p)
    with pytest.raises(EncodedFileError, match="no nislink metadata"):
        load(p)


def test_check_compatible(frame: EncodedFrame) -> None:
    df = people(10, seed=4)
    ok = Encoder(uk_with_clk(), KEY).encode(df, id_column="id", party="DWP")
    check_compatible(frame, ok)
    frame.check_compatible(ok)
    other_key = Encoder(uk_with_clk(), Secret(bytes(32))).encode(df, id_column="id",
                                                                  party="DWP")
    with pytest.raises(IncompatibleEncodingError, match="key fingerprint") as info:
        check_compatible(frame, other_key)
    assert "schema fingerprint" not in str(info.value) and "same secret" in str(info.value)
    other_schema = Encoder(Schema.uk_default().select(["forename", "surname", "dob", "sex"]),
                           KEY).encode(df, id_column="id")
    with pytest.raises(IncompatibleEncodingError, match="schema fingerprint") as info:
        check_compatible(frame, other_schema)
    assert "key fingerprint" not in str(info.value)


def test_retention_warning(tmp_path) -> None:  # type: ignore[no-untyped-def]
    e = Encoder(Schema.uk_default(), KEY).encode(people(5), id_column="id",
                                                 destroy_by="2000-01-01")
    e.save(tmp_path / "old.parquet")
    with pytest.warns(RetentionWarning):
        load(tmp_path / "old.parquet")


def test_clkhash_strings_round_trip_and_bit_order(frame: EncodedFrame) -> None:
    strings = frame.to_clkhash()
    assert len(strings) == len(frame)
    raw = base64.b64decode(strings[0])
    assert len(raw) == 128
    dense = frame.clk.to_bool()[0]
    # clkhash/bitarray big-endian: bit j is bit 7 - j % 8 of byte j // 8
    for j in np.flatnonzero(dense)[:20]:
        assert raw[j // 8] >> (7 - j % 8) & 1
    back = EncodedFrame.from_clkhash(strings, ids=frame.ids)
    assert np.array_equal(back.clk.bits, frame.clk.bits) and list(back.ids) == list(frame.ids)
    with pytest.raises(ValueError, match="row 1: not a valid base64"):
        EncodedFrame.from_clkhash([strings[0], "not base64!"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EncodedFrame.from_clkhash([])

"""encode_file: chunked, multi-process encoding of CSV/Parquet; same output whatever the
chunk size and worker count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_encode import people

from nislink.encode import Encoder, encode_file
from nislink.io import load, read_meta
from nislink.schema import Schema
from nislink.secrets import Secret

KEY = Secret(bytes(range(32)))


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple[pd.DataFrame, str, str]:  # type: ignore[no-untyped-def]
    df = people(230, seed=11)
    df.loc[7, ["forename", "surname", "dob", "nino", "upn"]] = ["", "", "", "", ""]
    d = tmp_path_factory.mktemp("files")
    csv, parquet = str(d / "in.csv"), str(d / "in.parquet")
    df.to_csv(csv, index=False)
    df.to_parquet(parquet, index=False)
    return df, csv, parquet


def _content(path: str) -> tuple:  # type: ignore[type-arg]
    f = load(path)
    meta = read_meta(path)
    return (list(f.ids), {k: v.bits.tobytes() for k, v in f.fields.items()},
            None if f.clk is None else f.clk.bits.tobytes(), {k: v.tobytes() for k, v in f.tokens.items()},
            meta["checksum"], meta["rows"])


def test_same_output_whatever_chunks_and_workers(table, tmp_path) -> None:  # type: ignore[no-untyped-def]
    df, csv, parquet = table
    schema = Schema.uk_default()
    runs = [(csv, 1000, 1), (csv, 17, 1), (csv, 50, 2), (parquet, 64, 2), (parquet, 1, 1)]
    contents = []
    for i, (src, chunk, workers) in enumerate(runs):
        out = str(tmp_path / f"out{i}.parquet")
        res = encode_file(src, out, schema, KEY, "id", chunk_size=chunk, workers=workers,
                          progress=False, party="LA", destroy_by="2099-12-31")
        assert res.rows_read == 230 and res.rows_encoded == 229 and res.rows_rejected == 1
        assert list(res.rejects["row"]) == [7]
        contents.append(_content(out))
    assert all(c == contents[0] for c in contents[1:])
    # and the same as encoding in memory
    mem = Encoder(schema, KEY).encode(df.astype(str).replace("", None), id_column="id")
    f = load(str(tmp_path / "out0.parquet"))
    assert list(f.ids) == list(mem.ids)
    assert f.clk is None and mem.clk is None
    for k in mem.fields:
        assert np.array_equal(f.fields[k].bits, mem.fields[k].bits)
    for k in mem.tokens:
        assert np.array_equal(f.tokens[k], mem.tokens[k])
    assert f.meta["party"] == "LA" and f.meta["destroy_by"] == "2099-12-31"


def test_row_numbers_as_ids_and_rejects_file(table, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, csv, _ = table
    out, rej = str(tmp_path / "o.parquet"), str(tmp_path / "rejects.csv")
    res = encode_file(csv, out, Schema.uk_default(), KEY, chunk_size=40, workers=1,
                      progress=False, rejects_path=rej)
    f = load(out)
    assert f.ids[0] == "0" and "7" not in set(f.ids) and len(f) == 229
    assert pd.read_csv(rej)["row"].tolist() == [7]
    assert res.meta["rows"] == 229


def test_duplicate_id_is_rejected_the_same_at_any_chunk_size(table, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Both rows of a repeated id are rejected with the reason, whether the two rows fall in
    one chunk or in two; the outputs are identical."""
    df, _, _ = table
    d = df.copy()
    d.loc[200, "id"] = d.loc[3, "id"]
    src = str(tmp_path / "dup.csv")
    d.to_csv(src, index=False)
    outs = []
    for size in (100, 100_000, 7):
        out, rej = tmp_path / f"dup{size}.parquet", tmp_path / f"dup{size}.rejects.csv"
        res = encode_file(src, str(out), Schema.uk_default(), KEY, "id", chunk_size=size,
                          workers=1, progress=False, rejects_path=rej)
        r = pd.read_csv(rej, dtype=str)
        dup = r[r["reason"] == "duplicated id"]
        assert sorted(dup["row"].astype(int)) == [3, 200], size
        assert set(dup["id"]) == {str(d.loc[3, "id"])}
        outs.append((load(str(out)), r, res.summary.to_dict()))
    for f, r, s in outs[1:]:
        assert list(f.ids) == list(outs[0][0].ids)
        pd.testing.assert_frame_equal(r, outs[0][1])
        assert s == outs[0][2]


def test_missing_column_and_empty_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = str(tmp_path / "bad.csv")
    pd.DataFrame({"id": ["a"], "forename": ["x"]}).to_csv(src, index=False)
    with pytest.raises(ValueError, match="surname"):
        encode_file(src, str(tmp_path / "o.parquet"), Schema.uk_default(), KEY, "id",
                    progress=False, workers=1)
    assert not (tmp_path / "o.parquet").exists()
    empty = str(tmp_path / "empty.csv")
    pd.DataFrame(columns=["id", "forename", "surname", "dob", "sex", "postcode", "nino",
                          "upn"]).to_csv(empty, index=False)
    res = encode_file(empty, str(tmp_path / "e.parquet"), Schema.uk_default(), KEY, "id",
                      progress=False, workers=1)
    assert res.rows_encoded == 0 and len(load(str(tmp_path / "e.parquet"))) == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_absent_columns_encode_as_missing_when_allowed(table, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    """A party without UPNs: the upn column absent from the file is all missing, and the
    other fields encode exactly as they would with an empty upn column."""
    df, *_ = table
    no_upn = df.drop(columns=["upn"])
    blank_upn = df.assign(upn="")
    src, ref = tmp_path / f"no_upn.{fmt}", tmp_path / f"blank_upn.{fmt}"
    for frame_, path in ((no_upn, src), (blank_upn, ref)):
        if fmt == "csv":
            frame_.to_csv(path, index=False)
        else:
            frame_.to_parquet(path, index=False)
    schema = Schema.uk_default()
    with pytest.raises(ValueError, match="upn"):
        encode_file(src, tmp_path / "x.parquet", schema, KEY, id_column="id", progress=False,
                    allow_absent=False)
    out_a, out_b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    encode_file(src, out_a, schema, KEY, id_column="id", progress=False, allow_absent=True)
    encode_file(ref, out_b, schema, KEY, id_column="id", progress=False)
    a, b = load(out_a), load(out_b)
    assert list(a.ids) == list(b.ids)
    assert not a.tokens["upn"].any() and not a.tokens["mk5"].any()
    for k in a.fields:
        assert np.array_equal(a.fields[k].bits, b.fields[k].bits), k
    for k in a.tokens:
        assert np.array_equal(a.tokens[k], b.tokens[k]), k
    # and the in-memory encoder agrees
    enc = Encoder(schema, KEY).encode(no_upn, id_column="id", allow_absent=True)
    assert np.array_equal(enc.fields["forename"].bits, a.fields["forename"].bits)
    with pytest.raises(ValueError, match="upn"):
        Encoder(schema, KEY).encode(no_upn, id_column="id", allow_absent=False)
    # the default (the same as the command line's): optional fields may be absent
    dflt = Encoder(schema, KEY).encode(no_upn, id_column="id")
    assert np.array_equal(dflt.tokens["upn"], enc.tokens["upn"])
    assert dflt.summary.absent == ["upn"]


def test_input_column_names_are_not_in_the_fingerprint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two parties whose schemas differ only in input column names share the fingerprint,
    and the same people encoded from differently named columns link (identical encodings)."""
    import dataclasses

    base = Schema.uk_default()
    renamed = Schema.from_dict(base.to_dict())
    renamed.fields = [dataclasses.replace(f, column=f"In {f.name}") for f in renamed.fields]
    assert [f.column for f in renamed.fields] != [f.column for f in base.fields]
    assert renamed.fingerprint == base.fingerprint
    df = pd.DataFrame({"id": ["1", "2"], "forename": ["John", "Ann"], "surname": ["Smith", "Lee"],
                       "dob": ["01/02/1980", "03/04/1991"], "postcode": ["SW1A 1AA", "M1 1AE"]})
    a = Encoder(base, KEY).encode(df, id_column="id")
    b = Encoder(renamed, KEY).encode(df.rename(columns=lambda c: c if c == "id" else f"In {c}"),
                                     id_column="id")
    # the API's mapping (schema field -> input column) gives the same again
    c = Encoder(base, KEY).encode(df.rename(columns={"dob": "DOB", "forename": "First Name"}),
                                  columns={"dob": "DOB", "forename": "First Name"},
                                  id_column="id")
    for other in (b, c):
        assert other.meta["schema_fingerprint"] == a.meta["schema_fingerprint"]
        for k in a.fields:
            assert np.array_equal(a.fields[k].bits, other.fields[k].bits), k
        for k in a.tokens:
            assert np.array_equal(a.tokens[k], other.tokens[k]), k
    from nislink.io import check_compatible

    check_compatible(a, b)

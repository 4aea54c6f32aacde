"""Encoder inputs other than pandas: pyarrow, Polars (through Arrow), Parquet and CSV paths
(issue 15). Each must give encodings bit-identical to the pandas frame they hold."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import nislink
from nislink.encode.clkhash import parse_clkhash_schema
from nislink.encode.columns import as_pandas
from nislink.synth import generate_study

SECRET = nislink.Secret.from_bytes(bytes(range(32)))


def _people() -> pd.DataFrame:
    """The LA records of 300 synthetic people (strings, dates, missing values)."""
    la = generate_study(300, seed=5).la
    return la.reset_index(drop=True)


def _same(x: nislink.EncodedFrame, y: nislink.EncodedFrame) -> None:
    assert list(x.ids) == list(y.ids)
    assert sorted(x.fields) == sorted(y.fields) and sorted(x.tokens) == sorted(y.tokens)
    for f in x.fields:
        assert np.array_equal(x.fields[f].bits, y.fields[f].bits), f
        assert np.array_equal(x.fields[f].present, y.fields[f].present), f
    for t in x.tokens:
        assert np.array_equal(x.tokens[t], y.tokens[t]), t
    assert (x.clk is None) == (y.clk is None)
    if x.clk is not None:
        assert np.array_equal(x.clk.bits, y.clk.bits)


def _inputs(df: pd.DataFrame, tmp: Path) -> dict[str, object]:
    table = pa.Table.from_pandas(df, preserve_index=False)
    df.to_csv(tmp / "people.csv", index=False)
    pq.write_table(table, tmp / "people.parquet")
    out: dict[str, object] = {
        "pyarrow Table": table,
        "pyarrow RecordBatch": table.combine_chunks().to_batches()[0],
        "Parquet path": str(tmp / "people.parquet"),
        "CSV path": tmp / "people.csv",
    }
    if importlib.util.find_spec("polars") is not None:  # optional: the [test] extra
        import polars as pl

        out["Polars DataFrame"] = pl.from_arrow(table)
    return out


def test_inputs_encode_bit_identically(tmp_path: Path) -> None:
    df = _people()
    enc = nislink.Encoder(nislink.Schema.uk_default(), SECRET)
    id_col = "la_id"
    ref = enc.encode(df, id_column=id_col)
    assert len(ref) > 200
    seen = []
    for name, data in _inputs(df, tmp_path).items():
        got = nislink.Encoder(nislink.Schema.uk_default(), SECRET).encode(data, id_column=id_col)
        _same(ref, got)
        seen.append(name)
    assert {"pyarrow Table", "Parquet path", "CSV path"} <= set(seen)


def test_clkhash_inputs_encode_bit_identically(tmp_path: Path) -> None:
    df = pd.DataFrame({"given_name": ["jane", "jayne", None, "bob"],
                       "surname": ["smith", "smyth", "jones", None]})
    name = {"format": {"type": "string", "encoding": "utf-8"},
            "hashing": {"comparison": {"type": "ngram", "n": 2},
                        "strategy": {"bitsPerToken": 20},
                        "missingValue": {"sentinel": ""}}}
    schema = parse_clkhash_schema({"version": 3, "clkConfig": {"l": 512, "kdf": {"type": "HKDF"}},
                                   "features": [{"identifier": "given_name", **name},
                                                {"identifier": "surname", **name}]})
    filled = df.fillna("")
    ref = schema.encode(filled, "secret")
    for name_, data in _inputs(filled, tmp_path).items():
        assert np.array_equal(schema.encode(data, "secret").bits, ref.bits), name_


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file: .*nope.csv"):
        as_pandas(tmp_path / "nope.csv")
    with pytest.raises(TypeError, match="expects a pandas DataFrame, a pyarrow Table"):
        nislink.Encoder(nislink.Schema.uk_default(), SECRET).encode([1, 2, 3])


def test_too_long_rows_mixed_values() -> None:
    """Text longer than the limit is flagged, whatever else the column holds (numbers,
    missing values, tuples, whose length is not a text length)."""
    import numpy as np
    import pandas as pd

    from nislink.encode.columns import too_long_rows

    df = pd.DataFrame({"a": ["x" * 5, None, "y" * 11, 3.0],
                       "b": ["ok", "fine", None, "short"],
                       "c": [("t",) * 20, "z", "w" * 10, None]})
    got = too_long_rows(df, ["a", "b", "c", "missing"], limit=10)
    assert list(got) == ["a"]
    assert got["a"].tolist() == [False, False, True, False]
    got = too_long_rows(df, ["c"], limit=9)
    assert got["c"].tolist() == [False, False, True, False]
    assert not too_long_rows(pd.DataFrame({"d": np.array(["é" * 10], dtype=object)}), ["d"], 10)

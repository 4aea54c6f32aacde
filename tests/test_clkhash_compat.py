"""clkhash compatibility: our CLKs equal clkhash 0.18.3's bit for bit.

The expected CLKs in ``tests/data/clkhash/`` were computed by clkhash itself
(``benchmarks/make_clkhash_vectors.py``, run in the peers' environment); these tests do not
need that environment.
"""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.encode.clkhash_compat import (
    ClkhashEntryError,
    ClkhashSchemaError,
    clkhash_keys,
    from_base64,
    parse_clkhash_schema,
    to_base64,
)
from nislink.encode.frame import BitMatrix

DATA = Path(__file__).parent / "data" / "clkhash"
VECTORS = json.loads((DATA / "vectors.json").read_text(encoding="utf-8"))
CASES = {c["name"]: c for c in VECTORS["cases"]}


def _rows(case: dict) -> list[list[str]]:
    return json.loads((DATA / case["rows"]).read_text(encoding="utf-8"))["rows"]


def _secret(case: dict) -> bytes | str:
    return case["secret"] if "secret" in case else base64.b64decode(case["secret_b64"])


def _schema(case: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse_clkhash_schema(DATA / case["schema"])


def _dice(a: BitMatrix, b: BitMatrix) -> np.ndarray:
    inter = np.bitwise_count(a.bits & b.bits).sum(axis=1)
    return 2 * inter / np.maximum(a.popcount + b.popcount, 1)


def test_vectors_cover_what_the_issue_asks() -> None:
    schemas = [json.loads((DATA / c["schema"]).read_text()) for c in CASES.values()]
    text = json.dumps(schemas)
    for needle in ('"blakeHash"', '"doubleHash"', '"bitsPerToken"', '"bitsPerFeature"',
                   '"positional": true', '"exact"', '"xor_folds"', '"ignored": true',
                   '"missingValue"', '"prevent_singularity": true', '"numeric"', '"utf-16"'):
        assert needle in text, needle
    assert VECTORS["clkhash"] == "0.18.3"
    assert sum(len(_rows(c)) for c in CASES.values()) >= 1000


@pytest.mark.parametrize("name", sorted(CASES))
def test_bit_for_bit_equal_to_clkhash(name: str) -> None:
    case = CASES[name]
    rows = _rows(case)
    bm = _schema(case).encode(rows, _secret(case))
    assert len(bm) == len(rows) == len(case["clks"])
    got = to_base64(bm)
    mismatched = [i for i, (a, b) in enumerate(zip(got, case["clks"])) if a != b]
    assert mismatched == [], f"{name}: rows {mismatched[:10]} differ from clkhash"
    # and the same bits when read back from clkhash's strings
    theirs = from_base64(case["clks"], bm.nbits)
    np.testing.assert_array_equal(theirs.bits, bm.bits)
    np.testing.assert_array_equal(theirs.popcount, bm.popcount)


def test_dataframe_input_by_name_and_by_position() -> None:
    case = CASES["febrl_blake_bpt"]
    cols = json.loads((DATA / case["rows"]).read_text())["columns"]
    df = pd.DataFrame(_rows(case), columns=cols)
    schema = _schema(case)
    by_name = schema.encode(df[cols[::-1]], _secret(case))  # reordered columns, picked by name
    assert to_base64(by_name) == case["clks"]
    positional = df.copy()
    positional.columns = [f"c{i}" for i in range(len(cols))]
    assert to_base64(schema.encode(positional, _secret(case))) == case["clks"]
    # ignored features need no column when selecting by name
    assert to_base64(schema.encode(df.drop(columns=["rec_id", "soc_sec_id"]), _secret(case))) == \
        case["clks"]


def test_batches_and_single_rows_give_the_same_bits() -> None:
    case = CASES["unicode_double"]
    rows, secret, schema = _rows(case), _secret(case), _schema(case)
    whole = schema.encode(rows, secret)
    np.testing.assert_array_equal(schema.encode(rows, secret, batch_size=7).bits, whole.bits)
    for i in (0, 13, len(rows) - 1):
        np.testing.assert_array_equal(schema.encode([rows[i]], secret).bits[0], whole.bits[i])


def test_prevent_singularity_is_exercised() -> None:
    case = CASES["tiny_double_nonsingular_l37_fold1"]
    raw = json.loads((DATA / case["schema"]).read_text())
    for f in raw["features"]:
        if "hashing" in f:
            f["hashing"]["hash"] = {"type": "doubleHash"}
    flipped = parse_clkhash_schema(raw).encode(_rows(case), _secret(case))
    assert to_base64(flipped) != case["clks"]


def test_bit_index_mapping() -> None:
    # clkhash bit j is the most significant-first bit j%8 of byte j//8; ours is word j//64, bit j%64
    for nbits, j in [(64, 0), (64, 63), (100, 70), (37, 36), (1024, 517)]:
        dense = np.zeros((1, nbits), dtype=bool)
        dense[0, j] = True
        bm = BitMatrix.from_bool(dense)
        assert bm.bits[0, j // 64] == np.uint64(1) << np.uint64(j % 64)
        raw = base64.b64decode(to_base64(bm)[0])
        assert len(raw) == (nbits + 7) // 8
        expected = bytearray(len(raw))
        expected[j // 8] = 0x80 >> (j % 8)
        assert raw == bytes(expected)
        np.testing.assert_array_equal(from_base64(to_base64(bm), nbits).bits, bm.bits)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300).flatmap(
    lambda nbits: st.tuples(st.just(nbits), st.lists(
        st.lists(st.booleans(), min_size=nbits, max_size=nbits), min_size=0, max_size=5))))
def test_base64_round_trip(arg: tuple[int, list[list[bool]]]) -> None:
    nbits, rows = arg
    dense = np.array(rows, dtype=bool).reshape(len(rows), nbits)
    bm = BitMatrix.from_bool(dense)
    back = from_base64(to_base64(bm), nbits)
    np.testing.assert_array_equal(back.bits, bm.bits)
    assert back.nbits == nbits and back.popcount.tolist() == dense.sum(axis=1).tolist()


def test_from_base64_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="row 1: not a valid base64"):
        from_base64(["AAAA", "%%%"], 24)
    with pytest.raises(ValueError, match="row 0: 2 bytes, expected 3"):
        from_base64(["AAA="], 24)
    with pytest.raises(ValueError, match="padding bits"):
        from_base64([base64.b64encode(b"\x01").decode()], 7)  # bit 7 is beyond nbits


_SIMPLE = {
    "version": 3,
    "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
    "features": [
        {"identifier": "id", "ignored": True},
        {"identifier": "name", "format": {"type": "string", "encoding": "ascii", "maxLength": 20},
         "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 10}}},
        {"identifier": "dob", "format": {"type": "date", "format": "%Y-%m-%d"},
         "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 20},
                     "hash": {"type": "doubleHash"}}},
    ],
}


def test_entry_errors_name_row_and_field_but_not_the_value() -> None:
    schema = parse_clkhash_schema(_SIMPLE)
    rows = [["1", "alice", "1990-01-02"], ["2", "bob", "1990-02-31"]]
    with pytest.raises(ClkhashEntryError, match=r"row 1, feature 'dob'") as err:
        schema.encode(rows, "s")
    assert "1990-02-31" not in str(err.value) and err.value.row == 1 and err.value.field == "dob"
    with pytest.raises(ClkhashEntryError, match=r"row 0, feature 'name'.*maxLength"):
        schema.encode([["1", "a" * 21, "1990-01-02"]], "s")
    with pytest.raises(ClkhashEntryError, match=r"row 0, feature 'name'.*ascii"):
        schema.encode([["1", "josé", "1990-01-02"]], "s")
    with pytest.raises(ClkhashEntryError, match="row 1 has 2 entries; expected 3"):
        schema.encode([["1", "a", "1990-01-02"], ["2", "b"]], "s")
    df = pd.DataFrame({"id": ["1", "2"], "name": ["a", None], "dob": ["1990-01-02"] * 2})
    with pytest.raises(ClkhashEntryError, match=r"row 1, feature 'name'.*missing"):
        schema.encode(df, "s")
    with pytest.raises(ClkhashEntryError, match=r"row 0, feature 'name'.*expected a string"):
        schema.encode([["1", 5, "1990-01-02"]], "s")
    with pytest.raises(ClkhashEntryError, match="neither a column"):
        schema.encode(pd.DataFrame({"name": ["a"]}), "s")
    # validate=False skips format checks (as clkhash does) but dates must still parse
    schema.encode([["1", "a" * 21, "1990-01-02"]], "s", validate=False)
    with pytest.raises(ClkhashEntryError, match=r"row 0, feature 'dob'"):
        schema.encode([["1", "a", "bad"]], "s", validate=False)


def _with(path: list, value, base: dict | None = None) -> dict:
    obj = json.loads(json.dumps(base or _SIMPLE))
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


@pytest.mark.parametrize("obj, message", [
    (_with(["version"], 1), "version 1"),
    (_with(["version"], 4), "unsupported schema version"),
    (_with(["clkConfig", "lenght"], 5), r"unsupported key\(s\) \['lenght'\]"),
    (_with(["clkConfig", "kdf", "type"], "legacy"), "only HKDF"),
    (_with(["clkConfig", "kdf", "hash"], "MD5"), "SHA256 or SHA512"),
    (_with(["clkConfig", "l"], 1000), "power of two"),
    (_with(["clkConfig", "kdf", "keySize"], 65), "at most 64 bytes"),
    (_with(["features", 1, "hashing", "comparison"], {"type": "soundex"}),
     "unsupported comparison"),
    (_with(["features", 1, "hashing", "strategy"], {"bitsPerToken": 1, "bitsPerFeature": 2}),
     "exactly one"),
    (_with(["features", 1, "hashing", "hash"], {"type": "sha1"}), "blakeHash or doubleHash"),
    (_with(["features", 1, "hashing", "hash"], {"type": "blakeHash", "prevent_singularity": True}),
     "unsupported key"),
    (_with(["features", 1, "format", "prefix"], "x"), r"unsupported key\(s\) \['prefix'\]"),
    (_with(["features", 1, "format", "pattern"], "("),
     "pattern cannot be combined|invalid regular"),
    (_with(["features", 2, "format"], {"type": "date"}), "strptime format"),
    (_with(["clkConfig", "l"], True), "expected an integer"),
    ("{not json", "not valid JSON"),
    ("/nonexistent/schema.json", "cannot read"),
])
def test_schema_errors_are_clear(obj, message: str) -> None:
    with pytest.raises(ClkhashSchemaError, match=message):
        parse_clkhash_schema(obj)


def test_hkdf_too_long_is_an_error() -> None:
    many = _with(["features"], [{"identifier": f"f{i}", "ignored": True} for i in range(70)])
    with pytest.raises(ClkhashSchemaError, match="HKDF-SHA256 cannot derive"):
        parse_clkhash_schema(many)


def test_xorfolds_spelling_warns_and_is_ignored_like_clkhash() -> None:
    with pytest.warns(UserWarning, match="xorFolds is ignored"):
        schema = parse_clkhash_schema(_with(["clkConfig", "xorFolds"], 2))
    assert schema.xor_folds == 0 and schema.l == 256


def test_schema_from_json_text_and_path_agree(tmp_path: Path) -> None:
    text = json.dumps(_SIMPLE)
    (tmp_path / "s.json").write_text(text)
    a = parse_clkhash_schema(text)
    b = parse_clkhash_schema(tmp_path / "s.json")
    c = parse_clkhash_schema(str(tmp_path / "s.json"))
    assert a == b == c
    assert a.identifiers == ["id", "name", "dob"] and a.hash_length == 256


def test_secret_bytes_and_str_and_keys() -> None:
    schema = parse_clkhash_schema(_SIMPLE)
    rows = [["1", "alice", "1990-01-02"]]
    assert np.array_equal(schema.encode(rows, "k\u00e9y").bits,
                          schema.encode(rows, "k\u00e9y".encode()).bits)
    keys = clkhash_keys(schema, b"secret")
    assert len(keys) == 3 and all(len(k0) == len(k1) == 64 for k0, k1 in keys)
    assert len({k for pair in keys for k in pair}) == 6
    with pytest.raises(TypeError):
        clkhash_keys(schema, 12345)  # type: ignore[arg-type]
    assert "secret" not in repr(schema)


def test_keyed_different_secrets_give_random_dice() -> None:
    case = CASES["febrl_blake_bpt"]
    schema, rows = _schema(case), _rows(case)
    a = schema.encode(rows, "secret one")
    b = schema.encode(rows, "secret two")
    same = _dice(a, schema.encode(rows, "secret one"))
    other = _dice(a, b)
    assert np.all(same[a.popcount > 0] == 1.0)
    # random baseline for two filters of these densities is about the product of densities
    density = a.popcount.mean() / a.nbits
    assert abs(float(np.mean(other)) - density) < 0.1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), min_size=1, max_size=8))
def test_row_encoding_does_not_depend_on_other_rows(values: list[tuple[str, str]]) -> None:
    schema = parse_clkhash_schema({
        "version": 3,
        "clkConfig": {"l": 128, "xor_folds": 1, "kdf": {"type": "HKDF"}},
        "features": [
            {"identifier": "a", "format": {"type": "string"},
             "hashing": {"comparison": {"type": "ngram", "n": 2, "positional": True},
                         "strategy": {"bitsPerFeature": 40}}},
            {"identifier": "b", "format": {"type": "string", "encoding": "utf-16"},
             "hashing": {"comparison": {"type": "ngram", "n": 1},
                         "strategy": {"bitsPerToken": 3}, "hash": {"type": "doubleHash"}}},
        ],
    })
    rows = [[a, b] for a, b in values]
    try:
        whole = schema.encode(rows, b"k" * 32)
    except ClkhashEntryError as exc:  # lone surrogates cannot be encoded: a clear error
        assert "cannot be encoded" in str(exc)
        return
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(schema.encode([row], b"k" * 32).bits[0], whole.bits[i])


def test_similar_names_score_higher() -> None:
    rows = [["1", "catherine", "1990-01-02"], ["2", "katherine", "1990-01-02"],
            ["3", "zbigniew", "1990-01-02"]]
    name_only = json.loads(json.dumps(_SIMPLE))
    name_only["features"][2] = {"identifier": "dob", "ignored": True}
    bm = parse_clkhash_schema(name_only).encode(rows, "s")
    d = _dice(bm.take(np.array([0, 0])), bm.take(np.array([1, 2])))
    assert d[0] > 0.6 > d[1]


def test_forked_workers_give_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    import nislink.encode.clkhash.engine as engine

    monkeypatch.setattr(engine, "_MIN_PART", 20)
    case = CASES["febrl_double_bpf_sha512"]
    rows, secret, schema = _rows(case), _secret(case), _schema(case)
    assert len(engine._split(len(rows), 2)) == 2
    assert to_base64(schema.encode(rows, secret, workers=2, batch_size=50)) == case["clks"]
    bad = [list(r) for r in rows]
    bad[200][8] = "19991399"  # an invalid date in the second part
    with pytest.raises(ClkhashEntryError, match=r"row 200, feature 'date_of_birth'") as err:
        schema.encode(bad, secret, workers=2)
    assert err.value.row == 200 and err.value.field == "date_of_birth"


def test_vectorised_hmac_equals_hmac_digest() -> None:
    import hmac

    from nislink.encode.clkhash.hmac_np import hmac_mod, pack_messages

    rng = np.random.default_rng(7)
    msgs = [rng.bytes(int(n)) for n in rng.integers(0, 80, 400)] + [b"", b"x" * 55, b"y" * 56]
    short = [m for m in msgs if len(m) <= 55]
    for batch in (msgs, short, [b"z" * 60]):
        packed = pack_messages(batch)  # one packing shared by every key and algorithm
        for key in (b"k", bytes(range(64)), rng.bytes(100)):
            for algo in ("sha1", "md5"):
                for modulus in (1, 13, 1000, 2**16, 2**32):
                    got = hmac_mod(batch, key, algo, modulus)
                    want = [int.from_bytes(hmac.digest(key, m, algo), "big") % modulus
                            for m in batch]
                    assert got.tolist() == want, (algo, modulus, len(key))
                    assert hmac_mod(batch, key, algo, modulus, packed).tolist() == want
    with pytest.raises(ValueError):
        hmac_mod([b"a"], b"k", "sha256", 10)
    assert json.loads((DATA / "schemas" / "unicode_double.json").read_text())[
        "clkConfig"]["kdf"]["keySize"] == 100


@pytest.mark.parametrize("fmt, value", [
    ("%Y%m%d", "19900101"), ("%Y%m%d", "20000229"), ("%Y%m%d", "19000229"),
    ("%Y%m%d", "19901301"), ("%Y%m%d", "1990011"), ("%Y%m%d", "09990101"),
    ("%Y-%m-%d", "1990-1-2"), ("%Y-%m-%d", "1990-01-02"), ("%d/%m/%Y", "31/12/1999"),
    ("%d/%m/%Y", "31/11/1999"), ("%Y%m%d", "١٩٩٠٠١٠١"), ("%Y%m%d", " 19900101"),
    ("%Y%m%d", "19900100"), ("%d%m%Y", "3201199"),
])
def test_date_fast_path_agrees_with_strptime(fmt: str, value: str) -> None:
    from datetime import datetime

    from nislink.encode.clkhash.dates import date_layout, fast_date, fast_dates

    try:
        expected: str | None = datetime.strptime(value, fmt).strftime("%Y%m%d")
    except ValueError:
        expected = None
    fast = fast_date(value, date_layout(fmt))
    vec = fast_dates(np.array([value], dtype=object), date_layout(fmt))
    assert vec is not None and vec[0] == fast
    if fast is not None:  # the fast path only ever answers when it agrees
        assert fast == expected
    schema = parse_clkhash_schema(_with(["features", 2, "format", "format"], fmt))
    row = [["1", "a", value]]
    if expected is None:
        with pytest.raises(ClkhashEntryError, match="feature 'dob'"):
            schema.encode(row, "s")
    else:
        ref = _with(["features", 2, "format"], {"type": "string"})
        assert np.array_equal(schema.encode(row, "s").bits,
                              parse_clkhash_schema(ref).encode([["1", "a", expected]], "s").bits)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["%Y%m%d", "%Y-%m-%d", "%d/%m/%Y", "%m.%d.%Y"]),
       st.text(alphabet="0123456789-/.3", min_size=6, max_size=11))
def test_date_fast_path_never_disagrees(fmt: str, value: str) -> None:
    from datetime import datetime

    from nislink.encode.clkhash.dates import date_layout, fast_date

    fast = fast_date(value, date_layout(fmt))
    if fast is not None:
        assert fast == datetime.strptime(value, fmt).strftime("%Y%m%d")


def _check_ngrams(n: int, positional: bool, values: list[str]) -> None:
    """The compiled n-grams of ``values`` equal clkhash's ``tokenize``, value by value."""
    from nislink.encode.clkhash.engine import _ngram_occurrences
    from nislink.encode.clkhash_compat import ClkhashFeature

    feature = ClkhashFeature("f", comparison="ngram", n=n, positional=positional, bits_per_token=1)
    got = _ngram_occurrences(feature, values)
    assert got is not None
    counts, occ_token, distinct = got
    expected = [feature.tokenize(v) for v in values]
    assert counts.tolist() == [len(t) for t in expected]
    assert [distinct[i] for i in occ_token.tolist()] == [t for ts in expected for t in ts]
    assert len(set(distinct)) == len(distinct)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), st.booleans(),
       st.lists(st.text(max_size=9) | st.sampled_from(["a\x00", "a", "\x00", "", " ", "aa"]),
                min_size=1, max_size=12))
def test_vectorised_ngrams_equal_tokenize(n: int, positional: bool, values: list[str]) -> None:
    _check_ngrams(n, positional, values)


def test_one_base64_definition_shared_with_the_frame() -> None:
    import nislink.frame as frame
    from nislink.encode import clkhash
    from nislink.frame import EncodedFrame

    assert to_base64 is clkhash.to_base64 is frame.to_base64
    assert from_base64 is clkhash.from_base64 is frame.from_base64
    case = CASES["tiny_double_singular_l13"]  # 13 bits: the last byte is partial
    bm = _schema(case).encode(_rows(case), _secret(case))
    assert bm.nbits == 13
    # bitarray's big-endian layout, computed independently from the unpacked bits
    packed = np.packbits(bm.to_bool(), axis=1, bitorder="big")
    assert to_base64(bm) == [base64.b64encode(r.tobytes()).decode() for r in packed]
    assert to_base64(bm) == case["clks"]
    fr = EncodedFrame(ids=[str(i) for i in range(len(bm))], fields={}, clk=bm, tokens={},
                      meta={})
    assert fr.to_clkhash() == case["clks"]
    back = EncodedFrame.from_clkhash(case["clks"])
    assert back.clk.nbits == 16 and np.array_equal(back.clk.to_bool()[:, :13], bm.to_bool())
    # a matrix that breaks the zero-padding rule does not leak bits beyond nbits
    dirty = BitMatrix(bm.bits | np.uint64(1 << 14), 13)
    assert to_base64(dirty) == case["clks"]


def test_values_pandas_confuses_are_encoded_apart() -> None:
    """"\\x00" hashes like "" in pandas: the engine's shared factorize keeps them apart."""
    rows = [["1", "", "1990-01-02"], ["2", "\x00", "1990-01-02"], ["3", "a\x00", "1990-01-02"],
            ["4", "a", "1990-01-02"], ["5", "\x00", "1990-01-02"]]
    schema = parse_clkhash_schema(_SIMPLE)
    together = schema.encode(rows, "s", validate=False)
    alone = [schema.encode([r], "s", validate=False) for r in rows]
    for i, one in enumerate(alone):
        assert np.array_equal(together.bits[i], one.bits[0]), i
    assert not np.array_equal(together.bits[0], together.bits[1])


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3), st.booleans(),
       st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
                | st.sampled_from(["", "\x00", "é", "Zoë ß", "日本", "\U0001f600x", "a" * 150]),
                min_size=1, max_size=10))
def test_vectorised_ngrams_equal_tokenize_long_and_non_ascii(
        n: int, positional: bool, values: list[str]) -> None:
    """Values of hundreds of characters (positions of three digits), non-ASCII text (code
    points above the BMP too) and empty strings: the compiled gram keys agree."""
    _check_ngrams(n, positional, values)


_FORMAT_VALUES = (st.text(max_size=25) | st.from_regex(r"[0-9]{1,20}", fullmatch=True)
                  | st.sampled_from(["", "0", "00", "007", "-3", "+4", " 5", "٣", "²", "1234",
                                     "12345", "abcd", "\ud800", "é", "999999999999999999",
                                     "1000000000000000000"]))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([
    {"format_type": "integer"},
    {"format_type": "integer", "minimum": 0},
    {"format_type": "integer", "minimum": 10, "maximum": 5000},
    {"format_type": "integer", "missing_sentinel": "", "missing_replace_with": "0"},
    {"format_type": "string", "pattern": "[0-9]{4}"},
    {"format_type": "string", "pattern": "[0-9]{4}", "missing_sentinel": ""},
    {"format_type": "string", "pattern": ".*", "case": "upper", "max_length": 2},
    {"format_type": "string"},
    {"format_type": "string", "missing_sentinel": "", "missing_replace_with": "x"},
    {"format_type": "string", "encoding": "ascii"},
]), st.booleans(), st.lists(_FORMAT_VALUES, min_size=1, max_size=12, unique=True))
def test_formatted_fast_paths_equal_value_by_value(kw: dict[str, Any], validate: bool,
                                                   values: list[str]) -> None:
    """The whole-column checks of integers, patterns and plain strings give what
    validating and formatting value by value gives (or the same error)."""
    from nislink.encode.clkhash.engine import _formatted, _formatted_one
    from nislink.encode.clkhash_compat import ClkhashFeature

    feature = ClkhashFeature("f", comparison="exact", bits_per_token=1, **kw)
    uniques = np.empty(len(values), dtype=object)
    uniques[:] = values

    def fail(u: int, problem: str) -> ClkhashEntryError:
        return ClkhashEntryError(f"row {u}, feature 'f': {problem}", u, "f")

    try:
        expected: Any = [_formatted_one(feature, v, validate, lambda p, u=u: fail(u, p))
                         for u, v in enumerate(values)]
    except ClkhashEntryError as exc:
        expected = str(exc)
    try:
        got, unchanged = _formatted(feature, uniques, validate, lambda u: u)
    except ClkhashEntryError as exc:
        assert str(exc) == expected
        return
    assert got == expected
    if unchanged:
        assert got == values


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([1, 2, 13, 64, 1000, 1024, 2**20 + 7]), st.integers(0, 2**32))
def test_double_scatter_steps_equal_modular_positions(length: int, seed: int) -> None:
    """The stepped doubleHash positions equal ``(h1 + j * h2) mod l`` set by the NumPy
    reference, for lengths from 1 bit up and more bits per token than ``l``."""
    from nislink.encode.clkhash import engine

    rng = np.random.default_rng(seed)
    nvals, ntok, kmax = 40, 25, 70
    occ_value = np.sort(rng.integers(0, nvals, 300))
    occ_token = rng.integers(0, ntok, 300)
    occ_k = rng.integers(0, kmax + 1, 300)
    h1 = rng.integers(0, length, ntok)
    h2 = rng.integers(0, length, ntok)
    h2[:3] = [0, 1 % length, length - 1]
    positions = (h1[:, None] + np.arange(kmax)[None, :] * h2[:, None]) % length
    a = np.zeros((nvals, (length + 63) // 64), dtype=np.uint64)
    b = a.copy()
    engine._scatter(a, occ_value, occ_token, occ_k, positions, a.shape[1])
    engine._scatter_double(b, occ_value, occ_token, occ_k, h1, h2, np.int64(length))
    assert np.array_equal(a, b)

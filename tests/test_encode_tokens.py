"""Tokenisers, vectorised vs scalar; keyed positions; SipHash vectors; SLK-581 parts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.encode.bloom import keyed_digests, positions, scatter_rows, unpack_bits
from nislink.encode.siphash import siphash24, siphash24_words
from nislink.encode.tokens import (
    _qgram_occurrences,
    component_value,
    component_values,
    qgrams,
    slk581_part,
    slk581_parts,
    token_occurrences,
    value_tokens,
)
from nislink.schema import FieldSpec


def test_qgrams() -> None:
    assert qgrams("smith") == ["_s", "sm", "mi", "it", "th", "h_"]
    assert qgrams("smith", 3, False) == ["smi", "mit", "ith"]
    assert qgrams("a", 2) == ["_a", "a_"]
    assert qgrams("ab", 3, False) == ["ab"]


def test_tokens_are_typed_by_field() -> None:
    a = value_tokens(FieldSpec("forename", "forename"), "ann")
    b = value_tokens(FieldSpec("surname", "surname"), "ann")
    assert a[0] == "forename:qgram:_a" and not set(a) & set(b)
    p = value_tokens(FieldSpec("fn", "forename", positional=True), "ann")
    assert p[:2] == ["fn:qgram:0:_a", "fn:qgram:1:an"]


def test_structured_tokens() -> None:
    assert value_tokens(FieldSpec("dob", "dob"), "1980-02-01") == [
        "dob:day:01", "dob:month:02", "dob:year:1980", "dob:day_month:01-02",
        "dob:month_year:1980-02", "dob:day_year:1980--01"]
    assert value_tokens(FieldSpec("pc", "postcode"), "SW1A 1AA") == [
        "pc:unit:SW1A 1AA", "pc:sector:SW1A 1", "pc:district:SW1A", "pc:area:SW"]
    assert value_tokens(FieldSpec("n", "nino"), "AB123456C") == ["n:value:AB123456C"]
    num = FieldSpec("age", "number", resolution=5.0, window=1)
    assert value_tokens(num, "41") == ["age:bin:7", "age:bin:8", "age:bin:9"]
    canon = value_tokens(FieldSpec("fn", "forename", tokens=["canonical"]), "bob")
    assert "fn:canonical:robert" in canon


POSTCODES = st.builds(
    lambda a, d, s, u: f"{a}{d} {s}{u}",
    st.sampled_from(["M", "SW", "B", "EC", "GIR", "W"]),
    st.sampled_from(["1", "1A", "10", "99", "2B", ""]).filter(lambda x: True),
    st.sampled_from("0123456789"),
    st.sampled_from(["AA", "AB", "ZZ", "XY"]),
).filter(lambda p: 2 <= len(p.split(" ")[0]) <= 4)
DATES = st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)


@settings(max_examples=40, deadline=None)
@given(st.lists(POSTCODES, min_size=1, max_size=8, unique=True),
       st.lists(DATES, min_size=1, max_size=8, unique=True),
       st.lists(st.text("abcdefgh -'", min_size=1, max_size=9), min_size=1, max_size=6,
                unique=True))
def test_vectorised_tokens_equal_scalar(pcs: list[str], dates: list[str], names: list[str]) -> None:
    cases = [
        (FieldSpec("pc", "postcode"), pcs),
        (FieldSpec("dob", "dob"), dates),
        (FieldSpec("nm", "surname", tokens=["qgram", "initial", "soundex"]), names),
        (FieldSpec("x", "exact", tokens=["value"]), names),
    ]
    for spec, vals in cases:
        arr = np.array(vals, dtype=object)
        occ, msgs = token_occurrences(spec, arr)
        for u, v in enumerate(vals):
            assert list(msgs[occ == u]) == value_tokens(spec, v)
        salts = np.array(["1980"] * len(vals), dtype=object)
        occ2, msgs2 = token_occurrences(spec, arr, salts)
        assert list(msgs2) == [m + "\x1f1980" for m in msgs]
    for kind, mod, vals in (("postcode", "district", pcs), ("postcode", "sector", pcs),
                            ("postcode", "area", pcs), ("dob", "year", dates),
                            ("dob", "month_year", dates), ("surname", "initial", names),
                            ("surname", "soundex", names), ("forename", "nysiis", names),
                            ("surname", "metaphone", names)):
        got = component_values(kind, mod, np.array(vals, dtype=object))
        assert list(got) == [component_value(kind, mod, v) for v in vals]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="aab _-", max_size=9), st.text(max_size=4)),
                min_size=1, max_size=8, unique=True),
       st.sampled_from(["surname", "fullname", "exact", "nino", "text"]),
       st.integers(1, 4), st.booleans(), st.booleans())
def test_qgram_occurrences_equal_value_tokens(values: list[str], kind: str, q: int,
                                              padding: bool, positional: bool) -> None:
    """Fields tokenised by q-grams only: the code-point path (ASCII text) and the value by
    value path give every value's tokens of value_tokens, in order, value after value."""
    spec = FieldSpec("nm", kind, tokens=["qgram"], q=q, padding=padding, positional=positional)
    occ, msgs = token_occurrences(spec, np.array(values, dtype=object))
    expected = [(u, t) for u, v in enumerate(values) for t in value_tokens(spec, v)]
    assert occ.dtype == np.int64 and msgs.dtype == object
    assert list(zip(occ.tolist(), msgs.tolist())) == expected
    if "".join(values).isascii() and "\x00" not in "".join(values):
        assert _qgram_occurrences(spec, np.array(values, dtype=object)) is not None


def test_qgram_occurrences_long_grams_many_values() -> None:
    """q = 8 with more values than fit beside a gram in 64 bits: the two-key sort."""
    rng = np.random.default_rng(3)
    values = sorted({"".join(rng.choice(list("ab "), size=rng.integers(0, 20)))
                     for _ in range(400)})
    assert len(values) > 1 << (63 - 7 * 8)
    spec = FieldSpec("nm", "surname", tokens=["qgram"], q=8)
    occ, msgs = token_occurrences(spec, np.array(values, dtype=object))
    expected = [(u, t) for u, v in enumerate(values) for t in value_tokens(spec, v)]
    assert list(zip(occ.tolist(), msgs.tolist())) == expected


def test_phonetic_components_remembered(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Phonetic components of text seen before are looked up (the memory is emptied when
    full): the same codes as value by value, batch after batch."""
    from nislink.encode import tokens

    monkeypatch.setattr(tokens, "_PHONETIC_SEEN", {})
    monkeypatch.setattr(tokens, "_PHONETIC_SEEN_MAX", 5)
    batches = [["smith", "jones", "mr smith"], ["jones", "O'Brien", "baby", "aaa", "li", "x y"],
               ["smith", "li"], ["zoe", 3, "smith"]]
    for batch in batches * 2:
        for kind in ("soundex", "nysiis", "metaphone"):
            arr = np.empty(len(batch), dtype=object)
            arr[:] = batch
            assert list(component_values("surname", kind, arr)) == [
                component_value("surname", kind, v) for v in batch]
    assert 0 < len(tokens._PHONETIC_SEEN["soundex"]) <= 5
    # a batch seen before is looked up, not checked again; a batch of more new texts than
    # the memory holds keeps only as many as fit
    calls: list[int] = []
    real = tokens.names.phonetic_codes

    def counted(modifier: str, items: list) -> list:  # type: ignore[type-arg]
        calls.append(len(items))
        return real(modifier, items)

    monkeypatch.setattr(tokens.names, "phonetic_codes", counted)
    monkeypatch.setattr(tokens, "_PHONETIC_SEEN", {})
    three = np.array(["smith", "jones", "li"], dtype=object)
    first = component_values("surname", "soundex", three)
    again = component_values("surname", "soundex", three)
    assert list(first) == list(again) and calls == [3]
    many = np.array([f"name{c}" for c in "abcdefgh"], dtype=object)
    got = component_values("surname", "soundex", many)
    assert list(got) == [component_value("surname", "soundex", v) for v in many]
    assert len(tokens._PHONETIC_SEEN["soundex"]) <= 5


def test_slk581_parts() -> None:
    assert slk581_part("surname", "o'brien") == "BRE"  # O B R I E N -> letters 2,3,5
    assert slk581_part("surname", "li") == "I22"
    assert slk581_part("surname", None) == "999"
    assert slk581_part("forename", "jo") == "O2"
    assert slk581_part("forename", None) == "99"
    assert slk581_part("dob", "1980-02-01") == "01021980"
    assert slk581_part("sex", "F") == "2" and slk581_part("sex", None) == "9"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(POSTCODES, st.text(alphabet="AB12 é", min_size=1, max_size=10)
                          .filter(lambda v: not (6 <= len(v) <= 8 and v[-4] == " "))),
                min_size=1, max_size=8, unique=True))
def test_postcode_parts_of_any_text_equal_scalar(pcs: list[str]) -> None:
    """Normalised postcodes take the code-point path, and a batch with any text not of their
    shape (6 to 8 characters, a space fourth from the end) the scalar one: both give what
    component_value gives."""
    arr = np.array(pcs, dtype=object)
    for mod in ("sector", "district", "area"):
        assert list(component_values("postcode", mod, arr)) == [
            component_value("postcode", mod, v) for v in pcs]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcxyz -'.0\x00\x7fé", max_size=12), max_size=8, unique=True),
       st.lists(st.text(max_size=6), max_size=4, unique=True),
       st.lists(DATES, max_size=6, unique=True),
       st.lists(st.text(alphabet="0123456789-", min_size=9, max_size=11), max_size=4))
def test_slk581_parts_equal_scalar(names: list[str], other: list[str], dates: list[str],
                                   odd_dates: list[str]) -> None:
    """The vectorised SLK-581 parts are those of slk581_part, for ASCII names (the fast
    path), any other text and dates that are or are not ISO."""
    for kind, vals in (("surname", names), ("forename", names), ("surname", other),
                       ("forename", names + other), ("dob", dates), ("dob", dates + odd_dates),
                       ("sex", ["M", "F", "U", ""])):
        got = slk581_parts(kind, np.array(vals, dtype=object))
        assert got.dtype == object and list(got) == [slk581_part(kind, v) for v in vals]


def test_siphash_reference_vectors() -> None:
    key = bytes(range(16))
    # SipHash-2-4 paper (Aumasson & Bernstein 2012), appendix A, and the reference vectors
    assert siphash24(key, bytes(range(15))) == 0xA129CA6149BE45E5
    assert siphash24(key, b"") == 0x726FDB47DD0E0E31
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**63, (20, 3), dtype=np.int64).astype(np.uint64)
    vec = siphash24_words(key, words)
    for i in range(20):
        assert int(vec[i]) == siphash24(key, words[i].astype("<u8").tobytes())


def test_positions_and_scatter() -> None:
    key = bytes(32)
    raw = keyed_digests([b"a", b"b"], key, 4 * 5)
    pos = positions(raw, "blake3", 0, 0, 3, 100)
    assert pos.shape == (2, 3) and (pos < 100).all()
    want = np.frombuffer(raw[0].tobytes()[:12], dtype="<u4") % 100
    assert list(pos[0]) == list(want)
    clk = positions(raw, "blake3", 1, 3, 2, 64)
    assert list(clk[0]) == list(np.frombuffer(raw[0].tobytes()[12:20], dtype="<u4") % 64)
    dbl = positions(keyed_digests([b"a"], key, 32), "double", 0, 0, 4, 97)
    h = keyed_digests([b"a"], key, 32)[0].tobytes()
    h1, h2 = int.from_bytes(h[:8], "little"), int.from_bytes(h[8:16], "little")
    assert list(dbl[0]) == [(h1 + i * h2) % 97 for i in range(4)]
    bits = scatter_rows(np.array([0, 0, 1]), np.array([3, 99, 64]), 3, 100)
    dense = unpack_bits(bits, 100)
    assert dense[0, 3] and dense[0, 99] and dense[1, 64] and dense.sum() == 3
    with pytest.raises(ValueError):
        positions(raw, "md5", 0, 0, 3, 100)

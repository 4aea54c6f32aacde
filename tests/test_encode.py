"""nislink.Encoder: determinism, batch independence, keying, similarity, exact definition."""

from __future__ import annotations

import string

import blake3
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nislink.clean.ids import upn_check_letter
from nislink.encode import EncodedFrame, Encoder
from nislink.encode.siphash import siphash24
from nislink.schema import SCHEME_VERSION, ClkSpec, FieldSpec, Hardening, MatchKey, Schema
from nislink.secrets import Secret

KEY_A = Secret(bytes(range(32)))
KEY_B = Secret(bytes(range(1, 33)))

FORENAMES = ["Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Mia", "Jack",
             "Emily", "Charlie", "Sophia", "Thomas", "Grace", "William", "Poppy", "James",
             "Freya", "Mohammed", "Aisha", "Robert", "Elizabeth", "Kate", "Bob", "Liam"]
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
            "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts",
            "Green", "Hall", "Khan", "O'Brien", "Lewis-Hughes", "Clarke", "Jackson", "Wood"]
POSTCODES = ["SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "LS1 4AP", "EH1 1YZ",
             "CF10 1EP", "NE1 7RU", "BS1 5TR", "L1 8JQ", "G2 1DY", "OX1 2JD", "CB2 1TN"]


def people(n: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic rows in the raw formats a data owner might hold."""
    rng = np.random.default_rng(seed)
    dob = np.datetime64("1950-01-01") + rng.integers(0, 60 * 365, n)
    nino = [f"AB{rng.integers(0, 999999):06d}{'ABCD'[rng.integers(0, 4)]}" if rng.random() < .7
            else "" for _ in range(n)]
    upn = []
    for _ in range(n):
        if rng.random() < 0.4:
            body = f"{rng.integers(201, 999)}{rng.integers(1000, 9999)}{rng.integers(10, 99)}" \
                   f"{rng.integers(100, 999)}"
            upn.append(upn_check_letter(body) + body)
        else:
            upn.append("")
    return pd.DataFrame({
        "id": [f"P{seed}-{i:05d}" for i in range(n)],
        "forename": rng.choice(FORENAMES, n),
        "surname": rng.choice(SURNAMES, n),
        "dob": pd.Series(dob.astype("datetime64[D]")).dt.strftime("%d/%m/%Y"),
        "sex": rng.choice(["M", "F", "male", "2"], n),
        "postcode": rng.choice(POSTCODES, n),
        "nino": nino,
        "upn": upn,
    })


def dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter = np.bitwise_count(a & b).sum(axis=1)
    tot = np.bitwise_count(a).sum(axis=1) + np.bitwise_count(b).sum(axis=1)
    return 2 * inter / np.maximum(tot, 1)


def uk_with_clk() -> Schema:
    """``uk_default`` with a 1024-bit CLK over names, date of birth and postcode (for the
    tests of the CLK machinery; the default has none)."""
    s = Schema.uk_default()
    for f in s.fields:
        if f.name in ("forename", "surname", "dob", "postcode"):
            f.clk = True
    s.clk = ClkSpec(1024)
    s.validate()
    return s


def same(a: EncodedFrame, b: EncodedFrame) -> bool:
    return (
        list(a.ids) == list(b.ids)
        and list(a.fields) == list(b.fields)
        and all(np.array_equal(a.fields[k].bits, b.fields[k].bits)
                and np.array_equal(a.fields[k].present, b.fields[k].present) for k in a.fields)
        and ((a.clk is None and b.clk is None)
             or (a.clk is not None and b.clk is not None
                 and np.array_equal(a.clk.bits, b.clk.bits)))
        and list(a.tokens) == list(b.tokens)
        and all(np.array_equal(a.tokens[k], b.tokens[k]) for k in a.tokens)
    )


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return people(300)


@pytest.fixture(scope="module")
def encoded(data: pd.DataFrame) -> EncodedFrame:
    return Encoder(Schema.uk_default(), KEY_A).encode(data, id_column="id", party="LA")


def test_output_layout(encoded: EncodedFrame, data: pd.DataFrame) -> None:
    assert len(encoded) == len(data)
    assert list(encoded.ids) == list(data["id"])
    views = ["dob_yearpair1", "postcode&dob_year", "postcode&dob_dayset"]
    digits = [f"dob_blank{i}" for i in (0, 1, 2, 3, 6, 7)]
    assert set(encoded.fields) == {"forename", "surname", "dob", "postcode"} | {
        f"{n}~{v}" for n in ("forename", "surname") for v in views} | {
        f"forename~{v}&surname_initial" for v in digits} | {
        f"surname~{v}&forename_initial" for v in digits} | {
        "forename~postcode&surname_initial", "surname~postcode&forename_initial"}
    # names: 256 bits, about 120 of them set whatever the name's length
    assert encoded.fields["forename"].nbits == 256 and encoded.fields["dob"].nbits == 256
    assert encoded.fields["surname~postcode&dob_year"].nbits == 256
    assert encoded.clk is None  # no record-level filter by default (its name bits leak)
    assert {"mk1", "mk2", "mk3", "mk4", "mk5", "mk6", "slk581", "nino", "upn"} <= set(
        encoded.tokens)
    # one tag token per salt, one salted exact token per name view
    assert {"~dob_yearpair0", "~dob_yearpair1", "~postcode&dob_year",
            "~postcode&dob_dayset", "forename~dob_yearpair1"} <= set(encoded.tokens)
    for t in encoded.tokens.values():
        assert t.dtype == np.uint64
    m = encoded.meta
    assert m["scheme_version"] == SCHEME_VERSION and m["party"] == "LA"
    assert m["schema_fingerprint"] == Schema.uk_default().fingerprint
    assert m["key_fingerprint"] == KEY_A.fingerprint() and m["rows"] == len(data)
    assert m["created"].endswith("Z")


def test_deterministic(data: pd.DataFrame, encoded: EncodedFrame) -> None:
    again = Encoder(Schema.from_json(Schema.uk_default().to_json()),
                    Secret(bytes(range(32)))).encode(data, id_column="id")
    assert same(encoded, again)


def test_row_independent_of_batch(data: pd.DataFrame, encoded: EncodedFrame) -> None:
    enc = Encoder(Schema.uk_default(), KEY_A)
    rng = np.random.default_rng(1)
    for size in (1, 7, 120):
        pick = np.sort(rng.choice(len(data), size, replace=False))
        sub = data.iloc[pick[::-1]]  # another order, another batch
        part = enc.encode(sub, id_column="id")
        ref = encoded.take(pick[::-1])
        assert same(part, ref)


def test_missing_field_zero_bits_and_token(data: pd.DataFrame) -> None:
    d = data.head(20).copy()
    d.loc[d.index[3], "postcode"] = ""
    d.loc[d.index[4], "surname"] = None
    e = Encoder(Schema.uk_default(), KEY_A).encode(d, id_column="id")
    pc = e.fields["postcode"]
    assert not pc.present[3] and pc.popcount[3] == 0 and not pc.bits[3].any()
    assert pc.present[[0, 1, 2, 4]].all()
    assert e.tokens["postcode"][3] == 0 and e.tokens["mk1"][3] == 0 and e.tokens["mk3"][3] == 0
    assert e.tokens["mk2"][4] == 0 and e.tokens["surname"][4] == 0
    assert e.tokens["slk581"][4] != 0  # SLK-581 codes a missing surname as 999
    blank_nino = d["nino"].to_numpy() == ""
    assert (e.tokens["nino"][blank_nino] == 0).all() and (e.tokens["nino"][~blank_nino] != 0).all()
    assert (e.tokens["mk4"][blank_nino] == 0).all()


def test_rejects_account_for_every_row_without_raw_values(data: pd.DataFrame) -> None:
    d = data.head(30).copy()
    rows = d.index[[2, 5]]
    d.loc[rows, ["forename", "surname", "dob", "nino", "upn"]] = ["", "", "zz-not-a-date", "", ""]
    d.loc[d.index[9], "sex"] = "Q-ODD-SEX-CODE"  # an invalid field in a usable row
    d.loc[d.index[10], "id"] = d.loc[d.index[11], "id"]  # duplicated id
    enc = Encoder(Schema.uk_default(), KEY_A)
    e = enc.encode(d, id_column="id")
    rej = enc.rejects
    assert rej is e.rejects
    assert list(rej.columns) == ["row", "id", "field", "reason"]
    assert len(e) + len(rej) == len(d)
    assert set(rej["row"]) == {d.index[2], d.index[5], d.index[10], d.index[11]}
    text = rej.to_csv()
    for raw in ("zz-not-a-date", "Q-ODD-SEX-CODE"):
        assert raw not in text
    assert "duplicated id" in text and "no usable name" in text
    assert d.loc[d.index[9], "id"] in set(e.ids)  # encoded, sex treated as missing
    assert e.tokens["sex"][list(e.ids).index(d.loc[d.index[9], "id"])] == 0


def test_missing_reject_policy(data: pd.DataFrame) -> None:
    fields = [FieldSpec("forename", "forename"), FieldSpec("dob", "dob", missing="reject")]
    s = Schema(fields=fields, clk=ClkSpec(256))
    d = data.head(10).copy()
    d.loc[d.index[4], "dob"] = ""
    enc = Encoder(s, KEY_A)
    e = enc.encode(d, id_column="id")
    assert len(e) == 9 and list(enc.rejects["row"]) == [d.index[4]]
    assert "dob: missing" in enc.rejects["reason"].iloc[0]


def test_default_ids_are_index_labels(data: pd.DataFrame) -> None:
    d = data.head(5).set_index(pd.Index([10, 11, 12, 13, 14]))
    e = Encoder(Schema.uk_default(), KEY_A).encode(d.drop(columns=["id"]))
    assert list(e.ids) == ["10", "11", "12", "13", "14"]
    dup = d.set_index(pd.Index([1, 1, 2, 3, 4])).drop(columns=["id"])
    with pytest.raises(ValueError, match="not unique"):
        Encoder(Schema.uk_default(), KEY_A).encode(dup)


def test_ids_as_text(data: pd.DataFrame) -> None:
    """Text ids are kept as they are; other ids become their text, and two ids that are
    different values but the same text (1 and "1") are an error, in an id column too;
    duplicated text ids are each rejected by cleaning, never an error here."""
    from nislink.clean.frames import id_texts

    raw = np.array(["a", "b", "c"], dtype=object)
    assert id_texts(raw)[0] is raw and id_texts(raw)[1]
    got, all_text = id_texts(np.array([1, "b", np.str_("c"), 2.5], dtype=object))
    assert list(got) == ["1", "b", "c", "2.5"] and not all_text
    assert all(type(v) is str for v in got)
    d = data.head(4).copy()
    d["id"] = np.array(["p1", "p2", "p3", "p4"], dtype=object)
    e = Encoder(Schema.uk_default(), KEY_A).encode(d, id_column="id")
    assert list(e.ids) == ["p1", "p2", "p3", "p4"]
    d["id"] = np.array([1, "1", 2, 3], dtype=object)
    with pytest.raises(ValueError, match="not unique"):
        Encoder(Schema.uk_default(), KEY_A).encode(d, id_column="id")
    d["id"] = np.array(["x", "x", "y", "z"], dtype=object)
    enc = Encoder(Schema.uk_default(), KEY_A)
    e = enc.encode(d, id_column="id")
    assert list(e.ids) == ["y", "z"] and len(enc.rejects) == 2


def test_columns_mapping_and_missing_column(data: pd.DataFrame) -> None:
    d = data.head(10).rename(columns={"forename": "first_name"})
    e = Encoder(Schema.uk_default(), KEY_A).encode(d, columns={"forename": "first_name"},
                                                   id_column="id")
    ref = Encoder(Schema.uk_default(), KEY_A).encode(data.head(10), id_column="id")
    assert same(e, ref)
    with pytest.raises(ValueError, match="first_name|forename"):
        Encoder(Schema.uk_default(), KEY_A).encode(d, id_column="id")


@pytest.mark.parametrize("allow_absent", [None, True, False])
def test_mapped_column_that_is_not_there_is_an_error(data: pd.DataFrame,
                                                     allow_absent: bool | None) -> None:
    """A misspelt mapping is an error naming the field and the column, whatever
    allow_absent says: an optional field (postcode) or a core one mapped to a column the
    data lack is never encoded as silently missing; unmapped optional fields still may be
    absent."""
    from nislink.encode.columns import MissingColumnError

    enc = Encoder(Schema.uk_default(), KEY_A)
    d = data.head(10).rename(columns={"postcode": "post_code"})
    for field, typo in (("postcode", "postcde"), ("forename", "given_nme")):
        with pytest.raises(MissingColumnError, match=f"mapping names column '{typo}'") as err:
            enc.encode(d, columns={field: typo}, id_column="id", allow_absent=allow_absent)
        assert err.value.field == field and err.value.mapped and "post_code" in str(err.value)
    ok = enc.encode(d, columns={"postcode": "post_code"}, id_column="id",
                    allow_absent=allow_absent)
    assert same(ok, enc.encode(data.head(10), id_column="id"))
    if allow_absent is not False:  # an unmapped optional field may be absent
        e = enc.encode(d.drop(columns=["post_code"]), id_column="id", allow_absent=allow_absent)
        assert not e.fields["postcode"].present.any()


def test_two_secrets_random_baseline_and_tokens_differ(data: pd.DataFrame,
                                                       encoded: EncodedFrame) -> None:
    other = Encoder(Schema.uk_default(), KEY_B).encode(data, id_column="id")
    for name in ("forename", "surname", "dob", "postcode"):
        a, b = encoded.fields[name], other.fields[name]
        observed = dice(a.bits, b.bits).mean()
        pa_, pb = a.popcount.astype(float), b.popcount.astype(float)
        baseline = (2 * pa_ * pb / (a.nbits * (pa_ + pb))).mean()
        assert abs(observed - baseline) < 0.05, (name, observed, baseline)
        assert dice(a.bits, a.bits).min() == 1.0
    for name, t in encoded.tokens.items():
        nz = t != 0
        assert not np.any(t[nz] == other.tokens[name][nz]), name


def test_same_value_same_encoding_across_rows(encoded: EncodedFrame, data: pd.DataFrame) -> None:
    """The same forename encodes the same in two rows with the same salt (date of birth),
    and differently under different salts; the names' exact tokens are salted too."""
    from nislink.clean import dob

    fn = data["forename"].to_numpy()
    dates = [dob(v) for v in data["dob"]]
    dates = [d if hasattr(d, "year") else None for d in dates]
    tag = encoded.tokens["~dob_yearpair0"]
    same_salt = diff_salt = None
    for i in range(len(fn)):
        for j in range(i + 1, len(fn)):
            if fn[i] == fn[j] and dates[i] is not None and dates[j] is not None:
                if tag[i] == tag[j] and same_salt is None:
                    same_salt = (i, j)
                if tag[i] != tag[j] and diff_salt is None:
                    diff_salt = (i, j)
    assert diff_salt is not None
    bits = encoded.fields["forename"].bits
    if same_salt is not None:
        i, j = same_salt
        assert np.array_equal(bits[i], bits[j])
        assert encoded.tokens["forename"][i] == encoded.tokens["forename"][j]
    i, j = diff_salt
    assert not np.array_equal(bits[i], bits[j])
    assert encoded.tokens["forename"][i] != encoded.tokens["forename"][j]
    # the same row again: identical encoding
    rows = data.iloc[[j, i, j]].copy()
    rows["id"] = ["x1", "x2", "x3"]
    again = Encoder(Schema.uk_default(), KEY_A).encode(rows, id_column="id")
    assert np.array_equal(again.fields["forename"].bits[0], again.fields["forename"].bits[2])
    assert np.array_equal(again.fields["forename"].bits[1], bits[i])


def _name_encoder(**kw) -> Encoder:  # type: ignore[no-untyped-def]
    s = Schema(fields=[FieldSpec("name", "surname", **kw)], clk=ClkSpec(1024))
    return Encoder(s, KEY_A)


_ENC = _name_encoder()
letters = st.text(alphabet="abcdefghijklm", min_size=5, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=letters, pos=st.integers(0, 100), repl=st.sampled_from("nopqrstuvwxyz"),
       other=st.text(alphabet="nopqrstuvwxyz", min_size=5, max_size=12))
def test_one_edit_scores_higher_than_unrelated(name: str, pos: int, repl: str,
                                               other: str) -> None:
    p = pos % len(name)
    edited = name[:p] + repl + name[p + 1:]
    e = _ENC.encode_normalised({"name": [name, edited, other]})
    bits = e.fields["name"].bits
    d_edit = dice(bits[[0]], bits[[1]])[0]
    d_other = dice(bits[[0]], bits[[2]])[0]
    assert d_edit > d_other
    c = e.clk.bits
    assert dice(c[[0]], c[[1]])[0] > dice(c[[0]], c[[2]])[0]


def test_similarity_ordering_on_average() -> None:
    rng = np.random.default_rng(5)
    names = ["".join(rng.choice(list(string.ascii_lowercase), rng.integers(5, 10)))
             for _ in range(200)]
    edits = [n[:2] + ("a" if n[2] != "a" else "b") + n[3:] for n in names]
    e = _ENC.encode_normalised({"name": names + edits})
    b = e.fields["name"].bits
    d_edit = dice(b[:200], b[200:])
    d_rand = dice(b[:200], np.roll(b[:200], 1, axis=0))
    assert d_edit.mean() > d_rand.mean() + 0.3
    assert (d_edit > d_rand).mean() > 0.95


def test_byte_level_definition_of_field_filter_and_tokens() -> None:
    """Recompute one value's filter, exact token and match key from the documented recipe."""
    s = Schema(fields=[FieldSpec("surname", "surname", k=3, length=100, clk=True, clk_k=2)],
               clk=ClkSpec(64), match_keys=[MatchKey("mk", ["surname", "surname_initial"])])
    e = Encoder(s, KEY_A).encode_normalised({"surname": ["ab"]})
    fp = s.fingerprint
    key = KEY_A.derive(f"{SCHEME_VERSION} bloom {fp} surname")
    want_f = np.zeros(100, dtype=bool)
    want_c = np.zeros(64, dtype=bool)
    for gram in ("_a", "ab", "b_"):
        out = blake3.blake3(f"surname:qgram:{gram}".encode(), key=key).digest(length=4 * 5)
        words = [int.from_bytes(out[4 * i: 4 * i + 4], "little") for i in range(5)]
        for w in words[:3]:
            want_f[w % 100] = True
        for w in words[3:]:
            want_c[w % 64] = True
    assert np.array_equal(e.fields["surname"].to_bool()[0], want_f)
    assert np.array_equal(e.clk.to_bool()[0], want_c)
    tkey = KEY_A.derive(f"{SCHEME_VERSION} token {fp} surname")
    tok = int.from_bytes(blake3.blake3(b"ab", key=tkey).digest(length=8), "little")
    assert int(e.tokens["surname"][0]) == tok
    ckey = KEY_A.derive(f"{SCHEME_VERSION} component {fp} surname_initial")
    init = int.from_bytes(blake3.blake3(b"a", key=ckey).digest(length=8), "little")
    mkey = KEY_A.derive(f"{SCHEME_VERSION} matchkey {fp} mk")[:16]
    msg = tok.to_bytes(8, "little") + init.to_bytes(8, "little")
    assert int(e.tokens["mk"][0]) == siphash24(mkey, msg)


def test_double_hashing_option() -> None:
    s = Schema(fields=[FieldSpec("surname", "surname")], clk=ClkSpec(1024), hashing="double")
    e = Encoder(s, KEY_A).encode_normalised({"surname": ["smith", "smyth", "jones"]})
    ind = Encoder(Schema(fields=[FieldSpec("surname", "surname")], clk=ClkSpec(1024)),
                  KEY_A).encode_normalised({"surname": ["smith", "smyth", "jones"]})
    b = e.fields["surname"].bits
    assert not np.array_equal(b, ind.fields["surname"].bits)
    assert dice(b[[0]], b[[1]])[0] > dice(b[[0]], b[[2]])[0]
    # each token sets k positions (h1 + i*h2) mod L: at most k bits per token
    assert e.fields["surname"].popcount[0] <= 6 * 20


def test_bits_per_field() -> None:
    s = Schema(fields=[FieldSpec("surname", "surname", bits_per_field=60, length=4096)],
               clk=ClkSpec(1024))
    e = Encoder(s, KEY_A).encode_normalised({"surname": ["ab", "abcdefghijk"]})
    pc = e.fields["surname"].popcount
    # ~60 bits either way, whatever the number of tokens (3 vs 12 bigrams)
    assert 50 <= pc[0] <= 60 and 50 <= pc[1] <= 60


def test_record_level_salt() -> None:
    fields = [FieldSpec("forename", "forename", hardening=Hardening(salt="dob_year")),
              FieldSpec("dob", "dob")]
    s = Schema(fields=fields, clk=ClkSpec(1024))
    e = Encoder(s, KEY_A).encode_normalised({
        "forename": ["anna", "anna", "anna", None],
        "dob": ["1980-01-02", "1980-05-06", "1981-01-02", "1990-01-01"]})
    b = e.fields["forename"].bits
    assert np.array_equal(b[0], b[1])
    assert dice(b[[0]], b[[2]])[0] < 0.5
    assert not e.fields["forename"].present[3]


def test_all_kinds_encode() -> None:
    fields = [FieldSpec("full", "fullname", tokens=["qgram", "soundex", "metaphone"]),
              FieldSpec("fn", "forename", tokens=["qgram", "canonical", "nysiis", "initial"],
                        positional=True),
              FieldSpec("note", "text"), FieldSpec("code", "exact", length=64),
              FieldSpec("age", "number", resolution=5.0, window=1),
              FieldSpec("dob", "dob"), FieldSpec("pc", "postcode")]
    s = Schema(fields=fields, clk=ClkSpec(512),
               match_keys=[MatchKey("m", ["fn_canonical", "dob_month_year", "pc_sector"])])
    df = pd.DataFrame({"full": ["Mary Ann Smith", "Mary-Anne Smyth"], "fn": ["Bob", "Robert"],
                       "note": ["Flat 3, Côté House", "flat 3 cote house"],
                       "code": ["X1", "X1"], "age": ["41", "44.0"],
                       "dob": ["01/02/1980", "1980-02-01"], "pc": ["sw1a 1aa", "SW1A1AB"]})
    e = Encoder(s, KEY_A).encode(df)
    assert len(e) == 2
    for name in ("note", "code"):
        assert np.array_equal(e.fields[name].bits[0], e.fields[name].bits[1])
    assert e.tokens["note"][0] == e.tokens["note"][1]
    assert dice(e.fields["age"].bits[[0]], e.fields["age"].bits[[1]])[0] > 0.2
    assert e.tokens["m"][0] != 0


def test_own_kinds_status_per_row() -> None:
    """The statuses of text, exact and number fields (worked out once per distinct value)
    are those of the rule row by row: 0 cleaned, 1 absent or blank, 2 not usable."""
    from nislink.encode.encoder import _absent

    raw = [None, np.nan, pd.NA, pd.NaT, np.datetime64("NaT"), "", "  ", "x", "X1", "41",
           41, 4.5, "abc", float("inf"), "...", "x", None, "  "]
    s = Schema(fields=[FieldSpec("fn", "forename"), FieldSpec("note", "text"),
                       FieldSpec("code", "exact", length=64), FieldSpec("age", "number")])
    df = pd.DataFrame({"fn": ["ann"] * len(raw), "note": pd.Series(raw, dtype=object),
                       "code": pd.Series(raw, dtype=object), "age": pd.Series(raw, dtype=object)})
    values, kept, _, status = Encoder(s, KEY_A)._clean(df, {f.name: f.name for f in s.fields},
                                                       None)
    assert list(kept) == list(range(len(raw)))
    for name in ("note", "code", "age"):
        expected = [0 if v is not None else
                    1 if _absent(r) or (isinstance(r, str) and not r.strip()) else 2
                    for v, r in zip(values[name], raw)]
        assert status[name].tolist() == expected
        assert status[name].dtype == np.int64
    assert status["note"].tolist()[:8] == [1, 1, 1, 1, 2, 1, 1, 0]


def test_clkhash_schema_uses_compat_module() -> None:
    import base64
    import json
    from pathlib import Path

    data = Path(__file__).parent / "data" / "clkhash"
    vectors = json.loads((data / "vectors.json").read_text(encoding="utf-8"))
    case = next(c for c in vectors["cases"]
                if "secret_b64" in c and len(base64.b64decode(c["secret_b64"])) >= 32)
    rows = json.loads((data / case["rows"]).read_text(encoding="utf-8"))["rows"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = Schema.from_clkhash(data / case["schema"])
    assert schema.kind == "clkhash"
    assert Schema.from_json(schema.to_json()).fingerprint == schema.fingerprint
    ids_ = schema.clkhash_schema.identifiers
    df = pd.DataFrame(rows, columns=ids_)
    e = Encoder(schema, Secret(base64.b64decode(case["secret_b64"]))).encode(df)
    assert e.to_clkhash() == case["clks"]
    assert e.meta["schema_fingerprint"] == schema.fingerprint


def test_parallel_encoding_identical() -> None:
    df = people(2500, seed=21)
    one = Encoder(Schema.uk_default(), KEY_A, workers=1).encode(df, id_column="id")
    two = Encoder(Schema.uk_default(), KEY_A, workers=2).encode(df, id_column="id")
    assert same(one, two)
    assert np.array_equal(one.fields["forename~postcode&dob_year"].present,
                          two.fields["forename~postcode&dob_year"].present)


def test_parallel_outputs_written_in_place_and_fallback(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Workers write their rows into one shared mapping (no results pickled back); a part
    whose layout differed from the probe's would be sent back and concatenated instead:
    both give the one-process encodings, with three workers as with two."""
    import nislink.encode.encoder as enc_mod

    df = people(3100, seed=22)
    one = Encoder(Schema.uk_default(), KEY_A, workers=1).encode(df, id_column="id")
    three = Encoder(Schema.uk_default(), KEY_A, workers=3).encode(df, id_column="id")
    assert same(one, three)
    assert three.fields["forename"].bits.base is not None  # a view over the mapping
    clk_one = Encoder(uk_with_clk(), KEY_A, workers=1).encode(df, id_column="id")
    clk_two = Encoder(uk_with_clk(), KEY_A, workers=2).encode(df, id_column="id")
    assert clk_two.clk is not None and same(clk_one, clk_two)
    real_put = enc_mod._SharedOutputs.put

    def put_first_only(self, res, lo):  # type: ignore[no-untyped-def]
        return real_put(self, res, lo) if lo == 0 else False

    monkeypatch.setattr(enc_mod._SharedOutputs, "put", put_first_only)
    two = Encoder(Schema.uk_default(), KEY_A, workers=2).encode(df, id_column="id")
    assert same(one, two)
    for name, tok in one.tokens.items():
        assert np.array_equal(tok, two.tokens[name]) and tok.dtype == two.tokens[name].dtype


def test_cleaning_in_parts_rejects_as_one_process() -> None:
    """With several workers each process cleans its own rows; ids are counted over the
    whole input first, so an id held by rows in different parts is rejected in both, and
    the rejects table, the field summary and the encodings are those of one process."""
    df = people(3600, seed=23)
    df.loc[10, "id"] = df.loc[3500, "id"]  # one id in the first and the last part
    df.loc[[20, 2500], ["forename", "surname", "dob", "nino", "upn"]] = None  # nothing usable
    df.loc[30, "surname"] = "x" * 300  # too long: rejected before cleaning
    df.loc[1900, "id"] = None  # missing id
    df.loc[40, "dob"] = "31/02/1980"  # an invalid date: the row is kept, dob rejected
    runs = {}
    for w in (1, 2, 3):
        enc = Encoder(Schema.uk_default(), KEY_A, workers=w)
        enc.warn = False
        runs[w] = (enc.encode(df, id_column="id"), enc.rejects, enc.summary)
    one, rej1, sum1 = runs[1]
    assert set(rej1["row"]) == {10, 3500, 20, 2500, 30, 1900}
    assert "duplicated id" in rej1.loc[rej1["row"] == 3500, "reason"].item()
    for w in (2, 3):
        enc_w, rej_w, sum_w = runs[w]
        assert same(one, enc_w)
        pd.testing.assert_frame_equal(rej1, rej_w)
        assert sum1.counts == sum_w.counts and sum1.rows == sum_w.rows
        assert enc_w.meta["u_hist"] == one.meta["u_hist"]


def test_first_part_makes_the_u_histograms(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """When the first part holds all the records the u histograms are drawn from, this
    process makes them while the other parts finish: the same histograms as one process
    (and as the parent's own pass, forced here by a first part that is too short)."""
    from nislink.encode import encoder as enc_mod

    df = people(2 * enc_mod.U_HIST_ROWS + 600, seed=31)
    one = Encoder(Schema.uk_default(), KEY_A, workers=1).encode(df, id_column="id")
    calls: list[int] = []
    real = Encoder.u_histograms

    def spy(self, values, *a, **k):  # type: ignore[no-untyped-def]
        calls.append(len(next(iter(values.values()))))
        return real(self, values, *a, **k)

    monkeypatch.setattr(Encoder, "u_histograms", spy)
    two = Encoder(Schema.uk_default(), KEY_A, workers=2).encode(df, id_column="id")
    assert same(one, two) and two.meta["u_hist"] == one.meta["u_hist"]
    assert calls == [enc_mod.U_HIST_ROWS]  # once, in the first part
    calls.clear()
    monkeypatch.setattr(enc_mod, "U_HIST_ROWS", len(df))  # more than the first part holds
    three = Encoder(Schema.uk_default(), KEY_A, workers=2).encode(df, id_column="id")
    assert calls == [len(df)]  # by the parent, from every part's values
    single = Encoder(Schema.uk_default(), KEY_A, workers=1).encode(df, id_column="id")
    assert three.meta["u_hist"] == single.meta["u_hist"] != one.meta["u_hist"]


def test_the_first_part_is_shorter_by_the_u_histograms_work(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The part that also makes the u histograms takes fewer records (so that the parts
    end together); the encodings and histograms are those of one process."""
    from nislink.encode import encoder as enc_mod
    from nislink.encode import parallel

    monkeypatch.setattr(enc_mod, "U_HIST_ROWS", 2_000)
    df = people(9_000, seed=37)
    seen: list[list[tuple[int, int]]] = []
    real = enc_mod.run_forked

    def spy(fn, ranges):  # type: ignore[no-untyped-def]
        seen.append(list(ranges))
        return real(fn, ranges)

    monkeypatch.setattr(enc_mod, "run_forked", spy)
    one = Encoder(Schema.uk_default(), KEY_A, workers=1).encode(df, id_column="id")
    two = Encoder(Schema.uk_default(), KEY_A, workers=2).encode(df, id_column="id")
    assert same(one, two) and two.meta["u_hist"] == one.meta["u_hist"]
    (lo0, hi0), (lo1, hi1) = seen[0]
    n = hi1  # the rows without too-long values: all of them here
    assert (lo0, lo1, n) == (0, hi0, len(df))
    assert hi1 - lo1 - (hi0 - lo0) in (enc_mod._U_HIST_WORTH, enc_mod._U_HIST_WORTH + 1)
    assert parallel.row_ranges(9_000, 2, head_start=0) == [(0, 4_500), (4_500, 9_000)]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 10**6), parts=st.integers(1, 8), lead=st.integers(0, 10**5))
def test_row_ranges_cover_every_row_once(n: int, parts: int, lead: int) -> None:
    from nislink.encode.parallel import row_ranges

    r = row_ranges(n, parts, head_start=lead)
    assert len(r) == parts and r[0][0] == 0 and r[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(r, r[1:])) and all(lo <= hi for lo, hi in r)
    sizes = [hi - lo for lo, hi in r]
    if parts > 1:
        assert max(sizes[1:]) - min(sizes[1:]) <= 1  # the others even
        # the first shorter by the lead when there is room, else all even
        assert (sizes[1] - sizes[0] in (lead, lead + 1)
                or (max(sizes) - min(sizes) <= 1 and n + lead < parts * (lead + 1)))


_ANY = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(
    ["Smith", "01/02/1980", "1980-02-30", "SW1A 1AA", "M", "AB123456C", "nan", " ", "0"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(_ANY, _ANY, _ANY, _ANY, _ANY, _ANY, _ANY), min_size=1,
                     max_size=6))
def test_arbitrary_input_never_crashes_and_nothing_is_lost(rows) -> None:  # type: ignore[no-untyped-def]
    cols = ["forename", "surname", "dob", "sex", "postcode", "nino", "upn"]
    df = pd.DataFrame(rows, columns=cols)
    enc = Encoder(Schema.uk_default(), KEY_A, workers=1)
    e = enc.encode(df)
    assert len(e) + len(enc.rejects) == len(df)
    assert set(e.ids) | {str(r) for r in enc.rejects["row"]} == {str(i) for i in df.index}
    for t in e.tokens.values():
        assert t.shape == (len(e),)


def test_clkhash_only_frame_saves_and_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nislink.io import load

    e = Encoder(uk_with_clk(), KEY_A).encode(people(5), id_column="id")
    only = EncodedFrame.from_clkhash(e.to_clkhash(), ids=e.ids)
    only.save(tmp_path / "c.parquet")
    back = load(tmp_path / "c.parquet")
    assert np.array_equal(back.clk.bits, e.clk.bits) and back.fields == {}


def test_factorize_keeps_nul_and_surrogate_strings_apart() -> None:
    """pandas hashes "\\x00" like "" and lone surrogates alike; the encoder must not."""
    import numpy as np

    from nislink.clean.vectorise import factorize

    values = np.array(["", "\x00", "a", None, "a\ud800", "b\ud800", "a"], dtype=object)
    codes, uniq = factorize(values)
    present = codes >= 0
    assert list(uniq[codes[present]]) == [v for v in values if v is not None]
    assert codes[3] == -1
    assert codes[2] == codes[6]


def test_encode_normalised_treats_nan_and_na_as_missing() -> None:
    """A pandas text Series marks missing values NaN (pandas 3 ``str``) or NA ("string"):
    both encode exactly like ``None``, never as the text "nan" or "<NA>"."""
    s = Schema(fields=[FieldSpec("surname", "surname")], clk=ClkSpec(1024))
    enc = Encoder(s, KEY_A)
    want = enc.encode_normalised({"surname": ["smith", None, "jones"]})
    for values in (
        pd.Series(["smith", None, "jones"], dtype="string"),
        ["smith", float("nan"), "jones"],
        np.array(["smith", np.nan, "jones"], dtype=object),
    ):
        got = enc.encode_normalised({"surname": values})
        assert not got.fields["surname"].present[1]
        assert np.array_equal(got.fields["surname"].bits, want.fields["surname"].bits)
        assert np.array_equal(got.clk.bits, want.clk.bits)
        for k in want.tokens:
            assert np.array_equal(got.tokens[k], want.tokens[k]), k


def test_the_parallel_helper_runs_parts_in_forked_processes_in_order() -> None:
    import os

    from nislink.encode.parallel import fork_available, row_ranges, run_forked

    assert row_ranges(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert row_ranges(2, 4) == [(0, 0), (0, 1), (1, 1), (1, 2)]
    data = np.arange(3000)
    parts = row_ranges(len(data), 3)
    # a closure over local data: it reaches the children through fork, not pickling
    out = run_forked(lambda lo, hi: (os.getpid(), int(data[lo:hi].sum())), parts)
    assert [s for _, s in out] == [int(data[lo:hi].sum()) for lo, hi in parts]
    assert out[0][0] == os.getpid()
    if fork_available():
        assert len({p for p, _ in out}) == 3
        # done children exit on their own (not waited for) and are reaped, not left behind
        import multiprocessing
        import time
        from pathlib import Path

        kids = {p for p, _ in out} - {os.getpid()}
        deadline = time.monotonic() + 30
        while multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not [p for p in kids if Path(f"/proc/{p}").exists()]

    def fail_in_second(lo: int, hi: int) -> int:
        if lo:
            raise ValueError(f"rows {lo}:{hi}")
        return hi

    with pytest.raises(ValueError, match="rows 1000:2000"):
        run_forked(fail_in_second, parts)


def test_a_failure_here_stops_the_forked_children_at_once() -> None:
    """An exception in this process's range (Ctrl-C included) terminates the children that
    are still encoding: they hold the same data, and nothing may outlive the call."""
    import os
    import time
    from pathlib import Path

    from nislink.encode.parallel import fork_available, row_ranges, run_forked

    if not fork_available():
        pytest.skip("no fork on this platform")  # Windows: everything runs here
    pids: list[int] = []
    kids = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")

    def children() -> set[int]:
        return {int(p) for p in kids.read_text().split()} if kids.exists() else set()

    before = children()  # e.g. helpers left by earlier tests in this process

    def job(lo: int, hi: int) -> int:
        if lo == 0:
            # the children are running by now: find them, then fail
            deadline = time.monotonic() + 30
            while kids.exists() and len(pids) < 2 and time.monotonic() < deadline:
                pids[:] = sorted(children() - before)
                time.sleep(0.01)
            raise KeyboardInterrupt
        time.sleep(600)  # a long encoding
        return hi

    with pytest.raises(KeyboardInterrupt):
        run_forked(job, row_ranges(30, 3))
    assert len(pids) == 2
    assert not [p for p in pids if Path(f"/proc/{p}").exists()
                and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 40) | st.integers(0, 2**62), max_size=300))
def test_factor_codes_first_appearance(codes: list[int]) -> None:
    """The hash-table numbering of codes: distinct non-negative codes in order of first
    appearance, each entry pointing at its code, -1 for negative codes."""
    from nislink.encode.encoder import _dense, _factor_codes

    arr = np.array(codes, dtype=np.int64)
    uniq, inv = _factor_codes(arr)
    assert uniq.tolist() == [c for c in dict.fromkeys(codes) if c >= 0]
    assert inv.tolist() == [uniq.tolist().index(c) if c >= 0 else -1 for c in codes]
    if all(c >= 0 for c in codes):
        assert _dense(arr).tolist() == inv.tolist()

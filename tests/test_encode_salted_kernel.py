"""The compiled salted-message kernels equal their pure-Python references bit for bit.

``salted_filters`` and ``joined_xof_words`` (nislink/encode/blake3_batch.py) assemble
``token || 0x1F || salt`` from byte tables and hash 16 messages side by side; here they are
checked against the ``blake3`` package and plain Python loops, and the whole encoder is
checked against its general (string-building) path on synthetic people.
"""

from __future__ import annotations

import datetime as dt

import blake3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink import Schema, Secret
from nislink.encode import encoder as encoder_mod
from nislink.encode.blake3_batch import (
    MAX_MESSAGE,
    byte_table,
    joined_xof_words,
    keyed_xof_table,
    salted_filters,
)
from nislink.encode.encoder import (
    Encoder,
    _gather_rows,
    _join_codes,
    _JoinedTexts,
    _kernel_table,
)
from nislink.frame import popcount_rows
from nislink.encode.tokens import component_value, component_values


def _ref_filters(tokens: list[bytes], starts: list[int], counts: list[int], salts: list[bytes],
                 pair_name: list[int], pair_salt: list[int], bpf: int, length: int,
                 key: bytes) -> np.ndarray:
    """docs/encoding.md sections 4-5 in plain Python: one bit list per pair."""
    words = (length + 63) // 64
    out = np.zeros((len(pair_name), words), dtype=np.uint64)
    for p, (v, s) in enumerate(zip(pair_name, pair_salt)):
        t = counts[v]
        if t == 0:
            continue
        k = max(1, min(bpf, int(np.rint(bpf / t))))
        for tok in tokens[starts[v]: starts[v] + t]:
            d = blake3.blake3(tok + b"\x1f" + salts[s], key=key).digest(length=4 * k)
            for i in range(k):
                pos = int.from_bytes(d[4 * i: 4 * i + 4], "little") % length
                out[p, pos // 64] |= np.uint64(1 << (pos % 64))
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bpf=st.integers(1, 130),
       length=st.sampled_from([37, 64, 250, 256, 1000]))
def test_salted_filters_equal_reference(seed: int, bpf: int, length: int) -> None:
    rng = np.random.default_rng(seed)
    key = rng.bytes(32)
    tokens = [rng.bytes(int(rng.integers(0, 30))) for _ in range(40)]
    counts = [int(c) for c in rng.integers(0, 9, 8)]  # a value may have no token
    starts = list(np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int))
    tokens = tokens[: sum(counts)] + [b"x"] * max(0, sum(counts) - len(tokens))
    salts = [rng.bytes(int(rng.integers(0, 64 - 31))) for _ in range(30)] + [b""]
    pair_name = [int(x) for x in rng.integers(0, 8, 45)]  # 45 pairs: lanes partly filled
    pair_salt = [int(x) for x in rng.integers(0, len(salts), 45)]
    tt, tl = byte_table(tokens)
    st_, sl = byte_table(salts)
    got = salted_filters(tt, tl, np.array(starts), np.array(counts), st_, sl,
                         np.array(pair_name), np.array(pair_salt), bpf, length, key)
    want = _ref_filters(tokens, starts, counts, salts, pair_name, pair_salt, bpf, length, key)
    assert np.array_equal(got, want)
    # the same tokens read through ``tok_row`` from a table of the distinct tokens, in a
    # shuffled order (as the encoder passes them)
    distinct = list(dict.fromkeys(tokens))
    perm = rng.permutation(len(distinct))
    table = [distinct[i] for i in perm]
    row = np.array([table.index(t) for t in tokens], dtype=np.int64)
    dt_, dl = byte_table(table)
    via_rows = salted_filters(dt_, dl, np.array(starts), np.array(counts), st_, sl,
                              np.array(pair_name), np.array(pair_salt), bpf, length, key,
                              tok_row=row)
    assert np.array_equal(via_rows, want)
    if len(row):
        with pytest.raises(ValueError, match="past the token table"):
            salted_filters(dt_, dl, np.array(starts), np.array(counts), st_, sl,
                           np.array(pair_name), np.array(pair_salt), bpf, length, key,
                           tok_row=row + len(table))


@pytest.mark.parametrize("nwords", [1, 2, 16, 17, 40])
def test_joined_words_equal_blake3(nwords: int) -> None:
    rng = np.random.default_rng(nwords)
    key = rng.bytes(32)
    a = [rng.bytes(int(rng.integers(0, 40))) for _ in range(23)]
    b = [rng.bytes(int(rng.integers(0, 24))) for _ in range(19)]
    ia = rng.integers(0, len(a), 37)
    ib = rng.integers(0, len(b), 37)
    got = joined_xof_words(*byte_table(a), ia, *byte_table(b), ib, key, nwords)
    for r in range(len(ia)):
        d = blake3.blake3(a[ia[r]] + b"\x1f" + b[ib[r]], key=key).digest(length=4 * nwords)
        assert got[r].tolist() == np.frombuffer(d, "<u4").tolist()


@pytest.mark.parametrize("n", [1, 16, 17, 50])
def test_joined_words_every_alignment_up_to_a_full_block(n: int) -> None:
    """Left parts of every length mod 4 (the salt is placed word by word at each byte
    offset), joined messages up to exactly 64 bytes, batches around the 16 lanes."""
    rng = np.random.default_rng(100 + n)
    key = rng.bytes(32)
    a = [rng.bytes(i) for i in range(33)]
    b = [rng.bytes(i) for i in range(31)]
    ia = rng.integers(0, len(a), n)
    ib = np.array([min(len(b) - 1, 63 - len(a[i])) for i in ia])  # mostly 64 bytes in all
    ib[::3] = rng.integers(0, 5, len(ib[::3]))
    got = joined_xof_words(*byte_table(a), ia, *byte_table(b), ib, key, 20)
    for r in range(n):
        msg = a[ia[r]] + b"\x1f" + b[ib[r]]
        assert len(msg) <= MAX_MESSAGE
        d = blake3.blake3(msg, key=key).digest(length=80)
        assert got[r].tolist() == np.frombuffer(d, "<u4").tolist()


def test_joined_words_every_split_of_a_full_block() -> None:
    """Every split of 64 bytes into left part, separator and right part (left parts of 0
    to 63 bytes: the right part placed from word 0 to word 15, an empty one after 63
    bytes), and shorter right parts, each checked against the blake3 package."""
    rng = np.random.default_rng(400)
    key = rng.bytes(32)
    for la in range(64):
        a = [rng.bytes(la), rng.bytes(la // 3)]
        b = [rng.bytes(63 - la), rng.bytes((63 - la) // 2), b""]
        ia = np.array([0, 0, 0, 1, 1])
        ib = np.array([0, 1, 2, 0, 2])
        got = joined_xof_words(*byte_table(a), ia, *byte_table(b), ib, key, 3)
        for r in range(len(ia)):
            d = blake3.blake3(a[ia[r]] + b"\x1f" + b[ib[r]], key=key).digest(length=12)
            assert got[r].tolist() == np.frombuffer(d, "<u4").tolist(), (la, r)


@pytest.mark.parametrize("npairs", [1, 16, 17])
def test_salted_filters_lane_edges(npairs: int) -> None:
    rng = np.random.default_rng(200 + npairs)
    key = rng.bytes(32)
    tokens = [rng.bytes(i % 34) for i in range(40)]
    counts = [1, 3, 4, 0, 16, 16]
    starts = list(np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int))
    salts = [rng.bytes(29), rng.bytes(1), b""]
    pair_name = [int(x) for x in rng.integers(0, len(counts), npairs)]
    pair_salt = [int(x) for x in rng.integers(0, len(salts), npairs)]
    tt, tl = byte_table(tokens)
    st_, sl = byte_table(salts)
    for bpf, length in ((1, 256), (17, 1000), (120, 256)):
        got = salted_filters(tt, tl, np.array(starts), np.array(counts), st_, sl,
                             np.array(pair_name), np.array(pair_salt), bpf, length, key)
        want = _ref_filters(tokens, starts, counts, salts, pair_name, pair_salt, bpf,
                            length, key)
        assert np.array_equal(got, want)


@pytest.mark.parametrize("length", [64, 128, 256, 1000])
def test_salted_filters_every_alignment_up_to_a_full_block(length: int) -> None:
    """Tokens of every length mod 4 with salts that fill the block to exactly 64 bytes
    (each message assembled as a whole row from the salt placed at the token's byte
    offset), values of 1 to 40 tokens (a pair's lanes span several groups of 16, so one
    row's bits are ORed from runs of lanes in successive groups), and 1 or 2 output
    blocks a token."""
    rng = np.random.default_rng(300 + length)
    key = rng.bytes(32)
    tokens = [rng.bytes(i % 41) for i in range(200)]
    counts = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 40, 33, 34]
    starts = list(np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int))
    salts = [rng.bytes(i) for i in range(24)] + [b""]
    npairs = 60
    pair_name = [int(x) for x in rng.integers(0, len(counts), npairs)]
    longest = [max(len(t) for t in tokens[starts[v]: starts[v] + counts[v]]) for v in pair_name]
    pair_salt = [min(len(salts) - 2, 63 - lt) for lt in longest]
    pair_salt[::4] = [int(x) for x in rng.integers(0, len(salts), len(pair_salt[::4]))]
    pair_salt = [s if longest[i] + 1 + len(salts[s]) <= MAX_MESSAGE else len(salts) - 1
                 for i, s in enumerate(pair_salt)]
    tt, tl = byte_table(tokens)
    st_, sl = byte_table(salts)
    for bpf in (1, 20, 120):
        got = salted_filters(tt, tl, np.array(starts), np.array(counts), st_, sl,
                             np.array(pair_name), np.array(pair_salt), bpf, length, key)
        want = _ref_filters(tokens, starts, counts, salts, pair_name, pair_salt, bpf,
                            length, key)
        assert np.array_equal(got, want), bpf


def test_kernels_refuse_long_messages() -> None:
    t, tl = byte_table([b"a" * 40])
    s, sl = byte_table([b"b" * 30])
    with pytest.raises(ValueError, match="longer than"):
        joined_xof_words(t, tl, np.array([0]), s, sl, np.array([0]), bytes(32), 2)
    with pytest.raises(ValueError, match="longer than"):
        byte_table([b"c" * (MAX_MESSAGE + 1)])


def test_kernels_refuse_tables_they_would_misread() -> None:
    """The kernels find a row by its offset: a table whose rows are not 64 bytes, lengths
    that do not match its rows, or an index outside them is an error, not wrong digests."""
    key = bytes(range(32))
    tab, lens = byte_table([b"ab", b"cd", b"ef"])
    wide = np.zeros((3, 128), dtype=np.uint8)
    with pytest.raises(ValueError, match="64-byte rows"):
        keyed_xof_table(wide, lens, key, 8)
    with pytest.raises(ValueError, match="lengths for"):
        keyed_xof_table(tab, lens[:2], key, 8)
    with pytest.raises(ValueError, match="64-byte rows"):
        joined_xof_words(tab, lens, np.array([0]), np.zeros((3, 32), np.uint8), lens,
                         np.array([0]), key, 2)
    with pytest.raises(ValueError, match="ib: an index is outside"):
        joined_xof_words(tab, lens, np.array([0]), tab, lens, np.array([3]), key, 2)
    with pytest.raises(ValueError, match="pair_salt"):
        salted_filters(tab, lens, np.array([0]), np.array([3]), tab, np.append(lens, 0),
                       np.array([0]), np.array([4]), 10, 256, key)
    with pytest.raises(ValueError, match="outside the token list"):
        salted_filters(tab, lens, np.array([1]), np.array([3]), tab, np.append(lens, 0),
                       np.array([0]), np.array([3]), 10, 256, key)
    # the empty salt (one past the salt rows) is allowed
    ok = salted_filters(tab, lens, np.array([0]), np.array([3]), tab, np.append(lens, 0),
                        np.array([0]), np.array([3]), 10, 256, key)
    assert ok.shape == (1, 4) and ok.any()


def test_join_codes_equal_per_record_join() -> None:
    rng = np.random.default_rng(5)
    a = np.array(["x|y", "x", None, "q"], dtype=object)[rng.integers(0, 4, 300)]
    b = np.array(["z", "y|z", "w", None], dtype=object)[rng.integers(0, 4, 300)]
    parts = [pd.factorize(a, use_na_sentinel=True), pd.factorize(b, use_na_sentinel=True)]
    codes, uniq = _join_codes([(c.astype(np.int64), np.asarray(u, object)) for c, u in parts])
    got = np.append(uniq, None)[codes]
    want = [None if x is None or y is None else f"{x}|{y}" for x, y in zip(a, b)]
    assert got.tolist() == want
    assert len(set(uniq.tolist())) == len(uniq)  # "x|y"+"z" and "x"+"y|z" are one text


def test_join_codes_without_separator_in_parts() -> None:
    """No component holds ``|`` (the shortcut that skips factorising the texts): the same
    codes and texts as a per-record join factorised in order of first appearance."""
    rng = np.random.default_rng(6)
    a = np.array(["x", "y", None, "q", "\x00"], dtype=object)[rng.integers(0, 5, 400)]
    b = np.array(["z", "w", "", None], dtype=object)[rng.integers(0, 4, 400)]
    parts = [pd.factorize(a, use_na_sentinel=True), pd.factorize(b, use_na_sentinel=True)]
    codes, uniq = _join_codes([(c.astype(np.int64), np.asarray(u, object)) for c, u in parts])
    joined = [None if x is None or y is None else f"{x}|{y}" for x, y in zip(a, b)]
    first: dict[str, int] = {}
    want = [-1 if t is None else first.setdefault(t, len(first)) for t in joined]
    assert codes.tolist() == want
    assert uniq.tolist() == list(first)


@pytest.mark.parametrize("vocab_b", [["z", "w", "", None], ["\u00e9t\u00e9", "w", None],
                                     ["b" * 40, "c", None]])
def test_joined_texts_table_equals_table_of_texts(vocab_b: list) -> None:
    """The lazy joined salt (components' byte tables joined by ``|`` in compiled code) gives
    the codes, texts and byte table of the eager join: ASCII, UTF-8 (multi-byte) and a join
    longer than one BLAKE3 block (no table, as :func:`_kernel_table` says)."""
    rng = np.random.default_rng(7)
    a = np.array(["x", "yy", None, "q" * 30, "\u00f1"], dtype=object)[rng.integers(0, 5, 500)]
    b = np.array(vocab_b, dtype=object)[rng.integers(0, len(vocab_b), 500)]
    parts = [(c.astype(np.int64), np.asarray(u, object)) for c, u in
             (pd.factorize(a, use_na_sentinel=True), pd.factorize(b, use_na_sentinel=True))]
    codes, eager = _join_codes(parts)
    lazy_codes, lazy = _join_codes(parts, [_kernel_table(u) for _, u in parts])
    assert isinstance(lazy, _JoinedTexts) and len(lazy) == len(eager)
    assert lazy_codes.tolist() == codes.tolist()
    want = _kernel_table(eager)
    got = lazy.table()
    if want is None:
        assert got is None
    else:
        assert got is not None
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert lazy.array().tolist() == eager.tolist()


def test_join_codes_many_parts_renumbers_before_overflow() -> None:
    """Forty components of three values each: the combined code would pass 2**62, so it is
    renumbered densely on the way; the codes and texts are still those of a per-record join."""
    rng = np.random.default_rng(9)
    cols = [np.array(["a", "b", None], dtype=object)[rng.integers(0, 3, 200)] for _ in range(40)]
    cols = [np.where(np.arange(200) % 7 == 0, "a", c) for c in cols]  # some complete rows
    parts = [(c.astype(np.int64), np.asarray(u, object)) for c, u in
             (pd.factorize(col, use_na_sentinel=True) for col in cols)]
    codes, uniq = _join_codes(parts)
    joined = ["|".join(row) if all(v is not None for v in row) else None for row in zip(*cols)]
    first: dict[str, int] = {}
    assert codes.tolist() == [-1 if t is None else first.setdefault(t, len(first))
                              for t in joined]
    assert uniq.tolist() == list(first)


def test_gather_rows_zero_rows_for_missing() -> None:
    """A filter's rows from its distinct rows: code -1 is an all-zero row, popcounts those of
    the rows gathered (also when there are no distinct rows at all)."""
    rng = np.random.default_rng(8)
    ub = rng.integers(0, 2**63, size=(50, 4), dtype=np.int64).astype(np.uint64)
    codes = rng.integers(-1, 50, size=300)
    rows, pop = _gather_rows(ub, codes)
    want = np.where((codes >= 0)[:, None], ub[np.maximum(codes, 0)], np.uint64(0))
    assert np.array_equal(rows, want)
    assert np.array_equal(pop, popcount_rows(want))
    rows, pop = _gather_rows(np.zeros((0, 4), np.uint64), np.full(5, -1))
    assert rows.shape == (5, 4) and not rows.any() and not pop.any()
    # written in place into given arrays (a worker's rows of the shared outputs)
    into = (np.full((300, 4), 7, np.uint64), np.full(300, 7, np.int32))
    got, got_pop = _gather_rows(ub, codes, into)
    assert got is into[0] and got_pop is into[1]
    assert np.array_equal(into[0], want) and np.array_equal(into[1], popcount_rows(want))
    with pytest.raises(ValueError, match="do not fit"):
        _gather_rows(ub, codes, (np.zeros((300, 2), np.uint64), np.zeros(300, np.int32)))


def test_vectorised_dob_components_equal_scalar() -> None:
    rng = np.random.default_rng(9)
    days = np.datetime64("1890-01-01") + rng.integers(0, 50000, 2000).astype("timedelta64[D]")
    vals = np.array([str(d) for d in days] + ["0999-12-31"], dtype=object)
    for mod in ["dayset", "yearpair0", "yearpair1"] + [f"blank{i}" for i in range(8)]:
        want = [component_value("dob", mod, v) for v in vals]
        assert component_values("dob", mod, vals).tolist() == want, mod


def _people(n: int) -> pd.DataFrame:
    from nislink.synth.population import generate_population

    p = generate_population(n, 21).people.iloc[:n].reset_index(drop=True)
    df = pd.DataFrame({"person_id": p["person_id"].astype(str), "forename": p["forename"],
                       "surname": p["surname"], "dob": p["dob"], "sex": p["sex"],
                       "postcode": p["postcode"], "nino": p["nino"], "upn": p["upn"]})
    df.loc[::37, "postcode"] = None  # salts missing on some records
    df.loc[::41, "forename"] = None
    return df


def test_encoder_kernels_equal_general_path(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """uk_default on synthetic people: every filter and token is the same with the compiled
    kernels as with the general path that builds each message as a string."""
    df = _people(1500)
    secret = Secret.from_bytes(b"kernel equivalence test secret, 32+ bytes")
    enc = Encoder(Schema.uk_default(), secret, today=dt.date(2026, 6, 1), workers=1)
    fast = enc.encode(df, id_column="person_id")
    monkeypatch.setattr(encoder_mod, "_kernel_table", lambda texts: None)
    monkeypatch.setattr(Encoder, "_pair_token",
                        lambda self, vals, v_tab, salt, s_tab, out_name: self._salted_token(
                            np.append(vals[1], None).astype(object)[vals[0]],
                            np.append(encoder_mod._texts(salt[1]), None).astype(object)[
                                salt[0]], out_name))
    slow = Encoder(Schema.uk_default(), secret, today=dt.date(2026, 6, 1),
                   workers=1).encode(df, id_column="person_id")
    assert list(fast.fields) == list(slow.fields) and len(fast.fields) == 24
    for name in fast.fields:
        assert np.array_equal(fast.fields[name].bits, slow.fields[name].bits), name
        assert np.array_equal(fast.fields[name].present, slow.fields[name].present), name
    assert list(fast.tokens) == list(slow.tokens)
    for name in fast.tokens:
        assert np.array_equal(fast.tokens[name], slow.tokens[name]), name
    assert fast.meta["u_hist"] == slow.meta["u_hist"]


@pytest.mark.parametrize("n", [1, 16, 17, 300])
@pytest.mark.parametrize("big", [True, False])
def test_compiled_sha1_md5_equal_numpy_reference(big: bool, n: int) -> None:
    """The 16-lane vector SHA-1 / MD5 compressions, on batches that fill the lanes partly,
    exactly and over several rounds."""
    from nislink.encode.clkhash import hmac_np

    rng = np.random.default_rng(11 + n)
    width = 5 if big else 4
    state = rng.integers(0, 2**32, (n, width), dtype=np.uint64).astype(np.uint32)
    words = rng.integers(0, 2**32, (n, 16), dtype=np.uint64).astype(np.uint32)
    ref = (hmac_np._sha1_compress if big else hmac_np._md5_compress)(state, words)
    assert np.array_equal(hmac_np._compress_compiled(big, state, words), ref)


def test_clkhash_compiled_scatter_equals_numpy_reference() -> None:
    from nislink.encode.clkhash import engine

    rng = np.random.default_rng(12)
    nvals, ntok, kmax, length = 200, 50, 30, 1000
    occ_value = np.sort(rng.integers(0, nvals, 900))
    occ_token = rng.integers(0, ntok, 900)
    occ_k = rng.integers(0, kmax + 1, 900)
    positions = rng.integers(0, length, (ntok, kmax))
    a = np.zeros((nvals, (length + 63) // 64), dtype=np.uint64)
    b = a.copy()
    engine._scatter(a, occ_value, occ_token, occ_k, positions, a.shape[1])
    engine._scatter_compiled(b, occ_value, occ_token, occ_k, positions)
    assert np.array_equal(a, b) and a.any()


def test_kernel_table_ascii_fast_path_equals_utf8_bytes() -> None:
    from nislink.encode.encoder import _kernel_table

    for texts in (["ab", "", "forename:qgram:_a", "x" * 64],  # ASCII: the fast path
                  ["zoë", "a"], ["a\x00", "\x00b", "c"], ["\U0001f600", "é" * 32]):
        got = _kernel_table(np.array(texts, dtype=object))
        assert got is not None
        want = byte_table([t.encode("utf-8") for t in texts])
        assert np.array_equal(got[0], want[0]) and got[1].tolist() == want[1].tolist()
    assert _kernel_table(np.array(["é" * 33], dtype=object)) is None  # 66 bytes
    assert _kernel_table(np.array(["y" * 65], dtype=object)) is None


def test_text_digests_equal_bytes_path() -> None:
    """Hashes of texts from their byte table equal the blake3 package on their UTF-8 bytes
    (ASCII, non-ASCII, NUL, empty, and texts too long for one block)."""
    from nislink.encode.bloom import keyed_digests
    from nislink.encode.encoder import _text_digests, _text_uint64

    key = bytes(range(32))
    for texts in (["ab", "", "x" * 64, "forename:qgram:_a"] * 700, ["zoë", "a\x00", "é" * 32],
                  ["y" * 65, "z"]):
        want = keyed_digests([t.encode("utf-8") for t in texts], key, 40)
        assert np.array_equal(_text_digests(np.array(texts, dtype=object), key, 40), want)
        small = np.array([blake3.blake3(t.encode("utf-8"), key=key).digest(length=8)
                          for t in texts[:5]], dtype=object)
        got = _text_uint64(texts[:5], key)
        for g, d in zip(got.tolist(), small.tolist()):
            assert g == (int.from_bytes(d, "little") or 1)


@pytest.mark.parametrize("length", [256, 1000])
def test_salted_filters_salt_past_the_table_is_empty(length: int) -> None:
    """A salt index one past the salt table's rows (the encoder's missing salt, with a
    length of 0 appended) hashes ``token || 0x1F`` exactly as the empty salt does, next
    to pairs whose salt is a row of the table (each assembled in registers)."""
    rng = np.random.default_rng(400 + length)
    key = rng.bytes(32)
    tokens = [rng.bytes(1 + i % 9) for i in range(30)]
    counts = [2, 5, 7, 16]
    starts = list(np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int))
    salts = [rng.bytes(i) for i in (3, 11, 20)]
    pair_name = [int(x) for x in rng.integers(0, len(counts), 40)]
    pair_salt = [int(x) for x in rng.integers(0, len(salts) + 1, 40)]  # 3: past the rows
    assert 3 in pair_salt and 0 in pair_salt
    tt, tl = byte_table(tokens)
    st_, sl = byte_table(salts)
    got = salted_filters(tt, tl, np.array(starts), np.array(counts), st_, np.append(sl, 0),
                         np.array(pair_name), np.array(pair_salt), 120, length, key)
    want = _ref_filters(tokens, starts, counts, [*salts, b""], pair_name, pair_salt, 120,
                        length, key)
    assert np.array_equal(got, want)

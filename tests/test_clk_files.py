"""CLK-only linkage and clkhash/anonlink CLK files (issue 15).

The fixture ``tests/data/clkhash/clks/`` was written by clkhash 0.18.3 itself
(``benchmarks/make_clk_files.py``): 500 FEBRL4 people, their record in file A and in file
B, FEBRL clkhash schema ``febrl_blake_bpt`` without ``soc_sec_id``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import nislink
from nislink import io
from nislink.errors import EncodedFileError
from nislink.frame import BitMatrix
from nislink.linkage import DiceBlocking
from nislink.model import RECORD_FILTER, RECORD_RANK, FellegiSunter, FieldComparison

CLKS = Path(__file__).parent / "data" / "clkhash" / "clks"


def _entity(rec_id: str) -> str:
    return re.match(r"rec-(\d+)-", rec_id).group(1)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def files() -> tuple[nislink.EncodedFrame, nislink.EncodedFrame, set[tuple[str, str]]]:
    ids = json.loads((CLKS / "febrl4_ids.json").read_text())
    a = io.read_clks(CLKS / "febrl4_a.json", ids=ids["a"])
    b = io.read_clks(CLKS / "febrl4_b.json", ids=ids["b"])
    by_entity = {_entity(x): x for x in ids["b"]}
    truth = {(x, by_entity[_entity(x)]) for x in ids["a"] if _entity(x) in by_entity}
    return a, b, truth


def test_clkhash_files_load_with_row_ids_by_default() -> None:
    f = io.read_clks(CLKS / "febrl4_a.json")
    assert len(f) == 500 and f.clk is not None and f.clk.nbits == 1024
    assert list(f.ids[:3]) == ["0", "1", "2"]
    assert f.fields == {} and f.tokens == {}
    assert int(f.clk.popcount.min()) > 0


def test_clkhash_files_link_clk_only(files) -> None:  # type: ignore[no-untyped-def]
    a, b, truth = files
    res = nislink.link(a, b)
    pred = set(zip(res.pairs["id_a"], res.pairs["id_b"]))
    tp = len(pred & truth)
    precision, recall = tp / len(pred), tp / len(truth)
    assert precision >= 0.99 and recall >= 0.98, (precision, recall)
    names = [c.name for c in res.model.comparisons]
    assert names == [RECORD_FILTER, RECORD_RANK]
    # weights never fall as the Dice rises, and a mutual best pair weighs more than others
    w = res.model.log2_bayes_factors()
    assert np.all(np.diff(w[0]) >= -1e-9)
    assert w[1][2] > w[1][1] > w[1][0]
    # saved and reloaded, the model scores the same
    again = FellegiSunter.from_json(res.model.to_json())
    assert again.comparisons == res.model.comparisons
    res2 = nislink.link(a, b, model=again)
    assert res2.pairs[["id_a", "id_b"]].equals(res.pairs[["id_a", "id_b"]])


def test_dedupe_clk_only(files) -> None:  # type: ignore[no-untyped-def]
    a, b, truth = files
    both = io.read_clks(CLKS / "febrl4_a.json")
    both = nislink.EncodedFrame(
        ids=np.concatenate([a.ids, b.ids]), fields={},
        clk=BitMatrix(np.concatenate([a.clk.bits, b.clk.bits]), 1024), tokens={},
        meta=both.meta)
    res = nislink.dedupe(both)
    lab = dict(zip(res.clusters["id"], res.clusters["cluster_id"]))
    same = sum(lab[x] == lab[y] for x, y in truth)
    assert same >= 0.97 * len(truth)
    sizes = res.clusters["cluster_id"].value_counts()
    assert (sizes > 2).sum() <= 5  # the people are not chained together


def test_write_read_round_trip(tmp_path: Path, files) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = files
    io.write_clks(a, tmp_path / "out.json")
    doc = json.loads((tmp_path / "out.json").read_text())
    assert list(doc) == ["clks"]
    # byte for byte what clkhash wrote
    assert doc["clks"] == json.loads((CLKS / "febrl4_a.json").read_text())["clks"]
    back = io.read_clks(tmp_path / "out.json", ids=list(a.ids))
    assert np.array_equal(back.clk.bits, a.clk.bits) and list(back.ids) == list(a.ids)
    odd = BitMatrix.from_bool(np.random.default_rng(1).random((4, 1001)) < 0.3)
    io.write_clks(odd, tmp_path / "odd.json")
    assert np.array_equal(io.read_clks(tmp_path / "odd.json", nbits=1001).clk.bits, odd.bits)


def test_bad_clk_files_name_the_row(tmp_path: Path) -> None:
    clks = json.loads((CLKS / "febrl4_a.json").read_text())["clks"][:5]
    bad = list(clks)
    bad[3] = bad[3][:-8]
    (tmp_path / "short.json").write_text(json.dumps({"clks": bad}))
    with pytest.raises(EncodedFileError, match=r"row 3: 123 bytes, expected 128"):
        io.read_clks(tmp_path / "short.json")
    bad = list(clks)
    bad[2] = "not base64!"
    (tmp_path / "b64.json").write_text(json.dumps({"clks": bad}))
    with pytest.raises(EncodedFileError, match="row 2: not a valid base64"):
        io.read_clks(tmp_path / "b64.json")
    (tmp_path / "num.json").write_text(json.dumps({"clks": clks[:1] + [7]}))
    with pytest.raises(EncodedFileError, match="row 1: a CLK must be a base64 string"):
        io.read_clks(tmp_path / "num.json")
    (tmp_path / "list.json").write_text(json.dumps(clks))
    with pytest.raises(EncodedFileError, match="not a CLK JSON file"):
        io.read_clks(tmp_path / "list.json")
    with pytest.raises(EncodedFileError, match="no such file"):
        io.read_clks(tmp_path / "missing.json")
    (tmp_path / "ok.json").write_text(json.dumps({"clks": clks}))
    with pytest.raises(EncodedFileError, match="3 ids for 5 CLKs"):
        io.read_clks(tmp_path / "ok.json", ids=["x", "y", "z"])


def test_dice_blocking(files) -> None:  # type: ignore[no-untyped-def]
    a, b, truth = files
    rule = DiceBlocking()
    t = rule.resolve_threshold(a, b)
    assert 0.3 < t < 0.9
    ia, ib = nislink.linkage.candidates(a, b, rule)
    from nislink.compare import dice_pairs

    assert float(dice_pairs(a.clk, b.clk, ia, ib).min()) >= t - 1e-6
    fixed = nislink.linkage.candidates(a, b, DiceBlocking(threshold=0.9))
    assert len(fixed[0]) < len(ia)
    with pytest.raises(ValueError, match="threshold must be in"):
        DiceBlocking(threshold=1.5)
    with pytest.raises(ValueError, match="cannot be combined"):
        nislink.linkage.candidates(a, b, [rule, DiceBlocking(threshold=0.9)])


def test_record_comparison_checks() -> None:
    with pytest.raises(ValueError, match="record-level"):
        FieldComparison("clk", field="clk", token="x", record=True)
    with pytest.raises(ValueError, match="relative needs record"):
        FieldComparison("r", field="f", relative=True)


def test_files_that_share_nobody_are_flagged(files) -> None:  # type: ignore[no-untyped-def]
    """EM on one similarity always finds a "match" class; when two CLK-only files share
    nobody the links are all false, and a NoSharedPeopleWarning says so. Real overlapping
    files pass the check silently."""
    import warnings

    from nislink.errors import NoSharedPeopleWarning

    a, b, truth = files
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoSharedPeopleWarning)
        res = nislink.link(a, b)  # 500 shared people: no warning
    info = res.model.info["shared_people"]
    assert info["shared"] and info["links_above_cut"] > 3 * info["strangers_expected_above_cut"]
    # A's first 250 records against B's records of the other 250 people
    partner = dict(truth)
    first = a.take(np.arange(250))
    mine = {partner[x] for x in first.ids if x in partner}
    other = b.take(np.flatnonzero([x not in mine for x in b.ids]))
    with pytest.warns(NoSharedPeopleWarning, match="share nobody"):
        res = nislink.link(first, other)
    assert len(res.pairs) > 0  # the false links EM finds anyway
    assert not res.model.info["shared_people"]["shared"]

"""k-anonymity of the research dataset: measuring it, generalisation hierarchies, and
reaching a minimum k by generalising and suppressing, on the dataset the study protocol
builds from nislink.synth data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import nislink
from nislink.nis.anonymity import (
    SUPPRESSED,
    Hierarchy,
    anonymise,
    equivalence_class_sizes,
    k_anonymity,
)
from nislink.nis.outputs import OutputCheckError
from nislink.nis.protocol import DataOwner, LinkageUnit, ResearchAssembly, StudyDirectory
from nislink.synth import generate_study

QIS = ["area", "assessment_date", "members", "problems"]


@pytest.fixture(scope="module")
def research(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The person-level research dataset of a synthetic study, with family size, number of
    problems and the family's local authority (submitted by the LA as an attribute)."""
    synth = generate_study(1_500, seed=4)
    truth = synth.tables()
    la_of = truth["truth_la"].merge(truth["truth_people"][["person_id", "la_code"]],
                                    on="person_id")
    la = synth.la.assign(area=synth.la["la_id"].map(
        dict(zip(la_of["la_id"], la_of["la_code"].astype(str)))))
    root = tmp_path_factory.mktemp("study")
    study = StudyDirectory(root, study_end=dt.date(2027, 12, 31), today=dt.date(2026, 1, 5))
    secret = nislink.Secret.generate()
    schema = nislink.Schema.uk_default()
    DataOwner(study, "la", secret, schema, seed=1).submit(la, id_column="la_id",
                                                          submission=True)
    DataOwner(study, "moj", secret, schema, seed=2).submit(synth.moj, id_column="moj_id")
    unit = LinkageUnit(study)
    unit.receive()
    unit.link("la", "moj")
    paths = ResearchAssembly(study, seed=3).assemble()
    persons = pd.read_parquet(paths["persons"])
    families = pd.read_parquet(paths["families"])
    return persons.merge(families[["research_family_id", "members", "problems"]],
                         on="research_family_id")


HIERARCHIES = {
    "area": Hierarchy.prefixes(1),
    "assessment_date": Hierarchy.dates(),
    "members": Hierarchy.bands([1, 2, 3, 4, 5, 6], [1, 3, 5], [1, 4]),
    "problems": Hierarchy.bands([0, 1, 2, 3, 4], [0, 2, 4]),
}


def _by_hand(df: pd.DataFrame, qis: list[str], unit: str | None = None) -> pd.Series:
    key = df[qis].astype(str).agg("|".join, axis=1)
    if unit is None:
        return key.map(key.value_counts())
    return key.map(df.groupby(key)[unit].nunique())


# -------------------------------------------------------------------------- measuring


def test_k_anonymity_of_the_research_dataset(research: pd.DataFrame) -> None:
    assert set(QIS) <= set(research.columns)
    rep = k_anonymity(research, QIS, k_min=5)
    sizes = _by_hand(research, QIS)
    assert rep.records == len(research)
    assert rep.k == sizes.min()
    assert rep.records_below == int((sizes < 5).sum())
    assert rep.classes == research[QIS].astype(str).drop_duplicates().shape[0]
    assert 0 < rep.share_below < 1 and not rep.ok
    fam = k_anonymity(research, QIS, k_min=5, unit="research_family_id")
    fam_sizes = _by_hand(research, QIS, "research_family_id")
    assert fam.k == fam_sizes.min() and fam.records_below == int((fam_sizes < 5).sum())
    # members of one family share its quasi-identifiers: counting families is stricter
    assert fam.records_below >= rep.records_below and fam.k <= rep.k
    assert "research_family_id values" in str(fam)
    pd.testing.assert_series_equal(equivalence_class_sizes(research, QIS),
                                   sizes.astype(np.int64), check_names=False)


def test_missing_values_form_a_class() -> None:
    df = pd.DataFrame({"a": ["x", "x", None, None, None], "b": [1, 1, 2, 2, 2]})
    assert equivalence_class_sizes(df, ["a", "b"]).tolist() == [2, 2, 3, 3, 3]
    rep = k_anonymity(df, ["a", "b"], k_min=3)
    assert (rep.k, rep.classes, rep.classes_below, rep.records_below) == (2, 2, 1, 2)
    assert k_anonymity(df.iloc[:0], ["a"]).records == 0


# ------------------------------------------------------------------------ hierarchies


def test_date_hierarchy() -> None:
    s = pd.Series(["2021-03", "2021-11", None, "2022-01"], name="month")
    h = Hierarchy.dates()
    assert h.names == ("quarter", "year", "suppressed")
    assert h.apply(s, 1).tolist() == ["2021-Q1", "2021-Q4", None, "2022-Q1"]
    assert h.apply(s, 2).tolist() == ["2021", "2021", None, "2022"]
    assert h.apply(s, 3).tolist() == [SUPPRESSED] * 4
    days = pd.Series(pd.to_datetime(["2020-02-29", "2020-12-31"]))
    hd = Hierarchy.dates(start="day")
    assert hd.apply(days, 1).tolist() == ["2020-02", "2020-12"]
    assert hd.apply(days, 2).tolist() == ["2020-Q1", "2020-Q4"]
    with pytest.raises(OutputCheckError, match=r"column 'month': row 1 is not a date"):
        h.apply(pd.Series(["2021-03", "soon"], name="month"), 1)


def test_band_hierarchy() -> None:
    s = pd.Series([1, 2, 3, 4, 5, 7, 0, None], name="members")
    h = Hierarchy.bands([1, 2, 3, 4, 5], [1, 3, 5])
    assert h.apply(s, 1).tolist() == ["1", "2", "3", "4", "5+", "5+", "<1", None]
    assert h.apply(s, 2).tolist() == ["1-2", "1-2", "3-4", "3-4", "5+", "5+", "<1", None]
    assert h.apply(s, 3).tolist() == [SUPPRESSED] * 8
    money = Hierarchy.bands([0, 2.5, 10])
    assert money.apply(pd.Series([1.25, 3.0, 12.0]), 1).tolist() == ["0 to <2.5", "2.5 to <10",
                                                                     "10+"]
    with pytest.raises(OutputCheckError, match="ascending"):
        Hierarchy.bands([3, 1])
    with pytest.raises(OutputCheckError, match="row 1 is not a number"):
        h.apply(pd.Series([1, "many"], name="members"), 1)


def test_prefix_group_and_flag_hierarchies() -> None:
    s = pd.Series(["330", "383", "212", None], name="area")
    assert Hierarchy.prefixes(2, 1).apply(s, 1).tolist() == ["33*", "38*", "21*", None]
    assert Hierarchy.prefixes(2, 1).apply(s, 2).tolist() == ["3*", "3*", "2*", None]
    regions = {"330": "West Midlands", "383": "Yorkshire", "212": "London"}
    nations = {"West Midlands": "England", "Yorkshire": "England", "London": "England"}
    h = Hierarchy.groups(regions, nations, names=["region", "nation"])
    assert h.names == ("region", "nation", "suppressed")
    assert h.apply(s, 2).tolist() == ["England", "England", "England", None]
    with pytest.raises(OutputCheckError, match=r"no group in level 1 .* 1 values \('999'\)"):
        h.apply(pd.Series(["330", "999"], name="area"), 1)
    flag = Hierarchy.suppress_only()
    assert flag.apply(pd.Series([True, False]), 1).tolist() == [SUPPRESSED, SUPPRESSED]
    assert flag.name(0) == "as is" and flag.height == 1


# ------------------------------------------------------------------------ anonymising


def test_anonymise_reaches_k_by_generalising_then_suppressing(research: pd.DataFrame) -> None:
    res = anonymise(research, HIERARCHIES, k_min=5, max_suppressed=0.05)
    assert res.before.records_below > 0
    assert res.after.ok and res.after.k >= 5
    assert (_by_hand(res.data, QIS) >= 5).all()          # checked independently
    assert res.suppressed_records == len(research) - len(res.data)
    assert res.suppressed_records <= 0.05 * len(research)
    assert any(s.startswith("generalised") for s in res.steps)
    assert res.steps[-1].startswith("suppressed") or res.suppressed_records == 0
    # every step says what it did and what it bought
    assert all("records in classes below 5" in s for s in res.steps
               if s.startswith("generalised"))
    # the levels reported are the levels applied
    for col in QIS:
        h = HIERARCHIES[col]
        lv = [h.name(i) for i in range(h.height + 1)].index(res.levels[col])
        expected = h.apply(research[col], lv).loc[res.data.index]
        assert res.data[col].astype(str).tolist() == expected.astype(str).tolist()
    # other columns are untouched
    kept = research.loc[res.data.index]
    for col in ("research_id", "status", "moj_linked", "health"):
        assert res.data[col].tolist() == kept[col].tolist()
    assert "before:" in str(res) and "after:" in str(res)
    again = anonymise(research, HIERARCHIES, k_min=5, max_suppressed=0.05)
    assert again.steps == res.steps                      # deterministic
    pd.testing.assert_frame_equal(again.data, res.data)


def test_anonymise_counting_families(research: pd.DataFrame) -> None:
    res = anonymise(research, HIERARCHIES, k_min=5, unit="research_family_id")
    assert res.after.ok
    assert (_by_hand(res.data, QIS, "research_family_id") >= 5).all()
    persons = anonymise(research, HIERARCHIES, k_min=5)
    # protecting families needs at least as much generalisation as protecting records
    height = {c: [HIERARCHIES[c].name(i) for i in range(HIERARCHIES[c].height + 1)]
              for c in QIS}
    assert sum(height[c].index(res.levels[c]) for c in QIS) >= \
        sum(height[c].index(persons.levels[c]) for c in QIS)


def test_value_suppression_keeps_every_record(research: pd.DataFrame) -> None:
    res = anonymise(research, HIERARCHIES, k_min=5, suppress="values", max_suppressed=0.02)
    assert len(res.data) == len(research) and res.after.ok
    blank = (res.data[QIS] == SUPPRESSED).all(axis=1)
    assert int(blank.sum()) == res.suppressed_records
    assert res.suppressed_records == 0 or res.suppressed_records >= 5
    assert res.steps[-1].startswith("blanked") or res.suppressed_records == 0


def test_small_blank_class_is_made_big_enough() -> None:
    df = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 7 + ["c"] * 2, "v": range(15)})
    res = anonymise(df, {"g": None}, k_min=5, suppress="values")
    # the two 'c' records alone would be a blank class of 2: the 'a' class joins them
    assert res.data["g"].tolist() == [SUPPRESSED] * 6 + ["b"] * 7 + [SUPPRESSED] * 2
    assert res.after.k == 7 and "6 more" in res.steps[-1]
    dropped = anonymise(df, {"g": None}, k_min=5)
    assert dropped.data["g"].tolist() == ["a"] * 6 + ["b"] * 7
    assert dropped.suppressed_records == 2


def test_no_suppression_allowed_generalises_further(research: pd.DataFrame) -> None:
    res = anonymise(research, HIERARCHIES, k_min=5, max_suppressed=0.0)
    assert res.suppressed_records == 0 and res.after.ok and len(res.data) == len(research)
    some = anonymise(research, HIERARCHIES, k_min=5, max_suppressed=0.05)
    assert res.after.classes <= some.after.classes


def test_bad_arguments_are_named(research: pd.DataFrame) -> None:
    with pytest.raises(OutputCheckError, match=r"no column 'postcode_area' in the data"):
        k_anonymity(research, ["postcode_area", "members"])
    with pytest.raises(OutputCheckError, match="fewer than k_min = 50"):
        anonymise(research.iloc[:20], HIERARCHIES, k_min=50)
    with pytest.raises(OutputCheckError, match="max_suppressed"):
        anonymise(research, HIERARCHIES, max_suppressed=1.5)
    with pytest.raises(OutputCheckError, match="suppress must be"):
        anonymise(research, HIERARCHIES, suppress="cells")
    with pytest.raises(OutputCheckError, match="hierarchy of 'members' must be a Hierarchy"):
        anonymise(research, {"members": [1, 3, 5]})  # type: ignore[dict-item]
    with pytest.raises(OutputCheckError, match="unit column 'members' cannot be"):
        k_anonymity(research, QIS, unit="members")
    with pytest.raises(OutputCheckError, match="k_min must be"):
        k_anonymity(research, QIS, k_min=0)
    # a hierarchy that does not fit its column is refused even when k is already met
    with pytest.raises(OutputCheckError, match=r"column 'area': row .* is not a date"):
        anonymise(research, {"area": Hierarchy.dates()}, k_min=2)

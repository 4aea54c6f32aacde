"""Tests for nislink.clean.frame (module nislink.clean.frames): frame cleaning, rejection policy, explain()."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nislink.clean import Status
from nislink.clean.dates import check_dob
from nislink.clean import KINDS, explain, frame
from nislink.clean.ids import check_nino, check_upn, upn_check_letter
from nislink.clean.names import check_name
from nislink.clean.postcodes import check_postcode
from nislink.clean.sex_codes import check_sex

TODAY = dt.date(2026, 11, 22)
MAPPING = {
    "forename": "forename",
    "surname": "surname",
    "dob": "dob",
    "postcode": "postcode",
    "sex": "sex",
    "nino": "nino",
}


def _df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"],
            "forename": ["John", "Mary-Jane", None, "Miss", "xxx", "Zoë", "Bill", "Ann"],
            "surname": ["O'Brien", "Smith Jr", "", "Jones", "12345", None, "Brown", "Lee"],
            "dob": [
                "1980-01-31",
                "31/01/1980",
                "30/02/1980",
                "not a date",
                None,
                "1 Jan 1990",
                "2099-01-01",
                "19750605",
            ],
            "postcode": ["sw1a1aa", "SW1A 1AA", "M1 1AE", "NFA", "bad", None, "EC1A 1BB", ""],
            "sex": ["M", "female", "1", "2", "U", "X", 9, "f"],
            "nino": [
                "AB 12 34 56 C",
                None,
                "QQ123456C",
                "",
                "BG123456A",
                "AB123456",
                "ab123456d",
                None,
            ],
            "notes": list("abcdefgh"),
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17],
    )


def test_frame_basic_layout() -> None:
    df = _df()
    clean, rejects = frame(df, MAPPING, id_column="pid", today=TODAY)
    assert len(clean) + len(rejects) == len(df)
    # row 12: no name, impossible dob, NINO QQ invalid -> rejected
    # row 14: placeholder forename, digits surname, no dob, BG prefix -> rejected
    assert sorted(rejects["row"]) == [12, 14]
    assert set(clean.index) == {10, 11, 13, 15, 16, 17}
    assert list(rejects.columns) == ["row", "id", "field", "reason"]
    r12 = rejects.set_index("row").loc[12]
    assert r12["id"] == "a3"
    assert "forename" in r12["field"] and "dob" in r12["field"] and "nino" in r12["field"]
    assert "dob: invalid" in r12["reason"] and "surname: missing" in r12["reason"]
    # columns: originals in order, a status after each mapped column, pass-through kept
    assert list(clean.columns) == [
        "pid",
        "forename",
        "forename_status",
        "surname",
        "surname_status",
        "dob",
        "dob_status",
        "postcode",
        "postcode_status",
        "sex",
        "sex_status",
        "nino",
        "nino_status",
        "notes",
    ]
    assert list(clean["notes"]) == ["a", "b", "d", "f", "g", "h"]
    assert clean.loc[10, "forename"] == "john" and clean.loc[10, "surname"] == "obrien"
    assert clean.loc[11, "surname"] == "smith"
    assert clean.loc[13, "forename"] is None
    assert clean.loc[13, "forename_status"] == "missing"
    assert clean.loc[13, "dob_status"] == "invalid"
    assert clean.loc[13, "postcode_status"] == Status.NO_FIXED_ABODE.value
    assert clean.loc[15, "forename"] == "zoe"
    assert clean.loc[16, "dob_status"] == "out_of_range" and pd.isna(clean.loc[16, "dob"])
    assert clean["dob"].dtype == "datetime64[ns]"
    assert clean.loc[10, "dob"] == pd.Timestamp("1980-01-31")
    assert clean.loc[11, "dob"] == pd.Timestamp("1980-01-31")
    assert clean.loc[17, "dob"] == pd.Timestamp("1975-06-05")
    assert clean.loc[10, "postcode"] == "SW1A 1AA"
    assert list(clean["sex"]) == ["M", "F", "F", None, None, "F"]
    assert clean.loc[16, "sex_status"] == "unknown"
    assert clean.loc[10, "nino"] == "AB123456C"
    assert clean.loc[16, "nino"] == "AB123456D"
    # the input is not modified
    pd.testing.assert_frame_equal(df, _df())


def test_values_match_scalar_checkers() -> None:
    df = _df()
    clean, _ = frame(df, MAPPING, today=TODAY)
    checks = {
        "forename": check_name,
        "surname": check_name,
        "postcode": check_postcode,
        "sex": check_sex,
        "nino": check_nino,
        "dob": lambda v: check_dob(v, today=TODAY),
    }
    for col, check in checks.items():
        for idx in clean.index:
            r = check(df.loc[idx, col])
            assert clean.loc[idx, f"{col}_status"] == r.status.value, (col, idx)
            got = clean.loc[idx, col]
            if r.ok:
                expected = pd.Timestamp(r.value) if col == "dob" else r.value
                assert got == expected, (col, idx)
            else:
                assert got is None or pd.isna(got)


def test_upn_column_and_upn_only_rows() -> None:
    good = upn_check_letter("801200005001") + "801200005001"
    df = pd.DataFrame(
        {
            "upn": [good, good.lower(), "A801200005001", None, "rubbish"],
            "name": [None, None, None, "Ann", None],
        }
    )
    clean, rejects = frame(df, {"upn": "upn", "name": "name"}, today=TODAY)
    # a valid UPN alone is enough to keep a row; rows 2 and 4 have nothing usable
    assert list(clean.index) == [0, 1, 3]
    assert sorted(rejects["row"]) == [2, 4]
    for idx in clean.index:
        r = check_upn(df.loc[idx, "upn"])
        assert clean.loc[idx, "upn_status"] == r.status.value
        assert clean.loc[idx, "upn"] == r.accepted
    assert "upn: invalid" in rejects.set_index("row").loc[2, "reason"]


def test_id_missing_and_duplicated() -> None:
    df = pd.DataFrame(
        {
            "id": ["x", "y", "y", None, " ", "z"],
            "name": ["Ann", "Bob", "Cat", "Dan", "Eve", "Fay"],
        }
    )
    clean, rejects = frame(df, {"name": "name"}, id_column="id", today=TODAY)
    assert list(clean.index) == [0, 5]
    assert len(rejects) == 4 and len(clean) + len(rejects) == len(df)
    by_row = rejects.set_index("row")
    assert "duplicated id (2 rows share it)" in by_row.loc[1, "reason"]
    assert by_row.loc[2, "field"] == "id"
    assert "missing id" in by_row.loc[3, "reason"]
    assert "missing id" in by_row.loc[4, "reason"]


def test_combined_reasons_one_row() -> None:
    df = pd.DataFrame({"id": ["k", "k"], "name": [None, "Al"]})
    clean, rejects = frame(df, {"name": "name"}, id_column="id")
    assert len(clean) == 0 and len(rejects) == 2
    r0 = rejects.iloc[0]
    assert r0["field"] == "id,name"
    assert "duplicated id" in r0["reason"] and "name: missing" in r0["reason"]


def test_no_identifying_kind_mapped_keeps_everything() -> None:
    df = pd.DataFrame({"pc": ["junk", None, "SW1A 1AA"], "sex": ["?", None, "M"]})
    clean, rejects = frame(df, {"pc": "postcode", "sex": "sex"})
    assert len(clean) == 3 and len(rejects) == 0
    assert list(clean["pc_status"]) == ["invalid", "missing", "ok"]
    assert list(rejects.columns) == ["row", "field", "reason"]


def test_errors_name_the_column() -> None:
    df = _df()
    with pytest.raises(ValueError, match="'forname'"):
        frame(df, {"forname": "forename"})
    with pytest.raises(ValueError, match="'shoesize'"):
        frame(df, {"forename": "shoesize"})
    with pytest.raises(ValueError, match="'ident'"):
        frame(df, {"forename": "forename"}, id_column="ident")
    df2 = df.assign(forename_status=1)
    with pytest.raises(ValueError, match="forename_status"):
        frame(df2, {"forename": "forename"})
    with pytest.raises(TypeError):
        frame([1, 2], {"a": "name"})  # type: ignore[arg-type]


def test_empty_and_dtypes() -> None:
    empty = pd.DataFrame({"name": pd.Series([], dtype=object), "dob": []})
    clean, rejects = frame(empty, {"name": "name", "dob": "dob"})
    assert len(clean) == 0 and len(rejects) == 0
    # numeric sex column, datetime dob column, categorical names
    df = pd.DataFrame(
        {
            "sex": [1.0, 2.0, np.nan, 9.0],
            "dob": pd.to_datetime(["1980-01-01", None, "1901-02-03", "2001-12-31"]),
            "name": pd.Categorical(["Ann", "Bob", "Ann", None]),
        }
    )
    clean, rejects = frame(df, {"sex": "sex", "dob": "dob", "name": "name"}, today=TODAY)
    assert len(clean) == 4 and len(rejects) == 0
    assert list(clean["sex"]) == ["M", "F", None, None]
    assert list(clean["sex_status"]) == ["ok", "ok", "missing", "unknown"]
    assert list(clean["name"]) == ["ann", "bob", "ann", None]


def test_true_and_one_stay_distinct() -> None:
    df = pd.DataFrame({"sex": [1, True, "1", 1.0], "name": ["a", "b", "c", "d"]}, dtype=object)
    clean, _ = frame(df, {"sex": "sex", "name": "name"})
    assert list(clean["sex_status"]) == ["ok", "invalid", "ok", "ok"]


def test_unhashable_values() -> None:
    df = pd.DataFrame({"name": [["a"], "Bob", {"x": 1}], "id": [[1], [2], [1]]})
    clean, rejects = frame(df, {"name": "name"}, id_column="id")
    assert len(clean) + len(rejects) == 3
    assert set(rejects["row"]) == {0, 2}


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("name", "Ann", None),
        ("forename", "Miss", "missing: only a title or suffix"),
        ("surname", "12", "invalid: contains digits"),
        ("sex", "F", None),
        ("sex", "9", "unknown"),
        ("postcode", "SW1A 1AA", None),
        ("postcode", "NFA", Status.NO_FIXED_ABODE.value),
        ("nino", "AB123456C", None),
        ("nino", "DA123456C", "invalid"),
        ("nino", "QQ123456C", "placeholder"),
        ("dob", "1980-01-01", None),
        ("dob", "30/02/1980", "invalid"),
    ],
)
def test_explain(kind: str, value: object, expected: str | None) -> None:
    out = explain(kind, value, today=TODAY)
    if expected is None:
        assert out is None
    else:
        assert out is not None and out.startswith(expected)


def test_explain_unknown_kind() -> None:
    with pytest.raises(ValueError, match="shoesize"):
        explain("shoesize", 1)
    assert set(KINDS) == {"name", "forename", "surname", "dob", "postcode", "sex", "nino", "upn"}


# ------------------------------------------------------------------ properties

JUNK = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.text(max_size=12),
    st.sampled_from(
        ["John", "Mr", "xxx", "1980-01-31", "31/02/1980", "SW1A 1AA", "NFA", "M", "9",
         "AB123456C", "QQ123456C", "", " "]
    ),
    st.integers(min_value=-5, max_value=20_000_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.binary(max_size=4),
)  # fmt: skip


@st.composite
def junk_frames(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, str], str | None]:
    n = draw(st.integers(min_value=0, max_value=12))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4))
    cols = {f"c{i}": k for i, k in enumerate(kinds)}
    data = {c: draw(st.lists(JUNK, min_size=n, max_size=n)) for c in cols}
    use_id = draw(st.booleans())
    if use_id:
        data["rid"] = draw(
            st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", ""])), min_size=n,
                     max_size=n)
        )  # fmt: skip
    data["extra"] = list(range(n))
    index = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))  # repeats allowed
    df = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})
    df.index = pd.Index(index)
    return df, cols, "rid" if use_id else None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk_frames())
def test_frame_conserves_rows(case: tuple[pd.DataFrame, dict[str, str], str | None]) -> None:
    df, cols, id_col = case
    clean, rejects = frame(df, cols, id_column=id_col, today=TODAY)
    assert len(clean) + len(rejects) == len(df)
    # positions: 'extra' is a unique row number carried through
    kept = set(clean["extra"])
    assert len(kept) == len(clean)
    assert kept.isdisjoint(set(range(len(df))) - kept) and kept <= set(range(len(df)))
    assert sorted(rejects["row"].tolist()) == sorted(
        df.index[[i for i in range(len(df)) if i not in kept]].tolist()
    )
    assert all(isinstance(r, str) and r for r in rejects["reason"])
    checks = {
        "name": check_name,
        "forename": check_name,
        "surname": check_name,
        "postcode": check_postcode,
        "sex": check_sex,
        "nino": check_nino,
        "upn": check_upn,
        "dob": lambda v: check_dob(v, today=TODAY),
    }
    pos = clean["extra"].to_numpy()
    for c, kind in cols.items():
        raw = df[c].to_numpy(dtype=object)[pos.astype(int)]
        expected = [checks[kind](v).status.value for v in raw]
        assert list(clean[f"{c}_status"].astype(str)) == expected, (c, kind)
    for c in cols:
        statuses = set(clean[f"{c}_status"].astype(str))
        assert statuses <= {s.value for s in Status}
        ok = clean[f"{c}_status"] == "ok"
        assert clean.loc[ok.to_numpy(), c].notna().all()
        assert clean.loc[~ok.to_numpy(), c].isna().all()


def test_frame_keeps_nul_and_surrogate_strings_apart() -> None:
    """pandas hashes "\\x00" like "" and lone-surrogate strings alike; frame must not."""
    from nislink.clean import check_name

    values = ["\x00", "", "a\ud800", "b\ud800", "Ann"]
    # dtype=object: pandas 3's default string dtype cannot hold lone surrogates at all
    df = pd.DataFrame({"forename": values, "surname": ["x"] * len(values)}, dtype=object)
    clean, rejects = frame(df, columns={"forename": "forename", "surname": "surname"})
    assert len(clean) + len(rejects) == len(df)
    got = list(clean["forename"].where(clean["forename"].notna(), None))
    assert got == [check_name(v).accepted for v in values]


def _pandas3_semantics():
    """pandas 3's copy-on-write and ``str`` dtype; opt-in options on pandas 2."""
    import contextlib

    if int(pd.__version__.split(".")[0]) >= 3:
        return contextlib.nullcontext()
    return pd.option_context("mode.copy_on_write", True, "future.infer_string", True)


def test_frame_output_is_the_same_under_pandas3_semantics() -> None:
    """Read-only arrays and the ``str`` dtype change neither the result nor its dtypes."""
    data = {
        "pid": ["a", "b", " ", None, "e"],
        "forename": ["Ann", None, "Bob", "Cy", "12"],
        "surname": ["Smith", "Jones", "Brown", "Green", "White"],
        "notes": ["x", None, "y", "z", "w"],
    }
    cols = {"forename": "forename", "surname": "surname"}
    expected = frame(pd.DataFrame(data, dtype=object), cols, id_column="pid", today=TODAY)
    with _pandas3_semantics():
        df = pd.DataFrame(data)
        clean, rejects = frame(df, cols, id_column="pid", today=TODAY)
    assert sorted(rejects["row"]) == [2, 3]  # blank id and missing id
    assert clean["forename"].dtype == object and clean["surname"].dtype == object
    assert list(clean["forename"]) == ["ann", None, None]  # None, not NaN, for missing
    assert list(clean["forename_status"]) == ["ok", "missing", "invalid"]
    assert clean["notes"].dtype == df["notes"].dtype  # pass-through columns keep theirs
    assert all(rejects[c].dtype == object for c in rejects.columns)
    pd.testing.assert_frame_equal(
        clean.drop(columns=["pid", "notes"]),
        expected[0].drop(columns=["pid", "notes"]),
        check_column_type=False,
    )
    # the rejected ids are the original values (pandas 3 reads a missing text as NaN)
    pd.testing.assert_frame_equal(
        rejects.drop(columns="id"), expected[1].drop(columns="id"), check_column_type=False
    )
    assert list(rejects["id"].where(rejects["id"].notna(), None)) == [" ", None]


def test_bulk_string_kinds_equal_value_by_value() -> None:
    """map_distinct's all-at-once classification of strings agrees with the value-by-value
    one whenever it answers, and declines on NULs, lone surrogates and booleans."""
    import numpy as np

    from nislink.clean._result import pandas_confusable
    from nislink.clean.vectorise import _plain_string_kinds

    def one_by_one(vals):  # type: ignore[no-untyped-def]
        return [(1 if pandas_confusable(v) else 0) if type(v) is str
                else 1 if isinstance(v, (bool, np.bool_)) else 2 for v in vals]

    cases = [["a", "b", None, 3.5, "zoë"], ["x"] * 5, [], ["a\x00"], ["\ud800", "b"],
             ["a", True], [np.bool_(False)], [None, float("nan")], ["\ud800\udc00"]]
    answered = 0
    for case in cases:
        vals = np.array(case + [None], dtype=object)[:-1] if case else np.array([], object)
        got = _plain_string_kinds(vals)
        want = one_by_one(vals)
        if got is None:
            assert any(k == 1 for k in want), case
        else:
            answered += 1
            assert got.tolist() == want, case
    assert answered == 4


def test_frame_in_slices_with_whole_input_id_counts() -> None:
    """A frame cleaned in slices rejects an id that two slices share when given the id
    counts of the whole input (``id_usage``); a count array of the wrong length is an
    error."""
    from nislink.clean.frames import id_usage

    df = pd.DataFrame({"id": ["a", "b", "c", "a", " ", "d"],
                       "surname": ["Smith", "Jones", "Brown", "Smith", "Khan", "Ali"]})
    missing, counts = id_usage(df["id"])
    assert missing.tolist() == [False, False, False, False, True, False]
    assert counts.tolist() == [2, 1, 1, 2, 0, 1]
    whole_clean, whole_rej = frame(df, {"surname": "surname"}, id_column="id")
    parts = [frame(df.iloc[lo:hi], {"surname": "surname"}, id_column="id",
                   id_counts=counts[lo:hi]) for lo, hi in ((0, 3), (3, 6))]
    assert pd.concat([p[0] for p in parts]).equals(whole_clean)
    pd.testing.assert_frame_equal(pd.concat([p[1] for p in parts], ignore_index=True),
                                  whole_rej.reset_index(drop=True))
    assert sorted(whole_rej["row"].tolist()) == [0, 3, 4]
    alone = frame(df.iloc[3:6], {"surname": "surname"}, id_column="id")[1]
    assert sorted(alone["row"].tolist()) == [4]  # without the counts: the duplicate is missed
    with pytest.raises(ValueError, match="id_counts has"):
        frame(df, {"surname": "surname"}, id_column="id", id_counts=np.ones(2))

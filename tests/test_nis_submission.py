"""LA submission format: validation per row and field, whole-file errors, eligibility."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_nis_data import TODAY, make_submission

from nislink.nis.submission import (
    PROBLEM_FLAGS,
    SUBMISSION_COLUMNS,
    SubmissionError,
    eligible,
    family_eligible,
    problem_count,
    read_submission,
    validate_submission,
)

NAMES = [c.name for c in SUBMISSION_COLUMNS]


@pytest.fixture(scope="module")
def sub() -> pd.DataFrame:
    return make_submission(30, seed=11)


def _check_accounting(df: pd.DataFrame, valid: pd.DataFrame, rejects: pd.DataFrame) -> None:
    assert len(valid) + len(rejects) == len(df)
    assert set(valid.index) | set(rejects["row"]) == set(df.index)
    assert not set(valid.index) & set(rejects["row"])


def test_valid_submission_types(sub: pd.DataFrame) -> None:
    valid, rejects = validate_submission(sub, today=TODAY)
    assert rejects.empty and len(valid) == len(sub)
    assert list(valid.columns) == NAMES
    for f in PROBLEM_FLAGS:
        assert valid[f].dtype == bool
        assert (valid[f] == (sub[f] == "1")).all()
    assert str(valid["start_date"].dtype) == "datetime64[ns]"
    started = sub["status"].isin(["started", "ended"])
    assert valid.loc[started, "start_date"].notna().all()
    assert valid.loc[~started, "start_date"].isna().all()
    # identifiers are passed on as given (cleaning normalises them later)
    assert (valid["forename"] == sub["forename"]).all()
    assert valid["nino"].isna().sum() == (sub["nino"] == "").sum()


CASES = [
    ("worklessness", "maybe", "worklessness", "expected 1/0"),
    ("status", "in progress", "status", "unknown value"),
    ("status", "", "status", "missing"),
    ("dob", "30/02/1990", "dob", "not a real date"),
    ("dob", "2031-01-01", "dob", "outside 1900-01-01"),
    ("family_id", "  ", "family_id", "missing"),
    ("person_id", "", "person_id", "missing"),
]


@pytest.mark.parametrize("column,value,field,text", CASES)
def test_single_field_errors(sub: pd.DataFrame, column: str, value: str, field: str,
                             text: str) -> None:
    df = sub.copy()
    target = df.index[5]
    df.loc[target, column] = value
    valid, rejects = validate_submission(df, today=TODAY)
    _check_accounting(df, valid, rejects)
    assert len(rejects) == 1
    r = rejects.iloc[0]
    assert r["row"] == target
    assert r["field"] == field
    assert text in r["reason"] and r["reason"].startswith(field)


def _row_with_status(df: pd.DataFrame, status: str) -> int:
    return int(df.index[df["status"] == status][0])


def test_intervention_date_rules(sub: pd.DataFrame) -> None:
    df = sub.copy()
    ended = _row_with_status(df, "ended")
    started = int(df.index[(df["status"] == "started")][0])
    eligible_row = _row_with_status(df, "eligible")
    df.loc[ended, "end_date"] = "2018-01-01"  # before its start (2019 or later)
    df.loc[started, "start_date"] = "2021-13-01"  # month 13
    df.loc[eligible_row, "start_date"] = "01/02/2020"  # contradicts status
    df.loc[eligible_row, "assessment_date"] = "2019-12-01"
    # an intervention cannot start before the family was assessed
    other = int(df.index[(df["status"] == "started")][1])
    df.loc[other, "assessment_date"] = "2024-06-01"
    df.loc[other, "start_date"] = "2024-01-01"
    # but a child born after the family's intervention started is fine
    baby = int(df.index[(df["status"] == "started")][2])
    df.loc[baby, "dob"] = "2024-06-01"
    valid, rejects = validate_submission(df, today=TODAY)
    _check_accounting(df, valid, rejects)
    by_row = rejects.set_index("row")
    assert by_row.loc[ended, "field"] == "end_date"
    assert "end_date: before start_date" in by_row.loc[ended, "reason"]
    assert "impossible date (day 1 of month 13 in 2021)" in by_row.loc[started, "reason"]
    assert by_row.loc[eligible_row, "field"] == "status"
    assert "start_date: before assessment_date" in by_row.loc[other, "reason"]
    assert baby not in by_row.index
    assert len(rejects) == 4


def test_status_needs_dates(sub: pd.DataFrame) -> None:
    df = sub.copy()
    ended = _row_with_status(df, "ended")
    df.loc[ended, "end_date"] = ""
    started = _row_with_status(df, "started")
    df.loc[started, "start_date"] = ""
    valid, rejects = validate_submission(df, today=TODAY)
    by_row = rejects.set_index("row")
    assert "end_date: required when status is ended" in by_row.loc[ended, "reason"]
    assert "start_date: required when status is started" in by_row.loc[started, "reason"]


def test_duplicate_ids_reject_every_copy(sub: pd.DataFrame) -> None:
    df = sub.copy()
    df.loc[df.index[7], "person_id"] = df.loc[df.index[2], "person_id"]
    valid, rejects = validate_submission(df, today=TODAY)
    _check_accounting(df, valid, rejects)
    assert sorted(rejects["row"]) == [df.index[2], df.index[7]]
    assert (rejects["id"] == df.loc[df.index[2], "person_id"]).all()
    assert rejects["reason"].str.contains("duplicated \\(2 rows share it\\)").all()


def test_several_errors_in_one_row_are_all_named(sub: pd.DataFrame) -> None:
    df = sub.copy()
    i = df.index[3]
    df.loc[i, "health"] = "2"
    df.loc[i, "dob"] = "31/04/1985"
    df.loc[i, "status"] = "closed"
    valid, rejects = validate_submission(df, today=TODAY)
    assert len(rejects) == 1
    fields = rejects.iloc[0]["field"].split(",")
    assert set(fields) == {"health", "dob", "status"}


def test_reasons_never_repeat_identifier_values(sub: pd.DataFrame) -> None:
    df = sub.copy()
    df.loc[df.index[1], "dob"] = "31/02/1977"
    df.loc[df.index[1], "status"] = "bogus"
    valid, rejects = validate_submission(df, today=TODAY)
    reason = rejects.iloc[0]["reason"]
    assert "1977" not in reason and "31/02" not in reason
    assert df.loc[df.index[1], "surname"] not in reason


def test_missing_columns_named_in_one_error(sub: pd.DataFrame) -> None:
    df = sub.drop(columns=["upn", "health", "end_date"])
    with pytest.raises(SubmissionError) as e:
        validate_submission(df)
    msg = str(e.value)
    assert "missing column(s): upn, health, end_date" in msg


def test_column_names_case_and_spaces(sub: pd.DataFrame) -> None:
    df = sub.rename(columns={"person_id": " Person_ID ", "dob": "DOB"})
    valid, rejects = validate_submission(df, today=TODAY)
    assert rejects.empty and "person_id" in valid.columns and "dob" in valid.columns


def test_extra_columns_are_kept(sub: pd.DataFrame) -> None:
    df = sub.assign(debt_level=["high"] * len(sub))
    valid, _ = validate_submission(df, today=TODAY)
    assert list(valid.columns) == NAMES + ["debt_level"]


def test_flag_spellings() -> None:
    df = make_submission(3, seed=1)
    df.loc[df.index[0], PROBLEM_FLAGS[0]] = "Yes"
    df.loc[df.index[0], PROBLEM_FLAGS[1]] = "TRUE"
    df.loc[df.index[0], PROBLEM_FLAGS[2]] = " n "
    df.loc[df.index[0], PROBLEM_FLAGS[3]] = ""
    valid, rejects = validate_submission(df, today=TODAY)
    assert rejects.empty
    row = valid.iloc[0]
    assert row[PROBLEM_FLAGS[0]] and row[PROBLEM_FLAGS[1]]
    assert not row[PROBLEM_FLAGS[2]] and not row[PROBLEM_FLAGS[3]]


# ------------------------------------------------------------------ files
def test_read_csv_rows_are_line_numbers(tmp_path, sub: pd.DataFrame) -> None:
    df = sub.copy()
    df.loc[df.index[4], "school_absence"] = "x"
    p = tmp_path / "sub.csv"
    df.to_csv(p, index=False)
    valid, rejects = read_submission(p, today=TODAY)
    assert len(valid) + len(rejects) == len(df)
    assert rejects.iloc[0]["row"] == 4 + 2  # header is line 1, data starts on line 2


def test_read_ragged_and_multiline_rows(tmp_path, sub: pd.DataFrame) -> None:
    df = sub.head(5).copy()
    df.loc[df.index[1], "forename"] = "Mary\nAnne"  # quoted field over two lines
    text = df.to_csv(index=False)
    lines = text.splitlines(keepends=True)
    # line 1 header, 2 row0, 3-4 row1 (two lines), 5 row2, 6 row3, 7 row4
    lines[4] = lines[4].rstrip("\n") + ",surplus\n"  # row2 gets an extra field
    p = tmp_path / "ragged.csv"
    p.write_text("".join(lines), encoding="utf-8")
    valid, rejects = read_submission(p, today=TODAY)
    assert len(valid) + len(rejects) == 5
    assert list(valid.index) == [2, 3, 6, 7]
    assert rejects.iloc[0]["row"] == 5
    assert f"{len(NAMES) + 1} fields but the header has {len(NAMES)}" in rejects.iloc[0]["reason"]
    assert valid.loc[3, "forename"] == "Mary\nAnne"


def test_read_bom_and_bytes(sub: pd.DataFrame) -> None:
    data = "\ufeff".encode() + sub.to_csv(index=False).encode()
    valid, rejects = read_submission(data, today=TODAY)
    assert rejects.empty and len(valid) == len(sub) and "person_id" in valid.columns


def test_non_utf8_names_byte_offset(tmp_path, sub: pd.DataFrame) -> None:
    data = sub.to_csv(index=False).encode("utf-8")
    pos = data.index(b"\n", data.index(b"\n") + 1) + 5  # inside the second data row
    bad = data[:pos] + b"\xe9" + data[pos:]
    p = tmp_path / "latin1.csv"
    p.write_bytes(bad)
    with pytest.raises(SubmissionError) as e:
        read_submission(p)
    assert f"byte 0xe9 at offset {pos} (line 3)" in str(e.value)
    assert str(p) in str(e.value)


@pytest.mark.parametrize("content", [b"", b"   \n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path, content: bytes) -> None:
    p = tmp_path / "empty.csv"
    p.write_bytes(content)
    with pytest.raises(SubmissionError, match="empty"):
        read_submission(p)


def test_header_only_and_missing_file(tmp_path) -> None:
    p = tmp_path / "header.csv"
    p.write_text(",".join(NAMES) + "\n", encoding="utf-8")
    with pytest.raises(SubmissionError, match="no data rows"):
        read_submission(p)
    with pytest.raises(SubmissionError, match="no such file"):
        read_submission(tmp_path / "nope.csv")
    with pytest.raises(SubmissionError, match="no data rows"):
        validate_submission(pd.DataFrame(columns=NAMES))


def test_csv_missing_columns(tmp_path, sub: pd.DataFrame) -> None:
    p = tmp_path / "cols.csv"
    sub.drop(columns=["status"]).to_csv(p, index=False)
    with pytest.raises(SubmissionError, match="missing column\\(s\\): status"):
        read_submission(p)


def test_parquet_round_trip(tmp_path, sub: pd.DataFrame) -> None:
    p = tmp_path / "sub.parquet"
    sub.to_parquet(p, index=False)
    valid, rejects = read_submission(p, today=TODAY)
    assert rejects.empty and len(valid) == len(sub)


def test_typed_frame_input(sub: pd.DataFrame) -> None:
    df = sub.copy()
    for f in PROBLEM_FLAGS:
        df[f] = (df[f] == "1").astype(int)
    df["start_date"] = pd.to_datetime(df["start_date"].replace("", None))
    df["end_date"] = pd.to_datetime(df["end_date"].replace("", None))
    valid, rejects = validate_submission(df, today=TODAY)
    assert rejects.empty
    ref, _ = validate_submission(sub, today=TODAY)
    pd.testing.assert_frame_equal(valid[list(PROBLEM_FLAGS)], ref[list(PROBLEM_FLAGS)])
    pd.testing.assert_series_equal(valid["start_date"], ref["start_date"])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cells=st.lists(
        st.tuples(st.integers(0, 19), st.sampled_from(NAMES),
                  st.one_of(st.text(max_size=12), st.none(), st.integers(-3, 3),
                            st.floats(allow_nan=True), st.booleans())),
        max_size=15,
    )
)
def test_no_row_is_ever_lost(cells) -> None:
    df = make_submission(6, seed=5).head(20).copy()
    df = df.astype(object)
    for i, col, value in cells:
        if i < len(df):
            df.iat[i, df.columns.get_loc(col)] = value
    valid, rejects = validate_submission(df, today=TODAY)
    _check_accounting(df, valid, rejects)
    assert all(isinstance(r, str) and r for r in rejects["reason"])


# ------------------------------------------------------------------ eligibility
def _flags(rows: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(PROBLEM_FLAGS))


def test_eligible_two_or_more() -> None:
    df = _flags([[0] * 6, [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1], [1] * 6, [0, 1, 1, 0, 0, 0]])
    assert eligible(df).tolist() == [False, False, True, True, True]
    assert problem_count(df).tolist() == [0, 1, 2, 6, 2]
    assert eligible(df, minimum=3).tolist() == [False, False, False, True, False]


def test_eligible_accepts_text_flags_and_refuses_garbage() -> None:
    df = _flags([[0] * 6]).astype(object)
    df.iloc[0, 0] = "yes"
    df.iloc[0, 3] = "1"
    assert eligible(df).tolist() == [True]
    df.iloc[0, 2] = "perhaps"
    with pytest.raises(ValueError, match="children_in_need"):
        eligible(df)
    with pytest.raises(ValueError, match="health"):
        eligible(df.drop(columns=["health"]))


def test_family_eligibility_unions_members() -> None:
    df = _flags([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 1, 0, 0, 0]])
    df["family_id"] = ["A", "A", "B", "B"]
    fam = family_eligible(df)
    assert fam.to_dict() == {"A": True, "B": False}
    assert not eligible(df).any()  # no single member meets two problems


def test_eligibility_on_synthetic_submission(sub: pd.DataFrame) -> None:
    valid, _ = validate_submission(sub, today=TODAY)
    counts = valid[list(PROBLEM_FLAGS)].sum(axis=1).to_numpy()
    assert (eligible(valid).to_numpy() == (counts >= 2)).all()
    fam = family_eligible(valid)
    assert len(fam) == valid["family_id"].nunique()
    assert fam.dtype == bool and 0 < fam.sum() < len(fam)
    assert np.array_equal(fam.index.to_numpy(), np.sort(valid["family_id"].unique()))


def test_dob_placeholder_is_kept_for_cleaning(sub: pd.DataFrame) -> None:
    df = sub.copy()
    df.loc[df.index[0], "dob"] = "1900-01-01"
    valid, rejects = validate_submission(df, today=TODAY)
    assert rejects.empty
    assert valid.loc[df.index[0], "dob"] == "1900-01-01"


def test_today_bounds_dob() -> None:
    df = make_submission(2, seed=2)
    df.loc[df.index[0], "dob"] = "2026-12-01"
    _, rejects = validate_submission(df, today=dt.date(2026, 11, 22))
    assert len(rejects) == 1
    _, rejects = validate_submission(df, today=dt.date(2027, 1, 1))
    assert len(rejects) == 0


# ------------------------------------------------------------------ other spellings
def test_status_spellings_and_rules() -> None:
    df = make_submission(12, seed=9)
    started = df.index[df["status"] == "started"]
    ended = df.index[df["status"] == "ended"]
    eligible_rows = df.index[df["status"] == "eligible"]
    df.loc[started[0], "status"] = "Supported"  # no end date: still started
    df.loc[ended[0], "status"] = "supported"  # with an end date: ended
    df.loc[eligible_rows[0], "status"] = "waiting"
    df.loc[eligible_rows[1], "status"] = "Declined"
    df.loc[eligible_rows[2], "status"] = "declined"
    df.loc[eligible_rows[2], "start_date"] = "2021-01-01"
    valid, rejects = validate_submission(df, today=TODAY)
    assert valid.loc[started[0], "status"] == "started"
    assert valid.loc[ended[0], "status"] == "ended"
    assert valid.loc[eligible_rows[0], "status"] == "eligible"
    assert valid.loc[eligible_rows[1], "status"] == "declined"
    assert rejects["row"].tolist() == [eligible_rows[2]]
    assert "declined contradicts" in rejects.iloc[0]["reason"]


def test_column_renames_and_aliases(sub: pd.DataFrame) -> None:
    df = sub.rename(columns={"person_id": "pid", "family_id": "fam", "offending": "offending_asb",
                             "status": "intervention_status"})
    with pytest.raises(SubmissionError, match="missing column\\(s\\): person_id, family_id"):
        validate_submission(df, today=TODAY)
    valid, rejects = validate_submission(df, today=TODAY,
                                         columns={"pid": "person_id", "fam": "family_id"})
    assert rejects.empty
    assert list(valid.columns) == NAMES
    assert valid["person_id"].tolist() == sub["person_id"].tolist()
    with pytest.raises(SubmissionError, match="unknown column"):
        validate_submission(df, columns={"pid": "nhs_number"})
    with pytest.raises(SubmissionError, match="not in the file"):
        validate_submission(df, columns={"nope": "person_id"})


def test_assessment_date_is_optional(sub: pd.DataFrame) -> None:
    valid, rejects = validate_submission(sub.drop(columns=["assessment_date"]), today=TODAY)
    assert rejects.empty and "assessment_date" not in valid.columns


def test_synthetic_study_submission() -> None:
    """The LA extract of nislink.synth validates as it is (la_id, la_family_id are aliases)."""
    from nislink.synth.study import generate_study

    la = generate_study(400, 3).la
    valid, rejects = validate_submission(la)
    _check_accounting(la, valid, rejects)
    assert len(rejects) <= 0.01 * len(la) + 1
    assert set(valid["status"]) <= {"not_eligible", "eligible", "declined", "started", "ended"}
    fam = family_eligible(valid)
    # the synthetic family-level eligibility agrees with the rule
    truth = valid.groupby("family_id")["eligible"].first().astype(int).astype(bool)
    assert (fam == truth.loc[fam.index]).all()


def test_bad_dob_can_be_left_to_cleaning(sub: pd.DataFrame) -> None:
    df = sub.copy()
    df.loc[df.index[2], "dob"] = "30/02/1990"
    _, rejects = validate_submission(df, today=TODAY)
    assert len(rejects) == 1
    valid, rejects = validate_submission(df, today=TODAY, reject_bad_dob=False)
    assert rejects.empty and valid.loc[df.index[2], "dob"] == "30/02/1990"

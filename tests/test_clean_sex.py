"""Tests for nislink.clean.sex_codes (codes after the NHS Data Dictionary / ISO/IEC 5218)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.clean import Status
from nislink.clean.sex_codes import FEMALE_CODES, MALE_CODES, UNKNOWN_CODES, check_sex, sex

VALID = [
    ("M", "M"),
    ("m", "M"),
    (" M ", "M"),
    ("M.", "M"),
    ("Male", "M"),
    ("MALE", "M"),
    ("man", "M"),
    ("Boy", "M"),
    ("1", "M"),
    ("1.0", "M"),
    (1, "M"),
    (1.0, "M"),
    (np.int64(1), "M"),
    (np.float64(1.0), "M"),
    (b"male", "M"),
    ("F", "F"),
    ("f", "F"),
    ("\tF\n", "F"),
    ("Female", "F"),
    ("FEMALE", "F"),
    ("woman", "F"),
    ("Girl", "F"),
    ("2", "F"),
    ("2.0", "F"),
    (2, "F"),
    (2.0, "F"),
    (np.int32(2), "F"),
    (np.float32(2.0), "F"),
    (" fEmAlE ", "F"),
    (np.str_("m"), "M"),
]

NOT_ACCEPTED = [
    (None, Status.MISSING),
    (float("nan"), Status.MISSING),
    ("", Status.MISSING),
    ("  ", Status.MISSING),
    (0, Status.UNKNOWN),
    ("0", Status.UNKNOWN),
    (9, Status.UNKNOWN),
    ("9", Status.UNKNOWN),
    (9.0, Status.UNKNOWN),
    ("U", Status.UNKNOWN),
    ("unknown", Status.UNKNOWN),
    ("Not Known", Status.UNKNOWN),
    ("X", Status.UNKNOWN),
    ("I", Status.UNKNOWN),
    ("other", Status.UNKNOWN),
    ("Indeterminate", Status.UNKNOWN),
    ("not specified", Status.UNKNOWN),
    ("NOT  STATED", Status.UNKNOWN),
    ("3", Status.INVALID),
    (3, Status.INVALID),
    (1.5, Status.INVALID),
    (-1, Status.INVALID),
    ("MF", Status.INVALID),
    ("males", Status.INVALID),
    ("Mr", Status.INVALID),
    ("yes", Status.INVALID),
    ("fem ale", Status.INVALID),
    (True, Status.INVALID),
    (False, Status.INVALID),
    (np.bool_(True), Status.INVALID),
    (["M"], Status.INVALID),
    (b"\xff", Status.INVALID),
    (10**400, Status.INVALID),
    (float("inf"), Status.INVALID),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid(raw: object, expected: str) -> None:
    r = check_sex(raw)
    assert r.status is Status.OK
    assert r.value == expected == sex(raw)


@pytest.mark.parametrize(("raw", "status"), NOT_ACCEPTED)
def test_not_accepted(raw: object, status: Status) -> None:
    r = check_sex(raw)
    assert r.status is status, r
    assert r.value is None and r.reason
    assert sex(raw) is None


def test_case_counts_and_codes() -> None:
    assert len(VALID) >= 30 and len(NOT_ACCEPTED) >= 30
    assert not (MALE_CODES & FEMALE_CODES)
    assert not ((MALE_CODES | FEMALE_CODES) & UNKNOWN_CODES)
    for code in UNKNOWN_CODES:
        assert check_sex(code).status is Status.UNKNOWN


ANY_INPUT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(sorted(MALE_CODES | FEMALE_CODES | UNKNOWN_CODES)),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.binary(max_size=8),
    st.booleans(),
    st.lists(st.text(max_size=2), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(ANY_INPUT)
def test_never_raises_idempotent_self_valid(value: object) -> None:
    r = check_sex(value)
    assert sex(value) == r.accepted
    if r.ok:
        assert r.value in ("M", "F")
        assert sex(r.value) == r.value
        assert check_sex(r.value).status is Status.OK
    else:
        assert r.value is None and r.reason

"""Dates of birth: formats, century rule, rejections, vectorised path, properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.clean._result import Status
from nislink.clean.dates import PLACEHOLDER_DATES, check_dob, dob, dob_series

TODAY = dt.date(2026, 11, 22)
D = dt.date

OK_CASES = [
    # ISO 8601 and variants
    ("1980-01-31", D(1980, 1, 31)),
    ("1980-1-5", D(1980, 1, 5)),
    ("1980/01/31", D(1980, 1, 31)),
    ("2001-02-03T00:00:00", D(2001, 2, 3)),
    ("2001-02-03 00:00:00", D(2001, 2, 3)),
    ("2001-02-03T10:11:12.345Z", D(2001, 2, 3)),
    ("2001-02-03T10:11:12+01:00", D(2001, 2, 3)),
    (" 2001-02-03 ", D(2001, 2, 3)),
    # UK numeric day-first
    ("31/01/1980", D(1980, 1, 31)),
    ("31-01-1980", D(1980, 1, 31)),
    ("31.01.1980", D(1980, 1, 31)),
    ("1/2/1980", D(1980, 2, 1)),
    ("01/02/1980 00:00", D(1980, 2, 1)),
    ("29/02/2000", D(2000, 2, 29)),
    ("29/02/1904", D(1904, 2, 29)),
    # compact
    ("19800131", D(1980, 1, 31)),
    (19800131, D(1980, 1, 31)),
    (np.int64(19800131), D(1980, 1, 31)),
    (19800131.0, D(1980, 1, 31)),
    # month names
    ("1 Jan 1980", D(1980, 1, 1)),
    ("1 jan 1980", D(1980, 1, 1)),
    ("01 JANUARY 1980", D(1980, 1, 1)),
    ("1st January 1980", D(1980, 1, 1)),
    ("2nd Feb, 1980", D(1980, 2, 2)),
    ("23rd of March 1980", D(1980, 3, 23)),
    ("4th Sept 1980", D(1980, 9, 4)),
    ("01-JAN-1980", D(1980, 1, 1)),
    ("01-JAN-80", D(1980, 1, 1)),
    ("January 5, 1980", D(1980, 1, 5)),
    ("Dec. 25 1999", D(1999, 12, 25)),
    # two-digit years: pivot on TODAY (2026-11-22)
    ("1/2/80", D(1980, 2, 1)),
    ("01/02/03", D(2003, 2, 1)),
    ("22/11/26", D(2026, 11, 22)),
    ("23/11/26", D(1926, 11, 23)),
    ("31/12/99", D(1999, 12, 31)),
    ("29/02/00", D(2000, 2, 29)),
    # native types
    (D(1980, 1, 31), D(1980, 1, 31)),
    (dt.datetime(1980, 1, 31, 23, 59), D(1980, 1, 31)),
    (pd.Timestamp("1980-01-31 12:00"), D(1980, 1, 31)),
    (np.datetime64("1980-01-31"), D(1980, 1, 31)),
    (np.datetime64("1980-01-31T05:00:00", "ns"), D(1980, 1, 31)),
    (b"1980-01-31", D(1980, 1, 31)),
    ("2026-11-22", TODAY),
]

REJECT_CASES = [
    # missing markers
    (None, Status.MISSING),
    (float("nan"), Status.MISSING),
    (pd.NaT, Status.MISSING),
    (np.datetime64("NaT"), Status.MISSING),
    ("", Status.MISSING),
    ("   ", Status.MISSING),
    ("unknown", Status.MISSING),
    ("Unknown", Status.MISSING),
    ("N/K", Status.MISSING),
    ("n/a", Status.MISSING),
    ("0", Status.MISSING),
    (0, Status.MISSING),
    ("00/00/0000", Status.MISSING),
    ("0000-00-00", Status.MISSING),
    ("00000000", Status.MISSING),
    # impossible dates
    ("30/02/2001", Status.INVALID),
    ("29/02/2001", Status.INVALID),
    ("29/02/1900", Status.INVALID),
    ("31/04/1980", Status.INVALID),
    ("00/01/1980", Status.INVALID),
    ("13/13/1980", Status.INVALID),
    ("1980-13-01", Status.INVALID),
    ("12/31/1980", Status.INVALID),  # US order with dayfirst=True is not guessed
    ("19801301", Status.INVALID),
    ("1 Foo 1980", Status.INVALID),
    ("31011980", Status.INVALID),  # DDMMYYYY without separators is ambiguous: not read
    ("yesterday", Status.INVALID),
    ("1980", Status.INVALID),
    ("01/02-1980", Status.INVALID),  # mixed separators
    (1.5, Status.INVALID),
    (True, Status.INVALID),
    (1980, Status.INVALID),
    ([1980, 1, 1], Status.INVALID),
    ({"y": 1980}, Status.INVALID),
    (b"\xff\xfe", Status.INVALID),
    # placeholders
    ("01/01/1900", Status.PLACEHOLDER),
    ("1900-01-01", Status.PLACEHOLDER),
    ("1901-01-01", Status.PLACEHOLDER),
    ("1970-01-01", Status.PLACEHOLDER),
    ("1899-12-31", Status.PLACEHOLDER),
    ("1800-01-01", Status.PLACEHOLDER),
    ("11/11/1111", Status.PLACEHOLDER),
    ("9999-12-31", Status.PLACEHOLDER),
    ("01/01/1000", Status.PLACEHOLDER),
    ("1753-01-01", Status.PLACEHOLDER),
    (D(1900, 1, 1), Status.PLACEHOLDER),
    # out of range
    ("1899-06-15", Status.OUT_OF_RANGE),
    ("15/06/1850", Status.OUT_OF_RANGE),
    ("2026-11-23", Status.OUT_OF_RANGE),
    ("2030-01-01", Status.OUT_OF_RANGE),
    (D(2027, 1, 1), Status.OUT_OF_RANGE),
]


@pytest.mark.parametrize(("value", "expected"), OK_CASES, ids=repr)
def test_accepted_formats(value, expected):
    r = check_dob(value, today=TODAY)
    assert r.status is Status.OK, r.reason
    assert r.value == expected
    assert dob(value, today=TODAY) == expected


@pytest.mark.parametrize(("value", "status"), REJECT_CASES, ids=repr)
def test_rejections(value, status):
    r = check_dob(value, today=TODAY)
    assert r.status is status, (r, value)
    assert r.value is None and r.reason
    assert dob(value, today=TODAY) is None


def test_dayfirst_false_reads_us_order():
    assert dob("12/31/1980", dayfirst=False, today=TODAY) == D(1980, 12, 31)
    assert dob("01/02/1980", dayfirst=False, today=TODAY) == D(1980, 1, 2)
    assert dob("01/02/1980", dayfirst=True, today=TODAY) == D(1980, 2, 1)
    assert check_dob("31/12/1980", dayfirst=False, today=TODAY).status is Status.INVALID
    # ISO and month names do not depend on dayfirst
    assert dob("1980-02-01", dayfirst=False, today=TODAY) == D(1980, 2, 1)
    assert dob("1 Feb 1980", dayfirst=False, today=TODAY) == D(1980, 2, 1)


def test_century_rule_moves_with_today():
    assert dob("01/01/30", today=D(2026, 1, 1)) == D(1930, 1, 1)
    assert dob("01/01/30", today=D(2031, 1, 1)) == D(2030, 1, 1)
    assert dob("01/01/25", today=D(2026, 1, 1)) == D(2025, 1, 1)
    # in 2099 a "00" year is 2000; on 2000-01-01 a "01/01/00" is today
    assert dob("01/01/00", today=D(2000, 1, 1)) == D(2000, 1, 1)
    assert dob("02/01/00", today=D(2000, 1, 1)) == D(1900, 1, 2)


def test_today_defaults_to_real_today():
    assert dob(dt.date.today().isoformat()) == dt.date.today()
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert check_dob(tomorrow).status is Status.OUT_OF_RANGE


def test_placeholder_list_is_documented_and_rejected():
    for d, why in PLACEHOLDER_DATES.items():
        assert why
        r = check_dob(d, today=TODAY)
        assert r.status is Status.PLACEHOLDER
        assert d.isoformat()[:4] in r.reason or d.year < 1000


def test_series_matches_scalar_on_table():
    values = [v for v, _ in OK_CASES] + [v for v, _ in REJECT_CASES]
    # pandas hashes "\x00" like "" and lone-surrogate strings alike: must not merge them
    values += ["", "\x00", "\ud800", "\ud800x", "1980-01-31\x00", "SW1A 1AA\x00"]
    values += ["\x00B801200005001"]
    s = pd.Series(values * 3, dtype=object, index=np.arange(len(values) * 3) * 7)
    dates, status = dob_series(s, today=TODAY)
    assert list(dates.index) == list(s.index)
    for v, d, stt in zip(s, dates, status, strict=True):
        r = check_dob(v, today=TODAY)
        assert stt == r.status.value, v
        if r.ok:
            assert d.date() == r.value
        else:
            assert pd.isna(d)


def test_series_dayfirst_false_and_fast_paths():
    s = pd.Series(["12/31/1980", "01/02/1980", "1980-02-01", "19800201", "30/02/1980"])
    dates, status = dob_series(s, dayfirst=False, today=TODAY)
    assert list(status) == ["ok", "ok", "ok", "ok", "invalid"]
    assert [d.date() for d in dates[:4]] == [
        D(1980, 12, 31),
        D(1980, 1, 2),
        D(1980, 2, 1),
        D(1980, 2, 1),
    ]
    dates, status = dob_series(s, dayfirst=True, today=TODAY)
    assert list(status) == ["invalid", "ok", "ok", "ok", "invalid"]
    assert dates.iloc[1].date() == D(1980, 2, 1)


def test_series_datetime_dtype():
    s = pd.Series(pd.to_datetime(["1980-01-31", None, "2030-01-01", "1900-01-01"]))
    dates, status = dob_series(s, today=TODAY)
    assert list(status) == ["ok", "missing", "out_of_range", "placeholder"]
    assert dates.iloc[0] == pd.Timestamp("1980-01-31") and dates[1:].isna().all()
    tz = pd.Series(pd.to_datetime(["1980-01-31 23:30"]).tz_localize("Europe/London"))
    assert dob_series(tz, today=TODAY)[0].iloc[0] == pd.Timestamp("1980-01-31")


def test_series_empty_and_all_missing():
    dates, status = dob_series(pd.Series([], dtype=object), today=TODAY)
    assert len(dates) == 0 and len(status) == 0
    dates, status = dob_series(pd.Series([None, np.nan]), today=TODAY)
    assert list(status) == ["missing", "missing"] and dates.isna().all()


# ---------------------------------------------------------------------------- properties

valid_dates = st.dates(min_value=D(1900, 1, 2), max_value=TODAY).filter(
    lambda d: d not in PLACEHOLDER_DATES
)
anything = st.one_of(
    st.text(),
    st.text(alphabet="0123456789/-. :T", max_size=25),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.binary(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.dates(),
    st.datetimes(),
)


@given(anything, st.booleans())
@settings(max_examples=300, deadline=None)
def test_never_raises_and_properties(value, dayfirst):
    r = check_dob(value, dayfirst=dayfirst, today=TODAY)
    assert isinstance(r.status, Status)
    d = dob(value, dayfirst=dayfirst, today=TODAY)
    assert d == r.accepted
    if d is not None:
        assert isinstance(d, dt.date) and not isinstance(d, dt.datetime)
        assert D(1900, 1, 1) <= d <= TODAY
        # idempotent, through the date itself and through its ISO text
        assert dob(d, dayfirst=dayfirst, today=TODAY) == d
        assert dob(d.isoformat(), dayfirst=dayfirst, today=TODAY) == d
        assert check_dob(d, today=TODAY).status is Status.OK


@given(valid_dates, st.sampled_from(["iso", "dmy", "dmy-", "dmy.", "compact", "mon", "month"]))
@settings(max_examples=300, deadline=None)
def test_generated_valid_dates_are_accepted(d, fmt):
    text = {
        "iso": d.isoformat(),
        "dmy": d.strftime("%d/%m/%Y"),
        "dmy-": d.strftime("%d-%m-%Y"),
        "dmy.": d.strftime("%d.%m.%Y"),
        "compact": d.strftime("%Y%m%d"),
        "mon": f"{d.day} {d.strftime('%b')} {d.year}",
        "month": f"{d.day} {d.strftime('%B').upper()} {d.year}",
    }[fmt]
    assert dob(text, today=TODAY) == d


@given(st.lists(st.one_of(st.text(max_size=12), valid_dates.map(str), st.none()), max_size=30))
@settings(max_examples=100, deadline=None)
def test_series_equals_scalar(values):
    dates, status = dob_series(pd.Series(values, dtype=object), today=TODAY)
    for v, d, stt in zip(values, dates, status, strict=True):
        r = check_dob(v, today=TODAY)
        assert stt == r.status.value
        assert (pd.isna(d) and r.value is None) or d.date() == r.value

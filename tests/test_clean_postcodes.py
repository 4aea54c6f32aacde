"""UK postcodes: official format, OCR fixes, no-fixed-abode markers, hierarchy, properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.clean._result import Status
from nislink.clean.postcodes import (
    FIRST_LETTERS,
    FOURTH_LETTERS_AA9A,
    INWARD_LETTERS,
    SECOND_LETTERS,
    THIRD_LETTERS_A9A,
    PostcodeParts,
    check_postcode,
    postcode,
    postcode_area,
    postcode_district,
    postcode_parts,
    postcode_sector,
    postcode_series,
    postcode_unit,
)

OK_CASES = [
    # the six outward shapes, with the examples printed in the format descriptions
    ("M1 1AA", "M1 1AA"),  # A9
    ("M60 1NW", "M60 1NW"),  # A99
    ("CR2 6XH", "CR2 6XH"),  # AA9
    ("DN55 1PT", "DN55 1PT"),  # AA99
    ("W1A 1HQ", "W1A 1HQ"),  # A9A
    ("EC1A 1BB", "EC1A 1BB"),  # AA9A
    ("PO1 3AX", "PO1 3AX"),
    ("SW1A 2AA", "SW1A 2AA"),
    ("B33 8TH", "B33 8TH"),
    ("GIR 0AA", "GIR 0AA"),
    ("gir0aa", "GIR 0AA"),
    # spacing and case
    ("sw1a1aa", "SW1A 1AA"),
    ("SW1A1AA", "SW1A 1AA"),
    ("  sw1a   1aa ", "SW1A 1AA"),
    ("Sw1A 1aA", "SW1A 1AA"),
    ("m11aa", "M1 1AA"),
    ("s w 1 a 1 a a", "SW1A 1AA"),
    ("SW1A\t1AA", "SW1A 1AA"),
    (b"EC1A 1BB", "EC1A 1BB"),
    # letters allowed in restricted positions
    ("E1W 1AA", "E1W 1AA"),
    ("W1P 1AA", "W1P 1AA"),
    ("N1C 4AA", "N1C 4AA"),
    ("NW1W 9AA", "NW1W 9AA"),
    ("SE1P 5AA", "SE1P 5AA"),
    ("IG1 1AA", "IG1 1AA"),
    ("ZE1 0AA", "ZE1 0AA"),
    ("YO1 7HH", "YO1 7HH"),
    ("BT1 5GS", "BT1 5GS"),
    ("SW1A 0AA", "SW1A 0AA"),
    # unambiguous OCR slips
    ("SW1A OAA", "SW1A 0AA"),
    ("SW1A IAA", "SW1A 1AA"),
    ("sw1a laa", "SW1A 1AA"),
    ("0X1 1AA", "OX1 1AA"),
    ("B0 1AA", "B0 1AA"),
    ("CRO 2AB", "CR0 2AB"),
    ("GIR OAA", "GIR 0AA"),
    # address-line punctuation at the ends only
    ("SW1A 1AA,", "SW1A 1AA"),
    ("(sw1a 1aa)", "SW1A 1AA"),
    ('"EC1A 1BB".', "EC1A 1BB"),
]

REJECT_CASES = [
    # shapes and lengths
    ("SW1A", Status.INVALID),
    ("SW1A 1AAA", Status.INVALID),
    ("1AA", Status.INVALID),
    ("SW1A-1AA", Status.INVALID),
    ("SW1A. 1AA", Status.INVALID),
    ("SW1A,1AA", Status.INVALID),
    ("AAA 1AA", Status.INVALID),
    ("A 1AA", Status.INVALID),
    ("99 1AA", Status.INVALID),
    ("SW12A 1AA", Status.INVALID),
    ("SW1A 11A", Status.INVALID),
    ("SW1A AAA", Status.INVALID),
    ("SW1É 1AA", Status.INVALID),
    # letter restrictions by position
    ("QA1 1AA", Status.INVALID),
    ("V1 1AA", Status.INVALID),
    ("X1 1AA", Status.INVALID),
    ("AI1 1AA", Status.INVALID),
    ("AJ1 1AA", Status.INVALID),
    ("AZ1 1AA", Status.INVALID),
    ("W1I 1AA", Status.INVALID),
    ("W1L 1AA", Status.INVALID),
    ("W1Q 1AA", Status.INVALID),
    ("EC1C 1AA", Status.INVALID),
    ("EC1D 1AA", Status.INVALID),
    ("EC1Z 1AA", Status.INVALID),
    ("SW1A 1CA", Status.INVALID),
    ("SW1A 1AI", Status.INVALID),
    ("SW1A 1KM", Status.INVALID),
    ("SW1A 1OV", Status.INVALID),
    ("SW1A 5O0", Status.INVALID),  # 0 in a letter position: not fixed (O is never used there)
    ("SW1A S5A", Status.INVALID),  # S -> 5 is not applied
    ("GIR 1AA", Status.INVALID),
    # types
    (12345, Status.INVALID),
    (1.5, Status.INVALID),
    (["SW1A 1AA"], Status.INVALID),
    ({"pc": 1}, Status.INVALID),
    (True, Status.INVALID),
    # missing
    (None, Status.MISSING),
    (float("nan"), Status.MISSING),
    ("", Status.MISSING),
    ("  ", Status.MISSING),
    ("unknown", Status.MISSING),
    ("N/K", Status.MISSING),
    # no fixed abode
    ("NFA", Status.NO_FIXED_ABODE),
    ("nfa", Status.NO_FIXED_ABODE),
    ("N.F.A.", Status.NO_FIXED_ABODE),
    ("No Fixed Abode", Status.NO_FIXED_ABODE),
    ("no fixed address", Status.NO_FIXED_ABODE),
    ("ZZ99 3VZ", Status.NO_FIXED_ABODE),
    ("zz993vz", Status.NO_FIXED_ABODE),
    ("ZZ99 3WZ", Status.NO_FIXED_ABODE),
    ("ZZ99 3CZ", Status.NO_FIXED_ABODE),
    ("ZZ99 1WZ", Status.NO_FIXED_ABODE),
    ("ZZ99 6AZ", Status.NO_FIXED_ABODE),
]


@pytest.mark.parametrize(("value", "expected"), OK_CASES, ids=repr)
def test_accepted(value, expected):
    r = check_postcode(value)
    assert r.status is Status.OK, r.reason
    assert r.value == expected == postcode(value)


@pytest.mark.parametrize(("value", "status"), REJECT_CASES, ids=repr)
def test_rejected(value, status):
    r = check_postcode(value)
    assert r.status is status, r
    assert r.value is None and r.reason
    assert postcode(value) is None


def test_ocr_fix_is_reported_and_only_when_needed():
    r = check_postcode("SW1A OAA")
    assert r.ok and r.reason and "O read as 0" in r.reason
    assert check_postcode("SW1A 0AA").reason is None
    assert check_postcode("OX1 1AA").value == "OX1 1AA"  # a real O stays an O


def test_reasons_name_the_rule():
    assert "Q, V, X" in check_postcode("QA1 1AA").reason
    assert "I, J, Z" in check_postcode("AJ1 1AA").reason
    assert "C, I, K, M, O, V" in check_postcode("SW1A 1CA").reason
    assert "shape" in check_postcode("AAA 1AA").reason
    assert "ZZ99 3VZ" in check_postcode("zz99 3vz").reason


def test_hierarchy_helpers():
    assert postcode_parts("sw1a1aa") == PostcodeParts("SW", "SW1A", "SW1A 1", "SW1A 1AA")
    assert postcode_parts("M1 1AA") == PostcodeParts("M", "M1", "M1 1", "M1 1AA")
    assert postcode_parts("W1A 1HQ") == PostcodeParts("W", "W1A", "W1A 1", "W1A 1HQ")
    assert postcode_parts("DN55 1PT") == PostcodeParts("DN", "DN55", "DN55 1", "DN55 1PT")
    assert postcode_area("cr2 6xh") == "CR"
    assert postcode_district("cr2 6xh") == "CR2"
    assert postcode_sector("cr2 6xh") == "CR2 6"
    assert postcode_unit("cr2 6xh") == "CR2 6XH"
    for f in (postcode_parts, postcode_area, postcode_district, postcode_sector, postcode_unit):
        assert f("QA1 1AA") is None
        assert f("NFA") is None
        assert f(None) is None


def test_series_matches_scalar_on_table():
    values = [v for v, _ in OK_CASES] + [v for v, _ in REJECT_CASES]
    # pandas hashes "\x00" like "" and lone-surrogate strings alike: must not merge them
    values += ["", "\x00", "\ud800", "\ud800x", "1980-01-31\x00", "SW1A 1AA\x00"]
    values += ["\x00B801200005001"]
    s = pd.Series(values * 2, dtype=object, index=np.arange(len(values) * 2) + 100)
    out, status = postcode_series(s)
    assert list(out.index) == list(s.index)
    for v, o, stt in zip(s, out, status, strict=True):
        r = check_postcode(v)
        assert (stt, o) == (r.status.value, r.accepted), v


# ---------------------------------------------------------------------------- properties

L = sorted
first = st.sampled_from(L(FIRST_LETTERS))
second = st.sampled_from(L(SECOND_LETTERS))
digit = st.sampled_from("0123456789")
inward = st.tuples(digit, st.sampled_from(L(INWARD_LETTERS)), st.sampled_from(L(INWARD_LETTERS)))
outward = st.one_of(
    st.tuples(first, digit),  # A9
    st.tuples(first, digit, digit),  # A99
    st.tuples(first, second, digit),  # AA9
    st.tuples(first, second, digit, digit),  # AA99
    st.tuples(first, digit, st.sampled_from(L(THIRD_LETTERS_A9A))),  # A9A
    st.tuples(first, second, digit, st.sampled_from(L(FOURTH_LETTERS_AA9A))),  # AA9A
).filter(lambda t: t[:2] != ("Z", "Z"))
valid_postcodes = st.tuples(outward, inward).map(lambda t: "".join(t[0]) + " " + "".join(t[1]))


@given(valid_postcodes, st.sampled_from(["as is", "lower", "compact", "spaced"]))
@settings(max_examples=300, deadline=None)
def test_generated_valid_postcodes_are_accepted(pc, variant):
    text = {
        "as is": pc,
        "lower": pc.lower(),
        "compact": pc.replace(" ", ""),
        "spaced": "  " + pc.replace(" ", "   ") + " ",
    }[variant]
    r = check_postcode(text)
    assert r.status is Status.OK and r.value == pc and r.reason is None


anything = st.one_of(
    st.text(),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 lo", max_size=9),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.binary(max_size=10),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@given(anything)
@settings(max_examples=400, deadline=None)
def test_never_raises_idempotent_and_self_valid(value):
    r = check_postcode(value)
    assert isinstance(r.status, Status)
    p = postcode(value)
    assert p == r.accepted
    if p is not None:
        assert postcode(p) == p
        assert check_postcode(p).status is Status.OK and check_postcode(p).reason is None
        parts = postcode_parts(p)
        assert parts is not None and parts.unit == p and p.startswith(parts.sector)


@given(st.lists(st.one_of(valid_postcodes, st.text(max_size=9), st.none()), max_size=30))
@settings(max_examples=100, deadline=None)
def test_series_equals_scalar(values):
    out, status = postcode_series(pd.Series(values, dtype=object))
    for v, o, stt in zip(values, out, status, strict=True):
        r = check_postcode(v)
        assert (stt, o) == (r.status.value, r.accepted)

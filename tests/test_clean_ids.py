"""National Insurance numbers and Unique Pupil Numbers: published rules and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.clean._result import Status
from nislink.clean.ids import (
    NINO_ADMIN_PREFIXES,
    NINO_NEVER_ALLOCATED,
    NINO_PLACEHOLDERS,
    UPN_CHECK_LETTERS,
    check_nino,
    check_upn,
    nino,
    nino_series,
    upn,
    upn_check_letter,
    upn_series,
)

# ------------------------------------------------------------------------------- NINO

NINO_OK = [
    ("AB123456C", "AB123456C"),
    ("ab123456c", "AB123456C"),
    ("AB 12 34 56 C", "AB123456C"),
    ("ab-12-34-56-c", "AB123456C"),
    (" JG 10 37 55 A ", "JG103755A"),
    ("JG103755B", "JG103755B"),
    ("JG103755D", "JG103755D"),
    ("JG103755", "JG103755"),  # suffix absent
    ("JG103755 ", "JG103755"),  # suffix sent as a space
    ("CE000000A", "CE000000A"),
    ("ZY999999D", "ZY999999D"),
    ("YZ123456A", "YZ123456A"),  # Z allowed second, just not in ZZ
    ("OA123456A", "OA123456A"),  # O is allowed as the first letter
    ("NA123456A", "NA123456A"),
    ("TA123456A", "TA123456A"),
    ("BA123456A", "BA123456A"),
    ("GA123456A", "GA123456A"),
    ("KA123456A", "KA123456A"),
    ("HZ123456C", "HZ123456C"),
    (b"AB123456C", "AB123456C"),
]

NINO_REJECT = [
    # first letter D, F, I, Q, U, V
    ("DA123456A", Status.INVALID, "first letter D"),
    ("FA123456A", Status.INVALID, "first letter F"),
    ("IA123456A", Status.INVALID, "first letter I"),
    ("QA123456A", Status.INVALID, "first letter Q"),
    ("UA123456A", Status.INVALID, "first letter U"),
    ("VA123456A", Status.INVALID, "first letter V"),
    # second letter D, F, I, O, Q, U, V
    ("AD123456A", Status.INVALID, "second letter D"),
    ("AF123456A", Status.INVALID, "second letter F"),
    ("AI123456A", Status.INVALID, "second letter I"),
    ("AO123456A", Status.INVALID, "second letter O"),
    ("AQ123456A", Status.INVALID, "second letter Q"),
    ("AU123456A", Status.INVALID, "second letter U"),
    ("AV123456A", Status.INVALID, "second letter V"),
    # prefixes never allocated
    ("BG123456A", Status.INVALID, "prefix BG is never allocated"),
    ("GB123456A", Status.INVALID, "prefix GB is never allocated"),
    ("KN123456A", Status.INVALID, "prefix KN is never allocated"),
    ("NK123456A", Status.INVALID, "prefix NK is never allocated"),
    ("NT123456A", Status.INVALID, "prefix NT is never allocated"),
    ("TN123456A", Status.INVALID, "prefix TN is never allocated"),
    ("ZZ123456A", Status.INVALID, "prefix ZZ is never allocated"),
    # suffix
    ("AB123456E", Status.INVALID, "suffix E"),
    ("AB123456M", Status.INVALID, "suffix M"),
    # shape
    ("AB12345C", Status.INVALID, "six digits"),
    ("AB1234567C", Status.INVALID, "six digits"),
    ("A1123456C", Status.INVALID, "six digits"),
    ("AB123456CC", Status.INVALID, "six digits"),
    ("123456789", Status.INVALID, "six digits"),
    (123456789, Status.INVALID, "not a NINO"),
    (["AB123456C"], Status.INVALID, "not a NINO"),
    # temporary and administrative numbers
    ("TN 01 02 80 M", Status.TEMPORARY, "temporary number"),
    ("TN311299F", Status.TEMPORARY, "temporary number"),
    ("TN 31 13 80 M", Status.INVALID, "prefix TN"),  # not a date of birth
    ("OO123456A", Status.TEMPORARY, "tax credits"),
    ("NC010280M", Status.TEMPORARY, "stakeholder pension"),
    ("NC123456A", Status.INVALID, "administrative prefix NC"),
    ("MW123456A", Status.INVALID, "administrative prefix MW"),
    ("CR123456A", Status.INVALID, "administrative prefix CR"),
    ("PP999999P", Status.INVALID, "administrative prefix PP"),
    ("PZ123456A", Status.INVALID, "administrative prefix PZ"),
    # placeholders
    ("QQ123456C", Status.PLACEHOLDER, "example"),
    ("QQ 12 34 56 A", Status.PLACEHOLDER, "example"),
    ("AA000000A", Status.PLACEHOLDER, "fill-in"),
    # missing
    (None, Status.MISSING, "no NINO"),
    (float("nan"), Status.MISSING, "no NINO"),
    ("", Status.MISSING, "no NINO"),
    ("N/K", Status.MISSING, "no NINO"),
    ("unknown", Status.MISSING, "no NINO"),
]


@pytest.mark.parametrize(("value", "expected"), NINO_OK, ids=repr)
def test_nino_accepted(value, expected):
    r = check_nino(value)
    assert r.status is Status.OK, r.reason
    assert r.value == expected == nino(value)


@pytest.mark.parametrize(("value", "status", "why"), NINO_REJECT, ids=repr)
def test_nino_rejected(value, status, why):
    r = check_nino(value)
    assert r.status is status, r
    assert why in r.reason
    assert nino(value) is None
    if status is Status.TEMPORARY:
        assert r.value is not None and r.value == r.value.upper() and " " not in r.value
    else:
        assert r.value is None


def test_nino_rule_tables():
    assert NINO_NEVER_ALLOCATED == {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    assert all(check_nino(p).status is Status.PLACEHOLDER for p in NINO_PLACEHOLDERS)
    for prefix in NINO_ADMIN_PREFIXES:
        assert check_nino(prefix + "123456A").status is Status.INVALID


# ------------------------------------------------------------------------------- UPN


def _with_check(body: str) -> str:
    return upn_check_letter(body) + body


UPN_OK = [
    ("B801200005001", "B801200005001"),  # python-stdnum's documented example
    ("b801200005001", "B801200005001"),
    ("B 801 2000 05 001", "B801200005001"),
    ("B-801-2000-05-001", "B801200005001"),
    (_with_check("938402112345"), _with_check("938402112345")),
    (_with_check("201100020000"), _with_check("201100020000")),
    (_with_check("999999999999"), _with_check("999999999999")),
    (_with_check("000000000101"), _with_check("000000000101")),
    # LA numbers of real authorities (City of London 201, Camden 202, Birmingham 330,
    # Cambridgeshire 873, Kent 886), establishment, two-digit year, serial
    (_with_check("201352419007"), _with_check("201352419007")),
    (_with_check("202200008123"), _with_check("202200008123")),
    (" " + _with_check("330410323456").lower() + " ", _with_check("330410323456")),
    (_with_check("873300099999"), _with_check("873300099999")),
    (_with_check("886540120500"), _with_check("886540120500")),
    (b"B801200005001", "B801200005001"),
]

UPN_REJECT = [
    ("A801200005001", Status.INVALID, "expected B"),
    ("C801200005001", Status.INVALID, "expected B"),
    ("Z801200005001", Status.INVALID, "expected B"),
    ("I801200005001", Status.INVALID, "never used"),
    ("O801200005001", Status.INVALID, "never used"),
    ("S801200005001", Status.INVALID, "never used"),
    ("B80120000500", Status.INVALID, "13 characters"),
    ("B8012000050011", Status.INVALID, "13 characters"),
    ("X80120000A001", Status.INVALID, "13 characters"),
    ("8801200005001", Status.INVALID, "13 characters"),
    ("B80120000500I", Status.INVALID, "cannot end in I"),
    ("B80120000500O", Status.INVALID, "cannot end in O"),
    ("B80120000500S", Status.INVALID, "cannot end in S"),
    ("A000000000000", Status.PLACEHOLDER, "all-zero"),
    (_with_check("000000000007"), Status.PLACEHOLDER, "all-zero"),
    (_with_check("80120000500A"), Status.TEMPORARY, "temporary UPN"),
    (_with_check("80120000500Z").lower(), Status.TEMPORARY, "temporary UPN"),
    (_with_check("93840211234H"), Status.TEMPORARY, "temporary UPN"),
    (1801200005001, Status.INVALID, "not a UPN"),
    (None, Status.MISSING, "no UPN"),
    ("", Status.MISSING, "no UPN"),
    ("unknown", Status.MISSING, "no UPN"),
]


@pytest.mark.parametrize(("value", "expected"), UPN_OK, ids=repr)
def test_upn_accepted(value, expected):
    r = check_upn(value)
    assert r.status is Status.OK, r.reason
    assert r.value == expected == upn(value)


@pytest.mark.parametrize(("value", "status", "why"), UPN_REJECT, ids=repr)
def test_upn_rejected(value, status, why):
    r = check_upn(value)
    assert r.status is status, r
    assert why in r.reason
    assert upn(value) is None


def test_upn_check_letter_worked_example():
    # 8*2 + 0*3 + 1*4 + 2*5 + 0*6 + 0*7 + 0*8 + 0*9 + 5*10 + 0*11 + 0*12 + 1*13 = 93
    # 93 mod 23 = 1 -> B
    assert upn_check_letter("801200005001") == "B"
    # temporary: final letter counts as its table index (A = 0, B = 1, ...)
    body = "80120000500"
    base = sum(int(c) * w for c, w in zip(body, range(2, 13), strict=True))
    for i, letter in enumerate(UPN_CHECK_LETTERS):
        assert upn_check_letter(body + letter) == UPN_CHECK_LETTERS[(base + 13 * i) % 23]
    assert len(UPN_CHECK_LETTERS) == 23 and not set("IOS") & set(UPN_CHECK_LETTERS)
    for bad in ("80120000500", "8012000050011", "8012000050I1", "80120000500I", ""):
        with pytest.raises(ValueError):
            upn_check_letter(bad)


def test_upn_single_digit_errors_are_caught():
    good = "B801200005001"
    for pos in range(1, 13):
        for d in "0123456789":
            if d == good[pos]:
                continue
            bad = good[:pos] + d + good[pos + 1 :]
            assert check_upn(bad).status is Status.INVALID, bad


# ---------------------------------------------------------------------------- properties

nino_first = st.sampled_from(sorted(set("ABCEGHJKLMNOPRSTWXYZ")))
nino_second = st.sampled_from(sorted(set("ABCEGHJKLMNPRSTWXYZ")))
valid_ninos = (
    st.tuples(
        nino_first,
        nino_second,
        st.text("0123456789", min_size=6, max_size=6),
        st.sampled_from(["A", "B", "C", "D", ""]),
    )
    .filter(lambda t: t[0] + t[1] not in NINO_NEVER_ALLOCATED | set(NINO_ADMIN_PREFIXES))
    .map(lambda t: "".join(t))
    .filter(lambda s: s not in NINO_PLACEHOLDERS)
)
valid_upns = (
    st.text("0123456789", min_size=12, max_size=12)
    .filter(lambda b: b[:11] != "0" * 11)
    .map(_with_check)
)
temporary_upns = st.tuples(
    st.text("0123456789", min_size=11, max_size=11).filter(lambda b: b != "0" * 11),
    st.sampled_from(UPN_CHECK_LETTERS),
).map(lambda t: _with_check(t[0] + t[1]))

anything = st.one_of(
    st.text(),
    st.text(alphabet="ABCDTNOQZ0123456789 -", max_size=14),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.binary(max_size=14),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@given(valid_ninos, st.sampled_from(["plain", "spaced", "lower"]))
@settings(max_examples=300, deadline=None)
def test_generated_valid_ninos_accepted(n, variant):
    text = {
        "plain": n,
        "spaced": " ".join([n[:2], n[2:4], n[4:6], n[6:8], n[8:]]),
        "lower": n.lower(),
    }[variant]
    r = check_nino(text)
    assert r.status is Status.OK and r.value == n


@given(valid_upns)
@settings(max_examples=300, deadline=None)
def test_generated_valid_upns_accepted(u):
    assert check_upn(u).status is Status.OK and upn(u.lower()) == u


@given(temporary_upns)
@settings(max_examples=200, deadline=None)
def test_generated_temporary_upns_marked(u):
    r = check_upn(u)
    assert r.status is Status.TEMPORARY and r.value == u and upn(u) is None


@given(anything)
@settings(max_examples=400, deadline=None)
def test_never_raise_idempotent_self_valid(value):
    for check, norm in ((check_nino, nino), (check_upn, upn)):
        r = check(value)
        assert isinstance(r.status, Status)
        v = norm(value)
        assert v == r.accepted
        if v is not None:
            assert norm(v) == v
            assert check(v).status is Status.OK
        if r.status is Status.TEMPORARY:
            assert check(r.value).status is Status.TEMPORARY


def test_series_match_scalar_on_tables():
    values = [c[0] for c in NINO_OK + NINO_REJECT + UPN_OK + UPN_REJECT]
    # pandas hashes "\x00" like "" and lone-surrogate strings alike: must not merge them
    values += ["", "\x00", "\ud800", "\ud800x", "1980-01-31\x00", "SW1A 1AA\x00"]
    values += ["\x00B801200005001"]
    s = pd.Series(values * 2, dtype=object, index=np.arange(len(values) * 2) * 3)
    for series_fn, check in ((nino_series, check_nino), (upn_series, check_upn)):
        out, status = series_fn(s)
        assert list(out.index) == list(s.index)
        for v, o, stt in zip(s, out, status, strict=True):
            r = check(v)
            assert (stt, o) == (r.status.value, r.accepted), v


@given(
    st.lists(
        st.one_of(valid_ninos, valid_upns, temporary_upns, st.text(max_size=14), st.none()),
        max_size=30,
    )
)
@settings(max_examples=100, deadline=None)
def test_series_equal_scalar(values):
    s = pd.Series(values, dtype=object)
    for series_fn, check in ((nino_series, check_nino), (upn_series, check_upn)):
        out, status = series_fn(s)
        for v, o, stt in zip(values, out, status, strict=True):
            r = check(v)
            assert (stt, o) == (r.status.value, r.accepted)

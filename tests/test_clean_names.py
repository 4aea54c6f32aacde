"""Tests for nislink.clean.names: normalisation, nicknames, phonetics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.clean import Status, names
from nislink.clean.names import (
    MISSING_MARKERS,
    PLACEHOLDERS,
    SUFFIXES,
    TITLES,
    UK_NICKNAMES,
    canonical_forename,
    check_name,
    forenames,
    metaphone,
    name,
    nysiis,
    soundex,
)

# (input, expected normalised name)
VALID = [
    ("John", "john"),
    ("  JOHN   SMITH  ", "john smith"),
    ("O'Brien", "obrien"),
    ("O\u2019Brien", "obrien"),
    ("O`Brien", "obrien"),
    ("O\u2018Brien", "obrien"),
    ("D'Arcy-Smith", "darcy smith"),
    ("Mary-Jane", "mary jane"),
    ("St. John", "st john"),
    ("john_smith", "john smith"),
    ("Smith, John", "smith john"),
    ("Zoë", "zoe"),
    ("José", "jose"),
    ("Bjørn", "bjorn"),
    ("Straße", "strasse"),
    ("Æthelred", "aethelred"),
    ("Œnone", "oenone"),
    ("Łukasz", "lukasz"),
    ("Þór", "thor"),
    ("Иван", "ivan"),
    ("Ｊｏｈｎ", "john"),  # full-width letters (NFKC)
    ("Mr John Smith", "john smith"),
    ("Mrs. Jane Doe-Smith", "jane doe smith"),
    ("Dr Who", "who"),
    ("Prof. Brian Cox", "brian cox"),
    ("Rev Richard Coles", "richard coles"),
    ("John Smith Jr", "john smith"),
    ("John Smith Jnr.", "john smith"),
    ("Henry Ford III", "henry ford"),
    ("Sir Elton John", "elton john"),
    ("Dame Judi Dench", "judi dench"),
    ("Lord Smith", "smith"),
    ("John Lord", "john lord"),  # surname-title kept when not leading
    ("Lord", "lord"),  # a surname on its own
    ("Dean Smith", "dean smith"),  # Dean is a forename, not a title
    ("Mr Unknown Smith", "unknown smith"),
    ("Missy", "missy"),  # title only as a whole word
    ("Mrsmith", "mrsmith"),
    ("Drew", "drew"),
    ("Esquivel", "esquivel"),
    ("Jean\tPaul\nSartre", "jean paul sartre"),
    ("Jöhn😀", "john"),  # emoji dropped, never transliterated into letters
    ("Anne (Annie)", "anne annie"),
    ("Smith/Jones", "smith jones"),
    ("Mc Donald", "mc donald"),
    (b"Ren\xc3\xa9e", "renee"),
    (np.str_("Amy"), "amy"),
    ("Col", "col"),  # Col is a diminutive of Colin: not dropped as a title
]

# (input, expected status)
NOT_ACCEPTED = [
    (None, Status.MISSING),
    (float("nan"), Status.MISSING),
    (np.nan, Status.MISSING),
    ("", Status.MISSING),
    ("   ", Status.MISSING),
    ("Miss", Status.MISSING),
    ("Mr.", Status.MISSING),
    ("Dr", Status.MISSING),
    ("Jr", Status.MISSING),
    ("Mr Mrs", Status.MISSING),
    ("Unknown", Status.MISSING),
    ("NOT KNOWN", Status.MISSING),
    ("n/a", Status.MISSING),
    ("N.K.", Status.MISSING),
    ("null", Status.MISSING),
    ("Mr Unknown", Status.MISSING),
    ("baby", Status.PLACEHOLDER),
    ("Baby Boy", Status.PLACEHOLDER),
    ("Baby of Jane Smith", Status.PLACEHOLDER),
    ("XXX", Status.PLACEHOLDER),
    ("zzzz", Status.PLACEHOLDER),
    ("x x x", Status.PLACEHOLDER),
    ("test", Status.PLACEHOLDER),
    ("Surname", Status.PLACEHOLDER),
    ("John2", Status.INVALID),
    ("12/03/1990", Status.INVALID),
    ("Twin 1", Status.INVALID),
    ("①", Status.INVALID),
    ("---", Status.INVALID),
    ("!!!", Status.INVALID),
    ("😀", Status.INVALID),
    (12, Status.INVALID),
    (3.5, Status.INVALID),
    (True, Status.INVALID),
    (np.int64(7), Status.INVALID),
    (["john"], Status.INVALID),
    ({"a": 1}, Status.INVALID),
    (b"\xff\xfe", Status.INVALID),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_names(raw: object, expected: str) -> None:
    r = check_name(raw)
    assert r.status is Status.OK, r
    assert r.value == expected
    assert name(raw) == expected


@pytest.mark.parametrize(("raw", "status"), NOT_ACCEPTED)
def test_rejected_names(raw: object, status: Status) -> None:
    r = check_name(raw)
    assert r.status is status, r
    assert r.value is None
    assert r.reason
    assert name(raw) is None


def test_case_counts() -> None:
    assert len(VALID) >= 30 and len(NOT_ACCEPTED) >= 30


def test_lists_are_disjoint_and_documented() -> None:
    assert not (TITLES & SUFFIXES)
    assert "unknown" in MISSING_MARKERS and "xxx" not in PLACEHOLDERS  # xxx via the rule
    for word in TITLES | SUFFIXES:
        assert name(word) is None
        assert name(f"Alice {word} Brown") == "alice brown"


def test_forenames() -> None:
    assert forenames("Mary-Jane Louise") == ["mary", "jane", "louise"]
    assert forenames("  ") == []
    assert forenames(None) == []
    assert forenames("Mr") == []


@pytest.mark.parametrize(
    ("nick", "formal"),
    [
        ("bill", "william"),
        ("Billy", "william"),
        ("peggy", "margaret"),
        ("Bob", "robert"),
        ("liz", "elizabeth"),
        ("jim", "james"),
        ("alf", "alfred"),
        ("alfie", "alfred"),
        ("gaz", "gary"),
        ("gaz", "gareth"),
        ("baz", "barry"),
        ("del", "derek"),
        ("dai", "david"),
        ("olly", "oliver"),
        ("tel", "terence"),
        ("Shaz", "sharon"),
    ],
)
def test_canonical_forename_nicknames(nick: str, formal: str) -> None:
    assert formal in canonical_forename(nick)


def test_canonical_forename_properties() -> None:
    # ambiguous nicknames return every candidate, sorted
    sandy = canonical_forename("sandy")
    assert {"alexander", "alexandra", "sandra"} <= set(sandy)
    assert sandy == sorted(sandy)
    # a name that is not a nickname maps to itself
    assert canonical_forename("Zebedee") == ["zebedee"]
    assert canonical_forename("Xanthippe") == ["xanthippe"]
    # input normalised first
    assert canonical_forename("  BILL ") == canonical_forename("bill")
    assert canonical_forename("Mr") == []
    assert canonical_forename(None) == []
    # bill and william share a canonical token
    assert set(canonical_forename("bill")) & set(canonical_forename("william"))
    # deterministic
    assert canonical_forename("ted") == canonical_forename("ted")
    for nick, formals in UK_NICKNAMES.items():
        assert set(formals) <= set(canonical_forename(nick))


def test_phonetics() -> None:
    assert soundex("O'Brien") == soundex("obrien") == "O165"
    assert soundex("Robert") == soundex("Rupert") == "R163"
    assert nysiis("Macdonald") == nysiis("Mac-Donald")
    assert metaphone("Knight") == "NT"
    assert metaphone("Smith") == metaphone("Smyth")
    for f in (soundex, nysiis, metaphone):
        assert f(None) is None
        assert f("Miss") is None
        assert f(float("nan")) is None
        assert f(42) is None


# ------------------------------------------------------------------ properties

ANY_INPUT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8")),
    st.text(alphabet="abcXYZ '’`-._,0123 éøßÆ"),
    st.sampled_from(sorted(TITLES | SUFFIXES | MISSING_MARKERS | PLACEHOLDERS)),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.binary(),
    st.lists(st.integers(), max_size=3),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(ANY_INPUT)
def test_never_raises_and_agrees(value: object) -> None:
    r = check_name(value)
    assert name(value) == r.accepted
    if r.ok:
        assert isinstance(r.value, str) and r.value
        assert r.value == r.value.strip()
        assert "  " not in r.value
        assert all(c == " " or "a" <= c <= "z" for c in r.value)
    else:
        assert r.value is None and r.reason
    canonical_forename(value)
    forenames(value)
    for f in (soundex, nysiis, metaphone):
        out = f(value)
        assert (out is None) == (r.value is None)


@settings(max_examples=300, deadline=None)
@given(ANY_INPUT)
def test_idempotent_and_self_valid(value: object) -> None:
    n = name(value)
    if n is not None:
        assert name(n) == n
        assert check_name(n).status is Status.OK
        for c in canonical_forename(n):
            assert name(c) == c


def test_nan_like_values() -> None:
    assert name(math.nan) is None
    assert name(np.float32("nan")) is None


@pytest.mark.parametrize("formal", ["william", "robert", "elizabeth", "thomas", "richard", "edward"])
def test_formal_names_do_not_map_to_their_nicknames(formal: str) -> None:
    """The data set's reverse entries (william 'has nickname' bill, wilma ...) are dropped:
    a formal name maps to itself, so William and Wilma, or Robert and Bill, share no
    canonical token."""
    assert canonical_forename(formal) == [formal]


@pytest.mark.parametrize(
    "nick, formal",
    [("bill", "william"), ("bob", "robert"), ("liz", "elizabeth"), ("molly", "mary"),
     ("polly", "mary"), ("peggy", "margaret"), ("jim", "james"), ("tom", "thomas")],
)
def test_nickname_and_formal_name_share_a_canonical_token(nick: str, formal: str) -> None:
    assert set(canonical_forename(nick)) & set(canonical_forename(formal))


PLAIN_HEAVY = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcXYZ -'`._,/\\()[]{}&+;:|\t\n\r\x0b\x0c"),
        st.sampled_from("0\x1c\x1f\x00!?é’ß\u2010Ｊ\u00a0"),
        st.characters(),
    ),
    max_size=20,
)


@settings(max_examples=500, deadline=None)
@given(PLAIN_HEAVY)
def test_plain_text_fast_path_equals_reference(text: str) -> None:
    """The fast path for plain ASCII text gives what NFKC + anyascii + the non-letter
    removal give."""
    assert names._letters(text) == names._letters_reference(text)
    if names._PLAIN.fullmatch(text):
        assert text.isascii() and not any(c.isdigit() for c in text)


def test_plain_characters() -> None:
    plain = {chr(i) for i in range(0x3000) if names._PLAIN.fullmatch(chr(i))}
    assert plain == set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \t\n\r\x0b\x0c"
                        "-._,/\\()[]{}&+;:|'`")
    # the digit test of ASCII text: a regex for 0-9 finds exactly what str.isdigit finds
    assert all(c.isdigit() == bool(names._DIGIT.search(c)) for c in map(chr, range(128)))


#: Words that make a normalised-looking text something other than its own name.
SPECIAL_WORDS = sorted(TITLES | SUFFIXES | names.SURNAME_TITLES | MISSING_MARKERS
                       | PLACEHOLDERS | {"baby of", "aaa", "zzzz", "bbb b"})
NORMALISED_LIKE = st.lists(
    st.one_of(st.sampled_from(SPECIAL_WORDS), st.text(alphabet="abxyz", min_size=1, max_size=6)),
    min_size=1, max_size=4,
).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(NORMALISED_LIKE, ANY_INPUT), max_size=8))
def test_phonetic_codes_equal_public_functions(values: list[object]) -> None:
    """The bulk phonetic codes are what the public phonetic functions give, for any input
    (normalised or not)."""
    for kind, fn in (("soundex", soundex), ("nysiis", nysiis), ("metaphone", metaphone)):
        assert names.phonetic_codes(kind, values) == [fn(v) for v in values]


#: Plain text (ASCII letters, separators, apostrophes) made of words that matter to the
#: checker, in any case, joined by runs of separators.
PLAIN_WORDS = st.lists(
    st.one_of(st.sampled_from(SPECIAL_WORDS + ["O'Brien", "mary-jane", "Smith", "a", "B"]),
              st.text(alphabet="abAB", min_size=1, max_size=4)).map(
        lambda w: "".join(c.upper() if i % 2 else c for i, c in enumerate(w))),
    min_size=0, max_size=4,
).flatmap(lambda ws: st.lists(st.sampled_from([" ", "  ", "-", ".", ", ", "\t", "'", "_ ("]),
                              min_size=len(ws) + 1, max_size=len(ws) + 1).map(
    lambda seps: seps[0] + "".join(w + s for w, s in zip(ws, seps[1:]))))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(PLAIN_WORDS, NORMALISED_LIKE, ANY_INPUT), max_size=10))
def test_plain_names_in_bulk_are_what_check_name_accepts(values: list[object]) -> None:
    """The Arrow path accepts a plain name exactly as check_name does, and leaves to it
    (None) every value it would not accept as the words it holds."""
    from nislink.clean.frames import _name_results

    for v, fast in zip(values, names.plain_names(values)):
        r = check_name(v)
        if fast is not None:
            assert r.status is Status.OK and r.value == fast
        elif isinstance(v, str) and names._PLAIN.fullmatch(v) and r.ok:
            # a plain name left to check_name must be one it changes beyond its words
            assert r.value != " ".join(v.lower().translate(names._SEP_TABLE).split())
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    accepted, codes = _name_results(arr)
    assert accepted == [check_name(v).accepted for v in values]
    assert codes == [list(Status).index(check_name(v).status) for v in values]

"""UK naming conventions at encoding time (given name, Singh/Kaur/Begum, Polish endings),
forename and surname swapped (salted swap tokens), and blocking on the salts' tags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink import link
from nislink.clean.names import given_name, name, surname_core
from nislink.encode import Encoder
from nislink.linkage import candidates
from nislink.model import comparisons_for
from nislink.schema import SWAP_SEP, FieldSpec, Schema, SchemaError
from nislink.secrets import Secret

KEY = Secret.from_bytes(bytes(range(9, 41)))

BASE = {"id": "a0", "forename": "Olivia", "surname": "Hartley", "dob": "03/11/1989",
        "sex": "F", "postcode": "LS6 2AB"}


def _levels(a_rows, b_rows, schema=None):  # type: ignore[no-untyped-def]
    enc = Encoder(schema or Schema.uk_default(), KEY)
    ea = enc.encode(pd.DataFrame([{**BASE, **r} for r in a_rows]), id_column="id")
    eb = enc.encode(pd.DataFrame([{**BASE, **r} for r in b_rows]), id_column="id")
    comps = {c.name: c for c in comparisons_for(ea, eb)}
    ia = np.zeros(len(eb), dtype=np.int64)
    ib = np.arange(len(eb))
    return {n: dict(zip(eb.ids, c.levels(ea, eb, ia, ib).tolist())) for n, c in comps.items()}


@pytest.mark.parametrize("a,b", [
    ("Rebecca", "REBECCA MARY"),
    ("Ali", "Mohammed Ali"),
    ("Rehan", "MUHAMMAD REHAN"),
    ("Mohammed", "Mohammed"),
])
def test_given_name_convention(a: str, b: str) -> None:
    lev = _levels([{"forename": a}], [{"id": "b", "forename": b}])
    assert lev["forename"]["b"] == 4  # token equal


@pytest.mark.parametrize("a,b", [
    ("Dhillon", "Kaur Dhillon"),
    ("Rahman", "BEGUM RAHMAN"),
    ("Kowalski", "Kowalska"),
    ("Wojcicki", "Wójcicka"),
    ("O'Brien", "OBRIEN"),
])
def test_surname_conventions(a: str, b: str) -> None:
    lev = _levels([{"surname": a}], [{"id": "b", "surname": b}])
    assert lev["surname"]["b"] == 4


def test_religious_surname_alone_is_not_another_family() -> None:
    assert surname_core("kaur") == "kaur" and surname_core("singh kaur") == "singh kaur"
    lev = _levels([{"surname": "Kaur"}], [{"id": "b", "surname": "Sandhu"}])
    assert lev["surname"]["b"] < 4


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdeghijklmnorstuyz -'", min_size=0, max_size=30))
def test_conventions_are_idempotent_and_total(text: str) -> None:
    n = name(text)
    for fn in (given_name, surname_core):
        once = fn(n)
        assert (once is None) == (n is None)
        if once is not None:
            assert fn(once) == once or fn is given_name and fn(once) == once.split()[0]
            assert once.strip() == once and "  " not in once


def test_uk_names_only_for_name_kinds_and_fingerprints() -> None:
    with pytest.raises(SchemaError, match="uk_names"):
        FieldSpec.from_dict({"name": "dob", "kind": "dob", "uk_names": True})
    assert "uk_names" not in FieldSpec("forename", "forename").to_dict()
    back = Schema.from_json(Schema.uk_default().to_json())
    assert back.field("forename").uk_names and back.field("surname").uk_names


# ------------------------------------------------------------------ swapped names
def test_swapped_names_agree_under_any_shared_salt() -> None:
    lev = _levels([{}], [
        {"id": "swap", "forename": "Hartley", "surname": "Olivia"},
        {"id": "swap_year", "forename": "Hartley", "surname": "Olivia", "dob": "03/11/1990"},
        {"id": "other", "forename": "Hartley", "surname": "Jones"},
    ])
    assert lev["forename"]["swap"] == lev["surname"]["swap"] == 4
    assert lev["forename"]["swap_year"] == lev["surname"]["swap_year"] == 4
    assert lev["surname"]["other"] == 0


def test_swap_tokens_are_salted_and_schema_checked() -> None:
    s = Schema.uk_default()
    f = s.field("forename")
    assert f.swap_with == "surname"
    names = [t for _, t in f.swap_tokens]
    assert names[0] == f"forename{SWAP_SEP}surname" and len(names) == 4 + 6  # + digit views
    enc = Encoder(s, KEY)
    one = pd.DataFrame([{**BASE, "id": "x"}])
    e1 = enc.encode(one, id_column="id")
    e2 = enc.encode(one.assign(dob="04/11/1989"), id_column="id")  # another salt
    assert all(e1.tokens[t][0] != 0 for t in names)
    assert e1.tokens[names[0]][0] != e2.tokens[names[0]][0]  # never the name pair alone
    # no date of birth: no primary salt, so no primary swap token
    e3 = enc.encode(one.assign(dob=""), id_column="id")
    assert e3.tokens[names[0]][0] == 0
    plain = Schema.uk_unhardened()
    plain.field("forename").swap_with = "surname"
    with pytest.raises(SchemaError, match="swap_with: needs a salted field"):
        plain.validate()
    bad = Schema.uk_default()
    bad.field("forename").swap_with = "dob"
    with pytest.raises(SchemaError, match="not another name field"):
        bad.validate()
    # select() without the surname drops the swap
    assert Schema.uk_default().select(["forename", "dob", "postcode"]).field(
        "forename").swap_with is None


# ------------------------------------------------------------------ blocking on salt tags
def test_pairs_sharing_a_salt_are_candidates_even_when_both_names_differ() -> None:
    enc = Encoder(Schema.uk_default(), KEY)
    ea = enc.encode(pd.DataFrame([{**BASE, "forename": "Olivia", "surname": "Hartley"}]),
                    id_column="id")
    eb = enc.encode(pd.DataFrame([
        {**BASE, "id": "typos", "forename": "Oliva", "surname": "Hartlye",
         "dob": "03/11/1990"},  # both names mistyped, year off by one
        {**BASE, "id": "far", "forename": "Oliva", "surname": "Hartlye",
         "dob": "17/02/1960", "postcode": "M1 1AA"},
    ]), id_column="id")
    ia, ib = candidates(ea, eb)
    got = {eb.ids[j] for j in ib.tolist()}
    assert "typos" in got and "far" not in got
    res = link(ea, eb, keep_scores=True)
    assert set(res.scores["ib"].map(lambda j: eb.ids[j])) >= {"typos"}


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="abkmdzsciwo \t-'ñé", min_size=1, max_size=14)
       | st.sampled_from(["kowalska", "wojcicka", "dzka", "gorzka", "nowickaa", "begum",
                          "kaur", "mohammed", "muhammad ali", "ska", "zielinska"]))
def test_one_word_fast_paths_equal_the_word_by_word_rules(text: str) -> None:
    """A one-word name (letters only) is returned as it is unless a Polish feminine ending
    applies: exactly what the word-by-word rules give, for any text."""
    from nislink.clean.names import MOHAMMED_FORMS, _surname_core_words

    assert surname_core(text) == _surname_core_words(text)
    words = text.split()
    if words:
        want = words[1] if len(words) > 1 and words[0] in MOHAMMED_FORMS else words[0]
        assert given_name(text) == want

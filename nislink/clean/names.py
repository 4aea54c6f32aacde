"""Personal names: normalisation, forenames, nicknames and phonetic codes.

The rules (see ``docs/cleaning.md`` for the full description and examples):

1. Missing input (``None``, NaN, blank) is :attr:`Status.MISSING`. Non-text input
   (numbers, lists, ...) is :attr:`Status.INVALID`; ``bytes`` are decoded as UTF-8.
2. Unicode NFKC normalisation, then transliteration to ASCII with ``anyascii``
   (``é -> e``, ``ø -> o``, ``ß -> ss``, ``Æ -> ae``, ``Иван -> ivan``), then lower case.
   Symbols and emoji are dropped *before* transliteration, so that an emoji never
   turns into letters.
3. Apostrophes (straight, curly, backtick, modifier letter, acute) are removed:
   ``O'Brien -> obrien``.
4. Hyphens, dots, underscores, commas and the other separators in :data:`SEPARATORS`
   become spaces; every other non-letter is dropped.
5. A name that contains a digit is :attr:`Status.INVALID` (digits in a name field mean
   a mis-keyed or mis-mapped value such as a date or a reference number; they are not
   silently dropped).
6. Titles (:data:`TITLES`) and suffixes (:data:`SUFFIXES`) are removed as whole words.
   The words in :data:`SURNAME_TITLES` (``lord``, ``lady``, ``sir``, ``dame``, ...)
   are also surnames, so they are removed only at the start of a name and only when
   another word follows (``Lord Smith -> smith`` but ``John Lord -> john lord`` and
   ``Lord -> lord``). A value that consists of titles only (``Miss``) is missing.
7. Whitespace is collapsed to single spaces.
8. Placeholder values (:data:`MISSING_MARKERS`: "unknown", "n/a", ... ->
   :attr:`Status.MISSING`; :data:`PLACEHOLDERS`: "baby", "xxx", "test", ... and a single
   letter repeated three or more times -> :attr:`Status.PLACEHOLDER`) are not names.

The plain normaliser :func:`name` is ``check_name(value).accepted``.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache
from typing import Any

import jellyfish
import nicknames
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii

from nislink.clean._result import Checked, Status, invalid, is_missing, missing

__all__ = [
    "MISSING_MARKERS",
    "PLACEHOLDERS",
    "SEPARATORS",
    "SUFFIXES",
    "SURNAME_TITLES",
    "TITLES",
    "UK_NICKNAMES",
    "MOHAMMED_FORMS",
    "RELIGIOUS_SURNAMES",
    "canonical_forename",
    "check_name",
    "given_name",
    "surname_core",
    "forenames",
    "metaphone",
    "name",
    "nysiis",
    "phonetic_codes",
    "plain_names",
    "soundex",
]

#: Titles and honorifics removed wherever they occur as whole words.
TITLES: frozenset[str] = frozenset(
    {
        "mr", "mrs", "ms", "miss", "mx", "mstr", "msr", "messrs",
        "dr", "doctor", "rev", "revd", "reverend", "prof", "professor",
        "fr", "rt", "rthon", "cllr", "councillor",
        "capt", "captain", "colonel", "lt", "sgt", "cpl", "pte", "cdr", "brig",
        "sr", "sis", "br",
    }
)  # fmt: skip

#: Titles that are also common surnames (or forenames): removed only as the first word
#: of a longer name.
SURNAME_TITLES: frozenset[str] = frozenset(
    {
        "sir", "dame", "lord", "lady", "major", "father", "sister", "brother", "canon",
        "rabbi", "imam", "pastor", "master", "hon",
    }
)

#: Generational suffixes and post-nominal letters removed wherever they occur as whole
#: words.
SUFFIXES: frozenset[str] = frozenset(
    {
        "jr", "jnr", "snr", "ii", "iii", "iv", "esq", "esquire",
        "obe", "mbe", "cbe", "kbe", "dbe", "qc", "kc", "mp", "msp", "phd", "dphil",
        "frcs", "frcp", "mrcp", "mrcgp",
    }
)  # fmt: skip

_DROP_ANYWHERE: frozenset[str] = TITLES | SUFFIXES

#: Values (compared after normalisation) that mean "no name recorded": Status.MISSING.
MISSING_MARKERS: frozenset[str] = frozenset(
    {
        "unknown", "unkown", "unk", "not known", "notknown", "nk", "n k", "n a", "na",
        "none", "null", "nil", "nan", "not stated", "not given", "not applicable",
        "not recorded", "not provided", "no name", "noname", "unnamed", "refused",
        "withheld", "redacted", "declined", "tbc", "tba", "to be confirmed", "blank",
        "missing",
    }
)  # fmt: skip

#: Values (compared after normalisation) that systems use in place of a real name:
#: Status.PLACEHOLDER. Also any single letter repeated three or more times ("xxx").
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "baby", "baby boy", "baby girl", "babyboy", "babygirl", "infant", "newborn",
        "new born", "unborn", "unborn baby", "child", "twin", "foetus", "stillborn",
        "xx", "zz", "x x", "test", "testing", "test test", "dummy", "anon", "anonymous",
        "name", "forename", "forenames", "first name", "firstname", "surname",
        "last name", "lastname", "family name", "given name", "patient", "person",
        "client", "pupil", "student", "john doe", "jane doe", "joe bloggs", "fred bloggs",
        "temp", "temporary", "asdf", "qwerty", "abc", "aaa",
    }
)  # fmt: skip

_PLACEHOLDER_PREFIXES: tuple[str, ...] = ("baby of ", "infant of ", "child of ", "twin of ")

#: Characters (besides whitespace) that separate words: they become spaces.
SEPARATORS: str = "-._,/\\()[]{}&+;:|\u2010\u2011\u2012\u2013\u2014\u2015\u2212"

#: Apostrophe-like characters removed without a space (``O'Brien -> obrien``).
_APOSTROPHES: str = "'`\u2018\u2019\u201b\u02bc\u02b9\u00b4\u2032"

_SEP_TABLE = str.maketrans(
    {c: " " for c in SEPARATORS + "\t\n\r\x0b\x0c"} | {c: None for c in _APOSTROPHES}
)
_NON_LETTER = re.compile(r"[^a-z ]+")
_DIGIT = re.compile(r"[0-9]")
#: Text of ASCII letters, whitespace that becomes a space, ASCII separators and apostrophes
#: only: NFKC and transliteration leave it unchanged, it holds no digit, and after lower
#: case and :data:`_SEP_TABLE` it holds only letters and spaces (see :func:`_check_text`).
_PLAIN = re.compile(
    "[A-Za-z "
    + re.escape("".join(c for c in SEPARATORS + _APOSTROPHES + "\t\n\r\x0b\x0c"
                        if c.isascii()))
    + "]*"
)
_REPEATED_LETTER = re.compile(r"([a-z])\1{2,}")


def _decode(value: Any) -> str | Checked[str]:
    """Return the text of ``value`` or a Checked explaining why it is not text."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return invalid("bytes that are not UTF-8 text")
    if isinstance(value, (int, float, complex)) or type(value).__module__ == "numpy":
        return invalid(f"a number ({type(value).__name__}), not a name")
    return invalid(f"expected text, got {type(value).__name__}")


def _to_ascii(text: str) -> str | None:
    """NFKC + symbol filtering + anyascii + lower case; None when a digit was seen."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        kept = []
        for ch in text:
            if ch.isascii():
                kept.append(ch)
                continue
            cat = unicodedata.category(ch)
            if cat[0] in "LM":
                kept.append(ch)
            elif cat[0] == "N":
                return None
            elif cat[0] == "Z" or ch in SEPARATORS or ch in _APOSTROPHES:
                kept.append(" " if ch not in _APOSTROPHES else "")
            # other symbols, punctuation and controls are dropped
        text = anyascii("".join(kept))
    # anyascii gives ASCII text, whose only digits are 0-9 (the regex is faster)
    if _DIGIT.search(text) if text.isascii() else any(c.isdigit() for c in text):
        return None
    return text.lower()


def _letters_reference(text: str) -> str | None:
    """``text`` in lower-case ASCII letters, with separators as spaces and every other
    character dropped; ``None`` when it contains a digit (rules 2 to 5)."""
    ascii_text = _to_ascii(text)
    if ascii_text is None:
        return None
    return _NON_LETTER.sub("", ascii_text.translate(_SEP_TABLE))


def _letters(text: str) -> str | None:
    """:func:`_letters_reference`, faster for the usual text (and every normalised name):
    for :data:`_PLAIN` text NFKC and transliteration change nothing, there is no digit, and
    after lower case and :data:`_SEP_TABLE` nothing is left for ``_NON_LETTER`` to drop."""
    if _PLAIN.fullmatch(text):
        return text.lower().translate(_SEP_TABLE)
    return _letters_reference(text)


@lru_cache(maxsize=1 << 16)
def _check_text(text: str) -> Checked[str]:
    """The cached core of :func:`check_name` for text input."""
    if text.strip() == "":
        return missing("blank")
    cleaned = _letters(text)
    if cleaned is None:
        return invalid("contains digits")
    words = cleaned.split()
    if not words:
        return invalid("no letters")
    joined = " ".join(words)
    if joined in MISSING_MARKERS:
        return missing(f"'not known' marker ({joined!r})")
    kept = [w for w in words if w not in _DROP_ANYWHERE]
    while len(kept) > 1 and kept[0] in SURNAME_TITLES:
        kept.pop(0)
    if not kept:
        return missing("only a title or suffix")
    result = " ".join(kept)
    if result in MISSING_MARKERS:
        return missing(f"'not known' marker ({result!r})")
    if (
        result in PLACEHOLDERS
        or result.startswith(_PLACEHOLDER_PREFIXES)
        or _REPEATED_LETTER.fullmatch(result.replace(" ", ""))
    ):
        return Checked(None, Status.PLACEHOLDER, f"placeholder name ({result!r})")
    return Checked(result, Status.OK, None)


def check_name(value: Any) -> Checked[str]:
    """Normalise a personal name (forename(s), surname or full name) with a status.

    >>> check_name("Mr. Seán O’Brien-Smith Jr").value
    'sean obrien smith'
    >>> check_name("Miss").status.value
    'missing'
    """
    if is_missing(value):
        return missing("no value")
    text = _decode(value)
    if isinstance(text, Checked):
        return text
    return _check_text(text)


def name(value: Any) -> str | None:
    """The normalised name, or ``None`` when missing, invalid or a placeholder.

    >>> name("  ZOË  d'Arcy ")
    'zoe darcy'
    """
    return check_name(value).accepted


def forenames(value: Any) -> list[str]:
    """The normalised name split into words (``[]`` when missing or invalid).

    >>> forenames("Mary-Jane Louise")
    ['mary', 'jane', 'louise']
    """
    n = name(value)
    return n.split() if n else []


# --------------------------------------------------------------------------- nicknames

#: Common British diminutives missing from the (US-centred) ``nicknames`` data set,
#: nickname -> formal names. Added to, never replacing, the data set's candidates.
UK_NICKNAMES: dict[str, tuple[str, ...]] = {
    "alf": ("alfred",),
    "alfie": ("alfred",),
    "baz": ("barry",),
    "bazza": ("barry",),
    "bev": ("beverley",),
    "bex": ("rebecca",),
    "bri": ("brian",),
    "cath": ("catherine",),
    "chaz": ("charles",),
    "col": ("colin",),
    "dai": ("david",),
    "del": ("derek",),
    "den": ("dennis",),
    "evie": ("eve", "evelyn"),
    "gav": ("gavin",),
    "gaz": ("gareth", "gary"),
    "gazza": ("gareth", "gary"),
    "jonty": ("jonathan",),
    "kat": ("catherine", "katherine"),
    "kaz": ("karen",),
    "mags": ("margaret",),
    "nige": ("nigel",),
    "olly": ("oliver",),
    "rab": ("robert",),
    "rabbie": ("robert",),
    "shaz": ("sharon",),
    "shazza": ("sharon",),
    "stevie": ("stephen",),
    "tam": ("thomas",),
    "tel": ("terence", "terry"),
    "trev": ("trevor",),
}


@lru_cache(maxsize=1)
def _nickname_tables() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """(nickname -> canonical names, set of names that have nicknames), merged with UK."""

    nn = nicknames.NickNamer()
    canon: dict[str, set[str]] = {k: set(v) for k, v in nn.canonical_lookup.items()}
    formal: set[str] = set(nn.nickname_lookup)
    for nick, formals in UK_NICKNAMES.items():
        canon.setdefault(nick, set()).update(formals)
        formal.update(formals)
    return {k: frozenset(v) for k, v in canon.items()}, frozenset(formal)


@lru_cache(maxsize=1 << 16)
def _canonical(normalised: str) -> tuple[str, ...]:
    canon, formal = _nickname_tables()
    uk = set(UK_NICKNAMES.get(normalised, ()))
    # The data set lists many pairs in both directions ("bill has nickname william" as well
    # as "william has nickname bill") and some odd ones ("wilma has nickname william"). For
    # a name that has nicknames of its own (a formal name), a candidate shorter than it is
    # such a reverse entry and is dropped: william -> [william], not [bill, ..., wilma].
    # Names that are only nicknames keep every candidate (molly -> mary).
    found = canon.get(normalised, ())
    if normalised in formal:
        found = [c for c in found if len(c) >= len(normalised)]
    candidates = set(found) | uk
    if not candidates or normalised in formal:
        candidates.add(normalised)
    return tuple(sorted(candidates))


def canonical_forename(value: Any) -> list[str]:
    """Formal name(s) for a forename, from the ``nicknames`` data set plus :data:`UK_NICKNAMES`.

    The input is normalised with :func:`name` first (``[]`` when missing). A nickname
    maps to every formal name it may stand for (sorted); a name that is not a nickname
    maps to itself; a name that is both a formal name and a nickname of other names
    (``bert``, ``bill``) maps to itself *and* those names, except candidates shorter
    than it, which are the data set's reverse entries (a formal name is never shorter
    than its nickname), so ``william`` maps to itself alone. Give one forename at a
    time: a multi-word value is looked up as a whole.

    >>> canonical_forename("Bill")
    ['bill', 'robert', 'will', 'william', 'willis']
    >>> canonical_forename("William")
    ['william']
    >>> canonical_forename("Tel")
    ['terence', 'terry']
    >>> canonical_forename("Alfie")
    ['alfred']
    >>> canonical_forename("Zebedee")
    ['zebedee']
    """
    n = name(value)
    if n is None:
        return []
    return list(_canonical(n))


# --------------------------------------------------------------------------- phonetics


def _re2_class(chars: str) -> str:
    """A regular-expression character class (RE2 syntax, for Arrow) of ``chars``."""
    return "[" + "".join(c if c.isalnum() else f"\\x{{{ord(c):02x}}}" for c in chars) + "]"


def _re2_words(words: frozenset[str] | tuple[str, ...]) -> str:
    """A group matching any of ``words`` (letters and spaces only)."""
    return "(?:" + "|".join(sorted(words)) + ")"


_ASCII_SEPARATORS = "".join(c for c in SEPARATORS + " \t\n\r\x0b\x0c" if c.isascii())
_ASCII_APOSTROPHES = "".join(c for c in _APOSTROPHES if c.isascii())
_ARROW_PLAIN = "^" + _re2_class(
    string.ascii_letters + _ASCII_SEPARATORS + _ASCII_APOSTROPHES) + "*$"
_ARROW_SEPARATOR = _re2_class(_ASCII_SEPARATORS)
_ARROW_APOSTROPHE = _re2_class(_ASCII_APOSTROPHES)
#: A normalised text that :func:`_check_text` would not accept as it is: a word it drops,
#: a leading title that is also a surname before another word, a placeholder prefix, or one
#: letter repeated three or more times (spaces aside).
_ARROW_SPECIAL = "|".join([
    "(?:^| )" + _re2_words(_DROP_ANYWHERE) + "(?: |$)",
    "^" + _re2_words(SURNAME_TITLES) + " ",
    "^" + _re2_words(_PLACEHOLDER_PREFIXES),
    "^(?:" + "|".join(f"{c}(?: ?{c}){{2,}}" for c in string.ascii_lowercase) + ")$",
])


def plain_names(values: list[Any]) -> list[str | None]:
    """The bulk fast path of :func:`check_name` (used by :func:`nislink.clean.frame` on a
    column's distinct values). For each of ``values``: its normalised name when it is plain
    text (ASCII letters, separators, apostrophes) that :func:`check_name` accepts as the
    words it holds (lower case, separators as single spaces, apostrophes dropped: no title,
    suffix, 'not known' marker or placeholder); ``None`` for every other value, which
    :func:`check_name` must judge. Done with Arrow on all the values at once.

    >>> plain_names(["O'Brien-Smith", "Mr Smith", "Zoë", 42])
    ['obrien smith', None, None, None]
    """
    n = len(values)
    if set(map(type, values)) <= {str}:  # the usual case: every value is text
        at: list[int] | None = None
        texts = list(values)
    else:
        at = [i for i, v in enumerate(values) if type(v) is str]
        texts = [values[i] for i in at]
    if not texts:
        return [None] * n
    try:
        arr = pa.array(texts, type=pa.string())
    except (pa.ArrowException, UnicodeEncodeError):  # lone surrogates: value by value
        return [None] * n
    plain = pc.match_substring_regex(arr, _ARROW_PLAIN)
    text = pc.replace_substring_regex(pc.ascii_lower(arr), _ARROW_SEPARATOR, " ")
    text = pc.replace_substring_regex(text, _ARROW_APOSTROPHE, "")
    text = pc.utf8_trim(text, characters=" ")
    joined = pc.replace_substring_regex(text, " +", " ")  # " ".join(text.split())
    special = pc.or_(
        pc.or_(pc.equal(joined, ""),
               pc.is_in(joined, value_set=pa.array(sorted(MISSING_MARKERS | PLACEHOLDERS)))),
        pc.match_substring_regex(joined, _ARROW_SPECIAL),
    )
    accept = pc.and_(plain, pc.invert(special))
    found = pc.if_else(accept, joined, pa.scalar(None, pa.string())).to_pylist()
    if at is None:
        return found
    out: list[str | None] = [None] * n
    for i, f in zip(at, found):
        out[i] = f
    return out


def phonetic_codes(kind: str, values: list[Any]) -> list[str | None]:
    """``soundex(v)``, ``nysiis(v)`` or ``metaphone(v)`` (``kind``) for each of ``values``
    (any input, as those functions take it): the plain names among them, such as every
    normalised name, are checked in bulk (:func:`plain_names`), the other values one by
    one (used by the encoder on distinct normalised values).

    >>> phonetic_codes("soundex", ["obrien", "O'Brien", "miss", None])
    ['O165', 'O165', None, None]
    """
    code = {"soundex": _soundex, "nysiis": _nysiis, "metaphone": _metaphone}[kind]
    accepted = [f if f is not None else name(v) for f, v in zip(plain_names(values), values)]
    return [code(n.replace(" ", "")) if n else None for n in accepted]


def _phonetic_input(value: Any) -> str | None:
    n = name(value)
    return n.replace(" ", "") if n else None


@lru_cache(maxsize=1 << 16)
def _soundex(s: str) -> str:
    return jellyfish.soundex(s)


@lru_cache(maxsize=1 << 16)
def _nysiis(s: str) -> str:
    return jellyfish.nysiis(s)


@lru_cache(maxsize=1 << 16)
def _metaphone(s: str) -> str:
    return jellyfish.metaphone(s)


def soundex(value: Any) -> str | None:
    """American Soundex of the normalised name with spaces removed (None when missing).

    >>> soundex("O'Brien")
    'O165'
    """
    s = _phonetic_input(value)
    return _soundex(s) if s else None


def nysiis(value: Any) -> str | None:
    """NYSIIS code of the normalised name with spaces removed (None when missing).

    >>> nysiis("Macdonald")
    'MCDANALD'
    """
    s = _phonetic_input(value)
    return _nysiis(s) if s else None


def metaphone(value: Any) -> str | None:
    """Metaphone code of the normalised name with spaces removed (None when missing).

    >>> metaphone("Knight")
    'NT'
    """
    s = _phonetic_input(value)
    return _metaphone(s) if s else None


# ------------------------------------------------------------------ UK naming conventions

#: Forms of Mohammed that are often a religious first name before the calling name
#: ("Mohammed Ali" is known as Ali): skipped by :func:`given_name` when another word follows.
MOHAMMED_FORMS: frozenset[str] = frozenset({
    "mohammed", "mohammad", "muhammad", "muhammed", "mohamed", "mohamad", "mohammod",
    "mohd", "md", "muhamad",
})

#: Sikh and Muslim South Asian names recorded as, or in addition to, a family surname
#: (Singh, Kaur; Begum, Bibi, Khatun): weak evidence about the family, dropped by
#: :func:`surname_core` when another word remains.
RELIGIOUS_SURNAMES: frozenset[str] = frozenset({"singh", "kaur", "begum", "bibi", "khatun"})

_POLISH_FEMININE = (("dzka", "dzki"), ("ska", "ski"), ("cka", "cki"))
_FEMININE_ENDINGS = tuple(fem for fem, _ in _POLISH_FEMININE)


def given_name(normalised: str | None) -> str | None:
    """The given name a person is known by, from a normalised forename field: the first
    word, or the second when the first is a form of Mohammed (:data:`MOHAMMED_FORMS`)
    followed by a calling name. Middle names recorded in the forename field (``"rebecca
    mary"``) and the Mohammed + calling name convention (``"mohammed ali"`` / ``"ali"``)
    then agree.

    >>> given_name("rebecca mary"), given_name("muhammad rehan"), given_name("mohammed")
    ('rebecca', 'rehan', 'mohammed')
    """
    if not normalised:
        return None
    if normalised.isalpha():  # one word (letters are never white space): itself
        return normalised
    words = normalised.split()
    if len(words) > 1 and words[0] in MOHAMMED_FORMS:
        return words[1]
    return words[0]


def surname_core(normalised: str | None) -> str | None:
    """A normalised surname with the UK recording conventions undone: Singh, Kaur, Begum,
    Bibi and Khatun dropped when another word remains (``"kaur dhillon"`` ->
    ``"dhillon"``; ``"kaur"`` stays), and a Polish feminine ending made masculine
    (``"kowalska"`` -> ``"kowalski"``, ``"wojcicka"`` -> ``"wojcicki"``; words of six
    letters or more), so that the forms one person is recorded under agree.

    >>> surname_core("begum rahman"), surname_core("kowalska"), surname_core("singh")
    ('rahman', 'kowalski', 'singh')
    """
    if not normalised:
        return None
    if normalised.isalpha() and (len(normalised) < 6
                                 or not normalised.endswith(_FEMININE_ENDINGS)):
        return normalised  # one word, nothing to undo: itself
    return _surname_core_words(normalised)


def _surname_core_words(normalised: str) -> str:
    """:func:`surname_core` of a non-empty text, word by word (the general case)."""
    words = normalised.split()
    kept = [w for w in words if w not in RELIGIOUS_SURNAMES] or words
    out = []
    for w in kept:
        if len(w) >= 6:
            for fem, masc in _POLISH_FEMININE:
                if w.endswith(fem):
                    w = w[: -len(fem)] + masc
                    break
        out.append(w)
    return " ".join(out)

"""Error model: the ways identifiers go wrong between a person and an extract.

Each function takes a NumPy ``Generator`` and returns the corrupted value(s); the
record-level driver :func:`corrupt` applies them with the rates of an
:class:`~nislink.synth.config.ErrorRates` and returns an error log (which record, which
field, which error), so that measured rates can be checked against the configuration.

Bases (see ``docs/synth.md`` for the full list with references):

* keyboard typos are single edits (Damerau 1964: about 80% of misspellings are one
  insertion, deletion, substitution or transposition); substitutions use QWERTY neighbours;
  the split between the four kinds is an assumption (omission most common, after
  Pollock and Zamora 1983);
* OCR confusions are the classic glyph pairs (rn/m, cl/d, O/0, I/l/1, S/5, B/8, ...);
* phonetic spellings apply one English sound-alike rewrite (ph/f, ck/k, ...);
* nicknames come from the ``nicknames`` package (formal name -> nickname);
* UK naming conventions (Singh/Kaur and Begum/Bibi instead of or with the family surname,
  Mohammed + calling name, middle name as forename, initials, double-barrelled surnames
  without the hyphen, diacritics and apostrophes lost, Polish masculine surname forms)
  are recorded at per-record rates that are assumptions (``docs/synth.md``).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from anyascii import anyascii
from nicknames import NickNamer

from nislink.synth._data import MOHAMMED_SPELLINGS, POLISH_FEMININE
from nislink.synth.config import ErrorRates

__all__ = [
    "QWERTY_NEIGHBOURS",
    "OCR_CONFUSIONS",
    "PHONETIC_RULES",
    "keyboard_typo",
    "ocr_error",
    "phonetic_variant",
    "nickname_of",
    "drop_hyphenated_part",
    "respell_mohammed",
    "masculine_form",
    "without_diacritics",
    "postcode_typo",
    "id_typo",
    "corrupt",
    "ERROR_KINDS",
]

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _qwerty() -> dict[str, str]:
    pos = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
    out: dict[str, str] = {}
    for c, (r, i) in pos.items():
        nb = []
        for d, (r2, i2) in pos.items():
            if d != c and abs(r2 - r) <= 1 and abs((i2 + 0.5 * r2) - (i + 0.5 * r)) <= 1.0:
                nb.append(d)
        out[c] = "".join(sorted(nb))
    return out


#: Keys adjacent to each letter on a UK QWERTY keyboard (rows offset by half a key).
QWERTY_NEIGHBOURS: dict[str, str] = _qwerty()

#: Glyph confusions of optical character recognition (source -> replacement).
OCR_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("vv", "w"), ("w", "vv"),
    ("O", "0"), ("o", "0"), ("I", "l"), ("l", "1"), ("i", "1"), ("S", "5"), ("s", "5"),
    ("B", "8"), ("e", "c"), ("c", "e"), ("h", "b"), ("u", "v"), ("n", "h"), ("Z", "2"),
    ("G", "6"), ("g", "9"),
)

#: English sound-alike rewrites (pattern -> replacement), applied to lower-case text.
PHONETIC_RULES: tuple[tuple[str, str], ...] = (
    ("ph", "f"), ("ck", "k"), ("ey", "ie"), ("ie", "y"), ("y", "ie"), ("th", "t"),
    ("ou", "ow"), ("ll", "l"), ("nn", "n"), ("tt", "t"), ("ss", "s"), ("mac", "mc"),
    ("ae", "e"), ("ai", "ay"), ("c", "k"), ("k", "c"), ("z", "s"), ("s", "z"),
    ("ee", "ea"), ("ea", "ee"), ("an", "en"), ("son", "sen"), ("er", "a"), ("wr", "r"),
    ("v", "ph"), ("i", "y"), ("x", "cks"), ("aw", "or"), ("ch", "tch"), ("dge", "ge"),
)

#: Error kinds written to the error log, per field.
ERROR_KINDS: dict[str, tuple[str, ...]] = {
    "forename": ("alias", "typo", "ocr", "phonetic", "nickname", "swap", "missing",
                 "mohammed_full", "mohammed_calling", "mohammed_spelling",
                 "middle_as_forename", "initial", "accent_drop"),
    "surname": ("alias", "typo", "ocr", "phonetic", "swap", "hyphen_drop", "maiden",
                "missing", "singh_kaur_only", "singh_kaur_added", "begum_bibi_only",
                "begum_bibi_added", "hyphen_space", "hyphen_join", "apostrophe_drop",
                "apostrophe_space", "polish_masculine", "accent_drop"),
    "dob": ("day_month_swap", "off_by_one", "year_digit", "first_of_month", "missing"),
    "sex": ("miscoded", "missing"),
    "postcode": ("old", "typo", "missing"),
    "nino": ("not_recorded", "missing", "typo"),
    "upn": ("not_recorded", "missing", "typo"),
}

_TYPO_KINDS = ("delete", "insert", "substitute", "transpose")
_TYPO_P = np.array([0.35, 0.25, 0.25, 0.15])  # assumption, omission most common


def _match_case(template: str, ch: str) -> str:
    return ch.upper() if template.isupper() else ch


def keyboard_typo(rng: np.random.Generator, s: str) -> str:
    """One keyboard slip: delete, insert (a neighbour key), substitute (a neighbour key)
    or transpose two adjacent letters. Strings shorter than 2 characters are returned as
    they are for delete/transpose."""
    if not s:
        return s
    kind = _TYPO_KINDS[int(rng.choice(4, p=_TYPO_P))]
    i = int(rng.integers(0, len(s)))
    c = s[i]
    nb = QWERTY_NEIGHBOURS.get(c.lower(), "")
    if kind == "delete" and len(s) > 2:
        return s[:i] + s[i + 1:]
    if kind == "transpose" and len(s) > 2:
        j = min(i, len(s) - 2)
        if s[j].lower() != s[j + 1].lower():
            return s[:j] + s[j + 1] + s[j] + s[j + 2:]
    if kind == "insert" and nb:
        ins = nb[int(rng.integers(0, len(nb)))]
        return s[: i + 1] + _match_case(s[-1], ins) + s[i + 1:]
    if nb:  # substitute, and the fallback for the cases above that could not apply
        return s[:i] + _match_case(c, nb[int(rng.integers(0, len(nb)))]) + s[i + 1:]
    return s[:i] + s[i + 1:] if len(s) > 2 else s + s[-1]


def ocr_error(rng: np.random.Generator, s: str) -> str:
    """One OCR glyph confusion, if any applies (else ``s`` unchanged)."""
    hits = [(a, b) for a, b in OCR_CONFUSIONS if a in s]
    if not hits:
        return s
    a, b = hits[int(rng.integers(0, len(hits)))]
    starts = [k for k in range(len(s)) if s.startswith(a, k)]
    k = starts[int(rng.integers(0, len(starts)))]
    return s[:k] + b + s[k + len(a):]


def phonetic_variant(rng: np.random.Generator, s: str) -> str:
    """One sound-alike rewrite (e.g. Stephen -> Stefen), keeping the capitalisation style."""
    low = s.lower()
    hits = [(a, b) for a, b in PHONETIC_RULES if a in low[1:]]  # keep the first letter
    if not hits:
        return s
    a, b = hits[int(rng.integers(0, len(hits)))]
    starts = [k for k in range(1, len(low)) if low.startswith(a, k)]
    k = starts[int(rng.integers(0, len(starts)))]
    out = low[:k] + b + low[k + len(a):]
    return out.upper() if s.isupper() else out[:1].upper() + out[1:]


@functools.lru_cache(maxsize=None)
def _nicknames(name: str) -> tuple[str, ...]:
    return tuple(sorted(n.title() for n in _namer().nicknames_of(name) if n.isalpha()))


@functools.lru_cache(maxsize=1)
def _namer():  # type: ignore[no-untyped-def]
    """One shared ``nicknames.NickNamer`` (loading its table takes a moment)."""

    return NickNamer()


def nickname_of(rng: np.random.Generator, name: str) -> str | None:
    """A nickname of a formal forename (``William`` -> ``Bill``), or ``None`` if it has none."""
    opts = _nicknames(name)
    if not opts:
        return None
    return opts[int(rng.integers(0, len(opts)))]


def drop_hyphenated_part(rng: np.random.Generator, s: str) -> str:
    """Keep one part of a double-barrelled surname (``Smith-Jones`` -> ``Jones``)."""
    parts = [p for p in s.split("-") if p]
    if len(parts) < 2:
        return s
    return parts[int(rng.integers(0, len(parts)))]


_MOHAMMED = tuple(m for m, _ in MOHAMMED_SPELLINGS)
_MOHAMMED_SET = frozenset(_MOHAMMED)
_MOHAMMED_W = np.array([c for _, c in MOHAMMED_SPELLINGS], dtype=float)
_MASCULINE = {f: m for m, f in POLISH_FEMININE.items()}


def _has_mohammed(s: str) -> bool:
    return s in _MOHAMMED_SET or (" " in s and any(w in _MOHAMMED_SET for w in s.split(" ")))


def respell_mohammed(rng: np.random.Generator, s: str) -> str:
    """Another spelling of Mohammed (Mohammed, Mohammad, Muhammad), drawn with the ONS 1997
    counts of the other two, for each word of ``s`` that is one of them."""
    out = []
    for w in s.split(" "):
        if w in _MOHAMMED_SET:
            i = _MOHAMMED.index(w)
            p = _MOHAMMED_W.copy()
            p[i] = 0.0
            w = _MOHAMMED[int(rng.choice(len(p), p=p / p.sum()))]
        out.append(w)
    return " ".join(out)


def _has_feminine(s: str) -> bool:
    return s in _MASCULINE or ("-" in s and any(p in _MASCULINE for p in s.split("-")))


def masculine_form(s: str) -> str:
    """The masculine form of each Polish feminine surname part (Kowalska -> Kowalski)."""
    if s in _MASCULINE:
        return _MASCULINE[s]
    return "-".join(_MASCULINE.get(p, p) for p in s.split("-"))


def without_diacritics(s: str) -> str:
    """``s`` with its letters' diacritics removed (Zoë -> Zoe, Kozłowska -> Kozlowska)."""
    return s if s.isascii() else anyascii(s)


_PC_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def postcode_typo(rng: np.random.Generator, pc: str) -> str:
    """A slip in a postcode: a digit or letter replaced by another of the same kind, or two
    adjacent characters of the inward code transposed."""
    if len(pc) < 5:
        return pc
    if rng.random() < 0.3 and pc[-1] != pc[-2]:
        return pc[:-2] + pc[-1] + pc[-2]
    idx = [k for k, ch in enumerate(pc) if ch != " "]
    k = idx[int(rng.integers(0, len(idx)))]
    ch = pc[k]
    if ch.isdigit():
        new = str((int(ch) + int(rng.integers(1, 10))) % 10)
    else:
        pool = QWERTY_NEIGHBOURS.get(ch.lower(), "").upper() or _PC_LETTERS
        new = pool[int(rng.integers(0, len(pool)))]
    return pc[:k] + new + pc[k + 1:]


def id_typo(rng: np.random.Generator, s: str) -> str:
    """One digit of an identifier mistyped, or two adjacent digits transposed."""
    digits = [k for k, ch in enumerate(s) if ch.isdigit()]
    if not digits:
        return s
    k = digits[int(rng.integers(0, len(digits)))]
    if rng.random() < 0.3 and k + 1 < len(s) and s[k + 1].isdigit() and s[k] != s[k + 1]:
        return s[:k] + s[k + 1] + s[k] + s[k + 2:]
    new = str((int(s[k]) + int(rng.integers(1, 10))) % 10)
    return s[:k] + new + s[k + 1:]


def _mask(vals: np.ndarray, pred) -> np.ndarray:  # type: ignore[no-untyped-def]
    """``pred(v)`` for each value, evaluated once per distinct value."""
    codes, uniq = pd.factorize(vals)
    ok = np.fromiter((bool(pred(v)) for v in uniq), dtype=bool, count=len(uniq))
    return ok[codes] if len(vals) else np.zeros(0, dtype=bool)


def _apply(rng: np.random.Generator, vals: np.ndarray, mask: np.ndarray, fn) -> np.ndarray:
    """Apply ``fn(rng, v)`` to the masked values; return the mask of values that changed."""
    changed = np.zeros(len(vals), dtype=bool)
    for k in np.flatnonzero(mask):
        v = vals[k]
        new = fn(rng, v)
        if new is not None and new != v:
            vals[k] = new
            changed[k] = True
    return changed


def _dob_parts(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y, m, day


def _is_leap(y: np.ndarray) -> np.ndarray:
    return (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))


def _make_dates(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """datetime64[D] from parts, clipping the day to the month's length."""
    first = (y - 1970) * 12 + (m - 1)
    month_start = first.astype("datetime64[M]").astype("datetime64[D]")
    next_start = (first + 1).astype("datetime64[M]").astype("datetime64[D]")
    length = (next_start - month_start).astype(np.int64)
    return month_start + (np.minimum(d, length) - 1).astype("timedelta64[D]")


def corrupt(
    rng: np.random.Generator,
    rec: dict[str, np.ndarray] | pd.DataFrame,
    rates: ErrorRates,
    id_column: str,
    record_ids: np.ndarray,
    id_present: float,
) -> tuple[dict[str, np.ndarray], list[pd.DataFrame]]:
    """Apply the error model to clean per-record values.

    ``rec`` needs the true ``forename``, ``surname``, ``birth_surname``, ``dob``
    (datetime64[D]), ``sex``, ``postcode``, ``old_postcode`` and ``id_column``, and may
    have ``middle_name``, ``extra_surname`` and ``mohammed_prefix`` (a DataFrame or a dict
    of arrays; absent ones mean no middle name and no convention). Returns the observed
    values as a dict of arrays (dates as datetime64[D] with NaT for missing, strings with
    "" for missing) and the error-log parts.
    """
    n = len(np.asarray(rec["forename"]))
    opt = {"middle_name": np.full(n, "", dtype=object),
           "extra_surname": np.full(n, "", dtype=object),
           "mohammed_prefix": np.zeros(n, dtype=bool)}
    opt = {k: (np.asarray(rec[k]) if k in rec else v) for k, v in opt.items()}
    rec = {k: np.asarray(rec[k]) for k in ("forename", "surname", "birth_surname", "dob",
                                           "sex", "postcode", "old_postcode", id_column)}
    rec.update(opt)
    log: list[pd.DataFrame] = []

    def note(field: str, kind: str, mask: np.ndarray) -> None:
        if mask.any():
            log.append(pd.DataFrame({"record_id": record_ids[mask], "field": field,
                                     "error": kind}))

    fore = rec["forename"].astype(object)
    sur = rec["surname"].astype(object)

    # surname history first: maiden names
    married = (rec["birth_surname"].astype(object) != sur)
    m = married & (rng.random(n) < rates.maiden_name)
    sur[m] = rec["birth_surname"].astype(object)[m]
    note("surname", "maiden", m)
    # Singh/Kaur, Begum/Bibi instead of the family surname, or before it
    extra = rec["extra_surname"].astype(object)
    has_x = extra != ""
    sikh = has_x & ((extra == "Singh") | (extra == "Kaur"))
    u = rng.random(n)
    p_only = np.where(sikh, rates.singh_kaur_only, rates.begum_bibi_only)
    p_add = np.where(sikh, rates.singh_kaur_added, rates.begum_bibi_added)
    only = has_x & (u < p_only) & (sur != extra)
    added = has_x & (u >= p_only) & (u < p_only + p_add) & (sur != "")
    sur[only] = extra[only]
    sur[added] = extra[added] + " " + sur[added]
    for kind, m in (("singh_kaur_only", only & sikh), ("begum_bibi_only", only & ~sikh),
                    ("singh_kaur_added", added & sikh), ("begum_bibi_added", added & ~sikh)):
        note("surname", kind, m)
    # double-barrelled: one part, a space for the hyphen, or the parts run together
    dbl = _mask(sur, lambda s: "-" in s)
    u = rng.random(n)
    cut1 = rates.hyphen_drop
    cut2 = cut1 + rates.hyphen_space
    cut3 = cut2 + rates.hyphen_join
    m = dbl & (u < cut1)
    note("surname", "hyphen_drop", _apply(rng, sur, m, drop_hyphenated_part))
    for kind, lo, hi, sep in (("hyphen_space", cut1, cut2, " "), ("hyphen_join", cut2, cut3, "")):
        m = dbl & (u >= lo) & (u < hi)
        sur[m] = np.array([s.replace("-", sep) for s in sur[m]], dtype=object)
        note("surname", kind, m)
    # apostrophes: O'Brien -> OBrien or O Brien
    apo = _mask(sur, lambda s: "'" in s)
    u = rng.random(n)
    for kind, lo, hi, sep in (("apostrophe_drop", 0.0, rates.apostrophe_drop, ""),
                              ("apostrophe_space", rates.apostrophe_drop,
                               rates.apostrophe_drop + rates.apostrophe_space, " ")):
        m = apo & (u >= lo) & (u < hi)
        sur[m] = np.array([s.replace("'", sep) for s in sur[m]], dtype=object)
        note("surname", kind, m)
    # Polish women's surnames in the masculine form
    fem = _mask(sur, _has_feminine)
    m = fem & (rng.random(n) < rates.polish_masculine)
    sur[m] = np.array([masculine_form(s) for s in sur[m]], dtype=object)
    note("surname", "polish_masculine", m)

    # forename: Mohammed + calling name, middle name, nickname, spellings, initial
    mid = rec["middle_name"].astype(object)
    mpre = rec["mohammed_prefix"].astype(bool) & (mid != "")
    u = rng.random(n)
    m = mpre & (u < rates.mohammed_full)
    fore[m] = fore[m] + " " + mid[m]
    note("forename", "mohammed_full", m)
    m = mpre & (u >= rates.mohammed_full) & (u < rates.mohammed_full + rates.mohammed_calling)
    fore[m] = mid[m]
    note("forename", "mohammed_calling", m)
    m = (mid != "") & ~mpre & (rng.random(n) < rates.middle_as_forename) & (mid != fore)
    fore[m] = mid[m]
    note("forename", "middle_as_forename", m)
    m = rng.random(n) < rates.nickname
    note("forename", "nickname", _apply(rng, fore, m, nickname_of))
    has_m = _mask(fore, _has_mohammed)
    m = has_m & (rng.random(n) < rates.mohammed_spelling)
    note("forename", "mohammed_spelling", _apply(rng, fore, m, respell_mohammed))
    # diacritics lost (per name field whose value has one)
    for field, arr in (("forename", fore), ("surname", sur)):
        acc = _mask(arr, lambda s: not s.isascii())
        m = acc & (rng.random(n) < rates.accent_drop)
        arr[m] = np.array([without_diacritics(s) for s in arr[m]], dtype=object)
        note(field, "accent_drop", m)
    initial = (fore != "") & (rng.random(n) < rates.forename_initial)
    fore[initial] = np.array([s[0] for s in fore[initial]], dtype=object)
    note("forename", "initial", initial)
    # spelling errors (not on a forename recorded as an initial)
    none = np.zeros(n, dtype=bool)
    for field, arr, typo_rate, skip in (("forename", fore, rates.forename_typo, initial),
                                        ("surname", sur, rates.surname_typo, none)):
        note(field, "phonetic", _apply(rng, arr, (rng.random(n) < rates.phonetic) & ~skip,
                                       phonetic_variant))
        note(field, "typo", _apply(rng, arr, (rng.random(n) < typo_rate) & ~skip,
                                   keyboard_typo))
        note(field, "ocr", _apply(rng, arr, (rng.random(n) < rates.ocr) & ~skip, ocr_error))
    m = rng.random(n) < rates.name_swap
    fore[m], sur[m] = sur[m], fore[m].copy()
    note("forename", "swap", m)
    note("surname", "swap", m)
    m = rng.random(n) < rates.forename_missing
    fore[m] = ""
    note("forename", "missing", m)
    m = rng.random(n) < rates.surname_missing
    sur[m] = ""
    note("surname", "missing", m)

    # date of birth: at most one error per record
    dob = rec["dob"].astype("datetime64[D]")
    y, mo, d = _dob_parts(dob)
    u = rng.random(n)
    free = np.ones(n, dtype=bool)
    m = (d <= 12) & (d != mo) & (u < rates.dob_day_month_swap)
    dob[m] = _make_dates(y[m], d[m], mo[m])
    note("dob", "day_month_swap", m)
    free &= ~m
    u = rng.random(n)
    m = free & (u < rates.dob_off_by_one)
    dob[m] = dob[m] + np.where(rng.random(int(m.sum())) < 0.5, -1, 1).astype("timedelta64[D]")
    note("dob", "off_by_one", m)
    free &= ~m
    u = rng.random(n)
    m = free & (u < rates.dob_year_digit)
    k = int(m.sum())
    if k:
        yy = y[m].copy()
        last = yy % 10
        tens = (yy // 10) % 10
        which = rng.random(k) < 0.7  # assumption: last digit more often than the tens
        step = rng.integers(1, 10, k)
        leap_day = (mo[m] == 2) & (d[m] == 29)
        for _ in range(200):
            new_last = np.where(which, (last + step) % 10, last)
            new_tens = np.where(which, tens, (tens + step) % 10)
            new_y = yy - last - 10 * tens + new_last + 10 * new_tens
            # 29 February needs a leap year (a mistyped year that makes the date invalid
            # would be rejected on entry, and clipping to the 28th would change two parts)
            bad = leap_day & ~_is_leap(new_y)
            if not bad.any():
                break
            step[bad] = rng.integers(1, 10, int(bad.sum()))
        else:  # pragma: no cover - every decade has another leap year
            raise AssertionError("no leap year found for a 29 February year typo")
        dob[m] = _make_dates(new_y, mo[m], d[m])
    note("dob", "year_digit", m)
    free &= ~m
    u = rng.random(n)
    m = free & (d != 1) & (u < rates.dob_first_of_month)
    dob[m] = dob[m].astype("datetime64[M]").astype("datetime64[D]")
    note("dob", "first_of_month", m)
    free &= ~m
    m = free & (rng.random(n) < rates.dob_missing)
    dob[m] = np.datetime64("NaT")
    note("dob", "missing", m)

    # sex
    sex = rec["sex"].astype(object)
    m = rng.random(n) < rates.sex_miscoded
    sex[m] = np.where(sex[m] == "M", "F", "M")
    note("sex", "miscoded", m)
    m = rng.random(n) < rates.sex_missing
    sex[m] = ""
    note("sex", "missing", m)

    # postcode
    pc = rec["postcode"].astype(object)
    old = rec["old_postcode"].astype(object)
    m = (old != "") & (rng.random(n) < rates.old_postcode)
    pc[m] = old[m]
    note("postcode", "old", m)
    note("postcode", "typo", _apply(rng, pc, rng.random(n) < rates.postcode_typo,
                                    postcode_typo))
    m = rng.random(n) < rates.postcode_missing
    pc[m] = ""
    note("postcode", "missing", m)

    # NINO / UPN
    ident = rec[id_column].astype(object)
    has = ident != ""
    m = has & (rng.random(n) >= id_present)
    ident[m] = ""
    note(id_column, "not_recorded", m)
    has &= ~m
    m = has & (rng.random(n) < rates.id_missing)
    ident[m] = ""
    note(id_column, "missing", m)
    has &= ~m
    note(id_column, "typo", _apply(rng, ident, has & (rng.random(n) < rates.id_typo), id_typo))

    out = {"forename": fore, "surname": sur, "dob": dob, "sex": sex, "postcode": pc,
           id_column: ident}
    return out, log

"""Loaders for the frequency tables shipped in ``nislink/synth/data``.

Every table is read from the package, never from the network. Where a published figure was
not available, the loader *models* it, and the model is named in the returned tables
(column ``basis``) and in ``docs/synth.md``:

* forenames, birth cohorts before 1997: ONS historic top-100 *ranks*; the share of rank r is
  taken from the real ONS 1997 England share of rank r (``basis = "rank_1997_curve"``);
* forenames, 1997-2000 cohorts: real ONS 1997 England counts (``basis = "ons_count"``);
* forenames, 2001-2010 and 2011+ cohorts: ONS regional top-10 counts for 2006 and 2016,
  summed over the nine English regions (``basis = "ons_region_sum"``, a lower bound for a
  name that is not in every region's top ten);
* the remaining share of each cohort (names outside the published list) is spread over
  names from the other cohorts' lists with a Zipf tail (``basis = "zipf_tail"``);
* surnames: 1996 electoral-register shares for the top 21, 1838 registration counts
  rescaled for ranks below that, Patel from the 1998 figure, and a capped Zipf tail of
  common unlisted and synthetic English place-name surnames for the remaining ~85%
  (``basis = "zipf_tail_synthetic"``).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = [
    "COHORTS",
    "NameTable",
    "cohort_of_year",
    "forename_table",
    "surname_table",
    "la_outward_codes",
    "OutwardTable",
    "SIKH_SURNAMES",
    "MUSLIM_SOUTH_ASIAN_SURNAMES",
    "EXTRA_SURNAMES",
    "MOHAMMED_SPELLINGS",
    "CALLING_NAMES",
    "ACCENTED_FORENAMES",
    "POLISH_FEMININE",
]

#: Birth cohorts used for forenames: (label, first birth year, last birth year, source year).
COHORTS: tuple[tuple[str, int, int, int], ...] = (
    ("pre1970", 1900, 1969, 1964),
    ("1970s", 1970, 1979, 1974),
    ("1980s", 1980, 1989, 1984),
    ("1990-96", 1990, 1996, 1994),
    ("1997-2000", 1997, 2000, 1997),
    ("2001-10", 2001, 2010, 2006),
    ("2011+", 2011, 2100, 2016),
)

#: Tail names come from lists at most this many years from the cohort's source year.
_TAIL_WINDOW_YEARS = 30
#: ONS sex ratio at birth, used only to estimate four missing 2016 regional boys' totals.
_SEX_RATIO_AT_BIRTH = 1.05


def _read(name: str) -> list[dict[str, str]]:
    with resources.files("nislink.synth").joinpath("data").joinpath(name).open(
        "r", encoding="utf-8", newline=""
    ) as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class NameTable:
    """Names with sampling probabilities (summing to 1) and the basis of each figure."""

    names: tuple[str, ...]
    probs: np.ndarray
    basis: tuple[str, ...]

    def share(self, name: str) -> float:
        """Probability of ``name`` in this table (0 when absent)."""
        try:
            return float(self.probs[self.names.index(name)])
        except ValueError:
            return 0.0


def cohort_of_year(years: np.ndarray) -> np.ndarray:
    """Index into :data:`COHORTS` for each birth year."""
    edges = np.array([c[2] for c in COHORTS[:-1]])
    return np.searchsorted(edges, np.asarray(years), side="right").astype(np.int8)


@functools.cache
def _rank_share_curve_1997(sex: str) -> np.ndarray:
    """Real ONS 1997 England share of the name at each rank 1..100 (of all births)."""
    rows = [r for r in _read("forenames_ons_england_1997_top100.csv") if r["sex"] == sex]
    counts = np.array([int(r["count"]) for r in rows], dtype=float)
    return counts / _births(1997, sex)


@functools.cache
def _births(year: int, sex: str) -> float:
    """Total births in England for a year and sex, from the ONS regional totals."""
    rows = _read("forenames_ons_regions_top10.csv")
    tot = {
        (r["region"], r["sex"]): float(r["count"])
        for r in rows
        if int(r["year"]) == year and r["rank"] == "0"
    }
    total = 0.0
    for reg in ("NE", "NW", "YH", "EM", "WM", "EE", "LN", "SE", "SW"):
        if (reg, sex) in tot:
            total += tot[(reg, sex)]
        else:  # 2016 boys' totals missing for four regions in the transcribed table
            other = "F" if sex == "M" else "M"
            ratio = _SEX_RATIO_AT_BIRTH if sex == "M" else 1 / _SEX_RATIO_AT_BIRTH
            total += tot[(reg, other)] * ratio
    return total


@functools.cache
def _head(source_year: int, sex: str) -> tuple[tuple[str, ...], np.ndarray, str]:
    """Published names and their shares of all births for one cohort's source year."""
    if source_year == 1997:
        rows = [r for r in _read("forenames_ons_england_1997_top100.csv") if r["sex"] == sex]
        return tuple(r["name"] for r in rows), _rank_share_curve_1997(sex), "ons_count"
    if source_year in (2006, 2016):
        sums: dict[str, float] = {}
        for r in _read("forenames_ons_regions_top10.csv"):
            if int(r["year"]) == source_year and r["sex"] == sex and r["rank"] != "0":
                sums[r["name"]] = sums.get(r["name"], 0.0) + float(r["count"])
        items = sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))
        shares = np.array([v for _, v in items]) / _births(source_year, sex)
        return tuple(k for k, _ in items), shares, "ons_region_sum"
    rows = [
        r
        for r in _read("forenames_ons_historic_top100.csv")
        if int(r["year"]) == source_year and r["sex"] == sex
    ]
    rows.sort(key=lambda r: int(r["rank"]))
    curve = _rank_share_curve_1997(sex)
    return tuple(r["name"] for r in rows), curve[: len(rows)].copy(), "rank_1997_curve"


@functools.cache
def _name_ranks(sex: str) -> tuple[tuple[str, int, int], ...]:
    """(name, source year, rank) for every shipped forename row of one sex."""
    out: list[tuple[str, int, int]] = []
    for fname in ("forenames_ons_historic_top100.csv", "forenames_ons_england_1997_top100.csv",
                  "forenames_ons_regions_top10.csv"):
        for r in _read(fname):
            if r["sex"] == sex and r["rank"] != "0":
                out.append((r["name"], int(r["year"]), int(r["rank"])))
    return tuple(out)


def _tail_order(sex: str, source_year: int, exclude: set[str]) -> list[str]:
    """Shipped names not in a cohort's list (from lists within 30 years), closest in
    time and rank first."""
    key: dict[str, int] = {}
    for name, year, rank in _name_ranks(sex):
        if name in exclude or abs(year - source_year) > _TAIL_WINDOW_YEARS:
            continue
        k = 2 * abs(year - source_year) + rank
        key[name] = min(key.get(name, 10**6), k)
    return sorted(key, key=lambda n: (key[n], n))


def _capped_zipf(n: int, mass: float, cap: float) -> np.ndarray:
    """n weights summing to ``mass``, each at most ``cap`` where possible, Zipf-shaped."""
    j = np.arange(1, n + 1, dtype=float)
    if cap * n <= mass:  # not enough names to stay under the cap: uniform
        return np.full(n, mass / n)
    lo, hi = 0.0, 8.0
    for _ in range(60):  # bisection on the exponent: sum(cap * j**-s) == mass
        mid = (lo + hi) / 2
        if (cap * j**-mid).sum() > mass:
            lo = mid
        else:
            hi = mid
    w = cap * j**-hi
    return w * (mass / w.sum())


@functools.cache
def forename_table(cohort: int, sex: str) -> NameTable:
    """Forename distribution for a birth cohort (index into :data:`COHORTS`) and sex.

    Published names keep their published (or rank-modelled) share; the remaining share is
    spread over the other shipped names (closest in time and rank first) with a Zipf tail
    capped at the share of the cohort's 10th name (its 5th for the short regional
    lists), so that no modelled name outranks a published top-ten name.
    """
    if sex not in ("M", "F"):
        raise ValueError(f"sex must be 'M' or 'F', got {sex!r}")
    src_year = COHORTS[cohort][3]
    names, shares, basis = _head(src_year, sex)
    head_mass = float(shares.sum())
    if not 0 < head_mass < 1:
        raise AssertionError(f"head mass {head_mass} out of range for cohort {cohort}")
    tail = _tail_order(sex, src_year, set(names))
    ordered = np.sort(shares)[::-1]
    # full top-100 lists: no modelled name may outrank the published top ten; short
    # (regional top-ten) lists: no modelled name may outrank the published top five
    cap = float(ordered[9] if len(ordered) >= 100 else ordered[min(4, len(ordered) - 1)])
    tail_probs = _capped_zipf(len(tail), 1 - head_mass, cap)
    probs = np.concatenate([shares, tail_probs])
    probs = probs / probs.sum()
    return NameTable(
        tuple(names) + tuple(tail), probs, (basis,) * len(names) + ("zipf_tail",) * len(tail)
    )


# Synthetic tail surnames: English place-name elements (facts about word formation, not a
# frequency source); frequencies are a modelled Zipf tail.
_PREFIXES = (
    "Ash Bar Black Brad Bram Brook Bur Cal Chat Clay Clif Cob Cold Cran Dal Dun Eas Ed Elm "
    "Fair Farn Fen Gold Gras Green Hal Ham Hart Hat Haw Hay Hed Hol Holm Hud Hunt Kent King "
    "Kirk Lang Lid Lin Lock Mar Mid Mil Mor Nor New Oak Ox Pad Pem Ped Red Ring Rush Sal Sand "
    "Shel Stan Stock Sud Sum Thorn Tol War Wat West Whit Wil Win Wor Yar Ather Bel Bing Bot "
    "Cres Dray Ald Alder Alf Als Ap Arn Ayles Bam Bas Beck Bed Bent Berk Bever Bick Bil Birch "
    "Bis Blen Bol Bourn Brack Bran Bren Brid Brim Brom Buck Bud Bux Can Car Cas Chal Cher Ches "
    "Chip Clap Clee Cot Cow Crom Crook Cul Dar Den Dor Down Dray Drif Dud Eg Ell Elles Ep Ever "
    "Fal Far Fel Fins Fish Flam Ford Fox Frod Gain Gar Glad Glan Glos Good Gos Grims Hack Had "
    "Hamp Har Has Hath Hav Hea Hen Her Hex Hig Hin Hock Hor Hos Hut Ick Il Ink Kel Ken Kes Kil "
    "Kim Knap Lam Lan Lax Lea Led Leigh Let Lev Lind Lit Long Lud Lym Mal Man Marl Mel Men Mer "
    "Mount Nab Nash Net Nut Ock Old Orm Ot Par Pen Pick Pil Plum Pon Pres Pud Pur Quen Rad Ram "
    "Rav Ray Rid Rip Rock Rom Ros Row Roy Rud Ryd Sax Scar Sed Sef Sher Ship Sil Skel Slad "
    "Sned Sol Spal Spen Stal Stam Stap Stew Stour Stow Strat Sun Sut Swin Tad Tam Tar Ted Ten "
    "Tet Tew Thack Thor Tid Tim Tin Tod Tot Tun Ul Up Ux Wad Wal Wap Wed Wel Wem Wen Wes Wey "
    "Whal Wheat Wick Wig Wim Wit Wood Wool Wyc Yard Yeo"
).split()
_SUFFIXES = (
    "ley ton field wood worth by ham well ford more shaw dale bury croft hurst wick stone "
    "brook land don combe thorpe cliffe gate ridge low stead hill ington well mere "
    "holme bridge cott marsh den ster borough wright man ing cock kins lock"
).split()
#: Surnames common in present-day England that are missing from the shipped counted list;
#: they join the modelled tail (no frequency source; see docs).
#: Singh, Kaur and Begum are not in it: they are not family surnames passed from father to
#: children, and come from the naming conventions below (``EXTRA_SURNAMES``); their places
#: in the order went to Dhillon, Miah and Sidhu.
_EXTRA_TAIL = (
    "Khan Dhillon Ali Hussain Miah Ahmed Sidhu Shah Akhtar Mahmood Rahman Islam Iqbal Malik "
    "Chaudhry Sharma Kumar Das Gill Sandhu Mistry Chauhan Nguyen Chen Zhang Wang Li Liu Wong "
    "Kowalski Nowak Wiśniewski Murphy Kelly Campbell Stewart Scott Young Mitchell Bell "
    "Anderson Murray Reid Kennedy Okafor Adeyemi Mensah Osei Ibrahim Mohamed Abdi Yilmaz "
    "Bailey Collins Cox Richards Marshall Simpson Ellis Adams Wilkinson Foster Chapman "
    "Powell Webb Rogers Gray Mason Hunt Matthews Owen Palmer Holmes Mills Barnes Knight "
    "Lloyd Butler Russell Barker Fisher Stevens Jenkins Dixon Harvey Fletcher Fox Rose "
    "Grewal Dhaliwal Johal Bains Sangha Atwal Sahota Bhamra Virdi Kang Hayer "
    "Uddin Choudhury Butt Qureshi Rashid "
    "Wójcik Kamiński Lewandowski Zieliński Szymański Woźniak Dąbrowski Kozłowski Mazur "
    "Kwiatkowski Krawczyk Jankowski Wysocki Zawadzki "
    "O'Brien O'Neill O'Connor O'Sullivan O'Reilly O'Donnell O'Leary O'Hara O'Connell D'Souza"
).split()

# --- naming conventions (see docs/synth.md, "Naming conventions") -------------------------
# Lists of names are facts about naming, not frequency sources; every share that uses them
# is an assumption stated in PopulationConfig and the docs.

#: Punjabi surnames borne mostly by Sikh families (clan names). Gill is left out: it is also
#: a common English, Scottish and Irish surname.
SIKH_SURNAMES: tuple[str, ...] = (
    "Sandhu", "Dhillon", "Sidhu", "Grewal", "Dhaliwal", "Johal", "Bains", "Sangha", "Atwal",
    "Sahota", "Bhamra", "Virdi", "Kang", "Hayer",
)
#: Surnames of Muslim families of Pakistani, Bangladeshi or Indian origin. Shah is left out
#: (also a Gujarati Hindu and Jain surname); Mohamed, Ibrahim and Abdi (mostly Somali and
#: Arab families in England) are left out because Begum/Bibi is a South Asian usage.
MUSLIM_SOUTH_ASIAN_SURNAMES: tuple[str, ...] = (
    "Khan", "Ali", "Hussain", "Ahmed", "Akhtar", "Mahmood", "Rahman", "Islam", "Iqbal",
    "Malik", "Chaudhry", "Miah", "Uddin", "Choudhury", "Butt", "Qureshi", "Rashid",
)
#: Names that records give as a surname instead of, or with, the family surname: Sikh men's
#: and women's names, and the women's honorifics Begum and Bibi.
EXTRA_SURNAMES: tuple[str, ...] = ("Singh", "Kaur", "Begum", "Bibi")
#: Spellings of Mohammed with their ONS 1997 England boys' counts (all three are in the
#: shipped 1997 top 100): the weights for the spelling of a "Mohammed + calling name".
MOHAMMED_SPELLINGS: tuple[tuple[str, int], ...] = (
    ("Mohammed", 2348), ("Mohammad", 645), ("Muhammad", 541),
)
#: Calling names of men named Mohammed + calling name (common Muslim men's names in
#: England; drawn uniformly, no frequency source).
CALLING_NAMES: tuple[str, ...] = (
    "Ali", "Imran", "Tariq", "Asif", "Bilal", "Hamza", "Usman", "Adnan", "Kamran", "Shahid",
    "Khalid", "Arif", "Rizwan", "Nadeem", "Faisal", "Yasir", "Irfan", "Sajid", "Zahid",
    "Javed", "Naveed", "Amir", "Ibrahim", "Yusuf", "Idris", "Zain", "Rayyan", "Ayaan",
    "Haris", "Saqib",
)
#: Forenames of the shipped lists that are also spelled with a diacritic (the only four such
#: names in the lists; José, Renée, Siobhán and the like are not in them).
ACCENTED_FORENAMES: dict[str, str] = {"Zoe": "Zoë", "Sian": "Siân", "Chloe": "Chloé",
                                      "Sean": "Seán"}
#: Polish surnames with a feminine form (masculine -> feminine: -ski/-cki/-dzki -> -a).
POLISH_FEMININE: dict[str, str] = {
    m: m[:-1] + "a"
    for m in ("Kowalski", "Wiśniewski", "Kamiński", "Lewandowski", "Zieliński", "Szymański",
              "Dąbrowski", "Kozłowski", "Kwiatkowski", "Jankowski", "Wysocki", "Zawadzki")
}


@functools.cache
def surname_table(tail_size: int = 12000) -> NameTable:
    """Surname distribution: shipped counted head plus a modelled Zipf tail."""
    rows = _read("surnames_gb.csv")
    names = [r["name"] for r in rows]
    shares = np.array([float(r["share_percent"]) / 100 for r in rows])
    basis = [r["source"] for r in rows]
    seen = set(names)
    tail: list[str] = []
    for n in _EXTRA_TAIL:
        if n not in seen:
            tail.append(n)
            seen.add(n)
    for s in _SUFFIXES:
        for p in _PREFIXES:
            cand = (p + s).title()
            if p.endswith(s[0]) and len(s) > 1:
                cand = (p + s[1:]).title()
            if cand not in seen:
                tail.append(cand)
                seen.add(cand)
    # the real unlisted names take the upper part of the tail; compounds follow in a fixed
    # pseudo-random order, so that no suffix is systematically commoner than another
    n_real = sum(1 for n in tail if n in set(_EXTRA_TAIL))
    compounds = tail[n_real:]
    order = np.random.default_rng(20240331).permutation(len(compounds))
    tail = (tail[:n_real] + [compounds[i] for i in order])[:tail_size]
    head_mass = float(shares.sum())
    # Zipf-shaped tail capped at the smallest counted share, so no modelled surname
    # outranks a counted one
    tail_probs = _capped_zipf(len(tail), 1 - head_mass, float(shares.min()))
    probs = np.concatenate([shares, tail_probs])
    return NameTable(
        tuple(names) + tuple(tail),
        probs / probs.sum(),
        tuple(basis) + ("zipf_tail_synthetic",) * len(tail),
    )


@dataclass(frozen=True)
class OutwardTable:
    """Real outward codes (postcode districts) of English local authorities."""

    outward: tuple[str, ...]
    la_code: np.ndarray  # DfE LA number (3 digits) per outward code
    la_codes: tuple[int, ...]
    la_names: tuple[str, ...]


@functools.cache
def la_outward_codes() -> OutwardTable:
    """The shipped outward codes and the DfE local authority each belongs to."""
    outs: list[str] = []
    las: list[int] = []
    seen: set[str] = set()
    la_codes: list[int] = []
    la_names: list[str] = []
    for r in _read("la_outward_codes.csv"):
        code = int(r["la_code"])
        la_codes.append(code)
        la_names.append(r["la_name"])
        for oc in r["outward_codes"].split():
            if oc in seen:  # a district split between LAs: keep its first LA
                continue
            seen.add(oc)
            outs.append(oc)
            las.append(code)
    return OutwardTable(tuple(outs), np.array(las, dtype=np.int16), tuple(la_codes),
                        tuple(la_names))

"""benchmarks/independent_data.py: the hold-out generator that is not nislink.synth.

Checks determinism, sizes, the truth, and that every stated convention and error shows up in
the files themselves (not only in the generator's own log).
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import re
import sys
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "independent_data.py"


def _load():  # type: ignore[no-untyped-def]
    name = "independent_data_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look the module up while it loads
    spec.loader.exec_module(module)
    return module


ind = _load()


@pytest.fixture(scope="module")
def dwp():  # type: ignore[no-untyped-def]
    return ind.generate("la_dwp", seed=5, scale=0.2)


@pytest.fixture(scope="module")
def moj():  # type: ignore[no-untyped-def]
    return ind.generate("la_moj", seed=5, scale=0.5)


def _pairs(s, kind_b: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    ca, cb = ind.COLUMNS["la"], ind.COLUMNS[kind_b]
    a = s.a.rename(columns={v: k + "_a" for k, v in ca.items()})
    b = s.b.rename(columns={v: k + "_b" for k, v in cb.items()})
    return s.truth.merge(a, left_on="id_a", right_on="id_a").merge(b, left_on="id_b",
                                                                    right_on="id_b")


def _norm(x: pd.Series) -> pd.Series:
    return x.str.strip().str.lower()


def _fold(s: str) -> str:
    s = s.replace("Ł", "L").replace("ł", "l")
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def _date(s: str, kind: str) -> dt.date | None:
    if not s:
        return None
    fmt = {"la": "%Y-%m-%d", "dwp": "%d/%m/%Y", "moj": "%d-%b-%Y"}[kind]
    return dt.datetime.strptime(s.title() if kind == "moj" else s, fmt).date()


def test_does_not_import_nislink() -> None:
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    mods = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    mods += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in mods if m.split(".")[0] == "nislink"]


def test_deterministic_for_a_seed() -> None:
    a1, b1, t1 = ind.make_scenario("la_dwp", 3, 0.02)
    a2, b2, t2 = ind.make_scenario("la_dwp", 3, 0.02)
    pd.testing.assert_frame_equal(a1, a2)
    pd.testing.assert_frame_equal(b1, b2)
    pd.testing.assert_frame_equal(t1, t2)
    a3, _, _ = ind.make_scenario("la_dwp", 4, 0.02)
    assert not a1.equals(a3)


@pytest.mark.parametrize("name,n_a,n_b", [("la_dwp", 2500, 3000), ("la_moj", 1000, 400)])
def test_sizes_columns_and_truth(name: str, n_a: int, n_b: int) -> None:
    a, b, truth = ind.make_scenario(name, 11, 0.05)
    kind_b = "dwp" if name == "la_dwp" else "moj"
    assert (len(a), len(b)) == (n_a, n_b)
    assert list(a.columns) == list(ind.COLUMNS["la"].values())
    assert list(b.columns) == list(ind.COLUMNS[kind_b].values())
    assert list(truth.columns) == ["id_a", "id_b"]
    ida, idb = ind.COLUMNS["la"]["id"], ind.COLUMNS[kind_b]["id"]
    assert a[ida].is_unique and b[idb].is_unique
    assert truth["id_a"].isin(a[ida]).all() and truth["id_b"].isin(b[idb]).all()
    assert truth["id_a"].is_unique and truth["id_b"].is_unique  # one-to-one
    if name == "la_dwp":
        assert 0.70 <= len(truth) / n_a <= 0.82
    else:
        assert len(truth) == 220


def test_cli_writes_the_files(tmp_path: Path) -> None:
    assert ind.main(["--scenario", "la_moj", "--seed", "2", "--scale", "0.02",
                     "--out", str(tmp_path)]) == 0
    for f in ("a.csv", "b.csv", "truth.csv", "README.txt"):
        assert (tmp_path / f).stat().st_size > 0
    readme = (tmp_path / "README.txt").read_text(encoding="utf-8")
    assert "given_name" in readme and "alias" in readme and "dob_swap" in readme
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str)
    b = pd.read_csv(tmp_path / "b.csv", dtype=str)
    assert truth["id_b"].isin(b["pnc_ref"]).all()


def test_population_shares_and_ages(dwp) -> None:  # type: ignore[no-untyped-def]
    groups = dwp.info["groups_a"]
    n = sum(groups.values())
    for g, share in ind.GROUP_SHARES.items():
        # whole households are drawn, so counts cluster: a generous tolerance
        assert abs(groups.get(g, 0) / n - share) < max(0.4 * share, 0.004), g
    years = pd.to_numeric(dwp.a["date_of_birth"].str[:4], errors="coerce").dropna()
    ages = ind.REFERENCE_DATE.year - years
    assert ages.min() <= 1 and ages.max() >= 90
    assert dwp.a["ni_no"].str.len().gt(0).any() and dwp.b["nino"].str.len().gt(0).mean() > 0.6


def test_every_stated_phenomenon_is_logged(dwp, moj) -> None:  # type: ignore[no-untyped-def]
    kinds = set(dwp.log["kind"]) | set(moj.log["kind"])
    expected = {
        "maiden", "mohammed_form", "mohammed_spelling", "known_by_middle",
        "middle_as_forename", "full_given", "sikh_form", "begum_form", "english_name",
        "gujarati_suffix", "short_form", "translit", "polish_form", "dbl_partial",
        "dbl_nohyphen", "apostrophe_dropped", "apostrophe_space", "accent_stripped", "swap",
        "initial", "typo", "missing", "whitespace", "day_month_swap", "off_by_one_day",
        "off_by_one_year", "digit_typo", "day_unknown_first", "miscoded", "moved", "twin",
        "junior", "namesake", "alias_surname", "alias_forename", "alias_spelling",
        "alias_middle",
    }
    assert expected <= kinds, sorted(expected - kinds)
    assert not set(dwp.log["kind"]) & {"alias_surname", "alias_forename"}  # MoJ only


def test_rates_are_near_the_stated_ones(dwp) -> None:  # type: ignore[no-untyped-def]
    log = dwp.log
    n_a = len(dwp.a)
    for kind, rate in (("typo", ind.PROFILES["la"]["forename_typo"]),):
        k = ((log["file"] == "a") & (log["field"] == "forename") & (log["kind"] == kind)).sum()
        assert 0.6 * rate * n_a <= k <= 1.4 * rate * n_a
    moved = ((log["file"] == "b") & (log["kind"] == "moved")).sum() / len(dwp.truth)
    assert 0.07 <= moved <= 0.13
    pc_missing = (dwp.a["postcode"] == "").mean()
    assert 0.01 <= pc_missing <= 0.03


def test_names_in_the_files(dwp, moj) -> None:  # type: ignore[no-untyped-def]
    p = _pairs(dwp, "dwp")
    fa, fb = _norm(p["first_a"]), _norm(p["first_b"])
    sa, sb = _norm(p["last_a"]), _norm(p["last_b"])
    # Singh/Kaur and Begum/Bibi/Khatun instead of, or as well as, the family surname
    rel = r"\b(?:singh|kaur)\b"
    assert (sa.str.contains(rel) & ~sb.str.contains(rel)).any() or \
        (sb.str.contains(rel) & ~sa.str.contains(rel)).any()
    hon = r"\b(?:begum|bibi|khatun)\b"
    assert ((sa.str.contains(hon) | fa.str.contains(hon)) & (sa != sb)).any()
    # "Mohammed X" written in different orders or spellings
    moh = r"\b(?:mohammed|muhammad|mohammad|mohamed|mohd|md)\b"
    assert (fa.str.contains(moh) & ~fb.str.contains(moh)).any()
    assert (fa.str.count(" ").gt(0) & fa.str.contains(moh)).any()
    # accents in the LA file, none in the DWP file; apostrophes kept in one, not the other
    assert dwp.a["first_name"].str.contains("[ëâéáóíú]").any()
    assert not dwp.b["forename"].map(lambda s: s.isascii()).eq(False).any()
    assert (p["last_a"].str.contains("'") & ~p["last_b"].str.contains("'")).any()
    apos = p["last_a"].str.contains("'")
    assert (apos & (p["last_b"] == p["last_a"].str.replace("'", "").str.upper())).any()
    # double-barrelled surnames recorded in part or without the hyphen
    dbl = p["last_a"].str.contains("-")
    assert (dbl & ~p["last_b"].str.contains("-")).any()
    # Polish women: -ska in one record, the masculine -ski in another
    assert sa.str.endswith(("ska", "cka")).any() and sb.str.endswith(("ska", "cka")).any()
    n_masc = 0
    for s, kind_b in ((dwp, "dwp"), (moj, "moj")):
        for f, frame, kind in (("a", s.a, "la"), ("b", s.b, kind_b)):
            c = ind.COLUMNS[kind]
            ids = s.log.loc[(s.log["file"] == f) & (s.log["kind"] == "polish_form"),
                            "record_id"]
            rows = frame[frame[c["id"]].isin(ids)]
            n_masc += rows[c["last"]].str.lower().str.contains("ski|cki").sum()
    assert n_masc >= 2
    # short forms (Liz/Elizabeth, Kate, Bill, ...)
    short = {k.lower(): {v.lower() for v in vs} for k, vs in ind.SHORT_FORMS.items()}
    assert any(b in short.get(a, ()) or a in short.get(b, ()) for a, b in zip(fa, fb))
    # forename and surname swapped; initials; maiden/married surnames
    assert ((fa == sb) & (sa == fb) & (fa != sa)).any()
    assert (fa.str.len().le(2) | fb.str.len().le(2)).any()
    assert ((sa != sb) & (fa == fb) & p["sex_a"].eq("F")).sum() > 20
    # case and whitespace
    assert dwp.a["last_name"].str.isupper().any() and dwp.a["last_name"].str.istitle().any()
    assert dwp.b["surname"].str.isupper().mean() > 0.9
    assert (dwp.a["first_name"] != dwp.a["first_name"].str.strip()).any()
    assert (dwp.a["first_name"] == "").any() and (dwp.a["date_of_birth"] == "").any()
    # MoJ aliases: another forename and another surname for the same person
    q = _pairs(moj, "moj")
    qa, qb = q["first_a"].map(_fold).str.lower().str.strip(), \
        q["first_b"].map(_fold).str.lower().str.strip()
    ra, rb = q["last_a"].map(_fold).str.lower().str.strip(), \
        q["last_b"].map(_fold).str.lower().str.strip()
    assert ((qa != qb) & (ra == rb)).mean() > 0.05
    assert ((qa == qb) & (ra != rb)).mean() > 0.05


def test_families_and_namesakes(dwp) -> None:  # type: ignore[no-untyped-def]
    a = dwp.a.assign(f=_norm(dwp.a["first_name"]), l=_norm(dwp.a["last_name"]),
                     pc=dwp.a["postcode"].str.upper().str.replace(" ", ""))
    # twins: same surname, date of birth and postcode, different forenames
    tw = a[a["date_of_birth"] != ""].groupby(["l", "date_of_birth", "pc"])["f"].nunique()
    assert (tw >= 2).sum() >= 5
    # households: several people share a surname and a postcode
    assert (a.groupby(["l", "pc"]).size() >= 3).sum() > 100
    # "junior": same forename and surname at one postcode, born 16+ years apart
    y = pd.to_numeric(a["date_of_birth"].str[:4], errors="coerce")
    g = a.assign(y=y).dropna(subset=["y"]).groupby(["f", "l", "pc"])["y"]
    assert ((g.max() - g.min()) >= 16).sum() >= 3
    # same-name strangers in the DWP file: the same name as a linked LA person, not linked
    b = dwp.b.assign(f=_norm(dwp.b["forename"]), l=_norm(dwp.b["surname"]))
    linked_b = set(dwp.truth["id_b"])
    strangers = b[~b["dwp_id"].isin(linked_b)].merge(a, on=["f", "l"])
    assert len(strangers) > 100
    assert strangers["l"].isin(["smith", "patel", "khan", "begum", "jones"]).any()


def test_dates_and_postcodes_in_the_files(dwp, moj) -> None:  # type: ignore[no-untyped-def]
    assert dwp.a["date_of_birth"].str.fullmatch(r"(\d{4}-\d\d-\d\d)?").all()
    assert dwp.b["dob"].str.fullmatch(r"(\d\d/\d\d/\d{4})?").all()
    assert moj.b["birth_date"].str.fullmatch(r"(\d\d-[A-Z]{3}-\d{4})?").all()
    p = _pairs(dwp, "dwp")
    da = [_date(s, "la") for s in p["dob_a"]]
    db = [_date(s, "dwp") for s in p["dob_b"]]
    kinds = set()
    for x, y in zip(da, db):
        if x is None or y is None:
            kinds.add("missing")
            continue
        if x == y:
            continue
        if (x.day, x.month) == (y.month, y.day):
            kinds.add("swap")
        elif abs((x - y).days) == 1:
            kinds.add("day")
        elif abs(x.year - y.year) == 1 and (x.month, x.day) == (y.month, y.day):
            kinds.add("year")
        elif x.day == 1 or y.day == 1:
            kinds.add("first")
        elif sum(c != d for c, d in zip(x.isoformat(), y.isoformat())) == 1:
            kinds.add("digit")
    assert kinds >= {"missing", "swap", "day", "year", "first", "digit"}, kinds
    pca = p["postcode_a"].str.upper().str.replace(" ", "")
    pcb = p["postcode_b"].str.upper().str.replace(" ", "")
    both = (pca != "") & (pcb != "")
    assert 0.05 < (pca[both] != pcb[both]).mean() < 0.2
    shape = r"[A-Z]{1,2}\d{1,2} ?\d[A-Z]{2}"
    assert dwp.b["post_code"][dwp.b["post_code"] != ""].str.fullmatch(shape).all()
    assert dwp.a["postcode"].str.fullmatch(r"[A-Za-z]{1,2}\d{1,2} ?\d[A-Za-z]{2}|").all()
    assert moj.b["last_known_postcode"].isin(["NFA", "ZZ99 3VZ"]).any()
    assert set(dwp.b["sex"]) <= {"1", "2", ""} and set(dwp.a["gender"]) <= {"M", "F", "U", ""}
    assert set(moj.b["sex"]) <= {"Male", "Female", "Unknown", ""}
    assert re.fullmatch(r"[A-Z]{2}\d{6}[A-D]", dwp.b.loc[dwp.b["nino"] != "", "nino"].iloc[0])

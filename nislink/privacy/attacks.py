"""Attacks an honest-but-curious linkage unit could mount on an encoded file.

The attacker holds the encoded file (filters, tokens, metadata with the schema) and public
value frequencies (:class:`~nislink.privacy.public.PublicKnowledge`), but not the secret.
Each attack returns an :class:`AttackResult`: its guess for every record and, when the
ground truth is given (simulations on synthetic data), the share of records and of
distinct values it re-identified correctly.

* :func:`frequency_alignment` (after Christen, Schnell, Vatsalan and Ranbaduge 2017;
  Niedermeyer et al. 2014): identical encodings are grouped and ranked by frequency and
  aligned with the ranked public values. On Bloom filters the attacker also uses the schema
  (filter length, ``k``, q-gram tokeniser): a filter's popcount estimates how many q-grams
  its value has, so the alignment is done within groups of equal q-gram count.
* :func:`qgram_inference` (after Kroll and Steinmetzer 2015 and Christen et al. 2018):
  from a seed of tentatively re-identified filters, infer which bit positions every
  q-gram sets (positions far more often set when the q-gram is present than when it is
  absent; the schema's ``k`` positions per q-gram), then re-identify *every* filter by
  matching the union of inferred positions of each public value against it; iterate.
  Works on field-level filters and on record-level filters (CLK), where the other fields'
  bits are background.
* :func:`graph_matching` (after Vidanage, Christen, Ranbaduge and Schnell 2020, simple
  form): a similarity graph over the frequent distinct filters (Dice) and one over the
  frequent public values (q-gram Dice); nodes described by frequency, estimated length
  and their similarity neighbourhood (degrees at several thresholds, top similarities);
  nodes matched by minimum-cost assignment of these features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from nislink.encode.tokens import value_tokens
from nislink.frame import BitMatrix, mix64
from nislink.privacy.public import PublicTable, plain_value
from nislink.schema import FieldSpec

__all__ = [
    "AttackResult",
    "frequency_alignment",
    "qgram_inference",
    "graph_matching",
    "score_guesses",
    "group_rows",
]


@dataclass
class AttackResult:
    """What an attack re-identified.

    ``records_share``: share of records (with a non-missing true value) whose value was
    guessed correctly. ``distinct_share``: share of distinct encodings (distinct filters or
    tokens; with an unsalted field, one per distinct value) whose guess is their records'
    majority true value: the share of distinct values correctly re-identified.
    ``values_revealed_share``: the stricter count for salted fields: share of distinct true
    values guessed correctly for at least one of their encodings. ``top20_share``: share of
    the 20 commonest true values whose largest encoding is guessed correctly. These are
    ``None`` without ground truth. ``guesses`` holds the guessed value per record
    (``None``: no guess).
    """

    attack: str
    target: str
    records: int
    distinct_encodings: int
    guessed_records: int
    records_share: float | None = None
    distinct_share: float | None = None
    top20_share: float | None = None
    values_revealed_share: float | None = None
    distinct_values: int | None = None
    notes: str = ""
    guesses: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (no per-record guesses)."""
        return {k: v for k, v in self.__dict__.items() if k != "guesses"}

    def line(self) -> str:
        """One line of text."""
        if self.records_share is None:
            return (f"{self.attack} on {self.target}: {self.guessed_records} of {self.records} "
                    f"records guessed (no ground truth){'; ' + self.notes if self.notes else ''}")
        return (f"{self.attack} on {self.target}: {100 * self.records_share:.1f}% of records, "
                f"{100 * (self.distinct_share or 0):.2f}% of {self.distinct_encodings} distinct "
                f"encodings ({self.distinct_values} true values), "
                f"{100 * (self.top20_share or 0):.0f}% of the 20 commonest values re-identified"
                f"{'; ' + self.notes if self.notes else ''}")


# -- grouping identical encodings ---------------------------------------------------------
def group_rows(
    target: BitMatrix | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group identical encodings among present rows.

    Returns ``(rows, inverse, counts, first)``: the present row positions, for each of them
    the index of its distinct encoding, the number of rows per distinct encoding and the
    position (into ``rows``) of its first row. Distinct encodings are ordered by count
    (descending), ties by first occurrence.
    """
    if isinstance(target, BitMatrix):
        rows = np.flatnonzero(target.present)
        bits = target.bits[rows]
        h = np.full(len(rows), 0x9E3779B97F4A7C15, dtype=np.uint64)
        for j in range(bits.shape[1]):
            h = mix64(h ^ bits[:, j])
            with np.errstate(over="ignore"):
                h += np.uint64(j + 1)
        keys = h
    else:
        tok = np.asarray(target, dtype=np.uint64)
        rows = np.flatnonzero(tok != 0)
        keys = tok[rows]
    codes, uniq = pd.factorize(keys, sort=False)  # codes in order of first appearance
    inverse = codes.astype(np.int64, copy=False)
    counts = np.bincount(inverse, minlength=len(uniq))
    first = np.empty(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1, dtype=np.int64)
    order = np.lexsort((first, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rows, rank[inverse.ravel()], counts[order], first[order]


# -- scoring ----------------------------------------------------------------------------
def score_guesses(guesses: np.ndarray, truth: np.ndarray | None, inverse: np.ndarray | None = None,
                  rows: np.ndarray | None = None) -> dict[str, Any]:
    """Shares re-identified: records, distinct values, 20 commonest values.

    ``guesses`` and ``truth`` are per record (plain values, ``None`` for no guess/missing).
    ``inverse`` (with ``rows``) gives each present record's distinct encoding; without it
    every record is its own encoding.
    """
    if truth is None:
        return {}
    g = pd.Series(guesses, dtype=object)
    t = pd.Series(truth, dtype=object)
    enc = pd.Series(np.arange(len(t)), dtype=np.int64)
    if inverse is not None and rows is not None:
        enc[:] = -1
        enc.iloc[rows] = inverse
        enc = enc.where(enc >= 0, -1 - np.arange(len(t)))  # absent rows: own group
    ok = t.notna().to_numpy()
    df = pd.DataFrame({"enc": enc[ok].to_numpy(), "t": t[ok].to_numpy(), "g": g[ok].to_numpy()})
    if not len(df):
        return {"records_share": 0.0, "distinct_share": 0.0, "top20_share": 0.0,
                "distinct_values": 0}
    correct = (df["g"] == df["t"]).to_numpy()
    # majority true value of each encoding, and whether the encoding was guessed as it
    cnt = df.groupby(["enc", "t"], sort=True).size().reset_index(name="n")
    cnt = cnt.sort_values(["enc", "n", "t"], ascending=[True, False, True], kind="mergesort")
    maj = cnt.drop_duplicates("enc")
    gue = df.drop_duplicates("enc").set_index("enc")["g"]
    maj = maj.assign(g=gue.reindex(maj["enc"]).to_numpy())
    hit = (maj["g"] == maj["t"]).to_numpy()
    revealed = set(maj.loc[hit, "t"])
    vc = df["t"].value_counts()
    top = sorted(vc.index, key=lambda v: (-vc[v], v))[:20]
    # the encoding carrying most records of each value (ties: lowest encoding id)
    biggest = cnt.sort_values(["t", "n", "enc"], ascending=[True, False, True],
                              kind="mergesort").drop_duplicates("t").set_index("t")["enc"]
    enc_ok = dict(zip(maj["enc"].tolist(), hit.tolist()))
    return {
        "records_share": float(correct.mean()),
        "distinct_share": float(hit.mean()) if len(hit) else 0.0,
        "values_revealed_share": len(revealed) / len(vc),
        "top20_share": sum(bool(enc_ok.get(biggest[v], False)) for v in top) / len(top),
        "distinct_values": int(len(vc)),
    }


def _plain(truth: np.ndarray | None) -> np.ndarray | None:
    if truth is None:
        return None
    return np.array([plain_value(v) for v in truth.tolist()], dtype=object)


def _finish(attack: str, target: str, n: int, n_distinct: int, guesses: np.ndarray,
            truth: np.ndarray | None, inverse: np.ndarray | None, rows: np.ndarray | None,
            notes: str = "") -> AttackResult:
    g = np.array([plain_value(v) for v in guesses.tolist()], dtype=object)
    s = score_guesses(g, _plain(truth), inverse, rows)
    return AttackResult(attack, target, n, n_distinct, int(sum(x is not None for x in g)),
                        notes=notes, guesses=g, **s)


# -- schema knowledge -------------------------------------------------------------------
def _token_lists(spec: FieldSpec, keys: np.ndarray) -> list[list[str]]:
    cache: dict[str, list[str]] = {}
    out = []
    for k in keys.tolist():
        v = plain_value(k) or ""
        if v not in cache:
            cache[v] = value_tokens(spec, v) if v else []
        out.append(cache[v])
    return out


def _expected_popcount(length: int, k: int, g: np.ndarray) -> np.ndarray:
    return length * (1.0 - (1.0 - 1.0 / length) ** (k * np.asarray(g, dtype=float)))


def _popcount_usable(spec: FieldSpec | None) -> bool:
    if spec is None or not spec.length or spec.bits_per_field:
        return False
    h = spec.hardening
    return not (h.balance or h.xor_fold or h.rule90 or h.blip)


# -- attack 1: frequency alignment ----------------------------------------------------------
def frequency_alignment(
    target: BitMatrix | np.ndarray,
    public: PublicTable,
    *,
    truth: np.ndarray | None = None,
    spec: FieldSpec | None = None,
    by_length: bool | None = None,
    name: str = "",
) -> AttackResult:
    """Align distinct encodings ranked by frequency with public values ranked by frequency.

    ``target``: field-level filters (a :class:`BitMatrix`) or keyed tokens (``uint64``,
    0 = missing). ``public``: the public frequency table of the field (joint with the salt
    when the field is salted). ``spec``: the field's schema entry; with an unhardened (or
    only permuted/salted) filter, the popcount tells the attacker the value's q-gram count,
    and values are aligned within groups of equal q-gram count (``by_length``, default:
    when the popcount is usable). ``truth``: true normalised value per record, for scoring.
    """
    rows, inverse, counts, _first = group_rows(target)
    n_enc = len(counts)
    guess_enc = np.full(n_enc, None, dtype=object)
    is_bm = isinstance(target, BitMatrix)
    if by_length is None:
        by_length = is_bm and _popcount_usable(spec)
    notes = ""
    if by_length and is_bm and spec is not None and len(public):
        pc_enc = np.zeros(n_enc, dtype=float)
        np.maximum.at(pc_enc, inverse, target.popcount[rows].astype(float))
        g_pub = np.array([len(t) for t in _token_lists(spec, public.values)])
        gs = np.unique(g_pub)
        exp = _expected_popcount(int(spec.length or 0), int(spec.k or 1), gs)
        g_enc = gs[np.abs(pc_enc[:, None] - exp[None, :]).argmin(axis=1)]
        for g in gs:
            e_idx = np.flatnonzero(g_enc == g)  # already in frequency order
            p_idx = np.flatnonzero(g_pub == g)
            m = min(len(e_idx), len(p_idx))
            guess_enc[e_idx[:m]] = public.values[p_idx[:m]]
        notes = "aligned within q-gram-count groups estimated from popcounts"
    else:
        m = min(n_enc, len(public))
        guess_enc[:m] = public.values[:m]
    guesses = np.full(len(target.popcount) if is_bm else len(target), None, dtype=object)
    guesses[rows] = guess_enc[inverse]
    return _finish("frequency alignment", name, len(rows), n_enc, guesses, truth, inverse, rows,
                   notes)


# -- attack 2: q-gram / bit-pattern inference ---------------------------------------------------
def _dense(bm: BitMatrix, rows: np.ndarray) -> np.ndarray:
    return bm.take(rows).to_bool().astype(np.float32)


def qgram_inference(
    target: BitMatrix,
    spec: FieldSpec,
    public: PublicTable,
    *,
    seed: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    record_level: bool = False,
    k: int | None = None,
    max_candidates: int = 2000,
    max_encodings: int = 10_000,
    min_seed_count: int = 3,
    iterations: int = 8,
    min_diff: float = 0.3,
    accept: float = 0.7,
    name: str = "",
) -> AttackResult:
    """Infer each q-gram's bit positions from a seed, then re-identify every filter.

    ``seed``: a guessed value per record (e.g. ``frequency_alignment(...).guesses`` on the
    same records, from a field-level filter or a token of the same file); default: a
    :func:`graph_matching` of ``target`` itself. ``record_level``: ``target`` is a CLK (bits
    of other fields are background, so unexplained set bits are not penalised). ``k``:
    positions per q-gram (default from ``spec``: ``clk_k`` or ``k``). At most
    ``max_encodings`` distinct filters (the most frequent) are attacked and the
    ``max_candidates`` commonest public values considered.
    """
    rows, inverse, counts, first = group_rows(target)
    n_enc = len(counts)
    if k is None:
        k = int((spec.clk_k if record_level else spec.k) or 1)
    if seed is None:
        seed = graph_matching(target, spec, public).guesses
    seed = np.asarray(seed, dtype=object)
    att = min(n_enc, max_encodings)
    rep = rows[first[:att]]  # a representative row per attacked encoding
    X = _dense(target, rep)  # (att, L)
    w = counts[:att].astype(np.float32)
    cand = public.top(max_candidates)
    cand_vals = np.array([plain_value(v) for v in cand.values.tolist()], dtype=object)
    # candidate values, distinct (a salted table lists a value once per salt)
    _, keep = np.unique(cand_vals, return_index=True)
    keep.sort()
    cand_vals = cand_vals[keep]
    cand_toks = _token_lists(spec, cand_vals)
    vocab = {t: i for i, t in enumerate(sorted({t for ts in cand_toks for t in ts}))}
    T = len(vocab)
    C = np.zeros((len(cand_vals), T), dtype=np.float32)
    for i, ts in enumerate(cand_toks):
        C[i, [vocab[t] for t in ts]] = 1.0
    val_index = {v: i for i, v in enumerate(cand_vals.tolist())}

    # seed guess per attacked encoding: majority of its records' seed guesses
    enc_of_row = np.full(len(seed), -1, dtype=np.int64)
    enc_of_row[rows] = inverse
    sel = (enc_of_row >= 0) & (enc_of_row < att)
    sg = pd.DataFrame({"e": enc_of_row[sel], "g": [plain_value(x) for x in seed[sel].tolist()]})
    sg = sg.dropna()
    sg = sg[sg["g"].isin(val_index)]
    if len(sg):
        top = sg.groupby(["e", "g"]).size().reset_index(name="n")
        top = top.sort_values(["e", "n", "g"], ascending=[True, False, True], kind="mergesort")
        top = top.drop_duplicates("e")
        seed_idx = np.full(att, -1, dtype=np.int64)
        seed_idx[top["e"].to_numpy()] = top["g"].map(val_index).to_numpy()
    else:
        seed_idx = np.full(att, -1, dtype=np.int64)
    if not record_level:
        seed_idx[counts[:att] < min_seed_count] = -1
    seed0 = seed_idx.copy()

    pc = X.sum(axis=1)
    seed_w = w if not record_level else np.ones_like(w)
    guess_idx = np.full(att, -1, dtype=np.int64)
    for _ in range(max(1, iterations)):
        s = seed_idx >= 0
        if s.sum() < 2:
            break
        Y = C[seed_idx[s]]  # (s, T) tokens of the guessed values
        ws = seed_w[s][:, None]
        Xs = X[s]
        n_in = (Y * ws).sum(axis=0)  # (T,)
        n_out = ws.sum() - n_in
        f_in = (Y * ws).T @ Xs / np.maximum(n_in, 1e-9)[:, None]  # (T, L)
        f_out = ((1 - Y) * ws).T @ Xs / np.maximum(n_out, 1e-9)[:, None]
        diff = f_in - f_out
        known = n_in >= (1 if not record_level else 3)
        kk = min(k, X.shape[1])
        part = np.argpartition(-diff, kk - 1, axis=1)[:, :kk]
        H = np.zeros_like(diff)
        np.put_along_axis(H, part, (np.take_along_axis(diff, part, axis=1) > min_diff)
                          .astype(H.dtype), axis=1)
        H[~known] = 0.0
        tok_known = H.any(axis=1)
        usable = (C[:, ~tok_known].sum(axis=1) == 0) & (C.sum(axis=1) > 0)
        P = np.minimum(C[usable] @ H, 1.0)  # predicted positions per usable value
        if not len(P):
            break
        hit = X @ P.T  # (att, values): predicted positions that are set
        size = P.sum(axis=1)[None, :]
        if record_level:  # other fields' bits are background: containment only
            score = hit / np.maximum(size, 1.0) + 1e-4 * size  # ties: the longer value
        else:  # Dice of the predicted and the observed filter
            score = 2.0 * hit / np.maximum(size + pc[:, None], 1.0)
        best = score.argmax(axis=1)
        best_score = score[np.arange(att), best]
        ok = best_score >= accept
        uidx = np.flatnonzero(usable)
        new_idx = np.where(ok, uidx[best], -1)
        if np.array_equal(new_idx, guess_idx):
            break
        guess_idx = new_idx
        # the next round learns positions from the confident guesses, and from the seed
        # where there is none
        seed_idx = np.where(guess_idx >= 0, guess_idx, seed0)
    guess_enc = np.full(n_enc, None, dtype=object)
    g_ok = guess_idx >= 0
    guess_enc[:att][g_ok] = cand_vals[guess_idx[g_ok]]
    guesses = np.full(len(target), None, dtype=object)
    guesses[rows] = guess_enc[inverse]
    level = "record-level" if record_level else "field-level"
    notes = f"{level}, {att} of {n_enc} distinct filters attacked"
    return _finish("q-gram inference", name, len(rows), n_enc, guesses, truth, inverse, rows, notes)


# -- attack 3: graph matching ------------------------------------------------------------------
_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _dice_matrix(M: np.ndarray) -> np.ndarray:
    inter = M @ M.T
    pc = M.sum(axis=1)
    den = pc[:, None] + pc[None, :]
    d = np.where(den > 0, 2 * inter / np.maximum(den, 1e-9), 0.0)
    np.fill_diagonal(d, 0.0)
    return d


def _node_features(S: np.ndarray, freq: np.ndarray, length: np.ndarray | None) -> np.ndarray:
    feats = [np.log(np.maximum(freq, 1e-12))]
    for t in _THRESHOLDS:
        feats.append(np.log1p((S >= t).sum(axis=1)))
    top = -np.sort(-S, axis=1)[:, :5]
    feats.extend(top.T)
    if length is not None:
        feats.append(length)
    return np.stack(feats, axis=1).astype(float)


def _quantile_map(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Map the values of ``x`` onto the distribution of ``ref`` (similarity calibration)."""
    xs = np.sort(x.ravel())
    rs = np.sort(ref.ravel())
    q = np.searchsorted(xs, x, side="right") / max(1, len(xs))
    return np.interp(q, np.linspace(0, 1, len(rs)), rs)


def graph_matching(
    target: BitMatrix,
    spec: FieldSpec,
    public: PublicTable,
    *,
    truth: np.ndarray | None = None,
    nodes: int = 1000,
    name: str = "",
) -> AttackResult:
    """Match a similarity graph of frequent distinct filters to one of public values.

    The ``nodes`` most frequent distinct filters and public values form two graphs with
    Dice-similarity edges (filters: bit Dice, calibrated to the public side by quantile
    mapping; public values: Dice of their q-gram sets). Each node gets features (log
    frequency, log degree at thresholds 0.3..0.9, its five highest similarities, its
    estimated q-gram count when popcounts are usable); nodes are matched one-to-one by
    minimum Euclidean distance of standardised features (Hungarian algorithm).
    """

    rows, inverse, counts, first = group_rows(target)
    n_enc = len(counts)
    pub_vals = np.array([plain_value(v) for v in public.values.tolist()], dtype=object)
    _, keep = np.unique(pub_vals, return_index=True)
    keep.sort()
    m = min(nodes, n_enc, len(keep))  # graphs of equal size
    pv = pub_vals[keep][:m]
    pw = public.weights[keep][:m]
    guesses = np.full(len(target), None, dtype=object)
    if m < 2 or len(pv) < 2:
        return _finish("graph matching", name, len(rows), n_enc, guesses, truth, inverse, rows)
    X = _dense(target, rows[first[:m]])
    S_enc = _dice_matrix(X)
    toks = _token_lists(spec, pv)
    vocab = {t: i for i, t in enumerate(sorted({t for ts in toks for t in ts}))}
    Q = np.zeros((len(pv), len(vocab)), dtype=np.float32)
    for i, ts in enumerate(toks):
        Q[i, [vocab[t] for t in ts]] = 1.0
    S_pub = _dice_matrix(Q)
    S_enc = _quantile_map(S_enc, S_pub)
    np.fill_diagonal(S_enc, 0.0)
    len_enc = len_pub = None
    if _popcount_usable(spec):
        pc = X.sum(axis=1)
        L, kk = int(spec.length or 0), int(spec.k or 1)
        len_enc = np.log(np.maximum(1e-9, 1 - pc / L)) / np.log(1 - 1 / L) / kk
        len_pub = Q.sum(axis=1)
    f_enc = _node_features(S_enc, counts[:m] / counts.sum(), len_enc)
    f_pub = _node_features(S_pub, pw / pw.sum(), len_pub)
    both = np.vstack([f_enc, f_pub])
    mu, sd = both.mean(axis=0), both.std(axis=0) + 1e-9
    a, b = (f_enc - mu) / sd, (f_pub - mu) / sd
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    ri, ci = linear_sum_assignment(cost)
    guess_enc = np.full(n_enc, None, dtype=object)
    guess_enc[ri] = pv[ci]
    guesses[rows] = guess_enc[inverse]
    return _finish("graph matching", name, len(rows), n_enc, guesses, truth, inverse, rows,
                   f"{m} filter nodes, {len(pv)} public nodes")

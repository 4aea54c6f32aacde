"""Linkage quality when the truth is known (seventh stage).

Pairs are compared as sets of ``(id_a, id_b)``; for de-duplication (``dedupe=True``) a pair
is unordered, so ``(x, y)`` and ``(y, x)`` are the same pair and ``(x, x)`` is ignored.

* precision ``TP / (TP + FP)``, recall ``TP / (TP + FN)``, F1 (their harmonic mean) and
  F* ``TP / (TP + FP + FN)`` (Hand, Christen and Kirielle, 2021, "F*: an interpretable
  transformation of the F-measure", Machine Learning 110), which equals ``F1 / (2 - F1)``;
* pairs completeness (share of true matches among candidate pairs) and reduction ratio
  (``1 - candidates / possible pairs``) for blocking;
* threshold sweeps (every metric at every threshold, from one sort);
* **without truth**: precision, recall and F1 *estimated from the model's match
  probabilities* at every threshold (:func:`estimate_threshold_metrics`), and the threshold
  that maximises the estimated F1, explained in words (:func:`choose_threshold`);
* charts, when matplotlib is installed: match-weight histogram, precision and recall
  against threshold, ``m`` and ``u`` per level, and a waterfall of one pair's match weight.
  Each chart function writes a PNG and returns its path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nislink.errors import NislinkError
from nislink.model import weight_to_probability
from nislink.resolve import one_to_one as _one_to_one

__all__ = [
    "IdColumnError",
    "id_columns_of",
    "pair_set",
    "confusion",
    "precision",
    "recall",
    "f1_score",
    "f_star",
    "evaluate_pairs",
    "cluster_pairs",
    "evaluate_clusters",
    "pairs_completeness",
    "reduction_ratio",
    "threshold_sweep",
    "ScoresError",
    "estimate_threshold_metrics",
    "ThresholdChoice",
    "choose_threshold",
    "plot_weight_histogram",
    "plot_precision_recall",
    "plot_m_u",
    "plot_waterfall",
]

PairsLike = Any  # DataFrame with two id columns, (n, 2) array, or iterable of 2-tuples


class IdColumnError(NislinkError, ValueError):
    """A pairs table lacks the id columns it was asked for (or has fewer than two)."""


def id_columns_of(df: pd.DataFrame, id_columns: Sequence[str] | None = None,
                  what: str = "pairs") -> list[str]:
    """The two id columns of a pairs table: ``id_columns`` when given (an
    :class:`IdColumnError` naming ``what`` and every missing column when ``df`` lacks
    them), else ``id_a, id_b`` when present, else the first two columns."""
    if id_columns is not None:
        cols = [str(c) for c in id_columns]
        if len(cols) != 2:
            raise IdColumnError(f"{what}: id_columns must name two columns (A and B), got "
                                f"{len(cols)}: {', '.join(cols)}")
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise IdColumnError(
                f"{what}: no column(s) {', '.join(repr(c) for c in missing)} (the id columns "
                f"asked for); its columns are: {', '.join(map(str, df.columns))}")
        return cols
    if {"id_a", "id_b"} <= set(df.columns):
        return ["id_a", "id_b"]
    if len(df.columns) < 2:
        raise IdColumnError(f"{what}: a pairs table needs two id columns, it has "
                            f"{len(df.columns)}")
    return list(df.columns[:2])


def pair_set(pairs: PairsLike, *, dedupe: bool = False,
             id_columns: Sequence[str] | None = None, what: str = "pairs"
             ) -> set[tuple[Any, Any]]:
    """Normalise pairs to a set of ``(id_a, id_b)`` tuples (sorted within a pair if dedupe).

    A DataFrame uses the columns ``id_columns`` (e.g. ``("la_person_ref",
    "dwp_person_ref")``) when given, else ``id_a, id_b`` when present, else its first two
    columns (:func:`id_columns_of`; ``what`` names the table in its error).
    """
    if isinstance(pairs, pd.DataFrame):
        cols = id_columns_of(pairs, id_columns, what)
        it: Iterable[tuple[Any, Any]] = zip(pairs[cols[0]].tolist(), pairs[cols[1]].tolist())
    elif isinstance(pairs, pd.MultiIndex):
        it = list(pairs)
    elif isinstance(pairs, np.ndarray):
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError(f"a pairs array must have shape (n, 2), got {pairs.shape}")
        it = zip(pairs[:, 0].tolist(), pairs[:, 1].tolist())
    else:
        it = pairs
    out: set[tuple[Any, Any]] = set()
    for k, p in enumerate(it):
        try:
            x, y = p
        except (TypeError, ValueError):
            raise ValueError(f"pair {k} is not a 2-tuple: {p!r}") from None
        if dedupe:
            if x == y:
                continue
            if y < x:
                x, y = y, x
        out.add((x, y))
    return out


def confusion(predicted: PairsLike, truth: PairsLike, *, dedupe: bool = False,
              id_columns: Sequence[str] | None = None,
              truth_id_columns: Sequence[str] | None = None) -> dict[str, int]:
    """``{"tp", "fp", "fn"}`` of predicted pairs against true matching pairs.

    ``id_columns`` names the two id columns of the tables (both, unless
    ``truth_id_columns`` names the truth's); see :func:`pair_set`."""
    p = pair_set(predicted, dedupe=dedupe, id_columns=id_columns, what="predicted pairs")
    t = pair_set(truth, dedupe=dedupe, what="true pairs",
                 id_columns=id_columns if truth_id_columns is None else truth_id_columns)
    tp = len(p & t)
    return {"tp": tp, "fp": len(p) - tp, "fn": len(t) - tp}


def precision(tp: int, fp: int) -> float:
    """``TP / (TP + FP)`` (1.0 when nothing is predicted)."""
    return tp / (tp + fp) if tp + fp else 1.0


def recall(tp: int, fn: int) -> float:
    """``TP / (TP + FN)`` (1.0 when there is nothing to find)."""
    return tp / (tp + fn) if tp + fn else 1.0


def f1_score(tp: int, fp: int, fn: int) -> float:
    """F1 ``2 TP / (2 TP + FP + FN)`` (1.0 when all counts are 0)."""
    d = 2 * tp + fp + fn
    return 2 * tp / d if d else 1.0


def f_star(tp: int, fp: int, fn: int) -> float:
    """F* ``TP / (TP + FP + FN)`` (Hand, Christen and Kirielle 2021)."""
    d = tp + fp + fn
    return tp / d if d else 1.0


def _metrics(tp: int, fp: int, fn: int) -> dict[str, float]:
    return {
        "tp": tp, "fp": fp, "fn": fn,
        "precision": precision(tp, fp), "recall": recall(tp, fn),
        "f1": f1_score(tp, fp, fn), "f_star": f_star(tp, fp, fn),
    }


def evaluate_pairs(
    predicted: PairsLike, truth: PairsLike, *, dedupe: bool = False,
    id_columns: Sequence[str] | None = None, truth_id_columns: Sequence[str] | None = None,
) -> dict[str, float]:
    """Counts and precision, recall, F1, F* of predicted pairs against the truth.

    Tables name their id columns with ``id_columns`` (``("la_person_ref",
    "dwp_person_ref")``; both tables, unless ``truth_id_columns`` names the truth's), else
    ``id_a, id_b``, else their first two columns."""
    c = confusion(predicted, truth, dedupe=dedupe, id_columns=id_columns,
                  truth_id_columns=truth_id_columns)
    return _metrics(c["tp"], c["fp"], c["fn"])


def cluster_pairs(ids: Iterable[Any], cluster_ids: Iterable[Any]) -> set[tuple[Any, Any]]:
    """Every unordered within-cluster pair ``(x, y)`` with ``x < y``."""
    df = pd.DataFrame({"id": list(ids), "c": list(cluster_ids)})
    out: set[tuple[Any, Any]] = set()
    for members in df.groupby("c", sort=False)["id"]:
        m = sorted(members[1].tolist())
        for k in range(len(m)):
            for j in range(k + 1, len(m)):
                out.add((m[k], m[j]))
    return out


def evaluate_clusters(
    ids: Iterable[Any], predicted: Iterable[Any], true_clusters: Iterable[Any]
) -> dict[str, float]:
    """Pairwise precision, recall, F1, F* of a clustering against true cluster labels."""
    ids = list(ids)
    p = cluster_pairs(ids, predicted)
    t = cluster_pairs(ids, true_clusters)
    tp = len(p & t)
    return _metrics(tp, len(p) - tp, len(t) - tp)


def _as_columns(pairs: PairsLike) -> tuple[np.ndarray, np.ndarray] | None:
    """The two columns of an ``(n, 2)`` integer array of positions, else ``None``."""
    if isinstance(pairs, np.ndarray) and pairs.ndim == 2 and pairs.shape[1] == 2 \
            and pairs.dtype.kind in "iu":
        return pairs[:, 0], pairs[:, 1]
    return None


def _positions_completeness(cand: tuple[Any, Any], true: tuple[Any, Any],
                            dedupe: bool) -> float | None:
    """:func:`pairs_completeness` of pairs of non-negative integer positions, with sorted
    arrays instead of sets (``None`` when the columns are not such positions)."""
    ca, cb, ta, tb = (np.asarray(x) for x in (*cand, *true))
    if ca.shape != cb.shape or ta.shape != tb.shape or ca.ndim != 1 or ta.ndim != 1:
        raise ValueError("index arrays of a pair list must have equal lengths")
    cols = [ca, cb, ta, tb]
    if any(x.size and (x.dtype.kind not in "iu" or x.min() < 0) for x in cols):
        return None
    ca, cb, ta, tb = (x.astype(np.int64) for x in cols)
    width = np.int64(1 + max((int(x.max()) for x in (ca, cb, ta, tb) if x.size), default=0))

    def codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if dedupe:
            a, b = np.minimum(a, b), np.maximum(a, b)
            keep = a != b
            a, b = a[keep], b[keep]
        return np.unique(a * width + b)

    t = codes(ta, tb)
    if not len(t):
        return 1.0
    return float(np.isin(t, codes(ca, cb), assume_unique=True).sum() / len(t))


def pairs_completeness(candidates: PairsLike, truth: PairsLike, *true_positions: Any,
                       dedupe: bool = False) -> float:
    """Share of the true matching pairs that are among the candidate pairs (blocking recall).

    ``candidates`` and ``truth`` are pairs in any form :func:`pair_set` takes. The form of
    the former ``nislink.block.pairs_completeness`` is accepted too: four arrays
    ``pairs_completeness(ia, ib, true_ia, true_ib)`` of row positions (as
    :func:`nislink.block.candidate_pairs` returns them). Pairs of non-negative integer
    positions are counted with sorted arrays rather than Python sets, so tens of millions
    of candidates cost seconds. Duplicate pairs count once; with ``dedupe=True`` a pair is
    unordered and ``(x, x)`` is ignored. With no true pairs there is nothing to find and the
    result is ``1.0`` (the convention of :func:`recall`); with true pairs and no candidates
    it is ``0.0``.
    """
    if true_positions:
        if len(true_positions) != 2:
            raise TypeError("pairs_completeness takes (candidates, truth) or four arrays "
                            "(ia, ib, true_ia, true_ib)")
        cand: tuple[Any, Any] | None = (candidates, truth)
        true: tuple[Any, Any] | None = (true_positions[0], true_positions[1])
    else:
        cand, true = _as_columns(candidates), _as_columns(truth)
    if cand is not None and true is not None:
        fast = _positions_completeness(cand, true, dedupe)
        if fast is not None:
            return fast
        if true_positions:  # four arrays of something other than positions: as pairs
            candidates = list(zip(np.asarray(cand[0]).tolist(), np.asarray(cand[1]).tolist()))
            truth = list(zip(np.asarray(true[0]).tolist(), np.asarray(true[1]).tolist()))
    t = pair_set(truth, dedupe=dedupe)
    if not t:
        return 1.0
    return len(pair_set(candidates, dedupe=dedupe) & t) / len(t)


def reduction_ratio(n_candidates: int, n_a: int, n_b: int | None = None) -> float:
    """``1 - candidates / possible pairs``: the share of all pairs that blocking removed.

    Possible pairs are ``n_a * n_b``, or ``n_a (n_a - 1) / 2`` with ``n_b=None``
    (de-duplication). With no possible pairs nothing was removed: ``0.0``. Negative counts,
    and more candidates than possible pairs (duplicates, or the wrong sizes), are errors.
    """
    if n_candidates < 0 or n_a < 0 or (n_b is not None and n_b < 0):
        raise ValueError("reduction_ratio: counts must not be negative")
    total = n_a * (n_a - 1) // 2 if n_b is None else n_a * n_b
    if n_candidates > total:
        raise ValueError(f"reduction_ratio: {n_candidates} candidate pairs, but only {total} "
                         "possible pairs (duplicate candidates, or the wrong sizes?)")
    return 1.0 - n_candidates / total if total else 0.0


def threshold_sweep(
    weights: np.ndarray,
    is_match: np.ndarray,
    n_true: int | None = None,
    thresholds: np.ndarray | list[float] | None = None,
) -> pd.DataFrame:
    """Metrics at each threshold (a pair is predicted a match when ``weight >= threshold``).

    ``is_match`` tells which scored pairs are true matches; ``n_true`` is the total number of
    true matches (including those never scored; defaults to ``is_match.sum()``). Without
    ``thresholds``, 101 evenly spaced values across the weight range are used.
    """
    w = np.asarray(weights, dtype=np.float64)
    y = np.asarray(is_match, dtype=bool)
    if w.shape != y.shape:
        raise ValueError(f"weights and is_match differ in shape: {w.shape}, {y.shape}")
    n_true = int(y.sum()) if n_true is None else int(n_true)
    if thresholds is None:
        lo, hi = (float(w.min()), float(w.max())) if len(w) else (0.0, 1.0)
        thresholds = np.linspace(lo, hi, 101)
    th = np.asarray(thresholds, dtype=np.float64)
    order = np.argsort(w)
    ws, ys = w[order], y[order]
    # number of pairs / matches with weight >= t
    tp_suffix = np.concatenate([np.cumsum(ys[::-1])[::-1], [0]])
    start = np.searchsorted(ws, th, side="left")
    pred = len(w) - start
    tp = tp_suffix[start]
    fp = pred - tp
    fn = n_true - tp
    rows = [_metrics(int(a), int(b), int(c)) for a, b, c in zip(tp, fp, fn)]
    df = pd.DataFrame(rows)
    df.insert(0, "threshold", th)
    return df


# --------------------------------------------------------------------------- without truth
class ScoresError(NislinkError, ValueError):
    """A scores table that cannot be used: a column missing, a weight not a number, or a
    linkage result that kept no scores."""


#: The columns a scores table needs: the weight, and a record pair for one-to-one.
_PAIR_COLUMNS = (("ia", "ib"), ("id_a", "id_b"))


def _scores_table(scores: Any) -> pd.DataFrame:
    """The scores DataFrame of a table or of a linkage result (``.scores``)."""
    if not isinstance(scores, pd.DataFrame) and hasattr(scores, "scores"):
        if scores.scores is None:
            raise ScoresError("the linkage result kept no scores: run link/dedupe with "
                              "keep_scores=True (command line: --save-scores)")
        scores = scores.scores
    if not isinstance(scores, pd.DataFrame):
        raise ScoresError(f"expected a scores DataFrame or a linkage result, got "
                          f"{type(scores).__name__}")
    if "match_weight" not in scores.columns:
        raise ScoresError("the scores table has no column match_weight (columns: "
                          f"{', '.join(map(str, scores.columns))})")
    w = pd.to_numeric(scores["match_weight"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(w))
    if len(bad):
        raise ScoresError(f"scores row {int(bad[0])}: match_weight is not a finite number "
                          f"({scores['match_weight'].iloc[int(bad[0])]!r})")
    return scores


def _weights_and_probabilities(s: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    w = s["match_weight"].to_numpy(dtype=np.float64)
    if "match_probability" in s.columns:
        p = pd.to_numeric(s["match_probability"], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~((p >= 0) & (p <= 1)))
        if len(bad):
            raise ScoresError(f"scores row {int(bad[0])}: match_probability "
                              f"{s['match_probability'].iloc[int(bad[0])]!r} is not in [0, 1]")
    else:
        p = weight_to_probability(w)
    return w, p


def _pair_positions(s: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    for a, b in _PAIR_COLUMNS:
        if a in s.columns and b in s.columns:
            ia = pd.factorize(s[a], sort=True)[0].astype(np.int64)
            ib = pd.factorize(s[b], sort=True)[0].astype(np.int64)
            return ia, ib
    raise ScoresError("one-to-one needs the record pair of each score: columns ia, ib or "
                      f"id_a, id_b (columns: {', '.join(map(str, s.columns))}); or pass "
                      "one_to_one=None")


def _accepted_pairs(s: pd.DataFrame, one_to_one: str | None) -> np.ndarray:
    """Positions of the scored pairs that can be accepted at some threshold."""
    if one_to_one is None:
        return np.arange(len(s))
    if one_to_one not in ("greedy", "optimal"):
        raise ScoresError(f"one_to_one must be 'greedy', 'optimal' or None, got {one_to_one!r}")
    ia, ib = _pair_positions(s)
    w = s["match_weight"].to_numpy(dtype=np.float64)
    return _one_to_one(ia, ib, w, method=one_to_one)


def estimate_threshold_metrics(
    scores: Any,
    *,
    one_to_one: str | None = "greedy",
    thresholds: np.ndarray | list[float] | None = None,
    expected_matches: float | None = None,
) -> pd.DataFrame:
    """Precision, recall and F1 at each match-weight threshold, estimated from the model's
    match probabilities alone (no truth needed).

    ``scores``: every scored candidate pair (``LinkResult.scores`` from
    ``link(..., keep_scores=True)``, the result itself, or a table read from
    ``nislink link --save-scores``) with ``match_weight`` and ``match_probability``.

    A pair with match probability ``p`` is a true match with probability ``p`` (the model's
    own belief), so among the pairs accepted at threshold ``t``

    * ``expected_tp`` = the sum of their probabilities, ``expected_fp`` = accepted - that;
    * the expected number of true matches is the sum of the probabilities of **every scored
      candidate pair** (before one-to-one: a record with two likely partners, e.g. a person
      recorded twice in one file, counts both, and a one-to-one linkage cannot return both;
      pairs blocking never compared are not counted, unless ``expected_matches`` is given);
    * ``precision = expected_tp / accepted``, ``recall = expected_tp / expected_matches``,
      ``f1 = 2 expected_tp / (accepted + expected_matches)``.

    ``one_to_one`` (``"greedy"``, the default of :func:`nislink.linkage.link`; ``"optimal"``;
    or ``None`` for every pair above the threshold, as :func:`nislink.linkage.dedupe`
    keeps) says which pairs are accepted: greedy assignment over all scores, then those at or
    above ``t`` (greedy assignment is the same whether the threshold is applied before or
    after it; ``"optimal"`` is computed once over all scores, an approximation).

    ``thresholds``: default every distinct weight of an acceptable pair (the curve is exact
    between them). Returns ``threshold, match_probability, accepted, expected_tp,
    expected_fp, expected_fn, precision, recall, f1`` (ascending thresholds; the column names
    of :func:`threshold_sweep`, so :func:`plot_precision_recall` draws it).

    The estimate is as good as the model's calibration: it is exact when the probabilities
    are, and ``benchmarks/bench_threshold.py`` measures how close the threshold it picks
    comes to the best one in hindsight.
    """
    s = _scores_table(scores)
    ws, p_suffix, total = _sorted_scores(s, one_to_one, expected_matches)
    if thresholds is None:
        th = np.unique(ws)
    else:
        th = np.asarray(thresholds, dtype=np.float64)
        if th.ndim != 1 or not np.isfinite(th).all():
            raise ScoresError("thresholds must be a 1-D sequence of finite match weights")
    start = np.searchsorted(ws, th, side="left")
    return _estimates(th, (len(ws) - start).astype(np.int64), p_suffix[start], total)


def _sorted_scores(s: pd.DataFrame, one_to_one: str | None, expected_matches: float | None
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    """Weights of the acceptable pairs in ascending order, the sum of probabilities of the
    pairs from each position on, and the expected number of true matches."""
    w_all, p_all = _weights_and_probabilities(s)
    total = float(p_all.sum()) if expected_matches is None else float(expected_matches)
    if total < 0 or not np.isfinite(total):
        raise ScoresError(f"expected_matches must be a non-negative number, got {total!r}")
    keep = _accepted_pairs(s, one_to_one)
    w, p = w_all[keep], p_all[keep]
    order = np.argsort(w, kind="mergesort")
    ws, ps = w[order], p[order]
    # sum of probabilities / number of pairs with weight >= t, from one sort
    return ws, np.concatenate([np.cumsum(ps[::-1])[::-1], [0.0]]), total


def _estimates(th: np.ndarray, accepted: np.ndarray, etp: np.ndarray, total: float
               ) -> pd.DataFrame:
    prec = np.where(accepted > 0, etp / np.maximum(accepted, 1), 1.0)
    rec = etp / total if total > 0 else np.ones(len(th))
    den = accepted + total
    f1 = np.where(den > 0, 2 * etp / np.where(den > 0, den, 1.0), 1.0)
    return pd.DataFrame({
        "threshold": th,
        "match_probability": weight_to_probability(th),
        "accepted": accepted,
        "expected_tp": etp,
        "expected_fp": accepted - etp,
        "expected_fn": np.maximum(total - etp, 0.0),
        "precision": prec,
        "recall": np.minimum(rec, 1.0),
        "f1": f1,
    })


@dataclass
class ThresholdChoice:
    """The threshold :func:`choose_threshold` picked, its estimated quality and why.

    ``threshold`` is a match weight (``log2`` odds; ``min_weight`` of
    :func:`nislink.linkage.link`); ``precision``/``recall``/``f1`` are estimated from the
    model; ``near_best`` is the range of thresholds (above the first, up to the second)
    whose estimated F1 is within 0.001 of the best; ``cut`` is the gap between scored
    weights the threshold lies in (the highest weight below it and the lowest accepted
    weight; any threshold in the gap accepts the same pairs); ``curve`` is
    :func:`estimate_threshold_metrics` output; ``explanation`` says all of this in words
    (also ``str(choice)``).
    """

    threshold: float
    match_probability: float
    precision: float
    recall: float
    f1: float
    accepted: int
    expected_tp: float
    expected_fp: float
    expected_fn: float
    expected_matches: float
    candidates: int
    one_to_one: str | None
    near_best: tuple[float, float]
    cut: tuple[float, float]
    curve: pd.DataFrame = field(repr=False)
    explanation: str = ""

    def __str__(self) -> str:
        return self.explanation

    def at(self, thresholds: np.ndarray | list[float]) -> pd.DataFrame:
        """The estimates at any ``thresholds`` (as :func:`estimate_threshold_metrics`
        would give them), read from ``curve`` without scoring again."""
        th = np.asarray(thresholds, dtype=np.float64)
        if th.ndim != 1 or not np.isfinite(th).all():
            raise ScoresError("thresholds must be a 1-D sequence of finite match weights")
        cut = self.curve["threshold"].to_numpy()
        idx = np.searchsorted(cut, th, side="left")
        inside = idx < len(cut)
        pick = np.minimum(idx, max(len(cut) - 1, 0))
        accepted = np.where(inside, self.curve["accepted"].to_numpy()[pick], 0).astype(np.int64)
        etp = np.where(inside, self.curve["expected_tp"].to_numpy()[pick], 0.0)
        return _estimates(th, accepted, etp, self.expected_matches)


def _round_within(lo: float, hi: float) -> float:
    """The roundest number in ``(lo, hi]``: 0 (the default ``min_weight``) when it is in the
    gap, else the number with the fewest decimals nearest the gap's middle (``hi`` itself
    at worst)."""
    if lo < 0.0 <= hi:
        return 0.0
    mid = (lo + hi) / 2
    for digits in range(0, 7):
        step = 10.0 ** -digits
        k_min, k_max = math.floor(lo / step) + 1, math.floor(hi / step)
        if k_min <= k_max:
            x = round(min(max(round(mid / step), k_min), k_max) * step, digits)
            if lo < x <= hi:
                return float(x)
    return float(hi)


def choose_threshold(
    scores: Any,
    *,
    one_to_one: str | None = "greedy",
    expected_matches: float | None = None,
    default: float = 0.0,
) -> ThresholdChoice:
    """The match-weight threshold that maximises the F1 estimated from the model alone.

    ``scores``, ``one_to_one`` and ``expected_matches`` as
    :func:`estimate_threshold_metrics`. Every distinct weight is a possible cut; the one
    with the highest estimated F1 wins (ties: the higher threshold), and the threshold
    returned is the roundest number that accepts exactly the same pairs (e.g. ``7.3``
    rather than ``7.31482``). ``default`` (the library's ``min_weight``, 0) is compared
    with the choice in the explanation.
    """
    s = _scores_table(scores)
    ws, p_suffix, total = _sorted_scores(s, one_to_one, expected_matches)
    th = np.unique(ws)
    start = np.searchsorted(ws, th, side="left")
    curve = _estimates(th, (len(ws) - start).astype(np.int64), p_suffix[start], total)
    if len(curve) == 0:
        raise ScoresError("no scored pairs: nothing to choose a threshold from")
    f1 = curve["f1"].to_numpy()
    best = float(f1.max())
    k = int(np.flatnonzero(f1 >= best - 1e-12)[-1])
    th = curve["threshold"].to_numpy()
    lower = float(th[k - 1]) if k > 0 else float(th[k]) - 1.0
    t = _round_within(lower, float(th[k]))
    row = curve.iloc[k]
    near_idx = np.flatnonzero(f1 >= best - 1e-3)
    i0, i1 = int(near_idx[0]), int(near_idx[-1])
    near = (float(th[i0 - 1]) if i0 > 0 else -math.inf, float(th[i1]))
    d = int(np.searchsorted(ws, default, side="left"))
    at_default = _estimates(np.array([float(default)]), np.array([len(ws) - d]),
                            np.array([p_suffix[d]]), total).iloc[0]
    prob = float(weight_to_probability(np.array([t]))[0])
    where = "after one-to-one assignment " if one_to_one else ""
    missed = "below the threshold or left out by one-to-one" if one_to_one else \
        "below the threshold"
    outside = ("the given expected_matches" if expected_matches is not None else
               "matches blocking never compared are not in this count, so the true recall "
               "can only be lower")
    text = (
        f"match weight {t:g} (match probability {prob:.4g}): estimated precision "
        f"{row['precision']:.4f}, recall {row['recall']:.4f}, F1 {row['f1']:.4f}. "
        f"{int(row['accepted']):,} pairs are accepted {where}at this weight; the model "
        f"expects {row['expected_tp']:,.1f} of them to be true matches and "
        f"{row['expected_fp']:,.1f} false (any weight above {lower:.2f} and up to "
        f"{float(th[k]):.2f} accepts the same pairs; {t:g} is the roundest). Of the "
        f"{total:,.1f} true matches it expects among the {len(s):,} scored pairs, "
        f"{row['expected_fn']:,.1f} are missed ({missed}; {outside}). Estimated F1 stays "
        f"within 0.001 of its best for thresholds above {near[0]:.2f} and up to "
        f"{near[1]:.2f}. At the default weight {default:g}: estimated precision "
        f"{at_default['precision']:.4f}, recall {at_default['recall']:.4f}, F1 "
        f"{at_default['f1']:.4f}. These figures are the model's own belief: as good as its "
        "calibration, not a measurement."
    )
    return ThresholdChoice(
        threshold=t, match_probability=prob, precision=float(row["precision"]),
        recall=float(row["recall"]), f1=float(row["f1"]), accepted=int(row["accepted"]),
        expected_tp=float(row["expected_tp"]), expected_fp=float(row["expected_fp"]),
        expected_fn=float(row["expected_fn"]), expected_matches=total, candidates=len(s),
        one_to_one=one_to_one, near_best=near,
        cut=(lower, float(th[k])),
        curve=curve, explanation=text,
    )


# --------------------------------------------------------------------------- charts
def _plt():  # type: ignore[no-untyped-def]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("charts need matplotlib: pip install 'nislink[plots]'") from exc
    return plt


def plot_weight_histogram(
    weights: np.ndarray,
    path: str | Path,
    *,
    is_match: np.ndarray | None = None,
    threshold: float | None = None,
    bins: int = 80,
    title: str = "Match weights of candidate pairs",
) -> Path:
    """Histogram of match weights (split by truth when ``is_match`` is given), as a PNG."""
    plt = _plt()
    w = np.asarray(weights, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(7, 4))
    edges = np.linspace(w.min(), w.max(), bins + 1) if len(w) else bins
    if is_match is None:
        ax.hist(w, bins=edges, color="tab:blue")
    else:
        y = np.asarray(is_match, dtype=bool)
        ax.hist(w[~y], bins=edges, alpha=0.7, label="non-match", color="tab:orange")
        ax.hist(w[y], bins=edges, alpha=0.7, label="match", color="tab:blue")
        ax.legend()
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("match weight (log2 Bayes factor incl. prior)")
    ax.set_ylabel("pairs (log scale)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_precision_recall(sweep: pd.DataFrame, path: str | Path, *, title: str = "",
                          threshold: float | None = None) -> Path:
    """Precision, recall and F1 against threshold from :func:`threshold_sweep` (or
    estimated, :func:`estimate_threshold_metrics`), as a PNG; ``threshold`` marks a chosen
    threshold with a dashed line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for col in ("precision", "recall", "f1"):
        ax.plot(sweep["threshold"], sweep[col], label=col)
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", linewidth=1)
    ax.set_xlabel("match-weight threshold")
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.set_title(title or "Precision and recall against threshold")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_m_u(parameters: pd.DataFrame | Any, path: str | Path) -> Path:
    """Bar charts of ``m`` and ``u`` per field and level, as a PNG.

    ``parameters`` is :meth:`nislink.model.FellegiSunter.parameters` output or the model.
    """
    plt = _plt()
    df = parameters.parameters() if hasattr(parameters, "parameters") else parameters
    fields = list(dict.fromkeys(df["field"]))
    fig, axes = plt.subplots(len(fields), 1, figsize=(7, 1.4 * len(fields) + 0.6), squeeze=False)
    for ax, f in zip(axes[:, 0], fields):
        sub = df[df["field"] == f]
        x = np.arange(len(sub))
        ax.bar(x - 0.2, sub["m"], width=0.4, label="m", color="tab:blue")
        ax.bar(x + 0.2, sub["u"], width=0.4, label="u", color="tab:orange")
        ax.set_xticks(x, sub["label"], fontsize=7)
        ax.set_ylabel(f, rotation=0, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
    axes[0, 0].legend(fontsize=7)
    axes[0, 0].set_title("m (match) and u (non-match) probability per comparison level")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_waterfall(explain: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Waterfall of one pair's match weight from :meth:`FellegiSunter.explain`, as a PNG."""
    plt = _plt()
    df = explain
    fig, ax = plt.subplots(figsize=(7, 4))
    prev = 0.0
    for k, row in enumerate(df.itertuples(index=False)):
        if row.component == "final":
            ax.bar(k, row.cumulative, color="tab:gray")
            continue
        v = float(row.log2_bayes_factor)
        ax.bar(k, v, bottom=prev, color="tab:green" if v >= 0 else "tab:red")
        prev += v
    ax.axhline(0, color="k", linewidth=0.8)
    ax.set_xticks(range(len(df)), [f"{c}\n{lv}" for c, lv in zip(df["component"], df["level"])],
                  fontsize=6, rotation=45, ha="right")
    ax.set_ylabel("match weight (log2)")
    ax.set_title(title or "Contribution of each field to one pair's match weight")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)

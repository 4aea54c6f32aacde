"""Clerical review: export uncertain pairs, import reviewers' decisions, use them.

A linkage leaves a band of pairs whose match weight is neither clearly high nor clearly
low. This module sends such a band to clerical reviewers and brings their decisions back:

* :func:`export` takes the scored candidate pairs of a :func:`nislink.link` or
  :func:`nislink.dedupe` run (``keep_scores=True``), **before** one-to-one assignment or
  clustering, and returns those whose match weight lies in ``[lo, hi]``: the two record
  ids (reference numbers), each comparison's level (a label such as ``dice >= 0.85``) and
  partial match weight, the prior and dependence weights, the total match weight and
  probability, and an empty ``decision`` column. Nothing from the encodings (no filter
  bits, tokens or similarity of a token value) is in it, and the linkage unit holds no
  identifiers: a reviewer who may see identifiers joins the reference numbers to them at
  the data owner's side.
* :func:`write` / :func:`read` store the sheet as CSV or Parquet and read the completed
  one back, checked: every decision is ``match``, ``non-match``, ``unsure`` or blank (not
  reviewed), every pair is one of the exported pairs, no pair appears twice; anything else
  is a :class:`ReviewError` naming the row.
* :func:`assess` measures the band with the decisions (precision, precision per weight
  bin against the model's own probability, the threshold that the decisions favour).
* :func:`refit` re-fits the model's ``m`` with the decided pairs as training data: the
  decided pairs count as matches or non-matches instead of with the model's probability;
  ``unsure`` and unreviewed pairs keep the model's view. See ``docs/matching.md``
  ("Clerical review") for why this method and the measured effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nislink.errors import NislinkError
from nislink.frame import EncodedFrame
from nislink.linkage import DedupeResult, LinkResult
from nislink.model import FellegiSunter, monotone_m

__all__ = [
    "DECISIONS",
    "ReviewError",
    "ReviewSummary",
    "export",
    "write",
    "read",
    "assess",
    "refit",
]

#: The decisions a reviewer may enter (blank: not reviewed).
DECISIONS: tuple[str, ...] = ("match", "non-match", "unsure")
_KEY = ["id_a", "id_b"]


class ReviewError(NislinkError, ValueError):
    """A review sheet or a completed review that cannot be used (named row and column)."""


def _scores(result: LinkResult | DedupeResult) -> pd.DataFrame:
    if not isinstance(result, (LinkResult, DedupeResult)):
        raise ReviewError(f"expected the result of nislink.link or nislink.dedupe, got "
                          f"{type(result).__name__}")
    if result.scores is None:
        raise ReviewError("the result holds no scores of the candidate pairs: run link or "
                          "dedupe with keep_scores=True")
    return result.scores


def _frames(result: LinkResult | DedupeResult, a: EncodedFrame, b: EncodedFrame | None
            ) -> EncodedFrame | None:
    if isinstance(result, DedupeResult):
        if b is not None:
            raise ReviewError("a de-duplication result reviews one frame: pass b=None")
        return None
    if b is None:
        raise ReviewError("a linkage result needs both frames (a and b)")
    return b


def export(result: LinkResult | DedupeResult, a: EncodedFrame, b: EncodedFrame | None = None,
           *, lo: float, hi: float, max_pairs: int | None = None) -> pd.DataFrame:
    """The candidate pairs of ``result`` with match weight in ``[lo, hi]``, for review.

    ``result`` comes from :func:`nislink.link` / :func:`nislink.dedupe` with
    ``keep_scores=True`` on the frames ``a`` and ``b`` (``b=None`` for de-duplication); the
    pairs are taken before one-to-one assignment or clustering. Columns: ``id_a, id_b,
    decision`` (empty), ``match_weight, match_probability``, ``weight:prior``, then per
    comparison ``level:<name>`` (its label) and ``weight:<name>`` (its partial match
    weight, ``log2(m/u)``, 0 when missing), and ``weight:dependence``; the weights add up to
    ``match_weight``. Rows by decreasing weight. With ``max_pairs``, at most that many
    pairs, evenly spread over the band's weight order (deterministic).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ReviewError(f"the weight band needs finite lo <= hi, got [{lo}, {hi}]")
    if max_pairs is not None and max_pairs < 1:
        raise ReviewError(f"max_pairs must be at least 1, got {max_pairs}")
    scores = _scores(result)
    b = _frames(result, a, b)
    bb = a if b is None else b
    model = result.model
    ia = scores["ia"].to_numpy(dtype=np.int64)
    ib = scores["ib"].to_numpy(dtype=np.int64)
    w = scores["match_weight"].to_numpy(dtype=np.float64)
    if len(ia) and (ia.max() >= len(a) or ib.max() >= len(bb)):
        raise ReviewError("the result's pairs do not fit these frames: pass the frames the "
                          "result was made from")
    sel = np.flatnonzero((w >= lo) & (w <= hi))
    sel = sel[np.lexsort((ib[sel], ia[sel], -w[sel]))]
    if max_pairs is not None and len(sel) > max_pairs:
        sel = sel[np.unique(np.linspace(0, len(sel) - 1, max_pairs).round().astype(np.int64))]
    # levels over every candidate: a CLK's rank level depends on the whole candidate set
    lev = model.levels(a, b, ia, ib)[sel]
    contrib = model.contributions(a, b, ia[sel], ib[sel], lev)
    out: dict[str, Any] = {
        "id_a": a.ids[ia[sel]].astype(str), "id_b": bb.ids[ib[sel]].astype(str),
        "decision": np.full(len(sel), "", dtype=object),
        "match_weight": w[sel],
        "match_probability": scores["match_probability"].to_numpy(dtype=np.float64)[sel],
        "weight:prior": np.full(len(sel), model.prior_weight),
    }
    for j, c in enumerate(model.comparisons):
        labels = np.array(["missing"] + list(c.labels), dtype=object)
        out[f"level:{c.name}"] = labels[lev[:, j].astype(np.int64) + 1]
        out[f"weight:{c.name}"] = contrib[:, j]
    out["weight:dependence"] = model.dependence_adjustment(lev) if len(sel) else np.zeros(0)
    return pd.DataFrame(out)


def write(sheet: pd.DataFrame, path: str | Path) -> Path:
    """Write a review sheet (or completed review) as Parquet (``.parquet``/``.pq``) or CSV."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        sheet.to_parquet(p, index=False)
    else:
        sheet.to_csv(p, index=False)
    return p


def _table(src: pd.DataFrame | str | Path, what: str) -> tuple[pd.DataFrame, str]:
    if isinstance(src, pd.DataFrame):
        return src.reset_index(drop=True), what
    p = Path(src)
    if not p.is_file():
        raise ReviewError(f"{what} not found: {p}")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ReviewError(f"{p}: cannot be read as a table: {first}") from None
    return df, str(p)


def _need(df: pd.DataFrame, cols: list[str], where: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ReviewError(f"{where}: no column(s) {', '.join(missing)} (a review sheet has "
                          f"id_a, id_b, decision); its columns are: "
                          f"{', '.join(map(str, df.columns))}")


def _decision(v: Any) -> str | None:
    """The normalised decision (``""`` for blank) or ``None`` when not a decision."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    text = str(v).strip().lower().replace("_", "-").replace(" ", "-")
    if text in ("", "nan"):
        return ""
    return text if text in DECISIONS else None


def read(completed: pd.DataFrame | str | Path, sheet: pd.DataFrame | str | Path
         ) -> pd.DataFrame:
    """A completed review, checked against the exported ``sheet`` (frames or paths).

    Returns one row per row of ``completed``: ``id_a, id_b, decision`` (``match``,
    ``non-match``, ``unsure`` or ``""`` when not reviewed; case, spaces and ``_`` are
    forgiven), and ``match_weight, match_probability`` as exported (whatever the reviewers
    did to those columns). Rows may be in any order and some may be left out. A
    :class:`ReviewError` names the row (``row k`` counts data rows from 1, ``line`` is the
    line of a CSV file) of any unknown decision, any pair that is not in the sheet and any
    pair given twice.
    """
    done, where = _table(completed, "completed review")
    exp, exp_where = _table(sheet, "review sheet")
    _need(done, _KEY + ["decision"], where)
    _need(exp, _KEY + ["match_weight", "match_probability"], exp_where)
    ea, eb = exp["id_a"].astype(str).tolist(), exp["id_b"].astype(str).tolist()
    index = {(x, y): k for k, (x, y) in enumerate(zip(ea, eb))}
    if len(index) != len(exp):
        raise ReviewError(f"{exp_where}: the review sheet lists a pair twice")
    seen: dict[tuple[str, str], int] = {}
    rows, decisions = [], []
    ids_a = done["id_a"].tolist()
    ids_b = done["id_b"].tolist()
    for k, (x, y, v) in enumerate(zip(ids_a, ids_b, done["decision"].tolist())):
        at = f"{where}, row {k + 1} (line {k + 2}, id_a={x}, id_b={y})"
        d = _decision(v)
        if d is None:
            raise ReviewError(f"{at}: decision {str(v)[:40]!r} is not one of "
                              f"{', '.join(DECISIONS)} (or blank: not reviewed)")
        key = (str(x), str(y))
        if key not in index:
            raise ReviewError(f"{at}: this pair is not in the review sheet {exp_where}")
        if key in seen:
            raise ReviewError(f"{at}: the pair is also on row {seen[key] + 1}; give each "
                              "pair once")
        seen[key] = k
        rows.append(index[key])
        decisions.append(d)
    pos = np.asarray(rows, dtype=np.int64)
    return pd.DataFrame({
        "id_a": np.asarray(ea, dtype=object)[pos] if len(pos) else np.zeros(0, object),
        "id_b": np.asarray(eb, dtype=object)[pos] if len(pos) else np.zeros(0, object),
        "decision": np.asarray(decisions, dtype=object),
        "match_weight": exp["match_weight"].astype(float).to_numpy()[pos],
        "match_probability": exp["match_probability"].astype(float).to_numpy()[pos],
    })


@dataclass
class ReviewSummary:
    """What a completed review says about the band (see :func:`assess`)."""

    counts: dict[str, int]
    """Pairs per decision (``match``, ``non-match``, ``unsure``, ``not reviewed``)."""
    precision: float
    """Share of matches among the pairs decided match or non-match (NaN when none)."""
    expected_precision: float
    """The model's own estimate of that share: the mean match probability of those pairs."""
    by_weight: pd.DataFrame
    """Per weight bin: ``weight_from, weight_to, pairs, match, non_match, unsure,
    precision, mean_probability``."""
    threshold: float
    """The match weight ``t`` (one of the decided pairs' weights) that makes the fewest
    errors among the decided pairs when pairs with weight ``>= t`` are links (the lowest
    such ``t``; just above the highest decided weight when no decided pair should be a
    link)."""
    errors: int
    """Errors among the decided pairs at ``threshold``."""
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        c = self.counts
        head = (f"review of {sum(c.values())} pairs: {c['match']} match, {c['non-match']} "
                f"non-match, {c['unsure']} unsure, {c['not reviewed']} not reviewed")
        if c["match"] + c["non-match"] == 0:
            return head + "; no pair decided match or non-match yet"
        return (f"{head}; precision {self.precision:.3f} (model's estimate "
                f"{self.expected_precision:.3f}); fewest errors ({self.errors}) with links "
                f"at weight >= {self.threshold:.2f}")


def assess(decisions: pd.DataFrame, *, bins: int = 5) -> ReviewSummary:
    """Precision of the reviewed band, per weight bin against the model's probability, and
    the threshold the decisions favour; ``decisions`` from :func:`read`."""
    _need(decisions, _KEY + ["decision", "match_weight", "match_probability"], "decisions")
    d = decisions["decision"].astype(str).to_numpy()
    w = decisions["match_weight"].to_numpy(dtype=np.float64)
    p = decisions["match_probability"].to_numpy(dtype=np.float64)
    counts = {k: int((d == k).sum()) for k in DECISIONS}
    counts["not reviewed"] = int(len(d) - sum(counts.values()))
    is_m, is_n = d == "match", d == "non-match"
    decided = is_m | is_n
    n_dec = int(decided.sum())
    precision = float(is_m.sum() / n_dec) if n_dec else float("nan")
    expected = float(p[decided].mean()) if n_dec else float("nan")
    rows = []
    if len(w):
        edges = np.linspace(w.min(), w.max(), max(int(bins), 1) + 1)
        k = np.clip(np.searchsorted(edges, w, side="right") - 1, 0, len(edges) - 2)
        for j in range(len(edges) - 1):
            s = k == j
            dm, dn = int((s & is_m).sum()), int((s & is_n).sum())
            rows.append(dict(weight_from=float(edges[j]), weight_to=float(edges[j + 1]),
                             pairs=int(s.sum()), match=dm, non_match=dn,
                             unsure=int((s & (d == "unsure")).sum()),
                             precision=dm / (dm + dn) if dm + dn else float("nan"),
                             mean_probability=float(p[s & decided].mean())
                             if (s & decided).any() else float("nan")))
    by_weight = pd.DataFrame(rows, columns=["weight_from", "weight_to", "pairs", "match",
                                            "non_match", "unsure", "precision",
                                            "mean_probability"])
    # errors at threshold t (links: weight >= t): non-matches at or above + matches below
    above = np.nextafter(float(w[decided].max()), np.inf) if n_dec else np.inf
    cand = np.unique(np.concatenate([w[decided], [above]]))
    errs = np.array([int((is_n & (w >= t)).sum() + (is_m & (w < t)).sum()) for t in cand])
    best = int(np.argmin(errs)) if len(errs) else 0
    notes = []
    if n_dec and abs(precision - expected) > 0.1:
        notes.append(f"the model's probabilities are off in this band: it expects "
                     f"{expected:.2f} precision, the reviewers found {precision:.2f}; "
                     "re-fitting with the decisions (refit) uses them")
    return ReviewSummary(counts, precision, expected, by_weight, float(cand[best]),
                         int(errs[best]) if len(errs) else 0, notes)


def refit(result: LinkResult | DedupeResult, a: EncodedFrame, b: EncodedFrame | None,
          decisions: pd.DataFrame, *, band: tuple[float, float] | None = None
          ) -> FellegiSunter:
    """A copy of ``result.model`` re-fitted with the reviewed pairs as training data.

    One EM M-step from the fitted model in which the reviewed pairs count with their
    labels instead of the model's match probabilities: the model expects ``N = sum p`` of
    its candidate pairs (``result.scores``, ``keep_scores=True``) to be matches, with
    ``N * m[f][l]`` of them at level ``l`` of comparison ``f``; a pair decided ``match``
    adds ``1 - p`` at each of its levels, one decided ``non-match`` takes ``p`` away
    (``p`` its match probability), so ``m[f][l] = (N m[f][l] + s sum (y - p) [level = l])
    / (N + s sum (y - p))``, made monotone again. The decided pairs stand for the whole
    weight ``band`` they were drawn from (default: the lowest to the highest weight in
    ``decisions``): ``s`` is the number of candidate pairs in the band over the number
    decided (1 when every pair of the band was decided; more when :func:`export` took a
    sample with ``max_pairs`` or reviewers left pairs out). ``unsure`` and unreviewed pairs keep the
    model's view, so with no disagreement the model is unchanged. ``u`` (from random pairs)
    is kept: reviewed pairs are a vanishing share of all non-matching pairs. An EM prior is
    scaled by ``(N + sum (y - p)) / N``; a prior from a match-key rule is kept. See
    ``docs/matching.md`` ("Clerical review") for why this method and its measured effect.
    Score with the result by passing ``model=`` to :func:`nislink.link`.
    """
    scores = _scores(result)
    b = _frames(result, a, b)
    bb = a if b is None else b
    _need(decisions, _KEY + ["decision"], "decisions")
    old = result.model
    model = FellegiSunter.from_dict(old.to_dict())
    ia = scores["ia"].to_numpy(dtype=np.int64)
    ib = scores["ib"].to_numpy(dtype=np.int64)
    p = scores["match_probability"].to_numpy(dtype=np.float64)
    pos_a = {x: k for k, x in enumerate(a.ids.astype(str).tolist())}
    pos_b = pos_a if b is None else {x: k for k, x in enumerate(bb.ids.astype(str).tolist())}
    width = np.int64(len(bb))
    row = {int(k): r for r, k in enumerate((ia * width + ib).tolist())}
    label = np.full(len(ia), np.nan)
    for k, (x, y, v) in enumerate(zip(decisions["id_a"].astype(str),
                                      decisions["id_b"].astype(str),
                                      decisions["decision"].astype(str))):
        if v not in ("match", "non-match"):
            continue
        i, j = pos_a.get(x), pos_b.get(y)
        r = None if i is None or j is None else row.get(int(i * width + j))
        if r is None and b is None and i is not None and j is not None:
            r = row.get(int(j * width + i))
        if r is None:
            raise ReviewError(f"decisions, row {k + 1} (id_a={x}, id_b={y}): the pair is not "
                              "among the result's candidate pairs")
        label[r] = 1.0 if v == "match" else 0.0
    known = np.flatnonzero(~np.isnan(label))
    if not len(known):
        raise ReviewError("no pair is decided match or non-match: nothing to re-fit with")
    if band is None:
        w_dec = decisions["match_weight"].astype(float) if "match_weight" in decisions \
            else scores["match_weight"].iloc[known]
        band = (float(np.min(w_dec)), float(np.max(w_dec)))
    w = scores["match_weight"].to_numpy(dtype=np.float64)
    in_band = int(((w >= band[0]) & (w <= band[1])).sum())
    scale = max(in_band, len(known)) / len(known)
    n_exp = float(p.sum())
    delta = scale * (label[known] - p[known])
    n_new = n_exp + float(delta.sum())
    if n_new <= 0:
        raise ReviewError("the decisions leave no expected match among the candidates")
    lev = model.levels(a, b, ia, ib)[known]
    for j, c in enumerate(model.comparisons):
        col = lev[:, j].astype(np.int64)
        ok = col >= 0
        mm = n_exp * np.asarray(old.m[c.name], dtype=np.float64)
        mm += np.bincount(col[ok], weights=delta[ok], minlength=c.n_levels)[:c.n_levels]
        mm = np.clip(mm, 1e-9 * max(n_new, 1.0), None)
        mm, _ = monotone_m(mm / mm.sum(), np.asarray(old.u[c.name], dtype=np.float64),
                           partial=bool(c.rungs))
        model.m[c.name] = mm.tolist()
    if str(model.info.get("prior_source", "em")) == "em" and model.prior is not None:
        model.prior = min(model.prior * n_new / n_exp, 0.5)
    model.info["review_refit"] = {
        "match": int((label == 1.0).sum()), "non-match": int((label == 0.0).sum()),
        "band": [float(band[0]), float(band[1])], "band_pairs": in_band, "scale": scale,
        "expected_matches_before": n_exp, "expected_matches_after": n_new,
    }
    return model

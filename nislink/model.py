"""Fellegi-Sunter scoring on encodings (fifth pipeline stage).

The linkage unit sees keyed encodings only. For each candidate pair and each field the
model observes a *comparison level*: the Dice similarity of the two field-level Bloom
filters binned by thresholds (default ``>= 0.95 / >= 0.85 / >= 0.70 / else``), a top level
"token equal" when both records carry the same exact-match keyed token for the field, and
"missing" when either side has no value (missing contributes no evidence).

Parameters, as in Splink and fastLink:

* ``u[f][l]`` = P(level ``l`` on field ``f`` | non-match), estimated from uniformly random
  record pairs (seeded, deterministic): random pairs are almost all non-matches;
* ``m[f][l]`` = P(level ``l`` | match), estimated by expectation-maximisation (EM) in
  sessions (pairs sharing one exact token, that token's field left out of the likelihood),
  then a last EM over the candidate pairs; pairs are *compressed* to their distinct
  comparison patterns with a count per pattern, so millions of pairs cost only a few
  thousand rows of arithmetic;
* the prior ``lambda`` = P(two random records match), from a deterministic rule (pairs that
  agree on a strong match key) or derived from EM's estimate of matches among candidates;
* term-frequency (TF) adjustment for exact tokens: agreement on a common value is weaker
  evidence than agreement on a rare one, so at the "token equal" level ``u`` is replaced by
  the value's relative frequency (the Splink convention);
* pairwise dependence terms (:meth:`FellegiSunter.estimate_dependence`): members of a
  household share surname and postcode, so agreement on both is far weaker evidence than
  the product of the two Bayes factors; the excess is counted exactly from token values and
  subtracted.

The match weight of a pair is ``log2(lambda / (1 - lambda)) + sum_f log2(m_f / u_f)``
(minus any dependence terms) and the match probability is ``2^w / (1 + 2^w)``.
:meth:`FellegiSunter.explain` breaks any pair
into its per-field contributions (a table ready for a waterfall chart). Models are saved and
loaded as JSON; no token value or frequency table is ever written into a saved model.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nislink.block import TokenBlocking, candidate_pairs
from nislink.compare import dice_pairs
from nislink.frame import EncodedFrame
from nislink.layout import (
    date_levels_of,
    fallbacks_of,
    level_token_names,
    match_key_names,
    schema_of,
    view_token_names,
    views_of,
)
from nislink.schema import field_swaps

__all__ = [
    "CLK_THRESHOLDS",
    "DEFAULT_THRESHOLDS",
    "MISSING",
    "RECORD_FILTER",
    "RECORD_RANK",
    "CandidatePatterns",
    "FieldComparison",
    "FellegiSunter",
    "Model",
    "comparisons_for",
    "compress_patterns",
    "em_fit",
    "random_pairs",
    "session_pairs_for",
    "monotone_m",
    "tf_log2",
]

#: Default Dice thresholds, highest first.
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.95, 0.85, 0.70)
#: Dice bands of the record-level filter (CLK) comparison, highest first: every 0.02 from
#: 0.98 down to 0.30 (see :func:`comparisons_for`). Narrow bands because a CLK is one
#: comparison carrying all the evidence: the non-matches' Dice falls off steeply (on
#: FEBRL4 with the clkhash schema, 62% of the non-matches above 0.60 lie below 0.62 and
#: 0.3% above 0.70), so a band 0.05 wide would pool pairs whose odds differ a hundredfold.
CLK_THRESHOLDS: tuple[float, ...] = tuple(round(0.98 - 0.02 * k, 2) for k in range(35))
#: Name of the comparison on the record-level filter (``EncodedFrame.clk``).
RECORD_FILTER = "clk"
#: Name of the comparison of a pair's rank among the candidates (CLK-only frames).
RECORD_RANK = "clk_rank"
_RANK_LABELS = ["best of neither", "best of one record", "best of both records"]
#: Level code for "missing on either side" in comparison matrices.
MISSING = -1
_FLOOR = 1e-9
_FORMAT = "nislink-fellegi-sunter"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class FieldComparison:
    """How one field is compared.

    ``field`` names a Bloom-filter field of the frames (``EncodedFrame.fields``) and
    ``token`` an exact-match token (``EncodedFrame.tokens``); at least one must be given.
    Levels run from ``0`` (worst) upwards: ``dice < t_last``, ``dice >= t_last``, ...,
    ``dice >= t_first``, then ``token equal`` when a token is given. A token-only comparison
    has two levels: ``token differs`` and ``token equal``. ``tf_adjust`` applies
    term-frequency adjustment at the ``token equal`` level.
    """

    name: str
    field: str | None = None
    token: str | None = None
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    tf_adjust: bool = False
    fallback: tuple[tuple[str, str], ...] = ()
    """Views ``((filter, tag token), ...)`` tried, after ``views``, only for pairs in which a
    record has no primary tag (no primary salt: its date of birth is missing)."""
    views: tuple[tuple[str, str], ...] = ()
    """Salted views ``((filter, tag token), ...)``, primary first (see
    :func:`nislink.schema.field_views`): a pair is compared on the first view whose tag
    tokens are equal on both sides (the two records share that salt), with the view's own
    exact token when the frames have one; a pair sharing no salt is missing (weight 0)."""

    swaps: tuple[tuple[str, str], ...] = ()
    """``((tag token, swap token), ...)``: under a view whose tag the pair shares, a pair
    whose swap token (two names as an unordered pair, salted alike) is equal is at the top
    level: forename and surname recorded the other way round
    (:attr:`nislink.schema.FieldSpec.swap_with`)."""
    rungs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Near-miss levels between ``token equal`` and the worst level, highest first:
    ``((label, (token, ...)), ...)``. A pair is at a rung when any of the rung's tokens is
    equal (and non-zero) on both sides (e.g. a date's day-and-month-transposed token,
    :data:`nislink.schema.DATE_LEVELS`). Needs ``token`` and no ``field``: the levels are
    ``else``, the rungs from lowest to highest, ``token equal``."""
    record: bool = False
    """Compare the record-level filters (``EncodedFrame.clk``, a CLK) instead of a
    field-level filter: ``field`` is then only a label (:data:`RECORD_FILTER`) and no token,
    view or rung may be given."""
    relative: bool = False
    """With ``record``: the level is the pair's *rank* among the pairs compared together
    (the candidates): ``0`` neither record's most similar candidate (highest CLK Dice),
    ``1`` one record's, ``2`` both records' (ties count as most similar). It depends on the
    whole set of pairs passed to :meth:`levels`, not on the pair alone: it is what lets EM
    tell matches from non-matches on a CLK, the one-to-one structure of a linkage (see
    :func:`comparisons_for`); ``thresholds`` are ignored. Levels must therefore be computed
    over the whole candidate set at once (``link`` and ``dedupe`` do; :meth:`explain` on
    one pair always sees "best of both")."""

    def __post_init__(self) -> None:
        if self.field is None and self.token is None:
            raise ValueError(f"comparison {self.name!r} needs a field or a token")
        th = tuple(float(t) for t in self.thresholds)
        if self.field is not None:
            if not th:
                raise ValueError(f"comparison {self.name!r}: give at least one Dice threshold")
            if any(not 0.0 < t <= 1.0 for t in th) or list(th) != sorted(set(th), reverse=True):
                raise ValueError(
                    f"comparison {self.name!r}: thresholds must be distinct, in (0, 1], "
                    f"highest first; got {th}"
                )
        else:
            th = ()
        object.__setattr__(self, "thresholds", th)
        views = tuple((str(f), str(t)) for f, t in self.views)
        object.__setattr__(self, "views", views)
        object.__setattr__(self, "fallback",
                           tuple((str(f), str(t)) for f, t in self.fallback))
        if self.fallback and not views:
            raise ValueError(f"comparison {self.name!r}: fallback views need views")
        if views and self.field is None:
            raise ValueError(f"comparison {self.name!r}: views need a filter field")
        if self.tf_adjust and self.token is None:
            raise ValueError(f"comparison {self.name!r}: tf_adjust needs a token")
        object.__setattr__(self, "swaps", tuple((str(t), str(w)) for t, w in self.swaps))
        if self.swaps and not views:
            raise ValueError(f"comparison {self.name!r}: swap tokens need views")
        rungs = tuple((str(label), tuple(str(t) for t in toks)) for label, toks in self.rungs)
        object.__setattr__(self, "rungs", rungs)
        if rungs and (self.field is not None or self.token is None):
            raise ValueError(f"comparison {self.name!r}: rungs need a token and no field")
        if any(not toks for _, toks in rungs):
            raise ValueError(f"comparison {self.name!r}: every rung needs a token")
        if self.relative and not self.record:
            raise ValueError(f"comparison {self.name!r}: relative needs record")
        if self.record and (self.field is None or self.token is not None or views
                            or rungs):
            raise ValueError(f"comparison {self.name!r}: a record-level (CLK) comparison "
                             "needs a field label and no token, views or rungs")

    @property
    def inputs(self) -> tuple[list[str], list[str]]:
        """The filters and tokens this comparison reads (views' filters, tags and tokens
        included): ``(fields, tokens)``."""
        fields = [self.field] if self.field is not None else []
        tokens = [self.token] if self.token is not None else []
        for f, t in self.views + self.fallback:
            if f not in fields:
                fields.append(f)
            tokens.append(t)
            if self.token is not None and f not in tokens:
                tokens.append(f)
        for _, toks in self.rungs:
            tokens.extend(toks)
        tokens.extend(w for _, w in self.swaps)
        return fields, tokens

    @property
    def n_levels(self) -> int:
        """Number of non-missing levels."""
        if self.field is None:
            return 2 + len(self.rungs)
        if self.relative:
            return len(_RANK_LABELS)
        return len(self.thresholds) + 1 + (1 if self.token is not None else 0)

    @property
    def labels(self) -> list[str]:
        """Human-readable label of each level, worst first."""
        if self.relative:
            return list(_RANK_LABELS)
        if self.field is None:
            if self.rungs:
                return ["else"] + [label for label, _ in reversed(self.rungs)] + ["exact"]
            return ["token differs", "token equal"]
        th = list(reversed(self.thresholds))
        out = [f"dice < {th[0]:g}"] + [f"dice >= {t:g}" for t in th]
        if self.token is not None:
            out.append("token equal")
        return out

    def levels(
        self, a: EncodedFrame, b: EncodedFrame, ia: np.ndarray, ib: np.ndarray
    ) -> np.ndarray:
        """Comparison level (``int8``, ``-1`` = missing) of each pair ``(a[ia], b[ib])``."""
        if self.relative:
            return _rank_levels(a, b, ia, ib)
        if not self.views:
            return self._levels_on(a, b, ia, ib, self.field, self.token)
        out = np.full(len(ia), MISSING, dtype=np.int8)
        todo = np.arange(len(ia))
        primary = self.views[0][1]
        no_primary = (_get_token(a, primary, "a")[ia] == 0) | (_get_token(b, primary, "b")[ib] == 0)
        swaps = dict(self.swaps)
        for k, (fname, tag) in enumerate(self.views + self.fallback):
            if k == len(self.views):  # fallback views: only pairs lacking a primary salt
                todo = todo[no_primary[todo]]
            if not len(todo):
                break
            ta = _get_token(a, tag, "a")[ia[todo]]
            tb = _get_token(b, tag, "b")[ib[todo]]
            same = (ta != 0) & (ta == tb)
            if not same.any():
                continue
            sel = todo[same]
            tok = fname if (self.token is not None and fname in a.tokens
                            and fname in b.tokens) else None
            out[sel] = self._levels_on(a, b, ia[sel], ib[sel], fname, tok)
            swap = swaps.get(tag)
            if swap is not None:  # the two names the other way round, salted alike
                wa = _get_token(a, swap, "a")[ia[sel]]
                wb = _get_token(b, swap, "b")[ib[sel]]
                out[sel[(wa != 0) & (wa == wb)]] = np.int8(self.n_levels - 1)
            todo = todo[~same]
        return out

    def _levels_on(
        self, a: EncodedFrame, b: EncodedFrame, ia: np.ndarray, ib: np.ndarray,
        field: str | None, token: str | None,
    ) -> np.ndarray:
        n = len(ia)
        out = np.full(n, MISSING, dtype=np.int8)
        if field is not None:
            if self.record:
                fa, fb = _get_clk(a, "a"), _get_clk(b, "b")
            else:
                fa, fb = _get_field(a, field, "a"), _get_field(b, field, "b")
            both = fa.present[ia] & fb.present[ib]
            if both.any():
                d = dice_pairs(fa, fb, ia[both], ib[both])
                lev = np.zeros(len(d), dtype=np.int8)
                for t in reversed(self.thresholds):  # low to high
                    lev += (d >= np.float32(t)).astype(np.int8)
                out[both] = lev
        if token is not None:
            ta, tb = _get_token(a, token, "a")[ia], _get_token(b, token, "b")[ib]
            tboth = (ta != 0) & (tb != 0)
            top = np.int8(self.n_levels - 1)
            equal = tboth & (ta == tb)
            out[equal] = top
            if self.field is None:
                out[tboth & ~equal] = 0
                todo = np.flatnonzero(tboth & ~equal)
                for r, (_, toks) in enumerate(self.rungs):  # highest first
                    if not len(todo):
                        break
                    hit = np.zeros(len(todo), dtype=bool)
                    for t in toks:
                        ra = _get_token(a, t, "a")[ia[todo]]
                        rb = _get_token(b, t, "b")[ib[todo]]
                        hit |= (ra != 0) & (ra == rb)
                    out[todo[hit]] = np.int8(len(self.rungs) - r)
                    todo = todo[~hit]
            else:
                # token present on both sides but filter missing: differs -> worst level
                out[tboth & ~equal & (out == MISSING)] = 0
        return out


def _get_field(enc: EncodedFrame, name: str, side: str):  # type: ignore[no-untyped-def]
    try:
        return enc.fields[name]
    except KeyError:
        raise KeyError(
            f"frame {side} has no encoded field {name!r} (has {sorted(enc.fields)})"
        ) from None


def _rank_levels(a: EncodedFrame, b: EncodedFrame, ia: np.ndarray, ib: np.ndarray
                 ) -> np.ndarray:
    """Rank level of each pair among the pairs given (see ``FieldComparison.relative``)."""
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    fa, fb = _get_clk(a, "a"), _get_clk(b, "b")
    out = np.full(len(ia), MISSING, dtype=np.int8)
    both = fa.present[ia] & fb.present[ib]
    if not both.any():
        return out
    ka, kb = ia[both], ib[both]
    d = dice_pairs(fa, fb, ka, kb).astype(np.float64)
    if a is b:  # de-duplication: a record's candidates are the pairs it is on either side of
        best = np.full(len(a), -1.0)
        np.maximum.at(best, ka, d)
        np.maximum.at(best, kb, d)
        best_a, best_b = best, best
    else:
        best_a, best_b = np.full(len(a), -1.0), np.full(len(b), -1.0)
        np.maximum.at(best_a, ka, d)
        np.maximum.at(best_b, kb, d)
    out[both] = (d >= best_a[ka]).astype(np.int8) + (d >= best_b[kb]).astype(np.int8)
    return out


def _u_to_all_pairs(comparisons: list[FieldComparison], u: list[np.ndarray],
                    u0: list[np.ndarray], lev: np.ndarray, lam: float, n_cand: int,
                    total: int) -> list[np.ndarray]:
    """``u`` of a CLK's Dice bands, re-estimated on the candidates, turned back into
    ``u`` over all record pairs, so that it goes with the prior over all pairs.

    Among the non-matches, a share ``rho = (1 - lambda) * candidates / (pairs - lambda *
    candidates)`` are candidates: the bands the candidates fill get ``rho`` times their
    EM estimate, the bands below the blocking threshold share ``1 - rho`` in proportion to
    the random pairs' ``u`` (``u0``). The rank comparison is left as it is: it is defined
    among the candidates only, and the candidates' share is counted once, here.
    """
    rho = (1.0 - lam) * n_cand / max(total - lam * n_cand, 1.0)
    rho = min(max(rho, _FLOOR), 1.0)
    out = []
    for j, (c, uu) in enumerate(zip(comparisons, u)):
        if not c.record or c.relative:
            out.append(uu)
            continue
        seen = np.bincount(lev[:, j][lev[:, j] >= 0].astype(np.int64),
                           minlength=c.n_levels)[:c.n_levels] > 0
        g = np.zeros(c.n_levels, dtype=np.float64)
        g[seen] = uu[seen] / max(float(uu[seen].sum()), _FLOOR) * rho
        rest = np.asarray(u0[j], dtype=np.float64)[~seen]
        if len(rest):
            g[~seen] = rest / max(float(rest.sum()), _FLOOR) * (1.0 - rho)
        out.append(np.clip(g, _FLOOR, None) / np.clip(g, _FLOOR, None).sum())
    return out


def _get_clk(enc: EncodedFrame, side: str):  # type: ignore[no-untyped-def]
    if enc.clk is None:
        raise KeyError(f"frame {side} has no record-level filter (CLK) to compare")
    return enc.clk


def _get_token(enc: EncodedFrame, name: str, side: str) -> np.ndarray:
    try:
        return enc.tokens[name]
    except KeyError:
        raise KeyError(f"frame {side} has no token {name!r} (has {sorted(enc.tokens)})") from None


def comparisons_for(
    a: EncodedFrame,
    b: EncodedFrame | None = None,
    *,
    dice_levels: dict[str, tuple[float, ...]] | tuple[float, ...] | None = None,
    tf_adjust: bool | list[str] = True,
    exclude: list[str] | tuple[str, ...] = (),
    token_fields: list[str] | tuple[str, ...] | None = None,
    thresholds: dict[str, tuple[float, ...]] | tuple[float, ...] | None = None,
) -> list[FieldComparison]:
    """Default comparisons for two frames: one per Bloom-filter field in both frames.

    ``dice_levels`` are the Dice similarities that bound each filter comparison's levels
    (one tuple for every field, or a dict per field; default
    :data:`DEFAULT_THRESHOLDS`); ``tf_adjust`` (on by default, as in
    :func:`nislink.linkage.link`) adjusts exact-token agreement by term frequency.
    ``thresholds`` is the first release's name for ``dice_levels`` (deprecated).

    A field also gets a "token equal" level when a token of the same name exists in both
    frames. Tokens listed in ``token_fields`` (e.g. an identifier such as NI number encoded
    only as a keyed token) become token-only comparisons; by default these are the tokens
    of both frames that are neither a field nor a match key (match keys are read from
    ``meta["match_keys"]`` or ``meta["schema"]["match_keys"]``; they are not compared, as
    their evidence is already counted in the fields).
    """
    if thresholds is not None:
        warnings.warn("comparisons_for(thresholds=...) is deprecated: use dice_levels=...",
                      DeprecationWarning, stacklevel=2)
        dice_levels = thresholds if dice_levels is None else dice_levels
    thresholds = dice_levels
    b = a if b is None else b
    excl = set(exclude)
    out: list[FieldComparison] = []
    tf_set = set(tf_adjust) if isinstance(tf_adjust, (list, tuple, set)) else None

    def th_for(name: str) -> tuple[float, ...]:
        if thresholds is None:
            return DEFAULT_THRESHOLDS
        if isinstance(thresholds, dict):
            return tuple(thresholds.get(name, DEFAULT_THRESHOLDS))
        return tuple(thresholds)

    def tf_for(name: str, has_token: bool) -> bool:
        if not has_token:
            return False
        return name in tf_set if tf_set is not None else bool(tf_adjust)

    views = views_of(a, b)
    fallbacks = fallbacks_of(a, b)
    view_names = {f for vs in views.values() for f, _ in vs[1:]} | {
        f for vs in fallbacks.values() for f, _ in vs}
    dates = date_levels_of(a, b)
    swaps = field_swaps(schema_of(a)) if schema_of(a) == schema_of(b) else {}
    for name in a.fields:
        if name in excl or name not in b.fields or name in view_names:
            continue
        tok = name if (name in a.tokens and name in b.tokens) else None
        if name in dates and tok is not None:
            # near-miss date levels on keyed tokens (exact, transposed, one digit, ...)
            out.append(FieldComparison(name, token=tok, rungs=tuple(
                (label, tuple(toks)) for label, toks in dates[name])))
            continue
        if name in views:
            # salted views: the salted exact tokens carry no name frequency to adjust by
            sw = swaps.get(name, {})
            out.append(FieldComparison(
                name, field=name, token=tok, thresholds=th_for(name),
                views=tuple(views[name]), fallback=tuple(fallbacks.get(name, ())),
                swaps=tuple((t, w) for _, t in views[name] + list(fallbacks.get(name, ()))
                            if (w := sw.get(t)) is not None
                            and w in a.tokens and w in b.tokens)))
            continue
        out.append(FieldComparison(name, field=name, token=tok, thresholds=th_for(name),
                                   tf_adjust=tf_for(name, tok is not None)))
    if token_fields is None:
        skip = match_key_names(a) | match_key_names(b) | view_token_names(a) \
            | view_token_names(b) | level_token_names(a) | level_token_names(b)
        token_fields = [t for t in a.tokens if t not in a.fields and t not in skip
                        and t in b.tokens]
    for name in token_fields:
        if name in excl or name in a.fields:
            continue
        if name not in a.tokens or name not in b.tokens:
            raise KeyError(f"token field {name!r} is not in both frames")
        out.append(FieldComparison(name, token=name, tf_adjust=tf_for(name, True)))
    if not out and a.clk is not None and b.clk is not None and RECORD_FILTER not in excl:
        # CLK-only frames (clkhash output, Schema.from_clkhash): Dice bands on the CLK
        th = CLK_THRESHOLDS if thresholds is None or (
            isinstance(thresholds, dict) and RECORD_FILTER not in thresholds) \
            else th_for(RECORD_FILTER)
        out.append(FieldComparison(RECORD_FILTER, field=RECORD_FILTER, record=True,
                                   thresholds=th))
        if RECORD_RANK not in excl:
            out.append(FieldComparison(RECORD_RANK, field=RECORD_FILTER, record=True,
                                       relative=True))
    if not out:
        raise ValueError("the two frames share no encoded field to compare")
    return out


def _u_from_histograms(c: FieldComparison, a: EncodedFrame, b: EncodedFrame) -> np.ndarray | None:
    """``u`` of a salted comparison from the data owners' histograms (``meta["u_hist"]``,
    made by the encoder from random pairs of each file's own records, unsalted): the two
    files' counts are added up and binned into the comparison's Dice levels (``None`` when
    either file has no histogram for the field)."""
    hs = []
    for e in (a,) if a is b else (a, b):
        h = ((e.meta or {}).get("u_hist") or {}).get(c.field or "")
        if not h or not h.get("pairs"):
            return None
        hs.append(h)
    permille = np.sum([np.asarray(h["dice_permille"], dtype=np.float64) for h in hs], axis=0)
    equal = float(sum(h["equal"] for h in hs))
    pairs = float(sum(h["pairs"] for h in hs))
    edges = np.arange(len(permille)) / 1000.0
    level = np.zeros(len(permille), dtype=np.int64)
    for t in c.thresholds:
        level += edges >= np.float32(t) - 1e-9
    cnt = np.bincount(level, weights=permille, minlength=c.n_levels).astype(np.float64)
    if c.token is not None:
        cnt[c.n_levels - 1] += equal
    else:
        cnt[len(c.thresholds)] += equal
    return (cnt + 0.5) / (pairs + 0.5 * c.n_levels)


def _u_within_files(c: FieldComparison, a: EncodedFrame, b: EncodedFrame, n_pairs: int,
                    seed: int) -> np.ndarray:
    """``u`` of a CLK comparison from random pairs of two different records of the *same*
    file (half from each file).

    Linking two files, a random cross-file pair is a true match with probability about
    ``1 / n``: few, but on a CLK they are nearly all the random pairs with a high Dice, so
    ``u`` of the top bands would be the matches' own rate and their weight would cancel
    the prior. Within one file free of duplicates (the assumption one-to-one linkage
    makes), two different records are different people: their Dice is the non-matches'.
    """
    cnt = np.zeros(c.n_levels, dtype=np.float64)
    for k, e in enumerate((a, b)):
        ia, ib = random_pairs(len(e), None, max(n_pairs // 2, 1), seed=seed + k)
        col = c.levels(e, e, ia, ib)
        cnt += np.bincount(col[col >= 0].astype(np.int64), minlength=c.n_levels)
    return (cnt + 0.5) / (cnt.sum() + 0.5 * c.n_levels)


def _exclusion_tokens(a: EncodedFrame, b: EncodedFrame) -> list[str]:
    """Tokens that nearly only true matches share: match keys, identifiers (a token with no
    filter, other than sex) and date-of-birth tokens."""
    views = view_token_names(a) | view_token_names(b)
    shared = set(a.tokens) & set(b.tokens)
    keys = (match_key_names(a) | match_key_names(b)) & shared
    kinds = {f.get("name"): f.get("kind") for f in (schema_of(a) or {}).get("fields") or []}
    extra = {t for t in shared if t not in views and kinds.get(t) in ("dob", "nino", "upn")}
    return sorted(keys | extra)


def comparison_matrix(
    comparisons: list[FieldComparison],
    a: EncodedFrame,
    b: EncodedFrame,
    ia: np.ndarray,
    ib: np.ndarray,
) -> np.ndarray:
    """The ``(n_pairs, n_fields)`` ``int8`` level matrix (``-1`` = missing)."""
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    if ia.shape != ib.shape or ia.ndim != 1:
        raise ValueError(f"ia and ib must be 1-D and equal length, got {ia.shape}, {ib.shape}")
    out = np.empty((len(ia), len(comparisons)), dtype=np.int8)
    for j, c in enumerate(comparisons):
        out[:, j] = c.levels(a, b, ia, ib)
    return out


def compress_patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of an ``int8`` level matrix with their counts.

    Returns ``(patterns, counts, inverse)`` where ``patterns[inverse] == levels``. Rows are
    packed into one ``int64`` key per pair (mixed radix) before :func:`numpy.unique`, so
    this is fast for millions of pairs.
    """
    levels = np.asarray(levels, dtype=np.int8)
    n, k = levels.shape
    if n == 0:
        return levels.copy(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    radix = (levels.max(axis=0).astype(np.int64) + 2).clip(min=2)
    if float(np.prod(radix.astype(np.float64))) < 2.0**62:
        key = np.zeros(n, dtype=np.int64)
        for j in range(k):
            key *= radix[j]
            key += levels[:, j].astype(np.int64) + 1
        uniq, first, inverse, counts = np.unique(
            key, return_index=True, return_inverse=True, return_counts=True
        )
        return levels[first], counts.astype(np.int64), inverse.astype(np.int64)
    pats, inverse, counts = np.unique(levels, axis=0, return_inverse=True, return_counts=True)
    return pats, counts.astype(np.int64), inverse.reshape(-1).astype(np.int64)


def _log_lik(patterns: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(len(patterns), dtype=np.float64)
    for j, p in enumerate(probs):
        col = patterns[:, j].astype(np.int64)
        ok = col >= 0
        out[ok] += np.log(p[col[ok]])
    return out


def em_fit(
    patterns: np.ndarray,
    counts: np.ndarray,
    m: list[np.ndarray],
    u: list[np.ndarray],
    lam: float,
    *,
    fix_u: bool = True,
    fix: list[bool] | None = None,
    max_iter: int = 200,
    tol: float = 1e-6,
    pseudo_count: float = 0.5,
) -> tuple[list[np.ndarray], list[np.ndarray], float, int]:
    """Expectation-maximisation for the two-class mixture over compressed patterns.

    ``patterns`` is ``(K, F)`` ``int8`` (``-1`` = missing, ignored for that field) and
    ``counts`` the number of pairs with each pattern. ``m``/``u`` are per-field level
    probability arrays used as starting values; ``u`` is held fixed when ``fix_u``.
    ``fix[f]`` holds field ``f``'s ``m`` fixed (e.g. a field used for blocking).
    In the M-step for ``m`` the worst and the best level each get ``pseudo_count`` extra
    (expected) matches, and each level between them ``pseudo_count * L * u`` (``L``
    levels): a middle level never seen among the matches keeps a small ``m`` with a weight
    at or below 0, never a large positive one, however few matches there are to learn from
    (a flat pseudo-count gave a rare near-miss level, such as a transposed date, +11 bits on
    a small file), while complete disagreement keeps its small ``m`` (a pseudo-count in
    proportion to ``u`` there, where ``u`` is nearly 1, made a different date of birth
    cost 2 bits instead of 5 on a small file). ``u`` re-estimated (``fix_u`` false) gets
    ``pseudo_count`` per level. Returns ``(m, u, lambda, iterations)``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    m = [np.clip(np.asarray(x, dtype=np.float64), _FLOOR, None) for x in m]
    u = [np.clip(np.asarray(x, dtype=np.float64), _FLOOR, None) for x in u]
    m = [x / x.sum() for x in m]
    u = [x / x.sum() for x in u]
    lam = float(min(max(lam, 1e-9), 1 - 1e-9))
    fix = fix or [False] * len(m)
    it = 0
    for it in range(1, max_iter + 1):
        lm = _log_lik(patterns, m) + math.log(lam)
        lu = _log_lik(patterns, u) + math.log1p(-lam)
        g = 1.0 / (1.0 + np.exp(np.clip(lu - lm, -700, 700)))  # P(match | pattern)
        wm = counts * g
        wu = counts - wm
        new_lam = float(wm.sum() / counts.sum())
        new_m, new_u = [], []
        for j in range(len(m)):
            col = patterns[:, j].astype(np.int64)
            ok = col >= 0
            L = len(m[j])
            if fix[j]:
                new_m.append(m[j])
            else:
                prior = pseudo_count * L * u[j]
                prior[0] = prior[-1] = pseudo_count
                sm = np.bincount(col[ok], weights=wm[ok], minlength=L)[:L] + prior
                new_m.append(np.clip(sm / max(sm.sum(), _FLOOR), _FLOOR, None))
            if fix_u:
                new_u.append(u[j])
            else:
                su = np.bincount(col[ok], weights=wu[ok], minlength=L)[:L] + pseudo_count
                new_u.append(np.clip(su / max(su.sum(), _FLOOR), _FLOOR, None))
        delta = max(
            [abs(new_lam - lam)]
            + [float(np.abs(x - y).max()) for x, y in zip(new_m, m)]
            + [float(np.abs(x - y).max()) for x, y in zip(new_u, u)]
        )
        m, u, lam = new_m, new_u, min(max(new_lam, 1e-12), 1 - 1e-12)
        if delta < tol:
            break
    return m, u, lam, it


def monotone_m(m: np.ndarray, u: np.ndarray, *, partial: bool = False
               ) -> tuple[np.ndarray, list[int]]:
    """``m`` adjusted so that the weights ``log2(m / u)`` never fall as the level rises.

    Levels are ordered worst first. Adjacent levels that violate the order are pooled
    (pool-adjacent-violators on the likelihood ratio, weighted by ``u``): each level of a
    pooled block gets ``m = u * sum(m) / sum(u)`` over the block, so the block shares one
    weight and the total of ``m`` is unchanged. ``partial=True`` is for levels that are
    ordered only at the ends (near-miss date levels: *else* lowest, *exact* highest, the
    ones between not ordered among themselves): a middle level above *exact* is pooled
    with it, one below *else* with that. ``m`` stays at least ``1e-9`` (a finite weight):
    where a pooled level's ``m`` would fall under it (its ``u`` tiny), the ratios are raised
    in their order, so that level and every level above it keep the order. Returns ``(m,
    levels whose ratio changed)``.
    """
    m = np.asarray(m, dtype=np.float64).copy()
    u = np.asarray(u, dtype=np.float64)
    ratio = m / np.maximum(u, _FLOOR)
    before = ratio.copy()
    if partial:
        # grow a block around each end until no middle level lies outside them
        n = len(m)
        top, bottom = {n - 1}, {0}

        def pooled(block: set[int]) -> float:
            idx = sorted(block)
            return float(m[idx].sum() / max(u[idx].sum(), _FLOOR))

        while True:
            rt, rb = pooled(top), pooled(bottom)
            if rb > rt or top & bottom:
                ratio[:] = pooled(set(range(n)))
                break
            mids = [i for i in range(n) if i not in top and i not in bottom]
            up = {i for i in mids if ratio[i] > rt}
            down = {i for i in mids if ratio[i] < rb}
            for i in top:
                ratio[i] = rt
            for i in bottom:
                ratio[i] = rb
            if not up and not down:
                break
            top |= up
            bottom |= down
    else:
        # blocks of (sum m, sum u, size); merge while the last block's ratio is not above
        blocks: list[list[float]] = []
        for i in range(len(m)):
            blocks.append([m[i], u[i], 1])
            while len(blocks) > 1 and blocks[-2][0] / max(blocks[-2][1], _FLOOR) \
                    >= blocks[-1][0] / max(blocks[-1][1], _FLOOR):
                sm, su, k = blocks.pop()
                blocks[-1][0] += sm
                blocks[-1][1] += su
                blocks[-1][2] += k
        i = 0
        for sm, su, k in blocks:
            ratio[i:i + int(k)] = sm / max(su, _FLOOR)
            i += int(k)
    if any(not np.isclose(ratio[i], before[i], rtol=1e-12) for i in range(len(m))):
        # m is kept at least _FLOOR (a finite weight); raising a level whose u is tiny to it
        # raises its ratio too, so the floor is put on the ratios in the same order: each
        # is at least the floor's ratio of itself and of every level it must not fall below
        least = _FLOOR / np.maximum(u, _FLOOR)
        if not partial:
            ratio = np.maximum(ratio, np.maximum.accumulate(least))
        elif len(ratio) > 1:
            ratio[0] = max(ratio[0], least[0])
            ratio[1:-1] = np.maximum(np.maximum(ratio[1:-1], ratio[0]), least[1:-1])
            ratio[-1] = max(ratio[-1], least[-1], ratio[:-1].max())
        m = np.clip(ratio * u, _FLOOR, None)
        m = m / m.sum()
    changed = [i for i in range(len(m)) if not np.isclose(ratio[i], before[i], rtol=1e-12)]
    return m, changed


def random_pairs(
    n_a: int, n_b: int | None, n: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniformly random record pairs (deterministic for a seed).

    With ``n_b=None`` (de-duplication) pairs are distinct records ``i != j``. When ``n`` is at
    least the number of possible pairs, every pair is returned once instead.
    """
    rng = np.random.default_rng(seed)
    if n_b is None:
        total = n_a * (n_a - 1) // 2
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if n >= total:
            i, j = np.triu_indices(n_a, k=1)
            return i.astype(np.int64), j.astype(np.int64)
        i = rng.integers(0, n_a, size=n, dtype=np.int64)
        j = rng.integers(0, n_a - 1, size=n, dtype=np.int64)
        j = j + (j >= i)
        return i, j
    total = n_a * n_b
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if n >= total:
        i, j = np.divmod(np.arange(total, dtype=np.int64), n_b)
        return i, j
    return (
        rng.integers(0, n_a, size=n, dtype=np.int64),
        rng.integers(0, n_b, size=n, dtype=np.int64),
    )


def tag_pairs(
    tag_a: np.ndarray, tag_b: np.ndarray | None, n: int, *, seed: int = 0,
    exclude: list[tuple[np.ndarray, np.ndarray | None]] = (),  # type: ignore[assignment]
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` uniformly random pairs among the pairs that share a non-zero tag token
    (deterministic for a seed), leaving out pairs equal on any ``exclude`` token.

    A salted comparison can only be made within a salt class, so its ``u`` is estimated on
    pairs drawn from within the classes (``tag_b=None``: de-duplication, ``i < j``). The
    ``exclude`` tokens (match keys, the exact date of birth) remove the few true matches
    a class holds, which would otherwise inflate ``u``.
    """
    dedupe = tag_b is None
    tb = tag_a if dedupe else tag_b
    assert tb is not None
    oa = np.flatnonzero(tag_a != 0)
    oa = oa[np.argsort(tag_a[oa], kind="stable")]
    ob = np.flatnonzero(tb != 0)
    ob = ob[np.argsort(tb[ob], kind="stable")]
    ua, sa, ca = np.unique(tag_a[oa], return_index=True, return_counts=True)
    ub, sb, cb = np.unique(tb[ob], return_index=True, return_counts=True)
    common, xa, xb = np.intersect1d(ua, ub, assume_unique=True, return_indices=True)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    if not len(common):
        return empty
    na, nb = ca[xa].astype(np.int64), cb[xb].astype(np.int64)
    w = na * (na - 1) // 2 if dedupe else na * nb
    keep = w > 0
    na, nb, w = na[keep], nb[keep], w[keep]
    st_a, st_b = sa[xa][keep], sb[xb][keep]
    total = int(w.sum())
    if total == 0:
        return empty
    rng = np.random.default_rng(seed)
    if total <= n:  # every pair once
        cls = np.repeat(np.arange(len(w)), w)
        k = np.arange(total) - np.repeat(np.cumsum(w) - w, w)
        if dedupe:
            # k-th pair (i < j) of a class of size m, in row order
            m = na[cls]
            i = np.zeros(total, np.int64)
            rem = k.copy()
            while True:
                row = m - 1 - i
                step = rem >= row
                if not step.any():
                    break
                rem = np.where(step, rem - row, rem)
                i = np.where(step, i + 1, i)
            j = i + 1 + rem
        else:
            i, j = np.divmod(k, nb[cls])
        ia, ib = oa[st_a[cls] + i], ob[st_b[cls] + j]
    else:
        parts_a: list[np.ndarray] = []
        parts_b: list[np.ndarray] = []
        got = 0
        for _ in range(8):  # redraw what the exclusions removed
            draw = int((n - got) * 1.3) + 16
            cls = rng.choice(len(w), size=draw, p=w / total)
            i = rng.integers(0, na[cls])
            if dedupe:
                j = rng.integers(0, na[cls] - 1)
                j = j + (j >= i)
            else:
                j = rng.integers(0, nb[cls])
            xa_, xb_ = oa[st_a[cls] + i], ob[st_b[cls] + j]
            keep_ = _not_excluded(xa_, xb_, exclude)
            parts_a.append(xa_[keep_])
            parts_b.append(xb_[keep_])
            got += int(keep_.sum())
            if got >= n:
                break
        ia, ib = np.concatenate(parts_a)[:n], np.concatenate(parts_b)[:n]
        if dedupe:
            ia, ib = np.minimum(ia, ib), np.maximum(ia, ib)
        return ia.astype(np.int64), ib.astype(np.int64)
    ok = _not_excluded(ia, ib, exclude)
    ia, ib = ia[ok][:n], ib[ok][:n]
    if dedupe:
        ia, ib = np.minimum(ia, ib), np.maximum(ia, ib)
    return ia.astype(np.int64), ib.astype(np.int64)


def _not_excluded(ia: np.ndarray, ib: np.ndarray,
                  exclude: list[tuple[np.ndarray, np.ndarray | None]]) -> np.ndarray:
    """Pairs equal on none of the ``exclude`` tokens (0 = missing never counts)."""
    ok = np.ones(len(ia), dtype=bool)
    for xa_tok, xb_tok in exclude:
        xb_tok = xa_tok if xb_tok is None else xb_tok
        va, vb = xa_tok[ia], xb_tok[ib]
        ok &= ~((va != 0) & (va == vb))
    return ok


_MIN_SESSION_PAIRS = 10


def session_pairs_for(
    a: EncodedFrame,
    b: EncodedFrame | None,
    tokens: list[str],
    max_pairs: int = 1_000_000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Record pairs that share a non-missing value of every token in ``tokens``.

    At most ``max_pairs`` are returned (a seeded uniform sample, in sorted order).
    ``b=None``: pairs within ``a`` with ``ia < ib``.
    """

    if not tokens:
        raise ValueError("an EM session needs at least one token")
    ia, ib = candidate_pairs(a, b, [TokenBlocking([tokens[0]])])
    bb = a if b is None else b
    for t in tokens[1:]:
        ta, tb = _get_token(a, t, "a")[ia], _get_token(bb, t, "b")[ib]
        keep = (ta != 0) & (ta == tb)
        ia, ib = ia[keep], ib[keep]
    if len(ia) > max_pairs:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(ia), size=max_pairs, replace=False))
        ia, ib = ia[pick], ib[pick]
    return ia, ib


#: Schema field kinds that members of one household share (see ``auto_sessions``).
HOUSEHOLD_KINDS = ("surname", "postcode")


def _fields_of_kind(enc: EncodedFrame, kinds: tuple[str, ...]) -> set[str]:
    schema = (enc.meta or {}).get("schema")
    if not isinstance(schema, dict):
        return set()
    return {str(f.get("name")) for f in schema.get("fields", []) or []
            if isinstance(f, dict) and f.get("kind") in kinds}


def _pair_code(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One ``uint64`` per element, equal exactly when both ``x`` and ``y`` are (w.h.p.)."""
    with np.errstate(over="ignore"):
        h = x * np.uint64(0x9E3779B97F4A7C15)
        h ^= (y + np.uint64(0x632BE59BD9B4E019)) * np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    return h


def _default_m(n_levels: int) -> np.ndarray:
    # Starting values: most matches at the top level, the rest decreasing geometrically.
    w = 0.5 ** np.arange(n_levels - 1, -1, -1, dtype=np.float64)
    w[-1] *= 4
    return w / w.sum()


def _tf_table(values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    v = np.concatenate([x[x != 0] for x in values]) if values else np.zeros(0, np.uint64)
    if len(v) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.float64)
    uniq, cnt = np.unique(v, return_counts=True)
    return uniq, cnt / cnt.sum()


def tf_log2(uniq: np.ndarray, freq: np.ndarray, values: np.ndarray, tf_min: float
            ) -> np.ndarray:
    """``log2`` of the term frequency of each token value in ``values``, from a table of
    sorted distinct values ``uniq`` and their shares ``freq``; values not in the table (and
    shares below it) count as ``tf_min``. The one lookup of the local and Spark engines
    (Spark builds the table on the cluster)."""
    pos = np.searchsorted(uniq, values).clip(0, max(len(uniq) - 1, 0))
    f = np.where(uniq[pos] == values, freq[pos], tf_min) if len(uniq) else \
        np.full(len(values), tf_min)
    return np.log2(np.maximum(f, tf_min))


@dataclass(frozen=True)
class CandidatePatterns:
    """The candidate pairs of two files (or one, for de-duplication) as distinct level
    patterns with their counts: what :meth:`FellegiSunter.fit` needs of them when they are
    counted elsewhere (on a Spark cluster: :func:`nislink.spark.fit_model`).

    ``patterns`` is ``(K, F)`` ``int8`` (one column per comparison, ``-1`` = missing),
    ``counts`` the ``K`` counts, ``n_a``/``n_b`` the files' record counts (equal, and
    ``dedupe`` true, for one file).
    """

    patterns: np.ndarray
    counts: np.ndarray
    n_a: int
    n_b: int
    dedupe: bool = False

    def __post_init__(self) -> None:
        raw = np.asarray(self.patterns)
        if raw.size and (raw.min() < -1 or raw.max() > 127):
            raise ValueError("pattern levels must lie in -1..127 (-1 = missing)")
        pats = raw.astype(np.int8)
        counts = np.asarray(self.counts, dtype=np.int64)
        if pats.ndim != 2 or counts.shape != (len(pats),):
            raise ValueError(f"patterns must be (K, F) and counts (K,), got {pats.shape} "
                             f"and {counts.shape}")
        if len(counts) and int(counts.min()) < 1:
            raise ValueError("pattern counts must be positive")
        if min(int(self.n_a), int(self.n_b)) < 1:
            raise ValueError(f"record counts must be positive, got {self.n_a}, {self.n_b}")
        if self.dedupe and int(self.n_a) != int(self.n_b):
            raise ValueError(f"one file (dedupe=True) has one record count, got {self.n_a} "
                             f"and {self.n_b}")
        # lexicographic order: the order compress_patterns gives (identical EM sums)
        order = np.lexsort(pats.T[::-1]) if len(pats) else np.zeros(0, np.int64)
        object.__setattr__(self, "patterns", np.ascontiguousarray(pats[order]))
        object.__setattr__(self, "counts", np.ascontiguousarray(counts[order]))

    @property
    def n_pairs(self) -> int:
        """Number of candidate pairs."""
        return int(self.counts.sum())

    @property
    def total_pairs(self) -> int:
        """Number of possible record pairs."""
        n_a, n_b = int(self.n_a), int(self.n_b)
        return n_a * (n_a - 1) // 2 if self.dedupe else n_a * n_b


@dataclass
class FellegiSunter:
    """A Fellegi-Sunter model over encoded fields.

    Build with explicit :class:`FieldComparison` objects, or let :meth:`fit` choose the
    defaults (:func:`comparisons_for`). After :meth:`fit`, ``m``/``u`` hold per-field
    level probabilities and ``prior`` is P(two random records match).
    """

    comparisons: list[FieldComparison] = field(default_factory=list)
    m: dict[str, list[float]] = field(default_factory=dict)
    u: dict[str, list[float]] = field(default_factory=dict)
    prior: float | None = None
    lambda_candidates: float | None = None
    tf_min: float = 1e-6
    dependence: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- fitting
    def _ensure_comparisons(self, a: EncodedFrame, b: EncodedFrame) -> None:
        if not self.comparisons:
            self.comparisons = comparisons_for(a, b)
        names = [c.name for c in self.comparisons]
        if len(set(names)) != len(names):
            raise ValueError(f"comparison names must be unique, got {names}")

    def levels(
        self, a: EncodedFrame, b: EncodedFrame | None, ia: np.ndarray, ib: np.ndarray
    ) -> np.ndarray:
        """Comparison level matrix (``int8``, ``-1`` = missing) for pairs ``(a[ia], b[ib])``."""
        b = a if b is None else b
        self._ensure_comparisons(a, b)
        return comparison_matrix(self.comparisons, a, b, ia, ib)

    def estimate_u(
        self,
        a: EncodedFrame,
        b: EncodedFrame | None = None,
        *,
        n_pairs: int = 1_000_000,
        seed: int = 0,
    ) -> FellegiSunter:
        """Estimate ``u`` from ``n_pairs`` uniformly random pairs (seeded).

        Counts get a pseudo-count of 0.5 per level so that a level never seen among
        random pairs keeps a small, non-zero ``u``.
        """
        dedupe = b is None
        b = a if b is None else b
        self._ensure_comparisons(a, b)
        ia, ib = random_pairs(len(a), None if dedupe else len(b), n_pairs, seed=seed)
        lev = comparison_matrix(self.comparisons, a, b, ia, ib)
        for j, c in enumerate(self.comparisons):
            col = lev[:, j]
            cnt = np.bincount(col[col >= 0].astype(np.int64), minlength=c.n_levels)
            self.u[c.name] = ((cnt + 0.5) / (cnt.sum() + 0.5 * c.n_levels)).tolist()
        self.info["u_pairs"] = int(len(ia))
        self.info["u_seed"] = int(seed)
        if not dedupe:
            for c in self.comparisons:
                if c.record:
                    self.u[c.name] = _u_within_files(c, a, b, n_pairs, seed).tolist()
                    self.info["u_within_files"] = [c.name]
        # salted comparisons: random pairs almost never share a salt, so their u comes
        # from pairs drawn within the primary salt's classes (true matches left out)
        for c in self.comparisons:
            if not c.views:
                continue
            hist = _u_from_histograms(c, a, b)
            if hist is not None:
                self.u[c.name] = hist.tolist()
                self.info.setdefault("u_from_owner_histograms", []).append(c.name)
                continue
            # leave out pairs that agree on a match key, an identifier, the date of birth
            # or another salted name: nearly all true matches, few non-matches
            others = [o.token for o in self.comparisons
                      if o.views and o is not c and o.token is not None]
            excl = [(a.tokens[t], None if dedupe else b.tokens[t])
                    for t in _exclusion_tokens(a, b) + others]
            tag = c.views[0][1]
            pa, pb = tag_pairs(a.tokens[tag], None if dedupe else b.tokens[tag], n_pairs,
                               seed=seed, exclude=excl)
            col = c.levels(a, b, pa, pb)
            cnt = np.bincount(col[col >= 0].astype(np.int64), minlength=c.n_levels)
            self.u[c.name] = ((cnt + 0.5) / (cnt.sum() + 0.5 * c.n_levels)).tolist()
            self.info.setdefault("u_pairs_within_salt", {})[c.name] = int(len(pa))
        return self

    def fit(
        self,
        a: EncodedFrame,
        b: EncodedFrame | None,
        ia: np.ndarray,
        ib: np.ndarray,
        *,
        u_pairs: int = 1_000_000,
        seed: int = 0,
        em_sessions: str | list[list[str]] | None = "auto",
        session_pairs: int = 1_000_000,
        prior_rule: str | list[str] | None = None,
        prior_recall: float = 1.0,
        fix_u: bool = True,
        dependence: bool = True,
        max_iter: int = 200,
        tol: float = 1e-6,
        levels: np.ndarray | None = None,
        candidates: CandidatePatterns | None = None,
        session_counts: Callable[[list[str]], CandidatePatterns | None] | None = None,
    ) -> FellegiSunter:
        """Estimate ``u`` (random pairs), ``m`` (EM), the prior and the dependence terms.

        ``a``/``b`` are the encoded frames (``b=None`` for de-duplication) and ``ia``/``ib``
        the candidate pairs (e.g. from :func:`nislink.block.candidate_pairs`).

        ``m`` is estimated in **EM sessions** (the Splink method): each session takes the
        record pairs that agree exactly on one or more tokens (at most ``session_pairs`` of
        them, sampled with ``seed``), leaves the fields of those tokens out of the
        likelihood, and estimates ``m`` for the other fields. Among pairs that share a date
        of birth, say, non-matches are chance agreements, so EM cannot mistake a family
        (same surname and address, different people) for a match. ``em_sessions="auto"``
        runs one session per token, most identifying first (:meth:`auto_sessions`),
        skipping any with fewer than 10 pairs, until every field has been estimated (so
        usually two sessions). Each field's ``m`` is the mean over the sessions that
        estimated it. A last EM over the candidate pairs (compressed to distinct
        patterns) estimates the share of matches among candidates (``lambda_candidates``)
        and ``m`` of any field no session covered. ``em_sessions=None`` skips the sessions
        (one EM over the candidates for every ``m``, fastLink style).

        The prior is taken from ``prior_rule`` when given (the number of record pairs
        sharing a non-missing value of that token, or of any of several tokens, divided by
        ``prior_recall`` and by the number of possible pairs); otherwise it is the expected
        number of matches among the candidates divided by the number of possible pairs.
        ``fix_u=False`` lets the last EM re-estimate ``u`` on the candidates too. With
        ``dependence`` (default) pairwise dependence terms are estimated afterwards
        (:meth:`estimate_dependence`). Precomputed
        ``levels`` of the candidates may be passed to avoid recomputing them.

        ``candidates`` replaces the candidate pairs of the last EM by their pattern counts
        over larger files than ``a`` and ``b`` (:class:`CandidatePatterns`, e.g. counted
        on a Spark cluster by :func:`nislink.spark.fit_model`): ``a`` and ``b`` are then
        samples of those files that ``u``, the EM sessions and the dependence terms are
        estimated on, ``ia``/``ib`` may be empty, and the last EM, ``lambda_candidates``
        and the EM prior come from the full files' candidates. A prior from
        ``prior_rule`` is the sample's share of pairs that agree on the rule.
        ``session_counts`` likewise gives an EM session's pairs as pattern counts: called
        with the session's tokens, it returns the patterns of the (full files') record
        pairs that share a value of every one of them (the first token's blocks capped as
        in :func:`session_pairs_for`, but none left out by ``session_pairs``), or ``None``
        to draw the session's pairs from ``a`` and ``b``.
        """
        dedupe = b is None
        bb = a if b is None else b
        self._ensure_comparisons(a, bb)
        ia = np.asarray(ia, dtype=np.int64)
        ib = np.asarray(ib, dtype=np.int64)
        if candidates is None and len(ia) == 0:
            raise ValueError("cannot fit a model on zero candidate pairs")
        clk_only = bool(self.comparisons) and all(c.record for c in self.comparisons)
        if candidates is not None:
            if candidates.n_pairs <= 0:
                raise ValueError("cannot fit a model on zero candidate pairs")
            self._check_counts(candidates, dedupe, "candidate patterns")
            if len(ia) or levels is not None:
                raise ValueError("give the candidates either as pairs (ia, ib, levels) or as "
                                 "pattern counts (candidates=), not both")
        if clk_only and fix_u:
            # CLK only: random pairs cannot give u (their top Dice bands are the matches'
            # own rate, about 1/n of random pairs) and the rank has no meaning among them;
            # u serves as the start and EM re-estimates it on the candidates
            fix_u = False
            self.info["fix_u_reason"] = "CLK-only comparisons: u re-estimated on candidates"
        if not self.u or any(c.name not in self.u for c in self.comparisons):
            self.estimate_u(a, None if dedupe else bb, n_pairs=u_pairs, seed=seed)
        names = [c.name for c in self.comparisons]
        m0 = [
            np.asarray(self.m[c.name]) if c.name in self.m else
            np.full(c.n_levels, 1.0 / c.n_levels) if c.record and not c.relative else
            _default_m(c.n_levels)
            for c in self.comparisons
        ]
        u0 = [np.asarray(self.u[c.name]) for c in self.comparisons]
        sessions_info: list[dict[str, Any]] = []
        estimates: dict[str, list[np.ndarray]] = {n: [] for n in names}
        auto = em_sessions == "auto"
        self.info["household_fields"] = sorted(
            _fields_of_kind(a, HOUSEHOLD_KINDS) | _fields_of_kind(bb, HOUSEHOLD_KINDS))
        if auto:
            em_sessions = self.auto_sessions()
        for sess in em_sessions or []:
            if auto and all(estimates[n] for n in names):
                break  # every field estimated
            sess = [sess] if isinstance(sess, str) else list(sess)
            blocked = [c.token in sess or c.name in sess for c in self.comparisons]
            if session_counts is not None and all(blocked):  # nothing to count for
                sessions_info.append({"tokens": sess, "pairs": 0, "skipped": "no field"})
                continue
            counted = session_counts(list(sess)) if session_counts is not None else None
            if counted is None:
                sa, sb = session_pairs_for(a, None if dedupe else bb, sess, session_pairs,
                                           seed)
                n_sess = len(sa)
            else:
                self._check_counts(counted, dedupe, f"session {sess} patterns")
                n_sess = counted.n_pairs
            rec: dict[str, Any] = {"tokens": sess, "pairs": int(n_sess)}
            if n_sess < _MIN_SESSION_PAIRS or all(blocked):
                rec["skipped"] = "too few pairs" if n_sess < _MIN_SESSION_PAIRS else "no field"
                sessions_info.append(rec)
                continue
            if counted is None:
                lev = comparison_matrix(self.comparisons, a, bb, sa, sb)
                lev[:, np.asarray(blocked)] = MISSING
                pats, counts, _ = compress_patterns(lev)
            else:  # the counted patterns with the session's fields left out, merged
                lev = counted.patterns.copy()
                lev[:, np.asarray(blocked)] = MISSING
                pats, _, inv = compress_patterns(lev)
                counts = np.bincount(inv, weights=counted.counts,
                                     minlength=len(pats)).astype(np.int64)
                rec["counted"] = True
            ms, _, lam_s, it = em_fit(pats, counts, m0, u0, 0.5, fix_u=True, fix=blocked,
                                      max_iter=max_iter, tol=tol)
            for n, bl, mm in zip(names, blocked, ms):
                if not bl:
                    estimates[n].append(mm)
            rec.update(lambda_=float(lam_s), iterations=int(it))
            sessions_info.append(rec)
        covered = [bool(estimates[n]) for n in names]
        m_start = [np.mean(estimates[n], axis=0) if estimates[n] else m0[j]
                   for j, n in enumerate(names)]
        total = len(a) * (len(a) - 1) // 2 if dedupe else len(a) * len(bb)
        if candidates is None:
            lev = comparison_matrix(self.comparisons, a, bb, ia, ib) if levels is None \
                else levels
            pats, counts, _ = compress_patterns(lev)
            n_cand, n_small, cand_total = len(ia), min(len(a), len(bb)), total
        else:
            lev = None
            pats, counts = candidates.patterns, candidates.counts
            n_cand, n_small = candidates.n_pairs, min(candidates.n_a, candidates.n_b)
            cand_total = candidates.total_pairs
        lam0 = self.lambda_candidates if self.lambda_candidates else min(
            0.5, max(1.0, float(n_small)) / n_cand)
        m, u, lam, iters = em_fit(
            pats, counts, m_start, u0, lam0, fix_u=fix_u, fix=covered, max_iter=max_iter,
            tol=tol,
        )
        if clk_only and lev is not None:
            u = _u_to_all_pairs(self.comparisons, u, u0, lev, lam, n_cand, total)
        pooled: dict[str, list[int]] = {}
        for c, mm, uu in zip(self.comparisons, m, u):
            mm, moved = monotone_m(mm, uu, partial=bool(c.rungs))
            if moved:
                pooled[c.name] = moved
            self.m[c.name] = mm.tolist()
            self.u[c.name] = uu.tolist()
        self.info["monotone_pooled"] = pooled
        self.lambda_candidates = float(lam)
        n_rule = _rule_pairs(a, None if dedupe else bb, prior_rule) \
            if prior_rule is not None else 0
        if prior_rule is not None and n_rule > 0:
            self.prior = min(max(n_rule / max(prior_recall, 1e-9), 1.0) / total, 0.5)
            self.info["prior_source"] = f"rule:{prior_rule}"
        else:
            if prior_rule is not None:  # no pair agrees on the rule: it says nothing
                self.info["prior_fallback"] = (
                    f"no record pair shares a value of {prior_rule}: EM prior used")
            self.prior = min(max(lam * n_cand, 1.0) / cand_total, 0.5)
            self.info["prior_source"] = "em"
        self.info.update(
            em_iterations=int(iters), candidate_pairs=int(n_cand), patterns=int(len(pats)),
            fix_u=bool(fix_u), em_sessions=sessions_info,
        )
        if candidates is not None:
            self.info["candidates_counted"] = {
                "n_a": int(candidates.n_a), "n_b": int(candidates.n_b),
                "sample_a": int(len(a)), "sample_b": int(len(bb)),
                "dedupe": bool(candidates.dedupe)}
        self.dependence = {}
        if dependence:
            self.estimate_dependence(a, None if dedupe else bb)
        return self

    def _check_counts(self, cp: CandidatePatterns, dedupe: bool, what: str) -> None:
        """Pattern counts made elsewhere must fit this model: one column per comparison,
        levels in range, of one file for de-duplication and of two for linking."""
        if not isinstance(cp, CandidatePatterns):
            raise TypeError(f"{what}: expected CandidatePatterns, got {type(cp).__name__}")
        if cp.patterns.shape[1:] != (len(self.comparisons),):
            raise ValueError(f"{what} have {cp.patterns.shape[1]} columns; the model has "
                             f"{len(self.comparisons)} comparisons")
        if bool(cp.dedupe) != dedupe:
            raise ValueError(
                f"{what} are of " + ("one file (dedupe=True) but the model is fitted to "
                                     "link two" if cp.dedupe else
                                     "two files but the model is fitted to de-duplicate one"))
        if any(c.record for c in self.comparisons):
            raise ValueError(f"{what} cannot fit a model that compares record-level filters "
                             "(CLKs): fit it on the pairs instead")
        for j, c in enumerate(self.comparisons):
            col = cp.patterns[:, j]
            if len(col) and (int(col.min()) < MISSING or int(col.max()) >= c.n_levels):
                raise ValueError(f"{what}: comparison {c.name!r} has levels "
                                 f"{int(col.min())}..{int(col.max())}; it has "
                                 f"{c.n_levels} (and {MISSING} for missing)")

    def estimate_dependence(
        self, a: EncodedFrame, b: EncodedFrame | None = None, *, max_abs: float = 20.0
    ) -> dict[str, float]:
        """Pairwise dependence terms for exact agreement on two tokens (second order).

        Fellegi-Sunter multiplies per-field Bayes factors, assuming fields agree
        independently among non-matches. They do not: members of one family share surname
        *and* postcode, so a parent and child look like a match. For every two comparisons
        ``f, g`` with tokens, the rates at which record pairs agree on both tokens
        (``u_fg``) and on each (``u_f``, ``u_g``) are counted exactly from the token values
        (no sampling) among the pairs that **disagree** on a third, reference token ``h``
        (the most identifying widely present token other than ``f`` and ``g``, e.g. date of
        birth): such pairs are almost all non-matches, whatever the true matches do. The
        term ``d_fg = log2(u_fg / (u_f u_g))`` is stored, and scoring subtracts it from a pair
        at "token equal" on both fields (matches are assumed to agree independently, as
        typing errors do). True matches that disagree on ``h`` still leak into ``u_fg``
        (about ``prior * (1 - m_h) * m_f * m_g``); a term is kept only when that leak is
        under a tenth of ``u_fg`` -- in practice, only for field pairs that many different
        people share (surname and postcode), never for identifiers. Returns and stores
        ``{"f|g": d_fg}`` (clipped to ``+-max_abs``; terms under 0.05 bits dropped).
        """
        self.check_fitted()
        dedupe = b is None
        bb = a if b is None else b
        comps = [c for c in self.comparisons if c.token is not None]
        def share(enc: EncodedFrame, tok: str) -> float:
            return float((enc.tokens[tok] != 0).mean()) if len(enc) else 0.0

        present = {c.name: min(share(a, c.token), share(bb, c.token))  # type: ignore[arg-type]
                   for c in comps}
        refs = sorted((float(self.u[c.name][-1]), c.name) for c in comps
                      if present[c.name] >= 0.5)
        byname = {c.name: c for c in comps}

        def count(va: np.ndarray, vb: np.ndarray) -> float:
            ua, ca = np.unique(va, return_counts=True)
            if dedupe:
                return float((ca.astype(np.float64) * (ca - 1) / 2).sum())
            ub, cb = np.unique(vb, return_counts=True)
            _, i1, i2 = np.intersect1d(ua, ub, assume_unique=True, return_indices=True)
            return float((ca[i1].astype(np.float64) * cb[i2]).sum())

        out: dict[str, float] = {}
        for x in range(len(comps)):
            for y in range(x + 1, len(comps)):
                f, g = comps[x], comps[y]
                ref = next((n for _, n in refs if n not in (f.name, g.name)), None)
                if ref is None:
                    continue
                h = byname[ref]
                ta = [a.tokens[c.token] for c in (f, g, h)]  # type: ignore[index]
                tb = [bb.tokens[c.token] for c in (f, g, h)]  # type: ignore[index]
                ka = (ta[0] != 0) & (ta[1] != 0) & (ta[2] != 0)
                kb = (tb[0] != 0) & (tb[1] != 0) & (tb[2] != 0)
                na, nb = int(ka.sum()), int(kb.sum())
                if na < 2 or nb < 2:
                    continue
                fa, ga, ha = (t[ka] for t in ta)
                fb, gb, hb = (t[kb] for t in tb)
                total = na * (na - 1) / 2 if dedupe else float(na) * nb
                # pairs disagreeing on h: all pairs minus pairs agreeing on h
                n_h = total - count(ha, hb)
                if n_h <= 0:
                    continue
                u_f = (count(fa, fb) - count(_pair_code(fa, ha), _pair_code(fb, hb))) / n_h
                u_g = (count(ga, gb) - count(_pair_code(ga, ha), _pair_code(gb, hb))) / n_h
                fg_a, fg_b = _pair_code(fa, ga), _pair_code(fb, gb)
                u_fg = (count(fg_a, fg_b) - count(_pair_code(fg_a, ha), _pair_code(fg_b, hb))) / n_h
                if u_f <= 0 or u_g <= 0 or u_fg <= 0:
                    continue
                # true matches that disagree on h also count in u_fg: keep the term only when
                # they can be at most a tenth of it
                lam = float(self.prior)  # type: ignore[arg-type]
                contamination = lam * (1 - float(self.m[h.name][-1])) * \
                    float(self.m[f.name][-1]) * float(self.m[g.name][-1]) * total / n_h
                if u_fg < 10 * contamination:
                    continue
                d = math.log2(u_fg / (u_f * u_g))
                if abs(d) >= 0.05:
                    out[f"{f.name}|{g.name}"] = float(max(-max_abs, min(max_abs, d)))
        self.dependence = out
        return out

    def dependence_adjustment(self, levels: np.ndarray) -> np.ndarray:
        """Sum of ``-d_fg`` over field pairs at "token equal" on both (per pair, ``log2``)."""
        adj = np.zeros(len(levels), dtype=np.float64)
        if not self.dependence:
            return adj
        idx = {c.name: j for j, c in enumerate(self.comparisons)}
        for key, d in self.dependence.items():
            f, g = key.split("|")
            if f not in idx or g not in idx:
                continue
            cf, cg = self.comparisons[idx[f]], self.comparisons[idx[g]]
            both = (levels[:, idx[f]] == cf.n_levels - 1) & (levels[:, idx[g]] == cg.n_levels - 1)
            adj[both] -= d
        return adj

    def auto_sessions(self, max_u: float = 0.01) -> list[list[str]]:
        """Candidate EM sessions for ``em_sessions="auto"``: one token each, most identifying
        first.

        Tokens are ranked by ``u`` of their "token equal" level (the chance that two random
        records share the value); tokens shared by more than ``max_u`` of random pairs
        (such as sex) are left out, and fields that members of one household share
        (schema kinds ``surname`` and ``postcode``, read from ``meta["schema"]``) come last:
        among pairs sharing a surname, a family's members would look like matches to EM.
        :meth:`fit` runs these in order, skipping any with too few pairs, until every field
        has been estimated by at least one session. Needs
        ``u`` (see :meth:`estimate_u`).
        """
        household = set(self.info.get("household_fields", []))
        ranked = sorted(
            (c.name in household, float(self.u[c.name][-1]), k, c.token)
            for k, c in enumerate(self.comparisons)
            if c.token is not None and c.name in self.u and float(self.u[c.name][-1]) <= max_u
        )
        return [[t] for _, _, _, t in ranked]  # type: ignore[misc]

    # ---------------------------------------------------------------- scoring
    def check_fitted(self) -> None:
        """Raise ``RuntimeError`` unless the model has ``m``, ``u`` for every comparison
        and a prior (fitted, or loaded from a trained model)."""
        if self.prior is None or any(
            c.name not in self.m or c.name not in self.u for c in self.comparisons
        ):
            raise RuntimeError("the model is not fitted: call fit() or load a trained model")

    def log2_bayes_factors(self) -> list[np.ndarray]:
        """``log2(m/u)`` per field and level (missing level contributes 0)."""
        self.check_fitted()
        out = []
        for c in self.comparisons:
            m = np.clip(np.asarray(self.m[c.name], dtype=np.float64), _FLOOR, None)
            u = np.clip(np.asarray(self.u[c.name], dtype=np.float64), _FLOOR, None)
            if len(m) != c.n_levels or len(u) != c.n_levels:
                raise ValueError(f"field {c.name!r}: m/u have the wrong number of levels")
            out.append(np.log2(m / u))
        return out

    @property
    def prior_weight(self) -> float:
        """``log2(prior / (1 - prior))``."""
        self.check_fitted()
        p = float(self.prior)  # type: ignore[arg-type]
        return math.log2(p / (1 - p))

    def _tf_log2_u(
        self, c: FieldComparison, a: EncodedFrame, b: EncodedFrame, values: np.ndarray
    ) -> np.ndarray:
        tables = getattr(self, "_tf_tables", None)
        if tables is not None and c.name in tables:
            uniq, freq = tables[c.name]
        else:
            srcs = [a.tokens[c.token]] if a is b else [a.tokens[c.token], b.tokens[c.token]]
            uniq, freq = _tf_table(srcs)  # type: ignore[index]
        return tf_log2(uniq, freq, values, self.tf_min)

    def with_tf_tables(
        self, tables: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> "FellegiSunter":
        """A copy of the model that takes term frequencies from ``tables`` (comparison
        name -> sorted distinct token values and their shares, over the whole data)
        instead of from the frames it scores: for scoring pieces of data too large to hold
        at once (a chunk of a streamed file, a batch of pairs on Spark), so that every
        piece is scored as the whole would be. The tables are not saved with the model."""
        m = copy.copy(self)
        m._tf_tables = {k: (np.asarray(u, dtype=np.uint64), np.asarray(f, dtype=np.float64))
                        for k, (u, f) in tables.items()}
        return m

    def contributions(
        self,
        a: EncodedFrame,
        b: EncodedFrame | None,
        ia: np.ndarray,
        ib: np.ndarray,
        levels: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-field ``log2`` Bayes factors, an ``(n_pairs, n_fields)`` ``float64`` matrix."""
        bb = a if b is None else b
        self.check_fitted()
        ia = np.asarray(ia, dtype=np.int64)
        ib = np.asarray(ib, dtype=np.int64)
        lev = comparison_matrix(self.comparisons, a, bb, ia, ib) if levels is None else levels
        bfs = self.log2_bayes_factors()
        out = np.zeros(lev.shape, dtype=np.float64)
        for j, (c, bf) in enumerate(zip(self.comparisons, bfs)):
            col = lev[:, j].astype(np.int64)
            ok = col >= 0
            out[ok, j] = bf[col[ok]]
            if c.tf_adjust and c.token is not None:
                top = col == c.n_levels - 1
                if top.any():
                    vals = a.tokens[c.token][ia[top]]
                    m_top = max(float(self.m[c.name][-1]), _FLOOR)
                    out[top, j] = math.log2(m_top) - self._tf_log2_u(c, a, bb, vals)
        return out

    def score(
        self,
        a: EncodedFrame,
        b: EncodedFrame | None,
        ia: np.ndarray,
        ib: np.ndarray,
        *,
        levels: np.ndarray | None = None,
        chunk: int = 1 << 20,
    ) -> pd.DataFrame:
        """Score pairs: a DataFrame with ``ia, ib, match_weight, match_probability``."""
        ia = np.asarray(ia, dtype=np.int64)
        ib = np.asarray(ib, dtype=np.int64)
        w = np.empty(len(ia), dtype=np.float64)
        for s in range(0, len(ia), chunk):
            sl = slice(s, s + chunk)
            lv = None if levels is None else levels[sl]
            if lv is None:
                lv = comparison_matrix(self.comparisons, a, a if b is None else b,
                                       ia[sl], ib[sl])
            w[sl] = self.contributions(a, b, ia[sl], ib[sl], lv).sum(axis=1)
            w[sl] += self.dependence_adjustment(lv)
        if len(ia) == 0:
            self.check_fitted()
        w += self.prior_weight
        return pd.DataFrame(
            {"ia": ia, "ib": ib, "match_weight": w, "match_probability": weight_to_probability(w)}
        )

    def explain(
        self, a: EncodedFrame, b: EncodedFrame | None, i: int, j: int
    ) -> pd.DataFrame:
        """Per-field contributions of one pair ``(a[i], b[j])``, ready for a waterfall chart.

        Rows: ``prior``, one per field, one per dependence term applied (``dependence``),
        then ``final``. Columns: ``component``, ``level``
        (label), ``m``, ``u`` (the TF-adjusted ``u`` where it applies), ``bayes_factor``,
        ``log2_bayes_factor`` and ``cumulative`` (running match weight).
        """
        bb = a if b is None else b
        ia = np.array([i], dtype=np.int64)
        ib = np.array([j], dtype=np.int64)
        lev = comparison_matrix(self.comparisons, a, bb, ia, ib)
        contrib = self.contributions(a, b, ia, ib, lev)[0]
        rows: list[dict[str, Any]] = []
        cum = self.prior_weight
        rows.append(dict(component="prior", level=f"lambda={self.prior:.3g}", m=np.nan,
                         u=np.nan, bayes_factor=2.0**cum, log2_bayes_factor=cum, cumulative=cum))
        for k, c in enumerate(self.comparisons):
            lv = int(lev[0, k])
            if lv < 0:
                rows.append(dict(component=c.name, level="missing", m=np.nan, u=np.nan,
                                 bayes_factor=1.0, log2_bayes_factor=0.0, cumulative=cum))
                continue
            lb = float(contrib[k])
            cum += lb
            m = float(self.m[c.name][lv])
            rows.append(dict(component=c.name, level=c.labels[lv], m=m, u=m / 2.0**lb,
                             bayes_factor=2.0**lb, log2_bayes_factor=lb, cumulative=cum))
        idx = {c.name: k for k, c in enumerate(self.comparisons)}
        for key, d in self.dependence.items():
            f, g = key.split("|")
            if f in idx and g in idx and \
                    lev[0, idx[f]] == self.comparisons[idx[f]].n_levels - 1 and \
                    lev[0, idx[g]] == self.comparisons[idx[g]].n_levels - 1:
                cum -= d
                rows.append(dict(component="dependence", level=f"{f} & {g} equal", m=np.nan,
                                 u=np.nan, bayes_factor=2.0**-d, log2_bayes_factor=-d,
                                 cumulative=cum))
        p_final = weight_to_probability(np.array([cum]))[0]
        rows.append(dict(component="final", level=f"p={p_final:.6g}",
                         m=np.nan, u=np.nan, bayes_factor=2.0**cum, log2_bayes_factor=cum,
                         cumulative=cum))
        return pd.DataFrame(rows)

    def parameters(self) -> pd.DataFrame:
        """Table of ``m``, ``u`` and ``log2(m/u)`` per field and level."""
        self.check_fitted()
        rows = []
        for c, bf in zip(self.comparisons, self.log2_bayes_factors()):
            for lv, lab in enumerate(c.labels):
                rows.append(dict(field=c.name, level=lv, label=lab, m=self.m[c.name][lv],
                                 u=self.u[c.name][lv], log2_bayes_factor=float(bf[lv])))
        return pd.DataFrame(rows)

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (no token values, no frequency tables)."""
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "comparisons": [
                {**asdict(c), "thresholds": list(c.thresholds),
                 "views": [list(v) for v in c.views],
                 "fallback": [list(v) for v in c.fallback],
                 "rungs": [[label, list(toks)] for label, toks in c.rungs],
                 "swaps": [list(v) for v in c.swaps]}
                for c in self.comparisons
            ],
            "m": {k: list(map(float, v)) for k, v in self.m.items()},
            "u": {k: list(map(float, v)) for k, v in self.u.items()},
            "prior": self.prior,
            "lambda_candidates": self.lambda_candidates,
            "tf_min": self.tf_min,
            "dependence": dict(self.dependence),
            "info": self.info,
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """The model as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FellegiSunter:
        """Rebuild a model from :meth:`to_dict` output."""
        if d.get("format") != _FORMAT:
            raise ValueError(f"not a nislink Fellegi-Sunter model (format={d.get('format')!r})")
        if int(d.get("version", 0)) > _FORMAT_VERSION:
            raise ValueError(f"model format version {d.get('version')} is newer than supported")
        comps = [
            FieldComparison(
                name=c["name"], field=c.get("field"), token=c.get("token"),
                thresholds=tuple(c.get("thresholds") or DEFAULT_THRESHOLDS),
                tf_adjust=bool(c.get("tf_adjust", False)),
                views=tuple(tuple(v) for v in c.get("views") or ()),
                fallback=tuple(tuple(v) for v in c.get("fallback") or ()),
                rungs=tuple((r[0], tuple(r[1])) for r in c.get("rungs") or ()),
                swaps=tuple(tuple(v) for v in c.get("swaps") or ()),
                record=bool(c.get("record", False)),
                relative=bool(c.get("relative", False)),
            )
            for c in d["comparisons"]
        ]
        return cls(
            comparisons=comps,
            m={k: list(v) for k, v in d.get("m", {}).items()},
            u={k: list(v) for k, v in d.get("u", {}).items()},
            prior=d.get("prior"),
            lambda_candidates=d.get("lambda_candidates"),
            tf_min=float(d.get("tf_min", 1e-6)),
            dependence={k: float(v) for k, v in d.get("dependence", {}).items()},
            info=dict(d.get("info", {})),
        )

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> FellegiSunter:
        """Load a model from JSON text or from a path to a JSON file."""
        s = str(text_or_path)
        if not s.lstrip().startswith("{"):
            s = Path(s).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(s))


#: Alias.
Model = FellegiSunter


def weight_to_probability(w: np.ndarray) -> np.ndarray:
    """Match probability ``2^w / (1 + 2^w)`` of match weights ``w`` (numerically stable)."""
    w = np.asarray(w, dtype=np.float64)
    return 1.0 / (1.0 + np.exp2(-np.clip(w, -1000, 1000)))


def probability_to_weight(p: float) -> float:
    """Match weight ``log2(p / (1 - p))`` of a probability in (0, 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {p}")
    return math.log2(p / (1.0 - p))


def _rule_pairs(a: EncodedFrame, b: EncodedFrame | None, rule: str | list[str]) -> int:
    """Number of record pairs that share a non-missing value of a token (any of several)."""
    names = [rule] if isinstance(rule, str) else list(rule)
    if len(names) == 1:
        ta = _get_token(a, names[0], "a")
        va, ca = np.unique(ta[ta != 0], return_counts=True)
        if b is None:
            return int((ca * (ca - 1) // 2).sum())
        tb = _get_token(b, names[0], "b")
        vb, cb = np.unique(tb[tb != 0], return_counts=True)
        _, xa, xb = np.intersect1d(va, vb, assume_unique=True, return_indices=True)
        return int((ca[xa].astype(np.int64) * cb[xb]).sum())
    # several rules: count distinct pairs (union); pairs are enumerated per shared value
    seen: set[tuple[int, int]] = set()
    for name in names:
        ta = _get_token(a, name, "a")
        tb = ta if b is None else _get_token(b, name, "b")
        groups_b: dict[int, list[int]] = {}
        for j, v in enumerate(tb.tolist()):
            if v:
                groups_b.setdefault(v, []).append(j)
        for i, v in enumerate(ta.tolist()):
            for j in groups_b.get(v, ()) if v else ():
                if b is None and j <= i:
                    continue
                seen.add((i, j))
    return len(seen)

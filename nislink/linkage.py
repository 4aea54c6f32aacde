"""High-level linkage API for the linkage unit: :func:`link`, :func:`dedupe`, :func:`link_many`.

No secret is needed: these functions take :class:`~nislink.frame.EncodedFrame`
objects (keyed encodings and reference numbers) and run block -> compare -> score ->
resolve. Before anything else they check that the frames were made with the same schema
and the same key (``meta["schema_fingerprint"]`` and ``meta["key_fingerprint"]``), so a
party that used the wrong key gets a clear error instead of silently zero links.

Example::

    res = nislink.link(enc_la, enc_dwp, min_weight=0.0)
    res.pairs        # id_a, id_b, match_weight, match_probability (one-to-one)
    res.model.explain(enc_la, enc_dwp, i, j)
"""

from __future__ import annotations

import itertools
import json
import re
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from nislink import block
from nislink.compare import dice_pairs, threshold_pairs, topk
from nislink.errors import IncompatibleEncodings, NoSharedPeopleWarning
from nislink.frame import EncodedFrame, mix64
from nislink.io import check_compatible
from nislink.layout import (
    fallbacks_of,
    level_token_names,
    match_key_names,
    view_token_names,
    views_of,
)
from nislink.model import FellegiSunter, FieldComparison, comparisons_for, random_pairs
from nislink.resolve import cluster, cluster_sources
from nislink.resolve import one_to_one as _assign
from nislink.schema import SALT_JOIN, field_swaps

__all__ = [
    "IncompatibleEncodings",
    "LinkResult",
    "DedupeResult",
    "check_compatible",
    "candidates",
    "combine_tokens",
    "default_blocking",
    "DiceBlocking",
    "with_combined_tokens",
    "link",
    "dedupe",
    "link_many",
    "shared_people_check",
]

@dataclass
class LinkResult:
    """Result of :func:`link`.

    ``pairs``: ``id_a, id_b, match_weight, match_probability`` (plus ``ia, ib`` row
    positions), sorted by decreasing weight; ``model``: the fitted model; ``candidates``:
    number of candidate pairs scored; ``scores``: every scored candidate pair when
    ``keep_scores=True``; ``timings``: seconds per stage.
    """

    pairs: pd.DataFrame
    model: FellegiSunter
    candidates: int
    scores: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"LinkResult(pairs={len(self.pairs)}, candidates={self.candidates})"


@dataclass
class DedupeResult:
    """Result of :func:`dedupe`: ``pairs`` above threshold, ``clusters`` (``id, cluster_id``)."""

    pairs: pd.DataFrame
    clusters: pd.DataFrame
    model: FellegiSunter
    candidates: int
    scores: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        n = int(self.clusters["cluster_id"].nunique()) if len(self.clusters) else 0
        return (f"DedupeResult(pairs={len(self.pairs)}, clusters={n}, "
                f"records={len(self.clusters)}, candidates={self.candidates})")


class _StageTimings(dict):  # type: ignore[type-arg]
    """Stage timings that also advance a progress bar as each stage finishes."""

    STAGES = ("block", "compare", "fit", "score", "resolve")

    def __init__(self, desc: str) -> None:
        super().__init__()

        self._bar = tqdm(total=len(self.STAGES), desc=desc, unit="stage", leave=False)

    def __setitem__(self, key: str, value: float) -> None:
        super().__setitem__(key, value)
        self._bar.set_postfix_str(f"{key} {value:.1f}s")
        self._bar.update(1)
        if len(self) >= len(self.STAGES):
            self._bar.close()


def _timings(progress: bool, desc: str) -> dict[str, float]:
    return _StageTimings(desc) if progress else {}


def blocking_rules(blocking: Any, a: EncodedFrame, b: EncodedFrame | None) -> list[Any]:
    """``blocking`` as a list of rules: ``None`` is :func:`default_blocking` of the two
    frames, one rule a list of one. A :class:`DiceBlocking` must stand alone."""
    if blocking is None:
        rules = default_blocking(a, b)
    elif isinstance(blocking, (block.TokenBlocking, block.LSHBlocking, block.AllPairs,
                               block.LengthFilter, DiceBlocking)):
        rules = [blocking]
    else:
        rules = list(blocking)
    if any(isinstance(r, DiceBlocking) for r in rules) and len(rules) != 1:
        raise ValueError("DiceBlocking cannot be combined with other blocking rules")
    return rules


def pair_token_combos(rules: list[Any], a: EncodedFrame, b: EncodedFrame | None
                      ) -> list[tuple[str, ...]]:
    """The pair tokens (``"surname+dob"``) that ``rules`` name and ``a`` lacks, as tuples of
    token names for :func:`with_combined_tokens`; a ``KeyError`` when a part is missing from
    either frame."""
    need = sorted({t for r in rules if isinstance(r, block.TokenBlocking) for t in r.tokens
                   if "+" in t and t not in a.tokens})
    combos = [tuple(t.split("+")) for t in need]
    for c in combos:
        for part in c:
            if part not in a.tokens or (b is not None and part not in b.tokens):
                raise KeyError(f"blocking token {'+'.join(c)!r}: token {part!r} is not "
                               "in both frames")
    return combos


def _candidates(
    a: EncodedFrame, b: EncodedFrame | None, blocking: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs from ``blocking``: precomputed ``(ia, ib)``, rules, or defaults."""
    if isinstance(blocking, tuple) and len(blocking) == 2 and all(
        isinstance(x, np.ndarray) for x in blocking
    ):
        ia, ib = (np.asarray(x, dtype=np.int64) for x in blocking)
        if ia.shape != ib.shape:
            raise ValueError("precomputed candidate arrays ia and ib differ in length")
        nb = len(a) if b is None else len(b)
        if ia.size and (ia.min() < 0 or ia.max() >= len(a) or ib.min() < 0 or ib.max() >= nb):
            raise IndexError("precomputed candidate positions are out of range")
        return ia, ib

    if isinstance(blocking, dict):
        return block.candidate_pairs(a, b, **blocking)
    rules = blocking_rules(blocking, a, b)
    if any(isinstance(r, DiceBlocking) for r in rules):
        return rules[0].pairs(a, b)
    combos = pair_token_combos(rules, a, b)
    if combos:  # add the "x+y" pair tokens the rules name
        a = with_combined_tokens(a, combos)
        b = None if b is None else with_combined_tokens(b, combos)
    return block.candidate_pairs(a, b, rules)


@dataclass(frozen=True)
class DiceBlocking:
    """Candidate pairs by the Dice coefficient of the record-level filters (CLKs).

    Every pair with Dice ``>= threshold`` is a candidate, found exactly by the
    popcount-pruned kernel :func:`nislink.compare.threshold_pairs` (a pair whose popcounts
    are too far apart to reach the threshold is never compared). ``threshold=None`` takes
    it from the data, so that each record meets about ``per_record`` (default 10) records
    of the other file that are not its match: the threshold is the ``1 - per_record / n``
    quantile (``n`` the other file's size, or the file's in de-duplication) of the Dice of
    ``sample`` random pairs of two different records of one file (half from each file when
    linking; different records of a file are different people), rounded down to 0.01.
    About ``per_record * n`` candidates are scored whatever the schema, and every record
    has competitors, which the rank comparison of a CLK-only model needs
    (:func:`nislink.model.comparisons_for`). This is the default blocking of frames that
    hold only a CLK.
    """

    threshold: float | None = None
    per_record: float = 10.0
    sample: int = 200_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}")
        if not self.per_record > 0:
            raise ValueError(f"per_record must be positive, got {self.per_record!r}")

    def resolve_threshold(self, a: EncodedFrame, b: EncodedFrame | None = None) -> float:
        """The Dice threshold used on ``a`` and ``b`` (``threshold`` or the data's)."""
        if self.threshold is not None:
            return float(self.threshold)
        d = []
        for k, e in enumerate((a,) if b is None else (a, b)):
            if e.clk is None:
                raise ValueError("DiceBlocking needs a record-level filter (CLK) in both frames")
            n = self.sample if b is None else self.sample // 2
            ia, ib = random_pairs(len(e), None, n, seed=self.seed + k)
            if len(ia):
                d.append(dice_pairs(e.clk, e.clk, ia, ib))
        if not d:
            return 0.5
        n_other = len(a) if b is None else len(b)
        quantile = min(max(1.0 - self.per_record / max(n_other, 1), 0.5), 1.0)
        q = float(np.quantile(np.concatenate(d), quantile))
        return min(max(np.floor(q * 100.0) / 100.0, 0.01), 1.0)

    def pairs(self, a: EncodedFrame, b: EncodedFrame | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate pairs ``(ia, ib)`` (``b=None``: within ``a``, ``ia < ib``)."""
        if a.clk is None or (b is not None and b.clk is None):
            raise ValueError("DiceBlocking needs a record-level filter (CLK) in both frames")
        t = self.resolve_threshold(a, b)
        ia, ib, _ = threshold_pairs(a.clk, None if b is None else b.clk, t)
        return ia.astype(np.int64), ib.astype(np.int64)


#: Pairs below which :func:`default_blocking` compares every pair when nothing else applies.
ALL_PAIRS_LIMIT = 5_000_000
#: Records sharing one blocking value (per side) above which the value is skipped.
DEFAULT_BLOCK_CAP = 200

def combine_tokens(enc: EncodedFrame, names: list[str] | tuple[str, ...]) -> np.ndarray:
    """One ``uint64`` token per record that is equal exactly when all ``names`` are equal.

    Built from the keyed tokens only (no secret, no raw value): each token is mixed with
    its position and the results combined, so the combination is as opaque as its parts.
    ``0`` (missing) when any part is missing.
    """
    out = np.zeros(len(enc), dtype=np.uint64)
    missing = np.zeros(len(enc), dtype=bool)
    for k, n in enumerate(names):
        t = enc.tokens[n]
        missing |= t == 0
        with np.errstate(over="ignore"):
            out = mix64(out ^ mix64(t + np.uint64(k + 1)))
    out[out == 0] = np.uint64(1)
    out[missing] = 0
    return out


def with_combined_tokens(
    enc: EncodedFrame, combos: list[tuple[str, ...]]
) -> EncodedFrame:
    """A shallow copy of ``enc`` with extra tokens ``"a+b"`` for each combination."""
    toks = dict(enc.tokens)
    for c in combos:
        toks["+".join(c)] = combine_tokens(enc, c)
    return EncodedFrame(enc.ids, enc.fields, enc.clk, toks, enc.meta)


def _blocking_plan(
    a: EncodedFrame, b: EncodedFrame | None
) -> tuple[list[str], list[tuple[str, ...]], list[str]]:
    bb = a if b is None else b
    shared = set(a.tokens) & set(bb.tokens)
    keys = sorted((match_key_names(a) | match_key_names(bb)) & shared)
    views = views_of(a, bb)
    view_tokens = view_token_names(a) | view_token_names(bb) | level_token_names(a) \
        | level_token_names(bb)
    # a salted view's token (a name with its salt: nearly unique) blocks on its own
    salted = [f for vs in list(views.values()) + list(fallbacks_of(a, bb).values())
              for f, _ in vs if f in shared]
    # swap tokens (forename and surname as an unordered pair, salted alike): the same
    sd = a.meta.get("schema") if isinstance(a.meta, dict) else None
    salted += sorted({w for sw in field_swaps(sd).values() for w in sw.values() if w in shared})
    # the tags of compound salts (the same postcode and part of the date: a household's
    # worth of records at most): records sharing one are compared even when both names
    # differ. Date-only salts' tags get a rule of their own (default_blocking): their
    # classes grow with the file (about 120 records a side at a million people); the digit
    # views' tags are no keys at all (_DIGIT_TAG).
    salted += [t for t in _salt_tags(a, bb) if SALT_JOIN in t and not _DIGIT_TAG.search(t)]
    # identifier tokens (no filter): a shared value is strong evidence on its own
    ident = sorted(t for t in shared if t not in a.fields and t not in keys and t != "sex"
                   and t not in view_tokens)
    fielded = [f for f in a.fields if f in shared and not (f in view_tokens and f not in views)]
    combos = [(x, y) for i, x in enumerate(fielded) for y in fielded[i + 1:]]
    return keys + ident + salted, combos, fielded


_DIGIT_TAG = re.compile(r"_blank\d(&|$)")
"""A digit view's tag (``~dob_blank3&surname_initial``): up to ten dates of birth, so not a
blocking key (the view's salted name tokens are)."""

DATE_TAG_CAP = 40
"""Block size (records a side) up to which a date-only salt's tag (``~dob_yearpair0``:
nearly the same date of birth) is a blocking key; its classes grow with the file (about
6 records a side at 50,000 people, 120 at a million), so in large files it drops out
instead of swamping the candidates."""


def _salt_tags(a: EncodedFrame, b: EncodedFrame) -> list[str]:
    """The tag tokens of the salted names' views (primary and extra) that both frames
    hold, in schema order."""
    shared = set(a.tokens) & set(b.tokens)
    return [t for t in dict.fromkeys(t for vs in views_of(a, b).values() for _, t in vs)
            if t in shared]


def default_blocking(a: EncodedFrame, b: EncodedFrame | None = None) -> list[Any]:
    """The default blocking rules (see :func:`candidates`).

    :class:`~nislink.block.TokenBlocking` (values held by more than ``DEFAULT_BLOCK_CAP``
    records on a side skipped) on every match key, every identifier token (a token with no
    Bloom filter, e.g. NI number) and every *pair* of field tokens (``"forename+dob"``: a
    record pair is a candidate when any two fields agree exactly). The pair tokens are made
    by :func:`with_combined_tokens`; :func:`link` and :func:`dedupe` add them for you. With
    no tokens at all: LSH on the CLK when there is one, else every pair (when there are at
    most ``ALL_PAIRS_LIMIT``).
    """

    singles, combos, _ = _blocking_plan(a, b)
    names = singles + ["+".join(c) for c in combos]
    rules: list[Any] = []
    if names:
        rules.append(block.TokenBlocking(names, max_block_size=DEFAULT_BLOCK_CAP))
    dated = [t for t in _salt_tags(a, a if b is None else b) if SALT_JOIN not in t
             and not _DIGIT_TAG.search(t)]
    if dated:
        rules.append(block.TokenBlocking(dated, max_block_size=DATE_TAG_CAP))
    bb = a if b is None else b
    if not rules and a.clk is not None and bb.clk is not None:
        rules.append(DiceBlocking())
    if not rules:
        total = len(a) * (len(a) - 1) // 2 if b is None else len(a) * len(bb)
        if total > ALL_PAIRS_LIMIT:
            raise ValueError(
                f"no tokens or record-level filters to block on, and {total} pairs are "
                f"too many to compare all: pass blocking=[...] rules"
            )
        rules.append(block.AllPairs())
    return rules


def candidates(
    a: EncodedFrame, b: EncodedFrame | None = None, blocking: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs ``(ia, ib)`` for :func:`link` / :func:`dedupe`.

    ``blocking`` is ``None`` (:func:`default_blocking`, with the pair tokens added to
    copies of the frames), a list of :mod:`nislink.block` rules (rules may name pair tokens
    such as ``"surname+dob"``; they are added when missing), a dict of keyword options for
    :func:`nislink.block.candidate_pairs`, or precomputed ``(ia, ib)`` arrays.
    """
    return _candidates(a, b, blocking)


def prepare_model(
    model: FellegiSunter | None,
    a: EncodedFrame,
    b: EncodedFrame,
    dice_levels: dict[str, tuple[float, ...]] | tuple[float, ...] | None,
    tf_adjust: bool | list[str],
    comparisons: list[FieldComparison] | None,
) -> tuple[FellegiSunter, bool]:
    """The model to score with and whether it must be fitted: ``model`` (fitted when it
    lacks ``m``, ``u`` or a prior) or a new one with :func:`comparisons_for`'s
    comparisons (or ``comparisons``)."""
    if model is not None:
        fitted = model.prior is not None and all(
            c.name in model.m and c.name in model.u for c in model.comparisons
        ) and bool(model.comparisons)
        return model, not fitted
    comps = comparisons or comparisons_for(a, b, dice_levels=dice_levels, tf_adjust=tf_adjust)
    return FellegiSunter(comparisons=comps), True


def _score_candidates(
    model: FellegiSunter,
    need_fit: bool,
    a: EncodedFrame,
    b: EncodedFrame | None,
    ia: np.ndarray,
    ib: np.ndarray,
    fit_options: dict[str, Any],
    timings: dict[str, float],
) -> pd.DataFrame:
    t = time.perf_counter()
    levels = model.levels(a, b, ia, ib)
    timings["compare"] = time.perf_counter() - t
    t = time.perf_counter()
    if need_fit:
        model.fit(a, b, ia, ib, levels=levels, **fit_options)
    timings["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    scores = model.score(a, b, ia, ib, levels=levels)
    timings["score"] = time.perf_counter() - t
    return scores


def order_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """Scored pairs in the order of :func:`link`'s output: decreasing weight, then
    ``(ia, ib)``."""
    return df.sort_values(["match_weight", "ia", "ib"], ascending=[False, True, True],
                          kind="mergesort").reset_index(drop=True)


def _with_ids(df: pd.DataFrame, a: EncodedFrame, b: EncodedFrame) -> pd.DataFrame:
    ia, ib = df["ia"].to_numpy(), df["ib"].to_numpy()
    return pd.DataFrame({
        "id_a": a.ids[ia], "id_b": b.ids[ib],
        "match_weight": df["match_weight"].to_numpy(),
        "match_probability": df["match_probability"].to_numpy(),
        "ia": ia, "ib": ib,
    })


def link(
    enc_a: EncodedFrame,
    enc_b: EncodedFrame,
    *,
    min_weight: float = 0.0,
    blocking: Any = None,
    model: FellegiSunter | None = None,
    one_to_one: str | None = "greedy",
    dice_levels: dict[str, tuple[float, ...]] | tuple[float, ...] | None = None,
    tf_adjust: bool | list[str] = True,
    comparisons: list[FieldComparison] | None = None,
    prior_rule: str | list[str] | None = "auto",
    u_pairs: int = 1_000_000,
    seed: int = 0,
    fix_u: bool = True,
    em_sessions: str | list[list[str]] | None = "auto",
    dependence: bool = True,
    keep_scores: bool = False,
    progress: bool = False,
    **deprecated: Any,
) -> LinkResult:
    """Link two encoded frames; no secret needed.

    Every option and its default is listed in one table in ``docs/matching.md``
    ("Options"); :func:`dedupe` and the command line take the same names.

    * ``min_weight``: minimum match weight (``log2`` posterior odds) of a kept pair; ``0.0``
      means match probability 0.5.
    * ``blocking``: ``None`` for :func:`default_blocking`, a list of
      :mod:`nislink.block` rules (which may name pair tokens such as ``"surname+dob"``), a
      dict of keyword options for :func:`nislink.block.candidate_pairs`, or precomputed
      ``(ia, ib)`` arrays (see :func:`candidates`).
    * ``model``: a trained :class:`~nislink.model.FellegiSunter` (e.g. loaded from JSON) to
      score with; without one, a model is fitted on these frames (``u`` from ``u_pairs``
      random pairs with ``seed``, ``m`` by EM, prior from ``prior_rule`` or EM).
    * ``one_to_one``: keep each record in at most one pair, ``"greedy"`` (default) or
      ``"optimal"``; ``None`` keeps every pair at or above ``min_weight``.
    * ``dice_levels`` (the Dice similarities that bound a filter comparison's levels, one
      tuple for all fields or a dict per field)/``tf_adjust`` (term-frequency adjustment
      of exact-token agreement, on by default)/``comparisons``: model comparison options;
      ``em_sessions``, ``fix_u``, ``dependence``, ``prior_rule``: fitting options (see
      :meth:`nislink.model.FellegiSunter.fit`). ``prior_rule="auto"`` is the EM prior
      when linking two files (for :func:`dedupe`, the schema's strong match keys).
    * The names of the first release (``threshold``, ``thresholds``,
      ``one_to_one_method``, ``one_to_one=True/False``) still work for this release, with a
      ``DeprecationWarning``.
    * ``keep_scores``: keep every scored candidate pair in ``.scores``.
    * ``progress``: show a progress bar over the stages (block, compare, fit, score,
      resolve).
    """
    opts = renamed_options("link", deprecated, min_weight=min_weight, dice_levels=dice_levels,
                    one_to_one=one_to_one)
    min_weight, dice_levels, one_to_one = (opts["min_weight"], opts["dice_levels"],
                                           opts["one_to_one"])
    if prior_rule == "auto":  # two files: EM's prior (see the docstring)
        prior_rule = None
    check_compatible(enc_a, enc_b)
    timings = _timings(progress, "linking")
    t = time.perf_counter()
    ia, ib = _candidates(enc_a, enc_b, blocking)
    timings["block"] = time.perf_counter() - t
    mdl, need_fit = prepare_model(model, enc_a, enc_b, dice_levels, tf_adjust, comparisons)
    if len(ia) == 0:
        if need_fit:
            raise ValueError("blocking produced no candidate pairs: nothing to fit a model on")
        empty = pd.DataFrame({"id_a": [], "id_b": [], "match_weight": [],
                              "match_probability": [], "ia": [], "ib": []})
        return LinkResult(empty, mdl, 0, None, timings)
    scores = _score_candidates(
        mdl, need_fit, enc_a, enc_b, ia, ib,
        dict(u_pairs=u_pairs, seed=seed, prior_rule=prior_rule, fix_u=fix_u,
             em_sessions=em_sessions, dependence=dependence), timings,
    )
    t = time.perf_counter()
    kept = scores[scores["match_weight"] >= min_weight]
    if one_to_one:
        sel = _assign(
            kept["ia"].to_numpy(), kept["ib"].to_numpy(), kept["match_weight"].to_numpy(),
            method=one_to_one,
        )
        kept = kept.iloc[sel]
    timings["resolve"] = time.perf_counter() - t
    pairs = _with_ids(order_pairs(kept.copy()), enc_a, enc_b)
    if mdl.comparisons and all(c.record for c in mdl.comparisons) and len(pairs):
        shared_people_check(enc_a, enc_b, pairs["ia"].to_numpy(), pairs["ib"].to_numpy(),
                            mdl, seed=seed)
    return LinkResult(pairs, mdl, int(len(ia)), scores if keep_scores else None, timings)


def shared_people_check(enc_a: EncodedFrame, enc_b: EncodedFrame, ia: np.ndarray,
                        ib: np.ndarray, model: FellegiSunter, *, sample: int = 1000,
                        quantile: float = 0.99, seed: int = 0) -> dict[str, Any]:
    """Do the links of two CLK-only files show people the files share?

    With one similarity per pair, EM always finds a "match" class, even between files
    that share nobody. The null is a record's *best stranger*: for ``sample`` records of
    each file, the highest Dice with the other records of its own file (different records
    of one file are different people), turned into the best of as many strangers as the
    other file holds (``F(x)^(n/P)`` for a pool of ``P``). Among links between files that
    share nobody, about ``1 - quantile`` of them reach that null's ``quantile``; the files
    show shared people when more than three times that many (and more than 10) do.
    Otherwise a :class:`~nislink.errors.NoSharedPeopleWarning` is raised. The figures go
    to ``model.info["shared_people"]`` and are returned.
    """
    rng = np.random.default_rng(seed + 101)
    d_link = dice_pairs(enc_a.clk, enc_b.clk, ia, ib)
    cuts = []
    for own, other in ((enc_a, enc_b), (enc_b, enc_a)):
        if len(own) < 3:
            continue
        pick = np.sort(rng.choice(len(own), size=min(sample, len(own)), replace=False))
        qa, qb, qs = topk(own.clk.take(pick), own.clk, 2)  # itself and its best stranger
        keep = pick[qa] != qb
        first = pd.Series(qs[keep]).groupby(qa[keep]).max().to_numpy()
        pool = len(own) - 1
        q = quantile ** (pool / max(len(other), 1))  # best of len(other), not of pool
        cuts.append(float(np.quantile(first, q)))
    cut = max(cuts) if cuts else 1.0
    above = int((d_link >= cut).sum())
    expected = (1.0 - quantile) * len(d_link)
    shared = bool(above > 3.0 * expected and above > 10)
    info = {"links": int(len(d_link)), "shared": shared, "dice_cut": cut,
            "links_above_cut": above, "strangers_expected_above_cut": expected}
    if not shared:
        warnings.warn(
            f"these CLK-only files look as if they share nobody: of {len(d_link)} links, "
            f"{above} reach Dice {cut:.2f}, which about {100 * (1 - quantile):.0f}% of "
            "links between strangers reach too; treat the links as false unless you know "
            "the files overlap (model.info['shared_people'])",
            NoSharedPeopleWarning, stacklevel=3)
    model.info["shared_people"] = info
    return info


#: Option names of the first release and their replacements (kept for one release).
RENAMED_OPTIONS = {"threshold": "min_weight", "thresholds": "dice_levels",
                   "one_to_one_method": "one_to_one"}


def renamed_options(func: str, deprecated: dict[str, Any], **current: Any) -> dict[str, Any]:
    """The current options with any first-release name in ``deprecated`` mapped to its new
    name (a ``DeprecationWarning`` each); an unknown name is a ``TypeError``, as Python
    gives."""
    out = dict(current)
    o = current.get("one_to_one")
    if o is True or o is False:  # the first release's switch
        use = "'greedy'" if o else "None"
        warnings.warn(f"{func}(one_to_one={o}) is deprecated: use one_to_one={use}",
                      DeprecationWarning, stacklevel=3)
        out["one_to_one"] = "greedy" if o else None
    for old, value in deprecated.items():
        new = RENAMED_OPTIONS.get(old)
        if new is None or new not in current:
            raise TypeError(f"{func}() got an unexpected keyword argument {old!r}")
        warnings.warn(f"{func}({old}=...) is deprecated: use {new}=... (the old name goes "
                      "in the next release)", DeprecationWarning, stacklevel=3)
        if old == "one_to_one_method" and o is False:
            value = None  # one_to_one=False turned the method off
        out[new] = value
    if "one_to_one" in current:
        if out["one_to_one"] not in (None, "greedy", "optimal"):
            raise ValueError(f"{func}: one_to_one must be 'greedy', 'optimal' or None, "
                             f"not {out['one_to_one']!r}")
    return out


def auto_prior_rule(enc: EncodedFrame, min_coverage: float = 0.05) -> list[str] | None:
    """Match keys of ``enc``'s schema that pin a person down (full date of birth, NINO or
    UPN among their components) and are present on at least ``min_coverage`` of the
    records, or ``None`` when there is none (see :func:`prior_rule_choice`)."""
    return prior_rule_choice(enc, min_coverage)[0]


def prior_rule_choice(enc: EncodedFrame, min_coverage: float = 0.05
                      ) -> tuple[list[str] | None, str]:
    """``(match keys, reason)``: the keys :func:`auto_prior_rule` takes and why, naming
    any strong key left out because too few records have it (a key whose components are
    missing on most records would count almost no pairs and give an absurdly small
    prior: the EM prior is then used instead)."""
    schema = enc.meta.get("schema") if isinstance(enc.meta, dict) else None
    if isinstance(schema, str):
        schema = json.loads(schema)
    keys = (schema or {}).get("match_keys") or []
    strong = {"dob", "nino", "upn"}
    names = [k["name"] for k in keys
             if strong & set(k.get("components", ())) and k["name"] in enc.tokens]
    n = max(len(enc), 1)
    cover = {k: float((enc.tokens[k] != 0).sum()) / n for k in names}
    kept = [k for k in names if cover[k] >= min_coverage]
    dropped = [f"{k} ({cover[k]:.0%} of records)" for k in names if k not in kept]
    if not names:
        return None, "no match key with a full date of birth, NINO or UPN: EM prior"
    if not kept:
        return None, ("EM prior: every strong match key is missing on nearly every "
                      "record: " + ", ".join(dropped))
    why = "prior from match keys " + ", ".join(kept)
    if dropped:
        why += "; left out as missing on nearly every record: " + ", ".join(dropped)
    return kept, why


def dedupe(
    enc: EncodedFrame,
    *,
    min_weight: float = 0.0,
    blocking: Any = None,
    model: FellegiSunter | None = None,
    method: str = "components",
    dice_levels: dict[str, tuple[float, ...]] | tuple[float, ...] | None = None,
    tf_adjust: bool | list[str] = True,
    comparisons: list[FieldComparison] | None = None,
    prior_rule: str | list[str] | None = "auto",
    u_pairs: int = 1_000_000,
    seed: int = 0,
    fix_u: bool = True,
    em_sessions: str | list[list[str]] | None = "auto",
    dependence: bool = True,
    keep_scores: bool = False,
    progress: bool = False,
    **deprecated: Any,
) -> DedupeResult:
    """Find duplicate records within one encoded frame and cluster them.

    Options as :func:`link`; ``method`` is the clustering method of
    :func:`nislink.resolve.cluster` (``"components"`` or ``"centre"``, which resists
    chaining). ``.pairs`` has every candidate pair at or above ``min_weight``
    (``id_a < id_b`` by position); ``.clusters`` has ``id, cluster_id`` for every record
    (singletons included), cluster ids deterministic.

    ``prior_rule="auto"`` (the default here) takes the prior from the schema's match keys
    that pin a person down (those with a full date of birth, a NINO or a UPN among their
    components): in one file with few duplicates, EM alone would take families (same
    surname and address) for duplicates. Pass ``None`` for the EM prior.
    """
    opts = renamed_options("dedupe", deprecated, min_weight=min_weight, dice_levels=dice_levels)
    min_weight, dice_levels = opts["min_weight"], opts["dice_levels"]
    timings = _timings(progress, "de-duplicating")
    t = time.perf_counter()
    ia, ib = _candidates(enc, None, blocking)
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    keep = lo != hi
    ia, ib = lo[keep], hi[keep]
    if len(ia):
        key = np.unique(ia * np.int64(len(enc)) + ib)
        ia, ib = key // len(enc), key % len(enc)
    timings["block"] = time.perf_counter() - t
    mdl, need_fit = prepare_model(model, enc, enc, dice_levels, tf_adjust, comparisons)
    if len(ia) == 0 and need_fit:
        raise ValueError("blocking produced no candidate pairs: nothing to fit a model on")
    rule, why = prior_rule_choice(enc) if prior_rule == "auto" else (prior_rule, "")
    if len(ia):
        scores = _score_candidates(
            mdl, need_fit, enc, None, ia, ib,
            dict(u_pairs=u_pairs, seed=seed,
                 prior_rule=rule,
                 fix_u=fix_u,
             em_sessions=em_sessions, dependence=dependence), timings,
        )
    else:
        scores = pd.DataFrame({"ia": ia, "ib": ib, "match_weight": np.zeros(0),
                               "match_probability": np.zeros(0)})
    if need_fit and why:
        mdl.info["prior_choice"] = why
    t = time.perf_counter()
    kept = scores[scores["match_weight"] >= min_weight]
    labels = cluster(len(enc), kept["ia"].to_numpy(), kept["ib"].to_numpy(),
                     kept["match_weight"].to_numpy(), method=method)
    timings["resolve"] = time.perf_counter() - t
    pairs = _with_ids(order_pairs(kept.copy()), enc, enc)
    clusters = pd.DataFrame({"id": enc.ids, "cluster_id": labels})
    return DedupeResult(pairs, clusters, mdl, int(len(ia)), scores if keep_scores else None,
                        timings)


def link_many(
    frames: dict[str, EncodedFrame],
    *,
    min_weight: float = 0.0,
    blocking: Any = None,
    one_per_source: bool = True,
    **options: Any,
) -> pd.DataFrame:
    """Cluster the records of several sources (each assumed free of duplicates).

    Every pair of sources is linked with :func:`link` (without one-to-one; a model is fitted
    per pair of sources unless ``model`` is given); the scored pairs at or above
    ``min_weight`` are merged by :func:`nislink.resolve.cluster_sources`, which with
    ``one_per_source`` never puts two records of one source in a cluster. Returns
    ``source, id, cluster_id`` for every record of every source.
    """
    if "threshold" in options:
        min_weight = renamed_options("link_many", {"threshold": options.pop("threshold")},
                              min_weight=min_weight)["min_weight"]
    names = list(frames)
    if len(names) < 2:
        raise ValueError("link_many needs at least two sources")
    for x, y in itertools.combinations(names, 2):
        check_compatible(frames[x], frames[y], names=(x, y))
    offsets = np.cumsum([0] + [len(frames[n]) for n in names])
    gi, gj, gw = [], [], []
    for (x, ox), (y, oy) in itertools.combinations(zip(names, offsets[:-1]), 2):
        res = link(frames[x], frames[y], min_weight=min_weight, blocking=blocking,
                   one_to_one=None, **options)
        gi.append(res.pairs["ia"].to_numpy() + ox)
        gj.append(res.pairs["ib"].to_numpy() + oy)
        gw.append(res.pairs["match_weight"].to_numpy())
    source = np.concatenate([[n] * len(frames[n]) for n in names]).astype(object)
    labels = cluster_sources(source, np.concatenate(gi), np.concatenate(gj),
                             np.concatenate(gw), threshold=min_weight,
                             one_per_source=one_per_source)
    ids = np.concatenate([frames[n].ids for n in names])
    return pd.DataFrame({"source": source, "id": ids, "cluster_id": labels})

"""Link a file too large to hold in memory by streaming it through blocking and scoring.

A local authority's million people against a department's tens of millions: the smaller
file is held in memory, the larger one is read from its encoded file in chunks.
:func:`link_stream` works in three passes over the larger file, none of which holds more
than one chunk of it:

1. **A random sample** of ``sample_rows`` records (:func:`nislink.io.read_rows`), on which
   the model is fitted exactly as :func:`nislink.linkage.link` fits one (``u`` from
   random pairs, ``m`` and the prior by EM on the sample's candidate pairs). A trained
   ``model`` can be given instead; the sample then only settles the blocking rules.
2. **Token columns only** (:func:`nislink.io.read_tokens`): for each blocking token, the
   values held by more than the rule's ``max_block_size`` records of the *whole* file (so
   that each chunk skips the same too-common values as an in-memory run would), and the
   term-frequency counts of the model's tokens over both whole files.
3. **Every chunk** (:func:`nislink.io.iter_chunks`, checksum verified as it streams):
   candidate pairs with the file-wide caps, comparison and scoring with the fitted model
   and the file-wide term frequencies; only pairs at or above ``min_weight`` are kept.

The kept pairs of all chunks are then resolved one-to-one together. Given the same model,
the links are identical to :func:`nislink.linkage.link` on the two files in memory,
whatever the chunk size (tested); with ``sample_rows`` at least the file's size the model
is the one :func:`~nislink.linkage.link` fits, so the whole result is identical.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from nislink import block, io
from nislink.frame import EncodedFrame
from nislink.linkage import (
    DiceBlocking,
    LinkResult,
    blocking_rules,
    combine_tokens,
    order_pairs,
    pair_token_combos,
    prepare_model,
    shared_people_check,
    with_combined_tokens,
)
from nislink.model import FellegiSunter, FieldComparison
from nislink.resolve import one_to_one as _assign

__all__ = ["link_stream", "common_values"]

#: Records of the larger file read in pass 1 when a trained model is given (the sample
#: then only settles the blocking rules; nothing is fitted on it).
SMALL_SAMPLE = 1_000


def common_values(values: np.ndarray, cap: int) -> np.ndarray:
    """Sorted distinct non-zero ``values`` held by more than ``cap`` rows."""
    v = np.sort(values[values != 0])
    if len(v) <= cap:
        return v[:0]
    brk = np.flatnonzero(v[1:] != v[:-1]) + 1
    start = np.r_[0, brk]
    size = np.diff(np.r_[start, len(v)])
    return v[start[size > cap]]


def _counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = values[values != 0]
    if not len(v):
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    u, c = np.unique(v, return_counts=True)
    return u, c.astype(np.int64)


def _tf_table(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Term-frequency table (sorted values, shares) from the counts of several pieces: the
    table :meth:`nislink.model.FellegiSunter.score` builds from the pieces together."""
    u = np.concatenate([q[0] for q in parts])
    c = np.concatenate([q[1] for q in parts])
    if not len(u):
        return np.zeros(0, np.uint64), np.zeros(0, np.float64)
    uniq, inv = np.unique(u, return_inverse=True)
    cnt = np.bincount(inv.ravel(), weights=c, minlength=len(uniq)).astype(np.int64)
    return uniq, cnt / cnt.sum()


def _rules(blocking: Any, a: EncodedFrame, sample: EncodedFrame) -> list[Any]:
    """:func:`~nislink.linkage.blocking_rules`, less the rules a stream cannot take."""
    if isinstance(blocking, (dict, tuple)):
        raise TypeError("link_stream takes blocking=None or a list of rules (TokenBlocking, "
                        "AllPairs, LengthFilter or one DiceBlocking), not keyword options "
                        "or precomputed pairs")
    rules = blocking_rules(blocking, a, sample)
    for r in rules:
        if isinstance(r, block.LSHBlocking):
            raise ValueError("link_stream cannot stream LSHBlocking (its bands are planned "
                             "from both whole files); use TokenBlocking rules or "
                             "DiceBlocking(threshold=...)")
        if not isinstance(r, (block.TokenBlocking, block.AllPairs, block.LengthFilter,
                              DiceBlocking)):
            raise TypeError(f"unknown blocking rule {r!r}")
    return rules


def _check_int(name: str, v: Any, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name} must be a whole number of at least {low}, got {v!r}")
    return int(v)


def link_stream(
    enc_a: EncodedFrame,
    path_b: str | os.PathLike[str],
    *,
    chunk_rows: int = 500_000,
    sample_rows: int = 1_000_000,
    min_weight: float = 0.0,
    blocking: Any = None,
    model: FellegiSunter | None = None,
    one_to_one: str | None = "greedy",
    dice_levels: dict[str, tuple[float, ...]] | tuple[float, ...] | None = None,
    tf_adjust: bool | list[str] = True,
    comparisons: list[FieldComparison] | None = None,
    u_pairs: int = 1_000_000,
    seed: int = 0,
    fix_u: bool = True,
    em_sessions: str | list[list[str]] | None = "auto",
    dependence: bool = True,
    progress: bool = False,
    on_candidates: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> LinkResult:
    """Link ``enc_a`` (in memory) to the encoded file ``path_b``, read in chunks.

    For a file too large to load (see the module docstring for the three passes).
    ``chunk_rows`` records of ``path_b`` are held at a time; the model is fitted on a random
    sample of ``sample_rows`` of its records (drawn with ``seed``) unless a trained
    ``model`` is given (then only ``SMALL_SAMPLE`` records are read in that pass, unless a
    ``DiceBlocking`` rule needs the sample for its threshold). The other options are
    :func:`nislink.linkage.link`'s; ``blocking`` is ``None`` (the default rules) or a list
    of :class:`~nislink.block.TokenBlocking`, :class:`~nislink.block.AllPairs` and
    :class:`~nislink.block.LengthFilter` rules, or one
    :class:`~nislink.linkage.DiceBlocking` (its threshold, when not given, is taken from
    ``enc_a`` and the sample). ``LSHBlocking`` is refused (its bands are planned from both
    whole files). ``on_candidates``, when given, is called with each chunk's candidate pairs
    ``(ia, ib)`` (``ib`` a row position in ``path_b``) before they are scored: a way to
    measure blocking (pairs completeness) without keeping every pair.

    Returns a :class:`~nislink.linkage.LinkResult` whose ``ib`` are row positions in
    ``path_b``; ``timings`` has ``sample`` (pass 1), ``tokens`` (pass 2), ``fit``,
    ``chunks`` (pass 3: block, compare and score) and ``resolve``. The file's checksum is
    verified as it streams; a corrupt file raises :class:`~nislink.errors.EncodedFileError`
    and no result is returned.
    """
    chunk_rows = _check_int("chunk_rows", chunk_rows, 1)
    sample_rows = _check_int("sample_rows", sample_rows, 1)
    if not isinstance(enc_a, EncodedFrame):
        raise TypeError(f"enc_a must be an EncodedFrame, got {type(enc_a).__name__}")
    p = os.fspath(path_b)
    meta_b = io.read_meta(p)
    io.check_compatible(enc_a, meta_b, names=["file a", p])
    nb = int(meta_b["rows"])
    timings: dict[str, float] = {}

    # pass 1: the sample (it settles the rules and fits the model). With a trained model
    # and keyed-token frames nothing is fitted or estimated from it: a few rows will do.
    t = time.perf_counter()
    trained = model is not None and model.prior is not None and bool(model.comparisons) \
        and all(c.name in model.m and c.name in model.u for c in model.comparisons)
    if trained and enc_a.tokens and not isinstance(blocking, DiceBlocking) and not (
            isinstance(blocking, list) and any(isinstance(r, DiceBlocking) for r in blocking)):
        sample_rows = min(sample_rows, SMALL_SAMPLE)
    rng = np.random.default_rng(seed)
    pos = np.arange(nb, dtype=np.int64) if sample_rows >= nb else \
        np.sort(rng.choice(nb, size=sample_rows, replace=False)).astype(np.int64)
    sample = io.read_rows(p, pos)
    io.check_compatible(enc_a, sample, names=["file a", p])
    timings["sample"] = time.perf_counter() - t

    rules = _rules(blocking, enc_a, sample)
    dice = next((r for r in rules if isinstance(r, DiceBlocking)), None)
    if dice is not None and dice.threshold is None:
        dice = replace(dice, threshold=dice.resolve_threshold(enc_a, sample))
    combos = pair_token_combos(rules, enc_a, sample)
    a_blk = with_combined_tokens(enc_a, combos) if combos else enc_a

    mdl, need_fit = prepare_model(model, enc_a, sample, dice_levels, tf_adjust, comparisons)
    ranked = [c.name for c in mdl.comparisons if c.relative]
    if ranked:
        raise ValueError(
            f"comparison {ranked[0]!r} ranks each record's candidates across the whole file "
            "(the default of CLK-only files), which a streamed file cannot give chunk by "
            "chunk: link in memory, or pass comparisons without it (e.g. "
            "[FieldComparison(RECORD_FILTER, field=RECORD_FILTER, record=True)])")

    # pass 2: file-wide block caps and term frequencies, from the token columns only
    t = time.perf_counter()
    caps: dict[str, int] = {}
    for r in rules:
        if isinstance(r, block.TokenBlocking):
            for name in r.tokens:
                if caps.setdefault(name, r.max_block_size) != r.max_block_size:
                    raise ValueError(f"token {name!r} is in two blocking rules with different "
                                     "max_block_size; link_stream needs one cap per token")
    tf_tokens = {c.name: c.token for c in mdl.comparisons if c.tf_adjust and c.token}
    b_counts: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # each column read once
    common: dict[str, np.ndarray] = {}
    for name, cap in caps.items():
        parts = name.split("+") if name not in meta_b["tokens"] else [name]
        cols = io.read_tokens(p, parts)
        vals = cols[name] if len(parts) == 1 else combine_tokens(
            EncodedFrame(np.empty(nb, dtype=object), {}, None, cols, {}), parts)
        common[name] = common_values(vals, cap)
        for part in parts:
            if part in tf_tokens.values() and part not in b_counts:
                b_counts[part] = _counts(cols[part])
        del cols, vals
    tables = {}
    for cname, tok in tf_tokens.items():
        if tok not in b_counts:
            b_counts[tok] = _counts(io.read_tokens(p, [tok])[tok])
        tables[cname] = _tf_table([_counts(enc_a.tokens[tok]), b_counts[tok]])
    timings["tokens"] = time.perf_counter() - t

    def pairs_of(b: EncodedFrame) -> tuple[np.ndarray, np.ndarray]:
        if dice is not None:
            return dice.pairs(enc_a, b)
        bb = with_combined_tokens(b, combos) if combos else b
        return block.candidate_pairs(a_blk, bb, rules, b_common=common)

    t = time.perf_counter()
    if need_fit:
        ia, ib = pairs_of(sample)
        if len(ia) == 0:
            raise ValueError("blocking produced no candidate pairs in the sample: nothing to "
                             "fit a model on (raise sample_rows or pass a trained model)")
        levels = mdl.levels(enc_a, sample, ia, ib)
        mdl.fit(enc_a, sample, ia, ib, levels=levels, u_pairs=u_pairs, seed=seed,
                prior_rule=None, fix_u=fix_u, em_sessions=em_sessions, dependence=dependence)
        mdl.info["stream_sample"] = {"rows": int(len(sample)), "of": nb, "seed": seed}
        del levels, ia, ib
    clk_only = bool(mdl.comparisons) and all(c.record for c in mdl.comparisons)
    if not clk_only:
        del sample  # only the CLK-only guard at the end needs it
    mdl.check_fitted()
    scorer = mdl.with_tf_tables(tables) if tables else mdl
    timings["fit"] = time.perf_counter() - t

    # pass 3: every chunk
    t = time.perf_counter()
    keep_ia, keep_ib, keep_w, keep_p, keep_id = [], [], [], [], []
    n_cand = 0
    offset = 0
    bar = tqdm(total=nb, unit="rows", desc="linking (streamed)", disable=not progress)
    try:
        for chunk in io.iter_chunks(p, chunk_rows):
            if offset == 0:
                io.check_compatible(enc_a, chunk, names=["file a", p])
            ia, ib = pairs_of(chunk)
            n_cand += len(ia)
            if on_candidates is not None:
                on_candidates(ia, ib + offset)
            if len(ia):
                sc = scorer.score(enc_a, chunk, ia, ib)
                w = sc["match_weight"].to_numpy()
                ok = w >= min_weight
                keep_ia.append(ia[ok])
                keep_ib.append(ib[ok] + offset)
                keep_w.append(w[ok])
                keep_p.append(sc["match_probability"].to_numpy()[ok])
                keep_id.append(chunk.ids[ib[ok]])
            offset += len(chunk)
            bar.update(len(chunk))
    finally:
        bar.close()
    timings["chunks"] = time.perf_counter() - t

    t = time.perf_counter()
    cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))  # noqa: E731
    kept = pd.DataFrame({"ia": cat(keep_ia, np.int64), "ib": cat(keep_ib, np.int64),
                         "match_weight": cat(keep_w, np.float64),
                         "match_probability": cat(keep_p, np.float64)})
    id_b = cat(keep_id, object)
    # the order link() sees (by ia, ib), so that one-to-one breaks ties the same way
    order = np.lexsort((kept["ib"].to_numpy(), kept["ia"].to_numpy()))
    kept = kept.iloc[order].reset_index(drop=True)
    id_b = id_b[order]
    if one_to_one and len(kept):
        sel = _assign(kept["ia"].to_numpy(), kept["ib"].to_numpy(),
                      kept["match_weight"].to_numpy(), method=one_to_one)
        kept, id_b = kept.iloc[sel], id_b[sel]
    kept = kept.assign(_id_b=id_b)
    out = order_pairs(kept.copy())
    pairs = pd.DataFrame({
        "id_a": enc_a.ids[out["ia"].to_numpy()], "id_b": out["_id_b"].to_numpy(),
        "match_weight": out["match_weight"].to_numpy(),
        "match_probability": out["match_probability"].to_numpy(),
        "ia": out["ia"].to_numpy(), "ib": out["ib"].to_numpy(),
    })
    timings["resolve"] = time.perf_counter() - t
    if clk_only and len(pairs):
        # the CLK-only guard, on the links whose record of b is in the sample
        at = np.searchsorted(pos, pairs["ib"].to_numpy())
        inside = (at < len(pos)) & (pos[np.minimum(at, len(pos) - 1)] == pairs["ib"].to_numpy())
        if inside.any():
            shared_people_check(enc_a, sample, pairs["ia"].to_numpy()[inside], at[inside],
                                mdl, seed=seed)
    return LinkResult(pairs, mdl, int(n_cand), None, timings)

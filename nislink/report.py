"""The linkage report: one self-contained HTML page per run, for the analyst (issue 15).

:func:`linkage_report` turns a :func:`nislink.linkage.link` or
:func:`nislink.linkage.dedupe` result (run with ``keep_scores=True``) and the encoded
frames into one HTML page with these sections:

1. **Summary**: the files (party, rows, schema fingerprint, scheme, destroy-by date) and
   the run's options (threshold, one-to-one or clustering method).
2. **Counts**: links (or duplicate pairs and clusters), records linked per file, pairs
   above the threshold before and after one-to-one assignment.
3. **Blocking**: candidate pairs, reduction ratio, candidates per record (mean, median,
   95th percentile, largest), records with no candidate, and how many matches the model
   expects among the candidates against how many its prior implies among all pairs.
4. **Model**: prior, share of matches among candidates, EM sessions, dependence terms, the
   parameter table (``m``, ``u`` and weight in bits per field and level) and an ``m``/``u``
   chart.
5. **Weight distribution**: histogram of the match weights of every candidate pair (log
   scale), with the run's threshold and the suggested one.
6. **Threshold**: precision, recall and F1 *estimated from the model* at every threshold
   (:func:`nislink.evaluate.estimate_threshold_metrics`), the threshold that maximises
   estimated F1 and why (:func:`nislink.evaluate.choose_threshold`), and a table at round
   thresholds.
7. **Privacy**: each file's privacy profile (:func:`nislink.privacy.privacy_report`
   without attacks unless reports are given): verdict, structural notes, how many records
   share a filter or token; and what this page holds.

The page holds aggregates only: no record id, no encoding, no identifier, no score of an
individual pair. Charts are inline SVG drawn here; the page loads nothing (a
Content-Security-Policy of ``default-src 'none'`` forbids it) and runs no script. The same
inputs give the same bytes (no clock, no random numbers).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import nislink
from nislink._files import atomic_path
from nislink.errors import NislinkError
from nislink.evaluate import ThresholdChoice, choose_threshold, reduction_ratio
from nislink.frame import EncodedFrame
from nislink.privacy import PrivacyReport, privacy_report

__all__ = ["ReportError", "linkage_report", "svg_histogram", "svg_lines", "svg_m_u"]

#: Thresholds (match weights) tabulated in the threshold section, with the chosen one.
TABLE_THRESHOLDS = (-10.0, -5.0, 0.0, 5.0, 10.0, 15.0)
#: Points of the estimated precision/recall/F1 curve drawn.
CURVE_POINTS = 241

_COLOURS = {"precision": "#1f77b4", "recall": "#ff7f0e", "f1": "#2ca02c", "m": "#1f77b4",
            "u": "#ff7f0e", "bars": "#4c72b0", "run": "#000000", "chosen": "#2ca02c"}
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 62em; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.note { color: #555; font-size: 0.9em; } .verdict { font-weight: 600; }
.chart { display: block; margin: 0.8em 0; background: #fff; }
.choice { background: #eef7ee; border-left: 4px solid #2ca02c; padding: 0.6em 1em; }
"""


class ReportError(NislinkError, ValueError):
    """The report cannot be made: a result without scores, or frames that do not fit it."""


# --------------------------------------------------------------------------- formatting
def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    return f"{float(x):.{digits}f}"


def _sci(x: float) -> str:
    x = float(x)
    return f"{x:.3g}" if x >= 1e-3 or x == 0 else f"{x:.2e}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    """An HTML table; the first ``left`` columns are text (left-aligned)."""
    th = "".join(f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>"
                 for i, h in enumerate(header))
    body = []
    for r in rows:
        tds = "".join(f'<td class="l">{_e(v)}</td>' if i < left else f"<td>{_e(v)}</td>"
                      for i, v in enumerate(r))
        body.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _f(x: float) -> str:
    return f"{x:.1f}"


# --------------------------------------------------------------------------- SVG charts
class _Frame:
    """Plot area of an SVG chart: data coordinates to pixels."""

    def __init__(self, width: int, height: int, x: tuple[float, float], y: tuple[float, float],
                 left: int = 60, right: int = 20, top: int = 30, bottom: int = 45) -> None:
        self.w, self.h = width, height
        self.x0, self.x1 = x if x[1] > x[0] else (x[0] - 1.0, x[0] + 1.0)
        self.y0, self.y1 = y if y[1] > y[0] else (y[0] - 1.0, y[0] + 1.0)
        self.left, self.right, self.top, self.bottom = left, right, top, bottom

    def px(self, x: float) -> float:
        span = self.w - self.left - self.right
        return self.left + (x - self.x0) / (self.x1 - self.x0) * span

    def py(self, y: float) -> float:
        span = self.h - self.top - self.bottom
        return self.h - self.bottom - (y - self.y0) / (self.y1 - self.y0) * span

    def axes(self, xticks: Sequence[tuple[float, str]], yticks: Sequence[tuple[float, str]],
             xlabel: str, ylabel: str) -> list[str]:
        out = [f'<rect x="{self.left}" y="{self.top}" width="{self.w - self.left - self.right}"'
               f' height="{self.h - self.top - self.bottom}" fill="none" stroke="#888"/>']
        for v, lab in xticks:
            x = _f(self.px(v))
            out.append(f'<line x1="{x}" x2="{x}" y1="{self.h - self.bottom}" '
                       f'y2="{self.h - self.bottom + 4}" stroke="#888"/>')
            out.append(f'<text x="{x}" y="{self.h - self.bottom + 16}" font-size="11" '
                       f'text-anchor="middle">{_e(lab)}</text>')
        for v, lab in yticks:
            y = _f(self.py(v))
            out.append(f'<line x1="{self.left - 4}" x2="{self.w - self.right}" y1="{y}" '
                       f'y2="{y}" stroke="#eee"/>')
            out.append(f'<text x="{self.left - 6}" y="{y}" font-size="11" text-anchor="end" '
                       f'dominant-baseline="middle">{_e(lab)}</text>')
        out.append(f'<text x="{_f((self.left + self.w - self.right) / 2)}" y="{self.h - 8}" '
                   f'font-size="12" text-anchor="middle">{_e(xlabel)}</text>')
        out.append(f'<text x="14" y="{_f((self.top + self.h - self.bottom) / 2)}" '
                   f'font-size="12" text-anchor="middle" transform="rotate(-90 14 '
                   f'{_f((self.top + self.h - self.bottom) / 2)})">{_e(ylabel)}</text>')
        return out

    def vline(self, x: float, colour: str, label: str) -> list[str]:
        if not self.x0 <= x <= self.x1:
            return []
        px = _f(self.px(x))
        return [f'<line x1="{px}" x2="{px}" y1="{self.top}" y2="{self.h - self.bottom}" '
                f'stroke="{colour}" stroke-dasharray="5,3" stroke-width="1.5"/>',
                f'<text x="{px}" y="{self.top - 6}" font-size="11" text-anchor="middle" '
                f'fill="{colour}">{_e(label)}</text>']


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg class="chart" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
            + "".join(body) + "</svg>")


def _ticks(lo: float, hi: float, n: int = 8) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [round(start + k * step, 10) for k in range(int((hi - start) / step + 1e-9) + 1)]


def svg_histogram(weights: np.ndarray, *, markers: Sequence[tuple[float, str, str]] = (),
                  bins: int = 80, width: int = 720, height: int = 300,
                  title: str = "Match weights of candidate pairs") -> str:
    """Inline SVG histogram of match weights (counts on a log scale).

    ``markers``: ``(weight, label, colour)`` vertical dashed lines (e.g. thresholds).
    """
    w = np.asarray(weights, dtype=np.float64)
    lo, hi = (float(w.min()), float(w.max())) if len(w) else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    counts, edges = np.histogram(w, bins=bins, range=(lo, hi))
    top = max(1.0, math.log10(max(1, int(counts.max(initial=0))) + 1))
    fr = _Frame(width, height, (lo, hi), (0.0, top))
    yt = [(math.log10(10 ** k + 1), f"{10 ** k:,}") for k in range(int(math.floor(top)) + 1)]
    body = fr.axes([(t, f"{t:g}") for t in _ticks(lo, hi)], yt,
                   "match weight (log2 odds)", "pairs (log scale)")
    for c, a, b in zip(counts.tolist(), edges[:-1].tolist(), edges[1:].tolist()):
        if c == 0:
            continue
        y = fr.py(math.log10(c + 1))
        body.append(f'<rect class="bar" x="{_f(fr.px(a))}" y="{_f(y)}" '
                    f'width="{_f(max(fr.px(b) - fr.px(a) - 0.5, 0.5))}" '
                    f'height="{_f(fr.py(0) - y)}" fill="{_COLOURS["bars"]}"/>')
    for x, label, colour in markers:
        body += fr.vline(float(x), colour, label)
    return _svg(width, height, title, body)


def svg_lines(x: np.ndarray, series: dict[str, np.ndarray], *,
              markers: Sequence[tuple[float, str, str]] = (), width: int = 720,
              height: int = 320, ylim: tuple[float, float] = (0.0, 1.0),
              xlabel: str = "match-weight threshold", ylabel: str = "",
              title: str = "") -> str:
    """Inline SVG line chart of ``series`` (name -> y values) against ``x``, with a legend."""
    xs = np.asarray(x, dtype=np.float64)
    lo, hi = (float(xs.min()), float(xs.max())) if len(xs) else (0.0, 1.0)
    fr = _Frame(width, height, (lo, hi), ylim, right=110)
    body = fr.axes([(t, f"{t:g}") for t in _ticks(lo, hi)],
                   [(t, f"{t:g}") for t in _ticks(*ylim, n=5)], xlabel, ylabel)
    for k, (name, ys) in enumerate(series.items()):
        colour = _COLOURS.get(name, "#444")
        pts = " ".join(f"{_f(fr.px(a))},{_f(fr.py(min(max(b, ylim[0]), ylim[1])))}"
                       for a, b in zip(xs.tolist(), np.asarray(ys, dtype=float).tolist()))
        body.append(f'<polyline class="series" points="{pts}" fill="none" '
                    f'stroke="{colour}" stroke-width="2"/>')
        ly = fr.top + 14 + 18 * k
        lx = width - fr.right + 10
        body.append(f'<line x1="{lx}" x2="{lx + 20}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                    f'stroke-width="2"/><text x="{lx + 25}" y="{ly}" font-size="12" '
                    f'dominant-baseline="middle">{_e(name)}</text>')
    for xm, label, colour in markers:
        body += fr.vline(float(xm), colour, label)
    return _svg(width, height, title, body)


def svg_m_u(parameters: pd.DataFrame, *, width: int = 720,
            title: str = "m and u per comparison level") -> str:
    """Inline SVG of ``m`` (match) and ``u`` (non-match) per field and level, on a log scale
    from 1e-6 to 1 (:meth:`nislink.model.FellegiSunter.parameters` output)."""
    rows = list(parameters.itertuples(index=False))
    row_h, left, top = 18, 260, 30
    height = top + row_h * max(1, len(rows)) + 45
    fr = _Frame(width, height, (-6.0, 0.0), (0.0, 1.0), left=left, right=70, top=top)
    body = fr.axes([(float(k), f"1e{k}" if k else "1") for k in range(-6, 1)], [],
                   "probability (log scale)", "")
    field = None
    for i, r in enumerate(rows):
        y = top + row_h * i
        name = f"{r.field}: {r.label}" if r.field != field else f"{r.field}: {r.label}"
        field = r.field
        body.append(f'<text x="{left - 6}" y="{y + row_h / 2:.1f}" font-size="10" '
                    f'text-anchor="end" dominant-baseline="middle">{_e(name)}</text>')
        for k, (key, val) in enumerate((("m", r.m), ("u", r.u))):
            v = math.log10(max(float(val), 1e-6))
            x1 = fr.px(v)
            body.append(f'<rect class="bar" x="{left}" y="{y + 2 + 7 * k:.1f}" '
                        f'width="{max(x1 - left, 0.5):.1f}" height="6" '
                        f'fill="{_COLOURS[key]}"/>')
    lx = width - fr.right + 8
    for k, key in enumerate(("m", "u")):
        body.append(f'<rect x="{lx}" y="{top + 18 * k}" width="12" height="8" '
                    f'fill="{_COLOURS[key]}"/><text x="{lx + 16}" y="{top + 18 * k + 5}" '
                    f'font-size="12" dominant-baseline="middle">{key}</text>')
    return _svg(width, height, title, body)


# --------------------------------------------------------------------------- sections
def _scores_of(result: Any) -> pd.DataFrame:
    s = getattr(result, "scores", None)
    if s is None:
        raise ReportError("the result kept no scores: run link/dedupe with keep_scores=True "
                          "(command line: --report does this)")
    return s


def _file_rows(frames: list[tuple[str, EncodedFrame]]) -> list[list[Any]]:
    rows = []
    for label, f in frames:
        m = f.meta or {}
        rows.append([label, m.get("party") or "-", f"{len(f):,}",
                     str(m.get("schema_fingerprint") or "-")[:16],
                     m.get("scheme_version") or "-", m.get("destroy_by") or "-"])
    return rows


def _per_record(positions: np.ndarray, n: int) -> list[str]:
    c = np.bincount(positions, minlength=n) if n else np.zeros(0, dtype=np.int64)
    if n == 0:
        return ["-"] * 5
    return [f"{c.mean():.2f}", f"{np.median(c):g}", f"{np.percentile(c, 95):g}",
            f"{int(c.max()):,}", f"{int((c == 0).sum()):,} ({100 * (c == 0).mean():.1f}%)"]


def _blocking(scores: pd.DataFrame, model: Any, n_a: int, n_b: int | None) -> str:
    ia, ib = scores["ia"].to_numpy(), scores["ib"].to_numpy()
    n_cand = len(scores)
    possible = n_a * (n_a - 1) // 2 if n_b is None else n_a * n_b
    rr = reduction_ratio(n_cand, n_a, n_b)
    expected = float(scores["match_probability"].sum())
    rows = [["candidate pairs", f"{n_cand:,}"],
            ["possible pairs", f"{possible:,}"],
            ["reduction ratio", f"{rr:.6f}"],
            ["matches expected among the candidates (sum of probabilities)",
             f"{expected:,.1f}"]]
    prior = getattr(model, "prior", None)
    if prior:
        implied = float(prior) * possible
        rows.append(["matches the model's prior implies among all possible pairs",
                     f"{implied:,.1f}"])
        rows.append(["their ratio (a rough estimate of pairs completeness; above 1: "
                     "the prior is the rougher figure)",
                     f"{expected / implied:.3f}" if implied > 0 else "-"])
    out = _table(["", "value"], rows)
    if n_b is None:
        per = [["records", *_per_record(np.concatenate([ia, ib]), n_a)]]
    else:
        per = [["file A", *_per_record(ia, n_a)], ["file B", *_per_record(ib, n_b)]]
    out += "<p>Candidate pairs per record:</p>" + _table(
        ["", "mean", "median", "95th percentile", "largest", "records with none"], per)
    out += ('<p class="note">Pairs that blocking never compared are invisible to the model: '
            "the sum of probabilities counts matches among the candidates only. The prior's "
            "figure comes from EM or a match-key rule and is rough; a ratio well below 1 "
            "suggests that blocking loses matches.</p>")
    return out


def _counts(result: Any, scores: pd.DataFrame, n_a: int, n_b: int | None,
            min_weight: float, one_to_one: str | None) -> str:
    above = int((scores["match_weight"] >= min_weight).sum())
    pairs = result.pairs
    if n_b is None:
        cl = result.clusters
        sizes = cl.groupby("cluster_id").size() if len(cl) else pd.Series(dtype=int)
        multi = sizes[sizes > 1]
        rows = [["records", f"{n_a:,}"],
                ["duplicate pairs at or above the threshold", f"{len(pairs):,}"],
                ["clusters (singletons included)", f"{len(sizes):,}"],
                ["clusters of two or more records", f"{len(multi):,}"],
                ["records in clusters of two or more",
                 f"{int(multi.sum()):,} ({100 * multi.sum() / max(n_a, 1):.1f}%)"],
                ["largest cluster", f"{int(sizes.max()) if len(sizes) else 0:,}"]]
        out = _table(["", "value"], rows)
        dist = multi.value_counts().sort_index()
        if len(dist):
            out += "<p>Cluster sizes:</p>" + _table(
                ["records per cluster", "clusters"],
                [[f"{k}", f"{v:,}"] for k, v in dist.items()])
        return out
    la = pairs["ia"].nunique() if "ia" in pairs else len(pairs)
    lb = pairs["ib"].nunique() if "ib" in pairs else len(pairs)
    rows = [["records in file A", f"{n_a:,}"], ["records in file B", f"{n_b:,}"],
            ["candidate pairs at or above the threshold", f"{above:,}"],
            ["links" + (f" (after {one_to_one} one-to-one)" if one_to_one else ""),
             f"{len(pairs):,}"],
            ["records of A linked", f"{la:,} ({100 * la / max(n_a, 1):.1f}%)"],
            ["records of B linked", f"{lb:,} ({100 * lb / max(n_b, 1):.1f}%)"]]
    return _table(["", "value"], rows)


def _info_text(v: Any) -> str:
    """A fitting-info value in words (EM sessions: their tokens, pairs and iterations)."""
    if isinstance(v, dict) and "tokens" in v:
        text = " + ".join(map(str, v["tokens"]))
        extra = [f"{v['pairs']:,} pairs" if "pairs" in v else "",
                 f"{v['iterations']} iterations" if "iterations" in v else ""]
        extra = [x for x in extra if x]
        return text + (f" ({', '.join(extra)})" if extra else "")
    if isinstance(v, (list, tuple)):
        return "; ".join(_info_text(x) for x in v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _model(model: Any) -> str:
    params = model.parameters()
    p = float(model.prior)
    rows = [["prior: P(two random records match)", _sci(p)],
            ["prior as a match weight (log2 odds)", f"{model.prior_weight:.2f}"]]
    if model.lambda_candidates is not None:
        rows.append(["share of matches among candidate pairs (EM)",
                     f"{float(model.lambda_candidates):.4f}"])
    info = model.info or {}
    for key in ("prior_source", "prior_choice", "em_sessions", "em_iterations", "u_pairs",
                "u_seed", "household_fields"):
        if key in info:
            rows.append([key.replace("_", " "), _info_text(info[key])[:300]])
    out = _table(["", "value"], rows)
    if model.dependence:
        out += "<p>Dependence terms (bits subtracted when both fields agree exactly):</p>"
        out += _table(["fields", "bits"],
                      [[k.replace("|", " & "), f"{v:.2f}"] for k, v in
                       sorted(model.dependence.items())])
    out += ("<p>Parameters: <i>m</i> = P(level | match), <i>u</i> = P(level | non-match), "
            "weight = log2(m/u) in bits (term-frequency adjustment, where on, replaces "
            "<i>u</i> of the top level by the value's frequency pair by pair).</p>")
    out += _table(["field", "level", "m", "u", "weight (bits)"],
                  [[r.field, r.label, _sci(r.m), _sci(r.u), f"{r.log2_bayes_factor:+.2f}"]
                   for r in params.itertuples(index=False)], left=2)
    out += svg_m_u(params)
    return out


def _threshold(scores: pd.DataFrame, choice: ThresholdChoice, min_weight: float,
               one_to_one: str | None) -> str:
    w = scores["match_weight"].to_numpy()
    lo, hi = float(np.percentile(w, 0.5)), float(w.max())
    lo = min(lo, min_weight, choice.threshold) - 1.0
    hi = max(hi, min_weight, choice.threshold) + 1.0
    grid = np.linspace(lo, hi, CURVE_POINTS)
    curve = choice.at(grid)
    markers = [(min_weight, f"run {min_weight:g}", _COLOURS["run"])]
    if choice.threshold != min_weight:
        markers.append((choice.threshold, f"suggested {choice.threshold:g}",
                        _COLOURS["chosen"]))
    out = (f'<div class="choice"><p><b>Suggested threshold</b> (maximises the estimated F1): '
           f"{_e(choice.explanation)}</p></div>")
    out += svg_lines(grid, {k: curve[k].to_numpy() for k in ("precision", "recall", "f1")},
                     markers=markers, ylabel="estimated from the model",
                     title="Precision, recall and F1 estimated from the model")
    ths = sorted(set(TABLE_THRESHOLDS) | {choice.threshold, float(min_weight)})
    tab = choice.at(ths)
    rows = [[f"{t:g}" + (" (suggested)" if t == choice.threshold else "")
             + (" (this run)" if t == min_weight else ""),
             f"{int(r.accepted):,}", f"{r.expected_tp:,.1f}", f"{r.expected_fp:,.1f}",
             f"{r.precision:.4f}", f"{r.recall:.4f}", f"{r.f1:.4f}"]
            for t, r in zip(ths, tab.itertuples(index=False))]
    out += _table(["threshold", "accepted", "expected true", "expected false",
                   "precision", "recall", "F1"], rows)
    out += ('<p class="note">Estimated, not measured: a pair of match probability <i>p</i> '
            "counts as <i>p</i> of a true match; expected true matches in all are the sum "
            "over every candidate pair" + (" (before one-to-one assignment)" if one_to_one
                                           else "")
            + ". The estimate is as good as the model's calibration; measure on a labelled "
            "sample before reporting quality.</p>")
    return out


def _privacy(frames: list[tuple[str, EncodedFrame]],
             reports: dict[str, PrivacyReport] | None) -> str:
    out = ('<p>This page holds aggregates only: counts, model parameters, distributions. It '
           "holds no record id, no encoding, no identifier and no score of an individual "
           "pair, and it loads nothing from outside the file.</p>")
    for label, f in frames:
        rep = (reports or {}).get(label)
        if rep is None:
            rep = privacy_report(f, None, campaign=False)
        party = (f.meta or {}).get("party")
        out += f"<h3>{_e(label)}{' (' + _e(party) + ')' if party else ''}</h3>"
        out += f'<p class="verdict">{_e(rep.verdict)}</p>'
        for r in rep.reasons + rep.notes:
            out += f"<p>{_e(r)}</p>"
        attacks = [a for a in rep.attacks
                   if a.get("records_share", a.get("estimated_records_share")) is not None]
        if attacks:
            out += _table(["attack", "target", "records re-identified"], [
                [a["attack"], a["target"],
                 f"{100 * a.get('records_share', a.get('estimated_records_share')):.2f}%"
                 + ("" if a.get("records_share") is not None else " (estimated)")]
                for a in attacks], left=2)
        frows = [[name, f"{p['bits']:,}", f"{p.get('distinct_filters', 0):,}",
                  f"{100 * p.get('exposed_share', 0.0):.1f}%"]
                 for name, p in rep.filters.items() if p.get("present")]
        trows = [[name, f"{t.get('distinct', 0):,}", f"{t.get('unique_values', 0):,}",
                  f"{t.get('largest_group', 0):,}", f"{100 * t.get('exposed_share', 0.0):.1f}%"]
                 for name, t in rep.tokens.items() if t.get("present")]
        out += "<details><summary>Profiles of the filters and tokens</summary>"
        if frows:
            out += _table(["filter", "bits", "distinct filters",
                           "records sharing theirs with 10 or more"], frows)
        if trows:
            out += _table(["token", "distinct values", "unique values", "largest group",
                           "records in groups of 10 or more"], trows)
        out += "</details>"
    out += ('<p class="note">Profiles show what a linkage unit holding the files could see '
            "(records sharing a filter or a token can be aligned with public frequencies). "
            "Attack simulations: <code>nislink privacy-report</code>.</p>")
    return out


def linkage_report(
    result: Any,
    a: EncodedFrame,
    b: EncodedFrame | None = None,
    *,
    min_weight: float = 0.0,
    one_to_one: str | None = "greedy",
    title: str | None = None,
    privacy: dict[str, PrivacyReport] | None = None,
    path: str | Path | None = None,
) -> str:
    """The HTML linkage report of one run; also written to ``path`` when given.

    ``result``: a :class:`~nislink.linkage.LinkResult` (with ``b``) or
    :class:`~nislink.linkage.DedupeResult` (``b=None``) made with ``keep_scores=True``;
    ``a``/``b``: the encoded frames it was made from. ``min_weight`` and ``one_to_one``:
    the options the run used (the result does not record them; for a de-duplication
    ``one_to_one`` is ignored). ``privacy``: precomputed
    :class:`~nislink.privacy.PrivacyReport` per file (keys ``"A"``, ``"B"``, or ``"file"``
    for a de-duplication), e.g. with attacks run; by default each file is profiled without
    attacks (about a second). Returns the page's text. The sections are listed in the
    module's docstring.
    """
    dedupe = b is None
    if dedupe != hasattr(result, "clusters"):
        raise ReportError("a linkage result needs both frames (a, b); a de-duplication "
                          "result one frame (b=None)")
    scores = _scores_of(result)
    n_a, n_b = len(a), (None if dedupe else len(b))  # type: ignore[arg-type]
    if len(scores) and (int(scores["ia"].max()) >= n_a
                        or int(scores["ib"].max()) >= (n_a if n_b is None else n_b)):
        raise ReportError("the frames are not the ones the result was made from (a scored "
                          "pair points past the end of a frame)")
    o2o = None if dedupe else one_to_one
    frames = [("file", a)] if dedupe else [("A", a), ("B", b)]  # type: ignore[list-item]
    if len(scores) == 0:
        raise ReportError("the run scored no candidate pairs: nothing to report")
    choice = choose_threshold(scores, one_to_one=o2o, default=min_weight)
    parties = [str((f.meta or {}).get("party") or label) for label, f in frames]
    heading = title or (f"De-duplication of {parties[0]}" if dedupe
                        else f"Linkage of {parties[0]} and {parties[1]}")
    options = (f"threshold (min_weight) {min_weight:g}; "
               + ("clustering of the pairs at or above it" if dedupe else
                  f"one-to-one: {one_to_one or 'none'}"))
    w = scores["match_weight"].to_numpy()
    hist_markers = [(min_weight, f"run {min_weight:g}", _COLOURS["run"])]
    if choice.threshold != min_weight:
        hist_markers.append((choice.threshold, f"suggested {choice.threshold:g}",
                             _COLOURS["chosen"]))
    sections = [
        ("summary", "Summary",
         _table(["file", "party", "records", "schema fingerprint", "scheme", "destroy by"],
                _file_rows(frames), left=2)
         + f"<p>Options: {_e(options)}. Made by nislink {_e(nislink.__version__)}.</p>"),
        ("counts", "Counts", _counts(result, scores, n_a, n_b, min_weight, o2o)),
        ("blocking", "Blocking", _blocking(scores, result.model, n_a, n_b)),
        ("model", "Model", _model(result.model)),
        ("weights", "Weight distribution",
         svg_histogram(w, markers=hist_markers)
         + f'<p class="note">{len(w):,} candidate pairs; weights from {w.min():.1f} to '
           f"{w.max():.1f}. Two humps with a valley between them make a threshold easy to "
           "place; a flat valley means many uncertain pairs (a band for clerical review).</p>"),
        ("threshold", "Threshold", _threshold(scores, choice, min_weight, o2o)),
        ("privacy", "Privacy", _privacy(frames, privacy)),
    ]
    toc = " | ".join(f'<a href="#{k}">{_e(t)}</a>' for k, t, _ in sections)
    body = "".join(f'<section id="{k}"><h2>{_e(t)}</h2>{s}</section>' for k, t, s in sections)
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(heading)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{_e(heading)}</h1><nav>{toc}</nav>{body}</body></html>\n"
    )
    if path is not None:
        with atomic_path(str(path)) as tmp:
            assert tmp is not None
            Path(tmp).write_text(page, encoding="utf-8")
    return page

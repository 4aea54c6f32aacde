"""The package's structure, as docs/architecture.md draws it, checked on the code.

* the linkage unit's side (block, compare, model, resolve, linkage, evaluate, and the
  shared io/frame) loads none of the data owners' code (encoder, secrets, cleaning), when
  imported and when it links real encoded files;
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nislink.encode import Encoder
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

ROOT = Path(__file__).resolve().parents[1]

#: The linkage unit's modules and the foundations it shares with the data owners.
LINKAGE_SIDE = ("nislink.frame", "nislink.errors", "nislink.io", "nislink.block",
                "nislink.compare", "nislink.model", "nislink.resolve", "nislink.linkage",
                "nislink.evaluate")
#: Modules (and packages) that only data owners need: they hold or use identifiers and keys.
OWNER_SIDE = ("nislink.encode", "nislink.secrets", "nislink.clean")


def _loaded_after(code: str) -> list[str]:
    """The nislink modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = code + "\nimport sys, json\nprint(json.dumps(sorted(m for m in sys.modules " \
        "if m == 'nislink' or m.startswith('nislink.'))))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _owner_modules(loaded: list[str]) -> list[str]:
    return [m for m in loaded if any(m == o or m.startswith(o + ".") for o in OWNER_SIDE)]


@pytest.mark.parametrize("module", LINKAGE_SIDE)
def test_importing_the_linkage_side_loads_no_owner_code(module: str) -> None:
    loaded = _loaded_after(f"import {module}")
    assert module in loaded
    assert _owner_modules(loaded) == []


def test_linking_files_loads_no_owner_code(tmp_path: Path) -> None:
    study = generate_study(300, seed=5)
    enc = Encoder(Schema.uk_default(), Secret.from_bytes(bytes(range(32))), workers=1)
    enc.encode(study.la, id_column="la_id", party="la").save(tmp_path / "la.parquet")
    enc.encode(study.dwp, id_column="dwp_id", party="dwp").save(tmp_path / "dwp.parquet")
    code = f"""
import nislink.io, nislink.linkage, nislink.evaluate
la = nislink.io.load({str(tmp_path / "la.parquet")!r})
dwp = nislink.io.load({str(tmp_path / "dwp.parquet")!r})
res = nislink.linkage.link(la, dwp)
assert len(res.pairs) > 50, len(res.pairs)
res.model.explain(la, dwp, int(res.pairs["ia"].iloc[0]), int(res.pairs["ib"].iloc[0]))
nislink.linkage.dedupe(la)
nislink.evaluate.evaluate_pairs(res.pairs, res.pairs)
"""
    loaded = _loaded_after(code)
    assert {"nislink.linkage", "nislink.block", "nislink.model"} <= set(loaded)
    assert _owner_modules(loaded) == []

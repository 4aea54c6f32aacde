"""The ``nislink`` command.

Each subcommand is a thin shell over the library. User errors (bad paths, bad options, bad
input files) end with a one-line message on stderr and a non-zero exit code, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import nislink


class UserError(Exception):
    """An error caused by the command's input, reported as one line."""


# --------------------------------------------------------------------------- helpers
def _read_table(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.exists():
        raise UserError(f"input file not found: {path}")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(p)
        return pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise UserError(f"{path}: cannot be read: {str(exc).splitlines()[0]}") from None


def _write_table(df: pd.DataFrame, path: str) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() in (".parquet", ".pq"):
        df.to_parquet(p, index=False)
    else:
        df.to_csv(p, index=False)


def _parse_columns(spec: str) -> dict[str, str]:
    """Parse ``col=kind,col=kind`` into a mapping."""
    out: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise UserError(f"--columns: expected COLUMN=KIND, got {part!r}")
        col, kind = (s.strip() for s in part.split("=", 1))
        out[col] = kind
    if not out:
        raise UserError("--columns: no columns given")
    return out


DEFAULT_COLUMNS = {
    "forename": "forename",
    "surname": "surname",
    "dob": "dob",
    "sex": "sex",
    "postcode": "postcode",
    "nino": "nino",
    "upn": "upn",
}


# --------------------------------------------------------------------------- commands
def cmd_clean(args: argparse.Namespace) -> int:
    from nislink.clean import frame

    df = _read_table(args.input)
    columns = _parse_columns(args.columns) if args.columns else {
        c: k for c, k in DEFAULT_COLUMNS.items() if c in df.columns
    }
    if not columns:
        raise UserError(
            "no identifier columns found; name them with --columns COL=KIND,... "
            "(kinds: name, forename, surname, dob, postcode, sex, nino, upn)"
        )
    try:
        clean, rejects = frame(df, columns=columns, id_column=args.id_column)
    except (KeyError, ValueError) as exc:
        raise UserError(str(exc).strip("'\"")) from None
    _write_table(clean, args.output)
    rejects_path = args.rejects or str(Path(args.output).with_suffix("")) + ".rejects.csv"
    _write_table(rejects, rejects_path)
    print(
        f"cleaned {len(df)} rows: {len(clean)} kept -> {args.output}, "
        f"{len(rejects)} rejected -> {rejects_path}"
    )
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from nislink.synth import main_synth

    if args.people <= 0:
        raise UserError("--people must be a positive number")
    summary = main_synth(people=args.people, seed=args.seed, out=args.out)
    for name, count in summary.items():
        print(f"{name}: {count}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from nislink.demo import run_demo

    return run_demo(out=args.out, people=args.people, seed=args.seed)


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``nislink``."""
    parser = argparse.ArgumentParser(
        prog="nislink",
        description="Privacy-preserving record linkage for UK people and families.",
    )
    parser.add_argument("--version", action="version", version=f"nislink {nislink.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="run the study end to end on built-in synthetic data")
    p.add_argument("--out", default="nislink-demo", help="output directory (default: %(default)s)")
    p.add_argument("--people", type=int, default=2000, help="synthetic population size")
    p.add_argument("--seed", type=int, default=2026, help="random seed")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("clean", help="normalise identifiers in a CSV/Parquet file")
    p.add_argument("input", help="input CSV or Parquet file")
    p.add_argument("-o", "--output", required=True, help="cleaned output (CSV or Parquet)")
    p.add_argument("--rejects", help="rejects table (default: OUTPUT.rejects.csv)")
    p.add_argument("--columns", help="COL=KIND,... (default: the standard column names)")
    p.add_argument("--id-column", help="record id column (must be unique)")
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser("synth", help="generate a synthetic study (LA + DWP, MoJ, DfE extracts)")
    p.add_argument("--people", type=int, default=10000, help="population size")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=cmd_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nislink`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"nislink {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("nislink: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

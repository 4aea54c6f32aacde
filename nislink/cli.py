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
from typing import TYPE_CHECKING

import pandas as pd

import nislink

if TYPE_CHECKING:  # pragma: no cover
    import datetime

    from nislink.encode import EncodedFrame
    from nislink.schema import Schema
    from nislink.secrets import Secret


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
    """``nislink clean``: normalise identifiers; the rejects table is for the data owner only
    (its reasons may quote the rejected values)."""
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
    """``nislink synth``: write a synthetic study (extracts and truth tables)."""
    from nislink.synth import main_synth

    if args.people <= 0:
        raise UserError("--people must be a positive number")
    summary = main_synth(people=args.people, seed=args.seed, out=args.out)
    for name, count in summary.items():
        print(f"{name}: {count}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``nislink demo``: the whole study on built-in synthetic data."""
    from nislink.demo import run_demo

    return run_demo(out=args.out, people=args.people, seed=args.seed)


def _secret(args: argparse.Namespace) -> Secret:
    """The shared secret from --secret-file or --secret-env (never from the command line)."""
    from nislink.secrets import Secret

    try:
        if getattr(args, "secret_file", None):
            return Secret.from_file(args.secret_file)
        return Secret.from_env(getattr(args, "secret_env", None) or "NISLINK_SECRET")
    except FileNotFoundError:
        raise UserError(f"secret file not found: {args.secret_file}") from None
    except (KeyError, ValueError) as exc:
        raise UserError(f"secret: {exc}") from None


def _schema(spec: str | None) -> Schema:
    from nislink.schema import Schema

    if spec in (None, "uk-default", "uk_default"):
        return Schema.uk_default()
    path = Path(spec)
    if not path.exists():
        raise UserError(f"schema file not found: {spec}")
    try:
        return Schema.from_json(path)
    except ValueError as exc:
        raise UserError(f"schema {spec}: {exc}") from None


def _load_encoded(path: str) -> EncodedFrame:
    from nislink.io import EncodedFileError, load

    if not Path(path).exists():
        raise UserError(f"encoded file not found: {path}")
    try:
        return load(path)
    except EncodedFileError as exc:
        raise UserError(str(exc)) from None


def _date(text: str | None, what: str) -> datetime.date | None:
    import datetime as dt

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{what}: expected a date YYYY-MM-DD, got {text!r}") from None


def cmd_secret(args: argparse.Namespace) -> int:
    """``nislink secret``: write a new shared secret (hex, file mode 0600)."""
    import os

    from nislink.secrets import Secret

    out = Path(args.output)
    if out.exists() and not args.force:
        raise UserError(f"{out} exists; refusing to overwrite a secret (use --force)")
    secret = Secret.generate()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret.export_hex() + "\n")
    print(f"wrote a new 32-byte secret to {out} (fingerprint {secret.fingerprint()}); "
          "share it only with the other data owners, never with the linkage unit")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    """``nislink encode``: clean and encode a file with the shared secret."""
    from nislink.encode import encode_file

    if not Path(args.input).exists():
        raise UserError(f"input file not found: {args.input}")
    schema = _schema(args.schema)
    secret = _secret(args)
    rejects = args.rejects or str(Path(args.output).with_suffix("")) + ".rejects.csv"
    try:
        res = encode_file(
            args.input, args.output, schema, secret, id_column=args.id_column,
            chunk_size=args.chunk_size, workers=args.workers, progress=not args.quiet,
            party=args.party, destroy_by=_date(args.destroy_by, "--destroy-by"),
            rejects_path=rejects, allow_absent=not args.strict_columns,
        )
    except UnicodeDecodeError as exc:
        raise UserError(f"{args.input}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (KeyError, ValueError) as exc:
        raise UserError(str(exc).strip("'\"")) from None
    print(f"encoded {res.rows_encoded} of {res.rows_read} rows -> {args.output}; "
          f"{res.rows_rejected} rejected -> {rejects}")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    """``nislink link``: link two encoded files one-to-one (no secret needed)."""
    from nislink.linkage import IncompatibleEncodings, link
    from nislink.model import FellegiSunter

    a, b = _load_encoded(args.file_a), _load_encoded(args.file_b)
    model = FellegiSunter.from_json(Path(args.model)) if args.model else None
    try:
        res = link(a, b, threshold=args.threshold, model=model, progress=not args.quiet)
    except IncompatibleEncodings as exc:
        raise UserError(str(exc)) from None
    cols = ["id_a", "id_b", "match_weight", "match_probability"]
    _write_table(res.pairs[cols], args.output)
    if args.save_model:
        res.model.to_json(Path(args.save_model))
    print(f"linked {len(a)} x {len(b)} records: {res.candidates} candidate pairs, "
          f"{len(res.pairs)} links -> {args.output}")
    return 0


def cmd_dedupe(args: argparse.Namespace) -> int:
    """``nislink dedupe``: cluster the duplicates within one encoded file."""
    from nislink.linkage import dedupe

    enc = _load_encoded(args.input)
    res = dedupe(enc, threshold=args.threshold, method=args.method, progress=not args.quiet)
    _write_table(res.clusters, args.output)
    n_clusters = res.clusters["cluster_id"].nunique()
    print(f"{len(enc)} records in {n_clusters} clusters ({len(res.pairs)} duplicate pairs) "
          f"-> {args.output}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``nislink evaluate``: precision, recall, F1 and F* of links against true pairs."""
    from nislink.evaluate import evaluate_pairs

    links = _read_table(args.links)
    truth = _read_table(args.truth)
    for name, df in (("links", links), ("truth", truth)):
        missing = [c for c in ("id_a", "id_b") if c not in df.columns]
        if missing:
            raise UserError(f"{name} table has no column(s) {missing} (expected id_a, id_b)")
    m = evaluate_pairs(links[["id_a", "id_b"]], truth[["id_a", "id_b"]])
    for k in ("tp", "fp", "fn", "precision", "recall", "f1", "f_star"):
        if k in m:
            v = m[k]
            print(f"{k:>10}: {v:.4f}" if isinstance(v, float) else f"{k:>10}: {v}")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """``nislink purge``: delete every registered artefact whose destroy-by date has come."""
    from nislink.nis import AuditLog, purge
    from nislink.nis.retention import RetentionError

    root = Path(args.directory)
    if not root.is_dir():
        raise UserError(f"not a directory: {root}")
    audit = AuditLog(root / "audit.jsonl")
    try:
        report = purge(root, _date(args.today, "--today"), audit=audit)
    except RetentionError as exc:
        raise UserError(str(exc)) from None
    deleted = getattr(report, "deleted", [])
    print(f"purged {len(deleted)} expired artefact(s) under {root}")
    for p in deleted:
        print(f"  deleted {p}")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    """``nislink withdraw``: remove a person from every artefact of a study."""
    from nislink.nis import AuditLog, WithdrawalError, withdraw

    root = Path(args.directory)
    if not root.is_dir():
        raise UserError(f"not a directory: {root}")
    try:
        report = withdraw(root, args.reference, party=args.party,
                          audit=AuditLog(root / "audit.jsonl"))
    except WithdrawalError as exc:
        raise UserError(str(exc)) from None
    print(f"withdrew {report.references} reference number(s): {report.rows_removed} rows "
          f"removed from {len(report.removed)} file(s); complete: {report.complete}")
    return 0 if report.complete else 1


def cmd_privacy_report(args: argparse.Namespace) -> int:
    """``nislink privacy-report``: the privacy-risk report of an encoded file."""
    from nislink.privacy import privacy_report_main

    if not Path(args.input).exists():
        raise UserError(f"encoded file not found: {args.input}")
    public = None if args.public == "none" else args.public
    return int(privacy_report_main(args.input, args.output, public=public,
                                   campaign_rows=args.campaign_rows))


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

    p = sub.add_parser("clean", help="normalise identifiers in a CSV/Parquet file "
                       "(data owners only: the rejects table may quote raw values)")
    p.add_argument("input", help="input CSV or Parquet file")
    p.add_argument("-o", "--output", required=True, help="cleaned output (CSV or Parquet)")
    p.add_argument("--rejects", help="rejects table (default: OUTPUT.rejects.csv)")
    p.add_argument("--columns", help="COL=KIND,... (default: the standard column names)")
    p.add_argument("--id-column", help="record id column (must be unique)")
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser("secret", help="generate a new shared secret file (data owners only)")
    p.add_argument("-o", "--output", required=True, help="where to write the secret")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_secret)

    p = sub.add_parser("encode", help="clean and encode a CSV/Parquet file with the shared secret")
    p.add_argument("input", help="input CSV or Parquet file")
    p.add_argument("-o", "--output", required=True, help="encoded output file (.parquet)")
    p.add_argument("--schema", help="schema JSON file (default: the UK default schema)")
    p.add_argument("--secret-file", help="file holding the shared secret")
    p.add_argument("--secret-env", help="environment variable holding the secret "
                   "(default NISLINK_SECRET)")
    p.add_argument("--id-column", help="record id column (must be unique)")
    p.add_argument("--party", help="the data owner's name, written into the file")
    p.add_argument("--destroy-by", help="destroy-by date written into the file (YYYY-MM-DD)")
    p.add_argument("--rejects", help="rejects table (default: OUTPUT.rejects.csv)")
    p.add_argument("--strict-columns", action="store_true",
                   help="refuse a file lacking a schema column (default: encode it as missing)")
    p.add_argument("--chunk-size", type=int, default=100_000, help="rows per chunk")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("link", help="link two encoded files (no secret needed)")
    p.add_argument("file_a", help="encoded file A")
    p.add_argument("file_b", help="encoded file B")
    p.add_argument("-o", "--output", required=True, help="links (CSV or Parquet)")
    p.add_argument("--threshold", type=float, default=0.0,
                   help="minimum match weight (log2 odds; 0 = probability 0.5)")
    p.add_argument("--model", help="score with this trained model (JSON) instead of fitting")
    p.add_argument("--save-model", help="write the fitted model as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("dedupe", help="find duplicates within one encoded file")
    p.add_argument("input", help="encoded file")
    p.add_argument("-o", "--output", required=True, help="clusters (id, cluster_id)")
    p.add_argument("--threshold", type=float, default=0.0, help="minimum match weight")
    p.add_argument("--method", choices=["components", "centre"], default="components",
                   help="clustering method")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_dedupe)

    p = sub.add_parser("evaluate", help="precision/recall of links against true pairs")
    p.add_argument("links", help="links table with id_a, id_b")
    p.add_argument("truth", help="true pairs table with id_a, id_b")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("purge", help="delete every artefact whose destroy-by date has come")
    p.add_argument("directory", help="study directory")
    p.add_argument("--today", help="the date to purge as of (default: today)")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("withdraw", help="remove a person from every artefact of a study")
    p.add_argument("directory", help="study directory")
    p.add_argument("reference", help="the data owner's reference number for the person")
    p.add_argument("--party", default="la", help="the owner whose number it is")
    p.set_defaults(func=cmd_withdraw)

    p = sub.add_parser("privacy-report", help="privacy-risk report on an encoded file")
    p.add_argument("input", help="encoded file")
    p.add_argument("-o", "--output", help="also write the report here (.json: JSON, else text)")
    p.add_argument("--public", default="synthetic",
                   help="the attacker's public knowledge: 'synthetic' (shipped name "
                   "frequencies), a CSV/Parquet of identifiers, or 'none' (profiles only)")
    p.add_argument("--campaign-rows", type=int, default=60_000,
                   help="records the re-identification campaign attacks at most (a sample; "
                   "0: do not run it)")
    p.set_defaults(func=cmd_privacy_report)

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

"""The ``nislink`` command.

Each subcommand is a thin shell over the library. User errors (bad paths, bad options, bad
input files) end with a one-line message on stderr and a non-zero exit code, never a
traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd

import nislink
from nislink._files import atomic_path, first_invalid_utf8, same_file
from nislink.errors import NislinkError

# Each command imports the stages it runs inside its function, when it runs: `nislink
# --help` and `--version` then start without loading numba and scipy (0.5 s instead of
# 1.1 s). These are the only function-level imports in nislink that neither break a cycle
# nor defer an optional extra (tests/test_architecture.py, docs/architecture.md).

if TYPE_CHECKING:  # pragma: no cover
    import datetime

    from nislink.frame import EncodedFrame
    from nislink.schema import Schema
    from nislink.secrets import Secret


class UserError(NislinkError):
    """An error caused by the command's input, reported as one line."""


# --------------------------------------------------------------------------- helpers
_HEX_RUN = re.compile(r"[0-9A-Fa-f]{32,}")
_B64_RUN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
_PARTY_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MIN_DEMO_PEOPLE = 100
"""Smallest population of ``nislink demo`` (fewer people leave too few pairs to fit a model)."""

_ARGV_KEYS: list[str] = []
"""The parts of this run's arguments that look like keys (never repeated in a message)."""


def key_like_parts(value: str) -> list[str]:
    """Substrings of ``value`` that look like a key: 32 or more hex digits, or 32 or more
    base64 characters mixing upper case, lower case and digits (not a path)."""
    out = [m.group(0) for m in _HEX_RUN.finditer(value or "")]
    for m in _B64_RUN.finditer(value or ""):
        run = m.group(0)
        if run.count("/") > 2 and any(re.fullmatch(r"[a-z0-9_-]*[a-z][a-z0-9_-]{3,}", seg)
                                      for seg in run.split("/")):
            continue  # a path: folder names in lower case
        if (sum(c.isupper() for c in run) >= 2 and sum(c.islower() for c in run) >= 2
                and sum(c.isdigit() for c in run) >= 1 and len(set(run)) >= 16):
            out.append(run)
    return out


def _looks_like_key(value: str | None) -> bool:
    return bool(key_like_parts(value or ""))


def redact(text: str) -> str:
    """``text`` on one line, with every key-like part of this run's arguments replaced by
    ``<redacted>`` (public fingerprints in messages are kept)."""
    text = " ".join(str(text).split())
    for part in sorted(set(_ARGV_KEYS), key=len, reverse=True):
        text = text.replace(part, "<redacted>")
    return text


def _not_utf8(path: str) -> UserError:
    try:
        where = first_invalid_utf8(path)
    except OSError:
        where = None
    if where is None:
        return UserError(f"{path}: not UTF-8 text; save it as UTF-8 (CSV UTF-8)")
    line, offset, col = where
    with open(path, "rb") as fh:
        fh.seek(offset)
        byte = fh.read(1)
    return UserError(f"{path}: not UTF-8 text: byte 0x{byte.hex()} on line {line} "
                     f"(byte {col} of the line, byte {offset} of the file); save the file "
                     "as UTF-8 (CSV UTF-8)")


def _read_table(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.exists():
        raise UserError(f"input file not found: {path}")
    if not p.is_file():
        raise UserError(f"{path}: not a file")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(p)
        return pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UserError(f"{path}: cannot be read: {first}") from None


def _write_table(df: pd.DataFrame, path: str) -> None:
    with atomic_path(path) as tmp:
        assert tmp is not None
        if Path(path).suffix.lower() in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)


def _check_paths(inputs: Sequence[tuple[str, str | None]],
                 outputs: Sequence[tuple[str, str | None]]) -> None:
    """Refuse, before anything is written, an output that is an input, a folder, or the same
    file as another output. Each entry is ``(what, path)``; ``None`` paths are skipped."""

    for what, p in [*inputs, *outputs]:
        if p is not None and not str(p).strip():
            raise UserError(f"{what}: an empty path was given")
    outs = [(w, p) for w, p in outputs if p]
    for what, p in outs:
        if Path(p).is_dir():
            raise UserError(f"{what} {p} is a folder; give a file name")
        for iw, ip in inputs:
            if ip and same_file(p, ip):
                raise UserError(f"{what} {p} is the {iw}; refusing to overwrite it "
                                "(choose another output name)")
    for i, (w1, p1) in enumerate(outs):
        for w2, p2 in outs[i + 1:]:
            if same_file(p1, p2):
                raise UserError(f"{w1} and {w2} are the same file ({p1}); give them "
                                "different names")


def _rejects_default(output: str) -> str:
    """Default rejects table of an output: its full name + ``.rejects.csv``, so that the
    commands' outputs (``X.csv``, ``X.parquet``) never share a rejects file."""
    return output + ".rejects.csv"


def _pairs(items: Sequence[str] | None, option: str) -> list[tuple[str, str]]:
    """``A=B`` items (each may also be ``A=B,C=D``) as pairs, in order."""
    out: list[tuple[str, str]] = []
    for item in items or []:
        parts = [item]
        if "," in item and all("=" in x for x in item.split(",") if x.strip()):
            parts = [x for x in item.split(",") if x.strip()]
        for part in parts:
            if "=" not in part:
                raise UserError(f"{option}: expected NAME=COLUMN, got {redact(part)!r}")
            a, b = (x.strip() for x in part.split("=", 1))
            if not a or not b:
                raise UserError(f"{option}: expected NAME=COLUMN, got {redact(part)!r}")
            out.append((a, b))
    return out


def _clean_columns(items: Sequence[str] | None) -> dict[str, str]:
    """``clean --columns KIND=COLUMN ...`` as frame()'s ``{column: kind}``."""
    from nislink.clean import KINDS

    out: dict[str, str] = {}
    for kind, col in _pairs(items, "--columns"):
        if kind not in KINDS:
            hint = (f"; the mapping is KIND=COLUMN, did you mean {col}={kind}?"
                    if col in KINDS else "")
            raise UserError(f"--columns: {kind!r} is not an identifier kind "
                            f"(kinds: {', '.join(KINDS)}){hint}")
        if col in out:
            raise UserError(f"--columns: column {col!r} is mapped twice")
        out[col] = kind
    if items is not None and not out:
        raise UserError("--columns: no columns given")
    return out


def _encode_columns(items: Sequence[str] | None) -> dict[str, str]:
    """``encode --columns FIELD=COLUMN ...`` (schema field -> input column)."""
    out: dict[str, str] = {}
    for name, col in _pairs(items, "--columns"):
        if name in out:
            raise UserError(f"--columns: field {name!r} is mapped twice")
        out[name] = col
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


def _positive(value: int, option: str, minimum: int = 1, maximum: int | None = None) -> int:
    if value < minimum or (maximum is not None and value > maximum):
        rng = f"at least {minimum}" + (f" and at most {maximum}" if maximum else "")
        raise UserError(f"{option} must be {rng}, got {value}")
    return value


def _party(value: str | None, option: str = "--party") -> str | None:
    if value is None:
        return None
    if not _PARTY_RE.match(value) or _looks_like_key(value):
        raise UserError(f"{option}: expected a short name (letters, digits, '_' or '-', "
                        "at most 32 characters), e.g. la, dwp, moj, dfe")
    return value


def _study_folder(path: str) -> Path:
    """A folder that looks like a study (an audit log or a retention manifest at its top or
    one level down), so that a mistyped path never walks the whole file system."""
    root = Path(path)
    if not root.exists():
        raise UserError(f"study folder not found: {path}")
    if not root.is_dir():
        raise UserError(f"not a folder: {path}")
    marks = ("audit.jsonl", "nislink-manifest.json")
    found = any((root / m).is_file() for m in marks)
    if not found:
        try:
            found = any((d / m).is_file() for d in root.iterdir() if d.is_dir()
                        for m in marks)
        except OSError:
            found = False
    if not found or root.resolve() == Path(root.resolve().anchor) or root.resolve() == Path.home():
        raise UserError(f"{path} does not look like a study folder (no audit.jsonl or "
                        "nislink-manifest.json in it or in its subfolders); refusing to "
                        "search it")
    return root


def _drop_too_long(df: pd.DataFrame, columns: Sequence[str], id_column: str | None
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(``df`` without the rows holding a value longer than the limit, their rejects), so
    that no expensive cleaning ever sees a huge value."""

    from nislink.encode.columns import MAX_FIELD_CHARS, too_long_rows

    long = too_long_rows(df, [c for c in columns if c in df.columns])
    if not long:
        return df, None
    bad = np.logical_or.reduce(list(long.values()))
    pos = np.flatnonzero(bad)
    fields = [",".join(c for c, m in long.items() if m[p]) for p in pos]
    rej = pd.DataFrame({
        "row": pd.Series(df.index[pos].to_numpy(dtype=object), dtype=object),
        "id": pd.Series([None if id_column in long and long[id_column][p]
                         else df[id_column].iloc[p] for p in pos] if id_column else None,
                        dtype=object),
        "field": pd.Series(fields, dtype=object),
        "reason": pd.Series(["; ".join(f"{c}: longer than {MAX_FIELD_CHARS} characters"
                                       for c in f.split(",")) for f in fields], dtype=object),
    })
    return df[~bad], rej


# --------------------------------------------------------------------------- commands
def cmd_clean(args: argparse.Namespace) -> int:
    """``nislink clean``: normalise identifiers; the rejects table is for the data owner only
    (its reasons may quote the rejected values)."""
    from nislink.clean import frame

    rejects_path = args.rejects or _rejects_default(args.output)
    _check_paths([("input file", args.input)],
                 [("the output", args.output), ("the rejects table", rejects_path)])
    columns = _clean_columns(args.columns) if args.columns else None
    df = _read_table(args.input)
    if columns is None:
        columns = {c: k for c, k in DEFAULT_COLUMNS.items() if c in df.columns}
    if not columns:
        raise UserError(
            f"{args.input}: no identifier columns found (columns: "
            f"{', '.join(map(str, df.columns[:12]))}); name them with --columns KIND=COLUMN "
            "(kinds: name, forename, surname, dob, postcode, sex, nino, upn)"
        )
    n_rows = len(df)
    df, too_long = _drop_too_long(df, [*columns, *([args.id_column] if args.id_column else [])],
                                  args.id_column)
    try:
        clean, rejects = frame(df, columns=columns, id_column=args.id_column)
    except (KeyError, ValueError) as exc:
        raise UserError(f"{args.input}: {str(exc).strip(chr(39) + chr(34))}") from None
    if too_long is not None:
        rejects = pd.concat([rejects, too_long[list(rejects.columns)]], ignore_index=True)
        rejects = rejects.sort_values("row", kind="stable", ignore_index=True)
    _write_table(rejects, rejects_path)
    _write_table(clean, args.output)
    print(
        f"cleaned {n_rows} rows: {len(clean)} kept -> {args.output}, "
        f"{len(rejects)} rejected -> {rejects_path}"
    )
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    """``nislink synth``: write a synthetic study (extracts and truth tables)."""
    from nislink.synth import main_synth

    _positive(args.people, "--people", 1, 10_000_000)
    if not args.out.strip():
        raise UserError("--out: an empty path was given")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder")
    summary = main_synth(people=args.people, seed=args.seed, out=args.out)
    for name, count in summary.items():
        print(f"{name}: {count}")
    return 0


def _demo_folder(path: str) -> None:
    """Refuse an --out that exists and is not an earlier demo's folder (the demo replaces
    its folder)."""
    out = Path(path)
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"--out {path} is a file; give a folder")
    if not any(out.iterdir()):
        return
    if (out / "audit.jsonl").is_file() and (out / "linkage_unit").is_dir():
        return  # an earlier demo's output: replaced
    raise UserError(f"--out {path} exists and is not a nislink demo folder; the demo replaces "
                    "its folder, so give a new or empty one")


def cmd_demo(args: argparse.Namespace) -> int:
    """``nislink demo``: the whole study on built-in synthetic data."""
    from nislink.demo import run_demo

    _positive(args.people, "--people", MIN_DEMO_PEOPLE, 1_000_000)
    if not args.out.strip():
        raise UserError("--out: an empty path was given")
    _demo_folder(args.out)
    if args.waves is not None:  # the study over time (nislink.nis.wave_demo)
        from nislink.nis.wave_demo import run_wave_demo

        _positive(args.waves, "--waves", 1, 10)
        return run_wave_demo(out=args.out, people=args.people, seed=args.seed,
                             waves=args.waves)
    return run_demo(out=args.out, people=args.people, seed=args.seed)


def _secret(args: argparse.Namespace) -> Secret:
    """The shared secret from --secret-file or --secret-env (never from the command line).
    No message quotes a value that looks like a key."""
    from nislink.secrets import Secret

    file_, env = getattr(args, "secret_file", None), getattr(args, "secret_env", None)
    if file_ and env:
        raise UserError("give --secret-file or --secret-env, not both")
    if file_:
        if _looks_like_key(file_) and not Path(file_).exists():
            raise UserError("--secret-file: expected the path of the file holding the secret; "
                            "the value given looks like a key itself (not repeated here). "
                            "Never put the secret on the command line")
        if not Path(file_).is_file():
            raise UserError(f"secret file not found: {file_}")
        try:
            return Secret.from_file(file_)
        except (KeyError, ValueError, OSError) as exc:
            raise UserError(f"secret file {file_}: {redact(str(exc))}") from None
    name = env or "NISLINK_SECRET"
    if not _ENV_RE.match(name) or _looks_like_key(name):
        raise UserError("--secret-env: expected the NAME of an environment variable (letters, "
                        "digits and '_'), e.g. NISLINK_SECRET; the value given is not one "
                        "(not repeated here). Never put the secret on the command line")
    try:
        return Secret.from_env(name)
    except (KeyError, ValueError) as exc:
        msg = redact(str(exc).strip("'\""))
        if name not in msg:
            msg = f"environment variable {name}: {msg}"
        raise UserError(f"secret: {msg}") from None


def _schema(spec: str | None) -> Schema:
    from nislink.schema import Schema

    if spec in (None, "uk-default", "uk_default"):
        return Schema.uk_default()
    path = Path(spec)
    if not path.is_file():
        raise UserError(f"schema file not found: {spec}")
    try:
        return Schema.from_json(path)
    except UnicodeDecodeError:
        raise _not_utf8(spec) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UserError(f"schema {spec}: {exc}") from None


def _load_encoded(path: str, *, rows: bool = False) -> EncodedFrame:
    """Load an encoded file; with ``rows`` refuse one without rows."""
    from nislink.io import EncodedFileError, load

    if not Path(path).exists():
        raise UserError(f"encoded file not found: {path}")
    if not Path(path).is_file():
        raise UserError(f"{path}: not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            enc = load(path)
    except EncodedFileError as exc:
        raise UserError(str(exc)) from None
    if rows and len(enc) == 0:
        raise UserError(f"{path}: the encoded file has no rows; nothing to do")
    return enc


def _date(text: str | None, what: str) -> datetime.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{what}: expected a date YYYY-MM-DD, got {redact(text)!r}") from None


def cmd_secret(args: argparse.Namespace) -> int:
    """``nislink secret``: write a new shared secret (hex, file mode 0600)."""

    from nislink.secrets import Secret

    out = Path(args.output)
    if out.is_dir():
        raise UserError(f"{out} is a folder; give a file name")
    if out.exists() and not args.force:
        raise UserError(f"{out} exists; refusing to overwrite a secret (use --force)")
    secret = Secret.generate()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.nislink-tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secret.export_hex() + "\n")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    print(f"wrote a new 32-byte secret to {out} (fingerprint {secret.fingerprint()}); "
          "share it only with the other data owners, never with the linkage unit")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    """``nislink encode``: clean and encode a file with the shared secret."""

    from nislink.encode import encode_file
    from nislink.encode.columns import DataQualityWarning, MissingColumnError

    rejects = args.rejects or _rejects_default(args.output)
    _check_paths([("input file", args.input), ("secret file", args.secret_file),
                  ("schema file", args.schema)],
                 [("the output", args.output), ("the rejects table", rejects)])
    if not Path(args.input).exists():
        raise UserError(f"input file not found: {args.input}")
    if not Path(args.input).is_file():
        raise UserError(f"{args.input}: not a file")
    _positive(args.chunk_size, "--chunk-size")
    _positive(args.workers, "--workers", 1, 256)
    party = _party(args.party)
    destroy_by = _date(args.destroy_by, "--destroy-by")
    if destroy_by is not None and destroy_by < dt.date.today():
        raise UserError(f"--destroy-by {destroy_by.isoformat()} is already past; give a "
                        "future date")
    columns = _encode_columns(args.columns)
    schema = _schema(args.schema)
    earliest = _date(args.earliest_dob, "--earliest-dob")
    if earliest is not None:
        dobs = [f for f in schema.fields if f.kind == "dob"]
        if not dobs:
            raise UserError("--earliest-dob: the schema has no date-of-birth field")
        for f in dobs:
            f.earliest = earliest.isoformat()
        schema.validate()
    secret = _secret(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            res = encode_file(
                args.input, args.output, schema, secret, id_column=args.id_column,
                columns=columns, chunk_size=args.chunk_size, workers=args.workers,
                progress=not args.quiet, party=party, destroy_by=destroy_by,
                rejects_path=rejects, allow_absent=False if args.strict_columns else None,
            )
    except MissingColumnError as exc:
        raise UserError(exc.cli_message(args.input)) from None
    except UnicodeDecodeError:
        raise _not_utf8(args.input) from None
    except (KeyError, ValueError) as exc:
        raise UserError(str(exc).strip("'\"")) from None
    print(f"encoded {res.rows_encoded} of {res.rows_read} rows -> {args.output}; "
          f"{res.rows_rejected} rejected -> {rejects}")
    if not args.quiet:
        print(res.summary.to_text())
    for note in res.summary.notes():
        print(f"note: {note}", file=sys.stderr)
    for line in res.summary.warnings():
        print(f"warning: {line}", file=sys.stderr)
    return 0


def _model(path: str | None) -> object | None:
    from nislink.model import FellegiSunter

    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise UserError(f"model file not found: {path}")
    try:
        return FellegiSunter.from_json(p)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        why = type(exc).__name__ if isinstance(exc, (KeyError, IndexError)) else str(exc)
        raise UserError(f"model file {path}: not a nislink model saved by --save-model "
                        f"({redact(why)[:120]})") from None


def _save_model(model: Any, path: str) -> None:
    """Write a fitted model as JSON, atomically."""
    with atomic_path(path) as tmp:
        assert tmp is not None
        model.to_json(Path(tmp))


def _write_links(args: argparse.Namespace, res: Any) -> None:
    """The links table (``-o``) and, with ``--save-model``, the fitted model."""
    cols = ["id_a", "id_b", "match_weight", "match_probability"]
    _write_table(res.pairs[cols], args.output)
    if args.save_model:
        _save_model(res.model, args.save_model)


def cmd_link(args: argparse.Namespace) -> int:
    """``nislink link``: link two encoded files one-to-one (no secret needed)."""
    from nislink.linkage import IncompatibleEncodings, link

    _check_paths([("file A", args.file_a), ("file B", args.file_b), ("model", args.model)],
                 [("the output", args.output), ("--save-model", args.save_model),
                  ("--save-scores", args.save_scores), ("--report", args.report)])
    if args.stream_rows is not None:
        return _link_streamed(args)
    a, b = _load_encoded(args.file_a, rows=True), _load_encoded(args.file_b, rows=True)
    model = _model(args.model)
    try:
        res = link(a, b, min_weight=args.min_weight, model=model,
                   one_to_one=None if args.one_to_one == "none" else args.one_to_one,
                   keep_scores=bool(args.save_scores or args.report),
                   progress=not args.quiet)
    except IncompatibleEncodings as exc:
        raise UserError(str(exc)) from None
    except (ValueError, KeyError) as exc:
        raise UserError(f"cannot link {args.file_a} and {args.file_b}"
                        f"{' with model ' + args.model if args.model else ''}: "
                        f"{str(exc).strip(chr(39))}") from None
    _write_links(args, res)
    _save_scores_and_report(args, res, a, b)
    print(f"linked {len(a)} x {len(b)} records: {res.candidates} candidate pairs, "
          f"{len(res.pairs)} links -> {args.output}")
    return 0


def _link_streamed(args: argparse.Namespace) -> int:
    """``nislink link --stream-rows N``: file B read N rows at a time."""
    from nislink.io import EncodedFileError, read_meta
    from nislink.linkage import IncompatibleEncodings
    from nislink.streaming import link_stream

    _positive(args.stream_rows, "--stream-rows")
    _positive(args.sample_rows, "--sample-rows")
    if args.save_scores or args.report:
        raise UserError("--save-scores and --report need every scored pair in memory; they "
                        "cannot be used with --stream-rows")
    a = _load_encoded(args.file_a, rows=True)
    if not Path(args.file_b).is_file():
        raise UserError(f"encoded file not found: {args.file_b}")
    try:
        n_b = int(read_meta(args.file_b)["rows"])
        if n_b == 0:
            raise UserError(f"{args.file_b}: the encoded file has no rows; nothing to do")
        res = link_stream(a, args.file_b, chunk_rows=args.stream_rows,
                          sample_rows=args.sample_rows, min_weight=args.min_weight,
                          model=_model(args.model),
                          one_to_one=None if args.one_to_one == "none" else args.one_to_one,
                          progress=not args.quiet)
    except (IncompatibleEncodings, EncodedFileError) as exc:
        raise UserError(str(exc)) from None
    except (ValueError, KeyError) as exc:
        raise UserError(f"cannot link {args.file_a} and {args.file_b}: "
                        f"{str(exc).strip(chr(39))}") from None
    _write_links(args, res)
    print(f"linked {len(a)} x {n_b} records ({args.file_b} streamed {args.stream_rows} rows "
          f"at a time): {res.candidates} candidate pairs, {len(res.pairs)} links -> "
          f"{args.output}")
    return 0


def cmd_dedupe(args: argparse.Namespace) -> int:
    """``nislink dedupe``: cluster the duplicates within one encoded file."""
    from nislink.linkage import dedupe

    _check_paths([("input file", args.input)], [("the output", args.output),
                 ("--save-scores", args.save_scores), ("--report", args.report)])
    enc = _load_encoded(args.input, rows=True)
    try:
        res = dedupe(enc, min_weight=args.min_weight, method=args.method,
                     keep_scores=bool(args.save_scores or args.report),
                     progress=not args.quiet)
    except (ValueError, KeyError) as exc:
        raise UserError(f"cannot dedupe {args.input}: {str(exc).strip(chr(39))}") from None
    _write_table(res.clusters, args.output)
    _save_scores_and_report(args, res, enc, None)
    n_clusters = res.clusters["cluster_id"].nunique()
    print(f"{len(enc)} records in {n_clusters} clusters ({len(res.pairs)} duplicate pairs) "
          f"-> {args.output}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``nislink evaluate``: precision, recall, F1 and F* of links against true pairs."""
    from nislink.evaluate import IdColumnError, evaluate_pairs, id_columns_of

    links = _read_table(args.links)
    truth = _read_table(args.truth)
    cols = {}
    for name, path, df, want in (
            ("links", args.links, links, args.id_columns),
            ("truth", args.truth, truth, args.truth_id_columns or args.id_columns)):
        try:
            cols[name] = id_columns_of(df, want or ("id_a", "id_b"),
                                       f"{path}: the {name} table")
        except IdColumnError as exc:
            hint = "" if want else " (give its id columns with --id-columns A B)"
            raise UserError(f"{exc}{hint}") from None
    try:
        m = evaluate_pairs(links[cols["links"]].astype(str), truth[cols["truth"]].astype(str))
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"cannot evaluate {args.links} against {args.truth}: {exc}") from None
    for k in ("tp", "fp", "fn", "precision", "recall", "f1", "f_star"):
        if k in m:
            v = m[k]
            print(f"{k:>10}: {v:.4f}" if isinstance(v, float) else f"{k:>10}: {v}")
    return 0


def _review_run(files: Sequence[str], model_path: str | None) -> tuple[object, object, object]:
    """``(result, a, b)``: the scored candidates of one file (dedupe) or two (link)."""
    from nislink.linkage import IncompatibleEncodings, dedupe, link

    if len(files) not in (1, 2):
        raise UserError(f"give one encoded file (de-duplication) or two (linkage), "
                        f"not {len(files)}")
    frames = [_load_encoded(f, rows=True) for f in files]
    model = _model(model_path)
    try:
        if len(frames) == 1:
            return dedupe(frames[0], model=model, keep_scores=True), frames[0], None
        return (link(frames[0], frames[1], model=model, one_to_one=None, keep_scores=True),
                frames[0], frames[1])
    except IncompatibleEncodings as exc:
        raise UserError(str(exc)) from None
    except (ValueError, KeyError) as exc:
        raise UserError(f"cannot score {' and '.join(files)}"
                        f"{' with model ' + model_path if model_path else ''}: "
                        f"{str(exc).strip(chr(39))}") from None


def cmd_review_export(args: argparse.Namespace) -> int:
    """``nislink review export``: the candidate pairs in a weight band, for clerical review."""
    from nislink import review

    _check_paths([(f"encoded file {k + 1}", f) for k, f in enumerate(args.files)]
                 + [("model", args.model)],
                 [("the output", args.output), ("--save-model", args.save_model)])
    if args.max_pairs is not None:
        _positive(args.max_pairs, "--max-pairs")
    res, a, b = _review_run(args.files, args.model)
    try:
        sheet = review.export(res, a, b, lo=args.min_weight, hi=args.max_weight,  # type: ignore[arg-type]
                              max_pairs=args.max_pairs)
    except review.ReviewError as exc:
        raise UserError(str(exc)) from None
    _write_table(sheet, args.output)
    if args.save_model:
        _save_model(res.model, args.save_model)  # type: ignore[attr-defined]
    print(f"{len(sheet)} candidate pairs with match weight in [{args.min_weight:g}, "
          f"{args.max_weight:g}] -> {args.output}; fill in the decision column (match, "
          "non-match, unsure) and read it back with nislink review import")
    return 0


def cmd_review_import(args: argparse.Namespace) -> int:
    """``nislink review import``: check reviewers' decisions, assess the band, re-fit."""
    from nislink import review

    if args.refit and not args.save_model:
        raise UserError("--refit needs --save-model (where to write the re-fitted model)")
    _check_paths([("the completed review", args.completed), ("--sheet", args.sheet),
                  ("model", args.model)]
                 + [(f"encoded file {k + 1}", f) for k, f in enumerate(args.refit or [])],
                 [("the output", args.output), ("--save-model", args.save_model)])
    for what, path in (("completed review", args.completed), ("review sheet", args.sheet)):
        _read_table(path)  # not found / not UTF-8 / empty: the command's own messages
    try:
        decisions = review.read(args.completed, args.sheet)
    except review.ReviewError as exc:
        raise UserError(str(exc)) from None
    summary = review.assess(decisions)
    print(summary)
    for note in summary.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.output:
        _write_table(decisions, args.output)
    if args.refit:
        res, a, b = _review_run(args.refit, args.model)
        try:
            model = review.refit(res, a, b, decisions)  # type: ignore[arg-type]
        except review.ReviewError as exc:
            raise UserError(str(exc)) from None
        _save_model(model, args.save_model)
        info = model.info["review_refit"]
        print(f"re-fitted with {info['match']} matches and {info['non-match']} non-matches "
              f"-> {args.save_model}; link with --model {args.save_model}")
    return 0


def _review_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``nislink review export|import``."""
    p = sub.add_parser("review", help="clerical review: export uncertain pairs, import "
                       "the reviewers' decisions (no identifiers in either)")
    rsub = p.add_subparsers(dest="review_command", metavar="STEP", required=True)
    e = rsub.add_parser("export", help="candidate pairs in a match-weight band (before "
                        "one-to-one), with per-field levels and weights and an empty "
                        "decision column")
    e.add_argument("files", nargs="+", metavar="ENCODED",
                   help="one encoded file (de-duplication) or two (linkage)")
    e.add_argument("-o", "--output", required=True, help="review sheet (CSV or Parquet)")
    e.add_argument("--min-weight", type=float, required=True, help="lowest match weight")
    e.add_argument("--max-weight", type=float, required=True, help="highest match weight")
    e.add_argument("--max-pairs", type=int, help="at most this many pairs, spread evenly "
                   "over the band")
    e.add_argument("--model", help="score with this trained model (JSON) instead of fitting")
    e.add_argument("--save-model", help="write the model that scored the pairs as JSON")
    e.set_defaults(func=cmd_review_export)
    i = rsub.add_parser("import", help="check the completed review, assess the band and "
                        "optionally re-fit the model with the decisions")
    i.add_argument("completed", help="the review sheet with its decision column filled in")
    i.add_argument("--sheet", required=True, help="the review sheet as exported")
    i.add_argument("-o", "--output", help="write the checked decisions (CSV or Parquet)")
    i.add_argument("--refit", nargs="+", metavar="ENCODED",
                   help="re-fit the model on these encoded files (as exported)")
    i.add_argument("--model", help="the model the sheet was exported with (default: fitted "
                   "again, as export fitted it)")
    i.add_argument("--save-model", help="where to write the re-fitted model (JSON)")
    i.set_defaults(func=cmd_review_import)


def cmd_purge(args: argparse.Namespace) -> int:
    """``nislink purge``: delete every registered artefact whose destroy-by date has come."""
    from nislink.nis import AuditLog, purge
    from nislink.nis.audit import AuditError
    from nislink.nis.retention import RetentionError

    today = _date(args.today, "--today")
    root = _study_folder(args.directory)
    audit = AuditLog(root / "audit.jsonl")
    try:
        report = purge(root, today, audit=audit)
    except (RetentionError, AuditError) as exc:
        raise UserError(redact(str(exc))) from None
    deleted = getattr(report, "deleted", [])
    print(f"purged {len(deleted)} expired artefact(s) under {root}")
    for p in deleted:
        print(f"  deleted {p}")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    """``nislink withdraw``: remove a person from every artefact of a study."""
    from nislink.nis import AuditLog, WithdrawalError, withdraw
    from nislink.nis.audit import PARTIES, AuditError

    party = _party(args.party)
    assert party is not None
    if party not in PARTIES:
        raise UserError(f"--party {party!r} is not a party of the study (parties: "
                        f"{', '.join(sorted(PARTIES))})")
    ref = args.reference
    if not ref or ref != ref.strip() or len(ref) > 64 or "\n" in ref:
        raise UserError("the reference number must be one word of at most 64 characters")
    root = _study_folder(args.directory)
    try:
        report = withdraw(root, ref, party=party, audit=AuditLog(root / "audit.jsonl"))
    except (WithdrawalError, AuditError) as exc:
        raise UserError(redact(str(exc))) from None
    print(f"withdrew {report.references} reference number(s): {report.rows_removed} rows "
          f"removed from {len(report.removed)} file(s); complete: {report.complete}")
    return 0 if report.complete else 1


def cmd_privacy_report(args: argparse.Namespace) -> int:
    """``nislink privacy-report``: the privacy-risk report of an encoded file."""
    from nislink.privacy import privacy_report_main

    public = None if args.public == "none" else args.public
    public_file = public if public not in (None, "synthetic") else None
    _check_paths([("input file", args.input), ("public file", public_file)],
                 [("the output", args.output)])
    enc = _load_encoded(args.input)
    if len(enc) == 0:
        raise UserError(f"{args.input}: the encoded file has no rows; a privacy report of "
                        "an empty file would say nothing")
    del enc
    if public_file is not None:
        if not Path(public_file).exists():
            raise UserError(f"--public: file not found: {public_file} (or give 'synthetic' "
                            "or 'none')")
        df = _read_table(public_file)
        if len(df) == 0:
            raise UserError(f"{public_file}: the public file has no rows")
        if not {"forename", "surname", "dob"} & set(map(str, df.columns)):
            raise UserError(f"{public_file}: the public file has none of the columns "
                            "forename, surname, dob")
    with atomic_path(args.output) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(privacy_report_main(args.input, tmp, public=public,
                                           campaign_rows=args.campaign_rows))


def cmd_check_output(args: argparse.Namespace) -> int:
    """``nislink check-output``: disclosure checks of a table before it leaves (0: pass)."""
    from nislink.nis.outputs import OutputCheckError, check_table

    _check_paths([("input file", args.input)], [("the output", args.output)])
    df = _read_table(args.input)
    names = [c.strip() for spec in (args.index, args.columns or "") for c in spec.split(",")]
    for col in [c for c in names if c in df.columns]:     # CSV text: numbers sort as numbers
        as_number = pd.to_numeric(df[col], errors="coerce")
        if as_number.notna().sum() == df[col].notna().sum():
            df[col] = as_number
    index = [c.strip() for c in args.index.split(",") if c.strip()]
    columns = [c.strip() for c in (args.columns or "").split(",") if c.strip()] or None
    try:
        res = check_table(df, index, columns, values=args.values, aggfunc=args.aggfunc,
                          suppress=args.suppress)
    except OutputCheckError as exc:
        raise UserError(f"{args.input}: {exc}") from None
    print(res)
    print(res.table.to_string())
    if args.output:
        if res.status == "fail":
            raise UserError("the table fails the checks and was not written: use --suppress "
                            "or coarser groups")
        _write_table(res.table.reset_index(), args.output)
        print(f"wrote {args.output}")
    return 0 if res.status == "pass" else 1


# --------------------------------------------------------------------------- model tools
def _add_scores_and_report_options(p: argparse.ArgumentParser) -> None:
    """``--save-scores`` and ``--report`` of ``nislink link`` and ``nislink dedupe``."""
    p.add_argument("--save-scores", metavar="PATH",
                   help="also write every scored candidate pair (id_a, id_b, match_weight, "
                        "match_probability; before one-to-one and threshold) as CSV or "
                        "Parquet, for `nislink model threshold`")
    p.add_argument("--report", metavar="HTML",
                   help="also write the HTML linkage report of this run (counts, blocking, "
                        "model, weights, estimated threshold curve, privacy; no identifiers)")


def _save_scores_and_report(args: argparse.Namespace, res: object, a: EncodedFrame,
                            b: EncodedFrame | None) -> None:
    scores = getattr(res, "scores", None)
    if args.save_scores and scores is not None:
        s = scores.sort_values(["match_weight", "ia", "ib"], ascending=[False, True, True],
                               kind="mergesort")
        ia, ib = s["ia"].to_numpy(), s["ib"].to_numpy()
        _write_table(pd.DataFrame({
            "id_a": a.ids[ia], "id_b": (a if b is None else b).ids[ib],
            "match_weight": s["match_weight"].to_numpy(),
            "match_probability": s["match_probability"].to_numpy()}), args.save_scores)
        print(f"{len(s)} scored pairs -> {args.save_scores}")
    if args.report:
        from nislink.report import ReportError, linkage_report

        o2o = getattr(args, "one_to_one", None)
        try:
            linkage_report(res, a, b, min_weight=args.min_weight,
                           one_to_one=None if o2o in (None, "none") else o2o, path=args.report)
        except ReportError as exc:
            raise UserError(f"--report: {exc}") from None
        print(f"report -> {args.report}")


def _chart(what: str, draw: object, path: str, *args: object, **kwargs: object) -> None:
    """Draw a matplotlib chart (``draw(*args, path, **kwargs)``) into ``path`` atomically."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError(f"{what}: charts need matplotlib: pip install 'nislink[plots]'") from None
    with atomic_path(path) as tmp:
        try:
            draw(*args, tmp, **kwargs)  # type: ignore[operator]
        except ValueError as exc:  # e.g. a file suffix matplotlib cannot write
            raise UserError(f"{what} {path}: {str(exc).splitlines()[0]} (use .png, .svg or "
                            ".pdf)") from None
    print(f"{what} -> {path}")


def _fitted_model(path: str) -> object:
    model = _model(path)
    try:
        model.check_fitted()  # type: ignore[union-attr]
    except RuntimeError:
        raise UserError(f"model file {path}: the model has no fitted parameters") from None
    return model


def cmd_model_show(args: argparse.Namespace) -> int:
    """``nislink model show``: a fitted model's prior and parameter table (m, u, weight)."""
    from nislink.evaluate import plot_m_u

    _check_paths([("model", args.model)], [("the output", args.output), ("--chart", args.chart)])
    model = _fitted_model(args.model)
    params = model.parameters()  # type: ignore[attr-defined]
    table = pd.DataFrame({"field": params["field"], "level": params["level"],
                          "label": params["label"], "m": params["m"], "u": params["u"],
                          "weight_bits": params["log2_bayes_factor"]})
    prior = float(model.prior)  # type: ignore[attr-defined]
    print(f"prior: P(two random records match) = {prior:.4g} (match weight "
          f"{model.prior_weight:.2f})")  # type: ignore[attr-defined]
    lam = model.lambda_candidates  # type: ignore[attr-defined]
    if lam is not None:
        print(f"share of matches among candidate pairs: {float(lam):.4f}")
    for key, d in sorted(model.dependence.items()):  # type: ignore[attr-defined]
        print(f"dependence: when {key.replace('|', ' and ')} both agree exactly, "
              f"{-d:+.2f} bits")
    print(table.to_string(index=False, formatters={
        "m": "{:.4g}".format, "u": "{:.4g}".format, "weight_bits": "{:+.2f}".format}))
    if args.output:
        _write_table(table, args.output)
        print(f"parameters -> {args.output}")
    if args.chart:
        _chart("m/u chart", plot_m_u, args.chart, params)
    return 0


def _scores_file(path: str) -> pd.DataFrame:
    df = _read_table(path)
    for col in ("match_weight", "match_probability"):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def cmd_model_threshold(args: argparse.Namespace) -> int:
    """``nislink model threshold``: precision, recall and F1 estimated from the model at
    each threshold (no truth), and the threshold that maximises estimated F1, explained."""
    from nislink.evaluate import (
        ScoresError,
        choose_threshold,
        estimate_threshold_metrics,
        plot_precision_recall,
        plot_weight_histogram,
    )

    _check_paths([("scores file", args.scores)],
                 [("the output", args.output), ("--chart", args.chart),
                  ("--histogram", args.histogram)])
    if args.expected_matches is not None and args.expected_matches < 0:
        raise UserError("--expected-matches must not be negative")
    scores = _scores_file(args.scores)
    o2o = None if args.one_to_one == "none" else args.one_to_one
    try:
        choice = choose_threshold(scores, one_to_one=o2o, expected_matches=args.expected_matches)
        ths = sorted({-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, choice.threshold})
        tab = estimate_threshold_metrics(scores, one_to_one=o2o, thresholds=ths,
                                         expected_matches=args.expected_matches)
    except ScoresError as exc:
        raise UserError(f"{args.scores}: {exc} (a scores file is written by `nislink link "
                        "--save-scores`)") from None
    if (len(scores) >= 20 and {"id_a", "id_b"} <= set(scores.columns)
            and scores["id_a"].is_unique and scores["id_b"].is_unique):
        print(f"warning: in {args.scores} every record appears once: is it a links table? "
              "The estimate needs every scored candidate pair (`nislink link "
              "--save-scores`)", file=sys.stderr)
    print(f"suggested threshold: {choice.explanation}")
    print()
    print("estimated from the model (not measured):")
    print(tab[["threshold", "accepted", "expected_tp", "expected_fp", "precision", "recall",
               "f1"]].to_string(index=False, formatters={
                   "threshold": "{:g}".format, "expected_tp": "{:.1f}".format,
                   "expected_fp": "{:.1f}".format, "precision": "{:.4f}".format,
                   "recall": "{:.4f}".format, "f1": "{:.4f}".format}))
    if args.output:
        _write_table(choice.curve, args.output)
        print(f"curve ({len(choice.curve)} thresholds) -> {args.output}")
    if args.chart:
        _chart("threshold chart", plot_precision_recall, args.chart, choice.curve,
               title="Precision, recall and F1 estimated from the model",
               threshold=choice.threshold)
    if args.histogram:
        _chart("weight histogram", plot_weight_histogram, args.histogram,
               scores["match_weight"].to_numpy(), threshold=choice.threshold)
    return 0


def _position(enc: EncodedFrame, rid: str, path: str) -> int:
    hit = np.flatnonzero(enc.ids.astype(str) == str(rid))
    if len(hit) == 0:
        raise UserError(f"{path}: no record with id {rid}")
    return int(hit[0])


def cmd_model_explain(args: argparse.Namespace) -> int:
    """``nislink model explain``: each field's contribution to one pair's match weight."""
    from nislink.evaluate import plot_waterfall

    files = list(args.files)
    if len(files) > 2:
        raise UserError(f"give one encoded file (de-duplication) or two, not {len(files)}")
    _check_paths([("model", args.model), *[("encoded file", f) for f in files]],
                 [("--chart", args.chart)])
    model = _fitted_model(args.model)
    a = _load_encoded(files[0], rows=True)
    b = _load_encoded(files[1], rows=True) if len(files) == 2 else None
    i = _position(a, args.pair[0], files[0])
    j = _position(a if b is None else b, args.pair[1], files[-1])
    try:
        table = model.explain(a, b, i, j)  # type: ignore[attr-defined]
    except (KeyError, ValueError) as exc:
        raise UserError(f"cannot explain the pair with model {args.model}: "
                        f"{str(exc).strip(chr(39))} (was the model fitted on files of this "
                        "schema?)") from None
    print(table.to_string(index=False, formatters={
        "m": "{:.4g}".format, "u": "{:.4g}".format, "bayes_factor": "{:.4g}".format,
        "log2_bayes_factor": "{:+.2f}".format, "cumulative": "{:+.2f}".format}))
    if args.chart:
        _chart("waterfall", plot_waterfall, args.chart, table,
               title=f"Contributions to the match weight of {args.pair[0]} - {args.pair[1]}")
    return 0


def _add_model_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``nislink model show | threshold | explain``."""
    p = sub.add_parser("model", help="inspect a fitted model, choose a threshold without "
                       "truth, explain a pair (charts need nislink[plots])")
    msub = p.add_subparsers(dest="model_command", metavar="SUBCOMMAND", required=True)

    q = msub.add_parser("show", help="prior and parameter table (m, u, weight per level) of "
                        "a model saved by `nislink link --save-model`")
    q.add_argument("model", help="model JSON")
    q.add_argument("-o", "--output", help="write the parameter table (CSV or Parquet)")
    q.add_argument("--chart", help="draw m and u per level (.png, .svg or .pdf)")
    q.set_defaults(func=cmd_model_show)

    q = msub.add_parser("threshold", help="precision/recall/F1 estimated from the model at "
                        "each threshold (no truth) and the threshold that maximises F1")
    q.add_argument("scores", help="scores file written by `nislink link --save-scores`")
    q.add_argument("--one-to-one", choices=["greedy", "optimal", "none"], default="greedy",
                   help="how the links are made (as `nislink link`; none for dedupe)")
    q.add_argument("--expected-matches", type=float,
                   help="true matches expected in all (default: the sum of the candidate "
                        "pairs' probabilities)")
    q.add_argument("-o", "--output", help="write the estimated curve (CSV or Parquet)")
    q.add_argument("--chart", help="draw the estimated curve (.png, .svg or .pdf)")
    q.add_argument("--histogram", help="draw the weight histogram (.png, .svg or .pdf)")
    q.set_defaults(func=cmd_model_threshold)

    q = msub.add_parser("explain", help="each field's contribution to one pair's weight")
    q.add_argument("model", help="model JSON")
    q.add_argument("files", nargs="+", help="encoded file A and file B (one file: dedupe)")
    q.add_argument("--pair", nargs=2, required=True, metavar=("ID_A", "ID_B"),
                   help="the record ids of the pair")
    q.add_argument("--chart", help="draw the waterfall (.png, .svg or .pdf)")
    q.set_defaults(func=cmd_model_explain)


# --------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that never quote a key."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {redact(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``nislink``."""
    parser = _Parser(
        prog="nislink",
        description="Privacy-preserving record linkage for UK people and families.",
    )
    parser.add_argument("--version", action="version", version=f"nislink {nislink.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="run the study end to end on built-in synthetic data")
    p.add_argument("--out", default="nislink-demo", help="output directory (default: %(default)s)")
    p.add_argument("--people", type=int, default=2000,
                   help=f"synthetic population size (at least {MIN_DEMO_PEOPLE})")
    p.add_argument("--seed", type=int, default=2026, help="random seed")
    p.add_argument("--waves", type=int, default=None,
                   help="run the study over this many six-monthly waves (1-10): incremental "
                   "linkage, stable research ids, a rectification, a withdrawal, an output check")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("clean", help="normalise identifiers in a CSV/Parquet file "
                       "(data owners only: the rejects table may quote raw values)")
    p.add_argument("input", help="input CSV or Parquet file")
    p.add_argument("-o", "--output", required=True, help="cleaned output (CSV or Parquet)")
    p.add_argument("--rejects", help="rejects table (default: OUTPUT.rejects.csv, e.g. "
                   "out.csv.rejects.csv)")
    p.add_argument("--columns", nargs="+", action="extend", metavar="KIND=COLUMN",
                   help="which column holds which identifier, e.g. forename=\"First Name\" "
                   "dob=DOB (kinds: name, forename, surname, dob, postcode, sex, nino, upn; "
                   "default: the columns named like the kinds)")
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
    p.add_argument("--rejects", help="rejects table (default: OUTPUT.rejects.csv, e.g. "
                   "out.parquet.rejects.csv)")
    p.add_argument("--columns", nargs="+", action="extend", metavar="FIELD=COLUMN",
                   help="which input column holds which schema field, e.g. "
                   "forename=\"First Name\" dob=DOB (default: the schema's column names). "
                   "forename, surname and dob are required; the others may be absent")
    p.add_argument("--strict-columns", action="store_true",
                   help="refuse a file lacking any schema column (default: optional fields "
                   "such as nino, upn, postcode, sex are encoded as missing when absent)")
    p.add_argument("--earliest-dob", metavar="YYYY-MM-DD",
                   help="first plausible date of birth (default 1900-01-01); it becomes part "
                   "of the schema, so every party must give the same value")
    p.add_argument("--chunk-size", type=int, default=100_000, help="rows per chunk")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("link", help="link two encoded files (no secret needed)")
    p.add_argument("file_a", help="encoded file A")
    p.add_argument("file_b", help="encoded file B")
    p.add_argument("-o", "--output", required=True, help="links (CSV or Parquet)")
    p.add_argument("--min-weight", "--threshold", dest="min_weight", type=float, default=0.0,
                   help="minimum match weight (log2 odds; 0 = probability 0.5); "
                        "--threshold is the first release's name")
    p.add_argument("--one-to-one", choices=["greedy", "optimal", "none"], default="greedy",
                   help="keep each record in at most one link (none: every pair at or "
                        "above --min-weight)")
    p.add_argument("--model", help="score with this trained model (JSON) instead of fitting")
    p.add_argument("--save-model", help="write the fitted model as JSON")
    p.add_argument("--stream-rows", type=int, default=None, metavar="N",
                   help="read file B N rows at a time, for a file B too large to load "
                        "(file A is held in memory); the links are those of an in-memory "
                        "run with the same model")
    p.add_argument("--sample-rows", type=int, default=1_000_000, metavar="N",
                   help="with --stream-rows: fit the model on a random sample of N records "
                        "of file B (default 1,000,000)")
    _add_scores_and_report_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("dedupe", help="find duplicates within one encoded file")
    p.add_argument("input", help="encoded file")
    p.add_argument("-o", "--output", required=True, help="clusters (id, cluster_id)")
    p.add_argument("--min-weight", "--threshold", dest="min_weight", type=float, default=0.0,
                   help="minimum match weight (log2 odds; --threshold is the first "
                        "release's name)")
    p.add_argument("--method", choices=["components", "centre"], default="components",
                   help="clustering method")
    _add_scores_and_report_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_dedupe)

    p = sub.add_parser("evaluate", help="precision/recall of links against true pairs")
    p.add_argument("links", help="links table with id_a, id_b (or --id-columns)")
    p.add_argument("truth", help="true pairs table with id_a, id_b (or --id-columns)")
    p.add_argument("--id-columns", nargs=2, metavar=("A", "B"),
                   help="the two id columns of both tables, e.g. la_person_ref "
                   "dwp_person_ref (default: id_a id_b)")
    p.add_argument("--truth-id-columns", nargs=2, metavar=("A", "B"),
                   help="the truth table's id columns when they differ from --id-columns")
    p.set_defaults(func=cmd_evaluate)

    _review_parser(sub)

    p = sub.add_parser("purge", help="delete every artefact whose destroy-by date has come")
    p.add_argument("directory", help="study directory")
    p.add_argument("--today", help="the date to purge as of (default: today)")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("withdraw", help="remove a person from every artefact of a study")
    p.add_argument("directory", help="study directory")
    p.add_argument("reference", help="the data owner's reference number for the person")
    p.add_argument("--party", default="la", help="the owner whose number it is (a short "
                   "name such as la, dwp, moj, dfe)")
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

    p = sub.add_parser("check-output", help="disclosure checks of a table before it leaves "
                       "the research environment (ACRO's rules)")
    p.add_argument("input", help="CSV/Parquet microdata (e.g. the research dataset)")
    p.add_argument("--index", required=True, help="row grouping column(s), comma-separated")
    p.add_argument("--columns", help="column grouping column(s), comma-separated")
    p.add_argument("--values", help="the numeric column a statistic is taken of")
    p.add_argument("--aggfunc", default="count", choices=["count", "sum", "mean", "median",
                                                          "std"], help="the statistic")
    p.add_argument("--suppress", action="store_true", help="mask every cell that is not ok")
    p.add_argument("-o", "--output", help="write the table (refused while it fails)")
    p.set_defaults(func=cmd_check_output)

    p = sub.add_parser("synth", help="generate a synthetic study (LA + DWP, MoJ, DfE extracts)")
    p.add_argument("--people", type=int, default=10000, help="population size")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=cmd_synth)

    _add_model_commands(sub)
    return parser


def _os_error(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else ""
    why = exc.strerror or type(exc).__name__
    return f"{where}: {why}" if where else str(why)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nislink`` command; returns the exit code.

    User errors (bad paths, options or input files; operating-system errors such as a
    read-only folder or a full disk) end with one line on stderr and exit code 2; Ctrl-C
    exits 130 (nothing partial is left); anything else is a bug: a traceback and a request
    to report it, exit 1. No message quotes a value that looks like a key.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    _ARGV_KEYS[:] = [k for a in argv for k in key_like_parts(str(a))]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    prefix = f"nislink {args.command}: error"
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"{prefix}: {redact(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prefix}: {redact(_os_error(exc))}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{prefix}: out of memory (try a smaller --chunk-size or fewer --workers)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nislink {args.command}: interrupted; no output was left half-written",
              file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a bug: show it, ask for a report
        text = redact(traceback.format_exc())
        print(text, file=sys.stderr, end="")
        print(f"nislink {args.command}: internal error; this is a bug in nislink "
              f"{nislink.__version__}: please report it with the command you ran (but never "
              "your data or your secret)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Issue 13: fuzz the ``nislink`` command line. Every subcommand is driven with random
arguments and small random input files (in-process through ``nislink.cli.main``, plus a few
runs of the real command in a subprocess); no run may end in a traceback, and no input file
may change."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nislink.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


def _subcommands(parser: argparse.ArgumentParser | None = None,
                 prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every command, a command with steps (``review export``) named with its step."""
    parser = parser or build_parser()
    for action in parser._actions:  # noqa: SLF001 - argparse keeps subparsers here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            out: dict[str, argparse.ArgumentParser] = {}
            for name, sub in action.choices.items():
                out.update(_subcommands(sub, f"{prefix}{name} ") or {f"{prefix}{name}": sub})
            return out
    if prefix:
        return {}
    raise AssertionError("no subcommands")


SUBCOMMANDS = _subcommands()


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small input files of every sort (good, broken, empty, foreign) and a key."""
    root = tmp_path_factory.mktemp("fuzz")
    syn = root / "syn"
    assert main(["synth", "--people", "60", "--seed", "9", "--out", str(syn)]) == 0
    inp = root / "in"
    inp.mkdir()
    assert main(["secret", "-o", str(inp / "key.hex")]) == 0
    la = pd.read_csv(syn / "la.csv", dtype=str)
    dwp = pd.read_csv(syn / "dwp.csv", dtype=str)
    la.to_csv(inp / "la.csv", index=False)
    dwp.to_csv(inp / "dwp.csv", index=False)
    la.head(0).to_csv(inp / "header.csv", index=False)
    la.to_parquet(inp / "plain.parquet", index=False)
    (inp / "empty.csv").write_bytes(b"")
    (inp / "latin.csv").write_bytes(b"id,forename,surname,dob\n1,Jos\xe9,Lee,01/02/1980\n")
    (inp / "junk.csv").write_bytes(b'a,"b\n\x00\x01,,,\n"""\n')
    (inp / "model.json").write_text("{}")
    (inp / "links.csv").write_text("id_a,id_b\n1,2\n")
    (inp / "subdir").mkdir()
    key = str(inp / "key.hex")
    for name, src, idc in (("la", "la.csv", "la_id"), ("dwp", "dwp.csv", "dwp_id"),
                           ("empty", "header.csv", "la_id")):
        assert main(["encode", str(inp / src), "-o", str(inp / f"{name}.enc.parquet"),
                     "--secret-file", key, "--id-column", idc, "-q", "--workers", "1"]) == 0
    # a fitted model and every scored pair, for `nislink model`
    assert main(["link", str(inp / "la.enc.parquet"), str(inp / "dwp.enc.parquet"), "-o",
                 str(root / "links_fit.csv"), "--save-model", str(inp / "model_fit.json"),
                 "--save-scores", str(inp / "scores.csv"), "-q"]) == 0
    for p in list(inp.iterdir()):
        if p.name.endswith(".rejects.csv"):
            p.unlink()
    return root


def _inputs(pool: Path) -> list[Path]:
    return sorted(p for p in (pool / "in").rglob("*") if p.is_file())


def _digests(pool: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in _inputs(pool)}


def _files(pool: Path) -> list[str]:
    return [str(p) for p in _inputs(pool)] + [str(pool / "in" / "subdir"), "/",
                                              str(pool / "in" / "nope.csv")]


def _outs(pool: Path) -> list[str]:
    return [str(pool / "out" / n) for n in ("o.csv", "o.parquet", "o.json", "sub/o.csv",
                                            "o.txt")]


WORDS = ["la", "dwp", "martians", "synthetic", "none", "uk-default", "2020-01-01",
         "2999-12-31", "forename=First Name", "dob=date_of_birth", "dob=dob",
         "forename=forename", "la_id", "dwp_id", "P123", "0", "-1", "1e309", "nan",
         "a" * 40, "0123456789abcdef" * 4, "", " ", "--", "-q", "=", "x=y=z"]


def _value(data: st.DataObject, pool: Path, kind: str) -> str:
    """A value: mostly of the kind asked for (an input file, an output path), sometimes
    anything."""
    roll = data.draw(st.integers(0, 9))
    if kind == "in" and roll < 7:
        return data.draw(st.sampled_from(_files(pool)))
    if kind == "out" and roll < 7:
        return data.draw(st.sampled_from(_outs(pool)))
    return data.draw(st.one_of(st.sampled_from(_files(pool)), st.sampled_from(_outs(pool)),
                               st.sampled_from(WORDS), st.text(max_size=12),
                               st.integers(-3, 99).map(str)))


# the commands that read user files are drawn more often than the generators
WEIGHTED = ["encode", "encode", "link", "link", "dedupe", "clean", "clean", "evaluate",
            "privacy-report", "withdraw", "purge", "secret", "synth", "demo",
            "check-output", "check-output", "model show", "model threshold", "model explain",
            "review export", "review import"]
OUTPUT_DESTS = {"output", "rejects", "save_model", "out", "save_scores", "report", "chart",
                "histogram"}


def _draw_args(data: st.DataObject, pool: Path) -> list[str]:
    assert set(WEIGHTED) == set(SUBCOMMANDS)
    name = data.draw(st.sampled_from(WEIGHTED), label="command")
    args = name.split()  # a command with steps: `review export ...`, `model show ...`
    _draw_options(data, pool, SUBCOMMANDS[name], args)
    if data.draw(st.integers(0, 9)) == 0:  # an unknown option or a stray value
        args.insert(data.draw(st.integers(1, len(args))), _value(data, pool, "any"))
    if name == "demo" and "--people" not in args:
        args += ["--people", "5"]
    return args


def _draw_options(data: st.DataObject, pool: Path, sub: argparse.ArgumentParser,
                  args: list[str]) -> None:
    for action in sub._actions:  # noqa: SLF001
        if isinstance(action, argparse._HelpAction):  # noqa: SLF001
            continue
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001 - `model show ...`
            name = data.draw(st.sampled_from(sorted(action.choices)), label="subcommand")
            args.append(name)
            _draw_options(data, pool, action.choices[name], args)
            continue
        kind = "out" if action.dest in OUTPUT_DESTS else "in"
        if not action.option_strings:  # a positional: usually given
            if data.draw(st.integers(0, 19)) > 0:
                args.append(_value(data, pool, kind))
            continue
        often = action.required or action.dest in ("people", "quiet", "workers")
        if not (often or data.draw(st.integers(0, 3)) == 0):
            continue
        opt = data.draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            args.append(opt)
        elif action.dest == "people":  # never a full demo or a large synthetic study
            args += [opt, str(data.draw(st.integers(-5, 99)))]
        elif action.dest == "workers":
            args += [opt, str(data.draw(st.integers(0, 2)))]
        elif action.type is float:
            args += [opt, data.draw(st.one_of(
                st.floats(allow_nan=True, allow_infinity=True).map(repr),
                st.sampled_from(["0", "-5", "12.5", "1e309", "nan", "x"])))]
        elif action.type is int:
            args += [opt, data.draw(st.one_of(st.integers(-3, 3000).map(str),
                                              st.sampled_from(WORDS)))]
        else:
            args += [opt, _value(data, pool, kind)]
            if action.nargs in ("+", "*"):
                args += data.draw(st.lists(st.sampled_from(WORDS), max_size=2))
            elif action.nargs == 2:
                args += [_value(data, pool, kind)]


def _run_in_process(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return int(code), err.getvalue()


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_command_lines_never_crash_or_touch_inputs(
    pool: Path, data: st.DataObject
) -> None:
    before = _digests(pool)
    old_cwd, old_env = os.getcwd(), os.environ.get("NISLINK_SECRET")
    work = pool / "cwd"
    work.mkdir(exist_ok=True)
    os.chdir(work)
    os.environ["NISLINK_SECRET"] = (pool / "in" / "key.hex").read_text().strip()
    try:
        args = _draw_args(data, pool)
        code, err = _run_in_process(args)
    finally:
        os.chdir(old_cwd)
        if old_env is None:
            os.environ.pop("NISLINK_SECRET", None)
        else:
            os.environ["NISLINK_SECRET"] = old_env
    assert "Traceback" not in err and "internal error" not in err, (args, err)
    assert code in (0, 1, 2, 130), (args, code, err)
    if code == 2:
        assert err.count(": error:") <= 1, (args, err)
    assert _digests(pool) == before, args


@pytest.mark.parametrize("args", [
    ["encode", "{in}/la.csv", "-o", "{in}/la.csv", "--secret-file", "{in}/key.hex"],
    ["link", "{in}/la.enc.parquet", "{in}/empty.enc.parquet", "-o", "{out}/l.csv"],
    ["clean", "{in}/junk.csv", "-o", "{out}/c.csv", "--columns", "forename=zzz"],
    ["privacy-report", "{in}/plain.parquet", "--public", "{in}/latin.csv"],
    ["evaluate", "{in}/links.csv", "{in}/latin.csv"],
    ["dedupe", "{in}/dwp.enc.parquet", "-o", "{in}/dwp.enc.parquet"],
])
def test_some_bad_command_lines_in_a_subprocess(pool: Path, args: list[str]) -> None:
    """The same property through the real command (the entry point, not just main())."""
    before = _digests(pool)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    argv = [a.format(**{"in": pool / "in", "out": pool / "out"}) for a in args]
    proc = subprocess.run([sys.executable, "-m", "nislink.cli", *argv], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert _digests(pool) == before


_COLUMNS = ["id", "forename", "surname", "dob", "sex", "postcode", "nino", "upn", "First Name",
            "date_of_birth", ""]
_CELLS = st.one_of(
    st.sampled_from(["John", "Ann", "O'Neil", "Smith", "01/02/1980", "1980-02-01", "31/02/1999",
                     "1850-01-01", "F", "m", "SW1A 1AA", "NFA", "AB123456C", "A123456789012",
                     "", " ", "NULL", "n/a", "0", "1", "x" * 250]),
    st.text(max_size=8),
)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(columns=st.lists(st.sampled_from(_COLUMNS), min_size=1, max_size=7),
       rows=st.lists(st.lists(_CELLS, min_size=7, max_size=7), max_size=12),
       extra=st.lists(st.sampled_from(["--id-column", "id", "--columns", "forename=First Name",
                                       "dob=date_of_birth", "--strict-columns",
                                       "--chunk-size", "3"]), max_size=3))
def test_random_files_through_every_file_command(
    pool: Path, tmp_path_factory: pytest.TempPathFactory, columns: list[str],
    rows: list[list[str]], extra: list[str]
) -> None:
    """Random small CSV files through clean, encode, link, dedupe and evaluate: each run
    ends with 0 or a one-line error, never a traceback, and never changes its input."""
    import csv

    work = tmp_path_factory.mktemp("rand")
    src = work / "in.csv"
    with open(src, "w", newline="", encoding="utf-8", errors="surrogatepass") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for r in rows:
            w.writerow(r[: len(columns)])
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    key = str(pool / "in" / "key.hex")
    enc = str(work / "e.parquet")
    runs = [
        ["clean", str(src), "-o", str(work / "c.csv"), *[e for e in extra
                                                         if e in ("--id-column", "id")]],
        ["encode", str(src), "-o", enc, "--secret-file", key, "-q", "--workers", "1", *extra],
        ["link", enc, str(pool / "in" / "la.enc.parquet"), "-o", str(work / "l.csv"), "-q"],
        ["dedupe", enc, "-o", str(work / "d.csv"), "-q"],
        ["evaluate", str(src), str(src)],
    ]
    for args in runs:
        code, err = _run_in_process(args)
        assert "Traceback" not in err and "internal error" not in err, (args, err)
        assert code in (0, 2), (args, code, err)
        if code == 2:
            assert err.count(": error:") == 1, (args, err)
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before

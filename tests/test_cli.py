"""The `nislink` command: demo, clean, and one-line user errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from nislink.cli import main


def test_demo_runs_and_writes_artefacts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nislink demo" in printed
    assert any(out.iterdir())


def test_clean_command_conserves_rows(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "id,forename,surname,dob,postcode\n"
        "1,Mr John,Smith,01/02/1980,sw1a1aa\n"
        "2,,,,\n"
        "3,Ann,O'Neil,1979-13-01,NFA\n",
        encoding="utf-8",
    )
    dst = tmp_path / "out.csv"
    assert main(["clean", str(src), "-o", str(dst), "--id-column", "id"]) == 0
    clean = pd.read_csv(dst, dtype=str)
    rejects = pd.read_csv(tmp_path / "out.rejects.csv", dtype=str)
    assert len(clean) + len(rejects) == 3
    assert "smith" in set(clean["surname"])
    assert "SW1A 1AA" in set(clean["postcode"])


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not found"),
        (b"", "empty"),
        (b"id,forename\n1,Jos\xe9\n", "not UTF-8"),
    ],
)
def test_clean_user_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    src = tmp_path / "in.csv"
    if content is not None:
        src.write_bytes(content)
    code = main(["clean", str(src), "-o", str(tmp_path / "o.csv"), "--columns", "forename=forename"])
    err = capsys.readouterr().err
    assert code != 0
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_script_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nislink.cli", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("nislink ")


def test_synth_command_writes_study_deterministically(tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["synth", "--people", "300", "--seed", "7", "--out", str(out)]) == 0
        outs.append(out)
    files_a = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*") if p.is_file())
    assert files_a == files_b
    names = {p.name for p in files_a}
    for table in ("la", "dwp", "moj", "dfe"):
        assert any(n.startswith(table) and n.endswith(".csv") for n in names), table
        assert any(n.startswith(table) and n.endswith(".parquet") for n in names), table
    for rel in files_a:
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel


def test_synth_command_rejects_bad_people(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--people", "0", "--out", str(tmp_path)]) == 2
    assert "--people" in capsys.readouterr().err

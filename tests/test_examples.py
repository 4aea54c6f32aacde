"""The examples in examples/ run as written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nis_pipeline_example(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _load("nis_pipeline").main(tmp_path / "study")
    out = capsys.readouterr().out
    assert "research dataset:" in out and "complete=True" in out
    persons = pd.read_parquet(tmp_path / "study" / "research" / "persons.parquet")
    assert len(persons) > 2000

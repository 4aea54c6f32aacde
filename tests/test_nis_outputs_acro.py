"""nislink's output checks agree with ACRO 1.0.2, cell by cell.

``tests/data/acro_verdicts.json`` holds ACRO's own verdicts on fixed tables (small cells,
an empty cell, one and two dominant contributors, cells exactly on the N-K and p-percent
boundaries, all-zero values, negative and missing values, missing keys, standard
deviations on few records, custom parameters), made by running ACRO
(``benchmarks/make_acro_fixture.py``). The tests below check nislink against them without
ACRO; where ACRO is importable (``pip install -e ".[outputs]"``) they also run ACRO itself,
on the fixture's tables and on random ones.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "acro_verdicts.json"
BENCH = ROOT / "benchmarks"


def _load(name: str):  # type: ignore[no-untyped-def]
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ref = _load("acro_reference")
DOC = json.loads(FIXTURE.read_text(encoding="utf-8"))
CASES = DOC["cases"]
HAVE_ACRO = importlib.util.find_spec("acro") is not None


def _data(name: str) -> pd.DataFrame:
    return pd.DataFrame(DOC["datasets"][name])


def test_fixture_is_acro_1_0_2_on_enough_tables() -> None:
    assert DOC["acro_version"] == ref.ACRO_VERSION == "1.0.2"
    assert len(CASES) >= 20
    assert sum(len(c["acro"]["cells"]) for c in CASES) >= 300
    statuses = {c["acro"]["status"] for c in CASES}
    assert statuses == {"pass", "review", "fail"}
    seen = {name for c in CASES for cell in c["acro"]["cells"].values() for name in cell}
    assert seen >= {"MinimumThresholdCheck", "PresenceOfZeroCheck", "NKCheck",
                    "PPercentCheck", "MissingCheck"}
    assert any(any(c["acro"].get("dof_fail", {}).values()) for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_agrees_with_acro_fixture(case: dict[str, Any]) -> None:
    df = _data(case["dataset"])
    mine = ref.nislink_verdicts(df, case)
    r = ref.compare(mine, case["acro"], case)
    assert r["disagree"] == [], r["disagree"]
    assert r["status"][0] == r["status"][1]
    kinds = sorted({kind for kind, _ in r["documented"]})
    assert kinds == case["expected_documented"]
    if not kinds:     # no documented difference: the verdict is ACRO's as it is
        assert mine["status"] == case["acro"]["status"]
        assert r["agree"] == r["cells"]
    assert r["table_equal"]
    assert r["suppression_equal"] in (True, None)


def test_fixture_covers_suppression() -> None:
    compared = 0
    for case in CASES:
        r = ref.compare(ref.nislink_verdicts(_data(case["dataset"]), case), case["acro"], case)
        compared += r["suppression_equal"] is True
    assert compared >= 10


def test_documented_differences_are_stricter_than_acro() -> None:
    """Where nislink and ACRO differ, nislink flags a cell that ACRO lets through."""
    by_name = {c["name"]: c for c in CASES}
    case = by_name["sum, negative value and dominance elsewhere"]
    mine = ref.nislink_verdicts(_data(case["dataset"]), case)
    key = '["A", "1-2"]'       # one contributor of 10 million among 40
    assert case["acro"]["cells"][key] == []
    assert mine["cells"][key] == ["NKCheck", "PPercentCheck"]
    key = '["E", "3-4"]'       # the cell with the negative value: review in both
    assert case["acro"]["cells"][key] == mine["cells"][key] == ["NKCheck", "PPercentCheck"]

    case = by_name["sum by area, missing key"]
    mine = ref.nislink_verdicts(_data(case["dataset"]), case)
    assert case["acro"]["cells"]["[null]"] == []          # 3 records, unchecked by ACRO
    assert "MinimumThresholdCheck" in mine["cells"]["[null]"]


@pytest.mark.skipif(not HAVE_ACRO, reason="acro is not installed (pip install -e '.[outputs]')")
def test_fixture_is_what_acro_says_today() -> None:
    for case in CASES:
        got = ref.acro_verdicts(_data(case["dataset"]), case)
        assert got == case["acro"], case["name"]


@pytest.mark.skipif(not HAVE_ACRO, reason="acro is not installed (pip install -e '.[outputs]')")
def test_agrees_with_acro_on_random_tables() -> None:
    agreement = _load("acro_agreement")
    out = agreement.run(40, seed=7)
    assert out["problems"] == []
    assert out["totals"]["tables"] >= 35
    assert out["totals"]["cells disagreeing (undocumented)"] == 0

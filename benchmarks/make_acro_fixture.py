"""Make ``tests/data/acro_verdicts.json``: ACRO 1.0.2's verdicts on a set of fixed tables.

Usage (from the repository root, in an environment where ``acro==1.0.2`` imports, e.g.
after ``pip install -e ".[outputs]"``, or a separate virtualenv with acro and nislink's
dependencies and ``PYTHONPATH=.``)::

    python benchmarks/make_acro_fixture.py            # writes tests/data/acro_verdicts.json
    python benchmarks/make_acro_fixture.py --check    # regenerate and compare, write nothing

The microdata are built here, cell by cell, so that the tables have what the rules are
about: small cells, an empty cell, cells dominated by one or two contributors, cells exactly
on the N-K and p-percent boundaries, a cell whose values are all zero, negative values,
missing values, a missing grouping key, and a standard deviation on few records. The data
and the table specifications are written into the fixture with ACRO's verdicts, so that
``tests/test_nis_outputs_acro.py`` checks nislink against them without ACRO installed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from acro_reference import ACRO_VERSION, acro_verdicts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "acro_verdicts.json"

# records per (area, family size band): small cells, an empty one, boundary sizes 9/10/11
CELL_SIZES = {
    ("A", "1-2"): 40, ("A", "3-4"): 35, ("A", "5+"): 12,
    ("B", "1-2"): 30, ("B", "3-4"): 25, ("B", "5+"): 11,
    ("C", "1-2"): 20, ("C", "3-4"): 15, ("C", "5+"): 10,
    ("D", "1-2"): 6, ("D", "3-4"): 1, ("D", "5+"): 0,
    ("E", "1-2"): 9, ("E", "3-4"): 14, ("E", "5+"): 3,
}


def _base(seed: int) -> pd.DataFrame:
    """One row per family: area, size band, year, and an income (whole pounds)."""
    rng = np.random.default_rng(seed)
    rows = []
    for (area, size), n in CELL_SIZES.items():
        for _ in range(n):
            rows.append({"area": area, "size": size, "year": int(rng.choice([2021, 2022])),
                         "income": float(round(rng.gamma(2.0, 9000.0)))})
    return pd.DataFrame(rows)


def _set_cell(df: pd.DataFrame, area: str, size: str, values: list[float]) -> None:
    idx = df.index[(df["area"] == area) & (df["size"] == size)]
    assert len(idx) == len(values), (area, size, len(idx), len(values))
    df.loc[idx, "income"] = values


def datasets() -> dict[str, pd.DataFrame]:
    """The fixed microdata sets the cases tabulate."""
    plain = _base(2026)

    families = plain.copy()
    a12 = families.index[(families["area"] == "A") & (families["size"] == "1-2")]
    families.loc[a12[0], "income"] = 10_000_000.0           # one dominant contributor
    b34 = families.index[(families["area"] == "B") & (families["size"] == "3-4")]
    families.loc[b34[:2], "income"] = 3_000_000.0           # two dominant contributors
    a34 = families.index[(families["area"] == "A") & (families["size"] == "3-4")]
    families.loc[a34[0], "income"] = 1_500_000.0            # large, but not dominant
    # N-K boundary: the two largest are exactly 90% of the total (45,000 + 45,000 of 100,000)
    _set_cell(families, "C", "1-2", [45_000.0, 45_000.0] + [555.0] * 17 + [565.0])
    # p-percent boundary: the rest is exactly 10% of the largest (5,000 of 50,000)
    _set_cell(families, "C", "3-4", [50_000.0, 20_000.0] + [385.0] * 12 + [380.0])
    _set_cell(families, "B", "5+", [0.0] * 11)              # every value zero

    negative = plain.copy()
    b12 = negative.index[(negative["area"] == "B") & (negative["size"] == "1-2")]
    negative.loc[b12[0], "income"] = -2_500.0                # a loss, in an ordinary cell

    families_negative = families.copy()
    e34 = families_negative.index[(families_negative["area"] == "E")
                                  & (families_negative["size"] == "3-4")]
    families_negative.loc[e34[0], "income"] = -2_500.0

    missing = plain.copy()
    missing.loc[a12[:3], "income"] = np.nan
    c34 = missing.index[(missing["area"] == "C") & (missing["size"] == "3-4")]
    missing.loc[c34[0], "income"] = np.nan

    nan_keys = plain.copy()
    nan_keys["area"] = nan_keys["area"].astype(object)
    nan_keys.loc[a12[:2], "area"] = None
    nan_keys.loc[b12[:1], "area"] = None

    return {"plain": plain, "families": families, "negative": negative,
            "families_negative": families_negative, "missing": missing, "nan_keys": nan_keys}


CUSTOM = {"safe_threshold": 5, "safe_nk_n": 1, "safe_nk_k": 0.6, "safe_pratio_p": 0.25,
          "zeros_are_disclosive": False, "safe_dof_threshold": 5}


def cases() -> list[dict[str, Any]]:
    """The table specifications, with the documented difference each is expected to show."""
    def case(name: str, dataset: str, index: list[str], columns: list[str], values: str | None,
             aggfunc: str, config: dict[str, Any] | None = None,
             expect: list[str] | None = None) -> dict[str, Any]:
        cfg = {"check_missing_values": False}
        cfg.update(config or {})
        return {"name": name, "dataset": dataset, "index": index, "columns": columns,
                "values": values, "aggfunc": aggfunc, "config": cfg,
                "expected_documented": sorted(expect or [])}

    return [
        case("count area x size", "plain", ["area"], ["size"], None, "count"),
        case("count area, year x size", "plain", ["area", "year"], ["size"], None, "count"),
        case("count area x size, year", "plain", ["area"], ["size", "year"], None, "count"),
        case("count of incomes", "missing", ["area"], ["size"], "income", "count"),
        case("sum, dominant contributors", "families", ["area"], ["size"], "income", "sum"),
        case("mean, dominant contributors", "families", ["area"], ["size"], "income", "mean"),
        case("sum by area", "families", ["area"], [], "income", "sum"),
        case("mean by area and year", "families", ["area", "year"], [], "income", "mean"),
        case("median", "families", ["area"], ["size"], "income", "median"),
        case("std", "families", ["area"], ["size"], "income", "std"),
        case("std by area", "plain", ["area"], [], "income", "std"),
        case("count size x year", "plain", ["size"], ["year"], None, "count"),
        case("mean size x year, missing values", "missing", ["size"], ["year"], "income",
             "mean", {"check_missing_values": True}),
        case("sum size x year, negative value", "negative", ["size"], ["year"], "income",
             "sum"),
        case("sum, negative value", "negative", ["area"], ["size"], "income", "sum",
             expect=["negative-elsewhere"]),
        case("mean, missing values checked", "missing", ["area"], ["size"], "income", "mean",
             {"check_missing_values": True}),
        case("mean, missing values not checked", "missing", ["area"], ["size"], "income",
             "mean"),
        case("count, missing key", "nan_keys", ["area"], ["size"], None, "count"),
        case("sum, custom rules", "families", ["area"], ["size"], "income", "sum", CUSTOM),
        case("count, custom rules", "plain", ["area"], ["size"], None, "count", CUSTOM),
        case("std, custom rules", "plain", ["area"], ["size"], "income", "std", CUSTOM),
        case("sum, negative value and dominance elsewhere", "families_negative", ["area"],
             ["size"], "income", "sum", expect=["negative-elsewhere"]),
        case("sum by area, missing key", "nan_keys", ["area"], [], "income", "sum",
             expect=["pivot-unchecked-row"]),
        case("mean by area and size, empty row", "families", ["area", "size"], [], "income",
             "mean", expect=["pivot-unchecked-row"]),
    ]


def _data_json(df: pd.DataFrame) -> dict[str, list[Any]]:
    out = {}
    for col in df.columns:
        out[col] = [None if (isinstance(v, float) and np.isnan(v)) else
                    (v.item() if isinstance(v, np.generic) else v) for v in df[col].tolist()]
    return out


def build() -> dict[str, Any]:
    """Run ACRO on every case and return the fixture document."""
    import importlib.metadata as md  # noqa: PLC0415

    version = md.version("acro")
    if version != ACRO_VERSION:
        raise SystemExit(f"acro {ACRO_VERSION} is needed, found {version}")
    data = datasets()
    out_cases = []
    for c in cases():
        verdicts = acro_verdicts(data[c["dataset"]], c)
        out_cases.append({**c, "acro": verdicts})
    return {
        "about": "ACRO's verdicts on fixed tables, made by benchmarks/make_acro_fixture.py; "
                 "checked by tests/test_nis_outputs_acro.py",
        "acro_version": version,
        "pandas_version": pd.__version__,
        "datasets": {name: _data_json(df) for name, df in data.items()},
        "cases": out_cases,
    }


def _compact(text: str) -> str:
    """Put every array of plain values on one line (the data columns, the check names)."""
    return re.sub(r"\[([^\[\]{}]*)\]",
                  lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)).strip() + "]", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate and compare with the committed fixture")
    args = parser.parse_args()
    doc = build()
    text = _compact(json.dumps(doc, indent=1, sort_keys=False)) + "\n"
    if args.check:
        old = json.loads(OUT.read_text(encoding="utf-8"))
        same = old["datasets"] == doc["datasets"] and old["cases"] == doc["cases"]
        print("fixture up to date" if same else "fixture differs from a fresh run")
        raise SystemExit(0 if same else 1)
    OUT.write_text(text, encoding="utf-8")
    n_cells = sum(len(c["acro"]["cells"]) for c in doc["cases"])
    print(f"wrote {OUT.relative_to(ROOT)}: {len(doc['cases'])} tables, {n_cells} cells, "
          f"acro {doc['acro_version']}")


if __name__ == "__main__":
    main()

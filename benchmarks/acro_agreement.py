"""Agreement of nislink's output checks with ACRO 1.0.2 on random tables.

Usage (in an environment where both ``acro==1.0.2`` and nislink import, e.g. after
``pip install -e ".[outputs]"``)::

    python benchmarks/acro_agreement.py [--tables 300] [--seed 2026]

Each table is drawn at random: 30 to 600 records; one or two grouping columns for the
rows and none to two for the columns (none: ACRO's ``pivot_table``), each with 2 to 6
categories of skewed frequencies, so that small and empty cells are common; a statistic
(count, sum, mean, median, std); incomes from a gamma distribution with, at random, one to
three dominant contributors, a negative value, missing values, a missing grouping key, a
cell of zeros or tied whole-number values; ACRO's default parameters for half the tables
and random ones for the rest. Both checkers run on every table and are compared cell by
cell (:mod:`acro_reference`). The report counts the cells that agree as they are, the
documented differences by kind, and the disagreements that no documented difference
explains (expected: none). Tables on which ACRO itself raises an error are counted and
left out (ACRO 1.0.2 fails on a frequency table without values when
``check_missing_values`` is on).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from acro_reference import acro_verdicts, compare, nislink_verdicts  # noqa: E402

AGGFUNCS = ("count", "sum", "mean", "median", "std")


def random_case(rng: np.random.Generator, i: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One random table: its microdata and its specification."""
    n = int(rng.integers(30, 601))
    n_index = int(rng.integers(1, 3))
    n_columns = int(rng.integers(0, 3))
    names = [f"g{j}" for j in range(n_index + n_columns)]
    df = pd.DataFrame()
    for name in names:
        k = int(rng.integers(2, 7))
        p = rng.dirichlet(np.full(k, 0.7))
        df[name] = rng.choice([f"{name}_{c}" for c in range(k)], size=n, p=p)
    if rng.random() < 0.5:
        income = rng.gamma(2.0, 9000.0, n).round(0)
    else:
        income = rng.integers(0, 6, n).astype(float) * 1000.0     # many ties
    if rng.random() < 0.5:
        idx = rng.choice(n, size=int(rng.integers(1, 4)), replace=False)
        income[idx] *= rng.uniform(50, 500, len(idx))
    if rng.random() < 0.2:
        income[int(rng.integers(n))] = -float(rng.integers(1, 5000))
    if rng.random() < 0.2:
        income[rng.choice(n, size=int(rng.integers(1, 6)), replace=False)] = np.nan
    df["income"] = income
    if rng.random() < 0.1:     # one cell's values all zero
        first = df.iloc[int(rng.integers(n))]
        same = np.ones(n, dtype=bool)
        for name in names:
            same &= (df[name] == first[name]).to_numpy()
        df.loc[same, "income"] = 0.0
    if rng.random() < 0.15:
        col = names[int(rng.integers(len(names)))]
        df[col] = df[col].astype(object)
        df.loc[rng.choice(n, size=int(rng.integers(1, 4)), replace=False), col] = None
    aggfunc = AGGFUNCS[int(rng.integers(len(AGGFUNCS)))]
    values: str | None = "income"
    if aggfunc == "count" and n_columns > 0 and rng.random() < 0.5:
        values = None
    config: dict[str, Any] = {"check_missing_values": bool(rng.random() < 0.5)}
    if rng.random() < 0.5:
        config.update({
            "safe_threshold": int(rng.integers(3, 21)),
            "safe_dof_threshold": int(rng.integers(3, 21)),
            "safe_nk_n": int(rng.integers(1, 4)),
            "safe_nk_k": round(float(rng.uniform(0.5, 0.95)), 2),
            "safe_pratio_p": round(float(rng.uniform(0.05, 0.3)), 2),
            "zeros_are_disclosive": bool(rng.random() < 0.5),
        })
    case = {"name": f"random {i}", "index": names[:n_index], "columns": names[n_index:],
            "values": values, "aggfunc": aggfunc, "config": config}
    return df, case


def run(n_tables: int, seed: int) -> dict[str, Any]:
    """Compare the two checkers on ``n_tables`` random tables; the totals."""
    rng = np.random.default_rng(seed)
    totals: Counter[str] = Counter()
    documented: Counter[str] = Counter()
    problems: list[dict[str, Any]] = []
    failures: Counter[str] = Counter()
    for i in range(n_tables):
        df, case = random_case(rng, i)
        try:
            acro = acro_verdicts(df, case)
        except Exception as exc:  # noqa: BLE001 - ACRO's own failures are counted
            failures[f"{type(exc).__name__}: {exc}"] += 1
            continue
        mine = nislink_verdicts(df, case)
        r = compare(mine, acro, case)
        totals["tables"] += 1
        totals["cells"] += r["cells"]
        totals["cells agreeing as they are"] += r["agree"]
        totals["cells disagreeing (undocumented)"] += len(r["disagree"])
        totals["table verdicts equal"] += int(r["status"][0] == r["status"][1])
        totals["table verdicts equal as they are"] += int(r["nislink_status"] == r["status"][1])
        totals["tables with documented differences"] += int(bool(r["documented"]))
        totals["statistics equal"] += int(r["table_equal"])
        if r["suppression_equal"] is not None:
            totals["suppression comparable"] += 1
            totals["suppression equal"] += int(r["suppression_equal"])
        for kind, _ in r["documented"]:
            documented[kind] += 1
        if r["disagree"] or r["status"][0] != r["status"][1] or not r["table_equal"] \
                or r["suppression_equal"] is False:
            problems.append({"case": case, "result": {k: r[k] for k in
                                                      ("disagree", "status", "table_equal",
                                                       "suppression_equal")}})
    return {"seed": seed, "drawn": n_tables, "totals": dict(totals),
            "documented cells by kind": dict(documented), "acro failures": dict(failures),
            "problems": problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    out = run(args.tables, args.seed)
    t = out["totals"]
    print(f"| random tables drawn (seed {args.seed}) | {out['drawn']} |")
    print("|---|---|")
    for reason, n in sorted(out["acro failures"].items()):
        print(f"| ACRO raised `{reason}` (not compared) | {n} |")
    print(f"| tables compared | {t['tables']} |")
    for key in ("cells", "cells agreeing as they are", "cells disagreeing (undocumented)",
                "table verdicts equal", "table verdicts equal as they are",
                "tables with documented differences",
                "statistics equal", "suppression comparable", "suppression equal"):
        print(f"| {key} | {t.get(key, 0)} |")
    for kind, n in sorted(out["documented cells by kind"].items()):
        print(f"| documented difference: {kind} (cells) | {n} |")
    if out["problems"]:
        print(json.dumps(out["problems"][:5], indent=1, default=str))
        raise SystemExit(1)


if __name__ == "__main__":
    main()

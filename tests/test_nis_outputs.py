"""Output checks: tables (threshold, zeros, N-K dominance, p-percent, dof, negative and
missing values, suppression) and regressions, on nislink.synth data and on hand-made cells
that sit exactly on the rules' boundaries."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nislink.nis.outputs import (
    DEFAULT_RULES,
    DisclosureRules,
    OutputCheckError,
    check_regression,
    check_table,
)
from nislink.synth import generate_study


@pytest.fixture(scope="module")
def la() -> pd.DataFrame:
    """The synthetic LA submission with family size and an income with dominant values."""
    study = generate_study(2_000, seed=5)
    df = study.la.copy()
    df["family_size"] = df.groupby("la_family_id")["la_id"].transform("size")
    rng = np.random.default_rng(11)
    df["income"] = rng.gamma(2.0, 8_000.0, len(df)).round(0)
    # a few very large incomes: dominant contributors among the families that declined
    declined = df.index[df["intervention_status"] == "declined"]
    big = rng.choice(len(declined), size=4, replace=False)
    df.loc[declined[big], "income"] = [4e6, 3e6, 2.5e6, 2e6]
    return df


def _flagged(res, rule: str) -> set:  # type: ignore[no-untyped-def]
    f = res.flags[rule]
    return {(r, c) for r in f.index for c in f.columns if f.at[r, c]}


# ------------------------------------------------------------------------- counts


def test_count_table_on_synthetic_study(la: pd.DataFrame) -> None:
    res = check_table(la, "intervention_status", "family_size")
    expected = pd.crosstab(la["intervention_status"], la["family_size"])
    assert res.table.to_numpy().tolist() == expected.to_numpy().tolist()
    assert list(res.table.index) == list(expected.index)
    assert list(res.table.columns) == list(expected.columns)
    small = {(r, c) for r in expected.index for c in expected.columns
             if expected.at[r, c] < 10}
    assert small, "the synthetic table should have small cells (7-person families)"
    assert _flagged(res, "threshold") == small
    zeros = {(r, c) for r in expected.index for c in expected.columns if expected.at[r, c] == 0}
    assert _flagged(res, "zero") == zeros
    assert res.status == "fail"
    # the reasons name the rule and the cells
    text = "\n".join(res.reasons)
    assert "threshold:" in text and "fewer than 10 records" in text
    r0, c0 = sorted(small, key=str)[0]
    assert f"intervention_status={r0}, family_size={c0}" in text
    # one row per cell, with its verdict
    cells = res.cells()
    assert len(cells) == expected.size
    assert set(cells.columns) >= {"intervention_status", "family_size", "records", "count",
                                  "status", "rules"}
    assert (cells["status"] == "fail").sum() == len(small)


def test_big_cells_pass(la: pd.DataFrame) -> None:
    res = check_table(la, "worklessness", "health")
    assert (res.counts.to_numpy() >= 10).all()
    assert res.status == "pass" and res.reasons == ()
    assert (res.outcome == "ok").all().all()
    assert "PASS" in str(res)


def test_threshold_boundary_and_custom_rules() -> None:
    df = pd.DataFrame({"g": ["a"] * 10 + ["b"] * 9 + ["c"] * 5})
    res = check_table(df, "g")
    assert _flagged(res, "threshold") == {("b", "count"), ("c", "count")}   # 10 is safe
    res5 = check_table(df, "g", rules=DisclosureRules(threshold=5))
    assert "threshold" not in {r.split(":")[0] for r in res5.reasons}
    assert res5.status == "pass"


def test_zero_cells_and_unused_categories() -> None:
    df = pd.DataFrame({"area": pd.Categorical(["N"] * 12 + ["S"] * 15, categories=["N", "S", "W"]),
                       "flag": [True] * 12 + [False] * 15})
    res = check_table(df, "area", "flag")
    assert list(res.table.index) == ["N", "S", "W"]          # the unused category is a row
    assert _flagged(res, "zero") == {("N", False), ("S", True), ("W", False), ("W", True)}
    res2 = check_table(df, "area", "flag", rules=DisclosureRules(zeros_are_disclosive=False))
    assert "zero" not in res2.flags
    assert _flagged(res2, "threshold") == _flagged(res, "zero")   # 0 < 10 all the same


def test_dates_as_keys_are_named_as_dates(la: pd.DataFrame) -> None:
    month = pd.to_datetime(la["assessment_date"]).dt.to_period("M").dt.to_timestamp()
    res = check_table(la.assign(month=month), "month")
    assert res.status == "fail"
    first = res.reasons[0]
    assert "(month=20" in first and "00:00:00" not in first


def test_missing_key_is_a_category() -> None:
    df = pd.DataFrame({"area": ["N"] * 12 + [None] * 3, "v": range(15)})
    res = check_table(df, "area")
    labels = list(res.table.index)
    assert labels[0] == "N" and isinstance(labels[1], float) and math.isnan(labels[1])
    assert res.table.iloc[1, 0] == 3
    assert any("(area=missing)" in r for r in res.reasons)


# ---------------------------------------------------------------------- dominance


def _cells(*cells: list[float]) -> pd.DataFrame:
    rows = [{"cell": f"c{i}", "income": v} for i, vals in enumerate(cells) for v in vals]
    return pd.DataFrame(rows)


def test_nk_and_p_percent_boundaries() -> None:
    rest = [1_000.0] * 8
    df = _cells(
        [45_000.0, 45_000.0] + [1_250.0] * 8,          # c0: top 2 = exactly 90% -> nk
        [44_000.0, 45_000.0] + [1_375.0] * 8,          # c1: 89% -> passes
        [50_000.0, 20_000.0] + [625.0] * 8,            # c2: rest = exactly 10% of largest
        [50_000.0, 20_000.0] + [600.0] * 8,            # c3: rest 9.6% of largest -> p
        [30_000.0, 30_000.0, 30_000.0] + rest,         # c4: spread -> passes
    )
    res = check_table(df, "cell", values="income", aggfunc="sum")
    col = "income"
    assert _flagged(res, "nk-rule") == {("c0", col), ("c2", col), ("c3", col)}
    assert _flagged(res, "p-percent") == {("c3", col)}
    # the same with other parameters: N=1, K=60%, p=25%
    custom = DisclosureRules(nk_n=1, nk_k=0.6, p_percent=0.25)
    res2 = check_table(df, "cell", values="income", aggfunc="sum", rules=custom)
    assert _flagged(res2, "nk-rule") == {("c2", col), ("c3", col)}   # 50k of ~75k
    # c0: rest 10k / 45k = 22% < 25%: p-percent fails although N-K with N=1 passes
    assert ("c0", col) in _flagged(res2, "p-percent")
    assert ("c0", col) not in _flagged(res2, "nk-rule")


def test_dominant_incomes_on_synthetic_study(la: pd.DataFrame) -> None:
    res = check_table(la, "intervention_status", "family_size", values="income",
                      aggfunc="mean")
    # which cells hold the dominant incomes, and what the rules say by hand
    for (r, c), group in la.groupby(["intervention_status", "family_size"]):
        v = np.sort(group["income"].to_numpy())[::-1]
        nk = v[:2].sum() / v.sum() >= 0.9
        p = (v.sum() - v[:2].sum()) / v[0] < 0.1
        assert bool(res.flags["nk-rule"].at[r, c]) == nk, (r, c)
        assert bool(res.flags["p-percent"].at[r, c]) == p, (r, c)
        assert res.table.at[r, c] == pytest.approx(v.mean())
    big = la[la["income"] >= 2e6]
    big_cells = set(zip(big["intervention_status"], big["family_size"]))
    assert big_cells & _flagged(res, "nk-rule"), "a dominant income should dominate its cell"
    assert res.status == "fail"


def test_all_zero_cell_fails_p_percent() -> None:
    """Every contributor's value is disclosed as 0 (ACRO flags the cell the same way)."""
    df = _cells([0.0] * 12, [5.0] * 12)
    res = check_table(df, "cell", values="income", aggfunc="sum")
    assert _flagged(res, "p-percent") == {("c0", "income")}
    assert not res.flags["nk-rule"].any().any()     # 0 / 0 is not a share


def test_negative_values_need_review_in_their_cell_only() -> None:
    df = _cells([1_000.0] * 11 + [-50.0], [90_000.0] + [100.0] * 11, [900.0] * 12)
    res = check_table(df, "cell", values="income", aggfunc="sum")
    assert _flagged(res, "negative") == {("c0", "income")}
    assert ("c0", "income") not in _flagged(res, "nk-rule")
    # unlike ACRO, the dominated cell elsewhere is still found
    assert ("c1", "income") in _flagged(res, "nk-rule")
    assert res.status == "fail"
    ok = check_table(df[df["cell"] != "c1"], "cell", values="income", aggfunc="sum")
    assert ok.status == "review"
    assert ok.cell_status.loc["c0", "income"] == "review"
    assert any(r.startswith("negative:") for r in ok.reasons)


# ------------------------------------------------------------ missing, dof, others


def test_missing_values_need_review() -> None:
    df = _cells([1_000.0] * 11 + [np.nan], [900.0] * 12)
    res = check_table(df, "cell", values="income", aggfunc="mean")
    assert _flagged(res, "missing") == {("c0", "income")}
    assert res.status == "review"
    assert res.table.at["c0", "income"] == pytest.approx(1_000.0)   # NaN skipped
    off = check_table(df, "cell", values="income", aggfunc="mean",
                      rules=DisclosureRules(check_missing_values=False))
    assert "missing" not in off.flags and off.status == "pass"


def test_std_needs_residual_degrees_of_freedom() -> None:
    df = _cells([float(i) for i in range(11)], [float(i) for i in range(10)])
    res = check_table(df, "cell", values="income", aggfunc="std")
    assert _flagged(res, "dof") == {("c1", "income")}      # 10 records: dof 9 < 10
    assert "threshold" not in res.flags                     # as ACRO: dof only
    assert res.table.at["c0", "income"] == pytest.approx(np.std(np.arange(11), ddof=1))


def test_median_and_statistics_match_pandas(la: pd.DataFrame) -> None:
    for agg in ("sum", "mean", "median", "std", "count"):
        res = check_table(la, ["intervention_status"], ["eligible"], values="income",
                          aggfunc=agg)
        expected = la.pivot_table(index="intervention_status", columns="eligible",
                                  values="income", aggfunc=agg)
        got = res.table.loc[expected.index, expected.columns].astype(float)
        if agg == "count":        # pandas leaves an empty cell's count NaN
            expected = expected.fillna(0)
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(dtype=float),
                                   rtol=1e-9, equal_nan=True)
    assert set(check_table(la, "eligible", values="income", aggfunc="median").flags) == {
        "threshold", "zero", "missing"}


def test_two_keys_per_axis(la: pd.DataFrame) -> None:
    res = check_table(la, ["intervention_status", "eligible"], ["family_size", "health"])
    assert res.table.index.nlevels == 2 and res.table.columns.nlevels == 2
    assert int(res.table.to_numpy().sum()) == len(la)
    levels = [la[c].nunique() for c in ("intervention_status", "eligible")]
    assert len(res.table) == levels[0] * levels[1]             # every combination


def test_suppression_masks_every_cell_that_is_not_ok(la: pd.DataFrame) -> None:
    plain = check_table(la, "intervention_status", "family_size")
    res = check_table(la, "intervention_status", "family_size", suppress=True)
    bad = plain.cell_status != "ok"
    assert res.table.isna().to_numpy().tolist() == bad.to_numpy().tolist()
    assert len(res.suppressed) == int(bad.to_numpy().sum())
    assert str(res.table.dtypes.iloc[0]) == "Int64"
    assert res.status == "review"                      # a checker confirms the masking
    assert res.table.where(~bad).stack().astype(int).tolist() == \
        plain.table.where(~bad).stack().astype(int).tolist()
    clean = check_table(la, "worklessness", "health", suppress=True)
    assert clean.status == "pass" and clean.suppressed == ()


def test_row_order_does_not_matter(la: pd.DataFrame) -> None:
    a = check_table(la, "intervention_status", "family_size", values="income", aggfunc="sum")
    shuffled = la.sample(frac=1.0, random_state=3)
    b = check_table(shuffled, "intervention_status", "family_size", values="income",
                    aggfunc="sum")
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.outcome, b.outcome)
    assert a.reasons == b.reasons


# --------------------------------------------------------------------------- errors


def test_bad_input_is_named(la: pd.DataFrame) -> None:
    with pytest.raises(OutputCheckError, match=r"no column 'famly_size' in the data \(columns: "):
        check_table(la, "intervention_status", "famly_size")
    with pytest.raises(OutputCheckError, match="aggfunc 'max' is not checked.*one record's value"):
        check_table(la, "eligible", values="income", aggfunc="max")
    with pytest.raises(OutputCheckError, match="needs a values column"):
        check_table(la, "eligible", aggfunc="mean")
    with pytest.raises(OutputCheckError, match="used twice"):
        check_table(la, "eligible", "eligible")
    with pytest.raises(OutputCheckError, match="both a grouping column and the values"):
        check_table(la, "eligible", values="eligible", aggfunc="sum")
    with pytest.raises(OutputCheckError, match="no records"):
        check_table(la.iloc[:0], "eligible")
    with pytest.raises(OutputCheckError, match="must be a pandas DataFrame"):
        check_table(la.to_dict(), "eligible")  # type: ignore[arg-type]
    bad = la[["eligible"]].assign(income=la["income"].astype(object))
    bad.loc[bad.index[7], "income"] = "12k"
    with pytest.raises(OutputCheckError, match=r"'income' is not numeric: row 7 \(position 7\)"):
        check_table(bad, "eligible", values="income", aggfunc="sum")
    mixed = pd.DataFrame({"g": ["a", 1, "b", 2]})
    with pytest.raises(OutputCheckError, match="'g' mixes kinds of values"):
        check_table(mixed, "g")
    wide = pd.DataFrame({"a": np.arange(2_000), "b": np.arange(2_000)})
    with pytest.raises(OutputCheckError, match="4,000,000 cells"):
        check_table(wide, "a", "b")


def test_rules_are_validated() -> None:
    assert DEFAULT_RULES.as_dict() == {"threshold": 10, "dof_threshold": 10, "nk_n": 2,
                                       "nk_k": 0.9, "p_percent": 0.1,
                                       "zeros_are_disclosive": True,
                                       "check_missing_values": True}
    for bad in ({"threshold": 0}, {"nk_n": 1.5}, {"nk_k": 0.0}, {"nk_k": 1.2},
                {"p_percent": -0.1}, {"check_missing_values": "yes"}, {"threshold": True}):
        with pytest.raises(OutputCheckError, match="DisclosureRules"):
            DisclosureRules(**bad)
    acro = DisclosureRules.from_acro({"safe_threshold": 10, "safe_dof_threshold": 10,
                                      "safe_nk_n": 2, "safe_nk_k": 0.9,
                                      "safe_pratio_p": 0.1, "check_missing_values": False,
                                      "survival_safe_threshold": 10,
                                      "zeros_are_disclosive": True, "safe_round_base": 5})
    assert acro == DisclosureRules(check_missing_values=False)


# ----------------------------------------------------------------------- regressions


def test_regression_degrees_of_freedom(la: pd.DataFrame) -> None:
    # a least-squares fit on real columns: income on family size and two flags
    for n in (13, 14, 200):
        sub = la.iloc[:n]
        x = np.column_stack([np.ones(n), sub["family_size"], sub["health"].astype(float),
                             sub["domestic_abuse"].astype(float)])
        _, _, rank, _ = np.linalg.lstsq(x, sub["income"].to_numpy(), rcond=None)
        res = check_regression(n_obs=n, n_params=int(rank))
        assert res.dof == n - rank
        assert res.status == ("fail" if n - rank < 10 else "pass")
    assert check_regression(n_obs=14, n_params=4).status == "pass"     # dof 10 is safe
    fail = check_regression(n_obs=13, n_params=4)
    assert fail.status == "fail" and "9" in fail.reasons[0] and "< 10" in fail.reasons[0]
    assert check_regression(n_obs=13, n_params=4,
                            rules=DisclosureRules(dof_threshold=5)).status == "pass"


def test_regression_from_a_model_object() -> None:
    class Fitted:        # anything with statsmodels' df_resid attribute
        df_resid = 8.0
    assert check_regression(Fitted()).dof == 8
    with pytest.raises(OutputCheckError, match="has no df_resid"):
        check_regression(object())
    with pytest.raises(OutputCheckError, match="not both"):
        check_regression(Fitted(), n_obs=3, n_params=1)
    with pytest.raises(OutputCheckError, match="n_params is needed"):
        check_regression(n_obs=30)
    with pytest.raises(OutputCheckError, match="n_obs must be a whole number"):
        check_regression(n_obs=-1, n_params=2)


def test_regression_with_statsmodels(la: pd.DataFrame) -> None:
    sm = pytest.importorskip("statsmodels.api")   # optional: nislink does not need it
    sub = la.iloc[:13]
    x = sm.add_constant(sub[["family_size"]].astype(float).assign(
        health=sub["health"].astype(float), abuse=sub["domestic_abuse"].astype(float)))
    fitted = sm.OLS(sub["income"].to_numpy(), x).fit()
    res = check_regression(fitted)
    assert res.dof == int(fitted.df_resid) == 13 - np.linalg.matrix_rank(x.to_numpy())
    assert res.status == "fail"


# ------------------------------------------------------------------------------- CLI


def test_check_output_command(la: pd.DataFrame, tmp_path, capsys) -> None:  # type: ignore
    from nislink.cli import main

    data = tmp_path / "research.csv"
    la[["intervention_status", "family_size", "worklessness", "health", "income"]].to_csv(
        data, index=False)
    assert main(["check-output", str(data), "--index", "worklessness", "--columns",
                 "health"]) == 0
    assert "count by worklessness x health: PASS" in capsys.readouterr().out
    out = tmp_path / "table.csv"
    assert main(["check-output", str(data), "--index", "intervention_status", "--columns",
                 "family_size", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "fails the checks and was not written" in err and not out.exists()
    assert main(["check-output", str(data), "--index", "intervention_status", "--columns",
                 "family_size", "--suppress", "-o", str(out)]) == 1
    written = pd.read_csv(out)
    # family sizes read back from CSV text are numbers: 2..7 in order, not "10" before "2"
    assert list(written.columns) == ["intervention_status"] + [str(k) for k in range(2, 8)]
    expected = check_table(la, "intervention_status", "family_size", suppress=True).table
    assert written.set_index("intervention_status").isna().to_numpy().tolist() == \
        expected.isna().to_numpy().tolist()
    assert main(["check-output", str(data), "--index", "intervention_status", "--columns",
                 "family_size", "--values", "income", "--aggfunc", "mean"]) == 1
    assert "mean of income by intervention_status x family_size: FAIL" in \
        capsys.readouterr().out
    assert main(["check-output", str(data), "--index", "status"]) == 2
    assert "no column 'status' in the data" in capsys.readouterr().err
    assert main(["check-output", str(tmp_path / "none.csv"), "--index", "a"]) == 2
    assert "input file not found" in capsys.readouterr().err

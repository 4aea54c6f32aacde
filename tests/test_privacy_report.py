"""privacy_report and the privacy-report command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nislink.encode.encoder import Encoder
from nislink.privacy import PublicKnowledge, normalise_values, privacy_report, privacy_report_main
from nislink.privacy import report as report_mod
from nislink.privacy.report import filter_profile, token_profile
from nislink.encode.frame import BitMatrix
from nislink.schema import ClkSpec, FieldSpec, Hardening, Schema
from nislink.secrets import Secret
from nislink.synth import generate_population

SECRET_BYTES = bytes(range(7, 39))
SECRET = Secret.from_bytes(SECRET_BYTES)


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return generate_population(8_000, 11).people


@pytest.fixture(scope="module")
def public() -> PublicKnowledge:
    return PublicKnowledge.from_synth_tables(20_000)


def _schema(hardened: bool) -> Schema:
    """The default schema, or the same fields unhardened with unsalted name tokens and a
    CLK over names, date of birth and postcode."""
    return Schema.uk_default() if hardened else Schema.uk_unhardened()


def _encode(people: pd.DataFrame, hardened: bool):
    cols = ["person_id", "forename", "surname", "dob", "sex", "postcode", "nino", "upn"]
    return Encoder(_schema(hardened), SECRET).encode(people[cols], id_column="person_id",
                                                     party="la")


@pytest.fixture(scope="module")
def weak(people):
    return _encode(people, hardened=False)


def test_report_flags_weak_encoding(weak, public, people):
    truth = {f: normalise_values(people.set_index("person_id").loc[pd.Series(weak.ids), f]
                                 .to_numpy(object), f) for f in ("forename", "surname")}
    rep = privacy_report(weak, public, truth=truth)
    assert rep.at_risk
    assert "AT RISK" in rep.verdict
    assert set(rep.filters) >= {"forename", "surname", "dob", "postcode", "clk"}
    assert rep.filters["forename"]["exposed_share"] > 0.9  # common names: shared filters
    assert rep.tokens["nino"]["unique_values"] == rep.tokens["nino"]["present"]
    measured = {(a["attack"], a["target"]): a for a in rep.attacks}
    qi = measured[("q-gram inference", "forename filter")]
    assert qi["records_share"] > 0.3
    text = rep.to_text()
    assert "Verdict: AT RISK" in text and "forename filter" in text
    d = json.loads(rep.to_json())
    assert d["at_risk"] is True and d["filters"]["clk"]["bits"] == 1024


@pytest.fixture(scope="module")
def est_report(weak, public):
    return privacy_report(weak, public)


def test_estimated_success_without_truth(est_report):
    rep = est_report
    est = {(a["attack"], a["target"]): a for a in rep.attacks}
    qi = est[("q-gram inference", "forename filter")]
    assert "records_share" not in qi
    assert qi["estimated_records_share"] > 0.3
    assert rep.at_risk


def test_report_on_hardened_encoding(people, public):
    enc = _encode(people, hardened=True)
    truth = {f: normalise_values(people.set_index("person_id").loc[pd.Series(enc.ids), f]
                                 .to_numpy(object), f) for f in ("forename", "surname")}
    rep = privacy_report(enc, public, truth=truth)
    for a in rep.attacks:
        if a["target"].endswith("filter"):
            assert a["distinct_share"] <= 0.01 and a["records_share"] <= 0.01, a
    pc = rep.filters["forename"]["popcount"]  # about 120 bits set whatever the length
    assert pc["std"] < 6 and pc["max"] <= 120, pc
    # the names' tokens are salted: nearly every value is unique
    for t in ("forename", "surname~postcode&dob_year"):
        tok = rep.tokens[t]
        assert tok["unique_values"] >= 0.95 * tok["present"], (t, tok)
    assert not rep.at_risk and rep.verdict.startswith("LOW RISK")
    assert "LOW RISK" in rep.to_text()


def test_profiles_only_without_public(weak):
    rep = privacy_report(weak)
    assert rep.attacks == []
    assert rep.verdict.startswith("profiles only")
    assert rep.at_risk  # forename filters and tokens shared by many records
    assert any("forename tokens" in n for n in rep.notes)


def test_report_never_contains_the_secret_or_raw_values(est_report, people):
    rep = est_report
    text = rep.to_text() + rep.to_json()
    assert SECRET_BYTES.hex() not in text
    assert people["forename"].iloc[0] not in text  # guesses are not written out


def test_token_profile_counts():
    tok = np.array([0, 5, 5, 5, 7, 8, 8, 9] + [11] * 12, dtype=np.uint64)
    p = token_profile(tok, k=3)
    assert p["present"] == 19 and p["distinct"] == 5
    assert p["unique_values"] == 2  # 7 and 9
    assert p["values_shared_by_fewer_than_3"] == 3  # 7, 9, 8
    assert p["largest_group"] == 12
    assert p["exposed_share"] == pytest.approx(12 / 19)


def test_filter_profile_balanced_popcount():
    dense = np.zeros((6, 16), dtype=bool)
    dense[:, :8] = np.array([[1, 0, 1, 0, 1, 0, 1, 0]] * 6, dtype=bool)
    dense[:, 8:] = ~dense[:, :8]
    p = filter_profile(BitMatrix.from_bool(dense))
    assert p["popcount"]["distinct"] == 1 and p["popcount"]["mean"] == 8
    assert p["distinct_filters"] == 1 and p["largest_group_share"] == 1.0
    assert p["bit_frequency"]["never_set"] == 8 and p["bit_frequency"]["always_set"] == 8


def test_cli_function(tmp_path, weak, monkeypatch, capsys):
    path = tmp_path / "la.parquet"
    weak.save(path)
    out = tmp_path / "report.json"
    pub = tmp_path / "public.csv"
    generate_population(3000, 5).people[["forename", "surname", "dob"]].to_csv(pub, index=False)
    rc = privacy_report_main(str(path), str(out), public=str(pub))
    assert rc == 2  # at risk
    d = json.loads(out.read_text())
    assert d["meta"]["party"] == "la" and d["attacks"]
    assert "Verdict" in capsys.readouterr().out
    txt = tmp_path / "report.txt"
    assert privacy_report_main(str(path), str(txt), public=None) == 2
    assert txt.read_text().startswith("nislink privacy report")
    assert privacy_report_main(str(tmp_path / "missing.parquet"), None) == 1
    assert "cannot read" in capsys.readouterr().err


def test_report_samples_large_files(weak, public, monkeypatch):
    rep = privacy_report(weak, public, attack_rows=2000)
    fa = next(a for a in rep.attacks if a["attack"] == "frequency alignment")
    assert fa["records"] <= 2000
    assert report_mod.EXPOSED_GROUP == 10


def test_report_runs_the_campaign_and_names_what_it_tested(weak, public, people):
    truth = {f: normalise_values(people.set_index("person_id").loc[pd.Series(weak.ids), f]
                                 .to_numpy(object), f) for f in ("forename", "surname")}
    rep = privacy_report(weak, public, truth=truth)
    camp = {(a["attack"], a["target"]): a for a in rep.attacks
            if a["attack"].startswith("campaign:")}
    assert ("campaign: pattern mining", "full name") in camp
    # 8,000 people in one file: about 15-25% of forenames, depending on the key
    assert camp[("campaign: pattern mining", "forename")]["records_share"] > 0.1
    text = rep.to_text()
    assert "attacks tested:" in text and "campaign: cohort profile" in text
    assert f"rows={len(weak)}" in text and "public knowledge" in text


def test_empty_file_is_an_error_not_low_risk(weak, public, tmp_path, capsys):
    empty = weak.take(np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="no records"):
        privacy_report(empty, public)
    path = tmp_path / "empty.parquet"
    empty.save(path)
    assert privacy_report_main(str(path), None, public=None) == 1
    assert "no records" in capsys.readouterr().err

"""``clean`` then ``encode`` composes; no function shadows a module of its package."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nislink
from nislink import clean
from nislink.encode import Encoder
from nislink.frame import EncodedFrame
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

SECRET = Secret.from_bytes(bytes(range(32)))
KINDS = {"forename": "forename", "surname": "surname", "dob": "dob", "sex": "sex",
         "postcode": "postcode", "nino": "nino", "upn": "upn"}


def _messy_la() -> pd.DataFrame:
    la = generate_study(1500, seed=11).la.copy()
    # rows that cleaning rejects (nothing to link on) or only partly accepts
    la.loc[la.index[:3], ["forename", "surname", "dob", "nino", "upn"]] = None
    la.loc[la.index[3], "dob"] = "31/02/1990"
    la.loc[la.index[4], "postcode"] = "NOT A POSTCODE"
    la.loc[la.index[5], "dob"] = "01/01/1850"  # out of range
    return la


def _same_rows(raw: EncodedFrame, cleaned: EncodedFrame) -> None:
    pos = {i: k for k, i in enumerate(raw.ids.tolist())}
    sel = np.array([pos[i] for i in cleaned.ids.tolist()])
    assert set(raw.fields) == set(cleaned.fields) and set(raw.tokens) == set(cleaned.tokens)
    for f in raw.fields:
        assert np.array_equal(raw.fields[f].bits[sel], cleaned.fields[f].bits), f
        assert np.array_equal(raw.fields[f].present[sel], cleaned.fields[f].present), f
    for t in raw.tokens:
        assert np.array_equal(raw.tokens[t][sel], cleaned.tokens[t]), t
    if raw.clk is not None:
        assert np.array_equal(raw.clk.bits[sel], cleaned.clk.bits)


def test_a_cleaned_frame_encodes_bit_identically_to_the_raw_frame(tmp_path: Path) -> None:
    la = _messy_la()
    enc = Encoder(Schema.uk_default(), SECRET, workers=1)
    cols = {c: k for c, k in KINDS.items() if c in la.columns}
    cleaned, rejects = clean.frame(la, cols, id_column="la_id")
    assert len(rejects) == 3 and "forename_status" in cleaned.columns
    raw = enc.encode(la, id_column="la_id")
    again = enc.encode(cleaned, id_column="la_id")  # failed: "forename_status already exists"
    assert len(again) == len(cleaned) == len(raw)
    _same_rows(raw, again)
    # the first cleaning's reasons survive: the bad date is counted rejected, not missing
    assert again.summary.counts == raw.summary.counts
    assert raw.summary.counts["dob"]["rejected"] >= 1
    # the same after a CSV round trip (dates as text, statuses as text), as `nislink clean`
    # writes it
    path = tmp_path / "cleaned.csv"
    cleaned.to_csv(path, index=False)
    back = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    from_csv = enc.encode(back, id_column="la_id")
    _same_rows(raw, from_csv)
    assert from_csv.summary.counts == raw.summary.counts


def test_a_status_column_that_is_not_a_cleaning_status_is_named() -> None:
    la = generate_study(200, seed=2).la.copy()
    la["surname_status"] = "checked by hand"
    enc = Encoder(Schema.uk_default(), SECRET, workers=1)
    with pytest.raises(ValueError, match=r"'surname_status', row 0 .*not a cleaning status"):
        enc.encode(la, id_column="la_id")


def _shadowed() -> list[str]:
    """``package.name`` where a package's public attribute ``name`` (a function, class or
    value) has the name of one of the package's submodules, and so hides it."""
    bad = []
    pkgs = ["nislink"] + sorted(m.name for m in pkgutil.walk_packages(nislink.__path__,
                                                                         "nislink.") if m.ispkg)
    for p in pkgs:
        mod = importlib.import_module(p)
        subs = {s.name for s in pkgutil.iter_modules(mod.__path__)}
        public = set(getattr(mod, "__all__", ())) | {n for n in vars(mod)
                                                     if not n.startswith("_")}
        for name in sorted(public & subs):
            importlib.import_module(f"{p}.{name}")
            if not inspect.ismodule(getattr(mod, name)):
                bad.append(f"{p}.{name}")
    return bad


def test_no_public_function_shadows_a_submodule_of_its_package() -> None:
    assert _shadowed() == []
    # the function keeps its name and its module another
    assert inspect.isfunction(clean.frame) and clean.frame.__module__ == "nislink.clean.frames"
    assert inspect.isfunction(clean.sex) and clean.sex.__module__ == "nislink.clean.sex_codes"


def test_bulk_fast_paths_equal_the_reference_on_a_synthetic_study() -> None:
    """On messy synthetic extracts (recording errors of every kind), each bulk path of the
    cleaning and encoding stages gives what its value-by-value reference gives."""
    from nislink.clean import names
    from nislink.clean.frames import _name_results
    from nislink.encode import tokens

    study = generate_study(3000, seed=7)
    raw = pd.concat([study.extracts[s] for s in ("la", "dwp", "moj", "dfe")], ignore_index=True)
    schema = Schema.uk_default()
    for col in ("forename", "surname"):
        uniq = pd.unique(raw[col].to_numpy(dtype=object))
        fast = names.plain_names(list(uniq))  # most in bulk, some value by value
        assert 2 * sum(f is not None for f in fast) > len(uniq) and None in fast
        accepted, codes = _name_results(uniq)
        assert accepted == [names.name(v) for v in uniq], col
        assert codes == [list(clean.Status).index(names.check_name(v).status) for v in uniq]
        normalised = np.array(sorted({a for a in accepted if a}), dtype=object)
        for kind in ("soundex", "nysiis", "metaphone"):
            assert names.phonetic_codes(kind, list(uniq)) == [
                getattr(names, kind)(v) for v in uniq]
            assert list(tokens.component_values(col, kind, normalised)) == [
                tokens.component_value(col, kind, v) for v in normalised]
        assert list(tokens.slk581_parts(col, normalised)) == [
            tokens.slk581_part(col, v) for v in normalised]
        spec = schema.field(col)
        occ, msgs = tokens.token_occurrences(spec, normalised)
        assert list(zip(occ.tolist(), msgs.tolist())) == [
            (u, t) for u, v in enumerate(normalised) for t in tokens.value_tokens(spec, v)]
    cleaned, _ = clean.frame(raw, {"dob": "dob", "postcode": "postcode"})
    dates = np.array(sorted(set(cleaned["dob"].dropna().dt.strftime("%Y-%m-%d"))), dtype=object)
    for level in ("dm0", "dm1", "swap", "d3", "ym", "y"):
        assert list(tokens.date_level_values(dates, level)) == [
            tokens.date_level_value(v, level) for v in dates]
    assert list(tokens.slk581_parts("dob", dates)) == [tokens.slk581_part("dob", v)
                                                       for v in dates]
    pcs = np.array(sorted(set(cleaned["postcode"].dropna())), dtype=object)
    for part in ("sector", "district", "area"):
        assert list(tokens.component_values("postcode", part, pcs)) == [
            tokens.component_value("postcode", part, v) for v in pcs]

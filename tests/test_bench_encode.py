"""benchmarks/bench_encode.py: the name-hardening layouts it times beside the default."""

from __future__ import annotations

import sys

import pytest
from benchmark_module import load_benchmark

from nislink.schema import Schema

bench = load_benchmark("bench_encode")


def _views(schema: Schema) -> dict[str, list[str]]:
    return {f.name: list(f.hardening.views) for f in schema.fields if f.hardening.salt}


def test_no_digit_views_is_the_default_less_its_digit_views() -> None:
    default, lighter = bench.uk_schema("default"), bench.uk_schema("no_digit_views")
    assert default == Schema.uk_default()
    full, kept = _views(default), _views(lighter)
    assert set(full) == set(kept) == {"forename", "surname"}
    for name in full:
        digits = [v for v in full[name] if "_blank" in v]
        assert len(digits) == 6
        assert kept[name] == [v for v in full[name] if v not in digits]
    # everything else (fields, lengths, bits per name, tokens, match keys) is unchanged
    for f in lighter.fields:
        f.hardening.views = list(default.field(f.name).hardening.views)
    lighter.name = default.name
    assert lighter == default
    assert bench.uk_schema("unhardened") == Schema.uk_unhardened()
    with pytest.raises(SystemExit, match="unknown layout 'nodigit'"):
        bench.uk_schema("nodigit")


def test_layouts_timed_in_one_run(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", [
        "bench_encode.py", "--n", "200", "--no-peers", "--schemas", "febrl_blake_bpt",
        "--repeat", "1", "--uk-sizes", "400", "--uk-workers", "1",
        "--uk-layouts", "default,no_digit_views,unhardened"])
    bench.main()
    out = capsys.readouterr().out
    lines = {ln.split("]")[0].lstrip("["): ln for ln in out.splitlines() if ln.startswith("[")}
    assert "24 filters" in lines["uk_default"] and "target >= 200,000" in lines["uk_default"]
    assert "12 filters" in lines["no_digit_views"] and "x the default" in lines["no_digit_views"]
    assert "4 filters" in lines["unhardened"]
    monkeypatch.setattr(sys, "argv", ["bench_encode.py", "--uk-layouts", "default,nodigit"])
    with pytest.raises(SystemExit, match="nodigit"):
        bench.main()

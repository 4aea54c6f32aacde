"""The larger-than-memory benchmark runs end to end on a small size."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark_module import load_benchmark


def test_bench_stream_small_run_and_chart(tmp_path: Path) -> None:
    bs = load_benchmark("bench_stream")
    wd = tmp_path / "w"
    assert bs.main(["--people", "400", "--b-rows", "3000", "--chunk-rows", "700",
                    "--sample-rows", "1000", "--workdir", str(wd), "--check-in-memory"]) == 0
    r = json.loads((wd / "result.json").read_text())
    assert r["rows_b"] == 3000 and r["rows_a"] > 350
    assert r["identical_to_in_memory"] is True
    assert r["pairs_completeness"] >= 0.95 and r["f1_one_to_one"] >= 0.9
    assert r["candidates"] > r["links"] > 0
    # the chart from two results (the second size reuses the first's figures, scaled)
    import pandas as pd

    rows = [r, {**r, "rows_b": 30000}]
    out = tmp_path / "chart.png"
    bs.plot(pd.DataFrame(rows), str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

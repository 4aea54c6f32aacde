"""The HTML linkage report (issue 15): its sections, no identifiers in it, the same bytes
for the same run, and, in a real headless Chromium, that the page loads, its charts render
with a non-zero size and it logs no console error (the check is shown to catch one)."""

from __future__ import annotations

import html as _html
import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from nislink.encode import Encoder
from nislink.errors import NislinkError
from nislink.linkage import dedupe, link
from nislink.report import ReportError, linkage_report, svg_histogram
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

SECRET = Secret.from_bytes(bytes(range(32)))
SECTIONS = ("Summary", "Counts", "Blocking", "Model", "Weight distribution", "Threshold",
            "Privacy")
CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: What Chromium writes on stderr for a console message, an uncaught error or a refused load.
CONSOLE = re.compile(r":CONSOLE[:(]|Uncaught|Refused to|Content Security Policy", re.I)


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    study = generate_study(1500, seed=4)
    enc = Encoder(Schema.uk_default(), SECRET, workers=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        la = enc.encode(study.la, id_column="la_id", party="la")
        dwp = enc.encode(study.dwp, id_column="dwp_id", party="dwp")
    res = link(la, dwp, keep_scores=True)
    return study, la, dwp, res, linkage_report(res, la, dwp)


def test_report_has_every_section_and_is_deterministic(run) -> None:  # type: ignore[no-untyped-def]
    study, la, dwp, res, page = run
    for s in SECTIONS:
        assert f"<h2>{s}</h2>" in page
    assert page.count('<svg class="chart"') == 3  # m/u, weights, threshold curve
    assert "Suggested threshold" in page and "estimated precision" in page
    assert f"{len(res.pairs):,}" in page and f"{res.candidates:,}" in page
    for c in res.model.comparisons:  # the parameter table names every field
        assert f"<td class=\"l\">{c.name}</td>" in page
    # self-contained: nothing fetched, no script
    assert "http" not in page.replace('http-equiv="Content-Security-Policy"', "")
    assert "<script" not in page and "<link" not in page and " src=" not in page
    assert "default-src 'none'" in page
    # the same run gives the same bytes
    assert linkage_report(res, la, dwp) == page


def test_report_holds_no_identifier_and_no_record_id(run) -> None:  # type: ignore[no-untyped-def]
    study, la, dwp, res, page = run
    text = _html.unescape(page)
    values: set[str] = set()
    for df, idc in ((study.la, "la_id"), (study.dwp, "dwp_id")):
        values |= set(df[idc].astype(str))
        for col in ("forename", "surname", "dob", "postcode", "nino", "upn"):
            if col in df:
                values |= {v.strip() for v in df[col].dropna().astype(str) if len(v.strip()) >= 4}
    assert len(values) > 3000

    def found_in(t: str) -> list[str]:
        return sorted(v for v in values if v in t and
                      re.search(r"(?<![\w-])" + re.escape(v) + r"(?![\w-])", t))

    assert found_in(text) == [], found_in(text)[:20]
    # the check finds a value when there is one
    name = str(study.la["surname"].iloc[0])
    assert name in found_in(text.replace("</body>", f"<p>{name}</p></body>"))


def test_dedupe_report_and_bad_input(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    study, la, dwp, res, page = run
    dd = dedupe(la, keep_scores=True)
    out = tmp_path / "sub" / "dd.html"
    text = linkage_report(dd, la, path=out)
    assert out.read_text(encoding="utf-8") == text
    assert "<h1>De-duplication of la</h1>" in text and "Cluster sizes" in text
    assert issubclass(ReportError, NislinkError)
    with pytest.raises(ReportError, match="keep_scores=True"):
        linkage_report(link(la, dwp, model=res.model), la, dwp)
    with pytest.raises(ReportError, match="both frames"):
        linkage_report(res, la)
    with pytest.raises(ReportError, match="not the ones"):
        linkage_report(res, la.take(np.arange(10)), dwp)


# --------------------------------------------------------------------------- in Chromium
def _chromium() -> str:
    for name in CHROMIUM:
        exe = shutil.which(name)
        if exe:
            return exe
    pytest.fail("the report test needs headless Chromium: apt-get install -y chromium "
                "(.ci/run installs it when missing)")


def _load(path: Path, tmp: Path) -> tuple[str, list[str]]:
    """The DOM after loading ``path`` in headless Chromium, and its console lines."""
    cmd = [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
           "--no-default-browser-check", f"--user-data-dir={tmp / 'profile'}",
           "--enable-logging=stderr", "--v=0", "--dump-dom", path.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout, [ln for ln in out.stderr.splitlines() if CONSOLE.search(ln)]


PROBE = """<script>(function () {
  var charts = [];
  document.querySelectorAll("svg.chart").forEach(function (s) {
    var r = s.getBoundingClientRect(), drawn = 0;
    s.querySelectorAll("rect.bar, polyline.series").forEach(function (e) {
      var b = e.getBBox();
      if (b.width > 0 && (b.height > 0 || e.tagName === "polyline")) { drawn += 1; }
    });
    charts.push({w: r.width, h: r.height, drawn: drawn});
  });
  var images = Array.prototype.map.call(document.images, function (i) { return i.naturalWidth; });
  document.body.setAttribute("data-probe", JSON.stringify({charts: charts, images: images,
    sections: document.querySelectorAll("section > h2").length}));
})();</script>"""


def _probed(page: str) -> str:
    """A copy of the page with a script that measures the rendered charts (the page's own
    policy forbids scripts; the copy allows inline ones)."""
    return (page.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
            .replace("</body>", PROBE + "</body>"))


def test_report_renders_in_headless_chromium(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    *_, page = run
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    dom, console = _load(report, tmp_path)
    assert console == []
    for s in SECTIONS:
        assert f"<h2>{s}</h2>" in dom
    assert dom.count("<svg") == 3 and "<polyline" in dom
    probe = tmp_path / "probe.html"
    probe.write_text(_probed(page), encoding="utf-8")
    dom, console = _load(probe, tmp_path)
    assert console == []
    m = re.search(r'data-probe="([^"]*)"', dom)
    assert m, "the probe did not run"
    got = json.loads(_html.unescape(m.group(1)))
    assert got["sections"] == len(SECTIONS)
    assert len(got["charts"]) == 3
    for c in got["charts"]:
        assert c["w"] >= 300 and c["h"] >= 150 and c["drawn"] >= 3, got
    assert all(w > 0 for w in got["images"])


def test_the_browser_check_sees_console_errors_and_blank_charts(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    *_, page = run
    # an external image: the page's policy refuses it, and Chromium says so on the console
    bad = tmp_path / "bad.html"
    bad.write_text(page.replace("</body>", '<img src="https://example.invalid/x.png"></body>'),
                   encoding="utf-8")
    _, console = _load(bad, tmp_path)
    assert console, "a refused load must show as a console error"
    # a chart with no marks is counted as not drawn
    empty = svg_histogram(np.array([]), title="empty")
    blank = tmp_path / "blank.html"
    blank.write_text(_probed(f"<!DOCTYPE html><html><head></head><body>{empty}</body></html>"),
                     encoding="utf-8")
    dom, _ = _load(blank, tmp_path)
    got = json.loads(_html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))  # type: ignore[union-attr]
    assert got["charts"][0]["drawn"] == 0

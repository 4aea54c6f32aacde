"""The documentation site, with the API reference generated from the docstrings, builds with
every warning an error (``mkdocs build --strict``): a docstring that griffe cannot parse, a
broken link or a page missing from the nav fails the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _build(cfg: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(cfg), "-d", str(site)],
        cwd=cfg.parent, capture_output=True, text=True, timeout=600)


def test_site_and_api_reference_build_strict(tmp_path: Path) -> None:
    r = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert r.returncode == 0, r.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    # the reference holds the public entry points, from their docstrings
    for anchor in ("nislink.linkage.link", "nislink.linkage.dedupe", "nislink.schema.Schema",
                   "nislink.model.FellegiSunter", "nislink.errors.NislinkError",
                   "nislink.io.check_compatible", "nislink.encode.encoder.Encoder"):
        assert f'id="{anchor}"' in api, anchor


def test_strict_build_fails_on_a_broken_reference(tmp_path: Path) -> None:
    """The check can fail: a page naming a module that does not exist breaks the build."""
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copytree(ROOT / "docs", work / "docs")
    shutil.copytree(ROOT / "nislink", work / "nislink",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (work / "docs" / "api.md").write_text("# API\n\n::: nislink.no_such_module\n",
                                          encoding="utf-8")
    shutil.copy(ROOT / "mkdocs.yml", work / "mkdocs.yml")
    r = _build(work / "mkdocs.yml", tmp_path / "site")
    assert r.returncode != 0
    assert "no_such_module" in (r.stderr + r.stdout)

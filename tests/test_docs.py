"""Every snippet in the docs runs in the tests.

Each ```python fenced block in docs/*.md and README.md is one test, run as pasted: in a
fresh namespace, in an empty temporary working directory, with no NISLINK_* variables in
the environment (a block that reads the secret from the environment with
``Secret.from_env`` gets a freshly generated one in NISLINK_SECRET, as the prose tells the
reader to export). A block written as an interactive session (``>>>`` prompts) is run as a
doctest, so its printed results are checked too.

A block that cannot run in CI may opt out with a comment in the block itself,
``# doc-test: skip (the reason)``; the reason is required and the opt-outs are counted.
"""

from __future__ import annotations

import doctest
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]

LANGS = r"(?:python|python3|py|pycon)"
FENCE = re.compile(rf"^(?P<indent>[ \t]*)```{LANGS}\b[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.S | re.M)
OPENING = re.compile(rf"^[ \t]*```{LANGS}\b", re.M)
SKIP = re.compile(r"#\s*doc-test:\s*skip\b(?P<rest>.*)$", re.M)
SKIP_REASON = re.compile(r"^\s*\((?P<reason>[^)]*\S[^)]*)\)")

# The most blocks that may opt out; raise it only with a stated reason in the block.
MAX_OPT_OUTS = 0
# Blocks that take more than about a minute (deselected with -m 'not slow'): Spark local
# mode starts a JVM and Python workers (about 80 s on 2 cores).
SLOW = {"spark.md-0"}
SLOW_AFTER = 60.0


@dataclass(frozen=True)
class Block:
    path: str       # the Markdown file
    doc: str        # its name, e.g. "encoding.md"
    index: int      # position among the file's python blocks
    line: int       # line of the opening fence
    code: str

    @property
    def id(self) -> str:
        return f"{self.doc}-{self.index}"

    @property
    def skip_reason(self) -> str | None:
        """None: runs. "": a skip marker without a reason. Otherwise the stated reason."""
        m = SKIP.search(self.code)
        if m is None:
            return None
        r = SKIP_REASON.match(m.group("rest"))
        return r.group("reason").strip() if r else ""


def _dedent(body: str, indent: str) -> str:
    return "".join(ln[len(indent):] if ln.startswith(indent) else ln.lstrip()
                   for ln in body.splitlines(keepends=True))


def collect() -> list[Block]:
    blocks = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for i, m in enumerate(FENCE.finditer(text)):
            blocks.append(Block(str(path), path.name, i, text.count("\n", 0, m.start()) + 1,
                                _dedent(m.group("body"), m.group("indent"))))
    return blocks


BLOCKS = collect()


def _param(b: Block):  # type: ignore[no-untyped-def]
    marks = [pytest.mark.slow] if b.id in SLOW else []
    return pytest.param(b, id=b.id, marks=marks)


def test_blocks_found() -> None:
    assert len(BLOCKS) >= 10, [b.id for b in BLOCKS]
    for path in DOC_FILES:   # every opening fence is collected: none hides in a bad fence
        opened = len(OPENING.findall(path.read_text(encoding="utf-8")))
        assert opened == sum(b.doc == path.name for b in BLOCKS), path.name
    assert SLOW <= {b.id for b in BLOCKS}, "SLOW names a block that does not exist"


def test_opt_outs_are_few_and_give_a_reason() -> None:
    no_reason = [b.id for b in BLOCKS if b.skip_reason == ""]
    assert not no_reason, f"'# doc-test: skip' without a '(reason)' in {no_reason}"
    opted_out = {b.id: b.skip_reason for b in BLOCKS if b.skip_reason}
    assert len(opted_out) <= MAX_OPT_OUTS, f"{len(opted_out)} blocks opt out: {opted_out}"


def _clean_env(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    for name in list(os.environ):
        if name.startswith("NISLINK_") and name != "NISLINK_NO_NUMBA":
            monkeypatch.delenv(name)
    if "from_env(" in code:
        from nislink.secrets import Secret

        monkeypatch.setenv("NISLINK_SECRET", Secret.generate().export_hex())


def _run_doctest(b: Block) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(b.code, {"__name__": "__doc_snippet__"}, b.id, b.path, b.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    out: list[str] = []
    result = runner.run(test, out=out.append)
    assert result.failed == 0, "".join(out)


def _stop_spark() -> None:
    """Stop a Spark session a block started, so that no later test inherits it."""
    sql = sys.modules.get("pyspark.sql")
    if sql is not None:
        active = sql.SparkSession.getActiveSession()
        if active is not None:
            active.stop()


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_doc_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.skip_reason is not None:
        pytest.skip(f"{block.id}: {block.skip_reason or 'no reason given'}")
    monkeypatch.chdir(tmp_path)
    _clean_env(monkeypatch, block.code)
    t0 = time.perf_counter()
    try:
        if block.code.lstrip().startswith(">>>"):
            _run_doctest(block)
        else:
            # padded so that a traceback names the doc's own file and line numbers
            code = compile("\n" * block.line + block.code, block.path, "exec")
            exec(code, {"__name__": "__doc_snippet__"})
    finally:
        _stop_spark()
    took = time.perf_counter() - t0
    if took > SLOW_AFTER and block.id not in SLOW:
        warnings.warn(f"{block.id} took {took:.0f} s: add it to SLOW", stacklevel=1)

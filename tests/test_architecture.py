"""The package's structure, as docs/architecture.md draws it, checked on the code.

* the linkage unit's side (block, compare, model, resolve, linkage, evaluate, and the
  shared io/frame) loads none of the data owners' code (encoder, secrets, cleaning), when
  imported and when it links real encoded files;
* the import graph (read from the source with ``ast``: what runs when a module is
  imported) has no cycle, and each room imports only the foundations and earlier rooms:
  clean -> encode -> block -> compare -> model -> resolve -> evaluate -> linkage -> review,
  with the applications (privacy, synth, nis, spark, cli, demo) on top;
* imports inside functions are the few listed here, each with its reason;
* no private name (``_x``) and no private module crosses a module boundary.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from nislink.encode import Encoder
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

ROOT = Path(__file__).resolve().parents[1]

#: The linkage unit's modules and the foundations it shares with the data owners.
LINKAGE_SIDE = ("nislink.frame", "nislink.errors", "nislink.io", "nislink.block",
                "nislink.compare", "nislink.model", "nislink.resolve", "nislink.linkage",
                "nislink.streaming", "nislink.evaluate", "nislink.review")
#: Modules (and packages) that only data owners need: they hold or use identifiers and keys.
OWNER_SIDE = ("nislink.encode", "nislink.secrets", "nislink.clean")


def _loaded_after(code: str) -> list[str]:
    """The nislink modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = code + "\nimport sys, json\nprint(json.dumps(sorted(m for m in sys.modules " \
        "if m == 'nislink' or m.startswith('nislink.'))))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _owner_modules(loaded: list[str]) -> list[str]:
    return [m for m in loaded if any(m == o or m.startswith(o + ".") for o in OWNER_SIDE)]


def test_importing_the_linkage_side_loads_no_owner_code() -> None:
    # all of them in one interpreter: if together they load no owner code, none does
    loaded = _loaded_after("import " + ", ".join(LINKAGE_SIDE))
    assert set(LINKAGE_SIDE) <= set(loaded)
    assert _owner_modules(loaded) == []
    # the check itself sees owner code when it is loaded
    assert "nislink.secrets" in _owner_modules(_loaded_after("import nislink.encode.frame"))


def test_linking_files_loads_no_owner_code(tmp_path: Path) -> None:
    study = generate_study(300, seed=5)
    enc = Encoder(Schema.uk_default(), Secret.from_bytes(bytes(range(32))), workers=1)
    enc.encode(study.la, id_column="la_id", party="la").save(tmp_path / "la.parquet")
    enc.encode(study.dwp, id_column="dwp_id", party="dwp").save(tmp_path / "dwp.parquet")
    code = f"""
import nislink.io, nislink.linkage, nislink.evaluate
la = nislink.io.load({str(tmp_path / "la.parquet")!r})
dwp = nislink.io.load({str(tmp_path / "dwp.parquet")!r})
res = nislink.linkage.link(la, dwp)
assert len(res.pairs) > 50, len(res.pairs)
res.model.explain(la, dwp, int(res.pairs["ia"].iloc[0]), int(res.pairs["ib"].iloc[0]))
nislink.linkage.dedupe(la)
nislink.evaluate.evaluate_pairs(res.pairs, res.pairs)
"""
    loaded = _loaded_after(code)
    assert {"nislink.linkage", "nislink.block", "nislink.model"} <= set(loaded)
    assert _owner_modules(loaded) == []


# --------------------------------------------------------------------------------------------
# the import graph, from the source (ast): top-level imports only, TYPE_CHECKING aside
# --------------------------------------------------------------------------------------------
PACKAGE = ROOT / "nislink"

#: The rooms, in order. Foundations are shared by both sides; each pipeline stage may import
#: the foundations and the stages before it; the applications on top may import anything.
FOUNDATIONS = ("nislink", "nislink.errors", "nislink.frame", "nislink.schema",
               "nislink.layout", "nislink.io", "nislink._files", "nislink.data")
STAGES = (
    ("clean", ("nislink.clean",)),
    ("encode", ("nislink.encode", "nislink.secrets")),
    ("block", ("nislink.block",)),
    ("compare", ("nislink.compare",)),
    ("model", ("nislink.model",)),
    ("resolve", ("nislink.resolve",)),
    ("evaluate", ("nislink.evaluate",)),
    ("linkage", ("nislink.linkage", "nislink.streaming")),
    ("review", ("nislink.review",)),
)
OWNER_STAGES = ("clean", "encode")
APPLICATIONS = ("nislink.privacy", "nislink.synth", "nislink.nis", "nislink.spark",
                "nislink.cli", "nislink.demo", "nislink.report")

#: Imports of nislink modules inside a function, each with the reason it cannot be at the
#: top of the module. Anything else belongs at the top.
DEFERRED = {
    ("nislink.frame", "nislink.io"):
        "EncodedFrame.save / check_compatible call the file format, which imports the frame",
    ("nislink.schema", "nislink.encode.clkhash.schema"):
        "Schema.from_clkhash parses with the clkhash room (encode), which builds on the schema",
    ("nislink.encode.bloom", "nislink.encode.blake3_batch"):
        "the compiled BLAKE3 batch (numba) is loaded only for large batches",
    ("nislink.block", "nislink.evaluate"):
        "the blocking metrics' former names, nislink.block.pairs_completeness and "
        "reduction_ratio, resolve to their one definition in the later evaluate stage",
}
#: The command line imports each command's stages when the command runs, so that
#: ``nislink --help`` and ``--version`` start without loading numba and scipy.
DEFERRED_ANYWHERE_IN = ("nislink.cli",)
#: Third-party modules that may be imported inside functions: optional extras, or heavy
#: modules needed by one rarely used path.
LAZY_THIRD_PARTY = ("pyspark", "matplotlib")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, tuple[Path, bool]]:
    return {_module_name(p): (p, p.name == "__init__.py") for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING"))


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run when the module is imported (into if/try/with blocks, not functions,
    classes or ``if TYPE_CHECKING``)."""
    out: list[ast.stmt] = []
    for node in body:
        if _is_type_checking(node):
            continue
        out.append(node)
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and not isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.extend(_top_level([n for n in inner if isinstance(n, ast.stmt)]
                                      + [s for h in inner if isinstance(h, ast.excepthandler)
                                         for s in h.body]))
    return out


def _typing_only(tree: ast.Module) -> set[int]:
    """Ids of the nodes inside ``if TYPE_CHECKING:`` blocks (never run)."""
    return {id(n) for block in ast.walk(tree) if _is_type_checking(block)
            for n in ast.walk(block)}


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_pkg: bool,
             known: dict[str, tuple[Path, bool]]) -> list[tuple[str, str | None]]:
    """(imported module, imported name or None) pairs of one import statement."""
    if isinstance(node, ast.Import):
        return [(a.name, None) for a in node.names]
    base = node.module or ""
    if node.level:
        pkg = module.split(".") if is_pkg else module.split(".")[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([base] if base else []))
    out: list[tuple[str, str | None]] = []
    for a in node.names:
        full = f"{base}.{a.name}"
        out.append((full, None) if full in known else (base, a.name))
    return out


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(deferred: bool) -> dict[str, set[str]]:
    """Module -> nislink modules it imports at import time (``deferred=False``) or inside
    functions (``deferred=True``). Importing ``a.b.c`` also runs the packages ``a.b`` and
    ``a``: those count too, unless they contain the importer."""
    known = _sources()
    graph: dict[str, set[str]] = {}
    for module, (path, is_pkg) in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in _top_level(tree.body)}
        typing_only = _typing_only(tree)
        edges: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in typing_only:
                continue
            if (id(node) in top) == deferred:
                continue
            for target, _ in _targets(node, module, is_pkg, known):
                if target != "nislink" and not target.startswith("nislink."):
                    continue
                own = set(_ancestors(module)) | {module}
                edges.update(t for t in [target, *_ancestors(target)]
                             if t not in own and t != "nislink")
        graph[module] = edges
    return graph


def _room(module: str) -> tuple[str, int]:
    """(kind, rank) of a module: foundation 0, stages 1.., applications last."""
    def within(prefixes: tuple[str, ...]) -> bool:
        return any(module == p or module.startswith(p + ".") for p in prefixes)

    if module in FOUNDATIONS or (module != "nislink" and within(FOUNDATIONS[1:])):
        return "foundation", 0
    for rank, (stage, prefixes) in enumerate(STAGES, start=1):
        if within(prefixes):
            return stage, rank
    if within(APPLICATIONS):
        return "application", len(STAGES) + 1
    raise AssertionError(f"{module} is in no room: place it in tests/test_architecture.py "
                         "and docs/architecture.md")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_is_read_from_the_source() -> None:
    graph = _imports(deferred=False)
    assert "nislink.frame" in graph["nislink.io"]
    assert "nislink.model" in graph["nislink.linkage"]
    assert graph["nislink.frame"] == set()  # the contract imports no nislink module
    # a cycle and a back-arrow are found when there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert _cycles(_imports(deferred=False)) == []


def test_each_room_imports_only_earlier_rooms() -> None:
    bad = []
    for module, targets in _imports(deferred=False).items():
        kind, rank = _room(module)
        for target in sorted(targets):
            tkind, trank = _room(target)
            if kind == "application":
                continue  # on top: anything below, and other applications (no cycles)
            if trank > rank or (trank == rank and tkind != kind):
                bad.append(f"{module} ({kind}) imports {target} ({tkind})")
            elif kind not in OWNER_STAGES and kind != "foundation" and tkind in OWNER_STAGES:
                bad.append(f"{module} (linkage side) imports {target} (data owners' side)")
    assert bad == []


def _deferred_violations() -> list[str]:
    allowed = {m: {t} | set(_ancestors(t)) for m, t in DEFERRED}
    for m, t in DEFERRED:
        allowed[m] |= {t} | set(_ancestors(t))
    return [f"{module} imports {target} inside a function"
            for module, targets in sorted(_imports(deferred=True).items())
            if module not in DEFERRED_ANYWHERE_IN
            for target in sorted(targets) if target not in allowed.get(module, set())]


def test_imports_inside_functions_are_the_documented_few() -> None:
    assert _deferred_violations() == []
    # and every documented exception still exists (a stale entry is a wrong map)
    deferred = _imports(deferred=True)
    for module, target in DEFERRED:
        assert target in deferred.get(module, set()), (module, target)


def _third_party_violations() -> list[str]:
    bad = []
    for module, (path, _) in _sources().items():
        if module in DEFERRED_ANYWHERE_IN:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in _top_level(tree.body)} | _typing_only(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top \
                    and not (isinstance(node, ast.ImportFrom) and node.level):
                for name in ([a.name for a in node.names] if isinstance(node, ast.Import)
                             else [node.module or ""]):
                    root = name.split(".")[0]
                    if root != "nislink" and root not in LAZY_THIRD_PARTY:
                        bad.append(f"{module}:{node.lineno} imports {name} inside a function")
    return bad


def test_third_party_imports_inside_functions_are_optional_extras() -> None:
    assert _third_party_violations() == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_violations() -> list[str]:
    known = _sources()
    bad = []
    for module, (path, is_pkg) in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target, name in _targets(node, module, is_pkg, known):
                if not target.startswith("nislink"):
                    continue
                if name is not None and _private(name) and target != module:
                    bad.append(f"{module} imports {target}.{name}")
                # a private module is private to the package that holds it
                parts = target.split(".")
                for i, part in enumerate(parts):
                    owner = ".".join(parts[:i])
                    if _private(part) and not (module == owner or module.startswith(owner + ".")):
                        bad.append(f"{module} imports the private module {target}")
                        break
    return bad


def test_no_private_name_crosses_a_module_boundary() -> None:
    assert _private_violations() == []


def test_the_readme_map_names_every_room_of_the_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Map of the package"):]
    table = table[: table.index("\n\n", table.index("|---"))]
    listed = set(re.findall(r"`(nislink\.[a-z_]+)`", table))
    top = {m for m in _sources() if m.count(".") == 1 and not _private(m.split(".")[1])
           and m != "nislink.data"}
    assert listed == top
    for module in listed:  # and every one is in a room of this test's map
        _room(module)

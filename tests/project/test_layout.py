"""The layout is the architecture: subpackages by concern, no import circle, stores below the app.

The import graph is read from the source (every ``import`` and ``from ... import``, lazy ones
inside functions too, but not those under ``if TYPE_CHECKING:``, which never run), so a circle
made lazy still counts as a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

PACKAGES = ("rotator", "stores")
# What stores/ may use from the application: the value types, the ownership rule, the DER reader,
# the error tree and the file and process helpers (docs/architecture.md, "The layers").
STORES_MAY_IMPORT = (
    "rotator.certs",
    "rotator.der",
    "rotator.errors",
    "rotator.ownership",
    "rotator.records",
    "rotator.host.",
)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports at run time (packages resolved to their modules)."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                targets.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in modules else base)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return {t for t in targets if t in modules and t != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_and_relative_imports_but_not_type_checking_ones(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rotator.sync import engine\n"
        "def f():\n    from rotator.roots import catalog\n    import stores.pem\n"
    )
    modules = _modules()
    assert _imports(source, "rotator.sync.x", modules) == {"rotator.roots.catalog", "stores.pem"}


def test_no_import_circle_in_rotator_or_stores() -> None:
    assert _cycles(_graph()) == []


def test_stores_import_only_the_shared_layer_of_rotator() -> None:
    wrong = {
        f"{name} imports {target}"
        for name, targets in _graph().items()
        if name.startswith("stores")
        for target in targets
        if target.startswith("rotator") and not target.startswith(STORES_MAY_IMPORT)
    }
    assert wrong == set()


def test_the_top_of_rotator_holds_at_most_eight_modules_and_every_init_is_empty() -> None:
    top = sorted(p.name for p in (REPO / "rotator").glob("*.py"))
    assert len(top) <= 8, top
    for package in PACKAGES:
        for init in (REPO / package).rglob("__init__.py"):
            tree = ast.parse(init.read_text())
            imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
            assert imports == [], f"{init.relative_to(REPO)} imports; start-up pays for every package entered"


@pytest.mark.parametrize("store", ["stores.pem", "stores.pemdir", "stores.java", "stores.system", "stores.kinds"])
def test_a_store_kind_never_loads_the_catalog(store: str) -> None:
    """Importing a store kind (and building one) must not pull in the 360-line catalog."""
    code = (
        f"import sys, {store}\n"
        "import stores.keystore.dispatch, stores.keystore.pkcs12, stores.jdk_discovery, stores.subject_hash\n"
        "print(sorted(m for m in sys.modules if m.startswith('rotator.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    loaded = set(ast.literal_eval(out))
    assert "rotator.roots.catalog" not in loaded
    assert {m for m in loaded if not m.startswith(STORES_MAY_IMPORT)} <= {"rotator.host"}, loaded

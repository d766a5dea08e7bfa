"""The package structure holds: no import cycles, controllers import no other feature's
controller, and the low-level modules stay free of the web framework.

Read from the modules' import statements (every one, also those inside functions), not
from what happens to be imported at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "exam_service"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> Iterator[str]:
    """Every module `name` imports: its own package's and third parties'."""
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{name}: use absolute imports"
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield sub if sub in MODULES else node.module


def graph() -> dict[str, set[str]]:
    return {
        name: {other for other in imports_of(name) if other in MODULES and other != name}
        for name in MODULES
    }


def feature(name: str) -> str:
    """`exam_service.exams.start` -> `exams`; a top-level module is its own node."""
    return name.split(".")[1] if name.count(".") >= 1 else name


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_in_a_circle() -> None:
    assert cycles(graph()) == []


def test_no_cycle_between_packages() -> None:
    between: dict[str, set[str]] = {}
    for name, targets in graph().items():
        between.setdefault(feature(name), set()).update(
            feature(t) for t in targets if feature(t) != feature(name)
        )
    assert cycles(between) == []


def test_controllers_import_no_other_features_controllers() -> None:
    wrong = [
        (name, target)
        for name, targets in graph().items()
        if name.endswith(".controllers")
        for target in targets
        if target.endswith(".controllers") and feature(target) != feature(name)
    ]
    assert wrong == []


def test_low_level_modules_know_nothing_of_http() -> None:
    for name in ("exam_service.db", "exam_service.settings", "exam_service.models"):
        outside = {i.split(".")[0] for i in imports_of(name)}
        assert "litestar" not in outside, name
    assert "exam_service.db" not in set(imports_of("exam_service.settings"))


def test_the_check_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

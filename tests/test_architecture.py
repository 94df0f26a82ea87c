"""The layout is the architecture: which folder may import which, no cycles, a shallow graph.

Read from the source with ``ast`` (nothing is imported); ``docs/architecture.md`` states the
same rules for people. Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict

from tests.conftest import REPO

FOLDERS = ("pipeline", "features", "models")
# What each part may import besides itself (config is the parsed YAML, shared by all).
ALLOWED = {
    "features": set(),
    "models": {"features"},
    "pipeline.config": set(),
    "pipeline.plotting": set(),
    "pipeline.webpage": set(),
    "pipeline.book": {"features", "pipeline.config"},
    "pipeline.registry": {"models", "pipeline.config"},
    "pipeline.portfolio": {"features", "models", "pipeline.config", "pipeline.book"}
    | {"pipeline.plotting"},
    "pipeline.explain": {"features", "models", "pipeline.config", "pipeline.book"}
    | {"pipeline.registry", "pipeline.plotting"},
    "pipeline.train": {"features", "models", "pipeline.config", "pipeline.book"}
    | {"pipeline.registry", "pipeline.plotting", "pipeline.portfolio", "pipeline.explain"}
    | {"pipeline.webpage"},
    "pipeline.score": {"features", "models", "pipeline.config", "pipeline.registry"}
    | {"pipeline.plotting", "pipeline.portfolio", "pipeline.explain", "pipeline.book"},
    "pipeline.report": {"models", "pipeline.config", "pipeline.registry", "pipeline.score"}
    | {"pipeline.train", "pipeline.card", "pipeline.webpage"},
    "pipeline.monitor": {"pipeline.config", "pipeline.registry", "pipeline.score"}
    | {"pipeline.book", "pipeline.plotting", "pipeline.explain", "features", "pipeline.webpage"},
    "pipeline.decide": {"pipeline.config", "pipeline.book", "pipeline.portfolio"}
    | {"pipeline.monitor"},
    "pipeline.card": {"pipeline.config", "pipeline.registry", "pipeline.train"}
    | {"pipeline.portfolio", "pipeline.webpage"},
}
ALLOWED["pipeline.cli"] = set(ALLOWED)  # the command line wires every job
# The longest import chain: 8 modules before the regrouping, 6 after it.
MAX_DEPTH = 6


def _modules() -> dict[str, ast.Module]:
    found = {}
    for folder in FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            name = ".".join(("delinq", *path.relative_to(REPO).with_suffix("").parts))
            found[name.removesuffix(".__init__")] = ast.parse(path.read_text())
    return found


def _runtime_imports(tree: ast.Module) -> list[str]:
    """Modules named by the import statements that run (not those under TYPE_CHECKING)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    names = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = defaultdict(set)
    for name, tree in modules.items():
        graph[name] |= {m for m in _runtime_imports(tree) if m in modules and m != name}
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    if parts[1] != "pipeline" or len(parts) == 2:
        return parts[1]
    return f"pipeline.{parts[2]}"


def test_every_part_imports_only_what_it_may():
    wrong = sorted(
        f"{a} imports {b}"
        for a, targets in _graph().items()
        for b in targets
        if _part(b) != _part(a) and _part(b) not in ALLOWED[_part(a)]
    )
    assert wrong == []


def test_no_import_cycles():
    graph, state, cycles = _graph(), {}, []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_import_graph_is_shallow():
    graph = _graph()

    @functools.cache
    def depth(module: str) -> int:
        return 1 + max((depth(t) for t in graph[module]), default=0)

    deepest = max(graph, key=depth)
    assert depth(deepest) <= MAX_DEPTH, deepest


def test_one_module_owns_mlflow():
    owners = sorted(
        name
        for name, tree in _modules().items()
        if any(m.split(".")[0] == "mlflow" for m in _runtime_imports(tree))
    )
    assert owners == ["delinq.pipeline.registry.tracking"]


def test_every_package_folder_is_installed() -> None:
    """A wheel holds only the packages pyproject lists: a folder missing there imports from a
    checkout (editable install) but not from an installed copy."""
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {
        ".".join(("delinq", *init.parent.relative_to(REPO).parts))
        for folder in FOLDERS
        for init in (REPO / folder).rglob("__init__.py")
    }
    assert folders <= listed, f"add to [tool.setuptools] packages: {sorted(folders - listed)}"

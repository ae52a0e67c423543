"""The layout holds: no import cycle, the kit knows nothing of the domains, errors are classes
of their domain, the vocabulary is written once."""

import ast
import re
from pathlib import Path

from tests.support import ROOT

PACKAGE = ROOT / "src" / "product_partners"
DOMAINS = (
    "auth",
    "businesses",
    "products",
    "partnerships",
    "bundles",
    "stores",
    "domains",
    "events",
    "webhooks",
    "idempotency",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {
        _module_name(p): p
        for p in PACKAGE.rglob("*.py")
        if "migrations" not in p.parts and p.name != "__main__.py"
    }


def _imports_at_load(path: Path, modules: set[str]) -> set[str]:
    """Our modules ``path`` imports when it is loaded (imports inside functions are not)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = [f"{node.module}.{a.name}" for a in node.names]
            # ``from package import module`` needs the module; anything else, the package.
            names = [n for n in submodules if n in modules] or [node.module]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("product_partners"):
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    modules = set(sources)
    return {name: _imports_at_load(path, modules) - {name} for name, path in sources.items()}


def test_no_import_cycle():
    graph = _graph()
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, " -> ".join([*visiting[visiting.index(module) :], module])
        visiting.append(module)
        for dependency in sorted(graph.get(module, ())):
            # A package's __init__ importing nothing of ours is no edge back to its modules.
            if dependency != module.rpartition(".")[0] or graph.get(dependency):
                visit(dependency)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_the_kit_knows_nothing_of_the_domains():
    for module, imports in _graph().items():
        if module.startswith("product_partners.kit"):
            domains = {i for i in imports if i.split(".")[1] in DOMAINS}
            assert not domains, f"{module} imports {sorted(domains)}"


def test_errors_are_classes_of_their_domain():
    """No service builds an error from literals: each error is a class with its code."""
    for module, path in _sources().items():
        if module.endswith(".errors"):
            continue
        assert "error_code=" not in path.read_text(), f"{module} builds an error from literals"


def test_the_vocabulary_is_written_once():
    """Statuses and types are spelled as strings only in the vocabulary module (and in
    migrations, which are history)."""
    words = re.compile(r"""["'](pending|approved|rejected|banned|affiliate_pro|reseller)["']""")
    for module, path in _sources().items():
        if module == "product_partners.partnerships.enums":
            continue
        found = words.findall(path.read_text())
        assert not found, f"{module} spells {sorted(set(found))} itself"


def test_test_modules_import_only_the_support_package():
    """Tests share helpers through ``tests.support``, never through one another."""
    tests_root = ROOT / "tests"
    for path in tests_root.rglob("*.py"):
        if "support" in path.relative_to(tests_root).parts:
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests"):
                assert node.module.startswith("tests.support"), f"{path} imports {node.module}"

"""The package shows its architecture: every import under `revoke/` points down.

Each subpackage may import the shared vocabulary at the root of `revoke/`, itself, and the
subpackages below it in LAYERS; the root imports only the root. Part of the vocabulary is a
package of its own (VOCABULARY_PACKAGES): its modules count as the root. Nothing under `revoke/`
imports the simulator, the tests or the benchmark, which are not deployed. Imports made
only for type checking count too: a reader follows them the same way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "revoke"
# Highest first: a subpackage may import those after it, never those before it.
LAYERS = ("app", "campaigns", "sentinel", "containment", "policy", "intake", "graph", "audit")
NOT_DEPLOYED = ("graphsim", "tests", "bench")
# Shared vocabulary arranged as a package, like revoke/errors.py but split by concern: the root, not a layer.
VOCABULARY_PACKAGES = ("settings",)


def imported_modules(path: Path) -> list[str]:
    """Every module `path` imports, however deep in the file (functions, TYPE_CHECKING blocks)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{alias.name}" if node.module == "revoke" else node.module for alias in node.names]
    return found


def layer_of(module: str) -> str | None:
    """The subpackage of `revoke.<sub>...`, or None for a module at the root or in a vocabulary package."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in VOCABULARY_PACKAGES:
        return None
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None


def allowed(importer: str | None, imported: str | None) -> bool:
    if imported is None or importer == imported:
        return True
    if importer is None:
        return False
    return LAYERS.index(imported) > LAYERS.index(importer)


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE.parent)))
def test_every_import_points_down(path: Path) -> None:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    # `python -m revoke` is an entry point like the triggers.
    importer = "app" if relative.name == "__main__" else layer_of(".".join(relative.parts))
    wrong = [
        module
        for module in imported_modules(path)
        if module.split(".")[0] in NOT_DEPLOYED
        or (module.split(".")[0] == "revoke" and not allowed(importer, layer_of(module)))
    ]
    assert wrong == []


def test_every_subpackage_is_a_layer_and_says_what_lives_there() -> None:
    subpackages = {path.parent.name: path for path in PACKAGE.glob("*/__init__.py")}
    assert not set(VOCABULARY_PACKAGES) & set(LAYERS)
    assert set(subpackages) <= set(LAYERS) | set(VOCABULARY_PACKAGES)
    for path in subpackages.values():
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        assert docstring and "\n" not in docstring.strip()


@pytest.mark.parametrize(
    ("importer", "imported", "expected"),
    [
        (None, None, True),  # the root imports the root
        ("app", None, True),
        (None, "graph", False),  # the root never imports a subpackage
        ("graph", "audit", True),
        ("audit", "graph", False),
        ("containment", "sentinel", False),
        ("sentinel", "containment", True),
        # A module of the settings package is the root, whatever its name: it never imports a layer.
        (layer_of("revoke.settings.graph"), "graph", False),
        ("graph", layer_of("revoke.settings.names"), True),
    ],
)
def test_the_rule_itself(importer: str | None, imported: str | None, expected: bool) -> None:
    assert allowed(importer, imported) is expected


def test_a_module_that_imports_the_simulator_is_found(tmp_path: Path) -> None:
    module = tmp_path / "cli.py"
    module.write_text("def demo():\n    from graphsim.demo import run_demo\n")
    assert imported_modules(module) == ["graphsim.demo"]

"""The package's layers, held by reading the imports (docs/architecture.md draws them).

    public faces -> _cli -> _audit -> _replay -> _serving -> _engine -> core
                                                    \\-> contracts -> core
    _cli -> _observe -> _replay, _serving, contracts, core
    _trainers -> _engine, contracts;   _project -> core
    clients, sandbox -> core;   rewards/ -> the public API

A layer imports only layers to its right. A contract knows no engine and no
HTTP; the engine knows no HTTP and no platform; nothing internal imports a
public face; and no module outside `rewardkit/contracts/` (and the CLI and
deploy configuration) names a platform in its code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rewardkit"
REWARDS = PACKAGE.parent / "rewards"

FACES = {"__init__", "__main__", "testing", "pytest_plugin", "dashscope", "audit", "trl", "verl", "aws", "registry"}
CORE = {"parsers", "_sample", "_score", "_outcome", "_registry", "_options", "_errors", "_settings", "_loader", "_gold",
        "_plugins", "_public", "_text", "_retry", "media"}  # media: image size and decoding, and fetching
TOOLS = {"_audit", "_replay", "_project", "_trainers", "_observe"}
FOLDERS = {"_cli", "_serving", "_engine", "contracts", "clients", "sandbox"} | TOOLS

# Which layers each layer may import (besides itself).
ALLOWED = {
    "face": {"face", "_cli", "_serving", "_engine", "contracts", "clients", "sandbox", "core"} | TOOLS,
    "_cli": {"_serving", "_engine", "contracts", "clients", "sandbox", "core"} | TOOLS,
    "_audit": {"_replay", "_serving", "_engine", "contracts", "core"},  # an audit is a replay of probes
    "_replay": {"_serving", "_engine", "contracts", "core"},
    "_observe": {"_replay", "_serving", "contracts", "core"},  # records the server wrote, read back and drawn
    "_project": {"core"},  # scaffold, wheel and deploy configs run nothing
    "_trainers": {"_engine", "contracts", "core"},  # the engine in a trainer's process; no HTTP server
    "_serving": {"_engine", "contracts", "core"},
    "_engine": {"core"},
    "contracts": {"core"},
    "clients": {"core"},
    "sandbox": {"core"},
    "core": {"core"},
}
# Where a platform may be named in code: its contract, the CLI and the deploy configuration.
PLATFORM_NAMES = ("vertex", "dashscope", "openrlhf", "slime", "nova", "bedrock", "sagemaker")
MAY_NAME_PLATFORMS = {"contracts", "_cli", "face"}
DEPLOY_MODULES = {"rewardkit._project.deployment", "rewardkit._project.checks", "rewardkit._project.capacity"}


def layer(module: str) -> str:
    """The layer of a dotted module name inside rewardkit."""
    parts = module.split(".")[1:]
    if parts == ["__version__"]:  # a constant every layer may print
        return "core"
    if not parts or parts[0] in FACES:
        return "face"
    if parts[0] in FOLDERS:
        return parts[0]
    if parts[0] in CORE:
        return "core"
    raise AssertionError(f"rewardkit.{parts[0]} is in no layer: add it to FACES, CORE or FOLDERS in this test")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_statements(module: str, source: str, is_package: bool) -> list[tuple[int, str, str | None, bool]]:
    """(line, absolute module, imported name or None, whether it was `from <dots> import name`) of every import
    in a module's source, at any depth (lazy ones too)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str, str | None, bool]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None, False) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found += [(node.lineno, target, alias.name, node.module is None) for alias in node.names]
    return found


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of a rewardkit module, at any depth (lazy ones too)."""
    found = _import_statements(module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py")
    # `from . import x` imports module x
    targets = dict.fromkeys((line, f"{target}.{name}" if bare else target) for line, target, name, bare in found)
    return [(line, name) for line, name in targets if name == "rewardkit" or name.startswith("rewardkit.")]


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_one_way(path: Path) -> None:
    own = layer(module_name(path))
    wrong = [f"line {line}: {name} ({layer(name)})" for line, name in imports(path)
             if name != "rewardkit" and layer(name) != own and layer(name) not in ALLOWED[own]]
    if own != "face":
        wrong += [f"line {line}: {name} is a public face" for line, name in imports(path)
                  if name != "rewardkit" and layer(name) == "face" and not name.startswith("rewardkit.__")]
    assert not wrong, f"{module_name(path)} ({own}) imports across the layers: " + "; ".join(wrong)


def _code_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Identifiers and string constants, docstrings left out (they may cite a platform's documents)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            found.append((node.lineno, node.attr))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.lineno, node.name))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value))
    return found


@pytest.mark.parametrize("path", [p for p in MODULES if layer(module_name(p)) not in MAY_NAME_PLATFORMS
                                  and module_name(p) not in DEPLOY_MODULES],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_platform_is_named_outside_its_contract(path: Path) -> None:
    named = [f"line {line}: {text[:60]!r}" for line, text in _code_strings(ast.parse(path.read_text(encoding="utf-8")))
             if any(name in text.lower() for name in PLATFORM_NAMES)]
    assert not named, f"{module_name(path)} names a platform (move it into its contract module): " + "; ".join(named)


@pytest.mark.parametrize("path", sorted(REWARDS.rglob("*.py")), ids=lambda p: str(p.relative_to(REWARDS)))
def test_rewards_use_only_the_public_api(path: Path) -> None:
    private = [f"line {line}: {name}" for line, name in imports(path)
               if any(part.startswith("_") and not part.startswith("__") for part in name.split(".")[1:])]
    assert not private, f"rewards/{path.relative_to(REWARDS)} imports rewardkit internals: " + "; ".join(private)


# ---- rewards/: families import each other only through the names a family's package exports -------------------

FAMILIES = sorted(p.name for p in REWARDS.iterdir() if (p / "__init__.py").is_file() and p.name != "common")


def exports(family: str) -> set[str]:
    """The names in rewards/<family>/__init__.py's `__all__`, read without importing it."""
    for node in ast.parse((REWARDS / family / "__init__.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"rewards/{family}/__init__.py declares no __all__")


def family_violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """What a module of rewards/ imports of another family other than its package's exported names.

    Allowed: `from rewards.B import name` / `from ..B import name` with `name` in B's `__all__`, `import rewards.B`,
    and anything in rewards.common. Not: B's submodules (`..B.rewards`, `rewards.B._x`), names B does not export,
    and, from rewards.common, any family (common is below them)."""
    own = module.split(".")[1] if module.count(".") else None
    wrong = []
    for line, target, name, _ in _import_statements(module, source, is_package):
        parts = target.split(".")
        if parts[0] != "rewards":
            continue
        if len(parts) == 1 and name not in (*FAMILIES, "common", None):
            wrong.append(f"line {line}: from rewards import {name} (the top level imports the families)")
            continue
        if len(parts) == 1 and name is not None:  # `from .. import B`: package B
            parts, name = [*parts, name], None
        if len(parts) == 1:  # import rewards
            continue
        family = parts[1]
        if family == own or family == "common" and own is not None:
            continue
        if own == "common":
            wrong.append(f"line {line}: {target} (rewards.common is below the families)")
        elif len(parts) > 2:
            wrong.append(f"line {line}: {target} is inside {family}: import from rewards.{family}")
        elif name is not None and name not in exports(family):
            wrong.append(f"line {line}: {name} is not in rewards.{family}.__all__")
    return wrong


@pytest.mark.parametrize("path", sorted(REWARDS.rglob("*.py")), ids=lambda p: str(p.relative_to(REWARDS)))
def test_families_import_each_other_only_through_their_packages(path: Path) -> None:
    wrong = family_violations(module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py")
    assert not wrong, f"{module_name(path)} reaches into another family: " + "; ".join(wrong)


@pytest.mark.parametrize(("source", "found"), [
    ("from ..math._answers import extract_final_answer", "rewards.math._answers is inside math"),
    ("from rewards.json.rewards import read_json", "rewards.json.rewards is inside json"),
    ("from ..json import _MAX_SHOWN", "_MAX_SHOWN is not in rewards.json.__all__"),
    ("import rewards.code._extract", "rewards.code._extract is inside code"),
    ("from .. import math_accuracy", "from rewards import math_accuracy"),
])
def test_the_family_rule_catches_a_reach_inside(source: str, found: str) -> None:
    assert any(found in v for v in family_violations("rewards.judge.pointwise", source)), source
    assert not family_violations("rewards.judge.pointwise", "from ..json import read_json\nfrom .. import math\n"
                                 "from ..common.text import shorten\nfrom ._panel import Vote\nimport rewards.code")


def test_common_imports_no_family() -> None:
    assert family_violations("rewards.common.text", "from ..math import math_accuracy")


def test_the_module_map_lists_what_is_in_rewards() -> None:
    """docs/architecture.md's map of rewards/ names each of its entries, and nothing that is gone."""
    lines = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("rewards/ "))
    mapped = set()
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        if not line.startswith("   "):  # an entry; deeper lines continue the one above
            mapped.add(line.split()[0])
    present = {p.name + "/" if p.is_dir() else p.name for p in REWARDS.iterdir() if p.name != "__pycache__"}
    assert mapped == present

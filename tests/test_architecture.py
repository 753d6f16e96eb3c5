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

FACES = {"__init__", "__main__", "testing", "pytest_plugin", "dashscope", "audit", "trl", "verl", "aws"}
CORE = {"parsers", "_sample", "_score", "_outcome", "_registry", "_errors", "_settings", "_loader", "_gold", "_plugins"}
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


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of a rewardkit module, at any depth (lazy ones too)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from . import x` imports module x
            from_package = node.module is None or node.level and not node.module
            subs = [f"{target}.{a.name}" for a in node.names] if from_package else []
            found += [(node.lineno, t) for t in (subs or [target])]
    return [(line, name) for line, name in found if name == "rewardkit" or name.startswith("rewardkit.")]


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

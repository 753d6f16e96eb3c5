"""What `rewardkit deploy` learns from the project folder it ships: its Dockerfile's target, its name.

Checked before anything is printed or run, so a deploy never ships other
rewards than the project's, nor a target that cannot serve.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from .._errors import RewardkitError

_ENV_TARGET = "REWARDKIT_TARGET"


class ProjectCheckError(RewardkitError):
    """The folder to deploy cannot serve what was asked; the message says what is missing."""


def _instructions(dockerfile: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\s*\n", " ", dockerfile)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def dockerfile_target(dockerfile: str) -> str | None:
    """The last REWARDKIT_TARGET an ENV instruction sets (the final stage's, in a multi-stage build)."""
    found = None
    for instruction in _instructions(dockerfile):
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() != "ENV":
            continue
        words = shlex.split(rest)
        if len(words) >= 2 and "=" not in words[0]:  # the old `ENV KEY VALUE` form
            if words[0] == _ENV_TARGET:
                found = " ".join(words[1:])
            continue
        for word in words:
            key, sep, value = word.partition("=")
            if sep and key == _ENV_TARGET:
                found = value
    return found


def project_name(folder: Path) -> str:
    """The project's name: `[project] name` of its pyproject.toml, else the folder's name."""
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file() and sys.version_info >= (3, 11):
        import tomllib

        try:
            name = tomllib.loads(pyproject.read_text()).get("project", {}).get("name")
        except tomllib.TOMLDecodeError:
            name = None
        if isinstance(name, str) and name.strip():
            return name
    return folder.resolve().name


def service_name(folder: Path) -> str:
    """A valid Cloud Run service name from the project's name, as `rewardkit init` derives it."""
    from .scaffold import project_names

    return project_names(Path(project_name(folder))).service


def read_dockerfile(folder: Path) -> str:
    dockerfile = folder / "Dockerfile"
    if not dockerfile.is_file():
        raise ProjectCheckError(f"{folder.resolve()} has no Dockerfile: `gcloud run deploy --source` builds the "
                                "image from it. Run from the project folder (rewardkit init makes one), or pass "
                                "--source FOLDER")
    return dockerfile.read_text()


def check_rewards(folder: Path, target: str, rewards: list[str]) -> list[str]:
    """Import `target` as the image will (from `folder`) and check `rewards` exist; the registered names."""
    from .._loader import _is_path, describe_target, load_registry

    source = str(folder.resolve())
    inserted = source not in sys.path
    if inserted:
        sys.path.insert(0, source)
    try:
        registry = load_registry(str(folder / target) if _is_path(target) else target)
    except RewardkitError as exc:
        raise ProjectCheckError(f"the target {describe_target(target)} cannot serve: {exc}") from None
    finally:
        if inserted:
            sys.path.remove(source)
    unknown = [name for name in rewards if name not in registry]
    if unknown:
        raise ProjectCheckError(f"{describe_target(target)} has no reward {', '.join(map(repr, unknown))}; "
                                f"its rewards: {', '.join(registry.names())}")
    return registry.names()

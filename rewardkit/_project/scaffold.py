"""`rewardkit init DIR`: a new reward project whose tests pass as generated.

The files come from `rewardkit/templates/project/` (each `NAME.tmpl` is written
as `NAME`, the folder `package/` as the project's package, `dockerignore` /
`gitignore` as dotfiles) with `{{package}}`, `{{project}}`, `{{service}}`,
`{{requirement}}` and `{{version}}` filled in.
"""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from .._errors import RewardkitError

TEMPLATE_SUFFIX = ".tmpl"
# The project's own install-and-test command, as its README and `init` print it.
INSTALL_AND_TEST = ("python3 -m venv .venv && .venv/bin/pip install --find-links wheels -e '.[test]' "
                    "&& .venv/bin/python -m pytest -q")
_DOTFILES = {"dockerignore": ".dockerignore", "gitignore": ".gitignore"}
# Names a project package must not take: they would shadow rewardkit, its built-in rewards or test folders.
_RESERVED = {"rewardkit", "rewards", "tests", "test", "data", "deploy", "wheels", "setup"}


class ScaffoldError(RewardkitError):
    """The project cannot be created where or as asked."""


@dataclass(frozen=True)
class ProjectNames:
    project: str  # distribution name, e.g. "math-rewards"
    package: str  # importable package, e.g. "math_rewards"; the serve target
    service: str  # Cloud Run service / Function Compute function name

    def values(self, requirement: str) -> dict[str, str]:
        from .. import __version__

        return {"project": self.project, "package": self.package, "service": self.service,
                "requirement": requirement, "version": __version__}


def _check_package(name: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        raise ScaffoldError(f"--package {name!r} is not a Python identifier (letters, digits and _)")
    if name in _RESERVED or name in sys.stdlib_module_names or name.startswith("_"):
        raise ScaffoldError(f"--package {name!r} would shadow a module of that name; choose another, "
                            f"e.g. {name.strip('_') or 'my'}_rewards")


def project_names(directory: str | Path, package: str | None = None) -> ProjectNames:
    """Names derived from the folder's name (`--package` overrides the package)."""
    base = Path(directory).resolve().name
    slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-") or "my-rewards"
    if not slug[0].isalpha():
        slug = f"rewards-{slug}"
    service = slug[:49].rstrip("-")  # Cloud Run: lowercase letters, digits, hyphens; at most 49 characters
    if package is None:
        package = slug.replace("-", "_")
        if package in _RESERVED or package in sys.stdlib_module_names or keyword.iskeyword(package):
            package = f"{package}_rewards"
    _check_package(package)
    return ProjectNames(project=slug, package=package, service=service)


def default_requirement() -> str:
    """The exact version whose wheel `init` puts in wheels/: the project installs what it was made with."""
    from .. import __version__

    return f"rewardkit=={__version__}"


def _templates() -> Any:  # an importlib.resources Traversable
    return resources.files("rewardkit").joinpath("templates").joinpath("project")


def _walk(node: Any, prefix: PurePosixPath) -> Iterator[tuple[PurePosixPath, Any]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            yield from _walk(child, prefix / child.name)
        elif child.name.endswith(TEMPLATE_SUFFIX):
            yield prefix / child.name, child


def _destination(template: PurePosixPath, package: str) -> PurePosixPath:
    parts = list(template.parts)
    parts[-1] = parts[-1][: -len(TEMPLATE_SUFFIX)]
    parts[-1] = _DOTFILES.get(parts[-1], parts[-1]) if len(parts) == 1 else parts[-1]
    if parts[0] == "package":
        parts[0] = package
    return PurePosixPath(*parts)


def render_project(names: ProjectNames, requirement: str | None = None) -> dict[str, str]:
    """Every file of the new project: relative path -> text."""
    values = names.values(requirement or default_requirement())
    files = {}
    for template, node in _walk(_templates(), PurePosixPath()):
        text = node.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        leftover = re.search(r"\{\{\w+\}\}", text)
        if leftover:
            raise ScaffoldError(f"template {template} uses an unknown placeholder {leftover.group()}")
        files[str(_destination(template, names.package))] = text
    if not files:
        raise ScaffoldError("rewardkit's project templates are missing from this installation (rewardkit/templates)")
    return files


def create_project(directory: str | Path, *, package: str | None = None, requirement: str | None = None,
                   force: bool = False, wheel: bool = True) -> tuple[ProjectNames, list[Path]]:
    """Write the project into `directory` (new or empty; with `force`, files of the same name are replaced).

    With `wheel` (and no custom `requirement`), the running rewardkit's wheel goes into `wheels/`, so the
    project installs and builds its image without a package index that has rewardkit."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise ScaffoldError(f"{root} exists and is not a folder")
    names = project_names(root, package)
    files = render_project(names, requirement)
    if root.exists() and any(root.iterdir()) and not force:
        clashes = sorted(p for p in files if (root / p).exists())
        detail = f"; it already has {', '.join(clashes[:5])}" if clashes else ""
        raise ScaffoldError(f"{root} is not empty{detail}. Choose a new folder, or pass --force to write the "
                            "project's files into it (files of the same name are replaced)")
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if wheel and requirement is None:
        from .wheel import write_wheel

        written.append(write_wheel(root / "wheels"))
    return names, written


def main(args: Any) -> int:
    try:
        names, written = create_project(args.directory, package=args.package, requirement=args.requirement,
                                        force=args.force)
    except (RewardkitError, OSError) as exc:
        print(f"rewardkit init: {exc}", file=sys.stderr)
        return 2
    root = Path(args.directory)
    print(f"Created {names.project} in {root} ({len(written)} files; rewards in {names.package}/__init__.py).")
    if args.requirement is None:
        print(f"It pins {default_requirement()}, whose wheel is in wheels/ (no package index needed).")
    print("Next:")
    print(f"  cd {root}")
    print(f"  {INSTALL_AND_TEST}")
    print(f"  .venv/bin/rewardkit serve {names.package}")
    return 0


def wheel_main(args: Any) -> int:
    from .wheel import write_wheel

    try:
        path = write_wheel(Path(args.directory))
    except (RewardkitError, OSError) as exc:
        print(f"rewardkit wheel: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


def add_parser(commands: Any) -> None:
    """The `init` and `wheel` subcommands' arguments."""
    init = commands.add_parser(
        "init", help="create a new reward project (rewards, fixtures, tests, Dockerfile, deploy files)",
        description="Create a reward project in DIR: a package with one reward of each kind and a composite, "
        "fixture files for both contracts, tests (run by pytest with rewardkit's plugin), a Dockerfile, "
        "Cloud Run and Function Compute deploy files, and a README. Its tests pass as generated.")
    init.add_argument("directory", metavar="DIR", help="folder to create (or an empty one)")
    init.add_argument("--package", default=None,
                      help="the rewards package (the serve target); default: from DIR's name")
    init.add_argument("--requirement", default=None, metavar="SPEC",
                      help="how the project requires rewardkit in pyproject.toml and requirements.txt, instead "
                      "of the wheel in wheels/ (default rewardkit==VERSION with that wheel; e.g. "
                      "'rewardkit @ git+https://...')")
    init.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    init.set_defaults(handler=main)

    wheel = commands.add_parser(
        "wheel", help="write this rewardkit's wheel into a folder (a project's wheels/)",
        description="Write a wheel of the running rewardkit into DIR, for a project that installs rewardkit "
        "without a package index (pip install --find-links DIR). `rewardkit init` does this by itself.")
    wheel.add_argument("directory", metavar="DIR", nargs="?", default="wheels",
                       help="the folder to write into (default wheels)")
    wheel.set_defaults(handler=wheel_main)

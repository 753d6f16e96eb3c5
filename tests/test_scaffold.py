"""`rewardkit init DIR`: a new reward project whose own tests pass as generated."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from rewardkit import __version__ as rewardkit_version
from rewardkit._cli.main import main as cli_main
from rewardkit._project.scaffold import INSTALL_AND_TEST, ScaffoldError, create_project, project_names, render_project
from rewardkit._project.wheel import wheel_name

from .conftest import REPO


def test_names_come_from_the_folder_and_avoid_shadowing_modules(tmp_path):
    names = project_names(tmp_path / "Math Rewards!")
    assert (names.project, names.package, names.service) == ("math-rewards", "math_rewards", "math-rewards")
    assert project_names(tmp_path / "rewards").package == "rewards_rewards"  # not the built-in package
    assert project_names(tmp_path / "json").package == "json_rewards"  # not the standard library's
    assert project_names(tmp_path / "42").project == "rewards-42"
    assert project_names(tmp_path / "x", package="judge_rewards").package == "judge_rewards"
    for bad in ("rewardkit", "my-pkg", "class", "os"):
        with pytest.raises(ScaffoldError, match="--package"):
            project_names(tmp_path / "x", package=bad)


def test_every_template_is_rendered_with_no_placeholder_left(tmp_path):
    files = render_project(project_names(tmp_path / "demo"), "rewardkit @ file:///wheels/rewardkit.whl")
    assert {"demo/__init__.py", "tests/test_rewards.py", "Dockerfile", ".dockerignore", ".gitignore", "README.md",
            "pyproject.toml", "requirements.txt", "deploy/cloudrun/service.yaml", "deploy/fc/s.yaml",
            "wheels/README.md"} <= set(files)
    fixtures = {p for p in files if p.endswith(".reward.jsonl")}
    assert {p.rsplit("/", 1)[-1] for p in fixtures} == {
        "exact_answer.reward.jsonl", "tagged_answer.reward.jsonl", "brevity_rank.reward.jsonl", "quality.reward.jsonl"}
    assert not any(re.search(r"\{\{\w+\}\}", text) for text in files.values())
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["dependencies"] == ["rewardkit @ file:///wheels/rewardkit.whl"]
    assert project["tool"]["pytest"]["ini_options"]["rewardkit_target"] == "demo"
    assert "rewardkit @ file:///wheels/rewardkit.whl" in files["requirements.txt"].splitlines()
    assert "REWARDKIT_TARGET=demo" in files["Dockerfile"] and "COPY demo ./demo" in files["Dockerfile"]
    assert "value: demo" in files["deploy/cloudrun/service.yaml"]
    assert "REWARDKIT_TARGET: demo" in files["deploy/fc/s.yaml"]
    both = "".join(files[p] for p in fixtures)
    assert '"example"' in both and '"agent_output"' in both and '"agent_outputs"' in both


def test_init_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path, capsys):
    target = tmp_path / "proj"
    target.mkdir()
    (target / "README.md").write_text("mine")
    assert cli_main(["init", str(target)]) == 2
    assert "not empty; it already has README.md" in capsys.readouterr().err
    assert cli_main(["init", str(target), "--force"]) == 0
    assert (target / "proj" / "__init__.py").is_file() and "rewardkit" in (target / "README.md").read_text()
    assert cli_main(["init", str(tmp_path / "p2"), "--package", "os"]) == 2


def test_the_generated_project_passes_its_tests_with_this_rewardkit(tmp_path):
    _, written = create_project(tmp_path / "quiz-rewards", wheel=False)
    assert all(path.is_file() for path in written)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDKIT_")}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                            cwd=tmp_path / "quiz-rewards",
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b19 passed\b", result.stdout), result.stdout


def _copy_source(destination: Path) -> Path:
    """The files a wheel is built from (as the Dockerfile copies them), so the build never writes into the checkout."""
    destination.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, destination / name)
    for name in ("rewardkit", "rewards"):
        shutil.copytree(REPO / name, destination / name, ignore=ignore)
    return destination


def _readme_command(readme: str, starts: str) -> str:
    """The first line of a ```sh block in `readme` that starts with `starts`."""
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            if line.startswith(starts):
                return line
    raise AssertionError(f"the generated README shows no command starting {starts!r}")


def test_a_generated_project_installs_and_passes_from_a_fresh_clone_with_only_its_readme_commands(tmp_path):
    """The slow one (about a minute, mostly pip): rewardkit installed (not editable) from this checkout into
    a venv, `rewardkit init`, the project committed and cloned, then in the clone exactly the command its
    README prints, which makes its own venv. rewardkit is on no package index here: it comes from wheels/."""
    started = time.monotonic()
    source = _copy_source(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python, rewardkit = venv / "bin" / "python", venv / "bin" / "rewardkit"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDKIT_") and k != "VIRTUAL_ENV"}
    # rewardkit's dependencies come from this test's environment, after the venv's own packages (a path line
    # in a .pth file: that environment's own .pth hooks, its editable rewardkit among them, are not run).
    # Installing them again would add a minute and test nothing: the clone's install below does it all.
    venv_site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip()
    Path(venv_site, "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    def run(*command: str | Path, cwd: Path = tmp_path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                env=env)
        assert result.returncode == 0, f"{command} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        return result

    run(python, "-m", "pip", "install", "-q", "--no-deps", str(source))
    assert f"{venv_site}/rewardkit" in run(python, "-c", "import rewardkit; print(rewardkit.__file__)").stdout
    printed = run(rewardkit, "init", "quiz").stdout
    assert "It pins rewardkit==" in printed and INSTALL_AND_TEST in printed
    project = tmp_path / "quiz"
    assert [p.name for p in (project / "wheels").glob("*.whl")] == [wheel_name(rewardkit_version)]
    run("git", "init", "-q", cwd=project)
    run("git", "add", "-A", cwd=project)
    run("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init", cwd=project)
    clone = tmp_path / "clone"
    run("git", "clone", "-q", str(project), str(clone))

    readme = (clone / "README.md").read_text()
    assert f"pins `rewardkit=={rewardkit_version}`" in readme
    command = _readme_command(readme, "python3 -m venv .venv")
    assert command == INSTALL_AND_TEST
    tests = run("bash", "-c", command, cwd=clone)
    assert re.search(r"\b19 passed\b", tests.stdout), tests.stdout
    own = clone / ".venv" / "bin" / "rewardkit"
    assert str(clone / ".venv") in run(own, "--version").stdout  # the wheel's rewardkit, in the clone's venv
    run(own, "replay", "tests/fixtures", "--target", "quiz", cwd=clone)
    scored = run(own, "replay", "--training", "data/train.vertex.jsonl", "--responses", "data/responses.jsonl",
                 "--target", "quiz", "--reward", "quality", cwd=clone)
    assert "4 cases: 4 passed, 0 failed (0 with an expectation)" in scored.stdout
    run(own, "replay", "--training", "data/train.dashscope.jsonl", "--response-field",
        "rollout_extra.model_answer", "--target", "quiz", "--reward", "tagged_answer", cwd=clone)
    run(own, "validate-data", "data/train.vertex.jsonl", "--platform", "vertex", cwd=clone)
    run(own, "validate-data", "data/train.dashscope.jsonl", "--platform", "dashscope", cwd=clone)
    print(f"fresh-clone init test took {time.monotonic() - started:.0f} s")

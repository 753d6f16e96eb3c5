"""`rewardkit deploy cloudrun` ships the project's own rewards, and checks the project before anything runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rewardkit._project.checks import dockerfile_target
from rewardkit._project.scaffold import create_project

from .served import rewardkit_command

DEPLOY = ("deploy", "cloudrun", "--project", "my-proj", "--region", "us-central1", "--dry-run")


def deploy(cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*rewardkit_command(), *DEPLOY, *extra], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    create_project(tmp_path / "quiz-rewards", wheel=False)
    return tmp_path / "quiz-rewards"


def test_a_generated_project_deploys_its_own_target_under_its_own_name(project):
    out = deploy(project)
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("gcloud run deploy quiz-rewards --source=. ")
    assert "--set-env-vars=REWARDKIT_TARGET=quiz_rewards " in first
    assert "serving 'quiz_rewards' (from the Dockerfile's REWARDKIT_TARGET)" in out.stderr
    assert "exact_answer" in out.stderr


def test_named_rewards_are_checked_and_the_first_is_the_default(project):
    out = deploy(project, "--reward", "quality", "--reward", "exact_answer")
    assert out.returncode == 0, out.stderr
    assert "--set-env-vars=REWARDKIT_TARGET=quiz_rewards,REWARDKIT_REWARD=quality " in out.stdout
    wrong = deploy(project, "--reward", "qualty")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert "has no reward 'qualty'; its rewards: exact_answer" in wrong.stderr


def test_a_folder_without_a_dockerfile_is_refused_before_anything_is_printed(project):
    (project / "Dockerfile").unlink()
    out = deploy(project)
    assert out.returncode == 2 and out.stdout == ""
    assert "has no Dockerfile" in out.stderr


def test_a_target_that_does_not_import_or_registers_nothing_is_refused(project):
    init = project / "quiz_rewards" / "__init__.py"
    init.write_text("import rewardkit\n")
    out = deploy(project)
    assert out.returncode == 2 and out.stdout == ""
    assert "defines no rewards" in out.stderr
    init.write_text("import not_installed_anywhere\n")
    out = deploy(project)
    assert out.returncode == 2 and "not_installed_anywhere" in out.stderr


def test_an_explicit_target_wins_over_the_dockerfile(project):
    out = deploy(project, "--target", "rewards", "--service", "builtin")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("gcloud run deploy builtin ") and "REWARDKIT_TARGET=rewards " in out.stdout
    assert "serving the built-in rewards package (from --target)" in out.stderr


@pytest.mark.parametrize("text, target", [
    ("FROM x\nENV REWARDKIT_TARGET=a\n", "a"),
    ("FROM x AS build\nENV REWARDKIT_TARGET=a\nFROM y\nENV PATH=/v \\\n    REWARDKIT_TARGET=b \\\n    PORT=1\n", "b"),
    ("FROM x\nENV REWARDKIT_TARGET pkg.mod\n", "pkg.mod"),
    ("FROM x\n# ENV REWARDKIT_TARGET=no\nENV PORT=8080\n", None),
])
def test_the_dockerfile_target_is_the_last_env_that_sets_it(text, target):
    assert dockerfile_target(text) == target

"""`rewardkit deploy fc`: the project's own target and name, checked first; the Serverless Devs project and the
registry commands, printed as a script (--dry-run) or run."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from rewardkit._project.deployment import DeployConfigError, FunctionComputeDeployment, fc_s_yaml, to_yaml
from rewardkit._project.scaffold import create_project

from .served import rewardkit_command

DEPLOY = ("deploy", "fc", "--region", "cn-hangzhou", "--namespace", "team")
IMAGE = "registry.cn-hangzhou.aliyuncs.com/team/quiz-rewards:latest"


def deploy(cwd: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*rewardkit_command(), *DEPLOY, *extra], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    create_project(tmp_path / "quiz-rewards", wheel=False)
    return tmp_path / "quiz-rewards"


def script_parts(script: str) -> tuple[dict, list[str]]:
    """The s.yaml the script writes, and the commands after it."""
    found = re.search(r"cat > (\S+) <<'EOF'\n(.*?)\nEOF\n(.*)", script, re.S)
    assert found, script
    return yaml.safe_load(found.group(2)), found.group(3).splitlines()


def test_a_generated_project_deploys_its_own_target_under_its_own_name(project):
    out = deploy(project, "--dry-run", "--reward", "quality")
    assert out.returncode == 0, out.stderr
    assert "function 'quiz-rewards' serving 'quiz_rewards' (from the Dockerfile's REWARDKIT_TARGET)" in out.stderr
    document, commands = script_parts(out.stdout)
    props = document["resources"]["quiz-rewards"]["props"]
    assert document["edition"] == "3.0.0" and document["resources"]["quiz-rewards"]["component"] == "fc3"
    assert props["region"] == "cn-hangzhou" and props["functionName"] == "quiz-rewards"
    assert props["runtime"] == "custom-container"
    assert props["customContainerConfig"]["image"] == IMAGE
    assert str(props["customContainerConfig"]["port"]) == props["environmentVariables"]["PORT"] == "9000"
    assert props["environmentVariables"]["REWARDKIT_TARGET"] == "quiz_rewards"
    assert props["environmentVariables"]["REWARDKIT_REWARD"] == "quality"
    (trigger,) = props["triggers"]
    assert trigger["triggerType"] == "http" and trigger["triggerConfig"]["authType"] == "function"
    assert set(trigger["triggerConfig"]["methods"]) == {"GET", "POST"}
    assert commands == [f"docker build --platform=linux/amd64 -t {IMAGE} .", f"docker push {IMAGE}",
                        "s deploy -t .rewardkit/fc/s.yaml --skip-push -y"]
    assert not (project / ".rewardkit").exists()  # a dry run writes nothing


def test_the_checked_in_s_yaml_and_the_generated_one_agree_on_what_function_compute_needs():
    """deploy/fc/s.yaml (checked by test_deployconfig against the fc3 spec) and the generated file differ only in
    names: the same runtime, port, health check, limits and trigger."""
    checked_in = yaml.safe_load((Path(__file__).parent.parent / "deploy" / "fc" / "s.yaml").read_text())
    ours = yaml.safe_load(to_yaml(fc_s_yaml(FunctionComputeDeployment(region="cn-hangzhou", namespace="ns"))))
    (theirs,), (mine,) = checked_in["resources"].values(), ours["resources"].values()
    for key in ("runtime", "cpu", "memorySize", "diskSize", "timeout", "instanceConcurrency"):
        assert mine["props"][key] == theirs["props"][key], key
    for key in ("port", "healthCheckConfig"):
        assert mine["props"]["customContainerConfig"][key] == theirs["props"]["customContainerConfig"][key], key
    assert mine["props"]["triggers"] == theirs["props"]["triggers"]


def test_without_dry_run_it_writes_the_project_file_then_builds_pushes_and_deploys(project, tmp_path):
    # docker and s stand-ins on PATH that log how they were called
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for tool in ("docker", "s"):
        script = bin_dir / tool
        script.write_text(f"#!/bin/sh\necho \"{tool} $*\" >> {log}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    out = deploy(project, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert out.returncode == 0, out.stderr
    assert log.read_text().splitlines() == [f"docker build --platform=linux/amd64 -t {IMAGE} .",
                                            f"docker push {IMAGE}", "s deploy -t .rewardkit/fc/s.yaml --skip-push -y"]
    written = yaml.safe_load((project / ".rewardkit" / "fc" / "s.yaml").read_text())
    assert written["resources"]["quiz-rewards"]["props"]["customContainerConfig"]["image"] == IMAGE


def test_a_missing_tool_is_named(project, tmp_path):
    out = deploy(project, env={"PATH": str(tmp_path)})
    assert out.returncode == 2 and "docker and s not installed or not on PATH" in out.stderr
    assert not (project / ".rewardkit").exists()


def test_the_project_is_checked_before_anything_is_printed(project):
    wrong = deploy(project, "--dry-run", "--reward", "qualty")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert "has no reward 'qualty'; its rewards: exact_answer" in wrong.stderr
    (project / "Dockerfile").unlink()
    out = deploy(project, "--dry-run")
    assert out.returncode == 2 and out.stdout == "" and "has no Dockerfile" in out.stderr


@pytest.mark.parametrize("flags, message", [
    (("--namespace", "Team!"), "must be a Container Registry namespace"),
    (("--region", "hangzhou"), "must be a Function Compute region"),
    (("--memory", "1000"), "must be a multiple of 64"),
    (("--cpu", "1", "--memory", "8192"), "1 to 4 GB of memory per vCPU"),
    (("--concurrency", "500"), "must be 1..100"),
    (("--function", "Quiz_Rewards"), "function name 'Quiz_Rewards'"),
])
def test_settings_function_compute_would_refuse_are_refused_here(project, flags, message):
    out = deploy(project, "--dry-run", *flags)
    assert out.returncode == 2 and out.stdout == "", out.stdout
    assert message in out.stderr


@pytest.mark.parametrize("key", ["on", "yes", "n", "a key"])
def test_yaml_keys_yaml_would_read_as_values_are_quoted(key):
    assert yaml.safe_load(to_yaml({key: {"x": [1, "y", True, None]}})) == {key: {"x": [1, "y", True, None]}}


def test_a_bad_auth_type_is_refused():
    with pytest.raises(DeployConfigError, match="auth 'public'"):
        FunctionComputeDeployment(region="cn-hangzhou", namespace="ns", auth="public").check()

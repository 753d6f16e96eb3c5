"""Deployment configs, commands and files: what the two platforms will be handed."""

from __future__ import annotations

import json
import math
import re
import shlex
from pathlib import Path

import pytest

from rewardkit._project.deployment import (
    MAX_VERTEX_REWARDS,
    PROJECT_NUMBER_PLACEHOLDER,
    DashScopeFunction,
    DeployConfigError,
    cloudrun_deploy_commands,
    dashscope_functions_config,
    render_commands,
    vertex_job_body,
    vertex_reward_config,
    vertex_tuning_jobs_url,
)

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "tests" / "contract_examples" / "CONTRACTS.md"
URL = "https://rewardkit-abc123-uc.a.run.app"
AGENT = "service-PROJECT_NUMBER@gcp-sa-vertex-tune.iam.gserviceaccount.com"


def _single(name: str, url: str = URL) -> dict:
    return {
        "rewardName": name,
        "parseResponseConfig": {"parseType": "IDENTITY"},
        "cloudRunRewardScorer": {"cloudRunUri": f"{url}/rewards/{name}"},
    }


# --------------------------------------------------------------------------- Vertex AI


def test_one_reward_gives_a_single_reward_config_pointing_at_its_route() -> None:
    assert vertex_reward_config(URL, [("math_accuracy", 1.0)]) == {
        "singleRewardConfig": _single("math_accuracy")
    }


def test_several_rewards_give_weighted_single_configs_without_wrapper() -> None:
    config = vertex_reward_config(URL + "/", [("math_accuracy", 0.8), ("format", 0.2)])
    assert config == {
        "compositeRewardConfig": {
            "weightedRewardConfigs": [
                {"rewardConfig": _single("math_accuracy"), "weight": 0.8},
                {"rewardConfig": _single("format"), "weight": 0.2},
            ]
        }
    }
    json.dumps(config)  # the body is sent as JSON as is


@pytest.mark.parametrize("url", [URL, URL + "/", URL + "/rewards/math_accuracy", URL + "/rewards/other/api/v1",
                                 URL + "/rewards"])
def test_a_url_that_already_holds_a_reward_route_is_not_doubled(url: str) -> None:
    config = vertex_reward_config(url, [("math_accuracy", 1.0)])
    assert config["singleRewardConfig"]["cloudRunRewardScorer"]["cloudRunUri"] == (
        f"{URL}/rewards/math_accuracy")


def test_reward_names_are_escaped_in_the_route() -> None:
    config = vertex_reward_config(URL, [("a b/c", 1.0)])
    assert config["singleRewardConfig"]["cloudRunRewardScorer"]["cloudRunUri"] == (
        f"{URL}/rewards/a%20b%2Fc"
    )
    assert config["singleRewardConfig"]["rewardName"] == "a b/c"


def test_every_field_name_used_is_spelled_as_in_the_contract() -> None:
    section_a = CONTRACTS.read_text().split("## B.")[0]
    config = vertex_reward_config(URL, [("x", 1.0), ("y", 2.0)])

    def keys(node: object) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in keys(v)}
        if isinstance(node, list):
            return {k for v in node for k in keys(v)}
        return set()

    missing = {key for key in keys(config) if key not in section_a}
    assert not missing, f"field names not in CONTRACTS.md section A: {missing}"
    assert "IDENTITY" in section_a


def test_sixteen_rewards_are_accepted_and_seventeen_rejected() -> None:
    sixteen = [(f"r{i}", 1.0) for i in range(MAX_VERTEX_REWARDS)]
    configs = vertex_reward_config(URL, sixteen)["compositeRewardConfig"]["weightedRewardConfigs"]
    assert len(configs) == 16
    with pytest.raises(ValueError, match="at most 16"):
        vertex_reward_config(URL, [*sixteen, ("r16", 1.0)])


@pytest.mark.parametrize("weight", [0, -1.0, math.nan, math.inf, True, "1"])
def test_weights_must_be_finite_positive_numbers(weight: object) -> None:
    with pytest.raises(DeployConfigError, match="weight"):
        vertex_reward_config(URL, [("a", 1.0), ("b", weight)])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("rewards", "message"),
    [([], "at least one"), ([("a", 1.0), ("a", 2.0)], "twice"), ([(" ", 1.0)], "empty")],
)
def test_reward_lists_are_checked(rewards: list, message: str) -> None:
    with pytest.raises(DeployConfigError, match=message):
        vertex_reward_config(URL, rewards)


@pytest.mark.parametrize("url", ["http://svc.run.app", "svc.run.app", "https://", f"{URL}?x=1"])
def test_cloud_run_url_must_be_plain_https(url: str) -> None:
    with pytest.raises(DeployConfigError, match="url"):
        vertex_reward_config(url, [("a", 1.0)])


def test_job_body_wraps_the_reward_config_in_a_reinforcement_tuning_spec() -> None:
    body = vertex_job_body(
        URL,
        [("math_accuracy", 1.0)],
        training_dataset_uri="gs://b/train.jsonl",
        validation_dataset_uri="gs://b/val.jsonl",
        hyper_parameters={"epochCount": 3, "samplesPerPrompt": 16},
    )
    assert body == {
        "tunedModelDisplayName": "rewardkit-math_accuracy",
        "baseModel": "gemini-2.5-flash",
        "reinforcementTuningSpec": {
            "trainingDatasetUri": "gs://b/train.jsonl",
            "validationDatasetUri": "gs://b/val.jsonl",
            "hyperParameters": {"epochCount": 3, "samplesPerPrompt": 16},
            "singleRewardConfig": _single("math_accuracy"),
        },
    }


def test_job_body_leaves_out_what_was_not_given() -> None:
    body = vertex_job_body(URL, [("a", 1.0), ("b", 3.0)], display_name="my-job")
    spec = body["reinforcementTuningSpec"]
    assert body["tunedModelDisplayName"] == "my-job"
    assert set(spec) == {"trainingDatasetUri", "compositeRewardConfig"}
    long_names = [("x" * 100, 1.0), ("y" * 100, 1.0)]
    assert len(vertex_job_body(URL, long_names)["tunedModelDisplayName"]) == 128


def test_job_body_rejects_datasets_outside_cloud_storage() -> None:
    with pytest.raises(DeployConfigError, match="gs://"):
        vertex_job_body(URL, [("a", 1.0)], training_dataset_uri="/tmp/train.jsonl")


def test_tuning_jobs_url_is_the_regional_v1beta1_endpoint() -> None:
    assert vertex_tuning_jobs_url("p", "us-central1") == (
        "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/p/locations/us-central1/tuningJobs"
    )


# --------------------------------------------------------------------------- Cloud Run


def test_deploy_is_private_and_grants_only_the_vertex_tune_agent() -> None:
    deploy, describe, grant, url = cloudrun_deploy_commands(project="proj", region="us-central1")
    assert deploy[:4] == ["gcloud", "run", "deploy", "rewardkit"]
    assert "--no-allow-unauthenticated" in deploy
    assert "--allow-unauthenticated" not in deploy
    for flag in (
        "--source=.",
        "--project=proj",
        "--region=us-central1",
        "--set-env-vars=REWARDKIT_TARGET=rewards",
        "--timeout=300",
        "--memory=2Gi",
        "--cpu=2",
        "--concurrency=16",
    ):
        assert flag in deploy
    assert describe == ["gcloud", "projects", "describe", "proj", "--format=value(projectNumber)"]
    assert grant[:5] == ["gcloud", "run", "services", "add-iam-policy-binding", "rewardkit"]
    assert f"--member=serviceAccount:{AGENT}" in grant
    assert "--role=roles/run.invoker" in grant
    assert {"--project=proj", "--region=us-central1"} <= set(grant)
    assert url[-1] == "--format=value(status.url)"


def test_project_number_placeholder_is_the_only_thing_to_substitute() -> None:
    grant = cloudrun_deploy_commands(project="proj", region="r", service="svc")[2]
    filled = [arg.replace(PROJECT_NUMBER_PLACEHOLDER, "123456789") for arg in grant]
    assert (
        "--member=serviceAccount:service-123456789@gcp-sa-vertex-tune.iam.gserviceaccount.com"
        in filled
    )


def test_options_reach_the_deploy_command() -> None:
    deploy = cloudrun_deploy_commands(
        project="p",
        region="europe-west4",
        service="math-rewards",
        source="./svc",
        target="my_rewards.py",
        memory="4Gi",
        cpu="4",
        concurrency=8,
        timeout=600,
        min_instances=1,
        max_instances=20,
    )[0]
    assert deploy[3] == "math-rewards"
    for flag in (
        "--source=./svc",
        "--set-env-vars=REWARDKIT_TARGET=my_rewards.py",
        "--memory=4Gi",
        "--cpu=4",
        "--concurrency=8",
        "--timeout=600",
        "--min-instances=1",
        "--max-instances=20",
    ):
        assert flag in deploy


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"service": "Reward_Kit"}, "service name"),
        ({"service": "a" * 50}, "service name"),
        ({"project": ""}, "project"),
        ({"memory": "2GB"}, "memory"),
        ({"cpu": "two"}, "cpu"),
        ({"concurrency": 0}, "concurrency"),
        ({"timeout": 3601}, "timeout"),
        ({"min_instances": 5, "max_instances": 2}, "min_instances"),
    ],
)
def test_bad_deploy_settings_are_rejected(kwargs: dict, message: str) -> None:
    settings = {"project": "p", "region": "r", **kwargs}
    with pytest.raises(DeployConfigError, match=message):
        cloudrun_deploy_commands(**settings)


def test_rendered_commands_are_one_shell_line_each_and_round_trip() -> None:
    cmds = cloudrun_deploy_commands(project="p", region="r")
    text = render_commands(cmds)
    lines = text.splitlines()
    assert len(lines) == len(cmds) and text.endswith("\n")
    assert [shlex.split(line) for line in lines] == cmds
    assert "'--format=value(projectNumber)'" in lines[1]  # parentheses are quoted


# --------------------------------------------------------------------------- DashScope


def test_classpath_function_is_what_the_sdk_registers_and_deploys() -> None:
    config = dashscope_functions_config(
        [
            DashScopeFunction(
                name="math_accuracy",
                classpath="my_rewards.MathProcessor",
                timeout=60,
                cpu=2,
                memory_size=4096,
                env={"REWARDKIT_TARGET": "rewards"},
            )
        ]
    )
    assert config == {
        "functions": [
            {
                "type": "reward",
                "name": "math_accuracy",
                "weight": 1.0,
                "timeout": 60,
                "fcmodel": {
                    "zipdir": "./",
                    "classpath": "my_rewards.MathProcessor",
                    "requirements_path": "./requirements.txt",
                },
                "runtime": {"cpu": 2, "memory_size": 4096, "env": {"REWARDKIT_TARGET": "rewards"}},
            }
        ]
    }


def test_generated_functions_load_into_the_dashscope_sdk_and_submit_as_reward_ids() -> None:
    pytest.importorskip("dashscope")
    from dashscope.finetune.reinforcement.common.model import (
        GroupRewardFunctionComponent,
        RewardFunctionComponent,
        TuningModel,
    )
    from dashscope.finetune.reinforcement.common.model_types import FunctionType

    config = dashscope_functions_config(
        [
            DashScopeFunction(name="acc", entity_id="e-1", weight=0.7, timeout=30),
            DashScopeFunction(name="fmt", entity_id="e-2", weight=0.3, env={"X": "1"}, cpu=1),
            DashScopeFunction(name="grp", classpath="rewards/group.py:GroupReward", func_type="group_reward"),
        ]
    )
    model = TuningModel(**config)
    acc, fmt, grp = model.functions
    assert isinstance(acc, RewardFunctionComponent) and isinstance(fmt, RewardFunctionComponent)
    assert isinstance(grp, GroupRewardFunctionComponent)
    assert grp.fcmodel.classpath == "rewards/group.py:GroupReward"
    submitted = [
        {k: v for k, v in entry.items() if v is not None}
        for entry in model.combine_ids_runtimes(functype=FunctionType.REWARD)
    ]
    # Each function keeps its own runtime although only the second one set any.
    assert submitted == [
        {"reward_id": "e-1", "name": "acc", "weight": 0.7, "timeout": 30},
        {"reward_id": "e-2", "name": "fmt", "weight": 0.3, "cpu": 1.0, "env": {"X": "1"}},
    ]


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (DashScopeFunction(name="a"), "exactly one"),
        (DashScopeFunction(name="a", classpath="m.C", entity_id="e"), "exactly one"),
        (DashScopeFunction(name="a", classpath="NoModule"), "classpath"),
        (DashScopeFunction(name="a", entity_id="e", weight=0), "weight"),
        (DashScopeFunction(name="a", entity_id="e", concurrency=101), "concurrency"),
        (DashScopeFunction(name="a", entity_id="e", env={"FC_X": "1"}), "FC_"),
        (DashScopeFunction(name="a", entity_id="e", func_type="rollout"), "func_type"),  # type: ignore[arg-type]
        (DashScopeFunction(name=" ", entity_id="e"), "empty name"),
    ],
)
def test_dashscope_functions_are_checked(function: DashScopeFunction, message: str) -> None:
    with pytest.raises(DeployConfigError, match=message):
        dashscope_functions_config([function])


def test_dashscope_function_names_must_be_unique() -> None:
    same = DashScopeFunction(name="a", entity_id="e")
    with pytest.raises(DeployConfigError, match="twice"):
        dashscope_functions_config([same, same])
    with pytest.raises(DeployConfigError, match="at least one"):
        dashscope_functions_config([])


# --------------------------------------------------------------------------- files


def _yaml(path: Path) -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(path.read_text())


def test_cloud_run_service_yaml_has_the_settings_vertex_needs() -> None:
    service = _yaml(ROOT / "deploy" / "cloudrun" / "service.yaml")
    assert service["apiVersion"] == "serving.knative.dev/v1"
    assert service["kind"] == "Service"
    template = service["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["run.googleapis.com/startup-cpu-boost"] == "true"
    assert annotations["run.googleapis.com/cpu-throttling"] in ("true", "false")
    assert int(annotations["autoscaling.knative.dev/minScale"]) >= 0
    assert int(annotations["autoscaling.knative.dev/maxScale"]) >= 1
    spec = template["spec"]
    assert isinstance(spec["containerConcurrency"], int) and 1 <= spec["containerConcurrency"] <= 1000
    assert spec["timeoutSeconds"] == 300
    (container,) = spec["containers"]
    assert container["image"]
    assert container["ports"][0]["containerPort"] == 8080
    assert {"name": "REWARDKIT_TARGET", "value": "rewards"} in container["env"]
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    probe = container["startupProbe"]
    assert probe["httpGet"]["path"] == "/health"
    assert probe["httpGet"]["port"] == 8080
    assert probe["timeoutSeconds"] <= probe["periodSeconds"]
    assert probe["initialDelaySeconds"] + probe["periodSeconds"] * probe["failureThreshold"] <= 240


def test_function_compute_s_yaml_is_a_fc3_custom_container_with_an_http_trigger() -> None:
    document = _yaml(ROOT / "deploy" / "fc" / "s.yaml")
    assert document["edition"] == "3.0.0"
    (resource,) = document["resources"].values()
    assert resource["component"] == "fc3"
    props = resource["props"]
    assert {"region", "functionName", "runtime", "customContainerConfig"} <= set(props)
    assert props["runtime"] == "custom-container"
    container = props["customContainerConfig"]
    assert container["image"]
    # The server listens on PORT; Function Compute sends to customContainerConfig.port.
    assert str(container["port"]) == props["environmentVariables"]["PORT"] == "9000"
    assert props["environmentVariables"]["REWARDKIT_TARGET"] == "rewards"
    health = container["healthCheckConfig"]
    assert health["httpGetUrl"] == "/health"
    assert 0 <= health["initialDelaySeconds"] <= 120
    assert 1 <= health["periodSeconds"] <= 120
    assert 1 <= health["timeoutSeconds"] <= 3
    assert 1 <= health["failureThreshold"] <= 120
    assert 1 <= health["successThreshold"] <= 120
    # Limits from the fc3 component's schema.
    assert props["diskSize"] in (512, 10240)
    assert props["memorySize"] % 64 == 0 and 128 <= props["memorySize"] <= 32768
    assert 1 <= props["memorySize"] / 1024 / props["cpu"] <= 4
    assert 1 <= props["instanceConcurrency"] <= 100
    assert props["timeout"] >= 300
    (trigger,) = props["triggers"]
    assert trigger["triggerType"] == "http"
    assert trigger["qualifier"] == "LATEST"
    assert trigger["triggerName"]
    assert trigger["triggerConfig"]["authType"] in ("anonymous", "function")
    assert set(trigger["triggerConfig"]["methods"]) == {"GET", "POST"}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_runs_the_server_as_pid_1_as_a_non_root_user() -> None:
    instructions = _dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms and all(rest.startswith("python:3.11-slim") for rest in froms)
    runtime = instructions[max(i for i, (k, _) in enumerate(instructions) if k == "FROM") :]
    cmd = [rest for keyword, rest in runtime if keyword == "CMD"]
    assert cmd and json.loads(cmd[-1]) == ["rewardkit", "serve"]  # exec form
    assert not [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    for setting in (
        "REWARDKIT_TARGET=rewards",
        "PORT=8080",
        "PYTHONUNBUFFERED=1",
        "PYTHONDONTWRITEBYTECODE=1",
    ):
        assert setting in env


def test_dockerfile_installs_dependencies_before_copying_the_source() -> None:
    instructions = _dockerfile_instructions()
    copies = [(i, rest) for i, (keyword, rest) in enumerate(instructions) if keyword == "COPY"]
    pyproject_at = next(i for i, rest in copies if rest.startswith("pyproject.toml"))
    source_at = min(i for i, rest in copies if rest.startswith(("rewardkit", "rewards")))
    installs = [i for i, (k, rest) in enumerate(instructions) if k == "RUN" and "pip install" in rest]
    assert any(pyproject_at < i < source_at for i in installs)


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not ignored & {"pyproject.toml", "README.md", "rewardkit", "rewards", "*.md"}
    assert {"tests", ".git"} <= ignored

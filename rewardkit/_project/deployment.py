"""Deployment configs and commands for the two platforms, as plain data.

Everything here is a pure function: it builds dicts and argv lists and touches
no file, network or environment, so the CLI can print them for ``--dry-run``,
run them, or write them out, and tests can compare them byte for byte.

Sources the shapes were checked against (2026-11):
- Vertex AI REST reference ``projects.locations.tuningJobs`` (v1beta1):
  ``TuningJob.baseModel`` / ``tunedModelDisplayName`` / ``reinforcementTuningSpec``;
  ``ReinforcementTuningSpec`` {trainingDatasetUri, validationDatasetUri,
  hyperParameters, singleRewardConfig | compositeRewardConfig};
  ``SingleReinforcementTuningRewardConfig`` {rewardName, parseResponseConfig,
  cloudRunRewardScorer{cloudRunUri} | ...}; ``CompositeReinforcementTuningRewardConfig``
  {weightedRewardConfigs: [{rewardConfig, weight}]}.
- Vertex AI "Quick start: Reinforcement learning fine-tuning" (the API example body)
  and the console quick start ("You can add up to 16 reward functions").
- The DashScope SDK (``dashscope.finetune.reinforcement.common.model``): ``TuningModel``,
  ``RewardFunctionComponent``, ``GroupRewardFunctionComponent``,
  ``FunctionComponentModel``, ``FunctionComponentRuntime``, ``combine_ids_runtimes``.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from rewardkit._errors import RewardkitError

__all__ = [
    "DeployConfigError",
    "DashScopeFunction",
    "FunctionComputeDeployment",
    "MAX_VERTEX_REWARDS",
    "PROJECT_NUMBER_PLACEHOLDER",
    "VERTEX_TUNE_SERVICE_AGENT",
    "cloudrun_deploy_commands",
    "dashscope_functions_config",
    "fc_deploy_commands",
    "fc_s_yaml",
    "render_commands",
    "to_yaml",
    "vertex_job_body",
    "vertex_reward_config",
    "vertex_tuning_jobs_url",
]

# The console quick start: "You can add up to 16 reward functions".
MAX_VERTEX_REWARDS = 16

# The project number is only known once `gcloud projects describe` has run, so the
# commands carry this token and the caller substitutes the looked-up number.
PROJECT_NUMBER_PLACEHOLDER = "PROJECT_NUMBER"

# The Vertex AI Secure Fine Tuning Service Agent is what calls the Cloud Run scorer.
VERTEX_TUNE_SERVICE_AGENT = "service-{project_number}@gcp-sa-vertex-tune.iam.gserviceaccount.com"

# Cloud Run service names: lowercase letters, digits and hyphens, starting with a
# letter, not ending with a hyphen, fewer than 50 characters.
_SERVICE_NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,47}[a-z0-9])?")
_MEMORY = re.compile(r"[1-9][0-9]*(?:Mi|Gi)")
_CPU = re.compile(r"(?:[1-9][0-9]*|0?\.[0-9]+|[0-9]+\.[0-9]+)")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# DashScope SDK accepts 'module.path.ClassName' or 'path/to/file.py:ClassName'.
_DOTTED_CLASSPATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_FILE_CLASSPATH = re.compile(r"[^:\s]+(?:\.py)?:[A-Za-z_][A-Za-z0-9_]*")


class DeployConfigError(RewardkitError, ValueError):
    """A deployment setting is invalid; the message names the setting and the fix."""


# --------------------------------------------------------------------------- Vertex AI

def _require(label: str, value: str) -> None:
    if not value or not value.strip() or any(c.isspace() for c in value):
        raise DeployConfigError(f"{label} {value!r} must be a non-empty value without spaces")



def _check_cloud_run_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise DeployConfigError(
            f"cloud run url {url!r} must be an https:// service URL, e.g. the `status.url` "
            "printed by `gcloud run services describe SERVICE --format='value(status.url)'`"
        )
    if parts.query or parts.fragment:
        raise DeployConfigError(f"cloud run url {url!r} must not carry a query or fragment")
    # A reward's own URL pasted as the service URL: keep the service part, or the route would be doubled.
    path = re.sub(r"/rewards(?:/.*)?$", "", parts.path.rstrip("/"))
    return f"{parts.scheme}://{parts.netloc}{path}"


def _check_rewards(rewards: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    checked = [(str(name), weight) for name, weight in rewards]
    if not checked:
        raise DeployConfigError("no rewards given: pass at least one (name, weight) pair")
    if len(checked) > MAX_VERTEX_REWARDS:
        raise DeployConfigError(
            f"{len(checked)} rewards given, but a Vertex AI tuning job accepts at most "
            f"{MAX_VERTEX_REWARDS}; combine some of them into one composite rewardkit reward"
        )
    seen: set[str] = set()
    for name, weight in checked:
        if not name.strip():
            raise DeployConfigError("a reward name is empty; every reward needs a unique name")
        if name in seen:
            raise DeployConfigError(f"reward {name!r} is listed twice; reward names must be unique")
        seen.add(name)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise DeployConfigError(f"weight of reward {name!r} must be a number, got {weight!r}")
        if not math.isfinite(weight) or weight <= 0:
            raise DeployConfigError(
                f"weight of reward {name!r} is {weight!r}; weights must be finite and > 0 "
                "(drop the reward instead of weighting it 0)"
            )
    return checked


def _single_reward_body(url: str, name: str) -> dict[str, Any]:
    # IDENTITY: the platform sends the whole response, and rewardkit's own parsers
    # (thinking parts, boxed answers...) do the extraction, so offline replays see
    # exactly what the served reward sees.
    return {
        "rewardName": name,
        "parseResponseConfig": {"parseType": "IDENTITY"},
        "cloudRunRewardScorer": {"cloudRunUri": f"{url}/rewards/{quote(name, safe='')}"},
    }


def vertex_reward_config(url: str, rewards: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """The reward part of a ``reinforcementTuningSpec`` for rewards served at ``url``.

    One reward gives ``{"singleRewardConfig": {...}}``; several give
    ``{"compositeRewardConfig": {"weightedRewardConfigs": [{"rewardConfig": {...},
    "weight": w}, ...]}}``, where each ``rewardConfig`` is a single reward config
    (the REST reference types it as ``SingleReinforcementTuningRewardConfig``, with no
    ``singleRewardConfig`` wrapper). The platform combines them as
    ``sum(w_i * r_i) / sum(w_i)``. Each reward is scored by ``POST {url}/rewards/{name}``.

    Raises DeployConfigError (a ValueError) for no rewards, more than 16, duplicate or
    empty names, weights that are not finite and > 0, or a url that is not https.
    """
    base = _check_cloud_run_url(url)
    checked = _check_rewards(rewards)
    if len(checked) == 1:
        return {"singleRewardConfig": _single_reward_body(base, checked[0][0])}
    return {
        "compositeRewardConfig": {
            "weightedRewardConfigs": [
                {"rewardConfig": _single_reward_body(base, name), "weight": float(weight)}
                for name, weight in checked
            ]
        }
    }


def vertex_job_body(
    url: str,
    rewards: Sequence[tuple[str, float]],
    *,
    base_model: str = "gemini-2.5-flash",
    training_dataset_uri: str = "gs://BUCKET/train.jsonl",
    validation_dataset_uri: str | None = None,
    display_name: str | None = None,
    hyper_parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole ``tuningJobs.create`` (v1beta1) request body around the reward config.

    POST it to :func:`vertex_tuning_jobs_url`. ``display_name`` defaults to
    ``rewardkit-<reward names>`` (cut to the 128 characters the API allows).
    ``hyper_parameters`` goes in as ``reinforcementTuningSpec.hyperParameters``
    (keys such as ``epochCount``, ``samplesPerPrompt``, ``batchSize``,
    ``learningRateMultiplier``, ``thinkingLevel``); left out, the service picks
    its defaults. Check the base model against the service's supported-model list:
    the docs' examples use ``gemini-3.5-flash``.
    """
    checked = _check_rewards(rewards)
    for label, uri in (("training", training_dataset_uri), ("validation", validation_dataset_uri)):
        if uri is not None and not uri.startswith("gs://"):
            raise DeployConfigError(
                f"{label} dataset {uri!r} must be a Cloud Storage path (gs://bucket/file.jsonl)"
            )
    if not base_model.strip():
        raise DeployConfigError("base_model is empty; name a Gemini model such as gemini-2.5-flash")
    name = display_name if display_name is not None else "rewardkit-" + "-".join(n for n, _ in checked)
    if not name.strip():
        raise DeployConfigError("display_name is empty")
    spec: dict[str, Any] = {"trainingDatasetUri": training_dataset_uri}
    if validation_dataset_uri is not None:
        spec["validationDatasetUri"] = validation_dataset_uri
    if hyper_parameters:
        spec["hyperParameters"] = dict(hyper_parameters)
    spec.update(vertex_reward_config(url, checked))
    return {
        "tunedModelDisplayName": name[:128],
        "baseModel": base_model,
        "reinforcementTuningSpec": spec,
    }


def vertex_tuning_jobs_url(project: str, region: str) -> str:
    """The v1beta1 ``tuningJobs.create`` endpoint for a project and region."""
    _require("project", project)
    _require("region", region)
    return (
        f"https://{region}-aiplatform.googleapis.com/v1beta1/"
        f"projects/{project}/locations/{region}/tuningJobs"
    )


# --------------------------------------------------------------------------- Cloud Run


def cloudrun_deploy_commands(
    *,
    project: str,
    region: str,
    service: str = "rewardkit",
    source: str = ".",
    target: str = "rewards",
    memory: str = "2Gi",
    cpu: str = "2",
    concurrency: int = 16,
    timeout: int = 300,
    min_instances: int | None = None,
    max_instances: int | None = None,
    default_reward: str | None = None,
    env: Mapping[str, str] | None = None,
) -> list[list[str]]:
    """The gcloud commands that deploy a private reward service Vertex AI can call.

    In order: build and deploy from source (the repo's Dockerfile) without public
    access; look up the project number; let the Vertex AI tuning service agent
    ``service-PROJECT_NUMBER@gcp-sa-vertex-tune.iam.gserviceaccount.com`` invoke the
    service (``roles/run.invoker``); print the service URL for the tuning job.
    The third command holds the literal ``PROJECT_NUMBER``: substitute the output of
    the second before running it. ``concurrency`` defaults to 16 because rewards are
    CPU-bound (math checking) and 2 vCPUs saturate long before Cloud Run's 80;
    ``timeout`` 300 s matches the platform's 5 minutes per reward call. ``env`` adds
    environment variables (``REWARDKIT_MAX_QUEUE`` from a capacity sizing).
    """
    _require("project", project)
    _require("region", region)
    _require("source", source)
    _require("target", target)
    if not _SERVICE_NAME.fullmatch(service):
        raise DeployConfigError(
            f"service name {service!r} is not a valid Cloud Run name: use lowercase letters, "
            "digits and hyphens, start with a letter, end with a letter or digit, < 50 chars"
        )
    if not _MEMORY.fullmatch(memory):
        raise DeployConfigError(f"memory {memory!r} must look like 512Mi or 2Gi")
    if not _CPU.fullmatch(cpu):
        raise DeployConfigError(f"cpu {cpu!r} must be a number of vCPUs such as 1, 2 or 0.5")
    if not 1 <= concurrency <= 1000:
        raise DeployConfigError(f"concurrency {concurrency} must be between 1 and 1000")
    if not 1 <= timeout <= 3600:
        raise DeployConfigError(f"timeout {timeout} s must be between 1 and 3600")
    for label, count in (("min_instances", min_instances), ("max_instances", max_instances)):
        if count is not None and count < 0:
            raise DeployConfigError(f"{label} {count} must be >= 0")
    if min_instances is not None and max_instances is not None and min_instances > max_instances:
        raise DeployConfigError(f"min_instances {min_instances} exceeds max_instances {max_instances}")

    env = {"REWARDKIT_TARGET": target, **({"REWARDKIT_REWARD": default_reward} if default_reward else {}),
           **(env or {})}
    for key, value in env.items():
        if "," in value or any(c.isspace() for c in value):
            raise DeployConfigError(f"{key} {value!r} must not hold commas or spaces (gcloud --set-env-vars)")
    where = [f"--project={project}", f"--region={region}"]
    deploy = [
        "gcloud", "run", "deploy", service,
        f"--source={source}",
        *where,
        "--no-allow-unauthenticated",
        "--set-env-vars=" + ",".join(f"{k}={v}" for k, v in env.items()),
        f"--memory={memory}",
        f"--cpu={cpu}",
        f"--concurrency={concurrency}",
        f"--timeout={timeout}",
        "--cpu-boost",
    ]  # fmt: skip
    if min_instances is not None:
        deploy.append(f"--min-instances={min_instances}")
    if max_instances is not None:
        deploy.append(f"--max-instances={max_instances}")
    agent = VERTEX_TUNE_SERVICE_AGENT.format(project_number=PROJECT_NUMBER_PLACEHOLDER)
    return [
        deploy,
        ["gcloud", "projects", "describe", project, "--format=value(projectNumber)"],
        [
            "gcloud", "run", "services", "add-iam-policy-binding", service,
            *where,
            f"--member=serviceAccount:{agent}",
            "--role=roles/run.invoker",
        ],
        ["gcloud", "run", "services", "describe", service, *where, "--format=value(status.url)"],
    ]  # fmt: skip


def render_commands(cmds: Sequence[Sequence[str]]) -> str:
    """Shell text for ``--dry-run``: one shell-quoted command per line."""
    return "\n".join(shlex.join(list(cmd)) for cmd in cmds) + ("\n" if cmds else "")


# --------------------------------------------------------------------------- DashScope


@dataclass(frozen=True)
class DashScopeFunction:
    """One reward function of a Model Studio reinforcement job, as the SDK models it.

    Give exactly one of ``classpath`` (the SDK zips ``workspace_dir``, uploads it and
    runs its own server with ``PROCESSOR_CLASS`` set to this class) or ``entity_id``
    (a function the SDK already registered). ``classpath`` is either
    ``module.path.ClassName`` or ``path/to/file.py:ClassName``, relative to
    ``workspace_dir``. ``env`` becomes the function's environment, e.g.
    ``{"REWARDKIT_TARGET": "rewards", "REWARDKIT_REWARD": "math_accuracy"}``.
    ``reward_metric_weight`` is only sent by the SDK for ``func_type="reward"``.
    """

    name: str
    classpath: str | None = None
    entity_id: str | None = None
    func_type: Literal["reward", "group_reward"] = "reward"
    weight: float = 1.0
    timeout: int | None = None
    workspace_dir: str = "./"
    requirements_path: str = "./requirements.txt"
    extra_files: tuple[str, ...] = ()
    cpu: float | None = None
    memory_size: int | None = None
    disk_size: int | None = None
    concurrency: int | None = None
    min_capacity: int | None = None
    max_capacity: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    reward_metric_weight: Mapping[str, float] | None = None


def _check_dashscope_function(fn: DashScopeFunction) -> None:
    if not fn.name.strip():
        raise DeployConfigError("a DashScope function has an empty name; names must be unique")
    if fn.func_type not in ("reward", "group_reward"):
        raise DeployConfigError(
            f"function {fn.name!r}: func_type {fn.func_type!r} must be 'reward' or 'group_reward'"
        )
    if (fn.classpath is None) == (fn.entity_id is None):
        raise DeployConfigError(
            f"function {fn.name!r}: give exactly one of classpath (to have the SDK deploy it) "
            "or entity_id (a function the SDK registered before)"
        )
    if fn.classpath is not None and not (
        _DOTTED_CLASSPATH.fullmatch(fn.classpath) or _FILE_CLASSPATH.fullmatch(fn.classpath)
    ):
        raise DeployConfigError(
            f"function {fn.name!r}: classpath {fn.classpath!r} must be 'module.path.ClassName' "
            "or 'path/to/file.py:ClassName'"
        )
    if fn.entity_id is not None and not fn.entity_id.strip():
        raise DeployConfigError(f"function {fn.name!r}: entity_id is empty")
    if isinstance(fn.weight, bool) or not math.isfinite(fn.weight) or fn.weight <= 0:
        raise DeployConfigError(f"function {fn.name!r}: weight {fn.weight!r} must be finite and > 0")
    if fn.timeout is not None and fn.timeout <= 0:
        raise DeployConfigError(f"function {fn.name!r}: timeout {fn.timeout} s must be > 0")
    if fn.concurrency is not None and not 1 <= fn.concurrency <= 100:
        raise DeployConfigError(
            f"function {fn.name!r}: concurrency {fn.concurrency} must be 1..100 (Function Compute)"
        )
    for key in fn.env:
        if not _ENV_NAME.fullmatch(key) or key.startswith("FC_"):
            raise DeployConfigError(
                f"function {fn.name!r}: env name {key!r} must be letters, digits and '_', "
                "start with a letter, and not use Function Compute's reserved FC_ prefix"
            )


def _dashscope_function_entry(fn: DashScopeFunction, *, always_runtime: bool) -> dict[str, Any]:
    # "type" must be present: the SDK's discriminator treats a dict without it as a
    # rollout function.
    entry: dict[str, Any] = {"type": fn.func_type, "name": fn.name, "weight": float(fn.weight)}
    if fn.timeout is not None:
        entry["timeout"] = fn.timeout
    if fn.reward_metric_weight:
        entry["reward_metric_weight"] = {k: float(v) for k, v in fn.reward_metric_weight.items()}
    if fn.entity_id is not None:
        entry["entity_id"] = fn.entity_id
    else:
        fcmodel: dict[str, Any] = {
            "zipdir": fn.workspace_dir,
            "classpath": fn.classpath,
            "requirements_path": fn.requirements_path,
        }
        if fn.extra_files:
            fcmodel["extra_files"] = list(fn.extra_files)
        entry["fcmodel"] = fcmodel
    runtime: dict[str, Any] = {
        key: value
        for key, value in (
            ("cpu", fn.cpu),
            ("memory_size", fn.memory_size),
            ("disk_size", fn.disk_size),
            ("concurrency", fn.concurrency),
            ("min_capacity", fn.min_capacity),
            ("max_capacity", fn.max_capacity),
        )
        if value is not None
    }
    if fn.env:
        runtime["env"] = {key: str(value) for key, value in fn.env.items()}
    if runtime or always_runtime:
        entry["runtime"] = runtime
    return entry


def dashscope_functions_config(functions: Sequence[DashScopeFunction]) -> dict[str, Any]:
    """The ``functions`` section of a DashScope SDK tuning config (``AgenticRL().init(yaml)``).

    What the SDK really accepts (``dashscope`` 2.0.2, ``TuningModel.functions``): a list
    of function components, each discriminated by ``type`` (``reward`` or
    ``group_reward``), with ``name``, ``weight``, ``timeout``, optional
    ``reward_metric_weight``, and either ``entity_id`` (already registered) or
    ``fcmodel`` {``zipdir``, ``classpath``, ``requirements_path``, ``extra_files``}
    (the SDK zips ``zipdir`` without tests/, data/ and *.md, uploads it and runs its
    own server with ``FUNC_TYPE`` and ``PROCESSOR_CLASS``), plus ``runtime``
    {``cpu``, ``memory_size``, ``disk_size``, ``concurrency``, ``min_capacity``,
    ``max_capacity``, ``env``}. At submit time ``combine_ids_runtimes`` flattens each
    into ``{"reward_id": entity_id, "name", "weight", "timeout", ...runtime}``.

    There is no field for an arbitrary URL: the component model forbids extra keys and
    the job only references functions by the ``reward_id`` the platform issued when the
    SDK registered them. A rewardkit service you run yourself (Cloud Run, your own
    Function Compute via ``deploy/fc/s.yaml``) therefore cannot be named in a job; point
    the SDK at rewardkit's processor class with ``classpath`` instead, or reuse an
    ``entity_id`` from an earlier registration. The SDK checks that
    ``requirements_path`` exists inside ``workspace_dir``: list ``rewardkit`` (and what
    your rewards import) there. Names must be unique (the SDK rejects duplicates with
    error 3004); weights combine the functions' scores platform-side. When any function
    has runtime settings, every function gets a ``runtime`` (empty if need be), which
    works around the SDK pairing runtimes with functions by position among those that
    have one.
    """
    if not functions:
        raise DeployConfigError("no DashScope functions given: pass at least one DashScopeFunction")
    seen: set[str] = set()
    for fn in functions:
        _check_dashscope_function(fn)
        if fn.name in seen:
            raise DeployConfigError(f"function name {fn.name!r} is used twice; names must be unique")
        seen.add(fn.name)
    entries = [_dashscope_function_entry(fn, always_runtime=False) for fn in functions]
    if any("runtime" in entry for entry in entries):
        # The SDK pairs the i-th registered id with the i-th function *that has a
        # runtime*, so one function without a runtime shifts every later runtime onto
        # the wrong function. An empty runtime on each keeps them paired.
        entries = [_dashscope_function_entry(fn, always_runtime=True) for fn in functions]
    return {"functions": entries}


# --------------------------------------------------------------------------- Function Compute

# The fc3 component of Serverless Devs (devsapp/fc3, docs/zh/yaml/readme.md: the full s.yaml spec;
# docs/zh/command/deploy.md: `s deploy -t FILE --skip-push -y`). Limits as deploy/fc/s.yaml states them.
FC_PORT = 9000  # customContainerConfig.port; Function Compute sets no PORT, so the environment says it too
FC_AUTH_TYPES = ("function", "anonymous")
FC_DISK_SIZES = (512, 10240)
_REGION = re.compile(r"[a-z]{2}-[a-z0-9-]+")
_NAMESPACE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,28}[a-z0-9])?")  # ACR namespace: 2-30 lowercase, digits, - _
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class FunctionComputeDeployment:
    """One rewardkit service as a Function Compute 3.0 custom-container function behind an HTTP trigger."""

    region: str
    namespace: str  # the Container Registry (ACR) namespace the image is pushed to
    function: str = "rewardkit"
    target: str = "rewards"
    default_reward: str | None = None
    tag: str = "latest"
    cpu: float = 2.0
    memory_mb: int = 4096
    disk_mb: int = 512
    timeout: int = 300
    concurrency: int = 16
    auth: str = "function"
    source: str = "."
    env: Mapping[str, str] = field(default_factory=dict)  # more environment (REWARDKIT_MAX_QUEUE from a sizing)

    @property
    def registry(self) -> str:
        return f"registry.{self.region}.aliyuncs.com"

    @property
    def image(self) -> str:
        return f"{self.registry}/{self.namespace}/{self.function}:{self.tag}"

    def check(self) -> None:
        if not _REGION.fullmatch(self.region):
            raise DeployConfigError(f"region {self.region!r} must be a Function Compute region such as cn-hangzhou")
        if not _NAMESPACE.fullmatch(self.namespace):
            raise DeployConfigError(f"namespace {self.namespace!r} must be a Container Registry namespace: 2-30 "
                                    "lowercase letters, digits, '-' or '_'")
        if not _SERVICE_NAME.fullmatch(self.function):  # a subset of Function Compute's names, and the image's
            raise DeployConfigError(f"function name {self.function!r}: use lowercase letters, digits and hyphens, "
                                    "start with a letter, end with a letter or digit, < 50 chars")
        if not _TAG.fullmatch(self.tag):
            raise DeployConfigError(f"tag {self.tag!r} must be an image tag: letters, digits, '_', '.', '-'")
        _require("target", self.target)
        _require("source", self.source)
        if self.memory_mb % 64 or not 128 <= self.memory_mb <= 32768:
            raise DeployConfigError(f"memory {self.memory_mb} MB must be a multiple of 64 between 128 and 32768")
        if not 0.05 <= self.cpu <= 16 or not 1 <= self.memory_mb / 1024 / self.cpu <= 4:
            raise DeployConfigError(f"{self.cpu:g} vCPU with {self.memory_mb} MB: Function Compute wants 1 to 4 GB "
                                    "of memory per vCPU")
        if self.disk_mb not in FC_DISK_SIZES:
            raise DeployConfigError(f"disk {self.disk_mb} MB must be 512 or 10240")
        if not 1 <= self.concurrency <= 100:
            raise DeployConfigError(f"concurrency {self.concurrency} must be 1..100 (Function Compute)")
        if not 1 <= self.timeout <= 86400:
            raise DeployConfigError(f"timeout {self.timeout} s must be between 1 and 86400")
        if self.auth not in FC_AUTH_TYPES:
            raise DeployConfigError(f"auth {self.auth!r} must be one of {', '.join(FC_AUTH_TYPES)}")


def fc_s_yaml(deployment: FunctionComputeDeployment) -> dict[str, Any]:
    """The Serverless Devs project (s.yaml) of the function: fc3, custom-container, an HTTP trigger."""
    deployment.check()
    env = {"PORT": str(FC_PORT), "REWARDKIT_HOST": "0.0.0.0", "REWARDKIT_TARGET": deployment.target}
    if deployment.default_reward:
        env["REWARDKIT_REWARD"] = deployment.default_reward
    env.update(deployment.env)
    props = {
        "region": deployment.region,
        "functionName": deployment.function,
        "description": f"rewardkit reward service {deployment.function} ({deployment.target})",
        "runtime": "custom-container",
        "customContainerConfig": {
            "image": deployment.image,
            "port": FC_PORT,
            "healthCheckConfig": {"httpGetUrl": "/health", "initialDelaySeconds": 2, "periodSeconds": 2,
                                  "timeoutSeconds": 2, "failureThreshold": 30, "successThreshold": 1},
        },
        "cpu": deployment.cpu,
        "memorySize": deployment.memory_mb,
        "diskSize": deployment.disk_mb,
        "timeout": deployment.timeout,
        "instanceConcurrency": deployment.concurrency,
        "environmentVariables": env,
        "triggers": [{"triggerName": "http", "triggerType": "http", "qualifier": "LATEST",
                      "triggerConfig": {"authType": deployment.auth, "disableURLInternet": False,
                                        "methods": ["GET", "POST"]}}],
    }
    return {"edition": "3.0.0", "name": deployment.function, "access": "default",
            "resources": {deployment.function: {"component": "fc3", "props": props}}}


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}  # YAML 1.1 reads these as values


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block YAML of dicts, lists and scalars (strings as JSON strings: valid YAML double-quoted scalars)."""
    import json

    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            name = key if _PLAIN_KEY.fullmatch(key) and key.lower() not in _YAML_WORDS else json.dumps(key)
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{name}:\n{to_yaml(item, indent + 2)}")
            else:
                lines.append(f"{pad}{name}: {to_yaml(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            text = to_yaml(item, indent + 2).lstrip() if isinstance(item, (dict, list)) and item else to_yaml(item)
            lines.append(f"{pad}- {text}")
        return "\n".join(lines)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False)


def fc_deploy_commands(deployment: FunctionComputeDeployment, s_yaml: str) -> list[list[str]]:
    """Build the image for Function Compute's platform, push it to the region's registry, deploy the function.

    `s deploy --skip-push`: the image is pushed by the command before (the fc3 component would push it too,
    from its own build); `-y` answers its prompts. Log in to the registry first (`docker login REGISTRY`)."""
    deployment.check()
    return [
        ["docker", "build", "--platform=linux/amd64", "-t", deployment.image, deployment.source],
        ["docker", "push", deployment.image],
        ["s", "deploy", "-t", s_yaml, "--skip-push", "-y"],
    ]

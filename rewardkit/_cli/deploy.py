"""`rewardkit config vertex|dashscope|capacity` and `rewardkit deploy cloudrun|fc`: platform configuration."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from typing import Any, Callable, Literal

from .._errors import RewardkitError
from .._project.capacity import (
    DEFAULT_MAX_QUEUE,
    REWARD_TIMEOUT,
    JobShape,
    Platform,
    RewardCost,
    Sizing,
    read_bench,
    read_job,
    size,
)
from .._registry import NATIVE_TWIN

# The processor classes rewardkit.dashscope builds from REWARDKIT_TARGET / REWARDKIT_REWARD.
DASHSCOPE_PROCESSOR_MODULE = "rewardkit.dashscope"
DASHSCOPE_PROCESSOR_CLASSES = {"reward": "TargetRewardProcessor", "group_reward": "TargetGroupRewardProcessor"}
DASHSCOPE_CLASSPATHS = {kind: f"{DASHSCOPE_PROCESSOR_MODULE}.{name}"
                        for kind, name in DASHSCOPE_PROCESSOR_CLASSES.items()}
# Where `deploy fc` writes the Serverless Devs project, inside the project folder: rewardkit's, rewritten each time.
FC_S_YAML = ".rewardkit/fc/s.yaml"
# What a workspace module re-exporting them is called in the advice below.
_SHIM_MODULE = "rewardkit_processors"
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class ConfigError(RewardkitError):
    """The command line asks for a configuration that cannot work; the message says why."""


def parse_reward(text: str) -> tuple[str, float | None]:
    """`NAME` or `NAME:WEIGHT` (a positive number)."""
    name, sep, weight = text.rpartition(":") if ":" in text else (text, "", "")
    if not sep:
        return text, None
    try:
        return name, float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--reward {text!r}: WEIGHT must be a number, as in math_accuracy:0.8") from None


def _registry(target: str) -> Any:
    from .._loader import load_registry

    return load_registry(target)


def _chosen(args: argparse.Namespace, contract: str) -> list[tuple[str, float, bool]]:
    """(name, weight, grouped) for each --reward, checked against the target; the default reward when none."""
    from .._loader import resolve_target, target_line
    from .._registry import default_reward

    given = args.target is not None
    args.target = resolve_target(args.target)
    print(f"rewardkit config: {target_line('checking names in', 'use', args.target, given=given, flag='--target')}",
          file=sys.stderr)
    registry = _registry(args.target)
    picks = args.reward or []
    if not picks:
        default = default_reward(registry, os.environ.get("REWARDKIT_REWARD") or None)
        if default is None:
            raise ConfigError(f"{args.target!r} serves several rewards ({', '.join(registry.names())}); "
                              "choose with --reward NAME[:WEIGHT] (repeat it for a composite)")
        picks = [(default, None)]
    chosen = []
    for name, weight in picks:
        if name not in registry:
            raise ConfigError(f"{args.target!r} has no reward {name!r}; its rewards: {', '.join(registry.names())}")
        spec = registry.get(name)
        if contract == "vertex" and spec.grouped:
            raise ConfigError(f"reward {name!r} is grouped: Vertex sends one response per call, so it cannot "
                              "score a Vertex job; use it with DashScope group_reward")
        chosen.append((name, spec.weight if weight is None else weight, spec.grouped))
    return chosen


def _config_vertex(args: argparse.Namespace) -> int:
    from .._project.deployment import vertex_job_body, vertex_reward_config

    rewards = [(name, weight) for name, weight, _ in _chosen(args, "vertex")]
    if args.job:
        body = vertex_job_body(args.url, rewards, base_model=args.base_model,
                               training_dataset_uri=args.training_data, validation_dataset_uri=args.validation_data)
    else:
        body = vertex_reward_config(args.url, rewards)
    if args.autorater_model:
        _go_native(body.get("reinforcementTuningSpec", body), _registry(args.target), args.autorater_model)
    print(json.dumps(body, indent=2))
    return 0


def _go_native(reward_config: dict[str, Any], registry: Any, model: str) -> None:
    """Replace the Cloud Run scorer of each judge reward with Vertex's own autorater on `model` (in place)."""
    single = reward_config.get("singleRewardConfig")
    weighted = reward_config.get("compositeRewardConfig", {}).get("weightedRewardConfigs", [])
    slots = [(reward_config, "singleRewardConfig")] if single else [(w, "rewardConfig") for w in weighted]
    natives = 0
    for holder, key in slots:
        native = getattr(getattr(registry.get(holder[key]["rewardName"]), "fn", None), NATIVE_TWIN, None)
        if native is not None:
            try:
                holder[key] = native(model)
            except RewardkitError as exc:
                raise ConfigError(str(exc)) from None
            natives += 1
    if not natives:
        names = ", ".join(holder[key]["rewardName"] for holder, key in slots)
        raise ConfigError(f"--autorater-model: none of {names} is a judge_reward with a native Vertex autorater")


def processor_module(text: str) -> str:
    """A dotted module name (`rewardkit.dashscope`, `rewardkit_processors`)."""
    if not _MODULE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"--processor-module {text!r}: expected a dotted module name such as "
                                         f"{_SHIM_MODULE}")
    return text


def _workspace_notes(workspace: str, module: str, requirements: str) -> list[str]:
    """What the SDK's deployment would refuse in `workspace`: it checks, before uploading, that the
    classpath's file and the requirements file are there (and exits with error 4021 otherwise)."""
    notes = []
    module_file = os.path.join(workspace, module.replace(".", "/") + ".py")
    if not os.path.isfile(module_file):
        shim = os.path.join(workspace, f"{_SHIM_MODULE}.py")
        notes.append(
            f"the DashScope SDK deploys a classpath only when its file is inside the workspace, and {module_file} "
            f"is not there. Create {shim} containing\n"
            f"    from rewardkit.dashscope import {', '.join(sorted(DASHSCOPE_PROCESSOR_CLASSES.values()))}\n"
            f"and run this again with --processor-module {_SHIM_MODULE}."
        )
    requirements_file = os.path.join(workspace, requirements)
    if not os.path.isfile(requirements_file):
        notes.append(f"{requirements_file} does not exist; the SDK refuses to deploy without it. List rewardkit "
                     "(and what your rewards import) in it.")
    return notes


def _config_dashscope(args: argparse.Namespace) -> int:
    from .._project.deployment import DashScopeFunction, dashscope_functions_config

    functions = []
    for name, weight, grouped in _chosen(args, "dashscope"):
        func_type: Literal["reward", "group_reward"] = "group_reward" if grouped or args.group else "reward"
        functions.append(DashScopeFunction(
            name=name, classpath=f"{args.processor_module}.{DASHSCOPE_PROCESSOR_CLASSES[func_type]}",
            func_type=func_type, weight=weight, timeout=args.timeout, workspace_dir=args.workspace,
            requirements_path=args.requirements, env={"REWARDKIT_TARGET": args.target, "REWARDKIT_REWARD": name},
        ))
    print(json.dumps(dashscope_functions_config(functions), indent=2))
    # Advice, not a refusal: this may run away from the workspace the SDK will zip.
    for note in _workspace_notes(args.workspace, args.processor_module, args.requirements):
        print(f"rewardkit config dashscope: note: {note}", file=sys.stderr)
    return 0


def _project_plan(args: argparse.Namespace, what: str, name: str | None) -> tuple[str, str, list[str]]:
    """(target, name, rewards) to deploy, after checking the project folder can serve them; `name` (a service's,
    a function's) defaults to one derived from the project's."""
    from pathlib import Path

    from .._loader import describe_target, resolve_target
    from .._project.checks import check_rewards, dockerfile_target, read_dockerfile, service_name

    source = Path(args.source)
    declared = dockerfile_target(read_dockerfile(source))
    target = resolve_target(args.target or declared)
    rewards = [reward for reward, _ in args.reward or []]
    registered = check_rewards(source, target, rewards)
    name = name or service_name(source)
    whence = ("--target" if args.target else "the Dockerfile's REWARDKIT_TARGET" if declared
              else "$REWARDKIT_TARGET" if os.environ.get("REWARDKIT_TARGET") else "no TARGET anywhere: the default")
    print(f"rewardkit deploy: {what} {name!r} serving {describe_target(target)} (from {whence}): "
          f"{', '.join(registered)}", file=sys.stderr)
    return target, name, rewards


def _cloudrun_plan(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    return _project_plan(args, "service", args.service)


def _deploy_cloudrun(args: argparse.Namespace) -> int:
    from .._project.deployment import PROJECT_NUMBER_PLACEHOLDER, cloudrun_deploy_commands, render_commands

    target, service, rewards = _cloudrun_plan(args)
    sized = _sized(args, "cloudrun", float(args.cpu or CLOUD_RUN_DEFAULTS["cpu"]), args.timeout)
    chosen = _settings(args, CLOUD_RUN_DEFAULTS, {
        "memory": sized.memory, "cpu": str(sized.workers), "concurrency": sized.concurrency,
        "min_instances": sized.min_instances, "max_instances": sized.max_instances} if sized else None)
    env = {"REWARDKIT_MAX_QUEUE": str(sized.max_queue)} if sized and sized.max_queue != DEFAULT_MAX_QUEUE else {}
    commands = cloudrun_deploy_commands(project=args.project, region=args.region, service=service,
                                        source=args.source, target=target, memory=chosen["memory"], cpu=chosen["cpu"],
                                        concurrency=chosen["concurrency"], timeout=args.timeout,
                                        min_instances=chosen["min_instances"], max_instances=chosen["max_instances"],
                                        default_reward=rewards[0] if rewards else None, env=env)
    if args.dry_run:
        print(render_commands(commands), end="")
        return 0
    deploy, describe_project, grant, describe_url = commands
    _run(deploy)
    number = _run(describe_project, capture=True).strip()
    _run([part.replace(PROJECT_NUMBER_PLACEHOLDER, number) for part in grant])
    url = _run(describe_url, capture=True).strip()
    named = " ".join(f"--reward {name}" for name in rewards) or "--reward NAME"
    print(f"\nThe service is private; the Vertex AI tuning service agent of project {number} may call it.\n"
          f"Reward config for tuningJobs.create:  rewardkit config vertex --url {url} --target {target} {named}")
    return 0


def _deploy_fc(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .._project.deployment import FunctionComputeDeployment, fc_deploy_commands, fc_s_yaml, render_commands, to_yaml

    target, function, rewards = _project_plan(args, "function", args.function)
    sized = _sized(args, "fc", args.cpu or FC_DEFAULTS["cpu"], args.timeout)
    chosen = _settings(args, FC_DEFAULTS, {
        "cpu": float(sized.workers), "memory": sized.memory_mb, "concurrency": sized.concurrency} if sized else None)
    env = {"REWARDKIT_MAX_QUEUE": str(sized.max_queue)} if sized and sized.max_queue != DEFAULT_MAX_QUEUE else {}
    deployment = FunctionComputeDeployment(
        region=args.region, namespace=args.namespace, function=function, target=target,
        default_reward=rewards[0] if rewards else None, tag=args.tag, cpu=chosen["cpu"], memory_mb=chosen["memory"],
        disk_mb=args.disk, timeout=args.timeout, concurrency=chosen["concurrency"], auth=args.auth, source=args.source,
        env=env)
    if sized:  # fc3's s.yaml has no minimum-instance field: the console or the API sets it
        print(f"rewardkit deploy: keep {sized.min_instances} instance(s) warm while the job runs: set the "
              f"function's minimum instances to {sized.min_instances} (and its instance limit to "
              f"{sized.max_instances}) in the Function Compute console; set it back to 0 after", file=sys.stderr)
    s_yaml = Path(args.source) / FC_S_YAML
    text = to_yaml(fc_s_yaml(deployment)) + "\n"
    commands = fc_deploy_commands(deployment, str(s_yaml))
    if args.dry_run:  # a script: the file, then the commands
        folder, file = shlex.quote(str(s_yaml.parent)), shlex.quote(str(s_yaml))
        print(f"mkdir -p {folder}\ncat > {file} <<'EOF'\n{text}EOF\n{render_commands(commands)}", end="")
        return 0
    missing = [tool for tool in ("docker", "s") if shutil.which(tool) is None]
    if missing:  # before anything is written or built
        raise ConfigError(f"{' and '.join(missing)} not installed or not on PATH (Serverless Devs: npm install -g "
                          "@serverless-devs/s, then s config add); run with --dry-run to print the script")
    s_yaml.parent.mkdir(parents=True, exist_ok=True)
    s_yaml.write_text(text)
    print(f"rewardkit deploy: wrote {s_yaml}", file=sys.stderr)
    for command in commands:
        _run(command)
    print(f"\nDeployed {function} ({deployment.image}). The HTTP trigger's URL is in `s deploy`'s output above; "
          f"the scoring routes are /api/v1 (default reward) and /rewards/NAME/api/v1.")
    return 0


# ---- capacity from the job ---------------------------------------------------------

# What `deploy` uses when neither a flag nor the job's shape says otherwise.
CLOUD_RUN_DEFAULTS: dict[str, Any] = {"memory": "2Gi", "cpu": "2", "concurrency": 16, "min_instances": None,
                                      "max_instances": None}
FC_DEFAULTS: dict[str, Any] = {"cpu": 2.0, "memory": 4096, "concurrency": 16}
_JOB_FLAGS = ("samples_per_prompt", "batch_size", "tuning_job", "bench", "calls_per_second", "p99")


def _job_shape(args: argparse.Namespace) -> JobShape:
    samples, batch = args.samples_per_prompt, args.batch_size
    if args.tuning_job:
        try:
            with open(args.tuning_job) as file:
                text = file.read()
        except OSError as exc:
            raise ConfigError(f"--tuning-job {args.tuning_job}: {exc.strerror}") from None
        from_file = read_job(text, args.tuning_job)
        samples = samples if samples is not None else from_file[0]
        batch = batch if batch is not None else from_file[1]
    missing = [flag for flag, value in (("--samples-per-prompt", samples), ("--batch-size", batch)) if value is None]
    if missing:
        where = f"{args.tuning_job} leaves it to the platform; " if args.tuning_job else ""
        raise ConfigError(f"the job's shape needs {' and '.join(missing)} ({where}give the value the job runs with)")
    return JobShape(samples, batch, grouped=getattr(args, "group", False))


def _reward_cost(args: argparse.Namespace) -> RewardCost:
    if args.bench:
        if args.calls_per_second is not None or args.p99 is not None:
            raise ConfigError("give either --bench FILE or --calls-per-second with --p99, not both")
        try:
            with open(args.bench) as file:
                return read_bench(file.read(), args.bench)
        except OSError as exc:
            raise ConfigError(f"--bench {args.bench}: {exc.strerror}") from None
    if args.calls_per_second is None or args.p99 is None:
        raise ConfigError("the reward's cost is needed: --bench FILE (rewardkit replay --bench --bench-out FILE on "
                          "your data), or --calls-per-second (per worker) with --p99 (seconds)")
    return RewardCost(args.calls_per_second, args.p99)


def _sized(args: argparse.Namespace, platform: Platform, cpu: float, timeout: float) -> Sizing | None:
    """The sizing when any of the job's flags is given (its arithmetic on stderr); None otherwise."""
    if not any(getattr(args, name) is not None for name in _JOB_FLAGS):
        return None
    sizing = size(platform, _job_shape(args), _reward_cost(args), timeout=timeout, cpu=cpu)
    print("rewardkit deploy: capacity for one step:\n" + "\n".join(f"  {line}" for line in sizing.lines),
          file=sys.stderr)
    return sizing


def _settings(args: argparse.Namespace, defaults: dict[str, Any], sized: dict[str, Any] | None) -> dict[str, Any]:
    """Each setting: its flag when given, else the sized value, else the default."""
    chosen = {}
    for name, default in defaults.items():
        given = getattr(args, name)
        chosen[name] = given if given is not None else sized[name] if sized else default
        if given is not None and sized and str(given) != str(sized[name]):
            print(f"rewardkit deploy: --{name.replace('_', '-')} {given} given: kept instead of {sized[name]}",
                  file=sys.stderr)
    return chosen


def _config_capacity(args: argparse.Namespace) -> int:
    sizing = size(args.platform_name, _job_shape(args), _reward_cost(args), timeout=args.timeout, cpu=args.cpu)
    where = "Cloud Run" if sizing.platform == "cloudrun" else "Function Compute"
    print(f"Capacity on {where} for one step of {sizing.calls:,} reward calls:")
    print("\n".join(f"  {line}" for line in sizing.lines))
    print("Settings:")
    print("\n".join(f"  {name}: {value}" for name, value in sizing.settings().items()))
    return 0


def _job_options(parser: argparse.ArgumentParser, required: bool) -> None:
    """The job's shape and the reward's measured cost, which size the service."""
    from .replay import _positive_int
    group = parser.add_argument_group("capacity from the job" + ("" if required else
                                      " (any of these sizes the service: rewardkit config capacity shows how)"))
    group.add_argument("--samples-per-prompt", type=_positive_int, default=None, metavar="N",
                       help="responses sampled per prompt (Vertex samplesPerPrompt, DashScope n_rollouts); "
                       "required unless --tuning-job gives it")
    group.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                       help="prompts per training step (Vertex batchSize, DashScope batch_size); required unless "
                       "--tuning-job gives it")
    group.add_argument("--tuning-job", default=None, metavar="FILE",
                       help="read both from a Vertex tuningJobs.create body (JSON: reinforcementTuningSpec."
                       "hyperParameters) or a DashScope SDK job file (YAML or JSON: training.hyper_parameters); "
                       "the two flags above win; default: none")
    group.add_argument("--bench", default=None, metavar="FILE",
                       help="the reward's measured cost: the JSON of rewardkit replay --bench --bench-out FILE; "
                       "required unless --calls-per-second and --p99 give it")
    group.add_argument("--calls-per-second", type=_positive_float, default=None, metavar="RATE",
                       help="instead of --bench: calls a second one worker scores (default: none)")
    group.add_argument("--p99", type=_positive_float, default=None, metavar="SECONDS",
                       help="instead of --bench: the 99th percentile of one call's latency (default: none)")


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value!r}")
    return number


def _run(command: list[str], capture: bool = False) -> str:
    print("+ " + " ".join(command), file=sys.stderr)
    try:
        done = subprocess.run(command, check=True, text=True, stdout=subprocess.PIPE if capture else None)
    except FileNotFoundError:
        raise ConfigError(f"{command[0]} is not installed or not on PATH; run with --dry-run to print the "
                          "commands") from None
    except subprocess.CalledProcessError as exc:
        raise ConfigError(f"{command[0]} exited with {exc.returncode}: {' '.join(command)}") from None
    return done.stdout or ""


def _handle(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (RewardkitError, ValueError) as exc:
            print(f"rewardkit {args.command}: {exc}", file=sys.stderr)
            return 2

    return run


def _project_options(parser: argparse.ArgumentParser, what: str, default_route: str) -> None:
    """What every `deploy` takes from the project folder: the folder, its target, the rewards to check."""
    parser.add_argument("--source", default=".", help="the project folder, with the Dockerfile (default .)")
    parser.add_argument("--target", default=None,
                        help=f"REWARDKIT_TARGET of the {what} (default: the one the Dockerfile sets, else "
                        "$REWARDKIT_TARGET, else the built-in 'rewards')")
    parser.add_argument("--reward", action="append", type=parse_reward, metavar="NAME",
                        help=f"a reward the {what} must serve, repeatable; checked before deploying, the first "
                        f"becomes the default reward of {default_route} (default: none checked, no default set)")


def add_parsers(commands: Any) -> None:
    config = commands.add_parser("config", help="print platform configuration for served rewards")
    platforms = config.add_subparsers(dest="platform", required=True, metavar="PLATFORM")

    vertex = platforms.add_parser(
        "vertex", help="the reward config of a Vertex AI tuningJobs.create body",
        description="Print the singleRewardConfig (one --reward) or compositeRewardConfig (several) that points a "
        "Vertex AI reinforcement tuning job at rewards served at URL: one cloudRunRewardScorer per reward "
        "(URL/rewards/NAME), parse type IDENTITY, weights from NAME:WEIGHT or the reward's weight=.")
    vertex.add_argument("--url", required=True, help="the Cloud Run service URL (https://...run.app)")
    vertex.add_argument("--reward", action="append", type=parse_reward, metavar="NAME[:WEIGHT]",
                        help="a served reward, repeatable (at most 16); default: the target's default reward")
    vertex.add_argument("--target", default=None,
                        help="the served module, to check the names (default $REWARDKIT_TARGET, else the built-in "
                        "'rewards' package)")
    vertex.add_argument("--job", action="store_true", help="print a whole example tuningJobs.create body around it")
    vertex.add_argument("--base-model", default="gemini-2.5-flash", help="with --job (default gemini-2.5-flash)")
    vertex.add_argument("--training-data", default="gs://BUCKET/train.jsonl",
                        help="with --job: training JSONL URI (default gs://BUCKET/train.jsonl)")
    vertex.add_argument("--validation-data", default=None, help="with --job: validation JSONL URI (default none)")
    vertex.add_argument("--autorater-model", default=None, metavar="projects/P/locations/L/publishers/google/models/M",
                        help="score each judge_reward with Vertex's native autorater on this model instead of "
                             "Cloud Run (docs/judges.md; default: none, every reward on Cloud Run)")
    vertex.set_defaults(handler=_handle(_config_vertex))

    dashscope = platforms.add_parser(
        "dashscope", help="the functions section of a DashScope SDK reinforcement job",
        description="Print the `functions` section that has the DashScope SDK deploy rewardkit rewards as its own "
        "reward functions: classpath rewardkit.dashscope.Target[Group]RewardProcessor (or the same classes "
        "re-exported by --processor-module), with REWARDKIT_TARGET and REWARDKIT_REWARD in the function's "
        "environment. Notes on stderr say what the SDK would refuse to deploy from --workspace.")
    dashscope.add_argument("--reward", action="append", type=parse_reward, metavar="NAME[:WEIGHT]",
                           help="a served reward, repeatable; default: the target's default reward")
    dashscope.add_argument("--target", default=None,
                           help="the module the function serves (default $REWARDKIT_TARGET, else the built-in "
                           "'rewards' package)")
    dashscope.add_argument("--group", action="store_true",
                           help="deploy single rewards as group_reward functions too (grouped rewards always are)")
    dashscope.add_argument("--timeout", type=int, default=None,
                           help="seconds per call, as the SDK's timeout (default: the SDK's)")
    dashscope.add_argument("--workspace", default="./", help="the folder the SDK zips and uploads (default ./)")
    dashscope.add_argument("--requirements", default="./requirements.txt",
                           help="requirements file inside the workspace; it must list rewardkit "
                           "(default ./requirements.txt)")
    dashscope.add_argument("--processor-module", type=processor_module, default=DASHSCOPE_PROCESSOR_MODULE,
                           help="the module the classpaths name (default rewardkit.dashscope). The SDK needs its file "
                           f"inside the workspace: use a workspace module that re-exports the processors, e.g. "
                           f"{_SHIM_MODULE}")
    dashscope.set_defaults(handler=_handle(_config_dashscope))

    capacity = platforms.add_parser(
        "capacity", help="instances and their size for one training step's burst of reward calls",
        description="Print, with the arithmetic line by line, the concurrency, CPU, memory and minimum and maximum "
        "instances (Cloud Run), or concurrency, capacity, cpu and memory_size (Function Compute), that answer one "
        "step's samples_per_prompt x batch_size reward calls at once within half the reward timeout, from the "
        "job's shape and the reward's cost measured by rewardkit replay --bench. `rewardkit deploy` takes the same "
        "options and deploys with these values.")
    capacity.add_argument("platform_name", choices=["cloudrun", "fc"], metavar="cloudrun|fc",
                          help="where the reward service runs: Cloud Run (Vertex AI) or Function Compute")
    _job_options(capacity, required=True)
    capacity.add_argument("--cpu", type=float, default=2, help="vCPUs per instance, one worker each (default 2)")
    capacity.add_argument("--timeout", type=float, default=REWARD_TIMEOUT,
                          help=f"the platform's time limit for one reward call, seconds (default {REWARD_TIMEOUT}: "
                          "Vertex's 5 minutes)")
    capacity.add_argument("--group", action="store_true",
                          help="one call per prompt with all its responses (a DashScope group_reward)")
    capacity.set_defaults(handler=_handle(_config_capacity))

    deploy = commands.add_parser("deploy", help="deploy the service")
    clouds = deploy.add_subparsers(dest="cloud", required=True, metavar="CLOUD")
    cloudrun = clouds.add_parser(
        "cloudrun", help="build and deploy to Cloud Run, private, callable by Vertex AI tuning",
        description="Run (or with --dry-run print) the gcloud commands: deploy from source without public access, "
        "look up the project number, grant roles/run.invoker to the Vertex AI fine-tuning service agent "
        "service-PROJECT_NUMBER@gcp-sa-vertex-tune.iam.gserviceaccount.com, print the service URL.")
    cloudrun.add_argument("--project", required=True, help="the Google Cloud project id (required)")
    cloudrun.add_argument("--region", required=True, help="the Cloud Run region, e.g. us-central1 (required)")
    cloudrun.add_argument("--service", default=None,
                          help="the Cloud Run service name (default: from the project's name in pyproject.toml, "
                          "else the folder's name)")
    _project_options(cloudrun, "service", "POST /")
    cloudrun.add_argument("--memory", default=None,
                          help="memory per instance (default: sized from the job, else 2Gi)")
    cloudrun.add_argument("--cpu", default=None, help="vCPUs per instance (default 2)")
    cloudrun.add_argument("--concurrency", type=int, default=None,
                          help="requests per instance at once (default: sized from the job, else 16: rewards are "
                          "CPU-bound)")
    cloudrun.add_argument("--timeout", type=int, default=REWARD_TIMEOUT,
                          help=f"request timeout in seconds (default {REWARD_TIMEOUT}, what Vertex allows)")
    cloudrun.add_argument("--min-instances", type=int, default=None,
                          help="instances kept warm (default: sized from the job, else Cloud Run's, 0)")
    cloudrun.add_argument("--max-instances", type=int, default=None,
                          help="instance cap (default: sized from the job, else Cloud Run's)")
    _job_options(cloudrun, required=False)
    cloudrun.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    cloudrun.set_defaults(handler=_handle(_deploy_cloudrun))

    fc = clouds.add_parser(
        "fc", help="build, push and deploy to Function Compute 3.0 (custom container, HTTP trigger)",
        description="Check the project, then run (or with --dry-run print, as a script) what deploys it to "
        f"Function Compute: write the Serverless Devs project {FC_S_YAML} (fc3 component, custom-container runtime "
        "on port 9000, /health check, an HTTP trigger for GET and POST), build the image for linux/amd64, push it "
        "to the region's Container Registry (log in first: docker login registry.REGION.aliyuncs.com), and "
        "`s deploy` it.")
    fc.add_argument("--region", required=True, help="the Function Compute region, e.g. cn-hangzhou (required)")
    fc.add_argument("--namespace", required=True,
                    help="the Container Registry namespace the image goes to (required)")
    fc.add_argument("--function", default=None,
                    help="the function's name, also the image's (default: from the project's name)")
    _project_options(fc, "function", "POST /api/v1")
    fc.add_argument("--tag", default="latest", help="the image tag (default latest)")
    fc.add_argument("--cpu", type=float, default=None, help="vCPUs (default 2)")
    fc.add_argument("--memory", type=int, default=None,
                    help="MB, a multiple of 64, 1-4 GB per vCPU (default: sized from the job, else 4096)")
    fc.add_argument("--disk", type=int, default=512, choices=[512, 10240], help="MB (default 512)")
    fc.add_argument("--timeout", type=int, default=REWARD_TIMEOUT,
                    help=f"seconds per request (default {REWARD_TIMEOUT})")
    fc.add_argument("--concurrency", type=int, default=None,
                    help="requests per instance at once, 1-100 (default: sized from the job, else 16: rewards are "
                    "CPU-bound)")
    fc.add_argument("--auth", default="function", choices=["function", "anonymous"],
                    help="the HTTP trigger's authType: function (signed requests, the default) or anonymous (a "
                    "public URL: only with rewardkit's own --auth-token)")
    fc.add_argument("--dry-run", action="store_true", help="print the script instead of running it")
    _job_options(fc, required=False)
    fc.set_defaults(handler=_handle(_deploy_fc))

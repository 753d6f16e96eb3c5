"""rewardkit.dashscope: rewardkit rewards loaded and served by the DashScope SDK's own processor machinery.

Every answer is compared with what rewardkit's own `POST /rewards/NAME/api/v1`
answers for the same body: the adapter promises the same JSON, byte for byte
once keys are sorted (so 1 and 1.0 count as different).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

pytest.importorskip("dashscope")

from dashscope.finetune.reinforcement.common.model_types import FunctionType  # noqa: E402
from dashscope.finetune.reinforcement.common.utils import create_deployment_files, get_filepath_classname  # noqa: E402
from dashscope.finetune.reinforcement.component.data import GroupRewardOutput, RewardOutput  # noqa: E402
from dashscope.finetune.reinforcement.component.func_manager import FuncManager  # noqa: E402
from dashscope.finetune.reinforcement.component.processor import AbstractGroupRewardProcessor, AbstractRewardProcessor  # noqa: E402

import rewardkit  # noqa: E402
import rewardkit.dashscope  # noqa: E402
from rewardkit._cli.main import main as rewardkit_main  # noqa: E402
from rewardkit._loader import load_registry  # noqa: E402
from rewardkit._settings import Settings  # noqa: E402
from rewardkit.dashscope import ProcessorConfigError, RequestRefused, processor  # noqa: E402

from .conftest import EXAMPLE_REWARDS, REPO, contract_example  # noqa: E402
from .served import free_port, wait_healthy  # noqa: E402

SDK_SERVER_APP = "dashscope.finetune.reinforcement.component.server.server:app"
TARGETS = ("rewards", EXAMPLE_REWARDS)
REGISTRIES = {target: load_registry(target) for target in TARGETS}
ALL_REWARDS = [(target, spec.name) for target, registry in REGISTRIES.items() for spec in registry]
SINGLE_REWARDS = [(t, name) for t, name in ALL_REWARDS if not REGISTRIES[t].get(name).grouped]
# A message without a role: the SDK's parser takes any dict as a message, rewardkit's contract refuses it.
ROLELESS = {"func_type": "reward", "ground_truth": "72",
            "agent_output": {"messages": [{"content": "The answer is 72."}], "rollout_extra": {"solution": "72"}}}


def reward_id(pair: tuple[str, str]) -> str:
    target, name = pair
    return f"{'builtin' if target == 'rewards' else 'examples'}:{name}"


def canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True)


@pytest.fixture(scope="module")
def routes() -> Iterator[dict[str, TestClient]]:
    """rewardkit's own app for each target, rewards in-process (workers=0) to keep the machine quiet."""
    with ExitStack() as stack:
        yield {target: stack.enter_context(TestClient(rewardkit.create_app(target, settings=Settings(workers=0))))
               for target in TARGETS}


def route_answer(routes: dict[str, TestClient], target: str, name: str, body: Any) -> tuple[int, Any]:
    response = routes[target].post(f"/rewards/{name}/api/v1", json=body)
    return response.status_code, response.json()


def sdk_answer(manager: FuncManager, body: dict[str, Any]) -> Any:
    """What the SDK's server sends for `body`: its parser, setups(), processes() (sync processors go to a
    thread), then JSONResponse of `model_dump()`, as server.py does."""
    async def run() -> Any:
        await manager.setups()
        return await manager.processes(manager.parses(body))

    result = asyncio.run(run())
    return json.loads(JSONResponse(status_code=200, content=result.model_dump()).body)


def manager_for(cls: type) -> FuncManager:
    func_type = FunctionType.GROUP_REWARD if issubclass(cls, AbstractGroupRewardProcessor) else FunctionType.REWARD
    return FuncManager(func_type, processor=cls())


# ---- in-process: the SDK's FuncManager driving processor classes --------------------------------

@pytest.mark.parametrize("pair", SINGLE_REWARDS, ids=reward_id)
def test_single_processors_answer_the_reward_example_as_the_route(routes, pair):
    target, name = pair
    body = contract_example("dashscope_reward_request.json")
    cls = processor(REGISTRIES[target].get(name))
    assert issubclass(cls, AbstractRewardProcessor)
    answer = sdk_answer(manager_for(cls), body)
    status, expected = route_answer(routes, target, name, body)
    assert status == 200
    assert canonical(answer) == canonical(expected)
    RewardOutput.model_validate(answer)


@pytest.mark.parametrize("pair", ALL_REWARDS, ids=reward_id)
def test_group_processors_answer_the_group_example_as_the_route(routes, pair):
    target, name = pair
    body = contract_example("dashscope_group_request.json")
    spec = REGISTRIES[target].get(name)
    cls = processor(spec, group=True)
    assert issubclass(cls, AbstractGroupRewardProcessor)
    if spec.grouped:  # group=None follows the reward
        assert issubclass(processor(spec), AbstractGroupRewardProcessor)
    answer = sdk_answer(manager_for(cls), body)
    status, expected = route_answer(routes, target, name, body)
    assert status == 200
    assert canonical(answer) == canonical(expected)
    GroupRewardOutput.model_validate(answer)


def test_the_contract_examples_score_as_documented():
    single = sdk_answer(manager_for(processor(rewards_math())), contract_example("dashscope_reward_request.json"))
    group = sdk_answer(manager_for(processor(rewards_math(), group=True)),
                       contract_example("dashscope_group_request.json"))
    assert single["reward"]["reward_score"] == 1.0 and single["status"] == "success"
    assert [r["reward_score"] for r in group["reward"]["rewards"]] == [1.0, 0.0, 1.0]


def rewards_math() -> Any:
    from rewards import math_accuracy

    return math_accuracy


def test_a_grouped_reward_cannot_be_a_single_reward_processor():
    rank = REGISTRIES[EXAMPLE_REWARDS].get("rank")
    with pytest.raises(ProcessorConfigError, match=r"'rank' is grouped.*group=True.*FUNC_TYPE=group_reward"):
        processor(rank, group=False)


def test_a_single_reward_as_a_group_processor_scores_each_output_on_its_own():
    group_body = contract_example("dashscope_group_request.json")
    single = manager_for(processor(rewards_math()))
    group = sdk_answer(manager_for(processor(rewards_math(), group=True)), group_body)
    alone = [sdk_answer(single, {"func_type": "reward", "ground_truth": group_body["ground_truth"],
                                 "request_metadata": group_body["request_metadata"], "agent_output": output})
             for output in group_body["agent_outputs"]]
    assert group["reward"]["rewards"] == [a["reward"] for a in alone]


def test_a_refused_body_raises_request_refused_with_the_routes_answer(routes):
    cls = processor(rewards_math())
    parsed = FuncManager(FunctionType.REWARD, processor=cls()).parses(ROLELESS)  # the SDK's parser lets it through
    with pytest.raises(RequestRefused) as refused:
        cls().process(parsed)
    status, expected = route_answer(routes, "rewards", "math_accuracy", ROLELESS)
    assert (refused.value.status, refused.value.status_code) == (status, status) == (422, 422)
    assert refused.value.message == refused.value.detail == expected["message"]
    assert "messages[0].role" in expected["message"]
    assert refused.value.errors == expected["detail"]


def test_a_grouped_processor_refuses_a_single_output_as_the_route_does(routes):
    rank = processor(REGISTRIES[EXAMPLE_REWARDS].get("rank"))
    body = contract_example("dashscope_reward_request.json")
    with pytest.raises(RequestRefused) as refused:
        rank().process(body)  # a dict is taken as the body as is
    status, expected = route_answer(routes, EXAMPLE_REWARDS, "rank", body)
    assert refused.value.status == status == 422 and refused.value.message == expected["message"]


def test_process_works_where_an_event_loop_already_runs():
    # A notebook cell or an async test calls process() with a loop running in its thread.
    cls = processor(rewards_math())
    body = contract_example("dashscope_reward_request.json")

    async def in_a_loop() -> Any:
        return cls().process(body)

    assert asyncio.run(in_a_loop()).reward.reward_score == 1.0


# ---- TargetRewardProcessor / TargetGroupRewardProcessor: the reward named by the environment ------

def test_target_processors_serve_the_reward_the_environment_names(routes, monkeypatch):
    monkeypatch.setenv("REWARDKIT_TARGET", EXAMPLE_REWARDS)
    body = contract_example("dashscope_reward_request.json")
    group_body = contract_example("dashscope_group_request.json")
    cases = [(FunctionType.REWARD, "TargetRewardProcessor", "contains_reference", body),
             (FunctionType.GROUP_REWARD, "TargetGroupRewardProcessor", "rank", group_body),
             (FunctionType.GROUP_REWARD, "TargetGroupRewardProcessor", "mean_mix", group_body)]
    for func_type, class_name, name, request in cases:
        monkeypatch.setenv("REWARDKIT_REWARD", name)
        # The SDK's own class loading, as its server does with PROCESSOR_CLASS.
        manager = FuncManager.create_from_env(func_type, f"rewardkit.dashscope.{class_name}")
        assert type(manager.processor).__name__ == class_name
        routed = route_answer(routes, EXAMPLE_REWARDS, name, request)[1]
        assert canonical(sdk_answer(manager, request)) == canonical(routed)


def test_target_processors_default_to_the_only_reward_of_the_target(monkeypatch, tmp_path):
    module = tmp_path / "one_reward.py"
    module.write_text("import rewardkit\n\n@rewardkit.reward\ndef echo_length(response: str) -> float:\n"
                      "    return float(len(response))\n")
    monkeypatch.setenv("REWARDKIT_TARGET", str(module))
    monkeypatch.delenv("REWARDKIT_REWARD", raising=False)
    answer = rewardkit.dashscope.TargetRewardProcessor().process(contract_example("dashscope_reward_request.json"))
    assert answer.reward.reward_score == float(len("Natalia sold 72 clips altogether."))


def test_target_processors_need_a_reward_name_when_the_target_has_several(monkeypatch):
    monkeypatch.setenv("REWARDKIT_TARGET", EXAMPLE_REWARDS)
    monkeypatch.delenv("REWARDKIT_REWARD", raising=False)
    with pytest.raises(ProcessorConfigError, match="defines several rewards .*set REWARDKIT_REWARD"):
        rewardkit.dashscope.TargetRewardProcessor()
    # The SDK's server wraps it, and fails to start with the message.
    with pytest.raises(TypeError, match="Instantiation failed.*set REWARDKIT_REWARD"):
        FuncManager.create_from_env(FunctionType.GROUP_REWARD, "rewardkit.dashscope.TargetGroupRewardProcessor")


def test_target_reward_processor_refuses_a_grouped_reward(monkeypatch):
    monkeypatch.setenv("REWARDKIT_TARGET", EXAMPLE_REWARDS)
    monkeypatch.setenv("REWARDKIT_REWARD", "rank")
    with pytest.raises(ProcessorConfigError, match="'rank' is grouped.*TargetGroupRewardProcessor"):
        rewardkit.dashscope.TargetRewardProcessor()


def test_building_a_processor_without_the_sdk_says_how_to_install_it():
    script = ("import sys; sys.modules['dashscope'] = None\n"
              "import rewardkit, rewardkit.dashscope\n"
              "@rewardkit.reward\ndef one(response: str) -> float:\n    return 1.0\n"
              "try:\n    rewardkit.dashscope.processor(one)\nexcept ImportError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "pip install dashscope" in done.stdout


# ---- the SDK's real server, loading the classes by PROCESSOR_CLASS ----------------------------------



def shim_workspace(folder: Path) -> Path:
    """A deployment workspace as `rewardkit config dashscope` advises: a module re-exporting the processors."""
    folder.mkdir(exist_ok=True)
    (folder / "rewardkit_processors.py").write_text(
        "from rewardkit.dashscope import TargetGroupRewardProcessor, TargetRewardProcessor\n")
    (folder / "requirements.txt").write_text("rewardkit\n")
    return folder


@pytest.fixture(scope="module")
def sdk_servers(tmp_path_factory) -> Iterator[dict[str, str]]:
    """One SDK server per func type, started together. The SDK's `python -m` entry binds 0.0.0.0 with no way
    to change it, so this runs the same app the way the SDK also documents (`uvicorn ...server:app`) on
    loopback; the app module reads FUNC_TYPE and PROCESSOR_CLASS and loads the class the same way."""
    workspace = shim_workspace(tmp_path_factory.mktemp("workspace"))
    servers = {
        "reward": {"PROCESSOR_CLASS": "rewardkit.dashscope.TargetRewardProcessor"},
        "group_reward": {"PROCESSOR_CLASS": "rewardkit_processors.TargetGroupRewardProcessor"},
    }
    started: dict[str, tuple[subprocess.Popen, str, Path]] = {}
    try:
        for func_type, extra in servers.items():
            port = free_port()
            log = workspace / f"{func_type}.log"
            env = {**os.environ, **extra, "FUNC_TYPE": func_type, "REWARDKIT_TARGET": "rewards",
                   "REWARDKIT_REWARD": "math_accuracy", "THREAD_POOL_WORKERS": "2",
                   "PYTHONPATH": os.pathsep.join([str(workspace), str(REPO), os.environ.get("PYTHONPATH", "")])}
            with open(log, "w") as out:
                process = subprocess.Popen([sys.executable, "-m", "uvicorn", SDK_SERVER_APP, "--host", "127.0.0.1",
                                            "--port", str(port), "--workers", "1"],
                                           env=env, cwd=workspace, stdout=out, stderr=subprocess.STDOUT)
            started[func_type] = (process, f"http://127.0.0.1:{port}", log)
        for func_type, (process, url, log) in started.items():
            wait_healthy(process, url, 30, f"the SDK server ({func_type})", log.read_text)
        yield {func_type: url for func_type, (_, url, _) in started.items()}
    finally:
        for process, _, _ in started.values():
            process.terminate()
        for process, _, _ in started.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_sdk_server_loads_the_processor_classes(sdk_servers):
    for func_type, name in (("reward", "TargetRewardProcessor"), ("group_reward", "TargetGroupRewardProcessor")):
        health = httpx.get(f"{sdk_servers[func_type]}/health").json()
        assert health["status"] == "healthy" and health["func_type"] == func_type and health["processor"] == name


@pytest.mark.parametrize("func_type, example, model", [
    ("reward", "dashscope_reward_request.json", RewardOutput),
    ("group_reward", "dashscope_group_request.json", GroupRewardOutput),
])
def test_the_sdk_server_answers_the_contract_examples_as_the_route(sdk_servers, routes, func_type, example, model):
    body = contract_example(example)
    response = httpx.post(f"{sdk_servers[func_type]}/api/v1", json=body, timeout=30)
    status, expected = route_answer(routes, "rewards", "math_accuracy", body)
    assert response.status_code == status == 200
    assert canonical(response.json()) == canonical(expected)
    model.model_validate(response.json())


def test_the_sdk_server_refuses_what_the_route_refuses(sdk_servers, routes):
    response = httpx.post(f"{sdk_servers['reward']}/api/v1", json=ROLELESS, timeout=30)
    status, expected = route_answer(routes, "rewards", "math_accuracy", ROLELESS)
    assert response.status_code == status == 422
    # FastAPI's HTTPException body: the route's message, without its per-field list.
    assert response.json() == {"detail": expected["message"]}


# ---- `rewardkit config dashscope`: what it prints loads as processors of the right FUNC_TYPE -----------

def config_dashscope(capsys, *args: str) -> tuple[dict[str, Any], str]:
    assert rewardkit_main(["config", "dashscope", *args]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_config_dashscope_classpaths_load_as_processors_of_their_func_type(routes, capsys, monkeypatch):
    config, _ = config_dashscope(capsys, "--reward", "rank", "--reward", "contains_reference:2",
                                 "--target", EXAMPLE_REWARDS)
    bases = {"reward": AbstractRewardProcessor, "group_reward": AbstractGroupRewardProcessor}
    examples = {"reward": "dashscope_reward_request.json", "group_reward": "dashscope_group_request.json"}
    assert [f["type"] for f in config["functions"]] == ["group_reward", "reward"]
    for function in config["functions"]:
        for key, value in function["runtime"]["env"].items():
            monkeypatch.setenv(key, value)
        manager = FuncManager.create_from_env(FunctionType(function["type"]), function["fcmodel"]["classpath"])
        assert isinstance(manager.processor, bases[function["type"]])
        body = contract_example(examples[function["type"]])
        expected = route_answer(routes, EXAMPLE_REWARDS, function["name"], body)[1]
        assert canonical(sdk_answer(manager, body)) == canonical(expected)


def test_config_dashscope_group_flag_serves_single_rewards_as_group_functions(capsys):
    config, _ = config_dashscope(capsys, "--reward", "math_accuracy", "--group")
    (function,) = config["functions"]
    assert function["type"] == "group_reward"
    assert function["fcmodel"]["classpath"] == "rewardkit.dashscope.TargetGroupRewardProcessor"


def test_config_dashscope_workspace_module_passes_the_sdks_deployment_check(capsys, monkeypatch, tmp_path):
    # The SDK uploads a classpath only if its file is in the workspace: rewardkit/dashscope.py is not.
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "requirements.txt").write_text("rewardkit\n")
    config, notes = config_dashscope(capsys, "--reward", "math_accuracy", "--workspace", str(bare))
    assert "is not there" in notes and "--processor-module rewardkit_processors" in notes
    filepath, classname = get_filepath_classname(config["functions"][0]["fcmodel"]["classpath"])
    with pytest.raises(Exception, match="Deployment file creation error"):
        create_deployment_files(FunctionType.REWARD, str(bare), filepath, classname, "requirements.txt")

    # Following the note: the shim module the note spells out, then --processor-module.
    workspace = shim_workspace(tmp_path / "workspace")
    config, notes = config_dashscope(capsys, "--reward", "math_accuracy", "--workspace", str(workspace),
                                     "--requirements", "requirements.txt", "--processor-module", "rewardkit_processors")
    assert "note:" not in notes  # stderr only says which target the names were checked in
    (function,) = config["functions"]
    classpath = function["fcmodel"]["classpath"]
    assert classpath == "rewardkit_processors.TargetRewardProcessor"
    filepath, classname = get_filepath_classname(classpath)
    create_deployment_files(FunctionType.REWARD, str(workspace), filepath, classname, "requirements.txt")
    assert f'PROCESSOR_CLASS="{classpath}"' in (workspace / "start.sh").read_text()
    # What start.sh then runs: the workspace on PYTHONPATH, the SDK loading PROCESSOR_CLASS.
    monkeypatch.syspath_prepend(str(workspace))
    monkeypatch.delitem(sys.modules, "rewardkit_processors", raising=False)
    for key, value in function["runtime"]["env"].items():
        monkeypatch.setenv(key, value)
    manager = FuncManager.create_from_env(FunctionType.REWARD, classpath)
    assert isinstance(manager.processor, AbstractRewardProcessor)
    assert sdk_answer(manager, contract_example("dashscope_reward_request.json"))["reward"]["reward_score"] == 1.0
    monkeypatch.delitem(sys.modules, "rewardkit_processors", raising=False)


def test_config_dashscope_refuses_a_processor_module_that_is_not_a_module_name(capsys):
    with pytest.raises(SystemExit):
        rewardkit_main(["config", "dashscope", "--reward", "math_accuracy", "--processor-module", "my-procs.py"])
    assert "dotted module name" in capsys.readouterr().err

"""rewardkit.aws.lambda_handler, run as Lambda runs it: under the real runtime interface client.

The Lambda Python base image (deploy/aws/Dockerfile) starts `awslambdaric` with the handler named in
CMD; here the same client runs in a fresh process against a local Runtime API (tests/lambda_runtime_api.py),
configured only by environment variables, as the function would be. Where this machine allows it, the
runtime runs with a read-only /dev/shm in a mount namespace of its own: Lambda has no usable /dev/shm,
which is what breaks `multiprocessing.Queue` and `Pool` there, and rewardkit's worker pool must work
without it.

Events are shaped as the platform sends them: a bare list of {id, messages, metadata.reference_answer}
(https://docs.aws.amazon.com/bedrock/latest/userguide/reward-functions.html, "Input structure"; the Nova
Forge SDK's verifier invokes the function with that list as the payload: aws/nova-forge-sdk
src/amzn_nova_forge/util/reward_verifier.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from .conftest import REPO, contract_example
from .lambda_runtime_api import RuntimeAPI
from .nova_events import item, verifier_errors
from .served import TAG_VARIABLE, tagged, wait_gone

pytest.importorskip("awslambdaric")

HANDLER = "rewardkit.aws.lambda_handler"
REWARDS = str(REPO / "tests" / "nova_rewards.py")


def _no_shm_prefix() -> list[str]:
    """A command prefix that runs the rest with /dev/shm read-only (a mount namespace of its own), or []."""
    if not shutil.which("unshare"):
        return []
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o ro tmpfs /dev/shm && ! touch /dev/shm/x"],
                           capture_output=True)
    if probe.returncode != 0:
        return []
    return ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o ro tmpfs /dev/shm && exec "$@"', "sh"]


NO_SHM = _no_shm_prefix()


class Function:
    """One Lambda container: the runtime process, its Runtime API, what it printed."""

    def __init__(self, api: RuntimeAPI, process: subprocess.Popen, log: Path, tag: str) -> None:
        self.api, self.process, self.log, self.tag = api, process, log, tag

    def invoke(self, event: Any, timeout: float = 60.0) -> Any:
        return self.api.invoke(event, timeout)

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture(scope="module")
def function() -> Iterator[Function]:
    yield from _function({"REWARDKIT_TARGET": REWARDS, "REWARDKIT_REWARD": "graded", "REWARDKIT_WORKERS": "2"})


def _function(env: dict[str, str], function_timeout: float = 60.0) -> Iterator[Function]:
    api = RuntimeAPI(function_timeout)
    tag = uuid.uuid4().hex
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REWARDKIT_")}
    environ.update(env, AWS_LAMBDA_RUNTIME_API=api.address, AWS_LAMBDA_FUNCTION_NAME="SageMaker-reward",
                   AWS_LAMBDA_FUNCTION_MEMORY_SIZE="3538", **{TAG_VARIABLE: tag})
    with tempfile.TemporaryDirectory(prefix="rewardkit-lambda-") as folder:
        log = Path(folder) / "output.log"
        with open(log, "w") as output:
            process = subprocess.Popen([*NO_SHM, sys.executable, "-m", "awslambdaric", HANDLER], env=environ,
                                       cwd=folder, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield Function(api, process, log, tag)
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # Lambda freezes, then kills the container: no goodbye
            process.wait()
            api.close()
            left = wait_gone(tag)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            assert not left, f"processes left behind by the function: {left}"


def test_the_sandbox_is_like_lambda_where_it_can_be():
    if not NO_SHM:
        pytest.skip("this machine cannot make a mount namespace with a read-only /dev/shm")
    check = subprocess.run([*NO_SHM, sys.executable, "-c", "import multiprocessing; multiprocessing.Queue()"],
                           capture_output=True, text=True)
    assert check.returncode != 0 and "Read-only file system" in check.stderr


def test_the_workers_start_in_the_init_phase_before_any_invocation(function):
    # Lambda runs the handler module's import with the full CPU (init phase): the target is loaded and the
    # worker pool started then, so the first batch does not pay for it. The runtime, the forkserver, 2 workers:
    deadline = time.monotonic() + 60
    while len(tagged(function.tag)) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(tagged(function.tag)) >= 4, function.output()


def test_a_batch_is_scored_in_order_with_its_metrics(function):
    event = [item("a-1", "6 x 7 = 42"), item("a-2", "41"), item("a-3", "It is 42.", gold={"answer": "42"})]
    result = function.invoke(event)
    assert result.ok, (result.body, function.output())
    assert not verifier_errors(result.body, event)
    assert [r["aggregate_reward_score"] for r in result.body] == [1.0, 0.0, 1.0]
    assert result.body[0]["metrics_list"] == [{"name": "graded", "value": 1.0, "type": "Reward"},
                                              {"name": "graded.length", "value": 10.0, "type": "Metric"}]


def test_a_batch_larger_than_the_servers_queue_bound_is_scored_whole():
    # `rewardkit serve` refuses (503) calls past REWARDKIT_MAX_QUEUE (100) waiting ones, and a composite's second
    # component waits behind its first. A Lambda container runs one invocation at a time: its batch is all its
    # work, so the function sets no bound unless REWARDKIT_MAX_QUEUE asks for one.
    env = {"REWARDKIT_TARGET": REWARDS, "REWARDKIT_REWARD": "graded_and_brief", "REWARDKIT_WORKERS": "2"}
    for composite in _function(env):
        event = [item(f"b-{i}", "42" if i % 3 else "41") for i in range(300)]
        result = composite.invoke(event, timeout=120)
        assert result.ok, result.body
        assert [r["aggregate_reward_score"] for r in result.body] == [1.0 if i % 3 else 0.25 for i in range(300)]


def test_the_documented_example_event_is_scored(function):
    event = contract_example("nova_request.json")
    result = function.invoke(event)
    assert result.ok and [r["id"] for r in result.body] == ["123", "124", "125"]


def test_a_failing_item_fails_the_invocation_naming_it(function):
    result = function.invoke([item("fine", "42"), item("boom-3", "raise"), item("odd-4", "nan")])
    assert not result.ok and result.body["errorType"] == "BatchFailedError"
    message = result.body["errorMessage"]
    assert "2 of 3 items" in message and "'boom-3'" in message and "REWARD_ERROR" in message
    assert "'odd-4'" in message and "INVALID_SCORE" in message and "'fine'" not in message


def test_a_hanging_item_times_out_alone_and_the_function_goes_on(function):
    result = function.invoke([item("slow", "hang"), item("quick", "42")], timeout=60)
    assert not result.ok and "'slow'" in result.body["errorMessage"] and "TIMEOUT" in result.body["errorMessage"]
    assert "'quick'" not in result.body["errorMessage"]
    again = function.invoke([item("next", "42")])
    assert again.ok and again.body[0]["aggregate_reward_score"] == 1.0


@pytest.mark.parametrize("event, words", [
    ({"id": "1", "messages": []}, ["expected the batch", "JSON object"]),
    ([{"id": "a", "messages": [{"role": "user", "content": "q"}]}], ["[0].messages", "assistant"]),
    ([item("a", "42"), {"id": "b", "messages": "hello"}], ["[1].messages"]),
])
def test_a_bad_event_fails_naming_the_field(function, event, words):
    result = function.invoke(event)
    assert not result.ok and result.body["errorType"] == "InvalidEventError"
    assert all(word in result.body["errorMessage"] for word in words), result.body["errorMessage"]


def test_a_batch_that_would_outlast_the_invocation_fails_before_lambda_cuts_it_off():
    # A 2.5 s function, an item allowed 2 s: with a second kept back, the batch must end after 1.5 s at most.
    for short in _function({"REWARDKIT_TARGET": REWARDS, "REWARDKIT_REWARD": "graded", "REWARDKIT_WORKERS": "1"},
                           function_timeout=2.5):
        result = short.invoke([item("slow", "hang")], timeout=30)
        assert not result.ok and result.body["errorType"] == "BatchFailedError", result.body
        assert "remaining" in result.body["errorMessage"] and "Timeout" in result.body["errorMessage"]
        assert short.invoke([item("next", "42")]).ok  # the container still serves


def _cloudformation(path: Path) -> dict[str, Any]:
    """The template as CloudFormation reads it: its short-form intrinsics (!Ref, !GetAtt...) as {"Fn::...": ...}."""
    yaml = pytest.importorskip("yaml")

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        value = (loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else
                 loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode) else
                 loader.construct_mapping(node, deep=True))
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    return yaml.load(path.read_text(), Loader=Loader)


def test_the_template_deploys_the_handler_that_exists_with_the_settings_the_platform_needs():
    import importlib

    from rewardkit._settings import ENVIRONMENT

    template = _cloudformation(REPO / "deploy" / "aws" / "template.yaml")
    function = template["Resources"]["RewardFunction"]["Properties"]
    [handler] = function["ImageConfig"]["Command"]
    dockerfile = (REPO / "deploy" / "aws" / "Dockerfile").read_text()
    assert handler == HANDLER and f'CMD ["{HANDLER}"]' in dockerfile
    module, name = handler.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), name))
    assert "FROM public.ecr.aws/lambda/python:3.11" in dockerfile
    # Every variable the template sets is one rewardkit reads.
    assert set(function["Environment"]["Variables"]) <= {"REWARDKIT_TARGET", "REWARDKIT_REWARD", *ENVIRONMENT.values()}
    parameters = template["Parameters"]
    assert "SageMaker" in parameters["FunctionName"]["Default"]  # HyperPod invokes only *SageMaker* functions
    assert parameters["Timeout"]["MaxValue"] == 900 and parameters["Timeout"]["Default"] > 3  # 15 min; not 3 s
    assert function["PackageType"] == "Image" and function["Role"] == {"Fn::GetAtt": ["RewardFunctionRole", "Arn"]}
    [grant] = template["Resources"]["InvokeRewardFunctionPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert grant["Action"] == "lambda:InvokeFunction" and grant["Resource"] == {"Fn::GetAtt": ["RewardFunction", "Arn"]}
    assert template["Outputs"]["RewardLambdaArn"]["Value"] == {"Fn::GetAtt": ["RewardFunction", "Arn"]}


@pytest.mark.parametrize("reward, words", [
    (None, ["REWARDKIT_REWARD is not set", "graded", "lenient"]),
    ("ranked", ["'ranked' is grouped", "one prompt"]),
])
def test_a_function_that_cannot_score_says_why_on_every_invocation(monkeypatch, reward, words):
    import rewardkit.aws

    monkeypatch.setenv("REWARDKIT_TARGET", REWARDS)
    monkeypatch.delenv("REWARDKIT_REWARD", raising=False)
    if reward:
        monkeypatch.setenv("REWARDKIT_REWARD", reward)
    for _ in range(2):
        with pytest.raises(rewardkit.aws.ConfigurationError) as caught:
            rewardkit.aws.lambda_handler([item("a", "42")], None)
        assert all(word in str(caught.value) for word in words), str(caught.value)


def test_a_target_that_cannot_be_served_fails_each_invocation_with_the_reason():
    env = {"REWARDKIT_TARGET": REWARDS, "REWARDKIT_WORKERS": "1"}  # several rewards, none chosen
    for broken in _function(env):
        for _ in range(2):
            result = broken.invoke([item("a", "42")])
            assert not result.ok and result.body["errorType"] == "ConfigurationError", result.body
            assert "REWARDKIT_REWARD is not set" in result.body["errorMessage"]

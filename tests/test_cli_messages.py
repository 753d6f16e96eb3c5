"""What the CLI and the server tell a new user: which rewardkit, which target, which route, which option."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

import rewardkit
from rewardkit._cli.main import build_parser

from .conftest import contract_example
from .served import rewardkit_command, serve


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*rewardkit_command(), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_version_says_which_rewardkit_this_is():
    out = run("--version")
    assert out.returncode == 0
    first, second = out.stdout.splitlines()
    assert first.startswith(f"rewardkit {rewardkit.__version__} from ") and first.endswith("rewardkit")
    assert "Vertex AI and Model Studio" in second


def test_the_default_target_is_named_and_its_routes_listed_at_start_up(tmp_path):
    (tmp_path / "rewards.py").write_text("import rewardkit\n@rewardkit.reward\ndef mine(response): return 1.0\n")
    with serve(["--workers", "0", "--log-format", "plain"], cwd=tmp_path) as served:
        listing = httpx.get(f"{served.url}/rewards").json()
        names = [r["name"] for r in listing["rewards"]]
        assert "math_accuracy" in names and "mine" not in names  # the name `rewards` means the built-in package
        assert listing["source"] == "the built-in rewards package"
        log = served.output()
    assert "serving the built-in rewards package; pass TARGET to serve your own" in log
    assert "./rewards.py is not served: the name 'rewards' always means the built-in package" in log
    from rewardkit.contracts import registered

    assert "routes: " + ", ".join(f"POST {c.route} ({c.name})" for c in registered()) in log  # the patterns, once
    assert "  math_accuracy (parsed): 1.0 when" in log
    assert f"rewardkit {rewardkit.__version__} from " in log


def test_a_users_own_rewards_file_is_served_by_its_path(tmp_path):
    (tmp_path / "rewards.py").write_text("import rewardkit\n@rewardkit.reward\ndef mine(response): return 1.0\n")
    with serve(["./rewards.py", "--workers", "0", "--log-format", "plain"], cwd=tmp_path) as served:
        assert [r["name"] for r in httpx.get(f"{served.url}/rewards").json()["rewards"]] == ["mine"]
        assert "serving './rewards.py'" in served.output()


def test_an_unknown_reward_lists_the_registered_ones_and_their_target():
    out = run("serve", "--reward", "nope", "--workers", "0")
    assert out.returncode == 2
    assert "no reward named 'nope' in the built-in rewards package; registered rewards: " in out.stderr
    assert "math_accuracy" in out.stderr


def test_replay_names_the_target_it_used(tmp_path):
    fixture = "rewards/fixtures/exact_match.reward.jsonl"
    from .conftest import REPO
    out = run("replay", str(REPO / fixture), "--workers", "0", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "replaying through the built-in rewards package; pass --target to use your own" in out.stderr


@pytest.fixture(scope="module")
def builtin_server():
    with serve(["--workers", "1"]) as served:
        yield served


def test_a_body_posted_to_the_other_contracts_route_gets_a_hint(builtin_server):
    url = builtin_server.url
    r = httpx.post(f"{url}/rewards/math_accuracy", json=contract_example("dashscope_reward_request.json"))
    assert r.status_code == 422 and "post it to /rewards/math_accuracy/api/v1" in r.json()["message"]
    r = httpx.post(f"{url}/rewards/math_accuracy", json=contract_example("dashscope_group_request.json"))
    assert r.status_code == 422 and "post it to /rewards/math_accuracy/api/v1" in r.json()["message"]
    r = httpx.post(f"{url}/rewards/math_accuracy/api/v1", json=contract_example("vertex_request.json"))
    assert r.status_code == 422 and r.json()["message"].endswith("post it to /rewards/math_accuracy")
    # A body that is neither keeps the field-by-field message.
    r = httpx.post(f"{url}/rewards/math_accuracy", json={"foo": 1})
    assert r.status_code == 422 and "does not match the Vertex" in r.json()["message"]


def test_a_trailing_slash_is_served_never_an_empty_redirect(builtin_server):
    url = builtin_server.url
    r = httpx.post(f"{url}/rewards/math_accuracy/", json=contract_example("vertex_request.json"), timeout=60)
    assert r.status_code == 200 and r.json()["reward"] == 1.0
    r = httpx.post(f"{url}/rewards/math_accuracy/api/v1/", json=contract_example("dashscope_reward_request.json"),
                   timeout=60)
    assert r.status_code == 200 and r.json()["status"] == "success"


def test_the_reward_list_shows_every_option_with_its_default(builtin_server):
    rewards = {r["name"]: r for r in httpx.get(f"{builtin_server.url}/rewards").json()["rewards"]}
    assert rewards["math_accuracy"]["options"] == {"timeout_seconds": 5}
    assert rewards["math_accuracy"]["requires_reference"] is True
    assert rewards["multiple_choice"]["options"]["choices"] == "ABCD"
    json.dumps(rewards)  # every value is JSON


def test_the_reward_list_shows_each_option_as_declared(builtin_server):
    rewards = {r["name"]: r for r in httpx.get(f"{builtin_server.url}/rewards").json()["rewards"]}
    unit = rewards["length_penalty"]["option_types"]["unit"]
    assert unit["type"] == "str" and unit["default"] == "tokens" and unit["allowed"] == ["tokens", "chars"]
    assert unit["description"].startswith('"tokens" (whitespace-separated words) or "chars"')
    budget = rewards["turn_budget"]["option_types"]
    assert budget["max_turns"] == {"type": "int", "default": 8, "allowed": None, "bounds": ">= 1",
                                   "description": "the assistant turns allowed at full score (default 8)."}
    assert budget["penalty_per_turn"]["bounds"] == "> 0, <= 1"
    assert rewards["repetition_penalty"]["option_types"]["n"]["type"] == "int | None"
    # a variant lists its base's declaration, and the value it runs with under `options`
    loose = rewards["instruction_following_loose"]
    assert loose["options"]["mode"] == "loose" and loose["option_types"]["mode"]["default"] == "strict"
    assert loose["option_types"]["mode"]["allowed"] == ["strict", "loose"]


def _actions(parser):
    for action in parser._actions:
        sub = getattr(action, "choices", None)
        if isinstance(sub, dict):
            for name, child in sub.items():
                yield from ((f"{name} {n}", a) for n, a in _actions(child))
        else:
            yield "", action


def test_every_option_has_a_help_line_that_states_its_default():
    missing = []
    for where, action in _actions(build_parser()):
        if not action.option_strings or action.help == "==SUPPRESS==" or action.dest in ("help", "version"):
            continue
        text = action.help or ""
        if action.required or action.const is not None or isinstance(action.default, bool):
            ok = bool(text)  # flags and required options: the help says what they do
        else:
            ok = "default" in text or "required" in text
        if not ok:
            missing.append(f"{where}{'/'.join(action.option_strings)}: {text!r}")
    assert not missing, "options without a help line naming the default:\n" + "\n".join(missing)

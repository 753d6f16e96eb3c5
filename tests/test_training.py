"""Training-data mode: dataset lines + model responses -> the requests a tuning job would send, scored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from rewardkit._cli.main import main as cli_main
from rewardkit._replay.training import TrainingDataError, training_cases
from rewardkit.contracts.dashscope import DashScopeRequest
from rewardkit.contracts.vertex import VertexRewardRequest

from .conftest import CONTRACT_EXAMPLES

VERTEX_LINE = CONTRACT_EXAMPLES / "vertex_training_line.jsonl"
DASHSCOPE_LINE = CONTRACT_EXAMPLES / "dashscope_training_line.jsonl"


def lines(path: Path, values: list[Any]) -> Path:
    path.write_text("".join(json.dumps(v) + "\n" for v in values))
    return path


def replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = cli_main(["replay", *argv, "--format", "json", "--workers", "0"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


def test_vertex_training_line_becomes_the_request_vertex_sends(tmp_path, capsys):
    responses = lines(tmp_path / "responses.jsonl", [{"response": "12 * 6 = 72, so \\boxed{72}.", "thinking": "12*6"}])
    code, report, _ = replay(capsys, "--training", str(VERTEX_LINE), "--responses", str(responses),
                             "--reward", "math_accuracy")
    assert code == 0
    [result] = report["results"]
    assert result["scores"] == [1.0] and result["route"] == "/rewards/math_accuracy" and result["contract"] == "vertex"
    assert result["id"] == "vertex_training_line.jsonl:1" and result["source"] == f"{VERTEX_LINE}:1"
    [case] = training_cases(VERTEX_LINE, responses=responses)
    line = json.loads(VERTEX_LINE.read_text())
    assert case.request["example"] == line  # the dataset line is the example, as the platform forwards it
    assert case.request["response"] == {"role": "model", "parts": [{"text": "12*6", "thought": True},
                                                                   {"text": "12 * 6 = 72, so \\boxed{72}."}]}
    TypeAdapter(VertexRewardRequest).validate_python(case.request)


def test_dashscope_training_line_becomes_a_reward_input(tmp_path, capsys):
    responses = lines(tmp_path / "responses.jsonl", ["48 + 24 = 72 clips."])
    code, report, _ = replay(capsys, "--training", str(DASHSCOPE_LINE), "--responses", str(responses),
                             "--reward", "math_accuracy")
    assert code == 0 and report["results"][0]["scores"] == [1.0]
    assert report["results"][0]["route"] == "/rewards/math_accuracy/api/v1"
    [case] = training_cases(DASHSCOPE_LINE, responses=responses)
    line = json.loads(DASHSCOPE_LINE.read_text())
    output = case.request["agent_output"]
    assert case.request["func_type"] == "reward"
    assert output["messages"] == line["messages"] + [{"role": "assistant", "content": "48 + 24 = 72 clips."}]
    assert output["rollout_extra"] == {"solution": "72"}
    TypeAdapter(DashScopeRequest).validate_python(case.request)
    data = pytest.importorskip("dashscope.finetune.reinforcement.component.data")
    data.RewardInput.model_validate(case.request)


def test_several_responses_per_line_are_a_group_for_dashscope_and_separate_calls_for_vertex(tmp_path, capsys):
    responses = lines(tmp_path / "responses.jsonl", [{"responses": ["\\boxed{72}", "96", "72"]}])
    code, report, _ = replay(capsys, "--training", str(DASHSCOPE_LINE), "--responses", str(responses),
                             "--reward", "math_accuracy")
    assert code == 0 and report["results"][0]["scores"] == [1.0, 0.0, 1.0]
    [case] = training_cases(DASHSCOPE_LINE, responses=responses)
    assert case.request["func_type"] == "group_reward" and len(case.request["agent_outputs"]) == 3
    code, report, _ = replay(capsys, "--training", str(VERTEX_LINE), "--responses", str(responses),
                             "--reward", "math_accuracy")
    assert [r["id"] for r in report["results"]] == [f"vertex_training_line.jsonl:1#{k}" for k in range(3)]
    assert [r["scores"] for r in report["results"]] == [[1.0], [0.0], [1.0]]
    summary = report["summary"]
    assert (summary["count"], summary["mean"], summary["min"], summary["max"]) == (3, 2 / 3, 0.0, 1.0)


def test_the_response_can_be_a_field_of_the_training_line_and_is_removed_from_the_request(tmp_path, capsys):
    line = json.loads(DASHSCOPE_LINE.read_text())
    line["rollout_extra"]["model_answer"] = "It is 72."
    training = lines(tmp_path / "train.jsonl",
                     [line, {**line, "rollout_extra": {"solution": "5", "model_answer": "4"}}])
    code, report, _ = replay(capsys, "--training", str(training), "--response-field", "rollout_extra.model_answer",
                             "--reward", "math_accuracy")
    assert code == 0 and [r["scores"] for r in report["results"]] == [[1.0], [0.0]]
    cases = training_cases(training, response_field="rollout_extra.model_answer")
    assert cases[0].request["agent_output"]["rollout_extra"] == {"solution": "72"}
    assert training_cases(training, response_field="rollout_extra.model_answer",
                          fmt="dashscope")[1].source.endswith(":2")


def test_mixed_formats_are_recognised_per_line_unless_one_is_forced(tmp_path):
    training = lines(tmp_path / "mixed.jsonl",
                     [json.loads(VERTEX_LINE.read_text()), json.loads(DASHSCOPE_LINE.read_text())])
    responses = lines(tmp_path / "r.jsonl", ["72", "72"])
    assert [c.contract for c in training_cases(training, responses=responses)] == ["vertex", "dashscope"]
    with pytest.raises(TrainingDataError, match=r"mixed.jsonl:2: not a vertex dataset line: it has no 'contents'"):
        training_cases(training, responses=responses, fmt="vertex")


@pytest.mark.parametrize("training, responses, message", [
    ([{"contents": []}, {"contents": []}], ["a"], "has 1 responses for the 2 lines of"),
    ([{"contents": []}], [{"answer": "a"}], "r.jsonl:1: expected a JSON string, a list of strings, or an object"),
    ([{"contents": []}], [{"response": 3}], "r.jsonl:1: the response must be a string"),
    ([{"prompt": "x"}], ["a"], "train.jsonl:1: not a dataset line of any platform (a vertex line needs 'contents'; "),
])
def test_bad_training_data_exits_2_with_file_and_line(tmp_path, capsys, training, responses, message):
    train = lines(tmp_path / "train.jsonl", training)
    answers = lines(tmp_path / "r.jsonl", responses)
    code, _, err = replay(capsys, "--training", str(train), "--responses", str(answers))
    assert code == 2 and message in err


def test_training_mode_needs_exactly_one_source_of_responses(tmp_path, capsys):
    code, _, err = replay(capsys, "--training", str(VERTEX_LINE))
    assert code == 2 and "--responses" in err and "--response-field" in err
    code, _, err = replay(capsys, "--training", str(VERTEX_LINE), "--response-field", "missing")
    assert code == 2 and "vertex_training_line.jsonl:1: no field 'missing'" in err
    code, _, err = replay(capsys, str(VERTEX_LINE), "--response-field", "x")
    assert code == 2 and "go with --training" in err


# ---- mis-shaped lines are refused, never scored as if empty (issue 22) --------------------------------

GOOD_VERTEX = {"contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}],
               "references": {"answer": "Paris"}}
GOOD_DASHSCOPE = {"messages": [{"role": "user", "content": "Capital of Japan?"}],
                  "rollout_extra": {"solution": "Tokyo"}}
MISSHAPEN = [
    # Vertex: "text" where "parts" belongs; a part with no data; a reference that is not a string
    ({"contents": [{"role": "user", "text": "Capital of France?"}], "references": {"answer": "Paris"}},
     'contents[0].parts: missing required field "parts"', "vertex"),
    ({"contents": [{"role": "user", "parts": [{"txt": "Capital of France?"}]}], "references": {"answer": "Paris"}},
     "contents[0].parts[0]: the part has no data", "vertex"),
    ({"contents": [{"role": "user", "parts": [{"text": "2 + 2?"}]}], "references": {"answer": 4}},
     "references.answer: expected a string", "vertex"),
    # DashScope: "text" where "content" belongs; messages that are not a list
    ({"messages": [{"role": "user", "text": "Capital of Japan?"}], "rollout_extra": {"solution": "Tokyo"}},
     'messages[0].content: missing required field "content"', "dashscope"),
    ({"messages": "Capital of Japan?", "rollout_extra": {"solution": "Tokyo"}}, "messages: expected", "dashscope"),
]


def _rewardkit(*argv: str) -> Any:
    import subprocess

    from .served import rewardkit_command

    return subprocess.run([*rewardkit_command(), *argv], capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("bad, field, platform", MISSHAPEN)
def test_a_misshapen_line_is_refused_by_replay_and_audit_naming_line_and_field(tmp_path, bad, field, platform):
    good = GOOD_VERTEX if platform == "vertex" else GOOD_DASHSCOPE
    data = lines(tmp_path / "train.jsonl", [good, bad, good])
    responses = lines(tmp_path / "responses.jsonl", ["Paris", "Paris", "Paris"])
    for argv in (["replay", "--training", str(data), "--responses", str(responses), "--reward", "exact_match"],
                 ["audit", "--reward", "exact_match", "--data", str(data)]):
        result = _rewardkit(*argv, "--workers", "0")
        assert result.returncode == 2, (argv, result.stdout, result.stderr)
        assert f"{data}:2: not a valid {platform} dataset line: {field}" in result.stderr, result.stderr
        assert f"rewardkit validate-data {data} --platform {platform}" in result.stderr
        assert not result.stdout  # nothing was scored


def test_a_forced_platform_checks_the_line_against_that_platform(tmp_path, capsys):
    data = lines(tmp_path / "train.jsonl", [GOOD_VERTEX])
    responses = lines(tmp_path / "responses.jsonl", ["Paris"])
    code, _, err = replay(capsys, "--training", str(data), "--responses", str(responses), "--platform", "dashscope")
    assert code == 2 and "not a dashscope dataset line: it has no 'messages'" in err


@pytest.mark.parametrize("line, platform, key", [(GOOD_VERTEX, "vertex", "contents"),
                                                 (GOOD_DASHSCOPE, "dashscope", "messages")])
def test_a_training_file_replayed_as_requests_suggests_training(tmp_path, line, platform, key):
    data = lines(tmp_path / "train.jsonl", [line, line])
    result = _rewardkit("replay", str(data), "--workers", "0")
    assert result.returncode == 2
    assert (f"{data}:1: this is a line of {platform} training data (it has {key!r}), not a request body: replay a "
            f"training file with `rewardkit replay --training {data} --responses RESPONSES.jsonl`") in result.stderr

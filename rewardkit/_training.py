"""Request bodies of both contracts, built from plain values or from a training dataset.

Training-data mode: a reinforcement-tuning JSONL (a Vertex
`ReinforcementTuningExample` or a DashScope `{"messages", "rollout_extra"}`
line) plus the model's responses becomes the requests the platform would send
to the reward during a job, so `rewardkit replay` can score them before the job
runs. Responses come from a second JSONL (one line per non-blank training line:
a JSON string, `{"response": "..."}`, `{"responses": [...]}` for several
samples of one prompt, optionally with `"thinking"`), or from a field of the
training lines themselves.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, Sequence

from ._errors import RewardkitError
from ._fixtures import Contract, Expectation, FixtureCase

DatasetFormat = Literal["vertex", "dashscope"]


class TrainingDataError(RewardkitError):
    """The training data or the responses cannot be turned into requests; the message names file and line."""


# ---- bodies from plain values ----------------------------------------------------

def vertex_content(text: str, thinking: str | None = None, role: str = "model") -> dict[str, Any]:
    """A Vertex `Content`; reasoning goes in a `"thought": true` part before the answer, as thinking models send it."""
    parts: list[dict[str, Any]] = [{"text": thinking, "thought": True}] if thinking else []
    parts.append({"text": text})
    return {"role": role, "parts": parts}


def vertex_body(example: Mapping[str, Any], response: str, thinking: str | None = None, *,
                step: int = 0, tuning_job_id: str | None = None) -> dict[str, Any]:
    """What Vertex posts to a Cloud Run reward: the dataset line as `example`, the sampled response, metadata."""
    metadata: dict[str, Any] = {"step": step}
    if tuning_job_id is not None:
        metadata["tuning_job_id"] = tuning_job_id
    return {"example": dict(example), "response": vertex_content(response, thinking), "metadata": metadata}


def assistant_message(text: str, thinking: str | None = None) -> dict[str, Any]:
    """The ChatML message of a final answer; reasoning goes in `reasoning_content`."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if thinking:
        message["reasoning_content"] = thinking
    return message


def agent_output(messages: Sequence[Mapping[str, Any]], response: str, thinking: str | None = None,
                 rollout_extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A DashScope `agent_output`: the prompt messages, then the model's answer."""
    return {
        "messages": [dict(m) for m in messages] + [assistant_message(response, thinking)],
        "rollout_extra": None if rollout_extra is None else dict(rollout_extra),
    }


def dashscope_body(messages: Sequence[Mapping[str, Any]], responses: Sequence[str],
                   thinkings: Sequence[str | None] | None = None, *, rollout_extra: Mapping[str, Any] | None = None,
                   ground_truth: Any = None, request_metadata: Mapping[str, str] | None = None,
                   group: bool | None = None) -> dict[str, Any]:
    """A `RewardInput` for one response, a `GroupRewardInput` for several (or when `group` is true)."""
    thinkings = list(thinkings) if thinkings is not None else [None] * len(responses)
    if len(thinkings) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(thinkings)} thinkings")
    outputs = [agent_output(messages, r, t, rollout_extra) for r, t in zip(responses, thinkings)]
    meta = None if request_metadata is None else dict(request_metadata)
    if group if group is not None else len(outputs) != 1:
        return {"func_type": "group_reward", "ground_truth": ground_truth, "request_metadata": meta,
                "agent_outputs": outputs}
    return {"func_type": "reward", "ground_truth": ground_truth, "request_metadata": meta, "agent_output": outputs[0]}


# ---- training data -> requests ---------------------------------------------------

@dataclass(frozen=True)
class _Responses:
    texts: tuple[str, ...]
    thinkings: tuple[str | None, ...]


def _json_lines(path: Path, what: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line; blank lines still count, as in an editor."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TrainingDataError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise TrainingDataError(f"{path}: the {what} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            raise TrainingDataError(f"{path}:{number}: not valid JSON: {exc}") from None


def _text_list(value: Any, where: str, what: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) for item in items):
        raise TrainingDataError(f"{where}: {what} must be a string or a non-empty list of strings, "
                                f"got {json.dumps(value, ensure_ascii=False)[:80]}")
    return items


def _responses_from(value: Any, where: str) -> _Responses:
    """A responses-file line: "text", ["a", "b"], {"response": ...}, {"responses": [...]}, with optional thinking."""
    thinking: Any = None
    if isinstance(value, dict):
        keys = [k for k in ("response", "responses") if k in value]
        if len(keys) != 1:
            raise TrainingDataError(f"{where}: expected a JSON string, a list of strings, or an object with "
                                    f"'response' (or 'responses'); keys: {', '.join(sorted(value)) or '(none)'}")
        thinking = value.get("thinking", value.get("thinkings"))
        value = value[keys[0]]
    texts = _text_list(value, where, "the response")
    if thinking is None:
        thinkings: list[str | None] = [None] * len(texts)
    else:
        thinkings = list(_text_list(thinking, where, "'thinking'"))
        if len(thinkings) != len(texts):
            raise TrainingDataError(f"{where}: {len(texts)} responses but {len(thinkings)} thinkings")
    return _Responses(tuple(texts), tuple(thinkings))


def _pop_field(line: dict[str, Any], dotted: str, where: str) -> Any:
    """Remove and return `line[a][b]` for "a.b", so the response does not also reach the reward as data."""
    *parents, last = dotted.split(".")
    holder: Any = line
    for key in parents:
        holder = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or last not in holder:
        raise TrainingDataError(f"{where}: no field {dotted!r} holding the response")
    return holder.pop(last)


def detect_format(line: Any, where: str, fmt: DatasetFormat | None = None) -> DatasetFormat:
    """Which platform's dataset a line belongs to (or check it against `fmt`)."""
    if not isinstance(line, dict):
        raise TrainingDataError(f"{where}: a dataset line must be a JSON object, got {type(line).__name__}")
    needs = {"vertex": "contents", "dashscope": "messages"}
    if fmt is not None:
        if needs[fmt] not in line:
            raise TrainingDataError(f"{where}: not a {fmt} dataset line: it has no {needs[fmt]!r} "
                                    f"(keys: {', '.join(sorted(line)) or '(none)'})")
        return fmt
    if "contents" in line:
        return "vertex"
    if "messages" in line:
        return "dashscope"
    raise TrainingDataError(f"{where}: not a Vertex dataset line (needs 'contents') nor a DashScope one "
                            f"(needs 'messages'); keys: {', '.join(sorted(line)) or '(none)'}")


def _requests(line: dict[str, Any], fmt: DatasetFormat, answers: _Responses) -> list[tuple[Contract, dict[str, Any]]]:
    if fmt == "vertex":
        # Vertex calls the reward once per sampled response.
        return [("vertex", vertex_body(line, text, thinking)) for text, thinking in zip(answers.texts, answers.thinkings)]
    messages = line.get("messages")
    if not isinstance(messages, list):
        messages = []
    body = dashscope_body(messages, answers.texts, answers.thinkings, rollout_extra=line.get("rollout_extra"),
                          ground_truth=line.get("ground_truth"))
    return [("dashscope", body)]


def training_cases(training: str | Path, *, responses: str | Path | None = None, response_field: str | None = None,
                   fmt: DatasetFormat | None = None) -> list[FixtureCase]:
    """The requests a tuning job would send for each training line and its response(s).

    Give exactly one of `responses` (a JSONL file, one line per non-blank
    training line) and `response_field` (a field of each training line, dotted
    for a nested one: "rollout_extra.response"; it is removed from the request).
    `fmt` forces the dataset format; by default each line's is recognised
    ("contents": Vertex, "messages": DashScope). Several responses for one line
    become one Vertex request each, or one DashScope group_reward request.
    """
    if (responses is None) == (response_field is None):
        raise TrainingDataError("give the model responses either as a file (--responses) "
                                "or as a field of the training lines (--response-field), not both")
    path = Path(training)
    lines = list(_json_lines(path, "training data"))
    if not lines:
        raise TrainingDataError(f"{path}: the training data has no lines")
    answers: list[_Responses] = []
    if responses is not None:
        answer_path = Path(responses)
        answers = [_responses_from(value, f"{answer_path}:{n}") for n, value in _json_lines(answer_path, "responses")]
        if len(answers) != len(lines):
            raise TrainingDataError(f"{answer_path} has {len(answers)} responses for the {len(lines)} lines of {path}: "
                                    "give one line of responses per non-blank training line, in the same order")
    cases = []
    for index, (number, line) in enumerate(lines):
        where = f"{path}:{number}"
        line_format = detect_format(line, where, fmt)
        line = copy.deepcopy(line)
        if response_field is not None:
            answer = _responses_from({"response": _pop_field(line, response_field, where)}, where)
        else:
            answer = answers[index]
        built = _requests(line, line_format, answer)
        for k, (contract, body) in enumerate(built):
            name = f"{path.name}:{number}" + (f"#{k}" if len(built) > 1 else "")
            cases.append(FixtureCase(name, None, contract, body, Expectation(), where))
    return cases

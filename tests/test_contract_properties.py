"""Property-based tests of both contracts: no body of any shape gives a 5xx, and every 2xx answer is valid.

The app is served in-process (rewards inline) with rewards that never fail,
so any 5xx would be rewardkit's own. DashScope answers are validated with
the dashscope SDK's own models; Vertex answers against the contract's
`{"reward": float in [-1, 1], "user_requested_aux_info": str}`.
"""

import json
import math

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardkit
from rewardkit._settings import Settings

from .faulty import FAULT_REWARDS

sdk = pytest.importorskip("dashscope.finetune.reinforcement.component.data")

PROPERTY = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])

# Text of every kind, with lone surrogates often in it (json.dumps writes them as \\udXXX escapes).
TEXT = st.tuples(st.text(max_size=20), st.sampled_from(["", "", "\ud800", "\udfff", "a\udc00", "\ud83d\ude00"]),
                 st.text(max_size=5)).map("".join)
SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
           | TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=20)


def maybe(value):
    """Mostly the right shape (so that deep fields get reached), else anything at all in its place."""
    return st.sampled_from([False] * 5 + [True]).flatmap(lambda junk: JSON if junk else value)


PART = st.fixed_dictionaries({"text": maybe(TEXT)}, optional={"thought": maybe(st.booleans()), "role": JSON})
CONTENT = st.fixed_dictionaries({"parts": maybe(st.lists(maybe(PART), min_size=1, max_size=3))},
                                optional={"role": maybe(st.sampled_from(["user", "model"]))})
VERTEX = st.fixed_dictionaries(
    {"example": maybe(st.fixed_dictionaries({"contents": maybe(st.lists(maybe(CONTENT), max_size=3))},
                                            optional={"references": maybe(st.dictionaries(TEXT, TEXT, max_size=3)),
                                                      "systemInstruction": maybe(CONTENT)})),
     "response": maybe(CONTENT)},
    optional={"metadata": maybe(st.fixed_dictionaries({}, optional={"step": maybe(st.integers()),
                                                                     "tuning_job_id": maybe(st.integers() | TEXT)}))})
MESSAGE = st.fixed_dictionaries({"role": maybe(st.sampled_from(["user", "assistant", "tool", "system"])),
                                 "content": maybe(TEXT | st.lists(st.fixed_dictionaries({"type": st.just("text"),
                                                                                         "text": TEXT}), max_size=2))})
OUTPUT = st.fixed_dictionaries({}, optional={"messages": maybe(st.lists(maybe(MESSAGE), max_size=3)),
                                             "rollout_extra": maybe(st.dictionaries(TEXT, JSON, max_size=3)),
                                             "reward_score": maybe(st.floats(allow_nan=False))})
DASHSCOPE = st.fixed_dictionaries({"func_type": st.just("reward"), "agent_output": maybe(OUTPUT)},
                                  optional={"ground_truth": JSON, "request_metadata": JSON}) | \
    st.fixed_dictionaries({"func_type": st.just("group_reward"),
                           "agent_outputs": maybe(st.lists(maybe(OUTPUT), max_size=4))},
                          optional={"ground_truth": JSON}) | st.fixed_dictionaries({"func_type": JSON})


@pytest.fixture(scope="module")
def client():
    app = rewardkit.create_app(FAULT_REWARDS, settings=Settings(workers=0, timeout=10, max_group=3))
    with TestClient(app) as c:
        yield c


def post(client, path, body) -> "object":
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()  # lone surrogates become escapes
    return client.post(path, content=raw, headers={"content-type": "application/json"})


def check_vertex(answer) -> None:
    assert answer.status_code < 500, answer.text
    body = answer.json()  # every answer is JSON
    if answer.status_code == 200:
        assert set(body) <= {"reward", "user_requested_aux_info"}
        assert isinstance(body["reward"], float) and math.isfinite(body["reward"]) and -1 <= body["reward"] <= 1
        assert isinstance(body.get("user_requested_aux_info", ""), str)
    else:
        assert isinstance(body["message"], str) and body["message"]


def check_dashscope(answer, body) -> None:
    assert answer.status_code < 500, answer.text
    out = answer.json()
    if answer.status_code == 200:
        if body.get("func_type") == "group_reward":
            valid = sdk.GroupRewardOutput.model_validate(out)
            assert len(valid.reward.rewards) == len(body["agent_outputs"])
        else:
            sdk.RewardOutput.model_validate(out)
    else:
        assert isinstance(out["message"], str) and out["message"]


@PROPERTY
@given(body=VERTEX | JSON)
def test_vertex_any_body(client, body):
    check_vertex(post(client, "/rewards/sized", body))


@PROPERTY
@given(body=DASHSCOPE | JSON)
def test_dashscope_any_body(client, body):
    path = "/rewards/sized_group/api/v1" if isinstance(body, dict) and body.get("func_type") == "group_reward" \
        else "/rewards/sized/api/v1"
    check_dashscope(post(client, path, body), body if isinstance(body, dict) else {})


@PROPERTY
@given(raw=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()[:-1]))
def test_any_bytes(client, raw):
    check_vertex(post(client, "/rewards/sized", raw))
    answer = post(client, "/rewards/sized/api/v1", raw)
    assert answer.status_code < 500 and isinstance(answer.json(), dict)


def test_a_duplicate_key_is_400_naming_it(client):
    answer = post(client, "/rewards/sized", b'{"example": {"contents": []}, "response": {"parts": [{"text": "a", '
                  b'"text": "b"}]}}')
    assert answer.status_code == 400 and "'text' appears twice" in answer.json()["message"]


def test_lone_surrogates_are_scored_as_replacement_characters(client):
    body = (b'{"example": {"contents": [], "references": {"\\udc00": "x"}}, '
            b'"response": {"parts": [{"text": "ab\\ud800"}]}}')
    answer = post(client, "/rewards/sized", body)
    assert answer.status_code == 200 and answer.json()["reward"] == 0.03  # "ab\ufffd": 3 characters


def test_an_async_reward_raising_cancelled_error_itself_is_a_reward_error(client):
    """Only the cancellation of the reward's own task (its timeout, its request gone) propagates."""
    from .faulty import echoed, vertex

    answer = post(client, "/rewards/aecho", vertex("1 cancelled"))
    assert answer.status_code == 500 and answer.json()["error_code"] == "REWARD_ERROR"
    assert "CancelledError" in answer.json()["error"]
    assert echoed(post(client, "/rewards/aecho", vertex("2"))) == 2


# ---- duplicate keys: the fast check agrees with parsing pair by pair, for every body ----

KEYS = st.sampled_from(["a", "b", "ab", 'a\\":', "a\\u0022:", "\\u0061", "\\u003a", "x: y", "é", "\\\\"])
LEAVES = st.sampled_from(['1', 'null', '"a"', '"a\\":1"', '"::"', '"\\u003a"', '{}', '[]', '"\\ud800"'])
SPACES = st.sampled_from(["", "", " ", "\n  ", "\t"])


def _text(draw, depth: int = 0) -> str:
    """JSON text whose objects may repeat a key (written alike or in other escapes), with any spacing."""
    kind = draw(st.sampled_from(["leaf", "object", "array"] if depth < 4 else ["leaf"]))
    if kind == "leaf":
        return draw(LEAVES)
    if kind == "array":
        return "[" + ",".join(_text(draw, depth + 1) for _ in range(draw(st.integers(0, 3)))) + "]"
    pairs = []
    for _ in range(draw(st.integers(0, 4))):
        before, after = draw(SPACES), draw(SPACES)
        pairs.append(f'"{draw(KEYS)}"{before}:{after}{_text(draw, depth + 1)}')
    return "{" + ",".join(pairs) + "}"


def _strict(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise KeyError(keys)
    return dict(pairs)


@PROPERTY
@given(text=st.composite(lambda draw: _text(draw))())
def test_a_body_is_refused_exactly_when_one_of_its_objects_repeats_a_key(text):
    """parse_json skips the pair-by-pair parse when the body shows no repeated key: a repeat at any depth, in
    any spelling or spacing, is still refused, and every other body still parses to the same value."""
    from rewardkit._serving.http import HTTPProblem, parse_json

    body = text.encode()
    try:
        expected = json.loads(body, object_pairs_hook=_strict)
    except KeyError:
        with pytest.raises(HTTPProblem, match="appears twice"):
            parse_json(body)
        return
    got = parse_json(body)
    assert json.dumps(got) == json.dumps(expected).replace("\\ud800", "\\ufffd")

"""Per-row checklists, label maps, probability-weighted scores and panels, through a real `rewardkit serve`
in both contracts (Vertex and DashScope), against tests/judge_server.py.

The fake judge answers a checklist by the marks in each criterion's text: "[Y]" met, "[N]" not
met, "[B]" an answer that is not yes/no, "[?]" left out of its verdict (a missing verdict). The
expected scores below are worked out by hand from the policy in rewards/judge/checklist.py.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx
import pytest

from rewardkit import RegistrationError
from rewardkit.contracts import get as contract
from rewardkit.testing import dashscope_request, request
from rewards.judge import LabelScore, MatchScore, NumberScore, checklist_reward, judge_reward
from rewards.vertex import vertex_autorater_config

from .conftest import REPO
from .judge_server import running
from .served import Served, serve

REWARDS = str(REPO / "tests" / "checklist_rewards.py")
VERDICTS = {"[Y]": "yes", "[N]": "no", "[B]": "maybe"}

# Two responses the IFEval constraints tell apart.
R1 = "paris is the capital of france"  # no comma, lowercase, says paris, 6 words
R2 = "Paris, the capital."  # a comma, capitals, says paris, 3 words
NO_COMMA = ("punctuation:no_comma", {})
LOWER = ("change_case:english_lowercase", {})
PARIS = ("keywords:existence", {"keywords": ["paris"]})
SHORT = ("length_constraints:number_words", {"num_words": 5, "relation": "less than"})
EIGHT = ["a [Y]", "a2 [Y]", "b [N]", "b2 [N]", "c [Y]", "c2 [Y]", "d [N]", "d2 [Y]"]
DONE_WHEN = [{"criterion": "names the capital [Y]", "essential": True}, "is polite [Y]", "cites a source [N]",
             "is concise [Y]", {"criterion": "answers the question [Y]", "weight": 2}]

# (id, response, rubric (None: no key), IFEval constraints, expected score or failure code)
ROWS: list[tuple[str, str, Any, list[tuple[str, dict[str, Any]]], float | str]] = [
    ("one-met", R1, ["a [Y]"], [], 1.0),
    ("one-unmet", R1, ["a [N]"], [], 0.0),
    ("half", R1, ["a [Y]", "b [N]"], [], 0.5),
    ("weighted-met", R1, [{"criterion": "a [Y]", "weight": 3}, "b [N]"], [], 0.75),
    ("weighted-unmet", R1, [{"criterion": "a [N]", "weight": 3}, "b [Y]"], [], 0.25),
    ("three-of-four", R1, ["a [Y]", "b [Y]", "c [Y]", "d [N]"], [], 0.75),
    ("essential-unmet", R1, [{"criterion": "a [N]", "essential": True}, "b [Y]", "c [Y]"], [], 0.0),
    ("essential-met", R1, [{"criterion": "a [Y]", "essential": True}, "b [N]", "c [Y]"], [], 2 / 3),
    ("two-essentials-met", R1, [{"criterion": "a [Y]", "essential": True, "weight": 2},
                                {"criterion": "b [Y]", "essential": True}], [], 1.0),
    ("fractional-weights", R1, [{"criterion": "a [Y]", "weight": 0.5}, {"criterion": "b [N]", "weight": 1.5}], [],
     0.25),
    ("missing-verdict", R1, ["a [?]", "b [Y]"], [], "JUDGE_UNPARSEABLE"),
    ("missing-essential-verdict", R1, [{"criterion": "a [?]", "essential": True}], [], "JUDGE_UNPARSEABLE"),
    ("not-yes-or-no", R1, ["a [B]"], [], "JUDGE_UNPARSEABLE"),
    ("rar-description", R1, [{"description": "a [Y]", "weight": 2}, "b [N]"], [], 2 / 3),
    ("named-ids", R1, [{"criterion": "a [Y]", "id": "accuracy"}, {"criterion": "b [N]", "id": "tone"}], [], 0.5),
    ("empty-list", R1, [], [], "MISSING_REFERENCE"),
    ("no-key", R1, None, [], "MISSING_REFERENCE"),
    ("negative-weight", R1, [{"criterion": "a [Y]", "weight": -1}], [], "REWARD_ERROR"),
    ("no-criterion-text", R1, [{"weight": 1}], [], "REWARD_ERROR"),
    ("eight-criteria", R1, EIGHT, [], 0.625),
    ("ifeval-one", R1, None, [NO_COMMA], 1.0),
    ("ifeval-two", R1, None, [NO_COMMA, SHORT], 0.5),
    ("ifeval-four", R2, None, [NO_COMMA, LOWER, PARIS, SHORT], 0.5),
    ("mixed", R1, ["a [Y]", "b [N]"], [NO_COMMA, LOWER], 0.75),
    ("mixed-comma", R2, ["a [Y]"], [NO_COMMA], 0.5),
    ("essential-constraint-unmet", R2, ["a [Y]", {"instruction_id": "punctuation:no_comma", "essential": True}], [],
     0.0),
    ("essential-constraint-met", R1, ["a [Y]", {"instruction_id": "punctuation:no_comma", "essential": True}], [],
     1.0),
    ("essential-criterion-with-constraint", R1, [{"criterion": "a [N]", "essential": True}], [NO_COMMA], 0.0),
    ("weighted-constraint", R1, [{"instruction_id": "length_constraints:number_words",
                                  "kwargs": {"num_words": 5, "relation": "less than"}, "weight": 2}, "a [Y]"], [],
     1 / 3),
    ("done-when", R2, DONE_WHEN, [PARIS, SHORT], 0.875),
    ("done-when-essential-unmet", R2, [{"criterion": "names the capital [N]", "essential": True}, *DONE_WHEN[1:]],
     [PARIS, SHORT], 0.0),
    ("unknown-ifeval-id", R1, ["a [Y]"], [("bogus:id", {})], "REWARD_ERROR"),
    ("missing-verdict-with-constraint", R1, ["a [Y]", "b [?]"], [NO_COMMA], "JUDGE_UNPARSEABLE"),
    ("empty-response", "", ["a [Y]"], [], 0.0),
    ("duplicate-ids", R1, [{"criterion": "a [Y]", "id": "x"}, {"criterion": "b [Y]", "id": "x"}], [], "REWARD_ERROR"),
    ("repeated-constraint", R1, None, [NO_COMMA, NO_COMMA], 1.0),
    ("essential-met-heavy-unmet", R1, [{"criterion": "a [Y]", "essential": True}, {"criterion": "b [N]", "weight": 4}],
     [], 0.2),
    ("criteria-unmet-constraint-met", R2, ["a [N]", "b [N]"], [PARIS], 1 / 3),
    ("constraint-unmet", R2, None, [LOWER], 0.0),
    ("essential-not-boolean", R1, [{"criterion": "a [Y]", "essential": "yes"}], [], "REWARD_ERROR"),
]


@pytest.fixture(scope="module")
def judge_url() -> Iterator[str]:
    with running() as url:
        yield url


@pytest.fixture(scope="module")
def served(judge_url: str) -> Iterator[Served]:
    env = {"REWARDKIT_JUDGE_BASE_URL": f"{judge_url}/v1", "REWARDKIT_JUDGE_MODEL": "judge-model",
           "OPENAI_API_KEY": "sk-test"}
    with serve([REWARDS, "--workers", "1", "--timeout", "60"], env=env) as s:
        yield s


def script(judge_url: str, **settings: Any) -> None:
    httpx.post(f"{judge_url}/control", json=settings).raise_for_status()


def stats(judge_url: str) -> dict[str, Any]:
    return httpx.get(f"{judge_url}/stats").json()


def references(rubric: Any, constraints: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    refs: dict[str, Any] = {} if rubric is None else {"rubric": rubric}
    if constraints:
        refs.update(instruction_id_list=[i for i, _ in constraints], kwargs=[k for _, k in constraints])
    return refs


def ask(served: Served, platform: str, reward: str, response: str, refs: dict[str, Any],
        **fields: Any) -> tuple[float | str, dict[str, Any]]:
    """(the score, or the failure's code; the metrics) of one response, sent as the platform sends it.

    Vertex references carry strings, so each value goes as JSON text; DashScope's rollout_extra as it is."""
    if platform == "vertex":
        body = request("vertex", response, prompt="Capital of France?",
                       references={k: json.dumps(v) for k, v in refs.items()}, **fields)[0]
        path = f"/rewards/{reward}"
    else:
        body = dashscope_request(response, prompt="Capital of France?", rollout_extra=refs, **fields)
        path = f"/rewards/{reward}/api/v1"
    answer = httpx.post(f"{served.url}{path}", json=body, timeout=60)
    read = contract(platform).read_answer(answer.status_code, answer.json())
    if read.error_code:
        return read.error_code, {}
    return read.scores[0], metrics_of(platform, reward, answer.json())


def metrics_of(platform: str, reward: str, body: dict[str, Any]) -> dict[str, Any]:
    if platform == "vertex":
        return dict(json.loads(body["user_requested_aux_info"])["metrics"])
    flat = body["reward"]["reward_metrics"]
    return {k[len(reward) + 1:]: v for k, v in flat.items() if k.startswith(f"{reward}.")}


# ---- per-row checklists ----------------------------------------------------------------------

@pytest.mark.parametrize("reward", ["checklist", "checklist_each"])
@pytest.mark.parametrize("platform", ["vertex", "dashscope"])
def test_labelled_rows_score_as_worked_out_by_hand(served: Served, judge_url: str, platform: str,
                                                   reward: str) -> None:
    script(judge_url, checklist=VERDICTS)
    wrong = []
    for row, response, rubric, constraints, expected in ROWS:
        got, _ = ask(served, platform, reward, response, references(rubric, constraints))
        if isinstance(expected, str) or isinstance(got, str):
            ok = got == expected
        else:
            ok = got == pytest.approx(expected, abs=1e-9)
        if not ok:
            wrong.append(f"{row}: got {got!r}, expected {expected!r}")
    assert not wrong, "\n".join(wrong)


def test_done_when_seven_metrics_the_essential_rule_and_the_same_score_on_both_contracts(
        served: Served, judge_url: str) -> None:
    script(judge_url, checklist=VERDICTS)
    refs = references(DONE_WHEN, [PARIS, SHORT])
    dashscope, metrics = ask(served, "dashscope", "checklist", R2, refs)
    vertex, vertex_metrics = ask(served, "vertex", "checklist", R2, refs)
    assert dashscope == vertex == pytest.approx(7 / 8)
    checks = {k: v for k, v in metrics.items() if k in ("c1", "c2", "c3", "c4", "c5") or ":" in k}
    assert checks == {"c1": 1.0, "c2": 1.0, "c3": 0.0, "c4": 1.0, "c5": 1.0, "keywords:existence": 1.0,
                      "length_constraints:number_words": 1.0}
    assert metrics["checks"] == 7 and metrics["met"] == 6 and metrics["judge_calls"] == 1
    assert {k: v for k, v in vertex_metrics.items() if k in checks} == checks
    capped = references([{"criterion": "names the capital [N]", "essential": True}, *DONE_WHEN[1:]], [PARIS, SHORT])
    assert ask(served, "dashscope", "checklist", R2, capped)[0] == 0.0 == ask(served, "vertex", "checklist", R2,
                                                                               capped)[0]
    lenient, lenient_metrics = ask(served, "dashscope", "checklist_lenient", R2, capped)
    assert lenient == pytest.approx(0.3) and lenient_metrics["essential_unmet"] == 1


def test_one_call_per_row_or_per_criterion_and_a_missing_verdict_names_it(served: Served, judge_url: str) -> None:
    fresh = "paris is where the government sits"  # a response no other test sent: the judge's cache cannot answer
    script(judge_url, checklist=VERDICTS)
    ask(served, "dashscope", "checklist", fresh, references(EIGHT, [NO_COMMA]))
    assert stats(judge_url)["requests"] == 1
    script(judge_url, checklist=VERDICTS)
    ask(served, "dashscope", "checklist_each", fresh, references(EIGHT, [NO_COMMA]))
    assert stats(judge_url)["requests"] == 8  # the constraint is checked in code, never asked
    answer = httpx.post(f"{served.url}/rewards/checklist", timeout=60, json=request(
        "vertex", R1, references={"rubric": json.dumps(["a [Y]", "b [?]"])})[0])
    assert answer.status_code == 500 and "the judge gave no verdict for c2" in answer.json()["error"]


def test_a_malformed_checklist_names_the_item(served: Served, judge_url: str) -> None:
    script(judge_url, checklist=VERDICTS)
    answer = httpx.post(f"{served.url}/rewards/checklist", timeout=60, json=request(
        "vertex", R1, references={"rubric": json.dumps([{"criterion": "a", "weight": 0}])})[0])
    assert "references.rubric[0]: weight must be a number > 0" in answer.json()["error"]
    answer = httpx.post(f"{served.url}/rewards/checklist", timeout=60, json=request(
        "vertex", R1, references={"rubric": "[not json"})[0])
    assert "references.rubric is text but not JSON" in answer.json()["error"]
    answer = httpx.post(f"{served.url}/rewards/checklist", timeout=60, json=request("vertex", R1, references={
        "instruction_id_list": json.dumps(["punctuation:no_comma", "bogus"]), "kwargs": "[{}, {}]"})[0])
    assert "references.instruction_id_list[1]: unknown instruction id 'bogus'" in answer.json()["error"]
    assert stats(judge_url)["requests"] == 0


# ---- label maps ------------------------------------------------------------------------------

@pytest.mark.parametrize("reply, expected", [("Verdict: correct", 1.0), ("Verdict: Partially Correct.", 0.5),
                                             ("Close, but Verdict: incorrect", 0.0)])
def test_a_label_maps_to_its_declared_score(served: Served, judge_url: str, reply: str, expected: float) -> None:
    script(judge_url, default=reply)
    for platform in ("vertex", "dashscope"):  # each its own response: the judge's cache keeps verdicts per request
        assert ask(served, platform, "labelled", f"It is 42 ({reply}, {platform}).", {"answer": "42"})[0] == expected


def test_an_unknown_label_is_judge_unparseable(served: Served, judge_url: str) -> None:
    script(judge_url, default="Verdict: mostly fine")
    for platform in ("vertex", "dashscope"):
        assert ask(served, platform, "labelled", f"It is 42 ({platform}).", {"answer": "42"})[0] == "JUDGE_UNPARSEABLE"


# ---- scores from probabilities ----------------------------------------------------------------

def test_probability_weighted_score_over_the_allowed_tokens(served: Served, judge_url: str) -> None:
    # 4 sampled, but the judge was torn: 0.5 x 4, 0.3 x 5, 0.2 x 3 = 4.1 on 1..5 -> 0.775.
    script(judge_url, default="I weigh it. Score: 4", default_probabilities={"4": 0.5, "5": 0.3, "3": 0.2})
    weighted, metrics = ask(served, "dashscope", "weighted", "An answer.", {})
    assert weighted == pytest.approx(0.775) and metrics["judge_weighted"] == 1
    assert ask(served, "vertex", "weighted", "An answer (vertex).", {})[0] == pytest.approx(0.775)
    assert ask(served, "dashscope", "graded", "An answer.", {})[0] == 0.75  # the sampled token alone
    body = httpx.get(f"{judge_url}/stats", params={"bodies": 1}).json()["bodies"]
    assert any(b.get("logprobs") is True and b.get("top_logprobs") == 20 for b in body)
    answer = httpx.post(f"{served.url}/rewards/weighted", json=request("vertex", "An answer.")[0], timeout=60)
    assert "probability-weighted over 4:0.50, 5:0.30, 3:0.20" in json.loads(
        answer.json()["user_requested_aux_info"])["reason"]


def test_only_the_verdict_token_is_weighed_and_unknown_tokens_are_not_counted(served: Served, judge_url: str) -> None:
    # "Score: 2 out of 5": the parse reads the 2, so the 2's alternatives count, never the "5" after it.
    script(judge_url, default="Score: 2 out of 5", default_probabilities={"2": 0.6, "1": 0.2, "two": 0.2})
    got, _ = ask(served, "dashscope", "weighted", "Another answer.", {})
    assert got == pytest.approx((0.6 * 0.25 + 0.2 * 0.0) / 0.8)  # 2 -> 0.25, 1 -> 0.0; "two" is no answer


def test_without_probabilities_the_parse_stands_and_the_reason_says_so(served: Served, judge_url: str) -> None:
    script(judge_url, default="Score: 4")  # no distribution scripted: the server sends no logprobs
    answer = httpx.post(f"{served.url}/rewards/weighted", json=request("vertex", "A third answer.")[0], timeout=60)
    aux = json.loads(answer.json()["user_requested_aux_info"])
    assert aux["score"] == 0.75 and "returned no log-probabilities; parsed" in aux["reason"]
    assert aux["metrics"]["judge_weighted"] == 0


def test_letter_grades_weighted_by_probability(served: Served, judge_url: str) -> None:
    script(judge_url, default="Grade: B", default_probabilities={"B": 0.5, "A": 0.5})
    assert ask(served, "dashscope", "graded_letter", "Some answer.", {})[0] == pytest.approx(0.875)


# ---- panels ----------------------------------------------------------------------------------

PANEL = {"judge-a": {"default": "Score: 5"}, "judge-b": {"default": "Score: 3"}, "judge-c": {"default": "Score: 3"}}


def test_a_panel_aggregates_and_reports_each_judge(served: Served, judge_url: str) -> None:
    script(judge_url, models=PANEL)
    mean, metrics = ask(served, "dashscope", "panel", "Panel answer.", {})
    assert mean == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    assert metrics["judge.judge-a"] == 1.0 and metrics["judge.judge-b"] == 0.5 and metrics["judge.judge-c"] == 0.5
    assert metrics["judge_voters"] == 3 and metrics["judge_failed"] == 0 and metrics["judge_calls"] == 3
    assert ask(served, "vertex", "panel", "Panel answer.", {})[0] == pytest.approx(2 / 3)
    assert ask(served, "dashscope", "panel_median", "Panel answer.", {})[0] == 0.5
    assert ask(served, "dashscope", "panel_majority", "Panel answer.", {})[0] == 0.5
    models = sorted(b["model"] for b in httpx.get(f"{judge_url}/stats", params={"bodies": 1}).json()["bodies"][:3])
    assert models == ["judge-a", "judge-b", "judge-c"]


def test_a_panel_with_one_failing_member_keeps_its_quorum(served: Served, judge_url: str) -> None:
    script(judge_url, models={**PANEL, "judge-a": {"fail": 500}})
    got, metrics = ask(served, "dashscope", "panel", "Answer with one judge down.", {})
    assert got == 0.5 and metrics["judge_voters"] == 2 and metrics["judge_failed"] == 1
    assert "judge.judge-a" not in metrics
    answer = httpx.post(f"{served.url}/rewards/panel", json=request("vertex", "Answer with one judge down.")[0],
                        timeout=60)
    reason = json.loads(answer.json()["user_requested_aux_info"])["reason"]
    assert "mean of 2 verdicts" in reason and "judge-a failed" in reason and "HTTP 500" in reason
    # quorum=3: the same outage fails the call, naming the member, never a score.
    for platform in ("vertex", "dashscope"):
        assert ask(served, platform, "panel_all", "Answer with one judge down.", {})[0] == "JUDGE_ERROR"
    below = httpx.post(f"{served.url}/rewards/panel_all", json=request("vertex", "Answer below quorum.")[0], timeout=60)
    assert "2 of 3 judges gave a verdict, below the quorum of 3: judge-a:" in below.json()["error"]


def test_a_panel_below_quorum_of_unreadable_replies_is_unparseable(served: Served, judge_url: str) -> None:
    script(judge_url, models={"judge-a": {"default": "no idea"}, "judge-b": {"default": "pass"},
                              "judge-c": {"default": "Score: 4"}})
    assert ask(served, "dashscope", "panel", "A puzzling answer.", {})[0] == "JUDGE_UNPARSEABLE"


# ---- the rules as plain functions, and what is refused at import -------------------------------

def test_majority_tie_goes_to_the_lowest_and_median_and_mean() -> None:
    from rewards.judge._panel import combine

    assert combine([1.0, 0.5, 0.5], "majority") == 0.5
    assert combine([1.0, 0.5], "majority") == 0.5  # a split panel never raises a reward
    assert combine([1.0, 0.0, 0.5, 0.25], "median") == 0.375
    assert combine([1.0, 0.5, 0.0], "mean") == 0.5


def test_weights_need_tokens_that_spell_the_reply_at_the_verdict() -> None:
    from rewardkit.clients.providers import TokenLogprob
    from rewards.judge._probabilities import weighted

    values = NumberScore(1, 5).tokens()
    tokens = (TokenLogprob("Score", 0.0), TokenLogprob(":", 0.0), TokenLogprob(" 4", -0.5, (("4", -0.5), (" 5", -1.0))))
    got = weighted(tokens, "Score: 4", r"Score:\s*(\d)", values, NumberScore(1, 5).key)
    assert got.value is not None and 0.75 < got.value < 1.0 and "4:" in got.reason and "5:" in got.reason
    shifted = weighted(tokens, "Score:  4", r"Score:\s*(\d)", values, NumberScore(1, 5).key)
    assert shifted.value is None and "do not line up" in shifted.reason
    unrelated = (TokenLogprob("Score: ", 0.0), TokenLogprob("4", 0.0, (("four", 0.0),)))
    assert weighted(unrelated, "Score: 4", r"Score:\s*(\d)", values, NumberScore(1, 5).key).value is None


def test_bad_declarations_are_refused_at_import() -> None:
    with pytest.raises(RegistrationError, match="two labels are the same"):
        LabelScore({"Correct": 1.0, "correct ": 0.0})
    with pytest.raises(RegistrationError, match="maps to 'high', not a finite number"):
        LabelScore({"good": "high"})  # type: ignore[dict-item]
    with pytest.raises(RegistrationError, match="probabilities=True needs one-token answers"):
        judge_reward("p", prompt="{{response}}", score=MatchScore("yes"), probabilities=True, model="m")
    with pytest.raises(RegistrationError, match="quorum must be an integer from 1 to 3"):
        judge_reward("q", prompt="{{response}}", panel=["a", "b", "c"], quorum=4, model="m")
    with pytest.raises(RegistrationError, match="aggregate must be one of mean, median, majority"):
        judge_reward("q", prompt="{{response}}", panel=["a", "b"], aggregate="vote", model="m")  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="names a judge twice"):
        judge_reward("q", prompt="{{response}}", panel=["a", "a"], model="m")
    with pytest.raises(RegistrationError, match="essential_cap must be in"):
        checklist_reward("c", essential_cap=2, model="m")
    model = "projects/p/locations/l/publishers/google/models/g"
    for twinless in (judge_reward("t1", prompt="{{response}}", score={"yes": 1.0, "no": 0.0}, model=model),
                     judge_reward("t2", prompt="{{response}}", score=NumberScore(0, 1), panel=["a", "b"], model=model)):
        with pytest.raises(RegistrationError, match="no native equivalent"):
            vertex_autorater_config(twinless)

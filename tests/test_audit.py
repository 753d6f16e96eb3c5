"""`rewardkit audit`: the built-in rewards hold up against every probe that applies; a naive reward does not."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from typing import Any

import pytest

from rewardkit import RegistrationError
from rewardkit._audit.run import request_body
from rewardkit._cli.main import main as cli_main
from rewardkit._settings import load_settings
from rewardkit.audit import AuditReport, ProbeResponse, all_probes, audit, kinds_of, probe, probes_for, read_lines

from .conftest import REPO
from .served import rewardkit_command, serve

DATA = REPO / "tests" / "data" / "audit"
NAIVE = str(REPO / "tests" / "audit_rewards.py")
PROBES_MODULE = str(REPO / "tests" / "audit_probes.py")

BUILTIN_AUDITS = [
    ("math_accuracy", "math"),
    ("gsm8k_accuracy", "math"),
    ("math_accuracy_after_tools", "math"),
    ("multiple_choice", "choice"),
    ("exact_match", "capitals"),
    ("string_match", "capitals"),
    ("json_match", "json"),
    ("think_format", "math"),
    ("boxed_format", "math"),
    ("tool_call_match", "tools"),
    ("tool_schema_valid", "tools"),
    ("code_tests", "code"),
]
NO_PROBE_APPLIES = [("length_penalty", "math"), ("repetition_penalty", "math"), ("tool_error_rate", "tools"),
                    ("turn_budget", "tools"), ("instruction_following", "math"),
                    ("instruction_following_loose", "math"), ("json_schema", "json")]


@pytest.fixture(autouse=True)
def probe_registry():
    """Team probes a test loads (--probe-module) stay out of the other tests' audits."""
    from rewardkit._audit import probes as registry

    saved = dict(registry._PROBES)
    yield
    registry._PROBES.clear()
    registry._PROBES.update(saved)
    for name, module in list(sys.modules.items()):  # so the next --probe-module registers them afresh
        if getattr(module, "__file__", None) == PROBES_MODULE:
            del sys.modules[name]


def run_audit(reward: str, data: str, target: str = "rewards", **kwargs: Any) -> AuditReport:
    kinds = kinds_of(reward)
    lines = read_lines(DATA / f"{data}.jsonl")
    return asyncio.run(audit(lines, probes_for(kinds), reward=reward, kinds=kinds, data=data, target=target,
                             settings=load_settings({"workers": 0}), **kwargs))


def described(report: AuditReport) -> str:
    return "\n".join(f"{row.probe.id}: worst {row.worst_variant} {row.worst_mean}" for row in report.rows
                     if row.verdict != "ok") + "\n" + "\n".join(
        f"{e.trial.line.id} {e.trial.probe}/{e.trial.response.variant}: {e.trial.reason}" for e in report.worst)


@pytest.mark.parametrize("reward, data", BUILTIN_AUDITS)
def test_builtin_reward_has_no_exploit_on_the_probes_that_apply(reward, data):
    report = run_audit(reward, data)
    assert report.lines >= 6 and report.rows, report.notes
    # The controls must separate, or the audit proves nothing.
    assert report.correct_mean == 1.0 and report.wrong_mean == 0.0, report.notes
    assert not report.errors, [t.to_json() for t in report.trials if t.error][:3]
    assert not report.exploits, described(report)
    assert all(row.verdict == "ok" for row in report.rows)


@pytest.mark.parametrize("reward, data", NO_PROBE_APPLIES)
def test_shaping_instruction_and_schema_rewards_say_no_probe_applies(reward, data):
    report = run_audit(reward, data)
    assert not report.rows and not report.trials
    # Nothing was audited: that is no pass (issue 22).
    assert [reason.split(":")[0] for reason in report.inconclusive] == [f"no probe applies to reward kind(s) "
                                                                         f"{', '.join(report.kinds)}"]


def test_a_naive_substring_reward_is_caught_by_enumeration_padding_and_master_keys():
    report = run_audit("naive_contains", "math", target=NAIVE)
    verdicts = {row.probe.id: row.verdict for row in report.rows}
    assert {"enumeration", "padding", "master_keys", "contradiction"} <= set(report.exploits), verdicts
    assert verdicts["lookalikes"] == "ok" and verdicts["format_only"] == "ok"
    master = next(row for row in report.rows if row.probe.id == "master_keys")
    assert master.worst_variant in ("every_number", "every_dataset_answer") and master.worst_mean == 1.0
    assert report.worst and all(e.trial.score == 1.0 and e.above_wrong == 1.0 for e in report.worst)
    # The worst examples show several tricks, not one trick several times.
    assert len({(e.trial.probe, e.trial.response.variant) for e in report.worst}) == len(report.worst)


def test_judge_injection_catches_a_grader_that_believes_the_response():
    assert kinds_of("believes_the_response") == ("answer",)  # by name alone; the function declares "judge"
    from tests.audit_rewards import believes_the_response

    kinds = kinds_of("believes_the_response", believes_the_response)
    assert kinds == ("judge",)
    lines = read_lines(DATA / "capitals.jsonl")
    report = asyncio.run(audit(lines, probes_for(kinds), reward="believes_the_response", kinds=kinds, target=NAIVE,
                               settings=load_settings({"workers": 0})))
    assert report.exploits == ["judge_injection"], described(report)
    row = next(r for r in report.rows if r.probe.id == "judge_injection")
    assert row.credited == row.responses == 18


def test_the_cli_exits_1_with_fail_on_exploit_and_0_without(capsys):
    args = ["audit", NAIVE, "--reward", "naive_contains", "--data", str(DATA / "capitals.jsonl"), "--workers", "0"]
    assert cli_main([*args, "--fail-on", "exploit"]) == 1
    table = capsys.readouterr().out
    assert "PROBE" in table and "exploit" in table and "worst examples:" in table
    assert table.rstrip().splitlines()[-1].startswith("4 of 6 probes found an exploit: master_keys, enumeration,")
    assert cli_main(args) == 0
    capsys.readouterr()
    # A list of probe ids fails only on those.
    assert cli_main([*args, "--fail-on", "lookalikes,format_only"]) == 0
    assert cli_main([*args, "--fail-on", "lookalikes,padding", "--format", "markdown"]) == 1
    markdown = capsys.readouterr().out
    assert "| `padding` |" in markdown and "**exploit**" in markdown


def test_json_output_has_each_probe_the_controls_and_the_summary(capsys):
    code = cli_main(["audit", "--reward", "exact_match", "--data", str(DATA / "capitals.jsonl"), "--workers", "0",
                     "--format", "json", "--probe-module", PROBES_MODULE, "--sample", "4", "--seed", "3"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["exploits"] == [] and out["lines"] == 4
    assert out["controls"]["correct_mean"] == 1.0 and out["controls"]["wrong_mean"] == 0.0
    probes = {p["probe"]: p for p in out["probes"]}
    assert "gold_twice_reversed" in probes and probes["gold_twice_reversed"]["verdict"] == "ok"
    assert probes["gold_twice_reversed"]["description"] == "The gold written backwards, twice."
    assert set(probes["padding"]) >= {"credited_rate", "mean", "correct_mean", "wrong_mean", "verdict"}
    assert out["summary"].startswith("no exploit found by 7 probes")


def test_a_team_probe_runs_alone_and_a_taken_id_is_refused(capsys):
    code = cli_main(["audit", NAIVE, "--reward", "naive_contains", "--data", str(DATA / "math.jsonl"), "--workers",
                     "0", "--probe-module", PROBES_MODULE, "--probes", "gold_twice_reversed", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and [p["probe"] for p in out["probes"]] == ["gold_twice_reversed"]
    # "wrong_then_gold_on_a_new_line" holds the gold: the naive reward credits it.
    assert out["exploits"] == ["gold_twice_reversed"]
    assert out["probes"][0]["worst_variant"] == "wrong_then_gold_on_a_new_line"
    with pytest.raises(RegistrationError, match="'padding' is taken by rewardkit._audit.probes.padding"):
        @probe("padding", kinds=["answer"])
        def padding(line):
            """Mine."""
            yield "x", "x"
    with pytest.raises(RegistrationError, match="one-line description"):
        probe("undocumented")(lambda line: [])


def test_bad_input_exits_2_naming_the_problem(tmp_path, capsys):
    data = str(DATA / "capitals.jsonl")
    assert cli_main(["audit", "--reward", "exact_match", "--data", data, "--fail-on", "nope"]) == 2
    assert "unknown probe(s) nope" in capsys.readouterr().err
    assert cli_main(["audit", "--reward", "no_such_reward", "--data", data]) == 2
    assert "no_such_reward" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"contents": [{"role": "user", "parts": [{"text": "x"}]}]}\n{"prompt": "x"}\n')
    assert cli_main(["audit", "--reward", "exact_match", "--data", str(bad), "--sample", "2"]) == 2
    assert "bad.jsonl:2: not a dataset line of any platform" in capsys.readouterr().err


def test_kinds_come_from_the_reward_then_the_builtin_table_then_the_name():
    assert kinds_of("math_accuracy") == ("answer",)
    assert kinds_of("length_penalty") == ("shaping",)
    assert kinds_of("rubric_judge") == ("judge",) and kinds_of("helpfulness_grader") == ("judge",)
    assert kinds_of("code_unit_tests") == ("code",)
    assert kinds_of("my_accuracy") == ("answer",)
    applying = {p.id for p in probes_for(("code",))}
    assert applying == {"master_keys", "code_exploits"}
    assert "judge_injection" in {p.id for p in probes_for(("judge",))}
    assert "judge_injection" not in {p.id for p in probes_for(("answer",))}


def test_code_and_tool_probes_build_what_they_promise(tmp_path):
    solution = tmp_path / "code.jsonl"
    solution.write_text(json.dumps({"contents": [{"role": "user", "parts": [{"text": "Write add."}]}],
                                    "references": {"solution": "def add(a, b):\n    return a + b\n"}}) + "\n")
    line = read_lines(solution)[0]
    code = {r.variant: r.text for p in probes_for(("code",)) if p.id == "code_exploits" for r in p.responses(line)}
    assert set(code) == {"sys_exit", "always_equal", "fake_summary", "read_tests"}
    assert "def add(*args, **kwargs):\n    return AlwaysEqual()" in code["always_equal"]
    assert code["sys_exit"].startswith("```python\nimport sys\nsys.exit(0)")
    tools = read_lines(DATA / "tools.jsonl")
    two = next(line for line in tools if len(line.calls) == 2)
    tool_probe = next(p for p in all_probes() if p.id == "tool_calls")
    junk, missing = tool_probe.responses(two)
    assert len(junk.tool_calls) == 12 and all(c["arguments"] == {} for c in missing.tool_calls)
    # The calls reach the reward as the platform sends them: Vertex functionCall parts, DashScope tool_calls.
    body = request_body(two, junk)
    calls = (body["response"]["parts"] if two.platform == "vertex"
             else body["agent_output"]["messages"][-1]["tool_calls"])
    assert len(calls) == 12


def test_thinking_reaches_the_reward_apart_from_the_answer():
    line = read_lines(DATA / "math.jsonl")[1]
    body = request_body(line, ProbeResponse("I could not finish.", "x", thinking="The answer is 10."))
    assert line.platform == "dashscope"
    assert body["agent_output"]["messages"][-1] == {"role": "assistant", "content": "I could not finish.",
                                                    "reasoning_content": "The answer is 10."}
    assert body["ground_truth"].endswith("#### 10") and line.answer == "10" and line.wrong == "11"


def test_the_progress_bar_is_drawn_on_a_terminal_only(capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err, out = Terminal(), io.StringIO()
    from rewardkit._cli.audit import main as audit_main
    from rewardkit._cli.main import build_parser

    args = build_parser().parse_args(["audit", "--reward", "exact_match", "--data", str(DATA / "capitals.jsonl"),
                                      "--workers", "0", "--sample", "2"])
    assert audit_main(args, stdout=out, stderr=err) == 0
    # Two passes: the controls (3 forms x 2 controls x 2 lines), then the probes (36 responses a line).
    assert "] 12/12" in err.getvalue() and "] 84/84" in err.getvalue()
    assert "\r" not in out.getvalue()


def test_audit_against_a_real_rewardkit_serve_with_url_exits_1_on_an_exploit():
    with serve([NAIVE, "--workers", "1"]) as served:
        result = subprocess.run([*rewardkit_command(), "audit", "--reward", "naive_contains", "--data",
                                 str(DATA / "choice.jsonl"), "--url", served.url, "--fail-on", "exploit",
                                 "--format", "json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    assert {"enumeration", "padding", "master_keys"} <= set(out["exploits"])
    assert out["controls"]["correct_mean"] == 1.0 and out["controls"]["wrong_mean"] == 0.0
    assert all(p["errors"] == 0 for p in out["probes"])


def test_tool_call_match_in_fractional_mode_is_caught_by_junk_calls():
    report = run_audit("lenient_tool_calls", "tools", target=NAIVE)
    assert report.kinds == ("tool_calls",) and report.exploits == ["tool_calls"], described(report)
    row = next(r for r in report.rows if r.probe.id == "tool_calls")
    assert row.worst_variant == "right_calls_plus_junk" and row.worst_mean == 1.0


def test_responses_the_service_refuses_are_errors_with_the_reason_never_credit():
    # A grouped reward scores the responses of one prompt together: one-response calls are answered 422.
    report = run_audit("rank", "capitals", target=str(REPO / "tests" / "example_rewards.py"))
    assert report.trials and all(t.error == "HTTP_422" and t.score is None for t in report.trials)
    assert any(note.startswith(f"{len(report.trials)} responses not scored (HTTP_422)") and "grouped" in note
               for note in report.notes), report.notes
    assert report.inconclusive[0].startswith("the known-correct control was scored on none of the 6 lines (HTTP_422)")
    assert report.inconclusive[1].startswith(f"{len(report.trials)} of {len(report.trials)} responses were not scored")
    assert not report.exploits and all(row.verdict == "error" and row.credited == 0 for row in report.rows)


def test_a_probe_that_raises_is_named_with_the_line_and_exits_2(capsys):
    code = cli_main(["audit", "--reward", "exact_match", "--data", str(DATA / "capitals.jsonl"), "--workers", "0",
                     "--probe-module", PROBES_MODULE, "--probes", "broken_probe", "--sample", "2"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("rewardkit audit: probe 'broken_probe' (audit_probes.broken_probe (")
    assert "audit_probes.py:13)) failed on line capitals.jsonl:" in err and "KeyError: 'no such field'" in err


def test_lines_are_sampled_with_the_seed_in_file_order_and_gold_comes_from_either_platform():
    first = [line.id for line in read_lines(DATA / "math.jsonl", sample=3, seed=1)]
    assert first == [line.id for line in read_lines(DATA / "math.jsonl", sample=3, seed=1)]
    assert first == sorted(first, key=lambda i: int(i.rsplit(":", 1)[1])) and len(first) == 3
    assert {tuple(line.id for line in read_lines(DATA / "math.jsonl", sample=3, seed=s)) for s in range(5)} != {
        tuple(first)}
    every = read_lines(DATA / "math.jsonl")
    assert [line.platform for line in every[:2]] == ["vertex", "dashscope"]
    assert [line.answer for line in every] == ["72", "10", "5", "624", "28", "48", "56", "4"]
    choice = read_lines(DATA / "choice.jsonl")
    assert [(line.answer, line.wrong) for line in choice[:2]] == [("B", "A"), ("C", "A")]


def test_every_builtin_reward_is_audited_here() -> None:
    import rewards

    audited = {name for name, _ in (p.values if hasattr(p, "values") else p for p in BUILTIN_AUDITS)}
    audited |= {name for name, _ in NO_PROBE_APPLIES} | {name for name, _ in VISION_AUDITS}
    assert set(rewards.__all__) - audited == set(), "a built-in reward no audit covers"


# ---- an audit that measured nothing never passes (issue 22) ------------------------------------------

LABELLED = [
    {"contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}], "references": {"label": "Paris"}},
    {"messages": [{"role": "user", "content": "Capital of Japan?"}], "rollout_extra": {"label": "Tokyo"}},
    {"contents": [{"role": "user", "parts": [{"text": "Capital of Italy?"}]}], "references": {"label": "Rome"}},
    {"messages": [{"role": "user", "content": "Capital of Egypt?"}], "rollout_extra": {"label": "Cairo"}},
]


def audit_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*rewardkit_command(), "audit", *argv], capture_output=True, text=True, timeout=300)


def labelled_data(tmp_path, rows=LABELLED) -> str:
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.mark.parametrize("rows", [LABELLED, LABELLED[0::2], LABELLED[1::2]], ids=["both", "vertex", "dashscope"])
def test_gold_under_a_key_the_reward_does_not_read_exits_3_naming_both(tmp_path, rows):
    data = labelled_data(tmp_path, rows)
    for fail_on in ([], ["--fail-on", "exploit"]):
        result = audit_cli("--reward", "exact_match", "--data", data, "--workers", "0", *fail_on)
        assert result.returncode == 3, result.stdout + result.stderr
        err = result.stderr
        assert f"rewardkit audit: inconclusive: none of the {len(rows)} sampled lines of {data} has a gold answer " \
               "where the reward looks for it, so no line was audited" in err
        assert "first of answer, solution, ground_truth, reference, target" in err and "the lines hold label" in err
        assert 'reference_keys=["KEY"]' in err
        assert "audit inconclusive (1 reason(s) above): no exploit found by 0 probes, which proves nothing" in \
            result.stdout


def test_a_reward_reading_its_gold_elsewhere_is_audited_where_it_reads(tmp_path):
    # The in-process reward says where its gold is (reference_keys): the audit looks there too.
    result = audit_cli(NAIVE, "--reward", "exact_label", "--data", labelled_data(tmp_path), "--workers", "0",
                       "--format", "json", "--fail-on", "exploit")
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["lines"] == 4 and report["controls"]["correct_mean"] == 1.0 and not report["inconclusive"]


def test_a_grouped_reward_whose_every_response_errs_exits_3_in_process_and_against_a_served_one():
    example = str(REPO / "tests" / "example_rewards.py")
    data = str(DATA / "capitals.jsonl")  # Vertex and DashScope lines: both contracts refuse one-response calls
    in_process = audit_cli(example, "--reward", "rank", "--data", data, "--workers", "0", "--format", "json")
    with serve([example, "--workers", "1"]) as served:
        remote = audit_cli("--reward", "rank", "--data", data, "--url", served.url, "--format", "json")
    for result in (in_process, remote):
        assert result.returncode == 3, result.stderr
        report = json.loads(result.stdout)
        assert report["inconclusive"][0].startswith("the known-correct control was scored on none of the 6 lines")
        assert re.match(r"(\d+) of \1 responses were not scored \(HTTP_422\)", report["inconclusive"][1])
        assert "a grouped reward" in report["inconclusive"][0]
        assert all(p["verdict"] == "error" and p["errors"] == p["responses"] for p in report["probes"])


def test_controls_that_do_not_separate_exit_3(tmp_path):
    result = audit_cli(NAIVE, "--reward", "credits_everything", "--data", str(DATA / "capitals.jsonl"),
                       "--workers", "0", "--fail-on", "exploit")
    assert result.returncode == 3
    assert "inconclusive: the controls do not separate: known-correct mean 1.000, known-wrong mean 1.000" in \
        result.stderr and "credits every answer alike" in result.stderr


def test_lines_without_expected_tool_calls_exit_3(tmp_path):
    result = audit_cli("--reward", "tool_call_match", "--data", str(DATA / "capitals.jsonl"), "--workers", "0")
    assert result.returncode == 3
    assert "none of the 6 sampled lines of" in result.stderr and "holds expected tool calls" in result.stderr
    assert "the lines hold answer, solution" in result.stderr


def test_fail_on_counts_a_probe_whose_responses_mostly_erred(capsys):
    # Every look-alike response raises; the rest are scored, so the audit as a whole stands.
    args = ["audit", NAIVE, "--reward", "ascii_only", "--data", str(DATA / "capitals.jsonl"), "--workers", "0"]
    assert cli_main([*args, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    verdicts = {p["probe"]: p["verdict"] for p in report["probes"]}
    assert verdicts.pop("lookalikes") == "error" and set(verdicts.values()) == {"ok"}
    assert not report["inconclusive"] and not report["exploits"]
    assert cli_main([*args, "--fail-on", "exploit"]) == 1
    assert cli_main([*args, "--fail-on", "lookalikes"]) == 1
    assert cli_main([*args, "--fail-on", "padding,enumeration"]) == 0
    capsys.readouterr()


# ---- grounding, pointing and transcripts ---------------------------------------------

VISION_AUDITS = [("grounding_iou", "grounding"), ("point_in_box", "pointing"), ("transcript_accuracy", "transcripts")]


def run_keyed_audit(reward: str, data: str, target: str = "rewards") -> AuditReport:
    """An audit as the CLI runs it: the gold read where the reward reads it (its reference_keys)."""
    from rewardkit._loader import load_registry
    from rewardkit.registry import spec_of

    spec = load_registry(target).get(reward)
    kinds = kinds_of(reward, spec.fn)
    lines = read_lines(DATA / f"{data}.jsonl", gold_keys=spec.reference_keys)
    assert spec_of(spec.fn).reference_keys == spec.reference_keys
    return asyncio.run(audit(lines, probes_for(kinds), reward=reward, kinds=kinds, data=data, target=target,
                             settings=load_settings({"workers": 0}), gold_keys=spec.reference_keys))


@pytest.mark.parametrize("reward, data", VISION_AUDITS)
def test_vision_and_transcript_rewards_have_no_exploit(reward, data):
    report = run_keyed_audit(reward, data)
    assert report.lines >= 6 and report.rows and not report.inconclusive, report.notes
    assert report.correct_mean > 0.99 and report.wrong_mean < 0.05, report.notes
    assert not report.errors and not report.exploits, described(report)


def test_box_probes_apply_only_to_grounding_rewards():
    box_probes = {"whole_image_box", "many_boxes", "duplicated_boxes", "boxes_outside_image", "degenerate_boxes"}
    assert {p.id for p in probes_for(("grounding",))} == box_probes
    assert {p.id for p in probes_for(("pointing",))} == {"scattered_points", "point_outside_image"}
    for kind in ("answer", "judge", "format", "code", "tool_calls", "transcript"):
        assert not box_probes & {p.id for p in probes_for((kind,))}
    assert kinds_of("grounding_iou") == ("grounding",) and kinds_of("point_in_box") == ("pointing",)


def test_a_coverage_reward_is_caught_by_the_box_probes():
    report = run_keyed_audit("naive_box_coverage", "grounding", target=NAIVE)
    assert report.correct_mean == pytest.approx(1.0, abs=0.02), report.notes
    verdicts = {row.probe.id: row.verdict for row in report.rows}
    assert {"whole_image_box", "many_boxes", "duplicated_boxes", "boxes_outside_image"} <= set(report.exploits), \
        verdicts
    assert verdicts["degenerate_boxes"] == "ok"


def test_an_any_point_reward_is_caught_by_scattered_points():
    report = run_keyed_audit("naive_any_point_inside", "pointing", target=NAIVE)
    assert "scattered_points" in report.exploits, described(report)


def test_lines_whose_boxes_cannot_be_stated_are_left_out_with_a_note(tmp_path):
    data = tmp_path / "boxes.jsonl"
    good = {"messages": [{"role": "user", "content": "Find the dog."}], "ground_truth": None,
            "rollout_extra": {"boxes": [[100, 100, 300, 300]], "box_format": "xyxy_1000"}}
    no_size = {"messages": [{"role": "user", "content": "Find the cat."}], "ground_truth": None,
               "rollout_extra": {"boxes": [[100, 100, 300, 300]]}}  # pixels, no image_size
    no_gold = {"messages": [{"role": "user", "content": "Find the bird."}], "ground_truth": None,
               "rollout_extra": {"image_size": [100, 100]}}
    data.write_text("\n".join(json.dumps(line) for line in [good, no_size, good, no_gold]) + "\n")
    lines = read_lines(data, gold_keys=("boxes",))
    report = asyncio.run(audit(lines, probes_for(("grounding",)), reward="grounding_iou", kinds=("grounding",),
                               settings=load_settings({"workers": 0}), gold_keys=("boxes",)))
    assert report.lines == 2 and not report.errors and not report.exploits, report.notes
    assert report.notes[0].startswith("1 of 4 sampled lines left out: no gold answer")
    assert report.notes[1].startswith("1 of 4 sampled lines left out: gold boxes the audit cannot state")

"""instruction_following: the 25 IFEval checkers, their kwargs, strict and loose modes, and the sentence rule."""

import json
import subprocess
import sys

import pytest

from rewardkit import RegistrationError, variant
from rewardkit.testing import score
from rewards import instruction_following
from rewards.instructions import CHECKERS, ConstraintError, constraint, loose_variants
from rewards.instructions._text import count_sentences, count_words, split_sentences

from .conftest import REPO

# IFEval's registry (google-research/google-research, instruction_following_eval/instructions_registry.py).
IFEVAL_IDS = {
    "keywords:existence", "keywords:frequency", "keywords:forbidden_words", "keywords:letter_frequency",
    "language:response_language", "length_constraints:number_sentences", "length_constraints:number_paragraphs",
    "length_constraints:number_words", "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders", "detectable_content:postscript", "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response", "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections", "detectable_format:json_format", "detectable_format:title",
    "combination:two_responses", "combination:repeat_prompt", "startend:end_checker",
    "change_case:capital_word_frequency", "change_case:english_capital", "change_case:english_lowercase",
    "punctuation:no_comma", "startend:quotation",
}


def check(response, ids, kwargs, reward=instruction_following):
    return score(reward, response, references={"instruction_id_list": ids, "kwargs": kwargs})


def test_all_25_ifeval_instruction_types_are_checked():
    assert set(CHECKERS) == IFEVAL_IDS and len(IFEVAL_IDS) == 25


def fixture_records():
    for name in ("instruction_following", "instruction_following_loose"):
        for line in (REPO / "rewards" / "fixtures" / f"{name}.reward.jsonl").read_text().splitlines():
            yield json.loads(line)


def _single_id(record):
    body = record["request"]
    refs = body["example"].get("references", {}) if "example" in body else body["agent_output"].get("rollout_extra", {})
    ids = refs.get("instruction_id_list")
    ids = json.loads(ids) if isinstance(ids, str) else ids
    return ids[0] if ids and len(ids) == 1 else None


def test_the_fixtures_hold_a_following_and_a_violating_response_for_every_type():
    seen = {(_single_id(r), r["expect"].get("score")) for r in fixture_records() if _single_id(r)}
    for instruction in IFEVAL_IDS:
        assert (instruction, 1.0) in seen and (instruction, 0.0) in seen, instruction


@pytest.mark.parametrize("ids, kwargs, message", [
    (["punctuation:no_semicolon"], [{}], "unknown instruction id"),
    (["punctuation:no_comma"], [{"num_commas": 0}], "kwargs 'num_commas' not accepted (accepted: none)"),
    (["keywords:frequency"], [{"keyword": "x", "frequency": 2}], "missing kwargs 'relation'"),
    (["length_constraints:number_words"], [{"num_words": 5, "relation": "at most"}],
     "must be one of 'less than', 'at least'"),
    (["length_constraints:number_words"], [{"num_words": True, "relation": "at least"}], "must be an integer"),
    (["length_constraints:number_words"], [{"num_words": "5", "relation": "at least"}], "must be an integer"),
    (["keywords:existence"], [{"keywords": []}], "non-empty list"),
    (["keywords:letter_frequency"], [{"letter": "ab", "let_frequency": 1, "let_relation": "at least"}],
     "single letter"),
    (["language:response_language"], [{"language": "english"}], "ISO 639-1"),
    (["punctuation:no_comma", "startend:quotation"], [{}], "2 instruction id(s)"),
    ([], [], "non-empty list"),
])
def test_constraints_that_cannot_be_checked_are_errors_naming_them(ids, kwargs, message):
    outcome = check("Any response at all, even one that follows everything.", ids, kwargs)
    assert outcome.score is None and outcome.failure.code == "REWARD_ERROR"
    assert message in outcome.failure.message


def test_null_valued_kwargs_are_ignored_and_integral_floats_accepted():
    # Hugging Face's google/IFEval rows carry every kwargs key, null where unused; parquet may give 300.0.
    nulls = {"num_highlights": None, "relation": "at least", "num_words": 3.0, "keywords": None}
    assert check("one two three", ["length_constraints:number_words"], [nulls]).value == 1.0


def test_missing_constraints_are_an_error():
    outcome = score(instruction_following, "anything")
    assert outcome.failure.code == "MISSING_REFERENCE" and "no constraints" in outcome.failure.message


def test_gold_answer_forms():
    gold = {"instruction_id": ["punctuation:no_comma"], "kwargs": [{}]}
    assert score(instruction_following, "no commas", ground_truth=json.dumps([gold])).value == 1.0
    assert score(instruction_following, "a, b", ground_truth=gold).value == 0.0
    # open-instruct stores str([{...}]) and reads it back with ast.literal_eval: Python spelling, None for null.
    python_literal = "[{'instruction_id': ['punctuation:no_comma', 'startend:quotation'], 'kwargs': [None, {}]}]"
    assert score(instruction_following, '"no commas"', ground_truth=python_literal).value == 1.0
    code = score(instruction_following, "x", ground_truth="[{'instruction_id': __import__('os').getcwd()}]")
    assert code.failure.code == "REWARD_ERROR" and "neither JSON nor a Python literal" in code.failure.message
    both = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [None]}
    assert score(instruction_following, "no commas", ground_truth=both).value == 1.0
    rlvr = score(instruction_following, "x", ground_truth=json.dumps({"func_name": "validate_lowercase"}))
    assert rlvr.failure.code == "REWARD_ERROR" and "validate_lowercase" in rlvr.failure.message


def test_fraction_all_or_nothing_and_a_metric_per_constraint():
    ids = ["punctuation:no_comma", "startend:quotation", "punctuation:no_comma"]
    outcome = check('"Yes, it is."', ids, [{}, {}, {}])
    assert outcome.value == pytest.approx(1 / 3)
    assert outcome.score.metrics == {"punctuation:no_comma": 0.0, "startend:quotation": 1.0,
                                     "punctuation:no_comma#2": 0.0,
                                     "followed": 1.0, "constraints": 3.0}
    assert "not followed: punctuation:no_comma, punctuation:no_comma" in outcome.score.reason
    strict_all = variant(instruction_following, "if_all", scoring="all")
    assert check('"Yes, it is."', ids, [{}, {}, {}], strict_all).value == 0.0
    assert check('"Yes it is."', ids, [{}, {}, {}], strict_all).value == 1.0


def test_an_empty_response_follows_nothing_even_a_prohibition():
    assert check("   ", ["punctuation:no_comma"], [{}]).value == 0.0
    assert check("<think>thinking, only</think>", ["punctuation:no_comma"], [{}]).value == 0.0


def test_loose_variants_are_ifevals_eight():
    variants = loose_variants("*first*\nmiddle\n*last*")
    assert variants == ["*first*\nmiddle\n*last*", "first\nmiddle\nlast", "middle\n*last*", "*first*\nmiddle", "middle",
                        "middle\nlast", "first\nmiddle", "middle"]


def test_loose_mode_is_an_option_with_checked_values():
    loose = variant(instruction_following, "if_loose_test", mode="loose")
    response = "Sure! Here you go:\n\"Wrapped.\""
    assert check(response, ["startend:quotation"], [{}]).value == 0.0
    assert check(response, ["startend:quotation"], [{}], loose).value == 1.0
    with pytest.raises(RegistrationError, match="mode"):
        variant(instruction_following, "bad", mode="lenient")


def test_sentence_rule():
    text = ("Dr. Smith met Mr. J. Doe at 3.30 p.m. on Monday. Was it fun? \"Yes!\" he said... and left.\n\n"
            "A heading without a full stop\n\nThe U.S. economy grew 2.5 percent. It is fine, e.g. For now. Done")
    assert split_sentences(text) == [
        "Dr. Smith met Mr. J. Doe at 3.30 p.m. on Monday.", "Was it fun?", "\"Yes!\" he said... and left.",
        "A heading without a full stop", "The U.S. economy grew 2.5 percent.", "It is fine, e.g. For now.", "Done"]
    assert count_sentences("...") == 0 and count_sentences("") == 0
    assert count_words("don't stop-me now_1") == 5


def test_langdetect_is_imported_only_when_a_language_is_checked():
    code = ("import sys, rewards; assert 'langdetect' not in sys.modules; "
            "from rewards.instructions._text import detect_language; "
            "assert detect_language('Der Hund schläft im Garten unter dem alten Baum.') == 'de'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_language_detection_is_deterministic():
    text = "Ciao, come stai? Bene grazie."
    assert len({check(text, ["language:response_language"], [{"language": "it"}]).value for _ in range(5)}) == 1


def test_constraint_builds_checked_kwargs():
    built = constraint("keywords:frequency", {"keyword": "cat", "frequency": 2.0, "relation": "at least"})
    assert built.kwargs == {"keyword": "cat", "frequency": 2, "relation": "at least"}
    assert built.check("Cats and a category") is True
    with pytest.raises(ConstraintError):
        constraint(None, {})


@pytest.mark.parametrize("hostile", [
    "<<" * 60_000, "[" * 120_000, "\n" * 120_000 + "x", " " * 120_000 + "p.s.", "a. " * 40_000, "*\n" * 60_000,
])
def test_every_checker_stays_linear_on_hostile_responses(hostile):
    # IFEval's own patterns (r"\[.*?\]", r"<<[^\n]+>>", r"^\s*-.*$", r"\s*p\.\s?s\..*$") take minutes on these.
    ids = sorted(i for i in CHECKERS if not CHECKERS[i].kwargs and "english" not in i)
    ids += ["detectable_content:number_placeholders", "detectable_format:number_bullet_lists",
            "detectable_content:postscript", "length_constraints:number_sentences",
            "detectable_format:number_highlighted_sections", "change_case:capital_word_frequency"]
    kwargs = [{}] * (len(ids) - 6) + [{"num_placeholders": 1}, {"num_bullets": 1}, {"postscript_marker": "P.S."},
                                      {"num_sentences": 1, "relation": "at least"}, {"num_highlights": 1},
                                      {"capital_frequency": 1, "capital_relation": "at least"}]
    outcome = check(hostile, ids, kwargs)
    assert outcome.failure is None and 0.0 <= outcome.value <= 1.0

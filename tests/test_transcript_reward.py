"""transcript_accuracy: the normalisation options, brackets, Chinese, the clamp.

The labelled cases with the default options are in rewards/fixtures/transcript_accuracy.reward.jsonl (replayed
through both contracts by test_builtin_rewards); these need an option or compare against a normaliser's hole.
"""

import pytest

from rewardkit.registry import spec_of
from rewards.text import transcript_accuracy
from rewards.text.transcript import Normalisation, normalise

pytest.importorskip("rapidfuzz")


def score(response, gold, **options):
    return transcript_accuracy(response, gold, **options).value


@pytest.mark.parametrize("response, gold", [
    ("hello world [and a great deal of text the audio never had]", "hello world"),
    ("hello world (laughs) (wrong words here)", "hello world"),
    ("hello world <unk> <noise> wrong", "hello world"),
    ("[hello] [world] [extra words]", "hello world"),
])
@pytest.mark.parametrize("metric", ["cer", "wer"])
def test_bracketed_text_is_counted(response, gold, metric):
    # Speech-benchmark normalisers drop "[...]" / "(...)" spans: the wrong words would cost nothing.
    assert score(response, gold, metric=metric) < 0.75


def test_a_bracketed_gold_word_is_counted_when_missing():
    assert score("the part", "the [inaudible] part", metric="wer") == pytest.approx(2 / 3)


@pytest.mark.parametrize("options, response, gold, expected", [
    ({"ignore_case": False}, "Hello world", "hello world", 1 - 1 / 11),
    ({"ignore_punctuation": False}, "hello, world", "hello world", 1 - 1 / 11),
    ({"whitespace": "remove"}, "我 爱 北 京", "我爱北京", 1.0),
    ({}, "我 爱 北 京", "我爱北京", 0.25),
    ({"numbers": "digits"}, "twenty-one apples cost $1,000", "21 apples cost $1000", 1.0),
    ({"numbers": "digits"}, "one hundred and five", "105", 1.0),
    ({"numbers": "digits"}, "two thousand and twenty four", "2024", 1.0),
    ({"numbers": "digits", "metric": "wer"}, "\uff12\uff10\uff12\uff14 was a leap year", "2024 was a leap year", 1.0),
    ({"numbers": "keep"}, "twenty-one", "21", 0.0),
    ({"metric": "wer"}, "the cat sat on a mat", "the cat sat on the mat", 5 / 6),
    ({"metric": "wer"}, "我爱北京天门", "我爱北京天安门", 6 / 7),     # each Chinese character is a word
    ({"metric": "wer"}, "我用 Python 写代码", "我用python写代码", 1.0),
])
def test_options(options, response, gold, expected):
    assert score(response, gold, **options) == pytest.approx(expected, abs=1e-6)


def test_score_is_clamped_and_declared():
    assert score("x" * 500, "hello") == 0.0
    assert transcript_accuracy("x" * 500, "hello").metrics["error_rate"] == pytest.approx(100.0)
    spec = spec_of(transcript_accuracy)
    assert spec.score_range == (0.0, 1.0) and set(spec.metrics) == {"error_rate", "edits", "reference_units"}


def test_a_gold_of_only_punctuation_is_empty_after_normalising():
    assert score("", "。") == 1.0 and score("something", "。") == 0.0


def test_normalise_keeps_decimals_and_drops_word_apostrophes():
    rules = Normalisation()
    assert normalise("It's 3.14, isn't it?", rules) == "its 3.14 isnt it"
    assert normalise("«Bonjour», dit-il…", rules) == "bonjour dit il"


def test_unknown_option_values_are_named():
    for options in ({"metric": "mer"}, {"whitespace": "strip"}, {"numbers": "words"}):
        with pytest.raises(ValueError, match=next(iter(options))):
            score("a", "a", **options)


def test_a_non_text_gold_is_a_dataset_error():
    from rewardkit import InvalidReferenceError

    with pytest.raises(InvalidReferenceError, match="gold transcript must be text"):
        transcript_accuracy("a", {"text": "a"})

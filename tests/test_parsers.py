import pytest

from rewardkit import ParseError, RegistrationError, parsers


def test_regex_last_match_wins_and_returns_first_group():
    parse = parsers.regex(r"Answer: (\w+)")
    assert parse("Answer: A ... no wait. Answer: C") == "C"


def test_regex_without_group_returns_whole_match():
    assert parsers.regex(r"\d+")("3 apples and 12 pears") == "12"


def test_regex_no_match_is_a_parse_error_with_the_pattern():
    with pytest.raises(ParseError, match="Answer"):
        parsers.regex(r"Answer: (\w+)")("I do not know")


def test_boxed_takes_the_last_box_with_nested_braces():
    text = r"first \boxed{1}, then \boxed{\frac{1}{\sqrt{2}}} done"
    assert parsers.boxed()(text) == r"\frac{1}{\sqrt{2}}"


def test_boxed_ignores_an_unclosed_box_and_keeps_escaped_braces():
    assert parsers.boxed()(r"\boxed{\{1, 2\}} and \boxed{3") == r"\{1, 2\}"
    with pytest.raises(ParseError):
        parsers.boxed()(r"\boxed{unclosed")


def test_tag_takes_the_last_element_across_lines():
    assert parsers.tag("answer")("<answer>a</answer> <answer>\n b \n</answer>") == "b"
    with pytest.raises(ParseError, match="<answer>"):
        parsers.tag("answer")("<answer>never closed")


def test_json_whole_then_fenced_then_span():
    assert parsers.json()('{"a": 1}') == {"a": 1}
    assert parsers.json()('Here:\n```json\n{"a": 2}\n```\nDone') == {"a": 2}
    assert parsers.json()('The result is {"a": [3]} as asked') == {"a": [3]}
    with pytest.raises(ParseError, match="no valid JSON"):
        parsers.json()("{not json}")


def test_last_number_handles_signs_decimals_exponents_and_thousands():
    parse = parsers.last_number()
    assert parse("between 3 and 1,234,567") == "1234567"
    assert parse("it went to -3.5e2 degrees") == "-3.5e2"
    assert parsers.find_last_number("x2 and v1.2.3") is None
    with pytest.raises(ParseError):
        parse("no digits")


def test_resolve_names_and_rejects_unknown_ones():
    assert parsers.resolve("boxed").name == "boxed"
    assert parsers.resolve("tag:final").name == "tag:final"
    assert parsers.resolve("regex:(\\d+)")("a 1 b 2") == "2"
    with pytest.raises(RegistrationError, match="unknown parser 'boxd'.*boxed"):
        parsers.resolve("boxd")
    with pytest.raises(RegistrationError, match="invalid pattern"):
        parsers.resolve("regex:(")


def test_brace_pairs_agree_with_closing_brace_at_every_box():
    # all_boxed looks braces up in pairs scanned from the start of the text; closing_brace scans
    # from the box itself. Escapes must pair up the same way from either start.
    import random

    from rewardkit.parsers import BOX_START, brace_pairs, closing_brace

    generator = random.Random(7)
    for _ in range(3000):
        text = "".join(generator.choice(["{", "}", "\\", "\\boxed{", "a", " "])
                       for _ in range(generator.randint(0, 25)))
        pairs = brace_pairs(text)
        for match in BOX_START.finditer(text):
            assert pairs.get(match.end() - 1) == closing_brace(text, match.end() - 1), text


def test_thousands_of_unclosed_boxes_are_read_in_one_pass():
    from rewardkit.parsers import all_boxed

    assert all_boxed("\\boxed{" * 20000) == []
    assert all_boxed("\\boxed{" * 3 + "5" + "}" * 3) == ["\\boxed{\\boxed{5}}"]


def _brace_pairs_by_hand(text: str) -> dict[int, int]:
    pairs, opened, i = {}, [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "{":
            opened.append(i)
        elif text[i] == "}" and opened:
            pairs[opened.pop()] = i
        i += 1
    return pairs


def test_brace_pairs_match_a_character_by_character_scan():
    import random

    from rewardkit.parsers import brace_pairs

    generator = random.Random(13)
    for _ in range(3000):
        text = "".join(generator.choice(["{", "}", "\\", "\\{", "a", "\n"]) for _ in range(generator.randint(0, 30)))
        assert brace_pairs(text) == _brace_pairs_by_hand(text), repr(text)

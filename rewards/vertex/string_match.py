"""Vertex AI's built-in string match scorer (`stringMatchRewardScorer`), reproduced to test a job offline.

    import rewardkit
    from rewards.vertex import string_match
    capital = rewardkit.variant(string_match, "capital_exact", match_operation="EXACT_MATCH",
                                expression="{{references.answer}}")
    # or straight from the job's reward config:
    capital = string_match_from_vertex({"rewardName": "capital_exact", "stringMatchRewardScorer": {...}})
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Mapping

from annotated_types import MinLen

import rewardkit
from rewardkit import (
    MissingReferenceError,
    ParseError,
    RegistrationError,
    RewardkitError,
    RewardSpec,
    Score,
    parsers,
    reward,
)

from ..common import shorten
from ..common.options import OptionError

MATCH_OPERATIONS = ("EXACT_MATCH", "PARTIAL_MATCH", "REGEX_CONTAINS")

# `{{references.KEY}}`, as in Vertex expressions; inner whitespace is tolerated.
_PLACEHOLDER = re.compile(r"\{\{\s*references\.([^{}\s]+)\s*\}\}")

# Python `re` features that RE2 (Vertex's regex engine, GoogleSQL REGEXP_CONTAINS) rejects.
_RE2_UNSUPPORTED_GROUPS = (
    ("(?=", "lookahead (?=...)"),
    ("(?!", "negative lookahead (?!...)"),
    ("(?<=", "lookbehind (?<=...)"),
    ("(?<!", "negative lookbehind (?<!...)"),
    ("(?P=", "named backreference (?P=name)"),
    ("(?(", "conditional group (?(...)...)"),
    ("(?>", "atomic group (?>...)"),
    ("(?#", "comment group (?#...)"),
)


# A counted repetition {m}, {m,}, {m,n} or {,n}; any other '{' is a literal in Python.
_COUNTED = re.compile(r"\{(?:\d+(?:,\d*)?|,\d+)\}")


class ExpressionError(RewardkitError, ValueError):
    """The expression, once its placeholders are filled, is not a usable regular expression."""


def re2_incompatibility(pattern: str) -> str | None:
    """The first construct of `pattern` that RE2 does not support, or None.

    Vertex evaluates REGEX_CONTAINS and REGEX_EXTRACT with RE2; a pattern
    Python accepts but RE2 rejects would work here and fail in the job.
    """
    i, n, in_class = 0, len(pattern), False
    while i < n:
        char = pattern[i]
        if char == "\\":
            following = pattern[i + 1 : i + 2]
            if not in_class and following.isdigit() and following != "0":
                return f"backreference \\{following}"
            i += 2
            continue
        if in_class:
            in_class = char != "]"
            i += 1
            continue
        if char == "[":
            in_class = True
            i += 1
            # A ']' first in a class (after an optional '^') is a literal, not the end.
            if pattern[i : i + 1] == "^":
                i += 1
            if pattern[i : i + 1] == "]":
                i += 1
            continue
        if char == "(":
            for prefix, what in _RE2_UNSUPPORTED_GROUPS:
                if pattern.startswith(prefix, i):
                    return what
        if char == "{":
            counted = _COUNTED.match(pattern, i)
            if counted:
                if pattern[counted.end() : counted.end() + 1] == "+":
                    return f"possessive quantifier {counted.group(0)}+"
                i = counted.end()
                continue
        if char in "*+?" and i > 0 and pattern[i - 1] != "(" and pattern[i + 1 : i + 2] == "+":
            return f"possessive quantifier {char}+"
        i += 1
    return None


def _compile(pattern: str, what: str, re2_only: bool) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ExpressionError(f"{what} {pattern!r} is not a valid regular expression: {exc}") from None
    if re2_only:
        problem = re2_incompatibility(pattern)
        if problem:
            raise ExpressionError(
                f"{what} {pattern!r} uses a {problem}, which RE2 (the regex engine of Vertex AI) does not "
                "support; rewrite it, or pass re2_only=False if the reward never has to match Vertex"
            )
    return compiled


def as_text(value: Any) -> str:
    """A reference or JSON value as the text a string match sees: strings as is, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def fill_placeholders(expression: str, references: Mapping[str, Any], *, escape: bool = False) -> str:
    """`expression` with every `{{references.KEY}}` replaced by that reference's value.

    A missing key is a dataset or configuration bug: MissingReferenceError names it.
    With `escape=True` the values are regex-escaped (for REGEX_CONTAINS).
    """

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if references.get(key) is None:
            known = ", ".join(sorted(map(str, references))) or "(none)"
            raise MissingReferenceError(
                f"string_match: the expression uses {{{{references.{key}}}}} but the request has no reference "
                f"{key!r}; its references: {known}"
            )
        text = as_text(references[key])
        return re.escape(text) if escape else text

    return _PLACEHOLDER.sub(value, expression)


@dataclass(frozen=True)
class _Settings:
    operation: str
    expression: str | None
    json_key: str | None
    extract: parsers.Parser | None
    correct: float
    wrong: float


@functools.lru_cache(maxsize=256)
def _settings(match_operation: str = "EXACT_MATCH", expression: str | None = None, json_key: str | None = None,
              regex_extract: str | None = None, correct_answer_reward: float = 1.0, wrong_answer_reward: float = 0.0,
              escape_references: bool = False, strip: bool = False, re2_only: bool = True) -> _Settings:
    """string_match's options as it runs with them (the operation's name upper-cased, regexes compiled); the
    rules no type states: an operation Vertex knows, patterns RE2 accepts. Cached: every call reads it."""
    operation = match_operation.upper()
    if operation not in MATCH_OPERATIONS:
        raise OptionError(
            f"match_operation must be one of {', '.join(MATCH_OPERATIONS)}, got {match_operation!r} "
            "(Vertex rejects MATCH_OPERATION_UNSPECIFIED too)"
        )
    extract = None
    if regex_extract is not None:
        try:
            _compile(regex_extract, "regex_extract", re2_only)
        except ExpressionError as exc:
            raise OptionError(str(exc)) from None
        extract = parsers.regex(regex_extract)
    if operation == "REGEX_CONTAINS" and expression is not None:
        # Check the template now; placeholder values are only known per request.
        template = _PLACEHOLDER.sub("x", expression)
        try:
            _compile(template, "expression", re2_only)
        except ExpressionError as exc:
            raise OptionError(str(exc)) from None
    return _Settings(operation, expression, json_key, extract, float(correct_answer_reward),
                     float(wrong_answer_reward))


def _short(text: str, limit: int = 80) -> str:
    return repr(shorten(text, limit))


def _json_value(target: str, key: str) -> str:
    """The first-level value of `key` in the JSON object `target`, as text; ParseError when there is none."""
    try:
        document = json.loads(target)
    except ValueError as exc:
        raise ParseError(f"the response is not JSON ({exc}), so json_key {key!r} cannot be read") from None
    except RecursionError:
        raise ParseError(f"the response is not JSON (nested too deeply), so json_key {key!r} cannot be read") from None
    if not isinstance(document, dict):
        raise ParseError(f"the response is a JSON {type(document).__name__}, not an object with key {key!r}")
    if key not in document:
        keys = ", ".join(map(repr, list(document)[:10])) or "(none)"
        raise ParseError(f"the response JSON has no first-level key {key!r}; its keys: {keys}")
    return as_text(document[key])


def _matches(operation: str, target: str, expression: str, re2_only: bool) -> bool:
    if operation == "EXACT_MATCH":
        return target == expression
    if operation == "PARTIAL_MATCH":
        return expression in target
    return _compile(expression, "expression", re2_only).search(target) is not None


@reward(check_options=_settings, metrics=["matched"])
def string_match(
    response: str,
    references: Mapping[str, Any],
    reference: Any = None,
    match_operation: str = "EXACT_MATCH",
    expression: str | None = None,
    json_key: Annotated[str, MinLen(1)] | None = None,
    regex_extract: Annotated[str, MinLen(1)] | None = None,
    correct_answer_reward: float = 1.0,
    wrong_answer_reward: float = 0.0,
    escape_references: bool = False,
    strip: bool = False,
    re2_only: bool = True,
) -> Score:
    """Vertex AI's stringMatchRewardScorer: `correct_answer_reward` when the match holds, else `wrong_answer_reward`.

    The target is the response (Vertex thought parts and DashScope
    reasoning_content excluded), after `regex_extract` when set.

    Parameters:
        match_operation: "EXACT_MATCH" (target == expression), "PARTIAL_MATCH"
            (expression is a substring of the target) or "REGEX_CONTAINS"
            (the expression regex matches somewhere in the target, re.search;
            Vertex: GoogleSQL REGEXP_CONTAINS). Default "EXACT_MATCH".
        expression: the string or regex; `{{references.KEY}}` is replaced by
            that reference's value (Vertex `example.references`, DashScope
            `rollout_extra`); a missing key is an error naming it. Default
            None: the gold answer (DashScope `ground_truth`, else
            references answer/solution/...).
        json_key: Vertex jsonMatchExpression.keyName: the target is parsed as
            a JSON object and the match applies to the value of this
            first-level key (strings as is, other values as compact JSON).
            Non-JSON or a missing key scores wrong_answer_reward with the reason.
        regex_extract: Vertex parseResponseConfig REGEX_EXTRACT: the target is
            the last match (group 1 if the pattern has a group); no match scores
            wrong_answer_reward. Default None (IDENTITY).
        correct_answer_reward: score when the match holds (default 1.0).
        wrong_answer_reward: score otherwise (default 0.0). Vertex clips both to [-1, 1].
        escape_references: regex-escape placeholder values (and the default
            gold) in REGEX_CONTAINS (default False, as Vertex, which
            substitutes them verbatim).
        strip: strip outer whitespace from the target first (default False, as Vertex).
        re2_only: reject regex features RE2 lacks (lookaround,
            backreferences, ...) so a pattern that works here works in the job (default True).
    """
    settings = _settings(match_operation, expression, json_key, regex_extract, correct_answer_reward,
                         wrong_answer_reward, escape_references, strip, re2_only)
    escape = escape_references and settings.operation == "REGEX_CONTAINS"
    if settings.expression is None:
        if reference is None:  # the gold is needed only when no expression says what to match
            raise MissingReferenceError("string_match: no expression and no gold answer in the request")
        gold = as_text(reference)
        wanted = re.escape(gold) if escape else gold
    else:
        wanted = fill_placeholders(settings.expression, references, escape=escape)
    wrong = settings.wrong
    target = response
    try:
        if settings.extract is not None:
            target = settings.extract(target)
        if settings.json_key is not None:
            target = _json_value(target.strip(), settings.json_key)
    except ParseError as exc:
        return Score(wrong, f"{settings.operation}: {exc}", {"matched": 0.0})
    if strip:
        target = target.strip()
    what = f"value of {settings.json_key!r}" if settings.json_key else "response"
    if _matches(settings.operation, target, wanted, re2_only):
        return Score(settings.correct, f"{settings.operation}: {what} {_short(target)} matches {_short(wanted)}",
                     {"matched": 1.0})
    return Score(wrong, f"{settings.operation}: {what} {_short(target)} does not match {_short(wanted)}",
                 {"matched": 0.0})


def _field(config: Mapping[str, Any], camel: str, snake: str) -> Any:
    return config.get(camel, config.get(snake))


def string_match_from_vertex(config: Mapping[str, Any], name: str | None = None) -> RewardSpec:
    """A string_match variant from a Vertex reward config, as in the tuning job's JSON.

    `config` is a `singleRewardConfig` (`rewardName`, `parseResponseConfig`,
    `stringMatchRewardScorer`) or a bare `stringMatchRewardScorer`, keys in
    camelCase or snake_case. The variant is named `name`, else `rewardName`.
    Fields Vertex does not default (`correctAnswerReward`,
    `wrongAnswerReward`) take string_match's defaults (1.0, 0.0) when absent:
    set them in the job config to be sure both agree.
    """
    scorer = _field(config, "stringMatchRewardScorer", "string_match_reward_scorer")
    single = scorer is not None
    scorer = scorer if single else config
    label = name or (_field(config, "rewardName", "reward_name") if single else None)
    if not label:
        raise RegistrationError("string_match_from_vertex: pass name=... (the config has no rewardName)")
    options: dict[str, Any] = {}
    plain = _field(scorer, "stringMatchExpression", "string_match_expression")
    json_match = _field(scorer, "jsonMatchExpression", "json_match_expression")
    if (plain is None) == (json_match is None):
        raise RegistrationError(
            f"string_match_from_vertex {label!r}: the scorer needs exactly one of stringMatchExpression "
            "and jsonMatchExpression"
        )
    if json_match is not None:
        options["json_key"] = _field(json_match, "keyName", "key_name")
        plain = _field(json_match, "valueStringMatchExpression", "value_string_match_expression") or {}
    options["match_operation"] = _field(plain, "matchOperation", "match_operation") or "MATCH_OPERATION_UNSPECIFIED"
    if _field(plain, "expression", "expression") is not None:
        options["expression"] = plain["expression"]
    for camel, snake in (("correctAnswerReward", "correct_answer_reward"),
                         ("wrongAnswerReward", "wrong_answer_reward")):
        if _field(scorer, camel, snake) is not None:
            options[snake] = _field(scorer, camel, snake)
    parse = _field(config, "parseResponseConfig", "parse_response_config") if single else None
    if parse:
        kind = _field(parse, "parseType", "parse_type") or "RESPONSE_PARSE_TYPE_UNSPECIFIED"
        if kind == "REGEX_EXTRACT":
            options["regex_extract"] = _field(parse, "regexExtractExpression", "regex_extract_expression")
        elif kind not in ("IDENTITY", "RESPONSE_PARSE_TYPE_UNSPECIFIED"):
            raise RegistrationError(f"string_match_from_vertex {label!r}: unknown parseType {kind!r}")
    return rewardkit.variant(string_match, label, **options)

"""`rewardkit validate-data`: JSONL datasets checked against each platform's line format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rewardkit._errors import RewardkitError
from rewardkit._replay.datasets import (
    FILE_PATH,
    LINE_PATH,
    DatasetProblem,
    DatasetReadError,
    DatasetReport,
    UnknownDatasetFormatError,
    format_report,
    formats,
    validate_dataset,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "tests" / "contract_examples"
SCHEMAS = REPO / "rewardkit" / "contracts" / "schemas"


def write_jsonl(tmp_path: Path, *lines: str | dict) -> Path:
    path = tmp_path / "data.jsonl"
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def problems(tmp_path: Path, fmt: str, *lines: str | dict) -> list[DatasetProblem]:
    return list(validate_dataset(write_jsonl(tmp_path, *lines), fmt).problems)


def only_problem(tmp_path: Path, fmt: str, line: str | dict) -> DatasetProblem:
    found = problems(tmp_path, fmt, line)
    assert len(found) == 1, found
    return found[0]


def user(text: object = "What is 12 * 6?") -> dict:
    return {"role": "user", "parts": [{"text": text}]}


# -- the platform examples -------------------------------------------


def test_platform_vertex_training_line_is_valid() -> None:
    report = validate_dataset(EXAMPLES / "vertex_training_line.jsonl", "vertex")
    assert report.ok, report.problems
    assert report.lines == 1
    assert report.format == "vertex"


def test_platform_dashscope_training_line_is_valid() -> None:
    report = validate_dataset(EXAMPLES / "dashscope_training_line.jsonl", "dashscope")
    assert report.ok, report.problems
    assert report.lines == 1


def test_the_examples_are_not_valid_for_the_other_platform() -> None:
    vertex_as_dashscope = validate_dataset(EXAMPLES / "vertex_training_line.jsonl", "dashscope")
    dashscope_as_vertex = validate_dataset(EXAMPLES / "dashscope_training_line.jsonl", "vertex")
    assert [p.path for p in vertex_as_dashscope.problems] == ["messages"]
    assert [p.path for p in dashscope_as_vertex.problems] == ["contents"]


# -- Vertex: what passes ------------------------------------------------------


def test_vertex_camel_case_and_snake_case_lines_both_pass(tmp_path: Path) -> None:
    camel = {
        "systemInstruction": {"role": "system", "parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [
                {"text": "Describe the image."},
                {"fileData": {"mimeType": "image/png", "fileUri": "gs://b/cat.png"}},
            ]},
        ],
        "references": {"answer": "a cat"},
    }
    snake = {
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [
                {"text": "Describe the image."},
                {"file_data": {"mime_type": "image/png", "file_uri": "gs://b/cat.png"}},
            ]},
        ],
        "references": {"answer": "a cat"},
    }
    report = validate_dataset(write_jsonl(tmp_path, camel, snake), "vertex")
    assert report.ok, report.problems
    assert report.lines == 2


def test_vertex_accepts_multi_turn_optional_fields_and_unknown_fields(tmp_path: Path) -> None:
    line = {
        "contents": [
            user("Hi"),
            {"role": "model", "parts": [{"text": "Hello!", "thought": False}]},
            {"parts": [{"text": "What is 2 + 2?"}]},  # role may be left out
        ],
        "references": None,  # ProtoJSON null means "unset"
        "systemInstruction": None,
        "my_note": "kept for bookkeeping",
    }
    assert problems(tmp_path, "vertex", line) == []


# -- Vertex: bad lines ----------------------------------------------------------


def test_vertex_reports_each_bad_line_with_its_number_path_and_message(tmp_path: Path) -> None:
    good = {"contents": [user()], "references": {"answer": "72"}}
    path = write_jsonl(
        tmp_path,
        good,                                                               # 1
        "",                                                                 # 2 blank
        {"references": {"answer": "72"}},                                   # 3
        {"contents": [{"role": "assistant", "parts": [{"text": "72"}]}]},   # 4
        {"contents": [{"role": "user", "parts": [{"text": "a"}, {}]}]},     # 5
        {"contents": [user()], "references": {"answer": 72}},              # 6
        "{'contents': []}",                                                 # 7
        "   ",                                                              # 8 blank
        good,                                                               # 9
    )
    report = validate_dataset(path, "vertex")

    assert not report.ok
    assert report.lines == 7  # blank lines are skipped, not checked
    found = [(p.line, p.path) for p in report.problems]
    assert found == [
        (3, "contents"),
        (4, "contents[0].role"),
        (5, "contents[0].parts[1]"),
        (6, "references.answer"),
        (7, LINE_PATH),
    ]
    messages = {p.line: p.message for p in report.problems}
    assert messages[3].startswith('missing required field "contents"')
    assert "non-empty array of Content" in messages[3]
    assert '"user" or "model"' in messages[4] and '"assistant"' in messages[4]
    assert "no data" in messages[5] and '"text"' in messages[5]
    assert messages[6] == (
        "expected a string (references is a map of string to string: write numbers, "
        "lists and objects as strings), got the number 72"
    )
    assert messages[7].startswith("not valid JSON:")


def test_vertex_reports_every_error_of_a_line(tmp_path: Path) -> None:
    line = {
        "contents": [{"role": "bot", "parts": [{"text": ""}, {"text": 5}]}],
        "references": {"answer": 72, "steps": ["1", "2"]},
    }
    found = {(p.path, p.message.split(",")[0]) for p in problems(tmp_path, "vertex", line)}
    assert {path for path, _ in found} == {
        "contents[0].role",
        "contents[0].parts[0].text",
        "contents[0].parts[1].text",
        "references.answer",
        "references.steps",
    }


@pytest.mark.parametrize(
    ("line", "path", "message"),
    [
        ({"contents": []}, "contents", "got an empty array"),
        ({"contents": "hi"}, "contents", 'got the string "hi"'),
        ({"contents": [{"role": "user"}]}, "contents[0].parts", 'missing required field "parts"'),
        ({"contents": [{"role": "user", "parts": []}]}, "contents[0].parts", "got an empty array"),
        ({"contents": [user(None)]}, "contents[0].parts[0].text", "got null"),
        ({"contents": [user("")]}, "contents[0].parts[0].text", "Gemini rejects empty text parts"),
        ({"contents": [{"parts": ["hi"]}]}, "contents[0].parts[0]", 'got the string "hi"'),
        ({"contents": [{"parts": [{"txt": "hi"}]}]}, "contents[0].parts[0]", "the part has no data"),
        (
            {"contents": [{"parts": [{"text": "a", "fileData": {"mimeType": "image/png", "fileUri": "gs://b/x"}}]}]},
            "contents[0].parts[0].text",
            "not both",
        ),
        (
            {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}]},
            "contents[0].parts[0].inlineData",
            "text or fileData parts only",
        ),
        (
            {"contents": [{"parts": [{"fileData": {"mimeType": "image/png"}}]}]},
            "contents[0].parts[0].fileData",
            'missing required field "fileUri"',
        ),
        (
            {"contents": [{"parts": [{"file_data": {"file_uri": "gs://b/x", "mime_type": ""}}]}]},
            "contents[0].parts[0].file_data.mime_type",
            "got an empty string",
        ),
        (
            {"contents": [user()], "systemInstruction": {"parts": [{"text": "a"}], "role": 1}},
            "systemInstruction.role",
            "got the number 1",
        ),
        (
            {"contents": [user()], "systemInstruction": "Be brief."},
            "systemInstruction",
            "a Content object with text parts",
        ),
        ({"contents": [user()], "references": ["72"]}, "references", "got an array of 1 item"),
        ({"contents": [user()], "references": {"a b": None}}, 'references["a b"]', "got null"),
        (
            {"contents": [user()], "systemInstruction": {"parts": [{"text": "a"}]},
             "system_instruction": {"parts": [{"text": "a"}]}},
            "systemInstruction",
            "one field in two spellings",
        ),
        ('{"contents": [], "contents": [{"parts": [{"text": "a"}]}]}', "contents", "duplicate key"),
        ('{"contents": [{"parts": [{"text": "a"}]}], "score": NaN}', LINE_PATH, "NaN is not a JSON number"),
        ("[1, 2]", LINE_PATH, "expected a JSON object, got an array of 2 items"),
        ("null", LINE_PATH, "expected a JSON object, got null"),
        ('{"contents": [', LINE_PATH, "not valid JSON"),
    ],
)
def test_vertex_bad_line(tmp_path: Path, line: str | dict, path: str, message: str) -> None:
    problem = only_problem(tmp_path, "vertex", line)
    assert (problem.line, problem.path) == (1, path)
    assert message in problem.message


def test_vertex_system_instruction_accepts_text_only(tmp_path: Path) -> None:
    line = {
        "contents": [user()],
        "system_instruction": {"parts": [{"fileData": {"mimeType": "image/png", "fileUri": "gs://b/x"}}]},
    }
    found = {(p.path, p.message) for p in problems(tmp_path, "vertex", line)}
    assert ("system_instruction.parts[0].fileData",
            "systemInstruction accepts text only; move files and other data into contents") in found
    assert any(path == "system_instruction.parts[0].text" for path, _ in found)


def test_vertex_paths_number_array_items_in_order(tmp_path: Path) -> None:
    contents = [user(f"q{i}") for i in range(12)]
    contents[2]["role"] = "system"
    contents[10]["role"] = "system"
    found = [p.path for p in problems(tmp_path, "vertex", {"contents": contents})]
    assert found == ["contents[2].role", "contents[10].role"]


# -- DashScope ------------------------------------------------------------------


def test_dashscope_accepts_chatml_tool_calls_and_unknown_fields(tmp_path: Path) -> None:
    line = {
        "messages": [
            {"role": "system", "content": "You can call tools."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "22C"},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "rollout_extra": {"solution": "72", "tests": [1, 2]},
        "tools": [{"type": "function", "function": {"name": "weather"}}],
        "ground_truth": 72,
        "source": "gsm8k",
    }
    assert problems(tmp_path, "dashscope", line, {"messages": [{"role": "user", "content": "q"}],
                                                   "rollout_extra": None}) == []


def test_dashscope_reports_each_bad_line_with_its_number_path_and_message(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "q"}], "rollout_extra": {"solution": "72"}}
    path = write_jsonl(
        tmp_path,
        good,                                                                     # 1
        {"rollout_extra": {"solution": "72"}},                                    # 2
        {"messages": [{"content": "q"}]},                                         # 3
        {"messages": [{"role": "user"}]},                                         # 4
        "",                                                                       # 5 blank
        {"messages": [{"role": "bot", "content": "q"}]},                          # 6
        {"messages": [{"role": "user", "content": "q"}], "rollout_extra": "72"},  # 7
        "not json",                                                               # 8
    )
    report = validate_dataset(path, "dashscope")
    assert report.lines == 7
    assert [(p.line, p.path) for p in report.problems] == [
        (2, "messages"),
        (3, "messages[0].role"),
        (4, "messages[0].content"),
        (6, "messages[0].role"),
        (7, "rollout_extra"),
        (8, LINE_PATH),
    ]
    messages = {p.line: p.message for p in report.problems}
    assert messages[2].startswith('missing required field "messages"')
    assert messages[3].startswith('missing required field "role"')
    assert messages[4].startswith('missing required field "content"')
    assert messages[6] == 'expected role "system", "user", "assistant" or "tool", got the string "bot"'
    assert messages[7].startswith("expected an object") and messages[7].endswith('got the string "72"')
    assert messages[8].startswith("not valid JSON")


@pytest.mark.parametrize(
    ("line", "path", "message"),
    [
        ({"messages": []}, "messages", "got an empty array"),
        ({"messages": {"role": "user", "content": "q"}}, "messages", "got an object"),
        ({"messages": ["q"]}, "messages[0]", 'got the string "q"'),
        ({"messages": [{"role": "model", "content": "q"}]}, "messages[0].role", '"model"'),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "got the number 5"),
        ({"messages": [{"role": "user", "content": None}]}, "messages[0].content", "got null"),
        ({"messages": [{"role": "assistant", "content": None}]}, "messages[0].content", "tool_calls"),
        ({"messages": [{"role": "user", "content": [{"text": "q"}]}]}, "messages[0].content[0].type",
         'missing required field "type"'),
        ({"messages": [{"role": "user", "content": "q"}], "rollout_extra": ["72"]}, "rollout_extra",
         "got an array of 1 item"),
        ({"messages": [{"role": "user", "content": "q"}], "tools": {"name": "f"}}, "tools", "got an object"),
        ("42", LINE_PATH, "expected a JSON object, got the number 42"),
    ],
)
def test_dashscope_bad_line(tmp_path: Path, line: str | dict, path: str, message: str) -> None:
    problem = only_problem(tmp_path, "dashscope", line)
    assert (problem.line, problem.path) == (1, path)
    assert message in problem.message


# -- file-level behaviour -----------------------------------------------------------


def test_crlf_line_endings_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "win.jsonl"
    path.write_bytes(b'{"messages": [{"role": "user", "content": "q"}]}\r\n' * 2)
    report = validate_dataset(path, "dashscope")
    assert report.ok and report.lines == 2


def test_byte_order_mark_and_bad_utf8_are_reported_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    good = b'{"messages": [{"role": "user", "content": "q"}]}'
    path.write_bytes(b"\xef\xbb\xbf" + good + b"\n" + good[:-3] + b"\xff\"}]}\n")
    found = [(p.line, p.path, p.message) for p in validate_dataset(path, "dashscope").problems]
    assert [(line, where) for line, where, _ in found] == [(1, LINE_PATH), (2, LINE_PATH)]
    assert "byte order mark" in found[0][2]
    assert "not valid UTF-8" in found[1][2]


def test_an_empty_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    report = validate_dataset(path, "vertex")
    assert report.lines == 0
    assert report.problems == (DatasetProblem(0, FILE_PATH, report.problems[0].message),)
    assert "no examples" in report.problems[0].message


def test_unknown_format_and_missing_file_raise(tmp_path: Path) -> None:
    with pytest.raises(UnknownDatasetFormatError, match=", ".join(formats())):
        validate_dataset(write_jsonl(tmp_path, {"contents": []}), "openai")  # type: ignore[arg-type]
    with pytest.raises(DatasetReadError, match="nope.jsonl"):
        validate_dataset(tmp_path / "nope.jsonl", "vertex")
    # the CLI turns any RewardkitError into a message and a non-zero exit
    assert issubclass(DatasetReadError, RewardkitError)
    assert issubclass(UnknownDatasetFormatError, RewardkitError)


# -- terminal output ----------------------------------------------------------------


def test_format_report_ok() -> None:
    report = DatasetReport("train.jsonl", "vertex", 3, ())
    assert report.ok
    assert format_report(report) == "train.jsonl: OK, 3 lines match the vertex dataset format"


def test_format_report_lists_problems_compiler_style_and_truncates() -> None:
    problems_ = tuple(DatasetProblem(i, "contents", f"problem {i}") for i in range(1, 6))
    report = DatasetReport("train.jsonl", "vertex", 9, problems_ + (DatasetProblem(0, FILE_PATH, "empty"),))
    text = format_report(report, max_problems=2)
    assert text.splitlines() == [
        "train.jsonl: 6 problems in 9 lines (vertex dataset format)",
        "train.jsonl:1: contents: problem 1",
        "train.jsonl:2: contents: problem 2",
        "... and 4 more problems not shown",
    ]
    assert format_report(report).splitlines()[-1] == "train.jsonl: (file): empty"
    with pytest.raises(ValueError):
        format_report(report, max_problems=-1)


# -- the schemas themselves -----------------------------------------------------------


@pytest.mark.parametrize("name", ["vertex.schema.json", "dashscope.schema.json"])
def test_schemas_are_valid_draft_2020_12_and_cite_their_sources(name: str) -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "https://" in schema["description"]


def test_importing_the_module_does_not_import_jsonschema() -> None:
    code = "import sys, rewardkit._replay.datasets; print('jsonschema' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"

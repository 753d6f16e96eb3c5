"""`rewardkit validate-data FILE --platform vertex|dashscope`: exit 0 valid, 1 problems, 2 unreadable."""

from __future__ import annotations

import json
import subprocess

import pytest

from rewardkit._cli.main import main as cli_main

from .conftest import CONTRACT_EXAMPLES
from .served import rewardkit_command


@pytest.mark.parametrize("name, fmt", [("vertex_training_line.jsonl", "vertex"),
                                       ("dashscope_training_line.jsonl", "dashscope")])
def test_the_platform_training_lines_are_valid(capsys, name, fmt):
    assert cli_main(["validate-data", str(CONTRACT_EXAMPLES / name), "--platform", fmt]) == 0
    assert capsys.readouterr().out.strip() == f"{CONTRACT_EXAMPLES / name}: OK, 1 line match the {fmt} dataset format"


def test_every_bad_line_is_reported_with_its_number_and_field_path(tmp_path, capsys):
    good = (CONTRACT_EXAMPLES / "vertex_training_line.jsonl").read_text().strip()
    bad_part = json.dumps({"contents": [{"role": "user", "parts": [{"text": 3}]}]})
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([good, "", bad_part, "not json", json.dumps({"messages": []})]) + "\n")
    assert cli_main(["validate-data", str(path), "--platform", "vertex"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{path}: ") and "in 4 lines (vertex dataset format)" in lines[0]
    assert any(line.startswith(f"{path}:3: contents[0].parts[0].text: ") for line in lines)
    assert any(line.startswith(f"{path}:4: (line): not valid JSON") for line in lines)
    assert any(line.startswith(f"{path}:5: contents: missing required field") for line in lines)
    assert not any(line.startswith(f"{path}:1:") for line in lines)


def test_an_unreadable_file_exits_2_and_the_worst_file_decides(tmp_path, capsys):
    good = CONTRACT_EXAMPLES / "dashscope_training_line.jsonl"
    assert cli_main(["validate-data", str(good), str(tmp_path / "missing.jsonl"), "--platform", "dashscope"]) == 2
    captured = capsys.readouterr()
    assert "OK" in captured.out and "cannot read dataset" in captured.err


def test_the_console_script_exit_codes(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"messages": "hi"}\n')
    command = [*rewardkit_command(), "validate-data", str(path)]
    assert subprocess.run([*command, "--platform", "dashscope"], capture_output=True, timeout=60).returncode == 1
    missing = subprocess.run(command, capture_output=True, text=True, timeout=60)  # the platform is required
    assert missing.returncode == 2 and "--platform vertex" in missing.stderr


def test_the_old_format_spelling_still_works_and_says_it_is_deprecated(tmp_path):
    path = CONTRACT_EXAMPLES / "vertex_training_line.jsonl"
    old = subprocess.run([*rewardkit_command(), "validate-data", str(path), "--format", "vertex"],
                         capture_output=True, text=True, timeout=60)
    assert old.returncode == 0 and "OK" in old.stdout
    assert "--format is deprecated here, use --platform" in old.stderr

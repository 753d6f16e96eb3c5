"""A user's decorated reward keeps its exact signature in their type checker (mypy, --strict).

Runs mypy on tests/typing_user_rewards.py, a reward module written as a user writes one: every
`reveal_type(...)  # TYPE` line must show TYPE, and the lines marked `# error: CODES` must be the only
errors, with exactly those codes (a wrong call of a decorated reward is caught, a right one is not).
rewardkit itself is read the way an installed package is (its own errors are .ci/run's business).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[lint]')")

REPO = Path(__file__).resolve().parent.parent
USER_FILE = REPO / "tests" / "typing_user_rewards.py"
CONFIG = """\
[mypy]
python_version = 3.10
strict = True
[mypy-rewardkit.*]
follow_imports = silent
"""
REPORTED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*?)"
                      r"(?:  \[(?P<code>[a-z-]+)\])?$")


def _expected() -> tuple[dict[int, str], dict[int, set[str]]]:
    reveals, errors = {}, {}
    for number, line in enumerate(USER_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("reveal_type("):
            reveals[number] = line.split("  # ", 1)[1]
        elif "  # error: " in line:
            errors[number] = {code.strip() for code in line.split("  # error: ", 1)[1].split(",")}
    return reveals, errors


def test_decorated_rewards_keep_their_signatures_under_mypy(tmp_path: Path) -> None:
    config = tmp_path / "mypy.ini"
    config.write_text(CONFIG)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", "--show-error-codes", str(USER_FILE.relative_to(REPO))],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    reveals: dict[int, str] = {}
    errors: dict[int, set[str]] = {}
    for line in run.stdout.splitlines():
        match = REPORTED.match(line)
        assert match, f"unexpected mypy output: {line}\n{run.stdout}{run.stderr}"
        assert Path(match["file"]).name == USER_FILE.name, f"an error outside the user's file: {line}"
        number = int(match["line"])
        if match["kind"] == "note" and match["text"].startswith("Revealed type is "):
            reveals[number] = match["text"].removeprefix("Revealed type is ").strip('"')
        elif match["kind"] == "error":
            errors.setdefault(number, set()).add(match["code"])
    expected_reveals, expected_errors = _expected()
    assert len(expected_reveals) == 7 and len(expected_errors) == 7
    assert reveals == expected_reveals, run.stdout
    assert errors == expected_errors, run.stdout

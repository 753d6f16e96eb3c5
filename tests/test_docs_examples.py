"""Every shell example of the README and of docs/ runs as shown, and prints what the page says it prints.

Pages run in the README's order, each in a scratch folder of its own that holds, as a reader's
would, `my_rewards.py` as "Writing rewards" defines it (the README's tour writes its own). The
README runs as a new user runs it: in a copy of the checkout (its "clone"), with nothing on PATH
from the test's environment, so its own install command makes `.venv` and its later commands have
only what that installed (a tour step that needs a package the install lacks fails here). The
guide's pages use the test's environment as their `.venv`. What runs:
- a ```python block whose first line is `# NAME.py` is written to that file;
- a ```sh block that is, or ends with, a `rewardkit serve` line runs the lines before it, then the
  server in the background on a free port (the page's `8080` is replaced) until /health answers;
  it stops when the page ends; a page that calls the service before starting one gets `rewardkit
  serve` of the built-in rewards;
- any other ```sh block runs with bash -e; an expected output, a `# {...}` comment line inside the
  block or a ```json block right after it, must appear in what the block printed (`...` stands for
  anything, whitespace is ignored);
- a block preceded by `<!-- docs-test: skip REASON -->` is not run: cloud accounts, benchmarks
  that take minutes, and installs that other tests or CI itself make.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import REPO
from .served import free_port, wait_healthy

_SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b(.*?)-->\s*\n\s*$", re.S)
_FENCE = re.compile(r"```(\w*)[^\n]*\n(.*?)```", re.S)
_SERVE = re.compile(r"^(?:\.venv/bin/)?rewardkit serve\b")


@dataclass
class Block:
    page: str
    line: int
    lang: str
    text: str
    skip: str | None
    expected: list[str]
    end: int = 0  # where the block's closing fence ends in the page


def pages() -> list[Path]:
    """README.md, then the guide's pages in the order the README links them, then any others."""
    linked = re.findall(r"\]\(docs/([\w-]+\.md)", (REPO / "README.md").read_text())
    rest = sorted(p.name for p in (REPO / "docs").glob("*.md") if p.name not in linked)
    return [REPO / "README.md", *(REPO / "docs" / name for name in dict.fromkeys([*linked, *rest]))]


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found: list[Block] = []
    for match in _FENCE.finditer(text):
        lang, body = match.group(1), match.group(2)
        before = text[: match.start()]
        skip = _SKIP.search(before)
        if lang == "json" and found and found[-1].lang == "sh" and not before[found[-1].end:].strip():
            found[-1].expected.append(body.strip())  # the output of the shell block just above
            continue
        block = Block(page.name, before.count("\n") + 1, lang, body, skip.group(1).strip() if skip else None, [],
                      match.end())
        if lang == "sh":
            block.expected = [line[2:] for line in body.splitlines() if line.startswith("# {")]
        found.append(block)
    return found


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def printed(expected: str, output: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in _squash(expected).split("..."))
    return re.search(pattern, _squash(output), re.S) is not None


# What this test's own run may have set that a reader's shell has not.
_NOT_A_USERS = {"PORT", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}
# A clone holds these; a working checkout may hold more (caches, the test's own .venv, builds).
_NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info", "build", "dist",
                                         ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis")


class Page:
    """One page's scratch state: the folder, the environment and the service it started."""

    def __init__(self, folder: Path, isolated: bool = False) -> None:
        self.folder = folder
        self.port = free_port()
        venv_bin = Path(sys.executable).parent
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDKIT_") and k not in _NOT_A_USERS}
        path = [entry for entry in self.env.get("PATH", "").split(os.pathsep) if entry and Path(entry) != venv_bin]
        # Isolated (the README): the reader's shell, without this test's environment on PATH.
        self.env["PATH"] = os.pathsep.join(path if isolated else [str(venv_bin), *path])
        self.server: subprocess.Popen | None = None
        self.log = folder / f"server-{self.port}.log"

    def localized(self, text: str) -> str:
        return text.replace("localhost:8080", f"127.0.0.1:{self.port}")

    def serve(self, command: str) -> None:
        self.stop()
        words = shlex.split(command.split("#", 1)[0])
        words = [w for i, w in enumerate(words) if w != "--port" and (i == 0 or words[i - 1] != "--port")]
        words += ["--port", str(self.port), "--host", "127.0.0.1", "--workers", "1"]
        with open(self.log, "w") as out:
            self.server = subprocess.Popen(words, cwd=self.folder, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wait_healthy(self.server, f"http://127.0.0.1:{self.port}", 90, command, self.log.read_text)

    def run(self, block: Block) -> str:
        script = self.localized(block.text)
        if "127.0.0.1:" in script and self.server is None:
            self.serve("rewardkit serve")  # the page calls the built-in service without starting one
        done = subprocess.run(["bash", "-e", "-c", script], cwd=self.folder, env=self.env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{block.page}:{block.line} failed ({done.returncode}):\n{block.text}\n" \
                                     f"stdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}"
        return done.stdout

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        self.server = None


def _guide_module() -> str:
    """`my_rewards.py` as the "Writing rewards" page defines it."""
    for block in blocks(REPO / "docs" / "writing-rewards.md"):
        if block.lang == "python" and block.text.startswith("# my_rewards.py"):
            return block.text
    raise AssertionError("docs/writing-rewards.md no longer defines my_rewards.py")


def _folder(tmp_path: Path, page: Path) -> Path:
    if page.name == "README.md":  # a clone of its own, where the README's install makes .venv
        clone = tmp_path / "rewardkit"
        shutil.copytree(REPO, clone, ignore=_NOT_IN_A_CLONE, symlinks=True)
        return clone
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # the guide's `.venv/bin/...` commands
    (tmp_path / "rewards").symlink_to(REPO / "rewards")  # `rewards/fixtures/...`, as in a clone
    (tmp_path / "tests").symlink_to(REPO / "tests")  # `tests/judge_server.py`, the scripted judge, as in a clone
    (tmp_path / "my_rewards.py").write_text(_guide_module())
    return tmp_path


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_the_shell_examples_of_the_page_run_as_shown(page: Path, tmp_path: Path) -> None:
    workdir = _folder(tmp_path, page)
    state = Page(workdir, isolated=page.name == "README.md")
    try:
        for block in blocks(page):
            if block.skip is not None or block.lang not in ("sh", "python"):
                continue
            if block.lang == "python":
                first = block.text.splitlines()[0] if block.text.strip() else ""
                name = re.match(r"#\s*([\w]+\.py)\b", first)
                if name:
                    (workdir / name.group(1)).write_text(block.text)
                continue
            *before, last = block.text.strip().splitlines()
            if _SERVE.match(last):
                if before:  # e.g. the install, then the server
                    state.run(Block(block.page, block.line, block.lang, "\n".join(before), None, []))
                state.serve(last)
                continue
            output = state.run(block)
            for expected in block.expected:
                assert printed(expected, output), (f"{block.page}:{block.line} printed\n{output[-3000:]}\n"
                                                   f"which does not match what the page shows:\n{expected}")
    finally:
        state.stop()


def test_every_shell_block_is_run_or_says_why_not() -> None:
    unexplained = [f"{b.page}:{b.line}" for page in pages() for b in blocks(page)
                   if b.lang == "sh" and b.skip == ""]
    assert not unexplained, f"skipped without a reason: {unexplained}"

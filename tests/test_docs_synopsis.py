"""Each command synopsis in docs/ names exactly the options the command line declares, and each option's choices.

A synopsis is a plain ``` block whose lines start `rewardkit VERB ...` (several commands, several lines each);
it is read against the argparse declaration of that command (rewardkit._cli.main.build_parser), so an option
added to a command and not to its page, or a choice added to --platform and not to the page, fails here.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from pathlib import Path

import pytest

import rewardkit
from rewardkit._cli.main import build_parser

from .conftest import REPO

_BLOCK = re.compile(r"^```\n(rewardkit [a-z-]+\b.*?)^```", re.S | re.M)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(found[0].choices) if found else {}


def _command(words: list[str]) -> tuple[str, argparse.ArgumentParser]:
    """The command a synopsis shows (`serve`, `deploy cloudrun`) and its parser."""
    parser, names = build_parser(), []
    for word in words[1:]:
        below = _subcommands(parser)
        if word not in below:
            break
        parser = below[word]
        names.append(word)
    return " ".join(names), parser


def synopses() -> dict[tuple[str, str], str]:
    """The synopses of each command on each page of docs/, joined (a page may show a command's modes apart)."""
    found: dict[tuple[str, str], str] = {}
    for page in sorted((REPO / "docs").glob("*.md")):
        for block in _BLOCK.findall(page.read_text()):
            for synopsis in re.split(r"\n(?=rewardkit )", block):  # a block may show several commands
                command, _ = _command(synopsis.split())
                found[page.name, command] = found.get((page.name, command), "") + synopsis
    return found


def _declared(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options a user can type (not help, not hidden)."""
    return [action for action in parser._actions if action.option_strings and action.help != argparse.SUPPRESS
            and not isinstance(action, argparse._HelpAction)]


def test_the_pages_have_synopses_to_check() -> None:
    assert {command for _, command in synopses()} >= {"serve", "audit", "replay", "validate-data", "init"}


@pytest.mark.parametrize("page, command", sorted(synopses()), ids=lambda value: value)
def test_a_synopsis_names_every_option_and_choice_its_command_declares(page: str, command: str) -> None:
    text = synopses()[page, command]
    declared = _declared(_command(["rewardkit", *command.split()])[1])
    by_flag = {flag: action for action in declared for flag in action.option_strings}
    written = dict(re.findall(r"(--[a-z][a-z0-9-]*)(?:[ =]([^\s\[\]-][^\s\]]*))?", text))  # --p99: digits too
    missing = sorted(a.option_strings[-1] for a in declared if not set(a.option_strings) & set(written))
    unknown = sorted(flag for flag in written if flag not in by_flag)
    assert not missing and not unknown, (f"docs/{page}: the synopsis of `rewardkit {command}` lacks {missing} and "
                                         f"names {unknown}, which the command does not declare")
    for flag, value in written.items():
        choices = by_flag[flag].choices
        if choices is not None and "|" in value:
            assert value.split("|") == list(choices), (f"docs/{page}: `{flag} {value}`, but the command takes "
                                                       f"{'|'.join(choices)}")


# ---- the deploy folders' READMEs: commands that parse, and no private function as the way to do something ----

def _deploy_readmes() -> list[Path]:
    return sorted((REPO / "deploy").glob("*/README.md"))


def _private_names() -> set[str]:
    """Functions and classes defined in rewardkit's private modules and not offered by a public one."""
    public: set[str] = set()
    private: set[str] = set()
    for path in (REPO / "rewardkit").rglob("*.py"):
        names = {node.name for node in ast.parse(path.read_text()).body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        parts = path.relative_to(REPO).with_suffix("").parts
        (private if any(part.startswith("_") and part != "__init__" for part in parts) else public).update(names)
    return private - public - set(dir(rewardkit))


def test_the_deploy_readmes_show_commands_that_parse_and_name_no_private_function() -> None:
    """Issue 22, item 10: deploy/fc/README.md sent users to `dashscope_functions_config`, a private function,
    for what `rewardkit config dashscope` prints."""
    private = _private_names()
    assert "dashscope_functions_config" in private  # what the check looks for still exists
    checked = 0
    for readme in _deploy_readmes():
        text = readme.read_text()
        named = sorted({name for name in re.findall(r"`([A-Za-z_][\w.]*)`", text) if "_" in name} & private)
        assert not named, f"{readme.relative_to(REPO)} names rewardkit's private {named}: show the command instead"
        blocks = "\n".join(re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S))  # commands, not prose
        for command in re.findall(r"^(rewardkit (?:[^\n]*\\\n)*[^\n]*)", blocks, re.M):
            words = shlex.split(command.replace("\\\n", " ").split("#")[0].rstrip(" &"))
            checked += 1
            try:
                build_parser().parse_args(words[1:])
            except SystemExit:
                pytest.fail(f"{readme.relative_to(REPO)}: `{command}` is not a command rewardkit takes")
    assert checked, "no rewardkit command found in the deploy READMEs' code blocks: the check examined nothing"
    assert "rewardkit config dashscope" in (REPO / "deploy" / "fc" / "README.md").read_text()

"""The `rewardkit audit` command: arguments, the reward's kinds, exit codes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from .._audit.lines import DEFAULT_SAMPLE, DEFAULT_SEED, read_lines
from .._audit.probes import ProbeError, all_probes, kinds_of, probes_for
from .._audit.report import write_report
from .._audit.run import DEFAULT_MARGIN, audit
from .._errors import RewardkitError
from .._loader import describe_target, load_module, load_registry, resolve_target
from .._replay.datasets import formats as dataset_platforms
from .._replay.replay import ReplayInputError
from .._replay.report import Progress
from .._sample import DEFAULT_REFERENCE_KEYS
from .replay import _positive_int, _token, add_service_arguments, concurrency, quiet_service_log


def _ids(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _reward_kinds(args: Any, spec: Any) -> tuple[str, ...]:
    """--kind, else what the reward declares (in-process: its function), else the built-in table or its name."""
    if args.kind:
        return tuple(_ids(args.kind))
    return kinds_of(args.reward, getattr(spec, "fn", None))


def _check_probe_ids(ids: list[str], what: str) -> None:
    known = {p.id for p in all_probes()}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ReplayInputError(f"{what}: unknown probe(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


INCONCLUSIVE = 3  # the exit code of an audit that measured nothing a verdict can rest on


def main(args: Any, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run `rewardkit audit`; 0 done, 1 when --fail-on finds what it names, 2 bad input or a target that cannot load,
    3 inconclusive (no line scored, controls that do not separate, mostly errors): a gate never passes on nothing."""
    from .._replay.training import TrainingDataError
    from .._settings import load_settings

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    target = resolve_target(args.target)
    try:
        for module in args.probe_module or ():
            load_module(module)  # its @probe functions register themselves
        # In-process, the reward itself says what it is and where it reads its gold; behind --url, its name only.
        spec = None if args.url is not None else load_registry(target).get(args.reward)  # names the rewards there are
        gold_keys = getattr(spec, "reference_keys", DEFAULT_REFERENCE_KEYS)
        kinds = _reward_kinds(args, spec)
        wanted = _ids(args.probes)
        _check_probe_ids(wanted, "--probes")
        fail_on = _ids(args.fail_on)
        if fail_on != ["exploit"]:
            _check_probe_ids(fail_on, "--fail-on (exploit, or probe ids)")
        probes = probes_for(kinds, wanted or None)
        lines = read_lines(args.data, sample=args.sample, seed=args.seed, platform=args.platform, gold_keys=gold_keys)
        token = _token(args)
        settings = None if args.url else load_settings({"workers": args.workers})
    except (TrainingDataError, ReplayInputError, RewardkitError) as exc:
        print(f"rewardkit audit: {exc}", file=stderr)
        return 2
    progress = Progress(0, stderr)
    try:
        with quiet_service_log():
            report = asyncio.run(audit(lines, probes, reward=args.reward, kinds=kinds, data=args.data,
                                       target=target, url=args.url, token=token, margin=args.margin,
                                       concurrency=concurrency(args), timeout=args.timeout, settings=settings,
                                       on_result=progress.update, on_total=progress.add, gold_keys=gold_keys))
    except ProbeError as exc:
        print(f"rewardkit audit: {exc}", file=stderr)
        return 2
    except RewardkitError as exc:
        print(f"rewardkit audit: cannot serve {describe_target(target)}: {exc}", file=stderr)
        return 2
    finally:
        progress.close()
    write_report(report, args.format, stdout)
    if report.inconclusive:
        for reason in report.inconclusive:
            print(f"rewardkit audit: inconclusive: {reason}", file=stderr)
        return INCONCLUSIVE
    failing = set(report.failing)
    return 1 if (failing if fail_on == ["exploit"] else failing & set(fail_on)) else 0


def _margin(value: str) -> float:
    number = float(value)
    if not 0 <= number < 1e9:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {value}")
    return number


def add_parser(commands: Any) -> None:
    """The `audit` subcommand's arguments."""
    cmd = commands.add_parser(
        "audit", help="probe a reward with responses it should not credit, on your own training data",
        description="Build responses a reward should not credit (master keys, empty formats, hedging, "
        "contradictions, padding, look-alike characters, judge injection, code exploits, junk tool calls) from "
        "lines of a training/validation JSONL, score them through the same pipeline `rewardkit serve` runs "
        "(in-process or --url) beside a known-correct and a known-wrong control, and report each probe's verdict. "
        "Exit 0, or 1 when --fail-on finds what it names (an exploit, or a probe whose responses mostly failed), "
        "2 on bad input, 3 when the audit is inconclusive (no line scored, controls that do not separate, most "
        "responses not scored).")
    cmd.add_argument("target", nargs="?", default=None,
                     help="reward module or .py file to run in-process (default $REWARDKIT_TARGET, else the "
                     "built-in 'rewards' package)")
    cmd.add_argument("--reward", required=True, help="the reward to audit (required)")
    cmd.add_argument("--data", required=True, metavar="FILE",
                     help="training/validation JSONL in Vertex or DashScope format; the gold answers come from it")
    cmd.add_argument("--platform", default=None, choices=dataset_platforms(),
                     help="the data's platform format (default: recognised per line)")
    cmd.add_argument("--sample", type=_positive_int, default=DEFAULT_SAMPLE, metavar="N",
                     help=f"lines drawn from the data (default {DEFAULT_SAMPLE})")
    cmd.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of the draw (default {DEFAULT_SEED})")
    cmd.add_argument("--probes", default=None, metavar="IDS",
                     help="comma-separated probe ids to run (default: every probe for the reward's kind)")
    cmd.add_argument("--kind", default=None, metavar="KINDS",
                     help="the reward's kind(s), comma-separated: answer, judge, code, tool_calls, format, ... "
                     "(default: declared with rewardkit.audit.kinds, else by name)")
    cmd.add_argument("--probe-module", action="append", default=None, metavar="MODULE",
                     help="import this module or .py file for its @rewardkit.audit.probe functions "
                          "(repeatable; default: none)")
    cmd.add_argument("--margin", type=_margin, default=DEFAULT_MARGIN,
                     help=f"how far above the wrong control a probe must score to be an exploit (default "
                     f"{DEFAULT_MARGIN:g})")
    cmd.add_argument("--fail-on", default=None, metavar="exploit|IDS",
                     help="exit 1 when any probe finds an exploit or errs ('exploit'), or one of these probe ids "
                     "does (a probe errs when most of its responses were not scored; default: exit 0 whatever the "
                     "verdicts)")
    cmd.add_argument("--format", default="table", choices=["table", "json", "markdown"],
                     help="output format (default table)")
    add_service_arguments(cmd)
    cmd.set_defaults(handler=main)

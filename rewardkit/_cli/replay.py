"""The `rewardkit replay` command: arguments, tokens, exit codes."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from typing import Any, Iterator, TextIO

from .._errors import RewardkitError
from .._loader import describe_target, resolve_target, target_line
from .._replay.datasets import formats as dataset_platforms
from .._replay.fixtures import FixtureCase, FixtureError
from .._replay.replay import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT, TOKEN_ENV, ReplayInputError, read_cases, replay
from .._replay.report import Progress, write_report
from .._settings import Settings


def gcloud_identity_token() -> str:
    """An identity token for a private Cloud Run service, from the gcloud CLI's active account."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise ReplayInputError("--gcloud-auth needs the gcloud CLI on PATH (https://cloud.google.com/sdk)")
    result = subprocess.run([gcloud, "auth", "print-identity-token"], capture_output=True, text=True)
    token = result.stdout.strip()
    if result.returncode != 0 or not token:
        raise ReplayInputError(f"`gcloud auth print-identity-token` failed: {result.stderr.strip() or 'no token'}")
    return token


def _token(args: Any) -> str | None:
    if args.gcloud_auth:
        if args.url is None:
            raise ReplayInputError("--gcloud-auth is for a deployed service: give its --url")
        return gcloud_identity_token()
    return args.token or os.environ.get(TOKEN_ENV) or None


def _cases(args: Any) -> list[FixtureCase]:
    if args.training is not None:
        if args.paths:
            raise ReplayInputError("give either fixture/request files or --training, not both")
        from .._replay.training import training_cases

        return training_cases(args.training, responses=args.responses, response_field=args.response_field,
                              fmt=args.format_in)
    if args.responses is not None or args.response_field is not None or args.format_in is not None:
        raise ReplayInputError("--responses, --response-field and --platform go with --training")
    if not args.paths:
        raise ReplayInputError("nothing to replay: give fixture or request files (JSON / JSONL), "
                               "or --training with --responses / --response-field")
    return read_cases(args.paths)


def main(args: Any, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run `rewardkit replay`; 0 all passed, 1 an expectation failed, 2 bad input or a target that cannot load."""
    from .._replay.training import TrainingDataError
    from .._settings import load_settings

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    target = resolve_target(args.target)
    try:
        cases = _cases(args)
        token = _token(args)
        settings = None if args.url else load_settings({"workers": args.workers})
    except (FixtureError, TrainingDataError, ReplayInputError, RewardkitError) as exc:
        print(f"rewardkit replay: {exc}", file=stderr)
        return 2
    if not cases:
        print("rewardkit replay: the input holds no requests", file=stderr)
        return 2
    if args.url is None:
        used = target_line("replaying through", "use", target, given=args.target is not None, flag="--target")
        print(f"rewardkit replay: {used}", file=stderr)
    if args.bench:
        return _bench(args, cases, target, token, settings, stdout, stderr)
    if args.bench_out is not None or args.bench_calls is not None:
        print("rewardkit replay: --bench-out and --bench-calls go with --bench", file=stderr)
        return 2
    progress = Progress(len(cases), stderr)
    try:
        with quiet_service_log():
            results = asyncio.run(replay(cases, target=target, reward=args.reward, url=args.url, token=token,
                                         concurrency=concurrency(args), timeout=args.timeout,
                                         settings=settings, on_result=progress.update))
    except RewardkitError as exc:
        print(f"rewardkit replay: cannot serve {describe_target(target)}: {exc}", file=stderr)
        return 2
    finally:
        progress.close()
    write_report(results, args.format, stdout)
    return 0 if all(r.passed for r in results) else 1


def concurrency(args: Any, default: int = DEFAULT_CONCURRENCY) -> int:
    """--concurrency, else `default`."""
    return default if args.concurrency is None else int(args.concurrency)


def _bench_workers(args: Any, settings: Settings) -> int:
    """The worker processes the calls ran on: the in-process app's, or what --workers says the service has."""
    if args.url is None:
        return max(1, settings.worker_count)  # 0: rewards in the server process, one at a time for sync ones
    if args.workers is None:
        raise ReplayInputError("--bench with --url: say how many worker processes the service runs (--workers N, "
                               "its REWARDKIT_WORKERS or vCPUs), so the rate can be given per worker")
    try:
        workers = int(args.workers)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ReplayInputError(f"--workers {args.workers!r}: with --url and --bench, give the service's worker count, "
                               "1 or more")
    return workers


def _bench(args: Any, cases: list[FixtureCase], target: str, token: str | None, settings: Any, stdout: TextIO,
           stderr: TextIO) -> int:
    """`replay --bench`: the reward's cost per call, printed, and written as JSON with --bench-out."""
    from .._replay.bench import DEFAULT_BENCH_CALLS, bench

    try:
        workers = _bench_workers(args, settings)
    except ReplayInputError as exc:
        print(f"rewardkit replay: {exc}", file=stderr)
        return 2
    # One call per worker by default: the latency is then a call's own, not its wait in the queue.
    in_flight = concurrency(args, default=workers)
    try:
        with quiet_service_log():
            result, results = asyncio.run(bench(cases, workers=workers, calls=args.bench_calls or DEFAULT_BENCH_CALLS,
                                                target=target, reward=args.reward, url=args.url, token=token,
                                                concurrency=in_flight, timeout=args.timeout, settings=settings))
    except RewardkitError as exc:
        print(f"rewardkit replay: cannot serve {describe_target(target)}: {exc}", file=stderr)
        return 2
    print(result.text(), file=stdout)
    if result.failed:  # a bench of failures measures the failure path, not the reward
        first = next(r for r in results if not r.passed)
        print(f"rewardkit replay: {result.failed} of {result.calls} calls did not pass (first: "
              f"{'; '.join(first.problems)}); the figures are not the reward's cost", file=stderr)
        return 1
    if args.bench_out:
        with open(args.bench_out, "w") as out:
            out.write(result.dumps())
        print(f"rewardkit replay: wrote {args.bench_out} (for --bench FILE of rewardkit config capacity and "
              "rewardkit deploy)", file=stderr)
    return 0


def add_parser(commands: Any) -> None:
    """The `replay` subcommand's arguments."""
    replay_cmd = commands.add_parser(
        "replay", help="score recorded requests, fixtures or training data through the reward service",
        description="Send request bodies of any served contract or fixture records (JSON or JSONL; a folder means its "
        "*.reward.json[l] files) through the same pipeline `rewardkit serve` runs, in-process or to --url, and "
        "report each result and a summary. Exit 0 when all pass, 1 when an expectation fails (a record without "
        "one must be scored), 2 on bad input.")
    replay_cmd.add_argument("paths", nargs="*", metavar="PATH", help="request or fixture files, or folders of fixtures")
    replay_cmd.add_argument("--target", default=None,
                            help="reward module or .py file to run in-process (default $REWARDKIT_TARGET, else the "
                            "built-in 'rewards' package)")
    replay_cmd.add_argument("--reward", default=None,
                            help="reward to call for every request (default: each record's 'reward', else the "
                            "service's default reward)")
    replay_cmd.add_argument("--format", default="table", choices=["table", "json", "jsonl"],
                            help="output format (default table)")
    add_service_arguments(replay_cmd)
    measure = replay_cmd.add_argument_group("bench mode")
    measure.add_argument("--bench", action="store_true",
                         help="measure the reward's cost instead of reporting scores: after a warm-up round, send the "
                         "requests over and over and print calls/s per worker and latency p50/p99/max (default "
                         "--concurrency: one call per worker)")
    measure.add_argument("--bench-calls", type=_positive_int, default=None, metavar="N",
                         help="with --bench: calls to time, the requests repeated as needed (default 200)")
    measure.add_argument("--bench-out", default=None, metavar="FILE",
                         help="with --bench: write the figures as JSON, for the --bench option of rewardkit config "
                         "capacity and rewardkit deploy (default: none)")
    training = replay_cmd.add_argument_group("training-data mode")
    training.add_argument("--training", default=None, metavar="FILE",
                          help="a training/validation JSONL in a platform's dataset format: build the requests a "
                          "tuning job would send and score them (default: none)")
    training.add_argument("--responses", default=None, metavar="FILE",
                          help="model responses, one JSON line per training line: \"text\", {\"response\": ...} "
                          "or {\"responses\": [...]} (several samples of one prompt; default: none)")
    training.add_argument("--response-field", default=None, metavar="FIELD",
                          help="take each response from this field of the training line (dotted: rollout_extra.answer; "
                          "default: none)")
    training.add_argument("--platform", "--format-in", dest="format_in", default=None, choices=dataset_platforms(),
                          help="the training file's platform format (default: recognised per line; --format-in is "
                          "the old spelling)")


def add_service_arguments(cmd: Any) -> None:
    """Where the requests go and how: --url, --token, --gcloud-auth, --concurrency, --timeout, --workers."""
    cmd.add_argument("--url", default=None, help="a running service (http://127.0.0.1:8080, "
                     "https://SERVICE.run.app) instead of the in-process app (default: none, score in-process)")
    cmd.add_argument("--token", default=None, help=f"bearer token to send (default ${TOKEN_ENV})")
    cmd.add_argument("--gcloud-auth", action="store_true",
                     help="send an identity token from `gcloud auth print-identity-token` (private Cloud Run)")
    cmd.add_argument("--concurrency", type=_positive_int, default=None, metavar="N",
                     help=f"requests in flight at once (default {DEFAULT_CONCURRENCY})")
    cmd.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                     help=f"per-request HTTP timeout (default {DEFAULT_TIMEOUT:g})")
    cmd.add_argument("--workers", default=None, metavar="N",
                     help="worker processes of the in-process app (default as `rewardkit serve`: "
                     "$REWARDKIT_WORKERS, else one per CPU; 0: run rewards in this process)")


@contextmanager
def quiet_service_log() -> Iterator[None]:
    """Only errors from the in-process service's log: the command's report shows each failing call already."""
    logger = logging.getLogger("rewardkit")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        import argparse

        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return number

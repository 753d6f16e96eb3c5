"""The `rewardkit` command line."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .._errors import RewardkitError
from .._loader import describe_target, resolve_target, shadow_note, target_line
from .about import identity

if TYPE_CHECKING:
    import uvicorn


def _port(value: str | None) -> int:
    try:
        port = int(value) if value else 8080
    except ValueError:
        raise SystemExit(f"rewardkit: PORT must be a number, got {value!r}") from None
    return port


def _run_to_a_clean_stop(server: uvicorn.Server) -> None:
    """Run `server` until it stops; after a SIGTERM, once in-flight requests finished, the process carries on.

    Cloud Run and Function Compute stop instances with SIGTERM, so a graceful stop after it is a success (exit
    0), not a death by the signal. uvicorn catches SIGTERM while it runs, stops gracefully, then puts back the
    handler that was in place before and raises the signal again for it (cooperative signal handling, uvicorn
    0.29, encode/uvicorn#1600: `Server.capture_signals` in uvicorn/server.py). The handler in place is this one:
    the signal uvicorn hands back is taken, and one that comes before uvicorn took over (while the app starts)
    asks the server to stop as soon as it has started. tests/test_dependency_hooks.py holds uvicorn to that."""

    def stop(_signal: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from .._serving import logs as _logs
    from .._serving.app import create_app, startup_lines
    from .._serving.listener import check_port, server_options
    from .._settings import load_settings

    _logs.configure(args.log_format, args.log_level)
    target = resolve_target(args.target)
    try:
        settings = load_settings({name: getattr(args, name) for name in _SETTING_FLAGS})
        check_port(args.host, args.port)  # before the target loads and workers start: a taken port says so first
        app = create_app(target, reward=args.reward, settings=settings, access_log=args.access_log)
    except RewardkitError as exc:
        print(f"rewardkit: cannot serve {describe_target(target)}: {exc}", file=sys.stderr)
        return 2
    log = logging.getLogger("rewardkit")
    log.info("%s", identity().replace("\n", ": "))
    log.info("%s", target_line("serving", "serve", target, given=args.target is not None, flag="TARGET"))
    note = shadow_note(target)
    if note:
        log.warning("%s", note)
    for line in startup_lines(app, verbose=args.verbose):
        log.info("%s", line)
    # log_config=None: uvicorn keeps the logging set up above (its access log is replaced by rewardkit's).
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, log_config=None,
                            # uvicorn annotates an int, but only hands it to asyncio.wait_for (server.py), which
                            # takes seconds as a float: a grace period of 0.5 s is kept as it is.
                            access_log=False,
                            timeout_graceful_shutdown=settings.grace_period,  # type: ignore[arg-type]
                            **server_options(settings.worker_count, settings.max_connections))
    server = uvicorn.Server(config)
    try:
        _run_to_a_clean_stop(server)
    except SystemExit as exc:  # uvicorn exits 3 when the app's startup failed
        if exc.code != STARTUP_FAILURE:
            raise
    # Not started: a reward's setup or a worker failed at startup; the log above says which.
    return 0 if server.started else 2


def dataset_platforms() -> list[str]:
    """The contracts with a training-data line format, for --platform."""
    from .._replay.datasets import formats

    return formats()


# Flags that map onto rewardkit._settings.Settings (each also has an environment variable).
_SETTING_FLAGS: dict[str, tuple[str | None, str]] = {
    "workers": ("N", "worker processes for sync rewards (default $REWARDKIT_WORKERS, else one per CPU; 0: in-process)"),
    "timeout": ("SECONDS", "hard time limit per reward call (default $REWARDKIT_TIMEOUT, else 60)"),
    "worker_memory_mb": ("MB", "address-space cap per worker (default $REWARDKIT_WORKER_MEMORY_MB, "
                               "else container memory / (workers + 1))"),
    "max_queue": ("N", "reward calls that may wait for a worker before 503 (default $REWARDKIT_MAX_QUEUE, else 100)"),
    "max_body_mb": ("MB", "request body limit, 413 above (default $REWARDKIT_MAX_BODY_MB, else 8)"),
    "max_group": ("N",
                  "most outputs in a DashScope group, 413 above (default $REWARDKIT_MAX_GROUP, else 1024; 0: none)"),
    "max_connections": ("N", "open connections, new ones get 503 above (default $REWARDKIT_MAX_CONNECTIONS, else 4096 "
                             "or what the open-file limit allows)"),
    "grace_period": ("SECONDS", "time in-flight requests get after SIGTERM (default $REWARDKIT_GRACE_PERIOD, else 8)"),
    "auth_token": ("TOKEN", "require 'Authorization: Bearer TOKEN' on every path but /health (default "
                            "$REWARDKIT_AUTH_TOKEN; comma-separate several to rotate); off by default"),
    "record": ("DEST", "write a JSONL copy of each scored request and its answer into the folder DEST, to replay "
                       "and report on (default $REWARDKIT_RECORD); off by default"),
    "record_rate": ("SHARE", "the share of scored requests recorded, at random (default $REWARDKIT_RECORD_RATE, "
                             "else 1: all)"),
    "record_redact_prompt": (None, "record '[redacted]' for the prompt's text "
                                   "(default $REWARDKIT_RECORD_REDACT_PROMPT)"),
    "record_rotate_mb": ("MB", "start a new record file past this size (default $REWARDKIT_RECORD_ROTATE_MB, else 64)"),
    "record_rotate_minutes": ("MINUTES", "...or this age (default $REWARDKIT_RECORD_ROTATE_MINUTES, else 60)"),
}


def build_parser() -> argparse.ArgumentParser:
    # Raw text: `--version` prints its two lines as written.
    parser = argparse.ArgumentParser(prog="rewardkit", description="Reward functions for LLM RL fine-tuning.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=identity())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve rewards over the Vertex AI and DashScope contracts")
    serve.add_argument("target", nargs="?", default=None,
                       help="module path (my_rewards, pkg.rewards) or file (./my_rewards.py); "
                       "default $REWARDKIT_TARGET, else the built-in 'rewards' package")
    serve.add_argument("--reward", default=os.environ.get("REWARDKIT_REWARD"),
                       help="default reward for POST / and POST /api/v1 (default $REWARDKIT_REWARD)")
    serve.add_argument("--host", default=os.environ.get("REWARDKIT_HOST", "0.0.0.0"),
                       help="address to listen on (default $REWARDKIT_HOST, else 0.0.0.0)")
    serve.add_argument("--port", type=int, default=_port(os.environ.get("PORT")),
                       help="port (default $PORT, else 8080)")
    for name, (metavar, text) in _SETTING_FLAGS.items():
        flag = "--worker-memory" if name == "worker_memory_mb" else "--" + name.replace("_", "-")
        if metavar is None:  # an on/off flag: None when not given, so the environment variable still counts
            serve.add_argument(flag, dest=name, action="store_const", const=True, default=None, help=text)
        else:
            serve.add_argument(flag, dest=name, metavar=metavar, default=None, help=text)
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                       help="the least severe log lines written (default info)")
    serve.add_argument("--log-format", default=os.environ.get("REWARDKIT_LOG_FORMAT", "auto"),
                       choices=["auto", "json", "plain"],
                       help="json: one Cloud Logging entry per line on stdout; plain: text on stderr; "
                       "auto (default, $REWARDKIT_LOG_FORMAT): plain in a terminal, else json")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false", help="do not log each request")
    serve.add_argument("--verbose", action="store_true",
                       help="log every route of every reward at start-up (GET /rewards lists them too)")
    serve.set_defaults(handler=_serve)
    options = commands.add_parser(
        "options", help="list each reward's options: type, default, allowed values or bounds, description",
        description="Each reward's options as its signature declares them (what variant() checks and GET /rewards "
        "lists). --markdown prints the tables docs/builtin-rewards.md holds.")
    options.add_argument("target", nargs="?", default=None,
                         help="module path or file (default $REWARDKIT_TARGET, else the built-in 'rewards' package)")
    options.add_argument("--markdown", action="store_true", help="one Markdown table per reward")
    options.set_defaults(handler=_options)
    _add_data_commands(commands)
    from .deploy import add_parsers as add_deploy_commands

    add_deploy_commands(commands)
    return parser


def _options(args: argparse.Namespace) -> int:
    from .._loader import load_registry
    from .._options import describe, markdown
    from .._registry import RewardSpec

    target = resolve_target(args.target)
    try:
        registry = load_registry(target)
    except RewardkitError as exc:
        print(f"rewardkit options: cannot load {describe_target(target)}: {exc}", file=sys.stderr)
        return 2
    if args.markdown:
        print(markdown(registry), end="")
        return 0
    for spec in registry:
        declared = describe(spec) if isinstance(spec, RewardSpec) else []
        print(f"{spec.name} ({spec.kind})" + ("" if declared else ": no options"))
        for o in declared:
            allowed = " | ".join(map(repr, o.allowed)) if o.allowed is not None else o.bounds
            print(f"  {o.name}: {o.type} = {o.value!r}" + (f"  [{allowed}]" if allowed else "")
                  + (f"  {o.description}" if o.description else ""))
    return 0


# ---- replay, validate-data, init (the tools around the service) -------------------

def _replay(args: argparse.Namespace) -> int:
    from .replay import main as replay_main

    return replay_main(args)


def _validate_data(args: argparse.Namespace) -> int:
    from .._replay.datasets import DatasetError, format_report, validate_dataset

    platform = args.platform or args.old_format
    if args.old_format:
        print("rewardkit validate-data: --format is deprecated here, use --platform (--format means the output "
              "format in the other commands)", file=sys.stderr)
    if platform is None:
        print("rewardkit validate-data: say which platform's format the files use: "
              + " or ".join(f"--platform {name}" for name in dataset_platforms()), file=sys.stderr)
        return 2
    worst = 0
    for path in args.files:
        try:
            report = validate_dataset(path, platform)
        except DatasetError as exc:
            print(f"rewardkit validate-data: {exc}", file=sys.stderr)
            worst = 2
            continue
        print(format_report(report, max_problems=args.max_problems))
        worst = max(worst, 0 if report.ok else 1)
    return worst


def _add_data_commands(commands: Any) -> None:
    from .._project.scaffold import add_parser as add_init
    from .replay import add_parser as add_replay

    add_replay(commands)
    commands.choices["replay"].set_defaults(handler=_replay)
    from .audit import add_parser as add_audit

    add_audit(commands)

    validate = commands.add_parser(
        "validate-data", help="check a training/validation JSONL against a platform's dataset format",
        description="Check every line of a reinforcement-tuning JSONL against a platform's line format "
        f"(JSON Schema; platforms: {', '.join(dataset_platforms())}). "
        "Each problem is printed as FILE:LINE: PATH: MESSAGE. Exit 0 when every file is valid, "
        "1 when a file has problems, 2 when a file cannot be read.")
    validate.add_argument("files", nargs="+", metavar="FILE", help="JSONL dataset file(s)")
    validate.add_argument("--platform", choices=dataset_platforms(), default=None,
                          help="the platform whose line format the files use (required)")
    # The old spelling: --format means the output format in every other command.
    validate.add_argument("--format", dest="old_format", choices=dataset_platforms(), default=None,
                          help=argparse.SUPPRESS)
    validate.add_argument("--max-problems", type=int, default=50, metavar="N",
                          help="problems to print per file (default 50; the count is always complete)")
    validate.set_defaults(handler=_validate_data)

    add_init(commands)
    from .report import add_parser as add_report

    add_report(commands)
    from .codes import add_parser as add_codes

    add_codes(commands)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler  # every command sets one (set_defaults)
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())

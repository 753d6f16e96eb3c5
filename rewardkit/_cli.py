"""The `rewardkit` command line."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any, Sequence

from ._errors import RewardkitError


def _port(value: str | None) -> int:
    try:
        port = int(value) if value else 8080
    except ValueError:
        raise SystemExit(f"rewardkit: PORT must be a number, got {value!r}") from None
    return port


def _graceful_server_class() -> type:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn stops accepting on SIGTERM and lets in-flight requests finish; then, by default, it
        re-raises the signal so the process dies of it. Cloud Run and Function Compute stop instances
        with SIGTERM, so a graceful stop after it is a success: exit 0."""

        async def shutdown(self, sockets: Any = None) -> None:
            await super().shutdown(sockets=sockets)
            self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]

    return GracefulServer


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ._server import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(args.target, reward=args.reward)
    except RewardkitError as exc:
        print(f"rewardkit: cannot serve {args.target!r}: {exc}", file=sys.stderr)
        return 2
    registry = app.state.registry
    logging.getLogger("rewardkit").info(
        "serving %s: %s (default: %s)", args.target, ", ".join(registry.names()), app.state.default_reward
    )
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)
    _graceful_server_class()(config).run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rewardkit", description="Reward functions for LLM RL fine-tuning.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve rewards over the Vertex AI and DashScope contracts")
    serve.add_argument("target", nargs="?", default=os.environ.get("REWARDKIT_TARGET", "rewards"),
                       help="module path (my_rewards, pkg.rewards) or file (./my_rewards.py); "
                       "default $REWARDKIT_TARGET, else the built-in 'rewards'")
    serve.add_argument("--reward", default=os.environ.get("REWARDKIT_REWARD"),
                       help="default reward for POST / and POST /api/v1 (default $REWARDKIT_REWARD)")
    serve.add_argument("--host", default=os.environ.get("REWARDKIT_HOST", "0.0.0.0"),
                       help="address to listen on (default $REWARDKIT_HOST, else 0.0.0.0)")
    serve.add_argument("--port", type=int, default=_port(os.environ.get("PORT")),
                       help="port (default $PORT, else 8080)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--no-access-log", dest="access_log", action="store_false", help="do not log each request")
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

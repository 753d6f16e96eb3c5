"""The `rewardkit report` command: recorded runs -> one self-contained HTML page of charts."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="draw recorded runs (serve --record) as one self-contained HTML page",
        description="Read the records `rewardkit serve --record DEST` wrote and draw them, per reward and per "
        "component: score distribution, mean score and failure rate by step, groups whose responses all scored the "
        "same, score vs response length, latency percentiles, failure codes over time, example responses. One HTML "
        "file that opens offline. Exit 0 when written, 2 when an input is not a recorded run.")
    report.add_argument("files", nargs="+", metavar="FILE",
                        help="record files (*.reward.jsonl) or folders of them")
    report.add_argument("--out", default="report.html", metavar="PATH",
                        help="the HTML file to write (default: report.html)")
    report.add_argument("--title", default=None, help="the page's title (default: the first input's name)")
    report.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from .._errors import RewardkitError
    from .._observe.report import render
    from .._observe.runs import read_run

    started = time.perf_counter()
    try:
        run = read_run(args.files)
        page = render(run, args.title or f"rewardkit report: {Path(args.files[0]).name}")
    except RewardkitError as exc:
        print(f"rewardkit report: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        print(f"rewardkit report: cannot write {out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"rewardkit report: wrote {out} ({len(page) / 1e6:.1f} MB): {run.records:,} requests, "
          f"{len(run.series)} rewards and components, in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0

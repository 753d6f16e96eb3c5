"""The AWS Lambda runtime client (awslambdaric, what the Lambda Python base image runs) with rewardkit's
handler, invoked with Nova RFT batches through a local Runtime API: `.venv/bin/python integration/lambda_bed.py`.

The runtime runs in its own environment (awslambdaric pinned, this checkout of rewardkit), against the local
Runtime API of tests/lambda_runtime_api.py, as deploy/aws/Dockerfile's CMD starts it.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bed

sys.path.insert(0, str(bed.REPO))
from tests.lambda_runtime_api import RuntimeAPI  # noqa: E402

PINS = ["awslambdaric==4.2.2"]


def item(id: str, response: str, gold: Any) -> dict[str, Any]:
    """One Nova batch item as Bedrock sends it: the answer appended to the messages, the gold in metadata."""
    return {"id": id, "messages": [{"role": "user", "content": "What is 6 * 7?"},
                                   {"role": "assistant", "content": response}],
            "metadata": {"reference_answer": gold}}


def main() -> int:
    python = bed.venv("lambda", PINS)
    api = RuntimeAPI(function_timeout=60.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDKIT_")}
    env.update(AWS_LAMBDA_RUNTIME_API=api.address, AWS_LAMBDA_FUNCTION_NAME="SageMaker-reward",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="3538", REWARDKIT_TARGET=str(bed.REWARDS),
               REWARDKIT_REWARD="math_accuracy", REWARDKIT_WORKERS="2")
    bed.WORK.mkdir(parents=True, exist_ok=True)
    log = open(bed.WORK / "lambda.log", "w")
    process = subprocess.Popen([str(python), "-m", "awslambdaric", "rewardkit.aws.lambda_handler"], env=env,
                               cwd=str(bed.WORK), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    rows = []
    try:
        batch = [item(f"s{i}", f"so \\boxed{{{40 + i % 4}}}", "42") for i in range(16)]
        started = time.monotonic()
        result = api.invoke(batch, 120)
        seconds = time.monotonic() - started
        scores = [entry.get("aggregate_reward_score") for entry in result.body] if result.ok else result.body
        want = [1.0 if i % 4 == 2 else 0.0 for i in range(16)]
        rows.append({"check": "Lambda runtime client: a Nova batch of 16, in order", "ok": scores == want,
                     "detail": scores, "reward_seconds": seconds})
        started = time.monotonic()
        result = api.invoke([item("j", "It is \\boxed{2} cm.", {"answer": "2", "unit": "cm"})], 60)
        got = result.body[0].get("aggregate_reward_score") if result.ok else result.body
        rows.append({"check": "Lambda runtime client: a reference_answer object scores as its answer",
                     "ok": got == 1.0, "detail": got, "reward_seconds": time.monotonic() - started})
        started = time.monotonic()
        result = api.invoke([item("m", "\\boxed{42}", None)], 60)
        rows.append({"check": "Lambda runtime client: a missing gold answer is an error, not a score",
                     "ok": not result.ok, "detail": json.dumps(result.body)[:200],
                     "reward_seconds": time.monotonic() - started})
    except Exception as exc:  # the runtime died or never asked for an event
        rows.append({"check": "Lambda runtime client", "ok": False, "detail": f"{type(exc).__name__}: {exc}; "
                     f"see {Path(log.name)}"})
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # Lambda freezes, then kills the container
        process.wait()
        api.close()
        log.close()
    return 0 if bed.table("AWS Lambda", bed.versions(python, ["awslambdaric"]), rows) else 1


if __name__ == "__main__":
    sys.exit(main())

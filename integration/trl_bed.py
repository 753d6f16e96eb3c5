"""TRL's GRPOTrainer with rewardkit rewards, in-process and remote: `.venv/bin/python integration/trl_bed.py`
(integration/inside/check_trl.py)."""

import sys

import bed

PINS = ["trl==1.16.0", "torch==2.13.0", "transformers==5.25.0", "accelerate==1.16.0", "datasets==5.2.0"]


def main() -> int:
    python = bed.venv("trl-1.16.0", PINS)
    with bed.served() as url:
        rows = bed.run_inside(python, "check_trl.py", url)
    found = bed.versions(python, ["trl", "transformers", "torch", "accelerate", "datasets"])
    return 0 if bed.table("TRL", found, rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""verl's reward loop and legacy managers against rewardkit.verl: `.venv/bin/python integration/verl_bed.py`.

In-process (rewardkit's workers inside each reward-loop actor) and remote (`url`: a served rewardkit), with two
data sources and failures (integration/inside/check_verl.py).
"""

import sys

import bed

PINS = ["verl==0.9.1", "torch==2.13.0", "ray==2.60.0", "transformers==5.10.4", "tensordict==0.10.0", "numpy==2.4.6"]


def main() -> int:
    python = bed.venv("verl-0.9.1", PINS)
    with bed.served() as url:
        rows = bed.run_inside(python, "check_verl.py", url)
    found = bed.versions(python, ["verl", "torch", "ray", "transformers", "numpy"])
    return 0 if bed.table("verl", found, rows) else 1


if __name__ == "__main__":
    sys.exit(main())

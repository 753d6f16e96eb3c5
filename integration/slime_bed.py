"""slime's remote_rm against a served rewardkit: `.venv/bin/python integration/slime_bed.py SLIME_CHECKOUT`.

SLIME_CHECKOUT is a clone of github.com/THUDM/slime (or its git directory); slime is not on the package
index, and its remote_rm is read from there and run as it is (integration/inside/check_slime.py).
"""

import sys

import bed

PINS = ["aiohttp==3.14.5"]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    python = bed.venv("slime", PINS)
    with bed.served() as url:
        rows = bed.run_inside(python, "check_slime.py", sys.argv[1], url)
    return 0 if bed.table("slime remote_rm", bed.versions(python, ["aiohttp"]), rows) else 1


if __name__ == "__main__":
    sys.exit(main())

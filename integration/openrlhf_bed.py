"""OpenRLHF's remote reward clients against served rewardkits: `.venv/bin/python integration/openrlhf_bed.py`.

OpenRLHF needs a GPU stack to install whole (flash-attn, deepspeed); its reward client code does not, so it is
installed without its dependencies, next to the few its reward path imports, at the versions it pins
(integration/inside/check_openrlhf.py).
"""

import sys

import bed

# (environment, pins, installed without dependencies)
CURRENT = ("openrlhf-0.11.2", ["torch==2.13.0", "transformers==5.15.0", "aiohttp==3.14.5", "sympy", "pylatexenc"],
           ["openrlhf==0.11.2"])
OLDER = ("openrlhf-0.9.0", ["torch==2.13.0", "transformers==4.57.0", "ray==2.48.0", "requests", "sympy",
                            "pylatexenc"], ["openrlhf==0.9.0"])


def main() -> int:
    ok = True
    with bed.served() as first, bed.served() as second:
        for name, pins, no_deps in (CURRENT, OLDER):
            python = bed.venv(name, pins, no_deps)
            rows = bed.run_inside(python, "check_openrlhf.py", first, second)
            packages = ["openrlhf", "transformers", "torch", *(["ray"] if "ray" in str(pins) else [])]
            found = bed.versions(python, packages)
            ok = bed.table("OpenRLHF", found, rows) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

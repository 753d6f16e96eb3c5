"""Verifiable instruction following: IFEval's 25 instruction types."""

import dataclasses
from typing import cast

from rewardkit import RewardSpec
from rewardkit.registry import spec_of

from ._checkers import CHECKERS, Constraint, ConstraintError, constraint
from .following import instruction_following, loose_variants, read_constraints

#: IFEval's loose mode (first/last line and asterisks may go), registered for a direct comparison with strict.
#: The variant variant() would make, without checking "loose" against the declaration at import: that check
#: imports pydantic, which `import rewards` (and the worker forkserver) otherwise never loads;
#: tests/test_options.py checks every built-in's options instead.
_strict = cast(RewardSpec, spec_of(instruction_following))
instruction_following_loose = dataclasses.replace(_strict, name="instruction_following_loose",
                                                  options={"mode": "loose"})

__all__ = ["instruction_following", "instruction_following_loose", "CHECKERS", "Constraint", "ConstraintError",
           "constraint", "loose_variants", "read_constraints"]

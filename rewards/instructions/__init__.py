"""Verifiable instruction following: IFEval's 25 instruction types."""

from rewardkit import variant

from ._checkers import CHECKERS, Constraint, ConstraintError, constraint
from .following import instruction_following, loose_variants, read_constraints

#: IFEval's loose mode (first/last line and asterisks may go), registered for a direct comparison with strict.
instruction_following_loose = variant(instruction_following, "instruction_following_loose", mode="loose")

__all__ = ["instruction_following", "instruction_following_loose", "CHECKERS", "Constraint", "ConstraintError",
           "constraint", "loose_variants", "read_constraints"]

"""Ready-made rewards. `rewardkit serve` with no target serves every reward named here."""

from .mathematics import math_accuracy
from .matching import exact_match

__all__ = ["math_accuracy", "exact_match"]

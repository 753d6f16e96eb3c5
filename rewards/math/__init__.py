"""Math answers: `math_accuracy` (symbolic equivalence), `gsm8k_accuracy`, `multiple_choice`."""

from .accuracy import gsm8k_accuracy, math_accuracy
from .choice import multiple_choice

__all__ = ["math_accuracy", "gsm8k_accuracy", "multiple_choice"]

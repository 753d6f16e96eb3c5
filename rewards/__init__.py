"""Ready-made rewards. `rewardkit serve` with no target serves every reward named here."""

from .mathematics import gsm8k_accuracy, math_accuracy
from .choice import multiple_choice
from .matching import exact_match
from .string_match import string_match
from .json_rewards import json_match, json_schema
from .format import boxed_format, length_penalty, repetition_penalty, think_format
from .code import code_tests

__all__ = [
    "math_accuracy", "gsm8k_accuracy", "multiple_choice", "exact_match",
    "string_match", "json_schema", "json_match",
    "think_format", "boxed_format", "length_penalty", "repetition_penalty", "code_tests",
]

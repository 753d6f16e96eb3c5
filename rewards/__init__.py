"""Ready-made rewards. `rewardkit serve` with no target serves every reward named here.

One package per family (math, text, json, format, tool_calls, instructions, code, judge, vertex, vision); `common`
holds what families share. A family imports another only through the names its package exports.
"""

# The name `rewards` always means this package, never a user's module of the same name (rewardkit._loader).
__rewardkit_builtin__ = True

from .code import code_tests
from .format import boxed_format, length_penalty, repetition_penalty, think_format
from .instructions import instruction_following, instruction_following_loose
from .json import json_match, json_schema
from .math import gsm8k_accuracy, math_accuracy, multiple_choice
from .text import exact_match, transcript_accuracy
from .tool_calls import math_accuracy_after_tools, tool_call_match, tool_error_rate, tool_schema_valid, turn_budget
from .vertex import string_match
from .vision import grounding_iou, point_in_box

__all__ = [
    "math_accuracy", "gsm8k_accuracy", "multiple_choice", "exact_match",
    "string_match", "json_schema", "json_match",
    "think_format", "boxed_format", "length_penalty", "repetition_penalty",
    "tool_call_match", "tool_schema_valid", "tool_error_rate", "turn_budget", "math_accuracy_after_tools",
    "instruction_following", "instruction_following_loose", "code_tests",
    "grounding_iou", "point_in_box", "transcript_accuracy",
]

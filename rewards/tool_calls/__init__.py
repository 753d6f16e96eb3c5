"""Rewards for tool-using agents: call matching, argument schemas, trajectory shaping."""

from ..math import math_accuracy
from .match import tool_call_match
from .schema import tool_schema_valid
from .trajectory import answer_after_tools, final_answer_after_tools, tool_error_rate, turn_budget

#: math_accuracy on the answer given after the agent's last tool result (the calculator-agent reward).
math_accuracy_after_tools = final_answer_after_tools(math_accuracy)

__all__ = ["tool_call_match", "tool_schema_valid", "tool_error_rate", "turn_budget",
           "final_answer_after_tools", "answer_after_tools", "math_accuracy_after_tools"]

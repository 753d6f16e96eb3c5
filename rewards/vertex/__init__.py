"""Vertex AI's own reward scorers, reproduced to run a tuning job's configuration offline and in rewardkit:
`string_match` (`stringMatchRewardScorer`), `code_execution_reward` (`codeExecutionRewardScorer`) and
`vertex_autorater_config` (the `autoraterScorer` equivalent of a `judge_reward`)."""

from .autorater import vertex_autorater_config
from .code_execution import code_execution_reward, from_snippet, vertex_evaluate, vertex_example, vertex_response
from .string_match import string_match, string_match_from_vertex

__all__ = ["string_match", "string_match_from_vertex", "code_execution_reward", "vertex_evaluate", "from_snippet",
           "vertex_example", "vertex_response", "vertex_autorater_config"]

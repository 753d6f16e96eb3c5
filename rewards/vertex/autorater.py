"""The native Vertex autorater reward equivalent to a `judge_reward`, to run the same judge both ways.

Shapes from the Gen AI SDK types (googleapis/java-genai and kotlin-genai, generated from the API):
`SingleReinforcementTuningRewardConfig.autoraterScorer` = `ReinforcementTuningAutoraterScorer`
{autoraterConfig: AutoraterConfig{autoraterModel}, autoraterPrompt, autoraterResponseParseConfig:
ReinforcementTuningParseResponseConfig{parseType IDENTITY | REGEX_EXTRACT, regexExtractExpression},
parsedResponseConversionScorer: {} (the parsed text as a float, clipped to [-1, 1]) |
exactMatchScorer: {correctAnswerReward, wrongAnswerReward, expression}}. `autoraterModel` is
"projects/{project}/locations/{location}/publishers/*/models/*" (AutoraterConfig, Vertex AI V1).
"""

from __future__ import annotations

import re
from typing import Any

from rewardkit import RegistrationError
from rewardkit.registry import spec_of

from ..judge import DESCRIPTION_ATTRIBUTE, JudgeDescription, LabelScore, MatchScore

PUBLISHER_MODEL = re.compile(r"projects/[^/]+/locations/[^/]+/publishers/[^/]+/models/[^/]+")


def vertex_autorater_config(judge: Any, *, model: str | None = None) -> dict[str, Any]:
    """A `SingleReinforcementTuningRewardConfig` with an `autoraterScorer` for a `judge_reward`.

    `model` (default: the judge's own) must be a Vertex publisher model path. What Vertex cannot
    express is refused, naming it: `samples` > 1, and a NumberScore that rescales (Vertex uses the
    parsed number as the reward, clipped to [-1, 1]: declare NumberScore(low, high, to=(low, high))
    inside [-1, 1]). rewardkit's defences (fencing, the data notice, skipping trivial answers)
    do not exist natively: compare the two runs with that in mind.
    """
    spec = spec_of(judge)
    described: JudgeDescription | None = getattr(getattr(spec, "fn", None), DESCRIPTION_ATTRIBUTE, None)
    if described is None:
        raise RegistrationError(f"{spec.name!r} is not a judge_reward; only those have a native Vertex autorater")
    path = model or described.model or ""
    if not PUBLISHER_MODEL.fullmatch(path):
        raise RegistrationError(f"judge {spec.name!r}: the native autorater needs a Vertex publisher model "
                                "'projects/P/locations/L/publishers/google/models/M'; pass model=..., got "
                                f"{path or 'none'!r}")
    if described.samples != 1:
        raise RegistrationError(f"judge {spec.name!r}: samples={described.samples} has no native equivalent")
    if described.panel or described.probabilities:
        raise RegistrationError(f"judge {spec.name!r}: a panel or probability-weighted score has no native equivalent")
    parse: dict[str, Any] = {"parseType": "IDENTITY"} if described.parse == "identity" else {
        "parseType": "REGEX_EXTRACT", "regexExtractExpression": described.parse}
    scorer: dict[str, Any]
    score = described.score
    if isinstance(score, MatchScore):
        scorer = {"exactMatchScorer": {"expression": score.expected, "correctAnswerReward": score.correct,
                                       "wrongAnswerReward": score.wrong}}
    elif isinstance(score, LabelScore):
        raise RegistrationError(f"judge {spec.name!r}: a label map has no native equivalent (Vertex's exact-match "
                                "scorer knows one expected answer): use MatchScore")
    else:
        if score.to != (score.low, score.high) or score.low < -1 or score.high > 1:
            raise RegistrationError(
                f"judge {spec.name!r}: Vertex uses the parsed number itself as the reward (clipped to [-1, 1]); "
                f"{score} rescales. Ask the judge for a number in [-1, 1] and declare "
                "NumberScore(low, high, to=(low, high)) with -1 <= low < high <= 1")
        scorer = {"parsedResponseConversionScorer": {}}
    return {
        "rewardName": spec.name,
        "parseResponseConfig": {"parseType": "IDENTITY"},
        "autoraterScorer": {"autoraterConfig": {"autoraterModel": path}, "autoraterPrompt": described.prompt,
                            "autoraterResponseParseConfig": parse, **scorer},
    }

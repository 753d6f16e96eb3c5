"""Rewards that read media, served by the media tests (tests/test_media.py) and the benchmark."""

from __future__ import annotations

import os
from typing import Sequence

from rewardkit import Media, Score, grouped_reward, reward
from rewardkit.media import image_size


@reward
def media_seen(response: str, media: Sequence[Media]) -> Score:
    """Scores 0.1 per media part; the reason lists each part's kind, MIME type, byte count and image size."""
    parts = [f"{m.kind}:{m.mime_type}:{len(m.read()) if m.uri or m.data else len(m.frames)}" +
             (":%dx%d" % image_size(m) if m.kind == "image" else "") for m in media]
    return Score(len(media) / 10, "; ".join(parts))


@reward
def image_width(response: str, images: Sequence[Media]) -> float:
    """The first image's width in pixels / 1000."""
    return image_size(images[0])[0] / 1000


@reward
def text_only(response: str) -> float:
    return 1.0 if response.strip() else 0.0


@grouped_reward
def group_widths(responses: Sequence[str], images: Sequence[Media]) -> list[float]:
    return [image_size(images[0])[0] / 1000 for _ in responses]


# Judges that see: the fake judge (tests/judge_server.py) at REWARDKIT_JUDGE_BASE_URL records what it was sent.
if os.environ.get("REWARDKIT_JUDGE_BASE_URL"):
    from rewards.judge import NumberScore, judge_reward, pairwise_reward, rubric_reward

    ASK = "Question:\n{{prompt}}\n\nAnswer:\n{{response}}\n\nRate 1 to 5. End with 'Score: N'."
    sees = judge_reward("sees", prompt=ASK, parse=r"Score:\s*(\d)", score=NumberScore(1, 5), timeout=20)
    sees_urls = judge_reward("sees_urls", prompt=ASK, parse=r"Score:\s*(\d)", score=NumberScore(1, 5), timeout=20,
                             show_media="urls")
    grades = rubric_reward("grades", criteria={"accurate": "Does it describe the image?"}, timeout=20)
    compares = pairwise_reward("compares", against="round_robin", timeout=20)

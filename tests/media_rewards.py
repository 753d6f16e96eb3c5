"""Rewards that read media, served by the media tests (tests/test_media.py) and the benchmark."""

from __future__ import annotations

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

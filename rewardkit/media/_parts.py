"""Content parts -> Media: the OpenAI-style content arrays every chat-format request carries, and the
helpers the contracts share (a MIME type's kind, a URI's MIME type).

OpenAI-style parts (openai-python `ChatCompletionContentPartParam`; vLLM and SGLang read the same):
`{"type": "image_url", "image_url": {"url": "https://..." | "data:image/png;base64,..."}}`,
`{"type": "input_audio", "input_audio": {"data": base64, "format": "wav"}}`, `{"type": "video_url",
"video_url": {"url"}}`. The Model Studio chat API adds `{"type": "video", "video": [frame URLs] | URL}` and
an `input_audio.data` that may be a URL; its native format has untyped parts (`{"image": URL}`,
`{"video": [...]}`, `{"audio": URL}`), and slime's message parts are `{"type": "image", "image": ...}`.
A part of a type none of these is kept as an `other` Media holding the part as JSON, and logged once per
type: it is reported, never dropped (a reward asking for `media` sees it).
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
from typing import Any, Iterable

from .._sample import Media, MediaKind

log = logging.getLogger("rewardkit")

TEXT_PARTS = frozenset({"text", "input_text", "output_text", "refusal"})
# Part type -> (kind, the key holding its source): a URL string, {"url": ...}, or a list of frame URLs.
MEDIA_PARTS: dict[str, tuple[MediaKind, str]] = {
    "image_url": ("image", "image_url"), "input_image": ("image", "image_url"), "image": ("image", "image"),
    "video_url": ("video", "video_url"), "video": ("video", "video"),
    "audio_url": ("audio", "audio_url"), "audio": ("audio", "audio"), "input_audio": ("audio", "input_audio"),
}
UNKNOWN_PART = "application/vnd.rewardkit.part+json"  # the MIME type of an `other` Media holding an unknown part
_reported: set[str] = set()
# `input_audio.format` -> MIME type where the two differ (OpenAI: "wav" or "mp3").
_AUDIO_FORMATS = {"mp3": "audio/mpeg", "m4a": "audio/mp4"}


def kind_of(mime_type: str) -> MediaKind:
    """The kind a MIME type names: image/*, audio/*, video/*, else other."""
    major = mime_type.partition("/")[0].lower()
    return major if major in ("image", "audio", "video") else "other"  # type: ignore[return-value]  # checked


def uri_mime_type(uri: str) -> str:
    """The MIME type a `data:` URI declares, or the one its path's extension names; '' when neither does."""
    if uri.startswith("data:"):
        return uri[5:].partition(",")[0].partition(";")[0].lower()
    path = uri.split("?", 1)[0].split("#", 1)[0]
    return (mimetypes.guess_type(path, strict=False)[0] or "").lower()


def from_uri(kind: MediaKind, uri: str, mime_type: str = "") -> Media:
    """A Media of `kind` at `uri` (a data: URI stays lazy: `read()` decodes it)."""
    return Media(kind, (mime_type or uri_mime_type(uri)).lower(), uri=uri)


def _url(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        return str(value["url"])
    return None


def _part_type(part: dict[str, Any]) -> str:
    typed = part.get("type")
    if isinstance(typed, str):
        return typed
    # Untyped parts name their kind by their key ({"image": URL}, {"text": ...}).
    return next((key for key in ("text", "image", "video", "audio") if key in part), "")


def _audio(value: Any) -> Media | None:
    if not isinstance(value, dict):
        url = _url(value)
        return None if url is None else from_uri("audio", url)
    data, fmt = value.get("data"), str(value.get("format") or "").lower()
    if not isinstance(data, str):
        return None
    if "://" in data[:16] or data.startswith("data:"):  # Model Studio accepts a URL here
        return from_uri("audio", data, _AUDIO_FORMATS.get(fmt, f"audio/{fmt}") if fmt else "")
    mime = _AUDIO_FORMATS.get(fmt, f"audio/{fmt or 'wav'}")
    return Media("audio", mime, uri=f"data:{mime};base64,{data}")


def part_media(part: Any) -> Media | None:
    """The Media of one content part; None for a text part."""
    if not isinstance(part, dict):
        return unknown_part(type(part).__name__, part)
    typed = _part_type(part)
    if typed in TEXT_PARTS:
        return None
    known = MEDIA_PARTS.get(typed)
    if known is not None:
        kind, key = known
        value = part.get(key, part.get(typed))
        if typed == "input_audio":
            media = _audio(value)
        elif kind == "video" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            media = Media("video", "", frames=tuple(value))
        else:
            url = _url(value)
            media = None if url is None else from_uri(kind, url)
        if media is not None:
            return media
    return unknown_part(typed or "(untyped)", part)


def unknown_part(typed: str, part: Any) -> Media:
    if typed not in _reported:
        _reported.add(typed)
        log.warning("a content part of type %r is not text, image, audio or video: a reward asking for `media` gets "
                    "it as an 'other' Media holding the part as JSON", typed,
                    extra={"fields": {"part_type": typed}})
    return Media("other", UNKNOWN_PART, data=json.dumps(part, ensure_ascii=False, default=str).encode())


def content_media(content: Any) -> tuple[Media, ...]:
    """The media parts of a chat message's `content`, in order ('' and plain strings have none)."""
    if not isinstance(content, list):
        return ()
    found: Iterable[Media | None] = (part_media(part) for part in content)
    return tuple(m for m in found if m is not None)


def content_parts(media: Iterable[Media], *, urls: bool = False) -> list[dict[str, Any]]:
    """Media as OpenAI-style content parts, for a multimodal model (a judge): the bytes as data URIs, or with
    `urls` each part's URI as given (for a model that fetches them itself: gs:// for Gemini, signed https URLs).
    Images as `image_url`, audio as `input_audio` (OpenAI's shape; the data may be a URL with `urls`), video as
    `video_url` (vLLM's and Model Studio's shape) or a frame list as `video`; `other` parts are not sent."""
    parts: list[dict[str, Any]] = []
    for item in media:
        if item.kind == "video" and item.frames:
            parts.append({"type": "video", "video": list(item.frames)})
            continue
        if item.kind not in ("image", "audio", "video"):
            continue
        source = item.uri if urls and item.uri else _data_uri(item)
        if item.kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": source}})
        elif item.kind == "video":
            parts.append({"type": "video_url", "video_url": {"url": source}})
        else:
            subtype = item.mime_type.partition("/")[2] or "wav"
            fmt = {"mpeg": "mp3", "x-wav": "wav", "wave": "wav"}.get(subtype, subtype)
            data = source if urls and item.uri else base64.b64encode(item.read()).decode()
            parts.append({"type": "input_audio", "input_audio": {"data": data, "format": fmt}})
    return parts


def _data_uri(item: Media) -> str:
    if item.uri and item.uri.startswith("data:") and item.data is None:
        return item.uri
    return f"data:{item.mime_type or 'application/octet-stream'};base64,{base64.b64encode(item.read()).decode()}"

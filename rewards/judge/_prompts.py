"""Judge prompts: Vertex autorater placeholders filled in one pass, the response fenced, the notice first.

Placeholders are Vertex's (`autoraterPrompt`: "Allows substituting prompt, response,
system_instruction and references.reference (each wrapped in double curly braces)", the Gen AI SDK's
`ReinforcementTuningAutoraterScorer`, googleapis.github.io/dotnet-genai/api/
Google.GenAI.Types.ReinforcementTuningAutoraterScorer.html), with any `references.KEY`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Awaitable, Callable, Literal, Sequence

from rewardkit import Media, MissingReferenceError, RegistrationError, Sample
from rewardkit.media import content_parts

from ._defences import DATA_NOTICE, fence

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
FIELDS = ("prompt", "response", "system_instruction")


def check_template(template: str, reward: str, *, needs: tuple[str, ...] = ("response",)) -> None:
    """Refuse, at registration, a template with an unknown placeholder or without one it needs."""
    if not isinstance(template, str) or not template.strip():
        raise RegistrationError(f"judge reward {reward!r}: prompt must be a non-empty template string")
    names = [m.group(1) for m in PLACEHOLDER.finditer(template)]
    for placeholder in names:
        if placeholder not in FIELDS and not re.fullmatch(r"references\.[\w-]+", placeholder):
            raise RegistrationError(
                f"judge reward {reward!r}: unknown placeholder {{{{{placeholder}}}}} in the prompt; use "
                "{{prompt}}, {{response}}, {{system_instruction}} or {{references.KEY}}")
    for placeholder in needs:
        if placeholder not in names:
            raise RegistrationError(f"judge reward {reward!r}: the prompt never shows the judge {{{{{placeholder}}}}}")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _reference(sample: Sample, placeholder: str, reward: str) -> str:
    key = placeholder.split(".", 1)[1]
    value = sample.references.get(key)
    if value is None and key in ("answer", "reference", "ground_truth") and sample.ground_truth is not None:
        value = sample.ground_truth
    if value is None:
        raise MissingReferenceError(f"{reward}: the prompt uses {{{{{placeholder}}}}} but the request has no "
                                    f"references.{key} (Vertex `references`, DashScope `rollout_extra`)")
    return _text(value)


def fill_references(text: str, sample: Sample, reward: str) -> str:
    """`text` with its {{references.KEY}} placeholders filled (a Vertex exact-match `expression`)."""
    return PLACEHOLDER.sub(lambda m: _reference(sample, m.group(1), reward), text)


def render(template: str, sample: Sample, response: str, reward: str) -> str:
    """The template with the sample's values, in one pass: text a value brings in is never expanded again,
    so a response cannot pull `{{references.answer}}` into the judge's view."""
    values = {"prompt": sample.prompt_text, "response": fence(response), "system_instruction": sample.system or ""}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        return _reference(sample, name, reward)

    return PLACEHOLDER.sub(fill, template)


# How a judge is shown the request's media: "inline" (the bytes, fetched by the service, as data URIs), "urls"
# (each part's URI as the request gave it, for a judge that fetches them itself: nothing is fetched here), "none".
ShowMedia = Literal["inline", "urls", "none"]
SHOW_MEDIA = ("inline", "urls", "none")


def check_show_media(show_media: Any, reward: str) -> None:
    if show_media not in SHOW_MEDIA:
        raise RegistrationError(f"judge reward {reward!r}: show_media must be one of {', '.join(SHOW_MEDIA)}, "
                                f"got {show_media!r}")


def shown(media: Sequence[Media], show_media: ShowMedia) -> tuple[Media, ...]:
    return () if show_media == "none" else tuple(media)


def prompt_media(sample: Sample) -> tuple[Media, ...]:
    """The media of the prompt alone (what a judge comparing responses' texts is shown)."""
    return tuple(m for message in sample.prompt for m in message.media)


def seeing(judge: Callable[[Sample], Awaitable[Any]], show_media: ShowMedia) -> Callable[..., Awaitable[Any]]:
    """`judge`, asking for `media` too when the judge is shown them inline: asking is what has the service
    fetch them (once, before the call) into the sample the judge reads."""
    if show_media != "inline":
        return judge

    async def judged(sample: Sample, media: Sequence[Media]) -> Any:
        return await judge(sample)

    return judged


def seeing_group(judge: Callable[[list[Sample]], Awaitable[Any]],
                 show_media: ShowMedia) -> Callable[..., Awaitable[Any]]:
    """`seeing` for a grouped judge."""
    if show_media != "inline":
        return judge

    async def judged(samples: list[Sample], media: Sequence[Media]) -> Any:
        return await judge(samples)

    return judged


def messages(user: str, system: str | None = None, media: Sequence[Media] = (),
             urls: bool = False) -> list[dict[str, Any]]:
    """The chat: the data notice (and the reward's own system text) as system, the rendered prompt as user,
    followed by the media as content parts (data URIs, or the URIs as given with `urls`)."""
    content: Any = [{"type": "text", "text": user}, *content_parts(media, urls=urls)] if media else user
    return [{"role": "system", "content": DATA_NOTICE + (f"\n\n{system}" if system else "")},
            {"role": "user", "content": content}]


def json_question(instruction: str, items: list[tuple[str, str]], answer: str) -> str:
    """A question about named items, one line each, whose verdict is one JSON object `{name: answer}` at the end."""
    lines = [instruction, *(f'- "{name}": {text}' for name, text in items)]
    keys = ", ".join(f'"{name}": {answer}' for name, _ in items)
    lines.append(f"Think briefly if you need to, then end with one JSON object and nothing after it: {{{keys}}}")
    return "\n".join(lines)

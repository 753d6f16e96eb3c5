"""slime's `remote_rm`: what `--rm-type remote_rm --rm-url http://HOST/rewards/NAME/slime` posts and reads.

Read from the client's own code (github.com/THUDM/slime, commit 624b824, 2026):

- `slime/rollout/rm_hub/__init__.py` (`remote_rm`): one sample per request,
  `{"prompt": sample.prompt, "response": sample.response, "label": sample.label}`; the answer is
  `await resp.json()`, taken whole as `sample.reward`. `batched_async_rm` (also with `--group-rm`) gathers one
  such request per sample. An aiohttp session with a 120 s total timeout; `raise_for_status()`; 10 attempts
  with backoff `min(2**attempt, 30) + random()` seconds, then the exception propagates out of the rollout.
- `slime/utils/types.py` (`Sample`): `prompt: str | list[dict]` (the chat-templated text with
  `--apply-chat-template`, else the dataset's messages), `response: str` (the decoded completion),
  `label: str | None` (`data[--label-key]`, so any JSON value a dataset holds), and
  `get_reward_value`: `reward if not args.reward_key else reward[args.reward_key]`.

So the answer is the bare reward, a JSON number: what slime reads with no `--reward-key` (the default, and
what its own reward types return). Metrics and reasons cannot travel in it (`/metrics` has the score
distribution and error counts, failures are logged with their reason). A failed reward cannot be a number:
NaN would train on NaN, `null` breaks the reward normalisation. It fails the request instead (500, or 422
when the gold answer is missing) with a message naming the code; slime retries, then stops the rollout with
the error. A reward that would rather score its failures declares a `fallback`.

A label that is a JSON object, or text that parses as one (`'{"answer": "2", "unit": "cm"}'`), is the
sample's references (its `answer`-like keys are the gold answer); any other label is its ground truth, unchanged.

A grouped reward is refused: slime posts one sample per request, even with `--group-rm`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, TypeAdapter

from .._errors import BAD_ANSWER
from .._outcome import Outcome
from .._registry import AnySpec
from .._sample import Message, Metadata, Sample
from ..media._parts import content_media
from . import _common
from .base import SCHEMA_REF, Answer, Contract, OpenAPIEntry, Parsed, Prompt, Response, content_text


class SlimeMessage(BaseModel):
    """A chat message of a prompt slime sends as a list (no `--apply-chat-template`)."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class SlimeRequest(BaseModel):
    """The body slime's `remote_rm` posts: one sample."""

    model_config = ConfigDict(extra="allow")

    prompt: str | list[SlimeMessage]
    response: str
    label: Any = None


_REQUEST = TypeAdapter(SlimeRequest)


def _prompt(prompt: str | list[SlimeMessage]) -> tuple[Message, ...]:
    if isinstance(prompt, str):
        return (Message("user", prompt),)
    return tuple(Message(m.role, content_text(m.content), media=content_media(m.content)) for m in prompt)


def slime_request(response: str, *, reference: Any = None, prompt: str = "", system: str | None = None,
                  references: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The body slime's remote_rm posts for one response: the prompt as messages, `reference` as the label
    (`references`, a dict, when there is no `reference`)."""
    asked = Prompt.of(prompt, system=system, ground_truth=reference, references=dict(references or {}))
    body: dict[str, Any] = CONTRACT.requests(asked, [Response(response)])[0]
    return body


class SlimeContract(Contract):
    name = "slime"
    title = "slime remote_rm"
    suffix = "/slime"
    default_route = "/slime"
    recognised_by = "needs 'prompt' and a 'response' string"
    reasons_in_answers = False  # a bare number
    builders: ClassVar[Mapping[str, Any]] = {"slime_request": slime_request}
    refuse_grouped = ("reward {name!r} is grouped: it scores the responses of one prompt together, and slime's "
                      "remote_rm posts one response per request (with --group-rm too). Serve it to a contract "
                      "that sends groups (DashScope group_reward)")

    def parse(self, raw: Any) -> Parsed:
        body: SlimeRequest = self.validate(_REQUEST, raw)
        asked = _prompt(body.prompt)
        references, ground_truth = _common.label_gold(body.label)
        sample = Sample(
            response=body.response,
            prompt=asked,
            system=next((m.text for m in asked if m.role == "system"), None),
            references=references,
            ground_truth=ground_truth,
            metadata=Metadata(platform=self.name),
            trajectory=(*asked, Message("assistant", body.response)),
            raw=raw,
        )
        return Parsed([sample], body)

    def render(self, spec: AnySpec, outcomes: list[Outcome], parsed: Parsed) -> tuple[int, Any]:
        refused = _common.failed(spec, outcomes, "slime")
        if refused is not None:
            return refused
        score = outcomes[0].score
        assert score is not None  # `failed` answered every outcome without one
        return 200, score.value

    def looks_like(self, raw: Any) -> bool:
        return isinstance(raw, dict) and isinstance(raw.get("response"), str) and "prompt" in raw

    def requests(self, prompt: Prompt, responses: Sequence[Response]) -> list[Any]:
        """One body per response (reasoning inline), as `remote_rm` posts them; the prompt as its messages."""
        messages = [{"role": m.get("role", "user"), "content": m.get("content")} for m in prompt.messages]
        label = _common.prompt_label(prompt.references, prompt.ground_truth)
        return [{"prompt": messages, "response": _common.decoded(r), "label": label} for r in responses]

    def read_answer(self, status: int, body: Any) -> Answer:
        if status != 200:
            return _common.failed_answer(status, body)
        if isinstance(body, (int, float)) and not isinstance(body, bool):
            return Answer((float(body),))
        return Answer((), BAD_ANSWER, f"slime reads a bare number, got {body!r:.200}")

    def openapi(self) -> OpenAPIEntry:
        return OpenAPIEntry(
            tag="slime",
            models=(SlimeRequest,),
            body={"$ref": SCHEMA_REF.format(model="SlimeRequest")},
            responses=_common.responses({"description": "The reward, a bare JSON number",
                                         "content": {"application/json": {"schema": {"type": "number"}}}}),
        )


CONTRACT = SlimeContract()

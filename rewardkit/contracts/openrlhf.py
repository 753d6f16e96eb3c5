"""OpenRLHF's remote reward model: what `--reward.remote_url http://HOST/rewards/NAME/openrlhf` posts and reads.

(`--remote_rm_url` before v0.10.2.)

Read from the client's own code (github.com/OpenRLHF/OpenRLHF):

- `openrlhf/utils/agent.py` (`SingleTurnAgentExecutor._fetch_rewards_via_http`, commit 3c3be62; since v0.9.1):
  one response per request, `{"query": [q], "prompts": [p], "labels": [l]}`; the answer is read with
  `.get("scores")` (falling back to `rewards`), `.get("rewards")` and `.get("extra_logs") or {}`, and
  `openrlhf/trainer/ppo_utils/samples_generator.py` wraps each as `torch.tensor([value])`.
- `openrlhf/utils/remote_rm_utils.py` (`request_api_wrapper`, `RemoteRewardModel.get_rewards`, as of commit
  629870839^; v0.8.3 to v0.9.0): whole batches split across the URLs by position;
  `experience_maker.update_samples_with_rewards` does `torch.cat([torch.as_tensor(info["rewards"]) ...])`,
  so `rewards` is required, one number per query; `scores` is optional (same shape; dynamic filtering
  reads it); `extra_logs` is optional, `{key: one number per query}`, its keys taken from the first
  server's answer. v0.5.8 to v0.8.2 read `rewards` alone;
  before v0.5.8 the client posted `query` alone, which is refused (422: `prompts` missing).
- Both: a 180 s timeout per attempt, `raise_for_status()`, 5 attempts 1 s apart, then an exception; the
  answer goes through `json.loads`, which accepts NaN.

`query` is the prompt and the response decoded together (`tokenizer.decode(prompt_ids + response_ids,
skip_special_tokens=False)`); `prompts` holds the prompt text. The response is what follows the prompt in
the query (its first occurrence: a decoded BOS may come first; or, for a prompt too long for the length limit
that OpenRLHF cut from the left, what follows the part it kept), minus the end-of-sequence token's text the
decode leaves at its end (`<|im_end|>`, `</s>`, ...; see END_TOKENS). A query that does not hold its prompt
(a tokenizer that does not decode it to the same text) is refused with 422 naming the item: scoring the
whole query would score the prompt's text too. Reasoning stays inline
(`<think>...</think>`), as the model wrote it: the built-in rewards skip think blocks themselves. A
label that is a JSON object, or text that parses as one (`'{"answer": "2", "unit": "cm"}'`), is the sample's
references (its `answer`-like keys are the gold answer, as everywhere); any other label is its ground truth,
unchanged; a sample's `raw` is its own item, `{"query", "prompt", "label"}`, not the whole batch.

The answer is `{"rewards": [...], "scores": [...], "extra_logs": {...}}`, lists in the order of `query`,
as OpenRLHF's own `serve_rm` answers; `scores` repeats `rewards`, and `extra_logs` holds the reward's declared
metrics (`_registry.metric_keys`), the same keys in every answer, NaN for an item without one (the older client
takes the keys from the first server's answer and reads them from every server's, and `torch.cat`s them: a
key that came and went with the batch would fail it). A metric the reward does not declare is left out.
OpenRLHF has no per-item failure: a `null` score crashes `torch.tensor`, and NaN would train on NaN. So an
item that fails without a fallback score fails the whole request (500, or 422 when only gold answers are
missing), with a message naming each failed item and its code. The client retries; then v0.9.0 and before
raise, and v0.9.1+ log "Failed to fetch reward from remote RM" and leave the reward empty, which stops the
training step (`experience_maker.py`: `reward_model_group is required when rewards are not precomputed`).

A grouped reward is refused: the current client posts one response per request, and the older one splits a
batch by position across its URLs, so the responses of one prompt never reliably arrive together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, TypeAdapter

from .._errors import BAD_ANSWER
from .._outcome import Outcome, schema_metrics
from .._registry import AnySpec, metric_keys
from .._sample import Message, Metadata, Sample
from . import _common
from .base import SCHEMA_REF, Answer, Contract, ContractError, OpenAPIEntry, Parsed, Prompt, Response, content_text

# The text an end-of-sequence (or end-of-turn) token decodes to with skip_special_tokens=False, for the
# tokenizer families OpenRLHF is used with: ChatML (Qwen), Llama 3, Llama 2 / Mistral, Phi-3, Gemma, DeepSeek.
END_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>", "<|end|>",
              "<end_of_turn>", "<eos>", "<｜end▁of▁sentence｜>")


class OpenRLHFRequest(BaseModel):
    """The body OpenRLHF's remote reward client posts: equal-length lists, one entry per response."""

    model_config = ConfigDict(extra="allow")

    query: list[str]
    prompts: list[str]
    labels: list[Any] | None = None


class OpenRLHFAnswer(BaseModel):
    """HTTP 200: one reward per query, in order; `scores` repeats them; `extra_logs` are per-item metrics."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


_REQUEST = TypeAdapter(OpenRLHFRequest)


# How much of a prompt's end must start a query for the query to count as that prompt cut from the left.
_TAIL = 64


def _after_cut_prompt(query: str, prompt: str) -> int | None:
    """Where the response starts in a query whose prompt the trainer cut from the left (OpenRLHF keeps the last
    tokens of a prompt too long for its length limit), or None: the query must start with a suffix of the prompt that
    holds at least its last _TAIL characters. A cut inside a character decodes to U+FFFD first."""
    if len(prompt) <= _TAIL:
        return None
    tail, head = prompt[-_TAIL:], len(query) - len(query.lstrip("\ufffd"))
    # Only where the cut prompt can end: never inside the response, whatever the response repeats.
    at = query.find(tail, head, head + len(prompt))
    while at >= 0:
        end = at + _TAIL
        if prompt.endswith(query[head:end]):
            return end
        at = query.find(tail, at + 1, head + len(prompt))
    return None


def response_of(query: str, prompt: str) -> str | None:
    """The response inside a decoded query: after the prompt (whole, or cut from the left by the trainer),
    without trailing end-of-sequence tokens. None when the query does not hold the prompt."""
    at = 0 if query.startswith(prompt) else query.find(prompt)
    start = at + len(prompt) if at >= 0 else _after_cut_prompt(query, prompt)
    if start is None:
        return None
    response = query[start:]
    stripped = True
    while stripped:
        stripped = False
        for token in END_TOKENS:
            if response.endswith(token):
                response, stripped = response[: -len(token)], True
    return response


def chatml(prompt: Prompt) -> str:
    """A prompt as the ChatML text a Qwen tokenizer's chat template makes of it, ready for the answer."""
    turns = "".join(f"<|im_start|>{m.get('role', 'user')}\n{content_text(m.get('content'))}<|im_end|>\n"
                    for m in prompt.messages)
    return turns + "<|im_start|>assistant\n"


def _lengths(body: OpenRLHFRequest) -> None:
    problems = [{"loc": [key], "msg": f"has {len(values)} entries; query has {len(body.query)}", "type": "length"}
                for key, values in (("prompts", body.prompts), ("labels", body.labels))
                if values is not None and len(values) != len(body.query)]
    if problems:
        summary = "; ".join(f"{p['loc'][0]}: {p['msg']}" for p in problems)
        raise ContractError(f"request body does not match the {OpenRLHFContract.title} contract: {summary} "
                            "(one entry per response, in the same order)", problems)


def openrlhf_request(responses: str | Sequence[str], *, reference: Any = None, prompt: str = "",
                     system: str | None = None, references: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The batch OpenRLHF posts for `responses` to `prompt` (ChatML-templated): `reference` is every item's label;
    `references` (a dict) is the label instead when there is no `reference`."""
    texts = [responses] if isinstance(responses, str) else list(responses)
    asked = Prompt.of(prompt, system=system, ground_truth=reference, references=dict(references or {}))
    body: dict[str, Any] = CONTRACT.requests(asked, [Response(t) for t in texts])[0]
    return body


class OpenRLHFContract(Contract):
    name = "openrlhf"
    title = "OpenRLHF remote reward model"
    suffix = "/openrlhf"
    default_route = "/openrlhf"
    recognised_by = "needs a 'query' list"
    reasons_in_answers = False  # lists of numbers, no reason texts
    builders: ClassVar[Mapping[str, Any]] = {"openrlhf_request": openrlhf_request}
    refuse_grouped = ("reward {name!r} is grouped: it scores the responses of one prompt together, and OpenRLHF "
                      "does not post a prompt's responses together (one per request since v0.9.1; older versions "
                      "split a batch across --remote_rm_url servers by position). Serve it to a contract that "
                      "sends groups (DashScope group_reward)")

    def parse(self, raw: Any) -> Parsed:
        body: OpenRLHFRequest = self.validate(_REQUEST, raw)
        _lengths(body)
        labels = body.labels if body.labels is not None else [None] * len(body.query)
        samples, lost = [], []
        for index, (query, prompt, label) in enumerate(zip(body.query, body.prompts, labels, strict=True)):
            response = response_of(query, prompt)
            if response is None:
                lost.append(index)
                continue
            samples.append(_sample(query, prompt, label, response))
        if lost:
            detail = [{"loc": ["query", i], "msg": f"does not contain prompts[{i}]", "type": "prompt_not_in_query"}
                      for i in lost]
            shown = ", ".join(f"query[{i}]" for i in lost[:10]) + (", ..." if len(lost) > 10 else "")
            raise ContractError(
                f"request body does not match the {self.title} contract: {shown}: does not contain its prompt "
                "(prompts at the same index, whole or cut from the left), and rewardkit takes the response to be "
                "what follows the prompt in the query. The trainer's tokenizer may not decode the prompt to the "
                "same text",
                detail)
        return Parsed(samples, body, log_fields={"batch_size": len(samples)})

    def render(self, spec: AnySpec, outcomes: list[Outcome], parsed: Parsed) -> tuple[int, Any]:
        refused = _common.failed(spec, outcomes, "OpenRLHF")
        if refused is not None:
            return refused
        rewards = [o.score.value for o in outcomes if o.score is not None]
        keys = metric_keys(spec)
        per_item = [schema_metrics(o, keys)[0] for o in outcomes]
        return 200, {"rewards": rewards, "scores": rewards, "extra_logs": {k: [m[k] for m in per_item] for k in keys}}

    def looks_like(self, raw: Any) -> bool:
        return isinstance(raw, dict) and isinstance(raw.get("query"), list)

    def requests(self, prompt: Prompt, responses: Sequence[Response]) -> list[Any]:
        """One batch, as the older client posts it: the ChatML prompt, each response (reasoning inline) closed
        by `<|im_end|>`."""
        text = chatml(prompt)
        label = _common.prompt_label(prompt.references, prompt.ground_truth)
        label = "" if label is None else label  # what OpenRLHF sends without --label_key
        return [{"query": [text + _common.decoded(r) + "<|im_end|>" for r in responses],
                 "prompts": [text] * len(responses), "labels": [label] * len(responses)}]

    def read_answer(self, status: int, body: Any) -> Answer:
        if status != 200:
            return _common.failed_answer(status, body)
        rewards = body.get("rewards") if isinstance(body, dict) else None
        if isinstance(rewards, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rewards):
            return Answer(tuple(float(value) for value in rewards))
        return Answer((), BAD_ANSWER, f"OpenRLHF reads a list of numbers in 'rewards', got {rewards!r:.200}")

    def openapi(self) -> OpenAPIEntry:
        return OpenAPIEntry(
            tag="OpenRLHF",
            models=(OpenRLHFRequest,),
            body={"$ref": SCHEMA_REF.format(model="OpenRLHFRequest")},
            responses=_common.responses({"model": OpenRLHFAnswer, "description": "One reward per query, in order"}),
        )


def _sample(query: str, prompt: str, label: Any, response: str) -> Sample:
    references, ground_truth = _common.label_gold(label)
    asked = (Message("user", prompt),)
    return Sample(response=response, prompt=asked, references=references, ground_truth=ground_truth,
                  metadata=Metadata(platform=OpenRLHFContract.name),
                  trajectory=(*asked, Message("assistant", response)),
                  raw={"query": query, "prompt": prompt, "label": label})


CONTRACT = OpenRLHFContract()

"""What the open trainers' contracts (OpenRLHF, slime) share: plain-text bodies, a label as the gold
answer, and answers with no per-item failure in them.

Neither client can be told "this item failed": OpenRLHF turns every entry of
`rewards` into a tensor and slime takes the whole body as the reward, so a
null or NaN there crashes or silently poisons training. A failed item fails
the request instead (non-2xx), which both clients retry and then give up on
loudly; the message names each failed item and its code. A reward that would
rather score its failures declares a `fallback`: those outcomes carry a score
and are answered as one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .._outcome import DATA_FAULTS, Outcome
from .._registry import AnySpec
from .base import Answer, ErrorResponse, Response

_SHOWN_FAILURES = 5  # a batch of 512 timeouts should not make a 512-line message


class FailedItem(BaseModel):
    index: int
    error_code: str
    error: str


class FailedAnswer(BaseModel):
    """HTTP 500 (422 when only gold answers are missing): an item failed and its reward has no fallback score."""

    message: str
    reward: str
    error_code: str
    failed: list[FailedItem]


def label_gold(label: Any) -> tuple[dict[str, Any], Any]:
    """`(references, ground_truth)` for a trainer's `label`.

    A JSON object label is the references (`{"answer": "72"}` reaches a reward's `reference` through the usual
    keys, DEFAULT_REFERENCE_KEYS or the reward's `reference_keys`), and so is a text label that parses as one
    (`'{"answer": "2", "unit": "cm"}'`: datasets keep structured labels as JSON text, and OpenRLHF's
    `--label_key` and slime's `--label-key` pass the column as it is). Anything else (other text, a number, a
    list) is the ground truth, unchanged: `"2"` stays the text "2"."""
    label = _json_object(label) if isinstance(label, str) else label
    if isinstance(label, Mapping):
        return {str(k): v for k, v in label.items()}, None
    return {}, label


def _json_object(text: str) -> Any:
    """The object `text` holds as JSON, else `text` itself."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return parsed if isinstance(parsed, dict) else text


def prompt_label(references: Mapping[str, Any], ground_truth: Any) -> Any:
    """The label a trainer would send for these gold values: the inverse of `label_gold`."""
    if ground_truth is not None:
        return ground_truth
    return dict(references) if references else None


def decoded(response: Response) -> str:
    """A response as the trainer decodes the completion: reasoning inline, in the `<think>` block the
    reasoning models' chat templates use."""
    return f"<think>\n{response.thinking}\n</think>\n\n{response.text}" if response.thinking else response.text




def failed(spec: AnySpec, outcomes: list[Outcome], client: str) -> tuple[int, dict[str, Any]] | None:
    """The non-2xx answer for outcomes of which some have no score; None when every outcome has one.

    422 when every failure is a missing gold answer (the data's fault: a retry
    cannot help), else 500. `failed` lists each failed item's index, code and message."""
    items = [(i, o.failure) for i, o in enumerate(outcomes) if o.score is None and o.failure is not None]
    if not items:
        return None
    shown = "; ".join(f"[{i}] {f.code}: {f.message}" for i, f in items[:_SHOWN_FAILURES])
    more = f"; and {len(items) - _SHOWN_FAILURES} more" if len(items) > _SHOWN_FAILURES else ""
    where = f"{len(items)} of {len(outcomes)} items" if len(outcomes) > 1 else "the item"
    why = (f"{client} has no way to mark one item failed, so the whole request fails" if len(outcomes) > 1 else
           f"{client} reads a score and has no way to be told the reward failed")
    message = (f"reward {spec.name!r} failed on {where}: {shown}{more}. {why}; declare a fallback score on the "
               "reward to score failures instead")
    status = 422 if all(f.code in DATA_FAULTS for _, f in items) else 500
    return status, {"message": message, "reward": spec.name, "error_code": items[0][1].code,
                    "failed": [{"index": i, "error_code": f.code, "error": f.message} for i, f in items]}


def failed_answer(status: int, body: Any) -> Answer:
    """What a non-2xx answer (or one the client cannot read) says: its error code and message, no scores."""
    if not isinstance(body, Mapping):
        return Answer((), f"HTTP_{status}", f"not a JSON object: {body!r:.200}")
    code, message = body.get("error_code"), body.get("message")
    return Answer((), str(code) if code is not None else f"HTTP_{status}", None if message is None else str(message))


def responses(ok: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answers of a contract whose failures are `FailedAnswer`: `ok` for 200."""
    return {200: ok, 500: {"model": FailedAnswer, "description": "An item failed and its reward has no fallback score"},
            **{code: {"model": ErrorResponse} for code in (400, 404, 413, 422, 499, 503)}}

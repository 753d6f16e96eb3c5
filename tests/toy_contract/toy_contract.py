"""A third-party contract, as another package would ship one: rewardkit does not know it.

Its platform posts `{"batch": [{"question", "answer", "gold"}]}` and reads
`{"scores": [...]}`; a failed item fails the whole call with HTTP 500 and
`{"error": ..., "failed": [indexes]}`. The tests put this folder on PYTHONPATH:
its `toy_contract-0.1.dist-info/entry_points.txt` declares the contract in
the `rewardkit.contracts` group, as `pip install` of a real package would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter

from rewardkit import Outcome, sample
from rewardkit.contracts import Answer, Contract, Parsed, Prompt, Response


class Item(BaseModel):
    question: str = ""
    answer: str
    gold: str | None = None


class Batch(BaseModel):
    batch: list[Item]


class ToyContract(Contract):
    name = "toy"
    title = "Toy batch"
    suffix = "/toy"
    default_route = "/toy"
    recognised_by = "needs 'batch'"

    _adapter = TypeAdapter(Batch)

    def parse(self, raw: Any) -> Parsed:
        body = self.validate(self._adapter, raw)
        samples = [sample(item.answer, item.gold, prompt=item.question) for item in body.batch]
        return Parsed(samples, body, log_fields={"batch_size": len(samples)})

    def render(self, spec: Any, outcomes: list[Outcome], parsed: Parsed) -> tuple[int, Any]:
        failed = [i for i, o in enumerate(outcomes) if o.score is None]
        if failed:
            return 500, {"error": f"reward {spec.name!r} failed on items {failed}", "failed": failed}
        return 200, {"scores": [o.score.value for o in outcomes if o.score is not None]}

    def refusal(self, status: int, code: str, message: str) -> Any:
        return {"error": message, "code": code}

    def looks_like(self, raw: Any) -> bool:
        return isinstance(raw, dict) and "batch" in raw

    def requests(self, prompt: Prompt, responses: Sequence[Response]) -> list[Any]:
        gold = prompt.ground_truth if prompt.ground_truth is not None else prompt.references.get("answer")
        return [{"batch": [{"question": prompt.user_text, "answer": r.text, "gold": gold} for r in responses]}]

    def read_answer(self, status: int, body: Any) -> Answer:
        if status != 200 or not isinstance(body, dict):
            return Answer((), body.get("code") if isinstance(body, dict) else None,
                          body.get("error") if isinstance(body, dict) else str(body))
        return Answer(tuple(float(s) for s in body["scores"]))



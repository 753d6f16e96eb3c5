"""What a wire contract is: the one place that knows a platform's request and answer bodies.

A contract turns a parsed JSON body into `Sample`s, and the rewards' `Outcome`s
back into `(HTTP status, body)`, with the platform's own rules (score range,
how a failure is reported). Around that it knows how to build its bodies from
plain values (`rewardkit.testing`, training-data replay, audit), how to read
its answers back (replay, fixture tests), how to recognise one of its bodies,
its OpenAPI entries, and its training-data line format where it has one.

Contracts know nothing of the engine, HTTP plumbing or reward logic: the
serving layer calls `parse` and `render`, and everything else iterates over
the registered contracts (`rewardkit.contracts.registered()`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .._errors import RewardkitError
from .._outcome import Outcome
from .._registry import AnySpec
from .._sample import Sample

NAMED_PREFIX = "/rewards/{name}"
SCHEMA_REF = "#/components/schemas/{model}"


class ErrorResponse(BaseModel):
    """Body of every 4xx answer (and of DashScope-style 500s): a sentence, then the details."""

    message: str
    detail: Any = None


class ContractError(RewardkitError):
    """A body this contract cannot read: the message says which field and what was expected.

    The service answers it with `status` (422 unless the contract says otherwise),
    `detail` holding one entry per problem (`loc`, `msg`, `type`)."""

    def __init__(self, message: str, detail: Any = None, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class Parsed:
    """A body read by its contract: the samples to score, in the body's order."""

    samples: list[Sample]
    body: Any  # the validated body, for `render`
    group: bool = False  # the samples are the N responses of one prompt, scored together by a grouped reward
    log_fields: Mapping[str, Any] = field(default_factory=dict)  # the call's ids, added to its log lines


@dataclass(frozen=True)
class Answer:
    """What an answer says, whichever contract: the scores, an error code and a reason.

    A failed answer has no scores."""

    scores: tuple[float, ...] = ()
    error_code: str | None = None
    reason: str | None = None


def unscored_answer(status: int, body: Any) -> Answer | None:
    """The Answer of a body that is not a JSON object, or of a non-200 one (its `error_code`, and its `error` or
    `message`): no scores. None for a 200 JSON object, which the contract reads itself."""
    if not isinstance(body, dict):
        return Answer((), f"HTTP_{status}", None)
    if status != 200:
        return Answer((), body.get("error_code") or f"HTTP_{status}", body.get("error") or body.get("message"))
    return None


@dataclass(frozen=True)
class ToolCallValue:
    """A tool call as plain values: the function's name and its arguments object."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Response:
    """One sampled response as plain values: the answer, the reasoning apart, tool calls."""

    text: str
    thinking: str | None = None
    tool_calls: tuple[ToolCallValue, ...] = ()


@dataclass(frozen=True)
class Prompt:
    """What a call carries besides the response, as plain values.

    `messages` are ChatML dicts (`role`, `content`); `line` is the dataset line
    as the platform forwards it, when the call comes from one (a contract that
    embeds its line, as Vertex does, uses it verbatim); `metadata` holds the
    platform's call ids by the names its builders take (`step`, `job_id`, ...).
    """

    messages: tuple[Mapping[str, Any], ...] = ()
    references: Mapping[str, Any] = field(default_factory=dict)
    ground_truth: Any = None
    line: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, prompt: str = "", *, system: str | None = None,
           messages: Sequence[Mapping[str, Any]] | None = None, **fields: Any) -> Prompt:
        """A prompt from a user turn (and a system one), or from whole ChatML `messages`."""
        if messages is None:
            head = [{"role": "system", "content": system}] if system is not None else []
            messages = [*head, {"role": "user", "content": prompt}]
        return cls(messages=tuple(dict(m) for m in messages), **fields)

    @property
    def user_text(self) -> str:
        """The last user turn's text."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return content_text(message.get("content"))
        return ""


@dataclass(frozen=True)
class OpenAPIEntry:
    """How a contract's routes read in the OpenAPI document."""

    tag: str  # the section its routes are listed under
    models: tuple[type, ...]  # pydantic models whose schemas go in components (SCHEMA_REF points at them)
    body: dict[str, Any]  # the request body's JSON Schema
    responses: dict[int | str, dict[str, Any]]  # FastAPI `responses=`


class Contract(ABC):
    """One platform's wire contract. Subclass it, set the class attributes, implement the methods.

    Register an instance with `rewardkit.contracts.register`, or from another
    package through the `rewardkit.contracts` entry-point group.
    """

    name: ClassVar[str]  # "vertex": fixture files, `--platform`, metrics and logs
    title: ClassVar[str]  # "Vertex cloudRunRewardScorer": in messages
    suffix: ClassVar[str] = ""  # the named route is /rewards/{name}<suffix>
    default_route: ClassVar[str | None] = None  # the route of the default reward ("/api/v1")
    # The message for a grouped reward posted a body that is not one prompt's group; {name} is the reward.
    refuse_grouped: ClassVar[str] = ("reward {name!r} is grouped: it scores the responses of one prompt together, "
                                     "and this contract's body is not one prompt's group")
    # What `looks_like` checks, in words, for the message about a body no contract recognises.
    recognised_by: ClassVar[str] = ""
    # Training-data lines of this platform: the key every line has, and the JSON Schema in contracts/schemas/.
    dataset_key: ClassVar[str | None] = None
    dataset_schema: ClassVar[str | None] = None
    dataset_strict_json: ClassVar[bool] = False  # the platform's parser refuses duplicate keys and NaN
    # Whether answers say why (a reason text); when not, a failing fixture test re-runs the reward to show it.
    reasons_in_answers: ClassVar[bool] = True
    # Builders `rewardkit.testing` offers under these names: {"vertex_request": function}.
    builders: ClassVar[Mapping[str, Any]] = {}
    # The (low, high) the platform expects scores in, if it documents one, and what it does with one outside.
    # Scores are sent as the rewards give them; the server logs (once per reward) and counts one outside.
    score_range: ClassVar[tuple[float, float] | None] = None
    score_range_note: ClassVar[str] = ""

    @property
    def route(self) -> str:
        """The named scoring route, `{name}` standing for the reward."""
        return NAMED_PREFIX + self.suffix

    def route_for(self, reward: str | None) -> str:
        """The path that answers this contract for `reward` (None: the default reward's route)."""
        if reward is None:
            if self.default_route is None:
                raise ContractError(f"the {self.title} contract has no default route: name a reward")
            return self.default_route
        from urllib.parse import quote

        return self.route.format(name=quote(reward, safe=""))

    # ---- serving ------------------------------------------------------------------

    @abstractmethod
    def parse(self, raw: Any) -> Parsed:
        """The samples of a parsed JSON body; ContractError says what is wrong with it."""
        raise NotImplementedError  # abstract

    @abstractmethod
    def render(self, spec: AnySpec, outcomes: list[Outcome], parsed: Parsed) -> tuple[int, Any]:
        """HTTP status and JSON body for the outcomes of `parsed`'s samples, in the platform's rules."""
        raise NotImplementedError  # abstract

    def refusal(self, status: int, code: str, message: str) -> Any:
        """The body of an answer without outcomes (a refused or failed request), as the platform reads one."""
        return {"message": message, "error_code": code}

    @abstractmethod
    def looks_like(self, raw: Any) -> bool:
        """Whether a JSON body is one of this contract's requests (fixture files, wrong-route hints)."""
        raise NotImplementedError  # abstract

    # ---- harness ------------------------------------------------------------------

    @abstractmethod
    def requests(self, prompt: Prompt, responses: Sequence[Response]) -> list[Any]:
        """The request bodies the platform would send to score `responses` to `prompt`."""
        raise NotImplementedError  # abstract

    @abstractmethod
    def read_answer(self, status: int, body: Any) -> Answer:
        """The scores, error code and reason of one of this contract's answers."""
        raise NotImplementedError  # abstract

    def read_line(self, line: Mapping[str, Any]) -> Prompt:
        """A training-data line as a Prompt (contracts with a `dataset_key`)."""
        raise ContractError(f"the {self.title} contract has no training-data line format")

    def media_problems(self, line: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(JSON path, message) for each media part of a training-data line (one the schema accepted) that the
        platform's documented rules refuse: a MIME type, a URI scheme, a count or size limit."""
        return []

    def dataset_json_schema(self) -> dict[str, Any] | None:
        """The JSON Schema of a training-data line: `dataset_schema`, a file in a `schemas/` folder
        beside the contract's module."""
        if not self.dataset_schema:
            return None
        from importlib import resources  # here: it slows `import rewardkit`

        package = type(self).__module__.rpartition(".")[0] or type(self).__module__
        # One name per joinpath: a Traversable takes several only from Python 3.11.
        schema_file = resources.files(package).joinpath("schemas").joinpath(self.dataset_schema)
        schema: dict[str, Any] = json.loads(schema_file.read_text(encoding="utf-8"))
        return schema

    def openapi(self) -> OpenAPIEntry | None:
        """The contract's OpenAPI entries; None leaves its routes undocumented."""
        return None

    # ---- helpers for subclasses -----------------------------------------------------

    def validate(self, adapter: TypeAdapter[Any], raw: Any, union_tags: tuple[str, ...] = (),
                 tag_field: str = "") -> Any:
        """`raw` validated by `adapter`, or ContractError listing each field that is wrong.

        `union_tags` are a discriminated union's tags (the values of its `tag_field`),
        which pydantic puts before the field path although the caller never wrote them."""
        try:
            return adapter.validate_python(raw)
        except ValidationError as exc:
            errors = [_problem(error, union_tags, tag_field)
                      for error in exc.errors(include_url=False, include_input=False)]
        summary = "; ".join(f"{_location(tuple(e['loc']))}: {e['msg']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ContractError(f"request body does not match the {self.title} contract: {summary}{more}", errors)

    def __repr__(self) -> str:
        return f"<contract {self.name}: {self.route}>"


def _problem(error: Any, union_tags: tuple[str, ...], tag_field: str) -> dict[str, Any]:
    loc = tuple(error["loc"])
    if loc and loc[0] in union_tags:
        loc = loc[1:]
    msg = error["msg"]
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        # pydantic names the discriminator function; say which field and which values instead.
        got = error.get("ctx", {}).get("tag")
        loc = (tag_field,) if got and tag_field else ()
        msg = f"expected {' or '.join(map(repr, union_tags))}, got {got!r}" if got else "expected a JSON object"
    return {"loc": list(loc), "msg": msg, "type": error["type"]}


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def content_text(content: Any) -> str:
    """The text of a ChatML `content`: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content
                       if isinstance(part, dict) and part.get("type", "text") == "text")
    return ""


def json_arguments(arguments: Mapping[str, Any]) -> str:
    """Tool-call arguments as the JSON text OpenAI-style messages carry."""
    return json.dumps(dict(arguments), ensure_ascii=False)

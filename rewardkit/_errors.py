"""rewardkit's errors and failure codes, each declared once. Every message says what went wrong and what to do.

A failure code is what a platform reads when a call or a request is not scored (an `error_code` field, an
error body, a trainer's `rewardkit.error` key). Each is declared here, once, with its meaning (`CODES`);
the contracts turn it into their HTTP status, and docs/failures.md's table is generated from `CODES` and
the contracts (`rewardkit codes`; tests/test_failure_codes.py fails when the page and the code differ).

An error class declares `code`: the failure a reward call gets when the error escapes the reward.

    RewardkitError                   REWARD_ERROR (every other rewardkit error, and rewards' own: OptionError...)
    +-- RegistrationError, LoadError, ParseError, InvalidScoreError, SetupError, EngineBusy
    +-- UnknownRewardError (also a LookupError)
    +-- MissingReferenceError        MISSING_REFERENCE (also a ValueError)
    |   +-- InvalidReferenceError    INVALID_REFERENCE (rewards.code's InvalidTestsError)
    +-- MediaError                   MEDIA_FETCH_ERROR
    |   +-- MediaTooLargeError       MEDIA_TOO_LARGE
    |   +-- MediaUnsupportedError    MEDIA_UNSUPPORTED
    +-- JudgeError                   JUDGE_ERROR (rewardkit.clients.providers' ProviderError)
    |   +-- JudgeUnparseable         JUDGE_UNPARSEABLE
    +-- SandboxError                 SANDBOX_ERROR

Errors of the command line and the harness (SettingsError, FixtureError, DeployConfigError...) subclass
RewardkitError in the module that raises them; they never fail a reward call and declare no code of their
own. InvalidScoreError raised in a reward's body is that reward's REWARD_ERROR; the engine reports a
returned value that is not a score as INVALID_SCORE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["call", "request", "client"]
SCOPES: dict[Scope, str] = {
    "call": "a reward call's failure, in the answer of a served request (or a trainer's item)",
    "request": "a whole request refused by the server, whichever reward it names",
    "client": "produced by rewardkit as a client (trainer adapters, replay): never sent by a server",
}


@dataclass(frozen=True)
class FailureCode:
    """A failure code and what it means.

    `data_fault`: the request's data is at fault, not the reward nor the server: a retry cannot help (the
    contracts that have statuses answer 422), a fallback never hides it, and a composite fails with it
    whatever its on_component_error says. `status`: for a request's code, the HTTP status it is answered with.
    """

    name: str
    meaning: str
    scope: Scope = "call"
    data_fault: bool = False
    status: int | None = None


CODES: dict[str, FailureCode] = {}


def _declare(name: str, meaning: str, scope: Scope = "call", data_fault: bool = False,
             status: int | None = None) -> str:
    if name in CODES:
        raise ValueError(f"failure code {name} is declared twice")  # at import: a slip in this module
    CODES[name] = FailureCode(name, meaning, scope, data_fault, status)
    return name


REWARD_ERROR = _declare("REWARD_ERROR", "the reward (or its parser) raised, `SystemExit` included; a built-in "
                        "reward refused its options or its input")
INVALID_SCORE = _declare("INVALID_SCORE", "the reward returned something other than a finite score, a score "
                         "outside its own `score_range=`, or (grouped) not one score per response")
TIMEOUT = _declare("TIMEOUT", "the reward ran past its timeout: a sync reward's worker is replaced, an async "
                   "reward is cancelled")
WORKER_CRASHED = _declare("WORKER_CRASHED", "the worker process running the call died (a crash, a signal, the "
                          "OOM killer) or its pipe carried something other than the call's answer")
OUT_OF_MEMORY = _declare("OUT_OF_MEMORY", "the reward exhausted the worker's memory cap (`--worker-memory`)")
COMPONENT_FAILED = _declare("COMPONENT_FAILED", "a component of a composite failed and the composite's "
                            "`on_component_error` is \"fail\"")
MISSING_REFERENCE = _declare("MISSING_REFERENCE", "the request has no reference (gold answer, tests) the reward "
                             "needs", data_fault=True)
INVALID_REFERENCE = _declare("INVALID_REFERENCE", "the request's reference is there but unusable (tests that do "
                             "not parse, an expected value that cannot be evaluated)", data_fault=True)
MEDIA_FETCH_ERROR = _declare("MEDIA_FETCH_ERROR", "a media part of the request could not be fetched (network, "
                             "refused by the address policy, a timeout, no such object)")
MEDIA_TOO_LARGE = _declare("MEDIA_TOO_LARGE", "a media part of the request is over a size limit (bytes per fetch or "
                           "per request, pixels of an image)", data_fault=True)
MEDIA_UNSUPPORTED = _declare("MEDIA_UNSUPPORTED", "a media part of the request is in a form rewardkit cannot read "
                             "(a malformed data URI, a body that is not its declared type, a format or scheme "
                             "rewardkit does not read)", data_fault=True)
JUDGE_ERROR = _declare("JUDGE_ERROR", "an LLM judge gave no verdict: transport error, timeout, 5xx or auth error "
                       "after retries")
JUDGE_UNPARSEABLE = _declare("JUDGE_UNPARSEABLE", "the judge answered, but not in the form asked for (off the "
                             "menu, a criterion missing or extra)")
SANDBOX_ERROR = _declare("SANDBOX_ERROR", "the code sandbox itself failed (could not start, isolation "
                         "unavailable, the remote sandbox service down): infrastructure, not the program")
SHUTTING_DOWN = _declare("SHUTTING_DOWN", "the server stopped (SIGTERM) and its grace period ended before the "
                         "request was scored; retry (another instance)", scope="request", status=503)
INTERNAL_ERROR = _declare("INTERNAL_ERROR", "something unexpected went wrong in the server while serving the "
                          "request (a bug in rewardkit: the log has its traceback)", scope="request", status=500)
ENGINE_ERROR = _declare("ENGINE_ERROR", "a trainer adapter's engine could not run the batch (its queue full, a "
                        "worker that did not start)", scope="client")
SERVICE_UNAVAILABLE = _declare("SERVICE_UNAVAILABLE", "a remote rewardkit server could not be reached, or kept "
                               "answering 429/5xx, within the client's deadline", scope="client")
REMOTE_FAILED = _declare("REMOTE_FAILED", "a remote server scored nothing for an item and gave no code",
                         scope="client")
BAD_ANSWER = _declare("BAD_ANSWER", "replay or a fixture read an answer that does not match the contract",
                      scope="client")

DATA_FAULTS = frozenset(code.name for code in CODES.values() if code.data_fault)


class RewardkitError(Exception):
    """Base class of every rewardkit error. `code`: the failure a reward call gets when it escapes the reward."""

    code: str = REWARD_ERROR


class RegistrationError(RewardkitError):
    """A reward cannot be registered or served: bad signature, duplicate name, unknown parser."""


class LoadError(RewardkitError):
    """The serve target (module path or file) cannot be imported."""


class ParseError(RewardkitError):
    """A parser found no answer in the response; the message is the reason."""


class InvalidScoreError(RewardkitError):
    """A reward returned something that is not a finite score."""


class UnknownRewardError(RewardkitError, LookupError):
    """No reward of that name is registered."""

    def __init__(self, name: str, known: list[str], source: str = "") -> None:
        self.name = name
        self.known = known
        self.source = source
        listed = ", ".join(known) if known else "(none)"
        where = f" in {source}" if source else ""
        super().__init__(f"no reward named {name!r}{where}; registered rewards: {listed}")


class MissingReferenceError(RewardkitError, ValueError):
    """The request carries no gold answer (or other reference) that the reward needs.

    Raise it from a reward whose reference is optional but needed for this
    call (a placeholder names a missing key, say): the call is answered with
    error code MISSING_REFERENCE, never scored. A reward whose `reference`
    or `ground_truth` parameter has no default is not called at all when the
    request has none.
    """

    code = MISSING_REFERENCE


class InvalidReferenceError(MissingReferenceError):
    """The request carries the reference the reward needs, but it cannot be used: a test that does not
    parse, an expected value that cannot be evaluated (a type error, a division by zero, a value too large).

    The data's fault, like a missing reference (a MissingReferenceError, so handled the same way): the
    call is answered with error code INVALID_REFERENCE and a message naming the field, Vertex HTTP 422,
    never a fallback score; nothing is charged to the model's answer.
    """

    code = INVALID_REFERENCE


class MediaError(RewardkitError):
    """A media part of the request cannot be fetched (network, refused by the address policy, a timeout, no
    such object); the call fails with MEDIA_FETCH_ERROR, never scores. Its subclasses name the other media codes."""

    code = MEDIA_FETCH_ERROR


class MediaTooLargeError(MediaError):
    """A media part of the request is over a size limit (bytes per fetch or per request, an image's pixels)."""

    code = MEDIA_TOO_LARGE


class MediaUnsupportedError(MediaError):
    """A media part of the request is in a form that cannot be read (a malformed data URI, a body that is not its
    declared type, a format or scheme rewardkit does not read): MEDIA_UNSUPPORTED."""

    code = MEDIA_UNSUPPORTED


class SetupError(RewardkitError):
    """A reward's one-time setup failed, or a worker process could not start."""


class EngineBusy(RewardkitError):
    """Every worker is busy and the queue of waiting reward calls is full."""


class JudgeError(RewardkitError):
    """An LLM judge gave no verdict: transport error, timeout, 5xx or auth error after retries, a malformed reply.

    Raised inside a reward, it fails the call like any reward error (Vertex error
    answer, DashScope `status: failed`); it never becomes a score.
    """

    code = JUDGE_ERROR

    def __init__(self, message: str) -> None:
        self.detail = message
        super().__init__(f"{self.code}: {message}")


class JudgeUnparseable(JudgeError):
    """The judge answered, but not in the form the reward asked for (off the menu, a missing or extra criterion)."""

    code = JUDGE_UNPARSEABLE


class SandboxError(RewardkitError):
    """The sandbox itself failed (could not start, isolation unavailable, a remote service down).

    Infrastructure, not the model's program: the reward call fails with error code
    SANDBOX_ERROR and no score.
    """

    code = SANDBOX_ERROR


__all__ = [
    "CODES", "DATA_FAULTS", "FailureCode", "SCOPES",
    "REWARD_ERROR", "INVALID_SCORE", "TIMEOUT", "WORKER_CRASHED", "OUT_OF_MEMORY", "COMPONENT_FAILED",
    "MISSING_REFERENCE", "INVALID_REFERENCE", "MEDIA_FETCH_ERROR", "MEDIA_TOO_LARGE", "MEDIA_UNSUPPORTED",
    "JUDGE_ERROR", "JUDGE_UNPARSEABLE", "SANDBOX_ERROR", "SHUTTING_DOWN", "INTERNAL_ERROR", "ENGINE_ERROR",
    "SERVICE_UNAVAILABLE", "REMOTE_FAILED", "BAD_ANSWER",
    "RewardkitError", "RegistrationError", "LoadError", "ParseError", "InvalidScoreError", "UnknownRewardError",
    "MissingReferenceError", "InvalidReferenceError", "MediaError", "MediaTooLargeError", "MediaUnsupportedError",
    "SetupError",
    "EngineBusy", "JudgeError", "JudgeUnparseable", "SandboxError",
]

"""Exception classes. Each message says what went wrong and what to do about it."""

from __future__ import annotations


class RewardkitError(Exception):
    """Base class of every rewardkit error."""


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

    code = "MISSING_REFERENCE"


class InvalidReferenceError(MissingReferenceError):
    """The request carries the reference the reward needs, but it cannot be used: a test that does not
    parse, an expected value that cannot be evaluated (a type error, a division by zero, a value too large).

    The data's fault, like a missing reference (a MissingReferenceError, so handled the same way): the
    call is answered with error code INVALID_REFERENCE and a message naming the field, Vertex HTTP 422,
    never a fallback score; nothing is charged to the model's answer.
    """

    code = "INVALID_REFERENCE"


class MediaError(RewardkitError):
    """A media part of the request cannot be read: `code` says why; the call fails with it, never scores."""

    def __init__(self, message: str, code: str = "MEDIA_FETCH_ERROR") -> None:
        super().__init__(message)
        self.code = code


class SetupError(RewardkitError):
    """A reward's one-time setup failed, or a worker process could not start."""


class EngineBusy(RewardkitError):
    """Every worker is busy and the queue of waiting reward calls is full."""


class JudgeError(RewardkitError):
    """An LLM judge gave no verdict: transport error, timeout, 5xx or auth error after retries, a malformed reply.

    Raised inside a reward, it fails the call like any reward error (Vertex error
    answer, DashScope `status: failed`); it never becomes a score.
    """

    code = "JUDGE_ERROR"

    def __init__(self, message: str) -> None:
        self.detail = message
        super().__init__(f"{self.code}: {message}")


class JudgeUnparseable(JudgeError):
    """The judge answered, but not in the form the reward asked for (off the menu, a missing or extra criterion)."""

    code = "JUDGE_UNPARSEABLE"

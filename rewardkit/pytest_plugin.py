"""pytest plugin: fixture files are tests.

Registered through the `pytest11` entry point, so it is active wherever
rewardkit is installed (`-p no:rewardkit` turns it off). pytest collects every
file named `*.reward.json` or `*.reward.jsonl` that it visits; each record is a
test item `<file>::<record id>`. The items are scored by the app of the
target (`--rewardkit-target`, ini `rewardkit_target`, default `rewards`),
built once per session with `rewardkit.create_app` and driven in-process over
ASGI, as `rewardkit replay` does. The `rewardkit_client` fixture is a
synchronous httpx client for that same app.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from ._loader import DEFAULT_TARGET
from ._replay.fixtures import FIXTURE_SUFFIXES, FixtureCase, FixtureError, load_cases
from ._text import shorten

if TYPE_CHECKING:
    import httpx

    from ._outcome import Outcome
    from ._replay.inprocess import InProcessService
    from ._replay.replay import ReplayResult
    from ._sample import Sample
    from .contracts import Contract

_SERVICE = pytest.StashKey["_SessionService"]()
_SHOWN_CHARS = 200


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rewardkit", "rewardkit fixture files (*.reward.json, *.reward.jsonl)")
    group.addoption("--rewardkit-target", dest="rewardkit_target", default=None, metavar="MODULE",
                    help="reward module or .py file that scores fixture files (default: ini rewardkit_target, "
                    f"else {DEFAULT_TARGET!r})")
    parser.addini("rewardkit_target", default=DEFAULT_TARGET,
                  help="reward module or .py file (relative to the ini file) that scores fixture files")


def _target(config: pytest.Config) -> str:
    option: str | None = config.getoption("rewardkit_target")
    if option:
        return option
    target = str(config.getini("rewardkit_target") or DEFAULT_TARGET)
    looks_like_path = target.endswith(".py") or "/" in target
    if looks_like_path and not Path(target).is_absolute():
        # A path in the ini file means a path next to it, wherever pytest is run from.
        base = config.inipath.parent if config.inipath else config.rootpath
        target = str(base / target)
    return target


class _SessionService:
    """One in-process app for the whole session, started by the first item (or fixture) that needs it."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._service: InProcessService | None = None
        self._client: httpx.Client | None = None
        self._error: str | None = None

    def client(self) -> "httpx.Client":
        if self._error is not None:
            raise ServiceUnavailable(self._error)
        if self._client is None:
            from ._errors import RewardkitError
            from ._replay.inprocess import InProcessService

            try:
                self._service = InProcessService(self.target).start()
            except RewardkitError as exc:
                self._error = f"rewardkit cannot serve target {self.target!r}: {exc}"
                raise ServiceUnavailable(self._error) from None
            self._client = self._service.client()
        return self._client

    @property
    def app(self) -> Any:
        return None if self._service is None else self._service.app

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._service is not None:
            self._service.close()


def _session_service(config: pytest.Config) -> _SessionService:
    if _SERVICE not in config.stash:
        service = _SessionService(_target(config))
        config.stash[_SERVICE] = service
        config.add_cleanup(service.close)
    return config.stash[_SERVICE]


@pytest.fixture(scope="session")
def rewardkit_client(pytestconfig: pytest.Config) -> Iterator["httpx.Client"]:
    """A sync httpx client for the in-process app of the rewardkit target (the one fixture files use)."""
    yield _session_service(pytestconfig).client()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(FIXTURE_SUFFIXES):
        return RewardFixtureFile.from_parent(parent, path=file_path)
    return None


class ServiceUnavailable(Exception):
    """The target could not be loaded or started; every fixture item reports the same message."""


class FixtureMismatch(AssertionError):
    """The answer is not what the record expects."""


class RewardFixtureFile(pytest.File):
    def collect(self) -> Iterator["RewardFixtureItem"]:
        try:
            cases = load_cases(self.path)
        except FixtureError as exc:
            raise self.CollectError(f"bad fixture file: {exc}") from None
        seen: set[str] = set()
        for case in cases:
            name = case.id
            if name.startswith(self.path.name + "#"):  # a record without an id: number it
                name = "record" + name[len(self.path.name):]
            if name in seen:  # ids should be unique; keep both items runnable
                name = f"{name}@{case.source.rsplit(':', 1)[-1]}"
            seen.add(name)
            yield RewardFixtureItem.from_parent(self, name=name, case=case)


class RewardFixtureItem(pytest.Item):
    def __init__(self, *, case: FixtureCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        from ._replay.replay import case_route, judge

        client = _session_service(self.config).client()
        path = case_route(self.case)
        started = time.perf_counter()
        response = client.post(path, json=self.case.request)
        latency = time.perf_counter() - started
        try:
            body = response.json()
        except ValueError:
            body = response.text
        result = judge(self.case, path, response.status_code, body, latency)
        if not result.passed:
            rescored = None
            if result.answer.scores and not _contract(self.case).reasons_in_answers:
                rescored = _rescored_reason(_session_service(self.config), self.case)
            raise FixtureMismatch(failure_message(result, rescored))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (FixtureMismatch, ServiceUnavailable)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.case.source.rsplit(":", 1)[-1]
        # Not a suffix of the node id: pytest would print a suffix's dots as '::' (brevity_rank::reward::jsonl).
        return self.path, int(line) - 1 if line.isdigit() else None, f"fixture {self.name}"


# ---- the failure message -----------------------------------------------------------

def _shown(text: str) -> str:
    return repr(shorten(" ".join(text.split()), _SHOWN_CHARS))


def _contract(case: FixtureCase) -> Contract:
    from .contracts import get

    return get(case.contract)


def _samples(case: FixtureCase) -> list[Sample]:
    """The request's samples as its contract reads them; none when the body does not parse."""
    from .contracts import ContractError

    try:
        return _contract(case).parse(case.request).samples
    except ContractError:
        return []


def _response_texts(case: FixtureCase) -> list[str]:
    return [sample.response for sample in _samples(case)] or ["(the request does not parse)"]


def _gold(case: FixtureCase) -> str:
    samples = _samples(case)
    if not samples:
        return "(none)"
    shown = []
    if samples[0].ground_truth is not None:
        shown.append(f"ground_truth {json.dumps(samples[0].ground_truth, ensure_ascii=False)}")
    references = next((s.references for s in samples if s.references), None)
    if references:
        shown.append(f"references {json.dumps(references, ensure_ascii=False)}")
    return ", ".join(shown) or "(none)"


def _expected(case: FixtureCase) -> str:
    e = case.expect
    parts = []
    if e.score is not None:
        parts.append(f"score {e.score:g} (tolerance {e.tolerance:g})")
    if e.scores is not None:
        parts.append(f"scores {json.dumps(list(e.scores))} (tolerance {e.tolerance:g})")
    if e.status is not None:
        parts.append(f"HTTP {e.status}" if isinstance(e.status, int) else f"status {e.status!r}")
    if e.error_code is not None:
        parts.append(f"error_code {e.error_code}")
    return ", ".join(parts) or "a score (the record has no 'expect')"


def _outcome_reason(outcome: Outcome) -> str:
    if outcome.failure is not None and outcome.score is None:
        return f"{outcome.failure.code}: {outcome.failure.message}"
    if outcome.score is not None and outcome.score.reason:
        return outcome.score.reason
    parts = [f"{c.name}: {_outcome_reason(c.outcome)}" for c in outcome.components]
    return "; ".join(parts) or "(none given)"


def _rescored_reason(service: _SessionService, case: FixtureCase) -> str | None:
    """The reward's own reason for a case whose answer carries scores (and metrics) but no text.

    The session's reward is run once more on the same request, in this process,
    only for a failing item; None when that is not possible.
    """
    try:
        from .testing import score_samples

        app = service.app
        spec = app.state.registry.get(case.reward or app.state.default_reward)
        outcomes = score_samples(spec, _samples(case))
    except Exception:  # only a better message is lost: the item has failed already
        return None
    reasons = [_outcome_reason(o) for o in outcomes]
    return reasons[0] if len(reasons) == 1 else "; ".join(f"[{i}] {r}" for i, r in enumerate(reasons))


def failure_message(result: "ReplayResult", rescored: str | None = None) -> str:
    """What a person needs to see: the request's key fields, expected vs actual, and the reward's reason.

    `rescored` is the reward's reason when the answer itself has none.
    """
    case = result.case
    texts = _response_texts(case)
    actual = ("scores " + json.dumps(list(result.answer.scores))) if result.answer.scores else "no score"
    if result.status is not None:
        actual += f" (HTTP {result.status}"
        if isinstance(result.body, dict) and result.body.get("status"):
            actual += f", status {result.body['status']!r}"
        actual += ")"
    if result.answer.error_code:
        actual += f", error_code {result.answer.error_code}"
    lines = [
        f"{case.source}: fixture {case.id!r} failed",
        f"  contract: {case.contract}, POST {result.route}" + (f" (reward {case.reward})" if case.reward else ""),
    ]
    if len(texts) == 1:
        lines.append(f"  response: {_shown(texts[0])}")
    else:
        lines.extend(f"  response[{i}]: {_shown(t)}" for i, t in enumerate(texts))
    lines += [
        f"  gold: {_gold(case)}",
        f"  expected: {_expected(case)}",
        f"  actual: {actual}",
        *([f"  metrics: {result.answer.reason}"] if rescored is not None and result.answer.reason else []),
        f"  reason: {rescored or result.answer.reason or '(none given)'}",
        *(f"  problem: {p}" for p in result.problems),
    ]
    return "\n".join(lines)

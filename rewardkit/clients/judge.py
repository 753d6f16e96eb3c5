"""An asynchronous client for chat models, made for rewards that ask a model.

What goes on the wire is its provider's business (`providers/`: OpenAI-compatible chat
completions by default, `provider=` another registered one); this module is the policy above
every provider: retries within a deadline, rate limits, the concurrency cap, the cache, metrics.

The requests go through aiohttp, not httpx: on 2 cores httpx's AsyncClient stalls above ~32
requests in flight (single requests waiting 5 s; bench/judge_bench.py measures both, and a raw
asyncio client as the floor), a known httpcore pool cost (encode/httpx#3215,
openai/openai-python#1596); aiohttp keeps each request at the judge's own latency at 128.

What a reward needs of it, beyond a plain call: a verdict or a `JudgeError`, never a guess;
retries that end before the reward's timeout (rewardkit/_retry.py, the policy every client shares);
a concurrency cap and rate limits shared by every reward call of a process (`_limits.py`), and by
every instance through Redis when one is configured (`_shared.py`); and a cache so a replayed or
duplicated sample is judged once (`_cache.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncGenerator, Awaitable, Callable, Mapping, Sequence, Union

if TYPE_CHECKING:
    import aiohttp
    import cachetools

from .. import _retry
from .._errors import JudgeError
from . import _telemetry, providers
from ._cache import DISK_CACHE_MB, MEMORY_CACHE_SIZE, DiskCache, cache_key
from ._limits import Limit, Slots
from ._shared import URL_ENV, Shared
from .providers import Chat, Provider, TokenLogprob, trim

BASE_URL_ENV = ("REWARDKIT_JUDGE_BASE_URL", "OPENAI_BASE_URL")
MODEL_ENV = "REWARDKIT_JUDGE_MODEL"
LEASE_MARGIN = 5.0  # seconds a shared concurrency slot outlives its attempt's timeout before it is taken back

#: Returns a bearer token (or awaits one), asked before every request: a Cloud Run identity token, a rotating key.
TokenProvider = Callable[[], Union[str, Awaitable[str]]]
Messages = Sequence[Mapping[str, Any]]  # content: text, or OpenAI-style parts (a judge shown media)


@dataclass(frozen=True)
class JudgeLimits:
    """How hard one judge may be pushed, and how long one verdict may take.

    `concurrency` caps requests in flight per judge and event loop (the server has one loop);
    `requests_per_minute` / `tokens_per_minute` pace them (None: unlimited); `attempts` counts the
    first try; `attempt_timeout` bounds one HTTP attempt and `deadline` all of them, waits included.
    `redis_url` shares the cap, the rate limits and the cache with every instance using the same Redis
    and judge name (docs/judges.md); None: `REWARDKIT_REDIS_URL` when set; "": this instance's own.
    """

    concurrency: int = 32
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    attempts: int = _retry.JUDGE_ATTEMPTS
    attempt_timeout: float = 30.0
    deadline: float = 50.0
    redis_url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValueError(f"JudgeLimits.concurrency must be an integer >= 1, got {self.concurrency!r}")
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"JudgeLimits.attempts must be an integer >= 1, got {self.attempts!r}")
        for name in ("requests_per_minute", "tokens_per_minute", "attempt_timeout", "deadline"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"JudgeLimits.{name} must be a number > 0, got {value!r}")

    def shared_url(self) -> str:
        """The Redis URL of the shared limits ("" for none), the environment's unless given."""
        return os.environ.get(URL_ENV, "").strip() if self.redis_url is None else self.redis_url


@dataclass(frozen=True)
class Completion:
    """A judge's reply and what it cost. `cached` replies cost nothing this time.

    `logprobs`: per sampled token, its log-probability and the top alternatives, when the request
    asked for them (`params={"logprobs": True, "top_logprobs": N}`) and the provider returned them.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    retries: int = 0
    cached: bool = False
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass
class _LoopState:
    """What must belong to one event loop: the HTTP client, the cap, the limiters, Redis, the requests in flight."""

    loop: asyncio.AbstractEventLoop
    session: "aiohttp.ClientSession"
    closer: AsyncGenerator[None, None]
    slots: Slots
    requests: Limit | None
    tokens: Limit | None
    shared_cache: Shared | None
    pending: dict[str, "asyncio.Future[Completion]"] = field(default_factory=dict)


def encode(reply: Completion) -> bytes:
    """A reply as the disk and Redis caches keep it (JSON)."""
    logprobs = None if reply.logprobs is None else [[t.token, t.logprob, [list(a) for a in t.top]]
                                                    for t in reply.logprobs]
    return json.dumps({"text": reply.text, "prompt_tokens": reply.prompt_tokens,
                       "completion_tokens": reply.completion_tokens, "logprobs": logprobs}).encode()


# What a media part costs before the reply says: Gemini counts 258 tokens an image (32 a second of audio), OpenAI
# 85 + 170 a 512-px tile (1,105 for a 1536x768 image at high detail). The rate limit charges the higher, then
# settles to the reply's own count.
MEDIA_PART_TOKENS = 1105


def estimated_tokens(content: Any) -> float:
    """~4 characters a token for text, MEDIA_PART_TOKENS for each non-text part of a content list."""
    if isinstance(content, str):
        return len(content) / 4
    if isinstance(content, list):
        return sum(len(str(p.get("text", ""))) / 4 if isinstance(p, dict) and p.get("type") == "text"
                   else MEDIA_PART_TOKENS for p in content)
    return 0.0


def decode(raw: bytes) -> Completion | None:
    """A cached reply, or None for what is not one (an entry from another version)."""
    try:
        data = json.loads(raw)
        logprobs = data.get("logprobs")
        return Completion(data["text"], int(data.get("prompt_tokens", 0)), int(data.get("completion_tokens", 0)),
                          logprobs=None if logprobs is None else tuple(
                              TokenLogprob(t, p, tuple((a, q) for a, q in top)) for t, p, top in logprobs))
    except (ValueError, KeyError, TypeError):
        return None


class AsyncJudge:
    """A chat model asked for verdicts, through a provider (default: OpenAI-compatible chat completions).

    `provider` is a registered provider's name or a `Provider` (rewardkit.clients.providers).
    `base_url` (for the default provider: ending before `/chat/completions`), `model` and the key
    come from the arguments, else from `REWARDKIT_JUDGE_BASE_URL` / `OPENAI_BASE_URL`,
    `REWARDKIT_JUDGE_MODEL` and the variable `api_key_env` names; all are read at the first
    request, so a module defining a judge imports without them. `api_key_env=None` sends no key
    (a local vLLM or Ollama).
    `token_provider` is called before each request for a bearer token instead of a key.
    `params` are sent with every request (`temperature`, `max_tokens`, ...). `cache_dir` keeps
    verdicts on disk too, for replays, up to `cache_dir_mb` megabytes. `cache` is True (memory, and
    Redis when the limits are shared), False (none), or a Redis URL to share the cache through.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        token_provider: TokenProvider | None = None,
        limits: JudgeLimits = JudgeLimits(),
        params: Mapping[str, Any] | None = None,
        cache: bool | str = True,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_dir_mb: float = DISK_CACHE_MB,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
        provider: str | Provider = providers.DEFAULT,
    ) -> None:
        self.provider = providers.get(provider)
        self._model = model
        self._base_url = base_url
        self._api_key = api_key
        self.api_key_env = api_key_env
        self.token_provider = token_provider
        self.limits = limits
        self.params = dict(params or {})
        self.cache = cache
        import cachetools  # here, not at import: a module that only names the judge client does not pay for it

        self._memory: cachetools.LRUCache[str, Completion] = cachetools.LRUCache(MEMORY_CACHE_SIZE)
        self._disk = DiskCache(cache_dir, cache_dir_mb) if cache_dir is not None and cache else None
        self._policy = dataclasses.replace(_retry.JUDGE, attempts=limits.attempts)
        self.headers = dict(headers or {})
        self._name = name
        self._states: dict[int, _LoopState] = {}

    # ---- configuration, resolved at first use --------------------------------------------

    @property
    def model(self) -> str:
        model = self._model or os.environ.get(MODEL_ENV)
        if not model:
            raise JudgeError(f"no judge model: pass model=... or set {MODEL_ENV}")
        return model

    @property
    def base_url(self) -> str:
        # OPENAI_BASE_URL is the OpenAI SDK's variable: it says where chat completions are, not another API.
        variables = BASE_URL_ENV if self.provider.name == providers.DEFAULT else BASE_URL_ENV[:1]
        url = self._base_url or next((os.environ[v] for v in variables if os.environ.get(v)),
                                     self.provider.default_base_url)
        return url.rstrip("/")

    @property
    def name(self) -> str:
        """The label of this judge's metrics."""
        return self._name or (self._model or os.environ.get(MODEL_ENV) or "judge")

    async def _authorization(self) -> dict[str, str]:
        if self.token_provider is not None:
            token = self.token_provider()
            if inspect.isawaitable(token):
                token = await token
            return self.provider.authorization(str(token))
        key = self._api_key or (os.environ.get(self.api_key_env) if self.api_key_env else None)
        if key:
            return self.provider.authorization(key)
        if self.api_key_env is None:
            return {}
        raise JudgeError(f"no API key for judge {self.name!r}: set {self.api_key_env}, pass api_key=..., "
                         "token_provider=..., or api_key_env=None for a server that needs none")

    async def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(id(loop))
        if state is not None and state.loop is loop:
            return state
        import aiohttp  # here, not at import: only a process that judges pays for it

        # `rewardkit.testing` and the DashScope processors run each call on a new loop; a closed loop's session is dead.
        self._states = {k: s for k, s in self._states.items() if not s.loop.is_closed()}
        limits = self.limits
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limits.concurrency), trust_env=False)
        limits_url = limits.shared_url()
        cache_url = self.cache if isinstance(self.cache, str) else limits_url if self.cache else ""
        shared = {url: Shared.connect(url, self.name) for url in {limits_url, cache_url} if url}
        closer = _close_at_loop_end(session, list(shared.values()))
        await closer.__anext__()
        store = shared.get(limits_url)
        state = _LoopState(
            loop, session, closer, Slots(limits.concurrency, limits.attempt_timeout + LEASE_MARGIN, store),
            Limit(limits.requests_per_minute, "requests", store) if limits.requests_per_minute else None,
            Limit(limits.tokens_per_minute, "tokens", store) if limits.tokens_per_minute else None,
            shared.get(cache_url),
        )
        self._states[id(loop)] = state
        return state

    async def aclose(self) -> None:
        """Close this loop's connections now (they close by themselves when an `asyncio.run` loop ends)."""
        state = self._states.pop(id(asyncio.get_running_loop()), None)
        if state is not None:
            await state.closer.aclose()

    # ---- asking ---------------------------------------------------------------------------

    async def complete(self, messages: Messages, *, params: Mapping[str, Any] | None = None, draw: int = 0,
                       until: float | None = None, model: str | None = None) -> Completion:
        """The judge's reply to `messages`, from the cache when this exact request was answered before.

        `model` asks another model of the same endpoint (a panel), under this client's cap and limits.
        `draw` tells apart the N replies of `samples=N` (each is cached on its own). `until` is a
        `time.monotonic()` deadline for every attempt and wait; without it, `limits.deadline` from now.
        Raises JudgeError when no reply came in time, or the reply is not a chat completion.
        """
        request = {**self.params, **(params or {})}
        model = model or self.model
        end = min(until, time.monotonic() + self.limits.deadline) if until else time.monotonic() + self.limits.deadline
        if not self.cache:
            return await self._ask(await self._state(), model, messages, request, end)
        key = cache_key(self.provider.name, model, messages, request, draw)
        hit = self._cached(key)
        if hit is not None:
            return hit
        state = await self._state()
        if state.shared_cache is not None:
            found = await state.shared_cache.get(key)
            hit = None if found is None else decode(found)
            if hit is not None:
                self._remember(key, hit)
                _telemetry.CACHE_HITS.labels(self.name, "redis").inc()
                return dataclasses.replace(hit, latency=0.0, retries=0, cached=True)
        pending = state.pending.get(key)
        if pending is not None:  # the same request is in flight (a duplicated sample): wait for its reply
            _telemetry.CACHE_HITS.labels(self.name, "in_flight").inc()
            reply = await asyncio.shield(pending)
            return dataclasses.replace(reply, latency=0.0, retries=0, cached=True)
        future: asyncio.Future[Completion] = state.loop.create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" warning
        state.pending[key] = future
        try:
            reply = await self._ask(state, model, messages, request, end)
        except asyncio.CancelledError:
            future.set_exception(JudgeError("the identical judge request this one waited for was cancelled"))
            raise
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(reply)
            self._store(key, reply)
            if state.shared_cache is not None:
                await state.shared_cache.put(key, encode(reply))
            return reply
        finally:
            state.pending.pop(key, None)

    def _cached(self, key: str) -> Completion | None:
        hit = self._memory.get(key)
        source = "memory"
        if hit is None and self._disk is not None:
            found, source = self._disk.get(key), "disk"
            hit = None if found is None else decode(found)
            if hit is not None:
                self._remember(key, hit)
        if hit is None:
            return None
        _telemetry.CACHE_HITS.labels(self.name, source).inc()
        return dataclasses.replace(hit, latency=0.0, retries=0, cached=True)

    def _remember(self, key: str, reply: Completion) -> None:
        self._memory[key] = reply

    def _store(self, key: str, reply: Completion) -> None:
        self._remember(key, reply)
        if self._disk is not None:
            self._disk.put(key, encode(reply))

    async def _ask(self, state: _LoopState, model: str, messages: Messages, params: Mapping[str, Any],
                   end: float) -> Completion:
        request = self.provider.request(self.base_url, Chat(model, tuple(messages), params))
        # Tokens are unknown until the reply; charge ~4 characters a token plus the reply allowance, then settle.
        estimate = sum(estimated_tokens(m.get("content")) for m in messages) + float(params.get("max_tokens") or 256)
        failed = [0]

        def retried(again: _retry.Again) -> None:
            failed[0] += 1
            _telemetry.RETRIES.labels(self.name, again.reason).inc()

        outcome = await _retry.acall(lambda: self._attempt(state, request.url, request.body, request.headers,
                                                           estimate, end), self._policy, end, retried)
        if isinstance(outcome, _retry.GaveUp):
            _telemetry.FAILURES.labels(self.name).inc()
            raise JudgeError(f"judge {model!r} at {request.url} gave no verdict after {outcome}")
        if state.tokens is not None:
            await state.tokens.settle(outcome.prompt_tokens + outcome.completion_tokens - estimate)
        return dataclasses.replace(outcome, retries=failed[0])

    async def _attempt(self, state: _LoopState, url: str, body: bytes, extra: Mapping[str, str], estimate: float,
                       end: float) -> Completion | _retry.Again:
        """One HTTP attempt: a Completion, or what happened when it is worth retrying.

        Raises JudgeError for what no retry will fix (auth, bad request, a reply that is not a completion).
        """
        if state.requests is not None:
            await state.requests.take(1, end)
        if state.tokens is not None:
            await state.tokens.take(estimate, end)
        headers = {**self.headers, **extra, **await self._authorization()}
        remaining = end - time.monotonic()
        if remaining <= 0:
            return _retry.Again("deadline", "the deadline passed while waiting for a rate limit")
        slot = await state.slots.acquire(end)
        if slot is False:
            return _retry.Again("deadline", f"{self.limits.concurrency} requests stayed in flight until the deadline")
        import aiohttp

        gauge = _telemetry.IN_FLIGHT.labels(self.name)
        gauge.inc()
        started = time.monotonic()
        try:
            timeout = max(min(self.limits.attempt_timeout, end - started), 0.001)
            async with state.session.post(url, data=body, headers={
                    **headers, "Content-Type": "application/json"},
                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                status, reply_headers, text = response.status, response.headers, await response.text(errors="replace")
        except asyncio.TimeoutError:
            _telemetry.REQUESTS.labels(self.name, "timeout").inc()
            return _retry.Again("timeout", f"no answer within {timeout:.1f} s")
        except aiohttp.ClientError as exc:
            _telemetry.REQUESTS.labels(self.name, "connection").inc()
            return _retry.Again("connection", f"{type(exc).__name__}: {exc}")
        finally:
            gauge.dec()
            await state.slots.release(slot)
        latency = time.monotonic() - started
        _telemetry.LATENCY.labels(self.name).observe(latency)
        _telemetry.REQUESTS.labels(self.name, "ok" if status == 200 else str(status)).inc()
        if status != 200:
            what = f"HTTP {status}: {trim(text)}"
            if _retry.should_retry(status, reply_headers):
                return _retry.Again(str(status), what, reply_headers)
            raise JudgeError(f"judge at {url} refused the request: {what}")
        return self._completion(text, latency)

    def _completion(self, raw: str, latency: float) -> Completion:
        reply = self.provider.reply(raw)
        _telemetry.TOKENS.labels(self.name, "prompt").inc(reply.prompt_tokens)
        _telemetry.TOKENS.labels(self.name, "completion").inc(reply.completion_tokens)
        return Completion(reply.text, reply.prompt_tokens, reply.completion_tokens, latency, logprobs=reply.logprobs)


async def _close_at_loop_end(session: "aiohttp.ClientSession", shared: list[Shared]) -> AsyncGenerator[None, None]:
    """Started once, this generator is finalised when its loop shuts down (`asyncio.run` and uvicorn call
    `shutdown_asyncgens`), closing the session (and Redis connections) there instead of warning about
    it from a dead loop."""
    try:
        yield
    finally:
        await session.close()
        for store in shared:
            await store.aclose()


def cloud_run_identity_token(audience: str, *, metadata_url: str = "http://metadata.google.internal",
                             refresh_before: float = 300.0) -> TokenProvider:
    """A token provider for a judge behind Cloud Run IAM: this service's identity token for `audience`.

    Asks the metadata server (`/computeMetadata/v1/instance/service-accounts/default/identity`),
    and keeps the token until `refresh_before` seconds before the hour Google gives it.
    """
    cached: dict[str, Any] = {"token": None, "expires": 0.0}
    lock: dict[int, asyncio.Lock] = {}

    async def provide() -> str:
        loop_lock = lock.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())
        async with loop_lock:
            if cached["token"] is None or time.monotonic() >= cached["expires"]:
                import httpx  # one request an hour: the simple client does

                url = f"{metadata_url.rstrip('/')}/computeMetadata/v1/instance/service-accounts/default/identity"
                try:
                    async with httpx.AsyncClient(trust_env=False) as client:
                        response = await client.get(url, params={"audience": audience},
                                                    headers={"Metadata-Flavor": "Google"}, timeout=5.0)
                except httpx.HTTPError as exc:
                    raise JudgeError(f"cannot get an identity token from {url}: {type(exc).__name__}: {exc}") from None
                if response.status_code != 200:
                    raise JudgeError(f"the metadata server refused an identity token: HTTP {response.status_code}: "
                                     f"{trim(response.text)}")
                cached["token"] = response.text.strip()
                cached["expires"] = time.monotonic() + 3600.0 - refresh_before
            return str(cached["token"])

    return provide


__all__ = ["AsyncJudge", "JudgeLimits", "Completion", "TokenProvider", "cloud_run_identity_token", "cache_key", "trim"]

"""Fetching a request's media, safely and once.

The service fetches before it calls a reward that asks for `media` or `images` (`Fetcher.prepare`), so
the bytes travel to the worker in `Media.data` and one cache serves every worker; a reward that does not
ask is never the cause of a fetch.

- `data:` URIs are decoded; `gs://` is read with google-cloud-storage (the `gcs` extra; Application
  Default Credentials: the service's own account on Cloud Run; STORAGE_EMULATOR_HOST is honoured);
  `http(s)://` goes through aiohttp with a resolver that checks every address it returns (`_policy`), so
  the check happens at connect time, on every connection, after every redirect (followed by hand, at most
  `max_redirects`); an IP literal in a URL is checked before connecting. `file://` only under `file_root`.
- Limits: `max_bytes` and `timeout` per fetch, `request_bytes` and `request_timeout` per request, at most
  `concurrency` fetches at once per event loop. A body is read in chunks and dropped as soon as it passes
  the limit, whatever its Content-Length said.
- The body is checked against its declared MIME type (`_sniff.checked`).
- A content-addressed cache (sha-256 of the bytes; memory, and a folder when `cache_dir` is set, each
  bounded) with one fetch in flight per URI, so the sixteen responses of one prompt fetch its image once.

Every failure is a MediaError whose code (MEDIA_FETCH_ERROR, MEDIA_TOO_LARGE, MEDIA_UNSUPPORTED) fails the
calls of the samples that carry the part; it is never scored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import unquote, urljoin, urlsplit

from .._errors import MediaError, MediaTooLargeError, MediaUnsupportedError
from .._sample import Media, Message, Sample
from ._policy import AllowList, refusal
from ._sniff import checked

_MB = 1024 * 1024
_CHUNK = 64 * 1024
SCHEMES = ("data", "gs", "https", "http", "file")


@dataclass(frozen=True)
class FetchSettings:
    """Limits and policy of media fetching; each field has an environment variable (ENVIRONMENT)."""

    max_mb: float = 20.0  # per fetch; Gemini's inline-data limit per request is 20 MB
    request_mb: float = 64.0  # all the distinct media of one request
    timeout: float = 10.0  # seconds per fetch (connect, redirects, body)
    request_timeout: float = 30.0  # seconds for all the media of one request
    concurrency: int = 16  # fetches at once, per event loop
    cache_mb: float = 256.0  # the in-memory cache
    cache_dir: str | None = None  # a folder for a disk cache that outlives the process (shared by replicas' volume)
    disk_cache_mb: float = 2048.0
    allow_hosts: str = ""  # host names or CIDR networks exempt from the address policy: "localhost,10.0.0.0/8"
    file_root: str | None = None  # file:// URIs are read only under this folder (local replay); None: refused
    max_redirects: int = 5

    def __post_init__(self) -> None:
        for name in ("max_mb", "request_mb", "timeout", "request_timeout", "cache_mb", "disk_cache_mb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchSettings.{name} must be > 0, got {getattr(self, name)!r}")
        if self.concurrency < 1 or self.max_redirects < 0:
            raise ValueError("FetchSettings.concurrency must be >= 1 and max_redirects >= 0")

    @property
    def allow(self) -> AllowList:
        return AllowList.parse(self.allow_hosts)


ENVIRONMENT = {f.name: "REWARDKIT_MEDIA_" + f.name.upper() for f in fields(FetchSettings)}


def settings_from(environ: Mapping[str, str] | None = None, **overrides: Any) -> FetchSettings:
    """FetchSettings from REWARDKIT_MEDIA_* variables (and keyword overrides); a bad value names its variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(FetchSettings):
        text = environ.get(ENVIRONMENT[f.name], "").strip()
        if not text:
            continue
        kind = {"int": int, "float": float}.get(str(f.type), str)
        try:
            values[f.name] = kind(text)
        except ValueError:
            raise ValueError(f"{ENVIRONMENT[f.name]} must be {'a number' if kind is not str else 'text'}, "
                             f"got {text!r}") from None
    return FetchSettings(**{**values, **overrides})


class Cache:
    """Bytes by sha-256, and URI -> (sha-256, MIME type); least recently used out first; thread-safe."""

    def __init__(self, max_bytes: int, directory: str | None = None, disk_bytes: int = 0) -> None:
        self._max, self._size = max_bytes, 0
        self._blobs: OrderedDict[str, bytes] = OrderedDict()
        self._uris: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._dir = Path(directory) if directory else None
        self._disk_bytes = disk_bytes

    def get(self, uri: str) -> tuple[bytes, str] | None:
        with self._lock:
            entry = self._uris.get(uri)
            if entry is not None and entry[0] in self._blobs:
                self._uris.move_to_end(uri)
                self._blobs.move_to_end(entry[0])
                return self._blobs[entry[0]], entry[1]
        return self._disk_get(uri)

    def put(self, uri: str, body: bytes, mime: str) -> None:
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            self._uris[uri] = (digest, mime)
            self._uris.move_to_end(uri)
            while len(self._uris) > 65536:
                self._uris.popitem(last=False)
            if digest not in self._blobs and len(body) <= self._max:
                self._blobs[digest] = body
                self._size += len(body)
                while self._size > self._max:
                    _, dropped = self._blobs.popitem(last=False)
                    self._size -= len(dropped)
        self._disk_put(uri, digest, body, mime)

    def _disk_key(self, uri: str) -> Path:
        assert self._dir is not None
        return self._dir / "uri" / hashlib.sha256(uri.encode()).hexdigest()

    def _disk_get(self, uri: str) -> tuple[bytes, str] | None:
        if self._dir is None:
            return None
        try:
            digest, _, mime = self._disk_key(uri).read_text().partition(" ")
            body = (self._dir / "blob" / digest).read_bytes()
        except (OSError, ValueError):
            return None
        if hashlib.sha256(body).hexdigest() != digest:  # a torn or altered file is a miss, never wrong bytes
            return None
        return body, mime

    def _disk_put(self, uri: str, digest: str, body: bytes, mime: str) -> None:
        if self._dir is None or len(body) > self._disk_bytes:
            return
        try:
            for sub in ("uri", "blob"):
                (self._dir / sub).mkdir(parents=True, exist_ok=True)
            blob = self._dir / "blob" / digest
            if not blob.exists():
                partial = blob.with_suffix(f".{os.getpid()}.{threading.get_ident()}")
                partial.write_bytes(body)
                partial.replace(blob)  # atomic: readers see the whole file or none
            self._disk_key(uri).write_text(f"{digest} {mime}")
            self._trim_disk()
        except OSError:
            pass  # a full or read-only disk makes the disk cache a miss, not a failed call

    def _trim_disk(self) -> None:
        assert self._dir is not None
        blobs = sorted((p.stat().st_mtime, p.stat().st_size, p) for p in (self._dir / "blob").iterdir())
        total = sum(size for _, size, _ in blobs)
        for _, size, path in blobs:
            if total <= self._disk_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


@dataclass
class Counts:
    """What a fetcher did: reads from the source, answers from the cache, refusals."""

    fetched: int = 0
    cached: int = 0
    failed: int = 0


def _guard(allow: AllowList) -> Any:
    """An aiohttp resolver that returns only addresses the policy allows (so the check is at connect time)."""
    import socket

    import aiohttp
    from aiohttp.abc import AbstractResolver, ResolveResult

    class Guard(AbstractResolver):
        def __init__(self) -> None:
            self._inner = aiohttp.ThreadedResolver()

        async def resolve(self, host: str, port: int = 0,
                          family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
            results = await self._inner.resolve(host, port, family)
            if allow.allows_host(host):
                return results
            refused = [why for r in results if (why := refusal(r["host"], allow))]
            if refused:
                raise _Refused(f"{host} resolves to an address it may not reach: {refused[0]}")
            return results

        async def close(self) -> None:
            await self._inner.close()

    return Guard()


class _Refused(OSError):
    """The resolver's refusal, an OSError so aiohttp carries it out as a connection error."""


def _refused_in(exc: BaseException) -> _Refused | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _Refused):
            return seen
        seen = getattr(seen, "os_error", None) or seen.__cause__ or seen.__context__
    return None


class _LoopState:
    def __init__(self, settings: FetchSettings) -> None:
        self.semaphore = asyncio.Semaphore(settings.concurrency)
        self.inflight: dict[str, asyncio.Future[tuple[bytes, str]]] = {}


class Fetcher:
    """Fetches media under one FetchSettings, with one cache shared by every event loop and thread."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        self.cache = Cache(int(self.settings.cache_mb * _MB), self.settings.cache_dir,
                           int(self.settings.disk_cache_mb * _MB))
        self.counts = Counts()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
        self._gcs: Any = None
        self._lock = threading.Lock()

    # ---- one URI ---------------------------------------------------------------------

    async def fetch(self, media: Media) -> Media:
        """`media` with its bytes (from the cache, or fetched once however many ask at once), checked."""
        if media.data is not None or not media.uri:
            return media
        uri = media.uri
        if uri.startswith("data:"):
            return self._limited(checked(media, media.read()))
        found = self.cache.get(uri)
        if found is not None:
            self.counts.cached += 1
            return checked(media, *found)
        state = self._state()
        task = state.inflight.get(uri)
        if task is None:
            task = asyncio.ensure_future(self._fetch_once(uri, state))
            state.inflight[uri] = task
            task.add_done_callback(lambda _: state.inflight.pop(uri, None))
        else:
            self.counts.cached += 1
        body, served_as = await asyncio.shield(task)
        return checked(media, body, served_as)

    def _limited(self, media: Media) -> Media:
        if media.data is not None and len(media.data) > self.settings.max_mb * _MB:
            raise MediaTooLargeError(f"inline {media.kind} of {len(media.data):,} bytes is over the per-part limit of "
                                     f"{self.settings.max_mb:g} MB (REWARDKIT_MEDIA_MAX_MB)")
        return media

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.get(loop)
            if state is None:
                state = self._loops[loop] = _LoopState(self.settings)
        return state

    async def _fetch_once(self, uri: str, state: _LoopState) -> tuple[bytes, str]:
        scheme = urlsplit(uri).scheme.lower()
        if scheme not in SCHEMES:
            raise MediaUnsupportedError(f"{uri}: the scheme {scheme or '(none)'!r} is not fetched; media URIs are "
                                        f"{', '.join(s + ':' for s in SCHEMES)}")
        async with state.semaphore:
            try:
                body, served_as = await asyncio.wait_for(self._read(scheme, uri, state), self.settings.timeout)
            except (asyncio.TimeoutError, TimeoutError):
                self.counts.failed += 1
                raise MediaError(f"{uri}: no complete answer within {self.settings.timeout:g} s "
                                 "(REWARDKIT_MEDIA_TIMEOUT)") from None
            except MediaError:
                self.counts.failed += 1
                raise
        self.counts.fetched += 1
        self.cache.put(uri, body, served_as)
        return body, served_as

    async def _read(self, scheme: str, uri: str, state: _LoopState) -> tuple[bytes, str]:
        if scheme == "gs":
            return await asyncio.to_thread(self._read_gcs, uri)
        if scheme == "file":
            return await asyncio.to_thread(self._read_file, uri)
        return await self._read_http(uri)

    # ---- sources -----------------------------------------------------------------

    def _too_large(self, uri: str, size: int | str) -> MediaError:
        return MediaTooLargeError(f"{uri}: {size} bytes, over the per-fetch limit of {self.settings.max_mb:g} MB "
                                  "(REWARDKIT_MEDIA_MAX_MB)")

    async def _read_http(self, uri: str) -> tuple[bytes, str]:
        import aiohttp

        # A session per fetch: fetches are few (the cache answers repeats), and a session must not outlive its loop.
        connector = aiohttp.TCPConnector(resolver=_guard(self.settings.allow), use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
            return await self._follow(uri, session)

    async def _follow(self, uri: str, session: Any) -> tuple[bytes, str]:
        import aiohttp

        url = uri
        for _ in range(self.settings.max_redirects + 1):
            self._check_url(url)
            try:
                async with session.get(url, allow_redirects=False) as answer:
                    if answer.status in (301, 302, 303, 307, 308) and "Location" in answer.headers:
                        url = urljoin(url, answer.headers["Location"])
                        continue
                    if answer.status != 200:
                        raise MediaError(f"{uri}: HTTP {answer.status} from {urlsplit(url).netloc}")
                    return await self._body(uri, answer), answer.headers.get("Content-Type", "")
            except aiohttp.ClientError as exc:
                refused = _refused_in(exc)
                if refused is not None:
                    raise MediaError(f"{uri}: refused, {refused} "
                                     "(REWARDKIT_MEDIA_ALLOW_HOSTS lists exceptions)") from None
                raise MediaError(f"{uri}: {type(exc).__name__}: {exc}") from None
        raise MediaError(f"{uri}: more than {self.settings.max_redirects} redirects")

    def _check_url(self, url: str) -> None:
        """A redirect's scheme, and an IP literal's address (aiohttp does not resolve those)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MediaError(f"{url}: a redirect may lead only to an http(s) URL")
        allow = self.settings.allow
        if allow.allows_host(parts.hostname):
            return
        why = refusal(parts.hostname, allow)
        if why is not None and not why.endswith("is not an IP address"):
            raise MediaError(f"{url}: refused, {why} (REWARDKIT_MEDIA_ALLOW_HOSTS lists exceptions)")

    async def _body(self, uri: str, answer: Any) -> bytes:
        limit = int(self.settings.max_mb * _MB)
        declared = answer.content_length
        if declared is not None and declared > limit:
            raise self._too_large(uri, f"Content-Length says {declared:,}")
        body = bytearray()
        async for chunk in answer.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:  # whatever Content-Length said
                raise self._too_large(uri, f"more than {limit:,}")
        return bytes(body)

    def _read_gcs(self, uri: str) -> tuple[bytes, str]:
        bucket, _, name = uri[len("gs://"):].partition("/")
        client = self._gcs_client()
        from google.api_core import exceptions

        try:
            blob = client.bucket(bucket).get_blob(name)
            if blob is None:
                raise MediaError(f"{uri}: no such object")
            if blob.size is not None and blob.size > self.settings.max_mb * _MB:
                raise self._too_large(uri, f"{blob.size:,}")
            body = blob.download_as_bytes(timeout=self.settings.timeout)
        except exceptions.GoogleAPIError as exc:
            raise MediaError(f"{uri}: {type(exc).__name__}: {exc}") from None
        if len(body) > self.settings.max_mb * _MB:
            raise self._too_large(uri, f"{len(body):,}")
        return body, blob.content_type or ""

    def _gcs_client(self) -> Any:
        with self._lock:
            if self._gcs is None:
                try:
                    from google.cloud import storage
                except ImportError:
                    raise MediaUnsupportedError("gs:// media needs google-cloud-storage: "
                                                "pip install 'rewardkit[gcs]'") from None
                self._gcs = storage.Client()  # Application Default Credentials; STORAGE_EMULATOR_HOST honoured
            return self._gcs

    def _read_file(self, uri: str) -> tuple[bytes, str]:
        root = self.settings.file_root
        if not root:
            raise MediaUnsupportedError(f"{uri}: file:// media is read only when REWARDKIT_MEDIA_FILE_ROOT "
                                        "names a folder "
                                        "(local replay)")
        path = Path(unquote(urlsplit(uri).path)).resolve()
        if not path.is_relative_to(Path(root).resolve()):
            raise MediaError(f"{uri}: outside REWARDKIT_MEDIA_FILE_ROOT ({root})")
        try:
            if path.stat().st_size > self.settings.max_mb * _MB:
                raise self._too_large(uri, f"{path.stat().st_size:,}")
            return path.read_bytes(), ""
        except OSError as exc:
            raise MediaError(f"{uri}: {exc.strerror or exc}") from None

    # ---- a request's samples --------------------------------------------------------

    async def prepare(self, samples: Sequence[Sample]) -> tuple[list[Sample], list[MediaError | None]]:
        """Every sample with its media's bytes in place, and per sample the error that stops it (or None).

        The distinct media of the whole request are fetched once, together, within `request_timeout`
        and `request_bytes`."""
        wanted: dict[Media, None] = {}
        for sample in samples:
            for media in sample.media:
                if media.data is None and media.uri:
                    wanted.setdefault(media)
        if not wanted:
            return list(samples), [None] * len(samples)
        results = await self._fetch_all(list(wanted))
        fetched = dict(zip(wanted, results, strict=True))
        total = sum(len(m.data or b"") for m in fetched.values() if isinstance(m, Media))
        over = None
        if total > self.settings.request_mb * _MB:
            over = MediaTooLargeError(f"the request's media add up to {total:,} bytes, over the per-request limit of "
                                      f"{self.settings.request_mb:g} MB (REWARDKIT_MEDIA_REQUEST_MB)")
        ready: list[Sample] = []
        errors: list[MediaError | None] = []
        for sample in samples:
            error = over or next((r for m in sample.media if isinstance(r := fetched.get(m), MediaError)), None)
            errors.append(error)
            ready.append(sample if error else _with_media(sample, fetched))
        return ready, errors

    async def _fetch_all(self, media: list[Media]) -> list[Media | MediaError]:
        async def one(item: Media) -> Media | MediaError:
            try:
                return await self.fetch(item)
            except MediaError as exc:
                return exc

        try:
            return list(await asyncio.wait_for(asyncio.gather(*(one(m) for m in media)),
                                               self.settings.request_timeout))
        except (asyncio.TimeoutError, TimeoutError):
            error = MediaError(f"the request's {len(media)} media were not all fetched within "
                               f"{self.settings.request_timeout:g} s (REWARDKIT_MEDIA_REQUEST_TIMEOUT)")
            return [error] * len(media)


def _with_media(sample: Sample, fetched: Mapping[Media, Media | MediaError]) -> Sample:
    def swap(message: Message) -> Message:
        if not message.media:
            return message
        media = tuple(m2 if isinstance(m2 := fetched.get(m, m), Media) else m for m in message.media)
        return dataclasses.replace(message, media=media)

    prompt = tuple(swap(m) for m in sample.prompt)
    trajectory = tuple(swap(m) for m in sample.trajectory)
    return dataclasses.replace(sample, prompt=prompt, trajectory=trajectory)


_default: Fetcher | None = None
_default_lock = threading.Lock()


def default_fetcher() -> Fetcher:
    """The process's fetcher, from REWARDKIT_MEDIA_* on first use (`configure` replaces it)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Fetcher(settings_from())
        return _default


def configure(settings: FetchSettings | None = None, **overrides: Any) -> Fetcher:
    """Replace the process's fetcher (its cache starts empty): `configure(allow_hosts="127.0.0.1")`."""
    global _default
    fetcher = Fetcher(dataclasses.replace(settings or settings_from(), **overrides))
    with _default_lock:
        _default = fetcher
    return fetcher

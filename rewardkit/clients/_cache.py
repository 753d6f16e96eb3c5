"""A judge's caches: this process's memory, a folder on disk for replays, and Redis for every instance.

Memory is an LRU (cachetools' LRUCache) of `MEMORY_CACHE_SIZE` replies. The disk cache is a
diskcache `Cache` (SQLite: safe across the server's processes and a replay's), bounded to
`DISK_CACHE_MB` and culling the least recently stored verdicts past it. Disk and Redis hold a
reply as JSON (`encode` / `decode`), never a pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Mapping, Sequence

MEMORY_CACHE_SIZE = 100_000  # verdicts kept in memory per judge; a GRPO step is a few thousand
DISK_CACHE_MB = 1024.0  # a verdict is ~1 KB: a million of them before the oldest go


def cache_key(provider: str, model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
              draw: int) -> str:
    """The cache key: provider, model, rendered messages (media parts' data URIs or URLs included), request
    parameters, and which of N draws this is.

    The provider is part of it: two model APIs may answer to the same model name differently."""
    blob = json.dumps([provider, model, [dict(m) for m in messages], dict(params), draw], sort_keys=True,
                      ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class DiskCache:
    """Verdicts in a folder, bounded in size; a broken or full disk costs the cache, never the verdict."""

    def __init__(self, folder: str | os.PathLike[str], size_mb: float = DISK_CACHE_MB) -> None:
        import sqlite3  # here, not at import: only a judge with a cache folder pays for them

        import diskcache

        self._errors: tuple[type[BaseException], ...] = (OSError, sqlite3.Error, diskcache.Timeout)
        self.store = diskcache.Cache(os.fspath(folder), size_limit=int(size_mb * 1024 * 1024))

    def get(self, key: str) -> bytes | None:
        try:
            found = self.store.get(key)
        except self._errors:
            return None
        return found if isinstance(found, bytes) else None

    def put(self, key: str, value: bytes) -> None:
        try:
            self.store.set(key, value)
        except self._errors:
            pass

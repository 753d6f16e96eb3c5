"""Prometheus metrics of the judge clients, in one registry per process.

Judges are made by reward modules, before any app exists, and serve every app of the
process; `_metrics.Metrics` adds this registry to what `GET /metrics` shows.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# A judge answers in tens of milliseconds (a local model, cached prefix) to minutes (a loaded hosted one).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

REGISTRY = CollectorRegistry()

REQUESTS = Counter("rewardkit_judge_requests", "Judge HTTP attempts, by judge and result (ok, status code, error kind)",
                   ["judge", "result"], registry=REGISTRY)
TOKENS = Counter("rewardkit_judge_tokens", "Tokens the judge reported using, by kind (prompt, completion)",
                 ["judge", "kind"], registry=REGISTRY)
LATENCY = Histogram("rewardkit_judge_request_duration_seconds", "One judge HTTP attempt, sent to answered",
                    ["judge"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
RETRIES = Counter("rewardkit_judge_retries", "Judge requests asked again, by reason", ["judge", "reason"],
                  registry=REGISTRY)
CACHE_HITS = Counter("rewardkit_judge_cache_hits", "Judge verdicts served without a request, by where from",
                     ["judge", "source"], registry=REGISTRY)
FAILURES = Counter("rewardkit_judge_failures", "Judge calls that ended without a verdict", ["judge"],
                   registry=REGISTRY)
IN_FLIGHT = Gauge("rewardkit_judge_requests_in_flight", "Judge HTTP requests sent and not yet answered", ["judge"],
                  registry=REGISTRY)
REDIS_FALLBACKS = Counter("rewardkit_judge_redis_fallbacks",
                          "Shared-limit and shared-cache operations done per instance because Redis failed or was "
                          "down, by judge and operation (requests, tokens, concurrency, cache)",
                          ["judge", "operation"], registry=REGISTRY)
REDIS_UP = Gauge("rewardkit_judge_redis_up", "1 while the judge's Redis answers, 0 while its limits and cache are per "
                 "instance", ["judge"], registry=REGISTRY)

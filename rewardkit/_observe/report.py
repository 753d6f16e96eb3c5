"""`rewardkit report`: a recorded run as one self-contained HTML page of charts.

Drawn with plotly (the `report` extra), its JavaScript inlined once, so the
file opens offline and can be attached to a bug. Per reward and per component:
the score distribution; mean score and failure rate by step; the share of prompt
groups whose responses all scored the same (GRPO gets no advantage from them)
by step; score against response length, with Pearson's r; failure codes over
time; a few example responses per score bucket with the reason. Per reward:
latency percentiles.
"""

from __future__ import annotations

import html
import math
import random
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Dict, Sequence

from .._errors import RewardkitError
from .runs import NO_STEP, Example, Run, Series

# A figure as plotly.js takes it ({"data": [traces], "layout": {...}}): plain dicts, not plotly's graph objects,
# whose validation of every property cost 5 s for 20 charts (bench/report_bench.py).
Figure = Dict[str, Any]

EXACT_VALUES = 30  # at most this many distinct scores: one bar each; else BINS bins
BINS = 40
SCATTER_POINTS = 3000  # points drawn of score vs length (r is computed on all of them)
TIME_BUCKETS = 60
EXAMPLE_BUCKETS = 5
PERCENTILES = (50, 90, 99)
CHART_HEIGHT = 320
FAILED_COLOUR = "#d62728"


class ReportError(RewardkitError):
    """The report cannot be drawn (plotly missing)."""


def _plotly() -> Any:
    try:
        import plotly
    except ImportError:
        raise ReportError("the report draws its charts with plotly: pip install 'rewardkit[report]'") from None
    return plotly


def _step_label(step: int) -> str:
    return "no step" if step == NO_STEP else str(step)


def _steps(series: Series) -> list[int]:
    return sorted(series.steps, key=lambda s: (s == NO_STEP, s))


@lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    import plotly.io as pio

    template: dict[str, Any] = pio.templates["plotly_white"].to_plotly_json()
    return template


def figure(traces: list[dict[str, Any]], title: str, x: str, y: str, **layout: Any) -> Figure:
    base = {"title": {"text": title, "font": {"size": 14}}, "height": CHART_HEIGHT, "template": _template(),
            "margin": {"l": 60, "r": 30, "t": 50, "b": 50}, "legend": {"orientation": "h", "y": -0.25},
            "xaxis": {"title": {"text": x}}, "yaxis": {"title": {"text": y}}}
    for key, value in layout.items():
        known = base.get(key)
        base[key] = {**known, **value} if isinstance(value, dict) and isinstance(known, dict) else value
    return {"data": traces, "layout": base}


def distribution(series: Series) -> Figure:
    values = series.scores
    distinct = sorted(set(values)) if len(values) else []
    if len(distinct) <= EXACT_VALUES:
        counts = {v: 0 for v in distinct}
        for v in values:
            counts[v] += 1
        bar: dict[str, Any] = {"type": "bar", "x": [f"{v:g}" for v in distinct], "y": list(counts.values()),
                               "name": "responses"}
    else:
        low, high = distinct[0], distinct[-1]
        width = (high - low) / BINS
        bins = [0] * BINS
        for v in values:
            bins[min(BINS - 1, int((v - low) / width))] += 1
        bar = {"type": "bar", "x": [low + width * (i + 0.5) for i in range(BINS)], "y": bins, "width": width,
               "name": "responses"}
    failed = sum(c.samples - c.scored for c in series.steps.values())
    title = f"Score distribution ({len(values):,} scored" + (f", {failed:,} failed without a score)" if failed else ")")
    return figure([bar], title, "score", "responses",
                  xaxis={"type": "category"} if len(distinct) <= EXACT_VALUES else {})


def by_step(series: Series) -> Figure:
    steps = _steps(series)
    labels = [_step_label(s) for s in steps]
    counts = [series.steps[s] for s in steps]
    mean = {"type": "scatter", "x": labels, "y": [c.mean for c in counts], "mode": "lines+markers",
            "name": "mean score"}
    failed = {"type": "scatter", "x": labels, "y": [100 * c.failed / c.samples for c in counts], "yaxis": "y2",
              "mode": "lines+markers", "name": "failure rate %", "line": {"color": FAILED_COLOUR, "dash": "dot"}}
    return figure([mean, failed], "Mean score and failure rate by step", "step", "mean score",
                  xaxis={"type": "category"},
                  yaxis2={"title": {"text": "failed %"}, "overlaying": "y", "side": "right", "rangemode": "tozero"})


def zero_variance(series: Series) -> Figure:
    shares = series.zero_variance
    same = sum(s for s, _ in shares.values())
    total = sum(t for _, t in shares.values())
    overall = f"{100 * same / total:.1f}% of {total:,} groups overall" if total else "no group of 2+ responses"
    bar = {"type": "bar", "x": [_step_label(s) for s in shares], "y": [100 * s / t for s, t in shares.values()],
           "customdata": [[s, t] for s, t in shares.values()], "name": "all the same",
           "hovertemplate": "step %{x}: %{customdata[0]} of %{customdata[1]} groups<extra></extra>"}
    return figure([bar], f"Groups whose responses all scored the same (no GRPO advantage): {overall}", "step",
                  "% of groups", xaxis={"type": "category"}, yaxis={"range": [0, 100]})


def correlation_text(series: Series) -> str:
    r = series.length_correlation
    return "r = n/a (no variation)" if r is None else f"r = {r:.3f}"


def versus_length(series: Series) -> Figure:
    n = len(series.scores)
    picked = range(n) if n <= SCATTER_POINTS else sorted(random.Random(0).sample(range(n), SCATTER_POINTS))
    xs = [series.lengths[i] for i in picked]
    ys = [series.scores[i] for i in picked]
    points = {"type": "scatter", "x": xs, "y": ys, "mode": "markers", "marker": {"size": 5, "opacity": 0.5},
              "name": "response"}
    shown = "" if n <= SCATTER_POINTS else f"; {SCATTER_POINTS:,} of {n:,} drawn"
    return figure([points], f"Score vs response length: Pearson {correlation_text(series)}{shown}",
                  "response length (characters)", "score")


def failures_over_time(series: Series) -> Figure:
    times = [t for t, _ in series.failures if not math.isnan(t)]
    if not times:
        return figure([], "Failure codes over time: none", "time (UTC)", "failures",
                      annotations=[{"text": "no failures", "showarrow": False, "font": {"size": 16}}])
    start, end = min(times), max(times)
    width = max((end - start) / TIME_BUCKETS, 1.0)
    buckets = int((end - start) / width) + 1
    by_code: dict[str, list[int]] = {}
    for at, code in series.failures:
        if not math.isnan(at):
            by_code.setdefault(code, [0] * buckets)[min(buckets - 1, int((at - start) / width))] += 1
    xs = [datetime.fromtimestamp(start + width * i, timezone.utc).isoformat() for i in range(buckets)]
    bars = [{"type": "bar", "x": xs, "y": counts, "name": code} for code, counts in sorted(by_code.items())]
    return figure(bars, f"Failure codes over time ({len(series.failures):,} failures)", "time (UTC)", "failures",
                  barmode="stack", xaxis={"type": "date"})


def latency(run: Run) -> Figure:
    rewards = sorted(run.latency_ms)
    ordered = {r: sorted(v for v in run.latency_ms[r] if not math.isnan(v)) for r in rewards}
    bars = [{"type": "bar", "x": rewards, "y": [percentile(ordered[r], p) for r in rewards],
             "name": "max" if p == 100 else f"p{p}"} for p in (*PERCENTILES, 100)]
    return figure(bars, "Request latency percentiles, per reward", "reward", "milliseconds", barmode="group")


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---- examples ---------------------------------------------------------------

def _buckets(series: Series) -> list[tuple[str, list[Example]]]:
    """Examples in EXAMPLE_BUCKETS score ranges, then one bucket per failure code."""
    scored = {k: v for k, v in series.examples.items() if not isinstance(k, tuple)}
    out: list[tuple[str, list[Example]]] = []
    if scored:
        low, high = min(scored), max(scored)
        width = (high - low) / EXAMPLE_BUCKETS or 1.0
        ranges: list[list[Example]] = [[] for _ in range(EXAMPLE_BUCKETS)]
        for key in sorted(scored):
            ranges[min(EXAMPLE_BUCKETS - 1, int((key - low) / width))].extend(scored[key])
        for i, examples in enumerate(ranges):
            if examples:
                top = low + width * (i + 1) if i < EXAMPLE_BUCKETS - 1 else high
                out.append((f"score {low + width * i:.3g} to {top:.3g}", examples))
    for key, examples in sorted((k, v) for k, v in series.examples.items() if isinstance(k, tuple)):
        out.append((f"failed: {key[1]}", examples))
    return out


def _example_html(example: Example) -> str:
    score = "no score" if example.score is None else f"{example.score:g}"
    code = f" · {html.escape(example.code)}" if example.code else ""
    return (f"<details class=example><summary>{score}{code} · step {_step_label(example.step)} · "
            f"{example.chars:,} chars · <span class=reason>{html.escape(example.reason[:200])}</span></summary>"
            f"<p class=reason>{html.escape(example.reason)}</p><pre>{html.escape(example.response)}</pre>"
            f"<p class=where>{html.escape(example.where)}</p></details>")


def examples_html(series: Series, per_bucket: int = 3) -> str:
    parts = []
    for title, examples in _buckets(series):
        step = max(1, len(examples) // per_bucket)
        shown = examples[::step][:per_bucket]
        parts.append(f"<details class=bucket><summary>{html.escape(title)} ({len(shown)} examples)</summary>"
                     + "".join(_example_html(e) for e in shown) + "</details>")
    return "<div class=examples><h3>Example responses by score</h3>" + "".join(parts) + "</div>"


# ---- the page ---------------------------------------------------------------

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px} h2{font-size:18px;border-top:1px solid #ddd;padding-top:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(600px,1fr));gap:8px}
.facts td{padding:2px 12px 2px 0} .examples pre{white-space:pre-wrap;background:#f6f6f6;padding:8px}
details.bucket{margin:4px 0} details.example{margin:4px 16px} .reason{color:#555} .where{color:#999;font-size:12px}
"""


class Page:
    """Charts, each in its own div, and the HTML around them."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.charts = 0

    def chart(self, figure: Figure) -> None:
        import plotly.io as pio

        self.charts += 1
        self.parts.append(pio.to_html(figure, full_html=False, include_plotlyjs=False, div_id=f"chart-{self.charts}",
                                      config={"displaylogo": False, "responsive": True}, validate=False))

    def text(self, fragment: str) -> None:
        self.parts.append(fragment)


def _facts(run: Run) -> str:
    samples = sum(c.samples for s in run.series.values() if "/" not in s.name for c in s.steps.values())
    rows = [("requests", f"{run.records:,}"), ("samples", f"{samples:,}"), ("from", run.first), ("to", run.last),
            ("files", ", ".join(run.files[:5]) + (f" and {len(run.files) - 5} more" if len(run.files) > 5 else ""))]
    return "<table class=facts>" + "".join(f"<tr><td>{k}</td><td>{html.escape(v)}</td></tr>" for k, v in rows) + \
        "</table>"


def _series_section(page: Page, series: Series) -> None:
    failed = sum(c.failed for c in series.steps.values())
    total = sum(c.samples for c in series.steps.values())
    kind = "component" if "/" in series.name else "reward"
    page.text(f"<section class=series data-series='{html.escape(series.name)}'><h2>{kind} "
              f"{html.escape(series.name)}</h2><p>{total:,} samples, {failed:,} failed "
              f"({100 * failed / max(1, total):.1f}%); score vs length: <b class=correlation>"
              f"{correlation_text(series)}</b></p><div class=grid>")
    for draw in (distribution, by_step, zero_variance, versus_length, failures_over_time):
        page.chart(draw(series))
    page.text("</div>" + examples_html(series) + "</section>")


def render(run: Run, title: str = "rewardkit run report") -> str:
    """The whole HTML page."""
    plotly = _plotly()
    from plotly.offline import get_plotlyjs

    page = Page()
    page.text(f"<h1>{html.escape(title)}</h1>{_facts(run)}<h2>Latency</h2>")
    page.chart(latency(run))
    for name in sorted(run.series, key=lambda n: (n.split("/")[0], "/" in n, n)):
        _series_section(page, run.series[name])
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<meta name=generator content='rewardkit report, plotly {plotly.__version__}'><style>{STYLE}</style>"
            f"<script>{get_plotlyjs()}</script></head><body data-charts={page.charts}>"
            + "".join(page.parts) + "</body></html>")

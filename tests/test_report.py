"""`rewardkit report`: a recorded run drawn as one offline HTML page, checked in headless Chromium."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import rewardkit
from rewardkit._cli.main import main as cli
from rewardkit._observe.runs import read_run
from rewardkit._settings import Settings
from rewardkit.contracts import dashscope, vertex

from .browser import browser, open_page
from .conftest import EXAMPLE_REWARDS

# A constructed run whose answers are known: contains_reference scores 1 when "Paris" is in the response.
# Each step has 5 prompts with 4 responses each; at step s, the first s-1 prompts get 4 responses that all
# score the same (zero variance), the others a mix.
STEPS, PROMPTS = 4, 5
SAME_RIGHT = ["Paris", "Paris it is", "It's Paris", "Paris, France, the capital city"]
SAME_WRONG = ["Rome", "Lyon maybe", "Berlin", "Madrid"]
MIXED = ["Paris", "Rome, I am quite sure, after thinking about it", "Paris for sure", "no idea whatsoever"]


def responses(step: int, prompt: int) -> list[str]:
    if prompt < step - 1:
        return SAME_RIGHT if prompt % 2 == 0 else SAME_WRONG
    return MIXED


def expected_zero_variance() -> list[float]:
    return [100 * len([p for p in range(PROMPTS) if len({"Paris" in r for r in responses(s, p)}) == 1]) / PROMPTS
            for s in range(1, STEPS + 1)]


def expected_correlation() -> float:
    texts = [r for s in range(1, STEPS + 1) for p in range(PROMPTS) for r in responses(s, p)]
    return statistics.correlation([len(t) for t in texts], [float("Paris" in t) for t in texts])


def record_run(folder: Path) -> None:
    """The constructed run through the served app, recorded: Vertex single calls (one prompt's responses
    grouped by the record's prompt key) plus one failing reward and a DashScope group per step."""
    settings = Settings(workers=0, record=str(folder))
    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS, settings=settings)) as client:
        for step in range(1, STEPS + 1):
            for prompt in range(PROMPTS):
                for text in responses(step, prompt):
                    body = vertex.request(text, reference="Paris", prompt=f"Question {prompt}?", step=step)
                    assert client.post("/rewards/contains_reference", json=body).status_code == 200
            client.post("/rewards/broken", json=vertex.request("x", reference="Paris", step=step))
            group = dashscope.group_request(MIXED, reference="Paris", prompt="Group question?", request_metadata={
                "job_id": "j", "sample_id": f"s{step}", "rollout_id": "r", "attempt_id": "a"})
            client.post("/rewards/mean_mix/api/v1", json=group)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    record_run(folder / "records")
    out = folder / "report.html"
    assert cli(["report", str(folder / "records"), "--out", str(out)]) == 0
    return out


def test_the_run_counts_zero_variance_groups_and_the_length_correlation(report):
    run = read_run([report.parent / "records"])
    series = run.series["contains_reference"]
    assert series.zero_variance == {1: (0, 5), 2: (1, 5), 3: (2, 5), 4: (3, 5)}
    assert series.length_correlation == pytest.approx(expected_correlation())
    assert [run.series["broken"].steps[s].failed for s in range(1, STEPS + 1)] == [1] * STEPS
    assert set(run.series) == {"contains_reference", "broken", "mean_mix", "mean_mix/contains_reference",
                               "mean_mix/length_ok"}
    assert run.records == STEPS * (PROMPTS * 4 + 2)


def test_the_report_is_one_file_that_loads_nothing_from_the_network(report):
    page = report.read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert page.count("Plotly.newPlot(") == int(re.search(r"data-charts=(\d+)", page).group(1))


def test_every_chart_draws_in_chromium_without_a_console_error(report, tmp_path):
    with browser() as page:
        open_page(page, report)
        charts = int(page.evaluate("document.body.dataset.charts"))
        drawn = page.evaluate("""[...document.querySelectorAll('.js-plotly-plot')]
            .filter(d => d.querySelector('svg.main-svg') && d._fullLayout).length""")
        page.screenshot(tmp_path / "report.png")
        assert charts == 1 + 5 * 5  # latency, then 5 per reward and component (5 of them)
        assert drawn == charts
        assert page.problems == []
    assert (tmp_path / "report.png").stat().st_size > 10_000  # the artefact: kept under pytest's tmp dir


def test_the_zero_variance_share_and_the_length_correlation_are_shown_as_computed_by_hand(report):
    with browser() as page:
        open_page(page, report)
        shown = page.evaluate("""(() => {
            const section = document.querySelector("section[data-series='contains_reference']");
            const charts = [...section.querySelectorAll('.js-plotly-plot')];
            const title = d => d._fullLayout.title.text;
            const zero = charts.find(d => title(d).startsWith('Groups whose'));
            const length = charts.find(d => title(d).startsWith('Score vs response length'));
            return {zero: zero.data[0].y, steps: zero.data[0].x,
                    zeroTitle: zero.querySelector('.gtitle').textContent,
                    lengthTitle: length.querySelector('.gtitle').textContent,
                    correlation: section.querySelector('.correlation').textContent};
        })()""")
    r = f"r = {expected_correlation():.3f}"
    assert shown["steps"] == ["1", "2", "3", "4"]
    assert shown["zero"] == pytest.approx(expected_zero_variance())  # [0, 20, 40, 60]
    assert "30.0% of 20 groups overall" in shown["zeroTitle"]
    assert shown["correlation"] == r and r in shown["lengthTitle"]


def test_the_browser_check_catches_a_page_that_throws(tmp_path):
    """The checks above can fail: a page with a script error is caught."""
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('bad'); undefinedFunction();</script></body></html>")
    with browser() as page:
        open_page(page, broken)
        page.evaluate("1")
    assert any("bad" in p for p in page.problems) and any("undefinedFunction" in p for p in page.problems)


def test_report_refuses_a_file_that_is_not_a_recorded_run(tmp_path, capsys):
    fixture = tmp_path / "cases.reward.jsonl"
    fixture.write_text(json.dumps({"request": vertex.request("Paris", reference="Paris"), "expect": {"score": 1}}))
    assert cli(["report", str(fixture), "--out", str(tmp_path / "r.html")]) == 2
    assert f"{fixture}:1: not a recorded request" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()

"""deploy/dashboards: the Grafana and Cloud Monitoring dashboards load, and every metric they query is one
rewardkit's /metrics serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import rewardkit
from rewardkit._settings import Settings
from rewardkit.contracts import vertex

from .conftest import EXAMPLE_REWARDS

DASHBOARDS = Path(__file__).resolve().parent.parent / "deploy" / "dashboards"
METRIC = re.compile(r"\brewardkit_[a-z_]+\b")
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "gauge": ("",)}
# What an operator looks at first, each on both dashboards.
MUST_SHOW = {"rewardkit_requests_total", "rewardkit_reward_errors_total", "rewardkit_request_duration_seconds_bucket",
             "rewardkit_calls_waiting", "rewardkit_worker_restarts_total", "rewardkit_records_dropped_total"}


@pytest.fixture(scope="module")
def served_metrics(tmp_path_factory) -> set[str]:
    """Every sample name the app's /metrics can serve: worker pool and recorder on, after some traffic."""
    settings = Settings(workers=1, record=str(tmp_path_factory.mktemp("records")))
    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS, settings=settings)) as client:
        client.post("/rewards/contains_reference", json=vertex.request("Paris", reference="Paris"))
        client.post("/rewards/broken", json=vertex.request("x", reference="Paris"))
        text = client.get("/metrics").text
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def queries_grafana() -> list[str]:
    dashboard = json.loads((DASHBOARDS / "grafana.json").read_text())
    assert dashboard["schemaVersion"] >= 36 and dashboard["uid"] and dashboard["title"]
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    cells = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24
        cells |= {(grid["x"], grid["y"])}
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
    assert len(cells) == len(panels)  # no two panels on the same spot
    return [target["expr"] for panel in panels for target in panel["targets"]]


def queries_cloud_monitoring() -> list[str]:
    # The API's own message types (google-cloud-monitoring-dashboards): an unknown or misspelt field fails here.
    from google.cloud.monitoring_dashboard_v1.types import Dashboard

    dashboard = Dashboard.from_json((DASHBOARDS / "cloud-monitoring.json").read_text())
    layout = dashboard.mosaic_layout
    for tile in layout.tiles:
        assert tile.x_pos + tile.width <= layout.columns and tile.widget.title
    return [data.time_series_query.prometheus_query for tile in layout.tiles for data in tile.widget.xy_chart.data_sets]


@pytest.mark.parametrize("queries", [queries_grafana, queries_cloud_monitoring], ids=["grafana", "cloud-monitoring"])
def test_every_panel_queries_metrics_rewardkit_serves(queries, served_metrics):
    expressions = queries()
    assert expressions and all(expressions)
    for expression in expressions:
        assert expression.count("(") == expression.count(")"), expression
    used = {name for expression in expressions for name in METRIC.findall(expression)}
    assert used - served_metrics == set(), f"not on /metrics: {sorted(used - served_metrics)}"
    assert MUST_SHOW <= used


def test_both_dashboards_show_the_same_panels():
    grafana = json.loads((DASHBOARDS / "grafana.json").read_text())["panels"]
    cloud = json.loads((DASHBOARDS / "cloud-monitoring.json").read_text())["mosaicLayout"]["tiles"]
    assert [p["title"] for p in grafana] == [t["widget"]["title"] for t in cloud]
    for panel, tile in zip(grafana, cloud, strict=True):
        ours = [t["expr"].replace("$__rate_interval", "5m") for t in panel["targets"]]
        assert ours == [d["timeSeriesQuery"]["prometheusQuery"] for d in tile["widget"]["xyChart"]["dataSets"]]

"""The Grafana dashboard's structure: what Grafana needs to load it through the sidecar and
show every panel for any Prometheus data source and any cluster. (Its queries run against a
real Prometheus in test_monitoring_live.py.)"""
import re

import pytest

import monitoring

BOARD = monitoring.dashboard()
PANELS = BOARD["panels"]
QUERY_PANELS = [p for p in PANELS if p["type"] != "row"]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def test_current_schema_and_identity():
    assert BOARD["schemaVersion"] >= 39
    assert BOARD["uid"] == "node-ipam-controller" and BOARD["title"]
    assert "id" not in BOARD or BOARD["id"] is None, "a fixed id would clash with the Grafana it is loaded into"
    assert "__inputs" not in BOARD, "the sidecar does not resolve __inputs; the datasource variable does that"


def test_variables():
    variables = {v["name"]: v for v in BOARD["templating"]["list"]}
    assert set(variables) == {"datasource", "cluster"}
    datasource = variables["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    cluster = variables["cluster"]
    assert cluster["type"] == "query" and cluster["datasource"] == DATASOURCE
    assert cluster["query"]["query"] == cluster["definition"] == "label_values(node_ipam_controller_build_info, cluster)"
    # All must also match series without the label (no CLUSTER_NAME): the regex .*
    assert cluster["includeAll"] is True and cluster["allValue"] == ".*"


def test_panel_ids_unique_and_every_panel_placed():
    ids = [p["id"] for p in PANELS]
    assert len(ids) == len(set(ids))
    for panel in PANELS:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert 0 <= panel["gridPos"]["x"] and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]


def test_no_two_panels_overlap():
    cells = {}
    for panel in PANELS:
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("panel", QUERY_PANELS, ids=lambda p: f"{p['id']}-{p['title']}")
def test_panel_queries_the_selected_datasource_and_cluster(panel):
    assert panel["datasource"] == DATASOURCE
    assert panel["targets"], "no query"
    refs = [t["refId"] for t in panel["targets"]]
    assert len(refs) == len(set(refs))
    for target in panel["targets"]:
        assert target.get("datasource", DATASOURCE) == DATASOURCE
        expr = target["expr"]
        assert expr.strip()
        # Every selector of one of our metrics is narrowed to the selected cluster(s).
        selectors = re.findall(r"\b((?:node_ipam_controller|process)_[a-z_]+)(\{[^}]*\})?", expr)
        assert selectors, expr
        for name, matchers in selectors:
            if "and on" in expr and name == "node_ipam_controller_build_info":
                continue  # the process_* filter joins on the target, whose cluster is already chosen
            assert 'cluster=~"$cluster"' in matchers, f"{name} in {expr!r} ignores $cluster"


def test_rows_hold_no_queries():
    for row in (p for p in PANELS if p["type"] == "row"):
        assert "targets" not in row and row["panels"] == []


def test_issue_panels_present():
    """The panels issue 13 asks for, found by what they query."""
    queries = " ".join(expr for _, _, _, expr in monitoring.dashboard_targets(BOARD))
    for needed in ["node_ipam_controller_leader", "node_ipam_controller_ready", "node_ipam_controller_pool_usage_ratio",
                   "node_ipam_controller_pending_nodes", "histogram_quantile(0.5", "histogram_quantile(0.9,",
                   "histogram_quantile(0.99", "node_ipam_controller_api_requests_total",
                   "node_ipam_controller_api_errors_total", "node_ipam_controller_workqueue_depth",
                   "node_ipam_controller_events_total"]:
        assert needed in queries, needed
    usage = next(p for p in QUERY_PANELS if "node_ipam_controller_pool_usage_ratio" in p["targets"][0]["expr"]
                 and p["type"] == "timeseries")
    steps = [s["value"] for s in usage["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert steps == [None, 0.85, 0.95], "the alert thresholds drawn on pool usage"
    assert "family" in usage["targets"][0]["expr"] and "{{family}}" in usage["targets"][0]["legendFormat"]
    by_verb_code = [t["expr"] for p in QUERY_PANELS for t in p["targets"] if "by (verb, code)" in t["expr"]]
    assert len(by_verb_code) == 2, "requests and errors by verb and code"

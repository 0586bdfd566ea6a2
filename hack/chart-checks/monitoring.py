"""What the monitoring checks share: the shipped rules and dashboard, the metric names their
queries use, the metrics and anchors docs/monitoring.md documents, and Debian's Prometheus."""
import json
import pathlib
import re
import shutil

import yaml

from conftest import ROOT

MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "rules.yaml"
RULES_TEST = MONITORING / "tests" / "rules-test.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
DOC = ROOT / "docs" / "monitoring.md"

# The gauges that exist only while their condition holds (a pool invalid, a range held twice).
CONDITIONAL = {"node_ipam_controller_pool_invalid", "node_ipam_controller_node_podcidr_overlaps"}


def alerts():
    """Every alerting rule of rules.yaml."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard():
    return json.loads(DASHBOARD.read_text())


def dashboard_targets(board=None):
    """(panel id, panel title, refId, expr) of every query of every panel."""
    board = board or dashboard()
    return [(panel["id"], panel["title"], target["refId"], target["expr"])
            for panel in board["panels"] for target in panel.get("targets", [])]


def metric_names(expr):
    """The controller's metric names an expression reads (ours are all prefixed)."""
    return set(re.findall(r"\b((?:node_ipam_controller|process)_[a-zA-Z0-9_]+)\b", expr))


def family(name):
    """A histogram's series name back to its metric (`_bucket`, `_sum`, `_count` dropped)."""
    return re.sub(r"_(bucket|sum|count)$", "", name) if name.endswith(("_bucket", "_sum", "_count")) else name


def grafana_substitute(expr, cluster):
    """A dashboard query as Grafana would send it: $cluster is the regex of the selection
    (".*" for All), the interval macros a window that holds several scrapes."""
    out = (expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")
           .replace("${cluster}", cluster).replace("$cluster", cluster))
    assert "$" not in out, f"a variable the check does not know is left in {out!r}"
    return out


def documented_metrics():
    """Metric names in the first column of docs/monitoring.md's metric tables."""
    names = set()
    for line in DOC.read_text().splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            names |= set(re.findall(r"`((?:node_ipam_controller|process)_[a-z_]+)`", first))
    return names


def github_anchor(heading):
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def doc_anchors():
    return {github_anchor(line.lstrip("#")) for line in DOC.read_text().splitlines() if re.match(r"#{1,6} ", line)}


def prometheus_binaries():
    """(promtool, prometheus): Debian's `prometheus` package, installed when missing."""
    from test_metrics_promtool import promtool  # the one installer of the package
    tool = promtool()
    server = shutil.which("prometheus")
    assert server, "Debian's prometheus package installed no prometheus server"
    return tool, server


def write_rules(path, rules_text, for_duration=None):
    """rules.yaml as given, or with every `for` set to `for_duration` (a test's short window;
    the shipped file is never changed)."""
    if for_duration is not None:
        document = yaml.safe_load(rules_text)
        for group in document["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = for_duration
        rules_text = yaml.safe_dump(document, sort_keys=False)
    pathlib.Path(path).write_text(rules_text)
    return path

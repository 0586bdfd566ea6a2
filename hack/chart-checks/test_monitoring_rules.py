"""The alert rules through Prometheus' own tools: `promtool check rules` on the shipped file
and on the chart's rendered PrometheusRule, `promtool test rules` on
deploy/monitoring/tests/rules-test.yaml, and proof that those tests bite: each mutation of a
threshold, a `for` or a clause of the rules below must make them fail."""
import copy
import pathlib
import subprocess

import pytest
import yaml

import monitoring
from conftest import find, render


def run_promtool(*args, cwd=None):
    tool, _ = monitoring.prometheus_binaries()
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_promtool_check_rules():
    run = run_promtool("check", "rules", str(monitoring.RULES))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"SUCCESS: {len(monitoring.alerts())} rules found" in run.stdout


def test_promtool_check_rules_of_the_chart(tmp_path):
    rendered = render({"monitoring": {"prometheusRule": {"enabled": True,
                                                         "runbookBaseURL": "https://wiki.example.com/ipam"}}})
    spec = find(rendered, "PrometheusRule")["spec"]
    path = tmp_path / "chart-rules.yaml"
    path.write_text(yaml.safe_dump(spec))
    run = run_promtool("check", "rules", str(path))
    assert run.returncode == 0, run.stdout + run.stderr
    urls = [rule["annotations"]["runbook_url"] for group in spec["groups"] for rule in group["rules"]]
    assert urls and all(url == f"https://wiki.example.com/ipam#{rule['alert'].lower()}"
                        for url, rule in zip(urls, monitoring.alerts()))


def test_promtool_test_rules():
    run = run_promtool("test", "rules", str(monitoring.RULES_TEST))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout + run.stderr


def test_every_alert_is_tested_firing_and_silent():
    """Each alert has a case where it fires and one where it must not (below its threshold,
    inside its `for`, or after it resolved)."""
    fires, silent = set(), set()
    for case in yaml.safe_load(monitoring.RULES_TEST.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in monitoring.alerts()}
    assert names - fires == set(), "never shown to fire"
    assert names - silent == set(), "never shown to stay silent or resolve"


def mutate(name, change):
    def apply(document):
        rule = next(r for g in document["groups"] for r in g["rules"] if r.get("alert") == name)
        change(rule)
    return apply


def replace_in_expr(old, new):
    def change(rule):
        assert old in rule["expr"], f"{old!r} not in {rule['expr']!r}"
        rule["expr"] = rule["expr"].replace(old, new)
    return change


def set_for(duration):
    def change(rule):
        rule["for"] = duration
    return change


# What each case of rules-test.yaml guards: were the rules changed so, a case must fail.
MUTATIONS = {
    "warning at 84 %": mutate("NodeIPAMPoolUsageHigh", replace_in_expr(">= 0.85", ">= 0.84")),
    "critical at 94 %": mutate("NodeIPAMPoolExhausted", replace_in_expr(">= 0.95", ">= 0.94")),
    "exhausted branch dropped": mutate("NodeIPAMPoolExhausted", replace_in_expr(
        "max by (cluster, pool, family, cidr) (node_ipam_controller_pool_free_ranges) == 0",
        "max by (cluster, pool, family, cidr) (node_ipam_controller_pool_free_ranges) < 0")),
    "usage summed over replicas": mutate("NodeIPAMPoolUsageHigh", replace_in_expr("max by", "sum by")),
    "no leader without absent()": mutate("NodeIPAMControllerNoLeader", replace_in_expr(
        "or\nabsent(node_ipam_controller_leader)", "")),
    "no leader after 1m": mutate("NodeIPAMControllerNoLeader", set_for("1m")),
    "not ready after 4m": mutate("NodeIPAMControllerNotReady", set_for("4m")),
    "pending after 4m": mutate("NodeIPAMNodesPending", set_for("4m")),
    "pending summed over replicas": mutate("NodeIPAMNodesPending", replace_in_expr("max by", "sum by")),
    "slow allocation at 10 s": mutate("NodeIPAMAllocationSlow", replace_in_expr("> 5", "> 10")),
    "API errors at 8 %": mutate("NodeIPAMControllerAPIErrors", replace_in_expr("> 0.1", "> 0.08")),
    "duplicate after 1m": mutate("NodeIPAMDuplicatePodCIDR", set_for("1m")),
    "invalid after 6m": mutate("NodeIPAMClusterCIDRInvalid", set_for("6m")),
    "invalid pool not named": mutate("NodeIPAMClusterCIDRInvalid",
                                     lambda rule: rule["annotations"].update(summary="A ClusterCIDR allocates nothing.")),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_rule_tests_catch(tmp_path, mutation):
    document = yaml.safe_load(monitoring.RULES.read_text())
    original = copy.deepcopy(document)
    MUTATIONS[mutation](document)
    assert document != original
    (tmp_path / "tests").mkdir()
    monitoring.write_rules(tmp_path / "rules.yaml", yaml.safe_dump(document, sort_keys=False))
    # The test file names its rules as ../rules.yaml: the mutated copy sits there.
    test_file = tmp_path / "tests" / monitoring.RULES_TEST.name
    test_file.write_text(monitoring.RULES_TEST.read_text())
    run = run_promtool("test", "rules", str(test_file))
    assert run.returncode != 0, f"rules-test.yaml still passes with the rules mutated ({mutation})"
    assert "FAILED" in run.stdout + run.stderr, run.stdout + run.stderr

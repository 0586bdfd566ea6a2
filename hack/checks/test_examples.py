"""Every manifest in examples/ is admitted by the CRD: OpenAPI schema and all CEL rules."""
import pytest
import yaml

from conftest import EXAMPLES
from k8s_cel import evaluate
from test_crd_cel import schema_errors

REFERENCE_EXAMPLES = {
    "clustercidr-dual.yaml": ["clustercidr-test"],
    "clustercidr-ipv4.yaml": ["clustercidr-test"],
    "clustercidr-ipv6.yaml": ["clustercidr-test"],
    "clustercidr-different-node-groups.yaml": [
        "controlplane-ipv4-cidr", "worker-xsmall-ipv4-cidr", "worker-small-ipv4-cidr",
        "worker-medium-ipv4-cidr", "worker-large-ipv4-cidr", "worker-xlarge-ipv4-cidr"],
    "clustercidr-different-ip-pools-for-same-node-group.yaml": ["worker-medium-ipv4-cidr", "worker-medium-ipv4-cidr-new"],
}


def documents(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def test_reference_examples_are_present_with_the_same_objects():
    by_name = {p.name: p for p in EXAMPLES}
    for file, names in REFERENCE_EXAMPLES.items():
        assert [d["metadata"]["name"] for d in documents(by_name[file])] == names


def test_extra_examples_show_per_family_host_bits_and_a_large_ipv6_pool():
    specs = [d["spec"] for p in EXAMPLES for d in documents(p)]
    assert any(s.get("perNodeHostBitsIPv6") == 64 and "ipv4" in s and s.get("ipv6", "").endswith("/48") for s in specs)
    assert any(s.get("ipv6", "").endswith("/32") and s["perNodeHostBits"] == 64 for s in specs)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_admitted(schema, path):
    docs = documents(path)
    assert docs
    for doc in docs:
        assert doc["apiVersion"] == "networking.x-k8s.io/v1" and doc["kind"] == "ClusterCIDR"
        assert schema_errors(schema, doc) == []
        evaluation = evaluate(schema, doc)
        assert not evaluation.rejected, [(o.rule.message, o.result, o.detail) for o in evaluation.outcomes if o.result != "pass"]

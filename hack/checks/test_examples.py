"""Every manifest in examples/ is admitted by the CRD: OpenAPI schema and all CEL rules."""
import pytest
import yaml

from conftest import EXAMPLES
from k8s_cel import evaluate
from test_crd_cel import schema_errors

# The reference's five examples (REFERENCE.md §5.4), object by object: our name, the
# reference's name, and the spec, which stays exactly the reference's. Only names differ,
# where the reference reused one name in several files (clustercidr-test three times,
# worker-medium-ipv4-cidr twice), so that `kubectl apply -f examples/` rewrote one pool
# with another (or, with the CRD's immutability rule, failed half-way).
def _group(group, bits, ipv4="10.244.0.0/16"):
    return {"perNodeHostBits": bits, "ipv4": ipv4, "nodeSelector": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": f"platform.node_group/{group}", "operator": "Exists"}]}]}}


REFERENCE_EXAMPLES = {
    "clustercidr-dual.yaml": [
        ("clustercidr-test", "clustercidr-test", {"perNodeHostBits": 8, "ipv4": "10.244.0.0/16", "ipv6": "2001:db8::/110"})],
    "clustercidr-ipv4.yaml": [
        ("clustercidr-test-ipv4", "clustercidr-test", {"perNodeHostBits": 8, "ipv4": "10.244.0.0/16"})],
    "clustercidr-ipv6.yaml": [
        ("clustercidr-test-ipv6", "clustercidr-test", {"perNodeHostBits": 8, "ipv6": "2001:db8::/110"})],
    "clustercidr-different-node-groups.yaml": [
        (name, name, _group(group, bits)) for name, group, bits in [
            ("controlplane-ipv4-cidr", "control-plane", 7), ("worker-xsmall-ipv4-cidr", "worker-xsmall", 6),
            ("worker-small-ipv4-cidr", "worker-small", 7), ("worker-medium-ipv4-cidr", "worker-medium", 8),
            ("worker-large-ipv4-cidr", "worker-large", 9), ("worker-xlarge-ipv4-cidr", "worker-xlarge", 10)]],
    "clustercidr-different-ip-pools-for-same-node-group.yaml": [
        ("worker-medium-pool-1-ipv4-cidr", "worker-medium-ipv4-cidr", _group("worker-medium", 8)),
        ("worker-medium-pool-2-ipv4-cidr", "worker-medium-ipv4-cidr-new", _group("worker-medium", 8, "10.245.0.0/16"))],
}


def documents(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def test_reference_examples_keep_their_specs_and_only_names_change():
    by_name = {p.name: p for p in EXAMPLES}
    for file, expected in REFERENCE_EXAMPLES.items():
        docs = documents(by_name[file])
        assert [d["metadata"]["name"] for d in docs] == [ours for ours, _, _ in expected], file
        assert [d["spec"] for d in docs] == [spec for _, _, spec in expected], file
        for doc in docs:
            assert set(doc) == {"apiVersion", "kind", "metadata", "spec"} and set(doc["metadata"]) == {"name"}, file


def test_reference_examples_under_their_reference_names_are_admitted(schema):
    """The reference's files, names included, still pass our CRD (schema and CEL)."""
    for file, expected in REFERENCE_EXAMPLES.items():
        for _, reference_name, spec in expected:
            doc = {"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDR",
                   "metadata": {"name": reference_name}, "spec": spec}
            assert schema_errors(schema, doc) == [], (file, reference_name)
            assert not evaluate(schema, doc).rejected, (file, reference_name)


def test_example_names_are_distinct_across_files():
    """`kubectl apply -f examples/` must create every pool, never rewrite one with another."""
    seen = {}
    for path in EXAMPLES:
        for doc in documents(path):
            name = doc["metadata"]["name"]
            assert name not in seen, f"ClusterCIDR {name!r} is defined in {seen.get(name)} and {path.name}"
            seen[name] = path.name
    assert len(seen) == sum(len(documents(p)) for p in EXAMPLES) >= 13


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

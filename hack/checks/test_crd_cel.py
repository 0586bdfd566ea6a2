"""Evaluates every CEL rule of the ClusterCIDR CRD against the shared admission fixtures
(Tests/ClusterCIDRAPITests/Fixtures/admission-cases.json, also used by the Swift
validator) and checks the CRD's shape. SCENARIOS.md groups F and G."""
import copy

import jsonschema
import pytest

from conftest import load_cases
from k8s_cel import Rule, evaluate, evaluate_rule, parse_cidr, rules_in, CIDRError

CASES = load_cases()

# REFERENCE §1.3: the reference's rules, verbatim, at the same places.
REFERENCE_RULES = [
    ("spec", 'self.ipv4 != "" || self.ipv6 != ""', "A CIDR must be specified for ipv4 or ipv6."),
    ("spec.ipv4", "oldSelf == self", "IPv4 cannot be changed."),
    ("spec.ipv4", "self == '' || (isCIDR(self) && cidr(self).ip().family() == 4)", "IPv4 must be a valid IPv4 CIDR."),
    ("spec.ipv6", "oldSelf == self", "IPv6 cannot be changed."),
    ("spec.ipv6", "self == '' || (isCIDR(self) && cidr(self).ip().family() == 6)", "IPv6 must be a valid IPv6 CIDR."),
    ("spec.nodeSelector", "oldSelf == self", "NodeSelector cannot be changed."),
    ("spec.perNodeHostBits", "oldSelf == self", "PerNodeHostBits cannot be changed."),
]


def int_format_checker():
    checker = jsonschema.FormatChecker()

    @checker.checks("int32")
    def _int32(value):
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    @checker.checks("int64")
    def _int64(value):
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    return checker


def schema_errors(schema, obj):
    validator = jsonschema.Draft7Validator(schema, format_checker=int_format_checker())
    return sorted(e.message for e in validator.iter_errors(obj))


def ids(cases):
    return [c["name"] for c in cases]


def test_crd_identity(crd):
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == "clustercidrs.networking.x-k8s.io"
    spec = crd["spec"]
    assert spec["group"] == "networking.x-k8s.io" and spec["scope"] == "Cluster"
    assert spec["names"] == {"kind": "ClusterCIDR", "listKind": "ClusterCIDRList", "plural": "clustercidrs",
                             "singular": "clustercidr", "shortNames": ["cc"]}
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["State", "PerNodeHostBits", "IPv4", "IPv6", "IPv4 Used", "IPv6 Used", "Age",
                             "Nodes", "IPv4 Free", "IPv6 Free", "IPv4 Cooling", "IPv6 Cooling", "Message"]
    assert columns["State"]["jsonPath"] == ".status.state"
    assert columns["PerNodeHostBits"]["jsonPath"] == ".spec.perNodeHostBits"
    assert columns["IPv4 Used"]["jsonPath"] == ".status.ipv4.usage"
    assert columns["IPv6 Used"]["jsonPath"] == ".status.ipv6.usage"
    assert columns["Age"] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    # -o wide only (priority 1): everything after Age.
    assert [c.get("priority", 0) for c in columns.values()] == [0] * 7 + [1] * 6
    assert columns["IPv4 Cooling"]["jsonPath"] == ".status.ipv4.cooling"
    assert columns["IPv6 Cooling"]["jsonPath"] == ".status.ipv6.cooling"
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert status["state"]["enum"] == ["Ready", "Exhausted", "Invalid", "Terminating"]
    for family in ("ipv4", "ipv6"):
        counts = status[family]["properties"]
        # allocated counts nodes: an integer; total and free may exceed 2^63: strings, said in the description.
        assert counts["allocated"]["type"] == "integer"
        assert counts["total"]["type"] == counts["free"]["type"] == "string"
        assert "2^63" in counts["total"]["description"]


def test_reference_rules_are_kept_verbatim(schema):
    found = {(r.path, r.rule, r.message) for r in rules_in(schema)}
    for expected in REFERENCE_RULES:
        assert expected in found


def test_structural_shape_matches_the_reference(schema):
    spec = schema["properties"]["spec"]
    assert spec["required"] == ["perNodeHostBits"]
    assert spec["properties"]["perNodeHostBits"]["format"] == "int32"
    selector = spec["properties"]["nodeSelector"]
    assert selector["required"] == ["nodeSelectorTerms"]
    assert selector["x-kubernetes-map-type"] == "atomic"
    terms = selector["properties"]["nodeSelectorTerms"]
    assert terms["x-kubernetes-list-type"] == "atomic"
    for name in ("matchExpressions", "matchFields"):
        requirement = terms["items"]["properties"][name]
        assert requirement["items"]["required"] == ["key", "operator"]
        assert requirement["x-kubernetes-list-type"] == "atomic"


@pytest.mark.parametrize("text,valid", [
    ("10.0.0.0/8", True), ("10.0.0.1/24", True), ("0.0.0.0/0", True), ("::/0", True), ("2001:db8::/32", True),
    ("2001:0db8::/32", True), ("::ffff:10.0.0.0/104", False), ("::ffff:0a00:0/104", False), ("010.0.0.0/8", False),
    ("10.0.0.0/08", False), ("10.0.0.0/+8", False), ("10.0.0.0/33", False), ("::/129", False), ("fe80::1%eth0/64", False),
    ("10.0.0.0", False), ("256.256.256.256/33", False), ("1000.2.0.0/16", False), ("aaaaa:1:1::/112", False),
    ("fd00:2:/112", False), ("::1.2.3.04/128", False), ("test", False), ("", False), ("10.0.0.0/ 8", False),
])
def test_cidr_library_parses_like_go_netip(text, valid):
    try:
        parse_cidr(text)
        parsed = True
    except CIDRError:
        parsed = False
    assert parsed == valid


def test_cidr_library_functions():
    rule = Rule("x", "cidr(self).ip().family() == 4 && cidr(self).prefixLength() == 24 && "
                     "string(cidr(self).ip()) == '10.0.0.1' && string(cidr(self).masked()) == '10.0.0.0/24'", "")
    assert evaluate_rule(rule, "10.0.0.1/24") == ("pass", "")
    assert evaluate_rule(Rule("x", "cidr(self).ip().family() == 6", ""), "2001:db8::/48") == ("pass", "")
    assert evaluate_rule(Rule("x", "cidr(self).prefixLength() == 8", ""), "010.0.0.0/8")[0] == "error"


@pytest.mark.parametrize("case", CASES["valid"], ids=ids(CASES["valid"]))
def test_valid_objects_are_admitted(schema, case):
    assert schema_errors(schema, case["object"]) == []
    evaluation = evaluate(schema, case["object"])
    assert not evaluation.rejected, [(o.rule.message, o.result, o.detail) for o in evaluation.outcomes if o.result != "pass"]


@pytest.mark.parametrize("case", CASES["invalid"], ids=ids(CASES["invalid"]))
def test_invalid_objects_are_rejected_with_exact_messages(schema, case):
    errors = schema_errors(schema, case["object"])
    assert bool(errors) == case["schema"], errors
    evaluation = evaluate(schema, case["object"])
    assert evaluation.failures == sorted(case["cel"])
    if not case["schema"]:  # after a schema error, rules reading the missing field may error too
        assert bool(evaluation.errors) == case["celEvaluationError"], [o.detail for o in evaluation.errors]
    assert errors or evaluation.rejected


@pytest.mark.parametrize("case", CASES["updates"], ids=ids(CASES["updates"]))
def test_updates_run_transition_rules(schema, case):
    assert schema_errors(schema, case["new"]) == []
    evaluation = evaluate(schema, case["new"], case["old"])
    assert evaluation.failures == sorted(case["cel"])
    assert not evaluation.errors


def test_transition_rules_are_skipped_on_create(schema):
    obj = CASES["updates"][1]["new"]
    outcomes = evaluate(schema, obj).outcomes
    assert outcomes and not any(o.rule.is_transition for o in outcomes)


def test_transition_rules_are_skipped_when_the_old_field_is_absent(schema):
    old = copy.deepcopy(CASES["updates"][0]["old"])
    del old["spec"]["ipv6"]
    new = copy.deepcopy(old)
    evaluation = evaluate(schema, new, old)
    assert not any(o.rule.path == "spec.ipv6" for o in evaluation.outcomes)
    assert not evaluation.rejected


def test_every_rule_is_exercised_by_a_passing_and_a_failing_fixture(schema):
    seen = {rule.key: set() for rule in rules_in(schema)}
    for case in CASES["valid"] + CASES["invalid"]:
        for outcome in evaluate(schema, case["object"]).outcomes:
            seen[outcome.rule.key].add(outcome.result)
    for case in CASES["updates"]:
        for outcome in evaluate(schema, case["new"], case["old"]).outcomes:
            seen[outcome.rule.key].add(outcome.result)
    missing = {key: sorted({"pass", "fail"} - results) for key, results in seen.items() if not {"pass", "fail"} <= results}
    assert missing == {}
    assert len(seen) == 22

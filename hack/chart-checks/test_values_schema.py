"""values.schema.json: the defaults pass, wrong types and unknown keys are rejected (by
Helm itself, as `helm install --set` would)."""
import ipaddress
import json
import random
import re

import helm_python as helm
import pytest
import yaml

from conftest import CHART, render

WRONG = [
    {"replicaCount": "2"},
    {"replicaCount": -1},
    {"hostNetwork": "true"},
    {"image": {"tag": ["local"]}},
    {"image": {"pullPolicy": "Sometimes"}},
    {"leaderElection": {"enabled": "yes"}},
    {"leaderElection": {"leaseDuration": 15}},
    {"leaderElection": {"resourceName": "Not_A_Name"}},
    {"workers": 1.5},
    {"workers": 0},
    {"kubeAPI": {"qps": "fast"}},
    {"nodeCIDRMaskSizeIPv4": 33},
    {"nodeCIDRMaskSizeIPv6": "64"},
    {"clusterCIDR": ["10.0.0.0/8"]},
    {"logging": {"format": "xml"}},
    {"logging": {"verbosity": "high"}},
    {"extraArgs": "--workers=2"},
    {"extraArgs": [2]},
    {"tolerations": {"key": "x"}},
    {"resources": "small"},
    {"webserverPort": 70000},
    {"apiServerEndpoint": {"port": "6443"}},
    {"metrics": {"serviceMonitor": {"enabled": "on"}}},
    {"replicas": 2},  # a typo of replicaCount must not pass silently
]


@pytest.mark.parametrize("values", WRONG, ids=[str(v) for v in WRONG])
def test_wrong_values_rejected(values):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(values)
    with pytest.raises(helm.HelmError):
        render(values)


def test_defaults_and_set_strings_pass():
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema({})
        for expression in ["image.tag=local", "replicaCount=2", "leaderElection.enabled=false,replicaCount=1",
                           "extraArgs={--workers=2}", "apiServerEndpoint.host=10.0.0.1,apiServerEndpoint.port=6443",
                           "image.tag=1.2"]:
            chart.validate_schema(helm.parse_set_string(expression))


def schema():
    return json.loads((CHART / "values.schema.json").read_text())


def properties(node, path=""):
    """Every (path, schema) under `properties`, however deep (objects and array items)."""
    for name, sub in node.get("properties", {}).items():
        here = f"{path}.{name}" if path else name
        yield here, sub
        yield from properties(sub, here)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from properties(node[key], f"{path}[]")


def test_every_property_has_a_description():
    found = list(properties(schema()))
    assert len(found) >= 60
    missing = [path for path, sub in found if not str(sub.get("description", "")).strip()]
    assert missing == [], f"values.schema.json properties without a description: {missing}"


def test_every_value_in_values_yaml_is_in_the_schema():
    """The descriptions cover what a user can set: every key of values.yaml has a schema entry."""
    described = {path for path, _ in properties(schema())}

    def keys(values, path=""):
        for name, value in values.items():
            here = f"{path}.{name}" if path else name
            yield here
            if isinstance(value, dict) and value and name not in FREE_FORM:
                yield from keys(value, here)

    # Maps whose keys are the user's or Kubernetes' own (at any depth: the agent has its own).
    FREE_FORM = {"podSecurityContext", "securityContext", "resources", "nodeSelector", "annotations", "labels"}
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert sorted(set(keys(values)) - described) == []


CIDR_VALUES = ["clusterCIDR", "serviceClusterIPRange"]
GOOD_CIDRS = ["", "10.244.0.0/16", "fd00:10:244::/56", "10.244.0.0/16,fd00:10:244::/56", "fd00:10:244::/56,10.244.0.0/16",
              "0.0.0.0/0", "::/0", "10.96.0.0/12", "2001:db8::/110", "1:2:3:4:5:6:7:8/128", "fe80::1/64", "255.255.255.255/32"]
BAD_CIDRS = ["10.244.0.0", "10.244.0.0/33", "10.244.0.0/", "256.0.0.0/8", "10.244.0.0/16,10.245.0.0/16",
             "fd00::/56,fd01::/56", "fd00::/129", "fd00:::/56", "1:2:3:4:5:6:7:8:9/64", "10.244.0.0/16 ",
             " 10.244.0.0/16", "10.244.0.0/16,", "10.244.0.0/16;fd00::/56", "010.244.0.0/16", "10.244.0.0/016",
             "gggg::/64", "10.244.0.0/16,fd00::/56,10.1.0.0/16", "localhost/8", "10.244/16"]


@pytest.mark.parametrize("key", CIDR_VALUES)
def test_cidr_values_are_validated_by_helm(key):
    with helm.Chart.load(str(CHART)) as chart:
        for good in GOOD_CIDRS:
            chart.validate_schema({key: good})
        for bad in BAD_CIDRS:
            with pytest.raises(helm.HelmValuesError):
                chart.validate_schema({key: bad})
                pytest.fail(f"{key}={bad!r} passed the schema")


def python_accepts(value):
    """What a CIDR list means: at most one CIDR per family, each one Python's ipaddress parses
    (host bits may be set, as Go's net.ParseCIDR allows; prefixes written canonically)."""
    if value == "":
        return True
    families = []
    for part in value.split(","):
        address, _, prefix = part.partition("/")
        if not (prefix.isdigit() and prefix == str(int(prefix))):
            return False
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            return False
        if ":" in address and "." in address:  # embedded IPv4 (::ffff:1.2.3.4): not written in kube flags
            return False
        families.append(network.version)
    return len(families) == len(set(families)) <= 2


def test_cidr_pattern_agrees_with_ipaddress():
    """A differential check of the pattern against Python's parser on generated strings:
    valid CIDRs of both families in several spellings, and mutations of them."""
    pattern = re.compile(schema()["properties"]["clusterCIDR"]["pattern"])
    assert pattern.pattern == schema()["properties"]["serviceClusterIPRange"]["pattern"]
    rng = random.Random(20261201)
    cases = set(GOOD_CIDRS) | set(BAD_CIDRS)
    for _ in range(3000):
        v4 = ipaddress.IPv4Address(rng.getrandbits(32))
        words = [rng.choice([0, 0, 0, rng.getrandbits(16)]) for _ in range(8)]
        v6 = ipaddress.IPv6Address(int("".join(f"{w:04x}" for w in words), 16))
        spellings = [f"{v4}/{rng.randint(0, 32)}", f"{v6}/{rng.randint(0, 128)}", f"{v6.exploded}/{rng.randint(0, 128)}",
                     f"{v6}/{rng.randint(0, 128)}".upper()]
        one = rng.choice(spellings)
        cases.add(one)
        cases.add(f"{rng.choice(spellings[:1])},{rng.choice(spellings[1:])}")
        mutated = list(one)
        i = rng.randrange(len(mutated))
        op = rng.randrange(3)
        if op == 0:
            del mutated[i]
        elif op == 1:
            mutated.insert(i, rng.choice("0123456789abcdef:./,"))
        else:
            mutated[i] = rng.choice("0123456789abcdefg:./,")
        cases.add("".join(mutated))
    disagreements = [c for c in sorted(cases) if bool(pattern.fullmatch(c)) != python_accepts(c)]
    assert disagreements == []

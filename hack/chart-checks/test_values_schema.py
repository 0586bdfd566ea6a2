"""values.schema.json: the defaults pass, wrong types and unknown keys are rejected (by
Helm itself, as `helm install --set` would)."""
import helm_python as helm
import pytest

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

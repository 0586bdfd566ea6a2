"""`helm install` of the chart (Helm's Go SDK through helm-python-sdk) into LocalAPIServer:
the objects the API server ends up with carry the values. (Their RBAC is checked against
the controller's requests in test_rbac.py.)"""
import pytest
import yaml

from conftest import CHART, CRD, INSTALLS, NAMESPACE

@pytest.mark.parametrize("case", sorted(INSTALLS))
def test_release_deployed(installed, case):
    assert installed[case]["status"] == "deployed"


def test_crd_installed_from_crds_folder(installed, api):
    crd = api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clustercidrs.networking.x-k8s.io")
    wanted = yaml.safe_load(CRD.read_text())["spec"]
    assert crd["spec"]["names"] == wanted["names"]
    assert [v["schema"] for v in crd["spec"]["versions"]] == [v["schema"] for v in wanted["versions"]]


def deployment(api, namespace, name):
    return api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")


def test_default_deployment_args_and_env(installed, api):
    d = deployment(api, NAMESPACE, "nic-node-ipam-controller")
    c = d["spec"]["template"]["spec"]["containers"][0]
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert c["image"] == f"node-ipam-controller:{app_version}"
    assert "--enable-leader-election=true" in c["args"]
    assert f"--leader-elect-namespace={NAMESPACE}" in c["args"]
    assert "--leader-elect-resource-name=node-ipam-controller" in c["args"]
    assert {e["name"] for e in c["env"]} == {"POD_NAME", "POD_NAMESPACE"}
    assert d["spec"]["template"]["spec"]["hostNetwork"] is True


def test_custom_deployment_args_and_env(installed, api):
    d = deployment(api, "ipam-system", "ipam-node-ipam-controller")
    spec = d["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert d["spec"]["replicas"] == 2
    assert c["image"] == "node-ipam-controller:local"
    for expected in ["--enable-leader-election=true", "--leader-elect-resource-name=ipam-lock",
                     "--leader-elect-namespace=ipam-leases", "--leader-elect-lease-duration=20s"]:
        assert expected in c["args"]
    assert c["args"][-1] == "--workers=3"
    env = {e["name"]: e for e in c["env"]}
    assert env["KUBERNETES_SERVICE_HOST"]["value"] == "172.18.0.2"
    assert env["KUBERNETES_SERVICE_PORT"]["value"] == "6443"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    monitors = api.items("/apis/monitoring.coreos.com/v1/namespaces/ipam-system/servicemonitors")
    assert [m["metadata"]["name"] for m in monitors] == ["ipam-node-ipam-controller"]

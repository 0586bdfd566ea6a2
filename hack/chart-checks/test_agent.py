"""The node agent's DaemonSet (cni.enabled): off by default; host directories, host network,
every taint, least-privilege RBAC and security context; config/agent is the same."""
import helm_python as helm
import pytest
import yaml

from conftest import CHART, ROOT, objects, render

AGENT_DIR = ROOT / "config" / "agent"
ON = {"cni": {"enabled": True}}


def agent_objects(rendered):
    return [d for d in objects(rendered) if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "node-agent"]


def test_off_by_default():
    assert not agent_objects(render())
    assert not [d for d in objects(render()) if d["kind"] == "DaemonSet"]


def test_daemonset_writes_only_the_host_directories_it_needs():
    daemonset = next(d for d in objects(render(ON)) if d["kind"] == "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert {"operator": "Exists"} in pod["tolerations"], "every taint must be tolerated"
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    volumes = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
    assert volumes == {"cni-conf": "/etc/cni/net.d", "cni-bin": "/opt/cni/bin", "node-ipam-state": "/var/lib/node-ipam",
                       "cni-store": "/var/lib/cni/networks"}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    writable = sorted(name for name, m in mounts.items() if not m.get("readOnly"))
    assert writable == ["cni-bin", "cni-conf", "node-ipam-state"]
    args = container["args"]
    assert "--cni-conf-dir=/host/cni-conf" in args and "--pod-cidrs-file=/host/node-ipam/pod-cidrs" in args
    assert "--install-cni-bin" in args and "--cni-bin-dir=/host/cni-bin" in args
    # The store is read at the path the conflist names as dataDir.
    assert "--data-dir=/var/lib/cni/networks/pods" in args and mounts["cni-store"]["mountPath"] == "/var/lib/cni/networks"
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"] and not security.get("capabilities", {}).get("add")
    assert security.get("privileged") is False
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_without_install_there_is_no_bin_mount():
    daemonset = next(d for d in objects(render({"cni": {"enabled": True, "installCNIBin": False}})) if d["kind"] == "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    assert "cni-bin" not in {v["name"] for v in pod["volumes"]}
    assert "--install-cni-bin" not in pod["containers"][0]["args"]


def test_rbac_is_read_only_nodes_for_the_agent_account():
    docs = agent_objects(render(ON))
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    account = next(d for d in docs if d["kind"] == "ServiceAccount")
    daemonset = next(d for d in docs if d["kind"] == "DaemonSet")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "kube-system"}]
    assert daemonset["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    controller_account = next(d for d in objects(render(ON)) if d["kind"] == "ServiceAccount" and d not in docs)
    assert controller_account["metadata"]["name"] != account["metadata"]["name"], "the agent does not get the controller's rights"


def test_image_defaults_to_the_controllers():
    daemonset = next(d for d in objects(render({"cni": {"enabled": True}, "image": {"tag": "local"}})) if d["kind"] == "DaemonSet")
    assert daemonset["spec"]["template"]["spec"]["containers"][0]["image"] == "node-ipam-controller:local"
    daemonset = next(d for d in objects(render({"cni": {"enabled": True, "image": {"repository": "r/agent", "tag": "v2"}}}))
                     if d["kind"] == "DaemonSet")
    assert daemonset["spec"]["template"]["spec"]["containers"][0]["image"] == "r/agent:v2"


def test_config_agent_matches_the_chart():
    chart = agent_objects(render(ON, name="node-ipam-controller"))
    plain = [d for p in sorted(AGENT_DIR.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]

    def strip(d):
        d = yaml.safe_load(yaml.safe_dump(d))
        for k in ("helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"):
            d["metadata"].get("labels", {}).pop(k, None)
        return d
    key = lambda d: (d["kind"], d["metadata"]["name"])
    assert sorted(map(strip, chart), key=key) == sorted(map(strip, plain), key=key)


WRONG = [
    {"cni": {"enabled": "yes"}},
    {"cni": {"mtu": 20}},
    {"cni": {"confDir": "etc/cni"}},
    {"cni": {"conflistName": "10-node-ipam.conf"}},
    {"cni": {"bridge": "a-very-long-bridge-name"}},
    {"cni": {"healthPort": 0}},
    {"cni": {"tolerations": {"operator": "Exists"}}},
    {"cni": {"enable": True}},
]


@pytest.mark.parametrize("values", WRONG, ids=[str(v) for v in WRONG])
def test_wrong_agent_values_rejected(values):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(values)


def test_image_carries_the_agent_and_the_plugin():
    text = (ROOT / "Dockerfile").read_text()
    assert "for product in node-ipam-controller node-ipam-agent node-ipam" in text
    copy = next(l for l in text.splitlines() if l.startswith("COPY --from=build"))
    assert "/out/node-ipam-agent" in copy and "/out/node-ipam " in copy
    daemonset = next(d for d in objects(render(ON)) if d["kind"] == "DaemonSet")
    assert daemonset["spec"]["template"]["spec"]["containers"][0]["command"] == ["/usr/local/bin/node-ipam-agent"]

"""What the rendered chart must contain, for the default values and a non-default set."""
import helm_python as helm
import pytest
import yaml

from conftest import CHART, CUSTOM_LEASE_VALUES, CUSTOM_VALUES, NAMESPACE, find, objects, render


def container(rendered):
    return find(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def memory_mib(quantity):
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1000 / 1024 ** 2, "M": 1000 ** 2 / 1024 ** 2, "G": 1000 ** 3 / 1024 ** 2}
    for suffix, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if str(quantity).endswith(suffix):
            return float(str(quantity)[: -len(suffix)]) * factor
    return float(quantity) / 1024 ** 2


def test_default_render_has_every_object(default_render):
    kinds = sorted(d["kind"] for d in objects(default_render))
    assert kinds == sorted(["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                            "Deployment", "Service"])


def test_default_deployment_bootstrap_settings(default_render):
    pod = find(default_render, "Deployment")["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    tolerated = {t["key"] for t in pod["tolerations"]}
    assert {"node-role.kubernetes.io/control-plane", "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable", "node.kubernetes.io/network-unavailable"} <= tolerated
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert "KUBERNETES_SERVICE_HOST" not in env


def test_default_security_and_resources(default_render):
    pod = find(default_render, "Deployment")["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert memory_mib(c["resources"]["limits"]["memory"]) <= 128
    assert memory_mib(c["resources"]["requests"]["memory"]) <= 128


def test_default_probes_and_port(default_render):
    c = container(default_render)
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["ports"] == [{"name": "http", "containerPort": 8081, "protocol": "TCP"}]
    assert "--webserver-bind-address=:8081" in c["args"]
    service = find(default_render, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_image_tag_defaults_to_app_version(default_render):
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert container(default_render)["image"] == f"node-ipam-controller:{app_version}"


def test_image_tag_local_from_set_string():
    # What `helm install --set image.tag=local` passes.
    values = helm.parse_set_string("image.tag=local")
    assert container(render(values))["image"] == "node-ipam-controller:local"


def test_default_args_follow_values(default_render):
    args = container(default_render)["args"]
    for expected in ["--enable-leader-election=true", "--leader-elect-resource-name=node-ipam-controller",
                     f"--leader-elect-namespace={NAMESPACE}", "--leader-elect-lease-duration=15s",
                     "--leader-elect-renew-deadline=10s", "--leader-elect-retry-period=2s",
                     "--kube-api-qps=20", "--kube-api-burst=30", "--workers=8", "--v=0", "--log-format=text",
                     "--release-cooldown=0s"]:
        assert expected in args
    assert not any(a.startswith("--cluster-cidr") or a.startswith("--service-cluster-ip-range") for a in args)


def test_custom_values(custom_render):
    c = container(custom_render)
    args = c["args"]
    assert "--enable-leader-election=false" in args
    assert not any(a.startswith("--leader-elect-") for a in args)
    assert args[-2:] == ["--workers=3", "--log-format=json"], "extraArgs come last so they win"
    for expected in ["--cluster-cidr=10.244.0.0/16,fd00:10:244::/56", "--service-cluster-ip-range=10.96.0.0/16",
                     "--node-cidr-mask-size-ipv4=25", "--kube-api-qps=50", "--kube-api-burst=100", "--workers=4",
                     "--v=2", "--webserver-bind-address=:9091", "--exclude-cidrs=10.250.0.0/24,10.251.0.0/24,fd00:99::/64",
                     "--release-cooldown=10m"]:
        assert expected in args
    assert c["image"] == "example.com/nic:local"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["KUBERNETES_SERVICE_HOST"] == "172.18.0.2"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"
    pod = find(custom_render, "Deployment")["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is False and pod["dnsPolicy"] == "ClusterFirst"
    kinds = {d["kind"] for d in objects(custom_render)}
    assert "Role" not in kinds and "RoleBinding" not in kinds, "no Lease RBAC without leader election"
    monitor = find(custom_render, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service = find(custom_render, "Service")
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


def test_lease_role_follows_lease_name_and_namespace():
    rendered = render(CUSTOM_LEASE_VALUES)
    role = find(rendered, "Role")
    assert role["metadata"]["namespace"] == "ipam-system"
    named = [r for r in role["rules"] if r.get("resourceNames")]
    assert named and all(r["resourceNames"] == ["ipam-lock"] for r in named)
    assert {"get", "update"} <= {v for r in named for v in r["verbs"]}
    binding = find(rendered, "RoleBinding")
    assert binding["metadata"]["namespace"] == "ipam-system"
    assert binding["subjects"][0]["namespace"] == NAMESPACE
    args = container(rendered)["args"]
    assert "--leader-elect-resource-name=ipam-lock" in args
    assert "--leader-elect-namespace=ipam-system" in args
    # hostNetwork replicas must not share a node (they would clash on the port).
    anti = find(rendered, "Deployment")["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == "kubernetes.io/hostname"


def test_replicas_without_leader_election_are_refused():
    with pytest.raises(helm.HelmError) as error:
        render({"replicaCount": 2, "leaderElection": {"enabled": False}})
    assert "leaderElection.enabled" in str(error.value)


def test_service_monitor_needs_the_service():
    with pytest.raises(helm.HelmError) as error:
        render({"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}})
    assert "metrics.service.enabled" in str(error.value)


def test_existing_service_account():
    rendered = render({"serviceAccount": {"create": False, "name": "mine"}})
    assert "ServiceAccount" not in {d["kind"] for d in objects(rendered)}
    assert find(rendered, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "mine"
    assert find(rendered, "ClusterRoleBinding")["subjects"][0]["name"] == "mine"


def test_notes_render():
    with helm.Chart.load(str(CHART)) as chart:
        notes = chart.render({}, name="nic", namespace=NAMESPACE)["node-ipam-controller/templates/NOTES.txt"]
    assert "--allocate-node-cidrs=false" in notes
    assert "kube-system get lease node-ipam-controller" in notes


def test_crd_copy_is_identical():
    from conftest import CRD
    assert (CHART / "crds" / CRD.name).read_bytes() == CRD.read_bytes(), \
        "charts/node-ipam-controller/crds/ must be a byte-for-byte copy of config/crd/ (cp config/crd/*.yaml charts/node-ipam-controller/crds/)"
    assert sorted(p.name for p in (CHART / "crds").iterdir()) == [CRD.name]


def test_priority_class_is_system_cluster_critical_by_default(default_render):
    assert find(default_render, "Deployment")["spec"]["template"]["spec"]["priorityClassName"] == "system-cluster-critical"
    none = render(helm.parse_set_string("priorityClassName="))  # what the shell passes for --set priorityClassName=""
    assert "priorityClassName" not in find(none, "Deployment")["spec"]["template"]["spec"]


def test_bind_address_default_is_every_interface(default_render):
    c = container(default_render)
    assert "--webserver-bind-address=:8081" in c["args"]
    assert "POD_IP" not in {e["name"] for e in c["env"]}


def test_bind_address_pod_ip():
    rendered = render({"metrics": {"bindAddress": "podIP", "serviceMonitor": {"enabled": True}}, "webserverPort": 9100})
    c = container(rendered)
    # The kubelet expands $(POD_IP) from the container's env; brackets fit either family.
    assert "--webserver-bind-address=[$(POD_IP)]:9100" in c["args"]
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert c["ports"] == [{"name": "http", "containerPort": 9100, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"]["port"] == "http"
    assert find(rendered, "Service")["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("address,flag", [("127.0.0.1", "127.0.0.1:8081"), ("::1", "[::1]:8081")])
def test_bind_address_loopback(address, flag):
    rendered = render({"metrics": {"bindAddress": address, "service": {"enabled": False}}})
    c = container(rendered)
    assert f"--webserver-bind-address={flag}" in c["args"]
    assert "ports" not in c, "nothing listens on the pod IP"
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        command = c[probe]["exec"]["command"]
        assert command[0] == "bash" and command[-3:] == [address, "8081", path]
    assert "Service" not in {d["kind"] for d in objects(rendered)}


def test_bind_address_loopback_refuses_the_metrics_service():
    with pytest.raises(helm.HelmError) as error:
        render({"metrics": {"bindAddress": "127.0.0.1"}})
    assert "metrics.service.enabled=false" in str(error.value)


def test_bind_address_rejects_other_values():
    for value in ["0.0.0.0", "10.0.0.1", "localhost", "podip"]:
        with pytest.raises(helm.HelmError):
            render({"metrics": {"bindAddress": value}})

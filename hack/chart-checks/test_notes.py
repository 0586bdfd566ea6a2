"""NOTES.txt points at things that exist for someone who has only the chart: its commands
run with the real kubectl from an empty directory (no repository checkout, so no
examples/ folder) against a fresh LocalAPIServer the chart was installed into, with the
controller running out of cluster with the rendered Deployment's arguments (so its Lease
exists). What needs a running pod (port-forward, curl through it) is reported, not run."""
import re
import time
import warnings

import helm_python as helm
import pytest
import yaml

import docrun
from conftest import CHART, free_port, swift_product

RELEASE, NAMESPACE = "node-ipam-controller", "kube-system"
needs_kubectl = pytest.mark.skipif(docrun.KUBECTL is None, reason=docrun.SKIP_NO_KUBECTL)


def rendered(values):
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    notes = out.pop("node-ipam-controller/templates/NOTES.txt")
    objects = [d for text in out.values() for d in yaml.safe_load_all(text) if d]
    return notes, objects


def notes_commands(notes):
    """The NOTES' commands in order: the block at column 0 (a heredoc) as one script, and
    each `kubectl ...` on an indented or parenthesised line."""
    script = re.search(r"^(kubectl .*?^EOF)$", notes, re.M | re.S)
    commands = [script.group(1)] if script else []
    rest = notes[script.end():] if script else notes
    for line in rest.splitlines():
        for found in re.findall(r"((?:kubectl|curl) [^()]*?)(?:\s{2,}|\)|$)", line):
            commands.append(found.strip())
    return commands


@pytest.mark.parametrize("values", [{}, {"metrics": {"bindAddress": "127.0.0.1", "service": {"enabled": False}}},
                                    {"metrics": {"bindAddress": "podIP", "serviceMonitor": {"enabled": True}}}],
                         ids=["default", "loopback", "pod-ip"])
def test_notes_name_only_rendered_objects(values):
    notes, objects = rendered(values)
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for service in re.findall(r"[Ss]ervice (\S+?-metrics)\b", notes):
        assert ("Service", service) in names, service
    for deployment in re.findall(r"deployment/(\S+)", notes):
        assert ("Deployment", deployment) in names, deployment
    for monitor in re.findall(r"ServiceMonitor (\S+?)\)", notes):
        assert ("ServiceMonitor", monitor) in names, monitor
    assert "-f examples/" not in notes and "docs/" not in notes, "the chart has no examples/ or docs/ folder"
    commands = notes_commands(notes)
    assert commands and all(c.split()[0] in ("kubectl", "curl") for c in commands)
    for command in commands:
        for path in re.findall(r"\s-f\s+(\S+)", command):
            assert path == "-", f"{command}: NOTES may only apply what it contains"


@needs_kubectl
def test_notes_commands_run_against_the_installed_chart():
    notes, objects = rendered({})
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    with docrun.FreshCluster() as cluster:
        docrun.helm_install(cluster, ["helm", "install", RELEASE, str(CHART), "--namespace", NAMESPACE])
        # The pod stand-in: the controller with the Deployment's arguments, listening on loopback.
        args = [a for a in container["args"] if not a.startswith("--webserver-bind-address=")]
        binary = swift_product("node-ipam-controller", "NODE_IPAM_CONTROLLER_BIN")
        cluster.start([str(binary), *args, f"--webserver-bind-address=127.0.0.1:{free_port()}",
                       "--kubeconfig", str(cluster.kubeconfig)],
                      env={"POD_NAME": f"{RELEASE}-0", "POD_NAMESPACE": NAMESPACE})
        empty = cluster.dir / "chart-user"
        empty.mkdir()
        ran = 0
        for command in notes_commands(notes):
            if " port-forward " in command or command.startswith("curl "):
                warnings.warn(f"NOTES: not run here: `{command}`: needs a running pod")
                continue
            command = command.replace(" NAME", " clustercidr-test")
            deadline = time.monotonic() + 30
            while True:  # the Lease appears once the controller has started
                result = cluster.run(command, cwd=empty)
                if result.returncode == 0 or time.monotonic() > deadline or " lease " not in command:
                    break
                time.sleep(0.5)
            assert result.returncode == 0, f"NOTES command failed: {command}\n{result.stdout}\n{result.stderr}"
            ran += 1
        assert ran >= 6
        created = cluster.api.get("/apis/networking.x-k8s.io/v1/clustercidrs/clustercidr-test")
        assert created["spec"] == {"perNodeHostBits": 8, "ipv4": "10.244.0.0/16", "ipv6": "2001:db8::/110"}

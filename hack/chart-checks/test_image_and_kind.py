"""What can be checked offline about the image and the kind workflow (docker and kind do
not run here): the Dockerfile's stages and user, the context it sends, the kind config and
the e2e script's syntax and steps."""
import ipaddress
import re
import subprocess

import yaml

from conftest import ROOT


def dockerfile_stages():
    stages, current = [], None
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            current = {"from": line.split()[1], "lines": []}
            stages.append(current)
        elif current is not None:
            current["lines"].append(line)
    return stages


def test_dockerfile_is_multi_stage_swift_to_debian_slim():
    text = (ROOT / "Dockerfile").read_text()
    version = re.search(r"^ARG SWIFT_VERSION=(\S+)$", text, re.M).group(1)
    assert version.startswith("6."), "the builder must be Swift 6"
    build, runtime = dockerfile_stages()
    assert build["from"] == "swift:${SWIFT_VERSION}-bookworm"
    assert "libcurl4-openssl-dev" in "\n".join(build["lines"])
    assert "--static-swift-stdlib" in "\n".join(build["lines"])
    assert runtime["from"] == "debian:bookworm-slim", "runtime must match the builder's Debian release (libcurl ABI)"
    body = "\n".join(runtime["lines"])
    assert "libcurl4" in body and "ca-certificates" in body
    assert re.search(r"^USER 65532(:65532)?$", body, re.M)
    assert 'ENTRYPOINT ["/usr/local/bin/node-ipam-controller"]' in body


def test_dockerignore_keeps_what_the_build_needs():
    ignored = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")]
    for needed in ["Package.swift", "Sources", "Tests"]:
        assert needed not in ignored
    for heavy in [".build", ".git"]:
        assert heavy in ignored
    copied = re.findall(r"^COPY (?!--from)(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert set(copied) == {"Package.swift", "Sources", "Tests"}


def test_kind_config_disables_kcm_allocation_and_is_dual_stack():
    config = yaml.safe_load((ROOT / "hack" / "kind-cfg.yaml").read_text())
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4" and config["kind"] == "Cluster"
    assert config["networking"]["ipFamily"] == "dual"
    patches = [yaml.safe_load(p) for p in config["kubeadmConfigPatches"]]
    cluster = next(p for p in patches if p["kind"] == "ClusterConfiguration")
    assert cluster["controllerManager"]["extraArgs"]["allocate-node-cidrs"] == "false"
    v4, v6 = config["networking"]["podSubnet"].split(",")
    example = yaml.safe_load((ROOT / "examples" / "clustercidr-dual.yaml").read_text())["spec"]
    assert ipaddress.ip_network(example["ipv4"]).subnet_of(ipaddress.ip_network(v4))
    assert ipaddress.ip_network(example["ipv6"]).subnet_of(ipaddress.ip_network(v6))


def test_kind_e2e_script():
    script = ROOT / "hack" / "kind-e2e.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text()
    order = ["kind create cluster", "docker build --build-arg GIT_COMMIT=", "kind load docker-image", "helm upgrade --install",
             "--set image.tag=local", "kubectl apply -f", ".spec.podCIDRs"]
    positions = [text.index(step) for step in order]
    assert positions == sorted(positions), "steps out of order"
    assert "IMAGE=node-ipam-controller:local" in text
    assert '-t "$IMAGE" .' in text, "the image built is the one loaded"
    assert "--config hack/kind-cfg.yaml" in text

"""The documented commands work on first try: docs/deploy.md's three ways to run it and
README.md's kubectl steps run as written, in order, with the real kubectl against a fresh
LocalAPIServer (docrun.FreshCluster); `kubectl apply -f examples/` creates every example
pool as written in its file.

What cannot run here is replaced by a stand-in, and each replacement is reported as a
warning naming the command and why: `kind create cluster` (no docker) becomes the fresh
LocalAPIServer with the kind config's nodes; `docker build` and `kind load` are not run
(test_image_and_kind.py checks the Dockerfile offline); `swift build` is the prebuilt
binary ($NODE_IPAM_CONTROLLER_BIN); `helm install` is Helm's Go SDK (helm-python-sdk)
with the command's release, chart, namespace and --set values.

LocalAPIServer establishes a CRD the moment it is created, so a ClusterCIDR applied too
early cannot fail there as it does on a real cluster: `ordering_problems` checks every
documented sequence for that instead."""
import ipaddress
import re
import time
import warnings

import pytest
import yaml

import docrun
from conftest import ROOT, swift_product

DEPLOY = ROOT / "docs" / "deploy.md"
README = ROOT / "README.md"
KIND_CONFIG = yaml.safe_load((ROOT / "hack" / "kind-cfg.yaml").read_text())

needs_kubectl = pytest.mark.skipif(docrun.KUBECTL is None, reason=docrun.SKIP_NO_KUBECTL)


def deploy_blocks(heading):
    return docrun.sh_blocks(docrun.section(DEPLOY.read_text(), heading))


def readme_bullet(title):
    """One bullet of README.md's "Using it" list, as its inline commands."""
    text = docrun.section(README.read_text(), "Using it")
    bullet = re.search(rf"^- \*\*{re.escape(title)}\*\*(.*?)(?=^- |\Z)", text, re.M | re.S).group(1)
    return [c for c in docrun.inline_commands(bullet) if len(docrun.words(c)) > 2]


def kind_node_names():
    """The nodes `kind create cluster --config hack/kind-cfg.yaml` registers."""
    names, workers = [], 0
    for node in KIND_CONFIG["nodes"]:
        if node["role"] == "control-plane":
            names.append(f"{KIND_CONFIG['name']}-control-plane")
        else:
            workers += 1
            names.append(f"{KIND_CONFIG['name']}-worker" + ("" if workers == 1 else str(workers)))
    return names


def not_run(command, why):
    warnings.warn(f"docs: not run here: `{command}`: {why}", stacklevel=2)


def run_sequence(cluster, sequence):
    """Runs documented commands in order; stand-ins for what needs docker, kind or a build."""
    for command in sequence:
        w = docrun.words(command)
        if w[:3] == ["kind", "create", "cluster"]:
            assert "--config" in w and w[w.index("--config") + 1] == "hack/kind-cfg.yaml", command
            for name in kind_node_names():
                cluster.api.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
            not_run(command, "no docker here; a fresh LocalAPIServer with the kind config's nodes stands in")
        elif w[0] == "docker" or w[:2] == ["kind", "load"]:
            not_run(command, "needs docker and kind nodes; test_image_and_kind.py checks the Dockerfile offline")
        elif w[:2] == ["swift", "build"]:
            assert "node-ipam-controller" in w, command
            not_run(command, "the prebuilt binary ($NODE_IPAM_CONTROLLER_BIN, or built by conftest) stands in")
        elif w[0] == ".build/release/node-ipam-controller":
            binary = swift_product("node-ipam-controller", "NODE_IPAM_CONTROLLER_BIN")
            # bash expands ~ as it would for the reader; the controller runs in the foreground there.
            cluster.start(["bash", "-c", "exec " + command.replace(w[0], str(binary), 1)])
        elif w[:2] == ["helm", "install"]:
            docrun.helm_install(cluster, w)
            not_run(command, "no helm binary; Helm's Go SDK (helm-python-sdk) installs with the same arguments")
        elif w[0] == "kubectl":
            cluster.must_run(command)
        else:
            pytest.fail(f"no way to run documented command {command!r} here: add a stand-in to test_docs.py")


def clustercidr(cluster, name):
    return cluster.api.get(f"/apis/networking.x-k8s.io/v1/clustercidrs/{name}")


def spec_of(example, name):
    docs = [d for d in yaml.safe_load_all((ROOT / "examples" / example).read_text()) if d]
    return next(d["spec"] for d in docs if d["metadata"]["name"] == name)


# --- what a real cluster needs that LocalAPIServer cannot show ------------------------

def documented_sequences():
    for heading in ["1. kubectl", "2. Out of cluster", "3. Helm"]:
        yield f"deploy.md {heading}", [c for block in deploy_blocks(heading) for c in block]
    kubectl = readme_bullet("kubectl")
    yield "README kubectl", kubectl
    yield "README out of cluster", kubectl[:3] + readme_bullet("Out of cluster")
    yield "README in cluster", readme_bullet("In cluster")


@pytest.mark.parametrize("name,sequence", list(documented_sequences()), ids=lambda v: v if isinstance(v, str) else "")
def test_clustercidrs_wait_for_the_crd(name, sequence):
    assert sequence, f"{name}: no commands found"
    assert docrun.ordering_problems(sequence) == [], name


def test_kind_commands_name_the_configured_cluster():
    """hack/kind-cfg.yaml names the cluster; `kind load` without --name looks for "kind"."""
    cluster = KIND_CONFIG["name"]
    commands = [c for block in deploy_blocks("Three ways") for c in block]
    commands += docrun.inline_commands(README.read_text()) + docrun.inline_commands(DEPLOY.read_text())
    kind = [docrun.words(c) for c in commands if c.startswith("kind ") and len(docrun.words(c)) > 2]
    assert any(w[:2] == ["kind", "load"] for w in kind)
    for w in kind:
        if w[:3] == ["kind", "create", "cluster"]:
            assert w[w.index("--config") + 1] == "hack/kind-cfg.yaml", w
        else:
            assert "--name" in w and w[w.index("--name") + 1] == cluster, f"{' '.join(w)}: needs --name {cluster}"


# --- running them ---------------------------------------------------------------------

@needs_kubectl
def test_deploy_kubectl_section_runs_as_written():
    sequence = [c for block in deploy_blocks("1. kubectl") for c in block]
    assert all(c.startswith("kubectl ") for c in sequence), "§1 is the kubectl-only way"
    with docrun.FreshCluster() as cluster:
        run_sequence(cluster, sequence)
        crd = cluster.api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{docrun.CRD_NAME}")
        assert {"type": "Established", "status": "True"}.items() <= next(
            c for c in crd["status"]["conditions"] if c["type"] == "Established").items()
        assert clustercidr(cluster, "clustercidr-test")["spec"] == spec_of("clustercidr-dual.yaml", "clustercidr-test")
        cluster.api.get("/api/v1/namespaces/kube-system/serviceaccounts/node-ipam-controller")
        listed = cluster.must_run("kubectl get clustercidrs").stdout
        assert re.search(r"^clustercidr-test\s", listed, re.M), listed
        # Troubleshooting's commands work on what §1 made (NAME: a node or a ClusterCIDR).
        cluster.api.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}})
        troubleshooting = [c for c in docrun.inline_commands(docrun.section(DEPLOY.read_text(), "Troubleshooting"))
                           if c.startswith("kubectl ")]
        assert len(troubleshooting) >= 5
        for command in troubleshooting:
            if " lease " in command:
                not_run(command, "no controller holds a Lease after §1; test_notes.py runs it with one")
                continue
            cluster.must_run(command.replace("node NAME", "node node-1").replace("NAME", "clustercidr-test"))


def wait_for_podcidrs(cluster, show):
    """Runs the documented `kubectl get nodes -o custom-columns=...` until every kind node
    shows podCIDRs from the dual-stack example, distinct ones."""
    deadline, shown = time.monotonic() + 60, ""
    while time.monotonic() < deadline:
        shown = cluster.must_run(show).stdout
        if "<none>" not in shown and all(n in shown for n in kind_node_names()):
            break
        assert cluster.background[0][0].poll() is None, f"controller exited:\n{cluster.output(0)}"
        time.sleep(0.5)
    rows = dict(line.split(None, 1) for line in shown.strip().splitlines()[1:])
    assert sorted(rows) == sorted(kind_node_names()), shown
    pool = spec_of("clustercidr-dual.yaml", "clustercidr-test")
    for name, cidrs in rows.items():
        v4, v6 = (ipaddress.ip_network(c) for c in cidrs.strip("[] \n").split())  # kubectl prints [a b]
        assert v4.prefixlen == 24 and v4.subnet_of(ipaddress.ip_network(pool["ipv4"])), shown
        assert v6.prefixlen == 120 and v6.subnet_of(ipaddress.ip_network(pool["ipv6"])), shown
    assert len({c for cidrs in rows.values() for c in cidrs.split()}) == 2 * len(rows), "a range handed out twice"


@needs_kubectl
def test_deploy_out_of_cluster_section_allocates():
    sequence = [c for block in deploy_blocks("2. Out of cluster") for c in block]
    show = [c for c in sequence if c.startswith("kubectl get nodes")]
    assert len(show) == 1, "§2 ends by showing the nodes' podCIDRs"
    with docrun.FreshCluster() as cluster:
        run_sequence(cluster, [c for c in sequence if c not in show])
        # Shown "in a second terminal" while the controller works.
        wait_for_podcidrs(cluster, show[0])


@needs_kubectl
def test_readme_out_of_cluster_allocates_with_leader_election():
    """README's way runs with leader election on (the default): the Lease goes to the
    kubeconfig context's namespace, as README says."""
    sequence = readme_bullet("kubectl")[:3] + readme_bullet("Out of cluster")
    assert not any("--enable-leader-election" in c for c in sequence)
    with docrun.FreshCluster() as cluster:
        run_sequence(cluster, sequence)
        wait_for_podcidrs(cluster, "kubectl get nodes -o custom-columns=NAME:.metadata.name,PODCIDRS:.spec.podCIDRs")
        lease = cluster.api.get("/apis/coordination.k8s.io/v1/namespaces/default/leases/node-ipam-controller")
        assert lease["spec"]["holderIdentity"]


@needs_kubectl
def test_deploy_helm_section_runs_as_written():
    sequence = [c for block in deploy_blocks("3. Helm") for c in block]
    with docrun.FreshCluster() as cluster:
        run_sequence(cluster, sequence)
        deployment = cluster.api.get("/apis/apps/v1/namespaces/kube-system/deployments/node-ipam-controller")
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "node-ipam-controller:local"
        assert clustercidr(cluster, "clustercidr-test")["spec"] == spec_of("clustercidr-dual.yaml", "clustercidr-test")


@needs_kubectl
def test_readme_kubectl_steps_run_as_written():
    sequence = readme_bullet("kubectl")
    with docrun.FreshCluster() as cluster:
        run_sequence(cluster, sequence)
        assert clustercidr(cluster, "clustercidr-test")["spec"] == spec_of("clustercidr-dual.yaml", "clustercidr-test")


@needs_kubectl
def test_applying_all_examples_creates_every_pool_as_written():
    with docrun.FreshCluster() as cluster:
        cluster.must_run("kubectl apply -f config/crd/")
        cluster.must_run(f"kubectl wait --for condition=established --timeout=60s crd/{docrun.CRD_NAME}")
        cluster.must_run("kubectl apply -f examples/")
        stored = {o["metadata"]["name"]: o["spec"] for o in cluster.api.items("/apis/networking.x-k8s.io/v1/clustercidrs")}
        written = [(path.name, doc["metadata"]["name"], doc["spec"]) for path in sorted((ROOT / "examples").glob("*.yaml"))
                   for doc in yaml.safe_load_all(path.read_text()) if doc]
        rewritten = [f"{file}: {name}" for file, name, spec in written if stored.get(name) != spec]
        assert rewritten == [], "pools not as their file writes them (another file reused the name)"
        assert len(stored) == len(written)

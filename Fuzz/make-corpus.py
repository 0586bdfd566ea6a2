#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into Fuzz/Corpus/<target>/.

The seeds are what the parsers meet in real use: watch lines and LIST pages as a kind
cluster's API server writes them (Nodes, ClusterCIDRs, bookmarks, 410 Expired errors),
kind-style kubeconfigs, the ClusterCIDRs of examples/ and of the admission test cases, the
YAML manifests of examples/ and config/, and CIDR texts. Run it after changing examples/ or the admission cases, and commit the result:
    python3 Fuzz/make-corpus.py
Needs PyYAML (hack/checks/requirements.txt). Output is deterministic; crash regressions that
hack/fuzz.sh found are kept in Corpus/<target>/regression-* and are not touched here.
"""
import base64
import json
import pathlib

import yaml

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "Corpus"


def compact(value):
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def write(target, name, content):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    (folder / name).write_bytes(data)


def reset(target):
    """Removes the generated seeds of a target, keeping its regression inputs."""
    folder = CORPUS / target
    if folder.exists():
        for path in folder.iterdir():
            if not path.name.startswith("regression-"):
                path.unlink()


def node(name, rv, pod_cidrs=None, labels=None, control_plane=False):
    labels = dict(labels or {})
    labels.update({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    })
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
    spec = {"providerID": f"kind://docker/node-ipam/{name}"}
    if control_plane:
        spec["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
    if pod_cidrs:
        spec["podCIDR"] = pod_cidrs[0]
        spec["podCIDRs"] = pod_cidrs
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": "5d7a1f0e-3b1c-4b7e-9c55-0f1f2d3c4b%02d" % (rv % 100),
            "resourceVersion": str(rv),
            "creationTimestamp": "2026-12-01T17:48:58Z",
            "labels": labels,
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
            "managedFields": [{
                "manager": "kubelet", "operation": "Update", "apiVersion": "v1",
                "time": "2026-12-01T17:48:58Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/os": {}}}},
            }],
        },
        "spec": spec,
        "status": {
            "addresses": [{"type": "InternalIP", "address": "172.18.0.3"}, {"type": "Hostname", "address": name}],
            "conditions": [{
                "type": "Ready", "status": "True", "lastHeartbeatTime": "2026-12-01T17:49:30Z",
                "lastTransitionTime": "2026-12-01T17:49:20Z", "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
            }],
            "nodeInfo": {"kubeletVersion": "v1.31.0", "containerRuntimeVersion": "containerd://1.7.18"},
        },
    }


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def example_clustercidrs():
    """Every ClusterCIDR document of examples/, in file order."""
    objects = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "ClusterCIDR":
                objects.append((path.stem, document))
    return objects


def admission_cases():
    cases = json.loads((ROOT / "Tests/ClusterCIDRAPITests/Fixtures/admission-cases.json").read_text())
    objects = [(f"valid-{c['name']}", c["object"]) for c in cases["valid"]]
    objects += [(f"invalid-{c['name']}", c["object"]) for c in cases["invalid"]]
    return objects


def realistic_node(name="ip-node-01234"):
    """A kubelet-shaped Node of 13 KB (Tests/Fixtures/realistic-node.json, from hack/benchlib.py)."""
    text = (FUZZ.parent / "Tests" / "Fixtures" / "realistic-node.json").read_text().strip()
    return json.loads(text.replace("ip-node-01234", name))


def watch_corpus(target="FuzzWatchLine"):
    reset(target)
    worker = node("node-ipam-worker", 1204, labels={"platform.node_group/worker-small": ""})
    allocated = node("node-ipam-worker", 1210, ["10.244.1.0/24", "2001:db8::100/120"],
                     labels={"platform.node_group/worker-small": ""})
    control = node("node-ipam-control-plane", 1188, control_plane=True)
    bookmark = {"kind": "Node", "apiVersion": "v1",
                "metadata": {"resourceVersion": "1299", "annotations": {"k8s.io/initial-events-end": "true"}}}
    lines = {
        "added-node": {"type": "ADDED", "object": worker},
        "added-control-plane": {"type": "ADDED", "object": control},
        "modified-node-podcidrs": {"type": "MODIFIED", "object": allocated},
        "deleted-node": {"type": "DELETED", "object": allocated},
        "bookmark": {"type": "BOOKMARK", "object": bookmark},
        "error-410-expired": {"type": "ERROR", "object": status(410, "Expired", "too old resource version: 1188 (1299)")},
        "error-500": {"type": "ERROR", "object": status(500, "InternalError", "Internal error occurred: etcdserver: request timed out")},
        "unknown-type": {"type": "SYNC", "object": worker},
    }
    for name, event in lines.items():
        write(target, name, compact(event) + "\n")
    # A stream: several events, a blank line, CRLF, and a last line not yet complete.
    stream = "".join(compact(lines[n]) + "\n" for n in ["added-control-plane", "added-node", "modified-node-podcidrs"])
    stream += "\r\n" + compact(lines["bookmark"]) + "\r\n" + compact(lines["deleted-node"])[:60]
    write(target, "stream-with-partial-line", stream)
    write(target, "stream-then-410", compact(lines["added-node"]) + "\n" + compact(lines["error-410-expired"]) + "\n")
    # Real-shaped nodes: the status churn a kubelet causes, then a bookmark and 410.
    big = realistic_node()
    write(target, "realistic-nodes", "".join(compact(e) + "\n" for e in [
        {"type": "ADDED", "object": big}, {"type": "MODIFIED", "object": big}, lines["bookmark"], lines["error-410-expired"]]))
    for stem, obj in example_clustercidrs()[:4]:
        obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion="2001", uid="0b5e4c1a-77f1-4e43-9d0e-51a3f25c1d01"))
        write(target, f"added-clustercidr-{obj['metadata']['name']}", compact({"type": "ADDED", "object": obj}) + "\n")


def list_corpus(target="FuzzListDecoding"):
    reset(target)
    nodes = [node("node-ipam-control-plane", 1188, ["10.244.0.0/24", "2001:db8::/120"], control_plane=True),
             node("node-ipam-worker", 1210, ["10.244.1.0/24", "2001:db8::100/120"]),
             node("node-ipam-worker2", 1215)]
    write(target, "nodelist", compact({"kind": "NodeList", "apiVersion": "v1",
                                       "metadata": {"resourceVersion": "1299"}, "items": nodes}))
    write(target, "nodelist-first-page", compact({
        "kind": "NodeList", "apiVersion": "v1",
        "metadata": {"resourceVersion": "1299", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTI5OSwic3RhcnQiOiJub2RlLWlwYW0td29ya2VyXHUwMDAwIn0", "remainingItemCount": 1},
        "items": nodes[:2]}))
    write(target, "nodelist-realistic", compact({"kind": "NodeList", "apiVersion": "v1",
                                                 "metadata": {"resourceVersion": "77", "continue": "tok", "remainingItemCount": 3},
                                                 "items": [realistic_node(), realistic_node("ip-node-01235")]}))
    write(target, "nodelist-empty", compact({"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": []}))
    items = [dict(obj, metadata=dict(obj["metadata"], resourceVersion=str(2001 + i)))
             for i, (_, obj) in enumerate(example_clustercidrs())]
    write(target, "clustercidrlist", compact({"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDRList",
                                              "metadata": {"continue": "", "resourceVersion": "2100"}, "items": items}))
    write(target, "status-404-crd-missing", compact(status(404, "NotFound", "the server could not find the requested resource")))
    write(target, "status-403", compact(status(403, "Forbidden", 'nodes is forbidden: User "system:serviceaccount:kube-system:node-ipam-controller" cannot list resource "nodes" in API group "" at the cluster scope')))
    write(target, "status-410-continue-expired", compact(status(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")))
    write(target, "proxy-html-502", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")


PEM = {
    "ca": "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwprdWJlcm5l\ndGVzMB4XDTI2MTIwMTE3NDg1OFoXDTM2MTEyOTE3NDg1OFowFTETMBEGA1UEAxMK\na3ViZXJuZXRlczBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNfakeCAseed==\n-----END CERTIFICATE-----\n",
    "cert": "-----BEGIN CERTIFICATE-----\nMIIBkTCCATegAwIBAgIIfakeclientMAoGCCqGSM49BAMCMBUxEzARBgNVBAMTCmt1\nYmVybmV0ZXMwHhcNMjYxMjAxMTc0ODU4WhcNMjcxMjAxMTc0OTAwWjA0MRcwFQYD\nVQQKEw5zeXN0ZW06bWFzdGVyczEZMBcGA1UEAxMQa3ViZXJuZXRlcy1hZG1pbg==\n-----END CERTIFICATE-----\n",
    "key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAfakeKeyForFuzzSeedsOnlyNotARealKeyAAAAAAAAAAAAAAAAA\n-----END RSA PRIVATE KEY-----\n",
}


def b64(name):
    return base64.b64encode(PEM[name].encode()).decode()


def kubeconfig_corpus(target="FuzzKubeConfig"):
    reset(target)
    kind = f"""apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {b64('ca')}
    server: https://127.0.0.1:40103
  name: kind-node-ipam
contexts:
- context:
    cluster: kind-node-ipam
    user: kind-node-ipam
  name: kind-node-ipam
current-context: kind-node-ipam
kind: Config
preferences: {{}}
users:
- name: kind-node-ipam
  user:
    client-certificate-data: {b64('cert')}
    client-key-data: {b64('key')}
"""
    write(target, "kind", kind)
    write(target, "token-namespace", """apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://[::1]:6443/
    insecure-skip-tls-verify: true
    tls-server-name: kubernetes.default.svc
    proxy-url: http://127.0.0.1:3128
contexts:
- name: ipam
  context: {cluster: prod, user: ipam, namespace: kube-system}
current-context: ipam
users:
- name: ipam
  user:
    token: eyJhbGciOiJSUzI1NiIsImtpZCI6ImZ1enoifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl
""")
    write(target, "exec-plugin", """apiVersion: v1
kind: Config
clusters:
- name: eks
  cluster:
    server: https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com
    certificate-authority-data: """ + b64("ca") + """
contexts:
- name: eks
  context:
    cluster: eks
    user: aws
current-context: eks
users:
- name: aws
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: ["eks", "get-token", "--cluster-name", "ipam"]
      env:
      - name: AWS_PROFILE
        value: "0755"
      interactiveMode: Never
      provideClusterInfo: true
""")
    write(target, "file-paths-and-basic-auth", """apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: http://localhost:8080
    certificate-authority: ca.crt
contexts:
- name: a
  context: {cluster: local, user: basic}
- name: b
  context: {cluster: missing, user: basic}
current-context: a
users:
- name: basic
  user: {username: admin, password: "yes"}
- name: files
  user:
    client-certificate: certs/client.crt
    client-key: ~/client.key
    tokenFile: token
""")
    write(target, "json-no-current-context", compact({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c"}}],
        "users": []}))
    write(target, "anchors-and-bad-base64", """clusters:
- &c {name: one, cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: "not base64!"}}
- *c
contexts: [{name: one, context: {cluster: one}}]
current-context: one
""")
    write(target, "empty", "")


def clustercidr_corpus(target="FuzzClusterCIDR"):
    reset(target)
    for stem, obj in example_clustercidrs():
        write(target, f"example-{obj['metadata']['name']}", json.dumps(obj, indent=1))
    for name, obj in admission_cases():
        write(target, f"admission-{name}", compact(obj))


def manifests_corpus(target="FuzzManifests"):
    reset(target)
    paths = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "config").glob("*/*.yaml"))
    for path in paths:
        write(target, f"{path.parent.name}-{path.stem}", path.read_text())
    write(target, "quoted-scalars", """apiVersion: networking.x-k8s.io/v1
kind: ClusterCIDR
metadata:
  name: "0755"
  labels: {enabled: "true", mode: 0755, ratio: 1.5, empty: ~, octal: 0o17}
spec:
  perNodeHostBits: 8
  ipv4: '10.0.0.0/8'
  ipv6: null
---
# a comment-only document follows
---
""")


def cidr_corpus(target="FuzzCIDR"):
    reset(target)
    texts = set()
    for _, obj in example_clustercidrs() + admission_cases():
        for family in ("ipv4", "ipv6"):
            value = (obj.get("spec") or {}).get(family)
            if isinstance(value, str) and value:
                texts.add(value)
    texts.update([
        "10.244.0.0/16", "0.0.0.0/0", "255.255.255.255/32", "10.244.1.7/24", "10.0.0.0",
        "::/0", "::1/128", "fd00:10:244::/56", "2001:DB8:0:0:0:0:0:0/64", "1:2:3:4:5:6:7:8/128",
        "1:2:3:4:5:6:1.2.3.4/128", "::ffff:10.0.0.0/104", "64:ff9b::192.0.2.33/96", "fe80::/10",
        "010.0.0.0/8", "10.0.0.0/08", "10.0.0.0/33", "256.0.0.0/8", "1.2.3/24", "1::2::3/64",
        "fe80::1%eth0/64", "12345::/16", "1:2:3:4:5:6:7:8:9/128", "::ffff:1.2.3.04/128", "10.0.0.0/-1",
    ])
    for index, text in enumerate(sorted(texts)):
        write(target, "cidr-%02d" % index, text)


if __name__ == "__main__":
    watch_corpus()
    list_corpus()
    kubeconfig_corpus()
    clustercidr_corpus()
    manifests_corpus()
    cidr_corpus()
    for folder in sorted(CORPUS.iterdir()):
        print(f"{folder.name}: {len(list(folder.iterdir()))} seeds")

"""Running documented shell commands as written against a fresh LocalAPIServer.

`FreshCluster` is what a reader starts from: a new API server (HTTPS, kind-shaped
kubeconfig at $HOME/.kube/config, so `--kubeconfig ~/.kube/config` works as written), a
new $HOME and a new KUBECACHEDIR (kubectl's discovery cache), and the real kubectl.
Commands run through bash from the repository root, exactly as a reader pastes them.
"""
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import tempfile
import time

import helm_python as helm
import pytest

from conftest import ROOT, start_local_apiserver, stop_process
from kubeapi import KubeAPI

KUBECTL = shutil.which("kubectl")
SKIP_NO_KUBECTL = "kubectl is not installed: the documented kubectl commands cannot be run (install kubectl 1.32)"


# --- extracting commands -------------------------------------------------------------

def section(markdown, heading):
    """The text under the heading whose title starts with `heading`, up to the next heading of
    the same or a higher level."""
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(#+)\s+(.*)$", line)
        if m and m.group(2).startswith(heading):
            level = len(m.group(1))
            body = []
            for rest in lines[i + 1:]:
                n = re.match(r"^(#+)\s", rest)
                if n and len(n.group(1)) <= level:
                    break
                body.append(rest)
            return "\n".join(body)
    raise AssertionError(f"no heading starting with {heading!r}")


def sh_blocks(markdown):
    """The ```sh blocks of a markdown text, each a list of commands: continuation lines
    joined, comments and blank lines dropped."""
    blocks = []
    for block in re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", markdown, re.M | re.S):
        blocks.append(commands(block))
    return blocks


def commands(script):
    joined = re.sub(r"\\\n\s*", "", script)
    return [c for c in (strip_comment(line) for line in joined.splitlines()) if c.strip()]


def strip_comment(line):
    """The command exactly as written, without its trailing `# comment` (a `#` that starts a
    word outside quotes, as bash reads it)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def inline_commands(markdown, programs=("kubectl", "kind", "helm", "docker", "swift", "bash", ".build/")):
    """Inline `code` spans that are commands, in order (a span may wrap across lines)."""
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    spans = [re.sub(r"\s+", " ", s).strip() for s in re.findall(r"`([^`]+)`", prose)]
    return [s for s in spans if s.split(" ")[0] in programs or s.startswith(".build/")]


def words(command):
    return shlex.split(command)


# --- checks every documented sequence must pass (a real API server is not LocalAPIServer) ---

CRD_NAME = "clustercidrs.networking.x-k8s.io"


def applies_clustercidrs(command):
    w = words(command)
    return w[:2] == ["kubectl", "apply"] and any(a.startswith("examples") for a in w)


def applies_crd(command):
    w = words(command)
    return w[:2] == ["kubectl", "apply"] and any(a.startswith("config/crd") for a in w)


def waits_for_crd(command):
    w = words(command)
    joined = " ".join(w).lower()
    return (w[:2] == ["kubectl", "wait"] and "condition=established" in joined
            and any(a in (f"crd/{CRD_NAME}", f"customresourcedefinition/{CRD_NAME}") for a in w))


def ordering_problems(sequence):
    """Where a sequence would fail on a real cluster because the CRD is not established
    yet: a ClusterCIDR applied in the same command as the CRD, or before a
    `kubectl wait --for condition=established` on it."""
    problems, waited = [], False
    for command in sequence:
        if applies_crd(command) and applies_clustercidrs(command):
            problems.append(f"{command!r} applies the CRD and ClusterCIDRs at once (no matches for kind \"ClusterCIDR\")")
        if waits_for_crd(command):
            waited = True
        elif applies_clustercidrs(command) and not waited:
            problems.append(f"{command!r} comes before `kubectl wait --for condition=established crd/{CRD_NAME}`")
    return problems


# --- a fresh cluster ------------------------------------------------------------------

class FreshCluster:
    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="docs-run-"))
        self.home = self.dir / "home"
        (self.home / ".kube").mkdir(parents=True)
        self.kubeconfig = self.home / ".kube" / "config"
        self.cache = pathlib.Path(tempfile.mkdtemp(prefix="kubecache-"))  # KUBECACHEDIR=$(mktemp -d)
        self.log = open(self.dir / "local-apiserver.log", "w+")
        self.background = []
        try:
            self.server = start_local_apiserver(self.kubeconfig, self.log)
        except BaseException:
            self.log.close()
            raise
        self.api = KubeAPI(self.kubeconfig)

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "IPAM_"))}
        env.update(HOME=str(self.home), KUBECACHEDIR=str(self.cache))
        return env

    def run(self, command, timeout=90, cwd=ROOT):
        """Runs one documented command through bash (from the repository root unless told);
        returns the CompletedProcess."""
        return subprocess.run(["bash", "-c", command], cwd=cwd, env=self.env(), capture_output=True, text=True,
                              timeout=timeout)

    def must_run(self, command, timeout=90, cwd=ROOT):
        result = self.run(command, timeout, cwd)
        assert result.returncode == 0, (f"documented command failed (exit {result.returncode}): {command}\n"
                                        f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}")
        return result

    def start(self, argv, env=None):
        """A long-running process (the controller), stopped with the cluster."""
        log = open(self.dir / f"process-{len(self.background)}.log", "w+")
        proc = subprocess.Popen(argv, cwd=ROOT, env={**self.env(), **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
        self.background.append((proc, log))
        return proc

    def output(self, index):
        proc, log = self.background[index]
        log.flush()
        log.seek(0)
        return log.read()

    def close(self):
        for proc, log in self.background:
            stop_process(proc, timeout=15)  # SIGTERM first: the controller releases its Lease
            log.close()
        stop_process(self.server)
        self.log.close()
        shutil.rmtree(self.cache, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def helm_install(cluster, w):
    """`helm install RELEASE CHART [--namespace NS] [--set K=V]...` through Helm's Go SDK
    (no helm binary here). Release records stay in memory: Helm writes them with
    protobuf, which LocalAPIServer cannot decode (see conftest.installed)."""
    release, chart = w[2], w[3]
    namespace, values = "default", {}
    rest = list(w[4:])
    while rest:
        flag = rest.pop(0)
        if flag == "--namespace":
            namespace = rest.pop(0)
        elif flag == "--set":
            values = merged(values, helm.parse_set_string(rest.pop(0)))
        else:
            pytest.fail(f"helm install flag {flag!r} has no stand-in")
    with helm.Config(kubeconfig_path=str(cluster.kubeconfig), namespace=namespace, storage_driver="memory") as cfg:
        result = cfg.install(str(ROOT / chart), release, values, namespace=namespace, timeout=120)
    assert result["status"] == "deployed"
    return release, namespace, values


def merged(base, extra):
    """Values of several --set flags, later ones winning key by key (as helm merges them)."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out

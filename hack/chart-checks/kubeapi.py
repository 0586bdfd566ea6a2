"""A minimal Kubernetes REST client over a kind-shaped kubeconfig (inline CA, client
certificate and key), enough to read back what `helm install` created."""
import base64
import json
import ssl
import tempfile
import urllib.error
import urllib.request

import yaml


class KubeAPI:
    def __init__(self, kubeconfig_path):
        with open(kubeconfig_path) as f:
            config = yaml.safe_load(f)
        context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        self.server = cluster["server"].rstrip("/")
        self.ssl = None
        if self.server.startswith("https://"):
            self.ssl = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
            if "client-certificate-data" in user:
                self._files = [tempfile.NamedTemporaryFile(suffix=".pem") for _ in range(2)]
                for f, key in zip(self._files, ("client-certificate-data", "client-key-data")):
                    f.write(base64.b64decode(user[key]))
                    f.flush()
                self.ssl.load_cert_chain(self._files[0].name, self._files[1].name)

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: HTTP {error.code}: {error.read()[:500]!r}") from None

    def get(self, path):
        return self.request("GET", path)

    def create(self, path, body):
        return self.request("POST", path, body)

    def items(self, path):
        return self.get(path)["items"]

import json
import pathlib
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

CRD_PATH = ROOT / "config" / "crd" / "networking.x-k8s.io_clustercidrs.yaml"
CASES_PATH = ROOT / "Tests" / "ClusterCIDRAPITests" / "Fixtures" / "admission-cases.json"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.fixture(scope="session")
def crd():
    return yaml.safe_load(CRD_PATH.read_text())


@pytest.fixture(scope="session")
def schema(crd):
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def load_cases():
    return json.loads(CASES_PATH.read_text())

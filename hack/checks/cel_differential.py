"""Cases for the differential test of LocalAPIServer's CEL evaluator against cel-python (k8s_cel.py).

Generates, from a seed, ClusterCIDR objects (creates) and old/new pairs (updates): valid and invalid
CIDRs of both families, prefix lengths, host bits, selectors with good and bad keys, operators and
values, and transitions (changed, added and removed fields). Each case carries what k8s_cel.py
decides for every rule of the CRD (pass, fail or error, per rule and place). A second list holds
stand-alone expressions outside our CRD (macros, arithmetic, strings, the CIDR library) with the
values they are evaluated on, so the evaluator's subset is compared beyond our own rules.

Tests/LocalAPIServerTests/CELDifferentialTests.swift runs this script and evaluates the same cases
with the Swift evaluator; the two must agree on every case.

    python3 hack/checks/cel_differential.py --seed 1 --count 800 > cases.json
"""
from __future__ import annotations

import argparse
import copy
import json
import pathlib
import random
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from k8s_cel import Rule, evaluate, evaluate_rule  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "config" / "crd" / "networking.x-k8s.io_clustercidrs.yaml"


class Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def pick(self, *choices):
        return self.rng.choice(choices)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # --- addresses ---------------------------------------------------------------------

    def ipv4_address(self) -> str:
        return ".".join(str(self.rng.choice([0, 10, 127, 172, 192, 255, self.rng.randrange(256)])) for _ in range(4))

    def ipv6_address(self) -> str:
        groups = [format(self.rng.choice([0, 0, 0, 1, 0xDB8, 0x2001, 0xFD00, 0xFFFF, self.rng.randrange(65536)]), "x")
                  for _ in range(8)]
        if self.chance(0.2):
            groups = [g.zfill(4) for g in groups]  # leading zeros are fine in IPv6 groups
        if self.chance(0.1):
            groups = [g.upper() for g in groups]
        text = ":".join(groups)
        if self.chance(0.6):  # compress one run of zeros (any length, any place)
            start = self.rng.randrange(8)
            length = self.rng.randrange(1, 9 - start)
            head, tail = groups[:start], groups[start + length:]
            text = ":".join(head) + "::" + ":".join(tail)
        if self.chance(0.1):
            text = ":".join(groups[:6]) + ":" + self.ipv4_address()  # embedded dotted quad
        return text

    def ipv4(self) -> str:
        valid = f"{self.ipv4_address()}/{self.rng.randrange(33)}"
        return self.pick(
            valid, valid, valid, valid,
            f"{self.ipv4_address()}/{self.rng.choice([8, 16, 24, 28, 30])}",
            "10.0.0.0/8", "10.0.0.0/16", "192.168.0.0/24", "0.0.0.0/0", "10.0.0.1/32",
            "010.0.0.0/8", "10.0.0.0/08", "10.0.0.0/33", "256.0.0.0/8", "10.0.0/8", "10.0.0.0.0/8", "10.0.0.0",
            "10.0.0.0/", "/8", "10.0.0.0/ 8", "10.0.0.0/+8", "10.0.0.0/-1", "10..0.0/8", "1.2.3.4%eth0/8",
            "", " 10.0.0.0/8", "10.0.0.0/8 ", "::ffff:10.0.0.0/104", "2001:db8::/64", "test", "10.0.0.0/8/8",
        )

    def ipv6(self) -> str:
        valid = f"{self.ipv6_address()}/{self.rng.randrange(129)}"
        return self.pick(
            valid, valid, valid, valid, valid,
            f"{self.ipv6_address()}/{self.rng.choice([48, 64, 96, 112, 120, 124])}",
            "2001:db8::/64", "fd00::/8", "::/0", "::1/128", "fd00:1:2:3::/112", "2001:0db8::/32",
            "::ffff:10.0.0.0/104", "::ffff:0a00:0/104", "2001:db8::/129", "2001:db8:::/64", "2001::db8::1/64",
            "12345::/64", "2001:db8:/64", ":2001:db8::/64", "2001:db8::1:/64", "fe80::1%eth0/64", "1:2:3:4:5:6:7:8::/64",
            "::1.2.3.4/128", "::1.2.3.04/128", "1:2:3:4:5:6:1.2.3.4/128", "1::2:3:4:5:6:7:8/64", "1:2:3:4:5:6:7::/64",
            "::1:2:3:4:5:6:7/64", "1.2.3.4::/64", "g::/64", "2001:db8::/064", "", "10.0.0.0/8", "2001:db8::",
        )

    # --- selectors ---------------------------------------------------------------------

    def label_key(self) -> str:
        return self.pick(
            "zone", "node-role.kubernetes.io/control-plane", "kubernetes.io/hostname", "platform.node_group/g1",
            "example.com/pool", "a", "A_b.c-d", "topology.kubernetes.io/zone", "x" * 63,
            "", "-bad", "bad-", "a/b/c", "Example.com/x", "x" * 64, "a" * 254 + "/b", "a" * 253 + "/b",
            "/name", "prefix/", "a..b/c", "with space", "zone\n",
        )

    def values(self):
        if self.chance(0.15):
            return None
        return self.pick([], ["a"], ["a", "b"], ["1"], ["-5"], ["123456789012345678"], ["1234567890123456789"],
                         ["x"], ["1", "2"], ["1\n"], ["+1"], ["--1"], ["0"])

    def requirement(self, fields: bool) -> dict:
        if fields:
            key = self.pick("metadata.name", "metadata.name", "metadata.namespace", "spec.unschedulable")
            operator = self.pick("In", "NotIn", "In", "Exists", "Gt")
        else:
            key = self.label_key()
            operator = self.pick("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "in", "Foo", "")
        requirement = {"key": key, "operator": operator}
        values = self.values()
        if values is not None:
            requirement["values"] = values
        return requirement

    def node_selector(self):
        terms = []
        for _ in range(self.rng.randrange(3)):
            term = {}
            if self.chance(0.8):
                term["matchExpressions"] = [self.requirement(False) for _ in range(self.rng.randrange(4))]
            if self.chance(0.3):
                term["matchFields"] = [self.requirement(True) for _ in range(self.rng.randrange(3))]
            terms.append(term)
        return {"nodeSelectorTerms": terms}

    # --- objects -----------------------------------------------------------------------

    def host_bits(self) -> int:
        return self.pick(-1, 0, 3, 4, 5, 8, 8, 12, 16, 24, 31, 32, 33, 48, 64, 100, 120, 124, 128, 129, 2**31 - 1)

    def spec(self) -> dict:
        spec = {}
        family = self.pick("v4", "v4", "v6", "dual", "dual", "neither")
        if family in ("v4", "dual"):
            spec["ipv4"] = self.ipv4()
        elif self.chance(0.1):
            spec["ipv4"] = ""
        if family in ("v6", "dual"):
            spec["ipv6"] = self.ipv6()
        elif self.chance(0.1):
            spec["ipv6"] = ""
        if not self.chance(0.05):
            spec["perNodeHostBits"] = self.host_bits()
        if self.chance(0.25):
            spec["perNodeHostBitsIPv6"] = self.host_bits()
        if self.chance(0.6):
            spec["nodeSelector"] = self.node_selector()
        return spec

    def object(self, name: str) -> dict:
        obj = {"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDR", "metadata": {"name": name}}
        if not self.chance(0.03):
            obj["spec"] = self.spec()
        return obj

    def changed(self, old: dict) -> dict:
        """A plausible edit of `old`: the same object, or one or more fields changed, added or removed."""
        new = copy.deepcopy(old)
        spec = new.setdefault("spec", {})
        for _ in range(self.rng.randrange(0, 3)):
            field = self.pick("ipv4", "ipv6", "perNodeHostBits", "perNodeHostBitsIPv6", "nodeSelector", "status")
            action = self.pick("change", "remove", "add")
            if field == "status":
                new["status"] = {"usage": f"{self.rng.randrange(10)}/256"}
            elif action == "remove":
                spec.pop(field, None)
            elif field == "ipv4":
                spec["ipv4"] = self.pick(self.ipv4(), "")
            elif field == "ipv6":
                spec["ipv6"] = self.pick(self.ipv6(), "")
            elif field == "nodeSelector":
                if "nodeSelector" in spec and spec["nodeSelector"]["nodeSelectorTerms"] and self.chance(0.5):
                    spec["nodeSelector"]["nodeSelectorTerms"].pop()
                else:
                    spec["nodeSelector"] = self.node_selector()
            else:
                spec[field] = self.host_bits()
        return new


# Expressions beyond our CRD, each with the kind of `self` it is evaluated on.
EXPRESSIONS = [
    ("self.all(x, x > 0)", "ints"),
    ("self.exists(x, x == 3)", "ints"),
    ("self.exists_one(x, x % 2 == 0)", "ints"),
    ("self.filter(x, x > 2).size() == 2", "ints"),
    ("self.map(x, x * 2).exists(y, y == 8)", "ints"),
    ("size(self) > 0 && self[0] + self[size(self) - 1] < 10", "ints"),
    ("self.all(x, 100 / x > 1)", "ints"),
    ("3 in self || -1 in self", "ints"),
    ("self.exists(x, x > 0) ? self.filter(x, x > 0)[0] != 0 : true", "ints"),
    ("self.startsWith('10.') || self.endsWith('/64') || self.contains('::')", "cidr"),
    ("isCIDR(self) && cidr(self).prefixLength() >= 8 && cidr(self).prefixLength() <= 30", "cidr"),
    ("isCIDR(self) ? string(cidr(self).masked()) == self : !isCIDR(self)", "cidr"),
    ("cidr(self).ip().family() == 6 ? cidr(self).prefixLength() % 8 == 0 : cidr(self).prefixLength() < 33", "cidr"),
    ("string(cidr(self).ip()) + '/' + string(cidr(self).prefixLength()) == self", "cidr"),
    ("size(self) <= 18 && self.matches('^[0-9a-f.:/]+$')", "cidr"),
    ("self.matches('^[0-9]+$') && int(self) > 100", "cidr"),
    ("self.a > self.b || self.b - self.a == 1", "pair"),
    ("(self.a * self.b) / (self.b - self.a) >= 0", "pair"),
    ("has(self.c) ? self.c == 'x' : self.a != self.b", "pair"),
    ("{'k': self.a}.k == self.a && [self.a, self.b] == [self.a, self.b]", "pair"),
    ("double(self.a) / 2.0 < 1.5 || uint(self.b) > 3u", "pair"),
    ("self.a - 9223372036854775807 < 0", "pair"),
    ("!(self.a == 1) && !has(self.d)", "pair"),
    ("self.b == 0 || self.a % self.b == 0", "pair"),
]


def sample(gen: Generator, kind: str):
    if kind == "ints":
        return [gen.pick(-2, 0, 1, 2, 3, 4, 5, 7, 8) for _ in range(gen.rng.randrange(5))]
    if kind == "cidr":
        return gen.pick(gen.ipv4(), gen.ipv6(), "123", "007", "99999")
    pair = {"a": gen.pick(-3, 0, 1, 2, 5, 9), "b": gen.pick(0, 1, 2, 4, 5, 9)}
    if gen.chance(0.3):
        pair["c"] = gen.pick("x", "y")
    return pair


def outcomes(schema, new, old):
    return sorted([o.rule.path, o.rule.rule, "" if o.data_path == "<root>" else o.data_path, o.result]
                  for o in evaluate(schema, new, old).outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=800, help="objects; as many updates again")
    args = parser.parse_args()
    gen = Generator(args.seed)
    crd = yaml.safe_load(CRD_PATH.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    cases = []
    for i in range(args.count):
        obj = gen.object(f"cc-{i}")
        cases.append({"name": f"create-{i}", "new": obj, "old": None, "outcomes": outcomes(schema, obj, None)})
        old = obj if gen.chance(0.7) else gen.object(f"cc-{i}")
        new = gen.changed(old) if gen.chance(0.85) else gen.object(f"cc-{i}")
        cases.append({"name": f"update-{i}", "new": new, "old": old, "outcomes": outcomes(schema, new, old)})
    expressions = []
    for i in range(max(1, args.count // 4)):
        for rule, kind in EXPRESSIONS:
            value = sample(gen, kind)
            result, _ = evaluate_rule(Rule("x", rule, ""), value)
            expressions.append({"rule": rule, "self": value, "result": result})
    json.dump({"seed": args.seed, "schema": schema, "cases": cases, "expressions": expressions}, sys.stdout)


if __name__ == "__main__":
    main()

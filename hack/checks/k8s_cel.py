"""Kubernetes-style evaluation of a CRD's x-kubernetes-validations rules with cel-python.

The API server evaluates each rule at the schema node that declares it, with `self` bound
to the value there; rules that mention `oldSelf` (transition rules) run only on update and
only when the old object has a value at that place. Lists marked atomic do not correlate
old and new items, so transition rules below them never run (ours have none there).

The Kubernetes CIDR library (k8s.io/apiserver/pkg/cel/library/cidr.go) is re-implemented
here from its documented behaviour: parsing is Go's netip.ParsePrefix (no leading zeros in
IPv4 octets or in the prefix length, no zones, length within the family) and IPv4-mapped
IPv6 addresses are refused.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

import celpy
from celpy import celtypes

# --- the CIDR library -------------------------------------------------------------------


class CIDRError(ValueError):
    pass


_IPV4_OCTET = re.compile(r"^(0|[1-9][0-9]{0,2})$")


def _parse_ipv4(text: str) -> ipaddress.IPv4Address:
    parts = text.split(".")
    if len(parts) != 4 or not all(_IPV4_OCTET.match(p) and int(p) <= 255 for p in parts):
        raise CIDRError(f"invalid IPv4 address {text!r}")
    return ipaddress.IPv4Address(text)


def parse_addr(text: str):
    """Go netip.ParseAddr without zones (the CIDR library never accepts them)."""
    if "%" in text:
        raise CIDRError(f"zones are not allowed: {text!r}")
    if ":" not in text:
        return _parse_ipv4(text)
    if not re.fullmatch(r"[0-9A-Fa-f:.]+", text):
        raise CIDRError(f"invalid IPv6 address {text!r}")
    if "." in text:  # embedded dotted quad: same strictness as a plain IPv4 address
        _parse_ipv4(text.rsplit(":", 1)[1])
    try:
        return ipaddress.IPv6Address(text)
    except ValueError as error:
        raise CIDRError(str(error)) from None


def parse_cidr(text: str):
    """netip.ParsePrefix plus the library's refusal of IPv4-mapped IPv6. Returns (addr, bits)."""
    if "/" not in text:
        raise CIDRError(f"no '/' in {text!r}")
    addr_text, bits_text = text.rsplit("/", 1)
    addr = parse_addr(addr_text)
    if not bits_text or not bits_text.isascii() or not bits_text.isdigit() or (len(bits_text) > 1 and bits_text[0] == "0"):
        raise CIDRError(f"bad bits after slash: {bits_text!r}")
    bits = int(bits_text)
    if bits > addr.max_prefixlen:
        raise CIDRError("prefix length out of range")
    if addr.version == 6 and addr.ipv4_mapped is not None:
        raise CIDRError(f"IPv4-mapped IPv6 address {text!r} is not allowed")
    return addr, bits


class IP:
    def __init__(self, addr):
        self.addr = addr


class CIDR:
    def __init__(self, addr, bits: int):
        self.addr = addr
        self.bits = bits


def _is_cidr(value):
    try:
        parse_cidr(str(value))
        return celtypes.BoolType(True)
    except CIDRError:
        return celtypes.BoolType(False)


def _cidr(value):
    return CIDR(*parse_cidr(str(value)))  # raises: an evaluation error, as in Kubernetes


def _ip(value):
    if isinstance(value, CIDR):
        return IP(value.addr)
    addr = parse_addr(str(value))
    if addr.version == 6 and addr.ipv4_mapped is not None:
        raise CIDRError("IPv4-mapped IPv6 address is not allowed")
    return IP(addr)


def _family(ip):
    return celtypes.IntType(ip.addr.version)


def _prefix_length(c):
    return celtypes.IntType(c.bits)


def _masked(c):
    network = ipaddress.ip_network(f"{c.addr}/{c.bits}", strict=False)
    return CIDR(network.network_address, c.bits)


def _string(value):
    if isinstance(value, CIDR):
        return celtypes.StringType(f"{value.addr}/{value.bits}")
    if isinstance(value, IP):
        return celtypes.StringType(str(value.addr))
    return celtypes.StringType(str(value))


FUNCTIONS = {
    "isCIDR": _is_cidr,
    "cidr": _cidr,
    "ip": _ip,
    "family": _family,
    "prefixLength": _prefix_length,
    "masked": _masked,
    "string": _string,
}

# --- rules and outcomes -----------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    path: str  # schema location, e.g. "spec.ipv4"
    rule: str
    message: str

    @property
    def is_transition(self) -> bool:
        return re.search(r"\boldSelf\b", self.rule) is not None

    @property
    def key(self) -> str:
        return f"{self.path}: {self.rule}"


@dataclass
class Outcome:
    rule: Rule
    data_path: str
    result: str  # "pass", "fail" or "error"
    detail: str = ""


@dataclass
class Evaluation:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return sorted(o.rule.message for o in self.outcomes if o.result == "fail")

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "error"]

    @property
    def rejected(self) -> bool:
        return any(o.result != "pass" for o in self.outcomes)


_ENV = celpy.Environment()
_PROGRAMS: dict[str, object] = {}


def _program(expression: str):
    if expression not in _PROGRAMS:
        _PROGRAMS[expression] = _ENV.program(_ENV.compile(expression), functions=FUNCTIONS)
    return _PROGRAMS[expression]


def evaluate_rule(rule: Rule, value, old=None) -> tuple[str, str]:
    activation = {"self": celpy.json_to_cel(value)}
    if old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)
    try:
        result = _program(rule.rule).evaluate(activation)
    except Exception as error:  # CELEvalError and errors raised by the CIDR library
        return "error", str(error)
    if isinstance(result, celpy.CELEvalError):
        return "error", str(result)
    if not isinstance(result, celtypes.BoolType):
        return "error", f"rule returned {result!r}, not a bool"
    return ("pass" if bool(result) else "fail"), ""


def rules_in(schema: dict, path: str = "") -> list[Rule]:
    """Every rule of the schema with its location."""
    found = [Rule(path or "<root>", r["rule"], r.get("message", "")) for r in schema.get("x-kubernetes-validations", [])]
    for name, child in schema.get("properties", {}).items():
        found += rules_in(child, f"{path}.{name}" if path else name)
    if "items" in schema:
        found += rules_in(schema["items"], f"{path}[]")
    return found


def evaluate(schema: dict, value, old=None, *, path: str = "", data_path: str = "", evaluation: Evaluation | None = None) -> Evaluation:
    """Evaluates the rules of `schema` against `value` (and `old` on update), recursively."""
    evaluation = evaluation if evaluation is not None else Evaluation()
    if value is None:
        return evaluation
    for raw in schema.get("x-kubernetes-validations", []):
        rule = Rule(path or "<root>", raw["rule"], raw.get("message", ""))
        if rule.is_transition and old is None:
            continue
        result, detail = evaluate_rule(rule, value, old if rule.is_transition else None)
        evaluation.outcomes.append(Outcome(rule, data_path or "<root>", result, detail))
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name in value:
                old_child = old.get(name) if isinstance(old, dict) else None
                evaluate(child, value[name], old_child, path=f"{path}.{name}" if path else name,
                         data_path=f"{data_path}.{name}" if data_path else name, evaluation=evaluation)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            # Atomic lists: items are not correlated with old items.
            evaluate(schema["items"], item, None, path=f"{path}[]", data_path=f"{data_path}[{index}]", evaluation=evaluation)
    return evaluation

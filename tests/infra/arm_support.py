"""Reading the ARM templates in tests: files, expression references, and a small evaluator.

ARM evaluates template expressions at deployment time. The structural tests need only a few of
them resolved per environment (names, the values a parameter file feeds into a module), so this
module evaluates the small subset of the expression language the templates use for those values
(literals, ``parameters``, ``variables``, ``format``, ``concat``, ``if`` ... ``map`` with
``lambda``, user-defined functions). What only a deployment knows (``reference``, ``listKeys``)
evaluates to ``RUNTIME``, a stand-in equal to nothing, and resource IDs to readable strings, so
a test can never mistake a deployment-time value for a checked one. An unknown function raises
``UnresolvableError``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ARM_DIR = REPO_ROOT / "infra" / "arm"
MAIN = ARM_DIR / "main.json"
MODULES_DIR = ARM_DIR / "modules"
PARAMETERS_DIR = ARM_DIR / "parameters"
ENVIRONMENTS = ("dev", "staging", "prod")
DEPLOYMENT_TYPE = "Microsoft.Resources/deployments"


@cache
def _load(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load(path: Path) -> dict[str, Any]:
    """A fresh copy of the JSON document at ``path`` (tests may not share mutations)."""
    document: dict[str, Any] = json.loads(_load(path))
    return document


def module_files() -> list[Path]:
    return sorted(MODULES_DIR.glob("*.json"))


def template_files() -> list[Path]:
    return [MAIN, *module_files()]


def parameter_file(environment: str) -> Path:
    return PARAMETERS_DIR / f"{environment}.parameters.json"


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[") and not value.startswith("[[")


def expressions(node: Any) -> Iterator[str]:
    """Every ARM expression in ``node``: string values and (computed) property names."""
    if isinstance(node, dict):
        for key, value in node.items():
            if is_expression(key):
                yield key
            yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)
    elif is_expression(node):
        yield node


def referenced(node: Any, function: str) -> set[str]:
    """Names passed to ``function('name')`` anywhere in ``node`` (parameters, variables ...)."""
    pattern = re.compile(rf"\b{function}\(\s*'([^']*)'\s*\)")
    return {name for text in expressions(node) for name in pattern.findall(text)}


def resources(template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(template.get("resources", []))


def resources_of_type(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in resources(template) if r["type"].lower() == resource_type.lower()]


def linked_deployments(template: dict[str, Any]) -> list[tuple[dict[str, Any], Path]]:
    """Deployment resources of ``template`` (main.json) with the module file each links."""
    found = []
    for resource in resources_of_type(template, DEPLOYMENT_TYPE):
        link = resource["properties"].get("templateLink", {})
        if "relativePath" in link:
            found.append((resource, (ARM_DIR / link["relativePath"]).resolve()))
    return found


def parameter_values(environment: str) -> dict[str, Any]:
    """main.json's parameters for ``environment``: the file's values over the defaults."""
    main = load(MAIN)
    given = {k: v["value"] for k, v in load(parameter_file(environment))["parameters"].items()}
    values = {}
    for name, spec in main["parameters"].items():
        if name in given:
            values[name] = given[name]
        elif "defaultValue" in spec:
            values[name] = spec["defaultValue"]
    return values


# --- a small evaluator --------------------------------------------------------------------


class UnresolvableError(Exception):
    """The expression needs something only a real deployment knows."""


@dataclass(frozen=True)
class _Lambda:
    parameter: str
    body: Any


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+)|(?P<name>[A-Za-z_][\w.]*?)(?=\s*\()|(?P<punct>[()\[\],.])|(?P<ident>[A-Za-z_]\w*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot parse {text!r} at {position}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ValueError(f"expected {value!r}, found {token!r}")
        self.position += 1
        return token

    def parse(self) -> Any:
        node = self.expression()
        if self.peek() is not None:
            raise ValueError(f"trailing tokens {self.tokens[self.position :]}")
        return node

    def expression(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            node: Any = ("literal", value[1:-1].replace("''", "'"))
        elif kind == "number":
            node = ("literal", int(value))
        elif kind == "name":
            self.take("(")
            arguments = []
            while self.peek() != ("punct", ")"):
                arguments.append(self.expression())
                if self.peek() == ("punct", ","):
                    self.take(",")
            self.take(")")
            node = ("call", value, arguments)
        else:
            raise ValueError(f"unexpected {value!r}")
        while self.peek() in (("punct", "."), ("punct", "[")):
            if self.take()[1] == ".":
                node = ("property", node, self.take()[1])
            else:
                node = ("index", node, self.expression())
                self.take("]")
        return node


@dataclass
class Context:
    """One template's scope: its parameter values and variables, plus loop state."""

    template: dict[str, Any]
    parameters: dict[str, Any]
    copy_index: int | None = None
    lambda_variables: dict[str, Any] = field(default_factory=dict)

    def value(self, node: Any) -> Any:
        """``node`` with every expression in it evaluated (deeply)."""
        if isinstance(node, dict):
            return {self.value(k): self.value(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if isinstance(node, str) and node.startswith("[["):
            return node[1:]
        if is_expression(node):
            return self.evaluate(_Parser(node[1:-1]).parse())
        return node

    def variable(self, name: str) -> Any:
        return Context(self.template, self.parameters).value(self.template["variables"][name])

    def parameter(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        spec = self.template["parameters"][name]
        if "defaultValue" not in spec:
            raise UnresolvableError(f"parameter {name} has no value")
        return Context(self.template, self.parameters).value(spec["defaultValue"])

    def evaluate(self, node: Any) -> Any:
        kind = node[0]
        if kind == "literal":
            return node[1]
        if kind == "property":
            return _member(self.evaluate(node[1]), node[2])
        if kind == "index":
            return _member(self.evaluate(node[1]), self.evaluate(node[2]))
        name, arguments = node[1], node[2]
        if name == "if":
            return self.evaluate(arguments[1] if self.evaluate(arguments[0]) else arguments[2])
        if name == "lambda":
            return _Lambda(self.evaluate(arguments[0]), arguments[1])
        values = [self.evaluate(argument) for argument in arguments]
        if name == "map":
            return [self._call(values[1], item) for item in values[0]]
        if name == "filter":
            return [item for item in values[0] if self._call(values[1], item)]
        if "." in name:
            return self._user_function(name, values)
        function = _FUNCTIONS.get(name) or getattr(self, f"_fn_{name}", None)
        if function is None:
            raise UnresolvableError(f"{name}() is evaluated by Azure at deployment time")
        return function(*values)

    def _call(self, function: _Lambda, argument: Any) -> Any:
        inner = Context(
            self.template,
            self.parameters,
            self.copy_index,
            {**self.lambda_variables, function.parameter: argument},
        )
        return inner.evaluate(function.body)

    def _user_function(self, name: str, arguments: list[Any]) -> Any:
        namespace, member = name.split(".", 1)
        for group in self.template.get("functions", []):
            if group["namespace"] == namespace and member in group["members"]:
                function = group["members"][member]
                names = [p["name"] for p in function["parameters"]]
                scope = Context(
                    {"parameters": {}, "variables": {}}, dict(zip(names, arguments, strict=False))
                )
                return scope.value(function["output"]["value"])
        raise UnresolvableError(f"no user-defined function {name}")

    def _fn_parameters(self, name: str) -> Any:
        return self.parameter(name)

    def _fn_variables(self, name: str) -> Any:
        return self.variable(name)

    def _fn_lambdaVariables(self, name: str) -> Any:
        return self.lambda_variables[name]

    def _fn_copyIndex(self, offset: int = 0) -> int:
        if self.copy_index is None:
            raise UnresolvableError("copyIndex() outside a copy loop")
        return self.copy_index + offset


class _Runtime:
    """A value Azure computes during the deployment (an output, a key): equal to nothing."""

    def __getitem__(self, key: Any) -> _Runtime:
        return self

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __str__(self) -> str:
        return "<runtime>"


RUNTIME = _Runtime()


def _member(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except (KeyError, IndexError, TypeError) as exc:
        raise UnresolvableError(f"no member {key!r}") from exc


def _resource_id(*segments: Any) -> str:
    return "/" + "/".join(str(segment) for segment in segments)


def _cidr_subnet(network: str, prefix: int, index: int) -> str:
    return str(list(ipaddress.ip_network(network).subnets(new_prefix=prefix))[index])


def _parse_cidr(network: str) -> dict[str, str]:
    parsed = ipaddress.ip_network(network)
    return {"network": str(parsed.network_address), "broadcast": str(parsed.broadcast_address)}


def _format(template: str, *arguments: Any) -> str:
    def render(value: Any) -> str:
        if isinstance(value, bool):
            return str(value)
        return str(value)

    return re.sub(r"\{(\d+)\}", lambda m: render(arguments[int(m.group(1))]), template)


def _concat(*parts: Any) -> Any:
    if all(isinstance(part, list) for part in parts):
        return [item for part in parts for item in part]
    return "".join(str(part) for part in parts)


def _create_object(*pairs: Any) -> dict[str, Any]:
    return {pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2)}


def _unique_string(*parts: Any) -> str:
    """A stand-in for ARM's uniqueString: 13 characters of [a-z0-9], deterministic in its inputs
    (Azure's hash differs; the tests need the shape and the determinism, not the value)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[byte % 32] for byte in digest[:13])


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "format": _format,
    "concat": _concat,
    "replace": lambda text, old, new: text.replace(old, new),
    "createArray": lambda *items: list(items),
    "createObject": _create_object,
    "union": lambda *objects: {k: v for o in objects for k, v in o.items()},
    "equals": lambda a, b: a == b,
    "not": lambda a: not a,
    "and": lambda *values: all(values),
    "or": lambda *values: any(values),
    "empty": lambda value: len(value) == 0,
    "length": len,
    "contains": lambda container, item: item in container,
    "string": _string,
    "take": lambda value, count: value[:count],
    "last": lambda value: value[-1],
    "split": lambda text, separator: text.split(separator),
    "toLower": lambda text: text.lower(),
    "true": lambda: True,
    "false": lambda: False,
    "null": lambda: None,
    "json": json.loads,
    "objectKeys": lambda value: list(value),
    "range": lambda start, count: list(range(start, start + count)),
    "cidrSubnet": _cidr_subnet,
    "parseCidr": _parse_cidr,
    "resourceId": _resource_id,
    "subscriptionResourceId": _resource_id,
    "uniqueString": _unique_string,
    "guid": lambda *parts: "guid(" + ",".join(map(str, parts)) + ")",
    "uriComponent": str,
    "reference": lambda *arguments: RUNTIME,
    "listKeys": lambda *arguments: RUNTIME,
    "environment": lambda: {"suffixes": {"keyvaultDns": ".vault.azure.net"}},
    # Shaped like the real values (GUIDs), so schema checks of evaluated resources accept them.
    "subscription": lambda: {
        "subscriptionId": "00000000-0000-0000-0000-00000000005b",
        "tenantId": "00000000-0000-0000-0000-00000000007e",
    },
    "resourceGroup": lambda: {
        "id": "/resourceGroup",
        "name": "resourceGroup",
        "location": "westeurope",
    },
}


# --- main.json bound to an environment, modules bound to main.json ---------------------------


# Stand-ins for the deploy-time parameters (secrets, the image) where a test evaluates them.
DEPLOY_TIME_VALUES: dict[str, Any] = {
    "postgresAdministratorPassword": "admin-password",
    "postgresAppPassword": "app-password",
    "temporalCredentials": {"apiKey": "api-key", "tlsClientCert": "cert", "tlsClientKey": "key"},
    "codecKeys": '{"k1": "key"}',
    "apiToken": "token",
    "tlsCertificatePfx": "pfx",
    "imageDigest": "sha256:" + "ab" * 32,
    "githubRunnerToken": "github-token",
    "buildId": "1.0.0",
}


def main_context(environment: str, **overrides: Any) -> Context:
    """main.json for ``environment``; ``overrides`` replace parameter values (what-if tests)."""
    return Context(load(MAIN), {**DEPLOY_TIME_VALUES, **parameter_values(environment), **overrides})


def module_contexts(environment: str, module: Path, **overrides: Any) -> list[Context]:
    """One context per deployment of ``module`` in main.json, its parameters as far as known.

    A module parameter whose value only Azure knows (an output of another deployment, a key) is
    left out, so reading it raises ``UnresolvableError``.
    """
    main = main_context(environment, **overrides)
    contexts = []
    for deployment, path in linked_deployments(main.template):
        if path != module.resolve():
            continue
        count = main.value(deployment["copy"]["count"]) if "copy" in deployment else 1
        for index in range(count):
            scope = Context(main.template, main.parameters, index if "copy" in deployment else None)
            passed = {}
            for name, argument in deployment["properties"].get("parameters", {}).items():
                try:
                    passed[name] = scope.value(argument["value"])
                except UnresolvableError:
                    continue
            contexts.append(Context(load(module), passed))
    return contexts


def module_context(environment: str, module: Path, **overrides: Any) -> Context:
    contexts = module_contexts(environment, module, **overrides)
    assert len(contexts) == 1, f"{module.name} is deployed {len(contexts)} times"
    return contexts[0]


def at(context: Context, node: Any, path: str) -> Any:
    """Follow a dotted ``path`` into ``node``, evaluating expressions met on the way."""
    value = context.value(node) if is_expression(node) else node
    for key in path.split(".") if path else []:
        value = _member(value, int(key) if isinstance(value, list) else key)
        if is_expression(value):
            value = context.value(value)
    return context.value(value)


def only_resource(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = resources_of_type(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]

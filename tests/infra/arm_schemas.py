"""Validate ARM resources against Azure's published resource schemas (vendored, pinned).

``infra/arm/schemas/`` holds the definitions of every resource type and API version the templates
use, from ``Azure/azure-resource-manager-schemas`` at the commit in its ``index.json``
(``refresh.py`` there updates them). Each resource is validated against the definition for its
``type``/``apiVersion`` at its template's deployment scope, with three rules on top of JSON
Schema draft 4:

* an ARM expression (a string ``[...]``) stands for any value: Azure evaluates it at deployment
  time, so no keyword applies to it (its evaluated value is checked separately, per environment,
  where the evaluator of ``arm_support`` can compute it);
* an object may carry only the properties its schema declares, unless the schema allows others
  (``additionalProperties``): Azure's schemas rarely say so, and a misspelt property is otherwise
  silently ignored by most resource providers;
* bounds that Azure's schemas state only in prose (``"Minimum value is 1. Maximum value is
  10."`` in a description) are enforced like ``minimum``/``maximum``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.infra.arm_support import ARM_DIR, RUNTIME, Context, UnresolvableError, is_expression

SCHEMAS_DIR = ARM_DIR / "schemas"
INDEX = SCHEMAS_DIR / "index.json"
SCOPES = {
    "deploymentTemplate.json": "resourceDefinitions",
    "subscriptionDeploymentTemplate.json": "subscription_resourceDefinitions",
}
# Template keywords of a resource, not part of the resource provider's body.
TEMPLATE_KEYWORDS = {
    "copy",
    "dependsOn",
    "condition",
    "metadata",
    "comments",
    "scope",
    "subscriptionId",
    "resourceGroup",
}
_MINIMUM = re.compile(r"Minimum value is (-?\d+)\.")
_MAXIMUM = re.compile(r"Maximum value is (-?\d+)\.")

Keyword = Callable[[Any, Any, Any, dict[str, Any]], Iterator[ValidationError]]


def template_scope(template: dict[str, Any]) -> str:
    name = str(template.get("$schema", "")).rstrip("#").rsplit("/", 1)[-1]
    return SCOPES.get(name, "resourceDefinitions")


@cache
def index() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(INDEX.read_text(encoding="utf-8"))
    return document


@cache
def _registry() -> Registry[Any]:
    resources = []
    for path in sorted(SCHEMAS_DIR.glob("*/*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        uri = document["id"].rstrip("#")
        resources.append((uri, Resource.from_contents(document, default_specification=DRAFT4)))
    return Registry().with_resources(resources)


def _skip_expressions(keyword: Keyword) -> Keyword:
    def check(validator: Any, value: Any, instance: Any, schema: dict[str, Any]):
        if is_expression(instance):
            return
        yield from keyword(validator, value, instance, schema)

    return check


def _declared_properties_only(keyword: Keyword) -> Keyword:
    def check(validator: Any, properties: Any, instance: Any, schema: dict[str, Any]):
        if is_expression(instance):
            return
        yield from keyword(validator, properties, instance, schema)
        if not validator.is_type(instance, "object") or not properties:
            return
        if "additionalProperties" in schema or "patternProperties" in schema:
            return
        for name in instance:
            if name not in properties and not is_expression(name):
                yield ValidationError(f"{name!r} is not a property of this object")

    return check


def _prose_bounds(validator: Any, description: Any, instance: Any, schema: dict[str, Any]):
    if not isinstance(description, str) or not validator.is_type(instance, "integer"):
        return
    low, high = _MINIMUM.search(description), _MAXIMUM.search(description)
    if low and instance < int(low.group(1)):
        yield ValidationError(f"{instance} is below the documented minimum {low.group(1)}")
    if high and instance > int(high.group(1)):
        yield ValidationError(f"{instance} is above the documented maximum {high.group(1)}")


_KEYWORDS = {
    name: _skip_expressions(function)
    for name, function in Draft4Validator.VALIDATORS.items()
    if name != "properties"
}
_KEYWORDS["properties"] = _declared_properties_only(Draft4Validator.VALIDATORS["properties"])
_KEYWORDS["description"] = _prose_bounds
ArmValidator = validators.extend(Draft4Validator, _KEYWORDS)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Finding:
    """One schema violation: which resource (and its type), where in it, and what."""

    where: str
    resource_type: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.path or '(resource)'}: {self.message}"


def definition_ref(resource_type: str, api_version: str, scope: str) -> str | None:
    entry = index()["resources"].get(f"{resource_type}@{api_version}@{scope}")
    if entry is None:
        return None
    file_id = json.loads((SCHEMAS_DIR / entry["file"]).read_text(encoding="utf-8"))["id"]
    return f"{file_id.rstrip('#')}#/{entry['collection']}/{entry['definition']}"


def _without_nulls(node: Any) -> Any:
    """ARM drops a property whose value is null; so does the check."""
    if isinstance(node, dict):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_nulls(item) for item in node]
    return node


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """The innermost causes: a oneOf between a real schema and an expression reports the
    reasons the real one failed, not "is not valid under any of the given schemas"."""
    if not error.context:
        yield error
        return
    branches: dict[str | int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0] if sub.schema_path else 0, []).append(sub)
    # The expression branch fails on "is not of type 'string'"; the other branch is the story.
    real = [errs for errs in branches.values() if not _only_expression_mismatch(errs)]
    for errs in real or list(branches.values()):
        for sub in errs:
            yield from _leaf_errors(sub)


def _only_expression_mismatch(errors: list[ValidationError]) -> bool:
    return all(e.validator in ("type", "pattern") and "expression" in str(e.schema) for e in errors)


def check_resource(resource: dict[str, Any], scope: str, where: str) -> list[Finding]:
    """Schema findings for one resource of a template deployed at ``scope``."""
    ref = definition_ref(resource["type"], resource["apiVersion"], scope)
    if ref is None:
        return [
            Finding(
                where,
                resource["type"],
                "",
                f"no published schema for {resource['type']}@{resource['apiVersion']} at {scope}"
                " (or not vendored: run infra/arm/schemas/refresh.py)",
            )
        ]
    body = _without_nulls({k: v for k, v in resource.items() if k not in TEMPLATE_KEYWORDS})
    findings = _validate(body, ref, where, resource["type"])
    # A child resource declared at the top level is named "parent/child". Some schemas state
    # the name rule for the full name, most for the last segment only: either may hold.
    name_findings = {f for f in findings if f.path == "name"}
    if name_findings and resource["type"].count("/") > 1 and not is_expression(body["name"]):
        child = {**body, "name": body["name"].rsplit("/", 1)[-1]}
        if not {f for f in _validate(child, ref, where, resource["type"]) if f.path == "name"}:
            findings = [f for f in findings if f not in name_findings]
    return sorted(set(findings), key=str)


def _validate(body: dict[str, Any], ref: str, where: str, resource_type: str) -> list[Finding]:
    validator = ArmValidator({"$ref": ref}, registry=_registry())
    findings = []
    for error in validator.iter_errors(body):
        for leaf in _leaf_errors(error):
            path = ".".join(str(p) for p in leaf.absolute_path)
            findings.append(Finding(where, resource_type, path, leaf.message))
    return findings


def check_template(path: Path) -> list[Finding]:
    """Every resource of the template file at ``path``, as written (expressions are any value)."""
    template = json.loads(path.read_text(encoding="utf-8"))
    scope = template_scope(template)
    findings = []
    for resource in template.get("resources", []):
        findings += check_resource(resource, scope, f"{path.name}: {resource['name']}")
    return findings


# --- resources as evaluated for one environment -------------------------------------------


def _masked(value: Any) -> Any:
    """``value`` with every deployment-time unknown (``RUNTIME``) turned back into "any"."""
    if value is RUNTIME or (isinstance(value, str) and str(RUNTIME) in value):
        return "[runtime()]"
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def partially_evaluated(context: Context, node: Any) -> Any:
    """``node`` with every expression the evaluator can compute replaced by its value; the others
    (outputs of other deployments, keys) stay expressions, i.e. any value."""
    if isinstance(node, dict):
        return {
            partially_evaluated(context, k): partially_evaluated(context, v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [partially_evaluated(context, item) for item in node]
    if is_expression(node):
        try:
            return _masked(context.value(node))
        except (UnresolvableError, KeyError, IndexError, TypeError, ValueError):
            return node
    return node


def _instances(context: Context, resource: dict[str, Any]) -> Iterator[Context]:
    """One context per copy of ``resource`` (one without a copy loop)."""
    if "copy" not in resource:
        yield context
        return
    try:
        count = context.value(resource["copy"]["count"])
    except UnresolvableError:
        count = 1
    for index in range(count):
        yield Context(context.template, context.parameters, index)


def check_evaluated(context: Context, where: str) -> list[Finding]:
    """Every resource of ``context.template`` with its parameters bound (one environment)."""
    scope = template_scope(context.template)
    findings = []
    for resource in context.template.get("resources", []):
        for instance in _instances(context, resource):
            if "condition" in resource:
                try:
                    if context.value(resource["condition"]) is False:
                        continue
                except UnresolvableError:
                    pass
            body = partially_evaluated(instance, resource)
            name = body["name"] if isinstance(body["name"], str) else resource["name"]
            findings += check_resource(body, scope, f"{where}: {name}")
    return findings

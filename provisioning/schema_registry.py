"""Publish the committed JSON Schemas to the Event Hubs schema registry, compatible ones only.

Each message schema (``contracts/schemas/<topic>.json``) is a schema named after its topic in one
schema group. Publishing is all or nothing and idempotent:

1. For every schema, read the registry's latest version of it (none: first publish).
2. A schema equal (as JSON) to its latest version is unchanged: nothing is registered, so a
   re-publish creates no new version. Any other schema must be backward compatible with the
   latest version (:func:`contracts.schema_compat.compare`, the check ``orderflow schemas
   generate`` applies to the committed files).
3. If any schema is incompatible, nothing is registered and :class:`IncompatibleSchemaError`
   names every problem. Otherwise the new and changed schemas are registered (new version each).

Takes a ready client, so tests can point one at a local stand-in of the registry's REST API;
:func:`registry_client` builds the real one (Entra ID through ``DefaultAzureCredential``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceNotFoundError
from azure.schemaregistry import SchemaFormat

from contracts.schema_compat import compare

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.schemaregistry import SchemaRegistryClient


@dataclass(frozen=True)
class SchemaDocument:
    """A schema to publish: its registry name and its definition, exactly as committed."""

    name: str
    definition: str

    @property
    def parsed(self) -> Mapping[str, Any]:
        value: Mapping[str, Any] = json.loads(self.definition)
        return value


class Action(StrEnum):
    REGISTER = "register"  # absent from the registry, or changed compatibly
    UNCHANGED = "unchanged"  # equal to the registry's latest version


@dataclass
class Outcome:
    name: str
    action: Action
    # The latest version before publishing; after publishing, the registered one.
    version: int | None = None
    schema_id: str | None = None

    def describe(self, *, dry_run: bool = False) -> str:
        if self.action is Action.UNCHANGED:
            return f"{self.name}: unchanged (version {self.version})"
        if dry_run:
            after = "as version 1" if self.version is None else f"after version {self.version}"
            return f"{self.name}: would register {after}"
        return f"{self.name}: registered version {self.version} (id {self.schema_id})"


@dataclass
class IncompatibleSchemaError(RuntimeError):
    """At least one schema is not backward compatible with its latest registered version."""

    group: str
    problems: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"not backward compatible with the latest version in schema group {self.group}:"]
        for name, problems in sorted(self.problems.items()):
            lines.extend(f"  {name}: {problem}" for problem in problems)
        return "\n".join(lines)


def fully_qualified_namespace(endpoint: str) -> str:
    """``https://ns.servicebus.windows.net/`` or ``ns.servicebus.windows.net`` -> the host name
    the client takes (the ARM output ``schemaRegistryEndpoint`` is the bare host)."""
    value = endpoint.strip()
    host = urlsplit(value if "//" in value else f"//{value}").netloc
    if not host or "/" in host:
        raise ValueError(f"not a schema registry endpoint: {endpoint!r}")
    return host


def registry_client(
    endpoint: str, credential: TokenCredential | None = None, **kwargs: Any
) -> SchemaRegistryClient:
    """The Azure client for ``endpoint``; Entra ID via ``DefaultAzureCredential`` by default
    (the caller needs *Schema Registry Contributor* on the namespace)."""
    from azure.schemaregistry import SchemaRegistryClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return SchemaRegistryClient(fully_qualified_namespace(endpoint), credential, **kwargs)


def _latest(
    client: SchemaRegistryClient, group: str, name: str
) -> tuple[int, Mapping[str, Any]] | None:
    """The newest registered version of ``name`` and its definition; None when it has none."""
    try:
        # The 1.x wrapper does not surface the REST API's "list versions" operation; its
        # generated client (same package) does.
        versions = list(
            client._generated_client.list_schema_versions(group_name=group, schema_name=name)
        )
    except ResourceNotFoundError:
        return None
    if not versions:
        return None
    version = max(versions)
    schema = client.get_schema(group_name=group, name=name, version=version)
    definition: Mapping[str, Any] = json.loads(schema.definition)
    return version, definition


def plan(
    client: SchemaRegistryClient, group: str, schemas: Iterable[SchemaDocument]
) -> list[Outcome]:
    """What publishing would do; raises :class:`IncompatibleSchemaError` naming every problem."""
    outcomes: list[Outcome] = []
    refused = IncompatibleSchemaError(group)
    for schema in schemas:
        latest = _latest(client, group, schema.name)
        if latest is None:
            outcomes.append(Outcome(schema.name, Action.REGISTER))
            continue
        version, registered = latest
        if registered == schema.parsed:
            outcomes.append(Outcome(schema.name, Action.UNCHANGED, version))
            continue
        problems = compare(registered, schema.parsed)
        if problems:
            refused.problems[schema.name] = problems
        outcomes.append(Outcome(schema.name, Action.REGISTER, version))
    if refused.problems:
        raise refused
    return outcomes


def publish(
    client: SchemaRegistryClient,
    group: str,
    schemas: Iterable[SchemaDocument],
    *,
    dry_run: bool = False,
) -> list[Outcome]:
    """Register every new or compatibly changed schema (all or nothing, see the module doc)."""
    documents = list(schemas)
    outcomes = plan(client, group, documents)
    if dry_run:
        return outcomes
    by_name = {document.name: document for document in documents}
    for outcome in outcomes:
        if outcome.action is Action.REGISTER:
            properties = client.register_schema(
                group, outcome.name, by_name[outcome.name].definition, SchemaFormat.JSON
            )
            outcome.version, outcome.schema_id = properties.version, properties.id
    return outcomes

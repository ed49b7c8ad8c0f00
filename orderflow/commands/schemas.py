"""``orderflow schemas``: write, check and publish the JSON Schemas of the published messages."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from azure.schemaregistry import SchemaRegistryClient

    from provisioning.schema_registry import SchemaDocument

# Not in config.settings: only this command uses them, and the pipeline sets them from the ARM
# outputs schemaRegistryEndpoint / schemaGroupName.
ENDPOINT_ENV = "ORDERFLOW_SCHEMA_REGISTRY__ENDPOINT"
GROUP_ENV = "ORDERFLOW_SCHEMA_REGISTRY__GROUP"
DEFAULT_GROUP = "orderflow"

app = typer.Typer(
    help="JSON Schemas of the Kafka messages (contracts/schemas/).", no_args_is_help=True
)


def schema_dir() -> Path:
    import contracts.schemas

    return Path(contracts.schemas.__file__).parent


def render(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


@app.command()
def generate() -> None:
    """Regenerate the schema files after checking the change is backward compatible."""
    from contracts.schema_compat import compare
    from contracts.schemas import generate_all

    failed = False
    for name, schema in generate_all().items():
        path = schema_dir() / name
        if path.exists():
            problems = compare(json.loads(path.read_text()), schema)
            if problems:
                failed = True
                typer.echo(f"{name}: not backward compatible, not written:", err=True)
                for problem in problems:
                    typer.echo(f"  {problem}", err=True)
                continue
        path.write_text(render(schema))
        typer.echo(f"wrote {path.name}")
    if failed:
        raise typer.Exit(1)


@app.command()
def check() -> None:
    """Fail when a committed schema differs from the models."""
    from contracts.schemas import generate_all

    stale = [
        name
        for name, schema in generate_all().items()
        if not (schema_dir() / name).exists() or (schema_dir() / name).read_text() != render(schema)
    ]
    if stale:
        typer.echo(
            "stale schemas (run `orderflow schemas generate`): " + ", ".join(stale), err=True
        )
        raise typer.Exit(1)
    typer.echo("schemas are up to date")


def committed_schemas() -> list[SchemaDocument]:
    """The committed schema files, named after their topic (``order.create.v1``)."""
    from provisioning.schema_registry import SchemaDocument

    return [
        SchemaDocument(name=path.stem, definition=path.read_text(encoding="utf-8"))
        for path in sorted(schema_dir().glob("*.json"))
    ]


def make_client(endpoint: str) -> SchemaRegistryClient:
    """The registry client (a seam: the tests substitute one aimed at a local stand-in)."""
    from provisioning.schema_registry import registry_client

    return registry_client(endpoint)


@app.command()
def publish(
    endpoint: Annotated[
        str | None,
        typer.Option(
            envvar=ENDPOINT_ENV,
            help="Event Hubs namespace host (ARM output schemaRegistryEndpoint), "
            "e.g. orderflow-dev-weu-evh.servicebus.windows.net",
            show_default=False,
        ),
    ] = None,
    group: Annotated[
        str, typer.Option(envvar=GROUP_ENV, help="Schema group (ARM output schemaGroupName).")
    ] = DEFAULT_GROUP,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check compatibility only; register nothing.")
    ] = False,
) -> None:
    """Register the committed schemas in the Event Hubs schema group (Entra ID auth).

    Refuses, registering nothing, when a schema is not backward compatible with the registry's
    latest version of it (exit 1); an unchanged schema creates no new version.
    """
    from azure.core.exceptions import HttpResponseError

    from config.settings import ConfigError
    from provisioning.schema_registry import IncompatibleSchemaError
    from provisioning.schema_registry import publish as publish_schemas

    if not endpoint or not endpoint.strip():
        raise ConfigError(f"{ENDPOINT_ENV} is not set (or pass --endpoint)")
    # azure-identity logs a failed token request as a warning before raising it; the error
    # below says it once.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    try:
        client = make_client(endpoint)
    except ValueError as exc:
        raise ConfigError(f"{ENDPOINT_ENV}: {exc}") from None
    try:
        with client:
            outcomes = publish_schemas(client, group, committed_schemas(), dry_run=dry_run)
    except IncompatibleSchemaError as exc:
        typer.echo(f"refused, nothing registered: {exc}", err=True)
        raise typer.Exit(1) from None
    except HttpResponseError as exc:  # authentication, authorisation, network
        typer.echo(f"schema registry {endpoint}: {exc.message}", err=True)
        raise typer.Exit(1) from None
    for outcome in outcomes:
        typer.echo(outcome.describe(dry_run=dry_run))

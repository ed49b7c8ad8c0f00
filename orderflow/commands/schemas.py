"""``orderflow schemas``: write or check the committed JSON Schemas of the published messages."""

from __future__ import annotations

import json
from pathlib import Path

import typer

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

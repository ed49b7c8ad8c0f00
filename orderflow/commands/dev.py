"""``orderflow dev``: the whole local stack in the foreground."""

from __future__ import annotations

import typer

from orderflow.commands.common import load_settings_or_exit


def dev() -> None:
    """Run PostgreSQL, Temporal (+ Web UI), the broker with its topics, and the app components.

    Services whose address is configured (ORDERFLOW_DATABASE__URL, ORDERFLOW_TEMPORAL__ADDRESS,
    ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS) are used instead of started. Data and logs live in the
    state folder (ORDERFLOW_STATE_DIR, default ./.orderflow). Ctrl-C stops everything.
    """
    from orderflow.devstack.supervisor import run_dev_stack

    settings = load_settings_or_exit()

    def echo(line: str) -> None:
        typer.echo(line)

    def echo_err(line: str) -> None:
        typer.echo(line, err=True)

    raise typer.Exit(run_dev_stack(settings, echo=echo, echo_err=echo_err))

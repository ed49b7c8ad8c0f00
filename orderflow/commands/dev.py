"""``orderflow dev``: the whole local stack in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer

from orderflow.commands.common import load_settings_or_exit


def dev(
    monitoring: Annotated[
        bool,
        typer.Option(
            "--monitoring",
            help="Also run Prometheus (Debian package) scraping every component, with the "
            "alert rules of infra/monitoring loaded; skipped with a message when not installed.",
        ),
    ] = False,
) -> None:
    """Run PostgreSQL, Temporal (+ Web UI), the broker with its topics, and the app components.

    Services whose address is configured (ORDERFLOW_DATABASE__URL, ORDERFLOW_TEMPORAL__ADDRESS,
    ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS) are used instead of started. Data and logs live in the
    state folder (ORDERFLOW_STATE_DIR, default ./.orderflow). Ctrl-C stops everything.
    """
    from config.settings import read_settings
    from orderflow.devstack.settings import DevStackSettings
    from orderflow.devstack.supervisor import run_dev_stack

    settings = load_settings_or_exit()
    dev_settings = read_settings(DevStackSettings)
    if monitoring:
        dev_settings = dev_settings.model_copy(update={"monitoring": True})

    def echo(line: str) -> None:
        typer.echo(line)

    def echo_err(line: str) -> None:
        typer.echo(line, err=True)

    raise typer.Exit(run_dev_stack(settings, dev_settings, echo=echo, echo_err=echo_err))

"""What the command entry points share: loading settings.

A missing or invalid setting raises :class:`config.settings.ConfigError` wherever it is found;
:func:`orderflow.cli.main` turns it into one line on stderr and exit code 2, for every command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Requirement, Settings


def load_settings_or_exit(*requirements: Requirement) -> Settings:
    """The process settings, with every variable in ``requirements`` set (else ConfigError)."""
    from config.settings import load_settings

    return load_settings(*requirements)

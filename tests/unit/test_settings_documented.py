"""Every setting a process reads is in the README's settings table.

The table abbreviates a group's related fields on one row
(`` `ORDERFLOW_DATABASE__POOL_SIZE` / `__MAX_OVERFLOW` ``), so a field counts as documented when
its full name appears, or when ``__FIELD`` appears on a row that names its group.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from config.settings import ENV_DELIMITER, Settings, env_name
from orderflow.devstack.settings import DevStackSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def _variables() -> list[tuple[str, str]]:
    """(group prefix, field) for every leaf setting, e.g. ("ORDERFLOW_KAFKA__", "PARTITIONS")."""
    found: list[tuple[str, str]] = []
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            prefix = env_name(name) + ENV_DELIMITER
            found += [(prefix, sub.upper()) for sub in annotation.model_fields]
        else:
            found.append((env_name(), name.upper()))
    found += [
        (env_name("dev") + ENV_DELIMITER, sub.upper()) for sub in DevStackSettings.model_fields
    ]
    return found


def _settings_table() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `ORDERFLOW_")]


@pytest.mark.parametrize(("prefix", "field"), _variables(), ids=lambda value: str(value))
def test_setting_is_in_the_readme_table(prefix: str, field: str) -> None:
    rows = _settings_table()
    full = f"`{prefix}{field}`"
    short = re.compile(rf"`{re.escape(ENV_DELIMITER + field)}`")
    documented = any(full in row or (f"`{prefix}" in row and short.search(row)) for row in rows)
    assert documented, f"{prefix}{field} is not in README.md's settings table"

"""The migrations' frozen copies of the status table still equal what the contract renders.

A migration never changes after it shipped, so it carries literal SQL instead of importing the
contract. This test finds the newest revision that carries each literal and compares it with
``db.status_sql``: a contract change without a new migration fails here.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from alembic.script import ScriptDirectory

from contracts.status import ALLOWED_TRANSITIONS, OrderStatus, is_allowed
from db.status_sql import status_codes_sql, transition_function_sql, transition_pairs
from provisioning.migrations import alembic_config


def _revisions_newest_first() -> list[ModuleType]:
    scripts = ScriptDirectory.from_config(alembic_config())
    return [script.module for script in scripts.walk_revisions()]


def _newest_literal(name: str) -> str:
    for module in _revisions_newest_first():
        value = getattr(module, name, None)
        if isinstance(value, str):
            return value
    pytest.fail(f"no migration defines {name}")


def test_newest_transition_function_equals_the_contract() -> None:
    assert _newest_literal("TRANSITION_FUNCTION_SQL") == transition_function_sql()


def test_newest_status_code_list_equals_the_contract() -> None:
    assert _newest_literal("STATUS_CODES_SQL") == status_codes_sql()


def test_rendered_pairs_are_exactly_the_allowed_transitions() -> None:
    pairs = set(transition_pairs())
    for source in OrderStatus:
        for target in OrderStatus:
            assert ((int(source), int(target)) in pairs) == is_allowed(source, target)
    assert len(pairs) == sum(len(targets) for targets in ALLOWED_TRANSITIONS.values())


def test_a_changed_contract_renders_different_sql() -> None:
    # Guards the test above against a renderer that ignores its input.
    reduced = dict(ALLOWED_TRANSITIONS)
    reduced[OrderStatus.OPEN] = frozenset({OrderStatus.CANCELED})
    assert transition_function_sql(reduced) != transition_function_sql()


def test_revision_ids_are_readable_and_linear() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1
    for script in scripts.walk_revisions():
        assert script.revision[:4].isdigit()
        assert "_" in script.revision
        assert Path(script.path).stem == script.revision

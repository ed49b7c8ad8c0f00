"""The expand/contract rule for migrations (docs/operations/rollback.md).

A deployment migrates the database before the new code serves anything, and a rollback leaves
the schema where it is, so the release before must keep working on the new schema. Hence:

* every migration downgrades one step cleanly, and upgrades again to the same schema
  (tests/integration/test_db_migrations.py covers head <-> base and head -> 0001; this walks
  every revision one step at a time, so a new migration is covered without editing a test);
* no migration's upgrade drops or renames a table or column, or makes a column NOT NULL without
  a server default, unless the file says it is the contract step of an earlier expansion:
  a line ``# contract migration for release <release>: <what it removes>``.
"""

from __future__ import annotations

import ast
import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from provisioning.migrations import alembic_config, downgrade, migrations_dir, upgrade
from tests.fixtures.database import EmptyDatabases
from tests.integration.test_db_migrations import schema_objects

CONTRACT_MARK = re.compile(r"^# contract migration for release (\S+): \S", re.M)
DESTRUCTIVE_OPS = {"drop_column", "drop_table", "rename_table"}
DESTRUCTIVE_SQL = re.compile(
    r"\bDROP\s+(TABLE|COLUMN)\b|\bRENAME\b|\bALTER\s+COLUMN\s+\S+\s+SET\s+NOT\s+NULL\b|\bTRUNCATE\b",
    re.I,
)


@dataclass(frozen=True)
class Finding:
    line: int
    what: str


def _keywords(call: ast.Call) -> dict[str, ast.expr]:
    return {keyword.arg: keyword.value for keyword in call.keywords if keyword.arg}


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _strings_reachable(node: ast.AST, constants: dict[str, ast.expr]) -> list[str]:
    """String literals in ``node`` and in the module-level constants it names (transitively)."""
    found: list[str] = []
    seen: set[str] = set()
    pending: list[ast.AST] = [node]
    while pending:
        current = pending.pop()
        for child in ast.walk(current):
            if isinstance(child, ast.Constant) and isinstance(child.value, str):
                found.append(child.value)
            elif isinstance(child, ast.Name) and child.id in constants and child.id not in seen:
                seen.add(child.id)
                pending.append(constants[child.id])
    return found


def destructive_operations(source: str) -> list[Finding]:
    """What ``upgrade()`` of a migration does that the release before could not survive."""
    tree = ast.parse(source)
    constants = {
        target.id: statement.value
        for statement in tree.body
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None
        for target in (
            statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        )
        if isinstance(target, ast.Name)
    }
    upgrade_fn = next(
        (s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == "upgrade"), None
    )
    if upgrade_fn is None:
        return []
    findings: list[Finding] = []
    for node in ast.walk(upgrade_fn):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, keywords = node.func.attr, _keywords(node)
        if name in DESTRUCTIVE_OPS:
            findings.append(Finding(node.lineno, name))
        elif name == "alter_column":
            if "new_column_name" in keywords:
                findings.append(Finding(node.lineno, "alter_column renames a column"))
            nullable = keywords.get("nullable")
            if _is_false(nullable) and "server_default" not in keywords:
                findings.append(Finding(node.lineno, "alter_column nullable=False, no default"))
        elif name == "execute":
            for text in _strings_reachable(node, constants):
                match = DESTRUCTIVE_SQL.search(text)
                if match:
                    findings.append(Finding(node.lineno, f"SQL {match.group(0)!r}"))
    return findings


def contract_release(source: str) -> str | None:
    mark = CONTRACT_MARK.search(source)
    return mark.group(1) if mark else None


def _revisions_oldest_first() -> list[tuple[str, str]]:
    """(revision, down revision or "base") for every migration, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    walk = list(script.walk_revisions("base", "heads"))
    assert all(not isinstance(r.down_revision, tuple) for r in walk), "merge revisions: extend"
    return [(r.revision, str(r.down_revision or "base")) for r in reversed(walk)]


def _newest_migration() -> Path:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    matches = [
        p for p in (migrations_dir() / "versions").glob("*.py") if f'"{head}"' in p.read_text()
    ]
    assert len(matches) == 1, matches
    return matches[0]


# --------------------------------------------------------------------------- static rule


def test_the_newest_migration_is_expand_only_or_a_marked_contract() -> None:
    path = _newest_migration()
    source = path.read_text(encoding="utf-8")
    findings = destructive_operations(source)
    if findings and contract_release(source) is None:
        details = "; ".join(f"line {f.line}: {f.what}" for f in findings)
        pytest.fail(
            f"{path.name} removes or renames something the running release may still use "
            f"({details}). Expand now, contract in the next release, or mark the file "
            "'# contract migration for release <release>: <what>' (docs/operations/rollback.md)."
        )


@pytest.mark.parametrize(
    "path", sorted((migrations_dir() / "versions").glob("*.py")), ids=lambda p: p.stem
)
def test_released_migrations_follow_the_rule(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert destructive_operations(source) == [] or contract_release(source) is not None


UPGRADE = "from alembic import op\nimport sqlalchemy as sa\n\ndef upgrade() -> None:\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('    op.drop_column("orders", "note")\n', "drop_column"),
        ('    op.drop_table("orders")\n', "drop_table"),
        ('    op.rename_table("orders", "order")\n', "rename_table"),
        ('    op.alter_column("orders", "a", new_column_name="b")\n', "renames"),
        ('    op.alter_column("orders", "a", nullable=False)\n', "nullable=False"),
        ('    op.execute("ALTER TABLE orders DROP COLUMN note")\n', "DROP COLUMN"),
        ("    op.execute(SQL)\n", "SET NOT NULL"),
    ],
)
def test_the_rule_finds_destructive_operations(body: str, expected: str) -> None:
    source = 'SQL = "ALTER TABLE orders ALTER COLUMN a SET NOT NULL"\n' + UPGRADE + body
    findings = destructive_operations(source)
    assert findings
    assert expected in findings[0].what
    marked = "# contract migration for release 2026.12.1: drops orders.note\n" + source
    assert contract_release(marked) == "2026.12.1"


@pytest.mark.parametrize(
    "body",
    [
        '    op.add_column("orders", sa.Column("note", sa.Text(), nullable=True))\n',
        '    op.alter_column("orders", "a", nullable=False, server_default="x")\n',
        '    op.create_index("ix", "orders", ["a"])\n',
        '    op.execute("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ 1 $$")\n',
    ],
)
def test_the_rule_allows_expansions(body: str) -> None:
    assert destructive_operations(UPGRADE + body) == []


def test_a_downgrade_may_drop_what_its_upgrade_added() -> None:
    source = UPGRADE + '    op.add_column("t", sa.Column("c", sa.Text()))\n\n'
    source += 'def downgrade() -> None:\n    op.drop_column("t", "c")\n'
    assert destructive_operations(source) == []


# --------------------------------------------------------------------------- every downgrade runs


async def _app_schema(url: str) -> set[str]:
    """The schema's objects without Alembic's own bookkeeping table."""
    return {name for name in await schema_objects(url) if "alembic_version" not in name}


@pytest.mark.integration
async def test_every_migration_downgrades_one_step_and_upgrades_again(
    empty_databases: EmptyDatabases,
) -> None:
    url = await empty_databases.create("orderflow_migrate_steps")
    schema_at: dict[str, set[str]] = {"base": await _app_schema(url)}
    for revision, down in _revisions_oldest_first():
        await asyncio.to_thread(upgrade, url, revision)
        schema_at[revision] = await _app_schema(url)
        assert schema_at[revision] != schema_at[down], f"{revision} changes nothing"
        await asyncio.to_thread(downgrade, url, down)
        assert await _app_schema(url) == schema_at[down], f"downgrade of {revision}"
        await asyncio.to_thread(upgrade, url, revision)
        assert await _app_schema(url) == schema_at[revision], f"re-upgrade of {revision}"

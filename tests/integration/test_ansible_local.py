"""``infra/ansible/local.yml`` for real: the local environment provisioned by the Ansible code.

Against real services started for this module — PostgreSQL (the session's server), a Temporal
dev server without Orderflow's search attributes and a broker without topics, the way the local
stack's ``dev.env`` describes them — the playbook creates the database and the app role with its
privileges, and ``orderflow setup`` run as that role migrates, creates the topics and registers
the search attributes. The first run reports changes, the second ``changed=0``.

A database the local stack already migrated as the superuser (what ``orderflow dev`` does at
start) is handed to the app role, then left alone.
"""

from __future__ import annotations

import re
import secrets
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from temporalio.client import Client

from orderflow.devstack.broker import BrokerHandle, start_broker
from orderflow.devstack.net import free_port
from orderflow.devstack.temporal import TemporalHandle, start_temporal
from provisioning.migrations import head_revision, upgrade_async
from provisioning.search_attributes import missing_search_attributes
from provisioning.topics import missing_topics
from tests.helpers.tools import REPO_ROOT
from tests.infra.test_ansible import local_playbook, play_recap, run_playbook, succeeded

pytestmark = pytest.mark.integration

ORDER_TABLES = {"alembic_version", "orders", "order_lines", "order_status_history"}


def setup_status(result: subprocess.CompletedProcess[str]) -> str:
    """``changed`` or ``ok``: how the playbook reported the ``orderflow setup`` task."""
    match = re.search(r"TASK \[orderflow_setup : Run orderflow setup[^\n]*\n(\w+):", result.stdout)
    assert match, result.stdout
    return match.group(1)


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalHandle]:
    """A dev server in memory, without any custom search attribute."""
    handle = start_temporal(
        host="127.0.0.1",
        port=free_port(),
        ui_port=None,
        db_file=None,
        log_path=tmp_path_factory.mktemp("temporal") / "temporal.log",
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    """A broker without topics."""
    handle = start_broker(
        host="127.0.0.1",
        port=free_port(),
        log_path=tmp_path_factory.mktemp("broker") / "broker.log",
    )
    try:
        yield handle
    finally:
        handle.stop()


@dataclass
class LocalEnvironment:
    """One run's target: a database name and app role of its own on the session's server."""

    admin_url: str  # libpq URL of the server's maintenance database
    database: str
    app_role: str
    state_dir: Path

    def url(self, database: str | None = None, driver: str = "postgresql+asyncpg") -> str:
        url = make_url(self.admin_url).set(drivername=driver, database=database or self.database)
        return url.render_as_string(hide_password=False)

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.url(driver="postgresql"))


@pytest_asyncio.fixture
async def local_env(postgres_admin_url: str, tmp_path: Path) -> AsyncIterator[LocalEnvironment]:
    suffix = secrets.token_hex(4)
    env = LocalEnvironment(
        admin_url=postgres_admin_url,
        database=f"orderflow_ansible_{suffix}",
        app_role=f"orderflow_app_{suffix}",
        state_dir=tmp_path / "state",
    )
    try:
        yield env
    finally:
        admin = await asyncpg.connect(postgres_admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{env.database}" WITH (FORCE)')
            await admin.execute(f'DROP ROLE IF EXISTS "{env.app_role}"')
        finally:
            await admin.close()


def provision(
    env: LocalEnvironment, broker: BrokerHandle, temporal: TemporalHandle
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook local.yml`` with the stack's dev.env variables set."""
    return run_playbook(
        "local.yml",
        "-e",
        f"orderflow_local_app_role={env.app_role}",
        # The CLI of the environment running the tests (the checkout's .venv).
        "-e",
        f"orderflow_cli={Path(sys.executable).parent / 'orderflow'}",
        env={
            "ORDERFLOW_DATABASE__URL": env.url(),
            "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "ORDERFLOW_TEMPORAL__ADDRESS": temporal.address,
            "ORDERFLOW_STATE_DIR": str(env.state_dir),
        },
        timeout_s=180,
    )


async def owners(env: LocalEnvironment) -> dict[str, str]:
    """Owner of each table and function in the database's public schema."""
    connection = await env.connect()
    try:
        rows = await connection.fetch(
            "SELECT tablename AS name, tableowner AS owner FROM pg_tables"
            " WHERE schemaname = 'public'"
            " UNION ALL SELECT proname, pg_get_userbyid(proowner) FROM pg_proc"
            " WHERE pronamespace = 'public'::regnamespace"
        )
    finally:
        await connection.close()
    return {row["name"]: row["owner"] for row in rows}


async def test_local_yml_provisions_fresh_services_then_reports_no_change(
    local_env: LocalEnvironment, broker: BrokerHandle, temporal: TemporalHandle
) -> None:
    first = provision(local_env, broker, temporal)
    assert succeeded(first).changed > 0
    assert setup_status(first) == "changed"

    second = provision(local_env, broker, temporal)
    assert succeeded(second).changed == 0, second.stdout
    assert setup_status(second) == "ok"

    # What the first run did, checked against the services themselves.
    tables = await owners(local_env)
    assert set(tables) >= ORDER_TABLES
    assert set(tables.values()) == {local_env.app_role}  # migrated by the app role itself
    connection = await local_env.connect()
    try:
        assert await connection.fetchval("SELECT version_num FROM alembic_version") == (
            head_revision()
        )
        privileges = await connection.fetchrow(
            "SELECT has_database_privilege($1, current_database(), 'CONNECT') AS connect,"
            " has_schema_privilege($1, 'public', 'CREATE') AS create_in_public,"
            " rolcanlogin AS login, rolsuper AS superuser FROM pg_roles WHERE rolname = $1",
            local_env.app_role,
        )
    finally:
        await connection.close()
    assert dict(privileges) == {
        "connect": True,
        "create_in_public": True,
        "login": True,
        "superuser": False,
    }
    assert await missing_topics({"bootstrap_servers": broker.bootstrap_servers}) == []
    client = await Client.connect(temporal.address)
    assert await missing_search_attributes(client) == []

    # The app role's password was generated once, kept owner-only in the state folder.
    password_file = local_env.state_dir / "ansible" / f"{local_env.app_role}.password"
    assert stat.S_IMODE(password_file.stat().st_mode) & 0o077 == 0


async def test_local_yml_adopts_a_database_the_stack_migrated_as_superuser(
    local_env: LocalEnvironment, broker: BrokerHandle, temporal: TemporalHandle
) -> None:
    admin = await asyncpg.connect(local_env.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{local_env.database}"')
    finally:
        await admin.close()
    await upgrade_async(local_env.url())
    superuser = make_url(local_env.admin_url).username or "postgres"
    assert set((await owners(local_env)).values()) == {superuser}

    first = provision(local_env, broker, temporal)
    assert succeeded(first).changed > 0
    assert set((await owners(local_env)).values()) == {local_env.app_role}

    second = provision(local_env, broker, temporal)
    assert succeeded(second).changed == 0, second.stdout


async def test_local_yml_names_the_missing_stack_variables(tmp_path: Path) -> None:
    result = run_playbook("local.yml", env={"ORDERFLOW_STATE_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert play_recap(result).failed == 1
    assert "ORDERFLOW_DATABASE__URL" in result.stdout
    assert "source .orderflow/dev.env" in result.stdout


# --------------------------------------------------------------------- Azure's administrator


@dataclass
class NonSuperuserAdmin:
    """A server administrator like Azure's: LOGIN, CREATEROLE, CREATEDB, no superuser (it
    cannot read pg_authid, so no tool can compare a role's password with a wanted one)."""

    login: dict[str, object]
    database: str
    app_role: str


@pytest_asyncio.fixture
async def azure_like_admin(postgres_admin_url: str) -> AsyncIterator[NonSuperuserAdmin]:
    suffix = secrets.token_hex(4)
    name, password = f"azure_admin_{suffix}", secrets.token_urlsafe(16)
    url = make_url(postgres_admin_url)
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(
            f"CREATE ROLE \"{name}\" LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD '{password}'"
        )
    finally:
        await admin.close()
    host = url.host or str(url.query.get("host", ""))
    target = NonSuperuserAdmin(
        login={
            "host": host,
            "port": url.port or 5432,
            "user": name,
            "password": password,
            "ssl_mode": "disable" if host.startswith("/") else "prefer",
            "maintenance_db": url.database or "postgres",
        },
        database=f"orderflow_azure_{suffix}",
        app_role=f"orderflow_app_{suffix}",
    )
    try:
        yield target
    finally:
        admin = await asyncpg.connect(postgres_admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
            await admin.execute(f'DROP ROLE IF EXISTS "{target.app_role}"')
            await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
        finally:
            await admin.close()


def run_app_database(
    target: NonSuperuserAdmin, tmp_path: Path, **role_vars: object
) -> subprocess.CompletedProcess[str]:
    playbook = local_playbook(
        tmp_path / "app_database.yml",
        "App database as a non-superuser administrator",
        roles=[
            {
                "role": "app_database",
                "vars": {
                    "app_database_login": target.login,
                    "app_database_name": target.database,
                    "app_database_app_role": target.app_role,
                    "app_database_app_password": "app-password-0123456789",
                    **role_vars,
                },
            }
        ],
    )
    return run_playbook(
        str(playbook),
        inventory="localhost,",
        cwd=tmp_path,
        env={"ANSIBLE_ROLES_PATH": str(REPO_ROOT / "infra" / "ansible" / "roles")},
        timeout_s=180,
    )


async def test_app_database_is_idempotent_under_a_non_superuser_administrator(
    azure_like_admin: NonSuperuserAdmin, postgres_admin_url: str, tmp_path: Path
) -> None:
    """M1: on Azure the role's second run must report changed=0 (it re-set the password)."""
    connection = await asyncpg.connect(postgres_admin_url)
    try:
        facts = await connection.fetchrow(
            "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1",
            azure_like_admin.login["user"],
        )
    finally:
        await connection.close()
    assert dict(facts) == {"rolsuper": False, "rolcreaterole": True}

    first = run_app_database(azure_like_admin, tmp_path)
    assert succeeded(first).changed > 0
    second = run_app_database(azure_like_admin, tmp_path)
    assert succeeded(second).changed == 0, second.stdout

    connection = await asyncpg.connect(postgres_admin_url)
    try:
        role = await connection.fetchrow(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
            " WHERE rolname = $1",
            azure_like_admin.app_role,
        )
        create_in_public = await connection.fetchval(
            "SELECT has_database_privilege($1, $2, 'CREATE')",
            azure_like_admin.app_role,
            azure_like_admin.database,
        )
    finally:
        await connection.close()
    assert dict(role) == {
        "rolcanlogin": True,
        "rolsuper": False,
        "rolcreaterole": False,
        "rolcreatedb": False,
    }
    assert create_in_public is True

    # A rotation is asked for explicitly, and then it is a change.
    rotated = run_app_database(azure_like_admin, tmp_path, app_database_password_rotation=True)
    assert succeeded(rotated).changed == 1

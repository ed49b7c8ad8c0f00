"""``orderflow schemas publish`` against a local stand-in of the Event Hubs schema registry.

The stand-in implements the four REST calls the ``azure-schemaregistry`` client (1.3, API
version 2022-10) makes for publishing: list a schema's versions, get one version, register. It
checks the bearer token and the content type the service expects, and keeps every version in
memory, so the tests see exactly what a publish registered.

The real client talks to it: the Azure client builds ``https://<namespace>`` URLs and refuses
bearer tokens over plain HTTP, so the tests give it a fake ``TokenCredential`` and a requests
transport that sends each request to the stand-in's ``http://127.0.0.1:PORT`` instead (the
transport runs after the authentication policy, which therefore still sees an https URL).
Nothing here has talked to Azure.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from azure.schemaregistry import SchemaRegistryClient
from typer.testing import CliRunner

from orderflow.cli import app
from orderflow.commands import schemas as schemas_command
from provisioning.schema_registry import (
    Action,
    IncompatibleSchemaError,
    SchemaDocument,
    fully_qualified_namespace,
    publish,
)

GROUP = "orderflow"
NAMESPACE = "orderflow-test-weu-evh.servicebus.windows.net"
TOKEN = "stand-in-token"
EVENT_HUBS_SCOPE = "https://eventhubs.azure.net/.default"
JSON_CONTENT_TYPE = "application/json; serialization=Json"
API_VERSION = "2022-10"


@dataclass
class Registry:
    """The stand-in's state: group -> schema name -> definitions (index = version - 1)."""

    groups: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    ids: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    registrations: int = 0

    def versions(self, group: str, name: str) -> list[str]:
        return self.groups.get(group, {}).get(name, [])


class Handler(BaseHTTPRequestHandler):
    registry: Registry

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _error(self, status: HTTPStatus, code: str) -> None:
        body = json.dumps({"error": {"code": code, "message": code}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _checked_path(self) -> str | None:
        """The path, once the token and API version are right (else answers the error)."""
        url = urlsplit(self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._error(HTTPStatus.UNAUTHORIZED, "Unauthorized")
            return None
        if parse_qs(url.query).get("api-version") != [API_VERSION]:
            self._error(HTTPStatus.BAD_REQUEST, "InvalidApiVersion")
            return None
        return url.path

    def _schema_headers(self, group: str, name: str, version: int) -> None:
        schema_id = next(i for i, key in self.registry.ids.items() if key == (group, name, version))
        self.send_header("Schema-Id", schema_id)
        self.send_header("Schema-Group-Name", group)
        self.send_header("Schema-Name", name)
        self.send_header("Schema-Version", str(version))
        self.send_header("Location", f"/$schemaGroups/{group}/schemas/{name}/versions/{version}")

    def do_GET(self) -> None:
        path = self._checked_path()
        if path is None:
            return
        if match := re.fullmatch(r"/\$schemaGroups/([^/]+)/schemas/([^/]+)/versions", path):
            versions = self.registry.versions(*match.groups())
            if not versions:
                self._error(HTTPStatus.NOT_FOUND, "ItemNotFound")
                return
            body = json.dumps({"Value": list(range(1, len(versions) + 1))}).encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
        elif match := re.fullmatch(r"/\$schemaGroups/([^/]+)/schemas/([^/]+)/versions/(\d+)", path):
            group, name, number = match.group(1), match.group(2), int(match.group(3))
            versions = self.registry.versions(group, name)
            if not 0 < number <= len(versions):
                self._error(HTTPStatus.NOT_FOUND, "ItemNotFound")
                return
            body = versions[number - 1].encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", JSON_CONTENT_TYPE)
            self._schema_headers(group, name, number)
        else:
            self._error(HTTPStatus.NOT_FOUND, "UnknownPath")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        path = self._checked_path()
        if path is None:
            return
        match = re.fullmatch(r"/\$schemaGroups/([^/]+)/schemas/([^/:]+)", path)
        if match is None or match.group(1) not in self.registry.groups:
            self._error(HTTPStatus.NOT_FOUND, "ItemNotFound")  # groups come from ARM
            return
        if self.headers.get("Content-Type") != JSON_CONTENT_TYPE:
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "InvalidSchemaType")
            return
        definition = self.rfile.read(int(self.headers["Content-Length"])).decode()
        json.loads(definition)  # the service refuses a definition that is not JSON
        group, name = match.groups()
        versions = self.registry.groups[group].setdefault(name, [])
        versions.append(definition)
        self.registry.ids[uuid.uuid4().hex] = (group, name, len(versions))
        self.registry.registrations += 1
        self.send_response(HTTPStatus.NO_CONTENT)
        self._schema_headers(group, name, len(versions))
        self.end_headers()


class FakeCredential:
    """A ``TokenCredential`` that hands out the stand-in's token for the Event Hubs scope."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(TOKEN, 4_102_444_800)  # 2100-01-01


# azure.core exports its transports lazily (module __getattr__), so mypy sees Any.
class LoopbackTransport(RequestsTransport):  # type: ignore[misc]
    """Sends every request to the stand-in over plain HTTP, whatever host the client built."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.netloc = f"127.0.0.1:{port}"

    def send(self, request: Any, **kwargs: Any) -> Any:
        url = urlsplit(request.url)
        request.url = urlunsplit(("http", self.netloc, url.path, url.query, ""))
        return super().send(request, **kwargs)


@dataclass
class StandIn:
    registry: Registry
    port: int
    credential: FakeCredential

    def client(self) -> SchemaRegistryClient:
        return SchemaRegistryClient(
            NAMESPACE, self.credential, transport=LoopbackTransport(self.port)
        )


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    registry = Registry(groups={GROUP: {}})
    handler = type("BoundHandler", (Handler,), {"registry": registry})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield StandIn(registry, server.server_address[1], FakeCredential())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def committed() -> list[SchemaDocument]:
    return schemas_command.committed_schemas()


def changed(document: SchemaDocument, edit: Any) -> SchemaDocument:
    schema = copy.deepcopy(json.loads(document.definition))
    edit(schema)
    return SchemaDocument(document.name, json.dumps(schema, indent=2, sort_keys=True) + "\n")


def test_the_committed_schemas_are_the_three_topics() -> None:
    assert [d.name for d in committed()] == [
        "order.create.v1",
        "order.status.v1",
        "order.validation.v1",
    ]


def test_first_publish_registers_every_schema_as_committed(stand_in: StandIn) -> None:
    with stand_in.client() as client:
        outcomes = publish(client, GROUP, committed())

    assert [(o.name, o.action, o.version) for o in outcomes] == [
        (d.name, Action.REGISTER, 1) for d in committed()
    ]
    stored = stand_in.registry.groups[GROUP]
    assert {name: versions for name, versions in stored.items()} == {
        d.name: [d.definition] for d in committed()
    }
    assert all(o.schema_id in stand_in.registry.ids for o in outcomes)
    assert set(stand_in.credential.scopes) == {EVENT_HUBS_SCOPE}


def test_republishing_unchanged_schemas_registers_nothing(stand_in: StandIn) -> None:
    with stand_in.client() as client:
        publish(client, GROUP, committed())
        again = publish(client, GROUP, committed())

    assert {(o.action, o.version) for o in again} == {(Action.UNCHANGED, 1)}
    assert stand_in.registry.registrations == 3


def test_a_compatible_change_becomes_the_next_version(stand_in: StandIn) -> None:
    original = committed()
    status = next(d for d in original if d.name == "order.status.v1")
    widened = changed(
        status,
        lambda s: s["properties"].update({"Note": {"type": "string", "title": "Note"}}),
    )
    with stand_in.client() as client:
        publish(client, GROUP, original)
        outcomes = publish(client, GROUP, [widened])

    assert [(o.name, o.action, o.version) for o in outcomes] == [
        ("order.status.v1", Action.REGISTER, 2)
    ]
    assert stand_in.registry.versions(GROUP, "order.status.v1") == [
        status.definition,
        widened.definition,
    ]


def test_an_incompatible_change_is_refused_and_nothing_is_registered(stand_in: StandIn) -> None:
    original = committed()
    create, status, validation = original
    narrowed = changed(create, lambda s: s["required"].append("CustomerID"))
    shrunk = changed(status, lambda s: s["properties"].pop("Reason"))
    widened = changed(validation, lambda s: s["properties"].update({"Note": {"type": "string"}}))
    with stand_in.client() as client:
        publish(client, GROUP, original)
        with pytest.raises(IncompatibleSchemaError) as refused:
            publish(client, GROUP, [narrowed, shrunk, widened])

    assert refused.value.problems == {
        "order.create.v1": ["$.CustomerID: property became required"],
        "order.status.v1": ["$.Reason: property removed"],
    }
    # All or nothing: the compatible change in the same run was not registered either.
    assert stand_in.registry.registrations == 3
    assert all(len(v) == 1 for v in stand_in.registry.groups[GROUP].values())


def test_a_dry_run_checks_without_registering(stand_in: StandIn) -> None:
    with stand_in.client() as client:
        outcomes = publish(client, GROUP, committed(), dry_run=True)
    assert {o.action for o in outcomes} == {Action.REGISTER}
    assert stand_in.registry.registrations == 0


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        (
            "orderflow-dev-weu-evh.servicebus.windows.net",
            "orderflow-dev-weu-evh.servicebus.windows.net",
        ),
        (
            "https://orderflow-dev-weu-evh.servicebus.windows.net/",
            "orderflow-dev-weu-evh.servicebus.windows.net",
        ),
        ("127.0.0.1:8443", "127.0.0.1:8443"),
    ],
)
def test_the_endpoint_may_be_a_host_or_a_url(endpoint: str, host: str) -> None:
    assert fully_qualified_namespace(endpoint) == host


# --------------------------------------------------------------------------- the command


@pytest.fixture
def cli(stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """``orderflow schemas publish`` with its client aimed at the stand-in."""
    endpoints: list[str] = []

    def make_client(endpoint: str) -> SchemaRegistryClient:
        endpoints.append(endpoint)
        return stand_in.client()

    monkeypatch.setattr(schemas_command, "make_client", make_client)
    monkeypatch.delenv(schemas_command.ENDPOINT_ENV, raising=False)
    monkeypatch.delenv(schemas_command.GROUP_ENV, raising=False)
    return stand_in


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["schemas", "publish", *args], env=env)


def test_the_command_publishes_then_reports_unchanged(cli: StandIn) -> None:
    first = run(env={schemas_command.ENDPOINT_ENV: NAMESPACE})
    assert first.exit_code == 0, first.output
    assert first.output.count("registered version 1") == 3

    second = run("--endpoint", NAMESPACE, "--group", GROUP)
    assert second.exit_code == 0, second.output
    assert second.output.splitlines() == [f"{d.name}: unchanged (version 1)" for d in committed()]


def test_the_command_refuses_an_incompatible_schema_with_exit_1(
    cli: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = committed()
    assert run("--endpoint", NAMESPACE).exit_code == 0
    narrowed = changed(original[0], lambda s: s["properties"].pop("OrgID"))
    monkeypatch.setattr(schemas_command, "committed_schemas", lambda: [narrowed, *original[1:]])

    result = run("--endpoint", NAMESPACE)
    assert result.exit_code == 1
    assert "refused, nothing registered" in result.output
    assert "order.create.v1: $.OrgID: property removed" in result.output
    assert cli.registry.registrations == 3


def test_the_command_without_an_endpoint_exits_2_naming_the_variable(cli: StandIn) -> None:
    result = run()
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"orderflow: {schemas_command.ENDPOINT_ENV} is not set (or pass --endpoint)"
    ]

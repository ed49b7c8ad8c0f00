"""Schemathesis fuzzes the API against its own OpenAPI document: the real app (as
``test_api.py`` builds it) on the session's PostgreSQL and Temporal dev server, called in
process through schemathesis' ASGI client. No request may get a 5xx; every error answer is JSON.

The operations come from the app's OpenAPI document at import (``from_dict``; the document
needs no services), and each request goes to the app built by the ``asgi_session`` fixture.
(``schemathesis.pytest.from_fixture`` would be the natural loader, but it breaks on pytest 9:
it sets ``node._nodeid``, which pytest 9 no longer has.) Schemathesis runs the app's lifespan on
its own event-loop thread, so the app opens its own engine and Temporal client there (the
session's belong to the session's loop); the lifespan is closed at the end so the session can
drop its database. Bounded: 40 examples per operation (10 without the token), no per-example
deadline (a busy machine is not a failure); about 10 s here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient, get_client, shutdown_lifespans
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from api.deps import ApiDeps
from db.engine import create_engine

pytestmark = pytest.mark.integration

TOKEN = "fuzz-token-" + uuid.uuid4().hex
BASE_URL = "http://testserver"


def _never(*_: Any) -> Any:
    raise AssertionError("the schema-only app never starts")


schema = schemathesis.openapi.from_dict(
    create_app(ApiDeps(create_engine=_never, connect_temporal=_never)).openapi()
)


@pytest.fixture
def asgi_session(database_url: str, temporal_address: str) -> Iterator[ASGIClient]:
    """The real app, its lifespan running on schemathesis' event-loop thread (per operation:
    schemathesis' parametrized items don't share wider-scoped fixtures anyway)."""

    async def connect_temporal() -> Client:
        return await Client.connect(temporal_address, data_converter=pydantic_data_converter)

    app = create_app(
        ApiDeps(
            create_engine=lambda: create_engine(database_url, pool_size=2),
            connect_temporal=connect_temporal,
            token=TOKEN,
            update_timeout_s=5.0,
        )
    )
    try:
        with get_client(cast(Any, app)) as client:
            yield client
    finally:
        shutdown_lifespans()


@schemathesis.check
def error_is_json(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """A 4xx/5xx answer has a JSON body (``{"detail": …}``), never text or HTML."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), (
        f"{response.status_code} with content type {content_type!r}"
    )
    response.json()  # raises when it is not JSON
    return True


CHECKS: list[schemathesis.CheckFunction] = [not_a_server_error, error_is_json]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        # One app per operation, shared by its examples: intended.
        HealthCheck.function_scoped_fixture,
    ],
    derandomize=True,
)


@schema.parametrize()
@FUZZ
def test_no_server_errors_and_errors_are_json(
    case: schemathesis.Case[Any], asgi_session: ASGIClient
):
    case.call_and_validate(
        base_url=BASE_URL,
        session=asgi_session,
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=CHECKS,
    )


@schema.parametrize()
@settings(FUZZ, max_examples=10)
def test_without_the_token_too(case: schemathesis.Case[Any], asgi_session: ASGIClient):
    case.call_and_validate(base_url=BASE_URL, session=asgi_session, checks=CHECKS)

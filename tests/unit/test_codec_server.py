"""``orderflow codec-server``'s app: Temporal's remote codec protocol, bearer auth, CORS for the
Web UI's origin, and the probes on the same port."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from temporalio.api.common.v1 import Payload

from codec.aes import AesGcmPayloadCodec
from workers.codec_process import build_codec_server

TOKEN = "codec-test-token"
UI = "http://127.0.0.1:8233"
SECRET = b'{"CustomerID": "CUST-SECRET-7731"}'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def payloads_json(*payloads: Payload) -> dict[str, object]:
    """A Payloads message in protobuf JSON, as the Web UI and CLI send it."""
    return {
        "payloads": [
            {"metadata": {k: b64(v) for k, v in p.metadata.items()}, "data": b64(p.data)}
            for p in payloads
        ]
    }


def from_json(body: dict[str, list[dict[str, dict[str, str] | str]]]) -> list[Payload]:
    found = []
    for entry in body["payloads"]:
        metadata = entry["metadata"]
        assert isinstance(metadata, dict)
        data = entry.get("data", "")
        assert isinstance(data, str)
        found.append(
            Payload(
                metadata={k: base64.b64decode(v) for k, v in metadata.items()},
                data=base64.b64decode(data),
            )
        )
    return found


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=SECRET)
codec = AesGcmPayloadCodec({"k1": bytes(32)})


def client_for(token: str | None) -> httpx.AsyncClient:
    probes = build_codec_server(codec, token=token, cors_origins=[UI], registry=CollectorRegistry())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=probes.app), base_url="http://t")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(TOKEN) as opened:
        yield opened


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_decode_returns_the_plain_payloads(client: httpx.AsyncClient) -> None:
    [sealed] = await codec.encode([PLAIN])
    response = await client.post("/decode", json=payloads_json(sealed), headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert from_json(response.json()) == [PLAIN]


async def test_encode_then_decode_under_a_namespace_prefix(client: httpx.AsyncClient) -> None:
    """Only the last path segment counts (``{endpoint}/{namespace}/decode`` works too)."""
    headers = {**AUTH, "X-Namespace": "default"}
    encoded = await client.post("/default/encode", json=payloads_json(PLAIN), headers=headers)
    assert encoded.status_code == 200
    [sealed] = from_json(encoded.json())
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert SECRET not in sealed.data
    decoded = await client.post("/default/decode", json=encoded.json(), headers=headers)
    assert from_json(decoded.json()) == [PLAIN]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["none", "wrong", "not-bearer"],
)
async def test_decode_needs_the_bearer_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    [sealed] = await codec.encode([PLAIN])
    response = await client.post("/decode", json=payloads_json(sealed), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "CUST-SECRET" not in response.text


async def test_without_a_token_auth_is_off() -> None:
    [sealed] = await codec.encode([PLAIN])
    async with client_for(None) as client:
        response = await client.post("/decode", json=payloads_json(sealed))
    assert response.status_code == 200


async def test_bad_bodies_and_unknown_keys_are_400_with_json(client: httpx.AsyncClient) -> None:
    for body in (b"not json", b"[1]", b'{"payloads": "x"}'):
        response = await client.post("/decode", content=body, headers=AUTH)
        assert response.status_code == 400, body
        assert response.json()["detail"] == "body is not a Payloads message in protobuf JSON"
    [foreign] = await AesGcmPayloadCodec({"other": bytes(range(32))}).encode([PLAIN])
    response = await client.post("/decode", json=payloads_json(foreign), headers=AUTH)
    assert response.status_code == 400
    assert "'other', which is not configured" in response.json()["detail"]


async def test_cors_preflight_allows_the_ui_origin_only(client: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    allowed = await client.options("/decode", headers={"Origin": UI, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert allowed.headers["access-control-allow-credentials"] == "true"
    refused = await client.options("/decode", headers={"Origin": "http://evil.test", **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    # The actual request from the UI carries the header too.
    [sealed] = await codec.encode([PLAIN])
    response = await client.post(
        "/decode", json=payloads_json(sealed), headers={**AUTH, "Origin": UI}
    )
    assert response.headers["access-control-allow-origin"] == UI


async def test_probes_and_metrics_share_the_port(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["Checks"]["codec"]["Ok"] is True
    await client.post("/decode", json={"payloads": []}, headers=AUTH)
    metrics = (await client.get("/metrics")).text
    assert 'orderflow_codec_requests_total{operation="decode",outcome="ok"} 1.0' in metrics

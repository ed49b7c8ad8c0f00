"""The payload codec: AES-256-GCM round trips, key rotation, refusals, and the data converter
every Orderflow client uses (pydantic + codec + encoded failure attributes)."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from codec.aes import ENCODING, META_KEY_ID, AesGcmPayloadCodec, PayloadDecryptionError
from codec.keys import KEY_BYTES, new_key_ring_json, parse_key_ring
from config.settings import CodecSettings
from config.temporal import data_converter
from contracts.workflow_io import KafkaOrigin, OrderWorkflowInput

SECRET = b'{"CustomerID": "CUST-SECRET-7731", "UnitPrice": "12345.6789"}'


def key(fill: int) -> bytes:
    return bytes([fill]) * KEY_BYTES


def plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


async def test_round_trip_hides_data_and_metadata() -> None:
    codec = AesGcmPayloadCodec({"k1": key(1)})
    [sealed] = await codec.encode([plain()])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[META_KEY_ID] == b"k1"
    assert set(sealed.metadata) == {"encoding", META_KEY_ID}  # json/plain is inside, hidden
    assert b"CUST-SECRET" not in sealed.data
    assert b"json/plain" not in sealed.data
    assert await codec.decode([sealed]) == [plain()]


async def test_each_encryption_uses_a_fresh_nonce() -> None:
    codec = AesGcmPayloadCodec({"k1": key(1)})
    first, second = await codec.encode([plain(), plain()])
    assert first.data != second.data


async def test_rotation_old_key_still_decodes_new_payloads_use_the_active_key() -> None:
    before = AesGcmPayloadCodec({"2024": key(1)})
    [old] = await before.encode([plain()])
    after = AesGcmPayloadCodec({"2024": key(1), "2025": key(2)}, active_key_id="2025")
    [new] = await after.encode([plain()])
    assert new.metadata[META_KEY_ID] == b"2025"
    assert await after.decode([old, new]) == [plain(), plain()]
    # Once the old key is retired, its payloads are refused, naming the key ID.
    retired = AesGcmPayloadCodec({"2025": key(2)})
    with pytest.raises(PayloadDecryptionError, match=r"key ID '2024', which is not configured"):
        await retired.decode([old])
    assert await retired.decode([new]) == [plain()]


async def test_altered_data_or_a_swapped_key_id_fails_authentication() -> None:
    codec = AesGcmPayloadCodec({"a": key(1), "b": key(2)}, active_key_id="a")
    [sealed] = await codec.encode([plain()])
    altered = Payload()
    altered.CopyFrom(sealed)
    altered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        await codec.decode([altered])
    # Same key material under another ID: the key ID is authenticated data, so still refused.
    twin = AesGcmPayloadCodec({"a": key(1), "b": key(1)}, active_key_id="a")
    [sealed] = await twin.encode([plain()])
    swapped = Payload()
    swapped.CopyFrom(sealed)
    swapped.metadata[META_KEY_ID] = b"b"
    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        await twin.decode([swapped])


async def test_unencrypted_payloads_pass_through_decoding() -> None:
    """Histories written before encryption was switched on still replay."""
    codec = AesGcmPayloadCodec({"k1": key(1)})
    assert await codec.decode([plain()]) == [plain()]


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ({}, None, "at least one key"),
        ({"k1": key(1)[:16]}, None, "16 bytes, not 32"),
        ({"has space": key(1)}, None, "must be 1-64 characters"),
        ({"a": key(1), "b": key(2)}, None, "holds 2 keys"),
        ({"a": key(1)}, "b", "'b' is not among the keys"),
    ],
)
def test_bad_key_rings_are_refused(
    keys: dict[str, bytes], active: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        AesGcmPayloadCodec(keys, active)


def test_a_generated_ring_parses_to_one_32_byte_key() -> None:
    ring = parse_key_ring(new_key_ring_json("local"))
    assert list(ring) == ["local"]
    assert len(ring["local"]) == KEY_BYTES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "must be a JSON object"),
        ('["k"]', "non-empty JSON object"),
        ("{}", "non-empty JSON object"),
        ('{"k1": 5}', "'k1' must be a base64 string"),
        ('{"k1": "%%%%"}', "'k1' is not valid base64"),
        (json.dumps({"k1": base64.b64encode(b"short").decode()}), "5 bytes, not 32"),
    ],
)
def test_key_ring_errors_never_echo_key_material(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_key_ring(text)
    assert "%%%%" not in str(caught.value)
    assert base64.b64encode(b"short").decode() not in str(caught.value)


def _settings(**values: object) -> CodecSettings:
    return CodecSettings.model_validate(values)


def test_codec_settings_default_the_active_key_to_the_only_one() -> None:
    settings = _settings(keys=SecretStr(new_key_ring_json("only")))
    assert settings.active_key_id == "only"
    assert settings.key_ring() is not None
    assert "only" not in repr(settings.keys)  # a secret


def test_cors_origins_take_a_comma_list_or_a_json_array() -> None:
    assert _settings(cors_origins="http://a:1, http://b").cors_origins == ["http://a:1", "http://b"]
    assert _settings(cors_origins='["http://c"]').cors_origins == ["http://c"]


# --------------------------------------------------------------------------- the converter


def order_input() -> OrderWorkflowInput:
    return OrderWorkflowInput(
        order_id="ORD-1",
        correlation_id="corr-1",
        raw_message=SECRET.decode(),
        origin=KafkaOrigin(topic="order.create.v1", partition=0, offset=7, key=b"DC-01"),
    )


async def test_the_converter_encrypts_pydantic_inputs_and_decodes_them_back() -> None:
    converter = data_converter(_settings(keys=SecretStr(new_key_ring_json("k1"))))
    [payload] = await converter.encode([order_input()])
    assert payload.metadata["encoding"] == ENCODING
    assert b"CUST-SECRET" not in payload.data
    assert await converter.decode([payload], [OrderWorkflowInput]) == [order_input()]


async def test_failure_messages_are_encoded_too() -> None:
    """An error message can quote a value: failures are encrypted like payloads."""
    converter = data_converter(_settings(keys=SecretStr(new_key_ring_json("k1"))))
    failure = Failure()
    await converter.encode_failure(ApplicationError("CUST-SECRET-7731 refused"), failure)
    assert "CUST-SECRET" not in failure.message
    assert b"CUST-SECRET" not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert "CUST-SECRET-7731 refused" in str(decoded)


async def test_disabled_codec_is_the_plain_pydantic_converter() -> None:
    converter = data_converter(_settings(enabled=False))
    [payload] = await converter.encode([order_input()])
    assert payload.metadata["encoding"] == b"json/plain"

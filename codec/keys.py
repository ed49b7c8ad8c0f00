"""Key rings: ``{"key-id": "<base64 of 32 random bytes>", ...}``, parsed and checked once.

Error messages name key IDs (they are not secret, they travel in every payload's metadata) but
never echo key material.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Mapping

KEY_BYTES = 32  # AES-256
# Key IDs go into every payload's metadata: short, printable, no spaces.
_KEY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def check_key_id(key_id: str) -> str:
    if not _KEY_ID.match(key_id):
        raise ValueError(f"key ID {key_id[:64]!r} must be 1-64 characters of [A-Za-z0-9._:-]")
    return key_id


def check_key(key_id: str, key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise ValueError(f"key {key_id!r} is {len(key)} bytes, not {KEY_BYTES} (AES-256)")
    return key


def parse_key_ring(text: str) -> dict[str, bytes]:
    """``{"id": "<base64>"}`` -> ``{"id": key}``; ValueError naming the first problem."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError('must be a JSON object {"key-id": "<base64 32-byte key>"}') from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError('must be a non-empty JSON object {"key-id": "<base64 32-byte key>"}')
    ring: dict[str, bytes] = {}
    for key_id, encoded in raw.items():
        check_key_id(key_id)
        if not isinstance(encoded, str):
            raise ValueError(f"key {key_id!r} must be a base64 string")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"key {key_id!r} is not valid base64") from None
        ring[key_id] = check_key(key_id, key)
    return ring


def resolve_active_key_id(ring: Mapping[str, bytes], active_key_id: str | None) -> str:
    """The ID new payloads are encrypted with: the one given, or the only key of the ring."""
    if active_key_id is None:
        if len(ring) != 1:
            raise ValueError(
                f"the active key ID is not set and the ring holds {len(ring)} keys "
                f"({', '.join(sorted(ring))}): say which one encrypts"
            )
        return next(iter(ring))
    if active_key_id not in ring:
        raise ValueError(
            f"active key ID {active_key_id!r} is not among the keys ({', '.join(sorted(ring))})"
        )
    return active_key_id


def new_key_ring_json(key_id: str) -> str:
    """A fresh one-key ring as JSON (what the local stack generates once)."""
    key = secrets.token_bytes(KEY_BYTES)
    return json.dumps({check_key_id(key_id): base64.b64encode(key).decode("ascii")})

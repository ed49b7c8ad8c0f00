"""AES-256-GCM payload codec with key IDs, so keys can rotate.

Every payload is encrypted whole (its data *and* its metadata, so not even the encoding of the
value shows) with the active key; the result carries ``encoding: binary/encrypted`` and
``encryption-key-id: <id>`` in clear. Decoding picks the key by that ID, so a payload written
under an old key stays readable while the old key is still configured. The key ID is also the
cipher's associated data: a payload whose metadata was changed to another configured key ID
fails authentication instead of decrypting under the wrong key.

Payloads without the ``binary/encrypted`` encoding pass through decoding unchanged: histories
written before encryption was switched on still replay. Search attributes never reach a codec
(the SDK encodes them without one), so they stay what operators filter on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from codec.keys import check_key, check_key_id, resolve_active_key_id

ENCODING = b"binary/encrypted"
META_ENCODING = "encoding"
META_KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12  # GCM's standard nonce; random per payload


class PayloadDecryptionError(ValueError):
    """A payload cannot be decrypted: unknown key ID, wrong key material, or altered bytes."""


class AesGcmPayloadCodec(PayloadCodec):
    """Encrypts with ``keys[active_key_id]``; decrypts with whichever key the payload names."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str | None = None) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._ciphers = {
            check_key_id(key_id): AESGCM(check_key(key_id, key)) for key_id, key in keys.items()
        }
        self.active_key_id = resolve_active_key_id(keys, active_key_id)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._ciphers))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.active_key_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(
            nonce, payload.SerializeToString(), key_id.encode("ascii")
        )
        return Payload(
            metadata={META_ENCODING: ENCODING, META_KEY_ID: key_id.encode("ascii")},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get(META_ENCODING) != ENCODING:
            return payload  # not ours (written before encryption was on): leave it as it is
        key_id = payload.metadata.get(META_KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload is encrypted with key ID {key_id!r}, which is not configured "
                f"(configured: {', '.join(self.key_ids)})"
            )
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode("ascii"))
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload encrypted with key ID {key_id!r} failed authentication "
                "(different key material under that ID, or altered data)"
            ) from None
        return Payload.FromString(plain)

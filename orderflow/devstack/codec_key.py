"""The local stack's payload key: generated once in the state folder, reused on every start.

Reused because the Temporal dev server keeps its history in the state folder too: a new key on
each start would leave earlier orders' payloads undecodable. The file is owner-only (0600) and
holds the same JSON as ``ORDERFLOW_CODEC__KEYS``. A key configured in the environment wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from codec.keys import new_key_ring_json, parse_key_ring
from orderflow.devstack.process import ServiceError

KEY_FILE = "codec-keys.json"
LOCAL_KEY_ID = "local"


def local_key_ring(state_dir: Path) -> tuple[str, Path]:
    """``(keys JSON, path)``: the state folder's key ring, created on first use."""
    path = state_dir / KEY_FILE
    try:
        # O_EXCL: two stacks starting on one folder never overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text()
        try:
            parse_key_ring(text)
        except ValueError as exc:
            raise ServiceError(f"codec: {path} is not a key ring: {exc}") from None
        return text.strip(), path
    text = new_key_ring_json(LOCAL_KEY_ID)
    with os.fdopen(fd, "w") as file:
        file.write(text + "\n")
    return text, path

"""Waiting for an HTTP endpoint to give a particular answer (health probes, metrics)."""

from __future__ import annotations

import httpx

from tests.helpers.waiting import eventually


async def wait_for_status(
    url: str, status: int, *, timeout_s: float = 60.0, body: str | None = None
) -> httpx.Response:
    """Poll ``url`` until it answers ``status`` (with ``body`` in the text, when given)."""
    async with httpx.AsyncClient(timeout=5) as client:

        async def answered() -> httpx.Response:
            response = await client.get(url)
            assert response.status_code == status, (response.status_code, response.text[:200])
            assert body is None or body in response.text, response.text[:200]
            return response

        return await eventually(
            answered, timeout_s=timeout_s, interval_s=0.2, what=f"{url} to answer {status}"
        )

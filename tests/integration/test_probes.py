"""Probes of the worker and the bridge: ``/health/live``, ``/health/ready``, ``/metrics``.

* A real ``orderflow worker`` whose database connection runs through a TCP proxy the test can
  cut: readiness turns 503 naming ``database`` while it is cut, and 200 again once it is back.
* The same for the bridge and Temporal.
* A blocked event loop stops ``/health/live`` from answering (what a liveness probe needs).
* SIGTERM (the stop event) turns readiness to 503 ``draining`` at once, while the server still
  answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import make_url

from orderflow.devstack.net import free_port
from probes.server import ProbeServer
from tests.helpers.http import wait_for_status
from tests.helpers.processes import orderflow_process

pytestmark = pytest.mark.integration


class CuttableProxy:
    """A TCP proxy in this process: ``cut()`` closes every connection and stops listening,
    ``restore()`` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()


@contextlib.asynccontextmanager
async def proxy_to(host: str, port: int) -> AsyncIterator[CuttableProxy]:
    proxy = CuttableProxy(host, port)
    await proxy.restore()
    try:
        yield proxy
    finally:
        await proxy.cut()


async def test_worker_readiness_follows_the_database(
    database_url: str, kafka_bootstrap: str, temporal_address: str, tmp_path: Path
) -> None:
    url = make_url(database_url)
    async with proxy_to(url.host or "127.0.0.1", url.port or 5432) as proxy:
        port = free_port()
        env = {
            "ORDERFLOW_DATABASE__URL": url.set(host="127.0.0.1", port=proxy.port).render_as_string(
                hide_password=False
            ),
            "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "ORDERFLOW_TEMPORAL__ADDRESS": temporal_address,
            "ORDERFLOW_TEMPORAL__TASK_QUEUE": f"probes-{port}",
            "ORDERFLOW_CODEC__ENABLED": "false",
            "ORDERFLOW_WORKER__HTTP_HOST": "127.0.0.1",
            "ORDERFLOW_WORKER__HTTP_PORT": str(port),
        }
        base = f"http://127.0.0.1:{port}"
        async with orderflow_process("worker", env=env, log_path=tmp_path / "worker.log"):
            ready = await wait_for_status(f"{base}/health/ready", 200)
            assert ready.json()["Checks"]["temporal"]["Ok"] is True  # it polls its queue
            await wait_for_status(f"{base}/health/live", 200)
            metrics = await wait_for_status(f"{base}/metrics", 200)
            # Ours and the Temporal SDK's, on one endpoint.
            assert "orderflow_ready" in metrics.text
            assert "temporal_worker_task_slots_available" in metrics.text

            await proxy.cut()
            down = await wait_for_status(f"{base}/health/ready", 503, body="database")
            assert down.json()["Failing"] == ["database"]

            await proxy.restore()
            await wait_for_status(f"{base}/health/ready", 200)


async def test_bridge_readiness_follows_temporal(
    kafka_bootstrap: str, temporal_address: str, tmp_path: Path
) -> None:
    host, _, temporal_port = temporal_address.rpartition(":")
    async with proxy_to(host, int(temporal_port)) as proxy:
        port = free_port()
        env = {
            "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "ORDERFLOW_TEMPORAL__ADDRESS": f"127.0.0.1:{proxy.port}",
            "ORDERFLOW_CODEC__ENABLED": "false",
            "ORDERFLOW_BRIDGE__GROUP_ID": f"probes-{port}",
            "ORDERFLOW_BRIDGE__HTTP_HOST": "127.0.0.1",
            "ORDERFLOW_BRIDGE__HTTP_PORT": str(port),
        }
        base = f"http://127.0.0.1:{port}"
        async with orderflow_process("bridge", env=env, log_path=tmp_path / "bridge.log"):
            ready = await wait_for_status(f"{base}/health/ready", 200)
            assert set(ready.json()["Checks"]) == {"kafka", "temporal"}
            metrics = await wait_for_status(f"{base}/metrics", 200)
            assert "orderflow_bridge_assigned_partitions" in metrics.text

            await proxy.cut()
            down = await wait_for_status(f"{base}/health/ready", 503, body="temporal")
            assert down.json()["Failing"] == ["temporal"]

            await proxy.restore()
            await wait_for_status(f"{base}/health/ready", 200)


def test_a_blocked_event_loop_fails_liveness() -> None:
    """The probe server answers from the process's event loop: block it, and it doesn't."""
    loop = asyncio.new_event_loop()
    port = free_port()
    stop = asyncio.Event()
    probes = ProbeServer(component="test", checks={}, refresh_s=3600, registry=CollectorRegistry())
    serving = threading.Event()

    async def serve() -> None:
        async with probes.serving(host="127.0.0.1", port=port, stop=asyncio.Event()):
            serving.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert serving.wait(timeout=30)
        live = f"http://127.0.0.1:{port}/health/live"
        assert httpx.get(live, timeout=5).status_code == 200

        unblock = threading.Event()
        loop.call_soon_threadsafe(unblock.wait, 30)  # a blocking call on the loop
        with pytest.raises(httpx.TimeoutException):
            httpx.get(live, timeout=1)
        unblock.set()
        assert httpx.get(live, timeout=10).status_code == 200
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()


async def test_stop_turns_readiness_503_before_the_process_drains() -> None:
    port = free_port()
    stop = asyncio.Event()

    async def always_ok() -> None:
        return None

    probes = ProbeServer(
        component="test",
        checks={"dependency": always_ok},
        refresh_s=3600,
        registry=CollectorRegistry(),
    )
    async with probes.serving(host="127.0.0.1", port=port, stop=stop):
        ready = f"http://127.0.0.1:{port}/health/ready"
        await wait_for_status(ready, 200)
        stop.set()  # what SIGTERM does
        draining = await wait_for_status(ready, 503, body="draining")
        assert draining.json()["Failing"] == ["draining"]
        # Liveness is unaffected: the process is healthy, only leaving.
        await wait_for_status(f"http://127.0.0.1:{port}/health/live", 200)

"""``comfycontrol exporter``: /metrics over loopback from a background watch_capacity.

The server (``cli._metrics.serve``) runs in the test's own event loop beside the in-process
fake, so each step waits on an event, never on time; one test runs the whole command in a
subprocess to check that SIGTERM and Ctrl-C stop it cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from comfycontrol_async import ComfyControl, PermissionDeniedError
from comfycontrol_async.cli import _metrics
from comfycontrol_async.cli._context import CliError
from comfycontrol_async.cli._metrics import Latest, serve
from comfycontrol_async.cli._scrub import remember
from comfycontrol_async.testing import FakeComfyControl
from tests.test_cli import FakeThread, run

LIST = "GET /v1/managed-runner"
ROOT = Path(__file__).resolve().parents[1]


class Exporter:
    """``serve()`` running as a task; ``url`` once it listens."""

    def __init__(self, cc: ComfyControl, **options: Any) -> None:
        self.latest = Latest()
        self.stop = asyncio.Event()
        self._ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        options = {
            "host": "127.0.0.1",
            "port": 0,
            "share": 0.5,
            "managed": True,
            "own": False,
            **options,
        }
        self.task = asyncio.create_task(
            serve(cc, self.latest, stop=self.stop, ready=self._ready.set_result, **options)
        )

    async def url(self) -> str:
        waiting: set[asyncio.Future[Any]] = {self.task, self._ready}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            self.task.result()  # it failed before listening: raise that
        return self._ready.result()

    async def close(self) -> None:
        self.stop.set()
        async with asyncio.timeout(30):
            await self.task


@pytest.fixture
async def client(fake: FakeComfyControl) -> AsyncIterator[ComfyControl]:
    async with ComfyControl(
        fake.token("pro"), base_url=fake.url, rate_limit=None, max_retries=0
    ) as cc:
        yield cc


async def get(url: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, dict(answer.headers), await answer.text()


async def test_serves_valid_prometheus_text(fake: FakeComfyControl, client: ComfyControl) -> None:
    token = fake.token("pro")
    remember([token])  # as the command does with the token it uses
    fake.add_managed_runner(name=f"leaky {token}", gpu="L40S")
    exporter = Exporter(client)
    url = await exporter.url()
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/metrics")
    async with asyncio.timeout(30):
        await exporter.latest.updated.wait()
    status, headers, text = await get(url)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    up = families["comfycontrol_runner_up"].samples
    assert {s.labels["runner_id"] for s in up} == set(fake.managed_runner_ids())
    free = families["DCGM_FI_DEV_FB_FREE"].samples
    assert free
    assert all(s.value >= 0 and s.labels["modelName"] for s in free)
    assert 'Hostname="leaky ***"' in text
    assert token not in text
    await exporter.close()
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(url)  # stopped: nothing listens any more


async def test_before_the_first_report_metrics_answers_503_at_once(
    fake: FakeComfyControl, client: ComfyControl
) -> None:
    fake.hang_next(route=LIST)  # the listing never answers
    exporter = Exporter(client)
    url = await exporter.url()
    status, headers, text = await get(url)
    assert status == 503
    assert headers["Retry-After"] == "10"
    assert text.startswith("no capacity report yet")
    status, _, text = await get(url.removesuffix("metrics"))
    assert status == 200
    assert "/metrics" in text
    await exporter.close()  # stops while the watch waits on the API
    assert exporter.latest.reports == 0


async def test_a_failed_watch_starts_again(
    fake: FakeComfyControl,
    client: ComfyControl,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(_metrics, "RESTART_PAUSE", 0.0)
    fake.fail_next(503, route=LIST)
    exporter = Exporter(client)
    await exporter.url()
    async with asyncio.timeout(30):
        await exporter.latest.updated.wait()
    await exporter.close()
    err = capsys.readouterr().err
    assert err.startswith("warning: the capacity watch failed (")
    assert exporter.latest.reports >= 1


async def test_a_tier_without_managed_runners_ends_it(fake: FakeComfyControl) -> None:
    async with ComfyControl(fake.token("free"), base_url=fake.url, rate_limit=None) as cc:
        exporter = Exporter(cc)
        with pytest.raises(PermissionDeniedError):
            async with asyncio.timeout(30):
                await exporter.task  # nothing would ever change: it ends by itself


async def test_a_port_in_use_is_a_clear_error(client: ComfyControl) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        exporter = Exporter(client, port=port)
        with pytest.raises(CliError, match=f"could not serve on 127.0.0.1:{port}"):
            await exporter.url()


# -- the whole command --------------------------------------------------------------------------


@pytest.fixture
def fake_thread() -> Iterator[FakeThread]:
    server = FakeThread(seed=0, managed_runners=12, runners=0).start()
    try:
        yield server
    finally:
        server.stop()


def test_free_tier_exits_2_with_the_tier_hint(
    fake_thread: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMFYCONTROL_BASE_URL", fake_thread.url)
    monkeypatch.setenv("COMFYCONTROL_API_TOKEN", fake_thread.token("free"))
    code, out, err = run(capsys, "--no-pacing", "exporter", "--port", "0")
    assert code == 2
    assert out.startswith("http://127.0.0.1:")
    assert "Pro or Plus" in err
    assert fake_thread.token("free") not in out + err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_command_cleanly(fake_thread: FakeThread, sig: signal.Signals) -> None:
    env = {
        **os.environ,
        "COMFYCONTROL_BASE_URL": fake_thread.url,
        "COMFYCONTROL_API_TOKEN": fake_thread.token("pro"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "comfycontrol_async", "exporter", "--port", "0", "--no-pacing"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed once it listens (and handles signals)
        assert url.startswith("http://127.0.0.1:"), proc.communicate(timeout=30)
        status, _, _ = asyncio.run(get(url))
        assert status in (200, 503)  # whichever: it answers at once
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == ""
    assert "Traceback" not in err
    assert fake_thread.token("pro") not in err

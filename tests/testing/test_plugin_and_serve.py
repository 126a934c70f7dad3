"""The opt-in pytest plugin, the standalone server and the import hygiene of the package."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys

import aiohttp
import pytest

from comfycontrol_async.testing import FakeComfyControl
from comfycontrol_async.testing._serve import serve

pytest_plugins = ["pytester", "comfycontrol_async.testing.pytest_plugin"]


async def test_comfy_fake_fixture_is_started(comfy_fake: FakeComfyControl) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {comfy_fake.token('pro')}"}
        async with session.get(f"{comfy_fake.url}/v1/managed-runner", headers=headers) as r:
            assert (await r.json())["total"] == 12


@pytest.mark.parametrize(
    "comfy_fake", [{"managed_runners": 3, "runners": 1, "seed": 9}], indirect=True
)
async def test_comfy_fake_can_be_parametrized(comfy_fake: FakeComfyControl) -> None:
    assert len(comfy_fake.managed_runner_ids()) == 3
    assert len(comfy_fake.runner_ids("free")) == 1
    assert comfy_fake.seed == 9


def test_comfy_fake_marker_configures_it(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makeconftest('pytest_plugins = ["comfycontrol_async.testing.pytest_plugin"]\n')
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.comfy_fake(managed_runners=2, seed=4)
        async def test_marked(comfy_fake):
            assert len(comfy_fake.managed_runner_ids()) == 2
            assert comfy_fake.seed == 4

        async def test_default(comfy_fake):
            assert len(comfy_fake.managed_runner_ids()) == 12
        """
    )
    result = pytester.runpytest_inprocess("--strict-markers", "-W", "error")
    result.assert_outcomes(passed=2)


async def test_comfy_client_fixture_is_bound_to_the_fake(
    comfy_client: object, comfy_fake: FakeComfyControl
) -> None:
    from comfycontrol_async import ComfyControl

    assert isinstance(comfy_client, ComfyControl)
    me = await comfy_client.user.get()
    assert me.tier == "pro"
    assert comfy_fake.requests[-1].route == "GET /v1/user"


def test_importing_the_fake_does_not_import_pytest() -> None:
    code = (
        "import sys; import comfycontrol_async.testing as t; "
        "assert 'pytest' not in sys.modules, 'pytest imported'; "
        "assert 'pytest_asyncio' not in sys.modules; print(t.FakeComfyControl.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "FakeComfyControl"


async def test_serve_prints_url_and_tokens_and_serves_until_cancelled() -> None:
    out = io.StringIO()
    task = asyncio.create_task(serve(port=0, managed=5, runners=2, out=out))
    try:
        for _ in range(200):
            if "Ctrl-C" in out.getvalue():
                break
            await asyncio.sleep(0.01)
        lines = out.getvalue().splitlines()
        assert lines[0].startswith("export COMFYCONTROL_BASE_URL=http://127.0.0.1:")
        url = lines[0].split("=", 1)[1]
        assert lines[1].startswith("export COMFYCONTROL_API_TOKEN=cfc_")
        tiers = {line.split()[1]: line.split("=", 1)[1] for line in lines[2:6]}
        assert set(tiers) == {"free", "plus", "pro", "enterprise"}
        assert tiers["pro"] == lines[1].split("=", 1)[1]
        async with aiohttp.ClientSession() as session:
            for tier, token in tiers.items():
                headers = {"Authorization": f"Bearer {token}"}
                async with session.get(f"{url}/v1/user", headers=headers) as reply:
                    assert (await reply.json())["tier"] == tier
            headers = {"Authorization": f"Bearer {tiers['pro']}"}
            async with session.get(f"{url}/v1/managed-runner", headers=headers) as reply:
                assert (await reply.json())["total"] == 5
            async with session.get(f"{url}/v1/runner", headers=headers) as reply:
                assert (await reply.json())["total"] == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert task.cancelled()


async def test_concurrent_load_is_served_correctly() -> None:
    async with FakeComfyControl(managed_runners=50) as fake:
        ids = fake.managed_runner_ids()
        headers = {"Authorization": f"Bearer {fake.token()}"}
        connector = aiohttp.TCPConnector(limit=32)
        async with aiohttp.ClientSession(fake.url, headers=headers, connector=connector) as s:

            async def one(n: int) -> int:
                async with s.get(f"/v1/managed-runner/{ids[n % 50]}/stats") as reply:
                    await reply.read()
                    return reply.status

            statuses = await asyncio.gather(*(one(n) for n in range(500)))
        assert statuses == [200] * 500
        assert len(fake.requests) == 500


def test_loadcheck_runs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.loadcheck",
            "--requests",
            "300",
            "--connections",
            "8",
            "--managed",
            "20",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "fake CPU per 1,000:" in result.stdout
    assert "{200: 300}" in result.stdout

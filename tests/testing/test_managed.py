"""The managed fleet: documented examples, realistic ComfyUI stats, tiers, history."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from comfycontrol_async.testing import FakeComfyControl

from .conftest import Api, example

SYSTEM_KEYS = {
    "os",
    "ram_total",
    "ram_free",
    "comfyui_version",
    "python_version",
    "pytorch_version",
    "embedded_python",
    "argv",
    "required_frontend_version",
    "installed_templates_version",
}
DEVICE_KEYS = {
    "name",
    "type",
    "index",
    "vram_total",
    "vram_free",
    "torch_vram_total",
    "torch_vram_free",
}
EXAMPLE_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"


def check_stats_shape(stats: dict[str, Any]) -> None:
    """Only ComfyUI's keys (plus dev_mode/extensions), with the right types."""
    assert set(stats) <= {"system", "devices", "dev_mode", "extensions"}
    assert {"devices", "dev_mode", "extensions"} <= set(stats)
    assert isinstance(stats["dev_mode"], bool)
    assert all(isinstance(e, str) and e.startswith("/extensions/") for e in stats["extensions"])
    system = stats.get("system")
    if system is not None:
        assert set(system) <= SYSTEM_KEYS
        assert system["os"] in ("posix", "nt", "linux", "win32", "darwin")
        if "ram_total" in system:
            assert 0 < system["ram_free"] <= system["ram_total"]
    devices = stats["devices"]
    assert devices
    for n, device in enumerate(devices):
        assert set(device) <= DEVICE_KEYS
        assert 0 < device["vram_free"] <= device["vram_total"]
        if device["type"] in ("cpu", "mps"):
            assert device["name"] == device["type"]
            assert device.get("index", None) is None
        else:
            assert re.fullmatch(r"cuda:\d+ .+ : (cudaMallocAsync|native)", device["name"])
            assert device["name"].startswith(f"cuda:{n} ")
            if "index" in device:
                assert device["index"] == n


async def test_first_managed_runner_is_the_documented_example(api: Api) -> None:
    assert await api.ok(f"/v1/managed-runner/{EXAMPLE_ID}") == example("managed-runners-get.json")


async def test_its_first_stats_are_the_documented_example(api: Api) -> None:
    first = await api.ok(f"/v1/managed-runner/{EXAMPLE_ID}/stats")
    assert first == example("managed-runners-stats.json")
    second = await api.ok(f"/v1/managed-runner/{EXAMPLE_ID}/stats")
    # Same shape, same hardware, different free memory.
    assert set(second) == set(first)
    assert set(second["system"]) == set(first["system"])
    assert second["devices"][0]["vram_total"] == first["devices"][0]["vram_total"]
    assert (second["system"]["ram_free"], second["devices"][0]["vram_free"]) != (
        first["system"]["ram_free"],
        first["devices"][0]["vram_free"],
    )


async def test_two_runner_fleet_lists_like_the_example() -> None:
    async with (
        FakeComfyControl(managed_runners=2) as fake,
        aiohttp.ClientSession() as session,
        session.get(
            f"{fake.url}/v1/managed-runner",
            headers={"Authorization": f"Bearer {fake.token('pro')}"},
        ) as reply,
    ):
        page = await reply.json()
    documented = example("managed-runners-list.json")
    assert page["total"] == documented["total"] == 2
    assert page["runners"][1] == documented["runners"][1]
    # The documentation's list and get disagree on the first runner's tags; the fake follows get.
    first = dict(page["runners"][0])
    assert first.pop("tags") == example("managed-runners-get.json")["tags"]
    assert first == {k: v for k, v in documented["runners"][0].items() if k != "tags"}


async def test_the_default_fleet_covers_the_realistic_shapes(api: Api) -> None:
    page = await api.ok("/v1/managed-runner?per_page=100")
    assert page["total"] == 12
    names: set[str] = set()
    device_counts: set[int] = set()
    systems: list[dict[str, Any]] = []
    for runner in page["runners"]:
        stats = await api.ok(f"/v1/managed-runner/{runner['id']}/stats")
        check_stats_shape(stats)
        names.update(d["name"].split(" : ")[0].split(" ", 1)[-1] for d in stats["devices"])
        device_counts.add(len(stats["devices"]))
        systems.append(stats.get("system", {}))
    for gpu in (
        "NVIDIA H100 80GB HBM3",
        "NVIDIA A100-SXM4-80GB",
        "NVIDIA A100-SXM4-40GB",
        "NVIDIA L40S",
        "NVIDIA GeForce RTX 4090",
        "NVIDIA GeForce RTX 3090",
        "cpu",
        "mps",
    ):
        assert gpu in names, gpu
    assert {1, 2, 4, 8} <= device_counts
    oses = {s.get("os") for s in systems}
    assert {"posix", "linux", "darwin"} <= oses
    # Old servers: os posix without RAM figures; new ones: linux with every key.
    assert any(s.get("os") == "posix" and "ram_total" not in s for s in systems)
    assert any(s.get("os") == "linux" and set(s) == SYSTEM_KEYS for s in systems)
    versions = {s.get("comfyui_version") for s in systems}
    assert any(v and re.fullmatch(r"v\d+\.\d+\.\d+-\d+-g[0-9a-f]+", v) for v in versions)
    assert "0.3.77" in versions


async def test_a_big_fleet_only_ever_emits_known_keys() -> None:
    async with FakeComfyControl(managed_runners=300, seed=5) as fake:
        headers = {"Authorization": f"Bearer {fake.token('enterprise')}"}
        async with aiohttp.ClientSession(fake.url, headers=headers) as session:
            versions = set()
            no_system = 0
            for runner_id in fake.managed_runner_ids():
                for _ in range(2):
                    async with session.get(f"/v1/managed-runner/{runner_id}/stats") as reply:
                        stats = await reply.json()
                    check_stats_shape(stats)
                if "system" not in stats:
                    no_system += 1
                else:
                    versions.add(stats["system"].get("comfyui_version"))
    assert "unknown" in versions
    assert no_system >= 1  # 2023 servers send no "system" at all


async def test_multi_gpu_lists_main_device_first() -> None:
    async with FakeComfyControl(managed_runners=0) as fake:
        runner = fake.add_managed_runner(name="big", gpu="8xH100")
        cpu = fake.add_managed_runner(name="cpu", gpu="cpu", runner_type="plus")
        headers = {"Authorization": f"Bearer {fake.token()}"}
        async with aiohttp.ClientSession(fake.url, headers=headers) as session:
            async with session.get(f"/v1/managed-runner/{runner['id']}/stats") as reply:
                stats = await reply.json()
            async with session.get(f"/v1/managed-runner/{cpu['id']}/stats") as reply:
                cpu_stats = await reply.json()
    check_stats_shape(stats)
    assert [d["index"] for d in stats["devices"]] == list(range(8))
    assert stats["devices"][0]["name"] == "cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync"
    device = cpu_stats["devices"][0]
    assert (device["name"], device["type"], device["index"]) == ("cpu", "cpu", None)
    assert device["vram_total"] == cpu_stats["system"]["ram_total"]


def test_unknown_gpu_is_refused() -> None:
    fake = FakeComfyControl(managed_runners=0)
    with pytest.raises(ValueError, match="unknown gpu"):
        fake.add_managed_runner(name="x", gpu="TPU")
    with pytest.raises(ValueError, match="1 to 8 devices"):
        fake.add_managed_runner(name="x", gpu="9xH100")


async def _stats_sequence(seed: int) -> list[Any]:
    async with FakeComfyControl(seed=seed, managed_runners=4) as fake:
        headers = {"Authorization": f"Bearer {fake.token()}"}
        out = []
        async with aiohttp.ClientSession(fake.url, headers=headers) as session:
            for runner_id in fake.managed_runner_ids():
                for _ in range(3):
                    async with session.get(f"/v1/managed-runner/{runner_id}/stats") as reply:
                        out.append(await reply.json())
        return out


async def test_stats_are_deterministic_per_seed() -> None:
    first = await _stats_sequence(3)
    assert first == await _stats_sequence(3)
    assert first != await _stats_sequence(4)


async def test_plus_sees_plus_runners_only(api: Api, fake: FakeComfyControl) -> None:
    plus = await api.ok("/v1/managed-runner?per_page=100", tier="plus")
    pro = await api.ok("/v1/managed-runner?per_page=100", tier="pro")
    enterprise = await api.ok("/v1/managed-runner?per_page=100", tier="enterprise")
    assert {r["runner_type"] for r in plus["runners"]} == {"plus"}
    assert plus["total"] == 6
    assert pro["total"] == enterprise["total"] == 12
    assert (await api.get(f"/v1/managed-runner/{EXAMPLE_ID}", tier="plus")).status == 404
    assert (await api.get(f"/v1/managed-runner/{EXAMPLE_ID}/stats", tier="plus")).status == 404


async def test_inactive_runners_leave_the_list_offline_ones_fail_stats(
    api: Api, fake: FakeComfyControl
) -> None:
    ids = fake.managed_runner_ids()
    fake.set_managed_runner(ids[0], status="offline")
    page = await api.ok("/v1/managed-runner?per_page=100")
    assert page["total"] == 11
    assert ids[0] not in [r["id"] for r in page["runners"]]
    assert (await api.ok(f"/v1/managed-runner/{ids[0]}"))["status"] == "offline"
    reply = await api.get(f"/v1/managed-runner/{ids[0]}/stats")
    assert reply.status == 500
    assert reply.json()["status"] == 500
    assert fake.managed_runner_ids(include_inactive=True)[0] == ids[0]


async def test_fixed_stats_override(api: Api, fake: FakeComfyControl) -> None:
    runner = fake.add_managed_runner(name="fixed", stats={"devices": [], "custom": 1})
    assert await api.ok(f"/v1/managed-runner/{runner['id']}/stats") == {
        "devices": [],
        "custom": 1,
    }
    assert fake.managed_runner_ids()[0] == runner["id"]  # newest


async def test_managed_history_is_the_callers_only(api: Api, fake: FakeComfyControl) -> None:
    other = fake.add_user(tier="pro", name="Eve", email="eve@example.com")
    for n in range(3):
        fake.add_workflow("pro", name=f"mine{n}", runner_id=EXAMPLE_ID, created_at=1e9 + n)
    fake.add_workflow(other, name="theirs", runner_id=EXAMPLE_ID, created_at=2e9)
    history = await api.ok(f"/v1/managed-runner/{EXAMPLE_ID}/history")
    assert [w["name"] for w in history] == ["mine2", "mine1", "mine0"]
    theirs = await api.ok(f"/v1/managed-runner/{EXAMPLE_ID}/history", token=other.token)
    assert [w["name"] for w in theirs] == ["theirs"]

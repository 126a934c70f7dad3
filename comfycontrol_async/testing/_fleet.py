"""The fake's managed fleet: GPU profiles, ComfyUI versions and the stats they serve.

This module owns what a managed runner *is* inside the fake (its hardware profile and the ComfyUI
release it runs) and turns that into a ``/system_stats`` document shaped exactly like ComfyUI's.
It is pure: no I/O, no aiohttp, no clock. Free memory figures vary from one call to the next, but
only as a function of (seed, runner number, call number), so every run is reproducible.

The only keys ever emitted are the ones ComfyUI itself sends plus the two ComfyControl adds:
``system`` {os, ram_total, ram_free, comfyui_version, python_version, pytorch_version,
embedded_python, argv, required_frontend_version, installed_templates_version}, ``devices``
[{name, type, index, vram_total, vram_free, torch_vram_total, torch_vram_free}], ``dev_mode`` and
``extensions``. Which of them appear depends on the ComfyUI era a runner emulates (see ``ERAS``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ERAS",
    "GPUS",
    "Era",
    "FleetEntry",
    "GpuProfile",
    "StatsModel",
    "example_stats_model",
    "fleet_plan",
    "make_stats_model",
    "mix",
    "unit",
]

_MASK64 = (1 << 64) - 1


def mix(*parts: int) -> int:
    """Hash integers into 64 well-mixed bits (splitmix64 finaliser folded over the parts)."""
    z = 0x9E3779B97F4A7C15
    for part in parts:
        z = (z + (part & _MASK64) + 0x9E3779B97F4A7C15) & _MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
    return z


def unit(*parts: int) -> float:
    """A float in [0, 1) determined by the parts."""
    return (mix(*parts) >> 11) / float(1 << 53)


@dataclass(frozen=True, slots=True)
class GpuProfile:
    """One kind of accelerator as ComfyUI names it."""

    key: str
    label: str  # the part after "cuda:N " in the device name; "" for cpu/mps
    device_type: str  # "cuda", "cpu", "mps"
    vram_total: int  # bytes; for cpu/mps this is the machine's RAM
    ram_total: int  # host RAM of a typical machine with this card
    tag: str  # the tag the fleet puts on such a runner
    allocator: str = "cudaMallocAsync"


# Capacities are what torch reports for these parts (slightly under the marketing figure).
GPUS: dict[str, GpuProfile] = {
    p.key: p
    for p in (
        GpuProfile("H100", "NVIDIA H100 80GB HBM3", "cuda", 84942848000, 253344550912, "gpu-h100"),
        GpuProfile(
            "A100-80GB", "NVIDIA A100-SXM4-80GB", "cuda", 85089976320, 270168481792, "gpu-a100"
        ),
        GpuProfile(
            "A100-40GB", "NVIDIA A100-SXM4-40GB", "cuda", 42297524224, 135084240896, "gpu-a100"
        ),
        GpuProfile("L40S", "NVIDIA L40S", "cuda", 47810936832, 202616176640, "gpu-l40s"),
        GpuProfile(
            "RTX4090", "NVIDIA GeForce RTX 4090", "cuda", 25393692672, 67322036224, "gpu-rtx4090"
        ),
        GpuProfile(
            "RTX3090",
            "NVIDIA GeForce RTX 3090",
            "cuda",
            25438126080,
            67322036224,
            "gpu-rtx3090",
            "native",
        ),
        GpuProfile("A10G", "NVIDIA A10G", "cuda", 23609475072, 33328463872, "gpu-a10g"),
        GpuProfile(
            "MI300X",
            "AMD Instinct MI300X",
            "cuda",
            205822885888,
            2163724091392,
            "gpu-mi300x",
            "native",
        ),
        GpuProfile("cpu", "", "cpu", 67322036224, 67322036224, "cpu"),
        GpuProfile("mps", "", "mps", 206158430208, 206158430208, "apple-silicon"),
    )
}


@dataclass(frozen=True, slots=True)
class Era:
    """A ComfyUI release line and the keys its ``/system_stats`` carries."""

    key: str
    system_keys: tuple[str, ...] | None  # None: no "system" object at all (2023 servers)
    device_keys: tuple[str, ...]
    os_name: str
    versions: tuple[str, ...]
    python_version: str
    pytorch_version: str
    frontend_version: str = "1.28.8"
    templates_version: str = "0.2.4"


_ALL_DEVICE_KEYS = (
    "name",
    "type",
    "index",
    "vram_total",
    "vram_free",
    "torch_vram_total",
    "torch_vram_free",
)

ERAS: dict[str, Era] = {
    e.key: e
    for e in (
        # The Get Managed Runner Stats page's own example (a trimmed 0.3.77 answer).
        Era(
            "example",
            ("os", "ram_free", "ram_total", "comfyui_version", "python_version"),
            ("name", "type", "vram_total", "vram_free"),
            "posix",
            ("0.3.77",),
            "3.12.12 (main, Oct 15 2025, 09:20:08) [GCC]",
            "2.9.0+cu128",
        ),
        # 2023: no "system" at all.
        Era("bare", None, _ALL_DEVICE_KEYS, "posix", ("unknown",), "", ""),
        # Late 2023: os, python_version and embedded_python only.
        Era(
            "2023",
            ("os", "python_version", "embedded_python"),
            _ALL_DEVICE_KEYS,
            "posix",
            ("unknown",),
            "3.10.12 (main, Nov 20 2023, 15:14:05) [GCC 11.4.0]",
            "2.1.1+cu121",
        ),
        # 2024: RAM, versions and argv arrive; version strings are often git-describe output.
        Era(
            "2024",
            (
                "os",
                "ram_total",
                "ram_free",
                "comfyui_version",
                "python_version",
                "pytorch_version",
                "embedded_python",
                "argv",
            ),
            _ALL_DEVICE_KEYS,
            "posix",
            ("v0.3.7-12-g1c8d11e", "unknown", "0.3.10", "v0.2.7-3-g8dfa0cc"),
            "3.11.9 (main, Apr 19 2024, 16:48:06) [GCC 11.2.0]",
            "2.5.1+cu124",
        ),
        # 2025 (still os "posix" before v0.4.0), with the frontend and templates versions.
        Era(
            "2025",
            (
                "os",
                "ram_total",
                "ram_free",
                "comfyui_version",
                "required_frontend_version",
                "installed_templates_version",
                "python_version",
                "pytorch_version",
                "embedded_python",
                "argv",
            ),
            _ALL_DEVICE_KEYS,
            "posix",
            ("0.3.77", "0.3.68", "0.3.75"),
            "3.12.12 (main, Oct 15 2025, 09:20:08) [GCC]",
            "2.9.0+cu128",
            "1.28.8",
            "0.2.4",
        ),
        # v0.4.0 and later report the platform name ("linux", "win32", "darwin").
        Era(
            "new",
            (
                "os",
                "ram_total",
                "ram_free",
                "comfyui_version",
                "required_frontend_version",
                "installed_templates_version",
                "python_version",
                "pytorch_version",
                "embedded_python",
                "argv",
            ),
            _ALL_DEVICE_KEYS,
            "linux",
            ("0.4.1", "0.4.3", "0.4.2"),
            "3.12.12 (main, Dec  2 2025, 11:02:44) [GCC 13.3.0]",
            "2.9.1+cu130",
            "1.32.4",
            "0.3.1",
        ),
    )
}

_EXTENSIONS_BASE = (
    "/extensions/core/groupNodeManage.js",
    "/extensions/core/groupNode.js",
)
_EXTENSIONS_EXTRA = (
    "/extensions/ComfyUI-Manager/comfyui-manager.js",
    "/extensions/rgthree-comfy/rgthree.js",
    "/extensions/comfyui-kjnodes/contextmenu.js",
    "/extensions/ComfyUI-VideoHelperSuite/VHS.core.js",
    "/extensions/comfyui_controlnet_aux/controlnet_aux.js",
    "/extensions/ComfyUI-Impact-Pack/impact-pack.js",
)


@dataclass(slots=True)
class StatsModel:
    """Everything needed to render one runner's ``/system_stats``, call after call.

    ``render(n)`` for n == 0 returns the base figures unchanged (so the first answer of the
    example runner is the published example, byte for byte); later calls vary the free memory.
    """

    seed: int
    number: int
    gpu: GpuProfile
    count: int
    era: Era
    comfyui_version: str
    embedded_python: bool
    argv: tuple[str, ...]
    dev_mode: bool
    extensions: tuple[str, ...]
    ram_free0: int
    vram_free0: tuple[int, ...]
    calls: int = field(default=0)

    def next(self) -> dict[str, Any]:
        """Render the stats for the next call and count it."""
        n = self.calls
        self.calls = n + 1
        return self.render(n)

    def render(self, n: int) -> dict[str, Any]:
        """The stats document a call numbered ``n`` (0-based) gets."""
        out: dict[str, Any] = {}
        era = self.era
        gpu = self.gpu
        ram_total = gpu.ram_total
        if n == 0:
            ram_free = self.ram_free0
        else:
            ram_free = int(ram_total * (0.35 + 0.6 * unit(self.seed, self.number, n, 1)))
        if era.system_keys is not None:
            os_name = era.os_name
            if gpu.device_type == "mps" and os_name == "linux":
                os_name = "darwin"  # Apple silicon runs macOS
            values: dict[str, Any] = {
                "os": os_name,
                "ram_total": ram_total,
                "ram_free": ram_free,
                "comfyui_version": self.comfyui_version,
                "required_frontend_version": era.frontend_version,
                "installed_templates_version": era.templates_version,
                "python_version": era.python_version,
                "pytorch_version": era.pytorch_version,
                "embedded_python": self.embedded_python,
                "argv": list(self.argv),
            }
            out["system"] = {key: values[key] for key in era.system_keys}
        devices = []
        keys = era.device_keys
        for i in range(self.count):
            total = gpu.vram_total
            if gpu.device_type in ("cpu", "mps"):
                # ComfyUI reports system RAM as "VRAM" on these devices.
                free = ram_free
                torch_total = torch_free = 0
                name = gpu.device_type
                index = None
            else:
                if n == 0:
                    free = self.vram_free0[i]
                else:
                    busy = unit(self.seed, self.number, n, 100 + i)
                    # About a third of the time a card is mid-job and holds most of its memory.
                    share = 0.08 + 0.5 * busy if busy < 0.33 else 0.9 + 0.095 * busy
                    free = int(total * min(share, 0.995))
                torch_total = max(0, total - free - 600 * 1024**2)
                torch_free = int(torch_total * 0.1 * unit(self.seed, self.number, n, 200 + i))
                name = f"cuda:{i} {gpu.label} : {gpu.allocator}"
                index = i
            device = {
                "name": name,
                "type": gpu.device_type,
                "index": index,
                "vram_total": total,
                "vram_free": free,
                "torch_vram_total": torch_total,
                "torch_vram_free": torch_free,
            }
            devices.append({key: device[key] for key in keys})
        out["devices"] = devices
        out["dev_mode"] = self.dev_mode
        out["extensions"] = list(self.extensions)
        return out


def example_stats_model(seed: int) -> StatsModel:
    """The runner behind ``managed-runners-stats.json``: one H100, ComfyUI 0.3.77."""
    return StatsModel(
        seed=seed,
        number=0,
        gpu=GPUS["H100"],
        count=1,
        era=ERAS["example"],
        comfyui_version="0.3.77",
        embedded_python=False,
        argv=("main.py", "--listen", "0.0.0.0", "--port", "8188"),
        dev_mode=False,
        extensions=(*_EXTENSIONS_BASE, *_EXTENSIONS_EXTRA[:2]),
        ram_free0=239499096064,
        vram_free0=(84316848128,),
    )


def make_stats_model(seed: int, number: int, gpu: GpuProfile, count: int, era: Era) -> StatsModel:
    """A stats model for runner ``number`` of the fleet, with seeded details."""
    rng = random.Random(mix(seed, number, 7))
    version = era.versions[rng.randrange(len(era.versions))]
    argv = ["main.py", "--listen", "0.0.0.0", "--port", "8188"]
    if gpu.device_type == "cpu":
        argv.append("--cpu")
    elif rng.random() < 0.4:
        argv.append(rng.choice(["--highvram", "--use-pytorch-cross-attention", "--fast"]))
    extras = rng.sample(_EXTENSIONS_EXTRA, rng.randrange(0, len(_EXTENSIONS_EXTRA) + 1))
    devices_free = tuple(int(gpu.vram_total * (0.9 + 0.09 * rng.random())) for _ in range(count))
    return StatsModel(
        seed=seed,
        number=number,
        gpu=gpu,
        count=count,
        era=era,
        comfyui_version=version,
        embedded_python=False,
        argv=tuple(argv),
        dev_mode=rng.random() < 0.1,
        extensions=(*_EXTENSIONS_BASE, *extras),
        ram_free0=int(gpu.ram_total * (0.5 + 0.45 * rng.random())),
        vram_free0=devices_free,
    )


@dataclass(frozen=True, slots=True)
class FleetEntry:
    """One seeded managed runner, before it becomes an object of the fake."""

    id: str | None
    name: str
    runner_type: str
    tags: tuple[str, ...]
    gpu: str
    count: int
    era: str
    created_at: str | None = None
    updated_at: str | None = None


# The first twelve runners of every seeded fleet, chosen to cover every shape once.
_FIXED: tuple[tuple[str, str, int, str], ...] = (
    # runner_type, gpu, count, era
    ("pro", "H100", 1, "example"),
    ("plus", "RTX4090", 1, "2025"),
    ("pro", "A100-80GB", 1, "new"),
    ("pro", "H100", 8, "2025"),
    ("plus", "L40S", 1, "2024"),
    ("pro", "A100-40GB", 2, "2024"),
    ("plus", "RTX3090", 1, "2023"),
    ("plus", "cpu", 1, "new"),
    ("pro", "A100-80GB", 4, "new"),
    ("plus", "RTX4090", 2, "2025"),
    ("plus", "mps", 1, "new"),
    ("pro", "L40S", 4, "new"),
)

# What the rest of a big fleet is drawn from: (weight, runner_type, gpu, count, era).
_POOL: tuple[tuple[int, str, str, int, str], ...] = (
    (10, "pro", "H100", 1, "2025"),
    (6, "pro", "H100", 1, "new"),
    (3, "pro", "H100", 2, "new"),
    (2, "pro", "H100", 4, "2025"),
    (2, "pro", "H100", 8, "new"),
    (8, "pro", "A100-80GB", 1, "2025"),
    (6, "pro", "A100-40GB", 1, "2024"),
    (2, "pro", "A100-80GB", 8, "new"),
    (8, "plus", "L40S", 1, "new"),
    (10, "plus", "RTX4090", 1, "2025"),
    (4, "plus", "RTX4090", 1, "2024"),
    (5, "plus", "RTX3090", 1, "2024"),
    (2, "plus", "RTX3090", 1, "2023"),
    (3, "plus", "A10G", 1, "new"),
    (1, "pro", "MI300X", 1, "new"),
    (2, "plus", "cpu", 1, "2025"),
    (1, "plus", "mps", 1, "new"),
    (1, "plus", "RTX3090", 1, "bare"),
)

_PURPOSE = ("image-generation", "video-generation", "upscaling", "training", "batch")


def fleet_plan(seed: int, size: int) -> list[tuple[FleetEntry, StatsModel]]:
    """The seeded managed fleet, oldest last (index 0 is the newest, as the list shows it)."""
    rng = random.Random(mix(seed, 0xF1EE7))
    weights = [w for w, *_ in _POOL]
    counters = {"pro": 0, "plus": 0}
    plan: list[tuple[FleetEntry, StatsModel]] = []
    for number in range(size):
        if number < len(_FIXED):
            runner_type, gpu_key, count, era_key = _FIXED[number]
        else:
            _, runner_type, gpu_key, count, era_key = rng.choices(_POOL, weights)[0]
        counters[runner_type] += 1
        gpu = GPUS[gpu_key]
        name = f"Managed {runner_type.capitalize()} Runner {counters[runner_type]}"
        if number == 0:
            entry = FleetEntry(
                "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
                name,
                runner_type,
                ("managed", "gpu-a100", "high-performance", "image-generation"),
                gpu_key,
                count,
                era_key,
                "2024-01-10T08:00:00Z",
                "2024-01-15T10:30:00Z",
            )
            plan.append((entry, example_stats_model(seed)))
            continue
        if number == 1:
            entry = FleetEntry(
                "b2c3d4e5-f6a7-8901-bcde-f12345678901",
                name,
                runner_type,
                ("managed", "gpu-rtx4090", "standard"),
                gpu_key,
                count,
                era_key,
                "2024-01-10T08:00:00Z",
                "2024-01-15T10:30:00Z",
            )
        else:
            tags = ["managed", gpu.tag]
            if count > 1:
                tags.append("multi-gpu")
            tags.append("high-performance" if runner_type == "pro" else "standard")
            tags.append(_PURPOSE[rng.randrange(len(_PURPOSE))])
            entry = FleetEntry(None, name, runner_type, tuple(tags), gpu_key, count, era_key)
        plan.append((entry, make_stats_model(seed, number, gpu, count, ERAS[era_key])))
    return plan

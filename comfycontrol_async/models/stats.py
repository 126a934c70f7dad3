"""Live system stats of a runner (ComfyUI's ``/system_stats``, passed on by ComfyControl): ComfyUI
has changed it many times, so every field is optional, ``None`` when not sent."""

import re
from collections.abc import Mapping
from typing import Any

import attrs

from ._base import extra_field, repr_argv

# ComfyUI names devices "<type>:<index> <model>[ : <allocator>]" or, older, "CUDA <dev>: <model>".
_DEVICE_PREFIX = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*:\d+|CUDA\s+\S+:)\s+")
_ALLOCATOR_SUFFIX = re.compile(r"\s+:\s*[A-Za-z_]*\s*$")


@attrs.frozen(kw_only=True)
class SystemInfo:
    """The ``system`` part of the stats, sizes in bytes: ``os`` is ``posix``/``nt`` before ComfyUI
    v0.4.0; ``argv`` may hold secrets (the repr shows only its length)."""

    os: str | None = None
    ram_total: int | None = None
    ram_free: int | None = None
    comfyui_version: str | None = None
    python_version: str | None = None
    pytorch_version: str | None = None
    embedded_python: bool | None = None
    argv: list[str] | None = attrs.field(default=None, repr=repr_argv)
    required_frontend_version: str | None = None
    installed_templates_version: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class Device:
    """One compute device: ``type`` is ``cuda`` (AMD too), ``xpu``, ``cpu``, ``mps``, ...; sizes are
    in bytes (system RAM on ``cpu``/``mps``; ``torch_vram_*`` is PyTorch's reservation, often 0)."""

    name: str | None = None
    type: str | None = None
    index: int | None = None
    vram_total: int | None = None
    vram_free: int | None = None
    torch_vram_total: int | None = None
    torch_vram_free: int | None = None
    extra: Mapping[str, Any] = extra_field()

    @property
    def kind(self) -> str | None:
        """The device type in lower case: ``type``, or when absent the type read from ``name``."""
        if self.type:
            return self.type.lower()
        words = self.name.split() if self.name else []
        return (words[0].split(":", 1)[0].lower() or None) if words else None

    @property
    def is_gpu(self) -> bool:
        """Whether it is an accelerator with its own memory (a known type but ``cpu``/``mps``)."""
        return self.kind not in (None, "cpu", "mps")

    @property
    def model(self) -> str | None:
        """The hardware model: ``name`` without ComfyUI's ``cuda:0`` prefix and allocator suffix."""
        if self.name is None:
            return None
        name = self.name.strip()
        model = _ALLOCATOR_SUFFIX.sub("", _DEVICE_PREFIX.sub("", name, count=1), count=1)
        return model.strip() or name


@attrs.frozen(kw_only=True)
class RunnerStats:
    """Live stats of a runner, main device first; ``extra`` holds unknown keys and, decoding
    leniently, wrong values and dropped devices."""

    system: SystemInfo = attrs.field(factory=SystemInfo)
    devices: list[Device] = attrs.field(factory=list)
    dev_mode: bool | None = None
    extensions: list[str] = attrs.field(factory=list)
    extra: Mapping[str, Any] = extra_field()

    @property
    def main_device(self) -> Device | None:
        """The first device (ComfyUI lists the main one first), or ``None``."""
        return self.devices[0] if self.devices else None

    @property
    def gpus(self) -> list[Device]:
        """The devices that are accelerators (see :attr:`Device.is_gpu`)."""
        return [d for d in self.devices if d.is_gpu]

    @property
    def vram_free_total(self) -> int:
        """Free VRAM in bytes over :attr:`gpus` (a missing figure counts as 0)."""
        return sum(d.vram_free or 0 for d in self.gpus)

    @property
    def vram_total_total(self) -> int:
        """Total VRAM in bytes over :attr:`gpus` (a missing figure counts as 0)."""
        return sum(d.vram_total or 0 for d in self.gpus)

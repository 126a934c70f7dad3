"""Live system stats of a runner: what ComfyUI serves at ``GET /system_stats``, passed on by
ComfyControl (``GET /v1/runner/{id}/stats``, ``GET /v1/managed-runner/{id}/stats``).

Only the models live here; decoding is done by ``comfycontrol_async._converter``.

ComfyUI has changed this payload many times, so every field is optional. What older and newer
servers send, and what the models must survive:

- the oldest servers (2023) send no ``system`` at all; later ones only ``os``, ``python_version``
  and ``embedded_python``; ``ram_*``, ``comfyui_version``, ``pytorch_version`` and ``argv`` came
  in 2024;
- ``os`` was ``posix``/``nt`` until ComfyUI v0.4.0, then ``linux``/``win32``/``darwin``;
- ``comfyui_version`` may be ``unknown`` or a git-describe string (``v0.3.7-12-g1c8d11e``);
- ``index`` is an int, or null for ``cpu`` and ``mps``;
- on ``cpu`` and ``mps`` the "VRAM" figures are system RAM;
- ``torch_vram_*`` is memory PyTorch holds: often 0, sometimes above ``vram_total``, never a
  capacity;
- newer servers may list several devices, the main one first;
- ``argv`` is the server's command line and may hold secrets (the repr never shows it).

How the decoder treats a value of the wrong type here (it never fails in lenient mode) is
described in ``comfycontrol_async._converter``.
"""

import re
from collections.abc import Mapping
from typing import Any

import attrs

from ._base import extra_field, repr_argv

__all__ = ["Device", "RunnerStats", "SystemInfo"]

# Device types whose "VRAM" figures are really system RAM.
_HOST_MEMORY_TYPES = frozenset({"cpu", "mps"})

# ComfyUI names a device "<type>:<index> <model>" (plus " : <allocator>" on CUDA), or, from an
# older code path, "CUDA <device>: <model>". These strip that prefix and suffix.
_DEVICE_PREFIX = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*:\d+|CUDA\s+\S+:)\s+")
_ALLOCATOR_SUFFIX = re.compile(r"\s+:\s*[A-Za-z_]*\s*$")


@attrs.frozen(kw_only=True)
class SystemInfo:
    """The ``system`` part of the stats. Every field is ``None`` when the server did not send it.

    Attributes:
        os: ``posix``/``nt`` (before ComfyUI v0.4.0), ``linux``/``win32``/``darwin`` after.
        ram_total: System RAM in bytes.
        ram_free: Free system RAM in bytes.
        comfyui_version: e.g. ``0.3.77``, ``unknown`` or ``v0.3.7-12-g1c8d11e``.
        python_version: The server's ``sys.version``.
        pytorch_version: The server's PyTorch version.
        embedded_python: Whether ComfyUI runs on the Windows portable build's Python.
        argv: The server's command line. It may hold secrets: the repr shows only its length.
        required_frontend_version: The frontend version the server asks for.
        installed_templates_version: The version of the installed workflow templates.
        extra: Keys this model does not know, and (lenient decoding) known keys whose value had
            the wrong type, as received.
    """

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
    """One compute device of the server. Every field is ``None`` when the server did not send it.

    Attributes:
        name: ComfyUI's device name, e.g. ``cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync``,
            ``xpu:0 Intel(R) Arc(TM) A770 Graphics``, ``cpu``, ``mps``.
        type: ``cuda`` (AMD cards too), ``xpu``, ``cpu``, ``mps``, ``privateuseone``
            (DirectML), ``npu``, ``mlu``, ...
        index: The device index, or ``None`` (always ``None`` for ``cpu`` and ``mps``).
        vram_total: Device memory in bytes (system RAM for ``cpu``/``mps``).
        vram_free: Free device memory in bytes (system RAM for ``cpu``/``mps``).
        torch_vram_total: Memory PyTorch has reserved, in bytes; not a capacity, often 0 and
            sometimes above ``vram_total``.
        torch_vram_free: Free memory inside PyTorch's reservation, in bytes.
        extra: Keys this model does not know, and (lenient decoding) known keys whose value had
            the wrong type, as received.
    """

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
        if words:
            return words[0].split(":", 1)[0].lower() or None
        return None

    @property
    def is_gpu(self) -> bool:
        """Whether this is an accelerator with its own memory (any type but ``cpu`` and ``mps``).

        ``False`` when neither ``type`` nor ``name`` says what the device is.
        """
        kind = self.kind
        return kind is not None and kind not in _HOST_MEMORY_TYPES

    @property
    def model(self) -> str | None:
        """The hardware model read from ``name``, without ComfyUI's prefix and allocator suffix.

        ``cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync`` -> ``NVIDIA H100 80GB HBM3``;
        ``xpu:0 Intel(R) Arc(TM) A770 Graphics`` -> ``Intel(R) Arc(TM) A770 Graphics``;
        ``cpu`` -> ``cpu``. ``None`` when there is no name.
        """
        if self.name is None:
            return None
        name = self.name.strip()
        model = _ALLOCATOR_SUFFIX.sub("", _DEVICE_PREFIX.sub("", name, count=1), count=1)
        return model.strip() or name


@attrs.frozen(kw_only=True)
class RunnerStats:
    """Live stats of a runner.

    Attributes:
        system: The ``system`` part; an empty :class:`SystemInfo` when the server sent none.
        devices: The devices, the main one first; empty when the server sent none.
        dev_mode: ComfyControl's ``dev_mode`` flag, or ``None``.
        extensions: The frontend extension paths ComfyControl lists; empty when absent.
        extra: Keys this model does not know, and (lenient decoding) values that had the wrong
            type or device entries that were dropped, as received.
    """

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
        """Free VRAM in bytes summed over the GPU devices (a missing figure counts as 0).

        ``cpu`` and ``mps`` devices are left out: their "VRAM" is system RAM.
        """
        return sum(d.vram_free or 0 for d in self.devices if d.is_gpu)

    @property
    def vram_total_total(self) -> int:
        """Total VRAM in bytes summed over the GPU devices (a missing figure counts as 0).

        ``cpu`` and ``mps`` devices are left out: their "VRAM" is system RAM.
        """
        return sum(d.vram_total or 0 for d in self.devices if d.is_gpu)

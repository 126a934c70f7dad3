"""The SDK's models written again for pydantic v2 and msgspec, for side-by-side comparisons.

Each mirror has the same fields and types as the attrs model it stands for
(:mod:`comfycontrol_async.models`): strings, lists of strings, string maps, aware datetimes and,
for the stats, every field optional. The pydantic models keep unknown keys (``extra="allow"``)
and are frozen, as the SDK's models keep them in ``extra`` and are frozen. msgspec Structs
ignore unknown keys (msgspec has no "keep them" mode); that makes msgspec's job slightly smaller,
which only matters when a payload carries unknown keys (the benchmark payloads do not).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DeviceM",
    "DeviceP",
    "ManagedRunnerM",
    "ManagedRunnerP",
    "ManagedRunnersPageM",
    "ManagedRunnersPageP",
    "RunnerM",
    "RunnerP",
    "RunnerStatsM",
    "RunnerStatsP",
    "RunnersPageM",
    "RunnersPageP",
    "SystemInfoM",
    "SystemInfoP",
]

_CONFIG = ConfigDict(extra="allow", frozen=True)


# -- pydantic v2 --------------------------------------------------------------------------------


class RunnerP(BaseModel):
    model_config = _CONFIG

    id: str
    user_id: str
    name: str
    status: str
    endpoint: str
    tags: list[str]
    headers: dict[str, str]
    created_at: datetime
    updated_at: datetime


class ManagedRunnerP(BaseModel):
    model_config = _CONFIG

    id: str
    name: str
    runner_type: str
    status: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class SystemInfoP(BaseModel):
    model_config = _CONFIG

    os: str | None = None
    ram_total: int | None = None
    ram_free: int | None = None
    comfyui_version: str | None = None
    python_version: str | None = None
    pytorch_version: str | None = None
    embedded_python: bool | None = None
    argv: list[str] | None = None
    required_frontend_version: str | None = None
    installed_templates_version: str | None = None


class DeviceP(BaseModel):
    model_config = _CONFIG

    name: str | None = None
    type: str | None = None
    index: int | None = None
    vram_total: int | None = None
    vram_free: int | None = None
    torch_vram_total: int | None = None
    torch_vram_free: int | None = None


class RunnerStatsP(BaseModel):
    model_config = _CONFIG

    system: SystemInfoP = Field(default_factory=SystemInfoP)
    devices: list[DeviceP] = Field(default_factory=list)
    dev_mode: bool | None = None
    extensions: list[str] = Field(default_factory=list)


class RunnersPageP(BaseModel):
    model_config = _CONFIG

    runners: list[RunnerP]
    total: int


class ManagedRunnersPageP(BaseModel):
    model_config = _CONFIG

    runners: list[ManagedRunnerP]
    total: int


# -- msgspec ------------------------------------------------------------------------------------


class RunnerM(msgspec.Struct, frozen=True):
    id: str
    user_id: str
    name: str
    status: str
    endpoint: str
    tags: list[str]
    headers: dict[str, str]
    created_at: datetime
    updated_at: datetime


class ManagedRunnerM(msgspec.Struct, frozen=True):
    id: str
    name: str
    runner_type: str
    status: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class SystemInfoM(msgspec.Struct, frozen=True):
    os: str | None = None
    ram_total: int | None = None
    ram_free: int | None = None
    comfyui_version: str | None = None
    python_version: str | None = None
    pytorch_version: str | None = None
    embedded_python: bool | None = None
    argv: list[str] | None = None
    required_frontend_version: str | None = None
    installed_templates_version: str | None = None


class DeviceM(msgspec.Struct, frozen=True):
    name: str | None = None
    type: str | None = None
    index: int | None = None
    vram_total: int | None = None
    vram_free: int | None = None
    torch_vram_total: int | None = None
    torch_vram_free: int | None = None


class RunnerStatsM(msgspec.Struct, frozen=True):
    system: SystemInfoM = msgspec.field(default_factory=SystemInfoM)
    devices: list[DeviceM] = msgspec.field(default_factory=list)
    dev_mode: bool | None = None
    extensions: list[str] = msgspec.field(default_factory=list)


class RunnersPageM(msgspec.Struct, frozen=True):
    runners: list[RunnerM]
    total: int


class ManagedRunnersPageM(msgspec.Struct, frozen=True):
    runners: list[ManagedRunnerM]
    total: int

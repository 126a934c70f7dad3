"""The client-side cache of runners' static facts and of your workflows' runners."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import attrs

from ._report import CapacityRow, plain

_FORMAT: Final = "comfycontrol-runner-facts"
_VERSION: Final = 1


@attrs.frozen(kw_only=True)
class RunnerFacts:
    """What a runner is, as last seen at ``seen_at`` (Unix time); ``last_vram_free`` (then, on one
    GPU) orders reads, never rules a runner out."""

    runner_id: str
    tags: tuple[str, ...] = ()
    device_names: tuple[str, ...] = ()
    device_types: tuple[str, ...] = ()
    gpu_vram_totals: tuple[int, ...] = ()
    ram_total: int | None = None
    comfyui_version: str | None = None
    seen_at: float = 0.0
    last_vram_free: int | None = None

    @property
    def best_vram_total(self) -> int:
        """The total VRAM of its largest GPU (0 without a GPU): the most one job can get."""
        return max(self.gpu_vram_totals, default=0)

    @classmethod
    def from_row(cls, row: CapacityRow, *, seen_at: float) -> RunnerFacts:
        """The static part of a row whose stats were read."""
        return cls(
            runner_id=row.runner_id,
            tags=row.tags,
            device_names=tuple(d.name or "" for d in row.devices),
            device_types=tuple(d.type or "" for d in row.devices),
            gpu_vram_totals=tuple(
                d.vram_total for d in row.devices if d.is_gpu and d.vram_total is not None
            ),
            ram_total=row.ram_total,
            comfyui_version=row.comfyui_version,
            seen_at=seen_at,
            last_vram_free=row.best_vram_free,
        )


class FactsCache:
    """Runners' static facts and your workflows' runners, kept across calls (``cc.find_runners``
    uses the client's unless given one) and runs (:meth:`save`, :meth:`load`); ``clock`` gives
    the Unix time that stamps and ages entries."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._runners: dict[str, RunnerFacts] = {}
        self._workflows: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._runners)

    def __repr__(self) -> str:
        return f"<FactsCache runners={len(self._runners)} workflows={len(self._workflows)}>"

    def now(self) -> float:
        """The cache's clock."""
        return self._clock()

    def get(self, runner_id: str, *, max_age: float | None = None) -> RunnerFacts | None:
        """The facts of a runner, or ``None`` if unknown or older than ``max_age`` seconds."""
        facts = self._runners.get(runner_id)
        stale = facts is not None and max_age is not None and self.age(facts) > max_age
        return None if stale else facts

    def age(self, facts: RunnerFacts) -> float:
        """Seconds since ``facts`` were seen."""
        return max(0.0, self._clock() - facts.seen_at)

    def remember(self, row: CapacityRow) -> None:
        """Keep the static facts of a row whose stats were read (a failed row changes nothing)."""
        if row.ok:
            seen = row.read_at if row.read_at is not None else self._clock()
            self._runners[row.runner_id] = RunnerFacts.from_row(row, seen_at=seen)

    def forget(self, runner_id: str) -> None:
        """Drop what is known of a runner."""
        self._runners.pop(runner_id, None)

    def runners(self) -> list[RunnerFacts]:
        """Every runner's facts."""
        return list(self._runners.values())

    def workflow_runner(self, workflow_id: str) -> str | None:
        """The runner a workflow was scheduled on, if known."""
        return self._workflows.get(workflow_id)

    def remember_workflow(self, workflow_id: str, runner_id: str) -> None:
        """A workflow's runner: fixed once assigned, so it never goes stale."""
        self._workflows[workflow_id] = runner_id

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "runners": [attrs.asdict(f, value_serializer=plain) for f in self._runners.values()],
            "workflows": dict(self._workflows),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the cache to ``path`` (atomically: a reader never sees half a file)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self.to_dict(), out)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> FactsCache:
        """Read a cache written by :meth:`save`; an empty cache if the file does not exist.

        Raises:
            ValueError: The file is not a facts cache (or is damaged).
        """
        cache = cls(clock=clock)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT or data.get("version") != _VERSION:
                raise ValueError("unknown format or version")
            for entry in data["runners"]:
                facts = RunnerFacts(
                    runner_id=str(entry["runner_id"]),
                    tags=tuple(map(str, entry["tags"])),
                    device_names=tuple(map(str, entry["device_names"])),
                    device_types=tuple(map(str, entry["device_types"])),
                    gpu_vram_totals=tuple(int(v) for v in entry["gpu_vram_totals"]),
                    ram_total=None if (v := entry["ram_total"]) is None else int(v),
                    comfyui_version=entry["comfyui_version"],
                    seen_at=float(entry["seen_at"]),
                    last_vram_free=None if (v := entry.get("last_vram_free")) is None else int(v),
                )
                cache._runners[facts.runner_id] = facts
            cache._workflows = {str(k): str(v) for k, v in data["workflows"].items()}
        except FileNotFoundError:
            return cache
        except (ValueError, KeyError, TypeError, AttributeError) as err:  # UnicodeDecodeError too
            raise ValueError(f"{os.fspath(path)!r} is not a runner facts cache: {err}") from None
        return cache

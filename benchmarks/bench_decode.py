"""Figure 6: decoding cost per item, the SDK's converter, shown beside pydantic v2 and msgspec.

No server: this is CPU only, in this process. Payloads, built from the documented example
answers of ``the API documentation`` (their shape and values, varied per item):

* a page of 100 ``Runner`` items (``GET /v1/runner``, ``{"runners": [...], "total": N}``);
* one ``ManagedRunner`` (``GET /v1/managed-runner/{id}``);
* one ``RunnerStats`` (``GET /v1/managed-runner/{id}/stats``, the documented H100 example);
* (detail only) a page of 100 ``ManagedRunner`` items, the payload of the list walks.

Each is decoded by three decoders, into equivalent typed objects (aware datetimes included):

* **SDK**: what the client does with an answer: ``_core.parse_json_body`` (the SDK's JSON
  parsing) then ``_converter.decode_page``/``decode`` into the attrs models;
* **pydantic v2**: ``model_validate_json`` (pydantic's own parser) on the mirror models of
  :mod:`benchmarks._models`;
* **msgspec**: a ``msgspec.json.Decoder`` for the mirror Structs.

"From bytes" gives all three the same bytes, JSON parsing included. "From dicts" gives all
three the same parsed ``dict`` (SDK ``decode``/``decode_page``, pydantic ``model_validate``,
``msgspec.convert``). Variants take turns inside each repetition; each figure is the median of
run-by-run ratios, and the µs per item are medians.

The judged figures are what a user can feel: the SDK's µs per item, from bytes (what the client
does with an answer), at most 10 µs per list item and 30 µs per stats object. pydantic and
msgspec are shown for reference only.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

import msgspec
from pydantic import BaseModel

from comfycontrol_async import ManagedRunner, Runner, RunnerStats
from comfycontrol_async._converter import decode, decode_page, make_converter
from comfycontrol_async._core import Answer, parse_json_body

from ._common import BenchResult, Figure, Sizes, fmt, median, paired_ratios
from ._models import (
    ManagedRunnerM,
    ManagedRunnerP,
    ManagedRunnersPageM,
    ManagedRunnersPageP,
    RunnersPageM,
    RunnersPageP,
    RunnerStatsM,
    RunnerStatsP,
)

__all__ = ["PAYLOADS", "Payload", "run"]


def _runner(i: int) -> dict[str, Any]:
    # The two documented runners (runners-list.json), alternated and varied per item.
    if i % 2 == 0:
        return {
            "id": f"550e8400-e29b-41d4-a716-{446655440000 + i:012d}",
            "user_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "name": f"Production GPU Runner {i}",
            "status": "active",
            "endpoint": f"https://my-comfy-{i}.example.com",
            "tags": ["production", "gpu-a100"],
            "headers": {"Authorization": f"Bearer secret_token_{i}"},
            "created_at": "2024-01-15T10:30:00Z",
            "updated_at": "2024-01-15T10:30:00Z",
        }
    return {
        "id": f"660e8400-e29b-41d4-a716-{446655440001 + i:012d}",
        "user_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "name": f"Development Runner {i}",
        "status": "active",
        "endpoint": f"http://192.168.1.{100 + i % 100}:8188",
        "tags": ["development", "cpu"],
        "headers": {},
        "created_at": "2024-01-14T08:20:00Z",
        "updated_at": "2024-01-14T08:20:00Z",
    }


def _managed(i: int) -> dict[str, Any]:
    # The documented managed runner (managed-runners-get.json), varied per item.
    return {
        "id": f"a1b2c3d4-e5f6-7890-abcd-{0xEF1234567890 + i:012x}",
        "name": f"Managed Pro Runner {i + 1}",
        "runner_type": "pro" if i % 3 else "plus",
        "status": "active",
        "tags": ["managed", "gpu-a100", "high-performance", "image-generation"],
        "created_at": "2024-01-10T08:00:00Z",
        "updated_at": "2024-01-15T10:30:00Z",
    }


_STATS: dict[str, Any] = {
    # The documented stats example (managed-runners-stats.json).
    "system": {
        "os": "posix",
        "ram_free": 239499096064,
        "ram_total": 253344550912,
        "comfyui_version": "0.3.77",
        "python_version": "3.12.12 (main, Oct 15 2025, 09:20:08) [GCC]",
    },
    "devices": [
        {
            "name": "cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync",
            "type": "cuda",
            "vram_total": 84942848000,
            "vram_free": 84316848128,
        }
    ],
    "dev_mode": False,
    "extensions": [
        "/extensions/core/groupNodeManage.js",
        "/extensions/core/groupNode.js",
        "/extensions/ComfyUI-Manager/comfyui-manager.js",
        "/extensions/rgthree-comfy/rgthree.js",
    ],
}


class Payload:
    """One payload and its three decoders, from bytes and from dicts."""

    def __init__(
        self,
        key: str,
        title: str,
        data: dict[str, Any],
        items: int,
        sdk_from_dict: Callable[[Any], Any],
        pydantic_model: type[BaseModel],
        msgspec_type: type[Any],
        goal_us: float | None,
    ) -> None:
        self.key = key
        self.title = title
        self.data = data
        self.raw = json.dumps(data, separators=(",", ":")).encode()
        self.items = items
        self.goal_us = goal_us  # the judged µs per item from bytes; None: shown only
        answer = Answer(status=200, headers={}, body=self.raw)
        decoder = msgspec.json.Decoder(msgspec_type)

        def sdk_bytes(_: bytes) -> Any:
            return sdk_from_dict(parse_json_body(answer))

        self.from_bytes: dict[str, Callable[[bytes], Any]] = {
            "sdk": sdk_bytes,
            "pydantic": pydantic_model.model_validate_json,
            "msgspec": decoder.decode,
        }
        self.from_dict: dict[str, Callable[[Any], Any]] = {
            "sdk": sdk_from_dict,
            "pydantic": pydantic_model.model_validate,
            "msgspec": lambda d: msgspec.convert(d, msgspec_type),
        }

    def check(self) -> None:
        """Decode once with each decoder and check that they agree on a few fields."""
        outs = [f(self.raw) for f in self.from_bytes.values()]
        outs += [f(self.data) for f in self.from_dict.values()]
        firsts = []
        for out in outs:
            first = out
            for name in ("items", "runners"):
                if hasattr(out, name):
                    first = getattr(out, name)[0]
                    break
            if hasattr(first, "created_at"):
                firsts.append((first.id, first.created_at))
            else:
                firsts.append((first.devices[0].vram_free, first.system.ram_free))
        if len(set(firsts)) != 1:
            raise RuntimeError(f"{self.key}: the decoders disagree: {firsts}")


# What users get, whatever converter the caller's process defaults to (the tests' is strict).
_PRODUCTION = make_converter()


def _sdk_page(cls: type[Any], per_page: int) -> Callable[[Any], Any]:
    def decode_it(data: Any) -> Any:
        return decode_page(
            data, key="runners", cls=cls, page=1, per_page=per_page, converter=_PRODUCTION
        )

    return decode_it


def _sdk_one(cls: type[Any]) -> Callable[[Any], Any]:
    def decode_it(data: Any) -> Any:
        return decode(data, cls, converter=_PRODUCTION)

    return decode_it


def _payloads() -> list[Payload]:
    return [
        Payload(
            "runner_page",
            "page of 100 `Runner`",
            {"runners": [_runner(i) for i in range(100)], "total": 250},
            100,
            _sdk_page(Runner, 100),
            RunnersPageP,
            RunnersPageM,
            goal_us=10.0,
        ),
        Payload(
            "managed_runner",
            "one `ManagedRunner`",
            _managed(0),
            1,
            _sdk_one(ManagedRunner),
            ManagedRunnerP,
            ManagedRunnerM,
            goal_us=None,
        ),
        Payload(
            "runner_stats",
            "one `RunnerStats`",
            _STATS,
            1,
            _sdk_one(RunnerStats),
            RunnerStatsP,
            RunnerStatsM,
            goal_us=30.0,
        ),
        Payload(
            "managed_page",
            "page of 100 `ManagedRunner`",
            {"runners": [_managed(i) for i in range(100)], "total": 10_000},
            100,
            _sdk_page(ManagedRunner, 100),
            ManagedRunnersPageP,
            ManagedRunnersPageM,
            goal_us=10.0,
        ),
    ]


PAYLOADS: Callable[[], list[Payload]] = _payloads


def _time_batch(fn: Callable[[Any], Any], arg: Any, calls: int, *, collect: bool = True) -> float:
    if collect:
        gc.collect()  # every timed batch starts from the same garbage-collector state
    started = time.perf_counter()
    for _ in range(calls):
        fn(arg)
    return time.perf_counter() - started


async def run(sizes: Sizes) -> BenchResult:
    reps = sizes.decode_reps
    payloads = _payloads()
    # us per item: results[payload][mode][decoder] = list over repetitions
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    for payload in payloads:
        payload.check()
        calls = max(1, sizes.decode_items // payload.items)
        per_mode: dict[str, dict[str, list[float]]] = {}
        for mode, table, arg in (
            ("bytes", payload.from_bytes, payload.raw),
            ("dicts", payload.from_dict, payload.data),
        ):
            for fn in table.values():  # warm up
                _time_batch(fn, arg, max(1, calls // 10), collect=False)
            times: dict[str, list[float]] = {name: [] for name in table}
            names = list(table)
            for rep in range(reps):
                order = names[rep % len(names) :] + names[: rep % len(names)]
                for name in order:
                    seconds = _time_batch(table[name], arg, calls)
                    times[name].append(seconds * 1e6 / (calls * payload.items))
            per_mode[mode] = times
        results[payload.key] = per_mode

    metrics: dict[str, float] = {}
    figures: list[Figure] = []
    details = [
        f"{reps} repetitions of about {sizes.decode_items:,} items per decoder, mode and payload "
        "(single objects: as many calls). SDK converter in lenient (production) mode.",
        "",
        "| payload | input | SDK µs/item | pydantic v2 µs/item | msgspec µs/item "
        "| SDK / pydantic | SDK / msgspec |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for payload in payloads:
        for mode in ("bytes", "dicts"):
            times = results[payload.key][mode]
            vs_p = median(paired_ratios(times["sdk"], times["pydantic"]))
            vs_m = median(paired_ratios(times["sdk"], times["msgspec"]))
            prefix = f"{payload.key}_{mode}"
            for name, values in times.items():
                metrics[f"{prefix}_{name}_us"] = median(values)
            metrics[f"{prefix}_vs_pydantic"] = vs_p
            metrics[f"{prefix}_vs_msgspec"] = vs_m
            details.append(
                f"| {payload.title} | {mode} | {median(times['sdk']):.2f} "
                f"| {median(times['pydantic']):.2f} | {median(times['msgspec']):.2f} "
                f"| {fmt(vs_p, 'x')} | {fmt(vs_m, 'x')} |"
            )
            if payload.goal_us is not None and mode == "bytes":
                figures.append(
                    Figure(
                        name=f"decode {payload.title.replace('`', '')} from bytes: SDK µs per item",
                        value=median(times["sdk"]),
                        unit="µs",
                        op="<=",
                        goal=payload.goal_us,
                        reps=reps,
                        note=f"for reference: pydantic v2 {median(times['pydantic']):.2f}, "
                        f"msgspec {median(times['msgspec']):.2f} µs/item",
                    )
                )
    parse = {
        key: metrics[f"{key}_bytes_sdk_us"] - metrics[f"{key}_dicts_sdk_us"]
        for key in ("runner_page", "managed_runner", "runner_stats")
    }
    details += [
        "",
        "Where the SDK's time goes: from bytes it parses the body into dicts "
        "(`_core.parse_json_body`), then structures the dicts: two passes, with every "
        "intermediate dict and string allocated and freed, where pydantic and msgspec parse "
        "and validate in one compiled pass. The parse alone (SDK from bytes minus SDK from "
        "dicts) costs "
        f"{parse['runner_page']:.2f} µs per item of a `Runner` page, "
        f"{parse['managed_runner']:.2f} µs for one `ManagedRunner` and "
        f"{parse['runner_stats']:.2f} µs for one `RunnerStats` (compare pydantic's whole parse and "
        "validate above).",
    ]
    details += [
        "",
        "From bytes: SDK = `_core.parse_json_body` (the SDK's own JSON parsing) + "
        "`_converter.decode_page`/`decode`; pydantic = `Model.model_validate_json`; msgspec = "
        "`msgspec.json.Decoder(T).decode`. From dicts: SDK `decode_page`/`decode`, pydantic "
        "`Model.model_validate`, `msgspec.convert(d, T)`. The pydantic models keep unknown keys "
        "(`extra='allow'`) and are frozen, like the SDK's; msgspec Structs drop unknown keys.",
    ]
    return BenchResult(
        key="decode",
        title="6. Decoding",
        figures=figures,
        details=details,
        metrics=metrics,
    )

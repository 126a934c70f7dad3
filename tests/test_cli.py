"""The ``comfycontrol`` command line, run in-process against a fake ComfyControl.

``main()`` runs its own event loop, so the fake serves from a thread of its own (the ``fake``
fixture) and the tests are plain functions. Output is captured with ``capsys``; it is not a
terminal, so rich prints no colour and no progress bar.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from comfycontrol_async import (
    APIConnectionError,
    APITimeoutError,
    ComfyControl,
    ComfyControlError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    __version__,
)
from comfycontrol_async.cli import main
from comfycontrol_async.cli._context import describe_error, plain, safe_url
from comfycontrol_async.cli._scrub import remember, scrub
from comfycontrol_async.testing import FakeComfyControl

T = TypeVar("T")

HEADER_SECRET = "hdr-s3cret-9f2c"
PASSWORD = "hunter2-pw"
ARGV_SECRET = "argv-s3cret-77ab"


class FakeThread:
    """A :class:`FakeComfyControl` serving from its own event loop in a background thread."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._fake: FakeComfyControl | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="fake-server", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # reported by start()
            self._error = err
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with FakeComfyControl(**self._options) as fake:
            self._fake = fake
            self._ready.set()
            await self._stop.wait()

    def start(self) -> FakeThread:
        self._thread.start()
        assert self._ready.wait(10), "the fake did not start"
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        assert not self._thread.is_alive()

    def call(self, fn: Callable[[FakeComfyControl], T]) -> T:
        """Run ``fn(fake)`` in the fake's own thread (its knobs are not thread-safe)."""
        assert self._loop is not None
        assert self._fake is not None
        fake = self._fake

        async def run() -> T:
            return fn(fake)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    @property
    def url(self) -> str:
        return self.call(lambda f: f.url)

    def token(self, tier: str = "pro") -> str:
        return self.call(lambda f: f.token(tier))


def _stats(free_gib: float, *, gpus: int = 1, argv: list[str] | None = None) -> dict[str, Any]:
    gib = 1024**3
    return {
        "system": {
            "os": "linux",
            "ram_total": 64 * gib,
            "ram_free": 32 * gib,
            "comfyui_version": "0.3.77",
            "python_version": "3.12.9 (main) [GCC]",
            "argv": argv or ["main.py"],
        },
        "devices": [
            {
                "name": f"cuda:{i} NVIDIA RTX A6000 : cudaMallocAsync",
                "type": "cuda",
                "index": i,
                "vram_total": 48 * gib,
                "vram_free": int(free_gib * gib),
            }
            for i in range(gpus)
        ],
    }


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeThread]:
    server = FakeThread(seed=0, managed_runners=12, runners=0).start()
    try:
        monkeypatch.setenv("COMFYCONTROL_BASE_URL", server.url)
        monkeypatch.setenv("COMFYCONTROL_API_TOKEN", server.token("pro"))
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("LINES", "50")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COMFYCONTROL_LOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("COMFYCONTROL_API_TOKEN", raising=False)
    monkeypatch.delenv("COMFYCONTROL_BASE_URL", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, "--json", *argv)
    assert code == 0, err
    return json.loads(out)


# -- basics -----------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"comfycontrol {__version__}"


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "usage: comfycontrol" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["capacity", "--min-vram", "lots"],
        ["capacity", "--concurrency", "0"],
        ["runners", "list", "--status", "sleeping"],
        ["--timeout", "-1", "whoami"],
        ["nonsense"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "usage:" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["capacity", "--concurrency", "0"], "must be at least 1, got 0"),
        (["capacity", "--concurrency", "two"], "not a whole number: 'two'"),
        (["--timeout", "nan", "whoami"], "must be a positive number, got nan"),
        (["--timeout", "inf", "whoami"], "must be a positive number, got inf"),
        (["demo", "--managed", "-1"], "must be 0 or more, got -1"),
        (["fake-server", "--latency", "61"], "must be within 0 and 60 seconds, got 61"),
        (["exporter", "--share", "0"], "must be above 0 and at most 1, got 0"),
        (["exporter", "--share", "half"], "not a number: 'half'"),
    ],
)
def test_number_options_say_their_rule(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert says in err


def test_missing_token_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "whoami")
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert "COMFYCONTROL_API_TOKEN" in err
    assert "Traceback" not in err


def test_bad_token_is_an_auth_error(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMFYCONTROL_API_TOKEN", "cfc_not_a_real_token_123")
    code, out, err = run(capsys, "whoami")
    assert code == 2
    assert out == ""
    assert "401" in err
    assert "COMFYCONTROL_API_TOKEN" in err
    assert "cfc_not_a_real_token_123" not in err
    assert len(err.strip().splitlines()) == 1


def test_token_option_overrides_the_environment(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--token", fake.token("free"), "whoami")
    assert code == 0, err
    assert "free" in out
    assert fake.token("free") not in out + err


# -- whoami, runners, managed -------------------------------------------------------------------


def test_whoami(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "whoami")
    assert code == 0, err
    assert "John Doe" in out
    assert "john@example.com" in out
    assert "pro" in out
    assert fake.token("pro") not in out + err


def test_whoami_json(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    user = run_json(capsys, "whoami")
    assert user["tier"] == "pro"
    assert user["email"] == "john@example.com"


def _add_secret_runner(fake: FakeThread, **extra: Any) -> str:
    runner = fake.call(
        lambda f: f.add_runner(
            "pro",
            name="secret-keeper",
            endpoint=f"https://admin:{PASSWORD}@comfy.example.com/api?key={HEADER_SECRET}x",
            headers={"Authorization": f"Bearer {HEADER_SECRET}", "X-Api-Key": HEADER_SECRET},
            tags=["gpu"],
            **extra,
        )
    )
    return str(runner["id"])


def test_runners_list_and_get_never_show_header_values(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    runner_id = _add_secret_runner(fake)
    outputs = []
    for argv in (
        ["runners", "list"],
        ["runners", "list", "--status", "active", "--limit", "5"],
        ["--json", "runners", "list"],
        ["runners", "get", runner_id],
        ["runners", "get", runner_id, "--json"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        outputs.append(out + err)
    everything = "\n".join(outputs)
    assert "secret-keeper" in everything
    assert "Authorization: ***" in everything
    assert HEADER_SECRET not in everything
    assert PASSWORD not in everything
    listed = json.loads(outputs[2])
    assert listed[0]["headers"] == {"Authorization": "***", "X-Api-Key": "***"}
    assert listed[0]["endpoint"] == "https://***@comfy.example.com/api?***"
    got = json.loads(outputs[4])
    assert got["id"] == runner_id
    assert got["headers"] == {"Authorization": "***", "X-Api-Key": "***"}


def test_runners_stats_hides_argv(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    runner_id = _add_secret_runner(
        fake, stats=_stats(30, gpus=2, argv=["main.py", "--token", ARGV_SECRET])
    )
    code, out, err = run(capsys, "runners", "stats", runner_id)
    assert code == 0, err
    assert "NVIDIA RTX A6000" in out
    assert "VRAM\t60.0 GiB free of 96.0 GiB" in out  # two GPUs, summed
    data = run_json(capsys, "runners", "stats", runner_id)
    assert data["id"] == runner_id
    assert data["system"]["argv"] == ["***", "***", "***"]
    assert len(data["devices"]) == 2
    assert ARGV_SECRET not in out + json.dumps(data)


def test_runner_not_found_exits_1(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "runners", "get", "no-such-runner")
    assert code == 1
    assert out == ""
    assert err.startswith("error: not found (404")


def test_managed_list_get_stats(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    ids = fake.call(lambda f: f.managed_runner_ids())
    code, out, err = run(capsys, "managed", "list")
    assert code == 0, err
    assert out.splitlines()[0] == "name\tid\ttype\tstatus\ttags"
    assert len(out.splitlines()) == 13
    listed = run_json(capsys, "managed", "list", "--limit", "3")
    assert [r["id"] for r in listed] == ids[:3]
    code, out, err = run(capsys, "managed", "get", ids[0])
    assert code == 0, err
    assert ids[0] in out
    code, out, err = run(capsys, "managed", "stats", ids[0])
    assert code == 0, err
    assert "NVIDIA H100 80GB HBM3" in out
    assert "\nVRAM\t" in out


def test_managed_on_free_tier_needs_pro_or_plus(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMFYCONTROL_API_TOKEN", fake.token("free"))
    for argv in (["managed", "list"], ["capacity", "--no-pacing"]):
        code, out, err = run(capsys, *argv)
        assert code == 2
        assert out == ""
        assert "Pro or Plus" in err
        assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "capacity", "--all")
    assert code == 2
    assert "Pro or Plus" in err
    assert "capacity --runners" in err


# -- capacity ---------------------------------------------------------------------------------


def test_capacity_table(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--no-pacing", "capacity")
    assert code == 0, err
    # Not a terminal: a TSV header and one whole row per runner (grep finds whole ids).
    lines = out.splitlines()
    assert lines[0].split("\t")[:4] == ["name", "id", "best_free", "gpu"]
    assert len(lines) == 13
    ids = fake.call(lambda f: f.managed_runner_ids())
    assert sorted(line.split("\t")[1] for line in lines[1:]) == sorted(ids)
    assert any("\t8x NVIDIA H100 80GB HBM3\t" in line for line in lines)
    assert "\x1b[" not in out  # no colour codes when not a terminal
    assert err == ""  # no progress bar when stderr is not a terminal


def test_capacity_json(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--no-pacing", "capacity", "--concurrency", "4")
    ids = fake.call(lambda f: f.managed_runner_ids())
    assert sorted(r["runner_id"] for r in data["runners"]) == sorted(ids)
    assert data["summary"]["runners"] == 12
    assert data["summary"]["ok"] == 12
    assert all(r["kind"] == "managed" for r in data["runners"])
    assert "selection" not in data


def test_capacity_min_vram_filters(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--no-pacing", "capacity", "--min-vram", "40GB")
    matched = data["selection"]["matched"]
    assert 0 < matched < 12
    assert len(data["runners"]) == matched
    assert all(r["best_vram_free"] >= 40 * 10**9 for r in data["runners"])
    assert data["summary"]["runners"] == 12  # the summary is still the whole sweep
    # Sizes are shown in the unit typed: GB (10^9) here, GiB (2^30) below.
    code, out, err = run(capsys, "--no-pacing", "capacity", "--min-vram", "40GB")
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()[1:]]
    assert rows
    assert all(re.fullmatch(r"\d+\.\d GB", row[2]) and float(row[2][:-3]) >= 40 for row in rows)
    code, out, err = run(capsys, "--no-pacing", "capacity", "--min-vram", "70GiB")
    assert code == 0, err
    assert all(line.split("\t")[2].endswith(" GiB") for line in out.splitlines()[1:])
    # A bare number could mean anything: it is a usage error that names both units.
    code, out, err = run(capsys, "--no-pacing", "capacity", "--min-vram", "70")
    assert code == 2
    assert "40GB" in err
    assert "24GiB" in err


def test_capacity_tags_filter(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--no-pacing", "capacity", "--tags", "gpu-h100,multi-gpu")
    assert data["runners"]
    assert all({"gpu-h100", "multi-gpu"} <= set(r["tags"]) for r in data["runners"])
    assert data["selection"]["tags"] == ["gpu-h100", "multi-gpu"]


def test_capacity_failing_runner_exits_1(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = fake.call(lambda f: f.managed_runner_ids()[3])
    fake.call(
        lambda f: f.fail_next(
            404, times=5, route="GET /v1/managed-runner/{id}/stats", runner_id=broken
        )
    )
    code, out, err = run(capsys, "--no-pacing", "capacity")
    assert code == 1
    (row,) = [line.split("\t") for line in out.splitlines() if broken in line]
    assert row[-1].startswith("404")  # the error column, in full
    assert err == ""


def test_capacity_all_includes_own_runners(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_secret_runner(fake, stats=_stats(45.5))
    data = run_json(capsys, "--no-pacing", "capacity", "--all", "--timeout-per-runner", "5")
    own = [r for r in data["runners"] if r["kind"] == "own"]
    assert len(own) == 1
    assert own[0]["name"] == "secret-keeper"
    assert own[0]["best_vram_free"] == int(45.5 * 1024**3)
    assert data["summary"]["runners"] == 13
    data = run_json(capsys, "--no-pacing", "capacity", "--runners", "--deadline", "30")
    assert [r["kind"] for r in data["runners"]] == ["own"]


def test_capacity_ctrl_c_exits_130(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(self: ComfyControl, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(ComfyControl, "capacity", interrupted)
    code, out, err = run(capsys, "capacity")
    assert code == 130
    assert out == ""
    assert err == "error: interrupted\n"


# -- demo and fake-server -------------------------------------------------------------------------


def test_demo_needs_no_token_and_no_network(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Values that would break any command reading them: the demo must not.
    monkeypatch.setenv("COMFYCONTROL_API_TOKEN", "cfc_wrong")
    monkeypatch.setenv("COMFYCONTROL_BASE_URL", "https://api.invalid")
    code, out, err = run(capsys, "demo", "--managed", "20", "--runners", "5")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("name\tid\t")
    assert len(lines) == 26
    assert sum(1 for line in lines if line.split("\t")[-1]) == 3  # header + 2 failing
    assert "does not rate-limit" in err


def test_demo_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "demo", "--managed", "12", "--runners", "0", "--seed", "3")
    assert data["summary"]["runners"] == 12
    assert data["answer"]["min_vram_free"] == 40 * 10**9
    assert all(r["best_vram_free"] >= 40 * 10**9 for r in data["answer"]["runners"])


def test_demo_needs_runners(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "demo", "--managed", "0", "--runners", "0")
    assert code == 2
    assert "--managed N or --runners N" in err


def test_fake_server_stops_cleanly_on_ctrl_c(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from comfycontrol_async.testing import _serve

    seen: dict[str, Any] = {}

    async def serve(**kwargs: Any) -> None:
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(_serve, "serve", serve)
    code, _, err = run(capsys, "fake-server", "--port", "0", "--managed", "3", "--runners", "1")
    assert code == 0
    assert err == ""
    assert seen["port"] == 0
    assert seen["managed"] == 3
    assert seen["runners"] == 1


# -- workflows and templates ----------------------------------------------------------------------


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    path = tmp_path / "portrait.json"
    document = {
        "3": {"class_type": "KSampler", "inputs": {"seed": "$random()"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "$text(prompt)"}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "out"}},
    }
    path.write_text(json.dumps(document))
    return path


def test_workflows_run_wait_and_download(
    fake: FakeThread,
    capsys: pytest.CaptureFixture[str],
    workflow_file: Path,
    tmp_path: Path,
) -> None:
    fake.call(
        lambda f: f.set_workflow_durations(accepted=0.01, uploaded=0.01, queued=0.01, running=0.05)
    )
    target = tmp_path / "out"
    code, out, err = run(
        capsys,
        "workflows",
        "run",
        str(workflow_file),
        "--param",
        "prompt=a red fox",
        "--tag",
        "gpu-h100",
        "--download",
        str(target),
        "--poll-interval",
        "0.05",
        "--deadline",
        "10",
    )
    assert code == 0, err
    assert "created workflow" in err
    files = sorted(target.iterdir())
    assert len(files) == 1
    assert files[0].read_bytes().startswith(b"\x89PNG")
    assert f"downloaded {files[0]}" in out

    workflow_id = fake.call(lambda f: f.workflow_ids("pro")[0])
    detail = run_json(capsys, "workflows", "get", workflow_id)
    assert detail["status"] == "completed"
    assert ["$text(prompt)", "a red fox"] in detail["workflow_params"]
    code, out, err = run(capsys, "workflows", "list", "--status", "completed")
    assert code == 0, err
    assert workflow_id in out
    code, out, err = run(capsys, "workflows", "outputs", workflow_id)
    assert code == 0, err
    assert out.splitlines()[0] == "id\tfile\thost"
    assert "127.0.0.1" in out
    assert "sig=" not in out
    outputs = run_json(capsys, "workflows", "outputs", workflow_id)
    assert outputs[0]["src"].endswith(".png?***")
    again = tmp_path / "again"
    code, out, err = run(capsys, "workflows", "download", workflow_id, str(again))
    assert code == 0, err
    assert [p.name for p in again.iterdir()] == [files[0].name]
    assert "sig=" not in out
    # Downloads never overwrite without --force: nothing changes, exit 1, the file is named.
    (again / files[0].name).write_bytes(b"mine")
    code, out, err = run(capsys, "workflows", "download", workflow_id, str(again))
    assert code == 1
    assert "would overwrite" in err
    assert "--force" in err
    assert (again / files[0].name).read_bytes() == b"mine"
    assert [p.name for p in again.iterdir()] == [files[0].name]  # no staging left behind
    data = run_json(capsys, "workflows", "download", workflow_id, str(again), "--force")
    assert data == {"id": workflow_id, "downloaded": [str(again / files[0].name)]}
    assert (again / files[0].name).read_bytes().startswith(b"\x89PNG")


def test_workflows_run_failure_exits_1(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], workflow_file: Path
) -> None:
    fake.call(
        lambda f: f.set_workflow_durations(accepted=0.01, uploaded=0.01, queued=0.01, running=0.01)
    )
    fake.call(lambda f: f.fail_next_workflow())
    code, out, err = run(
        capsys,
        "workflows",
        "run",
        str(workflow_file),
        "--param",
        "prompt=x",
        "--wait",
        "--poll-interval",
        "0.05",
    )
    assert code == 1
    assert "failed" in out
    assert "torch.OutOfMemoryError" in err


def test_workflows_run_checks_placeholders_first(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], workflow_file: Path
) -> None:
    code, out, err = run(capsys, "workflows", "run", str(workflow_file), "--param", "colour=red")
    assert code == 2
    assert out == ""
    assert "prompt" in err
    assert fake.call(lambda f: f.workflow_ids("pro")) == []
    code, _, err = run(capsys, "workflows", "run", str(workflow_file), "--param", "novalue")
    assert code == 2
    assert "KEY=VALUE" in err
    code, _, err = run(capsys, "workflows", "run", "missing.json")
    assert code == 2
    assert "file not found" in err


def test_workflows_run_without_wait_and_cancel(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], workflow_file: Path
) -> None:
    # Straight to "queued", and it stays there: only queued or running ones can be cancelled.
    fake.call(lambda f: f.set_workflow_durations(accepted=0, uploaded=0, queued=600))
    data = run_json(capsys, "workflows", "run", str(workflow_file), "--param", "prompt=p")
    workflow_id = data["id"]
    assert data["status"] == "queued"
    code, out, err = run(capsys, "workflows", "cancel", workflow_id)
    assert code == 0, err
    assert workflow_id in out
    # A cancelled workflow cannot be cancelled again: the API says 400.
    code, out, err = run(capsys, "workflows", "cancel", workflow_id)
    assert code == 1
    assert "400" in err


def test_templates(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], workflow_file: Path, tmp_path: Path
) -> None:
    created = run_json(
        capsys,
        "templates",
        "create",
        "--name",
        "Portrait",
        "--description",
        "A face",
        str(workflow_file),
    )
    template_id = created["id"]
    assert created["body"]["6"]["inputs"]["text"] == "$text(prompt)"
    code, out, err = run(capsys, "templates", "get", template_id)
    assert code == 0, err
    assert "Portrait" in out
    assert "3 node(s)" in out
    code, out, err = run(capsys, "templates", "get", template_id, "--body")
    assert code == 0, err
    assert json.loads(out)["9"]["class_type"] == "SaveImage"
    code, out, err = run(capsys, "templates", "list")
    assert code == 0, err
    assert template_id in out
    new_body = tmp_path / "new.json"
    new_body.write_text(json.dumps({"1": {"class_type": "SaveImage", "inputs": {}}}))
    updated = run_json(
        capsys, "templates", "update", template_id, "--name", "Renamed", "--body", str(new_body)
    )
    assert updated["name"] == "Renamed"
    assert updated["description"] == "A face"
    assert list(updated["body"]) == ["1"]
    code, _, err = run(capsys, "templates", "update", template_id)
    assert code == 2
    assert "nothing to change" in err


# -- redaction helpers ---------------------------------------------------------------------------


def test_safe_url_and_scrub_text() -> None:
    assert safe_url("https://u:p@host.example/a/b.png?sig=abc&x=1") == (
        "https://***@host.example/a/b.png?***"
    )
    assert safe_url("http://127.0.0.1:8188") == "http://127.0.0.1:8188"
    assert safe_url(None) == ""
    remember(["cfc_tok_4f1c"])
    text = "GET https://store.example/k.png?expires=1&sig=abc failed for cfc_tok_4f1c"
    assert scrub(text) == "GET https://store.example/k.png?*** failed for ***"
    assert scrub("see http://a:b@h/x") == "see http://***@h/x"
    assert scrub("bell\x07 esc\x1b[2J") == "bell\\x07 esc\\x1b[2J"  # visible, harmless


def test_plain_hides_sensitive_extra_keys() -> None:
    import attrs

    @attrs.frozen
    class Thing:
        headers: dict[str, str]
        extra: dict[str, Any]

    data = plain(Thing({"Authorization": "x"}, {"api_key": "k", "nested": {"password": "p"}}))
    assert data == {
        "headers": {"Authorization": "***"},
        "extra": {"api_key": "***", "nested": {"password": "***"}},
    }


@pytest.mark.parametrize(
    ("error", "code", "fragment"),
    [
        (RateLimitError("slow down", retry_after=7.0), 1, "rate limited (429: slow down)"),
        (ServerError("boom", status=502, method="GET", url="http://h/v1/x?page=2"), 1, "502"),
        (APITimeoutError("GET /v1/user timed out"), 1, "timed out"),
        (APIConnectionError("refused"), 1, "could not reach the API: refused"),
        (ResponseValidationError("bad", path="$.runners[0]"), 1, "$.runners[0]"),
        (PaginationError("walk broke", next_page=3, items_yielded=200), 1, "page 3"),
        (PermissionDeniedError("runner limit", status=403), 2, "permission denied"),
        (ComfyControlError("something"), 1, "something"),
        (ValueError("bad value"), 2, "bad value"),
        (OSError("disk full"), 1, "disk full"),
        (RuntimeError("bug"), 1, "unexpected RuntimeError"),
        (ExceptionGroup("g", [NotFoundError("gone", status=404)]), 1, "not found (404: gone)"),
    ],
)
def test_describe_error(error: BaseException, code: int, fragment: str) -> None:
    got_code, message = describe_error(error)
    assert got_code == code
    assert fragment in message
    assert "?page" not in message


def test_debug_shows_the_traceback(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "runners", "get", "nope", "--debug")
    assert code == 1
    assert "Traceback" in err
    assert err.rstrip().splitlines()[-1].startswith("error: not found")


def test_workflow_get_shows_the_failure(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = fake.call(
        lambda f: f.add_workflow(
            "pro",
            name="broken",
            workflow_json={"4": {"class_type": "CheckpointLoaderSimple"}},
            status="failed",
            workflow_params=[["$text(prompt)", "a cat"]],
        )
    )
    code, out, err = run(capsys, "workflows", "get", workflow["id"])
    assert code == 0, err
    assert "failed" in out
    assert "torch.OutOfMemoryError" in out
    assert "$text(prompt) = a cat" in out


def test_markup_and_terminal_escapes_are_printed_harmlessly(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.call(
        lambda f: f.add_runner(
            "pro", name="[bold red]x[/] :smile: \x1b]0;pwned\x07", tags=["[/]"], stats=_stats(1)
        )
    )
    code, out, err = run(capsys, "runners", "list")
    assert code == 0, err
    assert "[bold red]x[/] :smile: \\x1b]0;pwned\\x07" in out
    assert "[/]" in out
    assert "\x1b" not in out

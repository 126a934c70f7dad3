"""What the command line shows: tables at 80, 120 and 160 columns, TSV through pipes, the JSON
shape of every command, secrets kept off every output, usage errors that help, completion.

The fake serves from a thread (``tests.test_cli.FakeThread``); ``main()`` runs in-process.
A "terminal" here is a rich console forced to be one, at a fixed width, writing to the
captured stdout.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from comfycontrol_async import ComfyControl, RateLimit
from comfycontrol_async.cli import _context
from comfycontrol_async.cli._capacity_view import SweepBar
from comfycontrol_async.cli._context import Ctx
from comfycontrol_async.cli._main import build_parser
from comfycontrol_async.resources.workflows import Workflows
from comfycontrol_async.testing import FakeComfyControl
from tests.test_cli import (  # the fixtures are used by name
    FakeThread,
    _stats,
    fake,
    plain_terminal,
    run,
    run_json,
)

__all__ = ["fake", "plain_terminal"]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    """Make the next ``main()`` print to a terminal ``width`` columns wide (stdout and stderr)."""

    def make(args: Any, **_: Any) -> Ctx:
        options: dict[str, Any] = {
            "width": width,
            "force_terminal": True,
            "color_system": None,
            "highlight": False,
            "markup": False,
            "emoji": False,
        }
        return Ctx(
            args=args,
            out=Console(file=sys.stdout, **options),
            err=Console(file=sys.stderr, **options),
        )

    monkeypatch.setattr(_context, "make_ctx", make)


LONG_NAMES = [
    "Render farm node with a long descriptive name 01",
    "Render farm node with a long descriptive name 02",
    "gpu-box-03",
]


@pytest.fixture
def long_fleet(fake: FakeThread) -> dict[str, str]:
    """Three managed runners with long, nearly equal names (name -> id), one failing."""
    ids = {}
    for number, name in enumerate(LONG_NAMES):
        gpu = "8xH100" if number == 0 else "A100-80GB"
        added = fake.call(functools.partial(_add_managed, name=name, gpu=gpu))
        ids[name] = str(added["id"])
    return ids


def _add_managed(fake: FakeComfyControl, *, name: str, gpu: str) -> dict[str, Any]:
    return fake.add_managed_runner(name=name, gpu=gpu)


@pytest.mark.parametrize("width", [80, 120, 160])
def test_capacity_table_never_cuts_names_or_ids(
    fake: FakeThread,
    long_fleet: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    width: int,
) -> None:
    reason = "Failed to fetch runner stats: upstream ComfyUI answered 502 Bad Gateway " * 2
    failing = long_fleet["gpu-box-03"]
    fake.call(
        lambda f: f.fail_next(
            500,
            times=10,
            route="GET /v1/managed-runner/{id}/stats",
            runner_id=failing,
            body={"status": 500, "message": reason.strip()},
        )
    )
    on_terminal(monkeypatch, width)
    code, out, err = run(capsys, "--no-pacing", "capacity", "--min-vram", "1GiB")
    assert code == 1, err
    lines = ANSI.sub("", out).splitlines()
    assert all(len(line) <= width for line in lines), [ln for ln in lines if len(ln) > width]
    for name in LONG_NAMES[:2]:
        # The name whole on one line, the id whole on the same line or the next.
        (at,) = [i for i, line in enumerate(lines) if name in line]
        assert long_fleet[name] in lines[at] + "\n" + lines[at + 1]
        # the best free VRAM and the GPU model show for every runner, here in GiB as typed
        block = "\n".join(lines[at : at + 3])
        assert re.search(r"\d+\.\d GiB", block)
        assert "NVIDIA" in block
    # the failure is under the table, with its whole reason
    (failure,) = [line for line in lines if failing in line]
    assert "gpu-box-03" in failure
    text = " ".join(" ".join(lines[lines.index(failure) :]).split())
    assert " ".join(reason.split()) in text


def test_wider_terminals_show_more_columns(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = []
    for width in (80, 120, 160, 240):
        on_terminal(monkeypatch, width)
        code, out, err = run(capsys, "--no-pacing", "capacity")
        assert code == 0, err
        header = next((ln for ln in out.splitlines() if ln.startswith("name ")), "")
        shown.append({c.strip() for c in re.split(r"\s{2,}", header)} - {""})
    assert shown[0] == set()  # 80 columns: a block per runner, no header row
    assert {"name", "id", "best free", "GPU"} <= shown[1]
    assert shown[1] <= shown[2] <= shown[3]
    assert len(shown[3]) == 9


def test_empty_answers_are_sentences(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = _context.make_ctx
    on_terminal(monkeypatch, 100)
    code, out, err = run(capsys, "--no-pacing", "capacity", "--min-vram", "10TB")
    assert code == 0, err
    assert "No runner has at least 10TB free on one GPU right now (12 swept)." in out
    code, out, err = run(capsys, "runners", "list")
    assert code == 0, err
    assert out.strip() == "No runners."
    # Piped: nothing on stdout (so `| wc -l` says 0), the sentence on stderr.
    monkeypatch.setattr(_context, "make_ctx", piped)
    code, out, err = run(capsys, "runners", "list")
    assert (code, out) == (0, "")
    assert "No runners." in err


def test_top_limits_the_rows(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--no-pacing", "capacity", "--top", "3")
    assert code == 0, err
    assert len(out.splitlines()) == 1 + 3
    data = run_json(capsys, "--no-pacing", "capacity", "--top", "3")
    assert len(data["runners"]) == 3
    assert data["selection"]["matched"] == 12


def test_piped_rows_are_whole_for_grep(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.call(lambda f: f.add_runner("pro", name="Production A", tags=["x"], stats=_stats(3)))
    code, out, err = run(capsys, "runners", "list")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header == "name\tid\tstatus\ttags\tendpoint\theaders"
    (row,) = [r for r in rows if "Production" in r]
    fields = row.split("\t")
    assert fields[0] == "Production A"
    assert re.fullmatch(r"[0-9a-f-]{36}", fields[1])
    code, out, err = run(capsys, "whoami")
    assert code == 0, err
    assert "tier\tpro" in out.splitlines()


# -- JSON: one shape per command, with `id` ---------------------------------------------------


def test_every_command_has_a_json_shape_with_ids(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake.call(
        lambda f: f.set_workflow_durations(accepted=0.01, uploaded=0.01, queued=0.01, running=0.02)
    )
    body = tmp_path / "t.json"
    body.write_text(
        json.dumps({"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "$text(prompt)"}}})
    )

    def has_id(data: Any) -> None:
        items = data if isinstance(data, list) else [data]
        assert items, data
        assert all(isinstance(item["id"], str) and item["id"] for item in items), data

    has_id(run_json(capsys, "whoami"))
    runner = run_json(
        capsys,
        "runners",
        "create",
        "--name",
        "r1",
        "--endpoint",
        "http://127.0.0.1:9",
        "--tags",
        "a,b",
    )
    has_id(runner)
    assert runner["tags"] == ["a", "b"]
    rid = runner["id"]
    has_id(run_json(capsys, "runners", "list"))
    has_id(run_json(capsys, "runners", "get", rid))
    updated = run_json(capsys, "runners", "update", rid, "--status", "disabled", "--name", "r2")
    assert (updated["name"], updated["status"]) == ("r2", "disabled")
    managed = run_json(capsys, "managed", "list")
    has_id(managed)
    mid = managed[0]["id"]
    has_id(run_json(capsys, "managed", "get", mid))
    stats = run_json(capsys, "managed", "stats", mid)
    assert stats["id"] == mid
    assert stats["devices"]
    template = run_json(
        capsys, "templates", "create", str(body), "--name", "T", "--description", "d"
    )
    has_id(template)
    has_id(run_json(capsys, "templates", "list"))
    has_id(run_json(capsys, "templates", "get", template["id"]))
    has_id(run_json(capsys, "templates", "update", template["id"], "--description", "e"))
    created = run_json(
        capsys, "workflows", "run", "--template", template["id"], "--param", "prompt=a fox"
    )
    has_id(created)
    wid = created["id"]
    done = run_json(capsys, "workflows", "wait", wid, "--poll-interval", "0.02")
    assert (done["id"], done["status"], done["downloaded"]) == (wid, "completed", [])
    assert ["$text(prompt)", "a fox"] in done["workflow_params"]
    has_id(run_json(capsys, "workflows", "list"))
    has_id(run_json(capsys, "workflows", "get", wid))
    has_id(run_json(capsys, "workflows", "outputs", wid))
    got = run_json(capsys, "workflows", "download", wid, str(tmp_path / "out"))
    assert got["id"] == wid
    assert len(got["downloaded"]) == 1
    history = run_json(capsys, "managed", "history", done["managed_runner_id"])
    assert wid in [w["id"] for w in history]
    assert run_json(capsys, "runners", "history", rid) == []
    capacity = run_json(capsys, "--no-pacing", "capacity")
    has_id(capacity["runners"])
    assert set(capacity) == {"summary", "runners"}


def test_runner_interrupt(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    rid = fake.call(lambda f: f.add_runner("pro", name="busy", stats=_stats(3)))["id"]
    assert run_json(capsys, "runners", "interrupt", rid) == {"id": rid, "interrupted": True}


# -- secrets ----------------------------------------------------------------------------------


def test_token_after_the_command_works_and_is_never_shown(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMFYCONTROL_API_TOKEN")
    token = fake.token("plus")
    code, out, err = run(capsys, "whoami", "--token", token, "--json")
    assert code == 0, err
    assert json.loads(out)["tier"] == "plus"
    assert token not in out + err


def test_secrets_echoed_by_a_server_never_reach_the_screen(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fake.token("pro")
    header = f"hdr-{secrets.token_hex(12)}"
    password = f"pw-{secrets.token_hex(6)}"
    echo = f"you sent Bearer {token}, http://u:{password}@h.example/x"
    monkeypatch.delenv("COMFYCONTROL_API_TOKEN")
    for argv in (
        ["whoami", "--token", token],
        ["--debug", "whoami", f"--token={token}"],
        [
            "runners",
            "create",
            "--name",
            "x",
            "--endpoint",
            f"http://u:{password}@h.example/",
            "--header",
            f"X-Key={header}",
            "--debug",
            "--token",
            token,
        ],
    ):
        said = f"{echo}, X-Key {header}" if "--header" in argv else echo
        body = {"status": 500, "message": said}
        fake.call(functools.partial(FakeComfyControl.fail_next, status=500, times=5, body=body))
        code, out, err = run(capsys, *argv)
        assert code == 1, err
        shown = out + err
        assert "you sent Bearer ***" in shown
        for secret in (token, header, password):
            assert secret not in shown
    assert "Traceback" in err  # --debug shows it, scrubbed
    assert "debug: POST /v1/runner -> 500" in err  # and the request log, scrubbed too


def test_usage_errors_never_echo_secrets_and_suggest(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"cfc_{secrets.token_urlsafe(24)}"
    code, out, err = run(capsys, "whoami", "--tokn", secret)
    assert code == 2
    assert "did you mean '--token'?" in err
    assert secret not in out + err
    code, _, err = run(capsys, "--token", secret, "whoami", "--header", f"K={secret}")
    assert code == 2
    assert secret not in err
    monkeypatch.setenv("COMFYCONTROL_API_TOKEN", secret)
    code, _, err = run(capsys, secret)
    assert code == 2
    assert secret not in err
    code, _, err = run(capsys, "runers", "list")
    assert code == 2
    assert "did you mean 'runners'?" in err
    code, _, err = run(capsys, "capacity", "--min-vam", "40GB")
    assert code == 2
    assert "did you mean '--min-vram'?" in err
    code, _, err = run(capsys, "runners", "lst")
    assert "did you mean 'list'?" in err


def test_runner_header_values_are_never_printed(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    value = f"Bearer {secrets.token_hex(16)}"
    for argv in (
        ["runners", "create", "--name", "h", "--endpoint", "http://127.0.0.1:9"],
        ["--json", "runners", "create", "--name", "h", "--endpoint", "http://127.0.0.1:9"],
    ):
        code, out, err = run(capsys, *argv, "--header", f"Authorization={value}")
        assert code == 0, err
        assert value not in out + err
        assert value.split()[1] not in out + err
        assert "Authorization" in out


# -- options, progress, Ctrl-C -----------------------------------------------------------------


def test_global_options_before_or_after_the_command(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run_json(capsys, "--no-pacing", "--quiet", "managed", "list", "--limit", "2")
    code, out, err = run(capsys, "managed", "list", "--limit", "2", "--json", "-q", "--no-pacing")
    assert code == 0, err
    assert json.loads(out) == before


def test_progress_shows_on_a_terminal_stderr_even_with_json() -> None:
    args = build_parser().parse_args(["--json", "capacity"])
    args.quiet = False
    terminal = Console(file=io.StringIO(), force_terminal=True)
    piped = Console(file=io.StringIO(), force_terminal=False)
    assert Ctx(args=args, out=piped, err=terminal).live
    assert not Ctx(args=args, out=terminal, err=piped).live
    args.quiet = True
    assert not Ctx(args=args, out=piped, err=terminal).live


def test_the_eta_knows_the_pacing() -> None:
    args = build_parser().parse_args(["capacity"])
    args.quiet = True
    ctx = Ctx(args=args, out=Console(file=io.StringIO()), err=Console(file=io.StringIO()))
    paced = SweepBar(ctx, kinds=1, rate_limit=RateLimit(requests=40, per_seconds=10.0))
    free = SweepBar(ctx, kinds=1, rate_limit=None)
    for bar in (paced, free):
        bar._start = 0.0
        bar._done = 40  # 40 done in the first second: the first window's burst
    # 360 left: the pace so far says 9 s; the limit says no less than 90 s.
    assert free.eta(400, now=1.0) == pytest.approx(9.0)
    assert paced.eta(400, now=1.0) == pytest.approx(90.0)
    assert paced.eta(None, now=1.0) is None


def test_ctrl_c_while_waiting_says_how_to_cancel(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(self: Workflows, workflow_id: str, **_: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Workflows, "wait", interrupted)
    code, _out, err = run(capsys, "workflows", "wait", "wf-123")
    assert code == 130
    assert "keeps running" in err
    assert "comfycontrol workflows cancel wf-123" in err


def test_free_tier_capacity_gets_the_tier_hint(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMFYCONTROL_API_TOKEN", fake.token("free"))
    code, _out, err = run(capsys, "--no-pacing", "capacity")
    assert code == 2
    assert "Pro or Plus" in err
    assert "capacity --runners" in err


# -- fake-server ------------------------------------------------------------------------------


def test_fake_server_flags_reach_the_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from comfycontrol_async.testing import _serve

    seen: dict[str, Any] = {}

    async def serve(**kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(_serve, "serve", serve)
    argv = ["fake-server", "--port", "0", "--latency", "0.2", "--error-rate", "0.1"]
    code, _, err = run(capsys, *argv, "--rate-limit", "40/10", "--seed", "7")
    assert code == 0, err
    assert (seen["latency"], seen["error_rate"], seen["rate_limit"]) == (0.2, 0.1, (40, 10.0))
    assert seen["seed"] == 7
    assert seen.pop("as_json") is False
    code, _, err = run(capsys, "fake-server", "--json")
    assert code == 0, err
    assert seen.pop("as_json") is True
    for bad in (["--error-rate", "2"], ["--rate-limit", "fast"], ["--latency", "-1"]):
        code, _, err = run(capsys, "fake-server", *bad)
        assert code == 2, bad


def test_fake_server_help_says_what_is_simulated(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "fake-server", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "never sent to any ComfyUI server" in text
    assert "GET {endpoint}/system_stats" in text
    assert "POST {endpoint}/interrupt" in text


async def test_fake_server_json_line_says_where_it_is() -> None:
    from comfycontrol_async.testing import _serve

    class Announced(io.StringIO):
        ready = asyncio.Event()

        def flush(self) -> None:
            super().flush()
            self.ready.set()

    out = Announced()
    task = asyncio.create_task(_serve.serve(port=0, managed=2, runners=0, out=out, as_json=True))
    try:
        await out.ready.wait()
        where = json.loads(out.getvalue())
        async with ComfyControl(where["token"], base_url=where["base_url"], rate_limit=None) as cc:
            assert (await cc.user.get()).tier == "pro"
        assert set(where["tokens"]) == {"free", "plus", "pro", "enterprise"}
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_fake_server_default_fleet_answers_capacity_all() -> None:
    from comfycontrol_async.testing import _serve

    class Announced(io.StringIO):
        """The server's output; ``ready`` once it has flushed its exports (it is serving)."""

        ready = asyncio.Event()

        def flush(self) -> None:
            super().flush()
            self.ready.set()

    out = Announced()
    task = asyncio.create_task(_serve.serve(port=0, managed=8, runners=3, out=out))
    try:
        await out.ready.wait()
        values = dict(
            line.removeprefix("export ").split("=", 1)
            for line in out.getvalue().splitlines()
            if line.startswith("export ")
        )
        async with ComfyControl(
            values["COMFYCONTROL_API_TOKEN"],
            base_url=values["COMFYCONTROL_BASE_URL"],
            rate_limit=None,
        ) as cc:
            report = await cc.capacity(managed=True, own=True)
        assert len(report) == 8 + 3
        assert not report.failures
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# -- completion -------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(capsys: pytest.CaptureFixture[str], shell: str) -> None:
    code, out, err = run(capsys, "completion", shell)
    assert code == 0, err
    assert "comfycontrol" in out
    assert "_ARGCOMPLETE" in out


def _complete(line: str, tmp_path: Path) -> list[str]:
    answer = tmp_path / "answer"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
    }
    code = "import sys; from comfycontrol_async.cli import main; sys.exit(main())"
    subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return answer.read_text().replace("\x0b", " ").split()


def test_completion_answers_commands_and_options(tmp_path: Path) -> None:
    assert "runners" in _complete("comfycontrol ru", tmp_path)
    assert "--min-vram" in _complete("comfycontrol capacity --min", tmp_path)
    assert set(_complete("comfycontrol runners list --status ", tmp_path)) == {"active", "disabled"}

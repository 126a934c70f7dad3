"""``capacity --limit`` (find_runners and its facts cache file), ``route`` and
``capacity --format prometheus``, run in-process against a fake ComfyControl."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from comfycontrol_async import ComfyControl, FactsCache
from comfycontrol_async.capacity import CapacityReport
from tests.test_cli import (  # the fixtures are used by name
    HEADER_SECRET,
    PASSWORD,
    FakeThread,
    _add_secret_runner,
    _stats,
    fake,
    plain_terminal,
    run,
    run_json,
)
from tests.test_cli_output import ANSI, on_terminal
from tests.test_packaging import _modules_loaded

__all__ = ["fake", "plain_terminal"]

STATS = "GET /v1/managed-runner/{id}/stats"
HEADER = ["name", "id", "best_free", "gpu", "kind"]


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache directory, in a temporary place (never the real ~/.cache)."""
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def facts_file(cache_home: Path) -> Path:
    return cache_home / "comfycontrol" / "facts.json"


def sent(fake: FakeThread) -> int:
    return fake.call(lambda f: len(f.requests))


def clear(fake: FakeThread) -> None:
    fake.call(lambda f: f.clear_requests())


def capture_reports(monkeypatch: pytest.MonkeyPatch) -> list[CapacityReport]:
    """The reports ``cc.capacity()`` returns during the next commands."""
    reports: list[CapacityReport] = []
    original = ComfyControl.capacity

    async def capacity(self: ComfyControl, **kwargs: Any) -> CapacityReport:
        report = await original(self, **kwargs)
        reports.append(report)
        return report

    monkeypatch.setattr(ComfyControl, "capacity", capacity)
    return reports


# -- capacity --limit ---------------------------------------------------------------------------


def test_limit_prints_fitting_rows_as_capacity_does(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--no-pacing", "capacity", "--min-vram", "40GB", "--limit", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split("\t")[:5] == HEADER
    assert lines[0].split("\t")[-1] == "error"
    rows = [line.split("\t") for line in lines[1:]]
    assert len(rows) == 3
    assert all(re.fullmatch(r"\d+\.\d GB", r[2]) and float(r[2][:-3]) >= 40 for r in rows)
    assert {r[1] for r in rows} <= set(fake.call(lambda f: f.managed_runner_ids()))
    # stdout holds only rows; the search line is on stderr, whole
    (line,) = err.splitlines()
    assert re.fullmatch(
        r"\d+ requests; \d+ runners read, \d+ ruled out without asking; "
        r"stopped at 3: other runners may fit too",
        line,
    )


def test_limit_json_shape_and_requests(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], cache_home: Path
) -> None:
    clear(fake)
    data = run_json(capsys, "--no-pacing", "capacity", "--min-vram", "40GB", "--limit", "2")
    assert set(data) == {"summary", "runners", "selection", "search"}
    assert len(data["runners"]) == 2
    for row in data["runners"]:
        assert row["id"] == row["runner_id"]
        assert row["best_vram_free"] >= 40 * 10**9
        assert row["age"] is not None
    assert data["selection"] == {
        "min_vram_free": 40 * 10**9,
        "tags": [],
        "top": None,
        "limit": 2,
        "matched": 2,
    }
    search = data["search"]
    assert search["requests"] == sent(fake)  # what the server received
    assert search["requests"] < 1 + 12  # less than a sweep: a page and every runner's stats
    assert search["complete"] is False
    assert search["facts_cache"] == str(facts_file(cache_home))
    assert data["summary"]["runners"] == len(search["checked"])


def test_facts_cache_is_written_and_makes_the_next_run_cheaper(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], cache_home: Path
) -> None:
    # Nothing in this fleet has 90 GB on one GPU: the cold run must read every runner ...
    argv = ["--no-pacing", "capacity", "--min-vram", "90GB", "--limit", "5"]
    clear(fake)
    cold = run_json(capsys, *argv)
    assert cold["runners"] == []
    assert cold["search"]["complete"] is True
    assert len(cold["search"]["checked"]) == 12
    assert cold["search"]["requests"] == sent(fake)
    cache = FactsCache.load(facts_file(cache_home))
    assert len(cache) == 12
    # ... and the warm one rules them all out by their known total VRAM, without a stats read.
    clear(fake)
    warm = run_json(capsys, *argv)
    assert warm["search"]["complete"] is True
    assert warm["search"]["checked"] == []
    assert len(warm["search"]["ruled_out"]) == 12
    assert all(
        "less than the 90000000000 asked" in r["reason"] for r in warm["search"]["ruled_out"]
    )
    assert warm["search"]["requests"] == sent(fake) < cold["search"]["requests"]
    assert not [r for r in fake.call(lambda f: f.requests) if r.route == STATS]
    # the same in a table: the line says so
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out == ""
    assert "No runner has at least 90GB free on one GPU right now (0 read, 12 ruled out)." in err
    assert "12 ruled out without asking; complete: every runner that could fit was read" in err


def test_facts_cache_options(
    fake: FakeThread,
    capsys: pytest.CaptureFixture[str],
    cache_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ["--no-pacing", "capacity", "--min-vram", "40GB", "--limit", "1"]
    data = run_json(capsys, *argv, "--no-facts-cache")
    assert data["search"]["facts_cache"] is None
    assert not cache_home.exists()
    chosen = tmp_path / "elsewhere" / "facts.json"
    data = run_json(capsys, *argv, "--facts-cache", str(chosen))
    assert data["search"]["facts_cache"] == str(chosen)
    assert len(FactsCache.load(chosen)) >= 1
    assert not cache_home.exists()
    # without XDG_CACHE_HOME (or with a relative one, which the XDG spec says to ignore)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    data = run_json(capsys, *argv)
    assert data["search"]["facts_cache"] == str(tmp_path / "home/.cache/comfycontrol/facts.json")
    assert (tmp_path / "home/.cache/comfycontrol/facts.json").is_file()
    # contradictions and a cache without --limit are usage errors
    for bad in (
        [*argv, "--facts-cache", str(chosen), "--no-facts-cache"],
        ["--no-pacing", "capacity", "--no-facts-cache"],
    ):
        code, out, err = run(capsys, *bad)
        assert code == 2
        assert out == ""
        assert err.startswith("error: ")


@pytest.mark.parametrize(
    "content", [b"garbage", b'{"format": "something else"}', b"[1, 2]", b"\xff\xfe\x00"]
)
def test_a_damaged_facts_cache_is_a_warning_and_is_replaced(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], cache_home: Path, content: bytes
) -> None:
    path = facts_file(cache_home)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    code, out, err = run(capsys, "--no-pacing", "capacity", "--min-vram", "40GB", "--limit", "2")
    assert code == 0, err
    assert len(out.splitlines()) == 3
    warning = err.splitlines()[0]
    assert warning.startswith("warning: ")
    assert f"{str(path)!r} is not a runner facts cache" in warning
    assert "Traceback" not in err
    assert len(FactsCache.load(path)) >= 2  # rewritten, valid


def test_an_unwritable_facts_cache_is_a_warning(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    argv = ["--no-pacing", "capacity", "--min-vram", "40GB", "--limit", "2"]
    code, out, err = run(capsys, *argv, "--facts-cache", str(blocker / "facts.json"))
    assert code == 0, err
    assert len(out.splitlines()) == 3  # the answer stands
    assert "warning: could not save the facts cache" in err


def test_limit_on_a_terminal(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    on_terminal(monkeypatch, 160)
    code, out, err = run(capsys, "--no-pacing", "capacity", "--min-vram", "24GiB", "--limit", "4")
    assert code == 0, err
    lines = [line.rstrip() for line in ANSI.sub("", out).splitlines()]
    assert lines[0] == (
        "4 runner(s) with at least 24GiB free on one GPU (up to 4 asked), best first"
    )
    assert sum(1 for line in lines if re.search(r"\d+\.\d GiB", line)) == 4
    assert re.fullmatch(
        r"\d+ requests; \d+ runners read, \d+ ruled out without asking; "
        r"stopped at 4: other runners may fit too",
        lines[-1],
    )


def test_limit_with_fewer_fitting_runners_and_a_failure_exits_1(
    fake: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = fake.call(lambda f: f.managed_runner_ids()[2])
    fake.call(lambda f: f.fail_next(500, times=10, route=STATS, runner_id=broken))
    code, out, _ = run(capsys, "--no-pacing", "capacity", "--min-vram", "70GB", "--limit", "12")
    assert code == 1  # fewer than asked, and a runner that might fit could not be read
    rows = [line.split("\t") for line in out.splitlines()[1:]]
    (failed,) = [r for r in rows if r[1] == broken]
    assert failed[-1].startswith("500")
    assert all(float(r[2][:-3]) >= 70 for r in rows if r[1] != broken)


def test_without_limit_capacity_is_the_full_sweep(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], cache_home: Path
) -> None:
    clear(fake)
    data = run_json(capsys, "--no-pacing", "capacity", "--min-vram", "40GB")
    assert "search" not in data
    assert data["summary"]["runners"] == 12
    assert sum(1 for r in fake.call(lambda f: f.requests) if r.route == STATS) == 12
    assert not cache_home.exists()


def test_capacity_help_says_timeout_is_per_attempt(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "capacity", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "--timeout-per-runner S seconds for each attempt at a runner's stats" in text
    assert "retries included" not in text


# -- route --------------------------------------------------------------------------------------


def test_route_tsv_and_json_match_report_route(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = capture_reports(monkeypatch)
    code, out, err = run(capsys, "--no-pacing", "route", "--min-vram", "40GB", "--tags", "gpu-a100")
    assert code == 0, err
    (report,) = reports
    advice = report.route(tags=["gpu-a100"], min_vram_free=40 * 10**9)
    assert advice.tag_sets  # the fake's fleet has some
    lines = out.splitlines()
    assert lines[0] == "tags\trunners\tof_fitting"
    assert lines[1:] == [
        f"{','.join(o.tags)}\t{o.runners}\t{o.runners}/{len(advice.fitting)}"
        for o in advice.tag_sets
    ]
    assert all("gpu-a100" in o.tags for o in advice.tag_sets)
    assert f"{len(advice.fitting)} have 40GB free on one GPU now ({advice.share:.0%})" in err
    data = run_json(capsys, "--no-pacing", "route", "--min-vram", "40GB", "--tags", "gpu-a100")
    report = reports[1]
    assert data.pop("summary") == report.summary()
    assert data == report.route(tags=["gpu-a100"], min_vram_free="40GB").to_dict()
    assert set(data) == {
        "tags",
        "min_vram_free",
        "eligible",
        "fitting",
        "share",
        "untagged",
        "tag_sets",
        "warnings",
    }


def test_route_on_a_terminal_shows_the_share_and_the_top_tag_sets(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = capture_reports(monkeypatch)
    on_terminal(monkeypatch, 120)
    code, out, err = run(capsys, "--no-pacing", "route", "--min-vram", "40GB", "--top", "3")
    assert code == 0, err
    advice = reports[0].route(min_vram_free="40GB")
    lines = ANSI.sub("", out).splitlines()
    assert lines[0].startswith(
        f"A workflow with no tags may run on {len(advice.eligible)} of the 12 runners "
        f"(0 of them untagged); {len(advice.fitting)} have 40GB free on one GPU now "
        f"({advice.share:.0%})."
    )
    assert f"(3 of {len(advice.tag_sets)})" in out
    shown = [line.split()[0] for line in lines if re.match(r"^[a-z0-9-]+,", line)]
    assert shown == [",".join(o.tags) for o in advice.tag_sets[:3]]


def test_route_warns_about_untagged_runners_that_do_not_fit(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.call(lambda f: f.add_runner("pro", name="untagged-small", tags=[], stats=_stats(3.0)))
    reports = capture_reports(monkeypatch)
    # --tags is not a listing filter here: the untagged runner takes the job whatever its tags
    code, out, err = run(
        capsys, "--no-pacing", "route", "--all", "--min-vram", "40GB", "--tags", "gpu-a100"
    )
    assert code == 0, err
    assert out == ""
    advice = reports[0].route(tags=["gpu-a100"], min_vram_free="40GB")
    assert advice.untagged == 1
    assert advice.tag_sets == ()
    assert "No tag set sends this job only to runners that fit now." in err
    (warning,) = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warning == f"warning: {advice.warnings[0]}"
    assert "untagged" in warning
    data = run_json(capsys, "--no-pacing", "route", "--all", "--min-vram", "40GB")
    assert data["untagged"] == 1
    assert data["tag_sets"] == []
    assert data["warnings"]


def test_route_needs_a_size(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "route")
    assert code == 2
    assert "--min-vram" in err


# -- prometheus ---------------------------------------------------------------------------------


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_capacity_format_prometheus(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--no-pacing", "capacity", "--format", "prometheus")
    assert code == 0, err
    families = _families(out)
    up = families["comfycontrol_runner_up"].samples
    assert sorted(s.labels["runner_id"] for s in up) == sorted(
        fake.call(lambda f: f.managed_runner_ids())
    )
    assert all(s.value == 1 for s in up)
    assert families["DCGM_FI_DEV_FB_FREE"].samples
    # with --limit: the runners the search read
    code, out, err = run(
        capsys, "--no-pacing", "capacity", "--limit", "2", "--min-vram", "40GB",
        "--format", "prometheus", "--no-facts-cache",
    )  # fmt: skip
    assert code == 0, err
    assert 2 <= len(_families(out)["comfycontrol_runner_up"].samples) < 12


def test_prometheus_without_the_extra_says_how_and_sends_nothing(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "prometheus_client" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    clear(fake)
    for argv in (["capacity", "--format", "prometheus"], ["exporter", "--port", "0"]):
        code, out, err = run(capsys, "--no-pacing", *argv)
        assert code == 2
        assert out == ""
        assert "pip install 'comfycontrol-async[prometheus]'" in err
    assert sent(fake) == 0
    code, _, err = run(capsys, "--json", "capacity", "--format", "prometheus")
    assert code == 2
    assert "pick one" in err


# -- secrets and cold start ---------------------------------------------------------------------


def test_no_secret_in_any_output(fake: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    token = fake.token("pro")
    _add_secret_runner(fake, stats=_stats(45.0))
    # a runner whose name carries the token and a URL with a password, echoed by the server
    fake.call(
        lambda f: f.add_runner(
            "pro",
            name=f"leaky {token} https://u:{PASSWORD}@host.example/x",
            tags=["gpu"],
            stats=_stats(60.0),
        )
    )
    outputs = []
    for argv in (
        ["capacity", "--all", "--limit", "5", "--min-vram", "40GB"],
        ["capacity", "--all", "--limit", "5", "--json"],
        ["capacity", "--all", "--limit", "5", "--format", "prometheus"],
        ["capacity", "--all", "--format", "prometheus"],
        ["route", "--all", "--min-vram", "40GB", "--tags", "gpu"],
        ["route", "--all", "--min-vram", "40GB", "--json"],
    ):
        code, out, err = run(capsys, "--no-pacing", *argv)
        assert code == 0, err
        outputs.append(out + err)
    everything = "\n".join(outputs)
    assert "leaky ***" in everything
    for secret in (token, PASSWORD, HEADER_SECRET):
        assert secret not in everything


@pytest.mark.parametrize("command", ["capacity", "route", "exporter"])
def test_help_of_the_new_commands_loads_no_heavy_module(command: str) -> None:
    code = (
        "import contextlib, io\n"
        "from comfycontrol_async.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main([{command!r}, '--help'])"
    )
    assert _modules_loaded(code) == {"comfycontrol_async.cli"}


def test_facts_cache_file_is_plain_json(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], cache_home: Path
) -> None:
    run_json(capsys, "--no-pacing", "capacity", "--min-vram", "40GB", "--limit", "1")
    data = json.loads(facts_file(cache_home).read_text())
    assert data["format"] == "comfycontrol-runner-facts"
    assert not list(facts_file(cache_home).parent.glob("*.tmp"))  # saved atomically


def test_an_unreadable_facts_cache_is_a_warning(
    fake: FakeThread, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "a-directory"
    folder.mkdir()
    argv = ["--no-pacing", "capacity", "--min-vram", "40GB", "--limit", "2"]
    code, out, err = run(capsys, *argv, "--facts-cache", str(folder))
    assert code == 0, err
    assert len(out.splitlines()) == 3
    assert err.startswith(f"warning: cannot read the facts cache {folder}: ")
    assert "Traceback" not in err

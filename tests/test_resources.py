"""The resources on their own: driven by a small fake requester, with no client at all.

A resource only needs something with the shape of the ``Requester`` protocol; these tests hand
it one that records what it is asked and answers from the published examples. They cover the
list methods of the four list resources, the page argument checks (made once, before anything is
sent), the per-call knobs of ``_fetch_stats``, and the ``deadline`` of ``workflows.wait`` and
``download_outputs``.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import inspect
import json
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, assert_type

import attrs
import pytest
from aioresponses import aioresponses
from yarl import URL

import comfycontrol_async.resources as resources_package
from comfycontrol_async import (
    APITimeoutError,
    BadRequestError,
    ComfyControl,
    ManagedRunner,
    Page,
    Paginator,
    RateLimit,
    Runner,
    RunnerStats,
    ServerError,
    TemplateSummary,
    Workflow,
    WorkflowSummary,
)
from comfycontrol_async._config import NOT_GIVEN, NotGiven
from comfycontrol_async._core import RequestSpec, build_url
from comfycontrol_async._exceptions import make_status_error
from comfycontrol_async._redact import scrub_text
from comfycontrol_async.resources._base import ListResource, Requester
from comfycontrol_async.resources.managed_runners import ManagedRunners
from comfycontrol_async.resources.runners import Runners
from comfycontrol_async.resources.templates import Templates
from comfycontrol_async.resources.workflows import Workflows
from comfycontrol_async.testing import FakeComfyControl

from .conftest import EXAMPLES, FAST_RETRY

BASE = URL("https://api.example.test")


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


@attrs.frozen
class Sent:
    """One call the fake requester received."""

    spec: RequestSpec
    timeout: float | NotGiven | None
    deadline: float | NotGiven | None
    max_retries: int | NotGiven


class FakeRequester:
    """Just enough of a client: answers each request with ``answer(spec)``, records them all."""

    def __init__(
        self,
        answer: Callable[[RequestSpec], Any] = lambda spec: None,
        *,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.answer = answer
        self.sent: list[Sent] = []
        self.downloads: list[tuple[URL, Path, float | None]] = []
        self.download_started = asyncio.Event()
        self.download_cancelled = False
        self.hang_downloads = False
        self._rate = rate_limit

    @property
    def rate_limit(self) -> RateLimit | None:
        return self._rate

    def url(self, *segments: str) -> URL:
        return build_url(BASE, *segments)

    async def request(
        self,
        spec: RequestSpec,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        on_attempt: Callable[[], None] | None = None,
    ) -> Any:
        self.sent.append(Sent(spec, timeout, deadline, max_retries))
        if on_attempt is not None:
            on_attempt()
        return self.answer(spec)

    async def download(self, url: URL, path: Path, *, timeout: float | None) -> None:
        self.downloads.append((url, path, timeout))
        self.download_started.set()
        if self.hang_downloads:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.download_cancelled = True
                raise
        path.write_bytes(b"made")


def lister(key: str, items: list[dict[str, Any]]) -> Callable[[RequestSpec], Any]:
    """Answers a list endpoint like the API: a slice by page and per_page, and the total."""

    def answer(spec: RequestSpec) -> Any:
        page, per_page = int(spec.params["page"]), int(spec.params["per_page"])
        wanted = spec.params.get("status")
        chosen = [item for item in items if wanted is None or item["status"] == wanted]
        start = (page - 1) * per_page
        return {key: chosen[start : start + per_page], "total": len(chosen)}

    return answer


def numbered(template: dict[str, Any], count: int) -> list[dict[str, Any]]:
    items = []
    for i in range(count):
        item = copy.deepcopy(template)
        item["id"] = f"item-{i}"
        if "status" in item:
            item["status"] = "active" if i % 2 == 0 else "disabled"
        items.append(item)
    return items


@attrs.frozen
class ListCase:
    resource: type[ListResource[Any]]
    segment: str
    key: str
    model: type[Any]
    template: dict[str, Any]


LIST_CASES = [
    ListCase(Runners, "runner", "runners", Runner, example("runners-list.json")["runners"][0]),
    ListCase(
        ManagedRunners,
        "managed-runner",
        "runners",
        ManagedRunner,
        example("managed-runners-list.json")["runners"][0],
    ),
    ListCase(
        Templates,
        "template",
        "templates",
        TemplateSummary,
        example("templates-list.json")["templates"][0],
    ),
    ListCase(
        Workflows, "workflow", "workflows", WorkflowSummary, example("runners-history.json")[0]
    ),
]
LIST_IDS = [case.segment for case in LIST_CASES]


def pages_asked(requester: FakeRequester) -> list[tuple[str, str]]:
    return sorted((s.spec.params["page"], s.spec.params["per_page"]) for s in requester.sent)


class TestLists:
    @pytest.mark.parametrize("case", LIST_CASES, ids=LIST_IDS)
    async def test_list_walks_every_page_in_order(self, case: ListCase) -> None:
        requester = FakeRequester(lister(case.key, numbered(case.template, 7)))
        got = await case.resource(requester).list(per_page=3).collect()
        assert [item.id for item in got] == [f"item-{i}" for i in range(7)]
        assert all(type(item) is case.model for item in got)
        assert {str(s.spec.url) for s in requester.sent} == {f"{BASE}/v1/{case.segment}"}
        assert pages_asked(requester) == [("1", "3"), ("2", "3"), ("3", "3")]

    @pytest.mark.parametrize("case", LIST_CASES, ids=LIST_IDS)
    async def test_list_page_reads_one_page(self, case: ListCase) -> None:
        requester = FakeRequester(lister(case.key, numbered(case.template, 7)))
        page = await case.resource(requester).list_page(page=2, per_page=3, deadline=4.0)
        assert [item.id for item in page] == ["item-3", "item-4", "item-5"]
        assert (page.total, page.page, page.per_page, page.has_next) == (7, 2, 3, True)
        [sent] = requester.sent
        assert sent.spec.method == "GET"
        assert dict(sent.spec.params) == {"page": "2", "per_page": "3"}
        assert sent.deadline == 4.0

    @pytest.mark.parametrize("case", LIST_CASES, ids=LIST_IDS)
    async def test_list_deadline_applies_to_each_page_request(self, case: ListCase) -> None:
        requester = FakeRequester(lister(case.key, numbered(case.template, 5)))
        await case.resource(requester).list(per_page=2, deadline=9.0).collect()
        assert [s.deadline for s in requester.sent] == [9.0, 9.0, 9.0]

    @pytest.mark.parametrize("case", LIST_CASES, ids=LIST_IDS)
    async def test_max_items_stops_the_walk(self, case: ListCase) -> None:
        requester = FakeRequester(lister(case.key, numbered(case.template, 9)))
        got = await case.resource(requester).list(per_page=2, max_items=3, prefetch=0).collect()
        assert [item.id for item in got] == ["item-0", "item-1", "item-2"]

    @pytest.mark.parametrize("case", LIST_CASES[::3], ids=["runner", "workflow"])
    async def test_status_filter_is_sent(self, case: ListCase) -> None:
        items = numbered(case.template, 6)
        for item in items:
            item["status"] = "completed" if item["id"] in ("item-1", "item-4") else "running"
        requester = FakeRequester(lister(case.key, items))
        resource = case.resource(requester)
        assert isinstance(resource, Runners | Workflows)
        walked = await resource.list(status="completed", per_page=5).collect()
        page = await resource.list_page(status="completed")
        assert [r.id for r in walked] == [r.id for r in page] == ["item-1", "item-4"]
        assert {s.spec.params["status"] for s in requester.sent} == {"completed"}

    @pytest.mark.parametrize("case", LIST_CASES[1:3], ids=["managed-runner", "template"])
    def test_no_status_filter_where_the_api_has_none(self, case: ListCase) -> None:
        resource = case.resource(FakeRequester())
        assert "status" not in inspect.signature(resource.list).parameters
        assert "status" not in inspect.signature(resource.list_page).parameters
        with pytest.raises(TypeError):
            resource.list(status="active")  # type: ignore[call-arg]

    @pytest.mark.parametrize("case", LIST_CASES[::3], ids=["runner", "workflow"])
    async def test_empty_status_is_refused_before_sending(self, case: ListCase) -> None:
        requester = FakeRequester()
        resource = case.resource(requester)
        assert isinstance(resource, Runners | Workflows)
        with pytest.raises(ValueError, match="status"):
            resource.list(status=" ")
        with pytest.raises(ValueError, match="status"):
            await resource.list_page(status="")
        assert requester.sent == []

    async def test_lists_are_precisely_typed(self) -> None:
        # Checked by mypy (assert_type) as much as at run time.
        runners = Runners(FakeRequester(lister("runners", [])))
        managed = ManagedRunners(FakeRequester(lister("runners", [])))
        templates = Templates(FakeRequester(lister("templates", [])))
        workflows = Workflows(FakeRequester(lister("workflows", [])))
        assert_type(runners.list(), Paginator[Runner])
        assert_type(managed.list(), Paginator[ManagedRunner])
        assert_type(templates.list(), Paginator[TemplateSummary])
        assert_type(workflows.list(status="failed"), Paginator[WorkflowSummary])
        assert_type(await runners.list_page(status="active"), Page[Runner])
        assert_type(await managed.list_page(), Page[ManagedRunner])
        assert_type(await templates.list_page(), Page[TemplateSummary])
        assert_type(await workflows.list_page(), Page[WorkflowSummary])

    async def test_pacing_narrows_the_prefetch_window(self) -> None:
        # Under pacing, a walk asks for at most a quarter of a window's requests at once.
        release = asyncio.Event()
        in_flight = 0
        most = 0
        items = numbered(example("templates-list.json")["templates"][0], 40)
        answer = lister("templates", items)

        class Slow(FakeRequester):
            async def request(self, spec: RequestSpec, **options: Any) -> Any:
                nonlocal in_flight, most
                in_flight += 1
                most = max(most, in_flight)
                if spec.params["page"] != "1":
                    await release.wait()
                in_flight -= 1
                return answer(spec)

        resource = Templates(Slow(rate_limit=RateLimit(requests=8, per_seconds=1.0)))
        async with resource.list(per_page=1, prefetch=50) as walk:
            consumer = asyncio.create_task(walk.collect())
            for _ in range(50):  # let every fetch the window allows start (no clock involved)
                await asyncio.sleep(0)
            assert in_flight == most == 2
            release.set()
            assert len(await consumer) == 40
        assert most == 2


class TestPageArguments:
    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"per_page": 0}, ValueError, "per_page"),
            ({"per_page": 101}, ValueError, "per_page"),
            ({"per_page": 10.0}, TypeError, "per_page"),
            ({"per_page": True}, TypeError, "per_page"),
            ({"start_page": 0}, ValueError, "start_page"),
            ({"start_page": "2"}, TypeError, "start_page"),
            ({"max_items": -1}, ValueError, "max_items"),
            ({"max_items": 2.5}, TypeError, "max_items"),
        ],
    )
    @pytest.mark.parametrize("case", LIST_CASES, ids=LIST_IDS)
    def test_list_checks_before_any_request(
        self, case: ListCase, kwargs: dict[str, Any], error: type[Exception], match: str
    ) -> None:
        requester = FakeRequester()
        with pytest.raises(error, match=match):
            case.resource(requester).list(**kwargs)
        assert requester.sent == []

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"page": 0}, ValueError, "page must be at least 1"),
            ({"page": 1.0}, TypeError, "page"),
            ({"per_page": 0}, ValueError, "per_page"),
            ({"per_page": 101}, ValueError, "per_page"),
        ],
    )
    @pytest.mark.parametrize("case", LIST_CASES, ids=LIST_IDS)
    async def test_list_page_checks_before_any_request(
        self, case: ListCase, kwargs: dict[str, Any], error: type[Exception], match: str
    ) -> None:
        requester = FakeRequester()
        with pytest.raises(error, match=match):
            await case.resource(requester).list_page(**kwargs)
        assert requester.sent == []

    async def test_limits_are_accepted(self) -> None:
        requester = FakeRequester(lister("templates", []))
        templates = Templates(requester)
        assert await templates.list(per_page=100, start_page=3, max_items=0).collect() == []
        assert len(await templates.list_page(page=1, per_page=1)) == 0


class TestRequesterProtocol:
    def test_no_resource_module_imports_the_client(self) -> None:
        # Arrows one way: the client builds the resources, never the reverse (not even for types).
        folder = Path(resources_package.__file__).parent
        modules = sorted(folder.glob("*.py"))
        assert len(modules) >= 8
        for module in modules:
            tree = ast.parse(module.read_text())
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or "", *(alias.name for alias in node.names)]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                assert not any("_client" in name for name in names), module.name

    async def test_a_resource_needs_only_a_requester(self) -> None:
        runner = example("runners-get.json")
        requester = FakeRequester(lambda spec: runner if spec.method != "POST" else None)
        runners = Runners(requester)
        got = await runners.get("a/b?c", deadline=3.0)
        assert got.id == runner["id"]
        await runners.interrupt("r1")
        first, second = requester.sent
        assert str(first.spec.url) == f"{BASE}/v1/runner/a%2Fb%3Fc"
        assert (first.deadline, first.timeout, first.max_retries) == (3.0, NOT_GIVEN, NOT_GIVEN)
        assert (second.spec.method, second.spec.expect_body) == ("POST", False)
        assert str(second.spec.url) == f"{BASE}/v1/runner/r1/interrupt"
        assert "FakeRequester" in repr(runners)

    def test_the_client_hands_resources_a_requester(self) -> None:
        requester: Requester = FakeRequester()  # mypy: the fake satisfies the protocol
        assert Runners(requester)._requester is requester

    async def test_stats_uses_the_clients_settings(self) -> None:
        requester = FakeRequester(lambda spec: example("managed-runners-stats.json"))
        stats = await ManagedRunners(requester).stats("m1", deadline=2.0)
        assert isinstance(stats, RunnerStats)
        [sent] = requester.sent
        assert str(sent.spec.url) == f"{BASE}/v1/managed-runner/m1/stats"
        assert (sent.timeout, sent.deadline, sent.max_retries) == (NOT_GIVEN, 2.0, NOT_GIVEN)

    async def test_fetch_stats_passes_every_knob(self) -> None:
        requester = FakeRequester(lambda spec: example("managed-runners-stats.json"))
        attempts: list[int] = []
        stats = await Runners(requester)._fetch_stats(
            "r1", timeout=1.5, deadline=6.0, max_retries=0, on_attempt=lambda: attempts.append(1)
        )
        assert isinstance(stats, RunnerStats)
        [sent] = requester.sent
        assert str(sent.spec.url) == f"{BASE}/v1/runner/r1/stats"
        assert (sent.timeout, sent.deadline, sent.max_retries) == (1.5, 6.0, 0)
        assert attempts == [1]

    async def test_fetch_stats_refuses_an_empty_id_before_sending(self) -> None:
        requester = FakeRequester()
        with pytest.raises(ValueError, match="runner_id"):
            await Runners(requester)._fetch_stats(" ")
        assert requester.sent == []


class TestClientRequester:
    """The client's side of the protocol: per-call knobs reach the request loop."""

    @pytest.fixture
    async def cc(self) -> AsyncIterator[ComfyControl]:
        async with ComfyControl(
            "cfc_resources_test_token", rate_limit=None, retry=FAST_RETRY
        ) as client:
            yield client

    # Answers come from the in-process fake (aioresponses cannot build them on aiohttp 3.14).
    STATS = "GET /v1/managed-runner/{id}/stats"

    async def test_on_attempt_counts_every_attempt_sent(
        self, fake: FakeComfyControl, client: ComfyControl
    ) -> None:
        rid = fake.managed_runner_ids()[0]
        fake.fail_next(503, route=self.STATS)
        fake.fail_next(502, route=self.STATS)
        attempts: list[int] = []
        stats = await client.managed_runners._fetch_stats(
            rid, on_attempt=lambda: attempts.append(1)
        )
        assert isinstance(stats, RunnerStats)
        assert len(attempts) == 3

    async def test_max_retries_per_call(self, fake: FakeComfyControl, client: ComfyControl) -> None:
        rid = fake.managed_runner_ids()[0]
        fake.fail_next(503, times=10, route=self.STATS)
        attempts: list[int] = []
        with pytest.raises(ServerError):
            await client.managed_runners._fetch_stats(
                rid, max_retries=0, on_attempt=lambda: attempts.append(1)
            )
        assert len(attempts) == 1

    async def test_timeout_per_attempt_per_call(
        self, fake: FakeComfyControl, client: ComfyControl, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rid = fake.managed_runner_ids()[0]
        sent: list[float | None] = []
        send = client._transport.send

        async def spy(spec: RequestSpec, **kwargs: Any) -> Any:
            sent.append(kwargs.get("timeout"))
            return await send(spec, **kwargs)

        monkeypatch.setattr(client._transport, "send", spy)
        await client.managed_runners._fetch_stats(rid, timeout=2.5)
        await client.managed_runners.stats(rid)
        assert sent == [2.5, client.timeout.total]

    @pytest.mark.parametrize(
        "kwargs", [{"timeout": 0}, {"timeout": float("nan")}, {"max_retries": -1}]
    )
    async def test_bad_knobs_are_refused_before_sending(
        self, cc: ComfyControl, kwargs: dict[str, Any]
    ) -> None:
        with aioresponses() as m, pytest.raises(ValueError):
            await cc.runners._fetch_stats("r1", **kwargs)
        assert not m.requests


def workflow_answer(statuses: list[str]) -> Callable[[RequestSpec], Any]:
    """Answers ``GET /v1/workflow/{id}`` with the given statuses in turn, the last one forever."""
    summary = example("runners-history.json")[0]
    left = list(statuses)

    def answer(spec: RequestSpec) -> Any:
        status = left.pop(0) if len(left) > 1 else left[0]
        return {
            **summary,
            "status": status,
            "user_id": "u1",
            "workflow_json": {},
            "workflow_params": [],
        }

    return answer


class TestWait:
    async def test_returns_the_terminal_workflow(self) -> None:
        requester = FakeRequester(workflow_answer(["queued", "running", "failed"]))
        done = await Workflows(requester).wait("w1", poll_interval=0.001, max_poll_interval=0.001)
        assert isinstance(done, Workflow)
        assert done.status == "failed"
        assert len(requester.sent) == 3
        # No deadline of its own: every poll keeps the client's per-call deadline.
        assert {s.deadline for s in requester.sent} == {NOT_GIVEN}

    async def test_deadline_bounds_the_whole_wait(self) -> None:
        requester = FakeRequester(workflow_answer(["running"]))
        with pytest.raises(APITimeoutError, match=r"within 0\.05 s \(last status: running\)"):
            await Workflows(requester).wait(
                "w1", deadline=0.05, poll_interval=0.001, max_poll_interval=0.001
            )
        deadlines = [s.deadline for s in requester.sent]
        assert deadlines
        # Each poll gets what is left of the wait's deadline, never more.
        assert all(isinstance(d, float) and 0 < d <= 0.05 for d in deadlines)

    async def test_timeout_is_no_longer_a_keyword(self) -> None:
        with pytest.raises(TypeError):
            await Workflows(FakeRequester()).wait("w1", timeout=5)  # type: ignore[call-arg]

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"deadline": 0},
            {"deadline": -1.0},
            {"deadline": float("inf")},
            {"poll_interval": 0},
            {"poll_interval": 5.0, "max_poll_interval": 1.0},
        ],
    )
    async def test_bad_arguments_before_any_poll(self, kwargs: dict[str, Any]) -> None:
        requester = FakeRequester()
        with pytest.raises(ValueError):
            await Workflows(requester).wait("w1", **kwargs)
        assert requester.sent == []


def outputs_answer(count: int) -> Callable[[RequestSpec], Any]:
    def answer(spec: RequestSpec) -> Any:
        return [
            {"id": f"out-{i}", "workflow_id": "w1", "src": f"https://files.test/w1/{i}.png?sig=s"}
            for i in range(count)
        ]

    return answer


class TestDownloadOutputs:
    async def test_timeout_is_per_file(self, tmp_path: Path) -> None:
        requester = FakeRequester(outputs_answer(2))
        paths = await Workflows(requester).download_outputs("w1", tmp_path, timeout=7.0)
        assert [p.name for p in paths] == ["0.png", "1.png"]
        assert [timeout for _, _, timeout in requester.downloads] == [7.0, 7.0]
        assert all(p.read_bytes() == b"made" for p in paths)

    async def test_deadline_bounds_the_whole_call(self, tmp_path: Path) -> None:
        requester = FakeRequester(outputs_answer(2))
        requester.hang_downloads = True
        with pytest.raises(APITimeoutError, match=r"not all downloaded within 0\.05 s"):
            await Workflows(requester).download_outputs("w1", tmp_path, deadline=0.05)
        assert requester.download_cancelled
        assert len(requester.downloads) == 1
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"deadline": -2}, {"deadline": True}])
    async def test_bad_arguments_before_anything(
        self, tmp_path: Path, kwargs: dict[str, Any]
    ) -> None:
        requester = FakeRequester(outputs_answer(1))
        with pytest.raises(ValueError):
            await Workflows(requester).download_outputs("w1", tmp_path / "new", **kwargs)
        assert requester.sent == []
        assert not (tmp_path / "new").exists()


def fresh() -> str:
    """A credential value no test registered before (the registry is process-wide)."""
    return f"v{secrets.token_hex(10)}"


def runner_answer(headers: dict[str, str], endpoint: str) -> dict[str, Any]:
    return {**example("runners-get.json"), "headers": headers, "endpoint": endpoint}


class TestRunnerSecrets:
    """Runner credentials are remembered, so that nothing the SDK prints shows them."""

    async def test_values_sent_are_hidden_even_in_the_error_of_that_request(self) -> None:
        header, password, lone = fresh(), fresh(), fresh()

        def refuse(spec: RequestSpec) -> Any:
            # A server that quotes the values it refused, bare, where no position tells
            # that they are credentials.
            raise make_status_error(
                400,
                api_message=f"cannot reach the runner with {header} / {password} / {lone}",
                body=f"rejected {header} {password} {lone}",
                method=spec.method,
            )

        runners = Runners(FakeRequester(refuse))
        with pytest.raises(BadRequestError) as info:
            await runners.create(
                name="gpu",
                endpoint=f"https://admin:{password}@comfy.example.com",
                headers={"X-Runner-Key": header},
            )
        shown = f"{info.value}\n{info.value!r}\n{info.value.body}"
        assert header not in shown
        assert password not in shown
        with pytest.raises(BadRequestError) as info:
            await runners.update("r1", endpoint=f"https://{lone}@comfy.example.com")
        assert lone not in f"{info.value}\n{info.value.body}"
        assert "admin" in scrub_text("admin")  # a user name beside a password is not a secret

    @pytest.mark.parametrize("how", ["get", "list", "list_page", "create", "update"])
    async def test_values_received_are_hidden_afterwards(self, how: str) -> None:
        header, password = fresh(), fresh()
        answer = runner_answer({"X-Runner-Key": header}, f"https://u:{password}@h.example")
        requester = FakeRequester(
            lambda spec: {"runners": [answer], "total": 1} if "page" in spec.params else answer
        )
        runners = Runners(requester)
        if how == "get":
            got = [await runners.get("r1")]
        elif how == "list":
            got = await runners.list().collect()
        elif how == "list_page":
            got = (await runners.list_page()).items
        elif how == "create":
            got = [await runners.create(name="n", endpoint="https://h.example")]
        else:
            got = [await runners.update("r1", name="n")]
        assert got[0].headers == {"X-Runner-Key": header}  # the values stay reachable
        text = scrub_text(f"runner said {header} and {password}")
        assert header not in text
        assert password not in text

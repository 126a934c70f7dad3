"""Secrets never leak: the whole flow at DEBUG, then a search for every secret everywhere.

The secrets are made fresh for every run: the API token (``cfc_`` + random hex), a wrong token
for a 401, the values of a runner's ``headers`` (before and after an update), a secret in the
runner's command line (``argv`` in its stats), and the signatures of the signed output URLs
(their query string is a credential too). The flow runs with ``COMFYCONTROL_LOG=debug`` and
the ``comfycontrol_async`` logger captured at DEBUG: the user, a runner registered with
credentials and served by a local ComfyUI stand-in (so the fake really sends those headers out),
its list, get, update, stats and history, managed runners, a 401, 429s as HTML, 500s, retries,
answers that are not JSON, a sweep with failed runners, a capacity report, and a workflow
created, awaited, listed and downloaded (with an expired URL renewed and a download refused).

Then every captured log line (the formatted message and the raw ``record.args``), what the
SDK's own stderr handler printed, every repr and str of every object returned and every
exception raised (with its whole chain as a traceback prints it) is searched for every secret.

Transport safety is checked alongside: the token is refused over plain http to any host other
than loopback unless ``allow_insecure_http=True``; the storage host never sees an
``Authorization`` header; redirects and output downloads never carry the token to another host.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import logging
import pickle
import re
import secrets
import traceback
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import pytest
from aiohttp import web
from yarl import URL

from comfycontrol_async import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ComfyControl,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    _redact,
)
from comfycontrol_async._exceptions import BODY_LIMIT
from comfycontrol_async._logging import body_excerpt
from comfycontrol_async.testing import FakeComfyControl

from .conftest import FAST_RETRY

LOGGER: Final = "comfycontrol_async"
USER: Final = "GET /v1/user"
RUNNER_ONE: Final = "GET /v1/runner/{id}"
RUNNER_LIST: Final = "GET /v1/runner"
OUTPUTS: Final = "GET /v1/workflow/{id}/outputs"
STORAGE: Final = "GET /storage/{key}"
MANAGED_STATS: Final = "GET /v1/managed-runner/{id}/stats"
RUNNER_STATS: Final = "GET /v1/runner/{id}/stats"
FAST: Final = {"accepted": 0.01, "uploaded": 0.01, "queued": 0.01, "running": 0.02}


class Secrets:
    """Fresh secrets for one run, by name, each in a class (what a check looks for)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {
            "api token": "cfc_" + secrets.token_hex(20),
            "wrong token": "cfc_" + secrets.token_hex(20),
            "runner header (Authorization)": secrets.token_urlsafe(24),
            "runner header (X-Comfy-Key)": secrets.token_hex(16),
            # A long session cookie, as a runner behind an access proxy would carry.
            "runner header (Cookie)": "session=" + secrets.token_urlsafe(480),
            "runner header after update": secrets.token_urlsafe(24),
            "runner argv secret": "argv-" + secrets.token_hex(12),
        }

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def add_signature(self, sig: str) -> None:
        self.values.setdefault(f"url signature {sig[:8]}", sig)

    def only(self, what: str) -> dict[str, str]:
        """The secrets of one class: ``tokens``, ``runner credentials`` or ``signatures``."""
        prefix = {
            "tokens": ("api token", "wrong token"),
            "runner credentials": ("runner ",),
            "signatures": ("url signature ",),
        }[what]
        return {k: v for k, v in self.values.items() if k.startswith(prefix)}


class Evidence:
    """Every text the flow produced, labelled, to be searched for secrets."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.objects: list[object] = []
        self.errors: list[BaseException] = []

    def keep(self, label: str, value: Any) -> Any:
        self.objects.append(value)
        self.texts.append((f"repr({label})", repr(value)))
        self.texts.append((f"str({label})", str(value)))
        return value

    def error(self, label: str, err: BaseException) -> None:
        self.errors.append(err)
        self.texts.append((f"str({label})", str(err)))
        self.texts.append((f"repr({label})", repr(err)))
        self.texts.append((f"args({label})", repr(err.args)))
        self.texts.append((f"traceback({label})", "".join(traceback.format_exception(err))))

    async def expect(self, label: str, cls: type[BaseException], call: Any) -> BaseException:
        with pytest.raises(cls) as info:
            await call
        self.error(label, info.value)
        return info.value

    def log_records(self, records: Iterable[logging.LogRecord]) -> int:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        count = 0
        for record in records:
            count += 1
            where = f"log line {count} ({record.levelname} {record.name})"
            self.texts.append((where, formatter.format(record)))
            self.texts.append((f"{where} msg", str(record.msg)))
            self.texts.append((f"{where} args", repr(record.args)))
        return count

    def leaks(self, wanted: dict[str, str]) -> list[str]:
        """Where any piece of a secret shows: a cut-off excerpt leaks a cut-off secret."""
        out = []
        pieces = {name: _pieces(value) for name, value in wanted.items()}
        for label, text in self.texts:
            for name, parts in pieces.items():
                hit = next((p for p in parts if p in text), None)
                if hit is not None:
                    # What comes just before it says where; the secret itself is not repeated.
                    at = text.index(hit)
                    before = text[max(0, at - 70) : at].replace("\n", " ")
                    for other in pieces.values():
                        for piece in other:
                            before = before.replace(piece, "<...>")
                    out.append(f"{name} in {label}: ...{before}<HERE>")
        return out


def _pieces(secret: str, size: int = 16, step: int = 8) -> list[str]:
    """Overlapping pieces of a secret's random part: any 24 characters of it hold one."""
    core = secret.removeprefix("cfc_").removeprefix("session=").removeprefix("argv-")
    if len(core) <= size:
        return [core]
    return [core[i : i + size] for i in range(0, len(core) - size + 1, step)]


@pytest.fixture
def debug_logging(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """COMFYCONTROL_LOG=debug and the SDK's logger captured at DEBUG, undone afterwards.

    The SDK adds its own stderr handler the first time a client sees the variable; one left by
    another test would write to that test's stderr, so it is set aside here and a fresh one is
    made by the client of this test (and removed again at the end).
    """
    logger = logging.getLogger(LOGGER)
    level = logger.level
    theirs = [h for h in logger.handlers if getattr(h, "_comfycontrol", False)]
    for handler in theirs:
        logger.removeHandler(handler)
    monkeypatch.setenv("COMFYCONTROL_LOG", "debug")
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    try:
        yield
    finally:
        for handler in [h for h in logger.handlers if getattr(h, "_comfycontrol", False)]:
            logger.removeHandler(handler)
        for handler in theirs:
            logger.addHandler(handler)
        logger.setLevel(level)


@asynccontextmanager
async def local_app(
    routes: Callable[[web.Application, list[web.Request]], None],
) -> AsyncIterator[tuple[str, list[web.Request]]]:
    """A small aiohttp app on 127.0.0.1 (a runner's ComfyUI, another host); yields its URL and
    the requests it received."""
    seen: list[web.Request] = []
    app = web.Application()
    routes(app, seen)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def comfyui(found: Secrets) -> Callable[[web.Application, list[web.Request]], None]:
    """A ComfyUI stand-in whose /system_stats needs the runner's credentials."""

    async def system_stats(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if auth not in (
            f"Bearer {found['runner header (Authorization)']}",
            f"Bearer {found['runner header after update']}",
        ):
            return web.Response(status=401, text="who are you?")
        return web.json_response(
            {
                "system": {
                    "os": "linux",
                    # The command line of a server started with its key on it.
                    "argv": ["main.py", "--listen", "--api-key", found["runner argv secret"]],
                    "ram_total": 64 * 2**30,
                    "ram_free": 40 * 2**30,
                    "comfyui_version": "0.3.77",
                    "python_version": "3.12.3",
                },
                "devices": [
                    {
                        "name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
                        "type": "cuda",
                        "index": 0,
                        "vram_total": 24 * 2**30,
                        "vram_free": 20 * 2**30,
                        "torch_vram_total": 0,
                        "torch_vram_free": 0,
                    }
                ],
            }
        )

    def routes(app: web.Application, seen: list[web.Request]) -> None:
        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            seen.append(request)
            return await handler(request)  # type: ignore[no-any-return]

        app.middlewares.append(record)
        app.router.add_get("/system_stats", system_stats)

    return routes


def _client(token: str, fake: FakeComfyControl) -> ComfyControl:
    return ComfyControl(
        token,
        base_url=fake.url,
        rate_limit=RateLimit(requests=1000, per_seconds=1.0, cooldown=0.02, jitter=0.0),
        max_retries=2,
        retry=FAST_RETRY,
    )


# -- the whole flow ---------------------------------------------------------------------------


async def run_flow(
    fake: FakeComfyControl, found: Secrets, evidence: Evidence, tmp_path: Path
) -> list[web.Request]:
    """Everything a user does, with faults; returns the requests the runner's ComfyUI saw."""
    keep, expect = evidence.keep, evidence.expect
    async with local_app(comfyui(found)) as (comfy_url, comfy_seen):
        async with _client(found["api token"], fake) as cc:
            keep("client", cc)
            keep("user", await cc.user.get())

            runner = keep(
                "created runner",
                await cc.runners.create(
                    name="studio box",
                    endpoint=comfy_url,
                    headers={
                        "Authorization": f"Bearer {found['runner header (Authorization)']}",
                        "X-Comfy-Key": found["runner header (X-Comfy-Key)"],
                        "Cookie": found["runner header (Cookie)"],
                    },
                    tags=["studio"],
                ),
            )
            keep("runner list", await cc.runners.list().collect())
            keep("runner page", await cc.runners.list_page(per_page=2))
            async with cc.runners.list(per_page=1) as walk:
                async for page in walk.pages():
                    keep("runner page (walk)", page)
                keep("paginator", walk)
            keep("runner", await cc.runners.get(runner.id))
            keep("runner stats (first headers)", await cc.runners.stats(runner.id))
            keep(
                "updated runner",
                await cc.runners.update(
                    runner.id,
                    name="studio box 2",
                    headers={
                        "Authorization": f"Bearer {found['runner header after update']}",
                        "Cookie": found["runner header (Cookie)"],
                    },
                ),
            )
            keep("runner stats", await cc.runners.stats(runner.id))
            keep("runner history", await cc.runners.history(runner.id))
            # The runner's stats cut short: its command line is in the part that arrives.
            fake.malformed_next(3, route=RUNNER_STATS, kind="truncated")
            await expect("malformed stats", ResponseValidationError, cc.runners.stats(runner.id))
            fake.clear_faults()

            managed = keep("managed list", await cc.managed_runners.list().collect())
            keep("managed stats", await cc.managed_runners.stats(managed[0].id))

            # A 401 with a wrong (also secret) token, on a client of its own.
            async with _client(found["wrong token"], fake) as stranger:
                keep("stranger", stranger)
                await expect("401", AuthenticationError, stranger.user.get())

            # 429s as the CDN's HTML page: once (recovered), then past the retries.
            fake.rate_limit_next(1, html=True, route=USER)
            keep("user after a 429", await cc.user.get())
            fake.fail_next(429, 3, route=USER, html=True, headers={"Retry-After": "0.01"})
            await expect("429 html", RateLimitError, cc.user.get())

            # 500s past the retries, and a 503 that a retry recovers.
            fake.fail_next(500, 3, route=RUNNER_ONE)
            await expect("500", ServerError, cc.runners.get(runner.id))
            fake.fail_next(503, 1, route=RUNNER_ONE)
            keep("runner after a 503", await cc.runners.get(runner.id))

            # Answers that are not JSON, on the routes that carry the runner's headers.
            for kind in ("truncated", "invalid", "html", "empty"):
                fake.malformed_next(3, route=RUNNER_ONE, kind=kind)
                await expect(
                    f"malformed {kind}", ResponseValidationError, cc.runners.get(runner.id)
                )
                fake.clear_faults()
            fake.malformed_next(1, route=RUNNER_ONE, kind="cut")  # a connection error: retried
            keep("runner after a cut answer", await cc.runners.get(runner.id))
            fake.malformed_next(3, route=RUNNER_LIST, kind="truncated")
            await expect("malformed page", ResponseValidationError, cc.runners.list().collect())
            fake.clear_faults()

            # A sweep with failures: an unknown runner, seeded runners that cannot be reached.
            own = fake.runner_ids(fake.user("pro"))
            sweep = await cc.runners.stats_many([runner.id, "no-such-runner", *own]).collect()
            for result in sweep:
                keep(f"stats result {result.runner_id}", result)
                if result.error is not None:
                    evidence.error(f"stats result error {result.runner_id}", result.error)
            assert sum(r.ok for r in sweep) == 1
            fake.fail_next(502, 3, route=MANAGED_STATS)
            report = keep("capacity", await cc.capacity(own=True))
            evidence.texts.append(("capacity.to_dict()", json.dumps(report.to_dict())))
            for row in report.rows:
                keep(f"capacity row {row.runner_id}", row)

            await workflow_flow(cc, fake, evidence, tmp_path)
    return comfy_seen


async def workflow_flow(
    cc: ComfyControl, fake: FakeComfyControl, evidence: Evidence, tmp_path: Path
) -> None:
    keep, expect = evidence.keep, evidence.expect
    created = keep(
        "created workflow",
        await cc.workflows.create(
            name="sunset",
            workflow={
                "6": {"inputs": {"text": "$text(prompt)", "seed": "$random()"}},
                "10": {"inputs": {"image": "$file(input_image)"}},
            },
            params={"prompt": "a sunset over the sea"},
            files={"input_image": ("in.png", b"\x89PNG not really")},
        ),
    )
    keep("finished workflow", await cc.workflows.wait(created.id, poll_interval=0.01, deadline=10))
    keep("workflow list", await cc.workflows.list().collect())
    outputs = keep("outputs", await cc.workflows.outputs(created.id))
    assert outputs
    for output in outputs:
        keep(f"output {output.id}", output)
    keep("downloads", await cc.workflows.download_outputs(created.id, tmp_path / "one"))
    # URLs that expired meanwhile are renewed once, transparently.
    fake.advance(3600)
    keep("downloads (renewed)", await cc.workflows.download_outputs(created.id, tmp_path / "two"))
    # A storage host that keeps refusing: the error names the URL without its signature.
    fake.fail_next(403, 2, route=STORAGE)
    await expect(
        "download refused",
        PermissionDeniedError,
        cc.workflows.download_outputs(created.id, tmp_path / "three"),
    )
    fake.clear_faults()
    await expect("outputs of a missing workflow", NotFoundError, cc.workflows.outputs("nope"))


@pytest.mark.parametrize(
    "what",
    [
        "tokens",
        "runner credentials",
        "signatures",
    ],
)
async def test_whole_flow_at_debug_leaks_no_secret(
    what: str,
    debug_logging: None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    found = Secrets()
    evidence = Evidence()
    async with FakeComfyControl(seed=16, runners=2, workflow_durations=FAST) as fake:
        fake.add_user("pro", name="Grace", email="grace@example.com", token=found["api token"])
        comfy_seen = await run_flow(fake, found, evidence, tmp_path)
        log = fake.requests

    # The signatures the client was handed and used are secrets too.
    storage = [r for r in log if r.route == STORAGE]
    assert storage
    for request in storage:
        found.add_signature(request.query["sig"])
    for obj in evidence.objects:
        for output in obj if isinstance(obj, list) else [obj]:
            src = getattr(output, "src", None)
            if isinstance(src, str) and "sig=" in src:
                found.add_signature(URL(src).query["sig"])

    lines = evidence.log_records(caplog.records)
    stderr = capsys.readouterr().err
    evidence.texts.append(("the SDK's stderr handler", stderr))

    # The flow did what it says: it logged at DEBUG, the runner's ComfyUI got its credentials
    # (and never the API token), the storage host never got an Authorization header.
    assert lines > 50
    assert any("answer:" in r.getMessage() for r in caplog.records)
    assert stderr.strip()
    sent = [r.headers.get("Authorization") for r in comfy_seen]
    assert f"Bearer {found['runner header (Authorization)']}" in sent
    assert f"Bearer {found['runner header after update']}" in sent
    assert all(found["api token"] not in str(r.headers) for r in comfy_seen)
    assert all("Authorization" not in r.headers for r in storage)
    assert all(r.status in (200, 403) for r in storage)
    tokens = {f"Bearer {found['api token']}", f"Bearer {found['wrong token']}"}
    assert all(r.headers.get("Authorization") in tokens for r in log if r.route != STORAGE)

    wanted = found.only(what)
    assert wanted
    leaks = evidence.leaks(wanted)
    assert not leaks, f"{what} leaked:\n" + "\n".join(leaks)


# -- transport safety --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "api.comfycontrol.app",
        "10.0.0.5",
        "192.168.1.20",
        "0.0.0.0",
        "[2001:db8::1]",
        "127.0.0.1.nip.io",
        "localhost.example.com",
        "example.localhost.evil.com",
        "evil.example%2flocalhost",
    ],
)
def test_token_refused_over_plain_http(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "cfc_" + secrets.token_hex(20)
    with pytest.raises(ValueError) as info:
        ComfyControl(token, base_url=f"http://{host}")
    assert token not in str(info.value)
    assert token not in "".join(traceback.format_exception(info.value))
    monkeypatch.setenv("COMFYCONTROL_BASE_URL", f"http://{host}:8080")
    with pytest.raises(ValueError):
        ComfyControl(token)
    # Allowed when asked for in so many words (nothing is sent until a call).
    cc = ComfyControl(token, base_url=f"http://{host}", allow_insecure_http=True)
    assert cc.base_url.scheme == "http"
    assert ComfyControl(token, base_url=f"https://{host}").base_url.scheme == "https"


@pytest.mark.parametrize("url", ["http://localhost:80@evil.example", "https://127.0.0.1@x.example"])
def test_a_base_url_with_user_info_is_refused(url: str) -> None:
    """``localhost@evil.example`` names the host evil.example, whatever it looks like."""
    token = "cfc_" + secrets.token_hex(20)
    for allow in (False, True):
        with pytest.raises(ValueError, match="credentials") as info:
            ComfyControl(token, base_url=url, allow_insecure_http=allow)
        assert token not in str(info.value)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "localhost", "[::1]", "comfy.localhost", "LOCALHOST"]
)
def test_plain_http_to_loopback_is_allowed(host: str) -> None:
    cc = ComfyControl("cfc_" + secrets.token_hex(8), base_url=f"http://{host}:8188")
    assert cc.base_url.scheme == "http"


def other_host() -> Callable[[web.Application, list[web.Request]], None]:
    """Another host: it answers anything, and redirects /hop to a URL given in ?to=."""

    async def anything(request: web.Request) -> web.StreamResponse:
        if request.path == "/hop":
            raise web.HTTPFound(request.query["to"])
        if request.path == "/loop":
            raise web.HTTPFound(str(request.rel_url))  # forever, signature and all
        return web.Response(body=b"\x89PNG fake image", content_type="image/png")

    def routes(app: web.Application, seen: list[web.Request]) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            seen.append(request)
            return await anything(request)

        app.router.add_route("*", "/{tail:.*}", handler)

    return routes


async def test_token_never_goes_to_another_host(tmp_path: Path) -> None:
    token = "cfc_" + secrets.token_hex(20)
    sig = secrets.token_hex(32)
    async with (
        FakeComfyControl(seed=11, workflow_durations=FAST) as fake,
        local_app(other_host()) as (elsewhere, seen),
        local_app(other_host()) as (farther, seen_farther),
    ):
        fake.add_user("pro", token=token)
        async with _client(token, fake) as cc:
            # The API redirecting elsewhere: not followed, so the token stays home.
            for status in (301, 302, 307, 308):
                fake.fail_next(status, route=USER, headers={"Location": f"{elsewhere}/v1/user"})
                with pytest.raises(APIStatusError) as info:
                    await cc.user.get()
                assert info.value.status == status
            assert not seen

            # Outputs on another host, which redirects to a third: no token on either.
            created = await cc.workflows.create(name="w", workflow={"1": {"inputs": {}}})
            await cc.workflows.wait(created.id, poll_interval=0.01, deadline=10)
            hop = URL(f"{elsewhere}/hop").with_query(to=f"{farther}/final.png?sig={sig}")
            fake.fail_next(
                200,
                route=OUTPUTS,
                body=[
                    {"id": "o1", "workflow_id": created.id, "src": f"{elsewhere}/a.png?sig={sig}"},
                    {"id": "o2", "workflow_id": created.id, "src": str(hop)},
                ],
            )
            paths = await cc.workflows.download_outputs(created.id, tmp_path)
            assert [p.read_bytes() for p in paths] == [b"\x89PNG fake image"] * 2
            assert [r.path for r in seen] == ["/a.png", "/hop"]
            assert [r.path for r in seen_farther] == ["/final.png"]
            for request in [*seen, *seen_farther]:
                assert "Authorization" not in request.headers
                assert token not in str(request.headers)
        assert all(
            r.headers.get("Authorization") == f"Bearer {token}"
            for r in fake.requests
            if r.route != STORAGE
        )


def _leaked(secret: str, text: str) -> bool:
    return any(piece in text for piece in _pieces(secret))


async def test_download_errors_never_quote_the_signature(tmp_path: Path) -> None:
    """aiohttp's own messages quote the URL whole (TooManyRedirects: '..., url=...?sig=...')."""
    token = "cfc_" + secrets.token_hex(20)
    sig = secrets.token_hex(32)
    async with (
        FakeComfyControl(seed=12, workflow_durations=FAST) as fake,
        local_app(other_host()) as (elsewhere, _),
    ):
        fake.add_user("pro", token=token)
        async with _client(token, fake) as cc:
            created = await cc.workflows.create(name="w", workflow={"1": {"inputs": {}}})
            await cc.workflows.wait(created.id, poll_interval=0.01, deadline=10)
            src = f"{elsewhere}/loop?sig={sig}"
            fake.fail_next(
                200, route=OUTPUTS, body=[{"id": "o1", "workflow_id": created.id, "src": src}]
            )
            with pytest.raises(APIConnectionError) as info:
                await cc.workflows.download_outputs(created.id, tmp_path)
    err = info.value
    for text in (str(err), repr(err), "".join(traceback.format_exception(err))):
        assert not _leaked(sig, text)


# -- the leaks the flow found, one by one -------------------------------------------------------


def test_output_repr_hides_the_signature() -> None:
    from comfycontrol_async._converter import decode
    from comfycontrol_async.models import WorkflowOutput

    sig = secrets.token_hex(32)
    src = f"https://storage.example.com/o/abc.png?expires=1700000000&sig={sig}"
    output = decode({"id": "o1", "workflow_id": "w1", "src": src}, WorkflowOutput)
    assert output.src == src  # the value stays usable
    assert not _leaked(sig, repr(output))
    assert not _leaked(sig, str(output))
    assert not _leaked(sig, repr([output]))
    assert "storage.example.com/o/abc.png" in repr(output)


def _answer_lines(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if "answer:" in r.getMessage())


async def test_debug_excerpt_of_outputs_hides_signatures(
    debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Redaction by key cannot see a signature: it is inside the value of ``src``."""
    token = "cfc_" + secrets.token_hex(20)
    async with FakeComfyControl(seed=13, workflow_durations=FAST) as fake:
        fake.add_user("pro", token=token)
        async with _client(token, fake) as cc:
            created = await cc.workflows.create(name="w", workflow={"1": {"inputs": {}}})
            await cc.workflows.wait(created.id, poll_interval=0.01, deadline=10)
            outputs = await cc.workflows.outputs(created.id)
    sigs = [URL(o.src).query["sig"] for o in outputs]
    assert sigs
    lines = _answer_lines(caplog)
    assert "/outputs answer:" in lines
    assert not [s for s in sigs if _leaked(s, lines)]


@pytest.mark.parametrize("kind", ["truncated", "invalid-tail"])
async def test_debug_excerpt_of_a_broken_runner_answer_hides_headers(
    kind: str, debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    """An answer that is not JSON cannot be redacted by key; its headers must not show."""
    token = "cfc_" + secrets.token_hex(20)
    header = secrets.token_urlsafe(24)
    async with FakeComfyControl(seed=14) as fake:
        user = fake.add_user("pro", token=token)
        # The secret first, then a long cookie: cut in half, the answer still holds the secret.
        headers = {"X-Key": header, "Cookie": "session=" + secrets.token_urlsafe(480)}
        runner = fake.add_runner(user, name="box", endpoint="http://127.0.0.1:9", headers=headers)
        async with _client(token, fake) as cc:
            if kind == "truncated":
                fake.malformed_next(3, route=RUNNER_ONE, kind="truncated")
            else:  # the whole document, with something broken after it
                raw = json.dumps(runner) + ',"oops"'
                fake.fail_next(200, 3, route=RUNNER_ONE, body=raw)
            with pytest.raises(ResponseValidationError):
                await cc.runners.get(runner["id"])
    lines = _answer_lines(caplog)
    assert "answer:" in lines
    assert not _leaked(header, lines)
    assert not _leaked(headers["Cookie"], lines)


@pytest.mark.parametrize("kind", ["truncated", "invalid-tail"])
async def test_debug_excerpt_of_a_broken_stats_answer_hides_argv(
    kind: str, debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    token = "cfc_" + secrets.token_hex(20)
    secret = secrets.token_hex(16)
    stats = {
        "system": {"os": "linux", "argv": ["main.py", "--listen", "--api-key", secret]},
        "devices": [{"name": "cpu", "type": "cpu", "index": None}] * 8,
    }
    async with FakeComfyControl(seed=17) as fake:
        user = fake.add_user("pro", token=token)
        runner = fake.add_runner(user, name="box", endpoint="http://127.0.0.1:9", stats=stats)
        async with _client(token, fake) as cc:
            if kind == "truncated":
                fake.malformed_next(3, route=RUNNER_STATS, kind="truncated")
            else:
                fake.fail_next(200, 3, route=RUNNER_STATS, body=json.dumps(stats) + "}")
            with pytest.raises(ResponseValidationError):
                await cc.runners.stats(runner["id"])
    lines = _answer_lines(caplog)
    assert "/stats answer:" in lines
    assert not _leaked(secret, lines)


async def test_an_unknown_token_is_never_echoed() -> None:
    token = "cfc_" + secrets.token_hex(20)
    async with FakeComfyControl(seed=15) as fake, _client(token, fake) as cc:
        for shown in (repr(cc), str(cc), repr(cc.runners), repr(cc.runners.list())):
            assert token not in shown
        with pytest.raises(AuthenticationError) as info:
            await cc.user.get()
    err = info.value
    for text in (str(err), repr(err), repr(vars(err)), "".join(traceback.format_exception(err))):
        assert token not in text


# -- hostile servers that echo the request back ---------------------------------------------
#
# Gateways, WAF pages and debugging proxies answer an error with the request they got: its
# Authorization header (the API token) and its JSON body (a runner's headers, on create and
# update), raw or encoded. Every secret is drawn fresh for each test, from an alphabet that each
# encoding changes, and looked for in every text the SDK produced after undoing the encodings
# (a test-side oracle, independent of the SDK's own decoding).

_RANDOM = secrets.SystemRandom()
_ALPHABET: Final = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_/+=.~%&<\"'é"


def _fresh(prefix: str = "", size: int = 28) -> str:
    return prefix + "".join(_RANDOM.choice(_ALPHABET) for _ in range(size))


def _all_u(text: str) -> str:
    units = text.encode("utf-16-be")
    return "".join(
        f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2)
    )


ECHOES: Final[dict[str, bool | Callable[[str], str]]] = {
    "raw text": True,
    "json message": lambda d: json.dumps({"status": 400, "message": f"rejected: {d}"}),
    "json, ascii and escaped slashes": lambda d: json.dumps({"message": d}).replace("/", "\\/"),
    "json, every character \\u-escaped": lambda d: '{"message": "' + _all_u(d) + '"}',
    "json request object": lambda d: json.dumps(
        {
            "message": "request blocked",
            "request": {
                "headers": dict(
                    line.split(": ", 1) for line in d.split("\r\n\r\n")[0].split("\r\n")[1:]
                ),
                "body": d.split("\r\n\r\n", 1)[1],
            },
        }
    ),
    "waf html page": lambda d: (
        "<html><head><title>403 Forbidden</title></head><body><h1>Request blocked</h1>"
        f"<pre>{html.escape(d)}</pre><p>Incident id 1234</p></body></html>"
    ),
    "percent-encoded": lambda d: "request=" + urllib.parse.quote(d, safe=""),
    "quote_plus form": lambda d: urllib.parse.urlencode({"request": d, "ok": "no"}),
    "base64": lambda d: json.dumps(
        {"message": "rejected", "raw": base64.b64encode(d.encode()).decode()}
    ),
    "urlsafe base64, unpadded": lambda d: base64.urlsafe_b64encode(d.encode()).decode().rstrip("="),
    "hex dump": lambda d: d.encode().hex(),
}


def _unjson(text: str) -> str:
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace('\\"', '"').replace("\\/", "/").replace("\\\\", "\\")


def _unbase64(text: str) -> str:
    out = []
    for word in re.findall(r"[A-Za-z0-9+/_-]{16,}={0,2}", text):
        padded = word + "=" * (-len(word) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            with contextlib.suppress(ValueError):
                out.append(decode(padded).decode("utf-8", "replace"))
    return " ".join(out)


def _unhex(text: str) -> str:
    return " ".join(
        bytes.fromhex(w).decode("utf-8", "replace")
        for w in re.findall(r"(?:[0-9a-f]{2}){8,}", text)
    )


_UNDO: Final[tuple[Callable[[str], str], ...]] = (
    lambda t: t,
    urllib.parse.unquote,
    urllib.parse.unquote_plus,
    html.unescape,
    _unjson,
    _unbase64,
    _unhex,
)


def _decoded(text: str) -> set[str]:
    """``text`` with every pair of encodings above undone."""
    return {second(first(text)) for first in _UNDO for second in _UNDO}


def _echo_leaks(evidence: Evidence, wanted: dict[str, str]) -> list[str]:
    out = []
    for label, text in evidence.texts:
        views = _decoded(text)
        for name, secret in wanted.items():
            pieces = _pieces(secret, size=12, step=6)
            if any(p in view for view in views for p in pieces):
                out.append(f"{name} in {label}")
    return out


def _keep_error_attributes(evidence: Evidence, label: str, err: BaseException) -> None:
    evidence.error(label, err)
    for name in ("message", "body", "url", "request_id", "path"):
        value = getattr(err, name, None)
        if value is not None:
            evidence.texts.append((f"{label}.{name}", str(value)))
    evidence.texts.append((f"vars({label})", repr(vars(err))))


def _runner_headers() -> dict[str, str]:
    return {
        "Authorization": _fresh("Bearer "),
        "X-Comfy-Key": _fresh(),
        "Cookie": "session=" + _fresh(size=40),
    }


@pytest.mark.parametrize("echo", sorted(ECHOES))
async def test_an_echoed_request_leaks_no_secret(
    echo: str,
    debug_logging: None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = "cfc_" + secrets.token_urlsafe(30)
    headers = _runner_headers()
    updated = _runner_headers()
    evidence = Evidence()
    how = ECHOES[echo]
    async with FakeComfyControl(seed=21) as fake:
        fake.add_user("pro", token=token)
        async with _client(token, fake) as cc:
            fake.fail_next(400, route="POST /v1/runner", echo=how)
            create = cc.runners.create(name="box", endpoint="http://127.0.0.1:9", headers=headers)
            with pytest.raises(APIStatusError) as info:
                await create
            _keep_error_attributes(evidence, "create", info.value)
            runner = await cc.runners.create(
                name="box", endpoint="http://127.0.0.1:9", headers=headers
            )
            fake.fail_next(403, route="PUT /v1/runner/{id}", echo=how)
            with pytest.raises(PermissionDeniedError) as info:
                await cc.runners.update(runner.id, headers=updated)
            _keep_error_attributes(evidence, "update", info.value)
            # Retried, then raised: every attempt is logged at DEBUG with its answer.
            fake.fail_next(503, 3, route=USER, echo=how)
            with pytest.raises(ServerError) as info:
                await cc.user.get()
            _keep_error_attributes(evidence, "user", info.value)
            echoed = [r for r in fake.requests if r.status in (400, 403, 503)]
    assert len(echoed) == 5
    # The echoes really held the secrets (so the test would see a leak).
    assert any(token in str(r.headers) for r in echoed)
    assert any(json.dumps(headers["X-Comfy-Key"]).encode() in r.body for r in echoed)
    evidence.log_records(caplog.records)
    evidence.texts.append(("the SDK's stderr handler", capsys.readouterr().err))
    assert any("answer:" in r.getMessage() for r in caplog.records)
    wanted = {
        "api token": token,
        **{f"runner header {k}": v for k, v in headers.items()},
        **{f"updated runner header {k}": v for k, v in updated.items()},
    }
    leaks = _echo_leaks(evidence, wanted)
    assert not leaks, "\n".join(leaks)


async def test_sweep_results_and_capacity_reports_of_echoing_runners_are_clean(
    debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    """StatsResult and CapacityReport show errors: clean because errors are clean when built."""
    token = "cfc_" + secrets.token_urlsafe(30)
    evidence = Evidence()
    async with FakeComfyControl(seed=22, managed_runners=4) as fake:
        fake.add_user("pro", token=token)
        ids = fake.managed_runner_ids()
        async with _client(token, fake) as cc:
            fake.fail_next(500, 3 * len(ids), route=MANAGED_STATS, echo=ECHOES["json message"])
            results = await cc.managed_runners.stats_many(ids).collect()
            fake.fail_next(502, 3 * len(ids), route=MANAGED_STATS, echo=ECHOES["waf html page"])
            report = await cc.capacity()
    assert results
    assert all(r.error is not None for r in results)
    for result in results:
        evidence.keep(f"stats result {result.runner_id}", result)
        assert result.error is not None
        _keep_error_attributes(evidence, f"error of {result.runner_id}", result.error)
    assert any(row.error for row in report.rows)
    evidence.keep("capacity report", report)
    evidence.texts.append(("capacity.to_dict()", json.dumps(report.to_dict())))
    evidence.log_records(caplog.records)
    leaks = _echo_leaks(evidence, {"api token": token})
    assert not leaks, "\n".join(leaks)


async def test_a_header_value_quoted_in_a_message_is_hidden(
    debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that quotes one header value in prose: only the value itself gives it away.

    Resources remember every header value they send and receive; the test
    remembers them the same way, so that it checks what errors and logs do with the registry.
    """
    token = "cfc_" + secrets.token_urlsafe(30)
    headers = {"X-Comfy-Key": _fresh(), "X-Tenant-Secret": _fresh(size=10)}
    _redact.remember(headers.values())

    def quote_it(dump: str) -> str:
        body = json.loads(dump.split("\r\n\r\n", 1)[1])
        value = body["headers"]["X-Comfy-Key"]
        other = urllib.parse.quote(body["headers"]["X-Tenant-Secret"])
        return json.dumps({"status": 400, "message": f"value {value!r} rejected; tenant={other}"})

    async with FakeComfyControl(seed=23) as fake:
        fake.add_user("pro", token=token)
        async with _client(token, fake) as cc:
            fake.fail_next(400, route="POST /v1/runner", echo=quote_it)
            with pytest.raises(BadRequestError) as info:
                await cc.runners.create(name="b", endpoint="http://127.0.0.1:9", headers=headers)
    evidence = Evidence()
    _keep_error_attributes(evidence, "create", info.value)
    evidence.log_records(caplog.records)
    assert "rejected" in info.value.message
    leaks = _echo_leaks(evidence, headers)
    assert not leaks, "\n".join(leaks)


async def test_an_error_keeps_a_bounded_excerpt_of_a_huge_page() -> None:
    token = "cfc_" + secrets.token_urlsafe(30)
    secret = _fresh()
    _redact.remember([secret])
    limit = BODY_LIMIT
    # The secret straddles the cut: its first half must not stay behind.
    page = "<html>" + "x" * (limit - 6 - 10) + secret + "y" * (2 * 1024 * 1024)
    async with FakeComfyControl(seed=24) as fake:
        fake.add_user("pro", token=token)
        async with _client(token, fake) as cc:
            fake.fail_next(400, route=USER, body=page)
            with pytest.raises(BadRequestError) as info:
                await cc.user.get()
    err = info.value
    assert len(err.body) < limit + 100
    assert err.body.startswith("<html>xxx")
    assert err.body.endswith(f"[... cut after {limit} characters]")
    assert len(err.message) < 400
    for text in (err.body, err.message, str(err), repr(err)):
        assert not _leaked(secret, text)
        assert secret[:8] not in text


@pytest.mark.parametrize("status", [400, 200])
async def test_debug_logging_never_changes_the_error_of_a_deep_document(
    status: int, debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    """100k-deep JSON: the same typed error with COMFYCONTROL_LOG=debug as without it."""
    token = "cfc_" + secrets.token_urlsafe(30)
    deep = "[" * 100_000 + "]" * 100_000
    expected = BadRequestError if status == 400 else ResponseValidationError
    async with FakeComfyControl(seed=25) as fake:
        fake.add_user("pro", token=token)
        async with _client(token, fake) as cc:
            fake.fail_next(status, 3, route=USER, body=deep)
            with pytest.raises(expected):
                await cc.user.get()
    assert any("answer:" in r.getMessage() for r in caplog.records)


def test_logging_never_raises_on_a_body_the_excerpt_cannot_render() -> None:
    assert body_excerpt(b"[" * 100_000 + b"]" * 100_000).startswith("[[[")
    assert body_excerpt(b"\xff\xfe" * 10_000)


def test_a_long_body_in_a_debug_line_says_where_it_was_cut() -> None:
    # The same ending as every other excerpt (errors, CLI), so a reader knows text is missing.
    long = b'{"detail": "' + b"x" * 5000 + b'"}'
    shown = body_excerpt(long)
    assert shown.endswith("[... cut after 500 characters]")
    assert body_excerpt(b'{"detail": "short"}') == '{"detail":"short"}'


async def test_terminal_escapes_from_a_server_are_shown_not_obeyed(
    debug_logging: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "cfc_" + secrets.token_urlsafe(30)
    nasty = "\x1b[2J\x1b[31mred\x1b[0m \x1b]0;owned\x07 \u202eevil\r\nFAKE LOG LINE \x9b"
    async with FakeComfyControl(seed=26) as fake:
        fake.add_user("pro", token=token)
        async with _client(token, fake) as cc:
            fake.fail_next(400, route=USER, body={"status": 400, "message": nasty})
            with pytest.raises(BadRequestError) as json_error:
                await cc.user.get()
            fake.fail_next(404, route=USER, body=f"<html>{nasty}</html>")
            with pytest.raises(NotFoundError) as page_error:
                await cc.user.get()
    texts = [capsys.readouterr().err]
    for err in (json_error.value, page_error.value):
        texts += [str(err), repr(err), err.message, "".join(traceback.format_exception(err))]
    formatter = logging.Formatter("%(message)s")
    texts += [formatter.format(r) for r in caplog.records]
    for text in texts:
        assert not any(c in text for c in "\x1b\x07\x9b\u202e\r"), repr(text)
    assert "\\x1b[2J" in json_error.value.message
    assert "FAKE LOG LINE" in json_error.value.message


def test_the_library_logger_has_a_null_handler() -> None:
    logger = logging.getLogger(LOGGER)
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)


@pytest.mark.parametrize(
    "err",
    [
        RateLimitError("slow down", body="x" * 20_000, retry_after=3.0, url="https://h/v1/u"),
        ServerError("boom", status=503, body="down", request_id="r1", method="GET", url="u"),
        ResponseValidationError("bad", path="$.a[1]", body="{"),
        APIConnectionError("reset", method="GET", url="https://h/v1/user"),
        AuthenticationError("who?", status=401),
    ],
)
def test_errors_pickle_unchanged(err: Exception) -> None:
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err)
    assert vars(again) == vars(err)
    assert again.args == err.args
    assert str(again) == str(err)
    assert pickle.loads(pickle.dumps(again)).args == err.args


async def test_endpoint_user_info_never_shows(
    debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    token = "cfc_" + secrets.token_urlsafe(30)
    password = "pw" + secrets.token_hex(8)
    async with FakeComfyControl(seed=27) as fake:
        user = fake.add_user("pro", token=token)
        endpoint = f"http://ops:{password}@127.0.0.1:9/comfy"
        made = fake.add_runner(user, name="box", endpoint=endpoint)
        async with _client(token, fake) as cc:
            runner = await cc.runners.get(made["id"])
            fake.fail_next(404, route=RUNNER_ONE, body={"message": f"no runner at {endpoint}"})
            with pytest.raises(NotFoundError) as info:
                await cc.runners.get(made["id"])
    assert runner.endpoint == endpoint  # the value stays usable
    evidence = Evidence()
    evidence.keep("runner", runner)
    _keep_error_attributes(evidence, "404", info.value)
    evidence.log_records(caplog.records)
    assert not [label for label, text in evidence.texts if password in text]


def test_a_non_sdk_error_in_a_capacity_row_is_scrubbed() -> None:
    # SDK errors are scrubbed when built; an error from elsewhere (a ValueError from user code
    # in the sweep's source, say) is scrubbed when the row describes it.
    from comfycontrol_async._redact import remember
    from comfycontrol_async.capacity._report import row_from_result
    from comfycontrol_async.resources._stats_result import StatsResult

    secret = "hdr-" + secrets.token_urlsafe(24)
    remember([secret])
    result = StatsResult(runner_id="r1", error=ValueError(f"bad runner header {secret}"))
    row = row_from_result("own", result)
    assert secret not in json.dumps(row.to_dict())
    assert row.error is not None and "***" in row.error

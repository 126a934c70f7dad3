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

import json
import logging
import secrets
import traceback
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
    ComfyControl,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from comfycontrol_async.testing import FakeComfyControl

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
    cc = ComfyControl(
        token,
        base_url=fake.url,
        rate_limit=RateLimit(requests=1000, per_seconds=1.0, cooldown=0.02, jitter=0.0),
        max_retries=2,
    )
    cc._backoff_base = cc._backoff_cap = 0.001
    return cc


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

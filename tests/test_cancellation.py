"""Cancelling the SDK at random points: sweeps, list walks, single calls and downloads.

Each test drives one kind of operation against one fake server through one client, and cancels
it again and again at points drawn from a seeded RNG: after a random number of event-loop
iterations, after a random delay (once, or twice in a row), or through the caller's own
``asyncio.timeout``. The fake adds latency with jitter, random 5xx answers, 429 pauses, dropped
connections, short hangs and cut answers, and the client paces itself tightly, so the
cancellation lands in every phase of a call: waiting for a pacing slot or a 429 pause,
connecting, waiting for the answer, sleeping before a retry, between pages, with prefetches or
sweep workers in flight, streaming a file to disk, or in the consumer's own loop body.

After every point: the cancellation reached the caller (``CancelledError``, or ``TimeoutError``
out of the caller's ``asyncio.timeout``), no task of the client side is left pending, no
connection is left acquired from the pool, no partial download is left on disk, the event loop
reported nothing (no "Task exception was never retrieved", no "Task was destroyed but it is
pending"), no warning was raised (the suite runs with ``filterwarnings = error``), and the
client still answers a plain call.

Each test prints one line: the points tried, how many landed as cancellations, and the phases
in which they landed (read from the awaiting chains of the client's tasks at the moment of the
cancel).
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Final

import attrs
import pytest

from comfycontrol_async import ComfyControl, ComfyControlError, RateLimit, RetryPolicy, Timeout
from comfycontrol_async.testing import FakeComfyControl

KINDS: Final = (
    "stats_many",
    "capacity",
    "walk_items",
    "walk_collect",
    "walk_pages",
    "get",
    "stats",
    "create",
    "download",
)
POINTS_PER_KIND: Final = 30  # 9 kinds: 270 cancellations in all
MAX_TRIES_PER_KIND: Final = 4 * POINTS_PER_KIND
SEED: Final = 0xC0FFEE

MANAGED_ONE = "GET /v1/managed-runner/{id}"
MANAGED_STATS = "GET /v1/managed-runner/{id}/stats"
MANAGED_LIST = "GET /v1/managed-runner"
RUNNER_ONE = "GET /v1/runner/{id}"
RUNNER_STATS = "GET /v1/runner/{id}/stats"
WORKFLOW_ONE = "GET /v1/workflow/{id}"
RUNNER_CREATE = "POST /v1/runner"
WORKFLOW_CREATE = "POST /v1/workflow"
OUTPUTS = "GET /v1/workflow/{id}/outputs"
STORAGE = "GET /storage/{key}"
FAST_WORKFLOWS: Final = {"accepted": 0.005, "uploaded": 0.005, "queued": 0.005, "running": 0.01}
# Four Save nodes: four outputs to download.
SAVING_WORKFLOW: Final = {str(n): {"class_type": "SaveImage", "inputs": {}} for n in range(4)}

# The routes each kind mostly hits: faults are aimed there.
ROUTES: Final[dict[str, tuple[str, ...]]] = {
    "stats_many": (MANAGED_STATS, MANAGED_LIST),
    "capacity": (MANAGED_STATS, MANAGED_LIST, RUNNER_STATS),
    "walk_items": (MANAGED_LIST,),
    "walk_collect": (MANAGED_LIST,),
    "walk_pages": (MANAGED_LIST,),
    "get": (MANAGED_ONE, RUNNER_ONE, WORKFLOW_ONE),
    "stats": (MANAGED_STATS, RUNNER_STATS),
    "create": (RUNNER_CREATE, WORKFLOW_CREATE),
    "download": (OUTPUTS, STORAGE),
}


# -- looking at the client's side of the loop ------------------------------------------------


def _is_server_task(task: asyncio.Task[Any]) -> bool:
    """The fake's own tasks are not the client's.

    They run aiohttp's web server code or the fake's handlers; on Python 3.11 a fake's hang also
    runs ``asyncio.wait_for`` on a bare ``Event.wait()``, which becomes a task of its own. The
    SDK only ever makes tasks of its own coroutines, never of asyncio's.
    """
    code = getattr(task.get_coro(), "cr_code", None)
    where = code.co_filename.replace("\\", "/") if code is not None else ""
    return "aiohttp/web_" in where or "comfycontrol_async/testing/" in where or "/asyncio/" in where


def client_tasks() -> set[asyncio.Task[Any]]:
    """Pending tasks of the client side, the running test itself left out."""
    me = asyncio.current_task()
    return {
        t for t in asyncio.all_tasks() if t is not me and not t.done() and not _is_server_task(t)
    }


def _awaiting(task: asyncio.Task[Any]) -> list[str]:
    """The qualified names of the coroutines a task is suspended in, outermost first."""
    names: list[str] = []
    obj: Any = task.get_coro()
    for _ in range(64):
        code = getattr(obj, "cr_code", None) or getattr(obj, "gi_code", None)
        if code is None:
            code = getattr(obj, "ag_code", None)
        if code is None:
            break
        names.append(code.co_qualname)
        obj = (
            getattr(obj, "cr_await", None)
            or getattr(obj, "gi_yieldfrom", None)
            or getattr(obj, "ag_await", None)
        )
        if obj is None:
            break
    return names


def phases_now(cc: ComfyControl) -> set[str]:
    """Where the client's work stands right now (several phases at once in a sweep)."""
    found: set[str] = set()
    page_tasks = 0
    for task in client_tasks():
        chain = _awaiting(task)
        joined = " > ".join(chain)
        if " page " in task.get_name():
            page_tasks += 1
        if "Pacer.acquire" in joined:
            found.add("429 pause" if cc._pacer.paused_for() > 0 else "pacing slot")
        elif "ComfyControl._send > sleep" in joined:
            found.add("backoff sleep")
        elif "Transport.download" in joined:
            found.add("downloading a file")
        elif "BaseConnector.connect" in joined:
            found.add("connecting")
        elif "ClientResponse.start" in joined:
            found.add("awaiting answer")
        elif "Transport.send" in joined:
            found.add("reading answer")
        elif "Paginator._await" in joined or "Paginator._take_forward" in joined:
            found.add("between pages")
        elif joined.endswith("to_thread"):
            found.add("in a worker thread")
        elif "_yield_sometimes" in joined:
            found.add("consumer body")
        elif len(chain) == 1 and task.get_name() != "consumer-body":
            found.add("task not started yet")
    if page_tasks > 1:
        found.add("prefetch in flight")
    return found


def acquired_connections(cc: ComfyControl) -> int:
    session = cc._transport._own
    if session is None or session.connector is None:
        return 0
    return len(session.connector._acquired)


# -- the operations --------------------------------------------------------------------------


@attrs.frozen
class Operation:
    """One call to cancel. ``bare``: a plain ``async for`` (no ``async with``), whose walk is
    only told of a cancellation in the loop body when its iterator is collected."""

    run: Callable[[], Awaitable[object]]
    bare: bool = False


async def _yield_sometimes(rng: random.Random) -> None:
    """A consumer that awaits in its loop body now and then (so a cancel can land there)."""
    roll = rng.random()
    if roll < 0.2:
        await asyncio.sleep(0)
    elif roll < 0.3:
        await asyncio.sleep(0.002)


def make_op(
    kind: str, cc: ComfyControl, fake: FakeComfyControl, rng: random.Random, where: Path
) -> Operation:
    """One operation of ``kind``, its variant and arguments drawn from ``rng``."""
    managed = fake.managed_runner_ids()
    own = fake.runner_ids(fake.user("pro"))
    deadline = rng.choice([None, None, 5.0])
    per_page = rng.choice([2, 3, 5, 10])
    prefetch = rng.choice([0, 1, 3, 10])
    concurrency = rng.choice([1, 3, 8])
    variant = rng.randrange(4)
    body_rng = random.Random(rng.random())

    if kind == "stats_many":
        ids = rng.sample(managed, rng.randint(4, len(managed)))

        async def sweep() -> object:
            fan = cc.managed_runners
            if variant == 0:
                return await fan.stats_many(ids, concurrency=concurrency).collect()
            if variant == 1:
                async with fan.stats_many(ids, concurrency=concurrency) as results:
                    async for _ in results:
                        await _yield_sometimes(body_rng)
                return None
            if variant == 2:
                walk = fan.list(per_page=per_page, prefetch=prefetch, deadline=deadline)
                return await fan.stats_many(walk, concurrency=concurrency).collect()
            seen = 0
            async for _ in fan.stats_many(ids, concurrency=concurrency):  # no async with
                seen += 1
                await _yield_sometimes(body_rng)
            return seen

        return Operation(sweep, bare=variant == 3)

    if kind == "capacity":
        with_own = variant % 2 == 0

        async def capacity() -> object:
            return await cc.capacity(own=with_own, concurrency=concurrency)

        return Operation(capacity)

    if kind in ("walk_items", "walk_collect", "walk_pages"):

        def walk() -> Any:
            return cc.managed_runners.list(per_page=per_page, prefetch=prefetch, deadline=deadline)

        if kind == "walk_collect":

            async def collect() -> object:
                return await walk().collect()

            return Operation(collect)

        pages = kind == "walk_pages"

        async def iterate() -> object:
            seen = 0
            if variant < 2:  # the documented, deterministic way
                async with walk() as w:
                    async for _ in w.pages() if pages else w:
                        seen += 1
                        await _yield_sometimes(body_rng)
            else:  # a bare async for, as people write it
                w = walk()
                async for _ in w.pages() if pages else w:
                    seen += 1
                    await _yield_sometimes(body_rng)
            return seen

        return Operation(iterate, bare=variant >= 2)

    if kind == "get":
        workflows = fake.workflow_ids(fake.user("pro"))

        async def get() -> object:
            if variant < 2:
                return await cc.managed_runners.get(rng.choice(managed), deadline=deadline)
            if variant == 2 or not workflows:
                return await cc.runners.get(rng.choice(own), deadline=deadline)
            return await cc.workflows.get(rng.choice(workflows), deadline=deadline)

        return Operation(get)

    if kind == "stats":
        target_managed = rng.choice(managed)
        target_own = rng.choice(own)  # seeded own runners answer 500: retried, then an error

        async def stats() -> object:
            if variant < 3:
                return await cc.managed_runners.stats(target_managed, deadline=deadline)
            return await cc.runners.stats(target_own, deadline=deadline)

        return Operation(stats)

    if kind == "download":
        done = fake.workflow_ids(fake.user("pro"))
        target = where / f"run-{rng.randrange(10**9)}"

        async def download() -> object:
            return await cc.workflows.download_outputs(rng.choice(done), target, timeout=5.0)

        return Operation(download)

    assert kind == "create"
    name = f"cancel-{rng.randrange(10**6)}"

    async def create() -> object:
        if variant < 2:
            return await cc.runners.create(
                name=name,
                endpoint="http://127.0.0.1:9",
                headers={"Authorization": "Bearer runner-secret"},
                tags=["cancel"],
                deadline=deadline,
            )
        return await cc.workflows.create(
            name=name,
            workflow={"3": {"inputs": {"text": "$text(prompt)", "seed": "$random()"}}},
            params={"prompt": "a lighthouse"},
            deadline=deadline,
        )

    return Operation(create)


# -- one point ---------------------------------------------------------------------------------


def arm_faults(fake: FakeComfyControl, kind: str, rng: random.Random) -> str | None:
    """Maybe script one fault on the kind's routes for the next point; say which."""
    route = rng.choice(ROUTES[kind])
    if route.startswith("POST"):
        return None  # writes are never retried: a scripted fault would just end the call
    roll = rng.random()
    if route == STORAGE:  # downloads are not retried: only faults that slow them down
        if roll < 0.3:
            fake.hang_next(1, route=route, seconds=0.02)
            return "hang"
        return None
    if roll < 0.12:
        retry_after = rng.choice([None, "0.01"])
        fake.rate_limit_next(1, route=route, retry_after=retry_after, html=rng.random() < 0.5)
        return "429"
    if roll < 0.22:
        fake.drop_next(2, route=route)  # aiohttp resends a GET once by itself
        return "drop"
    if roll < 0.32:
        fake.hang_next(1, route=route, seconds=0.02)
        return "hang"
    if roll < 0.40:
        fake.malformed_next(1, route=route, kind="cut")
        return "cut"
    return None


@asynccontextmanager
async def loop_reports() -> AsyncIterator[list[dict[str, Any]]]:
    """Collect what the event loop reports through its exception handler."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        yield seen
    finally:
        gc.collect()  # destroyed-pending tasks and unretrieved exceptions show up on collection
        await asyncio.sleep(0)
        loop.set_exception_handler(previous)


class Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.cancelled = 0
        self.timed_out = 0
        self.finished_first = 0
        self.lingering = 0
        self.modes: Counter[str] = Counter()
        self.phases: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()

    @property
    def points(self) -> int:
        return self.cancelled + self.timed_out

    def line(self, kind: str) -> str:
        phases = ", ".join(f"{p} {n}" for p, n in sorted(self.phases.items()))
        faults = ", ".join(f"{f} {n}" for f, n in sorted(self.faults.items())) or "none"
        modes = ", ".join(f"{m} {n}" for m, n in sorted(self.modes.items()))
        return (
            f"cancellation[{kind}]: {self.points} points of {self.tried} tried "
            f"({self.cancelled} task.cancel, {self.timed_out} asyncio.timeout; draws: {modes}; "
            f"{self.finished_first} finished first; {self.lingering} bare-async-for tasks "
            f"cancelled by the iterator's finalizer); faults armed: {faults}; phases: {phases}"
        )


async def cancel_once(
    cc: ComfyControl,
    op: Operation,
    rng: random.Random,
    typical: float,
    tally: Tally,
    where: Path,
) -> None:
    loop = asyncio.get_running_loop()
    reached: list[BaseException] = []
    mode = rng.choice(["iterations", "delay", "delay", "double-cancel", "caller-timeout"])
    delay = rng.uniform(0.0, typical)

    scopes: list[asyncio.Timeout] = []

    async def caller() -> object:
        try:
            if mode == "caller-timeout":
                async with asyncio.timeout(delay) as scope:
                    scopes.append(scope)
                    return await op.run()
            return await op.run()
        except (asyncio.CancelledError, TimeoutError) as err:
            reached.append(err)
            raise

    before_conns = acquired_connections(cc)
    assert before_conns == 0
    task = loop.create_task(caller(), name="consumer-body")
    await asyncio.sleep(0)  # the caller starts: a task cancelled before it ran proves nothing
    if mode == "iterations":
        for _ in range(rng.randint(0, 80)):
            await asyncio.sleep(0)
    else:
        await asyncio.wait({task}, timeout=delay)
    tally.tried += 1

    if mode == "caller-timeout":
        phases: set[str] = set()
        while not task.done():
            phases = phases_now(cc) or phases
            await asyncio.sleep(0.001)
        if scopes[0].expired():  # the timeout fired: its cancellation must come back out
            with pytest.raises(TimeoutError):
                task.result()
            assert reached and isinstance(reached[0], TimeoutError)
            tally.timed_out += 1
            tally.modes[mode] += 1
            tally.phases.update(phases)
        else:
            tally.finished_first += 1
            with suppress(ComfyControlError):
                task.result()
    elif task.done():
        tally.finished_first += 1
        if not task.cancelled():
            exc = task.exception()
            assert exc is None or isinstance(exc, ComfyControlError), repr(exc)
    else:
        tally.phases.update(phases_now(cc))
        task.cancel()
        if mode == "double-cancel":  # cancelled again while it cleans up (Ctrl-C twice)
            await asyncio.sleep(0)
            task.cancel()
        await asyncio.wait({task})
        assert task.cancelled(), f"the cancellation was swallowed: {task!r}"
        assert reached and isinstance(reached[0], asyncio.CancelledError)
        tally.cancelled += 1
        tally.modes[mode] += 1

    left = client_tasks()
    if left:
        # Only a bare ``async for`` cancelled in its body may leave fetches behind, already
        # cancelled by the iterator's finalizer; they must end within a few iterations.
        shown = [(t.get_name(), _awaiting(t), mode) for t in left]
        assert op.bare, f"tasks left pending: {shown}"
        assert all(t.cancelling() for t in left), shown
        tally.lingering += len(left)
        for _ in range(5):
            await asyncio.sleep(0)
        assert not client_tasks(), sorted(t.get_name() for t in client_tasks())
    assert acquired_connections(cc) == 0
    assert not cc._pacer._lock.locked()
    # No pacing slot is held by a request that no longer runs (it would shrink the window).
    held = getattr(cc._pacer, "_held", [])
    assert all(getattr(slot, "ended", 0.0) is not None for slot in held)
    assert not list(where.rglob("*.part")), "a cancelled download left a partial file"


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_cancel_at_random_points(
    kind: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{kind}")
    async with (
        FakeComfyControl(
            seed=rng.randrange(2**31),
            managed_runners=24,
            runners=2,
            workflow_durations=FAST_WORKFLOWS,
        ) as fake,
        loop_reports() as reports,
    ):
        fake.set_latency(0.001, jitter=0.006)
        for route in ROUTES[kind]:
            fake.set_error_rate(0.12, statuses=(500, 502, 503), route=route)
        pacing = RateLimit(requests=8, per_seconds=0.02, cooldown=0.02, jitter=0.005)
        async with ComfyControl(
            fake.token("pro"),
            base_url=fake.url,
            rate_limit=pacing,
            timeout=Timeout(total=2.0, connect=1.0),
            max_retries=3,
            retry_budget=None,
            retry=RetryPolicy(backoff_base=0.004, backoff_cap=0.02),
        ) as cc:
            assert not client_tasks()
            if kind in ("get", "download"):  # a few finished workflows to read back
                for n in range(3):
                    made = await cc.workflows.create(name=f"seed-{n}", workflow=SAVING_WORKFLOW)
                    await cc.workflows.wait(made.id, poll_interval=0.005, deadline=10)

            # One uncancelled run: it works at all, and how long it takes sets the delays.
            loop = asyncio.get_running_loop()
            started = loop.time()
            with suppress(ComfyControlError):
                await make_op(kind, cc, fake, random.Random(1), tmp_path).run()
            typical = max(0.01, loop.time() - started)

            tally = Tally()
            while tally.points < POINTS_PER_KIND:
                assert tally.tried < MAX_TRIES_PER_KIND, tally.line(kind)
                fault = arm_faults(fake, kind, rng)
                if fault:
                    tally.faults[fault] += 1
                op = make_op(kind, cc, fake, rng, tmp_path)
                await cancel_once(cc, op, rng, typical, tally, tmp_path)
                # The client still works after every point.
                async with asyncio.timeout(10):
                    assert (await cc.user.get()).tier == "pro"

            async with asyncio.timeout(10):  # and a last full run of the same kind
                with suppress(ComfyControlError):
                    await make_op(kind, cc, fake, random.Random(2), tmp_path).run()
            assert acquired_connections(cc) == 0
            assert not client_tasks()
    assert not reports, [c.get("message") for c in reports]
    with capsys.disabled():
        print("\n" + tally.line(kind))

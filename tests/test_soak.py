"""The fault soak: 5,000 stats calls through a fake that misbehaves in every documented way.

A fleet of 200 managed runners and 50 own runners is swept 20 times (5,000 stats calls) by one
client. Every round scripts a seeded mix of faults on the managed runners: 500/502/503 as JSON
and as a CDN's HTML page, 429 with and without ``Retry-After`` and as HTML, dropped connections,
answers that hang, answers cut off mid-body, and 2xx answers that are not JSON at all (truncated,
invalid, an HTML maintenance page, empty). The own runners get a seeded 6% rate of random 5xx.
A fault is *transient* when it fails fewer attempts than the client makes (``max_retries=3``:
4 attempts), *persistent* otherwise.

What must hold, every round: each runner comes back exactly once; a runner with transient faults
recovers; a runner with a persistent fault comes back with the typed error of that fault after
the whole retry allowance; a runner hit only by the random error rate agrees with what the fake
logged for it (recovered after the 5xx it was sent, or a ``ServerError`` after four). At the end:
no client task pending, no connection acquired, nothing reported by the event loop, no warning.

Two smaller scenarios test the knobs a soak relies on: the client-wide retry budget caps the
retries of a sweep during an outage, and a per-call deadline bounds a call across its retries.
A 2xx answer that is not JSON (cut short, an HTML page, empty) is a transient fault: the soak
plants both kinds, one that recovers on a retry and one that outlasts the retries.

The figures are printed (``capsys.disabled()``, so they show in CI logs).
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Final

import attrs
import pytest

from comfycontrol_async import (
    APIConnectionError,
    APITimeoutError,
    ComfyControl,
    RateLimit,
    RateLimitError,
    ResponseValidationError,
    RetryBudget,
    ServerError,
    StatsResult,
    Timeout,
)
from comfycontrol_async.testing import FakeComfyControl

from .conftest import FAST_RETRY

SEED: Final = 0x50A4
ROUNDS: Final = 20
MANAGED: Final = 200
OWN: Final = 50
MAX_RETRIES: Final = 3
ATTEMPTS: Final = MAX_RETRIES + 1
# What a sweep spends on one runner at most: one attempt, then, at the end of the sweep, one
# call with the client's whole allowance (a 500, "runner unreachable", gets a single attempt).
SWEEP_ATTEMPTS: Final = 1 + ATTEMPTS
OWN_ERROR_RATE: Final = 0.06
MANAGED_STATS: Final = "GET /v1/managed-runner/{id}/stats"
OWN_STATS: Final = "GET /v1/runner/{id}/stats"
PACING: Final = RateLimit(requests=100_000, per_seconds=1.0, cooldown=0.05, jitter=0.01)
# Per attempt. It is what ends a hanging answer, and it must never end a normal one: on a 2-core
# machine loaded by other processes, the in-process fake, serving 40 calls at once on the test's
# own event loop, has taken over 0.2 s (the old value, which made the soak fail now and then) and
# even over 1 s to answer. 2 s is a margin of about 100 times the unloaded answer time; hanging
# answers are planted in a quarter of the rounds so that the margin does not make the soak slow.
TIMEOUT: Final = Timeout(total=2.0, connect=2.0)

OWN_RUNNER_STATS: Final[dict[str, Any]] = {
    "system": {
        "os": "linux",
        "ram_total": 67_000_000_000,
        "ram_free": 41_000_000_000,
        "comfyui_version": "0.3.77",
        "python_version": "3.12.3",
    },
    "devices": [
        {
            "name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
            "type": "cuda",
            "index": 0,
            "vram_total": 25_393_692_672,
            "vram_free": 24_100_000_000,
            "torch_vram_total": 0,
            "torch_vram_free": 0,
        }
    ],
}


# -- the client's side of the loop -----------------------------------------------------------


def _is_server_task(task: asyncio.Task[Any]) -> bool:
    # The fake's tasks: aiohttp's web server, the fake's handlers, and (Python 3.11) the task
    # asyncio.wait_for makes of a hanging handler's Event.wait(). The SDK's tasks run its own
    # coroutines only.
    code = getattr(task.get_coro(), "cr_code", None)
    where = code.co_filename.replace("\\", "/") if code is not None else ""
    return "aiohttp/web_" in where or "comfycontrol_async/testing/" in where or "/asyncio/" in where


def client_tasks() -> set[asyncio.Task[Any]]:
    me = asyncio.current_task()
    return {
        t for t in asyncio.all_tasks() if t is not me and not t.done() and not _is_server_task(t)
    }


def acquired_connections(cc: ComfyControl) -> int:
    session = cc._transport._own
    if session is None or session.connector is None:
        return 0
    return len(session.connector._acquired)


@asynccontextmanager
async def loop_reports() -> AsyncIterator[list[dict[str, Any]]]:
    """What the event loop reports meanwhile (unretrieved exceptions, destroyed tasks...)."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        yield seen
    finally:
        gc.collect()
        await asyncio.sleep(0)
        loop.set_exception_handler(previous)


@contextmanager
def shown(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    with capsys.disabled():
        print()
        yield


# -- the fault plan --------------------------------------------------------------------------


@attrs.frozen
class Fault:
    """One scripted fault on one runner.

    ``failures`` is how many attempts of the client it spoils; ``persistent`` faults spoil all
    of them (or, for answers the client does not retry, the first).
    """

    kind: str
    failures: int
    persistent: bool
    expected: type[Exception]
    status: int | None = None


def _arm(fake: FakeComfyControl, rid: str, fault: Fault, rng: random.Random) -> None:
    """Script ``fault`` for runner ``rid``."""
    kind, n = fault.kind, fault.failures
    if kind == "5xx":
        assert fault.status is not None
        fake.fail_next(fault.status, n, route=MANAGED_STATS, runner_id=rid)
    elif kind == "5xx-html":
        assert fault.status is not None
        fake.fail_next(fault.status, n, route=MANAGED_STATS, runner_id=rid, html=True)
    elif kind == "429":
        fake.fail_next(429, n, route=MANAGED_STATS, runner_id=rid)
    elif kind == "429-retry-after":
        wait = rng.choice(["0.01", "0.02", "0"])
        fake.fail_next(429, n, route=MANAGED_STATS, runner_id=rid, headers={"Retry-After": wait})
    elif kind == "429-html":
        fake.fail_next(429, n, route=MANAGED_STATS, runner_id=rid, html=True)
    elif kind == "drop":
        n *= 2  # aiohttp resends an idempotent request once by itself after a disconnect
        fake.drop_next(n, route=MANAGED_STATS, runner_id=rid)
    elif kind == "hang":
        fake.hang_next(n, route=MANAGED_STATS, runner_id=rid)
    elif kind.startswith("malformed-"):
        fake.malformed_next(n, route=MANAGED_STATS, runner_id=rid, kind=kind.split("-", 1)[1])
    else:  # pragma: no cover
        raise AssertionError(kind)


def plan_round(round_no: int, ids: list[str], rng: random.Random) -> dict[str, Fault]:
    """Which managed runners get which fault this round (about one in nine)."""
    faults: list[Fault] = []
    for _ in range(6):
        status = rng.choice([500, 502, 503])
        faults.append(Fault("5xx", rng.choice([1, 1, 2]), False, ServerError, status))
    faults.append(Fault("5xx", SWEEP_ATTEMPTS, True, ServerError, rng.choice([500, 502, 503])))
    for _ in range(2):
        status = rng.choice([502, 503])
        faults.append(Fault("5xx-html", rng.choice([1, 2]), False, ServerError, status))
    if round_no % 4 == 0:
        faults.append(Fault("5xx-html", SWEEP_ATTEMPTS, True, ServerError, 502))
    for kind in ("429", "429-retry-after", "429-html"):
        faults.append(Fault(kind, rng.choice([1, 2]), False, RateLimitError))
    if round_no % 5 == 1:
        kind = rng.choice(["429", "429-retry-after", "429-html"])
        faults.append(Fault(kind, SWEEP_ATTEMPTS, True, RateLimitError))
    faults += [Fault("drop", rng.choice([1, 2]), False, APIConnectionError) for _ in range(3)]
    if round_no % 4 == 2:
        faults.append(Fault("drop", SWEEP_ATTEMPTS, True, APIConnectionError))
    if round_no % 4 == 1:
        faults.append(Fault("hang", 1, False, APITimeoutError))
    if round_no % 10 == 3:
        faults.append(Fault("hang", SWEEP_ATTEMPTS, True, APITimeoutError))
    faults += [
        Fault("malformed-cut", rng.choice([1, 2]), False, APIConnectionError) for _ in range(2)
    ]
    if round_no % 5 == 4:
        faults.append(Fault("malformed-cut", SWEEP_ATTEMPTS, True, APIConnectionError))
    # Answers that are 2xx but no JSON: retried like a 5xx, so one spoiled answer recovers and
    # a whole allowance of them comes back as a ResponseValidationError.
    spoilt = ["truncated", "invalid", "html", "empty"][round_no % 4]
    faults.append(Fault(f"malformed-{spoilt}", 1, False, ResponseValidationError))
    faults.append(Fault(f"malformed-{spoilt}", SWEEP_ATTEMPTS, True, ResponseValidationError))
    chosen = rng.sample(ids, len(faults))
    return dict(zip(chosen, faults, strict=True))


# -- figures -----------------------------------------------------------------------------------


class Figures:
    def __init__(self) -> None:
        self.calls = 0
        self.requests = 0
        self.injected: Counter[str] = Counter()  # scripted faults by kind
        self.served: Counter[str] = Counter()  # spoiled server answers, by fault kind
        self.statuses: Counter[str] = Counter()  # every answer of the fake, by outcome
        self.recovered = 0  # results ok after at least one failed attempt
        self.clean = 0
        self.failed: Counter[str] = Counter()
        self.persistent = 0
        self.transient = 0
        self.random_5xx = 0
        self.random_exhausted = 0
        self.attempts = 0

    def lines(self, elapsed: float, pauses: int) -> list[str]:
        injected = ", ".join(f"{k} {v}" for k, v in sorted(self.injected.items()))
        served = ", ".join(f"{k} {v}" for k, v in sorted(self.served.items()))
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items()))
        return [
            f"soak: {self.calls} stats calls ({ROUNDS} rounds x {MANAGED + OWN} runners), "
            f"{self.attempts} attempts, {self.requests} requests seen by the fake, "
            f"{elapsed:.1f} s",
            f"soak: faults scripted: {sum(self.injected.values())} on runners "
            f"({self.transient} transient, {self.persistent} persistent): {injected}",
            f"soak: spoiled answers served: {served}; random 5xx on own runners: "
            f"{self.random_5xx}; client-wide 429 pauses: {pauses}",
            f"soak: the fake's answers: {statuses}",
            f"soak: ok {self.clean + self.recovered} ({self.recovered} recovered after a fault), "
            f"failed {sum(self.failed.values())}: {failed or 'none'} "
            f"({self.random_exhausted} own runners drew 4 random 5xx in a row)",
        ]


# -- the soak ----------------------------------------------------------------------------------


async def test_fault_soak(capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    figures = Figures()
    async with (
        FakeComfyControl(seed=rng.randrange(2**31), managed_runners=MANAGED) as fake,
        loop_reports() as reports,
    ):
        pro = fake.user("pro")
        own_ids = [
            fake.add_runner(pro, name=f"own-{n}", stats=OWN_RUNNER_STATS)["id"] for n in range(OWN)
        ]
        managed_ids = fake.managed_runner_ids()
        assert len(managed_ids) == MANAGED
        async with ComfyControl(
            fake.token("pro"),
            base_url=fake.url,
            timeout=TIMEOUT,
            max_retries=MAX_RETRIES,
            rate_limit=PACING,
            retry_budget=None,
            retry=FAST_RETRY,
        ) as cc:
            loop = asyncio.get_running_loop()
            started = loop.time()
            for round_no in range(ROUNDS):
                await soak_round(fake, cc, round_no, managed_ids, own_ids, rng, figures)
            elapsed = loop.time() - started
            assert not client_tasks()
            assert acquired_connections(cc) == 0
            assert (await cc.user.get()).tier == "pro"  # and the client still works
            pauses = cc._pacer.pauses
    assert not reports, [c.get("message") for c in reports]
    assert figures.calls == ROUNDS * (MANAGED + OWN) == 5_000
    with shown(capsys):
        for line in figures.lines(elapsed, pauses):
            print(line)


async def soak_round(
    fake: FakeComfyControl,
    cc: ComfyControl,
    round_no: int,
    managed_ids: list[str],
    own_ids: list[str],
    rng: random.Random,
    figures: Figures,
) -> None:
    fake.clear_faults()
    fake.clear_requests()
    fake.set_error_rate(OWN_ERROR_RATE, statuses=(500, 502, 503), route=OWN_STATS)
    plan = plan_round(round_no, managed_ids, rng)
    for rid, fault in plan.items():
        _arm(fake, rid, fault, rng)
        figures.injected[fault.kind] += 1
        if fault.persistent:
            figures.persistent += 1
        else:
            figures.transient += 1
    # One 429 per round for whichever runner asks next (registered last, so it never takes
    # the place of a runner's own scripted fault): at most one extra failure for anyone.
    style = round_no % 3
    fake.rate_limit_next(
        1, route=MANAGED_STATS, html=style == 0, retry_after="0.01" if style == 1 else None
    )
    figures.injected["429-any-runner"] += 1

    # Shuffled inputs, so completion order and input order differ.
    managed_in = rng.sample(managed_ids, len(managed_ids))
    own_in = rng.sample(own_ids, len(own_ids))
    async with asyncio.TaskGroup() as group:
        managed_task = group.create_task(
            cc.managed_runners.stats_many(managed_in, concurrency=32).collect()
        )
        own_task = group.create_task(cc.runners.stats_many(own_in, concurrency=8).collect())
    managed_results, own_results = managed_task.result(), own_task.result()

    # Every runner exactly once.
    for given, results in ((managed_in, managed_results), (own_in, own_results)):
        got = Counter(r.runner_id for r in results)
        assert set(got) == set(given), f"round {round_no}: runners missing or unknown"
        assert max(got.values()) == 1, f"round {round_no}: a runner came back twice"
        assert len(results) == len(given)
    figures.calls += len(managed_results) + len(own_results)

    log = fake.requests
    figures.requests += len(log)
    for result in managed_results:
        check_managed(result, plan.get(result.runner_id), round_no, figures)
    by_runner: dict[str, list[int | None]] = defaultdict(list)
    for seen in log:
        if seen.route == OWN_STATS and seen.id is not None:
            by_runner[seen.id].append(seen.status)
    for result in own_results:
        check_own(result, by_runner[result.runner_id], round_no, figures)
    # What was served: each attempt of a runner takes one of its own scripted answers while
    # they last (two for a drop: aiohttp's own resend).
    scripted_429 = 0
    for result in managed_results:
        planned = plan.get(result.runner_id)
        if planned is None:
            continue
        used = min(result.attempts, planned.failures) * (2 if planned.kind == "drop" else 1)
        figures.served[planned.kind] += used
        if planned.kind.startswith("429"):
            scripted_429 += used
    all_429 = sum(1 for r in log if r.route == MANAGED_STATS and r.status == 429)
    figures.served["429-any-runner"] += all_429 - scripted_429
    for seen in log:
        status = seen.status
        outcome = (
            "no answer (dropped, hung)"
            if status is None
            else "429"
            if status == 429
            else f"{status // 100}xx"
        )
        figures.statuses[outcome] += 1


def _tally(result: StatsResult, figures: Figures) -> None:
    figures.attempts += result.attempts
    if result.ok:
        if result.attempts > 1:
            figures.recovered += 1
        else:
            figures.clean += 1
    else:
        figures.failed[type(result.error).__name__] += 1


def check_managed(
    result: StatsResult, fault: Fault | None, round_no: int, figures: Figures
) -> None:
    _tally(result, figures)
    where = f"round {round_no}, runner {result.runner_id}, fault {fault}: {result!r}"
    if fault is not None and fault.status == 500 and fault.failures >= 2:
        # Two 500s in a row: a down runner, tried once and once more at the end of the sweep.
        assert isinstance(result.error, ServerError), where
        assert result.error.status == 500, where
        assert result.attempts == 2, where
        return
    if fault is None or not fault.persistent:
        # Clean, or transient: it recovers. At most one extra failure from the 429 that any
        # runner may draw.
        assert result.ok, where
        failures = 0 if fault is None else fault.failures
        assert failures + 1 <= result.attempts <= failures + 2, where
        return
    assert not result.ok, where
    assert isinstance(result.error, fault.expected), where
    if fault.expected is APIConnectionError:
        assert not isinstance(result.error, APITimeoutError), where
    if fault.status is not None:
        assert isinstance(result.error, ServerError)
        assert result.error.status == fault.status, where
    assert result.attempts == SWEEP_ATTEMPTS, where


def check_own(
    result: StatsResult, statuses: list[int | None], round_no: int, figures: Figures
) -> None:
    """An own runner, hit only by the random error rate: the result agrees with the log."""
    _tally(result, figures)
    where = f"round {round_no}, own runner {result.runner_id}: {statuses} -> {result!r}"
    assert result.attempts == len(statuses), where
    figures.random_5xx += sum(1 for s in statuses if s is not None and s >= 500)
    assert all(s in (500, 502, 503) for s in statuses[:-1]), where
    if result.ok:
        assert statuses[-1] == 200, where
        return
    figures.random_exhausted += 1
    assert isinstance(result.error, ServerError), where
    # a 500 then a 500 at the end of the sweep (down), or the whole allowance at the end
    down = statuses[0] == 500 and result.attempts == 2
    assert down or result.attempts == SWEEP_ATTEMPTS, where
    assert result.error.status == statuses[-1], where


# -- the knobs the soak relies on ----------------------------------------------------------------


async def test_retry_budget_caps_an_outage(capsys: pytest.CaptureFixture[str]) -> None:
    """An outage does not turn a sweep of N runners into 5N requests: each runner is asked
    once, once more at the end of the sweep, and the budget runs dry on the retries."""
    budget = RetryBudget(capacity=50, retry_cost=5, success_reward=1)
    async with FakeComfyControl(seed=7, managed_runners=MANAGED) as fake:
        ids = fake.managed_runner_ids()
        async with ComfyControl(
            fake.token("pro"),
            base_url=fake.url,
            rate_limit=None,
            max_retries=MAX_RETRIES,
            retry_budget=budget,
            retry=FAST_RETRY,
        ) as cc:
            fake.set_error_rate(1.0, statuses=(503,), route=MANAGED_STATS)
            during = await cc.managed_runners.stats_many(ids, concurrency=16).collect()
            outage_requests = len(fake.requests)
            assert len(during) == MANAGED
            assert all(isinstance(r.error, ServerError) for r in during)
            retries = sum(r.attempts for r in during) - 2 * MANAGED
            assert retries == budget.capacity // budget.retry_cost == 10
            assert outage_requests == 2 * MANAGED + retries
            assert cc._quota.denied > 0

            # Once the service is back, successes refill the bucket and retries work again.
            fake.set_error_rate(0.0, route=MANAGED_STATS)
            after = await cc.managed_runners.stats_many(ids, concurrency=16).collect()
            assert all(r.ok for r in after)
            assert cc._quota.tokens == budget.capacity
            fake.fail_next(503, times=1, route=MANAGED_STATS, runner_id=ids[0])
            assert (await cc.managed_runners.stats(ids[0])) is not None
    with shown(capsys):
        print(
            f"retry budget: outage over {MANAGED} runners with max_retries={MAX_RETRIES}: "
            f"{outage_requests} requests ({retries} retries) instead of {MANAGED * ATTEMPTS}; "
            f"{cc._quota.denied} retries refused by the budget"
        )


async def test_deadline_bounds_a_call_across_retries() -> None:
    async with FakeComfyControl(seed=8, managed_runners=4) as fake:
        ids = fake.managed_runner_ids()
        async with ComfyControl(
            fake.token("pro"),
            base_url=fake.url,
            rate_limit=PACING,
            timeout=TIMEOUT,
            max_retries=MAX_RETRIES,
            retry_budget=None,
            retry=FAST_RETRY,
        ) as cc:
            async with asyncio.timeout(60):  # a guard against hanging, not a measurement
                # A hanging runner: the per-attempt timeout alone would allow 4 x 2 s; a
                # deadline of 3 s leaves room for one full attempt and part of another (the
                # second between is the margin for a loaded machine).
                fake.hang_next(ATTEMPTS, route=MANAGED_STATS, runner_id=ids[0])
                with pytest.raises(APITimeoutError, match="deadline"):
                    await cc.managed_runners.stats(ids[0], deadline=3.0)
                assert len(fake.requests) == 2
                fake.clear_faults()

                # A Retry-After beyond the deadline is not slept: the error comes at once.
                fake.clear_requests()
                fake.fail_next(503, 3, route=MANAGED_STATS, headers={"Retry-After": "30"})
                with pytest.raises(ServerError) as info:
                    await cc.managed_runners.stats(ids[1], deadline=1.0)
                assert info.value.retry_after == 30
                assert len(fake.requests) == 1
                fake.clear_faults()

                # So is a 429 pause: the client is paused, the call gives up.
                fake.clear_requests()
                fake.fail_next(429, 1, route=MANAGED_STATS, headers={"Retry-After": "2"})
                with pytest.raises(RateLimitError):
                    await cc.managed_runners.stats(ids[2], deadline=0.2)
                assert len(fake.requests) == 1

                # A pause longer than the deadline fails the next call before it is sent.
                with pytest.raises(APITimeoutError, match="rate-limit slot"):
                    await cc.managed_runners.stats(ids[2], deadline=0.1)
                assert len(fake.requests) == 1
                await asyncio.sleep(cc._pacer.paused_for())

                # A sweep with a per-attempt timeout accounts for every runner.
                fake.clear_faults()
                fake.hang_next(SWEEP_ATTEMPTS, route=MANAGED_STATS, runner_id=ids[3])
                results = await cc.managed_runners.stats_many(ids, timeout=3.0).collect()
                by_id = {r.runner_id: r for r in results}
                assert set(by_id) == set(ids)
                assert isinstance(by_id[ids[3]].error, APITimeoutError)
                assert by_id[ids[3]].attempts == SWEEP_ATTEMPTS
                assert all(by_id[i].ok for i in ids[:3])


# -- a gap the soak found, now closed -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["truncated", "invalid", "html", "empty"])
async def test_one_spoiled_2xx_answer_is_a_transient_fault(kind: str) -> None:
    async with FakeComfyControl(seed=9, managed_runners=2) as fake:
        rid = fake.managed_runner_ids()[0]
        async with ComfyControl(
            fake.token("pro"),
            base_url=fake.url,
            rate_limit=None,
            max_retries=MAX_RETRIES,
            retry=FAST_RETRY,
        ) as cc:
            fake.malformed_next(1, route=MANAGED_STATS, runner_id=rid, kind=kind)
            results = await cc.managed_runners.stats_many([rid]).collect()
            assert results[0].ok, results[0]
            assert results[0].attempts == 2
            # Spoiled every time: still the typed error, after the whole allowance.
            fake.malformed_next(ATTEMPTS, route=MANAGED_STATS, runner_id=rid, kind=kind)
            with pytest.raises(ResponseValidationError):
                await cc.managed_runners.stats(rid)
            assert len([r for r in fake.requests if r.route == MANAGED_STATS]) == 2 + ATTEMPTS


def test_plan_is_seeded() -> None:
    """The same seed gives the same faults on the same runners (what makes runs comparable)."""
    ids = [f"r{n}" for n in range(MANAGED)]
    one = [plan_round(n, ids, random.Random(SEED)) for n in range(ROUNDS)]
    two = [plan_round(n, ids, random.Random(SEED)) for n in range(ROUNDS)]
    assert json.dumps([{k: attrs.astuple(v)[:3] for k, v in p.items()} for p in one]) == (
        json.dumps([{k: attrs.astuple(v)[:3] for k, v in p.items()} for p in two])
    )

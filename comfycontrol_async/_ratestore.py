"""The shared window in Redis (slots, the 429 pause, peers), a Lua script each; no pacing policy.

Scripts use the Redis server's ``TIME``, so hosts never compare clocks. redis is imported only
when a store is asked for; every failure is a :class:`StoreUnavailable`, password hidden.
"""

from collections.abc import Awaitable, Sequence
from typing import Any, Final, NamedTuple

from ._redact import redact_store_url, remember, scrub_text, store_url_secrets

STORE_TIMEOUT: Final = 1.0  # seconds to connect or answer: a slower store is down, not a stall
STORE_LEASE: Final = 60.0  # a killed worker's slots stop counting this long after their window
_PEER_WINDOWS: Final = 3.0  # clients that used the key within this many windows are peers

_NOW: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
"""

# A slot scores when it stops counting: grant + lease in flight (so a dead worker's expire),
# then end + window. KEYS: slots, pause, peers. ARGV: member, client, limit, window_ms,
# lease_ms, peers_ms. Returns {granted 0/1, wait_ms as a string, peers, paused 0/1}.
_ACQUIRE: Final = """
local window = tonumber(ARGV[4])
local peers_ms = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
redis.call('ZADD', KEYS[3], now + peers_ms, ARGV[2])
redis.call('PEXPIRE', KEYS[3], math.ceil(peers_ms))
local peers = redis.call('ZCARD', KEYS[3])
local resume = tonumber(redis.call('GET', KEYS[2]) or '0')
if resume > now then
  return {0, tostring(resume - now), peers, 1}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  local lease = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(lease))
  return {1, '0', peers, 0}
end
-- Full: wait for the first member to stop counting, at most a window (one in flight may end).
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(math.min(tonumber(first[2]) - now, window)), peers, 0}
"""

# KEYS: slots. ARGV: lease_ms, then (member, ms from now it still counts) pairs.
_ADOPT: Final = """
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[i + 1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1])))
return 1
"""

# KEYS: pause. ARGV: length_ms. Keeps the later of the current and the new end.
_PAUSE: Final = """
local length = tonumber(ARGV[1])
local resume = now + length
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if resume > current then
  redis.call('SET', KEYS[1], tostring(resume), 'PX', math.ceil(length))
end
return 1
"""


class StoreUnavailable(Exception):
    """The store could not be used; the message names it with its password hidden."""


class Verdict(NamedTuple):
    """The store's answer to one acquire."""

    granted: bool
    wait: float  # seconds before asking again (0 when granted)
    peers: int  # clients seen on this key lately, this one included
    paused: bool  # the wait is a shared 429 pause


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


class RedisWindow:
    """``requests`` slots per ``window`` seconds (margin included) under ``{key}:slots``,
    ``{key}:pause`` and ``{key}:peers`` (one Cluster slot). ``url`` is never shown."""

    def __init__(self, url: str, key: str, *, requests: int, window: float) -> None:
        try:
            from redis import backoff, exceptions
            from redis.asyncio import Redis, retry
        except ImportError:
            raise ImportError(
                "a shared rate-limit store needs the redis extra: "
                "pip install 'comfycontrol-async[redis]'"
            ) from None
        self.shown = redact_store_url(url)
        self._secrets = store_url_secrets(url)
        # Scrubbed from the SDK's log lines too, for as long as this store lives.
        remember(self._secrets, owner=self)
        self._errors: tuple[type[BaseException], ...] = (exceptions.RedisError, OSError)
        self._keys = [f"{{{key}}}:slots", f"{{{key}}}:pause", f"{{{key}}}:peers"]
        self.lease = window + STORE_LEASE  # seconds an in-flight slot counts at most
        self._limits = (str(requests), _ms(window), _ms(self.lease), _ms(window * _PEER_WINDOWS))
        # No retries (redis-py 6+ retries 3 times): a store that is down is the pacer's, at once.
        no_retry = retry.Retry(backoff.NoBackoff(), 0)
        self._redis = Redis.from_url(
            url, socket_connect_timeout=STORE_TIMEOUT, socket_timeout=STORE_TIMEOUT, retry=no_retry
        )
        self._acquire = self._redis.register_script(_NOW + _ACQUIRE)
        self._adopt = self._redis.register_script(_NOW + _ADOPT)
        self._pause = self._redis.register_script(_NOW + _PAUSE)

    async def _run(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except self._errors as err:
            # Its password hidden even when too short for the shared registry to look for.
            text = scrub_text(f"{type(err).__name__}: {err}", also=self._secrets)
            raise StoreUnavailable(f"rate-limit store {self.shown}: {text}") from None

    async def acquire(self, member: str, client: str) -> Verdict:
        """Take a slot named ``member`` if the window has room, for the client ``client``."""
        granted, wait, peers, paused = await self._run(
            self._acquire(keys=self._keys, args=[member, client, *self._limits])
        )
        return Verdict(bool(granted), float(wait) / 1000, int(peers), bool(paused))

    async def adopt(self, slots: Sequence[tuple[str, float]]) -> None:
        """Count each ``(member, seconds)`` slot for that many more seconds from now."""
        if slots:
            args = [_ms(self.lease), *(x for m, s in slots for x in (m, _ms(s)))]
            await self._run(self._adopt(keys=self._keys[:1], args=args))

    async def forget(self, member: str) -> None:
        """Give back a slot that was granted but never used."""
        await self._run(self._redis.zrem(self._keys[0], member))

    async def pause(self, seconds: float) -> None:
        """Hold every client of the key for ``seconds`` from now (a longer pause stays)."""
        await self._run(self._pause(keys=self._keys[1:2], args=[_ms(seconds)]))

    async def aclose(self) -> None:
        await self._redis.aclose()

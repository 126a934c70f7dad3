"""The shared window in Redis: one set of slots and one 429 pause for every client of a key.

Each operation is one Lua script, so it is atomic on the server, and every script takes the time
from the Redis server's ``TIME``: clients on different hosts never compare their own clocks.
The window follows the in-process pacer's rule. A granted slot is a member of a sorted set
scored by the time it stops counting: while its request is in flight, the grant plus one window
plus a lease (so that a worker that dies mid-request does not hold its slots for ever); once the
request has ended, the end plus one window. A grant is made only while fewer than ``requests``
members still count. The pause is one key holding the server time at which sending may resume.
Clients also register themselves under the key for a few windows, so that each knows how many
peers share the window (the pacer sizes its fallback share with it).

This module owns the scripts and the redis-py client. It imports redis only when a store is
asked for (the SDK works without the ``redis`` extra), turns every Redis or socket failure into
:class:`StoreUnavailable` with the URL's password hidden, and decides nothing about pacing
policy or fallbacks: that is the pacer's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ._config import redact_store_url
from ._redact import register_secret

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["EXTRA_HINT", "RedisWindow", "StoreUnavailable", "Verdict"]

EXTRA_HINT: Final = "pip install 'comfycontrol-async[redis]'"

# Seconds to connect to Redis or to wait for one answer: a store that is slower than this is
# treated as down (the pacer then falls back) rather than stalling every request.
STORE_TIMEOUT: Final = 1.0

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
"""

# KEYS: slots, pause, peers. ARGV: member, client, limit, window_ms, lease_ms, peers_ms.
# Returns {granted 0/1, wait_ms as a string, peers, paused 0/1}.
_ACQUIRE: Final = (
    _NOW
    + """
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
-- Full. The first member to stop counting frees a place; a request still in flight frees
-- one a window after it ends at the soonest, so no wait is longer than a window.
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(math.min(tonumber(first[2]) - now, window)), peers, 0}
"""
)

# KEYS: slots. ARGV: lease_ms, then (member, ms from now it still counts) pairs.
_ADOPT: Final = (
    _NOW
    + """
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[i + 1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1])))
return 1
"""
)

# KEYS: pause. ARGV: length_ms. Keeps the later of the current and the new end.
_PAUSE: Final = (
    _NOW
    + """
local length = tonumber(ARGV[1])
local resume = now + length
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if resume > current then
  redis.call('SET', KEYS[1], tostring(resume), 'PX', math.ceil(length))
end
return 1
"""
)


class StoreUnavailable(Exception):
    """The store could not be used; the message names it with its password hidden."""


class Verdict(NamedTuple):
    """The store's answer to one acquire."""

    granted: bool
    wait: float  # seconds before asking again (0 when granted)
    peers: int  # clients seen on this key lately, this one included
    paused: bool  # the wait is a shared 429 pause


def _redis_module() -> Any:
    try:
        import redis.asyncio
        import redis.backoff
        import redis.exceptions
        import redis.retry
    except ImportError:
        raise ImportError(
            f"a shared rate-limit store needs the redis extra: {EXTRA_HINT}"
        ) from None
    return redis


class RedisWindow:
    """One shared window (and pause) in Redis, under the key ``key``.

    Args:
        url: The Redis URL (may hold a password; it is never shown).
        key: The window's name; the Redis keys are ``{key}:slots``, ``{key}:pause`` and
            ``{key}:peers`` (the braces keep them in one Redis Cluster slot).
        requests: Slots per window.
        window: The window in seconds (margin included).
        lease: Seconds an in-flight slot counts at most (window included).
        peers_ttl: Seconds a client counts as a peer after its last acquire.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        requests: int,
        window: float,
        lease: float,
        peers_ttl: float,
    ) -> None:
        redis = _redis_module()
        self.shown = redact_store_url(url)
        self.key = key
        self._secrets = _url_secrets(url)
        # Scrubbed from every line of the SDK's logger too, for as long as this store lives.
        self._secret_handles = [register_secret(secret) for secret in self._secrets]
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        self._keys = [f"{{{key}}}:slots", f"{{{key}}}:pause", f"{{{key}}}:peers"]
        self._limits = (str(requests), f"{window * 1000:.3f}", f"{lease * 1000:.3f}")
        self._lease_ms = f"{lease * 1000:.3f}"
        self._window = window
        self._peers_ms = f"{peers_ttl * 1000:.3f}"
        # One quick retry on a fresh connection (a pooled one may be stale after a restart),
        # no backoff: a store that is down is the pacer's to handle, at once.
        self._redis: Redis = redis.asyncio.Redis.from_url(
            url,
            socket_connect_timeout=STORE_TIMEOUT,
            socket_timeout=STORE_TIMEOUT,
            retry=redis.retry.Retry(redis.backoff.NoBackoff(), 1),
        )
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._adopt = self._redis.register_script(_ADOPT)
        self._pause = self._redis.register_script(_PAUSE)

    def _unavailable(self, err: BaseException) -> StoreUnavailable:
        text = f"{type(err).__name__}: {err}"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return StoreUnavailable(f"rate-limit store {self.shown}: {text}")

    async def acquire(self, member: str, client: str) -> Verdict:
        """Take a slot named ``member`` if the window has room, for the client ``client``."""
        try:
            granted, wait, peers, paused = await self._acquire(
                keys=self._keys, args=[member, client, *self._limits, self._peers_ms]
            )
        except self._errors as err:
            raise self._unavailable(err) from None
        return Verdict(bool(granted), float(wait) / 1000, int(peers), bool(paused))

    async def release(self, member: str) -> None:
        """The request of ``member`` ended now: it counts one more window."""
        await self.adopt([(member, self._window)])

    async def adopt(self, slots: Sequence[tuple[str, float]]) -> None:
        """Count each ``(member, seconds)`` slot for that many more seconds from now."""
        if not slots:
            return
        args: list[str] = [self._lease_ms]
        for member, seconds in slots:
            args += [member, f"{seconds * 1000:.3f}"]
        try:
            await self._adopt(keys=self._keys[:1], args=args)
        except self._errors as err:
            raise self._unavailable(err) from None

    async def forget(self, member: str) -> None:
        """Give back a slot that was granted but never used."""
        try:
            await self._redis.zrem(self._keys[0], member)
        except self._errors as err:
            raise self._unavailable(err) from None

    async def pause(self, seconds: float) -> None:
        """Hold every client of the key for ``seconds`` from now (a longer pause stays)."""
        try:
            await self._pause(keys=self._keys[1:2], args=[f"{seconds * 1000:.3f}"])
        except self._errors as err:
            raise self._unavailable(err) from None

    async def aclose(self) -> None:
        """Close the connections."""
        await self._redis.aclose()


def _url_secrets(url: str) -> list[str]:
    """The user-info and password-like query values of ``url``, to scrub from error texts."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
        found = [parts.password or "", unquote(parts.password or "")]
        found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password"]
    except ValueError:
        return []
    return sorted({s for s in found if s}, key=len, reverse=True)

"""The one module that talks to aiohttp.

It owns the :class:`aiohttp.ClientSession` (made lazily inside the running loop, or lent by the
caller and then never closed here; none is made after close), sends one attempt, reads the answer
up to a size cap and turns aiohttp and socket exceptions into :class:`APIConnectionError` or
:class:`APITimeoutError`. It does not retry, pace, decode or log; cancellation passes untouched.
"""

from __future__ import annotations

import functools
import os
import urllib.request
from collections.abc import Mapping
from contextlib import suppress
from typing import Final

import aiohttp
from yarl import URL

from ._config import Timeout
from ._core import ERROR_BODY_LIMIT, Answer, RequestSpec
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    ResponseValidationError,
    make_status_error,
)

# One pool for the whole client. The rate limit keeps a paced client far below it; with pacing
# off, the fan-out's own concurrency bound is what matters, and 100 sockets serve it.
_POOL_SIZE: Final = 100
_CHUNK: Final = 1 << 16


@functools.lru_cache(maxsize=64)
def _timeout(total: float | None, connect: float | None) -> aiohttp.ClientTimeout:
    # Cached: a client sends thousands of requests with the same few timeouts (frozen objects).
    return aiohttp.ClientTimeout(total=total, sock_connect=connect, connect=connect)


class Transport:
    """Sends single attempts over one aiohttp session (``session=None``: our own)."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        *,
        timeout: Timeout,
        user_agent: str,
        max_answer_bytes: int,
    ) -> None:
        self._borrowed = session
        self._own: aiohttp.ClientSession | None = None
        self._timeout = timeout
        self._user_agent = user_agent
        self._max_answer_bytes = max_answer_bytes
        self._closed = False
        # Our own session's proxies, read from the environment when it is made: scheme -> URL,
        # and the decision per (scheme, host), made once.
        self._env_proxies: dict[str, str] = {}
        self._proxy_for_host: dict[tuple[str, str], str | None] = {}

    @property
    def owns_open_session(self) -> bool:
        """Whether we made a session that is still open (and so must be closed by us)."""
        return self._own is not None and not self._own.closed

    def _session(self) -> aiohttp.ClientSession:
        if self._closed:
            # Never a new session after aclose(): nothing may be sent by a closed client.
            raise ClientClosedError("this ComfyControl client is closed; make a new one")
        if self._borrowed is not None:
            return self._borrowed
        if self._own is None or self._own.closed:
            # Made here, inside the running loop, never at construction time.
            connector = aiohttp.TCPConnector(limit=_POOL_SIZE, limit_per_host=_POOL_SIZE)
            self._own = aiohttp.ClientSession(
                connector=connector, timeout=_timeout(None, None), trust_env=False
            )
            self._env_proxies = urllib.request.getproxies()
            self._proxy_for_host.clear()
        return self._own

    def _proxy(self, url: URL) -> str | None:
        """The proxy for ``url`` from HTTP_PROXY / HTTPS_PROXY / ALL_PROXY and NO_PROXY.

        Not aiohttp's ``trust_env``: that also reads ``~/.netrc`` in a thread for every request
        and refuses to send our Authorization header when the file has an entry for the host.
        A proxy only ever sees a CONNECT for an https URL: the token stays inside the tunnel.
        """
        if self._borrowed is not None or not self._env_proxies or url.host is None:
            return None  # a session the caller lent keeps its own proxy settings
        key = (url.scheme, url.host)
        if key not in self._proxy_for_host:
            proxy = self._env_proxies.get(url.scheme) or self._env_proxies.get("all")
            bypass = proxy is not None and urllib.request.proxy_bypass(url.host)
            self._proxy_for_host[key] = None if bypass else proxy
        return self._proxy_for_host[key]

    async def send(
        self, spec: RequestSpec, *, headers: Mapping[str, str], timeout: float | None = None
    ) -> Answer:
        """Send one attempt with ``headers`` and read the answer, up to the size cap.

        A 2xx answer over ``max_answer_bytes`` raises ``ResponseValidationError``.
        """
        session = self._session()
        total = self._timeout.total if timeout is None else timeout
        data: aiohttp.FormData | None = None
        if spec.form is not None:
            data = aiohttp.FormData(quote_fields=False)
            for name, value in spec.form:
                if isinstance(value, str):
                    data.add_field(name, value)
                else:
                    data.add_field(name, value[1], filename=value[0], content_type=value[2])
        method, url = spec.method, str(spec.url)
        try:
            async with session.request(
                method,
                spec.url,
                params=dict(spec.params) if spec.params else None,
                json=spec.json,
                data=data,
                headers={"User-Agent": self._user_agent, "Accept": "application/json", **headers},
                timeout=_timeout(total, self._timeout.connect),
                allow_redirects=False,
                proxy=self._proxy(spec.url),
            ) as response:
                ok = 200 <= response.status < 300
                # Of an error answer (documented as a small JSON object) 64 KiB are kept for the
                # exception, and the rest is never read: its status is what counts.
                limit = (
                    self._max_answer_bytes if ok else min(self._max_answer_bytes, ERROR_BODY_LIMIT)
                )
                body, cut = await _read_capped(response, limit)
                if cut and ok:
                    raise ResponseValidationError(
                        f"{method} {url}: the answer is larger than max_answer_bytes "
                        f"({self._max_answer_bytes} bytes); it was not read whole",
                        body=body[:200].decode("utf-8", errors="replace"),
                    )
                return Answer(status=response.status, headers=response.headers, body=body)
        except TimeoutError as err:
            raise APITimeoutError(
                f"{method} {url} timed out after {total} s", method=method, url=url
            ) from err
        except aiohttp.ClientPayloadError as err:
            raise APIConnectionError(
                f"{method} {url}: the answer was cut off ({type(err).__name__})",
                method=method,
                url=url,
            ) from err
        except (aiohttp.ClientError, OSError) as err:
            text = str(err).strip()
            why = f"{type(err).__name__}: {text}" if text else type(err).__name__
            raise APIConnectionError(
                f"{method} {url}: no answer ({why})", method=method, url=url
            ) from err

    async def download(
        self, url: URL, path: str | os.PathLike[str], *, timeout: float | None
    ) -> None:
        """Stream ``url`` into ``path`` without our token.

        The file is written beside ``path`` and renamed when complete, so a failed download never
        leaves a partial file under the final name. An answer outside 2xx (403 for an expired
        URL) raises its ``APIStatusError``.
        """
        target = os.fspath(path)
        partial = target + ".part"
        shown = str(url.with_query(None))  # a signed URL's query is a credential
        try:
            # A plain GET with no Authorization header at all: signed URLs carry their own
            # credentials, and our token must never reach a storage host.
            async with self._session().get(
                url,
                headers={"User-Agent": self._user_agent},
                timeout=_timeout(timeout, self._timeout.connect),
                allow_redirects=True,
                proxy=self._proxy(url),
            ) as response:
                if not 200 <= response.status < 300:
                    body, _ = await _read_capped(response, ERROR_BODY_LIMIT)  # a hostile host too
                    raise make_status_error(
                        response.status,
                        api_message=None,
                        body=body.decode("utf-8", errors="replace"),
                        request_id=response.headers.get("X-Request-Id"),
                        method="GET",
                        url=shown,
                    )
                # Local writes of 64 KiB chunks are cheaper inline than a thread hop each.
                with open(partial, "wb") as handle:  # noqa: ASYNC230
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        handle.write(chunk)
            os.replace(partial, target)
        except BaseException as err:
            with suppress(FileNotFoundError):
                os.unlink(partial)
            if isinstance(err, TimeoutError):
                raise APITimeoutError(f"GET {shown} timed out", method="GET", url=shown) from err
            if isinstance(err, aiohttp.ClientError) or (
                isinstance(err, OSError) and err.filename is None
            ):
                # Only the class name: aiohttp's own message may quote the signed URL whole.
                raise APIConnectionError(
                    f"GET {shown}: download failed ({type(err).__name__})", method="GET", url=shown
                ) from None
            raise  # cancelled, an error answer, or our own file could not be written

    async def aclose(self) -> None:
        """Close the session we made (a borrowed one stays open); nothing can be sent after."""
        self._closed = True
        own, self._own = self._own, None
        if own is not None and not own.closed:
            await own.close()


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Read at most ``limit`` bytes of the (decoded) body; ``True`` when there was more.

    A body over the limit is not read further: leaving the response unread makes aiohttp close
    that connection rather than drain it, so a 200 MB answer costs ``limit`` bytes of memory.
    """
    length = response.content_length
    if length is not None and "Content-Encoding" not in response.headers:
        if length <= limit:
            return await response.read(), False  # the common case: small, framed, plain
        # Announced too big: an excerpt (what has arrived, at most `limit`) and no more.
        return await response.content.read(limit), True
    # Unknown length or compressed (the decoded size is what we cap): read in chunks.
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False

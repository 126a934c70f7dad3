"""The one module that talks to aiohttp: the session (ours, made in the running loop, or the
caller's, never closed here), one attempt read up to a size cap, aiohttp's errors as ours.
No retrying, pacing, decoding or logging; cancellation passes untouched."""

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
    ResponseValidationError,
    make_status_error,
)

# Pacing keeps a paced client far below it; unpaced, the fan-out's own bound is what matters.
_POOL_SIZE: Final = 100
_CHUNK: Final = 1 << 16


@functools.lru_cache(maxsize=64)
def _timeout(total: float | None, connect: float | None) -> aiohttp.ClientTimeout:
    # Cached: thousands of requests share the same few (frozen) timeouts.
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
        self._error_limit = min(max_answer_bytes, ERROR_BODY_LIMIT)  # its status is what counts
        # Our own session's proxies (scheme -> URL), read when it is made; decided once per host.
        self._env_proxies: dict[str, str] = {}
        self._proxy_for_host: dict[tuple[str, str], str | None] = {}

    @property
    def owns_open_session(self) -> bool:
        """Whether we made a session that is still open (and must close it)."""
        return self._own is not None and not self._own.closed

    def _session(self) -> aiohttp.ClientSession:
        if self._borrowed is not None:
            return self._borrowed
        if self._own is None or self._own.closed:
            connector = aiohttp.TCPConnector(limit=_POOL_SIZE, limit_per_host=_POOL_SIZE)
            self._own = aiohttp.ClientSession(
                connector=connector, timeout=_timeout(None, None), trust_env=False
            )
            self._env_proxies = urllib.request.getproxies()
            self._proxy_for_host.clear()
        return self._own

    def _proxy(self, url: URL) -> str | None:
        """The proxy for ``url`` from the standard variables (README, "Proxies"). Not aiohttp's
        ``trust_env``: it reads ``~/.netrc`` per request and drops our token for a host it names."""
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
        """Send one attempt; a 2xx answer over ``max_answer_bytes`` is a ResponseValidationError."""
        session = self._session()
        total = self._timeout.total if timeout is None else timeout
        data: aiohttp.FormData | None = None
        if spec.form is not None:
            data = aiohttp.FormData(quote_fields=False)
            for name, value in spec.form:
                file = (None, value, None) if isinstance(value, str) else value
                data.add_field(name, file[1], filename=file[0], content_type=file[2])
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
                limit = self._max_answer_bytes if ok else self._error_limit
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
        except (aiohttp.ClientError, OSError) as err:
            name, text = type(err).__name__, str(err).strip()
            why = f"no answer ({name}: {text})" if text else f"no answer ({name})"
            if isinstance(err, aiohttp.ClientPayloadError):
                why = f"the answer was cut off ({name})"
            raise APIConnectionError(f"{method} {url}: {why}", method=method, url=url) from err

    async def download(
        self, url: URL, path: str | os.PathLike[str], *, timeout: float | None
    ) -> None:
        """Stream ``url`` into ``path`` (via ``path.part``, renamed when whole) without our token;
        an answer outside 2xx (403 for an expired URL) raises its ``APIStatusError``."""
        partial = os.fspath(path) + ".part"
        shown = str(url.with_query(None))  # a signed URL's query is a credential
        try:
            # Signed URLs carry their own credentials: our token must never reach a storage host.
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
            os.replace(partial, path)
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
        """Close the session we made (a borrowed one stays open)."""
        own, self._own = self._own, None
        if own is not None and not own.closed:
            await own.close()


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Read at most ``limit`` bytes of the (decoded) body; ``True`` when there was more (left
    unread: aiohttp then closes the connection rather than drain it)."""
    length = response.content_length
    if length is not None and "Content-Encoding" not in response.headers:
        if length <= limit:
            return await response.read(), False  # the common case: small, framed, plain
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

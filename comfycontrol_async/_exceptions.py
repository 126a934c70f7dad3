"""Every exception the SDK raises on purpose, in one tree, and :func:`make_status_error`.

```
ComfyControlError                 .message
├── APIConnectionError            no HTTP answer (refused, reset, DNS); .method .url
│   └── APITimeoutError           no answer within the timeout or deadline
├── APIStatusError                .status .message .body .request_id .method .url .retry_after
│   ├── BadRequestError           400
│   ├── AuthenticationError       401
│   ├── PermissionDeniedError     403
│   ├── NotFoundError             404
│   ├── RateLimitError            429   .retry_after
│   └── ServerError               5xx
├── ResponseValidationError       the answer did not fit the model; .path .body
├── PaginationError               a list walk could not go on; .next_page .items_yielded .per_page
│   └── ListChangedError          the list changed under a strict walk; .old_total .new_total
├── ClientClosedError             the client was used after aclose()
└── RateLimitStoreError           the shared rate-limit store failed; .store
```

Bad arguments raise :class:`ValueError` (or :class:`TypeError`) before any request. Every error is
clean when built: secrets hidden in its message, ``url``, ``request_id`` and ``body`` (cut to
:data:`BODY_LIMIT`), control characters shown escaped, no request headers. No aiohttp, no I/O.
"""

from __future__ import annotations

from typing import Any, Final

from ._redact import excerpt, printable

BODY_LIMIT: Final = 8192
"""Characters of an answer's body an error keeps in ``body``; a longer one is cut (and says so)."""


def _clean(text: str, limit: int = 2000) -> str:
    return printable(excerpt(str(text), limit))


class ComfyControlError(Exception):
    """Base class of every error this SDK raises on purpose."""

    def __init__(self, message: str) -> None:
        message = _clean(message)
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only arguments that args alone cannot carry to __init__.
        return (_rebuild, (type(self), self.args), self.__dict__)


def _rebuild(cls: type[ComfyControlError], args: tuple[Any, ...]) -> ComfyControlError:
    return cls.__new__(cls, *args)  # BaseException.__new__ sets args; __init__ is not run


class APIConnectionError(ComfyControlError):
    """No HTTP answer arrived (refused, reset, dropped, DNS); ``method``/``url`` if known."""

    def __init__(
        self,
        message: str = "Connection error.",
        *,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = None if url is None else _clean(url)


class APITimeoutError(APIConnectionError):
    """The request did not complete within its timeout or deadline."""

    def __init__(
        self,
        message: str = "Request timed out.",
        *,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url)


class APIStatusError(ComfyControlError):
    """A non-2xx answer; ``message`` is the server's, else says what the raw ``body`` began with."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: str = "",
        request_id: str | None = None,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = excerpt(body, BODY_LIMIT)
        self.request_id = None if request_id is None else excerpt(request_id, 200)
        self.method = _clean(method, 20)
        self.url = _clean(url)
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method else ""
        rid = f" [request id {printable(self.request_id)}]" if self.request_id else ""
        return f"{self.status} {self.message}{where}{rid}"


class BadRequestError(APIStatusError):
    """400: the API rejected the request as invalid."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, unknown or expired. Make a new one in the dashboard."""


class PermissionDeniedError(APIStatusError):
    """403: a tier limit, or managed runners on a tier without them (they need Pro or Plus)."""


class NotFoundError(APIStatusError):
    """404: the object does not exist, or belongs to another account."""


class RateLimitError(APIStatusError):
    """429: the rate limit (40 requests per 10 s per IP) was exceeded; see ``retry_after``."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        body: str = "",
        request_id: str | None = None,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            body=body,
            request_id=request_id,
            method=method,
            url=url,
            retry_after=retry_after,
        )


class ServerError(APIStatusError):
    """5xx: the service failed, or could not reach the runner it asked."""


class ResponseValidationError(ComfyControlError):
    """A 2xx answer did not fit; ``path`` says where (``$.runners[3].created_at``)."""

    def __init__(self, message: str, *, path: str = "$", body: str = "") -> None:
        super().__init__(message)
        self.path = _clean(path)
        self.body = excerpt(body, BODY_LIMIT)


class PaginationError(ComfyControlError):
    """A list walk stopped; resume with ``start_page=next_page`` and ``per_page=per_page``."""

    def __init__(
        self, message: str, *, next_page: int, items_yielded: int, per_page: int | None = None
    ) -> None:
        super().__init__(message)
        self.next_page = next_page
        self.items_yielded = items_yielded
        self.per_page = per_page


class ListChangedError(PaginationError):
    """The list's ``total`` changed (``old_total`` to ``new_total``) under a ``strict`` walk."""

    def __init__(
        self,
        message: str,
        *,
        next_page: int,
        items_yielded: int,
        old_total: int,
        new_total: int,
        per_page: int | None = None,
    ) -> None:
        super().__init__(
            message, next_page=next_page, items_yielded=items_yielded, per_page=per_page
        )
        self.old_total = old_total
        self.new_total = new_total


class ClientClosedError(ComfyControlError, RuntimeError):
    """The client was used after ``aclose()``; make a new one."""


class RateLimitStoreError(ComfyControlError):
    """The rate-limit store failed (``on_store_error="raise"``); ``store``: its redacted URL."""

    def __init__(self, message: str, *, store: str) -> None:
        super().__init__(message)
        self.store = store


_STATUS_CLASSES: Final[dict[int, type[APIStatusError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def make_status_error(
    status: int,
    *,
    api_message: str | None,
    body: str,
    request_id: str | None = None,
    method: str = "",
    url: str = "",
    retry_after: float | None = None,
) -> APIStatusError:
    """The most specific :class:`APIStatusError`; ``api_message`` is a JSON error's, or ``None``."""
    if api_message:
        message = api_message
    elif body.strip():
        # Scrubbed before it is cut, so that no secret is left half-shown at the cut.
        shown = " ".join(excerpt(body, 200).split())
        message = f"HTTP {status} with a non-JSON body: {shown!r}"
    else:
        message = f"HTTP {status} with an empty body"
    cls = _STATUS_CLASSES.get(status, ServerError if status >= 500 else APIStatusError)
    return cls(
        message,
        status=status,
        body=body,
        request_id=request_id,
        method=method,
        url=url,
        retry_after=retry_after,
    )

"""What every model shares: the ``extra`` field, reprs that keep secrets out of logs, and
:class:`Page`, the envelope of every list."""

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

import attrs

from .._redact import REDACTED, redact_data, scrub_text

T = TypeVar("T")


def repr_extra(value: Mapping[str, Any]) -> str:
    """Values under credential-like keys hidden at any depth, known secrets in every string."""
    return scrub_text(repr(redact_data(value)))


def repr_signed_url(value: str) -> str:
    """A signed URL without its query string: the signature is a credential."""
    base, sep, _ = value.partition("?")
    return scrub_text(repr(base + ("?" + REDACTED if sep else "")))


def repr_argv(value: list[str] | None) -> str:
    return "None" if value is None else f"<{len(value)} arguments hidden>"


def repr_opaque_object(value: Mapping[str, Any]) -> str:
    """Only the size of a workflow graph: large, and it may hold API keys of custom nodes."""
    return f"<object with {len(value)} keys>"


def extra_field() -> Any:
    return attrs.field(factory=dict, repr=repr_extra, kw_only=True)


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list, ``{"<key>": [...], "total": N}``, newest first; iteration and ``len`` see
    its ``items``; ``page`` (1-based) and ``per_page`` are as asked, ``extra`` the other keys."""

    items: list[T]
    total: int
    page: int
    per_page: int
    extra: Mapping[str, Any] = extra_field()

    @property
    def has_next(self) -> bool:
        """Whether a later page may hold more items (``page * per_page < total``)."""
        return self.page * self.per_page < self.total

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

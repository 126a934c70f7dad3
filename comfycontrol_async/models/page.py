"""One page of a list endpoint, as ``comfycontrol_async._converter.decode_page`` builds it."""

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

import attrs

from ._base import extra_field

T = TypeVar("T")


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

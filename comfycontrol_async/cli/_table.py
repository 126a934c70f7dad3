"""Tables that answer at any width, and the plain forms of the same rows for scripts.

A table is a list of :class:`Column` and rows of cell strings. On a terminal the essential
columns (a runner's name and id, say) are never cut or wrapped; optional columns are left out,
least important first, until the rest fits; when even the essential ones do not fit, each row
becomes a short block (its essential head on one line, the other fields on the next), so
nothing is ever cut. Off a terminal the rows are tab-separated with a header (the ``gh``
convention): ``| grep NAME`` gives a whole row with a whole id.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Final

import attrs
from rich import box
from rich.console import Console, Group, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ._scrub import scrub

__all__ = ["Column", "render_table", "tsv_lines"]

_GAP: Final = 2  # spaces between columns


@attrs.frozen
class Column:
    """One column: its header, whether it always shows, and how it is aligned.

    Attributes:
        name: The header (in TSV: lower case, ``_`` for spaces and signs).
        essential: Always shown, never cut or wrapped.
        right: Right-aligned (figures).
        head: Part of a row's first line when rows become blocks (name and id).
    """

    name: str
    essential: bool = False
    right: bool = False
    head: bool = False


def _cell(value: str) -> str:
    return scrub(value)


def tsv_lines(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[str]:
    """A header and one line per row, tab-separated; tabs and newlines in values become spaces."""

    def field(value: str) -> str:
        return " ".join(_cell(value).split())

    header = "\t".join(re.sub(r"[^a-z0-9]+", "_", c.name.lower()).strip("_") for c in columns)
    return [header, *("\t".join(field(v) for v in row) for row in rows)]


def _table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], keep: Sequence[int], title: str | None
) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, _GAP // 2),
    )
    for i in keep:
        col = columns[i]
        table.add_column(col.name, no_wrap=True, justify="right" if col.right else "left")
    for row in rows:
        table.add_row(*(Text(_cell(row[i])) for i in keep))
    return table


def _blocks(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str | None, width: int
) -> RenderableType:
    """A short block per row: the head columns (name and id) on the first line, or one per line
    when together they are wider than the terminal; then the other fields, labelled."""
    heads = [i for i, c in enumerate(columns) if c.head]
    rest = [i for i, c in enumerate(columns) if not c.head]
    widths = {i: max(len(_cell(r[i])) for r in rows) for i in heads}
    together = sum(widths.values()) + _GAP * (len(heads) - 1) <= width
    parts: list[RenderableType] = [Text(title)] if title else []
    for row in rows:
        if together:
            parts.append(
                Text("  ".join(_cell(row[i]).ljust(widths[i]) for i in heads).rstrip(), "bold")
            )
        else:
            parts.extend(Text(_cell(row[i]), "bold") for i in heads)
        details = " · ".join(
            f"{columns[i].name}: {_cell(row[i])}" for i in rest if row[i] not in ("", "-")
        )
        parts.append(Text(f"  {details}"))
    return Group(*parts)


def _natural_width(table: Table) -> int:
    """How wide ``table`` is when nothing is cut (rich's own measure stops at the console)."""
    wide = Console(width=100_000, file=io.StringIO(), color_system=None)
    lines = wide.render_lines(table, wide.options, pad=False)
    return max((Segment.get_line_length(line) for line in lines), default=0)


def render_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
) -> tuple[RenderableType, list[str]]:
    """What to print for ``rows`` on ``console``, and the names of the columns left out.

    The choice depends only on the console's width, and a wider console never shows fewer
    columns than a narrower one.
    """
    width = console.width
    optional = [i for i, c in enumerate(columns) if not c.essential]
    keep = list(range(len(columns)))
    while True:
        if _natural_width(_table(columns, rows, keep, None)) <= width:
            hidden = [columns[i].name for i in range(len(columns)) if i not in keep]
            return _table(columns, rows, keep, title), hidden
        dropping = [i for i in reversed(optional) if i in keep]
        if not dropping:
            break
        keep.remove(dropping[0])
    shown = [i for i, c in enumerate(columns) if c.essential]
    hidden = [c.name for c in columns if not c.essential]
    block = _blocks(
        [columns[i] for i in shown], [[r[i] for i in shown] for r in rows], title, width
    )
    return block, hidden

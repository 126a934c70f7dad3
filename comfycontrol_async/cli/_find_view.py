"""``capacity --limit N``: up to N runners that fit, with the facts cache kept in a file.

``cc.find_runners`` spends a fraction of a sweep's requests; what makes it cheaper run after
run is its :class:`~comfycontrol_async.FactsCache` of runners' static facts, which this module
loads from and saves to a file in the user's cache directory (atomically; a damaged file is a
warning, and is replaced). The rows print as ``capacity`` prints its rows (table, TSV, JSON),
plus one line: requests spent, runners ruled out without asking, whether the answer is complete.
Also here: ``--format prometheus`` for both forms of ``capacity``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from rich.text import Text

from ..capacity import CapacityReport, FactsCache, FoundRunners
from ._capacity_view import Selection, cells, columns
from ._context import EXIT_API, EXIT_OK, EXIT_USAGE, CliError, Column, Ctx, usage_error
from ._scrub import scrub

__all__ = [
    "aside",
    "facts_path",
    "find",
    "load_facts",
    "need_prometheus",
    "print_prometheus",
    "save_facts",
    "search_line",
    "warn",
]

_EXTRA = "pip install 'comfycontrol-async[prometheus]'"


def warn(text: str) -> None:
    """``warning: text`` on stderr (even with --quiet: it is about the answer, not progress)."""
    sys.stderr.write(f"warning: {scrub(' '.join(text.split()))}\n")
    sys.stderr.flush()


def aside(ctx: Ctx, text: str) -> None:
    """A line that belongs with TSV rows but not among them: on stderr, unwrapped, unless
    --quiet (stdout holds only the rows)."""
    if not ctx.quiet:
        ctx.err.print(Text(scrub(text), style="dim"), soft_wrap=True)


# -- the facts cache file ---------------------------------------------------------------------


def facts_path(facts_cache: str | None, disabled: bool) -> Path | None:
    """Where the facts cache lives: ``--facts-cache``, else the XDG cache directory (an
    ``XDG_CACHE_HOME`` that is not absolute is ignored, as the XDG spec says); ``None`` when
    turned off."""
    if disabled:
        return None
    if facts_cache:
        return Path(facts_cache).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "comfycontrol" / "facts.json"


def load_facts(path: Path | None) -> FactsCache:
    """The cache in ``path`` (empty when missing); a damaged or unreadable file is a warning
    and an empty cache (the next save replaces it)."""
    if path is None:
        return FactsCache()
    try:
        return FactsCache.load(path)
    except OSError as err:
        warn(f"cannot read the facts cache {path}: {err.strerror or err}; going without it")
    except UnicodeDecodeError:  # a ValueError that does not name the file
        warn(f"{str(path)!r} is not a runner facts cache: not UTF-8 text; going without it")
    except ValueError as err:  # it names the file
        warn(f"{err}; going without it (it will be rewritten)")
    return FactsCache()


def save_facts(cache: FactsCache, path: Path | None) -> None:
    """Write the cache (atomically); a failure is a warning, the answer stands."""
    if path is None:
        return
    try:
        cache.save(path)
    except OSError as err:
        warn(f"could not save the facts cache {path}: {err.strerror or err}")


# -- prometheus -------------------------------------------------------------------------------


def need_prometheus(ctx: Ctx) -> None:
    """Stop before any request when the ``prometheus`` extra is missing (exit 2)."""
    import importlib.util

    if ctx.json:
        usage_error("--format prometheus and --json are two outputs: pick one")
    if importlib.util.find_spec("prometheus_client") is None:
        raise CliError(f"--format prometheus needs prometheus_client: {_EXTRA}", EXIT_USAGE)


def print_prometheus(report: CapacityReport) -> None:
    """The report in the Prometheus text format on stdout, scrubbed like every output."""
    sys.stdout.write(scrub(report.to_prometheus()))
    sys.stdout.flush()


# -- the search -------------------------------------------------------------------------------


async def find(ctx: Ctx) -> int:
    """``capacity --limit N``."""
    from .capacity import which_runners

    args = ctx.args
    if args.facts_cache and args.no_facts_cache:
        usage_error("--facts-cache and --no-facts-cache contradict each other")
    managed, own = which_runners(ctx)
    path = facts_path(args.facts_cache, args.no_facts_cache)
    cache = load_facts(path)
    options: dict[str, Any] = {}
    if args.concurrency is not None:
        options["concurrency"] = args.concurrency
    async with ctx.client() as cc:
        found = await cc.find_runners(
            managed=managed,
            own=own,
            cache=cache,
            min_vram_free=None if args.min_vram is None else args.min_vram.bytes,
            tags=args.tags or None,
            limit=args.limit,
            timeout=args.timeout_per_runner,
            deadline=args.deadline,
            **options,
        )
    save_facts(cache, path)
    selection = Selection(min_vram=args.min_vram, tags=args.tags, top=args.top)
    if args.format == "prometheus":
        print_prometheus(found.report())
    elif ctx.json:
        ctx.print_json(found_data(found, selection, limit=args.limit, path=path))
    else:
        print_found(ctx, found, selection, limit=args.limit)
    short = len(found.rows) < args.limit
    unsure = any(not row.ok for row in found.checked) or found.listing_errors
    return EXIT_API if short and unsure else EXIT_OK


def search_line(found: FoundRunners, limit: int) -> str:
    """Requests spent, runners ruled out without asking, and whether the answer is complete."""
    text = (
        f"{found.requests} requests; {len(found.checked)} runners read, "
        f"{len(found.ruled_out)} ruled out without asking; "
    )
    if found.complete:
        return text + "complete: every runner that could fit was read"
    if found.listing_errors:
        return text + "incomplete: " + "; ".join(found.listing_errors)
    return text + f"stopped at {limit}: other runners may fit too"


def found_data(
    found: FoundRunners, selection: Selection, *, limit: int, path: Path | None
) -> dict[str, Any]:
    """``capacity``'s JSON shape for a search: ``summary`` (of the runners read), ``runners``
    (the fitting ones, best first, then those that could not be read), ``selection`` (with
    ``limit``) and ``search`` (``FoundRunners.to_dict()`` without its rows, plus the cache)."""
    rows = list(found.rows[: selection.top])
    failed = [row for row in found.checked if not row.ok]
    runners = [{**row.to_dict(), "id": row.runner_id} for row in [*rows, *failed]]
    search = found.to_dict()
    del search["rows"]
    search["facts_cache"] = None if path is None else str(path)
    return {
        "summary": found.report().summary(),
        "runners": runners,
        "selection": {
            "min_vram_free": None if selection.min_vram is None else selection.min_vram.bytes,
            "tags": selection.tags,
            "top": selection.top,
            "limit": limit,
            "matched": len(found.rows),
        },
        "search": search,
    }


def print_found(ctx: Ctx, found: FoundRunners, selection: Selection, *, limit: int) -> None:
    """TSV rows (the runners that fit, then those that failed, with their error) and the search
    line on stderr; or the table, the failures under it and the search line."""
    unit = selection.unit
    rows = list(found.rows[: selection.top])
    failed = [row for row in found.checked if not row.ok]
    wanted = selection.describe() or "stats that could be read"
    empty = (
        f"No runner has {wanted} right now ({len(found.checked)} read, "
        f"{len(found.ruled_out)} ruled out)."
    )
    if not ctx.out.is_terminal:
        tsv_rows = [[*cells(r, unit), ""] for r in rows]
        tsv_rows += [[*cells(r, unit), r.error or ""] for r in failed]
        ctx.print_rows((*columns(unit), Column("error")), tsv_rows, empty=empty)
        aside(ctx, search_line(found, limit))
        return
    if rows:
        title = f"{len(found.rows)} runner(s) with {wanted} (up to {limit} asked), best first"
        if len(found.rows) > len(rows):
            title += f" (showing the first {len(rows)})"
        ctx.print_rows(columns(unit), [cells(r, unit) for r in rows], title=title, empty="")
    else:
        ctx.line(empty)
    if failed:
        ctx.line(f"{len(failed)} runner(s) could not be read:")
        for row in failed:
            ctx.line(f"  {row.name or '-'} ({row.kind} {row.runner_id}): {row.error}")
    ctx.line(search_line(found, limit))

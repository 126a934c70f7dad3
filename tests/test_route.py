"""report.route(): who ComfyControl may pick for a workflow's tags, checked against brute force.

The API docs: a workflow with tags runs only on a runner that has all of them; a runner with no tags
takes any workflow. The brute force below reads those two sentences literally, over every tag
set that can be built from the tags in the report.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from comfycontrol_async.capacity import CapacityReport, CapacityRow

UNIVERSE = ("a100", "h100", "managed", "pro", "video", "batch")


def row(i: int, tags: tuple[str, ...], free: int | None, ok: bool = True) -> CapacityRow:
    return CapacityRow(
        kind="managed",
        runner_id=f"r{i}",
        tags=tags,
        best_vram_free=free,
        error=None if ok else "500 unreachable",
        status=None if ok else 500,
    )


def brute_force(
    rows: list[CapacityRow], wanted: frozenset[str], need: int | None
) -> dict[str, object]:
    def eligible(tags: frozenset[str]) -> list[CapacityRow]:
        return [r for r in rows if not r.tags or tags <= set(r.tags)]

    def fits(r: CapacityRow) -> bool:
        return r.ok and (need is None or (r.best_vram_free or 0) >= need)

    here = eligible(wanted)
    good = [r for r in here if fits(r)]
    options = set()
    for size in range(len(UNIVERSE) + 1):
        for combo in itertools.combinations(UNIVERSE, size):
            tags = wanted | set(combo)
            picks = eligible(frozenset(tags))
            # A set worth naming: the request itself, or one a fitting tagged runner carries
            # (anything else adds tags no fitting runner has: only untagged ones take it).
            named = tags == wanted or any(r.tags and tags <= set(r.tags) and fits(r) for r in rows)
            if picks and named and all(fits(r) for r in picks):
                options.add((tuple(sorted(tags)), len(picks)))
    return {
        "eligible": {r.runner_id for r in here},
        "fitting": {r.runner_id for r in good},
        "share": len(good) / len(here) if here else 0.0,
        "untagged": sum(1 for r in here if not r.tags),
        "options": options,
    }


rows_strategy = st.lists(
    st.tuples(
        st.sets(st.sampled_from(UNIVERSE), max_size=4),
        st.one_of(st.none(), st.integers(0, 100)),
        st.booleans(),
    ),
    max_size=12,
).map(
    lambda specs: [
        row(i, tuple(sorted(tags)), free, ok=ok or free is None)
        for i, (tags, free, ok) in enumerate(specs)
    ]
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    rows=rows_strategy,
    wanted=st.sets(st.sampled_from(UNIVERSE), max_size=3).map(frozenset),
    need=st.one_of(st.none(), st.integers(0, 100)),
)
def test_route_matches_brute_force(
    rows: list[CapacityRow], wanted: frozenset[str], need: int | None
) -> None:
    advice = CapacityReport.from_rows(rows).route(tags=sorted(wanted), min_vram_free=need)
    expected = brute_force(rows, wanted, need)
    assert {r.runner_id for r in advice.eligible} == expected["eligible"]
    assert {r.runner_id for r in advice.fitting} == expected["fitting"]
    assert advice.share == expected["share"]
    assert advice.untagged == expected["untagged"]
    assert {(o.tags, o.runners) for o in advice.tag_sets} == expected["options"]
    lengths = [len(o.tags) for o in advice.tag_sets]
    assert lengths == sorted(lengths, reverse=True)  # most specific first
    assert len({o.tags for o in advice.tag_sets}) == len(advice.tag_sets)


def test_untagged_runners_that_do_not_fit_dilute_every_tag_set() -> None:
    rows = [
        row(0, ("managed", "h100"), 70),
        row(1, ("managed", "a100"), 10),
        row(2, (), 5),  # takes any workflow, and has no room
    ]
    advice = CapacityReport.from_rows(rows).route(tags=["h100"], min_vram_free="40GB")
    assert {r.runner_id for r in advice.eligible} == {"r0", "r2"}
    assert advice.fitting == ()  # 70 bytes is not 40 GB
    advice = CapacityReport.from_rows(rows).route(tags=["h100"], min_vram_free=40)
    assert [r.runner_id for r in advice.fitting] == ["r0"]
    assert advice.share == 0.5
    assert advice.untagged == 1
    assert advice.tag_sets == ()
    assert "untagged" in advice.warnings[0]


def test_tag_sets_name_the_routes_that_only_reach_fitting_runners() -> None:
    rows = [
        row(0, ("managed", "h100", "video"), 70),
        row(1, ("managed", "h100", "batch"), 10),
        row(2, ("managed", "a100"), 60),
    ]
    advice = CapacityReport.from_rows(rows).route(min_vram_free=40)
    assert advice.warnings == ()
    assert advice.share == 2 / 3
    assert [o.tags for o in advice.tag_sets] == [
        ("h100", "managed", "video"),
        ("a100", "managed"),
        ("h100", "video"),
        ("managed", "video"),
        ("a100",),
        ("video",),
    ]
    assert advice.to_dict()["tag_sets"][0] == {"tags": ["h100", "managed", "video"], "runners": 1}


def test_a_failed_runner_is_eligible_and_does_not_fit() -> None:
    rows = [row(0, ("h100",), 70), row(1, ("h100",), None, ok=False)]
    advice = CapacityReport.from_rows(rows).route(tags=["h100"])
    assert len(advice.eligible) == 2
    assert [r.runner_id for r in advice.fitting] == ["r0"]
    assert advice.tag_sets == ()

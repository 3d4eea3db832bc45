"""The API-independent store: sorted collections, cursors, tombstones, sampling."""

from __future__ import annotations

import random

import pytest
from cloudsources_sandbox.world import Collection, World


def make(n: int = 12) -> Collection:
    coll = Collection("things")
    # Three objects per second: ties must be broken by id.
    coll.load_sorted([{"id": f"t_{i:02d}", "created": 100 + i // 3} for i in range(n)])
    return coll


def ids(objs: list[dict]) -> list[str]:
    return [o["id"] for o in objs]


def test_newest_first_breaks_ties_by_id_desc():
    assert ids(list(make().newest_first())) == [f"t_{i:02d}" for i in range(11, -1, -1)]


def test_page_cursors_and_has_more():
    coll = make()
    page, more = coll.page(limit=5)
    assert ids(page) == ["t_11", "t_10", "t_09", "t_08", "t_07"] and more
    page, more = coll.page(limit=5, starting_after=coll.key_of("t_07"))
    assert ids(page) == ["t_06", "t_05", "t_04", "t_03", "t_02"] and more
    page, more = coll.page(limit=5, starting_after=coll.key_of("t_02"))
    assert ids(page) == ["t_01", "t_00"] and not more
    page, more = coll.page(limit=2, ending_before=coll.key_of("t_05"))
    assert ids(page) == ["t_07", "t_06"] and more
    page, more = coll.page(limit=9, ending_before=coll.key_of("t_05"))
    assert ids(page) == ["t_11", "t_10", "t_09", "t_08", "t_07", "t_06"] and not more


def test_page_time_bounds_and_predicate():
    coll = make()
    page, more = coll.page(limit=10, gte=101, lte=102)
    assert ids(page) == ["t_08", "t_07", "t_06", "t_05", "t_04", "t_03"] and not more
    page, more = coll.page(limit=2, where=lambda o: o["id"].endswith(("0", "5")))
    assert ids(page) == ["t_10", "t_05"] and more


def test_removed_ids_still_work_as_cursors():
    coll = make()
    coll.remove("t_06")
    assert coll.get("t_06") is None and "t_06" not in coll and len(coll) == 11
    page, _ = coll.page(limit=3, starting_after=coll.key_of("t_06"))
    assert ids(page) == ["t_05", "t_04", "t_03"]


def test_put_replaces_in_place_but_refuses_to_move_an_object():
    coll = make()
    coll.put({"id": "t_03", "created": 101, "name": "new"})
    assert coll.get("t_03") == {"id": "t_03", "created": 101, "name": "new"}
    assert len(coll) == 12
    with pytest.raises(ValueError):
        coll.put({"id": "t_03", "created": 999})
    coll.put({"id": "t_99", "created": 500})
    assert ids(coll.page(limit=1)[0]) == ["t_99"]


def test_sample_is_deterministic_and_finds_rare_objects():
    coll = make(500)
    pick = coll.sample(random.Random(3), lambda o: o["id"] == "t_321")
    assert pick is not None and pick["id"] == "t_321"
    assert coll.sample(random.Random(3), lambda o: False) is None
    a = coll.sample(random.Random(9), lambda o: True)
    assert a == coll.sample(random.Random(9), lambda o: True)


def test_spread_times_are_sorted_bounded_and_tied():
    times = World.spread_times(random.Random(1), 500, 1000, 100_000, 0.3)
    assert times == sorted(times) and times[0] >= 1000 and times[-1] <= 100_000
    assert len(times) - len(set(times)) > 100


def test_world_rng_depends_only_on_seed_and_parts():
    assert World(seed=4).rng("a", 1).random() == World(seed=4).rng("a", 1).random()
    assert World(seed=4).rng("a", 1).random() != World(seed=5).rng("a", 1).random()


def test_advance_validates_its_arguments():
    world = World(seed=1)
    with pytest.raises(ValueError):
        world.advance(changes=3, creates=1)
    with pytest.raises(ValueError):
        world.advance(seconds=-1)
    result = world.advance(seconds=60)  # no sources: only the clock moves
    assert result == {"clock": world.clock, "created": {}, "updated": {}, "deleted": {}}

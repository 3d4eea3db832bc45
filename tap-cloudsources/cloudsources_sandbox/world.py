"""The sandbox world: seeded objects, a sandbox clock, sorted stores and a change log.

Nothing here knows about a particular API. Each API plugs in a `Source` that fills its
collections at start-up and applies changes when the clock is advanced.
"""

from __future__ import annotations

import bisect
import gc
import random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# 2025-06-01T00:00:00Z. Fixed so that the same seed gives byte-identical data on every start.
SANDBOX_EPOCH = 1_748_736_000
DAY = 86_400

Obj = dict[str, Any]
SortKey = tuple[int, str]


class Collection:
    """Objects of one kind kept sorted by (time, id), which is the order every list API pages in.

    Objects are treated as immutable: an update stores a new dict under the same id, so a page
    or event snapshot taken earlier never changes under a reader's feet.
    """

    def __init__(self, name: str, time_key: str = "created") -> None:
        self.name = name
        self.time_key = time_key
        self._by_id: dict[str, Obj] = {}
        self._keys: list[SortKey] = []  # ascending
        # Deleted ids keep their sort key so a client paging with one as cursor can go on.
        self._tombstones: dict[str, SortKey] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, obj_id: object) -> bool:
        return obj_id in self._by_id

    def get(self, obj_id: str) -> Obj | None:
        return self._by_id.get(obj_id)

    def key_of(self, obj_id: str) -> SortKey | None:
        obj = self._by_id.get(obj_id)
        if obj is not None:
            return (obj[self.time_key], obj_id)
        return self._tombstones.get(obj_id)

    def put(self, obj: Obj) -> None:
        """Insert a new object or replace an existing one (its sort time must not change)."""
        obj_id = obj["id"]
        old = self._by_id.get(obj_id)
        key = (obj[self.time_key], obj_id)
        if old is None:
            bisect.insort(self._keys, key)
        elif old[self.time_key] != key[0]:
            raise ValueError(f"{self.name}: sort time of {obj_id} may not change")
        self._by_id[obj_id] = obj

    def load_sorted(self, objs: Sequence[Obj]) -> None:
        """Bulk insert for seeding: one sort instead of one insort per object."""
        for obj in objs:
            self._by_id[obj["id"]] = obj
        self._keys = sorted((o[self.time_key], i) for i, o in self._by_id.items())

    def remove(self, obj_id: str) -> Obj:
        obj = self._by_id.pop(obj_id)
        key = (obj[self.time_key], obj_id)
        del self._keys[bisect.bisect_left(self._keys, key)]
        self._tombstones[obj_id] = key
        return obj

    def newest_first(self) -> Iterator[Obj]:
        by_id = self._by_id
        for _, obj_id in reversed(self._keys):
            yield by_id[obj_id]

    def nth(self, index: int) -> Obj:
        """The index-th object in ascending order; lets callers sample in O(1)."""
        return self._by_id[self._keys[index][1]]

    def sample(
        self, rng: random.Random, accept: Callable[[Obj], bool], tries: int = 40
    ) -> Obj | None:
        """A random object passing `accept`: random probes first, then a scan so rare kinds are
        still found. Deterministic for a given rng state."""
        n = len(self._keys)
        if n == 0:
            return None
        for _ in range(tries):
            obj = self.nth(rng.randrange(n))
            if accept(obj):
                return obj
        start = rng.randrange(n)
        for i in range(n):
            obj = self.nth((start + i) % n)
            if accept(obj):
                return obj
        return None

    def page(
        self,
        *,
        limit: int,
        gte: int | None = None,
        lte: int | None = None,
        starting_after: SortKey | None = None,
        ending_before: SortKey | None = None,
        where: Callable[[Obj], bool] | None = None,
    ) -> tuple[list[Obj], bool]:
        """One newest-first page and whether more exist in the direction of travel.

        `starting_after` walks towards older objects, `ending_before` towards newer ones (the
        page itself is still newest first, as Stripe returns it).
        """
        keys = self._keys
        lo = 0 if gte is None else bisect.bisect_left(keys, (gte, ""))
        hi = len(keys) if lte is None else bisect.bisect_left(keys, (lte + 1, ""))
        if starting_after is not None:
            hi = min(hi, bisect.bisect_left(keys, starting_after))
        if ending_before is not None:
            lo = max(lo, bisect.bisect_right(keys, ending_before))
        by_id = self._by_id
        if ending_before is not None:
            indices: Iterator[int] = iter(range(lo, hi))
        else:
            indices = iter(range(hi - 1, lo - 1, -1))
        if where is None:
            picked = [by_id[keys[i][1]] for _, i in zip(range(limit + 1), indices, strict=False)]
        else:
            picked = []
            for i in indices:
                obj = by_id[keys[i][1]]
                if where(obj):
                    picked.append(obj)
                    if len(picked) > limit:
                        break
        has_more = len(picked) > limit
        picked = picked[:limit]
        if ending_before is not None:
            picked.reverse()
        return picked, has_more


@dataclass(frozen=True)
class Change:
    """One entry of the change log: what happened to which object, and when (sandbox time)."""

    seq: int
    at: int
    source: str
    collection: str
    kind: str  # "create" | "update" | "delete"
    id: str
    obj: Obj  # state after the change; the last state for a delete
    previous: Obj | None = None  # old values of the changed attributes, for updates


@dataclass
class Plan:
    """The changes one source must apply in one advance, inside the window (start, end]."""

    creates: int
    updates: int
    deletes: int
    start: int
    end: int


@dataclass
class ChangeSet:
    created: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[str, list[str]] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    # Changes that follow from these ones (a charge's payment intent, a refund's balance
    # transaction...): reported apart, so the asked-for counts stay exact.
    related: ChangeSet | None = None

    def add(self, kind: str, collection: str, obj_id: str) -> None:
        bucket = {"create": self.created, "update": self.updated, "delete": self.deleted}[kind]
        bucket.setdefault(collection, []).append(obj_id)


class Source(Protocol):
    """What one emulated API contributes to the world."""

    name: str

    def populate(self, world: World) -> None: ...

    def mutate(self, world: World, rng: random.Random, plan: Plan) -> ChangeSet: ...

    def act(self, world: World, actions: list[dict[str, Any]], t: int) -> list[Obj]:
        """Targeted changes ({"collection", "action", "id"?}); returns what was touched."""
        ...


# Share of each kind when the caller asks for `changes: N` without saying which.
CHANGE_MIX = (("create", 0.45), ("update", 0.42), ("delete", 0.13))


class World:
    """All sandbox state. Callers hold `lock` around any read or write."""

    def __init__(
        self,
        seed: int = 1,
        scale: float = 1.0,
        sources: Sequence[Source] = (),
        start: int = SANDBOX_EPOCH,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.seed = seed
        self.scale = scale
        # Seeded collections whose size is given outright instead of scaled (e.g. 100k
        # charges for a benchmark, without 166x every other collection).
        self.counts = dict(counts or {})
        self.clock = start
        self.lock = threading.RLock()
        self.changes: list[Change] = []
        self.sources: dict[str, Source] = {}
        self._stores: dict[str, dict[str, Collection]] = {}
        self._advances = 0
        # Seeding allocates ~100 dicts per object; cyclic GC passes over them are pure cost
        # (the data has no cycles), so pause GC and then freeze the survivors out of its way.
        # Collect first so that garbage lying around now is not frozen with them.
        gc.collect()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            for source in sources:
                self.sources[source.name] = source
                source.populate(self)
        finally:
            if was_enabled:
                gc.enable()
        gc.freeze()

    # -- helpers for sources ------------------------------------------------------------------
    def rng(self, *parts: object) -> random.Random:
        """An rng that depends only on the seed and `parts` (string seeds hash stably)."""
        return random.Random(":".join([str(self.seed), *map(str, parts)]))

    def count(self, base: int, name: str | None = None) -> int:
        if name is not None and name in self.counts:
            return self.counts[name]
        return max(1, round(base * self.scale))

    def collection(self, source: str, name: str, time_key: str = "created") -> Collection:
        stores = self._stores.setdefault(source, {})
        if name not in stores:
            stores[name] = Collection(name, time_key)
        return stores[name]

    def collections(self, source: str) -> dict[str, Collection]:
        return self._stores.get(source, {})

    def record(
        self,
        source: str,
        collection: str,
        kind: str,
        obj: Obj,
        at: int,
        previous: Obj | None = None,
    ) -> Change:
        change = Change(len(self.changes) + 1, at, source, collection, kind, obj["id"], obj,
                        previous)
        self.changes.append(change)
        return change

    @staticmethod
    def spread_times(
        rng: random.Random, n: int, start: int, end: int, tie_rate: float
    ) -> list[int]:
        """n sorted epoch seconds in [start, end]; about `tie_rate` of them repeat the previous
        second, because real accounts create several objects per second and clients must
        break those ties."""
        if end <= start:
            return [start] * n
        times = sorted(rng.randint(start, end) for _ in range(n))
        for i in range(1, n):
            if rng.random() < tie_rate:
                times[i] = times[i - 1]
        return times

    # -- advancing the world ------------------------------------------------------------------
    def advance(
        self,
        *,
        seconds: int = 3600,
        changes: int | None = None,
        creates: int | None = None,
        updates: int | None = None,
        deletes: int | None = None,
        actions: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Apply changes spread over the next `seconds` of sandbox time, then move the clock.
        `actions` are targeted changes applied at the end of the window."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        explicit = (creates, updates, deletes)
        if changes is not None and any(v is not None for v in explicit):
            raise ValueError("give either changes or creates/updates/deletes, not both")
        self._advances += 1
        rng = self.rng("advance", self._advances)
        if changes is not None:
            if changes < 0:
                raise ValueError("changes must be >= 0")
            kinds = rng.choices([k for k, _ in CHANGE_MIX], [w for _, w in CHANGE_MIX], k=changes)
            counts = {k: kinds.count(k) for k, _ in CHANGE_MIX}
        else:
            counts = {"create": creates or 0, "update": updates or 0, "delete": deletes or 0}
            if min(counts.values()) < 0:
                raise ValueError("counts must be >= 0")
        start, end = self.clock, self.clock + seconds
        result = ChangeSet()
        related = ChangeSet()
        names = list(self.sources)
        for i, name in enumerate(names):
            # Split the counts evenly (and deterministically) between the APIs.
            share = {k: v // len(names) + (1 if i < v % len(names) else 0)
                     for k, v in counts.items()}
            plan = Plan(share["create"], share["update"], share["delete"], start, end)
            part = self.sources[name].mutate(self, rng, plan)
            for attr in ("created", "updated", "deleted"):
                for coll, ids in getattr(part, attr).items():
                    getattr(result, attr).setdefault(coll, []).extend(ids)
                for coll, ids in getattr(part.related or ChangeSet(), attr).items():
                    getattr(related, attr).setdefault(coll, []).extend(ids)
        touched: list[Obj] = []
        for action in actions or []:
            source = self.sources.get(str(action.get("source", "stripe")))
            if source is None:
                raise ValueError(f"no source {action.get('source')!r}")
            touched.extend(source.act(self, [action], end))
        self.clock = end
        out: dict[str, Any] = {
            "clock": self.clock,
            "created": result.created,
            "updated": result.updated,
            "deleted": result.deleted,
        }
        if related.created or related.updated or related.deleted:
            out["related"] = {"created": related.created, "updated": related.updated,
                              "deleted": related.deleted}
        if actions is not None:
            out["actions"] = touched
        return out

"""Guards every paginator needs: a cursor seen twice is a loop, a record seen on the previous
page is a duplicate from a shifting page boundary."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from tap_cloudsources.errors import CollectionError


class PaginationLoop(CollectionError):
    """The API handed back a cursor, next-page URL or start time it had already given."""


class LoopGuard:
    def __init__(self, source: str, collection: str, what: str = "cursor") -> None:
        self._seen: set[Hashable] = set()
        self._source = source
        self._collection = collection
        self._what = what

    def check(self, token: Hashable) -> None:
        if token in self._seen:
            raise PaginationLoop(
                f"{self._source}: {self._collection}: pagination loop: the API returned the "
                f"{self._what} {token!r} a second time; stopped instead of reading forever"
            )
        self._seen.add(token)


class BoundaryDeduper:
    """Drops records whose id appeared on the page before (lists that shift while we page)."""

    def __init__(self) -> None:
        self._previous: set[Hashable] = set()
        self.dropped = 0

    def page(self, records: Iterable[dict], key: str = "id") -> list[dict]:
        page = list(records)
        fresh = [r for r in page if r.get(key) not in self._previous]
        self.dropped += len(page) - len(fresh)
        self._previous = {r.get(key) for r in page}
        return fresh

"""What a run did, per collection: records, API calls, retries, time, errors.

It feeds three outputs: progress lines while a collection runs, the summary table on stderr at
the end, and the `_sync_runs` record, so the warehouse keeps the run history Segment shows.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

logger = logging.getLogger("tap-cloudsources.progress")

RUN_STATUSES = ("success", "partial", "failed", "access_denied", "killed", "quota_exhausted")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class CollectionMeter:
    name: str
    records: int = 0
    calls: int = 0
    retries: int = 0
    status: str = "pending"  # pending → running → ok | failed
    error: str | None = None
    started: float | None = None
    ended: float | None = None
    progress_every: float = 5.0
    _last_progress: float = field(default=0.0, repr=False)

    @property
    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def start(self) -> None:
        self.status = "running"
        if self.started is None:  # a child collection starts with its parent, then again
            self.started = self._last_progress = time.monotonic()

    def finish(self, error: str | None = None) -> None:
        self.ended = time.monotonic()
        self.status = "failed" if error else "ok"
        self.error = error

    def tick(self, source: str) -> None:
        """Log a progress line every few seconds while the collection runs."""
        now = time.monotonic()
        if now - self._last_progress >= self.progress_every:
            self._last_progress = now
            rate = self.records / max(self.seconds, 1e-9)
            logger.info(
                "progress %s/%s: %d records, %d API calls (%d retries), %.0f records/s",
                source, self.name, self.records, self.calls, self.retries, rate,
            )

    def as_record(self) -> dict:
        return {
            "collection": self.name,
            "status": self.status,
            "records": self.records,
            "api_calls": self.calls,
            "retries": self.retries,
            "duration_seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass
class RunReport:
    source: str
    progress_every: float = 5.0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: str = field(default_factory=utc_now)
    ended_at: str | None = None
    status: str = "running"
    error: str | None = None
    exit_code: int | None = None
    collections: dict[str, CollectionMeter] = field(default_factory=dict)
    _started: float = field(default_factory=time.monotonic, repr=False)

    def meter(self, name: str) -> CollectionMeter:
        if name not in self.collections:
            self.collections[name] = CollectionMeter(name, progress_every=self.progress_every)
        return self.collections[name]

    @property
    def failed(self) -> list[CollectionMeter]:
        return [m for m in self.collections.values() if m.status == "failed"]

    def conclude(self, status: str | None = None, error: str | None = None) -> str:
        """Settle the run's status from the collections unless an overall one is given."""
        if status is None:
            failed = self.failed
            ok = [m for m in self.collections.values() if m.status == "ok"]
            status = "success" if not failed else ("partial" if ok else "failed")
        for meter in self.collections.values():
            if meter.status == "pending":  # the run stopped before reaching it
                meter.status = "skipped"
        self.status = status
        self.error = error
        self.ended_at = utc_now()
        for meter in self.collections.values():
            if meter.status == "running":
                meter.finish(error or status)
        return status

    def as_record(self) -> dict:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "exit_code": self.exit_code,
            "error": self.error,
            "records": sum(m.records for m in self.collections.values()),
            "api_calls": sum(m.calls for m in self.collections.values()),
            "collections": [m.as_record() for m in self.collections.values()],
        }

    def print_summary(self, stream: TextIO = sys.stderr) -> None:
        seconds = time.monotonic() - self._started
        width = max([28, *(len(name) + 2 for name in self.collections)])
        lines = [
            f"cloudsources run {self.run_id[:12]} · {self.source} · {self.status}"
            f" (exit {self.exit_code}) in {seconds:.1f}s",
            f"  {'collection':<{width}}{'status':<9}{'records':>9}{'calls':>7}{'retries':>9}"
            f"{'seconds':>9}  error",
        ]
        for m in self.collections.values():
            lines.append(
                f"  {m.name:<{width}}{m.status:<9}{m.records:>9}{m.calls:>7}{m.retries:>9}"
                f"{m.seconds:>9.1f}  {m.error or ''}"
            )
        if self.error:
            lines.append(f"  run error: {self.error}")
        stream.write("\n".join(lines) + "\n")
        stream.flush()


SYNC_RUNS_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "run_id": {"type": "string"},
        "source": {"type": ["null", "string"]},
        "started_at": {"type": ["null", "string"], "format": "date-time"},
        "ended_at": {"type": ["null", "string"], "format": "date-time"},
        "status": {"type": ["null", "string"], "enum": [None, *RUN_STATUSES]},
        "exit_code": {"type": ["null", "integer"]},
        "error": {"type": ["null", "string"]},
        "records": {"type": ["null", "integer"]},
        "api_calls": {"type": ["null", "integer"]},
        "collections": {
            "type": ["null", "array"],
            "items": {
                "type": "object",
                "properties": {
                    "collection": {"type": "string"},
                    "status": {"type": "string"},
                    "records": {"type": "integer"},
                    "api_calls": {"type": "integer"},
                    "retries": {"type": "integer"},
                    "duration_seconds": {"type": "number"},
                    "error": {"type": ["null", "string"]},
                },
            },
        },
    },
    "required": ["run_id"],
}

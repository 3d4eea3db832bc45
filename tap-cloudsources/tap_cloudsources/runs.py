"""The `_sync_runs` stream: one record per run, whatever its outcome, written directly by the
tap at the end of the run (or by the watchdog when it kills one)."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime

from singer_sdk import Stream
from singer_sdk.singerlib import RecordMessage

from tap_cloudsources.client import SourceSchemaMessage
from tap_cloudsources.engine.report import SYNC_RUNS_SCHEMA, RunReport

SYNC_RUNS = "_sync_runs"


class SyncRunsStream(Stream):
    """In the catalog so it can be deselected; never synced like a collection."""

    name = SYNC_RUNS
    primary_keys: t.ClassVar[list[str]] = ["run_id"]

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap=tap, schema=SYNC_RUNS_SCHEMA)

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        return iter(())

    def messages(self, report: RunReport, source: str) -> list:
        return [
            SourceSchemaMessage(SYNC_RUNS, SYNC_RUNS_SCHEMA, ["run_id"], None, source=source),
            RecordMessage(stream=SYNC_RUNS, record=report.as_record(),
                          time_extracted=datetime.now(UTC)),
        ]

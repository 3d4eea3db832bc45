"""The parts of WarehouseSink for typed records (fastdecode.py) and for converting a batch
while the previous one loads (a failed load puts the batch back in the buffers)."""

from __future__ import annotations

from bisect import bisect_right
from itertools import repeat
from operator import attrgetter
from typing import Any

from target_warehouse.errors import annotate
from target_warehouse.fastdecode import materialize
from target_warehouse.reader import line_error
from target_warehouse.types import LogicalType

_time_extracted = attrgetter("time_extracted")
_version = attrgetter("version")


class TypedBatches:
    """Mixed into WarehouseSink; uses its buffers (see WarehouseSink._reset_buffers)."""

    _records: list[Any]
    _lines: list[int]
    _raw_lines: list[bytes | None]
    _extracted: list[Any]
    _received: list[float]
    _versions: list[Any]
    _typed_count: int
    _total_records_read: int
    _batch_records_read: int
    _metadata: bool
    _limit: int
    _all_keys: tuple[str, ...]
    first_pending_line: int | None
    typed: Any
    fast_records: Any = None  # the reader's typed path to this sink (made by the target)
    columns: list[Any]
    _target: Any

    def accept_typed(
        self, envelopes: list[Any], raw: list[Any], numbers: list[int], received: float
    ) -> bool:
        """accept() for a run of lines the typed decoder took (checked per batch, see
        fastdecode), with their input line numbers; True when the batch is full."""
        count = len(envelopes)
        if self.first_pending_line is None:
            self.first_pending_line = numbers[0]
        self._records += envelopes
        self._lines += numbers
        self._raw_lines += raw
        if self._metadata:
            self._extracted += map(_time_extracted, envelopes)
            self._received += repeat(received, count)
            self._versions += map(_version, envelopes)
        self._typed_count += count
        self._total_records_read += count
        size = self._batch_records_read = self._batch_records_read + count
        return size >= self._limit

    def forget_read_after(self, line: int) -> int:
        """Drop the buffered records read after input line ``line``; how many were."""
        lines = self._lines
        keep = bisect_right(lines, line)  # buffered in input order
        dropped = len(lines) - keep
        if not dropped:
            return 0
        buffers = [self._records, self._lines, self._raw_lines]
        if self._metadata:
            buffers += [self._extracted, self._received, self._versions]
        for buffer in buffers:
            del buffer[keep:]
        self._typed_count = len(self._raw_lines) - self._raw_lines.count(None)
        self._batch_records_read -= dropped
        self._total_records_read -= dropped
        if not self._records:
            self.first_pending_line = None
        return dropped

    def room(self) -> int:
        """How many more records the current batch takes before it is full (at least 1)."""
        return max(1, self._limit - self._batch_records_read)

    def _typed_columns(
        self, context: dict, raw_json: bool, encoded: set[str]
    ) -> dict[str, list[Any]] | None:
        """A batch of typed records, column-wise, when every check of it is sure."""
        records = context["records"]
        if self.typed is None or context.get("typed") != len(records):
            return None
        json_props = {c.source for c in self.columns if c.schema_type is LogicalType.JSON}
        raw = self.typed.columns(records, json_props if raw_json else set(), encoded)
        if raw is None or not all(None not in raw[key] for key in self._all_keys):
            return None  # not sure: the record-by-record path finds the first bad one
        return raw

    def _as_dicts(self, context: dict) -> list[dict]:
        """The batch's records as dicts (typed ones decoded again from their lines)."""
        records: list[Any] = context["records"]
        if not context.get("typed"):
            return records
        for i, line in enumerate(context["raw_lines"]):
            if line is not None:
                try:
                    records[i], extracted, version = materialize(line)
                except ValueError as exc:  # e.g. invalid UTF-8 inside a value kept as read
                    error = line_error(line, exc)
                    annotate(error, context["lines"][i], self.stream_name)
                    raise error from None
                if self._metadata:
                    context["extracted"][i], context["versions"][i] = extracted, version
        return records

    def _settle(self, saved: dict) -> None:
        """Wait for the load in flight; if it failed, put this batch back and raise."""
        try:
            self._target.pipeline.wait()
        except BaseException:
            self._put_back(saved)
            raise

    def _put_back(self, context: dict) -> None:
        """The previous load failed: this batch stays buffered (and unsaved), as it was."""
        if self._records:  # pragma: no cover - nothing is read between drain and load
            return
        self._records, self._lines = context["records"], context["lines"]
        self._extracted, self._received = context["extracted"], context["received"]
        self._versions, self._raw_lines = context["versions"], context["raw_lines"]
        self._typed_count = context["typed"]
        if self._raw_lines and any(line is not None for line in self._raw_lines):
            self._as_dicts(context)  # typed entries back to dicts, as accept() stores them
            self._typed_count = 0
            self._raw_lines = [None] * len(self._records)

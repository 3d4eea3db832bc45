"""The stream base every source builds on, and the tap's locked Singer writer.

A collection is a `CloudSourcesStream` subclass with a name, a path and a schema file; the
source's base class says how to read pages (`read`). Requests go through the tap's one
`HttpClient`; bookmarks are the stream's own (written at page boundaries, so a killed run
resumes near where it stopped), not singer-sdk's per-record progress markers.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from importlib import resources

import msgspec
from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import Message, RecordMessage, SchemaMessage, StateMessage
from singer_sdk.singerlib.encoding.base import GenericSingerWriter

from tap_cloudsources.errors import CollectionError, redact

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_cloudsources.engine.http import HttpClient
    from tap_cloudsources.engine.report import CollectionMeter

logger = logging.getLogger("tap-cloudsources")


@dataclass(slots=True)
class SourceSchemaMessage(SchemaMessage):
    """A SCHEMA message that also names the source, so the target can pick the warehouse
    schema (`stripe`, `zendesk`, …) without configuration. Other targets ignore the key."""

    source: str | None = None


def _encode_other(value: t.Any) -> t.Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


_ENCODER = msgspec.json.Encoder(enc_hook=_encode_other, decimal_format="number")


class LockedWriter(GenericSingerWriter[bytes, Message]):
    """Whole lines only, from any thread; remembers the last STATE (the last safe one).

    RECORD lines stay in the stdout buffer; every other message flushes it, so a STATE never
    reaches the target before the records it covers, and records cost no syscall each."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.last_state_line: bytes | None = None

    def serialize_message(self, message: Message) -> bytes:
        return _ENCODER.encode(message.to_dict()) + b"\n"

    def write_message(self, message: Message) -> None:
        line = self.serialize_message(message)
        with self.lock:
            if isinstance(message, StateMessage):
                # Kept as the exact line (the state dict keeps changing), and before the
                # write: a signal handler may run the moment the line is out.
                self.last_state_line = line
            sys.stdout.buffer.write(line)
            if not isinstance(message, RecordMessage):
                sys.stdout.flush()

    def write_record(self, message: dict) -> None:
        """A RECORD message as a plain dict (the streams' fast path); buffered like any."""
        line = _ENCODER.encode(message) + b"\n"
        with self.lock:
            sys.stdout.buffer.write(line)

    def repeat_last_state(self) -> None:
        """Write the last STATE again (the watchdog's and a signal's last word)."""
        with self.lock:
            if self.last_state_line is not None:
                sys.stdout.buffer.write(self.last_state_line)
                sys.stdout.flush()


class CloudSourcesStream(Stream):
    """Shared by all sources. Subclasses set `source`, `schema_package` and `name`."""

    source: t.ClassVar[str]
    schema_package: t.ClassVar[str]
    primary_keys: t.ClassVar[list[str]] = ["id"]
    # Nested objects reach the warehouse exactly as the API sent them (JSON columns), so only
    # top-level properties are conformed to the schema.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap=tap, schema=self.load_schema())

    @classmethod
    def load_schema(cls) -> dict:
        text = resources.files(cls.schema_package).joinpath(f"{cls.name}.json").read_text()
        return json.loads(text)

    @property
    def client(self) -> HttpClient:
        return self._tap.client

    def read(self, meter: CollectionMeter) -> Iterator[dict]:
        """Yield the collection's records; call `checkpoint()` at safe points."""
        raise NotImplementedError

    def get_records(self, context: Context | None) -> Iterator[dict]:
        meter = self._tap.report.meter(self.name)
        meter.start()
        try:
            for record in self.read(meter):
                meter.records += 1
                yield record
                meter.tick(self.source)
        except CollectionError as exc:
            # This collection failed; its bookmark stays where it was and the run goes on.
            message = redact(str(exc), *self._tap.secrets)
            meter.finish(message)
            logger.error("%s", message)
            return
        meter.finish()

    def _write_record_message(self, record: dict) -> None:
        """The fast path when no stream map or property selection applies (the usual case):
        records keep the API's own JSON types, so only unknown top-level keys are dropped,
        and the line is encoded straight from the record (no message object per record)."""
        if not self._plain_records:
            super()._write_record_message(record)
            return
        if not self._known_properties.issuperset(record):  # no set built per record
            unknown = record.keys() - self._known_properties
            for key in unknown:
                del record[key]
            if not self._warned_unknown:
                self._warned_unknown = True
                logger.warning("%s: ignoring properties not in the schema: %s", self.name,
                               ", ".join(sorted(unknown)))
        # The same line as singer-sdk's RecordMessage.to_dict() would give.
        message: dict[str, t.Any] = {"type": "RECORD", "stream": self.name, "record": record}
        if self._stream_version is not None:
            message["version"] = self._stream_version
        message["time_extracted"] = datetime.now(UTC)
        self._tap.message_writer.write_record(message)
        self.state_manager.is_flushed = False

    def _process_record(self, record: dict, child_context: Context | None = None,
                        partition_context: Context | None = None) -> None:
        """singer-sdk's per-record hook syncs its own child streams and partition keys; our
        collections have neither (children are read by their parents), so it is skipped."""
        if self.child_streams or partition_context:
            super()._process_record(record, child_context, partition_context)

    @cached_property
    def _plain_records(self) -> bool:
        maps = self.stream_maps
        every_property = all(self.mask.get(("properties", name), True)
                             for name in self.schema["properties"])
        return (len(maps) == 1 and type(maps[0]) is SameRecordTransform
                and maps[0].stream_alias == self.name and every_property)

    @cached_property
    def _known_properties(self) -> frozenset[str]:
        return frozenset(self.schema["properties"])

    _warned_unknown = False

    def checkpoint(self) -> None:
        """Emit STATE now. Safe because every record yielded before it has been written:
        a generator resumes only after its consumer handled the previous record."""
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _increment_stream_state(self, latest_record: dict, *, context: Context | None = None
                                ) -> None:
        """Bookmarks move in `read`, over complete pages only, never per record."""

    def _generate_schema_messages(self) -> t.Generator[SchemaMessage, None, None]:
        for message in super()._generate_schema_messages():
            yield SourceSchemaMessage(
                message.stream,
                message.schema,
                message.key_properties,
                message.bookmark_properties,
                source=self.source,
            )

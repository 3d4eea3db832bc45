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
from importlib import resources

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import Message, SchemaMessage, StateMessage
from singer_sdk.singerlib.encoding import SimpleSingerWriter

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


class LockedWriter(SimpleSingerWriter):
    """Whole lines only, from any thread; remembers the last STATE (the last safe one)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()
        self.last_state: dict | None = None

    def write_message(self, message: Message) -> None:
        with self.lock:
            sys.stdout.write(self.format_message(message) + "\n")
            sys.stdout.flush()
            if isinstance(message, StateMessage):
                self.last_state = message.value


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

"""The Singer input reader: numbered lines, fast JSON, one clear error per bad line.

Lines are read as bytes and parsed straight from bytes with msgspec (about 4x the
stdlib parser; floats become Decimal so numbers stay exact, as in singer-sdk); without
msgspec installed the stdlib parser is used. Text is UTF-8 whatever the locale, and a
decoding error is pinned to its own line.

The loop is the hot path of the whole target (one pass per input line), so it does
the least it can: blank lines are only looked for when a line fails to parse, RECORD
messages skip the generic dispatch, and the cyclic garbage collector is paused while
it runs (decoded records are acyclic and buffered by the thousand: each automatic
collection would walk all of them; sinks collect the young generations per batch).
Lines the typed decoder takes (see fastdecode.py) are handed on in runs of consecutive
lines, not one by one: a run ends before any other line, when the sink's batch is full
and when it is RUN_SECONDS old, so a STATE after them, or a slow trickle of records,
finds them in the sink exactly as if each had been handed on as it was read.
"""

from __future__ import annotations

import decimal
import gc
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_warehouse.errors import InputError, annotate

try:
    import msgspec

    _decode: Callable[[str | bytes], Any] = msgspec.json.Decoder(float_hook=decimal.Decimal).decode
    _DECODE_ERRORS: tuple[type[Exception], ...] = (msgspec.DecodeError,)
except ImportError:  # pragma: no cover - msgspec is a dependency; keep working without it

    def _decode(line: str | bytes) -> Any:
        return json.loads(line, parse_float=decimal.Decimal)

    _DECODE_ERRORS = (json.JSONDecodeError, UnicodeDecodeError)

RUN_SECONDS = 0.5  # a run of typed lines waits at most this long to reach its sink
_STREAM_IN_RAW_LINE = re.compile(r'"stream"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _stream_of(message: Any, line: str | bytes | None) -> str | None:
    """The stream a line is about, even when the line is not valid JSON."""
    if isinstance(message, dict):
        stream = message.get("stream")
        return stream if isinstance(stream, str) else None
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    found = _STREAM_IN_RAW_LINE.search(line or "")
    return found.group(1) if found else None


@dataclass
class FastRecords:
    """The typed path of one stream: how its lines decode and where runs of them go."""

    stream: str
    decode: Callable[[Any], Any]  # one line -> a typed record, or a decoding error
    accept: Callable[[list[Any], list[Any], int], None]  # (records, lines, first line)
    room: Callable[[], int]  # how many more records the sink's batch takes (at least 1)


class LineTrackingReader(SingerReader):
    """Singer reader that numbers input lines so every error can name its line and stream."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self.on_failure: Callable[[BaseException], None] | None = None
        # The typed path of the stream whose RECORDs came last (fastdecode.py): a line it
        # decodes joins the current run of typed lines; any other line (a decoding or
        # checking failure included) ends the run and takes the generic path below.
        self.fast: FastRecords | None = None

    @property
    def default_input(self) -> Iterator[bytes] | IO[str]:  # type: ignore[override]
        buffer = getattr(sys.stdin, "buffer", None)
        return sys.stdin if buffer is None else buffer

    def process_lines(
        self,
        file_input: IO[str] | Iterator[str] | None,
        callbacks: dict[str, Callable[[dict], None]],
    ) -> Counter[str]:
        stats: Counter[str] = Counter()
        records = 0
        decode = _decode
        on_record = callbacks.get("RECORD")
        line: str | bytes | None = None
        message: Any = None
        # the current run of typed lines: decoded records, their lines, the first line's
        # number, how many more fit, and when the run must be handed on at the latest
        run: list[Any] = []
        run_lines: list[Any] = []
        run_from = room = 0
        deadline = 0.0
        monotonic = time.monotonic

        def hand_on() -> None:
            nonlocal records
            fast = self.fast
            assert fast is not None
            records += len(run)
            reached = self.line_number
            self.line_number = last = run_from + len(run) - 1
            try:
                fast.accept(run, run_lines, run_from)  # copied by the sink
            except Exception as exc:
                annotate(exc, last, fast.stream)  # not the line that ended the run
                raise
            finally:
                self.line_number = reached
                run.clear()
                run_lines.clear()

        collecting = gc.isenabled()
        gc.disable()
        try:
            for line in file_input or self.default_input:
                self.line_number += 1
                message = None
                fast = self.fast
                if fast is not None:
                    try:
                        typed = fast.decode(line)
                    except _DECODE_ERRORS:
                        pass
                    else:
                        if not run:
                            run_from, room = self.line_number, fast.room()
                            deadline = monotonic() + RUN_SECONDS
                        run.append(typed)
                        run_lines.append(line)
                        if len(run) >= room or monotonic() >= deadline:
                            hand_on()
                        continue
                if run:
                    hand_on()
                try:
                    message = decode(line)
                except _DECODE_ERRORS:
                    if not line.strip():
                        continue
                    self.deserialize_json(line)  # raises the clear error for this line
                kind = message.get("type") if type(message) is dict else None
                if kind == "RECORD" and on_record is not None:
                    on_record(message)
                    records += 1
                    continue
                callback = callbacks.get(kind) if isinstance(kind, str) else None
                if callback is None:
                    raise InputError(f"unknown message type {kind!r}")
                callback(message)
                stats[kind] += 1
            if run:
                hand_on()
        except Exception as exc:
            annotate(exc, self.line_number, _stream_of(message, line))
            if self.on_failure is not None:
                self.on_failure(exc)
            raise
        finally:
            if records:
                stats["RECORD"] += records
            if collecting:
                gc.enable()
        return stats

    def deserialize_json(self, line: str | bytes) -> dict:  # type: ignore[override]
        try:
            return _decode(line)  # type: ignore[no-any-return]
        except _DECODE_ERRORS as exc:
            if isinstance(line, bytes):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError("line is not valid UTF-8") from None
            raise InvalidInputLine(f"malformed JSON: {exc}") from None

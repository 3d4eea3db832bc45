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
Lines a stream's typed decoder takes (see fastdecode.py) are handed on in runs, one per
stream, not one by one; streams whose lines interleave each keep their own run. All runs
are handed on, oldest first, before any other line, when one of them fills its sink's
batch, and when they are RUN_SECONDS old, so a STATE after them, or a slow trickle of
records, finds them in their sinks exactly as if each had been handed on as it was read.
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

# Bytes read from stdin at a time, at most (a read returns what a pipe holds, so a slow
# tap's lines are not held back); nothing reads stdin before the reader does.
_READ_BUFFER = 1 << 20
RUN_SECONDS = 0.5  # a run of typed lines waits at most this long to reach its sink
_STREAM_IN_RAW_LINE = re.compile(r'"stream"\s*:\s*"((?:[^"\\]|\\.)*)"')
_STREAM_NAME = re.compile(rb'"stream"\s*:\s*"([^"\\]*)"')  # a name without escapes
_MISS = object()  # no typed path took the line


def _nothing(item: Any) -> None:  # pragma: no cover - replaced before any use
    raise AssertionError("no run to add to")


def _stream_of(message: Any, line: str | bytes | None) -> str | None:
    """The stream a line is about, even when the line is not valid JSON."""
    if isinstance(message, dict):
        stream = message.get("stream")
        return stream if isinstance(stream, str) else None
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    found = _STREAM_IN_RAW_LINE.search(line or "")
    return found.group(1) if found else None


@dataclass(eq=False)
class FastRecords:
    """The typed path of one stream: how its lines decode and where runs of them go."""

    stream: str
    decode: Callable[[Any], Any]  # one line -> a typed record, or a decoding error
    accept: Callable[[list[Any], list[Any], list[int]], None]  # records, lines, line numbers
    room: Callable[[], int]  # how many more records the sink's batch takes (at least 1)


class _Runs:
    """Typed lines read but not yet handed to their sinks, per stream, in input order."""

    def __init__(self) -> None:
        # path -> (typed records, their lines, their line numbers, how many fit)
        self.by_path: dict[FastRecords, tuple[list[Any], list[Any], list[int], int]] = {}
        self.deadline = 0.0

    def of(self, path: FastRecords) -> tuple[list[Any], list[Any], list[int], int]:
        """The run of a path (a new one if it has none), to append a line to each list."""
        run = self.by_path.get(path)
        if run is None:
            if not self.by_path:
                self.deadline = time.monotonic() + RUN_SECONDS
            run = self.by_path[path] = ([], [], [], path.room())
        return run

    def hand_on(self, reader: LineTrackingReader) -> int:
        """Every run to its sink, oldest first; how many records that was."""
        count, reached = 0, reader.line_number
        runs = sorted(self.by_path.items(), key=lambda item: item[1][2][0])
        self.by_path = {}
        try:
            for path, (typed, lines, numbers, _) in runs:
                count += len(typed)
                reader.line_number = numbers[-1]
                try:
                    path.accept(typed, lines, numbers)
                except Exception as exc:
                    annotate(exc, numbers[-1], path.stream)  # not the line that ended the run
                    raise
        finally:
            reader.line_number = reached
        return count


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
        # Another stream's typed path, by name, for a line the current one did not take.
        self.fast_for: Callable[[str], FastRecords | None] | None = None

    @property
    def default_input(self) -> Iterator[bytes] | IO[str]:  # type: ignore[override]
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:
            return sys.stdin
        try:  # stdin's own 8 KB buffer: a read (and a GIL release) per ~10 lines
            return open(sys.stdin.fileno(), "rb", buffering=_READ_BUFFER, closefd=False)
        except (OSError, ValueError):  # no file descriptor (a test's stand-in)
            return buffer  # type: ignore[no-any-return]

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
        runs = _Runs()
        monotonic = time.monotonic
        # The run the last typed line joined, its lists' appends kept at hand: the loop
        # below is the hot path (one pass per line), so a line of the same stream as the
        # last one costs one decode, three appends and a clock read.
        current: FastRecords | None = None
        add_typed = add_line = add_number = _nothing
        run: list[Any] = []
        room = 0
        number = self.line_number
        collecting = gc.isenabled()
        gc.disable()
        try:
            for line in file_input or self.default_input:
                number += 1
                message = None
                fast = self.fast
                typed = _MISS
                if fast is not None:
                    try:
                        typed = fast.decode(line)
                    except _DECODE_ERRORS:
                        typed = _MISS
                if typed is _MISS and self.fast_for is not None:
                    other = self._typed_path_of(line, fast)
                    if other is not None:
                        try:
                            typed = other.decode(line)
                        except _DECODE_ERRORS:
                            typed = _MISS
                        else:  # streams take turns: try this one first from now on
                            self.fast = fast = other
                if typed is not _MISS:
                    if fast is not current:  # another stream's run (or a new one)
                        run, lines, numbers, room = runs.of(fast)  # type: ignore[arg-type]
                        add_typed, add_line, add_number = run.append, lines.append, numbers.append
                        current = fast
                    add_typed(typed)
                    add_line(line)
                    add_number(number)
                    if len(run) >= room or monotonic() >= runs.deadline:
                        self.line_number = number
                        records += runs.hand_on(self)
                        current = None
                    continue
                self.line_number = number
                if runs.by_path:
                    records += runs.hand_on(self)
                    current = None
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
            self.line_number = number
            if runs.by_path:
                records += runs.hand_on(self)
        except Exception as exc:
            self.line_number = number
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

    def _typed_path_of(self, line: str | bytes, current: FastRecords | None) -> FastRecords | None:
        """The typed path of the stream a line names, other than the current one."""
        assert self.fast_for is not None
        if isinstance(line, bytes):
            found = _STREAM_NAME.search(line)
            name = found.group(1).decode("utf-8", "replace") if found else None
        else:
            text = _STREAM_IN_RAW_LINE.search(line)
            name = text.group(1) if text and "\\" not in text.group(1) else None
        if name is None or (current is not None and name == current.stream):
            return None  # its own decoder already said no: the generic path says why
        return self.fast_for(name)

    def deserialize_json(self, line: str | bytes) -> dict:  # type: ignore[override]
        try:
            return _decode(line)  # type: ignore[no-any-return]
        except _DECODE_ERRORS as exc:
            raise line_error(line, exc) from None


def line_error(line: str | bytes, exc: Exception) -> Exception:
    """The clear error for a line the JSON decoder rejected."""
    if isinstance(line, bytes):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return InputError("line is not valid UTF-8")
    return InvalidInputLine(f"malformed JSON: {exc}")

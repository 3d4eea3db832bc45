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
"""

from __future__ import annotations

import decimal
import gc
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
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


class LineTrackingReader(SingerReader):
    """Singer reader that numbers input lines so every error can name its line and stream."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self.on_failure: Callable[[BaseException], None] | None = None
        # (typed decode, handler) for the stream whose RECORDs came last (fastdecode.py):
        # a line it decodes goes straight to the handler; any other line (a decoding
        # or checking failure included) takes the generic path below.
        self.fast: tuple[Callable[[bytes], Any], Callable[[Any, bytes], None]] | None = None

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
        collecting = gc.isenabled()
        gc.disable()
        try:
            for line in file_input or self.default_input:
                self.line_number += 1
                message = None
                fast = self.fast
                if fast is not None:
                    try:
                        typed = fast[0](line)
                    except _DECODE_ERRORS:
                        pass
                    else:
                        fast[1](typed, line)
                        records += 1
                        continue
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

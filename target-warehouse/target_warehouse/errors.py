"""Errors the target reports as one line (no traceback) before exiting with code 1."""

from __future__ import annotations

from singer_sdk.exceptions import MissingKeyPropertiesError, SingerSDKError
from singer_sdk.singerlib.exceptions import SingerError


class TargetError(Exception):
    """An expected failure: bad input, bad config, or a database that said no."""


class InputError(TargetError):
    """A Singer message the target cannot accept (unknown type, null key, bad record)."""


class MissingKeyError(InputError, MissingKeyPropertiesError):
    """A record without a value for a key property (also the SDK's own error type)."""


class WarehouseConnectionError(TargetError):
    """The warehouse cannot be reached or opened. The message never holds a password."""


class LoadError(TargetError):
    """The database rejected DDL or a batch load."""


_MAX_MESSAGE = 400  # SDK messages may embed a whole record; keep the line readable

# Exceptions that mean "the input or the environment is wrong", never "the code is".
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (TargetError, SingerError, SingerSDKError)


def redact(text: str, *secrets: str | None) -> str:
    """Replace every given secret in text; collapse to one line."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())


def annotate(exc: BaseException, line: int, stream: str | None) -> None:
    """Remember which input line (and stream) an error came from."""
    if getattr(exc, "input_line", None) is None:
        exc.input_line = line  # type: ignore[attr-defined]
        exc.input_stream = stream  # type: ignore[attr-defined]
        where = f" (stream {stream!r})" if stream else ""
        exc.add_note(f"while processing input line {line}{where}")


def describe(exc: BaseException) -> str:
    """The one line shown to the user."""
    text = " ".join((str(exc) or type(exc).__name__).split())
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "..."
    if isinstance(exc, WarehouseConnectionError):
        return text  # not about any input line
    line = getattr(exc, "input_line", None)
    if line is None:
        return text
    stream = getattr(exc, "input_stream", None)
    where = f"input line {line}" + (f", stream {stream!r}" if stream else "")
    return f"{where}: {text}"

"""Record validation compiled once per schema: ~100x faster than the SDK's jsonschema path.

Plain schemas (what taps send) get a generated checker (fastcheck.py); anything else
goes to fastjsonschema, and what that cannot compile to the reference jsonschema.

Formats are not checked here (the SDK does not either); date-time values are parsed
column-wise when the batch is written, where an unparseable value is handled by setting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema

try:
    import fastjsonschema
except ImportError:  # pragma: no cover - a declared dependency; plain schemas never need it
    fastjsonschema = None

from target_warehouse.errors import InputError
from target_warehouse.fastcheck import Violation, compile_plain


def _field(path: list[str] | None, name: str) -> str:
    parts = list(path or [])[1:]  # drop fastjsonschema's leading "data"
    return ".".join(str(p) for p in parts) if parts else name.removeprefix("data")


def violation_error(exc: Violation) -> InputError:
    """The InputError for a Violation raised by a generated checker."""
    where = f"field {exc.path!r} " if exc.path else ""
    return InputError(
        f"record does not match the schema: {where}{exc.rule} (got {exc.value!r:.80})"
    )


def compile_validator(schema: dict[str, Any]) -> Callable[[dict], None]:
    """A function raising InputError naming the field when a record breaks the schema.

    For plain schemas it is the generated checker itself, which raises Violation: the
    caller turns that into InputError with violation_error (one call less per record).
    """
    plain = compile_plain(schema)
    if plain is not None:
        return plain

    compiled = None
    if fastjsonschema is not None:
        try:
            compiled = fastjsonschema.compile(schema, use_formats=False, use_default=False)
        except (fastjsonschema.JsonSchemaDefinitionException, ValueError, TypeError, KeyError):
            compiled = None  # a schema fastjsonschema cannot compile: the reference validator
    if compiled is not None:

        def validate(record: dict) -> None:
            try:
                compiled(record)
            except fastjsonschema.JsonSchemaValueException as exc:
                field = _field(exc.path, exc.name)
                rule = exc.message.removeprefix(exc.name).strip()
                where = f"field {field!r} " if field else ""
                raise InputError(
                    f"record does not match the schema: {where}{rule} (got {exc.value!r:.80})"
                ) from None

        return validate

    checker = jsonschema.validators.validator_for(schema)(schema)

    def validate_slow(record: dict) -> None:
        try:
            checker.validate(record)
        except jsonschema.ValidationError as exc:
            field = ".".join(str(p) for p in exc.absolute_path)
            where = f"field {field!r}: " if field else ""
            raise InputError(f"record does not match the schema: {where}{exc.message}") from None

    return validate_slow

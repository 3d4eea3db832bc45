"""Table planning: what DDL a table needs to take a stream, and how NUL is removed.

Columns are only ever added or widened, never dropped or narrowed, so stored values
survive every schema change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from target_warehouse.backends import ColumnSpec, TableChange, TableState
from target_warehouse.types import LogicalType, widen

# A JSON \u0000 escape that is not itself an escaped backslash followed by "u0000".
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


@dataclass(frozen=True)
class Column:
    source: str  # property name in the record
    name: str  # warehouse column name
    schema_type: LogicalType  # what the stream's JSON Schema says


def plan_table(
    state: TableState | None,
    columns: list[Column],
    keys: tuple[str, ...],
    use_primary_key: bool,
) -> tuple[TableChange, dict[str, LogicalType]]:
    """DDL needed for a table to take this stream, and each column's resulting type.

    Columns are added, widened (integer -> number -> text) but never dropped or
    narrowed; columns the stream no longer sends are left in place.
    """
    wanted = {c.name: c.schema_type for c in columns}
    if state is None:
        create = [ColumnSpec(name, lt) for name, lt in wanted.items()]
        return TableChange(create=create, primary_key=keys if use_primary_key else None), wanted
    change = TableChange()
    effective: dict[str, LogicalType] = {}
    for name, lt in wanted.items():
        if name not in state.columns:
            change.add.append(ColumnSpec(name, lt))
            effective[name] = lt
            continue
        current = state.columns[name]
        if current is None:  # a type we did not create: leave the column alone
            effective[name] = lt
            continue
        effective[name] = widen(current, lt)
        if effective[name] != current:
            change.retype.append(ColumnSpec(name, effective[name]))
    if use_primary_key and state.primary_key != keys:
        change.primary_key = keys
    return change, effective


def strip_nul(values: list[Any], is_json: bool) -> tuple[list[Any], int]:
    """Remove U+0000 from text (or its \\u0000 escape from JSON text); count removals."""
    needle = "\\u0000" if is_json else "\x00"
    try:
        if needle not in "".join(filter(None, values)):  # one C-level scan for the usual case
            return values, 0
    except TypeError:
        pass  # non-text values mixed in: check one by one
    removed = 0
    out = []
    for v in values:
        if isinstance(v, str) and needle in v:
            if is_json:
                v, n = _JSON_NUL.subn(r"\1", v)
            else:
                n = v.count("\x00")
                v = v.replace("\x00", "")
            removed += n
        out.append(v)
    return out, removed

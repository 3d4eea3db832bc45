"""Segment-style warehouse naming for schemas, tables and columns.

Rules (applied in this order):
  1. camelCase is split into snake_case (``firstName`` -> ``first_name``,
     ``HTTPServer`` -> ``http_server``);
  2. every run of characters that are not letters, digits or ``_`` (space, ``-``,
     ``.``, ``:``, ``$``...) becomes ``_``, runs of ``_`` collapse to one;
  3. lowercase;
  4. a reserved SQL word or a name starting with a digit gets a leading ``_``;
  5. a name over the identifier limit (PostgreSQL: 63 bytes) is cut and given a
     stable hash suffix, so the same input always yields the same name.

Because rule 2 collapses underscores, a generated name never contains ``__``: the
backends use ``__``-names for their own staging columns without risk of a clash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1; applied to DuckDB too for portability

# PostgreSQL reserved key words plus DuckDB's reserved ones (duckdb_keywords()).
_RESERVED = """
    all analyse analyze and any array as asc asymmetric authorization binary both case cast
    check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user
    default deferrable desc describe distinct do else end except false fetch for foreign
    freeze from full grant group having ilike in initially inner intersect into is isnull
    join lambda lateral leading left like limit localtime localtimestamp natural not notnull
    null offset on only or order outer overlaps pivot pivot_longer pivot_wider placing
    primary qualify references returning right select session_user show similar some
    summarize symmetric system_user table tablesample then to trailing true union unique
    unpivot user using variadic verbose when where window with
"""
RESERVED_WORDS = frozenset(_RESERVED.split())

_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")  # "HTTPServer" -> "HTTP_Server"
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")  # "firstName" -> "first_Name"
_NON_WORD = re.compile(r"[^\w]+")
_UNDERSCORES = re.compile(r"_{2,}")
_HASH_LEN = 8


def short_hash(text: str) -> str:
    """A short, stable digest used to tell names apart."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:_HASH_LEN]


def with_suffix(name: str, suffix: str, max_bytes: int) -> str:
    """``name_suffix``, with ``name`` cut on a character boundary to fit ``max_bytes``."""
    room = max_bytes - len(suffix) - 1
    head = name.encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip("_")
    return f"{head}_{suffix}"


def hashed_apart(plain: str, raw: str, taken: set[str], max_bytes: int) -> str:
    """``plain_<hash of raw>``, told apart from the names ``taken``: should that one be
    taken too (a source named like it), a hash of both."""
    name = with_suffix(plain, short_hash(raw), max_bytes)
    if name in taken:
        name = with_suffix(plain, short_hash(f"{raw}/{name}"), max_bytes)
    return name


def _fit(name: str, raw: str, max_bytes: int) -> str:
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    return with_suffix(name, short_hash(raw), max_bytes)


def normalize(raw: str, max_bytes: int = MAX_IDENTIFIER_BYTES) -> str:
    """Map one source name to a warehouse identifier (unquoted form)."""
    name = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", raw))
    name = _UNDERSCORES.sub("_", _NON_WORD.sub("_", name)).lower()
    if not name:
        name = "_"
    if name in RESERVED_WORDS or name[0].isdigit():
        name = f"_{name}"
    return _fit(name, raw, max_bytes)


def build_name_map(
    raw_names: Iterable[str], max_bytes: int = MAX_IDENTIFIER_BYTES
) -> dict[str, str]:
    """Map each raw name to a distinct warehouse name.

    When two raw names normalize to the same identifier (``firstName`` and
    ``first_name``), the raw name that already *is* that identifier keeps it; every
    other one gets ``_<hash of raw name>``. The outcome depends only on the names
    involved, never on their order, so it is stable from run to run.
    """
    wanted: dict[str, list[str]] = {}
    for raw in dict.fromkeys(raw_names):
        wanted.setdefault(normalize(raw, max_bytes), []).append(raw)

    result: dict[str, str] = {}
    taken = set(wanted)
    for name, raws in wanted.items():
        # The exact owner keeps the plain name; without one, the lexically first raw does.
        owner = name if name in raws else min(raws)
        for raw in raws:
            if raw == owner:
                result[raw] = name
                continue
            candidate = with_suffix(name, short_hash(raw), max_bytes)
            if candidate in taken:  # astronomically unlikely, but never emit a duplicate
                candidate = with_suffix(name, short_hash(f"{raw}/{name}"), max_bytes)
            taken.add(candidate)
            result[raw] = candidate
    return result


def keep_earlier_names(
    raw_names: Iterable[str],
    earlier: dict[str, str],
    max_bytes: int = MAX_IDENTIFIER_BYTES,
    reserved: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """build_name_map, where the names given out in earlier runs (``earlier``: raw ->
    name) stay with their raw names and are never given to another one, and a
    ``reserved`` name is only ever its own (the target's metadata columns).

    Without this, ``userId`` alone gets ``user_id``, and a later run that also has
    ``user_id`` gives that name to ``user_id``: the two would share one column.
    """
    raws = list(dict.fromkeys(raw_names))
    result = {raw: raw for raw in raws if raw in reserved}
    result.update({raw: earlier[raw] for raw in raws if raw in earlier and raw not in reserved})
    new = [raw for raw in raws if raw not in result]
    taken = set(earlier.values()) | reserved
    for raw, name in build_name_map(new, max_bytes).items():
        if name in taken:
            name = hashed_apart(normalize(raw, max_bytes), raw, taken, max_bytes)
        taken.add(name)
        result[raw] = name
    return result

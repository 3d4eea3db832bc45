"""The registry of sources: what `source` in the tap's config may name, and what the engine
needs to know about each (auth, error table, request budget, a cheap check request)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_cloudsources.engine.errors import ErrorPolicy


@dataclass(frozen=True)
class Source:
    name: str
    streams: list
    default_base_url: str
    errors: ErrorPolicy
    auth_headers: Callable[[Mapping[str, Any]], dict[str, str]]
    # (requests, per seconds) the API allows this account; the client stays under it.
    default_budget: Callable[[Mapping[str, Any]], tuple[float, float]]
    check_path: str  # one cheap authenticated request, for --test
    check_params: Mapping[str, Any] = field(default_factory=dict)
    required_settings: tuple[str, ...] = ()
    secret_settings: tuple[str, ...] = ()
    # Work done once per run before any collection (e.g. reading a shared change feed);
    # its result is `tap.prepared` for the collections to use.
    prepare: Callable[[Any], Any] | None = None


AVAILABLE = ("stripe",)


def load_source(name: str) -> Source:
    return importlib.import_module(f"tap_cloudsources.sources.{name}").SOURCE

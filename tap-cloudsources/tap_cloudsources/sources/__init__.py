"""The registry of sources: what `source` in the tap's config may name."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    name: str
    streams: list = field(default_factory=list)
    required_settings: tuple[str, ...] = ()


AVAILABLE = ("stripe",)


def load_source(name: str) -> Source:
    return importlib.import_module(f"tap_cloudsources.sources.{name}").SOURCE

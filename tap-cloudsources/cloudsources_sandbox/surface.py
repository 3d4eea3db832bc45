"""What every emulated API surface gives the HTTP app, and the response it returns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        # ensure_ascii=False: real APIs send UTF-8, and clients must cope with it.
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


class Surface(Protocol):
    """One API (Stripe, later Zendesk and Salesforce) mounted under a path prefix."""

    source: str
    prefix: str

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str]
    ) -> Response: ...

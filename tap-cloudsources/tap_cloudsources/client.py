"""The stream base every source builds on: one request path, one error mapping.

Sources subclass `CloudSourcesStream` once (auth, paginator, error-body parsing) and declare
their collections as a few class attributes on top of that.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

import requests
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import SchemaMessage
from singer_sdk.streams import RESTStream

from tap_cloudsources import __version__
from tap_cloudsources.errors import (
    AccessDenied,
    APIError,
    PermissionDenied,
    SourceUnreachable,
    redact,
)

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


@dataclass(slots=True)
class SourceSchemaMessage(SchemaMessage):
    """A SCHEMA message that also names the source, so the target can pick the warehouse
    schema (`stripe`, `zendesk`, …) without configuration. Other targets ignore the key."""

    source: str | None = None


# status → what it means for the run; anything else in 4xx is a plain API error.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class CloudSourcesStream(RESTStream):
    """Shared by all sources. Subclasses set `source`, `schema_package` and `name`."""

    source: t.ClassVar[str]
    schema_package: t.ClassVar[str]
    default_api_base_url: t.ClassVar[str]
    primary_keys: t.ClassVar[list[str]] = ["id"]
    # Nested objects go to the warehouse exactly as the API sent them (JSON columns), so
    # only top-level properties are conformed to the schema.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap=tap, schema=self.load_schema())

    @classmethod
    def load_schema(cls) -> dict:
        text = resources.files(cls.schema_package).joinpath(f"{cls.name}.json").read_text()
        return json.loads(text)

    @property
    def url_base(self) -> str:
        return (self.config.get("api_base_url") or self.default_api_base_url).rstrip("/")

    @property
    def timeout(self) -> int:
        return int(self.config.get("request_timeout", 60))

    @property
    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_retries", 5)) + 1

    def backoff_wait_generator(self) -> t.Generator[float, None, None]:
        # Full-jitter exponential backoff from 0.5 s, capped at 30 s.
        delay = 0.5
        while True:
            yield delay
            delay = min(delay * 2, 30.0)

    @cached_property
    def user_agent(self) -> str:
        return f"tap-cloudsources/{__version__}"

    # -- errors --------------------------------------------------------------------------

    def error_reason(self, response: requests.Response) -> str:
        """The API's own explanation, from its error body; sources override for their shape."""
        return response.reason or f"HTTP {response.status_code}"

    def _reason(self, response: requests.Response) -> str:
        return redact(self.error_reason(response), self.config.get("api_key"))

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status in RETRYABLE_STATUSES or status >= 500:
            raise RetriableAPIError(f"{status} {self._reason(response)}", response)
        if status == 401:
            raise AccessDenied(self.source, self._reason(response))
        if status == 403:
            raise PermissionDenied(self.source, self.name, self._reason(response))
        raise APIError(
            f"{self.source}: {self.name}: HTTP {status} from {response.request.path_url}: "
            f"{self._reason(response)}"
        )

    def request_decorator(self, func: t.Callable) -> t.Callable:
        retried = super().request_decorator(func)

        def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
            try:
                return retried(*args, **kwargs)
            except requests.exceptions.ConnectionError as exc:
                reason = exc.__class__.__name__
                if "Connection refused" in str(exc):
                    reason = "connection refused"
                elif "Name or service not known" in str(exc) or "resolve" in str(exc):
                    reason = "host name not found"
                raise SourceUnreachable(
                    f"cannot reach the {self.source} API at {self.url_base}: {reason}"
                ) from None

        return call

    # -- Singer --------------------------------------------------------------------------

    def _generate_schema_messages(self) -> t.Generator[SchemaMessage, None, None]:
        for message in super()._generate_schema_messages():
            yield SourceSchemaMessage(
                message.stream,
                message.schema,
                message.key_properties,
                message.bookmark_properties,
                source=self.source,
            )

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict:
        return {}

"""TapCloudSources: config, the choice of source, and the exit codes of the command line."""

from __future__ import annotations

import sys

import click
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_cloudsources.errors import CloudSourcesError, ConfigError, redact
from tap_cloudsources.sources import AVAILABLE, load_source


class TapCloudSources(Tap):
    """Singer tap for SaaS cloud sources; `source` picks which API to read."""

    name = "tap-cloudsources"
    package_name = "cloudsources"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "source",
            th.StringType,
            required=True,
            allowed_values=list(AVAILABLE),
            description="Which SaaS API to read: " + ", ".join(AVAILABLE) + ".",
        ),
        th.Property(
            "api_key",
            th.StringType,
            secret=True,
            description="Stripe secret or restricted key (sk_live_…, sk_test_…, rk_…).",
        ),
        th.Property(
            "api_base_url",
            th.StringType,
            description="API root; defaults to the real API (https://api.stripe.com). "
            "Point it at `cloudsources sandbox serve` to try the tap without credentials.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Earliest `created` time to read on the first sync (ISO 8601).",
        ),
        th.Property(
            "stripe_api_version",
            th.StringType,
            description="Pin Stripe's response shape (Stripe-Version header); default: "
            "the account's version.",
        ),
        th.Property("request_timeout", th.IntegerType, default=60,
                    description="Seconds to wait for a response before retrying."),
        th.Property("max_retries", th.IntegerType, default=5,
                    description="Retries of a failed request (429, 5xx, connection errors)."),
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError(_describe_config_errors(exc)) from None

    def discover_streams(self) -> list[Stream]:
        source = load_source(self.config["source"])
        missing = [key for key in source.required_settings if not self.config.get(key)]
        if missing:
            raise ConfigError(
                f"config error: missing setting {', '.join(repr(m) for m in missing)} "
                f"(required for source '{source.name}')"
            )
        return [stream_class(tap=self) for stream_class in source.streams]


def _describe_config_errors(exc: ConfigValidationError) -> str:
    messages = []
    for error in exc.errors:
        if "is not one of" in error:
            value = error.split(" is not one of ")[0]
            error = f"unknown source {value}; available: {', '.join(AVAILABLE)}"
        messages.append(error)
    return "config error: " + "; ".join(messages)


def main() -> None:
    """Run the singer-sdk command line; expected failures print one line and set the exit code."""
    try:
        exit_code = TapCloudSources.cli.main(
            args=sys.argv[1:], prog_name="tap-cloudsources", standalone_mode=False
        )
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CloudSourcesError as exc:
        _fail(str(exc), exc.exit_code)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(130)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)


def _fail(message: str, code: int) -> None:
    sys.stdout.flush()
    print(f"tap-cloudsources: {redact(message)}", file=sys.stderr, flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()

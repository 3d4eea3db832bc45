"""TapCloudSources: config, the choice of source, the run loop and its exit codes."""

from __future__ import annotations

import json
import os
import signal
import sys
import typing as t

import click
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.plugin_base import _ConfigInput

from tap_cloudsources import __version__
from tap_cloudsources.client import CloudSourcesStream, LockedWriter
from tap_cloudsources.engine.http import HttpClient, RetryPolicy
from tap_cloudsources.engine.ratelimit import RequestBudget
from tap_cloudsources.engine.report import RunReport
from tap_cloudsources.engine.watchdog import Watchdog
from tap_cloudsources.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_ERROR,
    EXIT_KILLED,
    EXIT_PARTIAL,
    EXIT_QUOTA,
    AccessDenied,
    CloudSourcesError,
    ConfigError,
    QuotaExhausted,
    redact,
)
from tap_cloudsources.runs import SYNC_RUNS, SyncRunsStream
from tap_cloudsources.sources import AVAILABLE, Source, load_source

EXIT_CODES = {"success": 0, "partial": EXIT_PARTIAL, "failed": EXIT_ERROR,
              "access_denied": EXIT_ACCESS_DENIED, "quota_exhausted": EXIT_QUOTA,
              "killed": EXIT_KILLED}


class TapCloudSources(Tap):
    """Singer tap for SaaS cloud sources; `source` picks which API to read."""

    name = "tap-cloudsources"
    package_name = "cloudsources"
    message_writer_class = LockedWriter

    config_jsonschema = th.PropertiesList(
        th.Property("source", th.StringType, required=True, allowed_values=list(AVAILABLE),
                    description="Which SaaS API to read: " + ", ".join(AVAILABLE) + "."),
        th.Property("api_key", th.StringType, secret=True,
                    description="Stripe secret or restricted key (sk_live_…, sk_test_…, rk_…)."),
        th.Property("api_base_url", th.StringType,
                    description="API root; defaults to the real API (https://api.stripe.com). "
                    "Point it at `cloudsources sandbox serve` to try the tap without "
                    "credentials."),
        th.Property("start_date", th.DateTimeType,
                    description="Earliest `created` time to read on the first sync (ISO 8601)."),
        th.Property("stripe_api_version", th.StringType,
                    description="Pin Stripe's response shape (Stripe-Version header); default: "
                    "the account's version."),
        th.Property("max_requests_per_second", th.NumberType,
                    description="Client-side request budget; default: the API's own limit "
                    "(Stripe: 25/s test keys, 100/s live keys)."),
        th.Property("request_timeout", th.NumberType, default=60,
                    description="Seconds to wait for a response (read timeout) before retrying."),
        th.Property("max_retries", th.IntegerType, default=8,
                    description="Retries of one request after 429, 5xx, resets, timeouts or "
                    "truncated bodies."),
        th.Property("max_retry_seconds", th.NumberType, default=600,
                    description="Upper bound on the time spent retrying one request."),
        th.Property("max_run_seconds", th.NumberType,
                    description="Watchdog: stop the run (exit 4) after this many seconds."),
        th.Property("stall_seconds", th.NumberType, default=900,
                    description="Watchdog: stop the run (exit 4) after this long without "
                    "progress (a stalled socket, an endless retry). 0 disables it."),
        th.Property("progress_seconds", th.NumberType, default=5,
                    description="Seconds between progress lines on stderr for a long "
                    "collection."),
    ).to_dict()

    # -- configuration -------------------------------------------------------------------

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError(_describe_config_errors(exc)) from None

    @property
    def source_def(self) -> Source:
        return load_source(self.config["source"])

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(str(self.config[k]) for k in self.source_def.secret_settings
                     if self.config.get(k))

    def discover_streams(self) -> list[Stream]:
        source = self.source_def
        missing = [key for key in source.required_settings if not self.config.get(key)]
        if missing:
            raise ConfigError(
                f"config error: missing setting {', '.join(repr(m) for m in missing)} "
                f"(required for source '{source.name}')"
            )
        return [*(cls(tap=self) for cls in source.streams), SyncRunsStream(tap=self)]

    def build_client(self, on_progress: t.Callable[[], None] = lambda: None) -> HttpClient:
        source = self.source_def
        requests, per = source.default_budget(self.config)
        if self.config.get("max_requests_per_second"):
            requests, per = float(self.config["max_requests_per_second"]), 1.0
        return HttpClient(
            source=source.name,
            base_url=self.config.get("api_base_url") or source.default_base_url,
            headers={**source.auth_headers(self.config),
                     "User-Agent": f"tap-cloudsources/{__version__}"},
            errors=source.errors,
            retry=RetryPolicy(
                max_retries=int(self.config.get("max_retries", 8)),
                max_retry_seconds=float(self.config.get("max_retry_seconds", 600)),
                read_timeout=float(self.config.get("request_timeout", 60)),
            ),
            budget=RequestBudget(requests, per),
            secrets=self.secrets,
            on_progress=on_progress,
        )

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        """Sync every selected collection; returns the exit code. See README: exit codes."""
        self.report = RunReport(self.source_def.name,
                                progress_every=float(self.config.get("progress_seconds", 5)))
        self.watchdog = Watchdog(
            max_run_seconds=self.config.get("max_run_seconds"),
            stall_seconds=self.config.get("stall_seconds", 900),
            on_kill=self._kill,
        )
        self.client = self.build_client(on_progress=self.watchdog.beat)
        # A child collection's own turn comes after its parent, which feeds it.
        collections = sorted((s for s in self.streams.values()
                              if isinstance(s, CloudSourcesStream) and s.selected),
                             key=lambda s: getattr(s, "parent_name", None) is not None)
        for stream in collections:
            self.report.meter(stream.name)
        status = error = None
        self.watchdog.start()
        try:
            self._reset_state_progress_markers()
            self._set_compatible_replication_methods()
            if self.state:
                self._state_writer.write_state(self.state)
            prepare = self.source_def.prepare
            self.prepared = prepare(self) if prepare else None
            for stream in collections:
                stream.sync()
                stream.finalize_state_progress_markers()
        except AccessDenied as exc:
            status, error = "access_denied", str(exc)
        except QuotaExhausted as exc:
            status, error = "quota_exhausted", str(exc)
        except CloudSourcesError as exc:
            status, error = "failed", str(exc)
        except BrokenPipeError:
            # Whatever read stdout (the target) has gone: nothing more can be delivered, and
            # the STATE it last received is the one it had committed.
            _discard_stdout()
            status, error = "failed", ("stdout was closed: the target stopped reading (did it "
                                       "exit? see its error); stopped")
        finally:
            self.watchdog.stop()
        if status is None and self.report.failed:
            error = (f"{len(self.report.failed)} of {len(self.report.collections)} collections "
                     "failed: " + "; ".join(m.error or m.name for m in self.report.failed))
        status = self.report.conclude(status, error and redact(error, *self.secrets))
        self.report.exit_code = EXIT_CODES[status]
        with self.message_writer.lock:
            self._emit_run_record()
        self.report.print_summary()
        if self.report.error:
            _say(self.report.error)
        return self.report.exit_code

    def _emit_run_record(self) -> None:
        runs = self.streams.get(SYNC_RUNS)
        if isinstance(runs, SyncRunsStream) and runs.selected:
            for message in runs.messages(self.report, self.source_def.name):
                self.message_writer.write_message(message)

    def _kill(self, reason: str) -> None:
        """Called from the watchdog thread: the main thread may be stuck in a socket read."""
        with self.message_writer.lock:  # held until exit: no half-written line, no more output
            # Directly, not through singer-sdk's de-duplicating StateWriter: the safe STATE is
            # repeated right before the run record, whatever came after it.
            self.message_writer.repeat_last_state()
            self.report.conclude("killed", f"killed: {reason}")
            self.report.exit_code = EXIT_KILLED
            self._emit_run_record()
            self.report.print_summary()
            _say(f"killed: {reason}; the last safe STATE was emitted")
            sys.stdout.flush()
            os._exit(EXIT_KILLED)

    def _handle_termination(self, signum: int, frame: t.Any) -> None:
        """SIGTERM / Ctrl-C during a run: a stopped run, reported like a killed one (exit 4)
        with the last safe STATE and its `_sync_runs` record, never a silent success."""
        if getattr(self, "report", None) is None or self.report.ended_at is not None:
            super()._handle_termination(signum, frame)
            return
        self._kill(f"stopped by {signal.Signals(signum).name}")

    def run_connection_test(self) -> bool:
        """One cheap authenticated request (singer-sdk's `--test`)."""
        self.report = RunReport(self.source_def.name)
        client = self.build_client()
        source = self.source_def
        client.get_json(source.check_path, source.check_params, self.report.meter("--test"))
        self.logger.info("connection test passed: %s accepted the credentials", source.name)
        return True

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        state: t.IO[str] | None = None,
        catalog: t.IO[str] | None = None,
    ) -> int:
        """singer-sdk's sync entry point, running our loop instead of `sync_all`."""
        super(Tap, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        tap = cls(
            config=config.config,
            state=None if state is None else json.load(state),
            catalog=None if catalog is None else json.load(catalog),
            parse_env_config=config.parse_env,
            validate_config=True,
        )
        return tap.run()


def _describe_config_errors(exc: ConfigValidationError) -> str:
    messages = []
    for error in exc.errors:
        if "is not one of" in error:
            value = error.split(" is not one of ")[0]
            error = f"unknown source {value}; available: {', '.join(AVAILABLE)}"
        messages.append(error)
    return "config error: " + "; ".join(messages)


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that what is still buffered (and the final flush at
    exit) cannot fail again on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _say(message: str) -> None:
    print(f"tap-cloudsources: {redact(message)}", file=sys.stderr, flush=True)


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
        sys.stdout.flush()
        _say(str(exc))
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(130)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)


if __name__ == "__main__":
    main()

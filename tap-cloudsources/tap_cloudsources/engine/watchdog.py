"""Stops a run that takes too long or stops making progress (a stalled socket, an endless
retry), from a thread the stuck main thread cannot block."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Watchdog:
    def __init__(
        self,
        *,
        max_run_seconds: float | None,
        stall_seconds: float | None,
        on_kill: Callable[[str], None],
        poll_seconds: float = 0.2,
    ) -> None:
        self.max_run_seconds = max_run_seconds or None
        self.stall_seconds = stall_seconds or None
        self._on_kill = on_kill
        self._poll = poll_seconds
        self._started = self._last_beat = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)

    def start(self) -> Watchdog:
        if self.max_run_seconds or self.stall_seconds:
            self._thread.start()
        return self

    def beat(self) -> None:
        """Progress was made (a response arrived, a page was emitted)."""
        self._last_beat = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            now = time.monotonic()
            if self.max_run_seconds and now - self._started > self.max_run_seconds:
                self._on_kill(f"run exceeded max_run_seconds={self.max_run_seconds:g}")
                return
            if self.stall_seconds and now - self._last_beat > self.stall_seconds:
                self._on_kill(f"no progress for stall_seconds={self.stall_seconds:g}")
                return

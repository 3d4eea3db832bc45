"""One batch load at a time on a worker thread, so the database works while input is read.

A flush hands its converted batch to :class:`LoadPipeline`; the load (COPY + INSERT on
PostgreSQL, Arrow scan + DELETE/INSERT on DuckDB, then COMMIT) runs on a worker thread
while the main thread goes on parsing and checking the next records. The database
spends most of that time outside Python (server process, DuckDB's own threads), so the
two overlap on a second core.

Rules that keep the target's guarantees:
  * at most one load is in flight, and every other use of the connection (DDL, the next
    load, ACTIVATE_VERSION, close) first waits for it: :meth:`LoadPipeline.wait`;
  * a load's error is raised by the next ``wait`` on the main thread, before the next
    flush takes any records out of a sink, so no buffered record is ever lost;
  * the input line of the oldest record in flight is known to the target, which holds
    back every STATE read after it until the load commits (and forever if it fails).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

# The load thread needs the GIL only briefly (between socket writes, to start the next
# statement), but with the default 5 ms switch interval it waits that long each time
# while the main thread parses: a load of 10k rows took twice as long as on its own.
SWITCH_INTERVAL = 0.0005


class LoadPipeline:
    def __init__(self, *, background: bool = True) -> None:
        self.background = background
        if background and sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Run job after the previous one (on the worker thread when background)."""
        self.wait()
        if not self.background:
            job()
            return

        def run() -> None:
            try:
                job()
            except BaseException as exc:  # re-raised on the main thread by wait()
                self._error = exc

        self._thread = threading.Thread(target=run, name="target-warehouse-load", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Block until no load is in flight; raise the error of a load that failed."""
        thread = self._thread
        if thread is not None:
            thread.join()
            self._thread = None
        error = self._error
        if error is not None:
            self._error = None
            raise error

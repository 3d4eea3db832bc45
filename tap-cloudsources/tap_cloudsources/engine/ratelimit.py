"""A client-side request budget per source, so the API throttles us as little as possible.

A token bucket: `requests` per `per_seconds`, refilled continuously. The client also pauses
the bucket when the server says to wait (429 hints, rate-limit headers at zero remaining).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestBudget:
    def __init__(
        self,
        requests: float,
        per_seconds: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests <= 0 or per_seconds <= 0:
            raise ValueError("a request budget needs a positive rate")
        self.rate = requests / per_seconds
        self.capacity = max(1.0, float(requests))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self) -> None:
        """Block until one request may be sent."""
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                wait = max(0.0, self._paused_until - now)
                # The epsilon keeps float rounding from turning a refill into endless tiny waits.
                if wait == 0.0 and self._tokens >= 1.0 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                if wait == 0.0:
                    wait = (1.0 - self._tokens) / self.rate
            self.waited_seconds += wait
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """The server asked for quiet: no request from this source for `seconds`."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

"""An in-process sandbox for tests and scripts.

    with SandboxServer(port=0, seed=1) as srv:
        requests.get(f"{srv.url}/v1/customers", auth=("sk_test_12345678", ""))
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType

from .app import Sandbox, SandboxHTTPServer, build_sandbox
from .world import World


class SandboxServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int = 1, scale: float = 1.0,
                 verbose: bool = False, counts: Mapping[str, int] | None = None) -> None:
        self.host, self.port, self.verbose = host, port, verbose
        self.sandbox: Sandbox = build_sandbox(seed=seed, scale=scale, counts=counts)
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def world(self) -> World:
        return self.sandbox.world

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("sandbox not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        # Binding and listening happen here, so connections are accepted once this returns.
        self._httpd = SandboxHTTPServer((self.host, self.port), self.sandbox, self.verbose)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
            name="cloudsources-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.stopping.set()  # cut injected stalls and latency short
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

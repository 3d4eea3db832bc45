"""The `cloudsources` command.

    cloudsources sandbox serve --host 127.0.0.1 --port 8765 --seed 1 [--scale 1.0]
        [--count charges=100000] [--verbose]
    cloudsources demo [--warehouse warehouse.duckdb] ...   (see cloudsources/demo.py)
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType


def _collection_count(text: str) -> tuple[str, int]:
    """`charges=100000` for --count: a seeded collection and a positive size."""
    from cloudsources_sandbox.stripe_source import BASE_COUNTS

    name, _, number = text.partition("=")
    if name not in BASE_COUNTS:
        raise argparse.ArgumentTypeError(
            f"{name!r} is not a seeded collection; one of: {', '.join(sorted(BASE_COUNTS))}")
    if not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {name}=N with N a positive integer")
    return name, int(number)


def _serve(args: argparse.Namespace) -> int:
    from cloudsources_sandbox.server import SandboxServer  # only this subcommand needs it

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    srv = SandboxServer(host=args.host, port=args.port, seed=args.seed, scale=args.scale,
                        verbose=args.verbose, counts=dict(args.count))
    # The seeded world lives as long as the server: keep the collector from walking it again
    # and again (at --scale 100 it is millions of objects, seconds of every request's time).
    gc.freeze()
    try:
        srv.start()
    except OSError as exc:
        print(f"cloudsources: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"sandbox listening on {srv.url}", flush=True)  # scripts parse this exact line
    try:
        while not stop.wait(0.2):  # a timeout keeps the main thread responsive to signals
            pass
    finally:
        srv.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cloudsources", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="the local API emulator")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = sandbox_commands.add_parser("serve", help="serve the emulated APIs over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--scale", type=float, default=1.0, help="multiplies object counts")
    serve.add_argument("--count", type=_collection_count, action="append", default=[],
                       metavar="COLLECTION=N",
                       help="seed exactly N objects of a collection (e.g. charges=100000) "
                       "instead of scaling it; repeatable")
    serve.add_argument("--verbose", action="store_true", help="log requests to stderr")
    serve.set_defaults(func=_serve)
    # Listed for --help only: main() hands `demo` its own argv (it has its own parser).
    commands.add_parser("demo", help="sandbox -> tap -> warehouse, then a summary",
                        add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:
        from cloudsources.demo import main as demo_main

        return int(demo_main(argv[1:]))
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

"""The `closedloop` console script. `closedloop local --port 8080` runs the local runtime until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def _local(args: argparse.Namespace) -> int:
    from .runtime import Runtime

    runtime = Runtime(host=args.host, port=args.port, ticker=not args.no_ticker, log_requests=not args.quiet)
    try:
        runtime.start()
    except OSError as error:
        print(f"closedloop local: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    width = max(len(name) for name in runtime.urls())
    print("closedloop local runtime (moto plays AWS; nothing leaves this machine)\n")
    for name, url in runtime.urls().items():
        print(f"  {name:<{width}}  {url}")
    print(f"\n  admin API key  {runtime.api_key}   (Authorization: Bearer {runtime.api_key})")
    print(
        "  scheduler      " + ("ticking on the runtime clock" if not args.no_ticker else "off (run schedules by hand)")
    )
    print(f'\n  move the clock:  curl -X POST {runtime.base_url}/_local/clock -d \'{{"now": "2026-03-02T08:00:00Z"}}\'')
    print("  Ctrl-C stops.\n", flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("\nstopping ...", file=sys.stderr)
    runtime.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="closedloop", description="closedloop developer tools")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run the whole system locally (moto, gateway, pump, scheduler)")
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=8080)
    local.add_argument("--no-ticker", action="store_true", help="do not fire schedules on their own")
    local.add_argument("--quiet", action="store_true", help="do not log each HTTP request")
    local.set_defaults(run=_local)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

"""The `closedloop` console script.

`closedloop local` runs the local runtime until Ctrl-C; `closedloop demo` tells the closed-loop story on it, and
with `--keep-running` leaves that runtime up so the links in the outbox it wrote can be clicked.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def exposure_refusal(host: str, expose: bool) -> str | None:
    """Why the runtime will not serve on `host`, or None when it may."""
    if expose or is_loopback(host):
        return None
    return (
        f"closedloop local: not serving on {host}: the /_local routes have no authentication, so anyone who can "
        "reach this port could read every mail in the outbox, move the clock and run the schedules. If that is "
        f"what you want, say so twice: --host {host} --expose"
    )


def _local(args: argparse.Namespace) -> int:
    from . import foreground
    from .runtime import Runtime

    refusal = exposure_refusal(args.host, args.expose)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    runtime = Runtime(
        host=args.host,
        port=args.port,
        ticker=not args.no_ticker,
        log_requests=not args.quiet,
        content_dir=args.content_dir,
    )
    if not foreground.started(runtime, "closedloop local"):
        return 2
    _print_banner(runtime, ticking=not args.no_ticker)
    foreground.serve_until_stopped(runtime)
    return 0


def _print_banner(runtime, *, ticking: bool) -> None:
    # The first line carries the bound URL (with --port 0 the only place to learn it); scripts read it there.
    print(f"closedloop local runtime at {runtime.base_url} (moto plays AWS; nothing leaves this machine)\n")
    urls = runtime.urls()
    width = max(len(name) for name in urls)
    for name, url in urls.items():
        print(f"  {name:<{width}}  {url}")
    print(f"\n  admin API key  {runtime.api_key}   (Authorization: Bearer {runtime.api_key})")
    print("  scheduler      " + ("ticking on the runtime clock" if ticking else "off (run schedules by hand)"))
    print(f'\n  move the clock:  curl -X POST {runtime.base_url}/_local/clock -d \'{{"now": "2026-03-02T08:00:00Z"}}\'')
    print("  Ctrl-C stops.\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    from . import demo
    from .runtime import REPO_ROOT

    parser = argparse.ArgumentParser(prog="closedloop", description="closedloop developer tools")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the whole system locally (moto, gateway, pump, scheduler)")
    local.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1; another host needs --expose too")
    local.add_argument("--expose", action="store_true", help="allow a --host other than loopback (no auth!)")
    local.add_argument("--port", type=int, default=8080, help="default 8080; 0 picks a free port")
    local.add_argument(
        "--content-dir",
        type=Path,
        default=REPO_ROOT,
        help="where templates/ and config/ are read from (default: this repository's own)",
    )
    local.add_argument("--no-ticker", action="store_true", help="do not fire schedules on their own")
    local.add_argument("--quiet", action="store_true", help="do not log each HTTP request")
    local.set_defaults(run=_local)

    story = commands.add_parser("demo", help="tell the closed-loop story on the local runtime (make demo)")
    demo.add_arguments(story)
    story.set_defaults(run=demo.run)

    from . import import_command

    csv_import = commands.add_parser("import", help="import a CSV file through the admin API (local or deployed)")
    import_command.add_arguments(csv_import)
    csv_import.set_defaults(run=import_command.run)

    from . import stats_command

    listing = commands.add_parser("campaigns", help="list campaigns with targeted and sent (local or deployed)")
    stats_command.add_campaigns_arguments(listing)
    listing.set_defaults(run=stats_command.run_campaigns)
    stats = commands.add_parser("stats", help="a campaign's statistics per stage and variant (local or deployed)")
    stats_command.add_stats_arguments(stats)
    stats.set_defaults(run=stats_command.run_stats)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

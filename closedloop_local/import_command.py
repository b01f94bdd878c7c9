"""`closedloop import FILE.csv`: import a CSV through the admin API of a local runtime or a deployed stack alike.

A file up to the API's limit is posted in the request body; a larger one is uploaded through the presigned URL the
API answers. Then the import's status is polled, with a progress bar, until it is done, and a table of its
counters and its first errors is printed. Exit codes: 0 done and no row failed; 1 done, but some rows failed
(they are listed); 2 the import could not be run (usage, connection, an HTTP error, no end in time).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from closedloop.imports import MAX_POSTED_BYTES, OUTCOMES

from .client import LocalClient
from .progress import Bar

ERRORS_SHOWN = 20


class CommandFailed(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the CSV file: a header row with email, then one row per person")
    parser.add_argument("--url", default=os.environ.get("CLOSEDLOOP_URL"), help="admin API base URL ($CLOSEDLOOP_URL)")
    parser.add_argument(
        "--key", default=os.environ.get("CLOSEDLOOP_API_KEY"), help="admin API key ($CLOSEDLOOP_API_KEY)"
    )
    parser.add_argument("--status", choices=("subscribed", "unsubscribed", "pending"), help="every row's status")
    parser.add_argument(
        "--consent-source", help="where and how these people agreed (required with --status subscribed)"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the import (default 3600)")


def run(args: argparse.Namespace) -> int:
    try:
        report = _import(args)
    except CommandFailed as failure:
        print(f"closedloop import: {failure}", file=sys.stderr)
        return 2
    print_report(report)
    return 1 if report["failed"] else 0


def _import(args: argparse.Namespace) -> dict:
    if not args.url or not args.key:
        raise CommandFailed("give the admin API's URL and key: --url/--key or CLOSEDLOOP_URL/CLOSEDLOOP_API_KEY")
    if not args.file.is_file():
        raise CommandFailed(f"no such file: {args.file}")
    client = LocalClient(args.url, args.key)
    query = {k: v for k, v in (("status", args.status), ("consent_source", args.consent_source)) if v}
    path = "/v1/imports" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    size = args.file.stat().st_size
    try:
        if size <= MAX_POSTED_BYTES:
            answer = _expect(client.request("POST", path, args.file.read_bytes(), headers={"Content-Type": "text/csv"}))
        else:
            answer = _expect(client.request("POST", path, {"upload": True}))
            _upload(answer["upload_url"], args.file, size)
        return _wait(client, answer["import_id"], args.timeout)
    except (urllib.error.URLError, OSError) as error:
        raise CommandFailed(f"cannot reach {args.url}: {getattr(error, 'reason', error)}") from error


def _expect(response) -> dict:
    if response.status != 202:
        body = response.json() if response.body.startswith(b"{") else {}
        raise CommandFailed(
            f"HTTP {response.status} {body.get('code', '')}: {body.get('message', response.body[:200])}"
        )
    return response.json()


def _upload(url: str, file: Path, size: int) -> None:
    with file.open("rb") as data:
        request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Length": str(size)})
        try:
            with urllib.request.urlopen(request, timeout=600) as answer:
                answer.read()
        except urllib.error.HTTPError as error:
            raise CommandFailed(f"the upload answered HTTP {error.code}: {error.read()[:200]!r}") from error


def _wait(client: LocalClient, import_id: str, timeout_s: float) -> dict:
    bar = Bar(f"importing {import_id}")
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            response = client.request("GET", f"/v1/imports/{import_id}")
            if response.status != 200:
                _expect(response)
            report = response.json()
            done = sum(report[outcome] for outcome in OUTCOMES)
            bar.show(done, report["rows"] if report["status"] != "queued" else 0)
            if report["status"] == "done":
                return report
            if time.monotonic() > deadline:
                raise CommandFailed(f"import {import_id} is still {report['status']} after {timeout_s:.0f} s")
            time.sleep(0.5)
    finally:
        bar.end()


def print_report(report: dict) -> None:
    print(f"\nimport {report['import_id']}: {report['status']}")
    width = max(len(name) for name in ("rows", *OUTCOMES))
    for name in ("rows", *OUTCOMES):
        print(f"   {name:<{width}}  {report[name]:>9,}")
    if report["errors"]:
        print(f"\n   first errors (of {report['failed']:,} failed rows):")
        for error in report["errors"][:ERRORS_SHOWN]:
            print(f"   line {error['line']:>7}  {error['reason']}")

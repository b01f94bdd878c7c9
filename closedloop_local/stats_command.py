"""`closedloop campaigns` and `closedloop stats CAMPAIGN`: campaigns and their statistics as readable tables, from
the admin API of a local runtime or a deployed stack alike (`--url`/`--key` or CLOSEDLOOP_URL/CLOSEDLOOP_API_KEY).

`campaigns` lists them newest first (GET /v1/campaigns, following its cursor up to --limit) with id, name, status,
created, targeted and sent; `stats` shows GET /v1/campaigns/{id}'s `stats` as one row per metric and one column for
the campaign, each stage and each of its variants. Exit codes: 0 shown; 2 usage, connection or an HTTP error.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.parse

from closedloop.campaign_stats import COUNTERS, KEYED, empty

from .client import LocalClient

PAGE = 25
# How a keyed metric's rows are titled (its keys follow, indented).
KEYED_TITLES = {"skipped": "skipped", "failed": "failed", "links": "clicks by link", "revenue": "revenue"}


class CommandFailed(Exception):
    pass


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("CLOSEDLOOP_URL"), help="admin API base URL ($CLOSEDLOOP_URL)")
    parser.add_argument(
        "--key", default=os.environ.get("CLOSEDLOOP_API_KEY"), help="admin API key ($CLOSEDLOOP_API_KEY)"
    )


def add_campaigns_arguments(parser: argparse.ArgumentParser) -> None:
    _connection_arguments(parser)
    parser.add_argument("--limit", type=int, default=50, help="show at most this many, newest first (default 50)")


def add_stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="the campaign id (as `closedloop campaigns` lists it)")
    _connection_arguments(parser)


def run_campaigns(args: argparse.Namespace) -> int:
    return _run("campaigns", lambda client: campaigns_table(_campaigns(client, args.limit)), args)


def run_stats(args: argparse.Namespace) -> int:
    return _run("stats", lambda client: stats_table(_get(client, f"/v1/campaigns/{_quoted(args.campaign)}")), args)


def _run(name: str, show, args: argparse.Namespace) -> int:
    try:
        if not args.url or not args.key:
            raise CommandFailed("give the admin API's URL and key: --url/--key or CLOSEDLOOP_URL/CLOSEDLOOP_API_KEY")
        client = LocalClient(args.url, args.key)
        try:
            text = show(client)
        except (urllib.error.URLError, OSError) as error:
            raise CommandFailed(f"cannot reach {args.url}: {getattr(error, 'reason', error)}") from error
    except CommandFailed as failure:
        print(f"closedloop {name}: {failure}", file=sys.stderr)
        return 2
    print(text)
    return 0


def _quoted(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _get(client: LocalClient, path: str) -> dict:
    response = client.request("GET", path)
    if response.status != 200:
        body = response.json() if response.body.startswith(b"{") else {}
        raise CommandFailed(
            f"HTTP {response.status} {body.get('code', '')}: {body.get('message', response.body[:200])}"
        )
    return response.json()


def _campaigns(client: LocalClient, limit: int) -> list[dict]:
    """Up to `limit` campaigns, newest first, with targeted and sent (from each campaign when the list lacks them)."""
    found, cursor = [], None
    while len(found) < limit:
        query = {"limit": min(PAGE, limit - len(found)), **({"cursor": cursor} if cursor else {})}
        page = _get(client, f"/v1/campaigns?{urllib.parse.urlencode(query)}")
        found += page.get("campaigns") or []
        cursor = page.get("cursor")
        if not cursor:
            break
    return [
        campaign if "targeted" in campaign and "stats" in campaign else _get(client, f"/v1/campaigns/{_quoted(c)}")
        for campaign in found
        if (c := campaign["campaign_id"])
    ]


def _number(value) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}" if isinstance(value, (int, float)) else str(value)


def _table(header: list[str], rows: list[list[str]], right_from: int = 1) -> str:
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]

    def line(row: list[str]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [cell.rjust(w) if n >= right_from else cell.ljust(w) for n, (cell, w) in pairs]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)])


def campaigns_table(campaigns: list[dict]) -> str:
    """One line per campaign: id, name, status, created, targeted, sent."""
    if not campaigns:
        return "no campaigns yet"
    rows = [
        [
            c["campaign_id"],
            c.get("name") or "",
            c.get("status") or "",
            (c.get("created_at") or "")[:16].replace("T", " "),
            _number(c.get("targeted") or ((c.get("stats") or {}).get("total") or {}).get("targeted") or 0),
            _number(((c.get("stats") or {}).get("total") or {}).get("sent") or 0),
        ]
        for c in campaigns
    ]
    return _table(["id", "name", "status", "created", "targeted", "sent"], rows, right_from=4)


def _columns(stats: dict) -> list[tuple[str, dict]]:
    """The campaign's total, then each stage's total and its variants (`stage/variant`)."""
    columns = [("campaign", stats.get("total") or empty())]
    for stage, entry in (stats.get("stages") or {}).items():
        columns.append((stage, entry.get("total") or empty()))
        columns += [(f"{stage}/{variant}", counts) for variant, counts in (entry.get("variants") or {}).items()]
    return columns


def stats_table(campaign: dict) -> str:
    """A campaign's statistics: one row per metric (keyed ones, such as skipped by reason, one row per key), one
    column for the campaign and for each stage and variant."""
    stats = campaign.get("stats") or {}
    columns = _columns(stats)
    rows = [[name, *(_number(counts.get(name, 0)) for _, counts in columns)] for name in COUNTERS]
    for metric in KEYED:
        keys = sorted({key for _, counts in columns for key in (counts.get(metric) or {})})
        if keys:
            rows.append([KEYED_TITLES[metric], *([""] * len(columns))])
            rows += [[f"  {key}", *(_number((c.get(metric) or {}).get(key, 0)) for _, c in columns)] for key in keys]
    title = f"campaign {campaign.get('campaign_id', '?')}  {campaign.get('name') or ''}  ({campaign.get('status')})"
    return f"{title.rstrip()}\n\n{_table(['', *(name for name, _ in columns)], rows)}"

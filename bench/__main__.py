"""`make bench`: every figure of the README's performance table, measured in one run on this machine.

Writes bench/results.json and prints a table. Ratios compare against a floor measured in the same run
(`import boto3`, a bare handler making the same single AWS call, the profiles actually due), so a busy
machine moves both sides alike. The warm click is compared twice: behind moto, where both sides spend most of their
time inside moto, and behind an endpoint on 127.0.0.1 that answers at once (bench/instant.py), where the handler's
own cost shows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import campaigns as campaign_scale
from bench import checks, clicks, counting, csv_import, events, imports, pacing, pausing
from bench import cost as costs
from bench import render as rendering

RESULTS = Path(__file__).resolve().parent / "results.json"
README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    counting.install()
    # Handlers print their metrics (EMF) to stdout, as Lambda wants; here that would bury the table.
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        progress("measuring the click path and sending ...")
        figures = {"click": clicks.measure()}
        progress("measuring cold-start imports ...")
        figures["imports"] = imports.measure(figures["click"].pop("first_click_modules"))
        progress("measuring a batch of 100 events ...")
        figures["events"] = events.measure()
        progress("measuring the sending pause ...")
        figures["pause"] = pausing.measure()
        progress("measuring frequency caps, quiet hours and the deferrals tick ...")
        figures["pacing"] = pacing.measure()
        progress("measuring the scheduled checks at 1,000 and 50,000 profiles ...")
        figures["checks"] = checks.measure()
        progress(f"measuring a CSV import of {csv_import.ROWS:,} rows on the local runtime ...")
        figures["csv_import"] = csv_import.measure()
        progress("measuring personalised renders (offers, tracked links, CSS inlining) against bare Jinja2 ...")
        figures["render"] = rendering.measure()
        progress(
            f"measuring a campaign to {campaign_scale.SMALL:,} and to {campaign_scale.LARGE:,} recipients "
            "on the local runtime ..."
        )
        figures["campaign_scale"] = campaign_scale.measure()
        progress(f"measuring the AWS cost of a campaign mail ({costs.RECIPIENTS:,} mails, functions in-process) ...")
        figures["cost"] = costs.measure()
    figures["machine"] = {
        "python": platform.python_version(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    rows = table_rows(figures)
    write_readme(rows)
    print(table(rows))
    print(f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 0


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def table_rows(f: dict) -> list[tuple[str, object, str]]:
    i, c = f["imports"], f["click"]
    rows = [
        ("click handler import / `import boto3`", i["click_handler_import_ratio"], "<= 1.3"),
        (
            f"every module a real first click loads ({i['first_click_modules']}) / `import boto3`",
            i["first_click_imports_ratio"],
            "<= 1.3",
        ),
        ("warm click / bare handler making the same single AWS call, behind moto", c["warm_click_ratio"], "<= 1.2"),
        (
            "warm click / bare handler, both behind an endpoint that answers at once",
            c["instant_backend"]["warm_click_ratio"],
            "<= 1.2",
        ),
        (
            "requests that endpoint receives per warm click",
            c["instant_backend"]["endpoint_requests_per_warm_click_total"],
            "",
        ),
        ("AWS requests per warm click", c["aws_requests_per_warm_click"], ""),
        ("AWS requests, first click in a container", c["aws_requests_first_click_in_container"], ""),
        ("AWS requests per sent mail", c["aws_requests_per_sent_mail"], ""),
        ("AWS requests per sent campaign mail (its `sent` counted)", c["aws_requests_per_sent_campaign_mail"], ""),
        ("AWS requests per event, in a batch of 100 (10 addresses)", f["events"]["aws_requests_per_event"], ""),
        ("AWS requests per mail held by a sending pause", f["pause"]["aws_requests_per_held_mail"], ""),
        ("AWS requests per held mail the release job puts back", f["pause"]["aws_requests_per_released_mail"], ""),
    ]
    if "pacing" in f:
        p = f["pacing"]
        rows += [
            (
                "AWS requests per capped mail sent, first in the cap's window",
                p["aws_requests_per_capped_mail_first_in_window"],
                "",
            ),
            (
                "AWS requests per capped mail sent, third in the cap's window",
                p["aws_requests_per_capped_mail_third_in_window"],
                "",
            ),
            (
                "AWS requests per mail deferred to the deferred table (quiet hours)",
                p["aws_requests_per_mail_deferred_to_the_table"],
                "",
            ),
            ("AWS requests per deferred mail the tick hands back", p["aws_requests_per_mail_the_tick_hands_back"], ""),
        ]
    for size, checks_at in f["checks"].items():
        for name in ("birthday", "we_miss_you"):
            r = checks_at[name]
            rows.append(
                (
                    f"{name} check: items read / due at {int(size):,} profiles ({r['items_read']}/{r['due']})",
                    r["items_read_per_due"],
                    "<= 1.1",
                )
            )
    if "csv_import" in f:
        imp = f["csv_import"]
        rows += [
            (
                f"CSV import rows/s / bare BatchWriteItem rows/s, {imp['rows']:,} rows on the local runtime "
                f"({imp['rows_per_s']}/{imp['floor_rows_per_s']})",
                imp["ratio"],
                ">= 0.5",
            ),
            ("AWS requests per imported row", imp["aws_requests_per_row"], ""),
        ]
    if "render" in f:
        ren = f["render"]
        rows.append(
            (
                f"personalised mails per CPU-second / bare Jinja2, {ren['template']} "
                f"({ren['mails_per_cpu_s']}/{ren['bare_jinja2_mails_per_cpu_s']})",
                ren["ratio"],
                ">= 0.5",
            )
        )
    if "campaign_scale" in f:
        rows += campaign_rows(f["campaign_scale"])
    if "cost" in f:
        rows += cost_rows(f["cost"])
    return rows


def campaign_rows(c: dict) -> list[tuple[str, object, str]]:
    small, large = c["small"], c["large"]
    n, m = f"{small['recipients']:,}", f"{large['recipients']:,}"
    return [
        (f"AWS requests per campaign recipient, {n} recipients", small["aws_requests_per_recipient"], ""),
        (f"AWS requests per campaign recipient, {m} recipients", large["aws_requests_per_recipient"], ""),
        (
            f"campaign wall time per recipient, {m} / {n} recipients "
            f"({large['wall_ms_per_recipient']}/{small['wall_ms_per_recipient']} ms)",
            c["wall_per_recipient_ratio"],
            "~1 (flat)",
        ),
        (
            f"dispatcher peak memory, {m} / {n} recipients "
            f"({large['dispatch_peak_rss_mib']}/{small['dispatch_peak_rss_mib']} MiB)",
            c["dispatch_peak_ratio"],
            "~1 (bounded)",
        ),
    ]


def cost_rows(c: dict) -> list[tuple[str, object, str]]:
    usd = c["usd_per_million_mails"]
    breakdown = ", ".join(f"{k} ${v:g}" for k, v in sorted(usd.items(), key=lambda r: -r[1]) if v and k != "ses")
    return [
        (
            f"AWS cost of a 1,000,000-recipient campaign / SES alone "
            f"(${c['total_usd']:g}/${usd['ses']:g}; {breakdown})",
            c["ratio_to_ses"],
            "<= 1.03",
        ),
        ("DynamoDB write request units per sent campaign mail", c["per_mail"]["wru"], ""),
        ("sender CPU per mail, ms (in-process, thread time)", c["per_mail"]["lambda_cpu_ms"].get("sender"), ""),
    ]


def table(rows: list[tuple[str, object, str]]) -> str:
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'figure'.ljust(width)}  {'value':>8}  target", "-" * (width + 20)]
    lines += [f"{name.ljust(width)}  {value!s:>8}  {target}" for name, value, target in rows]
    return "\n".join(lines)


def write_readme(rows: list[tuple[str, object, str]]) -> None:
    """Replace the figures between the README's bench markers, so the README always shows the latest run."""
    text = README.read_text()
    if START not in text or END not in text:
        return
    body = ["| figure | value | target |", "|---|---|---|"]
    body += [f"| {name} | {value} | {target.replace('<=', '≤').replace('>=', '≥')} |" for name, value, target in rows]
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n" + "\n".join(body) + f"\n{END}{after}")


if __name__ == "__main__":
    sys.exit(main())

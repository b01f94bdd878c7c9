"""Frequency caps and quiet hours: AWS requests per capped mail sent (first and third in the cap's window), per
mail deferred to the deferred table, and per deferred mail the tick hands back; items the tick reads per due item
with many more items waiting for later."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bench.clicks import _profile, _send
from bench.counting import counting
from bench.world import context, embedded_aws
from closedloop import services
from closedloop.due_items import DueItem
from closedloop.sending import SendRequest
from closedloop_local import lambdas
from infra import wiring

MAILS = 20
WAITING = 500  # deferred items due later than the tick's now: it must not read them
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)  # 14:00 in Berlin (the shipped default zone): not quiet


def _requests(prefix: str, profiles: list[str]) -> list[SendRequest]:
    return [
        SendRequest(send_key=f"{prefix}#{p}", profile_id=p, template="newsletter-demo", capped=True) for p in profiles
    ]


def _per_mail(counted: dict) -> tuple[float, dict]:
    return round(sum(counted.values()) / MAILS, 2), {k: round(v / MAILS, 2) for k, v in counted.items()}


def measure() -> dict:
    with embedded_aws(NOW) as (_, clock):
        sender = lambdas.load_handler(wiring.SENDER)
        tick = lambdas.load_handler(wiring.DEFERRALS)
        profiles = [f"p-pacing-{n}" for n in range(MAILS)]
        for profile_id in profiles:
            _profile(profile_id)
        # Warm the container with a mail that is not capped: it takes no slot.
        _send(sender, [SendRequest(send_key="warmup", profile_id=profiles[0], template="newsletter-demo")])
        with counting() as (first, _):
            _send(sender, _requests("first", profiles))
        _send(sender, _requests("second", profiles))
        with counting() as (third, _):
            _send(sender, _requests("third", profiles))  # tries two taken slots first
        clock.instant = NOW.replace(hour=21, minute=30)  # 23:30 in Berlin: quiet
        with counting() as (deferred, _):
            _send(sender, _requests("night", profiles))
        store = services.deferred_items()
        for n in range(WAITING):
            request = SendRequest(send_key=f"later#{n}", profile_id="p-pacing-0", template="newsletter-demo")
            store.put(DueItem("deferred", request.send_key, NOW + timedelta(days=2), request.to_json()), 0)
        clock.instant = NOW.replace(hour=6) + timedelta(days=1)  # 08:00 in Berlin
        with counting() as (handed, _):
            report = tick({"schedule": "deferrals"}, context(wiring.DEFERRALS))
    per_first, first_detail = _per_mail(first)
    per_third, third_detail = _per_mail(third)
    per_deferred, deferred_detail = _per_mail(deferred)
    per_handed, handed_detail = _per_mail(handed)
    return {
        "aws_requests_per_capped_mail_first_in_window": per_first,
        "capped_first_requests": first_detail,
        "aws_requests_per_capped_mail_third_in_window": per_third,
        "capped_third_requests": third_detail,
        "aws_requests_per_mail_deferred_to_the_table": per_deferred,
        "deferred_requests": deferred_detail,
        "aws_requests_per_mail_the_tick_hands_back": per_handed,
        "tick_requests": handed_detail,
        "tick_due": report["due"],
        "tick_waiting_later": WAITING,
    }


if __name__ == "__main__":
    import contextlib
    import logging
    import os

    from bench import counting as hooks

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    hooks.install()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        figures = measure()
    print(json.dumps(figures, indent=2))

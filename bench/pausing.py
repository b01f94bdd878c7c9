"""The sending pause's cost: AWS requests per sent mail (the pause is read with the suppression entries), per mail
held while paused, and per mail a release job puts back on the send queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bench.clicks import _profile, _send
from bench.counting import counting
from bench.world import context, embedded_aws, sqs_event
from closedloop import pause, services
from closedloop.sending import SendRequest
from closedloop_local import lambdas
from infra import wiring

MAILS = 20
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _requests(prefix: str, profiles: list[str]) -> list[SendRequest]:
    return [SendRequest(send_key=f"{prefix}#{p}", profile_id=p, template="newsletter-demo") for p in profiles]


def measure() -> dict:
    with embedded_aws(NOW) as _:
        sender = lambdas.load_handler(wiring.SENDER)
        release = lambdas.load_handler(wiring.RELEASE)
        profiles = [f"p-pause-{n}" for n in range(MAILS)]
        for profile_id in profiles:
            _profile(profile_id)
        _send(sender, _requests("warmup", profiles[:1]))
        with counting() as (sent, _):
            _send(sender, _requests("sent", profiles))
        control = services.sending_control()
        control.pause(pause.new_pause("bench", NOW))
        with counting() as (held, _):
            _send(sender, _requests("held", profiles))
        control.resume()
        with counting() as (released, _):
            release(sqs_event([json.dumps({"after": None})]), context(wiring.RELEASE))
    return {
        "aws_requests_per_sent_mail": round(sum(sent.values()) / MAILS, 2),
        "sent_mail_requests": {k: round(v / MAILS, 2) for k, v in sent.items()},
        "aws_requests_per_held_mail": round(sum(held.values()) / MAILS, 2),
        "held_mail_requests": {k: round(v / MAILS, 2) for k, v in held.items()},
        "aws_requests_per_released_mail": round(sum(released.values()) / MAILS, 2),
        "released_mail_requests": {k: round(v / MAILS, 2) for k, v in released.items()},
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

"""The /_local routes: what only the local runtime offers (clock, drain, schedules, outbox, dead letters).

They have no authentication, which is why `closedloop local` serves on the loopback interface unless told twice.
Errors answer {"code", "message"} like every other error of the runtime.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import boto3

from closedloop.clock import isoformat, parse_instant
from closedloop.config import load_config

from . import alarms, outbox, outbox_page, ses_events
from .aws import REGION
from .gateway import Gateway
from .http_messages import Reply, Request
from .pump import DrainTimeout
from .scheduler import UnknownSchedule

if TYPE_CHECKING:
    from .runtime import Runtime


def add(gateway: Gateway, runtime: Runtime) -> None:
    routes = _LocalRoutes(runtime)
    gateway.add_local_route("GET", "/_local", routes.index)
    gateway.add_local_route("GET", "/_local/clock", routes.get_clock)
    gateway.add_local_route("POST", "/_local/clock", routes.set_clock)
    gateway.add_local_route("POST", "/_local/drain", routes.drain)
    gateway.add_local_route("POST", "/_local/schedules/{name}/run", routes.run_schedule)
    gateway.add_local_route("GET", "/_local/outbox", routes.outbox)
    gateway.add_local_route("GET", "/_local/outbox.html", routes.outbox_page)
    gateway.add_local_route("GET", "/_local/outbox/{message_id}.eml", routes.raw_message)
    gateway.add_local_route("GET", "/_local/dead-letters", routes.dead_letters)
    gateway.add_local_route("POST", "/_local/ses-events", routes.ses_event)
    gateway.add_local_route("POST", "/_local/alarms", routes.alarm)


def urls(runtime: Runtime) -> dict[str, str]:
    base = runtime.base_url
    return {
        "api": base,
        "outbox": f"{base}/_local/outbox.html",
        "outbox (JSON)": f"{base}/_local/outbox",
        "dead letters": f"{base}/_local/dead-letters",
        "clock": f"{base}/_local/clock",
        "drain": f"{base}/_local/drain",
        **{f"schedule {name}": f"{base}/_local/schedules/{name}/run" for name in runtime.scheduler.schedules},
    }


def _filters(request: Request) -> tuple[str | None, str | None]:
    """The outbox filters of a query; an empty value (the form's "any") is no filter."""
    return request.query.get("to") or None, request.query.get("template") or None


class _LocalRoutes:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def index(self, request: Request) -> Reply:
        now = isoformat(self._runtime.clock.now())
        return Reply.json(200, {"urls": urls(self._runtime), "now": now, "outbox_messages": outbox.count()})

    def get_clock(self, request: Request) -> Reply:
        return Reply.json(200, self._clock())

    def set_clock(self, request: Request) -> Reply:
        """{"now": "<instant>"} sets the clock; {"advance_seconds": n} moves it on."""
        clock = self._runtime.clock
        try:
            body = request.json()
            if "advance_seconds" in body:
                seconds = float(body["advance_seconds"])
                if not 0 <= seconds <= 10 * 365 * 86400:
                    raise ValueError("advance_seconds must be between 0 and ten years")
                clock.set(clock.now() + timedelta(seconds=seconds))
            else:
                clock.set(parse_instant(str(body["now"])))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            message = f'send {{"now": "<ISO 8601 with zone>"}} or {{"advance_seconds": <number>}}: {error}'
            return Reply.error(400, "invalid_input", message)
        return Reply.json(200, self._clock())

    def _clock(self) -> dict:
        # The click settle window, so a client knows how far to move the clock for clicks to count.
        settle = load_config(self._runtime.content_dir).bots.settle_seconds
        return {"now": isoformat(self._runtime.clock.now()), "click_settle_seconds": settle}

    def drain(self, request: Request) -> Reply:
        pump = self._runtime.pump
        try:
            timeout = float(request.query.get("timeout", 30))
        except ValueError:
            return Reply.error(400, "invalid_input", "timeout must be a number of seconds")
        failures_before = pump.failures
        try:
            # One-time schedules due on the runtime clock (a campaign's send_at, A/B wait, stages) fire first, and
            # again after each drain: what a drain ran may have created one that is already due.
            processed = 0
            self._runtime.scheduler.fire_due()
            while True:
                processed += pump.drain(timeout_s=timeout)
                if not self._runtime.scheduler.fire_due():
                    break
        except DrainTimeout as timeout_error:
            return Reply.error(
                504, "drain_timeout", str(timeout_error), processed=timeout_error.processed, left=timeout_error.left
            )
        return Reply.json(
            200,
            {
                "processed": processed,
                "failed": pump.failures - failures_before,
                "dead_letters": pump.dead_letters(),
                # Delayed beyond the runtime clock's now (a click's settle step, a throttled send): move the clock.
                "scheduled": pump.scheduled(),
            },
        )

    def run_schedule(self, request: Request, name: str) -> Reply:
        scheduler = self._runtime.scheduler
        try:
            result = scheduler.run(name)
        except UnknownSchedule:
            return Reply.error(
                404, "schedule_not_found", f"no schedule named {name!r}", schedules=sorted(scheduler.schedules)
            )
        return Reply(200, json.dumps(result, default=str).encode(), [("content-type", "application/json")])

    def outbox(self, request: Request) -> Reply:
        if "text/html" in request.header("accept"):
            return self.outbox_page(request)
        return Reply.json(200, outbox.messages(*_filters(request)))

    def outbox_page(self, request: Request) -> Reply:
        to, template = _filters(request)
        templates = sorted({entry["template"] for entry in outbox.messages() if entry["template"]})
        links = {"JSON": "/_local/outbox", "dead letters": "/_local/dead-letters", "clock": "/_local/clock"}
        text = outbox_page.page(
            outbox.messages(to, template), templates=templates, to=to, template=template, links=links
        )
        return Reply.html(200, text, [("content-security-policy", outbox_page.CONTENT_SECURITY_POLICY)])

    def raw_message(self, request: Request, message_id: str) -> Reply:
        raw = outbox.raw_message(message_id)
        if raw is None:
            return Reply.error(404, "message_not_found", f"the outbox holds no message {message_id!r}")
        disposition = f'attachment; filename="{"".join(c for c in message_id if c.isalnum() or c in "-_")}.eml"'
        return Reply(200, raw, [("content-type", "message/rfc822"), ("content-disposition", disposition)])

    def dead_letters(self, request: Request) -> Reply:
        return Reply.json(200, {"dead_letters": self._runtime.pump.parked()})

    def ses_event(self, request: Request) -> Reply:
        """SES's feedback for a mail in the outbox, on the default bus as SES puts it (closedloop_local.ses_events)."""
        usage = (
            '{"message_id": "<outbox message_id>", "type": "Bounce|Complaint|Delivery", '
            '"bounce_type": "Permanent|Transient"}'
        )
        try:
            body = request.json()
            message_id, event_type = str(body["message_id"]), str(body["type"])
            bounce_type = str(body.get("bounce_type") or "Permanent")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            return Reply.error(400, "invalid_input", f"send {usage}: {error}")
        if event_type not in ses_events.DETAIL_TYPES or bounce_type not in ses_events.BOUNCE_TYPES:
            return Reply.error(400, "invalid_input", f"send {usage}")
        mail = next((m for m in outbox.messages() if message_id in (m["message_id"], m["ses_message_id"])), None)
        if mail is None:
            return Reply.error(404, "message_not_found", f"the outbox holds no message {message_id!r}")
        event = ses_events.entry(
            event_type,
            ses_message_id=mail["ses_message_id"],
            destination=mail["to"],
            tags=mail["tags"],
            sender=mail["headers"].get("From", ""),
            now=self._runtime.clock.now(),
            bounce_type=bounce_type,
        )
        events = boto3.client("events", endpoint_url=self._runtime.resources.endpoint, region_name=REGION)
        answer = events.put_events(Entries=[event])["Entries"][0]
        return Reply.json(202, {"event_id": answer.get("EventId"), "detail_type": event["DetailType"]})

    def alarm(self, request: Request) -> Reply:
        """An SES reputation alarm's state change on the default bus, as CloudWatch puts it (see alarms.py)."""
        usage = f'{{"metric": "{"|".join(alarms.METRICS)}", "state": "{"|".join(alarms.STATES)}"}} (state: ALARM)'
        try:
            body = request.json()
            metric, state = str(body["metric"]), str(body.get("state") or "ALARM")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            return Reply.error(400, "invalid_input", f"send {usage}: {error}")
        if metric not in alarms.METRICS or state not in alarms.STATES:
            return Reply.error(400, "invalid_input", f"send {usage}")
        events = boto3.client("events", endpoint_url=self._runtime.resources.endpoint, region_name=REGION)
        answer = events.put_events(Entries=[alarms.entry(metric, state, self._runtime.clock.now())])["Entries"][0]
        return Reply.json(202, {"event_id": answer.get("EventId"), "alarm": f"closedloop-{alarms.METRICS[metric].id}"})

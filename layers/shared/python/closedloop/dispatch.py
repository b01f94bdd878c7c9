"""Campaign dispatch that streams: every phase is a queue message, no call holds more than one page of audience.

Jobs on the dispatch queue (functions/dispatch), each idempotent:

- `start`: a scheduled campaign's send_at came (one-time schedule): scheduled -> sending, then `audience`.
- `audience` (segment s of N, page p): one parallel-scan page of profiles (ProfileScan), filtered by
  closedloop.audience.targets, stored as `audience#<s:04d>#<p:06d>` (ids, and how many came before it in its
  segment), then the next page as a new message. A segment's last page adds s to the campaign's `scanned` set
  (one ADD; a redelivery adds nothing new) and the worker that sees all N moves the phase from `audience` to
  `main` (conditional on the phase: only one worker ever does).
- `fanout` (phase, segment): one `page` job per stored page of the segment, each with its `not_before` (pacing).
- `page` (phase, segment, page): re-reads the campaign (consistent): cancelled -> stop; paused -> parked
  (`parked#job#...`, re-queued by resume); then builds the page's SendRequests (send key
  campaign_keys.send_key(id, stage, profile), CampaignRef, topic, context), puts them on the send queue in
  batches of ten and marks the page done (a string set per phase: a redelivery counts nothing twice). The worker
  that completes a phase moves the campaign on.
- `winner` (A/B, after ab.wait): the winner from the statistics, stored once; then the `winner` phase.
- `stage` (a later stage's schedule fired): its phase, to the main stage's recipients who have not converted.
- `resume`: re-queues what a pause parked, page by page.

Every recipient has a position (segment order, page order, index in the page); a keyed permutation
(closedloop.permutation) of the positions decides the A/B groups exactly. Send keys make every repeat harmless: a
page sent twice, a crash mid-page, a pause or a resume never lose or repeat a recipient.

Pacing: each page job reserves a slot on the campaign (`next_slot`, a conditional write) lasting its recipients ÷
the send rate, and delays its batches within the slot; the rate is the SES account's maximum send rate, slowed by
0.8 per throttle the sender reported (max 10 steps). A slot beyond SQS's 15-minute delay re-queues the job.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from closedloop import ab, campaign_keys, campaigns, segments
from closedloop.campaigns import MAIN
from closedloop.clock import isoformat, parse_instant
from closedloop.permutation import Groups, Permutation
from closedloop.sending import SendRequest
from closedloop.values import CampaignRef

if TYPE_CHECKING:
    from closedloop.ports import CampaignStore, DispatchQueue, OneTimeSchedules, SendQueue

WINNER = "winner"  # the phase in which the rest of an A/B audience gets the winning variant (stage `main`)
AUDIENCE = "audience"
MAX_DELAY = 900  # SQS's longest DelaySeconds
SEND_BATCH = 10
THROTTLE_STEP, THROTTLE_STEPS = 0.8, 10
# A parked job or request is re-queued by the resume job; a second sweep a minute later picks up what a worker
# that read "paused" just before the resume parked after the first sweep (a sender batch runs at most 30 s).
RESUME_SWEEP_DELAY = 60


def page_key(segment: int, page: int) -> str:
    return f"{segment:04d}#{page:06d}"


def stage_of(phase: str) -> str:
    return MAIN if phase == WINNER else phase


@dataclass
class Dispatch:
    store: CampaignStore
    queue: DispatchQueue
    send_queue: SendQueue
    schedules: OneTimeSchedules
    scan: Any  # closedloop.ports.ProfileScan
    targets: Callable[..., list]  # closedloop.audience.targets(profiles, segment, suppressions, now)
    suppressions: Any
    stats: Any  # closedloop.ports.CampaignStats: add(ref, counts, fact=, shard_of=), summary(campaign_id)
    send_rate: Callable[[], float]
    now: datetime
    scan_segments: int = 8
    page_size: int = 1000
    window_tail: timedelta = timedelta(days=7)  # [campaigns] window_tail_days

    # --- from the API ---------------------------------------------------------------------------------------------

    def send(self, campaign: dict, rules: dict) -> dict:
        """draft -> scheduled (a one-time schedule fires `start`) or sending (the audience scan starts)."""
        campaigns.refuse_unless_allowed("send", campaign["status"])
        send_at = campaign["definition"].get("send_at")
        now = isoformat(self.now)
        extra = {"rules": rules, "scan_segments": self.scan_segments, "segment_pages": {}, "segment_counts": {}}
        if send_at and parse_instant(send_at) > self.now:
            updated = self.store.transition(campaign["campaign_id"], ("draft",), "scheduled", now, extra)
            if updated is None:
                return self._refused("send", campaign["campaign_id"])
            self.schedules.create(
                _schedule_name(campaign["campaign_id"], "start"),
                parse_instant(send_at),
                {"kind": "start", "campaign": campaign["campaign_id"]},
            )
            return updated
        updated = self.store.transition(
            campaign["campaign_id"], ("draft",), "sending", now, {**extra, "phase": AUDIENCE}
        )
        if updated is None:
            return self._refused("send", campaign["campaign_id"])
        self._scan(updated)
        return updated

    def pause(self, campaign: dict) -> dict:
        campaigns.refuse_unless_allowed("pause", campaign["status"])
        if campaign["status"] == "paused":
            return campaign
        updated = self.store.transition(campaign["campaign_id"], ("sending",), "paused", isoformat(self.now))
        return updated or self._refused("pause", campaign["campaign_id"])

    def resume(self, campaign: dict) -> dict:
        campaigns.refuse_unless_allowed("resume", campaign["status"])
        updated = campaign
        if campaign["status"] == "paused":
            updated = self.store.transition(campaign["campaign_id"], ("paused",), "sending", isoformat(self.now))
            if updated is None:
                return self._refused("resume", campaign["campaign_id"])
        job = {"kind": "resume", "campaign": campaign["campaign_id"], "after": None}
        self.queue.enqueue([job])
        self.queue.enqueue([job], delay_seconds=RESUME_SWEEP_DELAY)
        return updated

    def cancel(self, campaign: dict) -> dict:
        campaigns.refuse_unless_allowed("cancel", campaign["status"])
        if campaign["status"] == "cancelled":
            return campaign
        allowed = ("draft", "scheduled", "sending", "paused")
        updated = self.store.transition(
            campaign["campaign_id"], allowed, "cancelled", isoformat(self.now), {"cancelled_at": isoformat(self.now)}
        )
        if updated is None:
            return self._refused("cancel", campaign["campaign_id"])
        for name in _schedule_names(updated):
            self.schedules.delete(name)
        return updated

    def _refused(self, action: str, campaign_id: str) -> dict:
        """A concurrent change won the conditional write: answer from what stands now."""
        current = campaigns.get(self.store, campaign_id)
        campaigns.refuse_unless_allowed(action, current["status"])
        return current

    # --- jobs -----------------------------------------------------------------------------------------------------

    def handle(self, job: dict) -> dict:
        """Run one job; a report for the log."""
        campaign = self.store.get(job["campaign"], consistent=True)
        if campaign is None or campaign["status"] == "cancelled":
            return {"job": job["kind"], "skipped": "cancelled" if campaign else "no campaign"}
        if job["kind"] == "resume":
            return self._resume(campaign, job)
        if job["kind"] == "start":
            return self._start(campaign)
        if campaign["status"] == "paused":
            self.store.park(campaign["campaign_id"], _park_key(job), "job", job)
            return {"job": job["kind"], "parked": True}
        if campaign["status"] != "sending":
            return {"job": job["kind"], "skipped": campaign["status"]}
        return getattr(self, f"_{job['kind']}")(campaign, job)

    def _start(self, campaign: dict) -> dict:
        updated = self.store.transition(
            campaign["campaign_id"], ("scheduled",), "sending", isoformat(self.now), {"phase": AUDIENCE}
        )
        if updated is not None:
            self._scan(updated)
        return {"job": "start", "started": updated is not None}

    def _scan(self, campaign: dict) -> None:
        total = int(campaign["scan_segments"])
        jobs = [
            {
                "kind": "audience",
                "campaign": campaign["campaign_id"],
                "segment": s,
                "page": 0,
                "before": 0,
                "start": None,
            }
            for s in range(total)
        ]
        self.queue.enqueue(jobs)

    def _audience(self, campaign: dict, job: dict) -> dict:
        campaign_id, segment, page = campaign["campaign_id"], job["segment"], job["page"]
        total = int(campaign["scan_segments"])
        rule = segments.parse(campaign["rules"]) if campaign.get("rules") else None
        # Only what the rules read (and id, address, status): a narrow scan.
        fields = rule.reads if rule is not None else frozenset()
        profiles, next_start = self.scan.scan_page(segment, total, job.get("start"), self.page_size, fields)
        chosen = self.targets(profiles, rule, self.suppressions, self.now)
        ids = [profile.profile_id for profile in chosen]
        self.store.put_page(campaign_id, segment, page, ids, job["before"])
        before = job["before"] + len(ids)
        if next_start is not None:
            self.queue.enqueue([{**job, "page": page + 1, "before": before, "start": next_start}])
            return {"job": "audience", "segment": segment, "page": page, "targets": len(ids)}
        updated = self.store.segment_scanned(campaign_id, segment, page + 1, before)
        if len(updated.get("scanned") or ()) == total:
            self._audience_complete(updated)
        return {"job": "audience", "segment": segment, "page": page, "targets": len(ids), "segment_done": True}

    def _audience_complete(self, campaign: dict) -> None:
        audience = sum(int(n) for n in campaign["segment_counts"].values())
        moved = self.store.advance(
            campaign["campaign_id"],
            AUDIENCE,
            MAIN,
            {
                "audience_total": audience,
                "started_at": isoformat(self.now),
                # The goal counts until then (closedloop.conversions), with this deployment's configured tail.
                "window_until": isoformat(campaigns.window_until(campaign["definition"], self.now, self.window_tail)),
            },
        )
        if not moved:
            return  # another worker (or an earlier delivery of this one) moved it on
        if audience == 0:  # nobody to send to: nothing to wait for either
            self.store.transition(
                campaign["campaign_id"],
                ("sending",),
                "sent",
                isoformat(self.now),
                {"finished_at": isoformat(self.now), "phase": "done"},
            )
            return
        for stage in campaign["definition"].get("stages") or ():
            at = parse_instant(stage["at"]) if "at" in stage else self.now + campaigns.duration(stage["after"], "after")
            self.schedules.create(
                _schedule_name(campaign["campaign_id"], stage["id"]),
                at,
                {"kind": "stage", "campaign": campaign["campaign_id"], "stage": stage["id"]},
            )
        self._fan_out(campaign, MAIN)

    def _fan_out(self, campaign: dict, phase: str) -> None:
        start = isoformat(self.now)
        jobs = [
            {"kind": "fanout", "campaign": campaign["campaign_id"], "phase": phase, "segment": s, "start_at": start}
            for s in range(int(campaign["scan_segments"]))
        ]
        self.queue.enqueue(jobs)

    def _fanout(self, campaign: dict, job: dict) -> dict:
        pages = {int(s): int(n) for s, n in campaign["segment_pages"].items()}
        counts = {int(s): int(n) for s, n in campaign["segment_counts"].items()}
        segment = job["segment"]
        # Recipients before each page (estimated within the segment from its average page): when its turn comes.
        before = sum(n for s, n in counts.items() if s < segment)
        per_page = counts[segment] / pages[segment]
        rate = self._rate(campaign)
        start = parse_instant(job["start_at"])
        jobs, delays = [], []
        for page in range(pages[segment]):
            offset = (before + page * per_page) / rate
            not_before = start + timedelta(seconds=offset)
            jobs.append(
                {
                    "kind": "page",
                    "campaign": campaign["campaign_id"],
                    "phase": job["phase"],
                    "segment": segment,
                    "page": page,
                    "not_before": isoformat(not_before),
                }
            )
            delays.append(self._delay_until(not_before))
        for delay in sorted(set(delays)):
            self.queue.enqueue([j for j, d in zip(jobs, delays, strict=True) if d == delay], delay_seconds=delay)
        return {"job": "fanout", "phase": job["phase"], "segment": segment, "pages": len(jobs)}

    def _page(self, campaign: dict, job: dict) -> dict:
        campaign_id, phase, segment, page = campaign["campaign_id"], job["phase"], job["segment"], job["page"]
        key = page_key(segment, page)
        if job.get("not_before") and parse_instant(job["not_before"]) > self.now + timedelta(seconds=1):
            self.queue.enqueue([job], delay_seconds=self._delay_until(parse_instant(job["not_before"])))
            return {"job": "page", "page": key, "waiting": True}
        stored = self.store.get_page(campaign_id, segment, page)
        recipients, holdout = self._recipients(campaign, phase, segment, stored)
        if holdout:
            self.store.hold_out(campaign_id, holdout, self.now)
        if phase not in (MAIN, WINNER) and recipients:
            converted = self.store.converted(campaign_id, [profile for profile, _ in recipients])
            recipients = [(profile, variant) for profile, variant in recipients if profile not in converted]
        rate = self._rate(campaign)
        slot = self._reserve(campaign_id, campaign.get("next_slot"), len(recipients), rate) if recipients else 0.0
        if slot is None:  # the next free slot lies beyond SQS's longest delay: come back closer to it
            self.queue.enqueue([job], delay_seconds=MAX_DELAY)
            return {"job": "page", "page": key, "waiting": True}
        requests = [self._request(campaign, stage_of(phase), profile, variant) for profile, variant in recipients]
        for n in range(0, len(requests), SEND_BATCH):
            delay = min(MAX_DELAY, int(slot + n / rate))
            self.send_queue.enqueue(requests[n : n + SEND_BATCH], delay_seconds=delay)
        self._count_targeted(campaign_id, phase, key, recipients)
        done = self.store.page_done(campaign_id, phase, key, len(recipients))
        total = sum(int(n) for n in campaign["segment_pages"].values())
        if done == total:
            self._phase_complete(campaign, phase)
        return {"job": "page", "phase": phase, "page": key, "queued": len(requests)}

    def _recipients(self, campaign: dict, phase: str, segment: int, stored: dict) -> tuple[list, list[str]]:
        """(profile id, variant id or None) for each recipient of this page in this phase; the holdout's ids."""
        definition = campaign["definition"]
        variants = [v["id"] for v in definition.get("variants") or ()]
        counts = {int(s): int(n) for s, n in campaign["segment_counts"].items()}
        offset = sum(n for s, n in counts.items() if s < segment) + int(stored["before"])
        size = int(campaign["audience_total"])
        ab_test = definition.get("ab")
        groups = Groups.of(size, ab_test["test_share"] if ab_test else None, ab_test and ab_test["holdout_share"])
        # Without variants everyone is in the one sending group: no position needs permuting.
        permutation = Permutation(campaign["campaign_id"], size) if variants else (lambda position: 0)
        recipients, holdout = [], []
        for index, profile_id in enumerate(stored["ids"]):
            group, variant_no = groups.group(permutation(offset + index), max(len(variants), 1))
            if group == "holdout":
                holdout.append(profile_id)
                continue
            if phase == MAIN:
                if group == "test":
                    recipients.append((profile_id, variants[variant_no] if variants else None))
            elif phase == WINNER:
                if group == "rest":
                    recipients.append((profile_id, campaign["winner"]))
            else:  # a later stage: everyone who was in a sending group
                recipients.append((profile_id, None))
        return recipients, (holdout if phase == MAIN else [])

    def _request(self, campaign: dict, stage: str, profile_id: str, variant_id: str | None) -> SendRequest:
        definition = campaign["definition"]
        template, subject = definition.get("template"), None
        if stage != MAIN:
            template = next(s["template"] for s in definition["stages"] if s["id"] == stage)
        elif variant_id:
            variant = next(v for v in definition["variants"] if v["id"] == variant_id)
            template, subject = variant.get("template", template), variant.get("subject")
        return SendRequest(
            send_key=campaign_keys.send_key(campaign["campaign_id"], stage, profile_id),
            profile_id=profile_id,
            template=template,
            context=definition.get("context") or {},
            topic=definition.get("topic"),
            campaign=CampaignRef(campaign["campaign_id"], stage, variant_id),
            subject=subject or None,
            capped=True,  # frequency caps and quiet hours apply to campaign mail
        )

    def _count_targeted(self, campaign_id: str, phase: str, key: str, recipients: list) -> None:
        by_variant: dict[str | None, int] = {}
        for _, variant in recipients:
            by_variant[variant] = by_variant.get(variant, 0) + 1
        for variant, n in by_variant.items():
            ref = CampaignRef(campaign_id, stage_of(phase), variant)
            self.stats.add(ref, {"targeted": n}, fact=f"targeted#{phase}#{variant or '-'}#{key}", shard_of=key)

    def _phase_complete(self, campaign: dict, phase: str) -> None:
        campaign_id = campaign["campaign_id"]
        updated = self.store.phase_done(campaign_id, phase)
        definition = campaign["definition"]
        if phase == MAIN and definition.get("ab"):
            started = parse_instant(updated["started_at"])
            at = started + campaigns.duration(definition["ab"]["wait"], "ab.wait")
            self.schedules.create(
                _schedule_name(campaign_id, WINNER),
                max(at, self.now + timedelta(minutes=1)),
                {"kind": "winner", "campaign": campaign_id},
            )
        self._finish_if_done(updated)

    def _finish_if_done(self, campaign: dict) -> bool:
        definition = campaign["definition"]
        required = {
            MAIN,
            *([WINNER] if definition.get("ab") else []),
            *(s["id"] for s in definition.get("stages") or ()),
        }
        if not required <= set(campaign.get("phases_done") or ()):
            return False
        if self.store.has_parked(campaign["campaign_id"]):
            return False
        now = isoformat(self.now)
        return (
            self.store.transition(
                campaign["campaign_id"], ("sending",), "sent", now, {"finished_at": now, "phase": "done"}
            )
            is not None
        )

    def _winner(self, campaign: dict, job: dict) -> dict:
        definition = campaign["definition"]
        chosen = campaign.get("winner")
        if not chosen:
            variants = [v["id"] for v in definition["variants"]]
            summary = self.stats.summary(campaign["campaign_id"])
            chosen = ab.winner(variants, definition["ab"]["metric"], ab.variant_counts(summary, MAIN))
            chosen = self.store.set_winner(campaign["campaign_id"], chosen)
        if self.store.advance(campaign["campaign_id"], MAIN, WINNER, {}):
            self._fan_out({**campaign, "winner": chosen}, WINNER)
        return {"job": "winner", "winner": chosen}

    def _stage(self, campaign: dict, job: dict) -> dict:
        if self.store.mark_stage_started(campaign["campaign_id"], job["stage"]):
            self._fan_out(campaign, job["stage"])
        return {"job": "stage", "stage": job["stage"]}

    def _resume(self, campaign: dict, job: dict) -> dict:
        if campaign["status"] != "sending":
            return {"job": "resume", "skipped": campaign["status"]}
        parked, after = self.store.parked(campaign["campaign_id"], job.get("after"), 100)
        for key, kind, body in parked:
            if kind == "job":
                self.queue.enqueue([body])
            else:
                self.send_queue.enqueue([SendRequest.from_json(text) for text in body])
            self.store.unpark(campaign["campaign_id"], key)
        if after is not None:
            self.queue.enqueue([{**job, "after": after}])
        else:
            self._finish_if_done(campaign)
        return {"job": "resume", "requeued": len(parked)}

    # --- pacing ---------------------------------------------------------------------------------------------------

    def _rate(self, campaign: dict) -> float:
        throttles = min(int(campaign.get("throttles") or 0), THROTTLE_STEPS)
        return max(self.send_rate() * THROTTLE_STEP**throttles, 0.1)

    def _delay_until(self, instant: datetime) -> int:
        return max(0, min(MAX_DELAY, math.ceil((instant - self.now).total_seconds())))

    def _reserve(self, campaign_id: str, seen: str | None, recipients: int, rate: float) -> float | None:
        """Seconds from now at which this page's slot starts; None if beyond SQS's longest delay."""
        for attempt in range(5):
            if attempt:  # another page took the slot we saw: read the new one
                seen = self.store.get(campaign_id, consistent=True).get("next_slot")
            start = max(self.now, parse_instant(seen)) if seen else self.now
            wait = (start - self.now).total_seconds()
            if wait > MAX_DELAY:
                return None
            end = start + timedelta(seconds=recipients / rate)
            if self.store.reserve_slot(campaign_id, seen, isoformat(end)):
                return wait
        return 0.0  # contended: send now and let SES's throttling (and the sender's deferral) pace it


def _schedule_name(campaign_id: str, what: str) -> str:
    return f"{campaign_id}-{what}"


def _schedule_names(campaign: dict) -> list[str]:
    definition = campaign["definition"]
    whats = ["start", WINNER, *(s["id"] for s in definition.get("stages") or ())]
    return [_schedule_name(campaign["campaign_id"], what) for what in whats]


def _park_key(job: dict) -> str:
    parts = [
        job["kind"],
        job.get("phase") or job.get("stage") or "",
        str(job.get("segment", "")),
        str(job.get("page", "")),
    ]
    return "job#" + "#".join(parts)


# --- the sender's side ------------------------------------------------------------------------------------------


def gate(request: SendRequest, status: str | None, store: CampaignStore, ledger, now: datetime):
    """Before the send gate: a cancelled campaign's request is skipped (`skipped_cancelled`, recorded), a paused
    one's parked with the campaign (resume re-queues it). None: send it. `status` is read once per batch; a campaign
    the store does not know (None: never deleted, so a request built by hand) is not stopped here."""
    from closedloop.sending import Outcome, SendResult
    from closedloop.values import MessageStatus

    if request.campaign is None or status not in ("paused", "cancelled"):
        return None
    if status == "paused":
        store.park(request.campaign.id, f"request#{request.send_key}", "requests", [request.to_json()])
        return SendResult(Outcome.HELD, "campaign_paused")
    at = isoformat(now)
    ledger.put_message_status(
        MessageStatus(request.message_id, request.profile_id, request.template, "skipped", at, "campaign_cancelled")
    )
    return SendResult(Outcome.CANCELLED, "campaign_cancelled")

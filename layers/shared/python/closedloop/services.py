"""The composition root: builds each collaborator once per container, on first use.

Handlers ask here for what they need; domain code receives it as arguments. The local runtime swaps the clock
with `use_clock`, and tests start from a clean slate with `reset`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import TypeVar

from closedloop.clock import Clock, SystemClock
from closedloop.config import Config, load_config
from closedloop.errors import UnknownKeyId
from closedloop.settings import Settings
from closedloop.tokens import TokenSigner, TrackingKeys

_clock: Clock = SystemClock()
CHECK_SAFETY_MS = 20_000
SECRET_MAX_AGE = 300  # seconds a container trusts its copy of a secret: rotation reaches every container in 5 min
# A token naming a key id this container does not know re-reads the keys, at most this often (seconds): a key
# added a moment ago works at once, and forged key ids cannot make a container hammer Secrets Manager.
KEY_REFRESH_INTERVAL = 30
_last_key_refresh = float("-inf")
T = TypeVar("T")


def use_clock(clock: Clock) -> None:
    global _clock
    _clock = clock


def clock() -> Clock:
    return _clock


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()


def config() -> Config:
    return load_config(settings().content_dir)


@lru_cache(maxsize=1)
def profiles():
    from closedloop.adapters.dynamo import DynamoProfileStore

    return DynamoProfileStore(settings())


@lru_cache(maxsize=1)
def activity_log():
    from closedloop.adapters.activity import DynamoActivityLog

    return DynamoActivityLog(settings())


@lru_cache(maxsize=1)
def link_sets():
    from closedloop.adapters.activity import DynamoLinkSets

    return DynamoLinkSets(settings())


@lru_cache(maxsize=1)
def ledger():
    from closedloop.adapters.dynamo import DynamoLedger

    return DynamoLedger(settings())


@lru_cache(maxsize=1)
def suppressions():
    from closedloop.adapters.dynamo import DynamoSuppressions

    return DynamoSuppressions(settings())


@lru_cache(maxsize=1)
def profile_scan():
    from closedloop.adapters.profile_scan import DynamoProfileScan

    return DynamoProfileScan(settings())


@lru_cache(maxsize=1)
def segment_store():
    from closedloop.adapters.segment_store import DynamoSegmentStore

    return DynamoSegmentStore(settings())


@lru_cache(maxsize=1)
def signups():
    from closedloop.adapters.signups import DynamoSignups

    return DynamoSignups(settings())


@lru_cache(maxsize=1)
def publisher():
    from closedloop.adapters.aws import EventBridgePublisher

    return EventBridgePublisher(settings())


@lru_cache(maxsize=1)
def send_queue():
    from closedloop.adapters.aws import SqsSendQueue

    return SqsSendQueue(settings())


@lru_cache(maxsize=1)
def reaction_queue():
    from closedloop.adapters.aws import SqsReactionQueue

    return SqsReactionQueue(settings())


@lru_cache(maxsize=1)
def sending_control():
    from closedloop.adapters.pausing import DynamoSendingControl

    return DynamoSendingControl(settings())


@lru_cache(maxsize=1)
def release_queue():
    from closedloop.adapters.pausing import SqsReleaseQueue

    return SqsReleaseQueue(settings())


@lru_cache(maxsize=1)
def personal_records():
    from closedloop.adapters.personal import DynamoPersonalRecords

    return DynamoPersonalRecords(settings())


@lru_cache(maxsize=1)
def mailer():
    from closedloop.adapters.ses import SesMailer

    return SesMailer(clock(), settings().configuration_set)


@lru_cache(maxsize=1)
def import_store():
    from closedloop.adapters.imports import DynamoImportStore

    return DynamoImportStore(settings())


@lru_cache(maxsize=1)
def import_files():
    from closedloop.adapters.imports import S3ImportFiles

    return S3ImportFiles(settings())


@lru_cache(maxsize=1)
def import_queue():
    from closedloop.adapters.imports import SqsImportQueue

    return SqsImportQueue(settings())


@lru_cache(maxsize=1)
def cap_slots():
    from closedloop.adapters.pacing import DynamoCapSlots

    return DynamoCapSlots(settings())


@lru_cache(maxsize=1)
def deferred_items():
    from closedloop.adapters.pacing import DynamoDueItems

    return DynamoDueItems(settings())


def pacing():
    """The send gate's frequency cap and quiet hours (closedloop.pacing), from the current configuration."""
    from closedloop.pacing import Pacing

    return Pacing(config(), cap_slots(), deferred_items())


def run_deferrals(context) -> dict:
    """One tick of the deferred sends (closedloop.deferrals): what fell due goes back on the send queue."""
    from closedloop.deferrals import run_tick

    return run_tick(
        deferred_items(),
        send_queue(),
        clock().now(),
        out_of_time=lambda: context.get_remaining_time_in_millis() < CHECK_SAFETY_MS,
    )


@lru_cache(maxsize=1)
def campaign_stats():
    from closedloop.adapters.campaign_stats import DynamoCampaignStats

    return DynamoCampaignStats(settings(), clock())


@lru_cache(maxsize=1)
def campaign_reach():
    from closedloop.adapters.campaign_stats import DynamoCampaignReach

    return DynamoCampaignReach(settings())


@lru_cache(maxsize=1)
def campaign_store():
    from closedloop.adapters.campaigns import DynamoCampaignStore

    return DynamoCampaignStore(settings())


@lru_cache(maxsize=1)
def dispatch_queue():
    from closedloop.adapters.campaigns import SqsDispatchQueue

    return SqsDispatchQueue(settings())


@lru_cache(maxsize=1)
def one_time_schedules():
    from closedloop.adapters.campaigns import SchedulerOneTimeSchedules

    return SchedulerOneTimeSchedules(settings())


@lru_cache(maxsize=1)
def send_rate():
    """The SES account's maximum send rate, read once per container (closedloop.dispatch paces by it)."""
    from closedloop.adapters.campaigns import SesSendRate

    return SesSendRate()


def dispatcher():
    """closedloop.dispatch.Dispatch with this container's collaborators, at the clock's now."""
    from closedloop import audience
    from closedloop.dispatch import Dispatch

    c = config().campaigns
    return Dispatch(
        store=campaign_store(),
        queue=dispatch_queue(),
        send_queue=send_queue(),
        schedules=one_time_schedules(),
        scan=profile_scan(),
        targets=audience.targets,
        suppressions=suppressions(),
        stats=campaign_stats(),
        send_rate=send_rate(),
        now=clock().now(),
        scan_segments=c.scan_segments,
        page_size=c.page_size,
        window_tail=timedelta(days=c.window_tail_days),
    )


def _secret(name: str, force_fetch: bool = False) -> dict:
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(name, transform="json", max_age=SECRET_MAX_AGE, force_fetch=force_fetch)


_signer: tuple[dict, TokenSigner] | None = None


def signer(force_fetch: bool = False) -> TokenSigner:
    """The signer for the current tracking keys; rebuilt only when the secret's value is a new one."""
    global _signer
    secret = _secret(settings().tracking_keys_secret, force_fetch)
    if _signer is None or _signer[0] is not secret:
        _signer = (secret, TokenSigner(TrackingKeys.from_secret(secret)))
    return _signer[1]


def verified(check: Callable[[TokenSigner], T]) -> T:
    """Run a token check with the tracking keys; a key id this container does not know re-reads them once."""
    global _last_key_refresh
    try:
        return check(signer())
    except UnknownKeyId:
        if time.monotonic() - _last_key_refresh < KEY_REFRESH_INTERVAL:
            raise
        _last_key_refresh = time.monotonic()
        return check(signer(force_fetch=True))


_erasure: tuple[dict, object] | None = None


def erasure_keys():
    """The keys of erased-address hashes (closedloop.suppression.ErasureKeys), rebuilt when the secret changes."""
    global _erasure
    from closedloop.suppression import ErasureKeys

    secret = _secret(settings().erasure_key_secret)
    if _erasure is None or _erasure[0] is not secret:
        _erasure = (secret, ErasureKeys.from_secret(secret))
    return _erasure[1]


def api_key() -> str:
    """The admin API key; empty if the secret holds none (then no request is let in)."""
    value = _secret(settings().api_key_secret).get("api_key")
    return value if isinstance(value, str) else ""


def renderer():
    from closedloop.adapters.templates import JinjaRenderer

    s, c = settings(), config()
    return JinjaRenderer(
        s.content_dir / "templates",
        signer(),
        s.tracking_base_url,
        s.sender_address,
        c.mail.postal_address,
        c.bots.honeypot_url,
        clock=lambda: clock().now(),  # offers valid at the injected clock's instant (the gate passes its own)
    )


def preview_renderer():
    """A renderer for checking a message at the door: a throwaway key, so none of its links is ever valid."""
    from closedloop.adapters.templates import JinjaRenderer

    keys = TrackingKeys(current="preview", keys={"preview": secrets.token_bytes(32)})
    s, c = settings(), config()
    return JinjaRenderer(
        s.content_dir / "templates",
        TokenSigner(keys),
        "https://preview.invalid",
        s.sender_address,
        c.mail.postal_address,
        c.bots.honeypot_url,
        clock=lambda: clock().now(),
    )


def record_open(activity):
    """Record an open with this container's collaborators, deferring to the reactions queue; never raises."""
    from closedloop.tracking import record_or_defer

    return record_or_defer(activity, activity_log(), config(), reaction_queue())


def run_check(name: str, context) -> dict:
    """Run a scheduled check (closedloop.schedules.CHECKS) against this container's collaborators."""
    from closedloop.schedules import CHECKS

    report = CHECKS[name](
        profiles(),
        send_queue(),
        config(),
        clock().now(),
        # Stop with time to spare; whatever is left stays due and the next run picks it up.
        out_of_time=lambda: context.get_remaining_time_in_millis() < CHECK_SAFETY_MS,
    )
    return report.summary()


def reset() -> None:
    """Forget every cached collaborator (tests; the local runtime after changing the environment)."""
    from aws_lambda_powertools.utilities import parameters

    from closedloop.adapters import dynamo

    dynamo.forget_models()
    for factory in (
        settings,
        profiles,
        activity_log,
        link_sets,
        ledger,
        suppressions,
        profile_scan,
        segment_store,
        publisher,
        send_queue,
        reaction_queue,
        mailer,
        sending_control,
        release_queue,
        personal_records,
        signups,
        import_store,
        import_files,
        import_queue,
        cap_slots,
        deferred_items,
        campaign_stats,
        campaign_reach,
        campaign_store,
        dispatch_queue,
        one_time_schedules,
        send_rate,
    ):
        factory.cache_clear()
    load_config.cache_clear()
    parameters.clear_caches()
    use_clock(SystemClock())
    global _last_key_refresh, _signer, _erasure
    _last_key_refresh, _signer, _erasure = float("-inf"), None, None

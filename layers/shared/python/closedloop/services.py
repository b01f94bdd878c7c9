"""The composition root: builds each collaborator once per container, on first use.

Handlers ask here for what they need; domain code receives it as arguments. The local runtime swaps the clock
with `use_clock`, and tests start from a clean slate with `reset`.
"""

from __future__ import annotations

from functools import lru_cache

from closedloop.clock import Clock, SystemClock
from closedloop.config import Config, load_config
from closedloop.settings import Settings
from closedloop.tokens import TokenSigner, TrackingKeys

_clock: Clock = SystemClock()
CHECK_SAFETY_MS = 20_000
SECRET_MAX_AGE = 300  # seconds a container trusts its copy of a secret: rotation reaches every container in 5 min


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
def ledger():
    from closedloop.adapters.dynamo import DynamoLedger

    return DynamoLedger(settings())


@lru_cache(maxsize=1)
def publisher():
    from closedloop.adapters.aws import EventBridgePublisher

    return EventBridgePublisher(settings())


@lru_cache(maxsize=1)
def send_queue():
    from closedloop.adapters.aws import SqsSendQueue

    return SqsSendQueue(settings())


@lru_cache(maxsize=1)
def activity_queue():
    from closedloop.adapters.aws import SqsActivityQueue

    return SqsActivityQueue(settings())


@lru_cache(maxsize=1)
def mailer():
    from closedloop.adapters.ses import SesMailer

    return SesMailer(clock(), settings().configuration_set)


def _secret(name: str) -> dict:
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(name, transform="json", max_age=SECRET_MAX_AGE)


def signer() -> TokenSigner:
    return TokenSigner(TrackingKeys.from_secret(_secret(settings().tracking_keys_secret)))


def api_key() -> str:
    return _secret(settings().api_key_secret)["api_key"]


def renderer():
    from closedloop.adapters.templates import JinjaRenderer

    s = settings()
    return JinjaRenderer(s.content_dir / "templates", signer(), s.tracking_base_url, s.sender_address)


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


def template_exists(name: str) -> bool:
    """Whether a template can be rendered; needs no signing key (the admin function has none)."""
    from closedloop.adapters.templates import template_exists as exists

    return exists(settings().content_dir / "templates", name)


def reset() -> None:
    """Forget every cached collaborator (tests; the local runtime after changing the environment)."""
    from aws_lambda_powertools.utilities import parameters

    from closedloop.adapters import dynamo

    dynamo.forget_models()
    for factory in (settings, profiles, ledger, publisher, send_queue, activity_queue, mailer):
        factory.cache_clear()
    load_config.cache_clear()
    parameters.clear_caches()
    use_clock(SystemClock())

"""The marketers' configuration (config/closedloop.toml in the content layer), parsed once into typed values.

Parsing is strict: an unknown key, a wrong type or an impossible value is refused with a sentence that names the
key. What it refers to (templates, the time zone) is checked by closedloop.content, at `make test`, at `cdk synth`
(the content layer build) and when the local runtime starts; parsing stays cheap enough for a click's cold start.
"""

from __future__ import annotations

import re
import tomllib
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from closedloop.errors import ConfigError

CONFIG_FILE = "config/closedloop.toml"
COUNTER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TOPIC_ID = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class ThresholdRule(NamedTuple):
    id: str
    counter: str
    at: int
    template: str
    # The frequency cap and quiet hours apply to its mail (closedloop.pacing).
    capped: bool = False


class BirthdayConfig(NamedTuple):
    template: str = "birthday"
    local_hour: int = 9
    default_timezone: str = "Europe/Berlin"
    catch_up_days: int = 3
    capped: bool = False


class WeMissYouConfig(NamedTuple):
    template: str = "we-miss-you"
    inactive_days: int = 60
    capped: bool = False


class TrackingConfig(NamedTuple):
    activity_retention_days: int = 400


class MailConfig(NamedTuple):
    # The sender's postal address, shown in every footer (CAN-SPAM asks for one in commercial mail).
    postal_address: str = ""


# User agents of link scanners and HTTP libraries (matched case-insensitively as parts of the header). Mail
# security gateways that announce themselves, and the tools scripts use; browsers never send these.
SCANNER_AGENTS = (
    "barracuda",
    "mimecast",
    "proofpoint",
    "trendmicro",
    "symantec",
    "forcepoint",
    "urlscan",
    "linkcheck",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "curl/",
    "wget/",
    "go-http-client",
    "okhttp",
    "java/",
    "apache-httpclient",
    "libwww-perl",
    "node-fetch",
    "axios/",
    "headlesschrome",
    "bot/",
    "spider",
    "crawler",
)


class BotsConfig(NamedTuple):
    """When a click or open is a machine's (README "Bot-proof clicks"): recorded apart, it moves nothing."""

    # A user agent containing one of these (case-insensitive) is a scanner's or a library's; an empty one too.
    user_agents: tuple[str, ...] = SCANNER_AGENTS
    # This many distinct links of one message hit within burst_seconds is a scanner sweeping the mail.
    burst_links: int = 3
    burst_seconds: int = 10
    # A click's effects wait this long, so the whole burst it may belong to is seen before anything moves.
    settle_seconds: int = 30
    # Where the hidden honeypot link of every mail leads (only machines follow it).
    honeypot_url: str = "https://example.com/"


class Topic(NamedTuple):
    """A subscription topic a person may choose on the preference page; a message may name one."""

    id: str
    label: str


class DoubleOptInConfig(NamedTuple):
    confirm_template: str = "confirm"
    welcome_template: str = "welcome"
    # The exact sentence the confirm page shows above its button: what the person agrees to, kept as proof.
    consent_text: str = (
        "Yes, please send me e-mail on the topics I chose. I can unsubscribe or change my topics at any time "
        "with the links in every e-mail."
    )
    # How long a confirmation link works.
    link_valid_days: int = 7


class FrequencyCapConfig(NamedTuple):
    """At most `messages` capped messages per profile in any rolling `days` days (closedloop.pacing)."""

    messages: int = 3
    days: int = 7


class QuietHoursConfig(NamedTuple):
    """No capped message between `start` and `end` (HH:MM, the recipient's local time; the window may cross
    midnight; start == end: no quiet hours). The zone: attributes.timezone, else [birthday] default_timezone."""

    start: str = "21:00"
    end: str = "08:00"


class OffersConfig(NamedTuple):
    """Offer pools (offers/<pool>.toml, closedloop.offers): how often one person may be sent the same offer."""

    max_per_person: int = 3


class CampaignsConfig(NamedTuple):
    # Parallel scan segments of the profiles table a campaign's audience is read in (one queue message per page).
    scan_segments: int = 8
    # Profiles per audience page (one scan page, one stored page of ids, one dispatch job).
    page_size: int = 1000
    # A campaign's window (its goal counts within it) ends this many days after its last stage's send.
    window_tail_days: int = 7


class Config(NamedTuple):
    thresholds: tuple[ThresholdRule, ...]
    birthday: BirthdayConfig
    we_miss_you: WeMissYouConfig
    tracking: TrackingConfig = TrackingConfig()
    mail: MailConfig = MailConfig()
    bots: BotsConfig = BotsConfig()
    topics: tuple[Topic, ...] = ()
    double_opt_in: DoubleOptInConfig = DoubleOptInConfig()
    frequency_cap: FrequencyCapConfig = FrequencyCapConfig()
    quiet_hours: QuietHoursConfig = QuietHoursConfig()
    offers: OffersConfig = OffersConfig()
    campaigns: CampaignsConfig = CampaignsConfig()

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(topic.id for topic in self.topics)

    @property
    def activity_retention_days(self) -> int:
        return self.tracking.activity_retention_days

    def templates(self) -> dict[str, str]:
        """Every template the configuration names, with where it names it."""
        named = {f"[[thresholds]] {rule.id!r}": rule.template for rule in self.thresholds}
        named["[birthday]"] = self.birthday.template
        named["[we_miss_you]"] = self.we_miss_you.template
        named["[double_opt_in] confirm_template"] = self.double_opt_in.confirm_template
        named["[double_opt_in] welcome_template"] = self.double_opt_in.welcome_template
        return named


def _section(data: dict, shape: type[NamedTuple], where: str) -> Any:
    """Build one section, refusing unknown keys and values of the wrong type, by name."""
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG_FILE}: {where} must be a table")
    fields = typing.get_type_hints(shape)
    data = dict(data)
    for key, value in data.items():
        if key not in fields:
            known = ", ".join(fields)
            raise ConfigError(f'{CONFIG_FILE}: unknown key "{key}" in {where} (known: {known})')
        expected = fields[key]
        if typing.get_origin(expected) is tuple:  # a list of text in TOML
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ConfigError(f'{CONFIG_FILE}: "{key}" in {where} must be a list of text')
            data[key] = tuple(value)
        elif expected is bool:
            if not isinstance(value, bool):
                raise ConfigError(f'{CONFIG_FILE}: "{key}" in {where} must be true or false')
        elif not isinstance(value, expected) or isinstance(value, bool):
            kind = "a whole number" if expected is int else "text"
            raise ConfigError(f'{CONFIG_FILE}: "{key}" in {where} must be {kind}')
    try:
        return shape(**data)
    except TypeError as error:  # a required key is missing
        missing = [key for key in fields if key not in data and key not in shape._field_defaults]
        sentence = f'{where} needs "{missing[0]}"' if missing else str(error)
        raise ConfigError(f"{CONFIG_FILE}: {sentence}") from error


SECTIONS = {"thresholds", "birthday", "we_miss_you", "tracking", "mail", "bots", "topics", "double_opt_in"}
SECTIONS |= {"frequency_cap", "quiet_hours"}
SECTIONS |= {"offers"}
SECTIONS |= {"campaigns"}


def parse_config(data: dict) -> Config:
    """Validate the TOML document; a mistake is reported with the offending key."""
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(f'{CONFIG_FILE}: unknown section "{key}" (known: {", ".join(sorted(SECTIONS))})')
    rules_data = data.get("thresholds", [])
    if not isinstance(rules_data, list):
        raise ConfigError(f"{CONFIG_FILE}: thresholds must be written as [[thresholds]] tables")
    rules = tuple(_section(rule, ThresholdRule, f"[[thresholds]] number {n}") for n, rule in enumerate(rules_data, 1))
    topics_data = data.get("topics", [])
    if not isinstance(topics_data, list):
        raise ConfigError(f"{CONFIG_FILE}: topics must be written as [[topics]] tables")
    topics = tuple(_section(topic, Topic, f"[[topics]] number {n}") for n, topic in enumerate(topics_data, 1))
    config = Config(
        thresholds=rules,
        birthday=_section(data.get("birthday", {}), BirthdayConfig, "[birthday]"),
        we_miss_you=_section(data.get("we_miss_you", {}), WeMissYouConfig, "[we_miss_you]"),
        tracking=_section(data.get("tracking", {}), TrackingConfig, "[tracking]"),
        mail=_section(data.get("mail", {}), MailConfig, "[mail]"),
        bots=_section(data.get("bots", {}), BotsConfig, "[bots]"),
        topics=topics,
        double_opt_in=_section(data.get("double_opt_in", {}), DoubleOptInConfig, "[double_opt_in]"),
        frequency_cap=_section(data.get("frequency_cap", {}), FrequencyCapConfig, "[frequency_cap]"),
        quiet_hours=_section(data.get("quiet_hours", {}), QuietHoursConfig, "[quiet_hours]"),
        offers=_section(data.get("offers", {}), OffersConfig, "[offers]"),
        campaigns=_section(data.get("campaigns", {}), CampaignsConfig, "[campaigns]"),
    )
    _check_values(config)
    return config


def _check_values(config: Config) -> None:
    ids = [rule.id for rule in config.thresholds]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"{CONFIG_FILE}: threshold ids must be unique")
    for rule in config.thresholds:
        if not COUNTER_NAME.match(rule.counter):
            raise ConfigError(f"{CONFIG_FILE}: threshold {rule.id!r} needs a counter name like 'travel' (a-z, 0-9, _)")
        if rule.at < 1:
            raise ConfigError(f"{CONFIG_FILE}: threshold {rule.id!r} needs at >= 1")
    if not 0 <= config.birthday.local_hour <= 23:
        raise ConfigError(f"{CONFIG_FILE}: birthday local_hour must be 0..23")
    if config.birthday.catch_up_days < 0:
        raise ConfigError(f"{CONFIG_FILE}: birthday catch_up_days must be >= 0")
    if config.we_miss_you.inactive_days < 1:
        raise ConfigError(f"{CONFIG_FILE}: we_miss_you inactive_days must be >= 1")
    if config.tracking.activity_retention_days < 1:
        raise ConfigError(f"{CONFIG_FILE}: tracking activity_retention_days must be >= 1")
    if any(len(line) > 200 for line in config.mail.postal_address.splitlines()):
        raise ConfigError(f"{CONFIG_FILE}: mail postal_address lines must be at most 200 characters")
    _check_bots(config.bots)
    _check_topics(config)
    _check_pacing(config)
    if config.offers.max_per_person < 1:
        raise ConfigError(f"{CONFIG_FILE}: offers max_per_person must be >= 1")
    _check_campaigns(config.campaigns)


def _check_bots(bots: BotsConfig) -> None:
    if bots.burst_links < 2 or bots.burst_seconds < 1:
        raise ConfigError(f"{CONFIG_FILE}: bots burst_links must be >= 2 and burst_seconds >= 1")
    # The settle window must see the whole burst a click may open, and SQS delays a message 15 minutes at most.
    if not bots.burst_seconds < bots.settle_seconds <= 900:
        raise ConfigError(f"{CONFIG_FILE}: bots settle_seconds must be more than burst_seconds and at most 900")
    if any(not agent.strip() or agent != agent.lower() for agent in bots.user_agents):
        raise ConfigError(f"{CONFIG_FILE}: bots user_agents must be non-empty lower-case text")
    if not re.match(r"^https?://[^\s/]+", bots.honeypot_url):
        raise ConfigError(f"{CONFIG_FILE}: bots honeypot_url must be an absolute http(s) URL")


def _check_topics(config: Config) -> None:
    ids = config.topic_ids
    if len(ids) != len(set(ids)):
        raise ConfigError(f"{CONFIG_FILE}: topic ids must be unique")
    for topic in config.topics:
        if not TOPIC_ID.match(topic.id):
            raise ConfigError(f"{CONFIG_FILE}: topic {topic.id!r} needs an id like 'travel' (a-z, 0-9, _ or -)")
        if not topic.label.strip() or len(topic.label) > 80 or len(topic.label.splitlines()) > 1:
            raise ConfigError(f"{CONFIG_FILE}: topic {topic.id!r} needs a label of one line, at most 80 characters")
    text = config.double_opt_in.consent_text
    if not text.strip() or len(text) > 500:
        raise ConfigError(f"{CONFIG_FILE}: double_opt_in consent_text must be a sentence of at most 500 characters")
    if not 1 <= config.double_opt_in.link_valid_days <= 30:
        raise ConfigError(f"{CONFIG_FILE}: double_opt_in link_valid_days must be 1..30")


CLOCK_TIME = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")
MAX_CAP_MESSAGES = 20  # each capped send tries the slots in turn, one conditional write each


def _check_pacing(config: Config) -> None:
    cap, quiet = config.frequency_cap, config.quiet_hours
    if not 1 <= cap.messages <= MAX_CAP_MESSAGES:
        raise ConfigError(f"{CONFIG_FILE}: frequency_cap messages must be 1..{MAX_CAP_MESSAGES}")
    if not 1 <= cap.days <= 366:
        raise ConfigError(f"{CONFIG_FILE}: frequency_cap days must be 1..366")
    for name in ("start", "end"):
        if not CLOCK_TIME.match(getattr(quiet, name)):
            raise ConfigError(f'{CONFIG_FILE}: quiet_hours {name} must be a time like "21:00" (HH:MM, 00:00 to 23:59)')


def _check_campaigns(campaigns: CampaignsConfig) -> None:
    if not 1 <= campaigns.scan_segments <= 1000:
        raise ConfigError(f"{CONFIG_FILE}: campaigns scan_segments must be 1..1000")
    # A page of ids is one item: 2,000 ids of 64 characters stay well under DynamoDB's 400 KB.
    if not 10 <= campaigns.page_size <= 2000:
        raise ConfigError(f"{CONFIG_FILE}: campaigns page_size must be 10..2000")
    if not 0 <= campaigns.window_tail_days <= 90:
        raise ConfigError(f"{CONFIG_FILE}: campaigns window_tail_days must be 0..90")


@lru_cache(maxsize=4)
def load_config(content_dir: Path) -> Config:
    try:
        with open(content_dir / CONFIG_FILE, "rb") as file:
            return parse_config(tomllib.load(file))
    except FileNotFoundError as error:
        raise ConfigError(f"{CONFIG_FILE} is missing from {content_dir}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{CONFIG_FILE} is not valid TOML: {error}") from error

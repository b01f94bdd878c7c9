"""The shapes of the admin API's bodies and answers, as pydantic models: the source of GET /v1/openapi.json.

Request models gate the shape before a route runs (strict types, no unknown fields: a wrong type is a 400 naming
the field) and are dumped back to the plain JSON they were given, so the domain still decides everything finer
(address rules, DynamoDB limits, time windows, which profile exists) with its own sentences. Patterns shown in the
document come from the domain's own regular expressions; they document, the domain enforces.

Response models only document: routes answer the domain's dicts, and the Schemathesis fuzz (tests/e2e) checks
that every answer matches what is declared here. Fields a response always carries are required, even when null.

pydantic is imported here and only here (with closedloop.api.openapi): only the admin function ships it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, WithJsonSchema

from closedloop import campaigns, events, pause, profiles, saved_segments, suppression, tokens, validation

INSTANT = {"format": "date-time"}
EMAIL = {"format": "email"}


def _pattern(regex) -> dict:
    return {"pattern": regex.pattern}


# --- requests ---------------------------------------------------------------------------------------------------


def _optional_without_null_default(schema: dict, _model: type) -> None:
    """An optional field that may not be null is left out instead: its pydantic default (None) is not a value."""
    for field in schema.get("properties", {}).values():
        if field.get("default", ...) is None and "anyOf" not in field:
            del field["default"]


class RequestBody(BaseModel):
    """Strict: no coercion ("1" stays a string and is refused where a number belongs), no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra=_optional_without_null_default)

    def plain(self) -> dict:
        """The body as it was sent (only the fields it carried), for the domain to check."""
        return self.model_dump(exclude_unset=True)


# The domain checks each value (closedloop.profiles): the model only documents what it accepts.
AttributeValue = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": profiles.MAX_ATTRIBUTE_LENGTH},
                {"type": "number"},
                {"type": "null"},
            ]
        }
    ),
]


class ProfileWrite(RequestBody):
    """PUT /v1/profiles/{profile_id}: only what is sent changes; attributes merge, `null` deletes one."""

    email: str = Field(None, description="Required to create a profile; one ASCII address.", json_schema_extra=EMAIL)
    status: Literal[profiles.STATUSES] = Field(None, description="Kept when left out; a new profile is pending.")
    attributes: dict[str, AttributeValue] = Field(
        None,
        description="first_name, last_name, locale, timezone (IANA), birthday (YYYY-MM-DD) and your own: strings "
        f"(at most {profiles.MAX_ATTRIBUTE_LENGTH} characters), numbers (at most 38 digits) or null (deletes it).",
        max_length=profiles.MAX_ATTRIBUTES,
    )
    topics: list[str] = Field(None, description="The topics the person receives (configured topic ids).")


class Event(RequestBody):
    """One event, naming its profile by `profile_id` or by `email` (exactly one of the two)."""

    type: str = Field(description="e.g. purchase, cart_updated, visit", json_schema_extra=_pattern(events.EVENT_TYPE))
    profile_id: str = Field(None, json_schema_extra=_pattern(tokens.PROFILE_ID))
    email: str = Field(None, json_schema_extra=EMAIL)
    properties: dict[str, Any] = Field(
        None, description="purchase: order_id, total, currency; cart_updated: cart_id, total, currency, items."
    )
    occurred_at: str = Field(
        None,
        description="ISO 8601 with a zone, from 2000, at most 5 minutes ahead; default now.",
        json_schema_extra=INSTANT,
    )
    event_id: str = Field(
        None, description="Makes the event count once.", json_schema_extra=_pattern(validation.BUSINESS_KEY)
    )


class EventBatch(RequestBody):
    """Up to 100 events, checked whole before any is recorded."""

    events: list[Event] = Field(min_length=1, max_length=events.MAX_BATCH)


def _event_form(body: object) -> str:
    return "batch" if isinstance(body, dict) and "events" in body else "event"


# The tags name the two forms in pydantic's error locations; closedloop.api.openapi leaves them out of sentences.
EVENT_FORMS = ("event", "batch")
Events = Annotated[
    Annotated[Event, Tag("event")] | Annotated[EventBatch, Tag("batch")],
    Discriminator(_event_form),
]


class MessageRequest(RequestBody):
    """POST /v1/messages: one message through the send gate."""

    profile_id: str = Field(json_schema_extra=_pattern(tokens.PROFILE_ID))
    template: str
    idempotency_key: str = Field(
        None,
        description="The same key for the same profile sends once.",
        json_schema_extra=_pattern(validation.BUSINESS_KEY),
    )
    context: dict[str, Any] = Field(None, description="Data for the template.")
    topic: str = Field(None, description="A configured topic: people who left it are skipped.")
    transactional: bool = Field(None, description="A mail the person asked for: may go to a profile not subscribed.")
    capped: bool = Field(
        None, description="The frequency cap and quiet hours apply: it may be deferred (never if transactional)."
    )


# The domain checks the rules node by node (closedloop.segments): the model only documents the shape.
Rules = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "description": 'A rule tree: {"all": [...]}, {"any": [...]}, {"not": {...}} or a condition '
            '{"field": "attributes.country", "op": "==", "value": "DE"}.',
        }
    ),
]


class SegmentWrite(RequestBody):
    """PUT /v1/segments/{segment_id}."""

    name: str = Field(min_length=1, max_length=saved_segments.MAX_NAME)
    rules: Rules


class SegmentRules(RequestBody):
    """POST /v1/segments/preview: rules to count, without saving them."""

    rules: Rules


class SuppressionWrite(RequestBody):
    reason: Literal[suppression.REASONS] = Field(None, description="Default manual.")


class ImportUpload(RequestBody):
    upload: Literal[True] = Field(description="Answer a presigned URL to PUT a file to, instead of reading a body.")


class PauseRequest(RequestBody):
    reason: str | None = Field(None, max_length=pause.MAX_REASON_LENGTH, description="Why sending is paused.")


# --- responses --------------------------------------------------------------------------------------------------


class Answer(BaseModel):
    """Documents an answer; fields not listed may be added later (clients should ignore them)."""

    model_config = ConfigDict(extra="allow")


class Error(Answer):
    """Every error: a stable code and one sentence."""

    code: str = Field(description="e.g. invalid_input, unauthorized, profile_not_found, payload_too_large")
    message: str


class Consent(Answer):
    source: str = Field(description="api, unsubscribe_link, complaint, double_opt_in, preference_page, import")
    at: str = Field(json_schema_extra=INSTANT)


class SuppressionEntry(Answer):
    reason: str = Field(description="bounce, complaint or manual")
    at: str = Field(json_schema_extra=INSTANT)


class Profile(Answer):
    profile_id: str
    email: str
    status: Literal[profiles.STATUSES]
    attributes: dict[str, Any]
    interests: dict[str, int]
    last_activity_at: str | None = Field(json_schema_extra=INSTANT)
    created_at: str | None = Field(json_schema_extra=INSTANT)
    updated_at: str | None = Field(json_schema_extra=INSTANT)
    consent: Consent | None
    event_counts: dict[str, int]
    purchase_count: int
    revenue: dict[str, float] = Field(description="Per currency.")
    last_purchase_at: str | None = Field(json_schema_extra=INSTANT)
    cart: dict[str, Any] | None = Field(description="The open cart: id, total, currency, items, updated_at.")
    topics: list[str] | None = Field(description="null: the person never chose, and receives every topic.")
    offers_sent: dict[str, int] = Field(
        description="How often each offer (offers/<pool>.toml, by id) was sent to the person; counted when sent."
    )
    last_opened_at: str | None = Field(None, json_schema_extra=INSTANT, description="The latest open (not a bot's).")
    last_clicked_at: str | None = Field(None, json_schema_extra=INSTANT, description="The latest human click.")
    clicked_campaigns: list[str] = Field([], description="Ids of the campaigns the person clicked (human clicks).")


class ShownProfile(Profile):
    """A profile as GET answers it: with the suppression entry of its address."""

    suppression: SuppressionEntry | None


class Recorded(Answer):
    event_id: str
    recorded: bool = Field(description="false: an event with this id was recorded before; nothing changed.")


class RecordedBatch(Answer):
    results: list[Recorded]


class Queued(Answer):
    message_id: str


class MessageState(Answer):
    message_id: str
    profile_id: str
    template: str
    state: str = Field(description="queued, sent, skipped, failed, possibly_sent, held or deferred")
    reason: str = Field(None, description="Why a message was skipped, failed, held or deferred.")
    deferred_until: str = Field(
        None,
        description="deferred (quiet_hours, frequency_cap): when it passes the gate again.",
        json_schema_extra=INSTANT,
    )
    ses_message_id: str = Field(None)
    updated_at: str = Field(json_schema_extra=INSTANT)


class Sending(Answer):
    paused: bool
    reason: str | None
    since: str | None = Field(json_schema_extra=INSTANT)
    held: int = Field(description="Marketing messages held by the pause.")


class ImportStarted(Answer):
    import_id: str
    upload_url: str = Field(None, description='With {"upload": true}: PUT the CSV file here within 15 minutes.')


class ImportError(Answer):
    line: int = Field(description="The line a record starts on; the header is line 1 (0: the file as a whole).")
    reason: str


class ImportState(Answer):
    import_id: str
    status: Literal["queued", "running", "done"]
    rows: int = Field(description="Data rows in the file (0 until it has been read).")
    created: int
    updated: int
    unchanged: int
    suppressed: int = Field(description="Rows that would subscribe a suppressed, erased or withdrawn address.")
    failed: int
    errors: list[ImportError] = Field(description="The first 100 bad rows, by line.")
    created_at: str = Field(json_schema_extra=INSTANT)


class Export(Answer):
    """Everything stored about the person."""

    profile_id: str
    exported_at: str = Field(json_schema_extra=INSTANT)
    profile: Profile
    consent: Consent | None
    suppression: SuppressionEntry | None
    email_claim: dict[str, Any] | None
    events: list[dict[str, Any]]
    clicks: list[dict[str, Any]]
    opens: list[dict[str, Any]]
    activity: list[dict[str, Any]]
    sends: list[dict[str, Any]]
    held: list[dict[str, Any]]
    thresholds: list[dict[str, Any]]
    bounces: list[dict[str, Any]]
    deferred: list[dict[str, Any]] = Field(description="Messages waiting for the frequency cap or quiet hours.")


class Segment(Answer):
    id: str
    name: str
    rules: dict[str, Any]
    created_at: str = Field(json_schema_extra=INSTANT)
    updated_at: str = Field(json_schema_extra=INSTANT)


class SegmentPreview(Answer):
    count: int = Field(description="Subscribed profiles that match and whose address is not suppressed.")
    sample: list[str] = Field(description="Up to 10 of their profile ids (the smallest).")


class Document(Answer):
    """This OpenAPI document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


# --- campaigns --------------------------------------------------------------------------------------------------

CAMPAIGN_PART_ID = {"pattern": campaigns.ID.pattern}
DURATION = {"pattern": "^[1-9][0-9]{0,4}[mhdw]$"}


class Variant(RequestBody):
    id: str = Field(json_schema_extra=CAMPAIGN_PART_ID)
    subject: str = Field(None, description="Replaces the template's subject (Jinja2, the same variables).")
    template: str = Field(None, description="Default: the campaign's template.")


class AbTest(RequestBody):
    test_share: float = Field(description="The share of the audience the variants go to (0 < share < 1).")
    metric: Literal[campaigns.METRICS]
    wait: str = Field(
        description="How long after the first send the winner is chosen, e.g. 4h.", json_schema_extra=DURATION
    )
    holdout_share: float = Field(None, description="Gets nothing, measured (0 <= share < 1; test + holdout < 1).")


class Stage(RequestBody):
    id: str = Field(json_schema_extra=CAMPAIGN_PART_ID)
    after: str = Field(None, description="After the first send's start, e.g. 3d.", json_schema_extra=DURATION)
    at: str = Field(None, description="An instant after send_at (or now).", json_schema_extra=INSTANT)
    template: str
    to: Literal["not_converted"] = Field(None, description="The main stage's recipients who have not converted.")


class CampaignCreate(RequestBody):
    """POST /v1/campaigns: "template" and/or "variants"; exactly one of "segment" and "rules"."""

    name: str = Field(max_length=campaigns.MAX_NAME)
    template: str = Field(None)
    variants: list[Variant] = Field(None, min_length=1, max_length=campaigns.MAX_VARIANTS)
    segment: str = Field(None, description="A segment id (PUT /v1/segments/{id}); its rules are read at send.")
    rules: dict[str, Any] = Field(None, description="Inline segment rules (closedloop.segments).")
    topic: str = Field(None, description="A configured topic: people who left it are skipped.")
    send_at: str = Field(None, description="A future instant: /send schedules the campaign.", json_schema_extra=INSTANT)
    ab: AbTest = Field(None)
    stages: list[Stage] = Field(None, min_length=1, max_length=campaigns.MAX_STAGES)
    goal: dict[str, Any] = Field(None, description='{"click": true} or {"event": "purchase"}: what a stage excludes.')
    context: dict[str, Any] = Field(None, description="Data for the templates.")


class CampaignCreated(Answer):
    campaign_id: str
    status: Literal["draft"]


class CampaignSummary(Answer):
    campaign_id: str
    name: str
    status: Literal[campaigns.STATUSES]
    created_at: str = Field(json_schema_extra=INSTANT)
    updated_at: str = Field(json_schema_extra=INSTANT)


class Campaign(CampaignSummary):
    definition: dict[str, Any]
    send_at: str | None = Field(json_schema_extra=INSTANT)
    started_at: str | None = Field(description="When the first send started.", json_schema_extra=INSTANT)
    finished_at: str | None = Field(json_schema_extra=INSTANT)
    cancelled_at: str | None = Field(json_schema_extra=INSTANT)
    winner: str | None = Field(description="The A/B winner, once chosen.")
    phase: str | None = Field(description="audience, main, winner or done while it runs.")
    targeted: int = Field(description="The audience: people the segment targeted when the campaign was sent.")
    audience: dict[str, Any]
    progress: dict[str, Any] = Field(description="Per phase (main, winner, each stage): pages done, requests queued.")
    stats: dict[str, Any]


class CampaignList(Answer):
    campaigns: list[CampaignSummary]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: the last page.")

"""Every table, queue, API route, schedule and function of closedloop, declared once.

The CDK stack (infra/stack.py) and the local runtime (closedloop_local) both read this module, so what runs on a
laptop is what is deployed. It is plain data: importing it costs nothing and needs no aws_cdk.

Environment variables are the only channel from here into the Lambdas: each resource names the variable that
carries its name (or URL/ARN), and closedloop.settings reads exactly these names.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- data -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str
    # KEYS_ONLY keeps the scheduled checks' indexes small: a check reads ids, the sender reads the fresh profile.
    projection: str = "KEYS_ONLY"


@dataclass(frozen=True)
class Table:
    id: str
    env: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    # DynamoDB Streams view type, e.g. "NEW_AND_OLD_IMAGES"; None: no stream.
    stream: str | None = None


PROFILES = Table(
    id="profiles",
    env="PROFILES_TABLE",
    partition_key="profile_id",
    # Every write's old and new image: threshold crossings are found here, exactly, without a read on the click path.
    stream="NEW_AND_OLD_IMAGES",
    indexes=(
        # Sparse, write-sharded "due" indexes: only profiles that can be due carry the attributes, spread over
        # closedloop.due.DUE_SHARDS partitions; a check queries each shard for sort key <= now.
        Index(name="birthday_due", partition_key="bday_shard", sort_key="bday_due_at"),
        Index(name="idle_due", partition_key="idle_shard", sort_key="idle_due_at"),
    ),
)
ACTIVITY = Table(
    id="activity", env="ACTIVITY_TABLE", partition_key="profile_id", sort_key="sk", ttl_attribute="expires_at"
)
# Business-key ledger: send reservations, threshold claims, content-addressed link sets, address claims and the
# suppression list share one table, told apart by key prefix (send#, threshold#, links#, email#, suppressed#,
# bounces#; double opt-in: confirm-slot#, confirmed#).
LEDGER = Table(
    id="ledger",
    env="LEDGER_TABLE",
    partition_key="pk",
    ttl_attribute="expires_at",
    indexes=(
        # Sparse: every ledger item that names a profile (address claim, message status, send key, threshold
        # claim) carries profile_id, so a GDPR export or erasure finds them without a scan. ALL: the export reads
        # the records from the index itself.
        Index(name="by_profile", partition_key="profile_id", sort_key="pk", projection="ALL"),
    ),
)
# Marketing messages held by a sending pause (closedloop.pause), per profile: an erasure finds a person's held
# messages with one query, and the release job scans the table, which holds nothing but the backlog to release.
HELD = Table(id="held", env="HELD_TABLE", partition_key="profile_id", sort_key="send_key")

# Segments, campaigns and what a campaign keeps while it runs (its audience pages, its statistics counters), each
# under its own partition: `segment#<id>`, `campaign#<id>` (items told apart by sort key), `campaigns` (the list).
CAMPAIGNS = Table(id="campaigns", env="CAMPAIGNS_TABLE", partition_key="pk", sort_key="sk", ttl_attribute="expires_at")

# Sends waiting beyond SQS's 15-minute delay (frequency cap, quiet hours): write-sharded due items
# (closedloop.due_items), partition `deferred#<crc32(send key) % 8>`, sort key `<due instant>#<send key>`, the
# request JSON; the deferrals tick queries only the due range of each shard. by_profile: a GDPR export or erasure
# finds a person's waiting messages.
DEFERRED = Table(
    id="deferred",
    env="DEFERRED_TABLE",
    partition_key="shard",
    sort_key="due_key",
    ttl_attribute="expires_at",
    indexes=(Index(name="by_profile", partition_key="profile_id", sort_key="due_key", projection="ALL"),),
)

TABLES = (PROFILES, ACTIVITY, LEDGER, HELD, CAMPAIGNS, DEFERRED)

# --- queues and bus ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    id: str
    env: str
    max_receive_count: int = 5


SEND_QUEUE = Queue(id="send", env="SEND_QUEUE_URL", max_receive_count=5)
# Clicks on their way to being stored and, after the settle window (a delayed message), decided; opens whose
# recording failed.
REACTIONS_QUEUE = Queue(id="reactions", env="REACTIONS_QUEUE_URL", max_receive_count=8)
# Release jobs after a sending pause: each job releases pages of held messages and queues its own continuation.
RELEASE_QUEUE = Queue(id="release", env="RELEASE_QUEUE_URL", max_receive_count=5)
# CSV imports: the bucket's notifications of new files, and the chunks each file is split into.
IMPORT_FILES_QUEUE = Queue(id="import-files", env="IMPORT_FILES_QUEUE_URL", max_receive_count=3)
IMPORT_CHUNKS_QUEUE = Queue(id="import-chunks", env="IMPORT_CHUNKS_QUEUE_URL", max_receive_count=5)
# Campaign dispatch jobs (closedloop.dispatch): audience scan pages, fan-outs, page sends, the A/B winner, stages.
DISPATCH_QUEUE = Queue(id="dispatch", env="DISPATCH_QUEUE_URL", max_receive_count=5)
QUEUES = (SEND_QUEUE, REACTIONS_QUEUE, RELEASE_QUEUE, IMPORT_FILES_QUEUE, IMPORT_CHUNKS_QUEUE, DISPATCH_QUEUE)

# --- buckets ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """An S3 bucket: private, TLS only, encrypted; objects under `prefix` expire after `expire_days` and each new
    one is announced on `notifies` (S3 event notification to an SQS queue)."""

    id: str
    env: str
    prefix: str
    expire_days: int
    notifies: Queue | None = None


# CSV files to import, whether posted to the API or uploaded through a presigned URL: transient personal data.
IMPORTS_BUCKET = Bucket(
    id="imports", env="IMPORTS_BUCKET", prefix="uploads/", expire_days=2, notifies=IMPORT_FILES_QUEUE
)
BUCKETS = (IMPORTS_BUCKET,)

BUS_ENV = "EVENT_BUS_NAME"
EVENT_SOURCE = "closedloop"
# Which bus a rule listens on: closedloop's own (domain events) or the account's default bus, the only one SES
# publishes configuration-set events to.
CLOSEDLOOP_BUS = "closedloop"
DEFAULT_BUS = "default"
SES_SOURCE = "aws.ses"
CLOUDWATCH_SOURCE = "aws.cloudwatch"  # alarm state changes, on the default bus

# --- secrets ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    id: str
    env: str
    # Shape of the generated secret: a JSON object with this template plus one generated key.
    template: str
    generated_key: str


TRACKING_KEYS = Secret(id="tracking-keys", env="TRACKING_KEYS_SECRET", template='{"current": "k1"}', generated_key="k1")
API_KEY = Secret(id="api-key", env="API_KEY_SECRET", template="{}", generated_key="api_key")
# The key of the erased-address hashes (HMAC-SHA256) on the suppression list, by key id like the tracking keys.
ERASURE_KEY = Secret(id="erasure-key", env="ERASURE_KEY_SECRET", template='{"current": "e1"}', generated_key="e1")
SECRETS = (TRACKING_KEYS, API_KEY, ERASURE_KEY)

# --- HTTP APIs --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    id: str
    public: bool
    # Variable through which a function learns the API's base URL (to build links that point at it); None: no
    # function needs to.
    url_env: str | None = None


TRACKING_API = Api(id="tracking", public=True, url_env="TRACKING_BASE_URL")
ADMIN_API = Api(id="admin", public=False)
APIS = (TRACKING_API, ADMIN_API)


@dataclass(frozen=True)
class Route:
    api: Api
    method: str
    path: str  # API Gateway syntax: /r/{token}, /v1/{proxy+}


# --- triggers ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueTrigger:
    queue: Queue
    batch_size: int = 10
    # SQS event source maxConcurrency: bounds the pressure on SES and on DynamoDB partitions.
    max_concurrency: int = 5


@dataclass(frozen=True)
class StreamTrigger:
    """A DynamoDB stream of a table. Records of one item arrive in order; failures retry, then dead-letter."""

    table: Table
    batch_size: int = 100
    max_retries: int = 10


@dataclass(frozen=True)
class RuleTrigger:
    """An EventBridge rule: events of `source` with one of `detail_types`, on `bus` (CLOSEDLOOP_BUS or DEFAULT_BUS)."""

    id: str
    detail_types: tuple[str, ...]
    source: str = EVENT_SOURCE
    bus: str = CLOSEDLOOP_BUS
    # An EventBridge pattern for the event's detail (e.g. {"state": {"value": ["ALARM"]}}); None: any detail.
    detail: dict | None = None

    def __post_init__(self) -> None:
        if self.bus not in (CLOSEDLOOP_BUS, DEFAULT_BUS):
            raise ValueError(f"rule {self.id}: bus must be {CLOSEDLOOP_BUS!r} or {DEFAULT_BUS!r}, not {self.bus!r}")

    @property
    def pattern(self) -> dict:
        """The rule's event pattern, as EventBridge takes it."""
        pattern = {"source": [self.source], "detail-type": list(self.detail_types)}
        if self.detail:
            pattern["detail"] = self.detail
        return pattern


@dataclass(frozen=True)
class ScheduleTrigger:
    """An EventBridge Scheduler schedule. The handler receives {"schedule": name}."""

    name: str
    expression: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class OneTimeSchedules:
    """A group of one-time EventBridge Scheduler schedules (`at(...)`, deleted after they fire) whose target is a
    queue: the schedule puts its input (a job) on it, assuming a role the stack creates for that queue alone.
    Functions that create schedules in the group declare it in `creates_schedules`."""

    id: str
    group_env: str  # the schedule group's name
    role_env: str  # the ARN of the role the schedules assume (iam:PassRole on it alone)
    target: Queue
    target_arn_env: str  # the target queue's ARN


CAMPAIGN_SCHEDULES = OneTimeSchedules(
    id="campaigns",
    group_env="SCHEDULE_GROUP",
    role_env="SCHEDULE_ROLE_ARN",
    target=DISPATCH_QUEUE,
    target_arn_env="DISPATCH_QUEUE_ARN",
)
ONE_TIME_SCHEDULES = (CAMPAIGN_SCHEDULES,)


# --- functions --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    name: str
    # Folder under functions/ holding handler.py with a `handler(event, context)`.
    folder: str
    description: str
    routes: tuple[Route, ...] = ()
    queue_trigger: QueueTrigger | None = None
    stream_trigger: StreamTrigger | None = None
    rule_trigger: RuleTrigger | None = None
    schedule: ScheduleTrigger | None = None
    # Least privilege, stated as intent; the stack turns these into grants.
    reads: tuple[Table, ...] = ()
    writes: tuple[Table, ...] = ()
    sends_to: tuple[Queue, ...] = ()
    secrets: tuple[Secret, ...] = ()
    # Objects under a bucket's prefix: read (GetObject) and written (PutObject, presigned PUT URLs).
    reads_objects: tuple[Bucket, ...] = ()
    writes_objects: tuple[Bucket, ...] = ()
    publishes_events: bool = False
    sends_email: bool = False
    # Which API base URLs the function needs (to render tracking links); each must have a url_env.
    knows_urls: tuple[Api, ...] = ()
    memory_mb: int = 256
    timeout_s: int = 10
    # Reads templates/ or config/ (closedloop.services.config(), the renderer): gets the content layer.
    uses_content: bool = False
    # Imports pydantic (the admin API's OpenAPI validation): gets the pydantic layer. No other function ships it.
    uses_pydantic: bool = False
    # One-time schedule groups the function creates and deletes schedules in (scheduler:Create/DeleteSchedule on
    # the group, iam:PassRole on its role).
    creates_schedules: tuple[OneTimeSchedules, ...] = ()
    # Reads the SES account's sending quota (ses:GetAccount: the maximum send rate).
    reads_send_quota: bool = False

    def __post_init__(self) -> None:
        for api in self.knows_urls:
            if api.url_env is None:
                raise ValueError(f"{self.name} knows the {api.id} API's URL, but that API declares no url_env")

    @property
    def handler_module(self) -> str:
        """Dotted module path of the handler, as the local runtime imports it."""
        return f"functions.{self.folder}.handler"


CLICK = Function(
    name="click",
    folder="click",
    description="Public redirect for tracked links; hands the click to the reactions queue, which decides it.",
    # HEAD too: scanners probe links with it, and they get their redirect (a HEAD is never a person's click).
    routes=(Route(TRACKING_API, "GET", "/r/{token}"), Route(TRACKING_API, "HEAD", "/r/{token}")),
    reads=(LEDGER,),  # link sets
    sends_to=(REACTIONS_QUEUE,),  # its one AWS call: the click, to be stored and settled
    secrets=(TRACKING_KEYS,),
    uses_content=True,  # config: the user agents of scanners
    memory_mb=512,
    timeout_s=5,
)
OPEN = Function(
    name="open",
    folder="open",
    description="Public open pixel; records the open.",
    routes=(Route(TRACKING_API, "GET", "/o/{token}"), Route(TRACKING_API, "HEAD", "/o/{token}")),
    reads=(PROFILES,),  # the open is stored in one transaction with a check that its profile exists
    # PROFILES: last_opened_at; CAMPAIGNS: a campaign's open is counted (opens_unique) in the same transaction.
    writes=(ACTIVITY, PROFILES, CAMPAIGNS),
    sends_to=(REACTIONS_QUEUE,),
    secrets=(TRACKING_KEYS,),
    uses_content=True,  # config: activity retention (tracking.record_or_defer reads services.config())
    timeout_s=5,
)
UNSUBSCRIBE = Function(
    name="unsubscribe",
    folder="unsubscribe",
    description="Public unsubscribe page (GET shows a form, POST unsubscribes; RFC 8058 one-click).",
    routes=(Route(TRACKING_API, "GET", "/u/{token}"), Route(TRACKING_API, "POST", "/u/{token}")),
    reads=(PROFILES,),
    writes=(PROFILES, CAMPAIGNS),  # CAMPAIGNS: an unsubscribe from a campaign's mail is counted once
    secrets=(TRACKING_KEYS,),
    timeout_s=5,
)
ADMIN = Function(
    name="admin-api",
    folder="admin_api",
    description="Authenticated admin API: profiles, events, messages.",
    routes=(
        Route(ADMIN_API, "PUT", "/v1/profiles/{profile_id}"),
        Route(ADMIN_API, "GET", "/v1/profiles"),
        Route(ADMIN_API, "GET", "/v1/profiles/{profile_id}"),
        Route(ADMIN_API, "POST", "/v1/events"),
        Route(ADMIN_API, "POST", "/v1/messages"),
        Route(ADMIN_API, "GET", "/v1/messages/{message_id}"),
        Route(ADMIN_API, "GET", "/v1/suppressions/{email}"),
        Route(ADMIN_API, "PUT", "/v1/suppressions/{email}"),
        Route(ADMIN_API, "DELETE", "/v1/suppressions/{email}"),
        Route(ADMIN_API, "GET", "/v1/sending"),
        Route(ADMIN_API, "POST", "/v1/sending/pause"),
        Route(ADMIN_API, "POST", "/v1/sending/resume"),
        Route(ADMIN_API, "GET", "/v1/profiles/{profile_id}/export"),
        Route(ADMIN_API, "DELETE", "/v1/profiles/{profile_id}"),
        Route(ADMIN_API, "POST", "/v1/imports"),
        Route(ADMIN_API, "GET", "/v1/imports/{import_id}"),
        Route(ADMIN_API, "GET", "/v1/openapi.json"),
        Route(ADMIN_API, "PUT", "/v1/segments/{segment_id}"),
        Route(ADMIN_API, "GET", "/v1/segments/{segment_id}"),
        Route(ADMIN_API, "POST", "/v1/segments/{segment_id}/preview"),
        Route(ADMIN_API, "POST", "/v1/segments/preview"),
        Route(ADMIN_API, "POST", "/v1/campaigns"),
        Route(ADMIN_API, "GET", "/v1/campaigns"),
        Route(ADMIN_API, "GET", "/v1/campaigns/{campaign_id}"),
        Route(ADMIN_API, "POST", "/v1/campaigns/{campaign_id}/send"),
        Route(ADMIN_API, "POST", "/v1/campaigns/{campaign_id}/pause"),
        Route(ADMIN_API, "POST", "/v1/campaigns/{campaign_id}/resume"),
        Route(ADMIN_API, "POST", "/v1/campaigns/{campaign_id}/cancel"),
    ),
    # The ledger: the status record of each message it accepts, read back by GET /v1/messages/{message_id}.
    # Activity, held and deferred: a GDPR export reads and an erasure deletes what they hold about the person.
    # Campaigns: saved segments (a preview scans the profiles, reading suppression entries in the ledger); campaign
    # definitions and their lifecycle.
    reads=(PROFILES, LEDGER, ACTIVITY, HELD, DEFERRED, CAMPAIGNS),
    writes=(PROFILES, ACTIVITY, LEDGER, HELD, DEFERRED, CAMPAIGNS),
    # Resuming a sending pause queues the release job; sending or resuming a campaign queues dispatch jobs.
    sends_to=(SEND_QUEUE, RELEASE_QUEUE, DISPATCH_QUEUE),
    # A campaign's send_at (a one-time schedule); cancel deletes its pending schedules.
    creates_schedules=(CAMPAIGN_SCHEDULES,),
    # The API key is checked in the function (constant time) so a missing and a wrong key both get 401, locally
    # and in the cloud alike; see ARCHITECTURE.md "Admin authentication in the function". The erasure key hashes
    # an erased address onto the suppression list (and finds it there).
    secrets=(API_KEY, ERASURE_KEY),
    # Every recorded event goes on the bus as event.recorded, for the automations that react to it.
    publishes_events=True,
    uses_content=True,  # config (profile due dates, activity) and templates (POST /v1/messages renders a preview)
    # POST /v1/imports stores the posted CSV, or signs a PUT URL for a larger one, under the bucket's prefix.
    writes_objects=(IMPORTS_BUCKET,),
    uses_pydantic=True,  # the request models and GET /v1/openapi.json (closedloop.api.models)
    # A segment preview reads every profile (parallel scan) within API Gateway's 30 s integration limit.
    timeout_s=29,
    memory_mb=1024,
)
SENDER = Function(
    name="sender",
    folder="sender",
    description="The send gate: consent, ledger, render, SES.",
    queue_trigger=QueueTrigger(SEND_QUEUE, batch_size=10, max_concurrency=5),
    # CAMPAIGNS: a campaign's status once per batch (paused: its requests are parked there; cancelled: skipped);
    # a throttle slows the campaign's pacing; a campaign message's outcome is counted in its statistics.
    reads=(PROFILES, LEDGER, CAMPAIGNS),
    # HELD: a marketing message that meets a sending pause is held there. DEFERRED: a capped message that must wait
    # beyond SQS's 15-minute delay (quiet hours, frequency cap). PROFILES: a sent mail's offers are added to
    # offers_sent in the transaction that marks it sent (closedloop.offers).
    writes=(LEDGER, HELD, DEFERRED, PROFILES, CAMPAIGNS),
    sends_to=(SEND_QUEUE,),
    # ERASURE_KEY: the gate refuses an erased address by its keyed hash.
    secrets=(TRACKING_KEYS, ERASURE_KEY),
    sends_email=True,
    knows_urls=(TRACKING_API,),
    uses_content=True,  # templates: it renders every mail
    memory_mb=512,
    timeout_s=30,
)
REACTIONS = Function(
    name="reactions",
    folder="reactions",
    description="Stores clicks, settles them after the settle window (a person's moves the profile, a bot's "
    "nothing), and records opens whose synchronous recording failed.",
    queue_trigger=QueueTrigger(REACTIONS_QUEUE, batch_size=10, max_concurrency=5),
    # The clicks of a message (bot scoring); the profile's existence check in the recording transaction.
    # CAMPAIGNS: a campaign's clicks are counted (and its goal read, for a click goal); LEDGER: the converted key
    # of a click goal's conversion.
    reads=(PROFILES, ACTIVITY, CAMPAIGNS),
    writes=(PROFILES, ACTIVITY, CAMPAIGNS, LEDGER),
    sends_to=(REACTIONS_QUEUE,),  # a stored click comes back to itself after the settle window
    uses_content=True,  # config: the bot rules and the settle window; activity retention
    timeout_s=30,
)
THRESHOLD_CROSSINGS = Function(
    name="threshold-crossings",
    folder="threshold_crossings",
    description="Profiles stream: fires threshold.crossed once per profile and rule.",
    stream_trigger=StreamTrigger(PROFILES),
    reads=(LEDGER,),
    writes=(LEDGER,),
    publishes_events=True,
    uses_content=True,  # config: the threshold rules
    timeout_s=30,
)
THRESHOLD_FOLLOW_UP = Function(
    name="threshold-follow-up",
    folder="threshold_follow_up",
    description="Turns a threshold.crossed domain event into a send request.",
    rule_trigger=RuleTrigger(id="threshold-crossed", detail_types=("threshold.crossed",)),
    sends_to=(SEND_QUEUE,),  # the event carries the template: no content needed
)
FEEDBACK = Function(
    name="feedback",
    folder="feedback",
    description="SES feedback: bounces and complaints suppress the address; a complaint also unsubscribes.",
    # SES publishes the configuration set's events to the account's default bus only (constructs/sending.py).
    rule_trigger=RuleTrigger(
        id="ses-feedback",
        detail_types=(
            "Email Bounced",
            "Email Complaint Received",
            "Email Delivered",
            "Email Rejected",
            "Email Delivery Delayed",
        ),
        source=SES_SOURCE,
        bus=DEFAULT_BUS,
    ),
    # The suppression list and transient bounces (ledger); a complaint finds the address's profile through its
    # claim (ledger) and unsubscribes it (profiles).
    reads=(PROFILES, LEDGER),
    # CAMPAIGNS: a campaign mail's delivery, bounce or complaint is counted (SES puts the campaign in its tags).
    writes=(PROFILES, LEDGER, CAMPAIGNS),
    timeout_s=30,
)
RELEASE = Function(
    name="release",
    folder="release",
    description="After a sending pause: puts the held messages back on the send queue, page by page.",
    queue_trigger=QueueTrigger(RELEASE_QUEUE, batch_size=1, max_concurrency=2),
    reads=(LEDGER, HELD),  # the pause state (a new pause stops the job); the held messages
    writes=(HELD,),
    sends_to=(SEND_QUEUE, RELEASE_QUEUE),  # the released messages; the job's own continuation
    timeout_s=300,
)
REPUTATION_ALARM = Function(
    name="reputation-alarm",
    folder="reputation_alarm",
    description="Pauses sending when an SES reputation alarm (bounce or complaint rate) goes into ALARM.",
    # CloudWatch puts every alarm state change on the account's default bus; the function pauses only for the
    # SES reputation metrics (closedloop.pause.REPUTATION_METRICS) and ignores every other alarm.
    rule_trigger=RuleTrigger(
        id="reputation-alarm",
        detail_types=("CloudWatch Alarm State Change",),
        source=CLOUDWATCH_SOURCE,
        bus=DEFAULT_BUS,
        detail={"state": {"value": ["ALARM"]}},
    ),
    reads=(LEDGER,),
    writes=(LEDGER,),  # the pause state
)
BIRTHDAY = Function(
    name="birthday",
    folder="birthday",
    description="Hourly: sends the birthday mail to profiles whose birthday morning has come.",
    schedule=ScheduleTrigger(name="birthday", expression="rate(1 hour)"),
    reads=(PROFILES,),
    writes=(PROFILES,),
    sends_to=(SEND_QUEUE,),
    uses_content=True,  # config: the check's template and timing
    timeout_s=300,
)
WE_MISS_YOU = Function(
    name="we-miss-you",
    folder="we_miss_you",
    description="Daily: sends we-miss-you to profiles silent for the configured number of days.",
    schedule=ScheduleTrigger(name="we-miss-you", expression="cron(0 8 * * ? *)", timezone="UTC"),
    reads=(PROFILES,),
    writes=(PROFILES,),
    sends_to=(SEND_QUEUE,),
    uses_content=True,  # config: the check's template and timing
    timeout_s=300,
)
DEFERRALS = Function(
    name="deferrals",
    folder="deferrals",
    description="Every minute: puts deferred sends that fell due (quiet hours, frequency cap) back on the send queue.",
    schedule=ScheduleTrigger(name="deferrals", expression="rate(1 minute)"),
    # Queries each shard's due range (strongly consistent), deletes what it handed on.
    reads=(DEFERRED,),
    writes=(DEFERRED,),
    sends_to=(SEND_QUEUE,),
    timeout_s=60,  # shorter than the rate: ticks do not overlap; each stops with time to spare
)
IMPORT_FILES = Function(
    name="import-files",
    folder="import_files",
    description="CSV import: checks a new file in the imports bucket and splits it into chunks of rows.",
    queue_trigger=QueueTrigger(IMPORT_FILES_QUEUE, batch_size=1, max_concurrency=2),
    reads=(LEDGER,),  # the import's record (its options)
    writes=(LEDGER,),  # rows and chunks planned, or why the file was refused
    reads_objects=(IMPORTS_BUCKET,),
    sends_to=(IMPORT_CHUNKS_QUEUE,),
    memory_mb=512,
    timeout_s=300,
)
IMPORT_CHUNKS = Function(
    name="import-chunks",
    folder="import_chunks",
    description="CSV import: imports one chunk of rows into profiles and counts it once.",
    queue_trigger=QueueTrigger(IMPORT_CHUNKS_QUEUE, batch_size=1, max_concurrency=4),
    reads=(PROFILES, LEDGER),  # profiles, address claims, the suppression list, the chunk's record
    writes=(PROFILES, LEDGER),  # profiles with their claims; the chunk's record and the import's counters
    reads_objects=(IMPORTS_BUCKET,),
    secrets=(ERASURE_KEY,),  # an erased person is found by the keyed hash of their address, and not imported
    uses_content=True,  # config: a profile's due dates (birthday, we-miss-you)
    memory_mb=512,
    timeout_s=60,
)

DISPATCH = Function(
    name="dispatch",
    folder="dispatch",
    description="Campaign dispatch: scans the audience page by page, then queues each page's send requests, paced.",
    queue_trigger=QueueTrigger(DISPATCH_QUEUE, batch_size=1, max_concurrency=8),
    # Profiles: the audience scan; ledger: holdout records written, conversions read; suppression entries.
    reads=(PROFILES, LEDGER, CAMPAIGNS),
    writes=(LEDGER, CAMPAIGNS),
    sends_to=(SEND_QUEUE, DISPATCH_QUEUE),  # send requests; its own next jobs
    creates_schedules=(CAMPAIGN_SCHEDULES,),  # the A/B winner and each stage, once the first send started
    reads_send_quota=True,  # pacing follows the SES account's maximum send rate
    uses_content=True,  # config: [campaigns] scan_segments
    memory_mb=512,
    timeout_s=120,
)

SUBSCRIBE = Function(
    name="subscribe",
    folder="subscribe",
    description="Public sign-up (GET shows the form, POST starts a double opt-in: the same answer for every address).",
    routes=(Route(TRACKING_API, "GET", "/subscribe"), Route(TRACKING_API, "POST", "/subscribe")),
    # The address's claim finds its profile (ledger); a new address gets a pending profile and its claim in one
    # transaction; the confirmation-mail slots of the address are ledger items.
    reads=(PROFILES, LEDGER),
    writes=(PROFILES, LEDGER),
    sends_to=(SEND_QUEUE,),  # the confirm mail goes through the send gate (transactional)
    secrets=(TRACKING_KEYS,),  # signs the confirm link
    knows_urls=(TRACKING_API,),  # the confirm link points at /c/{token}
    uses_content=True,  # config: topics and the double opt-in settings
    timeout_s=10,
)
CONFIRM = Function(
    name="confirm",
    folder="confirm",
    description="Public double opt-in confirmation (GET shows a Confirm button and changes nothing; POST subscribes).",
    routes=(Route(TRACKING_API, "GET", "/c/{token}"), Route(TRACKING_API, "POST", "/c/{token}")),
    # The profile with its consent proof and the address claim it keeps (one transaction); the confirmation claim;
    # the erased hash of the address, which the person's own confirmation lifts (ledger, with ERASURE_KEY).
    reads=(PROFILES, LEDGER),
    writes=(PROFILES, LEDGER),
    sends_to=(SEND_QUEUE,),  # the welcome mail, once per profile
    secrets=(TRACKING_KEYS, ERASURE_KEY),
    publishes_events=True,  # signup.confirmed
    uses_content=True,  # config: the consent sentence, topics, the welcome template's name
    timeout_s=10,
)
PREFERENCES = Function(
    name="preferences",
    folder="preferences",
    description="Public preference page (GET shows the topics; POST saves them or unsubscribes from all).",
    routes=(Route(TRACKING_API, "GET", "/p/{token}"), Route(TRACKING_API, "POST", "/p/{token}")),
    reads=(PROFILES,),
    writes=(PROFILES, CAMPAIGNS),  # CAMPAIGNS: leaving from a campaign mail's preference page counts as unsubscribe
    secrets=(TRACKING_KEYS,),
    uses_content=True,  # config: the topics
    timeout_s=5,
)
CONVERSIONS = Function(
    name="conversions",
    folder="conversions",
    description="Counts a campaign conversion once when an integrator's event reaches a campaign's event goal.",
    rule_trigger=RuleTrigger(id="event-recorded-conversions", detail_types=("event.recorded",)),
    # The campaign's goal and window (CAMPAIGNS), the campaigns that reached the person (LEDGER: by_profile);
    # the converted key (LEDGER) and the counters (CAMPAIGNS), in one transaction.
    reads=(LEDGER, CAMPAIGNS),
    writes=(LEDGER, CAMPAIGNS),
    timeout_s=30,
)

FUNCTIONS = (
    CLICK,
    OPEN,
    UNSUBSCRIBE,
    ADMIN,
    SENDER,
    REACTIONS,
    THRESHOLD_CROSSINGS,
    THRESHOLD_FOLLOW_UP,
    FEEDBACK,
    BIRTHDAY,
    WE_MISS_YOU,
    RELEASE,
    REPUTATION_ALARM,
    SUBSCRIBE,
    CONFIRM,
    PREFERENCES,
    IMPORT_FILES,
    IMPORT_CHUNKS,
    DEFERRALS,
    CONVERSIONS,
    DISPATCH,
)

# SQS visibility must outlast every retry of the consumer's batch (AWS guidance: six times the function timeout).
VISIBILITY_TIMEOUT_FACTOR = 6


def consumer_of(queue: Queue) -> Function:
    """The one function that drains a queue."""
    (function,) = [f for f in FUNCTIONS if f.queue_trigger and f.queue_trigger.queue == queue]
    return function


def schedules() -> dict[str, Function]:
    """Scheduled functions by schedule name."""
    return {f.schedule.name: f for f in FUNCTIONS if f.schedule}


def environment_names(function: Function) -> dict[str, str]:
    """The variables a function receives, mapped to the resource id each one names (see module docstring)."""
    names: dict[str, str] = {}
    for table in {*function.reads, *function.writes}:
        names[table.env] = table.id
    for queue in function.sends_to:
        names[queue.env] = queue.id
    for secret in function.secrets:
        names[secret.env] = secret.id
    for api in function.knows_urls:
        names[api.url_env] = api.id
    for bucket in {*function.reads_objects, *function.writes_objects}:
        names[bucket.env] = bucket.id
    if function.publishes_events:
        names[BUS_ENV] = "bus"
    for group in function.creates_schedules:
        names[group.group_env] = group.id
        names[group.role_env] = group.id
        names[group.target_arn_env] = group.target.id
    return names


# Variables every function receives besides its resources'. Values come from cdk.json context in the cloud and
# from the local runtime on a laptop.
SENDER_ENV = "SENDER_ADDRESS"  # the verified SES identity mail is sent from
CONFIGURATION_SET_ENV = "SES_CONFIGURATION_SET"
CONTENT_DIR_ENV = "CONTENT_DIR"  # folder holding templates/ and config/ (the content layer at /opt/content)
COMMON_ENV = (SENDER_ENV, CONFIGURATION_SET_ENV, CONTENT_DIR_ENV)

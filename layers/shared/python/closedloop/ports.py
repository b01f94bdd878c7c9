"""The collaborators domain code needs, in domain words; closedloop.adapters and the tests' fakes implement them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from closedloop.values import Activity, CampaignRef, ClickRecord, DueEntry, Link, MessageStatus

if TYPE_CHECKING:
    from closedloop.conversions import Touch
    from closedloop.due_items import DueItem
    from closedloop.imports import Chunk as ImportChunk
    from closedloop.imports import ImportRecord, ProfileWriteOp
    from closedloop.imports import Snapshot as ImportSnapshot
    from closedloop.mail import OutgoingMail
    from closedloop.pause import Held, Pause
    from closedloop.privacy import Record
    from closedloop.profiles import Profile, ProfileChange
    from closedloop.sending import SendRequest
    from closedloop.suppression import Screen, Suppression


class ProfileStore(Protocol):
    """Profiles and their due entries. The rules of a change live in closedloop.profiles; a store applies them."""

    def get(self, profile_id: str, consistent: bool = False) -> Profile | None: ...

    def save(self, change: ProfileChange, now: datetime, existing: Profile | None) -> tuple[Profile, bool]:
        """Write the change if the stored profile is still `existing` (its version; None: it must not exist).

        Keeps interests and activity; starts the idle entry only if none is running; claims the address for this
        profile and releases the previous one, in the same atomic write. Returns the profile and whether it was
        created; raises ConcurrentUpdate when someone wrote the profile meanwhile, EmailTaken when another profile
        holds the address.
        """

    def find_by_email(self, email: str) -> Profile | None:
        """The profile holding this (normalised) address."""

    def due(self, index: str, now_key: str) -> Iterator[DueEntry]:
        """Entries of a due index ('birthday' or 'idle') whose sort key is <= now_key, across all shards."""

    def move_due(self, index: str, profile_id: str, seen: str, new: str | None) -> bool:
        """Replace a due entry (or remove it, new=None) if it is still `seen`; False if it changed meanwhile."""

    def set_status(self, profile_id: str, status: str, now: datetime, consent: dict) -> bool:
        """Change the status with its consent record (a version change); anything but subscribed leaves both due
        indexes. False: no profile."""

    def set_topics(self, profile_id: str, topics: tuple[str, ...], now: datetime) -> bool:
        """Replace the topics the person receives (a version change); False: no profile."""


class ActivityLog(Protocol):
    def record_activity(self, activity: Activity, idle_due: str | None, expires_at: int) -> bool:
        """Store the activity and apply it to the profile atomically; False if it was recorded before.

        Counters always move; `last_activity_at` only forward; the idle entry moves to `idle_due` only while the
        profile is subscribed. Raises ProfileNotFound when the profile does not exist.
        """

    def put_click(self, activity: Activity, expires_at: int) -> bool:
        """Store a click, pending (or a bot's, when `bot_reason` is set), moving nothing; False if stored before."""

    def clicks_of(self, profile_id: str, message_id: str) -> list[ClickRecord]:
        """Every stored click of one message by one profile, strongly consistent."""

    def settle_click(self, activity: Activity, bot_reason: str | None, idle_due: str | None) -> bool:
        """Settle a pending click: a bot's moves nothing; a person's is applied to the profile as `record_activity`
        applies an activity, atomically with its verdict. False if it was settled before (or never stored).
        Raises ProfileNotFound when a person's click finds no profile."""


class LinkSets(Protocol):
    """Content-addressed link sets: what a click token's link set and number point at."""

    def put(self, link_set: str, links: list[Link], campaign: CampaignRef | None = None) -> None:
        """Store a link set (idempotent: its id is its hash), with the campaign its message belongs to."""

    def get(self, link_set: str) -> list[Link] | None: ...

    def campaign_of(self, link_set: str) -> CampaignRef | None:
        """The campaign of a link set `get` has found (no I/O: read with the links)."""


class Ledger(Protocol):
    """Conditional writes keyed by business keys: the memory that makes effects exactly-once."""

    def reserve_send(self, send_key: str, message_id: str, now: datetime, profile_id: str | None = None) -> bool:
        """True if this call reserved the key; False if any earlier attempt did. `profile_id` is recorded with the
        key so a GDPR erasure finds it."""

    def release_send(self, send_key: str) -> None:
        """Forget a reservation whose send provably did not happen (the provider refused it)."""

    def mark_sent(
        self,
        send_key: str,
        status: MessageStatus,
        offers: Sequence[str] = (),
        campaign: CampaignRef | None = None,
    ) -> None:
        """Record the send as done, and the message's status, in one write, if the key is still reserved (a repeated
        call changes nothing); the same write adds 1 to the profile's `offers_sent` per offer id shown, and for a
        campaign's mail 1 to its `sent` counter (and notes the variant on the send key)."""

    def mark_possibly_sent(self, send_key: str, status: MessageStatus) -> None:
        """Keep the reservation (never resend) and record that the provider may or may not have the message."""

    def put_message_status(self, status: MessageStatus, *, only_if_new: bool = False) -> bool:
        """Record what became of a message; with only_if_new, never overwrite an earlier status (False then)."""

    def get_message_status(self, message_id: str) -> MessageStatus | None: ...

    def claim_threshold(self, rule_id: str, profile_id: str, now: datetime) -> str:
        """'claimed' for the first caller ever; else 'published' or 'pending:<iso claimed at>'."""

    def mark_threshold_published(self, rule_id: str, profile_id: str) -> None: ...


class Suppressions(Protocol):
    """The suppression list, by normalised address, and the transient bounces that count towards it."""

    def get(self, address: str) -> Suppression | None:
        """The entry for this address (strongly consistent: a suppression a moment ago must stop a send)."""

    def put(self, entry: Suppression, *, only_if_new: bool = False) -> bool:
        """Store the entry; with only_if_new an existing entry stands (False then)."""

    def delete(self, address: str) -> bool:
        """Lift the suppression; False if there was none."""

    def note_transient_bounce(self, address: str, mail_id: str, at: datetime, expires_at: int) -> dict[str, str]:
        """Remember that mail `mail_id` bounced transiently at `at` (idempotent by mail id) until `expires_at`
        (epoch seconds); returns every remembered bounce of the address: mail id -> ISO instant."""

    def screen(self, keys: Sequence[str]) -> Screen:
        """The first entry stored under `keys` (an address, then its erased hashes) and the sending pause, in one
        strongly consistent read (the send gate's)."""

    def suppressed_among(self, addresses: Sequence[str]) -> set[str]:
        """Which of these normalised addresses have an entry (eventually consistent, 100 per BatchGetItem): who a
        segment leaves out. The gate checks each mail again, strongly."""


class SendingControl(Protocol):
    """The sending pause (closedloop.pause) and the marketing messages it holds."""

    def pause_state(self) -> Pause | None:
        """The pause in force (strongly consistent), None while sending runs."""

    def pause(self, pause: Pause) -> Pause:
        """Pause sending unless paused already; returns the pause in force (an existing one stands)."""

    def resume(self) -> Pause | None:
        """End the pause; returns the one that ended (None: sending was running)."""

    def hold(self, request: SendRequest, pause: Pause, status: MessageStatus) -> str:
        """Hold a message under `pause` with its status, atomically, if the pause still stands and the send key was
        never reserved. 'held', 'already_held' (held under this pause before: nothing changes), 'duplicate' (the
        send key is reserved: an earlier attempt went out) or 'resumed' (the pause ended: send it now)."""

    def held_count(self) -> int: ...

    def held_page(self, after: str | None, limit: int) -> tuple[list[Held], str | None]:
        """Up to `limit` held messages after the opaque cursor `after`; the next cursor (None: the last page)."""

    def unhold(self, held: Held) -> bool:
        """Forget a held message if it is still held under the pause it was read with; False if not."""


class ReleaseQueue(Protocol):
    def enqueue(self, job: dict) -> None:
        """Queue a release job ({"after": cursor or None})."""


class PersonalRecords(Protocol):
    """Everything stored about one person besides the profile item (closedloop.privacy): activity, ledger records
    naming the profile (address claim, message statuses, send keys, threshold claims), held messages, and what is
    kept by their address (suppression entry, transient bounces)."""

    def records(self, profile_id: str, address: str) -> Iterator[Record]:
        """Every record, read page by page (strongly consistent where the store allows)."""

    def forget(self, records: Iterable[Record]) -> int:
        """Delete these records (idempotent: a record already gone is fine); how many were deleted."""

    def forget_profile(self, profile_id: str) -> bool:
        """Delete the profile item itself; False if there was none."""


class Signups(Protocol):
    """What double opt-in remembers besides the profile (closedloop.signup), in the ledger table."""

    def take_confirmation_slot(self, address: str, now: datetime, slots: int, window_seconds: int) -> bool:
        """Atomically take one of `slots` confirmation-mail slots of the address free for `window_seconds` since
        its last use; False when all are in use (the mail must not go out)."""

    def claim_confirmation(self, token_key: str, now: datetime) -> str:
        """'claimed' for the first confirmation with this key; else 'published' or 'pending'."""

    def mark_confirmation_published(self, token_key: str) -> None: ...


class Mailer(Protocol):
    def send(self, mail: OutgoingMail, raw: bytes) -> str:
        """Hand the mail (its MIME form `raw`) to the provider; returns the provider's message id.

        Raises ProviderThrottled (not sent, retry later), ProviderUnavailable (not sent, retry) or ProviderRejected
        (not sent, will not work as is). Any other exception means the outcome is unknown.
        """


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict) -> None: ...

    def publish_many(self, detail_type: str, details: list[dict]) -> None:
        """Publish several events of one type (batched as the bus allows)."""


class SendQueue(Protocol):
    def enqueue(self, requests: list[SendRequest], delay_seconds: int = 0) -> None: ...


class ReactionQueue(Protocol):
    """The reactions queue: clicks to store (step "record") and to settle later; opens whose recording failed."""

    def enqueue(self, activity: Activity, step: str = "record", delay_seconds: int = 0) -> None: ...


class ImportStore(Protocol):
    """CSV imports: their records and chunks, and the bulk reads and writes a chunk of rows needs.

    Profiles are written with exactly the rules of ProfileStore.save (version condition, address claim, release
    of the previous address), many at a time.
    """

    def create(self, record: ImportRecord, now: datetime) -> None: ...

    def get(self, import_id: str) -> ImportRecord | None:
        """The import's record (strongly consistent), counters and the numbers of chunks with errors included."""

    def mark_planned(self, import_id: str, rows: int, chunks: int) -> None:
        """The file was read: it holds `rows` rows in `chunks` chunks (only the first call counts)."""

    def refuse(self, import_id: str, line: int, reason: str) -> None:
        """The whole file cannot be imported: the import is done with this one error and no rows."""

    def chunk_counted(self, import_id: str, number: int) -> bool:
        """Whether the chunk has been counted into the import already (a redelivery then does nothing)."""

    def chunk_errors(self, import_id: str, numbers: list[int]) -> Iterator[list[dict]]:
        """The errors recorded by these chunks, chunk by chunk in the order given."""

    def count_chunk(self, import_id: str, number: int, counters: dict[str, int], errors: list[dict], now) -> bool:
        """Record the chunk and add its counters to the import's, atomically and once; False if it was counted."""

    def snapshot(
        self, addresses: set[str], profile_ids: set[str], suppression_keys: set[str] = frozenset()
    ) -> ImportSnapshot:
        """Claims and suppression entries of these (normalised) addresses, and the suppression entries of
        `suppression_keys` (erased hashes); the profiles named and those holding the addresses. Strongly
        consistent. Suppressions come back by key, None where there is no entry."""

    def write_profiles(self, writes: list[ProfileWriteOp], now: datetime) -> set[str]:
        """Write each profile as ProfileStore.save would; returns the ids whose write found the profile or a claim
        changed since the snapshot (nothing of those was written)."""


class ImportFiles(Protocol):
    """The files of imports, by key in the imports bucket."""

    def put(self, key: str, data: bytes) -> None: ...

    def upload_url(self, key: str, expires_s: int) -> str:
        """A presigned URL a plain HTTP PUT of the file goes to."""

    def read(self, key: str) -> Iterator[bytes]:
        """The file, streamed in blocks."""

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes start..end-1 of the file."""


class ImportQueue(Protocol):
    def enqueue(self, chunks: list[ImportChunk]) -> None: ...


class ProfileScan(Protocol):
    """Every profile, read as parallel scan segments (a segment preview, a campaign's audience)."""

    def scan_page(
        self, segment: int, total_segments: int, start: dict | None, limit: int, fields: frozenset[str] | None = None
    ) -> tuple[list[Profile], dict | None]:
        """Up to `limit` profiles of scan segment `segment` of `total_segments`, from `start` (None: the beginning);
        and where to continue (None: the segment is done). The key is plain JSON, so it can travel in a queue
        message. With `fields` (`attributes.country`, …) a profile may carry only those, and its id, address and
        status."""


class SegmentStore(Protocol):
    """Saved segments by id (closedloop.saved_segments)."""

    def get(self, segment_id: str) -> dict | None:
        """{"id", "name", "rules", "created_at", "updated_at"}, or None."""

    def put(self, segment_id: str, name: str, rules: dict, now: str) -> tuple[dict, bool]:
        """Store name and rules (the first save's created_at stays); the stored segment, and True if it is new."""


class CapSlots(Protocol):
    """The frequency cap's slots per person (closedloop.pacing), in the ledger table: `cap-slot#<profile>#<n>`."""

    def take(self, profile_id: str, send_key: str, now: datetime, slots: int, window_seconds: int) -> datetime | None:
        """Take the first of the person's `slots` slots that is absent or was last taken at least `window_seconds`
        ago, for `send_key`: one conditional write per slot tried, no read. A slot this send key already holds
        counts as its own (a redelivery takes no second one). None: taken, the send may go; else all are in use,
        and the instant the earliest of them frees."""


class DueItems(Protocol):
    """Items that fall due at an instant, write-sharded by their key (closedloop.due_items): the deferred sends."""

    def put(self, item: DueItem, expires_at: int) -> bool:
        """Store the item unless the same one (shard, instant and key) is stored; False then."""

    def due(self, shard: str, bound: str) -> Iterator[DueItem]:
        """The shard's items whose sort key is <= bound, oldest first, page by page (strongly consistent)."""

    def remove(self, item: DueItem) -> bool:
        """Delete the item if it is still there; False if it was gone (another tick took it)."""


class CampaignStats(Protocol):
    """A campaign's counters (closedloop.campaign_stats): sharded items ADDed to, each count once by its fact."""

    def add(self, ref: CampaignRef, counts: dict[str, int | Decimal], *, fact: str, shard_of: str) -> bool:
        """ADD `counts` (`{"targeted": 10}`, `{"skipped.no_consent": 1}`, `{"revenue.EUR": Decimal("9.5")}`) to
        the stage's and variant's shard `campaign_stats.shard(shard_of)`, in one transaction with the fact
        `fact` (put if absent, kept FACT_RETENTION_DAYS). False, and nothing added, when the fact was counted
        before."""

    def summary(self, campaign_id: str) -> dict:
        """Every counter of the campaign, shards merged (campaign_stats.merge): one Query, strongly consistent."""

    def convert(self, ref: CampaignRef, profile_id: str, counts: dict[str, int | Decimal]) -> bool:
        """The person reached the campaign's goal: put the ledger's `campaign_keys.converted_key` (with the profile
        id, for GDPR) if absent and ADD `counts` to `ref`'s shard, in one transaction. False if converted before."""


class CampaignReach(Protocol):
    """What closedloop.conversions reads: a campaign's goal and window, and which campaigns reached a person."""

    def campaign(self, campaign_id: str) -> dict | None:
        """The stored campaign's `definition` (with `goal`, `stages`, `ab`) and `started_at` (a container may keep
        it for a minute)."""

    def touches(self, profile_id: str) -> list[Touch]:
        """Every campaign mail sent to the person (send key, stage, variant, when) and every A/B holdout they are
        in (stage HOLDOUT_STAGE), from the ledger's by_profile index."""


class CampaignStore(Protocol):
    """Campaigns and what one keeps while it runs (closedloop.campaigns, closedloop.dispatch), in the campaigns
    table; plus its holdout and conversion records in the ledger (closedloop.campaign_keys)."""

    def create(self, campaign_id: str, definition: dict, created_at: str) -> None: ...

    def get(self, campaign_id: str, consistent: bool = True) -> dict | None:
        """The campaign: campaign_id, name, status, definition, timestamps and its dispatch state."""

    def list(self, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        """Newest first; the opaque cursor of the next page (None: the last)."""

    def progress(self, campaign_id: str) -> dict:
        """Per phase: pages done and recipients queued."""

    def transition(
        self, campaign_id: str, from_statuses: tuple[str, ...], to: str, now: str, changes: dict | None = None
    ) -> dict | None:
        """Move the status (and set `changes`) if it is one of `from_statuses`; the campaign after, else None."""

    def advance(self, campaign_id: str, from_phase: str, to_phase: str, changes: dict) -> bool:
        """Move the dispatch phase if it is still `from_phase` (one worker wins)."""

    def put_page(self, campaign_id: str, segment: int, page: int, ids: list[str], before: int) -> None: ...

    def get_page(self, campaign_id: str, segment: int, page: int) -> dict:
        """{"ids", "before"}, strongly consistent."""

    def segment_scanned(self, campaign_id: str, segment: int, pages: int, count: int) -> dict:
        """Record a scanned segment (idempotent); the campaign after (its `scanned` set and counts)."""

    def page_done(self, campaign_id: str, phase: str, page_key: str, recipients: int) -> int:
        """Mark a page of a phase done (once); how many pages of the phase are done."""

    def phase_done(self, campaign_id: str, phase: str) -> dict:
        """Add the phase to `phases_done` (idempotent); the campaign after."""

    def mark_stage_started(self, campaign_id: str, stage: str) -> bool:
        """True for the first caller only."""

    def set_winner(self, campaign_id: str, winner: str) -> str:
        """Store the A/B winner unless one is stored; the one that stands."""

    def reserve_slot(self, campaign_id: str, seen: str | None, new: str) -> bool:
        """Move `next_slot` from `seen` to `new`; False if another page moved it meanwhile."""

    def note_throttle(self, campaign_id: str) -> None:
        """SES throttled one of the campaign's mails: later pages go slower."""

    def park(self, campaign_id: str, key: str, kind: str, body: Any) -> None:
        """Keep a job ("job": a dispatch job) or requests ("requests": SendRequest JSON texts) until resume."""

    def parked(self, campaign_id: str, after: str | None, limit: int) -> tuple[list[tuple[str, str, Any]], str | None]:
        """(key, kind, body) of parked items, strongly consistent; the next cursor."""

    def unpark(self, campaign_id: str, key: str) -> None: ...

    def has_parked(self, campaign_id: str) -> bool: ...

    def status(self, campaign_id: str) -> str | None:
        """The status alone, strongly consistent (the send gate's per-batch check)."""

    def hold_out(self, campaign_id: str, profile_ids: list[str], now: datetime) -> None:
        """Write `holdout#<campaign>#<profile>` ledger records (with profile_id): they get nothing, measured."""

    def converted(self, campaign_id: str, profile_ids: list[str]) -> set[str]:
        """Those of `profile_ids` whose `converted#<campaign>#<profile>` record exists (BatchGetItem per 100)."""


class DispatchQueue(Protocol):
    def enqueue(self, jobs: list[dict], delay_seconds: int = 0) -> None: ...


class OneTimeSchedules(Protocol):
    """One-time EventBridge Scheduler schedules that put a dispatch job on the dispatch queue at an instant."""

    def create(self, name: str, at: datetime, job: dict) -> None:
        """Idempotent: a schedule of that name already there stands."""

    def delete(self, name: str) -> None:
        """Idempotent: a schedule already gone (fired or deleted) is fine."""

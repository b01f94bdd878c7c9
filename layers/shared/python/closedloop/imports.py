"""CSV import: what a file may hold, how its rows become profile writes, and what an import reports.

A file is checked whole before anything is written (UTF-8, well-formed CSV, a header naming `email`), then cut
into chunks of CHUNK_ROWS rows, byte ranges of the stored file, that a queue hands to workers one at a time: no
single call ever holds the whole import. Each row goes through the rules of PUT /v1/profiles/{id}
(`profiles.parse_profile_write`, `profiles.merge`), so an import can do nothing a PUT could not: one profile per
address, withdrawn consent stays withdrawn. A bad row is reported by its line and never stops the others.

A chunk is counted exactly once: its counters reach the import's record in the same transaction that writes the
chunk's own record, on the condition that the chunk record does not exist yet (`ImportStore.count_chunk`).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from closedloop import profiles
from closedloop.clock import isoformat
from closedloop.config import Config
from closedloop.errors import ConsentWithdrawn, DependencyFailed, InvalidInput, NotFound
from closedloop.suppression import ErasureKeys, Screen, blocked
from closedloop.validation import has_line_break, normalise_email

if TYPE_CHECKING:
    from closedloop.ports import ImportFiles, ImportQueue, ImportStore, Suppressions

# Rows per chunk: a chunk's reads and writes (about 30 AWS requests) finish in a few seconds.
CHUNK_ROWS = 500
# A CSV posted in the request body: API Gateway's HTTP API takes 10 MB, but the Lambda event that carries the body
# is limited to 6 MB, and JSON-escaping (quotes, line breaks) or base64 grows a body by up to a third.
MAX_POSTED_BYTES = 4 * 1024 * 1024
MAX_UPLOAD_BYTES = 256 * 1024 * 1024  # a presigned upload; its chunks are imported the same way
MAX_ROWS = 1_000_000
MAX_ERRORS = 100  # errors an import reports (the first, by line)
MAX_REASON = 200
UPLOAD_URL_SECONDS = 900
RETENTION_DAYS = 30  # an import's record and its chunks' records, then they expire (TTL)
WRITE_ATTEMPTS = 5  # rounds of re-reading rows whose profile changed between our read and our write

# Where files wait in the imports bucket (infra/wiring.py IMPORTS_BUCKET.prefix; a test keeps the two equal).
FILE_PREFIX = "uploads/"
IDENTITY_COLUMNS = ("email", "profile_id", "status")
# Matched case-insensitively (Email, First_Name); any other column is an attribute, named exactly as in the header.
KNOWN_COLUMNS = IDENTITY_COLUMNS + profiles.KNOWN_ATTRIBUTES
IMPORT_ID = re.compile(r"^imp-[0-9a-f]{32}$")
OUTCOMES = ("created", "updated", "unchanged", "suppressed", "failed")


class ImportNotFound(NotFound):
    code = "import_not_found"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    status = 413


class FileRefused(InvalidInput):
    """A file that cannot be imported at all (not UTF-8, malformed CSV, no email column): nothing is written."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


class ImportOptions(NamedTuple):
    """The query of POST /v1/imports: the status every row gets unless its own `status` column says otherwise, and
    where the consent to subscribe was given (required with status=subscribed)."""

    status: str | None = None
    consent_source: str | None = None


def parse_options(query: dict[str, str] | None) -> ImportOptions:
    query = query or {}
    unknown = set(query) - {"status", "consent_source"}
    if unknown:
        names = ", ".join(sorted(unknown))[:200]
        raise InvalidInput(f"unknown query parameter(s): {names}; known: status, consent_source")
    status = query.get("status") or None
    if status is not None and status not in profiles.STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(profiles.STATUSES)}")
    source = (query.get("consent_source") or "").strip() or None
    if source is not None and (len(source) > MAX_REASON or has_line_break(source) or "\x00" in source):
        raise InvalidInput(f"consent_source must be one line of at most {MAX_REASON} characters")
    if status == "subscribed" and source is None:
        raise InvalidInput(
            "status=subscribed needs consent_source=<where and how these people agreed>, "
            "e.g. consent_source=shop-checkout"
        )
    return ImportOptions(status, source)


def parse_upload_request(body: object) -> None:
    """The JSON body asking for an upload URL: exactly {"upload": true}."""
    if not isinstance(body, dict) or set(body) != {"upload"} or body["upload"] is not True:
        raise InvalidInput('send a CSV body (Content-Type: text/csv), or {"upload": true} for an upload URL')


def new_import_id() -> str:
    return f"imp-{uuid.uuid4().hex}"


def validate_import_id(import_id: str) -> str:
    if not isinstance(import_id, str) or not IMPORT_ID.match(import_id):
        raise ImportNotFound(f"no import with id {import_id[:80]!r}")
    return import_id


def file_key(import_id: str, prefix: str) -> str:
    """Where an import's file lives in the bucket; the bucket's notification names it back."""
    return f"{prefix}{import_id}.csv"


def import_id_of(key: str, prefix: str) -> str | None:
    """The import a bucket key belongs to, or None for a key closedloop did not hand out."""
    name = key.removeprefix(prefix).removesuffix(".csv")
    if not key.startswith(prefix) or not key.endswith(".csv") or not IMPORT_ID.match(name):
        return None
    return name


# --- reading CSV ------------------------------------------------------------------------------------------------


class _Lines:
    """Decoded lines of a byte stream, each with its line break, counting the bytes handed out.

    Lines are cut at b"\\n", which never occurs inside a UTF-8 sequence, so the byte count is exact and a chunk's
    range can be read back on its own.
    """

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = iter(blocks)
        self._rest = b""
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.offset = 0
        self.lines = 0
        self.first = True

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        while b"\n" not in self._rest:
            block = next(self._blocks, None)
            if block is None:
                if not self._rest:
                    raise StopIteration
                line, self._rest = self._rest, b""
                return self._text(line)
            self._rest += block
        line, _, self._rest = self._rest.partition(b"\n")
        return self._text(line + b"\n")

    def _text(self, raw: bytes) -> str:
        self.offset += len(raw)
        self.lines += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise FileRefused(self.lines, "the file is not UTF-8 text") from error
        if self.first:
            self.first = False
            text = text.removeprefix("\ufeff")  # Excel's byte order mark
        return text


class Record(NamedTuple):
    line: int  # the line the record starts on (1: the header)
    start: int  # byte offsets of the record in the file
    end: int
    fields: list[str]


def records(blocks: Iterable[bytes], first_line: int = 1) -> Iterator[Record]:
    """Every non-blank CSV record of a byte stream, with its line and byte range; FileRefused where it is not CSV."""
    lines = _Lines(blocks)
    reader = csv.reader(lines, strict=True)
    while True:
        start, line = lines.offset, first_line + lines.lines
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileRefused(line, f"the CSV is malformed ({str(error)[:120]})") from error
        if any(value.strip() for value in fields):
            yield Record(line, start, lines.offset, fields)


def parse_header(fields: list[str]) -> tuple[str, ...]:
    names = []
    for raw in fields:
        name = raw.strip()
        if name.lower() in KNOWN_COLUMNS:
            name = name.lower()
        elif not profiles.ATTRIBUTE_NAME.match(name):
            raise FileRefused(
                1, f"column {name[:70]!r}: a column name is a letter, then up to 63 letters, digits or '_'"
            )
        names.append(name)
    if "email" not in names:
        raise FileRefused(1, "the header row has no email column (the first row names the columns: email,...)")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise FileRefused(1, f"the header names {', '.join(duplicates)[:100]} more than once")
    if len(names) - len(set(names) & set(IDENTITY_COLUMNS)) > profiles.MAX_ATTRIBUTES:
        raise FileRefused(1, f"a file has at most {profiles.MAX_ATTRIBUTES} attribute columns")
    return tuple(names)


class Plan(NamedTuple):
    columns: tuple[str, ...]
    rows: int
    ranges: list[tuple[int, int, int]]  # (start byte, end byte, first line) of each chunk


def plan(blocks: Iterable[bytes], chunk_rows: int | None = None) -> Plan:
    """Read a whole file once: its header, its rows and where each chunk of rows lies; FileRefused if it cannot
    be imported at all (then nothing is written)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    found = records(blocks)
    header = next(found, None)
    if header is None:
        raise FileRefused(1, "the file is empty; the first row names the columns (email,first_name,...)")
    columns = parse_header(header.fields)
    ranges: list[tuple[int, int, int]] = []
    rows = in_chunk = 0
    for record in found:
        rows += 1
        if rows > MAX_ROWS:
            raise FileRefused(record.line, f"a file holds at most {MAX_ROWS:,} rows; split it")
        if in_chunk == 0:
            ranges.append((record.start, record.end, record.line))
        else:
            ranges[-1] = (ranges[-1][0], record.end, ranges[-1][2])
        in_chunk = (in_chunk + 1) % chunk_rows
    return Plan(columns, rows, ranges)


# --- chunks -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One queue message: which rows of which file, and everything needed to import them without another read."""

    import_id: str
    number: int
    key: str
    start: int
    end: int
    line: int
    columns: tuple[str, ...]
    options: ImportOptions

    def to_json(self) -> str:
        body = {**self.__dict__, "columns": list(self.columns), "options": self.options._asdict()}
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Chunk:
        body = json.loads(text)
        return cls(**{**body, "columns": tuple(body["columns"]), "options": ImportOptions(**body["options"])})


class Row(NamedTuple):
    line: int
    fields: list[str]


def rows_of(data: bytes, chunk: Chunk) -> list[Row]:
    """The rows of a chunk's byte range."""
    return [Row(r.line, r.fields) for r in records([data], first_line=chunk.line)]


# --- what an import is ------------------------------------------------------------------------------------------


@dataclass
class ImportRecord:
    import_id: str
    options: ImportOptions
    created_at: str
    upload: bool = False
    rows: int | None = None  # known once the file is read
    chunks: int | None = None
    done_chunks: int = 0
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    error_chunks: list[int] = field(default_factory=list)  # chunks that recorded errors, for the report
    file_errors: list[dict] = field(default_factory=list)  # why a whole file was refused

    @property
    def status(self) -> str:
        if self.chunks is not None and self.done_chunks >= self.chunks:
            return "done"
        return "running" if self.chunks is not None or self.done_chunks else "queued"

    def expires_at(self, now: datetime) -> int:
        return expires_at(now)


def expires_at(now: datetime) -> int:
    """When an import's records leave the ledger (epoch seconds, its TTL)."""
    return int((now + timedelta(days=RETENTION_DAYS)).timestamp())


def start(
    options: ImportOptions,
    *,
    data: bytes | None,
    store: ImportStore,
    files: ImportFiles,
    prefix: str,
    now: datetime,
) -> dict:
    """POST /v1/imports: a posted file (checked whole, then stored for the workers), or an upload URL."""
    if data is not None:
        if len(data) > MAX_POSTED_BYTES:
            raise PayloadTooLarge(
                f"a CSV in the request body may have at most {MAX_POSTED_BYTES // (1024 * 1024)} MiB; for a larger "
                'file send {"upload": true} and PUT the file to the upload_url it answers'
            )
        plan([data])  # FileRefused (400) before anything is written
    record = ImportRecord(new_import_id(), options, isoformat(now), upload=data is None)
    store.create(record, now)
    key = file_key(record.import_id, prefix)
    if data is None:
        return {"import_id": record.import_id, "upload_url": files.upload_url(key, UPLOAD_URL_SECONDS)}
    files.put(key, data)
    return {"import_id": record.import_id}


def plan_file(
    import_id: str, size: int, key: str, *, store: ImportStore, files: ImportFiles, queue: ImportQueue, now: datetime
) -> str:
    """A file arrived in the bucket: check it whole and queue its chunks. Returns what happened (for the log).

    Safe to repeat (the bucket's notifications come at least once): chunks are queued before the import is marked
    planned, so a crash in between queues them again, and a chunk is counted once however often it comes.
    """
    record = store.get(import_id)
    if record is None:
        return "unknown_import"
    if record.chunks is not None:
        return "already_planned"
    if size > MAX_UPLOAD_BYTES:
        store.refuse(import_id, 0, f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB; split it")
        return "refused"
    try:
        found = plan(files.read(key))
    except FileRefused as refused:
        store.refuse(import_id, refused.line, refused.reason)
        return "refused"
    chunks = [
        Chunk(import_id, number, key, start, end, line, found.columns, record.options)
        for number, (start, end, line) in enumerate(found.ranges)
    ]
    queue.enqueue(chunks)
    store.mark_planned(import_id, found.rows, len(chunks))
    return "planned"


def report(store: ImportStore, import_id: str) -> dict:
    """GET /v1/imports/{id}: the status, the counters and the first MAX_ERRORS errors by line."""
    record = store.get(validate_import_id(import_id))
    if record is None:
        raise ImportNotFound(f"no import with id {import_id!r}")
    errors = list(record.file_errors)
    for errors_of_chunk in store.chunk_errors(import_id, sorted(record.error_chunks)):
        if len(errors) >= MAX_ERRORS:
            break
        errors += errors_of_chunk
    counted = sum(record.counters.values())
    return {
        "import_id": import_id,
        "status": record.status,
        "rows": record.rows if record.rows is not None else counted,
        **{outcome: record.counters.get(outcome, 0) for outcome in OUTCOMES},
        "errors": sorted(errors, key=lambda e: e["line"])[:MAX_ERRORS],
        "created_at": record.created_at,
    }


# --- importing a chunk ------------------------------------------------------------------------------------------


class ProfileWriteOp(NamedTuple):
    """One profile's write for a chunk: `existing` as it was read (its version guards the write), `change` the
    result of every row of the chunk that targets it; `claimed`: the address's claim is already this profile's."""

    existing: profiles.Profile | None
    change: profiles.ProfileChange
    claimed: bool


class Snapshot(NamedTuple):
    """What a chunk's rows need to know, read in bulk: address claims, profiles, suppression entries."""

    claims: dict[str, str]  # normalised address -> profile id
    profiles: dict[str, profiles.Profile]
    suppressions: dict[str, object]  # suppression key (address or erased hash) -> entry or None, as asked


class ChunkReport(NamedTuple):
    counted: bool
    counters: dict[str, int]
    errors: list[dict]


def import_chunk(
    chunk: Chunk,
    data: bytes,
    *,
    store: ImportStore,
    suppressions: Suppressions,
    erasure: ErasureKeys,
    config: Config,
    now: datetime,
    new_id=lambda: f"p-{uuid.uuid4().hex[:20]}",
) -> ChunkReport:
    """Import a chunk's rows and count them into the import, once however often the chunk is delivered."""
    if store.chunk_counted(chunk.import_id, chunk.number):
        return ChunkReport(False, {}, [])
    outcomes: dict[int, tuple[str, str | None]] = {}  # line -> (outcome, reason)
    pending: list[tuple[Row, str | None, profiles.ProfileWrite]] = []
    for row in rows_of(data, chunk):
        try:
            pending.append((row, *row_write(row, chunk.columns, chunk.options, now)))
        except InvalidInput as error:
            outcomes[row.line] = ("failed", error.message)
    for _ in range(WRITE_ATTEMPTS):
        if not pending:
            break
        addresses = {normalise_email(write.email) for _, _, write in pending}
        # The erased hashes of the chunk's addresses are read in the same bulk read as their own entries.
        erased = {key for address in addresses for key in erasure.entry_keys(address)}
        snapshot = store.snapshot(addresses, {pid for _, pid, _ in pending if pid}, erased)
        checked = _Prefetched(suppressions, snapshot.suppressions)
        decided, writes = _decide(pending, snapshot, checked, erasure, chunk.options, config, now, new_id)
        conflicted = store.write_profiles(list(writes.values()), now)
        final = [entry for entry in pending if decided[entry[0].line][0] not in conflicted]
        outcomes.update({row.line: decided[row.line][1] for row, _, _ in final})
        pending = [entry for entry in pending if decided[entry[0].line][0] in conflicted]
    if pending:
        raise DependencyFailed(f"{len(pending)} row(s) kept changing while being imported; the chunk will be retried")
    counters = dict.fromkeys(OUTCOMES, 0)
    errors = []
    for line, (outcome, reason) in sorted(outcomes.items()):
        counters[outcome] += 1
        if reason and outcome == "failed" and len(errors) < MAX_ERRORS:
            errors.append({"line": line, "reason": reason[:MAX_REASON]})
    counted = store.count_chunk(chunk.import_id, chunk.number, counters, errors, now)
    return ChunkReport(counted, counters, errors)


def row_write(row: Row, columns: tuple[str, ...], options: ImportOptions, now: datetime):
    """A row as the PUT /v1/profiles body it stands for: (its profile_id or None, the checked write)."""
    if len(row.fields) != len(columns):
        raise InvalidInput(f"the row has {len(row.fields)} fields, the header {len(columns)}")
    values = dict(zip(columns, (value.strip() for value in row.fields), strict=True))
    for name, value in values.items():
        if "\x00" in value:
            raise InvalidInput(f"{name} holds a NUL character")
        if has_line_break(value):
            raise InvalidInput(f"{name} holds a line break (CR/LF); every value must be one line")
    if not values["email"]:
        raise InvalidInput("email is empty")
    status = values.get("status") or options.status
    if status == "subscribed" and not options.consent_source:
        raise InvalidInput("status subscribed needs the import's consent_source (POST /v1/imports?consent_source=...)")
    attributes = {name: value for name, value in values.items() if name not in IDENTITY_COLUMNS and value}
    profile_id = values.get("profile_id") or None
    body = {"email": values["email"], "status": status, "attributes": attributes}
    try:
        write = profiles.parse_profile_write(profile_id or "placeholder", body, now)
    except InvalidInput as error:
        raise InvalidInput(error.message.replace("attributes.", "", 1)) from error
    return profile_id, write


class _Prefetched:
    """The suppression list as read in bulk for a chunk's addresses; anything else asks the real list."""

    def __init__(self, store: Suppressions, entries: dict[str, object]) -> None:
        self._store, self._entries = store, entries

    def get(self, address: str):
        if address in self._entries:
            return self._entries[address]
        return self._store.get(address)

    def screen(self, keys):
        if all(key in self._entries for key in keys):
            return Screen(next((self._entries[k] for k in keys if self._entries[k] is not None), None), None)
        return self._store.screen(keys)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def is_suppressed(suppressions: Suppressions, address: str, erasure: ErasureKeys) -> bool:
    """The one place an import asks the suppression list whether an address may be subscribed: its own entry
    (bounce, complaint, manual) or its erased hash (closedloop.suppression.blocked)."""
    return blocked(normalise_email(address), suppressions, erasure) is not None


def _decide(
    pending, snapshot: Snapshot, suppressions, erasure, options: ImportOptions, config: Config, now: datetime, new_id
):
    """Apply the rows in file order to what was read: each row's (target, (outcome, reason)) and one write per
    profile. Rows for the same address or profile are merged in order, as successive PUTs would be."""
    claims = dict(snapshot.claims)
    current = dict(snapshot.profiles)
    decided: dict[int, tuple[str | None, tuple[str, str | None]]] = {}
    writes: dict[str, ProfileWriteOp] = {}
    stamp = isoformat(now)
    for row, explicit_id, write in pending:
        address = normalise_email(write.email)
        holder = claims.get(address)
        if explicit_id and holder and holder != explicit_id:
            reason = "another profile holds this e-mail address (not the row's profile_id)"
            decided[row.line] = (None, ("failed", reason))
            continue
        target = explicit_id or holder or new_id()
        existing = current.get(target)
        becomes_subscribed = write.status == "subscribed" and not (existing and existing.subscribed)
        if becomes_subscribed and is_suppressed(suppressions, address, erasure):
            decided[row.line] = (target, ("suppressed", None))
            continue
        try:
            change = profiles.merge(existing, write._replace(profile_id=target), config, now)
        except ConsentWithdrawn:
            decided[row.line] = (target, ("suppressed", None))
            continue
        except InvalidInput as error:
            decided[row.line] = (target, ("failed", error.message))
            continue
        if change.consent:
            detail = {"detail": options.consent_source} if options.consent_source else {}
            change = change._replace(consent=profiles.consent_record("import", now, **detail))
        if existing and (change.email, change.status, change.attributes) == (
            existing.email,
            existing.status,
            existing.attributes,
        ):
            decided[row.line] = (target, ("unchanged", None))
            continue
        decided[row.line] = (target, ("updated" if existing else "created", None))
        if existing and existing.email != change.email and claims.get(existing.email) == target:
            del claims[existing.email]
        claims[address] = target
        current[target] = _after(existing, change, stamp)
        stored = snapshot.profiles.get(target)
        earlier = writes.get(target)
        writes[target] = ProfileWriteOp(
            existing=stored,
            change=change._replace(
                previous_email=stored.email if stored else None,
                consent=change.consent or (earlier.change.consent if earlier else None),
            ),
            claimed=bool(stored) and snapshot.claims.get(change.email) == target,
        )
    return decided, writes


def _after(existing: profiles.Profile | None, change: profiles.ProfileChange, stamp: str) -> profiles.Profile:
    """The profile as the next row of the same chunk sees it."""
    if existing is None:
        return profiles.Profile(
            change.profile_id,
            change.email,
            change.status,
            dict(change.attributes),
            consent=change.consent,
            created_at=stamp,
            updated_at=stamp,
        )
    return profiles.Profile(
        **{
            **existing.__dict__,
            "email": change.email,
            "status": change.status,
            "attributes": dict(change.attributes),
            "consent": change.consent or existing.consent,
            "updated_at": stamp,
        }
    )

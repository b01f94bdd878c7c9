"""CSV import in the domain: files checked whole, rows imported by the rules of PUT, counted once per chunk."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from closedloop import imports
from closedloop.errors import InvalidInput
from closedloop.imports import FileRefused, ImportOptions
from closedloop.suppression import ErasureKeys, Suppression, erase_address
from infra import wiring
from tests.fakes import FakeImportFiles, FakeImportQueue, FakeImportStore, FakeProfiles, FakeSuppressions

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ERASURE = ErasureKeys.from_secret({"current": "e1", "e1": "unit-erasure-key"})
SUBSCRIBE = ImportOptions("subscribed", "shop-checkout")


class World:
    def __init__(self, config) -> None:
        self.profiles = FakeProfiles()
        self.suppressions = FakeSuppressions()
        self.store = FakeImportStore(self.profiles, self.suppressions)
        self.files = FakeImportFiles()
        self.queue = FakeImportQueue()
        self.config = config
        self.ids = iter(f"p-new-{n}" for n in range(10_000))

    def post(self, text: str, options: ImportOptions = SUBSCRIBE) -> str:
        answer = imports.start(
            options, data=text.encode(), store=self.store, files=self.files, prefix=imports.FILE_PREFIX, now=NOW
        )
        return answer["import_id"]

    def plan(self, import_id: str) -> str:
        key = imports.file_key(import_id, imports.FILE_PREFIX)
        size = len(self.files.files[key])
        return imports.plan_file(import_id, size, key, store=self.store, files=self.files, queue=self.queue, now=NOW)

    def work(self, chunk) -> imports.ChunkReport:
        data = self.files.read_range(chunk.key, chunk.start, chunk.end)
        return imports.import_chunk(
            chunk,
            data,
            store=self.store,
            suppressions=self.suppressions,
            erasure=ERASURE,
            config=self.config,
            now=NOW,
            new_id=lambda: next(self.ids),
        )

    def run(self, text: str, options: ImportOptions = SUBSCRIBE) -> dict:
        import_id = self.post(text, options)
        self.plan(import_id)
        while self.queue.chunks:
            self.work(self.queue.chunks.pop(0))
        return imports.report(self.store, import_id)

    def by_email(self, address: str):
        return self.profiles.find_by_email(address)


@pytest.fixture
def world(config) -> World:
    return World(config)


# --- the options ------------------------------------------------------------------------------------------------


def test_subscribing_without_a_consent_source_is_refused():
    with pytest.raises(InvalidInput, match="consent_source"):
        imports.parse_options({"status": "subscribed"})


def test_options_name_a_known_status_and_nothing_else():
    with pytest.raises(InvalidInput, match="status must be one of"):
        imports.parse_options({"status": "yes"})
    with pytest.raises(InvalidInput, match="unknown query parameter"):
        imports.parse_options({"statuss": "pending"})
    assert imports.parse_options({"status": "pending"}) == ImportOptions("pending", None)


def test_a_consent_source_is_one_short_line():
    with pytest.raises(InvalidInput, match="one line"):
        imports.parse_options({"status": "subscribed", "consent_source": "shop\r\nX-Evil: 1"})


def test_the_domain_and_the_wiring_agree_on_where_files_wait():
    assert wiring.IMPORTS_BUCKET.prefix == imports.FILE_PREFIX


# --- the file, checked whole ------------------------------------------------------------------------------------


def test_a_file_without_an_email_column_is_refused_on_line_1():
    with pytest.raises(FileRefused, match="line 1: the header row has no email column"):
        imports.plan([b"name,city\nAda,Berlin\n"])


def test_malformed_csv_is_refused_with_its_line():
    with pytest.raises(FileRefused, match="line 3: the CSV is malformed"):
        imports.plan([b'email,first_name\na@example.com,Ada\nb@example.com,"Bo\n'])


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(FileRefused, match="not UTF-8"):
        imports.plan([b"email,first_name\nada@example.com,J\xf6rg\n"])


def test_chunks_are_byte_ranges_of_whole_records_with_their_first_line():
    text = '\ufeffEmail,first_name\n\na@example.com,"Ada\nLovelace"\nb@example.com,Bö\nc@example.com,Cy\n'.encode()

    found = imports.plan([text[i : i + 3] for i in range(0, len(text), 3)], chunk_rows=2)

    assert found.columns == ("email", "first_name")
    assert found.rows == 3
    (start, end, line), (start2, end2, line2) = found.ranges
    assert (line, line2) == (3, 6)  # the quoted line break makes Ada's record two lines long
    assert text[start:end].decode() == 'a@example.com,"Ada\nLovelace"\nb@example.com,Bö\n'
    assert text[start2:end2] == b"c@example.com,Cy\n"


def test_a_posted_body_over_the_limit_is_refused_with_413(world):
    with pytest.raises(imports.PayloadTooLarge) as refused:
        world.post("email\n" + "a@example.com\n" * (imports.MAX_POSTED_BYTES // 14 + 1))
    assert refused.value.status == 413
    assert world.store.records == {}


def test_an_upload_answers_a_url_and_waits_for_the_file(world):
    answer = imports.start(
        SUBSCRIBE, data=None, store=world.store, files=world.files, prefix=imports.FILE_PREFIX, now=NOW
    )

    assert answer["upload_url"].startswith("https://")
    assert imports.report(world.store, answer["import_id"])["status"] == "queued"


def test_an_uploaded_file_without_email_column_ends_the_import_with_one_error(world):
    import_id = world.post("email\na@example.com\n")
    world.files.files[imports.file_key(import_id, imports.FILE_PREFIX)] = b"name\nAda\n"

    assert world.plan(import_id) == "refused"

    report = imports.report(world.store, import_id)
    assert report["status"] == "done"
    assert report["rows"] == 0
    assert report["errors"] == [
        {"line": 1, "reason": "the header row has no email column (the first row names the columns: email,...)"}
    ]


# --- rows ---------------------------------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_the_good_ones_imported(world):
    report = world.run(
        "email,first_name,birthday,timezone,note\n"
        "ada@example.com,Ada,1990-06-15,Europe/Berlin,<script>alert(1)</script>\n"
        "not-an-address,Bob,,,\n"
        "carl@example.com,Carl,1990-02-30,,\n"
        "dora@example.com,Dora,,Mars/Olympus,\n"
        'eve@example.com,"Eve\r\nBcc: x@evil.test",,,\n'
        f"finn@example.com,Finn,,,{'x' * 10_000}\n"
        "gus@example.com,Gus,,,\n"
    )

    assert report["status"] == "done"
    assert (report["rows"], report["created"], report["failed"]) == (7, 2, 5)
    assert [e["line"] for e in report["errors"]] == [3, 4, 5, 6, 8]
    reasons = [e["reason"] for e in report["errors"]]
    assert "email" in reasons[0]
    assert "birthday" in reasons[1]
    assert "IANA zone" in reasons[2]
    assert "line break" in reasons[3]
    assert "longer than 500" in reasons[4]
    assert world.by_email("ada@example.com").attributes["note"] == "<script>alert(1)</script>"  # stored inert
    assert world.by_email("gus@example.com") is not None


def test_an_imported_profile_is_subscribed_with_the_imports_consent(world):
    world.run("email,first_name\nAda@Example.com ,Ada\n")

    ada = world.by_email("ada@example.com")
    assert ada.status == "subscribed"
    assert ada.consent == {"source": "import", "at": "2026-03-01T12:00:00Z", "detail": "shop-checkout"}
    assert world.profiles.items[ada.profile_id]["idle"]  # in the we-miss-you index, as a PUT would leave it


def test_duplicates_within_a_file_are_merged_in_file_order(world):
    report = world.run(
        "email,first_name,city\nada@example.com,Ada,Berlin\nADA@example.com,,Paris\nada@example.com,Ada L.,\n"
    )

    assert (report["created"], report["updated"]) == (1, 2)
    assert len(world.profiles.items) == 1
    assert world.by_email("ada@example.com").attributes == {"first_name": "Ada L.", "city": "Paris"}


def test_a_row_updates_the_profile_holding_its_address(world):
    world.profiles.add("p-ada", email="ada@example.com", first_name="Ada")
    world.profiles.claims["ada@example.com"] = "p-ada"

    report = world.run("email,last_name\nada@example.com,Lovelace\n", ImportOptions())

    assert report["updated"] == 1
    assert world.profiles.get("p-ada").attributes == {"first_name": "Ada", "last_name": "Lovelace"}
    assert world.profiles.get("p-ada").status == "subscribed"  # no status sent: the stored one stays


def test_a_row_whose_address_another_profile_holds_is_a_bad_row(world):
    world.profiles.add("p-ada", email="ada@example.com")
    world.profiles.claims["ada@example.com"] = "p-ada"

    report = world.run("profile_id,email\np-other,ada@example.com\n")

    assert report["failed"] == 1
    assert "another profile holds this e-mail address" in report["errors"][0]["reason"]
    assert "p-other" not in world.profiles.items


def test_a_row_with_a_profile_id_creates_or_updates_that_profile(world):
    report = world.run("profile_id,email,status\np-1,one@example.com,pending\np-1,uno@example.com,\n")

    assert (report["created"], report["updated"]) == (1, 1)
    assert world.profiles.get("p-1").email == "uno@example.com"
    assert world.profiles.claims == {"uno@example.com": "p-1"}  # the first address was released


def test_reimporting_the_same_file_changes_nothing(world):
    text = "email,first_name\nada@example.com,Ada\nbob@example.com,Bob\n"
    world.run(text)

    again = world.run(text)

    assert (again["unchanged"], again["created"], again["updated"]) == (2, 0, 0)


def test_a_person_who_unsubscribed_by_link_is_not_resubscribed(world):
    world.profiles.add("p-ada", status="unsubscribed", email="ada@example.com")
    world.profiles.items["p-ada"]["consent"] = {"source": "unsubscribe_link", "at": "2026-02-01T00:00:00Z"}
    world.profiles.claims["ada@example.com"] = "p-ada"

    report = world.run("email,first_name\nada@example.com,Ada\n")

    assert report["suppressed"] == 1
    assert world.profiles.get("p-ada").status == "unsubscribed"


def test_a_suppressed_address_is_not_subscribed(world):
    world.suppressions.put(Suppression("bob@example.com", "complaint", "2026-02-01T00:00:00Z"))

    report = world.run("email\nbob@example.com\ncara@example.com\n")

    assert (report["suppressed"], report["created"]) == (1, 1)
    assert world.by_email("bob@example.com") is None


def test_an_erased_person_is_not_brought_back_by_an_import(world):
    erase_address(world.suppressions, "bob@example.com", ERASURE, NOW)

    report = world.run("email\nBob@Example.com\n")

    assert (report["suppressed"], report["created"]) == (1, 0)
    assert world.by_email("bob@example.com") is None


def test_a_suppressed_address_may_still_be_imported_without_subscribing_it(world):
    world.suppressions.put(Suppression("bob@example.com", "bounce", "2026-02-01T00:00:00Z"))

    report = world.run("email,status\nbob@example.com,unsubscribed\n")

    assert report["created"] == 1


def test_a_redelivered_chunk_counts_once(world):
    import_id = world.post("email\nada@example.com\nbob@example.com\n")
    world.plan(import_id)
    (chunk,) = world.queue.chunks

    first, second = world.work(chunk), world.work(chunk)

    assert (first.counted, second.counted) == (True, False)
    report = imports.report(world.store, import_id)
    assert (report["rows"], report["created"], report["unchanged"]) == (2, 2, 0)


def test_a_file_notified_twice_is_planned_once(world):
    import_id = world.post("email\nada@example.com\n")

    assert (world.plan(import_id), world.plan(import_id)) == ("planned", "already_planned")
    assert len(world.queue.chunks) == 1


def test_chunks_are_counted_into_one_report(world, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
    rows = "".join(f"p{n}@example.com,{'bad-date' if n % 4 == 0 else ''}\n" for n in range(10))

    report = world.run("email,birthday\n" + rows)

    assert report["status"] == "done"
    assert (report["rows"], report["created"], report["failed"]) == (10, 7, 3)
    assert [e["line"] for e in report["errors"]] == [2, 6, 10]


def test_the_report_holds_the_first_hundred_errors_by_line(world, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 40)

    report = world.run("email\n" + "nobody\n" * 150)

    assert report["failed"] == 150
    assert [e["line"] for e in report["errors"]] == list(range(2, 102))


def test_a_row_whose_profile_changed_meanwhile_is_read_again_and_imported(world):
    world.profiles.add("p-ada", email="ada@example.com")
    world.profiles.claims["ada@example.com"] = "p-ada"
    world.store.conflict_once.add("p-ada")

    report = world.run("email,first_name\nada@example.com,Ada\n")

    assert report["updated"] == 1
    assert world.profiles.get("p-ada").attributes == {"first_name": "Ada"}


def test_an_unknown_import_id_is_not_found(world):
    with pytest.raises(imports.ImportNotFound):
        imports.report(world.store, "imp-" + "0" * 32)
    with pytest.raises(imports.ImportNotFound):
        imports.report(world.store, "../etc")

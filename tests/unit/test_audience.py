"""Who a segment targets (closedloop.audience) and saved segments (closedloop.saved_segments), on the fakes."""

from datetime import UTC, datetime

import pytest

from closedloop import audience, saved_segments, segments
from closedloop.errors import InvalidInput, PreviewTooSlow, SegmentNotFound
from closedloop.suppression import Suppression
from tests.fakes import FakeProfiles, FakeSegmentStore, FakeSuppressions

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
GERMANS = segments.parse({"field": "attributes.country", "op": "==", "value": "DE"})


@pytest.fixture
def people():
    profiles = FakeProfiles()
    for n in range(30):
        status = "unsubscribed" if n % 10 == 1 else "subscribed"
        profiles.add(f"p{n:02d}", status, country="DE" if n % 2 == 0 else "FR")
    return profiles


@pytest.fixture
def suppressions():
    suppressed = FakeSuppressions()
    suppressed.put(Suppression("p04@example.net", "bounce", "2026-11-01T00:00:00Z"))
    return suppressed


def email_of(profiles, profile_id):
    return profiles.get(profile_id).email


def test_a_segment_targets_subscribed_matching_profiles_whose_address_is_not_suppressed(people, suppressions):
    assert email_of(people, "p04") == "p04@example.net"  # the fixture's suppressed address is this profile's
    page = [people.get(f"p{n:02d}") for n in range(12)]

    chosen = [p.profile_id for p in audience.targets(page, GERMANS, suppressions, NOW)]

    assert chosen == ["p00", "p02", "p06", "p08", "p10"]  # p04 suppressed; odd numbers are French


def test_without_rules_every_subscribed_unsuppressed_profile_is_targeted(people, suppressions):
    page = [people.get(f"p{n:02d}") for n in range(12)]
    assert len(audience.targets(page, None, suppressions, NOW)) == 12 - 2 - 1  # p01, p11 left; p04 suppressed


@pytest.mark.parametrize("parallel", [1, 3, 8])
def test_a_preview_counts_every_scan_segment_once_whatever_the_page_size(people, suppressions, parallel, monkeypatch):
    monkeypatch.setattr(audience, "SCAN_PAGE", 4)

    counted = audience.preview(GERMANS, people, suppressions, NOW, parallel=parallel)

    # 15 Germans (even numbers); none of them unsubscribed (n % 10 == 1 is odd); p04 suppressed.
    assert counted.count == 14
    assert counted.sample == ["p00", "p02", "p06", "p08", "p10", "p12", "p14", "p16", "p18", "p20"]


def test_a_preview_that_runs_out_of_time_says_so_instead_of_answering_a_partial_count(people, suppressions):
    with pytest.raises(PreviewTooSlow):
        audience.preview(GERMANS, people, suppressions, NOW, parallel=2, deadline=lambda: True)


def test_the_fake_scan_hands_out_each_profile_once_across_segments_and_pages(people):
    seen = [
        p.profile_id
        for segment in range(4)
        for page in audience.scan_segment(people, segment, 4, limit=3)
        for p in page
    ]
    assert sorted(seen) == sorted(people.items) and len(seen) == len(set(seen))


def test_a_saved_segment_keeps_its_first_creation_instant():
    store = FakeSegmentStore()
    body = {"name": "Germans", "rules": {"field": "attributes.country", "op": "==", "value": "DE"}}

    first, created = saved_segments.save(store, "germans", body, NOW)
    second, again = saved_segments.save(
        store, "germans", {**body, "name": "Germany"}, datetime(2026, 11, 24, tzinfo=UTC)
    )

    assert (created, again) == (True, False)
    assert second["created_at"] == first["created_at"] == "2026-11-23T12:00:00Z"
    assert second["name"] == "Germany" and saved_segments.get(store, "germans") == second
    assert saved_segments.load(store, "germans").rules == body["rules"]


@pytest.mark.parametrize(
    "segment_id, body, sentence",
    [
        ("Germans!", {"name": "x", "rules": {"all": []}}, "a segment id is"),
        ("germans", {"name": "", "rules": {"field": "status", "op": "==", "value": "subscribed"}}, "name:"),
        ("germans", {"name": "a\nb", "rules": {"field": "status", "op": "==", "value": "subscribed"}}, "name:"),
        ("germans", {"name": "Germans"}, "rules: give the rules"),
        ("germans", {"name": "G", "rules": {"all": [{"field": "attributes.country", "op": "=~"}]}}, "rules.all[0].op"),
    ],
)
def test_a_bad_segment_is_refused_with_a_sentence_naming_what_is_wrong(segment_id, body, sentence):
    store = FakeSegmentStore()
    with pytest.raises(InvalidInput, match=sentence.replace("[", r"\[").replace("]", r"\]")):
        saved_segments.save(store, segment_id, body, NOW)
    assert store.items == {}


def test_an_unknown_segment_is_not_found():
    with pytest.raises(SegmentNotFound):
        saved_segments.get(FakeSegmentStore(), "nobody")

"""PUT/GET /v1/segments/{id} and the previews, through the admin function on moto.

The tables are shared by the whole session, so each test's rules name an attribute only its own profiles carry.
"""

import pytest

from tests.integration.conftest import admin, put_profile


def cohort_rules(profile_id: str, *more: dict) -> dict:
    return {"all": [{"field": "attributes.cohort", "op": "==", "value": profile_id}, *more]}


@pytest.fixture
def cohort(resources, profile_id):
    """Six profiles of one cohort: three travellers (one unsubscribed, one with a bounced address), three others."""
    ids = [f"{profile_id}-{n}" for n in range(6)]
    for n, pid in enumerate(ids):
        put_profile(pid, cohort=profile_id, likes="travel" if n < 3 else "cars")
    admin("PUT", f"/v1/profiles/{ids[1]}", {"status": "unsubscribed"})
    admin("PUT", f"/v1/suppressions/{ids[2]}@example.net", {"reason": "bounce"})
    return ids


def test_a_segment_is_saved_read_back_and_replaced(resources, profile_id):
    segment_id = profile_id.lower()
    body = {"name": "Travellers", "rules": cohort_rules(profile_id)}

    created = admin("PUT", f"/v1/segments/{segment_id}", body)
    replaced = admin("PUT", f"/v1/segments/{segment_id}", {**body, "name": "Travellers (DE)"})
    status, shown = admin("GET", f"/v1/segments/{segment_id}")

    assert (created[0], replaced[0], status) == (201, 200, 200)
    assert shown == replaced[1] and shown["name"] == "Travellers (DE)" and shown["rules"] == body["rules"]
    assert shown["created_at"] == created[1]["created_at"]


def test_a_preview_counts_only_subscribed_unsuppressed_matches(cohort, profile_id):
    travellers = cohort_rules(profile_id, {"field": "attributes.likes", "op": "==", "value": "travel"})
    segment_id = profile_id.lower()
    admin("PUT", f"/v1/segments/{segment_id}", {"name": "Travellers", "rules": travellers})

    saved = admin("POST", f"/v1/segments/{segment_id}/preview")
    inline = admin("POST", "/v1/segments/preview", {"rules": travellers})
    everyone = admin("POST", "/v1/segments/preview", {"rules": cohort_rules(profile_id)})

    assert saved == inline == (200, {"count": 1, "sample": [cohort[0]]})
    assert everyone == (200, {"count": 4, "sample": [cohort[0], *cohort[3:]]})


def test_a_segment_that_matches_nobody_previews_zero(resources, profile_id):
    assert admin("POST", "/v1/segments/preview", {"rules": cohort_rules(profile_id)}) == (
        200,
        {"count": 0, "sample": []},
    )


@pytest.mark.parametrize(
    "method, path, body, status, code, sentence",
    [
        ("GET", "/v1/segments/nobody-here", None, 404, "segment_not_found", "no segment named"),
        ("POST", "/v1/segments/nobody-here/preview", None, 404, "segment_not_found", "no segment named"),
        ("PUT", "/v1/segments/Bad%20Id", {"name": "x", "rules": {"all": []}}, 400, "invalid_input", "segment id"),
        (
            "PUT",
            "/v1/segments/ok",
            {"name": "x", "rules": {"any": [{"field": "interests.travel", "op": ">=", "value": "many"}]}},
            400,
            "invalid_input",
            "rules.any[0].value",
        ),
        ("POST", "/v1/segments/preview", {"rules": {"nope": 1}}, 400, "invalid_input", "rules:"),
        ("PUT", "/v1/segments/ok", {"rules": {"all": []}}, 400, "invalid_input", "name"),
        ("PUT", "/v1/segments/ok", {"name": "x", "rules": {}, "extra": 1}, 400, "invalid_input", "extra"),
    ],
)
def test_bad_segment_requests_get_a_code_and_a_sentence(resources, method, path, body, status, code, sentence):
    answered, answer = admin(method, path, body)
    assert (answered, answer["code"]) == (status, code)
    assert sentence in answer["message"]

"""The gateway and the /_local control routes, over HTTP."""

from __future__ import annotations

import pytest

from closedloop_local.client import LocalClient
from infra import wiring

pytestmark = pytest.mark.e2e


def test_an_unknown_route_answers_404_with_a_json_error(client: LocalClient):
    response = client.request("GET", "/no/such/route")

    assert response.status == 404
    assert response.json() == {"code": "route_not_found", "message": "no route for GET /no/such/route"}


def test_a_known_path_with_another_method_answers_404_with_a_json_error(client: LocalClient):
    response = client.request("DELETE", "/v1/events")

    assert response.status == 404
    assert response.json()["code"] == "route_not_found"


def test_the_clock_can_be_set_and_read_back(client: LocalClient):
    assert client.set_clock("2026-03-02T09:00:00+01:00") == "2026-03-02T08:00:00Z"

    assert client.now().startswith("2026-03-02T08:00")


def test_a_clock_without_a_zone_is_refused(client: LocalClient):
    response = client.request("POST", "/_local/clock", {"now": "2026-03-02T08:00:00"})

    assert response.status == 400
    assert response.json()["code"] == "invalid_input"


def test_draining_an_idle_system_processes_nothing(client: LocalClient):
    assert client.drain()["processed"] == 0


def test_an_unknown_schedule_answers_404_with_the_known_ones(client: LocalClient):
    response = client.request("POST", "/_local/schedules/no-such-schedule/run")

    assert response.status == 404
    assert set(response.json()["schedules"]) == set(wiring.schedules()) >= {"birthday", "we-miss-you", "deferrals"}


def test_the_outbox_starts_empty_as_json_and_as_a_page(client: LocalClient):
    page = client.request("GET", "/_local/outbox.html")

    assert client.outbox() == []
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")


def test_the_outbox_answers_a_browser_with_html(client: LocalClient):
    response = client.request("GET", "/_local/outbox", headers={"Accept": "text/html,application/xhtml+xml"})

    assert response.headers["Content-Type"].startswith("text/html")


def test_the_admin_api_refuses_a_request_without_a_key(client: LocalClient):
    response = client.request("GET", "/v1/profiles/p-1", auth=False)

    assert response.status == 401


def test_the_admin_api_refuses_a_wrong_key(client: LocalClient):
    response = client.request("GET", "/v1/profiles/p-1", auth=False, headers={"Authorization": "Bearer wrong"})

    assert response.status == 401


def test_a_body_over_ten_megabytes_answers_413(client: LocalClient):
    response = client.request("POST", "/v1/events", b"x" * (10 * 1024 * 1024 + 1))

    assert response.status == 413
    assert response.json()["code"] == "payload_too_large"

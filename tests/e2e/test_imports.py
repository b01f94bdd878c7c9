"""CSV import over HTTP on the local runtime: posted and uploaded files, through the queue, into profiles."""

from __future__ import annotations

import urllib.request

import pytest

from closedloop_local.client import LocalClient

pytestmark = pytest.mark.e2e

CSV = {"Content-Type": "text/csv"}


def post_csv(client: LocalClient, text: str, query: str = "?status=subscribed&consent_source=fair") -> dict:
    response = client.request("POST", f"/v1/imports{query}", text.encode(), headers=CSV)
    assert response.status == 202, response
    return response.json()


def finished(client: LocalClient, import_id: str) -> dict:
    client.drain()
    report = client.ok("GET", f"/v1/imports/{import_id}")
    assert report["status"] == "done", report
    return report


def test_a_posted_csv_is_imported_with_its_bad_rows_reported_by_line(client: LocalClient):
    answer = post_csv(
        client,
        "email,first_name,birthday,timezone\n"
        "e2e-ada@example.com,Ada,1990-06-15,Europe/Berlin\n"
        "not-an-address,Bob,,\n"
        "e2e-carl@example.com,Carl,1990-13-01,\n"
        "e2e-dora@example.com,Dora,,Mars/Olympus\n"
        'e2e-eve@example.com,"Eve\nEvil",,\n'
        "e2e-ada@example.com,,,\n",
    )

    report = finished(client, answer["import_id"])

    assert set(answer) == {"import_id"}
    assert {k: report[k] for k in ("rows", "created", "updated", "unchanged", "suppressed", "failed")} == {
        "rows": 6,
        "created": 1,
        "updated": 0,
        "unchanged": 1,
        "suppressed": 0,
        "failed": 4,
    }
    assert [e["line"] for e in report["errors"]] == [3, 4, 5, 6]
    ada = client.ok("GET", "/v1/profiles?email=e2e-ada@example.com")
    assert ada["status"] == "subscribed"
    assert ada["consent"]["source"] == "import" and ada["consent"]["detail"] == "fair"


def test_subscribing_without_consent_source_is_400(client: LocalClient):
    response = client.request("POST", "/v1/imports?status=subscribed", b"email\na@example.com\n", headers=CSV)

    assert response.status == 400
    assert response.json()["code"] == "invalid_input"


def test_a_file_without_email_column_is_400_and_an_unknown_import_404(client: LocalClient):
    refused = client.request("POST", "/v1/imports", b"name\nAda\n", headers=CSV)
    unknown = client.request("GET", "/v1/imports/imp-" + "0" * 32)

    assert (refused.status, refused.json()["code"]) == (400, "invalid_input")
    assert "line 1" in refused.json()["message"]
    assert (unknown.status, unknown.json()["code"]) == (404, "import_not_found")


def test_a_body_over_the_limit_is_413(client: LocalClient):
    body = b"email\n" + b"someone@example.com\n" * 250_000  # 5 MB: over the 4 MiB a posted CSV may have

    response = client.request("POST", "/v1/imports", body, headers=CSV)

    assert (response.status, response.json()["code"]) == (413, "payload_too_large")


def test_an_upload_through_the_presigned_url_is_imported(client: LocalClient):
    answer = client.ok("POST", "/v1/imports?status=subscribed&consent_source=fair", {"upload": True})
    assert set(answer) == {"import_id", "upload_url"}
    assert answer["upload_url"].startswith(client.base_url)
    assert client.ok("GET", f"/v1/imports/{answer['import_id']}")["status"] == "queued"

    # A plain HTTP PUT, as curl -T would send it: no credentials, no content type.
    put = urllib.request.Request(
        answer["upload_url"], data=b"email,first_name\ne2e-upload@example.com,Uma\n", method="PUT"
    )
    with urllib.request.urlopen(put, timeout=30) as response:
        assert response.status == 200

    report = finished(client, answer["import_id"])
    assert (report["rows"], report["created"]) == (1, 1)
    assert client.ok("GET", "/v1/profiles?email=e2e-upload@example.com")["attributes"] == {"first_name": "Uma"}

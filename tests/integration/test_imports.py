"""CSV import through the real handlers on moto: the admin route, the bucket's notification, the chunk queue."""

from __future__ import annotations

import json

import boto3

from closedloop import imports
from closedloop_local import outbox
from infra import wiring
from tests.integration.conftest import API_KEY, admin, http_event, invoke, queue_messages

SUBSCRIBE = "status=subscribed&consent_source=shop-checkout"


def post_csv(text: str, query: str = SUBSCRIBE, *, base64_body: bool = False) -> tuple[int, dict]:
    headers = {"authorization": f"Bearer {API_KEY}", "content-type": "text/csv"}
    body = {"raw_bytes": text.encode()} if base64_body else {"raw_body": text}
    event = http_event("POST", "/v1/imports", route="/v1/imports", headers=headers, query=query, **body)
    answer = invoke(wiring.ADMIN, event)
    return answer["statusCode"], json.loads(answer["body"])


def plan(resources) -> list[dict]:
    records = queue_messages(wiring.IMPORT_FILES_QUEUE, resources)
    if records:
        assert invoke(wiring.IMPORT_FILES, {"Records": records}) == {"batchItemFailures": []}
    return records


def import_chunks(resources) -> list[dict]:
    records = queue_messages(wiring.IMPORT_CHUNKS_QUEUE, resources)
    for record in records:
        assert invoke(wiring.IMPORT_CHUNKS, {"Records": [record]}) == {"batchItemFailures": []}
    return records


def report(import_id: str) -> dict:
    status, body = admin("GET", f"/v1/imports/{import_id}")
    assert status == 200, body
    return body


def test_a_posted_file_is_planned_from_the_bucket_notification_and_imported(resources, profile_id):
    status, answer = post_csv(f"email,first_name\n{profile_id}@example.net,Ada\n", base64_body=True)
    assert (status, report(answer["import_id"])["status"]) == (202, "queued")

    plan(resources)
    assert report(answer["import_id"])["status"] == "running"
    import_chunks(resources)

    done = report(answer["import_id"])
    assert (done["status"], done["rows"], done["created"]) == ("done", 1, 1)
    _, found = admin("GET", f"/v1/profiles?email={profile_id}@example.net")
    assert found["consent"] == {"source": "import", "at": "2026-03-01T12:00:00Z", "detail": "shop-checkout"}


def test_a_chunk_delivered_twice_counts_once(resources, profile_id):
    _, answer = post_csv(f"email\n{profile_id}@example.net\n{profile_id}.b@example.net\n")
    plan(resources)
    (chunk,) = queue_messages(wiring.IMPORT_CHUNKS_QUEUE, resources)

    for _ in range(2):
        assert invoke(wiring.IMPORT_CHUNKS, {"Records": [chunk]}) == {"batchItemFailures": []}

    done = report(answer["import_id"])
    assert (done["rows"], done["created"], done["unchanged"]) == (2, 2, 0)


def test_withdrawn_and_suppressed_addresses_are_not_resubscribed(resources, profile_id):
    left, bounced = f"{profile_id}@example.net", f"{profile_id}.b@example.net"
    post_csv(f"profile_id,email\n{profile_id},{left}\n")
    plan(resources), import_chunks(resources)
    invoke_unsubscribe(profile_id)
    assert admin("PUT", f"/v1/suppressions/{bounced}", {"reason": "manual"})[0] == 200

    _, answer = post_csv(f"email,first_name\n{left},Ada\n{bounced},Bo\n")
    plan(resources), import_chunks(resources)

    done = report(answer["import_id"])
    assert (done["suppressed"], done["created"], done["updated"]) == (2, 0, 0)
    _, stored = admin("GET", f"/v1/profiles/{profile_id}")
    assert (stored["status"], stored["consent"]["source"]) == ("unsubscribed", "unsubscribe_link")
    assert admin("GET", f"/v1/profiles?email={bounced}")[0] == 404


def invoke_unsubscribe(profile_id: str) -> None:
    from closedloop import services
    from closedloop.profiles import consent_record

    now = services.clock().now()
    assert services.profiles().set_status(profile_id, "unsubscribed", now, consent_record("unsubscribe_link", now))


def test_the_planner_skips_s3_test_events_and_keys_it_did_not_hand_out(resources):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=resources.buckets["imports"], Key=f"{imports.FILE_PREFIX}someone-elses.csv", Body=b"email\n")
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "imports"}
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=resources.queues[wiring.IMPORT_FILES_QUEUE.id].url, MessageBody=json.dumps(test_event))

    assert len(plan(resources)) >= 2  # (and the test event S3 sent when the bucket was configured)
    assert queue_messages(wiring.IMPORT_CHUNKS_QUEUE, resources) == []


def test_an_upload_url_signs_a_put_of_the_imports_file(resources):
    status, answer = admin("POST", f"/v1/imports?{SUBSCRIBE}", {"upload": True})

    assert status == 202
    assert f"/uploads/{answer['import_id']}.csv?" in answer["upload_url"]
    assert "X-Amz-Signature=" in answer["upload_url"]


def test_a_json_body_other_than_an_upload_request_is_400(resources):
    status, body = admin("POST", f"/v1/imports?{SUBSCRIBE}", {"upload": "yes"})

    assert (status, body["code"]) == (400, "invalid_input")


def test_an_erased_person_re_imported_is_neither_stored_nor_mailed(resources, profile_id):
    address = f"{profile_id}@example.net"
    assert admin("PUT", f"/v1/profiles/{profile_id}", {"email": address, "status": "subscribed"})[0] == 201
    assert admin("DELETE", f"/v1/profiles/{profile_id}")[0] == 204

    _, answer = post_csv(f"email,first_name\n{address.upper()},Ada\n")
    plan(resources)
    import_chunks(resources)

    done = report(answer["import_id"])
    assert (done["suppressed"], done["created"]) == (1, 0)
    assert admin("GET", f"/v1/profiles?email={address}")[0] == 404
    assert outbox.messages(to=address) == []

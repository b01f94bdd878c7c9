"""A campaign's statistics on moto: every path counts once when its message or event is delivered again, and
concurrent counts are never lost."""

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import boto3

from closedloop import services
from closedloop.clock import isoformat
from closedloop.sending import SendRequest
from closedloop.values import CampaignRef
from infra import wiring
from tests.integration.conftest import (
    admin,
    invoke,
    mails_to,
    put_profile,
    queue_messages,
    tap_events,
    tracked_links,
    tracking,
)


def campaign_mail(resources, profile_id, ref):
    """Send a campaign's newsletter to the profile; the sender's SQS records (to deliver again) and the mail."""
    request = SendRequest(
        send_key=f"campaign#{ref.id}#{ref.stage}#{profile_id}", profile_id=profile_id, template="newsletter-demo"
    )
    services.send_queue().enqueue([replace(request, campaign=ref)])
    records = queue_messages(wiring.SEND_QUEUE, resources)
    assert invoke(wiring.SENDER, {"Records": records}) == {"batchItemFailures": []}
    (mail,) = mails_to(profile_id)
    return records, mail


def variant(ref):
    return services.campaign_stats().summary(ref.id)["stages"][ref.stage]["variants"][ref.variant]


def test_a_sent_campaign_mail_counts_once_when_the_queue_delivers_it_again(resources, profile_id):
    ref = CampaignRef(f"c-{profile_id}", "main", "a")
    put_profile(profile_id)
    records, mail = campaign_mail(resources, profile_id, ref)
    assert invoke(wiring.SENDER, {"Records": records}) == {"batchItemFailures": []}  # a redelivery: duplicate
    counts = variant(ref)
    assert (counts["sent"], counts["skipped"]["duplicate"]) == (1, 1)
    assert mail["tags"]["campaign"] == ref.id and mail["tags"]["variant"] == "a"


def test_a_skipped_campaign_mail_counts_once_per_send_key(resources, profile_id):
    ref = CampaignRef(f"c-{profile_id}", "main", "a")
    services.send_queue().enqueue(
        [
            SendRequest(
                send_key=f"campaign#{ref.id}#main#{profile_id}", profile_id=profile_id, template="x", campaign=ref
            )
        ]
    )
    records = queue_messages(wiring.SEND_QUEUE, resources)
    for _ in range(2):
        invoke(wiring.SENDER, {"Records": records})
    assert variant(ref)["skipped"]["no_profile"] == 1


def test_opens_clicks_and_unsubscribes_of_a_campaign_mail_count_once_and_mark_the_profile(resources, profile_id, clock):
    ref = CampaignRef(f"c-{profile_id}", "main", "b")
    put_profile(profile_id)
    _, mail = campaign_mail(resources, profile_id, ref)
    opened_at = isoformat(clock.now())
    (pixel,) = set(re.findall(r"/o/([A-Za-z0-9._~-]+)", mail["html"]))
    for _ in range(2):
        assert tracking(wiring.OPEN, "GET", pixel)["statusCode"] == 200
    travel, _ = tracked_links(mail)
    tracking(wiring.CLICK, "GET", travel)
    records = queue_messages(wiring.REACTIONS_QUEUE, resources)
    invoke(wiring.REACTIONS, {"Records": records})
    clock.advance(seconds=services.config().bots.settle_seconds + 1)
    settle = queue_messages(wiring.REACTIONS_QUEUE, resources)
    for _ in range(2):  # the settle step delivered twice
        assert invoke(wiring.REACTIONS, {"Records": settle}) == {"batchItemFailures": []}
    (unsubscribe,) = set(re.findall(r"/u/([A-Za-z0-9._~-]+)", mail["text"]))
    for _ in range(2):
        tracking(wiring.UNSUBSCRIBE, "POST", unsubscribe, form="")
    counts = variant(ref)
    assert (counts["opens_unique"], counts["clicks_human"], counts["clicks_human_unique"]) == (1, 1, 1)
    assert counts["links"] == {"https://travel.example.com/australia": 1}
    assert counts["unsubscribes"] == 1
    profile = admin("GET", f"/v1/profiles/{profile_id}")[1]
    assert profile["clicked_campaigns"] == [ref.id]
    assert profile["last_opened_at"] == profile["last_clicked_at"] == opened_at


def test_ses_feedback_of_a_campaign_mail_counts_once_when_eventbridge_delivers_it_again(resources, profile_id):
    ref = CampaignRef(f"c-{profile_id}", "main", "a")
    tags = {"campaign": [ref.id], "stage": ["main"], "variant": ["a"]}
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "Email Delivered",
        "source": "aws.ses",
        "account": "123456789012",
        "time": "2026-03-01T12:00:00Z",
        "region": "eu-central-1",
        "resources": [],
        "detail": {"eventType": "Delivery", "mail": {"messageId": f"ses-{profile_id}", "tags": tags}, "delivery": {}},
    }
    for _ in range(2):
        invoke(wiring.FEEDBACK, event)
    assert variant(ref)["delivered"] == 1


def test_a_purchase_after_a_campaign_mail_converts_once_with_its_revenue(resources, profile_id, clock):
    ref = CampaignRef(f"c-{profile_id}", "main", "a")
    put_profile(profile_id)
    definition = {"name": "Sale", "goal": {"event": "purchase"}}
    boto3.client("dynamodb").put_item(
        TableName=resources.tables["campaigns"],
        Item={
            "pk": {"S": f"campaign#{ref.id}"},
            "sk": {"S": "campaign"},
            "definition": {"S": json.dumps(definition)},
            "started_at": {"S": isoformat(clock.now())},
        },
    )
    campaign_mail(resources, profile_id, ref)
    clock.advance(hours=2)
    tap_events(resources, wiring.CONVERSIONS)  # start from an empty tap
    order = {"order_id": "o1", "total": 49.5, "currency": "EUR"}
    body = {"profile_id": profile_id, "type": "purchase", "properties": order, "event_id": "o1"}
    assert admin("POST", "/v1/events", body)[0] == 202
    (event,) = tap_events(resources, wiring.CONVERSIONS)
    assert invoke(wiring.CONVERSIONS, event) == {"converted": [ref.id]}
    assert invoke(wiring.CONVERSIONS, event) == {"converted": []}  # delivered again
    counts = variant(ref)
    assert (counts["conversions"], counts["revenue"]) == (1, {"EUR": 49.5})
    ledger = boto3.client("dynamodb").get_item(
        TableName=resources.tables["ledger"], Key={"pk": {"S": f"converted#{ref.id}#{profile_id}"}}
    )
    assert ledger["Item"]["profile_id"]["S"] == profile_id


def test_concurrent_adds_of_one_fact_count_once_and_of_many_facts_on_one_shard_all_count(resources, profile_id):
    ref = CampaignRef(f"c-{profile_id}", "main", None)
    stats = services.campaign_stats()
    with ThreadPoolExecutor(max_workers=8) as pool:
        same = list(pool.map(lambda _: stats.add(ref, {"targeted": 5}, fact="page-1", shard_of="x"), range(16)))
        list(pool.map(lambda n: stats.add(ref, {"conversions": 1}, fact=f"c#{n}", shard_of="x"), range(40)))
    total = stats.summary(ref.id)["total"]
    assert (same.count(True), total["targeted"], total["conversions"]) == (1, 5, 40)

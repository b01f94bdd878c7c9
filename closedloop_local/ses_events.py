"""SES's feedback, played locally: the EventBridge events SES publishes for a configuration set's mail.

In the cloud SES puts Bounce, Complaint, Delivery, ... events for every mail sent through the configuration set
on the account's default bus (detail-type "Email Bounced", source "aws.ses", `detail` the event publishing
record: eventType, mail, bounce / complaint / delivery). Locally they come from two places, in the same shape, onto
moto's default bus, where the feedback function's rule (a tap, closedloop_local.aws) picks them up:

- `POST /_local/ses-events` (closedloop_local.local_routes) for a mail in the outbox;
- SES's mailbox simulator: a mail to bounce@simulator.amazonses.com bounces (permanently) and one to
  complaint@simulator.amazonses.com draws a complaint, by themselves (closedloop_local.outbox sees each send).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from closedloop.clock import isoformat

from .aws import ACCOUNT_ID, CONFIGURATION_SET, DEFAULT_BUS_NAME, REGION

DETAIL_TYPES = {"Bounce": "Email Bounced", "Complaint": "Email Complaint Received", "Delivery": "Email Delivered"}
BOUNCE_TYPES = ("Permanent", "Transient")
SIMULATOR = {
    "bounce@simulator.amazonses.com": ("Bounce", "Permanent"),
    "complaint@simulator.amazonses.com": ("Complaint", None),
}


def entry(
    event_type: str,
    *,
    ses_message_id: str,
    destination: list[str],
    tags: dict[str, str],
    sender: str,
    now: datetime,
    bounce_type: str = "Permanent",
) -> dict:
    """The PutEvents entry SES would publish for this mail (event_type: Bounce, Complaint or Delivery)."""
    at = isoformat(now)
    recipients = list(destination)
    detail: dict = {
        "eventType": event_type,
        "mail": {
            "timestamp": at,
            "source": sender,
            "sendingAccountId": ACCOUNT_ID,
            "messageId": ses_message_id,
            "destination": recipients,
            "headersTruncated": False,
            # SES lists each tag's values, and adds its own (ses:*) to the ones the send carried.
            "tags": {
                "ses:configuration-set": [CONFIGURATION_SET],
                **{name: [value] for name, value in tags.items()},
            },
        },
    }
    feedback_id = f"{uuid.uuid4()}-000000"
    if event_type == "Bounce":
        detail["bounce"] = {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": address, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1"}
                if bounce_type == "Permanent"
                else {"emailAddress": address, "action": "delayed", "status": "4.2.2"}
                for address in recipients
            ],
            "timestamp": at,
            "feedbackId": feedback_id,
            "reportingMTA": "dsn; local.closedloop",
        }
    elif event_type == "Complaint":
        detail["complaint"] = {
            "complainedRecipients": [{"emailAddress": address} for address in recipients],
            "timestamp": at,
            "feedbackId": feedback_id,
            "complaintFeedbackType": "abuse",
        }
    elif event_type == "Delivery":
        detail["delivery"] = {
            "timestamp": at,
            "processingTimeMillis": 500,
            "recipients": recipients,
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "local.closedloop",
        }
    else:
        raise ValueError(f"event_type must be one of {', '.join(DETAIL_TYPES)}")
    return {
        "Source": "aws.ses",
        "DetailType": DETAIL_TYPES[event_type],
        "Detail": json.dumps(detail),
        "EventBusName": DEFAULT_BUS_NAME,
        "Resources": [f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:configuration-set/{CONFIGURATION_SET}"],
        "Time": now,
    }


def put_in_process(entries: list[dict]) -> None:
    """Put events on moto's bus from inside moto's server (where the simulator sees a send): its backend
    directly, since a request to the server would wait for the request being answered."""
    from moto.events.models import events_backends

    events_backends[ACCOUNT_ID][REGION].put_events([{k: v for k, v in e.items() if k != "Time"} for e in entries])


def simulated(destination: list[str], **mail) -> list[dict]:
    """The events SES's mailbox simulator would produce for a mail to these addresses."""
    found = []
    for address in destination:
        outcome = SIMULATOR.get(address.strip().lower())
        if outcome:
            event_type, bounce_type = outcome
            found.append(entry(event_type, destination=[address], bounce_type=bounce_type or "Permanent", **mail))
    return found

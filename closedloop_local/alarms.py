"""CloudWatch alarms, played locally: the "Alarm State Change" event CloudWatch puts on the account's default bus.

In the cloud the SES reputation alarms (infra/metrics.py REPUTATION_ALARMS) change state and CloudWatch publishes
the change to the default bus, where the reputation-alarm function's rule picks it up and pauses sending. Locally
`POST /_local/alarms` builds the same event for one of those metrics and puts it on moto's default bus, where the
rule's tap (closedloop_local.aws) delivers it to the same function.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from closedloop.clock import isoformat
from infra import metrics

from .aws import ACCOUNT_ID, DEFAULT_BUS_NAME, REGION

STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
METRICS = {alarm.metric: alarm for alarm in metrics.REPUTATION_ALARMS}


def entry(metric: str, state: str, now: datetime) -> dict:
    """A PutEvents entry: the state change of the alarm on an SES reputation metric, as CloudWatch sends it."""
    alarm = METRICS[metric]
    name = f"closedloop-{alarm.id}"
    detail = {
        "alarmName": name,
        "state": {"value": state, "reason": "played by POST /_local/alarms", "timestamp": isoformat(now)},
        "previousState": {"value": "OK" if state == "ALARM" else "ALARM", "timestamp": isoformat(now)},
        "configuration": {
            "description": alarm.description,
            "metrics": [
                {
                    "id": uuid.uuid4().hex,
                    "metricStat": {
                        "metric": {"namespace": metrics.SES_NAMESPACE, "name": metric, "dimensions": {}},
                        "period": 300,
                        "stat": "Maximum",
                    },
                    "returnData": True,
                }
            ],
        },
    }
    return {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Detail": json.dumps(detail),
        "Resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"],
        "EventBusName": DEFAULT_BUS_NAME,
        "Time": now,
    }

"""Profiles table stream -> threshold.crossed events. Each record holds one write's old and new image."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from closedloop import services, thresholds
from closedloop.observability import logger, observed

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def interests(image: dict | None) -> dict[str, int]:
    return {name: int(value) for name, value in ((image or {}).get("interests") or {}).items()}


def check(record: DynamoDBRecord) -> None:
    old, new = record.dynamodb.old_image, record.dynamodb.new_image
    profile_id = (new or old)["profile_id"]
    fired = thresholds.on_profile_change(
        profile_id,
        interests(old),
        interests(new),
        services.config(),
        services.ledger(),
        services.publisher(),
        services.clock().now(),
    )
    if fired:
        logger.info("thresholds crossed", extra={"profile_id": profile_id, "rules": fired})


@observed
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=check, processor=processor, context=context)

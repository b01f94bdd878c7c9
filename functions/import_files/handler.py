"""The imports bucket's notifications (via SQS) -> check each new file whole and queue its chunks of rows."""

from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event

from closedloop import imports, services
from closedloop.observability import logger, observed

processor = BatchProcessor(event_type=EventType.SQS)


def plan_one(record) -> list[str]:
    notification = S3Event(record.json_body)
    # S3 sends an s3:TestEvent (no records) when the notification is configured: nothing to do.
    results = []
    for entry in notification.get("Records") and notification.records or []:
        # Keys arrive URL-encoded ('+' for a space), as S3 writes them into notifications.
        key, bucket = unquote_plus(entry.s3.get_object.key), entry.s3.bucket.name
        import_id = imports.import_id_of(key, imports.FILE_PREFIX)
        if bucket != services.settings().imports_bucket or import_id is None:
            logger.warning("ignored an object closedloop did not ask for", extra={"key": key[:200]})
            continue
        result = imports.plan_file(
            import_id,
            entry.s3.get_object.size,
            key,
            store=services.import_store(),
            files=services.import_files(),
            queue=services.import_queue(),
            now=services.clock().now(),
        )
        logger.info("import file", extra={"import_id": import_id, "result": result})
        results.append(result)
    return results


@observed
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=plan_one, processor=processor, context=context)

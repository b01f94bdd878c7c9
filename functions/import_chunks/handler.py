"""One chunk of an import's rows -> profiles, counted into the import once (closedloop.imports.import_chunk)."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from closedloop import imports, services
from closedloop.observability import logger, metrics, observed

processor = BatchProcessor(event_type=EventType.SQS)


def import_one(record) -> dict:
    chunk = imports.Chunk.from_json(record.body)
    report = imports.import_chunk(
        chunk,
        services.import_files().read_range(chunk.key, chunk.start, chunk.end),
        store=services.import_store(),
        suppressions=services.suppressions(),
        erasure=services.erasure_keys(),
        config=services.config(),
        now=services.clock().now(),
    )
    # Counters only: rows hold addresses and names, which stay out of the logs.
    logger.info(
        "import chunk",
        extra={"import_id": chunk.import_id, "chunk": chunk.number, "counted": report.counted, "rows": report.counters},
    )
    if report.counted:
        for outcome, count in report.counters.items():
            if count:
                metrics.add_metric(name=f"Import_{outcome}", unit="Count", value=count)
    return report.counters


@observed
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=import_one, processor=processor, context=context)

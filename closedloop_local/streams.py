"""DynamoDB Streams for the local runtime: reads a table's stream in moto and hands out Lambda-shaped records.

In the cloud an event source mapping polls the stream; locally the pump (and the integration tests) call
`StreamReader.poll()` and pass the records to the wiring function's handler as {"Records": [...]}.
Records of one item stay in order, as in Lambda.

The reader remembers the last sequence number it handed out and asks for a fresh iterator after it on every
poll, instead of keeping moto's iterator: moto rolls a failed transaction back by copying its tables, which
leaves an old iterator reading a shard nobody writes to any more.
"""

from __future__ import annotations

import threading

import boto3

from infra import wiring


class StreamReader:
    def __init__(self, trigger: wiring.StreamTrigger, region: str) -> None:
        self.trigger = trigger
        self._region = region
        self._stream_arn: str | None = None
        self._last: dict[str, str] = {}  # shard id -> last sequence number handed out
        self._lock = threading.Lock()

    def _clients(self):
        return (
            boto3.client("dynamodb", region_name=self._region),
            boto3.client("dynamodbstreams", region_name=self._region),
        )

    def start(self) -> None:
        """Begin at the stream's current end, as a new event source mapping (LATEST) does."""
        with self._lock:
            dynamodb, _ = self._clients()
            self._stream_arn = dynamodb.describe_table(TableName=self.trigger.table.id)["Table"]["LatestStreamArn"]
            self._read(skip=True)

    def poll(self) -> list[dict]:
        """The records written since the last poll, oldest first, as Lambda receives them."""
        with self._lock:
            if self._stream_arn is None:
                raise RuntimeError("StreamReader.start() first")
            return self._read(skip=False)

    def _read(self, skip: bool) -> list[dict]:
        _, streams = self._clients()
        records: list[dict] = []
        for shard in streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            position = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._last[shard_id]}
                if shard_id in self._last
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard_id, **position)[
                "ShardIterator"
            ]
            while iterator:
                answer = streams.get_records(ShardIterator=iterator, Limit=1000)
                got = answer.get("Records", [])
                if not got:
                    break
                self._last[shard_id] = got[-1]["dynamodb"]["SequenceNumber"]
                if not skip:
                    records.extend({**record, "eventSourceARN": self._stream_arn} for record in got)
                iterator = answer.get("NextShardIterator")
        return records

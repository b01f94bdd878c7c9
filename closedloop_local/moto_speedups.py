"""The same answers from moto 5.2, sooner: work moto does on every request that the answer does not need.

Measured on the demo (about 5,000 AWS calls, one at a time):

- DynamoDB transactions: to be able to roll one back, moto deep-copies every table it touches, every time; the
  ledger (two items per mail) makes that most of moto's time by the end of the demo. Here only the items the
  transaction names are copied (and each touched table's stream length noted), and a failed transaction puts
  those back instead of swapping in copies of whole tables.
- Dispatch: to find the service a request is for, moto lists its own package directory, twice per request. The
  service for a host never changes, so `Dispatcher` remembers it.
- DynamoDB update expressions: moto parses an UpdateExpression anew every time, twice per UpdateItem. The parsed
  tree is only read (moto's validator works on a deep copy of it), so one tree per expression text is kept;
  pynamodb numbers its placeholders, so a handful of texts cover every write.
- SQS ReceiveMessage: for each message it hands out, moto computes every attribute of the queue (the approximate
  counts walk all of its messages) to read MessageRetentionPeriod; the value is read directly.

Only the local runtime installs them (the integration tests and the bench see moto as it is), and `install`
returns the function that takes them out again.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from moto.core.utils import unix_time
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sqs.models import SQSBackend

PARSED_EXPRESSIONS = 256  # distinct update expression texts kept; the domain writes fewer than twenty


class Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves each host."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


def _retained(self: SQSBackend, queue_name: str, message: Any) -> bool:
    """moto's retention check, reading the one attribute it needs instead of computing them all."""
    queue = self.get_queue(queue_name)
    return queue.message_retention_period + message.sent_timestamp / 1000 > unix_time()


class _TouchedItems:
    """The items a transaction names, as they were, and the stream length of their tables: enough to undo it."""

    def __init__(self, backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        self._items: list[tuple[Table, Any, Any, Any]] = []  # table, hash key, range key, the item's copy or None
        self._streams: dict[str, tuple[Any, int]] = {}  # table name -> its stream shard and that shard's length
        for entry in transact_items:
            for operation in entry.values():
                table = backend.tables.get(operation.get("TableName"))
                if table is None:
                    continue
                try:
                    key = operation.get("Key") or {
                        name: operation["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
                    }
                    hash_key, range_key = backend.get_keys_value(table, key)
                    before = table.get_item(hash_key, range_key)
                except Exception:  # moto refuses this operation itself, before writing it
                    continue
                self._items.append((table, hash_key, range_key, copy.deepcopy(before)))
                if table.stream_shard is not None and table.name not in self._streams:
                    self._streams[table.name] = (table.stream_shard, len(table.stream_shard.items))

    def restore(self) -> None:
        for table, hash_key, range_key, item in reversed(self._items):  # the first copy of a key is its original
            if item is not None:
                if range_key is not None:
                    table.items[hash_key][range_key] = item
                else:
                    table.items[hash_key] = item
            elif range_key is not None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items.pop(hash_key, None)
        for shard, length in self._streams.values():
            del shard.items[length:]  # a cancelled transaction leaves no stream records


def _the_table_itself(table: Table, memo: dict) -> Table:
    return table


def _undoable_by_item(transact_write_items: Callable[..., Any]) -> Callable[..., Any]:
    """moto's TransactWriteItems with its whole-table copies made no-ops and a per-item undo in their place."""

    def transact_write_items_by_item(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Any:
        touched = _TouchedItems(self, transact_items)
        # moto's "backup" is then the live table, so its own rollback (putting the backup back) changes nothing.
        Table.__deepcopy__ = _the_table_itself
        try:
            return transact_write_items(self, transact_items)
        except BaseException:
            touched.restore()
            raise
        finally:
            del Table.__deepcopy__

    return transact_write_items_by_item


def install() -> Callable[[], None]:
    """Patch moto's transactions, update-expression parser and SQS retention check in this process; returns the
    undo."""
    parse = UpdateExpressionParser.__dict__["make"]  # the classmethod itself, to put back as it was
    retained = SQSBackend.is_message_valid_based_on_retention_period
    transact = DynamoDBBackend.transact_write_items
    remembered = functools.lru_cache(maxsize=PARSED_EXPRESSIONS)(parse.__get__(None, UpdateExpressionParser))
    UpdateExpressionParser.make = staticmethod(remembered)
    SQSBackend.is_message_valid_based_on_retention_period = _retained
    DynamoDBBackend.transact_write_items = _undoable_by_item(transact)

    def undo() -> None:
        UpdateExpressionParser.make = parse
        SQSBackend.is_message_valid_based_on_retention_period = retained
        DynamoDBBackend.transact_write_items = transact

    return undo

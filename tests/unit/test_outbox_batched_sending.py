"""The relay's batched sending, against a producer that refuses what we tell it to refuse."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError

from shared.metrics import ServiceMetrics
from shared.outbox import OutboxRelay


class _Builder:
    def __init__(self) -> None:
        self.values: list[bytes] = []

    def append(self, *, timestamp: Any, key: bytes | None, value: bytes, headers: Any) -> object | None:
        if len(self.values) == 4:
            return None
        self.values.append(value)
        return object()


class _Producer:
    """Refuses every batch holding b"poison", and, sent alone, b"poison" itself."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.alone: list[bytes] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> _Builder:
        return _Builder()

    async def send_batch(self, batch: _Builder, topic: str, *, partition: int) -> asyncio.Future[Any]:
        self.batches.append(list(batch.values))
        return self._outcome(RecordListTooLargeError() if b"poison" in batch.values else None)

    async def send(self, topic: str, *, key: bytes | None, value: bytes, headers: Any, partition: int) -> asyncio.Future[Any]:
        self.alone.append(value)
        return self._outcome(MessageSizeTooLargeError() if value == b"poison" else None)

    @staticmethod
    def _outcome(problem: Exception | None) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if problem is None:
            future.set_result(None)
        else:
            future.set_exception(problem)
        return future


def _rows(values: list[bytes]) -> list[dict[str, Any]]:
    return [{"id": number, "topic": "t", "key": b"same", "value": value, "headers": {}} for number, value in enumerate(values, start=1)]


def _relay(producer: _Producer) -> OutboxRelay:
    relay = OutboxRelay(None, None, ServiceMetrics("test"))
    relay._producer = producer
    return relay


async def test_small_rows_go_in_batches_and_all_are_acknowledged_in_order():
    producer = _Producer()
    rows = _rows([b"a", b"b", b"c", b"d", b"e", b"f"])

    sent, refused, transient = await _relay(producer)._send(rows)

    assert [row["value"] for row in sent] == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert (refused, transient) == ([], None)
    assert producer.batches == [[b"a", b"b", b"c", b"d"], [b"e", b"f"]]


async def test_a_refused_batch_is_sent_again_row_by_row_and_only_the_guilty_row_is_refused():
    producer = _Producer()
    relay = _relay(producer)
    rows = _rows([b"a", b"poison", b"c"])

    sent, refused, transient = await relay._send(rows)
    assert sent == [] and refused == [] and isinstance(transient, RecordListTooLargeError)

    sent, refused, transient = await relay._send(rows)
    assert [row["value"] for row in sent] == [b"a", b"c"]
    assert [row["value"] for row, _ in refused] == [b"poison"]
    assert transient is None
    assert producer.alone == [b"a", b"poison", b"c"]

"""The broker alone: the feed's own records produced to a fresh topic and consumed back, nothing else.

The producing side is the very call the pipeline phase publishes with (`reko.publish.publish_lines`,
same keys, same bytes), so the two phases differ only in what happens after the broker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from reko.publish import publish_lines


@dataclass(frozen=True)
class RawRoundTrip:
    records: int
    bytes: int
    produce_seconds: float
    consume_seconds: float

    @property
    def produce_rate(self) -> float:
        return self.records / self.produce_seconds

    @property
    def consume_rate(self) -> float:
        return self.records / self.consume_seconds

    @property
    def round_trip_rate(self) -> float:
        """Records per second through the broker and back, producing first and consuming after."""
        return self.records / (self.produce_seconds + self.consume_seconds)


async def create_topic(bootstrap_servers: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def consume_count(bootstrap_servers: str, topic: str, partitions: int, count: int, *, timeout: float = 600.0) -> None:  # noqa: ASYNC109 - a deadline between fetches
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, partition) for partition in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        received = 0
        deadline = time.monotonic() + timeout
        while received < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {received} of {count} records from {topic}")
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            received += sum(len(messages) for messages in batch.values())
    finally:
        await consumer.stop()


async def raw_round_trip(bootstrap_servers: str, lines: Sequence[bytes], *, partitions: int = 3) -> RawRoundTrip:
    topic = f"bench.raw.{uuid.uuid4().hex[:12]}"
    await create_topic(bootstrap_servers, topic, partitions)
    started = time.perf_counter()
    await publish_lines(bootstrap_servers, topic, lines)
    produced = time.perf_counter()
    await consume_count(bootstrap_servers, topic, partitions, len(lines))
    consumed = time.perf_counter()
    return RawRoundTrip(
        records=len(lines),
        bytes=sum(len(line) for line in lines),
        produce_seconds=produced - started,
        consume_seconds=consumed - produced,
    )


async def partition_count(bootstrap_servers: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata
        return len(consumer.partitions_for_topic(topic) or ()) or 1
    finally:
        await consumer.stop()

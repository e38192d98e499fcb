"""What `GET /status` reads, against the real broker and database: exact lag, dead letters, outbox backlog."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.contracts.envelope import EventData
from shared.kafka import ensure_topics
from shared.outbox import Outbox, outbox_backlog
from shared.status import broker_status

pytestmark = pytest.mark.integration


class Tick(EventData):
    sequence: int


async def _produce(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        # Several records per batch: the broker's ListOffsets answer would undercount such a partition's end.
        futures = [await producer.send(topic, key=f"patient-{n % 5}".encode(), value=b"{}") for n in range(count)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _consume_and_commit(bootstrap: str, group: str, topic: str, count: int) -> int:
    """Consume up to `count` records as `group` and commit after them; returns how many were committed."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        fetched: dict[TopicPartition, list] = {}
        for _ in range(100):
            for partition, records in (await consumer.getmany(timeout_ms=200, max_records=count)).items():
                fetched.setdefault(partition, []).extend(records)
            if fetched:
                break
        await consumer.commit({partition: records[-1].offset + 1 for partition, records in fetched.items()})
        return sum(len(records) for records in fetched.values())
    finally:
        await consumer.stop()


async def test_the_lag_is_every_record_after_the_groups_committed_offsets(kafka_bootstrap, unique_name):
    topic, dead_letters, group = f"{unique_name}.cases", f"{unique_name}.cases.dlq", f"{unique_name}.group"
    await ensure_topics(kafka_bootstrap, [topic, dead_letters])
    await _produce(kafka_bootstrap, topic, 300)
    await _produce(kafka_bootstrap, dead_letters, 4)

    lags, dead = await broker_status(kafka_bootstrap, {group: [topic]}, [dead_letters])
    assert [(lag.group, lag.lag) for lag in lags] == [(group, 300)]
    assert all(partition.committed is None for partition in lags[0].topics[0].partitions)
    assert [(topic.topic, topic.records) for topic in dead] == [(dead_letters, 4)]

    committed = await _consume_and_commit(kafka_bootstrap, group, topic, 120)
    assert 0 < committed < 300
    lags, _ = await broker_status(kafka_bootstrap, {group: [topic]}, [dead_letters])
    assert lags[0].lag == 300 - committed
    assert sum(partition.end for partition in lags[0].topics[0].partitions) == 300


async def test_a_topic_not_created_yet_has_no_lag(kafka_bootstrap, unique_name):
    lags, dead = await broker_status(kafka_bootstrap, {f"{unique_name}.group": [f"{unique_name}.nothing"]}, [f"{unique_name}.nothing.dlq"])
    assert lags[0].lag == 0 and lags[0].topics[0].partitions == ()
    assert dead[0].records == 0


async def test_the_outbox_backlog_counts_the_rows_not_yet_sent(platform_pool):
    outbox = Outbox(source="urn:test")
    for sequence in range(5):
        outbox.event(topic="t", key="k", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=sequence))
    async with platform_pool.acquire() as conn, conn.transaction():
        await outbox.write(conn)
    await platform_pool.execute("UPDATE outbox_relay SET sent_through = (SELECT id FROM outbox ORDER BY id OFFSET 1 LIMIT 1)")
    assert await outbox_backlog(platform_pool) == 3

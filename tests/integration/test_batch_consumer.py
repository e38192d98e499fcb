"""The shared consumer machinery against a real PostgreSQL: inbox, outbox, isolation, retries."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from reko.embedded import EmbeddedPostgres
from shared.clock import FixedClock
from shared.consumer import ApplyContext, BadEvent, BatchConsumer, Incoming, TopicRoute
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.metrics import ServiceMetrics
from shared.outbox import OutgoingRecord

pytestmark = pytest.mark.integration

CLOCK = FixedClock(datetime(2026, 5, 1, 12, tzinfo=UTC))


def record(offset: int, value: bytes, *, partition: int = 0, topic: str = "in") -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value),
        headers=[("h", b"v")],
    )


def decode(raw: ConsumerRecord) -> tuple[str, dict]:
    try:
        event = json.loads(raw.value)
    except ValueError:
        raise BadEvent("NotJson", "not valid JSON") from None
    return event["id"], event


class Ledger:
    """A tiny service: remembers every applied event id; fails on the ones it is told to."""

    def __init__(self, poison: set[str] = frozenset(), transient_failures: int = 0) -> None:
        self.poison = poison
        self.transient_failures = transient_failures

    async def apply(self, context: ApplyContext, incoming: list[Incoming[dict]]) -> None:
        await context.conn.execute("CREATE TABLE IF NOT EXISTS ledger (event_id text PRIMARY KEY)")
        if self.transient_failures:
            self.transient_failures -= 1
            raise ConnectionResetError("the network blinked")
        for item in incoming:
            if item.event_id in self.poison:
                raise ZeroDivisionError("a bug that only this event triggers")
            await context.conn.execute("INSERT INTO ledger VALUES ($1)", item.event_id)
            context.outbox.records.append(OutgoingRecord("out", b"k", item.record.value, {}, f"out-{item.event_id}"))


def consumer_for(pool, ledger: Ledger, metrics: ServiceMetrics) -> BatchConsumer:
    return BatchConsumer(
        name="ledger",
        pool=pool,
        decode=decode,
        apply=ledger.apply,
        dead_letter_topic="in.dlq",
        outbox_source="urn:test",
        clock=CLOCK,
        metrics=metrics,
        max_backoff_seconds=0.2,
    )


async def ledger_ids(pool) -> list[str]:
    return sorted(row["event_id"] for row in await pool.fetch("SELECT event_id FROM ledger"))


async def outbox_topics(pool) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT topic, headers FROM outbox ORDER BY id")
    return [(row["topic"], row["headers"].get("x-error-class", "")) for row in rows]


async def test_a_redelivered_batch_changes_nothing(platform_pool):
    metrics = ServiceMetrics("test")
    consumer = consumer_for(platform_pool, Ledger(), metrics)
    batch = [record(0, b'{"id": "e1"}'), record(1, b'{"id": "e2"}'), record(2, b'{"id": "e1"}')]

    await consumer.process(batch)
    await consumer.process(batch)

    assert await ledger_ids(platform_pool) == ["e1", "e2"]
    assert len(await outbox_topics(platform_pool)) == 2
    # one duplicate inside the first batch, three in the redelivered one
    assert metrics.deduplicated.labels(topic="in")._value.get() == 4


async def test_undecodable_record_is_dead_lettered_once_with_its_reason_and_bytes(platform_pool):
    metrics = ServiceMetrics("test")
    consumer = consumer_for(platform_pool, Ledger(), metrics)
    batch = [record(0, b'{"id": "e1"}'), record(1, b"garbage"), record(2, b'{"id": "e2"}')]

    await consumer.process(batch)
    await consumer.process(batch)

    assert await ledger_ids(platform_pool) == ["e1", "e2"]
    dead = await platform_pool.fetch("SELECT value, headers FROM outbox WHERE topic = 'in.dlq'")
    assert len(dead) == 1
    assert dead[0]["value"] == b"garbage"
    assert dead[0]["headers"]["x-error-class"] == "NotJson"
    assert dead[0]["headers"]["x-original-offset"] == "1"
    assert dead[0]["headers"]["x-original-header-h"] == "v"


async def test_a_poison_pill_is_isolated_and_the_rest_of_the_batch_is_applied(platform_pool):
    metrics = ServiceMetrics("test")
    consumer = consumer_for(platform_pool, Ledger(poison={"e2"}), metrics)

    await consumer.process([record(0, b'{"id": "e1"}'), record(1, b'{"id": "e2"}'), record(2, b'{"id": "e3"}')])

    assert await ledger_ids(platform_pool) == ["e1", "e3"]
    assert ("in.dlq", "ProcessingError:ZeroDivisionError") in await outbox_topics(platform_pool)


async def test_a_transient_failure_is_retried_and_applied_once(platform_pool):
    metrics = ServiceMetrics("test")
    consumer = consumer_for(platform_pool, Ledger(transient_failures=2), metrics)

    await consumer.process([record(0, b'{"id": "e1"}')])

    assert await ledger_ids(platform_pool) == ["e1"]
    assert metrics.transient_failures.labels(stage="consume")._value.get() == 2


async def test_a_database_outage_holds_the_batch_until_the_database_returns(tmp_path: Path):
    server = EmbeddedPostgres(base_dir=tmp_path / "pg")
    server.start()
    pool = await create_pool(server.database_url, "platform", size=2)
    try:
        await migrate(pool, "platform", PLATFORM_MIGRATIONS)
        metrics = ServiceMetrics("test")
        consumer = consumer_for(pool, Ledger(), metrics)
        await asyncio.to_thread(server.stop)

        processing = asyncio.create_task(consumer.process([record(0, b'{"id": "e1"}'), record(1, b'{"id": "e2"}')]))
        await asyncio.sleep(2)
        assert not processing.done()  # nothing skipped, nothing committed while the database is away

        restarted = EmbeddedPostgres(port=server.port, base_dir=tmp_path / "pg")
        await asyncio.to_thread(restarted.start)
        try:
            await asyncio.wait_for(processing, 30)
            assert await ledger_ids(pool) == ["e1", "e2"]
            assert metrics.transient_failures.labels(stage="consume")._value.get() >= 1
            assert metrics.dead_lettered.labels(topic="in", error_class="ProcessingError")._value.get() == 0
        finally:
            await pool.close()
            await asyncio.to_thread(restarted.stop)
    finally:
        pool.terminate()


def hostile_record(offset: int, value: bytes | None, *, headers=(("h", b"v"),), key: bytes | None = b"k") -> ConsumerRecord:
    return ConsumerRecord(
        topic="in",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=list(headers),
    )


def exploding_decode(raw: ConsumerRecord) -> tuple[str, dict]:
    """A decoder with a bug only some records reach: it raises something other than BadEvent."""
    if raw.value == b"explode":
        raise OverflowError("date value out of range")
    return decode(raw)


async def test_a_record_the_decoder_chokes_on_is_dead_lettered_and_the_batch_around_it_is_applied(platform_pool):
    metrics = ServiceMetrics("test")
    consumer = BatchConsumer(
        name="ledger",
        pool=platform_pool,
        decode=exploding_decode,
        apply=Ledger().apply,
        dead_letter_topic="in.dlq",
        outbox_source="urn:test",
        clock=CLOCK,
        metrics=metrics,
        max_backoff_seconds=0.2,
    )
    batch = [record(offset, f'{{"id": "e{offset}"}}'.encode()) for offset in range(200)]
    batch.insert(100, record(200, b"explode"))

    await consumer.process(batch)

    assert len(await ledger_ids(platform_pool)) == 200
    assert ("in.dlq", "ProcessingError:OverflowError") in await outbox_topics(platform_pool)


async def test_a_dead_letter_fits_the_broker_and_keeps_the_size_and_hash_of_what_was_cut(platform_pool):
    consumer = consumer_for(platform_pool, Ledger(), ServiceMetrics("test"))
    huge = b"{" + b" " * 2_000_000

    await consumer.process([hostile_record(0, huge, key=b"K" * 5000)])

    row = await platform_pool.fetchrow("SELECT key, value, headers FROM outbox WHERE topic = 'in.dlq'")
    assert len(row["value"]) <= 256 * 1024
    assert len(row["key"]) <= 1024
    assert row["headers"]["x-original-value-bytes"] == str(len(huge))
    assert len(row["headers"]["x-original-value-sha256"]) == 64
    assert row["headers"]["x-error-class"] == "RecordTooLarge"


async def test_headers_postgresql_cannot_store_still_give_a_dead_letter_and_the_partition_goes_on(platform_pool):
    consumer = consumer_for(platform_pool, Ledger(), ServiceMetrics("test"))
    batch = [
        hostile_record(0, b"not json", headers=(("bin", b"\x00\xff\xfe"), ("none", None))),
        hostile_record(1, b'{"id": "e1"}', headers=(("bin", b"\xff"),)),
    ]

    await consumer.process(batch)

    assert await ledger_ids(platform_pool) == ["e1"]
    headers = await platform_pool.fetchval("SELECT headers FROM outbox WHERE topic = 'in.dlq'")
    assert headers["x-error-class"] == "NotJson"
    assert "\x00" not in headers["x-original-header-bin"]


class Journal:
    """Two tiny services in one: notes which route applied which events, in the order applied."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, list[str]]] = []

    def apply_as(self, route: str):
        async def apply(context: ApplyContext, incoming: list[Incoming[dict]]) -> None:
            self.applied.append((route, [item.event_id for item in incoming]))
            context.outbox.records.append(OutgoingRecord("out", b"k", b"{}", {}, f"{route}-{len(self.applied)}"))

        return apply


def consumer_of_two_topics(pool, journal: Journal, metrics: ServiceMetrics) -> BatchConsumer:
    routes = {
        "first": TopicRoute("svc:first", decode, journal.apply_as("first"), "first.dlq"),
        "second": TopicRoute("svc:second", decode, journal.apply_as("second"), "second.dlq"),
    }
    return BatchConsumer(
        name="svc:first+svc:second",
        pool=pool,
        decode=decode,
        apply=journal.apply_as("first"),
        dead_letter_topic="first.dlq",
        outbox_source="urn:test",
        clock=CLOCK,
        metrics=metrics,
        max_backoff_seconds=0.2,
        routes=routes,
    )


async def test_a_batch_of_two_topics_is_applied_topic_by_topic_in_the_routes_order_in_one_transaction(platform_pool):
    journal = Journal()
    metrics = ServiceMetrics("test")
    consumer = consumer_of_two_topics(platform_pool, journal, metrics)
    batch = [
        record(0, b'{"id": "s1"}', topic="second"),
        record(0, b'{"id": "f1"}', topic="first"),
        record(1, b'{"id": "s2"}', topic="second"),
        record(1, b'{"id": "f2"}', topic="first"),
    ]

    await consumer.process(batch)

    assert journal.applied == [("first", ["f1", "f2"]), ("second", ["s1", "s2"])]
    assert await platform_pool.fetchval("SELECT count(*) FROM outbox WHERE topic = 'out'") == 2
    inbox = await platform_pool.fetch("SELECT consumer, event_id FROM inbox ORDER BY consumer, event_id")
    # Inbox names per topic: consuming topics together deduplicates against what each consumed apart.
    expected = [("svc:first", "f1"), ("svc:first", "f2"), ("svc:second", "s1"), ("svc:second", "s2")]
    assert [(row["consumer"], row["event_id"]) for row in inbox] == expected
    assert metrics.consumed.labels(topic="first")._value.get() == 2
    assert metrics.consumed.labels(topic="second")._value.get() == 2


async def test_each_topic_of_a_shared_consumer_deduplicates_and_dead_letters_on_its_own(platform_pool):
    journal = Journal()
    consumer = consumer_of_two_topics(platform_pool, journal, ServiceMetrics("test"))
    # The same event id on both topics is two events; a redelivery of either is one.
    await consumer.process([record(0, b'{"id": "same"}', topic="first")])
    await consumer.process(
        [record(0, b'{"id": "same"}', topic="first"), record(0, b'{"id": "same"}', topic="second"), record(1, b"garbage", topic="second")]
    )

    assert journal.applied == [("first", ["same"]), ("second", ["same"])]
    dead = await platform_pool.fetch("SELECT topic, headers FROM outbox WHERE headers ? 'x-error-class'")
    described = [(row["topic"], row["headers"]["x-original-topic"], row["headers"]["x-error-class"]) for row in dead]
    assert described == [("second.dlq", "second", "NotJson")]


class SlowLedger(Ledger):
    """Holds its transaction open a while, so that two instances given the same batch overlap."""

    async def apply(self, context: ApplyContext, incoming: list[Incoming[dict]]) -> None:
        await asyncio.sleep(0.2)
        await super().apply(context, incoming)


async def test_two_instances_given_the_same_batch_at_once_apply_each_event_once(platform_pool):
    # As during a rebalance: the old owner still applies a batch that the new owner fetched again.
    async with platform_pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS ledger (event_id text PRIMARY KEY)")
    metrics = ServiceMetrics("test")
    batch = [record(offset, json.dumps({"id": f"e{offset}"}).encode()) for offset in range(5)]
    first, second = consumer_for(platform_pool, SlowLedger(), metrics), consumer_for(platform_pool, SlowLedger(), metrics)

    await asyncio.gather(first.process(batch), second.process(batch))

    assert await ledger_ids(platform_pool) == ["e0", "e1", "e2", "e3", "e4"]
    assert [topic for topic, _ in await outbox_topics(platform_pool)] == ["out"] * 5
    assert metrics.deduplicated.labels(topic="in")._value.get() == 5
    assert metrics.transient_failures.labels(stage="consume")._value.get() >= 1

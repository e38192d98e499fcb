"""The outbox relay against the real broker and database: in order, marked sent, at least once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from shared.contracts.envelope import EventData
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.kafka import ensure_topics, start_producer
from shared.metrics import ServiceMetrics
from shared.outbox import Outbox, OutboxRelay
from shared.settings import ServiceSettings
from tests.support import read_topic

pytestmark = pytest.mark.integration


class Tick(EventData):
    sequence: int


@contextlib.asynccontextmanager
async def relay_running(relay: OutboxRelay) -> AsyncIterator[None]:
    running = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def drained(pool, *, within_seconds: float = 10.0) -> None:
    """Until nothing is left to publish, or `within_seconds` have passed."""
    for _ in range(int(within_seconds / 0.05)):
        if await pool.fetchval("SELECT count(*) FROM outbox_pending") == 0:
            return
        await asyncio.sleep(0.05)


async def test_the_relay_publishes_in_order_and_marks_rows_sent(platform_pool, kafka_bootstrap, unique_name):
    topic = f"{unique_name}.ticks"
    await ensure_topics(kafka_bootstrap, [topic])
    outbox = Outbox(source="urn:test")
    for sequence in range(120):
        outbox.event(topic=topic, key="same-key", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=sequence))
    async with platform_pool.acquire() as conn, conn.transaction():
        await outbox.write(conn)
    metrics = ServiceMetrics("test")
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)
    relay = OutboxRelay(platform_pool, lambda: start_producer(settings), metrics, batch_size=50)

    async with relay_running(relay):
        await drained(platform_pool)

    records = await read_topic(kafka_bootstrap, topic)
    assert [record.json()["data"]["sequence"] for record in records] == list(range(120))
    assert all(record.headers["ce_id"] == record.json()["id"] for record in records)
    assert await platform_pool.fetchval("SELECT count(*) FROM outbox_pending") == 0


async def test_a_row_the_broker_refuses_for_good_is_recorded_and_the_rows_behind_it_go_out(platform_pool, kafka_bootstrap, unique_name):
    topic = f"{unique_name}.ticks"
    await ensure_topics(kafka_bootstrap, [topic])
    outbox = Outbox(source="urn:test")
    outbox.event(topic=topic, key="k", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=0))
    async with platform_pool.acquire() as conn, conn.transaction():
        await outbox.write(conn)
        # Larger than aiokafka's max_request_size: no retry can ever send it.
        await conn.execute("INSERT INTO outbox (event_id, topic, key, value) VALUES ('too-large', $1, 'k', $2)", topic, b"x" * 2_000_000)
    later = Outbox(source="urn:test")
    later.event(topic=topic, key="k", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=1))
    async with platform_pool.acquire() as conn, conn.transaction():
        await later.write(conn)
    metrics = ServiceMetrics("test")
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)
    relay = OutboxRelay(platform_pool, lambda: start_producer(settings), metrics, batch_size=50)

    async with relay_running(relay):
        await drained(platform_pool)

    records = await read_topic(kafka_bootstrap, topic)
    assert [record.json()["data"]["sequence"] for record in records] == [0, 1]
    refused = await platform_pool.fetchrow("SELECT refused_at, refusal FROM outbox WHERE event_id = 'too-large'")
    assert refused["refused_at"] is not None
    assert refused["refusal"].startswith("MessageSizeTooLargeError")
    assert metrics.refused.labels(topic=topic, error="MessageSizeTooLargeError")._value.get() == 1


async def test_rows_committed_late_below_a_newer_row_are_never_passed_over(platform_pool, kafka_bootstrap, unique_name):
    import random

    topic = f"{unique_name}.ticks"
    await ensure_topics(kafka_bootstrap, [topic])
    metrics = ServiceMetrics("test")
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)
    relay = OutboxRelay(platform_pool, lambda: start_producer(settings), metrics, batch_size=7, idle_poll_seconds=0.02)
    rng = random.Random(7)

    async def writer(number: int) -> None:
        outbox = Outbox(source="urn:test")
        for sequence in range(3):
            data = Tick(sequence=number * 10 + sequence)
            outbox.event(topic=topic, key=f"k{number}", event_type="tick", time=datetime.now(UTC), subject=None, data=data)
        async with platform_pool.acquire() as conn, conn.transaction():
            await outbox.write(conn)
            # Ids are taken now, the commit comes later: a later writer's rows may commit first.
            await asyncio.sleep(rng.uniform(0, 0.2))

    async with relay_running(relay):
        for wave in range(4):
            await asyncio.gather(*(writer(wave * 5 + number) for number in range(5)))
        await drained(platform_pool)

    records = await read_topic(kafka_bootstrap, topic)
    assert sorted({record.json()["data"]["sequence"] for record in records}) == sorted(n * 10 + s for n in range(20) for s in range(3))


async def test_many_keys_keep_their_order_per_partition_through_the_batched_sending(platform_pool, kafka_bootstrap, unique_name):
    topic = f"{unique_name}.ticks"
    await ensure_topics(kafka_bootstrap, [topic])
    outbox = Outbox(source="urn:test")
    for sequence in range(900):
        key = f"patient-{sequence % 13}"
        outbox.event(topic=topic, key=key, event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=sequence))
    async with platform_pool.acquire() as conn, conn.transaction():
        await outbox.write(conn)
        # One row large enough to go by itself, between the small ones of its key.
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value) VALUES ('large', $1, 'patient-3', $2)", topic, b'{"large": "' + b"x" * 100_000 + b'"}'
        )
    after = Outbox(source="urn:test")
    after.event(topic=topic, key="patient-3", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=900))
    async with platform_pool.acquire() as conn, conn.transaction():
        await after.write(conn)
    relay = OutboxRelay(platform_pool, lambda: start_producer(ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)), ServiceMetrics("test"))

    async with relay_running(relay):
        await drained(platform_pool)

    records = await read_topic(kafka_bootstrap, topic)
    assert len(records) == 902
    by_key: dict[str, list[int]] = {}
    for record in records:
        assert record.key is not None
        # Where the producer's own partitioner would have put it.
        assert record.partition == DefaultPartitioner()(record.key, [0, 1, 2], [0, 1, 2])
        document = record.json()
        by_key.setdefault(record.key.decode(), []).append(-1 if "large" in document else document["data"]["sequence"])
    for number in range(13):
        expected = [sequence for sequence in range(900) if sequence % 13 == number]
        if number == 3:
            expected = [*expected, -1, 900]
        assert by_key[f"patient-{number}"] == expected


async def test_a_committed_write_wakes_the_relay_at_once_and_a_rolled_back_one_sends_nothing(platform_pool, kafka_bootstrap, unique_name):
    topic = f"{unique_name}.ticks"
    await ensure_topics(kafka_bootstrap, [topic])
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)
    # A poll far longer than the test: only the commit's notification can wake the relay in time.
    relay = OutboxRelay(platform_pool, lambda: start_producer(settings), ServiceMetrics("test"), idle_poll_seconds=600)

    def outbox_of(sequence: int) -> Outbox:
        outbox = Outbox(source="urn:test")
        outbox.event(topic=topic, key="k", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=sequence))
        return outbox

    async with relay_running(relay):
        await asyncio.sleep(1.0)  # the relay has made its first round and waits
        with contextlib.suppress(RuntimeError):
            async with platform_pool.acquire() as conn, conn.transaction():
                await outbox_of(1).write(conn)
                raise RuntimeError("rolled back")
        async with platform_pool.acquire() as conn, conn.transaction():
            await outbox_of(2).write(conn)
        await drained(platform_pool, within_seconds=5.0)
        assert await platform_pool.fetchval("SELECT count(*) FROM outbox_pending") == 0

    records = await read_topic(kafka_bootstrap, topic)
    assert [record.json()["data"]["sequence"] for record in records] == [2]


async def test_a_commit_notified_while_a_round_runs_starts_the_next_round_at_once(platform_pool, kafka_bootstrap, unique_name):
    topic = f"{unique_name}.ticks"
    await ensure_topics(kafka_bootstrap, [topic])
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)

    async def write(sequence: int) -> None:
        outbox = Outbox(source="urn:test")
        outbox.event(topic=topic, key="k", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=sequence))
        async with platform_pool.acquire() as conn, conn.transaction():
            await outbox.write(conn)

    class WritingDuringItsFirstSend(OutboxRelay):
        """Commits row 2 while the round that sends row 1 runs, above that round's horizon."""

        written = False

        async def _send(self, rows: Any) -> Any:
            if not self.written:
                self.written = True
                await write(2)
                await asyncio.sleep(0.2)  # its notification arrives while this round still runs
            return await super()._send(rows)

    # A poll far longer than the test: only the notification of row 2 can bring it out in time.
    relay = WritingDuringItsFirstSend(platform_pool, lambda: start_producer(settings), ServiceMetrics("test"), idle_poll_seconds=600)
    async with relay_running(relay):
        await asyncio.sleep(1.0)  # the first round found nothing and waits
        await write(1)
        await drained(platform_pool, within_seconds=5.0)
        assert await platform_pool.fetchval("SELECT count(*) FROM outbox_pending") == 0

    records = await read_topic(kafka_bootstrap, topic)
    assert [record.json()["data"]["sequence"] for record in records] == [1, 2]


async def test_a_commit_of_another_schema_in_the_same_database_starts_no_round(platform_pool, database_url, kafka_bootstrap, unique_name):
    topic = f"{unique_name}.ticks"
    await ensure_topics(kafka_bootstrap, [topic])
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)
    other_pool = await create_pool(database_url, "other_service", size=2)
    await migrate(other_pool, "other_service", PLATFORM_MIGRATIONS)

    class CountingRounds(OutboxRelay):
        rounds = 0

        async def publish_pending(self) -> int:
            self.rounds += 1
            return await super().publish_pending()

    async def write(pool: Any, sequence: int) -> None:
        outbox = Outbox(source="urn:test")
        outbox.event(topic=topic, key="k", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=sequence))
        async with pool.acquire() as conn, conn.transaction():
            await outbox.write(conn)

    relay = CountingRounds(platform_pool, lambda: start_producer(settings), ServiceMetrics("test"), idle_poll_seconds=600)
    try:
        async with relay_running(relay):
            await asyncio.sleep(1.0)  # the first round found nothing and waits
            rounds_before = relay.rounds
            for sequence in range(5):
                await write(other_pool, sequence)
            await asyncio.sleep(0.5)
            assert relay.rounds == rounds_before
            await write(platform_pool, 99)
            await drained(platform_pool, within_seconds=5.0)
            assert await platform_pool.fetchval("SELECT count(*) FROM outbox_pending") == 0
    finally:
        await other_pool.close()


def test_a_wake_up_naming_only_rows_already_sent_is_dropped_and_one_naming_no_id_never() -> None:
    relay = OutboxRelay(None, None, ServiceMetrics("test"))  # type: ignore[arg-type]  # why: no round is run
    relay._known_sent_through = 10
    relay._on_notify(None, 1, "outbox:platform", "7")
    relay._on_notify(None, 1, "outbox:platform", "10")
    assert relay._notified_rows_were_sent()
    relay._on_notify(None, 1, "outbox:platform", "11")
    assert not relay._notified_rows_were_sent()
    relay._highest_notified = 0
    relay._on_notify(None, 1, "outbox:platform", "")
    assert not relay._notified_rows_were_sent()
    relay._known_sent_through, relay._highest_notified = None, 0
    relay._on_notify(None, 1, "outbox:platform", "3")
    assert not relay._notified_rows_were_sent()  # another instance holds the relay lock: the watermark is not known


async def test_a_connection_goes_back_to_the_pool_with_its_open_transaction_rolled_back(platform_pool):
    # The pool skips asyncpg's reset query (docs/architecture.md §3); an open transaction still ends.
    async with platform_pool.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute("UPDATE outbox_relay SET sent_through = 99")
    async with platform_pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT sent_through FROM outbox_relay") != 99


async def test_published_rows_past_the_retention_are_pruned_and_refused_unsent_and_recent_ones_stay(platform_pool, kafka_bootstrap, unique_name):
    topic = f"{unique_name}.ticks"
    await ensure_topics(kafka_bootstrap, [topic])
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)

    async def write(*sequences: int) -> None:
        outbox = Outbox(source="urn:test")
        for sequence in sequences:
            outbox.event(topic=topic, key="k", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=sequence))
        async with platform_pool.acquire() as conn, conn.transaction():
            await outbox.write(conn)

    sequence_of_row = "(convert_from(value, 'UTF8')::jsonb #>> '{data,sequence}')::int"

    async def aged(*sequences: int) -> None:
        await platform_pool.execute(
            f"UPDATE outbox SET created_at = now() - interval '2 days' WHERE topic = $1 AND {sequence_of_row} = ANY($2)", topic, list(sequences)
        )

    # Sent: 0–3 (old), 4 (old, then refused by the broker), 5 and 6 (recent); 7 is written old and sent last.
    await write(0, 1, 2, 3, 4, 5, 6)
    plain = OutboxRelay(platform_pool, lambda: start_producer(settings), ServiceMetrics("test"), idle_poll_seconds=0.05)
    async with relay_running(plain):
        await drained(platform_pool)
    await aged(0, 1, 2, 3, 4)
    await platform_pool.execute(
        "UPDATE outbox SET refused_at = now(), refusal = 'test' WHERE topic = $1 AND convert_from(value, 'UTF8')::jsonb #>> '{data,sequence}' = '4'",
        topic,
    )
    await write(7)
    await aged(7)

    metrics = ServiceMetrics("test")
    pruning = OutboxRelay(platform_pool, lambda: start_producer(settings), metrics, idle_poll_seconds=0.05, retention=timedelta(hours=1))
    async with relay_running(pruning):
        await drained(platform_pool)
        for _ in range(100):
            if (metrics.registry.get_sample_value("reko_outbox_pruned_total") or 0) >= 4:
                break
            await asyncio.sleep(0.05)

    remaining = await platform_pool.fetch(f"SELECT {sequence_of_row} AS sequence FROM outbox WHERE topic = $1 ORDER BY id", topic)
    # 7 is the highest id sent, the relay's watermark: the horizon is read from the rows still there.
    assert [row["sequence"] for row in remaining] == [4, 5, 6, 7]
    assert await platform_pool.fetchval("SELECT count(*) FROM outbox_pending") == 0
    records = await read_topic(kafka_bootstrap, topic)
    assert sorted(record.json()["data"]["sequence"] for record in records) == [0, 1, 2, 3, 4, 5, 6, 7]


async def test_events_and_dead_letters_written_together_keep_their_order_and_a_dead_letter_written_again_stays_one(platform_pool):
    def outbox_with_a_dead_letter(number: int) -> Outbox:
        outbox = Outbox(source="urn:test")
        outbox.event(topic="cases", key="p1", event_type="t", time=datetime(2026, 1, 1, tzinfo=UTC), subject=None, data=Tick(sequence=number))
        outbox.dead_letter(
            topic="cases.dlq",
            original_topic="certificates",
            partition=0,
            offset=7,
            key=b"k",
            value=b"not json",
            original_headers={},
            error_class="NotJson",
            reason="not valid JSON",
            failed_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        outbox.event(topic="cases", key="p1", event_type="t", time=datetime(2026, 1, 1, tzinfo=UTC), subject=None, data=Tick(sequence=number + 1))
        return outbox

    # The second write is the same batch after a crash between the database's commit and the offset commit.
    for outbox in (outbox_with_a_dead_letter(1), outbox_with_a_dead_letter(3)):
        async with platform_pool.acquire() as conn, conn.transaction():
            await outbox.write(conn)
    rows = await platform_pool.fetch("SELECT topic, event_id, value FROM outbox ORDER BY id")

    assert [row["topic"] for row in rows if row["topic"] == "cases.dlq"] == ["cases.dlq"]
    events = [row for row in rows if row["topic"] == "cases"]
    assert [orjson.loads(row["value"])["data"]["sequence"] for row in events] == [1, 2, 3, 4]
    assert len({row["event_id"] for row in events}) == 4

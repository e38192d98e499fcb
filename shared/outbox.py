"""Transactional outbox: rows written with the state change, published by a relay after commit."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)

from shared.contracts.envelope import EventData, encode_event
from shared.event_ids import time_ordered_uuid
from shared.kafka import key_partitioner
from shared.metrics import ServiceMetrics
from shared.retry import TRANSIENT_ERRORS, Backoff

log = structlog.get_logger("outbox")

# The relay's wake-up channel is per schema ("outbox:<schema>"): channels are per database, and a
# commit of another service sharing the database must not start this relay's round.
OUTBOX_CHANNEL_PREFIX = "outbox:"

# The advisory lock outbox writers share and the relay takes alone to read its horizon; per schema,
# since the services may share one database.
_WRITERS_LOCK = "hashtext('outbox-writers:' || current_schema())"

# What is still to be published (the view the platform migrations define).
OUTBOX_BACKLOG_SQL = "SELECT count(*) FROM outbox_pending"

# Broker answers that no retry can change: the row is recorded as refused and the relay goes on.
REFUSED_FOR_GOOD: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    InvalidTopicError,
    CorruptRecordException,
    UnsupportedForMessageFormatError,
)


# A dead letter must always fit the broker (aiokafka's max_request_size is 1 MiB): what is larger
# is cut, and the headers keep the original size and SHA-256 so the source can find its record.
DEAD_LETTER_MAX_VALUE_BYTES = 256 * 1024
DEAD_LETTER_MAX_KEY_BYTES = 1024
_MAX_COPIED_HEADERS = 32
_MAX_HEADER_TEXT = 1024
_MAX_REASON_TEXT = 500

# Rows up to this size go in record batches the relay builds; larger ones are sent one by one.
_BATCHED_RECORD_BYTES = 64 * 1024


def _header_text(value: bytes | str | None, limit: int = _MAX_HEADER_TEXT) -> str:
    """Header text that any broker and PostgreSQL's jsonb accept: UTF-8, no NUL, bounded."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else (value or "")
    return text.replace("\x00", "\ufffd")[:limit]


def fit_dead_letter(key: bytes | None, value: bytes | None) -> tuple[bytes | None, bytes, dict[str, str]]:
    """The key and value a dead letter can carry, with headers that describe what was cut."""
    value = value or b""
    headers: dict[str, str] = {}
    if len(value) > DEAD_LETTER_MAX_VALUE_BYTES:
        headers["x-original-value-bytes"] = str(len(value))
        headers["x-original-value-sha256"] = hashlib.sha256(value).hexdigest()
        headers["x-value-truncated"] = "true"
        value = value[:DEAD_LETTER_MAX_VALUE_BYTES]
    if key is not None and len(key) > DEAD_LETTER_MAX_KEY_BYTES:
        headers["x-original-key-bytes"] = str(len(key))
        headers["x-original-key-sha256"] = hashlib.sha256(key).hexdigest()
        key = key[:DEAD_LETTER_MAX_KEY_BYTES]
    return key, value, headers


async def outbox_backlog(pool: asyncpg.Pool) -> int:
    """How many outbox rows are still to be published."""
    async with pool.acquire() as conn:
        return int(await conn.fetchval(OUTBOX_BACKLOG_SQL))


def dead_letter_headers(
    *,
    original_topic: str,
    error_class: str,
    reason: str,
    failed_at: datetime,
    partition: int | None = None,
    offset: int | None = None,
    original_headers: Mapping[str, bytes | str | None] | None = None,
    entry_point: str | None = None,
) -> dict[str, str]:
    """The headers every dead letter carries, whether a consumer or an entry point rejected it.

    A record rejected before it reached a topic (HTTP, backfill) has no partition or offset; it
    names the entry point instead.
    """
    copied = list((original_headers or {}).items())[:_MAX_COPIED_HEADERS]
    headers = {_header_text(f"x-original-header-{name}", 200): _header_text(item) for name, item in copied}
    headers["x-original-topic"] = original_topic
    if partition is not None:
        headers["x-original-partition"] = str(partition)
    if offset is not None:
        headers["x-original-offset"] = str(offset)
    headers["x-error-class"] = _header_text(error_class, 200)
    headers["x-error-reason"] = _header_text(reason, _MAX_REASON_TEXT)
    headers["x-failed-at"] = failed_at.isoformat()
    if entry_point is not None:
        headers["x-entry-point"] = entry_point
    return headers


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    event_id: str
    # A dead letter's id is its source position, so the same one may be written twice; an event's never.
    dead_letter: bool = False


@dataclass
class Outbox:
    """Collects what one transaction publishes; `write` stores it in that transaction."""

    source: str
    records: list[OutgoingRecord] = field(default_factory=list)

    def event(self, *, topic: str, key: str, event_type: str, time: datetime, subject: str | None, data: EventData) -> UUID:
        # In time order, so the outbox's and every inbox's index grow at their right edge (docs/events.md §4.3).
        event_id = time_ordered_uuid()
        value = encode_event(event_id=event_id, source=self.source, event_type=event_type, time=time, subject=subject, data=data)
        headers = {"content-type": "application/cloudevents+json", "ce_id": str(event_id), "ce_type": event_type}
        self.records.append(OutgoingRecord(topic, key.encode(), value, headers, str(event_id)))
        return event_id

    def dead_letter(
        self,
        *,
        topic: str,
        original_topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        original_headers: Mapping[str, bytes | str | None],
        error_class: str,
        reason: str,
        failed_at: datetime,
    ) -> None:
        key, value, cut = fit_dead_letter(key, value)
        headers = cut | dead_letter_headers(
            original_topic=original_topic,
            partition=partition,
            offset=offset,
            original_headers=original_headers,
            error_class=error_class,
            reason=reason,
            failed_at=failed_at,
        )
        event_id = f"dlq:{original_topic}:{partition}:{offset}"
        self.records.append(OutgoingRecord(topic, key, value, headers, event_id, dead_letter=True))

    async def write(self, conn: asyncpg.Connection) -> None:
        if not self.records:
            return
        # Held until this transaction ends: the relay reads its horizon only while no writer holds it
        # (docs/architecture.md §5), so these ids can never commit below a horizon it has passed.
        await conn.execute(f"SELECT pg_advisory_xact_lock_shared({_WRITERS_LOCK})")
        # Two inserts in one statement. Events carry ids made for this write, so they cannot conflict and
        # go in plainly (ON CONFLICT costs each row a speculative insertion: a pre-check and one more log
        # record). A dead letter's id names its source offset, and it may be written again after a crash
        # between the database commit and the offset commit: ON CONFLICT keeps the first one.
        # Ordinality keeps the ids (the relay's order) in list order; the two kinds go to different topics.
        # The relay's wake-up goes with it, naming the highest id written, so a relay that has already
        # sent past it starts no round; PostgreSQL delivers it at the commit, or never.
        events = [record for record in self.records if not record.dead_letter]
        letters = [record for record in self.records if record.dead_letter]

        def arrays(records: list[OutgoingRecord]) -> list[list[Any]]:
            return [
                [record.event_id for record in records],
                [record.topic for record in records],
                [record.key for record in records],
                [record.value for record in records],
                [record.headers for record in records],
            ]

        # Each unnest is read once, so PostgreSQL streams it into its insert instead of keeping a copy.
        await conn.execute(
            "WITH events AS ("
            "INSERT INTO outbox (event_id, topic, key, value, headers) SELECT event_id, topic, key, value, headers "
            "FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::jsonb[]) WITH ORDINALITY "
            "AS r(event_id, topic, key, value, headers, position) ORDER BY position RETURNING id"
            "), letters AS ("
            "INSERT INTO outbox (event_id, topic, key, value, headers) SELECT event_id, topic, key, value, headers "
            "FROM unnest($6::text[], $7::text[], $8::bytea[], $9::bytea[], $10::jsonb[]) WITH ORDINALITY "
            "AS r(event_id, topic, key, value, headers, position) ORDER BY position "
            "ON CONFLICT (event_id) DO NOTHING RETURNING id"
            f") SELECT pg_notify('{OUTBOX_CHANNEL_PREFIX}' || current_schema(), max(id)::text) "
            "FROM (SELECT id FROM events UNION ALL SELECT id FROM letters) AS written HAVING count(*) > 0",
            *arrays(events),
            *arrays(letters),
        )


class OutboxRelay:
    """Publishes unsent outbox rows in id order, marks them sent after the broker acknowledged them.

    At least once: a crash after publishing and before marking publishes the rows again, and every
    consumer deduplicates on the event id. One relay runs at a time per schema (advisory lock), so
    per-key order holds even with several instances of a service.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer_factory: Callable[[], Awaitable[AIOKafkaProducer]],
        metrics: ServiceMetrics,
        *,
        batch_size: int = 500,
        idle_poll_seconds: float = 1.0,
        retention: timedelta | None = None,
        prune_every_seconds: float = 60.0,
        prune_batch_size: int = 5000,
    ) -> None:
        self._pool = pool
        self._producer_factory = producer_factory
        self._metrics = metrics
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.connected = False
        # Partitions per topic, as the producer's metadata named them when the topic was first sent to.
        self._partitions: dict[str, list[int]] = {}
        # Rows up to this id go one by one: the broker refused a batch holding them (see `_send`).
        self._alone_through = 0
        # Published rows older than this are deleted between rounds (None: kept for good).
        self._retention = retention
        self._prune_every_seconds = prune_every_seconds
        self._prune_batch_size = prune_batch_size
        self._next_prune = 0.0
        # The watermark as this relay last read or wrote it while holding the relay lock (None: not
        # known, as when another instance holds it), and the highest id notified since the round began.
        self._known_sent_through: int | None = None
        self._highest_notified = 0
        self._channel = OUTBOX_CHANNEL_PREFIX

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        # A payload that names no id (a writer of an older version) counts as above any watermark.
        highest = int(payload) if payload.isdigit() else sys.maxsize
        self._highest_notified = max(self._highest_notified, highest)
        self._wake.set()

    def _notified_rows_were_sent(self) -> bool:
        """Whether every wake-up since the round began names rows the round has already sent."""
        return self._known_sent_through is not None and self._highest_notified <= self._known_sent_through

    async def run(self) -> None:
        backoff = Backoff()
        listener: asyncpg.Connection | None = None
        try:
            while True:
                try:
                    if listener is None or listener.is_closed():
                        listener = await self._pool.acquire()
                        self._channel = OUTBOX_CHANNEL_PREFIX + await listener.fetchval("SELECT current_schema()")
                        await listener.add_listener(self._channel, self._on_notify)
                    if self._producer is None:
                        self._producer = await self._producer_factory()
                        self.connected = True
                    # Cleared before the round, never after: a commit notified while the round
                    # runs may lie above its horizon, and must start the next round at once, unless
                    # the round has sent its rows already.
                    self._wake.clear()
                    self._highest_notified = 0
                    sent = await self.publish_pending()
                    backoff.reset()
                    if sent < self._batch_size:
                        await self._prune_when_due()
                        if self._notified_rows_were_sent():
                            self._wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self._idle_poll_seconds)
                except Exception as problem:
                    # Transient or not, the relay retries: a dead relay would publish nothing more.
                    # Only the loudness differs, so a surprise is seen.
                    self._metrics.transient_failures.labels(stage="relay").inc()
                    if isinstance(problem, TRANSIENT_ERRORS):
                        log.warning("outbox relay retrying", error=type(problem).__name__, detail=str(problem)[:200], backoff=backoff.next_seconds)
                    else:
                        log.exception("outbox relay failed unexpectedly; retrying", error=type(problem).__name__, backoff=backoff.next_seconds)
                    if not isinstance(problem, OSError | asyncpg.PostgresError | asyncpg.InterfaceError):
                        await self._drop_producer()
                    if listener is not None:
                        await self._release(listener)
                        listener = None
                    await backoff.sleep()
        finally:
            if listener is not None:
                await self._release(listener)
            await self._drop_producer()

    async def _prune_when_due(self) -> None:
        # Only when caught up, and one bounded batch at a time: a round of publishing never waits
        # behind more than one delete.
        if self._retention is None or time.monotonic() < self._next_prune:
            return
        pruned = await self.prune()
        if pruned:
            log.info("outbox rows pruned", rows=pruned)
        if pruned < self._prune_batch_size:
            self._next_prune = time.monotonic() + self._prune_every_seconds

    async def prune(self) -> int:
        """Delete one batch of rows published longer ago than the retention; how many went.

        Kept: every row at or above the watermark (still to be sent, or the highest id, which
        `outbox_horizon()` reads), and every row the broker refused, which waits for an operator
        (docs/architecture.md §5).
        """
        if self._retention is None:
            return 0
        async with self._pool.acquire() as conn:
            # Ids follow the time of writing, so the lowest rows are the oldest: the statement reads the
            # lowest rows below the watermark by the primary key and deletes those past the retention.
            # The age is tested on those rows alone (in the subquery, past its LIMIT): tested on the
            # outer rows, the planner scans the whole table for them. While even the lowest row is
            # within the retention (the usual case, once a minute), the one-time condition ends it there.
            status = await conn.execute(
                "DELETE FROM outbox WHERE id IN ("
                "SELECT id FROM (SELECT id, created_at FROM outbox WHERE id < (SELECT sent_through FROM outbox_relay) "
                "AND refused_at IS NULL ORDER BY id LIMIT $2) AS lowest WHERE created_at < now() - $1::interval"
                ") AND (SELECT created_at FROM outbox WHERE refused_at IS NULL ORDER BY id LIMIT 1) < now() - $1::interval",
                self._retention,
                self._prune_batch_size,
            )
        pruned = int(status.split()[-1])
        self._metrics.pruned.inc(pruned)
        return pruned

    async def _release(self, listener: asyncpg.Connection) -> None:
        # The connection may already be gone; either step may then raise.
        with contextlib.suppress(Exception):
            await listener.remove_listener(self._channel, self._on_notify)
        with contextlib.suppress(Exception):
            await self._pool.release(listener)

    async def _drop_producer(self) -> None:
        producer, self._producer, self.connected = self._producer, None, False
        self._partitions = {}
        if producer is not None:
            # Stopping a broken producer may raise.
            with contextlib.suppress(Exception):
                await producer.stop()

    async def publish_pending(self) -> int:
        assert self._producer is not None
        async with self._pool.acquire() as conn, conn.transaction():
            # One call takes the relay's lock (per schema: the services may share one database), the
            # watermark, the horizon and the rows between them (platform migration 006); the round
            # commits without waiting for the disk (docs/architecture.md §5).
            answer = await conn.fetch("SELECT * FROM outbox_round($1)", self._batch_size)
            if not answer[0]["locked"]:
                self._known_sent_through = None
                return 0
            sent_through = answer[0]["sent_through"]
            self._known_sent_through = sent_through
            rows = [row for row in answer if row["id"] is not None]
            if not rows:
                self._metrics.outbox_backlog.set(0)
                return 0
            sent, refused, transient = await self._send(rows)
            done = {row["id"] for row in sent} | {row["id"] for row, _ in refused}
            for row in rows:
                # The watermark moves over the rows handled in order; the first one not handled is sent again.
                if row["id"] not in done:
                    break
                sent_through = row["id"]
            await conn.execute("UPDATE outbox_relay SET sent_through = $1", sent_through)
            self._known_sent_through = sent_through
            for row, problem in refused:
                # Sending it again can never succeed; it is recorded and skipped, never silently dropped.
                await conn.execute(
                    "UPDATE outbox SET refused_at = now(), refusal = $2 WHERE id = $1",
                    row["id"],
                    f"{type(problem).__name__}: {str(problem)[:300]}",
                )
                self._metrics.refused.labels(topic=row["topic"], error=type(problem).__name__).inc()
                log.error(
                    "outbox row refused by the broker for good; skipped",
                    topic=row["topic"],
                    outbox_id=row["id"],
                    error=type(problem).__name__,
                    value_bytes=len(row["value"]),
                )
            for row in sent:
                self._metrics.published.labels(topic=row["topic"]).inc()
            if len(rows) < self._batch_size and not refused and transient is None:
                # All caught up: nothing is left behind these rows (the metrics endpoint counts otherwise).
                self._metrics.outbox_backlog.set(0)
        if transient is not None:
            # What went out before the failure stays marked (committed above); the rest is sent again.
            raise transient
        return len(rows)

    async def _send(self, rows: list[asyncpg.Record]) -> tuple[list[asyncpg.Record], list[tuple[asyncpg.Record, Exception]], Exception | None]:
        """Send rows in order: those acknowledged up to the first transient failure, those refused for good, that failure.

        Small rows go in record batches built here, one per partition in turn (the per-record
        `send` costs a future and a hash each); a large row, and every row of a batch the broker
        refused, goes by itself, so a refusal for good names exactly the row that caused it.
        """
        assert self._producer is not None
        producer = self._producer
        refused: list[tuple[asyncpg.Record, Exception]] = []
        # Each future with the rows it answers for: one row sent alone, or a whole record batch.
        in_flight: list[tuple[list[asyncpg.Record], asyncio.Future[Any]]] = []
        transient: Exception | None = None
        building: dict[tuple[str, int], tuple[Any, list[asyncpg.Record]]] = {}

        async def submit(topic_partition: tuple[str, int]) -> None:
            builder, batched = building.pop(topic_partition)
            in_flight.append((batched, await producer.send_batch(builder, topic_partition[0], partition=topic_partition[1])))

        for row in rows:
            headers = [(name, str(item).encode()) for name, item in (row["headers"] or {}).items()]
            try:
                partition = await self._partition_of(row["topic"], row["key"])
                topic_partition = (row["topic"], partition)
                alone = row["id"] <= self._alone_through or len(row["value"]) + len(row["key"] or b"") > _BATCHED_RECORD_BYTES
                if alone:
                    if topic_partition in building:
                        await submit(topic_partition)
                    future = await producer.send(row["topic"], key=row["key"], value=row["value"], headers=headers, partition=partition)
                    in_flight.append(([row], future))
                    continue
                if topic_partition not in building:
                    building[topic_partition] = (producer.create_batch(), [])
                builder = building[topic_partition][0]
                if builder.append(timestamp=None, key=row["key"], value=row["value"], headers=headers) is None:
                    await submit(topic_partition)
                    builder = producer.create_batch()
                    building[topic_partition] = (builder, [])
                    if builder.append(timestamp=None, key=row["key"], value=row["value"], headers=headers) is None:
                        raise RuntimeError("a small record did not fit an empty record batch")
                building[topic_partition][1].append(row)
            except REFUSED_FOR_GOOD as problem:
                refused.append((row, problem))
                continue
            except KafkaError as problem:
                transient = problem
                break
        for topic_partition in list(building):
            try:
                await submit(topic_partition)
            except KafkaError as problem:
                transient = transient or problem
                break
        outcomes = await asyncio.gather(*(future for _, future in in_flight), return_exceptions=True)
        answered: list[tuple[asyncpg.Record, list[asyncpg.Record], BaseException | None]] = [
            (row, batched, outcome if isinstance(outcome, BaseException) else None)
            for (batched, _), outcome in zip(in_flight, outcomes, strict=True)
            for row in batched
        ]
        sent: list[asyncpg.Record] = []
        failed_in_flight: Exception | None = None
        for row, batched, outcome in sorted(answered, key=lambda item: item[0]["id"]):
            if isinstance(outcome, REFUSED_FOR_GOOD) and len(batched) > 1:
                # The broker refused a whole batch: its rows go again one by one, where a refusal names its row.
                self._alone_through = max(self._alone_through, batched[-1]["id"])
                failed_in_flight = failed_in_flight or outcome
            elif isinstance(outcome, REFUSED_FOR_GOOD):
                refused.append((row, outcome))
            elif outcome is not None:
                if not isinstance(outcome, Exception):
                    raise outcome
                failed_in_flight = failed_in_flight or outcome
            elif failed_in_flight is None:
                # Marked sent only up to the first failure, so a retry sends the rest in order again.
                sent.append(row)
        return sent, refused, failed_in_flight or transient

    async def _partition_of(self, topic: str, key: bytes | None) -> int:
        """The partition `send` would choose: the producer's partitioner over the topic's partitions."""
        assert self._producer is not None
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = sorted(await self._producer.partitions_for(topic))
            self._partitions[topic] = partitions
        return key_partitioner(key, partitions, partitions)

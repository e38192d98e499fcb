"""The one way our services consume: a batch, one database transaction, then the offset commit.

For every batch of records a subscriber receives:

1. each record is decoded; a record that cannot be, for any reason (too large, not JSON, not a
   CloudEvent, a contract violation, a decoder that raises), becomes a dead letter of its own with
   its reason and original bytes (docs/dead-letters.md);
2. in ONE transaction: the event ids go into the inbox (a redelivered or duplicated event is
   skipped), the service applies the new events, and the outgoing events and dead letters go into
   the outbox;
3. only then are the offsets committed.

A transient failure (database or broker away) retries the whole batch with backoff, never skipping
it; nothing is committed meanwhile. A record that makes the service's code fail deterministically
is isolated by retrying the batch one record at a time and is dead-lettered with the error class,
so a poison pill never blocks its partition. Should even that fail, the subscriber does not
acknowledge the batch and fetches it again (`shared/service.py`): nothing is committed past it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from shared.bad_input import BadInput
from shared.clock import Clock
from shared.logging import redact_text
from shared.metrics import ServiceMetrics
from shared.outbox import Outbox
from shared.retry import TRANSIENT_ERRORS, Backoff

log = structlog.get_logger("consumer")

EventT = TypeVar("EventT")


# A record that can never be processed goes to the dead-letter topic with its class and reason.
BadEvent = BadInput


@dataclass(frozen=True)
class Incoming(Generic[EventT]):
    """A decoded record: the event and where it came from."""

    event_id: str
    event: EventT
    record: ConsumerRecord[Any, Any]


@dataclass(frozen=True)
class _Rejected:
    event_id: str
    record: ConsumerRecord[Any, Any]
    error_class: str
    reason: str


# The inbox's primary key: a violation of it is a race with another instance, not a bad record.
_INBOX_KEY = "inbox_pkey"

# The class of a dead letter whose own headers could not be stored; it goes with bytes and position only.
_UNSTORABLE = "ProcessingError:UnstorableDeadLetter"

Decode = Callable[[ConsumerRecord[Any, Any]], tuple[str, EventT]]


class ApplyContext:
    """What a service's apply step gets besides the events: its transaction and its outbox."""

    def __init__(self, conn: asyncpg.Connection, outbox: Outbox, clock: Clock, dead_letter_topic: str) -> None:
        self.conn = conn
        self.outbox = outbox
        self.clock = clock
        self._dead_letter_topic = dead_letter_topic
        self.rejected: list[_Rejected] = []

    def dead_letter(self, incoming: Incoming[Any], error_class: str, reason: str) -> None:
        """Reject one event found bad by the domain (e.g. a conflicting re-sign), in this transaction."""
        self.reject(_Rejected(incoming.event_id, incoming.record, error_class, reason))

    def reject(self, rejected: _Rejected) -> None:
        _dead_letter(
            self.outbox,
            self._dead_letter_topic,
            rejected.record,
            rejected.error_class,
            rejected.reason,
            self.clock.now(),
            with_headers=rejected.error_class != _UNSTORABLE,
        )
        self.rejected.append(rejected)


Apply = Callable[[ApplyContext, list[Incoming[EventT]]], Awaitable[None]]


@dataclass(frozen=True)
class TopicRoute(Generic[EventT]):
    """How a consumer handles the records of one topic: its inbox name, decoder, apply step and dead letters.

    A consumer of several topics applies each batch's records topic by topic, in the order of its
    routes, in one transaction (docs/architecture.md §4).
    """

    inbox_name: str
    decode: Decode[EventT]
    apply: Apply[EventT]
    dead_letter_topic: str


def _dead_letter(
    outbox: Outbox, topic: str, record: ConsumerRecord[Any, Any], error_class: str, reason: str, now: datetime, *, with_headers: bool = True
) -> None:
    outbox.dead_letter(
        topic=topic,
        original_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        original_headers=dict(record.headers or ()) if with_headers else {},
        error_class=error_class,
        reason=reason,
        failed_at=now,
    )


class BatchConsumer(Generic[EventT]):
    """Processes one subscriber's batches exactly once in effect (see the module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        pool: asyncpg.Pool | None,
        decode: Decode[EventT],
        apply: Apply[EventT],
        dead_letter_topic: str,
        outbox_source: str,
        clock: Clock,
        metrics: ServiceMetrics,
        max_backoff_seconds: float = 10.0,
        max_record_bytes: int = 1_048_576,
        routes: dict[str, TopicRoute[Any]] | None = None,
    ) -> None:
        self.name = name
        self._pool = pool
        # Without routes, every record goes the one way given; with them, by the topic it came from,
        # and the batch is applied route by route in their order.
        self._routes: dict[str, TopicRoute[Any]] = routes or {}
        self._ordered_routes: list[TopicRoute[Any]] = list(self._routes.values()) or [TopicRoute(name, decode, apply, dead_letter_topic)]
        self._outbox_source = outbox_source
        self._clock = clock
        self._metrics = metrics
        self._max_backoff_seconds = max_backoff_seconds
        self._max_record_bytes = max_record_bytes

    def _route(self, record: ConsumerRecord[Any, Any]) -> TopicRoute[Any]:
        return self._routes[record.topic] if self._routes else self._ordered_routes[0]

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply a batch; returns only when its effects are committed (retrying transient faults)."""
        if not records:
            return
        started = time.perf_counter()
        per_topic = Counter(record.topic for record in records)
        for topic, count in per_topic.items():
            self._metrics.consumed.labels(topic=topic).inc(count)
        topics = list(per_topic)
        partitions = sorted({record.partition for record in records})
        with structlog.contextvars.bound_contextvars(
            topic=topics[0] if len(topics) == 1 else topics,
            partition=partitions[0] if len(partitions) == 1 else partitions,
            offset=f"{min(r.offset for r in records)}-{max(r.offset for r in records)}",
            batch_size=len(records),
        ):
            decoded: list[Incoming[EventT] | _Rejected] = [self._decode_one(record) for record in records]
            await self._with_retries(decoded)
        # A batch of several topics counts for each of them.
        elapsed = time.perf_counter() - started
        for topic in topics:
            self._metrics.handler_seconds.labels(topic=topic).observe(elapsed)

    def _decode_one(self, record: ConsumerRecord[Any, Any]) -> Incoming[EventT] | _Rejected:
        # Undecodable records have no trustworthy id; their position identifies them.
        position = f"offset:{record.topic}:{record.partition}:{record.offset}"
        size = len(record.value or b"") + len(record.key or b"")
        if size > self._max_record_bytes:
            return _Rejected(position, record, "RecordTooLarge", f"the record is {size} bytes; at most {self._max_record_bytes} are processed")
        try:
            event_id, event = self._route(record).decode(record)
        except BadInput as bad:
            return _Rejected(position, record, bad.error_class, bad.reason)
        except Exception as problem:  # noqa: BLE001 - whatever a record does to the decoder, it alone is rejected
            return _Rejected(position, record, f"ProcessingError:{type(problem).__name__}", "the record could not be decoded")
        return Incoming(event_id, event, record)

    async def _with_retries(self, items: list[Incoming[EventT] | _Rejected]) -> None:
        if len(items) == 1:
            record = items[0].record
            with structlog.contextvars.bound_contextvars(partition=record.partition, offset=record.offset, event_id=items[0].event_id):
                await self._retry_until_committed(items)
        else:
            await self._retry_until_committed(items)

    def _connections(self) -> asyncpg.Pool:
        """The pool a batch takes its connection from; a runtime hands out the one it holds now."""
        if self._pool is None:
            raise RuntimeError(f"consumer {self.name} has no database pool")
        return self._pool

    async def _retry_until_committed(self, items: list[Incoming[EventT] | _Rejected]) -> None:
        backoff = Backoff(initial_seconds=0.05, maximum_seconds=self._max_backoff_seconds)
        while True:
            try:
                await self._transaction(items)
                return
            except asyncpg.UniqueViolationError as problem:
                if problem.constraint_name != _INBOX_KEY:
                    raise
                # Another instance applied one of these events first: tried again, the batch skips it.
                self._metrics.transient_failures.labels(stage="consume").inc()
                log.warning("batch retrying: another consumer applied some of its events meanwhile", consumer=self.name)
                await backoff.sleep()
            except TRANSIENT_ERRORS as problem:
                self._metrics.transient_failures.labels(stage="consume").inc()
                log.warning(
                    "batch retrying after a transient failure", consumer=self.name, error=type(problem).__name__, backoff=backoff.next_seconds
                )
                await backoff.sleep()
            except Exception as problem:
                if len(items) > 1:
                    log.warning("batch failed; isolating the failing record", consumer=self.name, error=type(problem).__name__, size=len(items))
                    for item in items:
                        await self._with_retries([item])
                    return
                item = items[0]
                if isinstance(item, _Rejected):
                    if item.error_class == _UNSTORABLE:
                        raise
                    # Even its dead letter could not be stored (text PostgreSQL refuses in a header,
                    # say): keep the bytes and the position, drop what cannot be stored.
                    log.error(
                        "dead letter stored without its headers",
                        consumer=self.name,
                        error=type(problem).__name__,
                        topic=item.record.topic,
                        partition=item.record.partition,
                        offset=item.record.offset,
                    )
                    await self._with_retries([_Rejected(item.event_id, item.record, _UNSTORABLE, f"{item.error_class}: {item.reason}")])
                    return
                log.error(
                    "record dead-lettered after a processing error",
                    consumer=self.name,
                    error=type(problem).__name__,
                    topic=item.record.topic,
                    partition=item.record.partition,
                    offset=item.record.offset,
                )
                # The message may quote a value (PostgreSQL's do): nothing shaped like a personnummer leaves.
                reason = redact_text(str(problem)[:300])
                rejected = _Rejected(item.event_id, item.record, f"ProcessingError:{type(problem).__name__}", reason)
                await self._with_retries([rejected])
                return

    async def _transaction(self, items: list[Incoming[EventT] | _Rejected]) -> None:
        outbox = Outbox(source=self._outbox_source)
        routes = [self._route(item.record) for item in items]
        async with self._connections().acquire() as conn, conn.transaction():
            # Each identity once: the same id twice in one batch is applied at its first occurrence.
            keys: dict[tuple[str, str], Incoming[EventT] | _Rejected] = {}
            for item, route in zip(items, routes, strict=True):
                keys.setdefault((route.inbox_name, item.event_id), item)
            # A plain insert of the identities not there yet: ON CONFLICT would cost every row a speculative
            # insertion (one more log record). Should another instance insert one of them meanwhile (a
            # rebalance), the unique index refuses it and the whole batch is retried (`_INBOX_RACE`).
            fresh_keys = {
                (row["consumer"], row["event_id"])
                for row in await conn.fetch(
                    """
                    INSERT INTO inbox (consumer, event_id, topic, partition, "offset")
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])
                        AS r(consumer, event_id, topic, partition, "offset")
                    WHERE NOT EXISTS (SELECT 1 FROM inbox i WHERE i.consumer = r.consumer AND i.event_id = r.event_id)
                    RETURNING consumer, event_id
                    """,
                    [consumer for consumer, _ in keys],
                    [event_id for _, event_id in keys],
                    [item.record.topic for item in keys.values()],
                    [item.record.partition for item in keys.values()],
                    [item.record.offset for item in keys.values()],
                )
            }
            # One context per route: the same transaction and outbox, each with its topic's dead letters.
            contexts: dict[str, ApplyContext] = {}
            fresh: dict[str, list[Incoming[EventT]]] = {}
            duplicates: Counter[str] = Counter()
            for item, route in zip(items, routes, strict=True):
                # The same id twice in one batch: the first occurrence is the one applied.
                inbox_key = (route.inbox_name, item.event_id)
                if inbox_key not in fresh_keys:
                    duplicates[item.record.topic] += 1
                    continue
                fresh_keys.discard(inbox_key)
                if route.inbox_name not in contexts:
                    contexts[route.inbox_name] = ApplyContext(conn, outbox, self._clock, route.dead_letter_topic)
                if isinstance(item, _Rejected):
                    contexts[route.inbox_name].reject(item)
                else:
                    fresh.setdefault(route.inbox_name, []).append(item)
            for route in self._ordered_routes:
                if route.inbox_name in fresh:
                    await route.apply(contexts[route.inbox_name], fresh[route.inbox_name])
            await outbox.write(conn)
        # Counted once the transaction committed, so a retried batch is not counted twice.
        for topic, count in duplicates.items():
            self._metrics.deduplicated.labels(topic=topic).inc(count)
        for rejected in (rejected for context in contexts.values() for rejected in context.rejected):
            self._metrics.dead_lettered.labels(topic=rejected.record.topic, error_class=rejected.error_class.split(":")[0]).inc()
            log.warning(
                "record dead-lettered",
                consumer=self.name,
                topic=rejected.record.topic,
                partition=rejected.record.partition,
                offset=rejected.record.offset,
                error_class=rejected.error_class,
                reason=rejected.reason,
            )


async def commit_offsets(consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
    """Commit, per partition, the offset after the last record of the batch.

    A failed commit (a rebalance took the partition) is harmless: the new owner gets the records
    again and the inbox absorbs them.
    """
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError, KafkaError) as problem:
        log.warning("offset commit failed; the records will be redelivered and deduplicated", error=type(problem).__name__)


async def observe_lag(consumer: AIOKafkaConsumer, metrics: ServiceMetrics) -> None:
    """Set the lag gauge (high-water mark minus position) for every assigned partition."""
    for partition in consumer.assignment():
        highwater = consumer.highwater(partition)
        if highwater is None:
            continue
        try:
            position = await consumer.position(partition)
        except (IllegalStateError, KafkaError):
            continue
        metrics.lag.labels(topic=partition.topic, partition=str(partition.partition)).set(max(highwater - position, 0))

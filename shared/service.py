"""The composition of one service process: pool, migrations, broker, outbox relay, HTTP.

A service's `create_app(settings)` builds a `ServiceRuntime`, registers its subscribers and HTTP
routes on it, and returns `runtime.http_app()`. Nothing connects until the app's lifespan starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import asyncpg
import structlog
from aiokafka import ConsumerRecord
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.consumer import Apply, BatchConsumer, Decode, EventT, TopicRoute, commit_offsets, observe_lag
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.http_errors import install_error_answers
from shared.kafka import ensure_topics, start_producer
from shared.logging import configure_logging
from shared.metrics import ServiceMetrics
from shared.outbox import OutboxRelay, outbox_backlog
from shared.retry import TRANSIENT_ERRORS, Backoff
from shared.settings import ServiceSettings

log = structlog.get_logger("service")
ProbeT = TypeVar("ProbeT")

BackgroundTask = Callable[["ServiceRuntime"], Coroutine[Any, Any, None]]


async def _message_as_body(message: Any) -> Any:
    """The handler's body is FastStream's message itself: its records as received (our own decode step
    classifies bad input), its consumer and its nack.

    Asked for as a `Context` parameter instead, the message cost a thread hop on every batch: fast_depends
    resolves such a parameter in a worker thread.
    """
    return message


def _with_text_headers(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    headers = record.headers or ()
    try:
        for _, value in headers:
            value.decode()
    except (AttributeError, UnicodeDecodeError):
        text_headers = tuple((name, (value or b"").decode(errors="replace").encode()) for name, value in headers)
        return dataclasses.replace(record, headers=text_headers)
    return record


async def _parse_batch_keeping_records(records: tuple[ConsumerRecord[Any, Any], ...], parse: Callable[..., Awaitable[Any]]) -> Any:
    """FastStream's batch parser, fed headers it can decode; the handler still gets the records as received.

    FastStream decodes every header as UTF-8 before a handler runs; one binary header (or a null
    one) would otherwise fail the whole batch outside our reach, and nothing would be committed or
    dead-lettered for it.
    """
    message = await parse(tuple(_with_text_headers(record) for record in records))
    message.raw_message = records
    return message


@dataclass(frozen=True)
class Publication:
    """An output topic (its unprefixed name) as the AsyncAPI document shows it; the outbox relay sends it."""

    topic: str
    title: str
    description: str
    schema: Any


@dataclass(frozen=True)
class Subscription(Generic[EventT]):
    """Everything a service says about one topic it consumes; `ServiceRuntime.consume` does the rest.

    `description` is the subscriber's docstring and AsyncAPI description: what it consumes, what it
    emits, and how it acknowledges. A service's first subscription uses the consumer group named
    after the service; a further one names its own `group`.
    """

    topic: str
    title: str
    description: str
    decode: Decode[EventT]
    apply: Apply[EventT]
    publishes: tuple[Publication, ...] = ()
    group: str | None = None


class SubscribedBatchConsumer(BatchConsumer[EventT]):
    """A batch consumer bound to a FastStream batch subscriber with manual acknowledgement."""

    def __init__(self, runtime: ServiceRuntime, **kwargs: Any) -> None:
        super().__init__(pool=None, **kwargs)
        self._runtime = runtime

    def _connections(self) -> asyncpg.Pool:
        # Subscribers are declared before the pool exists; a batch uses the pool the runtime holds now.
        return self._runtime.pool

    async def handle(self, message: KafkaMessage) -> None:
        records = message.raw_message if isinstance(message.raw_message, tuple) else (message.raw_message,)
        try:
            await self.process(records)
        except Exception as problem:
            log.exception("batch not applied; it will be fetched again", consumer=self.name, error=type(problem).__name__)
            await asyncio.sleep(self._runtime.settings.consumer_failure_pause_seconds)
            # Rewinds every partition of the batch to its first record (FastStream >= 0.7.8).
            await message.nack()
            return
        consumer = getattr(message, "consumer", None)
        if consumer is not None and hasattr(consumer, "assignment"):
            await commit_offsets(consumer, records)
            await observe_lag(consumer, self._runtime.metrics)


class ServiceRuntime:
    """What one service process owns, started and stopped by the HTTP app's lifespan."""

    def __init__(self, name: str, settings: ServiceSettings, migrations: Path, *, description: str) -> None:
        self.name = name
        self.settings = settings
        self.description = description
        self.clock = settings.make_clock()
        self.metrics = ServiceMetrics(name)
        self.schema = settings.database_schema or name
        self._migrations = migrations
        self._pool: asyncpg.Pool | None = None
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            graceful_timeout=15.0,
            client_id=f"reko-{name}",
            # FastStream's own warnings and errors (a subscriber that stops, say) must show.
            logger=logging.getLogger("faststream"),
        )
        self.relay: OutboxRelay | None = None
        self.broker_started = False
        self._background: list[BackgroundTask] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.routers: list[APIRouter] = []
        self.consumed_topics: list[str] = []
        self.published_topics: list[str] = []
        # Consumer group -> the topics it consumes, for status and lag.
        self.consumer_groups: dict[str, list[str]] = {}

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool exists only while the service runs")
        return self._pool

    def topic(self, name: str) -> str:
        return self.settings.topics.name(name)

    def consume(self, first: Subscription[Any], *together: Subscription[Any]) -> None:
        """Register what the subscriptions declare: the FastStream subscriber, the dead-letter publisher
        of each topic, their output topics, and their AsyncAPI entries.

        Subscriptions given together are one consumer: one group (the first one's), one transaction
        per batch, each topic's records applied in the order the subscriptions are given (docs/architecture.md §4).
        """
        subscriptions = (first, *together)
        routes: dict[str, TopicRoute[Any]] = {}
        for subscription in subscriptions:
            topic = subscription.topic
            self.consumed_topics.append(self.topic(topic))
            for publication in subscription.publishes:
                self.publishes(publication.topic, title=publication.title, description=publication.description, schema=publication.schema)
            dead_letter_topic = self.settings.topics.dead_letter(topic)
            if dead_letter_topic not in self.published_topics:
                self.published_topics.append(dead_letter_topic)
                self.broker.publisher(
                    dead_letter_topic,
                    title=f"DeadLetters:{topic}",
                    description=(
                        f"Records of `{topic}` that cannot be processed: the original key and headers, the value (cut past "
                        "256 KiB, with its size and SHA-256), plus x-original-topic/-partition/-offset, x-error-class, "
                        "x-error-reason and x-failed-at headers (docs/dead-letters.md)."
                    ),
                    schema=bytes,
                )
            # The inbox name stays per topic, so consuming topics together deduplicates against what was consumed apart.
            routes[self.topic(topic)] = TopicRoute(f"{self.name}:{topic}", subscription.decode, subscription.apply, dead_letter_topic)
        first_route = routes[self.topic(first.topic)]
        consumer: SubscribedBatchConsumer[Any] = SubscribedBatchConsumer(
            self,
            name="+".join(route.inbox_name for route in routes.values()),
            decode=first_route.decode,
            apply=first_route.apply,
            dead_letter_topic=first_route.dead_letter_topic,
            outbox_source=f"urn:reko:{self.name}",
            clock=self.clock,
            metrics=self.metrics,
            max_record_bytes=self.settings.max_record_bytes,
            routes=routes,
        )
        description = " ".join(subscription.description for subscription in subscriptions)
        if together:
            description = f"One consumer, one transaction per batch, for {len(subscriptions)} topics. {description}"

        async def handler(message: Any) -> None:
            await consumer.handle(message)

        title = "And".join(subscription.title for subscription in subscriptions)
        handler.__name__ = handler.__qualname__ = f"on_{title}"
        handler.__doc__ = description
        topics = [subscription.topic for subscription in subscriptions]
        options = self.subscription(topics, title=title, group=first.group)
        self.broker.subscriber(*(self.topic(topic) for topic in topics), description=description, **options)(handler)

    def subscription(self, topics: str | Sequence[str], *, title: str, group: str | None = None) -> dict[str, Any]:
        """Subscriber options: own consumer group, batches, manual commits after the transaction.

        A service's first subscription uses the group named after the service; a further one names
        its own `group`, so each consumer owns the partitions of its topic alone.
        """
        group_id = f"{self.settings.consumer_group_prefix}{self.name}" + (f".{group}" if group else "")
        self.consumer_groups[group_id] = [self.topic(topic) for topic in ([topics] if isinstance(topics, str) else topics)]
        return {
            "group_id": group_id,
            "batch": True,
            "max_records": self.settings.consumer_max_records,
            "batch_timeout_ms": self.settings.consumer_batch_timeout_ms,
            "fetch_max_wait_ms": self.settings.consumer_fetch_max_wait_ms,
            "ack_policy": AckPolicy.MANUAL,
            "auto_offset_reset": "earliest",
            "decoder": _message_as_body,
            "parser": _parse_batch_keeping_records,
            "title": title,
        }

    def publishes(self, topic: str, *, title: str, description: str, schema: Any) -> None:
        """Declare an output topic for the AsyncAPI document; the outbox relay does the sending."""
        if self.topic(topic) in self.published_topics:
            return
        self.published_topics.append(self.topic(topic))
        self.broker.publisher(self.topic(topic), title=title, description=description, schema=schema)

    def background(self, task: BackgroundTask) -> None:
        self._background.append(task)

    def asyncapi(self) -> dict[str, Any]:
        specification = AsyncAPI(self.broker, title=f"reko {self.name}", version="1.0.0", description=self.description)
        return specification.to_specification().to_jsonable()  # type: ignore[no-any-return]  # why: FastStream types the JSON document as Any

    # --- lifecycle -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        configure_logging(self.name, log_format=self.settings.log_format, level=self.settings.log_level)
        self._pool = await self._connect_database()
        applied = await migrate(self._pool, self.schema, PLATFORM_MIGRATIONS, self._migrations)
        log.info("service starting", migrations_applied=applied, clock=self.settings.clock)
        retention = self.settings.outbox_retention_hours
        self.relay = OutboxRelay(
            self._pool,
            lambda: start_producer(self.settings),
            self.metrics,
            retention=timedelta(hours=retention) if retention > 0 else None,
        )
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        self._tasks.append(asyncio.create_task(self._start_broker(), name="broker-start"))
        for task in self._background:
            self._tasks.append(asyncio.create_task(task(self), name=getattr(task, "__name__", "background")))
        try:
            yield
        finally:
            log.info("service stopping")
            await self.broker.stop()
            for running in self._tasks:
                running.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
            await self._pool.close()
            self._pool = None

    def database_pool_size(self) -> int:
        """The setting, or one connection for each thing that holds one at once.

        Each consumer's transaction, each background task, the relay's listener and its round, and
        the HTTP requests: with fewer, a batch queues for a connection behind another consumer.
        """
        if self.settings.database_pool_size is not None:
            return self.settings.database_pool_size
        return len(self.consumer_groups) + len(self._background) + 3

    async def _connect_database(self) -> asyncpg.Pool:
        backoff = Backoff(initial_seconds=0.2)
        while True:
            try:
                return await create_pool(self.settings.database_url, self.schema, size=self.database_pool_size())
            except TRANSIENT_ERRORS as problem:
                log.warning("database not reachable yet", error=type(problem).__name__, backoff=backoff.next_seconds)
                await backoff.sleep()

    async def _start_broker(self) -> None:
        """Start consuming once the broker answers; until then the service reports not ready."""
        backoff = Backoff(initial_seconds=0.2)
        while True:
            try:
                await ensure_topics(
                    self.settings.kafka_bootstrap_servers, [*self.consumed_topics, *self.published_topics], configs=self.settings.topics.configs()
                )
                await self.broker.start()
                self.broker_started = True
                log.info("consuming", topics=self.consumed_topics)
                return
            except TRANSIENT_ERRORS as problem:
                log.warning("broker not reachable yet", error=type(problem).__name__, backoff=backoff.next_seconds)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await backoff.sleep()

    # A probe (readiness, the backlog gauge) answers within this even while the database hangs.
    probe_timeout_seconds = 1.0
    _late_probes: set[asyncio.Future[Any]] = set()  # noqa: RUF012 - only keeps abandoned probes alive until they end

    async def is_ready(self) -> dict[str, bool]:
        database = await self._probe(self._database_answers(self._pool)) if self._pool is not None else False
        return {
            "database": bool(database),
            "broker": self.broker_started,
            "relay": bool(self.relay and self.relay.connected),
        }

    async def _probe(self, work: Coroutine[Any, Any, ProbeT]) -> ProbeT | None:
        """The result of `work`, or None when it fails or takes longer than the probe timeout.

        Bounded as a whole: a stopped server holds a query far past the acquire timeout, and even
        cancelling the query waits for the server, so a late probe is left to end on its own.
        """
        probe = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({probe}, timeout=self.probe_timeout_seconds)
        if done:
            return None if probe.exception() else probe.result()
        self._late_probes.add(probe)
        probe.add_done_callback(self._forget_late_probe)
        probe.cancel()
        return None

    def _forget_late_probe(self, probe: asyncio.Future[Any]) -> None:
        self._late_probes.discard(probe)
        if not probe.cancelled():
            probe.exception()  # retrieved, so a late failure is not reported as unhandled

    @staticmethod
    async def _database_answers(pool: asyncpg.Pool) -> bool:
        async with pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true"))

    # --- HTTP ----------------------------------------------------------------------------------

    def http_app(self, routers: Sequence[APIRouter] = ()) -> FastAPI:
        app = FastAPI(title=f"reko {self.name}", description=self.description, lifespan=self.lifespan)
        install_error_answers(app)
        runtime = self

        @app.get("/health/live", tags=["operations"])
        async def live() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/health/ready", tags=["operations"])
        async def ready() -> JSONResponse:
            checks = await runtime.is_ready()
            return JSONResponse({"ready": all(checks.values()), **checks}, status_code=200 if all(checks.values()) else 503)

        backlog_counted_at = float("-inf")

        @app.get("/metrics", tags=["operations"])
        async def metrics() -> Response:
            nonlocal backlog_counted_at
            # Counted at most once a second: a scraper polling fast would otherwise cost the database
            # a scan of the pending rows per request.
            if runtime._pool is not None and time.monotonic() - backlog_counted_at >= 1.0:
                backlog = await runtime._probe(outbox_backlog(runtime._pool))
                if backlog is not None:
                    backlog_counted_at = time.monotonic()
                    runtime.metrics.outbox_backlog.set(backlog)
            return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

        @app.get("/asyncapi.json", tags=["operations"])
        async def asyncapi() -> dict[str, Any]:
            return runtime.asyncapi()

        from shared.audit import access_log_router
        from shared.status import status_router

        app.include_router(status_router(runtime))
        app.include_router(access_log_router(runtime, runtime.settings.auth))
        for router in routers:
            app.include_router(router)
        return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run one service in the foreground until SIGINT or SIGTERM, then stop gracefully."""
    import gc

    import uvicorn

    # A batch makes and drops tens of thousands of small objects (decoded events, models, rows). With the default
    # thresholds the collector runs every 700 allocations and rescans the modules' objects each full round; fewer
    # rounds, and those objects frozen out of them, cost 10-20 % less CPU per event. The older generations keep
    # their usual ratio to it (a full round every 10 million allocations): rarer full rounds cost no less CPU and
    # let cyclic garbage pile up, some 50 MB more per service at 200,000 events (bench/README.md, "The event
    # loop and the garbage collector").
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    # uvloop: much of a service's time is socket reads and writes to the broker and the database, and libuv's
    # loop spends less CPU on them than asyncio's own (the same section).
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, loop="uvloop", log_config=None, access_log=False, lifespan="on")

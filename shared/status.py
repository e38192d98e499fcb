"""How far behind a service is: per consumer group the lag per topic, the outbox backlog, the dead letters.

`GET /status` on every service answers this, and `reko status` / `--wait` read it. Everything is
read from shared state (the group's committed offsets on the broker, the schema's outbox table), so
any instance of a service answers for all of its instances.

A partition's end is the high-water mark of a fetch response, not ListOffsets: the embedded broker
answers ListOffsets with the base offset of its last batch plus one, which undercounts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from shared.outbox import outbox_backlog

if TYPE_CHECKING:
    from shared.service import ServiceRuntime

# An answer that takes longer is 503: a broker or database that slow is a finding in itself.
STATUS_READ_SECONDS = 5.0


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class PartitionLag(_Answer):
    partition: int
    end: int
    # None: the group has committed nothing on this partition yet (it starts from the beginning).
    committed: int | None
    lag: int


class TopicLag(_Answer):
    topic: str
    lag: int
    partitions: tuple[PartitionLag, ...]


class GroupLag(_Answer):
    group: str
    lag: int
    topics: tuple[TopicLag, ...]


class DeadLetterTopic(_Answer):
    topic: str
    records: int


class ServiceStatus(_Answer):
    service: str
    consumer_groups: tuple[GroupLag, ...]
    outbox_backlog: int
    dead_letters: tuple[DeadLetterTopic, ...]
    dead_letter_count: int
    # Every group at the end of its topics and nothing left to publish (dead letters do not count).
    caught_up: bool


def group_lag(
    group: str,
    ends: Mapping[TopicPartition, int],
    starts: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int | None],
    topics: Iterable[str],
) -> GroupLag:
    """The lag of one group: per partition its end minus its committed offset (or the log start)."""
    per_topic = []
    for topic in topics:
        partitions = sorted((tp for tp in ends if tp.topic == topic), key=lambda tp: tp.partition)
        rows = []
        for tp in partitions:
            done = committed.get(tp)
            lag = max(ends[tp] - (done if done is not None else starts.get(tp, 0)), 0)
            rows.append(PartitionLag(partition=tp.partition, end=ends[tp], committed=done, lag=lag))
        per_topic.append(TopicLag(topic=topic, lag=sum(row.lag for row in rows), partitions=tuple(rows)))
    return GroupLag(group=group, lag=sum(topic.lag for topic in per_topic), topics=tuple(per_topic))


async def _partitions_of(admin: AIOKafkaAdminClient, topics: Collection[str]) -> list[TopicPartition]:
    """The partitions of the topics that exist (a topic not created yet has none).

    Only existing topics are described: a broker that creates topics on request would create them.
    """
    existing = set(await admin.list_topics())
    wanted = [topic for topic in topics if topic in existing]
    described = await admin.describe_topics(wanted) if wanted else []
    found = {
        entry["topic"]: sorted(partition["partition"] for partition in entry["partitions"]) for entry in described if not entry.get("error_code")
    }
    return [TopicPartition(topic, partition) for topic in topics for partition in found.get(topic, ())]


async def partition_bounds(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(end, start) of each partition: the fetch high-water mark and the earliest offset."""
    if not partitions:
        return {}, {}
    starts = await consumer.beginning_offsets(partitions)
    consumer.assign(partitions)
    # Fetching from (near) the end costs one small response per partition; only the mark is used.
    await consumer.seek_to_end(*partitions)
    while any(consumer.highwater(tp) is None for tp in partitions):  # the caller bounds the time
        await consumer.getmany(*partitions, timeout_ms=100, max_records=1)
    return {tp: int(consumer.highwater(tp) or 0) for tp in partitions}, dict(starts)


async def committed_offsets(admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    if not partitions:
        return {}
    offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
    return {tp: (offsets[tp].offset if tp in offsets and offsets[tp].offset >= 0 else None) for tp in partitions}


async def broker_status(
    bootstrap_servers: str, groups: Mapping[str, Collection[str]], dead_letter_topics: Collection[str]
) -> tuple[list[GroupLag], list[DeadLetterTopic]]:
    """The lag of each group (name to the topics it consumes) and the records on each dead-letter topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=1024,
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await consumer.start()
    try:
        await admin.start()
        consumed = sorted({topic for topics in groups.values() for topic in topics})
        partitions = await _partitions_of(admin, [*consumed, *sorted(set(dead_letter_topics) - set(consumed))])
        # Committed offsets first, ends after: a record committed in between counts as lag, never the reverse.
        committed = {
            group: await committed_offsets(admin, group, [tp for tp in partitions if tp.topic in topics]) for group, topics in groups.items()
        }
        ends, starts = await partition_bounds(consumer, partitions)
    finally:
        await consumer.stop()
        await admin.close()
    lags = [group_lag(group, ends, starts, committed[group], topics) for group, topics in groups.items()]
    dead = [
        DeadLetterTopic(topic=topic, records=sum(max(ends[tp] - starts.get(tp, 0), 0) for tp in ends if tp.topic == topic))
        for topic in dead_letter_topics
    ]
    return lags, dead


def consumer_groups(runtime: ServiceRuntime) -> dict[str, list[str]]:
    """The groups the service's subscriptions consume with, each with its topic (prefixed, as the broker knows it)."""
    return {group: list(topics) for group, topics in runtime.consumer_groups.items()}


async def service_status(runtime: ServiceRuntime) -> ServiceStatus:
    groups = consumer_groups(runtime)
    suffix = runtime.settings.topics.dead_letter_suffix
    dead_letter_topics = list(dict.fromkeys(f"{topic}{suffix}" for topics in groups.values() for topic in topics))
    # The broker first, the outbox after: work a batch commits between the two reads shows as backlog.
    async with asyncio.timeout(STATUS_READ_SECONDS):
        lags, dead = await broker_status(runtime.settings.kafka_bootstrap_servers, groups, dead_letter_topics)
        backlog = await outbox_backlog(runtime.pool)
    return ServiceStatus(
        service=runtime.name,
        consumer_groups=tuple(lags),
        outbox_backlog=backlog,
        dead_letters=tuple(dead),
        dead_letter_count=sum(topic.records for topic in dead),
        caught_up=backlog == 0 and all(group.lag == 0 for group in lags),
    )


def status_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/status", response_model=ServiceStatus, responses={503: {"description": "Broker or database not reachable"}})
    async def status() -> Any:
        """Lag per consumer group and topic, outbox backlog and dead letters of this service (all its instances)."""
        try:
            return await service_status(runtime)
        except Exception as problem:  # noqa: BLE001 - whatever keeps us from reading, the answer is "unknown", not a 500
            return JSONResponse({"service": runtime.name, "error": type(problem).__name__}, status_code=503)

    return router

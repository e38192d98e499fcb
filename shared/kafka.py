"""Kafka helpers shared by the services and the tools: topic creation and producers."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

from shared.settings import ServiceSettings


async def ensure_topics(
    bootstrap_servers: str, names: Iterable[str], *, partitions: int = 3, configs: Mapping[str, Mapping[str, str]] | None = None
) -> None:
    """Create the topics that do not exist yet, with `configs` by name (`Topics.configs()`); existing ones are left as they are."""
    configs = configs or {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=dict(configs.get(name, {})))
            for name in dict.fromkeys(names)
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance created it between our look and our request
                await admin.create_topics(missing)
    finally:
        await admin.close()


@lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    # aiokafka's murmur2 is pure Python, and a patient's pseudonym keys several records in a row.
    return int(murmur2(key)) & 0x7FFFFFFF


def key_partitioner(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """aiokafka's default partitioner (the Java client's murmur2), with the hash of a key remembered."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[_key_hash(key) % len(all_partitions)]


async def start_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all" if settings.kafka_acks == "all" else 1,
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=5,
        # The relay builds its own record batches (shared/outbox.py): larger ones mean fewer of them per
        # request, and fewer stored, which the embedded broker pays for on every fetch (docs/architecture.md §5).
        max_batch_size=512 * 1024,
        partitioner=key_partitioner,
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer

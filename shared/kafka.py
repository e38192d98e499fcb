"""Kafka helpers shared by the services and the tools: topic creation and producers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

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


async def start_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all" if settings.kafka_acks == "all" else 1,
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=5,
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer

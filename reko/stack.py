"""The whole system on one machine: broker, database and the four services as separate processes.

Used by `reko stack`, `reko demo` and the end-to-end tests, so what the tests exercise is what a
person runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from reko.embedded import EmbeddedKafka, EmbeddedPostgres, die_with_parent, free_port, stop_process
from shared.kafka import ensure_topics
from shared.settings import Topics

SERVICES = ("intake", "milestones", "notifications", "stats")


def with_database(database_url: str, database: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def create_database(server_url: str, database: str) -> str:
    """Create `database` on the server if missing and return its URL."""
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return with_database(server_url, database)


@dataclass
class StackSettings:
    clock: str = "system"
    kafka_bootstrap_servers: str | None = None  # None: start the embedded broker
    database_url: str | None = None  # None: start the embedded PostgreSQL
    database_name: str = "reko"
    topic_prefix: str = ""
    log_dir: Path = Path(".reko/logs")
    pseudonym_key: str = field(default_factory=lambda: secrets.token_hex(32))
    # Signs the bearer tokens of the local stack's HTTP APIs (`reko token` mints them from the state file).
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
            # Own session: a Ctrl-C in the terminal reaches only the parent, which stops the
            # children in order (services first, then the database and the broker).
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health/ready", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        stop_process(self.process, timeout=30)


class Stack:
    """Starts and stops everything; `describe()` is what `reko stack` writes to its JSON file."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.kafka: EmbeddedKafka | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.bootstrap_servers = ""
        self.database_url = ""
        self.services: dict[str, ServiceProcess] = {}

    @property
    def topics(self) -> Topics:
        return Topics(prefix=self.settings.topic_prefix)

    def start_infrastructure(self) -> None:
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.kafka_bootstrap_servers:
            self.bootstrap_servers = self.settings.kafka_bootstrap_servers
        else:
            self.kafka = EmbeddedKafka(log_path=self.settings.log_dir / "tansu.log")
            self.bootstrap_servers = self.kafka.start()
        server_url = self.settings.database_url
        if not server_url:
            self.postgres = EmbeddedPostgres()
            server_url = self.postgres.start()
        self.database_url = asyncio.run(create_database(server_url, self.settings.database_name))
        asyncio.run(ensure_topics(self.bootstrap_servers, self.topics.all_names()))

    def service_env(self, name: str, port: int) -> dict[str, str]:
        prefix = f"REKO_{name.upper()}_"
        env = {key: value for key, value in os.environ.items() if not key.startswith("REKO_")}
        env.update(
            {
                f"{prefix}KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
                f"{prefix}DATABASE_URL": self.database_url,
                f"{prefix}CLOCK": self.settings.clock,
                f"{prefix}HTTP_PORT": str(port),
                f"{prefix}TOPICS__PREFIX": self.settings.topic_prefix,
                f"{prefix}CONSUMER_GROUP_PREFIX": f"reko.{self.settings.topic_prefix}",
                f"{prefix}LOG_FORMAT": "json",
                f"{prefix}AUTH__JWT_SECRET": self.settings.jwt_secret,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if name == "intake":
            env[f"{prefix}PSEUDONYM_KEY"] = self.settings.pseudonym_key
        env.update({key.replace("{SERVICE}", name.upper()): value for key, value in self.settings.extra_env.items()})
        return env

    def start_services(self) -> None:
        for name in SERVICES:
            port = free_port()
            service = ServiceProcess(name, port, self.service_env(name, port), self.settings.log_dir / f"{name}.log")
            service.start()
            self.services[name] = service
        for service in self.services.values():
            service.wait_ready()

    def start(self) -> Stack:
        try:
            self.start_infrastructure()
            self.start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, name: str, *, clock: str | None = None, wait_ready: bool = True) -> None:
        """Start a stopped or killed service again, from now on with `clock` if given."""
        service = self.services[name]
        if clock is not None:
            service.env[f"REKO_{name.upper()}_CLOCK"] = clock
        service.start()
        if wait_ready:
            service.wait_ready()

    def describe(self) -> dict[str, Any]:
        return {
            "bootstrapServers": self.bootstrap_servers,
            "databaseUrl": self.database_url,
            "clock": self.settings.clock,
            "topics": {
                "certificates": self.topics.name(self.topics.certificates),
                "cases": self.topics.name(self.topics.cases),
                "riskFlags": self.topics.name(self.topics.risk_flags),
                "milestones": self.topics.name(self.topics.milestones),
                "alerts": self.topics.name(self.topics.alerts),
                "certificatesDeadLetter": self.topics.dead_letter(self.topics.certificates),
            },
            "services": {name: service.base_url for name, service in self.services.items()},
            # A local development stack only: lets `reko token` mint tokens for its APIs.
            "jwtSecret": self.settings.jwt_secret,
        }

    def write_state(self, path: Path) -> None:
        path.write_text(json.dumps(self.describe(), indent=2) + "\n")

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self.kafka is not None:
            self.kafka.stop()

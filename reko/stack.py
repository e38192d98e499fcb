"""The whole system on one machine: broker, database and the four services as separate processes.

Used by `reko stack`, `reko demo` and the end-to-end tests, so what the tests exercise is what a
person runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
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
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from cryptography.fernet import Fernet
from pydantic import BaseModel, ValidationError

from reko.embedded import EmbeddedKafka, EmbeddedPostgres, die_with_parent, free_port
from shared.kafka import ensure_topics
from shared.settings import ServiceSettings, Topics

SERVICES = ("intake", "milestones", "notifications", "stats")

# Settings the stack itself decides for every service: where the broker and database are, the
# clock, the port, topic and group names, the secrets it writes to its state file.
STACK_MANAGED_SETTINGS = frozenset(
    {
        "kafka_bootstrap_servers",
        "database_url",
        "clock",
        "http_port",
        "topics__prefix",
        "consumer_group_prefix",
        "auth__jwt_secret",
        "pseudonym_key",
        "identity_keys",
        "identity_storage_keys",
    }
)


def anchored_clock(spec: str, now: float) -> str:
    """A simulated clock with no anchor, anchored at `now`: every process of the stack, and a
    restarted one, then agrees on the simulated time instead of starting it when it starts."""
    if spec.strip().startswith("simulated:") and "@" not in spec:
        return f"{spec.strip()}@{now:.3f}"
    return spec


class InvalidServiceSetting(ValueError):
    """A `--set service.setting=value` (or a REKO_* variable) the service would refuse or ignore."""


def settings_class(service: str) -> type[ServiceSettings]:
    """The settings class of a service, as its `settings.py` defines it."""
    module = importlib.import_module(f"services.{service}.settings")
    for item in vars(module).values():
        if isinstance(item, type) and issubclass(item, ServiceSettings) and item is not ServiceSettings and item.__module__ == module.__name__:
            return item
    raise LookupError(f"services.{service}.settings defines no settings class")


def _nested_names(model: type[BaseModel], prefix: str = "") -> list[str]:
    names = []
    for name, field_info in model.model_fields.items():
        names.append(f"{prefix}{name}")
        annotation = field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(_nested_names(annotation, f"{prefix}{name}."))
    return names


def _check_setting_path(service: str, path: list[str]) -> None:
    model: type[BaseModel] | None = settings_class(service)
    for depth, part in enumerate(path):
        if model is None:
            return  # below a mapping (e.g. risk_flags.weights.<reason>) any key is the service's to judge
        # Environment variables are read case-insensitively, so are these names.
        field_info = next((info for name, info in model.model_fields.items() if name.lower() == part.lower()), None)
        if field_info is None:
            known = _nested_names(settings_class(service))
            hint = [name for name in known if name.split(".")[-1] == part]
            suggestion = f"; did you mean {' or '.join(f'{service}.{name}' for name in hint)}?" if hint else ""
            raise InvalidServiceSetting(f"{service} has no setting {'.'.join(path[: depth + 1])}{suggestion}")
        annotation = field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif depth < len(path) - 1 and getattr(annotation, "__origin__", None) is not dict:
            raise InvalidServiceSetting(f"{service}.{'.'.join(path[: depth + 1])} has no parts to set")
        else:
            model = None


def parse_service_setting(text: str) -> tuple[str, str, str]:
    """`service.setting=value` (nested settings by further dots) as (service, environment variable, value).

    `intake.max_gap=7` becomes REKO_INTAKE_MAX_GAP=7, `milestones.rules.lead_days=21` becomes
    REKO_MILESTONES_RULES__LEAD_DAYS=21: the names the service's settings.py reads.
    """
    name, equals, value = text.partition("=")
    service, dot, setting = name.strip().partition(".")
    if not equals or not dot or not setting:
        raise InvalidServiceSetting(f"{text!r}: expected service.setting=value, e.g. intake.max_gap=7")
    if service not in SERVICES:
        raise InvalidServiceSetting(f"{text!r}: unknown service {service!r} (one of {', '.join(SERVICES)})")
    path = [part.strip() for part in setting.split(".")]
    if "__".join(path).lower() in STACK_MANAGED_SETTINGS:
        raise InvalidServiceSetting(
            f"{service}.{setting} is the stack's own (broker, database, clock, HTTP port, topic and group names, secrets: see reko stack --help)"
        )
    _check_setting_path(service, path)
    return service, f"REKO_{service.upper()}_{'__'.join(part.upper() for part in path)}", value


def check_service_environment(service: str, env: dict[str, str]) -> None:
    """Read the service's settings from `env` exactly as the service will, so a bad value stops the stack before it starts."""
    with mock.patch.dict(os.environ, env, clear=True):
        try:
            settings_class(service)()
        except ValidationError as invalid:
            problems = "; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in invalid.errors())
            raise InvalidServiceSetting(f"{service}: {problems}") from None


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
    # Settings of the embedded PostgreSQL besides the defaults (`-c name=value`).
    postgres_settings: dict[str, str] = field(default_factory=dict)
    database_name: str = "reko"
    topic_prefix: str = ""
    log_dir: Path = Path(".reko/logs")
    pseudonym_key: str = field(default_factory=lambda: secrets.token_hex(32))
    # docs/identity.md: the identity topic's key (intake and notifications) and notifications' key at rest.
    identity_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    identity_storage_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    # Signs the bearer tokens of the local stack's HTTP APIs (`reko token` mints them from the state file).
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    # Processes per service; they share the work through their consumer groups.
    instances: int = 1
    # The pages' development sign-in (docs/pages.md): on for the local stack, off in any deployment.
    development_sign_in: bool = True
    # Per service, environment variables from `--set service.setting=value` (see parse_service_setting).
    service_settings: dict[str, dict[str, str]] = field(default_factory=dict)
    # Hand the environment's REKO_* variables to the services (each reads its own prefix).
    pass_environment: bool = True
    # Applied last, to every service; "{SERVICE}" in a name becomes the service's name (tests use it).
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    # A second SIGTERM makes uvicorn skip its graceful shutdown, so it is sent once.
    stop_requested: bool = field(default=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.stop_requested = False
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

    def request_stop(self) -> None:
        """SIGTERM without waiting: the service stops gracefully (see `stop`)."""
        if self.process is not None and self.process.poll() is None and not self.stop_requested:
            self.stop_requested = True
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Stop gracefully and wait for it (SIGKILL after 30 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.request_stop()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()


class Stack:
    """Starts and stops everything; `describe()` is what `reko stack` writes to its JSON file."""

    def __init__(self, settings: StackSettings) -> None:
        if settings.instances < 1:
            raise ValueError("at least one instance of each service")
        self.settings = dataclasses.replace(settings, clock=anchored_clock(settings.clock, time.time()))
        self.kafka: EmbeddedKafka | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.bootstrap_servers = ""
        self.database_url = ""
        # Every process of each service; the first one is `services[name]`.
        self.instances: dict[str, list[ServiceProcess]] = {}

    @property
    def services(self) -> dict[str, ServiceProcess]:
        """The first instance of each service (all there is without --instances)."""
        return {name: processes[0] for name, processes in self.instances.items() if processes}

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
            self.postgres = EmbeddedPostgres(settings=dict(self.settings.postgres_settings))
            server_url = self.postgres.start()
        self.database_url = asyncio.run(create_database(server_url, self.settings.database_name))
        asyncio.run(ensure_topics(self.bootstrap_servers, self.topics.all_names(), configs=self.topics.configs()))

    def service_env(self, name: str, port: int) -> dict[str, str]:
        """The process environment of one service: the environment's REKO_* variables, then
        `--set`, then what the stack decides itself, then `extra_env`."""
        prefix = f"REKO_{name.upper()}_"
        env = {key: value for key, value in os.environ.items() if self.settings.pass_environment or not key.startswith("REKO_")}
        env.setdefault(f"{prefix}LOG_FORMAT", "json")
        env.update(self.settings.service_settings.get(name, {}))
        env.update(
            {
                f"{prefix}KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
                f"{prefix}DATABASE_URL": self.database_url,
                f"{prefix}CLOCK": self.settings.clock,
                f"{prefix}HTTP_PORT": str(port),
                f"{prefix}TOPICS__PREFIX": self.settings.topic_prefix,
                f"{prefix}CONSUMER_GROUP_PREFIX": f"reko.{self.settings.topic_prefix}",
                f"{prefix}AUTH__JWT_SECRET": self.settings.jwt_secret,
                f"{prefix}PAGES__DEVELOPMENT_SIGN_IN": "true" if self.settings.development_sign_in else "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if name == "intake":
            env[f"{prefix}PSEUDONYM_KEY"] = self.settings.pseudonym_key
        if name in ("intake", "notifications"):
            env[f"{prefix}IDENTITY_KEYS"] = self.settings.identity_key
        if name == "notifications":
            env[f"{prefix}IDENTITY_STORAGE_KEYS"] = self.settings.identity_storage_key
        if name == "stats":
            # docs/statistics.md §6: the dashboard's own development sign-in.
            env[f"{prefix}DEV_SIGN_IN"] = "true" if self.settings.development_sign_in else "false"
        env.update({key.replace("{SERVICE}", name.upper()): value for key, value in self.settings.extra_env.items()})
        return env

    def _log_path(self, name: str, instance: int) -> Path:
        return self.settings.log_dir / (f"{name}.log" if instance == 0 else f"{name}-{instance + 1}.log")

    def start_services(self) -> None:
        planned = []
        for name in SERVICES:
            for instance in range(self.settings.instances):
                port = free_port()
                planned.append(ServiceProcess(name, port, self.service_env(name, port), self._log_path(name, instance)))
        for service in planned:
            service.start()
            self.instances.setdefault(service.name, []).append(service)
        for service in planned:
            service.wait_ready()

    def check_settings(self) -> None:
        """Raise InvalidServiceSetting when a service would refuse its settings (before anything starts)."""
        for name in SERVICES:
            check_service_environment(name, self.service_env(name, port=0))

    def start(self) -> Stack:
        self.check_settings()
        try:
            self.start_infrastructure()
            self.start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, name: str, *, instance: int = 0, clock: str | None = None, wait_ready: bool = True) -> None:
        """Start a stopped or killed service instance again, from now on with `clock` if given."""
        service = self.instances[name][instance]
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
                "casework": self.topics.name(self.topics.casework),
                "certificatesDeadLetter": self.topics.dead_letter(self.topics.certificates),
            },
            "services": {name: service.base_url for name, service in self.services.items()},
            # Every instance's URL, the first one being `services.<name>`.
            "instances": {name: [service.base_url for service in processes] for name, processes in self.instances.items()},
            # A local development stack only: lets `reko token` mint tokens for its APIs.
            "jwtSecret": self.settings.jwt_secret,
        }

    def write_state(self, path: Path) -> None:
        path.write_text(json.dumps(self.describe(), indent=2) + "\n")

    def stop(self) -> None:
        running = [service for processes in self.instances.values() for service in processes]
        # All at once: each takes a few seconds to drain, and they do not depend on each other.
        for service in running:
            service.request_stop()
        for service in running:
            service.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self.kafka is not None:
            self.kafka.stop()

"""What every service is configured with; each service subclasses it with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import AuthSettings
from shared.clock import Clock, parse_clock
from shared.pages import PageSettings


class Topics(BaseModel):
    """Topic names (defaults of docs/events.md §1). `prefix` lets tests and tenants share one broker."""

    prefix: str = ""
    certificates: str = "sickleave.certificates.v1"
    cases: str = "sickleave.cases.v1"
    risk_flags: str = "sickleave.riskflags.v1"
    milestones: str = "rehab.milestones.v1"
    alerts: str = "rehab.alerts.v1"
    # Who a patient is, encrypted, from intake to notifications only (docs/identity.md); compacted.
    identities: str = "sickleave.identities.v1"
    # The coordinator's records, pseudonymised, for other systems to follow (docs/events.md §3.7).
    casework: str = "rehab.casework.v1"
    dead_letter_suffix: str = ".dlq"

    def name(self, topic: str) -> str:
        return f"{self.prefix}{topic}"

    def dead_letter(self, topic: str) -> str:
        return f"{self.prefix}{topic}{self.dead_letter_suffix}"

    def all_names(self) -> list[str]:
        base = [self.certificates, self.cases, self.risk_flags, self.milestones, self.alerts, self.identities]
        # Nothing in reko consumes the casework topic, so it has no dead-letter topic of its own.
        return [self.name(topic) for topic in base] + [self.dead_letter(topic) for topic in base] + [self.name(self.casework)]

    def configs(self) -> dict[str, dict[str, str]]:
        """Topic configurations other than the broker's defaults, by full name, for whoever creates the topic first."""
        # Compacted: the latest identity of every patient stays, older ones go (docs/identity.md).
        return {self.name(self.identities): {"cleanup.policy": "compact"}}


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # "all" with idempotence in production on Apache Kafka; the embedded Tansu has no idempotent
    # producer, and correctness never depends on it because every consumer deduplicates.
    kafka_acks: Literal["1", "all"] = "1"
    kafka_idempotence: bool = False
    database_url: str = "postgresql://postgres@127.0.0.1:5432/reko"
    database_schema: str = ""
    # None: as many as the service can use at once (docs/architecture.md §4); a batch waiting for a
    # connection waits in every hop it is on.
    database_pool_size: int | None = Field(default=None, ge=1, le=40)
    topics: Topics = Topics()
    consumer_group_prefix: str = "reko."
    consumer_max_records: int = Field(default=500, ge=1, le=5000)
    # How long a poll waits for records (FastStream then sleeps as long again after an empty one), and
    # how long the broker holds a fetch: both add to every hop. The embedded Tansu answers a waiting
    # fetch only when its wait ends, not when a record arrives (docs/architecture.md §4).
    consumer_batch_timeout_ms: int = Field(default=10, ge=1)
    consumer_fetch_max_wait_ms: int = Field(default=50, ge=1, le=5000)
    # A record larger than this (key and value) is dead-lettered as RecordTooLarge, not stored.
    max_record_bytes: int = Field(default=1_048_576, ge=1024)
    # After a batch failed outside the per-record isolation, wait this long before fetching it again.
    consumer_failure_pause_seconds: float = Field(default=1.0, ge=0)
    # Published outbox rows are kept this long for an operator to look back on, then deleted; 0 keeps
    # them for good. Rows still to send and rows the broker refused are never deleted (docs/architecture.md §5).
    outbox_retention_hours: float = Field(default=168, ge=0)
    clock: str = "system"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    # Bearer tokens for the HTTP API; with no key configured the API answers 503 to everything.
    auth: AuthSettings = AuthSettings()
    # The service's pages, where it has any (docs/pages.md).
    pages: PageSettings = PageSettings()

    def make_clock(self) -> Clock:
        return parse_clock(self.clock)

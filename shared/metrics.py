"""Prometheus metrics of one service process, in a registry of its own (built by the factory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ServiceMetrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        # Any: spread as `**labels`, a dict typed by its one value would be checked against every keyword of each metric.
        labels: dict[str, Any] = {"registry": self.registry}
        self.consumed = Counter("reko_events_consumed_total", "Records received from a topic.", ["topic"], **labels)
        self.deduplicated = Counter(
            "reko_events_deduplicated_total", "Records skipped because their event id was already applied.", ["topic"], **labels
        )
        self.dead_lettered = Counter("reko_events_dead_lettered_total", "Records sent to the dead-letter topic.", ["topic", "error_class"], **labels)
        self.published = Counter("reko_events_published_total", "Records the outbox relay published.", ["topic"], **labels)
        self.refused = Counter(
            "reko_outbox_refused_total", "Outbox rows the broker refused for good (recorded, then skipped).", ["topic", "error"], **labels
        )
        self.transient_failures = Counter(
            "reko_transient_failures_total", "Retries after the database or the broker was unavailable.", ["stage"], **labels
        )
        self.lag = Gauge("reko_consumer_lag", "High-water mark minus position, per partition.", ["topic", "partition"], **labels)
        self.handler_seconds = Histogram(
            "reko_handler_seconds",
            "Time to process one batch, from decode to database commit.",
            ["topic"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            **labels,
        )
        self.pruned = Counter("reko_outbox_pruned_total", "Published outbox rows deleted after the retention.", **labels)
        self.outbox_backlog = Gauge("reko_outbox_backlog", "Outbox rows not yet published.", **labels)

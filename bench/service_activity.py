"""When each service consumed its first and its last record of a phase, from its `/metrics` page.

Every service counts the records it receives in `reko_events_consumed_total` (per topic). Polling
that counter a few times a second gives, per service, the moment it started and stopped receiving,
to within one polling interval; its rate is what it received divided by that span. This needs
nothing from the services beyond the metric they already publish, and reads no consumer group.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

CONSUMED = "reko_events_consumed_total"


def consumed_records(metrics_text: str) -> float:
    """All records a service has received, over every topic it consumes."""
    return sum(sample.value for family in text_string_to_metric_families(metrics_text) for sample in family.samples if sample.name == CONSUMED)


@dataclass
class Activity:
    baseline: float = 0.0
    latest: float = 0.0
    first_seen: float | None = None  # perf_counter of the first poll that saw more than the baseline
    last_change: float | None = None  # perf_counter of the poll that saw the final count

    @property
    def consumed(self) -> float:
        return self.latest - self.baseline

    @property
    def span(self) -> float | None:
        if self.first_seen is None or self.last_change is None:
            return None
        return self.last_change - self.first_seen


class ServiceActivity:
    def __init__(self, services: dict[str, str]) -> None:
        self._services = services  # name -> base URL
        self.activity = {name: Activity() for name in services}
        self._client = httpx.AsyncClient(timeout=5)

    async def _read(self, base_url: str) -> float | None:
        with contextlib.suppress(httpx.HTTPError):
            response = await self._client.get(f"{base_url}/metrics")
            if response.status_code == 200:
                return consumed_records(response.text)
        return None

    async def start(self) -> None:
        for name, base_url in self._services.items():
            value = await self._read(base_url)
            self.activity[name] = Activity(baseline=value or 0.0, latest=value or 0.0)

    async def poll(self) -> None:
        for name, base_url in self._services.items():
            value = await self._read(base_url)
            now = time.perf_counter()
            activity = self.activity[name]
            if value is None or value == activity.latest:
                continue
            activity.latest = value
            if activity.first_seen is None:
                activity.first_seen = now
            activity.last_change = now

    async def close(self) -> None:
        await self._client.aclose()

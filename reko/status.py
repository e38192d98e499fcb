"""`reko status` and `--wait`: the services' `GET /status`, read for the whole stack.

The services are read in pipeline order, upstream first. A service that reports no lag and an
empty outbox has already handed everything on (offsets are committed after the transaction that
writes the outbox, and outbox rows are marked sent after the broker's ack), so whatever it passed
downstream is in the next service's lag by the time that one is read. One pass that is all zero
is therefore a consistent "caught up"; `wait_until_caught_up` still wants a few in a row.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
from rich.markup import escape
from rich.table import Table

# Upstream first (see the module docstring); notifications follows both intake and milestones.
PIPELINE_ORDER = ("intake", "milestones", "stats", "notifications")

EXIT_NOT_CAUGHT_UP = 3


@dataclass(frozen=True)
class ServiceReport:
    name: str
    urls: tuple[str, ...]
    # The answer of the first instance that gave one; every instance reports for all of them.
    status: dict[str, Any] | None
    instances_up: int
    problem: str | None = None

    @property
    def caught_up(self) -> bool:
        return self.status is not None and bool(self.status.get("caughtUp"))

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"instances": len(self.urls), "instancesUp": self.instances_up}
        if self.status is not None:
            answer |= self.status
        else:
            answer |= {"caughtUp": False, "error": self.problem}
        return answer


@dataclass(frozen=True)
class PipelineReport:
    services: tuple[ServiceReport, ...]

    @property
    def caught_up(self) -> bool:
        return bool(self.services) and all(service.caught_up for service in self.services)

    @property
    def reachable(self) -> bool:
        return all(service.status is not None for service in self.services)

    def as_json(self) -> dict[str, Any]:
        return {"caughtUp": self.caught_up, "services": {service.name: service.as_json() for service in self.services}}


def service_urls(state: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Every instance's URL per service from a state file (`instances`, or just `services` from older stacks)."""
    instances = state.get("instances") or {}
    services = state.get("services") or {}
    names = [name for name in PIPELINE_ORDER if name in services or name in instances]
    names += [name for name in {**services, **instances} if name not in names]
    return {name: tuple(instances.get(name) or [services[name]]) for name in names}


async def _instance_status(http: httpx.AsyncClient, url: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        response = await http.get(f"{url}/status")
    except httpx.HTTPError as problem:
        return None, f"{url} not reachable ({type(problem).__name__})"
    if response.status_code != 200:
        try:
            detail = response.json().get("error", "")
        except ValueError:
            detail = ""
        return None, f"{url} answered {response.status_code}" + (f" ({detail})" if detail else "")
    return response.json(), None


async def read_service(http: httpx.AsyncClient, name: str, urls: tuple[str, ...]) -> ServiceReport:
    answers = await asyncio.gather(*(_instance_status(http, url) for url in urls))
    status = next((answer for answer, _ in answers if answer is not None), None)
    problems = [problem for _, problem in answers if problem is not None]
    return ServiceReport(name, urls, status, sum(answer is not None for answer, _ in answers), None if status is not None else "; ".join(problems))


async def read_pipeline(urls: dict[str, tuple[str, ...]], *, request_seconds: float = 10.0) -> PipelineReport:
    async with httpx.AsyncClient(timeout=request_seconds) as http:
        reports = []
        for name, service_instances in urls.items():  # one after the other, upstream first
            reports.append(await read_service(http, name, service_instances))
    return PipelineReport(tuple(reports))


async def wait_until_caught_up(
    urls: dict[str, tuple[str, ...]], *, within_seconds: float, interval: float = 0.5, settle: int = 3
) -> tuple[bool, PipelineReport]:
    """Until `settle` passes in a row find the pipeline caught up (True), or `within_seconds` pass (False)."""
    deadline = time.monotonic() + within_seconds
    in_a_row = 0
    while True:
        report = await read_pipeline(urls)
        in_a_row = in_a_row + 1 if report.caught_up else 0
        if in_a_row >= settle:
            return True, report
        if time.monotonic() + interval > deadline:
            return False, report
        await asyncio.sleep(interval)


def behind(report: PipelineReport) -> str:
    """What is still in the way, in a line: e.g. "intake: lag 120, outbox 3; stats: not reachable"."""
    parts = []
    for service in report.services:
        if service.status is None:
            parts.append(f"{service.name}: {service.problem}")
        elif not service.caught_up:
            lag = sum(group["lag"] for group in service.status["consumerGroups"])
            parts.append(f"{service.name}: lag {lag}, outbox {service.status['outboxBacklog']}")
    return "; ".join(parts) or "nothing"


def status_table(report: PipelineReport) -> Table:
    table = Table(title="Pipeline caught up" if report.caught_up else "Pipeline behind", title_justify="left")
    for column in ("service", "instances", "consumer group", "topic", "lag", "outbox backlog", "dead letters"):
        table.add_column(column, justify="left" if column in ("service", "consumer group", "topic") else "right")
    for service in report.services:
        up = f"{service.instances_up}/{len(service.urls)}"
        if service.status is None:
            table.add_row(service.name, up, f"[red]{escape(service.problem or '')}[/]", "", "", "", "")
            continue
        rows = [(group["group"], topic["topic"], topic["lag"]) for group in service.status["consumerGroups"] for topic in group["topics"]]
        for index, (group, topic, lag) in enumerate(rows or [("–", "–", 0)]):
            first = index == 0
            table.add_row(
                service.name if first else "",
                up if first else "",
                group,
                topic,
                f"[bold yellow]{lag:,}[/]" if lag else "0",
                (f"{service.status['outboxBacklog']:,}" if first else ""),
                (f"{service.status['deadLetterCount']:,}" if first else ""),
            )
    return table

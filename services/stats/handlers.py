"""Stats' subscriber: case changes in, pseudonymised case facts and the aggregates of them kept current."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from services.stats import repository
from services.stats.settings import StatsSettings
from shared.consumer import ApplyContext, Incoming
from shared.contracts.cases import SickLeaveCaseChanged
from shared.events import decode_published_event
from shared.service import ServiceRuntime, Subscription


def decode_case_record(record: ConsumerRecord[Any, Any]) -> tuple[str, SickLeaveCaseChanged]:
    return decode_published_event(record, SickLeaveCaseChanged)


async def apply_case_events(context: ApplyContext, incoming: list[Incoming[SickLeaveCaseChanged]]) -> None:
    await repository.apply_case_events(context.conn, [item.event for item in incoming])


def register(runtime: ServiceRuntime, settings: StatsSettings) -> None:
    runtime.consume(
        Subscription(
            topic=settings.topics.cases,
            title="OnCaseChanges",
            description=(
                "Consumes `SickLeaveCaseChanged` from `sickleave.cases.v1`. Keeps one pseudonymised fact per existing "
                "case (removed cases are deleted) and, in the same transaction, the aggregates the reports read. Emits nothing; "
                "serves the counts and reports over HTTP. Acknowledges manually, after the transaction committed."
            ),
            decode=decode_case_record,
            apply=apply_case_events,
        )
    )

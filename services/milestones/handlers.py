"""Milestones' subscriber and scheduler: case changes and the clock in, milestone states out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from aiokafka import ConsumerRecord

from services.milestones import repository
from services.milestones.milestone_changes import milestone_changes
from services.milestones.rehabkedja import ChainCase, chain_offsets, milestones_at, next_change_date
from services.milestones.settings import MilestonesSettings
from services.milestones.what_if import gap_named_last
from shared.clock import Clock
from shared.consumer import ApplyContext, Incoming
from shared.contracts.cases import SickLeaveCaseChanged
from shared.contracts.milestones import MILESTONE_CHANGED_TYPE, MilestoneChanged
from shared.events import decode_published_event
from shared.outbox import Outbox
from shared.retry import TRANSIENT_ERRORS
from shared.service import Publication, ServiceRuntime, Subscription

log = structlog.get_logger("milestones")


def decode_case_record(record: ConsumerRecord[Any, Any]) -> tuple[str, SickLeaveCaseChanged]:
    return decode_published_event(record, SickLeaveCaseChanged)


class MilestoneTracker:
    """Keeps every patient's milestones equal to the rules for the cases seen and the clock."""

    def __init__(self, settings: MilestonesSettings, milestones_topic: str, clock: Clock) -> None:
        self._rules = settings.rules
        self._topic = milestones_topic
        self._clock = clock

    async def apply_case_events(self, context: ApplyContext, incoming: list[Incoming[SickLeaveCaseChanged]]) -> None:
        events = [item.event for item in incoming]
        projection = await repository.store_case_events(context.conn, events)
        gap = gap_named_last(events)
        if gap is not None:
            await repository.record_case_gap(context.conn, gap)
        await self.evaluate(context.conn, context.outbox, projection.complete_patients, stored_now=projection.kept_cases)

    async def evaluate(
        self, conn: asyncpg.Connection, outbox: Outbox, patients: list[str], *, stored_now: Sequence[SickLeaveCaseChanged] = ()
    ) -> None:
        """Publish what changed for these patients; the caller's transaction holds their row locks.

        `stored_now`: cases the caller stored in this transaction, used as they are instead of read back.
        """
        if not patients:
            return
        today = self._clock.today()
        cases_by_patient = await repository.cases_by_patient(conn, patients, stored_now)
        published_by_patient = await repository.published_milestones_by_patient(conn, patients)
        all_changes = []
        timers = {}
        for patient in patients:
            cases = {case.case_id: case for case in cases_by_patient[patient]}
            chain_cases = [ChainCase(case_id=case.case_id, start=case.start, end=case.end, certificates=case.certificates) for case in cases.values()]
            # A cancelled milestone whose case is gone keeps the last body it had; everything else
            # is described by the case as it is now.
            changes = milestone_changes(
                published_by_patient[patient],
                milestones_at(chain_cases, today, self._rules),
                cases,
                chain_offsets(chain_cases, self._rules),
            )
            for change in changes:
                outbox.event(
                    topic=self._topic,
                    key=patient,
                    event_type=MILESTONE_CHANGED_TYPE,
                    time=self._clock.now(),
                    subject=change.milestone_id,
                    data=change,
                )
            all_changes.extend(changes)
            timers[patient] = next_change_date(chain_cases, today, self._rules)
        await repository.save_milestones(conn, all_changes)
        await repository.set_timers(conn, timers)

    async def run_scheduler(self, runtime: ServiceRuntime, interval_seconds: float, batch: int = 100) -> None:
        """Fires every timer that fell due, including those that fell due while the service was down."""
        while True:
            try:
                while await self._fire_due_timers(runtime, batch):
                    pass
            except TRANSIENT_ERRORS as problem:
                runtime.metrics.transient_failures.labels(stage="scheduler").inc()
                log.warning("scheduler retrying", error=type(problem).__name__)
            except Exception as problem:  # noqa: BLE001 - a dead scheduler would silently stop every timer
                log.error("scheduler round failed; retrying", error=type(problem).__name__)
            await asyncio.sleep(interval_seconds)

    async def _fire_due_timers(self, runtime: ServiceRuntime, batch: int = 100) -> bool:
        async with runtime.pool.acquire() as conn, conn.transaction():
            patients = await repository.claim_due_timers(conn, self._clock.today(), batch)
            outbox = Outbox(source=f"urn:reko:{runtime.name}")
            # A patient in the middle of a case revision, or whose events the consumer is applying
            # right now, waits for the consumer, which evaluates it once the revision is complete.
            evaluated = await repository.lock_complete_patients(conn, patients)
            await self.evaluate(conn, outbox, evaluated)
            await outbox.write(conn)
        # Patients passed over keep their due timers and are claimed first again: only a round that
        # moved some timer on may go straight on to the next, or a full batch of them would spin.
        return len(patients) == batch and bool(evaluated)


def register(runtime: ServiceRuntime, settings: MilestonesSettings) -> None:
    topics = settings.topics
    tracker = MilestoneTracker(settings, runtime.topic(topics.milestones), runtime.clock)
    runtime.consume(
        Subscription(
            topic=topics.cases,
            title="OnCaseChanges",
            description=(
                "Consumes `SickLeaveCaseChanged` from `sickleave.cases.v1`. Re-evaluates the patient's chain once a "
                "whole case revision has arrived and emits `MilestoneChanged` on `rehab.milestones.v1` (through the "
                "outbox) for every (case, kind) whose status, due date or details changed (`update: true` when only "
                "the details did). Acknowledges manually, after the transaction committed."
            ),
            decode=decode_case_record,
            apply=tracker.apply_case_events,
            publishes=(
                Publication(
                    topics.milestones,
                    title="MilestoneChanged",
                    description=(
                        "Rehabkedja checkpoints (days 90/180/365) and the 30-day plan: SCHEDULED, DUE or CANCELLED; "
                        "`update: true` when only the details (certificates, unit, chain day) changed, never to be announced again."
                    ),
                    schema=MilestoneChanged,
                ),
            ),
        )
    )

    async def scheduler(runtime: ServiceRuntime) -> None:
        await tracker.run_scheduler(runtime, settings.scheduler_interval_seconds, settings.scheduler_batch_size)

    runtime.background(scheduler)

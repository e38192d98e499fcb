"""Milestones' durable timers against the real PostgreSQL: fired once, by whichever scheduler claims them."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from services.milestones import repository
from services.milestones.app import MIGRATIONS
from services.milestones.handlers import MilestoneTracker
from services.milestones.rehabkedja import RehabkedjaRules, milestones_at
from services.milestones.settings import MilestonesSettings
from services.milestones.what_if import chain_case
from shared.clock import STOCKHOLM, FixedClock
from shared.contracts.cases import SickLeaveCaseChanged
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.metrics import ServiceMetrics
from shared.outbox import Outbox
from tests.support import employed_case_event

pytestmark = pytest.mark.integration

TOPIC = "rehab.milestones.v1"
FIRST_START = date(2026, 1, 1)


@dataclass
class SchedulerHost:
    """What the scheduler needs of its service runtime: a pool, a name and metrics."""

    pool: asyncpg.Pool
    name: str = "milestones"
    metrics: ServiceMetrics = field(default_factory=lambda: ServiceMetrics("milestones"))


@pytest.fixture
async def milestones_pools(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two pools on milestones' schema, as two instances of the service would have."""
    first = await create_pool(database_url, "milestones", size=4)
    await migrate(first, "milestones", PLATFORM_MIGRATIONS, MIGRATIONS)
    second = await create_pool(database_url, "milestones", size=4)
    yield first, second
    await first.close()
    await second.close()


def tracker_on(day: date) -> MilestoneTracker:
    return MilestoneTracker(MilestonesSettings(), TOPIC, FixedClock(datetime.combine(day, time(12), tzinfo=STOCKHOLM)))


def case_event(patient: str, start: date, end: date, *, revision: int = 1, event_count: int = 1) -> SickLeaveCaseChanged:
    return employed_case_event(f"{patient}-case", patient, start, end, revision=revision, event_count=event_count)


def employed_patients(count: int) -> list[SickLeaveCaseChanged]:
    # Patient n starts on 1 Jan + n days and stays off work until 31 Jul: a plan due on day 30,
    # day 90 and day 180 in view (31 Jul + 14 days reaches past every day-180 due date).
    return [case_event(f"patient-{n:03}", FIRST_START + timedelta(days=n), date(2026, 7, 31)) for n in range(count)]


async def consume(pool: asyncpg.Pool, tracker: MilestoneTracker, events: list[SickLeaveCaseChanged]) -> None:
    """What the case consumer does with a batch, minus the inbox and the offsets."""
    async with pool.acquire() as conn, conn.transaction():
        outbox = Outbox(source="urn:reko:milestones")
        await tracker.evaluate(conn, outbox, await repository.record_case_events(conn, events))
        await outbox.write(conn)


async def drain(tracker: MilestoneTracker, host: SchedulerHost, batch: int) -> None:
    # One round of the scheduler loop at a time, until a round finds nothing due.
    while await tracker._fire_due_timers(host, batch=batch):  # noqa: ASYNC110 - not waiting for a condition: each round does the work
        await asyncio.sleep(0)


async def published(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT value FROM outbox WHERE topic = $1 ORDER BY id", TOPIC)
    return [json.loads(row["value"])["data"] for row in rows]


def last_published(events: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, str]]:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        key = (event["caseId"], event["kind"])
        if key not in latest or event["revision"] > latest[key]["revision"]:
            latest[key] = event
    return {key: (event["status"], event["dueDate"]) for key, event in latest.items()}


def the_rules(cases: list[SickLeaveCaseChanged], day: date) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (state.case_id, state.kind.value): (state.status.value, state.due_date.isoformat())
        for case in cases
        for state in milestones_at([chain_case(case)], day, RehabkedjaRules())
    }


async def test_two_schedulers_at_once_fire_each_due_timer_once(milestones_pools):
    first_pool, second_pool = milestones_pools
    cases = employed_patients(60)
    await consume(first_pool, tracker_on(FIRST_START), cases)
    before = len(await published(first_pool))

    # 20 Apr: every plan (30 Jan..30 Mar) and every day 90 (31 Mar..29 May) up to 20 Apr fell due.
    later = date(2026, 4, 20)
    first = drain(tracker_on(later), SchedulerHost(first_pool), batch=3)
    second = drain(tracker_on(later), SchedulerHost(second_pool), batch=3)
    await asyncio.gather(first, second)

    fired = (await published(first_pool))[before:]
    # An update re-states a status and due date already published; everything else is news, once.
    announcements = Counter((event["caseId"], event["kind"], event["status"], event["dueDate"]) for event in fired if not event["update"])
    assert announcements and max(announcements.values()) == 1, [key for key, count in announcements.items() if count > 1]
    due = {(case_id, kind) for case_id, kind, status, _ in announcements if status == "DUE"}
    # patient n's day 90 is 1 Jan + n + 89 days; it is due by 20 Apr (1 Jan + 109 days) for n <= 20
    assert len(due) == 60 + 21
    assert last_published(await published(first_pool)) == the_rules(cases, later)
    assert await first_pool.fetchval("SELECT count(*) FROM timers WHERE fires_on <= $1", later) == 0


async def test_a_scheduler_started_after_an_outage_fires_what_fell_due_meanwhile_at_once(milestones_pools):
    pool, _ = milestones_pools
    cases = employed_patients(3)
    await consume(pool, tracker_on(FIRST_START), cases)
    assert {status for status, _ in last_published(await published(pool)).values()} == {"SCHEDULED"}

    # Down from 1 Jan to 1 Jul: plans, days 90 and days 180 (29 Jun..1 Jul) all fell due meanwhile.
    back = date(2026, 7, 1)
    await drain(tracker_on(back), SchedulerHost(pool), batch=100)

    assert last_published(await published(pool)) == the_rules(cases, back)
    assert {status for status, _ in the_rules(cases, back).values()} == {"DUE"}
    # Straight from SCHEDULED to DUE, once each; then nothing is left to fire
    assert Counter(event["status"] for event in await published(pool)) == {"SCHEDULED": 9, "DUE": 9}
    assert await pool.fetchval("SELECT count(*) FROM timers") == 0
    await drain(tracker_on(back), SchedulerHost(pool), batch=100)
    assert len(await published(pool)) == 18


async def test_the_scheduler_passes_over_a_patient_the_consumer_is_applying_events_for(milestones_pools):
    pool, _ = milestones_pools
    busy, idle = employed_patients(2)
    await consume(pool, tracker_on(FIRST_START), [busy, idle])
    later = date(2026, 2, 15)  # both plans fell due (30 and 31 Jan)
    renewal = case_event(busy.patient_pseudonym, busy.start, date(2026, 9, 30), revision=2)

    async with pool.acquire() as consumer, consumer.transaction():
        patients = await repository.record_case_events(consumer, [renewal])  # holds the busy patient's row
        # Waiting for that row would deadlock against the consumer's timer write below.
        await asyncio.wait_for(drain(tracker_on(later), SchedulerHost(pool), batch=100), timeout=10)
        outbox = Outbox(source="urn:reko:milestones")
        await tracker_on(later).evaluate(consumer, outbox, patients)
        await outbox.write(consumer)

    events = await published(pool)
    plan_due = Counter(event["caseId"] for event in events if event["kind"] == "RETURN_TO_WORK_PLAN" and event["status"] == "DUE")
    assert plan_due == {busy.case_id: 1, idle.case_id: 1}
    assert last_published(events) == the_rules([renewal, idle], later)


async def test_a_full_batch_of_patients_in_the_middle_of_a_revision_does_not_keep_the_scheduler_spinning(milestones_pools):
    pool, _ = milestones_pools
    cases = employed_patients(3)
    await consume(pool, tracker_on(FIRST_START), cases)
    # Each patient's next revision has two events and only the first has arrived.
    halves = [case_event(case.patient_pseudonym, case.start, date(2026, 9, 30), revision=2, event_count=2) for case in cases]
    await consume(pool, tracker_on(FIRST_START), halves)

    tracker = tracker_on(date(2026, 2, 15))
    assert await tracker._fire_due_timers(SchedulerHost(pool), batch=3) is False
    assert Counter(event["status"] for event in await published(pool)) == {"SCHEDULED": 9}


async def test_a_renewal_after_the_plan_fell_due_republishes_it_as_an_update_naming_the_new_certificate(milestones_pools):
    pool, _ = milestones_pools
    (case,) = employed_patients(1)
    await consume(pool, tracker_on(FIRST_START), [case])
    later = date(2026, 2, 15)  # the plan fell due on 30 Jan
    await drain(tracker_on(later), SchedulerHost(pool), batch=100)
    renewed = case.model_copy(update={"patient_revision": 2, "certificate_ids": (case.case_id, "renewal")})
    await consume(pool, tracker_on(later), [renewed])
    await consume(pool, tracker_on(later), [renewed.model_copy(update={"patient_revision": 3})])  # nothing new

    plans = [event for event in await published(pool) if event["kind"] == "RETURN_TO_WORK_PLAN"]
    assert [(event["status"], event["certificateIds"], event["revision"], event["update"]) for event in plans] == [
        ("SCHEDULED", [case.case_id], 1, False),
        ("DUE", [case.case_id], 2, False),
        ("DUE", [case.case_id, "renewal"], 3, True),
    ]

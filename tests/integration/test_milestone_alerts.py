"""Notifications' milestone alerts against the real PostgreSQL: one per (case, kind, due date), announced once."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.notifications import repository
from services.notifications.app import MIGRATIONS
from services.notifications.handlers import Alerter
from shared.clock import STOCKHOLM, FixedClock
from shared.consumer import ApplyContext, Incoming
from shared.contracts.alerts import AlertState
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.outbox import Outbox

pytestmark = pytest.mark.integration

ALERTS = "rehab.alerts.v1"
CLOCK = FixedClock(datetime.combine(date(2026, 3, 15), time(12), tzinfo=STOCKHOLM))


@pytest.fixture
async def notifications_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, "notifications", size=3)
    await migrate(pool, "notifications", PLATFORM_MIGRATIONS, MIGRATIONS)
    yield pool
    await pool.close()


def milestone(revision: int, status: MilestoneStatus, due_date: date, *, update: bool = False, unit: str = "SE2321000000-1001") -> MilestoneChanged:
    return MilestoneChanged(
        milestone_id="c1:CHAIN_DAY_90",
        case_id="c1",
        patient_pseudonym="pseudonym-1",
        certificate_ids=("c1",) if revision < 3 else ("c1", "c2"),
        care_unit_hsa_id=unit,
        kind=MilestoneKind.CHAIN_DAY_90,
        due_date=due_date,
        status=status,
        chain_day=90,
        title="Dag 90",
        revision=revision,
        update=update,
    )


async def apply(pool: asyncpg.Pool, events: list[MilestoneChanged]) -> None:
    """The milestone consumer's apply step in one transaction, as the batch consumer runs it."""
    async with pool.acquire() as conn, conn.transaction():
        outbox = Outbox(source="urn:reko:notifications")
        context = ApplyContext(conn, outbox, CLOCK, "rehab.milestones.v1.dlq")
        await Alerter(ALERTS).apply_milestones(context, [Incoming(f"e-{event.revision}", event, None) for event in events])  # type: ignore[arg-type]  # why: a stand-in record is enough for the alerter
        await outbox.write(conn)


async def sent(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT value FROM outbox WHERE topic = $1 ORDER BY id", ALERTS)
    return [json.loads(row["value"])["data"] for row in rows]


async def test_a_moved_due_date_and_later_updates_announce_each_alert_once_whatever_the_batches(notifications_pool):
    first, moved = date(2026, 4, 28), date(2026, 4, 18)
    events = [
        milestone(1, MilestoneStatus.SCHEDULED, first),
        milestone(2, MilestoneStatus.SCHEDULED, moved),
        milestone(3, MilestoneStatus.SCHEDULED, moved, update=True),  # a renewal: only the certificates
        milestone(4, MilestoneStatus.DUE, moved),
        milestone(5, MilestoneStatus.DUE, moved, update=True, unit="SE2321000000-1002"),
    ]
    await apply(notifications_pool, events[:2])
    await apply(notifications_pool, events[2:])
    await apply(notifications_pool, events[3:])  # delivered again: changes nothing

    published = await sent(notifications_pool)
    assert [(alert["alertId"], alert["state"], alert["milestoneStatus"], alert["announce"]) for alert in published] == [
        ("c1:CHAIN_DAY_90:2026-04-28", "OPEN", "SCHEDULED", True),
        ("c1:CHAIN_DAY_90:2026-04-28", "WITHDRAWN", "SCHEDULED", False),
        ("c1:CHAIN_DAY_90:2026-04-18", "OPEN", "SCHEDULED", True),
        # revision 3 changed nothing an alert says: stored, not sent
        ("c1:CHAIN_DAY_90:2026-04-18", "OPEN", "DUE", False),
        ("c1:CHAIN_DAY_90:2026-04-18", "OPEN", "DUE", False),
    ]
    assert published[-1]["careUnitHsaId"] == "SE2321000000-1002"
    async with notifications_pool.acquire() as conn:
        held = await repository.alerts_of_milestones(conn, {("c1", "CHAIN_DAY_90")})
    assert {alert_id: (alert.state, alert.revision) for alert_id, alert in held[("c1", "CHAIN_DAY_90")].items()} == {
        "c1:CHAIN_DAY_90:2026-04-28": (AlertState.WITHDRAWN, 2),
        "c1:CHAIN_DAY_90:2026-04-18": (AlertState.OPEN, 5),
    }


async def test_alerts_kept_per_case_and_kind_before_take_their_due_date_into_their_id(database_url, tmp_path: Path):
    first_only = tmp_path / "migrations"
    first_only.mkdir()
    shutil.copy(MIGRATIONS / "001_alerts.sql", first_only / "001_alerts.sql")
    pool = await create_pool(database_url, "notifications", size=2)
    try:
        await migrate(pool, "notifications", PLATFORM_MIGRATIONS, first_only)
        old = milestone(2, MilestoneStatus.DUE, date(2026, 3, 31))
        body = {
            "alert_id": "c1:CHAIN_DAY_90",
            "care_unit_hsa_id": old.care_unit_hsa_id,
            "addressed_to": f"rehabkoordinatorer:{old.care_unit_hsa_id}",
            "case_id": "c1",
            "kind": "CHAIN_DAY_90",
            "milestone_status": "DUE",
            "due_date": "2026-03-31",
            "title": "Dag 90",
            "created": datetime(2026, 3, 1, tzinfo=UTC).isoformat(),
            "state": "OPEN",
            "revision": 2,
        }
        risk = body | {"alert_id": "risk:c1", "kind": "RISK_FLAG", "due_date": None, "milestone_status": None, "revision": 1}
        await pool.executemany(
            "INSERT INTO alerts (alert_id, care_unit_hsa_id, state, milestone_revision, body) VALUES ($1, $2, 'OPEN', $3, $4)",
            [(row["alert_id"], row["care_unit_hsa_id"], row["revision"], row) for row in (body, risk)],
        )
        await migrate(pool, "notifications", PLATFORM_MIGRATIONS, MIGRATIONS)

        async with pool.acquire() as conn:
            held = await repository.alerts_of_milestones(conn, {("c1", "CHAIN_DAY_90")})
            assert set(await repository.alerts_by_id(conn, {"risk:c1"})) == {"risk:c1"}
        (alert,) = held[("c1", "CHAIN_DAY_90")].values()
        assert (alert.alert_id, alert.state, alert.announce) == ("c1:CHAIN_DAY_90:2026-03-31", AlertState.OPEN, False)
        # the next event of that milestone updates the alert; it was announced before the migration
        await apply(pool, [milestone(3, MilestoneStatus.DUE, date(2026, 3, 31), update=True)])
        assert await sent(pool) == []
        async with pool.acquire() as conn:
            held = await repository.alerts_of_milestones(conn, {("c1", "CHAIN_DAY_90")})
        assert held[("c1", "CHAIN_DAY_90")]["c1:CHAIN_DAY_90:2026-03-31"].revision == 3
    finally:
        await pool.close()

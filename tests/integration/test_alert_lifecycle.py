"""Each coordinator's life cycle of an alert, and what case changes do to alerts, against the real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.notifications import attention_api, attention_store
from services.notifications.api import router as alerts_router
from services.notifications.app import MIGRATIONS
from services.notifications.case_consumer import CaseFactKeeper
from services.notifications.handlers import Alerter
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthSettings, issue_token
from shared.clock import STOCKHOLM, Clock, FixedClock
from shared.consumer import ApplyContext, Incoming
from shared.contracts.cases import CaseStatus, SickLeaveCaseChanged
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus
from shared.contracts.risk_flags import RiskFlagChanged, RiskFlagReason, RiskLevel
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.http_errors import install_error_answers
from shared.outbox import Outbox
from tests.support import employed_case_event

pytestmark = pytest.mark.integration

SECRET = "lifecycle-test-secret-not-for-production-0123456789"
ALERTS = "rehab.alerts.v1"
UNIT_A, UNIT_B = "SE2321000000-1001", "SE2321000000-1002"
ANNA, BERIT, CARL = "SE2321000000-3001", "SE2321000000-3002", "SE2321000000-3003"
TODAY = date(2026, 3, 15)
CLOCK = FixedClock(datetime.combine(TODAY, time(12), tzinfo=STOCKHOLM))
ALERT_ID = "c1:CHAIN_DAY_90:2026-03-31"


@dataclass
class RuntimeStandIn:
    pool: asyncpg.Pool
    clock: Clock


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, "notifications", size=3)
    await migrate(pool, "notifications", PLATFORM_MIGRATIONS, MIGRATIONS)
    yield pool
    await pool.close()


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_answers(app)
    runtime, settings = RuntimeStandIn(pool, CLOCK), NotificationsSettings(auth=AuthSettings(jwt_secret=SECRET))
    app.include_router(alerts_router(runtime, settings))  # type: ignore[arg-type]  # why: the routers use only the pool and the clock
    app.include_router(attention_api.router(runtime, settings))  # type: ignore[arg-type]  # why: as above
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifications") as http:
        yield http


def coordinator(sub: str, *units: str, role: str = "REHABKOORDINATOR") -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(SECRET, sub, [role], units, timedelta(hours=8))}"}


def milestone(revision: int, status: MilestoneStatus = MilestoneStatus.DUE, *, update: bool = False, unit: str = UNIT_A) -> MilestoneChanged:
    return MilestoneChanged(
        milestone_id="c1:CHAIN_DAY_90",
        case_id="c1",
        patient_pseudonym="patient-1",
        certificate_ids=("c1",),
        care_unit_hsa_id=unit,
        kind=MilestoneKind.CHAIN_DAY_90,
        due_date=date(2026, 3, 31),
        status=status,
        chain_day=90,
        title="Dag 90",
        revision=revision,
        update=update,
    )


def risk_flag(revision: int, level: RiskLevel) -> RiskFlagChanged:
    return RiskFlagChanged(
        case_id="c1",
        patient_pseudonym="patient-1",
        certificate_ids=("c1",),
        care_unit_hsa_id=UNIT_A,
        care_provider_hsa_id="SE2321000000-1000",
        level=level,
        score=5 if level is not RiskLevel.NONE else 0,
        flagged=level is not RiskLevel.NONE,
        reason_codes=("DX_PSYCH",) if level is not RiskLevel.NONE else (),
        reasons=(RiskFlagReason(code="DX_PSYCH", weight=5, evidence="F32"),) if level is not RiskLevel.NONE else (),
        revision=revision,
    )


def case(revision: int, **changes: Any) -> SickLeaveCaseChanged:
    return employed_case_event("c1", "patient-1", date(2026, 1, 1), date(2026, 4, 30), revision=revision).model_copy(update=changes)


async def apply(
    pool: asyncpg.Pool,
    *,
    milestones: Sequence[MilestoneChanged] = (),
    flags: Sequence[RiskFlagChanged] = (),
    cases: Sequence[SickLeaveCaseChanged] = (),
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        outbox = Outbox(source="urn:reko:notifications")
        context = ApplyContext(conn, outbox, CLOCK, "unused.dlq")
        if cases:
            await CaseFactKeeper(ALERTS).apply(context, [Incoming(f"c-{e.patient_revision}", e, None) for e in cases])  # type: ignore[arg-type]  # why: a stand-in record is enough
        if milestones:
            await Alerter(ALERTS).apply_milestones(context, [Incoming(f"m-{e.revision}", e, None) for e in milestones])  # type: ignore[arg-type]  # why: as above
        if flags:
            await Alerter(ALERTS).apply_risk_flags(context, [Incoming(f"r-{e.revision}", e, None) for e in flags])  # type: ignore[arg-type]  # why: as above
        await outbox.write(conn)


async def sent(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT value FROM outbox WHERE topic = $1 ORDER BY id", ALERTS)
    return [json.loads(row["value"])["data"] for row in rows]


async def attention_of(client: httpx.AsyncClient, headers: dict[str, str], unit: str = UNIT_A) -> dict[str, Any]:
    (alert,) = [a for a in (await client.get(f"/units/{unit}/alerts", headers=headers)).json() if a["alertId"] == ALERT_ID]
    return alert["attention"]


async def test_each_coordinator_moves_an_alert_from_new_to_seen_to_handled_and_a_reminder_brings_it_back(client, pool):
    await apply(pool, milestones=[milestone(1)])
    anna, berit = coordinator(ANNA, UNIT_A), coordinator(BERIT, UNIT_A)
    assert (await attention_of(client, anna))["status"] == "NEW"

    seen = await client.post(f"/alerts/{ALERT_ID}/seen", headers=anna)
    assert seen.status_code == 200, seen.text
    assert (seen.json()["attention"]["status"], seen.json()["alertId"], seen.json()["state"]) == ("SEEN", ALERT_ID, "OPEN")
    handled = await client.post(f"/alerts/{ALERT_ID}/handled", headers=anna, json={"remindOn": "2026-04-01"})
    state = handled.json()["attention"]
    assert (state["status"], state["needsAttention"], state["reminderDue"], state["remindOn"]) == ("HANDLED", False, False, "2026-04-01")
    assert datetime.fromisoformat(state["seenAt"]) == datetime.fromisoformat(seen.json()["attention"]["seenAt"]) == CLOCK.now()
    assert datetime.fromisoformat(state["handledAt"]) == CLOCK.now()
    assert (await attention_of(client, anna))["status"] == "HANDLED"
    assert (await attention_of(client, berit))["status"] == "NEW", "her colleague's state is her own"

    history = await pool.fetch("SELECT coordinator_hsa_id, status, remind_on, at FROM alert_attention_history ORDER BY id")
    assert [(row["coordinator_hsa_id"], row["status"], row["remind_on"]) for row in history] == [
        (ANNA, "SEEN", None),
        (ANNA, "HANDLED", date(2026, 4, 1)),
    ]
    assert all(row["at"] == CLOCK.now() for row in history)
    logged = await pool.fetch("SELECT request_path, patient_pseudonyms FROM access_log WHERE request_path LIKE '/alerts/%' ORDER BY id")
    assert [(row["request_path"], row["patient_pseudonyms"]) for row in logged] == [
        (f"/alerts/{ALERT_ID}/seen", ["patient-1"]),
        (f"/alerts/{ALERT_ID}/handled", ["patient-1"]),
    ]

    async with pool.acquire() as conn:
        (on_reminder,) = await attention_store.worklist(conn, [UNIT_A], ANNA, date(2026, 4, 1))
        (before_reminder,) = await attention_store.worklist(conn, [UNIT_A], ANNA, date(2026, 3, 31))
    assert on_reminder.needs_attention and on_reminder.alerts[0].attention.reminder_due
    assert not before_reminder.needs_attention


async def test_an_update_that_keeps_status_and_due_date_is_never_announced_again_and_keeps_her_state(client, pool):
    await apply(pool, milestones=[milestone(1)])
    await client.post(f"/alerts/{ALERT_ID}/seen", headers=coordinator(ANNA, UNIT_A))
    await apply(pool, milestones=[milestone(2, update=True)])
    assert [alert["announce"] for alert in await sent(pool)] == [True]
    assert (await attention_of(client, coordinator(ANNA, UNIT_A)))["status"] == "SEEN"


async def test_only_a_coordinator_of_the_alerts_unit_sets_her_state_and_bad_requests_change_nothing(client, pool):
    await apply(pool, milestones=[milestone(1)])
    assert (await client.post(f"/alerts/{ALERT_ID}/seen", headers=coordinator(CARL, UNIT_B))).status_code == 404
    assert (await client.post("/alerts/no-such-alert/seen", headers=coordinator(ANNA, UNIT_A))).status_code == 404
    assert (await client.post(f"/alerts/{ALERT_ID}/seen", headers=coordinator(ANNA, UNIT_A, role="LAKARE"))).status_code == 403
    assert (await client.post(f"/alerts/{ALERT_ID}/seen")).status_code == 401
    past = await client.post(f"/alerts/{ALERT_ID}/handled", headers=coordinator(ANNA, UNIT_A), json={"remindOn": "2026-03-15"})
    assert (past.status_code, past.json()["detail"][0]["field"]) == (422, "body.remindOn")
    unknown = await client.post(f"/alerts/{ALERT_ID}/handled", headers=coordinator(ANNA, UNIT_A), json={"remind": "19800124-9286"})
    assert unknown.status_code == 422 and "9286" not in unknown.text
    assert await pool.fetchval("SELECT count(*) FROM alert_attention") == 0
    assert await pool.fetchval("SELECT count(*) FROM access_log") == 0


async def test_an_alert_follows_its_case_to_the_new_responsible_unit(client, pool):
    await apply(pool, cases=[case(1)], milestones=[milestone(1)])
    await client.post(f"/alerts/{ALERT_ID}/seen", headers=coordinator(ANNA, UNIT_A))
    await apply(pool, cases=[case(2, care_unit_hsa_id=UNIT_B)])

    moved = (await sent(pool))[-1]
    assert (moved["alertId"], moved["careUnitHsaId"], moved["addressedTo"], moved["announce"]) == (
        ALERT_ID,
        UNIT_B,
        f"rehabkoordinatorer:{UNIT_B}",
        False,
    )
    assert (await client.get(f"/units/{UNIT_A}/alerts", headers=coordinator(ANNA, UNIT_A))).json() == []
    assert (await attention_of(client, coordinator(CARL, UNIT_B), UNIT_B))["status"] == "NEW"
    assert (await client.post(f"/alerts/{ALERT_ID}/seen", headers=coordinator(ANNA, UNIT_A))).status_code == 404
    async with pool.acquire() as conn:
        (work,) = await attention_store.worklist(conn, [UNIT_B], CARL, TODAY)
    assert (work.patient_pseudonym, [c.care_unit_hsa_id for c in work.cases], [a.alert.alert_id for a in work.alerts]) == (
        "patient-1",
        [UNIT_B],
        [ALERT_ID],
    )


async def test_a_case_that_no_longer_exists_withdraws_its_alerts_at_once_and_its_cancelled_milestone_keeps_them_withdrawn(client, pool):
    await apply(pool, cases=[case(1)], milestones=[milestone(1)], flags=[risk_flag(1, RiskLevel.HIGH)])
    await apply(pool, cases=[case(2, status=CaseStatus.REMOVED, replaced_by_case_ids=("c2",))])
    assert {(alert["alertId"], alert["state"]) for alert in (await sent(pool))[-2:]} == {(ALERT_ID, "WITHDRAWN"), ("risk:c1", "WITHDRAWN")}

    # What milestones and intake then say of the gone case decides (docs/alert-lifecycle.md §3).
    await apply(pool, milestones=[milestone(2, MilestoneStatus.CANCELLED)], flags=[risk_flag(2, RiskLevel.NONE)])
    assert (await attention_of(client, coordinator(ANNA, UNIT_A)))["status"] == "WITHDRAWN"
    withdrawn = await client.post(f"/alerts/{ALERT_ID}/seen", headers=coordinator(ANNA, UNIT_A))
    assert withdrawn.status_code == 409
    async with pool.acquire() as conn:
        assert await attention_store.worklist(conn, [UNIT_A], ANNA, TODAY) == []


async def test_a_removal_seen_after_the_case_came_back_is_undone_by_the_cases_return(client, pool):
    # The milestone consumer is ahead: the alert is open for the case as it now exists, while the
    # case consumer still has the removal and the return to apply, in two batches.
    await apply(pool, cases=[case(1)], milestones=[milestone(1)])
    await apply(pool, cases=[case(2, status=CaseStatus.REMOVED)])
    await apply(pool, cases=[case(3)])
    (alert,) = (await client.get(f"/units/{UNIT_A}/alerts", headers=coordinator(ANNA, UNIT_A))).json()
    assert (alert["state"], alert["withdrawnBecause"], alert["attention"]["status"]) == ("OPEN", None, "NEW")
    assert not any(event["announce"] for event in (await sent(pool))[1:])


async def test_a_flag_raised_after_its_case_moved_goes_to_the_new_unit_and_every_event_counts_up(pool):
    await apply(pool, cases=[case(1)], flags=[risk_flag(1, RiskLevel.HIGH)])
    await apply(pool, cases=[case(2, care_unit_hsa_id=UNIT_B)])
    # intake raises the level with the flag's unit as it was: the alert stays where the case is
    await apply(pool, flags=[risk_flag(2, RiskLevel.VERY_HIGH)])
    events = [(alert["careUnitHsaId"], alert["revision"], alert["sequence"]) for alert in await sent(pool)]
    assert events == [(UNIT_A, 1, 1), (UNIT_B, 1, 2), (UNIT_B, 2, 3)]


async def test_a_stale_case_event_changes_neither_the_facts_nor_the_alerts(pool):
    await apply(pool, cases=[case(3, care_unit_hsa_id=UNIT_B)], milestones=[milestone(1, unit=UNIT_B)])
    await apply(pool, cases=[case(2, care_unit_hsa_id=UNIT_A)])
    assert await pool.fetchval("SELECT care_unit_hsa_id FROM case_facts WHERE case_id = 'c1'") == UNIT_B
    assert [alert["careUnitHsaId"] for alert in await sent(pool)] == [UNIT_B]


async def test_a_risk_flag_back_after_it_was_withdrawn_is_new_again_for_everyone(client, pool):
    anna = coordinator(ANNA, UNIT_A)
    await apply(pool, flags=[risk_flag(1, RiskLevel.HIGH)])
    await client.post("/alerts/risk:c1/handled", headers=anna)
    await apply(pool, flags=[risk_flag(2, RiskLevel.NONE)])
    await apply(pool, flags=[risk_flag(3, RiskLevel.VERY_HIGH)])
    (alert,) = (await client.get(f"/units/{UNIT_A}/alerts", headers=anna)).json()
    assert (alert["state"], alert["attention"]["status"]) == ("OPEN", "NEW")

"""Notifications' alert API against the real PostgreSQL: who reads which unit's alerts, and the PDL log of each read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.notifications.api import router
from services.notifications.app import MIGRATIONS
from services.notifications.handlers import Alerter
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import STOCKHOLM, Clock, FixedClock
from shared.consumer import ApplyContext, Incoming
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus
from shared.contracts.risk_flags import RiskFlagChanged, RiskFlagReason, RiskLevel
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.http_errors import install_error_answers
from shared.outbox import Outbox

pytestmark = pytest.mark.integration

SECRET = "alerts-test-secret-not-for-production-0123456789"
UNIT_A = "SE2321000000-1001"
UNIT_B = "SE2321000000-1002"
COORDINATOR = "SE2321000000-3001"
CLOCK = FixedClock(datetime.combine(date(2026, 3, 15), time(12), tzinfo=STOCKHOLM))


@dataclass
class RuntimeStandIn:
    pool: asyncpg.Pool
    clock: Clock


@pytest.fixture
async def notifications_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, "notifications", size=3)
    await migrate(pool, "notifications", PLATFORM_MIGRATIONS, MIGRATIONS)
    yield pool
    await pool.close()


@pytest.fixture
async def client(notifications_pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_answers(app)
    app.include_router(router(RuntimeStandIn(notifications_pool, CLOCK), NotificationsSettings(auth=AuthSettings(jwt_secret=SECRET))))  # type: ignore[arg-type]  # why: the router uses only the pool and the clock
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifications") as http:
        yield http


def bearer(roles: list[str], units: list[str], sub: str = COORDINATOR) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(SECRET, sub, roles, units, timedelta(hours=8))}"}


def milestone(case_id: str, patient: str, unit: str) -> MilestoneChanged:
    return MilestoneChanged(
        milestone_id=f"{case_id}:CHAIN_DAY_90",
        case_id=case_id,
        patient_pseudonym=patient,
        certificate_ids=(case_id,),
        care_unit_hsa_id=unit,
        kind=MilestoneKind.CHAIN_DAY_90,
        due_date=date(2026, 4, 28),
        status=MilestoneStatus.DUE,
        chain_day=90,
        title="Dag 90",
        revision=1,
    )


def risk_flag(case_id: str, patient: str, unit: str) -> RiskFlagChanged:
    return RiskFlagChanged(
        case_id=case_id,
        patient_pseudonym=patient,
        certificate_ids=(case_id,),
        care_unit_hsa_id=unit,
        care_provider_hsa_id="SE2321000000-1000",
        level=RiskLevel.HIGH,
        score=5,
        flagged=True,
        reason_codes=("DX_PSYCH", "LONG_CASE"),
        reasons=(RiskFlagReason(code="DX_PSYCH", weight=3, evidence="F32"), RiskFlagReason(code="LONG_CASE", weight=2, evidence="120 days")),
        revision=1,
    )


async def alerts_for(pool: asyncpg.Pool) -> None:
    """Alerts of two patients at unit A (a milestone and a risk flag) and one at unit B, as the consumers store them."""
    async with pool.acquire() as conn, conn.transaction():
        outbox = Outbox(source="urn:reko:notifications")
        context = ApplyContext(conn, outbox, CLOCK, "unused.dlq")
        alerter = Alerter("rehab.alerts.v1")
        milestones = [milestone("c1", "patient-1", UNIT_A), milestone("c3", "patient-3", UNIT_B)]
        await alerter.apply_milestones(context, [Incoming(f"m-{m.case_id}", m, None) for m in milestones])  # type: ignore[arg-type]  # why: a stand-in record is enough for the alerter
        await alerter.apply_risk_flags(context, [Incoming("r-c2", risk_flag("c2", "patient-2", UNIT_A), None)])  # type: ignore[arg-type]  # why: as above
        await outbox.write(conn)


async def access_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM access_log ORDER BY id")


async def test_reading_a_units_alerts_is_logged_with_the_patients_they_are_about(client, notifications_pool):
    await alerts_for(notifications_pool)

    response = await client.get(f"/units/{UNIT_A}/alerts", headers=bearer([Role.REHABKOORDINATOR], [UNIT_A]))

    assert response.status_code == 200, response.text
    assert sorted(alert["caseId"] for alert in response.json()) == ["c1", "c2"]
    assert any(alert["reasonCodes"] == ["DX_PSYCH", "LONG_CASE"] for alert in response.json())
    (row,) = await access_rows(notifications_pool)
    assert (row["user_hsa_id"], row["care_unit_hsa_id"], row["resource"], row["action"]) == (COORDINATOR, UNIT_A, "ALERTS", "READ")
    assert row["patient_pseudonyms"] == ["patient-1", "patient-2"]
    assert (row["request_path"], row["shown_care_units"]) == (f"/units/{UNIT_A}/alerts", [UNIT_A])


async def test_an_empty_alert_list_of_a_unit_is_logged_too(client, notifications_pool):
    response = await client.get(f"/units/{UNIT_A}/alerts", headers=bearer([Role.REHABKOORDINATOR], [UNIT_A]))

    assert (response.status_code, response.json()) == (200, [])
    (row,) = await access_rows(notifications_pool)
    assert (row["care_unit_hsa_id"], row["patient_pseudonyms"]) == (UNIT_A, [])


async def test_the_latest_alerts_of_several_units_are_logged_one_row_per_unit_shown(client, notifications_pool):
    await alerts_for(notifications_pool)

    response = await client.get("/alerts", headers=bearer([Role.REHABKOORDINATOR], [UNIT_A, UNIT_B]))

    assert sorted(alert["caseId"] for alert in response.json()) == ["c1", "c2", "c3"]
    rows = await access_rows(notifications_pool)
    assert [(row["care_unit_hsa_id"], row["patient_pseudonyms"], row["resource"]) for row in rows] == [
        (UNIT_A, ["patient-1", "patient-2"], "ALERTS"),
        (UNIT_B, ["patient-3"], "ALERTS"),
    ]
    assert {row["request_path"] for row in rows} == {"/alerts"}


async def test_a_coordinator_of_another_unit_reads_no_alerts_and_nothing_is_logged(client, notifications_pool):
    await alerts_for(notifications_pool)

    response = await client.get(f"/units/{UNIT_A}/alerts", headers=bearer([Role.REHABKOORDINATOR], [UNIT_B]))

    assert response.status_code == 403
    assert await access_rows(notifications_pool) == []


async def test_a_doctor_reads_no_alerts(client, notifications_pool):
    await alerts_for(notifications_pool)

    assert (await client.get(f"/units/{UNIT_A}/alerts", headers=bearer([Role.LAKARE], [UNIT_A]))).status_code == 403
    assert (await client.get("/alerts", headers=bearer([Role.LAKARE], [UNIT_A]))).status_code == 403
    assert await access_rows(notifications_pool) == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/units/%00/alerts", {}),
        (f"/units/{UNIT_A}/alerts", {"state": "19800124-9286"}),
        ("/alerts", {"limit": "9" * 5_000}),
        ("/alerts", {"limit": "-1"}),
    ],
    ids=["NUL unit", "personnummer as state", "huge limit", "negative limit"],
)
async def test_bad_input_is_a_client_error_that_echoes_nothing(client, path: str, params: dict[str, Any]):
    response = await client.get(path, params=params, headers=bearer([Role.REHABKOORDINATOR], [UNIT_A, "\x00"]))

    assert 400 <= response.status_code < 500, response.text
    assert "9286" not in response.text and "99999" not in response.text

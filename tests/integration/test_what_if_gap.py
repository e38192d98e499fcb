"""The what-if's gap between certificates comes from intake's case events, not from a second setting (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.milestones import repository
from services.milestones.api import what_if_router
from services.milestones.app import MIGRATIONS
from services.milestones.handlers import MilestoneTracker
from services.milestones.settings import MilestonesSettings
from shared.auth import AuthSettings, issue_token
from shared.clock import STOCKHOLM, Clock, FixedClock
from shared.consumer import ApplyContext, Incoming
from shared.contracts.cases import SickLeaveCaseChanged
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.outbox import Outbox
from tests.support import WOMAN, employed_case_event, signed_event

pytestmark = pytest.mark.integration

TODAY = date(2026, 3, 15)
CLOCK = FixedClock(datetime.combine(TODAY, time(12), tzinfo=STOCKHOLM))
SECRET = "what-if-gap-test-secret-not-for-production-0123456789"
UNIT = "SE2321000000-1001"
COORDINATOR = {"authorization": f"Bearer {issue_token(SECRET, 'SE2321000000-3001', ['REHABKOORDINATOR'], [UNIT])}"}
# Milestones' own setting says 5; intake, as its case events will say, assembles with 29.
SETTINGS = MilestonesSettings(auth=AuthSettings(jwt_secret=SECRET), max_gap=5)


@dataclass
class RuntimeStandIn:
    pool: asyncpg.Pool
    clock: Clock


@pytest.fixture
async def milestones_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, "milestones", size=3)
    await migrate(pool, "milestones", PLATFORM_MIGRATIONS, MIGRATIONS)
    yield pool
    await pool.close()


@pytest.fixture
async def client(milestones_pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(what_if_router(RuntimeStandIn(milestones_pool, CLOCK), SETTINGS))  # type: ignore[arg-type]  # why: the stand-in has what the router uses of a runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://milestones", headers=COORDINATOR) as http:
        yield http


async def consume(pool: asyncpg.Pool, events: list[SickLeaveCaseChanged]) -> None:
    """The case consumer's apply step in one transaction, as the batch consumer runs it."""
    tracker = MilestoneTracker(SETTINGS, "rehab.milestones.v1", CLOCK)
    async with pool.acquire() as conn, conn.transaction():
        outbox = Outbox(source="urn:reko:milestones")
        context = ApplyContext(conn, outbox, CLOCK, "sickleave.cases.v1.dlq")
        await tracker.apply_case_events(context, [Incoming(f"e-{n}", event, None) for n, event in enumerate(events)])  # type: ignore[arg-type]  # why: a stand-in record is enough for the tracker
        await outbox.write(conn)


def case_assembled_with(max_gap: int | None, case_id: str = "k1", patient: str = "pseudonym-k") -> SickLeaveCaseChanged:
    event = employed_case_event(case_id, patient, date(2026, 1, 1), date(2026, 2, 28))
    return event.model_copy(update={"max_gap": max_gap})


def signed(certificate_id: str, start: str, end: str) -> dict[str, Any]:
    return signed_event(f"e-{certificate_id}", certificate_id, person_id=WOMAN, periods=[(start, end, 100)], signed_at=f"{start}T09:00:00+01:00")


# 29 uncovered days between them: two cases with a gap of 5, one with a gap of 29.
CERTIFICATES = [signed("c1", "2026-01-01", "2026-01-31"), signed("c2", "2026-03-02", "2026-04-30")]


async def test_before_any_case_event_names_a_gap_what_if_assembles_with_the_setting(client):
    body = (await client.post("/what-if", json={"certificates": CERTIFICATES})).json()
    assert body["maxGap"] == 5
    assert [case["caseId"] for case in body["cases"]] == ["c1", "c2"]


async def test_what_if_assembles_certificates_with_the_gap_the_last_case_event_named(client, milestones_pool):
    await consume(milestones_pool, [case_assembled_with(29)])

    body = (await client.post("/what-if", json={"certificates": CERTIFICATES})).json()
    assert body["maxGap"] == 29
    assert [(case["caseId"], case["certificateIds"]) for case in body["cases"]] == [("c1", ["c1", "c2"])]


async def test_a_case_event_that_names_no_gap_leaves_the_last_one_named(client, milestones_pool):
    await consume(milestones_pool, [case_assembled_with(29)])
    await consume(milestones_pool, [case_assembled_with(None, "k2", "pseudonym-l")])
    await consume(milestones_pool, [case_assembled_with(7, "k3", "pseudonym-m"), case_assembled_with(None, "k4", "pseudonym-n")])

    async with milestones_pool.acquire() as conn:
        assert await repository.last_case_gap(conn) == 7
    assert (await client.post("/what-if", json={"certificates": CERTIFICATES})).json()["maxGap"] == 7


async def test_a_known_case_names_the_gap_its_own_last_event_carried(client, milestones_pool):
    await consume(milestones_pool, [case_assembled_with(12, "k1", "pseudonym-k")])
    await consume(milestones_pool, [case_assembled_with(29, "k2", "pseudonym-l")])

    response = await client.get("/cases/k1/milestones")
    assert response.status_code == 200, response.text
    assert response.json()["maxGap"] == 12

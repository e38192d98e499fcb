"""Managing coordinators against the real PostgreSQL: who may change who coordinates a unit, stand-ins, the start-up file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.notifications import coordinator_store
from services.notifications.app import MIGRATIONS, create_app
from services.notifications.coordinators import CoordinatorFileError
from services.notifications.coordinators_api import router
from services.notifications.coordinators_file import read_coordinators_file
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthSettings, issue_token
from shared.clock import STOCKHOLM, Clock, FixedClock
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.http_errors import install_error_answers

pytestmark = pytest.mark.integration

SECRET = "coordinators-test-secret-not-for-production-0123456789"
UNIT_A, UNIT_B = "SE2321000000-1001", "SE2321000000-1002"
ANNA, BERIT, CARL = "SE2321000000-3001", "SE2321000000-3002", "SE2321000000-3003"
CHEF_A, CHEF_B = "SE2321000000-4001", "SE2321000000-4002"
DOCTOR = "SE2321000000-2001"
CLOCK = FixedClock(datetime.combine(date(2026, 7, 15), time(12), tzinfo=STOCKHOLM))


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
    app.include_router(router(RuntimeStandIn(pool, CLOCK), NotificationsSettings(auth=AuthSettings(jwt_secret=SECRET))))  # type: ignore[arg-type]  # why: the router uses only the pool and the clock
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifications") as http:
        yield http


def as_(sub: str, role: str, *units: str) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(SECRET, sub, [role], units, timedelta(hours=8))}"}


CHEF_OF_A = as_(CHEF_A, "VERKSAMHETSCHEF", UNIT_A)
CHEF_OF_B = as_(CHEF_B, "VERKSAMHETSCHEF", UNIT_B)
ANNA_AT_A = as_(ANNA, "REHABKOORDINATOR", UNIT_A)


async def test_the_verksamhetschef_names_the_units_coordinators_and_the_units_people_see_them(client):
    for person in (ANNA, BERIT):
        answer = await client.put(f"/units/{UNIT_A}/coordinators/{person}", headers=CHEF_OF_A)
        assert answer.status_code == 200, answer.text
    again = await client.put(f"/units/{UNIT_A}/coordinators/{ANNA}", headers=CHEF_OF_A, json={"name": "Anna Andersson"})
    assert again.json() == {"hsaId": ANNA, "name": "Anna Andersson", "careUnits": [UNIT_A], "standIns": []}

    listed = await client.get(f"/units/{UNIT_A}/coordinators", headers=as_(DOCTOR, "LAKARE", UNIT_A))
    assert listed.status_code == 200
    assert [(c["hsaId"], c["absent"]) for c in listed.json()["coordinators"]] == [(ANNA, False), (BERIT, False)]
    assert listed.json()["on"] == "2026-07-15"

    # Nobody else decides who coordinates unit A.
    assert (await client.put(f"/units/{UNIT_A}/coordinators/{CARL}", headers=ANNA_AT_A)).status_code == 403
    assert (await client.put(f"/units/{UNIT_A}/coordinators/{CARL}", headers=CHEF_OF_B)).status_code == 403
    assert (await client.get(f"/units/{UNIT_A}/coordinators", headers=CHEF_OF_B)).status_code == 403
    assert (await client.get(f"/units/{UNIT_A}/coordinators")).status_code == 401


async def test_a_coordinator_sets_her_own_stand_in_and_the_stand_in_receives_her_unit_during_the_absence(client):
    await client.put(f"/units/{UNIT_A}/coordinators/{ANNA}", headers=CHEF_OF_A)
    record = {"careUnits": [UNIT_A], "standIns": [{"standInHsaId": CARL, "from": "2026-07-01", "to": "2026-07-31"}]}
    answer = await client.put(f"/coordinators/{ANNA}", headers=ANNA_AT_A, json=record)
    assert answer.status_code == 200, answer.text
    assert answer.json()["standIns"] == [{"standInHsaId": CARL, "from": "2026-07-01", "to": "2026-07-31"}]
    assert (await client.put(f"/coordinators/{ANNA}", headers=ANNA_AT_A, json=record)).status_code == 200  # idempotent

    during = (await client.get(f"/units/{UNIT_A}/coordinators?on=2026-07-15", headers=ANNA_AT_A)).json()["coordinators"]
    assert [(c["hsaId"], c["absent"], c["onBehalfOf"]) for c in during] == [(ANNA, True, None), (CARL, False, ANNA)]
    after = (await client.get(f"/units/{UNIT_A}/coordinators?on=2026-08-01", headers=ANNA_AT_A)).json()["coordinators"]
    assert [c["hsaId"] for c in after] == [ANNA]

    # She cannot give herself another unit, and a colleague cannot set her absence.
    assert (await client.put(f"/coordinators/{ANNA}", headers=ANNA_AT_A, json={**record, "careUnits": [UNIT_A, UNIT_B]})).status_code == 403
    berit = as_(BERIT, "REHABKOORDINATOR", UNIT_A)
    assert (await client.put(f"/coordinators/{ANNA}", headers=berit, json={"careUnits": [UNIT_A]})).status_code == 403


async def test_a_bad_record_is_refused_by_field_without_echoing_it_and_changes_nothing(client):
    await client.put(f"/units/{UNIT_A}/coordinators/{ANNA}", headers=CHEF_OF_A)
    backwards = {"careUnits": [UNIT_A], "standIns": [{"standInHsaId": "19800124-9286", "from": "2026-07-31", "to": "2026-07-01"}]}
    answer = await client.put(f"/coordinators/{ANNA}", headers=ANNA_AT_A, json=backwards)
    assert answer.status_code == 422
    assert "9286" not in answer.text and all({"field", "problem"} == set(item) for item in answer.json()["detail"])
    unknown = await client.put(f"/coordinators/{ANNA}", headers=ANNA_AT_A, json={"careUnits": [UNIT_A], "units": []})
    assert unknown.status_code == 422
    assert (await client.get(f"/units/{UNIT_A}/coordinators?on=1800-01-01", headers=ANNA_AT_A)).status_code == 422
    assert (await client.get(f"/coordinators/{ANNA}", headers=ANNA_AT_A)).json()["standIns"] == []


async def test_removing_a_coordinator_from_a_unit_keeps_her_other_units_and_only_her_chefs_may(client):
    await client.put(f"/units/{UNIT_A}/coordinators/{ANNA}", headers=CHEF_OF_A)
    await client.put(f"/units/{UNIT_B}/coordinators/{ANNA}", headers=CHEF_OF_B)
    assert (await client.delete(f"/units/{UNIT_A}/coordinators/{ANNA}", headers=CHEF_OF_B)).status_code == 403
    assert (await client.delete(f"/units/{UNIT_A}/coordinators/{ANNA}", headers=CHEF_OF_A)).status_code == 204
    assert (await client.delete(f"/units/{UNIT_A}/coordinators/{ANNA}", headers=CHEF_OF_A)).status_code == 404
    assert (await client.get(f"/coordinators/{ANNA}", headers=CHEF_OF_B)).json()["careUnits"] == [UNIT_B]
    # Seen only by the people of her units: to the chef of A she is now unknown.
    assert (await client.get(f"/coordinators/{ANNA}", headers=CHEF_OF_A)).status_code == 404
    assert (await client.delete(f"/coordinators/{ANNA}", headers=CHEF_OF_B)).status_code == 204
    assert (await client.get(f"/coordinators/{ANNA}", headers=CHEF_OF_B)).status_code == 404


async def test_the_start_up_file_loads_idempotently_and_leaves_what_the_api_set(pool, client, tmp_path: Path):
    listed = tmp_path / "coordinators.json"
    listed.write_text(
        json.dumps(
            [
                {"hsaId": ANNA, "name": "Anna", "careUnits": [UNIT_A, UNIT_B]},
                {"hsaId": BERIT, "careUnits": [UNIT_A], "standIns": [{"standInHsaId": CARL, "from": "2026-07-01", "to": "2026-07-31"}]},
            ]
        )
    )
    async with pool.acquire() as conn:
        await coordinator_store.load_file(conn, read_coordinators_file(listed), file_name=listed.name)
        first = await conn.fetch("SELECT * FROM coordinator_units ORDER BY 1, 2")
        await coordinator_store.load_file(conn, read_coordinators_file(listed), file_name=listed.name)
        assert await conn.fetch("SELECT * FROM coordinator_units ORDER BY 1, 2") == first
    assert (await client.put(f"/units/{UNIT_B}/coordinators/{CARL}", headers=CHEF_OF_B)).status_code == 200

    listed.write_text(json.dumps([{"hsaId": ANNA, "careUnits": [UNIT_A]}]))
    async with pool.acquire() as conn:
        await coordinator_store.load_file(conn, read_coordinators_file(listed), file_name=listed.name)
        units = {(row["coordinator_hsa_id"], row["care_unit_hsa_id"]) for row in await conn.fetch("SELECT * FROM coordinator_units")}
        assert await conn.fetchval("SELECT count(*) FROM coordinator_stand_ins") == 0
        anna = await coordinator_store.coordinator(conn, ANNA)
    assert units == {(ANNA, UNIT_A), (CARL, UNIT_B)}, "gone from the file, gone; set by the API, kept"
    assert anna is not None and anna.name == "Anna"


def test_a_coordinators_file_that_cannot_be_read_stops_the_service_before_it_starts(tmp_path: Path):
    broken = tmp_path / "coordinators.csv"
    broken.write_text("who,where\nk,u\n")
    with pytest.raises(CoordinatorFileError, match="first line names the columns"):
        create_app(NotificationsSettings(coordinators_file=broken))
    with pytest.raises(CoordinatorFileError, match="cannot be read"):
        create_app(NotificationsSettings(coordinators_file=tmp_path / "missing.json"))

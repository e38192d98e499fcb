"""The coordinator's records of a case (docs/casework.md) through notifications' HTTP API, with the
service running on a real PostgreSQL and broker: who reads and who sets, the history, the access log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from reko.stack import create_database
from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import STOCKHOLM
from shared.settings import Topics

pytestmark = pytest.mark.integration

SECRET = "casework-test-secret-not-for-production-0123456789"
UNIT_A = "SE2321000000-1001"
UNIT_B = "SE2321000000-1002"
COORDINATOR = "SE2321000000-3001"
OTHER_COORDINATOR = "SE2321000000-3002"
DOCTOR = "SE2321000000-4001"
TODAY = date(2026, 3, 15)
NOW = datetime.combine(TODAY, time(12), tzinfo=STOCKHOLM)


@dataclass
class Service:
    http: httpx.AsyncClient
    pool: asyncpg.Pool
    topics: Topics
    bootstrap_servers: str


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, postgres_server_url: str) -> AsyncIterator[Service]:
    """One notifications service for the module, as `python -m services.notifications` runs it."""
    name = f"t{uuid.uuid4().hex[:12]}"
    database_url = await create_database(postgres_server_url, name)
    topics = Topics(prefix=f"{name}.")
    settings = NotificationsSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        topics=topics,
        consumer_group_prefix=f"{name}.",
        clock=f"fixed:{NOW.isoformat()}",
        auth=AuthSettings(jwt_secret=SECRET),  # type: ignore[arg-type]  # why: pydantic coerces the plain secret
        log_format="json",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifications") as http:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, server_settings={"search_path": "notifications"})
        assert pool is not None
        yield Service(http, pool, topics, kafka_bootstrap)
        await pool.close()


def bearer(roles: list[str], units: list[str], sub: str = COORDINATOR) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(SECRET, sub, roles, units, timedelta(minutes=5))}"}


COORDINATOR_A = bearer([Role.REHABKOORDINATOR], [UNIT_A])
COORDINATOR_B = bearer([Role.REHABKOORDINATOR], [UNIT_B], sub=OTHER_COORDINATOR)
DOCTOR_A = bearer([Role.LAKARE], [UNIT_A], sub=DOCTOR)


def new_case() -> str:
    return f"case-{uuid.uuid4().hex[:8]}"


def new_patient() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


async def access_rows(service: Service, case_id: str) -> list[asyncpg.Record]:
    return await service.pool.fetch("SELECT * FROM access_log WHERE request_path LIKE '%' || $1 || '%' ORDER BY id", case_id)


def reko_path(case_id: str, unit: str = UNIT_A) -> str:
    return f"/units/{unit}/cases/{case_id}/reko-status"


async def put(service: Service, path: str, body: dict[str, Any], headers: dict[str, str] = COORDINATOR_A) -> httpx.Response:
    return await service.http.put(path, json=body, headers=headers)


# --- REKO status ----------------------------------------------------------------------------------


async def test_a_case_without_a_recorded_status_is_a_dash_and_the_read_is_logged(service):
    case_id = new_case()

    response = await service.http.get(reko_path(case_id), headers=COORDINATOR_A)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "caseId": case_id,
        "careUnitHsaId": UNIT_A,
        "status": "-",
        "code": "REKO_1",
        "changedBy": None,
        "changedAt": None,
        "history": [],
    }
    (row,) = await access_rows(service, case_id)
    assert (row["user_hsa_id"], row["care_unit_hsa_id"], row["resource"], row["action"]) == (COORDINATOR, UNIT_A, "REKO_STATUS", "READ")


async def test_every_change_of_status_is_kept_with_who_and_when_and_a_repeat_records_nothing(service):
    case_id, patient = new_case(), new_patient()

    first = await put(service, reko_path(case_id), {"status": "Kontaktad", "patientPseudonym": patient})
    await put(service, reko_path(case_id), {"status": "Kontaktad"})
    await put(service, reko_path(case_id), {"status": "REKO_3"}, bearer([Role.REHABKOORDINATOR], [UNIT_A], sub=OTHER_COORDINATOR))
    answer = (await service.http.get(reko_path(case_id), headers=DOCTOR_A)).json()

    assert first.status_code == 200, first.text
    assert (answer["status"], answer["code"], answer["changedBy"]) == ("Aktiv", "REKO_3", OTHER_COORDINATOR)
    assert [(entry["status"], entry["changedBy"]) for entry in answer["history"]] == [("Kontaktad", COORDINATOR), ("Aktiv", OTHER_COORDINATOR)]
    assert {datetime.fromisoformat(entry["changedAt"]) for entry in answer["history"]} == {NOW}
    rows = await access_rows(service, case_id)
    assert [(row["action"], row["patient_pseudonyms"]) for row in rows] == [("WRITE", [patient])] * 3 + [("READ", [patient])]


async def test_the_status_is_kept_per_unit(service):
    case_id = new_case()
    both = bearer([Role.REHABKOORDINATOR], [UNIT_A, UNIT_B])

    await put(service, reko_path(case_id, UNIT_A), {"status": "Uppföljning"}, both)

    assert (await service.http.get(reko_path(case_id, UNIT_B), headers=both)).json()["status"] == "-"


async def test_a_doctor_of_the_unit_reads_the_status_but_cannot_set_it(service):
    case_id = new_case()
    await put(service, reko_path(case_id), {"status": "Avböjt"})

    refused = await put(service, reko_path(case_id), {"status": "Aktiv"}, DOCTOR_A)

    assert refused.status_code == 403
    assert (await service.http.get(reko_path(case_id), headers=DOCTOR_A)).json()["status"] == "Avböjt"


async def test_a_coordinator_of_another_unit_neither_reads_nor_sets_the_status_and_nothing_is_logged(service):
    case_id = new_case()
    await put(service, reko_path(case_id), {"status": "Aktiv"})
    logged = len(await access_rows(service, case_id))

    read = await service.http.get(reko_path(case_id), headers=COORDINATOR_B)
    written = await put(service, reko_path(case_id), {"status": "Avslutad"}, COORDINATOR_B)

    assert (read.status_code, written.status_code) == (403, 403)
    assert "Aktiv" not in read.text + written.text
    assert len(await access_rows(service, case_id)) == logged
    assert (await service.http.get(reko_path(case_id), headers=COORDINATOR_A)).json()["status"] == "Aktiv"


@pytest.mark.parametrize(
    "body",
    [{"status": "Okänd"}, {"status": "REKO_9"}, {}, {"status": "Aktiv", "extra": 1}, {"status": "Aktiv", "patientPseudonym": "19800124-9286"}],
    ids=["unknown name", "unknown code", "no status", "unknown field", "personnummer as pseudonym"],
)
async def test_a_bad_status_is_a_422_that_echoes_nothing_and_changes_nothing(service, body):
    case_id = new_case()

    response = await put(service, reko_path(case_id), body)

    assert response.status_code == 422, response.text
    assert "9286" not in response.text and "Okänd" not in response.text
    assert (await service.http.get(reko_path(case_id), headers=COORDINATOR_A)).json()["history"] == []


async def test_a_pseudonym_that_is_not_the_cases_patient_is_refused(service):
    case_id = new_case()
    await put(service, reko_path(case_id), {"status": "Kontaktad", "patientPseudonym": new_patient()})

    response = await put(service, reko_path(case_id), {"status": "Aktiv", "patientPseudonym": new_patient()})

    assert response.status_code == 422
    assert response.json()["detail"] == [{"field": "body.patientPseudonym", "problem": "patientpseudonymen hör inte till sjukfallet"}]


async def test_the_current_statuses_of_many_cases_are_read_at_once(service):
    from services.notifications.casework_repository import current_reko_statuses

    cases = [new_case() for _ in range(3)]
    await put(service, reko_path(cases[0]), {"status": "Kontaktad"})
    await put(service, reko_path(cases[0]), {"status": "Medicinsk rehab"})
    await put(service, reko_path(cases[1]), {"status": "Lämnas utan åtgärd"})

    async with service.pool.acquire() as conn:
        statuses = await current_reko_statuses(conn, UNIT_A, cases)

    assert {case_id: change.status.value for case_id, change in statuses.items()} == {cases[0]: "Medicinsk rehab", cases[1]: "Lämnas utan åtgärd"}

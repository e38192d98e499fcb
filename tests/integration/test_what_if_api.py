"""The what-if endpoints over HTTP (ASGI), the known-case one against the real PostgreSQL."""

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
from shared.contracts.cases import SickLeaveCaseChanged
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.http_errors import install_error_answers
from shared.logging import find_personnummer
from shared.outbox import Outbox
from tests.support import MAN, WOMAN, employed_case_event, signed_event

pytestmark = pytest.mark.integration

TODAY = date(2026, 3, 15)


@dataclass
class RuntimeStandIn:
    """What the router needs of the service runtime: the database pool and the clock."""

    pool: asyncpg.Pool
    clock: Clock


@pytest.fixture
async def milestones_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, "milestones", size=3)
    await migrate(pool, "milestones", PLATFORM_MIGRATIONS, MIGRATIONS)
    yield pool
    await pool.close()


SECRET = "what-if-test-secret-not-for-production-0123456789"
UNIT = "SE2321000000-1001"
COORDINATOR = {"authorization": f"Bearer {issue_token(SECRET, 'SE2321000000-3001', ['REHABKOORDINATOR'], [UNIT])}"}
ELSEWHERE = {"authorization": f"Bearer {issue_token(SECRET, 'SE2321000000-3002', ['REHABKOORDINATOR'], ['SE2321000000-1002'])}"}


@pytest.fixture
async def anonymous(milestones_pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    runtime = RuntimeStandIn(milestones_pool, FixedClock(datetime.combine(TODAY, time(12), tzinfo=STOCKHOLM)))
    app = FastAPI()
    install_error_answers(app)
    settings = MilestonesSettings(auth=AuthSettings(jwt_secret=SECRET))
    app.include_router(what_if_router(runtime, settings))  # type: ignore[arg-type]  # why: a stand-in with just the pool and clock the router uses
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://milestones") as http:
        yield http


@pytest.fixture
async def client(anonymous: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    anonymous.headers.update(COORDINATOR)
    return anonymous


def signed(certificate_id: str, start: str, end: str, *, person_id: str = WOMAN) -> dict[str, Any]:
    return signed_event(f"e-{certificate_id}", certificate_id, person_id=person_id, periods=[(start, end, 100)], signed_at=f"{start}T09:00:00+01:00")


# c1: 1 Jan..31 Jan (31 days); c2: 2 Mar..30 Apr (60 days). Two cases (29 uncovered days > max_gap
# 5), one chain (2 Mar - 31 Jan - 1 = 29 < 90).
FIRST = signed("c1", "2026-01-01", "2026-01-31")
RENEWAL = signed("c2", "2026-03-02", "2026-04-30")


async def test_what_if_answers_the_cases_and_milestones_of_the_certificates(client):
    response = await client.post("/what-if", json={"on": "2026-04-29", "certificates": [FIRST["data"], RENEWAL]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["on"] == "2026-04-29"
    assert [(case["caseId"], case["start"], case["end"], case["certifiedDays"], case["certificateIds"]) for case in body["cases"]] == [
        ("c1", "2026-01-01", "2026-01-31", 31, ["c1"]),
        ("c2", "2026-03-02", "2026-04-30", 60, ["c2"]),
    ]
    # plan: due max(2 Mar + (29 - 31), signed 2 Mar) = 2 Mar, chain day 32;
    # day 90: 2 Mar + (89 - 31) = 29 Apr, due on 29 Apr
    assert [
        (m["kind"], m["dueDate"], m["status"], m["chainDay"], m["offset"], m["earlierCaseIds"]) for m in body["cases"][1]["milestones"]
    ] == [
        ("RETURN_TO_WORK_PLAN", "2026-03-02", "DUE", 32, 31, ["c1"]),
        ("CHAIN_DAY_90", "2026-04-29", "DUE", 90, 31, ["c1"]),
    ]
    assert body["cases"][1]["milestones"][1]["legalReference"] == "SFB 27 kap. 46–49 §§, 51 §"


async def test_what_if_without_a_date_answers_for_today_by_the_service_clock(client):
    response = await client.post("/what-if", json={"certificates": [FIRST, RENEWAL], "revokedCertificateIds": ["c1"]})
    body = response.json()
    assert body["on"] == TODAY.isoformat()
    # without c1: plan due max(2 Mar + 29 = 31 Mar, signed 2 Mar), still ahead on 15 Mar
    assert [(m["kind"], m["dueDate"], m["status"]) for case in body["cases"] for m in case["milestones"]] == [
        ("RETURN_TO_WORK_PLAN", "2026-03-31", "SCHEDULED")
    ]


async def test_what_if_refuses_certificates_of_two_patients(client):
    response = await client.post("/what-if", json={"certificates": [FIRST, signed("c3", "2026-03-02", "2026-04-30", person_id=MAN)]})
    assert response.status_code == 422
    assert response.json() == {"detail": ["the certificates belong to 2 patients; a what-if covers one patient"]}


async def test_what_if_refuses_bad_certificates_with_the_reasons(client):
    no_periods = {**FIRST["data"], "workCapacityPeriods": []}
    response = await client.post("/what-if", json={"certificates": [no_periods, RENEWAL, {"specversion": "1.0"}]})
    assert response.status_code == 422
    reasons = response.json()["detail"]
    assert [reason.split(":")[0] for reason in reasons] == ["certificates[0]", "certificates[2]"]
    assert "workCapacityPeriods" in reasons[0]
    assert WOMAN not in response.text


async def test_what_if_stores_and_publishes_nothing(client, milestones_pool):
    await client.post("/what-if", json={"certificates": [FIRST, RENEWAL]})
    assert await milestones_pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await milestones_pool.fetchval("SELECT count(*) FROM cases") == 0


def case_event(case_id: str, start: date, end: date) -> SickLeaveCaseChanged:
    # Both cases arrive as one revision of the patient (a chain of two).
    return employed_case_event(case_id, "pseudonym-of-the-woman", start, end, event_count=2)


async def known_chain(pool: asyncpg.Pool) -> None:
    """The same two cases as stored case events, evaluated on 15 Mar as the consumer would."""
    clock = FixedClock(datetime.combine(TODAY, time(12), tzinfo=STOCKHOLM))
    tracker = MilestoneTracker(MilestonesSettings(), "rehab.milestones.v1", clock)
    async with pool.acquire() as conn, conn.transaction():
        patients = await repository.record_case_events(
            conn, [case_event("c1", date(2026, 1, 1), date(2026, 1, 31)), case_event("c2", date(2026, 3, 2), date(2026, 4, 30))]
        )
        outbox = Outbox(source="urn:reko:milestones")
        await tracker.evaluate(conn, outbox, patients)
        await outbox.write(conn)


async def test_a_known_case_answers_the_rules_on_the_date_asked_and_what_was_last_published(client, milestones_pool):
    await known_chain(milestones_pool)

    response = await client.get("/cases/c2/milestones", params={"on": "2026-04-29"})

    assert response.status_code == 200, response.text
    body = response.json()
    (case,) = body["cases"]
    assert (case["caseId"], case["certificateIds"]) == ("c2", ["c2"])
    # on 29 Apr day 90 is due; on 15 Mar, the last evaluation, it was published SCHEDULED
    assert [(m["kind"], m["dueDate"], m["status"], m["offset"]) for m in case["milestones"]] == [
        ("RETURN_TO_WORK_PLAN", "2026-03-02", "DUE", 31),
        ("CHAIN_DAY_90", "2026-04-29", "DUE", 31),
    ]
    assert sorted((m["kind"], m["dueDate"], m["status"], m["revision"]) for m in body["published"]) == [
        ("CHAIN_DAY_90", "2026-04-29", "SCHEDULED", 1),
        ("RETURN_TO_WORK_PLAN", "2026-03-02", "DUE", 1),
    ]


async def test_a_known_case_without_a_date_answers_for_today(client, milestones_pool):
    await known_chain(milestones_pool)
    body = (await client.get("/cases/c2/milestones")).json()
    assert body["on"] == TODAY.isoformat()
    assert [m["status"] for m in body["cases"][0]["milestones"]] == ["DUE", "SCHEDULED"]


async def test_an_unknown_case_is_not_found(client, milestones_pool):
    await known_chain(milestones_pool)
    assert (await client.get("/cases/no-such-case/milestones")).status_code == 404


async def test_what_if_needs_a_token(anonymous):
    assert (await anonymous.post("/what-if", json={"on": "2026-03-15", "certificates": [FIRST]})).status_code == 401


async def test_a_case_of_another_unit_is_not_found_and_a_read_is_logged(anonymous, milestones_pool):
    await known_chain(milestones_pool)
    assert (await anonymous.get("/cases/c2/milestones", headers=ELSEWHERE)).status_code == 404
    assert (await anonymous.get("/cases/c2/milestones", headers=COORDINATOR)).status_code == 200
    rows = await milestones_pool.fetch("SELECT user_hsa_id, resource, care_unit_hsa_id FROM access_log")
    assert [tuple(row) for row in rows] == [("SE2321000000-3001", "MILESTONES", UNIT)]


# --- a doctor reads only their own patients ---------------------------------------------------

# employed_case_event's certificates are signed by this doctor
CASES_DOCTOR = "SE2321000000-2001"


def doctor(sub: str, *roles: str) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(SECRET, sub, list(roles) or ['LAKARE'], [UNIT])}"}


async def test_a_doctor_reads_the_milestones_of_their_own_patients_case(anonymous, milestones_pool):
    await known_chain(milestones_pool)

    response = await anonymous.get("/cases/c2/milestones", headers=doctor(CASES_DOCTOR))

    assert response.status_code == 200
    rows = await milestones_pool.fetch("SELECT user_hsa_id, shown_care_units, shown_care_providers FROM access_log")
    assert [tuple(row) for row in rows] == [(CASES_DOCTOR, [UNIT], ["SE2321000000-1000"])]


async def test_a_doctor_may_not_read_the_milestones_of_another_doctors_patient(anonymous, milestones_pool):
    await known_chain(milestones_pool)

    response = await anonymous.get("/cases/c2/milestones", headers=doctor("SE2321000000-2999"))
    unknown = await anonymous.get("/cases/no-such-case/milestones", headers=doctor("SE2321000000-2999"))

    assert response.status_code == 404
    assert response.json() == unknown.json()
    assert await milestones_pool.fetchval("SELECT count(*) FROM access_log") == 0


async def test_a_doctor_who_also_coordinates_the_unit_reads_every_case(anonymous, milestones_pool):
    await known_chain(milestones_pool)

    response = await anonymous.get("/cases/c2/milestones", headers=doctor("SE2321000000-2999", "LAKARE", "REHABKOORDINATOR"))

    assert response.status_code == 200


# --- bad input is a client error that echoes nothing ------------------------------------------


async def test_a_what_if_on_a_date_in_the_year_9999_is_unprocessable_with_a_reason(client):
    response = await client.post("/what-if", json={"on": "9999-12-31", "certificates": [FIRST, RENEWAL]})

    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": "body.on", "problem": "must lie in the years 1900-2199"}]}


async def test_certificates_dated_in_the_year_9999_are_unprocessable_with_the_reasons(client):
    far = signed_event("e-far", "c-far", person_id=WOMAN, periods=[("9999-12-01", "9999-12-31", 100)], signed_at="9999-12-31T23:59:59Z")

    for certificate in (far, far["data"]):
        response = await client.post("/what-if", json={"certificates": [certificate]})

        assert response.status_code == 422
        assert all(reason.startswith("certificates[0]: ") and "1900-2199" in reason for reason in response.json()["detail"])


WRONG_FIELDS = {
    "as the date": {"on": WOMAN},
    "as an unknown field": {"personId": WOMAN, "certificates": []},
    "as a key": {WOMAN: WOMAN},
    "as the certificates": {"certificates": WOMAN},
    "as a revoked id list": {"revokedCertificateIds": WOMAN},
    "as a revoked id number": {"revokedCertificateIds": [198001249286]},
    "as the whole body": WOMAN,
}


@pytest.mark.parametrize("kind", list(WRONG_FIELDS))
async def test_a_personnummer_in_a_wrong_field_never_comes_back(client, kind):
    response = await client.post("/what-if", json=WRONG_FIELDS[kind])

    assert response.status_code == 422
    assert find_personnummer(response.text) == [] and "8001249286" not in response.text
    assert all(set(problem) == {"field", "problem"} for problem in response.json()["detail"])


async def test_a_validation_error_names_the_field_and_the_problem(client):
    response = await client.post("/what-if", json={"on": "15 March", "personId": WOMAN})

    assert response.status_code == 422
    assert sorted(item["field"] for item in response.json()["detail"]) == ["body.on", "body.personId"]


HOSTILE_BODIES = {
    "nested 10,000 levels": b'{"certificates": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "a 5,000-digit integer": b'{"certificates": [' + b"9" * 5_000 + b"]}",
    "lone surrogates": b'{"certificates": [{"specversion": "\\ud800"}], "revokedCertificateIds": ["\\udfff"]}',
    "a NUL in a certificate id": b'{"certificates": [{"certificateId": "c\\u0000"}]}',
    "not JSON": b'{"certificates": [',
}


@pytest.mark.parametrize("kind", list(HOSTILE_BODIES))
async def test_a_hostile_what_if_body_is_a_client_error(client, kind):
    response = await client.post("/what-if", content=HOSTILE_BODIES[kind], headers={"content-type": "application/json"})

    assert 400 <= response.status_code < 500, response.text
    assert "99999" not in response.text


@pytest.mark.parametrize(
    ("path", "params"),
    [("/cases/%00/milestones", {}), ("/cases/c2/milestones", {"on": "9999-12-31"}), ("/cases/c2/milestones", {"on": "0001-01-01"})],
    ids=["NUL case id", "year 9999", "year 1"],
)
async def test_a_hostile_known_case_request_is_a_client_error(client, milestones_pool, path: str, params: dict[str, Any]):
    await known_chain(milestones_pool)

    response = await client.get(path, params=params)

    assert 400 <= response.status_code < 500, response.text

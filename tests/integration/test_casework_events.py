"""The coordinator's records as events on `rehab.casework.v1` (docs/casework.md §7), with the
notifications service on a real PostgreSQL and broker: each change publishes its pseudonymised
event through the outbox, with no note, goal, step text or personnummer, and a refused request
publishes nothing."""

from __future__ import annotations

import asyncio
import time as wall_clock
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from reko.stack import create_database
from services.notifications import casework_operations as operations
from services.notifications import repository
from services.notifications.app import create_app
from services.notifications.contact_log import ContactKind
from services.notifications.next_step_alerts import NextStepAlerts
from services.notifications.reko_status import RekoStatus
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import STOCKHOLM, parse_clock
from shared.contracts.alerts import AlertChanged, AlertState
from shared.contracts.casework import CASEWORK_EVENT
from shared.db import create_pool
from shared.settings import Topics
from tests.support import Record, read_topic

pytestmark = pytest.mark.integration

SECRET = "casework-events-test-secret-not-for-production-0123"
UNIT_A = "SE2321000000-1001"
UNIT_B = "SE2321000000-1002"
COORDINATOR = "SE2321000000-3001"
DOCTOR = "SE2321000000-4001"
TODAY = date(2026, 3, 15)
NOW = datetime.combine(TODAY, time(12), tzinfo=STOCKHOLM)
# Synthetic (Skatteverket's test number), written into the free texts as a careless coordinator might.
PERSONNUMMER = "19121212-1212"
NOTE = f"Chefen ({PERSONNUMMER}) erbjöd anpassade arbetsuppgifter"
GOAL = "Åter i arbete på halvtid i maj"
AGREED_STEP = "Gradvis upptrappning på lagret"
STEP_TEXT = "Boka trepartssamtal med chefen"
FREE_TEXTS = (PERSONNUMMER, "191212121212", NOTE, "anpassade arbetsuppgifter", GOAL, AGREED_STEP, STEP_TEXT)


@dataclass
class Service:
    http: httpx.AsyncClient
    pool: asyncpg.Pool
    topics: Topics
    bootstrap_servers: str

    @property
    def casework_topic(self) -> str:
        return self.topics.name(self.topics.casework)


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
        pool = await create_pool(database_url, "notifications", size=2)
        yield Service(http, pool, topics, kafka_bootstrap)
        await pool.close()


def bearer(roles: list[str], units: list[str], sub: str = COORDINATOR) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(SECRET, sub, roles, units, timedelta(hours=8))}"}


COORDINATOR_A = bearer([Role.REHABKOORDINATOR], [UNIT_A])
COORDINATOR_B = bearer([Role.REHABKOORDINATOR], [UNIT_B])
DOCTOR_A = bearer([Role.LAKARE], [UNIT_A], sub=DOCTOR)


def path(case_id: str, record: str, unit: str = UNIT_A) -> str:
    return f"/units/{unit}/cases/{case_id}/{record}"


async def case_with_alert(service: Service) -> tuple[str, str]:
    """A case reko knows at unit A from an alert about it, and its patient."""
    case_id, patient = f"case-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex + uuid.uuid4().hex
    alert = AlertChanged(
        alert_id=f"{case_id}:CHAIN_DAY_90:2026-04-28",
        care_unit_hsa_id=UNIT_A,
        addressed_to=f"rehabkoordinatorer:{UNIT_A}",
        case_id=case_id,
        kind="CHAIN_DAY_90",
        due_date=date(2026, 4, 28),
        title="Dag 90",
        created=NOW,
        state=AlertState.OPEN,
        revision=1,
    )
    async with service.pool.acquire() as conn:
        await repository.save_alerts(conn, [alert], {alert.alert_id: patient})
    return case_id, patient


async def put(service: Service, where: str, body: dict[str, Any], headers: dict[str, str] = COORDINATOR_A) -> httpx.Response:
    return await service.http.put(where, json=body, headers=headers)


async def post(service: Service, where: str, body: dict[str, Any], headers: dict[str, str] = COORDINATOR_A) -> httpx.Response:
    return await service.http.post(where, json=body, headers=headers)


def a_plan(due_on: str, **changes: Any) -> dict[str, Any]:
    return {"goal": GOAL, "agreedSteps": [AGREED_STEP], "nextStep": {"description": STEP_TEXT, "dueOn": due_on, "owner": "EMPLOYER"}, **changes}


async def drained(service: Service, within_seconds: float = 15.0) -> None:
    deadline = wall_clock.monotonic() + within_seconds
    while await service.pool.fetchval("SELECT count(*) FROM outbox_pending") > 0:
        assert wall_clock.monotonic() < deadline, "the outbox relay did not drain the outbox"
        await asyncio.sleep(0.1)


async def published_about(service: Service, case_id: str) -> list[Record]:
    """What reached the casework topic about the case, in the order published, once the relay has sent it."""
    await drained(service)
    records = await read_topic(service.bootstrap_servers, service.casework_topic)
    return [record for record in records if record.json()["subject"] == case_id]


async def written_about(service: Service, case_id: str) -> int:
    """The outbox rows for the casework topic about the case, sent or not."""
    return int(
        await service.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = $1 AND convert_from(value, 'UTF8')::jsonb ->> 'subject' = $2", service.casework_topic, case_id
        )
    )


async def test_each_change_of_the_coordinators_records_is_published_pseudonymised_and_in_order(service):
    case_id, patient = await case_with_alert(service)

    answers = [
        await put(service, path(case_id, "reko-status"), {"status": "Kontaktad"}),
        await put(service, path(case_id, "reko-status"), {"status": "Kontaktad"}),
        await post(
            service,
            path(case_id, "consent"),
            {"scopes": ["EMPLOYER", "COORDINATION"], "decision": "GIVEN", "decidedOn": "2026-03-10"},
        ),
        await post(service, path(case_id, "contacts"), {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-12", "note": NOTE}),
        await put(service, path(case_id, "plan"), a_plan("2026-03-20")),
        await post(service, path(case_id, "plan/next-step/done"), {"doneOn": "2026-03-14"}),
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 201, 201, 200, 200], [answer.text for answer in answers]
    plan_id = answers[4].json()["planId"]
    contact_id = answers[3].json()["contactId"]

    published = await published_about(service, case_id)

    # The repeated status records nothing, so it publishes nothing.
    assert [(record.json()["type"], record.json()["data"]["kind"]) for record in published] == [
        ("se.reko.casework.reko-status.changed.v1", "REKO_STATUS"),
        ("se.reko.casework.consent.recorded.v1", "CONSENT"),
        ("se.reko.casework.consent.recorded.v1", "CONSENT"),
        ("se.reko.casework.contact.logged.v1", "CONTACT"),
        ("se.reko.casework.plan.changed.v1", "PLAN"),
        ("se.reko.casework.plan.changed.v1", "PLAN"),
    ]
    assert {record.key for record in published} == {UNIT_A.encode()}
    assert {record.headers["content-type"] for record in published} == {"application/cloudevents+json"}
    assert {record.json()["source"] for record in published} == {"urn:reko:notifications"}
    status, coordination, employer, contact, plan, done = (CASEWORK_EVENT.validate_python(record.json()["data"]) for record in published)
    assert all(
        (event.case_id, event.patient_pseudonym, event.care_unit_hsa_id, event.recorded_by) == (case_id, patient, UNIT_A, COORDINATOR)
        for event in [status, contact, plan]
    )
    assert (status.status, status.code, status.revision, status.recorded_at) == ("Kontaktad", "REKO_2", 1, NOW)
    assert [(event.scope, event.decision, event.decided_on) for event in (coordination, employer)] == [
        ("COORDINATION", "GIVEN", date(2026, 3, 10)),
        ("EMPLOYER", "GIVEN", date(2026, 3, 10)),
    ]
    assert (contact.contact_id, contact.contact_kind, contact.parties, contact.contact_on) == (
        contact_id,
        "TREPARTSSAMTAL",
        ("EMPLOYER",),
        date(2026, 3, 12),
    )
    assert (plan.plan_id, plan.version, plan.change, plan.next_step) == (plan_id, 1, "CHANGED", plan.next_step)
    assert plan.next_step is not None and (plan.next_step.due_on, plan.next_step.owner, plan.next_step.done_on) == (
        date(2026, 3, 20),
        "EMPLOYER",
        None,
    )
    assert (done.version, done.change) == (2, "NEXT_STEP_DONE")
    assert done.next_step is not None and done.next_step.done_on == date(2026, 3, 14)
    for record in published:
        text = " ".join([(record.value or b"").decode(), (record.key or b"").decode(), *record.headers.values()])
        assert not any(secret in text for secret in FREE_TEXTS), record.json()["data"]["kind"]


async def test_a_status_set_for_a_case_whose_patient_is_unknown_is_published_without_a_patient(service):
    case_id = f"case-{uuid.uuid4().hex[:8]}"

    answer = await put(service, path(case_id, "reko-status"), {"status": "REKO_3"})

    assert answer.status_code == 200, answer.text
    (record,) = await published_about(service, case_id)
    assert (record.json()["data"]["patientPseudonym"], record.json()["data"]["status"]) == (None, "Aktiv")


async def test_a_refused_request_publishes_nothing(service):
    case_id, patient = await case_with_alert(service)
    unknown_case = f"case-{uuid.uuid4().hex[:8]}"
    other_patient = uuid.uuid4().hex + uuid.uuid4().hex
    await post(service, path(case_id, "consent"), {"scopes": ["COORDINATION"], "decision": "GIVEN", "decidedOn": "2026-03-01"})
    await put(service, path(case_id, "plan"), a_plan("2026-03-20"))
    await drained(service)
    before = await written_about(service, case_id)

    refused = {
        "a doctor sets a status": await put(service, path(case_id, "reko-status"), {"status": "Aktiv"}, DOCTOR_A),
        "another unit's coordinator": await put(service, path(case_id, "reko-status", UNIT_A), {"status": "Aktiv"}, COORDINATOR_B),
        "an unknown status": await put(service, path(case_id, "reko-status"), {"status": "Klar"}),
        "another patient named": await put(service, path(case_id, "reko-status"), {"status": "Aktiv", "patientPseudonym": other_patient}),
        "a decision after today": await post(
            service, path(case_id, "consent"), {"scopes": ["EMPLOYER"], "decision": "GIVEN", "decidedOn": "2026-03-16"}
        ),
        "withdrawing no consent": await post(
            service, path(case_id, "consent"), {"scopes": ["EMPLOYER"], "decision": "WITHDRAWN", "decidedOn": "2026-03-10"}
        ),
        "a trepartssamtal without consent": await post(
            service, path(case_id, "contacts"), {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-12", "note": NOTE}
        ),
        "a stale plan": await put(service, path(case_id, "plan"), a_plan("2026-03-25", expectedVersion=0)),
        "a step done after today": await post(service, path(case_id, "plan/next-step/done"), {"doneOn": "2026-03-16"}),
        "a step done of an unknown patient": await post(service, path(unknown_case, "plan/next-step/done"), {}),
    }

    assert {reason: answer.status_code for reason, answer in refused.items()} == {
        "a doctor sets a status": 403,
        "another unit's coordinator": 403,
        "an unknown status": 422,
        "another patient named": 422,
        "a decision after today": 422,
        "withdrawing no consent": 409,
        "a trepartssamtal without consent": 409,
        "a stale plan": 409,
        "a step done after today": 422,
        "a step done of an unknown patient": 404,
    }
    assert await written_about(service, case_id) == before
    assert await written_about(service, unknown_case) == 0
    published = await published_about(service, case_id)
    assert [record.json()["data"]["kind"] for record in published] == ["CONSENT", "PLAN"]
    assert all(record.json()["data"]["patientPseudonym"] == patient for record in published)


async def test_the_service_declares_the_casework_topic_in_its_asyncapi_document(service):
    document = (await service.http.get("/asyncapi.json")).json()

    (channel,) = [channel for channel in document["channels"].values() if channel["address"] == service.casework_topic]
    assert "pseudonymised" in channel["description"]


async def test_an_operation_called_without_http_publishes_its_change_and_refuses_with_the_status_and_swedish_reason(service):
    clock = parse_clock(f"fixed:{NOW.isoformat()}")
    casework = operations.Casework(
        clock=clock,
        casework_topic=service.casework_topic,
        next_steps=NextStepAlerts(service.topics.name(service.topics.alerts), clock, "urn:reko:notifications"),
        source="urn:reko:notifications",
    )
    case_id, patient = await case_with_alert(service)

    async with service.pool.acquire() as conn, conn.transaction():
        done = await operations.set_reko_status(conn, casework, COORDINATOR, UNIT_A, case_id, RekoStatus.MEDICINSK_REHAB)
    with pytest.raises(operations.CaseworkRefusal) as refused:
        async with service.pool.acquire() as conn, conn.transaction():
            await operations.record_contact(conn, casework, COORDINATOR, UNIT_A, case_id, ContactKind.AVSTAMNINGSMOTE, date(2026, 3, 12), note=NOTE)

    assert (done.patient_pseudonym, [change.status for change in done.history]) == (patient, [RekoStatus.MEDICINSK_REHAB])
    assert (refused.value.status_code, refused.value.field) == (409, None)
    assert refused.value.message.startswith("Patientens samtycke till koordineringsinsatser och kontakt med Försäkringskassan saknas den 2026-03-12.")
    assert [record.json()["data"]["code"] for record in await published_about(service, case_id)] == ["REKO_8"]

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
from shared.db import create_pool
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
        pool = await create_pool(database_url, "notifications", size=2)
        yield Service(http, pool, topics, kafka_bootstrap)
        await pool.close()


def bearer(roles: list[str], units: list[str], sub: str = COORDINATOR) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(SECRET, sub, roles, units, timedelta(hours=8))}"}


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


# --- consent and contacts -------------------------------------------------------------------------


def consent_path(case_id: str, unit: str = UNIT_A) -> str:
    return f"/units/{unit}/cases/{case_id}/consent"


def contacts_path(case_id: str, unit: str = UNIT_A) -> str:
    return f"/units/{unit}/cases/{case_id}/contacts"


async def post(service: Service, path: str, body: dict[str, Any], headers: dict[str, str] = COORDINATOR_A) -> httpx.Response:
    return await service.http.post(path, json=body, headers=headers)


async def case_with_alert(service: Service, unit: str = UNIT_A) -> tuple[str, str]:
    """A case reko knows at the unit from an alert about it, and its patient."""
    from services.notifications import repository
    from shared.contracts.alerts import AlertChanged, AlertState

    case_id, patient = new_case(), new_patient()
    alert = AlertChanged(
        alert_id=f"{case_id}:CHAIN_DAY_90:2026-04-28",
        care_unit_hsa_id=unit,
        addressed_to=f"rehabkoordinatorer:{unit}",
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


def in_force(answer: dict[str, Any]) -> dict[str, bool]:
    return {scope["scope"]: scope["inForce"] for scope in answer["scopes"]}


async def test_consent_is_recorded_per_scope_with_date_and_who_and_its_history_kept(service):
    case_id, patient = await case_with_alert(service)

    given = await post(service, consent_path(case_id), {"scopes": ["COORDINATION", "EMPLOYER"], "decision": "GIVEN", "decidedOn": "2026-03-10"})
    await post(service, consent_path(case_id), {"scopes": ["FORSAKRINGSKASSAN"], "decision": "DECLINED", "decidedOn": "2026-03-11"})
    await post(service, consent_path(case_id), {"scopes": ["EMPLOYER"], "decision": "WITHDRAWN", "decidedOn": "2026-03-14"})
    answer = (await service.http.get(consent_path(case_id), headers=DOCTOR_A)).json()
    earlier = (await service.http.get(consent_path(case_id), params={"on": "2026-03-12"}, headers=DOCTOR_A)).json()

    assert given.status_code == 201, given.text
    assert in_force(answer) == {"COORDINATION": True, "EMPLOYER": False, "FORSAKRINGSKASSAN": False, "ARBETSFORMEDLINGEN": False, "OTHER": False}
    assert in_force(earlier)["EMPLOYER"] is True
    employer = next(scope for scope in answer["scopes"] if scope["scope"] == "EMPLOYER")
    assert employer == {
        "scope": "EMPLOYER",
        "text": "kontakt med arbetsgivaren",
        "inForce": False,
        "decision": "WITHDRAWN",
        "decidedOn": "2026-03-14",
    }
    assert [(entry["scope"], entry["decision"], entry["recordedBy"]) for entry in answer["history"]] == [
        ("COORDINATION", "GIVEN", COORDINATOR),
        ("EMPLOYER", "GIVEN", COORDINATOR),
        ("FORSAKRINGSKASSAN", "DECLINED", COORDINATOR),
        ("EMPLOYER", "WITHDRAWN", COORDINATOR),
    ]
    rows = await access_rows(service, case_id)
    assert [(row["resource"], row["action"], row["patient_pseudonyms"]) for row in rows] == [("CONSENT", "WRITE", [patient])] * 3 + [
        ("CONSENT", "READ", [patient])
    ] * 2


async def test_consent_cannot_be_withdrawn_when_none_is_in_force_nor_dated_after_today(service):
    case_id, _ = await case_with_alert(service)

    withdrawn = await post(service, consent_path(case_id), {"scopes": ["EMPLOYER"], "decision": "WITHDRAWN", "decidedOn": "2026-03-10"})
    future = await post(service, consent_path(case_id), {"scopes": ["EMPLOYER"], "decision": "GIVEN", "decidedOn": "2026-03-16"})

    assert (withdrawn.status_code, withdrawn.json()["detail"]) == (
        409,
        "Det finns inget samtycke till kontakt med arbetsgivaren att återkalla den 2026-03-10.",
    )
    assert future.status_code == 422
    assert future.json()["detail"] == [{"field": "body.decidedOn", "problem": "Ett beslut om samtycke kan inte dateras efter dagens datum."}]
    assert (await service.http.get(consent_path(case_id), headers=COORDINATOR_A)).json()["history"] == []


async def test_a_trepartssamtal_without_employer_consent_is_refused_with_the_message_and_nothing_is_logged(service):
    case_id, _ = await case_with_alert(service)
    await post(service, consent_path(case_id), {"scopes": ["COORDINATION"], "decision": "GIVEN", "decidedOn": "2026-03-01"})

    refused = await post(service, contacts_path(case_id), {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-12", "note": "Möte med chefen"})

    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "Patientens samtycke till kontakt med arbetsgivaren saknas den 2026-03-12. Registrera samtycket innan kontakten registreras."
    }
    assert (await service.http.get(contacts_path(case_id), headers=COORDINATOR_A)).json()["contacts"] == []


async def test_a_trepartssamtal_with_the_consents_in_force_on_its_date_is_logged_with_its_note(service):
    case_id, patient = await case_with_alert(service)
    await post(service, consent_path(case_id), {"scopes": ["COORDINATION", "EMPLOYER"], "decision": "GIVEN", "decidedOn": "2026-03-05"})

    before_consent = await post(service, contacts_path(case_id), {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-04"})
    logged = await post(service, contacts_path(case_id), {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-12", "note": "Anpassade arbetsuppgifter"})
    await post(service, contacts_path(case_id), {"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "2026-03-02", "note": "Första samtalet"})
    log = (await service.http.get(contacts_path(case_id), headers=DOCTOR_A)).json()

    assert before_consent.status_code == 409
    assert "koordineringsinsatser och kontakt med arbetsgivaren saknas den 2026-03-04" in before_consent.json()["detail"]
    assert logged.status_code == 201, logged.text
    assert [(c["kind"], c["kindText"], c["parties"], c["contactOn"], c["note"], c["recordedBy"]) for c in log["contacts"]] == [
        ("KARTLAGGNINGSSAMTAL", "Kartläggningssamtal", [], "2026-03-02", "Första samtalet", COORDINATOR),
        ("TREPARTSSAMTAL", "Trepartssamtal", ["EMPLOYER"], "2026-03-12", "Anpassade arbetsuppgifter", COORDINATOR),
    ]
    rows = await access_rows(service, case_id)
    assert [(row["resource"], row["action"]) for row in rows][-1] == ("CONTACTS", "READ")
    assert rows[-1]["patient_pseudonyms"] == [patient]


async def test_contact_with_arbetsformedlingen_needs_its_consent(service):
    case_id, _ = await case_with_alert(service)
    await post(service, consent_path(case_id), {"scopes": ["COORDINATION"], "decision": "GIVEN", "decidedOn": "2026-03-01"})
    contact = {"kind": "OTHER", "parties": ["ARBETSFORMEDLINGEN"], "contactOn": "2026-03-12"}

    refused = await post(service, contacts_path(case_id), contact)
    await post(service, consent_path(case_id), {"scopes": ["ARBETSFORMEDLINGEN"], "decision": "GIVEN", "decidedOn": "2026-03-11"})
    accepted = await post(service, contacts_path(case_id), contact)

    assert (refused.status_code, accepted.status_code) == (409, 201)
    assert "kontakt med Arbetsförmedlingen" in refused.json()["detail"]


async def test_consent_and_contacts_are_the_patients_and_follow_the_patient_named_for_a_case_reko_had_no_alert_about(service):
    case_id, patient = new_case(), new_patient()

    unknown = await service.http.get(consent_path(case_id), headers=COORDINATOR_A)
    unnamed = await post(service, consent_path(case_id), {"scopes": ["COORDINATION"], "decision": "GIVEN", "decidedOn": "2026-03-01"})
    named = await post(
        service, consent_path(case_id), {"scopes": ["COORDINATION"], "decision": "GIVEN", "decidedOn": "2026-03-01", "patientPseudonym": patient}
    )

    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Sjukfallets patient är okänd vid vårdenheten."})
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"] == [{"field": "body.patientPseudonym", "problem": "krävs: sjukfallets patient är okänd vid vårdenheten"}]
    assert named.status_code == 201
    assert in_force((await service.http.get(consent_path(case_id), headers=COORDINATOR_A)).json())["COORDINATION"] is True


async def test_a_doctor_cannot_record_consent_or_contacts_and_another_units_coordinator_reads_none(service):
    case_id, _ = await case_with_alert(service)
    await post(service, consent_path(case_id), {"scopes": ["COORDINATION"], "decision": "GIVEN", "decidedOn": "2026-03-01"})
    logged = len(await access_rows(service, case_id))

    answers = [
        await post(service, consent_path(case_id), {"scopes": ["EMPLOYER"], "decision": "GIVEN", "decidedOn": "2026-03-01"}, DOCTOR_A),
        await post(service, contacts_path(case_id), {"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "2026-03-02"}, DOCTOR_A),
        await service.http.get(consent_path(case_id), headers=COORDINATOR_B),
        await service.http.get(contacts_path(case_id), headers=COORDINATOR_B),
        await post(service, contacts_path(case_id), {"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "2026-03-02"}, COORDINATOR_B),
    ]

    assert [answer.status_code for answer in answers] == [403] * 5
    assert len(await access_rows(service, case_id)) == logged


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-12", "note": "nul \x00 här"},
        {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-12", "note": "x" * 4001},
        {"kind": "SAMMANTRADE", "contactOn": "2026-03-12"},
        {"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "2026-03-16"},
        {"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "1800-01-01"},
        {"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "2026-03-12", "parties": ["GRANNEN"]},
    ],
    ids=["NUL in note", "note too long", "unknown kind", "after today", "outside the calendar", "unknown party"],
)
async def test_a_bad_contact_is_a_422_and_logs_nothing(service, body):
    case_id, _ = await case_with_alert(service)

    response = await post(service, contacts_path(case_id), body)

    assert response.status_code == 422, response.text
    assert "GRANNEN" not in response.text and "SAMMANTRADE" not in response.text
    assert (await service.http.get(contacts_path(case_id), headers=COORDINATOR_A)).json()["contacts"] == []


async def test_a_lone_surrogate_in_a_note_is_a_422(service):
    case_id, _ = await case_with_alert(service)

    response = await service.http.post(
        contacts_path(case_id),
        content=b'{"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "2026-03-12", "note": "\\ud800"}',
        headers={**COORDINATOR_A, "content-type": "application/json"},
    )

    assert response.status_code == 422, response.text


async def test_the_consents_and_last_contacts_of_many_patients_are_read_at_once(service):
    from services.notifications.casework_repository import consents_in_force, last_contacts
    from services.notifications.consent import ConsentScope

    (first, first_patient), (_, second_patient) = await case_with_alert(service), await case_with_alert(service)
    await post(service, consent_path(first), {"scopes": ["COORDINATION", "EMPLOYER"], "decision": "GIVEN", "decidedOn": "2026-03-01"})
    await post(service, contacts_path(first), {"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "2026-03-02"})
    await post(service, contacts_path(first), {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-09"})

    async with service.pool.acquire() as conn:
        consents = await consents_in_force(conn, UNIT_A, [first_patient, second_patient], TODAY)
        contacts = await last_contacts(conn, UNIT_A, [first_patient, second_patient])

    assert {scope for scope, decision in consents[first_patient].items() if decision} == {ConsentScope.COORDINATION, ConsentScope.EMPLOYER}
    assert set(consents[second_patient].values()) == {None}
    assert list(contacts) == [first_patient] and contacts[first_patient].kind.value == "TREPARTSSAMTAL"

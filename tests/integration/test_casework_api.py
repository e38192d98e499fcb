"""The coordinator's records of a case (docs/casework.md) through notifications' HTTP API, with the
service running on a real PostgreSQL and broker: who reads and who sets, the history, the access
log, consent guarding contacts, and the next step's alert on the alerts topic."""

from __future__ import annotations

import asyncio
import time as wall_clock
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from structlog.testing import capture_logs

from reko.stack import create_database
from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import STOCKHOLM
from shared.db import create_pool
from shared.settings import Topics
from tests.support import read_topic

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
        next_step_check_interval_seconds=0.1,
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
    await case_signed_by(service, case_id, patient, DOCTOR)
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
    case_id, _ = await case_with_alert(service)
    await put(service, reko_path(case_id), {"status": "Avböjt"})

    refused = await put(service, reko_path(case_id), {"status": "Aktiv"}, DOCTOR_A)

    assert refused.status_code == 403
    assert (await service.http.get(reko_path(case_id), headers=DOCTOR_A)).json()["status"] == "Avböjt"


async def test_a_doctor_reads_no_record_of_another_doctors_patient_and_gets_the_answer_of_an_unknown_case(service):
    theirs, patient = await case_with_alert(service)
    await case_signed_by(service, theirs, patient, "SE2321000000-4999")
    await put(service, reko_path(theirs), {"status": "Aktiv"})
    await post(service, consent_path(theirs), {"scopes": ["COORDINATION"], "decision": "GIVEN", "decidedOn": "2026-03-01"})
    await put(service, plan_path(theirs), a_plan("2026-04-01"))
    logged = len(await access_rows(service, theirs))
    paths = [reko_path(theirs), consent_path(theirs), contacts_path(theirs), plan_path(theirs)]

    answers = [await service.http.get(path, headers=DOCTOR_A) for path in paths]
    unknown = [await service.http.get(path.replace(theirs, new_case()), headers=DOCTOR_A) for path in paths]
    as_coordinator = [await service.http.get(path, headers=COORDINATOR_A) for path in paths]

    assert [answer.status_code for answer in answers] == [404] * 4
    assert [answer.json() for answer in answers] == [answer.json() for answer in unknown]
    assert len(await access_rows(service, theirs)) == logged + 4
    assert [answer.status_code for answer in as_coordinator] == [200] * 4


async def test_a_doctor_reads_the_records_of_a_patient_one_of_whose_cases_they_signed_last(service):
    case_id, patient = await case_with_alert(service)
    await case_signed_by(service, case_id, patient, "SE2321000000-4999")
    await case_signed_by(service, new_case(), patient, DOCTOR, unit=UNIT_B)
    await put(service, reko_path(case_id), {"status": "Aktiv"})

    answer = await service.http.get(reko_path(case_id), headers=DOCTOR_A)

    assert answer.status_code == 200
    assert answer.json()["status"] == "Aktiv"


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
    await case_signed_by(service, case_id, patient, DOCTOR, unit)
    return case_id, patient


async def case_signed_by(service: Service, case_id: str, patient: str, doctor: str, unit: str = UNIT_A) -> None:
    """The case as its case events made it known: its latest certificate signed by `doctor`."""
    from services.notifications.case_facts import CaseFacts
    from services.notifications.case_facts_store import save_case_facts
    from shared.contracts.cases import CaseStatus

    facts = CaseFacts(
        case_id=case_id,
        patient_pseudonym=patient,
        patient_revision=1,
        care_unit_hsa_id=unit,
        care_provider_hsa_id="SE2321000000-1000",
        start=date(2026, 1, 28),
        end=date(2026, 4, 30),
        certified_days=93,
        main_diagnosis_code="F43.2",
        diagnosis_group="psychiatric",
        degrees=(),
        certificate_ids=(f"{case_id}-c1",),
        status=CaseStatus.ACTIVE,
        protected_identity=False,
        doctor_hsa_id=doctor,
    )
    async with service.pool.acquire() as conn:
        await save_case_facts(conn, [facts])


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


# --- plan, next step and its alert ----------------------------------------------------------------

STEP_TEXT = "Ring chefen om anpassade arbetsuppgifter"


def plan_path(case_id: str, unit: str = UNIT_A) -> str:
    return f"/units/{unit}/cases/{case_id}/plan"


def a_plan(due_on: str | None = "2026-03-10", **changes: Any) -> dict[str, Any]:
    step = {"description": STEP_TEXT, "dueOn": due_on, "owner": "REHABKOORDINATOR"} if due_on else None
    return {"goal": "Åter i arbete på halvtid i maj", "agreedSteps": ["Kartläggning", "Trepartssamtal"], "nextStep": step, **changes}


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:  # noqa: ASYNC109 - a deadline between polls
    deadline = wall_clock.monotonic() + timeout
    while True:
        result = await check()
        if result or wall_clock.monotonic() > deadline:
            return result
        await asyncio.sleep(0.1)


async def stored_alerts(service: Service, case_id: str) -> dict[str, tuple[str, str | None]]:
    rows = await service.pool.fetch("SELECT alert_id, state, patient_pseudonym FROM alerts WHERE case_id = $1 AND kind = 'NEXT_STEP'", case_id)
    return {row["alert_id"]: (row["state"], row["patient_pseudonym"]) for row in rows}


async def published_alerts(service: Service, case_id: str) -> list[dict[str, Any]]:
    """What reached the alerts topic about the case's next steps, once the outbox is drained."""
    assert await eventually(lambda: service.pool.fetchval("SELECT count(*) = 0 FROM outbox_pending"))
    records = await read_topic(service.bootstrap_servers, service.topics.name(service.topics.alerts))
    return [
        record.json()["data"] for record in records if record.json()["data"]["caseId"] == case_id and record.json()["data"]["kind"] == "NEXT_STEP"
    ]


async def test_the_plan_is_versioned_with_who_and_when_and_its_reads_logged(service):
    case_id, patient = await case_with_alert(service)

    first = await put(service, plan_path(case_id), a_plan("2026-04-01"))
    second = await put(
        service, plan_path(case_id), a_plan("2026-04-08", expectedVersion=1), bearer([Role.REHABKOORDINATOR], [UNIT_A], sub=OTHER_COORDINATOR)
    )
    stale = await put(service, plan_path(case_id), a_plan("2026-04-09", expectedVersion=1))
    answer = (await service.http.get(plan_path(case_id), headers=DOCTOR_A)).json()

    assert (first.status_code, second.status_code, stale.status_code) == (200, 200, 409), first.text
    assert stale.json()["detail"] == "Planen har ändrats sedan den lästes. Läs den igen och gör ändringen på nytt."
    assert answer["current"]["version"] == 2
    assert answer["current"]["nextStep"] == {
        "description": STEP_TEXT,
        "dueOn": "2026-04-08",
        "owner": "REHABKOORDINATOR",
        "ownerText": "rehabkoordinatorn",
        "doneOn": None,
        "overdue": False,
    }
    assert [(version["version"], version["recordedBy"], version["nextStep"]["dueOn"]) for version in answer["versions"]] == [
        (1, COORDINATOR, "2026-04-01"),
        (2, OTHER_COORDINATOR, "2026-04-08"),
    ]
    rows = await access_rows(service, case_id)
    assert [(row["resource"], row["action"]) for row in rows] == [("REHABILITATION_PLAN", "WRITE")] * 2 + [("REHABILITATION_PLAN", "READ")]
    assert {tuple(row["patient_pseudonyms"]) for row in rows} == {(patient,)}


async def test_an_overdue_next_step_opens_one_next_step_alert_announced_once_and_marking_it_done_withdraws_it(service):
    case_id, patient = await case_with_alert(service)

    saved = await put(service, plan_path(case_id), a_plan("2026-03-10"))
    alert_id = f"next-step:{saved.json()['planId']}:2026-03-10"
    opened = await eventually(lambda: stored_alerts(service, case_id))
    await asyncio.sleep(0.5)  # a few more rounds of the check: none may open it again
    shown = (await service.http.get(f"/units/{UNIT_A}/alerts", params={"state": "OPEN"}, headers=COORDINATOR_A)).json()
    done = await service.http.post(f"{plan_path(case_id)}/next-step/done", json={}, headers=COORDINATOR_A)

    assert saved.json()["current"]["nextStep"]["overdue"] is True
    assert opened == {alert_id: ("OPEN", patient)}
    assert [alert["alertId"] for alert in shown if alert["kind"] == "NEXT_STEP" and alert["caseId"] == case_id] == [alert_id]
    assert done.status_code == 200, done.text
    assert done.json()["current"]["nextStep"]["doneOn"] == TODAY.isoformat()
    assert await stored_alerts(service, case_id) == {alert_id: ("WITHDRAWN", patient)}
    published = await published_alerts(service, case_id)
    assert [(alert["alertId"], alert["state"], alert["announce"]) for alert in published] == [
        (alert_id, "OPEN", True),
        (alert_id, "WITHDRAWN", False),
    ]
    assert published[0]["dueDate"] == "2026-03-10" and published[0]["nextStepOwner"] == "REHABKOORDINATOR"
    assert not any(STEP_TEXT in str(alert) or "halvtid" in str(alert) for alert in published)


async def test_a_moved_step_withdraws_its_alert_and_opens_one_for_the_new_date_and_moving_back_announces_nothing(service):
    case_id, _ = await case_with_alert(service)
    plan_id = (await put(service, plan_path(case_id), a_plan("2026-03-10"))).json()["planId"]
    first, second = f"next-step:{plan_id}:2026-03-10", f"next-step:{plan_id}:2026-03-12"
    await eventually(lambda: stored_alerts(service, case_id))

    await put(service, plan_path(case_id), a_plan("2026-03-12"))
    await eventually(lambda: _has(stored_alerts(service, case_id), second))
    await put(service, plan_path(case_id), a_plan("2026-03-10"))
    await eventually(lambda: _state_is(stored_alerts(service, case_id), first, "OPEN"))
    await put(service, plan_path(case_id), {**a_plan("2026-03-10"), "goal": "Åter i arbete på heltid"})
    await asyncio.sleep(0.5)

    published = [(alert["alertId"], alert["state"], alert["announce"]) for alert in await published_alerts(service, case_id)]
    assert published == [
        (first, "OPEN", True),
        (first, "WITHDRAWN", False),
        (second, "OPEN", True),
        (second, "WITHDRAWN", False),
        (first, "OPEN", False),
    ]


async def _has(alerts: Awaitable[dict[str, Any]], alert_id: str) -> bool:
    return alert_id in await alerts


async def _state_is(alerts: Awaitable[dict[str, tuple[str, str | None]]], alert_id: str, state: str) -> bool:
    return (await alerts).get(alert_id, ("", None))[0] == state


async def test_a_step_not_yet_overdue_or_already_done_raises_no_alert(service):
    today_case, _ = await case_with_alert(service)
    done_case, _ = await case_with_alert(service)

    await put(service, plan_path(today_case), a_plan(TODAY.isoformat()))
    done_plan = a_plan("2026-03-01")
    done_plan["nextStep"]["doneOn"] = "2026-03-02"
    await put(service, plan_path(done_case), done_plan)
    await asyncio.sleep(0.5)

    assert await stored_alerts(service, today_case) == {}
    assert await stored_alerts(service, done_case) == {}


async def test_a_doctor_reads_the_plan_but_cannot_change_it_and_another_units_coordinator_gets_403(service):
    case_id, _ = await case_with_alert(service)
    await put(service, plan_path(case_id), a_plan("2026-04-01"))
    logged = len(await access_rows(service, case_id))

    answers = [
        await put(service, plan_path(case_id), a_plan("2026-04-02"), DOCTOR_A),
        await service.http.post(f"{plan_path(case_id)}/next-step/done", json={}, headers=DOCTOR_A),
        await service.http.get(plan_path(case_id), headers=COORDINATOR_B),
        await put(service, plan_path(case_id), a_plan("2026-04-02"), COORDINATOR_B),
    ]

    assert [answer.status_code for answer in answers] == [403] * 4
    assert STEP_TEXT not in "".join(answer.text for answer in answers)
    assert len(await access_rows(service, case_id)) == logged
    assert (await service.http.get(plan_path(case_id), headers=DOCTOR_A)).json()["current"]["version"] == 1


async def test_no_plan_is_a_404_and_a_step_done_without_an_open_step_a_409(service):
    case_id, _ = await case_with_alert(service)

    missing = await service.http.get(plan_path(case_id), headers=COORDINATOR_A)
    no_plan = await service.http.post(f"{plan_path(case_id)}/next-step/done", json={}, headers=COORDINATOR_A)
    await put(service, plan_path(case_id), a_plan(None))
    no_step = await service.http.post(f"{plan_path(case_id)}/next-step/done", json={}, headers=COORDINATOR_A)
    future = await service.http.post(f"{plan_path(case_id)}/next-step/done", json={"doneOn": "2026-03-16"}, headers=COORDINATOR_A)

    assert (missing.status_code, missing.json()["detail"]) == (404, "Patienten har ingen rehabiliteringsplan vid vårdenheten.")
    assert no_plan.status_code == 409
    assert (no_step.status_code, no_step.json()["detail"]) == (409, "Planen har inget nästa steg att markera som gjort.")
    assert future.status_code == 422


@pytest.mark.parametrize(
    "change",
    [
        {"nextStep": {"description": "", "dueOn": "2026-03-10", "owner": "PATIENT"}},
        {"nextStep": {"description": "x", "dueOn": "2026-03-10", "owner": "GRANNEN"}},
        {"nextStep": {"description": "x", "dueOn": "2300-01-01", "owner": "PATIENT"}},
        {"nextStep": {"description": "x", "dueOn": "2026-03-10", "owner": "PATIENT", "doneOn": "2026-03-16"}},
        {"goal": "x" * 2001},
        {"agreedSteps": ["ok", "nul \x00"]},
        {"expectedVersion": -1},
    ],
    ids=["empty step", "unknown owner", "outside the calendar", "done after today", "goal too long", "NUL in a step", "negative version"],
)
async def test_a_bad_plan_is_a_422_and_stores_nothing(service, change):
    case_id, _ = await case_with_alert(service)

    response = await put(service, plan_path(case_id), {**a_plan(), **change})

    assert response.status_code == 422, response.text
    assert "GRANNEN" not in response.text
    assert (await service.http.get(plan_path(case_id), headers=COORDINATOR_A)).status_code == 404


async def test_the_current_plans_and_next_steps_of_many_patients_are_read_at_once(service):
    from services.notifications.casework_repository import current_plans

    (first, first_patient), (_, second_patient) = await case_with_alert(service), await case_with_alert(service)
    await put(service, plan_path(first), a_plan("2026-04-01"))
    await put(service, plan_path(first), a_plan("2026-04-15"))

    async with service.pool.acquire() as conn:
        plans = await current_plans(conn, UNIT_A, [first_patient, second_patient])

    assert list(plans) == [first_patient]
    step = plans[first_patient].next_step
    assert plans[first_patient].version == 2 and step is not None and step.due_on == date(2026, 4, 15)


async def test_the_casework_of_many_cases_is_read_at_once_for_the_worklist(service):
    from services.notifications.casework_repository import casework_of_cases
    from services.notifications.consent import ConsentScope

    (first, first_patient), (second, _) = await case_with_alert(service), await case_with_alert(service)
    unknown = new_case()
    await put(service, reko_path(first), {"status": "Aktiv"})
    await put(service, reko_path(unknown), {"status": "Kontaktad"})
    await post(service, consent_path(first), {"scopes": ["COORDINATION", "EMPLOYER"], "decision": "GIVEN", "decidedOn": "2026-03-01"})
    await post(service, contacts_path(first), {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-09"})
    await put(service, plan_path(first), a_plan("2026-04-01"))

    async with service.pool.acquire() as conn:
        casework = await casework_of_cases(conn, UNIT_A, [first, second, unknown], TODAY)

    assert (casework[first].patient_pseudonym, casework[first].reko_status.value) == (first_patient, "Aktiv")
    assert {scope for scope, decision in casework[first].consents.items() if decision} == {ConsentScope.COORDINATION, ConsentScope.EMPLOYER}
    step = casework[first].next_step
    assert step is not None and step.due_on == date(2026, 4, 1)
    assert casework[first].last_contact is not None and casework[first].last_contact.kind.value == "TREPARTSSAMTAL"
    assert (casework[second].reko_status.value, casework[second].plan, casework[second].last_contact) == ("-", None, None)
    assert (casework[unknown].patient_pseudonym, casework[unknown].reko_status.value) == (None, "Kontaktad")
    assert set(casework[unknown].consents.values()) == {None}


async def test_notes_and_plan_texts_reach_no_log_line(service, caplog):
    case_id, _ = await case_with_alert(service)
    marker = f"hemlig-{uuid.uuid4().hex[:8]}"
    await post(service, consent_path(case_id), {"scopes": ["COORDINATION"], "decision": "GIVEN", "decidedOn": "2026-03-01"})

    with capture_logs() as service_logs:
        await post(service, contacts_path(case_id), {"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "2026-03-02", "note": marker})
        await post(service, contacts_path(case_id), {"kind": "TREPARTSSAMTAL", "contactOn": "2026-03-02", "note": marker})
        await post(service, contacts_path(case_id), {"kind": "KARTLAGGNINGSSAMTAL", "contactOn": "2026-03-02", "note": marker + "\x00"})
        await put(service, plan_path(case_id), {"goal": marker, "nextStep": {"description": marker, "dueOn": "2026-03-01", "owner": "PATIENT"}})
        await eventually(lambda: stored_alerts(service, case_id))
        await service.http.get(contacts_path(case_id), headers=COORDINATOR_A)
        await service.http.get(contacts_path(case_id), headers={"authorization": "Bearer not-a-token"})

    assert any(entry["event"] == "request not authenticated" for entry in service_logs)  # the service's log lines are what was read
    assert marker not in str(service_logs) + caplog.text
    assert not any(marker in str(alert) for alert in await published_alerts(service, case_id))


async def test_two_next_step_checks_at_once_open_each_overdue_step_once(service):
    from services.notifications.next_step_alerts import NextStepAlerts
    from shared.clock import FixedClock

    cases = [await case_with_alert(service) for _ in range(12)]
    for case_id, _ in cases:
        await put(service, plan_path(case_id), a_plan("2026-03-20"))
    # The service's own check runs on 15 March, when these steps are not yet due; two checks of a later day race for them.
    later = FixedClock(datetime.combine(date(2026, 3, 25), time(12), tzinfo=STOCKHOLM))
    checks = [NextStepAlerts(service.topics.name(service.topics.alerts), later, "urn:reko:notifications") for _ in range(2)]

    async def drain(check: NextStepAlerts) -> None:
        # The test's pool has two connections: the two checks' transactions run side by side.
        while await check.check_once(service.pool, limit=2) == 2:  # noqa: ASYNC110 - not waiting for a condition: each round does the work
            await asyncio.sleep(0)

    await asyncio.gather(*(drain(check) for check in checks))

    published = [alert for case_id, _ in cases for alert in await published_alerts(service, case_id)]
    assert sorted(alert["caseId"] for alert in published) == sorted(case_id for case_id, _ in cases)
    assert all(alert["announce"] and alert["state"] == "OPEN" for alert in published)


async def test_an_overdue_next_step_reaches_the_coordinators_mail_like_any_alert(service):
    unit = "SE2321000000-1003"
    await service.pool.execute(
        "INSERT INTO coordinator_contact_preferences (coordinator_hsa_id, email, care_unit_hsa_ids, immediate, digest_time, updated_by) "
        "VALUES ($1, 'koordinator@example.invalid', $2, true, '07:30', $1)",
        "SE2321000000-3003",
        [unit],
    )
    case_id, _ = await case_with_alert(service, unit)

    saved = await put(service, plan_path(case_id, unit), a_plan("2026-03-10"), bearer([Role.REHABKOORDINATOR], [unit]))
    alert_id = f"next-step:{saved.json()['planId']}:2026-03-10"
    mailed = await eventually(lambda: service.pool.fetch("SELECT kind, due_date FROM mail_items WHERE alert_id = $1", alert_id))

    assert [(row["kind"], row["due_date"]) for row in mailed] == [("NEXT_STEP", date(2026, 3, 10))]

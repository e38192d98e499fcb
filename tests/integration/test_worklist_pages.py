"""The coordinator's pages on a running notifications service (real PostgreSQL and broker): the
worklist names her units' patients, the patient page records what she does, and nobody else sees it."""

from __future__ import annotations

import asyncio
import re
import time as wall_clock
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from reko.stack import create_database
from services.notifications import case_facts_store, repository
from services.notifications.app import create_app
from services.notifications.case_facts import CaseFacts
from services.notifications.identity_store import StoredIdentity, save_identities
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import STOCKHOLM
from shared.contracts.alerts import AlertChanged, AlertState
from shared.contracts.cases import CaseStatus, DegreeSpan
from shared.contracts.risk_flags import RiskFlagChanged, RiskFlagReason, RiskLevel
from shared.db import create_pool
from shared.identity_crypto import IdentityCipher
from shared.pages import SESSION_COOKIE, csrf_token
from shared.settings import Topics
from tests.support import MAN, WOMAN

pytestmark = pytest.mark.integration

SECRET = "worklist-pages-test-secret-not-for-production-0123"
UNIT_A = "SE2321000000-1001"
UNIT_B = "SE2321000000-1002"
COORDINATOR = "SE2321000000-3001"
DOCTOR = "SE2321000000-4001"
OTHER_COORDINATOR = "SE2321000000-3002"
TODAY = date(2026, 3, 15)
NOW = datetime.combine(TODAY, time(12), tzinfo=STOCKHOLM)
STORAGE_KEY = Fernet.generate_key().decode()


@dataclass
class Service:
    http: httpx.AsyncClient
    pool: asyncpg.Pool


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, postgres_server_url: str) -> AsyncIterator[Service]:
    name = f"t{uuid.uuid4().hex[:12]}"
    database_url = await create_database(postgres_server_url, name)
    settings = NotificationsSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        topics=Topics(prefix=f"{name}."),
        consumer_group_prefix=f"{name}.",
        clock=f"fixed:{NOW.isoformat()}",
        next_step_check_interval_seconds=0.1,
        identity_keys=Fernet.generate_key().decode(),  # type: ignore[arg-type]  # why: pydantic coerces the plain key
        identity_storage_keys=STORAGE_KEY,  # type: ignore[arg-type]  # why: as above
        auth=AuthSettings(jwt_secret=SECRET),  # type: ignore[arg-type]  # why: pydantic coerces the plain secret
        log_format="json",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifications") as http:
        pool = await create_pool(database_url, "notifications", size=2)
        yield Service(http, pool)
        await pool.close()


def new_patient() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


def case_facts(
    case_id: str,
    patient: str,
    unit: str,
    *,
    start: date,
    end: date,
    degree: int,
    diagnosis: str,
    protected: bool = False,
    doctor: str = DOCTOR,
) -> CaseFacts:
    """An ongoing psychiatric case of one certificate at `unit`, certified from `start` to `end` at `degree`."""
    return CaseFacts(
        case_id=case_id,
        patient_pseudonym=patient,
        patient_revision=1,
        care_unit_hsa_id=unit,
        care_provider_hsa_id="SE2321000000-1000",
        start=start,
        end=end,
        certified_days=(end - start).days + 1,
        main_diagnosis_code=diagnosis,
        diagnosis_group="psychiatric",
        degrees=(DegreeSpan(start=start, end=end, degree=degree),),
        certificate_ids=(f"{case_id}-c1",),
        status=CaseStatus.ACTIVE,
        protected_identity=protected,
        doctor_hsa_id=doctor,
    )


async def seed_patient(
    service: Service, *, person_id: str, unit: str, protected: bool = False, diagnosis: str = "F32.1", doctor: str = DOCTOR
) -> tuple[str, str]:
    """A patient with an ongoing case at `unit` whose latest certificate `doctor` signed, a due
    day-90 checkpoint and a stored identity."""
    patient, case_id = new_patient(), f"case-{uuid.uuid4().hex[:8]}"
    facts = case_facts(
        case_id, patient, unit, start=date(2025, 12, 10), end=date(2026, 4, 30), degree=100, diagnosis=diagnosis, protected=protected, doctor=doctor
    )
    alert = AlertChanged(
        alert_id=f"{case_id}:CHAIN_DAY_90:2026-03-09",
        care_unit_hsa_id=unit,
        addressed_to=f"rehabkoordinatorer:{unit}",
        case_id=case_id,
        kind="CHAIN_DAY_90",
        milestone_status="DUE",
        due_date=date(2026, 3, 9),
        title="Dag 90",
        created=NOW - timedelta(days=6),
        state=AlertState.OPEN,
        revision=1,
        announce=True,
    )
    cipher = IdentityCipher.from_setting(STORAGE_KEY)
    assert cipher is not None
    token, key_id = cipher.encrypt(person_id)
    async with service.pool.acquire() as conn:
        await case_facts_store.save_case_facts(conn, [facts])
        await repository.save_alerts(conn, [alert], {alert.alert_id: patient})
        await save_identities(conn, [StoredIdentity(patient, None if protected else token, None if protected else key_id, protected, 1)])
    return patient, case_id


async def signed_in(service: Service, sub: str, roles: list[str], units: list[str]) -> httpx.AsyncClient:
    token = issue_token(SECRET, sub, roles, units, timedelta(hours=8))
    answer = await service.http.post("/sign-in", data={"token": token, "next": "/worklist"})
    assert answer.status_code == 303
    return service.http


def form(service: Service, **fields: str) -> dict[str, str]:
    return {"csrf": csrf_token(service.http.cookies[SESSION_COOKIE]), **fields}


def message_of(answer: httpx.Response) -> str:
    found = re.search(r'class="message (?:done|error)"[^>]*>([^<]*)<', answer.text)
    return found[1] if found else ""


async def test_the_worklist_names_her_units_patients_and_counts_the_protected_ones(service: Service) -> None:
    _, case_id = await seed_patient(service, person_id=WOMAN, unit=UNIT_A)
    await seed_patient(service, person_id=MAN, unit=UNIT_A, protected=True)
    await seed_patient(service, person_id="195005052385", unit=UNIT_B)
    http = await signed_in(service, COORDINATOR, [Role.REHABKOORDINATOR], [UNIT_A])
    page = await http.get("/worklist")
    assert page.status_code == 200
    assert "19800124-9286" in page.text
    assert "19121212-1212" not in page.text, "a protected patient is never named"
    assert "med skyddad identitet" in page.text
    assert "19500505-2385" not in page.text, "another unit's patient"
    assert case_id in page.text
    assert "Rehabiliteringskedjan dag 90" in page.text
    hidden = await http.get("/worklist", params={"hide": "1"})
    assert "19800124-9286" not in hidden.text
    async with service.pool.acquire() as conn:
        logged = await conn.fetch("SELECT * FROM access_log WHERE resource = 'WORKLIST' AND user_hsa_id = $1", COORDINATOR)
    assert logged, "the worklist view is access-logged"


async def test_a_risk_alert_of_the_patients_earlier_case_is_worded_from_its_own_flag(service: Service) -> None:
    patient, _ = await seed_patient(service, person_id="195711242387", unit=UNIT_A)
    earlier = f"case-{uuid.uuid4().hex[:8]}"
    facts = case_facts(earlier, patient, UNIT_A, start=date(2025, 9, 1), end=date(2025, 11, 30), degree=50, diagnosis="F331")
    alert = AlertChanged(
        alert_id=f"{earlier}:RISK_FLAG",
        care_unit_hsa_id=UNIT_A,
        addressed_to=f"rehabkoordinatorer:{UNIT_A}",
        case_id=earlier,
        kind="RISK_FLAG",
        risk_level="HIGH",
        reason_codes=("DX_PSYCH",),
        title="Risk",
        created=NOW - timedelta(days=3),
        state=AlertState.OPEN,
        revision=1,
        announce=True,
    )
    flag = RiskFlagChanged(
        case_id=earlier,
        patient_pseudonym=patient,
        certificate_ids=(f"{earlier}-c1",),
        care_unit_hsa_id=UNIT_A,
        care_provider_hsa_id="SE2321000000-1000",
        level=RiskLevel.HIGH,
        score=5,
        flagged=True,
        reason_codes=("DX_PSYCH",),
        reasons=(RiskFlagReason(code="DX_PSYCH", weight=3, evidence="main diagnosis F331", matched_value="F331", limit="F33"),),
        revision=1,
    )
    async with service.pool.acquire() as conn:
        await case_facts_store.save_case_facts(conn, [facts])
        await repository.save_alerts(conn, [alert], {alert.alert_id: patient})
        await repository.save_risk_flag_reasons(conn, [flag])
    http = await signed_in(service, COORDINATOR, [Role.REHABKOORDINATOR], [UNIT_A])
    page = await http.get("/worklist")
    assert "19571124-2387" in page.text
    assert "psykiatrisk huvuddiagnos (F331)" in page.text


async def test_the_coordinator_records_status_consent_contact_and_plan_from_the_patient_page(service: Service) -> None:
    _, case_id = await seed_patient(service, person_id=WOMAN, unit=UNIT_A)
    http = await signed_in(service, COORDINATOR, [Role.REHABKOORDINATOR], [UNIT_A])
    page = await http.get(f"/patients/{case_id}")
    assert page.status_code == 200
    assert "19800124-9286" in page.text

    refused = await http.post(f"/patients/{case_id}/contacts", data=form(service, kind="TREPARTSSAMTAL", contact_on="2026-03-14", note="Möte"))
    refused_page = await http.get(refused.headers["location"])
    assert "samtycke" in message_of(refused_page).lower()

    answers = [
        await http.post(f"/patients/{case_id}/reko-status", data=form(service, status="Kontaktad")),
        await http.post(
            f"/patients/{case_id}/consent", data={**form(service, decision="GIVEN", decided_on="2026-03-10"), "scopes": ["COORDINATION", "EMPLOYER"]}
        ),
        await http.post(f"/patients/{case_id}/contacts", data=form(service, kind="TREPARTSSAMTAL", contact_on="2026-03-14", note="Möte med chefen")),
        await http.post(
            f"/patients/{case_id}/plan",
            data=form(
                service, goal="Åter i arbete", steps="Trepartssamtal", next_step="Ring patienten", next_step_on="2026-03-12", owner="REHABKOORDINATOR"
            ),
        ),
    ]
    for answer in answers:
        assert answer.status_code == 303
        assert "message=" in answer.headers["location"], answer.headers["location"]
    after = await http.get(f"/patients/{case_id}")
    assert "Kontaktad" in after.text
    assert "Trepartssamtal: Möte med chefen" in after.text
    assert "Ring patienten" in after.text

    deadline = wall_clock.monotonic() + 10
    while "Nästa steg i planen har passerat sitt datum" not in after.text and wall_clock.monotonic() < deadline:
        await asyncio.sleep(0.2)
        after = await http.get(f"/patients/{case_id}")
    assert "Nästa steg i planen har passerat sitt datum" in after.text, "an overdue next step raises an alert"

    alert_id = f"{case_id}:CHAIN_DAY_90:2026-03-09"
    handled = await http.post(f"/patients/{case_id}/alerts/{alert_id}/handled", data=form(service))
    assert "message=" in handled.headers["location"]
    worklist = await http.get("/worklist", params={"kind": "CHAIN_DAY_90"})
    assert case_id not in worklist.text, "a handled alert leaves the list"


async def test_a_form_without_its_csrf_token_changes_nothing(service: Service) -> None:
    _, case_id = await seed_patient(service, person_id=WOMAN, unit=UNIT_A)
    http = await signed_in(service, COORDINATOR, [Role.REHABKOORDINATOR], [UNIT_A])
    answer = await http.post(f"/patients/{case_id}/reko-status", data={"status": "Aktiv", "csrf": "forged"})
    assert answer.status_code == 403
    page = await http.get(f"/patients/{case_id}")
    assert "Aktiv" not in page.text.split("REKO-status</dt>")[1][:40]


async def test_a_coordinator_of_another_unit_sees_none_of_it(service: Service) -> None:
    _, case_id = await seed_patient(service, person_id=WOMAN, unit=UNIT_A)
    http = await signed_in(service, OTHER_COORDINATOR, [Role.REHABKOORDINATOR], [UNIT_B])
    worklist = await http.get("/worklist")
    assert case_id not in worklist.text
    page = await http.get(f"/patients/{case_id}")
    assert page.status_code == 404
    assert "19800124-9286" not in page.text
    changed = await http.post(f"/patients/{case_id}/reko-status", data=form(service, status="Aktiv"))
    assert changed.status_code == 404


@pytest.mark.parametrize("role", [Role.VERKSAMHETSCHEF, Role.REGIONKONTOR, Role.GRANSKARE])
async def test_roles_without_patient_level_access_get_no_worklist_or_patient_page(service: Service, role: str) -> None:
    _, case_id = await seed_patient(service, person_id=WOMAN, unit=UNIT_A)
    http = await signed_in(service, "SE2321000000-9001", [role], [UNIT_A])
    for path in ("/worklist", f"/patients/{case_id}", "/team-meeting"):
        answer = await http.get(path)
        assert answer.status_code == 403, (role, path)
        assert "19800124-9286" not in answer.text
        assert case_id not in answer.text


async def test_a_doctor_reads_the_patient_page_without_its_forms(service: Service) -> None:
    _, case_id = await seed_patient(service, person_id=WOMAN, unit=UNIT_A)
    http = await signed_in(service, DOCTOR, [Role.LAKARE], [UNIT_A])
    page = await http.get(f"/patients/{case_id}")
    assert page.status_code == 200
    assert "Spara status" not in page.text
    assert (await http.get("/worklist")).status_code == 403


async def test_a_doctor_gets_no_patient_page_of_another_doctors_patient_and_nothing_is_logged(service: Service) -> None:
    patient, case_id = await seed_patient(service, person_id=WOMAN, unit=UNIT_A, doctor="SE2321000000-4999")
    http = await signed_in(service, DOCTOR, [Role.LAKARE], [UNIT_A])
    page = await http.get(f"/patients/{case_id}")
    unknown = await http.get("/patients/case-unknown")
    assert page.status_code == 404
    assert "19800124-9286" not in page.text
    assert page.text.replace(case_id, "case-unknown") == unknown.text
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM access_log WHERE $1 = ANY(patient_pseudonyms)", patient) == 0


async def test_the_team_meeting_list_and_its_print_are_access_logged(service: Service) -> None:
    patient, case_id = await seed_patient(service, person_id=WOMAN, unit=UNIT_A)
    http = await signed_in(service, COORDINATOR, [Role.REHABKOORDINATOR], [UNIT_A])
    page = await http.get("/team-meeting", params={"unit": UNIT_A, "since": "2025-12-01"})
    assert page.status_code == 200
    assert case_id in page.text
    assert "Psykiatrisk diagnos (F32.1)" in page.text
    printed = await http.get("/team-meeting", params={"unit": UNIT_A, "since": "2025-12-01", "print": "1"})
    assert printed.status_code == 200
    async with service.pool.acquire() as conn:
        rows = await conn.fetch("SELECT resource FROM access_log WHERE $1 = ANY(patient_pseudonyms) AND resource LIKE 'TEAM_MEETING%'", patient)
    assert {row["resource"] for row in rows} == {"TEAM_MEETING", "TEAM_MEETING_PRINT"}


async def test_the_coordinator_sets_her_own_mail_from_the_preferences_page(service: Service) -> None:
    http = await signed_in(service, COORDINATOR, [Role.REHABKOORDINATOR], [UNIT_A])
    answer = await http.post(
        "/preferences", data={**form(service, email="anna.andersson@example.org", digest_time="08:15"), "units": [UNIT_A], "immediate": "1"}
    )
    assert answer.status_code == 303
    assert "message=" in answer.headers["location"]
    page = await http.get("/preferences")
    assert 'value="anna.andersson@example.org"' in page.text
    assert 'value="08:15"' in page.text
    refused = await http.post("/preferences", data={**form(service, email="anna.andersson@example.org", digest_time="08:15"), "units": [UNIT_B]})
    assert "problem=" in refused.headers["location"], "mail only for units she acts for"

"""Intake's inspection API against a real PostgreSQL: filters, roles, protected identity, the PDL log."""

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from reko.stack import create_database
from services.intake import audit_api, repository
from services.intake.api import inspection_router
from services.intake.app import MIGRATIONS
from services.intake.pseudonym import pseudonymise
from services.intake.settings import IntakeSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import Clock, FixedClock
from shared.contracts.certificates import CertificateSigned, parse_certificate_event
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.http_errors import install_error_answers
from shared.logging import find_personnummer
from shared.personnummer import luhn_check_digit, parse_personnummer
from shared.sickleave.case_changes import case_snapshot
from shared.sickleave.certificate import certificate_from_contract
from shared.sickleave.sick_leave_case import assemble_sick_leave_cases
from tests.support import MAN, WOMAN, revoked_event, signed_event

pytestmark = pytest.mark.integration

UNIT_A = "SE2321000000-1001"
UNIT_B = "SE2321000000-1002"
# A unit of another care provider (a private clinic, say): its certificates need the patient's consent.
UNIT_C = "SE5565000000-1003"
OWN_PROVIDER = "SE2321000000-1000"
OTHER_PROVIDER = "SE5565000000-1000"
DOCTOR_1 = "SE2321000000-2001"
DOCTOR_2 = "SE2321000000-2002"
DOCTOR_3 = "SE5565000000-2003"
TODAY = date(2026, 3, 15)
CLOCK = FixedClock(datetime.fromisoformat("2026-03-15T12:00:00+01:00"))
SETTINGS = IntakeSettings(
    pseudonym_key="test-pseudonym-key-not-secret",  # type: ignore[arg-type]  # why: pydantic makes the str a SecretStr
    auth=AuthSettings(jwt_secret="test-jwt-secret-not-secret-but-long-enough"),  # type: ignore[arg-type]  # why: as above
)


def fake_personnummer(born: str, serial: str) -> str:
    """A valid personnummer that is not anyone's test number: birth date, three digits, the Luhn digit."""
    return f"{born}{serial}{luhn_check_digit(born[2:] + serial)}"


PROTECTED = fake_personnummer("20000316", "238")  # a woman, 25 on 15 March 2026
ELSEWHERE = fake_personnummer("19900505", "123")  # known only at unit B
NEVER_SEEN = fake_personnummer("19700101", "456")
PERSON_IDS = (WOMAN, MAN, PROTECTED, ELSEWHERE, NEVER_SEEN)


def pseudonym_of(person_id: str) -> str:
    normalised = parse_personnummer(person_id, on=TODAY).normalised
    return pseudonymise(normalised, SETTINGS.pseudonym_key.get_secret_value().encode())


def certificate(
    certificate_id: str,
    person_id: str,
    periods: list[tuple[str, str, int]],
    signed_at: str,
    *,
    unit: str = UNIT_A,
    doctor: str = DOCTOR_1,
    **options: Any,
) -> dict[str, Any]:
    event = signed_event(f"e-{certificate_id}", certificate_id, person_id=person_id, periods=periods, signed_at=signed_at, care_unit=unit, **options)
    event["data"]["issuer"]["doctorHsaId"] = doctor
    return event


FEED = [
    # the woman: an earlier case at unit B, a replaced certificate, an ag7804, a revoked one
    certificate("W0", WOMAN, [("2025-11-01", "2025-11-20", 100)], "2025-11-01T09:00:00+01:00", unit=UNIT_B),
    certificate("W1", WOMAN, [("2026-03-01", "2026-03-31", 100)], "2026-03-01T09:00:00+01:00", diagnosis="F32"),
    certificate(
        "W2",
        WOMAN,
        [("2026-03-01", "2026-03-10", 100), ("2026-03-11", "2026-03-31", 50)],
        "2026-03-05T09:00:00+01:00",
        diagnosis="F32",
        relations=[("ERSATT", "W1"), ("FRLANG", "W-UNSEEN")],
    ),
    certificate("W3", WOMAN, [("2026-03-01", "2026-03-31", 100)], "2026-03-02T09:00:00+01:00", certificateType="ag7804"),
    certificate("W4", WOMAN, [("2026-04-10", "2026-04-20", 100)], "2026-03-14T09:00:00+01:00"),
    revoked_event("r-W4", "W4", revoked_at="2026-03-14T15:00:00+01:00"),
    # revoked before it ever arrived; W2 names it
    revoked_event("r-W-UNSEEN", "W-UNSEEN", revoked_at="2026-03-10T10:00:00+01:00"),
    # the man, 113 years old, job-seeking, with the second doctor
    certificate(
        "M1", MAN, [("2026-02-01", "2026-03-20", 50)], "2026-02-01T09:00:00+01:00", doctor=DOCTOR_2, diagnosis="M54.5", occupations=("ARBETSSOKANDE",)
    ),
    # a patient with protected identity, at both units
    certificate(
        "P2",
        PROTECTED,
        [("2025-06-01", "2025-06-30", 100)],
        "2025-06-01T09:00:00+02:00",
        unit=UNIT_B,
        diagnosis="F41.1",
        patient={"personId": PROTECTED, "protectedIdentity": True},
    ),
    certificate(
        "P1",
        PROTECTED,
        [("2026-03-10", "2026-04-10", 100)],
        "2026-03-10T09:00:00+01:00",
        diagnosis="F41.1",
        patient={"personId": PROTECTED, "protectedIdentity": True},
    ),
    # a patient only unit B knows
    certificate("E1", ELSEWHERE, [("2026-03-01", "2026-03-31", 100)], "2026-03-01T09:00:00+01:00", unit=UNIT_B),
    # the woman at another care provider, the summer before
    certificate(
        "WX",
        WOMAN,
        [("2025-06-01", "2025-06-30", 100)],
        "2025-06-01T09:00:00+02:00",
        unit=UNIT_C,
        care_provider=OTHER_PROVIDER,
        doctor=DOCTOR_3,
        diagnosis="F41.1",
    ),
]


async def store_feed(conn: asyncpg.Connection, feed: list[dict[str, Any]]) -> None:
    """What intake's subscriber stores for these events: patients, certificates, revocations and cases."""
    key = SETTINGS.pseudonym_key.get_secret_value().encode()
    events = [parse_certificate_event(json.dumps(event).encode()) for event in feed]
    patients, certificates, revocations = {}, [], []
    for event in events:
        if isinstance(event, CertificateSigned):
            identity = parse_personnummer(event.data.patient.person_id, on=event.data.signing_date)
            pseudonym = pseudonymise(identity.normalised, key)
            certificates.append(certificate_from_contract(event.data, patient_pseudonym=pseudonym))
            patients[pseudonym] = (identity.birth_date, identity.sex.value)
        else:
            revocations.append((event.data.certificate_id, event.data.revoked_at))
    await repository.add_patients(conn, [(pseudonym, born, sex) for pseudonym, (born, sex) in patients.items()])
    await repository.add_certificates(conn, certificates)
    await repository.add_revocations(conn, revocations)
    saved = []
    for history in await repository.patient_histories(conn, set(patients)):
        cases = assemble_sick_leave_cases(history.certificates, history.revoked_ids, max_gap=SETTINGS.max_gap)
        snapshots = [
            case_snapshot(case, patient_pseudonym=history.patient_pseudonym, birth_date=history.birth_date, sex=history.sex) for case in cases
        ]
        saved.append(repository.SavedCases(history.patient_pseudonym, [s.case_id for s in snapshots], snapshots, 1))
    await repository.save_cases(conn, saved)


@dataclass
class RouterRuntime:
    """All the router uses of a service runtime: the pool and the clock."""

    pool: asyncpg.Pool
    clock: Clock


@pytest.fixture(scope="module")
async def intake_pool(postgres_server_url: str) -> AsyncIterator[asyncpg.Pool]:
    database_url = await create_database(postgres_server_url, f"t{uuid.uuid4().hex[:12]}")
    pool = await create_pool(database_url, "intake", size=3)
    await migrate(pool, "intake", PLATFORM_MIGRATIONS, MIGRATIONS)
    async with pool.acquire() as conn, conn.transaction():
        await store_feed(conn, FEED)
    yield pool
    await pool.close()


def client_for(pool: asyncpg.Pool, settings: IntakeSettings = SETTINGS) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_answers(app)
    app.include_router(inspection_router(RouterRuntime(pool, CLOCK), settings))  # type: ignore[arg-type]  # why: a stand-in with just the pool and clock the router uses
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


def bearer(sub: str, roles: list[str], units: list[str], ttl: timedelta = timedelta(hours=8), **options: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS.auth, sub, roles, units, ttl, **options)}"}


def new_user() -> str:
    # A user of one's own per test, so each test finds its own access-log rows.
    return f"SE2321000000-U{uuid.uuid4().hex[:8]}"


def coordinator(unit: str = UNIT_A, sub: str | None = None) -> dict[str, str]:
    return bearer(sub or new_user(), [Role.REHABKOORDINATOR], [unit])


async def list_cases(pool: asyncpg.Pool, headers: dict[str, str], unit: str = UNIT_A, **params: Any) -> httpx.Response:
    async with client_for(pool) as client:
        return await client.get(f"/units/{unit}/cases", params=params, headers=headers)


async def history(pool: asyncpg.Pool, headers: dict[str, str], body: Any) -> httpx.Response:
    async with client_for(pool) as client:
        return await client.post("/patients/history", json=body, headers=headers)


async def access_rows(pool: asyncpg.Pool, user_hsa_id: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM access_log WHERE user_hsa_id = $1 ORDER BY id", user_hsa_id)


def case_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [case["caseId"] for case in response.json()["cases"]]


# --- the unit's cases ------------------------------------------------------------------------


async def test_a_coordinator_sees_every_case_ongoing_at_the_unit_today(intake_pool):
    response = await list_cases(intake_pool, coordinator())

    body = response.json()
    assert case_ids(response) == ["M1", "W2", "P1"]  # by start: 1 Feb, 1 Mar, 10 Mar
    assert (body["on"], body["selection"], body["count"]) == ("2026-03-15", "ALL", 3)
    man, woman, protected = body["cases"]
    assert woman == {
        "caseId": "W2",
        "patientPseudonym": pseudonym_of(WOMAN),
        "sex": "F",
        "age": 46,
        "start": "2026-03-01",
        "end": "2026-03-31",
        "certifiedDays": 31,
        "mainDiagnosisCode": "F32",
        "diagnosisChapter": {"id": "F00-F99", "numeral": "V", "title": "Psykiska sjukdomar och syndrom samt beteendestörningar"},
        "currentDegree": 50,
        "doctorHsaId": DOCTOR_1,
        "occupations": ["NUVARANDE_ARBETE"],
        "certificateCount": 1,  # W1 is voided by W2
        "protectedIdentity": False,
        "risk": None,  # risk flags are written by the consumer, which this test does not run
    }
    # 1 February–20 March: 28 + 20 = 48 days
    assert (man["age"], man["sex"], man["certifiedDays"], man["diagnosisChapter"]["id"]) == (113, "M", 48, "M00-M99")
    # 10 March–10 April: 22 + 10 = 32 days
    assert (protected["protectedIdentity"], protected["age"], protected["certifiedDays"]) == (True, 25, 32)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"on": "2026-02-15"}, ["M1"]),
        ({"diagnosis_chapter": "F00-F99"}, ["W2", "P1"]),
        ({"diagnosis_chapter": ["F00-F99", "M00-M99"]}, ["M1", "W2", "P1"]),
        ({"min_days": 40}, ["M1"]),
        ({"min_days": 31, "max_days": 32}, ["W2", "P1"]),
        ({"degree": 100}, ["P1"]),
        ({"degree": [50, 100]}, ["M1", "W2", "P1"]),
        ({"min_age": 30, "max_age": 50}, ["W2"]),
        ({"occupation": "ARBETSSOKANDE"}, ["M1"]),
        ({"doctor": DOCTOR_2}, ["M1"]),
        ({"diagnosis_chapter": "F00-F99", "degree": 100}, ["P1"]),
    ],
)
async def test_filters_narrow_the_list(intake_pool, params: dict[str, Any], expected: list[str]):
    assert case_ids(await list_cases(intake_pool, coordinator(), **params)) == expected


async def test_unit_b_has_its_own_cases(intake_pool):
    assert case_ids(await list_cases(intake_pool, coordinator(UNIT_B), unit=UNIT_B)) == ["E1"]


async def test_a_doctor_sees_only_the_cases_they_issued(intake_pool):
    doctor = bearer(DOCTOR_2, [Role.LAKARE], [UNIT_A])

    response = await list_cases(intake_pool, doctor)

    assert case_ids(response) == ["M1"]
    assert response.json()["selection"] == "ISSUED_BY_ME"


@pytest.mark.parametrize("params", [{"diagnosis_chapter": "F00-F98"}, {"min_age": 60, "max_age": 50}, {"degree": 30}, {"on": "15/3"}])
async def test_a_filter_that_makes_no_sense_is_unprocessable(intake_pool, params: dict[str, Any]):
    assert (await list_cases(intake_pool, coordinator(), **params)).status_code == 422


async def test_the_list_is_logged_with_every_patient_it_showed(intake_pool):
    user = new_user()

    await list_cases(intake_pool, bearer(user, [Role.REHABKOORDINATOR], [UNIT_A], name="Rut Rehab"), diagnosis_chapter="F00-F99")

    (row,) = await access_rows(intake_pool, user)
    assert (row["user_name"], row["roles"], row["care_unit_hsa_id"]) == ("Rut Rehab", ["REHABKOORDINATOR"], UNIT_A)
    assert (row["action"], row["resource"], row["purpose"]) == ("READ", "SICK_LEAVE_CASES", "Vård och behandling")
    assert row["patient_pseudonyms"] == sorted([pseudonym_of(WOMAN), pseudonym_of(PROTECTED)])
    assert row["request_path"] == f"/units/{UNIT_A}/cases"


# --- who may list ----------------------------------------------------------------------------


async def test_listing_without_a_token_is_unauthenticated(intake_pool):
    response = await list_cases(intake_pool, {})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_listing_with_an_expired_token_is_unauthenticated(intake_pool):
    expired = bearer(new_user(), [Role.REHABKOORDINATOR], [UNIT_A], ttl=timedelta(minutes=5), now=datetime.now().astimezone() - timedelta(hours=1))

    assert (await list_cases(intake_pool, expired)).status_code == 401


async def test_the_regional_office_may_not_list_patients(intake_pool):
    user = new_user()

    response = await list_cases(intake_pool, bearer(user, [Role.REGIONKONTOR], [UNIT_A]))

    assert response.status_code == 403
    assert await access_rows(intake_pool, user) == []


async def test_a_coordinator_of_another_unit_may_not_list_this_one(intake_pool):
    user = new_user()

    response = await list_cases(intake_pool, coordinator(UNIT_B, sub=user), unit=UNIT_A)

    assert response.status_code == 403
    assert await access_rows(intake_pool, user) == []


async def test_without_a_configured_key_the_api_is_closed(intake_pool):
    unconfigured = SETTINGS.model_copy(update={"auth": AuthSettings()})

    async with client_for(intake_pool, unconfigured) as client:
        response = await client.get(f"/units/{UNIT_A}/cases", headers=coordinator())

    assert (response.status_code, response.json()["detail"]) == (503, "Autentisering är inte konfigurerad för tjänsten.")


# --- one patient's history -------------------------------------------------------------------


async def test_the_history_explains_every_certificate(intake_pool):
    response = await history(intake_pool, coordinator(), {"personId": "19800124-9286", "careUnitHsaId": UNIT_A})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["patientPseudonym"], body["sex"], body["age"], body["protectedIdentity"]) == (pseudonym_of(WOMAN), "F", 46, False)
    assert [(case["caseId"], case["careUnitHsaId"], case["ongoing"]) for case in body["cases"]] == [("W0", UNIT_B, False), ("W2", UNIT_A, True)]
    assert list(body["cases"][1]["degrees"]) == [
        {"start": "2026-03-01", "end": "2026-03-10", "degree": 100},
        {"start": "2026-03-11", "end": "2026-03-31", "degree": 50},
    ]
    standings = {c["certificateId"]: c["standing"] for c in body["certificates"]}
    assert list(standings) == ["W0", "W1", "W3", "W2", "W4"]  # signing order
    assert {certificate_id: (s["standing"], s["caseId"]) for certificate_id, s in standings.items()} == {
        "W0": ("COUNTS", "W0"),
        "W1": ("VOIDED", None),
        "W3": ("NOT_A_SICK_LEAVE_CERTIFICATE", None),
        "W2": ("COUNTS", "W2"),
        "W4": ("REVOKED", None),
    }
    assert standings["W1"]["voidedBy"] == [{"certificateId": "W2", "relation": "ERSATT"}]
    assert standings["W4"]["explanation"] == "Revoked on 2026-03-14; a revoked certificate never counts."
    assert [r["certificateId"] for r in body["revokedBeforeArrival"]] == ["W-UNSEEN"]
    w2 = next(c for c in body["certificates"] if c["certificateId"] == "W2")
    assert w2["relations"] == [{"type": "ERSATT", "relatedCertificateId": "W1"}, {"type": "FRLANG", "relatedCertificateId": "W-UNSEEN"}]
    assert w2["mainDiagnosisChapter"]["id"] == "F00-F99"
    assert WOMAN not in response.text and WOMAN[2:] not in response.text


async def test_reading_a_history_is_logged_by_pseudonym(intake_pool):
    user = new_user()

    await history(intake_pool, coordinator(sub=user), {"personId": WOMAN, "careUnitHsaId": UNIT_A})

    (row,) = await access_rows(intake_pool, user)
    assert (row["resource"], row["care_unit_hsa_id"], row["request_path"]) == ("PATIENT_HISTORY", UNIT_A, "/patients/history")
    assert row["patient_pseudonyms"] == [pseudonym_of(WOMAN)]


async def test_a_doctor_may_read_a_history_too(intake_pool):
    response = await history(intake_pool, bearer(DOCTOR_1, [Role.LAKARE], [UNIT_A]), {"personId": WOMAN, "careUnitHsaId": UNIT_A})

    assert response.status_code == 200


async def test_a_protected_patients_history_holds_only_the_asking_units_certificates(intake_pool):
    at_a = await history(intake_pool, coordinator(UNIT_A), {"personId": PROTECTED, "careUnitHsaId": UNIT_A})
    at_b = await history(intake_pool, coordinator(UNIT_B), {"personId": PROTECTED, "careUnitHsaId": UNIT_B})

    assert at_a.json()["protectedIdentity"] is True
    assert [c["certificateId"] for c in at_a.json()["certificates"]] == ["P1"]
    assert [c["caseId"] for c in at_a.json()["cases"]] == ["P1"]
    assert [c["certificateId"] for c in at_b.json()["certificates"]] == ["P2"]
    assert "P2" not in at_a.text


async def test_a_patient_known_only_elsewhere_is_not_found_like_an_unknown_one(intake_pool):
    user = new_user()

    elsewhere = await history(intake_pool, coordinator(sub=user), {"personId": ELSEWHERE, "careUnitHsaId": UNIT_A})
    unknown = await history(intake_pool, coordinator(sub=user), {"personId": NEVER_SEEN, "careUnitHsaId": UNIT_A})

    assert (elsewhere.status_code, unknown.status_code) == (404, 404)
    assert elsewhere.json() == unknown.json()
    assert await access_rows(intake_pool, user) == []


async def test_the_unit_in_the_body_must_be_one_the_user_acts_for(intake_pool):
    response = await history(intake_pool, coordinator(UNIT_B), {"personId": WOMAN, "careUnitHsaId": UNIT_A})

    assert response.status_code == 403


async def test_the_regional_office_may_not_read_a_history(intake_pool):
    response = await history(intake_pool, bearer(new_user(), [Role.REGIONKONTOR], [UNIT_A]), {"personId": WOMAN, "careUnitHsaId": UNIT_A})

    assert response.status_code == 403


async def test_reading_a_history_without_a_token_is_unauthenticated(intake_pool):
    assert (await history(intake_pool, {}, {"personId": WOMAN, "careUnitHsaId": UNIT_A})).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"personId": "198001249287", "careUnitHsaId": UNIT_A},  # the Luhn digit is wrong
        {"personId": 198001249286, "careUnitHsaId": UNIT_A},  # a number, not text
        {"personId": "19800124-9286"},  # no unit
        ["198001249286", UNIT_A],
        "198001249286",
    ],
    ids=["bad check digit", "not text", "no unit", "a list", "a bare string"],
)
async def test_a_bad_request_is_unprocessable_and_never_repeats_the_number(intake_pool, body: Any):
    response = await history(intake_pool, coordinator(), body)

    assert response.status_code == 422
    assert find_personnummer(response.text) == []
    assert "8001249286" not in response.text and "8001249287" not in response.text


async def test_no_personnummer_ever_reaches_the_access_log(intake_pool):
    user = new_user()
    for person_id in PERSON_IDS:
        await history(intake_pool, coordinator(sub=user), {"personId": person_id, "careUnitHsaId": UNIT_A})
    await list_cases(intake_pool, coordinator(sub=user))

    everything = json.dumps([dict(row) for row in await intake_pool.fetch("SELECT * FROM access_log")], default=str)

    assert len(await access_rows(intake_pool, user)) == 4  # three histories found, and the list
    assert find_personnummer(everything) == []
    assert not any(person_id[2:] in everything for person_id in PERSON_IDS)


# --- another care provider's certificates (consent not recorded) -----------------------------


async def test_a_history_holds_only_the_own_care_providers_certificates_and_counts_the_others(intake_pool):
    response = await history(intake_pool, coordinator(UNIT_A), {"personId": WOMAN, "careUnitHsaId": UNIT_A})

    body = response.json()
    assert [c["certificateId"] for c in body["certificates"]] == ["W0", "W1", "W3", "W2", "W4"]
    assert [c["caseId"] for c in body["cases"]] == ["W0", "W2"]
    assert body["certificatesWithheldFromOtherCareProviders"] == 1
    for detail in ("WX", UNIT_C, OTHER_PROVIDER, DOCTOR_3, "F41"):
        assert detail not in response.text


async def test_the_other_care_provider_sees_only_its_own_certificates_of_the_patient(intake_pool):
    response = await history(intake_pool, coordinator(UNIT_C), {"personId": WOMAN, "careUnitHsaId": UNIT_C})

    body = response.json()
    assert [c["certificateId"] for c in body["certificates"]] == ["WX"]
    assert [(c["caseId"], c["careProviderHsaId"]) for c in body["cases"]] == [("WX", OTHER_PROVIDER)]
    assert body["certificatesWithheldFromOtherCareProviders"] == 5
    assert body["revokedBeforeArrival"] == []
    assert UNIT_A not in response.text and OWN_PROVIDER not in response.text


async def test_the_access_log_names_the_units_and_care_providers_whose_data_was_shown(intake_pool):
    user = new_user()

    await history(intake_pool, coordinator(UNIT_A, sub=user), {"personId": WOMAN, "careUnitHsaId": UNIT_A})
    await history(intake_pool, coordinator(UNIT_C, sub=user), {"personId": WOMAN, "careUnitHsaId": UNIT_C})

    at_a, at_c = await access_rows(intake_pool, user)
    assert (at_a["care_unit_hsa_id"], at_a["shown_care_units"], at_a["shown_care_providers"]) == (UNIT_A, [UNIT_A, UNIT_B], [OWN_PROVIDER])
    assert (at_c["care_unit_hsa_id"], at_c["shown_care_units"], at_c["shown_care_providers"]) == (UNIT_C, [UNIT_C], [OTHER_PROVIDER])


async def test_a_protected_patients_history_counts_no_other_unit_of_the_own_care_provider(intake_pool):
    response = await history(intake_pool, coordinator(UNIT_A), {"personId": PROTECTED, "careUnitHsaId": UNIT_A})

    assert response.json()["certificatesWithheldFromOtherCareProviders"] == 0


# --- a doctor reads only their own patients ---------------------------------------------------


async def test_a_doctor_may_not_read_the_history_of_another_doctors_patient(intake_pool):
    unknown = await history(intake_pool, bearer(DOCTOR_2, [Role.LAKARE], [UNIT_A]), {"personId": NEVER_SEEN, "careUnitHsaId": UNIT_A})
    response = await history(intake_pool, bearer(DOCTOR_2, [Role.LAKARE], [UNIT_A]), {"personId": WOMAN, "careUnitHsaId": UNIT_A})

    assert response.status_code == 404
    assert response.json() == unknown.json()
    assert [row for row in await access_rows(intake_pool, DOCTOR_2) if row["resource"] == "PATIENT_HISTORY"] == []


async def test_a_doctor_reads_the_history_of_a_patient_they_issued_a_certificate_for(intake_pool):
    response = await history(intake_pool, bearer(DOCTOR_2, [Role.LAKARE], [UNIT_A]), {"personId": MAN, "careUnitHsaId": UNIT_A})

    assert response.status_code == 200
    assert [c["doctorHsaId"] for c in response.json()["certificates"]] == [DOCTOR_2]


async def test_a_doctor_who_also_coordinates_the_unit_reads_every_patients_history(intake_pool):
    both = bearer(DOCTOR_2, [Role.LAKARE, Role.REHABKOORDINATOR], [UNIT_A])

    assert (await history(intake_pool, both, {"personId": WOMAN, "careUnitHsaId": UNIT_A})).status_code == 200


async def test_a_certificate_at_another_care_provider_does_not_make_the_patient_the_doctors_here(intake_pool):
    # DOCTOR_3 wrote WX at UNIT_C; acting for UNIT_A they see only UNIT_A's care provider, where they wrote nothing.
    response = await history(intake_pool, bearer(DOCTOR_3, [Role.LAKARE], [UNIT_A, UNIT_C]), {"personId": WOMAN, "careUnitHsaId": UNIT_A})

    assert response.status_code == 404


# --- bad input is a client error that echoes nothing ------------------------------------------


HOSTILE_HISTORY_BODIES = {
    "the personnummer as the unit": b'{"personId": "19800124-9286", "careUnitHsaId": "19800124-9286"}',
    "the personnummer in a list": b'{"personId": ["19800124-9286"], "careUnitHsaId": "SE2321000000-1001"}',
    "the personnummer as a key": b'{"198001249286": "19800124-9286"}',
    "the personnummer as a number": b'{"personId": 198001249286, "careUnitHsaId": "SE2321000000-1001"}',
    "lone surrogates": b'{"personId": "\\ud800", "careUnitHsaId": "\\udfff"}',
    "NUL characters": b'{"personId": "19800124-9286\\u0000", "careUnitHsaId": "SE2321000000-1001"}',
    "nested 10,000 levels": b'{"personId": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "a 5,000-digit integer": b'{"personId": ' + b"9" * 5_000 + b', "careUnitHsaId": "SE2321000000-1001"}',
    "not JSON": b'{"personId": "19800124-9286",',
}


@pytest.mark.parametrize("kind", list(HOSTILE_HISTORY_BODIES))
async def test_a_hostile_history_request_is_a_client_error_that_never_repeats_the_number(intake_pool, kind):
    async with client_for(intake_pool) as client:
        response = await client.post(
            "/patients/history", content=HOSTILE_HISTORY_BODIES[kind], headers={**coordinator(), "content-type": "application/json"}
        )

    assert 400 <= response.status_code < 500, response.text
    assert find_personnummer(response.text) == [] and "8001249286" not in response.text
    assert "99999" not in response.text


async def test_a_validation_error_names_the_field_and_the_problem(intake_pool):
    response = await history(intake_pool, coordinator(), {"personId": 198001249286, "careUnitHsaId": UNIT_A})

    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": "body.personId", "problem": "Input should be a valid string"}]}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/units/%00/cases", {}),
        (f"/units/{UNIT_A}/cases", {"on": "9999-12-31"}),
        (f"/units/{UNIT_A}/cases", {"on": "0001-01-01"}),
        (f"/units/{UNIT_A}/cases", {"on": "19800124-9286"}),
        (f"/units/{UNIT_A}/cases", {"min_days": "9" * 5_000}),
        (f"/units/{UNIT_A}/cases", {"diagnosis_chapter": "19800124-9286"}),
        (f"/units/{UNIT_A}/cases", {"doctor": "\x00"}),
        # a surrogate's UTF-8-like bytes, which no client library will encode from text
        (f"/units/{UNIT_A}/cases?occupation=%ED%A0%80&doctor=%ED%A0%80", {}),
    ],
    ids=["NUL unit", "year 9999", "year 1", "personnummer as date", "huge number", "personnummer as chapter", "NUL doctor", "surrogate"],
)
async def test_a_hostile_case_list_request_never_fails_and_echoes_nothing(intake_pool, path: str, params: dict[str, Any]):
    async with client_for(intake_pool) as client:
        response = await client.get(path, params=params, headers=bearer(new_user(), [Role.REHABKOORDINATOR], [UNIT_A, "\x00"]))

    assert response.status_code < 500, response.text
    assert find_personnummer(response.text) == [] and "99999" not in response.text


async def test_the_auditor_asks_intake_by_personnummer_and_learns_the_pseudonym_and_who_looked(intake_pool: asyncpg.Pool) -> None:
    reader = new_user()
    assert (await history(intake_pool, coordinator(sub=reader), {"personId": WOMAN, "careUnitHsaId": UNIT_A})).status_code == 200
    app = FastAPI()
    install_error_answers(app)
    app.include_router(audit_api.router(RouterRuntime(intake_pool, CLOCK), SETTINGS))  # type: ignore[arg-type]  # why: a stand-in with just the pool and clock the router uses
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as audit:
        answer = await audit.post("/access-log/patient", json={"personId": WOMAN}, headers=bearer(new_user(), [Role.GRANSKARE], []))
        refused = await audit.post("/access-log/patient", json={"personId": WOMAN}, headers=coordinator())
    assert answer.status_code == 200
    body = answer.json()
    assert body["patientPseudonym"] == pseudonymise(WOMAN, SETTINGS.pseudonym_key.get_secret_value().encode())
    assert reader in [entry["userHsaId"] for entry in body["entries"]]
    assert WOMAN not in answer.text
    assert refused.status_code == 403
    assert WOMAN not in refused.text

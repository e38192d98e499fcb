"""Intake's patient histories against a real PostgreSQL: what a transaction stored itself is not read back."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from reko.stack import create_database
from services.intake import repository
from services.intake.app import MIGRATIONS
from services.intake.pseudonym import pseudonymise
from shared.contracts.cases import SickLeaveCaseChanged
from shared.contracts.certificates import CertificateSigned, parse_certificate_event
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.personnummer import parse_personnummer
from shared.sickleave.case_changes import case_snapshot
from shared.sickleave.certificate import Certificate, certificate_from_contract
from shared.sickleave.sick_leave_case import assemble_sick_leave_cases
from tests.support import WOMAN, signed_event

pytestmark = pytest.mark.integration

KEY = b"test-pseudonym-key-not-secret"


def certificate(event_id: str, certificate_id: str, first: str, last: str, signed_at: str) -> Certificate:
    event = parse_certificate_event(
        json.dumps(signed_event(event_id, certificate_id, person_id=WOMAN, periods=[(first, last, 100)], signed_at=signed_at)).encode()
    )
    assert isinstance(event, CertificateSigned)
    return certificate_from_contract(event.data, patient_pseudonym=pseudonymise(event.data.patient_identity.normalised, KEY))


@pytest.fixture
async def intake_pool(postgres_server_url: str) -> AsyncIterator[asyncpg.Pool]:
    database_url = await create_database(postgres_server_url, f"t{uuid.uuid4().hex[:12]}")
    pool = await create_pool(database_url, "intake", size=2)
    await migrate(pool, "intake", PLATFORM_MIGRATIONS, MIGRATIONS)
    yield pool
    await pool.close()


async def test_a_history_holds_the_certificates_a_transaction_stored_as_they_are_and_the_earlier_ones_as_read(intake_pool: asyncpg.Pool) -> None:
    earlier = [
        certificate("e1", "c1", "2026-01-05", "2026-01-18", "2026-01-05T09:00:00+01:00"),
        certificate("e2", "c2", "2026-01-19", "2026-02-01", "2026-01-19T09:00:00+01:00"),
    ]
    later = certificate("e3", "c3", "2026-02-02", "2026-02-15", "2026-02-02T09:00:00Z")
    patient = later.patient_id
    async with intake_pool.acquire() as conn, conn.transaction():
        identity = parse_personnummer(WOMAN, on=date(2026, 1, 5))
        await repository.add_patients(conn, [(patient, identity.birth_date, identity.sex.value)])
        await repository.add_certificates(conn, earlier)
    async with intake_pool.acquire() as conn, conn.transaction():
        await repository.add_certificates(conn, [later])
        await repository.add_revocations(conn, [("c1", later.signed_at)])
        [with_written] = await repository.patient_histories(conn, {patient}, {later.certificate_id: later})
        [read_back] = await repository.patient_histories(conn, {patient})

    def by_id(history: repository.PatientHistory) -> dict[str, Certificate]:
        return {stored.certificate_id: stored for stored in history.certificates}

    assert by_id(with_written) == by_id(read_back)
    assert set(by_id(with_written)) == {"c1", "c2", "c3"}
    assert by_id(with_written)["c3"] is later
    assert with_written.revoked_ids == read_back.revoked_ids == {"c1"}


async def test_saving_a_patients_cases_writes_only_the_changed_ones_deletes_the_removed_and_keeps_the_rest_as_stored(
    intake_pool: asyncpg.Pool,
) -> None:
    first = certificate("e1", "c1", "2026-01-05", "2026-01-18", "2026-01-05T09:00:00+01:00")
    # Far enough apart to be cases of their own.
    second = certificate("e2", "c2", "2026-04-01", "2026-04-14", "2026-04-01T09:00:00+02:00")
    third = certificate("e3", "c3", "2026-08-03", "2026-08-16", "2026-08-03T09:00:00+02:00")
    patient = first.patient_id
    identity = parse_personnummer(WOMAN, on=date(2026, 1, 5))
    cases = {
        c.certificate_id: case_snapshot(case, patient_pseudonym=patient, birth_date=identity.birth_date, sex=identity.sex.value)
        for c, case in zip([first, second, third], assemble_sick_leave_cases([first, second, third], set()), strict=True)
    }
    async with intake_pool.acquire() as conn, conn.transaction():
        await repository.add_patients(conn, [(patient, identity.birth_date, identity.sex.value)])
        await repository.save_cases(conn, [repository.SavedCases(patient, ["c1", "c2", "c3"], list(cases.values()), 1)])
    async with intake_pool.acquire() as conn:
        stored_before = {row["case_id"]: row["xmin"] for row in await conn.fetch("SELECT case_id, xmin::text FROM cases")}
    extended = cases["c2"].model_copy(update={"end": date(2026, 4, 30)})
    async with intake_pool.acquire() as conn, conn.transaction():
        await repository.save_cases(conn, [repository.SavedCases(patient, ["c1", "c2"], [extended], 2)])
    async with intake_pool.acquire() as conn:
        rows = {row["case_id"]: row for row in await conn.fetch("SELECT case_id, xmin::text, body FROM cases")}
        revision = await conn.fetchval("SELECT revision FROM patients WHERE patient_pseudonym = $1", patient)

    assert set(rows) == {"c1", "c2"}
    assert rows["c1"]["xmin"] == stored_before["c1"]
    assert rows["c2"]["xmin"] != stored_before["c2"]
    assert SickLeaveCaseChanged.model_validate(rows["c2"]["body"]) == extended
    assert SickLeaveCaseChanged.model_validate(rows["c1"]["body"]) == cases["c1"]
    assert revision == 2

"""Intake's tables: patients (by pseudonym), certificates, revocations, and the cases last published."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import asyncpg

from services.intake.certificate import Certificate
from shared.contracts.cases import SickLeaveCaseChanged


@dataclass
class PatientHistory:
    patient_pseudonym: str
    birth_date: date
    sex: str
    revision: int
    certificates: list[Certificate] = field(default_factory=list)
    revoked_ids: set[str] = field(default_factory=set)
    published_cases: dict[str, SickLeaveCaseChanged] = field(default_factory=dict)


async def certificates_by_id(conn: asyncpg.Connection, certificate_ids: Collection[str]) -> dict[str, Certificate]:
    rows = await conn.fetch("SELECT certificate_id, body FROM certificates WHERE certificate_id = ANY($1::text[])", list(certificate_ids))
    return {row["certificate_id"]: Certificate.model_validate(row["body"]) for row in rows}


async def add_patients(conn: asyncpg.Connection, patients: Iterable[tuple[str, date, str]]) -> None:
    await conn.executemany(
        "INSERT INTO patients (patient_pseudonym, birth_date, sex) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", list(patients)
    )


async def add_certificates(conn: asyncpg.Connection, certificates: Iterable[Certificate]) -> None:
    await conn.executemany(
        "INSERT INTO certificates (certificate_id, patient_pseudonym, signed_at, body) VALUES ($1, $2, $3, $4)",
        [(c.certificate_id, c.patient_id, c.signed_at, c.model_dump(mode="json")) for c in certificates],
    )


async def add_revocations(conn: asyncpg.Connection, revocations: Iterable[tuple[str, datetime]]) -> None:
    # The first revocation stands; a repeated one changes nothing.
    await conn.executemany(
        "INSERT INTO revocations (certificate_id, revoked_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", list(revocations)
    )


async def patient_histories(conn: asyncpg.Connection, patients: Collection[str]) -> list[PatientHistory]:
    histories = {
        row["patient_pseudonym"]: PatientHistory(row["patient_pseudonym"], row["birth_date"], row["sex"], row["revision"])
        for row in await conn.fetch(
            "SELECT patient_pseudonym, birth_date, sex, revision FROM patients WHERE patient_pseudonym = ANY($1::text[]) "
            "ORDER BY patient_pseudonym FOR UPDATE",
            list(patients),
        )
    }
    for row in await conn.fetch(
        "SELECT c.patient_pseudonym, c.body, r.certificate_id IS NOT NULL AS revoked "
        "FROM certificates c LEFT JOIN revocations r USING (certificate_id) WHERE c.patient_pseudonym = ANY($1::text[])",
        list(histories),
    ):
        history = histories[row["patient_pseudonym"]]
        certificate = Certificate.model_validate(row["body"])
        history.certificates.append(certificate)
        if row["revoked"]:
            history.revoked_ids.add(certificate.certificate_id)
    for row in await conn.fetch("SELECT patient_pseudonym, body FROM cases WHERE patient_pseudonym = ANY($1::text[])", list(histories)):
        case = SickLeaveCaseChanged.model_validate(row["body"])
        histories[row["patient_pseudonym"]].published_cases[case.case_id] = case
    return list(histories.values())


async def save_cases(conn: asyncpg.Connection, saved: Sequence[tuple[str, Sequence[SickLeaveCaseChanged], int]]) -> None:
    """Store, for each (patient, cases, revision), the patient's cases as now published."""
    if not saved:
        return
    # Case ids are certificate ids, so they are unique across patients.
    await conn.execute(
        "DELETE FROM cases WHERE patient_pseudonym = ANY($1::text[]) AND NOT (case_id = ANY($2::text[]))",
        [patient for patient, _, _ in saved],
        [case.case_id for _, cases, _ in saved for case in cases],
    )
    await conn.executemany(
        "INSERT INTO cases (case_id, patient_pseudonym, body) VALUES ($1, $2, $3) "
        "ON CONFLICT (case_id) DO UPDATE SET patient_pseudonym = excluded.patient_pseudonym, body = excluded.body",
        [(case.case_id, patient, case.model_dump(mode="json")) for patient, cases, _ in saved for case in cases],
    )
    await conn.executemany(
        "UPDATE patients SET revision = $2 WHERE patient_pseudonym = $1", [(patient, revision) for patient, _, revision in saved]
    )

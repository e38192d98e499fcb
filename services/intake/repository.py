"""Intake's tables: patients (by pseudonym), certificates, revocations, and the cases last published."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter

import asyncpg

from services.intake.identity import PublishedIdentity
from shared.contracts.cases import SickLeaveCaseChanged
from shared.contracts.identities import PatientIdentityChanged
from shared.contracts.risk_flags import RiskFlagChanged
from shared.db import columns, last_per_key
from shared.sickleave.certificate import Certificate


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
    rows = list(patients)
    if not rows:
        return
    await conn.execute(
        "INSERT INTO patients (patient_pseudonym, birth_date, sex) SELECT * FROM unnest($1::text[], $2::date[], $3::text[]) ON CONFLICT DO NOTHING",
        *columns(rows, 3),
    )


async def add_certificates(conn: asyncpg.Connection, certificates: Iterable[Certificate]) -> None:
    # Bodies go as JSON text, serialised by pydantic-core in one pass, and become jsonb in the database.
    rows = [(c.certificate_id, c.patient_id, c.signed_at, c.model_dump_json()) for c in certificates]
    if not rows:
        return
    await conn.execute(
        "INSERT INTO certificates (certificate_id, patient_pseudonym, signed_at, body) "
        "SELECT certificate_id, patient_pseudonym, signed_at, body::jsonb "
        "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS r(certificate_id, patient_pseudonym, signed_at, body)",
        *columns(rows, 4),
    )


async def add_revocations(conn: asyncpg.Connection, revocations: Iterable[tuple[str, datetime]]) -> None:
    # The first revocation stands; a repeated one changes nothing.
    rows = list(revocations)
    if not rows:
        return
    await conn.execute(
        "INSERT INTO revocations (certificate_id, revoked_at) SELECT * FROM unnest($1::text[], $2::timestamptz[]) ON CONFLICT DO NOTHING",
        *columns(rows, 2),
    )


async def patient_histories(
    conn: asyncpg.Connection, patients: Collection[str], written: Mapping[str, Certificate] | None = None
) -> list[PatientHistory]:
    """The patients' histories, locked for this transaction.

    `written` holds the certificates this transaction stored, by id: they are taken as they are
    instead of read back and validated again (about half of what a replay would read).
    """
    written = written or {}
    histories = {
        row["patient_pseudonym"]: PatientHistory(row["patient_pseudonym"], row["birth_date"], row["sex"], row["revision"])
        for row in await conn.fetch(
            "SELECT patient_pseudonym, birth_date, sex, revision FROM patients WHERE patient_pseudonym = ANY($1::text[]) "
            "ORDER BY patient_pseudonym FOR UPDATE",
            list(patients),
        )
    }
    for row in await conn.fetch(
        "SELECT c.patient_pseudonym, c.certificate_id, CASE WHEN c.certificate_id = ANY($2::text[]) THEN NULL ELSE c.body END AS body, "
        "r.certificate_id IS NOT NULL AS revoked "
        "FROM certificates c LEFT JOIN revocations r USING (certificate_id) WHERE c.patient_pseudonym = ANY($1::text[])",
        list(histories),
        list(written),
    ):
        history = histories[row["patient_pseudonym"]]
        body = row["body"]
        certificate = written[row["certificate_id"]] if body is None else Certificate.model_validate(body)
        history.certificates.append(certificate)
        if row["revoked"]:
            history.revoked_ids.add(certificate.certificate_id)
    for row in await conn.fetch("SELECT patient_pseudonym, body FROM cases WHERE patient_pseudonym = ANY($1::text[])", list(histories)):
        case = SickLeaveCaseChanged.model_validate(row["body"])
        histories[row["patient_pseudonym"]].published_cases[case.case_id] = case
    return list(histories.values())


@dataclass(frozen=True)
class SavedCases:
    """A patient's cases as now published: every case id that exists, the cases to write, the new revision."""

    patient_pseudonym: str
    case_ids: Sequence[str]
    # Only new and changed cases: an unchanged case's stored snapshot is already the same row.
    changed: Sequence[SickLeaveCaseChanged]
    revision: int


async def save_cases(conn: asyncpg.Connection, saved: Sequence[SavedCases]) -> None:
    """Store each patient's cases as now published: removed ones deleted, changed ones written, the revision."""
    if not saved:
        return
    # Case ids are certificate ids, so they are unique across patients.
    await conn.execute(
        "DELETE FROM cases WHERE patient_pseudonym = ANY($1::text[]) AND NOT (case_id = ANY($2::text[]))",
        [patient.patient_pseudonym for patient in saved],
        [case_id for patient in saved for case_id in patient.case_ids],
    )
    rows = last_per_key(
        [(case.case_id, patient.patient_pseudonym, case.model_dump_json()) for patient in saved for case in patient.changed], itemgetter(0)
    )
    if rows:
        await conn.execute(
            "INSERT INTO cases (case_id, patient_pseudonym, body) SELECT case_id, patient_pseudonym, body::jsonb "
            "FROM unnest($1::text[], $2::text[], $3::text[]) AS r(case_id, patient_pseudonym, body) "
            "ON CONFLICT (case_id) DO UPDATE SET patient_pseudonym = excluded.patient_pseudonym, body = excluded.body",
            *columns(rows, 3),
        )
    revisions = last_per_key([(patient.patient_pseudonym, patient.revision) for patient in saved], itemgetter(0))
    await conn.execute(
        "UPDATE patients p SET revision = r.revision FROM unnest($1::text[], $2::int[]) AS r(patient_pseudonym, revision) "
        "WHERE p.patient_pseudonym = r.patient_pseudonym",
        *columns(revisions, 2),
    )


# --- reads for the inspection API ----------------------------------------------------------------


@dataclass(frozen=True)
class PatientRecord:
    """One patient as intake keeps them, read without locking."""

    patient_pseudonym: str
    birth_date: date
    sex: str
    certificates: tuple[Certificate, ...]
    # Revocations of the patient's certificates and of the certificates they relate to (a
    # revocation may have come before the certificate it names).
    revocations: dict[str, datetime]


async def ongoing_cases_of_unit(conn: asyncpg.Connection, care_unit_hsa_id: str, on: date) -> list[tuple[SickLeaveCaseChanged, date]]:
    """The stored cases attributed to the unit and ongoing on `on`, each with the patient's birth date."""
    rows = await conn.fetch(
        "SELECT c.body, p.birth_date FROM cases c JOIN patients p USING (patient_pseudonym) "
        "WHERE c.care_unit_hsa_id = $1 AND (c.body->>'start')::date <= $2 AND (c.body->>'end')::date >= $2",
        care_unit_hsa_id,
        on,
    )
    return [(SickLeaveCaseChanged.model_validate(row["body"]), row["birth_date"]) for row in rows]


async def patient_record(conn: asyncpg.Connection, patient_pseudonym: str) -> PatientRecord | None:
    patient = await conn.fetchrow("SELECT birth_date, sex FROM patients WHERE patient_pseudonym = $1", patient_pseudonym)
    if patient is None:
        return None
    certificates = tuple(
        Certificate.model_validate(row["body"])
        for row in await conn.fetch(
            "SELECT body FROM certificates WHERE patient_pseudonym = $1 ORDER BY signed_at, certificate_id", patient_pseudonym
        )
    )
    named = {c.certificate_id for c in certificates} | {r.related_certificate_id for c in certificates for r in c.relations}
    revocations = {
        row["certificate_id"]: row["revoked_at"]
        for row in await conn.fetch("SELECT certificate_id, revoked_at FROM revocations WHERE certificate_id = ANY($1::text[])", sorted(named))
    }
    return PatientRecord(patient_pseudonym, patient["birth_date"], patient["sex"], certificates, revocations)


async def published_risk_flags(conn: asyncpg.Connection, patients: Collection[str]) -> dict[str, dict[str, RiskFlagChanged]]:
    """The risk flag last published per case id, for each of these patients."""
    flags: dict[str, dict[str, RiskFlagChanged]] = {patient: {} for patient in patients}
    for row in await conn.fetch("SELECT patient_pseudonym, body FROM risk_flags WHERE patient_pseudonym = ANY($1::text[])", list(patients)):
        flag = RiskFlagChanged.model_validate(row["body"])
        flags[row["patient_pseudonym"]][flag.case_id] = flag
    return flags


async def save_risk_flags(conn: asyncpg.Connection, flags: Sequence[RiskFlagChanged]) -> None:
    rows = last_per_key([(flag.case_id, flag.patient_pseudonym, flag.model_dump_json()) for flag in flags], itemgetter(0))
    if not rows:
        return
    await conn.execute(
        "INSERT INTO risk_flags (case_id, patient_pseudonym, body) SELECT case_id, patient_pseudonym, body::jsonb "
        "FROM unnest($1::text[], $2::text[], $3::text[]) AS r(case_id, patient_pseudonym, body) "
        "ON CONFLICT (case_id) DO UPDATE SET patient_pseudonym = excluded.patient_pseudonym, body = excluded.body",
        *columns(rows, 3),
    )


async def risk_flags_of_cases(conn: asyncpg.Connection, case_ids: Collection[str]) -> dict[str, RiskFlagChanged]:
    """The flag last published for each of these case ids that has one."""
    rows = await conn.fetch("SELECT body FROM risk_flags WHERE case_id = ANY($1::text[])", list(case_ids))
    flags = [RiskFlagChanged.model_validate(row["body"]) for row in rows]
    return {flag.case_id: flag for flag in flags}


# --- the identity topic (services/intake/identity.py) ---------------------------------------------


async def published_identities(conn: asyncpg.Connection, patients: Collection[str]) -> dict[str, PublishedIdentity]:
    rows = await conn.fetch(
        "SELECT patient_pseudonym, protected_identity, key_id, revision FROM patient_identities WHERE patient_pseudonym = ANY($1::text[])",
        list(patients),
    )
    return {row["patient_pseudonym"]: PublishedIdentity(row["protected_identity"], row["key_id"], row["revision"]) for row in rows}


async def save_published_identities(conn: asyncpg.Connection, identities: Sequence[PatientIdentityChanged]) -> None:
    rows = [(i.patient_pseudonym, i.protected_identity, i.key_id, i.revision) for i in identities]
    if not rows:
        return
    await conn.execute(
        "INSERT INTO patient_identities (patient_pseudonym, protected_identity, key_id, revision) "
        "SELECT * FROM unnest($1::text[], $2::bool[], $3::text[], $4::int[]) "
        "ON CONFLICT (patient_pseudonym) DO UPDATE SET protected_identity = excluded.protected_identity, key_id = excluded.key_id, "
        "revision = excluded.revision, published_at = now()",
        *columns(rows, 4),
    )

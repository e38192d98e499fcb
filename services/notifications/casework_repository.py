"""Notifications' casework tables: REKO status per case and unit, consent and contacts per patient and unit (docs/casework.md).

The functions that take many cases at once are for the worklist, which shows a whole unit's cases.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date

import asyncpg

from services.notifications.consent import ConsentDecision, ConsentRecord, ConsentScope, consent_standing
from services.notifications.contact_log import Contact, ContactKind, ContactParty
from services.notifications.reko_status import RekoStatus, RekoStatusChange


async def lock_case_at_unit(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str) -> None:
    """Serialise the writers of one case's records at one unit until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('casework-case'), hashtext($1 || '|' || $2))", case_id, care_unit_hsa_id)


async def patient_of_case(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str) -> str | None:
    """The pseudonym of the case's patient as known at the unit: from the coordinator's records of
    the case, else from the unit's alerts about it; None when neither knows the case."""
    known: str | None = await conn.fetchval(
        "SELECT patient_pseudonym FROM casework_case_patients WHERE case_id = $1 AND care_unit_hsa_id = $2", case_id, care_unit_hsa_id
    )
    if known is not None:
        return known
    alerted: str | None = await conn.fetchval(
        "SELECT patient_pseudonym FROM alerts WHERE case_id = $1 AND care_unit_hsa_id = $2 AND patient_pseudonym IS NOT NULL "
        "ORDER BY updated_at DESC LIMIT 1",
        case_id,
        care_unit_hsa_id,
    )
    return alerted


async def remember_patient_of_case(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str, patient_pseudonym: str) -> None:
    await conn.execute(
        "INSERT INTO casework_case_patients (case_id, care_unit_hsa_id, patient_pseudonym) VALUES ($1, $2, $3) "
        "ON CONFLICT (case_id, care_unit_hsa_id) DO NOTHING",
        case_id,
        care_unit_hsa_id,
        patient_pseudonym,
    )


def _reko_change(row: asyncpg.Record) -> RekoStatusChange:
    return RekoStatusChange(
        case_id=row["case_id"],
        care_unit_hsa_id=row["care_unit_hsa_id"],
        status=RekoStatus(row["status"]),
        changed_by=row["changed_by"],
        changed_at=row["changed_at"],
    )


async def reko_status_history(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str) -> list[RekoStatusChange]:
    """Every change of the case's REKO status at the unit, oldest first."""
    rows = await conn.fetch("SELECT * FROM reko_status_changes WHERE case_id = $1 AND care_unit_hsa_id = $2 ORDER BY id", case_id, care_unit_hsa_id)
    return [_reko_change(row) for row in rows]


async def add_reko_status_change(conn: asyncpg.Connection, change: RekoStatusChange) -> None:
    await conn.execute(
        "INSERT INTO reko_status_changes (case_id, care_unit_hsa_id, status, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5)",
        change.case_id,
        change.care_unit_hsa_id,
        change.status.value,
        change.changed_by,
        change.changed_at,
    )


async def current_reko_statuses(conn: asyncpg.Connection, care_unit_hsa_id: str, case_ids: Collection[str]) -> dict[str, RekoStatusChange]:
    """For these cases at the unit, the latest REKO status change of each; a case missing from the
    answer has none recorded, which is "-"."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (case_id) * FROM reko_status_changes WHERE care_unit_hsa_id = $1 AND case_id = ANY($2::text[]) ORDER BY case_id, id DESC",
        care_unit_hsa_id,
        list(case_ids),
    )
    return {row["case_id"]: _reko_change(row) for row in rows}


async def lock_patient_at_unit(conn: asyncpg.Connection, patient_pseudonym: str, care_unit_hsa_id: str) -> None:
    """Serialise the writers of one patient's consent, plan and contacts at one unit until the
    transaction ends, so a contact is never checked against a consent being withdrawn at once."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('casework-patient'), hashtext($1 || '|' || $2))", patient_pseudonym, care_unit_hsa_id)


def _consent_record(row: asyncpg.Record) -> ConsentRecord:
    return ConsentRecord(
        patient_pseudonym=row["patient_pseudonym"],
        care_unit_hsa_id=row["care_unit_hsa_id"],
        scope=ConsentScope(row["scope"]),
        decision=ConsentDecision(row["decision"]),
        decided_on=row["decided_on"],
        recorded_by=row["recorded_by"],
        recorded_at=row["recorded_at"],
    )


async def consent_records(conn: asyncpg.Connection, patient_pseudonym: str, care_unit_hsa_id: str) -> list[ConsentRecord]:
    """Every consent decision of the patient at the unit, in the order they were recorded."""
    return (await consent_records_of_patients(conn, care_unit_hsa_id, [patient_pseudonym])).get(patient_pseudonym, [])


async def consent_records_of_patients(conn: asyncpg.Connection, care_unit_hsa_id: str, patients: Collection[str]) -> dict[str, list[ConsentRecord]]:
    rows = await conn.fetch(
        "SELECT * FROM consent_records WHERE care_unit_hsa_id = $1 AND patient_pseudonym = ANY($2::text[]) ORDER BY id",
        care_unit_hsa_id,
        list(patients),
    )
    records: dict[str, list[ConsentRecord]] = {}
    for row in rows:
        records.setdefault(row["patient_pseudonym"], []).append(_consent_record(row))
    return records


async def consents_in_force(
    conn: asyncpg.Connection, care_unit_hsa_id: str, patients: Collection[str], on: date
) -> dict[str, dict[ConsentScope, ConsentRecord | None]]:
    """For these patients at the unit, every scope's decision in force on `on` (None: none recorded)."""
    records = await consent_records_of_patients(conn, care_unit_hsa_id, patients)
    return {patient: consent_standing(records.get(patient, []), on) for patient in patients}


async def add_consent_records(conn: asyncpg.Connection, case_id: str, records: Iterable[ConsentRecord]) -> None:
    await conn.executemany(
        "INSERT INTO consent_records (patient_pseudonym, care_unit_hsa_id, case_id, scope, decision, decided_on, recorded_by, recorded_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (r.patient_pseudonym, r.care_unit_hsa_id, case_id, r.scope.value, r.decision.value, r.decided_on, r.recorded_by, r.recorded_at)
            for r in records
        ],
    )


def _contact(row: asyncpg.Record) -> Contact:
    return Contact(
        contact_id=row["contact_id"],
        case_id=row["case_id"],
        patient_pseudonym=row["patient_pseudonym"],
        care_unit_hsa_id=row["care_unit_hsa_id"],
        kind=ContactKind(row["kind"]),
        parties=tuple(ContactParty(party) for party in row["parties"]),
        contact_on=row["contact_on"],
        note=row["note"],
        recorded_by=row["recorded_by"],
        recorded_at=row["recorded_at"],
    )


async def contacts_of_patient(conn: asyncpg.Connection, patient_pseudonym: str, care_unit_hsa_id: str) -> list[Contact]:
    """The patient's contact log at the unit, by contact date, then in the order recorded."""
    rows = await conn.fetch(
        "SELECT * FROM contacts WHERE care_unit_hsa_id = $1 AND patient_pseudonym = $2 ORDER BY contact_on, id",
        care_unit_hsa_id,
        patient_pseudonym,
    )
    return [_contact(row) for row in rows]


async def add_contact(conn: asyncpg.Connection, contact: Contact) -> None:
    await conn.execute(
        "INSERT INTO contacts (contact_id, patient_pseudonym, care_unit_hsa_id, case_id, kind, parties, contact_on, note, recorded_by, recorded_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        contact.contact_id,
        contact.patient_pseudonym,
        contact.care_unit_hsa_id,
        contact.case_id,
        contact.kind.value,
        [party.value for party in contact.parties],
        contact.contact_on,
        contact.note,
        contact.recorded_by,
        contact.recorded_at,
    )


async def last_contacts(conn: asyncpg.Connection, care_unit_hsa_id: str, patients: Collection[str]) -> dict[str, Contact]:
    """For these patients at the unit, the latest contact of each (by date); a patient missing has none."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (patient_pseudonym) * FROM contacts WHERE care_unit_hsa_id = $1 AND patient_pseudonym = ANY($2::text[]) "
        "ORDER BY patient_pseudonym, contact_on DESC, id DESC",
        care_unit_hsa_id,
        list(patients),
    )
    return {row["patient_pseudonym"]: _contact(row) for row in rows}

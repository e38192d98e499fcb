"""Notifications' table of case facts (services/notifications/case_facts.py)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from operator import itemgetter

import asyncpg

from services.notifications.case_facts import CaseFacts
from shared.db import columns, last_per_key


async def case_facts_by_id(conn: asyncpg.Connection, case_ids: Collection[str]) -> dict[str, CaseFacts]:
    rows = await conn.fetch("SELECT body FROM case_facts WHERE case_id = ANY($1::text[])", list(case_ids))
    facts = [CaseFacts.model_validate(row["body"]) for row in rows]
    return {fact.case_id: fact for fact in facts}


async def save_case_facts(conn: asyncpg.Connection, facts: Iterable[CaseFacts]) -> None:
    rows = last_per_key(
        [
            (f.case_id, f.patient_pseudonym, f.patient_revision, f.care_unit_hsa_id, f.status.value, f.start, f.end, f.model_dump_json())
            for f in facts
        ],
        itemgetter(0),
    )
    if not rows:
        return
    await conn.execute(
        "INSERT INTO case_facts (case_id, patient_pseudonym, patient_revision, care_unit_hsa_id, status, start_date, end_date, body) "
        "SELECT c, p, r, u, s, f, t, b::jsonb FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::date[], $7::date[], "
        "$8::text[]) AS x(c, p, r, u, s, f, t, b) "
        "ON CONFLICT (case_id) DO UPDATE SET patient_pseudonym = excluded.patient_pseudonym, patient_revision = excluded.patient_revision, "
        "care_unit_hsa_id = excluded.care_unit_hsa_id, status = excluded.status, start_date = excluded.start_date, "
        "end_date = excluded.end_date, body = excluded.body, updated_at = now() "
        "WHERE case_facts.patient_revision <= excluded.patient_revision",
        *columns(rows, 8),
    )


async def case_facts_of_patients(conn: asyncpg.Connection, patients: Collection[str]) -> dict[str, list[CaseFacts]]:
    """Every existing case of these patients, at any unit, newest first."""
    rows = await conn.fetch(
        "SELECT body FROM case_facts WHERE patient_pseudonym = ANY($1::text[]) AND status = 'ACTIVE' ORDER BY start_date DESC, case_id",
        list(patients),
    )
    found: dict[str, list[CaseFacts]] = {patient: [] for patient in patients}
    for row in rows:
        fact = CaseFacts.model_validate(row["body"])
        found[fact.patient_pseudonym].append(fact)
    return found


async def doctors_of_patient(conn: asyncpg.Connection, patient_pseudonym: str) -> set[str]:
    """The doctors who signed the latest certificate of one of the patient's existing cases, at any unit."""
    rows = await conn.fetch(
        "SELECT DISTINCT body->>'doctor_hsa_id' AS doctor FROM case_facts WHERE patient_pseudonym = $1 AND status = 'ACTIVE'",
        patient_pseudonym,
    )
    return {row["doctor"] for row in rows if row["doctor"] is not None}


async def patients_with_ongoing_cases(conn: asyncpg.Connection, care_unit_hsa_ids: Collection[str], on: date) -> set[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT patient_pseudonym FROM case_facts "
        "WHERE care_unit_hsa_id = ANY($1::text[]) AND status = 'ACTIVE' AND start_date <= $2 AND end_date >= $2",
        list(care_unit_hsa_ids),
        on,
    )
    return {row["patient_pseudonym"] for row in rows}

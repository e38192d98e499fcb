"""Notifications' casework tables: REKO status per case and unit (docs/casework.md).

The functions that take many cases at once are for the worklist, which shows a whole unit's cases.
"""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

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

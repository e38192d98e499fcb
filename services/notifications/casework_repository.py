"""Notifications' casework tables: REKO status per case and unit; consent, contacts and the
rehabilitation plan per patient and unit (docs/casework.md).

The functions that take many cases at once are for the worklist, which shows a whole unit's cases.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import asyncpg

from services.notifications.consent import ConsentDecision, ConsentRecord, ConsentScope, consent_standing
from services.notifications.contact_log import Contact, ContactKind, ContactParty
from services.notifications.rehabilitation_plan import NextStep, NextStepOwner, PlanVersion, open_next_step
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
    # The case events name every case's patient (docs/alert-lifecycle.md §3).
    from_case: str | None = await conn.fetchval(
        "SELECT patient_pseudonym FROM case_facts WHERE case_id = $1 AND care_unit_hsa_id = $2", case_id, care_unit_hsa_id
    )
    if from_case is not None:
        return from_case
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


@dataclass(frozen=True)
class PlanHead:
    plan_id: str
    current_version: int
    # The NEXT_STEP alert open for the current next step, if any.
    open_step_alert_id: str | None


def _plan_version(row: asyncpg.Record, patient_pseudonym: str, care_unit_hsa_id: str) -> PlanVersion:
    step = (
        NextStep(
            description=row["next_step_description"],
            due_on=row["next_step_due_on"],
            owner=NextStepOwner(row["next_step_owner"]),
            done_on=row["next_step_done_on"],
        )
        if row["next_step_due_on"] is not None
        else None
    )
    return PlanVersion(
        plan_id=row["plan_id"],
        version=row["version"],
        case_id=row["case_id"],
        patient_pseudonym=patient_pseudonym,
        care_unit_hsa_id=care_unit_hsa_id,
        goal=row["goal"],
        agreed_steps=tuple(row["agreed_steps"]),
        next_step=step,
        recorded_by=row["recorded_by"],
        recorded_at=row["recorded_at"],
    )


async def lock_plan_head(conn: asyncpg.Connection, patient_pseudonym: str, care_unit_hsa_id: str) -> PlanHead | None:
    """The head of the patient's plan at the unit, locked until the transaction ends (the next-step
    check passes over a locked plan); None when the patient has no plan there."""
    row = await conn.fetchrow(
        "SELECT plan_id, current_version, open_step_alert_id FROM rehabilitation_plans "
        "WHERE care_unit_hsa_id = $1 AND patient_pseudonym = $2 FOR UPDATE",
        care_unit_hsa_id,
        patient_pseudonym,
    )
    return PlanHead(row["plan_id"], row["current_version"], row["open_step_alert_id"]) if row else None


async def plan_versions(conn: asyncpg.Connection, patient_pseudonym: str, care_unit_hsa_id: str) -> list[PlanVersion]:
    """Every version of the patient's plan at the unit, oldest first."""
    rows = await conn.fetch(
        "SELECT v.* FROM rehabilitation_plan_versions v JOIN rehabilitation_plans p USING (plan_id) "
        "WHERE p.care_unit_hsa_id = $1 AND p.patient_pseudonym = $2 ORDER BY v.version",
        care_unit_hsa_id,
        patient_pseudonym,
    )
    return [_plan_version(row, patient_pseudonym, care_unit_hsa_id) for row in rows]


async def current_plans(conn: asyncpg.Connection, care_unit_hsa_id: str, patients: Collection[str]) -> dict[str, PlanVersion]:
    """For these patients at the unit, the current version of each one's plan (its next step with it);
    a patient missing from the answer has no plan."""
    rows = await conn.fetch(
        "SELECT v.*, p.patient_pseudonym FROM rehabilitation_plans p "
        "JOIN rehabilitation_plan_versions v ON v.plan_id = p.plan_id AND v.version = p.current_version "
        "WHERE p.care_unit_hsa_id = $1 AND p.patient_pseudonym = ANY($2::text[])",
        care_unit_hsa_id,
        list(patients),
    )
    return {row["patient_pseudonym"]: _plan_version(row, row["patient_pseudonym"], care_unit_hsa_id) for row in rows}


async def save_plan_version(conn: asyncpg.Connection, plan: PlanVersion, open_step_alert_id: str | None) -> None:
    """Store a new version and make it the plan's current one; the caller holds the head's lock."""
    step = open_next_step(plan)
    await conn.execute(
        "INSERT INTO rehabilitation_plans (plan_id, patient_pseudonym, care_unit_hsa_id, current_version, open_step_due_on, open_step_alert_id) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (plan_id) DO UPDATE SET current_version = excluded.current_version, "
        "open_step_due_on = excluded.open_step_due_on, open_step_alert_id = excluded.open_step_alert_id",
        plan.plan_id,
        plan.patient_pseudonym,
        plan.care_unit_hsa_id,
        plan.version,
        step.due_on if step else None,
        open_step_alert_id,
    )
    next_step = plan.next_step
    await conn.execute(
        "INSERT INTO rehabilitation_plan_versions (plan_id, version, case_id, goal, agreed_steps, next_step_description, next_step_due_on, "
        "next_step_owner, next_step_done_on, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        plan.plan_id,
        plan.version,
        plan.case_id,
        plan.goal,
        list(plan.agreed_steps),
        next_step.description if next_step else None,
        next_step.due_on if next_step else None,
        next_step.owner.value if next_step else None,
        next_step.done_on if next_step else None,
        plan.recorded_by,
        plan.recorded_at,
    )


async def claim_plans_awaiting_alert(conn: asyncpg.Connection, today: date, limit: int) -> list[PlanVersion]:
    """The current versions of plans whose open next step's date has passed and that have no alert
    open for it, locked; SKIP LOCKED lets a plan being changed (or another instance) keep its own."""
    rows = await conn.fetch(
        "SELECT v.*, p.patient_pseudonym, p.care_unit_hsa_id FROM rehabilitation_plans p "
        "JOIN rehabilitation_plan_versions v ON v.plan_id = p.plan_id AND v.version = p.current_version "
        "WHERE p.open_step_due_on < $1 AND p.open_step_alert_id IS NULL "
        "ORDER BY p.open_step_due_on, p.plan_id LIMIT $2 FOR UPDATE OF p SKIP LOCKED",
        today,
        limit,
    )
    return [_plan_version(row, row["patient_pseudonym"], row["care_unit_hsa_id"]) for row in rows]


async def mark_step_alerted(conn: asyncpg.Connection, plan_id: str, alert_id: str) -> None:
    await conn.execute("UPDATE rehabilitation_plans SET open_step_alert_id = $2 WHERE plan_id = $1", plan_id, alert_id)


async def patients_of_cases(conn: asyncpg.Connection, care_unit_hsa_id: str, case_ids: Collection[str]) -> dict[str, str]:
    """For these cases at the unit, each one's patient as `patient_of_case` finds it; a case missing
    from the answer is not known at the unit."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (case_id) case_id, patient_pseudonym FROM ("
        " SELECT case_id, patient_pseudonym, 0 AS preference, NULL::timestamptz AS updated_at FROM casework_case_patients"
        " WHERE care_unit_hsa_id = $1 AND case_id = ANY($2::text[])"
        " UNION ALL"
        " SELECT case_id, patient_pseudonym, 1, updated_at FROM alerts"
        " WHERE care_unit_hsa_id = $1 AND case_id = ANY($2::text[]) AND patient_pseudonym IS NOT NULL"
        ") AS known ORDER BY case_id, preference, updated_at DESC",
        care_unit_hsa_id,
        list(case_ids),
    )
    return {row["case_id"]: row["patient_pseudonym"] for row in rows}


@dataclass(frozen=True)
class CaseworkOfCase:
    """What the worklist shows of the coordinator's records for one case at one unit."""

    case_id: str
    patient_pseudonym: str | None
    reko_status: RekoStatus
    reko_status_change: RekoStatusChange | None
    consents: Mapping[ConsentScope, ConsentRecord | None]
    plan: PlanVersion | None
    last_contact: Contact | None

    @property
    def next_step(self) -> NextStep | None:
        """The plan's next step while it is still to be taken."""
        return open_next_step(self.plan)


async def casework_of_cases(conn: asyncpg.Connection, care_unit_hsa_id: str, case_ids: Collection[str], on: date) -> dict[str, CaseworkOfCase]:
    """For these cases at the unit, in a few queries whatever their number: the REKO status, the
    patient's consent per scope in force on `on`, the current plan with its next step, and the last
    contact. A case whose patient is not known at the unit has its REKO status and nothing else.
    The caller writes the access-log row for what it shows."""
    patients = await patients_of_cases(conn, care_unit_hsa_id, case_ids)
    known = sorted(set(patients.values()))
    statuses = await current_reko_statuses(conn, care_unit_hsa_id, case_ids)
    consents = await consents_in_force(conn, care_unit_hsa_id, known, on)
    plans = await current_plans(conn, care_unit_hsa_id, known)
    contacts = await last_contacts(conn, care_unit_hsa_id, known)
    no_consent: dict[ConsentScope, ConsentRecord | None] = dict.fromkeys(ConsentScope)
    summaries = {}
    for case_id in case_ids:
        patient = patients.get(case_id)
        change = statuses.get(case_id)
        summaries[case_id] = CaseworkOfCase(
            case_id=case_id,
            patient_pseudonym=patient,
            reko_status=change.status if change else RekoStatus.NONE,
            reko_status_change=change,
            consents=consents.get(patient, no_consent) if patient else no_consent,
            plan=plans.get(patient) if patient else None,
            last_contact=contacts.get(patient) if patient else None,
        )
    return summaries

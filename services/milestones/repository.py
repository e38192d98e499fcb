"""Milestones' tables: cases per patient, revision progress, published milestones, timers."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date

import asyncpg

from shared.contracts.cases import CaseStatus, SickLeaveCaseChanged
from shared.contracts.milestones import MilestoneChanged, MilestoneKind


async def record_case_events(conn: asyncpg.Connection, events: Sequence[SickLeaveCaseChanged]) -> list[str]:
    """Apply case events (older revisions than the one held are dropped); returns the patients,
    locked in this transaction, whose newest revision has now fully arrived."""
    patients = sorted({event.patient_pseudonym for event in events})
    progress = {
        row["patient_pseudonym"]: [row["revision"], row["events_seen"], row["events_expected"]]
        for row in await conn.fetch(
            "SELECT patient_pseudonym, revision, events_seen, events_expected FROM patients "
            "WHERE patient_pseudonym = ANY($1::text[]) ORDER BY patient_pseudonym FOR UPDATE",
            patients,
        )
    }
    latest: dict[str, SickLeaveCaseChanged] = {}
    touched: set[str] = set()
    for event in events:  # in partition order, so a patient's events arrive in revision order
        held = progress.get(event.patient_pseudonym)
        if held is not None and event.patient_revision < held[0]:
            continue
        if held is None or event.patient_revision > held[0]:
            progress[event.patient_pseudonym] = [event.patient_revision, 1, event.revision_event_count]
        else:
            held[1] += 1
        latest[event.case_id] = event
        touched.add(event.patient_pseudonym)
    await conn.executemany(
        "INSERT INTO patients (patient_pseudonym, revision, events_seen, events_expected) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (patient_pseudonym) DO UPDATE SET revision = $2, events_seen = $3, events_expected = $4",
        [(patient, *progress[patient]) for patient in sorted(touched)],
    )
    removed = [case_id for case_id, event in latest.items() if event.status is CaseStatus.REMOVED]
    if removed:
        await conn.execute("DELETE FROM cases WHERE case_id = ANY($1::text[])", removed)
    await conn.executemany(
        "INSERT INTO cases (case_id, patient_pseudonym, body) VALUES ($1, $2, $3) "
        "ON CONFLICT (case_id) DO UPDATE SET patient_pseudonym = excluded.patient_pseudonym, body = excluded.body",
        [
            (event.case_id, event.patient_pseudonym, event.model_dump(mode="json"))
            for event in latest.values()
            if event.status is not CaseStatus.REMOVED
        ],
    )
    return sorted(patient for patient in touched if progress[patient][1] >= progress[patient][2])


async def lock_complete_patients(conn: asyncpg.Connection, patients: Collection[str]) -> list[str]:
    """Lock the patients' rows (the consumer takes the same lock) and keep those with a complete revision."""
    rows = await conn.fetch(
        "SELECT patient_pseudonym, events_seen >= events_expected AS complete FROM patients "
        "WHERE patient_pseudonym = ANY($1::text[]) ORDER BY patient_pseudonym FOR UPDATE",
        list(patients),
    )
    return [row["patient_pseudonym"] for row in rows if row["complete"]]


async def cases_of(conn: asyncpg.Connection, patient: str) -> list[SickLeaveCaseChanged]:
    rows = await conn.fetch("SELECT body FROM cases WHERE patient_pseudonym = $1", patient)
    return [SickLeaveCaseChanged.model_validate(row["body"]) for row in rows]


async def published_milestones(conn: asyncpg.Connection, patient: str) -> dict[tuple[str, MilestoneKind], MilestoneChanged]:
    rows = await conn.fetch("SELECT body FROM milestones WHERE patient_pseudonym = $1", patient)
    milestones = [MilestoneChanged.model_validate(row["body"]) for row in rows]
    return {(milestone.case_id, milestone.kind): milestone for milestone in milestones}


async def save_milestones(conn: asyncpg.Connection, milestones: Iterable[MilestoneChanged]) -> None:
    await conn.executemany(
        "INSERT INTO milestones (case_id, kind, patient_pseudonym, status, due_date, revision, body) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (case_id, kind) DO UPDATE SET patient_pseudonym = excluded.patient_pseudonym, status = excluded.status, "
        "due_date = excluded.due_date, revision = excluded.revision, body = excluded.body",
        [
            (m.case_id, m.kind.value, m.patient_pseudonym, m.status.value, m.due_date, m.revision, m.model_dump(mode="json"))
            for m in milestones
        ],
    )


async def set_timer(conn: asyncpg.Connection, patient: str, fires_on: date | None) -> None:
    if fires_on is None:
        await conn.execute("DELETE FROM timers WHERE patient_pseudonym = $1", patient)
    else:
        await conn.execute(
            "INSERT INTO timers (patient_pseudonym, fires_on) VALUES ($1, $2) ON CONFLICT (patient_pseudonym) DO UPDATE SET fires_on = $2",
            patient,
            fires_on,
        )


async def claim_due_timers(conn: asyncpg.Connection, today: date, limit: int) -> list[str]:
    """Lock timers that fell due; SKIP LOCKED lets several instances share the work, none twice."""
    rows = await conn.fetch(
        "SELECT patient_pseudonym FROM timers WHERE fires_on <= $1 ORDER BY fires_on LIMIT $2 FOR UPDATE SKIP LOCKED", today, limit
    )
    return [row["patient_pseudonym"] for row in rows]

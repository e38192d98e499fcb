"""Milestones' tables: cases per patient, revision progress, published milestones, timers."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from operator import itemgetter

import asyncpg

from shared.contracts.cases import SickLeaveCaseChanged
from shared.contracts.milestones import MilestoneChanged, MilestoneKind
from shared.db import columns, last_per_key
from shared.sickleave.case_projection import CaseProjection, RevisionProgress, project_case_events


async def record_case_events(conn: asyncpg.Connection, events: Sequence[SickLeaveCaseChanged]) -> list[str]:
    """Apply case events (older revisions than the one held are dropped); returns the patients,
    locked in this transaction, whose newest revision has now fully arrived."""
    return (await store_case_events(conn, events)).complete_patients


async def store_case_events(conn: asyncpg.Connection, events: Sequence[SickLeaveCaseChanged]) -> CaseProjection:
    """Apply case events as `record_case_events` does; returns the batch folded, with the cases it stored."""
    patients = sorted({event.patient_pseudonym for event in events})
    held = {
        row["patient_pseudonym"]: RevisionProgress(row["revision"], row["events_seen"], row["events_expected"])
        for row in await conn.fetch(
            "SELECT patient_pseudonym, revision, events_seen, events_expected FROM patients "
            "WHERE patient_pseudonym = ANY($1::text[]) ORDER BY patient_pseudonym FOR UPDATE",
            patients,
        )
    }
    projection = project_case_events(held, events)
    progress_rows = [
        (patient, progress.revision, progress.events_seen, progress.events_expected)
        for patient in sorted(projection.touched_patients)
        for progress in [projection.progress[patient]]
    ]
    await conn.execute(
        "INSERT INTO patients (patient_pseudonym, revision, events_seen, events_expected) "
        "SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[]) "
        "ON CONFLICT (patient_pseudonym) DO UPDATE SET revision = excluded.revision, events_seen = excluded.events_seen, "
        "events_expected = excluded.events_expected",
        *columns(progress_rows, 4),
    )
    if projection.removed_case_ids:
        await conn.execute("DELETE FROM cases WHERE case_id = ANY($1::text[])", projection.removed_case_ids)
    # Bodies as JSON text from pydantic-core in one pass; the database makes them jsonb.
    case_rows = [(event.case_id, event.patient_pseudonym, event.model_dump_json()) for event in projection.kept_cases]
    await conn.execute(
        "INSERT INTO cases (case_id, patient_pseudonym, body) "
        "SELECT case_id, patient_pseudonym, body::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) AS r(case_id, patient_pseudonym, body) "
        "ON CONFLICT (case_id) DO UPDATE SET patient_pseudonym = excluded.patient_pseudonym, body = excluded.body",
        *columns(case_rows, 3),
    )
    return projection


async def lock_complete_patients(conn: asyncpg.Connection, patients: Collection[str]) -> list[str]:
    """Lock the patients' rows (the consumer takes the same lock) and keep those with a complete revision.

    Rows the consumer holds are skipped, not waited for: it locks the patient before the timer and
    the scheduler the other way round, so waiting could deadlock; the consumer evaluates them anyway.
    """
    rows = await conn.fetch(
        "SELECT patient_pseudonym, events_seen >= events_expected AS complete FROM patients "
        "WHERE patient_pseudonym = ANY($1::text[]) ORDER BY patient_pseudonym FOR UPDATE SKIP LOCKED",
        list(patients),
    )
    return [row["patient_pseudonym"] for row in rows if row["complete"]]


async def cases_by_patient(
    conn: asyncpg.Connection, patients: Collection[str], stored_now: Iterable[SickLeaveCaseChanged] = ()
) -> dict[str, list[SickLeaveCaseChanged]]:
    """The stored cases of these patients; `stored_now` are cases this transaction has just stored, taken as they are
    instead of being read back and validated again."""
    cases: dict[str, list[SickLeaveCaseChanged]] = {patient: [] for patient in patients}
    known = {case.case_id: case for case in stored_now if case.patient_pseudonym in cases}
    for row in await conn.fetch(
        "SELECT body FROM cases WHERE patient_pseudonym = ANY($1::text[]) AND NOT (case_id = ANY($2::text[]))", list(patients), list(known)
    ):
        case = SickLeaveCaseChanged.model_validate(row["body"])
        cases[case.patient_pseudonym].append(case)
    for case in known.values():
        cases[case.patient_pseudonym].append(case)
    return cases


async def published_milestones_by_patient(
    conn: asyncpg.Connection, patients: Collection[str]
) -> dict[str, dict[tuple[str, MilestoneKind], MilestoneChanged]]:
    published: dict[str, dict[tuple[str, MilestoneKind], MilestoneChanged]] = {patient: {} for patient in patients}
    for row in await conn.fetch("SELECT body FROM milestones WHERE patient_pseudonym = ANY($1::text[])", list(patients)):
        milestone = MilestoneChanged.model_validate(row["body"])
        published[milestone.patient_pseudonym][(milestone.case_id, milestone.kind)] = milestone
    return published


async def save_milestones(conn: asyncpg.Connection, milestones: Iterable[MilestoneChanged]) -> None:
    rows = last_per_key(
        [(m.case_id, m.kind.value, m.patient_pseudonym, m.status.value, m.due_date, m.revision, m.model_dump(mode="json")) for m in milestones],
        itemgetter(0, 1),
    )
    await conn.execute(
        "INSERT INTO milestones (case_id, kind, patient_pseudonym, status, due_date, revision, body) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::int[], $7::jsonb[]) "
        "ON CONFLICT (case_id, kind) DO UPDATE SET patient_pseudonym = excluded.patient_pseudonym, status = excluded.status, "
        "due_date = excluded.due_date, revision = excluded.revision, body = excluded.body",
        *columns(rows, 7),
    )


async def set_timers(conn: asyncpg.Connection, fires_on: Mapping[str, date | None]) -> None:
    """The next date each patient's milestones change; None: nothing left to fire."""
    # Each statement only when it has rows: an empty one is still a round trip.
    finished = [patient for patient, day in fires_on.items() if day is None]
    if finished:
        await conn.execute("DELETE FROM timers WHERE patient_pseudonym = ANY($1::text[])", finished)
    rows = [(patient, day) for patient, day in fires_on.items() if day is not None]
    if not rows:
        return
    await conn.execute(
        "INSERT INTO timers (patient_pseudonym, fires_on) SELECT * FROM unnest($1::text[], $2::date[]) "
        "ON CONFLICT (patient_pseudonym) DO UPDATE SET fires_on = excluded.fires_on",
        *columns(rows, 2),
    )


async def claim_due_timers(conn: asyncpg.Connection, today: date, limit: int) -> list[str]:
    """Lock timers that fell due; SKIP LOCKED lets several instances share the work, none twice."""
    rows = await conn.fetch(
        "SELECT patient_pseudonym FROM timers WHERE fires_on <= $1 ORDER BY fires_on LIMIT $2 FOR UPDATE SKIP LOCKED", today, limit
    )
    return [row["patient_pseudonym"] for row in rows]


async def patient_of_case(conn: asyncpg.Connection, case_id: str) -> str | None:
    """The patient of a case that exists now; None for an unknown or removed case."""
    patient: str | None = await conn.fetchval("SELECT patient_pseudonym FROM cases WHERE case_id = $1", case_id)
    return patient


async def record_case_gap(conn: asyncpg.Connection, max_gap: int) -> None:
    """Remember the gap the last case event named; the row is written (and locked) only when it changes."""
    # One statement, and no ON CONFLICT DO UPDATE: that would lock the row on every batch, and the
    # instances' transactions would queue behind it. Both parts see the snapshot before the insert.
    await conn.execute(
        "WITH inserted AS (INSERT INTO case_gap (max_gap) VALUES ($1) ON CONFLICT (singleton) DO NOTHING) "
        "UPDATE case_gap SET max_gap = $1, seen_at = now() WHERE max_gap <> $1",
        max_gap,
    )


async def last_case_gap(conn: asyncpg.Connection) -> int | None:
    """The gap named by the last case event that carried one; None before any did."""
    gap: int | None = await conn.fetchval("SELECT max_gap FROM case_gap")
    return gap

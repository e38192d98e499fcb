"""The changes of the coordinator's records, for the JSON API and the pages alike (docs/casework.md).

Each operation runs in the caller's transaction and does the whole change: it checks the change,
stores it, and writes its pseudonymised event to the outbox (docs/casework.md §7), or raises
`CaseworkRefusal` with the HTTP status and the Swedish reason, having stored and published nothing
that the caller's rollback does not undo. Who may change what (docs/casework.md §4) is the
caller's check; the access-log row too, since only the caller knows what it shows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from uuid import uuid4

import asyncpg
from fastapi import HTTPException, status

from services.notifications import case_facts_store
from services.notifications import casework_repository as records
from services.notifications.casework_events import (
    EVENT_TYPES,
    CaseworkChangeEvent,
    consent_recorded,
    contact_logged,
    plan_changed,
    reko_status_changed,
)
from services.notifications.consent import ConsentDecision, ConsentRecord, ConsentScope, decision_date_problem, withdrawal_problem
from services.notifications.contact_log import Contact, ContactKind, ContactParty, contact_date_problem, contact_refusal, parties_of
from services.notifications.next_step_alerts import NextStepAlerts
from services.notifications.rehabilitation_plan import NextStep, PlanVersion, open_next_step
from services.notifications.reko_status import RekoStatus, RekoStatusChange, status_change
from shared.auth import AuthenticatedUser, may_read_patient, sees_only_own_patients
from shared.clock import Clock
from shared.http_errors import problem_text
from shared.outbox import Outbox

NOT_THE_CASES_PATIENT = "patientpseudonymen hör inte till sjukfallet"
UNKNOWN_PATIENT = "Sjukfallets patient är okänd vid vårdenheten."
PATIENT_NEEDED = "krävs: sjukfallets patient är okänd vid vårdenheten"
NO_PLAN = "Patienten har ingen rehabiliteringsplan vid vårdenheten."
NO_OPEN_STEP = "Planen har inget nästa steg att markera som gjort."
PLAN_CHANGED = "Planen har ändrats sedan den lästes. Läs den igen och gör ändringen på nytt."
STEP_DONE_AFTER_TODAY = "Ett steg kan inte markeras som gjort efter dagens datum."


class CaseworkRefusal(HTTPException):
    """A change refused: `status_code` (404, 409, 422), the Swedish `message`, and for a 422 the
    `field` it is about, named as the JSON body names it (`decidedOn`, `nextStep.doneOn`).

    An `HTTPException`, so a route lets it through as its answer (a 422 by field, as
    shared/http_errors.py writes them); a page catches it and shows `message` by its field.
    """

    def __init__(self, status_code: int, message: str, *, field: str | None = None) -> None:
        detail: object = [{"field": f"body.{field}", "problem": problem_text(message)}] if field else message
        super().__init__(status_code, detail)
        self.message = message
        self.field = field


def _unprocessable(field: str, message: str) -> CaseworkRefusal:
    return CaseworkRefusal(status.HTTP_422_UNPROCESSABLE_CONTENT, message, field=field)


def _conflict(message: str) -> CaseworkRefusal:
    return CaseworkRefusal(status.HTTP_409_CONFLICT, message)


@dataclass(frozen=True)
class Casework:
    """What the operations need of the service: its clock, the casework topic (full name), the
    next-step alerts a plan's change follows, and the events' source."""

    clock: Clock
    casework_topic: str
    next_steps: NextStepAlerts
    source: str

    def outbox(self) -> Outbox:
        return Outbox(source=self.source)

    def publish(self, outbox: Outbox, event: CaseworkChangeEvent) -> None:
        # Keyed by the care unit: every record is one unit's, so a unit's changes arrive in the order made (docs/events.md §3.7).
        outbox.event(
            topic=self.casework_topic,
            key=event.care_unit_hsa_id,
            event_type=EVENT_TYPES[type(event)],
            time=self.clock.now(),
            subject=event.case_id,
            data=event,
        )


# --- from a case to its patient (docs/casework.md §6) ---------------------------------------------


async def patient_named(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str, named: str | None) -> str | None:
    """The case's patient: as reko knows it, else as the request names it (then remembered); 422
    when the request names another patient than the one reko knows."""
    known = await records.patient_of_case(conn, case_id, care_unit_hsa_id)
    if known is not None and named is not None and named != known:
        raise _unprocessable("patientPseudonym", NOT_THE_CASES_PATIENT)
    patient = known or named
    if patient is not None:
        # Kept with the unit's records, so the case still finds its patient once its alerts have moved on.
        await records.remember_patient_of_case(conn, case_id, care_unit_hsa_id, patient)
    return patient


async def known_patient(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str, reader: AuthenticatedUser | None = None) -> str:
    """The case's patient for a read; 404 when reko does not know it at the unit, or when the
    reader is a doctor and the patient not theirs (docs/casework.md §4): the same answer, so nothing leaks."""
    patient = await readable_patient(conn, case_id, care_unit_hsa_id, reader)
    if patient is None:
        raise CaseworkRefusal(status.HTTP_404_NOT_FOUND, UNKNOWN_PATIENT)
    return patient


async def readable_patient(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str, reader: AuthenticatedUser | None) -> str | None:
    """The case's patient as `known_patient` finds it, None when it is unknown at the unit; 404 when
    the reader is a doctor who may not read the patient, an unknown patient included."""
    patient = await records.patient_of_case(conn, case_id, care_unit_hsa_id)
    if reader is not None and sees_only_own_patients(reader):
        doctors = await case_facts_store.doctors_of_patient(conn, patient) if patient is not None else set()
        if not may_read_patient(reader, doctors):
            raise CaseworkRefusal(status.HTTP_404_NOT_FOUND, UNKNOWN_PATIENT)
    return patient


async def patient_to_write_for(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str, named: str | None) -> str:
    """The case's patient for a change of the patient's records, locked for the transaction; 422
    when neither reko nor the request knows who it is."""
    patient = await patient_named(conn, case_id, care_unit_hsa_id, named)
    if patient is None:
        raise _unprocessable("patientPseudonym", PATIENT_NEEDED)
    await records.lock_patient_at_unit(conn, patient, care_unit_hsa_id)
    return patient


# --- the changes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusSet:
    patient_pseudonym: str | None
    # Every change, oldest first, the new one included.
    history: list[RekoStatusChange]


async def set_reko_status(
    conn: asyncpg.Connection,
    casework: Casework,
    by: str,
    care_unit_hsa_id: str,
    case_id: str,
    wanted: RekoStatus,
    *,
    named_patient: str | None = None,
) -> StatusSet:
    """Set the case's REKO status at the unit (docs/casework.md §1); the status it already has records and publishes nothing."""
    await records.lock_case_at_unit(conn, case_id, care_unit_hsa_id)
    patient = await patient_named(conn, case_id, care_unit_hsa_id, named_patient)
    history = await records.reko_status_history(conn, case_id, care_unit_hsa_id)
    change = status_change(history, wanted, case_id=case_id, care_unit_hsa_id=care_unit_hsa_id, by=by, at=casework.clock.now())
    if change is not None:
        await records.add_reko_status_change(conn, change)
        history.append(change)
        outbox = casework.outbox()
        casework.publish(outbox, reko_status_changed(change, patient, revision=len(history)))
        await outbox.write(conn)
    return StatusSet(patient, history)


@dataclass(frozen=True)
class ConsentSet:
    patient_pseudonym: str
    # Every decision of the patient at the unit, in the order recorded, the new ones included.
    consents: list[ConsentRecord]


async def record_consent(
    conn: asyncpg.Connection,
    casework: Casework,
    by: str,
    care_unit_hsa_id: str,
    case_id: str,
    scopes: Collection[ConsentScope],
    decision: ConsentDecision,
    decided_on: date,
    *,
    named_patient: str | None = None,
) -> ConsentSet:
    """Record the patient's decision for each scope (docs/casework.md §2.1): 422 for a date after
    today, 409 for withdrawing a consent not in force."""
    date_problem = decision_date_problem(decided_on, casework.clock.today())
    if date_problem:
        raise _unprocessable("decidedOn", date_problem)
    patient = await patient_to_write_for(conn, case_id, care_unit_hsa_id, named_patient)
    consents = await records.consent_records(conn, patient, care_unit_hsa_id)
    chosen = [scope for scope in ConsentScope if scope in set(scopes)]
    for scope in chosen:
        problem = withdrawal_problem(consents, scope, decision, decided_on)
        if problem:
            raise _conflict(problem)
    now = casework.clock.now()
    added = [
        ConsentRecord(
            patient_pseudonym=patient,
            care_unit_hsa_id=care_unit_hsa_id,
            scope=scope,
            decision=decision,
            decided_on=decided_on,
            recorded_by=by,
            recorded_at=now,
        )
        for scope in chosen
    ]
    await records.add_consent_records(conn, case_id, added)
    outbox = casework.outbox()
    for recorded in added:
        casework.publish(outbox, consent_recorded(case_id, recorded))
    await outbox.write(conn)
    return ConsentSet(patient, [*consents, *added])


async def record_contact(
    conn: asyncpg.Connection,
    casework: Casework,
    by: str,
    care_unit_hsa_id: str,
    case_id: str,
    kind: ContactKind,
    contact_on: date,
    *,
    parties: Collection[ContactParty] = (),
    note: str = "",
    named_patient: str | None = None,
) -> Contact:
    """Log a contact that has taken place (docs/casework.md §3.2): 422 for a date after today, 409
    naming the consent missing on its date for a contact with a party outside the unit (§2.2)."""
    date_problem = contact_date_problem(contact_on, casework.clock.today())
    if date_problem:
        raise _unprocessable("contactOn", date_problem)
    reached = parties_of(kind, parties)
    patient = await patient_to_write_for(conn, case_id, care_unit_hsa_id, named_patient)
    refusal = contact_refusal(await records.consent_records(conn, patient, care_unit_hsa_id), reached, contact_on)
    if refusal:
        raise _conflict(refusal)
    contact = Contact(
        contact_id=str(uuid4()),
        case_id=case_id,
        patient_pseudonym=patient,
        care_unit_hsa_id=care_unit_hsa_id,
        kind=kind,
        parties=reached,
        contact_on=contact_on,
        note=note,
        recorded_by=by,
        recorded_at=casework.clock.now(),
    )
    await records.add_contact(conn, contact)
    outbox = casework.outbox()
    casework.publish(outbox, contact_logged(contact))
    await outbox.write(conn)
    return contact


@dataclass(frozen=True)
class AgreedPlan:
    """The plan as agreed with the patient: goal, agreed steps, the next step (docs/casework.md §3.1)."""

    goal: str
    agreed_steps: tuple[str, ...]
    next_step: NextStep | None


@dataclass(frozen=True)
class PlanSaved:
    patient_pseudonym: str
    # Every version, oldest first, the new one last.
    versions: list[PlanVersion]


async def set_plan(
    conn: asyncpg.Connection,
    casework: Casework,
    by: str,
    care_unit_hsa_id: str,
    case_id: str,
    agreed: AgreedPlan,
    *,
    expected_version: int | None = None,
    named_patient: str | None = None,
) -> PlanSaved:
    """Record the plan as agreed now: a new version (the first creates the plan); 409 when
    `expected_version` is not the current one, 422 for a step done after today."""
    step = agreed.next_step
    if step is not None and step.done_on is not None and step.done_on > casework.clock.today():
        raise _unprocessable("nextStep.doneOn", STEP_DONE_AFTER_TODAY)
    patient = await patient_to_write_for(conn, case_id, care_unit_hsa_id, named_patient)
    return await _save_plan(conn, casework, by, care_unit_hsa_id, case_id, patient, lambda _current: agreed, expected_version, next_step_done=False)


async def mark_next_step_done(
    conn: asyncpg.Connection, casework: Casework, by: str, care_unit_hsa_id: str, case_id: str, done_on: date | None = None
) -> PlanSaved:
    """Mark the plan's next step done on `done_on` (default today): a new version with the same goal
    and steps; 404 for a patient reko does not know, 409 when there is no step still to be taken,
    422 for a day after today."""
    today = casework.clock.today()
    done_on = done_on or today
    if done_on > today:
        raise _unprocessable("doneOn", STEP_DONE_AFTER_TODAY)
    patient = await known_patient(conn, case_id, care_unit_hsa_id)
    await records.lock_patient_at_unit(conn, patient, care_unit_hsa_id)

    def step_done(current: PlanVersion | None) -> AgreedPlan:
        step = open_next_step(current)
        if current is None or step is None:
            raise _conflict(NO_PLAN if current is None else NO_OPEN_STEP)
        return AgreedPlan(current.goal, current.agreed_steps, step.model_copy(update={"done_on": done_on}))

    return await _save_plan(conn, casework, by, care_unit_hsa_id, case_id, patient, step_done, None, next_step_done=True)


async def _save_plan(
    conn: asyncpg.Connection,
    casework: Casework,
    by: str,
    care_unit_hsa_id: str,
    case_id: str,
    patient: str,
    change: Callable[[PlanVersion | None], AgreedPlan],
    expected_version: int | None,
    *,
    next_step_done: bool,
) -> PlanSaved:
    """Store the plan's next version, withdrawing the alert of a step done, moved or gone
    (docs/casework.md §3.3); that alert and the version's event go in the same outbox write."""
    head = await records.lock_plan_head(conn, patient, care_unit_hsa_id)
    current = head.current_version if head else 0
    if expected_version is not None and expected_version != current:
        raise _conflict(PLAN_CHANGED)
    versions = await records.plan_versions(conn, patient, care_unit_hsa_id) if head else []
    latest = versions[-1] if versions else None
    agreed = change(latest)
    plan = PlanVersion(
        plan_id=head.plan_id if head else str(uuid4()),
        version=current + 1,
        case_id=case_id,
        patient_pseudonym=patient,
        care_unit_hsa_id=care_unit_hsa_id,
        goal=agreed.goal,
        agreed_steps=agreed.agreed_steps,
        next_step=agreed.next_step,
        recorded_by=by,
        recorded_at=casework.clock.now(),
    )
    outbox = casework.outbox()
    still_open = await casework.next_steps.follow_plan(conn, outbox, head, plan)
    await records.save_plan_version(conn, plan, still_open)
    casework.publish(outbox, plan_changed(plan, next_step_done=next_step_done))
    await outbox.write(conn)
    return PlanSaved(patient, [*versions, plan])

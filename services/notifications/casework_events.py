"""What the coordinator's records publish (docs/casework.md §7, docs/events.md §3.7): each change as
its pseudonymised event, built from the record alone.

The events carry codes, dates, ids and who and when, never the note of a contact, the plan's goal,
its agreed steps or a step's description: those are patient data (docs/casework.md §3).
"""

from __future__ import annotations

from services.notifications.consent import ConsentRecord
from services.notifications.contact_log import Contact
from services.notifications.rehabilitation_plan import PlanVersion
from services.notifications.reko_status import REKO_CODES, RekoStatusChange
from shared.contracts.casework import (
    CONSENT_RECORDED_TYPE,
    CONTACT_LOGGED_TYPE,
    PLAN_CHANGED_TYPE,
    REKO_STATUS_CHANGED_TYPE,
    ConsentRecorded,
    ContactLogged,
    PlannedNextStep,
    RehabilitationPlanChanged,
    RekoStatusChanged,
)

CaseworkChangeEvent = RekoStatusChanged | ConsentRecorded | RehabilitationPlanChanged | ContactLogged

EVENT_TYPES: dict[type[CaseworkChangeEvent], str] = {
    RekoStatusChanged: REKO_STATUS_CHANGED_TYPE,
    ConsentRecorded: CONSENT_RECORDED_TYPE,
    RehabilitationPlanChanged: PLAN_CHANGED_TYPE,
    ContactLogged: CONTACT_LOGGED_TYPE,
}


def reko_status_changed(change: RekoStatusChange, patient_pseudonym: str | None, revision: int) -> RekoStatusChanged:
    """The event of a REKO status change; `revision` is its place in the case's history at the unit."""
    return RekoStatusChanged(
        case_id=change.case_id,
        patient_pseudonym=patient_pseudonym,
        care_unit_hsa_id=change.care_unit_hsa_id,
        recorded_by=change.changed_by,
        recorded_at=change.changed_at,
        status=change.status.value,
        code=REKO_CODES[change.status],
        revision=revision,
    )


def consent_recorded(case_id: str, decision: ConsentRecord) -> ConsentRecorded:
    """The event of one consent decision, for one scope, recorded through `case_id`."""
    return ConsentRecorded(
        case_id=case_id,
        patient_pseudonym=decision.patient_pseudonym,
        care_unit_hsa_id=decision.care_unit_hsa_id,
        recorded_by=decision.recorded_by,
        recorded_at=decision.recorded_at,
        scope=decision.scope.value,
        decision=decision.decision.value,
        decided_on=decision.decided_on,
    )


def plan_changed(plan: PlanVersion, *, next_step_done: bool = False) -> RehabilitationPlanChanged:
    """The event of a plan's new version: its number and the next step's date, owner and done date,
    without the goal, the agreed steps or the step's description."""
    step = plan.next_step
    return RehabilitationPlanChanged(
        case_id=plan.case_id,
        patient_pseudonym=plan.patient_pseudonym,
        care_unit_hsa_id=plan.care_unit_hsa_id,
        recorded_by=plan.recorded_by,
        recorded_at=plan.recorded_at,
        plan_id=plan.plan_id,
        version=plan.version,
        change="NEXT_STEP_DONE" if next_step_done else "CHANGED",
        next_step=PlannedNextStep(due_on=step.due_on, owner=step.owner.value, done_on=step.done_on) if step else None,
    )


def contact_logged(contact: Contact) -> ContactLogged:
    """The event of a logged contact: its kind, parties and date, without its note."""
    return ContactLogged(
        case_id=contact.case_id,
        patient_pseudonym=contact.patient_pseudonym,
        care_unit_hsa_id=contact.care_unit_hsa_id,
        recorded_by=contact.recorded_by,
        recorded_at=contact.recorded_at,
        contact_id=contact.contact_id,
        contact_kind=contact.kind.value,
        parties=tuple(party.value for party in contact.parties),
        contact_on=contact.contact_on,
    )

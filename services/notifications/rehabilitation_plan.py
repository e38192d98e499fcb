"""The rehabilitation plan agreed with the patient, and its next step's alert (docs/casework.md §3).

Per patient and care unit, the plan is kept in versions: each change is a new version with who and
when. The next step has a date and an owner; once its date has passed and it is not done, the
unit's coordinators get a `NEXT_STEP` alert, one per (plan, date), announced once. The step done,
moved or gone withdraws the alert.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel

from services.notifications.alert import unit_coordinators
from shared.contracts.alerts import NEXT_STEP_ALERT_KIND, AlertChanged, AlertState


class NextStepOwner(StrEnum):
    PATIENT = "PATIENT"
    REHABKOORDINATOR = "REHABKOORDINATOR"
    LAKARE = "LAKARE"
    EMPLOYER = "EMPLOYER"
    FORSAKRINGSKASSAN = "FORSAKRINGSKASSAN"
    ARBETSFORMEDLINGEN = "ARBETSFORMEDLINGEN"
    OTHER = "OTHER"


OWNER_TEXT: dict[NextStepOwner, str] = {
    NextStepOwner.PATIENT: "patienten",
    NextStepOwner.REHABKOORDINATOR: "rehabkoordinatorn",
    NextStepOwner.LAKARE: "läkaren",
    NextStepOwner.EMPLOYER: "arbetsgivaren",
    NextStepOwner.FORSAKRINGSKASSAN: "Försäkringskassan",
    NextStepOwner.ARBETSFORMEDLINGEN: "Arbetsförmedlingen",
    NextStepOwner.OTHER: "annan",
}


class NextStep(BaseModel, frozen=True):
    # Patient data, like the goal and the agreed steps: never in an alert, a log line or a topic.
    description: str
    due_on: date
    owner: NextStepOwner
    done_on: date | None = None


class PlanVersion(BaseModel, frozen=True):
    plan_id: str
    version: int
    # The case the plan was last changed through (the path's case id).
    case_id: str
    patient_pseudonym: str
    care_unit_hsa_id: str
    goal: str
    agreed_steps: tuple[str, ...]
    next_step: NextStep | None
    recorded_by: str
    recorded_at: datetime


def open_next_step(plan: PlanVersion | None) -> NextStep | None:
    """The plan's next step while it is still to be taken."""
    step = plan.next_step if plan is not None else None
    return step if step is not None and step.done_on is None else None


def next_step_overdue(step: NextStep | None, on: date) -> bool:
    """A step is overdue once its date has passed (the day after it) and it is not done."""
    return step is not None and step.done_on is None and step.due_on < on


def next_step_alert_id(plan_id: str, due_on: date) -> str:
    """One alert per (plan, date): a step moved to another date is another alert."""
    return f"next-step:{plan_id}:{due_on.isoformat()}"


def next_step_alert_title(step: NextStep) -> str:
    # Only the date and the owner: the step's description is the patient's and stays out of the topic.
    return (
        f"Nästa steg i rehabiliteringsplanen är försenat (planerat {step.due_on.isoformat()}, ansvarig: {OWNER_TEXT[step.owner]}) "
        "/ The next step of the rehabilitation plan is overdue"
    )


def overdue_step_alert(plan: PlanVersion, before: AlertChanged | None, today: date, now: datetime) -> AlertChanged | None:
    """The alert the plan's overdue next step opens, or None when there is nothing to open.

    `before` is the alert already kept under the step's id. An open one stays as it is; one
    withdrawn earlier (the step moved away and back) opens again without a new announcement:
    each (plan, date) is announced once.
    """
    step = open_next_step(plan)
    if step is None or not next_step_overdue(step, today) or (before is not None and before.state is AlertState.OPEN):
        return None
    return AlertChanged(
        alert_id=next_step_alert_id(plan.plan_id, step.due_on),
        care_unit_hsa_id=plan.care_unit_hsa_id,
        addressed_to=unit_coordinators(plan.care_unit_hsa_id),
        case_id=plan.case_id,
        kind=NEXT_STEP_ALERT_KIND,
        due_date=step.due_on,
        next_step_owner=step.owner.value,
        title=next_step_alert_title(step),
        created=before.created if before is not None else now,
        state=AlertState.OPEN,
        revision=plan.version,
        announce=before is None,
    )


def still_alerted(alert_id: str | None, plan: PlanVersion) -> bool:
    """Whether the open alert `alert_id` is still about the new version's next step: same date, not done."""
    step = open_next_step(plan)
    return alert_id is not None and step is not None and alert_id == next_step_alert_id(plan.plan_id, step.due_on)


def withdrawn_step_alert(alert: AlertChanged, plan: PlanVersion) -> AlertChanged | None:
    """The open alert of an earlier next step, withdrawn because the new version's step is done,
    moved or gone; None when the alert is not open or still holds."""
    if alert.state is not AlertState.OPEN or still_alerted(alert.alert_id, plan):
        return None
    return alert.model_copy(update={"state": AlertState.WITHDRAWN, "revision": plan.version, "announce": False})

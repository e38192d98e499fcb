"""Alerts to the coordinators of a care unit, published by notifications on `rehab.alerts.v1`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from shared.contracts.envelope import EventData

ALERT_CHANGED_TYPE = "se.reko.alert.changed.v1"


class AlertState(StrEnum):
    OPEN = "OPEN"
    # The reason for the alert went away (the milestone was cancelled or the case withdrawn).
    WITHDRAWN = "WITHDRAWN"


# An alert about a case's risk of long sick leave rather than a milestone.
RISK_FLAG_ALERT_KIND = "RISK_FLAG"
# An alert about the next step of the patient's rehabilitation plan, whose date has passed.
NEXT_STEP_ALERT_KIND = "NEXT_STEP"

# `withdrawnBecause` of an alert notifications withdrew itself because the case events said its case
# no longer exists; the case coming back reopens it (docs/alert-lifecycle.md §3).
CASE_REMOVED = "CASE_REMOVED"


class AlertChanged(EventData):
    alert_id: str
    care_unit_hsa_id: str
    addressed_to: str
    case_id: str
    # A milestone kind (`CHAIN_DAY_90`, `RETURN_TO_WORK_PLAN`, ...), `RISK_FLAG` or `NEXT_STEP`.
    kind: str
    # Milestone alerts: the milestone's status and due date; next-step alerts: the step's date.
    milestone_status: str | None = None
    due_date: date | None = None
    # Next-step alerts: who the plan names to take the step (`REHABKOORDINATOR`, `PATIENT`, ...).
    next_step_owner: str | None = None
    # Risk alerts: the level and the reason codes that make it.
    risk_level: str | None = None
    reason_codes: tuple[str, ...] = ()
    title: str
    created: datetime
    state: AlertState
    # The revision of the milestone or risk flag the alert reflects.
    revision: int
    # True on the one event that makes the alert new, the one to tell a person about (a mail, a
    # push). A milestone alert is one per (case, kind, due date) and is announced once; every later
    # event of the same alert (due, moved to another unit, withdrawn, reopened) only updates it.
    announce: bool = False
    # Why notifications itself withdrew the alert ahead of the milestone or flag (`CASE_REMOVED`);
    # None otherwise. The next milestone or flag event of the alert decides again.
    withdrawn_because: str | None = None
    # Grows by one with every event published for this alert id, whatever caused it: an alert that
    # moves to another unit changes key, so its events may be read out of order; the highest
    # (revision, sequence) is its current state.
    sequence: int = 0

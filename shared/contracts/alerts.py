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


class AlertChanged(EventData):
    alert_id: str
    care_unit_hsa_id: str
    addressed_to: str
    case_id: str
    kind: str
    milestone_status: str
    due_date: date
    title: str
    created: datetime
    state: AlertState
    revision: int

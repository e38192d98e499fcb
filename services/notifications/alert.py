"""How a milestone becomes an alert for the coordinators of the care unit."""

from __future__ import annotations

from datetime import datetime

from shared.contracts.alerts import AlertChanged, AlertState
from shared.contracts.milestones import MilestoneChanged, MilestoneStatus


def unit_coordinators(care_unit_hsa_id: str) -> str:
    """The address of a care unit's rehabkoordinatorer, as alerts name it."""
    return f"rehabkoordinatorer:{care_unit_hsa_id}"


def alert_for(milestone: MilestoneChanged, before: AlertChanged | None, now: datetime) -> AlertChanged | None:
    """The alert after this milestone state, or None when nothing changes for the coordinators.

    A scheduled or due milestone opens (or updates) the alert; a cancelled one withdraws it. A
    milestone event older than the one the alert already reflects changes nothing.
    """
    if before is not None and milestone.revision <= before.revision:
        return None
    state = AlertState.WITHDRAWN if milestone.status is MilestoneStatus.CANCELLED else AlertState.OPEN
    if before is None and state is AlertState.WITHDRAWN:
        return None
    return AlertChanged(
        alert_id=milestone.milestone_id,
        care_unit_hsa_id=milestone.care_unit_hsa_id,
        addressed_to=unit_coordinators(milestone.care_unit_hsa_id),
        case_id=milestone.case_id,
        kind=milestone.kind.value,
        milestone_status=milestone.status.value,
        due_date=milestone.due_date,
        title=milestone.title,
        created=before.created if before is not None else now,
        state=state,
        revision=milestone.revision,
    )

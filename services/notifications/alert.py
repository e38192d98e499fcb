"""How a milestone becomes an alert for the coordinators of the care unit."""

from __future__ import annotations

from datetime import datetime

from shared.contracts.alerts import RISK_FLAG_ALERT_KIND, AlertChanged, AlertState
from shared.contracts.milestones import MilestoneChanged, MilestoneStatus
from shared.contracts.risk_flags import RiskFlagChanged

RISK_LEVEL_TITLES = {
    "MODERATE": "måttlig",
    "HIGH": "hög",
    "VERY_HIGH": "mycket hög",
}


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


def risk_alert_id(case_id: str) -> str:
    return f"risk:{case_id}"


def alert_for_risk_flag(flag: RiskFlagChanged, before: AlertChanged | None, now: datetime) -> AlertChanged | None:
    """The risk alert after this flag, or None when nothing changes for the coordinators.

    A flagged case opens (or updates) its alert, so the coordinators can offer support early; a
    flag withdrawn (level NONE, or the case gone) withdraws it. An older flag changes nothing.
    """
    if before is not None and flag.revision <= before.revision:
        return None
    state = AlertState.OPEN if flag.flagged else AlertState.WITHDRAWN
    if before is None and state is AlertState.WITHDRAWN:
        return None
    level = RISK_LEVEL_TITLES.get(flag.level.value)
    title = (
        f"Risk för lång sjukskrivning: {level} ({', '.join(flag.reason_codes)}) / Risk of long sick leave: {flag.level.value}"
        if level
        else "Risken för lång sjukskrivning har upphört / The risk flag was withdrawn"
    )
    return AlertChanged(
        alert_id=risk_alert_id(flag.case_id),
        care_unit_hsa_id=flag.care_unit_hsa_id,
        addressed_to=unit_coordinators(flag.care_unit_hsa_id),
        case_id=flag.case_id,
        kind=RISK_FLAG_ALERT_KIND,
        risk_level=flag.level.value,
        reason_codes=flag.reason_codes,
        title=title,
        created=before.created if before is not None else now,
        state=state,
        revision=flag.revision,
    )

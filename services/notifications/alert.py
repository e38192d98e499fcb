"""How a milestone becomes an alert for the coordinators of the care unit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

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


def milestone_alert_id(case_id: str, kind: str, due_date: date) -> str:
    """One alert per (case, kind, due date): a moved due date is another alert."""
    return f"{case_id}:{kind}:{due_date.isoformat()}"


def alerts_for(milestone: MilestoneChanged, held: Sequence[AlertChanged], now: datetime) -> list[AlertChanged]:
    """The alerts of the milestone's (case, kind) that this milestone event changes, in their new state.

    `held` are the alerts already kept for the (case, kind), one per due date it had. The alert of
    the milestone's due date opens (a scheduled or due milestone) or is withdrawn (a cancelled one);
    an open alert of another due date is withdrawn, that date no longer holds. The alert is announced
    only when it is new, and never for a milestone `update`: one announcement per (case, kind, due
    date), whatever the details that change later. A milestone event no newer than what the alerts
    already reflect changes nothing.
    """
    if any(alert.revision >= milestone.revision for alert in held):
        return []
    alert_id = milestone_alert_id(milestone.case_id, milestone.kind.value, milestone.due_date)
    changed = [
        alert.model_copy(update={"state": AlertState.WITHDRAWN, "revision": milestone.revision, "announce": False})
        for alert in held
        if alert.alert_id != alert_id and alert.state is AlertState.OPEN
    ]
    before = next((alert for alert in held if alert.alert_id == alert_id), None)
    state = AlertState.WITHDRAWN if milestone.status is MilestoneStatus.CANCELLED else AlertState.OPEN
    if before is None and state is AlertState.WITHDRAWN:
        return changed
    changed.append(
        AlertChanged(
            alert_id=alert_id,
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
            announce=before is None and not milestone.update,
        )
    )
    return changed


def tells_something_new(before: AlertChanged | None, after: AlertChanged) -> bool:
    """Whether an alert's new state says more than the revision it reflects (worth an event)."""
    if before is None:
        return True
    unchanged = {"revision", "announce", "sequence"}
    return before.model_dump(exclude=unchanged) != after.model_dump(exclude=unchanged)


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
        # A flag that comes back after it was withdrawn is news again, unlike a milestone's details.
        announce=state is AlertState.OPEN and (before is None or before.state is AlertState.WITHDRAWN),
    )


def sequenced(alert: AlertChanged, before: AlertChanged | None, *, published: bool) -> AlertChanged:
    """The alert numbered after `before`: one more when this change is published, the same otherwise."""
    sequence = (before.sequence if before is not None else 0) + (1 if published else 0)
    return alert.model_copy(update={"sequence": sequence})

"""`alert_for`: how a milestone state becomes (or withdraws) an alert to a unit's coordinators."""

from datetime import UTC, date, datetime, timedelta

from services.notifications.alert import alert_for, unit_coordinators
from shared.contracts.alerts import AlertState
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus

FIRST_SEEN = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LATER = FIRST_SEEN + timedelta(days=30)


def milestone(
    status: MilestoneStatus,
    revision: int,
    *,
    due_date: date = date(2026, 3, 31),
    care_unit_hsa_id: str = "SE-UNIT-A",
    kind: MilestoneKind = MilestoneKind.CHAIN_DAY_90,
) -> MilestoneChanged:
    return MilestoneChanged(
        milestone_id=f"c1:{kind.value}",
        case_id="c1",
        patient_pseudonym="pseudonym-1",
        certificate_ids=("c1",),
        care_unit_hsa_id=care_unit_hsa_id,
        kind=kind,
        due_date=due_date,
        status=status,
        chain_day=90,
        title="Dag 90",
        revision=revision,
    )


def test_a_scheduled_milestone_opens_an_alert_to_the_units_coordinators():
    alert = alert_for(milestone(MilestoneStatus.SCHEDULED, 1), None, FIRST_SEEN)
    assert alert is not None
    assert alert.state is AlertState.OPEN
    assert alert.addressed_to == unit_coordinators("SE-UNIT-A") == "rehabkoordinatorer:SE-UNIT-A"
    assert alert.care_unit_hsa_id == "SE-UNIT-A"
    assert alert.alert_id == "c1:CHAIN_DAY_90"
    assert (alert.case_id, alert.kind, alert.milestone_status) == ("c1", "CHAIN_DAY_90", "SCHEDULED")
    assert (alert.due_date, alert.title, alert.revision) == (date(2026, 3, 31), "Dag 90", 1)
    assert alert.created == FIRST_SEEN


def test_a_due_milestone_opens_an_alert():
    alert = alert_for(milestone(MilestoneStatus.DUE, 1, kind=MilestoneKind.RETURN_TO_WORK_PLAN), None, FIRST_SEEN)
    assert alert is not None
    assert (alert.state, alert.kind, alert.milestone_status) == (AlertState.OPEN, "RETURN_TO_WORK_PLAN", "DUE")


def test_a_scheduled_alert_becoming_due_stays_open_and_keeps_its_creation_time():
    opened = alert_for(milestone(MilestoneStatus.SCHEDULED, 1), None, FIRST_SEEN)
    due = alert_for(milestone(MilestoneStatus.DUE, 2), opened, LATER)
    assert due is not None
    assert (due.state, due.milestone_status, due.revision) == (AlertState.OPEN, "DUE", 2)
    assert due.created == FIRST_SEEN


def test_a_cancelled_milestone_withdraws_the_alert():
    opened = alert_for(milestone(MilestoneStatus.DUE, 1), None, FIRST_SEEN)
    withdrawn = alert_for(milestone(MilestoneStatus.CANCELLED, 2), opened, LATER)
    assert withdrawn is not None
    assert (withdrawn.state, withdrawn.milestone_status, withdrawn.revision) == (AlertState.WITHDRAWN, "CANCELLED", 2)
    assert withdrawn.alert_id == opened.alert_id
    assert withdrawn.created == FIRST_SEEN


def test_a_first_cancelled_milestone_creates_no_alert():
    assert alert_for(milestone(MilestoneStatus.CANCELLED, 1), None, FIRST_SEEN) is None


def test_a_first_cancelled_milestone_of_a_later_revision_creates_no_alert_either():
    # the SCHEDULED revision 1 was never seen by notifications; only the cancellation arrives
    assert alert_for(milestone(MilestoneStatus.CANCELLED, 2), None, FIRST_SEEN) is None


def test_an_older_revision_changes_nothing():
    current = alert_for(milestone(MilestoneStatus.CANCELLED, 3), alert_for(milestone(MilestoneStatus.DUE, 2), None, FIRST_SEEN), LATER)
    assert alert_for(milestone(MilestoneStatus.DUE, 2), current, LATER) is None
    assert alert_for(milestone(MilestoneStatus.SCHEDULED, 1), current, LATER) is None


def test_the_same_revision_delivered_again_changes_nothing():
    opened = alert_for(milestone(MilestoneStatus.SCHEDULED, 1), None, FIRST_SEEN)
    assert alert_for(milestone(MilestoneStatus.SCHEDULED, 1), opened, LATER) is None


def test_a_withdrawn_alert_reopens_with_its_first_creation_time():
    opened = alert_for(milestone(MilestoneStatus.SCHEDULED, 1), None, FIRST_SEEN)
    withdrawn = alert_for(milestone(MilestoneStatus.CANCELLED, 2), opened, FIRST_SEEN + timedelta(days=1))
    reopened = alert_for(milestone(MilestoneStatus.SCHEDULED, 3, due_date=date(2026, 4, 10)), withdrawn, LATER)
    assert reopened is not None
    assert (reopened.state, reopened.due_date, reopened.revision) == (AlertState.OPEN, date(2026, 4, 10), 3)
    assert reopened.created == FIRST_SEEN


def test_a_case_moved_to_another_unit_readdresses_the_alert():
    opened = alert_for(milestone(MilestoneStatus.SCHEDULED, 1, care_unit_hsa_id="SE-UNIT-A"), None, FIRST_SEEN)
    moved = alert_for(milestone(MilestoneStatus.SCHEDULED, 2, care_unit_hsa_id="SE-UNIT-B"), opened, LATER)
    assert moved is not None
    assert (moved.care_unit_hsa_id, moved.addressed_to) == ("SE-UNIT-B", "rehabkoordinatorer:SE-UNIT-B")
    assert moved.created == FIRST_SEEN

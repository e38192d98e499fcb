"""`alerts_for`: how a milestone event opens, updates or withdraws the alerts of its (case, kind), one per due date."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from services.notifications.alert import alerts_for, milestone_alert_id, tells_something_new, unit_coordinators
from shared.contracts.alerts import AlertChanged, AlertState
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus

FIRST_SEEN = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LATER = FIRST_SEEN + timedelta(days=30)
DUE_DATE = date(2026, 3, 31)


def milestone(
    status: MilestoneStatus,
    revision: int,
    *,
    due_date: date = DUE_DATE,
    care_unit_hsa_id: str = "SE-UNIT-A",
    kind: MilestoneKind = MilestoneKind.CHAIN_DAY_90,
    certificate_ids: tuple[str, ...] = ("c1",),
    update: bool = False,
) -> MilestoneChanged:
    return MilestoneChanged(
        milestone_id=f"c1:{kind.value}",
        case_id="c1",
        patient_pseudonym="pseudonym-1",
        certificate_ids=certificate_ids,
        care_unit_hsa_id=care_unit_hsa_id,
        kind=kind,
        due_date=due_date,
        status=status,
        chain_day=90,
        title="Dag 90",
        revision=revision,
        update=update,
    )


def replay(*milestones: MilestoneChanged) -> tuple[dict[str, AlertChanged], list[list[AlertChanged]]]:
    """Feed the events in order, keeping the alerts as the service does; returns the alerts and what each event changed."""
    held: dict[str, AlertChanged] = {}
    changed = []
    for index, event in enumerate(milestones):
        alerts = alerts_for(event, list(held.values()), FIRST_SEEN + timedelta(days=index))
        held.update((alert.alert_id, alert) for alert in alerts)
        changed.append(alerts)
    return held, changed


def only(alerts: Sequence[AlertChanged]) -> AlertChanged:
    assert len(alerts) == 1, alerts
    return alerts[0]


def announced(changed: list[list[AlertChanged]]) -> list[str]:
    return [alert.alert_id for alerts in changed for alert in alerts if alert.announce]


def test_a_scheduled_milestone_opens_an_announced_alert_to_the_units_coordinators():
    alert = only(alerts_for(milestone(MilestoneStatus.SCHEDULED, 1), [], FIRST_SEEN))
    assert alert.state is AlertState.OPEN
    assert alert.announce is True
    assert alert.addressed_to == unit_coordinators("SE-UNIT-A") == "rehabkoordinatorer:SE-UNIT-A"
    assert alert.care_unit_hsa_id == "SE-UNIT-A"
    assert alert.alert_id == milestone_alert_id("c1", "CHAIN_DAY_90", DUE_DATE) == "c1:CHAIN_DAY_90:2026-03-31"
    assert (alert.case_id, alert.kind, alert.milestone_status) == ("c1", "CHAIN_DAY_90", "SCHEDULED")
    assert (alert.due_date, alert.title, alert.revision) == (DUE_DATE, "Dag 90", 1)
    assert alert.created == FIRST_SEEN


def test_a_due_milestone_opens_an_alert():
    alert = only(alerts_for(milestone(MilestoneStatus.DUE, 1, kind=MilestoneKind.RETURN_TO_WORK_PLAN), [], FIRST_SEEN))
    assert (alert.state, alert.kind, alert.milestone_status, alert.announce) == (AlertState.OPEN, "RETURN_TO_WORK_PLAN", "DUE", True)


def test_a_scheduled_alert_becoming_due_is_the_same_alert_updated_not_announced_again():
    _, changed = replay(milestone(MilestoneStatus.SCHEDULED, 1), milestone(MilestoneStatus.DUE, 2))
    due = only(changed[1])
    assert (due.state, due.milestone_status, due.revision, due.announce) == (AlertState.OPEN, "DUE", 2, False)
    assert due.created == FIRST_SEEN
    assert announced(changed) == ["c1:CHAIN_DAY_90:2026-03-31"]


def test_a_milestone_update_updates_the_alert_and_never_announces_it_again():
    _, changed = replay(
        milestone(MilestoneStatus.DUE, 1),
        milestone(MilestoneStatus.DUE, 2, certificate_ids=("c1", "c2"), update=True),
        milestone(MilestoneStatus.DUE, 3, care_unit_hsa_id="SE-UNIT-B", certificate_ids=("c1", "c2"), update=True),
    )
    assert announced(changed) == ["c1:CHAIN_DAY_90:2026-03-31"]
    moved = only(changed[2])
    assert (moved.alert_id, moved.care_unit_hsa_id, moved.addressed_to) == ("c1:CHAIN_DAY_90:2026-03-31", "SE-UNIT-B", "rehabkoordinatorer:SE-UNIT-B")
    assert (moved.revision, moved.created) == (3, FIRST_SEEN)


def test_an_update_that_changes_nothing_the_alert_says_is_kept_but_tells_nothing_new():
    held, changed = replay(milestone(MilestoneStatus.DUE, 1))
    renewed = only(alerts_for(milestone(MilestoneStatus.DUE, 2, certificate_ids=("c1", "c2"), update=True), list(held.values()), LATER))
    assert renewed.revision == 2
    assert not tells_something_new(only(changed[0]), renewed)
    assert tells_something_new(None, renewed)


def test_an_update_for_an_alert_never_seen_opens_it_without_announcing():
    # the announcement belonged to an earlier event of the same (case, kind, due date)
    alert = only(alerts_for(milestone(MilestoneStatus.DUE, 4, update=True), [], FIRST_SEEN))
    assert (alert.state, alert.announce) == (AlertState.OPEN, False)


def test_a_moved_due_date_withdraws_the_old_dates_alert_and_announces_the_new_one():
    held, changed = replay(milestone(MilestoneStatus.SCHEDULED, 1), milestone(MilestoneStatus.SCHEDULED, 2, due_date=date(2026, 3, 21)))
    assert sorted((a.alert_id, a.state, a.announce, a.revision) for a in changed[1]) == [
        ("c1:CHAIN_DAY_90:2026-03-21", AlertState.OPEN, True, 2),
        ("c1:CHAIN_DAY_90:2026-03-31", AlertState.WITHDRAWN, False, 2),
    ]
    assert len(held) == 2


def test_a_due_date_moving_back_reopens_its_alert_without_announcing_it_twice():
    held, changed = replay(
        milestone(MilestoneStatus.SCHEDULED, 1),
        milestone(MilestoneStatus.SCHEDULED, 2, due_date=date(2026, 3, 21)),
        milestone(MilestoneStatus.SCHEDULED, 3),
    )
    assert announced(changed) == ["c1:CHAIN_DAY_90:2026-03-31", "c1:CHAIN_DAY_90:2026-03-21"]
    assert {alert_id: alert.state for alert_id, alert in held.items()} == {
        "c1:CHAIN_DAY_90:2026-03-31": AlertState.OPEN,
        "c1:CHAIN_DAY_90:2026-03-21": AlertState.WITHDRAWN,
    }
    assert held["c1:CHAIN_DAY_90:2026-03-31"].created == FIRST_SEEN


def test_a_cancelled_milestone_withdraws_the_alert():
    _, changed = replay(milestone(MilestoneStatus.DUE, 1), milestone(MilestoneStatus.CANCELLED, 2))
    withdrawn = only(changed[1])
    assert (withdrawn.state, withdrawn.milestone_status, withdrawn.revision, withdrawn.announce) == (AlertState.WITHDRAWN, "CANCELLED", 2, False)
    assert withdrawn.alert_id == only(changed[0]).alert_id
    assert withdrawn.created == FIRST_SEEN


def test_a_first_cancelled_milestone_creates_no_alert():
    assert alerts_for(milestone(MilestoneStatus.CANCELLED, 1), [], FIRST_SEEN) == []


def test_a_first_cancelled_milestone_of_a_later_revision_creates_no_alert_either():
    # the SCHEDULED revision 1 was never seen by notifications; only the cancellation arrives
    assert alerts_for(milestone(MilestoneStatus.CANCELLED, 2), [], FIRST_SEEN) == []


def test_an_older_revision_changes_nothing():
    held, _ = replay(milestone(MilestoneStatus.DUE, 2), milestone(MilestoneStatus.CANCELLED, 3))
    assert alerts_for(milestone(MilestoneStatus.DUE, 2), list(held.values()), LATER) == []
    assert alerts_for(milestone(MilestoneStatus.SCHEDULED, 1, due_date=date(2026, 4, 1)), list(held.values()), LATER) == []


def test_the_same_revision_delivered_again_changes_nothing():
    held, _ = replay(milestone(MilestoneStatus.SCHEDULED, 1))
    assert alerts_for(milestone(MilestoneStatus.SCHEDULED, 1), list(held.values()), LATER) == []


def test_a_withdrawn_alert_reopens_with_its_first_creation_time_and_is_not_announced_again():
    _, changed = replay(milestone(MilestoneStatus.SCHEDULED, 1), milestone(MilestoneStatus.CANCELLED, 2), milestone(MilestoneStatus.SCHEDULED, 3))
    reopened = only(changed[2])
    assert (reopened.state, reopened.revision, reopened.announce) == (AlertState.OPEN, 3, False)
    assert reopened.created == FIRST_SEEN

"""The rehabilitation plan's next step: overdue the day after its date, one NEXT_STEP alert per (plan, date), announced once."""

from datetime import UTC, date, datetime

from services.notifications.rehabilitation_plan import (
    NextStep,
    NextStepOwner,
    PlanVersion,
    next_step_alert_id,
    next_step_overdue,
    open_next_step,
    overdue_step_alert,
    still_alerted,
    withdrawn_step_alert,
)
from shared.contracts.alerts import AlertState

NOW = datetime(2026, 3, 15, 11, 0, tzinfo=UTC)
DUE = date(2026, 3, 10)


def step(due_on: date = DUE, done_on: date | None = None) -> NextStep:
    return NextStep(description="Ring arbetsgivaren om anpassade uppgifter", due_on=due_on, owner=NextStepOwner.REHABKOORDINATOR, done_on=done_on)


def plan(next_step: NextStep | None, version: int = 1) -> PlanVersion:
    return PlanVersion(
        plan_id="plan-1",
        version=version,
        case_id="c1",
        patient_pseudonym="p1",
        care_unit_hsa_id="SE-UNIT-A",
        goal="Tillbaka i arbete på halvtid i maj",
        agreed_steps=("Kartläggning", "Trepartssamtal"),
        next_step=next_step,
        recorded_by="SE-COORDINATOR",
        recorded_at=NOW,
    )


def test_a_next_step_is_overdue_from_the_day_after_its_date():
    assert not next_step_overdue(step(), date(2026, 3, 9))
    assert not next_step_overdue(step(), DUE)
    assert next_step_overdue(step(), date(2026, 3, 11))


def test_a_step_done_or_missing_is_never_overdue():
    assert not next_step_overdue(step(done_on=date(2026, 3, 12)), date(2026, 4, 1))
    assert not next_step_overdue(None, date(2026, 4, 1))
    assert open_next_step(plan(step(done_on=DUE))) is None


def test_an_overdue_step_opens_its_alert_announced_without_the_steps_description():
    alert = overdue_step_alert(plan(step()), None, date(2026, 3, 15), NOW)

    assert alert is not None
    assert (alert.alert_id, alert.kind, alert.due_date, alert.next_step_owner) == (
        "next-step:plan-1:2026-03-10",
        "NEXT_STEP",
        DUE,
        "REHABKOORDINATOR",
    )
    assert (alert.care_unit_hsa_id, alert.addressed_to, alert.case_id) == ("SE-UNIT-A", "rehabkoordinatorer:SE-UNIT-A", "c1")
    assert (alert.state, alert.announce, alert.revision, alert.created) == (AlertState.OPEN, True, 1, NOW)
    assert "arbetsgivaren" not in alert.model_dump_json()
    assert alert.title.startswith("Nästa steg i rehabiliteringsplanen är försenat (planerat 2026-03-10, ansvarig: rehabkoordinatorn)")


def test_a_step_not_yet_overdue_opens_nothing():
    assert overdue_step_alert(plan(step()), None, DUE, NOW) is None
    assert overdue_step_alert(plan(None), None, date(2026, 4, 1), NOW) is None


def test_an_open_alert_is_not_opened_again():
    opened = overdue_step_alert(plan(step()), None, date(2026, 3, 15), NOW)

    assert overdue_step_alert(plan(step(), version=2), opened, date(2026, 3, 16), NOW) is None


def test_a_step_moved_away_and_back_reopens_its_alert_without_announcing_it_again():
    opened = overdue_step_alert(plan(step()), None, date(2026, 3, 15), NOW)
    assert opened is not None
    withdrawn = withdrawn_step_alert(opened, plan(step(date(2026, 3, 20)), version=2))
    assert withdrawn is not None

    reopened = overdue_step_alert(plan(step(), version=3), withdrawn, date(2026, 3, 16), NOW)

    assert reopened is not None
    assert (reopened.state, reopened.announce, reopened.created, reopened.revision) == (AlertState.OPEN, False, NOW, 3)


def test_the_step_done_moved_or_gone_withdraws_its_alert_and_an_unchanged_date_keeps_it():
    opened = overdue_step_alert(plan(step()), None, date(2026, 3, 15), NOW)
    assert opened is not None

    done = withdrawn_step_alert(opened, plan(step(done_on=date(2026, 3, 15)), version=2))
    moved = withdrawn_step_alert(opened, plan(step(date(2026, 3, 25)), version=2))
    gone = withdrawn_step_alert(opened, plan(None, version=2))
    kept = withdrawn_step_alert(opened, plan(step().model_copy(update={"description": "Nytt"}), version=2))

    assert done is not None and moved is not None and gone is not None
    assert {(alert.state, alert.announce, alert.revision) for alert in (done, moved, gone)} == {(AlertState.WITHDRAWN, False, 2)}
    assert kept is None
    assert still_alerted(next_step_alert_id("plan-1", DUE), plan(step(), version=2))
    assert not still_alerted(None, plan(step()))

"""What a case change does to its alerts: a case gone withdraws them, a new responsible unit takes them along."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.notifications.alert import sequenced
from services.notifications.case_facts import alerts_after_case_change, at_unit_of_case, case_facts_of, is_stale
from shared.contracts.alerts import AlertChanged, AlertState
from shared.contracts.cases import CaseStatus, DegreeSpan
from tests.support import employed_case_event

UNIT_A, UNIT_B = "SE2321000000-1001", "SE2321000000-1002"
NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)


def alert(alert_id: str, state: AlertState = AlertState.OPEN, unit: str = UNIT_A) -> AlertChanged:
    return AlertChanged(
        alert_id=alert_id,
        care_unit_hsa_id=unit,
        addressed_to=f"rehabkoordinatorer:{unit}",
        case_id="c1",
        kind="CHAIN_DAY_90",
        title="Dag 90",
        created=NOW,
        state=state,
        revision=3,
    )


def case(**changes):
    event = employed_case_event("c1", "p1", date(2026, 1, 1), date(2026, 4, 30), revision=2)
    return event.model_copy(update={"care_unit_hsa_id": UNIT_A, **changes})


def test_the_facts_keep_what_the_worklist_shows_with_the_diagnosis_group_and_the_degree_on_a_day():
    degrees = (
        DegreeSpan(start=date(2026, 1, 1), end=date(2026, 1, 31), degree=100),
        DegreeSpan(start=date(2026, 2, 2), end=date(2026, 4, 30), degree=50),
    )
    facts = case_facts_of(case(main_diagnosis_code="F432", degrees=degrees))
    assert (facts.case_id, facts.patient_pseudonym, facts.care_unit_hsa_id, facts.diagnosis_group) == ("c1", "p1", UNIT_A, "psychiatric")
    assert (facts.degree_on(date(2026, 1, 15)), facts.degree_on(date(2026, 2, 1)), facts.degree_on(date(2026, 3, 1))) == (100, None, 50)


def test_a_case_that_no_longer_exists_withdraws_its_open_alerts_without_announcing():
    gone = case_facts_of(case(status=CaseStatus.REMOVED, replaced_by_case_ids=("c2",)))
    changed = alerts_after_case_change(gone, [alert("a1"), alert("a2", AlertState.WITHDRAWN)])
    assert [(a.alert_id, a.state, a.announce, a.withdrawn_because) for a in changed] == [("a1", AlertState.WITHDRAWN, False, "CASE_REMOVED")]


def test_a_case_that_exists_again_reopens_what_its_removal_withdrew_and_nothing_else():
    gone = case_facts_of(case(status=CaseStatus.REMOVED))
    (withdrawn,) = alerts_after_case_change(gone, [alert("a1")])
    cancelled = alert("a2", AlertState.WITHDRAWN)  # withdrawn by its milestone: stays so
    (reopened,) = alerts_after_case_change(case_facts_of(case(care_unit_hsa_id=UNIT_B)), [withdrawn, cancelled])
    assert (reopened.alert_id, reopened.state, reopened.withdrawn_because, reopened.care_unit_hsa_id, reopened.announce) == (
        "a1",
        AlertState.OPEN,
        None,
        UNIT_B,
        False,
    )


def test_a_case_whose_responsible_unit_changed_takes_its_open_alerts_to_the_new_units_coordinators():
    moved = case_facts_of(case(care_unit_hsa_id=UNIT_B))
    (changed,) = alerts_after_case_change(moved, [alert("a1"), alert("a2", AlertState.WITHDRAWN)])
    assert (changed.care_unit_hsa_id, changed.addressed_to, changed.state, changed.revision) == (
        UNIT_B,
        f"rehabkoordinatorer:{UNIT_B}",
        AlertState.OPEN,
        3,
    )


def test_an_unchanged_case_changes_no_alert():
    assert alerts_after_case_change(case_facts_of(case()), [alert("a1")]) == []


def test_an_older_revision_of_the_patient_is_a_stale_copy():
    kept = case_facts_of(case(patient_revision=5))
    assert is_stale(case(patient_revision=4), kept)
    assert not is_stale(case(patient_revision=5), kept)
    assert not is_stale(case(patient_revision=1), None)


def test_an_alert_goes_to_the_unit_the_case_events_last_named_unless_the_case_is_gone():
    assert at_unit_of_case(alert("a1"), case_facts_of(case(care_unit_hsa_id=UNIT_B))).care_unit_hsa_id == UNIT_B
    assert at_unit_of_case(alert("a1"), None).care_unit_hsa_id == UNIT_A
    assert at_unit_of_case(alert("a1"), case_facts_of(case(care_unit_hsa_id=UNIT_B, status=CaseStatus.REMOVED))).care_unit_hsa_id == UNIT_A


def test_every_published_change_of_an_alert_counts_up_its_sequence_and_a_stored_only_one_keeps_it():
    first = sequenced(alert("a1"), None, published=True)
    assert first.sequence == 1
    assert sequenced(alert("a1"), first, published=False).sequence == 1
    assert sequenced(alert("a1"), first, published=True).sequence == 2


def test_a_next_step_alert_follows_its_plan_not_its_case():
    next_step = alert("next-step:plan-1:2026-03-01").model_copy(update={"kind": "NEXT_STEP"})
    assert alerts_after_case_change(case_facts_of(case(status=CaseStatus.REMOVED)), [next_step]) == []
    assert alerts_after_case_change(case_facts_of(case(care_unit_hsa_id=UNIT_B)), [next_step]) == []

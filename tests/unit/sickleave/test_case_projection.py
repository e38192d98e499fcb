"""Folding case events into the latest revision per case: what milestones and stats both keep."""

from datetime import date

from shared.contracts.cases import CaseChange, CaseStatus
from shared.sickleave.case_projection import RevisionProgress, project_case_events
from tests.support import employed_case_event

START, END = date(2026, 3, 2), date(2026, 3, 31)


def test_a_first_event_opens_the_patients_revision_and_is_kept():
    event = employed_case_event("c1", "p1", START, END)

    projection = project_case_events({}, [event])

    assert projection.latest == {"c1": event}
    assert projection.progress["p1"] == RevisionProgress(1, 1, 1)
    assert projection.complete_patients == ["p1"]


def test_an_event_older_than_the_held_revision_changes_nothing():
    stale = employed_case_event("c1", "p1", START, END, revision=2)

    projection = project_case_events({"p1": RevisionProgress(3, 1, 1)}, [stale])

    assert projection.latest == {}
    assert projection.touched_patients == frozenset()
    assert projection.progress["p1"] == RevisionProgress(3, 1, 1)


def test_a_revision_of_two_events_is_complete_only_when_both_have_arrived():
    first = employed_case_event("c1", "p1", START, END, revision=2, event_count=2)
    second = employed_case_event("c2", "p1", date(2026, 5, 1), date(2026, 5, 31), revision=2, event_count=2)

    halfway = project_case_events({"p1": RevisionProgress(1, 1, 1)}, [first])
    whole = project_case_events(halfway.progress, [second])

    assert halfway.complete_patients == []
    assert whole.complete_patients == ["p1"]
    assert whole.progress["p1"] == RevisionProgress(2, 2, 2)


def test_the_newest_event_of_a_case_in_the_batch_wins_and_a_removed_case_is_named():
    opened = employed_case_event("c1", "p1", START, END)
    removed = employed_case_event("c1", "p1", START, END, revision=2).model_copy(
        update={"status": CaseStatus.REMOVED, "change": CaseChange.REMOVED}
    )

    projection = project_case_events({}, [opened, removed])

    assert projection.latest == {"c1": removed}
    assert projection.removed_case_ids == ["c1"]
    assert projection.kept_cases == []


def test_patients_are_folded_independently():
    projection = project_case_events(
        {"p2": RevisionProgress(5, 1, 1)},
        [employed_case_event("c1", "p1", START, END), employed_case_event("c9", "p2", START, END, revision=4)],
    )

    assert set(projection.latest) == {"c1"}
    assert projection.touched_patients == frozenset({"p1"})

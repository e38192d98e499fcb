"""The latest revision per case: how a consumer of case events folds a batch into what it holds.

Intake publishes a patient's cases as revisions (every event of one revision carries its number and
how many events it has). A consumer keeps, per case id, the newest event not older than the
patient's revision it already holds, drops removed cases, and knows when a revision has fully
arrived (docs/events.md, case changes). Milestones and stats both fold their batches with this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.contracts.cases import CaseStatus, SickLeaveCaseChanged


@dataclass(frozen=True)
class RevisionProgress:
    """How much of a patient's newest revision a consumer has seen."""

    revision: int
    events_seen: int
    events_expected: int

    @property
    def complete(self) -> bool:
        return self.events_seen >= self.events_expected


@dataclass(frozen=True)
class CaseProjection:
    """A batch folded: per patient the revision progress, per case id the newest event to keep."""

    progress: Mapping[str, RevisionProgress]
    latest: Mapping[str, SickLeaveCaseChanged]
    touched_patients: frozenset[str]

    @property
    def removed_case_ids(self) -> list[str]:
        return [case_id for case_id, event in self.latest.items() if event.status is CaseStatus.REMOVED]

    @property
    def kept_cases(self) -> list[SickLeaveCaseChanged]:
        return [event for event in self.latest.values() if event.status is not CaseStatus.REMOVED]

    @property
    def complete_patients(self) -> list[str]:
        """The touched patients whose newest revision has now fully arrived."""
        return sorted(patient for patient in self.touched_patients if self.progress[patient].complete)


def project_case_events(held: Mapping[str, RevisionProgress], events: Sequence[SickLeaveCaseChanged]) -> CaseProjection:
    """Fold `events` (in partition order, so a patient's events come in revision order) onto `held`.

    An event of an older revision than the one held changes nothing; the first event of a newer
    revision starts counting that revision afresh.
    """
    progress = dict(held)
    latest: dict[str, SickLeaveCaseChanged] = {}
    touched: set[str] = set()
    for event in events:
        current = progress.get(event.patient_pseudonym)
        if current is not None and event.patient_revision < current.revision:
            continue
        if current is None or event.patient_revision > current.revision:
            progress[event.patient_pseudonym] = RevisionProgress(event.patient_revision, 1, event.revision_event_count)
        else:
            progress[event.patient_pseudonym] = RevisionProgress(current.revision, current.events_seen + 1, current.events_expected)
        latest[event.case_id] = event
        touched.add(event.patient_pseudonym)
    return CaseProjection(progress, latest, frozenset(touched))

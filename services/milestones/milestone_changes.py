"""Which milestone states to publish, given what was published before (docs/rules.md §4.5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.milestones.rehabkedja import MilestoneState
from shared.contracts.cases import SickLeaveCaseChanged
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus

# What an event says beyond its details: compared, these two would make every event look new.
_NOT_DETAILS = {"revision", "update"}


def milestone_id(case_id: str, kind: MilestoneKind) -> str:
    return f"{case_id}:{kind.value}"


def _described_now(state: MilestoneState, case: SickLeaveCaseChanged) -> MilestoneChanged:
    """The milestone as the state and the case give it now, before it is compared with what was published."""
    return MilestoneChanged(
        milestone_id=milestone_id(state.case_id, state.kind),
        case_id=state.case_id,
        patient_pseudonym=case.patient_pseudonym,
        certificate_ids=case.certificate_ids,
        care_unit_hsa_id=case.care_unit_hsa_id,
        kind=state.kind,
        due_date=state.due_date,
        status=state.status,
        chain_day=state.chain_day,
        offset=state.offset,
        earlier_case_ids=state.earlier_case_ids,
        legal_reference=state.legal_reference,
        title=state.title,
        protected_identity=case.protected_identity,
        revision=0,
    )


def _withdrawn_now(before: MilestoneChanged, case: SickLeaveCaseChanged | None, chain_place: tuple[int, tuple[str, ...]] | None) -> MilestoneChanged:
    """A published milestone the rules no longer give: CANCELLED, described by its case if that still exists.

    It keeps the due date it withdraws; a case that is gone leaves its last details as they were.
    """
    cancelled = before.model_copy(update={"status": MilestoneStatus.CANCELLED})
    if case is None:
        return cancelled
    details: dict[str, object] = {
        "patient_pseudonym": case.patient_pseudonym,
        "certificate_ids": case.certificate_ids,
        "care_unit_hsa_id": case.care_unit_hsa_id,
        "protected_identity": case.protected_identity,
    }
    if chain_place is not None:
        offset, earlier_case_ids = chain_place
        details |= {
            "offset": offset,
            "earlier_case_ids": earlier_case_ids,
            "chain_day": offset + (before.due_date - case.start).days + 1,
        }
    return cancelled.model_copy(update=details)


def _same_details(first: MilestoneChanged, second: MilestoneChanged) -> bool:
    return first.model_dump(exclude=_NOT_DETAILS) == second.model_dump(exclude=_NOT_DETAILS)


def _next_publication(before: MilestoneChanged | None, now: MilestoneChanged) -> MilestoneChanged | None:
    """The event that makes `now` the latest publication after `before`, or None when nothing differs.

    Only a new status or due date is news; any other difference re-publishes the milestone as an
    update of the same announcement.
    """
    if before is None:
        if now.status is MilestoneStatus.CANCELLED:
            return None  # never announced, so there is nothing to withdraw
        return now.model_copy(update={"revision": 1, "update": False})
    if _same_details(before, now):
        return None
    update = (before.status, before.due_date) == (now.status, now.due_date)
    return now.model_copy(update={"revision": before.revision + 1, "update": update})


def milestone_changes(
    published: Mapping[tuple[str, MilestoneKind], MilestoneChanged],
    states: Sequence[MilestoneState],
    cases: Mapping[str, SickLeaveCaseChanged],
    chain_places: Mapping[str, tuple[int, tuple[str, ...]]] | None = None,
) -> list[MilestoneChanged]:
    """The milestone events that make the latest published milestone equal the computed one, details included.

    `cases` are the patient's cases now, `chain_places` each case's offset and earlier cases (for
    milestones the rules no longer give). A (case, kind) that is no longer computed (not in view, not
    applicable, case withdrawn) becomes CANCELLED; one whose first computed state is CANCELLED is
    never published. An event goes out whenever anything it says differs from the last one (status,
    due date, certificate ids, unit, chain day, ...); one that keeps the status and due date is
    marked `update`, so DUE is announced once per due date however often its details change.
    """
    places = chain_places or {}
    changes: list[MilestoneChanged] = []
    computed = {(state.case_id, state.kind): state for state in states}
    for key, state in computed.items():
        change = _next_publication(published.get(key), _described_now(state, cases[state.case_id]))
        if change is not None:
            changes.append(change)
    for key, before in published.items():
        if key in computed:
            continue
        case_id = key[0]
        change = _next_publication(before, _withdrawn_now(before, cases.get(case_id), places.get(case_id)))
        if change is not None:
            changes.append(change)
    return changes

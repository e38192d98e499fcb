"""Which milestone states to publish, given what was published before (docs/rules.md §4.5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.milestones.rehabkedja import MilestoneState
from shared.contracts.cases import SickLeaveCaseChanged
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus


def milestone_id(case_id: str, kind: MilestoneKind) -> str:
    return f"{case_id}:{kind.value}"


def milestone_changes(
    published: Mapping[tuple[str, MilestoneKind], MilestoneChanged],
    states: Sequence[MilestoneState],
    cases: Mapping[str, SickLeaveCaseChanged],
) -> list[MilestoneChanged]:
    """The milestone events that make the latest published state equal the computed one.

    A (case, kind) that is no longer computed (not in view, not applicable, case withdrawn) becomes
    CANCELLED once; one whose first computed state is CANCELLED is never published; an unchanged
    state publishes nothing, so DUE goes out once per due date. A SCHEDULED milestone whose
    certificates or chain (chain day, offset, earlier cases) changed is published again with them.
    """
    changes: list[MilestoneChanged] = []
    computed = {(state.case_id, state.kind): state for state in states}
    for key, state in computed.items():
        before = published.get(key)
        case = cases[state.case_id]
        if before is None and state.status is MilestoneStatus.CANCELLED:
            continue
        if before is not None and (before.status, before.due_date, before.care_unit_hsa_id) == (state.status, state.due_date, case.care_unit_hsa_id):
            # A milestone still ahead keeps its explanation current (a renewal adds a certificate, a
            # revocation changes the offset); one already DUE or CANCELLED is not announced again.
            explanation_now = (case.certificate_ids, state.chain_day, state.offset, state.earlier_case_ids)
            explanation_before = (before.certificate_ids, before.chain_day, before.offset, before.earlier_case_ids)
            if state.status is not MilestoneStatus.SCHEDULED or explanation_now == explanation_before:
                continue
        changes.append(
            MilestoneChanged(
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
                revision=(before.revision + 1) if before else 1,
            )
        )
    for key, before in published.items():
        if key not in computed and before.status is not MilestoneStatus.CANCELLED:
            changes.append(before.model_copy(update={"status": MilestoneStatus.CANCELLED, "revision": before.revision + 1}))
    return changes

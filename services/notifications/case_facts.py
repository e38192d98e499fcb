"""What notifications keeps of each sick-leave case, and what a case change does to its alerts (docs/alert-lifecycle.md §3).

The facts are what the coordinator's worklist shows next to an alert: the patient (by pseudonym),
the responsible unit and care provider, dates, certified days, the main diagnosis and its group,
the degree, the certificates and whether the case still exists. A case that no longer exists
(revoked, merged into another, split) withdraws its alerts; a case whose responsible unit changed
takes its open alerts to the new unit's coordinators.

Pure: the handler reads what was kept and stores what these rules return.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import BaseModel, ConfigDict

from services.notifications.alert import unit_coordinators
from shared.contracts.alerts import CASE_REMOVED, RISK_FLAG_ALERT_KIND, AlertChanged, AlertState
from shared.contracts.cases import CaseCertificate, CaseStatus, DegreeSpan, SickLeaveCaseChanged
from shared.contracts.milestones import MilestoneKind
from shared.sickleave.diagnosis import diagnosis_group


class CaseFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    patient_pseudonym: str
    patient_revision: int
    care_unit_hsa_id: str
    care_provider_hsa_id: str
    start: date
    end: date
    certified_days: int
    main_diagnosis_code: str
    diagnosis_group: str
    degrees: tuple[DegreeSpan, ...]
    certificate_ids: tuple[str, ...]
    # Each certificate's dates, for the patient page's timeline (docs/worklist.md §3).
    certificates: tuple[CaseCertificate, ...] = ()
    status: CaseStatus
    protected_identity: bool
    replaced_by_case_ids: tuple[str, ...] = ()
    # Who signed the case's latest certificate: a doctor reads only the patients of whose cases they
    # did (docs/http-api.md §2.1). None in facts kept before notifications stored it.
    doctor_hsa_id: str | None = None

    def degree_on(self, day: date) -> int | None:
        """The current degree on `day` (docs/rules.md §2.5), None on a gap day or outside the case."""
        return next((span.degree for span in self.degrees if span.start <= day <= span.end), None)

    @property
    def exists(self) -> bool:
        return self.status is CaseStatus.ACTIVE


# The alerts that follow their case: the milestones' and the risk flag's. A next-step alert follows
# the patient's plan at its unit (docs/casework.md §3.3), not a case id.
FOLLOWS_ITS_CASE = frozenset({*(kind.value for kind in MilestoneKind), RISK_FLAG_ALERT_KIND})


def case_facts_of(event: SickLeaveCaseChanged) -> CaseFacts:
    return CaseFacts(
        case_id=event.case_id,
        patient_pseudonym=event.patient_pseudonym,
        patient_revision=event.patient_revision,
        care_unit_hsa_id=event.care_unit_hsa_id,
        care_provider_hsa_id=event.care_provider_hsa_id,
        start=event.start,
        end=event.end,
        certified_days=event.certified_days,
        main_diagnosis_code=event.main_diagnosis_code,
        diagnosis_group=diagnosis_group(event.main_diagnosis_code),
        degrees=event.degrees,
        certificate_ids=event.certificate_ids,
        certificates=event.certificates,
        status=event.status,
        protected_identity=event.protected_identity,
        replaced_by_case_ids=event.replaced_by_case_ids,
        doctor_hsa_id=event.doctor_hsa_id,
    )


def is_stale(event: SickLeaveCaseChanged, kept: CaseFacts | None) -> bool:
    """An event of an older patient revision than the kept facts (a late copy, docs/events.md §4.4)."""
    return kept is not None and event.patient_revision < kept.patient_revision


def alerts_after_case_change(facts: CaseFacts, alerts_of_case: Iterable[AlertChanged]) -> list[AlertChanged]:
    """The alerts of the case that this state of the case changes, in their new state.

    A case that no longer exists withdraws every open alert of it (`withdrawnBecause:
    CASE_REMOVED`), ahead of the milestones and flags that will say so too; a case that exists
    again reopens what its removal withdrew, since what the milestone or flag said still holds. An
    existing case whose responsible unit is not the alert's takes its open alerts to the new unit's
    coordinators. None is announced: the alert is the same (docs/events.md §3.4).
    """
    changed = []
    for alert in alerts_of_case:
        if alert.kind not in FOLLOWS_ITS_CASE:
            continue
        if not facts.exists:
            if alert.state is AlertState.OPEN:
                changed.append(alert.model_copy(update={"state": AlertState.WITHDRAWN, "announce": False, "withdrawn_because": CASE_REMOVED}))
            continue
        if alert.state is AlertState.WITHDRAWN and alert.withdrawn_because == CASE_REMOVED:
            reopened = {"state": AlertState.OPEN, "withdrawn_because": None, "announce": False}
            moved = {"care_unit_hsa_id": facts.care_unit_hsa_id, "addressed_to": unit_coordinators(facts.care_unit_hsa_id)}
            changed.append(alert.model_copy(update=reopened | moved))
        elif alert.state is AlertState.OPEN and alert.care_unit_hsa_id != facts.care_unit_hsa_id:
            changed.append(
                alert.model_copy(
                    update={
                        "care_unit_hsa_id": facts.care_unit_hsa_id,
                        "addressed_to": unit_coordinators(facts.care_unit_hsa_id),
                        "announce": False,
                    }
                )
            )
    return changed


def at_unit_of_case(alert: AlertChanged, facts: CaseFacts | None) -> AlertChanged:
    """The alert addressed to the coordinators of its case's responsible unit as the case events last
    said; a flag keeps the unit it was raised at until the level changes, the case moves sooner."""
    if facts is None or not facts.exists or alert.care_unit_hsa_id == facts.care_unit_hsa_id:
        return alert
    return alert.model_copy(update={"care_unit_hsa_id": facts.care_unit_hsa_id, "addressed_to": unit_coordinators(facts.care_unit_hsa_id)})

"""What changed between the cases last published for a patient and the cases assembled now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from shared.contracts.cases import (
    AgeBandSpan,
    CaseCertificate,
    CaseChange,
    CaseStatus,
    DegreeSpan,
    SickLeaveCaseChanged,
)
from shared.sickleave.sick_leave_case import SickLeaveCase, age_band_spans

_NOT_CONTENT = {"patient_revision", "revision_event_count", "status", "change", "replaces_case_ids", "replaced_by_case_ids"}


def case_snapshot(case: SickLeaveCase, *, patient_pseudonym: str, birth_date: date, sex: str, max_gap: int | None = None) -> SickLeaveCaseChanged:
    """The published form of a case, before its change is known.

    `max_gap` is the gap the case was assembled with; the event carries it so that a consumer that
    assembles cases itself uses the same one.
    """
    latest = case.latest_certificate
    return SickLeaveCaseChanged(
        case_id=case.case_id,
        patient_pseudonym=patient_pseudonym,
        patient_revision=0,
        status=CaseStatus.ACTIVE,
        change=CaseChange.UPDATED,
        care_unit_hsa_id=latest.care_unit_hsa_id,
        care_provider_hsa_id=latest.care_provider_hsa_id,
        start=case.start,
        end=case.end,
        certified_days=case.certified_days,
        certificate_ids=case.certificate_ids,
        latest_certificate_id=latest.certificate_id,
        sex=sex,
        protected_identity=any(certificate.protected_identity for certificate in case.certificates),
        main_diagnosis_code=latest.main_diagnosis or "",
        doctor_hsa_id=latest.doctor_hsa_id,
        occupations=tuple(occupation.value for occupation in latest.occupations),
        prognosis_code=latest.prognosis.code.value if latest.prognosis else None,
        prognosis_days=latest.prognosis.days if latest.prognosis else None,
        degrees=tuple(DegreeSpan(start=start, end=end, degree=degree) for start, end, degree in case.degree_spans()),
        age_bands=tuple(AgeBandSpan(start=start, end=end, age_band=band) for start, end, band in age_band_spans(birth_date, case.start, case.end)),
        certificates=tuple(
            CaseCertificate(
                certificate_id=certificate.certificate_id,
                signed_at=certificate.signed_at,
                start=certificate.start,
                end=certificate.end,
                occupations=tuple(occupation.value for occupation in certificate.occupations),
                prognosis_code=certificate.prognosis.code.value if certificate.prognosis else None,
                prognosis_days=certificate.prognosis.days if certificate.prognosis else None,
            )
            for certificate in case.certificates_in_signing_order()
        ),
        max_gap=max_gap,
    )


def same_content(first: SickLeaveCaseChanged, second: SickLeaveCaseChanged) -> bool:
    # Field by field: nested frozen models compare by their fields, so nothing needs dumping.
    return all(getattr(first, name) == getattr(second, name) for name in type(first).model_fields if name not in _NOT_CONTENT)


def case_changes(previous: Mapping[str, SickLeaveCaseChanged], current: Sequence[SickLeaveCaseChanged]) -> list[SickLeaveCaseChanged]:
    """The events to publish, removals first, each naming the case ids it replaces or is replaced by.

    A case id that no longer exists is REMOVED (its certificates were revoked or voided, or it was
    merged or split); a new id that takes certificates of two earlier cases is MERGED, of one case
    that still exists SPLIT. Unchanged cases publish nothing.
    """
    current_ids = {case.case_id for case in current}
    owner_before = {certificate_id: case.case_id for case in previous.values() for certificate_id in case.certificate_ids}
    changes: list[SickLeaveCaseChanged] = []

    for case_id in sorted(set(previous) - current_ids):
        removed = previous[case_id]
        successors = tuple(sorted(case.case_id for case in current if set(case.certificate_ids) & set(removed.certificate_ids)))
        changes.append(
            removed.model_copy(
                update={"status": CaseStatus.REMOVED, "change": CaseChange.REMOVED, "replaces_case_ids": (), "replaced_by_case_ids": successors}
            )
        )

    for case in current:
        earlier_owners = tuple(sorted({owner_before[c] for c in case.certificate_ids if c in owner_before} - {case.case_id}))
        before = previous.get(case.case_id)
        if before is None:
            if not earlier_owners:
                change = CaseChange.OPENED
            elif len(earlier_owners) > 1:
                change = CaseChange.MERGED
            elif earlier_owners[0] in current_ids:
                change = CaseChange.SPLIT
            else:
                change = CaseChange.UPDATED
        elif earlier_owners:
            change = CaseChange.MERGED
        elif same_content(before, case):
            continue
        elif case.end > before.end or case.start < before.start:
            change = CaseChange.EXTENDED
        elif case.end < before.end or case.start > before.start or case.certified_days < before.certified_days:
            change = CaseChange.SHORTENED
        else:
            change = CaseChange.UPDATED
        changes.append(
            case.model_copy(update={"status": CaseStatus.ACTIVE, "change": change, "replaces_case_ids": earlier_owners, "replaced_by_case_ids": ()})
        )
    return changes

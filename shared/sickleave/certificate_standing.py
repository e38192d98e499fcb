"""Why each of a patient's certificates counts towards a sick-leave case, or why it does not (docs/rules.md §1.2).

The answer must agree with `sick_leave_case.counting_certificates`: a certificate has the standing
COUNTS exactly when that function keeps it. The other standings name every rule that keeps it out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.contracts.certificates import STOCKHOLM, RelationType
from shared.sickleave.certificate import CASE_BUILDING_TYPES, Certificate
from shared.sickleave.sick_leave_case import SickLeaveCase, signing_order_key, voidings


class Standing(StrEnum):
    COUNTS = "COUNTS"
    REVOKED = "REVOKED"
    VOIDED = "VOIDED"
    NOT_A_SICK_LEAVE_CERTIFICATE = "NOT_A_SICK_LEAVE_CERTIFICATE"
    TEST_CERTIFICATE = "TEST_CERTIFICATE"
    SMITTSKYDD = "SMITTSKYDD"
    NO_MAIN_DIAGNOSIS = "NO_MAIN_DIAGNOSIS"


class Voiding(BaseModel):
    model_config = ConfigDict(frozen=True)

    certificate_id: str
    relation: RelationType


class CertificateStanding(BaseModel):
    model_config = ConfigDict(frozen=True)

    certificate_id: str
    # The first of `reasons`: what a list shows in one word.
    standing: Standing
    reasons: tuple[Standing, ...]
    case_id: str | None = None
    revoked_at: datetime | None = None
    voided_by: tuple[Voiding, ...] = ()
    explanation: str

    @property
    def counts(self) -> bool:
        return self.standing is Standing.COUNTS


class RevocationBeforeArrival(BaseModel):
    """A revocation remembered for a certificate not received (yet): it applies when it arrives."""

    model_config = ConfigDict(frozen=True)

    certificate_id: str
    revoked_at: datetime


_RELATION_VERBS = {RelationType.ERSATT: "replaces", RelationType.KOMPLT: "complements"}


def _sentence(
    reason: Standing,
    certificate: Certificate,
    *,
    case: SickLeaveCase | None,
    revoked_at: datetime | None,
    voided_by: tuple[Voiding, ...],
) -> str:
    if reason is Standing.COUNTS:
        if case is None:
            return "Counts towards a sick-leave case."
        return f"Counts: part of sick-leave case {case.case_id} ({case.start.isoformat()} to {case.end.isoformat()})."
    if reason is Standing.REVOKED and revoked_at is not None:
        return f"Revoked on {revoked_at.astimezone(STOCKHOLM).date().isoformat()}; a revoked certificate never counts."
    if reason is Standing.VOIDED:
        parts = [f"certificate {voiding.certificate_id} {_RELATION_VERBS[voiding.relation]} it ({voiding.relation.value})" for voiding in voided_by]
        return f"Voided: {'; '.join(parts)}."
    if reason is Standing.NOT_A_SICK_LEAVE_CERTIFICATE:
        return f"An {certificate.certificate_type.value} (to the employer); only fk7804 and fk7263 build sick-leave cases."
    if reason is Standing.TEST_CERTIFICATE:
        return "A test certificate; test certificates never count."
    if reason is Standing.SMITTSKYDD:
        return "Avstängning enligt smittskyddslagen; such a certificate is not a sick-leave certificate."
    return "It has no main diagnosis, so it builds no case."


def certificate_standings(
    certificates: Iterable[Certificate], revocations: Mapping[str, datetime], cases: Iterable[SickLeaveCase]
) -> tuple[CertificateStanding, ...]:
    """The standing of each of one patient's certificates, in signing order.

    `revocations` maps revoked certificate ids to when they were revoked; `cases` are the cases the
    same certificates and revocations assemble into.
    """
    stored = list({certificate.certificate_id: certificate for certificate in certificates}.values())
    case_of = {certificate_id: case for case in cases for certificate_id in case.certificate_ids}
    voided = voidings(stored, revocations.keys())
    standings = []
    for certificate in sorted(stored, key=signing_order_key):
        voided_by = tuple(
            Voiding(certificate_id=voider.certificate_id, relation=relation)
            for voider, relation in voided.get((certificate.patient_id, certificate.certificate_id), [])
        )
        revoked_at = revocations.get(certificate.certificate_id)
        checks = [
            (Standing.REVOKED, revoked_at is not None),
            (Standing.VOIDED, bool(voided_by)),
            (Standing.NOT_A_SICK_LEAVE_CERTIFICATE, certificate.certificate_type not in CASE_BUILDING_TYPES),
            (Standing.TEST_CERTIFICATE, certificate.test_certificate),
            (Standing.SMITTSKYDD, certificate.avstangning_smittskydd),
            (Standing.NO_MAIN_DIAGNOSIS, certificate.main_diagnosis is None),
        ]
        reasons = tuple(reason for reason, applies in checks if applies) or (Standing.COUNTS,)
        case = case_of.get(certificate.certificate_id) if reasons == (Standing.COUNTS,) else None
        standings.append(
            CertificateStanding(
                certificate_id=certificate.certificate_id,
                standing=reasons[0],
                reasons=reasons,
                case_id=case.case_id if case else None,
                revoked_at=revoked_at,
                voided_by=voided_by,
                explanation=" ".join(
                    _sentence(reason, certificate, case=case, revoked_at=revoked_at, voided_by=voided_by) for reason in reasons
                ),
            )
        )
    return tuple(standings)


def revocations_before_arrival(
    certificates: Iterable[Certificate], revocations: Mapping[str, datetime]
) -> tuple[RevocationBeforeArrival, ...]:
    """The revocations among `revocations` whose certificate is not among `certificates`."""
    seen = {certificate.certificate_id for certificate in certificates}
    return tuple(
        RevocationBeforeArrival(certificate_id=certificate_id, revoked_at=revoked_at)
        for certificate_id, revoked_at in sorted(revocations.items())
        if certificate_id not in seen
    )

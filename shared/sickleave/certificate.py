"""A certificate as intake keeps it: the signed FK 7804 normalised, with the patient's id resolved."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from shared.contracts.certificates import (
    STOCKHOLM,
    CertificateType,
    Occupation,
    PrognosisCode,
    RelationType,
    SignedCertificate,
)

CASE_BUILDING_TYPES = frozenset({CertificateType.FK7804, CertificateType.FK7263})
VOIDING_RELATIONS = frozenset({RelationType.ERSATT, RelationType.KOMPLT})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Period(_Frozen):
    start: date
    end: date
    degree: int


class Relation(_Frozen):
    type: RelationType
    related_certificate_id: str


class Prognosis(_Frozen):
    code: PrognosisCode
    days: int | None = None


class Certificate(_Frozen):
    certificate_id: str
    certificate_type: CertificateType
    signed_at: datetime
    test_certificate: bool
    avstangning_smittskydd: bool
    relations: tuple[Relation, ...]
    # The patient's pseudonym (docs/architecture.md, privacy): a personnummer never enters a certificate.
    patient_id: str
    protected_identity: bool
    doctor_hsa_id: str
    care_unit_hsa_id: str
    care_unit_name: str | None
    care_provider_hsa_id: str
    diagnosis_codes: tuple[str, ...]
    periods: tuple[Period, ...]
    occupations: tuple[Occupation, ...]
    prognosis: Prognosis | None

    @property
    def start(self) -> date:
        return min(period.start for period in self.periods)

    @property
    def end(self) -> date:
        return max(period.end for period in self.periods)

    @property
    def signing_date(self) -> date:
        return self.signed_at.astimezone(STOCKHOLM).date()

    @property
    def main_diagnosis(self) -> str | None:
        return self.diagnosis_codes[0] if self.diagnosis_codes else None

    def period_on(self, day: date) -> Period | None:
        # A plain loop: this runs for every certificate of a case on every day the rules look at.
        for period in self.periods:
            if period.start <= day <= period.end:
                return period
        return None

    @property
    def can_void(self) -> bool:
        """Only a real case-building certificate voids what it replaces or complements (docs/rules.md §1.3)."""
        return self.certificate_type in CASE_BUILDING_TYPES and not self.test_certificate

    @property
    def builds_cases(self) -> bool:
        """Whether the certificate itself may be part of a case, before revocation and voiding."""
        return (
            self.certificate_type in CASE_BUILDING_TYPES
            and not self.test_certificate
            and not self.avstangning_smittskydd
            and self.main_diagnosis is not None
        )


def certificate_from_contract(signed: SignedCertificate, *, patient_pseudonym: str) -> Certificate:
    """Normalise a validated `signed` event: code dots, defaults, period order, and the patient by pseudonym.

    The personnummer itself never enters a `Certificate`: the caller pseudonymises the identity the
    contract already parsed (`signed.patient_identity`).
    """
    return Certificate(
        certificate_id=signed.certificate_id,
        certificate_type=signed.certificate_type,
        signed_at=signed.signed_at,
        test_certificate=signed.test_certificate,
        avstangning_smittskydd=signed.avstangning_smittskydd,
        relations=tuple(
            sorted(
                {Relation(type=relation.type, related_certificate_id=relation.related_certificate_id) for relation in signed.relations},
                key=lambda relation: (relation.type.value, relation.related_certificate_id),
            )
        ),
        patient_id=patient_pseudonym,
        protected_identity=signed.patient.protected_identity,
        doctor_hsa_id=signed.issuer.doctor_hsa_id,
        care_unit_hsa_id=signed.issuer.care_unit.hsa_id,
        care_unit_name=signed.issuer.care_unit.name,
        care_provider_hsa_id=signed.issuer.care_provider.hsa_id,
        diagnosis_codes=tuple(diagnosis.code for diagnosis in signed.diagnoses),
        periods=tuple(
            sorted(
                (Period(start=period.start, end=period.end, degree=period.reduction_percent) for period in signed.work_capacity_periods),
                key=lambda period: period.start,
            )
        ),
        occupations=tuple(sorted(signed.occupations)),
        prognosis=Prognosis(code=signed.prognosis.code, days=signed.prognosis.days) if signed.prognosis else None,
    )


def is_same_certificate(first: Certificate, second: Certificate) -> bool:
    """A re-sent `signed` event is a duplicate when its normalised content is equal.

    Names are display text and may be spelled differently by two feeds; they do not make a
    conflict. The signing instant is compared as an instant, whatever its offset.
    """
    ignore = {"care_unit_name"}
    return first.model_dump(exclude=ignore) == second.model_dump(exclude=ignore)

"""The certificate feed (`sickleave.certificates.v1`): CloudEvents carrying signed and revoked FK 7804s.

These models are the contract of `docs/events.md` §2: a record that fails them is bad input and goes to
the dead-letter topic with the reason that `describe_validation_error` gives.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.bad_input import BadInput, load_json
from shared.personnummer import InvalidPersonnummer, PersonIdentity, parse_personnummer

STOCKHOLM = ZoneInfo("Europe/Stockholm")

SIGNED_TYPE = "se.sickleave.certificate.signed.v1"
REVOKED_TYPE = "se.sickleave.certificate.revoked.v1"

_TAGS = (SIGNED_TYPE, REVOKED_TYPE)
_DIAGNOSIS_CODE = re.compile(r"^[A-Z][0-9]{2}[0-9A-Z]*$")


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$", re.ASCII)


def _iso_text(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: Any) -> Any:
        # Lax parsing would take numbers as unix times; the contract (and CloudEvents) say ISO 8601.
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"must be an ISO 8601 {what}")
        return value

    return BeforeValidator(check)


# Sick leave certified in this range is all the product can meet; outside it, date arithmetic (a
# gap of days past 9999-12-31, a time zone shift before 0001) would fail far from the contract.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2199


def _within_years(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must lie in the years {EARLIEST_YEAR}-{LATEST_YEAR}")
    return value


IsoDate = Annotated[date, _iso_text(_ISO_DATE, "date (YYYY-MM-DD)"), AfterValidator(_within_years)]
IsoDateTime = Annotated[AwareDatetime, _iso_text(_ISO_DATE_TIME, "date and time with an offset"), AfterValidator(_within_years)]


def _drop_nulls(value: Any) -> Any:
    """`null` counts as missing: required fields then fail as missing, optional ones take defaults."""
    # The scan for a null runs in C; a new dict is built only for the rare object that has one.
    if isinstance(value, dict) and None in value.values():
        return {key: item for key, item in value.items() if item is not None}
    return value


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_missing(cls, value: Any) -> Any:
        return _drop_nulls(value)


NonEmptyText = Annotated[str, Field(min_length=1, max_length=200)]


class CertificateType(StrEnum):
    FK7804 = "fk7804"
    FK7263 = "fk7263"
    AG7804 = "ag7804"


class RelationType(StrEnum):
    ERSATT = "ERSATT"
    KOMPLT = "KOMPLT"
    FRLANG = "FRLANG"


class Occupation(StrEnum):
    NUVARANDE_ARBETE = "NUVARANDE_ARBETE"
    ARBETSSOKANDE = "ARBETSSOKANDE"
    FORALDRALEDIG = "FORALDRALEDIG"
    STUDIER = "STUDIER"


class PrognosisCode(StrEnum):
    STOR_SANNOLIKHET = "STOR_SANNOLIKHET"
    SANNOLIKT_INTE = "SANNOLIKT_INTE"
    PROGNOS_OKLAR = "PROGNOS_OKLAR"
    ATER_X_ANTAL_DGR = "ATER_X_ANTAL_DGR"


def normalise_diagnosis_code(code: str) -> str:
    normalised = code.replace(".", "").replace(" ", "").upper()
    if not _DIAGNOSIS_CODE.match(normalised):
        raise ValueError("not an ICD-10-SE code (a letter, two digits, then optional digits and letters)")
    return normalised


class Relation(_Contract):
    type: RelationType
    related_certificate_id: NonEmptyText = Field(alias="relatedCertificateId")


class Patient(_Contract):
    person_id: Annotated[str, Field(alias="personId", min_length=1, max_length=20)]
    protected_identity: StrictBool = Field(default=False, alias="protectedIdentity")


class HsaEntity(_Contract):
    hsa_id: NonEmptyText = Field(alias="hsaId")
    name: str | None = None


class Issuer(_Contract):
    doctor_hsa_id: NonEmptyText = Field(alias="doctorHsaId")
    care_unit: HsaEntity = Field(alias="careUnit")
    care_provider: HsaEntity = Field(alias="careProvider")


class Diagnosis(_Contract):
    code: Annotated[str, Field(min_length=1, max_length=20), AfterValidator(normalise_diagnosis_code)]


class WorkCapacityPeriod(_Contract):
    reduction_percent: Literal[25, 50, 75, 100] = Field(alias="reductionPercent")
    start: IsoDate = Field(alias="from")
    end: IsoDate = Field(alias="to")

    @model_validator(mode="after")
    def _from_not_after_to(self) -> WorkCapacityPeriod:
        if self.start > self.end:
            raise ValueError("period 'from' is after 'to'")
        return self


class Prognosis(_Contract):
    code: PrognosisCode
    days: Literal[30, 60, 90, 180, 365] | None = None

    @model_validator(mode="after")
    def _days_only_with_ater_x_antal_dgr(self) -> Prognosis:
        if self.code is PrognosisCode.ATER_X_ANTAL_DGR and self.days is None:
            raise ValueError("prognosis ATER_X_ANTAL_DGR needs 'days'")
        if self.code is not PrognosisCode.ATER_X_ANTAL_DGR and self.days is not None:
            raise ValueError(f"prognosis {self.code.value} takes no 'days'")
        return self


class SignedCertificate(_Contract):
    """`data` of `se.sickleave.certificate.signed.v1`."""

    certificate_id: NonEmptyText = Field(alias="certificateId")
    certificate_type: CertificateType = Field(alias="certificateType")
    signed_at: IsoDateTime = Field(alias="signedAt")
    test_certificate: StrictBool = Field(default=False, alias="testCertificate")
    relations: tuple[Relation, ...] = ()
    patient: Patient
    issuer: Issuer
    avstangning_smittskydd: StrictBool = Field(default=False, alias="avstangningSmittskydd")
    diagnoses: tuple[Diagnosis, ...]
    work_capacity_periods: Annotated[tuple[WorkCapacityPeriod, ...], Field(min_length=1, max_length=4, alias="workCapacityPeriods")]
    occupations: Annotated[tuple[Occupation, ...], Field(min_length=1, max_length=4)]
    prognosis: Prognosis | None = None

    @field_validator("occupations")
    @classmethod
    def _distinct_occupations(cls, occupations: tuple[Occupation, ...]) -> tuple[Occupation, ...]:
        if len(set(occupations)) != len(occupations):
            raise ValueError("occupations must be distinct")
        return occupations

    @field_validator("work_capacity_periods")
    @classmethod
    def _periods_do_not_overlap(cls, periods: tuple[WorkCapacityPeriod, ...]) -> tuple[WorkCapacityPeriod, ...]:
        degrees = [period.reduction_percent for period in periods]
        if len(set(degrees)) != len(degrees):
            raise ValueError("each degree may occur at most once")
        ordered = sorted(periods, key=lambda period: period.start)
        for earlier, later in itertools.pairwise(ordered):
            if later.start <= earlier.end:
                raise ValueError("periods overlap")
        return periods

    # Parsed once, by the check below; whoever needs the birth date, sex or normalised form reads it here.
    _patient_identity: PersonIdentity | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _person_id_is_valid_on_signing_date(self) -> SignedCertificate:
        try:
            self._patient_identity = parse_personnummer(self.patient.person_id, on=self.signing_date)
        except InvalidPersonnummer as problem:
            raise ValueError(f"patient.personId: {problem}") from None
        return self

    @property
    def patient_identity(self) -> PersonIdentity:
        """The patient's personnummer or samordningsnummer as parsed when the event was validated."""
        if self._patient_identity is None:
            self._patient_identity = parse_personnummer(self.patient.person_id, on=self.signing_date)
        return self._patient_identity

    @property
    def signing_date(self) -> date:
        return self.signed_at.astimezone(STOCKHOLM).date()


class RevokedCertificate(_Contract):
    """`data` of `se.sickleave.certificate.revoked.v1`."""

    certificate_id: NonEmptyText = Field(alias="certificateId")
    revoked_at: IsoDateTime = Field(alias="revokedAt")


class _Envelope(_Contract):
    specversion: Literal["1.0"]
    id: NonEmptyText
    source: NonEmptyText
    type: NonEmptyText
    time: IsoDateTime
    subject: str | None = None


class CertificateSigned(_Envelope):
    """A CloudEvents 1.0 envelope (structured JSON mode) carrying a signed certificate."""

    type: Literal["se.sickleave.certificate.signed.v1"]
    data: SignedCertificate


class CertificateRevoked(_Envelope):
    """A CloudEvents 1.0 envelope (structured JSON mode) carrying a revocation."""

    type: Literal["se.sickleave.certificate.revoked.v1"]
    data: RevokedCertificate


CertificateEvent = Annotated[CertificateSigned | CertificateRevoked, Field(discriminator="type")]
_certificate_event = TypeAdapter(CertificateEvent)


# One exception type for bad input everywhere; the old name stays for the entry points' readers.
BadCertificateEvent = BadInput


def parse_certificate_event(value: bytes | None) -> CertificateSigned | CertificateRevoked:
    """Decode one feed record, or raise `BadInput` saying what is wrong with it (docs/dead-letters.md)."""
    document = load_json(value)
    if not isinstance(document, dict):
        raise BadInput("NotCloudEvent", "not a CloudEvent: the value is not a JSON object")
    try:
        envelope = _Envelope.model_validate(document)
    except ValidationError as problem:
        raise BadInput("NotCloudEvent", f"not a CloudEvent: {describe_validation_error(problem)}") from None
    if envelope.type not in (SIGNED_TYPE, REVOKED_TYPE):
        raise BadInput("UnknownEventType", f"unknown event type (expected {SIGNED_TYPE} or {REVOKED_TYPE})")
    try:
        return _certificate_event.validate_python(document)
    except ValidationError as problem:
        raise BadInput(_error_class(problem), f"contract violation: {describe_validation_error(problem)}") from None
    except (ArithmeticError, ValueError, TypeError) as problem:
        # A validator met a value it cannot compute with; the value itself is out of contract.
        raise BadInput("ContractViolation", f"contract violation: a value is out of range ({type(problem).__name__})") from None


def _error_class(error: ValidationError) -> str:
    """`InvalidPersonId` when a personId is there but is no personnummer; anything missing is `ContractViolation`."""
    for item in error.errors(include_input=False, include_url=False):
        about_person_id = "personId" in item["loc"] or item["msg"].removeprefix("Value error, ").startswith("patient.personId")
        if about_person_id and item["type"] != "missing":
            return "InvalidPersonId"
    return "ContractViolation"


def describe_validation_error(error: ValidationError, *, limit: int = 4) -> str:
    """A one-line reason for the dead-letter record; it never repeats the offending values."""
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:limit]:
        location = ".".join(str(part) for part in item["loc"] if part not in _TAGS)
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    more = len(error.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def certificate_json_schema() -> dict[str, Any]:
    """The JSON Schema of the input feed (one CloudEvent per record)."""
    return _certificate_event.json_schema(by_alias=True, mode="validation")

"""What coordinators and doctors read from intake: a unit's ongoing cases, and one patient's history.

Every answer that shows patient data writes its PDL access-log row before it is sent. A
personnummer only ever arrives in a POST body: never in a URL, a log line or an answer.
"""

# No `from __future__ import annotations`: FastAPI must resolve the dependencies built in the
# router factory from the annotations of its closures.
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
from pydantic.alias_generators import to_camel

from services.intake import repository
from services.intake.inspection import (
    CaseFilters,
    CaseRow,
    InspectedCase,
    Selection,
    VisibleHistory,
    ongoing_cases_of_unit,
    visible_history,
)
from services.intake.pseudonym import pseudonymise
from services.intake.settings import IntakeSettings
from shared.access_log import AccessResource, record_access
from shared.auth import (
    AuthenticatedUser,
    Role,
    authenticator,
    check_care_unit,
    may_read_patient,
    require_role,
    require_role_at_unit,
    sees_only_own_patients,
)
from shared.contracts.certificates import Occupation
from shared.contracts.risk_flags import RiskFlagChanged
from shared.http_errors import PathIdentifier, ReckonableDate, unprocessable, unprocessable_field
from shared.personnummer import InvalidPersonnummer, age_on, parse_personnummer
from shared.service import ServiceRuntime
from shared.sickleave.case_changes import case_snapshot
from shared.sickleave.certificate import Certificate
from shared.sickleave.certificate_standing import CertificateStanding, certificate_standings, revocations_before_arrival
from shared.sickleave.diagnosis import DiagnosisChapter, diagnosis_chapter
from shared.sickleave.sick_leave_case import assemble_sick_leave_cases

READERS = (Role.REHABKOORDINATOR, Role.LAKARE)
NOT_FOUND_AT_UNIT = "Patienten har inget intyg eller sjukfall vid den här vårdenheten."


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class ChapterView(_Answer):
    id: str
    numeral: str
    title: str

    @classmethod
    def of(cls, chapter: DiagnosisChapter | None) -> "ChapterView | None":
        return cls(id=chapter.chapter_id, numeral=chapter.numeral, title=chapter.title) if chapter else None


class RiskReasonView(_Answer):
    code: str
    weight: int
    evidence: str


class RiskView(_Answer):
    """The case's risk of long sick leave (docs/rules.md §5), as last published."""

    level: str
    score: int
    reasons: tuple[RiskReasonView, ...]

    @classmethod
    def of(cls, flag: RiskFlagChanged | None) -> "RiskView | None":
        if flag is None or not flag.flagged:
            return None
        reasons = tuple(RiskReasonView(code=r.code, weight=r.weight, evidence=r.evidence) for r in flag.reasons)
        return cls(level=flag.level.value, score=flag.score, reasons=reasons)


class ListedCase(_Answer):
    case_id: str
    patient_pseudonym: str
    sex: str
    age: int
    start: date
    end: date
    certified_days: int
    main_diagnosis_code: str
    diagnosis_chapter: ChapterView | None
    current_degree: int | None
    doctor_hsa_id: str
    occupations: tuple[str, ...]
    certificate_count: int
    protected_identity: bool
    risk: RiskView | None = None


class UnitCases(_Answer):
    care_unit_hsa_id: str
    on: date
    selection: Selection
    count: int
    cases: tuple[ListedCase, ...]


class PatientHistoryRequest(_Answer):
    person_id: StrictStr = Field(min_length=1, max_length=20)
    care_unit_hsa_id: StrictStr = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")


class DegreeSpanView(_Answer):
    start: date
    end: date
    degree: int


class HistoryCase(_Answer):
    case_id: str
    care_unit_hsa_id: str
    care_provider_hsa_id: str
    start: date
    end: date
    certified_days: int
    ongoing: bool
    main_diagnosis_code: str
    diagnosis_chapter: ChapterView | None
    doctor_hsa_id: str
    occupations: tuple[str, ...]
    degrees: tuple[DegreeSpanView, ...]
    certificate_ids: tuple[str, ...]
    latest_certificate_id: str


class VoidingView(_Answer):
    certificate_id: str
    relation: str


class StandingView(_Answer):
    standing: str
    reasons: tuple[str, ...]
    case_id: str | None
    revoked_at: datetime | None
    voided_by: tuple[VoidingView, ...]
    explanation: str


class RelationView(_Answer):
    type: str
    related_certificate_id: str


class PrognosisView(_Answer):
    code: str
    days: int | None


class HistoryCertificate(_Answer):
    certificate_id: str
    certificate_type: str
    signed_at: datetime
    start: date
    end: date
    periods: tuple[DegreeSpanView, ...]
    care_unit_hsa_id: str
    care_unit_name: str | None
    care_provider_hsa_id: str
    doctor_hsa_id: str
    diagnosis_codes: tuple[str, ...]
    main_diagnosis_chapter: ChapterView | None
    relations: tuple[RelationView, ...]
    occupations: tuple[str, ...]
    prognosis: PrognosisView | None
    test_certificate: bool
    avstangning_smittskydd: bool
    standing: StandingView


class RevocationView(_Answer):
    certificate_id: str
    revoked_at: datetime


class PatientHistory(_Answer):
    patient_pseudonym: str
    sex: str
    age: int
    protected_identity: bool
    care_unit_hsa_id: str
    on: date
    cases: tuple[HistoryCase, ...]
    certificates: tuple[HistoryCertificate, ...]
    revoked_before_arrival: tuple[RevocationView, ...]
    # Without the patient's recorded consent another care provider's certificates are not shown;
    # the count tells the coordinator that there is more to ask the patient about.
    certificates_withheld_from_other_care_providers: int


def _listed(item: InspectedCase, flag: RiskFlagChanged | None) -> ListedCase:
    case = item.case
    return ListedCase(
        case_id=case.case_id,
        patient_pseudonym=case.patient_pseudonym,
        sex=case.sex,
        age=item.age,
        start=case.start,
        end=case.end,
        certified_days=case.certified_days,
        main_diagnosis_code=case.main_diagnosis_code,
        diagnosis_chapter=ChapterView.of(item.diagnosis_chapter),
        current_degree=item.current_degree,
        doctor_hsa_id=case.doctor_hsa_id,
        occupations=case.occupations,
        certificate_count=len(case.certificate_ids),
        protected_identity=case.protected_identity,
        risk=RiskView.of(flag),
    )


def _certificate_view(certificate: Certificate, standing: CertificateStanding) -> HistoryCertificate:
    return HistoryCertificate(
        certificate_id=certificate.certificate_id,
        certificate_type=certificate.certificate_type.value,
        signed_at=certificate.signed_at,
        start=certificate.start,
        end=certificate.end,
        periods=tuple(DegreeSpanView(start=p.start, end=p.end, degree=p.degree) for p in certificate.periods),
        care_unit_hsa_id=certificate.care_unit_hsa_id,
        care_unit_name=certificate.care_unit_name,
        care_provider_hsa_id=certificate.care_provider_hsa_id,
        doctor_hsa_id=certificate.doctor_hsa_id,
        diagnosis_codes=certificate.diagnosis_codes,
        main_diagnosis_chapter=ChapterView.of(diagnosis_chapter(certificate.main_diagnosis or "")),
        relations=tuple(RelationView(type=r.type.value, related_certificate_id=r.related_certificate_id) for r in certificate.relations),
        occupations=tuple(occupation.value for occupation in certificate.occupations),
        prognosis=PrognosisView(code=certificate.prognosis.code.value, days=certificate.prognosis.days) if certificate.prognosis else None,
        test_certificate=certificate.test_certificate,
        avstangning_smittskydd=certificate.avstangning_smittskydd,
        standing=StandingView(
            standing=standing.standing.value,
            reasons=tuple(reason.value for reason in standing.reasons),
            case_id=standing.case_id,
            revoked_at=standing.revoked_at,
            voided_by=tuple(VoidingView(certificate_id=v.certificate_id, relation=v.relation.value) for v in standing.voided_by),
            explanation=standing.explanation,
        ),
    )


def _patient_history(record: repository.PatientRecord, visible: VisibleHistory, care_unit_hsa_id: str, on: date, max_gap: int) -> PatientHistory:
    """The history as the asking unit may see it: the cases are assembled from the visible
    certificates alone, so nothing of a withheld certificate shows through them."""
    protected = any(certificate.protected_identity for certificate in record.certificates)
    certificates = visible.certificates
    named = {c.certificate_id for c in certificates} | {r.related_certificate_id for c in certificates for r in c.relations}
    revocations = {certificate_id: at for certificate_id, at in record.revocations.items() if certificate_id in named}
    cases = assemble_sick_leave_cases(certificates, revocations.keys(), max_gap=max_gap)
    standings = {standing.certificate_id: standing for standing in certificate_standings(certificates, revocations, cases)}
    by_id = {certificate.certificate_id: certificate for certificate in certificates}
    history_cases = []
    for case in cases:
        snapshot = case_snapshot(case, patient_pseudonym=record.patient_pseudonym, birth_date=record.birth_date, sex=record.sex)
        history_cases.append(
            HistoryCase(
                case_id=snapshot.case_id,
                care_unit_hsa_id=snapshot.care_unit_hsa_id,
                care_provider_hsa_id=snapshot.care_provider_hsa_id,
                start=snapshot.start,
                end=snapshot.end,
                certified_days=snapshot.certified_days,
                ongoing=case.is_ongoing_on(on),
                main_diagnosis_code=snapshot.main_diagnosis_code,
                diagnosis_chapter=ChapterView.of(diagnosis_chapter(snapshot.main_diagnosis_code)),
                doctor_hsa_id=snapshot.doctor_hsa_id,
                occupations=snapshot.occupations,
                degrees=tuple(DegreeSpanView(start=s.start, end=s.end, degree=s.degree) for s in snapshot.degrees),
                certificate_ids=snapshot.certificate_ids,
                latest_certificate_id=snapshot.latest_certificate_id,
            )
        )
    return PatientHistory(
        patient_pseudonym=record.patient_pseudonym,
        sex=record.sex,
        age=age_on(record.birth_date, on),
        protected_identity=protected,
        care_unit_hsa_id=care_unit_hsa_id,
        on=on,
        cases=tuple(history_cases),
        certificates=tuple(_certificate_view(by_id[certificate_id], standing) for certificate_id, standing in standings.items()),
        revoked_before_arrival=tuple(
            RevocationView(certificate_id=r.certificate_id, revoked_at=r.revoked_at) for r in revocations_before_arrival(certificates, revocations)
        ),
        certificates_withheld_from_other_care_providers=visible.withheld_from_other_care_providers,
    )


def inspection_router(runtime: ServiceRuntime, settings: IntakeSettings) -> APIRouter:
    api = APIRouter(tags=["inspection"])
    authenticate = authenticator(settings.auth)
    reader_at_unit = require_role_at_unit(authenticate, *READERS)
    reader = require_role(authenticate, *READERS)
    pseudonym_key = settings.pseudonym_key.get_secret_value().encode()

    @api.get("/units/{care_unit_hsa_id}/cases", response_model=UnitCases, response_model_by_alias=True)
    async def unit_cases(
        request: Request,
        care_unit_hsa_id: PathIdentifier,
        user: Annotated[AuthenticatedUser, Depends(reader_at_unit)],
        on: Annotated[ReckonableDate | None, Query(description="Default: today in Stockholm on the service clock")] = None,
        min_days: Annotated[int | None, Query(ge=0)] = None,
        max_days: Annotated[int | None, Query(ge=0)] = None,
        diagnosis_chapter: Annotated[list[str], Query(description="Chapter ids such as F00-F99")] = [],  # noqa: B006 - FastAPI hands each request a copy of the default
        min_age: Annotated[int | None, Query(ge=0, le=150)] = None,
        max_age: Annotated[int | None, Query(ge=0, le=150)] = None,
        degree: Annotated[list[int], Query(description="25, 50, 75 or 100, on the date")] = [],  # noqa: B006 - FastAPI hands each request a copy of the default
        occupation: Annotated[list[Occupation], Query()] = [],  # noqa: B006 - FastAPI hands each request a copy of the default
        doctor: Annotated[list[str], Query(description="Doctor HSA ids (of the latest certificate)")] = [],  # noqa: B006 - FastAPI hands each request a copy of the default
    ) -> UnitCases:
        """The unit's cases ongoing on `on`: all of them for a coordinator, a doctor's own for a doctor."""
        try:
            filters = CaseFilters(
                on=on or runtime.clock.today(),
                min_days=min_days,
                max_days=max_days,
                diagnosis_chapters=frozenset(diagnosis_chapter),
                min_age=min_age,
                max_age=max_age,
                degrees=frozenset(degree),  # type: ignore[arg-type]  # CaseFilters checks the values
                occupations=frozenset(asked.value for asked in occupation),
                doctor_hsa_ids=frozenset(doctor),
            )
        except ValidationError as problem:
            raise unprocessable(problem, prefix=("query",)) from None
        # A doctor who also coordinates the unit sees it as a coordinator (Rehabstöd, INTYG-5068).
        selection = Selection.ISSUED_BY_ME if sees_only_own_patients(user) else Selection.ALL
        async with runtime.pool.acquire() as conn:
            rows = await repository.ongoing_cases_of_unit(conn, care_unit_hsa_id, filters.on)
            listed = ongoing_cases_of_unit(
                (CaseRow(case=case, birth_date=birth_date) for case, birth_date in rows),
                care_unit_hsa_id,
                filters,
                selection=selection,
                user_hsa_id=user.hsa_id,
            )
            flags = await repository.risk_flags_of_cases(conn, [item.case.case_id for item in listed])
            await record_access(
                conn,
                user,
                care_unit_hsa_id=care_unit_hsa_id,
                resource=AccessResource.SICK_LEAVE_CASES,
                patient_pseudonyms=[item.case.patient_pseudonym for item in listed],
                request_path=request.url.path,
                shown_care_providers=[item.case.care_provider_hsa_id for item in listed],
            )
        return UnitCases(
            care_unit_hsa_id=care_unit_hsa_id,
            on=filters.on,
            selection=selection,
            count=len(listed),
            cases=tuple(_listed(item, flags.get(item.case.case_id)) for item in listed),
        )

    @api.post(
        "/patients/history",
        response_model=PatientHistory,
        response_model_by_alias=True,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PatientHistoryRequest.model_json_schema(by_alias=True)}},
            }
        },
    )
    async def patient_history(
        request: Request, user: Annotated[AuthenticatedUser, Depends(reader)], payload: Annotated[Any, Body()] = None
    ) -> PatientHistory:
        """One patient's cases and certificates, each certificate with why it counts or not.

        The body is checked here rather than by FastAPI, whose error answers repeat the input.
        """
        try:
            asked = PatientHistoryRequest.model_validate(payload)
        except ValidationError as problem:
            raise unprocessable(problem) from None
        check_care_unit(user, asked.care_unit_hsa_id)
        today = runtime.clock.today()
        try:
            identity = parse_personnummer(asked.person_id, on=today)
        except InvalidPersonnummer as problem:
            raise unprocessable_field("body.personId", str(problem)) from None
        pseudonym = pseudonymise(identity.normalised, pseudonym_key)
        async with runtime.pool.acquire() as conn:
            record = await repository.patient_record(conn, pseudonym)
            visible = visible_history(record.certificates, asked.care_unit_hsa_id) if record else None
            # A doctor reads only their own patients, as on the case list (ISSUED_BY_ME).
            if record is None or visible is None or not may_read_patient(user, visible.doctor_hsa_ids):
                # The same answer whether the patient is unknown, only known elsewhere, or not the doctor's.
                raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND_AT_UNIT)
            history = _patient_history(record, visible, asked.care_unit_hsa_id, today, settings.max_gap)
            await record_access(
                conn,
                user,
                care_unit_hsa_id=asked.care_unit_hsa_id,
                resource=AccessResource.PATIENT_HISTORY,
                patient_pseudonyms=[pseudonym],
                request_path=request.url.path,
                shown_care_units=visible.care_unit_hsa_ids,
                shown_care_providers=visible.care_provider_hsa_ids,
            )
        return history

    return api

"""Sick-leave case changes, published by intake on `sickleave.cases.v1`, keyed by patient pseudonym."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from shared.contracts.envelope import EventData

CASE_CHANGED_TYPE = "se.reko.sickleave-case.changed.v1"


class CaseStatus(StrEnum):
    ACTIVE = "ACTIVE"
    # The case id no longer exists: its certificates were revoked or voided, or the case was
    # merged into or split into others (`replacedByCaseIds`). Everything attached to it is withdrawn.
    REMOVED = "REMOVED"


class CaseChange(StrEnum):
    OPENED = "OPENED"
    EXTENDED = "EXTENDED"
    SHORTENED = "SHORTENED"
    UPDATED = "UPDATED"
    SPLIT = "SPLIT"
    MERGED = "MERGED"
    REMOVED = "REMOVED"


class DatedValue(EventData):
    start: date
    end: date


class DegreeSpan(DatedValue):
    degree: int


class AgeBandSpan(DatedValue):
    age_band: str


class CaseCertificate(EventData):
    """What the milestones rules need of each certificate of the case, in signing order."""

    certificate_id: str
    signed_at: datetime
    start: date
    end: date
    occupations: tuple[str, ...]
    prognosis_code: str | None = None
    prognosis_days: int | None = None


class SickLeaveCaseChanged(EventData):
    case_id: str
    patient_pseudonym: str
    # Grows by one with every change intake publishes for the patient, so a consumer can drop a
    # stale copy that a relay retry delivered late.
    patient_revision: int
    # How many case events this revision has: a consumer that needs the patient's whole picture
    # (milestones joins cases into chains) waits until it has seen them all.
    revision_event_count: int = 1
    status: CaseStatus
    change: CaseChange
    replaces_case_ids: tuple[str, ...] = ()
    replaced_by_case_ids: tuple[str, ...] = ()
    care_unit_hsa_id: str
    care_provider_hsa_id: str
    start: date
    end: date
    certified_days: int
    certificate_ids: tuple[str, ...]
    latest_certificate_id: str
    sex: str
    protected_identity: bool = False
    main_diagnosis_code: str
    doctor_hsa_id: str
    occupations: tuple[str, ...]
    prognosis_code: str | None = None
    prognosis_days: int | None = None
    degrees: tuple[DegreeSpan, ...] = ()
    age_bands: tuple[AgeBandSpan, ...] = ()
    certificates: tuple[CaseCertificate, ...] = ()
    # The largest number of uncovered days between two certificates of one case that intake
    # assembled this case with (its `max_gap` setting). Consumers that assemble cases themselves
    # (milestones' what-if) use it, so the two can never disagree. None: an event from an intake
    # that did not say.
    max_gap: int | None = Field(default=None, ge=0, le=90)

    def degree_on(self, day: date) -> int | None:
        return next((span.degree for span in self.degrees if span.start <= day <= span.end), None)

    def age_band_on(self, day: date) -> str | None:
        return next((span.age_band for span in self.age_bands if span.start <= day <= span.end), None)

"""The coordinator's list of a unit's ongoing sick-leave cases, with Rehabstöd's filters (docs/rules.md §7.1).

A case is on the list for date d when it is attributed to the unit (its latest certificate's unit)
and ongoing on d (docs/rules.md §2.6: start <= d <= end, gap days included). Age and current degree are
taken on d; length is the case's whole `certified_days`, as Rehabstöd filters on `dagar`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.contracts.cases import SickLeaveCaseChanged
from shared.personnummer import age_on
from shared.sickleave.certificate import Certificate
from shared.sickleave.diagnosis import CHAPTERS_BY_ID, DiagnosisChapter, diagnosis_chapter

Degree = Literal[25, 50, 75, 100]


class Selection(StrEnum):
    """Rehabstöd's urval: a coordinator sees all the unit's cases, a doctor the ones they issued."""

    ALL = "ALL"
    ISSUED_BY_ME = "ISSUED_BY_ME"


class CaseFilters(BaseModel):
    """Every filter is optional; a list filter matches when the case has any of its values."""

    model_config = ConfigDict(frozen=True)

    on: date
    min_days: int | None = Field(default=None, ge=0)
    max_days: int | None = Field(default=None, ge=0)
    diagnosis_chapters: frozenset[str] = frozenset()
    min_age: int | None = Field(default=None, ge=0, le=150)
    max_age: int | None = Field(default=None, ge=0, le=150)
    degrees: frozenset[Degree] = frozenset()
    occupations: frozenset[str] = frozenset()
    doctor_hsa_ids: frozenset[str] = frozenset()

    @field_validator("diagnosis_chapters")
    @classmethod
    def _known_chapters(cls, chapters: frozenset[str]) -> frozenset[str]:
        if chapters - CHAPTERS_BY_ID.keys():
            # The unknown ids are not repeated: an error answer echoes nothing that was sent.
            raise ValueError("an unknown diagnosis chapter (use ids such as F00-F99)")
        return chapters

    @model_validator(mode="after")
    def _ranges_not_reversed(self) -> CaseFilters:
        if self.min_days is not None and self.max_days is not None and self.min_days > self.max_days:
            raise ValueError("min_days is above max_days")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age is above max_age")
        return self


class CaseRow(BaseModel):
    """A stored case with what the list needs of its patient."""

    model_config = ConfigDict(frozen=True)

    case: SickLeaveCaseChanged
    birth_date: date


class InspectedCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    case: SickLeaveCaseChanged
    age: int
    current_degree: int | None
    diagnosis_chapter: DiagnosisChapter | None


def _inspected(row: CaseRow, on: date) -> InspectedCase:
    return InspectedCase(
        case=row.case,
        age=age_on(row.birth_date, on),
        current_degree=row.case.degree_on(on),
        diagnosis_chapter=diagnosis_chapter(row.case.main_diagnosis_code),
    )


def _within(value: int, lowest: int | None, highest: int | None) -> bool:
    return (lowest is None or value >= lowest) and (highest is None or value <= highest)


def matches(inspected: InspectedCase, filters: CaseFilters) -> bool:
    case = inspected.case
    chapter_id = inspected.diagnosis_chapter.chapter_id if inspected.diagnosis_chapter else None
    return (
        _within(case.certified_days, filters.min_days, filters.max_days)
        and _within(inspected.age, filters.min_age, filters.max_age)
        and (not filters.diagnosis_chapters or chapter_id in filters.diagnosis_chapters)
        # A gap day has no current degree, so it matches no degree asked for.
        and (not filters.degrees or inspected.current_degree in filters.degrees)
        and (not filters.occupations or not filters.occupations.isdisjoint(case.occupations))
        and (not filters.doctor_hsa_ids or case.doctor_hsa_id in filters.doctor_hsa_ids)
    )


def ongoing_cases_of_unit(
    rows: Iterable[CaseRow],
    care_unit_hsa_id: str,
    filters: CaseFilters,
    *,
    selection: Selection = Selection.ALL,
    user_hsa_id: str | None = None,
) -> tuple[InspectedCase, ...]:
    """The unit's cases ongoing on `filters.on` that pass the filters, sorted by start (then id).

    With `ISSUED_BY_ME` only cases whose latest certificate `user_hsa_id` signed are kept.
    """
    if selection is Selection.ISSUED_BY_ME and not user_hsa_id:
        raise ValueError("ISSUED_BY_ME needs the user's HSA id")
    on = filters.on
    kept = [
        _inspected(row, on)
        for row in rows
        if row.case.care_unit_hsa_id == care_unit_hsa_id
        and row.case.start <= on <= row.case.end
        and (selection is Selection.ALL or row.case.doctor_hsa_id == user_hsa_id)
    ]
    return tuple(sorted((item for item in kept if matches(item, filters)), key=lambda item: (item.case.start, item.case.case_id)))


class VisibleHistory(BaseModel):
    """The part of a patient's certificates one unit may see, and how many it may not (docs/http-api.md)."""

    model_config = ConfigDict(frozen=True)

    certificates: tuple[Certificate, ...]
    care_provider_hsa_ids: frozenset[str]
    # Certificates of other care providers, shown only after the patient's consent (Rehabstöd,
    # sammanhållen journalföring); consent is not recorded here yet, so they are never shown.
    withheld_from_other_care_providers: int

    @property
    def care_unit_hsa_ids(self) -> frozenset[str]:
        return frozenset(certificate.care_unit_hsa_id for certificate in self.certificates)

    @property
    def doctor_hsa_ids(self) -> frozenset[str]:
        return frozenset(certificate.doctor_hsa_id for certificate in self.certificates)


def visible_history(certificates: Sequence[Certificate], care_unit_hsa_id: str) -> VisibleHistory | None:
    """What a user acting for `care_unit_hsa_id` may see of one patient's certificates.

    None when the patient has no certificate at the unit (the same as an unknown patient). The
    unit's own care provider's certificates are shown, those of other care providers withheld and
    counted. A patient with protected identity shows only the unit's own certificates, and the
    other units' are neither shown nor counted.
    """
    own_providers = frozenset(c.care_provider_hsa_id for c in certificates if c.care_unit_hsa_id == care_unit_hsa_id)
    if not own_providers:
        return None
    shown = [c for c in certificates if c.care_provider_hsa_id in own_providers]
    if any(c.protected_identity for c in certificates):
        shown = [c for c in shown if c.care_unit_hsa_id == care_unit_hsa_id]
    return VisibleHistory(
        certificates=tuple(shown),
        care_provider_hsa_ids=own_providers,
        withheld_from_other_care_providers=sum(1 for c in certificates if c.care_provider_hsa_id not in own_providers),
    )

"""Sick-leave cases (sjukfall) of one patient, built from the certificates that count (docs/rules.md §1–§3).

Pure functions over immutable certificates: the same certificates and revocations give the same
cases whatever order or repetition they arrive in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime, timedelta
from functools import cached_property

from pydantic import BaseModel, ConfigDict

from shared.contracts.certificates import Occupation, RelationType
from shared.personnummer import age_on
from shared.sickleave.certificate import VOIDING_RELATIONS, Certificate, Prognosis, is_same_certificate

DEFAULT_MAX_GAP = 5
LARGEST_MAX_GAP = 90

YOUNGEST_AGE_BAND = "-20"
# (lowest age in the band, label) of every band above the youngest.
OLDER_AGE_BANDS: tuple[tuple[int, str], ...] = (
    (21, "21-30"),
    (31, "31-40"),
    (41, "41-50"),
    (51, "51-60"),
    (61, "61-"),
)

ONE_DAY = timedelta(days=1)


def case_sort_key(certificate: Certificate) -> tuple[date, date, datetime, str]:
    return (certificate.start, certificate.end, certificate.signed_at, certificate.certificate_id)


def signing_order_key(certificate: Certificate) -> tuple[datetime, str]:
    # On an exact tie of signing time the larger certificateId counts as signed last (docs/rules.md §2.4).
    return (certificate.signed_at, certificate.certificate_id)


class SickLeaveCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    patient_id: str
    certificates: tuple[Certificate, ...]
    start: date
    end: date
    certified_days: int
    latest_certificate: Certificate

    @property
    def certificate_ids(self) -> tuple[str, ...]:
        return tuple(certificate.certificate_id for certificate in self.certificates)

    # Everything that attributes the case comes from the latest certificate, whatever the date:
    # a newly signed certificate from another unit moves the whole case there.
    @property
    def care_unit_hsa_id(self) -> str:
        return self.latest_certificate.care_unit_hsa_id

    @property
    def care_provider_hsa_id(self) -> str:
        return self.latest_certificate.care_provider_hsa_id

    @property
    def main_diagnosis_code(self) -> str:
        # Counting certificates always have a main diagnosis (docs/rules.md §1.2).
        return self.latest_certificate.diagnosis_codes[0]

    @property
    def doctor_hsa_id(self) -> str:
        return self.latest_certificate.doctor_hsa_id

    @property
    def occupations(self) -> tuple[Occupation, ...]:
        return self.latest_certificate.occupations

    @property
    def prognosis(self) -> Prognosis | None:
        return self.latest_certificate.prognosis

    def current_certificate_on(self, day: date) -> Certificate:
        covering = [certificate for certificate in self.certificates if certificate.period_on(day)]
        return max(covering, key=signing_order_key) if covering else self.latest_certificate

    def current_degree_on(self, day: date) -> int | None:
        return _degree_on(self.periods_signed_last_first, day)

    @cached_property
    def periods_signed_last_first(self) -> tuple[tuple[date, date, int], ...]:
        """(start, end, degree) of every period; kept once computed: the case is immutable."""
        # The current degree on a day is that of the first covering period of the covering
        # certificate signed last (`current_certificate_on`): with every period listed certificate
        # by certificate, signed last first, it is the first covering period in the list.
        return tuple(
            (period.start, period.end, period.degree)
            for certificate in sorted(self.certificates, key=signing_order_key, reverse=True)
            for period in certificate.periods
        )

    def is_ongoing_on(self, day: date) -> bool:
        # Gap days inside the case count as ongoing.
        return self.start <= day <= self.end

    def degree_spans(self) -> tuple[tuple[date, date, int], ...]:
        """Maximal runs of one current degree (`current_degree_on`); days no period covers are left out."""
        # The degree can only change where some period starts or has just ended, so those days
        # suffice, each value held until the next one.
        periods = self.periods_signed_last_first
        change_days = sorted({self.start} | {start for start, _, _ in periods} | {end + ONE_DAY for _, end, _ in periods})
        change_days = [day for day in change_days if day <= self.end]
        spans: list[tuple[date, date, int]] = []
        for first_day, next_change in zip(change_days, [*change_days[1:], self.end + ONE_DAY], strict=True):
            degree = _degree_on(periods, first_day)
            last_day = next_change - ONE_DAY
            if degree is None:
                continue
            if spans and spans[-1][2] == degree and spans[-1][1] + ONE_DAY == first_day:
                spans[-1] = (spans[-1][0], last_day, degree)
            else:
                spans.append((first_day, last_day, degree))
        return tuple(spans)

    def certificates_in_signing_order(self) -> tuple[Certificate, ...]:
        return tuple(sorted(self.certificates, key=signing_order_key))


def _degree_on(periods_signed_last_first: tuple[tuple[date, date, int], ...], day: date) -> int | None:
    return next((degree for start, end, degree in periods_signed_last_first if start <= day <= end), None)


def _distinct_by_id(certificates: Iterable[Certificate]) -> list[Certificate]:
    by_id: dict[str, Certificate] = {}
    for certificate in certificates:
        kept = by_id.setdefault(certificate.certificate_id, certificate)
        if kept is certificate:
            continue
        if not is_same_certificate(kept, certificate):
            # Intake keeps the first of a conflicting re-sign; two versions reaching the rules
            # would make the result depend on arrival order.
            raise ValueError(f"two different certificates with id {certificate.certificate_id!r}")
        if certificate.model_dump_json() < kept.model_dump_json():
            # Copies may differ only in display names; pick one by content, not by arrival.
            by_id[certificate.certificate_id] = certificate
    return list(by_id.values())


def voidings(certificates: Iterable[Certificate], revoked_ids: Collection[str]) -> dict[tuple[str, str], list[tuple[Certificate, RelationType]]]:
    """(patient, voided certificate id) -> the certificates voiding it and how (docs/rules.md §1.3), in signing order.

    A voiding certificate need not count itself: a voided, smittskydd or diagnosis-less fk7804
    still voids; only its revocation undoes that. A relation to itself is ignored, and keying by
    patient ignores a relation to another patient's certificate.
    """
    found: dict[tuple[str, str], list[tuple[Certificate, RelationType]]] = {}
    for voider in sorted(certificates, key=signing_order_key):
        if not voider.can_void or voider.certificate_id in revoked_ids:
            continue
        for relation in voider.relations:
            if relation.type in VOIDING_RELATIONS and relation.related_certificate_id != voider.certificate_id:
                found.setdefault((voider.patient_id, relation.related_certificate_id), []).append((voider, relation.type))
    return found


def counting_certificates(certificates: Iterable[Certificate], revoked_ids: Collection[str]) -> tuple[Certificate, ...]:
    """The certificates of one patient that build cases, in case sort order (docs/rules.md §1)."""
    stored = _distinct_by_id(certificates)
    revoked = set(revoked_ids)
    voided_ids = voidings(stored, revoked)
    counting = [
        certificate
        for certificate in stored
        if certificate.builds_cases
        and certificate.certificate_id not in revoked
        and (certificate.patient_id, certificate.certificate_id) not in voided_ids
    ]
    return tuple(sorted(counting, key=case_sort_key))


def certified_days_of(certificates: Iterable[Certificate]) -> int:
    intervals = sorted((period.start, period.end) for certificate in certificates for period in certificate.periods)
    days = 0
    counted_until: date | None = None
    for start, end in intervals:
        first_uncounted = start if counted_until is None else max(start, counted_until + ONE_DAY)
        if end >= first_uncounted:
            days += (end - first_uncounted).days + 1
            counted_until = end
    return days


def _case_of(certificates_in_sort_order: list[Certificate]) -> SickLeaveCase:
    first = certificates_in_sort_order[0]
    return SickLeaveCase(
        case_id=first.certificate_id,
        patient_id=first.patient_id,
        certificates=tuple(certificates_in_sort_order),
        start=first.start,
        end=max(certificate.end for certificate in certificates_in_sort_order),
        certified_days=certified_days_of(certificates_in_sort_order),
        latest_certificate=max(certificates_in_sort_order, key=signing_order_key),
    )


def assemble_sick_leave_cases(
    certificates: Iterable[Certificate], revoked_ids: Collection[str], *, max_gap: int = DEFAULT_MAX_GAP
) -> tuple[SickLeaveCase, ...]:
    """One patient's cases, sorted by start (docs/rules.md §2.2)."""
    if not 0 <= max_gap <= LARGEST_MAX_GAP:
        raise ValueError(f"max_gap must be between 0 and {LARGEST_MAX_GAP} days, got {max_gap}")
    joining_distance = timedelta(days=max_gap + 1)
    groups: list[list[Certificate]] = []
    case_end: date | None = None
    for certificate in counting_certificates(certificates, revoked_ids):
        if case_end is not None and certificate.start <= case_end + joining_distance:
            groups[-1].append(certificate)
            case_end = max(case_end, certificate.end)
        else:
            groups.append([certificate])
            case_end = certificate.end
    return tuple(_case_of(group) for group in groups)


def age_band(age: int) -> str:
    return next((label for lowest_age, label in reversed(OLDER_AGE_BANDS) if age >= lowest_age), YOUNGEST_AGE_BAND)


def _day_turning(birth_date: date, age: int) -> date:
    try:
        return birth_date.replace(year=birth_date.year + age)
    except ValueError:
        # Born on 29 February: in a common year `age_on` counts the birthday from 1 March.
        return date(birth_date.year + age, 3, 1)


def age_band_spans(birth_date: date, start: date, end: date) -> tuple[tuple[date, date, str], ...]:
    if start > end:
        raise ValueError("start is after end")
    band_starts = [_day_turning(birth_date, lowest_age) for lowest_age, _ in OLDER_AGE_BANDS]
    change_days = [start, *(day for day in band_starts if start < day <= end)]
    return tuple(
        (first_day, next_change - ONE_DAY, age_band(age_on(birth_date, first_day)))
        for first_day, next_change in zip(change_days, [*change_days[1:], end + ONE_DAY], strict=True)
    )

"""Statistics vocabulary and aggregates (docs/rules.md §6, docs/statistics.md): pure functions over case facts.

Diagnosis groups and categories are rules every service may read: `shared.sickleave.diagnosis`.
Every count here is a `Cube`: cases per (care unit, category, sex). Which category a case falls in
depends on the report (a length band, a diagnosis group, the degree or age band on a date, or `ALL`).
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from statistics import median
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

SEXES = ("F", "M", "UNKNOWN")
ALL = "ALL"
COORDINATOR_LENGTH_BANDS = ("<90", "90-180", "181-365", ">365")
MONTHLY_LENGTH_BANDS = ("<15", "15-30", "31-60", "61-90", "91-180", "181-364", "365-729", ">=730")
DIAGNOSIS_GROUPS = ("psychiatric", "musculoskeletal", "somatic", "pregnancy", "symptoms", "factors", "other", "unknown")
DEGREES = ("25", "50", "75", "100", "NONE")
AGE_BANDS = ("-20", "21-30", "31-40", "41-50", "51-60", "61-", "UNKNOWN")
ONE_DAY = timedelta(days=1)
# "Mer än 90 dagar": a case longer than this many certified days.
LONG_CASE_DAYS = 90


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class OngoingCount(_Response):
    care_unit_hsa_id: str
    date: date
    # `None` where the count is hidden for publication; `suppressed` names those columns, `TOTAL` for
    # the total (docs/statistics.md §2). Exact counts hide nothing.
    total: int | None
    by_sex: dict[str, int | None]
    suppressed: tuple[str, ...] = ()


def ongoing_count(care_unit_hsa_id: str, day: date, counts_by_sex: dict[str, int]) -> OngoingCount:
    by_sex = {sex: counts_by_sex.get(sex, 0) for sex in SEXES}
    return OngoingCount(care_unit_hsa_id=care_unit_hsa_id, date=day, total=sum(by_sex.values()), by_sex=dict(by_sex))


@dataclass(frozen=True)
class CaseFact:
    """One case as stats keeps it (docs/rules.md §6.1); no patient identity is needed to count."""

    case_id: str
    sex: str
    care_unit_hsa_id: str
    care_provider_hsa_id: str
    diagnosis_group: str
    start: date
    end: date
    certified_days: int
    degrees: tuple[tuple[date, date, int], ...] = ()
    age_bands: tuple[tuple[date, date, str], ...] = ()

    def ongoing_on(self, day: date) -> bool:
        return self.start <= day <= self.end

    def ongoing_in(self, period: Period) -> bool:
        return self.start <= period.last and self.end >= period.first

    def degree_on(self, day: date) -> str:
        # A gap day inside a case carries no degree.
        return next((str(degree) for first, last, degree in self.degrees if first <= day <= last), "NONE")

    def age_band_on(self, day: date) -> str:
        return next((band for first, last, band in self.age_bands if first <= day <= last), "UNKNOWN")

    def first_day_in(self, period: Period) -> date:
        return max(self.start, period.first)


@dataclass(frozen=True, order=True)
class Period:
    """A span of whole days: one date, a calendar month or a window of months."""

    first: date
    last: date

    @property
    def label(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        if (self.first.year, self.first.month) == (self.last.year, self.last.month) and self.first.day == 1:
            return f"{self.first.year:04d}-{self.first.month:02d}"
        return f"{self.first.year:04d}-{self.first.month:02d}..{self.last.year:04d}-{self.last.month:02d}"


def month(year: int, month_number: int) -> Period:
    return Period(date(year, month_number, 1), date(year, month_number, calendar.monthrange(year, month_number)[1]))


def months_back(last_month: Period, count: int) -> list[Period]:
    """The `count` calendar months ending with `last_month`, oldest first."""
    year, number = last_month.first.year, last_month.first.month
    periods = []
    for _ in range(count):
        periods.append(month(year, number))
        year, number = (year, number - 1) if number > 1 else (year - 1, 12)
    return periods[::-1]


def window(months: list[Period]) -> Period:
    return Period(months[0].first, months[-1].last)


def coordinator_length_band(certified_days: int) -> str:
    """Rehabstöd's bands, on the case's whole certified days (docs/rules.md §6)."""
    if certified_days < 90:
        return "<90"
    if certified_days <= 180:
        return "90-180"
    if certified_days <= 365:
        return "181-365"
    return ">365"


_MONTHLY_UPPER_BOUNDS = ((14, "<15"), (30, "15-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"), (364, "181-364"), (729, "365-729"))


def monthly_length_band(certified_days: int) -> str:
    """Intygsstatistik's eight bands of the monthly reports."""
    return next((band for upper, band in _MONTHLY_UPPER_BOUNDS if certified_days <= upper), ">=730")


class OngoingDimension(StrEnum):
    """What an ongoing-on-a-date report breaks the cases down by, besides sex."""

    SEX = "sex"
    LENGTH_BAND = "lengthBand"
    DIAGNOSIS_GROUP = "diagnosisGroup"
    DEGREE = "degree"
    AGE_BAND = "ageBand"


class MonthlyMeasure(StrEnum):
    """The monthly reports (docs/rules.md §6)."""

    ONGOING_BY_DIAGNOSIS_GROUP = "ongoingByDiagnosisGroup"
    ONGOING_BY_LENGTH_BAND = "ongoingByLengthBand"
    NEW_CASES = "newCases"
    LONG_CASES = "longCases"
    MEDIAN_DAYS = "medianDays"


ONGOING_CATEGORIES: Mapping[OngoingDimension, tuple[str, ...]] = {
    OngoingDimension.SEX: (ALL,),
    OngoingDimension.LENGTH_BAND: COORDINATOR_LENGTH_BANDS,
    OngoingDimension.DIAGNOSIS_GROUP: DIAGNOSIS_GROUPS,
    OngoingDimension.DEGREE: DEGREES,
    OngoingDimension.AGE_BAND: AGE_BANDS,
}

MONTHLY_CATEGORIES: Mapping[MonthlyMeasure, tuple[str, ...]] = {
    MonthlyMeasure.ONGOING_BY_DIAGNOSIS_GROUP: DIAGNOSIS_GROUPS,
    MonthlyMeasure.ONGOING_BY_LENGTH_BAND: MONTHLY_LENGTH_BANDS,
    MonthlyMeasure.NEW_CASES: (ALL,),
    MonthlyMeasure.LONG_CASES: (ALL,),
    MonthlyMeasure.MEDIAN_DAYS: (ALL,),
}

# Measures whose monthly counts add up to the count of a window: a window is the sum of its months.
ADDITIVE_OVER_MONTHS = frozenset({MonthlyMeasure.NEW_CASES})


def ongoing_category(fact: CaseFact, dimension: OngoingDimension, day: date) -> str:
    """The category of a case ongoing on `day`; degree and age are taken on that date (docs/rules.md §6)."""
    if dimension is OngoingDimension.LENGTH_BAND:
        return coordinator_length_band(fact.certified_days)
    if dimension is OngoingDimension.DIAGNOSIS_GROUP:
        return fact.diagnosis_group
    if dimension is OngoingDimension.DEGREE:
        return fact.degree_on(day)
    if dimension is OngoingDimension.AGE_BAND:
        return fact.age_band_on(day)
    return ALL


def counted_in_month(fact: CaseFact, measure: MonthlyMeasure, period: Period) -> bool:
    if measure is MonthlyMeasure.NEW_CASES:
        return period.first <= fact.start <= period.last
    if measure is MonthlyMeasure.MEDIAN_DAYS:
        return period.first <= fact.end <= period.last
    if measure is MonthlyMeasure.LONG_CASES:
        return fact.ongoing_in(period) and fact.certified_days > LONG_CASE_DAYS
    return fact.ongoing_in(period)


def monthly_category(fact: CaseFact, measure: MonthlyMeasure) -> str:
    if measure is MonthlyMeasure.ONGOING_BY_DIAGNOSIS_GROUP:
        return fact.diagnosis_group
    if measure is MonthlyMeasure.ONGOING_BY_LENGTH_BAND:
        return monthly_length_band(fact.certified_days)
    return ALL


# (care unit, category, sex)
CubeKey = tuple[str, str, str]
Cube = Mapping[CubeKey, int]


@dataclass(frozen=True)
class FactFilter:
    """Which cases a report counts; an empty set lets every value through."""

    diagnosis_groups: frozenset[str] = frozenset()
    length_bands: frozenset[str] = frozenset()
    age_bands: frozenset[str] = frozenset()

    def admits(self, fact: CaseFact, day: date, length_band: Callable[[int], str]) -> bool:
        return (
            (not self.diagnosis_groups or fact.diagnosis_group in self.diagnosis_groups)
            and (not self.length_bands or length_band(fact.certified_days) in self.length_bands)
            and (not self.age_bands or fact.age_band_on(day) in self.age_bands)
        )


EVERY_CASE = FactFilter()


def ongoing_cube(facts: Iterable[CaseFact], day: date, dimension: OngoingDimension, admitted: FactFilter = EVERY_CASE) -> Cube:
    """Cases ongoing on `day` per unit, category and sex."""
    return Counter(
        (fact.care_unit_hsa_id, ongoing_category(fact, dimension, day), fact.sex)
        for fact in facts
        if fact.ongoing_on(day) and admitted.admits(fact, day, coordinator_length_band)
    )


def monthly_cube(facts: Iterable[CaseFact], measure: MonthlyMeasure, period: Period, admitted: FactFilter = EVERY_CASE) -> Cube:
    """Cases counted in `period` by a monthly measure, per unit, category and sex."""
    return Counter(
        (fact.care_unit_hsa_id, monthly_category(fact, measure), fact.sex)
        for fact in facts
        if counted_in_month(fact, measure, period) and admitted.admits(fact, fact.first_day_in(period), monthly_length_band)
    )


def median_days(facts: Iterable[CaseFact], period: Period, admitted: FactFilter = EVERY_CASE) -> dict[tuple[str, str], list[int]]:
    """Certified days of the cases ended in `period`, per (unit, sex): what the medians are taken over."""
    days: dict[tuple[str, str], list[int]] = {}
    for fact in facts:
        if counted_in_month(fact, MonthlyMeasure.MEDIAN_DAYS, period) and admitted.admits(fact, fact.first_day_in(period), monthly_length_band):
            days.setdefault((fact.care_unit_hsa_id, fact.sex), []).append(fact.certified_days)
    return days


def median_of(values: Iterable[int]) -> float | None:
    """The median, the mean of the two middle values for an even count; None when there are none (docs/rules.md §6)."""
    ordered = sorted(values)
    return float(median(ordered)) if ordered else None


def gender_share(women: int | None, men: int | None, sex: str) -> float | None:
    """A sex's share of the women and men of a row; `UNKNOWN` lies outside the base (docs/statistics.md)."""
    if women is None or men is None or sex not in ("F", "M") or women + men == 0:
        return None
    return round((women if sex == "F" else men) / (women + men), 4)


# --- Aggregates kept from the facts (docs/statistics.md §7) ---------------------------------------------
#
# Every fact is reduced to its boundaries: per breakdown, the day a case (or a span of its degree or age
# band) starts being counted in a category and the day it stops. A count ongoing on d is then the starts
# up to d less the ends before d, and a count ongoing in [first, last] the starts up to `last` less the ends
# before `first`. Boundaries add up, so a changed case is its new boundaries less its old ones.

START = "start"
END = "end"
# Breakdowns kept as boundaries: those of the ongoing report, the monthly length bands, the long cases and
# the certified days of a case ended (whose end boundaries give the medians).
MONTHLY_LENGTH_BAND = "monthlyLengthBand"
LONG_CASES = "longCases"
CERTIFIED_DAYS = "certifiedDays"

# (breakdown, category, care unit, sex, boundary, day)
BoundaryKey = tuple[str, str, str, str, str, date]


def _covering_spans(fact: CaseFact, spans: tuple[tuple[date, date, Any], ...], uncovered: str) -> list[tuple[date, date, str]]:
    """The spans within the case, each day of the case in exactly one: gap days in `uncovered`."""
    covering: list[tuple[date, date, str]] = []
    day = fact.start
    for first, last, value in sorted(spans):
        first, last = max(first, fact.start), min(last, fact.end)
        if first > last or last < day:
            continue
        first = max(first, day)
        if first > day:
            covering.append((day, first - ONE_DAY, uncovered))
        covering.append((first, last, str(value)))
        day = last + ONE_DAY
    if day <= fact.end:
        covering.append((day, fact.end, uncovered))
    return covering


def boundaries(fact: CaseFact) -> Counter[BoundaryKey]:
    """What one case adds to the kept aggregates."""
    unit, sex = fact.care_unit_hsa_id, fact.sex
    spans: dict[str, list[tuple[date, date, str]]] = {
        OngoingDimension.SEX.value: [(fact.start, fact.end, ALL)],
        OngoingDimension.LENGTH_BAND.value: [(fact.start, fact.end, coordinator_length_band(fact.certified_days))],
        OngoingDimension.DIAGNOSIS_GROUP.value: [(fact.start, fact.end, fact.diagnosis_group)],
        OngoingDimension.DEGREE.value: _covering_spans(fact, fact.degrees, "NONE"),
        OngoingDimension.AGE_BAND.value: _covering_spans(fact, fact.age_bands, "UNKNOWN"),
        MONTHLY_LENGTH_BAND: [(fact.start, fact.end, monthly_length_band(fact.certified_days))],
        LONG_CASES: [(fact.start, fact.end, ALL)] if fact.certified_days > LONG_CASE_DAYS else [],
    }
    counted: Counter[BoundaryKey] = Counter()
    for breakdown, covering in spans.items():
        for first, last, category in covering:
            counted[(breakdown, category, unit, sex, START, first)] += 1
            counted[(breakdown, category, unit, sex, END, last)] += 1
    # The medians read only where cases ended: their start boundaries would be written and never read.
    counted[(CERTIFIED_DAYS, str(fact.certified_days), unit, sex, END, fact.end)] += 1
    return counted


def boundary_changes(old: Iterable[CaseFact], new: Iterable[CaseFact]) -> dict[BoundaryKey, int]:
    """The change to the kept aggregates when the facts `old` give way to `new`; keys that do not change are left out."""
    change: Counter[BoundaryKey] = Counter()
    for fact in new:
        change.update(boundaries(fact))
    for fact in old:
        change.subtract(boundaries(fact))
    return {key: count for key, count in change.items() if count}


# The breakdowns whose categories are a closed vocabulary are stored as one vector of counts per (unit, sex,
# boundary, day), in this order (docs/statistics.md §7): a case extended then moves two rows, its old end and its
# new one, instead of one row per breakdown. The certified days, and any category outside the vocabulary, keep a
# row per cell. A change of this order needs a migration of the stored vectors.
COUNTED_CELLS: tuple[tuple[str, str], ...] = (
    (OngoingDimension.SEX.value, ALL),
    *((OngoingDimension.LENGTH_BAND.value, band) for band in COORDINATOR_LENGTH_BANDS),
    *((OngoingDimension.DIAGNOSIS_GROUP.value, group) for group in DIAGNOSIS_GROUPS),
    *((OngoingDimension.DEGREE.value, degree) for degree in DEGREES),
    *((OngoingDimension.AGE_BAND.value, band) for band in AGE_BANDS),
    *((MONTHLY_LENGTH_BAND, band) for band in MONTHLY_LENGTH_BANDS),
    (LONG_CASES, ALL),
)
_COUNTED_POSITION = {cell: position for position, cell in enumerate(COUNTED_CELLS)}

# (care unit, sex, boundary, day): one row of counts.
CountsKey = tuple[str, str, str, date]


def counted_span(breakdown: str) -> tuple[int, tuple[str, ...]] | None:
    """Where a breakdown's categories start in the vector, and which they are in order; None when it has none there."""
    positions = [(position, category) for position, (name, category) in enumerate(COUNTED_CELLS) if name == breakdown]
    if not positions:
        return None
    return positions[0][0], tuple(category for _, category in positions)


def counted_changes(changes: Mapping[BoundaryKey, int]) -> tuple[dict[CountsKey, tuple[int, ...]], dict[BoundaryKey, int]]:
    """Boundary changes split into vectors of counts (the closed vocabulary) and the cells kept one by one."""
    vectors: dict[CountsKey, list[int]] = {}
    cells: dict[BoundaryKey, int] = {}
    for key, count in changes.items():
        breakdown, category, unit, sex, boundary, day = key
        position = _COUNTED_POSITION.get((breakdown, category))
        if position is None:
            cells[key] = count
            continue
        vectors.setdefault((unit, sex, boundary, day), [0] * len(COUNTED_CELLS))[position] += count
    return {key: tuple(vector) for key, vector in vectors.items() if any(vector)}, cells


def counted_cells(key: CountsKey, counts: Iterable[int]) -> dict[BoundaryKey, int]:
    """The cells a stored vector of counts holds, those that are not zero."""
    unit, sex, boundary, day = key
    return {
        (breakdown, category, unit, sex, boundary, day): count for (breakdown, category), count in zip(COUNTED_CELLS, counts, strict=True) if count
    }

"""A report as a reader asked for it: the selection (urval), then one set of tables per period (docs/statistics.md §2).

Pure: the facts, the organisation and the listings come in, the report goes out. `threshold` None
gives exact figures (a unit's own staff); a number gives the published, suppressed report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from services.stats.reports import (
    COLUMNS,
    TOTAL,
    Level,
    Listing,
    Model,
    Organisation,
    ScopeTable,
    Shown,
    canonical_values,
    count_tables,
    median_tables,
    suppressed_cells,
    suppressed_window,
)
from services.stats.statistics import (
    ADDITIVE_OVER_MONTHS,
    MONTHLY_CATEGORIES,
    ONGOING_CATEGORIES,
    CaseFact,
    Cube,
    FactFilter,
    MonthlyMeasure,
    OngoingCount,
    OngoingDimension,
    Period,
    median_days,
    monthly_cube,
    ongoing_count,
    ongoing_cube,
    window,
)
from services.stats.suppression import Key


class Selection(Model):
    """What a report was made from: every export carries it (Intygsstatistik's "urval")."""

    report: str
    breakdown: str
    view: str
    level: str
    first: date
    last: date
    months: int | None = None
    units: tuple[str, ...] = ()
    care_providers: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    diagnosis_groups: tuple[str, ...] = ()
    length_bands: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    exact: bool
    threshold: int | None = None
    made_at: datetime


class PeriodTables(Model):
    period: str
    first: date
    last: date
    tables: list[ScopeTable]


class Report(Model):
    selection: Selection
    periods: list[PeriodTables]


def _categories(known: Sequence[str], cubes: Iterable[Cube]) -> tuple[str, ...]:
    # A value outside the vocabulary (a degree FK does not use) still gets a row rather than vanishing from the totals.
    seen = {category for cube in cubes for (_, category, _) in cube}
    return (*known, *sorted(seen - set(known)))


def ongoing_report(
    facts: Sequence[CaseFact],
    organisation: Organisation,
    day: date,
    dimension: OngoingDimension,
    shown: Shown,
    admitted: FactFilter,
    threshold: int | None,
    listing: Listing | None,
    selection: Selection,
) -> Report:
    """The ongoing report counted from the facts themselves."""
    return ongoing_report_of(ongoing_cube(facts, day, dimension, admitted), organisation, day, dimension, shown, threshold, listing, selection)


def ongoing_report_of(
    cube: Cube,
    organisation: Organisation,
    day: date,
    dimension: OngoingDimension,
    shown: Shown,
    threshold: int | None,
    listing: Listing | None,
    selection: Selection,
) -> Report:
    tables = ongoing_tables(cube, organisation, dimension, shown, threshold, listing)
    return Report(selection=selection, periods=[PeriodTables(period=day.isoformat(), first=day, last=day, tables=tables)])


def ongoing_tables(
    cube: Cube, organisation: Organisation, dimension: OngoingDimension, shown: Shown, threshold: int | None, listing: Listing | None
) -> list[ScopeTable]:
    categories = _categories(ONGOING_CATEGORIES[dimension], [cube])
    hidden = suppressed_cells(cube, organisation, categories, threshold) if threshold is not None else frozenset()
    return count_tables(canonical_values(cube, organisation, categories), organisation, categories, shown, hidden, listing)


def units_with_cases(cube: Cube) -> frozenset[str]:
    return frozenset(unit for (unit, _, _), count in cube.items() if count)


def published_ongoing_counts(cube: Cube, organisation: Organisation, day: date, units: Iterable[str], threshold: int) -> list[OngoingCount]:
    """The first counts (docs/rules.md §6.2) of `units` as they are published: their rows of the ongoing report
    by sex, cut from the same suppressed canonical table (docs/statistics.md §3.3), so that the two answers show
    the same cells hidden alike and cannot be subtracted from each other."""
    wanted = frozenset(units)
    if not wanted:
        return []
    tables = ongoing_tables(cube, organisation, OngoingDimension.SEX, Shown(level=Level.UNIT, units=wanted), threshold, None)
    published = {table.hsa_id: _ongoing_count_of(table, day) for table in tables}
    # A unit stats has never seen a case of has nothing to hide: all zeros.
    return [published.get(unit) or ongoing_count(unit, day, {}) for unit in sorted(wanted)]


def _ongoing_count_of(table: ScopeTable, day: date) -> OngoingCount:
    (row,) = table.rows
    shown = {column: None if cell.value is None else int(cell.value) for column, cell in row.cells.items()}
    return OngoingCount(
        care_unit_hsa_id=table.hsa_id or "",
        date=day,
        total=shown[TOTAL],
        by_sex={sex: shown[sex] for sex in COLUMNS if sex != TOTAL},
        suppressed=tuple(column for column in COLUMNS if row.cells[column].suppressed),
    )


def periods_of(months: Sequence[Period], cross_section: bool) -> list[Period]:
    return [window(list(months))] if cross_section else list(months)


def monthly_report(
    facts: Sequence[CaseFact],
    organisation: Organisation,
    measure: MonthlyMeasure,
    months: Sequence[Period],
    cross_section: bool,
    shown: Shown,
    admitted: FactFilter,
    threshold: int | None,
    listings: Mapping[date, Listing],
    selection: Selection,
) -> Report:
    """A monthly report counted from the facts themselves."""
    periods = periods_of(months, cross_section)
    if measure is MonthlyMeasure.MEDIAN_DAYS:
        days = [median_days(facts, period, admitted) for period in periods]
        return median_report_of(days, periods, organisation, shown, threshold, selection)
    cubes = [monthly_cube(facts, measure, period, admitted) for period in periods]
    month_cubes = [monthly_cube(facts, measure, period, admitted) for period in months] if cross_section else None
    return monthly_report_of(measure, periods, cubes, month_cubes, organisation, shown, threshold, listings, selection)


def days_of(cube: Cube) -> dict[tuple[str, str], list[int]]:
    """Certified days per (unit, sex) from a cube of ended cases by their certified days."""
    days: dict[tuple[str, str], list[int]] = {}
    for (unit, certified_days, sex), count in sorted(cube.items()):
        days.setdefault((unit, sex), []).extend([int(certified_days)] * count)
    return days


def median_report_of(
    days: Sequence[Mapping[tuple[str, str], list[int]]],
    periods: Sequence[Period],
    organisation: Organisation,
    shown: Shown,
    threshold: int | None,
    selection: Selection,
) -> Report:
    return Report(
        selection=selection,
        periods=[
            PeriodTables(period=period.label, first=period.first, last=period.last, tables=median_tables(ended, organisation, shown, threshold))
            for period, ended in zip(periods, days, strict=True)
        ],
    )


def monthly_report_of(
    measure: MonthlyMeasure,
    periods: Sequence[Period],
    cubes: Sequence[Cube],
    month_cubes: Sequence[Cube] | None,
    organisation: Organisation,
    shown: Shown,
    threshold: int | None,
    listings: Mapping[date, Listing],
    selection: Selection,
) -> Report:
    """A time series (one cube per month) or a cross-section (one cube over the window, with its months' cubes)."""
    categories = _categories(MONTHLY_CATEGORIES[measure], cubes)
    hidden: list[frozenset[Key]]
    if threshold is None:
        hidden = [frozenset()] * len(periods)
    elif month_cubes is not None and measure in ADDITIVE_OVER_MONTHS:
        hidden = [suppressed_window(month_cubes, cubes[0], organisation, categories, threshold)[1]]
    else:
        hidden = [suppressed_cells(cube, organisation, categories, threshold) for cube in cubes]
    return Report(
        selection=selection,
        periods=[
            PeriodTables(
                period=period.label,
                first=period.first,
                last=period.last,
                tables=count_tables(
                    canonical_values(cube, organisation, categories), organisation, categories, shown, cells, listings.get(period.last.replace(day=1))
                ),
            )
            for period, cube, cells in zip(periods, cubes, hidden, strict=True)
        ],
    )

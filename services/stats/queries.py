"""A report as a reader asked for it: the selection (urval), then one set of tables per period (docs/statistics.md §2).

Pure: the facts, the organisation and the listings come in, the report goes out. `threshold` None
gives exact figures (a unit's own staff); a number gives the published, suppressed report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from services.stats.reports import (
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
    OngoingDimension,
    Period,
    median_days,
    monthly_cube,
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
    cube = ongoing_cube(facts, day, dimension, admitted)
    categories = _categories(ONGOING_CATEGORIES[dimension], [cube])
    hidden = suppressed_cells(cube, organisation, categories, threshold) if threshold is not None else frozenset()
    tables = count_tables(canonical_values(cube, organisation, categories), organisation, categories, shown, hidden, listing)
    return Report(selection=selection, periods=[PeriodTables(period=day.isoformat(), first=day, last=day, tables=tables)])


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
    """A time series (one table per month) or a cross-section (one table over the whole window)."""
    periods = [window(list(months))] if cross_section else list(months)
    if measure is MonthlyMeasure.MEDIAN_DAYS:
        return Report(
            selection=selection,
            periods=[
                PeriodTables(
                    period=period.label,
                    first=period.first,
                    last=period.last,
                    tables=median_tables(median_days(facts, period, admitted), organisation, shown, threshold),
                )
                for period in periods
            ],
        )
    cubes = [monthly_cube(facts, measure, period, admitted) for period in periods]
    categories = _categories(MONTHLY_CATEGORIES[measure], cubes)
    hidden: list[frozenset[Key]]
    if threshold is None:
        hidden = [frozenset()] * len(periods)
    elif cross_section and measure in ADDITIVE_OVER_MONTHS:
        month_cubes = [monthly_cube(facts, measure, period, admitted) for period in months]
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

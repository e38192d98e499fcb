"""Gender-split counts and reports served to a unit's staff and to the regional office (docs/statistics.md)."""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from services.stats import repository
from services.stats.exports import as_csv, as_xlsx
from services.stats.listings import BadListing, parse_listings
from services.stats.queries import (
    Report,
    Selection,
    days_of,
    median_report_of,
    monthly_report,
    monthly_report_of,
    ongoing_report_of,
    periods_of,
    published_ongoing_counts,
    units_with_cases,
)
from services.stats.reports import Level, Listing, Organisation, Shown
from services.stats.settings import StatsSettings
from services.stats.statistics import (
    AGE_BANDS,
    CERTIFIED_DAYS,
    COORDINATOR_LENGTH_BANDS,
    DIAGNOSIS_GROUPS,
    END,
    EVERY_CASE,
    LONG_CASES,
    MONTHLY_LENGTH_BAND,
    MONTHLY_LENGTH_BANDS,
    SEXES,
    START,
    Cube,
    FactFilter,
    MonthlyMeasure,
    OngoingCount,
    OngoingDimension,
    Period,
    month,
    months_back,
    ongoing_count,
    ongoing_cube,
)
from shared.auth import AuthenticatedUser, Role, authenticator
from shared.http_errors import PathIdentifier, ReckonableDate, unprocessable_field
from shared.service import ServiceRuntime

UNIT_READERS = (Role.REHABKOORDINATOR, Role.LAKARE)
# The head of a care unit reads the unit's figures exact like its coordinators, nothing of single patients.
OWN_UNIT_READERS = (*UNIT_READERS, Role.VERKSAMHETSCHEF)
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
HsaIdList = Annotated[list[Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]] | None, Query(max_length=200)]
ValueList = Annotated[list[Annotated[str, Query(max_length=40)]] | None, Query(max_length=20)]
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
Format = Literal["json", "csv", "xlsx"]
EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {media: {} for media in FORMATS.values()}, "description": "The report; `format=csv` or `xlsx` gives a file with its selection."}
}


# Where the kept aggregates hold each monthly count of cases ongoing in a period.
KEPT_BREAKDOWN = {
    MonthlyMeasure.ONGOING_BY_DIAGNOSIS_GROUP: OngoingDimension.DIAGNOSIS_GROUP.value,
    MonthlyMeasure.ONGOING_BY_LENGTH_BAND: MONTHLY_LENGTH_BAND,
    MonthlyMeasure.LONG_CASES: LONG_CASES,
}
# The filter that picks rows of a report by its own breakdown rather than cases.
OWN_FILTER: dict[OngoingDimension | MonthlyMeasure, str] = {
    OngoingDimension.DIAGNOSIS_GROUP: "diagnosisGroups",
    OngoingDimension.LENGTH_BAND: "lengthBands",
    OngoingDimension.AGE_BAND: "ageBands",
    MonthlyMeasure.ONGOING_BY_DIAGNOSIS_GROUP: "diagnosisGroups",
    MonthlyMeasure.ONGOING_BY_LENGTH_BAND: "lengthBands",
}


@dataclass(frozen=True)
class Readership:
    exact: bool
    units: frozenset[str]


def _checked(values: list[str] | None, allowed: tuple[str, ...], field: str) -> frozenset[str]:
    chosen = frozenset(values or ())
    if chosen - set(allowed):
        raise unprocessable_field(f"query.{field}", f"each value must be one of {', '.join(allowed)}")
    return chosen


def _month(text: str | None, field: str, today: date) -> Period:
    if text is None:
        return month(today.year, today.month)
    matched = MONTH_PATTERN.match(text)
    if not matched or not 1 <= int(matched[2]) <= 12 or not 1900 <= int(matched[1]) <= 2199:
        raise unprocessable_field(f"query.{field}", "must be a month YYYY-MM between 1900 and 2199")
    return month(int(matched[1]), int(matched[2]))


async def kept_counts(
    conn: asyncpg.Connection, measure: MonthlyMeasure, months: list[Period], cross_section: bool
) -> tuple[list[Cube], list[Cube] | None]:
    """The cubes of a monthly report from the kept aggregates (docs/statistics.md §7): per period, and per month of a window."""
    spans = [(period.first, period.last) for period in periods_of(months, cross_section)]
    month_spans = [(period.first, period.last) for period in months]
    if measure is MonthlyMeasure.NEW_CASES:
        window_months = await repository.boundary_cubes(conn, OngoingDimension.SEX.value, START, month_spans) if cross_section else None
        return await repository.boundary_cubes(conn, OngoingDimension.SEX.value, START, spans), window_months
    if measure is MonthlyMeasure.MEDIAN_DAYS:
        return await repository.boundary_cubes(conn, CERTIFIED_DAYS, END, spans), None
    return await repository.ongoing_cubes(conn, KEPT_BREAKDOWN[measure], spans), None


def router(runtime: ServiceRuntime, settings: StatsSettings) -> APIRouter:
    api = APIRouter(tags=["statistics"])
    authenticate = authenticator(settings.auth)

    def readership(user: AuthenticatedUser, level: Level, units: frozenset[str]) -> Readership:
        """Exact figures for a unit's own staff reading their own units; the published figures for everything else."""
        own_unit_reader = user.has_any_role(OWN_UNIT_READERS)
        regional_office = user.has_any_role([Role.REGIONKONTOR])
        if not own_unit_reader and not regional_office:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Statistiken kräver rollen REHABKOORDINATOR, LAKARE, VERKSAMHETSCHEF eller REGIONKONTOR.")
        if level is Level.UNIT and own_unit_reader and units <= user.care_units and (units or not regional_office):
            return Readership(exact=True, units=units or user.care_units)
        if level is Level.UNIT and not regional_office:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Du arbetar inte för den här vårdenheten.")
        return Readership(exact=False, units=units)

    def cross_filters_refused(exact: bool, filters: dict[str, frozenset[str]], own: str | None) -> None:
        if exact:
            return
        for name, values in filters.items():
            if values and name != own:
                raise unprocessable_field(
                    f"query.{name}", "a published report filters only on its own breakdown, units, care providers and sex (docs/statistics.md §3)"
                )

    def chosen(
        exact: bool, own: str | None, band_vocabulary: tuple[str, ...], values: dict[str, list[str] | None]
    ) -> tuple[dict[str, frozenset[str]], FactFilter]:
        """The filters, checked; those on the report's own breakdown choose rows, the others (exact reports only) choose cases."""
        filters = {
            "diagnosisGroups": _checked(values["diagnosisGroups"], DIAGNOSIS_GROUPS, "diagnosisGroups"),
            "lengthBands": _checked(values["lengthBands"], band_vocabulary, "lengthBands"),
            "ageBands": _checked(values["ageBands"], AGE_BANDS, "ageBands"),
        }
        cross_filters_refused(exact, filters, own)
        cases = {name: chosen_values for name, chosen_values in filters.items() if name != own}
        admitted = FactFilter(
            diagnosis_groups=cases.get("diagnosisGroups", frozenset()),
            length_bands=cases.get("lengthBands", frozenset()),
            age_bands=cases.get("ageBands", frozenset()),
        )
        return filters, admitted

    def answer(report: Report, file_format: Format, name: str) -> Report | Response:
        if file_format == "json":
            return report
        body: str | bytes = as_csv(report) if file_format == "csv" else as_xlsx(report)
        return Response(body, media_type=FORMATS[file_format], headers={"content-disposition": f'attachment; filename="{name}.{file_format}"'})

    async def counts_on(day: date, exact_units: frozenset[str], published_units: frozenset[str] | None) -> list[OngoingCount]:
        """The first counts on `day`: exact for `exact_units`, published for `published_units` (None: every other
        unit with cases on `day`), from the same kept table as `/reports/ongoing` by sex."""
        publishes = published_units is None or bool(published_units)
        only = next(iter(exact_units)) if len(exact_units) == 1 else None
        cube: Cube = {}
        organisation = Organisation({})
        # One snapshot, so that a unit read exact and the units read published agree.
        async with runtime.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            by_unit = await repository.ongoing_by_unit_and_sex(conn, day, only) if exact_units else {}
            if publishes:
                organisation = Organisation(await repository.known_units(conn))
                (cube,) = await repository.ongoing_cubes(conn, OngoingDimension.SEX.value, [(day, day)])
        counts = [ongoing_count(unit, day, by_sex) for unit, by_sex in by_unit.items() if unit in exact_units]
        if publishes:
            shown = units_with_cases(cube) - exact_units if published_units is None else published_units
            counts += published_ongoing_counts(cube, organisation, day, shown, settings.suppression_threshold)
        return sorted(counts, key=lambda count: count.care_unit_hsa_id)

    @api.get("/units/{care_unit_hsa_id}/ongoing", response_model=OngoingCount, response_model_by_alias=True)
    async def unit_ongoing(
        care_unit_hsa_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(authenticate)], on: ReckonableDate | None = None
    ) -> OngoingCount:
        """Cases of the unit ongoing on `on` (default: today by the service clock), by sex: exact for the unit's own
        coordinators, doctors and head; for the regional office counts under the threshold are `null`, named in
        `suppressed`, as in `/reports/ongoing` (docs/statistics.md §2)."""
        unit = frozenset({care_unit_hsa_id})
        readers = readership(user, Level.UNIT, unit)
        day = on or runtime.clock.today()
        counts = await counts_on(day, unit, frozenset()) if readers.exact else await counts_on(day, frozenset(), unit)
        return counts[0] if counts else ongoing_count(care_unit_hsa_id, day, {})

    @api.get("/ongoing", response_model=list[OngoingCount], response_model_by_alias=True)
    async def all_units_ongoing(user: Annotated[AuthenticatedUser, Depends(authenticate)], on: ReckonableDate | None = None) -> list[OngoingCount]:
        """Every unit with cases ongoing on `on`, by sex: the user's own units exact for their coordinators, doctors
        and head; every other unit for the regional office, published with small counts `null` (docs/statistics.md §2)."""
        readers = readership(user, Level.UNIT, frozenset())
        day = on or runtime.clock.today()
        if readers.exact:
            return await counts_on(day, readers.units, frozenset())
        own_units = user.care_units if user.has_any_role(OWN_UNIT_READERS) else frozenset()
        return await counts_on(day, own_units, None)

    @api.get("/reports/ongoing", response_model=Report, response_model_by_alias=True, responses=EXPORT_RESPONSES)
    async def ongoing(
        user: Annotated[AuthenticatedUser, Depends(authenticate)],
        on: ReckonableDate | None = None,
        dimension: OngoingDimension = OngoingDimension.SEX,
        level: Level = Level.UNIT,
        units: HsaIdList = None,
        care_providers: Annotated[HsaIdList, Query(alias="careProviders")] = None,
        sexes: ValueList = None,
        diagnosis_groups: Annotated[ValueList, Query(alias="diagnosisGroups")] = None,
        length_bands: Annotated[ValueList, Query(alias="lengthBands")] = None,
        age_bands: Annotated[ValueList, Query(alias="ageBands")] = None,
        file_format: Annotated[Format, Query(alias="format")] = "json",
    ) -> Report | Response:
        """Cases ongoing on `on` (default today) per unit, care provider or region, by sex and by `dimension`.

        Exact for a unit's own staff at `level=unit`; for the regional office and at the other levels,
        cells under the threshold are `null` with `suppressed: true` (docs/statistics.md §3)."""
        readers = readership(user, level, frozenset(units or ()))
        chosen_sexes = _checked(sexes, SEXES, "sexes")
        own = OWN_FILTER.get(dimension)
        asked = {"diagnosisGroups": diagnosis_groups, "lengthBands": length_bands, "ageBands": age_bands}
        filters, admitted = chosen(readers.exact, own, COORDINATOR_LENGTH_BANDS, asked)
        day = on or runtime.clock.today()
        # One snapshot: the units, the listings and the counts must agree.
        async with runtime.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            organisation = Organisation(await repository.known_units(conn))
            listed = await repository.listings_of(conn, [day.replace(day=1)])
            if admitted == EVERY_CASE:
                (cube,) = await repository.ongoing_cubes(conn, dimension.value, [(day, day)])
            else:
                # A filter on cases (exact reports only) is counted from the facts themselves.
                cube = ongoing_cube(await repository.facts_overlapping(conn, day, day), day, dimension, admitted)
        shown = Shown(
            level=level,
            units=readers.units,
            care_providers=frozenset(care_providers or ()),
            categories=filters.get(own or "", frozenset()),
            sexes=chosen_sexes,
        )
        threshold = None if readers.exact else settings.suppression_threshold
        selection = Selection(
            report="ongoing",
            breakdown=dimension.value,
            view="onDate",
            level=level.value,
            first=day,
            last=day,
            units=tuple(sorted(readers.units)),
            care_providers=tuple(sorted(care_providers or ())),
            sexes=tuple(sorted(chosen_sexes)),
            diagnosis_groups=tuple(sorted(filters["diagnosisGroups"])),
            length_bands=tuple(sorted(filters["lengthBands"])),
            age_bands=tuple(sorted(filters["ageBands"])),
            exact=readers.exact,
            threshold=threshold,
            made_at=runtime.clock.now(),
        )
        listing = Listing(listed.get(day.replace(day=1), {}))
        report = ongoing_report_of(cube, organisation, day, dimension, shown, threshold, listing, selection)
        return answer(report, file_format, f"pagaende-{dimension.value}-{day.isoformat()}")

    @api.get("/reports/monthly/{measure}", response_model=Report, response_model_by_alias=True, responses=EXPORT_RESPONSES)
    async def monthly(
        measure: MonthlyMeasure,
        user: Annotated[AuthenticatedUser, Depends(authenticate)],
        view: Literal["timeSeries", "crossSection"] = "timeSeries",
        to: Annotated[str | None, Query(max_length=7, description="the last month, YYYY-MM (default: this month)")] = None,
        months: Annotated[int | None, Query(ge=1, le=36, description="default 18 for a time series, 12 for a cross-section")] = None,
        level: Level = Level.UNIT,
        units: HsaIdList = None,
        care_providers: Annotated[HsaIdList, Query(alias="careProviders")] = None,
        sexes: ValueList = None,
        diagnosis_groups: Annotated[ValueList, Query(alias="diagnosisGroups")] = None,
        length_bands: Annotated[ValueList, Query(alias="lengthBands")] = None,
        age_bands: Annotated[ValueList, Query(alias="ageBands")] = None,
        file_format: Annotated[Format, Query(alias="format")] = "json",
    ) -> Report | Response:
        """A monthly measure as a time series (one table per month, default the last 18) or a
        cross-section (one table over the window, default the last 12 months)."""
        readers = readership(user, level, frozenset(units or ()))
        chosen_sexes = _checked(sexes, SEXES, "sexes")
        own = OWN_FILTER.get(measure)
        asked = {"diagnosisGroups": diagnosis_groups, "lengthBands": length_bands, "ageBands": age_bands}
        filters, admitted = chosen(readers.exact, own, MONTHLY_LENGTH_BANDS, asked)
        cross_section = view == "crossSection"
        periods = months_back(_month(to, "to", runtime.clock.today()), months or (12 if cross_section else 18))
        # One snapshot: the units, the listings and the counts must agree.
        async with runtime.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            organisation = Organisation(await repository.known_units(conn))
            listed = await repository.listings_of(conn, [period.first for period in periods])
            facts = await repository.facts_overlapping(conn, periods[0].first, periods[-1].last) if admitted != EVERY_CASE else None
            kept = await kept_counts(conn, measure, periods, cross_section) if facts is None else None
        shown = Shown(
            level=level,
            units=readers.units,
            care_providers=frozenset(care_providers or ()),
            categories=filters.get(own or "", frozenset()),
            sexes=chosen_sexes,
        )
        threshold = None if readers.exact else settings.suppression_threshold
        selection = Selection(
            report=measure.value,
            breakdown=measure.value,
            view=view,
            level=level.value,
            first=periods[0].first,
            last=periods[-1].last,
            months=len(periods),
            units=tuple(sorted(readers.units)),
            care_providers=tuple(sorted(care_providers or ())),
            sexes=tuple(sorted(chosen_sexes)),
            diagnosis_groups=tuple(sorted(filters["diagnosisGroups"])),
            length_bands=tuple(sorted(filters["lengthBands"])),
            age_bands=tuple(sorted(filters["ageBands"])),
            exact=readers.exact,
            threshold=threshold,
            made_at=runtime.clock.now(),
        )
        listings = {first: Listing(by_unit) for first, by_unit in listed.items()}
        if facts is not None:
            # A filter on cases (exact reports only) is counted from the facts themselves.
            report = monthly_report(facts, organisation, measure, periods, cross_section, shown, admitted, threshold, listings, selection)
        elif measure is MonthlyMeasure.MEDIAN_DAYS:
            assert kept is not None
            report = median_report_of(
                [days_of(cube) for cube in kept[0]], periods_of(periods, cross_section), organisation, shown, threshold, selection
            )
        else:
            assert kept is not None
            report = monthly_report_of(
                measure, periods_of(periods, cross_section), kept[0], kept[1], organisation, shown, threshold, listings, selection
            )
        return answer(report, file_format, f"{measure.value}-{view}-{periods[-1].label}")

    @api.post(
        "/listed-patients",
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "CSV: careUnitHsaId,month,sex,listed; month YYYY-MM; sex F, M, UNKNOWN or TOTAL (not split by sex)",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    )
    async def load_listed_patients(request: Request, user: Annotated[AuthenticatedUser, Depends(authenticate)]) -> dict[str, int]:
        """The region loads listed patients per unit and month; reports then give cases per 1,000 listed (docs/statistics.md §5)."""
        if not user.has_any_role([Role.REGIONKONTOR]):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Att läsa in listade patienter kräver rollen REGIONKONTOR.")
        raw = await request.body()
        if len(raw) > 10_000_000:
            raise unprocessable_field("body", "a listing is at most 10 MB")
        try:
            listings = parse_listings(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise unprocessable_field("body", "a listing is UTF-8 text") from None
        except BadListing as bad:
            raise unprocessable_field("body", str(bad)) from None
        async with runtime.pool.acquire() as conn, conn.transaction():
            await repository.store_listings(conn, [(item.care_unit_hsa_id, item.month, item.sex, item.listed) for item in listings])
        return {"loaded": len(listings)}

    return api

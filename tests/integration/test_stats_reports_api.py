"""Stats' report API against the real PostgreSQL: exact for a unit's own staff, suppressed for the region, exported with its selection."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from services.stats import repository
from services.stats.api import router
from services.stats.app import MIGRATIONS
from services.stats.settings import StatsSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import STOCKHOLM, Clock, FixedClock
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.http_errors import install_error_answers
from tests.support import employed_case_event

pytestmark = pytest.mark.integration

SECRET = "stats-test-secret-not-for-production-0123456789"
CLOCK = FixedClock(datetime.combine(date(2026, 3, 15), time(12), tzinfo=STOCKHOLM))
NORTH, SOUTH, EAST = "SE2321000000-1001", "SE2321000000-1002", "SE2321000000-1003"
PROVIDER_ONE, PROVIDER_TWO = "SE2321000000-0001", "SE2321000000-0002"
REGION = {"authorization": f"Bearer {issue_token(SECRET, 'SE2321000000-9000', [Role.REGIONKONTOR])}"}
NORTH_COORDINATOR = {"authorization": f"Bearer {issue_token(SECRET, 'SE2321000000-3001', [Role.REHABKOORDINATOR], [NORTH])}"}
NORTH_HEAD = {"authorization": f"Bearer {issue_token(SECRET, 'SE2321000000-3002', ['VERKSAMHETSCHEF'], [NORTH])}"}
# Unit, provider, sex, diagnosis, how many cases: all ongoing on 2026-03-15.
POPULATION = [
    (NORTH, PROVIDER_ONE, "F", "F438A", 12),
    (NORTH, PROVIDER_ONE, "M", "F438A", 2),
    (SOUTH, PROVIDER_ONE, "F", "M545", 3),
    (EAST, PROVIDER_TWO, "F", "M545", 8),
    (EAST, PROVIDER_TWO, "M", "J069", 6),
]


@dataclass
class RuntimeStandIn:
    pool: asyncpg.Pool
    clock: Clock


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    pool = await create_pool(database_url, "stats", size=2)
    await migrate(pool, "stats", PLATFORM_MIGRATIONS, MIGRATIONS)
    events = []
    for unit, provider, sex, diagnosis, count in POPULATION:
        for number in range(count):
            event = employed_case_event(f"{unit}-{sex}-{number}", f"p-{unit}-{sex}-{number}", date(2026, 3, 1), date(2026, 4, 30))
            events.append(
                event.model_copy(update={"care_unit_hsa_id": unit, "care_provider_hsa_id": provider, "sex": sex, "main_diagnosis_code": diagnosis})
            )
    async with pool.acquire() as conn, conn.transaction():
        await repository.apply_case_events(conn, events)
    app = FastAPI()
    install_error_answers(app)
    app.include_router(router(RuntimeStandIn(pool, CLOCK), StatsSettings(auth=AuthSettings(jwt_secret=SECRET))))  # type: ignore[arg-type]  # why: the router uses only the pool and the clock
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stats") as http:
        yield http
    await pool.close()


def cells(report: dict, level: str, hsa_id: str | None, category: str = "ALL") -> dict[str, dict]:
    (table,) = [table for table in report["periods"][0]["tables"] if (table["level"], table["hsaId"]) == (level, hsa_id)]
    (row,) = [row for row in table["rows"] if row["category"] == category]
    return row["cells"]


async def test_a_coordinator_reads_the_exact_counts_of_their_own_unit(client):
    report = (await client.get("/reports/ongoing", params={"on": "2026-03-15"}, headers=NORTH_COORDINATOR)).json()

    north = cells(report, "unit", NORTH)
    assert (north["F"]["value"], north["M"]["value"], north["TOTAL"]["value"]) == (12, 2, 14)
    assert north["F"]["share"] == pytest.approx(12 / 14, abs=1e-4)
    assert [table["hsaId"] for table in report["periods"][0]["tables"]] == [NORTH]
    assert report["selection"]["exact"] is True


async def test_the_head_of_a_unit_reads_it_exactly_too(client):
    report = (await client.get("/reports/ongoing", params={"dimension": "diagnosisGroup"}, headers=NORTH_HEAD)).json()
    assert cells(report, "unit", NORTH, "psychiatric")["M"]["value"] == 2


async def test_the_regional_office_sees_small_counts_hidden_and_never_as_zero(client):
    report = (await client.get("/reports/ongoing", params={"on": "2026-03-15"}, headers=REGION)).json()

    north, south = cells(report, "unit", NORTH), cells(report, "unit", SOUTH)
    assert north["M"] == {"value": None, "suppressed": True, "share": None, "per1000": None}
    assert south["F"]["suppressed"] is True
    # North's women would give its 2 men away through the unit total: one more cell of the row is hidden.
    assert north["F"]["suppressed"] or north["TOTAL"]["suppressed"]
    assert report["selection"]["exact"] is False and report["selection"]["threshold"] == 5


async def test_a_coordinator_reads_other_units_only_as_published(client):
    assert (await client.get("/reports/ongoing", params={"units": SOUTH}, headers=NORTH_COORDINATOR)).status_code == 403
    region = (await client.get("/reports/ongoing", params={"level": "region"}, headers=NORTH_COORDINATOR)).json()
    assert region["selection"]["exact"] is False
    assert cells(region, "region", None)["TOTAL"]["value"] == 31


async def test_a_published_report_refuses_a_filter_on_another_breakdown(client):
    response = await client.get("/reports/ongoing", params={"dimension": "lengthBand", "diagnosisGroups": "psychiatric"}, headers=REGION)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "query.diagnosisGroups"
    # Its own breakdown chooses rows.
    rows = await client.get("/reports/ongoing", params={"dimension": "diagnosisGroup", "diagnosisGroups": "psychiatric"}, headers=REGION)
    assert {row["category"] for table in rows.json()["periods"][0]["tables"] for row in table["rows"]} == {"psychiatric"}


@pytest.mark.parametrize(
    "params",
    [{"sexes": "X19800124-9286"}, {"lengthBands": "1-2"}, {"dimension": "shoe"}, {"level": "planet"}, {"units": "\x00"}, {"format": "pdf"}],
    ids=["sex", "band", "dimension", "level", "unit", "format"],
)
async def test_bad_filters_are_unprocessable_with_a_reason_and_echo_nothing(client, params):
    response = await client.get("/reports/ongoing", params=params, headers=REGION)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["problem"]
    assert "9286" not in response.text


@pytest.mark.parametrize("params", [{"to": "2026-13"}, {"to": "26-01"}, {"months": "0"}, {"months": "99"}])
async def test_bad_periods_are_unprocessable(client, params):
    assert (await client.get("/reports/monthly/newCases", params=params, headers=REGION)).status_code == 422


async def test_a_time_series_has_eighteen_months_and_a_cross_section_one_window_of_twelve(client):
    series = (await client.get("/reports/monthly/ongoingByDiagnosisGroup", headers=NORTH_COORDINATOR)).json()
    assert [period["period"] for period in series["periods"]][-2:] == ["2026-02", "2026-03"]
    assert len(series["periods"]) == 18
    assert cells({"periods": [series["periods"][-1]]}, "unit", NORTH, "psychiatric")["F"]["value"] == 12

    cross = (await client.get("/reports/monthly/newCases", params={"view": "crossSection", "to": "2026-04"}, headers=NORTH_COORDINATOR)).json()
    assert [period["period"] for period in cross["periods"]] == ["2025-05..2026-04"]
    assert cells(cross, "unit", NORTH)["TOTAL"]["value"] == 14


async def test_the_median_of_cases_ended_in_a_month_is_hidden_for_the_region_when_few_cases_ended(client):
    coordinator = (await client.get("/reports/monthly/medianDays", params={"to": "2026-04", "months": "1"}, headers=NORTH_COORDINATOR)).json()
    assert cells(coordinator, "unit", NORTH)["M"]["value"] == 61.0
    region = (await client.get("/reports/monthly/medianDays", params={"to": "2026-04", "months": "1"}, headers=REGION)).json()
    assert cells(region, "unit", NORTH)["M"]["suppressed"] is True
    assert cells(region, "unit", NORTH)["F"]["value"] == 61.0


async def test_exports_carry_their_selection(client):
    exported = await client.get("/reports/ongoing", params={"on": "2026-03-15", "format": "csv"}, headers=REGION)
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    lines = exported.text.splitlines()
    assert lines[0].startswith("# Rapport: ongoing")
    assert any(line.startswith("# Gräns för små tal: 5") for line in lines)
    assert any(f"unit,{NORTH},ALL" in line and ",..," in line for line in lines)

    workbook = load_workbook(io.BytesIO((await client.get("/reports/ongoing", params={"format": "xlsx"}, headers=REGION)).content))
    assert workbook.sheetnames == ["Tabell", "Urval"]
    assert ["Rapport", "ongoing"] in [[cell.value for cell in row] for row in workbook["Urval"].iter_rows()]


async def test_listed_patients_give_rates_per_thousand(client):
    listing = f"careUnitHsaId,month,sex,listed\n{NORTH},2026-03,F,2000\n{NORTH},2026-03,M,1000\n{EAST},2026-03,TOTAL,7000\n"
    assert (await client.post("/listed-patients", content=listing, headers={**NORTH_COORDINATOR, "content-type": "text/csv"})).status_code == 403
    loaded = await client.post("/listed-patients", content=listing, headers={**REGION, "content-type": "text/csv"})
    assert loaded.json() == {"loaded": 3}

    north = cells((await client.get("/reports/ongoing", params={"on": "2026-03-15"}, headers=NORTH_COORDINATOR)).json(), "unit", NORTH)
    assert (north["F"]["per1000"], north["M"]["per1000"], north["TOTAL"]["per1000"]) == (6.0, 2.0, 4.67)
    east = cells((await client.get("/reports/ongoing", params={"on": "2026-03-15"}, headers=REGION)).json(), "unit", EAST)
    # East's listing is not split by sex: only its total has a rate.
    assert (east["F"]["per1000"], east["TOTAL"]["per1000"]) == (None, 2.0)


async def test_a_bad_listing_is_unprocessable_and_names_the_line(client):
    response = await client.post(
        "/listed-patients", content="careUnitHsaId,month,sex,listed\nU1,2026-3,F,10\n", headers={**REGION, "content-type": "text/csv"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [{"field": "body", "problem": "line 2: month must be YYYY-MM"}]


async def test_a_coordinator_reads_the_first_counts_of_their_own_unit_exact(client):
    unit = (await client.get(f"/units/{NORTH}/ongoing", params={"on": "2026-03-15"}, headers=NORTH_COORDINATOR)).json()
    assert unit == {"careUnitHsaId": NORTH, "date": "2026-03-15", "total": 14, "bySex": {"F": 12, "M": 2, "UNKNOWN": 0}, "suppressed": []}
    assert (await client.get("/ongoing", params={"on": "2026-03-15"}, headers=NORTH_COORDINATOR)).json() == [unit]
    head = (await client.get(f"/units/{NORTH}/ongoing", params={"on": "2026-03-15"}, headers=NORTH_HEAD)).json()
    assert head["bySex"] == {"F": 12, "M": 2, "UNKNOWN": 0}
    assert (await client.get(f"/units/{SOUTH}/ongoing", params={"on": "2026-03-15"}, headers=NORTH_COORDINATOR)).status_code == 403


async def test_the_regional_office_reads_a_unit_with_three_women_as_hidden_never_as_a_count(client):
    south = (await client.get(f"/units/{SOUTH}/ongoing", params={"on": "2026-03-15"}, headers=REGION)).json()

    assert south["bySex"] == {"F": None, "M": 0, "UNKNOWN": 0}
    assert south["total"] is None
    assert sorted(south["suppressed"]) == ["F", "TOTAL"]


async def test_the_regional_office_cannot_read_a_hidden_count_off_the_units_total(client):
    north = (await client.get(f"/units/{NORTH}/ongoing", params={"on": "2026-03-15"}, headers=REGION)).json()

    row = {**north["bySex"], "TOTAL": north["total"]}
    assert row["M"] is None
    # With only the 2 men hidden, 14 less 12 women would give them away: a second cell of the row is hidden too.
    hidden = sorted(column for column, value in row.items() if value is None)
    assert len(hidden) >= 2
    assert sorted(north["suppressed"]) == hidden


async def test_the_first_counts_of_the_regional_office_are_the_units_rows_of_the_published_report(client):
    counts = (await client.get("/ongoing", params={"on": "2026-03-15"}, headers=REGION)).json()
    report = (await client.get("/reports/ongoing", params={"on": "2026-03-15"}, headers=REGION)).json()

    assert [count["careUnitHsaId"] for count in counts] == [NORTH, SOUTH, EAST]
    for count in counts:
        published = cells(report, "unit", count["careUnitHsaId"])
        assert {**count["bySex"], "TOTAL": count["total"]} == {sex: cell["value"] for sex, cell in published.items()}
        assert sorted(count["suppressed"]) == sorted(sex for sex, cell in published.items() if cell["suppressed"])


async def test_a_coordinator_who_is_also_the_regional_office_reads_their_own_unit_exact_and_the_others_published(client):
    both = {"authorization": f"Bearer {issue_token(SECRET, 'SE2321000000-3003', [Role.REHABKOORDINATOR, Role.REGIONKONTOR], [NORTH])}"}

    counts = {count["careUnitHsaId"]: count for count in (await client.get("/ongoing", params={"on": "2026-03-15"}, headers=both)).json()}

    assert (counts[NORTH]["bySex"], counts[NORTH]["suppressed"]) == ({"F": 12, "M": 2, "UNKNOWN": 0}, [])
    assert counts[SOUTH]["bySex"]["F"] is None
    assert (await client.get(f"/units/{SOUTH}/ongoing", params={"on": "2026-03-15"}, headers=both)).json()["total"] is None


async def test_the_command_loads_a_listing_file_into_the_database(database_url):
    from services.stats.__main__ import load_listings

    loaded = await load_listings(StatsSettings(database_url=database_url), f"careUnitHsaId,month,sex,listed\n{NORTH},2026-03,TOTAL,3000\n")

    assert loaded == 1
    pool = await create_pool(database_url, "stats", size=1)
    async with pool.acquire() as conn:
        assert await repository.listings_of(conn, [date(2026, 3, 1)]) == {date(2026, 3, 1): {(NORTH, "TOTAL"): 3000}}
    await pool.close()


async def test_the_reports_are_described_in_openapi_with_their_file_formats():
    from services.stats.app import create_app

    spec = create_app(StatsSettings(auth=AuthSettings(jwt_secret=SECRET))).openapi()

    assert {"/reports/ongoing", "/reports/monthly/{measure}", "/listed-patients", "/dashboard"} <= set(spec["paths"])
    formats = spec["paths"]["/reports/ongoing"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv; charset=utf-8"} <= set(formats)

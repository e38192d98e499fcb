"""Every cell of every stats report, after a feed of a few thousand patients flowed through the real pipeline,
equals what the rules give when the test counts the cases itself (docs/rules.md §6, docs/statistics.md)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import date
from statistics import median
from typing import Any

import httpx
import pytest

from reko.feed import FeedSettings, generate_feed
from reko.publish import publish_events
from services.stats import repository
from shared.contracts.cases import SickLeaveCaseChanged
from shared.db import create_pool
from tests.oracle import expected_cases
from tests.support import bearer, wait_for_quiet

# Slow (a minute or more on 2 cores): not in `make test`; `make test-slow` or `make test-all` runs it.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAY = date(2026, 5, 15)
LAST_MONTH = (2026, 6)
THRESHOLD = 5
SEXES = ("F", "M", "UNKNOWN")


# --- the rules of docs/rules.md §6, written out again here so the service is checked against them ---


GROUP_RANGES = (
    ("F00", "F99", "psychiatric"),
    ("M00", "M99", "musculoskeletal"),
    ("A00", "E90", "somatic"),
    ("G00", "L99", "somatic"),
    ("N00", "N99", "somatic"),
    ("O00", "O99", "pregnancy"),
    ("R00", "R99", "symptoms"),
    ("Z00", "Z99", "factors"),
)


def group(code: str) -> str:
    head = code[:3]
    for first, last, name in GROUP_RANGES:
        if first <= head <= last:
            return name
    return "other" if head[:1] in "PQSTUVWXY" else "unknown"


def short_band(days: int) -> str:
    return "<90" if days < 90 else "90-180" if days <= 180 else "181-365" if days <= 365 else ">365"


def long_band(days: int) -> str:
    for upper, name in ((14, "<15"), (30, "15-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"), (364, "181-364"), (729, "365-729")):
        if days <= upper:
            return name
    return ">=730"


def month_span(year: int, number: int) -> tuple[date, date]:
    following = date(year + (number == 12), number % 12 + 1, 1)
    return date(year, number, 1), date.fromordinal(following.toordinal() - 1)


def months_to(last: tuple[int, int], count: int) -> list[tuple[date, date]]:
    year, number = last
    spans = []
    for _ in range(count):
        spans.append(month_span(year, number))
        year, number = (year, number - 1) if number > 1 else (year - 1, 12)
    return spans[::-1]


def ongoing_expected(cases: list[SickLeaveCaseChanged], dimension: str) -> Counter:
    def category(case: SickLeaveCaseChanged) -> str:
        if dimension == "lengthBand":
            return short_band(case.certified_days)
        if dimension == "diagnosisGroup":
            return group(case.main_diagnosis_code)
        if dimension == "degree":
            degree = case.degree_on(DAY)
            return "NONE" if degree is None else str(degree)
        if dimension == "ageBand":
            return case.age_band_on(DAY) or "UNKNOWN"
        return "ALL"

    return Counter((case.care_unit_hsa_id, category(case), case.sex) for case in cases if case.start <= DAY <= case.end)


def monthly_expected(cases: list[SickLeaveCaseChanged], measure: str, first: date, last: date) -> Counter:
    counted: Counter = Counter()
    for case in cases:
        ongoing = case.start <= last and case.end >= first
        new = first <= case.start <= last
        if (measure == "newCases" and new) or (measure == "longCases" and ongoing and case.certified_days > 90):
            counted[(case.care_unit_hsa_id, "ALL", case.sex)] += 1
        elif measure == "ongoingByDiagnosisGroup" and ongoing:
            counted[(case.care_unit_hsa_id, group(case.main_diagnosis_code), case.sex)] += 1
        elif measure == "ongoingByLengthBand" and ongoing:
            counted[(case.care_unit_hsa_id, long_band(case.certified_days), case.sex)] += 1
    return counted


def rolled_up(counts: Counter, provider_of: dict[str, str]) -> dict[tuple[str, str, str, str], int]:
    """Counts per (level, hsa id, category, sex) with TOTAL over categories and over sexes."""
    totals: Counter = Counter()
    for (unit, category, sex), count in counts.items():
        for level, hsa_id in (("unit", unit), ("careProvider", provider_of[unit]), ("region", "")):
            for row in {category, "TOTAL"}:
                for column in (sex, "TOTAL"):
                    totals[(level, hsa_id, row, column)] += count
    return totals


# --- reading the service ---


async def kept_and_rebuilt(database_url: str) -> bool:
    """Whether the aggregates the service kept from the case events equal, cell by cell, a rebuild from its facts."""
    pool = await create_pool(database_url, "stats", size=1)
    async with pool.acquire() as conn:
        kept = await repository.boundary_rows(conn)
        rebuild = conn.transaction()
        await rebuild.start()
        await repository.rebuild_boundaries(conn)
        rebuilt = await repository.boundary_rows(conn)
        # Rolled back: the service's own table stays as it kept it.
        await rebuild.rollback()
    await pool.close()
    return bool(kept) and kept == rebuilt


def fetch(base_url: str, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{base_url}{path}", params=params, headers=headers, timeout=30)
    response.raise_for_status()
    return response.json()


def served(report: dict[str, Any]) -> dict[tuple[str, str, str, str, str], dict[str, Any]]:
    cells = {}
    for period in report["periods"]:
        for table in period["tables"]:
            for row in (*table["rows"], *([table["total"]] if table["total"] else [])):
                for sex, cell in row["cells"].items():
                    cells[(period["period"], table["level"], table["hsaId"] or "", row["category"], sex)] = cell
    return cells


def assert_cells(cells: dict, period: str, expected: dict[tuple[str, str, str, str], int], *, exact: bool) -> int:
    """Every served cell of the period is the expected count, or (published only) hidden; every small count is hidden."""
    hidden = 0
    for (label, level, hsa_id, category, sex), cell in cells.items():
        if label != period:
            continue
        want = expected.get((level, hsa_id, category, sex), 0)
        if cell["suppressed"]:
            assert not exact, (period, level, hsa_id, category, sex)
            hidden += 1
            continue
        assert cell["value"] == want, (period, level, hsa_id, category, sex, cell, want)
        assert exact or not 0 < want < THRESHOLD, (period, level, hsa_id, category, sex)
    return hidden


def test_every_cell_of_every_report_is_what_the_rules_give_for_the_certificates_seen(stack_factory):
    stack = stack_factory(clock="fixed:2026-07-01T12:00:00+02:00")
    events = generate_feed(FeedSettings(seed=61, patients=2500, care_units=8, revocation_rate=0.05, replacement_rate=0.05))
    assert sum(1 for event in events if event["type"].endswith("revoked.v1")) > 50
    began = time.monotonic()
    asyncio.run(publish_events(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), events))
    wait_for_quiet(stack, timeout=300)
    flowed = time.monotonic() - began

    cases = list(expected_cases(events, pseudonym_key=stack.settings.pseudonym_key).values())
    provider_of = {case.care_unit_hsa_id: case.care_provider_hsa_id for case in cases}
    units = sorted(provider_of)
    base = stack.services["stats"].base_url
    staff = bearer(stack, ["REHABKOORDINATOR"], units)
    region = bearer(stack, ["REGIONKONTOR"])
    hidden = 0

    for dimension in ("sex", "lengthBand", "diagnosisGroup", "degree", "ageBand"):
        expected = rolled_up(ongoing_expected(cases, dimension), provider_of)
        exact = served(fetch(base, "/reports/ongoing", staff, on=DAY.isoformat(), dimension=dimension))
        assert {key[2] for key in exact} == set(units)
        assert_cells(exact, DAY.isoformat(), expected, exact=True)
        for level in ("unit", "careProvider", "region"):
            published = served(fetch(base, "/reports/ongoing", region, on=DAY.isoformat(), dimension=dimension, level=level))
            hidden += assert_cells(published, DAY.isoformat(), expected, exact=False)

    to = f"{LAST_MONTH[0]:04d}-{LAST_MONTH[1]:02d}"
    for measure in ("ongoingByDiagnosisGroup", "ongoingByLengthBand", "newCases", "longCases"):
        for view, count in (("timeSeries", 18), ("crossSection", 12)):
            spans = months_to(LAST_MONTH, count)
            periods = [(f"{first:%Y-%m}", first, last) for first, last in spans] if view == "timeSeries" else [
                (f"{spans[0][0]:%Y-%m}..{spans[-1][1]:%Y-%m}", spans[0][0], spans[-1][1])
            ]  # fmt: skip
            exact = served(fetch(base, f"/reports/monthly/{measure}", staff, view=view, to=to))
            published = {
                level: served(fetch(base, f"/reports/monthly/{measure}", region, view=view, to=to, level=level))
                for level in ("unit", "careProvider", "region")
            }
            for label, first, last in periods:
                expected = rolled_up(monthly_expected(cases, measure, first, last), provider_of)
                assert_cells(exact, label, expected, exact=True)
                for cells in published.values():
                    hidden += assert_cells(cells, label, expected, exact=False)

    medians = served(fetch(base, "/reports/monthly/medianDays", staff, view="timeSeries", to=to, months=6))
    for first, last in months_to(LAST_MONTH, 6):
        for unit in units:
            for sex in (*SEXES, "TOTAL"):
                ended = [case for case in cases if case.care_unit_hsa_id == unit and first <= case.end <= last]
                days = [case.certified_days for case in ended if sex in (case.sex, "TOTAL")]
                want = float(median(days)) if days else None
                assert medians[(f"{first:%Y-%m}", "unit", unit, "ALL", sex)]["value"] == want, (first, unit, sex)

    assert hidden > 0, "a feed this size has small cells for the regional office"

    # Rates: half the units list their patients by sex, the others only in total.
    listed = {unit: (1000 + 100 * number, 900 + 50 * number) for number, unit in enumerate(units)}
    lines = ["careUnitHsaId,month,sex,listed"]
    for number, (unit, (women, men)) in enumerate(listed.items()):
        lines += [f"{unit},2026-05,F,{women}", f"{unit},2026-05,M,{men}"] if number % 2 else [f"{unit},2026-05,TOTAL,{women + men}"]
    loaded = httpx.post(f"{base}/listed-patients", content="\n".join(lines), headers={**region, "content-type": "text/csv"}, timeout=30)
    assert loaded.status_code == 200, loaded.text
    rates = served(fetch(base, "/reports/ongoing", staff, on=DAY.isoformat()))
    ongoing = rolled_up(ongoing_expected(cases, "sex"), provider_of)
    for number, (unit, (women, men)) in enumerate(listed.items()):
        cells = {sex: rates[(DAY.isoformat(), "unit", unit, "ALL", sex)] for sex in ("F", "M", "TOTAL")}
        assert cells["TOTAL"]["per1000"] == round(ongoing.get(("unit", unit, "ALL", "TOTAL"), 0) * 1000 / (women + men), 2)
        if number % 2:
            assert cells["F"]["per1000"] == round(ongoing.get(("unit", unit, "ALL", "F"), 0) * 1000 / women, 2)
            assert cells["M"]["per1000"] == round(ongoing.get(("unit", unit, "ALL", "M"), 0) * 1000 / men, 2)
        else:
            assert cells["F"]["per1000"] is None
    assert asyncio.run(kept_and_rebuilt(stack.database_url)), "the aggregates kept event by event differ from a rebuild"
    assert flowed < 240, f"the feed took {flowed:.0f} s to flow through"

"""Small counts in published reports: hidden, and not recoverable from any published total (docs/statistics.md §3)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime
from fractions import Fraction

import pytest

from services.stats.queries import Report, Selection, monthly_report, ongoing_report
from services.stats.reports import Level, Organisation, Shown
from services.stats.statistics import (
    DIAGNOSIS_GROUPS,
    EVERY_CASE,
    SEXES,
    CaseFact,
    MonthlyMeasure,
    OngoingDimension,
    month,
    months_back,
)
from services.stats.suppression import LinkedTable, primary_suppressions, protect, recoverable_cells

PROVIDER_OF = {"U1": "P1", "U2": "P1", "U3": "P1", "U4": "P2", "U5": "P2", "U6": "P3"}
ORGANISATION = Organisation(PROVIDER_OF)
DAY = date(2026, 6, 15)
SELECTION = Selection(
    report="t", breakdown="t", view="t", level="unit", first=DAY, last=DAY, exact=False, threshold=5, made_at=datetime(2026, 6, 15, tzinfo=UTC)
)


def facts(seed: int, count: int = 400) -> list[CaseFact]:
    """Cases of uneven units: some large, some with a handful, so that small cells are common."""
    chance = random.Random(seed)
    weights = [30, 12, 3, 20, 2, 6]
    cases = []
    for number in range(count):
        start = date(2025, 6, 1).fromordinal(date(2025, 6, 1).toordinal() + chance.randrange(380))
        length = chance.choice([7, 14, 30, 45, 80, 100, 200, 400])
        unit = chance.choices(list(PROVIDER_OF), weights)[0]
        end = start.fromordinal(start.toordinal() + length - 1)
        sex = chance.choices(SEXES, [55, 44, 1])[0]
        group = chance.choices(DIAGNOSIS_GROUPS, [40, 25, 15, 3, 8, 4, 3, 2])[0]
        cases.append(CaseFact(f"c{number}", sex, unit, PROVIDER_OF[unit], group, start, end, length))
    return cases


Published = dict[tuple[str, str, str, str, str], int | None]


def published(*reports: Report) -> Published:
    """Every number the reports show, by (period, level, hsa id, category, sex); None when hidden."""
    shown: Published = {}
    for report in reports:
        for period in report.periods:
            for table in period.tables:
                for row in (*table.rows, *([table.total] if table.total else [])):
                    for sex, cell in row.cells.items():
                        value = None if cell.suppressed else int(cell.value or 0)
                        shown[(period.period, table.level, table.hsa_id or "", row.category, sex)] = value
    return shown


def relations(shown: Published) -> list[tuple[tuple, list[tuple]]]:
    """What a reader knows about how the numbers add up: sexes to TOTAL, categories to TOTAL, units to providers to the region."""
    sums = []
    for period, level, hsa_id, category, sex in shown:
        if sex == "TOTAL":
            sums.append(((period, level, hsa_id, category, "TOTAL"), [(period, level, hsa_id, category, each) for each in SEXES]))
        if category == "TOTAL":
            categories = sorted({key[3] for key in shown if key[:3] == (period, level, hsa_id) and key[3] != "TOTAL"})
            sums.append(((period, level, hsa_id, "TOTAL", sex), [(period, level, hsa_id, each, sex) for each in categories]))
        if level == "careProvider":
            units = [unit for unit, provider in PROVIDER_OF.items() if provider == hsa_id]
            sums.append(((period, level, hsa_id, category, sex), [(period, "unit", unit, category, sex) for unit in units]))
        if level == "region":
            providers = sorted(set(PROVIDER_OF.values()))
            sums.append(((period, level, "", category, sex), [(period, "careProvider", provider, category, sex) for provider in providers]))
    return [(total, parts) for total, parts in sums if total in shown and all(part in shown for part in parts)]


def recovered_by_substitution(shown: Published, sums: list[tuple[tuple, list[tuple]]]) -> dict[tuple, int]:
    """The row-by-row attack: any sum with one hidden member gives it away; repeat with what was learnt."""
    known = {key: value for key, value in shown.items() if value is not None}
    learnt: dict[tuple, int] = {}
    progress = True
    while progress:
        progress = False
        for total, parts in sums:
            unknown = [key for key in (total, *parts) if key not in known]
            if len(unknown) != 1:
                continue
            (hidden,) = unknown
            others = sum(known[part] for part in parts if part != hidden)
            known[hidden] = learnt[hidden] = others if hidden == total else known[total] - others
            progress = True
    return learnt


def recovered_by_elimination(shown: Published, sums: list[tuple[tuple, list[tuple]]]) -> set[tuple]:
    """The full linear attack, in exact fractions: every hidden cell the published numbers determine."""
    hidden = {key for key, value in shown.items() if value is None}
    pivots: dict[tuple, dict[tuple, Fraction]] = {}
    for total, parts in sums:
        row: dict[tuple, Fraction] = {}
        for key, sign in ((total, 1), *((part, -1) for part in parts)):
            if key in hidden:
                row[key] = row.get(key, Fraction(0)) + sign
        row = {key: value for key, value in row.items() if value}
        for pivot in [key for key in row if key in pivots]:
            factor = row.get(pivot, Fraction(0))
            for key, value in pivots[pivot].items():
                row[key] = row.get(key, Fraction(0)) - factor * value
            row = {key: value for key, value in row.items() if value}
        if not row:
            continue
        lead = min(row)
        row = {key: value / row[lead] for key, value in row.items()}
        for pivot, other in pivots.items():
            factor = other.get(lead)
            if factor:
                for key, value in row.items():
                    other[key] = other.get(key, Fraction(0)) - factor * value
                pivots[pivot] = {key: value for key, value in other.items() if value}
        pivots[lead] = row
    return {pivot for pivot, row in pivots.items() if len(row) == 1}


def test_a_threshold_below_three_is_refused():
    with pytest.raises(ValueError, match="never below 3"):
        primary_suppressions({"a": 1}, 2)


def test_zero_is_published_and_one_to_four_are_hidden():
    assert primary_suppressions({"zero": 0, "one": 1, "four": 4, "five": 5}, 5) == {"one", "four"}


def test_one_small_cell_in_a_row_takes_the_smallest_other_cell_with_it():
    table = LinkedTable(values={"a": 2, "b": 9, "c": 30, "total": 41}, sums=[("total", ["a", "b", "c"])], order=["a", "b", "c", "total"])
    hidden = protect(table, 5)
    assert hidden == {"a", "b"}
    assert recoverable_cells(table, hidden) == set()


def test_a_row_total_under_the_threshold_is_hidden_like_any_cell():
    table = LinkedTable(values={"a": 1, "b": 2, "total": 3}, sums=[("total", ["a", "b"])], order=["a", "b", "total"])
    assert protect(table, 5) == {"a", "b", "total"}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("dimension", [OngoingDimension.SEX, OngoingDimension.DIAGNOSIS_GROUP, OngoingDimension.LENGTH_BAND])
def test_no_hidden_cell_of_an_ongoing_report_can_be_recovered_from_its_totals_or_from_the_other_levels(seed, dimension):
    cases = facts(seed)
    reports = [
        ongoing_report(cases, ORGANISATION, DAY, dimension, Shown(level=level), EVERY_CASE, 5, None, SELECTION)
        for level in (Level.UNIT, Level.CARE_PROVIDER, Level.REGION)
    ]
    # A filtered query shows a slice of the same suppressed table: nothing new to subtract.
    one_unit = ongoing_report(cases, ORGANISATION, DAY, dimension, Shown(level=Level.UNIT, units=frozenset({"U3"})), EVERY_CASE, 5, None, SELECTION)
    shown = published(*reports)
    for key, value in published(one_unit).items():
        assert shown[key] == value
    hidden = {key for key, value in shown.items() if value is None}
    assert hidden, "the data must give the attack something to try"
    sums = relations(shown)

    assert recovered_by_substitution(shown, sums) == {}
    assert recovered_by_elimination(shown, sums) == set()


@pytest.mark.parametrize("seed", [4, 5])
def test_no_hidden_month_of_new_cases_can_be_recovered_from_the_cross_section_that_sums_them(seed):
    cases = facts(seed, count=300)
    months = months_back(month(2026, 6), 12)
    levels = (Level.UNIT, Level.CARE_PROVIDER, Level.REGION)
    series = [
        monthly_report(cases, ORGANISATION, MonthlyMeasure.NEW_CASES, months, False, Shown(level=level), EVERY_CASE, 5, {}, SELECTION)
        for level in levels
    ]
    cross = [
        monthly_report(cases, ORGANISATION, MonthlyMeasure.NEW_CASES, months, True, Shown(level=level), EVERY_CASE, 5, {}, SELECTION)
        for level in levels
    ]
    shown = published(*series, *cross)
    window_label = cross[0].periods[0].period
    sums = relations(shown)
    # The window is the sum of its months, cell by cell.
    sums += [
        ((window_label, *key[1:]), [(period.label, *key[1:]) for period in months])
        for key in shown
        if key[0] == window_label and all((period.label, *key[1:]) in shown for period in months)
    ]
    assert any(value is None for key, value in shown.items() if key[0] != window_label)

    assert recovered_by_substitution(shown, sums) == {}
    assert recovered_by_elimination(shown, sums) == set()


def test_exact_reports_hide_nothing():
    cases = facts(1)
    report = ongoing_report(cases, ORGANISATION, DAY, OngoingDimension.SEX, Shown(level=Level.UNIT), EVERY_CASE, None, None, SELECTION)
    counted = Counter((case.care_unit_hsa_id, case.sex) for case in cases if case.ongoing_on(DAY))
    for table in report.periods[0].tables:
        for sex in SEXES:
            cell = table.rows[0].cells[sex]
            assert (cell.value, cell.suppressed) == (counted[(table.hsa_id, sex)], False)


def test_the_attack_does_recover_cells_when_only_the_small_ones_are_hidden():
    """The attack is real: without complementary suppression it gives hidden counts away."""
    cases = facts(1)
    exact = [
        ongoing_report(cases, ORGANISATION, DAY, OngoingDimension.DIAGNOSIS_GROUP, Shown(level=level), EVERY_CASE, None, None, SELECTION)
        for level in (Level.UNIT, Level.CARE_PROVIDER, Level.REGION)
    ]
    truth = published(*exact)
    only_primary: Published = {key: None if value is not None and 0 < value < 5 else value for key, value in truth.items()}
    sums = relations(only_primary)

    learnt = recovered_by_substitution(only_primary, sums)
    assert learnt
    assert all(truth[key] == value for key, value in learnt.items())
    assert recovered_by_elimination(only_primary, sums) >= set(learnt)

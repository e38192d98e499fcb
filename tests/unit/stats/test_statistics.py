"""Statistics vocabulary (docs/rules.md §6): ongoing counts by sex, exact and as published (docs/statistics.md §2)."""

from datetime import UTC, date, datetime

from services.stats.queries import Selection, ongoing_report_of, published_ongoing_counts
from services.stats.reports import Level, Organisation, Shown
from services.stats.statistics import ALL, OngoingDimension, ongoing_count

DAY = date(2026, 3, 4)
# Two units of one care provider, one of another: north 12 women and 2 men, south 3 women, east 8 and 6.
ORGANISATION = Organisation({"NORTH": "P1", "SOUTH": "P1", "EAST": "P2"})
CUBE = {("NORTH", ALL, "F"): 12, ("NORTH", ALL, "M"): 2, ("SOUTH", ALL, "F"): 3, ("EAST", ALL, "F"): 8, ("EAST", ALL, "M"): 6}


def test_ongoing_count_fills_missing_sexes_with_zero_and_totals():
    # 3 women, no men, no unknown: total 3
    count = ongoing_count("SE-UNIT-A", date(2026, 3, 4), {"F": 3})
    assert count.by_sex == {"F": 3, "M": 0, "UNKNOWN": 0}
    assert count.total == 3
    assert (count.care_unit_hsa_id, count.date) == ("SE-UNIT-A", date(2026, 3, 4))


def test_ongoing_count_adds_every_sex_into_the_total():
    # 4 + 5 + 1 = 10
    count = ongoing_count("SE-UNIT-A", date(2026, 3, 4), {"F": 4, "M": 5, "UNKNOWN": 1})
    assert count.by_sex == {"F": 4, "M": 5, "UNKNOWN": 1}
    assert count.total == 10


def test_ongoing_count_of_a_unit_with_no_cases_is_all_zeros():
    count = ongoing_count("SE-UNIT-EMPTY", date(2026, 3, 4), {})
    assert count.by_sex == {"F": 0, "M": 0, "UNKNOWN": 0}
    assert count.total == 0


def test_ongoing_count_serialises_with_camel_case_names():
    dumped = ongoing_count("SE-UNIT-A", date(2026, 3, 4), {"M": 2}).model_dump(mode="json", by_alias=True)
    assert dumped == {"careUnitHsaId": "SE-UNIT-A", "date": "2026-03-04", "total": 2, "bySex": {"F": 0, "M": 2, "UNKNOWN": 0}, "suppressed": []}


def test_a_published_count_of_a_unit_with_three_women_hides_them_and_names_the_hidden_columns():
    (south,) = published_ongoing_counts(CUBE, ORGANISATION, DAY, ["SOUTH"], threshold=5)

    assert south.by_sex["F"] is None
    # Three women and nobody else: the total is the same three.
    assert south.total is None
    assert set(south.suppressed) == {"F", "TOTAL"}
    assert south.model_dump(mode="json", by_alias=True)["bySex"]["F"] is None


def test_a_published_count_hides_a_second_cell_so_that_the_total_does_not_give_the_small_one_away():
    (north,) = published_ongoing_counts(CUBE, ORGANISATION, DAY, ["NORTH"], threshold=5)

    row = {**north.by_sex, "TOTAL": north.total}
    assert row["M"] is None
    hidden = sorted(column for column, value in row.items() if value is None)
    assert len(hidden) >= 2, "a row with one hidden cell gives it away as its total less the others"
    assert sorted(north.suppressed) == hidden


def test_a_published_count_is_shown_in_full_when_the_table_has_no_small_counts():
    no_small_counts = {key: count for key, count in CUBE.items() if key[0] == "EAST"}
    (east,) = published_ongoing_counts(no_small_counts, ORGANISATION, DAY, ["EAST"], threshold=5)

    assert (east.by_sex, east.total, east.suppressed) == ({"F": 8, "M": 6, "UNKNOWN": 0}, 14, ())


def test_a_published_count_is_the_units_row_of_the_published_ongoing_report_by_sex():
    selection = Selection(
        report="ongoing", breakdown="sex", view="onDate", level="unit", first=DAY, last=DAY, exact=False, made_at=datetime(2026, 3, 4, tzinfo=UTC)
    )
    report = ongoing_report_of(CUBE, ORGANISATION, DAY, OngoingDimension.SEX, Shown(level=Level.UNIT), 5, None, selection)
    in_report = {table.hsa_id: {sex: cell.value for sex, cell in table.rows[0].cells.items()} for table in report.periods[0].tables}

    counts = published_ongoing_counts(CUBE, ORGANISATION, DAY, ["EAST", "NORTH", "SOUTH"], threshold=5)

    assert {count.care_unit_hsa_id: {**count.by_sex, "TOTAL": count.total} for count in counts} == in_report


def test_a_published_count_of_a_unit_without_cases_is_all_zeros():
    (empty,) = published_ongoing_counts(CUBE, ORGANISATION, DAY, ["SE-UNIT-EMPTY"], threshold=5)

    assert (empty.by_sex, empty.total, empty.suppressed) == ({"F": 0, "M": 0, "UNKNOWN": 0}, 0, ())

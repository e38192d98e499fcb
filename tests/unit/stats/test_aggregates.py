"""The aggregates of docs/rules.md §6 over case facts: bands, categories on a date, monthly measures, medians, shares."""

from datetime import date

import pytest

from services.stats.statistics import (
    CERTIFIED_DAYS,
    COUNTED_CELLS,
    DIAGNOSIS_GROUPS,
    END,
    START,
    CaseFact,
    FactFilter,
    MonthlyMeasure,
    OngoingDimension,
    boundaries,
    boundary_changes,
    coordinator_length_band,
    counted_cells,
    counted_changes,
    counted_span,
    gender_share,
    median_days,
    median_of,
    month,
    monthly_cube,
    monthly_length_band,
    months_back,
    ongoing_cube,
    window,
)


def fact(case_id: str, start: date, end: date, days: int, *, sex: str = "F", unit: str = "U1", group: str = "psychiatric", **extra) -> CaseFact:
    return CaseFact(case_id, sex, unit, "P1", group, start, end, days, **extra)


@pytest.mark.parametrize(
    ("days", "band"), [(1, "<90"), (89, "<90"), (90, "90-180"), (180, "90-180"), (181, "181-365"), (365, "181-365"), (366, ">365")]
)
def test_the_coordinator_length_bands_follow_rehabstod(days, band):
    assert coordinator_length_band(days) == band


@pytest.mark.parametrize(
    ("days", "band"),
    [(14, "<15"), (15, "15-30"), (30, "15-30"), (31, "31-60"), (61, "61-90"), (90, "61-90"), (91, "91-180"), (181, "181-364"), (364, "181-364"),
     (365, "365-729"), (729, "365-729"), (730, ">=730")],
)  # fmt: skip
def test_the_eight_monthly_length_bands_have_no_gaps(days, band):
    assert monthly_length_band(days) == band


def test_degree_and_age_band_are_taken_on_the_date_asked_for():
    case = fact(
        "c1",
        date(2026, 3, 1),
        date(2026, 4, 30),
        61,
        degrees=((date(2026, 3, 1), date(2026, 3, 31), 100), (date(2026, 4, 2), date(2026, 4, 30), 50)),
        age_bands=((date(2026, 3, 1), date(2026, 3, 14), "21-30"), (date(2026, 3, 15), date(2026, 4, 30), "31-40")),
    )
    assert ongoing_cube([case], date(2026, 3, 10), OngoingDimension.DEGREE) == {("U1", "100", "F"): 1}
    # A gap day between two certificates carries no degree.
    assert ongoing_cube([case], date(2026, 4, 1), OngoingDimension.DEGREE) == {("U1", "NONE", "F"): 1}
    assert ongoing_cube([case], date(2026, 3, 14), OngoingDimension.AGE_BAND) == {("U1", "21-30", "F"): 1}
    assert ongoing_cube([case], date(2026, 3, 15), OngoingDimension.AGE_BAND) == {("U1", "31-40", "F"): 1}


def test_a_case_is_ongoing_from_its_first_to_its_last_day_only():
    case = fact("c1", date(2026, 3, 1), date(2026, 3, 31), 31, sex="M")
    assert ongoing_cube([case], date(2026, 2, 28), OngoingDimension.SEX) == {}
    assert ongoing_cube([case], date(2026, 3, 1), OngoingDimension.SEX) == {("U1", "ALL", "M"): 1}
    assert ongoing_cube([case], date(2026, 3, 31), OngoingDimension.LENGTH_BAND) == {("U1", "<90", "M"): 1}
    assert ongoing_cube([case], date(2026, 4, 1), OngoingDimension.SEX) == {}


def test_monthly_measures_count_ongoing_new_and_long_cases():
    march = month(2026, 3)
    cases = [
        fact("old", date(2025, 12, 1), date(2026, 3, 1), 91),  # ongoing in March for one day, long
        fact("new", date(2026, 3, 20), date(2026, 5, 1), 43, group="musculoskeletal"),  # new in March
        fact("later", date(2026, 4, 1), date(2026, 4, 30), 30),  # not in March
    ]
    assert monthly_cube(cases, MonthlyMeasure.ONGOING_BY_DIAGNOSIS_GROUP, march) == {("U1", "psychiatric", "F"): 1, ("U1", "musculoskeletal", "F"): 1}
    assert monthly_cube(cases, MonthlyMeasure.ONGOING_BY_LENGTH_BAND, march) == {("U1", "91-180", "F"): 1, ("U1", "31-60", "F"): 1}
    assert monthly_cube(cases, MonthlyMeasure.NEW_CASES, march) == {("U1", "ALL", "F"): 1}
    assert monthly_cube(cases, MonthlyMeasure.LONG_CASES, march) == {("U1", "ALL", "F"): 1}


def test_the_median_of_cases_ended_in_the_month_is_the_mean_of_the_two_middle_values_for_an_even_count():
    march = month(2026, 3)
    cases = [fact(f"c{days}", date(2026, 1, 1), date(2026, 3, days % 28 + 1), days) for days in (10, 20, 40, 100)]
    assert median_days(cases, march) == {("U1", "F"): [10, 20, 40, 100]}
    assert median_of([10, 20, 40, 100]) == 30.0
    assert median_of([10, 20, 40]) == 20.0
    assert median_of([]) is None


def test_a_case_filter_keeps_only_the_chosen_groups():
    cases = [fact("a", date(2026, 3, 1), date(2026, 3, 31), 31), fact("b", date(2026, 3, 1), date(2026, 3, 31), 31, group="somatic")]
    only_somatic = FactFilter(diagnosis_groups=frozenset({"somatic"}))
    assert ongoing_cube(cases, date(2026, 3, 5), OngoingDimension.LENGTH_BAND, only_somatic) == {("U1", "<90", "F"): 1}


def test_the_gender_share_leaves_unknown_sex_outside_the_base():
    assert gender_share(3, 1, "F") == 0.75
    assert gender_share(3, 1, "M") == 0.25
    assert gender_share(3, 1, "UNKNOWN") is None
    assert gender_share(0, 0, "F") is None
    # A share next to a hidden count would give the hidden count away.
    assert gender_share(None, 1, "M") is None


def test_months_back_crosses_the_new_year_oldest_first():
    months = months_back(month(2026, 2), 4)
    assert [period.label for period in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert window(months).label == "2025-11..2026-02"


def test_a_case_leaves_a_start_and_an_end_in_every_breakdown():
    case = fact("c1", date(2026, 3, 1), date(2026, 3, 31), 31, degrees=((date(2026, 3, 1), date(2026, 3, 31), 100),))
    kept = boundaries(case)
    assert kept[("sex", "ALL", "U1", "F", START, date(2026, 3, 1))] == 1
    assert kept[("sex", "ALL", "U1", "F", END, date(2026, 3, 31))] == 1
    assert kept[("degree", "100", "U1", "F", START, date(2026, 3, 1))] == 1
    assert kept[("certifiedDays", "31", "U1", "F", END, date(2026, 3, 31))] == 1
    # Not longer than 90 days: nothing among the long cases.
    assert not any(key[0] == "longCases" for key in kept)


def test_the_gap_days_between_degree_spans_count_under_no_degree():
    case = fact(
        "c1",
        date(2026, 3, 1),
        date(2026, 3, 31),
        29,
        degrees=((date(2026, 3, 1), date(2026, 3, 10), 100), (date(2026, 3, 13), date(2026, 3, 31), 50)),
    )
    degree_spans = sorted((key[5], key[4], key[1]) for key in boundaries(case) if key[0] == "degree")
    assert degree_spans == [
        (date(2026, 3, 1), START, "100"),
        (date(2026, 3, 10), END, "100"),
        (date(2026, 3, 11), START, "NONE"),
        (date(2026, 3, 12), END, "NONE"),
        (date(2026, 3, 13), START, "50"),
        (date(2026, 3, 31), END, "50"),
    ]


def test_a_changed_case_changes_the_kept_aggregates_by_its_new_boundaries_less_its_old():
    before = fact("c1", date(2026, 3, 1), date(2026, 3, 31), 31)
    after = fact("c1", date(2026, 3, 1), date(2026, 4, 30), 61)
    change = boundary_changes([before], [after])
    assert change[("sex", "ALL", "U1", "F", END, date(2026, 3, 31))] == -1
    assert change[("sex", "ALL", "U1", "F", END, date(2026, 4, 30))] == 1
    assert ("sex", "ALL", "U1", "F", START, date(2026, 3, 1)) not in change
    assert boundary_changes([before], [before]) == {}


def test_an_extended_case_moves_two_vectors_of_counts_and_its_certified_days_stay_cells_of_their_own():
    before = fact("c1", date(2026, 3, 1), date(2026, 3, 31), 31)
    after = fact("c1", date(2026, 3, 1), date(2026, 4, 30), 61)
    vectors, cells = counted_changes(boundary_changes([before], [after]))
    old_end, new_end = ("U1", "F", END, date(2026, 3, 31)), ("U1", "F", END, date(2026, 4, 30))
    # The length bands change too (31 to 61 days), so their start moves from one category to the other.
    assert set(vectors) == {old_end, new_end, ("U1", "F", START, date(2026, 3, 1))}
    assert counted_cells(new_end, vectors[new_end]) == {
        key: count for key, count in boundaries(after).items() if key[4] == END and key[0] != CERTIFIED_DAYS
    }
    assert set(cells) == {
        (CERTIFIED_DAYS, "31", "U1", "F", END, date(2026, 3, 31)),
        (CERTIFIED_DAYS, "61", "U1", "F", END, date(2026, 4, 30)),
    }


def test_a_category_outside_the_vocabulary_is_kept_as_a_cell_and_a_vector_of_zeros_is_left_out():
    unknown = ("degree", "40", "U1", "F", START, date(2026, 3, 1))
    known = ("degree", "50", "U1", "F", START, date(2026, 3, 1))
    vectors, cells = counted_changes({unknown: 1, known: 0})
    assert vectors == {}
    assert cells == {unknown: 1}


def test_every_breakdown_of_the_vector_names_its_categories_in_order_and_where_they_start():
    spans = {breakdown: counted_span(breakdown) for breakdown, _ in COUNTED_CELLS}
    assert spans["sex"] == (0, ("ALL",))
    assert spans["diagnosisGroup"] == (5, DIAGNOSIS_GROUPS)
    assert sum(len(categories) for _, categories in filter(None, spans.values())) == len(COUNTED_CELLS)
    assert counted_span(CERTIFIED_DAYS) is None

"""Statistics vocabulary (docs/rules.md §6): ongoing counts by sex."""

from datetime import date

from services.stats.statistics import ongoing_count


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
    assert dumped == {"careUnitHsaId": "SE-UNIT-A", "date": "2026-03-04", "total": 2, "bySex": {"F": 0, "M": 2, "UNKNOWN": 0}}

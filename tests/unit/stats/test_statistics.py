"""Statistics vocabulary (docs/rules.md §6): diagnosis groups and ongoing counts by sex."""

from datetime import date

import pytest

from services.stats.statistics import diagnosis_chapter, diagnosis_group, ongoing_count


@pytest.mark.parametrize(
    ("code", "group"),
    [
        # F00-F99 psychiatric
        ("F00", "psychiatric"),
        ("F32", "psychiatric"),
        ("F438A", "psychiatric"),
        ("F99", "psychiatric"),
        # M00-M99 musculoskeletal
        ("M00", "musculoskeletal"),
        ("M545", "musculoskeletal"),
        ("M99", "musculoskeletal"),
        # A00-E90, G00-L99, N00-N99 somatic
        ("A00", "somatic"),
        ("B99", "somatic"),
        ("C50", "somatic"),
        ("D99", "somatic"),
        ("E00", "somatic"),
        ("E90", "somatic"),
        ("G00", "somatic"),
        ("H10", "somatic"),
        ("I21", "somatic"),
        ("J06", "somatic"),
        ("K35", "somatic"),
        ("L99", "somatic"),
        ("N00", "somatic"),
        ("N99", "somatic"),
        # E91-E99 unknown: past the end of the somatic A00-E90 range
        ("E91", "unknown"),
        ("E99", "unknown"),
        # O00-O99 pregnancy, R00-R99 symptoms, Z00-Z99 factors
        ("O00", "pregnancy"),
        ("O99", "pregnancy"),
        ("R00", "symptoms"),
        ("R53", "symptoms"),
        ("R99", "symptoms"),
        ("Z00", "factors"),
        ("Z733", "factors"),
        ("Z99", "factors"),
        # P, Q, S, T, U, V, W, X, Y other
        ("P00", "other"),
        ("Q99", "other"),
        ("S82", "other"),
        ("T14", "other"),
        ("U07", "other"),
        ("V01", "other"),
        ("W19", "other"),
        ("X59", "other"),
        ("Y99", "other"),
    ],
)
def test_diagnosis_group_follows_the_ranges_of_rules_section_6(code, group):
    assert diagnosis_group(code) == group


@pytest.mark.parametrize(("code", "group"), [("f32", "psychiatric"), ("e91", "unknown"), ("z73", "factors")])
def test_diagnosis_group_ignores_letter_case(code, group):
    assert diagnosis_group(code) == group


def test_diagnosis_group_is_judged_on_the_letter_and_two_digits_only():
    # E90 is somatic whatever follows; E91 is unknown whatever follows
    assert diagnosis_group("E909") == "somatic"
    assert diagnosis_group("E910") == "unknown"
    assert diagnosis_group("L99X") == "somatic"


def test_diagnosis_chapter_is_the_letter_and_two_digits():
    assert diagnosis_chapter("F438A") == "F43"
    assert diagnosis_chapter("m545") == "M54"


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

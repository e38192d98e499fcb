"""The category of a diagnosis code and the statistics group of a main diagnosis (docs/rules.md §6.1, §6.3)."""

import pytest

from shared.sickleave.diagnosis import diagnosis_category, diagnosis_group


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


def test_the_category_of_a_code_is_its_letter_and_two_digits_in_upper_case():
    assert diagnosis_category("F438A") == "F43"
    assert diagnosis_category("m545") == "M54"

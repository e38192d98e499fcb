"""What a page may show of who a patient is: personnummer, age and sex; a protected patient only as a count."""

from __future__ import annotations

from datetime import date

import pytest

from services.notifications.identity import identify, is_valid_person_id, listing, protected_count_text
from shared.personnummer import Sex

WOMAN = "198001249286"
MAN = "191212121212"


def test_an_identity_gives_the_written_number_the_age_on_the_day_and_the_sex():
    woman = identify("p1", WOMAN, date(2026, 1, 23))
    assert (woman.personnummer, woman.birth_date, woman.age, woman.sex) == ("19800124-9286", date(1980, 1, 24), 45, Sex.FEMALE)
    assert identify("p1", WOMAN, date(2026, 1, 24)).age == 46
    assert identify("p2", MAN, date(2026, 1, 1)).sex is Sex.MALE


def test_only_a_normalised_valid_number_is_kept():
    assert is_valid_person_id(WOMAN)
    assert not is_valid_person_id("198001249287")  # wrong check digit
    assert not is_valid_person_id("8001249286")  # not normalised


def test_a_protected_patient_is_counted_and_never_named_even_when_an_identity_is_at_hand():
    day = date(2026, 3, 1)
    shown = listing([identify("p1", WOMAN, day), identify("p2", MAN, day)], protected=["p2", "p3"], asked=["p1", "p2", "p3", "p4"])
    assert set(shown.shown) == {"p1"}
    assert shown.protected_count == 2
    assert shown.protected_text == "2 patienter med skyddad identitet"
    assert shown.unknown == {"p4"}
    assert MAN not in shown.model_dump_json() and "19121212-1212" not in shown.model_dump_json()


def test_only_the_asked_patients_are_listed():
    day = date(2026, 3, 1)
    shown = listing([identify("p1", WOMAN, day)], protected=["p9"], asked=["p2"])
    assert (shown.shown, shown.protected_count, shown.unknown) == ({}, 0, {"p2"})


@pytest.mark.parametrize(("count", "text"), [(0, None), (1, "1 patient med skyddad identitet"), (3, "3 patienter med skyddad identitet")])
def test_the_count_of_protected_patients_reads_as_swedish(count, text):
    assert protected_count_text(count) == text

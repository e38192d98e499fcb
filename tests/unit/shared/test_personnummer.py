"""Personnummer and samordningsnummer: forms, century, sex, validity (docs/rules.md §3)."""

import re
from datetime import date

import pytest

from shared.personnummer import (
    InvalidPersonnummer,
    Sex,
    age_on,
    luhn_check_digit,
    luhn_is_valid,
    parse_personnummer,
)

SIGNED_ON = date(2026, 3, 4)
FEMALE_1980 = "198001249286"  # Skatteverket test number: born 1980-01-24, digit 10 is 8 (even) -> F
MALE_1912 = "191212121212"  # Skatteverket test number: born 1912-12-12, digit 10 is 1 (odd) -> M


def with_luhn(birth_digits: str, serial: str) -> str:
    """Twelve digits: YYYYMMDD + three serial digits + the Luhn digit over YYMMDD + serial."""
    return birth_digits + serial + luhn_check_digit(birth_digits[2:] + serial)


def assert_reveals_no_number(problem: pytest.ExceptionInfo[InvalidPersonnummer]) -> None:
    # No run of four or more digits: neither the whole number nor its date or serial part.
    assert not re.search(r"\d{4}", str(problem.value))


# --- Luhn -------------------------------------------------------------------------------------


def test_the_skatteverket_test_numbers_pass_the_luhn_check():
    assert luhn_is_valid(FEMALE_1980[2:])
    assert luhn_is_valid(MALE_1912[2:])


def test_luhn_check_digit_completes_the_skatteverket_test_number():
    # 800124928 -> weights 2,1,2,...: 16->7,0,0,1,4,4,18->9,2,16->7 = 34, so the digit is 6
    assert luhn_check_digit("800124928") == "6"


# --- Accepted forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    ["198001249286", "19800124-9286", "800124-9286", "8001249286"],
)
def test_every_accepted_form_of_a_recent_birth_normalises_to_the_same_twelve_digits(written):
    identity = parse_personnummer(written, on=SIGNED_ON)
    assert identity.normalised == FEMALE_1980
    assert identity.birth_date == date(1980, 1, 24)
    assert identity.is_samordningsnummer is False


@pytest.mark.parametrize("written", ["191212121212", "19121212-1212", "121212+1212"])
def test_every_accepted_form_of_a_centenarian_normalises_to_the_same_twelve_digits(written):
    # 1912-12-12 is 113 on 2026-03-04, so the ten-digit form needs the '+'
    identity = parse_personnummer(written, on=SIGNED_ON)
    assert identity.normalised == MALE_1912
    assert identity.birth_date == date(1912, 12, 12)


@pytest.mark.parametrize(
    "written",
    [
        "",
        "abc",
        "1980012492",  # eight digits and a serial of two
        "19800124-92866",  # serial of five
        "1980-01-24-9286",
        "800124 9286",
        "800124--9286",
        "19800124+9286",  # '+' belongs to the ten-digit form only
        "800124*9286",
    ],
)
def test_a_text_in_none_of_the_accepted_forms_is_rejected_without_echoing_it(written):
    with pytest.raises(InvalidPersonnummer) as problem:
        parse_personnummer(written, on=SIGNED_ON)
    assert_reveals_no_number(problem)


def test_a_value_that_is_not_text_is_rejected():
    with pytest.raises(InvalidPersonnummer):
        parse_personnummer(198001249286, on=SIGNED_ON)  # type: ignore[arg-type]  # why: the wrong type is what the test sends


@pytest.mark.parametrize(
    "written",
    [
        "19800124\u0669\u0662\u0668\u0666",  # Arabic-Indic digits 9286
        "\uff11\uff19\uff18\uff10\uff10\uff11\uff12\uff14\uff19\uff12\uff18\uff16",  # full-width 198001249286
    ],
)
def test_non_ascii_digits_are_rejected_or_normalised_to_ascii(written):
    try:
        identity = parse_personnummer(written, on=SIGNED_ON)
    except InvalidPersonnummer:
        return
    assert identity.normalised == FEMALE_1980


# --- Century of the ten-digit forms -----------------------------------------------------------


def test_ten_digit_form_gets_the_century_that_makes_the_person_under_100():
    # 800124 on 2026-03-04: 1980 gives 46 years, 2080 is in the future, 1880 would be 146
    assert parse_personnummer("800124-9286", on=SIGNED_ON).birth_date == date(1980, 1, 24)


def test_ten_digit_form_of_a_child_gets_this_century():
    # 121212 on 2026-03-04: 2012 gives 13 years
    number = with_luhn("20121212", "123")
    assert parse_personnummer(number[2:8] + "-" + number[8:], on=SIGNED_ON).normalised == number


def test_plus_separator_means_100_or_older_on_the_signing_date():
    # 800124+ on 2026-03-04: the only age of 100 or more that is closest is 1880 (146 years)
    identity = parse_personnummer("800124+9286", on=SIGNED_ON)
    assert identity.birth_date == date(1880, 1, 24)
    assert identity.normalised == "188001249286"


def test_two_digit_year_just_above_the_signing_year_belongs_to_the_previous_century():
    # YY 27 on 2026: 2027 is in the future, so 1927 (98 or 99 years)
    number = with_luhn("19270101", "234")
    assert parse_personnummer(number[2:8] + "-" + number[8:], on=SIGNED_ON).birth_date == date(1927, 1, 1)


def test_a_birthday_later_in_the_year_than_the_signing_date_pushes_the_birth_a_century_back():
    # 260305 on 2026-03-04: 2026-03-05 is tomorrow, so 1926-03-05 (99 years, still under 100)
    number = with_luhn("19260305", "345")
    identity = parse_personnummer(number[2:8] + "-" + number[8:], on=SIGNED_ON)
    assert identity.birth_date == date(1926, 3, 5)
    assert identity.age_on(SIGNED_ON) == 99


def test_a_birthday_on_the_signing_date_itself_is_this_years_newborn():
    # 260304 on 2026-03-04: born today, 0 years
    number = with_luhn("20260304", "456")
    identity = parse_personnummer(number[2:], on=SIGNED_ON)
    assert identity.birth_date == date(2026, 3, 4)
    assert identity.age_on(SIGNED_ON) == 0


def test_plus_with_a_birthday_later_in_the_year_goes_back_two_centuries():
    # 260305+ on 2026-03-04: 1926-03-05 is 99 (not 100 or older), so 1826-03-05
    number = with_luhn("18260305", "345")
    assert parse_personnummer(number[2:8] + "+" + number[8:], on=SIGNED_ON).birth_date == date(1826, 3, 5)


def test_plus_on_the_hundredth_birthday_gives_the_person_who_just_turned_100():
    # 260304+ on 2026-03-04: 1926-03-04 turns 100 that day
    number = with_luhn("19260304", "567")
    identity = parse_personnummer(number[2:8] + "+" + number[8:], on=SIGNED_ON)
    assert identity.birth_date == date(1926, 3, 4)
    assert identity.age_on(SIGNED_ON) == 100


def test_twelve_digit_form_keeps_its_written_century():
    assert parse_personnummer(MALE_1912, on=SIGNED_ON).birth_date.year == 1912


# --- Sex -------------------------------------------------------------------------------------


def test_even_digit_at_index_10_is_female():
    assert parse_personnummer(FEMALE_1980, on=SIGNED_ON).sex is Sex.FEMALE


def test_odd_digit_at_index_10_is_male():
    assert parse_personnummer(MALE_1912, on=SIGNED_ON).sex is Sex.MALE


@pytest.mark.parametrize("digit", "0123456789")
def test_sex_follows_the_parity_of_the_third_serial_digit(digit):
    number = with_luhn("19900101", "00" + digit)  # index 10 of the twelve digits is the 3rd serial digit
    expected = Sex.MALE if int(digit) % 2 else Sex.FEMALE
    assert parse_personnummer(number, on=SIGNED_ON).sex is expected


# --- Samordningsnummer -----------------------------------------------------------------------


def test_samordningsnummer_birth_day_is_the_written_day_minus_60():
    # day 84 -> born on the 24th
    number = with_luhn("19800184", "928")
    identity = parse_personnummer(number, on=SIGNED_ON)
    assert identity.is_samordningsnummer is True
    assert identity.birth_date == date(1980, 1, 24)
    assert identity.normalised == number  # the day stays 84 in the normalised form


def test_samordningsnummer_sex_comes_from_index_10_like_a_personnummer():
    female = with_luhn("19800184", "928")  # index 10 = 8
    male = with_luhn("19800184", "937")  # index 10 = 7
    assert parse_personnummer(female, on=SIGNED_ON).sex is Sex.FEMALE
    assert parse_personnummer(male, on=SIGNED_ON).sex is Sex.MALE


def test_ten_digit_samordningsnummer_gets_its_century_from_the_real_birth_day():
    # 260365 on 2026-03-04: real birthday 2026-03-05 is tomorrow -> 1926
    number = with_luhn("19260365", "111")
    identity = parse_personnummer(number[2:8] + "-" + number[8:], on=SIGNED_ON)
    assert identity.birth_date == date(1926, 3, 5)
    assert identity.normalised == number


def test_samordningsnummer_on_the_last_day_of_a_month_is_valid():
    # day 91 -> the 31st
    number = with_luhn("19800191", "222")
    assert parse_personnummer(number, on=SIGNED_ON).birth_date == date(1980, 1, 31)


# --- Rejections ------------------------------------------------------------------------------


def test_a_wrong_luhn_digit_is_rejected():
    with pytest.raises(InvalidPersonnummer, match="Luhn") as problem:
        parse_personnummer("198001249285", on=SIGNED_ON)
    assert_reveals_no_number(problem)


@pytest.mark.parametrize(
    "birth_digits",
    [
        "19800230",  # February 30
        "19810229",  # February 29 of a non-leap year
        "19801301",  # month 13
        "19800100",  # day 0
        "19800132",  # day 32
        "19800192",  # samordningsnummer day 92 -> the 32nd
        "19800160",  # day 60 is neither a personnummer day nor a samordningsnummer day
        "19800260",  # samordningsnummer for 0 February
    ],
)
def test_a_birth_date_that_does_not_exist_is_rejected(birth_digits):
    number = with_luhn(birth_digits, "123")  # the Luhn digit is right, so only the date is wrong
    with pytest.raises(InvalidPersonnummer, match="does not exist") as problem:
        parse_personnummer(number, on=SIGNED_ON)
    assert_reveals_no_number(problem)


def test_a_nonexistent_date_in_the_ten_digit_form_is_rejected():
    number = with_luhn("19800230", "123")
    with pytest.raises(InvalidPersonnummer, match="does not exist"):
        parse_personnummer(number[2:8] + "-" + number[8:], on=SIGNED_ON)


def test_february_29_of_a_leap_year_is_valid():
    assert parse_personnummer(with_luhn("20000229", "123"), on=SIGNED_ON).birth_date == date(2000, 2, 29)


def test_a_birth_date_after_the_signing_date_is_rejected():
    number = with_luhn("20260305", "123")  # born the day after signing
    with pytest.raises(InvalidPersonnummer, match="after the signing date") as problem:
        parse_personnummer(number, on=SIGNED_ON)
    assert_reveals_no_number(problem)


def test_a_samordningsnummer_born_after_the_signing_date_is_rejected():
    number = with_luhn("20260365", "123")  # day 65 -> 2026-03-05, the day after signing
    with pytest.raises(InvalidPersonnummer, match="after the signing date"):
        parse_personnummer(number, on=SIGNED_ON)


# --- Age -------------------------------------------------------------------------------------


def test_age_grows_on_the_birthday_not_the_day_before():
    born = date(1980, 1, 24)
    assert age_on(born, date(2026, 1, 23)) == 45
    assert age_on(born, date(2026, 1, 24)) == 46


def test_a_leap_day_baby_turns_a_year_older_on_march_1_in_ordinary_years():
    born = date(2000, 2, 29)
    assert age_on(born, date(2026, 2, 28)) == 25
    assert age_on(born, date(2026, 3, 1)) == 26

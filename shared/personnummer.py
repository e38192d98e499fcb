"""Swedish personal identity numbers (personnummer) and coordination numbers (samordningsnummer).

Pure functions: parse the accepted written forms, normalise to twelve digits, check the Luhn digit
and the birth date, and derive sex and age (docs/rules.md §3).
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

_FORMS = re.compile(
    r"^(?:(?P<century>\d{2})(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2})-?(?P<serial12>\d{4})"
    r"|(?P<yy10>\d{2})(?P<mm10>\d{2})(?P<dd10>\d{2})(?P<sep>[-+]?)(?P<serial10>\d{4}))$",
    re.ASCII,  # only the digits 0-9: another script's digits would give another pseudonym
)

SAMORDNINGSNUMMER_DAY_OFFSET = 60


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "UNKNOWN"


class InvalidPersonnummer(ValueError):
    """The text is not a valid personnummer or samordningsnummer; the message says why."""


class PersonIdentity(BaseModel):
    """A validated personnummer or samordningsnummer in its normalised twelve-digit form."""

    model_config = ConfigDict(frozen=True)

    normalised: str
    birth_date: date
    is_samordningsnummer: bool

    @property
    def sex(self) -> Sex:
        return Sex.MALE if int(self.normalised[10]) % 2 else Sex.FEMALE

    def age_on(self, day: date) -> int:
        return age_on(self.birth_date, day)


def luhn_is_valid(ten_digits: str) -> bool:
    total = 0
    for index, char in enumerate(ten_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return total % 10 == 0


def luhn_check_digit(nine_digits: str) -> str:
    for digit in "0123456789":
        if luhn_is_valid(nine_digits + digit):
            return digit
    raise AssertionError("unreachable: one Luhn digit always fits")


def age_on(birth_date: date, day: date) -> int:
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


def parse_personnummer(text: str, *, on: date) -> PersonIdentity:
    """Validate `text` as of the date `on` (the signing date) and normalise it.

    Ten-digit forms get the century that makes the person younger than 100 on `on`, or 100 or
    older with the `+` separator. The error message never repeats the number itself.
    """
    match = _FORMS.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidPersonnummer("not a personnummer form (YYYYMMDDNNNN, YYYYMMDD-NNNN, YYMMDD-NNNN, YYMMDD+NNNN, YYMMDDNNNN)")
    if match["serial12"] is not None:
        year = int(match["century"] + match["yy"])
        month, day_of_month = int(match["mm"]), int(match["dd"])
        serial = match["serial12"]
    else:
        yy, month, day_of_month = int(match["yy10"]), int(match["mm10"]), int(match["dd10"])
        serial = match["serial10"]
        year = on.year - ((on.year % 100 - yy) % 100)
        shown_day = day_of_month - SAMORDNINGSNUMMER_DAY_OFFSET if day_of_month > SAMORDNINGSNUMMER_DAY_OFFSET else day_of_month
        if (year, month, shown_day) > (on.year, on.month, on.day):
            year -= 100
        if match["sep"] == "+":
            year -= 100

    ten_digits = f"{year % 100:02d}{month:02d}{day_of_month:02d}{serial}"
    if not luhn_is_valid(ten_digits):
        raise InvalidPersonnummer("the Luhn check digit does not match")

    is_samordningsnummer = day_of_month > SAMORDNINGSNUMMER_DAY_OFFSET
    birth_day = day_of_month - SAMORDNINGSNUMMER_DAY_OFFSET if is_samordningsnummer else day_of_month
    try:
        birth_date = date(year, month, birth_day)
    except ValueError:
        raise InvalidPersonnummer("the birth date does not exist") from None
    if birth_date > on:
        raise InvalidPersonnummer("the birth date is after the signing date")

    return PersonIdentity(
        normalised=f"{year:04d}{month:02d}{day_of_month:02d}{serial}",
        birth_date=birth_date,
        is_samordningsnummer=is_samordningsnummer,
    )

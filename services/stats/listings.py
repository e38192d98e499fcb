"""Listed patients per unit and month as the region sends them (docs/statistics.md §5): parsing, pure."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

COLUMNS = ("careUnitHsaId", "month", "sex", "listed")
LISTING_SEXES = ("F", "M", "UNKNOWN", "TOTAL")
MOST_ROWS = 100_000
# An HSA id starts with its country's letters (SE…): a personnummer sent by mistake is no HSA id.
_HSA_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$", re.ASCII)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)


@dataclass(frozen=True)
class ListedPatients:
    care_unit_hsa_id: str
    month: date
    sex: str
    listed: int


class BadListing(ValueError):
    """A listing that cannot be loaded; the message names the line and the column, never a value."""


def parse_listings(text: str) -> list[ListedPatients]:
    """CSV with the header `careUnitHsaId,month,sex,listed`; month as YYYY-MM; sex F, M, UNKNOWN or TOTAL (not split)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(column.strip() for column in header) != COLUMNS:
        raise BadListing(f"line 1: the header must be {','.join(COLUMNS)}")
    listings: dict[tuple[str, date, str], ListedPatients] = {}
    for number, line in enumerate(reader, start=2):
        if not line:
            continue
        if number > MOST_ROWS:
            raise BadListing(f"more than {MOST_ROWS} lines")
        if len(line) != len(COLUMNS):
            raise BadListing(f"line {number}: expected {len(COLUMNS)} columns")
        unit, month_text, sex, listed_text = (value.strip() for value in line)
        if not _HSA_ID.match(unit):
            raise BadListing(f"line {number}: careUnitHsaId is not an HSA id")
        matched = _MONTH.match(month_text)
        if not matched or not 1 <= int(matched[2]) <= 12 or not 1900 <= int(matched[1]) <= 2199:
            raise BadListing(f"line {number}: month must be YYYY-MM")
        if sex not in LISTING_SEXES:
            raise BadListing(f"line {number}: sex must be one of {', '.join(LISTING_SEXES)}")
        if not listed_text.isascii() or not listed_text.isdigit() or len(listed_text) > 9:
            raise BadListing(f"line {number}: listed must be a whole number from 0")
        month = date(int(matched[1]), int(matched[2]), 1)
        listings[(unit, month, sex)] = ListedPatients(unit, month, sex, int(listed_text))
    return list(listings.values())

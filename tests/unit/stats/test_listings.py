"""Listed patients as the region sends them (docs/statistics.md §5): parsed, or refused naming the line and never the value."""

from datetime import date

import pytest

from services.stats.listings import BadListing, ListedPatients, parse_listings

HEADER = "careUnitHsaId,month,sex,listed\n"


def test_a_listing_split_by_sex_and_one_not_split_are_both_read():
    listings = parse_listings(HEADER + "SE2321000000-1001,2026-03,F,2000\nSE2321000000-1001,2026-03,M,1000\nSE2321000000-1002,2026-03,TOTAL,700\n")
    assert listings == [
        ListedPatients("SE2321000000-1001", date(2026, 3, 1), "F", 2000),
        ListedPatients("SE2321000000-1001", date(2026, 3, 1), "M", 1000),
        ListedPatients("SE2321000000-1002", date(2026, 3, 1), "TOTAL", 700),
    ]


def test_a_later_line_for_the_same_unit_month_and_sex_replaces_the_earlier():
    assert parse_listings(HEADER + "U1,2026-03,F,10\nU1,2026-03,F,12\n") == [ListedPatients("U1", date(2026, 3, 1), "F", 12)]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("unit,month,sex,listed\n", "line 1: the header must be careUnitHsaId,month,sex,listed"),
        (HEADER + "U1,2026-03,F\n", "line 2: expected 4 columns"),
        (HEADER + "19800124-9286,2026-03,F,1\n", "line 2: careUnitHsaId is not an HSA id"),
        (HEADER + "U1,2026-13,F,1\n", "line 2: month must be YYYY-MM"),
        (HEADER + "U1,2026-03,K,1\n", "line 2: sex must be one of F, M, UNKNOWN, TOTAL"),
        (HEADER + "U1,2026-03,F,-4\n", "line 2: listed must be a whole number from 0"),
        (HEADER + "U1,2026-03,F,١٢\n", "line 2: listed must be a whole number from 0"),
    ],
    ids=["header", "columns", "personnummer as unit", "month", "sex", "negative", "non-ASCII digits"],
)
def test_a_bad_line_is_refused_by_its_number_and_column(text, problem):
    with pytest.raises(BadListing) as refused:
        parse_listings(text)
    assert str(refused.value) == problem
    assert "9286" not in str(refused.value)

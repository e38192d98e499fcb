"""Who coordinates which units, who stands in during an absence, and who may change that."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import ValidationError

from services.notifications.coordinators import (
    Coordinator,
    CoordinatorFileError,
    StandIn,
    change_refusal,
    may_read_coordinator,
    parse_coordinators_file,
    responsible_for_unit,
    units_covered_by,
)

UNIT_A, UNIT_B = "SE2321000000-1001", "SE2321000000-1002"
ANNA, BERIT, CARL = "SE2321000000-3001", "SE2321000000-3002", "SE2321000000-3003"
CHEF = "SE2321000000-4001"


def coordinator(hsa_id: str, *units: str, stand_ins: tuple[StandIn, ...] = ()) -> Coordinator:
    return Coordinator(hsa_id=hsa_id, care_units=frozenset(units), stand_ins=stand_ins)


def away(stand_in: str, start: date, end: date) -> StandIn:
    return StandIn(stand_in_hsa_id=stand_in, from_date=start, to_date=end)


VACATION = away(CARL, date(2026, 7, 1), date(2026, 7, 31))


def test_a_unit_has_several_coordinators_and_a_coordinator_several_units():
    coordinators = [coordinator(ANNA, UNIT_A, UNIT_B), coordinator(BERIT, UNIT_A)]
    assert [r.hsa_id for r in responsible_for_unit(coordinators, UNIT_A, date(2026, 3, 1))] == [ANNA, BERIT]
    assert [r.hsa_id for r in responsible_for_unit(coordinators, UNIT_B, date(2026, 3, 1))] == [ANNA]
    assert units_covered_by(ANNA, coordinators, date(2026, 3, 1)) == {UNIT_A: (), UNIT_B: ()}


def test_during_an_absence_the_stand_in_receives_the_units_on_behalf_of_the_absent_coordinator():
    coordinators = [coordinator(ANNA, UNIT_A, UNIT_B, stand_ins=(VACATION,)), coordinator(CARL, UNIT_B)]
    during = responsible_for_unit(coordinators, UNIT_A, date(2026, 7, 15))
    assert [(r.hsa_id, r.absent, r.on_behalf_of) for r in during] == [(ANNA, True, None), (CARL, False, ANNA)]
    assert units_covered_by(CARL, coordinators, date(2026, 7, 15)) == {UNIT_A: (ANNA,), UNIT_B: (ANNA,)}


@pytest.mark.parametrize("day", [date(2026, 6, 30), date(2026, 8, 1)])
def test_outside_the_absence_the_stand_in_receives_nothing_of_hers(day):
    coordinators = [coordinator(ANNA, UNIT_A, stand_ins=(VACATION,))]
    assert [(r.hsa_id, r.absent) for r in responsible_for_unit(coordinators, UNIT_A, day)] == [(ANNA, False)]
    assert units_covered_by(CARL, coordinators, day) == {}


def test_both_ends_of_an_absence_are_included():
    assert VACATION.covers(date(2026, 7, 1)) and VACATION.covers(date(2026, 7, 31))


def test_a_stand_in_period_must_make_sense():
    with pytest.raises(ValidationError, match="from must not be after to"):
        away(CARL, date(2026, 7, 31), date(2026, 7, 1))
    with pytest.raises(ValidationError, match="herself"):
        coordinator(CARL, UNIT_A, stand_ins=(VACATION,))
    with pytest.raises(ValidationError, match="overlap"):
        coordinator(ANNA, UNIT_A, stand_ins=(VACATION, away(BERIT, date(2026, 7, 31), date(2026, 8, 10))))


def test_only_the_verksamhetschef_of_a_unit_decides_who_coordinates_it():
    before, after = coordinator(ANNA, UNIT_A), coordinator(ANNA, UNIT_A, UNIT_B)
    assert change_refusal(CHEF, {"VERKSAMHETSCHEF"}, {UNIT_B}, before, after) is None
    assert change_refusal(CHEF, {"VERKSAMHETSCHEF"}, {UNIT_A}, before, after) is not None  # not the chef of the unit added
    assert change_refusal(ANNA, {"REHABKOORDINATOR"}, {UNIT_A, UNIT_B}, before, after) is not None
    assert change_refusal(CHEF, {"VERKSAMHETSCHEF"}, {UNIT_A}, before, None) is None
    assert change_refusal(CHEF, {"VERKSAMHETSCHEF"}, {UNIT_B}, before, None) is not None


def test_a_coordinator_sets_her_own_stand_ins_and_so_does_her_verksamhetschef_but_no_one_else():
    before, after = coordinator(ANNA, UNIT_A), coordinator(ANNA, UNIT_A, stand_ins=(VACATION,))
    assert change_refusal(ANNA, {"REHABKOORDINATOR"}, {UNIT_A}, before, after) is None
    assert change_refusal(CHEF, {"VERKSAMHETSCHEF"}, {UNIT_A}, before, after) is None
    assert change_refusal(BERIT, {"REHABKOORDINATOR"}, {UNIT_A}, before, after) is not None
    assert change_refusal(CHEF, {"VERKSAMHETSCHEF"}, {UNIT_B}, before, after) is not None


def test_a_coordinator_is_seen_by_herself_and_by_the_people_of_her_units():
    anna = coordinator(ANNA, UNIT_A)
    assert may_read_coordinator(ANNA, set(), set(), anna)
    assert may_read_coordinator(BERIT, {"REHABKOORDINATOR"}, {UNIT_A}, anna)
    assert not may_read_coordinator(BERIT, {"REHABKOORDINATOR"}, {UNIT_B}, anna)
    assert not may_read_coordinator(BERIT, {"REGIONKONTOR"}, {UNIT_A}, anna)


def test_a_json_file_lists_coordinators_with_units_and_stand_ins():
    vacation = {"standInHsaId": CARL, "from": "2026-07-01", "to": "2026-07-31"}
    listed = [{"hsaId": ANNA, "name": "Anna", "careUnits": [UNIT_A, UNIT_B], "standIns": [vacation]}]
    text = json.dumps({"coordinators": listed})
    (anna,) = parse_coordinators_file(text, csv_format=False)
    assert (anna.name, anna.care_units, anna.stand_ins) == ("Anna", {UNIT_A, UNIT_B}, (VACATION,))


def test_a_csv_file_has_a_row_per_coordinator_and_unit_and_rows_of_one_coordinator_merge():
    text = (
        "coordinatorHsaId,name,careUnitHsaId,standInHsaId,standInFrom,standInTo\n"
        f"{ANNA},Anna,{UNIT_A},,,\n"
        f"{ANNA},,{UNIT_B},{CARL},2026-07-01,2026-07-31\n"
        f"{BERIT},Berit,{UNIT_A},,,\n"
    )
    anna, berit = parse_coordinators_file(text, csv_format=True)
    assert (anna.hsa_id, anna.name, anna.care_units, anna.stand_ins) == (ANNA, "Anna", {UNIT_A, UNIT_B}, (VACATION,))
    assert berit.care_units == {UNIT_A}


@pytest.mark.parametrize(
    ("text", "csv_format", "complaint"),
    [
        ("not json", False, "not JSON"),
        ('{"people": []}', False, "expected a list"),
        ('[{"hsaId": ""}]', False, "entry 1: hsaId"),
        ('[{"hsaId": "k", "standIns": [{"standInHsaId": "s", "from": "2026-02-01", "to": "2026-01-01"}]}]', False, "entry 1"),
        ("hsa,unit\nk,u\n", True, "first line names the columns"),
        ("coordinatorHsaId,unit\nk,u\n", True, "unknown columns"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_where_and_why(text, csv_format, complaint):
    with pytest.raises(CoordinatorFileError, match=complaint):
        parse_coordinators_file(text, csv_format=csv_format)

"""REKO status: Rehabstöd's eight values, "-" until set, and only a change is a change."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.notifications.reko_status import REKO_CODES, RekoStatus, RekoStatusChange, current_status, reko_status_named, status_change

AT = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)


def change(status: RekoStatus, minutes: int = 0) -> RekoStatusChange:
    return RekoStatusChange(
        case_id="c1", care_unit_hsa_id="SE-UNIT-A", status=status, changed_by="SE-COORDINATOR", changed_at=AT + timedelta(minutes=minutes)
    )


def test_the_eight_values_carry_rehabstods_names_and_codes_in_its_order():
    assert [(status.value, REKO_CODES[status]) for status in RekoStatus] == [
        ("-", "REKO_1"),
        ("Kontaktad", "REKO_2"),
        ("Aktiv", "REKO_3"),
        ("Uppföljning", "REKO_4"),
        ("Avslutad", "REKO_5"),
        ("Avböjt", "REKO_6"),
        ("Lämnas utan åtgärd", "REKO_7"),
        ("Medicinsk rehab", "REKO_8"),
    ]


@pytest.mark.parametrize(("text", "status"), [("Kontaktad", RekoStatus.KONTAKTAD), ("REKO_7", RekoStatus.LAMNAS_UTAN_ATGARD), ("-", RekoStatus.NONE)])
def test_a_status_is_named_by_its_name_or_its_code(text, status):
    assert reko_status_named(text) is status


@pytest.mark.parametrize("text", ["kontaktad", "REKO_9", "", "Active"])
def test_anything_else_names_no_status(text):
    with pytest.raises(ValueError, match="is not a valid RekoStatus"):
        reko_status_named(text)


def test_a_case_without_a_recorded_status_is_a_dash():
    assert current_status([]) is RekoStatus.NONE


def test_the_current_status_is_the_last_change():
    assert current_status([change(RekoStatus.KONTAKTAD), change(RekoStatus.AKTIV, 5)]) is RekoStatus.AKTIV


def test_setting_a_new_status_is_a_change_by_whom_and_when():
    made = status_change([change(RekoStatus.KONTAKTAD)], RekoStatus.AKTIV, case_id="c1", care_unit_hsa_id="SE-UNIT-A", by="SE-OTHER", at=AT)

    assert made == RekoStatusChange(case_id="c1", care_unit_hsa_id="SE-UNIT-A", status=RekoStatus.AKTIV, changed_by="SE-OTHER", changed_at=AT)


def test_setting_the_status_the_case_already_has_is_no_change():
    assert status_change([change(RekoStatus.AKTIV)], RekoStatus.AKTIV, case_id="c1", care_unit_hsa_id="SE-UNIT-A", by="SE-X", at=AT) is None
    assert status_change([], RekoStatus.NONE, case_id="c1", care_unit_hsa_id="SE-UNIT-A", by="SE-X", at=AT) is None


@pytest.mark.parametrize("wanted", list(RekoStatus))
def test_any_status_may_follow_any_other_as_in_rehabstod(wanted):
    for before in RekoStatus:
        history = [change(before)] if before is not RekoStatus.NONE else []
        made = status_change(history, wanted, case_id="c1", care_unit_hsa_id="SE-UNIT-A", by="SE-X", at=AT)
        assert (made is None) == (wanted is before)


def test_a_status_change_is_frozen():
    with pytest.raises(ValidationError, match="frozen"):
        change(RekoStatus.AKTIV).status = RekoStatus.AVSLUTAD  # type: ignore[misc]  # why: the assignment is what must fail

"""The unit's ongoing cases on a date, with Rehabstöd's filters."""

from datetime import date

import pytest
from pydantic import ValidationError

from services.intake.inspection import CaseFilters, CaseRow, Selection, ongoing_cases_of_unit, visible_history
from shared.contracts.certificates import Occupation
from shared.sickleave.case_changes import case_snapshot
from shared.sickleave.certificate import Certificate
from shared.sickleave.sick_leave_case import assemble_sick_leave_cases
from tests.unit.sickleave.test_sick_leave_case import make_certificate

UNIT = "SE-UNIT-A"
ON = date(2026, 3, 15)
BORN_1980 = date(1980, 1, 24)  # 46 on 15 March 2026: the birthday in January has passed
BORN_2000 = date(2000, 3, 16)  # 25 on 15 March 2026, 26 the day after


def row(case_id: str, *certificates: Certificate, birth_date: date = BORN_1980, sex: str = "F") -> CaseRow:
    (case,) = assemble_sick_leave_cases(certificates, [])
    assert case.case_id == case_id
    return CaseRow(case=case_snapshot(case, patient_pseudonym=f"p-{case_id}", birth_date=birth_date, sex=sex), birth_date=birth_date)


def listed(rows: list[CaseRow], **filters: object) -> list[str]:
    options = {"on": ON, **filters}
    selection = options.pop("selection", Selection.ALL)
    user_hsa_id = options.pop("user_hsa_id", None)
    chosen = ongoing_cases_of_unit(rows, UNIT, CaseFilters(**options), selection=selection, user_hsa_id=user_hsa_id)  # type: ignore[arg-type]  # why: each test passes the filters it varies
    return [item.case.case_id for item in chosen]


# --- which cases are ongoing at the unit ------------------------------------------------------


def test_a_case_is_ongoing_from_its_first_to_its_last_day():
    ends_the_day_before = row("BEFORE", make_certificate("BEFORE", [("2026-03-01", "2026-03-14", 100)]))
    ends_that_day = row("LAST_DAY", make_certificate("LAST_DAY", [("2026-03-01", "2026-03-15", 100)]))
    starts_that_day = row("FIRST_DAY", make_certificate("FIRST_DAY", [("2026-03-15", "2026-03-20", 100)]))
    starts_the_day_after = row("AFTER", make_certificate("AFTER", [("2026-03-16", "2026-03-20", 100)]))

    assert listed([ends_the_day_before, ends_that_day, starts_that_day, starts_the_day_after]) == ["LAST_DAY", "FIRST_DAY"]


def test_a_gap_day_inside_the_case_is_ongoing_but_has_no_current_degree():
    # 13–17 March are five uncovered days: one case with a gap around the 15th
    gap = row(
        "GAP",
        make_certificate("GAP", [("2026-03-01", "2026-03-12", 100)]),
        make_certificate("GAP2", [("2026-03-18", "2026-03-31", 50)], signed_at="2026-03-17T09:00:00+00:00"),
    )

    (item,) = ongoing_cases_of_unit([gap], UNIT, CaseFilters(on=ON))

    assert item.current_degree is None
    assert listed([gap], degrees=frozenset({50, 100})) == []


def test_a_case_of_another_unit_is_not_listed():
    elsewhere = row("ELSEWHERE", make_certificate("ELSEWHERE", [("2026-03-01", "2026-03-31", 100)], care_unit_hsa_id="SE-UNIT-B"))

    assert listed([elsewhere]) == []


def test_cases_come_sorted_by_start():
    later = row("LATER", make_certificate("LATER", [("2026-03-10", "2026-03-31", 100)]))
    earlier = row("EARLIER", make_certificate("EARLIER", [("2026-02-01", "2026-03-31", 100)]))

    assert listed([later, earlier]) == ["EARLIER", "LATER"]


# --- filters ---------------------------------------------------------------------------------


def test_length_filter_is_inclusive_on_certified_days():
    # 1–15 March is 15 days; 1 February–31 March is 28 + 31 = 59 days
    fifteen = row("FIFTEEN", make_certificate("FIFTEEN", [("2026-03-01", "2026-03-15", 100)]))
    fifty_nine = row("FIFTY_NINE", make_certificate("FIFTY_NINE", [("2026-02-01", "2026-03-31", 100)]))
    rows = [fifteen, fifty_nine]

    assert listed(rows, min_days=15, max_days=15) == ["FIFTEEN"]
    assert listed(rows, min_days=16) == ["FIFTY_NINE"]
    assert listed(rows, max_days=58) == ["FIFTEEN"]
    assert listed(rows, min_days=15, max_days=59) == ["FIFTY_NINE", "FIFTEEN"]


def test_length_counts_certified_days_not_the_span():
    # 1–5 March and 10–31 March: 5 + 22 = 27 certified days over a 31-day span
    holed = row("HOLED", make_certificate("HOLED", [("2026-03-01", "2026-03-05", 100), ("2026-03-10", "2026-03-31", 50)]))

    assert listed([holed], min_days=27, max_days=27) == ["HOLED"]
    assert listed([holed], min_days=28) == []


def test_diagnosis_chapter_filter_matches_the_main_diagnosis_of_the_latest_certificate():
    depression = row("DEPRESSION", make_certificate("DEPRESSION", [("2026-03-01", "2026-03-31", 100)], diagnosis_codes=("F32", "M54")))
    back_pain = row("BACK", make_certificate("BACK", [("2026-03-02", "2026-03-31", 100)], diagnosis_codes=("M545",)))
    rows = [depression, back_pain]

    assert listed(rows, diagnosis_chapters=frozenset({"F00-F99"})) == ["DEPRESSION"]
    assert listed(rows, diagnosis_chapters=frozenset({"M00-M99"})) == ["BACK"]
    assert listed(rows, diagnosis_chapters=frozenset({"F00-F99", "M00-M99"})) == ["DEPRESSION", "BACK"]
    assert listed(rows, diagnosis_chapters=frozenset({"J00-J99"})) == []


def test_age_filter_uses_the_age_on_the_date_asked_for():
    forty_six = row("FORTY_SIX", make_certificate("FORTY_SIX", [("2026-03-01", "2026-03-31", 100)]), birth_date=BORN_1980)
    twenty_five = row("TWENTY_FIVE", make_certificate("TWENTY_FIVE", [("2026-03-02", "2026-03-31", 100)]), birth_date=BORN_2000)
    rows = [forty_six, twenty_five]

    assert listed(rows, max_age=25) == ["TWENTY_FIVE"]
    assert listed(rows, min_age=26) == ["FORTY_SIX"]
    # the next day the younger one turns 26
    assert listed(rows, on=date(2026, 3, 16), min_age=26) == ["FORTY_SIX", "TWENTY_FIVE"]
    assert [item.age for item in ongoing_cases_of_unit(rows, UNIT, CaseFilters(on=ON))] == [46, 25]


def test_degree_filter_uses_the_current_degree_on_the_date():
    # 100 % until 10 March, 50 % from 11 March: on the 15th the degree is 50
    stepping_down = row("STEP", make_certificate("STEP", [("2026-03-01", "2026-03-10", 100), ("2026-03-11", "2026-03-31", 50)]))

    assert listed([stepping_down], degrees=frozenset({50})) == ["STEP"]
    assert listed([stepping_down], degrees=frozenset({100})) == []
    assert listed([stepping_down], on=date(2026, 3, 5), degrees=frozenset({100})) == ["STEP"]
    assert listed([stepping_down], degrees=frozenset({25, 50})) == ["STEP"]


def test_occupation_filter_matches_any_of_the_latest_certificates_occupations():
    studying_and_working = row(
        "BOTH",
        make_certificate("BOTH", [("2026-03-01", "2026-03-31", 100)], occupations=(Occupation.NUVARANDE_ARBETE, Occupation.STUDIER)),
    )
    job_seeking = row("SEEKING", make_certificate("SEEKING", [("2026-03-02", "2026-03-31", 100)], occupations=(Occupation.ARBETSSOKANDE,)))
    rows = [studying_and_working, job_seeking]

    assert listed(rows, occupations=frozenset({"STUDIER"})) == ["BOTH"]
    assert listed(rows, occupations=frozenset({"STUDIER", "ARBETSSOKANDE"})) == ["BOTH", "SEEKING"]
    assert listed(rows, occupations=frozenset({"FORALDRALEDIG"})) == []


def test_doctor_filter_matches_the_doctor_of_the_latest_certificate():
    handed_over = row(
        "HANDED",
        make_certificate("HANDED", [("2026-03-01", "2026-03-10", 100)], doctor_hsa_id="SE-DOCTOR-1"),
        make_certificate("HANDED2", [("2026-03-11", "2026-03-31", 100)], signed_at="2026-03-10T09:00:00+00:00", doctor_hsa_id="SE-DOCTOR-2"),
    )

    assert listed([handed_over], doctor_hsa_ids=frozenset({"SE-DOCTOR-2"})) == ["HANDED"]
    assert listed([handed_over], doctor_hsa_ids=frozenset({"SE-DOCTOR-1"})) == []


def test_filters_combine_with_and():
    depression = row("DEPRESSION", make_certificate("DEPRESSION", [("2026-03-01", "2026-03-31", 50)], diagnosis_codes=("F32",)))

    assert listed([depression], diagnosis_chapters=frozenset({"F00-F99"}), degrees=frozenset({50}), min_age=46) == ["DEPRESSION"]
    assert listed([depression], diagnosis_chapters=frozenset({"F00-F99"}), degrees=frozenset({100})) == []


# --- selection -------------------------------------------------------------------------------


def test_a_doctor_sees_only_the_cases_whose_latest_certificate_they_signed():
    mine = row("MINE", make_certificate("MINE", [("2026-03-01", "2026-03-31", 100)], doctor_hsa_id="SE-DOCTOR-1"))
    theirs = row("THEIRS", make_certificate("THEIRS", [("2026-03-02", "2026-03-31", 100)], doctor_hsa_id="SE-DOCTOR-2"))

    assert listed([mine, theirs], selection=Selection.ISSUED_BY_ME, user_hsa_id="SE-DOCTOR-1") == ["MINE"]
    assert listed([mine, theirs], selection=Selection.ALL) == ["MINE", "THEIRS"]


def test_issued_by_me_needs_the_users_hsa_id():
    with pytest.raises(ValueError, match="ISSUED_BY_ME needs the user's HSA id"):
        ongoing_cases_of_unit([], UNIT, CaseFilters(on=ON), selection=Selection.ISSUED_BY_ME)


# --- the filter model ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"diagnosis_chapters": frozenset({"F00-F98"})},
        {"min_days": 30, "max_days": 29},
        {"min_age": 50, "max_age": 40},
        {"degrees": frozenset({30})},
        {"min_days": -1},
    ],
    ids=["unknown chapter", "days reversed", "ages reversed", "no such degree", "negative days"],
)
def test_filters_that_cannot_match_anything_sensible_are_refused(options: dict[str, object]):
    with pytest.raises(ValidationError):
        CaseFilters(on=ON, **options)  # type: ignore[arg-type]  # why: the bad values are what the test sends


# --- what a unit may see of one patient's history ------------------------------------------------


def history_certificate(certificate_id: str, unit: str, provider: str, *, doctor: str = "SE-DOCTOR-1", protected: bool = False) -> Certificate:
    return make_certificate(certificate_id, care_unit_hsa_id=unit, care_provider_hsa_id=provider, doctor_hsa_id=doctor).model_copy(
        update={"protected_identity": protected}
    )


def test_a_unit_sees_its_own_care_providers_certificates_and_counts_the_others():
    certificates = [
        history_certificate("a1", "UNIT-A", "PROVIDER-1"),
        history_certificate("b1", "UNIT-B", "PROVIDER-1", doctor="SE-DOCTOR-2"),
        history_certificate("x1", "UNIT-X", "PROVIDER-2"),
        history_certificate("x2", "UNIT-X", "PROVIDER-2"),
    ]

    visible = visible_history(certificates, "UNIT-A")

    assert visible is not None
    assert [c.certificate_id for c in visible.certificates] == ["a1", "b1"]
    assert (visible.withheld_from_other_care_providers, visible.care_provider_hsa_ids) == (2, frozenset({"PROVIDER-1"}))
    assert (visible.care_unit_hsa_ids, visible.doctor_hsa_ids) == (frozenset({"UNIT-A", "UNIT-B"}), frozenset({"SE-DOCTOR-1", "SE-DOCTOR-2"}))


def test_a_patient_with_nothing_at_the_unit_is_not_visible_there():
    assert visible_history([history_certificate("x1", "UNIT-X", "PROVIDER-2")], "UNIT-A") is None


def test_a_protected_patient_shows_only_the_units_own_certificates_and_counts_only_other_care_providers():
    certificates = [
        history_certificate("a1", "UNIT-A", "PROVIDER-1", protected=True),
        history_certificate("b1", "UNIT-B", "PROVIDER-1", protected=True),
        history_certificate("x1", "UNIT-X", "PROVIDER-2", protected=True),
    ]

    visible = visible_history(certificates, "UNIT-A")

    assert visible is not None
    assert ([c.certificate_id for c in visible.certificates], visible.withheld_from_other_care_providers) == (["a1"], 1)

"""The bedömningsteam's list: new psychiatric and long-pain cases since the last meeting, flagged cases, checkpoints within 14 days."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.notifications.team_meeting import default_last_meeting, meeting_items
from services.notifications.worklist import OpenAlert, WorklistCase

TODAY = date(2026, 3, 15)
LAST_MEETING = date(2026, 3, 1)


def case(case_id: str, diagnosis: str, start: date) -> WorklistCase:
    return WorklistCase(
        case_id=case_id,
        patient_pseudonym=f"p-{case_id}",
        care_unit_hsa_id="SE2321000000-1001",
        start=start,
        end=date(2026, 5, 1),
        certified_days=30,
        main_diagnosis_code=diagnosis,
        degree_today=100,
    )


def checkpoint(case_id: str, due: date) -> OpenAlert:
    return OpenAlert(
        alert_id=f"{case_id}:CHAIN_DAY_90:{due}",
        case_id=case_id,
        care_unit_hsa_id="SE2321000000-1001",
        kind="CHAIN_DAY_90",
        title="Dag 90",
        created=datetime(2026, 3, 1, tzinfo=UTC),
        due_date=due,
    )


def test_the_last_meeting_defaults_to_two_weeks_ago() -> None:
    assert default_last_meeting(TODAY) == date(2026, 3, 1)


def test_new_psychiatric_and_long_pain_cases_since_the_last_meeting_are_on_the_list() -> None:
    cases = [case("c-psych", "F43.2", date(2026, 3, 5)), case("c-pain", "M54.5", date(2026, 3, 6)), case("c-flu", "J11", date(2026, 3, 7))]
    items = meeting_items(cases, [], [], last_meeting=LAST_MEETING, today=TODAY)
    assert [(item.case.case_id, item.reasons) for item in items] == [
        ("c-psych", ("Ny sedan förra mötet: Psykiatrisk diagnos (F43.2)",)),
        ("c-pain", ("Ny sedan förra mötet: Långvarig smärta (M54.5)",)),
    ]


def test_a_case_discussed_before_the_last_meeting_comes_back_only_for_a_flag_or_a_checkpoint() -> None:
    old = case("c-old", "F32", date(2026, 2, 1))
    assert meeting_items([old], [], [], last_meeting=LAST_MEETING, today=TODAY) == ()
    flagged = OpenAlert("risk:c-old", "c-old", "SE2321000000-1001", "RISK_FLAG", "Risk", datetime(2026, 3, 1, tzinfo=UTC), risk_level="HIGH")
    (item,) = meeting_items([old], [flagged], [], last_meeting=LAST_MEETING, today=TODAY)
    assert item.reasons == ("Riskflagga: hög",)


def test_checkpoints_within_fourteen_days_are_on_the_list_and_later_ones_are_not() -> None:
    cases = [case("c-soon", "J11", date(2026, 1, 1)), case("c-later", "J11", date(2026, 1, 1))]
    alerts = [checkpoint("c-soon", date(2026, 3, 29)), checkpoint("c-later", date(2026, 3, 30))]
    items = meeting_items(cases, alerts, [], last_meeting=LAST_MEETING, today=TODAY)
    assert [(item.case.case_id, item.reasons) for item in items] == [("c-soon", ("Rehabiliteringskedjan dag 90 2026-03-29 (om 14 dagar)",))]


def test_a_patient_with_protected_identity_is_marked_so_the_page_never_names_them() -> None:
    items = meeting_items([case("c-1", "F32", date(2026, 3, 5))], [], ["p-c-1"], last_meeting=LAST_MEETING, today=TODAY)
    assert items[0].protected_identity

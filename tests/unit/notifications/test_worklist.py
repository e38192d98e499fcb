"""The worklist's rules: who needs the coordinator, why in words, in which order, and who is never listed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from services.notifications.alert_lifecycle import AttentionStatus, AttentionView
from services.notifications.worklist import (
    HIDDEN_PERSONAL_DATA,
    Casework,
    NextStep,
    OpenAlert,
    Patient,
    Person,
    RiskReason,
    SortOrder,
    WorklistCase,
    WorklistFilter,
    build_worklist,
    days_text,
    risk_reason_text,
)

TODAY = date(2026, 3, 15)
UNIT_A = "SE2321000000-1001"
UNIT_B = "SE2321000000-1002"


def patient(
    case_id: str,
    *,
    unit: str = UNIT_A,
    alerts: tuple[OpenAlert, ...] = (),
    protected: bool = False,
    certified_days: int = 40,
    start: date = date(2026, 2, 1),
    casework: Casework | None = None,
) -> Patient:
    return Patient(
        patient_pseudonym=f"p-{case_id}",
        person=Person(personnummer=None if protected else "191212121212", age=54, sex="F", protected_identity=protected),
        case=WorklistCase(
            case_id=case_id,
            patient_pseudonym=f"p-{case_id}",
            care_unit_hsa_id=unit,
            start=start,
            end=date(2026, 4, 1),
            certified_days=certified_days,
            main_diagnosis_code="F32",
            degree_today=100,
            chain_day_today=43,
        ),
        alerts=alerts,
        casework=casework or Casework(),
    )


def milestone_alert(
    case_id: str, due: date, *, kind: str = "CHAIN_DAY_90", state: AttentionStatus = AttentionStatus.NEW, status: str = "DUE"
) -> OpenAlert:
    return OpenAlert(
        alert_id=f"{case_id}:{kind}:{due.isoformat()}",
        case_id=case_id,
        care_unit_hsa_id=UNIT_A,
        kind=kind,
        title="Dag 90",
        created=datetime(2026, 3, 10, tzinfo=UTC),
        attention=AttentionView(status=state, needs_attention=state is not AttentionStatus.HANDLED),
        due_date=due,
        milestone_status=status,
    )


def risk_alert(case_id: str, level: str) -> OpenAlert:
    return OpenAlert(
        alert_id=f"risk:{case_id}",
        case_id=case_id,
        care_unit_hsa_id=UNIT_A,
        kind="RISK_FLAG",
        title="Risk",
        created=datetime(2026, 3, 10, tzinfo=UTC),
        risk_level=level,
        risk_reasons=(RiskReason("DX_PSYCH", "F32", "F"), RiskReason("FULL_TIME_START")),
    )


def test_days_left_read_as_words() -> None:
    assert [days_text(days) for days in (0, 1, -1, 5, -3)] == ["i dag", "i morgon", "i går", "om 5 dagar", "3 dagar sedan"]


def test_a_risk_alert_gives_its_reasons_in_words_with_what_matched() -> None:
    worklist = build_worklist([patient("c-1", alerts=(risk_alert("c-1", "VERY_HIGH"),))], TODAY, None, WorklistFilter())
    (line,) = worklist.rows[0].alerts
    assert line.reason == "Risknivå mycket hög: psykiatrisk huvuddiagnos (F32); sjukskriven på heltid från början"


def test_every_risk_reason_is_worded_in_swedish_from_its_values_never_from_the_english_evidence() -> None:
    reasons = (
        RiskReason("DX_MSK_HIGH", "M511", "M51"),
        RiskReason("FMB_EXCEEDED", "200", "186"),
        RiskReason("FULL_TIME_START", "100", "100"),
        RiskReason("REPEAT_SICKLEAVE", "c-0", "365"),
        RiskReason("PROGNOSIS_POOR", "ATER_X_ANTAL_DGR 120"),
        RiskReason("PROGNOSIS_POOR", "PROGNOS_OKLAR"),
        RiskReason("UNEMPLOYED", "ARBETSSOKANDE"),
        RiskReason("MANY_RENEWALS", "4", "3"),
        RiskReason("LONG_CASE", "95", "30"),
    )
    assert risk_reason_text(reasons).split("; ") == [
        "smärta eller besvär i rörelseorganen med hög risk (M511)",
        "längre än FMB:s rekommenderade sjukskrivningstid (FMB anger högst 186 dagar för diagnosen)",
        "sjukskriven på heltid från början (100 %)",
        "upprepade sjukskrivningar (ett tidigare sjukfall slutade mindre än 365 dagar före detta)",
        "läkaren bedömer återgång i nuvarande sysselsättning först efter 120 dagar",
        "läkaren bedömer prognosen som oklar",
        "arbetssökande",
        "många förlängningar (3 intyg eller fler)",
        "lång sammanhängande sjukskrivning (dag 30 eller senare i rehabiliteringskedjan)",
    ]


def test_a_reason_without_values_or_with_an_unknown_code_is_still_shown() -> None:
    assert risk_reason_text((RiskReason("DX_PSYCH"), RiskReason("NEW_RULE", "x"))) == "psykiatrisk huvuddiagnos; NEW_RULE"


def test_the_coordinator_sees_the_personnummer_unless_she_hides_personal_data() -> None:
    patients = [patient("c-1", alerts=(risk_alert("c-1", "HIGH"),))]
    assert build_worklist(patients, TODAY, None, WorklistFilter()).rows[0].personnummer_shown == "19121212-1212"
    hidden = build_worklist(patients, TODAY, None, WorklistFilter(), hide_personal_data=True).rows[0]
    assert hidden.personnummer_shown == HIDDEN_PERSONAL_DATA
    assert hidden.age is None


def test_a_patient_with_protected_identity_is_counted_never_listed() -> None:
    patients = [patient("c-1", alerts=(risk_alert("c-1", "HIGH"),), protected=True), patient("c-2", alerts=(risk_alert("c-2", "HIGH"),))]
    worklist = build_worklist(patients, TODAY, None, WorklistFilter())
    assert [row.case_id for row in worklist.rows] == ["c-2"]
    assert worklist.protected_identity_count == 1


def test_overdue_comes_first_then_the_nearest_date_then_the_highest_risk() -> None:
    patients = [
        patient("c-far", alerts=(milestone_alert("c-far", date(2026, 4, 30)),)),
        patient("c-risk", alerts=(risk_alert("c-risk", "VERY_HIGH"),)),
        patient("c-overdue", alerts=(milestone_alert("c-overdue", date(2026, 3, 1)),)),
        patient("c-near", alerts=(milestone_alert("c-near", date(2026, 3, 20)),)),
    ]
    worklist = build_worklist(patients, TODAY, None, WorklistFilter())
    assert [row.case_id for row in worklist.rows] == ["c-overdue", "c-near", "c-far", "c-risk"]


def test_a_handled_alert_leaves_the_list_until_its_reminder_day() -> None:
    handled = replace(milestone_alert("c-1", date(2026, 4, 30)), attention=AttentionView(status=AttentionStatus.HANDLED, needs_attention=False))
    before = build_worklist([patient("c-1", alerts=(handled,))], TODAY, datetime(2026, 3, 14, tzinfo=UTC), WorklistFilter())
    assert before.rows == ()
    due = replace(handled, attention=AttentionView(status=AttentionStatus.HANDLED, needs_attention=True, reminder_due=True))
    on_the_day = build_worklist([patient("c-1", alerts=(due,))], date(2026, 3, 20), datetime(2026, 3, 14, tzinfo=UTC), WorklistFilter())
    assert on_the_day.rows[0].alerts[0].reminder_due


def test_new_since_the_last_visit_means_an_alert_created_after_it() -> None:
    patients = [patient("c-1", alerts=(milestone_alert("c-1", date(2026, 4, 30)),))]
    assert build_worklist(patients, TODAY, datetime(2026, 3, 1, tzinfo=UTC), WorklistFilter()).rows[0].new_since_last_visit
    assert not build_worklist(patients, TODAY, datetime(2026, 3, 12, tzinfo=UTC), WorklistFilter()).rows[0].new_since_last_visit
    only_new = build_worklist(patients, TODAY, datetime(2026, 3, 12, tzinfo=UTC), WorklistFilter(only_new=True))
    assert only_new.rows == ()


def test_filters_by_unit_kind_state_and_due_within_days() -> None:
    patients = [
        patient("c-a", alerts=(milestone_alert("c-a", date(2026, 3, 20)),)),
        patient("c-b", unit=UNIT_B, alerts=(milestone_alert("c-b", date(2026, 3, 20)),)),
        patient("c-plan", alerts=(milestone_alert("c-plan", date(2026, 5, 20), kind="RETURN_TO_WORK_PLAN"),)),
        patient("c-seen", alerts=(milestone_alert("c-seen", date(2026, 3, 18), state=AttentionStatus.SEEN),)),
    ]
    ids = lambda wanted: [row.case_id for row in build_worklist(patients, TODAY, None, wanted).rows]  # noqa: E731 - a one-line reader for the asserts
    assert ids(WorklistFilter(care_unit_hsa_id=UNIT_B)) == ["c-b"]
    assert ids(WorklistFilter(kind="RETURN_TO_WORK_PLAN")) == ["c-plan"]
    assert ids(WorklistFilter(state=AttentionStatus.SEEN)) == ["c-seen"]
    assert ids(WorklistFilter(due_within_days=5, sort=SortOrder.DUE_DATE)) == ["c-seen", "c-a", "c-b"]


def test_an_overdue_next_step_puts_the_patient_on_the_list_first() -> None:
    late = Casework(reko_status="Aktiv", next_step=NextStep("Ring patienten", date(2026, 3, 10), owner="Anna"))
    patients = [patient("c-1", alerts=(milestone_alert("c-1", date(2026, 3, 20)),)), patient("c-2", casework=late)]
    worklist = build_worklist(patients, TODAY, datetime(2026, 3, 14, tzinfo=UTC), WorklistFilter())
    assert [row.case_id for row in worklist.rows] == ["c-2", "c-1"]
    assert worklist.rows[0].next_step == "Ring patienten – 2026-03-10 (5 dagar sedan), Anna"
    assert worklist.rows[0].reko_status == "Aktiv"


def test_sorting_by_certified_days_puts_the_longest_first() -> None:
    patients = [
        patient("c-short", certified_days=20, alerts=(risk_alert("c-short", "HIGH"),)),
        patient("c-long", certified_days=200, alerts=(risk_alert("c-long", "HIGH"),)),
    ]
    assert [row.case_id for row in build_worklist(patients, TODAY, None, WorklistFilter(sort=SortOrder.CERTIFIED_DAYS)).rows] == ["c-long", "c-short"]


def test_the_diagnosis_is_named_with_its_group() -> None:
    row = build_worklist([patient("c-1", alerts=(risk_alert("c-1", "HIGH"),))], TODAY, None, WorklistFilter()).rows[0]
    assert (row.diagnosis_code, row.diagnosis_group_title) == ("F32", "Psykiatrisk")


def test_a_scheduled_checkpoint_joins_the_list_thirty_days_before_its_date() -> None:
    far = milestone_alert("c-far", date(2026, 6, 1), status="SCHEDULED")
    near = milestone_alert("c-near", date(2026, 4, 14), status="SCHEDULED")
    worklist = build_worklist(
        [patient("c-far", alerts=(far,)), patient("c-near", alerts=(near,))], TODAY, datetime(2026, 3, 14, tzinfo=UTC), WorklistFilter()
    )
    assert [row.case_id for row in worklist.rows] == ["c-near"]
    asked = build_worklist([patient("c-far", alerts=(far,))], TODAY, datetime(2026, 3, 14, tzinfo=UTC), WorklistFilter(due_within_days=90))
    assert [row.case_id for row in asked.rows] == ["c-far"]

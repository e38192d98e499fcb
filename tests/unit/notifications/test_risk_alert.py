"""`alert_for_risk_flag`: how a case's risk flag becomes (or withdraws) an alert to the unit's coordinators."""

from datetime import UTC, datetime, timedelta

from services.notifications.alert import alert_for_risk_flag, risk_alert_id
from shared.contracts.alerts import RISK_FLAG_ALERT_KIND, AlertState
from shared.contracts.cases import CaseStatus
from shared.contracts.risk_flags import RiskFlagChanged, RiskFlagReason, RiskLevel

FIRST_SEEN = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LATER = FIRST_SEEN + timedelta(days=10)


def risk_flag(
    level: RiskLevel, revision: int, *codes: str, care_unit_hsa_id: str = "SE-UNIT-A", case_status: CaseStatus = CaseStatus.ACTIVE
) -> RiskFlagChanged:
    weights = {"DX_PSYCH": 3, "FULL_TIME_START": 1, "PROGNOSIS_POOR": 2}
    return RiskFlagChanged(
        case_id="c1",
        patient_pseudonym="pseudonym-1",
        certificate_ids=("c1",),
        care_unit_hsa_id=care_unit_hsa_id,
        care_provider_hsa_id="SE-PROVIDER-1",
        level=level,
        score=sum(weights[code] for code in codes),
        flagged=level is not RiskLevel.NONE,
        reason_codes=codes,
        reasons=tuple(RiskFlagReason(code=code, weight=weights[code], evidence=code.lower()) for code in codes),
        case_status=case_status,
        revision=revision,
    )


def test_a_flagged_case_opens_a_risk_alert_naming_level_and_reasons():
    alert = alert_for_risk_flag(risk_flag(RiskLevel.MODERATE, 1, "DX_PSYCH", "FULL_TIME_START"), None, FIRST_SEEN)
    assert alert is not None
    assert (alert.alert_id, alert.kind, alert.state) == (risk_alert_id("c1"), RISK_FLAG_ALERT_KIND, AlertState.OPEN)
    assert (alert.risk_level, alert.reason_codes, alert.addressed_to) == ("MODERATE", ("DX_PSYCH", "FULL_TIME_START"), "rehabkoordinatorer:SE-UNIT-A")
    assert (alert.due_date, alert.milestone_status) == (None, None)
    assert "DX_PSYCH, FULL_TIME_START" in alert.title


def test_a_higher_level_updates_the_alert_and_keeps_when_it_was_created():
    first = alert_for_risk_flag(risk_flag(RiskLevel.MODERATE, 1, "DX_PSYCH", "FULL_TIME_START"), None, FIRST_SEEN)
    raised = alert_for_risk_flag(risk_flag(RiskLevel.HIGH, 2, "DX_PSYCH", "FULL_TIME_START", "PROGNOSIS_POOR"), first, LATER)
    assert raised is not None
    assert (raised.risk_level, raised.created, raised.revision, raised.state) == ("HIGH", FIRST_SEEN, 2, AlertState.OPEN)


def test_a_withdrawn_flag_withdraws_the_alert():
    first = alert_for_risk_flag(risk_flag(RiskLevel.MODERATE, 1, "DX_PSYCH", "FULL_TIME_START"), None, FIRST_SEEN)
    withdrawn = alert_for_risk_flag(risk_flag(RiskLevel.NONE, 2, case_status=CaseStatus.REMOVED), first, LATER)
    assert withdrawn is not None
    assert (withdrawn.state, withdrawn.risk_level, withdrawn.reason_codes) == (AlertState.WITHDRAWN, "NONE", ())


def test_a_withdrawal_without_an_alert_opens_nothing():
    assert alert_for_risk_flag(risk_flag(RiskLevel.NONE, 3, "PROGNOSIS_POOR"), None, FIRST_SEEN) is None


def test_an_older_or_repeated_flag_changes_nothing():
    current = alert_for_risk_flag(risk_flag(RiskLevel.HIGH, 2, "DX_PSYCH", "FULL_TIME_START", "PROGNOSIS_POOR"), None, FIRST_SEEN)
    assert alert_for_risk_flag(risk_flag(RiskLevel.MODERATE, 1, "DX_PSYCH", "FULL_TIME_START"), current, LATER) is None
    assert alert_for_risk_flag(risk_flag(RiskLevel.HIGH, 2, "DX_PSYCH", "FULL_TIME_START", "PROGNOSIS_POOR"), current, LATER) is None


def test_a_flag_moved_to_another_unit_moves_the_alert():
    first = alert_for_risk_flag(risk_flag(RiskLevel.MODERATE, 1, "DX_PSYCH", "FULL_TIME_START"), None, FIRST_SEEN)
    moved = alert_for_risk_flag(risk_flag(RiskLevel.MODERATE, 2, "DX_PSYCH", "FULL_TIME_START", care_unit_hsa_id="SE-UNIT-B"), first, LATER)
    assert moved is not None
    assert (moved.care_unit_hsa_id, moved.addressed_to) == ("SE-UNIT-B", "rehabkoordinatorer:SE-UNIT-B")


def test_a_risk_alert_is_announced_when_it_opens_and_again_only_after_a_withdrawal():
    first = alert_for_risk_flag(risk_flag(RiskLevel.MODERATE, 1, "DX_PSYCH", "FULL_TIME_START"), None, FIRST_SEEN)
    raised = alert_for_risk_flag(risk_flag(RiskLevel.HIGH, 2, "DX_PSYCH", "FULL_TIME_START", "PROGNOSIS_POOR"), first, LATER)
    withdrawn = alert_for_risk_flag(risk_flag(RiskLevel.NONE, 3), raised, LATER)
    back = alert_for_risk_flag(risk_flag(RiskLevel.MODERATE, 4, "DX_PSYCH", "FULL_TIME_START"), withdrawn, LATER)
    assert [alert.announce for alert in (first, raised, withdrawn, back) if alert is not None] == [True, False, False, True]

"""Which alert change makes which mail or webhook, and when a mail may go out (docs/alert-channels.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from services.notifications.deliveries import (
    AlertTransition,
    MailItem,
    MailMode,
    Recipient,
    SendingHours,
    SubscriptionScope,
    WebhookSubscription,
    mail_mode,
    mail_text,
    plan_deliveries,
    retry_delay_seconds,
    webhook_payload,
)
from shared.clock import STOCKHOLM
from shared.contracts.alerts import AlertChanged, AlertState

HOURS = SendingHours(morning=time(7, 0), evening=time(18, 0))
UNIT = "SE2321000000-1001"
# Monday 16 March 2026, 10:00 in Stockholm.
MONDAY_MORNING = datetime(2026, 3, 16, 10, 0, tzinfo=STOCKHOLM)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=STOCKHOLM)


def milestone_alert(status: str = "SCHEDULED", *, announce: bool = True, state: AlertState = AlertState.OPEN, unit: str = UNIT) -> AlertChanged:
    return AlertChanged(
        alert_id="c1:CHAIN_DAY_90:2026-04-18",
        care_unit_hsa_id=unit,
        addressed_to=f"rehabkoordinatorer:{unit}",
        case_id="c1",
        kind="CHAIN_DAY_90",
        milestone_status=status,
        due_date=date(2026, 4, 18),
        title="Dag 90",
        created=datetime(2026, 3, 1, tzinfo=UTC),
        state=state,
        revision=1,
        announce=announce,
    )


def risk_alert(level: str, *, announce: bool = True) -> AlertChanged:
    return AlertChanged(
        alert_id="risk:c2",
        care_unit_hsa_id=UNIT,
        addressed_to=f"rehabkoordinatorer:{UNIT}",
        case_id="c2",
        kind="RISK_FLAG",
        risk_level=level,
        reason_codes=("DX_PSYCH", "FMB_EXCEEDED"),
        title="Risk för lång sjukskrivning: psykiatrisk huvuddiagnos F32",
        created=datetime(2026, 3, 1, tzinfo=UTC),
        state=AlertState.OPEN,
        revision=1,
        announce=announce,
    )


def test_a_mail_may_go_out_on_a_working_day_between_morning_and_evening():
    assert HOURS.next_sendable(MONDAY_MORNING) == MONDAY_MORNING


def test_a_mail_in_the_evening_waits_for_the_next_working_morning():
    assert HOURS.next_sendable(at(16, 19)) == at(17, 7)
    assert HOURS.next_sendable(at(17, 5, 30)) == at(17, 7)


def test_a_mail_on_friday_evening_or_at_the_weekend_waits_for_monday_morning():
    assert HOURS.next_sendable(at(20, 18)) == at(23, 7)
    assert HOURS.next_sendable(at(21, 12)) == at(23, 7)
    assert HOURS.next_sendable(at(22, 23, 59)) == at(23, 7)


def test_the_digest_goes_out_at_the_coordinators_time_on_the_next_working_day():
    assert HOURS.next_digest(at(16, 6), time(7, 30)) == at(16, 7, 30)
    assert HOURS.next_digest(at(16, 7, 30), time(7, 30)) == at(16, 7, 30)
    assert HOURS.next_digest(at(16, 7, 31), time(7, 30)) == at(17, 7, 30)
    assert HOURS.next_digest(at(20, 9), time(7, 30)) == at(23, 7, 30)


def test_a_digest_time_in_the_quiet_hours_moves_to_the_working_morning():
    assert HOURS.next_digest(at(16, 4), time(5, 0)) == at(16, 7)
    assert HOURS.next_digest(at(16, 19), time(20, 0)) == at(17, 7)


def test_a_new_due_checkpoint_and_a_very_high_risk_are_mailed_at_once_the_rest_waits_for_the_digest():
    assert mail_mode(AlertTransition(None, milestone_alert("DUE"))) is MailMode.IMMEDIATE
    assert mail_mode(AlertTransition(None, risk_alert("VERY_HIGH"))) is MailMode.IMMEDIATE
    assert mail_mode(AlertTransition(None, milestone_alert("SCHEDULED"))) is MailMode.DIGEST
    assert mail_mode(AlertTransition(None, risk_alert("HIGH"))) is MailMode.DIGEST


def test_a_checkpoint_that_turns_due_is_mailed_at_once_and_only_once():
    scheduled = milestone_alert("SCHEDULED")
    due = milestone_alert("DUE", announce=False)
    assert mail_mode(AlertTransition(scheduled, due)) is MailMode.IMMEDIATE
    assert mail_mode(AlertTransition(due, due.model_copy(update={"revision": 2}))) is None


def test_a_risk_that_rises_to_very_high_is_mailed_at_once():
    assert mail_mode(AlertTransition(risk_alert("HIGH"), risk_alert("VERY_HIGH", announce=False))) is MailMode.IMMEDIATE
    assert mail_mode(AlertTransition(risk_alert("MODERATE"), risk_alert("HIGH", announce=False))) is None


def test_a_withdrawn_alert_is_not_mailed():
    withdrawn = milestone_alert("DUE", announce=False, state=AlertState.WITHDRAWN)
    assert mail_mode(AlertTransition(milestone_alert("DUE"), withdrawn)) is None


def test_a_coordinator_who_turned_immediate_mail_off_gets_the_urgent_alert_in_her_digest():
    recipients = {
        UNIT: [
            Recipient("SE2321000000-3001", "anna@example.org", immediate=True),
            Recipient("SE2321000000-3002", "berit@example.org", immediate=False, digest_time=time(8, 0)),
        ]
    }
    plan = plan_deliveries([AlertTransition(None, milestone_alert("DUE"))], recipients, [], MONDAY_MORNING, HOURS)
    assert [(item.coordinator_hsa_id, item.immediate, item.send_at) for item in plan.mail_items] == [
        ("SE2321000000-3001", True, MONDAY_MORNING),
        ("SE2321000000-3002", False, at(17, 8)),
    ]


def test_an_urgent_alert_in_the_night_is_mailed_on_the_working_morning():
    recipients = {UNIT: [Recipient("SE2321000000-3001", "anna@example.org")]}
    plan = plan_deliveries([AlertTransition(None, risk_alert("VERY_HIGH"))], recipients, [], at(20, 23), HOURS)
    (item,) = plan.mail_items
    assert (item.immediate, item.send_at) == (True, at(23, 7))


def test_webhooks_go_to_the_units_subscriptions_and_the_regions_for_the_kinds_they_want():
    subscriptions = [
        WebhookSubscription("s-unit", SubscriptionScope.UNIT, "https://a.example/h", care_unit_hsa_id=UNIT),
        WebhookSubscription("s-other-unit", SubscriptionScope.UNIT, "https://b.example/h", care_unit_hsa_id="SE2321000000-1002"),
        WebhookSubscription("s-region-risk", SubscriptionScope.REGION, "https://c.example/h", event_kinds=frozenset({"RISK_FLAG"})),
        WebhookSubscription("s-region", SubscriptionScope.REGION, "https://d.example/h"),
    ]
    withdrawn = milestone_alert("SCHEDULED", announce=False, state=AlertState.WITHDRAWN)
    plan = plan_deliveries([AlertTransition(milestone_alert(), withdrawn)], {}, subscriptions, MONDAY_MORNING, HOURS)
    assert [delivery.subscription_id for delivery in plan.webhooks] == ["s-unit", "s-region"]
    assert plan.mail_items == ()


def test_a_webhook_body_names_ids_kinds_dates_and_levels_but_no_title_or_reasons():
    payload = webhook_payload(risk_alert("VERY_HIGH"), MONDAY_MORNING)
    assert payload["type"] == "alert.changed"
    assert payload["data"] == {
        "alertId": "risk:c2",
        "caseId": "c2",
        "careUnitHsaId": UNIT,
        "kind": "RISK_FLAG",
        "state": "OPEN",
        "milestoneStatus": None,
        "dueDate": None,
        "riskLevel": "VERY_HIGH",
        "announce": True,
        "revision": 1,
    }
    assert "F32" not in str(payload) and "DX_PSYCH" not in str(payload)


def item(alert_id: str, kind: str, *, status: str | None = None, due: date | None = None, level: str | None = None, unit: str = UNIT) -> MailItem:
    return MailItem("SE2321000000-3001", "anna@example.org", unit, alert_id, kind, False, MONDAY_MORNING, status, due, level)


def test_a_digest_counts_per_unit_and_kind_with_due_dates_and_links_into_the_worklist():
    items = [
        item("a1", "CHAIN_DAY_90", status="SCHEDULED", due=date(2026, 4, 18)),
        item("a2", "CHAIN_DAY_90", status="SCHEDULED", due=date(2026, 4, 2)),
        item("a3", "RISK_FLAG", level="HIGH"),
        item("a4", "RETURN_TO_WORK_PLAN", status="SCHEDULED", due=date(2026, 3, 30), unit="SE2321000000-1002"),
        item("a1", "CHAIN_DAY_90", status="SCHEDULED", due=date(2026, 4, 18)),  # the same alert again: counted once
    ]
    text = mail_text(items, immediate=False, worklist_base_url="https://reko.example/", day=date(2026, 3, 16))
    assert text.subject == "reko: daglig sammanfattning 2026-03-16 – 4 ärenden"
    plain = text.plain_text()
    assert "Vårdenhet SE2321000000-1001:" in plain
    assert "Rehabiliteringskedjan dag 90 (planerad): 2 st, senast 2026-04-02, 2026-04-18" in plain
    assert "Risk för lång sjukskrivning (hög): 1 st" in plain
    assert "https://reko.example/worklist?unit=SE2321000000-1002" in plain


def test_an_immediate_mail_says_it_needs_her_now():
    text = mail_text(
        [item("a1", "CHAIN_DAY_90", status="DUE", due=date(2026, 4, 18))], immediate=True, worklist_base_url="http://x", day=date(2026, 3, 16)
    )
    assert text.subject == "reko: 1 ärende att hantera nu"
    assert "Rehabiliteringskedjan dag 90 (aktuell): 1 st, senast 2026-04-18" in text.plain_text()


def test_a_kind_with_many_due_dates_names_the_earliest_and_counts_the_rest():
    items = [item(f"a{day}", "CHAIN_DAY_180", status="SCHEDULED", due=date(2026, 4, day)) for day in range(1, 9)]
    plain = mail_text(items, immediate=False, worklist_base_url="http://x", day=date(2026, 3, 16)).plain_text()
    assert (
        "Rehabiliteringskedjan dag 180 (planerad): 8 st, senast 2026-04-01, 2026-04-02, 2026-04-03, 2026-04-04, 2026-04-05 och 3 datum till" in plain
    )


def test_retries_back_off_exponentially_up_to_a_cap():
    assert [retry_delay_seconds(n, 1.0, 10.0) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 10.0]

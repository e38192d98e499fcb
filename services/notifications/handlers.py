"""Notifications' subscriber: milestone states in, alerts for the care unit's coordinators out."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from services.notifications import attention_store, case_facts_store, delivery_repository, repository
from services.notifications.alert import alert_for_risk_flag, alerts_for, risk_alert_id, sequenced, tells_something_new
from services.notifications.case_facts import at_unit_of_case
from services.notifications.deliveries import AlertTransition, SendingHours
from services.notifications.settings import NotificationsSettings
from shared.consumer import ApplyContext, Incoming
from shared.contracts.alerts import ALERT_CHANGED_TYPE, AlertChanged
from shared.contracts.milestones import MilestoneChanged
from shared.contracts.risk_flags import RiskFlagChanged
from shared.events import decode_published_event
from shared.service import Publication, ServiceRuntime, Subscription


def decode_milestone_record(record: ConsumerRecord[Any, Any]) -> tuple[str, MilestoneChanged]:
    return decode_published_event(record, MilestoneChanged)


def decode_risk_flag_record(record: ConsumerRecord[Any, Any]) -> tuple[str, RiskFlagChanged]:
    return decode_published_event(record, RiskFlagChanged)


def _patients_of(alerts: dict[str, AlertChanged], incoming: list[Incoming[MilestoneChanged]] | list[Incoming[RiskFlagChanged]]) -> dict[str, str]:
    """Each alert's patient pseudonym, from the events it came of (for the access log of a read)."""
    patient_of_case = {item.event.case_id: item.event.patient_pseudonym for item in incoming}
    return {alert_id: patient_of_case[alert.case_id] for alert_id, alert in alerts.items() if alert.case_id in patient_of_case}


class Alerter:
    def __init__(self, alerts_topic: str, sending_hours: SendingHours | None = None) -> None:
        self._topic = alerts_topic
        self._sending_hours = sending_hours or SendingHours()

    async def apply_milestones(self, context: ApplyContext, incoming: list[Incoming[MilestoneChanged]]) -> None:
        """Each milestone event in order changes the alerts of its (case, kind); publish and store what changed."""
        await repository.lock_cases(context.conn, {item.event.case_id for item in incoming})
        held = await repository.alerts_of_milestones(context.conn, {(item.event.case_id, item.event.kind.value) for item in incoming})
        # The case's unit as the case events said it: the alert goes where the case is (docs/alert-lifecycle.md §3).
        facts = await case_facts_store.case_facts_by_id(context.conn, {item.event.case_id for item in incoming})
        stored = {alert_id for of_milestone in held.values() for alert_id in of_milestone}
        changed: dict[str, AlertChanged] = {}
        published: list[AlertTransition] = []
        for item in incoming:
            milestone = item.event
            of_milestone = held.setdefault((milestone.case_id, milestone.kind.value), {})
            for computed in alerts_for(milestone, list(of_milestone.values()), context.clock.now()):
                before = of_milestone.get(computed.alert_id)
                alert = at_unit_of_case(computed, facts.get(milestone.case_id))
                # A renewal that changes nothing the alert says moves only its revision: stored, not sent.
                news = tells_something_new(before, alert)
                alert = sequenced(alert, before, published=news)
                of_milestone[alert.alert_id] = changed[alert.alert_id] = alert
                if news:
                    self._send(context, alert)
                    published.append(AlertTransition(before, alert))
        await repository.save_alerts(context.conn, changed.values(), _patients_of(changed, incoming))
        # Mails and webhooks of the published changes, in this transaction (docs/alert-channels.md §5).
        await delivery_repository.record_deliveries(context.conn, published, context.clock.now(), self._sending_hours)
        await attention_store.forget_attention(context.conn, _announced_again(changed, stored))

    async def apply_risk_flags(self, context: ApplyContext, incoming: list[Incoming[RiskFlagChanged]]) -> None:
        await repository.lock_cases(context.conn, {item.event.case_id for item in incoming})
        alerts = await repository.alerts_by_id(context.conn, {risk_alert_id(item.event.case_id) for item in incoming})
        stored = set(alerts)
        facts = await case_facts_store.case_facts_by_id(context.conn, {item.event.case_id for item in incoming})
        changed: dict[str, AlertChanged] = {}
        published: list[AlertTransition] = []
        for item in incoming:
            alert_id = risk_alert_id(item.event.case_id)
            before = alerts.get(alert_id)
            computed = alert_for_risk_flag(item.event, before, context.clock.now())
            if computed is None:
                continue
            alert = sequenced(at_unit_of_case(computed, facts.get(item.event.case_id)), before, published=True)
            published.append(AlertTransition(before, alert))
            alerts[alert_id] = changed[alert_id] = alert
            self._send(context, alert)
        await repository.save_alerts(context.conn, changed.values(), _patients_of(changed, incoming))
        await repository.save_risk_flag_reasons(context.conn, [item.event for item in incoming])
        await delivery_repository.record_deliveries(context.conn, published, context.clock.now(), self._sending_hours)
        # A flag back after it was withdrawn is announced again: news to every coordinator again.
        await attention_store.forget_attention(context.conn, _announced_again(changed, stored))

    def _send(self, context: ApplyContext, alert: AlertChanged) -> None:
        publish_alert(context, self._topic, alert)


def _announced_again(changed: dict[str, AlertChanged], stored: set[str]) -> list[str]:
    """The announced alerts that were stored before this batch: only they can have attention to forget."""
    return [alert_id for alert_id, alert in changed.items() if alert.announce and alert_id in stored]


def publish_alert(context: ApplyContext, topic: str, alert: AlertChanged) -> None:
    """An alert's change on `rehab.alerts.v1`, keyed by its care unit, through the outbox."""
    context.outbox.event(
        topic=topic, key=alert.care_unit_hsa_id, event_type=ALERT_CHANGED_TYPE, time=context.clock.now(), subject=alert.alert_id, data=alert
    )


def alert_subscriptions(
    runtime: ServiceRuntime, settings: NotificationsSettings
) -> tuple[Subscription[MilestoneChanged], Subscription[RiskFlagChanged]]:
    """The milestone and risk-flag events, consumed together with the case events (`services/notifications/app.py`)."""
    topics = settings.topics
    alerter = Alerter(runtime.topic(topics.alerts), SendingHours(settings.mail.working_morning, settings.mail.quiet_from))
    alerts = Publication(
        topics.alerts,
        title="AlertChanged",
        description="Alerts to the rehabkoordinatorer of a care unit: opened (`announce: true`, once per alert), updated, withdrawn.",
        schema=AlertChanged,
    )
    milestones = Subscription(
        topic=topics.milestones,
        title="OnMilestones",
        description=(
            "Consumes `MilestoneChanged` from `rehab.milestones.v1`. Opens, updates or withdraws one alert per "
            "(case, kind, due date) for the coordinators of the case's care unit, and emits `AlertChanged` on "
            "`rehab.alerts.v1` (through the outbox), with `announce: true` once per alert, when it is new; a "
            "milestone `update` never announces. Acknowledges manually, after the transaction committed."
        ),
        decode=decode_milestone_record,
        apply=alerter.apply_milestones,
        publishes=(alerts,),
    )
    risk_flags = Subscription(
        topic=topics.risk_flags,
        title="OnRiskFlags",
        description=(
            "Consumes `RiskFlagChanged` from `sickleave.riskflags.v1`. Opens or updates one `RISK_FLAG` alert per "
            "flagged case for the coordinators of its care unit, withdraws it when the flag is withdrawn, and emits "
            "`AlertChanged` on `rehab.alerts.v1` (through the outbox). Acknowledges manually, after the transaction committed."
        ),
        decode=decode_risk_flag_record,
        apply=alerter.apply_risk_flags,
        publishes=(alerts,),
    )
    return milestones, risk_flags

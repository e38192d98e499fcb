"""Notifications' subscriber: milestone states in, alerts for the care unit's coordinators out."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage

from services.notifications import repository
from services.notifications.alert import alert_for, alert_for_risk_flag, risk_alert_id
from services.notifications.settings import NotificationsSettings
from shared.consumer import ApplyContext, Incoming
from shared.contracts.alerts import ALERT_CHANGED_TYPE, AlertChanged
from shared.contracts.milestones import MilestoneChanged
from shared.contracts.risk_flags import RiskFlagChanged
from shared.events import decode_published_event
from shared.service import ServiceRuntime


def decode_milestone_record(record: ConsumerRecord[Any, Any]) -> tuple[str, MilestoneChanged]:
    return decode_published_event(record, MilestoneChanged)


def decode_risk_flag_record(record: ConsumerRecord[Any, Any]) -> tuple[str, RiskFlagChanged]:
    return decode_published_event(record, RiskFlagChanged)


class Alerter:
    def __init__(self, alerts_topic: str) -> None:
        self._topic = alerts_topic

    async def apply_milestones(self, context: ApplyContext, incoming: list[Incoming[MilestoneChanged]]) -> None:
        alerts = await repository.alerts_by_id(context.conn, {item.event.milestone_id for item in incoming})
        await self._publish(context, alerts, [(item.event.milestone_id, item.event, alert_for) for item in incoming])

    async def apply_risk_flags(self, context: ApplyContext, incoming: list[Incoming[RiskFlagChanged]]) -> None:
        alerts = await repository.alerts_by_id(context.conn, {risk_alert_id(item.event.case_id) for item in incoming})
        await self._publish(context, alerts, [(risk_alert_id(item.event.case_id), item.event, alert_for_risk_flag) for item in incoming])

    async def _publish(self, context: ApplyContext, alerts: dict[str, AlertChanged], reasons: list[tuple[str, Any, Any]]) -> None:
        """Turn each (alert id, event, rule) into the alert's next state, in order; publish and store what changed."""
        changed: dict[str, AlertChanged] = {}
        for alert_id, event, rule in reasons:
            alert = rule(event, alerts.get(alert_id), context.clock.now())
            if alert is None:
                continue
            alerts[alert.alert_id] = changed[alert.alert_id] = alert
            context.outbox.event(
                topic=self._topic,
                key=alert.care_unit_hsa_id,
                event_type=ALERT_CHANGED_TYPE,
                time=context.clock.now(),
                subject=alert.alert_id,
                data=alert,
            )
        await repository.save_alerts(context.conn, changed.values())


def register(runtime: ServiceRuntime, settings: NotificationsSettings) -> None:
    topics = settings.topics
    alerter = Alerter(runtime.topic(topics.alerts))
    milestones = runtime.batch_consumer(topic=topics.milestones, decode=decode_milestone_record, apply=alerter.apply_milestones)
    runtime.publishes(
        topics.alerts,
        title="AlertChanged",
        description="Alerts to the rehabkoordinatorer of a care unit: opened, updated, withdrawn.",
        schema=AlertChanged,
    )

    @runtime.broker.subscriber(runtime.topic(topics.milestones), **runtime.subscription(topics.milestones, title="OnMilestones"))
    async def on_milestones(body: Any, message: KafkaMessage) -> None:
        """Consumes `MilestoneChanged` from `rehab.milestones.v1`.

        Opens, updates or withdraws one alert per (case, kind) for the coordinators of the case's
        care unit, and emits `AlertChanged` on `rehab.alerts.v1` (through the outbox).
        Acknowledges manually, after the transaction committed.
        """
        await milestones.handle(message)

    risk_flags = runtime.batch_consumer(topic=topics.risk_flags, decode=decode_risk_flag_record, apply=alerter.apply_risk_flags)

    @runtime.broker.subscriber(
        runtime.topic(topics.risk_flags), **runtime.subscription(topics.risk_flags, title="OnRiskFlags", group="risk-flags")
    )
    async def on_risk_flags(body: Any, message: KafkaMessage) -> None:
        """Consumes `RiskFlagChanged` from `sickleave.riskflags.v1`.

        Opens or updates one `RISK_FLAG` alert per flagged case for the coordinators of its care unit,
        withdraws it when the flag is withdrawn, and emits `AlertChanged` on `rehab.alerts.v1` (through
        the outbox). Acknowledges manually, after the transaction committed.
        """
        await risk_flags.handle(message)

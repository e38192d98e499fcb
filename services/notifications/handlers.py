"""Notifications' subscriber: milestone states in, alerts for the care unit's coordinators out."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage

from services.notifications import repository
from services.notifications.alert import alert_for
from services.notifications.settings import NotificationsSettings
from shared.consumer import ApplyContext, Incoming
from shared.contracts.alerts import ALERT_CHANGED_TYPE, AlertChanged
from shared.contracts.milestones import MilestoneChanged
from shared.events import decode_published_event
from shared.service import ServiceRuntime


def decode_milestone_record(record: ConsumerRecord[Any, Any]) -> tuple[str, MilestoneChanged]:
    return decode_published_event(record, MilestoneChanged)


class Alerter:
    def __init__(self, alerts_topic: str) -> None:
        self._topic = alerts_topic

    async def apply_milestones(self, context: ApplyContext, incoming: list[Incoming[MilestoneChanged]]) -> None:
        alerts = await repository.alerts_by_id(context.conn, {item.event.milestone_id for item in incoming})
        changed: dict[str, AlertChanged] = {}
        for item in incoming:
            alert = alert_for(item.event, alerts.get(item.event.milestone_id), context.clock.now())
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

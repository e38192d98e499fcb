"""Notifications' subscriber of the case events: the case facts the worklist shows, and what a case
change does to its alerts (docs/alert-lifecycle.md §3)."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from services.notifications import case_facts_store, delivery_repository, repository
from services.notifications.alert import sequenced
from services.notifications.case_facts import CaseFacts, alerts_after_case_change, case_facts_of, is_stale
from services.notifications.deliveries import AlertTransition, SendingHours
from services.notifications.handlers import publish_alert
from services.notifications.settings import NotificationsSettings
from shared.consumer import ApplyContext, Incoming
from shared.contracts.alerts import AlertChanged
from shared.contracts.cases import SickLeaveCaseChanged
from shared.events import decode_published_event
from shared.service import Publication, ServiceRuntime, Subscription


def decode_case_record(record: ConsumerRecord[Any, Any]) -> tuple[str, SickLeaveCaseChanged]:
    return decode_published_event(record, SickLeaveCaseChanged)


class CaseFactKeeper:
    def __init__(self, alerts_topic: str, sending_hours: SendingHours | None = None) -> None:
        self._alerts_topic = alerts_topic
        self._sending_hours = sending_hours or SendingHours()

    async def apply(self, context: ApplyContext, incoming: list[Incoming[SickLeaveCaseChanged]]) -> None:
        """Keep the newest facts per case; withdraw the alerts of a case that is gone, move those of a case whose unit changed."""
        await repository.lock_cases(context.conn, {item.event.case_id for item in incoming})
        kept = await case_facts_store.case_facts_by_id(context.conn, {item.event.case_id for item in incoming})
        latest: dict[str, CaseFacts] = {}
        for item in incoming:
            event = item.event
            if is_stale(event, latest.get(event.case_id) or kept.get(event.case_id)):
                continue
            latest[event.case_id] = case_facts_of(event)
        if not latest:
            return
        alerts = await repository.alerts_of_cases(context.conn, latest)
        changed: list[AlertChanged] = []
        published: list[AlertTransition] = []
        for facts in latest.values():
            of_case = {alert.alert_id: alert for alert in alerts.get(facts.case_id, ())}
            for computed in alerts_after_case_change(facts, of_case.values()):
                alert = sequenced(computed, of_case[computed.alert_id], published=True)
                changed.append(alert)
                published.append(AlertTransition(of_case[alert.alert_id], alert))
                publish_alert(context, self._alerts_topic, alert)
        await case_facts_store.save_case_facts(context.conn, latest.values())
        await repository.save_alerts(context.conn, changed, {alert.alert_id: latest[alert.case_id].patient_pseudonym for alert in changed})
        # Mails and webhooks of these changes too, in this transaction, as for every alert change (docs/alert-channels.md §5).
        await delivery_repository.record_deliveries(context.conn, published, context.clock.now(), self._sending_hours)


def case_subscription(runtime: ServiceRuntime, settings: NotificationsSettings) -> Subscription[SickLeaveCaseChanged]:
    """The case events, consumed together with the milestones and flags (`services/notifications/app.py`)."""
    topics = settings.topics
    keeper = CaseFactKeeper(runtime.topic(topics.alerts), SendingHours(settings.mail.working_morning, settings.mail.quiet_from))
    return Subscription(
        topic=topics.cases,
        title="OnCases",
        description=(
            "Consumes `SickLeaveCaseChanged` from `sickleave.cases.v1`. Keeps the facts of each case the coordinators' "
            "worklist shows; withdraws the open alerts of a case that no longer exists (revoked, merged, split) and moves "
            "those of a case whose responsible unit changed to the new unit's coordinators, emitting `AlertChanged` on "
            "`rehab.alerts.v1` (through the outbox). Acknowledges manually, after the transaction committed."
        ),
        decode=decode_case_record,
        apply=keeper.apply,
        publishes=(
            Publication(
                topics.alerts,
                title="AlertChanged",
                description="Alerts to the rehabkoordinatorer of a care unit: opened (`announce: true`, once per alert), updated, withdrawn.",
                schema=AlertChanged,
            ),
        ),
    )

"""NEXT_STEP alerts: opened by a periodic check on the service clock, withdrawn by the plan's next
version (docs/casework.md §3.3).

A plan's head records the alert open for its current next step, so the check finds, with one
indexed query, the plans whose step is overdue and not yet alerted. Both the check and a change of
the plan lock the head row first: the check passes over a plan being changed and takes it up on its
next round, so it never opens an alert for a step that has just been moved or done.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from services.notifications import casework_repository as records
from services.notifications import delivery_repository, repository
from services.notifications.casework_repository import PlanHead
from services.notifications.deliveries import AlertTransition, SendingHours
from services.notifications.rehabilitation_plan import (
    PlanVersion,
    next_step_alert_id,
    open_next_step,
    overdue_step_alert,
    still_alerted,
    withdrawn_step_alert,
)
from shared.clock import Clock
from shared.contracts.alerts import ALERT_CHANGED_TYPE, AlertChanged
from shared.outbox import Outbox
from shared.retry import TRANSIENT_ERRORS
from shared.service import ServiceRuntime

log = structlog.get_logger("next-step-alerts")


class NextStepAlerts:
    def __init__(self, alerts_topic: str, clock: Clock, source: str, sending_hours: SendingHours | None = None) -> None:
        self._topic = alerts_topic
        self._clock = clock
        self._source = source
        self._sending_hours = sending_hours or SendingHours()

    def outbox(self) -> Outbox:
        return Outbox(source=self._source)

    def _send(self, outbox: Outbox, alert: AlertChanged) -> None:
        outbox.event(
            topic=self._topic, key=alert.care_unit_hsa_id, event_type=ALERT_CHANGED_TYPE, time=self._clock.now(), subject=alert.alert_id, data=alert
        )

    async def follow_plan(self, conn: asyncpg.Connection, outbox: Outbox, head: PlanHead | None, plan: PlanVersion) -> str | None:
        """Withdraw the alert of the earlier next step when the new version's step is done, moved or
        gone; answer the id of the alert that stays open for the new version (None: none)."""
        if head is None or head.open_step_alert_id is None:
            return None
        if still_alerted(head.open_step_alert_id, plan):
            return head.open_step_alert_id
        alert = (await repository.alerts_by_id(conn, [head.open_step_alert_id])).get(head.open_step_alert_id)
        withdrawn = withdrawn_step_alert(alert, plan) if alert is not None else None
        if withdrawn is not None:
            await repository.save_alerts(conn, [withdrawn])
            self._send(outbox, withdrawn)
            await self._deliver(conn, [AlertTransition(alert, withdrawn)])
        return None

    async def open_overdue(self, conn: asyncpg.Connection, outbox: Outbox, limit: int) -> int:
        """Open the alerts of overdue next steps not alerted yet, at most `limit` plans; answer how many were claimed."""
        today, now = self._clock.today(), self._clock.now()
        plans = await records.claim_plans_awaiting_alert(conn, today, limit)
        ids = {plan.plan_id: next_step_alert_id(plan.plan_id, step.due_on) for plan in plans if (step := open_next_step(plan)) is not None}
        held = await repository.alerts_by_id(conn, set(ids.values()))
        opened: list[AlertChanged] = []
        transitions: list[AlertTransition] = []
        patients: dict[str, str] = {}
        for plan in plans:
            alert_id = ids.get(plan.plan_id)
            if alert_id is None:
                continue
            alert = overdue_step_alert(plan, held.get(alert_id), today, now)
            if alert is not None:
                opened.append(alert)
                transitions.append(AlertTransition(held.get(alert_id), alert))
                patients[alert.alert_id] = plan.patient_pseudonym
                self._send(outbox, alert)
            await records.mark_step_alerted(conn, plan.plan_id, alert_id)
        await repository.save_alerts(conn, opened, patients)
        await self._deliver(conn, transitions)
        return len(plans)

    async def _deliver(self, conn: asyncpg.Connection, transitions: list[AlertTransition]) -> None:
        # Mails and webhooks of the changes, in the alerts' transaction, as for every other alert (docs/casework.md §3.3).
        await delivery_repository.record_deliveries(conn, transitions, self._clock.now(), self._sending_hours)

    async def check_once(self, pool: asyncpg.Pool, limit: int) -> int:
        async with pool.acquire() as conn, conn.transaction():
            outbox = self.outbox()
            claimed = await self.open_overdue(conn, outbox, limit)
            await outbox.write(conn)
        return claimed

    async def run(self, runtime: ServiceRuntime, interval_seconds: float, limit: int = 100) -> None:
        """Every `interval_seconds`, open what fell overdue, including what did while the service was down."""
        while True:
            try:
                while await self.check_once(runtime.pool, limit) == limit:
                    pass
            except TRANSIENT_ERRORS as problem:
                runtime.metrics.transient_failures.labels(stage="next-step-check").inc()
                log.warning("next-step check retrying", error=type(problem).__name__)
            except Exception as problem:  # noqa: BLE001 - a dead check would silently stop every next-step alert
                log.error("next-step check failed; retrying", error=type(problem).__name__)
            await asyncio.sleep(interval_seconds)

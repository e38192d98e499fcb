"""A coordinator's own state of an alert: `POST /alerts/{alertId}/seen` and `/handled` (docs/alert-lifecycle.md §2).

The alert must be at a unit the coordinator acts for; otherwise the answer is 404, as for an
unknown alert. The answer shows the alert (patient data), so it writes its access-log row first.
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.
from collections.abc import Sequence
from datetime import date
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from services.notifications import attention_store
from services.notifications.alert_lifecycle import AlertWithdrawn, AttentionView, ReminderNotInTheFuture, attention_on, mark_handled, mark_seen
from services.notifications.settings import NotificationsSettings
from shared.access_log import AccessResource, record_access
from shared.auth import AuthenticatedUser, Role, authenticator, require_role
from shared.contracts.alerts import AlertChanged
from shared.http_errors import PathIdentifier, ReckonableDate, unprocessable_field
from shared.service import ServiceRuntime

NOT_FOUND = "Larmet finns inte vid en vårdenhet du arbetar för."


class CoordinatorAlert(AlertChanged):
    """An alert as the API answers it to one coordinator: the published alert plus her own state of it."""

    attention: AttentionView


class HandledBody(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")

    # "Remind me on": from this day the alert needs her attention again.
    remind_on: ReckonableDate | None = None


async def for_coordinator(conn: asyncpg.Connection, alerts: Sequence[AlertChanged], user: AuthenticatedUser, today: date) -> list[CoordinatorAlert]:
    """The alerts with the asking coordinator's state of each (NEW where she has done nothing)."""
    kept = await attention_store.attention_of(conn, [alert.alert_id for alert in alerts], user.hsa_id)
    return [CoordinatorAlert(**alert.model_dump(), attention=attention_on(kept.get(alert.alert_id), alert.state, today)) for alert in alerts]


def router(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    api = APIRouter(tags=["alerts"])
    coordinator = require_role(authenticator(settings.auth), Role.REHABKOORDINATOR)

    async def change(request: Request, alert_id: str, user: AuthenticatedUser, remind_on: date | None, handled: bool) -> CoordinatorAlert:
        now, today = runtime.clock.now(), runtime.clock.today()
        async with runtime.pool.acquire() as conn, conn.transaction():
            held = await attention_store.alert_for_update(conn, alert_id)
            if held is None or not user.acts_for(held.alert.care_unit_hsa_id):
                raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
            before = (await attention_store.attention_of(conn, [alert_id], user.hsa_id)).get(alert_id)
            try:
                after = mark_handled(before, held.alert.state, now, today, remind_on) if handled else mark_seen(before, held.alert.state, now, today)
            except AlertWithdrawn as withdrawn:
                raise HTTPException(status.HTTP_409_CONFLICT, str(withdrawn)) from None
            except ReminderNotInTheFuture as problem:
                raise unprocessable_field("body.remindOn", str(problem)) from None
            if after != before:
                await attention_store.save_attention(conn, alert_id, user.hsa_id, after, now)
            await record_access(
                conn,
                user,
                care_unit_hsa_id=held.alert.care_unit_hsa_id,
                resource=AccessResource.ALERTS,
                patient_pseudonyms=[held.patient_pseudonym] if held.patient_pseudonym else [],
                request_path=request.url.path,
            )
        return CoordinatorAlert(**held.alert.model_dump(), attention=attention_on(after, held.alert.state, today))

    @api.post("/alerts/{alert_id}/seen", response_model=CoordinatorAlert, response_model_by_alias=True)
    async def seen(request: Request, alert_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(coordinator)]) -> CoordinatorAlert:
        """She has seen the alert: NEW becomes SEEN (a due reminder too); seeing it again changes nothing. 409 when withdrawn."""
        return await change(request, alert_id, user, None, handled=False)

    @api.post("/alerts/{alert_id}/handled", response_model=CoordinatorAlert, response_model_by_alias=True)
    async def handled(
        request: Request,
        alert_id: PathIdentifier,
        user: Annotated[AuthenticatedUser, Depends(coordinator)],
        body: Annotated[HandledBody | None, Body()] = None,
    ) -> CoordinatorAlert:
        """She has handled the alert, with an optional `remindOn` (after today) that brings it back then. 409 when withdrawn."""
        return await change(request, alert_id, user, body.remind_on if body is not None else None, handled=True)

    return api

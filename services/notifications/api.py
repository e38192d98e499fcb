"""What a coordinator's client reads: the alerts of the care units the coordinator acts for."""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from collections import defaultdict
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from services.notifications import repository
from services.notifications.attention_api import CoordinatorAlert, for_coordinator
from services.notifications.settings import NotificationsSettings
from shared.access_log import AccessResource, record_access
from shared.auth import AuthenticatedUser, Role, authenticator, require_role, require_role_at_unit
from shared.contracts.alerts import AlertChanged
from shared.http_errors import PathIdentifier
from shared.service import ServiceRuntime


async def _log_read(conn: asyncpg.Connection, user: AuthenticatedUser, care_unit_hsa_id: str, alerts: list[AlertChanged], path: str) -> None:
    """Alerts name cases and their reasons (a diagnosis group among them): patient data, so each read is logged."""
    await record_access(
        conn,
        user,
        care_unit_hsa_id=care_unit_hsa_id,
        resource=AccessResource.ALERTS,
        patient_pseudonyms=await repository.patients_of_alerts(conn, [alert.alert_id for alert in alerts]),
        request_path=path,
    )


def router(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    api = APIRouter(tags=["alerts"])
    authenticate = authenticator(settings.auth)
    # Alerts are addressed to a unit's rehabkoordinatorer; nobody else reads them.
    coordinator_at_unit = require_role_at_unit(authenticate, Role.REHABKOORDINATOR)
    coordinator = require_role(authenticate, Role.REHABKOORDINATOR)

    # Each alert answered carries the asking coordinator's own state of it (`attention`, docs/alert-lifecycle.md).
    @api.get("/units/{care_unit_hsa_id}/alerts", response_model=list[CoordinatorAlert], response_model_by_alias=True)
    async def unit_alerts(
        request: Request,
        care_unit_hsa_id: PathIdentifier,
        user: Annotated[AuthenticatedUser, Depends(coordinator_at_unit)],
        state: Literal["OPEN", "WITHDRAWN"] | None = None,
    ) -> list[CoordinatorAlert]:
        """The unit's alerts, newest first; the coordinator must act for the unit. Every read is
        written to the access log, an empty one too (as the case list's)."""
        async with runtime.pool.acquire() as conn:
            alerts = await repository.alerts_of_unit(conn, care_unit_hsa_id, state)
            await _log_read(conn, user, care_unit_hsa_id, alerts, request.url.path)
            return await for_coordinator(conn, alerts, user, runtime.clock.today())

    @api.get("/alerts", response_model=list[CoordinatorAlert], response_model_by_alias=True)
    async def latest_alerts(
        request: Request, user: Annotated[AuthenticatedUser, Depends(coordinator)], limit: int = Query(default=50, ge=1, le=500)
    ) -> list[CoordinatorAlert]:
        """The newest alerts of every unit the coordinator acts for; one access-log row per unit whose alerts are shown."""
        async with runtime.pool.acquire() as conn:
            alerts = await repository.recent_alerts(conn, limit, sorted(user.care_units))
            by_unit: dict[str, list[AlertChanged]] = defaultdict(list)
            for alert in alerts:
                by_unit[alert.care_unit_hsa_id].append(alert)
            for care_unit_hsa_id, shown in sorted(by_unit.items()):
                await _log_read(conn, user, care_unit_hsa_id, shown, request.url.path)
            return await for_coordinator(conn, alerts, user, runtime.clock.today())

    return api

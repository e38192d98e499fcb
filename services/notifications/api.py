"""What a coordinator's client reads: the alerts of the care units the coordinator acts for."""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from services.notifications import repository
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthenticatedUser, Role, authenticator, require_role, require_role_at_unit
from shared.contracts.alerts import AlertChanged
from shared.service import ServiceRuntime


def router(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    api = APIRouter(tags=["alerts"])
    authenticate = authenticator(settings.auth)
    # Alerts are addressed to a unit's rehabkoordinatorer; nobody else reads them.
    coordinator_at_unit = require_role_at_unit(authenticate, Role.REHABKOORDINATOR)
    coordinator = require_role(authenticate, Role.REHABKOORDINATOR)

    @api.get("/units/{care_unit_hsa_id}/alerts", response_model=list[AlertChanged], response_model_by_alias=True)
    async def unit_alerts(
        care_unit_hsa_id: str,
        user: Annotated[AuthenticatedUser, Depends(coordinator_at_unit)],
        state: Literal["OPEN", "WITHDRAWN"] | None = None,
    ) -> list[AlertChanged]:
        """The unit's alerts, newest first; the coordinator must act for the unit."""
        async with runtime.pool.acquire() as conn:
            return await repository.alerts_of_unit(conn, care_unit_hsa_id, state)

    @api.get("/alerts", response_model=list[AlertChanged], response_model_by_alias=True)
    async def latest_alerts(
        user: Annotated[AuthenticatedUser, Depends(coordinator)], limit: int = Query(default=50, ge=1, le=500)
    ) -> list[AlertChanged]:
        """The newest alerts of every unit the coordinator acts for."""
        async with runtime.pool.acquire() as conn:
            return await repository.recent_alerts(conn, limit, sorted(user.care_units))

    return api

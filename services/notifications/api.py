"""What a coordinator's client reads: the alerts of a care unit."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from services.notifications import repository
from shared.contracts.alerts import AlertChanged
from shared.service import ServiceRuntime


def router(runtime: ServiceRuntime) -> APIRouter:
    api = APIRouter(tags=["alerts"])

    @api.get("/units/{care_unit_hsa_id}/alerts", response_model=list[AlertChanged], response_model_by_alias=True)
    async def unit_alerts(care_unit_hsa_id: str, state: Literal["OPEN", "WITHDRAWN"] | None = None) -> list[AlertChanged]:
        async with runtime.pool.acquire() as conn:
            return await repository.alerts_of_unit(conn, care_unit_hsa_id, state)

    @api.get("/alerts", response_model=list[AlertChanged], response_model_by_alias=True)
    async def latest_alerts(limit: int = Query(default=50, ge=1, le=500)) -> list[AlertChanged]:
        async with runtime.pool.acquire() as conn:
            return await repository.recent_alerts(conn, limit)

    return api

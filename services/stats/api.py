"""Gender-split counts served to coordinators and the regional office."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from services.stats import repository
from services.stats.statistics import OngoingCount, ongoing_count
from shared.service import ServiceRuntime


def router(runtime: ServiceRuntime) -> APIRouter:
    api = APIRouter(tags=["statistics"])

    @api.get("/units/{care_unit_hsa_id}/ongoing", response_model=OngoingCount, response_model_by_alias=True)
    async def unit_ongoing(care_unit_hsa_id: str, on: date | None = None) -> OngoingCount:
        """Cases of the unit ongoing on `on` (default: today by the service clock), by sex."""
        day = on or runtime.clock.today()
        async with runtime.pool.acquire() as conn:
            counts = await repository.ongoing_by_unit_and_sex(conn, day, care_unit_hsa_id)
        return ongoing_count(care_unit_hsa_id, day, counts.get(care_unit_hsa_id, {}))

    @api.get("/ongoing", response_model=list[OngoingCount], response_model_by_alias=True)
    async def all_units_ongoing(on: date | None = None) -> list[OngoingCount]:
        """Every unit with cases ongoing on `on`, by sex."""
        day = on or runtime.clock.today()
        async with runtime.pool.acquire() as conn:
            counts = await repository.ongoing_by_unit_and_sex(conn, day)
        return [ongoing_count(unit, day, by_sex) for unit, by_sex in counts.items()]

    return api

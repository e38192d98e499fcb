"""Gender-split counts served to coordinators and the regional office."""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from services.stats import repository
from services.stats.settings import StatsSettings
from services.stats.statistics import OngoingCount, ongoing_count
from shared.auth import AuthenticatedUser, Role, authenticator
from shared.http_errors import PathIdentifier, ReckonableDate
from shared.service import ServiceRuntime

UNIT_READERS = (Role.REHABKOORDINATOR, Role.LAKARE)


def router(runtime: ServiceRuntime, settings: StatsSettings) -> APIRouter:
    api = APIRouter(tags=["statistics"])
    authenticate = authenticator(settings.auth)

    def units_visible_to(user: AuthenticatedUser) -> frozenset[str] | None:
        """The units whose figures the user may read; None for all of them (the regional office)."""
        if user.has_any_role([Role.REGIONKONTOR]):
            return None
        if user.has_any_role(UNIT_READERS):
            return user.care_units
        raise HTTPException(status.HTTP_403_FORBIDDEN, "statistics need the role REHABKOORDINATOR, LAKARE or REGIONKONTOR")

    @api.get("/units/{care_unit_hsa_id}/ongoing", response_model=OngoingCount, response_model_by_alias=True)
    async def unit_ongoing(
        care_unit_hsa_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(authenticate)], on: ReckonableDate | None = None
    ) -> OngoingCount:
        """Cases of the unit ongoing on `on` (default: today by the service clock), by sex: for the
        unit's own coordinators and doctors, and for the regional office."""
        visible = units_visible_to(user)
        if visible is not None and care_unit_hsa_id not in visible:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "you do not act for this care unit")
        day = on or runtime.clock.today()
        async with runtime.pool.acquire() as conn:
            counts = await repository.ongoing_by_unit_and_sex(conn, day, care_unit_hsa_id)
        return ongoing_count(care_unit_hsa_id, day, counts.get(care_unit_hsa_id, {}))

    @api.get("/ongoing", response_model=list[OngoingCount], response_model_by_alias=True)
    async def all_units_ongoing(user: Annotated[AuthenticatedUser, Depends(authenticate)], on: ReckonableDate | None = None) -> list[OngoingCount]:
        """Every unit with cases ongoing on `on`, by sex: all units for the regional office, the
        user's own units for a coordinator or doctor."""
        visible = units_visible_to(user)
        day = on or runtime.clock.today()
        async with runtime.pool.acquire() as conn:
            counts = await repository.ongoing_by_unit_and_sex(conn, day)
        return [ongoing_count(unit, day, by_sex) for unit, by_sex in counts.items() if visible is None or unit in visible]

    return api

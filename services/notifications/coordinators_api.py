"""Managing who coordinates which care units, and their stand-ins (docs/coordinators.md).

The verksamhetschef (`VERKSAMHETSCHEF`) of a unit decides who coordinates it; a coordinator sets
her own stand-ins (so does the verksamhetschef of her units). The unit's coordinators, doctors and
verksamhetschef read who coordinates it. No patient data is read or shown here.
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from services.notifications import coordinator_store
from services.notifications.coordinators import Coordinator, HsaId, Responsible, StandIn, change_refusal, may_read_coordinator, responsible_for_unit
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthenticatedUser, Role, authenticator, require_role, require_role_at_unit
from shared.http_errors import PathIdentifier, ReckonableDate, unprocessable
from shared.service import ServiceRuntime

READERS_OF_A_UNIT = (Role.REHABKOORDINATOR, Role.LAKARE, Role.VERKSAMHETSCHEF)
NOT_FOUND = "Koordinatorn finns inte, eller är inte en du får se."


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class StandInView(_View):
    stand_in_hsa_id: str
    from_date: date = Field(alias="from")
    to_date: date = Field(alias="to")


class CoordinatorView(_View):
    hsa_id: str
    name: str | None
    care_units: list[str]
    stand_ins: list[StandInView]

    @classmethod
    def of(cls, coordinator: Coordinator) -> "CoordinatorView":
        return cls(
            hsa_id=coordinator.hsa_id,
            name=coordinator.name,
            care_units=sorted(coordinator.care_units),
            stand_ins=[StandInView(stand_in_hsa_id=s.stand_in_hsa_id, from_date=s.from_date, to_date=s.to_date) for s in coordinator.stand_ins],
        )


class CoordinatorBody(BaseModel):
    """`PUT /coordinators/{hsaId}`: the whole record; what is left out is removed."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: HsaId | None = None
    care_units: list[HsaId] = Field(default_factory=list, max_length=200)
    stand_ins: list[StandIn] = Field(default_factory=list, max_length=100)


class UnitAssignmentBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: HsaId | None = None


class UnitCoordinatorsView(_View):
    care_unit_hsa_id: str
    on: date
    coordinators: list[Responsible]


def _refuse_unless_allowed(user: AuthenticatedUser, before: Coordinator | None, after: Coordinator | None) -> None:
    refusal = change_refusal(user.hsa_id, user.roles, user.care_units, before, after)
    if refusal is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)


def _refuse_unless_she_or_her_manager(user: AuthenticatedUser, hsa_id: str, before: Coordinator | None) -> None:
    # A PUT that changes nothing answers the record as it is: only to those who could have changed
    # it (docs/coordinators.md §2), so nobody else confirms a guess of a record or makes an empty one.
    herself = user.hsa_id == hsa_id and user.has_any_role([Role.REHABKOORDINATOR])
    her_manager = before is not None and user.has_any_role([Role.VERKSAMHETSCHEF]) and not before.care_units.isdisjoint(user.care_units)
    if not (herself or her_manager):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Bara koordinatorn själv eller verksamhetschefen för en av hennes vårdenheter får ange hennes ersättare."
        )


def _coordinator_of(hsa_id: str, body: CoordinatorBody) -> Coordinator:
    try:
        return Coordinator(hsa_id=hsa_id, name=body.name, care_units=frozenset(body.care_units), stand_ins=tuple(body.stand_ins))
    except ValidationError as problem:
        raise unprocessable(problem) from None


def router(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    api = APIRouter(tags=["coordinators"])
    authenticate = authenticator(settings.auth)
    anyone_managing = require_role(authenticate, Role.REHABKOORDINATOR, Role.VERKSAMHETSCHEF, Role.LAKARE)
    reader_at_unit = require_role_at_unit(authenticate, *READERS_OF_A_UNIT)
    manager_at_unit = require_role_at_unit(authenticate, Role.VERKSAMHETSCHEF)

    @api.get("/coordinators/{hsa_id}", response_model=CoordinatorView, response_model_by_alias=True)
    async def read_coordinator(hsa_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(anyone_managing)]) -> CoordinatorView:
        """A coordinator's units and stand-ins: for herself and the coordinators, doctors and verksamhetschef of her units."""
        async with runtime.pool.acquire() as conn:
            found = await coordinator_store.coordinator(conn, hsa_id)
        if found is None or not may_read_coordinator(user.hsa_id, user.roles, user.care_units, found):
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        return CoordinatorView.of(found)

    @api.put("/coordinators/{hsa_id}", response_model=CoordinatorView, response_model_by_alias=True)
    async def put_coordinator(
        hsa_id: PathIdentifier, body: Annotated[CoordinatorBody, Body()], user: Annotated[AuthenticatedUser, Depends(anyone_managing)]
    ) -> CoordinatorView:
        """Set a coordinator's units, name and stand-ins as a whole (idempotent)."""
        after = _coordinator_of(hsa_id, body)
        async with runtime.pool.acquire() as conn, conn.transaction():
            before = await coordinator_store.coordinator(conn, hsa_id)
            _refuse_unless_allowed(user, before, after)
            if after == (before or Coordinator(hsa_id=hsa_id)):
                _refuse_unless_she_or_her_manager(user, hsa_id, before)
            await coordinator_store.save_coordinator(conn, after, by=user.hsa_id)
            saved = await coordinator_store.coordinator(conn, hsa_id)
        assert saved is not None
        return CoordinatorView.of(saved)

    @api.delete("/coordinators/{hsa_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_coordinator(hsa_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(anyone_managing)]) -> Response:
        """Remove a coordinator from all her units, with her stand-ins: for the verksamhetschef of every one of her units."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            before = await coordinator_store.coordinator(conn, hsa_id)
            if before is None or not may_read_coordinator(user.hsa_id, user.roles, user.care_units, before):
                raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
            _refuse_unless_allowed(user, before, None)
            await coordinator_store.delete_coordinator(conn, hsa_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @api.get("/units/{care_unit_hsa_id}/coordinators", response_model=UnitCoordinatorsView, response_model_by_alias=True)
    async def unit_coordinators(
        care_unit_hsa_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(reader_at_unit)], on: ReckonableDate | None = None
    ) -> UnitCoordinatorsView:
        """Who the unit's work reaches on a day (today by default): its coordinators, and the stand-in of each absent one."""
        day = on or runtime.clock.today()
        async with runtime.pool.acquire() as conn:
            coordinators = await coordinator_store.coordinators_of_units(conn, [care_unit_hsa_id])
        return UnitCoordinatorsView(care_unit_hsa_id=care_unit_hsa_id, on=day, coordinators=responsible_for_unit(coordinators, care_unit_hsa_id, day))

    @api.put("/units/{care_unit_hsa_id}/coordinators/{hsa_id}", response_model=CoordinatorView, response_model_by_alias=True)
    async def add_unit_coordinator(
        care_unit_hsa_id: PathIdentifier,
        hsa_id: PathIdentifier,
        user: Annotated[AuthenticatedUser, Depends(manager_at_unit)],
        body: Annotated[UnitAssignmentBody | None, Body()] = None,
    ) -> CoordinatorView:
        """Make `hsa_id` a coordinator of the unit (idempotent); the unit's verksamhetschef only."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            before = await coordinator_store.coordinator(conn, hsa_id)
            name = body.name if body is not None and body.name is not None else (before.name if before is not None else None)
            try:
                after = Coordinator(
                    hsa_id=hsa_id,
                    name=name,
                    care_units=(before.care_units if before is not None else frozenset()) | {care_unit_hsa_id},
                    stand_ins=before.stand_ins if before is not None else (),
                )
            except ValidationError as problem:
                raise unprocessable(problem) from None
            _refuse_unless_allowed(user, before, after)
            await coordinator_store.save_coordinator(conn, after, by=user.hsa_id)
            saved = await coordinator_store.coordinator(conn, hsa_id)
        assert saved is not None
        return CoordinatorView.of(saved)

    @api.delete("/units/{care_unit_hsa_id}/coordinators/{hsa_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def remove_unit_coordinator(
        care_unit_hsa_id: PathIdentifier, hsa_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(manager_at_unit)]
    ) -> Response:
        """`hsa_id` no longer coordinates the unit; the unit's verksamhetschef only. Her other units stay."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            before = await coordinator_store.coordinator(conn, hsa_id)
            if before is None or care_unit_hsa_id not in before.care_units:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "Personen koordinerar inte den här vårdenheten.")
            after = before.model_copy(update={"care_units": before.care_units - {care_unit_hsa_id}})
            _refuse_unless_allowed(user, before, after)
            await coordinator_store.save_coordinator(conn, after, by=user.hsa_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return api

"""The coordinator's records of a case at a care unit: REKO status (docs/casework.md).

Every route names the care unit in its path; the user must act for it. The unit's coordinators
(`REHABKOORDINATOR`) read and write, its doctors (`LAKARE`) read. Every answer that shows a record
writes its access-log row first (docs/http-api.md §2.3).
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.notifications import casework_repository as records
from services.notifications.reko_status import REKO_CODES, RekoStatus, RekoStatusChange, current_status, reko_status_named, status_change
from services.notifications.settings import NotificationsSettings
from shared.access_log import AccessAction, AccessResource, record_access
from shared.auth import AuthenticatedUser, Role, authenticator, require_role_at_unit
from shared.http_errors import PathIdentifier, unprocessable_field
from shared.service import ServiceRuntime

# Who reads the coordinator's records, and who keeps them (docs/casework.md §4).
READERS = (Role.REHABKOORDINATOR, Role.LAKARE)
WRITERS = (Role.REHABKOORDINATOR,)
NOT_THE_CASES_PATIENT = "patientpseudonymen hör inte till sjukfallet"
REKO_STATUS_VALUES = ", ".join(f'"{status.value}"' for status in RekoStatus)

# A patient pseudonym as intake makes it (docs/rules.md §3.4): nothing else, a personnummer least of all.
Pseudonym = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Camel(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class _Request(_Camel):
    model_config = ConfigDict(extra="forbid")


def _reko_status_of(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return reko_status_named(value)
        except ValueError:
            raise ValueError(f"REKO-status ska vara en av {REKO_STATUS_VALUES} (eller REKO_1–REKO_8)") from None
    return value


class RekoStatusEntry(_Camel):
    status: RekoStatus
    code: str
    changed_by: str
    changed_at: datetime


class RekoStatusAnswer(_Camel):
    case_id: str
    care_unit_hsa_id: str
    status: RekoStatus
    code: str
    # Who set the current status and when; none for "-" never set.
    changed_by: str | None = None
    changed_at: datetime | None = None
    # Every change, oldest first.
    history: tuple[RekoStatusEntry, ...] = ()


class RekoStatusRequest(_Request):
    status: Annotated[RekoStatus, BeforeValidator(_reko_status_of)]
    # Names the case's patient when reko does not know it yet (no alert about the case at the unit).
    patient_pseudonym: Pseudonym | None = None


def reko_status_answer(case_id: str, care_unit_hsa_id: str, history: list[RekoStatusChange]) -> RekoStatusAnswer:
    status = current_status(history)
    last = history[-1] if history else None
    return RekoStatusAnswer(
        case_id=case_id,
        care_unit_hsa_id=care_unit_hsa_id,
        status=status,
        code=REKO_CODES[status],
        changed_by=last.changed_by if last else None,
        changed_at=last.changed_at if last else None,
        history=tuple(RekoStatusEntry(status=c.status, code=REKO_CODES[c.status], changed_by=c.changed_by, changed_at=c.changed_at) for c in history),
    )


async def _patient_named(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str, named: str | None) -> str | None:
    """The case's patient: as reko knows it, else as the request names it (then remembered); 422
    when the request names another patient than the one reko knows."""
    known = await records.patient_of_case(conn, case_id, care_unit_hsa_id)
    if known is not None and named is not None and named != known:
        raise unprocessable_field("body.patientPseudonym", NOT_THE_CASES_PATIENT)
    if known is None and named is not None:
        await records.remember_patient_of_case(conn, case_id, care_unit_hsa_id, named)
    return known or named


def router(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    api = APIRouter(tags=["casework"])
    authenticate = authenticator(settings.auth)
    reader = require_role_at_unit(authenticate, *READERS)
    writer = require_role_at_unit(authenticate, *WRITERS)

    async def log(
        conn: asyncpg.Connection,
        user: AuthenticatedUser,
        care_unit_hsa_id: str,
        resource: AccessResource,
        patient: str | None,
        request: Request,
        action: AccessAction,
    ) -> None:
        await record_access(
            conn,
            user,
            care_unit_hsa_id=care_unit_hsa_id,
            resource=resource,
            patient_pseudonyms=[patient] if patient else [],
            request_path=request.url.path,
            action=action,
        )

    @api.get("/units/{care_unit_hsa_id}/cases/{case_id}/reko-status", response_model=RekoStatusAnswer, response_model_by_alias=True)
    async def get_reko_status(
        request: Request, care_unit_hsa_id: PathIdentifier, case_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(reader)]
    ) -> RekoStatusAnswer:
        """The case's REKO status at the unit with every change (who, when), oldest first; "-" when none was set."""
        async with runtime.pool.acquire() as conn:
            history = await records.reko_status_history(conn, case_id, care_unit_hsa_id)
            patient = await records.patient_of_case(conn, case_id, care_unit_hsa_id)
            await log(conn, user, care_unit_hsa_id, AccessResource.REKO_STATUS, patient, request, AccessAction.READ)
        return reko_status_answer(case_id, care_unit_hsa_id, history)

    @api.put("/units/{care_unit_hsa_id}/cases/{case_id}/reko-status", response_model=RekoStatusAnswer, response_model_by_alias=True)
    async def set_reko_status(
        request: Request,
        care_unit_hsa_id: PathIdentifier,
        case_id: PathIdentifier,
        body: RekoStatusRequest,
        user: Annotated[AuthenticatedUser, Depends(writer)],
    ) -> RekoStatusAnswer:
        """Set the case's REKO status at the unit (a coordinator of the unit only). Setting the status
        the case already has records nothing; the answer is the status with its history."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            await records.lock_case_at_unit(conn, case_id, care_unit_hsa_id)
            patient = await _patient_named(conn, case_id, care_unit_hsa_id, body.patient_pseudonym)
            history = await records.reko_status_history(conn, case_id, care_unit_hsa_id)
            change = status_change(history, body.status, case_id=case_id, care_unit_hsa_id=care_unit_hsa_id, by=user.hsa_id, at=runtime.clock.now())
            if change is not None:
                await records.add_reko_status_change(conn, change)
                history.append(change)
            await log(conn, user, care_unit_hsa_id, AccessResource.REKO_STATUS, patient, request, AccessAction.WRITE)
        return reko_status_answer(case_id, care_unit_hsa_id, history)

    return api


def install(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    """The casework routes, for `create_app` to add."""
    return router(runtime, settings)

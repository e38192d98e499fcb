"""The auditor's reading of a service's PDL access log (docs/http-api.md §4): who looked at which patient.

Only the GRANSKARE role reads it, and the auditor reads nothing else. A patient is named by
pseudonym, as the log keeps them; the log's rows hold no patient data of their own, so reading
them is not itself logged.
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from datetime import datetime
from typing import Annotated, Protocol

import asyncpg
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.auth import AuthenticatedUser, AuthSettings, Role, authenticator, require_role

# Printable text only: PostgreSQL could not even compare a NUL.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


class _HasPool(Protocol):
    @property
    def pool(self) -> asyncpg.Pool: ...


class AccessLogEntry(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    id: int
    at: datetime
    user_hsa_id: str
    user_name: str | None
    roles: tuple[str, ...]
    care_unit_hsa_id: str
    action: str
    resource: str
    purpose: str
    patient_pseudonyms: tuple[str, ...]
    request_path: str
    shown_care_units: tuple[str, ...] = ()
    shown_care_providers: tuple[str, ...] = ()


class AccessLogAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    entries: tuple[AccessLogEntry, ...]
    # More rows matched than `limit`: narrow the period or raise the limit.
    truncated: bool = Field(default=False)


async def access_log_entries(
    conn: asyncpg.Connection,
    *,
    patient_pseudonym: str | None,
    user_hsa_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[AccessLogEntry]:
    rows = await conn.fetch(
        "SELECT id, at, user_hsa_id, user_name, roles, care_unit_hsa_id, action, resource, purpose, patient_pseudonyms, "
        "request_path, shown_care_units, shown_care_providers FROM access_log "
        "WHERE ($1::text IS NULL OR patient_pseudonyms @> ARRAY[$1::text]) AND ($2::text IS NULL OR user_hsa_id = $2) "
        "AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4) "
        "ORDER BY at DESC, id DESC LIMIT $5",
        patient_pseudonym,
        user_hsa_id,
        since,
        until,
        limit,
    )
    return [AccessLogEntry.model_validate(dict(row)) for row in rows]


def access_log_router(runtime: _HasPool, auth: AuthSettings) -> APIRouter:
    api = APIRouter(tags=["audit"])
    auditor = require_role(authenticator(auth), Role.GRANSKARE)

    @api.get("/access-log", response_model=AccessLogAnswer, response_model_by_alias=True)
    async def read_access_log(
        _: Annotated[AuthenticatedUser, Depends(auditor)],
        patient: Annotated[str | None, Query(max_length=200, pattern=_PRINTABLE, description="a patient's pseudonym: who looked at them")] = None,
        user: Annotated[str | None, Query(max_length=200, pattern=_PRINTABLE, description="a user's HSA id: what they looked at")] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> AccessLogAnswer:
        """This service's access-log rows, newest first, for the auditor (GRANSKARE) only."""
        async with runtime.pool.acquire() as conn:
            entries = await access_log_entries(conn, patient_pseudonym=patient, user_hsa_id=user, since=since, until=until, limit=limit + 1)
        return AccessLogAnswer(entries=tuple(entries[:limit]), truncated=len(entries) > limit)

    return api

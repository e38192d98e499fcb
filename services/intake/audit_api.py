"""The auditor asks by personnummer: `POST /access-log/patient` (docs/http-api.md §4).

Only intake holds the pseudonym key, so only intake turns the personnummer the auditor knows into
the pseudonym every access log keeps. The answer gives that pseudonym, to ask the other services'
`GET /access-log?patient=…` with, and intake's own rows. The number travels in the body, never in a
URL that a proxy or a log could keep.
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
from pydantic.alias_generators import to_camel

from services.intake.pseudonym import pseudonymise
from services.intake.settings import IntakeSettings
from shared.audit import AccessLogEntry, access_log_entries
from shared.auth import AuthenticatedUser, Role, authenticator, require_role
from shared.http_errors import unprocessable, unprocessable_field
from shared.personnummer import InvalidPersonnummer, parse_personnummer
from shared.service import ServiceRuntime


class _Camel(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")


class PatientAuditRequest(_Camel):
    person_id: StrictStr = Field(min_length=10, max_length=13)
    limit: int = Field(default=500, ge=1, le=5000)


class PatientAudit(_Camel):
    patient_pseudonym: str
    entries: tuple[AccessLogEntry, ...]
    truncated: bool


def router(runtime: ServiceRuntime, settings: IntakeSettings) -> APIRouter:
    api = APIRouter(tags=["audit"])
    auditor = require_role(authenticator(settings.auth), Role.GRANSKARE)
    key = settings.pseudonym_key.get_secret_value().encode()

    @api.post("/access-log/patient", response_model=PatientAudit, response_model_by_alias=True)
    async def patient_audit(_: Annotated[AuthenticatedUser, Depends(auditor)], payload: Annotated[Any, Body()] = None) -> PatientAudit:
        """Who looked at this patient in intake, and the pseudonym to ask the other services with (GRANSKARE only)."""
        try:
            asked = PatientAuditRequest.model_validate(payload)
        except ValidationError as problem:
            raise unprocessable(problem) from None
        try:
            identity = parse_personnummer(asked.person_id, on=runtime.clock.today())
        except InvalidPersonnummer as problem:
            raise unprocessable_field("body.personId", str(problem)) from None
        pseudonym = pseudonymise(identity.normalised, key)
        async with runtime.pool.acquire() as conn:
            entries = await access_log_entries(conn, patient_pseudonym=pseudonym, user_hsa_id=None, since=None, until=None, limit=asked.limit + 1)
        return PatientAudit(patient_pseudonym=pseudonym, entries=tuple(entries[: asked.limit]), truncated=len(entries) > asked.limit)

    return api

"""The coordinator's records of a case at a care unit: REKO status, consent, contacts (docs/casework.md).

Every route names the care unit in its path; the user must act for it. The unit's coordinators
(`REHABKOORDINATOR`) read and write, its doctors (`LAKARE`) read. Every answer that shows a record
writes its access-log row first (docs/http-api.md §2.3).
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from datetime import date, datetime
from typing import Annotated, Any
from uuid import uuid4

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.notifications import casework_repository as records
from services.notifications.consent import (
    SCOPE_TEXT,
    ConsentDecision,
    ConsentRecord,
    ConsentScope,
    consent_standing,
    decision_date_problem,
    withdrawal_problem,
)
from services.notifications.contact_log import (
    CONTACT_KIND_TEXT,
    Contact,
    ContactKind,
    ContactParty,
    contact_date_problem,
    contact_refusal,
    parties_of,
)
from services.notifications.reko_status import REKO_CODES, RekoStatus, RekoStatusChange, current_status, reko_status_named, status_change
from services.notifications.settings import NotificationsSettings
from shared.access_log import AccessAction, AccessResource, record_access
from shared.auth import AuthenticatedUser, Role, authenticator, require_role_at_unit
from shared.http_errors import PathIdentifier, ReckonableDate, unprocessable_field
from shared.service import ServiceRuntime

# Who reads the coordinator's records, and who keeps them (docs/casework.md §4).
READERS = (Role.REHABKOORDINATOR, Role.LAKARE)
WRITERS = (Role.REHABKOORDINATOR,)
NOT_THE_CASES_PATIENT = "patientpseudonymen hör inte till sjukfallet"
UNKNOWN_PATIENT = "Sjukfallets patient är okänd vid vårdenheten."
PATIENT_NEEDED = "krävs: sjukfallets patient är okänd vid vårdenheten"
LONGEST_NOTE = 4000
REKO_STATUS_VALUES = ", ".join(f'"{status.value}"' for status in RekoStatus)

# A patient pseudonym as intake makes it (docs/rules.md §3.4): nothing else, a personnummer least of all.
Pseudonym = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def _storable_text(text: str) -> str:
    # PostgreSQL stores neither a NUL nor a lone surrogate; either would fail the write, not the request.
    if "\x00" in text:
        raise ValueError("texten får inte innehålla NUL-tecken")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("texten måste vara giltig Unicode") from None
    return text


FreeText = Annotated[str, AfterValidator(_storable_text)]


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


class ConsentEntry(_Camel):
    scope: ConsentScope
    decision: ConsentDecision
    decided_on: date
    recorded_by: str
    recorded_at: datetime


class ScopeStanding(_Camel):
    scope: ConsentScope
    # What the consent is to, in Swedish ("kontakt med arbetsgivaren").
    text: str
    in_force: bool
    # The decision in force on the day asked about; none when nothing was recorded by then.
    decision: ConsentDecision | None = None
    decided_on: date | None = None


class ConsentAnswer(_Camel):
    case_id: str
    care_unit_hsa_id: str
    on: date
    scopes: tuple[ScopeStanding, ...]
    # Every decision, in the order recorded.
    history: tuple[ConsentEntry, ...]


class ConsentRequest(_Request):
    scopes: list[ConsentScope] = Field(min_length=1, max_length=len(ConsentScope))
    decision: ConsentDecision
    decided_on: ReckonableDate
    patient_pseudonym: Pseudonym | None = None


class ContactAnswer(_Camel):
    contact_id: str
    case_id: str
    kind: ContactKind
    kind_text: str
    parties: tuple[ContactParty, ...]
    contact_on: date
    note: str
    recorded_by: str
    recorded_at: datetime


class ContactLogAnswer(_Camel):
    case_id: str
    care_unit_hsa_id: str
    # By contact date, then in the order recorded.
    contacts: tuple[ContactAnswer, ...]


class ContactRequest(_Request):
    kind: ContactKind
    contact_on: ReckonableDate
    # Parties beyond those the kind implies (a trepartssamtal is with the employer, an avstämningsmöte with Försäkringskassan).
    parties: list[ContactParty] = Field(default_factory=list, max_length=len(ContactParty))
    note: FreeText = Field(default="", max_length=LONGEST_NOTE)
    patient_pseudonym: Pseudonym | None = None


def consent_answer(case_id: str, care_unit_hsa_id: str, consents: list[ConsentRecord], on: date) -> ConsentAnswer:
    standing = consent_standing(consents, on)
    return ConsentAnswer(
        case_id=case_id,
        care_unit_hsa_id=care_unit_hsa_id,
        on=on,
        scopes=tuple(
            ScopeStanding(
                scope=scope,
                text=SCOPE_TEXT[scope],
                in_force=decision is not None and decision.decision is ConsentDecision.GIVEN,
                decision=decision.decision if decision else None,
                decided_on=decision.decided_on if decision else None,
            )
            for scope, decision in standing.items()
        ),
        history=tuple(
            ConsentEntry(scope=r.scope, decision=r.decision, decided_on=r.decided_on, recorded_by=r.recorded_by, recorded_at=r.recorded_at)
            for r in consents
        ),
    )


def contact_answer(contact: Contact) -> ContactAnswer:
    return ContactAnswer(
        contact_id=contact.contact_id,
        case_id=contact.case_id,
        kind=contact.kind,
        kind_text=CONTACT_KIND_TEXT[contact.kind],
        parties=contact.parties,
        contact_on=contact.contact_on,
        note=contact.note,
        recorded_by=contact.recorded_by,
        recorded_at=contact.recorded_at,
    )


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


async def _known_patient(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str) -> str:
    """The case's patient for a read; 404 when reko does not know it at the unit."""
    patient = await records.patient_of_case(conn, case_id, care_unit_hsa_id)
    if patient is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, UNKNOWN_PATIENT)
    return patient


async def _patient_to_write_for(conn: asyncpg.Connection, case_id: str, care_unit_hsa_id: str, named: str | None) -> str:
    """The case's patient for a change of the patient's records, locked for the transaction; 422
    when neither reko nor the request knows who it is."""
    patient = await _patient_named(conn, case_id, care_unit_hsa_id, named)
    if patient is None:
        raise unprocessable_field("body.patientPseudonym", PATIENT_NEEDED)
    await records.lock_patient_at_unit(conn, patient, care_unit_hsa_id)
    return patient


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

    @api.get("/units/{care_unit_hsa_id}/cases/{case_id}/consent", response_model=ConsentAnswer, response_model_by_alias=True)
    async def get_consent(
        request: Request,
        care_unit_hsa_id: PathIdentifier,
        case_id: PathIdentifier,
        user: Annotated[AuthenticatedUser, Depends(reader)],
        on: ReckonableDate | None = None,
    ) -> ConsentAnswer:
        """The patient's consent at the unit, scope by scope as it stands on `on` (default: today), and
        every decision recorded. 404 when reko does not know the case's patient at the unit."""
        async with runtime.pool.acquire() as conn:
            patient = await _known_patient(conn, case_id, care_unit_hsa_id)
            consents = await records.consent_records(conn, patient, care_unit_hsa_id)
            await log(conn, user, care_unit_hsa_id, AccessResource.CONSENT, patient, request, AccessAction.READ)
        return consent_answer(case_id, care_unit_hsa_id, consents, on or runtime.clock.today())

    @api.post("/units/{care_unit_hsa_id}/cases/{case_id}/consent", response_model=ConsentAnswer, response_model_by_alias=True, status_code=201)
    async def record_consent(
        request: Request,
        care_unit_hsa_id: PathIdentifier,
        case_id: PathIdentifier,
        body: ConsentRequest,
        user: Annotated[AuthenticatedUser, Depends(writer)],
    ) -> ConsentAnswer:
        """Record the patient's decision for one or more scopes, dated by the day the patient made it.
        422 for a date after today; 409 for withdrawing a consent that is not in force."""
        today = runtime.clock.today()
        date_problem = decision_date_problem(body.decided_on, today)
        if date_problem:
            raise unprocessable_field("body.decidedOn", date_problem)
        async with runtime.pool.acquire() as conn, conn.transaction():
            patient = await _patient_to_write_for(conn, case_id, care_unit_hsa_id, body.patient_pseudonym)
            consents = await records.consent_records(conn, patient, care_unit_hsa_id)
            scopes = [scope for scope in ConsentScope if scope in set(body.scopes)]
            for scope in scopes:
                problem = withdrawal_problem(consents, scope, body.decision, body.decided_on)
                if problem:
                    raise HTTPException(status.HTTP_409_CONFLICT, problem)
            added = [
                ConsentRecord(
                    patient_pseudonym=patient,
                    care_unit_hsa_id=care_unit_hsa_id,
                    scope=scope,
                    decision=body.decision,
                    decided_on=body.decided_on,
                    recorded_by=user.hsa_id,
                    recorded_at=runtime.clock.now(),
                )
                for scope in scopes
            ]
            await records.add_consent_records(conn, case_id, added)
            await log(conn, user, care_unit_hsa_id, AccessResource.CONSENT, patient, request, AccessAction.WRITE)
        return consent_answer(case_id, care_unit_hsa_id, [*consents, *added], today)

    @api.get("/units/{care_unit_hsa_id}/cases/{case_id}/contacts", response_model=ContactLogAnswer, response_model_by_alias=True)
    async def get_contacts(
        request: Request, care_unit_hsa_id: PathIdentifier, case_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(reader)]
    ) -> ContactLogAnswer:
        """The patient's contact log at the unit, notes included. 404 when reko does not know the case's patient at the unit."""
        async with runtime.pool.acquire() as conn:
            patient = await _known_patient(conn, case_id, care_unit_hsa_id)
            contacts = await records.contacts_of_patient(conn, patient, care_unit_hsa_id)
            await log(conn, user, care_unit_hsa_id, AccessResource.CONTACTS, patient, request, AccessAction.READ)
        return ContactLogAnswer(case_id=case_id, care_unit_hsa_id=care_unit_hsa_id, contacts=tuple(contact_answer(c) for c in contacts))

    @api.post("/units/{care_unit_hsa_id}/cases/{case_id}/contacts", response_model=ContactAnswer, response_model_by_alias=True, status_code=201)
    async def record_contact(
        request: Request,
        care_unit_hsa_id: PathIdentifier,
        case_id: PathIdentifier,
        body: ContactRequest,
        user: Annotated[AuthenticatedUser, Depends(writer)],
    ) -> ContactAnswer:
        """Log a contact that has taken place. A contact with a party outside the unit (a trepartssamtal
        with the employer, an avstämningsmöte with Försäkringskassan, contact with Arbetsförmedlingen)
        is refused with 409, naming the consent missing on the contact's date."""
        date_problem = contact_date_problem(body.contact_on, runtime.clock.today())
        if date_problem:
            raise unprocessable_field("body.contactOn", date_problem)
        parties = parties_of(body.kind, body.parties)
        async with runtime.pool.acquire() as conn, conn.transaction():
            patient = await _patient_to_write_for(conn, case_id, care_unit_hsa_id, body.patient_pseudonym)
            refusal = contact_refusal(await records.consent_records(conn, patient, care_unit_hsa_id), parties, body.contact_on)
            if refusal:
                raise HTTPException(status.HTTP_409_CONFLICT, refusal)
            contact = Contact(
                contact_id=str(uuid4()),
                case_id=case_id,
                patient_pseudonym=patient,
                care_unit_hsa_id=care_unit_hsa_id,
                kind=body.kind,
                parties=parties,
                contact_on=body.contact_on,
                note=body.note,
                recorded_by=user.hsa_id,
                recorded_at=runtime.clock.now(),
            )
            await records.add_contact(conn, contact)
            await log(conn, user, care_unit_hsa_id, AccessResource.CONTACTS, patient, request, AccessAction.WRITE)
        return contact_answer(contact)

    return api


def install(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    """The casework routes, for `create_app` to add."""
    return router(runtime, settings)

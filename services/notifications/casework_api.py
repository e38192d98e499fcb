"""The coordinator's records of a case at a care unit: REKO status, consent, contacts, the
rehabilitation plan and its next step (docs/casework.md).

Every route names the care unit in its path; the user must act for it. The unit's coordinators
(`REHABKOORDINATOR`) read and write, its doctors (`LAKARE`) read their own patients'. Every answer that shows a record
writes its access-log row first (docs/http-api.md §2.3). The changes themselves, with the events
they publish on the casework topic (docs/casework.md §7), are services/notifications/casework_operations.py,
which a page can call as well; a route here checks who asks, calls one, logs the access and answers.
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from datetime import date, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.notifications import casework_operations as operations
from services.notifications import casework_repository as records
from services.notifications.casework_operations import NO_PLAN, AgreedPlan, Casework
from services.notifications.consent import SCOPE_TEXT, ConsentDecision, ConsentRecord, ConsentScope, consent_standing
from services.notifications.contact_log import CONTACT_KIND_TEXT, Contact, ContactKind, ContactParty
from services.notifications.deliveries import SendingHours
from services.notifications.next_step_alerts import NextStepAlerts
from services.notifications.rehabilitation_plan import OWNER_TEXT, NextStep, NextStepOwner, PlanVersion, next_step_overdue
from services.notifications.reko_status import REKO_CODES, RekoStatus, RekoStatusChange, current_status, reko_status_named
from services.notifications.settings import NotificationsSettings
from shared.access_log import AccessAction, AccessResource, record_access
from shared.auth import AuthenticatedUser, Role, authenticator, require_role_at_unit
from shared.contracts.casework import CaseworkEvent
from shared.http_errors import PathIdentifier, ReckonableDate
from shared.service import ServiceRuntime

# Who reads the coordinator's records, and who keeps them (docs/casework.md §4).
READERS = (Role.REHABKOORDINATOR, Role.LAKARE)
WRITERS = (Role.REHABKOORDINATOR,)
LONGEST_NOTE = 4000
LONGEST_GOAL = 2000
LONGEST_STEP = 500
MOST_AGREED_STEPS = 30
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


StepText = Annotated[FreeText, Field(min_length=1, max_length=LONGEST_STEP)]


class NextStepBody(_Request):
    description: StepText
    due_on: ReckonableDate
    owner: NextStepOwner
    done_on: ReckonableDate | None = None


class PlanRequest(_Request):
    goal: Annotated[FreeText, Field(max_length=LONGEST_GOAL)] = ""
    agreed_steps: list[StepText] = Field(default_factory=list, max_length=MOST_AGREED_STEPS)
    next_step: NextStepBody | None = None
    # The version the change was made to; a plan changed since is refused (409) rather than overwritten.
    expected_version: int | None = Field(default=None, ge=0)
    patient_pseudonym: Pseudonym | None = None


class StepDoneRequest(_Request):
    done_on: ReckonableDate | None = None  # default: today


class NextStepAnswer(_Camel):
    description: str
    due_on: date
    owner: NextStepOwner
    owner_text: str
    done_on: date | None
    # Its date has passed and it is not done (on the service clock's today).
    overdue: bool


class PlanVersionAnswer(_Camel):
    version: int
    case_id: str
    goal: str
    agreed_steps: tuple[str, ...]
    next_step: NextStepAnswer | None
    recorded_by: str
    recorded_at: datetime


class PlanAnswer(_Camel):
    plan_id: str
    care_unit_hsa_id: str
    current: PlanVersionAnswer
    # Every version, oldest first.
    versions: tuple[PlanVersionAnswer, ...]


def plan_answer(versions: list[PlanVersion], today: date) -> PlanAnswer:
    def version_answer(plan: PlanVersion) -> PlanVersionAnswer:
        step = plan.next_step
        return PlanVersionAnswer(
            version=plan.version,
            case_id=plan.case_id,
            goal=plan.goal,
            agreed_steps=plan.agreed_steps,
            next_step=NextStepAnswer(
                description=step.description,
                due_on=step.due_on,
                owner=step.owner,
                owner_text=OWNER_TEXT[step.owner],
                done_on=step.done_on,
                overdue=next_step_overdue(step, today),
            )
            if step
            else None,
            recorded_by=plan.recorded_by,
            recorded_at=plan.recorded_at,
        )

    answers = tuple(version_answer(plan) for plan in versions)
    return PlanAnswer(plan_id=versions[-1].plan_id, care_unit_hsa_id=versions[-1].care_unit_hsa_id, current=answers[-1], versions=answers)


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


def casework_of(runtime: ServiceRuntime, settings: NotificationsSettings, next_steps: NextStepAlerts | None = None) -> Casework:
    """What the operations of services/notifications/casework_operations.py need of this service."""
    return Casework(
        clock=runtime.clock,
        casework_topic=runtime.topic(settings.topics.casework),
        next_steps=next_steps or next_step_alerts(runtime, settings),
        source=f"urn:reko:{runtime.name}",
    )


def router(runtime: ServiceRuntime, settings: NotificationsSettings, next_steps: NextStepAlerts | None = None) -> APIRouter:
    api = APIRouter(tags=["casework"])
    casework = casework_of(runtime, settings, next_steps)
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
            patient = await operations.readable_patient(conn, case_id, care_unit_hsa_id, user)
            history = await records.reko_status_history(conn, case_id, care_unit_hsa_id)
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
            done = await operations.set_reko_status(
                conn, casework, user.hsa_id, care_unit_hsa_id, case_id, body.status, named_patient=body.patient_pseudonym
            )
            await log(conn, user, care_unit_hsa_id, AccessResource.REKO_STATUS, done.patient_pseudonym, request, AccessAction.WRITE)
        return reko_status_answer(case_id, care_unit_hsa_id, done.history)

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
            patient = await operations.known_patient(conn, case_id, care_unit_hsa_id, user)
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
        async with runtime.pool.acquire() as conn, conn.transaction():
            done = await operations.record_consent(
                conn,
                casework,
                user.hsa_id,
                care_unit_hsa_id,
                case_id,
                body.scopes,
                body.decision,
                body.decided_on,
                named_patient=body.patient_pseudonym,
            )
            await log(conn, user, care_unit_hsa_id, AccessResource.CONSENT, done.patient_pseudonym, request, AccessAction.WRITE)
        return consent_answer(case_id, care_unit_hsa_id, done.consents, runtime.clock.today())

    @api.get("/units/{care_unit_hsa_id}/cases/{case_id}/contacts", response_model=ContactLogAnswer, response_model_by_alias=True)
    async def get_contacts(
        request: Request, care_unit_hsa_id: PathIdentifier, case_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(reader)]
    ) -> ContactLogAnswer:
        """The patient's contact log at the unit, notes included. 404 when reko does not know the case's patient at the unit."""
        async with runtime.pool.acquire() as conn:
            patient = await operations.known_patient(conn, case_id, care_unit_hsa_id, user)
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
        async with runtime.pool.acquire() as conn, conn.transaction():
            contact = await operations.record_contact(
                conn,
                casework,
                user.hsa_id,
                care_unit_hsa_id,
                case_id,
                body.kind,
                body.contact_on,
                parties=body.parties,
                note=body.note,
                named_patient=body.patient_pseudonym,
            )
            await log(conn, user, care_unit_hsa_id, AccessResource.CONTACTS, contact.patient_pseudonym, request, AccessAction.WRITE)
        return contact_answer(contact)

    @api.get("/units/{care_unit_hsa_id}/cases/{case_id}/plan", response_model=PlanAnswer, response_model_by_alias=True)
    async def get_plan(
        request: Request, care_unit_hsa_id: PathIdentifier, case_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(reader)]
    ) -> PlanAnswer:
        """The patient's rehabilitation plan at the unit: the current version and every version, oldest
        first. 404 when reko does not know the case's patient at the unit, or the patient has no plan there."""
        async with runtime.pool.acquire() as conn:
            patient = await operations.known_patient(conn, case_id, care_unit_hsa_id, user)
            versions = await records.plan_versions(conn, patient, care_unit_hsa_id)
            if not versions:
                raise HTTPException(status.HTTP_404_NOT_FOUND, NO_PLAN)
            await log(conn, user, care_unit_hsa_id, AccessResource.REHABILITATION_PLAN, patient, request, AccessAction.READ)
        return plan_answer(versions, runtime.clock.today())

    @api.put("/units/{care_unit_hsa_id}/cases/{case_id}/plan", response_model=PlanAnswer, response_model_by_alias=True)
    async def set_plan(
        request: Request,
        care_unit_hsa_id: PathIdentifier,
        case_id: PathIdentifier,
        body: PlanRequest,
        user: Annotated[AuthenticatedUser, Depends(writer)],
    ) -> PlanAnswer:
        """Record the plan as agreed with the patient now: a new version (the first creates the plan).
        A next step whose date has passed raises a NEXT_STEP alert; a step done, moved or gone withdraws it."""
        asked = body.next_step
        agreed = AgreedPlan(
            goal=body.goal,
            agreed_steps=tuple(body.agreed_steps),
            next_step=NextStep(description=asked.description, due_on=asked.due_on, owner=asked.owner, done_on=asked.done_on) if asked else None,
        )
        async with runtime.pool.acquire() as conn, conn.transaction():
            saved = await operations.set_plan(
                conn,
                casework,
                user.hsa_id,
                care_unit_hsa_id,
                case_id,
                agreed,
                expected_version=body.expected_version,
                named_patient=body.patient_pseudonym,
            )
            await log(conn, user, care_unit_hsa_id, AccessResource.REHABILITATION_PLAN, saved.patient_pseudonym, request, AccessAction.WRITE)
        return plan_answer(saved.versions, runtime.clock.today())

    @api.post("/units/{care_unit_hsa_id}/cases/{case_id}/plan/next-step/done", response_model=PlanAnswer, response_model_by_alias=True)
    async def next_step_done(
        request: Request,
        care_unit_hsa_id: PathIdentifier,
        case_id: PathIdentifier,
        body: StepDoneRequest,
        user: Annotated[AuthenticatedUser, Depends(writer)],
    ) -> PlanAnswer:
        """Mark the plan's next step done (on `doneOn`, default today): a new version, which withdraws its alert.
        409 when the plan has no next step still to be taken."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            saved = await operations.mark_next_step_done(conn, casework, user.hsa_id, care_unit_hsa_id, case_id, body.done_on)
            await log(conn, user, care_unit_hsa_id, AccessResource.REHABILITATION_PLAN, saved.patient_pseudonym, request, AccessAction.WRITE)
        return plan_answer(saved.versions, runtime.clock.today())

    return api


def next_step_alerts(runtime: ServiceRuntime, settings: NotificationsSettings) -> NextStepAlerts:
    return NextStepAlerts(
        runtime.topic(settings.topics.alerts),
        runtime.clock,
        f"urn:reko:{runtime.name}",
        SendingHours(settings.mail.working_morning, settings.mail.quiet_from),
    )


def install(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    """The casework routes, for `create_app` to add, and the periodic next-step check they rely on
    (docs/casework.md §3.3), registered as a background task of the service."""
    next_steps = next_step_alerts(runtime, settings)

    async def next_step_check(runtime: ServiceRuntime) -> None:
        await next_steps.run(runtime, settings.next_step_check_interval_seconds)

    runtime.background(next_step_check)
    declare_publication(runtime, settings)
    return router(runtime, settings, next_steps)


def declare_publication(runtime: ServiceRuntime, settings: NotificationsSettings) -> None:
    """The casework topic in the service's AsyncAPI document: written by HTTP routes, so no
    subscription declares it (docs/casework.md §7)."""
    runtime.publishes(
        settings.topics.casework,
        title="CaseworkChanged",
        description=(
            "The coordinator's records, pseudonymised: a REKO status set (`REKO_STATUS`), a consent decision recorded "
            "(`CONSENT`), a rehabilitation plan's new version (`PLAN`), a contact logged (`CONTACT`), each through the "
            "outbox in the transaction of the change; keyed by care unit HSA id. No note, goal, step text or "
            "personnummer (docs/events.md §3.7)."
        ),
        schema=CaseworkEvent,
    )

"""The coordinator's pages (docs/worklist.md): the worklist, a patient's page, the bedömningsteam's list.

Reads come straight from the repositories, many cases at once. Every change a page makes goes
through the service's own JSON API, in process and with the signed-in user's own token: a form can
never do what the API would refuse, and each rule, access-log row and event is written in one
place. Every page that shows patient-level data writes its access-log row before it is rendered.
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import asyncpg
import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.notifications import attention_store, case_facts_store, casework_repository, coordinator_store, delivery_repository, repository
from services.notifications.alert_lifecycle import AttentionStatus
from services.notifications.attention_store import AlertForCoordinator, PatientWork
from services.notifications.case_facts import CaseFacts
from services.notifications.casework_repository import CaseworkOfCase
from services.notifications.consent import DECISION_TEXT, SCOPE_TEXT, ConsentDecision, ConsentScope
from services.notifications.contact_log import CONTACT_KIND_TEXT, ContactKind
from services.notifications.coordinators import units_covered_by
from services.notifications.identity import IdentityListing
from services.notifications.identity_consumer import storage_cipher
from services.notifications.identity_store import identity_listing
from services.notifications.rehabilitation_plan import OWNER_TEXT, NextStepOwner
from services.notifications.reko_status import RekoStatus
from services.notifications.settings import NotificationsSettings
from services.notifications.team_meeting import default_last_meeting, meeting_items
from services.notifications.worklist import (
    ALERT_STATE_TITLES,
    DIAGNOSIS_GROUP_TITLES,
    KIND_TITLES,
    MILESTONE_STATUS_TITLES,
    SORT_TITLES,
    Casework,
    NextStep,
    OpenAlert,
    Patient,
    Person,
    RiskReason,
    SortOrder,
    WorklistCase,
    WorklistFilter,
    alert_line,
    build_worklist,
    risk_reason_text,
    worklist_row,
)
from shared.access_log import AccessResource, record_access
from shared.auth import AuthenticatedUser, Role, may_read_patient, sees_only_own_patients
from shared.pages import SESSION_COOKIE, PageRefused, PageSession, page_templates
from shared.service import ServiceRuntime
from shared.sickleave.diagnosis import diagnosis_group

TEMPLATES = Path(__file__).parent / "templates"
# A visit within this long of the last one is the same sitting: "new since my last visit" keeps its marks.
SAME_SITTING = timedelta(hours=1)
CHAIN_DAY_OF_KIND = {"CHAIN_DAY_90": 90, "CHAIN_DAY_180": 180, "CHAIN_DAY_365": 365}

WORKLIST_READERS = (Role.REHABKOORDINATOR,)
PATIENT_READERS = (Role.REHABKOORDINATOR, Role.LAKARE)
ROLE_PLURALS: dict[str, str] = {Role.REHABKOORDINATOR: "rehabkoordinatorer", Role.LAKARE: "läkare"}


@dataclass(frozen=True)
class TimelineEntry:
    day: date
    category: str
    text: str


@dataclass(frozen=True)
class PatientPage:
    case: WorklistCase
    person_shown: str | None
    person_details: str
    diagnosis_group_title: str
    employer_plan: str
    reko_status: str
    consent_summary: str
    next_step: str
    next_step_overdue: bool
    alerts: tuple[Any, ...]
    timeline: tuple[TimelineEntry, ...]
    plan_goal: str | None
    plan_steps: tuple[str, ...]
    may_write: bool


def _refuse_unless(user: AuthenticatedUser, roles: Sequence[str], what: str) -> None:
    if not user.has_any_role(roles):
        who = " och ".join(ROLE_PLURALS.get(role, role) for role in roles)
        raise PageRefused(status.HTTP_403_FORBIDDEN, f"{what} är bara för {who} med uppdrag för vårdenheten.")


async def worklist_units(conn: asyncpg.Connection, user: AuthenticatedUser, today: date) -> list[str]:
    """The units whose work reaches her today (her own, and those she stands in for) that her token
    lets her act for; every unit of her token when the registry does not know her (docs/worklist.md §1)."""
    token_units = sorted(user.care_units)
    covered = units_covered_by(user.hsa_id, await coordinator_store.coordinators_around(conn, user.hsa_id), today)
    if not covered:
        return token_units
    return [unit for unit in token_units if unit in covered]


async def _visits(conn: asyncpg.Connection, coordinator: str, now: datetime) -> datetime | None:
    """Record this visit and answer the one before this sitting (None the first time)."""
    row = await conn.fetchrow("SELECT last_visit_at, previous_visit_at FROM worklist_visits WHERE coordinator_hsa_id = $1 FOR UPDATE", coordinator)
    if row is None:
        await conn.execute("INSERT INTO worklist_visits (coordinator_hsa_id, last_visit_at) VALUES ($1, $2)", coordinator, now)
        return None
    last: datetime = row["last_visit_at"]
    previous: datetime | None = row["previous_visit_at"]
    if now - last < SAME_SITTING:
        await conn.execute("UPDATE worklist_visits SET last_visit_at = $2 WHERE coordinator_hsa_id = $1", coordinator, now)
        return previous
    await conn.execute(
        "UPDATE worklist_visits SET previous_visit_at = last_visit_at, last_visit_at = $2 WHERE coordinator_hsa_id = $1", coordinator, now
    )
    return last


def _chosen_case(cases: Sequence[CaseFacts], units: Collection[str], today: date) -> CaseFacts | None:
    """The patient's case the list is about: ongoing at one of the units, else her latest there."""
    here = [case for case in cases if case.care_unit_hsa_id in units]
    ongoing = [case for case in here if case.start <= today <= case.end]
    if ongoing:
        return ongoing[0]
    return here[0] if here else None


def _chain_day(case: CaseFacts, alerts: Sequence[OpenAlert], today: date) -> int | None:
    """The chain day today (or at the case's end), read off a chain checkpoint's due date: milestones
    reckon the chain (docs/rules.md §4.1), the worklist does not reckon it a second time."""
    day = min(today, case.end)
    for alert in alerts:
        if alert.kind in CHAIN_DAY_OF_KIND and alert.due_date is not None and alert.case_id == case.case_id:
            chain_day = CHAIN_DAY_OF_KIND[alert.kind] - (alert.due_date - day).days
            return chain_day if chain_day > 0 else None
    return None


def _open_alert(item: AlertForCoordinator, reasons: dict[str, tuple[RiskReason, ...]]) -> OpenAlert:
    alert = item.alert
    return OpenAlert(
        alert_id=alert.alert_id,
        case_id=alert.case_id,
        care_unit_hsa_id=alert.care_unit_hsa_id,
        kind=alert.kind,
        title=_alert_title(alert.kind, alert.title),
        created=alert.created,
        attention=item.attention,
        due_date=alert.due_date,
        milestone_status=alert.milestone_status,
        risk_level=alert.risk_level,
        risk_reasons=reasons.get(alert.case_id, tuple(RiskReason(code) for code in alert.reason_codes)) if alert.kind == "RISK_FLAG" else (),
    )


async def _risk_reasons(conn: asyncpg.Connection, case_ids: Collection[str]) -> dict[str, tuple[RiskReason, ...]]:
    stored = await repository.risk_flag_reasons(conn, case_ids)
    return {case_id: tuple(RiskReason(reason.code, reason.matched_value, reason.limit) for reason in reasons) for case_id, reasons in stored.items()}


def _alert_title(kind: str, title: str) -> str:
    if kind == "NEXT_STEP":
        return "Nästa steg i planen har passerat sitt datum"
    return KIND_TITLES.get(kind, title)


def _consent_summary(work: CaseworkOfCase | None) -> str | None:
    if work is None or work.patient_pseudonym is None:
        return None
    given = [SCOPE_TEXT[scope] for scope, record in work.consents.items() if record is not None and record.decision is ConsentDecision.GIVEN]
    refused = [SCOPE_TEXT[scope] for scope, record in work.consents.items() if record is not None and record.decision is not ConsentDecision.GIVEN]
    parts = []
    if given:
        parts.append("Givet: " + ", ".join(given))
    if refused:
        parts.append("Inte givet: " + ", ".join(refused))
    return "; ".join(parts) or None


def _casework(work: CaseworkOfCase | None) -> Casework:
    if work is None:
        return Casework()
    step = work.next_step
    return Casework(
        reko_status=work.reko_status.value,
        consent=_consent_summary(work),
        next_step=NextStep(step.description, step.due_on, OWNER_TEXT[step.owner]) if step is not None else None,
    )


def _person(pseudonym: str, listing: IdentityListing) -> Person | None:
    shown = listing.shown.get(pseudonym)
    if shown is not None:
        return Person(personnummer=shown.personnummer, age=shown.age, sex=shown.sex.value, protected_identity=False)
    if pseudonym not in listing.unknown:
        return Person(personnummer=None, age=None, sex="", protected_identity=True)
    return None


def _worklist_case(case: CaseFacts, alerts: Sequence[OpenAlert], today: date) -> WorklistCase:
    return WorklistCase(
        case_id=case.case_id,
        patient_pseudonym=case.patient_pseudonym,
        care_unit_hsa_id=case.care_unit_hsa_id,
        start=case.start,
        end=case.end,
        certified_days=case.certified_days,
        main_diagnosis_code=case.main_diagnosis_code,
        degree_today=case.degree_on(today),
        chain_day_today=_chain_day(case, alerts, today),
    )


def _employer_plan_status(case_id: str, alerts: Sequence[OpenAlert]) -> str | None:
    return next((alert.milestone_status for alert in alerts if alert.kind == "RETURN_TO_WORK_PLAN" and alert.case_id == case_id), None)


async def worklist_patients(
    conn: asyncpg.Connection, units: Sequence[str], coordinator: str, today: date, settings: NotificationsSettings
) -> list[Patient]:
    """The patients of these units as the worklist rules take them, in a few queries whatever their number."""
    works: list[PatientWork] = await attention_store.worklist(conn, units, coordinator, today)
    listing = await identity_listing(conn, [work.patient_pseudonym for work in works], storage_cipher(settings), today)
    chosen = {work.patient_pseudonym: _chosen_case(work.cases, units, today) for work in works}
    # Every risk alert's case, not only the chosen one: a patient's earlier case may have an open flag too.
    reasons = await _risk_reasons(conn, {item.alert.case_id for work in works for item in work.alerts if item.alert.kind == "RISK_FLAG"})
    by_unit: dict[str, list[str]] = defaultdict(list)
    for case in chosen.values():
        if case is not None:
            by_unit[case.care_unit_hsa_id].append(case.case_id)
    casework: dict[str, CaseworkOfCase] = {}
    for unit, case_ids in by_unit.items():
        casework.update(await casework_repository.casework_of_cases(conn, unit, case_ids, today))
    patients = []
    for work in works:
        case = chosen[work.patient_pseudonym]
        if case is None:
            continue  # alerts whose case facts have not arrived yet: listed once they have
        alerts = tuple(_open_alert(item, reasons) for item in work.alerts)
        patients.append(
            Patient(
                patient_pseudonym=work.patient_pseudonym,
                person=_person(work.patient_pseudonym, listing),
                case=_worklist_case(case, alerts, today),
                alerts=alerts,
                casework=_casework(casework.get(case.case_id)),
                employer_plan_status=_employer_plan_status(case.case_id, alerts),
            )
        )
    return patients


def _wanted(unit: str | None, kind: str | None, state: str | None, due_within: str | None, sort: str | None, only_new: str | None) -> WorklistFilter:
    try:
        return WorklistFilter(
            care_unit_hsa_id=unit or None,
            kind=kind if kind in KIND_TITLES else None,
            state=AttentionStatus(state) if state in {s.value for s in AttentionStatus} else None,
            due_within_days=int(due_within) if due_within else None,
            only_new=only_new == "1",
            sort=SortOrder(sort) if sort in {s.value for s in SortOrder} else SortOrder.URGENCY,
        )
    except ValueError:
        raise PageRefused(status.HTTP_422_UNPROCESSABLE_ENTITY, "Filtret kunde inte läsas: ange antal dagar som ett heltal.") from None


async def _log(conn: asyncpg.Connection, user: AuthenticatedUser, unit: str, resource: AccessResource, patients: Collection[str], path: str) -> None:
    await record_access(conn, user, care_unit_hsa_id=unit, resource=resource, patient_pseudonyms=patients, request_path=path)


def _timeline(case: CaseFacts, alerts: Sequence[Any], reasons: Sequence[RiskReason], records: dict[str, Sequence[Any]]) -> tuple[TimelineEntry, ...]:
    """Everything that happened in the case, in date order: certificates, degrees, checkpoints, risk,
    and the coordinator's records (statuses, consent, contacts, plan versions)."""
    entries = [TimelineEntry(case.start, "Sjukfall", f"Sjukfallet började ({case.main_diagnosis_code})")]
    entries.extend(
        TimelineEntry(
            certificate.signed_at.date(),
            "Intyg",
            f"Intyg {certificate.certificate_id}: sjukskriven {certificate.start.isoformat()} – {certificate.end.isoformat()}",
        )
        for certificate in case.certificates
    )
    entries.extend(TimelineEntry(span.start, "Grad", f"{span.degree} % till och med {span.end.isoformat()}") for span in case.degrees)
    for alert in alerts:
        if (alert.kind in CHAIN_DAY_OF_KIND or alert.kind == "RETURN_TO_WORK_PLAN") and alert.due_date is not None:
            state = MILESTONE_STATUS_TITLES.get(alert.milestone_status or "", "")
            withdrawn = " (återkallad)" if alert.state.value == "WITHDRAWN" else ""
            entries.append(TimelineEntry(alert.due_date, "Kontrollpunkt", f"{KIND_TITLES[alert.kind]}: {state}{withdrawn}"))
        elif alert.kind == "RISK_FLAG":
            entries.append(TimelineEntry(alert.created.date(), "Risk", f"Riskflagga: {risk_reason_text(reasons) or ', '.join(alert.reason_codes)}"))
    entries.extend(
        TimelineEntry(change.changed_at.date(), "REKO-status", f"{change.status.value} (av {change.changed_by})") for change in records["statuses"]
    )
    entries.extend(
        TimelineEntry(record.decided_on, "Samtycke", f"{SCOPE_TEXT[record.scope].capitalize()}: {DECISION_TEXT[record.decision]}")
        for record in records["consents"]
    )
    entries.extend(
        TimelineEntry(contact.contact_on, "Kontakt", f"{CONTACT_KIND_TEXT[contact.kind]}: {contact.note}") for contact in records["contacts"]
    )
    entries.extend(
        TimelineEntry(plan.recorded_at.date(), "Plan", f"Plan version {plan.version}: {plan.goal}" + _step_text(plan.next_step))
        for plan in records["plans"]
    )
    return tuple(sorted(entries, key=lambda entry: (entry.day, entry.category)))


def _step_text(step: Any) -> str:
    return f"; nästa steg {step.description} {step.due_on.isoformat()}" if step is not None else ""


def router(runtime: ServiceRuntime, settings: NotificationsSettings, session: PageSession, api_app: FastAPI) -> APIRouter:
    pages = APIRouter(tags=["pages"], include_in_schema=False)

    async def through_api(request: Request, method: str, path: str, body: dict[str, Any] | None) -> tuple[bool, str]:
        """The change, made by the JSON API as this user; (done, Swedish message)."""
        token = request.cookies.get(SESSION_COOKIE, "")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url="http://notifications") as client:
            answer = await client.request(method, path, json=body, headers={"authorization": f"Bearer {token}"})
        if answer.is_success:
            return True, "Sparat."
        return False, _refusal_text(answer)

    def back_to_patient(case_id: str, done: bool, message: str) -> Response:
        query = urlencode({"message" if done else "problem": message})
        return RedirectResponse(f"/patients/{quote(case_id, safe='')}?{query}", status_code=status.HTTP_303_SEE_OTHER)

    async def case_for(conn: asyncpg.Connection, user: AuthenticatedUser, case_id: str) -> CaseFacts:
        facts = (await case_facts_store.case_facts_by_id(conn, [case_id])).get(case_id)
        if (
            facts is None
            or not user.acts_for(facts.care_unit_hsa_id)
            # A doctor's own patients only, as on the JSON API (docs/casework.md §4); the same answer as for no case.
            or (sees_only_own_patients(user) and not may_read_patient(user, await case_facts_store.doctors_of_patient(conn, facts.patient_pseudonym)))
        ):
            raise PageRefused(status.HTTP_404_NOT_FOUND, "Sjukfallet finns inte vid en vårdenhet du arbetar för.")
        return facts

    @pages.get("/", response_class=HTMLResponse)
    async def home() -> Response:
        return RedirectResponse("/worklist", status_code=status.HTTP_303_SEE_OTHER)

    @pages.get("/worklist", response_class=HTMLResponse)
    async def worklist_page(
        request: Request,
        user: Annotated[AuthenticatedUser, Depends(session.user)],
        unit: Annotated[str | None, Query(max_length=64)] = None,
        kind: Annotated[str | None, Query(max_length=40)] = None,
        state: Annotated[str | None, Query(max_length=20)] = None,
        due_within: Annotated[str | None, Query(max_length=4)] = None,
        sort: Annotated[str | None, Query(max_length=20)] = None,
        only_new: Annotated[str | None, Query(max_length=1)] = None,
        hide: Annotated[str | None, Query(max_length=1)] = None,
        message: Annotated[str | None, Query(max_length=200)] = None,
    ) -> HTMLResponse:
        _refuse_unless(user, WORKLIST_READERS, "Arbetslistan")
        wanted = _wanted(unit, kind, state, due_within, sort, only_new)
        today, now = runtime.clock.today(), runtime.clock.now()
        async with runtime.pool.acquire() as conn, conn.transaction():
            units = await worklist_units(conn, user, today)
            if wanted.care_unit_hsa_id is not None and wanted.care_unit_hsa_id not in units:
                raise PageRefused(status.HTTP_403_FORBIDDEN, "Du arbetar inte för den vårdenheten.")
            shown_units = [wanted.care_unit_hsa_id] if wanted.care_unit_hsa_id else units
            last_visit = await _visits(conn, user.hsa_id, now)
            patients = await worklist_patients(conn, shown_units, user.hsa_id, today, settings) if shown_units else []
            worklist = build_worklist(patients, today, last_visit, wanted, hide_personal_data=hide == "1")
            # One row per unit whose patients the page shows, before it is shown; an empty list too.
            by_unit: dict[str, list[str]] = defaultdict(list)
            for row in worklist.rows:
                by_unit[row.care_unit_hsa_id].append(row.patient_pseudonym)
            for care_unit in shown_units:
                await _log(conn, user, care_unit, AccessResource.WORKLIST, by_unit.get(care_unit, []), request.url.path)
        context = {
            "worklist": worklist,
            "wanted": wanted,
            "units": units,
            "today": today,
            "last_visit": last_visit,
            "message": message,
            "kinds": list(KIND_TITLES.items()),
            "states": [(state.value, ALERT_STATE_TITLES[state]) for state in (AttentionStatus.NEW, AttentionStatus.SEEN, AttentionStatus.HANDLED)],
            "sorts": [(order.value, title) for order, title in SORT_TITLES.items()],
        }
        return session.render(request, "worklist.html", context, user=user)

    @pages.get("/patients/{case_id}", response_class=HTMLResponse)
    async def patient_page(
        request: Request,
        case_id: str,
        user: Annotated[AuthenticatedUser, Depends(session.user)],
        hide: Annotated[str | None, Query(max_length=1)] = None,
        message: Annotated[str | None, Query(max_length=300)] = None,
        problem: Annotated[str | None, Query(max_length=300)] = None,
    ) -> HTMLResponse:
        _refuse_unless(user, PATIENT_READERS, "Patientsidan")
        today = runtime.clock.today()
        async with runtime.pool.acquire() as conn, conn.transaction():
            case = await case_for(conn, user, case_id)
            unit, patient = case.care_unit_hsa_id, case.patient_pseudonym
            listing = await identity_listing(conn, [patient], storage_cipher(settings), today)
            alerts = await repository.alerts_of_case(conn, case_id)
            works = await attention_store.worklist(conn, [unit], user.hsa_id, today, with_ongoing_cases=False)
            mine = [alert for work in works if work.patient_pseudonym == patient for alert in work.alerts if alert.alert.case_id == case_id]
            reasons = (await _risk_reasons(conn, [case_id])).get(case_id, ())
            casework = (await casework_repository.casework_of_cases(conn, unit, [case_id], today)).get(case_id)
            records: dict[str, Sequence[Any]] = {
                "statuses": await casework_repository.reko_status_history(conn, case_id, unit),
                "consents": await casework_repository.consent_records(conn, patient, unit),
                "contacts": await casework_repository.contacts_of_patient(conn, patient, unit),
                "plans": await casework_repository.plan_versions(conn, patient, unit),
            }
            await _log(conn, user, unit, AccessResource.PATIENT_PAGE, [patient], request.url.path)
        open_alerts = tuple(_open_alert(item, {case_id: reasons}) for item in mine)
        person = _person(patient, listing)
        work = _casework(casework)
        row = worklist_row(
            Patient(patient, person, _worklist_case(case, open_alerts, today), open_alerts, work, _employer_plan_status(case_id, open_alerts)),
            today,
            None,
            hide_personal_data=hide == "1",
            include_handled=True,
        )
        protected = person is not None and person.protected_identity
        details = "Skyddad identitet: visas inte" if protected else (f"{row.sex_title}, {row.age} år" if row.age is not None else row.sex_title)
        current_plan = records["plans"][-1] if records["plans"] else None
        page = PatientPage(
            case=_worklist_case(case, open_alerts, today),
            person_shown=None if protected else row.personnummer_shown,
            person_details=details,
            diagnosis_group_title=DIAGNOSIS_GROUP_TITLES.get(diagnosis_group(case.main_diagnosis_code), "Okänd"),
            employer_plan=row.employer_plan,
            reko_status=row.reko_status,
            consent_summary=row.consent,
            next_step=row.next_step,
            next_step_overdue=row.next_step_overdue,
            alerts=tuple(alert_line(alert, today) for alert in open_alerts),
            timeline=_timeline(case, alerts, reasons, records),
            plan_goal=current_plan.goal if current_plan else None,
            plan_steps=current_plan.agreed_steps if current_plan else (),
            may_write=user.has_any_role([Role.REHABKOORDINATOR]),
        )
        context = {
            "page": page,
            "hide": hide == "1",
            "today": today,
            "message": message,
            "problem": problem,
            "reko_statuses": [status.value for status in RekoStatus],
            "consent_scopes": [(scope.value, SCOPE_TEXT[scope].capitalize()) for scope in ConsentScope],
            "consent_decisions": [(decision.value, DECISION_TEXT[decision].capitalize()) for decision in ConsentDecision],
            "contact_kinds": [(kind.value, CONTACT_KIND_TEXT[kind]) for kind in ContactKind],
            "step_owners": [(owner.value, OWNER_TEXT[owner].capitalize()) for owner in NextStepOwner],
        }
        return session.render(request, "patient.html", context, user=user)

    async def unit_of(request: Request, user: AuthenticatedUser, case_id: str) -> str:
        # The forms are the coordinator's (docs/worklist.md §1): anyone else is refused here, before the API is asked.
        _refuse_unless(user, WORKLIST_READERS, "Ändringar på patientsidan")
        async with runtime.pool.acquire() as conn:
            return (await case_for(conn, user, case_id)).care_unit_hsa_id

    async def record_on_case(
        request: Request, user: AuthenticatedUser, case_id: str, method: str, record: str, body: dict[str, Any], saved: str
    ) -> Response:
        """One of the case's records changed through the JSON API at the case's unit, then back to the patient page."""
        unit = await unit_of(request, user, case_id)
        done, text = await through_api(request, method, f"/units/{quote(unit)}/cases/{quote(case_id, safe='')}/{record}", body)
        return back_to_patient(case_id, done, saved if done else text)

    @pages.post("/patients/{case_id}/reko-status")
    async def set_reko_status(
        request: Request,
        case_id: str,
        user: Annotated[AuthenticatedUser, Depends(session.checked_form)],
        status_value: Annotated[str, Form(alias="status")],
    ) -> Response:
        return await record_on_case(request, user, case_id, "PUT", "reko-status", {"status": status_value}, "REKO-statusen är sparad.")

    @pages.post("/patients/{case_id}/consent")
    async def record_consent(
        request: Request,
        case_id: str,
        user: Annotated[AuthenticatedUser, Depends(session.checked_form)],
        decision: Annotated[str, Form()],
        decided_on: Annotated[str, Form()],
        scopes: Annotated[list[str] | None, Form()] = None,
    ) -> Response:
        if not scopes:
            await unit_of(request, user, case_id)
            return back_to_patient(case_id, False, "Välj vad samtycket gäller.")
        body = {"scopes": scopes, "decision": decision, "decidedOn": decided_on}
        return await record_on_case(request, user, case_id, "POST", "consent", body, "Samtycket är registrerat.")

    @pages.post("/patients/{case_id}/contacts")
    async def record_contact(
        request: Request,
        case_id: str,
        user: Annotated[AuthenticatedUser, Depends(session.checked_form)],
        kind: Annotated[str, Form()],
        contact_on: Annotated[str, Form()],
        note: Annotated[str, Form(max_length=4000)] = "",
    ) -> Response:
        body = {"kind": kind, "contactOn": contact_on, "note": note}
        return await record_on_case(request, user, case_id, "POST", "contacts", body, "Kontakten är sparad.")

    @pages.post("/patients/{case_id}/plan")
    async def save_plan(
        request: Request,
        case_id: str,
        user: Annotated[AuthenticatedUser, Depends(session.checked_form)],
        goal: Annotated[str, Form(max_length=2000)],
        next_step: Annotated[str, Form(max_length=500)],
        next_step_on: Annotated[str, Form()],
        owner: Annotated[str, Form()],
        steps: Annotated[str, Form(max_length=8000)] = "",
    ) -> Response:
        body = {
            "goal": goal,
            "agreedSteps": [line.strip() for line in steps.splitlines() if line.strip()],
            "nextStep": {"description": next_step, "dueOn": next_step_on, "owner": owner},
        }
        return await record_on_case(request, user, case_id, "PUT", "plan", body, "Planen är sparad.")

    @pages.post("/patients/{case_id}/alerts/{alert_id}/{action}")
    async def alert_attention(
        request: Request,
        case_id: str,
        alert_id: str,
        action: str,
        user: Annotated[AuthenticatedUser, Depends(session.checked_form)],
        remind_on: Annotated[str, Form()] = "",
    ) -> Response:
        if action not in ("seen", "handled"):
            raise PageRefused(status.HTTP_404_NOT_FOUND, "Sidan finns inte.")
        await unit_of(request, user, case_id)
        body = {"remindOn": remind_on} if action == "handled" and remind_on else None
        done, text = await through_api(request, "POST", f"/alerts/{quote(alert_id, safe='')}/{action}", body)
        return back_to_patient(
            case_id, done, ("Larmet är markerat som sett." if action == "seen" else "Larmet är markerat som hanterat.") if done else text
        )

    @pages.get("/preferences", response_class=HTMLResponse)
    async def preferences_page(
        request: Request,
        user: Annotated[AuthenticatedUser, Depends(session.user)],
        message: Annotated[str | None, Query(max_length=300)] = None,
        problem: Annotated[str | None, Query(max_length=300)] = None,
    ) -> HTMLResponse:
        """Her own mail: where it goes, for which of her units, at once or only in the daily digest."""
        _refuse_unless(user, WORKLIST_READERS, "Inställningarna för e-post")
        async with runtime.pool.acquire() as conn:
            stored = await delivery_repository.preferences_of(conn, user.hsa_id)
        context = {
            "stored": stored,
            "units": sorted(user.care_units),
            "default_digest_time": settings.mail.default_digest_time,
            "message": message,
            "problem": problem,
        }
        return session.render(request, "preferences.html", context, user=user)

    @pages.post("/preferences")
    async def save_preferences(
        request: Request,
        user: Annotated[AuthenticatedUser, Depends(session.checked_form)],
        email: Annotated[str, Form(max_length=254)],
        digest_time: Annotated[str, Form(max_length=5)],
        units: Annotated[list[str] | None, Form()] = None,
        immediate: Annotated[str | None, Form(max_length=1)] = None,
    ) -> Response:
        _refuse_unless(user, WORKLIST_READERS, "Inställningarna för e-post")
        body = {"email": email, "careUnitHsaIds": units or [], "immediate": immediate == "1", "digestTime": digest_time or None}
        done, text = await through_api(request, "PUT", f"/coordinators/{quote(user.hsa_id, safe='')}/notification-preferences", body)
        query = urlencode({"message": "Inställningarna är sparade."} if done else {"problem": text})
        return RedirectResponse(f"/preferences?{query}", status_code=status.HTTP_303_SEE_OTHER)

    @pages.get("/team-meeting", response_class=HTMLResponse)
    async def team_meeting(
        request: Request,
        user: Annotated[AuthenticatedUser, Depends(session.user)],
        unit: Annotated[str | None, Query(max_length=64)] = None,
        since: date | None = None,
        print_view: Annotated[str | None, Query(alias="print", max_length=1)] = None,
    ) -> HTMLResponse:
        _refuse_unless(user, PATIENT_READERS, "Bedömningsteamets lista")
        today = runtime.clock.today()
        units = sorted(user.care_units)
        chosen = unit or (units[0] if units else None)
        if chosen is None or chosen not in units:
            raise PageRefused(status.HTTP_403_FORBIDDEN, "Du arbetar inte för den vårdenheten.")
        last_meeting = since or default_last_meeting(today)
        printing = print_view == "1"
        async with runtime.pool.acquire() as conn, conn.transaction():
            works = await attention_store.worklist(conn, [chosen], user.hsa_id, today)
            cases = [case for work in works for case in work.cases if case.care_unit_hsa_id == chosen and case.end >= last_meeting]
            alerts = [_open_alert(item, {}) for work in works for item in work.alerts]
            listing = await identity_listing(conn, sorted({case.patient_pseudonym for case in cases}), storage_cipher(settings), today)
            protected = {case.patient_pseudonym for case in cases if case.protected_identity or _is_protected(case.patient_pseudonym, listing)}
            items = meeting_items([_worklist_case(case, alerts, today) for case in cases], alerts, protected, last_meeting=last_meeting, today=today)
            listed = [item for item in items if not item.protected_identity]
            resource = AccessResource.TEAM_MEETING_PRINT if printing else AccessResource.TEAM_MEETING
            await _log(conn, user, chosen, resource, [item.case.patient_pseudonym for item in listed], request.url.path)
        hidden = len(items) - len(listed)
        rows = [{"case": item.case, "reasons": item.reasons, "shown": _shown_name(item.case.patient_pseudonym, listing)} for item in listed]
        context = {
            "unit": chosen,
            "units": units,
            "today": today,
            "last_meeting": last_meeting,
            "printing": printing,
            "items": rows,
            "protected_text": (f"{hidden} patient med skyddad identitet" if hidden == 1 else f"{hidden} patienter med skyddad identitet")
            if hidden
            else None,
        }
        return session.render(request, "team_meeting.html", context, user=user)

    return pages


def _is_protected(pseudonym: str, listing: IdentityListing) -> bool:
    person = _person(pseudonym, listing)
    return person is not None and person.protected_identity


def _shown_name(pseudonym: str, listing: IdentityListing) -> str:
    shown = listing.shown.get(pseudonym)
    return shown.personnummer if shown is not None else "Identitet saknas"


def _refusal_text(answer: httpx.Response) -> str:
    """The API's refusal in words for the page: its own Swedish sentence where it has one."""
    try:
        detail = answer.json().get("detail")
    except ValueError:
        detail = None
    if answer.status_code == status.HTTP_403_FORBIDDEN:
        return "Du har inte behörighet att göra det här för vårdenheten."
    if answer.status_code == status.HTTP_404_NOT_FOUND:
        return detail if isinstance(detail, str) and not detail.isascii() else "Det finns inte längre."
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        problems = [f"{item.get('field', '')}: {item.get('problem', '')}" for item in detail if isinstance(item, dict)]
        return "Uppgifterna kunde inte sparas: " + "; ".join(problems)
    return "Det gick inte att spara."


def install(app: FastAPI, runtime: ServiceRuntime, settings: NotificationsSettings) -> None:
    """The pages and their sign-in on the service's app."""
    session = PageSession(settings.auth, settings.pages, page_templates(TEMPLATES), service_title="Rehabkoordinering", home="/worklist")
    session.install(app)
    app.include_router(router(runtime, settings, session, app))

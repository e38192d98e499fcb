"""Every route and page of notifications, called by every kind of user, on a running service (real
PostgreSQL and broker): who gets an answer and who is refused (docs/worklist.md §1, casework.md §4,
alert-lifecycle.md §2, coordinators.md §2, alert-channels.md §6, http-api.md), that no refusal
carries patient data, and that every view of patient data is access-logged before it is shown.

Each call gets a world of its own (a care unit, a patient with a case, an alert and an identity, a
coordinator with her preferences and plan, a webhook subscription), so a write that succeeds never
changes what the next call finds. A route the table does not classify fails the test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.routing import APIRoute

from reko.stack import create_database
from services.notifications import case_facts_store, coordinator_store, delivery_repository, repository
from services.notifications.app import create_app
from services.notifications.case_facts import CaseFacts
from services.notifications.coordinators import Coordinator
from services.notifications.deliveries import SubscriptionScope, WebhookSubscription
from services.notifications.delivery_repository import ContactPreferences
from services.notifications.identity_store import StoredIdentity, save_identities
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import STOCKHOLM
from shared.contracts.alerts import AlertChanged, AlertState
from shared.contracts.cases import CaseStatus, DegreeSpan
from shared.db import create_pool
from shared.identity_crypto import IdentityCipher
from shared.pages import SESSION_COOKIE, csrf_token
from shared.settings import Topics
from tests.support import WOMAN

pytestmark = pytest.mark.integration

SECRET = "authorisation-sweep-test-secret-not-for-production-0123"
TODAY = date(2026, 3, 15)
NOW = datetime.combine(TODAY, time(12), tzinfo=STOCKHOLM)
STORAGE_KEY = Fernet.generate_key().decode()
DIAGNOSIS = "F43.2"
# The personnummer in every form it may be written in.
PERSONNUMMER_FORMS = (WOMAN, f"{WOMAN[:8]}-{WOMAN[8:]}", f"{WOMAN[2:8]}-{WOMAN[8:]}", WOMAN[2:], f"{WOMAN[2:8]}+{WOMAN[8:]}")
# Not the product's own routes: operations, the OpenAPI documents, and the sign-in itself.
UNCLASSIFIED_PREFIXES = ("/health/", "/docs", "/sign-in")
UNCLASSIFIED_PATHS = frozenset({"/metrics", "/asyncapi.json", "/openapi.json", "/redoc", "/sign-out"})

# The callers, in the order of the table's columns.
COORDINATOR, DOCTOR, MANAGER, REGION, AUDITOR, SOURCE, OTHER_COORDINATOR, ANONYMOUS = CALLERS = (
    "the unit's coordinator",
    "the unit's doctor",
    "the unit's verksamhetschef",
    "the regional office",
    "the auditor",
    "a certificate source",
    "another unit's coordinator",
    "no one signed in",
)
ROLE_OF = {
    COORDINATOR: Role.REHABKOORDINATOR,
    DOCTOR: Role.LAKARE,
    MANAGER: Role.VERKSAMHETSCHEF,
    REGION: Role.REGIONKONTOR,
    AUDITOR: Role.GRANSKARE,
    SOURCE: Role.CERTIFICATE_SOURCE,
    OTHER_COORDINATOR: Role.REHABKOORDINATOR,
}
# Who may see this patient at all; every other caller's every answer is searched for patient data.
ENTITLED = frozenset({COORDINATOR, DOCTOR})
# A page form whose change the page refused and shows as a message ("…?problem=").
REFUSED_ON_PAGE = "303 problem"
SUCCESS = frozenset({200, 201, 204, 303})
REFUSALS = frozenset({401, 403, 404, REFUSED_ON_PAGE})

# fmt: off
# (method, path template, variant) -> expected answer per caller. Every caller acts for the unit
# except another unit's coordinator, so a role is refused for what it is, not for a missing unit.
#                                                                  coord  doctor chef  region audit  source other  anon
EXPECTED: dict[tuple[str, str, str], tuple[int | str, ...]] = {
    ("GET", "/status", ""):                                          (200,  200,  200,  200,  200,  200,  200,  200),
    ("GET", "/access-log", ""):                                      (403,  403,  403,  403,  200,  403,  403,  401),
    # alerts: for the unit's coordinators only (http-api.md §2.1, alert-lifecycle.md §2)
    ("GET", "/units/{care_unit_hsa_id}/alerts", ""):                 (200,  403,  403,  403,  403,  403,  403,  401),
    ("GET", "/alerts", ""):                                          (200,  403,  403,  403,  403,  403,  200,  401),
    ("POST", "/alerts/{alert_id}/seen", ""):                         (200,  403,  403,  403,  403,  403,  404,  401),
    ("POST", "/alerts/{alert_id}/handled", ""):                      (200,  403,  403,  403,  403,  403,  404,  401),
    # casework: the unit's coordinators read and write, its doctors read (casework.md §4)
    ("GET", "/units/{care_unit_hsa_id}/cases/{case_id}/reko-status", ""):  (200, 200, 403, 403, 403, 403, 403, 401),
    ("PUT", "/units/{care_unit_hsa_id}/cases/{case_id}/reko-status", ""):  (200, 403, 403, 403, 403, 403, 403, 401),
    ("GET", "/units/{care_unit_hsa_id}/cases/{case_id}/consent", ""):      (200, 200, 403, 403, 403, 403, 403, 401),
    ("POST", "/units/{care_unit_hsa_id}/cases/{case_id}/consent", ""):     (201, 403, 403, 403, 403, 403, 403, 401),
    ("GET", "/units/{care_unit_hsa_id}/cases/{case_id}/contacts", ""):     (200, 200, 403, 403, 403, 403, 403, 401),
    ("POST", "/units/{care_unit_hsa_id}/cases/{case_id}/contacts", ""):    (201, 403, 403, 403, 403, 403, 403, 401),
    ("GET", "/units/{care_unit_hsa_id}/cases/{case_id}/plan", ""):         (200, 200, 403, 403, 403, 403, 403, 401),
    ("PUT", "/units/{care_unit_hsa_id}/cases/{case_id}/plan", ""):         (200, 403, 403, 403, 403, 403, 403, 401),
    ("POST", "/units/{care_unit_hsa_id}/cases/{case_id}/plan/next-step/done", ""): (200, 403, 403, 403, 403, 403, 403, 401),
    # coordinators and stand-ins (coordinators.md §2)
    ("GET", "/coordinators/{hsa_id}", ""):                           (200,  200,  200,  403,  403,  403,  404,  401),
    ("PUT", "/coordinators/{hsa_id}", ""):                           (200,  403,  200,  403,  403,  403,  403,  401),
    # the record sent back as it is stored confirms it only to those who could change it
    ("PUT", "/coordinators/{hsa_id}", "unchanged"):                  (200,  403,  200,  403,  403,  403,  403,  401),
    ("DELETE", "/coordinators/{hsa_id}", ""):                        (403,  403,  204,  403,  403,  403,  404,  401),
    ("GET", "/units/{care_unit_hsa_id}/coordinators", ""):           (200,  200,  200,  403,  403,  403,  403,  401),
    ("PUT", "/units/{care_unit_hsa_id}/coordinators/{hsa_id}", ""):  (403,  403,  200,  403,  403,  403,  403,  401),
    ("DELETE", "/units/{care_unit_hsa_id}/coordinators/{hsa_id}", ""): (403, 403, 204,  403,  403,  403,  403,  401),
    # her mail (alert-channels.md §6): herself only
    ("PUT", "/coordinators/{coordinator_hsa_id}/notification-preferences", ""): (200, 403, 403, 403, 403, 403, 403, 401),
    ("GET", "/coordinators/{coordinator_hsa_id}/notification-preferences", ""): (200, 403, 403, 403, 403, 403, 403, 401),
    ("GET", "/coordinators/{coordinator_hsa_id}/mail-deliveries", ""):          (200, 403, 403, 403, 403, 403, 403, 401),
    # webhooks (alert-channels.md §3): the regional office, and a unit's coordinators and chef for the unit
    ("POST", "/webhook-subscriptions", ""):                          (201,  403,  201,  201,  403,  403,  403,  401),
    ("GET", "/webhook-subscriptions", ""):                           (200,  403,  200,  200,  403,  403,  200,  401),
    ("GET", "/webhook-subscriptions/{subscription_id}", ""):         (200,  403,  200,  200,  403,  403,  404,  401),
    ("DELETE", "/webhook-subscriptions/{subscription_id}", ""):      (204,  403,  204,  204,  403,  403,  404,  401),
    ("GET", "/webhook-subscriptions/{subscription_id}/deliveries", ""): (200, 403, 200, 200,  403,  403,  404,  401),
    # pages (worklist.md §1): a doctor reads the patient page without its forms
    ("GET", "/", ""):                                                (303,  303,  303,  303,  303,  303,  303,  303),
    ("GET", "/worklist", ""):                                        (200,  403,  403,  403,  403,  403,  200,  401),
    ("GET", "/patients/{case_id}", ""):                              (200,  200,  403,  403,  403,  403,  404,  401),
    ("POST", "/patients/{case_id}/reko-status", ""):                 (303,  403,  403,  403,  403,  403,  404,  401),
    ("POST", "/patients/{case_id}/consent", ""):                     (303,  403,  403,  403,  403,  403,  404,  401),
    ("POST", "/patients/{case_id}/contacts", ""):                    (303,  403,  403,  403,  403,  403,  404,  401),
    ("POST", "/patients/{case_id}/plan", ""):                        (303,  403,  403,  403,  403,  403,  404,  401),
    ("POST", "/patients/{case_id}/alerts/{alert_id}/{action}", "seen"):    (303, 403, 403, 403, 403, 403, 404, 401),
    ("POST", "/patients/{case_id}/alerts/{alert_id}/{action}", "handled"): (303, 403, 403, 403, 403, 403, 404, 401),
    ("GET", "/preferences", ""):                                     (200,  403,  403,  403,  403,  403,  200,  401),
    ("POST", "/preferences", ""):                                    (303,  403,  403,  403,  403,  403,  303,  401),
    ("GET", "/team-meeting", ""):                                    (200,  200,  403,  403,  403,  403,  403,  401),
    ("GET", "/team-meeting", "print"):                               (200,  200,  403,  403,  403,  403,  403,  401),
}
# fmt: on

# The views and prints of patient-level data: each answer that shows the patient writes one
# access-log row naming her and the unit acted for (http-api.md §2.3, worklist.md §2-§4).
PATIENT_LEVEL = frozenset(
    key
    for key in EXPECTED
    if key[1] in ("/worklist", "/patients/{case_id}", "/team-meeting", "/alerts", "/units/{care_unit_hsa_id}/alerts")
    or key[1].startswith(("/alerts/", "/units/{care_unit_hsa_id}/cases/", "/patients/"))
)
# The auditor's answer is the log itself, which names patients by pseudonym (http-api.md §4).
MAY_NAME_PSEUDONYMS = frozenset({(AUDITOR, ("GET", "/access-log", ""))})


@dataclass
class Service:
    app: FastAPI
    pool: asyncpg.Pool

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://notifications")


@dataclass
class World:
    """One care unit with one patient, and everything a route may be asked about there."""

    unit: str
    other_unit: str
    patient: str
    case_id: str
    alert_id: str
    subscription_id: str
    hsa_ids: dict[str, str] = field(default_factory=dict)

    @property
    def coordinator(self) -> str:
        return self.hsa_ids[COORDINATOR]

    def units_of(self, caller: str) -> list[str]:
        return [self.other_unit] if caller == OTHER_COORDINATOR else [self.unit]

    def token(self, caller: str) -> str:
        return issue_token(SECRET, self.hsa_ids[caller], [ROLE_OF[caller]], self.units_of(caller), timedelta(hours=8))


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, postgres_server_url: str) -> AsyncIterator[Service]:
    name = f"t{uuid.uuid4().hex[:12]}"
    database_url = await create_database(postgres_server_url, name)
    settings = NotificationsSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        topics=Topics(prefix=f"{name}."),
        consumer_group_prefix=f"{name}.",
        clock=f"fixed:{NOW.isoformat()}",
        identity_keys=Fernet.generate_key().decode(),  # type: ignore[arg-type]  # why: pydantic coerces the plain key
        identity_storage_keys=STORAGE_KEY,  # type: ignore[arg-type]  # why: as above
        auth=AuthSettings(jwt_secret=SECRET),  # type: ignore[arg-type]  # why: pydantic coerces the plain secret
        log_format="json",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pool = await create_pool(database_url, "notifications", size=2)
        yield Service(app, pool)
        await pool.close()


async def new_world(service: Service) -> World:
    """A unit whose patient has an ongoing case, a due day-90 checkpoint, a stored identity and a
    plan; its coordinator in the registry with her mail preferences; a webhook subscription of the unit."""
    tag = uuid.uuid4().hex[:10]
    world = World(
        unit=f"SE2321000000-E{tag}",
        other_unit=f"SE2321000000-F{tag}",
        patient=uuid.uuid4().hex + uuid.uuid4().hex,
        case_id=f"case-{tag}",
        alert_id=f"case-{tag}:CHAIN_DAY_90:2026-03-09",
        subscription_id=str(uuid.uuid4()),
        hsa_ids={caller: f"SE2321000000-U{number}{tag}" for number, caller in enumerate(CALLERS)},
    )
    facts = CaseFacts(
        case_id=world.case_id,
        patient_pseudonym=world.patient,
        patient_revision=1,
        care_unit_hsa_id=world.unit,
        care_provider_hsa_id="SE2321000000-1000",
        start=date(2025, 12, 10),
        end=date(2026, 4, 30),
        certified_days=142,
        main_diagnosis_code=DIAGNOSIS,
        diagnosis_group="psychiatric",
        degrees=(DegreeSpan(start=date(2025, 12, 10), end=date(2026, 4, 30), degree=100),),
        certificate_ids=(f"{world.case_id}-c1",),
        status=CaseStatus.ACTIVE,
        protected_identity=False,
        # The unit's doctor signed the latest certificate: the patient is theirs (http-api.md §2.1).
        doctor_hsa_id=world.hsa_ids[DOCTOR],
    )
    alert = AlertChanged(
        alert_id=world.alert_id,
        care_unit_hsa_id=world.unit,
        addressed_to=f"rehabkoordinatorer:{world.unit}",
        case_id=world.case_id,
        kind="CHAIN_DAY_90",
        milestone_status="DUE",
        due_date=date(2026, 3, 9),
        title="Dag 90",
        created=NOW - timedelta(days=6),
        state=AlertState.OPEN,
        revision=1,
        announce=True,
    )
    cipher = IdentityCipher.from_setting(STORAGE_KEY)
    assert cipher is not None
    token, key_id = cipher.encrypt(WOMAN)
    async with service.pool.acquire() as conn:
        await case_facts_store.save_case_facts(conn, [facts])
        await repository.save_alerts(conn, [alert], {alert.alert_id: world.patient})
        await save_identities(conn, [StoredIdentity(world.patient, token, key_id, False, 1)])
        await coordinator_store.save_coordinator(
            conn, Coordinator(hsa_id=world.coordinator, name="Anna Andersson", care_units=frozenset({world.unit})), by="test"
        )
        await delivery_repository.save_preferences(
            conn, ContactPreferences(world.coordinator, "anna@example.org", (world.unit,), True, time(8), updated_by="test")
        )
        subscription = WebhookSubscription(world.subscription_id, SubscriptionScope.UNIT, "https://hooks.invalid/reko", world.unit)
        await delivery_repository.create_subscription(conn, subscription, "whsec_dGVzdA==", "test")
    async with service.client() as http:
        planned = await http.put(
            f"/units/{world.unit}/cases/{world.case_id}/plan",
            json={"goal": "Åter i arbete", "nextStep": {"description": "Ring patienten", "dueOn": "2026-04-01", "owner": "REHABKOORDINATOR"}},
            headers={"authorization": f"Bearer {world.token(COORDINATOR)}"},
        )
    assert planned.status_code == 200, planned.text
    return world


def path_of(template: str, variant: str, world: World) -> str:
    """The template filled from the world; a parameter nobody has named fails the test."""
    values = {
        "care_unit_hsa_id": world.unit,
        "case_id": world.case_id,
        "alert_id": world.alert_id,
        "hsa_id": world.coordinator,
        "coordinator_hsa_id": world.coordinator,
        "subscription_id": world.subscription_id,
        "action": variant,
    }
    return template.format(**values)


Body = Callable[[World, str], dict[str, Any]]

# Minimal valid bodies (JSON for the API, the form's fields for a page).
API_BODIES: dict[tuple[str, ...], Body] = {
    ("PUT", "/units/{care_unit_hsa_id}/cases/{case_id}/reko-status"): lambda w, c: {"status": "Kontaktad"},
    ("POST", "/units/{care_unit_hsa_id}/cases/{case_id}/consent"): lambda w, c: {
        "scopes": ["COORDINATION"],
        "decision": "GIVEN",
        "decidedOn": "2026-03-10",
    },
    ("POST", "/units/{care_unit_hsa_id}/cases/{case_id}/contacts"): lambda w, c: {
        "kind": "KARTLAGGNINGSSAMTAL",
        "contactOn": "2026-03-14",
        "note": "Samtal",
    },
    ("PUT", "/units/{care_unit_hsa_id}/cases/{case_id}/plan"): lambda w, c: {
        "goal": "Åter i arbete",
        "agreedSteps": ["Kartläggningssamtal"],
        "nextStep": {"description": "Boka trepartssamtal", "dueOn": "2026-04-02", "owner": "REHABKOORDINATOR"},
    },
    ("POST", "/units/{care_unit_hsa_id}/cases/{case_id}/plan/next-step/done"): lambda w, c: {"doneOn": "2026-03-15"},
    ("POST", "/alerts/{alert_id}/handled"): lambda w, c: {"remindOn": "2026-03-20"},
    ("PUT", "/coordinators/{hsa_id}"): lambda w, c: {
        "name": "Anna Andersson",
        "careUnits": [w.unit],
        "standIns": [{"standInHsaId": "SE2321000000-3999", "from": "2026-04-01", "to": "2026-04-10"}],
    },
    ("PUT", "/coordinators/{hsa_id}", "unchanged"): lambda w, c: {"name": "Anna Andersson", "careUnits": [w.unit], "standIns": []},
    ("PUT", "/coordinators/{coordinator_hsa_id}/notification-preferences"): lambda w, c: {"email": "anna@example.org", "careUnitHsaIds": [w.unit]},
    ("POST", "/webhook-subscriptions"): lambda w, c: {"scope": "UNIT", "careUnitHsaId": w.unit, "url": "https://hooks.invalid/reko"},
}
PAGE_FORMS: dict[tuple[str, str], Body] = {
    ("POST", "/patients/{case_id}/reko-status"): lambda w, c: {"status": "Kontaktad"},
    ("POST", "/patients/{case_id}/consent"): lambda w, c: {"decision": "GIVEN", "decided_on": "2026-03-10", "scopes": ["COORDINATION"]},
    ("POST", "/patients/{case_id}/contacts"): lambda w, c: {"kind": "KARTLAGGNINGSSAMTAL", "contact_on": "2026-03-14", "note": "Samtal"},
    ("POST", "/patients/{case_id}/plan"): lambda w, c: {
        "goal": "Åter i arbete",
        "steps": "Kartläggningssamtal",
        "next_step": "Boka trepartssamtal",
        "next_step_on": "2026-04-02",
        "owner": "REHABKOORDINATOR",
    },
    ("POST", "/patients/{case_id}/alerts/{alert_id}/{action}"): lambda w, c: {},
    # Her own mail, for the units she acts for: each caller asks for their own.
    ("POST", "/preferences"): lambda w, c: {"email": "anna@example.org", "digest_time": "08:15", "units": w.units_of(c), "immediate": "1"},
}
QUERIES: dict[tuple[str, str, str], Callable[[World], dict[str, str]]] = {
    ("GET", "/team-meeting", ""): lambda w: {"unit": w.unit, "since": "2025-12-01"},
    ("GET", "/team-meeting", "print"): lambda w: {"unit": w.unit, "since": "2025-12-01", "print": "1"},
}
PAGES = ("/", "/worklist", "/patients/", "/preferences", "/team-meeting")


def is_page(template: str) -> bool:
    return template == "/" or template.startswith(PAGES[1:])


def classified_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) of the app, routers included, but operations and sign-in."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                if route.path in UNCLASSIFIED_PATHS or route.path.startswith(UNCLASSIFIED_PREFIXES):
                    continue
                found.update((method, route.path) for method in route.methods)
            elif hasattr(route, "original_router"):
                # FastAPI keeps an included router whole; its routes carry their full paths.
                walk(route.original_router.routes)

    walk(app.routes)
    return found


async def call(service: Service, world: World, caller: str, key: tuple[str, str, str]) -> httpx.Response:
    method, template, variant = key
    path = path_of(template, variant, world)
    query = QUERIES.get(key, lambda w: {})(world)
    async with service.client() as http:
        if is_page(template):
            if caller != ANONYMOUS:
                signed_in = await http.post("/sign-in", data={"token": world.token(caller), "next": "/worklist"})
                assert signed_in.status_code == 303, (caller, signed_in.status_code)
            if method == "GET":
                return await http.get(path, params=query)
            fields = PAGE_FORMS[(method, template)](world, caller)
            if SESSION_COOKIE in http.cookies:
                fields = {"csrf": csrf_token(http.cookies[SESSION_COOKIE]), **fields}
            return await http.request(method, path, data=fields)
        headers = {} if caller == ANONYMOUS else {"authorization": f"Bearer {world.token(caller)}"}
        body = API_BODIES.get(key) or API_BODIES.get((method, template))
        return await http.request(method, path, params=query, headers=headers, json=body(world, caller) if body else None)


def outcome(answer: httpx.Response) -> int | str:
    if answer.status_code == 303 and "problem=" in answer.headers.get("location", ""):
        return REFUSED_ON_PAGE
    return answer.status_code


def patient_data_in(answer: httpx.Response, world: World) -> list[str]:
    shown = answer.text + answer.headers.get("location", "")
    return [what for what in (*PERSONNUMMER_FORMS, world.patient, DIAGNOSIS) if what in shown]


async def log_rows(service: Service, world: World, caller: str) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """The access-log rows written by the caller, and those naming the world's patient."""
    async with service.pool.acquire() as conn:
        by_caller = await conn.fetch("SELECT * FROM access_log WHERE user_hsa_id = $1 ORDER BY id", world.hsa_ids[caller])
        naming = await conn.fetch("SELECT * FROM access_log WHERE $1 = ANY(patient_pseudonyms) ORDER BY id", world.patient)
    return list(by_caller), list(naming)


def test_every_route_and_page_is_in_the_table(service: Service) -> None:
    routes = classified_routes(service.app)
    tabled = {(method, path) for method, path, _ in EXPECTED}
    assert routes - tabled == set(), "a route nobody has classified: add it to EXPECTED with who may call it"
    assert tabled - routes == set(), "the table names a route the service no longer has"
    assert all(len(row) == len(CALLERS) for row in EXPECTED.values())


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda key: f"{key[0]} {key[1]}{' ' + key[2] if key[2] else ''}")
async def test_each_caller_gets_what_the_table_says_and_no_refusal_shows_the_patient(service: Service, key: tuple[str, str, str]) -> None:
    problems: list[str] = []
    for caller, expected in zip(CALLERS, EXPECTED[key], strict=True):
        world = await new_world(service)
        by_caller_before, naming_before = await log_rows(service, world, caller)
        answer = await call(service, world, caller, key)
        got = outcome(answer)
        by_caller_after, naming_after = await log_rows(service, world, caller)
        new_by_caller = by_caller_after[len(by_caller_before) :]
        new_naming = naming_after[len(naming_before) :]
        if got != expected:
            problems.append(f"{caller}: expected {expected}, got {got}")
            continue
        searched = (got in REFUSALS or caller not in ENTITLED) and (caller, key) not in MAY_NAME_PSEUDONYMS
        if searched and (leaked := patient_data_in(answer, world)):
            problems.append(f"{caller}: the {got} answer shows patient data ({len(leaked)} of its forms)")
        shows_patient = got in SUCCESS and caller in ENTITLED and key in PATIENT_LEVEL
        if shows_patient:
            logged = [row for row in new_by_caller if world.patient in row["patient_pseudonyms"] and row["care_unit_hsa_id"] == world.unit]
            if len(logged) != 1 or len(new_naming) != 1:
                problems.append(f"{caller}: {len(logged)} access-log rows by the caller naming the patient at the unit, {len(new_naming)} naming her")
        elif got in REFUSALS and new_by_caller:
            problems.append(f"{caller}: a refused request wrote {len(new_by_caller)} access-log rows")
        elif new_naming or (key not in PATIENT_LEVEL and new_by_caller):
            problems.append(f"{caller}: an answer without the patient wrote access-log rows")
    assert not problems, "\n".join(problems)


async def test_the_search_for_patient_data_finds_it_where_it_is_shown(service: Service) -> None:
    world = await new_world(service)
    page = await call(service, world, COORDINATOR, ("GET", "/patients/{case_id}", ""))
    assert page.status_code == 200
    assert set(patient_data_in(page, world)) >= {f"{WOMAN[:8]}-{WOMAN[8:]}", DIAGNOSIS}, "the check would see a leak"


@pytest.mark.parametrize("record", ["reko-status", "consent", "contacts", "plan"])
async def test_another_units_coordinator_naming_her_own_unit_reads_nothing_of_the_patient(service: Service, record: str) -> None:
    world = await new_world(service)
    async with service.client() as http:
        kept = await http.put(
            f"/units/{world.unit}/cases/{world.case_id}/reko-status",
            json={"status": "Kontaktad"},
            headers={"authorization": f"Bearer {world.token(COORDINATOR)}"},
        )
        assert kept.status_code == 200
    _, naming_before = await log_rows(service, world, OTHER_COORDINATOR)
    async with service.client() as http:
        answer = await http.get(
            f"/units/{world.other_unit}/cases/{world.case_id}/{record}", headers={"authorization": f"Bearer {world.token(OTHER_COORDINATOR)}"}
        )
    _, naming_after = await log_rows(service, world, OTHER_COORDINATOR)
    # The unit's own REKO status of a case it has never held is "-"; its patient's records are unknown there.
    assert answer.status_code == (200 if record == "reko-status" else 404)
    assert patient_data_in(answer, world) == []
    assert "Kontaktad" not in answer.text
    assert naming_after == naming_before


async def test_nobody_else_makes_an_empty_coordinator_record(service: Service) -> None:
    world = await new_world(service)
    unknown = f"SE2321000000-N{uuid.uuid4().hex[:10]}"
    async with service.client() as http:
        for caller in (DOCTOR, MANAGER, OTHER_COORDINATOR):
            answer = await http.put(f"/coordinators/{unknown}", json={}, headers={"authorization": f"Bearer {world.token(caller)}"})
            assert answer.status_code == 403, caller
    async with service.pool.acquire() as conn:
        assert await coordinator_store.coordinator(conn, unknown) is None

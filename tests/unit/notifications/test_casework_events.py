"""The coordinator's records as published events: codes, dates, ids, who and when, and never a note,
a goal, a step's text or a personnummer."""

from datetime import UTC, date, datetime
from uuid import uuid4

from services.notifications.casework_events import EVENT_TYPES, consent_recorded, contact_logged, plan_changed, reko_status_changed
from services.notifications.consent import ConsentDecision, ConsentRecord, ConsentScope
from services.notifications.contact_log import Contact, ContactKind, ContactParty
from services.notifications.rehabilitation_plan import NextStep, NextStepOwner, PlanVersion
from services.notifications.reko_status import RekoStatus, RekoStatusChange
from shared.contracts.casework import (
    CASEWORK_EVENT,
    CONSENT_RECORDED_TYPE,
    CONTACT_LOGGED_TYPE,
    PLAN_CHANGED_TYPE,
    REKO_STATUS_CHANGED_TYPE,
    ConsentRecorded,
    ContactLogged,
    RehabilitationPlanChanged,
    RekoStatusChanged,
)
from shared.contracts.envelope import encode_event

NOW = datetime(2026, 3, 15, 11, 0, tzinfo=UTC)
UNIT = "SE2321000000-1001"
COORDINATOR = "SE2321000000-3001"
PATIENT = "ab" * 32
PERSONNUMMER = "19121212-1212"
NOTE = f"Patienten ({PERSONNUMMER}) berättade om konflikten med chefen"
GOAL = "Tillbaka i arbete på halvtid i maj"
STEP = "Ring arbetsgivaren om anpassade uppgifter"


def a_plan(next_step: NextStep | None) -> PlanVersion:
    return PlanVersion(
        plan_id="plan-1",
        version=3,
        case_id="c-1",
        patient_pseudonym=PATIENT,
        care_unit_hsa_id=UNIT,
        goal=GOAL,
        agreed_steps=(STEP, "Trepartssamtal"),
        next_step=next_step,
        recorded_by=COORDINATOR,
        recorded_at=NOW,
    )


def a_contact() -> Contact:
    return Contact(
        contact_id="contact-1",
        case_id="c-1",
        patient_pseudonym=PATIENT,
        care_unit_hsa_id=UNIT,
        kind=ContactKind.TREPARTSSAMTAL,
        parties=(ContactParty.EMPLOYER,),
        contact_on=date(2026, 3, 12),
        note=NOTE,
        recorded_by=COORDINATOR,
        recorded_at=NOW,
    )


def wire(event: RekoStatusChanged | ConsentRecorded | RehabilitationPlanChanged | ContactLogged) -> str:
    return encode_event(
        event_id=uuid4(), source="urn:reko:notifications", event_type=EVENT_TYPES[type(event)], time=NOW, subject="c-1", data=event
    ).decode()


def test_a_reko_status_change_carries_the_status_name_and_code_who_when_and_its_place_in_the_history():
    change = RekoStatusChange(case_id="c-1", care_unit_hsa_id=UNIT, status=RekoStatus.UPPFOLJNING, changed_by=COORDINATOR, changed_at=NOW)

    event = reko_status_changed(change, PATIENT, revision=2)

    assert (event.kind, event.status, event.code, event.revision) == ("REKO_STATUS", "Uppföljning", "REKO_4", 2)
    assert (event.case_id, event.patient_pseudonym, event.care_unit_hsa_id, event.recorded_by, event.recorded_at) == (
        "c-1",
        PATIENT,
        UNIT,
        COORDINATOR,
        NOW,
    )


def test_a_reko_status_of_a_case_whose_patient_is_unknown_names_no_patient():
    change = RekoStatusChange(case_id="c-1", care_unit_hsa_id=UNIT, status=RekoStatus.KONTAKTAD, changed_by=COORDINATOR, changed_at=NOW)

    assert reko_status_changed(change, None, revision=1).patient_pseudonym is None


def test_a_consent_decision_carries_its_scope_decision_and_date():
    decision = ConsentRecord(
        patient_pseudonym=PATIENT,
        care_unit_hsa_id=UNIT,
        scope=ConsentScope.EMPLOYER,
        decision=ConsentDecision.WITHDRAWN,
        decided_on=date(2026, 3, 14),
        recorded_by=COORDINATOR,
        recorded_at=NOW,
    )

    event = consent_recorded("c-1", decision)

    assert (event.kind, event.scope, event.decision, event.decided_on, event.case_id) == (
        "CONSENT",
        "EMPLOYER",
        "WITHDRAWN",
        date(2026, 3, 14),
        "c-1",
    )


def test_a_plan_version_carries_its_number_and_the_next_steps_date_owner_and_done_date_but_no_text():
    plan = a_plan(NextStep(description=STEP, due_on=date(2026, 3, 20), owner=NextStepOwner.EMPLOYER, done_on=date(2026, 3, 15)))

    event = plan_changed(plan, next_step_done=True)

    assert (event.kind, event.plan_id, event.version, event.change) == ("PLAN", "plan-1", 3, "NEXT_STEP_DONE")
    assert event.next_step is not None
    assert (event.next_step.due_on, event.next_step.owner, event.next_step.done_on) == (date(2026, 3, 20), "EMPLOYER", date(2026, 3, 15))
    assert GOAL not in wire(event) and STEP not in wire(event)


def test_a_plan_without_a_next_step_says_so_and_a_whole_plan_is_a_change():
    event = plan_changed(a_plan(None))

    assert (event.change, event.next_step) == ("CHANGED", None)


def test_a_contact_carries_its_kind_parties_and_date_but_not_its_note():
    event = contact_logged(a_contact())

    assert (event.kind, event.contact_id, event.contact_kind, event.parties, event.contact_on) == (
        "CONTACT",
        "contact-1",
        "TREPARTSSAMTAL",
        ("EMPLOYER",),
        date(2026, 3, 12),
    )
    text = wire(event)
    assert NOTE not in text and "konflikten" not in text and PERSONNUMMER not in text


def test_each_kind_has_its_own_cloudevents_type_and_reads_back_by_its_kind():
    events = [
        reko_status_changed(
            RekoStatusChange(case_id="c-1", care_unit_hsa_id=UNIT, status=RekoStatus.AKTIV, changed_by=COORDINATOR, changed_at=NOW), PATIENT, 1
        ),
        plan_changed(a_plan(None)),
        contact_logged(a_contact()),
    ]

    assert {EVENT_TYPES[type(event)] for event in events} | {EVENT_TYPES[ConsentRecorded]} == {
        REKO_STATUS_CHANGED_TYPE,
        CONSENT_RECORDED_TYPE,
        PLAN_CHANGED_TYPE,
        CONTACT_LOGGED_TYPE,
    }
    for event in events:
        assert CASEWORK_EVENT.validate_json(event.model_dump_json(by_alias=True)) == event


def test_the_wire_form_is_camel_case():
    data = contact_logged(a_contact()).model_dump(by_alias=True, mode="json")

    assert {"caseId", "patientPseudonym", "careUnitHsaId", "recordedBy", "recordedAt", "contactId", "contactKind", "parties", "contactOn"} <= set(
        data
    )

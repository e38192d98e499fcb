"""The coordinator's records of a case, published by notifications on `rehab.casework.v1`
(docs/events.md §3.7): a REKO status set, a consent decision recorded, a rehabilitation plan's new
version, a contact logged.

Pseudonymised and without free text: no event carries a personnummer, a note, the plan's goal or a
step's description (patient data, docs/casework.md §3), only codes, dates, ids and who and when.
Every event's `kind` says which of the four it is, so a consumer that reads `data` alone tells them
apart (`CaseworkEvent`); the CloudEvents `type` says the same.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from shared.contracts.envelope import EventData

REKO_STATUS_CHANGED_TYPE = "se.reko.casework.reko-status.changed.v1"
CONSENT_RECORDED_TYPE = "se.reko.casework.consent.recorded.v1"
PLAN_CHANGED_TYPE = "se.reko.casework.plan.changed.v1"
CONTACT_LOGGED_TYPE = "se.reko.casework.contact.logged.v1"


class CaseworkChange(EventData):
    """What every casework event carries: whose record, at which unit, who changed it and when."""

    case_id: str
    # The patient's pseudonym (docs/rules.md §3.4); None only for a REKO status of a case whose
    # patient reko does not know at the unit yet (docs/casework.md §6).
    patient_pseudonym: str | None
    care_unit_hsa_id: str
    # The HSA id of the coordinator, and the service clock's now when the change was recorded.
    recorded_by: str
    recorded_at: datetime


class RekoStatusChanged(CaseworkChange):
    kind: Literal["REKO_STATUS"] = "REKO_STATUS"
    # Rehabstöd's name ("Uppföljning", "-") and code ("REKO_4").
    status: str
    code: str
    # The change's place in the case's history at the unit, from 1: a consumer recognises a stale copy.
    revision: int


class ConsentRecorded(CaseworkChange):
    kind: Literal["CONSENT"] = "CONSENT"
    # `COORDINATION`, `EMPLOYER`, `FORSAKRINGSKASSAN`, `ARBETSFORMEDLINGEN` or `OTHER`.
    scope: str
    # `GIVEN`, `DECLINED` or `WITHDRAWN`, on the day the patient decided.
    decision: str
    decided_on: date


class PlannedNextStep(EventData):
    """The plan's next step without its description: when, whose, and whether it is done."""

    due_on: date
    # `PATIENT`, `REHABKOORDINATOR`, `LAKARE`, `EMPLOYER`, `FORSAKRINGSKASSAN`, `ARBETSFORMEDLINGEN`, `OTHER`.
    owner: str
    done_on: date | None = None


class RehabilitationPlanChanged(CaseworkChange):
    kind: Literal["PLAN"] = "PLAN"
    plan_id: str
    # Grows by one with every version of the plan, from 1.
    version: int
    # `CHANGED` for a plan recorded as a whole, `NEXT_STEP_DONE` for its next step marked done.
    change: Literal["CHANGED", "NEXT_STEP_DONE"]
    next_step: PlannedNextStep | None = None


class ContactLogged(CaseworkChange):
    kind: Literal["CONTACT"] = "CONTACT"
    contact_id: str
    # `KARTLAGGNINGSSAMTAL`, `TREPARTSSAMTAL`, `AVSTAMNINGSMOTE`, `SAMTAL_MED_LAKARE` or `OTHER`.
    contact_kind: str
    # The parties outside the unit it reached (`EMPLOYER`, `FORSAKRINGSKASSAN`, ...).
    parties: tuple[str, ...] = ()
    contact_on: date


CaseworkEvent = Annotated[RekoStatusChanged | ConsentRecorded | RehabilitationPlanChanged | ContactLogged, Field(discriminator="kind")]

# Reads the `data` of any event on the topic as the one of the four its `kind` names.
CASEWORK_EVENT: TypeAdapter[RekoStatusChanged | ConsentRecorded | RehabilitationPlanChanged | ContactLogged] = TypeAdapter(CaseworkEvent)

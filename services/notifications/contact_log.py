"""The coordinator's contact log and which contacts need which consent (docs/casework.md §2.2, §3.2).

A contact reaching a party outside the care unit is a coordination measure with that party: it is
recorded only when the patient's consent to coordination and to contact with that party are both
in force on the contact's date (lag 2019:1297 3 §, 4 §).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel

from services.notifications.consent import ConsentRecord, ConsentScope, missing_consent_message, missing_consents


class ContactKind(StrEnum):
    KARTLAGGNINGSSAMTAL = "KARTLAGGNINGSSAMTAL"
    TREPARTSSAMTAL = "TREPARTSSAMTAL"
    AVSTAMNINGSMOTE = "AVSTAMNINGSMOTE"
    SAMTAL_MED_LAKARE = "SAMTAL_MED_LAKARE"
    OTHER = "OTHER"


CONTACT_KIND_TEXT: dict[ContactKind, str] = {
    ContactKind.KARTLAGGNINGSSAMTAL: "Kartläggningssamtal",
    ContactKind.TREPARTSSAMTAL: "Trepartssamtal",
    ContactKind.AVSTAMNINGSMOTE: "Avstämningsmöte",
    ContactKind.SAMTAL_MED_LAKARE: "Samtal med läkare",
    ContactKind.OTHER: "Annan kontakt",
}


class ContactParty(StrEnum):
    """A party outside the care unit that a contact reaches."""

    EMPLOYER = "EMPLOYER"
    FORSAKRINGSKASSAN = "FORSAKRINGSKASSAN"
    ARBETSFORMEDLINGEN = "ARBETSFORMEDLINGEN"
    OTHER = "OTHER"


# A trepartssamtal is with the employer and an avstämningsmöte with Försäkringskassan, whatever else
# the coordinator names; the kartläggningssamtal is with the patient, and consent is often given in it.
PARTIES_OF_KIND: dict[ContactKind, frozenset[ContactParty]] = {
    ContactKind.TREPARTSSAMTAL: frozenset({ContactParty.EMPLOYER}),
    ContactKind.AVSTAMNINGSMOTE: frozenset({ContactParty.FORSAKRINGSKASSAN}),
}
CONSENT_OF_PARTY: dict[ContactParty, ConsentScope] = {
    ContactParty.EMPLOYER: ConsentScope.EMPLOYER,
    ContactParty.FORSAKRINGSKASSAN: ConsentScope.FORSAKRINGSKASSAN,
    ContactParty.ARBETSFORMEDLINGEN: ConsentScope.ARBETSFORMEDLINGEN,
    ContactParty.OTHER: ConsentScope.OTHER,
}


class Contact(BaseModel, frozen=True):
    contact_id: str
    case_id: str
    patient_pseudonym: str
    care_unit_hsa_id: str
    kind: ContactKind
    parties: tuple[ContactParty, ...]
    contact_on: date
    # Patient data: shown to the unit's readers and written to no log line or topic.
    note: str
    recorded_by: str
    recorded_at: datetime


def parties_of(kind: ContactKind, named: Iterable[ContactParty] = ()) -> tuple[ContactParty, ...]:
    """The parties a contact of `kind` reaches: those the kind implies and those named, in a fixed order."""
    reached = PARTIES_OF_KIND.get(kind, frozenset()) | set(named)
    return tuple(party for party in ContactParty if party in reached)


def consents_needed(parties: Iterable[ContactParty]) -> frozenset[ConsentScope]:
    """Contact with any outside party needs consent to coordination and to contact with each party."""
    scopes = {CONSENT_OF_PARTY[party] for party in parties}
    return frozenset(scopes | {ConsentScope.COORDINATION}) if scopes else frozenset()


def contact_refusal(consents: Sequence[ConsentRecord], parties: Iterable[ContactParty], on: date) -> str | None:
    """Why a contact with these parties on `on` cannot be recorded (the consents it lacks), or None."""
    missing = missing_consents(consents, consents_needed(parties), on)
    return missing_consent_message(missing, on) if missing else None


def contact_date_problem(contact_on: date, today: date) -> str | None:
    """A contact is logged once it has taken place: never dated after today."""
    return "En kontakt kan inte dateras efter dagens datum." if contact_on > today else None

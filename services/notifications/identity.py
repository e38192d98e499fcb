"""Who a patient is, as a coordinator's page may show it (docs/identity.md).

A patient with protected identity (sekretessmarkering) is never shown by personnummer, age or sex:
a list counts them instead ("2 patienter med skyddad identitet"). Pure: the store decrypts, these
rules decide what of it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import BaseModel, ConfigDict

from shared.personnummer import InvalidPersonnummer, Sex, parse_personnummer

# A stored number is checked as a personnummer without a signing date: any birth date up to this one stands.
_LATEST_BIRTH_DATE = date(2199, 12, 31)


class PatientIdentity(BaseModel):
    """A patient a page may name: the number as written in Swedish records, and what it tells."""

    model_config = ConfigDict(frozen=True)

    patient_pseudonym: str
    personnummer: str
    birth_date: date
    sex: Sex
    age: int
    is_samordningsnummer: bool


class IdentityListing(BaseModel):
    """The patients of a list that may be named, and how many may not (protected identity)."""

    model_config = ConfigDict(frozen=True)

    shown: dict[str, PatientIdentity]
    protected_count: int
    # Patients whose identity notifications has not received (yet): shown by pseudonym alone.
    unknown: frozenset[str] = frozenset()

    @property
    def protected_text(self) -> str | None:
        return protected_count_text(self.protected_count)


def written_form(normalised: str) -> str:
    """`YYYYMMDD-NNNN`, the way a coordinator reads and types a personnummer."""
    return f"{normalised[:8]}-{normalised[8:]}"


def is_valid_person_id(normalised: str) -> bool:
    try:
        parse_personnummer(normalised, on=_LATEST_BIRTH_DATE)
    except InvalidPersonnummer:
        return False
    return len(normalised) == 12


def identify(patient_pseudonym: str, normalised: str, on: date) -> PatientIdentity:
    """The identity of a normalised twelve-digit number, with the age on `on` (docs/rules.md §3)."""
    person = parse_personnummer(normalised, on=_LATEST_BIRTH_DATE)
    return PatientIdentity(
        patient_pseudonym=patient_pseudonym,
        personnummer=written_form(person.normalised),
        birth_date=person.birth_date,
        sex=person.sex,
        age=person.age_on(on),
        is_samordningsnummer=person.is_samordningsnummer,
    )


def protected_count_text(count: int) -> str | None:
    """How a list says it holds patients it does not name; None when there are none."""
    if count <= 0:
        return None
    return f"{count} patient med skyddad identitet" if count == 1 else f"{count} patienter med skyddad identitet"


def listing(identities: Iterable[PatientIdentity], protected: Iterable[str], asked: Iterable[str]) -> IdentityListing:
    """The listing of the `asked` patients: the named ones, the protected ones counted, the rest unknown.

    A pseudonym that is protected is never named, even if a named identity for it was given.
    """
    protected_set = set(protected)
    shown = {identity.patient_pseudonym: identity for identity in identities if identity.patient_pseudonym not in protected_set}
    asked_set = set(asked)
    return IdentityListing(
        shown={pseudonym: identity for pseudonym, identity in shown.items() if pseudonym in asked_set},
        protected_count=len(protected_set & asked_set),
        unknown=frozenset(asked_set - protected_set - set(shown)),
    )

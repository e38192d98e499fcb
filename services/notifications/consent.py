"""The patient's consent to coordination, lag (2019:1297) 3 § and 4 § (docs/casework.md §2).

Per patient and care unit, and per scope: coordination at all, and contact with each party the
coordinator may reach on the patient's behalf. A decision (given, declined, withdrawn) is dated by
the day the patient made it; the decision in force on a day is the latest one dated on or before
it. Only a given consent is in force; declined and withdrawn are both "no".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel


class ConsentScope(StrEnum):
    COORDINATION = "COORDINATION"  # koordineringsinsatser över huvud taget (3 §)
    EMPLOYER = "EMPLOYER"
    FORSAKRINGSKASSAN = "FORSAKRINGSKASSAN"  # 4 §: informing Försäkringskassan needs its own consent
    ARBETSFORMEDLINGEN = "ARBETSFORMEDLINGEN"
    OTHER = "OTHER"


# What the consent is to, in words that complete "samtycke till ...".
SCOPE_TEXT: dict[ConsentScope, str] = {
    ConsentScope.COORDINATION: "koordineringsinsatser",
    ConsentScope.EMPLOYER: "kontakt med arbetsgivaren",
    ConsentScope.FORSAKRINGSKASSAN: "kontakt med Försäkringskassan",
    ConsentScope.ARBETSFORMEDLINGEN: "kontakt med Arbetsförmedlingen",
    ConsentScope.OTHER: "kontakt med annan part",
}


class ConsentDecision(StrEnum):
    GIVEN = "GIVEN"  # givet
    DECLINED = "DECLINED"  # avböjt
    WITHDRAWN = "WITHDRAWN"  # återkallat


DECISION_TEXT: dict[ConsentDecision, str] = {
    ConsentDecision.GIVEN: "givet",
    ConsentDecision.DECLINED: "avböjt",
    ConsentDecision.WITHDRAWN: "återkallat",
}


class ConsentRecord(BaseModel, frozen=True):
    patient_pseudonym: str
    care_unit_hsa_id: str
    scope: ConsentScope
    decision: ConsentDecision
    # The day the patient decided; who recorded it and when (the service clock).
    decided_on: date
    recorded_by: str
    recorded_at: datetime


def decision_in_force(records: Sequence[ConsentRecord], scope: ConsentScope, on: date) -> ConsentRecord | None:
    """The decision for `scope` that holds on `on`: the latest dated on or before it; of two dated the
    same day, the one recorded last (`records` are in the order they were recorded)."""
    dated = [(record.decided_on, order, record) for order, record in enumerate(records) if record.scope is scope and record.decided_on <= on]
    return max(dated, key=lambda item: (item[0], item[1]))[2] if dated else None


def consent_in_force(records: Sequence[ConsentRecord], scope: ConsentScope, on: date) -> bool:
    decision = decision_in_force(records, scope, on)
    return decision is not None and decision.decision is ConsentDecision.GIVEN


def consent_standing(records: Sequence[ConsentRecord], on: date) -> dict[ConsentScope, ConsentRecord | None]:
    """Every scope's decision in force on `on` (None: nothing recorded by then)."""
    return {scope: decision_in_force(records, scope, on) for scope in ConsentScope}


def missing_consents(records: Sequence[ConsentRecord], needed: Iterable[ConsentScope], on: date) -> list[ConsentScope]:
    """The scopes of `needed` without a consent in force on `on`, in the order of the scopes."""
    wanted = set(needed)
    return [scope for scope in ConsentScope if scope in wanted and not consent_in_force(records, scope, on)]


def missing_consent_message(missing: Sequence[ConsentScope], on: date) -> str:
    """Why an action is refused, naming each missing consent."""
    texts = [SCOPE_TEXT[scope] for scope in missing]
    listed = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " och " + texts[-1]
    return f"Patientens samtycke till {listed} saknas den {on.isoformat()}. Registrera samtycket innan kontakten registreras."


def decision_date_problem(decided_on: date, today: date) -> str | None:
    """A decision is recorded once the patient has made it: never dated after today."""
    return "Ett beslut om samtycke kan inte dateras efter dagens datum." if decided_on > today else None


def withdrawal_problem(records: Sequence[ConsentRecord], scope: ConsentScope, decision: ConsentDecision, decided_on: date) -> str | None:
    """Only a consent in force can be withdrawn; a patient who never consented declines."""
    if decision is ConsentDecision.WITHDRAWN and not consent_in_force(records, scope, decided_on):
        return f"Det finns inget samtycke till {SCOPE_TEXT[scope]} att återkalla den {decided_on.isoformat()}."
    return None

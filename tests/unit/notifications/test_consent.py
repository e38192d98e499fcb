"""Consent (lag 2019:1297): the decision in force on a day per scope, and which contacts need which consent."""

from datetime import UTC, date, datetime

import pytest

from services.notifications.consent import (
    ConsentDecision,
    ConsentRecord,
    ConsentScope,
    consent_in_force,
    consent_standing,
    decision_date_problem,
    decision_in_force,
    missing_consent_message,
    missing_consents,
    withdrawal_problem,
)
from services.notifications.contact_log import ContactKind, ContactParty, consents_needed, contact_date_problem, contact_refusal, parties_of

GIVEN, DECLINED, WITHDRAWN = ConsentDecision.GIVEN, ConsentDecision.DECLINED, ConsentDecision.WITHDRAWN
COORDINATION, EMPLOYER, FK, AF, OTHER = (
    ConsentScope.COORDINATION,
    ConsentScope.EMPLOYER,
    ConsentScope.FORSAKRINGSKASSAN,
    ConsentScope.ARBETSFORMEDLINGEN,
    ConsentScope.OTHER,
)


def record(scope: ConsentScope, decision: ConsentDecision, decided_on: date) -> ConsentRecord:
    return ConsentRecord(
        patient_pseudonym="p1",
        care_unit_hsa_id="SE-UNIT-A",
        scope=scope,
        decision=decision,
        decided_on=decided_on,
        recorded_by="SE-COORDINATOR",
        recorded_at=datetime(2026, 3, 15, tzinfo=UTC),
    )


def test_nothing_recorded_is_no_consent():
    assert decision_in_force([], EMPLOYER, date(2026, 3, 1)) is None
    assert not consent_in_force([], EMPLOYER, date(2026, 3, 1))


def test_a_consent_is_in_force_from_the_day_it_was_given_not_before():
    given = [record(EMPLOYER, GIVEN, date(2026, 3, 10))]

    assert not consent_in_force(given, EMPLOYER, date(2026, 3, 9))
    assert consent_in_force(given, EMPLOYER, date(2026, 3, 10))
    assert consent_in_force(given, EMPLOYER, date(2027, 1, 1))


def test_a_withdrawn_consent_is_in_force_until_the_day_before_the_withdrawal():
    records = [record(EMPLOYER, GIVEN, date(2026, 3, 10)), record(EMPLOYER, WITHDRAWN, date(2026, 4, 1))]

    assert consent_in_force(records, EMPLOYER, date(2026, 3, 31))
    assert not consent_in_force(records, EMPLOYER, date(2026, 4, 1))


def test_a_declined_consent_is_no_consent_and_a_later_consent_overrides_it():
    records = [record(FK, DECLINED, date(2026, 3, 1)), record(FK, GIVEN, date(2026, 3, 20))]

    assert not consent_in_force(records, FK, date(2026, 3, 19))
    assert consent_in_force(records, FK, date(2026, 3, 20))


def test_a_decision_recorded_later_but_dated_earlier_holds_only_from_its_own_date():
    # Recorded second, dated first: the consent given on 10 March still holds after it.
    records = [record(EMPLOYER, GIVEN, date(2026, 3, 10)), record(EMPLOYER, DECLINED, date(2026, 3, 5))]

    assert not consent_in_force(records, EMPLOYER, date(2026, 3, 7))
    assert consent_in_force(records, EMPLOYER, date(2026, 3, 12))


def test_of_two_decisions_dated_the_same_day_the_one_recorded_last_holds():
    records = [record(EMPLOYER, GIVEN, date(2026, 3, 10)), record(EMPLOYER, WITHDRAWN, date(2026, 3, 10))]

    assert decision_in_force(records, EMPLOYER, date(2026, 3, 10)) == records[1]


def test_each_scope_stands_on_its_own():
    records = [record(COORDINATION, GIVEN, date(2026, 3, 1)), record(EMPLOYER, DECLINED, date(2026, 3, 1))]

    standing = consent_standing(records, date(2026, 3, 2))

    assert standing == {COORDINATION: records[0], EMPLOYER: records[1], FK: None, AF: None, OTHER: None}
    assert missing_consents(records, {EMPLOYER, COORDINATION, FK}, date(2026, 3, 2)) == [EMPLOYER, FK]


@pytest.mark.parametrize(
    ("kind", "named", "parties"),
    [
        (ContactKind.TREPARTSSAMTAL, (), (ContactParty.EMPLOYER,)),
        (ContactKind.AVSTAMNINGSMOTE, (), (ContactParty.FORSAKRINGSKASSAN,)),
        (ContactKind.AVSTAMNINGSMOTE, (ContactParty.EMPLOYER,), (ContactParty.EMPLOYER, ContactParty.FORSAKRINGSKASSAN)),
        (ContactKind.OTHER, (ContactParty.ARBETSFORMEDLINGEN,), (ContactParty.ARBETSFORMEDLINGEN,)),
        (ContactKind.KARTLAGGNINGSSAMTAL, (), ()),
        (ContactKind.SAMTAL_MED_LAKARE, (), ()),
    ],
)
def test_the_kind_of_a_contact_implies_its_parties_and_more_may_be_named(kind, named, parties):
    assert parties_of(kind, named) == parties


def test_a_contact_with_an_outside_party_needs_consent_to_coordination_and_to_that_party():
    assert consents_needed([ContactParty.EMPLOYER]) == {COORDINATION, EMPLOYER}
    assert consents_needed([ContactParty.FORSAKRINGSKASSAN, ContactParty.ARBETSFORMEDLINGEN]) == {COORDINATION, FK, AF}
    assert consents_needed([ContactParty.OTHER]) == {COORDINATION, OTHER}


def test_a_contact_within_the_unit_needs_no_recorded_consent():
    # The kartläggningssamtal is with the patient; consent is often given in it.
    assert consents_needed(parties_of(ContactKind.KARTLAGGNINGSSAMTAL)) == frozenset()
    assert contact_refusal([], parties_of(ContactKind.SAMTAL_MED_LAKARE), date(2026, 3, 1)) is None


def test_a_trepartssamtal_without_employer_consent_is_refused_naming_the_missing_consent():
    records = [record(COORDINATION, GIVEN, date(2026, 3, 1))]

    refusal = contact_refusal(records, parties_of(ContactKind.TREPARTSSAMTAL), date(2026, 3, 12))

    assert refusal == "Patientens samtycke till kontakt med arbetsgivaren saknas den 2026-03-12. Registrera samtycket innan kontakten registreras."


def test_a_contact_on_a_day_before_the_consent_was_given_is_refused():
    records = [record(COORDINATION, GIVEN, date(2026, 3, 1)), record(FK, GIVEN, date(2026, 3, 10))]

    assert contact_refusal(records, parties_of(ContactKind.AVSTAMNINGSMOTE), date(2026, 3, 10)) is None
    assert contact_refusal(records, parties_of(ContactKind.AVSTAMNINGSMOTE), date(2026, 3, 9)) is not None


def test_a_refusal_names_every_missing_consent():
    assert missing_consent_message([COORDINATION, EMPLOYER, AF], date(2026, 3, 12)).startswith(
        "Patientens samtycke till koordineringsinsatser, kontakt med arbetsgivaren och kontakt med Arbetsförmedlingen saknas den 2026-03-12."
    )


def test_a_decision_or_a_contact_is_never_dated_after_today():
    today = date(2026, 3, 15)

    assert decision_date_problem(today, today) is None
    assert decision_date_problem(date(2026, 3, 16), today) == "Ett beslut om samtycke kan inte dateras efter dagens datum."
    assert contact_date_problem(date(2026, 3, 16), today) == "En kontakt kan inte dateras efter dagens datum."


def test_only_a_consent_in_force_can_be_withdrawn():
    given = [record(EMPLOYER, GIVEN, date(2026, 3, 10))]

    assert withdrawal_problem(given, EMPLOYER, WITHDRAWN, date(2026, 3, 12)) is None
    assert (
        withdrawal_problem(given, EMPLOYER, WITHDRAWN, date(2026, 3, 9))
        == "Det finns inget samtycke till kontakt med arbetsgivaren att återkalla den 2026-03-09."
    )
    assert withdrawal_problem([], EMPLOYER, DECLINED, date(2026, 3, 9)) is None

"""Why each certificate of a patient counts towards a case, or why not; always as `counting_certificates` decides."""

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contracts.certificates import CertificateType, RelationType
from shared.sickleave.certificate import Certificate
from shared.sickleave.certificate_standing import (
    CertificateStanding,
    Standing,
    Voiding,
    certificate_standings,
    revocations_before_arrival,
)
from shared.sickleave.sick_leave_case import assemble_sick_leave_cases, counting_certificates
from tests.unit.sickleave.test_sick_leave_case import make_certificate, patient_histories

REVOKED_AT = datetime.fromisoformat("2026-03-04T23:30:00+00:00")


def standings_of(certificates: list[Certificate], revocations: dict[str, datetime] | None = None) -> dict[str, CertificateStanding]:
    revocations = revocations or {}
    cases = assemble_sick_leave_cases(certificates, revocations.keys())
    return {standing.certificate_id: standing for standing in certificate_standings(certificates, revocations, cases)}


def test_a_counting_certificate_names_its_case():
    first = make_certificate("A", [("2026-03-01", "2026-03-10", 100)])
    # 11–12 March are two gap days, within max_gap 5: B joins A's case
    second = make_certificate("B", [("2026-03-13", "2026-03-20", 50)], signed_at="2026-03-12T09:00:00+00:00")

    standings = standings_of([first, second])

    assert [(s.standing, s.case_id) for s in standings.values()] == [(Standing.COUNTS, "A"), (Standing.COUNTS, "A")]
    assert standings["B"].explanation == "Counts: part of sick-leave case A (2026-03-01 to 2026-03-20)."


def test_a_revoked_certificate_says_when_in_stockholm_time():
    standing = standings_of([make_certificate("A")], {"A": REVOKED_AT})["A"]

    assert (standing.standing, standing.revoked_at, standing.case_id) == (Standing.REVOKED, REVOKED_AT, None)
    # 23:30 UTC on 4 March is 00:30 on 5 March in Stockholm (CET, UTC+1)
    assert standing.explanation == "Revoked on 2026-03-05; a revoked certificate never counts."


def test_a_replaced_certificate_is_voided_by_its_replacement():
    original = make_certificate("A")
    replacement = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.ERSATT, "A")])

    standings = standings_of([original, replacement])

    assert standings["A"].standing is Standing.VOIDED
    assert standings["A"].voided_by == (Voiding(certificate_id="B", relation=RelationType.ERSATT),)
    assert standings["A"].explanation == "Voided: certificate B replaces it (ERSATT)."
    assert (standings["B"].standing, standings["B"].case_id) == (Standing.COUNTS, "B")


def test_a_complemented_certificate_is_voided_by_its_complement():
    original = make_certificate("A")
    complement = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.KOMPLT, "A")])

    standing = standings_of([original, complement])["A"]

    assert standing.voided_by == (Voiding(certificate_id="B", relation=RelationType.KOMPLT),)
    assert standing.explanation == "Voided: certificate B complements it (KOMPLT)."


def test_a_revoked_replacement_voids_nothing_and_is_itself_revoked():
    original = make_certificate("A")
    replacement = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.ERSATT, "A")])

    standings = standings_of([original, replacement], {"B": REVOKED_AT})

    assert (standings["A"].standing, standings["B"].standing) == (Standing.COUNTS, Standing.REVOKED)


def test_a_test_certificate_neither_counts_nor_voids():
    original = make_certificate("A")
    test_replacement = make_certificate("B", relations=[(RelationType.ERSATT, "A")], test_certificate=True)

    standings = standings_of([original, test_replacement])

    assert standings["A"].standing is Standing.COUNTS
    assert standings["B"].standing is Standing.TEST_CERTIFICATE
    assert standings["B"].explanation == "A test certificate; test certificates never count."


def test_an_ag7804_is_not_a_sick_leave_certificate():
    standing = standings_of([make_certificate("A", certificate_type=CertificateType.AG7804)])["A"]

    assert standing.standing is Standing.NOT_A_SICK_LEAVE_CERTIFICATE
    assert standing.explanation.startswith("An ag7804 (to the employer)")


def test_a_smittskydd_certificate_does_not_count_but_still_voids():
    original = make_certificate("A")
    smittskydd = make_certificate("B", relations=[(RelationType.ERSATT, "A")], avstangning_smittskydd=True)

    standings = standings_of([original, smittskydd])

    assert standings["B"].standing is Standing.SMITTSKYDD
    assert standings["A"].standing is Standing.VOIDED


def test_a_certificate_without_a_main_diagnosis_builds_no_case():
    standing = standings_of([make_certificate("A", diagnosis_codes=())])["A"]

    assert standing.standing is Standing.NO_MAIN_DIAGNOSIS
    assert standing.explanation == "It has no main diagnosis, so it builds no case."


def test_every_reason_that_applies_is_listed_first_revocation_first():
    certificate = make_certificate("A", test_certificate=True, diagnosis_codes=())

    standing = standings_of([certificate], {"A": REVOKED_AT})["A"]

    assert standing.reasons == (Standing.REVOKED, Standing.TEST_CERTIFICATE, Standing.NO_MAIN_DIAGNOSIS)
    assert standing.standing is Standing.REVOKED


def test_a_relation_to_itself_voids_nothing():
    assert standings_of([make_certificate("A", relations=[(RelationType.ERSATT, "A")])])["A"].standing is Standing.COUNTS


def test_a_relation_from_another_patients_certificate_voids_nothing():
    original = make_certificate("A")
    # 191212121212 (Tolvan) is someone else
    stranger = make_certificate("B", relations=[(RelationType.ERSATT, "A")], patient_id="191212121212")

    standing = certificate_standings([original, stranger], {}, assemble_sick_leave_cases([original], []))[0]

    assert (standing.certificate_id, standing.standing) == ("A", Standing.COUNTS)


def test_two_voiders_are_both_named_in_signing_order():
    original = make_certificate("A")
    later = make_certificate("C", signed_at="2026-03-05T09:00:00+00:00", relations=[(RelationType.KOMPLT, "A")])
    earlier = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.ERSATT, "A")])

    standing = standings_of([original, later, earlier])["A"]

    assert [voiding.certificate_id for voiding in standing.voided_by] == ["B", "C"]


def test_standings_come_in_signing_order():
    certificates = [
        make_certificate("LATE", signed_at="2026-03-03T09:00:00+00:00"),
        make_certificate("EARLY", signed_at="2026-03-01T09:00:00+00:00"),
    ]

    assert list(standings_of(certificates)) == ["EARLY", "LATE"]


def test_a_revocation_of_a_certificate_not_received_is_listed_as_before_its_arrival():
    certificates = [make_certificate("A", relations=[(RelationType.FRLANG, "UNSEEN")])]

    early = revocations_before_arrival(certificates, {"A": REVOKED_AT, "UNSEEN": REVOKED_AT + timedelta(days=1)})

    assert [(revocation.certificate_id, revocation.revoked_at) for revocation in early] == [("UNSEEN", REVOKED_AT + timedelta(days=1))]


@settings(max_examples=300, deadline=None)
@given(history=patient_histories(), max_gap=st.sampled_from([0, 5, 90]))
def test_the_certificates_standing_counts_are_exactly_the_counting_certificates(
    history: tuple[list[Certificate], list[str]], max_gap: int
):
    certificates, revoked = history
    revocations = dict.fromkeys(revoked, REVOKED_AT)
    cases = assemble_sick_leave_cases(certificates, revoked, max_gap=max_gap)

    standings = certificate_standings(certificates, revocations, cases)

    counting = {certificate.certificate_id for certificate in counting_certificates(certificates, revoked)}
    assert {standing.certificate_id for standing in standings if standing.counts} == counting
    assert {standing.certificate_id for standing in standings} == {certificate.certificate_id for certificate in certificates}
    case_of = {certificate_id: case.case_id for case in cases for certificate_id in case.certificate_ids}
    for standing in standings:
        assert standing.case_id == case_of.get(standing.certificate_id)
        assert standing.counts == (standing.reasons == (Standing.COUNTS,))
        assert (Standing.VOIDED in standing.reasons) == bool(standing.voided_by)
        assert (Standing.REVOKED in standing.reasons) == (standing.certificate_id in revocations)

import itertools
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contracts.certificates import CertificateType, Occupation, PrognosisCode, RelationType
from shared.personnummer import parse_personnummer
from shared.sickleave.certificate import Certificate, Period, Prognosis, Relation
from shared.sickleave.sick_leave_case import (
    age_band,
    age_band_spans,
    assemble_sick_leave_cases,
    counting_certificates,
)

PATIENT_ID = "198001249286"  # Skatteverket test number, born 1980-01-24


def make_certificate(
    certificate_id: str,
    periods: Sequence[tuple[str, str, int]] = (("2026-03-01", "2026-03-10", 100),),
    *,
    signed_at: str = "2026-03-01T09:00:00+00:00",
    relations: Sequence[tuple[RelationType, str]] = (),
    certificate_type: CertificateType = CertificateType.FK7804,
    test_certificate: bool = False,
    avstangning_smittskydd: bool = False,
    diagnosis_codes: Sequence[str] = ("F32",),
    care_unit_hsa_id: str = "SE-UNIT-A",
    care_provider_hsa_id: str = "SE-PROVIDER-1",
    doctor_hsa_id: str = "SE-DOCTOR-1",
    occupations: Sequence[Occupation] = (Occupation.NUVARANDE_ARBETE,),
    prognosis: Prognosis | None = None,
    patient_id: str = PATIENT_ID,
) -> Certificate:
    return Certificate(
        certificate_id=certificate_id,
        certificate_type=certificate_type,
        signed_at=datetime.fromisoformat(signed_at),
        test_certificate=test_certificate,
        avstangning_smittskydd=avstangning_smittskydd,
        relations=tuple(Relation(type=kind, related_certificate_id=target) for kind, target in relations),
        patient_id=patient_id,
        protected_identity=False,
        doctor_hsa_id=doctor_hsa_id,
        care_unit_hsa_id=care_unit_hsa_id,
        care_unit_name=None,
        care_provider_hsa_id=care_provider_hsa_id,
        diagnosis_codes=tuple(diagnosis_codes),
        periods=tuple(Period(start=date.fromisoformat(start), end=date.fromisoformat(end), degree=degree) for start, end, degree in periods),
        occupations=tuple(occupations),
        prognosis=prognosis,
    )


def case_ids(certificates: Sequence[Certificate], revoked_ids: Sequence[str] = (), **options: int) -> list[list[str]]:
    return [list(case.certificate_ids) for case in assemble_sick_leave_cases(certificates, revoked_ids, **options)]


def counting_ids(certificates: Sequence[Certificate], revoked_ids: Sequence[str] = ()) -> set[str]:
    return {certificate.certificate_id for certificate in counting_certificates(certificates, revoked_ids)}


# --- building cases --------------------------------------------------------------------------


def test_inera_fall1_counts_nineteen_days_without_the_gap_day():
    first = make_certificate("A", [("2016-02-01", "2016-02-10", 100)])
    second = make_certificate("B", [("2016-02-12", "2016-02-20", 100)])

    (case,) = assemble_sick_leave_cases([first, second], [])

    # 10 days + 9 days; 11 February is a gap day and does not count
    assert case.certified_days == 19
    assert (case.start, case.end) == (date(2016, 2, 1), date(2016, 2, 20))


def test_gap_of_five_days_joins_the_case():
    # 11–15 March are five uncovered days
    certificates = [
        make_certificate("A", [("2026-03-01", "2026-03-10", 100)]),
        make_certificate("B", [("2026-03-16", "2026-03-20", 100)]),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.certified_days == 15  # 10 + 5
    assert case.is_ongoing_on(date(2026, 3, 13))


def test_gap_of_six_days_starts_a_new_case():
    # 11–16 March are six uncovered days
    certificates = [
        make_certificate("A", [("2026-03-01", "2026-03-10", 100)]),
        make_certificate("B", [("2026-03-17", "2026-03-20", 100)]),
    ]

    assert case_ids(certificates) == [["A"], ["B"]]


def test_max_gap_zero_joins_only_adjacent_certificates():
    adjacent = make_certificate("B", [("2026-03-11", "2026-03-20", 100)])
    one_day_apart = make_certificate("C", [("2026-03-22", "2026-03-25", 100)])
    first = make_certificate("A", [("2026-03-01", "2026-03-10", 100)])

    assert case_ids([first, adjacent, one_day_apart], max_gap=0) == [["A", "B"], ["C"]]


def test_max_gap_ninety_joins_ninety_uncovered_days_but_not_ninety_one():
    first = make_certificate("A", [("2026-01-01", "2026-01-10", 100)])
    # 11 January + 90 days = 11 April is the first covered day again: 11 Jan–10 Apr is 90 days
    after_ninety = make_certificate("B", [("2026-04-11", "2026-04-20", 100)])
    # from 21 April, 21 Apr–20 Jul is 91 days
    after_ninety_one = make_certificate("C", [("2026-07-21", "2026-07-25", 100)])

    assert case_ids([first, after_ninety, after_ninety_one], max_gap=90) == [["A", "B"], ["C"]]


@pytest.mark.parametrize("max_gap", [-1, 91])
def test_max_gap_outside_zero_to_ninety_is_rejected(max_gap: int):
    with pytest.raises(ValueError, match="max_gap must be between 0 and 90 days"):
        assemble_sick_leave_cases([make_certificate("A")], [], max_gap=max_gap)


def test_overlapping_certificates_count_each_day_once():
    certificates = [
        make_certificate("A", [("2026-03-01", "2026-03-10", 100)]),
        make_certificate("B", [("2026-03-06", "2026-03-15", 50)]),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.certified_days == 15  # 1–15 March


def test_contained_certificate_keeps_the_larger_end_for_joining():
    certificates = [
        make_certificate("LONG", [("2026-03-01", "2026-03-31", 100)]),
        # sorts after LONG and ends earlier: the case end must stay 31 March
        make_certificate("SHORT", [("2026-03-05", "2026-03-10", 50)]),
        # three gap days after 31 March, far more than five after 10 March
        make_certificate("LATER", [("2026-04-04", "2026-04-06", 100)]),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.certificate_ids == ("LONG", "SHORT", "LATER")
    assert case.end == date(2026, 4, 6)
    assert case.certified_days == 34  # 31 + 3


def test_certified_days_count_the_periods_not_the_span():
    # one certificate with a hole between its two periods
    certificate = make_certificate("A", [("2026-03-01", "2026-03-05", 100), ("2026-03-08", "2026-03-12", 50)])

    (case,) = assemble_sick_leave_cases([certificate], [])

    assert (case.start, case.end, case.certified_days) == (date(2026, 3, 1), date(2026, 3, 12), 10)


def test_cases_come_sorted_by_start():
    certificates = [
        make_certificate("LATE", [("2026-06-01", "2026-06-10", 100)]),
        make_certificate("EARLY", [("2026-01-01", "2026-01-10", 100)]),
    ]

    cases = assemble_sick_leave_cases(certificates, [])

    assert [case.case_id for case in cases] == ["EARLY", "LATE"]


# --- case id -------------------------------------------------------------------------------


def test_case_id_is_the_certificate_with_the_earliest_start():
    certificates = [
        make_certificate("A", [("2026-03-05", "2026-03-20", 100)], signed_at="2026-03-01T08:00:00+00:00"),
        make_certificate("B", [("2026-03-01", "2026-03-10", 100)], signed_at="2026-03-02T08:00:00+00:00"),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.case_id == "B"


def test_case_id_tie_on_start_goes_to_the_earlier_end():
    certificates = [
        make_certificate("A", [("2026-03-01", "2026-03-20", 100)]),
        make_certificate("B", [("2026-03-01", "2026-03-10", 100)]),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.case_id == "B"
    assert case.certificate_ids == ("B", "A")


def test_case_id_tie_on_span_goes_to_the_earlier_signed():
    certificates = [
        make_certificate("A", signed_at="2026-03-01T10:00:00+00:00"),
        make_certificate("B", signed_at="2026-03-01T09:00:00+00:00"),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.case_id == "B"


def test_case_id_exact_tie_goes_to_the_smaller_certificate_id_and_the_larger_is_latest():
    certificates = [make_certificate("B"), make_certificate("A")]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.case_id == "A"
    assert case.latest_certificate.certificate_id == "B"


def test_signing_instants_compare_across_offsets():
    # 10:30+02:00 is 08:30 UTC, earlier than 09:00 UTC
    certificates = [
        make_certificate("A", signed_at="2026-03-01T09:00:00+00:00"),
        make_certificate("B", signed_at="2026-03-01T10:30:00+02:00"),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.case_id == "B"
    assert case.latest_certificate.certificate_id == "A"


# --- latest and current certificate ----------------------------------------------------------


def test_latest_certificate_decides_unit_diagnosis_and_the_rest():
    older = make_certificate("A", [("2026-03-01", "2026-03-31", 100)], signed_at="2026-03-01T09:00:00+00:00")
    # signed later although it covers earlier days
    newer = make_certificate(
        "B",
        [("2026-02-25", "2026-03-05", 50)],
        signed_at="2026-03-03T09:00:00+00:00",
        diagnosis_codes=("M54", "F32"),
        doctor_hsa_id="SE-DOCTOR-2",
        occupations=(Occupation.ARBETSSOKANDE,),
        prognosis=Prognosis(code=PrognosisCode.PROGNOS_OKLAR),
    )

    (case,) = assemble_sick_leave_cases([older, newer], [])

    assert case.latest_certificate.certificate_id == "B"
    assert case.case_id == "B"
    assert case.main_diagnosis_code == "M54"
    assert case.doctor_hsa_id == "SE-DOCTOR-2"
    assert case.occupations == (Occupation.ARBETSSOKANDE,)
    assert case.prognosis == Prognosis(code=PrognosisCode.PROGNOS_OKLAR)


def test_newer_certificate_from_another_unit_moves_the_case():
    first = make_certificate("A", [("2026-03-01", "2026-03-31", 100)], care_unit_hsa_id="SE-UNIT-A")
    renewal = make_certificate(
        "B",
        [("2026-04-01", "2026-04-30", 50)],
        signed_at="2026-03-30T09:00:00+00:00",
        care_unit_hsa_id="SE-UNIT-B",
        care_provider_hsa_id="SE-PROVIDER-2",
    )

    (before,) = assemble_sick_leave_cases([first], [])
    (after,) = assemble_sick_leave_cases([first, renewal], [])

    assert (before.care_unit_hsa_id, before.care_provider_hsa_id) == ("SE-UNIT-A", "SE-PROVIDER-1")
    assert (after.care_unit_hsa_id, after.care_provider_hsa_id) == ("SE-UNIT-B", "SE-PROVIDER-2")
    assert after.case_id == before.case_id == "A"


def test_current_certificate_is_the_covering_one_signed_last():
    early_signed = make_certificate("A", [("2026-03-01", "2026-03-20", 100)], signed_at="2026-03-01T09:00:00+00:00")
    late_signed = make_certificate("B", [("2026-03-10", "2026-03-15", 50)], signed_at="2026-03-09T09:00:00+00:00")
    latest_elsewhere = make_certificate("C", [("2026-03-22", "2026-03-31", 25)], signed_at="2026-03-21T09:00:00+00:00")

    (case,) = assemble_sick_leave_cases([early_signed, late_signed, latest_elsewhere], [])

    assert case.current_certificate_on(date(2026, 3, 5)).certificate_id == "A"  # only A covers
    assert case.current_certificate_on(date(2026, 3, 12)).certificate_id == "B"  # A and B cover, B signed later
    assert case.current_certificate_on(date(2026, 3, 21)).certificate_id == "C"  # gap day: the latest
    assert case.current_certificate_on(date(2026, 5, 1)).certificate_id == "C"  # after the case: the latest


def test_current_degree_comes_from_the_current_certificate_and_is_none_off_the_periods():
    certificate_a = make_certificate("A", [("2026-03-01", "2026-03-10", 100), ("2026-03-11", "2026-03-20", 50)])
    certificate_b = make_certificate("B", [("2026-03-15", "2026-03-25", 25)], signed_at="2026-03-14T09:00:00+00:00")

    (case,) = assemble_sick_leave_cases([certificate_a, certificate_b], [])

    assert case.current_degree_on(date(2026, 3, 5)) == 100
    assert case.current_degree_on(date(2026, 3, 12)) == 50
    assert case.current_degree_on(date(2026, 3, 16)) == 25  # B signed later overrides A's 50
    assert case.current_degree_on(date(2026, 3, 26)) is None


def test_degree_spans_are_maximal_runs_and_skip_gap_days():
    certificates = [
        make_certificate("A", [("2026-03-01", "2026-03-10", 100), ("2026-03-11", "2026-03-20", 50)]),
        # signed later, same degree as A's second period: the 50 run continues through it
        make_certificate("B", [("2026-03-15", "2026-03-25", 50)], signed_at="2026-03-14T09:00:00+00:00"),
        # 26–27 March uncovered
        make_certificate("C", [("2026-03-28", "2026-04-05", 50)], signed_at="2026-03-27T09:00:00+00:00"),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.degree_spans() == (
        (date(2026, 3, 1), date(2026, 3, 10), 100),
        (date(2026, 3, 11), date(2026, 3, 25), 50),
        (date(2026, 3, 28), date(2026, 4, 5), 50),
    )


def test_gap_days_inside_a_case_are_ongoing():
    certificates = [
        make_certificate("A", [("2026-03-01", "2026-03-10", 100)]),
        make_certificate("B", [("2026-03-14", "2026-03-20", 100)]),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert case.is_ongoing_on(date(2026, 3, 12))
    assert case.is_ongoing_on(date(2026, 3, 20))
    assert not case.is_ongoing_on(date(2026, 3, 21))
    assert not case.is_ongoing_on(date(2026, 2, 28))


def test_certificates_in_signing_order():
    certificates = [
        make_certificate("A", [("2026-03-01", "2026-03-10", 100)], signed_at="2026-03-05T09:00:00+00:00"),
        make_certificate("B", [("2026-03-11", "2026-03-20", 100)], signed_at="2026-03-01T09:00:00+00:00"),
        make_certificate("C", [("2026-03-11", "2026-03-20", 100)], signed_at="2026-03-01T09:00:00+00:00"),
    ]

    (case,) = assemble_sick_leave_cases(certificates, [])

    assert [certificate.certificate_id for certificate in case.certificates_in_signing_order()] == ["B", "C", "A"]


# --- which certificates count ----------------------------------------------------------------


def test_revoked_certificate_is_excluded():
    certificates = [make_certificate("A"), make_certificate("B", [("2026-04-01", "2026-04-10", 100)])]

    assert counting_ids(certificates, ["A"]) == {"B"}


def test_revoking_the_bridging_certificate_splits_the_case():
    certificates = [
        make_certificate("A", [("2026-03-01", "2026-03-10", 100)]),
        make_certificate("BRIDGE", [("2026-03-11", "2026-03-20", 100)]),
        make_certificate("C", [("2026-03-21", "2026-03-31", 100)]),
    ]

    assert case_ids(certificates) == [["A", "BRIDGE", "C"]]
    # 11–20 March become ten uncovered days
    assert case_ids(certificates, ["BRIDGE"]) == [["A"], ["C"]]


def test_revocation_of_a_certificate_never_seen_changes_nothing():
    certificates = [make_certificate("A")]

    assert case_ids(certificates, ["UNSEEN"]) == [["A"]]


def test_revoke_that_arrives_before_its_sign_removes_the_certificate_once_it_arrives():
    first = make_certificate("A", [("2026-03-01", "2026-03-10", 100)])
    revoked_early = make_certificate("B", [("2026-03-11", "2026-03-31", 100)], signed_at="2026-03-10T09:00:00+00:00")

    # Only the revocation of B is known: it is remembered, and A alone is a case of 10 days.
    assert case_ids([first], ["B"]) == [["A"]]
    # B arrives later and never counts: the case stays 1–10 March, not 1–31 March.
    (case,) = assemble_sick_leave_cases([first, revoked_early], ["B"])
    assert (case.certificate_ids, case.end, case.certified_days) == (("A",), date(2026, 3, 10), 10)


def test_replaced_certificate_counts_again_when_its_replacement_is_later_revoked():
    original = make_certificate("A", [("2026-03-01", "2026-03-20", 100)])
    # B replaces A with a shorter period: 1–10 March.
    replacement = make_certificate(
        "B", [("2026-03-01", "2026-03-10", 50)], signed_at="2026-03-05T09:00:00+00:00", relations=[(RelationType.ERSATT, "A")]
    )

    (replaced,) = assemble_sick_leave_cases([original, replacement], [])
    assert (replaced.certificate_ids, replaced.certified_days) == (("B",), 10)
    # Revoking B undoes the voiding: A is back with its 20 days (1–20 March).
    (restored,) = assemble_sick_leave_cases([original, replacement], ["B"])
    assert (restored.certificate_ids, restored.certified_days, restored.end) == (("A",), 20, date(2026, 3, 20))


def test_ersatt_voids_and_revoking_the_replacement_restores():
    original = make_certificate("A")
    replacement = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.ERSATT, "A")])

    assert counting_ids([original, replacement]) == {"B"}
    assert counting_ids([original, replacement], ["B"]) == {"A"}


def test_komplt_voids():
    original = make_certificate("A")
    complement = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.KOMPLT, "A")])

    assert counting_ids([original, complement]) == {"B"}


def test_frlang_voids_nothing():
    original = make_certificate("A")
    renewal = make_certificate(
        "B",
        [("2026-03-11", "2026-03-20", 100)],
        signed_at="2026-03-09T09:00:00+00:00",
        relations=[(RelationType.FRLANG, "A")],
    )

    assert counting_ids([original, renewal]) == {"A", "B"}


def test_voiding_certificate_that_is_itself_voided_still_voids():
    first = make_certificate("A")
    second = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.ERSATT, "A")])
    third = make_certificate("C", signed_at="2026-03-03T09:00:00+00:00", relations=[(RelationType.ERSATT, "B")])

    assert counting_ids([first, second, third]) == {"C"}
    # only revoking the voiding certificate undoes its voiding
    assert counting_ids([first, second, third], ["C"]) == {"B"}


def test_replacement_arriving_before_the_original_still_voids_it():
    replacement = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.ERSATT, "A")])
    original = make_certificate("A")

    assert counting_ids([replacement, original]) == {"B"}


@pytest.mark.parametrize(
    "options",
    [
        {"test_certificate": True},
        {"certificate_type": CertificateType.AG7804},
        {"avstangning_smittskydd": True},
        {"diagnosis_codes": ()},
    ],
    ids=["test certificate", "ag7804", "smittskydd", "no main diagnosis"],
)
def test_certificates_that_never_count(options: dict[str, object]):
    certificate = make_certificate("A", **options)

    assert counting_ids([certificate]) == set()
    assert assemble_sick_leave_cases([certificate], []) == ()


def test_legacy_fk7263_builds_cases_and_voids():
    original = make_certificate("A")
    replacement = make_certificate(
        "B",
        signed_at="2026-03-02T09:00:00+00:00",
        certificate_type=CertificateType.FK7263,
        relations=[(RelationType.ERSATT, "A")],
    )

    assert counting_ids([original, replacement]) == {"B"}


@pytest.mark.parametrize(
    "options",
    [{"avstangning_smittskydd": True}, {"diagnosis_codes": ()}],
    ids=["smittskydd", "no main diagnosis"],
)
def test_signed_fk7804_that_does_not_count_still_voids(options: dict[str, object]):
    original = make_certificate("A")
    replacement = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.ERSATT, "A")], **options)

    assert counting_ids([original, replacement]) == set()


@pytest.mark.parametrize(
    "options",
    [{"test_certificate": True}, {"certificate_type": CertificateType.AG7804}],
    ids=["test certificate", "ag7804"],
)
def test_certificates_that_cannot_void(options: dict[str, object]):
    original = make_certificate("A")
    replacement = make_certificate("B", signed_at="2026-03-02T09:00:00+00:00", relations=[(RelationType.ERSATT, "A")], **options)

    assert counting_ids([original, replacement]) == {"A"}


def test_relation_to_itself_is_ignored():
    certificate = make_certificate("A", relations=[(RelationType.ERSATT, "A")])

    assert counting_ids([certificate]) == {"A"}


def test_relation_from_another_patients_certificate_is_ignored():
    original = make_certificate("A")
    # 191212121212 (Tolvan) is someone else: a relation across patients must not void
    stranger = make_certificate("B", relations=[(RelationType.ERSATT, "A")], patient_id="191212121212")

    assert "A" in counting_ids([original, stranger])


# --- order and repetition --------------------------------------------------------------------


def test_result_does_not_depend_on_order_or_duplicates():
    certificates = [
        make_certificate("A", [("2026-03-01", "2026-03-10", 100)]),
        make_certificate("B", [("2026-03-11", "2026-03-20", 50)], signed_at="2026-03-10T09:00:00+00:00"),
        make_certificate(
            "C",
            [("2026-03-11", "2026-03-25", 25)],
            signed_at="2026-03-12T09:00:00+00:00",
            relations=[(RelationType.ERSATT, "B")],
        ),
        make_certificate("D", [("2026-05-01", "2026-05-10", 100)], signed_at="2026-04-30T09:00:00+00:00"),
    ]
    reordered = [certificates[3], certificates[2], certificates[0], certificates[2], certificates[1], certificates[3]]

    expected = assemble_sick_leave_cases(certificates, ["X"])

    assert assemble_sick_leave_cases(reordered, ["X", "X"]) == expected
    assert [list(case.certificate_ids) for case in expected] == [["A", "C"], ["D"]]


def test_two_different_certificates_with_the_same_id_are_rejected():
    first = make_certificate("A", [("2026-03-01", "2026-03-10", 100)])
    conflicting = make_certificate("A", [("2026-03-01", "2026-03-05", 50)])

    with pytest.raises(ValueError, match="two different certificates with id 'A'"):
        assemble_sick_leave_cases([first, conflicting], [])


def test_copies_differing_only_in_unit_name_are_one_certificate():
    named = make_certificate("A").model_copy(update={"care_unit_name": "Vårdcentralen"})

    (case,) = assemble_sick_leave_cases([make_certificate("A"), named], [])
    (reversed_case,) = assemble_sick_leave_cases([named, make_certificate("A")], [])

    assert case == reversed_case
    assert len(case.certificates) == 1


# --- age -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "-20"),
        (20, "-20"),
        (21, "21-30"),
        (30, "21-30"),
        (31, "31-40"),
        (45, "41-50"),
        (60, "51-60"),
        (61, "61-"),
        (99, "61-"),
    ],
)
def test_age_band(age: int, band: str):
    assert age_band(age) == band


def test_age_band_spans_split_on_the_birthday_that_changes_band():
    birth_date = parse_personnummer(PATIENT_ID, on=date(2026, 1, 1)).birth_date  # 1980-01-24

    # turns 41 on 24 January 2021; turning 40 in 2020 changes nothing
    spans = age_band_spans(birth_date, date(2019, 12, 1), date(2021, 3, 1))

    assert spans == (
        (date(2019, 12, 1), date(2021, 1, 23), "31-40"),
        (date(2021, 1, 24), date(2021, 3, 1), "41-50"),
    )


def test_age_band_spans_without_a_band_change_is_one_span():
    assert age_band_spans(date(1980, 1, 24), date(2026, 3, 1), date(2026, 3, 1)) == ((date(2026, 3, 1), date(2026, 3, 1), "41-50"),)


def test_age_band_span_for_a_leap_day_birth_changes_on_first_march():
    # born 29 Feb 2004, turns 21 in 2025, which has no 29 February
    spans = age_band_spans(date(2004, 2, 29), date(2025, 2, 1), date(2025, 3, 31))

    assert spans == (
        (date(2025, 2, 1), date(2025, 2, 28), "-20"),
        (date(2025, 3, 1), date(2025, 3, 31), "21-30"),
    )


# --- property: order independence ------------------------------------------------------------

HISTORY_START = date(2026, 1, 1)
SIGNING_BASE = datetime.fromisoformat("2026-01-01T09:00:00+00:00")
CERTIFICATE_TYPES_BY_FREQUENCY = [CertificateType.FK7804] * 4 + [CertificateType.FK7263, CertificateType.AG7804]


@st.composite
def patient_histories(draw: st.DrawFn) -> tuple[list[Certificate], list[str]]:
    count = draw(st.integers(min_value=1, max_value=8))
    ids = [f"C{index}" for index in range(count)]
    certificates = []
    for certificate_id in ids:
        start = HISTORY_START + timedelta(days=draw(st.integers(0, 120)))
        first_length = draw(st.integers(0, 30))
        periods = [(start, start + timedelta(days=first_length), draw(st.sampled_from([25, 50, 75, 100])))]
        if draw(st.booleans()):
            second_start = periods[0][1] + timedelta(days=draw(st.integers(1, 10)))
            periods.append((second_start, second_start + timedelta(days=draw(st.integers(0, 20))), 100))
        relations = draw(st.lists(st.tuples(st.sampled_from(list(RelationType)), st.sampled_from([*ids, "ELSEWHERE"])), max_size=3))
        certificates.append(
            make_certificate(
                certificate_id,
                [(first.isoformat(), last.isoformat(), degree) for first, last, degree in periods],
                # few distinct signing times, so ties on signing time happen
                signed_at=(SIGNING_BASE + timedelta(days=draw(st.integers(0, 3)))).isoformat(),
                relations=relations,
                certificate_type=draw(st.sampled_from(CERTIFICATE_TYPES_BY_FREQUENCY)),
                test_certificate=draw(st.integers(0, 9)) == 0,
                avstangning_smittskydd=draw(st.integers(0, 9)) == 0,
                diagnosis_codes=draw(st.sampled_from([("F32",), ("F32",), ("F32",), ()])),
                care_unit_hsa_id=draw(st.sampled_from(["SE-UNIT-A", "SE-UNIT-B"])),
            )
        )
    revoked = draw(st.lists(st.sampled_from([*ids, "UNSEEN"]), max_size=3))
    return certificates, revoked


@settings(max_examples=300, deadline=None)
@given(history=patient_histories(), max_gap=st.sampled_from([0, 5, 90]), seed=st.integers(0, 2**32 - 1))
def test_cases_do_not_depend_on_order_or_repetition(history: tuple[list[Certificate], list[str]], max_gap: int, seed: int):
    certificates, revoked = history
    shuffle = random.Random(seed)
    with_duplicates = certificates + shuffle.sample(certificates, k=shuffle.randint(0, len(certificates)))
    shuffle.shuffle(with_duplicates)
    revoked_again = revoked + revoked
    shuffle.shuffle(revoked_again)

    expected = assemble_sick_leave_cases(certificates, revoked, max_gap=max_gap)

    assert assemble_sick_leave_cases(with_duplicates, revoked_again, max_gap=max_gap) == expected
    assert assemble_sick_leave_cases(reversed(with_duplicates), set(revoked), max_gap=max_gap) == expected
    counted = [certificate_id for case in expected for certificate_id in case.certificate_ids]
    assert sorted(counted) == sorted(c.certificate_id for c in counting_certificates(certificates, revoked))
    for earlier, later in itertools.pairwise(expected):
        assert (later.start - earlier.end).days - 1 > max_gap
    for case in expected:
        assert case.certified_days <= (case.end - case.start).days + 1


@settings(max_examples=300, deadline=None)
@given(history=patient_histories(), max_gap=st.sampled_from([0, 5, 90]))
def test_degree_spans_say_the_current_degree_of_every_day_of_the_case(history: tuple[list[Certificate], list[str]], max_gap: int):
    certificates, revoked = history

    for case in assemble_sick_leave_cases(certificates, revoked, max_gap=max_gap):
        spans = case.degree_spans()
        by_day = {start + timedelta(days=offset): degree for start, end, degree in spans for offset in range((end - start).days + 1)}
        days = [case.start + timedelta(days=offset) for offset in range((case.end - case.start).days + 1)]

        # The rule itself: the degree of the covering period of the current certificate.
        periods = {day: case.current_certificate_on(day).period_on(day) for day in days}
        current = {day: period.degree for day, period in periods.items() if period is not None}

        assert by_day == current
        assert all(case.current_degree_on(day) == current.get(day) for day in days)
        # Maximal: two spans side by side never hold the same degree.
        assert all(not (left[1] + timedelta(days=1) == right[0] and left[2] == right[2]) for left, right in itertools.pairwise(spans))

"""`case_changes`: what intake publishes when a patient's cases are assembled again."""

from datetime import date, timedelta

from shared.contracts.cases import CaseChange, CaseStatus, SickLeaveCaseChanged
from shared.sickleave.case_changes import case_changes, same_content

MARCH_1 = date(2026, 3, 1)


def case(
    case_id: str,
    certificate_ids: tuple[str, ...],
    start: date = MARCH_1,
    end: date = date(2026, 3, 14),
    *,
    certified_days: int | None = None,
    care_unit_hsa_id: str = "SE-UNIT-A",
    patient_revision: int = 1,
    status: CaseStatus = CaseStatus.ACTIVE,
    change: CaseChange = CaseChange.UPDATED,
) -> SickLeaveCaseChanged:
    return SickLeaveCaseChanged(
        case_id=case_id,
        patient_pseudonym="pseudonym-1",
        patient_revision=patient_revision,
        status=status,
        change=change,
        care_unit_hsa_id=care_unit_hsa_id,
        care_provider_hsa_id="SE-PROVIDER-1",
        start=start,
        end=end,
        certified_days=certified_days if certified_days is not None else (end - start).days + 1,
        certificate_ids=certificate_ids,
        latest_certificate_id=certificate_ids[-1],
        sex="F",
        main_diagnosis_code="F32",
        doctor_hsa_id="SE-DOCTOR-1",
        occupations=("NUVARANDE_ARBETE",),
    )


def by_id(*cases: SickLeaveCaseChanged) -> dict[str, SickLeaveCaseChanged]:
    return {published.case_id: published for published in cases}


def summary(changes: list[SickLeaveCaseChanged]) -> list[tuple]:
    return [(c.case_id, c.status, c.change, c.replaces_case_ids, c.replaced_by_case_ids) for c in changes]


def test_a_case_never_published_before_is_opened():
    changes = case_changes({}, [case("c1", ("c1",))])
    assert summary(changes) == [("c1", CaseStatus.ACTIVE, CaseChange.OPENED, (), ())]


def test_two_new_cases_of_a_patient_are_both_opened():
    first = case("c1", ("c1",), MARCH_1, date(2026, 3, 14))
    second = case("c9", ("c9",), date(2026, 6, 1), date(2026, 6, 14))
    assert [c.change for c in case_changes({}, [first, second])] == [CaseChange.OPENED, CaseChange.OPENED]


def test_the_published_change_carries_the_case_content():
    current = case("c1", ("c1",), MARCH_1, date(2026, 3, 14))
    published = case_changes({}, [current])[0]
    assert published.model_dump(exclude={"change"}) == current.model_dump(exclude={"change"})


def test_a_case_with_the_same_content_publishes_nothing():
    before = case("c1", ("c1",), change=CaseChange.OPENED)
    assert case_changes(by_id(before), [case("c1", ("c1",))]) == []


def test_bookkeeping_fields_do_not_count_as_content():
    before = case("c1", ("c1",), patient_revision=3, change=CaseChange.EXTENDED)
    now = case("c1", ("c1",), patient_revision=7, change=CaseChange.UPDATED)
    assert same_content(before, now)
    assert case_changes(by_id(before), [now]) == []


def test_a_later_end_extends_the_case():
    # c1 covers 1-14 March; c2 renews it to 28 March
    before = case("c1", ("c1",), MARCH_1, date(2026, 3, 14))
    now = case("c1", ("c1", "c2"), MARCH_1, date(2026, 3, 28))
    changes = case_changes(by_id(before), [now])
    assert summary(changes) == [("c1", CaseStatus.ACTIVE, CaseChange.EXTENDED, (), ())]
    assert changes[0].end == date(2026, 3, 28)
    assert changes[0].certificate_ids == ("c1", "c2")


def test_an_earlier_end_shortens_the_case():
    # the renewal c2 is revoked: the case ends on 14 March again
    before = case("c1", ("c1", "c2"), MARCH_1, date(2026, 3, 28))
    now = case("c1", ("c1",), MARCH_1, date(2026, 3, 14))
    assert summary(case_changes(by_id(before), [now])) == [("c1", CaseStatus.ACTIVE, CaseChange.SHORTENED, (), ())]


def test_fewer_certified_days_with_the_same_span_shortens_the_case():
    # a certificate filling 10-12 March is revoked: the span stays 1-28, 3 days fewer are certified
    before = case("c1", ("c1", "c2", "c3"), MARCH_1, date(2026, 3, 28), certified_days=28)
    now = case("c1", ("c1", "c3"), MARCH_1, date(2026, 3, 28), certified_days=25)
    assert [c.change for c in case_changes(by_id(before), [now])] == [CaseChange.SHORTENED]


def test_other_content_changes_with_the_same_dates_update_the_case():
    # a new certificate from another unit moves the case without changing its dates
    before = case("c1", ("c1",), care_unit_hsa_id="SE-UNIT-A")
    now = case("c1", ("c1", "c2"), care_unit_hsa_id="SE-UNIT-B")
    changes = case_changes(by_id(before), [now])
    assert summary(changes) == [("c1", CaseStatus.ACTIVE, CaseChange.UPDATED, (), ())]
    assert changes[0].care_unit_hsa_id == "SE-UNIT-B"


def test_a_case_whose_certificates_are_all_revoked_is_removed_with_no_successor():
    before = case("c1", ("c1",))
    changes = case_changes(by_id(before), [])
    assert summary(changes) == [("c1", CaseStatus.REMOVED, CaseChange.REMOVED, (), ())]
    assert changes[0].certificate_ids == ("c1",)  # the removal still names what the case held


def test_a_case_id_that_disappears_is_removed_and_names_the_case_that_took_its_certificates():
    # c1 (first certificate) is revoked: c2 now starts the case, so the id becomes c2
    before = case("c1", ("c1", "c2"), MARCH_1, date(2026, 3, 28))
    now = case("c2", ("c2",), date(2026, 3, 15), date(2026, 3, 28))
    changes = case_changes(by_id(before), [now])
    assert summary(changes) == [
        ("c1", CaseStatus.REMOVED, CaseChange.REMOVED, (), ("c2",)),
        ("c2", CaseStatus.ACTIVE, CaseChange.UPDATED, ("c1",), ()),
    ]


def test_two_cases_joined_by_a_new_certificate_are_merged_into_the_earlier_id():
    # c1 (1-14 March) and c3 (1-14 April) are joined by c2 (15-31 March): one case, id c1
    first = case("c1", ("c1",), MARCH_1, date(2026, 3, 14))
    second = case("c3", ("c3",), date(2026, 4, 1), date(2026, 4, 14))
    joined = case("c1", ("c1", "c2", "c3"), MARCH_1, date(2026, 4, 14))
    changes = case_changes(by_id(first, second), [joined])
    assert summary(changes) == [
        ("c3", CaseStatus.REMOVED, CaseChange.REMOVED, (), ("c1",)),
        ("c1", CaseStatus.ACTIVE, CaseChange.MERGED, ("c3",), ()),
    ]


def test_two_cases_joined_under_a_new_id_are_merged_and_replace_both():
    # c0 starts before both and bridges them: the joined case takes the id c0
    first = case("c1", ("c1",), date(2026, 3, 5), date(2026, 3, 14))
    second = case("c3", ("c3",), date(2026, 4, 1), date(2026, 4, 14))
    joined = case("c0", ("c0", "c1", "c3"), MARCH_1, date(2026, 4, 14))
    changes = case_changes(by_id(first, second), [joined])
    assert summary(changes) == [
        ("c1", CaseStatus.REMOVED, CaseChange.REMOVED, (), ("c0",)),
        ("c3", CaseStatus.REMOVED, CaseChange.REMOVED, (), ("c0",)),
        ("c0", CaseStatus.ACTIVE, CaseChange.MERGED, ("c1", "c3"), ()),
    ]


def test_a_case_split_in_two_shortens_the_old_id_and_splits_off_the_new_one():
    # c2 bridged c1 and c3; revoking c2 leaves c1 (1-14 March) and c3 (1-14 April)
    before = case("c1", ("c1", "c2", "c3"), MARCH_1, date(2026, 4, 14))
    kept = case("c1", ("c1",), MARCH_1, date(2026, 3, 14))
    split_off = case("c3", ("c3",), date(2026, 4, 1), date(2026, 4, 14))
    changes = case_changes(by_id(before), [kept, split_off])
    assert summary(changes) == [
        ("c1", CaseStatus.ACTIVE, CaseChange.SHORTENED, (), ()),
        ("c3", CaseStatus.ACTIVE, CaseChange.SPLIT, ("c1",), ()),
    ]


def test_removals_come_before_every_other_change():
    # c5 merges into c4 (removal) while an unrelated new case c9 opens; the removal goes first
    old_a = case("c4", ("c4",), MARCH_1, date(2026, 3, 14))
    old_b = case("c5", ("c5",), date(2026, 3, 20), date(2026, 3, 31))
    opened = case("c9", ("c9",), date(2026, 9, 1), date(2026, 9, 14))
    merged = case("c4", ("c4", "c5"), MARCH_1, date(2026, 3, 31))
    changes = case_changes(by_id(old_a, old_b), [opened, merged])
    assert changes[0].change is CaseChange.REMOVED
    assert summary(changes) == [
        ("c5", CaseStatus.REMOVED, CaseChange.REMOVED, (), ("c4",)),
        ("c9", CaseStatus.ACTIVE, CaseChange.OPENED, (), ()),
        ("c4", CaseStatus.ACTIVE, CaseChange.MERGED, ("c5",), ()),
    ]


def test_unchanged_cases_stay_silent_next_to_changed_ones():
    quiet = case("c1", ("c1",), MARCH_1, date(2026, 3, 14))
    before = case("c9", ("c9",), date(2026, 9, 1), date(2026, 9, 14))
    after = case("c9", ("c9", "c10"), date(2026, 9, 1), date(2026, 9, 14) + timedelta(days=14))
    changes = case_changes(by_id(quiet, before), [quiet, after])
    assert summary(changes) == [("c9", CaseStatus.ACTIVE, CaseChange.EXTENDED, (), ())]


def test_a_republished_active_case_drops_stale_replacement_names():
    # the previous event for c1 said it replaced c3; extending it later must not repeat that
    before = case("c1", ("c1", "c3"), MARCH_1, date(2026, 4, 14)).model_copy(update={"replaces_case_ids": ("c3",)})
    now = case("c1", ("c1", "c3", "c4"), MARCH_1, date(2026, 4, 30))
    changes = case_changes(by_id(before), [now])
    assert summary(changes) == [("c1", CaseStatus.ACTIVE, CaseChange.EXTENDED, (), ())]

"""`milestone_changes`: which milestone states the service publishes, given what it published before."""

from datetime import date

from services.milestones.milestone_changes import milestone_changes, milestone_id
from services.milestones.rehabkedja import MilestoneState
from shared.contracts.cases import CaseChange, CaseStatus, SickLeaveCaseChanged
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus

DAY_90 = MilestoneKind.CHAIN_DAY_90
PLAN = MilestoneKind.RETURN_TO_WORK_PLAN
START = date(2026, 1, 1)
DAY_90_DUE = date(2026, 3, 31)  # 1 January + 89 days


def case(case_id: str = "c1", *, care_unit_hsa_id: str = "SE-UNIT-A", certificate_ids: tuple[str, ...] = ("c1",)) -> SickLeaveCaseChanged:
    return SickLeaveCaseChanged(
        case_id=case_id,
        patient_pseudonym="pseudonym-1",
        patient_revision=1,
        status=CaseStatus.ACTIVE,
        change=CaseChange.OPENED,
        care_unit_hsa_id=care_unit_hsa_id,
        care_provider_hsa_id="SE-PROVIDER-1",
        start=START,
        end=date(2026, 4, 30),
        certified_days=120,
        certificate_ids=certificate_ids,
        latest_certificate_id=certificate_ids[-1],
        sex="F",
        main_diagnosis_code="F32",
        doctor_hsa_id="SE-DOCTOR-1",
        occupations=("NUVARANDE_ARBETE",),
    )


def state(
    status: MilestoneStatus,
    *,
    due_date: date = DAY_90_DUE,
    kind: MilestoneKind = DAY_90,
    case_id: str = "c1",
    offset: int = 0,
) -> MilestoneState:
    return MilestoneState(
        case_id=case_id,
        kind=kind,
        due_date=due_date,
        status=status,
        chain_day=90 if kind is DAY_90 else 30,
        offset=offset,
        earlier_case_ids=(),
        title=f"{kind.value} title",
        legal_reference="SFB 27 kap.",
    )


def cases(*published: SickLeaveCaseChanged) -> dict[str, SickLeaveCaseChanged]:
    return {c.case_id: c for c in published or (case(),)}


def published_after(*rounds: list[MilestoneState], case_rounds: list[dict] | None = None) -> tuple[dict, list[list[MilestoneChanged]]]:
    """Run several rounds, feeding back what each published, as the service does."""
    published: dict[tuple[str, MilestoneKind], MilestoneChanged] = {}
    emitted = []
    for index, states in enumerate(rounds):
        changes = milestone_changes(published, states, case_rounds[index] if case_rounds else cases())
        for change in changes:
            published[(change.case_id, change.kind)] = change
        emitted.append(changes)
    return published, emitted


def test_a_first_scheduled_state_is_published_as_revision_1_with_the_case_details():
    changes = milestone_changes({}, [state(MilestoneStatus.SCHEDULED)], cases(case(certificate_ids=("c1", "c2"))))
    assert len(changes) == 1
    published = changes[0]
    assert published.milestone_id == milestone_id("c1", DAY_90) == "c1:CHAIN_DAY_90"
    assert (published.status, published.due_date, published.revision) == (MilestoneStatus.SCHEDULED, DAY_90_DUE, 1)
    assert published.care_unit_hsa_id == "SE-UNIT-A"
    assert published.certificate_ids == ("c1", "c2")
    assert published.patient_pseudonym == "pseudonym-1"
    assert published.chain_day == 90
    assert published.update is False


def test_a_first_state_that_is_cancelled_is_not_published():
    assert milestone_changes({}, [state(MilestoneStatus.CANCELLED)], cases()) == []


def test_an_unchanged_state_publishes_nothing():
    _, emitted = published_after([state(MilestoneStatus.SCHEDULED)], [state(MilestoneStatus.SCHEDULED)])
    assert [len(changes) for changes in emitted] == [1, 0]


def test_due_goes_out_once_per_due_date():
    # SCHEDULED, then DUE on 31 March, then the same DUE on every later evaluation
    _, emitted = published_after(
        [state(MilestoneStatus.SCHEDULED)],
        [state(MilestoneStatus.DUE)],
        [state(MilestoneStatus.DUE)],
        [state(MilestoneStatus.DUE)],
    )
    assert [[(c.status, c.revision) for c in changes] for changes in emitted] == [
        [(MilestoneStatus.SCHEDULED, 1)],
        [(MilestoneStatus.DUE, 2)],
        [],
        [],
    ]


def test_a_changed_due_date_republishes_with_the_next_revision():
    # an earlier case joins the chain: offset 10 moves day 90 ten days earlier
    _, emitted = published_after(
        [state(MilestoneStatus.SCHEDULED)],
        [state(MilestoneStatus.SCHEDULED, due_date=date(2026, 3, 21), offset=10)],
    )
    republished = emitted[1]
    assert [(c.status, c.due_date, c.offset, c.revision) for c in republished] == [(MilestoneStatus.SCHEDULED, date(2026, 3, 21), 10, 2)]


def test_a_due_milestone_with_a_new_due_date_goes_out_again():
    _, emitted = published_after(
        [state(MilestoneStatus.DUE)],
        [state(MilestoneStatus.DUE, due_date=date(2026, 3, 21))],
    )
    assert [(c.status, c.due_date, c.revision) for c in emitted[1]] == [(MilestoneStatus.DUE, date(2026, 3, 21), 2)]


def test_a_case_moved_to_another_unit_republishes_its_milestone_there():
    _, emitted = published_after(
        [state(MilestoneStatus.SCHEDULED)],
        [state(MilestoneStatus.SCHEDULED)],
        case_rounds=[cases(case(care_unit_hsa_id="SE-UNIT-A")), cases(case(care_unit_hsa_id="SE-UNIT-B"))],
    )
    assert [(c.care_unit_hsa_id, c.revision) for c in emitted[1]] == [("SE-UNIT-B", 2)]


def test_a_renewal_republishes_a_scheduled_milestone_with_its_certificates():
    # c2 renews c1 without moving day 90: the milestone still ahead names both certificates
    _, emitted = published_after(
        [state(MilestoneStatus.SCHEDULED)],
        [state(MilestoneStatus.SCHEDULED)],
        case_rounds=[cases(case(certificate_ids=("c1",))), cases(case(certificate_ids=("c1", "c2")))],
    )
    assert [(c.status, c.certificate_ids, c.revision) for c in emitted[1]] == [(MilestoneStatus.SCHEDULED, ("c1", "c2"), 2)]


def test_a_renewal_republishes_a_due_milestone_as_an_update_with_its_certificates():
    _, emitted = published_after(
        [state(MilestoneStatus.DUE)],
        [state(MilestoneStatus.DUE)],
        [state(MilestoneStatus.DUE)],
        case_rounds=[cases(case(certificate_ids=("c1",))), cases(case(certificate_ids=("c1", "c2"))), cases(case(certificate_ids=("c1", "c2")))],
    )
    assert [[(c.status, c.due_date, c.certificate_ids, c.revision, c.update) for c in changes] for changes in emitted] == [
        [(MilestoneStatus.DUE, DAY_90_DUE, ("c1",), 1, False)],
        [(MilestoneStatus.DUE, DAY_90_DUE, ("c1", "c2"), 2, True)],
        [],
    ]


def test_a_revoked_certificate_leaves_the_latest_milestone_of_its_case():
    _, emitted = published_after(
        [state(MilestoneStatus.DUE)],
        [state(MilestoneStatus.DUE)],
        case_rounds=[cases(case(certificate_ids=("c1", "c2", "c3"))), cases(case(certificate_ids=("c1", "c3")))],
    )
    assert [(c.certificate_ids, c.update) for c in emitted[1]] == [(("c1", "c3"), True)]


def test_a_due_milestone_moved_to_another_unit_is_an_update_there():
    _, emitted = published_after(
        [state(MilestoneStatus.DUE)],
        [state(MilestoneStatus.DUE)],
        case_rounds=[cases(case(care_unit_hsa_id="SE-UNIT-A")), cases(case(care_unit_hsa_id="SE-UNIT-B"))],
    )
    assert [(c.care_unit_hsa_id, c.status, c.revision, c.update) for c in emitted[1]] == [("SE-UNIT-B", MilestoneStatus.DUE, 2, True)]


def test_an_earlier_case_arriving_late_updates_the_chain_day_of_a_due_plan_whose_date_stays():
    # the plan is due on its trigger date, 20 Feb; an earlier case of 31 days makes that chain day 82
    before = state(MilestoneStatus.DUE, kind=PLAN, due_date=date(2026, 2, 20))
    after = before.model_copy(update={"chain_day": 82, "offset": 31, "earlier_case_ids": ("c0",)})
    _, emitted = published_after([before], [after])
    assert [(c.due_date, c.chain_day, c.offset, c.earlier_case_ids, c.update) for c in emitted[1]] == [(date(2026, 2, 20), 82, 31, ("c0",), True)]


def test_a_new_status_or_due_date_is_news_not_an_update():
    _, emitted = published_after(
        [state(MilestoneStatus.SCHEDULED)],
        [state(MilestoneStatus.DUE)],
        [state(MilestoneStatus.DUE, due_date=date(2026, 3, 21))],
        [state(MilestoneStatus.CANCELLED, due_date=date(2026, 3, 21))],
    )
    assert [[(c.status, c.update) for c in changes] for changes in emitted] == [
        [(MilestoneStatus.SCHEDULED, False)],
        [(MilestoneStatus.DUE, False)],
        [(MilestoneStatus.DUE, False)],
        [(MilestoneStatus.CANCELLED, False)],
    ]


def test_a_cancelled_milestone_of_a_case_that_still_exists_keeps_its_case_details_current():
    # day 90 fell out of view, then the case was renewed again without bringing it back
    _, emitted = published_after(
        [state(MilestoneStatus.SCHEDULED)],
        [],
        [],
        case_rounds=[cases(case(certificate_ids=("c1",))), cases(case(certificate_ids=("c1",))), cases(case(certificate_ids=("c1", "c2")))],
    )
    assert [[(c.status, c.certificate_ids, c.update) for c in changes] for changes in emitted] == [
        [(MilestoneStatus.SCHEDULED, ("c1",), False)],
        [(MilestoneStatus.CANCELLED, ("c1",), False)],
        [(MilestoneStatus.CANCELLED, ("c1", "c2"), True)],
    ]


def test_a_withdrawn_milestone_takes_its_chain_day_from_the_cases_place_in_the_chain_now():
    published = {("c1", PLAN): milestone_changes({}, [state(MilestoneStatus.DUE, kind=PLAN, due_date=date(2026, 1, 30))], cases())[0]}
    # the plan went to an earlier case of the chain, which now gives c1 an offset of 40
    changes = milestone_changes(published, [], cases(), {"c1": (40, ("c0",))})
    assert [(c.status, c.due_date, c.chain_day, c.offset, c.earlier_case_ids, c.update) for c in changes] == [
        (MilestoneStatus.CANCELLED, date(2026, 1, 30), 70, 40, ("c0",), False)
    ]


def test_a_computed_cancellation_of_a_published_milestone_is_published_once():
    # the case ended before day 90 arrived: SCHEDULED, then CANCELLED, then nothing more
    _, emitted = published_after(
        [state(MilestoneStatus.SCHEDULED)],
        [state(MilestoneStatus.CANCELLED)],
        [state(MilestoneStatus.CANCELLED)],
    )
    assert [[(c.status, c.revision) for c in changes] for changes in emitted] == [
        [(MilestoneStatus.SCHEDULED, 1)],
        [(MilestoneStatus.CANCELLED, 2)],
        [],
    ]


def test_a_milestone_no_longer_computed_becomes_cancelled_once_and_not_again():
    # day 90 falls out of view (a revoked renewal): no state computed for it any more
    published, emitted = published_after([state(MilestoneStatus.SCHEDULED)], [], [], [])
    assert [[(c.milestone_id, c.status, c.revision) for c in changes] for changes in emitted] == [
        [("c1:CHAIN_DAY_90", MilestoneStatus.SCHEDULED, 1)],
        [("c1:CHAIN_DAY_90", MilestoneStatus.CANCELLED, 2)],
        [],
        [],
    ]
    cancelled = published[("c1", DAY_90)]
    assert cancelled.due_date == DAY_90_DUE  # the cancellation names the date it withdraws
    assert cancelled.care_unit_hsa_id == "SE-UNIT-A"


def test_milestones_of_a_removed_case_are_cancelled_without_the_case_being_known():
    # the case id c1 was merged away: no states and no case record for it any more
    published = {("c1", DAY_90): milestone_changes({}, [state(MilestoneStatus.DUE)], cases())[0]}
    changes = milestone_changes(published, [], {})
    assert [(c.case_id, c.status, c.revision) for c in changes] == [("c1", MilestoneStatus.CANCELLED, 2)]


def test_a_cancelled_milestone_that_comes_back_is_published_again():
    _, emitted = published_after([state(MilestoneStatus.SCHEDULED)], [], [state(MilestoneStatus.SCHEDULED)])
    assert [(c.status, c.revision) for c in emitted[2]] == [(MilestoneStatus.SCHEDULED, 3)]


def test_each_case_and_kind_is_judged_on_its_own():
    # day 90 unchanged, the plan appears, day 90 of another case disappears
    first_round = [state(MilestoneStatus.SCHEDULED), state(MilestoneStatus.SCHEDULED, case_id="c7")]
    second_round = [state(MilestoneStatus.SCHEDULED), state(MilestoneStatus.DUE, kind=PLAN, due_date=date(2026, 1, 30))]
    both = cases(case("c1"), case("c7", certificate_ids=("c7",)))
    _, emitted = published_after(first_round, second_round, case_rounds=[both, both])
    assert sorted((c.milestone_id, c.status, c.revision) for c in emitted[1]) == [
        ("c1:RETURN_TO_WORK_PLAN", MilestoneStatus.DUE, 1),
        ("c7:CHAIN_DAY_90", MilestoneStatus.CANCELLED, 2),
    ]

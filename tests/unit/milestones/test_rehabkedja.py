from datetime import UTC, date, datetime, time

from services.milestones.rehabkedja import (
    ChainCase,
    Checkpoint,
    MilestoneState,
    RehabkedjaRules,
    chain_day,
    chain_offsets,
    milestones_at,
    next_change_date,
)
from shared.clock import STOCKHOLM
from shared.contracts.cases import CaseCertificate
from shared.contracts.milestones import MilestoneKind, MilestoneStatus

EMPLOYED = ("NUVARANDE_ARBETE",)
UNEMPLOYED = ("ARBETSSOKANDE",)
PLAN = MilestoneKind.RETURN_TO_WORK_PLAN
DAY_90 = MilestoneKind.CHAIN_DAY_90
DAY_180 = MilestoneKind.CHAIN_DAY_180


def certificate(
    certificate_id: str,
    start: date,
    end: date,
    signed_on: date | None = None,
    occupations: tuple[str, ...] = EMPLOYED,
    prognosis_code: str | None = None,
    prognosis_days: int | None = None,
) -> CaseCertificate:
    return CaseCertificate(
        certificate_id=certificate_id,
        signed_at=datetime.combine(signed_on or start, time(9), tzinfo=STOCKHOLM),
        start=start,
        end=end,
        occupations=occupations,
        prognosis_code=prognosis_code,
        prognosis_days=prognosis_days,
    )


def case(case_id: str, start: date, end: date, *certificates: CaseCertificate, occupations: tuple[str, ...] = UNEMPLOYED) -> ChainCase:
    # Unemployed by default so the checkpoint tests are not cluttered with a plan.
    certificates = certificates or (certificate(case_id, start, end, occupations=occupations),)
    return ChainCase(case_id=case_id, start=start, end=end, certificates=certificates)


def milestone(
    cases: list[ChainCase], today: date, case_id: str, kind: MilestoneKind, rules: RehabkedjaRules = RehabkedjaRules()
) -> MilestoneState | None:
    found = [state for state in milestones_at(cases, today, rules) if state.case_id == case_id and state.kind == kind]
    assert len(found) <= 1
    return found[0] if found else None


# Chain joining and offsets


def test_a_single_case_has_no_offset():
    assert chain_offsets([case("a", date(2026, 1, 1), date(2026, 1, 31))]) == {"a": (0, ())}


def test_a_case_after_one_earlier_case_of_its_chain_carries_that_case_s_days():
    cases = [case("a", date(2026, 1, 1), date(2026, 1, 31)), case("b", date(2026, 3, 1), date(2026, 3, 20))]
    # a covers 1 Jan..31 Jan = 31 days
    assert chain_offsets(cases)["b"] == (31, ("a",))


def test_offset_sums_two_earlier_cases_of_the_chain():
    cases = [
        case("c", date(2026, 5, 1), date(2026, 5, 10)),
        case("a", date(2026, 1, 1), date(2026, 1, 31)),
        case("b", date(2026, 3, 1), date(2026, 3, 20)),
    ]
    # 31 days of a + 20 days of b
    assert chain_offsets(cases)["c"] == (51, ("a", "b"))


def test_cases_89_days_apart_join_the_chain():
    cases = [case("a", date(2026, 1, 1), date(2026, 1, 10)), case("b", date(2026, 4, 10), date(2026, 4, 30))]
    # 10 Apr - 10 Jan - 1 = 90 - 1 = 89 days between, fewer than 90
    assert chain_offsets(cases)["b"] == (10, ("a",))


def test_cases_90_days_apart_start_a_new_chain():
    cases = [case("a", date(2026, 1, 1), date(2026, 1, 10)), case("b", date(2026, 4, 11), date(2026, 4, 30))]
    # 11 Apr - 10 Jan - 1 = 91 - 1 = 90 days between
    assert chain_offsets(cases)["b"] == (0, ())


def test_89_days_apart_the_second_case_s_checkpoint_counts_the_first_case_and_90_days_apart_it_does_not():
    first = case("a", date(2026, 1, 1), date(2026, 1, 31))
    # 1 May - 31 Jan = 90, less 1: 89 days between (1 Feb..30 Apr); from 2 May: 90 days between
    joined = [first, case("b", date(2026, 5, 1), date(2026, 8, 31))]
    apart = [first, case("b", date(2026, 5, 2), date(2026, 8, 31))]
    # joined: offset 31, day 90 = 1 May + (89 - 31) = 1 May + 58 days = 28 Jun
    joined_day_90 = milestone(joined, date(2026, 5, 2), "b", DAY_90)
    assert (joined_day_90.due_date, joined_day_90.offset, joined_day_90.earlier_case_ids) == (date(2026, 6, 28), 31, ("a",))
    # apart: offset 0, day 90 = 2 May + 89 days = 30 Jul
    apart_day_90 = milestone(apart, date(2026, 5, 2), "b", DAY_90)
    assert (apart_day_90.due_date, apart_day_90.offset, apart_day_90.earlier_case_ids) == (date(2026, 7, 30), 0, ())


def test_a_checkpoint_of_a_third_case_counts_the_days_of_both_earlier_cases():
    cases = [
        case("a", date(2026, 1, 1), date(2026, 1, 31)),
        case("b", date(2026, 3, 1), date(2026, 3, 20)),
        case("c", date(2026, 5, 1), date(2026, 7, 31)),
    ]
    state = milestone(cases, date(2026, 5, 1), "c", DAY_90)
    # offset 31 + 20 = 51; day 90 = 1 May + (89 - 51) = 1 May + 38 days = 8 Jun; 51 + 39 = chain day 90
    assert (state.due_date, state.chain_day, state.offset, state.earlier_case_ids) == (date(2026, 6, 8), 90, 51, ("a", "b"))
    assert state.legal_reference == "SFB 27 kap. 46–49 §§, 51 §"


def test_a_break_starts_a_new_chain_that_later_cases_join():
    cases = [
        case("a", date(2025, 1, 1), date(2025, 1, 10)),
        case("b", date(2026, 1, 1), date(2026, 1, 20)),
        case("c", date(2026, 2, 1), date(2026, 2, 5)),
    ]
    assert chain_offsets(cases) == {"a": (0, ()), "b": (0, ()), "c": (20, ("b",))}


def test_chain_day_adds_the_offset_to_the_day_of_the_case():
    later_case = case("b", date(2026, 3, 1), date(2026, 3, 20))
    # 31 carried days + 10 Mar being day 10 of the case
    assert chain_day(later_case, 31, date(2026, 3, 10)) == 41


# Checkpoints


def test_a_checkpoint_is_scheduled_before_its_due_date_and_due_from_it():
    cases = [case("a", date(2026, 1, 1), date(2026, 6, 30))]
    # day 90 = 1 Jan + 89 days = 31 Mar
    before = milestone(cases, date(2026, 3, 30), "a", DAY_90)
    on = milestone(cases, date(2026, 3, 31), "a", DAY_90)
    assert (before.due_date, before.status) == (date(2026, 3, 31), MilestoneStatus.SCHEDULED)
    assert (on.due_date, on.status, on.chain_day) == (date(2026, 3, 31), MilestoneStatus.DUE, 90)


def test_a_checkpoint_of_a_later_case_is_shifted_by_the_offset():
    cases = [case("a", date(2026, 1, 1), date(2026, 1, 31)), case("b", date(2026, 3, 1), date(2026, 6, 30))]
    state = milestone(cases, date(2026, 3, 1), "b", DAY_90)
    # 1 Mar + (90 - 1 - 31) = 1 Mar + 58 days = 28 Apr
    assert (state.due_date, state.chain_day, state.offset, state.earlier_case_ids) == (date(2026, 4, 28), 90, 31, ("a",))


def test_checkpoint_due_in_a_gap_after_the_case_ended_is_cancelled():
    cases = [case("a", date(2026, 1, 1), date(2026, 3, 25)), case("b", date(2026, 4, 10), date(2026, 5, 31))]
    # a: day 90 = 31 Mar, after a's end 25 Mar but within 25 Mar + 14 = 8 Apr
    assert milestone(cases, date(2026, 3, 30), "a", DAY_90).status == MilestoneStatus.SCHEDULED
    assert milestone(cases, date(2026, 3, 31), "a", DAY_90).status == MilestoneStatus.CANCELLED
    # b carries a's 84 days: day 90 = 10 Apr + (90 - 1 - 84) = 15 Apr
    assert milestone(cases, date(2026, 3, 31), "b", DAY_90).due_date == date(2026, 4, 15)


def test_a_checkpoint_due_on_the_last_day_of_the_case_becomes_due_not_cancelled():
    cases = [case("a", date(2026, 1, 1), date(2026, 3, 31))]
    # day 90 = 31 Mar = end
    assert milestone(cases, date(2026, 4, 20), "a", DAY_90).status == MilestoneStatus.DUE


def test_a_checkpoint_due_on_end_plus_lead_days_is_in_view():
    cases = [case("a", date(2026, 1, 1), date(2026, 3, 17))]
    # day 90 = 31 Mar = 17 Mar + 14
    assert milestone(cases, date(2026, 3, 1), "a", DAY_90).due_date == date(2026, 3, 31)


def test_a_checkpoint_due_on_end_plus_one_more_than_lead_days_is_not_in_view():
    cases = [case("a", date(2026, 1, 1), date(2026, 3, 16))]
    # day 90 = 31 Mar = 16 Mar + 15
    assert milestone(cases, date(2026, 3, 1), "a", DAY_90) is None


def test_lead_days_come_from_the_rules():
    cases = [case("a", date(2026, 1, 1), date(2026, 3, 17))]
    # day 90 = 31 Mar, 14 days after the end, beyond a lead of 13
    assert milestone(cases, date(2026, 3, 1), "a", DAY_90, RehabkedjaRules(lead_days=13)) is None


def test_a_checkpoint_passed_in_an_earlier_case_does_not_apply():
    cases = [case("a", date(2026, 1, 1), date(2026, 4, 10)), case("b", date(2026, 5, 1), date(2026, 9, 30))]
    # a covers 100 days: day 90 lies in a, so b (offset 100) has only day 180, due 1 May + 79 = 19 Jul
    assert milestone(cases, date(2026, 5, 1), "b", DAY_90) is None
    assert milestone(cases, date(2026, 5, 1), "b", DAY_180).due_date == date(2026, 7, 19)


def test_checkpoint_at_or_below_the_offset_does_not_apply():
    later = date(2026, 5, 1)
    # a: 1 Jan..30 Mar = 89 days, 1 Jan..31 Mar = 90, 1 Jan..1 Apr = 91; b starts 1 May (< 90 days later)
    below = [case("a", date(2026, 1, 1), date(2026, 3, 30)), case("b", later, date(2026, 9, 30))]
    at = [case("a", date(2026, 1, 1), date(2026, 3, 31)), case("b", later, date(2026, 9, 30))]
    above = [case("a", date(2026, 1, 1), date(2026, 4, 1)), case("b", later, date(2026, 9, 30))]
    # offset 89 < 90: day 90 is b's first day, 1 May + (90 - 1 - 89) = 1 May
    assert (milestone(below, later, "b", DAY_90).due_date, milestone(below, later, "b", DAY_90).chain_day) == (later, 90)
    # offset 90 and 91 >= 90: day 90 lay in a; b's next checkpoint is day 180, 1 May + (179 - offset)
    assert milestone(at, later, "b", DAY_90) is None
    assert milestone(above, later, "b", DAY_90) is None
    assert milestone(at, later, "b", DAY_180).due_date == date(2026, 7, 29)  # 1 May + 89 days
    assert milestone(above, later, "b", DAY_180).due_date == date(2026, 7, 28)  # 1 May + 88 days


def test_a_checkpoint_whose_day_equals_the_offset_does_not_apply():
    cases = [case("a", date(2026, 1, 1), date(2026, 3, 31)), case("b", date(2026, 5, 1), date(2026, 9, 30))]
    # a covers 1 Jan..31 Mar = 90 days, so day 90 was a's last day
    assert milestone(cases, date(2026, 5, 1), "a", DAY_90).status == MilestoneStatus.DUE
    assert milestone(cases, date(2026, 5, 1), "b", DAY_90) is None


def test_a_case_that_starts_after_t_has_scheduled_checkpoints():
    cases = [case("a", date(2026, 6, 1), date(2026, 9, 30))]
    # day 90 = 1 Jun + 89 = 29 Aug
    state = milestone(cases, date(2026, 5, 1), "a", DAY_90)
    assert (state.due_date, state.status) == (date(2026, 8, 29), MilestoneStatus.SCHEDULED)


def test_checkpoints_come_from_the_rules():
    rules = RehabkedjaRules(checkpoints=(Checkpoint(kind=DAY_90, chain_day=60, title="t", legal_reference="r"),))
    cases = [case("a", date(2026, 1, 1), date(2026, 12, 31))]
    # day 60 = 1 Jan + 59 = 1 Mar
    assert [(state.kind, state.due_date) for state in milestones_at(cases, date(2026, 1, 1), rules)] == [(DAY_90, date(2026, 3, 1))]


# The 30-day plan


def test_unemployed_patient_gets_no_plan():
    start, end = date(2026, 1, 1), date(2026, 6, 30)
    oklar = certificate("c1", start, end, occupations=UNEMPLOYED, prognosis_code="PROGNOS_OKLAR")
    # 1 Jan..30 Jun = 181 days and an unclear prognosis: long enough twice over, but no employer
    assert milestone([case("a", start, end, oklar)], date(2026, 2, 1), "a", PLAN) is None
    assert milestone([case("a", start, end, occupations=UNEMPLOYED)], date(2026, 2, 1), "a", PLAN) is None


def test_a_patient_who_gives_up_the_job_on_the_latest_certificate_gets_no_plan():
    start = date(2026, 1, 1)
    employed = certificate("c1", start, date(2026, 2, 28))
    job_seeking = certificate("c2", date(2026, 3, 1), date(2026, 3, 31), signed_on=date(2026, 2, 27), occupations=UNEMPLOYED)
    # 1 Jan..31 Mar = 90 days, but the latest certificate names no current job
    assert milestone([case("a", start, date(2026, 3, 31), employed, job_seeking)], date(2026, 3, 1), "a", PLAN) is None


def test_a_short_case_without_a_long_prognosis_gets_no_plan():
    start = date(2026, 1, 1)
    cases = [case("a", start, date(2026, 2, 28), certificate("c1", start, date(2026, 2, 28), prognosis_code="STOR_SANNOLIKHET"))]
    # 1 Jan..28 Feb = 59 days, one short
    assert milestone(cases, date(2026, 1, 1), "a", PLAN) is None


def test_a_case_of_60_days_gets_a_plan_due_on_day_30():
    start = date(2026, 1, 1)
    cases = [case("a", start, date(2026, 3, 1), certificate("c1", start, date(2026, 3, 1)))]
    # 1 Jan..1 Mar = 60 days; day 30 = 1 Jan + 29 = 30 Jan
    state = milestone(cases, date(2026, 1, 1), "a", PLAN)
    assert (state.due_date, state.status, state.chain_day) == (date(2026, 1, 30), MilestoneStatus.SCHEDULED, 30)
    assert state.legal_reference == "SFB 30 kap. 6 §"


def test_prognos_oklar_with_a_short_first_certificate_triggers_the_plan_at_day_30():
    start = date(2026, 1, 1)
    cases = [case("a", start, date(2026, 1, 14), certificate("c1", start, date(2026, 1, 14), prognosis_code="PROGNOS_OKLAR"))]
    # signed 1 Jan, before day 30 = 30 Jan
    assert milestone(cases, date(2026, 1, 1), "a", PLAN).due_date == date(2026, 1, 30)


def test_a_long_prognosis_signed_after_day_30_makes_the_plan_due_on_its_signing_date():
    start = date(2026, 1, 1)
    oklar = certificate("c1", start, date(2026, 2, 14), signed_on=date(2026, 2, 3), prognosis_code="SANNOLIKT_INTE")
    cases = [case("a", start, date(2026, 2, 14), oklar)]
    # max(day 30 = 30 Jan, signed 3 Feb)
    assert milestone(cases, date(2026, 2, 3), "a", PLAN).due_date == date(2026, 2, 3)


def test_a_return_prognosis_of_60_days_calls_for_a_plan_but_59_does_not():
    start, end = date(2026, 1, 1), date(2026, 1, 14)
    sixty = [case("a", start, end, certificate("c1", start, end, prognosis_code="ATER_X_ANTAL_DGR", prognosis_days=60))]
    fifty_nine = [case("a", start, end, certificate("c1", start, end, prognosis_code="ATER_X_ANTAL_DGR", prognosis_days=59))]
    assert milestone(sixty, start, "a", PLAN).due_date == date(2026, 1, 30)
    assert milestone(fifty_nine, start, "a", PLAN) is None


def test_renewal_pushing_expected_length_past_60_after_day_30_makes_the_plan_due_at_once():
    start = date(2026, 1, 1)
    first = certificate("c1", start, date(2026, 1, 31))
    renewal = certificate("c2", date(2026, 2, 1), date(2026, 3, 5), signed_on=date(2026, 2, 2))
    cases = [case("a", start, date(2026, 3, 5), first, renewal)]
    # 1 Jan..5 Mar = 64 days from the renewal on; max(day 30 = 30 Jan, signed 2 Feb)
    state = milestone(cases, date(2026, 2, 2), "a", PLAN)
    assert (state.due_date, state.status, state.chain_day) == (date(2026, 2, 2), MilestoneStatus.DUE, 33)


def test_a_renewal_reaching_60_days_before_day_30_keeps_the_plan_due_on_day_30():
    start = date(2026, 1, 1)
    first = certificate("c1", start, date(2026, 1, 20))
    renewal = certificate("c2", date(2026, 1, 21), date(2026, 3, 31), signed_on=date(2026, 1, 19))
    cases = [case("a", start, date(2026, 3, 31), first, renewal)]
    # signed 19 Jan, before day 30 = 30 Jan
    assert milestone(cases, date(2026, 1, 19), "a", PLAN).due_date == date(2026, 1, 30)


def test_the_trigger_is_the_first_certificate_that_calls_for_the_plan_not_the_latest():
    start = date(2026, 1, 1)
    oklar = certificate("c1", start, date(2026, 1, 31), signed_on=date(2026, 2, 5), prognosis_code="PROGNOS_OKLAR")
    renewal = certificate("c2", date(2026, 2, 1), date(2026, 3, 31), signed_on=date(2026, 2, 20))
    cases = [case("a", start, date(2026, 3, 31), oklar, renewal)]
    # c1 already called for it on 5 Feb; c2 on 20 Feb changes nothing
    assert milestone(cases, date(2026, 2, 20), "a", PLAN).due_date == date(2026, 2, 5)


def test_the_trigger_date_is_the_signing_date_in_stockholm():
    start = date(2026, 1, 1)
    oklar = certificate("c1", start, date(2026, 2, 14), prognosis_code="PROGNOS_OKLAR").model_copy(
        update={"signed_at": datetime(2026, 2, 3, 23, 30, tzinfo=UTC)}
    )
    cases = [case("a", start, date(2026, 2, 14), oklar)]
    # 23:30 UTC on 3 Feb is 00:30 on 4 Feb in Stockholm
    assert milestone(cases, date(2026, 2, 1), "a", PLAN).due_date == date(2026, 2, 4)


def test_the_plan_follows_the_latest_certificate_and_disappears_when_it_no_longer_calls_for_it():
    start = date(2026, 1, 1)
    oklar = certificate("c1", start, date(2026, 1, 14), prognosis_code="PROGNOS_OKLAR")
    hopeful = certificate("c2", date(2026, 1, 15), date(2026, 1, 28), signed_on=date(2026, 1, 14), prognosis_code="STOR_SANNOLIKHET")
    assert milestone([case("a", start, date(2026, 1, 28), oklar, hopeful)], date(2026, 1, 14), "a", PLAN) is None


def test_certificates_sent_out_of_signing_order_are_read_in_signing_order():
    start = date(2026, 1, 1)
    oklar = certificate("c1", start, date(2026, 1, 14), prognosis_code="PROGNOS_OKLAR")
    hopeful = certificate("c2", start, date(2026, 1, 14), prognosis_code="STOR_SANNOLIKHET")
    # both signed at the same instant: the larger id, c2, was signed last
    assert milestone([case("a", start, date(2026, 1, 14), hopeful, oklar)], start, "a", PLAN) is None


def test_the_plan_stays_due_after_the_case_ends_before_its_due_date():
    start = date(2026, 1, 1)
    cases = [case("a", start, date(2026, 1, 20), certificate("c1", start, date(2026, 1, 20), prognosis_code="PROGNOS_OKLAR"))]
    # due day 30 = 30 Jan, after the end on 20 Jan
    assert milestone(cases, date(2026, 2, 15), "a", PLAN).status == MilestoneStatus.DUE


def test_only_the_first_case_of_a_chain_that_calls_for_a_plan_gets_one():
    first = case("a", date(2026, 1, 1), date(2026, 1, 14), certificate("a", date(2026, 1, 1), date(2026, 1, 14), prognosis_code="PROGNOS_OKLAR"))
    second = case("b", date(2026, 3, 1), date(2026, 5, 31), certificate("b", date(2026, 3, 1), date(2026, 5, 31)))
    cases = [first, second]
    assert milestone(cases, date(2026, 3, 1), "a", PLAN).due_date == date(2026, 1, 30)
    assert milestone(cases, date(2026, 3, 1), "b", PLAN) is None


def test_a_later_case_of_the_chain_gets_the_plan_when_no_earlier_case_called_for_it():
    first = case("a", date(2026, 1, 1), date(2026, 1, 31), occupations=EMPLOYED)
    second = case("b", date(2026, 3, 1), date(2026, 3, 31), certificate("b", date(2026, 3, 1), date(2026, 3, 31)))
    cases = [first, second]
    # b: 31 carried + 31 own = 62 days; due max(1 Mar + (29 - 31) = 27 Feb, signed 1 Mar); chain day 31 + 1
    state = milestone(cases, date(2026, 3, 1), "b", PLAN)
    assert milestone(cases, date(2026, 3, 1), "a", PLAN) is None
    assert (state.due_date, state.status, state.chain_day, state.offset) == (date(2026, 3, 1), MilestoneStatus.DUE, 32, 31)


def test_a_new_chain_can_have_its_own_plan():
    first = case("a", date(2025, 1, 1), date(2025, 3, 31), occupations=EMPLOYED)
    second = case("b", date(2026, 1, 1), date(2026, 3, 31), occupations=EMPLOYED)
    states = milestones_at([first, second], date(2026, 1, 1))
    assert [(state.case_id, state.due_date) for state in states if state.kind == PLAN] == [("a", date(2025, 1, 30)), ("b", date(2026, 1, 30))]


# next_change_date


def test_the_next_change_is_the_earliest_scheduled_due_date():
    start = date(2026, 1, 1)
    cases = [case("a", start, date(2026, 7, 31), certificate("c1", start, date(2026, 7, 31)))]
    # plan due 30 Jan, day 90 due 31 Mar, day 180 due 29 Jun
    assert next_change_date(cases, date(2026, 1, 1)) == date(2026, 1, 30)
    assert next_change_date(cases, date(2026, 1, 30)) == date(2026, 3, 31)
    assert next_change_date(cases, date(2026, 3, 31)) == date(2026, 6, 29)


def test_a_checkpoint_in_the_gap_changes_on_its_due_date():
    cases = [case("a", date(2026, 1, 1), date(2026, 3, 25))]
    # day 90 = 31 Mar, which turns CANCELLED that day
    assert next_change_date(cases, date(2026, 3, 26)) == date(2026, 3, 31)


def test_there_is_no_next_change_once_every_milestone_has_passed():
    cases = [case("a", date(2026, 1, 1), date(2026, 4, 30))]
    assert next_change_date(cases, date(2026, 4, 1)) is None
    assert next_change_date([], date(2026, 4, 1)) is None

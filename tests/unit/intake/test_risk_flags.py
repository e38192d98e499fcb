"""Risk flags (docs/rules.md §5): each rule with worked numbers and its boundary, levels, config, publishing."""

import json
import re
from collections.abc import Sequence
from datetime import date
from importlib import resources

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.intake.risk_flags import (
    FMB_DATA_FILE,
    RiskFlag,
    RiskFlagRules,
    RiskReason,
    RiskWeights,
    flag_changes,
    fmb_table_from_json,
    load_fmb_table,
    risk_flag_event,
    risk_flags,
    risk_level,
)
from shared.contracts.cases import CaseStatus, SickLeaveCaseChanged
from shared.contracts.certificates import Occupation, PrognosisCode
from shared.contracts.risk_flags import RiskFlagChanged, RiskLevel, RiskReasonCode
from shared.sickleave.case_changes import case_snapshot
from shared.sickleave.certificate import Certificate, Prognosis
from shared.sickleave.sick_leave_case import SickLeaveCase, assemble_sick_leave_cases
from tests.unit.sickleave.test_sick_leave_case import make_certificate

FMB = load_fmb_table()
RULES = RiskFlagRules()
EMPLOYED = (Occupation.NUVARANDE_ARBETE,)
# No rule looks at S52 (forearm fracture): no psych/MSK list, no FMB entry.
NEUTRAL_DIAGNOSIS = "S52"


def cert(
    certificate_id: str,
    start: str,
    end: str,
    *,
    degree: int = 50,
    diagnosis: str = NEUTRAL_DIAGNOSIS,
    signed: str | None = None,
    occupations: Sequence[Occupation] = EMPLOYED,
    prognosis: Prognosis | None = None,
    periods: Sequence[tuple[str, str, int]] | None = None,
) -> Certificate:
    """A certificate that matches no rule unless told to: 50 %, S52, employed, no prognosis.

    `periods`, when given, replace the single period `start..end`; signed on the first day at 09:00.
    """
    return make_certificate(
        certificate_id,
        periods or [(start, end, degree)],
        signed_at=f"{signed or (periods[0][0] if periods else start)}T09:00:00+01:00",
        diagnosis_codes=(diagnosis,),
        occupations=occupations,
        prognosis=prognosis,
    )


def cases_of(*certificates: Certificate) -> tuple[SickLeaveCase, ...]:
    return assemble_sick_leave_cases(certificates, [])


def flags_of(*certificates: Certificate, rules: RiskFlagRules = RULES) -> dict[str, RiskFlag]:
    return risk_flags(cases_of(*certificates), rules, FMB)


def flag_of(*certificates: Certificate, case_id: str | None = None, rules: RiskFlagRules = RULES) -> RiskFlag:
    flags = flags_of(*certificates, rules=rules)
    return flags[case_id] if case_id else next(iter(flags.values()))


def reason(flag: RiskFlag, code: RiskReasonCode) -> RiskReason | None:
    return next((found for found in flag.reasons if found.code == code), None)


def test_a_neutral_case_has_no_reasons_and_level_none():
    flag = flag_of(cert("A", "2026-03-01", "2026-03-10"))
    assert (flag.case_id, flag.score, flag.level, flag.reasons, flag.flagged) == ("A", 0, RiskLevel.NONE, (), False)


# --- the FMB data file -----------------------------------------------------------------------

UNITS = {"d": 1, "wk": 7, "mo": 31}


def raw_fmb() -> dict:
    return json.loads(resources.files("services.intake").joinpath(FMB_DATA_FILE).read_text(encoding="utf-8"))


def test_the_fmb_file_names_its_source_date_units_and_that_it_is_illustrative():
    header = raw_fmb()["header"]
    assert "Socialstyrelsen" in header["source"] and "TypfallStubResponse.json" in header["source"]
    assert header["api_build"] == "2018-06-05"
    assert header["file_last_changed"] == "2020-04-02"
    assert "domain.md §4.1" in header["retrieved_via"]
    assert header["units"] == UNITS
    assert "Illustrative" in header["note"] and "live FMB API" in header["note"]
    assert FMB.header.api_build == "2018-06-05"


def test_every_fmb_entry_states_its_duration_and_the_same_in_days():
    entries = raw_fmb()["entries"]
    assert len(entries) == len(FMB.entries) == 41
    for entry in entries:
        amount, unit = re.fullmatch(r"(\d+) (d|wk|mo)", entry["longest"]).groups()
        assert entry["days"] == int(amount) * UNITS[unit], entry
        assert re.fullmatch(r"[A-Z][0-9]{2}[0-9A-Z]*", entry["code"]), entry
    assert len({entry["code"] for entry in entries}) == len(entries)


def test_the_fmb_ranges_are_expanded_and_the_long_pain_codes_are_listed():
    days = {entry.code: entry.days for entry in FMB.entries}
    assert {code: days[code] for code in [f"F2{n}" for n in range(10)]} == {f"F2{n}": 372 for n in range(10)}
    assert {code: days[code] for code in [f"I6{n}" for n in range(10)]} == {f"I6{n}": 62 for n in range(10)}
    assert days["M79"] == days["R52"] == 744  # 24 mo
    assert (days["F32"], days["F33"], days["F438"], days["F432"], days["F410"], days["M51"]) == (186, 372, 372, 93, 28, 42)


def test_a_table_whose_days_disagree_with_the_stated_duration_is_refused():
    data = raw_fmb()
    data["entries"][0] = {**data["entries"][0], "days": 365}  # "12 mo" is 372 days
    with pytest.raises(ValidationError, match="is not 365 days"):
        fmb_table_from_json(data)


@pytest.mark.parametrize(
    ("diagnosis", "entry_code", "days"),
    [
        ("M545", "M545", 14),  # M54.5 lumbago: 2 wk
        ("M5459", "M545", 14),  # a longer code takes its longest listed prefix
        ("M544", "M544", 42),
        ("M54", None, None),  # our choice: FMB gives only M54.4 / M54.5, so bare M54 has no maximum
        ("M549", None, None),
        ("F438A", "F438", 372),  # utmattningssyndrom under F43.8
        ("F43", None, None),
        ("F321", "F32", 186),
        ("F25", "F25", 372),
        (NEUTRAL_DIAGNOSIS, None, None),
    ],
)
def test_the_fmb_lookup_takes_the_longest_matching_prefix(diagnosis, entry_code, days):
    entry = FMB.entry_for(diagnosis)
    assert (entry.code if entry else None, entry.days if entry else None) == (entry_code, days)


def test_a_longer_prefix_wins_over_a_shorter_one_in_the_same_table():
    data = raw_fmb()
    data["entries"].append({"code": "M54", "icd10": "M54", "title": "Ryggvärk", "longest": "4 wk", "days": 28})
    table = fmb_table_from_json(data)
    assert table.entry_for("M545").days == 14
    assert table.entry_for("M543").days == 28


# --- diagnosis rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("diagnosis", "weight", "evidence"),
    [
        ("F438A", 3, "main diagnosis F438A (F43.8: weight 3)"),
        ("F438", 3, "main diagnosis F438 (F43.8: weight 3)"),
        ("F31", 3, "main diagnosis F31 (F31: weight 3)"),
        ("F321", 3, "main diagnosis F321 (F32: weight 3)"),
        ("F33", 3, "main diagnosis F33 (F33: weight 3)"),
        ("F432", 2, "main diagnosis F432 (F00–F99: weight 2)"),
        ("F411", 2, "main diagnosis F411 (F00–F99: weight 2)"),
        ("F00", 2, "main diagnosis F00 (F00–F99: weight 2)"),
    ],
)
def test_dx_psych_weighs_3_for_f31_f32_f33_f438_and_2_for_other_f_codes(diagnosis, weight, evidence):
    # Short 50 % case so nothing else matches (F41.1's FMB max is 28 days, this case has 10).
    flag = flag_of(cert("A", "2026-03-01", "2026-03-10", diagnosis=diagnosis))
    found = reason(flag, RiskReasonCode.DX_PSYCH)
    assert (found.weight, found.evidence, found.matched_value) == (weight, evidence, diagnosis)
    assert flag.reason_codes == ("DX_PSYCH",)


@pytest.mark.parametrize(
    ("diagnosis", "code", "weight"),
    [
        ("M16", RiskReasonCode.DX_MSK_HIGH, 2),
        ("M171", RiskReasonCode.DX_MSK_HIGH, 2),
        ("M19", RiskReasonCode.DX_MSK_HIGH, 2),
        ("M511", RiskReasonCode.DX_MSK_HIGH, 2),
        ("M53", RiskReasonCode.DX_MSK_HIGH, 2),
        ("M545", RiskReasonCode.DX_MSK_LOW, 1),
        ("M751", RiskReasonCode.DX_MSK_LOW, 1),
        ("M77", RiskReasonCode.DX_MSK_LOW, 1),
        ("M79", RiskReasonCode.DX_MSK_LOW, 1),
    ],
)
def test_msk_diagnoses_weigh_by_their_list(diagnosis, code, weight):
    flag = flag_of(cert("A", "2026-03-01", "2026-03-05", diagnosis=diagnosis))
    assert flag.reason_codes == (code.value,)
    assert flag.score == weight


@pytest.mark.parametrize("diagnosis", ["M23", "G560", "S52", "R52"])
def test_other_diagnoses_match_no_diagnosis_rule(diagnosis):
    assert flag_of(cert("A", "2026-03-01", "2026-03-05", diagnosis=diagnosis)).reasons == ()


def test_the_diagnosis_is_the_first_code_of_the_latest_certificate():
    first = cert("A", "2026-03-01", "2026-03-05", diagnosis="F32")
    renewal = cert("B", "2026-03-06", "2026-03-10", diagnosis="S52", signed="2026-03-06")
    assert flag_of(first, renewal).reasons == ()


# --- FMB_EXCEEDED ----------------------------------------------------------------------------


def test_fmb_exceeded_when_certified_days_are_above_the_fmb_maximum():
    # F32: 6 mo = 186 days; 2026-01-01..2026-07-19 is 200 days at 50 %.
    flag = flag_of(cert("A", "2026-01-01", "2026-07-19", diagnosis="F32"))
    found = reason(flag, RiskReasonCode.FMB_EXCEEDED)
    assert (found.weight, found.evidence) == (3, "certified days 200 > FMB max 186 for F32 (6 mo)")
    assert (found.matched_value, found.limit) == ("200", "186")


@pytest.mark.parametrize(("end", "exceeded"), [("2026-07-05", False), ("2026-07-06", True)])
def test_fmb_exceeded_needs_more_than_the_maximum_not_equal_to_it(end, exceeded):
    # 2026-01-01..2026-07-05 = 186 certified days (= the F32 maximum); to 07-06 = 187.
    flag = flag_of(cert("A", "2026-01-01", end, diagnosis="F32"))
    assert (reason(flag, RiskReasonCode.FMB_EXCEEDED) is not None) is exceeded


@pytest.mark.parametrize(("second_end", "certified", "exceeded"), [("2026-03-17", 14, False), ("2026-03-18", 15, True)])
def test_fmb_counts_certified_days_not_the_span_with_its_gap(second_end, certified, exceeded):
    # M54.5: 2 wk = 14 days. 03-01..03-10 (10 days), gap 03-11..03-13 (3 <= max_gap 5), then 03-14..
    # The span to 03-17 is 17 days but only 10 + 4 = 14 are certified: not above the maximum.
    certificates = (
        cert("A", "2026-03-01", "2026-03-10", diagnosis="M545"),
        cert("B", "2026-03-14", second_end, diagnosis="M545", signed="2026-03-14"),
    )
    (case,) = cases_of(*certificates)
    assert case.certified_days == certified
    assert (reason(flag_of(*certificates), RiskReasonCode.FMB_EXCEEDED) is not None) is exceeded


def test_a_diagnosis_without_an_fmb_entry_never_exceeds():
    # M54 without a subcode: no entry, so even 400 days is not "above the maximum".
    flag = flag_of(cert("A", "2025-01-01", "2026-02-04", diagnosis="M54"))
    assert reason(flag, RiskReasonCode.FMB_EXCEEDED) is None
    assert reason(flag, RiskReasonCode.DX_MSK_LOW) is not None


# --- FULL_TIME_START -------------------------------------------------------------------------


def test_full_time_start_when_the_first_day_is_100_percent():
    flag = flag_of(cert("A", "-", "-", periods=[("2026-03-04", "2026-03-10", 100), ("2026-03-11", "2026-03-20", 50)]))
    found = reason(flag, RiskReasonCode.FULL_TIME_START)
    assert (found.weight, found.evidence) == (1, "first period 100 % from 2026-03-04")


def test_no_full_time_start_when_the_case_starts_part_time_and_goes_up_later():
    flag = flag_of(cert("A", "-", "-", periods=[("2026-03-04", "2026-03-10", 75), ("2026-03-11", "2026-03-20", 100)]))
    assert reason(flag, RiskReasonCode.FULL_TIME_START) is None


def test_the_first_day_degree_comes_from_the_certificate_current_on_that_day():
    # B, signed later and covering 03-04, sets 50 % on the first day although A said 100 %.
    first = cert("A", "2026-03-04", "2026-03-10", degree=100)
    replacement = cert("B", "2026-03-04", "2026-03-10", degree=50, signed="2026-03-05")
    assert reason(flag_of(first, replacement), RiskReasonCode.FULL_TIME_START) is None


# --- REPEAT_SICKLEAVE ------------------------------------------------------------------------


def test_repeat_sickleave_worked_example():
    # Case A 2025-01-01..2025-01-20 = 20 days certified, ends 2025-01-20; case B starts 2025-06-01.
    # 2025-06-01 - 365 days = 2024-06-01 <= 2025-01-20 < 2025-06-01: REPEAT_SICKLEAVE on B.
    flags = flags_of(cert("A", "2025-01-01", "2025-01-20"), cert("B", "2025-06-01", "2025-06-10", signed="2025-06-01"))
    found = reason(flags["B"], RiskReasonCode.REPEAT_SICKLEAVE)
    assert (found.weight, found.matched_value) == (2, "A")
    assert found.evidence == "case A of 20 days ended 2025-01-20, 132 days before this case's start"
    # A case that ended later never makes the earlier one a repeat.
    assert reason(flags["A"], RiskReasonCode.REPEAT_SICKLEAVE) is None


@pytest.mark.parametrize(("earlier_end", "certified", "repeat"), [("2025-01-14", 14, False), ("2025-01-15", 15, True)])
def test_repeat_sickleave_needs_an_earlier_case_longer_than_14_days(earlier_end, certified, repeat):
    flags = flags_of(cert("A", "2025-01-01", earlier_end), cert("B", "2025-06-01", "2025-06-10", signed="2025-06-01"))
    assert cases_of(cert("A", "2025-01-01", earlier_end))[0].certified_days == certified
    assert (reason(flags["B"], RiskReasonCode.REPEAT_SICKLEAVE) is not None) is repeat


@pytest.mark.parametrize(("earlier_end", "days_before", "repeat"), [("2025-03-01", 365, True), ("2025-02-28", 366, False)])
def test_repeat_sickleave_window_is_the_365_days_before_the_start(earlier_end, days_before, repeat):
    # B starts 2026-03-01; 2026-03-01 - 365 days = 2025-03-01.
    flags = flags_of(cert("A", "2025-02-01", earlier_end), cert("B", "2026-03-01", "2026-03-10", signed="2026-03-01"))
    found = reason(flags["B"], RiskReasonCode.REPEAT_SICKLEAVE)
    assert (found is not None) is repeat
    if found:
        assert found.evidence.endswith(f"{days_before} days before this case's start")


def test_repeat_sickleave_names_the_most_recent_earlier_case():
    flags = flags_of(
        cert("A", "2025-01-01", "2025-01-31"),
        cert("B", "2025-04-01", "2025-04-30", signed="2025-04-01"),
        cert("C", "2025-09-01", "2025-09-10", signed="2025-09-01"),
    )
    assert reason(flags["C"], RiskReasonCode.REPEAT_SICKLEAVE).matched_value == "B"
    assert reason(flags["B"], RiskReasonCode.REPEAT_SICKLEAVE).matched_value == "A"


# --- PROGNOSIS_POOR --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prognosis", "evidence"),
    [
        (Prognosis(code=PrognosisCode.SANNOLIKT_INTE), "prognosis SANNOLIKT_INTE"),
        (Prognosis(code=PrognosisCode.PROGNOS_OKLAR), "prognosis PROGNOS_OKLAR"),
        (Prognosis(code=PrognosisCode.ATER_X_ANTAL_DGR, days=90), "prognosis ATER_X_ANTAL_DGR 90 days"),
        (Prognosis(code=PrognosisCode.ATER_X_ANTAL_DGR, days=180), "prognosis ATER_X_ANTAL_DGR 180 days"),
        (Prognosis(code=PrognosisCode.ATER_X_ANTAL_DGR, days=60), None),
        (Prognosis(code=PrognosisCode.STOR_SANNOLIKHET), None),
        (None, None),
    ],
)
def test_prognosis_poor(prognosis, evidence):
    found = reason(flag_of(cert("A", "2026-03-01", "2026-03-10", prognosis=prognosis)), RiskReasonCode.PROGNOSIS_POOR)
    assert (found.evidence if found else None) == evidence
    if found:
        assert found.weight == 2


def test_prognosis_comes_from_the_latest_certificate():
    first = cert("A", "2026-03-01", "2026-03-10", prognosis=Prognosis(code=PrognosisCode.SANNOLIKT_INTE))
    renewal = cert("B", "2026-03-11", "2026-03-20", signed="2026-03-11", prognosis=Prognosis(code=PrognosisCode.STOR_SANNOLIKHET))
    assert reason(flag_of(first, renewal), RiskReasonCode.PROGNOSIS_POOR) is None


# --- UNEMPLOYED ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occupations", "unemployed"),
    [
        ((Occupation.ARBETSSOKANDE,), True),
        ((Occupation.ARBETSSOKANDE, Occupation.STUDIER), True),
        ((Occupation.NUVARANDE_ARBETE,), False),
        ((Occupation.FORALDRALEDIG,), False),
    ],
)
def test_unemployed_when_the_occupations_include_arbetssokande(occupations, unemployed):
    found = reason(flag_of(cert("A", "2026-03-01", "2026-03-10", occupations=occupations)), RiskReasonCode.UNEMPLOYED)
    assert (found is not None) is unemployed
    if found:
        assert (found.weight, found.evidence) == (1, "occupations include ARBETSSOKANDE")


# --- MANY_RENEWALS ---------------------------------------------------------------------------


def renewals(count: int) -> list[Certificate]:
    # Ten-day certificates back to back from 2026-03-01: 2 make 20 days, 3 make 30 (LONG_CASE too).
    starts = ["2026-03-01", "2026-03-11", "2026-03-21", "2026-03-31"]
    ends = ["2026-03-10", "2026-03-20", "2026-03-30", "2026-04-09"]
    return [cert(f"c{n}", starts[n], ends[n], signed=starts[n]) for n in range(count)]


@pytest.mark.parametrize(("count", "many"), [(2, False), (3, True), (4, True)])
def test_many_renewals_from_three_certificates(count, many):
    found = reason(flag_of(*renewals(count)), RiskReasonCode.MANY_RENEWALS)
    assert (found is not None) is many
    if found:
        assert (found.weight, found.evidence) == (1, f"{count} certificates")


# --- LONG_CASE -------------------------------------------------------------------------------


@pytest.mark.parametrize(("end", "chain_day"), [("2026-03-29", 29), ("2026-03-30", 30)])
def test_long_case_from_chain_day_30_at_the_case_end(end, chain_day):
    found = reason(flag_of(cert("A", "2026-03-01", end)), RiskReasonCode.LONG_CASE)
    assert (found is not None) is (chain_day >= 30)
    if found:
        assert (found.weight, found.evidence) == (1, "chain day 30 at the case end 2026-03-30")


@pytest.mark.parametrize(("end", "chain_day"), [("2026-03-19", 29), ("2026-03-20", 30)])
def test_long_case_counts_the_earlier_cases_of_the_chain(end, chain_day):
    # A 2026-01-01..01-10 = 10 days; B starts 2026-03-01, 49 days after A (< 90): one chain, offset 10.
    # B 03-01..03-19 is 19 days: chain day 10 + 19 = 29; to 03-20: 30.
    flags = flags_of(cert("A", "2026-01-01", "2026-01-10"), cert("B", "2026-03-01", end, signed="2026-03-01"))
    found = reason(flags["B"], RiskReasonCode.LONG_CASE)
    assert (found is not None) is (chain_day >= 30)
    if found:
        assert found.evidence == "chain day 30 at the case end 2026-03-20 (10 days from earlier cases A)"
    assert reason(flags["A"], RiskReasonCode.LONG_CASE) is None


@pytest.mark.parametrize(
    ("earlier_start", "earlier_end", "long_case"),
    [
        ("2025-09-23", "2025-10-02", False),  # 2026-01-01 - 2025-10-02 - 1 = 90 days between: a new chain
        ("2025-09-24", "2025-10-03", True),  # 89 days between: one chain
    ],
)
def test_long_case_chain_breaks_after_90_days_between_cases(earlier_start, earlier_end, long_case):
    # A is 10 days either way; B 2026-01-01..01-20 = 20 days. 20 alone < 30; 10 + 20 = 30.
    flags = flags_of(cert("A", earlier_start, earlier_end), cert("B", "2026-01-01", "2026-01-20", signed="2026-01-01"))
    assert (reason(flags["B"], RiskReasonCode.LONG_CASE) is not None) is long_case


# --- score and level -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0, RiskLevel.NONE),
        (2, RiskLevel.NONE),
        (3, RiskLevel.MODERATE),
        (4, RiskLevel.MODERATE),
        (5, RiskLevel.HIGH),
        (6, RiskLevel.HIGH),
        (7, RiskLevel.VERY_HIGH),
        (10, RiskLevel.VERY_HIGH),
    ],
)
def test_levels_by_score(score, level):
    assert risk_level(score, RULES) is level


def test_a_worked_case_sums_its_weights_and_sorts_its_reasons_by_code():
    # F32 at 100 % from 2026-01-01 to 2026-07-19 (200 days), prognosis unclear:
    # DX_PSYCH 3 + FMB_EXCEEDED 3 (200 > 186) + FULL_TIME_START 1 + LONG_CASE 1 + PROGNOSIS_POOR 2 = 10.
    flag = flag_of(cert("A", "2026-01-01", "2026-07-19", degree=100, diagnosis="F32", prognosis=Prognosis(code=PrognosisCode.PROGNOS_OKLAR)))
    assert flag.reason_codes == ("DX_PSYCH", "FMB_EXCEEDED", "FULL_TIME_START", "LONG_CASE", "PROGNOSIS_POOR")
    assert (flag.score, flag.level, flag.flagged) == (10, RiskLevel.VERY_HIGH, True)


def test_score_two_is_not_flagged_and_three_is():
    # F43.2 (2) alone; then at 100 % from the start (+1).
    assert flag_of(cert("A", "2026-03-01", "2026-03-10", diagnosis="F432")).level is RiskLevel.NONE
    flagged = flag_of(cert("A", "2026-03-01", "2026-03-10", degree=100, diagnosis="F432"))
    assert (flagged.score, flagged.level, flagged.flagged) == (3, RiskLevel.MODERATE, True)


def test_each_case_of_a_patient_gets_its_own_flag():
    flags = flags_of(cert("A", "2025-01-01", "2025-01-20", diagnosis="F32"), cert("B", "2025-06-01", "2025-06-10", signed="2025-06-01"))
    assert list(flags) == ["A", "B"]
    assert (flags["A"].reason_codes, flags["B"].reason_codes) == (("DX_PSYCH",), ("REPEAT_SICKLEAVE",))


# --- configuration ---------------------------------------------------------------------------


def test_a_changed_weight_changes_the_score_and_the_level():
    unemployed = cert("A", "2026-03-01", "2026-03-10", occupations=(Occupation.ARBETSSOKANDE,))
    assert flag_of(unemployed).score == 1
    heavier = RiskFlagRules(weights=RiskWeights(unemployed=3))
    flag = flag_of(unemployed, rules=heavier)
    assert (flag.score, flag.level, flag.reasons[0].weight) == (3, RiskLevel.MODERATE, 3)


def test_a_weight_of_zero_switches_the_rule_off():
    flag = flag_of(cert("A", "2026-03-01", "2026-03-10", diagnosis="F32"), rules=RiskFlagRules(weights=RiskWeights(dx_psych_listed=0)))
    assert flag.reasons == ()


def test_thresholds_and_lists_are_config():
    rules = RiskFlagRules(flag_threshold=4, high_from=6, very_high_from=9, psych_listed_prefixes=("F43.2",))
    assert rules.psych_listed_prefixes == ("F432",)  # normalised like diagnosis codes
    flag = flag_of(cert("A", "2026-03-01", "2026-03-10", degree=100, diagnosis="F432"), rules=rules)
    assert (flag.score, flag.level) == (4, RiskLevel.MODERATE)
    assert [risk_level(score, rules) for score in (3, 4, 6, 9)] == [RiskLevel.NONE, RiskLevel.MODERATE, RiskLevel.HIGH, RiskLevel.VERY_HIGH]


def test_level_bands_out_of_order_are_refused():
    with pytest.raises(ValidationError):
        RiskFlagRules(flag_threshold=5, high_from=4)


def test_the_rules_nest_in_a_service_settings_and_read_the_environment(monkeypatch):
    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="REKO_INTAKE_", env_nested_delimiter="__", extra="ignore")
        risk_flags: RiskFlagRules = RiskFlagRules()

    monkeypatch.setenv("REKO_INTAKE_RISK_FLAGS__WEIGHTS__FMB_EXCEEDED", "4")
    monkeypatch.setenv("REKO_INTAKE_RISK_FLAGS__LONG_CASE_CHAIN_DAY", "45")
    monkeypatch.setenv("REKO_INTAKE_RISK_FLAGS__MSK_LOW_PREFIXES", '["M54", "M75.1"]')
    rules = Settings().risk_flags
    assert (rules.weights.fmb_exceeded, rules.weights.dx_psych, rules.long_case_chain_day) == (4, 2, 45)
    assert rules.msk_low_prefixes == ("M54", "M751")


# --- what to publish -------------------------------------------------------------------------


def snapshot(case_id: str, certificate_ids: tuple[str, ...] = ()) -> SickLeaveCaseChanged:
    return SickLeaveCaseChanged(
        case_id=case_id,
        patient_pseudonym="pseudonym-1",
        patient_revision=1,
        status=CaseStatus.ACTIVE,
        change="UPDATED",
        care_unit_hsa_id="SE-UNIT-A",
        care_provider_hsa_id="SE-PROVIDER-1",
        start=date(2026, 3, 1),
        end=date(2026, 3, 31),
        certified_days=31,
        certificate_ids=certificate_ids or (case_id,),
        latest_certificate_id=(certificate_ids or (case_id,))[-1],
        sex="F",
        protected_identity=True,
        main_diagnosis_code="F32",
        doctor_hsa_id="SE-DOCTOR-1",
        occupations=("NUVARANDE_ARBETE",),
    )


def flag(case_id: str, *reasons: tuple[RiskReasonCode, int, str]) -> RiskFlag:
    score = sum(weight for _, weight, _ in reasons)
    return RiskFlag(
        case_id=case_id,
        score=score,
        level=risk_level(score, RULES),
        reasons=tuple(RiskReason(code=code, weight=weight, evidence=evidence, matched_value="x") for code, weight, evidence in reasons),
    )


PSYCH = (RiskReasonCode.DX_PSYCH, 3, "main diagnosis F32 (F32: weight 3)")
FULL_TIME = (RiskReasonCode.FULL_TIME_START, 1, "first period 100 % from 2026-03-01")
UNEMPLOYED = (RiskReasonCode.UNEMPLOYED, 1, "occupations include ARBETSSOKANDE")
PROGNOSIS = (RiskReasonCode.PROGNOSIS_POOR, 2, "prognosis PROGNOS_OKLAR")


def published(current: RiskFlag, revision: int = 1) -> RiskFlagChanged:
    return risk_flag_event(current, snapshot(current.case_id), revision=revision)


def test_a_first_flag_is_published_with_the_case_data():
    (event,) = flag_changes({}, {"c1": flag("c1", PSYCH, FULL_TIME)}, {"c1": snapshot("c1", ("c1", "c2"))})
    assert (event.case_id, event.patient_pseudonym, event.certificate_ids) == ("c1", "pseudonym-1", ("c1", "c2"))
    assert (event.care_unit_hsa_id, event.care_provider_hsa_id, event.protected_identity) == ("SE-UNIT-A", "SE-PROVIDER-1", True)
    assert (event.level, event.score, event.flagged, event.case_status, event.revision) == (RiskLevel.MODERATE, 4, True, CaseStatus.ACTIVE, 1)
    assert event.reason_codes == ("DX_PSYCH", "FULL_TIME_START")
    assert [(r.code, r.weight, r.evidence) for r in event.reasons] == [
        ("DX_PSYCH", 3, "main diagnosis F32 (F32: weight 3)"),
        ("FULL_TIME_START", 1, "first period 100 % from 2026-03-01"),
    ]


def test_a_published_reason_carries_the_matched_value_and_the_limit_for_pages_to_word():
    scored = flag_of(cert("A", "2026-03-01", "2026-03-10", diagnosis="F331"))
    (reason,) = (reason for reason in risk_flag_event(scored, snapshot(scored.case_id), revision=1).reasons if reason.code == "DX_PSYCH")
    assert (reason.matched_value, reason.limit) == ("F331", "F33")


def test_a_case_never_published_and_not_flagged_publishes_nothing():
    assert flag_changes({}, {"c1": flag("c1", PROGNOSIS)}, {"c1": snapshot("c1")}) == []


def test_a_change_of_evidence_alone_publishes_nothing():
    before = published(flag("c1", PSYCH, (RiskReasonCode.FMB_EXCEEDED, 3, "certified days 200 > FMB max 186 for F32 (6 mo)")))
    now = flag("c1", PSYCH, (RiskReasonCode.FMB_EXCEEDED, 3, "certified days 210 > FMB max 186 for F32 (6 mo)"))
    assert flag_changes({"c1": before}, {"c1": now}, {"c1": snapshot("c1")}) == []


def test_a_level_change_publishes():
    before = published(flag("c1", PSYCH, FULL_TIME), revision=2)  # 4 MODERATE
    (event,) = flag_changes({"c1": before}, {"c1": flag("c1", PSYCH, FULL_TIME, PROGNOSIS)}, {"c1": snapshot("c1")})
    assert (event.level, event.score, event.revision) == (RiskLevel.HIGH, 6, 3)


def test_another_reason_set_at_the_same_level_publishes():
    before = published(flag("c1", PSYCH, FULL_TIME))  # 4 MODERATE
    (event,) = flag_changes({"c1": before}, {"c1": flag("c1", PSYCH, UNEMPLOYED)}, {"c1": snapshot("c1")})
    assert (event.level, event.reason_codes, event.revision) == (RiskLevel.MODERATE, ("DX_PSYCH", "UNEMPLOYED"), 2)


def test_a_flag_dropping_below_the_threshold_publishes_level_none_once():
    before = published(flag("c1", PSYCH, FULL_TIME))
    (event,) = flag_changes({"c1": before}, {"c1": flag("c1", PROGNOSIS)}, {"c1": snapshot("c1")})
    assert (event.level, event.flagged, event.score, event.case_status, event.revision) == (RiskLevel.NONE, False, 2, CaseStatus.ACTIVE, 2)
    assert event.reason_codes == ("PROGNOSIS_POOR",)
    # Below the threshold it stays quiet, whatever the sub-threshold reasons do next.
    assert flag_changes({"c1": event}, {"c1": flag("c1", UNEMPLOYED)}, {"c1": snapshot("c1")}) == []


def test_a_removed_case_with_a_flag_publishes_none_removed():
    before = published(flag("c1", PSYCH, FULL_TIME), revision=4)
    (event,) = flag_changes({"c1": before}, {"c2": flag("c2")}, {"c2": snapshot("c2")})
    assert (event.case_id, event.level, event.flagged, event.case_status, event.revision) == ("c1", RiskLevel.NONE, False, CaseStatus.REMOVED, 5)
    assert (event.reason_codes, event.reasons, event.certificate_ids) == ((), (), ("c1",))


def test_a_removed_case_whose_flag_was_already_withdrawn_publishes_nothing():
    withdrawn = published(flag("c1", PROGNOSIS), revision=2)
    assert flag_changes({"c1": withdrawn}, {}, {}) == []


def test_a_case_id_that_comes_back_flagged_is_published_again():
    removed = published(flag("c1", PSYCH, FULL_TIME), revision=1).model_copy(
        update={"level": RiskLevel.NONE, "flagged": False, "case_status": CaseStatus.REMOVED, "reason_codes": (), "revision": 2}
    )
    (event,) = flag_changes({"c1": removed}, {"c1": flag("c1", PSYCH, FULL_TIME)}, {"c1": snapshot("c1")})
    assert (event.level, event.case_status, event.revision) == (RiskLevel.MODERATE, CaseStatus.ACTIVE, 3)


def test_withdrawals_come_before_the_flags_of_existing_cases():
    previous = {"c1": published(flag("c1", PSYCH, FULL_TIME))}
    changes = flag_changes(previous, {"c0": flag("c0", PSYCH, FULL_TIME)}, {"c0": snapshot("c0")})
    assert [(event.case_id, event.case_status) for event in changes] == [("c1", CaseStatus.REMOVED), ("c0", CaseStatus.ACTIVE)]


def test_a_flagged_case_that_moves_to_another_unit_is_published_there():
    before = published(flag("c1", PSYCH, FULL_TIME))
    moved = snapshot("c1").model_copy(update={"care_unit_hsa_id": "SE-UNIT-B"})
    (event,) = flag_changes({"c1": before}, {"c1": flag("c1", PSYCH, FULL_TIME)}, {"c1": moved})
    assert (event.care_unit_hsa_id, event.level, event.revision) == ("SE-UNIT-B", RiskLevel.MODERATE, 2)


def test_an_unflagged_case_that_moves_to_another_unit_stays_quiet():
    withdrawn = published(flag("c1", PROGNOSIS), revision=2)
    moved = snapshot("c1").model_copy(update={"care_unit_hsa_id": "SE-UNIT-B"})
    assert flag_changes({"c1": withdrawn}, {"c1": flag("c1", PROGNOSIS)}, {"c1": moved}) == []


def test_a_flag_without_a_case_snapshot_is_refused():
    with pytest.raises(ValueError, match="no case snapshot"):
        flag_changes({}, {"c1": flag("c1", PSYCH)}, {})


def test_from_certificates_to_events_a_renewal_that_only_changes_evidence_publishes_nothing():
    # F32 at 50 %, 200 days, then renewed to 210: FMB_EXCEEDED's evidence changes, its codes do not.
    # (Two certificates: below MANY_RENEWALS' 3.)
    first = cert("A", "2026-01-01", "2026-07-19", diagnosis="F32")
    renewal = cert("B", "2026-07-20", "2026-07-29", diagnosis="F32", signed="2026-07-20")

    def publish(previous: dict, *certificates: Certificate) -> list[RiskFlagChanged]:
        cases = cases_of(*certificates)
        snapshots = {case.case_id: case_snapshot(case, patient_pseudonym="p", birth_date=date(1980, 1, 24), sex="F") for case in cases}
        return flag_changes(previous, risk_flags(cases, RULES, FMB), snapshots)

    (opened,) = publish({}, first)
    assert (opened.case_id, opened.reason_codes, opened.level) == ("A", ("DX_PSYCH", "FMB_EXCEEDED", "LONG_CASE"), RiskLevel.VERY_HIGH)
    assert "certified days 200 > FMB max 186" in opened.reasons[1].evidence
    assert publish({"A": opened}, first, renewal) == []

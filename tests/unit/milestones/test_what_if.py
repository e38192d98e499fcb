"""What-if: the milestones the rules give for one patient's certificates, nothing published."""

import json
from datetime import date
from typing import Any

import pytest

from services.milestones.rehabkedja import RehabkedjaRules
from services.milestones.what_if import (
    WhatIfQuestion,
    WhatIfRefused,
    answer,
    answer_for_certificates,
    answer_for_known_case,
    cases_of_one_patient,
    gap_named_last,
    question_from_text,
    read_certificates,
    what_if_gap,
)
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus

WOMAN = "198001249286"  # Skatteverket test series
MAN = "191212121212"
RULES = RehabkedjaRules()


def signed_data(
    certificate_id: str,
    start: str,
    end: str,
    *,
    person_id: str = WOMAN,
    signed_at: str | None = None,
    occupations: tuple[str, ...] = ("NUVARANDE_ARBETE",),
) -> dict[str, Any]:
    return {
        "certificateId": certificate_id,
        "certificateType": "fk7804",
        "signedAt": signed_at or f"{start}T09:00:00+01:00",
        "patient": {"personId": person_id},
        "issuer": {
            "doctorHsaId": "SE2321000000-2001",
            "careUnit": {"hsaId": "SE2321000000-1001", "name": "Vårdcentralen Test"},
            "careProvider": {"hsaId": "SE2321000000-1000"},
        },
        "diagnoses": [{"code": "F43.8A"}],
        "workCapacityPeriods": [{"reductionPercent": 100, "from": start, "to": end}],
        "occupations": list(occupations),
    }


def cloud_event(data: dict[str, Any], event_type: str = "se.sickleave.certificate.signed.v1") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"e-{data['certificateId']}",
        "source": "urn:test",
        "type": event_type,
        "time": "2026-03-02T09:00:00+01:00",
        "data": data,
    }


# c1: 1 Jan..31 Jan = 31 days. c2: 2 Mar..30 Apr = 30 + 30 = 60 days. 29 uncovered days between
# (1 Feb..1 Mar) make two cases (max_gap 5), but 2 Mar - 31 Jan - 1 = 29 < 90 joins them in one chain.
FIRST = signed_data("c1", "2026-01-01", "2026-01-31")
RENEWAL = signed_data("c2", "2026-03-02", "2026-04-30")


def question(*certificates: dict[str, Any], revoked: tuple[str, ...] = ()) -> WhatIfQuestion:
    return WhatIfQuestion(certificates=list(certificates), revoked_certificate_ids=list(revoked))


def test_two_cases_of_one_chain_carry_the_offset_into_the_second_case_s_milestones():
    result = answer_for_certificates(question(FIRST, RENEWAL), date(2026, 3, 15), RULES, max_gap=5)

    first, second = result.cases
    assert (first.case_id, first.start, first.end, first.certified_days, first.certificate_ids) == (
        "c1",
        date(2026, 1, 1),
        date(2026, 1, 31),
        31,
        ("c1",),
    )
    # c1 alone: 31 days, no prognosis, so no plan; day 90 = 31 Mar lies beyond 31 Jan + 14 days
    assert first.milestones == ()
    assert (second.case_id, second.certified_days) == ("c2", 60)
    plan, day_90 = second.milestones
    # plan: 31 carried + 60 own >= 60; due max(2 Mar + (29 - 31) = 28 Feb, signed 2 Mar) = 2 Mar, chain day 31 + 1
    assert (plan.kind, plan.due_date, plan.status, plan.chain_day) == (MilestoneKind.RETURN_TO_WORK_PLAN, date(2026, 3, 2), MilestoneStatus.DUE, 32)
    assert plan.legal_reference == "SFB 30 kap. 6 §"
    # day 90: 2 Mar + (90 - 1 - 31) = 2 Mar + 58 days = 29 Apr, within 30 Apr + 14; 15 Mar is before it
    assert (day_90.kind, day_90.due_date, day_90.status, day_90.chain_day) == (
        MilestoneKind.CHAIN_DAY_90,
        date(2026, 4, 29),
        MilestoneStatus.SCHEDULED,
        90,
    )
    assert (day_90.offset, day_90.earlier_case_ids) == (31, ("c1",))
    assert day_90.legal_reference == "SFB 27 kap. 46–49 §§, 51 §"


def test_the_answer_on_a_later_date_shows_the_checkpoint_due():
    result = answer_for_certificates(question(FIRST, RENEWAL), date(2026, 4, 29), RULES, max_gap=5)
    # 29 Apr is day 90 and within the case (end 30 Apr)
    assert [(m.kind, m.status) for m in result.cases[1].milestones] == [
        (MilestoneKind.RETURN_TO_WORK_PLAN, MilestoneStatus.DUE),
        (MilestoneKind.CHAIN_DAY_90, MilestoneStatus.DUE),
    ]


def test_whole_cloud_events_are_read_like_data_objects_and_a_revocation_among_them_counts():
    revocation = cloud_event({"certificateId": "c1", "revokedAt": "2026-03-03T10:00:00+01:00"}, "se.sickleave.certificate.revoked.v1")
    result = answer_for_certificates(question(cloud_event(FIRST), cloud_event(RENEWAL), revocation), date(2026, 3, 15), RULES, max_gap=5)
    # without c1, c2 has no offset: plan 60 own days, due max(2 Mar + 29 = 31 Mar, signed 2 Mar);
    # day 90 = 2 Mar + 89 = 30 May, beyond 30 Apr + 14 = 14 May
    (only,) = result.cases
    assert [(m.kind, m.due_date, m.offset) for m in only.milestones] == [(MilestoneKind.RETURN_TO_WORK_PLAN, date(2026, 3, 31), 0)]


def test_revoked_certificate_ids_remove_certificates_too():
    result = answer_for_certificates(question(FIRST, RENEWAL, revoked=("c1",)), date(2026, 3, 15), RULES, max_gap=5)
    assert [case.case_id for case in result.cases] == ["c2"]


def test_max_gap_decides_whether_certificates_make_one_case():
    # 29 uncovered days: one case with a gap of 29 allowed, 31 + 29 + 60 = 120 days from 1 Jan to 30 Apr
    result = answer_for_certificates(question(FIRST, RENEWAL), date(2026, 3, 15), RULES, max_gap=29)
    assert [(case.case_id, case.end) for case in result.cases] == [("c1", date(2026, 4, 30))]


def test_certificates_of_two_patients_are_refused_without_naming_them():
    with pytest.raises(WhatIfRefused) as refused:
        answer_for_certificates(question(FIRST, signed_data("c3", "2026-03-02", "2026-04-30", person_id=MAN)), date(2026, 3, 15), RULES, max_gap=5)
    assert refused.value.reasons == ["the certificates belong to 2 patients; a what-if covers one patient"]
    assert WOMAN not in str(refused.value) and MAN not in str(refused.value)


def test_every_bad_certificate_is_refused_with_its_position_and_reason():
    wrong_check_digit = signed_data("c4", "2026-01-01", "2026-01-31", person_id="198001249281")
    backwards = signed_data("c5", "2026-02-01", "2026-01-01")
    with pytest.raises(WhatIfRefused) as refused:
        read_certificates([FIRST, wrong_check_digit, cloud_event(backwards), "not an object"])
    first, second, third = refused.value.reasons
    assert first == "certificates[1]: contract violation: patient.personId: the Luhn check digit does not match"
    assert second.startswith("certificates[2]: contract violation: data.workCapacityPeriods.0: period 'from' is after 'to'")
    assert third == "certificates[3]: contract violation: Input should be a valid dictionary or instance of SignedCertificate"
    assert "198001249281" not in str(refused.value)


def test_two_different_certificates_under_one_id_are_refused():
    changed = signed_data("c1", "2026-01-01", "2026-02-15")
    with pytest.raises(WhatIfRefused, match="two different certificates with id 'c1'"):
        answer_for_certificates(question(FIRST, changed), date(2026, 3, 15), RULES, max_gap=5)


def test_no_certificates_make_no_cases():
    assert answer_for_certificates(question(), date(2026, 3, 15), RULES, max_gap=5).cases == ()


def test_the_answer_for_a_known_case_keeps_the_chain_but_shows_only_that_case_and_what_was_published_for_it():
    signed, revoked = read_certificates([FIRST, RENEWAL])
    cases = cases_of_one_patient(signed, revoked, max_gap=5)
    published_day_90 = MilestoneChanged(
        milestone_id="c2:CHAIN_DAY_90",
        case_id="c2",
        patient_pseudonym="what-if",
        certificate_ids=("c2",),
        care_unit_hsa_id="SE2321000000-1001",
        kind=MilestoneKind.CHAIN_DAY_90,
        due_date=date(2026, 4, 29),
        status=MilestoneStatus.SCHEDULED,
        chain_day=90,
        revision=1,
    )
    published_elsewhere = published_day_90.model_copy(update={"case_id": "c1", "milestone_id": "c1:CHAIN_DAY_90"})
    published = {("c2", MilestoneKind.CHAIN_DAY_90): published_day_90, ("c1", MilestoneKind.CHAIN_DAY_90): published_elsewhere}

    result = answer_for_known_case("c2", cases, published, date(2026, 4, 30), RULES, fallback_gap=5)

    (case,) = result.cases
    assert case.case_id == "c2"
    assert [(m.kind, m.status, m.offset) for m in case.milestones] == [
        (MilestoneKind.RETURN_TO_WORK_PLAN, MilestoneStatus.DUE, 31),
        (MilestoneKind.CHAIN_DAY_90, MilestoneStatus.DUE, 31),
    ]
    assert result.published == (published_day_90,)
    assert answer(cases, date(2026, 4, 30), RULES, max_gap=5).cases[1] == case


def test_a_known_case_names_the_gap_its_last_event_carried_and_the_fallback_only_when_it_carried_none():
    signed, revoked = read_certificates([FIRST, RENEWAL])
    cases = cases_of_one_patient(signed, revoked, max_gap=5)
    assert {case.max_gap for case in cases} == {5}
    told = [case.model_copy(update={"max_gap": 7}) for case in cases]
    assert answer_for_known_case("c2", told, {}, date(2026, 4, 30), RULES, fallback_gap=5).max_gap == 7
    untold = [case.model_copy(update={"max_gap": None}) for case in cases]
    assert answer_for_known_case("c2", untold, {}, date(2026, 4, 30), RULES, fallback_gap=3).max_gap == 3


def test_certificates_that_are_no_case_yet_take_the_gap_of_the_last_case_event_and_the_setting_only_before_any():
    assert what_if_gap(None, 5) == 5
    assert what_if_gap(7, 5) == 7
    assert what_if_gap(0, 5) == 0
    events = [
        case.model_copy(update={"max_gap": gap})
        for case, gap in zip(cases_of_one_patient(*read_certificates([FIRST, RENEWAL]), max_gap=5), (7, None), strict=True)
    ]
    assert gap_named_last(events) == 7  # the last event came from an intake that did not say
    assert gap_named_last([]) is None


def test_the_answer_is_camel_case_on_the_wire():
    result = answer_for_certificates(question(FIRST, RENEWAL), date(2026, 3, 15), RULES, max_gap=5)
    wire = result.model_dump(mode="json", by_alias=True)
    assert wire["on"] == "2026-03-15"
    assert wire["maxGap"] == 5
    assert set(wire["cases"][1]) == {"caseId", "start", "end", "certifiedDays", "certificateIds", "milestones"}
    assert set(wire["cases"][1]["milestones"][0]) == {"kind", "dueDate", "status", "chainDay", "offset", "earlierCaseIds", "legalReference", "title"}


# Reading a file for `reko what-if`


def test_a_file_may_be_a_question_a_list_a_single_certificate_or_json_lines():
    as_question = json.dumps({"on": "2026-03-15", "certificates": [FIRST], "revokedCertificateIds": ["c9"]})
    assert question_from_text(as_question) == WhatIfQuestion(on=date(2026, 3, 15), certificates=[FIRST], revoked_certificate_ids=["c9"])
    assert question_from_text(json.dumps([FIRST, RENEWAL])).certificates == [FIRST, RENEWAL]
    assert question_from_text(json.dumps(FIRST)).certificates == [FIRST]
    assert question_from_text(f"{json.dumps(cloud_event(FIRST))}\n\n{json.dumps(RENEWAL)}\n").certificates == [cloud_event(FIRST), RENEWAL]


def test_a_file_that_is_not_json_names_the_first_bad_line():
    with pytest.raises(WhatIfRefused, match=r"line 2"):
        question_from_text(f"{json.dumps(FIRST)}\n{{not json\n")


def test_the_what_if_command_prints_the_milestones_of_a_file(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from reko.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    certificates = tmp_path / "history.jsonl"
    certificates.write_text(f"{json.dumps(cloud_event(FIRST))}\n{json.dumps(RENEWAL)}\n")
    result = CliRunner().invoke(app, ["what-if", str(certificates), "--on", "2026-04-29"])
    assert result.exit_code == 0, result.output
    assert "Milestones on 2026-04-29" in result.output
    assert "2026-03-02" in result.output and "2026-04-29" in result.output
    assert "31 (c1)" in result.output


def test_the_what_if_command_refuses_certificates_of_two_patients(tmp_path):
    from typer.testing import CliRunner

    from reko.cli import app

    certificates = tmp_path / "mixed.json"
    certificates.write_text(json.dumps([FIRST, signed_data("c3", "2026-03-02", "2026-04-30", person_id=MAN)]))
    result = CliRunner().invoke(app, ["what-if", str(certificates)])
    assert result.exit_code == 1
    assert "the certificates belong to 2 patients" in result.output

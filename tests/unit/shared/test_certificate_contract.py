"""The input feed contract (docs/events.md §2): what `parse_certificate_event` accepts and how it says no."""

import copy
import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.contracts.certificates import (
    REVOKED_TYPE,
    SIGNED_TYPE,
    BadCertificateEvent,
    CertificateRevoked,
    CertificateSigned,
    CertificateType,
    Occupation,
    PrognosisCode,
    RelationType,
    parse_certificate_event,
)
from shared.personnummer import luhn_check_digit

PERSON_ID = "198001249286"

# The `signed` example of docs/events.md §2.3, verbatim.
CONTRACT_EXAMPLE: dict[str, Any] = {
    "certificateId": "c-000042",
    "certificateType": "fk7804",
    "signedAt": "2026-03-04T09:10:02+01:00",
    "testCertificate": False,
    "relations": [{"type": "FRLANG", "relatedCertificateId": "c-000041"}],
    "patient": {"personId": "198001249286", "protectedIdentity": False},
    "issuer": {
        "doctorHsaId": "SE2321000000-1003",
        "careUnit": {"hsaId": "SE2321000000-1001", "name": "Vårdcentralen Exempel"},
        "careProvider": {"hsaId": "SE2321000000-1000", "name": "Region Exempel"},
    },
    "avstangningSmittskydd": False,
    "diagnoses": [{"code": "F438A"}, {"code": "Z733"}],
    "workCapacityPeriods": [
        {"reductionPercent": 100, "from": "2026-03-04", "to": "2026-03-24"},
        {"reductionPercent": 50, "from": "2026-03-25", "to": "2026-04-13"},
    ],
    "occupations": ["NUVARANDE_ARBETE"],
    "prognosis": {"code": "ATER_X_ANTAL_DGR", "days": 60},
}


def envelope(event_type: str, data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "event-1",
        "source": "/test/feed",
        "type": event_type,
        "time": "2026-03-04T09:10:03+01:00",
        "data": data,
    }


def signed_event() -> dict[str, Any]:
    return envelope(SIGNED_TYPE, copy.deepcopy(CONTRACT_EXAMPLE))


def revoked_event() -> dict[str, Any]:
    return envelope(REVOKED_TYPE, {"certificateId": "c-000042", "revokedAt": "2026-03-05T10:00:00+01:00"})


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def parse(document: Any) -> CertificateSigned | CertificateRevoked:
    return parse_certificate_event(encode(document))


def set_path(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set a dotted path ('data.patient.personId', 'data.diagnoses.0.code') and return the document."""
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return document


def delete_path(document: dict[str, Any], path: str) -> dict[str, Any]:
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[part]
    del node[last]
    return document


def signed_with(path: str, value: Any) -> dict[str, Any]:
    return set_path(signed_event(), path, value)


def rejection(document: Any) -> BadCertificateEvent:
    with pytest.raises(BadCertificateEvent) as problem:
        parse(document)
    return problem.value


def with_luhn(birth_digits: str, serial: str) -> str:
    return birth_digits + serial + luhn_check_digit(birth_digits[2:] + serial)


# --- The contract example and defaults -------------------------------------------------------


def test_the_contract_example_is_accepted_as_a_signed_certificate():
    event = parse(signed_event())
    assert isinstance(event, CertificateSigned)
    data = event.data
    assert data.certificate_id == "c-000042"
    assert data.certificate_type is CertificateType.FK7804
    assert data.signed_at == datetime(2026, 3, 4, 9, 10, 2, tzinfo=timezone(timedelta(hours=1)))
    assert data.signing_date == date(2026, 3, 4)
    assert [(relation.type, relation.related_certificate_id) for relation in data.relations] == [(RelationType.FRLANG, "c-000041")]
    assert data.patient.person_id == PERSON_ID
    assert data.issuer.care_unit.hsa_id == "SE2321000000-1001"
    assert data.issuer.care_unit.name == "Vårdcentralen Exempel"
    assert data.issuer.care_provider.hsa_id == "SE2321000000-1000"
    assert data.issuer.doctor_hsa_id == "SE2321000000-1003"
    assert [diagnosis.code for diagnosis in data.diagnoses] == ["F438A", "Z733"]
    assert [(p.reduction_percent, p.start, p.end) for p in data.work_capacity_periods] == [
        (100, date(2026, 3, 4), date(2026, 3, 24)),
        (50, date(2026, 3, 25), date(2026, 4, 13)),
    ]
    assert data.occupations == (Occupation.NUVARANDE_ARBETE,)
    assert data.prognosis is not None
    assert (data.prognosis.code, data.prognosis.days) == (PrognosisCode.ATER_X_ANTAL_DGR, 60)


def test_missing_optional_fields_take_their_defaults():
    document = signed_event()
    for path in (
        "data.testCertificate",
        "data.relations",
        "data.avstangningSmittskydd",
        "data.prognosis",
        "data.patient.protectedIdentity",
        "data.issuer.careUnit.name",
        "data.issuer.careProvider.name",
    ):
        delete_path(document, path)
    data = parse(document).data
    assert data.test_certificate is False
    assert data.relations == ()
    assert data.avstangning_smittskydd is False
    assert data.prognosis is None
    assert data.patient.protected_identity is False
    assert data.issuer.care_unit.name is None
    assert data.issuer.care_provider.name is None


@pytest.mark.parametrize(
    ("path", "read", "default"),
    [
        ("data.testCertificate", lambda data: data.test_certificate, False),
        ("data.relations", lambda data: data.relations, ()),
        ("data.avstangningSmittskydd", lambda data: data.avstangning_smittskydd, False),
        ("data.prognosis", lambda data: data.prognosis, None),
        ("data.patient.protectedIdentity", lambda data: data.patient.protected_identity, False),
        ("data.issuer.careUnit.name", lambda data: data.issuer.care_unit.name, None),
        ("data.issuer.careProvider.name", lambda data: data.issuer.care_provider.name, None),
    ],
)
def test_null_in_an_optional_field_counts_as_missing_and_takes_the_default(path, read, default):
    assert read(parse(signed_with(path, None)).data) == default


def test_null_prognosis_days_with_a_code_that_takes_none_counts_as_missing():
    data = parse(signed_with("data.prognosis", {"code": "STOR_SANNOLIKHET", "days": None})).data
    assert data.prognosis is not None
    assert data.prognosis.days is None


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("data.certificateId", "certificateId"),
        ("data.certificateType", "certificateType"),
        ("data.signedAt", "signedAt"),
        ("data.patient", "patient"),
        ("data.issuer", "issuer"),
        ("data.issuer.doctorHsaId", "doctorHsaId"),
        ("data.issuer.careUnit", "careUnit"),
        ("data.issuer.careUnit.hsaId", "hsaId"),
        ("data.issuer.careProvider", "careProvider"),
        ("data.diagnoses", "diagnoses"),
        ("data.diagnoses.0.code", "code"),
        ("data.workCapacityPeriods", "workCapacityPeriods"),
        ("data.workCapacityPeriods.0.reductionPercent", "reductionPercent"),
        ("data.workCapacityPeriods.0.from", "from"),
        ("data.workCapacityPeriods.0.to", "to"),
        ("data.occupations", "occupations"),
        ("data.relations.0.relatedCertificateId", "relatedCertificateId"),
        ("data.prognosis.code", "code"),
    ],
)
def test_null_in_a_required_field_counts_as_missing_and_is_a_contract_violation(path, field):
    problem = rejection(signed_with(path, None))
    assert problem.error_class == "ContractViolation"
    assert field in problem.reason
    assert "required" in problem.reason


@pytest.mark.parametrize(
    "path",
    [
        "data.certificateId",
        "data.certificateType",
        "data.signedAt",
        "data.patient",
        "data.issuer",
        "data.diagnoses",
        "data.workCapacityPeriods",
        "data.occupations",
    ],
)
def test_a_missing_required_field_is_a_contract_violation(path):
    problem = rejection(delete_path(signed_event(), path))
    assert problem.error_class == "ContractViolation"
    assert "required" in problem.reason


def test_a_null_person_id_is_missing_and_so_a_contract_violation():
    problem = rejection(signed_with("data.patient.personId", None))
    assert problem.error_class == "ContractViolation"
    assert "required" in problem.reason


def test_a_person_id_that_is_there_but_no_personnummer_is_an_invalid_person_id():
    problem = rejection(signed_with("data.patient.personId", "19800124-9287"))
    assert problem.error_class == "InvalidPersonId"


def test_a_null_data_is_a_contract_violation():
    assert rejection(signed_with("data", None)).error_class == "ContractViolation"


@pytest.mark.parametrize("path", ["id", "source", "type", "time", "specversion"])
def test_a_null_envelope_field_means_the_record_is_not_a_cloud_event(path):
    problem = rejection(signed_with(path, None))
    assert problem.error_class == "NotCloudEvent"
    assert path in problem.reason


@pytest.mark.parametrize("certificate_type", ["fk7804", "fk7263", "ag7804"])
def test_every_certificate_type_of_the_contract_is_accepted(certificate_type):
    assert parse(signed_with("data.certificateType", certificate_type)).data.certificate_type.value == certificate_type


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("data.certificateType", "fk9999"),
        ("data.certificateType", "FK7804"),
        ("data.relations.0.type", "REPLACES"),
        ("data.testCertificate", "false"),  # a string is not a boolean
        ("data.avstangningSmittskydd", 0),
        ("data.patient.protectedIdentity", "no"),
        ("data.signedAt", "2026-03-04T09:10:02"),  # no offset
        ("data.signedAt", "yesterday"),
        ("data.certificateId", ""),
        ("data.issuer.careUnit.hsaId", ""),
        ("data.workCapacityPeriods.0.from", "2026-02-30"),
        ("data.relations", {"type": "FRLANG"}),
    ],
)
def test_a_value_outside_the_contract_is_a_contract_violation(path, value):
    assert rejection(signed_with(path, value)).error_class == "ContractViolation"


# --- Diagnoses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("F43.8A", "F438A"),
        ("f32.1", "F321"),
        ("M54 .5", "M545"),
        (" z73.3 ", "Z733"),
        ("F32", "F32"),
        ("s82.2 0", "S8220"),
    ],
)
def test_diagnosis_codes_lose_dots_and_spaces_and_become_upper_case(written, normalised):
    data = parse(signed_with("data.diagnoses", [{"code": written}])).data
    assert data.diagnoses[0].code == normalised


@pytest.mark.parametrize("code", ["F3", "32F", "FF32", "F32-1", "F3X", "F/32", "Å32", "..", " "])
def test_a_code_that_is_not_a_letter_and_two_digits_is_rejected(code):
    problem = rejection(signed_with("data.diagnoses", [{"code": "F32"}, {"code": code}]))
    assert problem.error_class == "ContractViolation"
    assert "diagnoses" in problem.reason


def test_an_empty_diagnoses_list_is_valid():
    assert parse(signed_with("data.diagnoses", [])).data.diagnoses == ()


def test_the_first_diagnosis_stays_first():
    data = parse(signed_with("data.diagnoses", [{"code": "Z73.3"}, {"code": "F43.8A"}])).data
    assert [diagnosis.code for diagnosis in data.diagnoses] == ["Z733", "F438A"]


# --- Work capacity periods -------------------------------------------------------------------


def period(degree: int, start: str, end: str) -> dict[str, Any]:
    return {"reductionPercent": degree, "from": start, "to": end}


def test_four_adjacent_periods_of_four_degrees_are_valid():
    periods = [
        period(100, "2026-03-01", "2026-03-07"),
        period(75, "2026-03-08", "2026-03-14"),
        period(50, "2026-03-15", "2026-03-21"),
        period(25, "2026-03-22", "2026-03-28"),
    ]
    assert len(parse(signed_with("data.workCapacityPeriods", periods)).data.work_capacity_periods) == 4


def test_a_single_day_period_is_valid():
    data = parse(signed_with("data.workCapacityPeriods", [period(100, "2026-03-04", "2026-03-04")])).data
    assert data.work_capacity_periods[0].start == data.work_capacity_periods[0].end == date(2026, 3, 4)


def test_periods_given_out_of_date_order_are_valid_when_they_do_not_overlap():
    periods = [period(50, "2026-03-25", "2026-04-13"), period(100, "2026-03-04", "2026-03-24")]
    assert len(parse(signed_with("data.workCapacityPeriods", periods)).data.work_capacity_periods) == 2


@pytest.mark.parametrize(
    ("periods", "why"),
    [
        ([], "no period"),
        (
            [
                period(100, "2026-03-01", "2026-03-02"),
                period(75, "2026-03-03", "2026-03-04"),
                period(50, "2026-03-05", "2026-03-06"),
                period(25, "2026-03-07", "2026-03-08"),
                period(100, "2026-03-09", "2026-03-10"),
            ],
            "five periods",
        ),
        ([period(30, "2026-03-04", "2026-03-10")], "degree 30 is not 25/50/75/100"),
        ([period(0, "2026-03-04", "2026-03-10")], "degree 0"),
        ([period(100, "2026-03-10", "2026-03-09")], "from after to"),
        ([period(100, "2026-03-04", "2026-03-24"), period(50, "2026-03-24", "2026-04-13")], "share a day"),
        ([period(100, "2026-03-04", "2026-03-24"), period(50, "2026-03-10", "2026-03-12")], "one inside the other"),
        (
            [period(100, "2026-03-01", "2026-03-31"), period(50, "2026-04-10", "2026-04-20"), period(25, "2026-03-20", "2026-03-22")],
            "overlap out of order",
        ),
        ([period(100, "2026-03-04", "2026-03-10"), period(100, "2026-03-11", "2026-03-20")], "same degree twice"),
    ],
)
def test_periods_outside_the_rules_are_rejected(periods, why):
    problem = rejection(signed_with("data.workCapacityPeriods", periods))
    assert problem.error_class == "ContractViolation", why
    assert "workCapacityPeriods" in problem.reason, why


# --- Occupations and prognosis ---------------------------------------------------------------


def test_four_distinct_occupations_are_valid():
    occupations = ["NUVARANDE_ARBETE", "ARBETSSOKANDE", "FORALDRALEDIG", "STUDIER"]
    assert len(parse(signed_with("data.occupations", occupations)).data.occupations) == 4


@pytest.mark.parametrize(
    "occupations",
    [
        [],
        ["NUVARANDE_ARBETE", "NUVARANDE_ARBETE"],
        ["NUVARANDE_ARBETE", "ARBETSSOKANDE", "FORALDRALEDIG", "STUDIER", "NUVARANDE_ARBETE"],
        ["PENSIONAR"],
    ],
)
def test_occupations_must_be_one_to_four_distinct_known_codes(occupations):
    problem = rejection(signed_with("data.occupations", occupations))
    assert problem.error_class == "ContractViolation"
    assert "occupations" in problem.reason


@pytest.mark.parametrize("days", [30, 60, 90, 180, 365])
def test_ater_x_antal_dgr_takes_each_allowed_number_of_days(days):
    prognosis = parse(signed_with("data.prognosis", {"code": "ATER_X_ANTAL_DGR", "days": days})).data.prognosis
    assert prognosis is not None and prognosis.days == days


@pytest.mark.parametrize("code", ["STOR_SANNOLIKHET", "SANNOLIKT_INTE", "PROGNOS_OKLAR"])
def test_other_prognosis_codes_are_valid_without_days(code):
    prognosis = parse(signed_with("data.prognosis", {"code": code})).data.prognosis
    assert prognosis is not None and prognosis.code.value == code and prognosis.days is None


@pytest.mark.parametrize(
    "prognosis",
    [
        {"code": "ATER_X_ANTAL_DGR"},  # days required with it
        {"code": "ATER_X_ANTAL_DGR", "days": None},  # null is missing
        {"code": "ATER_X_ANTAL_DGR", "days": 45},  # not an allowed number
        {"code": "STOR_SANNOLIKHET", "days": 30},  # days only with ATER_X_ANTAL_DGR
        {"code": "PROGNOS_OKLAR", "days": 60},
        {"code": "KANSKE"},
    ],
)
def test_prognosis_days_come_with_ater_x_antal_dgr_and_only_with_it(prognosis):
    problem = rejection(signed_with("data.prognosis", prognosis))
    assert problem.error_class == "ContractViolation"
    assert "prognosis" in problem.reason


# --- Extra fields and revocations ------------------------------------------------------------


def test_unknown_extra_fields_are_ignored_at_every_level():
    document = signed_event()
    document["traceparent"] = "00-abc-def-01"
    document["data"]["futureField"] = {"anything": [1, 2, 3]}
    document["data"]["patient"]["nickname"] = "x"
    document["data"]["issuer"]["careUnit"]["phone"] = "000"
    document["data"]["workCapacityPeriods"][0]["note"] = "half days"
    document["data"]["diagnoses"][0]["text"] = "Utmattningssyndrom"
    document["data"]["relations"][0]["why"] = "renewal"
    document["data"]["prognosis"]["comment"] = "ok"
    assert parse(document).data == parse(signed_event()).data


def test_a_revocation_is_accepted():
    event = parse(revoked_event())
    assert isinstance(event, CertificateRevoked)
    assert event.data.certificate_id == "c-000042"
    assert event.data.revoked_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "value"),
    [("data.revokedAt", None), ("data.certificateId", None), ("data.revokedAt", "2026-03-05T10:00:00"), ("data.certificateId", "")],
)
def test_a_revocation_without_a_valid_id_and_aware_time_is_a_contract_violation(path, value):
    assert rejection(set_path(revoked_event(), path, value)).error_class == "ContractViolation"


def test_a_revocation_ignores_unknown_fields():
    document = set_path(revoked_event(), "data.reason", "wrong patient")
    assert parse(document).data.certificate_id == "c-000042"


def test_signed_data_under_the_revoked_type_is_a_contract_violation():
    assert rejection(envelope(REVOKED_TYPE, copy.deepcopy(CONTRACT_EXAMPLE))).error_class == "ContractViolation"


# --- Error classes ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, b"", b"{not json", b"\xff\xfe\x00", b'{"specversion": "1.0",'])
def test_a_record_that_is_not_json_is_not_json(value):
    with pytest.raises(BadCertificateEvent) as problem:
        parse_certificate_event(value)
    assert problem.value.error_class == "NotJson"


@pytest.mark.parametrize("document", [[], 42, "a string", None, {}])
def test_json_that_is_not_an_object_with_an_envelope_is_not_a_cloud_event(document):
    assert rejection(document).error_class == "NotCloudEvent"


@pytest.mark.parametrize(
    ("path", "value"),
    [("specversion", "0.3"), ("specversion", 1.0), ("time", "2026-03-04T09:10:03"), ("id", ""), ("source", "")],
)
def test_a_broken_envelope_is_not_a_cloud_event(path, value):
    assert rejection(signed_with(path, value)).error_class == "NotCloudEvent"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("time", "198001249286"),
        ("time", 1772611802),
        ("data.signedAt", 1772611802),
        ("data.signedAt", "1772611802"),
        ("data.workCapacityPeriods.0.from", 1772582400),
    ],
)
def test_a_unix_timestamp_instead_of_an_iso_time_is_rejected(path, value):
    with pytest.raises(BadCertificateEvent):
        parse(signed_with(path, value))


def test_an_unknown_event_type_is_reported_as_such():
    problem = rejection(signed_with("type", "se.sickleave.certificate.amended.v1"))
    assert problem.error_class == "UnknownEventType"


def test_a_bad_certificate_event_is_a_value_error_whose_message_is_the_reason():
    problem = rejection(signed_with("data.occupations", []))
    assert isinstance(problem, ValueError)
    assert str(problem) == problem.reason


# --- Person ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("person_id", ["19800124-9286", "800124-9286", "8001249286", "121212+1212"])
def test_every_accepted_person_id_form_passes_the_contract(person_id):
    assert parse(signed_with("data.patient.personId", person_id)).data.patient.person_id == person_id


def test_a_person_born_on_the_stockholm_signing_date_is_valid_although_it_is_the_day_before_in_utc():
    # 23:30 UTC on 2026-03-04 is 00:30 on 2026-03-05 in Stockholm: the signing date is the 5th
    document = signed_with("data.patient.personId", with_luhn("20260305", "123"))
    set_path(document, "data.signedAt", "2026-03-04T23:30:00+00:00")
    assert parse(document).data.signing_date == date(2026, 3, 5)


def test_a_person_born_after_the_stockholm_signing_date_is_an_invalid_person_id():
    # 22:30 UTC on 2026-03-04 is 23:30 on the 4th in Stockholm: born on the 5th is in the future
    document = signed_with("data.patient.personId", with_luhn("20260305", "123"))
    set_path(document, "data.signedAt", "2026-03-04T22:30:00+00:00")
    assert rejection(document).error_class == "InvalidPersonId"


BAD_PERSON_IDS = [
    "198001249285",  # wrong Luhn digit
    "19800124-9285",
    "800124-9285",
    with_luhn("19800230", "123"),  # 30 February
    with_luhn("19800192", "123"),  # samordningsnummer day 92
    with_luhn("20270101", "123"),  # born after signing
    "19800124+9286",  # not an accepted form
    "1980012492866",
]


@pytest.mark.parametrize("person_id", BAD_PERSON_IDS)
def test_an_invalid_person_id_is_reported_without_the_number(person_id):
    problem = rejection(signed_with("data.patient.personId", person_id))
    assert problem.error_class == "InvalidPersonId"
    digits = re.sub(r"\D", "", person_id)
    assert person_id not in problem.reason
    assert digits not in problem.reason
    assert digits[-10:] not in problem.reason
    assert not re.search(r"\d{6}", problem.reason)


@pytest.mark.parametrize(
    "path",
    [
        "data.certificateType",
        "data.signedAt",
        "data.diagnoses.0.code",
        "data.workCapacityPeriods.0.reductionPercent",
        "data.workCapacityPeriods.0.from",
        "data.occupations.0",
        "data.prognosis.days",
        "data.relations.0.type",
        "data.testCertificate",
    ],
)
def test_a_personnummer_pasted_into_another_field_is_not_repeated_in_the_reason(path):
    problem = rejection(signed_with(path, PERSON_ID))
    assert PERSON_ID not in problem.reason
    assert PERSON_ID[2:] not in problem.reason


def test_a_personnummer_sent_as_a_json_number_is_rejected_without_repeating_it():
    problem = rejection(signed_with("data.patient.personId", int(PERSON_ID)))
    assert problem.error_class == "InvalidPersonId"
    assert PERSON_ID not in problem.reason

"""All four services as processes, on the real broker and database, fed through the input topic."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import httpx
import pytest

from reko.publish import publish_events, publish_lines
from shared.logging import find_personnummer
from tests.support import (
    MAN,
    WOMAN,
    bearer,
    current_cases,
    current_milestones,
    get_json,
    metric_value,
    read_topic,
    revoked_event,
    signed_event,
    wait_for_quiet,
    wait_until,
)

pytestmark = pytest.mark.e2e

UNIT_NORTH = "SE2321000000-1001"
UNIT_SOUTH = "SE2321000000-1002"


def test_two_patients_at_two_units_give_cases_milestones_alerts_and_counts(stack_factory):
    stack = stack_factory(clock="fixed:2026-06-15T12:00:00+02:00")
    renewal = signed_event(
        "ev-a2",
        "a2",
        person_id=WOMAN,
        periods=[("2026-04-01", "2026-06-30", 50)],
        signed_at="2026-03-30T10:00:00+02:00",
        care_unit=UNIT_NORTH,
        relations=[("FRLANG", "a1")],
    )
    events = [
        signed_event(
            "ev-a1", "a1", person_id=WOMAN, periods=[("2026-03-02", "2026-03-31", 100)], signed_at="2026-03-02T09:00:00+01:00", care_unit=UNIT_NORTH
        ),
        renewal,
        renewal,  # the same event twice: changes nothing
        signed_event(
            "ev-b1",
            "b1",
            person_id=MAN,
            periods=[("2026-04-01", "2026-06-30", 100)],
            signed_at="2026-04-01T09:00:00+02:00",
            care_unit=UNIT_SOUTH,
            diagnosis="M54.5",
        ),
        signed_event(
            "ev-b2",
            "b2",
            person_id=MAN,
            periods=[("2026-07-01", "2026-09-30", 100)],
            signed_at="2026-06-10T09:00:00+02:00",
            care_unit=UNIT_SOUTH,
            diagnosis="M54.5",
            relations=[("FRLANG", "b1")],
        ),
        revoked_event("ev-b2-revoked", "b2", revoked_at="2026-06-11T09:00:00+02:00"),
    ]

    asyncio.run(publish_events(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), events))
    wait_for_quiet(stack)

    cases = current_cases(stack)
    assert set(cases) == {"a1", "b1"}
    # a1 2026-03-02..03-31 and its renewal 04-01..06-30: 30 + 91 days.
    assert (cases["a1"]["start"], cases["a1"]["end"], cases["a1"]["certifiedDays"]) == ("2026-03-02", "2026-06-30", 121)
    assert cases["a1"]["certificateIds"] == ["a1", "a2"]
    assert (cases["a1"]["careUnitHsaId"], cases["a1"]["sex"]) == (UNIT_NORTH, "F")
    # b2 was revoked, so the case is b1 alone: 2026-04-01..06-30, 91 days.
    assert (cases["b1"]["end"], cases["b1"]["certifiedDays"], cases["b1"]["certificateIds"]) == ("2026-06-30", 91, ["b1"])
    assert cases["b1"]["sex"] == "M"

    milestones = current_milestones(stack)
    # Day 90 of a case starting 2026-03-02 is 2026-05-30, before T and inside the case: due.
    day_90_north = milestones[("a1", "CHAIN_DAY_90")]
    assert (day_90_north["status"], day_90_north["dueDate"], day_90_north["chainDay"]) == ("DUE", "2026-05-30", 90)
    assert day_90_north["certificateIds"] == ["a1", "a2"]
    # Day 90 of a case starting 2026-04-01 is 2026-06-29: after T, scheduled.
    day_90_south = milestones[("b1", "CHAIN_DAY_90")]
    assert (day_90_south["status"], day_90_south["dueDate"]) == ("SCHEDULED", "2026-06-29")
    # Without b2 the case ends 06-30, so day 180 (09-27) is out of view: cancelled if ever announced.
    assert milestones.get(("b1", "CHAIN_DAY_180"), {"status": "CANCELLED"})["status"] == "CANCELLED"

    notifications = stack.services["notifications"].base_url
    coordinator = bearer(stack, ["REHABKOORDINATOR"], [UNIT_NORTH, UNIT_SOUTH])
    # Alerts and counts are for the units a user acts for.
    with pytest.raises(httpx.HTTPStatusError, match="403"):
        get_json(f"{notifications}/units/{UNIT_NORTH}/alerts", bearer(stack, ["REHABKOORDINATOR"], [UNIT_SOUTH]))
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        get_json(f"{notifications}/units/{UNIT_NORTH}/alerts")
    north_alerts = {alert["kind"]: alert for alert in get_json(f"{notifications}/units/{UNIT_NORTH}/alerts?state=OPEN", coordinator)}
    assert north_alerts["CHAIN_DAY_90"]["caseId"] == "a1"
    assert north_alerts["CHAIN_DAY_90"]["milestoneStatus"] == "DUE"
    south_alerts = {alert["kind"]: alert for alert in get_json(f"{notifications}/units/{UNIT_SOUTH}/alerts?state=OPEN", coordinator)}
    assert south_alerts["CHAIN_DAY_90"]["milestoneStatus"] == "SCHEDULED"
    assert "CHAIN_DAY_180" not in south_alerts

    stats = stack.services["stats"].base_url
    assert get_json(f"{stats}/units/{UNIT_NORTH}/ongoing?on=2026-06-15", coordinator)["bySex"] == {"F": 1, "M": 0, "UNKNOWN": 0}
    assert get_json(f"{stats}/units/{UNIT_SOUTH}/ongoing?on=2026-06-15", coordinator)["bySex"] == {"F": 0, "M": 1, "UNKNOWN": 0}
    # b2 would have kept the man's case ongoing in August; revoked, it does not.
    assert get_json(f"{stats}/units/{UNIT_SOUTH}/ongoing?on=2026-08-01", coordinator)["total"] == 0
    # A coordinator of the south unit alone sees its own row; the regional office sees every unit,
    # its one woman and one man hidden as too few to publish (docs/statistics.md §3).
    south_only = bearer(stack, ["REHABKOORDINATOR"], [UNIT_SOUTH])
    assert [row["careUnitHsaId"] for row in get_json(f"{stats}/ongoing?on=2026-06-15", south_only)] == [UNIT_SOUTH]
    with pytest.raises(httpx.HTTPStatusError, match="403"):
        get_json(f"{stats}/units/{UNIT_NORTH}/ongoing?on=2026-06-15", south_only)
    regional_office = bearer(stack, ["REGIONKONTOR"])
    published = {row["careUnitHsaId"]: row for row in get_json(f"{stats}/ongoing?on=2026-06-15", regional_office)}
    assert sorted(published) == sorted([UNIT_NORTH, UNIT_SOUTH])
    assert (published[UNIT_NORTH]["bySex"]["F"], published[UNIT_NORTH]["total"]) == (None, None)
    assert {"F", "TOTAL"} <= set(published[UNIT_NORTH]["suppressed"])
    assert published[UNIT_SOUTH]["bySex"]["M"] is None and "M" in published[UNIT_SOUTH]["suppressed"]

    certificates_topic = stack.topics.name(stack.topics.certificates)
    assert metric_value(stack.services["intake"].base_url, "reko_events_deduplicated_total", topic=certificates_topic) >= 1
    _assert_no_personnummer_downstream(stack)


def _assert_no_personnummer_downstream(stack) -> None:
    """No personnummer in any service log or any topic downstream of intake."""
    for log in stack.settings.log_dir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert not find_personnummer(text), (log.name, find_personnummer(text)[:3])
        assert WOMAN not in text and MAN not in text and WOMAN[2:] not in text
    for topic in (stack.topics.cases, stack.topics.risk_flags, stack.topics.milestones, stack.topics.alerts):
        for record in asyncio.run(read_topic(stack.bootstrap_servers, stack.topics.name(topic))):
            assert not find_personnummer(record.value.decode()), topic
    # The identity path (docs/identity.md): one event per patient, the number only encrypted, and
    # at rest in notifications encrypted too. Random tokens may hold digit runs, so the test
    # looks for the numbers themselves in every written form.
    written = [form for number in (WOMAN, MAN) for form in (number, number[2:], f"{number[:8]}-{number[8:]}", f"{number[2:8]}-{number[8:]}")]
    identities = asyncio.run(read_topic(stack.bootstrap_servers, stack.topics.name(stack.topics.identities)))
    assert len({record.key for record in identities}) == 2
    for record in identities:
        assert not any(form.encode() in (record.value or b"") for form in written)
    # Its own consumer group, which wait_for_quiet does not watch: wait for it here.
    stored = wait_until(lambda: rows if len(rows := asyncio.run(_stored_identities(stack.database_url))) == 2 else None)
    assert stored, "notifications did not keep both identities"
    assert not any(form in row for row in stored for form in written)


async def _stored_identities(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return [row["row"] for row in await conn.fetch("SELECT patient_identities::text AS row FROM notifications.patient_identities")]
    finally:
        await conn.close()


BAD_INPUTS: list[tuple[str, bytes]] = [
    ("NotJson", b"this is not json"),
    ("NotCloudEvent", b"[1, 2, 3]"),
    ("NotCloudEvent", json.dumps({"id": "x", "type": "se.sickleave.certificate.signed.v1", "data": {}}).encode()),
    (
        "UnknownEventType",
        json.dumps({**revoked_event("bad-4", "c", revoked_at="2026-05-01T10:00:00+02:00"), "type": "se.sickleave.certificate.sent.v1"}).encode(),
    ),
]


def _bad_signed(event_id: str, **changes: object) -> bytes:
    event = signed_event(
        event_id, f"bad-{event_id}", person_id=WOMAN, periods=[("2026-05-01", "2026-05-20", 100)], signed_at="2026-05-01T09:00:00+02:00"
    )
    data = event["data"]
    for path, value in changes.items():
        target = data
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        if value is None:
            target.pop(leaf)
        else:
            target[leaf] = value
    return json.dumps(event).encode()


BAD_INPUTS += [
    ("ContractViolation", _bad_signed("bad-5", certificateType=None)),
    ("InvalidPersonId", _bad_signed("bad-6", patient__personId="198001249287")),  # wrong Luhn digit
    ("InvalidPersonId", _bad_signed("bad-7", patient__personId="20300101-0008")),  # born after signing
    (
        "ContractViolation",
        _bad_signed(
            "bad-8",
            workCapacityPeriods=[
                {"reductionPercent": 100, "from": "2026-05-01", "to": "2026-05-20"},
                {"reductionPercent": 50, "from": "2026-05-15", "to": "2026-05-30"},
            ],
        ),
    ),
    ("ContractViolation", _bad_signed("bad-9", diagnoses=[{"code": "123"}])),
    ("ContractViolation", _bad_signed("bad-10", prognosis={"code": "PROGNOS_OKLAR", "days": 30})),
]


def test_bad_input_is_dead_lettered_with_its_reason_while_good_events_flow(stack_factory):
    stack = stack_factory(clock="fixed:2026-06-15T12:00:00+02:00")
    good_before = signed_event("good-1", "g1", person_id=WOMAN, periods=[("2026-05-01", "2026-06-30", 100)], signed_at="2026-05-01T09:00:00+02:00")
    good_after = signed_event("good-2", "g2", person_id=MAN, periods=[("2026-05-10", "2026-06-30", 100)], signed_at="2026-05-10T09:00:00+02:00")
    # Same certificate id as g1, other content: the first one stands and this one is rejected.
    conflicting = signed_event(
        "good-1-again", "g1", person_id=WOMAN, periods=[("2026-05-01", "2026-07-31", 100)], signed_at="2026-05-01T09:00:00+02:00"
    )
    lines = [json.dumps(good_before).encode(), *[raw for _, raw in BAD_INPUTS], json.dumps(conflicting).encode(), json.dumps(good_after).encode()]
    expected_classes = sorted([error_class for error_class, _ in BAD_INPUTS] + ["ConflictingResign"])

    # The conflicting re-sign must come after g1 on the same partition, so the first one stands.
    asyncio.run(publish_lines(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), lines))
    wait_for_quiet(stack)

    dead_letters = asyncio.run(read_topic(stack.bootstrap_servers, stack.topics.dead_letter(stack.topics.certificates)))
    assert sorted(record.headers["x-error-class"] for record in dead_letters) == expected_classes
    assert all(record.headers["x-error-reason"] for record in dead_letters)
    assert sorted(record.value for record in dead_letters) == sorted(lines[1:-1])
    for record in dead_letters:
        assert record.headers["x-original-topic"] == stack.topics.name(stack.topics.certificates)
        assert WOMAN not in record.headers["x-error-reason"]
    cases = current_cases(stack)
    assert set(cases) == {"g1", "g2"}
    assert cases["g1"]["end"] == "2026-06-30"
    assert metric_value(stack.services["intake"].base_url, "reko_events_dead_lettered_total") == len(expected_classes)
    # The dead-letter records keep the original bytes; nothing downstream and no log line does.
    _assert_no_personnummer_downstream(stack)

"""Hostile records between good ones on one partition: each is dead-lettered with its reason, none stops the rest."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.logging import find_personnummer
from shared.personnummer import luhn_check_digit
from tests.hostile import catalogue
from tests.support import bearer, current_cases, current_milestones, get_json, read_topic, signed_event, wait_for_quiet

pytestmark = pytest.mark.e2e

UNIT = "SE2321000000-1001"


def patient(index: int) -> str:
    born = date(1970, 1, 1) + timedelta(days=97 * index)
    nine = born.strftime("%y%m%d") + f"{200 + index:03d}"
    return born.strftime("%Y%m%d") + f"{200 + index:03d}" + luhn_check_digit(nine)


def good_event(index: int) -> dict:
    return signed_event(
        f"good-ev-{index}",
        f"good-c-{index}",
        person_id=patient(index),
        periods=[("2026-03-02", "2026-07-31", 100)],
        signed_at="2026-03-02T09:00:00+01:00",
        care_unit=UNIT,
    )


async def _publish_on_one_partition(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None, list]]) -> list[int]:
    # Large enough for the one record past the services' own limit.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1024 * 1024, linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=key, value=value, headers=headers, partition=0) for key, value, headers in records]
        return [(await future).offset for future in futures]
    finally:
        await producer.stop()


def test_thirty_kinds_of_hostile_records_are_dead_lettered_and_every_good_event_flows_through(stack_factory):
    stack = stack_factory(clock="fixed:2026-06-15T12:00:00+02:00")
    kinds = catalogue()
    records: list[tuple[bytes | None, bytes | None, list]] = []
    expected: list[tuple[str, object]] = []
    good_ids = []
    for index, kind in enumerate(kinds):
        # Good events around every hostile one; some good ones carry binary headers, which are not the contract's business.
        for offset in range(5):
            number = index * 5 + offset
            headers = [("trace", b"\xff\x00\xfe")] if number % 7 == 0 else []
            records.append((f"good-c-{number}".encode(), json.dumps(good_event(number)).encode(), headers))
            expected.append(("good", number))
            good_ids.append(f"good-c-{number}")
        records.append((kind.key, kind.value, list(kind.headers)))
        expected.append(("hostile", kind))
    topic = stack.topics.name(stack.topics.certificates)

    offsets = asyncio.run(_publish_on_one_partition(stack.bootstrap_servers, topic, records))
    wait_for_quiet(stack, timeout=180)

    hostile_at = {offset: item for offset, (what, item) in zip(offsets, expected, strict=True) if what == "hostile"}
    dead_letters = asyncio.run(read_topic(stack.bootstrap_servers, stack.topics.dead_letter(stack.topics.certificates)))
    by_offset = {int(letter.headers["x-original-offset"]): letter for letter in dead_letters}
    assert set(by_offset) == set(hostile_at), "exactly the hostile records are dead-lettered"
    for offset, kind in hostile_at.items():
        letter = by_offset[offset]
        assert letter.headers["x-error-class"] == kind.error_class, kind.name
        assert letter.headers["x-error-reason"], kind.name
        assert not find_personnummer(letter.headers["x-error-reason"]), kind.name
        assert len(letter.value or b"") <= 256 * 1024, kind.name

    cases = current_cases(stack)
    stored = {certificate for case in cases.values() for certificate in case["certificateIds"]}
    assert stored == set(good_ids), "every good event became a case"
    milestones = current_milestones(stack)
    assert {case_id for case_id, _ in milestones} == set(cases), "every case reached milestones"

    coordinator = bearer(stack, ["REHABKOORDINATOR"], [UNIT])
    ongoing = get_json(f"{stack.services['stats'].base_url}/units/{UNIT}/ongoing?on=2026-06-15", coordinator)
    assert ongoing["total"] == len(good_ids), "every case reached the statistics"
    for service in stack.services.values():
        ready = httpx.get(f"{service.base_url}/health/ready", timeout=5).json()
        assert ready["ready"], (service, ready)

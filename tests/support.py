"""Helpers the integration and end-to-end tests share: reading topics, waiting for quiet."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock_time
from typing import Any, TypeVar

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from reko.metrics_text import metric_sum
from reko.stack import Stack
from shared.auth import issue_token
from shared.clock import STOCKHOLM
from shared.contracts.cases import CaseCertificate, CaseChange, CaseStatus, SickLeaveCaseChanged
from shared.status import broker_status

T = TypeVar("T")

# Skatteverket test personnummer (the published test series).
WOMAN = "198001249286"
MAN = "191212121212"


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.value) if self.value else None


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer.client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, partition) for partition in sorted(partitions or ())]


async def read_topic(bootstrap_servers: str, topic: str, *, timeout: float = 30.0) -> list[Record]:  # noqa: ASYNC109 - a deadline between fetches, so no caller needs to wrap it
    """Every record now in `topic`, partition by partition in offset order.

    The end of each partition is the high-water mark of the fetch responses: Tansu answers
    ListOffsets with the base offset of the last batch plus one, so `end_offsets` undercounts.
    """
    # The embedded broker answers a fetch with nothing new only when its wait is over: keep the wait short.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                records.extend(
                    Record(m.topic, m.partition, m.offset, m.key, m.value, {name: value.decode() for name, value in m.headers or ()})
                    for m in messages
                )
            highwaters = {tp: consumer.highwater(tp) for tp in partitions}
            if all(mark is not None for mark in highwaters.values()):
                positions = {tp: await consumer.position(tp) for tp in partitions}
                if all(positions[tp] >= highwaters[tp] for tp in partitions) and not batch:
                    return sorted(records, key=lambda record: (record.partition, record.offset))
        raise TimeoutError(f"could not read {topic} to its end")
    finally:
        await consumer.stop()


def read_events(stack: Stack, topic: str) -> list[dict[str, Any]]:
    return [record.json() for record in asyncio.run(read_topic(stack.bootstrap_servers, stack.topics.name(topic)))]


def latest_by(
    events: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any], order: Callable[[dict[str, Any]], Any]
) -> dict[Any, dict[str, Any]]:
    """The newest `data` per key, newest by `order` (e.g. a revision), whatever the topic order."""
    latest: dict[Any, dict[str, Any]] = {}
    for event in events:
        data = event["data"]
        current = latest.get(key(data))
        if current is None or order(data) >= order(current):
            latest[key(data)] = data
    return latest


def current_cases(stack: Stack) -> dict[str, dict[str, Any]]:
    """The cases that exist now, folded from the case topic by patient revision."""
    events = read_events(stack, stack.topics.cases)
    latest = latest_by(events, lambda data: data["caseId"], lambda data: data["patientRevision"])
    return {case_id: data for case_id, data in latest.items() if data["status"] == "ACTIVE"}


def current_milestones(stack: Stack) -> dict[tuple[str, str], dict[str, Any]]:
    events = read_events(stack, stack.topics.milestones)
    return latest_by(events, lambda data: (data["caseId"], data["kind"]), lambda data: data["revision"])


async def _outbox_backlog(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        total = 0
        for schema in ("intake", "milestones", "notifications", "stats"):
            exists = await conn.fetchval("SELECT to_regclass($1)", f"{schema}.outbox_pending")
            if exists:
                total += await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox_pending")
        return total
    finally:
        await conn.close()


# (service, topic field, the subscription's own group name or None): every consumer group of the stack.
SUBSCRIPTIONS = (
    ("intake", "certificates", None),
    ("milestones", "cases", None),
    ("stats", "cases", None),
    ("notifications", "cases", None),
    ("notifications", "milestones", None),
    ("notifications", "risk_flags", None),
    ("notifications", "identities", "identities"),
)


async def pipeline_backlog(stack: Stack) -> int:
    """Every consumer group's lag plus every outbox's backlog, read in one round as `reko status` reads them."""
    groups: dict[str, list[str]] = {}
    for service, topic_field, own_group in SUBSCRIPTIONS:
        group = f"reko.{stack.settings.topic_prefix}{service}" + (f".{own_group}" if own_group else "")
        groups.setdefault(group, []).append(stack.topics.name(getattr(stack.topics, topic_field)))
    # A broker that never answers fails the wait loudly rather than counting a partition's end as 0.
    async with asyncio.timeout(30):
        lags, _ = await broker_status(stack.bootstrap_servers, groups, ())
    return sum(group.lag for group in lags) + await _outbox_backlog(stack.database_url)


def wait_for_quiet(stack: Stack, *, timeout: float = 120.0, settle: int = 3) -> None:
    """Until every consumer group has committed to the end and every outbox is empty, `settle` times in a row."""
    deadline = time.monotonic() + timeout
    quiet = 0
    last = None
    while time.monotonic() < deadline:
        last = asyncio.run(pipeline_backlog(stack))
        quiet = quiet + 1 if last == 0 else 0
        if quiet >= settle:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the pipeline did not go quiet within {timeout} s (backlog {last})")


def wait_until(check: Callable[[], T], *, timeout: float = 60.0, interval: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def bearer(stack: Stack, roles: Sequence[str], care_units: Sequence[str] = (), *, sub: str = "SE2321000000-3999") -> dict[str, str]:
    """The Authorization header of a user of the stack's HTTP APIs."""
    return {"authorization": f"Bearer {issue_token(stack.settings.jwt_secret, sub, roles, care_units)}"}


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    response = httpx.get(url, timeout=5, headers=headers)
    response.raise_for_status()
    return response.json()


def metric_value(base_url: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus metric's samples on a service that carry all the given labels."""
    return metric_sum(httpx.get(f"{base_url}/metrics", timeout=5).text, name, **labels)


def signed_event(
    event_id: str,
    certificate_id: str,
    *,
    person_id: str,
    periods: list[tuple[str, str, int]],
    signed_at: str,
    care_unit: str = "SE2321000000-1001",
    care_provider: str = "SE2321000000-1000",
    diagnosis: str = "F43.8A",
    occupations: tuple[str, ...] = ("NUVARANDE_ARBETE",),
    relations: list[tuple[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "certificateId": certificate_id,
        "certificateType": "fk7804",
        "signedAt": signed_at,
        "patient": {"personId": person_id},
        "issuer": {
            "doctorHsaId": "SE2321000000-2001",
            "careUnit": {"hsaId": care_unit, "name": "Vårdcentralen Test"},
            "careProvider": {"hsaId": care_provider, "name": "Region Test"},
        },
        "diagnoses": [{"code": diagnosis}] if diagnosis else [],
        "workCapacityPeriods": [{"reductionPercent": degree, "from": start, "to": end} for start, end, degree in periods],
        "occupations": list(occupations),
        "relations": [{"type": kind, "relatedCertificateId": related} for kind, related in (relations or [])],
        **extra,
    }
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:reko:test",
        "type": "se.sickleave.certificate.signed.v1",
        "time": signed_at,
        "data": data,
    }


def revoked_event(event_id: str, certificate_id: str, *, revoked_at: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:reko:test",
        "type": "se.sickleave.certificate.revoked.v1",
        "time": revoked_at,
        "data": {"certificateId": certificate_id, "revokedAt": revoked_at},
    }


def employed_case_event(case_id: str, patient: str, start: date, end: date, *, revision: int = 1, event_count: int = 1) -> SickLeaveCaseChanged:
    """A case event of one fully covered certificate (id = case id) for an employed woman at unit 1001."""
    return SickLeaveCaseChanged(
        case_id=case_id,
        patient_pseudonym=patient,
        patient_revision=revision,
        revision_event_count=event_count,
        status=CaseStatus.ACTIVE,
        change=CaseChange.OPENED if revision == 1 else CaseChange.EXTENDED,
        care_unit_hsa_id="SE2321000000-1001",
        care_provider_hsa_id="SE2321000000-1000",
        start=start,
        end=end,
        certified_days=(end - start).days + 1,
        certificate_ids=(case_id,),
        latest_certificate_id=case_id,
        sex="F",
        main_diagnosis_code="F438A",
        doctor_hsa_id="SE2321000000-2001",
        occupations=("NUVARANDE_ARBETE",),
        certificates=(
            CaseCertificate(
                certificate_id=case_id,
                signed_at=datetime.combine(start, clock_time(9), tzinfo=STOCKHOLM),
                start=start,
                end=end,
                occupations=("NUVARANDE_ARBETE",),
            ),
        ),
    )

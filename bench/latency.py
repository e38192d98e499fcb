"""Latency at a steady rate: how long a certificate takes to become an alert and to show in the statistics.

Every probe is the first certificate of a new patient, at a care unit of its own, signed 100 days
before the stack's fixed clock and running 30 days past it. The case is therefore past chain day 90
at once: milestones publishes `CHAIN_DAY_90` as DUE on the first pass, notifications stores an alert
for it and publishes it (after the commit, through its outbox) on `rehab.alerts.v1`, and stats counts
the case as ongoing today. Because the unit is the probe's alone, the first alert of kind
`CHAIN_DAY_90` for that unit, and the first non-zero count for that unit, are the probe's.

- alert: the bench reads `rehab.alerts.v1` itself (a consumer with no group, from the end), and
  `sickleave.cases.v1` and `rehab.milestones.v1` beside it, so each hop (intake, milestones,
  notifications: transaction and relay) gets a figure of its own. An alert
  is on the topic only after notifications committed it, so this is the time until the alert was
  stored plus the outbox relay's hop, an upper bound of "stored".
- statistics: every `stats_every`-th probe is polled at `GET /units/{unit}/ongoing?on=<today>` with a
  token of the unit's VERKSAMHETSCHEF (who reads her own unit's exact count), every `poll_interval`
  seconds until its count is non-zero; the figure is thus late by up to one interval plus one request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from reko.stack import ServiceProcess, Stack
from tests.support import bearer

PROBE_KIND = "CHAIN_DAY_90"
PROBE_PROVIDER = "SE2321000000-1000"
PROBE_UNIT = re.compile(rb"SE2321000000-B[0-9A-F]{6}[0-9]{5}")


def first_instance(stack: Stack, service: str) -> ServiceProcess:
    """The service, or its first instance when the stack runs several."""
    return stack.services[service]


def luhn_digit(nine_digits: str) -> int:
    total = 0
    for position, digit in enumerate(nine_digits):
        product = int(digit) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def probe_person_id(index: int) -> str:
    """A valid, synthetic personnummer per probe; serials 100-899, so never one the feed uses (980-999)."""
    birth = date(1960, 1, 1) + timedelta(days=index % 14_000)
    serial = 100 + index // 14_000
    nine = f"{birth:%y%m%d}{serial:03d}"
    return f"{birth:%Y%m%d}{serial:03d}{luhn_digit(nine)}"


@dataclass
class Probe:
    index: int
    unit: str
    key: bytes
    value: bytes
    watched_by_stats: bool
    published: float | None = None
    case_seen: float | None = None
    milestone_seen: float | None = None
    alerted: float | None = None
    counted: float | None = None


def make_probe(run: str, index: int, now: datetime, *, watched_by_stats: bool) -> Probe:
    today = now.date()
    start = today - timedelta(days=100)
    signed_at = datetime.combine(start, datetime.min.time(), tzinfo=now.tzinfo) + timedelta(hours=9)
    certificate_id = f"bench-{run}-{index:06d}"
    unit = f"SE2321000000-B{run}{index:05d}"
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "urn:reko:bench",
        "type": "se.sickleave.certificate.signed.v1",
        "time": signed_at.isoformat(),
        "datacontenttype": "application/json",
        "data": {
            "certificateId": certificate_id,
            "certificateType": "fk7804",
            "signedAt": signed_at.isoformat(),
            "patient": {"personId": probe_person_id(index)},
            "issuer": {
                "doctorHsaId": "SE2321000000-2001",
                "careUnit": {"hsaId": unit, "name": f"Vårdcentralen Mätpunkt {index}"},
                "careProvider": {"hsaId": PROBE_PROVIDER, "name": "Region Exempel"},
            },
            "diagnoses": [{"code": "F43.8A"}],
            "workCapacityPeriods": [{"reductionPercent": 100, "from": start.isoformat(), "to": (today + timedelta(days=30)).isoformat()}],
            "occupations": ["NUVARANDE_ARBETE"],
        },
    }
    return Probe(index, unit, certificate_id.encode(), json.dumps(event, ensure_ascii=False).encode(), watched_by_stats)


def percentiles(values: list[float], points: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles in milliseconds; empty when nothing was measured."""
    if not values:
        return {}
    ordered = sorted(values)
    result = {}
    for point in points:
        rank = max(1, -(-point * len(ordered) // 100))  # ceil(p/100 * n)
        result[f"p{point}"] = ordered[rank - 1] * 1000
    result["max"] = ordered[-1] * 1000
    return result


@dataclass
class LatencyResult:
    rate: float
    seconds: float
    probes: int
    achieved_rate: float
    alert: list[float] = field(default_factory=list)
    stats: list[float] = field(default_factory=list)
    stats_watched: int = 0
    # Where an alert's time goes, hop by hop: certificate to its case on the cases topic (intake and
    # its relay), case to the day-90 milestone (milestones), milestone to the alert (notifications).
    hops: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "targetRate": self.rate,
            "achievedRate": self.achieved_rate,
            "seconds": self.seconds,
            "probes": self.probes,
            "alertMeasured": len(self.alert),
            "alertMs": percentiles(self.alert),
            "statsWatched": self.stats_watched,
            "statsMeasured": len(self.stats),
            "statsMs": percentiles(self.stats),
            "hopsMs": {hop: percentiles(values) for hop, values in self.hops.items()},
        }


def _unit_in(value: bytes | None) -> str | None:
    """The probe unit a record names, found in its bytes (every probe's unit id is unique and of one shape)."""
    if not value:
        return None
    found = PROBE_UNIT.search(value)
    return found.group().decode() if found else None


async def _watch_topics(consumer: AIOKafkaConsumer, by_unit: dict[str, Probe], topics: dict[str, str]) -> None:
    """Note when each probe's case, milestone and alert first show on their topics."""
    while True:
        batch = await consumer.getmany(timeout_ms=200)
        received = time.perf_counter()
        for partition, messages in batch.items():
            kind = topics[partition.topic]
            for message in messages:
                probe = by_unit.get(_unit_in(message.value) or "")
                if probe is None:
                    continue
                if kind == "case" and probe.case_seen is None:
                    probe.case_seen = received
                elif kind == "milestone" and probe.milestone_seen is None and PROBE_KIND.encode() in message.value:
                    probe.milestone_seen = received
                elif kind == "alert" and probe.alerted is None:
                    with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                        if json.loads(message.value)["data"]["kind"] == PROBE_KIND:
                            probe.alerted = received


async def _watch_stats(
    client: httpx.AsyncClient, stats_url: str, headers_of: Callable[[str], dict[str, str]], probes: list[Probe], today: date, interval: float
) -> None:
    async def check(probe: Probe) -> None:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            response = await client.get(f"{stats_url}/units/{probe.unit}/ongoing", params={"on": today.isoformat()}, headers=headers_of(probe.unit))
            if response.status_code == 200 and (response.json().get("total") or 0) > 0 and probe.counted is None:
                probe.counted = time.perf_counter()

    while True:
        pending = [probe for probe in probes if probe.published is not None and probe.counted is None]
        if pending:
            await asyncio.gather(*(check(probe) for probe in pending))
        await asyncio.sleep(interval)


async def _topics_consumer(bootstrap_servers: str, topics: list[str]) -> AIOKafkaConsumer:
    # A short fetch wait: the receipt time is the measurement.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    await consumer.topics()  # fetches the metadata
    partitions = [TopicPartition(topic, partition) for topic in topics for partition in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    # The end as the broker reports it may lie a little before the true end (older alerts are skipped by unit).
    await consumer.seek_to_end(*partitions)
    return consumer


async def steady_latency(
    stack: Stack,
    now: datetime,
    *,
    rate: float = 100.0,
    seconds: float = 30.0,
    stats_every: int = 10,
    poll_interval: float = 0.05,
    drain_timeout: float = 120.0,
) -> LatencyResult:
    run = uuid.uuid4().hex[:6].upper()
    count = max(1, round(rate * seconds))
    probes = [make_probe(run, index, now, watched_by_stats=index % stats_every == 0) for index in range(count)]
    by_unit = {probe.unit: probe for probe in probes}
    watched = [probe for probe in probes if probe.watched_by_stats]
    topics = stack.topics
    watched_topics = {topics.name(topics.cases): "case", topics.name(topics.milestones): "milestone", topics.name(topics.alerts): "alert"}
    consumer = await _topics_consumer(stack.bootstrap_servers, list(watched_topics))
    client = httpx.AsyncClient(timeout=5)
    # The unit's own manager reads its exact count; the regional office would see a count of one suppressed.
    managers = {probe.unit: bearer(stack, ["VERKSAMHETSCHEF"], [probe.unit], sub="SE2321000000-3998") for probe in watched}
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers)
    await producer.start()
    watchers = [
        asyncio.create_task(_watch_topics(consumer, by_unit, watched_topics)),
        asyncio.create_task(_watch_stats(client, first_instance(stack, "stats").base_url, managers.__getitem__, watched, now.date(), poll_interval)),
    ]
    try:
        certificates = topics.name(topics.certificates)
        deliveries = []
        started = time.perf_counter()
        for probe in probes:
            delay = started + probe.index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            probe.published = time.perf_counter()
            deliveries.append(await producer.send(certificates, key=probe.key, value=probe.value))
        finished = time.perf_counter()
        await asyncio.gather(*deliveries)
        deadline = time.perf_counter() + drain_timeout
        while time.perf_counter() < deadline and any(  # noqa: ASYNC110 - the watchers set plain attributes; polling them is simpler than an event per probe
            p.alerted is None or (p.watched_by_stats and p.counted is None) for p in probes
        ):
            await asyncio.sleep(0.2)
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        await producer.stop()
        await consumer.stop()
        await client.aclose()
    elapsed = finished - started
    return LatencyResult(
        rate=rate,
        seconds=seconds,
        probes=count,
        achieved_rate=(count - 1) / elapsed if elapsed > 0 else float(count),
        alert=[p.alerted - p.published for p in probes if p.alerted is not None and p.published is not None],
        stats=[p.counted - p.published for p in watched if p.counted is not None and p.published is not None],
        stats_watched=len(watched),
        hops={
            "intake": _spans(probes, "published", "case_seen"),
            "milestones": _spans(probes, "case_seen", "milestone_seen"),
            "notifications": _spans(probes, "milestone_seen", "alerted"),
        },
    )


def _spans(probes: list[Probe], since: str, until: str) -> list[float]:
    spans = []
    for probe in probes:
        start, end = getattr(probe, since), getattr(probe, until)
        if start is not None and end is not None:
            spans.append(end - start)
    return spans

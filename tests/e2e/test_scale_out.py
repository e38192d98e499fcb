"""Two instances of every service share the work through their consumer groups: with one instance of
intake and one of milestones SIGKILLed mid-stream and restarted, the pipeline ends exactly where a
single instance of each ends, and no alert is announced twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reko.feed import FeedSettings, generate_feed
from reko.publish import publish_events
from reko.stack import Stack, StackSettings
from reko.status import service_urls, wait_until_caught_up
from tests.oracle import expected_cases, expected_milestones, ongoing_by_unit_and_sex
from tests.support import bearer, current_cases, current_milestones, get_json, latest_by, metric_value, read_events

# Slow (a minute or more on 2 cores): not in `make test`; `make test-slow` or `make test-all` runs it.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLOCK = "fixed:2026-07-01T12:00:00+02:00"
TODAY = date(2026, 7, 1)
PSEUDONYM_KEY = "test-pseudonym-key-not-secret"
CASE_FIELDS = ("caseId", "patientPseudonym", "careUnitHsaId", "start", "end", "certifiedDays", "certificateIds", "sex", "mainDiagnosisCode")
ALERT_FIELDS = ("caseId", "kind", "careUnitHsaId", "milestoneStatus", "dueDate", "riskLevel", "reasonCodes")
COUNT_DAYS = (date(2026, 2, 1), date(2026, 4, 15), TODAY)


@dataclass(frozen=True)
class Outcome:
    """What a run ends with, in the parts that do not depend on the order the work was done in."""

    cases: dict[str, tuple[Any, ...]]
    # Milestones and alerts that stand (a CANCELLED milestone or a WITHDRAWN alert exists only if
    # an intermediate state was published, which depends on the order of the partitions).
    milestones: dict[tuple[str, str], tuple[Any, ...]]
    alerts: dict[str, tuple[Any, ...]]
    counts: dict[date, dict[str, dict[str, int]]]
    announcements: Counter[tuple[str, str, str]]


def _stack(kafka_bootstrap: str, postgres_server_url: str, log_dir: Path, label: str, instances: int) -> Stack:
    return Stack(
        StackSettings(
            clock=CLOCK,
            kafka_bootstrap_servers=kafka_bootstrap,
            database_url=postgres_server_url,
            database_name=label,
            topic_prefix=f"{label}.",
            log_dir=log_dir / label,
            pseudonym_key=PSEUDONYM_KEY,
            instances=instances,
        )
    )


def _publish(stack: Stack, events: list[dict[str, Any]]) -> None:
    asyncio.run(publish_events(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), events))


def _wait_until_caught_up(stack: Stack, timeout: float = 120) -> None:
    caught_up, report = asyncio.run(wait_until_caught_up(service_urls(stack.describe()), within_seconds=timeout))
    assert caught_up, report.as_json()


def _consumed(stack: Stack, service: str, instance: int, topic: str) -> float:
    return metric_value(stack.instances[service][instance].base_url, "reko_events_consumed_total", topic=stack.topics.name(topic))


def _wait_for_consumed(stack: Stack, service: str, instance: int, topic: str, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _consumed(stack, service, instance, topic) < at_least:
        assert time.monotonic() < deadline, f"{service} instance {instance + 1} got no share of {topic}"
        time.sleep(0.02)


def _outcome(stack: Stack) -> Outcome:
    stored = current_cases(stack)
    cases = {case_id: tuple(case[field] for field in CASE_FIELDS) for case_id, case in stored.items()}
    milestones = {key: (m["status"], m["dueDate"], m["careUnitHsaId"]) for key, m in current_milestones(stack).items() if m["status"] != "CANCELLED"}
    # A relay that retries after a kill may repeat a record; the event id tells the copies apart.
    alert_events = list({event["id"]: event for event in read_events(stack, stack.topics.alerts)}.values())
    # An alert that moved to another unit changed key: its events are ordered by (revision, sequence).
    latest = latest_by(alert_events, lambda data: data["alertId"], lambda data: (data["revision"], data.get("sequence", 0)))
    alerts = {alert_id: tuple(data.get(field) for field in ALERT_FIELDS) for alert_id, data in latest.items() if data["state"] == "OPEN"}
    announcements = Counter(
        (data["caseId"], data["kind"], data["dueDate"]) for data in (event["data"] for event in alert_events) if data["announce"] and data["dueDate"]
    )
    every_milestone_alert = {(data["caseId"], data["kind"], data["dueDate"]) for data in (event["data"] for event in alert_events) if data["dueDate"]}
    assert set(announcements) == every_milestone_alert, "a milestone alert was never announced"
    # Exact counts are a unit's own coordinators' (the regional office reads small ones hidden).
    coordinator = bearer(stack, ["REHABKOORDINATOR"], sorted({case["careUnitHsaId"] for case in stored.values()}))
    stats = stack.services["stats"].base_url
    counts = {
        day: {row["careUnitHsaId"]: row["bySex"] for row in get_json(f"{stats}/ongoing?on={day.isoformat()}", coordinator)} for day in COUNT_DAYS
    }
    return Outcome(cases, milestones, alerts, counts, announcements)


def _single_instance_run(kafka_bootstrap: str, postgres_server_url: str, log_dir: Path, label: str, events: list[dict[str, Any]]) -> Outcome:
    stack = _stack(kafka_bootstrap, postgres_server_url, log_dir, label, instances=1)
    try:
        stack.start()
        _publish(stack, events)
        _wait_until_caught_up(stack)
        return _outcome(stack)
    finally:
        stack.stop()


def _two_instance_run_with_kills(kafka_bootstrap: str, postgres_server_url: str, log_dir: Path, label: str, events: list[dict[str, Any]]) -> Outcome:
    stack = _stack(kafka_bootstrap, postgres_server_url, log_dir, label, instances=2)
    try:
        stack.start()
        # Fed in slices until the second intake instance has a share of the partitions and is busy
        # with it; the rest of the feed follows at once and is still being processed at the kill.
        sent = 0
        while _consumed(stack, "intake", 1, stack.topics.certificates) < 50:
            assert sent < len(events) // 2, "the second intake instance got no share of the certificates"
            _publish(stack, events[sent : sent + 100])
            sent += 100
            time.sleep(0.2)
        _publish(stack, events[sent:])
        stack.instances["intake"][1].kill()
        _wait_for_consumed(stack, "milestones", 1, stack.topics.cases, at_least=50)
        stack.instances["milestones"][1].kill()
        stack.restart("intake", instance=1)
        stack.restart("milestones", instance=1)
        _wait_until_caught_up(stack)
        for service in ("notifications", "stats"):
            shares = [metric_value(process.base_url, "reko_events_consumed_total") for process in stack.instances[service]]
            assert all(shares), (service, shares)
        return _outcome(stack)
    finally:
        stack.stop()


def test_two_instances_of_every_service_with_kills_end_where_one_instance_of_each_ends(kafka_bootstrap, postgres_server_url, unique_name, tmp_path):
    events = generate_feed(FeedSettings(seed=41, patients=600))
    assert len(events) > 1200

    single = _single_instance_run(kafka_bootstrap, postgres_server_url, tmp_path, f"{unique_name}one", events)
    scaled = _two_instance_run_with_kills(kafka_bootstrap, postgres_server_url, tmp_path, f"{unique_name}two", events)

    oracle = expected_cases(events, pseudonym_key=PSEUDONYM_KEY)
    assert single.cases == {
        case_id: tuple(case.model_dump(mode="json", by_alias=True)[field] for field in CASE_FIELDS) for case_id, case in oracle.items()
    }
    computed = {key: state for key, state in expected_milestones(oracle, TODAY).items() if state.status.value != "CANCELLED"}
    assert {key: value[:2] for key, value in single.milestones.items()} == {
        key: (state.status.value, state.due_date.isoformat()) for key, state in computed.items()
    }
    assert single.counts == {day: ongoing_by_unit_and_sex(oracle, day) for day in COUNT_DAYS}
    assert any(kind == "RISK_FLAG" for _, kind, *_ in single.alerts.values()) and single.announcements

    assert scaled.cases == single.cases
    assert scaled.milestones == single.milestones
    assert scaled.alerts == single.alerts
    assert scaled.counts == single.counts
    # Which due dates a milestone had on the way depends on the order of the work; each was announced once.
    for run in (single, scaled):
        assert [key for key, count in run.announcements.items() if count > 1] == []

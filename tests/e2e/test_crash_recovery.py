"""A service killed with SIGKILL mid-stream and restarted ends where an undisturbed run ends."""

from __future__ import annotations

import asyncio
import time
from datetime import date

import pytest

from reko.feed import FeedSettings, generate_feed
from reko.publish import publish_events
from tests.oracle import expected_cases, expected_milestones, ongoing_by_unit_and_sex
from tests.support import bearer, current_cases, current_milestones, get_json, metric_value, wait_for_quiet

# Slow (a minute or more on 2 cores): not in `make test`; `make test-slow` or `make test-all` runs it.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TODAY = date(2026, 7, 1)
CASE_FIELDS = ("caseId", "patientPseudonym", "careUnitHsaId", "start", "end", "certifiedDays", "certificateIds", "sex", "mainDiagnosisCode")


def _comparable(case: dict) -> tuple:
    return tuple(case[field] for field in CASE_FIELDS)


@pytest.mark.parametrize("victim", ["intake", "milestones"])
def test_a_service_killed_mid_stream_ends_with_the_same_cases_milestones_and_counts(stack_factory, victim):
    stack = stack_factory(clock="fixed:2026-07-01T12:00:00+02:00")
    events = generate_feed(FeedSettings(seed=11, patients=1500))
    assert len(events) > 3000
    service = stack.services[victim]
    watched_topic = stack.topics.name(stack.topics.certificates if victim == "intake" else stack.topics.cases)

    asyncio.run(publish_events(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), events))
    deadline = time.monotonic() + 60
    while metric_value(service.base_url, "reko_events_consumed_total", topic=watched_topic) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    service.kill()
    stack.restart(victim)
    wait_for_quiet(stack, timeout=300)

    oracle = expected_cases(events, pseudonym_key=stack.settings.pseudonym_key)
    expected = {case_id: _comparable(case.model_dump(mode="json", by_alias=True)) for case_id, case in oracle.items()}
    actual = {case_id: _comparable(case) for case_id, case in current_cases(stack).items()}
    assert actual == expected

    published = current_milestones(stack)
    computed = expected_milestones(oracle, TODAY)
    for key, state in computed.items():
        if state.status.value == "CANCELLED" and key not in published:
            continue  # a milestone whose first computed state is CANCELLED is never published
        assert (published[key]["status"], published[key]["dueDate"]) == (state.status.value, state.due_date.isoformat()), key
    for key, milestone in published.items():
        if key not in computed:
            assert milestone["status"] == "CANCELLED", key

    stats = stack.services["stats"].base_url
    # Exact counts are a unit's own coordinators' (the regional office reads small ones hidden).
    coordinator = bearer(stack, ["REHABKOORDINATOR"], sorted({case.care_unit_hsa_id for case in oracle.values()}))
    for day in (date(2026, 2, 1), date(2026, 4, 15), TODAY):
        served = {row["careUnitHsaId"]: row["bySex"] for row in get_json(f"{stats}/ongoing?on={day.isoformat()}", coordinator)}
        assert served == ongoing_by_unit_and_sex(oracle, day), day

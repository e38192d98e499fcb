"""Milestones over time: the clock moves across due dates, milestones is killed once, and what it
published in the end is what the rules give, details included (current certificate ids, unit and
chain day), with no alert announced twice for the same (case, kind, due date)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from reko.feed import FeedSettings, generate_feed
from reko.publish import publish_events
from reko.stack import Stack
from shared.contracts.milestones import MilestoneStatus
from shared.personnummer import luhn_check_digit, parse_personnummer
from tests.oracle import expected_cases, expected_milestones
from tests.support import current_milestones, read_events, revoked_event, signed_event, wait_for_quiet, wait_until

pytestmark = pytest.mark.e2e

T1 = date(2026, 3, 10)
T2 = date(2026, 5, 5)
T3 = date(2026, 7, 20)


def fixed(day: date) -> str:
    return f"fixed:{day.isoformat()}T12:00:00+02:00"


def skatteverket_test_number(born: date, serial: str) -> str:
    """A personnummer of Skatteverket's test series (serial 980-999) with its Luhn digit."""
    nine = f"{born:%y%m%d}{serial}"
    return f"{born:%Y%m%d}{serial}{luhn_check_digit(nine)}"


def sign(certificate_id: str, person_id: str, start: str, end: str, signed_on: str, **extra: Any) -> dict[str, Any]:
    return signed_event(
        f"e-{certificate_id}", certificate_id, person_id=person_id, periods=[(start, end, 100)], signed_at=f"{signed_on}T09:00:00+01:00", **extra
    )


def revoke(certificate_id: str, on: str) -> dict[str, Any]:
    return revoked_event(f"r-{certificate_id}", certificate_id, revoked_at=f"{on}T08:00:00+01:00")


UNEMPLOYED = ("ARBETSSOKANDE",)
P1, P2, P3, P4, P5, P6, P7 = (skatteverket_test_number(date(1971, 5, day), "982") for day in range(1, 8))

# What arrives up to 10 Mar (T1), before the changes below.
FIRST_HISTORIES = [
    # P1: 2 Feb..20 Apr = 78 days from the renewal on: plan due max(2 Feb + 29 = 3 Mar, signed 20 Feb),
    # day 90 = 2 May (within 20 Apr + 14).
    sign("p1-a", P1, "2026-02-02", "2026-02-22", "2026-02-02"),
    sign("p1-b", P1, "2026-02-23", "2026-04-20", "2026-02-20", relations=[("FRLANG", "p1-a")]),
    # P2, unemployed: case p2-a 1..31 Jan and case p2-b 1 Mar..30 Jun, 28 days apart: one chain,
    # p2-b's day 90 = 1 Mar + (89 - 31) = 28 Apr.
    sign("p2-a", P2, "2026-01-01", "2026-01-31", "2026-01-01", occupations=UNEMPLOYED),
    sign("p2-b", P2, "2026-03-01", "2026-06-30", "2026-02-27", occupations=UNEMPLOYED),
    # P3: 30 days, then a renewal signed 20 Feb, after day 30 (13 Feb), takes the case to 76 days:
    # the plan is due at once, 20 Feb; day 90 = 14 Apr = 31 Mar + 14.
    sign("p3-a", P3, "2026-01-15", "2026-02-13", "2026-01-15"),
    sign("p3-b", P3, "2026-02-14", "2026-03-31", "2026-02-20", relations=[("FRLANG", "p3-a")]),
    # P4: case p4-a 5..25 Jan and case p4-b 10 Feb..15 Apr, 15 uncovered days apart. p4-b carries
    # 21 days: plan due max(10 Feb + 8 = 18 Feb, signed 9 Feb), day 90 = 10 Feb + 68 = 19 Apr.
    sign("p4-a", P4, "2026-01-05", "2026-01-25", "2026-01-05"),
    sign("p4-b", P4, "2026-02-10", "2026-04-15", "2026-02-09"),
    # P5, unemployed: 1 Jan..20 Mar, day 90 = 31 Mar lies in the 14 days after the end.
    sign("p5-a", P5, "2026-01-01", "2026-03-20", "2026-01-01", occupations=UNEMPLOYED),
    # P6: three adjacent certificates, 1 Feb..30 Apr (89 days): plan due max(2 Mar, signed 9 Mar),
    # day 90 = 1 May.
    sign("p6-a", P6, "2026-02-01", "2026-02-20", "2026-02-01"),
    sign("p6-b", P6, "2026-02-21", "2026-03-10", "2026-02-19", relations=[("FRLANG", "p6-a")]),
    sign("p6-c", P6, "2026-03-11", "2026-04-30", "2026-03-09", relations=[("FRLANG", "p6-b")]),
    # P7: 1 Jan..30 Jun: plan 30 Jan, day 90 = 31 Mar, day 180 = 29 Jun, one after the other.
    sign("p7-a", P7, "2026-01-01", "2026-06-30", "2026-01-01"),
]

CHANGES = [
    # P1: revoking the renewal leaves 21 days: neither the plan nor day 90 applies any more.
    revoke("p1-b", "2026-03-09"),
    # P2: a renewal of p2-a to 10 Feb makes p2-b carry 41 days: its day 90 moves to 1 Mar + 48 = 18 Apr.
    sign("p2-c", P2, "2026-02-01", "2026-02-10", "2026-01-30", occupations=UNEMPLOYED, relations=[("FRLANG", "p2-a")]),
    # P3: renewed to 31 May, so day 90 (14 Apr) falls inside the case.
    sign("p3-c", P3, "2026-04-01", "2026-05-31", "2026-03-09", relations=[("FRLANG", "p3-b")]),
    # P4: a certificate for 26 Jan..9 Feb merges the two cases into p4-a, 5 Jan..15 Apr.
    sign("p4-c", P4, "2026-01-26", "2026-02-09", "2026-03-08"),
    # P6: revoking the middle certificate splits the case into p6-a and p6-c, 18 days apart.
    revoke("p6-b", "2026-03-10"),
]


def long_leaves(count: int) -> list[dict[str, Any]]:
    """Employed patients off work from a day in Jan..Feb until 31 Aug: due dates all through the period."""
    events = []
    for n in range(count):
        start = date(2026, 1, 1) + timedelta(days=n % 59)
        person = skatteverket_test_number(date(1960, 1, 1) + timedelta(days=n), "984")
        events.append(sign(f"long-{n:03}", person, start.isoformat(), "2026-08-31", start.isoformat()))
    return events


def patients_of(events: list[dict[str, Any]]) -> set[str]:
    return {
        parse_personnummer(event["data"]["patient"]["personId"], on=date.fromisoformat(event["data"]["signedAt"][:10])).normalised
        for event in events
        if event["type"].endswith("signed.v1")
    }


def publish(stack: Stack, events: list[dict[str, Any]]) -> None:
    asyncio.run(publish_events(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), events))


async def _fetch(stack: Stack, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


def due_timers(stack: Stack, day: date) -> int:
    return asyncio.run(_fetch(stack, "SELECT count(*) FROM milestones.timers WHERE fires_on <= $1", day))


def last_outbox_id(stack: Stack) -> int:
    return asyncio.run(_fetch(stack, "SELECT coalesce(max(id), 0) FROM milestones.outbox"))


def settle(stack: Stack, day: date) -> None:
    """Until the scheduler fired every timer due by `day` and the pipeline is quiet."""
    assert wait_until(lambda: due_timers(stack, day) == 0, timeout=60), "timers that fell due were not fired"
    wait_for_quiet(stack, timeout=120)


def assert_last_published_follows_the_rules(stack: Stack, events: list[dict[str, Any]], day: date) -> dict[tuple[str, str], Any]:
    cases = expected_cases(events, pseudonym_key=stack.settings.pseudonym_key)
    computed = expected_milestones(cases, day)
    published = current_milestones(stack)
    for key, state in computed.items():
        if state.status is MilestoneStatus.CANCELLED and key not in published:
            continue  # a milestone whose first computed state is CANCELLED is never published
        assert key in published, (day, key)
        milestone = published[key]
        assert (milestone["status"], milestone["dueDate"]) == (state.status.value, state.due_date.isoformat()), (day, key)
        assert (milestone["chainDay"], milestone["offset"], tuple(milestone["earlierCaseIds"])) == (
            state.chain_day,
            state.offset,
            state.earlier_case_ids,
        ), (day, key)
    for key, milestone in published.items():
        if key not in computed:
            assert milestone["status"] == "CANCELLED", (day, key)
        case = cases.get(key[0])
        if case is not None:  # a cancelled milestone of a case that is gone keeps its last details
            details = (tuple(milestone["certificateIds"]), milestone["careUnitHsaId"])
            assert details == (case.certificate_ids, case.care_unit_hsa_id), (day, key)
    return published


def test_milestones_follow_the_rules_as_the_clock_moves_across_due_dates_and_through_a_crash(stack_factory):
    feed = generate_feed(FeedSettings(seed=23, patients=200, days=60))
    volume = long_leaves(120)
    assert not patients_of(feed) & patients_of(FIRST_HISTORIES + volume)
    # Small scheduler rounds, so that the kill below lands between two of them.
    stack = stack_factory(clock=fixed(T1), extra_env={"REKO_MILESTONES_SCHEDULER_BATCH_SIZE": "5"})
    milestones = stack.services["milestones"]

    publish(stack, FIRST_HISTORIES + volume + feed)
    wait_for_quiet(stack)
    before_the_changes = assert_last_published_follows_the_rules(stack, FIRST_HISTORIES + volume + feed, T1)
    # what the changes below will cancel or move was announced
    assert before_the_changes[("p1-a", "RETURN_TO_WORK_PLAN")]["status"] == "DUE"
    assert before_the_changes[("p2-b", "CHAIN_DAY_90")]["dueDate"] == "2026-04-28"
    assert before_the_changes[("p6-a", "RETURN_TO_WORK_PLAN")]["status"] == "DUE"
    everything = FIRST_HISTORIES + volume + feed + CHANGES
    publish(stack, CHANGES)
    wait_for_quiet(stack)
    assert_last_published_follows_the_rules(stack, everything, T1)

    # The scheduler needs no broker: rejoining the consumer group (seconds on Tansu) is not waited for.
    milestones.stop()
    stack.restart("milestones", clock=fixed(T2), wait_ready=False)
    settle(stack, T2)
    assert_last_published_follows_the_rules(stack, everything, T2)

    # At T3 the scheduler has some hundred timers to fire; kill it as soon as a round has committed.
    milestones.stop()
    before = last_outbox_id(stack)
    stack.restart("milestones", clock=fixed(T3), wait_ready=False)
    deadline = time.monotonic() + 60
    while last_outbox_id(stack) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    milestones.kill()
    stack.restart("milestones", wait_ready=False)
    settle(stack, T3)
    assert_last_published_follows_the_rules(stack, everything, T3)

    published = current_milestones(stack)
    hand_made = {
        (case_id, kind): (m["status"], m["dueDate"])
        for (case_id, kind), m in published.items()
        if case_id.split("-")[0] in {"p1", "p2", "p3", "p4", "p5", "p6", "p7"}
    }
    assert hand_made == {
        # the revocation took away the reason for both
        ("p1-a", "RETURN_TO_WORK_PLAN"): ("CANCELLED", "2026-03-03"),
        ("p1-a", "CHAIN_DAY_90"): ("CANCELLED", "2026-05-02"),
        # the renewal of the earlier case moved day 90 from 28 Apr
        ("p2-b", "CHAIN_DAY_90"): ("DUE", "2026-04-18"),
        ("p3-a", "RETURN_TO_WORK_PLAN"): ("DUE", "2026-02-20"),
        ("p3-a", "CHAIN_DAY_90"): ("DUE", "2026-04-14"),
        # merged: p4-b's milestones cancelled; p4-a (5 Jan..15 Apr, 101 days from the certificate signed
        # 9 Feb on) has the plan due max(3 Feb, 9 Feb) and day 90 = 5 Jan + 89 = 4 Apr
        ("p4-b", "RETURN_TO_WORK_PLAN"): ("CANCELLED", "2026-02-18"),
        ("p4-b", "CHAIN_DAY_90"): ("CANCELLED", "2026-04-19"),
        ("p4-a", "RETURN_TO_WORK_PLAN"): ("DUE", "2026-02-09"),
        ("p4-a", "CHAIN_DAY_90"): ("DUE", "2026-04-04"),
        # the case ended 20 Mar, before day 90
        ("p5-a", "CHAIN_DAY_90"): ("CANCELLED", "2026-03-31"),
        # split: p6-a (20 days) loses the plan to p6-c, which carries 20 days: 51 + 20 >= 60, due
        # max(11 Mar + 9 = 20 Mar, signed 9 Mar); day 90 of either is out of view
        ("p6-a", "RETURN_TO_WORK_PLAN"): ("CANCELLED", "2026-03-09"),
        ("p6-a", "CHAIN_DAY_90"): ("CANCELLED", "2026-05-01"),
        ("p6-c", "RETURN_TO_WORK_PLAN"): ("DUE", "2026-03-20"),
        ("p7-a", "RETURN_TO_WORK_PLAN"): ("DUE", "2026-01-30"),
        ("p7-a", "CHAIN_DAY_90"): ("DUE", "2026-03-31"),
        ("p7-a", "CHAIN_DAY_180"): ("DUE", "2026-06-29"),
    }

    # A relay retry after the kill may repeat a record; the event id tells the copies apart.
    alerts = {event["id"]: event["data"] for event in read_events(stack, stack.topics.alerts)}
    announced = Counter((data["caseId"], data["kind"], data["dueDate"]) for data in alerts.values() if data["announce"] and data["dueDate"])
    assert [key for key, count in announced.items() if count > 1] == []
    # every alert of a milestone was announced once, the day 90 that moved once per due date it had
    milestone_alerts = {(data["caseId"], data["kind"], data["dueDate"]) for data in alerts.values() if data["dueDate"]}
    assert set(announced) == milestone_alerts
    assert {key for key in announced if key[0] == "p2-b"} >= {("p2-b", "CHAIN_DAY_90", "2026-04-28"), ("p2-b", "CHAIN_DAY_90", "2026-04-18")}
    assert ("p7-a", "CHAIN_DAY_180", "2026-06-29") in announced
    # renewals, revocations and merges re-published milestones as updates; none of them was announced
    updates = [data for data in {event["id"]: event["data"] for event in read_events(stack, stack.topics.milestones)}.values() if data["update"]]
    assert updates

"""The published cases do not depend on the order or repetition of the certificate feed."""

from __future__ import annotations

import asyncio
import copy
import random
import uuid
from typing import TYPE_CHECKING

import pytest

from reko.feed import FeedSettings, generate_feed
from reko.publish import publish_events
from shared.contracts.cases import SickLeaveCaseChanged
from tests.oracle import expected_cases, expected_risk_flags
from tests.support import current_cases, latest_by, metric_value, read_events, read_topic, wait_for_quiet

if TYPE_CHECKING:
    from reko.stack import Stack

# Slow (a minute or more on 2 cores): not in `make test`; `make test-slow` or `make test-all` runs it.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Whatever describes the case itself; revision counters and the kind of change depend on the path taken.
_PATH_FIELDS = {"patient_revision", "revision_event_count", "change", "replaces_case_ids", "replaced_by_case_ids"}


def _content(case: SickLeaveCaseChanged) -> dict:
    return case.model_dump(mode="json", by_alias=True, exclude=_PATH_FIELDS)


def _shuffled_with_duplicates(events: list[dict], seed: int) -> tuple[list[dict], int, int]:
    """The feed in random order, with redeliveries (same event) and re-sends (same certificate, new event id)."""
    chance = random.Random(seed)
    redelivered = chance.sample(events, k=len(events) // 5)
    resent = []
    for event in chance.sample(events, k=len(events) // 10):
        copy_of_event = copy.deepcopy(event)
        copy_of_event["id"] = str(uuid.UUID(int=chance.getrandbits(128)))
        resent.append(copy_of_event)
    feed = events + redelivered + resent
    chance.shuffle(feed)
    return feed, len(redelivered), len(resent)


def test_shuffled_feed_with_duplicates_publishes_the_cases_assembled_at_once(stack_factory):
    stack = stack_factory(clock="fixed:2026-07-01T12:00:00+02:00")
    # More revocations and replacements than a real feed, so splits, merges and voids happen often.
    events = generate_feed(FeedSettings(seed=31, patients=300, revocation_rate=0.08, replacement_rate=0.06))
    feed, redelivered, resent = _shuffled_with_duplicates(events, seed=5)
    revocations_first = _revocations_before_their_sign(feed)
    assert redelivered > 50 and resent > 25 and revocations_first > 0

    asyncio.run(publish_events(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), feed))
    wait_for_quiet(stack, timeout=300)

    oracle = expected_cases(events, pseudonym_key=stack.settings.pseudonym_key)
    published = current_cases(stack)
    assert sorted(published) == sorted(oracle)
    for case_id, case in oracle.items():
        assert _content(SickLeaveCaseChanged.model_validate(published[case_id])) == _content(case), case_id

    intake = stack.services["intake"].base_url
    certificates_topic = stack.topics.name(stack.topics.certificates)
    assert metric_value(intake, "reko_events_deduplicated_total", topic=certificates_topic) >= redelivered
    # Duplicates are not bad input: nothing of this feed is dead-lettered.
    assert asyncio.run(read_topic(stack.bootstrap_servers, stack.topics.dead_letter(stack.topics.certificates))) == []
    _assert_every_vanished_case_names_its_successors(stack)
    _assert_the_last_risk_flag_of_every_case_is_the_rules(stack, events)


def _revocations_before_their_sign(feed: list[dict]) -> int:
    signed_seen: set[str] = set()
    early = 0
    for event in feed:
        certificate_id = event["data"]["certificateId"]
        if event["type"].endswith("signed.v1"):
            signed_seen.add(certificate_id)
        elif certificate_id not in signed_seen:
            early += 1
    return early


def _assert_every_vanished_case_names_its_successors(stack: Stack) -> None:
    """A consumer that follows the stream alone can tell where every vanished case went."""
    events = [event["data"] for event in read_events(stack, stack.topics.cases)]
    alive: dict[str, bool] = {}
    for data in sorted(events, key=lambda data: (data["patientPseudonym"], data["patientRevision"], data["status"] != "REMOVED")):
        if data["status"] == "REMOVED":
            assert alive.get(data["caseId"]), f"{data['caseId']} removed before it existed"
            for successor in data["replacedByCaseIds"]:
                assert successor != data["caseId"]
            alive[data["caseId"]] = False
        else:
            for earlier in data["replacesCaseIds"]:
                assert earlier in alive, f"{data['caseId']} replaces {earlier}, never published"
            alive[data["caseId"]] = True
    existing = {case_id for case_id, is_alive in alive.items() if is_alive}
    assert existing == set(current_cases(stack))


def _assert_the_last_risk_flag_of_every_case_is_the_rules(stack: Stack, events: list[dict]) -> None:
    expected = expected_risk_flags(events, pseudonym_key=stack.settings.pseudonym_key)
    published = latest_by(read_events(stack, stack.topics.risk_flags), lambda data: data["caseId"], lambda data: data["revision"])
    flagged_now = {case_id: (flag["level"], tuple(flag["reasonCodes"])) for case_id, flag in published.items() if flag["flagged"]}
    assert flagged_now == {case_id: (flag.level.value, flag.reason_codes) for case_id, flag in expected.items() if flag.flagged}
    assert len(flagged_now) > 20  # a feed with this diagnosis mix flags many cases
    for case_id, flag in published.items():
        # Withdrawn flags say so; a flag is never published for a case that was never flagged.
        assert flag["flagged"] == (flag["level"] != "NONE"), case_id

"""After the demo feed has flowed through, no personnummer is anywhere but the input and the identity path."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from reko.feed import FeedSettings, generate_feed
from reko.publish import publish_events
from shared.logging import find_personnummer
from tests.support import read_topic, wait_for_quiet

pytestmark = pytest.mark.e2e

HEX_DIGEST = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


def _written_forms(person_id: str) -> set[str]:
    """The ways the feed's number could reappear: as written, normalised, without the century, without the dash."""
    digits = re.sub(r"\D", "", person_id)
    forms = {person_id, digits}
    if len(digits) == 12:
        forms |= {digits[2:], f"{digits[:8]}-{digits[8:]}", f"{digits[2:8]}-{digits[8:]}"}
    return forms


def test_no_topic_log_line_or_metric_downstream_of_intake_holds_a_personnummer(stack_factory):
    stack = stack_factory(clock="fixed:2026-06-15T12:00:00+02:00")
    events = generate_feed(FeedSettings(patients=60, seed=11))
    numbers = {event["data"]["patient"]["personId"] for event in events if event["type"].endswith(".signed.v1")}
    forbidden = set().union(*(_written_forms(number) for number in numbers))
    asyncio.run(publish_events(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), events))
    wait_for_quiet(stack, timeout=180)

    topics = stack.topics
    # The feed itself, its dead letters (the original bytes) and the encrypted identity path may hold it.
    allowed = {topics.name(topics.certificates), topics.dead_letter(topics.certificates), topics.name(topics.identities)}
    checked = 0
    for topic in sorted(set(topics.all_names()) - allowed):
        for record in asyncio.run(read_topic(stack.bootstrap_servers, topic)):
            # Kept apart by spaces: run together, a key's digits and a header's could look like a number.
            parts = [(record.value or b"").decode(errors="replace"), (record.key or b"").decode(errors="replace"), *record.headers.values()]
            # A pseudonym or a hash is 64 hex digits, whose digit runs can look like a number: not checked by shape.
            text = HEX_DIGEST.sub("", " ".join(parts))
            assert not find_personnummer(text), (topic, find_personnummer(text)[:2])
            assert not any(number in text for number in forbidden), topic
            checked += 1
    assert checked > len(numbers), "the downstream topics hold the feed's cases, milestones and alerts"

    for identity in asyncio.run(read_topic(stack.bootstrap_servers, topics.name(topics.identities))):
        assert not any(number in identity.value.decode(errors="replace") for number in forbidden), "the identity topic carries ciphertext only"

    for log in stack.settings.log_dir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert not find_personnummer(text), (log.name, find_personnummer(text)[:2])
        assert not any(number in text for number in forbidden), log.name

    for name, service in stack.services.items():
        metrics = httpx.get(f"{service.base_url}/metrics", timeout=5).text
        assert not find_personnummer(metrics), name
        assert not any(number in metrics for number in forbidden), name

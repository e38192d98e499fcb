"""Our event ids are version-7 UUIDs: unique, in time order, and plain UUIDs to every reader."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.contracts.envelope import EventData
from shared.event_ids import time_ordered_uuid
from shared.outbox import Outbox


def test_an_event_id_is_a_version_7_uuid_of_the_rfc_variant() -> None:
    event_id = time_ordered_uuid()

    assert event_id.version == 7
    assert event_id.variant == uuid.RFC_4122
    assert uuid.UUID(str(event_id)) == event_id


def test_an_event_id_begins_with_the_milliseconds_it_was_made_at() -> None:
    event_id = time_ordered_uuid(unix_ms=1_767_225_600_123)

    assert event_id.int >> 80 == 1_767_225_600_123


def test_ids_of_later_milliseconds_sort_after_earlier_ones_as_text() -> None:
    ids = [str(time_ordered_uuid(unix_ms=1_767_225_600_000 + step)) for step in range(0, 5_000, 7)]

    assert ids == sorted(ids)


def test_ids_made_in_the_same_millisecond_differ() -> None:
    ids = {time_ordered_uuid(unix_ms=1_767_225_600_000) for _ in range(10_000)}

    assert len(ids) == 10_000


@pytest.mark.parametrize("unix_ms", [-1, 1 << 48])
def test_a_time_outside_48_bits_of_milliseconds_is_refused(unix_ms: int) -> None:
    with pytest.raises(ValueError, match="48 bits"):
        time_ordered_uuid(unix_ms=unix_ms)


class Tick(EventData):
    sequence: int


def test_every_event_an_outbox_collects_carries_a_version_7_id_in_its_envelope_and_header() -> None:
    outbox = Outbox(source="urn:test")

    event_ids = [outbox.event(topic="t", key="k", event_type="tick", time=datetime.now(UTC), subject=None, data=Tick(sequence=n)) for n in range(3)]

    assert [event_id.version for event_id in event_ids] == [7, 7, 7]
    for event_id, record in zip(event_ids, outbox.records, strict=True):
        assert json.loads(record.value)["id"] == str(event_id) == record.headers["ce_id"] == record.event_id

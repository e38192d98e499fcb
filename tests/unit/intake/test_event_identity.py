"""The identity intake records an event under: CloudEvents' `source` and `id`, never confusable."""

import json

from aiokafka import ConsumerRecord

from services.intake.handlers import decode_certificate_record
from tests.hostile import valid


def record_of(event: dict) -> ConsumerRecord:
    value = json.dumps(event).encode()
    return ConsumerRecord(
        topic="t", partition=0, offset=0, timestamp=0, timestamp_type=0, key=None, value=value,
        checksum=None, serialized_key_size=0, serialized_value_size=len(value), headers=[],
    )  # fmt: skip


def test_two_events_whose_source_and_id_would_join_to_the_same_text_have_different_identities():
    first = {**valid(1), "source": "urn:a b", "id": "c"}
    second = {**valid(2), "source": "urn:a", "id": "b c"}

    first_id, _ = decode_certificate_record(record_of(first))
    second_id, _ = decode_certificate_record(record_of(second))

    assert first_id != second_id


def test_the_same_source_and_id_give_the_same_identity():
    assert decode_certificate_record(record_of(valid(1)))[0] == decode_certificate_record(record_of(valid(1)))[0]

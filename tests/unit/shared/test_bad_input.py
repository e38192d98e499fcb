"""Whatever bytes arrive, the feed decoder answers with an event or a `BadInput` naming the problem."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.bad_input import BadInput, load_json
from shared.contracts.certificates import CertificateSigned, parse_certificate_event
from shared.logging import find_personnummer
from tests.hostile import BAD_CHECK_DIGIT, catalogue, valid
from tests.support import WOMAN

HOSTILE = [kind for kind in catalogue() if not kind.consumer_only]


@pytest.mark.parametrize("kind", HOSTILE, ids=[kind.name for kind in HOSTILE])
def test_each_hostile_record_is_rejected_with_its_class_and_a_reason_that_echoes_nothing(kind):
    with pytest.raises(BadInput) as rejected:
        parse_certificate_event(kind.value)

    assert rejected.value.error_class == kind.error_class
    assert rejected.value.reason
    assert not find_personnummer(rejected.value.reason)
    assert BAD_CHECK_DIGIT not in rejected.value.reason
    assert len(rejected.value.reason) < 600


def test_the_catalogue_holds_at_least_thirty_kinds():
    assert len(catalogue()) >= 30


def test_a_valid_event_still_parses():
    event = parse_certificate_event(json.dumps(valid(1)).encode())

    assert isinstance(event, CertificateSigned)
    assert event.data.patient.person_id == WOMAN


def test_a_duplicate_key_is_refused_rather_than_read_as_the_last_one():
    with pytest.raises(BadInput, match="same key twice"):
        load_json(b'{"a": 1, "a": 2}')


def test_the_path_of_bad_text_is_named_but_a_key_shaped_like_a_personnummer_is_not():
    with pytest.raises(BadInput) as rejected:
        load_json(json.dumps({WOMAN: {"name": "a\u0000"}}).encode())

    assert rejected.value.reason == "contract violation: ?.name: text holds the character U+0000"


def _rejection(value: bytes) -> BadInput | None:
    """None when the value parses; any exception other than BadInput fails the test."""
    try:
        parse_certificate_event(value)
    except BadInput as rejected:
        return rejected
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_an_event_or_bad_input_and_nothing_else(value):
    rejected = _rejection(value)

    assert rejected is None or rejected.error_class in {"NotJson", "NotCloudEvent", "UnknownEventType", "ContractViolation", "InvalidPersonId"}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def _paths(document, prefix=()):
    yield prefix
    if isinstance(document, dict):
        for key, child in document.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(document, list):
        for index, child in enumerate(document):
            yield from _paths(child, (*prefix, index))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_valid_event_with_any_one_value_replaced_gives_an_event_or_bad_input(data):
    document = valid(1)
    path = data.draw(st.sampled_from([path for path in _paths(document) if path]))
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = data.draw(JSON_VALUES)

    rejected = _rejection(json.dumps(document).encode())

    assert rejected is None or not find_personnummer(rejected.reason)

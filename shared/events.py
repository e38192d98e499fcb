"""Decoding the events our own services publish (CloudEvents with a typed `data`)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from shared.consumer import BadEvent
from shared.contracts.certificates import describe_validation_error
from shared.contracts.envelope import EventData, PublishedEvent

DataT = TypeVar("DataT", bound=EventData)


def decode_published_event(record: ConsumerRecord[Any, Any], model: type[DataT]) -> tuple[str, DataT]:
    """The event id and typed data of one record, or `BadEvent` saying why it cannot be read."""
    if record.value is None:
        raise BadEvent("NotJson", "the record has no value")
    try:
        document = json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadEvent("NotJson", "not valid JSON") from None
    try:
        envelope = PublishedEvent[model].model_validate(document)  # type: ignore[valid-type]  # why: the model is a value; pydantic parametrises the envelope at run time
    except ValidationError as problem:
        raise BadEvent("ContractViolation", f"contract violation: {describe_validation_error(problem)}") from None
    return str(envelope.id), envelope.data

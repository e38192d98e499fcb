"""Decoding the events our own services publish (CloudEvents with a typed `data`)."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from shared.bad_input import BadInput
from shared.contracts.certificates import describe_validation_error
from shared.contracts.envelope import EventData, PublishedEvent

DataT = TypeVar("DataT", bound=EventData)


@cache
def _envelope_of(model: type[EventData]) -> type[PublishedEvent[Any]]:
    # Parametrising the generic envelope costs about a third of a decode; once per model is enough.
    return PublishedEvent[model]  # type: ignore[valid-type]  # why: the model is a value; pydantic parametrises the envelope at run time


def decode_published_event(record: ConsumerRecord[Any, Any], model: type[DataT]) -> tuple[str, DataT]:
    """The event id and typed data of one record, or `BadInput` saying why it cannot be read."""
    if record.value is None:
        raise BadInput("NotJson", "the record has no value")
    try:
        # Our own services wrote these records: pydantic-core's parser reads them in one pass.
        envelope = _envelope_of(model).model_validate_json(record.value)
    except ValidationError as problem:
        if any(item["type"] == "json_invalid" for item in problem.errors(include_input=False, include_url=False)):
            raise BadInput("NotJson", "not valid JSON") from None
        raise BadInput("ContractViolation", f"contract violation: {describe_validation_error(problem)}") from None
    except (ArithmeticError, ValueError, TypeError, RecursionError) as problem:
        raise BadInput("ContractViolation", f"contract violation: a value is out of range ({type(problem).__name__})") from None
    return str(envelope.id), envelope.data

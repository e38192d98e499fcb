"""The envelope of every event the services publish: CloudEvents 1.0, structured JSON mode."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class EventData(BaseModel):
    """Base of published payloads: frozen, camelCase on the wire, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="ignore")


DataT = TypeVar("DataT", bound=EventData)


class PublishedEvent(BaseModel, Generic[DataT]):
    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: str = "1.0"
    id: UUID
    source: str
    type: str
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    data: DataT


def encode_event(*, event_id: UUID, source: str, event_type: str, time: datetime, subject: str | None, data: EventData) -> bytes:
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(event_id),
        "source": source,
        "type": event_type,
        "time": time.isoformat(),
        "subject": subject,
        "datacontenttype": "application/json",
    }
    # The data as pydantic-core writes it in one pass, spliced in as the envelope's last member.
    return orjson.dumps(envelope)[:-1] + b',"data":' + data.model_dump_json(by_alias=True).encode() + b"}"

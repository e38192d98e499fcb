"""Certificate events that arrive other than through the topic: over HTTP or from a backfill file.

Both entry points hold each event to the same contract the intake consumer does
(`parse_certificate_event`) and answer per event: a valid one goes to the certificate topic as it
was received, keyed by its certificateId; an invalid one goes to the certificate dead-letter topic
with the headers the consumer would have given it. ACCEPTED means "valid and acknowledged by the
broker"; whether it opens or changes a case, or is a duplicate or a conflicting re-sign, is for
the intake consumer to decide when it meets the stored certificates.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol

from aiokafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from shared.bad_input import BadInput, load_json
from shared.clock import Clock
from shared.contracts.certificates import parse_certificate_event
from shared.outbox import dead_letter_headers
from shared.settings import Topics

EntryPoint = Literal["http", "backfill"]

# A raw record as received (bytes, sent on unchanged) or a JSON value already parsed by the caller.
RawEvent = bytes | Any

# aiokafka refuses records over its max_request_size (1 MiB by default) before sending them; a
# record this large is refused here instead, with a reason, and its dead letter goes without value.
MAX_RECORD_BYTES = 1_000_000

# The identifiers echoed back to the caller are those of a sane event, not arbitrary text.
_MAX_ECHOED_ID_LENGTH = 200

_JSON_WHITESPACE = " \t\r\n"


class SubmissionStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class SubmissionOutcome(BaseModel):
    """What became of one submitted event; `index` is its position in what the caller sent."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, alias_generator=to_camel)

    index: int
    event_id: str | None = None
    certificate_id: str | None = None
    status: SubmissionStatus
    error_class: str | None = None
    reason: str | None = None


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge every record of a submission; none of it counts as accepted."""


class NotJsonArray(ValueError):
    """The text is not a JSON array; what came before the problem may have been read already."""


class RecordSender(Protocol):
    """The part of `AIOKafkaProducer` a submitter uses: `send` schedules, the future it returns acks."""

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, **options: Any) -> Any: ...


@dataclass(frozen=True)
class _Classified:
    outcome: SubmissionOutcome
    value: bytes


def _as_bytes(raw: RawEvent) -> bytes | None:
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw)
    try:
        return json.dumps(raw, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError):
        # ValueError covers text that UTF-8 cannot carry (a lone surrogate) as well as NaN.
        return None


def _echoable(value: Any) -> str | None:
    # Only printable text goes back: a NUL or a lone surrogate would not survive the answer's encoding.
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_ECHOED_ID_LENGTH and value.isprintable() else None


def _readable_ids(value: bytes) -> tuple[str | None, str | None]:
    """The event id and certificate id of a rejected event, when it has them in the expected places."""
    try:
        document = load_json(value)
    except BadInput:
        return None, None
    if not isinstance(document, dict):
        return None, None
    data = document.get("data")
    certificate_id = _echoable(data.get("certificateId")) if isinstance(data, dict) else None
    return _echoable(document.get("id")), certificate_id


def classify_certificate_event(index: int, raw: RawEvent, *, max_record_bytes: int = MAX_RECORD_BYTES) -> tuple[SubmissionOutcome, bytes]:
    """ACCEPTED or REJECTED (with the consumer's error class and reason), and the bytes to send."""
    value = _as_bytes(raw)
    if value is None:
        rejected = SubmissionOutcome(
            index=index, status=SubmissionStatus.REJECTED, error_class="NotJson", reason="not valid JSON (not a JSON value)"
        )
        return rejected, b""
    if len(value) > max_record_bytes:
        event_id, certificate_id = _readable_ids(value)
        rejected = SubmissionOutcome(
            index=index, event_id=event_id, certificate_id=certificate_id, status=SubmissionStatus.REJECTED,
            error_class="RecordTooLarge", reason=f"the event is {len(value)} bytes; at most {max_record_bytes} fit in one record",
        )
        return rejected, value
    try:
        event = parse_certificate_event(value)
    except BadInput as bad:
        return _rejected(index, value, bad), value
    except (RecursionError, ValueError, ArithmeticError, UnicodeError) as problem:
        # The contract check classifies bad input itself; this keeps one hostile event from taking
        # a whole submission down should a new kind of input get past it.
        return _rejected(index, value, unexpected_bad_input(problem)), value
    accepted = SubmissionOutcome(
        index=index, event_id=event.id, certificate_id=event.data.certificate_id, status=SubmissionStatus.ACCEPTED
    )
    return accepted, value


def unexpected_bad_input(problem: BaseException) -> BadInput:
    """An exception the contract check let through, as bad input with a reason that names no value."""
    if isinstance(problem, RecursionError):
        return BadInput("NotJson", "not valid JSON: nested too deeply")
    if isinstance(problem, UnicodeError):
        return BadInput("NotJson", "not valid JSON: text that UTF-8 cannot carry")
    if isinstance(problem, ArithmeticError):
        return BadInput("ContractViolation", f"contract violation: a value is out of range ({type(problem).__name__})")
    return BadInput("ContractViolation", f"contract violation: a value cannot be read ({type(problem).__name__})")


def _rejected(index: int, value: bytes, bad: BadInput) -> SubmissionOutcome:
    event_id, certificate_id = _readable_ids(value)
    return SubmissionOutcome(
        index=index, event_id=event_id, certificate_id=certificate_id, status=SubmissionStatus.REJECTED,
        error_class=bad.error_class, reason=bad.reason,
    )


class CertificateSubmitter:
    """Validates certificate events and sends them on, valid ones to the topic, the others to its DLQ."""

    def __init__(
        self,
        sender: RecordSender,
        *,
        topics: Topics,
        entry_point: EntryPoint,
        clock: Clock,
        send_timeout_seconds: float = 30.0,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ) -> None:
        self._sender = sender
        self._certificates_topic = topics.name(topics.certificates)
        self._dead_letter_topic = topics.dead_letter(topics.certificates)
        self._entry_point = entry_point
        self._clock = clock
        self._send_timeout_seconds = send_timeout_seconds
        self._max_record_bytes = max_record_bytes

    @property
    def certificates_topic(self) -> str:
        return self._certificates_topic

    @property
    def dead_letter_topic(self) -> str:
        return self._dead_letter_topic

    async def submit(self, events: Sequence[RawEvent], *, indexes: Sequence[int] | None = None) -> list[SubmissionOutcome]:
        """Send every event on; returns only once the broker acknowledged all of them.

        `indexes` numbers the events for the outcomes (default 0, 1, ...). Raises
        `BrokerUnavailable` when the broker did not acknowledge them all in time: some may have
        reached the topic even so, which is harmless because intake skips events it has seen.
        """
        positions = list(indexes) if indexes is not None else list(range(len(events)))
        if len(positions) != len(events):
            raise ValueError("one index per event")
        classified = [
            classify_certificate_event(index, raw, max_record_bytes=self._max_record_bytes)
            for index, raw in zip(positions, events, strict=True)
        ]
        await self._send_all([self._record_for(outcome, value) for outcome, value in classified])
        return [outcome for outcome, _ in classified]

    async def dead_letter_unreadable(self, body: bytes, *, error_class: str, reason: str) -> None:
        """Dead-letter a whole submission that could not be split into events, so nothing is lost."""
        value = body if len(body) <= self._max_record_bytes else b""
        await self._send_all([(self._dead_letter_topic, None, value, self._dead_letter_headers(error_class, reason, len(body)))])

    def _record_for(self, outcome: SubmissionOutcome, value: bytes) -> tuple[str, bytes | None, bytes, dict[str, str]]:
        key = outcome.certificate_id.encode() if outcome.certificate_id is not None else None
        if outcome.status is SubmissionStatus.ACCEPTED:
            return self._certificates_topic, key, value, {"x-entry-point": self._entry_point}
        assert outcome.error_class is not None and outcome.reason is not None
        # A value too large for one record cannot be kept; its dead letter says so and how large it was.
        kept = value if len(value) <= self._max_record_bytes else b""
        return self._dead_letter_topic, key, kept, self._dead_letter_headers(outcome.error_class, outcome.reason, len(value))

    def _dead_letter_headers(self, error_class: str, reason: str, size: int) -> dict[str, str]:
        headers = dead_letter_headers(
            original_topic=self._certificates_topic,
            error_class=error_class,
            reason=reason,
            failed_at=self._clock.now(),
            entry_point=self._entry_point,
        )
        if size > self._max_record_bytes:
            headers["x-original-size"] = str(size)
        return headers

    async def _send_all(self, records: list[tuple[str, bytes | None, bytes, dict[str, str]]]) -> None:
        # All sends are scheduled first so the producer batches them; then every ack is awaited.
        try:
            async with asyncio.timeout(self._send_timeout_seconds):
                deliveries = [
                    await self._sender.send(
                        topic, value=value, key=key, headers=[(name, item.encode()) for name, item in headers.items()]
                    )
                    for topic, key, value, headers in records
                ]
                acknowledgements = await asyncio.gather(*deliveries, return_exceptions=True)
        except (KafkaError, OSError, TimeoutError) as problem:
            raise BrokerUnavailable(f"the broker did not take the records ({type(problem).__name__})") from problem
        for acknowledgement in acknowledgements:
            if isinstance(acknowledgement, BaseException):
                raise BrokerUnavailable(f"the broker did not acknowledge a record ({type(acknowledgement).__name__})") from acknowledgement


def split_ndjson(body: bytes) -> list[bytes]:
    """The non-blank lines of an NDJSON body, each as it was sent (without its line ending)."""
    return [line.rstrip(b"\r") for line in body.split(b"\n") if line.strip()]


_JSON_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.DOTALL)


def _element_end(text: str, start: int) -> int | None:
    """Where the JSON element at `start` ends, found by brackets and strings alone (no recursion).

    None when the element does not end within `text`.
    """
    depth = 0
    for match in _JSON_STRUCTURE.finditer(text, start):
        token = match.group()
        if token in "[{":
            depth += 1
        elif token in "]}" and depth > 0:
            depth -= 1
            if depth == 0:
                return match.end()
        elif depth > 0:
            continue  # a comma or a string inside the element
        elif token in "]},":
            # The enclosing array goes on or ends: a bare value ends before it.
            return len(text[start : match.start()].rstrip(_JSON_WHITESPACE)) + start
        elif depth == 0:
            return match.end()  # a string on its own
    return None


def iter_json_array(chunks: Iterable[str], *, max_element_chars: int = 16 * MAX_RECORD_BYTES) -> Iterator[str]:
    """The elements of a JSON array, each as its exact source text, reading `chunks` only as needed.

    Lets a large array file stream through in constant memory. Raises `NotJsonArray` when the
    text stops being a JSON array; the elements before the problem have been yielded by then.
    """
    source = iter(chunks)
    buffer = ""
    position = 0
    exhausted = False
    decoder = json.JSONDecoder()

    def read_more() -> bool:
        nonlocal buffer, position, exhausted
        if exhausted:
            return False
        for chunk in source:
            if chunk:
                buffer = buffer[position:] + chunk
                position = 0
                return True
        exhausted = True
        return False

    def next_significant() -> str:
        """The next non-whitespace character (not consumed), or '' at the end of the text."""
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in _JSON_WHITESPACE:
                position += 1
            if position < len(buffer):
                return buffer[position]
            if not read_more():
                return ""

    if next_significant() != "[":
        raise NotJsonArray("the text does not start with '['")
    position += 1
    index = 0
    if next_significant() == "]":
        position += 1
    else:
        while True:
            if next_significant() == "":
                raise NotJsonArray(f"the array ends before element {index}")
            while True:
                try:
                    _, end = decoder.raw_decode(buffer, position)
                except json.JSONDecodeError:
                    end = None
                except (RecursionError, ValueError):
                    # JSON that Python will not decode (nested too deeply, a number too long) is
                    # cut out by its brackets alone, so it is rejected as one event on its own.
                    end = _element_end(buffer, position)
                # An element that reaches the end of what was read (a number above all) may go on
                # in the next chunk, so it counts only once more text or the end is there.
                if end is not None and (end < len(buffer) or exhausted):
                    break
                if len(buffer) - position > max_element_chars:
                    raise NotJsonArray(f"element {index} is not valid JSON or larger than {max_element_chars} characters")
                if not read_more():
                    if end is not None:
                        break
                    raise NotJsonArray(f"element {index} is not valid JSON")
            yield buffer[position:end]
            position = end
            index += 1
            separator = next_significant()
            position += 1
            if separator == "]":
                break
            if separator != ",":
                raise NotJsonArray(f"expected ',' or ']' after element {index - 1}")
    if next_significant() != "":
        raise NotJsonArray("there is text after the array")

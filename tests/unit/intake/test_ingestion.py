"""The entry points' submitter: every event answered for, valid ones queued, the others dead-lettered."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from reko.backfill import BackfillTally, UnreadableSource, backfill_events, read_source_events
from services.intake.ingestion import (
    BrokerUnavailable,
    CertificateSubmitter,
    NotJsonArray,
    SubmissionStatus,
    iter_json_array,
    split_ndjson,
)
from services.intake.ingestion_api import UnreadableBody, split_body
from shared.clock import FixedClock
from shared.outbox import dead_letter_headers
from shared.settings import Topics
from tests.support import MAN, WOMAN, revoked_event, signed_event

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
TOPICS = Topics(prefix="unit.")
CERTIFICATES = "unit.sickleave.certificates.v1"
DEAD_LETTERS = "unit.sickleave.certificates.v1.dlq"


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]


class RecordingSender:
    """Stands in for the producer: remembers each record and acknowledges it (or fails it)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[Sent] = []
        self.fail = fail

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, **options: Any) -> asyncio.Future[None]:
        self.sent.append(Sent(topic, key, value or b"", {name: item.decode() for name, item in options.get("headers", [])}))
        acknowledgement: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            acknowledgement.set_exception(ConnectionResetError("the broker went away"))
        else:
            acknowledgement.set_result(None)
        return acknowledgement


def submitter(sender: RecordingSender, entry_point: str = "http") -> CertificateSubmitter:
    return CertificateSubmitter(sender, topics=TOPICS, entry_point=entry_point, clock=FixedClock(NOW))  # type: ignore[arg-type]  # why: a recording sender stands in for the producer


def encoded(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def signed(event_id: str, certificate_id: str, person_id: str = WOMAN, **extra: Any) -> dict[str, Any]:
    return signed_event(
        event_id, certificate_id, person_id=person_id, periods=[("2026-03-02", "2026-03-15", 100)],
        signed_at="2026-03-02T09:00:00+01:00", **extra,
    )


def mixed_events() -> list[Any]:
    contract_violation = signed("e-violation", "c-violation")
    contract_violation["data"]["workCapacityPeriods"][0]["reductionPercent"] = 30
    unknown_type = {**signed("e-unknown", "c-unknown"), "type": "se.sickleave.certificate.amended.v1"}
    return [
        encoded(signed("e-signed", "c-1", person_id=MAN)),
        encoded(revoked_event("e-revoked", "c-1", revoked_at="2026-03-03T10:00:00+01:00")),
        b"{this is not json",
        encoded({"hello": "world"}),
        encoded(unknown_type),
        encoded(contract_violation),
        encoded(signed("e-bad-person", "c-bad-person", person_id="198001249287")),
        signed("e-parsed", "c-parsed"),
    ]


async def test_a_mixed_submission_is_answered_event_by_event():
    sender = RecordingSender()

    outcomes = await submitter(sender).submit(mixed_events())

    assert [(o.index, o.status, o.error_class) for o in outcomes] == [
        (0, SubmissionStatus.ACCEPTED, None),
        (1, SubmissionStatus.ACCEPTED, None),
        (2, SubmissionStatus.REJECTED, "NotJson"),
        (3, SubmissionStatus.REJECTED, "NotCloudEvent"),
        (4, SubmissionStatus.REJECTED, "UnknownEventType"),
        (5, SubmissionStatus.REJECTED, "ContractViolation"),
        (6, SubmissionStatus.REJECTED, "InvalidPersonId"),
        (7, SubmissionStatus.ACCEPTED, None),
    ]
    assert [(o.event_id, o.certificate_id) for o in outcomes] == [
        ("e-signed", "c-1"), ("e-revoked", "c-1"), (None, None), (None, None), ("e-unknown", "c-unknown"),
        ("e-violation", "c-violation"), ("e-bad-person", "c-bad-person"), ("e-parsed", "c-parsed"),
    ]
    assert all(o.reason for o in outcomes if o.status is SubmissionStatus.REJECTED)


async def test_rejection_reasons_never_repeat_the_personnummer():
    outcomes = await submitter(RecordingSender()).submit(mixed_events())

    assert "198001249287" not in outcomes[6].reason
    assert "personId" in outcomes[6].reason


async def test_valid_events_go_to_the_topic_unchanged_keyed_by_certificate_id():
    sender = RecordingSender()
    events = mixed_events()

    await submitter(sender).submit(events)

    queued = [record for record in sender.sent if record.topic == CERTIFICATES]
    assert [(record.key, record.value) for record in queued[:2]] == [(b"c-1", events[0]), (b"c-1", events[1])]
    assert json.loads(queued[2].value) == events[7]
    assert all(record.headers == {"x-entry-point": "http"} for record in queued)


async def test_invalid_events_go_to_the_dead_letter_topic_with_the_consumers_headers():
    sender = RecordingSender()
    events = mixed_events()

    await submitter(sender, "backfill").submit(events, indexes=range(10, 18))

    dead_letters = [record for record in sender.sent if record.topic == DEAD_LETTERS]
    assert [record.value for record in dead_letters] == events[2:7]
    assert [record.headers["x-error-class"] for record in dead_letters] == [
        "NotJson", "NotCloudEvent", "UnknownEventType", "ContractViolation", "InvalidPersonId",
    ]
    first = dead_letters[0].headers
    assert first["x-original-topic"] == CERTIFICATES
    assert first["x-entry-point"] == "backfill"
    assert first["x-failed-at"] == NOW.isoformat()
    assert "x-original-partition" not in first and "x-original-offset" not in first
    assert dead_letters[3].key == b"c-violation"


async def test_an_event_too_large_for_one_record_is_rejected_and_dead_lettered_without_its_value():
    sender = RecordingSender()
    large = signed("e-large", "c-large", padding="x" * 2000)
    small_limit = CertificateSubmitter(sender, topics=TOPICS, entry_point="http", clock=FixedClock(NOW), max_record_bytes=1000)

    [outcome] = await small_limit.submit([encoded(large)])

    assert (outcome.status, outcome.error_class, outcome.certificate_id) == (SubmissionStatus.REJECTED, "RecordTooLarge", "c-large")
    [dead_letter] = sender.sent
    assert dead_letter.topic == DEAD_LETTERS and dead_letter.value == b""
    assert int(dead_letter.headers["x-original-size"]) > 1000


async def test_a_submission_the_broker_does_not_acknowledge_reports_nothing_accepted():
    with pytest.raises(BrokerUnavailable):
        await submitter(RecordingSender(fail=True)).submit(mixed_events())


def test_the_consumer_and_the_entry_points_share_the_dead_letter_headers():
    from_the_topic = dead_letter_headers(
        original_topic="in", partition=2, offset=41, original_headers={"ce_id": "e1"},
        error_class="NotJson", reason="not valid JSON", failed_at=NOW,
    )
    from_http = dead_letter_headers(original_topic="in", error_class="NotJson", reason="not valid JSON", failed_at=NOW, entry_point="http")

    assert list(from_the_topic) == [
        "x-original-header-ce_id", "x-original-topic", "x-original-partition", "x-original-offset",
        "x-error-class", "x-error-reason", "x-failed-at",
    ]
    assert from_http == {
        "x-original-topic": "in", "x-error-class": "NotJson", "x-error-reason": "not valid JSON",
        "x-failed-at": NOW.isoformat(), "x-entry-point": "http",
    }


# --- reading bodies and files --------------------------------------------------------------------


def test_a_json_array_yields_each_element_as_it_was_written_even_across_chunks():
    text = '[ {"id": "a",  "n": 1} ,\n{"id":"b"}, 12345 ]\n'
    for size in (1, 4, 1000):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        assert list(iter_json_array(chunks)) == ['{"id": "a",  "n": 1}', '{"id":"b"}', "12345"]


@pytest.mark.parametrize("text", ["", "{}", "[1,", "[1 2]", "[1,]", "[1] and more", '[{"a": 1}, {broken}]'])
def test_text_that_is_not_a_json_array_is_refused(text):
    with pytest.raises(NotJsonArray):
        list(iter_json_array([text]))


def test_an_array_element_python_cannot_decode_is_cut_out_by_its_brackets():
    deep = "[" * 5_000 + "]" * 5_000
    huge = '{"n": ' + "9" * 5_000 + ', "s": "],}"}'
    text = f'[1, {deep} , {huge}, {"9" * 5_000} ,"x"]'
    for size in (7, 100_000):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        assert list(iter_json_array(chunks)) == ["1", deep, huge, "9" * 5_000, '"x"']


@pytest.mark.parametrize(
    "body",
    [b"[" * 10_000 + b"]" * 10_000, b'{"a": ' * 10_000 + b"1" + b"}" * 10_000, b'{"id": ' + b"9" * 5_000 + b"}"],
    ids=["deep array", "deep object", "huge integer"],
)
def test_a_body_python_cannot_decode_is_still_one_event(body):
    assert split_body(b"[" + body + b"]", "application/json") == [body]
    if not body.startswith(b"["):
        assert split_body(body, "application/json") == [body]


@pytest.mark.parametrize(
    "problem", [RecursionError("secret"), OverflowError("secret"), ValueError("secret"), UnicodeEncodeError("utf-8", "secret", 0, 1, "secret")]
)
async def test_an_exception_the_contract_check_lets_through_rejects_only_its_own_event(monkeypatch, problem):
    from services.intake import ingestion

    real = ingestion.parse_certificate_event

    def fragile(value: bytes | None) -> Any:
        if b"e-fragile" in (value or b""):
            raise problem
        return real(value)

    monkeypatch.setattr(ingestion, "parse_certificate_event", fragile)
    sender = RecordingSender()

    outcomes = await submitter(sender).submit([encoded(signed("e-1", "c-1")), encoded(signed("e-fragile", "c-2")), encoded(signed("e-3", "c-3"))])

    assert [(o.status, o.event_id) for o in outcomes] == [
        (SubmissionStatus.ACCEPTED, "e-1"), (SubmissionStatus.REJECTED, "e-fragile"), (SubmissionStatus.ACCEPTED, "e-3"),
    ]
    assert outcomes[1].error_class in {"NotJson", "ContractViolation"}
    assert "secret" not in (outcomes[1].reason or "")
    assert [record.topic for record in sender.sent] == [CERTIFICATES, DEAD_LETTERS, CERTIFICATES]


async def test_an_event_whose_text_cannot_be_echoed_is_answered_without_its_ids():
    nul = encoded({**signed("e-\u0000", "c-1")})
    surrogate = encoded(signed("e-2", "SURROGATE")).replace(b"SURROGATE", b"\\ud800")

    outcomes = await submitter(RecordingSender()).submit([nul, surrogate])

    assert [(o.status, o.event_id, o.certificate_id) for o in outcomes] == [
        (SubmissionStatus.REJECTED, None, None), (SubmissionStatus.REJECTED, None, None),
    ]


def test_an_ndjson_body_is_its_non_blank_lines():
    assert split_ndjson(b'{"a":1}\r\n\n  \n{"b":2}\nnot json\n') == [b'{"a":1}', b'{"b":2}', b"not json"]


def test_a_body_is_one_event_an_array_of_events_or_ndjson_lines():
    assert split_body(b' {"a": 1}\n', "application/json") == [b'{"a": 1}']
    assert split_body('[{"å": 1}, {"b": 2}]'.encode(), "application/json") == ['{"å": 1}'.encode(), b'{"b": 2}']
    assert split_body(b'{"a": 1}\n{"b": 2}\n', "application/x-ndjson") == [b'{"a": 1}', b'{"b": 2}']


@pytest.mark.parametrize("body", [b"", b"   ", b"not json", b'{"a": 1}\n{"b": 2}', b"[1, 2", b"\xff\xfe{}"])
def test_a_body_that_is_not_json_at_all_is_unreadable(body):
    with pytest.raises(UnreadableBody):
        split_body(body, "application/json")


def test_a_jsonl_file_yields_its_lines_with_their_line_numbers():
    stream = io.BytesIO(b'\n{"a":1}\r\n\nnot json\n{"b":2}')

    events = list(read_source_events(stream))

    assert [(event.index, event.line, event.raw) for event in events] == [(0, 2, b'{"a":1}'), (1, 4, b"not json"), (2, 5, b'{"b":2}')]


def test_a_json_array_file_yields_its_elements():
    stream = io.BytesIO(b'\n [{"a":1},\n {"b":2}]\n')

    assert [(event.index, event.line, event.raw) for event in read_source_events(stream)] == [(0, None, b'{"a":1}'), (1, None, b'{"b":2}')]


def test_a_json_array_file_that_breaks_off_is_unreadable_after_its_good_elements():
    events = read_source_events(io.BytesIO(b'[{"a":1}, {"b":'))

    assert next(events).raw == b'{"a":1}'
    with pytest.raises(UnreadableSource):
        next(events)


async def test_a_backfill_sends_in_chunks_and_lists_the_rejected_without_their_content():
    sender = RecordingSender()
    lines = [encoded(signed(f"e-{n}", f"c-{n}")) for n in range(7)]
    lines[3] = encoded(signed("e-3", "c-3", person_id="198001249287"))
    rejects = io.StringIO()
    seen: list[int] = []

    result = await backfill_events(
        read_source_events(io.BytesIO(b"\n".join(lines))), submitter(sender, "backfill"), chunk_size=3, rejects=rejects,
        on_progress=lambda tally: seen.append(tally.done),
    )

    assert (result.exit_code, result.tally.accepted, dict(result.tally.rejected_by_class)) == (0, 6, {"InvalidPersonId": 1})
    assert seen == [3, 6, 7]
    [listed] = [json.loads(line) for line in rejects.getvalue().splitlines()]
    assert (listed["index"], listed["line"], listed["errorClass"]) == (3, 4, "InvalidPersonId")
    assert "198001249287" not in rejects.getvalue()


async def test_a_backfill_stops_at_the_first_chunk_the_broker_does_not_acknowledge():
    result = await backfill_events(
        read_source_events(io.BytesIO(encoded(signed("e-1", "c-1")))), submitter(RecordingSender(fail=True), "backfill")
    )

    assert result.exit_code != 0 and result.problem
    assert result.tally == BackfillTally()

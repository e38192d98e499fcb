"""The other entry points against the real broker: `POST /certificate-events` and `reko backfill`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from reko.backfill import backfill_file
from reko.cli import app as cli
from reko.embedded import free_port
from reko.feed import FeedSettings, generate_feed, write_jsonl
from services.intake.app import MIGRATIONS
from services.intake.ingestion_api import ingestion_router
from services.intake.settings import IntakeSettings
from shared.http_errors import install_error_answers
from shared.kafka import ensure_topics
from shared.service import ServiceRuntime
from shared.settings import Topics
from tests.support import MAN, WOMAN, Record, read_topic, revoked_event, signed_event

pytestmark = pytest.mark.integration

PERSONNUMMER_SHAPED = re.compile(r"(?<!\d)(\d{6}|\d{8})[-+]?\d{4}(?!\d)")


def topics_for(unique_name: str) -> Topics:
    return Topics(prefix=f"{unique_name}.")


def certificates_topic(topics: Topics) -> str:
    return topics.name(topics.certificates)


def dead_letter_topic(topics: Topics) -> str:
    return topics.dead_letter(topics.certificates)


def ingestion_app(bootstrap_servers: str, topics: Topics, **limits: Any) -> FastAPI:
    """Just the entry point, on a runtime that is never started (no database needed)."""
    settings = IntakeSettings(
        kafka_bootstrap_servers=bootstrap_servers,
        topics=topics,
        pseudonym_key="not-used-here",
        **limits,  # type: ignore[arg-type]  # why: pydantic coerces the plain secret and the limits
    )
    runtime = ServiceRuntime("intake", settings, MIGRATIONS, description="intake entry point under test")
    app = FastAPI()
    install_error_answers(app)
    app.include_router(ingestion_router(runtime, settings))
    return app


@contextlib.asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # The router's lifespan stops its producer; httpx's ASGI transport does not run lifespans.
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        yield client


def signed(number: int, person_id: str = WOMAN) -> dict[str, Any]:
    return signed_event(
        f"e-{number}",
        f"c-{number}",
        person_id=person_id,
        periods=[("2026-03-02", "2026-03-15", 100)],
        signed_at="2026-03-02T09:00:00+01:00",
    )


def encoded(event: Any) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def bad_events() -> list[bytes]:
    """JSON, so they can sit in an array, but not valid certificate events."""
    violation = signed(90)
    violation["data"]["occupations"] = []
    return [encoded({"hello": "world"}), encoded({**signed(91), "type": "se.sickleave.certificate.amended.v1"}), encoded(violation)]


async def read(bootstrap_servers: str, topic: str) -> list[Record]:
    return await read_topic(bootstrap_servers, topic)


# --- HTTP ----------------------------------------------------------------------------------------


async def test_a_batch_is_answered_by_index_valid_events_queued_unchanged_and_bad_ones_dead_lettered(kafka_bootstrap, unique_name):
    topics = topics_for(unique_name)
    valid = [
        encoded(signed(1)),
        encoded(signed(2, MAN)),
        encoded(revoked_event("e-3", "c-1", revoked_at="2026-03-04T10:00:00+01:00")),
        encoded(signed(4)),
        encoded(signed(5)),
    ]
    bad = bad_events()
    sent = [valid[0], bad[0], valid[1], valid[2], bad[1], valid[3], bad[2], valid[4]]
    body = b"[" + b",\n ".join(sent) + b"]"

    async with client_of(ingestion_app(kafka_bootstrap, topics)) as client:
        response = await client.post("/certificate-events", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 200
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (5, 3)
    assert [(item["index"], item["status"], item.get("errorClass")) for item in answer["results"]] == [
        (0, "ACCEPTED", None),
        (1, "REJECTED", "NotCloudEvent"),
        (2, "ACCEPTED", None),
        (3, "ACCEPTED", None),
        (4, "REJECTED", "UnknownEventType"),
        (5, "ACCEPTED", None),
        (6, "REJECTED", "ContractViolation"),
        (7, "ACCEPTED", None),
    ]
    assert answer["results"][0]["certificateId"] == "c-1" and answer["results"][0]["eventId"] == "e-1"

    queued = await read(kafka_bootstrap, certificates_topic(topics))
    assert sorted((record.key, record.value) for record in queued) == sorted(
        (json.loads(value)["data"]["certificateId"].encode(), value) for value in valid
    )
    dead_letters = await read(kafka_bootstrap, dead_letter_topic(topics))
    assert sorted(record.value for record in dead_letters) == sorted(bad)
    for record in dead_letters:
        assert record.headers["x-error-class"] in {"NotCloudEvent", "UnknownEventType", "ContractViolation"}
        assert record.headers["x-error-reason"]
        assert record.headers["x-original-topic"] == certificates_topic(topics)
        assert record.headers["x-entry-point"] == "http"


def with_data(number: int, **fields: Any) -> dict[str, Any]:
    event = signed(number)
    event["data"].update(fields)
    return event


# Each is JSON text (so it can sit in an array or on an NDJSON line) that no certificate event may be.
HOSTILE_EVENTS: dict[str, bytes] = {
    "nested 10,000 levels": b"[" * 10_000 + b"]" * 10_000,
    "an object nested 10,000 levels": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "a 5,000-digit integer": encoded({**signed(80), "id": 0}).replace(b'"id": 0', b'"id": ' + b"9" * 5_000),
    "a 5,000-digit integer in the data": encoded(with_data(81, testCertificate=0)).replace(
        b'"testCertificate": 0', b'"testCertificate": ' + b"7" * 5_000
    ),
    "a lone surrogate escape in the id": encoded({**signed(82), "id": "SURROGATE"}).replace(b"SURROGATE", b"\\ud800"),
    "a lone surrogate escape in the certificate id": encoded(with_data(83, certificateId="SURROGATE")).replace(b"SURROGATE", b"\\udfff"),
    "signed in the year 9999": encoded(with_data(84, signedAt="9999-12-31T23:59:59Z")),
    "a period ending in the year 9999": encoded(
        with_data(85, workCapacityPeriods=[{"reductionPercent": 100, "from": "2026-03-02", "to": "9999-12-31"}])
    ),
    "an event time in the year 9999": encoded({**signed(86), "time": "9999-12-31T23:59:59Z"}),
    "a year 0001 time": encoded({**signed(87), "time": "0001-01-01T00:00:00+01:00"}),
    # json.dumps writes the NUL as the escape \u0000, which is how a source would send it.
    "a NUL in the id": encoded({**signed(88), "id": "e-\u0000"}),
    "a NUL in the unit's name": encoded(
        with_data(89, issuer={"doctorHsaId": "d", "careUnit": {"hsaId": "u", "name": "a\u0000b"}, "careProvider": {"hsaId": "p"}})
    ),
    "a personnummer where a number belongs": encoded(with_data(90, testCertificate="19800124-9286")),
}


@pytest.mark.parametrize("media_type", ["application/json", "application/x-ndjson"])
async def test_hostile_events_are_each_rejected_on_their_own_and_the_good_ones_still_go(kafka_bootstrap, unique_name, media_type):
    topics = topics_for(unique_name)
    good = [encoded(signed(1)), encoded(signed(2, MAN))]
    sent = [good[0], *HOSTILE_EVENTS.values(), good[1]]
    body = b"[" + b",\n".join(sent) + b"]" if media_type == "application/json" else b"\n".join(sent) + b"\n"

    async with client_of(ingestion_app(kafka_bootstrap, topics)) as client:
        response = await client.post("/certificate-events", content=body, headers={"content-type": media_type})

    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (2, len(HOSTILE_EVENTS))
    statuses = {item["index"]: item["status"] for item in answer["results"]}
    assert statuses == {0: "ACCEPTED", **dict.fromkeys(range(1, len(sent) - 1), "REJECTED"), len(sent) - 1: "ACCEPTED"}
    for item, kind in zip(answer["results"][1:-1], HOSTILE_EVENTS, strict=True):
        assert item["errorClass"] in {"NotJson", "NotCloudEvent", "ContractViolation"}, kind
        assert item["reason"], kind
    assert "8001249286" not in response.text
    assert sorted(record.value for record in await read(kafka_bootstrap, certificates_topic(topics))) == sorted(good)
    assert len(await read(kafka_bootstrap, dead_letter_topic(topics))) == len(HOSTILE_EVENTS)


@pytest.mark.parametrize("kind", list(HOSTILE_EVENTS))
async def test_a_hostile_event_sent_alone_is_one_rejected_event(kafka_bootstrap, unique_name, kind):
    topics = topics_for(unique_name)

    async with client_of(ingestion_app(kafka_bootstrap, topics)) as client:
        response = await client.post("/certificate-events", content=HOSTILE_EVENTS[kind], headers={"content-type": "application/json"})

    assert response.status_code == 200, response.text
    assert [(item["index"], item["status"]) for item in response.json()["results"]] == [(0, "REJECTED")]


async def test_a_single_event_body_is_one_event(kafka_bootstrap, unique_name):
    topics = topics_for(unique_name)
    event = encoded(signed(1))

    async with client_of(ingestion_app(kafka_bootstrap, topics)) as client:
        response = await client.post("/certificate-events", content=event, headers={"content-type": "application/cloudevents+json"})

    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "rejected": 0,
        "results": [{"index": 0, "eventId": "e-1", "certificateId": "c-1", "status": "ACCEPTED"}],
    }
    [record] = await read(kafka_bootstrap, certificates_topic(topics))
    assert (record.key, record.value) == (b"c-1", event)


async def test_an_ndjson_body_is_one_event_per_line(kafka_bootstrap, unique_name):
    topics = topics_for(unique_name)
    lines = [encoded(signed(1)), b"not json", encoded(signed(2))]

    async with client_of(ingestion_app(kafka_bootstrap, topics)) as client:
        response = await client.post("/certificate-events", content=b"\n".join(lines) + b"\n", headers={"content-type": "application/x-ndjson"})

    assert response.status_code == 200
    assert [(item["index"], item["status"]) for item in response.json()["results"]] == [(0, "ACCEPTED"), (1, "REJECTED"), (2, "ACCEPTED")]
    assert sorted(record.value for record in await read(kafka_bootstrap, certificates_topic(topics))) == sorted([lines[0], lines[2]])
    [dead_letter] = await read(kafka_bootstrap, dead_letter_topic(topics))
    assert (dead_letter.value, dead_letter.headers["x-error-class"]) == (b"not json", "NotJson")


async def test_a_body_that_is_not_json_is_refused_with_400_and_still_dead_lettered(kafka_bootstrap, unique_name):
    topics = topics_for(unique_name)
    body = b"personId=198001249286&certificate=c-1"

    async with client_of(ingestion_app(kafka_bootstrap, topics)) as client:
        response = await client.post("/certificate-events", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json()["deadLettered"] is True
    assert "198001249286" not in response.text
    assert await read(kafka_bootstrap, certificates_topic(topics)) == []
    [dead_letter] = await read(kafka_bootstrap, dead_letter_topic(topics))
    assert dead_letter.value == body
    assert dead_letter.headers["x-error-class"] == "NotJson"
    assert dead_letter.headers["x-entry-point"] == "http"


async def test_too_many_events_or_bytes_are_refused_with_413_and_nothing_is_sent(kafka_bootstrap, unique_name):
    topics = topics_for(unique_name)
    await ensure_topics(kafka_bootstrap, [certificates_topic(topics), dead_letter_topic(topics)])
    four = b"[" + b",".join(encoded(signed(number)) for number in range(4)) + b"]"

    async with client_of(ingestion_app(kafka_bootstrap, topics, ingestion_max_events=3, ingestion_max_body_bytes=4096)) as client:
        too_many = await client.post("/certificate-events", content=four)
        too_large = await client.post("/certificate-events", content=b"[" + b" " * 5000 + b"]")

    assert too_many.status_code == 413 and "högst 3" in too_many.json()["detail"]
    assert too_large.status_code == 413 and "4096 byte" in too_large.json()["detail"]
    assert await read(kafka_bootstrap, certificates_topic(topics)) == []
    assert await read(kafka_bootstrap, dead_letter_topic(topics)) == []


async def test_an_unreachable_broker_is_answered_with_503_and_nothing_accepted(unique_name):
    nowhere = f"127.0.0.1:{free_port()}"

    async with client_of(ingestion_app(nowhere, topics_for(unique_name), ingestion_send_timeout_seconds=3)) as client:
        response = await client.post("/certificate-events", content=encoded(signed(1)))

    assert response.status_code == 503
    assert "accepted" not in response.json()
    assert response.headers["retry-after"]


# --- backfill ------------------------------------------------------------------------------------


def feed_file_with_bad_lines(path: Path) -> tuple[int, list[str]]:
    """About 300 generated events with three bad lines among them; returns the valid count and the person ids."""
    events = generate_feed(FeedSettings(seed=5, patients=150))
    write_jsonl(events, path)
    lines = path.read_bytes().splitlines()
    lines[10:10] = [b"{broken"]
    lines[100:100] = [encoded({"specversion": "1.0", "id": "x"})]
    lines[200:200] = [encoded(signed(999, person_id="198001249287"))]
    path.write_bytes(b"\n".join(lines) + b"\n")
    person_ids = [event["data"]["patient"]["personId"] for event in events if "patient" in event["data"]]
    return len(events), person_ids


async def test_a_backfill_sends_every_valid_line_to_the_topic_and_the_bad_ones_to_the_dead_letter_topic(kafka_bootstrap, unique_name, tmp_path):
    topics = topics_for(unique_name)
    valid_count, _ = feed_file_with_bad_lines(tmp_path / "feed.jsonl")

    with (tmp_path / "feed.jsonl").open("rb") as stream:
        result = await backfill_file(stream, bootstrap_servers=kafka_bootstrap, topics=topics, chunk_size=64)

    assert result.exit_code == 0 and result.problem is None
    assert (result.tally.accepted, dict(result.tally.rejected_by_class)) == (valid_count, {"NotJson": 1, "NotCloudEvent": 1, "InvalidPersonId": 1})
    assert len(await read(kafka_bootstrap, certificates_topic(topics))) == valid_count
    dead_letters = await read(kafka_bootstrap, dead_letter_topic(topics))
    assert sorted(record.headers["x-error-class"] for record in dead_letters) == ["InvalidPersonId", "NotCloudEvent", "NotJson"]
    assert {record.headers["x-entry-point"] for record in dead_letters} == {"backfill"}


def test_the_backfill_command_prints_a_summary_without_any_personnummer(kafka_bootstrap, unique_name, tmp_path):
    topics = topics_for(unique_name)
    valid_count, person_ids = feed_file_with_bad_lines(tmp_path / "feed.jsonl")
    rejects = tmp_path / "rejects.jsonl"

    outcome = CliRunner().invoke(
        cli,
        [
            "backfill",
            str(tmp_path / "feed.jsonl"),
            "--bootstrap-servers",
            kafka_bootstrap,
            "--topic-prefix",
            topics.prefix,
            "--state-file",
            str(tmp_path / "no-stack.json"),
            "--rejects",
            str(rejects),
        ],
    )

    assert outcome.exit_code == 0, outcome.output
    assert "accepted" in outcome.output and "InvalidPersonId" in outcome.output
    assert f"{valid_count} sent to {certificates_topic(topics)}" in outcome.output.replace(",", "")
    listed = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(item["line"], item["errorClass"]) for item in listed] == [(11, "NotJson"), (101, "NotCloudEvent"), (201, "InvalidPersonId")]
    for text in (outcome.output, rejects.read_text()):
        assert not any(person_id in text for person_id in [*person_ids, "198001249287"])
        assert not PERSONNUMMER_SHAPED.search(text)
    assert len(asyncio.run(read(kafka_bootstrap, certificates_topic(topics)))) == valid_count


def test_the_backfill_command_fails_when_the_broker_is_unreachable(tmp_path):
    (tmp_path / "feed.jsonl").write_bytes(encoded(signed(1)) + b"\n")

    outcome = CliRunner().invoke(
        cli,
        [
            "backfill",
            str(tmp_path / "feed.jsonl"),
            "--bootstrap-servers",
            f"127.0.0.1:{free_port()}",
            "--state-file",
            str(tmp_path / "no-stack.json"),
        ],
    )

    assert outcome.exit_code != 0
    assert "not reachable" in outcome.output

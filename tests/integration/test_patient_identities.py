"""The identity path against the real broker and database: intake publishes who a patient is, encrypted,
on a compacted topic; notifications keeps it encrypted and names the patient only for a page."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from cryptography.fernet import Fernet

from services.intake.app import MIGRATIONS as INTAKE_MIGRATIONS
from services.intake.handlers import CertificateIntake, decode_certificate_record
from services.intake.settings import IntakeSettings
from services.notifications import identity_store
from services.notifications.app import MIGRATIONS as NOTIFICATIONS_MIGRATIONS
from services.notifications.identity_consumer import IdentityKeeper, decode_identity_record
from shared.clock import FixedClock
from shared.consumer import BatchConsumer
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.identity_crypto import IdentityCipher
from shared.kafka import ensure_topics, start_producer
from shared.logging import UUID_SHAPE
from shared.metrics import ServiceMetrics
from shared.outbox import OutboxRelay
from shared.personnummer import InvalidPersonnummer, parse_personnummer
from shared.settings import ServiceSettings, Topics
from tests.support import MAN, WOMAN, Record, read_topic, signed_event

pytestmark = pytest.mark.integration

CLOCK = FixedClock(datetime(2026, 3, 15, 12, tzinfo=UTC))
TRANSPORT_KEY = Fernet.generate_key()
STORAGE_KEY = Fernet.generate_key()


def shapes_of(person_id: str) -> list[bytes]:
    """Every way the number could be written: twelve digits, ten, with a separator."""
    return [form.encode() for form in (person_id, person_id[2:], f"{person_id[:8]}-{person_id[8:]}", f"{person_id[2:8]}-{person_id[8:]}")]


PERSONNUMMER_SHAPED = re.compile(rb"(?<!\d)(\d{6}|\d{8})[-+]?\d{4}(?!\d)")


FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_=-]+")


# An event id is a random UUID: its last twelve hex digits may hold a run of ten digits that passes for
# a personnummer ("9910288647" once, in CI), so ids are left out of the search, as the logs' check does.
UUID = re.compile(UUID_SHAPE.pattern.encode())


def valid_personnummer_in(raw: bytes) -> list[str]:
    """Digit runs shaped like a personnummer that are one (date and check digit), outside UUIDs; a hex pseudonym may hold a run by chance."""
    found = []
    for match in PERSONNUMMER_SHAPED.finditer(UUID.sub(b"", raw)):
        with contextlib.suppress(InvalidPersonnummer):
            parse_personnummer(match.group().decode(), on=date(2026, 12, 31))
            found.append(match.group().decode())
    return found


def as_record(topic: str, offset: int, value: bytes, key: bytes | None = None) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value),
        headers=[],
    )


def from_broker(record: Record) -> ConsumerRecord:
    return as_record(record.topic, record.offset, record.value or b"", record.key)


@pytest.fixture
async def pools(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    intake = await create_pool(database_url, "intake", size=2)
    notifications = await create_pool(database_url, "notifications", size=2)
    await migrate(intake, "intake", PLATFORM_MIGRATIONS, INTAKE_MIGRATIONS)
    await migrate(notifications, "notifications", PLATFORM_MIGRATIONS, NOTIFICATIONS_MIGRATIONS)
    yield intake, notifications
    await intake.close()
    await notifications.close()


def consumer(name: str, pool: asyncpg.Pool, decode: Any, apply: Any, topic: str) -> BatchConsumer[Any]:
    return BatchConsumer(
        name=name,
        pool=pool,
        decode=decode,
        apply=apply,
        dead_letter_topic=f"{topic}.dlq",
        outbox_source=f"urn:reko:{name}",
        clock=CLOCK,
        metrics=ServiceMetrics(name),
    )


async def relay_until_drained(pool: asyncpg.Pool, kafka_bootstrap: str) -> None:
    relay = OutboxRelay(pool, lambda: start_producer(ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)), ServiceMetrics("relay"))
    running = asyncio.create_task(relay.run())
    try:
        for _ in range(200):
            if await pool.fetchval("SELECT count(*) FROM outbox_pending") == 0:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the outbox was not drained")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


def certificate(number: int, person_id: str, *, protected: bool = False, month: int = 3) -> bytes:
    event = signed_event(
        f"e-{number}",
        f"c-{number}",
        person_id=person_id,
        periods=[(f"2026-{month:02d}-01", f"2026-{month:02d}-20", 100)],
        signed_at=f"2026-{month:02d}-01T09:00:00+01:00",
    )
    event["data"]["patient"]["protectedIdentity"] = protected
    return json.dumps(event).encode()


async def test_the_identity_topic_carries_the_personnummer_only_encrypted_and_notifications_names_only_unprotected_patients(
    pools, kafka_bootstrap, unique_name
):
    intake_pool, notifications_pool = pools
    topics = Topics(prefix=f"{unique_name}.")
    identities = topics.name(topics.identities)
    await ensure_topics(kafka_bootstrap, topics.all_names(), configs=topics.configs())
    settings = IntakeSettings(pseudonym_key="test-pseudonym-key", identity_keys=TRANSPORT_KEY.decode())
    intake = CertificateIntake(settings, topics.name(topics.cases), topics.name(topics.risk_flags), identities)
    certificates = consumer("intake", intake_pool, decode_certificate_record, intake.apply, topics.name(topics.certificates))

    # The woman twice in one batch and again later; the man with a protected identity.
    await certificates.process([as_record("in", 0, certificate(1, WOMAN)), as_record("in", 1, certificate(2, WOMAN, month=4))])
    await certificates.process([as_record("in", 2, certificate(3, MAN, protected=True)), as_record("in", 3, certificate(4, WOMAN, month=5))])
    await relay_until_drained(intake_pool, kafka_bootstrap)

    published = await read_topic(kafka_bootstrap, identities)
    assert len(published) == 2, "one identity per patient: a later certificate of the same patient publishes nothing"
    for record in published:
        assert record.value is not None
        for raw in (record.value, record.key or b"", json.dumps(record.headers).encode()):
            assert not any(shape in raw for shape in shapes_of(WOMAN) + shapes_of(MAN))
            # The Fernet token is URL-safe base64: its random text may hold a run shaped like a
            # number by chance ("501002-8008" once), so only the rest is searched for shapes.
            assert valid_personnummer_in(FERNET_TOKEN.sub(b"", raw)) == []
    by_protection = {record.json()["data"]["protectedIdentity"]: record.json()["data"] for record in published}
    assert by_protection[True]["encryptedPersonId"] is None, "a protected identity travels without the number"
    assert IdentityCipher((TRANSPORT_KEY,)).decrypt(by_protection[False]["encryptedPersonId"]) == WOMAN
    # No other topic of intake carries it either.
    for topic in (topics.cases, topics.risk_flags):
        for record in await read_topic(kafka_bootstrap, topics.name(topic)):
            assert valid_personnummer_in(record.value or b"") == []

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, identities)])
    finally:
        await admin.close()
    assert ("cleanup.policy", "compact") in {(entry[0], entry[1]) for entry in described.resources[0][4]}

    keeper = IdentityKeeper(IdentityCipher((TRANSPORT_KEY,)), IdentityCipher((STORAGE_KEY,)))
    kept = consumer("notifications", notifications_pool, decode_identity_record, keeper.apply, identities)
    await kept.process([from_broker(record) for record in published])
    await kept.process([from_broker(record) for record in published])  # redelivered: changes nothing

    stored = await notifications_pool.fetch("SELECT patient_identities::text AS row FROM patient_identities")
    assert len(stored) == 2
    for row in stored:
        assert not any(shape.decode() in row["row"] for shape in shapes_of(WOMAN) + shapes_of(MAN))
    pseudonyms = [record.key.decode() for record in published if record.key]
    async with notifications_pool.acquire() as conn:
        shown = await identity_store.identity_listing(conn, [*pseudonyms, "unknown-patient"], IdentityCipher((STORAGE_KEY,)), date(2026, 3, 15))
    (woman,) = shown.shown.values()
    assert (woman.personnummer, woman.age, woman.sex.value) == ("19800124-9286", 46, "F")
    assert (shown.protected_count, shown.protected_text, shown.unknown) == (1, "1 patient med skyddad identitet", {"unknown-patient"})
    assert "19121212" not in shown.model_dump_json()


async def test_a_patient_marked_protected_later_loses_the_stored_number(pools):
    _, notifications_pool = pools
    transport, storage = IdentityCipher((TRANSPORT_KEY,)), IdentityCipher((STORAGE_KEY,))
    keeper = IdentityKeeper(transport, storage)
    kept = consumer("notifications", notifications_pool, decode_identity_record, keeper.apply, "ids")
    first = {"patientPseudonym": "p1", "encryptedPersonId": transport.encrypt(WOMAN)[0], "keyId": transport.current_key_id, "revision": 1}
    later = {"patientPseudonym": "p1", "protectedIdentity": True, "revision": 2}
    await kept.process([as_record("ids", 0, envelope(later, "e2")), as_record("ids", 1, envelope(first, "e1"))])  # the older copy arrives last

    async with notifications_pool.acquire() as conn:
        shown = await identity_store.identity_listing(conn, ["p1"], storage, date(2026, 3, 15))
    assert (shown.shown, shown.protected_count) == ({}, 1)
    row = await notifications_pool.fetchrow("SELECT encrypted_person_id, revision FROM patient_identities")
    assert (row["encrypted_person_id"], row["revision"]) == (None, 2)


async def test_an_identity_under_a_foreign_key_is_dead_lettered_still_encrypted(pools):
    _, notifications_pool = pools
    keeper = IdentityKeeper(IdentityCipher((TRANSPORT_KEY,)), IdentityCipher((STORAGE_KEY,)))
    kept = consumer("notifications", notifications_pool, decode_identity_record, keeper.apply, "ids")
    foreign = IdentityCipher((Fernet.generate_key(),)).encrypt(WOMAN)[0]
    await kept.process([as_record("ids", 0, envelope({"patientPseudonym": "p1", "encryptedPersonId": foreign, "revision": 1}, "e1"))])

    (dead,) = await notifications_pool.fetch("SELECT value, headers FROM outbox WHERE topic = 'ids.dlq'")
    assert dead["headers"]["x-error-class"] == "UndecryptableIdentity"
    assert WOMAN.encode() not in bytes(dead["value"])
    assert await notifications_pool.fetchval("SELECT count(*) FROM patient_identities") == 0


async def test_a_storage_key_rotation_re_encrypts_what_rests_under_the_older_key(pools):
    _, notifications_pool = pools
    old = IdentityCipher((STORAGE_KEY,))
    token, old_id = old.encrypt(WOMAN)
    async with notifications_pool.acquire() as conn:
        await identity_store.save_identities(conn, [identity_store.StoredIdentity("p1", token, old_id, False, 1)])
        rotated = IdentityCipher((Fernet.generate_key(), STORAGE_KEY))
        assert await identity_store.rotate_stored_identities(conn, rotated) == 1
        assert await identity_store.rotate_stored_identities(conn, rotated) == 0
        assert await conn.fetchval("SELECT key_id FROM patient_identities") == rotated.current_key_id
        new_only = IdentityCipher(rotated.keys[:1])
        shown = await identity_store.identity_listing(conn, ["p1"], new_only, date(2026, 3, 15))
    assert shown.shown["p1"].personnummer == "19800124-9286"


def envelope(data: dict[str, Any], event_id: str) -> bytes:
    import uuid

    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, event_id)),
            "source": "urn:reko:intake",
            "type": "se.reko.patient-identity.changed.v1",
            "time": "2026-03-15T12:00:00+01:00",
            "subject": data["patientPseudonym"],
            "data": data,
        }
    ).encode()

"""Notifications killed with SIGKILL between writing its deliveries and sending them: after the restart every
mail and webhook call is sent, and one sent again carries the same Message-ID or webhook-id (docs/alert-channels.md §5)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.clock import STOCKHOLM
from shared.contracts.envelope import encode_event
from shared.contracts.risk_flags import RISK_FLAG_CHANGED_TYPE, RiskLevel
from shared.logging import PERSONNUMMER_SHAPE
from tests.integration.alert_channels_support import DIAGNOSIS_CODE, UNIT, Mailbox, WebhookReceiver, risk_flag, smtp_server, text_of
from tests.support import bearer, metric_value, wait_until

# Slow (a minute or more on 2 cores): not in `make test`; `make test-slow` or `make test-all` runs it.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ALERTS = 40
COORDINATOR = "SE2321000000-3001"
ADDRESS = "anna.andersson@vc-test.example"
# Monday 16 March 2026, mid-morning: an urgent mail may go out at once.
CLOCK = "fixed:2026-03-16T10:00:00+01:00"


@pytest.fixture
def slow_smtp() -> Iterator[tuple[Mailbox, int]]:
    yield from smtp_server(delay_seconds=0.15)


async def publish_very_high_flags(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for number in range(ALERTS):
            flag = risk_flag(f"case-{number:03d}", RiskLevel.VERY_HIGH)
            value = encode_event(
                event_id=uuid.uuid4(),
                source="urn:reko:intake",
                event_type=RISK_FLAG_CHANGED_TYPE,
                time=datetime(2026, 3, 16, 9, 0, tzinfo=STOCKHOLM),
                subject=flag.case_id,
                data=flag,
            )
            await producer.send(topic, value=value, key=flag.patient_pseudonym.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def delivery_states(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        exists = await conn.fetchval("SELECT to_regclass('notifications.deliveries')")
        if not exists:
            return []
        return await conn.fetch("SELECT delivery_id, channel, state, attempts FROM notifications.deliveries")
    finally:
        await conn.close()


def test_a_notifications_service_killed_before_its_deliveries_went_out_sends_each_once_more_at_most_with_the_same_id(stack_factory, slow_smtp):
    mailbox, smtp_port = slow_smtp
    secret = ""
    # Slow receivers, so the kill comes while most deliveries wait, however the consumer's batches fall.
    with WebhookReceiver(lambda: secret, delay_seconds=0.25) as receiver:
        stack = stack_factory(
            clock=CLOCK,
            extra_env={
                "REKO_NOTIFICATIONS_MAIL__HOST": "127.0.0.1",
                "REKO_NOTIFICATIONS_MAIL__PORT": str(smtp_port),
                "REKO_NOTIFICATIONS_MAIL__SECURITY": "none",
                "REKO_NOTIFICATIONS_MAIL__TIMEOUT_SECONDS": "1",
                "REKO_NOTIFICATIONS_MAIL__POLL_SECONDS": "0.1",
                "REKO_NOTIFICATIONS_WEBHOOKS__TIMEOUT_SECONDS": "2",
                "REKO_NOTIFICATIONS_WEBHOOKS__CONCURRENCY": "2",
                "REKO_NOTIFICATIONS_WEBHOOKS__POLL_SECONDS": "0.1",
            },
        )
        notifications = stack.services["notifications"]
        preferences = httpx.put(
            f"{notifications.base_url}/coordinators/{COORDINATOR}/notification-preferences",
            json={"email": ADDRESS, "careUnitHsaIds": [UNIT], "immediate": True},
            headers=bearer(stack, ["REHABKOORDINATOR"], [UNIT], sub=COORDINATOR),
            timeout=10,
        )
        assert preferences.status_code == 200, preferences.text
        created = httpx.post(
            f"{notifications.base_url}/webhook-subscriptions",
            json={"scope": "REGION", "url": receiver.url, "eventKinds": ["RISK_FLAG"]},
            headers=bearer(stack, ["REGIONKONTOR"]),
            timeout=10,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]

        asyncio.run(publish_very_high_flags(stack.bootstrap_servers, stack.topics.name(stack.topics.risk_flags)))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            written = asyncio.run(delivery_states(stack.database_url))
            if len(written) == 2 * ALERTS and mailbox.all() and receiver.calls:
                break
            time.sleep(0.05)
        notifications.kill()
        at_kill = asyncio.run(delivery_states(stack.database_url))
        assert len(at_kill) == 2 * ALERTS
        unsent_at_kill = Counter(row["channel"] for row in at_kill if row["state"] != "SENT")
        assert unsent_at_kill["EMAIL"] > 0 and unsent_at_kill["WEBHOOK"] > 0, f"the kill came too late: {unsent_at_kill} unsent"

        stack.restart("notifications")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            final = asyncio.run(delivery_states(stack.database_url))
            if all(row["state"] == "SENT" for row in final):
                break
            time.sleep(0.25)
        time.sleep(1)  # anything sent twice has arrived by now
        base_url = notifications.base_url
        # Counted by the restarted process: what it sent, and nothing left behind.
        sent_after_restart = {channel: metric_value(base_url, "reko_deliveries_sent_total", channel=channel) for channel in ("EMAIL", "WEBHOOK")}
        backlog = wait_until(lambda: metric_value(base_url, "reko_delivery_backlog") == 0, timeout=10)

    # Nothing lost, nothing written twice: the redelivered batch of risk flags made no new deliveries.
    assert len(final) == 2 * ALERTS
    assert all(row["state"] == "SENT" for row in final), Counter((row["channel"], row["state"]) for row in final)
    mail_ids = {f"<{row['delivery_id']}@" for row in final if row["channel"] == "EMAIL"}
    hook_ids = {str(row["delivery_id"]) for row in final if row["channel"] == "WEBHOOK"}

    received_mail = Counter(message["Message-ID"].partition("@")[0] + "@" for message in mailbox.all())
    assert set(received_mail) == mail_ids, (len(received_mail), len(mail_ids))  # every mail arrived, none under an id of its own
    # Sent again at most once, with its own id: the mail in flight at the kill (or a try that timed out on a busy machine).
    assert max(received_mail.values()) <= 2, received_mail.most_common(3)
    assert all(message["To"] == ADDRESS for message in mailbox.all())
    for message in mailbox.all():
        # The flags' evidence names a diagnosis (F32.1); the mails name none, nor anything shaped like a personnummer.
        # The Message-ID is a random delivery UUID, whose last group can by chance be twelve digits shaped like one.
        text = text_of(message).replace(message["Message-ID"], "")
        assert not PERSONNUMMER_SHAPE.search(text) and not re.search(DIAGNOSIS_CODE, text)
    assert sent_after_restart == {"EMAIL": unsent_at_kill["EMAIL"], "WEBHOOK": unsent_at_kill["WEBHOOK"]}
    assert backlog

    received_calls = Counter(call.headers["webhook-id"] for call in receiver.calls)
    assert set(received_calls) == hook_ids, (len(received_calls), len(hook_ids))
    assert max(received_calls.values()) <= 2, received_calls.most_common(3)
    assert all(call.verified for call in receiver.calls)
    # One webhook id per alert: a call sent again is the same call, never a new one.
    ids_per_alert: dict[str, set[str]] = {}
    for call in receiver.calls:
        ids_per_alert.setdefault(json.loads(call.body)["data"]["alertId"], set()).add(call.headers["webhook-id"])
    assert len(ids_per_alert) == ALERTS and all(len(ids) == 1 for ids in ids_per_alert.values())

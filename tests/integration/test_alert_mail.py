"""Alert mail through a real SMTP server (aiosmtpd): urgent mail at once, the rest in the digest, nothing about the patient."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, time

import asyncpg
import pytest

from services.notifications import delivery_repository
from services.notifications.app import MIGRATIONS
from services.notifications.delivery_repository import ContactPreferences
from services.notifications.delivery_worker import ChannelMetrics, ChannelWorker, mail_worker
from services.notifications.settings import MailSettings
from shared.clock import STOCKHOLM
from shared.contracts.milestones import MilestoneStatus
from shared.contracts.risk_flags import RiskLevel
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.logging import PERSONNUMMER_SHAPE
from shared.metrics import ServiceMetrics
from tests.integration.alert_channels_support import (
    DIAGNOSIS_CODE,
    OTHER_UNIT,
    UNIT,
    Mailbox,
    MovableClock,
    apply_alerts,
    milestone,
    risk_flag,
    smtp_server,
    text_of,
)
from tests.support import MAN, WOMAN

pytestmark = pytest.mark.integration

ANNA = ("SE2321000000-3001", "anna.andersson@vc-test.example")
BERIT = ("SE2321000000-3002", "berit.berg@vc-test.example")
# Monday 16 March 2026.
MONDAY_10 = datetime(2026, 3, 16, 10, 0, tzinfo=STOCKHOLM)


@pytest.fixture
async def notifications_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, "notifications", size=4)
    await migrate(pool, "notifications", PLATFORM_MIGRATIONS, MIGRATIONS)
    yield pool
    await pool.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    yield from smtp_server()


async def set_preferences(pool: asyncpg.Pool, who: tuple[str, str], units: tuple[str, ...], *, immediate: bool, digest_time: time) -> None:
    async with pool.acquire() as conn:
        await delivery_repository.save_preferences(conn, ContactPreferences(who[0], who[1], units, immediate, digest_time, who[0]))


def worker(pool: asyncpg.Pool, clock: MovableClock, port: int) -> ChannelWorker:
    settings = MailSettings(
        host="127.0.0.1", port=port, security="none", sender="reko <reko@region-test.example>", worklist_base_url="https://reko.region-test.example"
    )
    return mail_worker(lambda: pool, clock, settings, ChannelMetrics.of(ServiceMetrics("notifications").registry))


async def drain(channel: ChannelWorker) -> None:
    while await channel.run_once():
        pass


async def test_urgent_alerts_are_mailed_at_once_and_the_rest_in_each_coordinators_digest_at_her_time(notifications_pool, smtp):
    mailbox, port = smtp
    await set_preferences(notifications_pool, ANNA, (UNIT, OTHER_UNIT), immediate=True, digest_time=time(7, 30))
    await set_preferences(notifications_pool, BERIT, (UNIT,), immediate=False, digest_time=time(16, 0))
    clock = MovableClock(MONDAY_10)
    # A title that names a patient and a diagnosis: the mail must not pass it on.
    hostile_title = f"Dag 90 för {WOMAN} Anna Svensson, F43.8A"
    await apply_alerts(
        notifications_pool,
        clock,
        milestones=[
            milestone("c1", MilestoneStatus.DUE, date(2026, 3, 20), title=hostile_title),
            milestone("c2", MilestoneStatus.SCHEDULED, date(2026, 4, 2)),
            milestone("c3", MilestoneStatus.SCHEDULED, date(2026, 4, 9), unit=OTHER_UNIT),
        ],
        flags=[risk_flag("c4", RiskLevel.VERY_HIGH), risk_flag("c5", RiskLevel.HIGH)],
    )
    channel = worker(notifications_pool, clock, port)

    await drain(channel)
    urgent = mailbox.to(ANNA[1])
    assert sorted(message["Subject"] for message in urgent) == ["reko: 1 ärende att hantera nu"] * 2
    assert mailbox.to(BERIT[1]) == []  # she chose no immediate mail
    bodies = [message.get_body(("plain",)).get_content() for message in urgent]  # type: ignore[union-attr]  # why: every mail has a plain part
    assert any("Rehabiliteringskedjan dag 90 (aktuell): 1 st, senast 2026-03-20" in body for body in bodies)
    assert any("Risk för lång sjukskrivning (mycket hög): 1 st" in body for body in bodies)
    assert all(f"https://reko.region-test.example/worklist?unit={UNIT}" in body for body in bodies)

    clock.instant = datetime(2026, 3, 16, 16, 0, tzinfo=STOCKHOLM)
    await drain(channel)
    (berits_digest,) = mailbox.to(BERIT[1])
    assert berits_digest["Subject"] == "reko: daglig sammanfattning 2026-03-16 – 4 ärenden"
    assert len(mailbox.to(ANNA[1])) == 2  # her digest is due tomorrow morning

    clock.instant = datetime(2026, 3, 17, 7, 30, tzinfo=STOCKHOLM)
    await drain(channel)
    annas = mailbox.to(ANNA[1])
    assert len(annas) == 3
    digest = annas[-1]
    assert digest["Subject"] == "reko: daglig sammanfattning 2026-03-17 – 3 ärenden"
    plain = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]  # why: every mail has a plain part
    html = digest.get_body(("html",)).get_content()  # type: ignore[union-attr]  # why: every mail has an HTML part
    assert f"Vårdenhet {OTHER_UNIT}:" in plain and "Rehabiliteringskedjan dag 90 (planerad): 1 st, senast 2026-04-09" in plain
    assert f'href="https://reko.region-test.example/worklist?unit={OTHER_UNIT}"' in html
    assert "Risk för lång sjukskrivning (hög): 1 st" in html

    # One Message-ID per delivery, derived from its id.
    async with notifications_pool.acquire() as conn:
        delivery_ids = {str(row["delivery_id"]) for row in await conn.fetch("SELECT delivery_id FROM deliveries WHERE state = 'SENT'")}
    assert {message["Message-ID"].strip("<>").partition("@")[0] for message in mailbox.all()} == delivery_ids
    assert len(delivery_ids) == 4

    for message in mailbox.all():
        text = text_of(message)
        assert WOMAN not in text and MAN not in text and "Svensson" not in text
        assert not PERSONNUMMER_SHAPE.search(text), text
        assert not re.search(DIAGNOSIS_CODE, text), text


async def test_an_urgent_alert_at_the_weekend_waits_for_monday_morning(notifications_pool, smtp):
    mailbox, port = smtp
    await set_preferences(notifications_pool, ANNA, (UNIT,), immediate=True, digest_time=time(7, 30))
    clock = MovableClock(datetime(2026, 3, 21, 11, 0, tzinfo=STOCKHOLM))  # a Saturday
    await apply_alerts(notifications_pool, clock, flags=[risk_flag("c9", RiskLevel.VERY_HIGH)])
    channel = worker(notifications_pool, clock, port)
    await drain(channel)
    assert mailbox.all() == []
    clock.instant = datetime(2026, 3, 23, 7, 0, tzinfo=STOCKHOLM)
    await drain(channel)
    assert [message["Subject"] for message in mailbox.all()] == ["reko: 1 ärende att hantera nu"]


async def test_deliveries_are_written_in_the_alerts_transaction_or_not_at_all(notifications_pool):
    await set_preferences(notifications_pool, ANNA, (UNIT,), immediate=True, digest_time=time(7, 30))

    class Aborted(Exception):
        pass

    async def apply_and_abort() -> None:
        from services.notifications.handlers import Alerter
        from shared.consumer import ApplyContext, Incoming
        from shared.outbox import Outbox

        async with notifications_pool.acquire() as conn, conn.transaction():
            context = ApplyContext(conn, Outbox(source="urn:reko:notifications"), MovableClock(MONDAY_10), "test.dlq")
            await Alerter("rehab.alerts.v1").apply_risk_flags(context, [Incoming("e-1", risk_flag("c1", RiskLevel.VERY_HIGH), None)])  # type: ignore[arg-type]  # why: a stand-in record is enough for the alerter
            assert await conn.fetchval("SELECT count(*) FROM deliveries") == 1
            raise Aborted

    with pytest.raises(Aborted):
        await apply_and_abort()
    async with notifications_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM deliveries") == 0
        assert await conn.fetchval("SELECT count(*) FROM mail_items") == 0


async def test_a_mail_server_that_is_down_is_tried_again_and_the_mail_recorded_as_failed_after_the_last_try(notifications_pool):
    await set_preferences(notifications_pool, ANNA, (UNIT,), immediate=True, digest_time=time(7, 30))
    clock = MovableClock(MONDAY_10)
    await apply_alerts(notifications_pool, clock, flags=[risk_flag("c1", RiskLevel.VERY_HIGH)])
    settings = MailSettings(host="127.0.0.1", port=1, security="none", timeout_seconds=1, max_attempts=2, retry_initial_seconds=0.1)
    metrics = ChannelMetrics.of(ServiceMetrics("notifications").registry)
    channel = mail_worker(lambda: notifications_pool, clock, settings, metrics)
    for _ in range(30):
        await channel.run_once()
        async with notifications_pool.acquire() as conn:
            row = await conn.fetchrow("SELECT state, attempts, last_error FROM deliveries")
        if row["state"] == "FAILED":
            break
        await asyncio.sleep(0.1)
    assert (row["state"], row["attempts"]) == ("FAILED", 2)
    assert row["last_error"] == "ConnectionRefusedError"
    assert metrics.retried.labels(channel="EMAIL")._value.get() == 1
    assert metrics.failed.labels(channel="EMAIL")._value.get() == 1

"""Signed webhooks to local receivers: retried after 500s with one webhook id, failed after the last try, never holding up the mail."""

from __future__ import annotations

import asyncio
import json
import time as wall
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, time
from types import SimpleNamespace

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from services.notifications import delivery_repository, webhooks
from services.notifications.app import MIGRATIONS
from services.notifications.channels_api import router, webhook_router
from services.notifications.deliveries import SubscriptionScope, WebhookSubscription
from services.notifications.delivery_repository import ContactPreferences
from services.notifications.delivery_worker import ChannelMetrics, mail_worker, webhook_worker
from services.notifications.settings import MailSettings, NotificationsSettings, WebhookSettings
from shared.auth import AuthSettings, issue_token
from shared.clock import STOCKHOLM
from shared.contracts.milestones import MilestoneStatus
from shared.contracts.risk_flags import RiskLevel
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.metrics import ServiceMetrics
from tests.integration.alert_channels_support import (
    OTHER_UNIT,
    UNIT,
    Mailbox,
    MovableClock,
    SilentReceiver,
    WebhookReceiver,
    apply_alerts,
    milestone,
    risk_flag,
    smtp_server,
)

pytestmark = pytest.mark.integration

MONDAY_10 = datetime(2026, 3, 16, 10, 0, tzinfo=STOCKHOLM)
JWT_SECRET = "alert-channels-test-secret-0123456789abcdef"


@pytest.fixture
async def notifications_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, "notifications", size=6)
    await migrate(pool, "notifications", PLATFORM_MIGRATIONS, MIGRATIONS)
    yield pool
    await pool.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    yield from smtp_server()


async def subscribe(pool: asyncpg.Pool, url: str, *, scope: SubscriptionScope = SubscriptionScope.UNIT, kinds: frozenset[str] = frozenset()) -> str:
    secret = webhooks.new_secret()
    subscription = WebhookSubscription(
        str(uuid.uuid4()), scope, url, care_unit_hsa_id=UNIT if scope is SubscriptionScope.UNIT else None, event_kinds=kinds
    )
    async with pool.acquire() as conn:
        await delivery_repository.create_subscription(conn, subscription, secret, "SE2321000000-3001")
    return secret


async def deliveries(pool: asyncpg.Pool, channel: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT * FROM deliveries WHERE channel = $1 ORDER BY created_at", channel)


async def test_a_receiver_that_answers_500_twice_gets_the_same_signed_delivery_a_third_time(notifications_pool):
    secret = ""
    with WebhookReceiver(lambda: secret, statuses=[500, 500]) as receiver:
        secret = await subscribe(notifications_pool, receiver.url)
        clock = MovableClock(MONDAY_10)
        await apply_alerts(notifications_pool, clock, milestones=[milestone("c1", MilestoneStatus.DUE, date(2026, 3, 20))])
        metrics = ChannelMetrics.of(ServiceMetrics("notifications").registry)
        settings = WebhookSettings(timeout_seconds=2, max_attempts=5, retry_initial_seconds=0.2, retry_max_seconds=1)
        async with httpx.AsyncClient() as client:
            channel = webhook_worker(lambda: notifications_pool, clock, settings, metrics, client)
            deadline = wall.monotonic() + 20
            while len(receiver.calls) < 3 and wall.monotonic() < deadline:
                await channel.run_once()
                await asyncio.sleep(0.05)
            await channel.run_once()

    assert len(receiver.calls) == 3
    assert all(call.verified for call in receiver.calls)
    assert len({call.headers["webhook-id"] for call in receiver.calls}) == 1
    assert len({call.body for call in receiver.calls}) == 1
    (row,) = await deliveries(notifications_pool, "WEBHOOK")
    assert (row["state"], row["attempts"], str(row["delivery_id"])) == ("SENT", 3, receiver.calls[0].headers["webhook-id"])
    body = json.loads(receiver.calls[0].body)
    assert body["type"] == "alert.changed"
    assert body["data"]["caseId"] == "c1" and body["data"]["dueDate"] == "2026-03-20" and body["data"]["milestoneStatus"] == "DUE"
    assert "title" not in body["data"] and "patientPseudonym" not in body["data"]
    assert metrics.retried.labels(channel="WEBHOOK")._value.get() == 2
    assert metrics.sent.labels(channel="WEBHOOK")._value.get() == 1


async def test_a_receiver_that_never_answers_is_failed_after_the_last_try_while_the_mails_go_out(notifications_pool, smtp):
    mailbox, port = smtp
    async with notifications_pool.acquire() as conn:
        await delivery_repository.save_preferences(
            conn, ContactPreferences("SE2321000000-3001", "anna@vc-test.example", (UNIT,), True, time(7, 30), "SE2321000000-3001")
        )
    with SilentReceiver() as silent:
        await subscribe(notifications_pool, silent.url, scope=SubscriptionScope.REGION)
        clock = MovableClock(MONDAY_10)
        await apply_alerts(notifications_pool, clock, flags=[risk_flag(f"c{n}", RiskLevel.VERY_HIGH) for n in range(3)])
        metrics = ChannelMetrics.of(ServiceMetrics("notifications").registry)
        hook_settings = WebhookSettings(timeout_seconds=1, max_attempts=2, retry_initial_seconds=0.2, poll_seconds=0.05)
        mail_settings = MailSettings(host="127.0.0.1", port=port, security="none", poll_seconds=0.05)
        async with httpx.AsyncClient() as client:
            tasks = [
                asyncio.create_task(webhook_worker(lambda: notifications_pool, clock, hook_settings, metrics, client).run()),
                asyncio.create_task(mail_worker(lambda: notifications_pool, clock, mail_settings, metrics).run()),
            ]
            try:
                started = wall.monotonic()
                while len(mailbox.all()) < 3 and wall.monotonic() - started < 10:  # noqa: ASYNC110 - the SMTP server runs in its own thread
                    await asyncio.sleep(0.05)
                mails_after = wall.monotonic() - started
                while wall.monotonic() - started < 15:
                    if all(row["state"] == "FAILED" for row in await deliveries(notifications_pool, "WEBHOOK")):
                        break
                    await asyncio.sleep(0.1)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    assert len(mailbox.all()) == 3
    # Every mail went out before the first webhook call had even timed out.
    assert mails_after < hook_settings.timeout_seconds
    rows = await deliveries(notifications_pool, "WEBHOOK")
    assert [(row["state"], row["attempts"], row["last_error"]) for row in rows] == [("FAILED", 2, "no answer within 1 s")] * 3
    assert metrics.failed.labels(channel="WEBHOOK")._value.get() == 3


def api_client(pool: asyncpg.Pool) -> httpx.AsyncClient:
    from fastapi import FastAPI

    from shared.http_errors import install_error_answers

    settings = NotificationsSettings(auth=AuthSettings(jwt_secret=SecretStr(JWT_SECRET)))
    runtime = SimpleNamespace(pool=pool)
    app = FastAPI()
    install_error_answers(app)
    app.include_router(router(runtime, settings))  # type: ignore[arg-type]  # why: the routes need only the runtime's pool
    app.include_router(webhook_router(runtime, settings))  # type: ignore[arg-type]  # why: the routes need only the runtime's pool
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifications")


def user(sub: str, roles: list[str], units: list[str] = ()) -> dict[str, str]:  # type: ignore[assignment]  # why: a tuple default reads as "no units"
    return {"authorization": f"Bearer {issue_token(JWT_SECRET, sub, roles, units)}"}


ANNA = user("SE2321000000-3001", ["REHABKOORDINATOR"], [UNIT])
OTHER_COORDINATOR = user("SE2321000000-3009", ["REHABKOORDINATOR"], [OTHER_UNIT])
REGION_OFFICE = user("SE2321000000-9001", ["REGIONKONTOR"])
DOCTOR = user("SE2321000000-2001", ["LAKARE"], [UNIT])


async def test_who_manages_which_subscription_and_sees_its_deliveries(notifications_pool):
    async with api_client(notifications_pool) as api:
        new_unit = {"scope": "UNIT", "careUnitHsaId": UNIT, "url": "http://127.0.0.1:9/hook", "eventKinds": ["RISK_FLAG"]}
        created = await api.post("/webhook-subscriptions", json=new_unit, headers=ANNA)
        assert created.status_code == 201, created.text
        subscription = created.json()
        assert subscription["secret"].startswith("whsec_") and subscription["createdBy"] == "SE2321000000-3001"

        region = {"scope": "REGION", "url": "http://127.0.0.1:9/region"}
        assert (await api.post("/webhook-subscriptions", json=region, headers=ANNA)).status_code == 403
        assert (await api.post("/webhook-subscriptions", json=new_unit, headers=OTHER_COORDINATOR)).status_code == 403
        assert (await api.post("/webhook-subscriptions", json=new_unit, headers=DOCTOR)).status_code == 403
        assert (await api.post("/webhook-subscriptions", json=region, headers=REGION_OFFICE)).status_code == 201
        bad = await api.post("/webhook-subscriptions", json=new_unit | {"eventKinds": ["F32"], "url": "not a url"}, headers=ANNA)
        assert bad.status_code == 422
        assert {problem["field"] for problem in bad.json()["detail"]} == {"body.url", "body.eventKinds"}
        assert "F32" not in bad.text and "not a url" not in bad.text
        unit_only = await api.post("/webhook-subscriptions", json={"scope": "UNIT", "url": "http://127.0.0.1:9/x"}, headers=ANNA)
        assert unit_only.status_code == 422

        listed = (await api.get("/webhook-subscriptions", headers=ANNA)).json()
        assert [one["subscriptionId"] for one in listed] == [subscription["subscriptionId"]]
        assert "secret" not in listed[0]
        assert len((await api.get("/webhook-subscriptions", headers=REGION_OFFICE)).json()) == 2
        path = f"/webhook-subscriptions/{subscription['subscriptionId']}"
        assert (await api.get(path, headers=OTHER_COORDINATOR)).status_code == 404

        await apply_alerts(notifications_pool, MovableClock(MONDAY_10), flags=[risk_flag("c1", RiskLevel.HIGH)])
        async with httpx.AsyncClient() as client:
            settings = WebhookSettings(timeout_seconds=1, max_attempts=1)
            channel = webhook_worker(
                lambda: notifications_pool, MovableClock(MONDAY_10), settings, ChannelMetrics.of(ServiceMetrics("n").registry), client
            )
            await channel.run_once()
        shown = (await api.get(f"{path}/deliveries", headers=ANNA)).json()
        assert [(one["state"], one["attempts"], one["alertId"]) for one in shown] == [("FAILED", 1, "risk:c1")]
        assert shown[0]["lastError"].startswith("no connection")
        assert (await api.get(f"{path}/deliveries", headers=OTHER_COORDINATOR)).status_code == 404

        assert (await api.delete(path, headers=OTHER_COORDINATOR)).status_code == 404
        assert (await api.delete(path, headers=ANNA)).status_code == 204
        assert (await api.get(path, headers=ANNA)).status_code == 404


async def test_a_coordinator_sets_her_own_mail_preferences_only_for_units_she_acts_for(notifications_pool):
    async with api_client(notifications_pool) as api:
        path = "/coordinators/SE2321000000-3001/notification-preferences"
        assert (await api.get(path, headers=ANNA)).status_code == 404
        wanted = {"email": "anna@vc-test.example", "careUnitHsaIds": [UNIT], "immediate": False}
        stored = await api.put(path, json=wanted, headers=ANNA)
        assert stored.status_code == 200, stored.text
        assert stored.json() | {"updatedAt": None} == {
            "coordinatorHsaId": "SE2321000000-3001",
            "email": "anna@vc-test.example",
            "careUnitHsaIds": [UNIT],
            "immediate": False,
            "digestTime": "07:30:00",
            "updatedAt": None,
        }
        assert (await api.get(path, headers=ANNA)).json()["immediate"] is False
        assert (await api.put(path, json=wanted | {"careUnitHsaIds": [OTHER_UNIT]}, headers=ANNA)).status_code == 403
        assert (await api.put(path, json=wanted, headers=OTHER_COORDINATOR)).status_code == 403
        assert (await api.get(path, headers=OTHER_COORDINATOR)).status_code == 403
        bad = await api.put(path, json=wanted | {"email": "19800124-9286"}, headers=ANNA)
        assert bad.status_code == 422 and "9286" not in bad.text
        async with notifications_pool.acquire() as conn:
            (recipient,) = await delivery_repository.recipients_for_unit(conn, UNIT, MONDAY_10.date())
        assert (recipient.email, recipient.immediate, recipient.digest_time) == ("anna@vc-test.example", False, time(7, 30))

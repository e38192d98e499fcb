"""Notifications' tables of alert channels: mail preferences, webhook subscriptions, deliveries and mail lines.

docs/alert-channels.md §5 says how a delivery row moves: PENDING (claimed for a while by a lease)
to SENT, or FAILED after its last try.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import asyncpg

from services.notifications import coordinator_store
from services.notifications.coordinators import responsible_for_unit
from services.notifications.deliveries import (
    AlertTransition,
    MailItem,
    Recipient,
    SendingHours,
    SubscriptionScope,
    WebhookSubscription,
    mail_mode,
    plan_deliveries,
)
from shared.clock import STOCKHOLM
from shared.db import columns

EMAIL = "EMAIL"
WEBHOOK = "WEBHOOK"
CHANNELS = (EMAIL, WEBHOOK)


# --- recipients and preferences ----------------------------------------------------------------


@dataclass(frozen=True)
class ContactPreferences:
    coordinator_hsa_id: str
    email: str
    care_unit_hsa_ids: tuple[str, ...]
    immediate: bool
    digest_time: time
    updated_by: str
    updated_at: datetime | None = None


async def recipients_for_unit(conn: asyncpg.Connection, care_unit_hsa_id: str, day: date) -> list[Recipient]:
    """The coordinators to mail about the unit's alerts on `day`, with their choices."""
    return (await recipients_for_units(conn, [care_unit_hsa_id], day))[care_unit_hsa_id]


async def recipients_for_units(conn: asyncpg.Connection, care_unit_hsa_ids: Collection[str], day: date) -> dict[str, list[Recipient]]:
    """The coordinators to mail about each unit's alerts on `day`, with their choices (three queries for any number of units).

    The one place that says who receives mail. The registry of coordinators decides whom the unit's
    work reaches on `day`: its coordinators who are not away, and the stand-in of each who is
    (docs/coordinators.md §1); each of them is mailed at the address of her own preferences. A unit
    the registry does not know yet reaches whoever asked mail for it in her preferences
    (docs/alert-channels.md §2).
    """
    units = sorted(set(care_unit_hsa_ids))
    if not units:
        return {}
    registry = await coordinator_store.coordinators_of_units(conn, units)
    reached = {
        unit: sorted({responsible.hsa_id for responsible in responsible_for_unit(registry, unit, day) if not responsible.absent}) for unit in units
    }
    everyone_reached = sorted({hsa_id for hsa_ids in reached.values() for hsa_id in hsa_ids})
    preferences: dict[str, Recipient] = {}
    if everyone_reached:
        rows = await conn.fetch(
            "SELECT coordinator_hsa_id, email, immediate, digest_time FROM coordinator_contact_preferences "
            "WHERE coordinator_hsa_id = ANY($1::text[])",
            everyone_reached,
        )
        preferences = {row["coordinator_hsa_id"]: _recipient(row) for row in rows}
    unknown = [unit for unit in units if not reached[unit]]
    asked: dict[str, list[Recipient]] = {}
    if unknown:
        rows = await conn.fetch(
            "SELECT u.care_unit_hsa_id, p.coordinator_hsa_id, p.email, p.immediate, p.digest_time "
            "FROM unnest($1::text[]) AS u(care_unit_hsa_id) JOIN coordinator_contact_preferences p ON u.care_unit_hsa_id = ANY(p.care_unit_hsa_ids) "
            "ORDER BY p.coordinator_hsa_id",
            unknown,
        )
        for row in rows:
            asked.setdefault(row["care_unit_hsa_id"], []).append(_recipient(row))
    return {
        unit: [preferences[hsa_id] for hsa_id in reached[unit] if hsa_id in preferences] if reached[unit] else asked.get(unit, []) for unit in units
    }


def _recipient(row: asyncpg.Record) -> Recipient:
    return Recipient(row["coordinator_hsa_id"], row["email"], row["immediate"], row["digest_time"])


async def save_preferences(conn: asyncpg.Connection, preferences: ContactPreferences) -> ContactPreferences:
    row = await conn.fetchrow(
        "INSERT INTO coordinator_contact_preferences (coordinator_hsa_id, email, care_unit_hsa_ids, immediate, digest_time, updated_by) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (coordinator_hsa_id) DO UPDATE SET email = excluded.email, "
        "care_unit_hsa_ids = excluded.care_unit_hsa_ids, immediate = excluded.immediate, digest_time = excluded.digest_time, "
        "updated_by = excluded.updated_by, updated_at = now() RETURNING *",
        preferences.coordinator_hsa_id,
        preferences.email,
        sorted(set(preferences.care_unit_hsa_ids)),
        preferences.immediate,
        preferences.digest_time,
        preferences.updated_by,
    )
    return _preferences(row)


async def preferences_of(conn: asyncpg.Connection, coordinator_hsa_id: str) -> ContactPreferences | None:
    row = await conn.fetchrow("SELECT * FROM coordinator_contact_preferences WHERE coordinator_hsa_id = $1", coordinator_hsa_id)
    return _preferences(row) if row is not None else None


def _preferences(row: asyncpg.Record) -> ContactPreferences:
    return ContactPreferences(
        coordinator_hsa_id=row["coordinator_hsa_id"],
        email=row["email"],
        care_unit_hsa_ids=tuple(row["care_unit_hsa_ids"]),
        immediate=row["immediate"],
        digest_time=row["digest_time"],
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
    )


# --- webhook subscriptions ---------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSubscription:
    subscription: WebhookSubscription
    created_by: str
    created_at: datetime


async def create_subscription(conn: asyncpg.Connection, subscription: WebhookSubscription, secret: str, created_by: str) -> StoredSubscription:
    row = await conn.fetchrow(
        "INSERT INTO webhook_subscriptions (subscription_id, scope, care_unit_hsa_id, url, secret, event_kinds, created_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        uuid.UUID(subscription.subscription_id),
        subscription.scope.value,
        subscription.care_unit_hsa_id,
        subscription.url,
        secret,
        sorted(subscription.event_kinds),
        created_by,
    )
    return _stored(row)


async def subscriptions(conn: asyncpg.Connection, care_unit_hsa_ids: Collection[str] | None) -> list[StoredSubscription]:
    """Active subscriptions: the region's and those of the units given, or every one when `care_unit_hsa_ids` is None."""
    rows = await conn.fetch(
        "SELECT * FROM webhook_subscriptions WHERE deleted_at IS NULL "
        "AND ($1::text[] IS NULL OR scope = 'REGION' OR care_unit_hsa_id = ANY($1::text[])) ORDER BY created_at, subscription_id",
        None if care_unit_hsa_ids is None else list(care_unit_hsa_ids),
    )
    return [_stored(row) for row in rows]


async def subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> StoredSubscription | None:
    row = await conn.fetchrow("SELECT * FROM webhook_subscriptions WHERE subscription_id = $1 AND deleted_at IS NULL", subscription_id)
    return _stored(row) if row is not None else None


async def delete_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> None:
    """Kept (its deliveries stay readable), but no new delivery goes to it and a pending one fails."""
    await conn.execute("UPDATE webhook_subscriptions SET deleted_at = now() WHERE subscription_id = $1", subscription_id)


def _stored(row: asyncpg.Record) -> StoredSubscription:
    return StoredSubscription(
        subscription=WebhookSubscription(
            subscription_id=str(row["subscription_id"]),
            scope=SubscriptionScope(row["scope"]),
            url=row["url"],
            care_unit_hsa_id=row["care_unit_hsa_id"],
            event_kinds=frozenset(row["event_kinds"]),
        ),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


# --- writing deliveries, in the consumer's transaction -----------------------------------------


async def record_deliveries(conn: asyncpg.Connection, transitions: Sequence[AlertTransition], now: datetime, hours: SendingHours) -> None:
    """The mail lines and webhook deliveries of a batch's alert changes, in the transaction that stores the alerts."""
    if not transitions:
        return
    # Most changes mail nobody (updates, withdrawals): only the units of those that do are asked for their recipients.
    mailed_units = sorted({transition.after.care_unit_hsa_id for transition in transitions if mail_mode(transition) is not None})
    day = now.astimezone(STOCKHOLM).date()
    recipients = await recipients_for_units(conn, mailed_units, day)
    active = [stored.subscription for stored in await subscriptions(conn, {transition.after.care_unit_hsa_id for transition in transitions})]
    plan = plan_deliveries(transitions, recipients, active, now, hours)
    immediate = [(uuid.uuid4(), item) for item in plan.mail_items if item.immediate]
    rows: list[tuple[Any, ...]] = [
        (delivery_id, EMAIL, item.coordinator_hsa_id, item.email, item.care_unit_hsa_id, item.alert_id, False, None, item.send_at)
        for delivery_id, item in immediate
    ]
    rows.extend(
        (uuid.uuid4(), WEBHOOK, webhook.subscription_id, webhook.url, webhook.care_unit_hsa_id, webhook.alert_id, False, webhook.payload, now)
        for webhook in plan.webhooks
    )
    if rows:
        await conn.execute(
            "INSERT INTO deliveries (delivery_id, channel, recipient, address, care_unit_hsa_id, alert_id, digest, payload, not_before) "
            "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::jsonb[], "
            "$9::timestamptz[])",
            *columns(rows, 9),
        )
    delivery_of = {id(item): delivery_id for delivery_id, item in immediate}
    items = [(uuid.uuid4(), item, delivery_of.get(id(item))) for item in plan.mail_items]
    if items:
        await _insert_items(conn, items)


async def _insert_items(conn: asyncpg.Connection, items: Sequence[tuple[uuid.UUID, MailItem, uuid.UUID | None]]) -> None:
    rows = [
        (
            item_id,
            item.coordinator_hsa_id,
            item.email,
            item.care_unit_hsa_id,
            item.alert_id,
            item.kind,
            item.milestone_status,
            item.due_date,
            item.risk_level,
            item.immediate,
            item.send_at,
            delivery_id,
        )
        for item_id, item, delivery_id in items
    ]
    await conn.execute(
        "INSERT INTO mail_items (item_id, coordinator_hsa_id, email, care_unit_hsa_id, alert_id, kind, milestone_status, due_date, "
        "risk_level, immediate, send_at, delivery_id) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], "
        "$6::text[], $7::text[], $8::date[], $9::text[], $10::bool[], $11::timestamptz[], $12::uuid[])",
        *columns(rows, 12),
    )


# --- the worker's side -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery_id: uuid.UUID
    channel: str
    recipient: str
    address: str
    digest: bool
    payload: dict[str, Any] | None
    attempts: int
    not_before: datetime
    # Webhooks: the subscription's secret, None when the subscription was deleted meanwhile.
    secret: str | None = None


async def gather_digests(conn: asyncpg.Connection, now: datetime) -> int:
    """One digest delivery per coordinator for her mail lines whose time has come; how many were made.

    The lines are tied to their delivery in the same transaction, so a crash leaves them either
    waiting or in exactly one digest, which is then sent with its one id.
    """
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT item_id, coordinator_hsa_id, email, send_at FROM mail_items WHERE delivery_id IS NULL AND send_at <= $1 "
            "ORDER BY coordinator_hsa_id, send_at FOR UPDATE SKIP LOCKED",
            now,
        )
        by_coordinator: dict[tuple[str, str], list[asyncpg.Record]] = {}
        for row in rows:
            by_coordinator.setdefault((row["coordinator_hsa_id"], row["email"]), []).append(row)
        for (coordinator, email), lines in by_coordinator.items():
            delivery_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO deliveries (delivery_id, channel, recipient, address, digest, not_before) VALUES ($1, 'EMAIL', $2, $3, true, $4)",
                delivery_id,
                coordinator,
                email,
                max(line["send_at"] for line in lines),
            )
            await conn.execute(
                "UPDATE mail_items SET delivery_id = $1 WHERE item_id = ANY($2::uuid[])", delivery_id, [line["item_id"] for line in lines]
            )
        return len(by_coordinator)


async def claim(conn: asyncpg.Connection, channel: str, now: datetime, lease_seconds: float, limit: int) -> list[ClaimedDelivery]:
    """Take up to `limit` pending deliveries of the channel that may go now, each for `lease_seconds`.

    Another worker (an instance, or this one after a restart) takes a delivery again only when its
    lease has run out without it being marked sent or failed.
    """
    rows = await conn.fetch(
        "UPDATE deliveries AS d SET leased_until = now() + make_interval(secs => $3) "
        "FROM (SELECT delivery_id FROM deliveries WHERE state = 'PENDING' AND channel = $1 AND not_before <= $2 "
        "      AND (retry_at IS NULL OR retry_at <= now()) AND (leased_until IS NULL OR leased_until <= now()) "
        "      ORDER BY not_before, created_at LIMIT $4 FOR UPDATE SKIP LOCKED) AS due "
        "WHERE d.delivery_id = due.delivery_id "
        "RETURNING d.*, (SELECT w.secret FROM webhook_subscriptions w WHERE w.subscription_id::text = d.recipient "
        "                AND w.deleted_at IS NULL) AS secret",
        channel,
        now,
        lease_seconds,
        limit,
    )
    return [
        ClaimedDelivery(
            delivery_id=row["delivery_id"],
            channel=row["channel"],
            recipient=row["recipient"],
            address=row["address"],
            digest=row["digest"],
            payload=row["payload"],
            attempts=row["attempts"],
            not_before=row["not_before"],
            secret=row["secret"],
        )
        for row in rows
    ]


async def items_of(conn: asyncpg.Connection, delivery_id: uuid.UUID) -> list[MailItem]:
    rows = await conn.fetch("SELECT * FROM mail_items WHERE delivery_id = $1 ORDER BY created_at, item_id", delivery_id)
    return [
        MailItem(
            coordinator_hsa_id=row["coordinator_hsa_id"],
            email=row["email"],
            care_unit_hsa_id=row["care_unit_hsa_id"],
            alert_id=row["alert_id"],
            kind=row["kind"],
            immediate=row["immediate"],
            send_at=row["send_at"],
            milestone_status=row["milestone_status"],
            due_date=row["due_date"],
            risk_level=row["risk_level"],
        )
        for row in rows
    ]


async def mark_sent(conn: asyncpg.Connection, delivery_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE deliveries SET state = 'SENT', attempts = attempts + 1, sent_at = now(), leased_until = NULL, last_error = NULL "
        "WHERE delivery_id = $1 AND state = 'PENDING'",
        delivery_id,
    )


async def mark_attempt_failed(conn: asyncpg.Connection, delivery_id: uuid.UUID, reason: str, retry_in_seconds: float | None) -> None:
    """A failed try: tried again after `retry_in_seconds`, or, with None, recorded as failed for good."""
    if retry_in_seconds is None:
        await conn.execute(
            "UPDATE deliveries SET state = 'FAILED', attempts = attempts + 1, failed_at = now(), leased_until = NULL, last_error = $2 "
            "WHERE delivery_id = $1 AND state = 'PENDING'",
            delivery_id,
            reason,
        )
        return
    await conn.execute(
        "UPDATE deliveries SET attempts = attempts + 1, retry_at = now() + make_interval(secs => $3), leased_until = NULL, last_error = $2 "
        "WHERE delivery_id = $1 AND state = 'PENDING'",
        delivery_id,
        reason,
        retry_in_seconds,
    )


async def backlog(conn: asyncpg.Connection) -> dict[str, int]:
    """Deliveries not yet sent or failed per channel; mail lines waiting for their digest count as one mail each coordinator."""
    rows = await conn.fetch("SELECT channel, count(*) AS n FROM deliveries WHERE state = 'PENDING' GROUP BY channel")
    counts = dict.fromkeys(CHANNELS, 0) | {row["channel"]: row["n"] for row in rows}
    waiting = await conn.fetchval("SELECT count(DISTINCT coordinator_hsa_id) FROM mail_items WHERE delivery_id IS NULL")
    counts[EMAIL] += waiting
    return counts


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivery as the API shows it: never its body or the mail's address."""

    delivery_id: uuid.UUID
    channel: str
    state: str
    attempts: int
    alert_id: str | None
    digest: bool
    not_before: datetime
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


async def deliveries_to(conn: asyncpg.Connection, channel: str, recipient: str, limit: int) -> list[DeliveryRecord]:
    rows = await conn.fetch(
        "SELECT * FROM deliveries WHERE channel = $1 AND recipient = $2 ORDER BY created_at DESC, delivery_id LIMIT $3", channel, recipient, limit
    )
    return [
        DeliveryRecord(
            delivery_id=row["delivery_id"],
            channel=row["channel"],
            state=row["state"],
            attempts=row["attempts"],
            alert_id=row["alert_id"],
            digest=row["digest"],
            not_before=row["not_before"],
            created_at=row["created_at"],
            sent_at=row["sent_at"],
            failed_at=row["failed_at"],
            last_error=row["last_error"],
        )
        for row in rows
    ]

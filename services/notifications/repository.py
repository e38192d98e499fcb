"""Notifications' table of alerts."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from operator import itemgetter

import asyncpg
import orjson

from shared.contracts.alerts import AlertChanged
from shared.contracts.risk_flags import RiskFlagChanged, RiskFlagReason
from shared.db import columns, last_per_key


async def lock_cases(conn: asyncpg.Connection, case_ids: Collection[str]) -> None:
    """Serialise, per case and until the transaction ends, the consumers that change its alerts.

    The milestone and risk-flag consumers place a case's alert at the unit the case facts name; the
    case consumer changes those facts and moves the case's alerts. Without a common lock each could
    miss the other's uncommitted row (a new alert, a new unit) and leave an alert at the old unit
    (docs/alert-lifecycle.md §3). The three are one consumer now (docs/architecture.md §4), so within
    an instance the lock orders a batch against another instance's batches during a rebalance. Each
    call takes its cases in sorted order; a batch calls once per topic, so two instances could still
    wait on each other in a circle, which PostgreSQL breaks by failing one, and that batch is retried.
    """
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('alerts-of-case'), hashtext(c)) FROM (SELECT unnest($1::text[]) AS c) AS cases",
        sorted(set(case_ids)),
    )


async def alerts_by_id(conn: asyncpg.Connection, alert_ids: Collection[str]) -> dict[str, AlertChanged]:
    # Locked: the case consumer changes alerts too, in its own transactions (docs/alert-lifecycle.md §3).
    rows = await conn.fetch("SELECT body FROM alerts WHERE alert_id = ANY($1::text[]) ORDER BY alert_id FOR UPDATE", list(alert_ids))
    alerts = [AlertChanged.model_validate(row["body"]) for row in rows]
    return {alert.alert_id: alert for alert in alerts}


async def alerts_of_cases(conn: asyncpg.Connection, case_ids: Collection[str]) -> dict[str, list[AlertChanged]]:
    """Every alert of these cases, locked until the transaction ends."""
    rows = await conn.fetch("SELECT body FROM alerts WHERE case_id = ANY($1::text[]) ORDER BY alert_id FOR UPDATE", list(case_ids))
    held: dict[str, list[AlertChanged]] = {}
    for row in rows:
        alert = AlertChanged.model_validate(row["body"])
        held.setdefault(alert.case_id, []).append(alert)
    return held


async def alerts_of_milestones(conn: asyncpg.Connection, milestones: Collection[tuple[str, str]]) -> dict[tuple[str, str], dict[str, AlertChanged]]:
    """The alerts kept for each (case id, milestone kind), by alert id (one per due date the milestone had)."""
    pairs = sorted(milestones)
    rows = await conn.fetch(
        "SELECT body FROM alerts WHERE (case_id, kind) IN (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY alert_id FOR UPDATE",
        [case_id for case_id, _ in pairs],
        [kind for _, kind in pairs],
    )
    held: dict[tuple[str, str], dict[str, AlertChanged]] = {}
    for row in rows:
        alert = AlertChanged.model_validate(row["body"])
        held.setdefault((alert.case_id, alert.kind), {})[alert.alert_id] = alert
    return held


async def save_alerts(conn: asyncpg.Connection, alerts: Iterable[AlertChanged], patients: Mapping[str, str] | None = None) -> None:
    """Store the alerts; `patients` names each one's patient pseudonym by alert id, for the access log."""
    patients = patients or {}
    rows = last_per_key(
        [
            (a.alert_id, a.care_unit_hsa_id, a.state.value, a.revision, a.model_dump(mode="json"), a.case_id, a.kind, patients.get(a.alert_id))
            for a in alerts
        ],
        itemgetter(0),
    )
    await conn.execute(
        "INSERT INTO alerts (alert_id, care_unit_hsa_id, state, milestone_revision, body, case_id, kind, patient_pseudonym) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::jsonb[], $6::text[], $7::text[], $8::text[]) "
        "ON CONFLICT (alert_id) DO UPDATE SET care_unit_hsa_id = excluded.care_unit_hsa_id, state = excluded.state, "
        "milestone_revision = excluded.milestone_revision, body = excluded.body, updated_at = now(), "
        "patient_pseudonym = coalesce(excluded.patient_pseudonym, alerts.patient_pseudonym)",
        *columns(rows, 8),
    )


async def patients_of_alerts(conn: asyncpg.Connection, alert_ids: Collection[str]) -> list[str]:
    """The pseudonyms of the patients the alerts are about, as far as they are known."""
    rows = await conn.fetch(
        "SELECT DISTINCT patient_pseudonym FROM alerts WHERE alert_id = ANY($1::text[]) AND patient_pseudonym IS NOT NULL",
        list(alert_ids),
    )
    return sorted(row["patient_pseudonym"] for row in rows)


async def alerts_of_unit(conn: asyncpg.Connection, care_unit_hsa_id: str, state: str | None) -> list[AlertChanged]:
    rows = await conn.fetch(
        "SELECT body FROM alerts WHERE care_unit_hsa_id = $1 AND ($2::text IS NULL OR state = $2) ORDER BY updated_at DESC, alert_id",
        care_unit_hsa_id,
        state,
    )
    return [AlertChanged.model_validate(row["body"]) for row in rows]


async def recent_alerts(conn: asyncpg.Connection, limit: int, care_unit_hsa_ids: Collection[str]) -> list[AlertChanged]:
    rows = await conn.fetch(
        "SELECT body FROM alerts WHERE care_unit_hsa_id = ANY($2::text[]) ORDER BY updated_at DESC, alert_id LIMIT $1",
        limit,
        list(care_unit_hsa_ids),
    )
    return [AlertChanged.model_validate(row["body"]) for row in rows]


async def save_risk_flag_reasons(conn: asyncpg.Connection, flags: Iterable[RiskFlagChanged]) -> None:
    """Keep each case's newest flag with its reasons and evidence; an older flag delivered late changes nothing."""
    newest: dict[str, RiskFlagChanged] = {}
    for flag in flags:
        if flag.case_id not in newest or newest[flag.case_id].revision < flag.revision:
            newest[flag.case_id] = flag
    if not newest:
        return
    rows = [
        (flag.case_id, flag.level.value, flag.revision, orjson.dumps([reason.model_dump(mode="json") for reason in flag.reasons]).decode())
        for flag in newest.values()
    ]
    await conn.execute(
        "INSERT INTO risk_flag_reasons (case_id, level, revision, reasons) "
        "SELECT c, l, r, x::jsonb FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS t(c, l, r, x) "
        "ON CONFLICT (case_id) DO UPDATE SET level = excluded.level, revision = excluded.revision, reasons = excluded.reasons "
        "WHERE risk_flag_reasons.revision < excluded.revision",
        *columns(rows, 4),
    )


async def risk_flag_reasons(conn: asyncpg.Connection, case_ids: Collection[str]) -> dict[str, tuple[RiskFlagReason, ...]]:
    """The reasons of each case's newest flag, with their evidence (for the worklist and the patient page)."""
    rows = await conn.fetch("SELECT case_id, reasons FROM risk_flag_reasons WHERE case_id = ANY($1::text[])", list(case_ids))
    return {row["case_id"]: tuple(RiskFlagReason.model_validate(reason) for reason in row["reasons"]) for row in rows}


async def alerts_of_case(conn: asyncpg.Connection, case_id: str) -> list[AlertChanged]:
    """Every alert of the case, open or withdrawn (the patient page's timeline)."""
    rows = await conn.fetch("SELECT body FROM alerts WHERE case_id = $1 ORDER BY alert_id", case_id)
    return [AlertChanged.model_validate(row["body"]) for row in rows]

"""Each coordinator's state of each alert, and the worklist's read: for these units, the patients
and their open alerts (docs/alert-lifecycle.md)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from services.notifications import case_facts_store
from services.notifications.alert_lifecycle import Attention, AttentionStatus, AttentionView, attention_on
from services.notifications.case_facts import CaseFacts
from shared.contracts.alerts import AlertChanged, AlertState


@dataclass(frozen=True)
class HeldAlert:
    alert: AlertChanged
    patient_pseudonym: str | None


async def alert_for_update(conn: asyncpg.Connection, alert_id: str) -> HeldAlert | None:
    """One alert, locked until the transaction ends (a coordinator's state of it is about to change)."""
    row = await conn.fetchrow("SELECT body, patient_pseudonym FROM alerts WHERE alert_id = $1 FOR UPDATE", alert_id)
    return HeldAlert(AlertChanged.model_validate(row["body"]), row["patient_pseudonym"]) if row is not None else None


def _attention(row: asyncpg.Record) -> Attention | None:
    if row["status"] is None:
        return None
    return Attention(status=AttentionStatus(row["status"]), seen_at=row["seen_at"], handled_at=row["handled_at"], remind_on=row["remind_on"])


async def attention_of(conn: asyncpg.Connection, alert_ids: Collection[str], coordinator_hsa_id: str) -> dict[str, Attention]:
    rows = await conn.fetch(
        "SELECT alert_id, status, seen_at, handled_at, remind_on FROM alert_attention WHERE alert_id = ANY($1::text[]) AND coordinator_hsa_id = $2",
        list(alert_ids),
        coordinator_hsa_id,
    )
    return {row["alert_id"]: attention for row in rows if (attention := _attention(row)) is not None}


async def save_attention(conn: asyncpg.Connection, alert_id: str, coordinator_hsa_id: str, attention: Attention, at: datetime) -> None:
    """Store her new state of the alert, and the change in the history (who and when)."""
    await conn.execute(
        "INSERT INTO alert_attention (alert_id, coordinator_hsa_id, status, seen_at, handled_at, remind_on) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (alert_id, coordinator_hsa_id) DO UPDATE SET status = excluded.status, seen_at = excluded.seen_at, "
        "handled_at = excluded.handled_at, remind_on = excluded.remind_on, updated_at = now()",
        alert_id,
        coordinator_hsa_id,
        attention.status.value,
        attention.seen_at,
        attention.handled_at,
        attention.remind_on,
    )
    await conn.execute(
        "INSERT INTO alert_attention_history (alert_id, coordinator_hsa_id, status, remind_on, at) VALUES ($1, $2, $3, $4, $5)",
        alert_id,
        coordinator_hsa_id,
        attention.status.value,
        attention.remind_on,
        at,
    )


async def forget_attention(conn: asyncpg.Connection, alert_ids: Collection[str]) -> None:
    """An alert announced again (a risk flag back after it was withdrawn) is news to everyone again."""
    if alert_ids:
        await conn.execute("DELETE FROM alert_attention WHERE alert_id = ANY($1::text[])", list(alert_ids))


async def attention_history(conn: asyncpg.Connection, alert_ids: Collection[str]) -> list[tuple[str, str, str, date | None, datetime]]:
    """(alert id, coordinator, status, remind on, when) of every change, oldest first: for a patient's timeline."""
    rows = await conn.fetch(
        "SELECT alert_id, coordinator_hsa_id, status, remind_on, at FROM alert_attention_history WHERE alert_id = ANY($1::text[]) ORDER BY at, id",
        list(alert_ids),
    )
    return [(row["alert_id"], row["coordinator_hsa_id"], row["status"], row["remind_on"], row["at"]) for row in rows]


@dataclass(frozen=True)
class AlertForCoordinator:
    alert: AlertChanged
    attention: AttentionView


@dataclass(frozen=True)
class PatientWork:
    """One patient of the worklist: her existing cases (at any unit) and the open alerts at the asked units."""

    patient_pseudonym: str
    cases: tuple[CaseFacts, ...]
    alerts: tuple[AlertForCoordinator, ...]

    @property
    def needs_attention(self) -> bool:
        return any(item.attention.needs_attention for item in self.alerts)


async def worklist(
    conn: asyncpg.Connection, care_unit_hsa_ids: Collection[str], coordinator_hsa_id: str, today: date, *, with_ongoing_cases: bool = True
) -> list[PatientWork]:
    """For these units: the patients with open alerts there (and, with `with_ongoing_cases`, every
    patient with a case ongoing there today), each with her cases and open alerts as they stand for
    this coordinator. Three indexed queries whatever the number of patients; by pseudonym.

    The caller shows patient-level data: it writes the access-log row, and names the patients
    through `identity_store.identity_listing` (protected ones only counted).
    """
    rows = await conn.fetch(
        "SELECT a.body, a.patient_pseudonym, t.status, t.seen_at, t.handled_at, t.remind_on FROM alerts a "
        "LEFT JOIN alert_attention t ON t.alert_id = a.alert_id AND t.coordinator_hsa_id = $2 "
        "WHERE a.care_unit_hsa_id = ANY($1::text[]) AND a.state = 'OPEN' ORDER BY a.alert_id",
        list(care_unit_hsa_ids),
        coordinator_hsa_id,
    )
    alerts: dict[str, list[AlertForCoordinator]] = {}
    for row in rows:
        alert = AlertChanged.model_validate(row["body"])
        patient = row["patient_pseudonym"]
        if patient is None:
            continue  # an alert stored before alerts kept their patient (migration 003): not placeable
        alerts.setdefault(patient, []).append(AlertForCoordinator(alert, attention_on(_attention(row), AlertState.OPEN, today)))
    patients = set(alerts)
    if with_ongoing_cases:
        patients |= await case_facts_store.patients_with_ongoing_cases(conn, care_unit_hsa_ids, today)
    cases = await case_facts_store.case_facts_of_patients(conn, patients)
    return [PatientWork(patient, tuple(cases.get(patient, ())), tuple(alerts.get(patient, ()))) for patient in sorted(patients)]

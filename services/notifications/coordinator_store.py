"""Notifications' tables of coordinators, their care units and their stand-ins (docs/coordinators.md)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Literal

import asyncpg

from services.notifications.coordinators import Coordinator, StandIn

Source = Literal["api", "file"]

_READ = (
    "SELECT c.hsa_id, c.name, "
    "coalesce((SELECT array_agg(u.care_unit_hsa_id ORDER BY u.care_unit_hsa_id) FROM coordinator_units u "
    "WHERE u.coordinator_hsa_id = c.hsa_id), '{}') AS care_units, "
    "coalesce((SELECT jsonb_agg(jsonb_build_object('standInHsaId', s.stand_in_hsa_id, 'from', s.from_date, 'to', s.to_date) "
    "ORDER BY s.from_date) FROM coordinator_stand_ins s WHERE s.coordinator_hsa_id = c.hsa_id), '[]') AS stand_ins "
    "FROM coordinators c "
)


def _coordinator(row: asyncpg.Record) -> Coordinator:
    # Built without validation: rows from the file and the API together may break a rule a single
    # request is held to (overlapping periods), and a read must answer all the same.
    stand_ins = tuple(
        StandIn.model_construct(
            stand_in_hsa_id=item["standInHsaId"], from_date=date.fromisoformat(item["from"]), to_date=date.fromisoformat(item["to"])
        )
        for item in row["stand_ins"]
    )
    return Coordinator.model_construct(hsa_id=row["hsa_id"], name=row["name"], care_units=frozenset(row["care_units"]), stand_ins=stand_ins)


async def coordinator(conn: asyncpg.Connection, hsa_id: str) -> Coordinator | None:
    row = await conn.fetchrow(_READ + "WHERE c.hsa_id = $1", hsa_id)
    return _coordinator(row) if row is not None else None


async def coordinators_of_units(conn: asyncpg.Connection, care_unit_hsa_ids: Collection[str]) -> list[Coordinator]:
    """Every coordinator of any of these units, with all her units and stand-ins."""
    rows = await conn.fetch(
        _READ + "WHERE c.hsa_id IN (SELECT coordinator_hsa_id FROM coordinator_units WHERE care_unit_hsa_id = ANY($1::text[])) ORDER BY c.hsa_id",
        list(care_unit_hsa_ids),
    )
    return [_coordinator(row) for row in rows]


async def coordinators_around(conn: asyncpg.Connection, hsa_id: str) -> list[Coordinator]:
    """The person herself, if she coordinates, and every coordinator she is ever a stand-in for:
    what `units_covered_by` needs to tell whose units reach her on a day."""
    rows = await conn.fetch(
        _READ + "WHERE c.hsa_id = $1 OR c.hsa_id IN (SELECT coordinator_hsa_id FROM coordinator_stand_ins WHERE stand_in_hsa_id = $1) "
        "ORDER BY c.hsa_id",
        hsa_id,
    )
    return [_coordinator(row) for row in rows]


async def save_coordinator(conn: asyncpg.Connection, saved: Coordinator, *, by: str, source: Source = "api") -> None:
    """Make the stored coordinator exactly `saved`; rows that stay keep who made them and when."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO coordinators (hsa_id, name, updated_by) VALUES ($1, $2, $3) "
            "ON CONFLICT (hsa_id) DO UPDATE SET name = excluded.name, updated_by = excluded.updated_by, updated_at = now()",
            saved.hsa_id,
            saved.name,
            by,
        )
        await conn.execute(
            "DELETE FROM coordinator_units WHERE coordinator_hsa_id = $1 AND NOT (care_unit_hsa_id = ANY($2::text[]))",
            saved.hsa_id,
            sorted(saved.care_units),
        )
        await _add_units(conn, [(saved.hsa_id, unit) for unit in sorted(saved.care_units)], by=by, source=source)
        keys = [(stand_in.stand_in_hsa_id, stand_in.from_date) for stand_in in saved.stand_ins]
        await conn.execute(
            "DELETE FROM coordinator_stand_ins WHERE coordinator_hsa_id = $1 "
            "AND (stand_in_hsa_id, from_date) NOT IN (SELECT * FROM unnest($2::text[], $3::date[]))",
            saved.hsa_id,
            [stand_in for stand_in, _ in keys],
            [from_date for _, from_date in keys],
        )
        await _add_stand_ins(conn, [(saved.hsa_id, stand_in) for stand_in in saved.stand_ins], by=by, source=source)


async def _add_units(conn: asyncpg.Connection, pairs: Sequence[tuple[str, str]], *, by: str, source: Source) -> None:
    await conn.execute(
        "INSERT INTO coordinator_units (coordinator_hsa_id, care_unit_hsa_id, source, assigned_by) "
        "SELECT c, u, $3, $4 FROM unnest($1::text[], $2::text[]) AS r(c, u) ON CONFLICT DO NOTHING",
        [coordinator for coordinator, _ in pairs],
        [unit for _, unit in pairs],
        source,
        by,
    )


async def _add_stand_ins(conn: asyncpg.Connection, stand_ins: Sequence[tuple[str, StandIn]], *, by: str, source: Source) -> None:
    await conn.execute(
        "INSERT INTO coordinator_stand_ins (coordinator_hsa_id, stand_in_hsa_id, from_date, to_date, source, set_by) "
        "SELECT c, s, f, t, $5, $6 FROM unnest($1::text[], $2::text[], $3::date[], $4::date[]) AS r(c, s, f, t) "
        "ON CONFLICT (coordinator_hsa_id, stand_in_hsa_id, from_date) DO UPDATE SET to_date = excluded.to_date, "
        "set_by = excluded.set_by, set_at = now() WHERE coordinator_stand_ins.to_date <> excluded.to_date",
        [coordinator for coordinator, _ in stand_ins],
        [stand_in.stand_in_hsa_id for _, stand_in in stand_ins],
        [stand_in.from_date for _, stand_in in stand_ins],
        [stand_in.to_date for _, stand_in in stand_ins],
        source,
        by,
    )


async def delete_coordinator(conn: asyncpg.Connection, hsa_id: str) -> bool:
    status: str = await conn.execute("DELETE FROM coordinators WHERE hsa_id = $1", hsa_id)
    return status != "DELETE 0"


async def load_file(conn: asyncpg.Connection, listed: Iterable[Coordinator], *, file_name: str) -> None:
    """Make what the start-up file loaded equal to what it lists now; what the API set stays.

    Loading the same file twice changes nothing; a unit or stand-in gone from the file goes from
    the tables, unless the API set it.
    """
    coordinators = list(listed)
    by = f"file:{file_name}"
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO coordinators (hsa_id, name, updated_by) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS r(h, n, b) "
            "ON CONFLICT (hsa_id) DO UPDATE SET name = coalesce(excluded.name, coordinators.name) "
            "WHERE coordinators.name IS DISTINCT FROM coalesce(excluded.name, coordinators.name)",
            [c.hsa_id for c in coordinators],
            [c.name for c in coordinators],
            [by] * len(coordinators),
        )
        pairs = [(c.hsa_id, unit) for c in coordinators for unit in sorted(c.care_units)]
        await conn.execute(
            "DELETE FROM coordinator_units WHERE source = 'file' "
            "AND (coordinator_hsa_id, care_unit_hsa_id) NOT IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            [c for c, _ in pairs],
            [u for _, u in pairs],
        )
        await _add_units(conn, pairs, by=by, source="file")
        stand_ins = [(c.hsa_id, stand_in) for c in coordinators for stand_in in c.stand_ins]
        await conn.execute(
            "DELETE FROM coordinator_stand_ins WHERE source = 'file' "
            "AND (coordinator_hsa_id, stand_in_hsa_id, from_date) NOT IN (SELECT * FROM unnest($1::text[], $2::text[], $3::date[]))",
            [c for c, _ in stand_ins],
            [s.stand_in_hsa_id for _, s in stand_ins],
            [s.from_date for _, s in stand_ins],
        )
        await _add_stand_ins(conn, stand_ins, by=by, source="file")

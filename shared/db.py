"""asyncpg pools, one schema per service, and forward-only SQL migrations."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import orjson

T = TypeVar("T")

PLATFORM_MIGRATIONS = Path(str(resources.files("shared") / "migrations"))
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"not a plain schema name: {schema!r}")
    return schema


def last_per_key(rows: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """One row per key, the last one given, in first-seen order.

    An `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE` may not touch a row twice; a batch
    written in one statement keeps what row-by-row writes would have left: the last.
    """
    kept: dict[Hashable, T] = {}
    for row in rows:
        kept[key(row)] = row
    return list(kept.values())


def columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows turned into one list per column, for `unnest($1::type[], ...)`."""
    return [[row[index] for row in rows] for index in range(width)]


def json_text(value: Any) -> str:
    # Keys that are numbers (counts by degree, say) become text, as the standard library would.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json_text, decoder=orjson.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json_text, decoder=orjson.loads, schema="pg_catalog")


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool (docs/architecture.md §3).

    asyncpg has rolled back an open transaction and dropped its own listeners by then. Its default
    reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every release, one
    more round trip per batch and relay round, for session state the services never leave behind:
    settings are `SET LOCAL`, advisory locks are the transaction's own (migrations unlock theirs),
    and the relay's listener unlistens before it is released.
    """


async def create_pool(database_url: str, schema: str, *, size: int = 3) -> asyncpg.Pool:
    schema = check_schema_name(schema)
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"search_path": schema, "application_name": f"reko-{schema}"},
    )
    assert pool is not None
    return pool


async def migrate(pool: asyncpg.Pool, schema: str, *directories: Path) -> list[str]:
    """Create the schema and apply, in file-name order, every `*.sql` not applied yet.

    An advisory lock lets several instances start at once; each file runs in its own transaction.
    """
    schema = check_schema_name(schema)
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        # The lock first: two CREATE SCHEMA IF NOT EXISTS at once can both try to create it.
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrate:{schema}")
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row["name"] for row in await conn.fetch(f"SELECT name FROM {schema}.schema_migrations")}
            files = [path for directory in directories for path in sorted(directory.glob("*.sql"))]
            for path in files:
                name = f"{path.parent.name}/{path.name}" if path.parent == PLATFORM_MIGRATIONS else path.name
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {schema}")
                    await conn.execute(path.read_text())
                    await conn.execute(f"INSERT INTO {schema}.schema_migrations (name) VALUES ($1)", name)
                applied_now.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrate:{schema}")
    return applied_now

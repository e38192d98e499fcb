"""`python -m services.stats` (or `reko-stats`): run the stats service.

`python -m services.stats load-listings FILE` loads listed patients per unit and month (docs/statistics.md §5);
`python -m services.stats rebuild` makes the kept aggregates again from the stored case facts (docs/statistics.md §7).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from services.stats import repository
from services.stats.app import MIGRATIONS, create_app
from services.stats.listings import BadListing, parse_listings
from services.stats.settings import StatsSettings
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.service import serve


async def load_listings(settings: StatsSettings, text: str) -> int:
    listings = parse_listings(text)
    pool = await create_pool(settings.database_url, settings.database_schema or "stats", size=1)
    try:
        await migrate(pool, settings.database_schema or "stats", PLATFORM_MIGRATIONS, MIGRATIONS)
        async with pool.acquire() as conn, conn.transaction():
            await repository.store_listings(conn, [(item.care_unit_hsa_id, item.month, item.sex, item.listed) for item in listings])
    finally:
        await pool.close()
    return len(listings)


async def rebuild(settings: StatsSettings) -> int:
    pool = await create_pool(settings.database_url, settings.database_schema or "stats", size=1)
    try:
        await migrate(pool, settings.database_schema or "stats", PLATFORM_MIGRATIONS, MIGRATIONS)
        async with pool.acquire() as conn, conn.transaction():
            return await repository.rebuild_boundaries(conn)
    finally:
        await pool.close()


def main(argv: Sequence[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    settings = StatsSettings()
    if arguments[:1] == ["load-listings"]:
        if len(arguments) != 2:
            sys.exit("usage: python -m services.stats load-listings FILE")
        try:
            loaded = asyncio.run(load_listings(settings, Path(arguments[1]).read_text(encoding="utf-8-sig")))
        except BadListing as bad:
            sys.exit(f"the listing was not loaded: {bad}")
        print(f"loaded {loaded} listings")
        return
    if arguments[:1] == ["rebuild"]:
        print(f"rebuilt the aggregates: {asyncio.run(rebuild(settings))} cells")
        return
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()

"""The stats service: gender-split sick-leave aggregates, served over HTTP."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.stats import api, dashboard, handlers
from services.stats.settings import StatsSettings
from shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: StatsSettings | None = None) -> FastAPI:
    settings = settings or StatsSettings()
    runtime = ServiceRuntime("stats", settings, MIGRATIONS, description="Keeps gender-split sick-leave statistics per care unit and serves them.")
    handlers.register(runtime, settings)
    app = runtime.http_app(routers=[api.router(runtime, settings), dashboard.router(settings, runtime.clock)])
    # The dashboard's script, styles and chart library: served from here, never from a CDN (docs/statistics.md §6).
    app.mount("/static", StaticFiles(directory=dashboard.STATIC), name="static")
    return app

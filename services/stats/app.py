"""The stats service: gender-split sick-leave aggregates, served over HTTP."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.stats import api, handlers
from services.stats.settings import StatsSettings
from shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: StatsSettings | None = None) -> FastAPI:
    settings = settings or StatsSettings()
    runtime = ServiceRuntime("stats", settings, MIGRATIONS, description="Keeps gender-split sick-leave statistics per care unit and serves them.")
    handlers.register(runtime, settings)
    return runtime.http_app(routers=[api.router(runtime, settings)])

"""The milestones service: rehabkedja checkpoints and the 30-day plan, on a durable clock."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.milestones import api, handlers
from services.milestones.settings import MilestonesSettings
from shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: MilestonesSettings | None = None) -> FastAPI:
    settings = settings or MilestonesSettings()
    runtime = ServiceRuntime(
        "milestones",
        settings,
        MIGRATIONS,
        description="Computes rehabiliteringskedjan checkpoints and the employer's 30-day plan for every sick-leave case.",
    )
    handlers.register(runtime, settings)
    return runtime.http_app(routers=[api.what_if_router(runtime, settings)])

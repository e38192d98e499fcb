"""The intake service: validates the certificate feed, pseudonymises, assembles sick-leave cases."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.intake import handlers
from services.intake.settings import IntakeSettings
from shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime(
        "intake",
        settings,
        MIGRATIONS,
        description="Validates FK 7804 certificate events, pseudonymises patients and publishes sick-leave case changes.",
    )
    handlers.register(runtime, settings)
    return runtime.http_app()

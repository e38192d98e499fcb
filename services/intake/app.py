"""The intake service: validates the certificate feed, pseudonymises, assembles sick-leave cases."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI

from services.intake import audit_api, handlers
from services.intake.api import inspection_router
from services.intake.ingestion_api import ingestion_router
from services.intake.settings import IntakeSettings
from shared.auth import Role, authenticator, require_role
from shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        "intake",
        settings,
        MIGRATIONS,
        description="Validates FK 7804 certificate events, pseudonymises patients and publishes sick-leave case changes.",
    )
    handlers.register(runtime, settings)
    # Only a system holding CERTIFICATE_SOURCE may put events into the feed over HTTP.
    certificate_source = Depends(require_role(authenticator(settings.auth), Role.CERTIFICATE_SOURCE))
    return runtime.http_app(
        routers=[
            ingestion_router(runtime, settings, dependencies=[certificate_source]),
            inspection_router(runtime, settings),
            audit_api.router(runtime, settings),
        ]
    )

"""The notifications service: alerts the coordinators of the responsible care unit."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.notifications import (
    api,
    attention_api,
    case_consumer,
    casework_api,
    channels_api,
    coordinators_api,
    delivery_worker,
    handlers,
    identity_consumer,
    pages,
)
from services.notifications.coordinators_file import register_coordinators_file
from services.notifications.settings import NotificationsSettings
from shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(
        "notifications", settings, MIGRATIONS, description="Turns milestone states into alerts for the rehabkoordinatorer of a care unit."
    )
    # One consumer for the three topics that change a case's alerts: they lock the same cases, and apart
    # they waited on each other's locks and paid a transaction each (docs/architecture.md §4). Case
    # facts first, so the alerts of the batch's milestones and flags go to the unit the case is at.
    runtime.consume(case_consumer.case_subscription(runtime, settings), *handlers.alert_subscriptions(runtime, settings))
    identity_consumer.register_identities(runtime, settings)
    register_coordinators_file(runtime, settings)
    delivery_worker.register(runtime, settings)
    app = runtime.http_app(
        routers=[
            api.router(runtime, settings),
            attention_api.router(runtime, settings),
            casework_api.install(runtime, settings),
            coordinators_api.router(runtime, settings),
            channels_api.router(runtime, settings),
            channels_api.webhook_router(runtime, settings),
        ]
    )
    pages.install(app, runtime, settings)
    return app

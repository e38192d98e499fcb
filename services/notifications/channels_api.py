"""The alert channels' HTTP API (docs/alert-channels.md §6): a coordinator's mail preferences and her mails.

Nothing here is patient data: preferences, subscriptions and deliveries name units, alert ids and
states, so no access-log row is written.
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from datetime import datetime, time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.notifications import delivery_repository
from services.notifications.delivery_repository import EMAIL, ContactPreferences, DeliveryRecord
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthenticatedUser, Role, authenticator, require_role
from shared.http_errors import PathIdentifier
from shared.service import ServiceRuntime

# An address as a mail server takes it; what it means is the coordinator's to say.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,188}\.[A-Za-z]{2,63}$"
HSA_ID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")]


class ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")


class NotificationPreferences(ApiModel):
    """What a coordinator chooses: where mail goes, for which of her units, at once or not, and the digest's time."""

    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    care_unit_hsa_ids: list[HSA_ID] = Field(default_factory=list, max_length=50)
    immediate: bool = True
    digest_time: time | None = None


class StoredPreferences(ApiModel):
    coordinator_hsa_id: str
    email: str
    care_unit_hsa_ids: list[str]
    immediate: bool
    digest_time: time
    updated_at: datetime | None


class Delivery(ApiModel):
    delivery_id: UUID
    channel: str
    state: str
    attempts: int
    alert_id: str | None
    digest: bool
    not_before: datetime
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


def delivery_view(record: DeliveryRecord) -> Delivery:
    return Delivery(
        delivery_id=record.delivery_id,
        channel=record.channel,
        state=record.state,
        attempts=record.attempts,
        alert_id=record.alert_id,
        digest=record.digest,
        not_before=record.not_before,
        created_at=record.created_at,
        sent_at=record.sent_at,
        failed_at=record.failed_at,
        last_error=record.last_error,
    )


def _stored_view(preferences: ContactPreferences) -> StoredPreferences:
    return StoredPreferences(
        coordinator_hsa_id=preferences.coordinator_hsa_id,
        email=preferences.email,
        care_unit_hsa_ids=list(preferences.care_unit_hsa_ids),
        immediate=preferences.immediate,
        digest_time=preferences.digest_time,
        updated_at=preferences.updated_at,
    )


def _check_herself(user: AuthenticatedUser, coordinator_hsa_id: str) -> None:
    # Her address and her hours are hers to set: not even a coordinator of the same unit sets them.
    if user.hsa_id != coordinator_hsa_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the coordinator herself reads or sets her notification preferences")


def router(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    api = APIRouter(tags=["alert channels"])
    authenticate = authenticator(settings.auth)
    coordinator = require_role(authenticate, Role.REHABKOORDINATOR)

    @api.put("/coordinators/{coordinator_hsa_id}/notification-preferences", response_model=StoredPreferences, response_model_by_alias=True)
    async def set_preferences(
        coordinator_hsa_id: PathIdentifier, preferences: NotificationPreferences, user: Annotated[AuthenticatedUser, Depends(coordinator)]
    ) -> StoredPreferences:
        """Set the coordinator's own mail preferences; she receives mail only for units she acts for."""
        _check_herself(user, coordinator_hsa_id)
        if not set(preferences.care_unit_hsa_ids) <= user.care_units:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "mail can be received only for care units you act for")
        async with runtime.pool.acquire() as conn:
            stored = await delivery_repository.save_preferences(
                conn,
                ContactPreferences(
                    coordinator_hsa_id=coordinator_hsa_id,
                    email=preferences.email,
                    care_unit_hsa_ids=tuple(preferences.care_unit_hsa_ids),
                    immediate=preferences.immediate,
                    digest_time=preferences.digest_time or settings.mail.default_digest_time,
                    updated_by=user.hsa_id,
                ),
            )
        return _stored_view(stored)

    @api.get("/coordinators/{coordinator_hsa_id}/notification-preferences", response_model=StoredPreferences, response_model_by_alias=True)
    async def get_preferences(coordinator_hsa_id: PathIdentifier, user: Annotated[AuthenticatedUser, Depends(coordinator)]) -> StoredPreferences:
        _check_herself(user, coordinator_hsa_id)
        async with runtime.pool.acquire() as conn:
            stored = await delivery_repository.preferences_of(conn, coordinator_hsa_id)
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no notification preferences are set")
        return _stored_view(stored)

    @api.get("/coordinators/{coordinator_hsa_id}/mail-deliveries", response_model=list[Delivery], response_model_by_alias=True)
    async def mail_deliveries(
        coordinator_hsa_id: PathIdentifier,
        user: Annotated[AuthenticatedUser, Depends(coordinator)],
        limit: int = Query(default=50, ge=1, le=500),
    ) -> list[Delivery]:
        """The coordinator's mails, newest first: when each may go, whether it went, and why not."""
        _check_herself(user, coordinator_hsa_id)
        async with runtime.pool.acquire() as conn:
            records = await delivery_repository.deliveries_to(conn, EMAIL, coordinator_hsa_id, limit)
        return [delivery_view(record) for record in records]

    return api

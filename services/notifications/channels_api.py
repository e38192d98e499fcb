"""The alert channels' HTTP API (docs/alert-channels.md §6): a coordinator's mail preferences and her mails.

Nothing here is patient data: preferences, subscriptions and deliveries name units, alert ids and
states, so no access-log row is written.
"""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(...)` annotations of the
# closures below at runtime, and the dependencies exist only in the factory's scope.

from datetime import datetime, time
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator
from pydantic.alias_generators import to_camel

from services.notifications import delivery_repository, webhooks
from services.notifications.deliveries import SubscriptionScope, WebhookSubscription
from services.notifications.delivery_repository import EMAIL, WEBHOOK, ContactPreferences, DeliveryRecord, StoredSubscription
from services.notifications.settings import NotificationsSettings
from shared.auth import AuthenticatedUser, Role, authenticator, require_role
from shared.contracts.alerts import RISK_FLAG_ALERT_KIND
from shared.contracts.milestones import MilestoneKind
from shared.http_errors import PathIdentifier, unprocessable_field
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
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Bara koordinatorn själv kan läsa eller ändra sina aviseringsinställningar.")


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
            raise HTTPException(status.HTTP_403_FORBIDDEN, "E-post kan bara tas emot för vårdenheter du arbetar för.")
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
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Inga aviseringsinställningar är sparade.")
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


# --- webhook subscriptions ---------------------------------------------------------------------

# The alert kinds a subscription may ask for; NEXT_STEP comes from the coordinator's plan.
ALERT_KINDS = frozenset({*(kind.value for kind in MilestoneKind), RISK_FLAG_ALERT_KIND, "NEXT_STEP"})
UNIT_MANAGERS = (Role.REHABKOORDINATOR, Role.VERKSAMHETSCHEF)


class NewSubscription(ApiModel):
    scope: SubscriptionScope
    care_unit_hsa_id: HSA_ID | None = None
    url: HttpUrl = Field(max_length=2000)
    # Empty for every kind.
    event_kinds: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("event_kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        if not set(kinds) <= ALERT_KINDS:
            raise ValueError(f"each kind must be one of {', '.join(sorted(ALERT_KINDS))}")
        return kinds

    @model_validator(mode="after")
    def _unit_for_unit_scope(self) -> "NewSubscription":
        if (self.scope is SubscriptionScope.UNIT) != (self.care_unit_hsa_id is not None):
            raise ValueError("careUnitHsaId is required for scope UNIT and not allowed for scope REGION")
        return self


class Subscription(ApiModel):
    subscription_id: UUID
    scope: SubscriptionScope
    care_unit_hsa_id: str | None
    url: str
    event_kinds: list[str]
    created_by: str
    created_at: datetime


class CreatedSubscription(Subscription):
    # Shown once, at creation: the key the receiver verifies signatures with.
    secret: str


def _subscription_view(stored: StoredSubscription) -> Subscription:
    subscription = stored.subscription
    return Subscription(
        subscription_id=UUID(subscription.subscription_id),
        scope=subscription.scope,
        care_unit_hsa_id=subscription.care_unit_hsa_id,
        url=subscription.url,
        event_kinds=sorted(subscription.event_kinds),
        created_by=stored.created_by,
        created_at=stored.created_at,
    )


def may_manage(user: AuthenticatedUser, scope: SubscriptionScope, care_unit_hsa_id: str | None) -> bool:
    """The regional office manages every subscription; a unit's coordinators and its manager, the unit's."""
    if user.has_any_role([Role.REGIONKONTOR]):
        return True
    return scope is SubscriptionScope.UNIT and care_unit_hsa_id is not None and user.has_any_role(UNIT_MANAGERS) and user.acts_for(care_unit_hsa_id)


def webhook_router(runtime: ServiceRuntime, settings: NotificationsSettings) -> APIRouter:
    api = APIRouter(tags=["alert channels"])
    authenticate = authenticator(settings.auth)
    manager = require_role(authenticate, Role.REGIONKONTOR, *UNIT_MANAGERS)

    async def visible(subscription_id: UUID, user: AuthenticatedUser) -> StoredSubscription:
        async with runtime.pool.acquire() as conn:
            stored = await delivery_repository.subscription(conn, subscription_id)
        # One answer for "no such subscription" and "not yours": the refusal says nothing of others' subscriptions.
        if stored is None or not may_manage(user, stored.subscription.scope, stored.subscription.care_unit_hsa_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Webhook-prenumerationen finns inte.")
        return stored

    @api.post("/webhook-subscriptions", status_code=201, response_model=CreatedSubscription, response_model_by_alias=True)
    async def create(new: NewSubscription, user: Annotated[AuthenticatedUser, Depends(manager)]) -> CreatedSubscription:
        """Subscribe a URL to a unit's or the region's alert changes; the answer holds the signing secret, once."""
        if not may_manage(user, new.scope, new.care_unit_hsa_id):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                ("En regions prenumerationer kräver REGIONKONTOR; en vårdenhets kräver dess koordinator eller verksamhetschef."),
            )
        if settings.webhooks.require_https and new.url.scheme != "https":
            raise unprocessable_field("body.url", "must be an https URL")
        secret = webhooks.new_secret()
        subscription = WebhookSubscription(
            subscription_id=str(uuid4()),
            scope=new.scope,
            url=str(new.url),
            care_unit_hsa_id=new.care_unit_hsa_id,
            event_kinds=frozenset(new.event_kinds),
        )
        async with runtime.pool.acquire() as conn:
            stored = await delivery_repository.create_subscription(conn, subscription, secret, user.hsa_id)
        return CreatedSubscription(**_subscription_view(stored).model_dump(), secret=secret)

    @api.get("/webhook-subscriptions", response_model=list[Subscription], response_model_by_alias=True)
    async def list_subscriptions(user: Annotated[AuthenticatedUser, Depends(manager)]) -> list[Subscription]:
        """The subscriptions the user manages: all for the regional office, her units' for a coordinator or manager."""
        units = None if user.has_any_role([Role.REGIONKONTOR]) else sorted(user.care_units)
        async with runtime.pool.acquire() as conn:
            stored = await delivery_repository.subscriptions(conn, units)
        return [_subscription_view(one) for one in stored if may_manage(user, one.subscription.scope, one.subscription.care_unit_hsa_id)]

    @api.get("/webhook-subscriptions/{subscription_id}", response_model=Subscription, response_model_by_alias=True)
    async def get_subscription(subscription_id: UUID, user: Annotated[AuthenticatedUser, Depends(manager)]) -> Subscription:
        return _subscription_view(await visible(subscription_id, user))

    @api.delete("/webhook-subscriptions/{subscription_id}", status_code=204)
    async def delete(subscription_id: UUID, user: Annotated[AuthenticatedUser, Depends(manager)]) -> Response:
        """No new delivery goes to it; pending ones are recorded as failed. Its deliveries stay readable to the regional office."""
        await visible(subscription_id, user)
        async with runtime.pool.acquire() as conn:
            await delivery_repository.delete_subscription(conn, subscription_id)
        return Response(status_code=204)

    @api.get("/webhook-subscriptions/{subscription_id}/deliveries", response_model=list[Delivery], response_model_by_alias=True)
    async def subscription_deliveries(
        subscription_id: UUID, user: Annotated[AuthenticatedUser, Depends(manager)], limit: int = Query(default=50, ge=1, le=500)
    ) -> list[Delivery]:
        """The subscription's deliveries, newest first: attempts, state, and the reason of the last failure."""
        await visible(subscription_id, user)
        async with runtime.pool.acquire() as conn:
            records = await delivery_repository.deliveries_to(conn, WEBHOOK, str(subscription_id), limit)
        return [delivery_view(record) for record in records]

    return api

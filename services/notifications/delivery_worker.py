"""The worker that sends the deliveries, one task per channel, started with the service (docs/alert-channels.md §5).

Each channel claims its own due deliveries for a lease, sends them with a timeout, and marks each
sent, or failed for now (tried again after a backoff), or failed for good after its last try. A
channel that hangs or fails holds only its own task: the other channel and the consumer go on. A
crash between sending and marking leaves the lease to run out, and the delivery is sent once more
with the same id (its Message-ID or webhook-id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.notifications import delivery_repository, mail, webhooks
from services.notifications.deliveries import mail_text, retry_delay_seconds
from services.notifications.delivery_repository import EMAIL, WEBHOOK, ClaimedDelivery
from services.notifications.settings import MailSettings, NotificationsSettings, WebhookSettings
from services.notifications.webhooks import WebhookRefused
from shared.clock import Clock
from shared.retry import TRANSIENT_ERRORS, Backoff
from shared.service import ServiceRuntime

log = structlog.get_logger("deliveries")

Deliver = Callable[[ClaimedDelivery], Awaitable[None]]
BeforeClaim = Callable[[asyncpg.Connection], Awaitable[object]]


class PermanentFailure(Exception):
    """A delivery that no further try can send (its subscription was deleted, say): failed at once."""


class ChannelMetrics:
    """Sent, failed, retried and backlog per channel, in the service's registry."""

    _by_registry: dict[int, ChannelMetrics] = {}  # noqa: RUF012 - one set of collectors per registry, shared by both channels

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter("reko_deliveries_sent_total", "Mails and webhook calls delivered.", ["channel"], registry=registry)
        self.failed = Counter("reko_deliveries_failed_total", "Deliveries recorded as failed after their last try.", ["channel"], registry=registry)
        self.retried = Counter("reko_deliveries_retried_total", "Failed tries that will be tried again.", ["channel"], registry=registry)
        self.backlog = Gauge("reko_delivery_backlog", "Deliveries not yet sent or failed, per channel.", ["channel"], registry=registry)

    @classmethod
    def of(cls, registry: CollectorRegistry) -> ChannelMetrics:
        if id(registry) not in cls._by_registry:
            cls._by_registry[id(registry)] = cls(registry)
        return cls._by_registry[id(registry)]


@dataclass(frozen=True)
class ChannelPolicy:
    channel: str
    max_attempts: int
    retry_initial_seconds: float
    retry_max_seconds: float
    # How long one try may take in all; the lease is longer, so no other worker takes it meanwhile.
    attempt_timeout_seconds: float
    poll_seconds: float
    batch: int = 1

    @property
    def lease_seconds(self) -> float:
        # Longer than a try may take, so only a crashed worker's delivery is taken again, a few seconds after.
        return self.attempt_timeout_seconds + 5.0


class ChannelWorker:
    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        clock: Clock,
        policy: ChannelPolicy,
        deliver: Deliver,
        metrics: ChannelMetrics,
        *,
        before_claim: BeforeClaim | None = None,
        enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self.policy = policy
        self._deliver = deliver
        self._metrics = metrics
        self._before_claim = before_claim
        self._enabled = enabled

    async def run(self) -> None:
        """Until cancelled: claim, send, mark; wait for the database when it is away, never skip a delivery."""
        backoff = Backoff(initial_seconds=0.2)
        while True:
            try:
                handled = await self.run_once()
            except TRANSIENT_ERRORS as problem:
                log.warning("deliveries paused: database unavailable", channel=self.policy.channel, error=type(problem).__name__)
                await backoff.sleep()
                continue
            backoff.reset()
            if handled < self.policy.batch:
                await asyncio.sleep(self.policy.poll_seconds)

    async def run_once(self) -> int:
        """One round: what is due is claimed and sent; how many deliveries were tried."""
        claimed: list[ClaimedDelivery] = []
        async with self._pool().acquire() as conn:
            if self._enabled():
                if self._before_claim is not None:
                    await self._before_claim(conn)
                claimed = await delivery_repository.claim(conn, self.policy.channel, self._clock.now(), self.policy.lease_seconds, self.policy.batch)
        if claimed:
            await asyncio.gather(*(self._try(delivery) for delivery in claimed))
        async with self._pool().acquire() as conn:
            counts = await delivery_repository.backlog(conn)
        self._metrics.backlog.labels(channel=self.policy.channel).set(counts[self.policy.channel])
        return len(claimed)

    async def _try(self, delivery: ClaimedDelivery) -> None:
        channel = self.policy.channel
        try:
            await asyncio.wait_for(self._deliver(delivery), timeout=self.policy.attempt_timeout_seconds)
        except Exception as problem:  # noqa: BLE001 - every failure of a try is recorded with its reason; none stops the channel
            attempts = delivery.attempts + 1
            reason = _reason(problem)
            async with self._pool().acquire() as conn:
                if attempts >= self.policy.max_attempts or isinstance(problem, PermanentFailure):
                    await delivery_repository.mark_attempt_failed(conn, delivery.delivery_id, reason, None)
                    self._metrics.failed.labels(channel=channel).inc()
                    log.warning("delivery failed after its last try", channel=channel, delivery_id=str(delivery.delivery_id), reason=reason)
                    return
                delay = retry_delay_seconds(attempts, self.policy.retry_initial_seconds, self.policy.retry_max_seconds)
                await delivery_repository.mark_attempt_failed(conn, delivery.delivery_id, reason, delay)
            self._metrics.retried.labels(channel=channel).inc()
            log.info("delivery failed; tried again later", channel=channel, delivery_id=str(delivery.delivery_id), reason=reason, retry_in=delay)
            return
        async with self._pool().acquire() as conn:
            await delivery_repository.mark_sent(conn, delivery.delivery_id)
        self._metrics.sent.labels(channel=channel).inc()


def _reason(problem: BaseException) -> str:
    """Why a try failed, in words of our own (a status, a class, a timeout): never what a receiver wrote back."""
    if isinstance(problem, PermanentFailure | WebhookRefused | TimeoutError):
        return str(problem) or "timed out"
    return mail.failure_reason(problem)


# --- the mail channel --------------------------------------------------------------------------


def mail_sender(pool: Callable[[], asyncpg.Pool], clock: Clock, settings: MailSettings) -> Deliver:
    async def deliver(delivery: ClaimedDelivery) -> None:
        async with pool().acquire() as conn:
            items = await delivery_repository.items_of(conn, delivery.delivery_id)
        if not items:
            raise PermanentFailure("the mail has no lines")
        now = clock.now()
        text = mail_text(items, immediate=not delivery.digest, worklist_base_url=settings.worklist_base_url, day=clock.today())
        message = mail.build_message(text, delivery_id=delivery.delivery_id, to=delivery.address, sender=settings.sender, date=now)
        await mail.send(message, settings)

    return deliver


def mail_worker(pool: Callable[[], asyncpg.Pool], clock: Clock, settings: MailSettings, metrics: ChannelMetrics) -> ChannelWorker:
    async def gather(conn: asyncpg.Connection) -> object:
        return await delivery_repository.gather_digests(conn, clock.now())

    policy = ChannelPolicy(
        channel=EMAIL,
        max_attempts=settings.max_attempts,
        retry_initial_seconds=settings.retry_initial_seconds,
        retry_max_seconds=settings.retry_max_seconds,
        attempt_timeout_seconds=settings.timeout_seconds * 4 + 1,
        poll_seconds=settings.poll_seconds,
        batch=1,
    )
    # With no SMTP host the mails wait, counted in the backlog, until one is configured.
    return ChannelWorker(pool, clock, policy, mail_sender(pool, clock, settings), metrics, before_claim=gather, enabled=lambda: bool(settings.host))


# --- the webhook channel -----------------------------------------------------------------------


def webhook_sender(client: httpx.AsyncClient, settings: WebhookSettings) -> Deliver:
    async def deliver(delivery: ClaimedDelivery) -> None:
        if delivery.secret is None:
            raise PermanentFailure("the subscription was deleted")
        await webhooks.call(client, delivery.address, delivery.secret, delivery.delivery_id, delivery.payload or {}, settings.timeout_seconds)

    return deliver


def webhook_worker(
    pool: Callable[[], asyncpg.Pool], clock: Clock, settings: WebhookSettings, metrics: ChannelMetrics, client: httpx.AsyncClient
) -> ChannelWorker:
    policy = ChannelPolicy(
        channel=WEBHOOK,
        max_attempts=settings.max_attempts,
        retry_initial_seconds=settings.retry_initial_seconds,
        retry_max_seconds=settings.retry_max_seconds,
        attempt_timeout_seconds=settings.timeout_seconds + 1,
        poll_seconds=settings.poll_seconds,
        # Several receivers at once, so one that hangs holds its own call only, until its timeout.
        batch=settings.concurrency,
    )
    return ChannelWorker(pool, clock, policy, webhook_sender(client, settings), metrics)


def register(runtime: ServiceRuntime, settings: NotificationsSettings) -> None:
    """Start the channels' tasks with the service (`ServiceRuntime.background`)."""
    metrics = ChannelMetrics.of(runtime.metrics.registry)

    def pool() -> asyncpg.Pool:
        return runtime.pool

    async def send_mail(_runtime: ServiceRuntime) -> None:
        await mail_worker(pool, runtime.clock, settings.mail, metrics).run()

    async def call_webhooks(_runtime: ServiceRuntime) -> None:
        async with httpx.AsyncClient() as client:
            await webhook_worker(pool, runtime.clock, settings.webhooks, metrics, client).run()

    send_mail.__name__ = "deliveries-mail"
    call_webhooks.__name__ = "deliveries-webhooks"
    runtime.background(send_mail)
    runtime.background(call_webhooks)

"""Which alert change reaches a coordinator by mail or a subscriber by webhook, and when (docs/alert-channels.md).

Pure: the handler hands in the alert changes of a batch with what each alert said before, the
coordinators who receive mail for the unit and the webhook subscriptions; it gets back what to
deliver. The mail's words are built here too, from counts and dates only: no mail and no webhook
body carries a personnummer, a name or a diagnosis (docs/alert-channels.md §4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from services.notifications.worklist import KIND_TITLES, MILESTONE_STATUS_TITLES, RISK_LEVEL_TITLES
from shared.clock import STOCKHOLM
from shared.contracts.alerts import RISK_FLAG_ALERT_KIND, AlertChanged, AlertState

# The risk level that is worth a mail at once; lower levels wait for the digest.
URGENT_RISK_LEVEL = "VERY_HIGH"
# The webhook event type of an alert change (docs/alert-channels.md §3).
ALERT_CHANGED_WEBHOOK_TYPE = "alert.changed"
# Saturday and Sunday (`date.weekday()`): no mail goes out, it waits for Monday morning.
WEEKEND = frozenset({5, 6})
# A digest of many alerts names the earliest due dates of a kind and counts the rest.
MOST_DUE_DATES_SHOWN = 5


class MailMode(StrEnum):
    IMMEDIATE = "IMMEDIATE"
    DIGEST = "DIGEST"


class SubscriptionScope(StrEnum):
    # One care unit's alerts.
    UNIT = "UNIT"
    # Every unit this installation serves: one reko serves one region.
    REGION = "REGION"


@dataclass(frozen=True)
class SendingHours:
    """When a mail may go out: working days from `morning` until `evening` (Stockholm time)."""

    morning: time = time(7, 0)
    evening: time = time(18, 0)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() not in WEEKEND

    def next_sendable(self, instant: datetime) -> datetime:
        """`instant` itself when mail may go out then, otherwise the next working morning."""
        local = instant.astimezone(STOCKHOLM)
        day = local.date()
        if self.is_working_day(day):
            if self.morning <= local.time() < self.evening:
                return instant
            if local.time() < self.morning:
                return datetime.combine(day, self.morning, tzinfo=STOCKHOLM)
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, self.morning, tzinfo=STOCKHOLM)

    def next_digest(self, instant: datetime, digest_time: time) -> datetime:
        """The first digest at `digest_time` on a working day at or after `instant`, moved out of quiet hours."""
        local = instant.astimezone(STOCKHOLM)
        day = local.date()
        if local.time() > digest_time:
            day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return self.next_sendable(datetime.combine(day, digest_time, tzinfo=STOCKHOLM))


@dataclass(frozen=True)
class Recipient:
    """A coordinator who receives mail for a unit, with her own choices."""

    coordinator_hsa_id: str
    email: str
    immediate: bool = True
    digest_time: time = time(7, 30)


@dataclass(frozen=True)
class WebhookSubscription:
    subscription_id: str
    scope: SubscriptionScope
    url: str
    care_unit_hsa_id: str | None = None
    # The alert kinds the subscriber wants; empty for all of them.
    event_kinds: frozenset[str] = frozenset()

    def wants(self, alert: AlertChanged) -> bool:
        if self.scope is SubscriptionScope.UNIT and alert.care_unit_hsa_id != self.care_unit_hsa_id:
            return False
        return not self.event_kinds or alert.kind in self.event_kinds


@dataclass(frozen=True)
class AlertTransition:
    """One alert change as the alerter published it, with the alert as it stood before (None when new)."""

    before: AlertChanged | None
    after: AlertChanged


@dataclass(frozen=True)
class MailItem:
    """One line of a coordinator's mail: an alert change, for a mail at once or for the digest at `send_at`."""

    coordinator_hsa_id: str
    email: str
    care_unit_hsa_id: str
    alert_id: str
    kind: str
    immediate: bool
    send_at: datetime
    milestone_status: str | None = None
    due_date: date | None = None
    risk_level: str | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    subscription_id: str
    url: str
    care_unit_hsa_id: str
    alert_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class DeliveryPlan:
    mail_items: tuple[MailItem, ...] = ()
    webhooks: tuple[WebhookDelivery, ...] = ()


def is_urgent(alert: AlertChanged) -> bool:
    """A checkpoint or plan that is due now, or a risk of long sick leave rated very high."""
    if alert.state is not AlertState.OPEN:
        return False
    if alert.kind == RISK_FLAG_ALERT_KIND:
        return alert.risk_level == URGENT_RISK_LEVEL
    return alert.milestone_status == "DUE"


def mail_mode(transition: AlertTransition) -> MailMode | None:
    """How the coordinators hear of this change, if at all.

    An announced alert (new, or a risk flag back after it was withdrawn) is mailed: at once when it
    is urgent, in the digest otherwise. An alert announced earlier that becomes urgent (its
    checkpoint turns due, its risk level rises to very high) is mailed at once, once: the change
    that keeps it urgent mails nothing more. Every other change (withdrawn, details) is not mailed.
    """
    before, after = transition.before, transition.after
    if after.state is not AlertState.OPEN:
        return None
    if after.announce:
        return MailMode.IMMEDIATE if is_urgent(after) else MailMode.DIGEST
    if is_urgent(after) and (before is None or not is_urgent(before)):
        return MailMode.IMMEDIATE
    return None


def webhook_payload(alert: AlertChanged, changed_at: datetime) -> dict[str, Any]:
    """The body a subscriber gets: pseudonymised, so ids, kinds, states, dates and levels only.

    Not the alert's title or risk reasons: a reason such as a psychiatric main diagnosis says too
    much about the patient for a system outside the care unit.
    """
    return {
        "type": ALERT_CHANGED_WEBHOOK_TYPE,
        "timestamp": changed_at.isoformat(),
        "data": {
            "alertId": alert.alert_id,
            "caseId": alert.case_id,
            "careUnitHsaId": alert.care_unit_hsa_id,
            "kind": alert.kind,
            "state": alert.state.value,
            "milestoneStatus": alert.milestone_status,
            "dueDate": alert.due_date.isoformat() if alert.due_date else None,
            "riskLevel": alert.risk_level,
            "announce": alert.announce,
            "revision": alert.revision,
        },
    }


def plan_deliveries(
    transitions: Iterable[AlertTransition],
    recipients: Mapping[str, Sequence[Recipient]],
    subscriptions: Sequence[WebhookSubscription],
    now: datetime,
    hours: SendingHours,
) -> DeliveryPlan:
    """The mail items and webhook deliveries of a batch's alert changes, `recipients` by care unit."""
    items: list[MailItem] = []
    webhooks: list[WebhookDelivery] = []
    for transition in transitions:
        alert = transition.after
        mode = mail_mode(transition)
        if mode is not None:
            for recipient in recipients.get(alert.care_unit_hsa_id, ()):
                immediate = mode is MailMode.IMMEDIATE and recipient.immediate
                send_at = hours.next_sendable(now) if immediate else hours.next_digest(now, recipient.digest_time)
                items.append(
                    MailItem(
                        coordinator_hsa_id=recipient.coordinator_hsa_id,
                        email=recipient.email,
                        care_unit_hsa_id=alert.care_unit_hsa_id,
                        alert_id=alert.alert_id,
                        kind=alert.kind,
                        immediate=immediate,
                        send_at=send_at,
                        milestone_status=alert.milestone_status,
                        due_date=alert.due_date,
                        risk_level=alert.risk_level,
                    )
                )
        webhooks.extend(
            WebhookDelivery(
                subscription_id=subscription.subscription_id,
                url=subscription.url,
                care_unit_hsa_id=alert.care_unit_hsa_id,
                alert_id=alert.alert_id,
                payload=webhook_payload(alert, now),
            )
            for subscription in subscriptions
            if subscription.wants(alert)
        )
    return DeliveryPlan(mail_items=tuple(items), webhooks=tuple(webhooks))


# --- the mail's words --------------------------------------------------------------------------


@dataclass(frozen=True)
class KindCount:
    """How many alerts of one kind (and status or level) a unit has in the mail, with their due dates."""

    title: str
    count: int
    due_dates: tuple[date, ...] = ()

    @property
    def text(self) -> str:
        shown = ", ".join(day.isoformat() for day in self.due_dates[:MOST_DUE_DATES_SHOWN])
        more = f" och {len(self.due_dates) - MOST_DUE_DATES_SHOWN} datum till" if len(self.due_dates) > MOST_DUE_DATES_SHOWN else ""
        return f"{self.title}: {self.count} st" + (f", senast {shown}{more}" if shown else "")


@dataclass(frozen=True)
class UnitSummary:
    care_unit_hsa_id: str
    worklist_url: str
    kinds: tuple[KindCount, ...]


@dataclass(frozen=True)
class MailText:
    """What a mail says, for the plain-text and the HTML part alike."""

    subject: str
    greeting: str
    introduction: str
    units: tuple[UnitSummary, ...]
    closing: tuple[str, ...] = field(default=())

    def plain_text(self) -> str:
        lines = [self.greeting, "", self.introduction, ""]
        for unit in self.units:
            lines.append(f"Vårdenhet {unit.care_unit_hsa_id}:")
            lines.extend(f"  - {kind.text}" for kind in unit.kinds)
            lines.append(f"  Öppna arbetslistan: {unit.worklist_url}")
            lines.append("")
        lines.extend(self.closing)
        return "\n".join(lines) + "\n"


def _item_title(item: MailItem) -> str:
    kind = KIND_TITLES.get(item.kind, item.kind)
    if item.kind == RISK_FLAG_ALERT_KIND:
        level = RISK_LEVEL_TITLES.get(item.risk_level or "")
        return f"{kind} ({level})" if level else kind
    status = MILESTONE_STATUS_TITLES.get(item.milestone_status or "")
    return f"{kind} ({status})" if status else kind


def worklist_url(base_url: str, care_unit_hsa_id: str) -> str:
    return f"{base_url.rstrip('/')}/worklist?{urlencode({'unit': care_unit_hsa_id})}"


def _latest_per_alert(items: Iterable[MailItem]) -> list[MailItem]:
    """An alert mailed twice into one digest (announced, then due) is counted once, as it stands last."""
    latest: dict[str, MailItem] = {}
    for item in items:
        latest[item.alert_id] = item
    return list(latest.values())


def mail_text(items: Sequence[MailItem], *, immediate: bool, worklist_base_url: str, day: date) -> MailText:
    """The Swedish text of one mail to one coordinator: per unit, counts per kind and due dates, and a link."""
    by_unit: dict[str, dict[str, list[MailItem]]] = defaultdict(lambda: defaultdict(list))
    for item in _latest_per_alert(items):
        by_unit[item.care_unit_hsa_id][_item_title(item)].append(item)
    units = tuple(
        UnitSummary(
            care_unit_hsa_id=unit,
            worklist_url=worklist_url(worklist_base_url, unit),
            kinds=tuple(
                KindCount(
                    title=title,
                    count=len(of_kind),
                    due_dates=tuple(sorted({item.due_date for item in of_kind if item.due_date is not None})),
                )
                for title, of_kind in sorted(kinds.items())
            ),
        )
        for unit, kinds in sorted(by_unit.items())
    )
    count = sum(kind.count for unit in units for kind in unit.kinds)
    things = "ärende" if count == 1 else "ärenden"
    if immediate:
        subject = f"reko: {count} {things} att hantera nu"
        introduction = "Det här behöver dig nu: en kontrollpunkt eller plan är aktuell, eller risken för lång sjukskrivning är mycket hög."
    else:
        subject = f"reko: daglig sammanfattning {day.isoformat()} – {count} {things}"
        introduction = "Här är det som har tillkommit i dina enheters arbetslistor sedan förra sammanfattningen."
    closing = (
        "Mejlet innehåller inga patientuppgifter. Logga in i reko och öppna arbetslistan för att se vilka patienter det gäller.",
        "Du får mejlet eftersom du är rehabkoordinator för enheten. Dina inställningar för mejl ändrar du i reko.",
    )
    return MailText(subject=subject, greeting="Hej!", introduction=introduction, units=units, closing=closing)


def retry_delay_seconds(attempts: int, initial_seconds: float, maximum_seconds: float) -> float:
    """Capped exponential backoff after `attempts` failed tries (1 for the first)."""
    return float(min(initial_seconds * 2 ** max(attempts - 1, 0), maximum_seconds))

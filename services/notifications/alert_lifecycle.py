"""An alert's life cycle for one coordinator: NEW -> SEEN -> HANDLED, and WITHDRAWN (docs/alert-lifecycle.md).

An alert is addressed to the coordinators of a care unit (`alert.py`); each of them moves it
through her own states. HANDLED may carry a "remind me on" date: from that day the alert needs her
attention again, until she sees or handles it once more. WITHDRAWN is not hers to set: it is the
alert's own state when its cause disappeared, and it wins over whatever she did.

Pure: the API and the store read and write what these rules return.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from shared.contracts.alerts import AlertState


class AttentionStatus(StrEnum):
    NEW = "NEW"
    SEEN = "SEEN"
    HANDLED = "HANDLED"
    WITHDRAWN = "WITHDRAWN"


class AlertWithdrawn(ValueError):
    """The alert's cause disappeared: nothing is left to see or handle."""


class ReminderNotInTheFuture(ValueError):
    """A reminder must fall after today, or it reminds of nothing."""


class Attention(BaseModel):
    """What one coordinator did with one alert, and when (stored per alert and coordinator)."""

    model_config = ConfigDict(frozen=True)

    status: AttentionStatus
    seen_at: datetime | None = None
    handled_at: datetime | None = None
    remind_on: date | None = None


class AttentionView(BaseModel):
    """An alert as it stands for one coordinator on a day (added to each alert the API answers)."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    status: AttentionStatus
    # NEW or SEEN, or HANDLED with its reminder date reached: the alert wants her now.
    needs_attention: bool
    # HANDLED with the reminder date reached.
    reminder_due: bool = False
    seen_at: datetime | None = None
    handled_at: datetime | None = None
    remind_on: date | None = None


def attention_on(kept: Attention | None, alert_state: AlertState, today: date) -> AttentionView:
    """How the alert stands for her on `today`: NEW when she has done nothing with it yet."""
    status = kept.status if kept is not None else AttentionStatus.NEW
    if alert_state is AlertState.WITHDRAWN:
        status = AttentionStatus.WITHDRAWN
    reminder_due = status is AttentionStatus.HANDLED and kept is not None and kept.remind_on is not None and kept.remind_on <= today
    return AttentionView(
        status=status,
        needs_attention=status in (AttentionStatus.NEW, AttentionStatus.SEEN) or reminder_due,
        reminder_due=reminder_due,
        seen_at=kept.seen_at if kept is not None else None,
        handled_at=kept.handled_at if kept is not None else None,
        remind_on=kept.remind_on if kept is not None else None,
    )


def mark_seen(kept: Attention | None, alert_state: AlertState, now: datetime, today: date) -> Attention:
    """She has seen it. Seeing a NEW alert makes it SEEN (the first time is kept); seeing a handled
    alert whose reminder came due takes the reminder back to SEEN; otherwise nothing changes."""
    if alert_state is AlertState.WITHDRAWN:
        raise AlertWithdrawn("Larmet är återkallat: orsaken till det gäller inte längre.")
    if kept is None or kept.status is AttentionStatus.NEW:
        return Attention(status=AttentionStatus.SEEN, seen_at=now)
    if attention_on(kept, alert_state, today).reminder_due:
        return Attention(status=AttentionStatus.SEEN, seen_at=kept.seen_at or now, handled_at=kept.handled_at)
    return kept


def mark_handled(kept: Attention | None, alert_state: AlertState, now: datetime, today: date, remind_on: date | None = None) -> Attention:
    """She has handled it, from any state but WITHDRAWN; `remind_on` (after today) brings it back then.
    Handling it again sets the reminder anew."""
    if alert_state is AlertState.WITHDRAWN:
        raise AlertWithdrawn("Larmet är återkallat: orsaken till det gäller inte längre.")
    if remind_on is not None and remind_on <= today:
        raise ReminderNotInTheFuture("remindOn must be a day after today")
    seen_at = kept.seen_at if kept is not None and kept.seen_at is not None else now
    return Attention(status=AttentionStatus.HANDLED, seen_at=seen_at, handled_at=now, remind_on=remind_on)

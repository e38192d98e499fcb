"""An alert's life cycle for one coordinator: NEW -> SEEN -> HANDLED, a reminder, and WITHDRAWN."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.notifications.alert_lifecycle import (
    AlertWithdrawn,
    Attention,
    AttentionStatus,
    ReminderNotInTheFuture,
    attention_on,
    mark_handled,
    mark_seen,
)
from shared.contracts.alerts import AlertState

OPEN, WITHDRAWN = AlertState.OPEN, AlertState.WITHDRAWN
TODAY = date(2026, 3, 15)
NOW = datetime(2026, 3, 15, 11, tzinfo=UTC)
LATER = datetime(2026, 3, 16, 9, tzinfo=UTC)


def test_an_alert_she_has_done_nothing_with_is_new_and_needs_her():
    view = attention_on(None, OPEN, TODAY)
    assert (view.status, view.needs_attention) == (AttentionStatus.NEW, True)


def test_seeing_makes_it_seen_and_seeing_again_keeps_the_first_time():
    seen = mark_seen(None, OPEN, NOW, TODAY)
    assert (seen.status, seen.seen_at) == (AttentionStatus.SEEN, NOW)
    assert mark_seen(seen, OPEN, LATER, TODAY) == seen
    assert attention_on(seen, OPEN, TODAY).needs_attention, "seen is not yet handled"


def test_handling_keeps_when_it_was_seen_and_it_no_longer_needs_her():
    handled = mark_handled(mark_seen(None, OPEN, NOW, TODAY), OPEN, LATER, TODAY)
    assert (handled.status, handled.seen_at, handled.handled_at, handled.remind_on) == (AttentionStatus.HANDLED, NOW, LATER, None)
    assert not attention_on(handled, OPEN, date(2027, 1, 1)).needs_attention


def test_a_new_alert_may_be_handled_at_once():
    handled = mark_handled(None, OPEN, NOW, TODAY)
    assert (handled.status, handled.seen_at) == (AttentionStatus.HANDLED, NOW)


def test_a_reminder_brings_a_handled_alert_back_on_its_day_and_seeing_it_takes_it_back_to_seen():
    handled = mark_handled(None, OPEN, NOW, TODAY, remind_on=date(2026, 4, 1))
    assert not attention_on(handled, OPEN, date(2026, 3, 31)).needs_attention
    due = attention_on(handled, OPEN, date(2026, 4, 1))
    assert (due.status, due.needs_attention, due.reminder_due) == (AttentionStatus.HANDLED, True, True)
    again = mark_seen(handled, OPEN, LATER, date(2026, 4, 1))
    assert (again.status, again.remind_on) == (AttentionStatus.SEEN, None)
    assert mark_seen(handled, OPEN, LATER, date(2026, 3, 20)) == handled, "before the reminder, seeing changes nothing"


def test_handling_again_sets_the_reminder_anew():
    first = mark_handled(None, OPEN, NOW, TODAY, remind_on=date(2026, 4, 1))
    second = mark_handled(first, OPEN, LATER, TODAY, remind_on=date(2026, 5, 1))
    assert (second.remind_on, second.handled_at) == (date(2026, 5, 1), LATER)
    assert mark_handled(second, OPEN, LATER, TODAY).remind_on is None


@pytest.mark.parametrize("remind_on", [TODAY, date(2026, 3, 1)])
def test_a_reminder_must_fall_after_today(remind_on):
    with pytest.raises(ReminderNotInTheFuture):
        mark_handled(None, OPEN, NOW, TODAY, remind_on=remind_on)


def test_a_withdrawn_alert_is_withdrawn_for_everyone_whatever_she_did_and_cannot_be_seen_or_handled():
    handled = Attention(status=AttentionStatus.HANDLED, handled_at=NOW, remind_on=date(2026, 3, 20))
    view = attention_on(handled, WITHDRAWN, date(2026, 3, 25))
    assert (view.status, view.needs_attention, view.reminder_due) == (AttentionStatus.WITHDRAWN, False, False)
    with pytest.raises(AlertWithdrawn):
        mark_seen(None, WITHDRAWN, NOW, TODAY)
    with pytest.raises(AlertWithdrawn):
        mark_handled(handled, WITHDRAWN, NOW, TODAY)

"""What the alert-channel tests share: a real SMTP server, a clock the test moves, alert events through the alerter."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

import asyncpg
from aiosmtpd.controller import Controller

from services.notifications.handlers import Alerter
from shared.clock import STOCKHOLM
from shared.consumer import ApplyContext, Incoming
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus
from shared.contracts.risk_flags import RiskFlagChanged, RiskFlagReason, RiskLevel
from shared.outbox import Outbox

UNIT = "SE2321000000-1001"
OTHER_UNIT = "SE2321000000-1002"
ALERTS = "rehab.alerts.v1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MovableClock:
    """The service clock as a test holds it: fixed until the test moves it."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant

    def today(self) -> date:
        return self.instant.astimezone(STOCKHOLM).date()


@dataclass
class Mailbox:
    """What the SMTP server received: each message parsed, with its envelope recipients."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for recipients, message in self.messages if address in recipients]

    def all(self) -> list[EmailMessage]:
        with self.lock:
            return [message for _, message in self.messages]


def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def text_of(message: EmailMessage) -> str:
    """Every header and every decoded part of a mail, as one text to search."""
    parts = [f"{name}: {value}" for name, value in message.items()]
    parts.extend(part.get_content() for part in message.walk() if part.get_content_maintype() == "text")
    return "\n".join(parts)


def milestone(case_id: str, status: MilestoneStatus, due: date, *, revision: int = 1, unit: str = UNIT, title: str = "Dag 90") -> MilestoneChanged:
    return MilestoneChanged(
        milestone_id=f"{case_id}:CHAIN_DAY_90",
        case_id=case_id,
        patient_pseudonym=f"pseudonym-{case_id}",
        certificate_ids=(case_id,),
        care_unit_hsa_id=unit,
        kind=MilestoneKind.CHAIN_DAY_90,
        due_date=due,
        status=status,
        chain_day=90,
        title=title,
        revision=revision,
    )


def risk_flag(case_id: str, level: RiskLevel, *, revision: int = 1, unit: str = UNIT) -> RiskFlagChanged:
    return RiskFlagChanged(
        case_id=case_id,
        patient_pseudonym=f"pseudonym-{case_id}",
        certificate_ids=(case_id,),
        care_unit_hsa_id=unit,
        care_provider_hsa_id="SE2321000000-1000",
        level=level,
        score=8 if level is RiskLevel.VERY_HIGH else 5,
        flagged=level is not RiskLevel.NONE,
        reason_codes=("DX_PSYCH", "FMB_EXCEEDED"),
        reasons=(
            RiskFlagReason(code="DX_PSYCH", weight=3, evidence="main diagnosis F32.1"),
            RiskFlagReason(code="FMB_EXCEEDED", weight=4, evidence="certified days 200 > FMB max 186 for F32 (6 mo)"),
        ),
        revision=revision,
    )


async def apply_alerts(
    pool: asyncpg.Pool, clock: MovableClock, milestones: Sequence[MilestoneChanged] = (), flags: Sequence[RiskFlagChanged] = ()
) -> None:
    """The consumers' apply steps, each in one transaction as the batch consumer runs it."""
    alerter = Alerter(ALERTS)
    for events, apply in ((milestones, alerter.apply_milestones), (flags, alerter.apply_risk_flags)):
        if not events:
            continue
        async with pool.acquire() as conn, conn.transaction():
            outbox = Outbox(source="urn:reko:notifications")
            context = ApplyContext(conn, outbox, clock, "test.dlq")
            incoming = [Incoming(f"e-{index}-{event.case_id}", event, None) for index, event in enumerate(events)]
            await apply(context, incoming)  # type: ignore[operator]  # why: the loop pairs each list with its own apply step
            await outbox.write(conn)

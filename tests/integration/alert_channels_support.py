"""What the alert-channel tests share: a real SMTP server, a clock the test moves, alert events through the alerter."""

from __future__ import annotations

import asyncio
import email
import email.policy
import http.server
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

import asyncpg
from aiosmtpd.controller import Controller

from services.notifications import webhooks
from services.notifications.handlers import Alerter
from shared.clock import STOCKHOLM
from shared.consumer import ApplyContext, Incoming
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus
from shared.contracts.risk_flags import RiskFlagChanged, RiskFlagReason, RiskLevel
from shared.outbox import Outbox

UNIT = "SE2321000000-1001"
OTHER_UNIT = "SE2321000000-1002"
ALERTS = "rehab.alerts.v1"
# A diagnosis code as ICD-10-SE writes it (F43.8A, M54, F32.1): no mail may carry one.
DIAGNOSIS_CODE = r"\b[A-Z]\d{2}(?:\.?\d{1,2}[A-Z]?)?\b"


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
    # How long the server takes over each mail before it answers.
    delay_seconds: float = 0.0

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for recipients, message in self.messages if address in recipients]

    def all(self) -> list[EmailMessage]:
        with self.lock:
            return [message for _, message in self.messages]


def smtp_server(delay_seconds: float = 0.0) -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox(delay_seconds=delay_seconds)
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


@dataclass
class ReceivedCall:
    headers: dict[str, str]
    body: bytes
    verified: bool


class WebhookReceiver:
    """A local HTTP receiver that verifies each call's signature and answers `statuses` in turn (then 200)."""

    def __init__(self, secret_of: Any, statuses: Sequence[int] = (), delay_seconds: float = 0.0) -> None:
        self.calls: list[ReceivedCall] = []
        self._statuses = list(statuses)
        self._secret_of = secret_of
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                verified = webhooks.verify(receiver._secret_of(), headers, body)
                with receiver._lock:
                    receiver.calls.append(ReceivedCall(headers, body, verified))
                    status = receiver._statuses.pop(0) if receiver._statuses else 200
                time.sleep(delay_seconds)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/reko-hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentReceiver:
    """Accepts connections and never answers: every call to it runs into its timeout."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(100)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/never"

    def __enter__(self) -> SilentReceiver:
        return self

    def __exit__(self, *_: object) -> None:
        self._socket.close()

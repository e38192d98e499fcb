"""`reko demo`: the whole system on one machine, fed a synthetic feed on a fast simulated clock.

Starts the embedded broker, the embedded database and the four services (see `reko.stack`) with a
simulated clock (by default one simulated day per real second), publishes the synthetic feed as the
simulated clock passes each certificate's signing time, slips in a few bad records to show the
dead-letter handling, and shows what the coordinators would see: the latest alerts and the ongoing
cases per care unit by sex. Ctrl-C (or SIGTERM, or `--duration`) stops everything.

The screen shows care units, case ids, kinds, dates and counts only: never a personal identity number.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import signal
import time
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from reko.feed import SIGNED_TYPE, FeedSettings, generate_feed
from reko.metrics_text import metric_sum
from reko.publish import record_key
from shared.auth import Role, issue_token
from shared.clock import STOCKHOLM, Clock, parse_clock

SECONDS_PER_DAY = 86_400
# The simulated clock is anchored this many real seconds after the demo starts, roughly the time the
# broker, the database and the four services need to come up; all four processes get the same anchor
# so they agree on the simulated time. If the stack is slower the publisher just catches up.
STARTUP_ALLOWANCE_SECONDS = 12.0
TICK_SECONDS = 0.2  # publishing loop
POLL_SECONDS = 0.5  # latest alerts, ongoing counts, dead-letter metric
UNIT_POLL_EVERY = 4  # polls; the full alert list of every care unit (for the counts)
PROGRESS_EVERY_SECONDS = 5.0  # plain progress lines when the output is not a terminal
LATEST_ALERTS = 12
KIND_LABELS = {  # what the alert is about, short enough for an 80-column terminal
    "RETURN_TO_WORK_PLAN": "plan day 30",
    "CHAIN_DAY_90": "day 90",
    "CHAIN_DAY_180": "day 180",
    "CHAIN_DAY_365": "day 365",
    "RISK_FLAG": "risk",
}
BAD_RECORDS_AFTER_DAYS = 2  # simulated days after the start


@dataclass(frozen=True)
class DemoSettings:
    seed: int = 7
    patients: int = 300
    days_per_second: float = 1.0
    days: int = 180
    log_dir: Path = Path(".reko/logs")
    duration: float | None = None  # real seconds; None: until Ctrl-C
    start: date = date(2026, 1, 1)


@dataclass
class View:
    """What the pollers last saw; every field tolerates the services not answering yet."""

    latest_alerts: list[dict[str, Any]] = field(default_factory=list)
    unit_alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ongoing: list[dict[str, Any]] = field(default_factory=list)
    ongoing_day: date | None = None
    dead_lettered: int | None = None
    errors: set[str] = field(default_factory=set)  # services that did not answer the last poll
    first_alert_after: float | None = None  # real seconds after the clock's anchor
    first_alert_day: date | None = None

    def all_alerts(self) -> list[dict[str, Any]]:
        return [alert for alerts in self.unit_alerts.values() for alert in alerts]


class Feed:
    """The synthetic feed, released as the simulated clock passes each event's `time`."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.times = [datetime.fromisoformat(event["time"]) for event in events]
        self.next = 0
        self.signed_total = sum(1 for event in events if event["type"] == SIGNED_TYPE)
        self.signed_published = 0
        self.units: dict[str, str] = {}
        for event in events:
            if event["type"] == SIGNED_TYPE:
                unit = event["data"]["issuer"]["careUnit"]
                self.units.setdefault(unit["hsaId"], unit["name"])

    @property
    def done(self) -> bool:
        return self.next >= len(self.events)

    def due(self, now: datetime) -> list[dict[str, Any]]:
        first = self.next
        while self.next < len(self.events) and self.times[self.next] <= now:
            self.next += 1
        return self.events[first : self.next]


def bad_records(feed: Feed) -> list[bytes]:
    """Three records the contract rejects: not JSON, a personnummer with a wrong check digit, a
    certificate without its content. Their ids cannot collide with the feed's."""
    template = next(event for event in feed.events if event["type"] == SIGNED_TYPE)
    bad_person = copy.deepcopy(template)
    bad_person["id"] = str(uuid.uuid4())
    bad_person["subject"] = bad_person["data"]["certificateId"] = "c-demo-bad-1"
    bad_person["data"]["patient"]["personId"] = "19900101-1230"  # the Luhn digit should be 9
    no_content = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "urn:reko:demo",
        "type": SIGNED_TYPE,
        "time": template["time"],
        "subject": "c-demo-bad-2",
        "datacontenttype": "application/json",
        "data": {"certificateId": "c-demo-bad-2"},
    }
    return [
        b"this is not JSON {",
        json.dumps(bad_person, ensure_ascii=False).encode(),
        json.dumps(no_content).encode(),
    ]


class Demo:
    def __init__(
        self,
        settings: DemoSettings,
        clock: Clock,
        anchor: float,
        feed: Feed,
        services: dict[str, str],
        bootstrap_servers: str,
        topic: str,
        console: Console,
        jwt_secret: str,
    ) -> None:
        self.settings = settings
        # The demo watches as a coordinator of every unit of the feed who also holds the regional
        # office's view; the APIs answer nobody without a token.
        token = issue_token(jwt_secret, "SE2321000000-DEMO", [Role.REHABKOORDINATOR, Role.REGIONKONTOR], feed.units)
        self.headers = {"authorization": f"Bearer {token}"}
        self.clock = clock
        self.anchor = anchor
        self.feed = feed
        self.services = services
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.console = console
        self.view = View()
        self.bad_injected = 0
        self.started = time.monotonic()
        self.ended: float | None = None  # monotonic, when the loop stopped
        self.ended_now: datetime | None = None  # simulated, when the loop stopped
        self.interrupted = False

    # -- polling ---------------------------------------------------------------------------------

    async def _get(self, http: httpx.AsyncClient, service: str, path: str, params: dict[str, str] | None = None) -> httpx.Response | None:
        try:
            response = await http.get(f"{self.services[service]}{path}", params=params)
            response.raise_for_status()
        except httpx.HTTPError:
            self.view.errors.add(service)
            return None
        return response

    async def poll_once(self, http: httpx.AsyncClient, *, units: bool) -> None:
        self.view.errors = set()
        today = self.clock.today()
        latest, ongoing, metrics = await asyncio.gather(
            self._get(http, "notifications", "/alerts", {"limit": str(LATEST_ALERTS)}),
            self._get(http, "stats", "/ongoing", {"on": today.isoformat()}),
            self._get(http, "intake", "/metrics"),
        )
        if latest is not None:
            self.view.latest_alerts = latest.json()
            if self.view.latest_alerts and self.view.first_alert_after is None:
                self.view.first_alert_after = time.time() - self.anchor
                self.view.first_alert_day = today
        if ongoing is not None:
            self.view.ongoing, self.view.ongoing_day = ongoing.json(), today
        if metrics is not None:
            self.view.dead_lettered = int(metric_sum(metrics.text, "reko_events_dead_lettered_total"))
        if units:
            hsa_ids = sorted(self.feed.units)
            answers = await asyncio.gather(*(self._get(http, "notifications", f"/units/{hsa}/alerts") for hsa in hsa_ids))
            for hsa, answer in zip(hsa_ids, answers, strict=True):
                if answer is not None:
                    self.view.unit_alerts[hsa] = answer.json()

    async def poll_forever(self, http: httpx.AsyncClient) -> None:
        round_ = 0
        while True:
            with contextlib.suppress(Exception):  # a poll never brings the demo down
                await self.poll_once(http, units=round_ % UNIT_POLL_EVERY == 0)
            round_ += 1
            await asyncio.sleep(POLL_SECONDS)

    # -- publishing ------------------------------------------------------------------------------

    async def send(self, producer: Any, lines: list[bytes]) -> None:
        futures = [await producer.send(self.topic, key=record_key(line), value=line) for line in lines]
        if futures:
            await asyncio.wait(futures, timeout=10)

    async def publish_due(self, producer: Any) -> None:
        now = self.clock.now()
        events = self.feed.due(now)
        if events:
            self.feed.signed_published += sum(1 for event in events if event["type"] == SIGNED_TYPE)
            await self.send(producer, [json.dumps(event, ensure_ascii=False).encode() for event in events])
        bad_after = datetime.combine(self.settings.start, clock_time(8), STOCKHOLM) + timedelta(days=BAD_RECORDS_AFTER_DAYS)
        if not self.bad_injected and now >= bad_after:
            lines = bad_records(self.feed)
            await self.send(producer, lines)
            self.bad_injected = len(lines)

    # -- display ---------------------------------------------------------------------------------

    def unit_name(self, hsa: str) -> str:
        return self.feed.units.get(hsa, hsa)

    def render(self) -> RenderableType:
        view = self.view
        now = self.clock.now().astimezone(STOCKHOLM)
        today = now.date()
        waiting = time.time() < self.anchor

        header = Text()
        if waiting:
            header.append(
                f"Starting: the simulated clock starts at {self.settings.start.isoformat()} 08:00 in {self.anchor - time.time():.0f} s\n",
                style="yellow",
            )
        else:
            day_number = (today - self.settings.start).days + 1
            header.append("Simulated date ", style="dim")
            header.append(f"{now:%a %Y-%m-%d %H:%M}", style="bold cyan")
            header.append(f"  (day {day_number}, {self.settings.days_per_second:g} simulated day/s)\n", style="dim")
        header.append("Certificates published ", style="dim")
        header.append(f"{self.feed.signed_published} / {self.feed.signed_total}", style="bold")
        header.append(f"  (events {self.feed.next} / {len(self.feed.events)}, {len(self.feed.units)} care units)", style="dim")
        if self.feed.done:
            header.append("\nWhole feed published: the clock keeps running and milestones keep falling due.", style="green")
        if view.errors:
            header.append(f"\nWaiting for: {', '.join(sorted(view.errors))}", style="yellow")

        wide = self.console.width >= 100  # an 80-column terminal gets no case and HSA id columns
        alerts = Table(title="Alerts (rehabkoordinatorer)", box=box.SIMPLE_HEAD, expand=True, title_justify="left")
        alerts.add_column("Care unit", ratio=1, min_width=12, overflow="ellipsis", no_wrap=True)
        if wide:
            alerts.add_column("Case", no_wrap=True)
        alerts.add_column("Kind", no_wrap=True)
        alerts.add_column("Due", no_wrap=True)
        alerts.add_column("", justify="right", no_wrap=True)
        alerts.add_column("Milestone", no_wrap=True)
        alerts.add_column("State", no_wrap=True)
        # Fewer rows in a short terminal, so the counts below stay on the screen.
        fixed_lines = 19 + len(self.feed.units)  # header panel, table titles and headers, units, footer
        rows = max(3, min(LATEST_ALERTS, self.console.height - fixed_lines)) if self.console.is_terminal else LATEST_ALERTS
        for alert in view.latest_alerts[:rows]:
            state = alert["state"]
            if alert.get("dueDate"):
                due = date.fromisoformat(alert["dueDate"])
                days = (due - today).days
                when, relative = due.isoformat(), "today" if days == 0 else f"{days:+d} d"
                status = alert["milestoneStatus"]
                status_text = Text(status, style="bold red" if status == "DUE" else "dim" if status == "CANCELLED" else "")
            else:  # a risk alert: no due date, its level instead of a milestone status
                when, relative = "now", ""
                status_text = Text(f"risk {alert.get('riskLevel') or '?'}", style="magenta")
            alerts.add_row(
                self.unit_name(alert["careUnitHsaId"]),
                *([alert["caseId"]] if wide else []),
                KIND_LABELS.get(alert["kind"], alert["kind"]),
                when,
                relative,
                status_text,
                Text(state, style="green" if state == "OPEN" else "dim"),
            )
        if not view.latest_alerts:
            alerts.add_row("(none yet)", *[""] * (len(alerts.columns) - 1))

        ongoing_title = "Ongoing cases today by care unit (F / M / total)"
        if view.ongoing_day is not None:
            ongoing_title += f", {view.ongoing_day.isoformat()}"
        ongoing = Table(title=ongoing_title, box=box.SIMPLE_HEAD, expand=True, title_justify="left", show_footer=True)
        counts = {row["careUnitHsaId"]: row for row in view.ongoing}
        rows = []
        totals: Counter[str] = Counter()
        for hsa in sorted(set(self.feed.units) | set(counts), key=self.unit_name):
            row = counts.get(hsa, {"total": 0, "bySex": {}})
            cells = {"F": row["bySex"].get("F", 0), "M": row["bySex"].get("M", 0), "UNKNOWN": row["bySex"].get("UNKNOWN", 0), "total": row["total"]}
            totals.update({key: _added(value) for key, value in cells.items()})
            rows.append((self.unit_name(hsa), *([hsa] if wide else []), *(_shown(cells[key]) for key in ("F", "M", "UNKNOWN", "total"))))
        ongoing.add_column("Care unit", footer="All units", ratio=1, overflow="ellipsis", no_wrap=True)
        if wide:
            ongoing.add_column("HSA id", no_wrap=True)
        for label, key in (("F", "F"), ("M", "M"), ("Unknown", "UNKNOWN"), ("Total", "total")):
            ongoing.add_column(label, footer=str(totals[key]), justify="right")
        for cells in rows:
            ongoing.add_row(*cells)

        all_alerts = view.all_alerts()
        footer = Text()
        footer.append("Alerts open ", style="dim")
        footer.append(str(sum(1 for a in all_alerts if a["state"] == "OPEN")) if view.unit_alerts else "?", style="bold green")
        footer.append(
            f" (due now {sum(1 for a in all_alerts if a['state'] == 'OPEN' and a.get('milestoneStatus') == 'DUE')}, "
            f"withdrawn {sum(1 for a in all_alerts if a['state'] == 'WITHDRAWN')})",
            style="dim",
        )
        footer.append("   Bad records injected ", style="dim")
        footer.append(str(self.bad_injected), style="bold")
        footer.append("   Dead-lettered records ", style="dim")
        footer.append("?" if view.dead_lettered is None else str(view.dead_lettered), style="bold red")
        if self.settings.duration is not None:
            left = max(0.0, self.settings.duration - (time.monotonic() - self.started))
            footer.append(f"   Stops in {left:.0f} s", style="dim")
        footer.append("   Ctrl-C to stop", style="bold")

        return Group(Panel(header, title="reko demo: synthetic sick-leave feed", title_align="left"), alerts, ongoing, footer)

    def progress_line(self) -> str:
        """One plain line for output that is not a terminal (piped, logged)."""
        view = self.view
        all_alerts = view.all_alerts()
        open_kinds = Counter(a["kind"] for a in all_alerts if a["state"] == "OPEN")
        f = sum(_added(row["bySex"].get("F")) for row in view.ongoing)
        m = sum(_added(row["bySex"].get("M")) for row in view.ongoing)
        total = sum(_added(row["total"]) for row in view.ongoing)
        return (
            f"[{self.clock.now().astimezone(STOCKHOLM):%Y-%m-%d %H:%M}] certificates {self.feed.signed_published}/{self.feed.signed_total}"
            f" | alerts open {sum(open_kinds.values())}"
            + (f" ({', '.join(f'{kind} {n}' for kind, n in sorted(open_kinds.items()))})" if open_kinds else "")
            + f" | ongoing {total} (F {f} / M {m}) | dead-lettered {'?' if view.dead_lettered is None else view.dead_lettered}"
        )

    # -- the loop --------------------------------------------------------------------------------

    async def run(self) -> View:
        from aiokafka import AIOKafkaProducer

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def request_stop() -> None:
            self.interrupted = True
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop)
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, linger_ms=5)
        await producer.start()
        interactive = self.console.is_terminal
        try:
            async with httpx.AsyncClient(timeout=2.0, headers=self.headers) as http:
                poller = asyncio.create_task(self.poll_forever(http))
                live = Live(self.render(), console=self.console, refresh_per_second=2) if interactive else None
                last_progress = 0.0
                try:
                    with live if live is not None else contextlib.nullcontext():
                        while not stop.is_set():
                            await self.publish_due(producer)
                            if live is not None:
                                live.update(self.render())
                            elif time.monotonic() - last_progress >= PROGRESS_EVERY_SECONDS and time.time() >= self.anchor:
                                last_progress = time.monotonic()
                                self.console.print(self.progress_line(), markup=False, highlight=False, soft_wrap=True)
                            if self.settings.duration is not None and time.monotonic() - self.started >= self.settings.duration:
                                break
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(stop.wait(), TICK_SECONDS)
                        self.ended, self.ended_now = time.monotonic(), self.clock.now()
                        # A last look, unless the services already got the Ctrl-C too; keep what was seen.
                        if not self.interrupted:
                            with contextlib.suppress(Exception):
                                await asyncio.wait_for(self.poll_once(http, units=True), 5)
                        if live is not None:
                            live.update(self.render(), refresh=True)
                finally:
                    poller.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await poller
            if not interactive:
                self.console.print(self.render())
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return self.view

    def summary(self) -> str:
        view = self.view
        elapsed = (self.ended or time.monotonic()) - self.started
        today = (self.ended_now or self.clock.now()).astimezone(STOCKHOLM).date()
        all_alerts = view.all_alerts()
        lines = [
            "",
            f"reko demo summary after {elapsed:.0f} s: simulated date {today.isoformat()}"
            f" (day {(today - self.settings.start).days + 1}){', stopped by signal' if self.interrupted else ''}",
            f"  certificates published: {self.feed.signed_published} of {self.feed.signed_total}"
            f" (events {self.feed.next} of {len(self.feed.events)})",
            f"  bad records injected: {self.bad_injected}, dead-lettered: {'unknown' if view.dead_lettered is None else view.dead_lettered}",
            f"  alerts: {len(all_alerts)} (open {sum(1 for a in all_alerts if a['state'] == 'OPEN')},"
            f" withdrawn {sum(1 for a in all_alerts if a['state'] == 'WITHDRAWN')})",
        ]
        by_kind = Counter(a["kind"] for a in all_alerts)
        by_kind_open = Counter(a["kind"] for a in all_alerts if a["state"] == "OPEN")
        lines.extend(f"    {kind:<22} {by_kind[kind]:>5} (open {by_kind_open[kind]})" for kind in sorted(by_kind))
        by_status = Counter(a["milestoneStatus"] for a in all_alerts if a.get("milestoneStatus"))
        if by_status:
            lines.append("  milestone status: " + ", ".join(f"{status} {n}" for status, n in sorted(by_status.items())))
        if view.first_alert_after is not None:
            lines.append(
                f"  first alert seen {view.first_alert_after:.1f} s after the clock started"
                f" (simulated {view.first_alert_day.isoformat() if view.first_alert_day else '?'})"
            )
        if view.ongoing_day is not None:
            f = sum(_added(row["bySex"].get("F")) for row in view.ongoing)
            m = sum(_added(row["bySex"].get("M")) for row in view.ongoing)
            unknown = sum(_added(row["bySex"].get("UNKNOWN")) for row in view.ongoing)
            total = sum(_added(row["total"]) for row in view.ongoing)
            lines.append(f"  ongoing cases on {view.ongoing_day.isoformat()}: {total} (F {f}, M {m}, unknown {unknown})")
            lines.extend(
                f"    {self.unit_name(row['careUnitHsaId']):<36} F {_shown(row['bySex'].get('F', 0)):>4}"
                f"  M {_shown(row['bySex'].get('M', 0)):>4}  total {_shown(row['total']):>4}"
                for row in sorted(view.ongoing, key=lambda r: self.unit_name(r["careUnitHsaId"]))
            )
        return "\n".join(lines)


def _added(count: int | None) -> int:
    # The demo's token reads every unit exact; a count hidden for publication (docs/statistics.md §3) adds nothing.
    return count or 0


def _shown(count: int | None) -> str:
    return ".." if count is None else str(count)


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run_demo(settings: DemoSettings) -> int:
    """Run the demo until Ctrl-C, SIGTERM or `settings.duration`; everything started is stopped."""
    from reko.stack import Stack, StackSettings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # piped or logged: room for the tables on one line each
    events = generate_feed(FeedSettings(seed=settings.seed, patients=settings.patients, start=settings.start, days=settings.days))
    feed = Feed(events)

    start = datetime.combine(settings.start, clock_time(8), STOCKHOLM)
    speed = SECONDS_PER_DAY * settings.days_per_second
    anchor = time.time() + STARTUP_ALLOWANCE_SECONDS
    clock_spec = f"simulated:{start.isoformat()}*{speed:g}@{anchor:.3f}"
    clock = parse_clock(clock_spec)

    console.print(
        f"reko demo: {feed.signed_total} certificates from {settings.patients} synthetic patients over {settings.days} days"
        f" (seed {settings.seed}); starting broker, database and services, logs in {settings.log_dir}/ ...",
        markup=False,
        highlight=False,
    )
    stack = Stack(StackSettings(clock=clock_spec, log_dir=settings.log_dir))
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    began = time.monotonic()
    demo: Demo | None = None
    try:
        try:
            stack.start()
        except KeyboardInterrupt:
            console.print("Interrupted while starting; stopped.", markup=False, highlight=False)
            return 130
        console.print(f"Ready after {time.monotonic() - began:.1f} s.", markup=False, highlight=False)
        # docs/statistics.md §6: the dashboard signs in with a pasted token.
        regional_office = issue_token(stack.settings.jwt_secret, "SE2321000000-DEMO-RK", [Role.REGIONKONTOR])
        console.print(
            f"Statistics dashboard: {stack.services['stats'].base_url}/dashboard (sign in with this regional-office token: {regional_office})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        # docs/worklist.md, docs/pages.md §3: the coordinator's pages, with the local stack's development sign-in.
        first_unit = sorted(feed.units)[0] if feed.units else "SE2321000000-1001"
        coordinator = issue_token(stack.settings.jwt_secret, "SE2321000000-3001", [Role.REHABKOORDINATOR], sorted(feed.units), name="Demo")
        console.print(
            f"Coordinator worklist: {stack.services['notifications'].base_url}/worklist (sign in on the page: development sign-in,"
            f" HSA id SE2321000000-3001, role Rehabkoordinator, care unit {first_unit}; or paste this token for every unit: {coordinator})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        # The Kafka client's complaints (e.g. the broker going away at Ctrl-C) go to a file, not the screen.
        kafka_log = logging.getLogger("aiokafka")
        kafka_log.addHandler(logging.FileHandler(settings.log_dir / "demo.log", delay=True))
        kafka_log.propagate = False
        demo = Demo(
            settings,
            clock,
            anchor,
            feed,
            services={name: service.base_url for name, service in stack.services.items()},
            bootstrap_servers=stack.bootstrap_servers,
            topic=stack.topics.name(stack.topics.certificates),
            console=console,
            jwt_secret=stack.settings.jwt_secret,
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(demo.run())
    finally:
        # Stopping must not be cut short by another Ctrl-C: that would leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stack.stop()
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, previous_term)
    assert demo is not None  # set before the loop; an interrupted start returned above
    print(demo.summary(), flush=True)
    print(f"Stopped broker, database and services. Logs in {settings.log_dir}/.", flush=True)
    return 0

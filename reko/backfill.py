"""`reko backfill FILE`: load a region's certificate history through the same checks as the HTTP entry point.

The file is read as it streams (JSON Lines, or one JSON array), validated and sent in chunks by
`CertificateSubmitter`: valid events to the certificate topic, the others to its dead-letter
topic. A chunk counts as handled only once the broker acknowledged all of it. Running a backfill
again is harmless: intake skips events it has already received.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from services.intake.ingestion import (
    BrokerUnavailable,
    CertificateSubmitter,
    NotJsonArray,
    SubmissionOutcome,
    SubmissionStatus,
    iter_json_array,
)
from shared.clock import SystemClock
from shared.kafka import ensure_topics, start_producer
from shared.settings import ServiceSettings, Topics

DEFAULT_CHUNK_SIZE = 500
_READ_SIZE = 1 << 20

EXIT_BROKER_FAILED = 1
EXIT_FILE_UNREADABLE = 2


@dataclass(frozen=True)
class SourceEvent:
    """One event of the file: its position among the events and, in JSON Lines, its line number."""

    index: int
    line: int | None
    raw: bytes


class UnreadableSource(ValueError):
    """The file stops being JSON Lines or a JSON array; the events before the problem were read."""


def read_source_events(stream: IO[bytes]) -> Iterator[SourceEvent]:
    """The events of a JSON Lines file (blank lines skipped) or of a file holding one JSON array.

    A line that is not JSON is still an event (to be rejected as NotJson); an array that breaks
    off cannot be read on, so it raises `UnreadableSource`.
    """
    line_number = 0
    for line in stream:
        line_number += 1
        if line.strip():
            break
    else:
        return
    if line.lstrip().startswith(b"["):
        yield from _array_events(line, stream)
        return
    index = 0
    while True:
        if line.strip():
            yield SourceEvent(index, line_number, line.rstrip(b"\r\n"))
            index += 1
        line = stream.readline()
        if not line:
            return
        line_number += 1


def _array_events(first: bytes, stream: IO[bytes]) -> Iterator[SourceEvent]:
    decoder = codecs.getincrementaldecoder("utf-8")()

    def chunks() -> Iterator[str]:
        yield decoder.decode(first)
        while block := stream.read(_READ_SIZE):
            yield decoder.decode(block)
        yield decoder.decode(b"", final=True)

    try:
        for index, element in enumerate(iter_json_array(chunks())):
            yield SourceEvent(index, None, element.encode())
    except NotJsonArray as problem:
        raise UnreadableSource(f"not a JSON array: {problem}") from None
    except UnicodeDecodeError:
        raise UnreadableSource("not a JSON array: the file is not UTF-8 text") from None


def count_source_events(path: Path) -> int | None:
    """The events of a JSON Lines file, for the progress bar; None for an array file."""
    with path.open("rb") as stream:
        count = 0
        for line in stream:
            if not line.strip():
                continue
            if count == 0 and line.lstrip().startswith(b"["):
                return None
            count += 1
        return count


@dataclass
class BackfillTally:
    done: int = 0
    accepted: int = 0
    rejected_by_class: Counter[str] = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        return self.rejected_by_class.total()

    def add(self, outcomes: Iterable[SubmissionOutcome]) -> None:
        for outcome in outcomes:
            self.done += 1
            if outcome.status is SubmissionStatus.ACCEPTED:
                self.accepted += 1
            else:
                self.rejected_by_class[outcome.error_class or "Unknown"] += 1


@dataclass
class BackfillResult:
    tally: BackfillTally
    problem: str | None = None
    exit_code: int = 0


def _chunks(events: Iterable[SourceEvent], size: int) -> Iterator[list[SourceEvent]]:
    chunk: list[SourceEvent] = []
    try:
        for event in events:
            chunk.append(event)
            if len(chunk) == size:
                yield chunk
                chunk = []
    except UnreadableSource:
        # The events read before the file broke off are still sent.
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def _reject_line(event: SourceEvent, outcome: SubmissionOutcome) -> str:
    # Never the content: a rejected event may still carry a personnummer.
    entry: dict[str, Any] = {"index": event.index}
    if event.line is not None:
        entry["line"] = event.line
    entry |= {"errorClass": outcome.error_class, "reason": outcome.reason}
    return json.dumps(entry, ensure_ascii=False) + "\n"


async def backfill_events(
    events: Iterable[SourceEvent],
    submitter: CertificateSubmitter,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    rejects: IO[str] | None = None,
    on_progress: Callable[[BackfillTally], None] | None = None,
) -> BackfillResult:
    """Submit the events chunk by chunk; stops at the first chunk the broker does not acknowledge."""
    tally = BackfillTally()
    try:
        for chunk in _chunks(events, chunk_size):
            outcomes = await submitter.submit([event.raw for event in chunk], indexes=[event.index for event in chunk])
            tally.add(outcomes)
            if rejects is not None:
                rejects.writelines(
                    _reject_line(event, outcome)
                    for event, outcome in zip(chunk, outcomes, strict=True)
                    if outcome.status is SubmissionStatus.REJECTED
                )
            if on_progress is not None:
                on_progress(tally)
    except BrokerUnavailable as problem:
        return BackfillResult(tally, f"{problem}; stopped after {tally.done} events (running it again is safe)", EXIT_BROKER_FAILED)
    except UnreadableSource as problem:
        return BackfillResult(tally, f"{problem}; stopped after {tally.done} events", EXIT_FILE_UNREADABLE)
    return BackfillResult(tally)


async def backfill_file(
    stream: IO[bytes],
    *,
    bootstrap_servers: str,
    topics: Topics,
    acks: Literal["1", "all"] = "1",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    rejects: IO[str] | None = None,
    on_progress: Callable[[BackfillTally], None] | None = None,
    connect_timeout_seconds: float = 30.0,
) -> BackfillResult:
    """Backfill the events of `stream` through a producer of its own, stopped at the end."""
    settings = ServiceSettings(kafka_bootstrap_servers=bootstrap_servers, kafka_acks=acks, topics=topics)
    try:
        async with asyncio.timeout(connect_timeout_seconds):
            await ensure_topics(bootstrap_servers, [topics.name(topics.certificates), topics.dead_letter(topics.certificates)])
            producer = await start_producer(settings)
    except Exception as problem:  # noqa: BLE001 - whatever stops the connection, nothing was sent
        return BackfillResult(BackfillTally(), f"the broker at {bootstrap_servers} is not reachable ({type(problem).__name__})", EXIT_BROKER_FAILED)
    try:
        submitter = CertificateSubmitter(producer, topics=topics, entry_point="backfill", clock=SystemClock())
        return await backfill_events(read_source_events(stream), submitter, chunk_size=chunk_size, rejects=rejects, on_progress=on_progress)
    finally:
        await producer.stop()


# --- the command ---------------------------------------------------------------------------------


def topic_prefix_from_state(state: dict[str, Any]) -> str:
    """The topic prefix of a stack, read off the certificate topic its state file names."""
    certificates = state.get("topics", {}).get("certificates", "")
    base = Topics().certificates
    return certificates.removesuffix(base) if certificates.endswith(base) else ""


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:
            speed = task.completed / task.elapsed
        return Text("–" if speed is None else f"{speed:,.0f} events/s", style="progress.data.speed")


def summary_table(result: BackfillResult, title: str) -> Table:
    table = Table(title=title)
    table.add_column("outcome")
    table.add_column("error class")
    table.add_column("events", justify="right")
    table.add_row("accepted", "", f"{result.tally.accepted:,}")
    table.add_row("rejected", "", f"{result.tally.rejected:,}", style="bold" if result.tally.rejected else None)
    for error_class, count in sorted(result.tally.rejected_by_class.items(), key=lambda item: (-item[1], item[0])):
        table.add_row("", error_class, f"{count:,}")
    return table


def run_backfill(
    source: Path | None,
    *,
    bootstrap_servers: str,
    topics: Topics,
    acks: Literal["1", "all"] = "1",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    rejects_path: Path | None = None,
    console: Console | None = None,
) -> int:
    """Backfill `source` (None: standard input) with a progress bar and a summary; returns the exit code."""
    console = console or Console()
    total = count_source_events(source) if source is not None else None
    name = str(source) if source is not None else "standard input"
    progress = Progress(
        TextColumn("[bold]backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("accepted [green]{task.fields[accepted]:,}[/]  rejected [red]{task.fields[rejected]:,}[/]"),
        _RateColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("backfill", total=total, accepted=0, rejected=0)

    def show(tally: BackfillTally) -> None:
        progress.update(task, completed=tally.done, accepted=tally.accepted, rejected=tally.rejected)

    rejects = rejects_path.open("w", encoding="utf-8") if rejects_path is not None else None
    stream = source.open("rb") if source is not None else sys.stdin.buffer
    try:
        with progress:
            result = asyncio.run(
                backfill_file(
                    stream,
                    bootstrap_servers=bootstrap_servers,
                    topics=topics,
                    acks=acks,
                    chunk_size=chunk_size,
                    rejects=rejects,
                    on_progress=show,
                )
            )
            if total is None:
                progress.update(task, total=result.tally.done)
    finally:
        if source is not None:
            stream.close()
        if rejects is not None:
            rejects.close()

    console.print(summary_table(result, f"Backfill of {name}"))
    console.print(
        f"{result.tally.accepted:,} sent to {topics.name(topics.certificates)}, "
        f"{result.tally.rejected:,} to {topics.dead_letter(topics.certificates)}"
    )
    if rejects_path is not None and result.tally.rejected:
        console.print(f"rejected events (index, class, reason) are listed in {rejects_path}")
    if result.problem is not None:
        console.print(f"[red]backfill incomplete:[/] {result.problem}")
    return result.exit_code

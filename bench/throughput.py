"""The whole stack on this machine, measured: throughput, the raw broker beside it, CPU, memory, latency.

`make bench` (`python -m bench.throughput`) starts the embedded broker and PostgreSQL and the four
services as processes (`reko.stack.Stack`, as `reko stack` does), then runs three phases and prints
what it measured; it asserts nothing.

1. Throughput: `--events` certificate events of the synthetic feed (`reko.feed`, cut to that many;
   or a whole feed of `--patients`) published as fast as the producer goes. End to end is from the
   first publish until every consumer group has committed to the end and every outbox is empty
   (`tests.support.pipeline_backlog`, polled; the first of two quiet polls in a row ends it). Per
   service, the span from its first to its last received record (see `bench.service_activity`).
   CPU seconds per process and peak RSS are sampled meanwhile (`bench.processes`).
2. Raw broker (`--skip-raw` to leave out): the same records, same keys and bytes, produced to a
   fresh topic and consumed back with aiokafka, no processing (`bench.raw_broker`).
3. Latency (`--skip-latency`): `--latency-rate` (100) certificates per second for
   `--latency-seconds` (30), each one a case past chain day 90 at a unit of its own; the
   time until its alert is on the alerts topic and until stats counts it (`bench.latency`).

The services, the broker, PostgreSQL and this process share the machine's cores with whatever else
runs; the report says how busy the machine was besides the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.latency import LatencyResult, first_instance, steady_latency
from bench.processes import ProcessWatch, service_processes
from bench.profile import start_recording, summarise
from bench.raw_broker import RawRoundTrip, partition_count, raw_round_trip
from bench.service_activity import ServiceActivity
from reko.feed import FeedSettings, generate_feed
from reko.publish import publish_lines
from reko.stack import Stack, StackSettings
from tests.support import pipeline_backlog

# A fixed clock after the feed's six months: many cases are past a checkpoint, so milestones and
# notifications have work to do, and the latency probes' day-90 milestone is due at once.
BENCH_NOW = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
DEFAULT_EVENTS = 200_000
EVENTS_PER_PATIENT_GUESS = 2.0  # the feed gives about 2.1; a guess on the low side leaves some to cut
SAMPLE_INTERVAL = 0.25


# --------------------------------------------------------------------------------------------------
# The feed


def feed_lines(*, events: int | None, patients: int | None, seed: int) -> list[bytes]:
    """The feed's events as the bytes published: a whole feed of `patients`, or cut to `events`."""
    if patients is None:
        patients = math.ceil((events or DEFAULT_EVENTS) / EVENTS_PER_PATIENT_GUESS)
    feed = generate_feed(FeedSettings(seed=seed, patients=patients))
    while events is not None and len(feed) < events:
        patients = math.ceil(patients * 1.1 * events / max(len(feed), 1))
        feed = generate_feed(FeedSettings(seed=seed, patients=patients))
    if events is not None:
        feed = feed[:events]  # the feed is in signing order: the cut leaves out the last days
    return [json.dumps(event, ensure_ascii=False).encode() for event in feed]


# --------------------------------------------------------------------------------------------------
# Phase 1: throughput


@dataclass
class ServiceFigures:
    consumed: int
    first_at: float | None  # seconds after the first publish
    last_at: float | None
    span_seconds: float | None
    records_per_second: float | None
    certificate_events_per_second: float | None


@dataclass
class ThroughputFigures:
    events: int
    bytes: int
    publish_seconds: float
    end_to_end_seconds: float
    services: dict[str, ServiceFigures]
    cpu_seconds: dict[str, float]
    peak_rss_mb: dict[str, float]
    machine_busy_seconds: float
    machine_wall_seconds: float
    quiet_poll_seconds: float
    outputs: dict[str, dict[str, float]] = field(default_factory=dict)
    profile: list[str] = field(default_factory=list)
    profiled_service: str = "intake"

    @property
    def publish_rate(self) -> float:
        return self.events / self.publish_seconds

    @property
    def end_to_end_rate(self) -> float:
        return self.events / self.end_to_end_seconds


def machine_busy_seconds() -> float:
    """CPU seconds spent by every process on the machine (all cores), for the noise figure."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0) + getattr(times, "steal", 0.0))


async def until_quiet(stack: Stack, *, timeout: float = 3600.0, interval: float = 0.25) -> tuple[float, float]:  # noqa: ASYNC109 - a deadline between polls
    """perf_counter when the pipeline was found quiet (the first of two zero-backlog polls in a row), and how long that poll took.

    One zero alone is not enough: the groups and the outboxes are read one after the other, so a
    relay may publish between its outbox read and the lag read of its downstream group. The time
    is the end of the poll, so it may be late by up to the poll's own duration.
    """
    deadline = time.perf_counter() + timeout
    first_quiet: tuple[float, float] | None = None
    last = None
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        last = await pipeline_backlog(stack)
        now = time.perf_counter()
        if last == 0:
            if first_quiet is not None:
                return first_quiet
            first_quiet = (now, now - began)
        else:
            first_quiet = None
        await asyncio.sleep(interval)
    raise TimeoutError(f"the pipeline did not go quiet within {timeout} s (backlog {last})")


async def until_settled(activity: ServiceActivity, *, intake_expects: int, still: float = 0.25, patience: float = 10.0) -> None:
    """Until intake has received every event and no service's count moved for `still` seconds (or `patience` seconds).

    Only then does the bench start polling the consumer groups: a poll reads every group's offsets
    and opens a database connection (about 0.1 s), work that need not compete with the pipeline
    while it is plainly busy. The sampler task keeps `activity` current.
    """
    began = time.perf_counter()
    while True:
        await asyncio.sleep(SAMPLE_INTERVAL)
        changes = [seen.last_change for seen in activity.activity.values() if seen.last_change is not None]
        quiet_for = time.perf_counter() - max(changes, default=began)
        # Every intake instance counts (`intake`, or `intake-2`... when the stack runs several).
        intake_received = sum(seen.consumed for name, seen in activity.activity.items() if name.startswith("intake"))
        if (quiet_for >= still and intake_received >= intake_expects) or quiet_for >= patience:
            return


async def _sample(watch: ProcessWatch, activity: ServiceActivity) -> None:
    while True:
        watch.sample()
        await activity.poll()
        await asyncio.sleep(SAMPLE_INTERVAL)


async def service_outputs(stack: Stack) -> dict[str, dict[str, float]]:
    """Per service: records published per topic, records dead-lettered and batches applied per topic, from `/metrics`."""
    outputs: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(timeout=5) as client:
        for name, service in service_processes(stack).items():
            with contextlib.suppress(httpx.HTTPError):
                text = (await client.get(f"{service.base_url}/metrics")).text
                figures: dict[str, float] = {}
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        if sample.name == "reko_events_published_total":
                            key = f"published {sample.labels.get('topic', '')}"
                        elif sample.name == "reko_events_dead_lettered_total":
                            key = "dead-lettered"
                        elif sample.name == "reko_handler_seconds_count":
                            key = f"batches {sample.labels.get('topic', '')}"
                        elif sample.name == "reko_handler_seconds_sum":
                            key = f"batch seconds {sample.labels.get('topic', '')}"
                        else:
                            continue
                        figures[key] = figures.get(key, 0.0) + sample.value
                outputs[name] = figures
    return outputs


async def throughput_phase(
    stack: Stack, lines: list[bytes], *, py_spy: Path | None, py_spy_seconds: int, py_spy_service: str = "intake", py_spy_gil: bool = False
) -> ThroughputFigures:
    activity = ServiceActivity({name: service.base_url for name, service in service_processes(stack).items()})
    await activity.start()
    watch = ProcessWatch.of_stack(stack)
    watch.start()
    busy_before = machine_busy_seconds()
    sampler = asyncio.create_task(_sample(watch, activity))
    profiler: subprocess.Popen[bytes] | None = None
    profiled = first_instance(stack, py_spy_service).process
    if py_spy is not None and profiled is not None:
        profiler = start_recording(profiled.pid, py_spy, py_spy_seconds, gil=py_spy_gil)
    try:
        started = time.perf_counter()
        await publish_lines(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), lines)
        published = time.perf_counter()
        await until_settled(activity, intake_expects=len(lines))
        quiet, quiet_poll = await until_quiet(stack)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    await activity.poll()
    cpu = watch.stop()
    busy = machine_busy_seconds() - busy_before
    wall = time.perf_counter() - started
    await activity.close()
    profile: list[str] = []
    if profiler is not None and py_spy is not None:
        await asyncio.to_thread(profiler.wait)
        profile = summarise(py_spy).lines(10) if await asyncio.to_thread(py_spy.exists) else ["py-spy wrote no profile"]
    services = {}
    for name, seen in activity.activity.items():
        span = seen.span
        services[name] = ServiceFigures(
            consumed=round(seen.consumed),
            first_at=seen.first_seen - started if seen.first_seen is not None else None,
            last_at=seen.last_change - started if seen.last_change is not None else None,
            span_seconds=span,
            records_per_second=seen.consumed / span if span else None,
            certificate_events_per_second=len(lines) / span if span else None,
        )
    return ThroughputFigures(
        events=len(lines),
        bytes=sum(len(line) for line in lines),
        publish_seconds=published - started,
        end_to_end_seconds=quiet - started,
        services=services,
        cpu_seconds=cpu,
        peak_rss_mb=watch.peak_rss_mb(),
        machine_busy_seconds=busy,
        machine_wall_seconds=wall,
        quiet_poll_seconds=quiet_poll,
        outputs=await service_outputs(stack),
        profile=profile,
        profiled_service=py_spy_service,
    )


# --------------------------------------------------------------------------------------------------
# The run and the report


@dataclass
class BenchRun:
    cores: int
    load_before: tuple[float, float, float]
    throughput: ThroughputFigures
    raw: RawRoundTrip | None = None
    latency: LatencyResult | None = None
    latency_cpu_seconds: dict[str, float] = field(default_factory=dict)
    latency_profile: list[str] = field(default_factory=list)
    # Batches each service applied in the latency phase: at a steady rate, what a probe costs is
    # mostly what a batch costs, times how many batches it takes.
    latency_batches: dict[str, float] = field(default_factory=dict)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # How fast this machine runs plain Python today (see python_speed_ms): runs of other days compare
    # by their CPU-ms per event only once scaled by it.
    python_speed_ms: float = 0.0
    statements: list[str] = field(default_factory=list)
    latency_statements: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        throughput = self.throughput
        figures: dict[str, Any] = {
            "cores": self.cores,
            "loadAverageBefore": self.load_before,
            "loadAverageAfter": self.load_after,
            "pythonSpeedMs": self.python_speed_ms,
            "throughput": {
                "events": throughput.events,
                "bytes": throughput.bytes,
                "publishSeconds": throughput.publish_seconds,
                "publishRate": throughput.publish_rate,
                "endToEndSeconds": throughput.end_to_end_seconds,
                "endToEndRate": throughput.end_to_end_rate,
                "quietPollSeconds": throughput.quiet_poll_seconds,
                "services": {
                    name: {
                        "consumed": figures.consumed,
                        "firstAtSeconds": figures.first_at,
                        "lastAtSeconds": figures.last_at,
                        "spanSeconds": figures.span_seconds,
                        "recordsPerSecond": figures.records_per_second,
                        "certificateEventsPerSecond": figures.certificate_events_per_second,
                    }
                    for name, figures in throughput.services.items()
                },
                "cpuSeconds": throughput.cpu_seconds,
                "peakRssMb": throughput.peak_rss_mb,
                "machineBusySeconds": throughput.machine_busy_seconds,
                "machineWallSeconds": throughput.machine_wall_seconds,
                "otherProcessesCpuSeconds": throughput.machine_busy_seconds - sum(throughput.cpu_seconds.values()),
                "outputs": throughput.outputs,
                "intakeProfile": throughput.profile,
            },
        }
        if self.raw is not None:
            figures["raw"] = {
                "records": self.raw.records,
                "bytes": self.raw.bytes,
                "produceSeconds": self.raw.produce_seconds,
                "consumeSeconds": self.raw.consume_seconds,
                "produceRate": self.raw.produce_rate,
                "consumeRate": self.raw.consume_rate,
                "roundTripRate": self.raw.round_trip_rate,
                "pipelineToRaw": throughput.end_to_end_rate / self.raw.round_trip_rate,
            }
        if self.latency is not None:
            figures["latency"] = self.latency.summary() | {"cpuSeconds": self.latency_cpu_seconds, "batches": self.latency_batches}
        return figures

    def report(self) -> list[str]:
        t = self.throughput
        out = [
            f"machine            : {self.cores} cores; load average {self._load(self.load_before)} before, {self._load(self.load_after)} after",
            f"python speed       : {self.python_speed_ms:.0f} ms for a fixed loop of 3 million additions (best of 5; lower is faster)",
            "",
            "== throughput ==",
            f"certificate events : {t.events} ({t.bytes / t.events:.0f} bytes each on average)",
            f"publish            : {t.publish_seconds:.1f} s ({t.publish_rate:.0f} events/s)",
            f"end to end         : {t.end_to_end_seconds:.1f} s -> {t.end_to_end_rate:.0f} certificate events/s "
            "(first publish until every group is at zero lag and every outbox is empty)",
            f"                     found quiet by a poll that took {t.quiet_poll_seconds:.2f} s; the last record any service received "
            f"came at +{max((s.last_at or 0) for s in t.services.values()):.1f} s",
            "per service        : records received from the first to the last (polled every 0.25 s), after the first publish",
        ]
        for name, s in t.services.items():
            if s.span_seconds:
                out.append(
                    f"  {name:<15}: {s.consumed:>8} records in {s.span_seconds:6.1f} s (+{s.first_at:.1f} to +{s.last_at:.1f} s)"
                    f" = {s.records_per_second:6.0f} records/s = {s.certificate_events_per_second:6.0f} certificate events/s"
                )
            else:
                out.append(f"  {name:<15}: {s.consumed:>8} records (too few polls to give a rate)")
        out.append("CPU seconds        : (during the throughput phase)")
        for name, seconds in sorted(t.cpu_seconds.items(), key=lambda item: -item[1]):
            out.append(
                f"  {name:<21}: {seconds:7.1f} s = {seconds * 1000 / t.events:5.2f} ms per event   peak RSS {t.peak_rss_mb.get(name, 0):6.0f} MB"
            )
        stack_seconds = sum(seconds for name, seconds in t.cpu_seconds.items() if not name.startswith("bench"))
        out.append(f"  {'the stack, in all':<21}: {stack_seconds:7.1f} s = {stack_seconds * 1000 / t.events:5.2f} ms per event")
        others = t.machine_busy_seconds - sum(t.cpu_seconds.values())
        out.append(
            f"  {'everything else':<21}: {max(others, 0):7.1f} s   (the machine was busy {t.machine_busy_seconds:.1f} CPU-s of "
            f"{t.machine_wall_seconds * self.cores:.1f} available)"
        )
        out.append("outputs            : records published, dead-lettered, and batches applied (with their seconds) per topic")
        out += [
            f"  {name:<15}: "
            + ", ".join(f"{key} {value:.1f}" if key.startswith("batch seconds") else f"{key} {value:.0f}" for key, value in sorted(figures.items()))
            for name, figures in t.outputs.items()
            if figures
        ]
        if self.raw is not None:
            r = self.raw
            out += [
                "",
                "== raw broker (the same records, no processing) ==",
                f"produce            : {r.produce_seconds:.1f} s ({r.produce_rate:.0f} records/s)",
                f"consume            : {r.consume_seconds:.1f} s ({r.consume_rate:.0f} records/s)",
                f"round trip         : {r.round_trip_rate:.0f} records/s (produce, then consume)",
                f"pipeline / raw     : {t.end_to_end_rate / r.round_trip_rate:.3f}",
            ]
        if self.latency is not None:
            summary = self.latency.summary()
            out += [
                "",
                f"== latency at {self.latency.rate:.0f} events/s for {self.latency.seconds:.0f} s ==",
                f"achieved rate      : {self.latency.achieved_rate:.1f} events/s, {self.latency.probes} probes",
                f"alert on the topic : {self._percentiles(summary['alertMs'])}  ({summary['alertMeasured']} of {summary['probes']})",
                f"stats reflect it   : {self._percentiles(summary['statsMs'])}  ({summary['statsMeasured']} of {summary['statsWatched']} polled)",
                "hop by hop         : from the record in to the service's record on its topic (its transaction and relay)",
                *(f"  {hop:<16} : {self._percentiles(values)}" for hop, values in summary["hopsMs"].items()),
                "CPU seconds        : "
                + ", ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(self.latency_cpu_seconds.items(), key=lambda item: -item[1])),
                "batches applied    : "
                + ", ".join(
                    f"{name} {batches:.0f} ({batches / max(self.latency.probes, 1):.2f} per probe)"
                    for name, batches in sorted(self.latency_batches.items())
                ),
            ]
        if t.profile:
            out += ["", f"== {t.profiled_service}, py-spy ==", *t.profile]
        if self.latency_profile:
            out += ["", f"== {t.profiled_service} in the latency phase, py-spy ==", *self.latency_profile]
        if self.statements:
            out += ["", "== PostgreSQL statements in the throughput phase (pg_stat_statements) ==", *self.statements]
        if self.latency_statements:
            out += ["", "== PostgreSQL statements in the latency phase (pg_stat_statements) ==", *self.latency_statements]
        return out

    @staticmethod
    def _load(load: tuple[float, float, float]) -> str:
        return "/".join(f"{value:.2f}" for value in load)

    @staticmethod
    def _percentiles(values: dict[str, float]) -> str:
        if not values:
            return "nothing measured"
        return "  ".join(f"{name} {value:6.0f} ms" for name, value in values.items())


async def reset_statements(stack: Stack) -> str:
    """Start counting statements and the write-ahead log; answers the log position to count from."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        await conn.execute("SELECT pg_stat_statements_reset()")
        await conn.execute("SELECT pg_stat_reset_shared('wal')")
        return str(await conn.fetchval("SELECT pg_current_wal_lsn()::text"))
    finally:
        await conn.close()


# The log's bytes per table or index since `since`, read back with pg_walinspect: what each relation
# costs the disk (and the checkpoints after it), beside what its statements cost the CPU.
_WAL_PER_RELATION = """
    SELECT coalesce(pg_filenode_relation(reltablespace, relfilenode)::regclass::text, relfilenode::text) AS relation,
           sum(block_data_length) AS data, sum(block_fpi_length) AS images, count(*) AS changes
    FROM pg_get_wal_block_info($1::text::pg_lsn, pg_current_wal_lsn())
    WHERE reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    GROUP BY 1 ORDER BY sum(block_data_length) + sum(block_fpi_length) DESC LIMIT $2
"""


async def top_statements(stack: Stack, top: int, since: str | None = None) -> list[str]:
    """PostgreSQL's own time per statement since the reset (`--pg-statements`), most first; the log per relation since `since`."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        rows = await conn.fetch(
            """
            SELECT total_exec_time, calls, rows, regexp_replace(query, '\\s+', ' ', 'g') AS query
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1
            """,
            top,
        )
        total = await conn.fetchval("SELECT sum(total_exec_time) FROM pg_stat_statements")
        # Zero unless pg_stat_statements.track_planning is on (`--pg-setting`): planning is not execution.
        planning = await conn.fetchval("SELECT sum(total_plan_time) FROM pg_stat_statements")
        # What the statements cost the write-ahead log: full-page images follow every page's first
        # change after a checkpoint, so they count the distinct pages a run touches.
        wal = await conn.fetchrow("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
        await conn.execute("SELECT pg_stat_reset_shared('wal')")
    finally:
        await conn.close()
    lines = [
        f"all statements       : {total / 1000:.1f} s" + (f" executing, {planning / 1000:.1f} s planning" if planning else ""),
        f"write-ahead log      : {float(wal['wal_bytes']) / 1e6:.0f} MB, {wal['wal_records']} records, {wal['wal_fpi']} full-page images",
    ]
    lines += [f"{row['total_exec_time'] / 1000:6.2f} s {row['calls']:7d} calls {row['rows']:8d} rows  {row['query'][:110]}" for row in rows]
    if since is not None:
        lines += await _wal_per_relation(stack, since, top)
    return lines


async def _wal_per_relation(stack: Stack, since: str, top: int) -> list[str]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        rows = await conn.fetch(_WAL_PER_RELATION, since, top)
    except asyncpg.PostgresError as problem:
        # A checkpoint may have recycled the segments of a long run: the per-relation view is then gone.
        return [f"log per relation     : not readable ({type(problem).__name__})"]
    finally:
        await conn.close()
    lines = ["log per relation     : block data + full-page images, changed blocks"]
    for row in rows:
        data, images = float(row["data"]) / 1e6, float(row["images"]) / 1e6
        lines.append(f"  {data + images:7.1f} MB  ({images:6.1f} MB images) {row['changes']:8d}  {row['relation']}")
    return lines


def _batches_between(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, float]:
    return {
        name: sum(value - before.get(name, {}).get(key, 0.0) for key, value in figures.items() if key.startswith("batches "))
        for name, figures in after.items()
    }


def python_speed_ms() -> float:
    """The best of five timings of one fixed pure-Python loop, in ms.

    The same code gave 2.0 CPU-ms per event on one day and 3.6 on another on this machine: the
    virtual machine's cores are not equally fast from day to day. This figure says by how much.
    """
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for number in range(3_000_000):
            total += number
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


async def run_phases(stack: Stack, lines: list[bytes], arguments: argparse.Namespace) -> BenchRun:
    since = await reset_statements(stack) if arguments.pg_statements else None
    run = BenchRun(
        python_speed_ms=python_speed_ms(),
        cores=psutil.cpu_count() or 1,
        load_before=os.getloadavg(),
        throughput=await throughput_phase(
            stack,
            lines,
            py_spy=arguments.py_spy if arguments.py_spy_phase == "throughput" else None,
            py_spy_seconds=arguments.py_spy_seconds,
            py_spy_service=arguments.py_spy_service,
            py_spy_gil=arguments.py_spy_gil,
        ),
    )
    if arguments.pg_statements:
        run.statements = await top_statements(stack, arguments.pg_statements, since)
    if not arguments.skip_raw:
        partitions = await partition_count(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates))
        run.raw = await raw_round_trip(stack.bootstrap_servers, lines, partitions=partitions)
    if not arguments.skip_latency:
        if arguments.pg_statements:
            await reset_statements(stack)
        outputs_before = await service_outputs(stack)
        watch = ProcessWatch.of_stack(stack)
        watch.start()
        profiled = first_instance(stack, arguments.py_spy_service).process
        profiler = None
        if arguments.py_spy is not None and arguments.py_spy_phase == "latency" and profiled is not None:
            seconds = min(arguments.py_spy_seconds, round(arguments.latency_seconds))
            profiler = start_recording(profiled.pid, arguments.py_spy, seconds, gil=arguments.py_spy_gil)
        run.latency = await steady_latency(
            stack, BENCH_NOW, rate=arguments.latency_rate, seconds=arguments.latency_seconds, stats_every=arguments.stats_every
        )
        run.latency_cpu_seconds = watch.stop()
        run.latency_batches = _batches_between(outputs_before, await service_outputs(stack))
        if profiler is not None:
            await asyncio.to_thread(profiler.wait)
            exists = await asyncio.to_thread(arguments.py_spy.exists)
            run.latency_profile = summarise(arguments.py_spy).lines(10) if exists else ["py-spy wrote no profile"]
        if arguments.pg_statements:
            run.latency_statements = await top_statements(stack, arguments.pg_statements)
    run.load_after = os.getloadavg()
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=None, help=f"certificate events to publish (default {DEFAULT_EVENTS:,})")
    parser.add_argument("--patients", type=int, default=None, help="a whole feed of this many patients (cut to --events if given too)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--instances", type=int, default=1, help="processes per service (reko stack --instances)")
    parser.add_argument("--skip-raw", action="store_true", help="leave out the raw broker round trip")
    parser.add_argument("--skip-latency", action="store_true", help="leave out the steady-rate latency phase")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--latency-rate", type=float, default=100.0, help="certificate events per second in the latency phase")
    parser.add_argument("--stats-every", type=int, default=10, help="poll the statistics for every n-th latency probe")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--py-spy", type=Path, default=None, help="record a service with py-spy during the throughput phase (raw format)")
    parser.add_argument(
        "--py-spy-service", default="intake", choices=("intake", "milestones", "notifications", "stats"), help="the service --py-spy records"
    )
    parser.add_argument("--py-spy-seconds", type=int, default=30)
    parser.add_argument("--py-spy-gil", action="store_true", help="count only samples holding the GIL (py-spy --gil): Python's own CPU time")
    parser.add_argument(
        "--py-spy-phase", default="throughput", choices=("throughput", "latency"), help="the phase --py-spy records (at most its length)"
    )
    parser.add_argument(
        "--pg-statements",
        type=int,
        default=0,
        help="load pg_stat_statements and print this many statements by time for the throughput and the latency phase",
    )
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL server setting for the embedded database, e.g. shared_buffers=1GB; repeatable",
    )
    parser.add_argument("--logs", type=Path, default=None, help="keep the services' logs here (default: a temporary directory)")
    arguments = parser.parse_args(argv)
    if any("=" not in setting for setting in arguments.pg_setting):
        parser.error("--pg-setting takes NAME=VALUE")
    pg_settings = dict(setting.split("=", 1) for setting in arguments.pg_setting)
    events = arguments.events if arguments.events is not None or arguments.patients is not None else DEFAULT_EVENTS

    started = time.perf_counter()
    lines = feed_lines(events=events, patients=arguments.patients, seed=arguments.seed)
    print(f"feed               : {len(lines)} events generated in {time.perf_counter() - started:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as temporary:
        logs = arguments.logs or Path(temporary)
        postgres = {**({"shared_preload_libraries": "pg_stat_statements"} if arguments.pg_statements else {}), **pg_settings}
        stack = Stack(
            StackSettings(clock=f"fixed:{BENCH_NOW.isoformat()}", log_dir=logs, instances=arguments.instances, postgres_settings=postgres)
        ).start()
        try:
            run = asyncio.run(run_phases(stack, lines, arguments))
        finally:
            stack.stop()
    print("\n".join(run.report()))
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(run.as_json(), indent=2) + "\n")


if __name__ == "__main__":
    main()

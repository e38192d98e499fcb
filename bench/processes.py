"""CPU seconds and peak memory of the stack's processes, read with psutil while a phase runs."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import psutil

from reko.stack import ServiceProcess, Stack


def service_processes(stack: Stack) -> dict[str, ServiceProcess]:
    """Every service process by a name of its own: `intake`, and `intake-2`, ... when the stack runs several."""
    return {
        name if number == 0 else f"{name}-{number + 1}": process
        for name, processes in stack.instances.items()
        for number, process in enumerate(processes)
    }


def _own_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def cpu_seconds_with_children(process: psutil.Process) -> float:
    """User and system CPU of a process and of all its children, those alive and those it has reaped.

    PostgreSQL runs a backend process per connection: the postmaster's `children_*` times hold the
    backends that already exited (a tool's short connection), and the live ones are added one by one.
    """
    with contextlib.suppress(psutil.NoSuchProcess):
        times = process.cpu_times()
        total = float(times.user + times.system + times.children_user + times.children_system)
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += _own_seconds(child)
        return total
    return 0.0


@dataclass
class WatchedProcess:
    name: str
    process: psutil.Process
    # Services are single processes; the broker and the database are measured with their children.
    with_children: bool = False
    peak_rss: int = 0

    def cpu_seconds(self) -> float:
        if self.with_children:
            return cpu_seconds_with_children(self.process)
        with contextlib.suppress(psutil.NoSuchProcess):
            return _own_seconds(self.process)
        return 0.0

    def rss(self) -> int:
        # For the database this is the postmaster alone: its backends share PostgreSQL's buffers,
        # so a sum over them would count that memory many times.
        with contextlib.suppress(psutil.NoSuchProcess):
            return int(self.process.memory_info().rss)
        return 0


@dataclass
class ProcessWatch:
    """CPU used between `start()` and `stop()`, and the largest RSS seen by `sample()` in between."""

    processes: list[WatchedProcess]
    started: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of_stack(cls, stack: Stack, *, bench_itself: bool = True) -> ProcessWatch:
        watched = [
            WatchedProcess(name, psutil.Process(service.process.pid))
            for name, service in service_processes(stack).items()
            if service.process is not None
        ]
        if stack.kafka is not None and stack.kafka.process is not None:
            watched.append(WatchedProcess("broker", psutil.Process(stack.kafka.process.pid), with_children=True))
        if stack.postgres is not None and stack.postgres.process is not None:
            watched.append(WatchedProcess("postgresql", psutil.Process(stack.postgres.process.pid), with_children=True))
        if bench_itself:
            # The publisher and the pollers run here; they share the cores with the stack.
            watched.append(WatchedProcess("bench (this process)", psutil.Process()))
        return cls(watched)

    def start(self) -> None:
        self.started = {watched.name: watched.cpu_seconds() for watched in self.processes}
        for watched in self.processes:
            watched.peak_rss = 0
        self.sample()

    def sample(self) -> None:
        for watched in self.processes:
            watched.peak_rss = max(watched.peak_rss, watched.rss())

    def stop(self) -> dict[str, float]:
        self.sample()
        self.used = {watched.name: watched.cpu_seconds() - self.started.get(watched.name, 0.0) for watched in self.processes}
        return self.used

    def peak_rss_mb(self) -> dict[str, float]:
        return {watched.name: watched.peak_rss / 1_000_000 for watched in self.processes}

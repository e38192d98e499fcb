"""A broker outage is reported, not shouted: the same library error is let through once per interval with a count."""

from __future__ import annotations

import time

import httpx
import pytest

from reko.stack import Stack, StackSettings

pytestmark = pytest.mark.e2e


def test_a_broker_outage_of_fifteen_seconds_writes_a_few_dozen_lines_per_service_not_thousands(postgres_server_url, unique_name, tmp_path):
    # A broker of its own: the other tests share theirs, and this one stops it.
    stack = Stack(
        StackSettings(
            clock="fixed:2026-06-15T12:00:00+02:00",
            database_url=postgres_server_url,
            database_name=unique_name,
            log_dir=tmp_path / "logs",
        )
    ).start()
    try:
        time.sleep(2)
        logs = {name: service.log_path for name, service in stack.services.items()}
        before = {name: len(path.read_text(errors="replace").splitlines()) for name, path in logs.items()}
        assert stack.kafka is not None
        stack.kafka.stop()
        time.sleep(15)
        written = {name: len(path.read_text(errors="replace").splitlines()) - before[name] for name, path in logs.items()}
        still_answering = {name: httpx.get(f"{service.base_url}/health/live", timeout=5).status_code for name, service in stack.services.items()}
    finally:
        stack.stop()

    assert all(lines < 60 for lines in written.values()), written
    assert set(still_answering.values()) == {200}

"""A service's pool holds a connection for everything that holds one at once, unless a region sets its size."""

from __future__ import annotations

from pathlib import Path

from shared.service import ServiceRuntime
from shared.settings import ServiceSettings


async def _background(_runtime: ServiceRuntime) -> None:
    return None


def _runtime(settings: ServiceSettings, *, consumers: int, background: int) -> ServiceRuntime:
    runtime = ServiceRuntime("notifications", settings, Path("."), description="a test")
    for index in range(consumers):
        runtime.subscription(f"topic-{index}", title=f"On{index}", group=None if index == 0 else f"group-{index}")
    for _ in range(background):
        runtime.background(_background)
    return runtime


def test_every_consumer_and_background_task_has_a_connection_besides_the_relay_and_http():
    assert _runtime(ServiceSettings(), consumers=4, background=5).database_pool_size() == 4 + 5 + 3


def test_a_service_with_one_consumer_and_nothing_else_gets_four():
    assert _runtime(ServiceSettings(), consumers=1, background=0).database_pool_size() == 4


def test_a_region_may_set_the_pool_size(monkeypatch):
    monkeypatch.setenv("REKO_TEST_DATABASE_POOL_SIZE", "2")

    class TestSettings(ServiceSettings, env_prefix="REKO_TEST_"):
        pass

    assert _runtime(TestSettings(), consumers=4, background=5).database_pool_size() == 2

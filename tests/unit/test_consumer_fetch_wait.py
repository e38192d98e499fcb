"""How long a consumer waits for records is a setting: on the embedded broker it is part of every hop's latency."""

from __future__ import annotations

from pathlib import Path

from shared.service import ServiceRuntime
from shared.settings import ServiceSettings


def _options(settings: ServiceSettings) -> dict[str, object]:
    runtime = ServiceRuntime("intake", settings, Path("."), description="a test")
    return runtime.subscription("sickleave.certificates.v1", title="OnCertificates")


def test_a_subscriber_fetches_with_a_short_wait_and_polls_often_by_default():
    options = _options(ServiceSettings())
    assert options["fetch_max_wait_ms"] == 50
    assert options["batch_timeout_ms"] == 10


def test_a_region_on_apache_kafka_may_set_a_longer_fetch_wait(monkeypatch):
    monkeypatch.setenv("REKO_TEST_CONSUMER_FETCH_MAX_WAIT_MS", "500")

    class TestSettings(ServiceSettings, env_prefix="REKO_TEST_"):
        pass

    assert _options(TestSettings())["fetch_max_wait_ms"] == 500

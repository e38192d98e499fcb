"""The identity topic has one producer (intake) and one consumer (notifications), and is compacted."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.intake.settings import IntakeSettings
from services.milestones.settings import MilestonesSettings
from services.notifications.settings import NotificationsSettings
from services.stats.settings import StatsSettings
from shared.service import ServiceRuntime
from shared.settings import ServiceSettings, Topics

KEY = Fernet.generate_key().decode()
STORAGE_KEY = Fernet.generate_key().decode()
IDENTITIES = Topics().identities

WITH_KEYS: dict[str, ServiceSettings] = {
    "intake": IntakeSettings(pseudonym_key="k", identity_keys=KEY),
    "milestones": MilestonesSettings(),
    "notifications": NotificationsSettings(identity_keys=KEY, identity_storage_keys=STORAGE_KEY),
    "stats": StatsSettings(),
}


def runtime_of(service: str, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch) -> ServiceRuntime:
    """The runtime the service's own `create_app` builds, with every subscription it registers."""
    built: list[ServiceRuntime] = []
    http_app = ServiceRuntime.http_app

    def keep(self: ServiceRuntime, *args: Any, **kwargs: Any) -> Any:
        built.append(self)
        return http_app(self, *args, **kwargs)

    monkeypatch.setattr(ServiceRuntime, "http_app", keep)
    importlib.import_module(f"services.{service}.app").create_app(settings)
    return built[-1]


def test_only_notifications_consumes_the_identity_topic_and_only_intake_publishes_it(monkeypatch):
    runtimes = {service: runtime_of(service, settings, monkeypatch) for service, settings in WITH_KEYS.items()}
    consumers = {service for service, runtime in runtimes.items() if IDENTITIES in runtime.consumed_topics}
    producers = {service for service, runtime in runtimes.items() if IDENTITIES in runtime.published_topics}
    assert (consumers, producers) == ({"notifications"}, {"intake"})


def test_without_identity_keys_nothing_is_published_or_consumed_on_the_identity_topic(monkeypatch):
    assert IDENTITIES not in runtime_of("intake", IntakeSettings(pseudonym_key="k"), monkeypatch).published_topics
    assert IDENTITIES not in runtime_of("notifications", NotificationsSettings(), monkeypatch).consumed_topics


def test_the_identity_topic_is_created_compacted():
    topics = Topics(prefix="t.")
    assert topics.configs()["t.sickleave.identities.v1"] == {"cleanup.policy": "compact"}
    assert "t.sickleave.identities.v1" in topics.all_names()


def test_notifications_takes_both_identity_keys_or_neither_and_a_bad_key_is_refused():
    with pytest.raises(ValidationError, match="set together"):
        NotificationsSettings(identity_keys=KEY)
    with pytest.raises(ValidationError, match="not a Fernet key"):
        IntakeSettings(pseudonym_key="k", identity_keys="secret-but-not-fernet")

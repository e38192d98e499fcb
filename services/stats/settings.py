"""Stats' configuration (env prefix `REKO_STATS_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.stats.suppression import SMALLEST_THRESHOLD
from shared.settings import ServiceSettings


class StatsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REKO_STATS_", env_nested_delimiter="__", extra="ignore")

    http_port: int = 8004
    # docs/rules.md §6.4: cells under this count are hidden in anything published; never below 3.
    suppression_threshold: int = Field(default=5, ge=SMALLEST_THRESHOLD, le=100)
    # docs/statistics.md §6: a sign-in form that mints tokens with the service's own secret. For demos only.
    dev_sign_in: bool = False

"""Stats' configuration (env prefix `REKO_STATS_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class StatsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REKO_STATS_", env_nested_delimiter="__", extra="ignore")

    http_port: int = 8004

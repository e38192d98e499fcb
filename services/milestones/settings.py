"""Milestones' configuration (env prefix `REKO_MILESTONES_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.milestones.rehabkedja import RehabkedjaRules
from shared.settings import ServiceSettings


class MilestonesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REKO_MILESTONES_", env_nested_delimiter="__", extra="ignore")

    http_port: int = 8002
    # Checkpoint days, names, lead time and legal texts (rules.md §4); e.g.
    # REKO_MILESTONES_RULES__LEAD_DAYS=21.
    rules: RehabkedjaRules = RehabkedjaRules()
    # How often the scheduler looks for timers that fell due (real seconds).
    scheduler_interval_seconds: float = Field(default=1.0, gt=0)

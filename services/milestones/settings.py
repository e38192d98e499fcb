"""Milestones' configuration (env prefix `REKO_MILESTONES_`)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.milestones.rehabkedja import RehabkedjaRules
from shared.contracts.milestones import MilestoneKind
from shared.settings import ServiceSettings
from shared.sickleave.sick_leave_case import DEFAULT_MAX_GAP, LARGEST_MAX_GAP


class MilestonesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REKO_MILESTONES_", env_nested_delimiter="__", extra="ignore")

    http_port: int = 8002
    # Checkpoint days, names, lead time and legal texts (docs/rules.md §4.2–§4.3); e.g.
    # REKO_MILESTONES_RULES__LEAD_DAYS=21, REKO_MILESTONES_RULES__PLAN_LEGAL_REFERENCE=...,
    # REKO_MILESTONES_RULES__CHECKPOINTS='[{"kind": "CHAIN_DAY_90", "chain_day": 90, "title": ..., "legal_reference": ...}, ...]'
    # (the whole list: an environment variable cannot address one element of it).
    rules: RehabkedjaRules = RehabkedjaRules()
    # How often the scheduler looks for timers that fell due (real seconds).
    scheduler_interval_seconds: float = Field(default=1.0, gt=0)
    # Patients the scheduler evaluates per transaction (each round holds their row locks).
    scheduler_batch_size: int = Field(default=100, ge=1, le=1000)
    # docs/rules.md §2.2's gap between certificates of one case, for the what-if of certificates that are
    # no case yet, and only until a case event names intake's own (every case event carries the
    # `maxGap` intake assembled it with, and what-if uses the last one seen). The CLI's what-if,
    # which sees no case events, uses it as it is.
    max_gap: int = Field(default=DEFAULT_MAX_GAP, ge=0, le=LARGEST_MAX_GAP)

    @field_validator("rules")
    @classmethod
    def _one_checkpoint_per_kind(cls, rules: RehabkedjaRules) -> RehabkedjaRules:
        # Milestones are kept per (case, kind): two checkpoints of one kind would overwrite each other.
        kinds = [checkpoint.kind for checkpoint in rules.checkpoints]
        if MilestoneKind.RETURN_TO_WORK_PLAN in kinds:
            raise ValueError("RETURN_TO_WORK_PLAN is the 30-day plan, not a checkpoint")
        if len(set(kinds)) != len(kinds):
            raise ValueError("each checkpoint kind may occur once")
        return rules
